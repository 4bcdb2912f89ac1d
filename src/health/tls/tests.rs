//! client_config's errors, and real exchanges on loopback: a
//! non-blocking [`CheckConn::tls`] client driven by a mio poll loop, as
//! the prober drives it, against the fake TLS server of the integration
//! tests (and, by hand, `openssl s_server`: see [`openssl_by_hand`]).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use rustls::ClientConfig;

use super::client_config;
use crate::config::{CaFile, CheckTls};
use crate::health::conn::CheckConn;
use crate::proxy::net::{self, Progress};
use crate::proxy::stream::Stream;

#[path = "../../../tests/common/tls.rs"]
mod fake;

use fake::{Hello, TlsServer};

const NAME: &str = "check.example";

fn tls(verify: bool, ca_file: Option<PathBuf>) -> CheckTls {
    CheckTls {
        check_ssl: true,
        verify,
        verify_from_global: false,
        ca_file: ca_file.map(CaFile::Path),
        sni: None,
        verifyhost: None,
        alpn: Vec::new(),
    }
}

fn config(tls: &CheckTls) -> Arc<ClientConfig> {
    client_config(tls, &tls.alpn).expect("client config")
}

/// Connects, handshakes, sends `request`, reads to EOF, all non-blocking
/// with one READABLE | WRITABLE edge-triggered registration, as the
/// prober does: an event missed (TLS output left queued without the
/// socket having said WouldBlock) shows as a timeout. Err: the first error, or a timeout after 10s.
fn talk(
    to: SocketAddr,
    config: Arc<ClientConfig>,
    sni: Option<&str>,
    request: &[u8],
) -> io::Result<Vec<u8>> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(8);
    let stream = mio::net::TcpStream::connect(to)?;
    // Small buffers, so that big exchanges meet WouldBlock both ways.
    let sock = socket2::SockRef::from(&stream);
    sock.set_send_buffer_size(65536)?;
    sock.set_recv_buffer_size(65536)?;
    let stream = Stream::Tcp(stream);
    let mut conn = CheckConn::tls(stream, config, sni)?;
    let interest = Interest::READABLE | Interest::WRITABLE;
    poll.registry()
        .register(conn.socket(), Token(0), interest)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut connected, mut ready, mut sent) = (false, false, 0);
    let mut got = Vec::new();
    loop {
        if !connected {
            match net::connect_outcome(conn.socket()) {
                Progress::Connected => connected = true,
                Progress::Waiting => {}
                Progress::Failed(e) => return Err(e),
            }
        }
        if connected && !ready {
            ready = conn.handshake()?;
        }
        if ready && send(&mut conn, request, &mut sent)? && receive(&mut conn, &mut got)? {
            return Ok(got);
        }
        let left = deadline
            .checked_duration_since(Instant::now())
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "no end in 10s"))?;
        poll.poll(&mut events, Some(left))?;
    }
}

