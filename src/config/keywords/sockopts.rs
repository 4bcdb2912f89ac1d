//! The socket and limit keywords real haproxy.cfg files carry: bind
//! options (`v4v6`, `v6only`, `backlog`, `maxconn`, `defer-accept`, `tfo`,
//! `interface`, `mss`, `tcp-ut`, `process`/`thread all`), server options
//! (`id`, `minconn`, `maxqueue`, `source` with its port range, `tfo`,
//! `tcp-ut`), the proxy
//! keywords `source`, `fullconn`, `id` and `backlog`, and the whole-file
//! steps they need (ids, `fullconn` defaults, a backend's `source` given
//! to its servers).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use super::super::raw::{BE, DEF, FE, Proxy, Settings};
use super::super::values::{number, parse_time};
use super::super::{Backend, Balance, BindOpts, Frontend, ServerConf, SourceAddr};
use super::process::{gid_of, uid_of};
use super::refused::{BIND_NOT_YET, not_yet};
use super::{Bad, Ctx, bad, bad_kw};

/// The bind options l4lb has, for the "accepted" list of an unknown one.
const BIND_ACCEPTED: &str = "name NAME, v4v6, v6only, backlog N, maxconn N, defer-accept, \
                             tfo, interface NAME, mss N, tcp-ut T, process all, thread all, \
                             and on unix sockets mode OCTAL, user NAME, uid N, group NAME, gid N";

/// The bind options [`bind_option`] reads (`name` is the bind line's own).
pub(super) const BIND_OPTIONS: &[&str] = &[
    "v4v6",
    "v6only",
    "backlog",
    "maxconn",
    "defer-accept",
    "accept-proxy",
    "tfo",
    "interface",
    "mss",
    "tcp-ut",
    "process",
    "thread",
    "mode",
    "user",
    "uid",
    "group",
    "gid",
];

/// One bind option `word` (its value taken from `rest`), read into `opts`.
pub(super) fn bind_option<'a>(
    word: &str,
    rest: &mut impl Iterator<Item = &'a String>,
    opts: &mut BindOpts,
) -> Result<(), Bad> {
    let mut value = |usage: &str| {
        rest.next()
            .map(String::as_str)
            .ok_or_else(|| bad_kw(word, format!("expects a value: {usage}")))
    };
    let at = |b: String| bad_kw(word, b);
    match word {
        "v4v6" => opts.v6only = Some(false),
        "v6only" => opts.v6only = Some(true),
        "backlog" => opts.backlog = Some(number(value("backlog N")?, 1..=u32::MAX).map_err(at)?),
        // As HAProxy: 0 is no limit of the listener's own.
        "maxconn" => {
            let n = number(value("maxconn N")?, 0..=u32::MAX).map_err(at)?;
            opts.maxconn = (n > 0).then_some(n);
        }
        "defer-accept" => opts.defer_accept = true,
        "accept-proxy" => opts.accept_proxy = true,
        "tfo" => opts.tfo = true,
        "interface" => opts.interface = Some(interface(value("interface NAME")?).map_err(at)?),
        "mss" => opts.mss = Some(mss(value("mss N")?).map_err(at)?),
        "tcp-ut" => opts.tcp_ut = Some(user_timeout(value("tcp-ut T")?).map_err(at)?),
        // Every worker listens on every bind: the only spread l4lb has.
        "process" | "thread" => {
            let v = value(&format!("{word} all"))?;
            if v != "all" {
                let msg = format!(
                    "l4lb listens on every bind in every worker: only '{word} all' is accepted"
                );
                return Err(bad_kw(word, msg));
            }
        }
        "mode" => opts.mode = Some(file_mode(value("mode OCTAL")?).map_err(at)?),
        "user" | "uid" => opts.uid = Some(uid_of(word, value(&format!("{word} ID"))?).map_err(at)?),
        "group" | "gid" => {
            opts.gid = Some(gid_of(word, value(&format!("{word} ID"))?).map_err(at)?)
        }
        w if BIND_NOT_YET.contains(&w) => return Err(not_yet(w)),
        w => {
            let msg = format!("unknown bind option; accepted: {BIND_ACCEPTED}");
            return Err(bad_kw(w, msg));
        }
    }
    Ok(())
}

