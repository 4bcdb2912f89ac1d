//! Connecting to servers: retries on refusal and on connect timeout,
//! inactivity timeouts, and how leastconn counts connections.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn connect_refused_goes_to_the_next_server() {
    let good = Backend::named("good");
    // A port nobody listens on: connects are refused at once.
    let refused = addr(free_port());
    let port = free_port();
    let _l4 = L4lb::start(&conf(
        port,
        &[refused, good.addr()],
        "balance roundrobin\nretries 3",
    ));
    for _ in 0..20 {
        assert_eq!(round_trip(port), "good");
    }
    assert_eq!(
        good.counts.total.load(std::sync::atomic::Ordering::SeqCst),
        20
    );
}

#[test]
fn connect_timeout_goes_to_the_next_server_within_the_timeout() {
    let (_hole, _fillers, hole) = black_hole();
    let good = Backend::named("good");
    let port = free_port();
    // `first` always tries the black hole first.
    let extra = "balance first\ntimeout connect 300ms\nretries 2";
    let _l4 = L4lb::start(&conf(port, &[hole, good.addr()], extra));
    let t = Instant::now();
    assert_eq!(round_trip(port), "good");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(290),
        "waited the connect timeout first: {took:?}"
    );
    assert!(
        took < Duration::from_millis(1300),
        "redispatched right after the timeout: {took:?}"
    );
}

#[test]
fn idle_timeout_closes_both_sides() {
    let be = Backend::echo();
    let port = free_port();
    let conf = format!(
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 400ms\n  timeout server 400ms\n\
         listen idle\n  bind 127.0.0.1:{port}\n  server s1 {}\n",
        be.addr()
    );
    let _l4 = L4lb::start(&conf);
    let mut c = connect(port);
    c.write_all(b"hi").unwrap();
    let mut b = [0u8; 2];
    c.read_exact(&mut b).unwrap();
    let idle_since = Instant::now();
    let mut rest = Vec::new();
    let end = c.read_to_end(&mut rest);
    let took = idle_since.elapsed();
    assert!(
        end.is_ok() && rest.is_empty(),
        "client sees a close: {end:?}"
    );
    assert!(
        took >= Duration::from_millis(380),
        "not before the timeout: {took:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "soon after the timeout: {took:?}"
    );
    // The server side was closed too: the echo handler saw EOF and ended.
    let counts = &be.counts;
    assert!(wait_until(Duration::from_secs(3), || counts
        .active
        .load(std::sync::atomic::Ordering::SeqCst)
        == 0));
}

#[test]
fn leastconn_sends_new_connections_away_from_a_loaded_server() {
    use std::sync::atomic::Ordering::SeqCst;
    let servers = [
        Backend::named("a"),
        Backend::named("b"),
        Backend::named("c"),
    ];
    let port = free_port();
    let addrs: Vec<_> = servers.iter().map(Backend::addr).collect();
    let _l4 = L4lb::start(&conf(port, &addrs, "balance leastconn"));
    // Nine long connections spread 3/3/3.
    let mut held: Vec<(String, TcpStream)> = (0..9)
        .map(|_| {
            let mut c = connect(port);
            (read_line(&mut c).unwrap(), c)
        })
        .collect();
    for name in ["a", "b", "c"] {
        assert_eq!(
            held.iter().filter(|(n, _)| n == name).count(),
            3,
            "even spread"
        );
    }
    // Close the ones on b and c: a keeps K = 3 long connections.
    held.retain(|(n, _)| n == "a");
    for s in &servers[1..] {
        assert!(wait_until(Duration::from_secs(5), || s
            .counts
            .active
            .load(SeqCst)
            == 0));
    }
    // The next six go to b and c only, until the loads are even again.
    let next: Vec<String> = (0..6)
        .map(|_| {
            let mut c = connect(port);
            let name = read_line(&mut c).unwrap();
            held.push((name.clone(), c));
            name
        })
        .collect();
    assert!(
        !next.contains(&"a".to_string()),
        "the loaded server got new connections: {next:?}"
    );
    assert_eq!(next.iter().filter(|n| *n == "b").count(), 3, "{next:?}");
}

