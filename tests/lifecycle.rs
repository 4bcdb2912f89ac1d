//! The process's life through signals: soft stop (SIGTERM, SIGUSR1) lets
//! open connections finish, `hard-stop-after` bounds it, SIGINT stops at
//! once, SIGHUP reloads; and what systemd hears over NOTIFY_SOCKET.

mod common;

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Bounds for things another process does "soon"; generous, the machine
/// has 2 noisy cores.
const SOON: Duration = Duration::from_secs(10);

/// `conf` with extra lines in its global section.
fn conf_global(port: u16, be: &Backend, global: &str) -> String {
    conf(port, &[be.addr()], "").replacen("global\n", &format!("global\n    {global}\n"), 1)
}

/// Sends a line and reads it back through an echo backend.
fn echo_line(c: &mut TcpStream, line: &str) {
    c.write_all(format!("{line}\n").as_bytes()).unwrap();
    assert_eq!(read_line(c).unwrap(), line);
}

/// A connect to `port` is refused: nothing listens there any more.
fn refused(port: u16) -> bool {
    matches!(
        TcpStream::connect(addr(port)),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused
    )
}

/// The proxy closed its side of `c`: EOF or a reset, no more data.
fn closed_by_proxy(c: &mut TcpStream) -> bool {
    c.set_read_timeout(Some(SOON)).unwrap();
    closed_by_peer(c)
}

/// Streams `len` pattern bytes through `c` to an echo backend and back,
/// half-closing when sent, and checks the sha256 of what comes back.
fn stream_through(c: TcpStream, seed: u64, len: usize) {
    let mut w = c.try_clone().unwrap();
    let writer = thread::spawn(move || {
        let sent = send_pattern(&mut w, seed, len).unwrap();
        shutdown_write(&w);
        sent
    });
    let mut r = c;
    let (n, got) = recv_all(&mut r).unwrap();
    let sent = writer.join().unwrap();
    assert_eq!(n, len, "every byte came back");
    assert_eq!(got, sent, "sha256 of the echoed stream");
}

/// Soft stop by `sig`: listeners close at once, the open connection keeps
/// working both ways, the process exits 0 when it ends.
fn soft_stop_lets_the_open_connection_finish(sig: i32) {
    let be = Backend::echo();
    let port = free_port();
    let mut l4 = L4lb::start(&conf(port, &[be.addr()], ""));
    let mut c = connect(port);
    echo_line(&mut c, "before");

    l4.signal(sig);
    assert!(wait_until(SOON, || refused(port)), "listeners closed");
    assert!(l4.is_running(), "exited with a connection open");
    echo_line(&mut c, "during");
    stream_through(c, 7, 4 << 20);

    let status = l4.wait_exit(SOON).expect("exits once the connection ended");
    assert_eq!(status.code(), Some(0), "{}", l4.log_text());
    let log = l4.log_text();
    // At least the open one: a refused() probe may slip in before l4lb
    // reads the signal.
    assert!(
        log.contains("connection(s) left, no hard-stop-after"),
        "{log}"
    );
    assert!(log.contains("soft stop done"), "{log}");
}

#[test]
fn sigterm_stops_accepting_and_waits_for_the_open_connection() {
    soft_stop_lets_the_open_connection_finish(libc::SIGTERM);
}

#[test]
fn sigusr1_is_a_soft_stop_like_sigterm() {
    soft_stop_lets_the_open_connection_finish(libc::SIGUSR1);
}