/// A unix socket file's mode, in octal as chmod takes it.
pub(super) fn file_mode(v: &str) -> Result<u32, String> {
    u32::from_str_radix(v, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("'{v}' is not an octal file mode (e.g. 660)"))
}

/// A network interface name (IFNAMSIZ: at most 15 bytes).
fn interface(name: &str) -> Result<String, String> {
    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
        return Err(format!(
            "'{name}' is not an interface name (1 to 15 characters)"
        ));
    }
    Ok(name.to_string())
}

/// `mss N`: HAProxy also takes a negative N (lower each client's MSS by
/// that much), which l4lb has not yet.
fn mss(v: &str) -> Result<u32, String> {
    if v.starts_with('-') {
        return Err(format!(
            "'mss {v}': a negative mss (lowering each client's MSS) is not implemented yet in l4lb; give N in 1..=65535"
        ));
    }
    number(v, 1..=65535)
}

/// `tcp-ut T`: a time, kept in whole milliseconds as TCP_USER_TIMEOUT is.
fn user_timeout(v: &str) -> Result<Duration, String> {
    let t = parse_time(v)?;
    if t.as_millis() > u128::from(i32::MAX as u32) {
        return Err(format!("'{v}' is too long for TCP_USER_TIMEOUT"));
    }
    Ok(t)
}

// Server options: their setters, called from the table in `server`.

pub(super) fn server_id(conf: &mut ServerConf, v: &str) -> Result<(), Bad> {
    conf.id = Some(number(v, 1..=i32::MAX as u32)?);
    Ok(())
}

pub(super) fn minconn(conf: &mut ServerConf, v: &str) -> Result<(), Bad> {
    conf.minconn = number(v, 0..=u32::MAX)?;
    Ok(())
}

pub(super) fn maxqueue(conf: &mut ServerConf, v: &str) -> Result<(), Bad> {
    conf.maxqueue = number(v, 0..=u32::MAX)?;
    Ok(())
}

pub(super) fn server_tcp_ut(conf: &mut ServerConf, v: &str) -> Result<(), Bad> {
    conf.tcp_ut = Some(user_timeout(v)?);
    Ok(())
}

pub(super) fn server_source(conf: &mut ServerConf, v: &str) -> Result<(), Bad> {
    conf.source = Some(source_addr(v, SourceOf::Server)?);
    Ok(())
}

/// `interface NAME` after a server's `source`.
pub(super) fn server_interface(conf: &mut ServerConf, v: &str) -> Result<(), Bad> {
    let Some(source) = &mut conf.source else {
        return Err(bad(
            "a server's interface belongs to its source: source ADDR interface NAME",
        ));
    };
    source.interface = Some(interface(v)?);
    Ok(())
}

pub(super) fn usesrc(_: &mut ServerConf, _: &str) -> Result<(), Bad> {
    Err(bad(USESRC))
}

const USESRC: &str = "'usesrc' (transparent proxying: IP_TRANSPARENT and policy routing) is not \
                      implemented yet in l4lb; remove it";

/// HAProxy's rule: a `minconn` alone, or above `maxconn`, is the maxconn;
/// a `maxconn` alone is a static limit (`minconn` = `maxconn`).
pub(super) fn minmax(conf: &mut ServerConf) {
    if conf.minconn > conf.maxconn {
        conf.maxconn = conf.minconn;
    } else if conf.minconn == 0 {
        conf.minconn = conf.maxconn;
    }
}

/// Where a `source` is written: a port range is a server's only, as in
/// HAProxy (its backend `source` refuses one: each server has its pool).
#[derive(Clone, Copy, PartialEq, Eq)]
enum SourceOf {
    Server,
    Proxy,
}

