//! HAProxy's stats page as a section: a `listen` or `frontend` in `mode
//! http` (its own line or its defaults') with `stats` lines, which l4lb
//! serves from the supervisor instead of forwarding anything. Here: which
//! sections are one ([`serves_page`]), their `stats` lines (in defaults
//! too), `monitor-uri` and `monitor fail`, the one `http-request` form l4lb
//! honours (`use-service prometheus-exporter if { path P }`), and which
//! other lines such a section may carry. Everything else is refused with
//! the reason.
//!
//! As in HAProxy, every `stats` line enables the page, and a section's own
//! `stats` lines replace the ones of its defaults whole. A section with a
//! `monitor-uri` and nothing to forward to (kubespray's `frontend healthz`)
//! is served the same way without a page: the monitor URI answers, any
//! other request gets the 503 HAProxy gives when there is no backend.

use std::time::Duration;

use super::{Bad, bad, bad_kw, settings_line};
use crate::config::log::system_hostname;
use crate::config::raw::{BE, Mode, Settings, StatsLines, T_CLIENT};
use crate::config::text::{Line, Section};
use crate::config::values::parse_time;
use crate::config::{AdminRule, StatsAdmin, StatsPage};

/// HAProxy's defaults.
const DEFAULT_URI: &str = "/haproxy?stats";
const DEFAULT_REALM: &str = "HAProxy Statistics";
/// Connections at once when the section sets no `maxconn`.
const DEFAULT_MAXCONN: usize = 64;
/// The request head's time limit without `timeout http-request` or
/// `timeout client` (HAProxy has none; a page must not be held forever).
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

const STATS_USAGE: &str = "stats enable|uri PREFIX|realm REALM|auth USER:PASSWORD|refresh TIME|\
     admin if TRUE|LOCALHOST|hide-version|show-version|show-legends|show-node [NAME]|\
     show-desc [TEXT]|scope NAME";

/// A stats page section, read but not yet checked against the others.
#[derive(Debug)]
pub(in crate::config) struct RawPage {
    pub(in crate::config) name: String,
    pub(in crate::config) line: usize,
    /// What the generic keywords wrote (binds, maxconn, timeouts, log).
    pub(in crate::config) settings: Settings,
    stats: StatsLines,
    monitor_uri: Option<String>,
    /// `monitor fail if TRUE` (or `unless FALSE`) in the section.
    monitor_fail: bool,
    prometheus_path: Option<String>,
    timeout_request: Option<Duration>,
    /// `option httplog` written in the section.
    httplog: bool,
    /// It has `stats` lines (its own or its defaults'): the page is served.
    /// Without, only its `monitor-uri` is.
    serves_stats: bool,
    /// The section's `acl` lines so far, for `stats admin if COND`.
    acl_lines: Vec<Vec<String>>,
}

/// Whether a proxy section is a stats page: in mode http (its last `mode`
/// line, else its defaults') with `stats` lines of its own, or inherited
/// ones when it has no server to forward to (a `mode http` defaults with
/// `stats enable` makes pages of its bare listens, while its HTTP proxies
/// are refused as such, not as pages). Or a frontend or listen in mode
/// http with a `monitor-uri` (its own or inherited) and no server to
/// forward to: a monitor without a page (HAProxy ignores `monitor-uri` in
/// a backend).
pub(in crate::config) fn serves_page(lines: &[Line], role: u8, inherited: &Settings) -> bool {
    let mut http = matches!(inherited.mode, Some((Mode::Http, _)));
    let (mut own, mut forwards) = (false, false);
    let mut monitor = inherited.monitor_uri.is_some();
    for l in lines {
        match l.words.as_slice() {
            [kw, mode] if kw == "mode" => http = mode == "http",
            [kw, ..] if kw == "stats" => own = true,
            [kw, ..] if kw == "monitor-uri" => monitor = true,
            [kw, ..] if FORWARDING.contains(&kw.as_str()) => forwards = true,
            _ => {}
        }
    }
    let inherits_page = inherited.stats.is_some() || (monitor && role != BE);
    http && (own || (inherits_page && !forwards))
}

