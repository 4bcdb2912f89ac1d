//! Limits and leaks: maxconn at the backends, many short connections
//! leaving no fd and no CLOSE_WAIT behind, the fd budget refusing a conf
//! the fd limit cannot hold, at start and on a reload.

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::Duration;

use common::*;

/// A backend that answers one byte after a short hold, then waits for EOF:
/// each connection stays open long enough for limits to matter.
fn slow_backend() -> Backend {
    Backend::start(|mut s| {
        let mut b = [0u8; 1];
        if s.read_exact(&mut b).is_err() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
        let _ = s.write_all(&b);
        let _ = s.read(&mut b);
    })
}

/// `n` clients at once, each sends a byte, waits for it back, closes.
/// Returns how many got their byte back.
fn burst(port: u16, n: usize) -> usize {
    let ok = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let ok = Arc::clone(&ok);
            thread::spawn(move || {
                let mut c = connect(port);
                let mut b = [7u8; 1];
                if c.write_all(&b).is_ok() && c.read_exact(&mut b).is_ok() && b[0] == 7 {
                    ok.fetch_add(1, SeqCst);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    ok.load(SeqCst)
}

#[test]
fn server_maxconn_is_never_exceeded_and_excess_clients_wait() {
    let (a, b) = (slow_backend(), slow_backend());
    let port = free_port();
    let conf = format!(
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout queue 10s\n  timeout client 30s\n  timeout server 30s\n\
         listen l\n  bind 127.0.0.1:{port}\n  balance roundrobin\n  server a {} maxconn 3\n  server b {} maxconn 3\n",
        a.addr(),
        b.addr()
    );
    let _l4 = L4lb::start(&conf);
    assert_eq!(
        burst(port, 40),
        40,
        "every client is served, excess ones after a wait"
    );
    assert!(
        a.counts.max_active.load(SeqCst) <= 3,
        "server a saw {}",
        a.counts.max_active.load(SeqCst)
    );
    assert!(
        b.counts.max_active.load(SeqCst) <= 3,
        "server b saw {}",
        b.counts.max_active.load(SeqCst)
    );
    assert_eq!(
        a.counts.total.load(SeqCst) + b.counts.total.load(SeqCst),
        40
    );
}

#[test]
fn global_maxconn_holds_clients_in_the_accept_queue() {
    let be = slow_backend();
    let port = free_port();
    let conf = format!(
        "global\n  maxconn 4\n  nbthread 2\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  \
         timeout server 30s\nlisten l\n  bind 127.0.0.1:{port}\n  server s {}\n",
        be.addr()
    );
    let _l4 = L4lb::start(&conf);
    assert_eq!(burst(port, 30), 30);
    let max = be.counts.max_active.load(SeqCst);
    assert!(
        max <= 4,
        "backend saw {max} connections at once with maxconn 4"
    );
}

#[test]
fn ten_thousand_short_connections_leave_no_fd_and_no_close_wait() {
    let (a, b) = (Backend::echo(), Backend::echo());
    let port = free_port();
    let l4 = L4lb::start(&conf(port, &[a.addr(), b.addr()], "balance roundrobin"));
    let one = |port| {
        let mut c = connect(port);
        let mut buf = [1u8; 1];
        c.write_all(&buf).unwrap();
        c.read_exact(&mut buf).unwrap();
    };
    for _ in 0..20 {
        one(port);
    }
    let ports = [port, a.port, b.port];
    assert!(wait_until(Duration::from_secs(5), || close_wait_count(
        &ports
    ) == 0));
    let baseline = l4.fd_count();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            thread::spawn(move || {
                for _ in 0..1250 {
                    one(port);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        a.counts.total.load(SeqCst) + b.counts.total.load(SeqCst),
        10_020
    );
    let settled = wait_until(Duration::from_secs(10), || l4.fd_count() == baseline);
    assert!(settled, "fds: baseline {baseline}, now {}", l4.fd_count());
    assert!(
        wait_until(Duration::from_secs(10), || close_wait_count(&ports) == 0),
        "{} sockets stuck in CLOSE_WAIT",
        close_wait_count(&ports)
    );
}

#[test]
fn maxconn_that_cannot_fit_the_fd_limit_refuses_to_start() {
    // 20 million fds is above any kernel's nr_open: no limit can be raised to it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_l4lb"))
        .args([
            "--bind",
            "127.0.0.1:1",
            "--server",
            "127.0.0.1:2",
            "--maxconn",
            "10000000",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the conf needs 200")
            && err.contains("for connections (2 x maxconn 10000000)")
            && err.contains("or lower maxconn"),
        "{err}"
    );
}

/// The fd limit the budget tests run l4lb under (soft and hard, not raisable).
const LOW_FD_LIMIT: u64 = 256;

/// A conf with `stats maxconn` of `stats_maxconn` over `server`.
fn stats_conf(
    dir: &TempDir,
    stats_maxconn: usize,
    port: u16,
    server: std::net::SocketAddr,
) -> String {
    format!(
        "global\n    nbthread 2\n    maxconn 50\n    stats socket {} level admin\n    \
         stats maxconn {stats_maxconn}\n\ndefaults\n    mode tcp\n    timeout client 30s\n    \
         timeout server 30s\n\nfrontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\n\
         backend be\n    server s0 {server}\n",
        dir.0.join("l4lb.sock").display()
    )
}

/// Issue 9, bug 4: the fds `stats maxconn` needs count, not only 2 x maxconn.
#[test]
fn bug4_a_stats_maxconn_that_cannot_fit_the_fd_limit_refuses_to_start() {
    let dir = TempDir::new("fdbudget");
    let path = dir.0.join("l4lb.conf");
    std::fs::write(
        &path,
        stats_conf(&dir, 1000, free_port(), addr(free_port())),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_l4lb"));
    cmd.args(["-f", path.to_str().unwrap()]);
    let mut child = limit_fds(&mut cmd, LOW_FD_LIMIT)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut status = None;
    wait_until(Duration::from_secs(10), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{err}");
    assert!(!err.contains("l4lb ready"), "{err}");
    // 2 x 50 for connections + 1000 and more for the runtime API: over 256.
    let line = err
        .lines()
        .find(|l| l.contains("file descriptors at worst"))
        .unwrap_or_else(|| panic!("no refusal: {err}"));
    assert!(
        line.contains(&format!(
            "but the fd limit is {LOW_FD_LIMIT} and could not be raised"
        )),
        "{line}"
    );
    assert!(
        line.contains("100 for connections (2 x maxconn 50)"),
        "{line}"
    );
    assert!(line.contains("stats maxconn 1000"), "{line}");
    assert!(line.contains("or lower maxconn or stats maxconn"), "{line}");
    // The sum in the message adds up to what it says is needed.
    let needed: u64 = line
        .split("the conf needs ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    let sum = line.split("could not be raised: ").nth(1).unwrap();
    let sum = sum.split("; raise").next().unwrap();
    let (total, terms) = sum.split_once(" = ").unwrap();
    assert_eq!(total.parse::<u64>().unwrap(), needed);
    let added: u64 = terms
        .split(" + ")
        .map(|t| t.split(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(added, needed, "{line}");
    assert!(needed > LOW_FD_LIMIT && needed < 1300, "{line}");
}

/// The same conf with a `stats maxconn` that fits starts under that limit;
/// a reload to one that does not is refused with the same arithmetic, and
/// the old conf runs on.
#[test]
fn bug4_a_reload_whose_fd_budget_does_not_fit_is_refused() {
    let backend = Backend::named("a");
    let port = free_port();
    let dir = TempDir::new("fdbudget");
    let (path, sock) = (dir.0.join("l4lb.conf"), dir.0.join("l4lb.sock"));
    let conf = |stats_maxconn| stats_conf(&dir, stats_maxconn, port, backend.addr());
    std::fs::write(&path, conf(10)).unwrap();
    let (big, other) = (conf(1000), conf(20));
    let l4 = L4lb::spawn_with_fd_limit(&["-f", path.to_str().unwrap()], dir, LOW_FD_LIMIT);
    assert_eq!(round_trip(port), "a");

    let reload = |text: &str, expect: &str| {
        let count = || l4.log_text().matches(expect).count();
        let before = count();
        std::fs::write(&path, text).unwrap();
        l4.signal(libc::SIGHUP);
        assert!(
            wait_until(Duration::from_secs(10), || count() > before),
            "no '{expect}' after SIGHUP:\n{}",
            l4.log_text()
        );
    };
    reload(&big, "reload: failed");
    let log = l4.log_text();
    let line = log.lines().find(|l| l.contains("reload: failed")).unwrap();
    assert!(
        line.contains("file descriptors at worst but the fd limit is 256 and could not be raised")
            && line.contains("stats maxconn 1000")
            && line.contains("or lower maxconn or stats maxconn"),
        "{line}"
    );
    assert_eq!(round_trip(port), "a", "still serving the old conf");
    let info = api_command(&sock, "show info");
    assert!(info.contains("ReloadFailures: 1\n"), "{info}");
    // A conf that fits still reloads.
    reload(&other, "reload: applied");
    assert_eq!(round_trip(port), "a");
}
