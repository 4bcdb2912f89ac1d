//! Choosing and counting servers under faults (issue 9, S9, S13, S15-S18),
//! where the other suites do not already: no usable server at all, retries
//! that alternate away from the server that just failed, weighted shares,
//! source hashing that keeps clients put when a server leaves, maxconn with
//! every algorithm, and session counts back to zero after every kind of end.

mod common;
#[path = "common/fault.rs"]
mod fault;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use common::*;
use fault::*;

/// A scripted backend that answers `name` with its name and then holds
/// the connection until the client's EOF (or reset).
fn named(name: &'static str) -> Backend {
    scripted(move |word, mut s| {
        if word == "name" {
            let _ = s.write_all(format!("{name}\n").as_bytes());
            let _ = receive(&mut s);
        }
    })
}

/// Sends `name` (before any server may be connected) on a new connection.
fn ask(c: &mut TcpStream) {
    c.write_all(b"name\n").unwrap();
}

/// A connection and the name of the server it reached.
fn who(port: u16) -> (String, TcpStream) {
    let mut c = connect(port);
    ask(&mut c);
    let name = read_line(&mut c).unwrap();
    (name, c)
}

/// A client of a backend whose servers all refuse: sends a request, reads
/// until the end, and says how it ended. The reset can come before the
/// connect has even returned, or before the request is written.
fn refused_client(port: u16) -> End {
    let mut c = match TcpStream::connect_timeout(&addr(port), LIMIT) {
        Ok(c) => c,
        Err(e) => return End::of(&e),
    };
    c.set_read_timeout(Some(LIMIT)).unwrap();
    if let Err(e) = c.write_all(b"hello") {
        return End::of(&e);
    }
    let got = receive(&mut c);
    assert_eq!(got.len, 0, "{got:?}");
    got.end
}

#[test]
fn with_every_server_refusing_clients_are_reset_after_retries_that_alternate() {
    let (dead0, dead1) = (addr(free_port()), addr(free_port()));
    let lb = Lb::start(&[dead0, dead1], "balance roundrobin\nretries 3");
    for _ in 0..4 {
        let t = Instant::now();
        let end = refused_client(lb.port);
        assert_eq!(end, End::Reset, "disconnected, no hang");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }
    // Four attempts each, never twice in a row on the same server.
    assert_eq!(lb.stat("px", "s0", "econ"), 8);
    assert_eq!(lb.stat("px", "s1", "econ"), 8);
    assert_eq!(lb.stat("px", "BACKEND", "wretr"), 12);
    lb.wait_states(4);
    for line in lb.l4.out_lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f[6], "SC", "{line}");
        assert!(f[7].ends_with("/+3"), "three retries, redispatched: {line}");
    }
    lb.audit(&[dead0.port(), dead1.port()]);
}

#[test]
fn weighted_round_robin_splits_connections_by_weight() {
    let (a, b) = (named("a"), named("b"));
    let port = free_port();
    // One worker: round robin state is per worker, so the split is exact.
    let servers = format!(
        "listen px\n    bind 127.0.0.1:{port}\n    balance roundrobin\n    \
         server a {} weight 10\n    server b {} weight 20\n",
        a.addr(),
        b.addr()
    );
    let lb = Lb::start_sections("nbthread 1", &[(port, servers)]);
    let mut names = BTreeMap::new();
    for _ in 0..30 {
        let (name, c) = who(lb.port);
        *names.entry(name).or_insert(0) += 1;
        drop(c);
    }
    assert_eq!(names, BTreeMap::from([("a".into(), 10), ("b".into(), 20)]));
    assert_eq!(
        (lb.stat("px", "a", "stot"), lb.stat("px", "b", "stot")),
        (10, 20)
    );
    lb.audit(&[a.port, b.port]);
}

#[test]
fn source_hash_keeps_clients_put_and_a_leaving_server_moves_only_its_own() {
    let servers = [named("s0"), named("s1"), named("s2")];
    let addrs: Vec<_> = servers.iter().map(Backend::addr).collect();
    let lb = Lb::start(&addrs, "balance source\nhash-type consistent");
    let ips: Vec<[u8; 4]> = (2..26).map(|i| [127, 0, 0, i]).collect();
    let place = |ip: [u8; 4]| {
        let mut c = connect_from(ip, lb.port);
        ask(&mut c);
        read_line(&mut c).unwrap()
    };
    let before: Vec<String> = ips.iter().map(|&ip| place(ip)).collect();
    for name in ["s0", "s1", "s2"] {
        assert!(
            before.iter().any(|n| n == name),
            "every server has clients: {before:?}"
        );
    }
    let again: Vec<String> = ips.iter().map(|&ip| place(ip)).collect();
    assert_eq!(
        before, again,
        "each address keeps its server, on either worker"
    );
    assert_eq!(lb.api("disable server px/s1"), "\n");
    let without: Vec<String> = ips.iter().map(|&ip| place(ip)).collect();
    for (i, (was, now)) in before.iter().zip(&without).enumerate() {
        if was == "s1" {
            assert_ne!(now, "s1", "{:?} left the disabled server", ips[i]);
        } else {
            assert_eq!(was, now, "{:?} did not move", ips[i]);
        }
    }
    assert_eq!(lb.api("enable server px/s1"), "\n");
    let back: Vec<String> = ips.iter().map(|&ip| place(ip)).collect();
    assert_eq!(before, back, "the mapping comes back with the server");
    lb.audit(&servers.iter().map(|s| s.port).collect::<Vec<_>>());
}

