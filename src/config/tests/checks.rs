//! Health checks: `check` and its timings, `tcp-check` steps, passive
//! health (`observe layer4`).

use super::*;

#[test]
fn server_check_options_with_haproxy_defaults() {
    let c = load(&in_backend(
        "timeout check 1s\nserver s3 127.0.0.1:80 check inter 300ms rise 1 fall 2 addr 127.0.0.2 port 81\n\
         server s4 127.0.0.1:82 check\nserver s5 127.0.0.1:83 inter 5s",
    ));
    assert_eq!(c.backends[0].timeout_check, Some(Duration::from_secs(1)));
    let check = server(&c, "s3").check.as_ref().unwrap();
    assert_eq!(check.inter, Duration::from_millis(300));
    assert_eq!(
        check.fastinter,
        Duration::from_millis(300),
        "fastinter defaults to inter"
    );
    assert_eq!(
        check.downinter,
        Duration::from_millis(300),
        "downinter defaults to inter"
    );
    assert_eq!((check.rise, check.fall), (1, 2));
    assert_eq!(check.target, "127.0.0.2:81".parse().unwrap());
    let s4 = server(&c, "s4").check.clone().unwrap();
    assert_eq!((s4.inter, s4.rise, s4.fall), (Duration::from_secs(2), 2, 3));
    assert_eq!(s4.target, "127.0.0.1:82".parse().unwrap());
    assert!(
        server(&c, "s5").check.is_none(),
        "timing options without `check` do not probe"
    );
}

#[test]
fn tcp_check_steps_with_escapes_and_hex() {
    let c = load(&in_backend(
        "option tcp-check\ntcp-check connect\ntcp-check send PING\\r\\n\ntcp-check expect string +PONG\n\
         tcp-check send-binary 0d0a\ntcp-check expect binary 2b4f4b",
    ));
    assert_eq!(
        c.backends[0].checks,
        CheckKind::TcpCheck(vec![
            CheckStep::Connect(ConnectRule::default()),
            CheckStep::Send(b"PING\r\n".to_vec()),
            CheckStep::Expect(TcpExpect::plain(TcpMatch::String(b"+PONG".to_vec()))),
            CheckStep::Send(b"\r\n".to_vec()),
            CheckStep::Expect(TcpExpect::plain(TcpMatch::Binary(b"+OK".to_vec()))),
        ])
    );
    let without_option = load(&in_backend("tcp-check send PING"));
    assert_eq!(without_option.backends[0].checks, CheckKind::Connect);
    assert!(
        without_option
            .warnings
            .iter()
            .any(|w| w.contains("option tcp-check"))
    );
}

#[test]
fn tcp_check_errors() {
    assert_backend_errors(&[
        ("tcp-check send-binary 0d0", 9, "tcp-check", "hex digits"),
        (
            "tcp-check expect rstring x(",
            9,
            "tcp-check expect",
            "bad regex",
        ),
        (
            "tcp-check connect port 99999",
            9,
            "tcp-check connect",
            "1..=65535",
        ),
        (
            "tcp-check connect send-proxy",
            9,
            "tcp-check connect send-proxy",
            "not implemented yet",
        ),
        (
            "tcp-check expect error-status L7RSP string x",
            9,
            "tcp-check expect error-status",
            "not implemented yet",
        ),
        ("tcp-check bogus", 9, "tcp-check", "expects"),
    ]);
}

#[test]
fn observe_layer4_options() {
    let c = load(&in_backend(
        "server s3 127.0.0.1:80 check observe layer4 error-limit 5 on-error sudden-death",
    ));
    assert_eq!(
        server(&c, "s3").observe,
        Some(Observe {
            error_limit: 5,
            on_error: OnError::SuddenDeath
        })
    );
    let d = load(&in_backend("server s3 127.0.0.1:80 check observe layer4"));
    let o = server(&d, "s3").observe.unwrap();
    assert_eq!(
        (o.error_limit, o.on_error),
        (10, OnError::FailCheck),
        "HAProxy's defaults"
    );
    let passive = load(&in_backend(
        "server s3 127.0.0.1:80 observe layer4 inter 500ms rise 3",
    ));
    let check = server(&passive, "s3")
        .check
        .as_ref()
        .expect("probed while taken out");
    assert!(check.passive_only, "no `check`: probed only to come back");
    assert_eq!((check.inter, check.rise), (Duration::from_millis(500), 3));
    assert_backend_errors(&[
        (
            "server s3 127.0.0.1:80 check observe layer7",
            9,
            "observe layer7",
            "HTTP-only",
        ),
        (
            "server s3 127.0.0.1:80 check on-error explode",
            9,
            "on-error",
            "mark-down",
        ),
    ]);
}
