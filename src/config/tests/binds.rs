//! `bind` lines: address forms, options, one bind per address.

use super::*;

#[test]
fn binds_accept_ipv4_ipv6_and_wildcards() {
    let text = in_frontend(
        "bind *:81\nbind :::82\nbind [::1]:83\nbind ::1:84\nbind 0.0.0.0:85 name any\n\
             bind :86,[fe80::1]:87",
    );
    let binds: Vec<String> = load(&text).frontends[0]
        .binds
        .iter()
        .map(|b| b.addr.to_string())
        .collect();
    let want = [
        "0.0.0.0:81",
        "[::]:82",
        "[::1]:83",
        "[::1]:84",
        "0.0.0.0:85",
        "0.0.0.0:86",
        "[fe80::1]:87",
        "127.0.0.1:8080",
    ];
    assert_eq!(binds, want);
    assert_eq!(
        load(&text).frontends[0].binds[4].name.as_deref(),
        Some("any")
    );
}

#[test]
fn bind_errors() {
    assert_frontend_errors(&[
        ("bind 127.0.0.1", 2, "bind", "has no port"),
        ("bind 127.0.0.1:0", 2, "bind", "1..=65535"),
        ("bind :70000", 2, "bind", "1..=65535"),
        ("bind localhost:80", 2, "bind", "not an IP address"),
        ("bind", 2, "bind", "expects: bind ADDR:PORT"),
        ("bind :80 name", 2, "name", "expects a value"),
        ("bind :80 wat", 2, "wat", "accepted: name NAME"),
    ]);
    // Every refused option of the line, each with its keyword.
    assert_errors(
        &in_frontend("bind :80 ssl crt x.pem wat name"),
        &[
            (2, "ssl", "cannot speak TLS yet"),
            (2, "crt", "not implemented yet"),
            (2, "name", "expects a value"),
        ],
    );
    // HAProxy ignores a bind in a backend, with a warning.
    assert_warning(
        &in_backend("bind :80"),
        &["backend be (line 9): bind is ignored in a backend section"],
    );
}

#[test]
fn same_bind_address_twice_is_an_error() {
    assert_frontend_errors(&[("bind 127.0.0.1:8080", 3, "bind", "already bound at line 2")]);
    let text = format!(
        "{BASE}frontend fe2\n bind 127.0.0.1:8080\n default_backend be\n timeout client 1s\n"
    );
    assert_error(&text, 10, "bind", "already bound at line 2");
}
