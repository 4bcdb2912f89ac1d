//! Stats page sections: `mode http` listen or frontend sections with
//! `stats` lines, their keywords, what they inherit from defaults, what
//! they refuse; and monitor-only sections (`monitor-uri`, nothing to
//! forward to).

use super::*;

/// BASE (lines 1..=8) then a stats listen from line 9 on, `lines` from 12.
fn with_page(lines: &str) -> String {
    format!("{BASE}listen stats\n mode http\n bind 127.0.0.1:8404\n{lines}\n")
}

#[test]
fn a_stats_listen_is_a_page_not_a_proxy() {
    let c = load(&with_page(
        " stats enable\n stats uri /st\n stats realm Ops\\ Team\n stats auth a:b\n \
         stats auth c:d:e\n stats refresh 5\n stats admin if LOCALHOST\n stats show-legends\n \
         stats show-node edge-1\n stats show-desc Edge\n stats scope .\n stats scope be\n \
         stats show-version\n monitor-uri /health\n \
         http-request use-service prometheus-exporter if { path /metrics }\n \
         timeout client 30s\n timeout http-request 3s\n maxconn 8\n option httplog\n \
         log global\n option http-server-close",
    ));
    assert_eq!(
        (c.frontends.len(), c.backends.len()),
        (1, 1),
        "not a frontend"
    );
    let p = &c.stats_pages[0];
    assert_eq!(
        p,
        &StatsPage {
            name: "stats".into(),
            binds: vec![Bind {
                addr: "127.0.0.1:8404".parse().unwrap(),
                name: None,
                opts: crate::config::BindOpts::default(),
            }],
            stats: true,
            uri: "/st".into(),
            realm: "Ops Team".into(),
            auth: vec![("a".into(), "b".into()), ("c".into(), "d:e".into())],
            refresh: Some(Duration::from_secs(5)),
            admin: Some(StatsAdmin::Localhost),
            show_version: true,
            show_legends: true,
            node: Some("edge-1".into()),
            desc: Some("Edge".into()),
            scope: vec!["stats".into(), "be".into()],
            monitor_uri: Some("/health".into()),
            monitor_fail: false,
            prometheus_path: Some("/metrics".into()),
            maxconn: 8,
            timeout_request: Duration::from_secs(3),
        }
    );
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("stats page stats: its requests are not logged")),
        "{:?}",
        c.warnings
    );
    assert!(
        c.summary()
            .iter()
            .any(|l| l.starts_with("stats page stats: bind 127.0.0.1:8404, uri /st"))
    );
}

#[test]
fn any_stats_line_enables_the_page_with_haproxys_defaults() {
    let c = load(&with_page(" stats realm R"));
    let p = &c.stats_pages[0];
    assert_eq!((p.uri.as_str(), p.realm.as_str()), ("/haproxy?stats", "R"));
    assert_eq!((p.maxconn, p.admin.clone(), p.refresh), (64, None, None));
    assert_eq!(p.timeout_request, Duration::from_secs(10));
    assert!(!p.show_version, "hidden by default, as HAProxy");
}

#[test]
fn stats_lines_in_defaults_are_inherited_and_replaced_whole() {
    let defaults = "defaults web\n mode http\n stats uri /d\n stats auth u:p\n monitor-uri /m\n \
                    timeout client 4s\n";
    let c = load(&format!(
        "{BASE}{defaults}listen a from web\n bind 127.0.0.1:8404\n\
         listen b from web\n bind 127.0.0.1:8405\n stats realm Own\n"
    ));
    let [a, b] = &c.stats_pages[..] else {
        panic!("{:?}", c.stats_pages)
    };
    assert_eq!((a.uri.as_str(), a.auth.len()), ("/d", 1));
    assert_eq!(a.timeout_request, Duration::from_secs(4));
    assert_eq!(
        (b.uri.as_str(), b.auth.len()),
        ("/haproxy?stats", 0),
        "own lines replace"
    );
    assert_eq!(
        b.monitor_uri.as_deref(),
        Some("/m"),
        "monitor-uri is not a stats line"
    );
    // A tcp proxy inheriting stats lines ignores them, as HAProxy.
    let c = load(&format!("defaults\n stats enable\n{BASE}"));
    assert!(c.stats_pages.is_empty());
}

#[test]
fn stats_page_errors_name_their_line() {
    let cases: &[Case] = &[
        (
            "stats admin if { src 10.0.0.1 } nosuch",
            13,
            "stats admin",
            "no such ACL",
        ),
        ("stats admin unless", 13, "stats admin", "missing condition"),
        ("stats admin TRUE", 13, "stats admin", "requires 'if'"),
        ("stats uri stats", 13, "stats uri", "starting with '/'"),
        ("stats auth nopass", 13, "stats auth", "USER:PASSWORD"),
        ("stats refresh 100ms", 13, "stats refresh", "at least 1s"),
        ("stats http-request deny", 13, "stats http-request", "ACLs"),
        ("stats bogus", 13, "stats bogus", "unknown stats keyword"),
        (
            "server s 127.0.0.1:80",
            13,
            "server",
            "serves only the page",
        ),
        (
            "default_backend be",
            13,
            "default_backend",
            "serves only the page",
        ),
        (
            "http-request deny",
            13,
            "http-request",
            "accepts only http-request use-service",
        ),
        (
            "monitor-uri health",
            13,
            "monitor-uri",
            "expects: monitor-uri /URI",
        ),
        ("bind 127.0.0.1:8080", 13, "bind", "already bound at line 2"),
    ];
    for &(lines, line, keyword, msg) in cases {
        // After the " stats enable" of line 12.
        assert_error(
            &with_page(&format!(" stats enable\n {lines}")),
            line,
            keyword,
            msg,
        );
    }
}

