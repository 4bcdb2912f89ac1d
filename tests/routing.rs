//! Routing at L4 (issue 13), through real sockets: `tcp-request
//! connection|session|content` rules, the inspect stage and its delay,
//! `use_backend` (named, `%[expr]`, `nbsrv()` failover), `use-server`, and
//! the counters and log lines of refused clients. SNI routing has its own
//! file (`sni_routing.rs`).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;

/// l4lb on a conf with a stats socket; `@DIR@` in `body` is a private
/// directory (for pattern and map files written before the start).
struct Rig {
    l4: L4lb,
    sock: PathBuf,
    _dir: TempDir,
}

fn start(body: &str, files: &[(&str, String)]) -> Rig {
    let dir = TempDir::new("routing");
    for (name, text) in files {
        std::fs::write(dir.0.join(name), text).unwrap();
    }
    let sock = dir.0.join("api.sock");
    let text = format!(
        "global\n    nbthread 2\n    stats socket {} level admin\n\ndefaults\n    mode tcp\n    \
         timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\n{}",
        sock.display(),
        body.replace("@DIR@", dir.0.to_str().unwrap())
    );
    Rig {
        l4: L4lb::start(&text),
        sock,
        _dir: dir,
    }
}

impl Rig {
    fn stat(&self, px: &str, sv: &str, column: &str) -> String {
        show_stat(&self.sock, px, sv, column)
    }
}

/// A connection from `src` the proxy resets (a `tcp-request connection
/// reject`): the reset may come before the connect call has returned.
fn refused_from(src: [u8; 4], port: u16) -> bool {
    match try_connect_from(src, port) {
        Ok(mut c) => closed_by_peer(&mut c),
        Err(e) => e.kind() == ErrorKind::ConnectionReset,
    }
}

/// The name line a `Backend::named` server sends, through a connection
/// from `src`.
fn name_from(src: [u8; 4], port: u16) -> String {
    let mut c = connect_from(src, port);
    read_line(&mut c).unwrap()
}