/// Writes until all is sent (true) or WouldBlock (false).
fn send(conn: &mut CheckConn, request: &[u8], sent: &mut usize) -> io::Result<bool> {
    while *sent < request.len() {
        match conn.write(&request[*sent..]) {
            Ok(n) => *sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Reads until EOF (true) or WouldBlock (false).
fn receive(conn: &mut CheckConn, got: &mut Vec<u8>) -> io::Result<bool> {
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return Ok(true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

const ANSWER: &[u8] = b"HTTP/1.0 200 OK\r\n\r\nup";

fn server() -> TlsServer {
    TlsServer::answering(0, &[NAME], ANSWER)
}

#[test]
fn verify_required_needs_a_ca_file() {
    let e = client_config(&tls(true, None), &[]).unwrap_err();
    assert!(e.contains("no ca-file"), "{e}");
    assert!(e.contains("verify none"), "{e}");
}

#[test]
fn missing_ca_file_is_an_error() {
    let e = client_config(&tls(true, Some("/nonexistent/ca.pem".into())), &[]).unwrap_err();
    assert!(e.contains("ca-file /nonexistent/ca.pem"), "{e}");
    assert!(e.contains("No such file"), "{e}");
}

#[test]
fn ca_file_without_certificates_is_an_error() {
    let s = server();
    let dir = s.ca_file.parent().unwrap().to_path_buf();
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let e = client_config(&tls(true, Some(garbage.clone())), &[]).unwrap_err();
    assert!(e.contains("no PEM certificate"), "{e}");

    let broken = dir.join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = client_config(&tls(true, Some(broken)), &[]).unwrap_err();
    assert!(e.contains("bad PEM"), "{e}");

    let not_der = dir.join("notder.pem");
    std::fs::write(
        &not_der,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = client_config(&tls(true, Some(not_der)), &[]).unwrap_err();
    assert!(e.contains("bad CA certificate"), "{e}");
}

#[test]
fn bad_check_sni_is_an_error() {
    let mut t = tls(false, None);
    t.sni = Some("not a name!".into());
    let e = client_config(&t, &[]).unwrap_err();
    assert!(e.contains("check-sni"), "{e}");
}

#[test]
fn system_ca_loads_debians_bundle() {
    if !std::path::Path::new(super::SYSTEM_BUNDLE).exists() {
        return; // No ca-certificates on this machine.
    }
    let mut t = tls(true, None);
    t.ca_file = Some(CaFile::System);
    client_config(&t, &[]).expect("the system's CAs");
}

#[test]
fn verify_none_accepts_any_certificate() {
    let s = server();
    let got = talk(
        s.addr(),
        config(&tls(false, None)),
        None,
        b"GET / HTTP/1.0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(got, ANSWER);
    let no_sni = Hello {
        sni: None,
        alpn: Vec::new(),
    };
    assert_eq!(s.hellos(), vec![no_sni]);
}

#[test]
fn verify_required_with_the_ca_and_sni_passes() {
    let s = server();
    let c = config(&tls(true, Some(s.ca_file.clone())));
    let got = talk(s.addr(), c, Some(NAME), b"hello").unwrap();
    assert_eq!(got, ANSWER);
    assert_eq!(s.hellos()[0].sni.as_deref(), Some(NAME));
}

#[test]
fn a_ca_directory_is_read() {
    let s = server();
    let dir = s.ca_file.parent().unwrap().to_path_buf();
    let got = talk(s.addr(), config(&tls(true, Some(dir))), Some(NAME), b"x").unwrap();
    assert_eq!(got, ANSWER);
}

#[test]
fn verify_required_with_another_ca_fails() {
    let (s, other) = (server(), server());
    let c = config(&tls(true, Some(other.ca_file.clone())));
    let e = talk(s.addr(), c, Some(NAME), b"x").unwrap_err();
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
}

#[test]
fn a_name_other_than_the_sni_fails() {
    let s = server();
    let c = config(&tls(true, Some(s.ca_file.clone())));
    let e = talk(s.addr(), c, Some("other.example"), b"x").unwrap_err();
    let e = e.to_string();
    assert!(e.contains("do not match other.example (the SNI)"), "{e}");
    assert!(e.contains(NAME), "{e}");
}

#[test]
fn without_sni_or_verifyhost_only_the_chain_is_checked() {
    let s = server();
    let c = config(&tls(true, Some(s.ca_file.clone())));
    assert_eq!(talk(s.addr(), c, None, b"x").unwrap(), ANSWER);
    assert_eq!(s.hellos()[0].sni, None);
}

#[test]
fn without_sni_verifyhost_is_checked() {
    let s = server();
    let mut t = tls(true, Some(s.ca_file.clone()));
    t.verifyhost = Some("other.example".into());
    let e = talk(s.addr(), config(&t), None, b"x").unwrap_err();
    assert!(e.to_string().contains("other.example (verifyhost)"), "{e}");
    t.verifyhost = Some(NAME.into());
    assert_eq!(talk(s.addr(), config(&t), None, b"x").unwrap(), ANSWER);
}

#[test]
fn the_sni_wins_over_verifyhost() {
    // HAProxy checks the SNI it sent; verifyhost only stands in for none.
    let s = server();
    let mut t = tls(true, Some(s.ca_file.clone()));
    t.verifyhost = Some("other.example".into());
    assert_eq!(
        talk(s.addr(), config(&t), Some(NAME), b"x").unwrap(),
        ANSWER
    );
}

#[test]
fn the_alpn_offered_reaches_the_server() {
    let s = server();
    let alpn = vec!["h2".to_string(), "http/1.1".to_string()];
    let c = client_config(&tls(false, None), &alpn).unwrap();
    talk(s.addr(), c, Some(NAME), b"x").unwrap();
    assert_eq!(s.hellos()[0].alpn, alpn);
}

#[test]
fn a_server_that_speaks_first_is_read() {
    let s = TlsServer::banner(0, &[NAME], b"220 ready\r\n");
    assert_eq!(
        talk(s.addr(), config(&tls(false, None)), None, b"").unwrap(),
        b"220 ready\r\n"
    );
}

#[test]
fn large_writes_and_reads_go_through() {
    // Far more than the socket buffers hold, both ways: writes meet
    // WouldBlock and go on at the next WRITABLE edge. The server answers
    // once it has the whole request, so neither side waits on the other.
    const SIZE: usize = 4 << 20;
    let big: Vec<u8> = (0..SIZE).map(|i| i as u8).collect();
    let answer = big.clone();
    let s = TlsServer::start(0, &[NAME], move |got| {
        (got.len() >= SIZE).then(|| answer.clone())
    });
    let request = vec![b'r'; SIZE];
    let got = talk(s.addr(), config(&tls(false, None)), None, &request).unwrap();
    assert!(got == big, "got {} bytes", got.len());
}

/// A plain-text server: answers the ClientHello with an HTTP error.
fn plain_server(answer: &'static [u8]) -> (SocketAddr, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf);
        let _ = sock.write_all(answer);
        let _ = sock.shutdown(std::net::Shutdown::Write);
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        while matches!(sock.read(&mut buf), Ok(n) if n > 0) {}
    });
    (addr, t)
}

#[test]
fn a_plain_text_server_fails_the_handshake() {
    let (addr, t) = plain_server(b"HTTP/1.0 400 Bad Request\r\n\r\n");
    let e = talk(addr, config(&tls(false, None)), None, b"x").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    t.join().unwrap();
}

#[test]
fn a_server_closing_in_the_handshake_fails_it() {
    let (addr, t) = plain_server(b"");
    let e = talk(addr, config(&tls(false, None)), None, b"x").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
    t.join().unwrap();
}

/// By hand against `openssl s_server` (run it first, e.g.
/// `openssl s_server -accept 127.0.0.1:4433 -cert c.pem -key k.pem -tls1_2 -www`),
/// `L4LB_TLS_PEER=127.0.0.1:4433 cargo test --lib openssl_by_hand -- --ignored --nocapture`.
#[test]
#[ignore = "needs an openssl s_server started by hand"]
fn openssl_by_hand() {
    let peer = std::env::var("L4LB_TLS_PEER").expect("L4LB_TLS_PEER=host:port");
    let sni = std::env::var("L4LB_TLS_SNI").ok();
    let mut t = tls(false, None);
    if let Ok(ca) = std::env::var("L4LB_TLS_CA") {
        t = tls(true, Some(ca.into()));
    }
    let got = talk(
        peer.parse().unwrap(),
        config(&t),
        sni.as_deref(),
        b"GET / HTTP/1.0\r\n\r\n",
    )
    .unwrap();
    println!("{}", String::from_utf8_lossy(&got));
    assert!(got.starts_with(b"HTTP/1.0 200"));
}
