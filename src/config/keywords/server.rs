//! `server` and `default-server` lines: the server's address, then its
//! options, read from the table [`SERVER_OPTIONS`] into a [`ServerDraft`]
//! that `finish` turns into the [`ServerConf`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::super::raw::{BE, Ignored, Settings, Why, check_name};
use super::super::values::{number, parse_time, server_addr, unix_addr};
use super::super::{
    Check, DEFAULT_ERROR_LIMIT, DEFAULT_FALL, DEFAULT_INTER, DEFAULT_RISE, Observe, OnError,
    ServerConf,
};
use super::http;
use super::refused::{SERVER_HTTP_ONLY, SERVER_NOT_YET, http_only, not_yet};
use super::server_checks::CHECK_OPTIONS;
use super::server_draft::{CheckDraft, ServerDraft, ServerOption, flag, valued};
use super::sockopts;
use super::{Bad, Ctx, bad, bad_kw};

pub(super) const SERVER_USAGE: &str = "server NAME ADDR:PORT [weight 0-256] [maxconn N] [disabled] [backup] [check [inter T] [fastinter T] [downinter T] [rise N] [fall N] [port N] [addr IP]]";

pub(super) fn server(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [name, addr, opts @ ..] = c.args else {
        return Err(bad(format!("expects: {}", c.usage)));
    };
    let mut errors = Vec::new();
    if s.servers.iter().any(|sv| &sv.name == name) {
        errors.push(bad(format!(
            "duplicate server name '{name}' in this section; server names must be unique"
        )));
    }
    // A bad address does not hide the options' errors: they are read
    // over a stand-in address.
    let conf = server_conf(name, addr).unwrap_or_else(|m| {
        errors.push(bad(m));
        ServerConf::new(name.clone(), STAND_IN)
    });
    // `default-server` options first, so the line's own override them.
    let words = [&s.default_server[..], opts].concat();
    let (conf, ignored) = server_options(conf, &words, &mut errors);
    errors.extend(unix_check(&conf));
    // Kept even in error (the file is refused anyway), so that a later
    // line reusing its name is still reported.
    s.servers.push(conf);
    if let Some(b) = Bad::all(errors) {
        return Err(b);
    }
    for option in ignored {
        s.ignore(Ignored {
            name: format!("server option {option}"),
            slot: None,
            line: c.line,
            roles: BE,
            why: Why::HttpOnly,
        });
    }
    Ok(())
}

/// A server named `name` at `addr`: a unix socket, or an IP or host name
/// (resolved now) and a port.
fn server_conf(name: &str, addr: &str) -> Result<ServerConf, String> {
    if let Some(unix) = unix_addr(addr) {
        return Ok(ServerConf::unix(name.to_string(), unix?));
    }
    let (configured, addr) = server_addr(addr)?;
    Ok(ServerConf::resolved(name.to_string(), configured, addr))
}

/// A unix server is checked on its socket: `addr` and `port` (which move
/// the check to an IP socket) would be ignored, so they are refused.
fn unix_check(conf: &ServerConf) -> Option<Bad> {
    let check = conf.check.as_ref()?;
    (conf.unix.is_some() && check.target != conf.addr).then(|| {
        bad(
            "a server on a unix socket is checked on that socket: remove its check \
             'addr' and 'port'",
        )
    })
}

/// The address options are checked against when there is no real one.
const STAND_IN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1);

/// A `server NAME ADDR [OPTIONS]` line given at run time (`add server`):
/// the same checks as in a conf file, and the HTTP-only options a conf
/// file may carry (ignored there, as in HAProxy) are refused; Err is the
/// message, every complaint of the line in it.
pub(in crate::config) fn server_line(words: &[String]) -> Result<ServerConf, String> {
    let [_, name, addr, opts @ ..] = words else {
        return Err("expects: server NAME ADDR:PORT [OPTIONS]".into());
    };
    check_name(name).map_err(|m| format!("server name: {m}"))?;
    let conf = server_conf(name, addr)?;
    let mut errors = Vec::new();
    let (conf, ignored) = server_options(conf, opts, &mut errors);
    errors.extend(unix_check(&conf));
    errors.extend(ignored.into_iter().map(http_only));
    if errors.is_empty() {
        return Ok(conf);
    }
    let text: Vec<String> = errors
        .into_iter()
        .map(|b| match b.keyword {
            Some(k) => format!("'{k}': {}", b.msg),
            None => b.msg,
        })
        .collect();
    Err(text.join("; "))
}

