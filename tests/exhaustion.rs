//! l4lb's own shortages (issue 9, bug 4): when l4lb cannot open a socket to
//! a server (EMFILE here, forced by lowering its RLIMIT_NOFILE at run time),
//! the server is not blamed: no connect error, no retry, no `observe`
//! verdict. The client waits (up to `timeout queue`) and is served once
//! fds are back, or is refused with a reset and an `RC` log line.
// prlimit, unshare and the loopback ioctls are libc calls.
#![allow(unsafe_code)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(20);

/// The soft and hard RLIMIT_NOFILE of process `pid`, set or read.
fn nofile(pid: u32, new: Option<(u64, u64)>) -> (u64, u64) {
    let new = new.map(|(cur, max)| libc::rlimit {
        rlim_cur: cur,
        rlim_max: max,
    });
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let newp = new.as_ref().map_or(std::ptr::null(), |n| n as *const _);
    // SAFETY: both pointers are valid for the call; the test runs as root
    // (or as l4lb's user), which may change its limits.
    let rc = unsafe { libc::prlimit(pid as libc::pid_t, libc::RLIMIT_NOFILE, newp, &mut old) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    (old.rlim_cur, old.rlim_max)
}

/// The lowest fd number `pid` does not use: the next one it will get.
fn lowest_free_fd(pid: u32) -> u64 {
    let used: std::collections::HashSet<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    (0..).find(|fd| !used.contains(fd)).unwrap()
}

/// Lowers l4lb's fd limit so that exactly one more fd can be opened: the
/// next accept succeeds, the socket for its server connection fails.
fn leave_one_fd(pid: u32) -> (u64, u64) {
    let (cur, max) = nofile(pid, None);
    nofile(pid, Some((lowest_free_fd(pid) + 1, max)));
    (cur, max)
}

/// The `show stat` value of `column` in row (`px`, `sv`).
fn stat(sock: &std::path::Path, px: &str, sv: &str, column: &str) -> String {
    show_stat(sock, px, sv, column)
}

/// The server s1 was never charged for l4lb's shortage: no connect error,
/// no retry, its state as it was (`status`); and the counters are back to
/// zero.
fn assert_not_charged(sock: &std::path::Path, status: &str) {
    assert_eq!(stat(sock, "be", "s1", "econ"), "0");
    assert_eq!(stat(sock, "be", "s1", "wretr"), "0");
    assert_eq!(
        stat(sock, "be", "s1", "status"),
        status,
        "the server's state is unchanged"
    );
    assert!(
        wait_until(WAIT, || stat(sock, "be", "s1", "scur") == "0"
            && stat(sock, "fe", "FRONTEND", "scur") == "0"),
        "counters back to zero"
    );
}

/// Lowers l4lb's fd limit to one free fd and connects a client, which
/// l4lb accepts with that fd and then has none for the server. Checks that
/// premise before handing the client over: l4lb holds one fd more than at
/// `baseline` (the accepted client), no connection reached the server, and
/// the client waits. An fd freed by l4lb right after the count would void
/// it (the server would get its connection): then the limit is restored and
/// it tries again.
fn starved_client(
    l: &L4lb,
    baseline: usize,
    port: u16,
    backend: &Backend,
) -> (TcpStream, (u64, u64)) {
    for _ in 0..5 {
        let served = backend
            .counts
            .total
            .load(std::sync::atomic::Ordering::SeqCst);
        let limits = leave_one_fd(l.pid());
        let mut c = connect(port);
        let waiting = still_waiting(&mut c, Duration::from_millis(300));
        let reached = backend
            .counts
            .total
            .load(std::sync::atomic::Ordering::SeqCst)
            != served;
        if waiting && !reached && l.fd_count() == baseline + 1 {
            return (c, limits);
        }
        nofile(l.pid(), Some(limits));
        drop(c);
        assert!(wait_until(WAIT, || l.fd_count() == baseline), "fds back");
    }
    panic!("l4lb kept finding a free fd for the server connection");
}

/// An echo server and l4lb in front of it (with a runtime API socket and
/// connection logs on stdout): (server, l4lb, API socket, l4lb's port).
/// `observe layer4` with error-limit 1: a single connect error blamed on
/// the server would take it DOWN.
fn start(tag: &str) -> (Backend, L4lb, std::path::PathBuf, u16) {
    let backend = Backend::echo();
    let dir = TempDir::new(tag);
    let sock = dir.0.join("api.sock");
    let port = free_port();
    let conf = format!(
        "global\n    stats socket {} level admin\n\
         defaults\n    timeout connect 2s\n    timeout queue 3s\n    retries 3\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n    \
         log stdout format raw local0\n    option tcplog\n\
         backend be\n    server s1 {} observe layer4 error-limit 1 on-error mark-down\n",
        sock.display(),
        backend.addr()
    );
    let path = dir.0.join("l4lb.conf");
    std::fs::write(&path, conf).unwrap();
    let l = L4lb::spawn(&["-f", path.to_str().unwrap()], dir);
    (backend, l, sock, port)
}

/// A client refused past `timeout queue`: its read `seen` got a reset, not
/// a clean EOF, and l4lb logged `RC`.
fn assert_refused(seen: std::io::Result<usize>, l: &L4lb) {
    assert!(
        matches!(&seen, Err(e) if e.kind() == ErrorKind::ConnectionReset),
        "refused with a reset, got {seen:?}"
    );
    assert!(
        wait_until(WAIT, || l.out_lines().iter().any(|x| x.contains(" RC "))),
        "an RC log line: {:?}",
        l.out_lines()
    );
}

/// Whether `c` is still waiting: no byte, no EOF, no reset within `d`.
fn still_waiting(c: &mut TcpStream, d: Duration) -> bool {
    c.set_read_timeout(Some(d)).unwrap();
    matches!(c.read(&mut [0u8; 1]), Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
}

#[test]
fn l4lb_out_of_fds_neither_blames_nor_marks_down_a_healthy_server() {
    let (backend, l, sock, port) = start("exhaustion");
    let pid = l.pid();
    let baseline = l.fd_count();
    let status = stat(&sock, "be", "s1", "status");
    // The API connection is closed once its answer is out.
    assert!(wait_until(WAIT, || l.fd_count() == baseline));

    // 1. Short of fds for a while: the client waits, then is served.
    let (mut c, limits) = starved_client(&l, baseline, port, &backend);
    nofile(pid, Some(limits));
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.write_all(b"ping\n").unwrap();
    assert_eq!(
        read_line(&mut c).unwrap(),
        "ping",
        "served once fds are back"
    );
    drop(c);
    assert!(
        wait_until(WAIT, || l.fd_count() == baseline),
        "fds back to baseline"
    );

    // 2. Short of fds past timeout queue: a reset, logged `RC`.
    let (mut c, limits) = starved_client(&l, baseline, port, &backend);
    c.set_read_timeout(Some(WAIT)).unwrap();
    let seen = c.read(&mut [0u8; 1]);
    nofile(pid, Some(limits));
    assert_refused(seen, &l);

    // The server was never charged: no connect error, no retry, still UP.
    assert_not_charged(&sock, &status);
    let served = backend
        .counts
        .total
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(served, 1, "one connection reached the server");
    assert!(
        wait_until(WAIT, || l.fd_count() == baseline),
        "fds back to baseline"
    );
    assert!(
        l.log_text().contains("pausing accepts"),
        "the shortage is logged: {}",
        l.log_text()
    );
}

/// Brings the loopback interface of this thread's network namespace up.
fn loopback_up() {
    // SAFETY: a plain socket for the ioctls, closed before returning; the
    // ifreq is zeroed, then filled with the name "lo" and the flags.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let mut req: libc::ifreq = std::mem::zeroed();
        for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *d = *s as libc::c_char;
        }
        assert_eq!(libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req), 0);
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        let rc = libc::ioctl(fd, libc::SIOCSIFFLAGS, &mut req);
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        assert_eq!(rc, 0, "bring lo up: {err}");
    }
}