/// Keywords about servers, which a stats page has none of.
const NO_SERVER: &[&str] = &["default-server", "balance", "hash-type", "tcp-check"];

/// Keywords that send traffic somewhere, which a stats page refuses.
const FORWARDING: &[&str] = &["server", "default_backend", "use_backend"];

/// A defaults section's `stats` or `monitor-uri` line (`monitor` is refused
/// there, as HAProxy refuses it).
pub(in crate::config) fn defaults_line(s: &mut Settings, l: &Line) -> Result<(), Bad> {
    match l.words[0].as_str() {
        "monitor-uri" => {
            s.monitor_uri = Some(monitor_uri(&l.words[1..])?);
            return Ok(());
        }
        "monitor" => {
            return Err(bad(
                "not allowed in a defaults section (as HAProxy); write it in the frontend or \
                 listen that has the monitor-uri",
            ));
        }
        _ => {}
    }
    let stats = s.stats.get_or_insert_with(StatsLines::default);
    stats_line(stats, &l.words[1..], true)
}

/// An error of a stats page section: line, keyword, message.
pub(in crate::config) type PageError = (usize, String, String);

fn at(l: &Line, b: Bad) -> PageError {
    let keyword = b.keyword.unwrap_or_else(|| l.words[0].clone());
    (l.line, keyword, b.msg)
}

/// Reads a stats page section (`serves_page` said it is one). Every bad
/// line is returned with its complaint.
pub(in crate::config) fn page(
    s: &Section,
    role: u8,
    name: &str,
    inherited: &Settings,
) -> Result<RawPage, Vec<PageError>> {
    if role == BE {
        let msg = format!(
            "backend '{name}' is in mode http with stats lines: a backend's stats page is \
             reached through HTTP routing, which l4lb (a TCP balancer) does not have; serve \
             the page from a listen or frontend section with a bind"
        );
        return Err(vec![(s.line, "backend".into(), msg)]);
    }
    let mut page = RawPage {
        name: name.to_string(),
        line: s.line,
        settings: inherited.clone(),
        stats: inherited.stats.clone().unwrap_or_default(),
        monitor_uri: inherited.monitor_uri.clone(),
        monitor_fail: false,
        prometheus_path: None,
        timeout_request: None,
        httplog: false,
        serves_stats: inherited.stats.is_some(),
        acl_lines: Vec::new(),
    };
    let mut own_stats = false;
    let mut errors = Vec::new();
    for l in &s.lines {
        if l.words[0] == "stats" && !own_stats {
            own_stats = true;
            page.serves_stats = true;
            page.stats = StatsLines::default();
        }
        if let Err(b) = page.line(role, l) {
            errors.push(at(l, b));
        }
    }
    if page.settings.binds.is_empty() {
        let kind = crate::config::raw::role_name(role);
        let msg = format!("stats page '{name}' has no bind; add one: bind ADDR:PORT");
        errors.push((s.line, kind.into(), msg));
    }
    if errors.is_empty() {
        Ok(page)
    } else {
        Err(errors)
    }
}

