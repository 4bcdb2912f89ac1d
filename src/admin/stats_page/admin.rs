//! `stats admin`: the page's form that sets servers ready, drain or maint
//! (or kills their sessions), posted as HAProxy's page posts it
//! (`s=SERVER&...&action=ACTION&b=BACKEND`) and answered as HAProxy does:
//! a 303 back to the page with `;st=DONE|PART|NONE|DENY|ERRP|UNKN`. Each
//! change goes through the runtime API's own command, so the page and
//! `set server` never differ.

use std::net::{IpAddr, SocketAddr};

use super::View;
use crate::admin::api::Runtime;
use crate::admin::api::commands::{Answer, execute};
use crate::admin::http::{Request, TEXT, response};
use crate::config::{ApiLevel, StatsAdmin, StatsPage};

/// The actions the form offers: (form value, label, API state word).
pub(super) const ACTIONS: &[(&str, &str, &str)] = &[
    ("ready", "Set state to READY", "ready"),
    ("drain", "Set state to DRAIN", "drain"),
    ("maint", "Set state to MAINT", "maint"),
    ("shutdown", "Kill sessions", ""),
];

/// Whether a client at `peer` gets the admin level (`stats admin if ...`).
pub(super) fn allowed(page: &StatsPage, peer: Option<SocketAddr>) -> bool {
    match &page.admin {
        None => false,
        Some(StatsAdmin::Always) => true,
        Some(StatsAdmin::Localhost) => peer.is_some_and(|p| is_localhost(p.ip())),
        Some(StatsAdmin::If(rule)) => rule.allows(peer),
    }
}

/// HAProxy's LOCALHOST ACL: `src 127.0.0.1/8 ::1`.
fn is_localhost(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// A POST of the admin form: runs it and redirects to the page with its
/// outcome.
pub(super) fn post(
    page: &StatsPage,
    req: &Request<'_>,
    view: &View,
    rt: &mut dyn Runtime,
) -> Vec<u8> {
    let status = if !view.admin || cross_site(req) {
        "DENY"
    } else {
        apply(page, &Form::parse(req.body), rt)
    };
    let location = format!("{}{};st={status}", page.uri, view.suffix());
    let extra = format!("Location: {location}\r\n");
    response("303 See Other", TEXT, b"", true, &extra)
}

/// HAProxy's CSRF check: an `Origin` (else `Referer`) naming another host
/// than `Host` is refused.
fn cross_site(req: &Request<'_>) -> bool {
    let Some(from) = req.header("origin").or_else(|| req.header("referer")) else {
        return false;
    };
    let host = from.split_once("://").map_or(from, |(_, rest)| rest);
    let host = host.split('/').next().unwrap_or_default();
    req.header("host")
        .is_none_or(|h| !h.eq_ignore_ascii_case(host))
}

/// The form's fields.
#[derive(Debug, Default, PartialEq, Eq)]
struct Form {
    backend: Option<String>,
    action: Option<String>,
    servers: Vec<String>,
}

impl Form {
    fn parse(body: &[u8]) -> Form {
        let mut f = Form::default();
        let text = String::from_utf8_lossy(body);
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = url_decode(v);
            match k {
                "b" => f.backend = Some(v),
                "action" => f.action = Some(v),
                "s" => f.servers.push(v),
                _ => {}
            }
        }
        f
    }
}

/// Runs the form: HAProxy's status word for the outcome.
fn apply(page: &StatsPage, form: &Form, rt: &mut dyn Runtime) -> &'static str {
    let (Some(backend), Some(action)) = (&form.backend, &form.action) else {
        return "ERRP";
    };
    let Some(&(_, _, state)) = ACTIONS.iter().find(|(a, _, _)| a == action) else {
        return "ERRP";
    };
    if !page.scope.is_empty() && !page.scope.contains(backend) {
        return "DENY";
    }
    if rt.shared().backend_index(backend).is_none() {
        return "UNKN";
    }
    if form.servers.is_empty() {
        return "NONE";
    }
    let mut done = 0;
    for server in &form.servers {
        let target = format!("{backend}/{server}");
        let ok = if state.is_empty() {
            kill_sessions(rt, backend, server)
        } else {
            let cmd = format!("set server {target} state {state}");
            matches!(execute(&cmd, ApiLevel::Admin, rt), Answer::Now(t) if t.is_empty())
        };
        if ok {
            done += 1;
            log::info!("stats page {}: {action} {target}", page.name);
        }
    }
    match done {
        0 => "UNKN",
        n if n == form.servers.len() => "DONE",
        _ => "PART",
    }
}

fn kill_sessions(rt: &mut dyn Runtime, backend: &str, server: &str) -> bool {
    let shared = rt.shared();
    match shared.find_server(backend, server) {
        Some((_, s)) => {
            let s = std::sync::Arc::clone(s);
            rt.shutdown_sessions(&s);
            true
        }
        None => false,
    }
}

/// `application/x-www-form-urlencoded` value decoding.
fn url_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_is_read_as_haproxys_page_posts_it() {
        let f = Form::parse(b"s=web1&s=web%202&action=drain&b=app+be");
        assert_eq!(f.servers, ["web1", "web 2"]);
        assert_eq!(
            (f.action.as_deref(), f.backend.as_deref()),
            (Some("drain"), Some("app be"))
        );
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(url_decode("%4"), "%4");
    }

    #[test]
    fn localhost_is_haproxys() {
        for (ip, local) in [
            ("127.0.0.1", true),
            ("127.3.2.1", true),
            ("::1", true),
            ("::ffff:127.0.0.1", true),
            ("10.0.0.1", false),
            ("::2", false),
        ] {
            assert_eq!(is_localhost(ip.parse().unwrap()), local, "{ip}");
        }
    }
}
