//! `server` and `default-server` lines: addresses and the options that are
//! not health checks (those are in `checks`).

use super::super::values::parse_server_addr;
use super::*;

#[test]
fn server_lines() {
    let c = load(&in_backend(
        "server s3 localhost:9003 weight 0 maxconn 10\nserver s4 [::1]:9004 disabled",
    ));
    let s = &c.backends[0].servers;
    assert_eq!(s[2].addr.port(), 9003);
    assert!(s[2].addr.ip().is_loopback());
    assert_eq!((s[2].weight, s[2].maxconn, s[2].disabled), (0, 10, false));
    assert_eq!(
        (s[3].addr, s[3].disabled),
        ("[::1]:9004".parse().unwrap(), true)
    );
}

#[test]
fn server_addresses_keep_their_configured_form() {
    let name = |host: &str, port| ServerAddr {
        host: Host::Name(host.into()),
        port,
    };
    let ip = |a: &str| ServerAddr::from(a.parse::<SocketAddr>().unwrap());
    let cases = [
        ("localhost:80", name("localhost", 80), "localhost:80"),
        (
            "db.example.:5432",
            name("db.example.", 5432),
            "db.example.:5432",
        ),
        ("10.0.0.1:80", ip("10.0.0.1:80"), "10.0.0.1:80"),
        ("[::1]:80", ip("[::1]:80"), "[::1]:80"),
        ("::1:80", ip("[::1]:80"), "[::1]:80"),
    ];
    for (text, want, shown) in cases {
        let got = parse_server_addr(text).unwrap();
        assert_eq!(got, want, "{text}");
        assert_eq!(got.to_string(), shown, "{text}");
    }
    assert_eq!(name("localhost", 80).fqdn(), Some("localhost"));
    assert_eq!(ip("10.0.0.1:80").fqdn(), None);
    // The name is kept as written; nothing is resolved yet.
    assert!(parse_server_addr("no-such-host.invalid:80").is_ok());
}

#[test]
fn a_server_line_keeps_its_host_name_beside_the_resolved_address() {
    let c = load(&in_backend(
        "server s3 localhost:9003
server s4 [::1]:9004",
    ));
    let s3 = server(&c, "s3");
    assert!(s3.addr.ip().is_loopback() && s3.addr.port() == 9003);
    assert_eq!(s3.configured.fqdn(), Some("localhost"));
    assert_eq!(s3.configured.to_string(), "localhost:9003");
    let s4 = server(&c, "s4");
    assert_eq!(s4.configured, ServerAddr::from(s4.addr));
    assert_eq!(s4.configured.fqdn(), None);
    // The same from the runtime API's `add server`.
    let words = ["server", "s5", "localhost:9005", "weight", "2"].map(String::from);
    let s5 = server_line(&words).unwrap();
    assert_eq!(
        (s5.configured.fqdn(), s5.configured.port, s5.weight),
        (Some("localhost"), 9005, 2)
    );
    assert!(s5.addr.ip().is_loopback());
}

/// Refused options of `server s3 127.0.0.1:80`: (options, keyword, message).
const SERVER_OPTION_ERRORS: &[(&str, &str, &str)] = &[
    ("weight 257", "weight", "0..=256"),
    ("weight", "weight", "expects a value"),
    ("maxconn -1", "maxconn", "whole number"),
    ("check inter 0", "inter", "above 0"),
    ("check rise 0", "rise", ""),
    ("check addr nowhere", "addr", "not an IP address"),
    ("check port 70000", "port", ""),
    (
        "on-marked-up shutdown-backup-sessions",
        "on-marked-up",
        "not implemented yet",
    ),
    ("slowstart soon", "slowstart", ""),
    ("redir http://x", "redir", "HTTP-only"),
    ("foo", "foo", "accepted: weight N, maxconn N, disabled"),
];

#[test]
fn server_errors() {
    assert_backend_errors(&[
        (
            "server s1 127.0.0.1:1",
            9,
            "server",
            "duplicate server name 's1'",
        ),
        ("server s3", 9, "server", "expects: server NAME ADDR:PORT"),
        ("server s3 127.0.0.1", 9, "server", "has no port"),
        ("server s3 0.0.0.0:80", 9, "server", "not a server address"),
        (
            "server s3 no-such-host.invalid:80",
            9,
            "server",
            "does not resolve",
        ),
    ]);
    for (opts, keyword, msg) in SERVER_OPTION_ERRORS {
        let line = format!("server s3 127.0.0.1:80 {opts}");
        assert_error(&in_backend(&line), 9, keyword, msg);
    }
    assert_frontend_errors(&[(
        "server s3 127.0.0.1:80",
        2,
        "server",
        "accepted in backend, listen",
    )]);
}

#[test]
fn backup_servers_and_allbackups() {
    let c = load(&in_backend(
        "option allbackups\nserver s3 127.0.0.1:80 backup check",
    ));
    assert!(c.backends[0].all_backups);
    let s3 = server(&c, "s3");
    assert!(s3.backup && s3.check.is_some());
    assert!(!server(&c, "s1").backup);
}

#[test]
fn default_server_options_apply_to_later_servers_and_are_overridden() {
    let text = "defaults\n  mode tcp\n  timeout client 1s\n  timeout server 1s\n  default-server check inter 500ms fall 5\n\
                listen l\n  bind 127.0.0.1:8080\n  default-server weight 3\n  server a 127.0.0.1:1\n  \
                server b 127.0.0.1:2 weight 1 fall 2\n";
    let c = load(text);
    let s = &c.backends[0].servers;
    assert_eq!(s[0].weight, 3);
    let a = s[0]
        .check
        .as_ref()
        .expect("check from the defaults' default-server");
    assert_eq!((a.inter, a.fall), (Duration::from_millis(500), 5));
    assert_eq!(s[1].weight, 1, "the server's own option wins");
    assert_eq!(s[1].check.as_ref().unwrap().fall, 2);
    assert_error(&in_backend("default-server weight 999"), 9, "weight", "");
}

#[test]
fn on_marked_down_shutdown_sessions() {
    let c = load(&in_backend(
        "server s3 127.0.0.1:80 check on-marked-down shutdown-sessions",
    ));
    assert!(server(&c, "s3").shutdown_on_down);
    assert!(!c.backends[0].servers[0].shutdown_on_down, "off by default");
    assert_error(
        &in_backend("server s3 127.0.0.1:80 on-marked-down nothing"),
        9,
        "on-marked-down",
        "shutdown-sessions",
    );
}

#[test]
fn slowstart_on_servers_and_default_server() {
    let c = load(&in_backend(
        "default-server slowstart 30s\n    server s3 127.0.0.1:80\n    server s4 127.0.0.1:81 slowstart 1m",
    ));
    assert_eq!(server(&c, "s3").slowstart, Duration::from_secs(30));
    assert_eq!(server(&c, "s4").slowstart, Duration::from_secs(60));
    let plain = load(&in_backend("server s3 127.0.0.1:80"));
    assert!(
        plain.backends[0]
            .servers
            .iter()
            .all(|s| s.slowstart.is_zero()),
        "off by default"
    );
}
