//! Unit tests of the PROXY protocol header: helpers here, then by version
//! (the spec's examples, every family, truncations, rejections at the first
//! bad byte) and random round trips.

mod random;
mod v1;
mod v2;

use std::net::SocketAddr;

use super::{Addresses, Command, Header, Parsed, parse, write_v2};

pub(super) fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[track_caller]
pub(super) fn whole(buf: &[u8]) -> (Header<'_>, usize) {
    match parse(buf) {
        Parsed::Header(h, n) => (h, n),
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
    }
}

#[track_caller]
pub(super) fn invalid(buf: &[u8]) -> &'static str {
    match parse(buf) {
        Parsed::Invalid(why) => why,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
    }
}

/// Every proper prefix of `buf` is Incomplete.
#[track_caller]
pub(super) fn prefixes_incomplete(buf: &[u8]) {
    for n in 0..buf.len() {
        assert_eq!(parse(&buf[..n]), Parsed::Incomplete, "{n} bytes of {buf:?}");
    }
}

/// `buf` is Invalid, and every proper prefix is Incomplete: it is refused
/// at its last byte, the first impossible one.
#[track_caller]
pub(super) fn refused_at_last_byte(buf: &[u8]) -> &'static str {
    prefixes_incomplete(buf);
    invalid(buf)
}

pub(super) fn v2(command: Command, a: Addresses<'_>, tlvs: &[(u8, &[u8])], crc: bool) -> Vec<u8> {
    let mut out = Vec::new();
    write_v2(command, a, tlvs, crc, &mut out).unwrap();
    out
}
