//! The keyword table: which keyword is accepted in which section role
//! (defaults, frontend, backend, listen, global), the handler that parses
//! each one into the section's settings, the HAProxy keywords refused as
//! HTTP-only or not implemented yet, and the `Bad` errors they return.

use super::log::{LOG_USAGE, parse_log, parse_proxy_log};
use super::raw::{
    ALL, BE, DEF, FE, Global, Settings, T_CONNECT, T_QUEUE, TIMEOUTS, accepted_in, check_name,
    role_name,
};
use super::values::{
    BALANCE_ACCEPTED, TIME_UNITS, bind_addr, number, parse_balance, parse_time, server_addr,
};
use super::{
    ApiLevel, Bind, Check, CheckStep, DEFAULT_ERROR_LIMIT, DEFAULT_FALL, DEFAULT_INTER,
    DEFAULT_RISE, MAX_THREADS, Observe, OnError, ServerConf, StatsSocket,
};
use crate::conf::Line;

const MIN_BUFSIZE: usize = 1024;
/// A pipe is at least one page; larger pipes are capped by the kernel's
/// `fs.pipe-max-size`, which only the running system can check.
const MIN_PIPESIZE: usize = 4096;
const MAX_SIZE: usize = 1 << 30;

/// A keyword's complaint about its line. `keyword` is None when it is the
/// line's first word; otherwise it names the part at fault (`option httplog`,
/// a server's `weight`).
#[derive(Debug)]
pub(super) struct Bad {
    pub(super) keyword: Option<String>,
    pub(super) msg: String,
}

fn bad(msg: impl Into<String>) -> Bad {
    Bad {
        keyword: None,
        msg: msg.into(),
    }
}

fn bad_kw(keyword: &str, msg: impl Into<String>) -> Bad {
    Bad {
        keyword: Some(keyword.to_string()),
        msg: msg.into(),
    }
}

pub(super) fn http_only(keyword: &str) -> Bad {
    bad_kw(
        keyword,
        format!("l4lb is a TCP (L4) balancer: '{keyword}' is HTTP-only"),
    )
}

fn not_yet(keyword: &str) -> Bad {
    let note = if is_health_check(keyword) {
        " (health checks are planned); remove it"
    } else {
        "; remove it"
    };
    bad_kw(
        keyword,
        format!("'{keyword}' is not implemented yet in l4lb{note}"),
    )
}

// ---------------------------------------------------------------------------
// Keywords of defaults, frontend, backend and listen sections

/// What a keyword's parser sees.
struct Ctx<'a> {
    /// The words after the keyword.
    args: &'a [String],
    line: usize,
    role: u8,
    usage: &'static str,
}

impl<'a> Ctx<'a> {
    fn one(&self) -> Result<&'a str, Bad> {
        match self.args {
            [one] => Ok(one),
            _ => Err(bad(format!("expects: {}", self.usage))),
        }
    }
}

struct Keyword {
    name: &'static str,
    mask: u8,
    usage: &'static str,
    parse: fn(&mut Settings, &Ctx) -> Result<(), Bad>,
}

const KEYWORDS: &[Keyword] = &[
    Keyword {
        name: "mode",
        mask: ALL,
        usage: "mode tcp",
        parse: mode,
    },
    Keyword {
        name: "bind",
        mask: FE,
        usage: "bind ADDR:PORT[,ADDR:PORT...] [name NAME]",
        parse: bind,
    },
    Keyword {
        name: "default_backend",
        mask: DEF | FE,
        usage: "default_backend NAME",
        parse: default_backend,
    },
    Keyword {
        name: "balance",
        mask: DEF | BE,
        usage: "balance ALGORITHM",
        parse: balance,
    },
    Keyword {
        name: "hash-type",
        mask: DEF | BE,
        usage: "hash-type map-based|consistent",
        parse: hash_type,
    },
    Keyword {
        name: "server",
        mask: BE,
        usage: SERVER_USAGE,
        parse: server,
    },
    Keyword {
        name: "timeout",
        mask: ALL,
        usage: "timeout NAME TIME",
        parse: timeout,
    },
    Keyword {
        name: "retries",
        mask: DEF | BE,
        usage: "retries N",
        parse: retries,
    },
    Keyword {
        name: "retry-on",
        mask: DEF | BE,
        usage: "retry-on none|conn-failure|empty-response ...",
        parse: retry_on,
    },
    Keyword {
        name: "option",
        mask: ALL,
        usage: "option NAME",
        parse: option,
    },
    Keyword {
        name: "no",
        mask: ALL,
        usage: "no option NAME | no log",
        parse: no_option,
    },
    Keyword {
        name: "log",
        mask: ALL,
        usage: LOG_USAGE,
        parse: log,
    },
    Keyword {
        name: "maxconn",
        mask: DEF | FE,
        usage: "maxconn N",
        parse: maxconn,
    },
    Keyword {
        name: "default-server",
        mask: DEF | BE,
        usage: "default-server [weight N] [maxconn N] [check] [inter T] [rise N] [fall N] ...",
        parse: default_server,
    },
    Keyword {
        name: "tcp-check",
        mask: BE,
        usage: TCP_CHECK_USAGE,
        parse: tcp_check,
    },
    Keyword {
        name: "description",
        mask: FE | BE,
        usage: "description TEXT",
        parse: description,
    },
];

