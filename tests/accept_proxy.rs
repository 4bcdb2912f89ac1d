//! `bind ... accept-proxy`: a client's PROXY header (v1 or v2, even split
//! over several writes) is read before anything else, and its addresses
//! stand for the connection's: a `send-proxy` server downstream gets them
//! (a PROXY chain). A garbage or late header closes that client alone.

mod common;
#[path = "common/proxy_header.rs"]
mod proxy_header;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::*;
use l4lb::wire::proxy_protocol::{Addresses, Command, write_v2};
use proxy_header::header_server;

/// l4lb with an `accept-proxy` bind in front of a `send-proxy` server.
fn chain(server: SocketAddr) -> (L4lb, u16) {
    let port = free_port();
    let text = conf(port, &[server], "default-server send-proxy")
        .replace(
            &format!("bind 127.0.0.1:{port}"),
            &format!("bind 127.0.0.1:{port} accept-proxy"),
        )
        .replace("timeout client 30s", "timeout client 500ms");
    (L4lb::start(&text), port)
}

fn echo_after(c: &mut TcpStream, bytes: &[u8]) {
    c.write_all(bytes).unwrap();
    let mut back = vec![0u8; bytes.len()];
    c.read_exact(&mut back).unwrap();
    assert_eq!(back, bytes);
}

#[test]
fn a_v1_header_split_over_writes_gives_its_addresses_to_the_next_hop() {
    let (server, headers) = header_server(b"");
    let (_l4, port) = chain(server.addr());
    let mut c = connect(port);
    c.write_all(b"PROXY TCP4 203.0.113.7 198.51").unwrap();
    std::thread::sleep(Duration::from_millis(50)); // Two segments.
    c.write_all(b".100.9 5555 443\r\n").unwrap();
    echo_after(&mut c, b"hello");
    let got = headers.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(got, b"PROXY TCP4 203.0.113.7 198.51.100.9 5555 443\r\n");
}

#[test]
fn a_v2_header_and_the_bytes_right_behind_it() {
    let (server, headers) = header_server(b"");
    let (_l4, port) = chain(server.addr());
    let src: SocketAddr = "[2001:db8::7]:40000".parse().unwrap();
    let dst: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
    let mut first = Vec::new();
    write_v2(
        Command::Proxy,
        Addresses::Inet(src, dst),
        &[],
        false,
        &mut first,
    )
    .unwrap();
    first.extend_from_slice(b"data in the same segment");
    let mut c = connect(port);
    c.write_all(&first).unwrap();
    let mut back = [0u8; 24];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"data in the same segment");
    let got = headers.recv_timeout(Duration::from_secs(5)).unwrap();
    let want = format!(
        "PROXY TCP6 {} {} {} {}\r\n",
        src.ip(),
        dst.ip(),
        src.port(),
        dst.port()
    );
    assert_eq!(String::from_utf8_lossy(&got), want);
}

#[test]
fn garbage_or_no_header_closes_that_client_and_no_other() {
    let (server, headers) = header_server(b"");
    let (l4, port) = chain(server.addr());
    let mut bad = connect(port);
    bad.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut silent = connect(port); // Says nothing: timeout client.
    let mut good = connect(port);
    good.write_all(b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n")
        .unwrap();
    echo_after(&mut good, b"still served");
    for c in [&mut bad, &mut silent] {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 16];
        assert!(
            matches!(c.read(&mut buf), Ok(0) | Err(_)),
            "a client without a valid header is closed"
        );
    }
    let got = headers.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(got, b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n");
    assert!(headers.try_recv().is_err(), "no server saw the bad clients");
    assert!(
        wait_until(Duration::from_secs(5), || l4
            .log_text()
            .contains("PROXY header refused")
            && l4
                .log_text()
                .contains("no PROXY header within timeout client")),
        "{}",
        l4.log_text()
    );
}

#[test]
fn proxy_v2_options_authority_passes_on_the_authority_the_client_header_carried() {
    let (server, headers) = header_server(b"");
    let port = free_port();
    let text = conf(
        port,
        &[server.addr()],
        "default-server send-proxy-v2 proxy-v2-options authority",
    )
    .replace(
        &format!("bind 127.0.0.1:{port}"),
        &format!("bind 127.0.0.1:{port} accept-proxy"),
    );
    let _l4 = L4lb::start(&text);
    let src: SocketAddr = "203.0.113.7:40000".parse().unwrap();
    let dst: SocketAddr = "198.51.100.1:443".parse().unwrap();
    let mut first = Vec::new();
    let tlvs: &[(u8, &[u8])] = &[(0x02, b"api.example.com"), (0xE0, b"private")];
    write_v2(
        Command::Proxy,
        Addresses::Inet(src, dst),
        tlvs,
        false,
        &mut first,
    )
    .unwrap();
    let mut c = connect(port);
    c.write_all(&first).unwrap();
    echo_after(&mut c, b"hi");
    let got = headers.recv_timeout(Duration::from_secs(5)).unwrap();
    let header = match l4lb::wire::proxy_protocol::parse(&got) {
        l4lb::wire::proxy_protocol::Parsed::Header(h, _) => h,
        _ => panic!("not a header: {got:?}"),
    };
    assert_eq!(header.addresses, Addresses::Inet(src, dst));
    assert_eq!(header.tlv(0x02), Some(&b"api.example.com"[..]));
    // Only the authority: other TLVs are the client's own business.
    assert_eq!(header.tlv(0xE0), None);
}
