//! The keywords of defaults, frontend, backend and listen sections but
//! `server` and `default-server` (in `server`): mode, bind, balance,
//! timeouts, retries, options, log lines, tcp-check steps.

use super::super::BindOpts;
use super::super::log::parse_proxy_log;
use super::super::raw::{
    ALL, BE, DEF, FE, Ignored, Mode, Settings, T_CONNECT, T_QUEUE, TIMEOUTS, Why, check_name,
};
use super::super::values::{
    BALANCE_ACCEPTED, TIME_UNITS, bind_addr, is_l7_balance, number, parse_balance, parse_time,
};
use super::super::{Balance, Bind};
use super::checks;
use super::http::{self, LOG_FORMAT_SLOT, ignored_option, ignored_timeout};
use super::refused::{
    BIND_NOT_YET, OPTION_HTTP_ONLY, OPTION_NOT_YET, RETRY_ON_HTTP_ONLY, http_only, not_yet,
};
use super::sockopts::{BIND_OPTIONS, bind_option};
use super::{Bad, Ctx, bad, bad_kw, misplaced_keyword};

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
    let mut errors = Vec::new();
    let mut addrs_ok = Vec::new();
    for a in addrs.split(',') {
        match bind_addr(a) {
            Ok(addr) => addrs_ok.push(addr),
            Err(m) => errors.push(bad(m)),
        }
    }
    let (name, bind_opts) = bind_options(opts, &mut errors);
    // Kept even when an option is wrong (the file is refused anyway), so
    // that the same address bound again is still reported.
    for addr in addrs_ok {
        let bind = Bind {
            addr,
            name: name.clone(),
            opts: bind_opts.clone(),
        };
        s.binds.push((bind, c.line));
    }
    Bad::all(errors).map_or(Ok(()), Err)
}