const TCP_CHECK_USAGE: &str = "tcp-check connect | send STRING | send-binary HEX | \
                               expect string STRING | expect binary HEX";

/// One `tcp-check` line. The connect is always the first step, so only a
/// leading `tcp-check connect` (without options) is accepted.
fn tcp_check(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let usage = || bad(format!("expects: {TCP_CHECK_USAGE}"));
    let step = match c.args {
        [verb] if verb == "connect" && s.tcp_check_steps.is_empty() => None,
        [verb, ..] if verb == "connect" => {
            let msg = "only a first `tcp-check connect` without options is implemented yet";
            return Err(bad_kw("tcp-check connect", msg));
        }
        [verb, text] if verb == "send" => Some(CheckStep::Send(text.clone().into_bytes())),
        [verb, hex] if verb == "send-binary" => Some(CheckStep::Send(unhex(hex)?)),
        [verb, kind, text] if verb == "expect" && kind == "string" => {
            Some(CheckStep::Expect(text.clone().into_bytes()))
        }
        [verb, kind, hex] if verb == "expect" && kind == "binary" => {
            Some(CheckStep::Expect(unhex(hex)?))
        }
        [verb, ..] if verb == "expect" => {
            let msg = "only `expect string STRING` and `expect binary HEX` are implemented yet";
            return Err(bad_kw("tcp-check expect", msg));
        }
        _ => return Err(usage()),
    };
    s.tcp_check_line.get_or_insert(c.line);
    if let Some(step) = step {
        s.tcp_check_steps.push(step);
    }
    Ok(())
}

/// Bytes from hex text (`send-binary 50494e47`).
fn unhex(hex: &str) -> Result<Vec<u8>, Bad> {
    let bad_hex = || bad(format!("'{hex}' is not an even number of hex digits"));
    if hex.is_empty() || !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return Err(bad_hex());
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad_hex()))
        .collect()
}

const SERVER_USAGE: &str = "server NAME ADDR:PORT [weight 0-256] [maxconn N] [disabled] [backup] [check [inter T] [fastinter T] [downinter T] [rise N] [fall N] [port N] [addr IP]]";

/// HAProxy section kinds that only serve HTTP.
pub(super) const HTTP_SECTIONS: &[&str] = &["cache", "http-errors", "fcgi-app"];

/// HAProxy proxy keywords that only make sense for HTTP.
const HTTP_ONLY: &[&str] = &[
    "http-request",
    "http-response",
    "http-after-response",
    "http-reuse",
    "http-check",
    "http-error",
    "http-send-name-header",
    "redirect",
    "reqadd",
    "reqallow",
    "reqdel",
    "reqdeny",
    "reqiallow",
    "reqidel",
    "reqideny",
    "reqipass",
    "reqirep",
    "reqisetbe",
    "reqitarpit",
    "reqpass",
    "reqrep",
    "reqsetbe",
    "reqtarpit",
    "rspadd",
    "rspdel",
    "rspdeny",
    "rspidel",
    "rspideny",
    "rspirep",
    "rsprep",
    "cookie",
    "capture",
    "declare",
    "compression",
    "errorfile",
    "errorfiles",
    "errorloc",
    "errorloc302",
    "errorloc303",
    "monitor-uri",
    "monitor",
    "unique-id-format",
    "unique-id-header",
    "max-keep-alive-queue",
    "use-fcgi-app",
];

/// HAProxy proxy keywords l4lb may support later; refused, never ignored.
const NOT_YET: &[&str] = &[
    "server-template",
    "log-format",
    "log-format-sd",
    "error-log-format",
    "log-tag",
    "log-steps",
    "acl",
    "use_backend",
    "use-server",
    "tcp-request",
    "tcp-response",
    "source",
    "fullconn",
    "persist",
    "force-persist",
    "ignore-persist",
    "stick",
    "stick-table",
    "stick-on",
    "stick-match",
    "stick-store-request",
    "stick-store-response",
    "dispatch",
    "email-alert",
    "external-check",
    "server-state-file-name",
    "load-server-state-from-file",
    "id",
    "enabled",
    "disabled",
    "bind-process",
    "grace",
    "hash-balance-factor",
    "hash-key",
    "rate-limit",
    "backlog",
    "filter",
    "guid",
    "send-proxy",
    "ssl",
];

/// Whether a refused keyword belongs to health checking, which is planned.
fn is_health_check(keyword: &str) -> bool {
    let w = keyword.rsplit(' ').next().unwrap_or(keyword);
    let words = [
        "inter",
        "fastinter",
        "downinter",
        "rise",
        "fall",
        "backup",
        "default-server",
    ];
    w.ends_with("check")
        || w.ends_with("chk")
        || w.starts_with("check-")
        || w.starts_with("agent-")
        || words.contains(&w)
}

