//! `log-format` and the logging options through real sockets, to a UDP
//! syslog receiver on loopback: every TCP variable checked against what
//! the client and the server saw, the flags, `option tcplog` against its
//! `log-format` spelling, `option logasap`, `dontlog-normal`,
//! `log-separate-errors` and `log-format-sd`.

mod common;
#[path = "common/syslog.rs"]
mod syslog;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use syslog::Syslog;

const WAIT: Duration = Duration::from_secs(20);
/// local0 (16) at info (6) and at err (3).
const INFO: u32 = 134;
const ERR: u32 = 131;

/// The common conf with frontend `fe` logging to `syslog` (RFC 3164),
/// `frontend` lines added there and `backend` lines in the backend.
fn logging_conf(
    syslog: &Syslog,
    port: u16,
    servers: &[SocketAddr],
    frontend: &str,
    backend: &str,
) -> String {
    let mut fe = format!("frontend fe\n    log {} local0\n", syslog.addr());
    for l in frontend.lines() {
        fe.push_str(&format!("    {}\n", l.trim()));
    }
    conf(port, servers, backend).replacen("frontend fe\n", &fe, 1)
}

/// A server that notes the address each connection came from, sends
/// `hello`, then reads until the client's end.
fn noting_backend() -> (Backend, Arc<Mutex<Vec<SocketAddr>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let noted = Arc::clone(&seen);
    let backend = Backend::start(move |mut s| {
        noted.lock().unwrap().push(s.peer_addr().unwrap());
        if s.write_all(b"hello").is_ok() {
            let _ = s.read_to_end(&mut Vec::new());
        }
    });
    (backend, seen)
}

/// Sends `up` through l4lb, half-closes, and reads the server's answer to
/// its end; returns the client's address.
fn exchange(port: u16, up: &[u8]) -> SocketAddr {
    let mut c = connect(port);
    c.write_all(up).unwrap();
    shutdown_write(&c);
    let mut down = Vec::new();
    c.read_to_end(&mut down).unwrap();
    assert_eq!(down, b"hello");
    c.local_addr().unwrap()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

const EVERY_VARIABLE: &str = "%ci|%cp|%fi|%fp|%bi|%bp|%si|%sp|%f|%ft|%b|%s|%B|%U|%ts|%tsc|\
%ac/%fc/%bc/%sc/%rc|%sq/%bq|%Tw|%Tc|%Tt|%Td|%Th|%pid|%H|%rt|%lc|%[src]:%[src_port]|\
%[dst]:%[dst_port]|%[bc_src]:%[bc_src_port]|%[bc_dst]:%[bc_dst_port]|\
%[fe_name]/%[be_name]/%[srv_name]|%ID|%ST|%r|%OG|%Ts|%ms|%{+Q}b|%{+X}sp|%{+X}ci";

#[test]
fn every_tcp_variable_shows_what_the_client_and_the_server_saw() {
    let syslog = Syslog::bind(WAIT);
    let (backend, seen) = noting_backend();
    let port = free_port();
    let fe = format!("log-format \"{EVERY_VARIABLE}\"");
    let l = L4lb::start(&logging_conf(&syslog, port, &[backend.addr()], &fe, ""));
    // HTTP-only variables load, with a warning.
    assert!(
        l.log_text().contains("%ST %r only have a value"),
        "{}",
        l.log_text()
    );
    let before = now_secs();
    let client = exchange(port, b"1234567");
    let d = syslog.expect();
    assert_eq!(d.pri, INFO, "{d:?}");
    let f: Vec<&str> = d.msg.split('|').collect();
    assert_eq!(f.len(), 41, "{d:?}");
    let from = seen.lock().unwrap()[0];
    let server = backend.addr();
    let (ci, cp) = (client.ip().to_string(), client.port().to_string());
    let (bi, bp) = (from.ip().to_string(), from.port().to_string());
    assert_eq!(
        f[..4],
        [ci.as_str(), cp.as_str(), "127.0.0.1", &port.to_string()]
    );
    assert_eq!(
        f[4..8],
        [
            bi.as_str(),
            bp.as_str(),
            "127.0.0.1",
            &server.port().to_string()
        ]
    );
    assert_eq!(f[8..12], ["fe", "fe", "be", "s0"]);
    // Bytes each way, a normal end, this connection in every count.
    assert_eq!(f[12..18], ["5", "7", "--", "----", "1/1/1/1/0", "0/0"]);
    let timers: Vec<i64> = f[18..23].iter().map(|t| t.parse().unwrap()).collect();
    let [tw, tc, tt, td, th] = timers[..] else {
        unreachable!()
    };
    assert!(
        tw >= 0 && tc >= 0 && td >= 0 && th == 0 && tt == tw + tc + td,
        "{d:?}"
    );
    assert_eq!(f[23], l.pid().to_string());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(f[24], host.trim());
    assert_eq!(f[25..27], ["0", "0"], "%rt and %lc of the first line");
    assert_eq!(f[27], format!("{client}"));
    assert_eq!(f[28], format!("127.0.0.1:{port}"));
    assert_eq!(f[29], format!("{from}"));
    assert_eq!(f[30], format!("{server}"));
    assert_eq!(f[31..36], ["fe/be/s0", "-", "0", "<BADREQ>", "txn_close"]);
    let ts: u64 = f[36].parse().unwrap();
    assert!(before <= ts && ts <= now_secs(), "{d:?}");
    assert!(f[37].len() == 3 && f[37].parse::<u16>().unwrap() < 1000);
    assert_eq!(f[38], "\"be\"");
    assert_eq!(
        f[39..],
        [format!("{:04X}", server.port()), "7F000001".into()]
    );
    // The next connection: the counters move on.
    exchange(port, b"x");
    let d = syslog.expect();
    let f: Vec<&str> = d.msg.split('|').collect();
    assert_eq!(f[25..27], ["1", "1"], "{d:?}");
}

#[test]
fn log_format_with_the_tcp_string_is_option_tcplog() {
    let syslog = Syslog::bind(WAIT);
    let (backend, _) = noting_backend();
    let (pa, pb) = (free_port(), free_port());
    let target = format!("log {} local0", syslog.addr());
    let dir = TempDir::new("tcplog-string");
    let sock = dir.0.join("api.sock");
    let conf = format!(
        "global\n    stats socket {}\n\
         defaults\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
         frontend fa\n    bind 127.0.0.1:{pa}\n    {target}\n    option tcplog\n    default_backend be\n\
         frontend fb\n    bind 127.0.0.1:{pb}\n    {target}\n    \
         log-format \"%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq\"\n    \
         default_backend be\n\
         backend be\n    server s0 {}\n",
        sock.display(),
        backend.addr()
    );
    let _l = L4lb::start(&conf);
    let a = exchange(pa, b"1");
    let line_a = syslog.expect().msg;
    // The line goes out as the session ends, just before it gives back its
    // counts: the second connection's must not include the first.
    let released = || show_stat(&sock, "be", "s0", "scur") == "0";
    assert!(wait_until(WAIT, released), "the first session ended");
    let b = exchange(pb, b"1");
    let line_b = syslog.expect().msg;
    // The same line but for what differs between the two connections: the
    // client port, the dates and timers, the frontend's name.
    let normal = |line: &str, client: SocketAddr, fe: &str| {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 9, "{line}");
        assert_eq!(f[0], client.to_string(), "{line}");
        assert_eq!(f[2], fe);
        let timers = f[4].split('/').count();
        format!("{} {} {} {} {}", f[3], timers, f[5], f[6], f[7..].join(" "))
    };
    assert_eq!(normal(&line_a, a, "fa"), normal(&line_b, b, "fb"));
    assert_eq!(normal(&line_a, a, "fa"), "be/s0 3 5 -- 1/1/1/1/0 0/0");
}

