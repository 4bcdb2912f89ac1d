//! The socket keywords of real haproxy.cfg files (issue 11), read back off
//! l4lb's own sockets (copied with pidfd_getfd): bind options on every
//! worker's listener, at start and after a reload; server options and
//! `source` on the connections to servers and on checks; `option nolinger`
//! on both sides; `minconn`/`fullconn`, `maxqueue` and `id` as show stat
//! shows them.
// pidfd_open, pidfd_getfd and getsockopt are libc calls.
#![allow(unsafe_code)]

mod common;
#[path = "common/sockopts.rs"]
mod sockopts;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use sockopts::*;

const WAIT: Duration = Duration::from_secs(10);

/// A conf of one frontend on `port` (its `bind` options and extra lines
/// given) over `servers`, with the runtime API on `sock`.
fn text(
    sock: &std::path::Path,
    port: u16,
    bind: &str,
    fe: &str,
    be: &str,
    servers: &str,
) -> String {
    format!(
        "global\n    nbthread 2\n    stats socket {}\n\ndefaults\n    timeout connect 2s\n    \
         timeout client 30s\n    timeout server 30s\n\nfrontend fe\n    bind 127.0.0.1:{port} {bind}\n\
         {fe}\n    default_backend be\n\nbackend be\n{be}\n{servers}\n",
        sock.display()
    )
}

/// l4lb started on `conf`, with its conf file's path, to rewrite it.
fn start(dir: TempDir, conf: &str) -> (L4lb, std::path::PathBuf) {
    let path = dir.0.join("l4lb.conf");
    std::fs::write(&path, conf).unwrap();
    let l4 = L4lb::spawn(&["-f", path.to_str().unwrap()], dir);
    (l4, path)
}

/// Whether a client got bytes back (a [`holding`] backend answers each
/// read): it is connected, not queued.
fn answered(c: &TcpStream) -> bool {
    c.set_nonblocking(true).unwrap();
    let got = matches!(c.peek(&mut [0u8; 1]), Ok(1));
    c.set_nonblocking(false).unwrap();
    got
}

/// A backend that keeps each connection open until its client closes,
/// noting where it came from.
fn holding(peers: &Arc<Mutex<Vec<SocketAddr>>>) -> Backend {
    let peers = Arc::clone(peers);
    Backend::start(move |mut s| {
        peers.lock().unwrap().push(s.peer_addr().unwrap());
        let mut buf = [0u8; 1024];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {
            let _ = s.write_all(&buf[..1]);
        }
    })
}

#[test]
fn bind_options_reach_every_workers_listener_and_a_reload_changes_them() {
    let dir = TempDir::new("sockopts-bind");
    let sock = dir.0.join("api.sock");
    let port = free_port();
    let backend = Backend::named("n");
    let servers = format!("    server s {}", backend.addr());
    let bind = "backlog 77 defer-accept tfo interface lo mss 1300 tcp-ut 3s";
    let fe = "    option nolinger\n    option tcp-smart-accept";
    let (l4, path) = start(dir, &text(&sock, port, bind, fe, "", &servers));
    let listeners = listeners_on(l4.pid(), port);
    assert_eq!(listeners.len(), 2, "one listener per worker");
    for l in &listeners {
        let fd = l.as_fd();
        let s = socket2::SockRef::from(l);
        assert_ne!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT), 0);
        assert_eq!(
            int_opt(fd, libc::IPPROTO_TCP, libc::TCP_FASTOPEN),
            77,
            "tfo queue = backlog"
        );
        assert_eq!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_MAXSEG), 1300);
        assert_eq!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT), 3000);
        assert_eq!(
            int_opt(fd, libc::IPPROTO_TCP, libc::TCP_QUICKACK),
            0,
            "tcp-smart-accept"
        );
        assert_eq!(s.linger().unwrap(), Some(Duration::ZERO), "option nolinger");
        assert_eq!(s.device().unwrap().as_deref(), Some(&b"lo"[..]));
    }
    assert_eq!(ss_backlog(port), [77, 77]);
    // The accepted socket inherits them: a client of `option nolinger`
    // gets a reset when l4lb closes.
    let mut client = connect(port);
    client.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    client.read_exact(&mut one).unwrap();
    let accepted = connections_to(l4.pid(), client.local_addr().unwrap());
    assert_eq!(accepted.len(), 1);
    let s = socket2::SockRef::from(&accepted[0]);
    assert_eq!(s.linger().unwrap(), Some(Duration::ZERO));
    assert_eq!(s.tcp_user_timeout().unwrap(), Some(Duration::from_secs(3)));
    drop((client, accepted));

    // A reload keeps the sockets and gives them the new options.
    l4.reload_with(
        &path,
        &text(&sock, port, "backlog 20 mss 1200", "", "", &servers),
    );
    for l in &listeners_on(l4.pid(), port) {
        let fd = l.as_fd();
        let s = socket2::SockRef::from(l);
        assert_eq!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT), 0);
        assert_eq!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_FASTOPEN), 0);
        assert_eq!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_MAXSEG), 1200);
        assert_eq!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT), 0);
        assert_eq!(s.linger().unwrap(), None);
        assert_eq!(s.device().unwrap(), None);
    }
    assert_eq!(ss_backlog(port), [20, 20]);
    assert_eq!(round_trip(port), "n", "still serving");
}

