//! The PROXY protocol header, v1 (text) and v2 (binary), read and written
//! (issue 13: `accept-proxy`, `expect-proxy layer4`, `send-proxy`,
//! `send-proxy-v2`, `proxy-v2-options`). Pure functions over bytes, after
//! haproxy's doc/proxy-protocol.txt and what HAProxy's connection.c adds.
//!
//! Reading is incremental and allocates nothing: [`parse`] looks at the bytes
//! received so far and says [`Parsed::Incomplete`] (a valid prefix: read
//! more), [`Parsed::Header`] (with how many bytes it took) or
//! [`Parsed::Invalid`] (as soon as a byte makes every header impossible). The
//! header borrows the buffer: Unix paths and TLV values are slices of it.
//!
//! Where l4lb reads differently from HAProxy (connection.c), after the spec:
//! - Incremental: HAProxy peeks once and refuses a header split across
//!   reads; here a valid prefix is `Incomplete` (the caller bounds the wait).
//! - v1 is held to the spec: at most 107 bytes, no heading zeroes in
//!   numbers; `UNKNOWN` may be followed by anything up to CRLF (HAProxy takes
//!   only `UNKNOWN\r\n`).
//! - v2 family bytes outside the spec's list (0x00, 0x11, 0x12, 0x21, 0x22,
//!   0x31, 0x32) are refused, as the spec says; a PROXY command over UDP
//!   (l4lb is TCP only) too. PROXY with UNSPEC or Unix addresses is accepted
//!   (HAProxy walks its TLVs from the wrong offset and so refuses it); the
//!   real addresses are kept for it, as for LOCAL ([`Header::effective`]).
//! - LOCAL skips the family's address block before the TLVs (the spec: the
//!   length always counts); HAProxy reads TLVs right after the 16 bytes.
//! - HAProxy's limits are kept: authority <= 255 bytes, unique id <= 128,
//!   any TLV value <= 1024, a CRC32C TLV of 4 bytes that must match.

mod crc32c;
mod v1;
mod v2;

use std::net::SocketAddr;

pub use crc32c::{Crc32c, crc32c};
pub use v1::{write_v1, write_v1_unknown};
pub use v2::write_v2;

/// A v1 line is at most 107 bytes, CRLF included (the spec's longest,
/// `PROXY UNKNOWN` with two full IPv6 addresses).
pub const V1_MAX_LEN: usize = 107;

/// The 12 bytes a v2 header starts with.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The fixed part of a v2 header: signature, version and command, family
/// and transport, length.
pub const V2_FIXED_LEN: usize = 16;

/// The largest v2 header read, fixed part included. The spec allows
/// 16 + 65535; HAProxy reads at most its buffer (16 kB by default). l4lb
/// caps at 4 kB, plenty for addresses and HAProxy's TLVs (authority <= 255,
/// unique id <= 128 bytes), so a connection's header fits one small read.
pub const V2_MAX_LEN: usize = 4096;

/// TLV types (spec section 2.2).
pub mod tlv {
    /// Application-Layer Protocol Negotiation: the protocol name.
    pub const ALPN: u8 = 0x01;
    /// The host name the client asked for (SNI); `proxy-v2-options authority`.
    pub const AUTHORITY: u8 = 0x02;
    /// CRC-32C of the whole header; `proxy-v2-options crc32c`.
    pub const CRC32C: u8 = 0x03;
    /// Padding, ignored.
    pub const NOOP: u8 = 0x04;
    /// An opaque connection id; `proxy-v2-options unique-id`.
    pub const UNIQUE_ID: u8 = 0x05;
    /// TLS details: client flags, verify result, then sub-TLVs (0x21..0x25).
    pub const SSL: u8 = 0x20;
    /// The network namespace's name.
    pub const NETNS: u8 = 0x30;
    /// HAProxy rejects a longer authority on reading.
    pub const AUTHORITY_MAX: usize = 255;
    /// HAProxy rejects a longer unique id on reading (its UNIQUEID_LEN).
    pub const UNIQUE_ID_MAX: usize = 128;
}

