//! Connection logs (`option tcplog`) through real sockets: one line per
//! finished connection in HAProxy's TCP format, with the termination state
//! each way a connection can end, `option dontlognull`, and the targets
//! (stdout raw, UDP syslog in RFC 3164 and RFC 5424); and without
//! `option tcplog`, HAProxy's default format: one line at accept.

mod common;
#[path = "common/syslog.rs"]
mod syslog;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use common::*;
use syslog::Syslog;

const WAIT: Duration = Duration::from_secs(20);

/// One TCP log line, split into HAProxy's fields.
#[derive(Debug)]
struct Line {
    client: String,
    date: String,
    frontend: String,
    backend: String,
    server: String,
    /// Tw, Tc, Tt.
    timers: [i64; 3],
    bytes: u64,
    state: String,
    /// actconn, feconn, beconn, srv_conn.
    counts: [u64; 4],
    /// The retries field as written (`+` when redispatched).
    retries: String,
    queues: String,
}

fn parse(line: &str) -> Line {
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!(f.len(), 9, "not a TCP log line: {line:?}");
    let (backend, server) = f[3].split_once('/').expect("backend/server");
    let timers: Vec<i64> = f[4].split('/').map(|t| t.parse().unwrap()).collect();
    let counts: Vec<&str> = f[7].split('/').collect();
    assert_eq!(counts.len(), 5, "{line}");
    Line {
        client: f[0].to_string(),
        date: f[1].to_string(),
        frontend: f[2].to_string(),
        backend: backend.to_string(),
        server: server.to_string(),
        timers: timers.try_into().expect("Tw/Tc/Tt"),
        bytes: f[5].parse().unwrap(),
        state: f[6].to_string(),
        counts: [0, 1, 2, 3].map(|i| counts[i].parse().unwrap()),
        retries: counts[4].to_string(),
        queues: f[8].to_string(),
    }
}

/// The common conf with connection logs to stdout (raw) on frontend `fe`,
/// plus `frontend_extra` lines there.
fn logging_conf(port: u16, servers: &[SocketAddr], backend: &str, frontend: &str) -> String {
    let mut fe = "frontend fe\n    log stdout format raw local0\n    option tcplog\n".to_string();
    for l in frontend.lines() {
        fe.push_str(&format!("    {}\n", l.trim()));
    }
    conf(port, servers, backend).replacen("frontend fe\n", &fe, 1)
}

/// Waits for the `n`th stdout line and returns it parsed.
fn nth_line(l: &L4lb, n: usize) -> Line {
    let found = wait_until(WAIT, || l.out_lines().len() > n);
    assert!(
        found,
        "no log line #{n}; stdout: {:?}\nstderr:\n{}",
        l.out_lines(),
        l.log_text()
    );
    parse(&l.out_lines()[n])
}

/// Closes `s` with an RST rather than a FIN.
fn reset(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
}

/// A port nothing listens on: connects to it are refused.
fn refusing_addr() -> SocketAddr {
    addr(free_port())
}

#[test]
fn a_normal_connection_logs_one_haproxy_line() {
    let backend = Backend::named("s1");
    let port = free_port();
    let l = L4lb::start(&logging_conf(port, &[backend.addr()], "", ""));
    let mut c = connect(port);
    let client_port = c.local_addr().unwrap().port();
    assert_eq!(read_line(&mut c).unwrap(), "s1");
    c.write_all(b"ping\n").unwrap();
    assert_eq!(read_line(&mut c).unwrap(), "ping");
    shutdown_write(&c);
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    let line = nth_line(&l, 0);
    assert_eq!(line.client, format!("127.0.0.1:{client_port}"));
    // [24/Nov/2026:12:01:02.123]
    let d = line.date.as_bytes();
    assert!(
        line.date.len() == 26 && d[0] == b'[' && d[3] == b'/' && d[7] == b'/' && d[21] == b'.',
        "{line:?}"
    );
    assert_eq!(
        (
            line.frontend.as_str(),
            line.backend.as_str(),
            line.server.as_str()
        ),
        ("fe", "be", "s0")
    );
    let [tw, tc, tt] = line.timers;
    assert!(tw >= 0 && tc >= 0 && tt >= tw + tc, "{line:?}");
    // What the server sent: its name line and the echo.
    assert_eq!(line.bytes, b"s1\nping\n".len() as u64);
    assert_eq!(line.state, "--");
    assert_eq!(line.counts, [1, 1, 1, 1], "{line:?}");
    assert_eq!((line.retries.as_str(), line.queues.as_str()), ("0", "0/0"));
    // Only log lines on stdout: the daemon's own messages stay on stderr.
    assert_eq!(l.out_lines().len(), 1, "{:?}", l.out_lines());
    assert!(l.log_text().contains("l4lb ready"));
}