#[test]
fn v6only_and_v4v6_set_ipv6_v6only() {
    let (p6, pboth) = (free_port(), free_port());
    let backend = Backend::echo();
    let conf = format!(
        "defaults\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind :::{p6} v6only\n    bind :::{pboth} v4v6\n    default_backend be\n\
         backend be\n    server s {}\n",
        backend.addr()
    );
    let l4 = L4lb::start(&conf);
    let v6only = |port| {
        let l = listeners_on(l4.pid(), port);
        assert!(!l.is_empty());
        l.iter()
            .map(|l| socket2::SockRef::from(l).only_v6().unwrap())
            .collect::<Vec<_>>()
    };
    assert!(v6only(p6).iter().all(|&v| v));
    assert!(v6only(pboth).iter().all(|&v| !v));
    // IPv4 clients reach the dual-stack bind only.
    let mut c = TcpStream::connect(addr(pboth)).unwrap();
    c.write_all(b"hi").unwrap();
    let mut buf = [0u8; 2];
    c.read_exact(&mut buf).unwrap();
    assert!(
        TcpStream::connect(addr(p6)).is_err(),
        "v6only takes no IPv4 client"
    );
}

#[test]
fn server_sockets_get_source_tcp_ut_tfo_and_nolinger_and_checks_leave_from_the_source() {
    let dir = TempDir::new("sockopts-server");
    let sock = dir.0.join("api.sock");
    let port = free_port();
    let peers = Arc::new(Mutex::new(Vec::new()));
    let backend = holding(&peers);
    let be = "    source 127.0.0.2\n    option nolinger\n    option tcp-smart-connect";
    let servers = format!(
        "    server s {} check inter 100ms tcp-ut 2s tfo\n    server t {} source 127.0.0.3:0 check inter 100ms",
        backend.addr(),
        backend.addr()
    );
    // defer-accept: the client's byte is there when l4lb connects, so the
    // `tfo` server's connection carries it.
    let (l4, _) = start(dir, &text(&sock, port, "defer-accept", "", be, &servers));
    // Checks of both servers come from their sources.
    let from = |ip: [u8; 4]| {
        let ip = std::net::IpAddr::from(ip);
        move |peers: &Vec<SocketAddr>| peers.iter().any(|p| p.ip() == ip)
    };
    assert!(
        wait_until(WAIT, || {
            let p = peers.lock().unwrap();
            from([127, 0, 0, 2])(&p) && from([127, 0, 0, 3])(&p)
        }),
        "checks from {:?}",
        peers.lock().unwrap()
    );
    // Clients until both servers have one (round robin is per worker).
    let mut clients = Vec::new();
    let local_ips = |fds: &[std::os::fd::OwnedFd]| {
        let mut ips: Vec<String> = fds
            .iter()
            .map(|fd| {
                socket2::SockRef::from(fd)
                    .local_addr()
                    .unwrap()
                    .as_socket()
                    .unwrap()
            })
            .map(|a| a.ip().to_string())
            .collect();
        ips.sort();
        ips.dedup();
        ips
    };
    while local_ips(&connections_to(l4.pid(), backend.addr())).len() < 2 && clients.len() < 8 {
        let mut c = connect(port);
        c.write_all(b"x").unwrap();
        let mut one = [0u8; 1];
        c.read_exact(&mut one).unwrap();
        clients.push(c);
    }
    let to_backend = connections_to(l4.pid(), backend.addr());
    let mut sources = Vec::new();
    for fd in &to_backend {
        let s = socket2::SockRef::from(fd);
        let local = s.local_addr().unwrap().as_socket().unwrap();
        assert_ne!(local.port(), 0, "the kernel picked a port at connect");
        sources.push(local.ip().to_string());
        assert_eq!(
            s.linger().unwrap(),
            Some(Duration::ZERO),
            "backend nolinger"
        );
        let ut = s.tcp_user_timeout().unwrap();
        let tfo = int_opt(fd.as_fd(), libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT);
        match local.ip().to_string().as_str() {
            "127.0.0.2" => assert_eq!((ut, tfo), (Some(Duration::from_secs(2)), 1)),
            _ => assert_eq!((ut, tfo), (None, 0)),
        }
    }
    sources.sort();
    sources.dedup();
    assert_eq!(sources, ["127.0.0.2", "127.0.0.3"]);
    // The client side has no `option nolinger`.
    let accepted = connections_to(l4.pid(), clients[0].local_addr().unwrap());
    assert_eq!(socket2::SockRef::from(&accepted[0]).linger().unwrap(), None);
}