/// `default-server OPTIONS`: options every later `server` line of the
/// section (or of the proxies using this defaults section) starts from.
/// Checked here, so an error points at this line.
pub(super) fn default_server(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let mut errors = Vec::new();
    server_options(
        ServerConf::new(String::new(), STAND_IN),
        c.args,
        &mut errors,
    );
    if let Some(b) = Bad::all(errors) {
        return Err(b);
    }
    s.default_server.extend(c.args.iter().cloned());
    Ok(())
}

impl ServerDraft {
    fn new(conf: ServerConf) -> ServerDraft {
        let check = Check {
            inter: DEFAULT_INTER,
            fastinter: DEFAULT_INTER,
            downinter: DEFAULT_INTER,
            rise: DEFAULT_RISE,
            fall: DEFAULT_FALL,
            target: conf.addr,
            passive_only: false,
            tls: None,
            send_proxy: None,
        };
        let observe = Observe {
            error_limit: DEFAULT_ERROR_LIMIT,
            on_error: OnError::FailCheck,
        };
        ServerDraft {
            conf,
            checks: CheckDraft::default(),
            proxy_v2_options: (false, false, false),
            check_send_proxy: false,
            check,
            inter: None,
            fastinter: None,
            downinter: None,
            observe,
            observing: false,
            checking: false,
        }
    }

    fn finish(self, errors: &mut Vec<Bad>) -> ServerConf {
        let mut conf = self.conf;
        if let Some(sp) = conf.send_proxy.as_mut().filter(|sp| sp.v2) {
            (sp.crc32c, sp.authority, sp.unique_id) = self.proxy_v2_options;
        }
        match self.checks.agent(conf.addr) {
            Ok(agent) => conf.agent = agent,
            Err(b) => errors.push(b.about("agent-check")),
        }
        sockopts::minmax(&mut conf);
        if self.observing {
            conf.observe = Some(self.observe);
        }
        // `observe layer4` alone: live traffic takes the server out, and the
        // prober checks it (with these timings) only until it is back UP.
        if self.checking || self.observing {
            let inter = self.inter.unwrap_or(DEFAULT_INTER);
            conf.check = Some(Check {
                inter,
                fastinter: self.fastinter.unwrap_or(inter),
                downinter: self.downinter.unwrap_or(inter),
                passive_only: !self.checking,
                tls: self.checks.tls(),
                // As HAProxy: with `check-send-proxy`, or by default when
                // the server gets the PROXY protocol and the check goes to
                // its own address (no `port` nor `addr`).
                send_proxy: (self.check_send_proxy
                    || conf.send_proxy.is_some() && self.check.target == conf.addr)
                    .then(|| conf.send_proxy.is_some_and(|sp| sp.v2)),
                ..self.check
            });
        }
        conf
    }
}