impl RawPage {
    fn line(&mut self, role: u8, l: &Line) -> Result<(), Bad> {
        let args = &l.words[1..];
        match l.words[0].as_str() {
            "acl" => {
                let mut table = crate::rules::AclTable::default();
                let words: Vec<&str> = args.iter().map(String::as_str).collect();
                let Some((name, rest)) = words.split_first() else {
                    return Err(bad("expects: acl NAME FETCH [FLAGS] [VALUE...]"));
                };
                table.add(name, rest).map_err(bad)?;
                self.acl_lines.push(args.to_vec());
                Ok(())
            }
            "stats" if args.first().is_some_and(|a| a == "admin") => {
                let admin = admin(&self.acl_lines, &args[1..]);
                self.stats.admin = Some(admin.map_err(|m| bad_kw("stats admin", m))?);
                Ok(())
            }
            "stats" => stats_line(&mut self.stats, args, false),
            "monitor-uri" => {
                self.monitor_uri = Some(monitor_uri(args)?);
                Ok(())
            }
            "monitor" => {
                self.monitor_fail |= monitor_fail(args)?;
                Ok(())
            }
            "http-request" => {
                self.prometheus_path = Some(prometheus_path(args)?);
                Ok(())
            }
            "timeout" if args.first().is_some_and(|w| w == "http-request") => {
                let [_, time] = args else {
                    return Err(bad_kw("timeout http-request", "expects one time, e.g. 10s"));
                };
                let d = parse_time(time).map_err(|m| bad_kw("timeout http-request", m))?;
                self.timeout_request = Some(d).filter(|d| !d.is_zero());
                Ok(())
            }
            "timeout" if args.first().is_some_and(|w| w == "http-keep-alive") => {
                // One request per connection: there is no keep-alive to time.
                parse_time(args.get(1).map_or("", String::as_str))
                    .map(drop)
                    .map_err(|m| bad_kw("timeout http-keep-alive", m))
            }
            "option" if args.first().is_some_and(|o| o == "httplog") => {
                self.httplog = true;
                Ok(())
            }
            "option" | "no" => page_option(&mut self.settings, role, l),
            kw if FORWARDING.contains(&kw) || NO_SERVER.contains(&kw) => Err(bad(format!(
                "stats page '{}' serves only the page: l4lb does not forward HTTP, so {kw} \
                 has nothing to do here; put servers in a mode tcp section",
                self.name
            ))),
            _ => settings_line(&mut self.settings, role, l),
        }
    }

    /// What the page's logging lines do not do: l4lb logs connections
    /// of TCP frontends, not the page's requests.
    pub(in crate::config) fn warning(&self) -> Option<String> {
        (self.httplog || self.settings.log_line.is_some_and(|l| l > self.line)).then(|| {
            format!(
                "stats page {}: its requests are not logged (l4lb logs TCP connections of \
                 frontends); its option httplog and log lines are unused",
                self.name
            )
        })
    }

    /// The checked page; `global_maxconn` caps its `maxconn`.
    pub(in crate::config) fn build(&self, global_maxconn: usize) -> StatsPage {
        let st = &self.stats;
        let s = &self.settings;
        let scope = st
            .scope
            .iter()
            .map(|n| {
                if n == "." {
                    self.name.clone()
                } else {
                    n.clone()
                }
            })
            .collect();
        StatsPage {
            name: self.name.clone(),
            binds: s.binds.iter().filter_map(|(b, _)| b.inet()).collect(),
            stats: self.serves_stats,
            uri: st.uri.clone().unwrap_or_else(|| DEFAULT_URI.into()),
            realm: st.realm.clone().unwrap_or_else(|| DEFAULT_REALM.into()),
            auth: st.auth.clone(),
            refresh: st.refresh,
            admin: st.admin.clone(),
            show_version: st.show_version,
            show_legends: st.show_legends,
            node: st.node.clone().map(|n| n.unwrap_or_else(system_hostname)),
            desc: st
                .desc
                .clone()
                .map(|d| d.or_else(|| s.description.clone()).unwrap_or_default()),
            scope,
            monitor_uri: self.monitor_uri.clone(),
            monitor_fail: self.monitor_fail,
            prometheus_path: self.prometheus_path.clone(),
            maxconn: s.maxconn.unwrap_or(DEFAULT_MAXCONN).min(global_maxconn),
            timeout_request: self
                .timeout_request
                .or(s.timeout(T_CLIENT))
                .unwrap_or(DEFAULT_REQUEST_TIMEOUT),
        }
    }
}

/// Options a stats page may carry: the HTTP ones that only concern
/// forwarding or logging, which a page with no server has no use for
/// (HAProxy would not use them there either); the others as anywhere.
fn page_option(s: &mut Settings, role: u8, l: &Line) -> Result<(), Bad> {
    const HARMLESS: &[&str] = &[
        "httplog",
        "http-server-close",
        "httpclose",
        "http-keep-alive",
        "forwardfor",
        "dontlognull",
        "dontlog-normal",
    ];
    let name = match l.words.as_slice() {
        [o, name, ..] if o == "option" => name,
        [no, o, name, ..] if no == "no" && o == "option" => name,
        _ => return settings_line(s, role, l),
    };
    if HARMLESS.contains(&name.as_str()) {
        return Ok(());
    }
    settings_line(s, role, l)
}