/// Parses one line of a defaults, frontend, backend or listen section.
pub(super) fn settings_line(s: &mut Settings, role: u8, l: &Line) -> Result<(), Bad> {
    let kw = l.words[0].as_str();
    if kw == "stats" {
        // In a proxy, `stats` configures the HTTP statistics page.
        let sub = l.words.get(1).map_or(String::new(), |w| format!(" {w}"));
        return Err(http_only(&format!("stats{sub}")));
    }
    if HTTP_ONLY.contains(&kw) {
        return Err(http_only(kw));
    }
    if NOT_YET.contains(&kw) {
        return Err(not_yet(kw));
    }
    let Some(k) = KEYWORDS.iter().find(|k| k.name == kw) else {
        return Err(unknown_proxy_keyword(kw, role));
    };
    if k.mask & role == 0 {
        return Err(misplaced(kw, k.mask, role));
    }
    let ctx = Ctx {
        args: &l.words[1..],
        line: l.line,
        role,
        usage: k.usage,
    };
    (k.parse)(s, &ctx)
}

fn unknown_proxy_keyword(kw: &str, role: u8) -> Bad {
    if GLOBAL_KEYWORDS.iter().any(|g| g.name == kw) {
        return bad(format!(
            "accepted only in the global section, not in {}",
            role_name(role)
        ));
    }
    let known: Vec<&str> = KEYWORDS
        .iter()
        .filter(|k| k.mask & role != 0)
        .map(|k| k.name)
        .collect();
    bad(format!(
        "unknown keyword; accepted in {}: {}",
        role_name(role),
        known.join(", ")
    ))
}

fn misplaced(kw: &str, mask: u8, role: u8) -> Bad {
    let msg = format!(
        "not accepted in a {} section; accepted in {}",
        role_name(role),
        accepted_in(mask)
    );
    bad_kw(kw, msg)
}

fn mode(_: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    match c.one()? {
        "tcp" => Ok(()),
        "http" => Err(bad(
            "l4lb is a TCP (L4) balancer: mode http is not supported; use mode tcp",
        )),
        other => Err(bad(format!("mode {other} is not supported; use mode tcp"))),
    }
}

fn bind(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [addrs, opts @ ..] = c.args else {
        return Err(bad(format!("expects: {}", c.usage)));
    };
    let name = bind_options(opts)?;
    for a in addrs.split(',') {
        let addr = bind_addr(a).map_err(bad)?;
        s.binds.push((
            Bind {
                addr,
                name: name.clone(),
            },
            c.line,
        ));
    }
    Ok(())
}

/// HAProxy bind options l4lb may support later.
const BIND_NOT_YET: &[&str] = &[
    "ssl",
    "crt",
    "crt-list",
    "alpn",
    "npn",
    "ca-file",
    "verify",
    "accept-proxy",
    "accept-netscaler-cip",
    "transparent",
    "interface",
    "defer-accept",
    "v4v6",
    "v6only",
    "backlog",
    "maxconn",
    "tfo",
    "process",
    "thread",
    "mss",
    "nice",
    "id",
    "level",
    "mode",
    "user",
    "group",
    "uid",
    "gid",
    "namespace",
    "tcp-ut",
    "strict-sni",
    "ciphers",
    "ciphersuites",
    "curves",
    "ecdhe",
    "ssl-min-ver",
    "ssl-max-ver",
    "expose-fd",
    "severity-output",
    "guid-prefix",
];

/// Returns the bind's `name`.
fn bind_options(opts: &[String]) -> Result<Option<String>, Bad> {
    let mut name = None;
    let mut it = opts.iter();
    while let Some(opt) = it.next() {
        match opt.as_str() {
            "name" => {
                let n = it
                    .next()
                    .ok_or_else(|| bad_kw("name", "expects a value: name NAME"))?;
                name = Some(n.clone());
            }
            o if BIND_NOT_YET.contains(&o) => return Err(not_yet(o)),
            o => return Err(bad_kw(o, "unknown bind option; accepted: name NAME")),
        }
    }
    Ok(name)
}

fn default_backend(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let name = c.one()?;
    check_name(name).map_err(bad)?;
    s.default_backend = Some((name.to_string(), c.line));
    Ok(())
}

fn balance(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [algo, rest @ ..] = c.args else {
        return Err(bad(format!(
            "expects: balance ALGORITHM; accepted: {BALANCE_ACCEPTED}"
        )));
    };
    let b = parse_balance(algo).map_err(bad)?;
    if !rest.is_empty() {
        return Err(bad(format!(
            "unexpected argument '{}' after balance {algo}",
            rest[0]
        )));
    }
    s.balance = Some(b);
    Ok(())
}

fn hash_type(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [method, rest @ ..] = c.args else {
        return Err(bad(format!("expects: {}", c.usage)));
    };
    s.consistent = Some(match method.as_str() {
        "map-based" => false,
        "consistent" => true,
        other => {
            return Err(bad(format!(
                "unknown hash method '{other}'; accepted: map-based, consistent"
            )));
        }
    });
    if let Some(func) = rest.first() {
        // Balance has no place for a function: l4lb hashes the client address
        // its own way, so accepting HAProxy's names would be a promise not kept.
        let msg = format!("hash function '{func}' is not supported; give only hash-type {method}");
        return Err(bad(msg));
    }
    Ok(())
}