/// The protocol version a header was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// What the header asks of the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// The sender speaks for itself (a health check): use the real
    /// connection's addresses. v2 only.
    Local,
    /// The sender relays a client: use the addresses in the header.
    Proxy,
}

/// The addresses a header carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addresses<'a> {
    /// Source and destination, TCP over IPv4 or IPv6.
    Inet(SocketAddr, SocketAddr),
    /// Source and destination Unix socket paths (v2), without the NUL
    /// padding of their 108-byte fields.
    Unix(&'a [u8], &'a [u8]),
    /// None to use: v1 `UNKNOWN`, v2 `LOCAL` or an unspecified family. The
    /// receiver keeps the real connection's addresses.
    Unknown,
}

/// A header read by [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub version: Version,
    pub command: Command,
    pub addresses: Addresses<'a>,
    /// The TLV area (v2), already checked: every TLV lies inside it.
    tlvs: &'a [u8],
}

impl<'a> Header<'a> {
    /// The TLVs in the order sent (empty for v1), CRC32C and NOOP included.
    pub fn tlvs(&self) -> Tlvs<'a> {
        Tlvs(self.tlvs)
    }

    /// The value of the first TLV of type `kind`.
    pub fn tlv(&self, kind: u8) -> Option<&'a [u8]> {
        self.tlvs().find(|&(k, _)| k == kind).map(|(_, v)| v)
    }

    /// The addresses the connection should be taken to have, given the real
    /// ones: the header's for a PROXY command with TCP addresses, else the
    /// real connection's (as HAProxy for LOCAL, UNKNOWN and Unix).
    pub fn effective(&self, real: (SocketAddr, SocketAddr)) -> (SocketAddr, SocketAddr) {
        match (self.command, self.addresses) {
            (Command::Proxy, Addresses::Inet(src, dst)) => (src, dst),
            _ => real,
        }
    }
}

/// The TLVs of a v2 header, as (type, value).
#[derive(Debug, Clone)]
pub struct Tlvs<'a>(&'a [u8]);

impl<'a> Iterator for Tlvs<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (kind, value, rest) = v2::split_tlv(self.0).ok()??;
        self.0 = rest;
        Some((kind, value))
    }
}

/// What [`parse`] makes of the bytes received so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A valid start of a header: read more bytes and parse again.
    Incomplete,
    /// A whole header, and the number of bytes it took from the buffer's
    /// start (the connection's data begins after them).
    Header(Header<'a>, usize),
    /// No header can start with these bytes; why.
    Invalid(&'static str),
}

/// Reads the PROXY header at the start of `buf`, v1 or v2 (told apart by
/// their first bytes: `PROXY ` or the v2 signature).
pub fn parse(buf: &[u8]) -> Parsed<'_> {
    match buf.first() {
        None => Parsed::Incomplete,
        Some(b'P') => v1::parse(buf),
        Some(b'\r') => v2::parse(buf),
        Some(_) => Parsed::Invalid("not a PROXY protocol header"),
    }
}

/// Appends the header of a connection from `addrs` (source, destination)
/// as HAProxy sends one: v1 `TCP4`/`TCP6`, or `UNKNOWN` without IP
/// addresses; v2 PROXY with them, or LOCAL without (a client on a unix
/// socket, a health check speaking for itself), with a CRC32C TLV if
/// `crc32c`.
pub fn write_for(
    v2: bool,
    addrs: Option<(SocketAddr, SocketAddr)>,
    crc32c: bool,
    tlvs: &[(u8, &[u8])],
    out: &mut Vec<u8>,
) {
    match (v2, addrs) {
        (false, Some((src, dst))) => write_v1(src, dst, out),
        (false, None) => write_v1_unknown(out),
        // No address is a path, so only TLVs over their limits can fail:
        // they are left out then (an authority over 255 bytes, say).
        (true, Some((src, dst))) => {
            let addrs = Addresses::Inet(src, dst);
            if write_v2(Command::Proxy, addrs, tlvs, crc32c, out).is_err() {
                let _ = write_v2(Command::Proxy, addrs, &[], crc32c, out);
            }
        }
        (true, None) => {
            let _ = write_v2(Command::Local, Addresses::Unknown, &[], crc32c, out);
        }
    }
}

#[cfg(test)]
mod tests;
