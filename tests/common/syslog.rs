//! A UDP syslog receiver on loopback for connection log tests: each
//! datagram split into its priority and the message after the RFC 3164
//! header (`<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`).
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

pub(crate) struct Syslog {
    sock: UdpSocket,
}

/// One datagram: its `<PRI>` and its message.
#[derive(Debug, Clone)]
pub(crate) struct Datagram {
    pub pri: u32,
    pub msg: String,
    pub raw: String,
}

impl Syslog {
    /// Binds 127.0.0.1 on a port the kernel picks; reads wait up to `wait`.
    pub(crate) fn bind(wait: Duration) -> Syslog {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind a syslog receiver");
        sock.set_read_timeout(Some(wait)).unwrap();
        Syslog { sock }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    /// The next datagram, or None once the read timeout passed without one.
    pub(crate) fn next(&self) -> Option<Datagram> {
        let mut buf = [0u8; 65536];
        let n = self.sock.recv(&mut buf).ok()?;
        let raw = String::from_utf8(buf[..n].to_vec()).expect("a UTF-8 datagram");
        let (pri, rest) = raw
            .strip_prefix('<')
            .and_then(|r| r.split_once('>'))
            .unwrap_or_else(|| panic!("no <PRI>: {raw:?}"));
        // RFC 3164: the message follows the first "]: " (TAG[PID]: ).
        let msg = match rest.split_once("]: ") {
            Some((_, msg)) => msg.to_string(),
            None => rest.to_string(),
        };
        Some(Datagram {
            pri: pri.parse().expect("a numeric priority"),
            msg,
            raw,
        })
    }

    /// What is left in the socket, without waiting: call it once the l4lb
    /// that sent has exited (loopback UDP is queued by the sender's send).
    pub(crate) fn rest(&self) -> Vec<Datagram> {
        self.sock.set_nonblocking(true).unwrap();
        let mut out = Vec::new();
        while let Some(d) = self.next() {
            out.push(d);
        }
        self.sock.set_nonblocking(false).unwrap();
        out
    }

    /// The next datagram, which must come.
    pub(crate) fn expect(&self) -> Datagram {
        self.next().expect("a syslog datagram in time")
    }
}
