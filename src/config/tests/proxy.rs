//! Keywords of frontend, backend and listen sections: balance, options,
//! retries, mode, description, maxconn, and the HAProxy keywords refused
//! as HTTP-only or not implemented yet.

use super::*;

#[test]
fn balance_algorithms() {
    let balance = |algo: &str| load(&in_backend(&format!("balance {algo}"))).backends[0].balance;
    assert_eq!(balance("roundrobin"), Balance::RoundRobin);
    assert_eq!(balance("leastconn"), Balance::LeastConn);
    assert_eq!(balance("first"), Balance::First);
    assert_eq!(balance("source"), Balance::Source { consistent: false });
    assert_eq!(
        balance("source\nhash-type consistent"),
        Balance::Source { consistent: true }
    );
    assert_eq!(
        balance("source\nhash-type map-based"),
        Balance::Source { consistent: false }
    );
    assert_eq!(balance("random"), Balance::Random { draws: 2 });
    assert_eq!(balance("random(3)"), Balance::Random { draws: 3 });
}

#[test]
fn balance_errors() {
    assert_backend_errors(&[
        (
            "balance rdp-cookie(",
            9,
            "balance",
            "expected rdp-cookie or rdp-cookie(NAME)",
        ),
        ("balance static-rr", 9, "balance", "not implemented yet"),
        (
            "balance fastest",
            9,
            "balance",
            "accepted: roundrobin, leastconn, source",
        ),
        ("balance random(0)", 9, "balance", "N >= 1"),
        ("balance random(x", 9, "balance", "random(N)"),
        (
            "balance first now",
            9,
            "balance",
            "unexpected argument 'now'",
        ),
        ("balance", 9, "balance", "accepted: roundrobin"),
        (
            "hash-type consistent sdbm",
            9,
            "hash-type",
            "hash function 'sdbm'",
        ),
        (
            "hash-type ring",
            9,
            "hash-type",
            "accepted: map-based, consistent",
        ),
    ]);
    assert_warning(
        &in_frontend("balance first"),
        &["frontend fe (line 2): balance is ignored in a frontend section"],
    );
}

#[test]
fn options_and_their_no_forms() {
    let c = load(&in_backend(
        "option redispatch\noption srvtcpka\nno option splice-auto\nretries 0",
    ));
    let b = &c.backends[0];
    assert_eq!(
        (b.redispatch, b.tcp_keepalive, b.splice_auto, b.retries),
        (true, true, false, 0)
    );
    let c = load(&format!(
        "defaults\n option tcpka\n option redispatch\n{}",
        in_backend("no option redispatch")
    ));
    assert!(c.frontends[0].tcp_keepalive && c.backends[0].tcp_keepalive);
    assert!(!c.backends[0].redispatch);
    let c = load(&format!(
        "defaults\n option tcpka\n{}",
        in_frontend("no option clitcpka")
    ));
    assert!(!c.frontends[0].tcp_keepalive && c.backends[0].tcp_keepalive);
    assert!(load(&in_frontend("option clitcpka")).frontends[0].tcp_keepalive);
}

#[test]
fn option_errors() {
    assert_backend_errors(&[
        (
            "option httpchk GET / HTTP/1.1 host extra",
            9,
            "option httpchk",
            "too many arguments",
        ),
        (
            "option redis-check now",
            9,
            "option redis-check",
            "unexpected arguments",
        ),
        ("option forceclose", 9, "option forceclose", "HTTP-only"),
        (
            "option foo",
            9,
            "option foo",
            "accepted: redispatch, splice-auto",
        ),
        (
            "option redispatch 1",
            9,
            "option redispatch",
            "unexpected argument",
        ),
        ("no redispatch", 9, "no", "expects: no option NAME"),
    ]);
    assert_backend_errors(&[("no option httpchk", 9, "no option httpchk", "not supported")]);
}

/// HAProxy warns about an option where it cannot act, and ignores it.
#[test]
fn misplaced_options_are_ignored_with_a_warning() {
    let c = load(&in_frontend(
        "option srvtcpka
no option redispatch",
    ));
    assert!(!c.backends[0].tcp_keepalive);
    assert_eq!(
        c.warnings,
        [
            "frontend fe (line 2): option srvtcpka is ignored in a frontend section, it acts in \
             backends and listen sections; HAProxy ignores it there too",
            "frontend fe (line 3): no option redispatch is ignored in a frontend section, it \
             acts in backends and listen sections; HAProxy ignores it there too",
        ]
    );
}

