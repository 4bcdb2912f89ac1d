//! A backend's check rules: `option tcp-check` and the `tcp-check` lines,
//! `option httpchk` and the `http-check` lines, the protocol check options
//! (`ssl-hello-chk`, `mysql-check`, `pgsql-check`, `redis-check`,
//! `ldap-check`, `smtpchk`) and `option log-health-checks`. As in HAProxy,
//! the last check option of a section wins, and a section's own
//! `tcp-check` / `http-check` rules replace those of its defaults.

use super::super::raw::{
    BE, CheckLines, CheckOption, DEF, HttpDraft, Ignored, SendDraft, Settings, Why,
};
use super::super::values::number;
use super::super::{
    CheckKind, CheckStep, ConnectRule, HttpExpect, HttpMatch, HttpRequest, Pattern, TcpExpect,
    TcpMatch,
};
use super::refused::not_yet;
use super::server_checks::alpn_list;
use super::{Bad, Ctx, bad, bad_kw};

/// The check options, each with its argument usage.
pub(super) const CHECK_OPTIONS: &[(&str, &str)] = &[
    ("httpchk", "option httpchk [METHOD] [URI] [VERSION] [HOST]"),
    ("ssl-hello-chk", "option ssl-hello-chk"),
    (
        "mysql-check",
        "option mysql-check [user NAME [post-41|pre-41]]",
    ),
    ("pgsql-check", "option pgsql-check user NAME"),
    ("redis-check", "option redis-check"),
    ("ldap-check", "option ldap-check"),
    ("smtpchk", "option smtpchk [HELO|EHLO DOMAIN]"),
    ("log-health-checks", "option log-health-checks"),
    ("tcp-check", "option tcp-check"),
];

/// `option NAME ARGS` for a check option; None when `name` is not one.
pub(super) fn option(
    s: &mut Settings,
    c: &Ctx,
    name: &str,
    args: &[String],
    on: bool,
) -> Option<Result<(), Bad>> {
    let &(name, usage) = CHECK_OPTIONS.iter().find(|(n, _)| *n == name)?;
    let kw = format!("option {name}");
    if c.role & (DEF | BE) == 0 {
        // HAProxy warns and ignores a backend option in a frontend.
        s.ignore(Ignored {
            name: kw,
            slot: None,
            line: c.line,
            roles: BE,
            why: Why::Misplaced,
        });
        return Some(Ok(()));
    }
    if name == "tcp-check" && args.is_empty() {
        s.checks.option = on.then_some((CheckOption::Tcp, c.line));
        return Some(Ok(()));
    }
    if name == "log-health-checks" {
        return Some(match args {
            [] => {
                s.checks.log_health = Some(on);
                Ok(())
            }
            _ => Err(bad_kw(&kw, format!("takes no argument: {usage}"))),
        });
    }
    if !on {
        let msg = format!(
            "'no option {name}' is not supported (nor by HAProxy): a later check option replaces it"
        );
        return Some(Err(bad_kw(&format!("no {kw}"), msg)));
    }
    let parsed = match name {
        "httpchk" => httpchk(args).map(CheckOption::Http),
        _ => protocol(name, args).map(CheckOption::Other),
    };
    Some(match parsed {
        Ok(opt) => {
            s.checks.option = Some((opt, c.line));
            Ok(())
        }
        Err(msg) => Err(bad_kw(&kw, format!("{msg}; expects: {usage}"))),
    })
}

/// `option httpchk [METHOD] [URI] [VERSION] [HOST]`, and the old way of
/// adding headers: `HTTP/1.1\r\nHost:\ www` in the version.
fn httpchk(args: &[String]) -> Result<HttpRequest, String> {
    let mut req = HttpRequest::default();
    match args {
        [] => {}
        [uri] => req.uri.clone_from(uri),
        [method, uri, rest @ ..] if rest.len() <= 2 => {
            req.method.clone_from(method);
            req.uri.clone_from(uri);
            if let Some(version) = rest.first() {
                let mut parts = version.split("\r\n");
                req.version = parts.next().unwrap_or_default().to_string();
                for header in parts.filter(|h| !h.is_empty()) {
                    let (name, value) = header.split_once(':').ok_or_else(|| {
                        format!("'{header}' in the version is not a header NAME: VALUE")
                    })?;
                    req.headers
                        .push((name.trim().to_string(), value.trim().to_string()));
                }
            }
            if let Some(host) = rest.get(1) {
                req.headers.push(("Host".into(), host.clone()));
            }
        }
        _ => return Err("too many arguments".into()),
    }
    if req.version.is_empty() || !req.version.starts_with("HTTP/") {
        return Err(format!(
            "'{}' is not an HTTP version (HTTP/1.0, HTTP/1.1)",
            req.version
        ));
    }
    Ok(req)
}