#[test]
fn timeout_tunnel_replaces_the_idle_timeouts_once_connected() {
    let be = Backend::echo();
    let port = free_port();
    let conf = format!(
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 200ms\n  timeout server 200ms\n  \
         timeout tunnel 5s\nlisten t\n  bind 127.0.0.1:{port}\n  server s1 {}\n",
        be.addr()
    );
    let _l4 = L4lb::start(&conf);
    let mut c = connect(port);
    let mut b = [0u8; 4];
    c.write_all(b"one!").unwrap();
    c.read_exact(&mut b).unwrap();
    // Idle for three client timeouts, which the tunnel timeout overrides.
    c.set_read_timeout(Some(Duration::from_millis(600)))
        .unwrap();
    let idle = c.read(&mut b);
    assert!(
        idle.is_err(),
        "nothing arrives and nothing closes while idle: {idle:?}"
    );
    c.write_all(b"two!").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"two!");
}

#[test]
fn timeout_client_fin_closes_a_half_closed_connection() {
    use std::sync::atomic::Ordering::SeqCst;
    // The server says its piece, half-closes, then waits for the client forever.
    let be = Backend::start(|mut s| {
        s.write_all(b"bye\n").unwrap();
        shutdown_write(&s);
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    });
    let port = free_port();
    let conf = format!(
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  \
         timeout client-fin 300ms\n  timeout server-fin 300ms\nlisten f\n  bind 127.0.0.1:{port}\n  server s1 {}\n",
        be.addr()
    );
    let _l4 = L4lb::start(&conf);
    let mut c = connect(port);
    let mut head = Vec::new();
    c.read_to_end(&mut head).unwrap();
    assert_eq!(head, b"bye\n");
    let half_closed_at = Instant::now();
    // The client neither sends nor closes: the fin timeout, not the 30 s idle
    // one, ends it, and the server sees its EOF.
    let counts = &be.counts;
    assert!(wait_until(Duration::from_secs(5), || counts
        .active
        .load(SeqCst)
        == 0));
    let took = half_closed_at.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "not before the fin timeout: {took:?}"
    );
}

/// Reads one line, then hangs up without a word: a server dying mid-request.
fn mute() -> Backend {
    Backend::start(|mut s| {
        let _ = read_line(&mut s);
    })
}

fn first_mute_then_echo(port: u16, mute: &Backend, echo: &Backend, extra: &str) -> String {
    format!(
        "defaults\n  mode tcp\n  timeout client 10s\n  timeout server 10s\nlisten l\n  \
         bind 127.0.0.1:{port}\n  balance first\n{extra}  server mute {}\n  server echo {}\n",
        mute.addr(),
        echo.addr()
    )
}

#[test]
fn retry_on_empty_response_replays_the_request_on_another_server() {
    let (mute, echo) = (mute(), Backend::echo());
    let port = free_port();
    let _l4 = L4lb::start(&first_mute_then_echo(
        port,
        &mute,
        &echo,
        "  retry-on conn-failure empty-response\n",
    ));
    for i in 0..5 {
        let mut c = connect(port);
        let line = format!("request {i}");
        c.write_all(format!("{line}\n").as_bytes()).unwrap();
        assert_eq!(
            read_line(&mut c).unwrap(),
            line,
            "mute hung up, echo got the same bytes"
        );
    }
    let hung_up = mute.counts.total.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(hung_up, 5, "each request went to mute first");
}

#[test]
fn without_retry_on_empty_response_the_client_sees_the_hang_up() {
    let (mute, echo) = (mute(), Backend::echo());
    let port = free_port();
    let _l4 = L4lb::start(&first_mute_then_echo(port, &mute, &echo, ""));
    let mut c = connect(port);
    c.write_all(b"request\n").unwrap();
    let mut rest = Vec::new();
    let got = c.read_to_end(&mut rest);
    assert!(
        matches!(got, Ok(0)) || got.is_err(),
        "nothing but the hang-up: {got:?} {rest:?}"
    );
}
