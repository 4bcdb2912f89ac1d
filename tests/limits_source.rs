//! `server ... source ADDR:LOW-HIGH` and `bind ... maxconn N` (issue 11),
//! through real sockets: each connection to the server (and each check)
//! leaves from a port of the server's range, no two at once from the same
//! port whatever worker made them, a port is reused once its connection
//! closed, and a client finding every port taken waits as for any of
//! l4lb's own shortages (served when a port frees, `RC` past `timeout
//! queue`, the server never blamed); a listener at its bind's maxconn
//! leaves clients in the kernel's accept queue until one of its own closes.

mod common;
#[path = "common/limits.rs"]
mod limits;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use common::*;
use limits::*;

const WAIT: Duration = Duration::from_secs(10);
/// How long a client is watched to see that it is not served (a negative
/// needs a window; it spans tens of the workers' 10 ms retry ticks).
const WATCH: Duration = Duration::from_millis(300);

/// A conf with the runtime API on `sock`, the metrics on `mport`, one
/// listen section on `port` whose server has `server_opts`, and `extra`
/// lines in it.
fn source_conf(sock: &std::path::Path, mport: u16, port: u16, server: &str, extra: &str) -> String {
    format!(
        "global\n    nbthread 2\n    stats socket {}\n    stats http 127.0.0.1:{mport}\n\
         defaults\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
         listen l\n    bind 127.0.0.1:{port}\n{extra}    server s {server}\n",
        sock.display()
    )
}

/// l4lb on `conf`, written in `dir` (which holds its API socket).
fn start_in(dir: TempDir, conf: &str) -> L4lb {
    let path = dir.0.join("l4lb.conf");
    std::fs::write(&path, conf).unwrap();
    L4lb::spawn(&["-f", path.to_str().unwrap()], dir)
}

/// Three concurrent clients, served; (clients, the ports their server
/// connections left from).
fn three_served(port: u16, peers: &Peers) -> (Vec<TcpStream>, Vec<u16>) {
    let from = peers.lock().unwrap().len();
    let clients: Vec<_> = (0..3).map(|_| served_client(port)).collect();
    let mut ports = ports_since(peers, from);
    ports.sort_unstable();
    (clients, ports)
}

#[test]
fn connections_leave_from_the_servers_port_range_one_port_each_and_reuse_them() {
    let dir = TempDir::new("source-range");
    let sock = dir.0.join("api.sock");
    let (backend, peers) = peers_backend();
    let low = port_run(3);
    let range: Vec<u16> = (low..low + 3).collect();
    let (port, mport) = (free_port(), free_port());
    let server = format!("{} source 127.0.0.1:{low}-{}", backend.addr(), low + 2);
    let conf = source_conf(&sock, mport, port, &server, "    timeout queue 20s\n");
    let l4 = start_in(dir, &conf);
    let baseline = l4.fd_count();

    // Rounds of three at once until both workers have made some: the
    // three always hold the three ports, however the workers shared them,
    // and a round after the first reuses the ports the last one freed.
    for round in 0.. {
        let (clients, ports) = three_served(port, &peers);
        assert_eq!(ports, range, "round {round}: one port of the range each");
        drop(clients);
        assert!(wait_until(WAIT, || backend.counts.active.load(SeqCst) == 0));
        let accepts = worker_accepts(mport);
        if round >= 1 && accepts.iter().all(|&n| n > 0) {
            break;
        }
        assert!(round < 30, "one worker took every client: {accepts:?}");
    }
    assert!(wait_until(WAIT, || l4.fd_count() == baseline), "fds back");

    // A fourth client finds every port taken: it waits, as for any of
    // l4lb's shortages, and is served from the first port given back.
    let (mut clients, _) = three_served(port, &peers);
    let before = peers.lock().unwrap().len();
    let mut fourth = connect(port);
    fourth.write_all(b"4").unwrap();
    assert!(
        wait_until(WAIT, || l4
            .log_text()
            .contains("every port of its source range")),
        "the exhausted range is logged: {}",
        l4.log_text()
    );
    assert!(
        still_waiting(&mut fourth, WATCH),
        "no port, no server connection"
    );
    assert_eq!(
        peers.lock().unwrap().len(),
        before,
        "the server saw no fourth"
    );
    let freed = peers.lock().unwrap()[before - 3].port();
    drop(clients.remove(0));
    let mut b = [0u8; 1];
    fourth
        .read_exact(&mut b)
        .expect("served once a port is free");
    assert_eq!(ports_since(&peers, before), [freed], "from the port freed");

    // l4lb's shortage, not the server's: no connect error, no retry.
    for column in ["econ", "wretr"] {
        assert_eq!(show_stat(&sock, "l", "s", column), "0", "{column}");
    }
    drop((clients, fourth));
    assert!(wait_until(WAIT, || backend.counts.active.load(SeqCst) == 0));
    assert!(wait_until(WAIT, || l4.fd_count() == baseline), "fds back");
}