#[test]
fn a_refused_server_logs_sc_with_its_retries() {
    let dead = refusing_addr();
    let port = free_port();
    let l = L4lb::start(&logging_conf(port, &[dead], "retries 2", ""));
    // Refused at once: the reset may even beat the end of our connect.
    if let Ok(mut c) = std::net::TcpStream::connect(addr(port)) {
        let _ = c.read(&mut [0u8; 16]);
    }
    let line = nth_line(&l, 0);
    assert_eq!((line.server.as_str(), line.state.as_str()), ("s0", "SC"));
    assert_eq!(line.timers[1], -1, "never connected: {line:?}");
    assert_eq!(line.bytes, 0);
    // Three attempts on the only server: 2 retries, no redispatch.
    assert_eq!(line.retries, "2");
}

#[test]
fn a_retry_on_another_server_is_counted_and_marked_redispatched() {
    let dead = refusing_addr();
    let good = Backend::named("good");
    let port = free_port();
    // `first` always tries s0 (dead) first.
    let l = L4lb::start(&logging_conf(
        port,
        &[dead, good.addr()],
        "balance first",
        "",
    ));
    round_trip(port);
    let line = nth_line(&l, 0);
    assert_eq!((line.server.as_str(), line.state.as_str()), ("s1", "--"));
    assert_eq!(line.retries, "+1", "{line:?}");
    assert!(line.timers[1] >= 0);
}

#[test]
fn a_client_reset_mid_stream_logs_cd() {
    // The server streams until the client is gone.
    let backend = Backend::start(|mut s| {
        let chunk = [b'x'; 16384];
        while s.write_all(&chunk).is_ok() {}
    });
    let port = free_port();
    let l = L4lb::start(&logging_conf(port, &[backend.addr()], "", ""));
    let mut c = connect(port);
    let mut buf = [0u8; 65536];
    let mut got = 0;
    while got < 100_000 {
        got += c.read(&mut buf).unwrap();
    }
    reset(c);
    let line = nth_line(&l, 0);
    assert_eq!(line.state, "CD", "{line:?}");
    assert!(line.bytes >= got as u64, "{line:?}");
}

#[test]
fn a_server_reset_logs_sd() {
    let backend = Backend::start(|mut s| {
        let _ = read_line(&mut s);
        reset(s);
    });
    let port = free_port();
    let l = L4lb::start(&logging_conf(port, &[backend.addr()], "", ""));
    let mut c = connect(port);
    c.write_all(b"hello\n").unwrap();
    let _ = c.read(&mut [0u8; 16]);
    let line = nth_line(&l, 0);
    assert_eq!(line.state, "SD", "{line:?}");
}

#[test]
fn idle_timeouts_log_which_side_timed_out() {
    let backend = Backend::echo();
    let port = free_port();
    // Client side first, then server side.
    let conf = logging_conf(port, &[backend.addr()], "", "timeout client 300ms");
    let l = L4lb::start(&conf);
    let mut c = connect(port);
    c.write_all(b"x").unwrap();
    let _ = c.read(&mut [0u8; 1]);
    let line = nth_line(&l, 0);
    assert_eq!(line.state, "cD", "{line:?}");
    assert!(line.timers[2] >= 300, "{line:?}");
    drop(c);

    // The server side's read timeout passes a FIN to the client (HAProxy's
    // rule); the session ends when the client closes its side too.
    let port = free_port();
    let conf = logging_conf(port, &[backend.addr()], "timeout server 300ms", "");
    let l = L4lb::start(&conf);
    let mut c = connect(port);
    c.write_all(b"x").unwrap();
    let _ = c.read(&mut [0u8; 1]);
    c.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(c.read(&mut [0u8; 1]).unwrap(), 0, "a clean EOF");
    drop(c);
    let line = nth_line(&l, 0);
    assert_eq!(line.state, "sD", "{line:?}");
}