#[test]
fn minconn_limits_a_server_until_the_backend_nears_fullconn() {
    let dir = TempDir::new("sockopts-minconn");
    let sock = dir.0.join("api.sock");
    let port = free_port();
    let peers = Arc::new(Mutex::new(Vec::new()));
    let backend = holding(&peers);
    // fullconn 100: with 3 sessions the limit is max(2, 10 * 3 / 100) = 2.
    let be = "    fullconn 100\n    timeout queue 20s";
    let servers = format!("    server s {} minconn 2 maxconn 10", backend.addr());
    let (_l4, _) = start(dir, &text(&sock, port, "", "", be, &servers));
    let mut clients: Vec<TcpStream> = (0..3).map(|_| connect(port)).collect();
    for c in &mut clients {
        c.write_all(b"x").unwrap();
    }
    let stat = |sv: &str, col: &str| show_stat(&sock, "be", sv, col);
    assert!(
        wait_until(WAIT, || stat("s", "scur") == "2"
            && stat("BACKEND", "qcur") == "1"),
        "scur {} qcur {}",
        stat("s", "scur"),
        stat("BACKEND", "qcur")
    );
    assert_eq!(
        stat("BACKEND", "scur"),
        "3",
        "queued sessions count in the backend"
    );
    // The two connected clients got their byte back; the third waits (a
    // queued client that leaves is not noticed before its turn, so the one
    // to leave must be a connected one).
    assert!(wait_until(WAIT, || clients
        .iter()
        .filter(|c| answered(c))
        .count()
        == 2));
    let waiting = clients.iter().position(|c| !answered(c)).unwrap();
    let mut queued = clients.remove(waiting);
    // One connected client leaves: the queued one gets its slot.
    drop(clients.remove(0));
    let mut one = [0u8; 1];
    queued.read_exact(&mut one).unwrap();
    assert!(
        wait_until(WAIT, || stat("BACKEND", "qcur") == "0"),
        "{}",
        api_command(&sock, "show stat")
    );
    assert_eq!(stat("BACKEND", "qmax"), "1");
}