/// The server options l4lb has, in the order the "accepted" list shows them.
const SERVER_OPTIONS: &[ServerOption] = &[
    valued("weight N", "expects a value: weight N", |d, v| {
        d.conf.weight = number(v, 0..=256)?;
        Ok(())
    }),
    valued("maxconn N", "expects a value: maxconn N", |d, v| {
        d.conf.maxconn = number(v, 0..=u32::MAX)?;
        Ok(())
    }),
    flag("disabled", |d, _| {
        d.conf.disabled = true;
        Ok(())
    }),
    flag("backup", |d, _| {
        d.conf.backup = true;
        Ok(())
    }),
    valued(
        "on-marked-down shutdown-sessions",
        "accepted: on-marked-down shutdown-sessions",
        on_marked_down,
    ),
    valued("observe layer4", "accepted: observe layer4", observe),
    valued("error-limit N", "expects a value: error-limit N", |d, v| {
        d.observe.error_limit = number(v, 1..=u32::MAX)?;
        Ok(())
    }),
    valued("on-error ACTION", ON_ERROR_ACCEPTED, on_error),
    flag("check", |d, _| {
        d.checking = true;
        Ok(())
    }),
    valued("inter T", "expects a time: inter T", |d, v| {
        d.inter = Some(interval(v)?);
        Ok(())
    }),
    valued("fastinter T", "expects a time: fastinter T", |d, v| {
        d.fastinter = Some(interval(v)?);
        Ok(())
    }),
    valued("downinter T", "expects a time: downinter T", |d, v| {
        d.downinter = Some(interval(v)?);
        Ok(())
    }),
    valued("rise N", "expects a value: rise N", |d, v| {
        d.check.rise = number(v, 1..=u32::MAX)?;
        Ok(())
    }),
    valued("fall N", "expects a value: fall N", |d, v| {
        d.check.fall = number(v, 1..=u32::MAX)?;
        Ok(())
    }),
    valued("port N", "expects a value: port N", |d, v| {
        d.check.target.set_port(number::<u32>(v, 1..=65535)? as u16);
        Ok(())
    }),
    valued("addr IP", "expects an IP address: addr IP", |d, v| {
        let ip = v
            .parse()
            .map_err(|_| bad(format!("'{v}' is not an IP address")))?;
        d.check.target.set_ip(ip);
        Ok(())
    }),
    valued("slowstart T", "expects a time: slowstart T", |d, v| {
        d.conf.slowstart = parse_time(v)?;
        Ok(())
    }),
    valued("id N", "expects a value: id N", |d, v| {
        sockopts::server_id(&mut d.conf, v)
    }),
    valued("minconn N", "expects a value: minconn N", |d, v| {
        sockopts::minconn(&mut d.conf, v)
    }),
    valued("maxqueue N", "expects a value: maxqueue N", |d, v| {
        sockopts::maxqueue(&mut d.conf, v)
    }),
    valued(
        "source ADDR[:PORT[-PORT]]",
        "expects an address: source ADDR[:PORT[-PORT]]",
        |d, v| sockopts::server_source(&mut d.conf, v),
    ),
    valued(
        "interface NAME",
        "expects a name: interface NAME",
        |d, v| sockopts::server_interface(&mut d.conf, v),
    ),
    valued(
        "usesrc ADDR",
        "expects: usesrc ADDR|client|clientip",
        |d, v| sockopts::usesrc(&mut d.conf, v),
    ),
    flag("send-proxy", |d, _| {
        d.conf.send_proxy.get_or_insert_with(Default::default).v2 = false;
        Ok(())
    }),
    flag("send-proxy-v2", |d, _| {
        d.conf.send_proxy.get_or_insert_with(Default::default).v2 = true;
        Ok(())
    }),
    valued(
        "proxy-v2-options LIST",
        "expects a list: proxy-v2-options crc32c,authority,unique-id",
        proxy_v2_options,
    ),
    flag("check-send-proxy", |d, _| {
        d.check_send_proxy = true;
        Ok(())
    }),
    flag("no-send-proxy", |d, _| {
        d.conf.send_proxy = None;
        Ok(())
    }),
    flag("tfo", |d, _| {
        d.conf.tfo = true;
        Ok(())
    }),
    valued("tcp-ut T", "expects a time: tcp-ut T", |d, v| {
        sockopts::server_tcp_ut(&mut d.conf, v)
    }),
];

/// `proxy-v2-options`: what l4lb can say of a connection it never
/// decrypts. HAProxy applies them with `send-proxy-v2` only.
fn proxy_v2_options(d: &mut ServerDraft, v: &str) -> Result<(), Bad> {
    let mut crc32c = false;
    let mut authority = false;
    let mut unique_id = false;
    for option in v.split(',') {
        match option {
            "crc32c" => crc32c = true,
            "authority" => authority = true,
            "unique-id" => unique_id = true,
            "ssl" | "cert-cn" | "ssl-cipher" | "cert-sig" | "cert-key" => {
                return Err(bad(format!(
                    "'{option}' describes the client's TLS session, and l4lb never terminates \
                     TLS; accepted: crc32c, authority, unique-id"
                )));
            }
            other => {
                return Err(bad(format!(
                    "unknown option '{other}'; accepted: crc32c, authority, unique-id"
                )));
            }
        }
    }
    d.proxy_v2_options = (crc32c, authority, unique_id);
    Ok(())
}