#[test]
fn a_connect_timeout_logs_sc_lowercase() {
    let (_hole, _fillers, hole) = black_hole();
    let port = free_port();
    let l = L4lb::start(&logging_conf(
        port,
        &[hole],
        "timeout connect 200ms\nretries 0",
        "",
    ));
    let mut c = connect(port);
    let _ = c.read(&mut [0u8; 1]);
    let line = nth_line(&l, 0);
    assert_eq!(
        (line.state.as_str(), line.timers[1]),
        ("sC", -1),
        "{line:?}"
    );
    assert!(line.timers[2] >= 200, "{line:?}");
}

#[test]
fn a_client_reset_while_connecting_logs_cc() {
    let (_hole, _fillers, hole) = black_hole();
    let port = free_port();
    let l = L4lb::start(&logging_conf(port, &[hole], "timeout connect 20s", ""));
    let before = l.fd_count();
    let c = connect(port);
    // The proxy has accepted and is connecting: a client and a server fd.
    assert!(wait_until(WAIT, || l.fd_count() >= before + 2));
    reset(c);
    let line = nth_line(&l, 0);
    assert_eq!(line.state, "CC", "{line:?}");
    // Noticed at the reset, long before the connect timeout.
    assert!(line.timers[2] < 15_000, "{line:?}");
}

#[test]
fn a_queue_timeout_logs_sq() {
    let backend = Backend::echo();
    let port = free_port();
    let extra = "timeout queue 300ms\ndefault-server maxconn 1";
    let l = L4lb::start(&logging_conf(port, &[backend.addr()], extra, ""));
    let mut held = connect(port);
    held.write_all(b"a").unwrap();
    held.read_exact(&mut [0u8; 1]).unwrap();
    let mut waiting = connect(port);
    let _ = waiting.read(&mut [0u8; 1]);
    let line = nth_line(&l, 0);
    assert_eq!(
        (line.state.as_str(), line.server.as_str()),
        ("sQ", "<NOSRV>")
    );
    assert_eq!(line.timers[..2], [-1, -1], "{line:?}");
    assert!(line.timers[2] >= 300, "{line:?}");
}

#[test]
fn dontlognull_skips_connections_that_sent_nothing() {
    let backend = Backend::echo();
    let port = free_port();
    let l = L4lb::start(&logging_conf(
        port,
        &[backend.addr()],
        "",
        "option dontlognull",
    ));
    // First a connection that sends nothing, closed end to end...
    let mut empty = connect(port);
    shutdown_write(&empty);
    assert_eq!(empty.read(&mut [0u8; 1]).unwrap(), 0);
    // ...then one with data. Records reach the logger in the order the
    // connections ended, so the first would be logged before this one.
    let mut c = connect(port);
    c.write_all(b"data").unwrap();
    shutdown_write(&c);
    let mut back = Vec::new();
    c.read_to_end(&mut back).unwrap();
    let line = nth_line(&l, 0);
    assert_eq!((line.bytes, line.state.as_str()), (4, "--"));
    assert_eq!(l.out_lines().len(), 1, "{:?}", l.out_lines());
}

#[test]
fn a_hard_stop_logs_open_connections_as_killed() {
    let backend = Backend::echo();
    let port = free_port();
    let mut l = L4lb::start(&logging_conf(port, &[backend.addr()], "", ""));
    let mut c = connect(port);
    c.write_all(b"x").unwrap();
    c.read_exact(&mut [0u8; 1]).unwrap();
    l.signal(libc::SIGINT);
    assert!(l.wait_exit(WAIT).is_some_and(|s| s.success()));
    let lines = l.out_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(parse(&lines[0]).state, "KD");
}

#[test]
fn a_soft_stop_lets_connections_finish_and_logs_them_normally() {
    let backend = Backend::echo();
    let port = free_port();
    let mut l = L4lb::start(&logging_conf(port, &[backend.addr()], "", ""));
    let mut c = connect(port);
    c.write_all(b"x").unwrap();
    c.read_exact(&mut [0u8; 1]).unwrap();
    l.signal(libc::SIGTERM);
    // Still served while draining; then the client ends it.
    c.write_all(b"yz").unwrap();
    c.read_exact(&mut [0u8; 2]).unwrap();
    shutdown_write(&c);
    assert_eq!(c.read(&mut [0u8; 1]).unwrap(), 0);
    assert!(l.wait_exit(WAIT).is_some_and(|s| s.success()));
    let lines = l.out_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = parse(&lines[0]);
    assert_eq!((line.state.as_str(), line.bytes), ("--", 3));
}

