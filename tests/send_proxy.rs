//! `server ... send-proxy` / `send-proxy-v2` (with `proxy-v2-options
//! crc32c`): the PROXY protocol header is the first thing each server
//! connection carries, before any client byte (and when the client sends
//! nothing), with the client's address and the one it reached; a retry on
//! another server sends it again. The v2 header is read back with l4lb's
//! own parser, the v1 line byte for byte.

mod common;
#[path = "common/proxy_header.rs"]
mod proxy_header;
#[path = "common/sni.rs"]
mod sni;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;
use l4lb::wire::proxy_protocol::{Addresses, Command, Parsed, parse};
use proxy_header::header_server;

fn start(servers: &[std::net::SocketAddr], extra: &str) -> (L4lb, u16) {
    let port = free_port();
    let l4 = L4lb::start(&conf(port, servers, extra));
    (l4, port)
}

#[test]
fn send_proxy_v1_is_the_first_line_with_the_clients_addresses() {
    let (server, headers) = header_server(b"");
    let (_l4, port) = start(&[server.addr()], "default-server send-proxy");
    let mut c = connect(port);
    c.write_all(b"hello").unwrap();
    let mut echo = [0u8; 5];
    c.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"hello", "the client's bytes follow the header");
    let header = headers.recv_timeout(Duration::from_secs(5)).unwrap();
    let me = c.local_addr().unwrap();
    let want = format!("PROXY TCP4 {} 127.0.0.1 {} {port}\r\n", me.ip(), me.port());
    assert_eq!(String::from_utf8_lossy(&header), want);
}

#[test]
fn send_proxy_v2_with_crc32c_reaches_a_server_that_speaks_first() {
    let (server, headers) = header_server(b"banner\n");
    let (_l4, port) = start(
        &[server.addr()],
        "default-server send-proxy-v2 proxy-v2-options crc32c",
    );
    // The client says nothing: the header still goes out at once.
    let mut c = connect(port);
    assert_eq!(read_line(&mut c).unwrap(), "banner");
    let header = headers.recv_timeout(Duration::from_secs(5)).unwrap();
    let Parsed::Header(h, used) = parse(&header) else {
        panic!("not a v2 header: {header:?}")
    };
    assert_eq!(used, header.len());
    assert_eq!(h.command, Command::Proxy);
    let me = c.local_addr().unwrap();
    assert_eq!(h.addresses, Addresses::Inet(me, addr(port)));
    assert!(h.tlv(0x03).is_some(), "the CRC32C TLV (checked by parse)");
}

#[test]
fn a_retry_on_another_server_sends_the_header_again() {
    let dead = free_port(); // Nothing listens: refused.
    let (server, headers) = header_server(b"");
    let (_l4, port) = start(
        &[addr(dead), server.addr()],
        "balance first\nretries 2\noption redispatch\ndefault-server send-proxy",
    );
    let mut c = connect(port);
    c.write_all(b"x").unwrap();
    let mut echo = [0u8; 1];
    c.read_exact(&mut echo).unwrap();
    let header = headers.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(header.starts_with(b"PROXY TCP4 "), "{header:?}");
    assert!(
        headers.try_recv().is_err(),
        "one header per connection, not one per attempt"
    );
}

