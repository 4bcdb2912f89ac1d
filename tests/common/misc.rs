//! One-shot HTTP/1.1 requests for the tests of l4lb's own HTTP listeners
//! (stats pages, monitors): a request sent as is, the answer read to EOF.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends `request` as is, reads to EOF: (status code, head, body).
pub(crate) fn http(port: u16, request: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    (code, head.to_string(), body.to_string())
}

/// `GET target` with `extra` header lines (each ending in CRLF).
pub(crate) fn get(port: u16, target: &str, extra: &str) -> (u16, String, String) {
    let req = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n");
    http(port, req.as_bytes())
}