#[test]
fn flags_quote_escape_and_hex_as_haproxy() {
    let syslog = Syslog::bind(WAIT);
    let (backend, _) = noting_backend();
    let port = free_port();
    let fe = "log-format \"%{+Q}o %ci %f %{-Q}b %B %ts %{+X}cp %{+Q,+E}[fe_name] 100%%\"";
    let l = L4lb::start(&logging_conf(&syslog, port, &[backend.addr()], fe, ""));
    let client = exchange(port, b"");
    let d = syslog.expect();
    assert_eq!(
        d.msg,
        format!(
            "\"127.0.0.1\" \"fe\" be 5 -- {:04X} \"fe\" 100%",
            client.port()
        )
    );
    drop(l);
}

#[test]
fn logasap_logs_at_connect_with_partial_counts_and_only_then() {
    let syslog = Syslog::bind(WAIT);
    let backend = Backend::named("s1");
    let port = free_port();
    let fe = "option tcplog\noption logasap";
    let l = L4lb::start(&logging_conf(&syslog, port, &[backend.addr()], fe, ""));
    let mut c = connect(port);
    assert_eq!(read_line(&mut c).unwrap(), "s1");
    // Logged while the connection is still open.
    let d = syslog.expect();
    let f: Vec<&str> = d.msg.split(' ').collect();
    assert_eq!(f[0], c.local_addr().unwrap().to_string(), "{d:?}");
    let timers: Vec<&str> = f[4].split('/').collect();
    assert!(
        timers[2].starts_with('+') && timers[2][1..].parse::<u64>().is_ok(),
        "{d:?}"
    );
    assert_eq!((f[5], f[6]), ("+0", "--"), "{d:?}");
    c.write_all(b"ping\n").unwrap();
    assert_eq!(read_line(&mut c).unwrap(), "ping");
    drop(c);
    assert!(l.stop().success());
    assert!(syslog.rest().is_empty(), "logged a second time");
}

#[test]
fn logasap_logs_a_connection_that_never_connects_at_its_end() {
    let syslog = Syslog::bind(WAIT);
    let port = free_port();
    let dead = addr(free_port());
    let fe = "option tcplog\noption logasap";
    let _l = L4lb::start(&logging_conf(&syslog, port, &[dead], fe, "retries 0"));
    // Refused at once: the reset may even beat the end of our connect.
    if let Ok(mut c) = std::net::TcpStream::connect(addr(port)) {
        let _ = c.read(&mut [0u8; 1]);
    }
    let d = syslog.expect();
    let f: Vec<&str> = d.msg.split(' ').collect();
    assert_eq!((f[5], f[6]), ("+0", "SC"), "{d:?}");
}

