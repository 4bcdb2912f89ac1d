//! The keywords of defaults, frontend, backend and listen sections but
//! `server` and `default-server` (in `server`): mode, bind, balance,
//! timeouts, retries, options, log lines, tcp-check steps.

use super::super::BindOpts;
use super::super::log::parse_proxy_log;
use super::super::raw::{
    ALL, BE, DEF, FE, Mode, Settings, T_CONNECT, T_QUEUE, TIMEOUTS, check_name,
};
use super::super::values::{
    BALANCE_ACCEPTED, TIME_UNITS, bind_addr, number, parse_balance, parse_time,
};
use super::super::{Bind, CheckStep};
use super::refused::{
    HTTP_TIMEOUTS, OPTION_HTTP_ONLY, OPTION_NOT_YET, RETRY_ON_HTTP_ONLY, http_only, not_yet,
};
use super::sockopts::bind_option;
use super::{Bad, Ctx, bad, bad_kw, misplaced};

/// `mode tcp|http`: stored; a proxy left in mode http is refused when the
/// file is checked as a whole (`build`), so a `defaults` section in mode
/// http loads as long as its proxies set `mode tcp`.
pub(super) fn mode(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let mode = match c.one()? {
        "tcp" => Mode::Tcp,
        "http" => Mode::Http,
        other => return Err(bad(format!("mode {other} is not supported; use mode tcp"))),
    };
    s.mode = Some((mode, c.line));
    Ok(())
}

pub(super) fn bind(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [addrs, opts @ ..] = c.args else {
        return Err(bad(format!("expects: {}", c.usage)));
    };
    let (name, bind_opts) = bind_options(opts)?;
    for a in addrs.split(',') {
        let addr = bind_addr(a).map_err(bad)?;
        s.binds.push((
            Bind {
                addr,
                name: name.clone(),
                opts: bind_opts.clone(),
            },
            c.line,
        ));
    }
    Ok(())
}

/// Returns the bind's `name` and socket options.
fn bind_options(opts: &[String]) -> Result<(Option<String>, BindOpts), Bad> {
    let mut name = None;
    let mut bind_opts = BindOpts::default();
    let mut it = opts.iter();
    while let Some(opt) = it.next() {
        match opt.as_str() {
            "name" => {
                let n = it
                    .next()
                    .ok_or_else(|| bad_kw("name", "expects a value: name NAME"))?;
                name = Some(n.clone());
            }
            o => bind_option(o, &mut it, &mut bind_opts)?,
        }
    }
    Ok((name, bind_opts))
}

pub(super) fn default_backend(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let name = c.one()?;
    check_name(name).map_err(bad)?;
    s.default_backend = Some((name.to_string(), c.line));
    Ok(())
}

pub(super) fn balance(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
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

pub(super) fn hash_type(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
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

pub(super) const TCP_CHECK_USAGE: &str = "tcp-check connect | send STRING | send-binary HEX | \
                               expect string STRING | expect binary HEX";

/// One `tcp-check` line. The connect is always the first step, so only a
/// leading `tcp-check connect` (without options) is accepted.
pub(super) fn tcp_check(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
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

pub(super) fn timeout(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
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

pub(super) fn retries(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    s.retries = Some(number(c.one()?, 0..=u32::MAX).map_err(bad)?);
    Ok(())
}

/// HAProxy's `retry-on` (HTTP mode there), with the meanings that exist
/// for raw TCP: failed connects are always retried (`retries` says how
/// often); `empty-response` also retries, on another server, a connection
/// whose server closed or reset it before sending a single byte, replaying
/// what the client had sent. `none` turns that off again.
pub(super) fn retry_on(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
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
            w if RETRY_ON_HTTP_ONLY.contains(&w) || w.parse::<u16>().is_ok() => {
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

pub(super) fn maxconn(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    s.maxconn = Some(number(c.one()?, 1..=usize::MAX).map_err(bad)?);
    Ok(())
}

pub(super) fn description(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
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
    Opt {
        name: "nolinger",
        mask: ALL,
        set: |s, on| s.nolinger = Some(on),
    },
    Opt {
        name: "tcp-smart-accept",
        mask: DEF | FE,
        set: |s, on| s.smart_accept = Some(on),
    },
    Opt {
        name: "tcp-smart-connect",
        mask: DEF | BE,
        set: |s, on| s.smart_connect = Some(on),
    },
];

/// `option tcpka` is both sides; in a frontend-only or backend-only section
/// the other side is simply never read.
fn set_tcpka(s: &mut Settings, on: bool) {
    s.clitcpka = Some(on);
    s.srvtcpka = Some(on);
}

pub(super) fn option(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    set_option(s, c, c.args, true)
}

/// `log global` or `log TARGET ...`: added to the inherited ones.
pub(super) fn log(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    s.log.push(parse_proxy_log(c.args).map_err(bad)?);
    s.log_line = Some(c.line);
    Ok(())
}

pub(super) fn no_option(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
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