#[test]
fn past_timeout_queue_a_client_with_no_source_port_gets_a_reset_logged_rc() {
    let dir = TempDir::new("source-rc");
    let sock = dir.0.join("api.sock");
    let (backend, peers) = peers_backend();
    let low = port_run(2);
    let (port, mport) = (free_port(), free_port());
    let server = format!("{} source 127.0.0.1:{low}-{}", backend.addr(), low + 1);
    let extra = "    timeout queue 500ms\n    log stdout format raw local0\n    option tcplog\n";
    let l4 = start_in(dir, &source_conf(&sock, mport, port, &server, extra));
    let held = [served_client(port), served_client(port)];
    let mut third = connect(port);
    third.set_read_timeout(Some(WAIT)).unwrap();
    let seen = third.read(&mut [0u8; 1]);
    assert!(
        matches!(&seen, Err(e) if e.kind() == ErrorKind::ConnectionReset),
        "refused with a reset, got {seen:?}"
    );
    assert!(
        wait_until(WAIT, || l4.out_lines().iter().any(|x| x.contains(" RC "))),
        "an RC log line: {:?}",
        l4.out_lines()
    );
    assert_eq!(peers.lock().unwrap().len(), 2, "the server saw two");
    assert_eq!(show_stat(&sock, "l", "s", "econ"), "0", "never blamed");
    drop(held);
}

#[test]
fn health_checks_leave_from_the_range_too() {
    let dir = TempDir::new("source-check");
    let sock = dir.0.join("api.sock");
    let (backend, peers) = peers_backend();
    let low = port_run(3);
    let (port, mport) = (free_port(), free_port());
    let server = format!(
        "{} check inter 100ms source 127.0.0.1:{low}-{}",
        backend.addr(),
        low + 2
    );
    let _l4 = start_in(dir, &source_conf(&sock, mport, port, &server, ""));
    assert!(
        wait_until(WAIT, || peers.lock().unwrap().len() >= 4),
        "checks came"
    );
    let ports = ports_since(&peers, 0);
    assert!(
        ports.iter().all(|p| (low..low + 3).contains(p)),
        "every check from the range: {ports:?}"
    );
}

/// A conf whose frontend on `port` has `bind ... maxconn {maxconn}`.
fn maxconn_conf(port: u16, backend: &Backend, maxconn: u32) -> String {
    format!(
        "global\n    nbthread 2\ndefaults\n    timeout connect 2s\n    timeout client 30s\n    \
         timeout server 30s\nfrontend fe\n    bind 127.0.0.1:{port} maxconn {maxconn}\n    \
         default_backend be\nbackend be\n    server s {}\n",
        backend.addr()
    )
}

#[test]
fn a_bind_at_its_maxconn_leaves_clients_in_the_accept_queue_until_one_closes() {
    let (backend, _peers) = peers_backend();
    let port = free_port();
    let dir = TempDir::new("bind-maxconn");
    let path = dir.0.join("l4lb.conf");
    std::fs::write(&path, maxconn_conf(port, &backend, 2)).unwrap();
    let l4 = L4lb::spawn(&["-f", path.to_str().unwrap()], dir);
    // As HAProxy, the bind's maxconn is its backlog when none is given.
    assert_eq!(listen_backlogs(port), [2, 2], "each worker's listener");
    let baseline = l4.fd_count();

    // Two clients, over both workers or one: the count is the listener's.
    let mut first = vec![served_client(port), served_client(port)];
    let mut third = connect(port);
    third.write_all(b"3").unwrap();
    assert!(
        wait_until(WAIT, || accept_queue(port) == 1),
        "the third waits in the kernel's accept queue"
    );
    assert!(still_waiting(&mut third, WATCH), "not accepted");
    assert_eq!(accept_queue(port), 1);
    assert_eq!(backend.counts.total.load(SeqCst), 2);

    drop(first.remove(0));
    let mut b = [0u8; 1];
    third.read_exact(&mut b).expect("served once one closed");
    assert_eq!(accept_queue(port), 0);

    // A reload raises it: the kept listeners take the new maxconn.
    let mut fourth = connect(port);
    fourth.write_all(b"4").unwrap();
    assert!(wait_until(WAIT, || accept_queue(port) == 1));
    std::fs::write(&path, maxconn_conf(port, &backend, 3)).unwrap();
    l4.signal(libc::SIGHUP);
    fourth.read_exact(&mut b).expect("served after the reload");
    assert_eq!(backend.counts.total.load(SeqCst), 4);

    drop((first, third, fourth));
    assert!(wait_until(WAIT, || backend.counts.active.load(SeqCst) == 0));
    assert!(wait_until(WAIT, || l4.fd_count() == baseline), "fds back");
}
