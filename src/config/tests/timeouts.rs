//! `timeout` lines, HAProxy times and how durations print.

use super::super::values::parse_time;
use super::*;

#[test]
fn time_units() {
    let ms = |t: &str| parse_time(t).map(|d| d.as_micros());
    assert_eq!(ms("250"), Ok(250_000));
    assert_eq!(ms("250ms"), Ok(250_000));
    assert_eq!(ms("7us"), Ok(7));
    assert_eq!(ms("3s"), Ok(3_000_000));
    assert_eq!(ms("2m"), Ok(120_000_000));
    assert_eq!(ms("1h"), Ok(3_600_000_000));
    assert_eq!(ms("1d"), Ok(86_400_000_000));
    assert!(ms("24d").is_ok());
    assert!(ms("25d").unwrap_err().contains("too long"));
    assert!(ms("5 s").is_err());
    assert!(ms("5x").unwrap_err().contains("unknown time unit 'x'"));
    assert!(ms("s").unwrap_err().contains("not a time"));
    assert!(ms("-1s").is_err());
}

#[test]
fn durations_print_compactly() {
    let f = |us| fmt_duration(Duration::from_micros(us));
    assert_eq!(f(5_000_000), "5s");
    assert_eq!(f(300_000), "300ms");
    assert_eq!(f(3_600_000_000), "1h");
    assert_eq!(f(90_000_000), "90s");
    assert_eq!(f(120_000_000), "2m");
    assert_eq!(f(1500), "1500us");
    assert_eq!(f(86_400_000_000), "1d");
}

#[test]
fn all_timeouts_parse() {
    let c = load(&in_backend(
        "timeout connect 2s\ntimeout tunnel 1h\ntimeout server-fin 1s\ntimeout queue 10s\n\
             timeout server 0",
    ));
    let b = &c.backends[0];
    assert_eq!(b.timeout_connect, Duration::from_secs(2));
    assert_eq!(b.timeout_tunnel, Some(Duration::from_secs(3600)));
    assert_eq!(b.timeout_server_fin, Some(Duration::from_secs(1)));
    assert_eq!(b.timeout_queue, Duration::from_secs(10));
    assert_eq!(b.timeout_server, None, "0 means no timeout, as in HAProxy");
    let c = load(&in_frontend("timeout client-fin 500"));
    assert_eq!(
        c.frontends[0].timeout_client_fin,
        Some(Duration::from_millis(500))
    );
}

#[test]
fn timeout_queue_follows_timeout_connect() {
    let c = load(&in_backend("timeout connect 2s"));
    assert_eq!(c.backends[0].timeout_queue, Duration::from_secs(2));
}

#[test]
fn timeout_errors() {
    assert_backend_errors(&[
        (
            "timeout http-request soon",
            9,
            "timeout http-request",
            "not a time",
        ),
        (
            "timeout http-keep-alive",
            9,
            "timeout http-keep-alive",
            "expects one time",
        ),
        (
            "timeout foo 5s",
            9,
            "timeout foo",
            "accepted: connect, client, server",
        ),
        (
            "timeout connect 5q",
            9,
            "timeout connect",
            "unknown time unit",
        ),
        ("timeout connect 0", 9, "timeout connect", "above 0"),
        ("timeout connect", 9, "timeout connect", "expects one time"),
        ("timeout", 9, "timeout", "names: connect"),
    ]);
    // Where it cannot act, HAProxy ignores a timeout with a warning.
    assert_warning(
        &in_frontend("timeout server 5s"),
        &["frontend fe (line 2): timeout server is ignored in a frontend section"],
    );
    assert_warning(
        &in_backend("timeout client 5s"),
        &["backend be (line 9): timeout client is ignored in a backend section"],
    );
}

#[test]
fn missing_timeouts_are_warnings() {
    let text = BASE
        .replace("    timeout client 30s\n", "")
        .replace("    timeout server 30s\n", "");
    let c = load(&text);
    assert_eq!(
        c.warnings,
        [
            "no timeout server in backend be: idle connections are kept forever",
            "no timeout client in frontend fe: idle connections are kept forever",
        ]
    );
    let c = load(&format!("{text}    timeout tunnel 1h\n"));
    assert!(
        c.warnings.is_empty(),
        "timeout tunnel covers both sides: {:?}",
        c.warnings
    );
}