fn server(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [name, addr, opts @ ..] = c.args else {
        return Err(bad(format!("expects: {}", c.usage)));
    };
    if s.servers.iter().any(|sv| &sv.name == name) {
        return Err(bad(format!(
            "duplicate server name '{name}' in this section; server names must be unique"
        )));
    }
    let addr = server_addr(addr).map_err(bad)?;
    let mut conf = ServerConf::new(name.clone(), addr);
    // `default-server` options first, so the line's own override them.
    let words = [&s.default_server[..], opts].concat();
    server_options(&mut conf, &words)?;
    s.servers.push(conf);
    Ok(())
}

/// A `server NAME ADDR [OPTIONS]` line given at run time (`add server`):
/// the same checks as in a conf file; Err is the message.
pub(super) fn server_line(words: &[String]) -> Result<ServerConf, String> {
    let [_, name, addr, opts @ ..] = words else {
        return Err("expects: server NAME ADDR:PORT [OPTIONS]".into());
    };
    check_name(name).map_err(|m| format!("server name: {m}"))?;
    let addr = server_addr(addr)?;
    let mut conf = ServerConf::new(name.clone(), addr);
    server_options(&mut conf, opts).map_err(|b| match b.keyword {
        Some(k) => format!("'{k}': {}", b.msg),
        None => b.msg,
    })?;
    Ok(conf)
}

/// `default-server OPTIONS`: options every later `server` line of the
/// section (or of the proxies using this defaults section) starts from.
/// Checked here, so an error points at this line.
fn default_server(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let probe: std::net::SocketAddr = ([127, 0, 0, 1], 1).into();
    server_options(&mut ServerConf::new(String::new(), probe), c.args)?;
    s.default_server.extend(c.args.iter().cloned());
    Ok(())
}

/// HAProxy server options l4lb may support later.
const SERVER_NOT_YET: &[&str] = &[
    "send-proxy",
    "send-proxy-v2",
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "ssl",
    "verify",
    "verifyhost",
    "sni",
    "ca-file",
    "crt",
    "crl-file",
    "ciphers",
    "ciphersuites",
    "alpn",
    "npn",
    "resolvers",
    "resolve-prefer",
    "resolve-net",
    "resolve-opts",
    "init-addr",
    "agent-check",
    "agent-port",
    "agent-inter",
    "agent-addr",
    "agent-send",
    "on-marked-up",
    "source",
    "track",
    "id",
    "namespace",
    "tfo",
    "minconn",
    "maxqueue",
    "check-ssl",
    "check-send-proxy",
    "check-alpn",
    "check-sni",
    "no-check",
    "enabled",
    "usesrc",
    "socks4",
    "tcp-ut",
    "guid",
];

/// HAProxy server options that only make sense for HTTP.
const SERVER_HTTP_ONLY: &[&str] = &[
    "cookie",
    "redir",
    "pool-max-conn",
    "pool-purge-delay",
    "pool-low-conn",
    "max-reuse",
    "proto",
];

fn server_options(conf: &mut ServerConf, opts: &[String]) -> Result<(), Bad> {
    // Check timing options are taken with or without `check` (as HAProxy)
    // but only probe with it; fastinter and downinter default to inter.
    let mut check = Check {
        inter: DEFAULT_INTER,
        fastinter: DEFAULT_INTER,
        downinter: DEFAULT_INTER,
        rise: DEFAULT_RISE,
        fall: DEFAULT_FALL,
        target: conf.addr,
        passive_only: false,
    };
    let (mut checking, mut inter, mut fastinter, mut downinter) = (false, None, None, None);
    let mut observe = Observe {
        error_limit: DEFAULT_ERROR_LIMIT,
        on_error: OnError::FailCheck,
    };
    let mut observing = false;
    let mut it = opts.iter();
    while let Some(opt) = it.next() {
        let mut value = |range| {
            let v = it
                .next()
                .ok_or_else(|| bad_kw(opt, format!("expects a value: {opt} N")))?;
            number(v, range).map_err(|m| bad_kw(opt, m))
        };
        match opt.as_str() {
            "weight" => conf.weight = value(0..=256)?,
            "maxconn" => conf.maxconn = value(0..=u32::MAX)?,
            "disabled" => conf.disabled = true,
            "backup" => conf.backup = true,
            "observe" => match it.next().map(String::as_str) {
                Some("layer4") => observing = true,
                Some("layer7") => return Err(http_only("observe layer7")),
                _ => return Err(bad_kw(opt, "accepted: observe layer4")),
            },
            "error-limit" => observe.error_limit = value(1..=u32::MAX)?,
            "on-error" => {
                observe.on_error = match it.next().map(String::as_str) {
                    Some("fastinter") => OnError::FastInter,
                    Some("fail-check") => OnError::FailCheck,
                    Some("sudden-death") => OnError::SuddenDeath,
                    Some("mark-down") => OnError::MarkDown,
                    _ => {
                        let msg = "accepted: on-error fastinter|fail-check|sudden-death|mark-down";
                        return Err(bad_kw(opt, msg));
                    }
                }
            }
            "on-marked-down" => match it.next().map(String::as_str) {
                Some("shutdown-sessions") => conf.shutdown_on_down = true,
                _ => {
                    let msg = "accepted: on-marked-down shutdown-sessions";
                    return Err(bad_kw(opt, msg));
                }
            },
            "check" => checking = true,
            "slowstart" => {
                let v = it
                    .next()
                    .ok_or_else(|| bad_kw(opt, "expects a time: slowstart T"))?;
                conf.slowstart = parse_time(v).map_err(|m| bad_kw(opt, m))?;
            }
            "rise" => check.rise = value(1..=u32::MAX)?,
            "fall" => check.fall = value(1..=u32::MAX)?,
            "port" => check.target.set_port(value(1..=65535)? as u16),
            "inter" | "fastinter" | "downinter" => {
                let v = it
                    .next()
                    .ok_or_else(|| bad_kw(opt, format!("expects a time: {opt} T")))?;
                let t = parse_time(v).map_err(|m| bad_kw(opt, m))?;
                if t.is_zero() {
                    return Err(bad_kw(opt, "must be above 0"));
                }
                match opt.as_str() {
                    "inter" => inter = Some(t),
                    "fastinter" => fastinter = Some(t),
                    _ => downinter = Some(t),
                }
            }
            "addr" => {
                let v = it
                    .next()
                    .ok_or_else(|| bad_kw(opt, "expects an IP address: addr IP"))?;
                let ip: std::net::IpAddr = v
                    .parse()
                    .map_err(|_| bad_kw(opt, format!("'{v}' is not an IP address")))?;
                check.target.set_ip(ip);
            }
            o if SERVER_HTTP_ONLY.contains(&o) => return Err(http_only(o)),
            o if SERVER_NOT_YET.contains(&o) => return Err(not_yet(o)),
            o => {
                let msg = "unknown server option; accepted: weight N, maxconn N, disabled, backup, \
                           on-marked-down shutdown-sessions, observe layer4, error-limit N, on-error ACTION, \
                           check, inter T, fastinter T, downinter T, rise N, fall N, port N, addr IP, slowstart T";
                return Err(bad_kw(o, msg));
            }
        }
    }
    if observing {
        conf.observe = Some(observe);
    }
    // `observe layer4` alone: live traffic takes the server out, and the
    // prober checks it (with these timings) only until it is back UP.
    check.passive_only = !checking;
    if checking || observing {
        check.inter = inter.unwrap_or(DEFAULT_INTER);
        check.fastinter = fastinter.unwrap_or(check.inter);
        check.downinter = downinter.unwrap_or(check.inter);
        conf.check = Some(check);
    }
    Ok(())
}

