//! The `log` line: `log TARGET [len N] [format F] FACILITY [LEVEL [MINLEVEL]]`,
//! as HAProxy writes it, parsed into a [`LogTarget`]. Pure: no section
//! context, and every error says what is accepted instead.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::values::number;
use super::{LogDest, LogFormat, LogTarget};

/// Syslog's port, for a target written without one.
const SYSLOG_PORT: u16 = 514;
/// HAProxy's default and bounds for `len`.
pub(super) const DEFAULT_LOG_LEN: usize = 1024;
const LOG_LEN: std::ops::RangeInclusive<usize> = 80..=65535;

/// The 24 syslog facilities, by code (RFC 5424 section 6.2.1, HAProxy's names).
pub(super) const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
    "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// The 8 severities, by code.
pub(super) const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

const FORMATS: [(&str, LogFormat); 8] = [
    ("raw", LogFormat::Raw),
    ("short", LogFormat::Short),
    ("priority", LogFormat::Priority),
    ("local", LogFormat::Local),
    ("rfc3164", LogFormat::Rfc3164),
    ("rfc5424", LogFormat::Rfc5424),
    ("timed", LogFormat::Timed),
    ("iso", LogFormat::Iso),
];

pub(super) const LOG_USAGE: &str =
    "log global | log TARGET [len N] [format FORMAT] FACILITY [LEVEL [MINLEVEL]]";

/// What a proxy's `log` line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LogSpec {
    /// `log global`: the global section's targets.
    Global,
    Target(LogTarget),
}

/// The words after `log` in a proxy section.
pub(super) fn parse_proxy_log(args: &[String]) -> Result<LogSpec, Vec<String>> {
    match args {
        [g] if g == "global" => Ok(LogSpec::Global),
        [g, extra, ..] if g == "global" => Err(vec![format!(
            "unexpected '{extra}': log global takes nothing after it"
        )]),
        _ => parse_log(args).map(LogSpec::Target),
    }
}

/// The words after `log` in the global section (or a proxy's, past
/// `global`). Err holds every complaint about the line, not just the first.
pub(super) fn parse_log(args: &[String]) -> Result<LogTarget, Vec<String>> {
    let [target, rest @ ..] = args else {
        return Err(vec![format!("expects: {LOG_USAGE}")]);
    };
    let mut errors = Vec::new();
    let dest = parse_dest(target).map_err(|m| errors.push(m)).ok();
    let mut format = LogFormat::Rfc3164;
    let mut maxlen = DEFAULT_LOG_LEN;
    let Some(rest) = log_options(rest, &mut format, &mut maxlen, &mut errors) else {
        return Err(errors);
    };
    let (facility, level, minlevel) = match rest {
        [f] => (f, None, None),
        [f, l] => (f, Some(l), None),
        [f, l, m] => (f, Some(l), Some(m)),
        [] => {
            errors.push(format!(
                "needs a facility ({}): {LOG_USAGE}",
                FACILITIES.join(", ")
            ));
            return Err(errors);
        }
        [_, _, _, extra, ..] => {
            errors.push(format!(
                "unexpected '{extra}' after the levels: {LOG_USAGE}"
            ));
            return Err(errors);
        }
    };
    let mut find = |names: &[&str], word: Option<&String>, what: &str, default: u8| {
        word.map_or(Some(default), |w| {
            lookup(names, w, what).map_err(|m| errors.push(m)).ok()
        })
    };
    let facility = find(&FACILITIES, Some(facility), "facility", 0);
    let level = find(&LEVELS, level, "level", 7);
    let minlevel = find(&LEVELS, minlevel, "level", 0);
    match (dest, facility, level, minlevel) {
        (Some(dest), Some(facility), Some(level), Some(minlevel)) if errors.is_empty() => {
            Ok(LogTarget {
                dest,
                format,
                maxlen,
                facility,
                level,
                minlevel,
            })
        }
        _ => Err(errors),
    }
}

