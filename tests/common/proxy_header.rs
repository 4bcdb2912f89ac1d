//! A server that reads a PROXY protocol header (v1 line or v2 block) with
//! l4lb's own parser, reports it, then writes a greeting and echoes: for
//! tests/send_proxy.rs and tests/accept_proxy.rs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

use l4lb::wire::proxy_protocol::{Parsed, parse};

use crate::common::Backend;

/// Starts the server; the receiver gets each connection's header bytes
/// (or the bytes that made it invalid). After a whole header it writes
/// `after`, then echoes.
pub(crate) fn header_server(after: &'static [u8]) -> (Backend, mpsc::Receiver<Vec<u8>>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let b = Backend::start(move |mut s: TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        // Byte by byte, so that nothing after the header is taken.
        let whole = loop {
            if s.read(&mut byte).unwrap_or(0) == 0 {
                return;
            }
            got.push(byte[0]);
            match parse(&got) {
                Parsed::Incomplete => {}
                Parsed::Header(_, used) => break used == got.len(),
                Parsed::Invalid(_) => break false,
            }
        };
        let _ = tx.lock().unwrap().send(got);
        if !whole || s.write_all(after).is_err() {
            return;
        }
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 || s.write_all(&buf[..n]).is_err() {
                return;
            }
        }
    });
    (b, rx)
}