const HTTP_TIMEOUTS: &[&str] = &["http-request", "http-keep-alive", "tarpit"];

fn timeout(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [which, rest @ ..] = c.args else {
        return Err(bad(format!(
            "expects: timeout NAME TIME; names: {}",
            timeout_names()
        )));
    };
    let kw = format!("timeout {which}");
    if HTTP_TIMEOUTS.contains(&which.as_str()) {
        return Err(http_only(&kw));
    }
    let Some(i) = TIMEOUTS.iter().position(|(name, _)| name == which) else {
        return Err(bad_kw(
            &kw,
            format!("unknown timeout; accepted: {}", timeout_names()),
        ));
    };
    if TIMEOUTS[i].1 & c.role == 0 {
        return Err(misplaced(&kw, TIMEOUTS[i].1, c.role));
    }
    let [time] = rest else {
        return Err(bad_kw(
            &kw,
            format!("expects one time, e.g. {kw} 30s ({TIME_UNITS})"),
        ));
    };
    let d = parse_time(time).map_err(|m| bad_kw(&kw, m))?;
    if d.is_zero() && (i == T_CONNECT || i == T_QUEUE) {
        return Err(bad_kw(
            &kw,
            "must be above 0: l4lb never waits forever to connect",
        ));
    }
    s.timeouts[i] = Some(d);
    Ok(())
}

fn timeout_names() -> String {
    TIMEOUTS.map(|(name, _)| name).join(", ")
}

fn retries(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    s.retries = Some(number(c.one()?, 0..=u32::MAX).map_err(bad)?);
    Ok(())
}

/// HAProxy's `retry-on` (HTTP mode there), with the meanings that exist
/// for raw TCP: failed connects are always retried (`retries` says how
/// often); `empty-response` also retries, on another server, a connection
/// whose server closed or reset it before sending a single byte, replaying
/// what the client had sent. `none` turns that off again.
fn retry_on(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    const HTTP_ONLY: &[&str] = &[
        "junk-response",
        "response-timeout",
        "0rtt-rejected",
        "all-retryable-errors",
    ];
    if c.args.is_empty() {
        return Err(bad(
            "expects: retry-on none|conn-failure|empty-response ...",
        ));
    }
    let mut empty = false;
    for word in c.args {
        match word.as_str() {
            "none" if c.args.len() == 1 => empty = false,
            "none" => return Err(bad("`none` cannot be combined with other conditions")),
            "conn-failure" => {}
            "empty-response" => empty = true,
            w if HTTP_ONLY.contains(&w) || w.parse::<u16>().is_ok() => {
                return Err(http_only(&format!("retry-on {w}")));
            }
            w => {
                return Err(bad(format!(
                    "unknown condition '{w}'; accepted: none, conn-failure, empty-response"
                )));
            }
        }
    }
    s.retry_empty = Some(empty);
    Ok(())
}