/// Returns the bind's `name` and socket options; every bad option goes to
/// `errors`. The words after a refused option, up to the next option l4lb
/// knows of, are taken as its values.
fn bind_options(opts: &[String], errors: &mut Vec<Bad>) -> (Option<String>, BindOpts) {
    let known = |w: &str| w == "name" || BIND_OPTIONS.contains(&w) || BIND_NOT_YET.contains(&w);
    let mut name = None;
    let mut bind_opts = BindOpts::default();
    let mut it = opts.iter();
    while let Some(opt) = it.next() {
        let done = match opt.as_str() {
            "name" => match it.next() {
                Some(n) => {
                    name = Some(n.clone());
                    continue;
                }
                None => Err(bad_kw("name", "expects a value: name NAME")),
            },
            o => bind_option(o, &mut it, &mut bind_opts),
        };
        if let Err(refused) = done {
            errors.push(refused);
            let rest = it.as_slice();
            let values = rest.iter().take_while(|w| !known(w)).count();
            it = rest[values..].iter();
        }
    }
    (name, bind_opts)
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
    if is_l7_balance(algo) {
        // HAProxy balances round robin instead in mode tcp, with a warning;
        // a proxy left in mode http is refused anyway.
        s.balance = Some(Balance::RoundRobin);
        s.ignore(Ignored {
            name: format!("balance {algo}"),
            slot: Some("balance"),
            line: c.line,
            roles: BE,
            why: Why::L7Balance,
        });
        return Ok(());
    }
    let b = parse_balance(algo).map_err(bad)?;
    s.hash_on = None;
    if algo == "hash" {
        if rest.is_empty() {
            return Err(bad(
                "expects: balance hash EXPR, e.g. balance hash req.ssl_sni",
            ));
        }
        s.hash_on = Some((rest.join(" "), c.line));
        s.balance = Some(b);
        s.unignore_slot("balance");
        return Ok(());
    }
    if let Some(name) = algo.strip_prefix("rdp-cookie") {
        // HAProxy's default cookie: the one mstsc sends, `mstshash`.
        let name = name.strip_prefix('(').and_then(|n| n.strip_suffix(')'));
        let name = name.unwrap_or("mstshash");
        s.hash_on = Some((format!("req.rdp_cookie({name})"), c.line));
    }
    if !rest.is_empty() {
        return Err(bad(format!(
            "unexpected argument '{}' after balance {algo}",
            rest[0]
        )));
    }
    s.balance = Some(b);
    s.unignore_slot("balance");
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

pub(super) fn timeout(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [which, rest @ ..] = c.args else {
        return Err(bad(format!(
            "expects: timeout NAME TIME; names: {}",
            timeout_names()
        )));
    };
    let kw = format!("timeout {which}");
    let http = http::TIMEOUTS.iter().find(|t| *t == which);
    let Some(i) = TIMEOUTS.iter().position(|(name, _)| name == which) else {
        if let (Some(which), [time]) = (http, rest) {
            parse_time(time).map_err(|m| bad_kw(&kw, m))?;
            ignored_timeout(s, which, c.line);
            return Ok(());
        }
        if http.is_some() {
            let msg = format!("expects one time, e.g. {kw} 10s ({TIME_UNITS})");
            return Err(bad_kw(&kw, msg));
        }
        return Err(bad_kw(
            &kw,
            format!("unknown timeout; accepted: {}", timeout_names()),
        ));
    };
    if TIMEOUTS[i].1 & c.role == 0 {
        return misplaced_keyword(s, &kw, TIMEOUTS[i].1, c.role, c.line);
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
    let mut errors = Vec::new();
    let mut http = Vec::new();
    for word in c.args {
        match word.as_str() {
            "none" if c.args.len() == 1 => empty = false,
            "none" => errors.push(bad("`none` cannot be combined with other conditions")),
            "conn-failure" => {}
            "empty-response" => empty = true,
            w if RETRY_ON_HTTP_ONLY.contains(&w) || w.parse::<u16>().is_ok() => http.push(w),
            w => errors.push(bad(format!(
                "unknown condition '{w}'; accepted: none, conn-failure, empty-response"
            ))),
        }
    }
    if let Some(b) = Bad::all(errors) {
        return Err(b);
    }
    s.retry_empty = Some(empty);
    // HTTP conditions (`all-retryable-errors`, status codes) retry HTTP
    // requests; HAProxy takes them in mode tcp and does nothing with them.
    // `all-retryable-errors` does not turn on l4lb's empty-response replay:
    // a request replayed is a choice to make, not to inherit.
    s.unignore_slot("retry-on");
    if !http.is_empty() {
        s.ignore(Ignored {
            name: format!("retry-on {}", http.join(" ")),
            slot: Some("retry-on"),
            line: c.line,
            roles: BE,
            why: Why::HttpOnly,
        });
    }
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
        name: "allbackups",
        mask: DEF | BE,
        set: |s, on| s.all_backups = Some(on),
    },
    Opt {
        name: "tcplog",
        mask: DEF | FE,
        set: set_tcplog,
    },
    Opt {
        name: "dontlognull",
        mask: DEF | FE,
        set: |s, on| s.dontlognull = Some(on),
    },
    Opt {
        name: "logasap",
        mask: DEF | FE,
        set: |s, on| s.logasap = Some(on),
    },
    Opt {
        name: "dontlog-normal",
        mask: DEF | FE,
        set: |s, on| s.dontlog_normal = Some(on),
    },
    Opt {
        name: "log-separate-errors",
        mask: DEF | FE,
        set: |s, on| s.log_separate_errors = Some(on),
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

/// `option tcplog` replaces a `log-format` (the last one wins, as in
/// HAProxy); `no option tcplog` turns either off.
fn set_tcplog(s: &mut Settings, on: bool) {
    s.tcplog = Some(on);
    s.log_format = None;
}

/// `option tcpka` is both sides; in a frontend-only or backend-only section
/// the other side is simply never read.
fn set_tcpka(s: &mut Settings, on: bool) {
    s.clitcpka = Some(on);
    s.srvtcpka = Some(on);
}

pub(super) fn option(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    if let [name, arg] = c.args
        && name == "tcplog"
    {
        return super::log_format::option_tcplog_arg(s, arg);
    }
    set_option(s, c, c.args, true)
}

/// `log global` or `log TARGET ...`: added to the inherited ones.
pub(super) fn log(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    s.log.push(parse_proxy_log(c.args).map_err(Bad::each)?);
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
    if let Some(done) = checks::option(s, c, name, rest, on) {
        return done;
    }
    if let Some(done) = ignored_option(s, name, c.line, on) {
        return done;
    }
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
    if let Some(extra) = rest.first() {
        return Err(bad_kw(
            &kw,
            format!("unexpected argument '{extra}': {prefix} {name} takes none"),
        ));
    }
    if opt.mask & c.role == 0 {
        // HAProxy warns and ignores an option where it cannot act.
        s.ignore(Ignored {
            name: kw,
            slot: None,
            line: c.line,
            roles: opt.mask & (FE | BE),
            why: Why::Misplaced,
        });
        return Ok(());
    }
    (opt.set)(s, on);
    if opt.name == "tcplog" {
        s.unignore_slot(LOG_FORMAT_SLOT);
    }
    Ok(())
}

fn option_names() -> String {
    OPTIONS
        .iter()
        .map(|o| o.name)
        .collect::<Vec<_>>()
        .join(", ")
}