/// One `stats` line (the words after `stats`).
fn stats_line(st: &mut StatsLines, args: &[String], in_defaults: bool) -> Result<(), Bad> {
    let Some((sub, rest)) = args.split_first() else {
        return Err(bad(format!("expects: {STATS_USAGE}")));
    };
    let kw = format!("stats {sub}");
    let one = || match rest {
        [v] => Ok(v.clone()),
        _ => Err(bad_kw(&kw, format!("expects one value: {kw} VALUE"))),
    };
    let none = || match rest {
        [] => Ok(()),
        _ => Err(bad_kw(&kw, format!("takes no argument: {kw}"))),
    };
    match sub.as_str() {
        "enable" => none()?,
        "uri" => {
            let uri = one()?;
            if !uri.starts_with('/') {
                return Err(bad_kw(&kw, "expects a URI prefix starting with '/'"));
            }
            st.uri = Some(uri);
        }
        "realm" => st.realm = Some(one()?),
        "auth" => {
            let v = one()?;
            let Some((user, pass)) = v.split_once(':').filter(|(u, _)| !u.is_empty()) else {
                return Err(bad_kw(&kw, "expects USER:PASSWORD"));
            };
            st.auth.push((user.into(), pass.into()));
        }
        "refresh" => st.refresh = Some(refresh(&one()?).map_err(|m| bad_kw(&kw, m))?),
        "admin" if in_defaults => {
            return Err(bad_kw(
                &kw,
                "not allowed in a defaults section (as HAProxy)",
            ));
        }
        "admin" => st.admin = Some(admin(&[], rest).map_err(|m| bad_kw(&kw, m))?),
        "hide-version" => {
            none()?;
            st.show_version = false;
        }
        "show-version" => {
            none()?;
            st.show_version = true;
        }
        "show-legends" => {
            none()?;
            st.show_legends = true;
        }
        "show-node" => st.node = Some(optional(rest, &kw)?),
        "show-desc" => st.desc = Some((!rest.is_empty()).then(|| rest.join(" "))),
        "scope" => st.scope.push(one()?),
        "http-request" => {
            return Err(bad_kw(
                &kw,
                "needs ACLs, which l4lb does not have yet; use stats auth for access control",
            ));
        }
        "show-modules" => {
            return Err(bad_kw(&kw, "l4lb has no extra statistics modules to show"));
        }
        "socket" | "timeout" | "maxconn" | "http" | "bind-process" => {
            return Err(bad_kw(&kw, "accepted only in the global section"));
        }
        _ => {
            return Err(bad_kw(
                &kw,
                format!("unknown stats keyword; expects: {STATS_USAGE}"),
            ));
        }
    }
    Ok(())
}

fn optional(rest: &[String], kw: &str) -> Result<Option<String>, Bad> {
    match rest {
        [] => Ok(None),
        [v] => Ok(Some(v.clone())),
        _ => Err(bad_kw(
            kw,
            format!("expects at most one value: {kw} [NAME]"),
        )),
    }
}

/// `stats refresh`: HAProxy reads a bare number as seconds.
fn refresh(text: &str) -> Result<Duration, String> {
    let d = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("'{text}' is too large"))?
    } else {
        parse_time(text)?
    };
    if d < Duration::from_secs(1) {
        return Err("must be at least 1s (the page refreshes in whole seconds)".into());
    }
    Ok(d)
}

/// `stats admin if TRUE|LOCALHOST`, the two conditions known without the
/// section's ACLs; any other is read by [`AdminRule::parse`].
fn admin(acls: &[Vec<String>], rest: &[String]) -> Result<StatsAdmin, String> {
    let cond: Vec<&str> = rest.iter().map(String::as_str).collect();
    match cond.as_slice() {
        ["if", "TRUE"] => Ok(StatsAdmin::Always),
        ["if", "LOCALHOST"] => Ok(StatsAdmin::Localhost),
        ["if" | "unless", ..] => AdminRule::parse(acls, rest).map(StatsAdmin::If),
        _ => Err("requires 'if' or 'unless' followed by a condition: stats admin if COND".into()),
    }
}