/// Reads `len N` and `format F` before the facility; returns the words
/// after them, or None when the rest of the line cannot be read.
fn log_options<'a>(
    mut rest: &'a [String],
    format: &mut LogFormat,
    maxlen: &mut usize,
    errors: &mut Vec<String>,
) -> Option<&'a [String]> {
    loop {
        match rest {
            [kw, v, more @ ..] if kw == "len" => {
                match number(v, LOG_LEN) {
                    Ok(n) => *maxlen = n,
                    Err(m) => errors.push(format!("len: {m}")),
                }
                rest = more;
            }
            [kw, v, more @ ..] if kw == "format" => {
                match parse_format(v) {
                    Ok(f) => *format = f,
                    Err(m) => errors.push(m),
                }
                rest = more;
            }
            [kw, ..] if kw == "sample" => {
                errors.push("log sampling (`sample`) is not implemented yet in l4lb".to_string());
                return None;
            }
            [kw] if kw == "len" || kw == "format" => {
                errors.push(format!("'{kw}' expects a value: {LOG_USAGE}"));
                return None;
            }
            _ => return Some(rest),
        }
    }
}

fn lookup(names: &[&str], word: &str, what: &str) -> Result<u8, String> {
    names
        .iter()
        .position(|n| *n == word)
        .map(|i| i as u8)
        .ok_or_else(|| format!("unknown {what} '{word}'; accepted: {}", names.join(", ")))
}

fn parse_format(word: &str) -> Result<LogFormat, String> {
    FORMATS
        .iter()
        .find(|(name, _)| *name == word)
        .map(|(_, f)| *f)
        .ok_or_else(|| {
            let names: Vec<&str> = FORMATS.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown log format '{word}'; accepted: {}",
                names.join(", ")
            )
        })
}

/// `stdout`, `stderr`, `fd@1`, `fd@2`, `/path` or `unix@/path` (a unix
/// datagram socket such as /dev/log), `ADDR[:PORT]` and `udp@` / `udp4@` /
/// `udp6@ADDR[:PORT]` (UDP syslog, port 514 by default).
fn parse_dest(target: &str) -> Result<LogDest, String> {
    match target {
        "stdout" | "fd@1" => return Ok(LogDest::Stdout),
        "stderr" | "fd@2" => return Ok(LogDest::Stderr),
        _ => {}
    }
    if let Some(path) = target.strip_prefix("unix@") {
        return Ok(LogDest::Unix(PathBuf::from(path)));
    }
    if target.starts_with('/') {
        return Ok(LogDest::Unix(PathBuf::from(target)));
    }
    let unsupported = [
        "ring@", "tcp@", "tcp4@", "tcp6@", "fd@", "abns@", "ipv4@", "ipv6@",
    ];
    if let Some(p) = unsupported.iter().find(|p| target.starts_with(*p)) {
        return Err(format!(
            "log target '{p}' is not supported by l4lb; accepted: stdout, stderr, /PATH, ADDR[:PORT], udp@ADDR[:PORT]"
        ));
    }
    let addr = ["udp@", "udp4@", "udp6@"]
        .iter()
        .find_map(|p| target.strip_prefix(p))
        .unwrap_or(target);
    udp_addr(addr).map(LogDest::Udp)
}

/// `IP`, `IP:PORT`, `[IPV6]`, `[IPV6]:PORT` or a bare IPv6 (`::1`).
fn udp_addr(text: &str) -> Result<SocketAddr, String> {
    let bad = || {
        format!(
            "'{text}' is not a log target; accepted: stdout, stderr, /PATH (unix socket), \
             IP[:PORT] or [IPV6][:PORT] (UDP syslog, port {SYSLOG_PORT} by default)"
        )
    };
    if let Ok(ip) = text
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, SYSLOG_PORT));
    }
    let addr: SocketAddr = text.parse().map_err(|_| bad())?;
    if addr.port() == 0 {
        return Err(bad());
    }
    Ok(addr)
}

/// The system's host name, for `log-send-hostname` without a name.
pub fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