/// The protocol check options but httpchk.
fn protocol(name: &str, args: &[String]) -> Result<CheckKind, String> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(match (name, &words[..]) {
        ("ssl-hello-chk", []) => CheckKind::SslHello,
        ("redis-check", []) => CheckKind::Redis,
        ("ldap-check", []) => CheckKind::Ldap,
        ("mysql-check", []) => CheckKind::Mysql {
            user: None,
            post41: true,
        },
        ("mysql-check", ["user", user]) | ("mysql-check", ["user", user, "post-41"]) => {
            CheckKind::Mysql {
                user: Some(user.to_string()),
                post41: true,
            }
        }
        ("mysql-check", ["user", user, "pre-41"]) => CheckKind::Mysql {
            user: Some(user.to_string()),
            post41: false,
        },
        ("mysql-check", ["user", _, "post-80"]) => {
            return Err("post-80 (MySQL 8 authentication) is not implemented yet in l4lb".into());
        }
        ("pgsql-check", ["user", user]) => CheckKind::Pgsql {
            user: user.to_string(),
        },
        ("pgsql-check", []) => return Err("a user is required (HAProxy requires it too)".into()),
        ("smtpchk", []) => CheckKind::Smtp {
            verb: "HELO".into(),
            domain: "localhost".into(),
        },
        ("smtpchk", [verb, domain]) => CheckKind::Smtp {
            // As HAProxy: anything but EHLO is HELO.
            verb: if verb.eq_ignore_ascii_case("EHLO") {
                "EHLO"
            } else {
                "HELO"
            }
            .into(),
            domain: domain.to_string(),
        },
        _ => return Err("unexpected arguments".into()),
    })
}

pub(super) const TCP_CHECK_USAGE: &str = "tcp-check connect [port N] [addr IP] [ssl] [sni NAME] [alpn LIST] [linger] | \
     send STRING | send-binary HEX | expect [min-recv N] [!] string|binary|rstring|rbinary PATTERN | comment TEXT";

/// One `tcp-check` line.
pub(super) fn tcp_check(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [verb, args @ ..] = c.args else {
        return Err(bad(format!("expects: {TCP_CHECK_USAGE}")));
    };
    let kw = format!("tcp-check {verb}");
    let (args, _comment) = comment(args);
    let step = match (verb.as_str(), args) {
        ("connect", opts) => CheckStep::Connect(connect_rule(&kw, opts)?),
        ("send", [text]) => CheckStep::Send(text.clone().into_bytes()),
        ("send-binary", [hex]) => CheckStep::Send(unhex(hex)?),
        ("expect", words) => CheckStep::Expect(tcp_expect(&kw, words)?),
        ("comment", [_]) => return Ok(()),
        ("send-lf" | "send-binary-lf" | "set-var" | "unset-var", _) => return Err(not_yet(&kw)),
        (v, _) if v.starts_with("set-var") || v.starts_with("unset-var") => {
            return Err(not_yet(&kw));
        }
        _ => return Err(bad(format!("expects: {TCP_CHECK_USAGE}"))),
    };
    let lines = own_rules(&mut s.checks);
    lines.tcp_line.get_or_insert(c.line);
    lines.tcp.push(step);
    Ok(())
}

/// The section's own rules replace the inherited ones, on its first rule.
fn own_rules(lines: &mut CheckLines) -> &mut CheckLines {
    if lines.inherited {
        lines.tcp.clear();
        lines.http.clear();
        lines.tcp_line = None;
        lines.http_line = None;
        lines.inherited = false;
    }
    lines
}