/// As HAProxy: a `send-proxy` server checked on its own address gets a
/// PROXY header on its checks too (`PROXY UNKNOWN`: a check speaks for
/// itself), so a server that wants one before it says a word passes;
/// `check-send-proxy` does the same for a v2 LOCAL header on another port.
#[test]
fn checks_of_a_send_proxy_server_send_the_header_too() {
    let (server, headers) = header_server(b"ready\n");
    let (api, api_headers) = header_server(b"ready\n");
    let port = free_port();
    let sock = TempDir::new("pp-check");
    let path = sock.0.join("admin.sock");
    let text = conf(
        port,
        &[],
        &format!(
            "option tcp-check\ntcp-check expect string ready\n\
             server a {} send-proxy check inter 200ms\n\
             server b {} send-proxy-v2 proxy-v2-options crc32c check check-send-proxy port {} inter 200ms",
            server.addr(),
            server.addr(),
            api.addr().port()
        ),
    )
    .replacen(
        "global\n",
        &format!("global\n    stats socket {} level admin\n", path.display()),
        1,
    );
    let _l4 = L4lb::start(&text);
    let status = |sv: &str| {
        let csv = api_command(&path, "show stat");
        csv.lines()
            .find(|l| l.starts_with(&format!("be,{sv},")))
            .map(|l| l.split(',').nth(36).unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    assert!(
        wait_until(Duration::from_secs(5), || status("a") == "L7OK"
            && status("b") == "L7OK"),
        "{}",
        api_command(&path, "show stat")
    );
    let v1 = headers.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(v1, b"PROXY UNKNOWN\r\n");
    let v2 = api_headers.recv_timeout(Duration::from_secs(5)).unwrap();
    let Parsed::Header(h, _) = parse(&v2) else {
        panic!("{v2:?}")
    };
    assert_eq!(h.command, Command::Local);
    // The server's crc32c option covers its checks' header too (parse
    // checked the sum).
    assert_eq!(h.tlv(0x03).map(<[u8]>::len), Some(4));
}

/// `proxy-v2-options authority`: the server name of the client's TLS
/// ClientHello (read by the inspect stage, TLS left untouched) goes in the
/// header's AUTHORITY TLV, as HAProxy sends a TLS client's SNI.
#[test]
fn the_authority_tlv_carries_the_sni_the_inspect_stage_read() {
    let (server, headers) = header_server(b"");
    let (_l4, port) = start(
        &[server.addr()],
        "tcp-request inspect-delay 5s\n\
         tcp-request content accept if { req.ssl_hello_type 1 }\n\
         default-server send-proxy-v2 proxy-v2-options authority,crc32c",
    );
    let hello = sni::rustls_hello(Some("api.example.com"), &["h2"]);
    let mut c = connect(port);
    c.write_all(&hello).unwrap();
    let mut echo = vec![0u8; hello.len()];
    c.read_exact(&mut echo).unwrap();
    assert_eq!(echo, hello, "the hello itself is passed on untouched");
    let got = headers.recv_timeout(Duration::from_secs(5)).unwrap();
    let Parsed::Header(h, _) = parse(&got) else {
        panic!("{got:?}")
    };
    assert_eq!(h.tlv(0x02), Some(&b"api.example.com"[..]));
    // A client without TLS: no authority to send.
    let mut c = connect(port);
    c.write_all(b"plain").unwrap();
    let mut echo = [0u8; 5];
    c.read_exact(&mut echo).unwrap();
    let got = headers.recv_timeout(Duration::from_secs(5)).unwrap();
    let Parsed::Header(h, _) = parse(&got) else {
        panic!("{got:?}")
    };
    assert_eq!(h.tlv(0x02), None);
}

/// `unique-id-format` with `proxy-v2-options unique-id`: the connection's
/// ID goes in the header's UNIQUE_ID TLV, and the log line's `%ID` is the
/// same ID (made once).
#[test]
fn the_unique_id_tlv_and_the_log_line_carry_one_id() {
    let (server, headers) = header_server(b"");
    let port = free_port();
    let text = conf(
        port,
        &[server.addr()],
        "default-server send-proxy-v2 proxy-v2-options unique-id",
    )
    .replacen(
        "defaults\n    mode tcp\n",
        "defaults\n    mode tcp\n    log stdout format raw local0\n    \
         unique-id-format %ci:%cp_%fi:%fp_%rt\n    log-format \"id=%ID end\"\n",
        1,
    );
    let l4 = L4lb::start(&text);
    let mut c = connect(port);
    c.write_all(b"hi").unwrap();
    let mut echo = [0u8; 2];
    c.read_exact(&mut echo).unwrap();
    let got = headers.recv_timeout(Duration::from_secs(5)).unwrap();
    let Parsed::Header(h, _) = parse(&got) else {
        panic!("{got:?}")
    };
    let me = c.local_addr().unwrap();
    let id = String::from_utf8(h.tlv(0x05).expect("a UNIQUE_ID TLV").to_vec()).unwrap();
    assert!(
        id.starts_with(&format!("{}:{}_127.0.0.1:{port}_", me.ip(), me.port())),
        "{id}"
    );
    drop(c);
    let want = format!("id={id} end");
    assert!(
        wait_until(Duration::from_secs(5), || l4.out_lines().contains(&want)),
        "{:?} want {want}",
        l4.out_lines()
    );
}