/// Three servers of maxconn 1 under `algo`: three held connections take one
/// each, a fourth queues and gets the server that frees first.
fn maxconn_holds_under(algo: &str) {
    let servers = [named("s0"), named("s1"), named("s2")];
    let addrs: Vec<_> = servers.iter().map(Backend::addr).collect();
    let lb = Lb::start(
        &addrs,
        &format!("balance {algo}\ndefault-server maxconn 1\ntimeout queue 20s"),
    );
    let mut held: BTreeMap<String, TcpStream> = BTreeMap::new();
    for _ in 0..3 {
        let (name, c) = who(lb.port);
        assert!(
            held.insert(name.clone(), c).is_none(),
            "{algo}: {name} twice"
        );
    }
    let mut queued = connect(lb.port);
    ask(&mut queued);
    let waiting = wait_until(LIMIT, || lb.stat("px", "BACKEND", "scur") == 4);
    assert!(waiting, "{algo}: {}", lb.api("show stat"));
    for s in ["s0", "s1", "s2"] {
        assert_eq!(lb.stat("px", s, "scur"), 1, "{algo}: {s}");
    }
    drop(held.remove("s1"));
    assert_eq!(
        read_line(&mut queued).unwrap(),
        "s1",
        "{algo}: the freed slot"
    );
    for s in &servers {
        assert_eq!(s.counts.max_active.load(SeqCst), 1, "{algo}");
    }
    drop((held, queued));
    lb.audit(&servers.iter().map(|s| s.port).collect::<Vec<_>>());
}

#[test]
fn maxconn_holds_under_roundrobin() {
    maxconn_holds_under("roundrobin");
}

#[test]
fn maxconn_holds_under_leastconn() {
    maxconn_holds_under("leastconn");
}

#[test]
fn maxconn_holds_under_random() {
    maxconn_holds_under("random");
}

#[test]
fn a_full_server_queues_its_clients_rather_than_spilling_to_the_backup() {
    let (main, spare) = (named("main"), named("spare"));
    let port = free_port();
    let section = format!(
        "listen px\n    bind 127.0.0.1:{port}\n    timeout queue 20s\n    \
         server main {} maxconn 1\n    server spare {} backup\n",
        main.addr(),
        spare.addr()
    );
    let lb = Lb::start_sections("", &[(port, section)]);
    let (name, first) = who(lb.port);
    assert_eq!(name, "main");
    let mut second = connect(lb.port);
    ask(&mut second);
    assert!(wait_until(LIMIT, || lb.stat("px", "BACKEND", "scur") == 2));
    drop(first);
    assert_eq!(
        read_line(&mut second).unwrap(),
        "main",
        "queued, not sent to the backup"
    );
    assert_eq!(spare.counts.total.load(SeqCst), 0);
    drop(second);
    lb.audit(&[main.port, spare.port]);
}

#[test]
fn a_server_slot_comes_back_after_every_kind_of_end() {
    // Connections that say `hold-reset` are reset by the server when told.
    let (reset_tx, reset_rx) = one_shot();
    let be = scripted(move |word, mut s| match word {
        "hold" => drop(receive(&mut s)),
        "hold-reset" => {
            let _ = reset_rx.lock().unwrap().recv_timeout(LIMIT);
            reset(s);
        }
        _ => {}
    });
    let lb = Lb::start(&[be.addr()], "default-server maxconn 1\ntimeout queue 20s");
    let served = |n: usize| wait_until(LIMIT, || be.counts.total.load(SeqCst) == n);
    let queued = || wait_until(LIMIT, || lb.stat("px", "BACKEND", "scur") == 2);
    let open = |word: &str| {
        let mut c = connect(lb.port);
        c.write_all(format!("{word}\n").as_bytes()).unwrap();
        c
    };
    // Each connection ends its own way; the one queued behind it must get
    // the slot.
    let first = open("hold");
    assert!(served(1));
    let mut second = open("hold-reset");
    assert!(queued());
    reset(first);
    assert!(served(2), "after a client reset");
    let mut third = open("hold");
    assert!(queued());
    reset_tx.send(()).unwrap();
    assert_eq!(receive(&mut second).end, End::Reset);
    assert!(served(3), "after a server reset");
    let mut fourth = open("echo");
    assert!(queued());
    shutdown_write(&third);
    assert_eq!(receive(&mut third).end, End::Eof);
    assert!(served(4), "after a clean close");
    fourth.write_all(b"x").unwrap();
    shutdown_write(&fourth);
    let got = receive(&mut fourth);
    assert_eq!((got.head.as_slice(), got.end), (&b"x"[..], End::Eof));
    drop((second, third, fourth));
    assert_eq!(lb.wait_states(4), ["CD", "SD", "--", "--"]);
    assert_eq!(lb.stat("px", "s0", "smax"), 1);
    lb.audit(&[be.port]);
}
