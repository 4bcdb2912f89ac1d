//! The HTTP-only settings HAProxy accepts in a mode tcp proxy and then
//! ignores (with a warning, or silently): keywords, options, timeouts and
//! server options, read here into the section's `ignored` list, which
//! `config::ignored` turns into one warning per setting. The HTTP-only
//! settings HAProxy refuses stay errors, in `refused`.

use super::super::raw::{BE, FE, Ignored, Settings, Why};
use super::{Bad, bad, bad_kw};
use crate::config::text::Line;

/// HTTP rules HAProxy refuses in a `defaults` section without a name.
pub(in crate::config) const ANONYMOUS_DEFAULTS_REFUSED: &[&str] =
    &["http-request", "http-response", "http-after-response"];

/// A proxy keyword HAProxy ignores in mode tcp.
struct IgnoredKeyword {
    name: &'static str,
    /// Where it would act: an own line elsewhere is warned about as
    /// misplaced, an inherited one is silently unused.
    roles: u8,
    why: Why,
    /// A later line replaces an earlier one (else each line adds one).
    replaces: bool,
}

const fn kw(name: &'static str, roles: u8, why: Why, replaces: bool) -> IgnoredKeyword {
    IgnoredKeyword {
        name,
        roles,
        why,
        replaces,
    }
}

const RULE: Why = Why::HttpRule;
const HTTP: Why = Why::HttpOnly;

const KEYWORDS: &[IgnoredKeyword] = &[
    kw("http-request", FE | BE, RULE, false),
    kw("http-response", FE | BE, RULE, false),
    kw("http-after-response", FE | BE, RULE, false),
    kw("redirect", FE | BE, RULE, false),
    kw("http-reuse", BE, HTTP, true),
    kw("http-error", FE | BE, HTTP, false),
    kw("http-send-name-header", BE, HTTP, true),
    kw("errorfile", FE | BE, HTTP, false),
    kw("errorfiles", FE | BE, HTTP, false),
    kw("errorloc", FE | BE, HTTP, false),
    kw("errorloc302", FE | BE, HTTP, false),
    kw("errorloc303", FE | BE, HTTP, false),
    kw("cookie", BE, HTTP, true),
    kw("capture", FE, HTTP, false),
    kw("declare", FE, HTTP, false),
    kw("compression", FE | BE, HTTP, false),
    kw("monitor-uri", FE, HTTP, true),
    // A stats page is a mode http section (`stats_page`); in a mode tcp
    // proxy HAProxy warns that its `stats` lines are ignored.
    kw("stats", FE | BE, HTTP, false),
    kw("monitor", FE, HTTP, false),
    kw("unique-id-header", FE, HTTP, true),
    kw("max-keep-alive-queue", BE, HTTP, true),
];

/// A line whose keyword HAProxy ignores in mode tcp, recorded in `s`;
/// None when the keyword is not one of them. Its words are not checked
/// further: what they would do never happens.
pub(super) fn ignored_keyword(s: &mut Settings, l: &Line) -> Option<Result<(), Bad>> {
    let name = l.words[0].as_str();
    let k = KEYWORDS.iter().find(|k| k.name == name)?;
    if l.words.len() < 2 {
        return Some(Err(bad(format!("expects arguments: {name} ..."))));
    }
    s.ignore(Ignored {
        name: name.to_string(),
        slot: k.replaces.then_some(k.name),
        line: l.line,
        roles: k.roles,
        why: k.why,
    });
    Some(Ok(()))
}

/// The slot of `option tcplog`, `httplog` and `httpslog`: one log format.
pub(super) const LOG_FORMAT_SLOT: &str = "log format";
/// `option httpclose`, `http-server-close` and `http-keep-alive` override
/// each other in HAProxy.
const CONNECTION_MODE_SLOT: &str = "http connection mode";

/// An option HAProxy ignores in mode tcp, and where it would act.
const OPTIONS: &[(&str, u8)] = &[
    ("httplog", FE),
    ("httpslog", FE),
    ("forwardfor", FE | BE),
    ("originalto", FE | BE),
    ("forwarded", BE),
    ("http-server-close", FE | BE),
    ("httpclose", FE | BE),
    ("http-keep-alive", FE | BE),
    ("http-buffer-request", FE | BE),
    ("http-pretend-keepalive", BE),
    ("http-use-proxy-header", FE),
    ("http-no-delay", FE | BE),
    ("http-ignore-probes", FE),
    ("http-restrict-req-hdr-names", FE | BE),
    ("http-drop-request-trailers", BE),
    ("http-drop-response-trailers", FE),
    ("accept-invalid-http-request", FE),
    ("accept-invalid-http-response", BE),
    ("accept-unsafe-violations-in-http-request", FE),
    ("accept-unsafe-violations-in-http-response", BE),
    ("h1-case-adjust-bogus-client", FE),
    ("h1-case-adjust-bogus-server", BE),
    ("checkcache", BE),
    ("disable-h2-upgrade", FE),
    ("prefer-last-server", BE),
    ("idle-close-on-response", FE),
];

/// `[no] option NAME ...` for an option HAProxy ignores in mode tcp; None
/// when NAME is not one. `option httplog` also turns on the TCP log, as
/// HAProxy falls back to `option tcplog`.
pub(super) fn ignored_option(
    s: &mut Settings,
    name: &str,
    line: usize,
    on: bool,
) -> Option<Result<(), Bad>> {
    let &(name, roles) = OPTIONS.iter().find(|(n, _)| *n == name)?;
    let label = format!("option {name}");
    let log = name == "httplog" || name == "httpslog";
    if !on {
        if log {
            let msg = format!("negation is not supported for option {name} (nor by HAProxy)");
            return Some(Err(bad_kw(&format!("no {label}"), msg)));
        }
        s.ignored.retain(|e| e.name != label);
        return Some(Ok(()));
    }
    let slot = match name {
        _ if log => LOG_FORMAT_SLOT,
        "httpclose" | "http-server-close" | "http-keep-alive" => CONNECTION_MODE_SLOT,
        _ => name,
    };
    if log {
        // The last of the log lines wins, a `log-format` above included.
        s.tcplog = Some(true);
        s.log_format = None;
    }
    s.ignore(Ignored {
        name: label,
        slot: Some(slot),
        line,
        roles,
        why: if log { Why::HttpLog } else { Why::HttpOnly },
    });
    Some(Ok(()))
}

/// HAProxy's timeouts of HTTP requests, which never start in mode tcp.
pub(super) const TIMEOUTS: &[&str] = &["http-request", "http-keep-alive", "tarpit"];

/// `timeout http-request T` and the like, their time already checked.
pub(super) fn ignored_timeout(s: &mut Settings, which: &'static str, line: usize) {
    s.ignore(Ignored {
        name: format!("timeout {which}"),
        slot: Some(which),
        line,
        roles: FE | BE,
        why: Why::HttpOnly,
    });
}

/// Server options HAProxy accepts and leaves unused in mode tcp; each
/// takes one value.
pub(super) const SERVER_OPTIONS: &[&str] = &[
    "cookie",
    "pool-max-conn",
    "pool-purge-delay",
    "pool-low-conn",
    "max-reuse",
];
