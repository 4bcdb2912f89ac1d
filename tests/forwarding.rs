//! Bytes through the proxy: bulk both ways, half-closes, slow readers,
//! resets. Each test starts its own backends and its own l4lb.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::Duration;

use common::*;
use sha2::{Digest, Sha256};

const MIB: usize = 1 << 20;

/// Sends `len` bytes each way at once and checks both sha256s; returns how
/// many pipes the proxy opened meanwhile.
fn stream_both_ways(len: usize, backend_extra: &str) -> usize {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let be = Backend::start(move |s| {
        let mut r = s.try_clone().unwrap();
        let writer = thread::spawn(move || {
            let mut w = s;
            let h = send_pattern(&mut w, 2, len).unwrap();
            shutdown_write(&w);
            h
        });
        let got = recv_all(&mut r).unwrap();
        let sent = writer.join().unwrap();
        tx.lock().unwrap().send((got, sent)).unwrap();
    });
    let port = free_port();
    let l4 = L4lb::start(&conf(port, &[be.addr()], backend_extra));
    // Pipes it inherited (cargo's jobserver, ...) are not its own.
    let inherited = l4.pipe_fd_count();
    let c = connect(port);
    let mut reader = c.try_clone().unwrap();
    let writer = thread::spawn(move || {
        let mut w = c;
        let h = send_pattern(&mut w, 1, len).unwrap();
        shutdown_write(&w);
        h
    });
    let (n, got) = recv_all(&mut reader).unwrap();
    let sent = writer.join().unwrap();
    let ((bn, bgot), bsent) = rx.recv_timeout(Duration::from_secs(120)).unwrap();
    assert_eq!(n, len, "client received every byte");
    assert_eq!(bn, len, "backend received every byte");
    assert_eq!(bgot, sent, "client -> server bytes intact");
    assert_eq!(got, bsent, "server -> client bytes intact");
    l4.pipe_fd_count() - inherited
}

#[test]
fn stream_256mib_both_ways_with_splice() {
    let pipes = stream_both_ways(256 * MIB, "option splice-auto");
    // Pipes stay in the worker's pool once made: proof splice was used.
    assert!(pipes > 0, "splice-auto spliced the bulk transfer");
}

#[test]
fn stream_256mib_both_ways_with_copy() {
    let pipes = stream_both_ways(256 * MIB, "no option splice-auto");
    assert_eq!(pipes, 0, "no pipe is ever made without splice-auto");
}

#[test]
fn server_that_speaks_first() {
    let be = Backend::named("banner-from-server");
    let port = free_port();
    let _l4 = L4lb::start(&conf(port, &[be.addr()], ""));
    let mut c = connect(port);
    assert_eq!(read_line(&mut c).unwrap(), "banner-from-server");
    c.write_all(b"ping\n").unwrap();
    assert_eq!(read_line(&mut c).unwrap(), "ping");
}

#[test]
fn client_half_close_then_10mb_reply_arrives_whole() {
    let be = Backend::start(|mut s| {
        let mut req = Vec::new();
        s.read_to_end(&mut req).unwrap();
        assert_eq!(req, b"GET everything");
        send_pattern(&mut s, 7, 10 * MIB).unwrap();
    });
    let port = free_port();
    let _l4 = L4lb::start(&conf(port, &[be.addr()], ""));
    let mut c = connect(port);
    c.write_all(b"GET everything").unwrap();
    shutdown_write(&c);
    let (n, hash) = recv_all(&mut c).unwrap();
    assert_eq!(n, 10 * MIB);
    assert_eq!(hash, pattern_hash(7, 10 * MIB));
}

#[test]
fn backend_half_close_while_client_keeps_sending() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let be = Backend::start(move |mut s| {
        s.write_all(b"done talking\n").unwrap();
        shutdown_write(&s);
        let got = recv_all(&mut s).unwrap();
        tx.lock().unwrap().send(got).unwrap();
    });
    let port = free_port();
    let _l4 = L4lb::start(&conf(port, &[be.addr()], ""));
    let mut c = connect(port);
    let mut head = Vec::new();
    c.read_to_end(&mut head).unwrap();
    assert_eq!(
        head, b"done talking\n",
        "server's bytes then its FIN reach the client"
    );
    // The other direction is still open: 10 MB more go through.
    let sent = send_pattern(&mut c, 9, 10 * MIB).unwrap();
    shutdown_write(&c);
    let (n, got) = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(n, 10 * MIB);
    assert_eq!(got, sent);
}