#[test]
fn sections_that_cannot_be_a_page_say_why() {
    assert_error(
        &format!("{BASE}listen stats\n mode http\n stats enable\n"),
        9,
        "listen",
        "stats page 'stats' has no bind",
    );
    assert_error(
        &format!("{BASE}backend st\n mode http\n stats enable\n"),
        9,
        "backend",
        "reached through HTTP routing",
    );
    assert_error(
        "defaults\n stats admin if TRUE\n",
        2,
        "stats admin",
        "not allowed in a defaults",
    );
    // An HTTP proxy inheriting stats lines is refused as an HTTP proxy.
    let http = format!("defaults\n mode http\n stats enable\n{BASE}");
    let errs = errors(&http);
    assert!(
        errs.iter()
            .any(|e| e.line == 1 + 3 && e.msg.contains("frontend 'fe' inherits mode http")),
        "{errs:#?}"
    );
    assert!(
        errs.iter().all(|e| !e.msg.contains("stats page")),
        "{errs:#?}"
    );
    // A mode http proxy without stats lines is still refused, named.
    assert_error(
        &format!("{BASE}listen web\n mode http\n bind 127.0.0.1:81\n server s 127.0.0.1:80\n"),
        10,
        "mode",
        "listen 'web': l4lb is a TCP (L4) balancer",
    );
}

/// Kubespray's `frontend healthz`: mode http, a bind and a `monitor-uri`,
/// nothing else. HAProxy answers the URI and 503s the rest; l4lb serves it
/// as a page without the page.
#[test]
fn a_mode_http_frontend_with_only_monitor_uri_is_a_monitor() {
    let c = load(&format!(
        "{BASE}frontend healthz\n bind 127.0.0.1:8081\n mode http\n monitor-uri /healthz\n"
    ));
    assert_eq!((c.frontends.len(), c.stats_pages.len()), (1, 1));
    let p = &c.stats_pages[0];
    assert_eq!(
        (
            p.name.as_str(),
            p.stats,
            p.monitor_uri.as_deref(),
            p.monitor_fail
        ),
        ("healthz", false, Some("/healthz"), false)
    );
    assert!(
        c.summary()
            .iter()
            .any(|l| l
                == "monitor healthz: bind 127.0.0.1:8081, monitor-uri /healthz, no stats page"),
        "{:?}",
        c.summary()
    );
    // Inherited from a mode http defaults, in a listen.
    let c = load(&format!(
        "{BASE}defaults web\n mode http\n monitor-uri /up\nlisten hz from web\n bind 127.0.0.1:8081\n \
         monitor fail if TRUE\n"
    ));
    let p = &c.stats_pages[0];
    assert_eq!(
        (p.stats, p.monitor_uri.as_deref(), p.monitor_fail),
        (false, Some("/up"), true)
    );
    // With stats lines it is a page, and `monitor fail` applies there too.
    let c = load(&with_page(
        " stats enable\n monitor-uri /m\n monitor fail unless FALSE",
    ));
    assert!(c.stats_pages[0].stats && c.stats_pages[0].monitor_fail);
}

#[test]
fn monitor_sections_refuse_what_they_cannot_do() {
    let monitor = |lines: &str| {
        format!("{BASE}frontend hz\n mode http\n bind 127.0.0.1:8081\n monitor-uri /hz\n{lines}\n")
    };
    assert_error(
        &monitor(" monitor fail if { nbsrv(be) lt 1 }"),
        13,
        "monitor fail",
        "needs ACLs",
    );
    assert_error(
        &monitor(" monitor fail"),
        13,
        "monitor",
        "expects: monitor fail if|unless",
    );
    // Something to forward to: an HTTP proxy, refused as such.
    assert_error(
        &monitor(" default_backend be"),
        10,
        "mode",
        "frontend 'hz': l4lb is a TCP (L4) balancer",
    );
    // HAProxy ignores monitor-uri in a backend: a mode http backend stays
    // an HTTP proxy.
    assert_error(
        &format!("{BASE}backend hz\n mode http\n monitor-uri /hz\n"),
        10,
        "mode",
        "backend 'hz': l4lb is a TCP (L4) balancer",
    );
}

/// HAProxy starts with a stats page or a monitor as its only listener; a
/// conf with no listener at all stays an error.
#[test]
fn a_conf_of_stats_pages_only_loads() {
    let c = load(
        "defaults\n timeout client 5s\nlisten stats\n mode http\n bind 127.0.0.1:8404\n \
         stats enable\nfrontend hz\n mode http\n bind 127.0.0.1:8081\n monitor-uri /hz\n",
    );
    assert_eq!(
        (c.frontends.len(), c.backends.len(), c.stats_pages.len()),
        (0, 0, 2)
    );
    assert_error(
        "backend be\n server s 127.0.0.1:1\n",
        0,
        "frontend",
        "no frontend or listen section (nor a stats page)",
    );
}

#[test]
fn monitor_fail_is_refused_in_defaults_as_haproxy() {
    assert_error(
        "defaults\n mode http\n monitor fail if TRUE\n",
        3,
        "monitor",
        "not allowed in a defaults section",
    );
}