const ON_ERROR_ACCEPTED: &str = "accepted: on-error fastinter|fail-check|sudden-death|mark-down";

fn on_marked_down(d: &mut ServerDraft, v: &str) -> Result<(), Bad> {
    match v {
        "shutdown-sessions" => d.conf.shutdown_on_down = true,
        _ => return Err(bad("accepted: on-marked-down shutdown-sessions")),
    }
    Ok(())
}

fn observe(d: &mut ServerDraft, v: &str) -> Result<(), Bad> {
    match v {
        "layer4" => d.observing = true,
        "layer7" => return Err(http_only("observe layer7")),
        _ => return Err(bad("accepted: observe layer4")),
    }
    Ok(())
}

fn on_error(d: &mut ServerDraft, v: &str) -> Result<(), Bad> {
    d.observe.on_error = match v {
        "fastinter" => OnError::FastInter,
        "fail-check" => OnError::FailCheck,
        "sudden-death" => OnError::SuddenDeath,
        "mark-down" => OnError::MarkDown,
        _ => return Err(bad(ON_ERROR_ACCEPTED)),
    };
    Ok(())
}

/// `inter`, `fastinter`, `downinter`: a time above 0.
fn interval(v: &str) -> Result<Duration, Bad> {
    let t = parse_time(v)?;
    if t.is_zero() {
        return Err(bad("must be above 0"));
    }
    Ok(t)
}

/// Reads `opts` over `conf`: each option in turn, a later one overriding
/// an earlier one (so a server's own options win over `default-server`'s).
/// Every bad option goes to `errors`; the words after a refused one, up to
/// the next option name, are taken as its values. Also returns the
/// HTTP-only options met, which act on nothing in mode tcp.
fn server_options(
    conf: ServerConf,
    opts: &[String],
    errors: &mut Vec<Bad>,
) -> (ServerConf, Vec<&'static str>) {
    let mut draft = ServerDraft::new(conf);
    let mut ignored = Vec::new();
    let mut words = opts.iter().peekable();
    while let Some(word) = words.next() {
        if let Some(&option) = http::SERVER_OPTIONS.iter().find(|o| *o == word) {
            match words.next() {
                Some(_) if !ignored.contains(&option) => ignored.push(option),
                Some(_) => {}
                None => errors.push(bad_kw(word, format!("expects a value: {word} VALUE"))),
            }
            continue;
        }
        let opt = match server_option(word) {
            Ok(opt) => opt,
            Err(b) => {
                errors.push(b);
                while words.next_if(|w| !is_option_name(w)).is_some() {}
                continue;
            }
        };
        let value = match (opt.missing, words.next_if(|_| opt.missing.is_some())) {
            (None, _) => "",
            (Some(_), Some(value)) => value,
            (Some(missing), None) => {
                errors.push(bad_kw(word, missing));
                continue;
            }
        };
        if let Err(b) = (opt.set)(&mut draft, value) {
            errors.push(b.about(word));
        }
    }
    (draft.finish(errors), ignored)
}

/// Whether `word` names a server option, l4lb's or a refused HAProxy one.
fn is_option_name(word: &str) -> bool {
    all_options().any(|o| o.name() == word)
        || SERVER_NOT_YET.contains(&word)
        || SERVER_HTTP_ONLY.contains(&word)
        || http::SERVER_OPTIONS.contains(&word)
}

/// The table entry of option `word`, or why it is refused.
fn server_option(word: &str) -> Result<&'static ServerOption, Bad> {
    if let Some(opt) = all_options().find(|o| o.name() == word) {
        return Ok(opt);
    }
    if SERVER_HTTP_ONLY.contains(&word) {
        return Err(http_only(word));
    }
    if SERVER_NOT_YET.contains(&word) {
        return Err(not_yet(word));
    }
    let accepted: Vec<&str> = all_options().map(|o| o.usage).collect();
    let msg = format!("unknown server option; accepted: {}", accepted.join(", "));
    Err(bad_kw(word, msg))
}

/// Every server option: the general ones, then those of its checks.
fn all_options() -> impl Iterator<Item = &'static ServerOption> {
    SERVER_OPTIONS.iter().chain(CHECK_OPTIONS)
}
