//! Limits and leaks: maxconn at the backends, many short connections
//! leaving no fd and no CLOSE_WAIT behind.

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
        err.contains("maxconn 10000000 needs") && err.contains("lower maxconn"),
        "{err}"
    );
}
