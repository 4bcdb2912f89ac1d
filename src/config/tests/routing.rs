//! `acl`, `tcp-request`, `use_backend`, `use-server`: what loads, and the
//! errors of what cannot (each on its line, naming its keyword).

use super::*;

#[test]
fn rules_load_in_order_and_name_backends_and_servers() {
    let text = in_frontend(
        "acl site_a req.ssl_sni -i a.example\n\
         tcp-request inspect-delay 5s\n\
         tcp-request content accept if { req.ssl_hello_type 1 }\n\
         use_backend be if site_a\n\
         use_backend %[req.ssl_sni,lower]",
    );
    let c = load(&text);
    let r = c.frontends[0].rules.as_ref().expect("rules");
    assert_eq!(r.inspect_delay, Some(Duration::from_secs(5)));
    assert_eq!((r.content.len(), r.use_backend.len()), (1, 2));
    assert!(r.reads_content);
    assert!(c.frontends[0].routes_to(0));
    let c = load(&in_backend("use-server s2 if { src 10.0.0.0/8 }"));
    let r = c.backends[0].rules.as_ref().expect("rules");
    assert_eq!(r.use_server[0].server, 1);
    // A frontend routed by rules alone needs no default_backend.
    let text =
        "frontend fe\n bind :1\n use_backend be if TRUE\nbackend be\n server s 127.0.0.1:2\n";
    assert_eq!(load(text).frontends[0].backend, None);
}

#[test]
fn bad_rules_are_errors_on_their_line() {
    assert_frontend_errors(&[
        (
            "use_backend nosuch",
            2,
            "use_backend",
            "no backend named 'nosuch'",
        ),
        (
            "use_backend be if missing_acl",
            2,
            "use_backend",
            "no such ACL: 'missing_acl'",
        ),
        ("acl x src 10.0.0.0/8 zzz", 2, "acl", "zzz"),
        ("acl x nosuchfetch", 2, "acl", "nosuchfetch"),
        (
            "tcp-request connection track-sc0 src",
            2,
            "tcp-request connection",
            "stick tables",
        ),
        (
            "tcp-request content set-var(txn.x) src",
            2,
            "tcp-request content",
            "variables",
        ),
        (
            "tcp-request connection reject if { req.ssl_sni -m found }",
            2,
            "tcp-request connection",
            "use tcp-request content",
        ),
        (
            "tcp-request content accept when TRUE",
            2,
            "tcp-request content",
            "'when'",
        ),
        (
            "tcp-request inspect-delay soon",
            2,
            "tcp-request inspect-delay",
            "",
        ),
        ("tcp-request", 2, "tcp-request", "expects"),
        (
            "use_backend %[src,nosuchconv]",
            2,
            "use_backend",
            "nosuchconv",
        ),
        (
            "use_backend be if { nbsrv lt 1 }",
            1,
            "frontend",
            "name the backend",
        ),
        (
            "use_backend be if { nbsrv(nosuch) lt 1 }",
            1,
            "frontend",
            "no backend named 'nosuch'",
        ),
        ("use_backend be if METH_GET", 2, "use_backend", "HTTP"),
    ]);
}

#[test]
fn bad_backend_rules_and_rules_in_defaults_are_errors() {
    assert_backend_errors(&[
        (
            "use-server nosuch",
            9,
            "use-server",
            "no server named 'nosuch'",
        ),
        (
            "tcp-request connection reject",
            9,
            "tcp-request",
            "only for frontends",
        ),
    ]);
    assert_error(
        "defaults\n acl a src 1.2.3.4\nlisten l\n bind :1\n server s 127.0.0.1:2\n",
        2,
        "acl",
        "rules in a defaults section",
    );
}

#[test]
fn a_content_rule_reading_bytes_without_inspect_delay_is_warned_about() {
    assert_warning(
        &in_frontend("tcp-request content reject if { req.len gt 100 }"),
        &["inspect-delay", "runs once"],
    );
}

#[test]
fn balance_hash_rdp_cookie_and_persist_load_and_their_errors_name_the_line() {
    let c = load(&in_backend(
        "balance hash req.ssl_sni,lower\nhash-type consistent\npersist rdp-cookie(msts)",
    ));
    let be = &c.backends[0];
    assert_eq!(be.balance, Balance::Source { consistent: true });
    assert!(be.hash_on.is_some() && be.persist_rdp.is_some());
    assert!(be.reads_content());
    let c = load(&in_backend("balance rdp-cookie(user)"));
    assert!(c.backends[0].hash_on.is_some());
    assert!(c.frontends[0].peeks);
    // A later balance line replaces the expression.
    let c = load(&in_backend("balance hash src\nbalance roundrobin"));
    assert!(c.backends[0].hash_on.is_none());
    assert_backend_errors(&[
        ("balance hash", 9, "balance", "expects: balance hash EXPR"),
        ("balance hash nosuch", 9, "balance", "nosuch"),
        ("balance hash nbsrv(be)", 9, "balance", "not a count"),
        ("persist cookie", 9, "persist", "persist rdp-cookie"),
        ("persist rdp-cookie()", 9, "persist", "expects"),
    ]);
}