#[test]
fn an_allowlist_file_lets_its_networks_in_and_resets_the_others_counted_in_dcon() {
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let (open, closed) = (free_port(), free_port());
    // Thousands of networks, loopback's 127.0.0.1/32 among the last.
    let mut list: String = (0..4000)
        .map(|i| format!("10.{}.{}.0/24\n", i / 256, i % 256))
        .collect();
    list.push_str("# the proxy's own tests\n127.0.0.1/32\n");
    let body = format!(
        "frontend open\n    bind 127.0.0.1:{open}\n    acl allowed src -f @DIR@/allow.lst\n    \
         tcp-request connection reject unless allowed\n    default_backend ba\n\
         frontend closed\n    bind 127.0.0.1:{closed}\n    \
         tcp-request connection reject if !{{ src 10.0.0.0/8 }}\n    default_backend bb\n\
         backend ba\n    server a {}\nbackend bb\n    server b {}\n",
        a.addr(),
        b.addr()
    );
    let rig = start(&body, &[("allow.lst", list)]);
    assert_eq!(name_from([127, 0, 0, 1], open), "a");
    // 127.0.0.2 is not in the file.
    assert!(refused_from([127, 0, 0, 2], open));
    assert!(refused_from([127, 0, 0, 1], closed));
    assert_eq!(b.counts.total.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(rig.stat("open", "FRONTEND", "dcon"), "1");
    assert_eq!(rig.stat("closed", "FRONTEND", "dcon"), "1");
    assert_eq!(name_from([127, 0, 0, 1], open), "a");
}

#[test]
fn use_backend_by_destination_port_else_the_default() {
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let (p1, p2) = (free_port(), free_port());
    let body = format!(
        "frontend fe\n    bind 127.0.0.1:{p1}\n    bind 127.0.0.1:{p2}\n    \
         use_backend bb if {{ dst_port {p2} }}\n    default_backend ba\n\
         backend ba\n    server a {}\nbackend bb\n    server b {}\n",
        a.addr(),
        b.addr()
    );
    let _rig = start(&body, &[]);
    assert_eq!(round_trip(p1), "a");
    assert_eq!(round_trip(p2), "b");
}

#[test]
fn use_backend_names_the_backend_from_a_map_and_an_unknown_name_falls_to_the_default() {
    let (a, b, d) = (
        Backend::named("a"),
        Backend::named("b"),
        Backend::named("d"),
    );
    let port = free_port();
    let map = "127.0.0.1 be_a\n127.0.0.2 be_b\n127.0.0.3 no_such_backend\n".to_string();
    let body = format!(
        "frontend fe\n    bind 127.0.0.1:{port}\n    \
         use_backend %[src,map_ip(@DIR@/src.map,be_default)]\n    default_backend be_a\n\
         backend be_a\n    server a {}\nbackend be_b\n    server b {}\n\
         backend be_default\n    server d {}\n",
        a.addr(),
        b.addr(),
        d.addr()
    );
    let _rig = start(&body, &[("src.map", map)]);
    assert_eq!(name_from([127, 0, 0, 1], port), "a");
    assert_eq!(name_from([127, 0, 0, 2], port), "b");
    assert_eq!(name_from([127, 0, 0, 4], port), "d");
    // A name that is no backend: the rule does not apply, the default does.
    assert_eq!(name_from([127, 0, 0, 3], port), "a");
}

#[test]
fn nbsrv_fails_over_to_the_standby_backend_and_back() {
    let (p, s) = (Backend::named("primary"), Backend::named("standby"));
    let port = free_port();
    let body = format!(
        "frontend fe\n    bind 127.0.0.1:{port}\n    \
         use_backend be_standby if {{ nbsrv(be_primary) lt 1 }}\n    default_backend be_primary\n\
         backend be_primary\n    server p {}\nbackend be_standby\n    server s {}\n",
        p.addr(),
        s.addr()
    );
    let rig = start(&body, &[]);
    assert_eq!(round_trip(port), "primary");
    api_command(&rig.sock, "disable server be_primary/p");
    assert_eq!(round_trip(port), "standby");
    api_command(&rig.sock, "enable server be_primary/p");
    assert_eq!(round_trip(port), "primary");
}

#[test]
fn use_server_sends_matching_clients_to_its_server_unless_it_is_in_maintenance() {
    let servers = [
        Backend::named("s0"),
        Backend::named("s1"),
        Backend::named("s2"),
    ];
    let port = free_port();
    let body = format!(
        "listen app\n    bind 127.0.0.1:{port}\n    balance roundrobin\n    \
         use-server s2 if {{ src 127.0.0.2 }}\n    server s0 {}\n    server s1 {}\n    server s2 {}\n",
        servers[0].addr(),
        servers[1].addr(),
        servers[2].addr()
    );
    let rig = start(&body, &[]);
    for _ in 0..4 {
        assert_eq!(name_from([127, 0, 0, 2], port), "s2");
    }
    let others: Vec<String> = (0..4).map(|_| name_from([127, 0, 0, 1], port)).collect();
    assert!(others.iter().any(|n| n != "s2"), "{others:?}");
    api_command(&rig.sock, "disable server app/s2");
    for _ in 0..4 {
        assert_ne!(name_from([127, 0, 0, 2], port), "s2");
    }
}

/// A frontend whose content rules look at the first bytes: `EVIL` is
/// refused, anything else accepted; `abc` goes to `bb`.
fn inspecting(delay: &str, a: &Backend, b: &Backend, port: u16) -> Rig {
    let body = format!(
        "frontend fe\n    bind 127.0.0.1:{port}\n    log stdout format raw local0\n    \
         option tcplog\n    tcp-request inspect-delay {delay}\n    \
         tcp-request content reject if {{ req.payload(0,4) -m str EVIL }}\n    \
         tcp-request content accept if {{ req.len ge 4 }}\n    \
         use_backend bb if {{ req.payload(0,3) -m str abc }}\n    default_backend ba\n\
         backend ba\n    server a {}\nbackend bb\n    server b {}\n",
        a.addr(),
        b.addr()
    );
    start(&body, &[])
}

#[test]
fn content_rules_wait_for_the_bytes_they_need_then_route_and_forward_them_all() {
    let (a, b) = (Backend::echo(), Backend::echo());
    let port = free_port();
    let _rig = inspecting("5s", &a, &b, port);
    let mut c = connect(port);
    // Split: the rules must wait for the 4th byte.
    c.write_all(b"ab").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    c.write_all(b"cd and the rest").unwrap();
    let mut back = [0u8; 17];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"abcd and the rest");
    assert_eq!(b.counts.total.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(a.counts.total.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[test]
fn a_content_reject_resets_the_client_counts_dreq_and_logs_pr() {
    let (a, b) = (Backend::echo(), Backend::echo());
    let port = free_port();
    let rig = inspecting("5s", &a, &b, port);
    let mut c = connect(port);
    c.write_all(b"EVIL request").unwrap();
    assert!(closed_by_peer(&mut c));
    assert_eq!(rig.stat("fe", "FRONTEND", "dreq"), "1");
    assert!(
        wait_until(Duration::from_secs(5), || rig
            .l4
            .out_lines()
            .iter()
            .any(|l| l.contains(" PR "))),
        "{:?}",
        rig.l4.out_lines()
    );
    // Others are served.
    let mut ok = connect(port);
    ok.write_all(b"good").unwrap();
    let mut back = [0u8; 4];
    ok.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"good");
}

#[test]
fn when_the_inspect_delay_ends_the_rules_run_with_what_is_there() {
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let port = free_port();
    let _rig = inspecting("300ms", &a, &b, port);
    // Three bytes: not enough for `req.len ge 4`, enough for the route.
    let started = Instant::now();
    let mut c = connect(port);
    c.write_all(b"abc").unwrap();
    assert_eq!(read_line(&mut c).unwrap(), "b");
    assert!(started.elapsed() >= Duration::from_millis(250));
    // Nothing at all: the default, after the delay.
    let mut c = connect(port);
    assert_eq!(read_line(&mut c).unwrap(), "a");
}

#[test]
fn a_server_that_speaks_first_is_not_held_by_rules_that_need_no_client_byte() {
    let a = Backend::named("banner");
    let port = free_port();
    let body = format!(
        "frontend fe\n    bind 127.0.0.1:{port}\n    tcp-request inspect-delay 10s\n    \
         tcp-request content accept if {{ src 127.0.0.0/8 }}\n    tcp-request content reject\n    \
         default_backend be\nbackend be\n    server a {}\n",
        a.addr()
    );
    let _rig = start(&body, &[]);
    let started = Instant::now();
    assert_eq!(round_trip(port), "banner");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn expect_proxy_from_trusted_sources_and_session_rules_see_the_header_address() {
    let echo = Backend::echo();
    let port = free_port();
    let body = format!(
        "frontend fe\n    bind 127.0.0.1:{port}\n    \
         tcp-request connection expect-proxy layer4 if {{ src 127.0.0.1 }}\n    \
         tcp-request session reject if {{ src 203.0.113.0/24 }}\n    default_backend be\n\
         backend be\n    server e {}\n",
        echo.addr()
    );
    let rig = start(&body, &[]);
    let mut bad = connect_from([127, 0, 0, 1], port);
    bad.write_all(b"PROXY TCP4 203.0.113.7 127.0.0.1 5000 80\r\nhello")
        .unwrap();
    assert!(closed_by_peer(&mut bad));
    assert_eq!(rig.stat("fe", "FRONTEND", "dses"), "1");
    let mut good = connect_from([127, 0, 0, 1], port);
    good.write_all(b"PROXY TCP4 198.51.100.1 127.0.0.1 5000 80\r\nhello")
        .unwrap();
    let mut back = [0u8; 5];
    good.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");
    // Not trusted: no header is read, the bytes are the client's.
    let mut other = connect_from([127, 0, 0, 2], port);
    let line = b"PROXY TCP4 203.0.113.7 127.0.0.1 5000 80\r\n";
    other.write_all(line).unwrap();
    let mut back = vec![0u8; line.len()];
    other.read_exact(&mut back).unwrap();
    assert_eq!(back, line);
}

#[test]
fn silent_drop_closes_without_telling_the_client() {
    let echo = Backend::echo();
    let port = free_port();
    let body = format!(
        "frontend fe\n    bind 127.0.0.1:{port}\n    \
         tcp-request connection silent-drop if {{ src 127.0.0.2 }}\n    default_backend be\n\
         backend be\n    server e {}\n",
        echo.addr()
    );
    let rig = start(&body, &[]);
    let mut c = connect_from([127, 0, 0, 2], port);
    assert!(wait_until(Duration::from_secs(5), || rig
        .stat("fe", "FRONTEND", "dcon")
        == "1"));
    assert!(wait_until(Duration::from_secs(5), || rig
        .stat("fe", "FRONTEND", "scur")
        == "0"));
    // l4lb has let go of it; the client heard nothing: no FIN, no reset.
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 1];
    let e = c.read(&mut b).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{e:?}"
    );
    assert_eq!(round_trip_echo(port), b"x");
}

fn round_trip_echo(port: u16) -> Vec<u8> {
    let mut c = connect(port);
    c.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    c.read_exact(&mut b).unwrap();
    b.to_vec()
}

/// Sends `first`, then reads the name line of the `Backend::named` server.
fn name_after(port: u16, first: &[u8]) -> String {
    let mut c = connect(port);
    c.write_all(first).unwrap();
    read_line(&mut c).unwrap()
}

#[test]
fn balance_hash_keeps_each_value_on_one_server_and_spreads_the_values() {
    let names = ["h0", "h1", "h2", "h3"];
    let servers: Vec<Backend> = names.iter().map(|n| Backend::named(n)).collect();
    let port = free_port();
    let mut body = format!(
        "listen app\n    bind 127.0.0.1:{port}\n    tcp-request inspect-delay 5s\n    \
         tcp-request content accept if {{ req.len ge 4 }}\n    balance hash req.payload(0,4)\n    \
         hash-type consistent\n"
    );
    for (n, s) in names.iter().zip(&servers) {
        body.push_str(&format!("    server {n} {}\n", s.addr()));
    }
    let _rig = start(&body, &[]);
    let mut seen = std::collections::HashSet::new();
    for value in [
        "aaaa", "bbbb", "cccc", "dddd", "eeee", "ffff", "gggg", "hhhh",
    ] {
        let first = name_after(port, value.as_bytes());
        for _ in 0..3 {
            assert_eq!(name_after(port, value.as_bytes()), first, "{value}");
        }
        seen.insert(first);
    }
    assert!(seen.len() >= 2, "{seen:?}");
}

/// An RDP client's first bytes: TPKT and X.224 headers, then the cookie.
fn rdp_request(cookie: &str) -> Vec<u8> {
    let line = format!("Cookie: {cookie}\r\n");
    let len = 11 + line.len();
    let mut b = vec![
        3,
        0,
        (len >> 8) as u8,
        len as u8,
        0xe0 | 6,
        0xe0,
        0,
        0,
        0,
        0,
        0,
    ];
    b.extend_from_slice(line.as_bytes());
    b
}

#[test]
fn rdp_cookie_balancing_and_persistence_as_a_terminal_server_farm() {
    let names = ["ts0", "ts1", "ts2"];
    let servers: Vec<Backend> = names.iter().map(|n| Backend::named(n)).collect();
    let port = free_port();
    // HAProxy's manual example for an RDP farm.
    let mut body = format!(
        "listen rdp\n    bind 127.0.0.1:{port}\n    tcp-request inspect-delay 5s\n    \
         tcp-request content accept if RDP_COOKIE\n    balance rdp-cookie\n    \
         persist rdp-cookie\n"
    );
    for (n, s) in names.iter().zip(&servers) {
        body.push_str(&format!("    server {n} {}\n", s.addr()));
    }
    let _rig = start(&body, &[]);
    for user in ["alice", "bob", "carol"] {
        let req = rdp_request(&format!("mstshash={user}"));
        let first = name_after(port, &req);
        for _ in 0..3 {
            assert_eq!(name_after(port, &req), first, "{user}");
        }
    }
    // A reconnecting client names its server: msts=ADDR.PORT.0000, the
    // address and port little-endian as the Windows client writes them.
    let target = servers[2].addr();
    let std::net::IpAddr::V4(ip) = target.ip() else {
        unreachable!()
    };
    let cookie = format!(
        "msts={}.{}.0000",
        u32::from_le_bytes(ip.octets()),
        target.port().swap_bytes()
    );
    for _ in 0..4 {
        assert_eq!(name_after(port, &rdp_request(&cookie)), "ts2");
    }
}

#[test]
fn a_backend_runs_its_own_content_rules_after_the_route() {
    let (a, b) = (Backend::echo(), Backend::echo());
    let port = free_port();
    let body = format!(
        "frontend fe\n    bind 127.0.0.1:{port}\n    default_backend guarded\n\
         backend guarded\n    tcp-request inspect-delay 5s\n    \
         tcp-request content reject if {{ req.payload(0,4) -m str QUIT }}\n    \
         tcp-request content accept if {{ req.len ge 4 }}\n    use-server b if {{ req.payload(0,1) -m str b }}\n    \
         server a {}\n    server b {}\n",
        a.addr(),
        b.addr()
    );
    let rig = start(&body, &[]);
    let mut c = connect(port);
    c.write_all(b"QU").unwrap();
    std::thread::sleep(Duration::from_millis(30));
    c.write_all(b"IT now").unwrap();
    assert!(closed_by_peer(&mut c));
    assert_eq!(rig.stat("fe", "FRONTEND", "dreq"), "1");
    for _ in 0..3 {
        let mut c = connect(port);
        c.write_all(b"bbbb").unwrap();
        let mut back = [0u8; 4];
        c.read_exact(&mut back).unwrap();
    }
    assert_eq!(b.counts.total.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(a.counts.total.load(std::sync::atomic::Ordering::SeqCst), 0);
}