fn monitor_uri(args: &[String]) -> Result<String, Bad> {
    match args {
        [uri] if uri.starts_with('/') => Ok(uri.clone()),
        _ => Err(bad("expects: monitor-uri /URI")),
    }
}

/// `monitor fail if|unless COND`: whether the monitor URI fails (503).
/// HAProxy's condition is an ACL; l4lb has none yet, so only HAProxy's
/// predefined constant ones are read, `TRUE` and `FALSE` (an operator's
/// switch: `monitor fail if TRUE` takes the node out of a balancer's
/// pool). Any other condition is refused, never taken as always true or
/// false: a monitor that lies is worse than none.
fn monitor_fail(args: &[String]) -> Result<bool, Bad> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["fail", "if", "TRUE"] | ["fail", "unless", "FALSE"] => Ok(true),
        ["fail", "if", "FALSE"] | ["fail", "unless", "TRUE"] => Ok(false),
        ["fail", "if" | "unless", cond @ ..] if !cond.is_empty() => Err(bad_kw(
            "monitor fail",
            format!(
                "condition '{}' needs ACLs, which l4lb does not have yet; accepted: \
                 monitor fail if TRUE|FALSE (or unless)",
                cond.join(" ")
            ),
        )),
        _ => Err(bad("expects: monitor fail if|unless CONDITION")),
    }
}

/// `http-request use-service prometheus-exporter if { path /P }`, the
/// common form that serves HAProxy's Prometheus exporter next to the page.
fn prometheus_path(args: &[String]) -> Result<String, Bad> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [
            "use-service",
            "prometheus-exporter",
            "if",
            "{",
            "path",
            p,
            "}",
        ] if p.starts_with('/') => Ok((*p).to_string()),
        _ => Err(bad(
            "l4lb does not process HTTP requests; a stats page accepts only \
             http-request use-service prometheus-exporter if { path /PATH }",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_reads_bare_numbers_as_seconds() {
        assert_eq!(refresh("5"), Ok(Duration::from_secs(5)));
        assert_eq!(refresh("2m"), Ok(Duration::from_secs(120)));
        assert!(refresh("500ms").is_err());
    }

    #[test]
    fn admin_takes_any_condition_over_the_client_address() {
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(admin(&[], &w("if TRUE")), Ok(StatsAdmin::Always));
        assert_eq!(admin(&[], &w("if LOCALHOST")), Ok(StatsAdmin::Localhost));
        let Ok(StatsAdmin::If(rule)) = admin(&[], &w("if { src 10.0.0.0/8 } !{ src 10.9.0.0/16 }"))
        else {
            panic!("a condition")
        };
        assert!(rule.allows(Some("10.1.2.3:5000".parse().unwrap())));
        assert!(!rule.allows(Some("10.9.2.3:5000".parse().unwrap())));
        assert!(!rule.allows(None));
        let acls = [w("ops src 192.0.2.0/24")];
        let Ok(StatsAdmin::If(rule)) = admin(&acls, &w("unless ops")) else {
            panic!("a condition")
        };
        assert!(!rule.allows(Some("192.0.2.9:1".parse().unwrap())));
        assert!(
            admin(&[], &w("if nosuch"))
                .unwrap_err()
                .contains("no such ACL")
        );
        assert!(
            admin(&[], &w("if { req.len gt 0 }"))
                .unwrap_err()
                .contains("address")
        );
        assert!(
            admin(&[], &w("TRUE"))
                .unwrap_err()
                .contains("requires 'if'")
        );
    }

    #[test]
    fn monitor_fail_knows_true_and_false_only() {
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(monitor_fail(&w("fail if TRUE")).unwrap());
        assert!(monitor_fail(&w("fail unless FALSE")).unwrap());
        assert!(!monitor_fail(&w("fail if FALSE")).unwrap());
        assert!(!monitor_fail(&w("fail unless TRUE")).unwrap());
        let e = monitor_fail(&w("fail if { nbsrv(be) lt 1 }")).unwrap_err();
        assert!(e.msg.contains("needs ACLs"), "{}", e.msg);
        assert!(monitor_fail(&w("fail if")).is_err());
        assert!(monitor_fail(&w("net 10.0.0.0/8")).is_err());
    }
}