/// Sets the local port range of this thread's network namespace.
fn port_range(low: u16, high: u16) {
    std::fs::write(
        "/proc/sys/net/ipv4/ip_local_port_range",
        format!("{low} {high}"),
    )
    .expect("set ip_local_port_range");
}

/// Gives the namespace its whole port range back when dropped, also on a
/// failed assertion: stopping a backend takes a port (it connects to itself
/// to wake its accept loop).
struct WidePortsOnDrop;

impl Drop for WidePortsOnDrop {
    fn drop(&mut self) {
        port_range(32_768, 60_999);
    }
}

/// A client connecting from an explicit source port, so that it takes
/// nothing from the local port range.
fn connect_from(src_port: u16, port: u16) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&addr(src_port).into()).unwrap();
    s.connect(&addr(port).into()).unwrap();
    s.into()
}

/// With the local port range used up, a connect to the server fails with
/// EADDRNOTAVAIL: l4lb's shortage, not the server's. Runs in a network
/// namespace of its own (the test thread unshares one), whose port range
/// it narrows to a single port.
#[test]
fn an_exhausted_local_port_range_neither_blames_nor_marks_down_a_healthy_server() {
    std::thread::spawn(|| {
        // SAFETY: unshare only changes this thread's namespaces.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNET) needs root: {}",
            std::io::Error::last_os_error()
        );
        loopback_up();
        ports_run_out();
    })
    .join()
    .unwrap();
}

fn ports_run_out() {
    let (_backend, l, sock, port) = start("ports");
    let status = stat(&sock, "be", "s1", "status");
    // Nothing else runs in this namespace: these ports are free.
    let (one, two, three) = (50_001, 50_002, 50_003);
    let _wide = WidePortsOnDrop;
    port_range(45_000, 45_000);

    // The one local port carries a first server connection.
    let mut first = connect_from(one, port);
    first.set_read_timeout(Some(WAIT)).unwrap();
    first.write_all(b"one\n").unwrap();
    assert_eq!(read_line(&mut first).unwrap(), "one");

    // A second client finds no port for its server connection: it waits,
    // and is served once the range is wider.
    let mut second = connect_from(two, port);
    assert!(
        still_waiting(&mut second, Duration::from_millis(300)),
        "the client waits while l4lb has no local port"
    );
    port_range(45_000, 45_001);
    second.set_read_timeout(Some(WAIT)).unwrap();
    second.write_all(b"two\n").unwrap();
    assert_eq!(
        read_line(&mut second).unwrap(),
        "two",
        "served once a port is free"
    );

    // A third, with both ports taken past timeout queue: a reset, `RC`.
    let mut third = connect_from(three, port);
    third.set_read_timeout(Some(WAIT)).unwrap();
    let seen = third.read(&mut [0u8; 1]);
    assert_refused(seen, &l);
    // The two served clients were never disturbed.
    first.write_all(b"still one\n").unwrap();
    assert_eq!(read_line(&mut first).unwrap(), "still one");
    drop((first, second));

    assert_not_charged(&sock, &status);
}
