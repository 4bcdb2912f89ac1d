//! Helpers for the tests of `source` port ranges and bind `maxconn`: a run
//! of consecutive local ports held for this test process, a backend that
//! notes where each connection came from, a listener's accept queue as the
//! kernel counts it, and each worker's accepts from the metrics endpoint.
#![allow(dead_code)]

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Backend, addr};

/// The first of `n` consecutive ports on 127.0.0.1 that no socket held
/// when they were taken, each held until the test process exits by a bound
/// socket that never listens, so that nothing else binds them: l4lb can
/// still bind them for its connections (SO_REUSEADDR on both sides).
///
/// Each port is bound without SO_REUSEADDR first, which fails if any
/// socket (of any process, TIME_WAIT included) has it, and only then given
/// SO_REUSEADDR: no window in which another process could take it. The
/// ports are below the ephemeral range, so no client is given them.
pub(crate) fn port_run(n: u16) -> u16 {
    static HELD: Mutex<Vec<socket2::Socket>> = Mutex::new(Vec::new());
    let first = 20_000 + (std::process::id() % 1000) as u16 * 10;
    'runs: for start in (first..32_000).step_by(usize::from(n) + 1) {
        let mut run = Vec::new();
        for port in start..start + n {
            let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("a socket");
            if sock.bind(&addr(port).into()).is_err() {
                continue 'runs;
            }
            sock.set_reuse_address(true).unwrap();
            run.push(sock);
        }
        HELD.lock().unwrap().extend(run);
        return start;
    }
    panic!("no run of {n} free ports below 32000");
}

/// Where the connections a [`peers_backend`] took came from, in order.
pub(crate) type Peers = Arc<Mutex<Vec<SocketAddr>>>;

/// A backend that notes each connection's peer, answers each read with its
/// first byte, and holds the connection until its client closes.
pub(crate) fn peers_backend() -> (Backend, Peers) {
    let peers = Peers::default();
    let seen = Arc::clone(&peers);
    let backend = Backend::start(move |mut s| {
        seen.lock().unwrap().push(s.peer_addr().unwrap());
        let mut buf = [0u8; 1024];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {
            if s.write_all(&buf[..1]).is_err() {
                break;
            }
        }
    });
    (backend, peers)
}

/// The local ports of `peers` from index `from` on.
pub(crate) fn ports_since(peers: &Peers, from: usize) -> Vec<u16> {
    peers.lock().unwrap()[from..]
        .iter()
        .map(|p| p.port())
        .collect()
}

/// A client of l4lb on `port` that sent a byte and got it back: served.
pub(crate) fn served_client(port: u16) -> TcpStream {
    let mut c = super::connect(port);
    c.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    c.read_exact(&mut b).expect("served");
    c
}

/// Whether `c` is still waiting: no byte, no EOF, no reset within `d`.
pub(crate) fn still_waiting(c: &mut TcpStream, d: Duration) -> bool {
    c.set_read_timeout(Some(d)).unwrap();
    let waiting = matches!(c.read(&mut [0u8; 1]),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut));
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    waiting
}

/// Connections waiting in the accept queues of the listeners on
/// 127.0.0.1:`port` (every worker's): a listening socket's rx_queue in
/// /proc/net/tcp.
pub(crate) fn accept_queue(port: u16) -> usize {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!("0100007F:{port:04X}");
    text.lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 4 && f[1] == local && f[3] == "0A")
        .filter_map(|f| usize::from_str_radix(f[4].split(':').nth(1)?, 16).ok())
        .sum()
}

/// The backlog of each listener on `port`: the Send-Q `ss` shows for it.
pub(crate) fn listen_backlogs(port: u16) -> Vec<usize> {
    let out = std::process::Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .expect("run ss");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
        .collect()
}

/// Each worker's accepted connections, from l4lb's metrics endpoint on
/// `mport` (`stats http`).
pub(crate) fn worker_accepts(mport: u16) -> Vec<u64> {
    let text = http_get(mport, "/metrics").expect("GET /metrics");
    text.lines()
        .filter(|l| l.starts_with("l4lb_worker_accepted_connections_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect()
}

fn http_get(port: u16, path: &str) -> io::Result<String> {
    let mut s = TcpStream::connect(addr(port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: l4lb\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}