#[test]
fn backend_sends_50mb_and_closes_to_a_slow_reader() {
    let be = Backend::start(|mut s| {
        send_pattern(&mut s, 11, 50 * MIB).unwrap();
        // Dropped here: the server is long gone while bytes are still owed.
    });
    let port = free_port();
    let _l4 = L4lb::start(&conf(port, &[be.addr()], ""));
    let mut c = connect(port);
    let mut buf = vec![0u8; 16 * 1024];
    let mut hash = Sha256::new();
    let mut total = 0;
    let mut reads = 0u32;
    loop {
        let n = c.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        total += n;
        reads += 1;
        if reads.is_multiple_of(16) {
            // A slow consumer: the backend finishes and closes long before.
            thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(total, 50 * MIB);
    assert_eq!(
        <[u8; 32]>::from(hash.finalize()),
        pattern_hash(11, 50 * MIB)
    );
}

#[test]
fn reset_from_backend_reaches_client_as_reset() {
    let be = Backend::start(|mut s| {
        let mut b = [0u8; 5];
        s.read_exact(&mut b).unwrap();
        s.write_all(b"partial").unwrap();
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        // Dropped with linger 0: an RST, not a FIN.
    });
    let port = free_port();
    let _l4 = L4lb::start(&conf(port, &[be.addr()], ""));
    let mut c = connect(port);
    c.write_all(b"hello").unwrap();
    let mut got = Vec::new();
    let err = loop {
        let mut b = [0u8; 64];
        match c.read(&mut b) {
            Ok(0) => panic!("clean EOF after {got:?}: a reset was disguised as a clean close"),
            Ok(n) => got.extend_from_slice(&b[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
}

#[test]
fn quick_start_flags_without_conf() {
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let (sa, sb) = (a.addr().to_string(), b.addr().to_string());
    // One thread: round robin state is per worker, so the 5/5 split is exact.
    let args = [
        "--bind",
        &bind,
        "--server",
        &sa,
        "--server",
        &sb,
        "--balance",
        "roundrobin",
        "--threads",
        "1",
    ];
    let _l4 = L4lb::spawn(&args, TempDir::new("quick"));
    let mut names = Vec::new();
    for _ in 0..10 {
        let mut c = connect(port);
        names.push(read_line(&mut c).unwrap());
    }
    assert_eq!(names.iter().filter(|n| *n == "a").count(), 5, "{names:?}");
    assert_eq!(names.iter().filter(|n| *n == "b").count(), 5, "{names:?}");
}

#[test]
fn a_stalled_client_does_not_hold_up_others_on_the_same_worker() {
    let be = Backend::start(|mut s| {
        let _ = send_pattern(&mut s, 5, 20 * MIB);
    });
    let port = free_port();
    let conf = format!(
        "global\n  nbthread 1\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  \
         timeout server 30s\nlisten one\n  bind 127.0.0.1:{port}\n  server s {}\n",
        be.addr()
    );
    let _l4 = L4lb::start(&conf);
    // Never reads: its direction fills up and stays full.
    let _stalled = connect(port);
    for _ in 0..3 {
        let mut c = connect(port);
        let (n, hash) = recv_all(&mut c).unwrap();
        assert_eq!(n, 20 * MIB);
        assert_eq!(hash, pattern_hash(5, 20 * MIB));
    }
}

#[test]
fn ipv6_bind_and_server() {
    let Ok(v6) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback on this machine: nothing to test");
        return;
    };
    let server_port = v6.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut s, _) = v6.accept().unwrap();
        s.write_all(b"over v6\n").unwrap();
    });
    let port = free_port();
    let conf = format!(
        "defaults\n  mode tcp\n  timeout client 5s\n  timeout server 5s\nlisten six\n  \
         bind [::1]:{port}\n  bind 127.0.0.1:{port}\n  server s [::1]:{server_port}\n"
    );
    let _l4 = L4lb::start(&conf);
    let mut c = TcpStream::connect(("::1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(read_line(&mut c).unwrap(), "over v6");
    server.join().unwrap();
}