fn maxconn(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    s.maxconn = Some(number(c.one()?, 1..=usize::MAX).map_err(bad)?);
    Ok(())
}

fn description(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    if c.args.is_empty() {
        return Err(bad(format!("expects: {}", c.usage)));
    }
    s.description = Some(c.args.join(" "));
    Ok(())
}

/// `option` names l4lb has, where each is accepted, and what each sets.
struct Opt {
    name: &'static str,
    mask: u8,
    set: fn(&mut Settings, bool),
}

const OPTIONS: &[Opt] = &[
    Opt {
        name: "redispatch",
        mask: DEF | BE,
        set: |s, on| s.redispatch = Some(on),
    },
    Opt {
        name: "splice-auto",
        mask: ALL,
        set: |s, on| s.splice_auto = Some(on),
    },
    Opt {
        name: "tcpka",
        mask: ALL,
        set: set_tcpka,
    },
    Opt {
        name: "clitcpka",
        mask: DEF | FE,
        set: |s, on| s.clitcpka = Some(on),
    },
    Opt {
        name: "srvtcpka",
        mask: DEF | BE,
        set: |s, on| s.srvtcpka = Some(on),
    },
    Opt {
        name: "tcp-check",
        mask: DEF | BE,
        set: |s, on| s.tcp_check = Some(on),
    },
    Opt {
        name: "allbackups",
        mask: DEF | BE,
        set: |s, on| s.all_backups = Some(on),
    },
    Opt {
        name: "tcplog",
        mask: DEF | FE,
        set: |s, on| s.tcplog = Some(on),
    },
    Opt {
        name: "dontlognull",
        mask: DEF | FE,
        set: |s, on| s.dontlognull = Some(on),
    },
];

/// `option tcpka` is both sides; in a frontend-only or backend-only section
/// the other side is simply never read.
fn set_tcpka(s: &mut Settings, on: bool) {
    s.clitcpka = Some(on);
    s.srvtcpka = Some(on);
}

/// HAProxy options that only make sense for HTTP.
const OPTION_HTTP_ONLY: &[&str] = &[
    "httplog",
    "httpslog",
    "forwardfor",
    "http-server-close",
    "httpclose",
    "forceclose",
    "http-keep-alive",
    "httpchk",
    "http-buffer-request",
    "http-pretend-keepalive",
    "http-use-proxy-header",
    "http-no-delay",
    "http-ignore-probes",
    "http-restrict-req-hdr-names",
    "http-drop-request-trailers",
    "http-drop-response-trailers",
    "originalto",
    "accept-invalid-http-request",
    "accept-invalid-http-response",
    "accept-unsafe-violations-in-http-request",
    "accept-unsafe-violations-in-http-response",
    "h1-case-adjust-bogus-client",
    "h1-case-adjust-bogus-server",
    "checkcache",
    "http_proxy",
    "http-use-htx",
    "disable-h2-upgrade",
];

/// HAProxy options l4lb may support later.
const OPTION_NOT_YET: &[&str] = &[
    "dontlog-normal",
    "logasap",
    "log-health-checks",
    "log-separate-errors",
    "log-steps",
    "ssl-hello-chk",
    "mysql-check",
    "pgsql-check",
    "redis-check",
    "smtpchk",
    "ldap-check",
    "spop-check",
    "external-check",
    "persist",
    "prefer-last-server",
    "socket-stats",
    "transparent",
    "independent-streams",
    "nolinger",
    "tcp-smart-accept",
    "tcp-smart-connect",
    "contstats",
    "splice-request",
    "splice-response",
    "abortonclose",
    "idle-close-on-response",
];

fn option(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    set_option(s, c, c.args, true)
}

/// `log global` or `log TARGET ...`: added to the inherited ones.
fn log(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    s.log.push(parse_proxy_log(c.args).map_err(bad)?);
    s.log_line = Some(c.line);
    Ok(())
}

fn no_option(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    match c.args {
        [opt, rest @ ..] if opt == "option" => set_option(s, c, rest, false),
        // HAProxy's `no log`: none of the inherited `log` lines apply.
        [log] if log == "log" => {
            s.log.clear();
            Ok(())
        }
        _ => Err(bad(format!("expects: {}", c.usage))),
    }
}

fn set_option(s: &mut Settings, c: &Ctx, args: &[String], on: bool) -> Result<(), Bad> {
    let prefix = if on { "option" } else { "no option" };
    let [name, rest @ ..] = args else {
        return Err(bad(format!(
            "expects: {prefix} NAME; names: {}",
            option_names()
        )));
    };
    let kw = format!("{prefix} {name}");
    if OPTION_HTTP_ONLY.contains(&name.as_str()) {
        return Err(http_only(&kw));
    }
    if OPTION_NOT_YET.contains(&name.as_str()) {
        return Err(not_yet(&kw));
    }
    let Some(opt) = OPTIONS.iter().find(|o| o.name == name) else {
        return Err(bad_kw(
            &kw,
            format!("unknown option; accepted: {}", option_names()),
        ));
    };
    if opt.mask & c.role == 0 {
        return Err(misplaced(&kw, opt.mask, c.role));
    }
    if let Some(extra) = rest.first() {
        return Err(bad_kw(
            &kw,
            format!("unexpected argument '{extra}': {prefix} {name} takes none"),
        ));
    }
    (opt.set)(s, on);
    Ok(())
}