/// `ADDR[:PORT]`, and on a server line `ADDR:LOW-HIGH`: an IP, `*` for any
/// IPv4; no port or port 0 lets the kernel pick one at connect.
fn source_addr(text: &str, of: SourceOf) -> Result<SourceAddr, String> {
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, p)) => (h, Some(p.strip_prefix(':').unwrap_or(p))),
            None => return Err(format!("'{text}': expected [IPV6]:PORT")),
        },
        None if text.matches(':').count() > 1 => (text, None),
        None => match text.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        },
    };
    let ip: IpAddr = match host {
        "" | "*" => IpAddr::from([0, 0, 0, 0]),
        h => h.parse().map_err(|_| {
            format!("'{h}' is not an IP address; expected source ADDR[:PORT[-PORT]]")
        })?,
    };
    let (port, ports) = match port {
        None | Some("") => (0, None),
        Some(p) => match p.split_once('-') {
            Some(_) if of == SourceOf::Proxy => {
                return Err(format!(
                    "'{text}': a port range is not permitted in a backend's source, as in \
                     HAProxy; give it on each server line (server ... source {text})"
                ));
            }
            Some((low, high)) => port_range(low, high)?,
            None => (number::<u32>(p, 0..=65535)? as u16, None),
        },
    };
    Ok(SourceAddr {
        addr: SocketAddr::new(ip, port),
        ports,
        interface: None,
    })
}

/// `LOW-HIGH` of a server's `source`: (0, the range), or (the port, None)
/// when both ends are the same port, as HAProxy.
fn port_range(low: &str, high: &str) -> Result<(u16, Option<RangeInclusive<u16>>), String> {
    let low = number::<u32>(low, 1..=65535)? as u16;
    let high = number::<u32>(high, 1..=65535)? as u16;
    match low.cmp(&high) {
        Ordering::Less => Ok((0, Some(low..=high))),
        Ordering::Equal => Ok((low, None)),
        Ordering::Greater => Err(format!(
            "invalid port range '{low}-{high}': the first port must not be above the last"
        )),
    }
}

// Proxy keywords.

/// `source ADDR[:PORT] [interface NAME]` in defaults or a backend.
pub(super) fn source(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [addr, rest @ ..] = c.args else {
        return Err(bad(format!("expects: {}", c.usage)));
    };
    let mut source = source_addr(addr, SourceOf::Proxy)?;
    let mut it = rest.iter();
    while let Some(word) = it.next() {
        match (word.as_str(), it.next()) {
            ("interface", Some(name)) => source.interface = Some(interface(name)?),
            ("usesrc", _) => return Err(bad_kw("usesrc", USESRC)),
            _ => return Err(bad(format!("expects: {}", c.usage))),
        }
    }
    s.source = Some(source);
    Ok(())
}

pub(super) fn fullconn(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    s.fullconn = Some(number(c.one()?, 1..=u32::MAX)?);
    Ok(())
}

pub(super) fn backlog(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    s.backlog = Some(number(c.one()?, 1..=u32::MAX)?);
    Ok(())
}

/// `id N` of a frontend, backend or listen section; never inherited.
pub(super) fn proxy_id(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    s.id = Some((number(c.one()?, 1..=i32::MAX as u32)?, c.line));
    Ok(())
}

// Whole-file steps, called by `build`.

/// HAProxy's numbering of proxies or of a backend's servers: each one's
/// `id` if it has one, else the next id no one has, from 1, in order.
pub(in crate::config) fn numbered(explicit: &[Option<u32>]) -> Vec<u32> {
    let mut taken: Vec<u32> = explicit.iter().flatten().copied().collect();
    let mut next = 1;
    explicit
        .iter()
        .map(|id| {
            id.unwrap_or_else(|| {
                while taken.contains(&next) {
                    next += 1;
                }
                taken.push(next);
                next
            })
        })
        .collect()
}

