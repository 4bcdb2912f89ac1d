//! TLS ClientHellos for the SNI routing tests (tests/sni_routing.rs): real
//! ones from rustls (with or without SNI, with ALPN), the same split into
//! several records, and big ones built by hand (rustls cannot make a 20 KiB
//! hello); a client that sends them, piece by piece if asked, and reads the
//! backend's name and echo back; the conf of one frontend over named
//! backends.
//!
//! Included next to `mod common;` with `#[path = "common/sni.rs"] mod sni;`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use crate::common::{connect, read_line};

/// A TLS record's content type for handshake messages.
const HANDSHAKE: u8 = 0x16;
/// The most plaintext one record may carry (RFC 8446, 5.1).
pub(crate) const MAX_RECORD: usize = 1 << 14;

/// The first flight of a rustls client: one record holding its
/// ClientHello, with the server name `sni` (None: no server_name
/// extension) and the ALPN protocols `alpn`.
pub(crate) fn rustls_hello(sni: Option<&str>, alpn: &[&str]) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    config.enable_sni = sni.is_some();
    // Without SNI rustls still wants a name to verify against; it is not sent.
    let name = ServerName::try_from(sni.unwrap_or("no-sni.invalid").to_string()).unwrap();
    let mut conn = ClientConnection::new(Arc::new(config), name).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    assert_eq!(out[0], HANDSHAKE, "rustls's first record is a handshake");
    out
}

/// The handshake messages carried by `records` (TLS records, handshake
/// type), their headers taken off.
pub(crate) fn handshake_bytes(records: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = records;
    while !rest.is_empty() {
        assert_eq!(rest[0], HANDSHAKE, "a handshake record");
        let len = usize::from(rest[3]) << 8 | usize::from(rest[4]);
        out.extend_from_slice(&rest[5..5 + len]);
        rest = &rest[5 + len..];
    }
    out
}