fn option_names() -> String {
    OPTIONS
        .iter()
        .map(|o| o.name)
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------
// Keywords of the global section

struct GlobalKeyword {
    name: &'static str,
    usage: &'static str,
    parse: fn(&mut Global, &str) -> Result<(), String>,
}

const GLOBAL_KEYWORDS: &[GlobalKeyword] = &[
    GlobalKeyword {
        name: "nbthread",
        usage: "nbthread N",
        parse: |g, v| set(&mut g.threads, v, 1, MAX_THREADS),
    },
    GlobalKeyword {
        name: "maxconn",
        usage: "maxconn N",
        parse: |g, v| set(&mut g.maxconn, v, 1, usize::MAX),
    },
    GlobalKeyword {
        name: "maxpipes",
        usage: "maxpipes N",
        parse: |g, v| set(&mut g.maxpipes, v, 0, usize::MAX),
    },
    GlobalKeyword {
        name: "tune.bufsize",
        usage: "tune.bufsize BYTES",
        parse: |g, v| set(&mut g.bufsize, v, MIN_BUFSIZE, MAX_SIZE),
    },
    GlobalKeyword {
        name: "tune.pipesize",
        usage: "tune.pipesize BYTES",
        parse: |g, v| set(&mut g.pipesize, v, MIN_PIPESIZE, MAX_SIZE),
    },
    GlobalKeyword {
        name: "cpu-affinity",
        usage: "cpu-affinity on|off",
        parse: cpu_affinity,
    },
    GlobalKeyword {
        name: "hard-stop-after",
        usage: "hard-stop-after TIME",
        parse: |g, v| {
            g.hard_stop_after = Some(parse_time(v)?);
            Ok(())
        },
    },
];

fn set(field: &mut Option<usize>, value: &str, min: usize, max: usize) -> Result<(), String> {
    *field = Some(number(value, min..=max)?);
    Ok(())
}

fn cpu_affinity(g: &mut Global, value: &str) -> Result<(), String> {
    g.cpu_affinity = Some(match value {
        "on" => true,
        "off" => false,
        other => return Err(format!("'{other}' is neither on nor off")),
    });
    Ok(())
}

/// HAProxy global keywords that only serve HTTP.
const GLOBAL_HTTP_ONLY: &[&str] = &[
    "maxcomprate",
    "maxcompcpuusage",
    "maxzlibmem",
    "h1-case-adjust",
    "h1-case-adjust-file",
];
const TUNE_HTTP_PREFIXES: &[&str] = &[
    "tune.http.",
    "tune.h1.",
    "tune.h2.",
    "tune.comp.",
    "tune.zlib.",
];

/// HAProxy global keywords l4lb may support later. Every other `tune.*` is
/// treated the same way, since HAProxy has many.
const GLOBAL_NOT_YET: &[&str] = &[
    "daemon",
    "master-worker",
    "user",
    "group",
    "uid",
    "gid",
    "chroot",
    "pidfile",
    "nbproc",
    "ulimit-n",
    "node",
    "description",
    "localpeer",
    "setenv",
    "presetenv",
    "resetenv",
    "unsetenv",
    "spread-checks",
    "max-spread-checks",
    "maxconnrate",
    "maxsessrate",
    "maxsslconn",
    "maxsslrate",
    "noepoll",
    "nopoll",
    "nosplice",
    "nogetaddrinfo",
    "noreuseport",
    "cpu-map",
    "quiet",
    "zero-warning",
    "expose-experimental-directives",
    "insecure-fork-wanted",
    "busy-polling",
    "server-state-file",
    "server-state-base",
    "unix-bind",
    "lua-load",
    "lua-prepend-path",
    "ca-base",
    "crt-base",
    "thread-groups",
    "numa-cpu-mapping",
    "set-dumpable",
    "strict-limits",
    "grace",
    "close-spread-time",
    "default-path",
    "fd-hard-limit",
    "cluster-secret",
    "ssl-engine",
    "ssl-mode-async",
    "ssl-server-verify",
    "ssl-dh-param-file",
];

pub(super) fn global_line(g: &mut Global, words: &[String]) -> Result<(), Bad> {
    let kw = words[0].as_str();
    if GLOBAL_HTTP_ONLY.contains(&kw) || TUNE_HTTP_PREFIXES.iter().any(|p| kw.starts_with(p)) {
        return Err(http_only(kw));
    }
    if let Some(done) = global_log_line(g, kw, &words[1..]) {
        return done;
    }
    if kw == "stats" {
        return global_stats_line(g, &words[1..]);
    }
    let Some(k) = GLOBAL_KEYWORDS.iter().find(|k| k.name == kw) else {
        return Err(unknown_global_keyword(kw));
    };
    match &words[1..] {
        [value] => (k.parse)(g, value).map_err(bad),
        _ => Err(bad(format!("expects: {}", k.usage))),
    }
}

/// The global keywords of logging, which take several words; None when
/// `kw` is not one of them.
fn global_log_line(g: &mut Global, kw: &str, args: &[String]) -> Option<Result<(), Bad>> {
    let done = match (kw, args) {
        ("log", [global]) if global == "global" => Err(bad(
            "`log global` is for proxies; in global, give a target: log TARGET FACILITY",
        )),
        ("log", _) => parse_log(args).map(|t| g.log.push(t)).map_err(bad),
        ("log-tag", [tag]) => {
            g.log_tag = Some(tag.clone());
            Ok(())
        }
        ("log-tag", _) => Err(bad("expects: log-tag TAG")),
        ("log-send-hostname", [] | [_]) => {
            g.log_send_hostname = Some(args.first().cloned());
            Ok(())
        }
        ("log-send-hostname", _) => Err(bad("expects: log-send-hostname [NAME]")),
        _ => return None,
    };
    Some(done)
}

/// `stats socket|timeout|maxconn|http ...` in global.
fn global_stats_line(g: &mut Global, args: &[String]) -> Result<(), Bad> {
    let kw = |sub: &str| format!("stats {sub}");
    match args {
        [sub, path, opts @ ..] if sub == "socket" => {
            let socket = stats_socket(path, opts).map_err(|m| bad_kw(&kw(sub), m))?;
            if g.stats_sockets.iter().any(|s| s.path == socket.path) {
                return Err(bad_kw(
                    &kw(sub),
                    format!("{path} is already a stats socket"),
                ));
            }
            g.stats_sockets.push(socket);
            Ok(())
        }
        [sub, t] if sub == "timeout" => {
            let t = parse_time(t).map_err(|m| bad_kw(&kw(sub), m))?;
            if t.is_zero() {
                return Err(bad_kw(&kw(sub), "must be above 0"));
            }
            g.stats_timeout = Some(t);
            Ok(())
        }
        [sub, n] if sub == "maxconn" => {
            g.stats_maxconn = Some(number(n, 1..=10_000).map_err(|m| bad_kw(&kw(sub), m))?);
            Ok(())
        }
        [sub, addr] if sub == "http" => {
            let a = addr
                .parse()
                .map_err(|_| bad_kw(&kw(sub), format!("'{addr}' is not IP:PORT")))?;
            g.stats_http = Some(a);
            Ok(())
        }
        [sub, ..] if ["socket", "timeout", "maxconn", "http"].contains(&sub.as_str()) => {
            let usage = match sub.as_str() {
                "socket" => {
                    "stats socket PATH [mode OCTAL] [level user|operator|admin] [expose-fd listeners]"
                }
                "timeout" => "stats timeout TIME",
                "maxconn" => "stats maxconn N",
                _ => "stats http ADDR:PORT",
            };
            Err(bad_kw(&kw(sub), format!("expects: {usage}")))
        }
        [sub, ..] if sub == "bind-process" => Err(not_yet("stats bind-process")),
        _ => Err(bad(
            "expects: stats socket PATH ..., stats timeout T, stats maxconn N, stats http ADDR:PORT",
        )),
    }
}

fn stats_socket(path: &str, opts: &[String]) -> Result<StatsSocket, String> {
    if !path.starts_with('/') {
        return Err(format!(
            "'{path}': give an absolute path (ipv4@/ipv6@ sockets are not supported)"
        ));
    }
    let mut socket = StatsSocket {
        path: path.into(),
        mode: 0o600,
        level: ApiLevel::Operator,
    };
    let mut it = opts.iter();
    while let Some(opt) = it.next() {
        let mut value = || it.next().ok_or(format!("{opt} expects a value"));
        match opt.as_str() {
            "mode" => {
                let v = value()?;
                socket.mode = u32::from_str_radix(v, 8)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or(format!("mode '{v}' is not an octal file mode"))?;
            }
            "level" => {
                socket.level = match value()?.as_str() {
                    "user" => ApiLevel::User,
                    "operator" => ApiLevel::Operator,
                    "admin" => ApiLevel::Admin,
                    v => return Err(format!("level '{v}'; accepted: user, operator, admin")),
                }
            }
            // Socket inheritance for upgrades is always possible in l4lb.
            "expose-fd" => match value()?.as_str() {
                "listeners" => {}
                v => return Err(format!("expose-fd '{v}'; accepted: expose-fd listeners")),
            },
            o @ ("user" | "group" | "uid" | "gid" | "process" | "thread") => {
                return Err(format!("option '{o}' is not implemented yet in l4lb"));
            }
            o => {
                return Err(format!(
                    "unknown option '{o}'; accepted: mode, level, expose-fd"
                ));
            }
        }
    }
    Ok(socket)
}

fn unknown_global_keyword(kw: &str) -> Bad {
    if GLOBAL_NOT_YET.contains(&kw) || kw.starts_with("tune.") || kw.starts_with("ssl-") {
        return not_yet(kw);
    }
    if let Some(k) = KEYWORDS.iter().find(|k| k.name == kw) {
        return bad(format!(
            "not accepted in the global section; accepted in {}",
            accepted_in(k.mask)
        ));
    }
    let mut known: Vec<&str> = GLOBAL_KEYWORDS.iter().map(|k| k.name).collect();
    known.extend(["log", "log-tag", "log-send-hostname"]);
    bad(format!(
        "unknown keyword; accepted in global: {}",
        known.join(", ")
    ))
}