#[test]
fn maxqueue_ids_and_the_backend_queue_in_show_stat() {
    let dir = TempDir::new("sockopts-ids");
    let sock = dir.0.join("api.sock");
    let port = free_port();
    let peers = Arc::new(Mutex::new(Vec::new()));
    let (a, b) = (holding(&peers), holding(&peers));
    let be = "    id 42\n    timeout queue 20s";
    let servers = format!(
        "    server a {} maxconn 1 maxqueue 1 id 7\n    server b {} maxconn 1 maxqueue 1",
        a.addr(),
        b.addr()
    );
    let fe = "    id 5";
    let (_l4, _) = start(dir, &text(&sock, port, "", fe, be, &servers));
    let stat = |sv: &str, col: &str| show_stat(&sock, "be", sv, col);
    assert_eq!(show_stat(&sock, "fe", "FRONTEND", "iid"), "5");
    assert_eq!(
        [stat("BACKEND", "iid"), stat("a", "sid"), stat("b", "sid")],
        ["42", "7", "1"]
    );
    assert_eq!([stat("a", "qlimit"), stat("b", "qlimit")], ["1", "1"]);
    // As HAProxy's round robin: one client per server, the others wait in
    // the backend's queue (which maxqueue does not bound), none refused.
    let mut clients: Vec<TcpStream> = (0..4).map(|_| connect(port)).collect();
    for c in &mut clients {
        c.write_all(b"x").unwrap();
    }
    assert!(
        wait_until(WAIT, || stat("BACKEND", "qcur") == "2"),
        "qcur {}",
        stat("BACKEND", "qcur")
    );
    assert_eq!([stat("a", "scur"), stat("b", "scur")], ["1", "1"]);
    assert_eq!([stat("a", "qcur"), stat("b", "qcur")], ["0", "0"]);
    // The connected ones leave (a queued client that leaves is not noticed
    // before its turn): the queued ones get their slots.
    assert!(wait_until(WAIT, || clients
        .iter()
        .filter(|c| answered(c))
        .count()
        == 2));
    clients.retain(|c| !answered(c));
    for c in &mut clients {
        let mut one = [0u8; 1];
        c.read_exact(&mut one).unwrap();
    }
    assert_eq!(stat("BACKEND", "qmax"), "2");
}

#[test]
fn an_upgrade_gives_the_sockets_it_takes_over_the_new_bind_options() {
    let dir = TempDir::new("sockopts-upgrade");
    let sock = dir.0.join("api.sock");
    let port = free_port();
    let backend = Backend::named("n");
    let servers = format!("    server s {}", backend.addr());
    let old_conf = text(&sock, port, "mss 1300 defer-accept", "", "", &servers).replace(
        &format!("{}\n", sock.display()),
        &format!("{} level admin\n", sock.display()),
    );
    let (mut old, path) = start(dir, &old_conf);
    let inodes = |pid| listeners_on(pid, port).len();
    assert_eq!(inodes(old.pid()), 2);
    std::fs::write(
        &path,
        old_conf.replace("mss 1300 defer-accept", "mss 1200 tfo"),
    )
    .unwrap();
    let pid = old.pid().to_string();
    let new = L4lb::spawn(
        &["-f", path.to_str().unwrap(), "--upgrade-from", &pid],
        TempDir::new("sockopts-upgrade-new"),
    );
    assert!(old.wait_exit(WAIT).is_some(), "the old one stops");
    let listeners = listeners_on(new.pid(), port);
    assert_eq!(listeners.len(), 2, "the same two sockets");
    for l in &listeners {
        let fd = l.as_fd();
        assert_eq!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_MAXSEG), 1200);
        assert_eq!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT), 0);
        assert_ne!(int_opt(fd, libc::IPPROTO_TCP, libc::TCP_FASTOPEN), 0);
    }
    assert_eq!(round_trip(port), "n");
}

#[test]
fn a_tfo_server_that_speaks_first_is_reached_without_client_bytes() {
    let dir = TempDir::new("sockopts-tfo");
    let sock = dir.0.join("api.sock");
    let port = free_port();
    let backend = Backend::named("first");
    let servers = format!("    server s {} tfo", backend.addr());
    let (_l4, _) = start(dir, &text(&sock, port, "", "", "", &servers));
    // round_trip reads the server's name before it writes anything. (The
    // kernel would hold a fast-open SYN only with a cookie cached from a
    // fast-open server; loopback here has none, so this pins the outcome,
    // not the peek that guards it.)
    assert_eq!(round_trip(port), "first");
}