#[test]
fn udp_syslog_targets_get_rfc3164_and_rfc5424_datagrams() {
    let rfc3164 = UdpSocket::bind(addr(0)).unwrap();
    let rfc5424 = UdpSocket::bind(addr(0)).unwrap();
    for s in [&rfc3164, &rfc5424] {
        s.set_read_timeout(Some(WAIT)).unwrap();
    }
    let backend = Backend::named("s1");
    let port = free_port();
    let global = format!(
        "global\n    log {} local0 info\n    log {} format rfc5424 local7\n    \
         log-tag edge\n    log-send-hostname lb1\n",
        rfc3164.local_addr().unwrap(),
        rfc5424.local_addr().unwrap()
    );
    let conf = conf(port, &[backend.addr()], "")
        .replacen("global\n", &global, 1)
        .replacen(
            "frontend fe\n",
            "frontend fe\n    log global\n    option tcplog\n",
            1,
        );
    // Dates are local time, as HAProxy's: a zone 5:30 east of UTC shows.
    let tz = [("TZ", "XYZ-5:30")];
    let l = L4lb::start_with_env(&conf, &tz);
    // What date(1) says in that zone around the connection, to the minute.
    let local_now = |format: &str| -> String {
        let out = std::process::Command::new("date")
            .env("TZ", tz[0].1)
            .arg(format)
            .output()
            .expect("date(1)");
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end()
            .to_string()
    };
    let minutes = |format: &str| [local_now(format), String::new()];
    let (mut rfc3164_minutes, mut iso_minutes) = (minutes("+%b %e %H:%M"), minutes("+%FT%H:%M"));
    round_trip(port);
    rfc3164_minutes[1] = local_now("+%b %e %H:%M");
    iso_minutes[1] = local_now("+%FT%H:%M");
    let pid = l.pid();
    let recv = |s: &UdpSocket| {
        let mut buf = [0u8; 2048];
        let n = s.recv(&mut buf).expect("a syslog datagram");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    };

    // <134>Nov 24 12:01:02 lb1 edge[PID]: MSG  (local0 = 16, info = 6)
    let d = recv(&rfc3164);
    let rest = d.strip_prefix("<134>").unwrap_or_else(|| panic!("{d:?}"));
    let (stamp, rest) = rest.split_at(15);
    let months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec";
    assert!(months.contains(&stamp[..3]), "{d:?}");
    assert_eq!((&stamp[3..4], &stamp[6..7], &stamp[9..10]), (" ", " ", ":"));
    assert!(
        rfc3164_minutes.contains(&stamp[..12].to_string()),
        "local time: {d:?}, date(1) said {rfc3164_minutes:?}"
    );
    let msg = rest
        .strip_prefix(&format!(" lb1 edge[{pid}]: "))
        .unwrap_or_else(|| panic!("{d:?}"));
    let line = parse(msg);
    assert_eq!((line.server.as_str(), line.state.as_str()), ("s0", "--"));

    // <190>1 2026-11-24T17:31:02.123456+05:30 lb1 edge PID - - MSG
    let d = recv(&rfc5424);
    let rest = d.strip_prefix("<190>1 ").unwrap_or_else(|| panic!("{d:?}"));
    let (stamp, rest) = rest.split_at(32);
    let b = stamp.as_bytes();
    assert!(
        b[4] == b'-' && b[10] == b'T' && b[19] == b'.' && stamp.ends_with("+05:30"),
        "{d:?}"
    );
    assert!(
        iso_minutes.contains(&stamp[..16].to_string()),
        "local time: {d:?}, date(1) said {iso_minutes:?}"
    );
    let msg = rest
        .strip_prefix(&format!(" lb1 edge {pid} - - "))
        .unwrap_or_else(|| panic!("{d:?}"));
    assert_eq!(parse(msg).state, "--");
    // Nothing went to stdout: no target there.
    assert!(l.out_lines().is_empty());
}