/// `handshake` (messages) as records of at most `max` bytes each, TLS 1.0
/// in the record header as clients write their first flight.
pub(crate) fn records(handshake: &[u8], max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in handshake.chunks(max) {
        out.extend_from_slice(&[HANDSHAKE, 3, 1]);
        out.extend_from_slice(&u16::try_from(chunk.len()).unwrap().to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// A TLS 1.3 ClientHello built by hand, `size` bytes long on the wire
/// (give or take a record header: a padding extension fills it up; about
/// 1.4 KiB at the least), in records of at most
/// `MAX_RECORD` bytes: server_name `sni` first (where HAProxy, which reads
/// the first record only, also finds it), then the versions, groups and
/// signature algorithms, a key share with an X25519MLKEM768 share (1216
/// bytes, as post-quantum clients send) and an X25519 one, and the padding.
pub(crate) fn big_hello(sni: Option<&str>, size: usize) -> Vec<u8> {
    let mut ext = Vec::new();
    if let Some(name) = sni {
        let mut list = vec![0u8]; // host_name
        list.extend_from_slice(&u16::try_from(name.len()).unwrap().to_be_bytes());
        list.extend_from_slice(name.as_bytes());
        extension(&mut ext, 0, &with_len16(&list));
    }
    extension(&mut ext, 43, &[2, 3, 4]); // supported_versions: TLS 1.3
    extension(&mut ext, 10, &with_len16(&[0x11, 0xec, 0x00, 0x1d])); // groups
    extension(&mut ext, 13, &with_len16(&[0x08, 0x04, 0x04, 0x03])); // sig algs
    let mut shares = Vec::new();
    for (group, len) in [(0x11ecu16, 1216usize), (0x001d, 32)] {
        shares.extend_from_slice(&group.to_be_bytes());
        shares.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
        shares.extend((0..len).map(|i| (i * 7 + 3) as u8));
    }
    extension(&mut ext, 51, &with_len16(&shares)); // key_share
    // The fixed part: version, random, session id, 3 suites, 1 compression.
    let fixed = 2 + 32 + 1 + 32 + 2 + 6 + 2;
    let records_for = |body: usize| body.div_ceil(MAX_RECORD) * 5;
    let so_far = 4 + fixed + 2 + ext.len();
    let wanted = size.saturating_sub(records_for(size) + so_far + 4);
    extension(&mut ext, 21, &vec![0u8; wanted]); // padding
    let mut body = vec![3, 3];
    body.extend((0..32).map(|i| i as u8 ^ 0x5a)); // random
    body.push(32);
    body.extend((0..32).map(|i| i as u8 ^ 0xa5)); // legacy session id
    body.extend_from_slice(&with_len16(&[0x13, 0x01, 0x13, 0x02, 0x13, 0x03]));
    body.extend_from_slice(&[1, 0]); // compression: null
    body.extend_from_slice(&with_len16(&ext));
    assert_eq!(body.len(), fixed + 2 + ext.len());
    let mut hs = vec![1]; // client_hello
    hs.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let out = records(&hs, MAX_RECORD);
    assert!(
        wanted == 0 || out.len().abs_diff(size) <= 5,
        "{} for {size}",
        out.len()
    );
    out
}

fn extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
    out.extend_from_slice(data);
}

fn with_len16(data: &[u8]) -> Vec<u8> {
    let mut out = u16::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(data);
    out
}

/// Sends `first` then `then` to the proxy on `port`, reads the backend's
/// name line and the echo of every byte sent, and returns the name. Panics
/// if the echo differs from what was sent in any byte.
pub(crate) fn route(port: u16, first: &[u8], then: &[u8]) -> String {
    let mut c = connect(port);
    c.write_all(first).unwrap();
    c.write_all(then).unwrap();
    read_back(&mut c, &[first, then].concat())
}

/// Like `route`, but `first` goes in pieces of `piece` bytes, `pause`
/// apart (each its own TCP segment: the sockets have TCP_NODELAY).
pub(crate) fn route_in_pieces(
    port: u16,
    first: &[u8],
    piece: usize,
    pause: Duration,
    then: &[u8],
) -> String {
    let mut c = connect(port);
    for chunk in first.chunks(piece) {
        c.write_all(chunk).unwrap();
        std::thread::sleep(pause);
    }
    c.write_all(then).unwrap();
    read_back(&mut c, &[first, then].concat())
}

/// Reads a `Backend::named` server's name, then as many bytes as `sent`,
/// which must be `sent` byte for byte (the backend echoes what it got).
pub(crate) fn read_back(c: &mut TcpStream, sent: &[u8]) -> String {
    let name = read_line(c).expect("the backend's name");
    let mut echo = vec![0u8; sent.len()];
    c.read_exact(&mut echo)
        .unwrap_or_else(|e| panic!("{name}: echo of {} bytes: {e}", sent.len()));
    if let Some(at) = echo.iter().zip(sent).position(|(a, b)| a != b) {
        panic!("{name}: byte {at} of {} differs", sent.len());
    }
    name
}

/// Bytes a client sends after its hello (stand-ins for the rest of its
/// TLS flight), distinct per `seed`.
pub(crate) fn after_hello(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

/// A conf: `global_extra` lines in global, one frontend `fe` on `port`
/// with the lines `frontend`, and one backend per (name, server).
pub(crate) fn routing_conf(
    port: u16,
    global_extra: &str,
    frontend: &str,
    backends: &[(&str, SocketAddr)],
) -> String {
    let mut c = String::from("global\n    nbthread 2\n    maxconn 200\n");
    push_lines(&mut c, global_extra);
    c.push_str(
        "\ndefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    \
         timeout server 30s\n",
    );
    c.push_str(&format!("\nfrontend fe\n    bind 127.0.0.1:{port}\n"));
    push_lines(&mut c, frontend);
    for (name, server) in backends {
        c.push_str(&format!("\nbackend {name}\n    server s {server}\n"));
    }
    c
}

fn push_lines(c: &mut String, lines: &str) {
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        c.push_str(&format!("    {line}\n"));
    }
}