#[test]
fn retry_on_empty_response_is_opt_in() {
    let on = load(&in_backend("retry-on conn-failure empty-response"));
    assert!(on.backends[0].retry_empty_response);
    let off = load(&in_backend("retry-on conn-failure"));
    assert!(!off.backends[0].retry_empty_response, "the default");
    let inherited = load(&format!(
        "defaults\n retry-on empty-response\n{}",
        in_backend("retry-on none")
    ));
    assert!(
        !inherited.backends[0].retry_empty_response,
        "none undoes it"
    );
    assert_backend_errors(&[
        ("retry-on sometimes", 9, "retry-on", "accepted: none"),
        (
            "retry-on none empty-response",
            9,
            "retry-on",
            "cannot be combined",
        ),
    ]);
}

/// HTTP-only keywords HAProxy ignores in mode tcp warn (see `mixed`); the
/// ones it refuses too stay errors.
#[test]
fn http_only_keywords_are_refused() {
    let kws = ["reqadd X", "rspadd X", "use-fcgi-app php"];
    for line in kws {
        let kw = line.split(' ').next().unwrap();
        assert_error(
            &in_backend(line),
            9,
            kw,
            &format!("l4lb is a TCP (L4) balancer: '{kw}' is HTTP-only"),
        );
    }
}

#[test]
fn not_implemented_keywords_are_refused() {
    let kws = [
        "error-log-format %ci",
        "tcp-response content accept",
        "force-persist if TRUE",
    ];
    for line in kws {
        let kw = line.split(' ').next().unwrap();
        assert_error(
            &in_backend(line),
            9,
            kw,
            &format!("'{kw}' is not implemented yet in l4lb"),
        );
    }
}

#[test]
fn unknown_keyword() {
    assert_backend_errors(&[
        (
            "frobnicate 1",
            9,
            "frobnicate",
            "unknown keyword; accepted in backend: mode",
        ),
        (
            "nbthread 2",
            9,
            "nbthread",
            "accepted only in the global section",
        ),
    ]);
}

#[test]
fn mode() {
    assert_eq!(
        load(&format!("defaults\n mode tcp\n{}", in_backend("mode tcp")))
            .backends
            .len(),
        1
    );
    let msg = "l4lb is a TCP (L4) balancer: mode http is not supported; use mode tcp";
    assert_frontend_errors(&[
        ("mode http", 2, "mode", msg),
        ("mode health", 2, "mode", "use mode tcp"),
    ]);
}

#[test]
fn mode_http_in_defaults_loads_when_the_proxies_set_mode_tcp() {
    let tcp = in_frontend("mode tcp").replace("backend be\n", "backend be\n mode tcp\n");
    let c = load(&format!("defaults\n mode http\n{tcp}"));
    assert_eq!(c.backends.len(), 1);
    let msg = "backend 'be' inherits mode http (defaults, line 2)";
    let only_fe = in_frontend("mode tcp");
    assert_error(
        &format!("defaults\n mode http\n{only_fe}"),
        8,
        "backend",
        msg,
    );
}

#[test]
fn description_takes_the_rest_of_the_line() {
    let c = load(&in_frontend(
        "description \"Redis  cache\" for  apps # not this",
    ));
    assert_eq!(
        c.frontends[0].description.as_deref(),
        Some("Redis  cache for apps")
    );
    assert_frontend_errors(&[("description", 2, "description", "expects: description TEXT")]);
    assert_error(
        &format!("defaults\n description x\n{BASE}"),
        2,
        "description",
        "accepted in frontend, backend",
    );
}

#[test]
fn frontend_maxconn_is_clamped_to_global_with_a_warning() {
    let c = load(&format!(
        "global\n maxconn 100\n{}",
        in_frontend("maxconn 500")
    ));
    assert_eq!(c.frontends[0].maxconn, 100);
    assert_eq!(
        c.warnings,
        ["maxconn 500 in frontend fe is above the global maxconn 100: clamped to 100"]
    );
    assert_eq!(load(&in_frontend("maxconn 50")).frontends[0].maxconn, 50);
    assert_warning(
        &in_backend("maxconn 5"),
        &["backend be (line 9): maxconn is ignored in a backend section"],
    );
    assert_frontend_errors(&[("maxconn 0", 2, "maxconn", "whole number >= 1")]);
}

#[test]
fn summary_lines() {
    let text = format!(
        "global\n nbthread 2\n{}",
        in_backend("balance leastconn\nserver s3 127.0.0.1:9003 disabled\noption redispatch")
    );
    let lines = load(&text).summary();
    assert_eq!(
        lines,
        [
            "global: nbthread 2, cpu-affinity on, maxconn 4096, maxpipes 1024, bufsize 16384, pipesize default",
            "frontend fe: bind 127.0.0.1:8080 -> backend be, maxconn 4096, timeout client 30s",
            "backend be: balance leastconn, 3 servers (2 enabled), retries 3, timeout connect 5s, \
                 timeout server 30s, redispatch, splice-auto on",
        ]
    );
}