#[test]
fn dontlog_normal_logs_only_errors_retries_and_redispatches() {
    let syslog = Syslog::bind(WAIT);
    let (good, _) = noting_backend();
    let dead = addr(free_port());
    let port = free_port();
    let fe = "option tcplog\noption dontlog-normal";
    // `first` tries s0 (good) first: normal connections. Then s0 is gone.
    let l = L4lb::start(&logging_conf(
        &syslog,
        port,
        &[good.addr()],
        fe,
        "retries 0",
    ));
    exchange(port, b"normal");
    drop(l);
    let l = L4lb::start(&logging_conf(
        &syslog,
        port,
        &[dead, good.addr()],
        fe,
        "balance first",
    ));
    let retried = exchange(port, b"retried");
    let d = syslog.expect();
    assert!(d.msg.starts_with(&format!("{retried} ")), "{d:?}");
    assert!(d.msg.ends_with(" 1/1/1/1/+1 0/0"), "{d:?}");
    assert!(l.stop().success());
    assert!(syslog.rest().is_empty());
}

#[test]
fn log_separate_errors_raises_errors_to_err() {
    let syslog = Syslog::bind(WAIT);
    let (good, _) = noting_backend();
    let port = free_port();
    let fe = "option tcplog\noption log-separate-errors";
    let mut l = L4lb::start(&logging_conf(&syslog, port, &[good.addr()], fe, ""));
    exchange(port, b"ok");
    let d = syslog.expect();
    assert_eq!((d.pri, d.msg.contains(" -- ")), (INFO, true), "{d:?}");
    // A client reset mid-stream: CD, an error.
    let mut c = connect(port);
    c.write_all(b"x").unwrap();
    c.read_exact(&mut [0u8; 5]).unwrap();
    socket2::SockRef::from(&c)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(c);
    let d = syslog.expect();
    assert_eq!((d.pri, d.msg.contains(" CD ")), (ERR, true), "{d:?}");
    l.signal(libc::SIGTERM);
    assert!(l.wait_exit(WAIT).is_some());
}

#[test]
fn logasap_with_dontlog_normal_still_logs_an_error_at_the_end() {
    let syslog = Syslog::bind(WAIT);
    let (good, _) = noting_backend();
    let port = free_port();
    let fe = "option tcplog\noption logasap\noption dontlog-normal";
    let l = L4lb::start(&logging_conf(&syslog, port, &[good.addr()], fe, ""));
    exchange(port, b"normal: never logged");
    let mut c = connect(port);
    c.write_all(b"x").unwrap();
    c.read_exact(&mut [0u8; 5]).unwrap();
    let reset_from = c.local_addr().unwrap();
    socket2::SockRef::from(&c)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(c);
    let d = syslog.expect();
    assert!(d.msg.starts_with(&format!("{reset_from} ")), "{d:?}");
    assert!(d.msg.contains(" CD "), "{d:?}");
    assert!(l.stop().success());
    assert!(syslog.rest().is_empty());
}

#[test]
fn log_format_sd_fills_the_rfc5424_structured_data() {
    let syslog = Syslog::bind(WAIT);
    let (good, _) = noting_backend();
    let port = free_port();
    let fe = format!(
        "log-format \"%ci %ts\"\nlog-format-sd \"[l4lb@1 fe=%{{+Q,+E}}f be=%{{+Q}}b]\"\nno log\n\
         log {} format rfc5424 local0",
        syslog.addr()
    );
    let _l = L4lb::start(&logging_conf(&syslog, port, &[good.addr()], &fe, ""));
    let client = exchange(port, b"");
    let d = syslog.expect();
    assert!(
        d.raw.ends_with(&format!(
            " - [l4lb@1 fe=\"fe\" be=\"be\"] {} --",
            client.ip()
        )),
        "{d:?}"
    );
}

#[test]
fn logasap_logs_once_when_retry_on_empty_response_connects_again() {
    let syslog = Syslog::bind(WAIT);
    // Reads the request, then hangs up without a byte: empty response.
    let mute = Backend::start(|mut s| {
        let _ = read_line(&mut s);
    });
    let echo = Backend::echo();
    let port = free_port();
    let fe = "option tcplog\noption logasap";
    let be = "balance first\nretry-on conn-failure empty-response";
    let l = L4lb::start(&logging_conf(
        &syslog,
        port,
        &[mute.addr(), echo.addr()],
        fe,
        be,
    ));
    let mut c = connect(port);
    c.write_all(b"request\n").unwrap();
    assert_eq!(read_line(&mut c).unwrap(), "request", "replayed to echo");
    drop(c);
    let d = syslog.expect();
    assert!(
        d.msg.contains(" be/s0 "),
        "logged at the first connect: {d:?}"
    );
    assert!(l.stop().success());
    assert!(syslog.rest().is_empty(), "logged a second time");
}