/// The ids of the proxies (a listen section is one proxy with one id),
/// and (line, message) for each id given twice.
pub(in crate::config) fn proxy_ids(proxies: &[Proxy]) -> (Vec<u32>, Vec<(usize, String)>) {
    let mut taken: HashMap<u32, &str> = HashMap::new();
    let mut errors = Vec::new();
    for p in proxies {
        if let Some((id, line)) = p.settings.id
            && let Some(first) = taken.insert(id, &p.name)
        {
            let msg = format!("id {id} is already used by proxy '{first}'; ids must be unique");
            errors.push((line, msg));
        }
    }
    let explicit: Vec<Option<u32>> = proxies
        .iter()
        .map(|p| p.settings.id.map(|(id, _)| id))
        .collect();
    (numbered(&explicit), errors)
}

/// A backend's servers: their `id`s checked unique (the others are
/// numbered where shown, so that a reload that only moves a line does not
/// change it), the backend's `source` given to those without one. Err: the
/// message for an id given twice.
pub(in crate::config) fn backend_servers(
    servers: &mut [ServerConf],
    source: Option<&SourceAddr>,
) -> Result<(), String> {
    let mut taken: HashMap<u32, &str> = HashMap::new();
    for s in servers.iter() {
        if let Some(id) = s.id
            && let Some(first) = taken.insert(id, &s.name)
        {
            return Err(format!(
                "server '{}': id {id} is already used by server '{first}'; server ids must be unique in a backend",
                s.name
            ));
        }
    }
    for s in servers.iter_mut() {
        // A unix connect has no source address: the backend's is for its
        // IP servers (HAProxy's unix connects take none), a line's own is
        // an error.
        if s.unix.is_some() {
            if let Some(src) = &s.source {
                return Err(format!(
                    "server '{}' is on a unix socket: it cannot connect from source {}",
                    s.name, src.addr
                ));
            }
            continue;
        }
        if s.source.is_none() {
            s.source = source.cloned();
        }
        if let Some(src) = &s.source
            && src.addr.is_ipv4() != s.addr.is_ipv4()
        {
            return Err(format!(
                "server '{}' at {} cannot connect from source {}: not the same address family",
                s.name, s.addr, src.addr
            ));
        }
    }
    Ok(())
}

/// HAProxy's default `fullconn`: 10% (rounded up, at least 1) of the
/// maxconn of the frontends whose connections go to `backend` (by
/// `default_backend` or a `use_backend` naming it).
pub(in crate::config) fn default_fullconn(frontends: &[Frontend], backend: usize) -> u32 {
    let total: usize = frontends
        .iter()
        .filter(|f| f.backend == Some(backend) || f.routes_to(backend))
        .map(|f| f.maxconn)
        .sum();
    u32::try_from(total.div_ceil(10)).unwrap_or(u32::MAX).max(1)
}

/// l4lb's `balance source` sends a client whose server is full to the next
/// server rather than queue it on that one, as HAProxy would: a `maxqueue`
/// there would bound a queue l4lb never fills, so it is refused.
pub(in crate::config) fn maxqueue_refused(be: &Backend) -> Option<String> {
    let s = be.servers.iter().find(|s| s.maxqueue > 0)?;
    matches!(be.balance, Balance::Source { .. }).then(|| {
        format!(
            "server '{}': maxqueue with balance source is not implemented yet in l4lb (a client \
             whose server is full goes to the next server instead of waiting in that server's \
             queue); remove maxqueue or use another balance",
            s.name
        )
    })
}

/// Where `source`, `fullconn`, `backlog` and `id` are accepted.
pub(super) const SOURCE_MASK: u8 = DEF | BE;
pub(super) const FULLCONN_MASK: u8 = DEF | BE;
pub(super) const BACKLOG_MASK: u8 = DEF | FE;
pub(super) const ID_MASK: u8 = FE | BE;