#[test]
fn soft_stop_with_no_connection_exits_at_once() {
    let be = Backend::echo();
    let port = free_port();
    let l4 = L4lb::start(&conf(port, &[be.addr()], ""));
    let status = l4.stop();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_second_soft_stop_is_ignored_and_sigint_still_stops_at_once() {
    let be = Backend::echo();
    let port = free_port();
    let mut l4 = L4lb::start(&conf(port, &[be.addr()], ""));
    let mut c = connect(port);
    echo_line(&mut c, "one");

    l4.signal(libc::SIGTERM);
    assert!(wait_until(SOON, || refused(port)), "listeners closed");
    l4.signal(libc::SIGUSR1);
    assert!(
        wait_until(SOON, || l4.log_text().contains("already stopping, ignored")),
        "{}",
        l4.log_text()
    );
    assert!(l4.is_running());
    echo_line(&mut c, "two");

    l4.signal(libc::SIGINT);
    let status = l4
        .wait_exit(SOON)
        .expect("SIGINT stops a soft stop at once");
    assert_eq!(status.code(), Some(0), "{}", l4.log_text());
    assert!(closed_by_proxy(&mut c), "the open connection was closed");
}

#[test]
fn hard_stop_after_closes_what_is_left_and_exits_0() {
    let be = Backend::echo();
    let port = free_port();
    let limit = Duration::from_millis(300);
    let mut l4 = L4lb::start(&conf_global(port, &be, "hard-stop-after 300ms"));
    let mut c = connect(port);
    echo_line(&mut c, "held open");

    let sent = Instant::now();
    l4.signal(libc::SIGTERM);
    let status = l4.wait_exit(SOON).expect("exits after hard-stop-after");
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(0), "{}", l4.log_text());
    // The deadline starts when l4lb reads the signal, after `sent`.
    assert!(
        took >= limit,
        "exited after {took:?}, before hard-stop-after"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(closed_by_proxy(&mut c), "the held connection was closed");
    let log = l4.log_text();
    assert!(log.contains("hard stop after 300ms"), "{log}");
    assert!(log.contains("hard-stop-after 300ms expired"), "{log}");
}

#[test]
fn sigint_stops_at_once_with_connections_open() {
    let be = Backend::echo();
    let port = free_port();
    let mut l4 = L4lb::start(&conf(port, &[be.addr()], ""));
    let mut conns: Vec<TcpStream> = (0..3).map(|_| connect(port)).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        echo_line(c, &format!("conn {i}"));
    }
    let sent = Instant::now();
    l4.signal(libc::SIGINT);
    let status = l4.wait_exit(SOON).expect("SIGINT stops at once");
    assert_eq!(status.code(), Some(0), "{}", l4.log_text());
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    for c in &mut conns {
        assert!(closed_by_proxy(c), "open connections are closed");
    }
    assert!(refused(port), "listener closed");
}

#[test]
fn sighup_reloads_and_keeps_serving() {
    let be = Backend::echo();
    let port = free_port();
    let l4 = L4lb::start(&conf(port, &[be.addr()], ""));
    l4.signal(libc::SIGHUP);
    assert!(
        wait_until(SOON, || l4.log_text().contains("reload: applied")),
        "{}",
        l4.log_text()
    );
    echo_line(&mut connect(port), "still serving");
    assert_eq!(l4.stop().code(), Some(0));
}

/// Receives one notify datagram, bounded.
fn recv_notify(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("a notify datagram");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// READY=1 with MAINPID once listening, STOPPING=1 on SIGTERM.
fn notify_ready_then_stopping(sock: &UnixDatagram, notify_socket: &str) {
    sock.set_read_timeout(Some(SOON)).unwrap();
    let be = Backend::echo();
    let port = free_port();
    let mut l4 = L4lb::start_with_env(
        &conf(port, &[be.addr()], ""),
        &[("NOTIFY_SOCKET", notify_socket)],
    );
    let ready = recv_notify(sock);
    let lines: Vec<&str> = ready.lines().collect();
    assert!(lines.contains(&"READY=1"), "{ready}");
    assert!(
        lines.contains(&format!("MAINPID={}", l4.pid()).as_str()),
        "{ready}"
    );
    assert!(lines.iter().any(|l| l.starts_with("STATUS=")), "{ready}");
    echo_line(&mut connect(port), "ready means listening");

    // A reload: RELOADING=1 with the monotonic clock, then READY=1 again.
    l4.signal(libc::SIGHUP);
    let reloading = recv_notify(sock);
    let lines: Vec<&str> = reloading.lines().collect();
    assert!(lines.contains(&"RELOADING=1"), "{reloading}");
    assert!(
        lines.iter().any(|l| l
            .strip_prefix("MONOTONIC_USEC=")
            .is_some_and(|v| v.parse::<u64>().is_ok())),
        "{reloading}"
    );
    let ready = recv_notify(sock);
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready}");

    l4.signal(libc::SIGTERM);
    let stopping = recv_notify(sock);
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping}");
    let status = l4.wait_exit(SOON).expect("exits");
    assert_eq!(status.code(), Some(0), "{}", l4.log_text());
}

#[test]
fn sd_notify_on_a_socket_path() {
    let dir = TempDir::new("notify");
    let path = dir.0.join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    notify_ready_then_stopping(&sock, path.to_str().unwrap());
}

#[test]
fn sd_notify_on_an_abstract_socket() {
    let name = format!("l4lb-test-notify-{}", std::process::id());
    let sock = UnixDatagram::bind_addr(&UnixAddr::from_abstract_name(&name).unwrap()).unwrap();
    notify_ready_then_stopping(&sock, &format!("@{name}"));
}