#[test]
fn a_unix_datagram_target_like_dev_log_gets_the_line() {
    let dir = TempDir::new("devlog");
    let path = dir.0.join("log.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let backend = Backend::named("s1");
    let port = free_port();
    let global = format!("global\n    log {} format short daemon\n", path.display());
    let conf = conf(port, &[backend.addr()], "")
        .replacen("global\n", &global, 1)
        .replacen(
            "frontend fe\n",
            "frontend fe\n    log global\n    option tcplog\n",
            1,
        );
    let _l = L4lb::start(&conf);
    round_trip(port);
    let mut buf = [0u8; 2048];
    let n = sock.recv(&mut buf).expect("a datagram on the unix socket");
    let d = String::from_utf8(buf[..n].to_vec()).unwrap();
    // `short`: the severity alone (info = 6), then the message.
    let msg = d.strip_prefix("<6>").unwrap_or_else(|| panic!("{d:?}"));
    assert_eq!(parse(msg).server, "s0");
}

/// The common conf with `log ADDR local0` on frontend `fe` bound to
/// `bind` (HOST:PORT), plus `extra` lines there.
fn syslog_conf(bind: &str, backend: SocketAddr, syslog: SocketAddr, extra: &str) -> String {
    let mut fe = format!("frontend fe\n    log {syslog} local0\n");
    for l in extra.lines() {
        fe.push_str(&format!("    {}\n", l.trim()));
    }
    conf(0, &[backend], "")
        .replacen("frontend fe\n", &fe, 1)
        .replacen("bind 127.0.0.1:0", &format!("bind {bind}"), 1)
}

/// HAProxy's default log format (section 8.2.1): a `log` target and neither
/// `option tcplog` nor `log-format` is one line at accept, at info, and
/// none at the end. `option dontlognull` does not apply to it: the line
/// goes out before the client could send anything.
#[test]
fn without_tcplog_a_target_gets_haproxys_connect_line_at_accept() {
    let syslog = Syslog::bind(WAIT);
    let backend = Backend::named("s1");
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let l = L4lb::start(&syslog_conf(
        &bind,
        backend.addr(),
        syslog.addr(),
        "option dontlognull",
    ));
    let mut c = connect(port);
    let client = c.local_addr().unwrap();
    // Before the connection ends, and though it sent nothing.
    let d = syslog.expect();
    assert_eq!(
        d.msg,
        format!("Connect from {client} to 127.0.0.1:{port} (fe/TCP)")
    );
    assert_eq!(d.pri, 16 * 8 + 6, "local0.info: {d:?}");
    assert_eq!(read_line(&mut c).unwrap(), "s1");
    drop(c);
    round_trip(port);
    assert!(syslog.expect().msg.starts_with("Connect from 127.0.0.1:"));
    l.stop();
    assert!(syslog.rest().is_empty(), "nothing at a connection's end");
}

#[test]
fn the_connect_line_writes_ipv6_addresses_without_brackets() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback on this machine: skipped");
        return;
    }
    let syslog = Syslog::bind(WAIT);
    let backend = Backend::named("s1");
    let port = free_port();
    let bind = format!("[::1]:{port}");
    let l = L4lb::start(&syslog_conf(&bind, backend.addr(), syslog.addr(), ""));
    let mut c = TcpStream::connect(("::1", port)).unwrap();
    let client_port = c.local_addr().unwrap().port();
    assert_eq!(read_line(&mut c).unwrap(), "s1");
    assert_eq!(
        syslog.expect().msg,
        format!("Connect from ::1:{client_port} to ::1:{port} (fe/TCP)")
    );
    drop(c);
    l.stop();
}

#[test]
fn option_tcplog_replaces_the_connect_line() {
    let syslog = Syslog::bind(WAIT);
    let backend = Backend::named("s1");
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let conf = syslog_conf(&bind, backend.addr(), syslog.addr(), "option tcplog");
    let l = L4lb::start(&conf);
    let client = {
        let mut c = connect(port);
        assert_eq!(read_line(&mut c).unwrap(), "s1");
        c.local_addr().unwrap()
    };
    let d = syslog.expect();
    assert!(
        d.msg.starts_with(&format!("{client} [")) && d.msg.contains(" fe be/s0 "),
        "the TCP log line, not the connect line: {d:?}"
    );
    l.stop();
    assert!(syslog.rest().is_empty(), "one line only");
}
