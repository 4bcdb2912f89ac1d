//! The global section's keywords: threads, limits and buffers, logging
//! (`log`, `log-tag`, `log-send-hostname`), and the runtime API and metrics
//! (`stats socket|timeout|maxconn|http`); the process keywords (`daemon`,
//! `user`, `chroot`...) are in `process`.

use super::super::log::parse_log;
use super::super::raw::{Global, accepted_in};
use super::super::values::{number, parse_time};
use super::super::{ApiLevel, MAX_THREADS, StatsSocket};
use super::process::{PROCESS_KEYWORDS, process_line};
use super::refused::{GLOBAL_HTTP_ONLY, GLOBAL_NOT_YET, TUNE_HTTP_PREFIXES, http_only, not_yet};
use super::{Bad, KEYWORDS, bad, bad_kw};

const MIN_BUFSIZE: usize = 1024;
/// A pipe is at least one page; larger pipes are capped by the kernel's
/// `fs.pipe-max-size`, which only the running system can check.
const MIN_PIPESIZE: usize = 4096;
const MAX_SIZE: usize = 1 << 30;

/// A global keyword taking one value: its usage and its parser.
pub(super) struct GlobalKeyword {
    pub(super) name: &'static str,
    usage: &'static str,
    parse: fn(&mut Global, &str) -> Result<(), String>,
}

pub(super) const GLOBAL_KEYWORDS: &[GlobalKeyword] = &[
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

pub(in crate::config) fn global_line(g: &mut Global, words: &[String]) -> Result<(), Bad> {
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
    if let Some(done) = process_line(g, kw, &words[1..]) {
        return done;
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
        ("log", _) => parse_log(args).map(|t| g.log.push(t)).map_err(Bad::each),
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
            let socket = stats_socket(path, opts).map_err(|msgs| {
                let bads = msgs.into_iter().map(|m| bad_kw(&kw(sub), m)).collect();
                Bad::all(bads).unwrap_or_else(|| bad("invalid line"))
            })?;
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
                    "stats socket PATH [mode OCTAL] [level user|operator|admin] [user NAME|uid N] [group NAME|gid N] [expose-fd listeners]"
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

/// HAProxy's `-S PATH[,OPTION,VALUE...]` (its master CLI: a bind line with
/// commas for spaces, level admin): a stats socket for l4lb, which has no
/// master process of its own. `unix@` before the path is accepted.
pub(in crate::config) fn master_socket(spec: &str) -> Result<StatsSocket, Vec<String>> {
    let mut words = spec.split(',').filter(|w| !w.is_empty());
    let path = words.next().unwrap_or_default();
    let path = path.strip_prefix("unix@").unwrap_or(path);
    // Admin unless its own `level` says otherwise (read after this one).
    let opts: Vec<String> = ["level", "admin"]
        .into_iter()
        .chain(words)
        .map(String::from)
        .collect();
    stats_socket(path, &opts)
}

/// Err holds every complaint about the line's path and options.
fn stats_socket(path: &str, opts: &[String]) -> Result<StatsSocket, Vec<String>> {
    let mut errors = Vec::new();
    if !path.starts_with('/') {
        errors.push(format!(
            "'{path}': give an absolute path (ipv4@/ipv6@ sockets are not supported)"
        ));
    }
    let mut socket = StatsSocket {
        path: path.into(),
        mode: 0o600,
        level: ApiLevel::Operator,
        uid: None,
        gid: None,
    };
    let mut it = opts.iter();
    while let Some(opt) = it.next() {
        if let Err(m) = stats_socket_option(&mut socket, opt, &mut it) {
            errors.push(m);
        }
    }
    if errors.is_empty() {
        Ok(socket)
    } else {
        Err(errors)
    }
}

/// One option of a `stats socket` line, its value taken from `it`.
fn stats_socket_option(
    socket: &mut StatsSocket,
    opt: &str,
    it: &mut std::slice::Iter<'_, String>,
) -> Result<(), String> {
    let mut value = || it.next().ok_or(format!("{opt} expects a value"));
    match opt {
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
        o @ ("user" | "uid") => socket.uid = Some(super::process::uid_of(o, value()?)?),
        o @ ("group" | "gid") => socket.gid = Some(super::process::gid_of(o, value()?)?),
        o @ ("process" | "thread") => {
            // Their value is skipped, so the options after it are read.
            let _ = value();
            return Err(format!("option '{o}' is not implemented yet in l4lb"));
        }
        o => {
            return Err(format!(
                "unknown option '{o}'; accepted: mode, level, user, uid, group, gid, expose-fd"
            ));
        }
    }
    Ok(())
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
    known.extend(["log", "log-tag", "log-send-hostname", "stats"]);
    known.extend(PROCESS_KEYWORDS);
    bad(format!(
        "unknown keyword; accepted in global: {}",
        known.join(", ")
    ))
}