/// Splits off a trailing `comment TEXT` (kept by HAProxy for its logs).
fn comment(args: &[String]) -> (&[String], Option<&String>) {
    match args {
        [rest @ .., kw, text] if kw == "comment" => (rest, Some(text)),
        _ => (args, None),
    }
}

/// `connect` options of a tcp-check or http-check rule.
fn connect_rule(kw: &str, opts: &[String]) -> Result<ConnectRule, Bad> {
    let mut rule = ConnectRule::default();
    let mut words = opts.iter();
    while let Some(word) = words.next() {
        let mut value = || {
            words
                .next()
                .ok_or_else(|| bad_kw(kw, format!("'{word}' expects a value")))
        };
        match word.as_str() {
            "default" => rule.default = true,
            "port" => {
                let v = value()?;
                rule.port = Some(number::<u32>(v, 1..=65535).map_err(|m| bad_kw(kw, m))? as u16);
            }
            "addr" => {
                let v = value()?;
                rule.addr = Some(
                    v.parse()
                        .map_err(|_| bad_kw(kw, format!("'{v}' is not an IP address")))?,
                );
            }
            "ssl" => rule.ssl = true,
            "sni" => rule.sni = Some(value()?.clone()),
            "alpn" => rule.alpn = alpn_list(value()?).map_err(|b| b.about(kw))?,
            "linger" => rule.linger = true,
            "send-proxy" | "via-socks4" | "proto" => return Err(not_yet(&format!("{kw} {word}"))),
            other => {
                let msg = format!(
                    "unknown option '{other}'; accepted: default, port N, addr IP, ssl, sni NAME, alpn LIST, linger, comment TEXT"
                );
                return Err(bad_kw(kw, msg));
            }
        }
    }
    Ok(rule)
}

/// The options before the pattern of an expect: `min-recv N`, `!`; the
/// status and log options are refused (not implemented yet).
fn expect_head<'a>(
    kw: &str,
    words: &'a [String],
) -> Result<(Option<usize>, bool, &'a [String]), Bad> {
    let mut min_recv = None;
    let mut inverse = false;
    let mut rest = words;
    loop {
        match rest {
            [opt, v, tail @ ..] if opt == "min-recv" => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| bad_kw(kw, format!("min-recv '{v}' is not a number")))?;
                min_recv = usize::try_from(n).ok();
                rest = tail;
            }
            [opt, _, ..]
                if [
                    "ok-status",
                    "error-status",
                    "tout-status",
                    "on-success",
                    "on-error",
                    "status-code",
                ]
                .contains(&opt.as_str()) =>
            {
                return Err(not_yet(&format!("{kw} {opt}")));
            }
            [bang, tail @ ..] if bang == "!" => {
                inverse = true;
                rest = tail;
            }
            _ => return Ok((min_recv, inverse, rest)),
        }
    }
}

fn tcp_expect(kw: &str, words: &[String]) -> Result<TcpExpect, Bad> {
    let (min_recv, inverse, rest) = expect_head(kw, words)?;
    let what = match rest {
        [m, p] if m == "string" => TcpMatch::String(p.clone().into_bytes()),
        [m, p] if m == "binary" => TcpMatch::Binary(unhex(p)?),
        [m, p] if m == "rstring" => TcpMatch::RString(Pattern::new(p).map_err(|e| bad_kw(kw, e))?),
        [m, p] if m == "rbinary" => TcpMatch::RBinary(Pattern::new(p).map_err(|e| bad_kw(kw, e))?),
        [m, ..] if m.ends_with("-lf") || m == "custom" => {
            return Err(not_yet(&format!("{kw} {m}")));
        }
        _ => {
            return Err(bad_kw(
                kw,
                "expects: [min-recv N] [!] string|binary|rstring|rbinary PATTERN",
            ));
        }
    };
    Ok(TcpExpect {
        inverse,
        min_recv,
        what,
    })
}

pub(super) const HTTP_CHECK_USAGE: &str = "http-check send [meth M] [uri U] [ver V] [hdr NAME VALUE]... [body TEXT] | \
     expect [!] status|rstatus|string|rstring PATTERN | connect [port N] [addr IP] [ssl] [sni NAME] | disable-on-404 | comment TEXT";

/// One `http-check` line.
pub(super) fn http_check(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [verb, args @ ..] = c.args else {
        return Err(bad(format!("expects: {HTTP_CHECK_USAGE}")));
    };
    let kw = format!("http-check {verb}");
    let (args, _comment) = comment(args);
    let rule = match (verb.as_str(), args) {
        ("disable-on-404", []) => {
            s.checks.disable_on_404 = true;
            return Ok(());
        }
        ("comment", [_]) => return Ok(()),
        ("connect", opts) => HttpDraft::Connect(connect_rule(&kw, opts)?),
        ("send", words) => HttpDraft::Send(send_draft(&kw, words)?),
        ("expect", words) => HttpDraft::Expect(http_expect(&kw, words)?),
        ("send-state", []) => return Err(not_yet(&kw)),
        (v, _) if v.starts_with("set-var") || v.starts_with("unset-var") => {
            return Err(not_yet(&kw));
        }
        _ => return Err(bad(format!("expects: {HTTP_CHECK_USAGE}"))),
    };
    let lines = own_rules(&mut s.checks);
    lines.http_line.get_or_insert(c.line);
    lines.http.push(rule);
    Ok(())
}

fn send_draft(kw: &str, words: &[String]) -> Result<SendDraft, Bad> {
    let mut d = SendDraft::default();
    let mut rest = words;
    while !rest.is_empty() {
        rest = match rest {
            [k, v, tail @ ..] if k == "meth" => {
                d.method = Some(v.clone());
                tail
            }
            [k, v, tail @ ..] if k == "uri" => {
                d.uri = Some(v.clone());
                tail
            }
            [k, v, tail @ ..] if k == "ver" => {
                d.version = Some(v.clone());
                tail
            }
            [k, name, value, tail @ ..] if k == "hdr" => {
                d.headers.push((name.clone(), value.clone()));
                tail
            }
            [k, v, tail @ ..] if k == "body" => {
                d.body = Some(v.clone().into_bytes());
                tail
            }
            [k, ..] if k == "uri-lf" || k == "body-lf" => {
                return Err(not_yet(&format!("{kw} {k}")));
            }
            [k, ..] => {
                let msg = format!(
                    "unknown or incomplete '{k}'; accepted: meth M, uri U, ver V, hdr NAME VALUE, body TEXT, comment TEXT"
                );
                return Err(bad_kw(kw, msg));
            }
            [] => break,
        };
    }
    Ok(d)
}

fn http_expect(kw: &str, words: &[String]) -> Result<HttpExpect, Bad> {
    let (_min_recv, inverse, rest) = expect_head(kw, words)?;
    let re = |p: &str| Pattern::new(p).map_err(|e| bad_kw(kw, e));
    let what = match rest {
        [m, p] if m == "status" => HttpMatch::Status(status_list(p).map_err(|e| bad_kw(kw, e))?),
        [m, p] if m == "rstatus" => HttpMatch::RStatus(re(p)?),
        [m, p] if m == "string" => HttpMatch::String(p.clone().into_bytes()),
        [m, p] if m == "rstring" => HttpMatch::RString(re(p)?),
        [m, ..] if m == "hdr" || m == "fhdr" || m.ends_with("-lf") => {
            return Err(not_yet(&format!("{kw} {m}")));
        }
        _ => {
            return Err(bad_kw(
                kw,
                "expects: [!] status|rstatus|string|rstring PATTERN",
            ));
        }
    };
    Ok(HttpExpect { inverse, what })
}

/// `200`, `200-399`, `200,301,302`.
fn status_list(v: &str) -> Result<Vec<(u16, u16)>, String> {
    let code = |s: &str| {
        s.parse::<u16>()
            .ok()
            .filter(|c| (100..=999).contains(c))
            .ok_or_else(|| format!("'{s}' is not an HTTP status code"))
    };
    v.split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => Ok((code(a)?, code(b)?)),
            None => code(part).map(|c| (c, c)),
        })
        .collect()
}

/// Bytes from hex text (`send-binary 50494e47`).
pub(super) fn unhex(hex: &str) -> Result<Vec<u8>, Bad> {
    let bad_hex = || bad(format!("'{hex}' is not an even number of hex digits"));
    if hex.is_empty() || !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return Err(bad_hex());
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad_hex()))
        .collect()
}
