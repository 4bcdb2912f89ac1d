//! PROXY protocol v1: one text line, `PROXY TCP4|TCP6 src dst sport dport`
//! or `PROXY UNKNOWN ...`, ended by CRLF within 107 bytes. Read strictly
//! (single spaces, canonical decimal numbers without heading zeroes) and
//! incrementally: a prefix is rejected at the first byte that no valid line
//! could have there.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use super::{Addresses, Command, Header, Parsed, V1_MAX_LEN, Version};

const PREFIX: &[u8] = b"PROXY ";

/// The longest IPv6 text `Ipv6Addr` reads (eight groups, or six and a
/// dotted IPv4 address).
const IP6_MAX_TEXT: usize = 45;

/// Reads a v1 line; `buf` starts with `P`.
pub(super) fn parse(buf: &[u8]) -> Parsed<'_> {
    let head = &buf[..buf.len().min(PREFIX.len())];
    if head != &PREFIX[..head.len()] {
        return Parsed::Invalid("not a PROXY protocol header");
    }
    if buf.len() <= PREFIX.len() {
        return Parsed::Incomplete;
    }
    // The CR must leave room for its LF within the 107 bytes.
    let window = &buf[..buf.len().min(V1_MAX_LEN - 1)];
    let Some(cr) = window.iter().position(|&b| b == b'\r') else {
        if buf.len() >= V1_MAX_LEN - 1 {
            return Parsed::Invalid("v1 line longer than 107 bytes");
        }
        return match check_prefix(&buf[PREFIX.len()..]) {
            Ok(()) => Parsed::Incomplete,
            Err(why) => Parsed::Invalid(why),
        };
    };
    let addresses = match line(&buf[PREFIX.len()..cr]) {
        Ok(a) => a,
        Err(why) => return Parsed::Invalid(why),
    };
    match buf.get(cr + 1) {
        None => Parsed::Incomplete,
        Some(b'\n') => {
            let header = Header {
                version: Version::V1,
                command: Command::Proxy,
                addresses,
                tlvs: &[],
            };
            Parsed::Header(header, cr + 2)
        }
        Some(_) => Parsed::Invalid("v1 line: CR not followed by LF"),
    }
}

/// The protocol word.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    Tcp4,
    Tcp6,
    Unknown,
}

const PROTOS: [(&[u8], Proto); 3] = [
    (b"TCP4", Proto::Tcp4),
    (b"TCP6", Proto::Tcp6),
    (b"UNKNOWN", Proto::Unknown),
];

fn proto(word: &[u8]) -> Result<Proto, &'static str> {
    PROTOS
        .iter()
        .find(|(w, _)| *w == word)
        .map(|&(_, p)| p)
        .ok_or("v1 line: protocol is not TCP4, TCP6 or UNKNOWN")
}

/// A whole line after `PROXY `, CRLF excluded.
fn line(rest: &[u8]) -> Result<Addresses<'static>, &'static str> {
    let mut words = rest.split(|&b| b == b' ');
    let p = proto(words.next().unwrap_or_default())?;
    if p == Proto::Unknown {
        // The spec: the receiver ignores whatever follows UNKNOWN.
        return Ok(Addresses::Unknown);
    }
    let fields: [&[u8]; 4] = [(); 4].map(|()| words.next().unwrap_or_default());
    if words.next().is_some() {
        return Err("v1 line: more than four fields after the protocol");
    }
    let (src, dst) = match p {
        Proto::Tcp4 => (ip4(fields[0])?.into(), ip4(fields[1])?.into()),
        _ => (ip6(fields[0])?.into(), ip6(fields[1])?.into()),
    };
    let (sport, dport) = (port(fields[2])?, port(fields[3])?);
    Ok(Addresses::Inet(
        SocketAddr::new(src, sport),
        SocketAddr::new(dst, dport),
    ))
}

/// Checks the start of a line after `PROXY `, no CR seen yet: every field
/// but the last must be whole and valid, the last a valid beginning.
fn check_prefix(rest: &[u8]) -> Result<(), &'static str> {
    let mut words = rest.split(|&b| b == b' ');
    let first = words.next().unwrap_or_default();
    let Some(next) = words.next() else {
        return match PROTOS.iter().any(|(w, _)| w.starts_with(first)) {
            true => Ok(()),
            false => Err("v1 line: protocol is not TCP4, TCP6 or UNKNOWN"),
        };
    };
    let p = proto(first)?;
    if p == Proto::Unknown {
        return Ok(());
    }
    let mut field = Some(next);
    for i in 0..4 {
        let Some(f) = field else { return Ok(()) };
        field = words.next();
        let ok = match (field.is_some(), i, p) {
            (true, 0 | 1, Proto::Tcp4) => ip4(f).map(drop),
            (true, 0 | 1, _) => ip6(f).map(drop),
            (true, _, _) => port(f).map(drop),
            (false, 0 | 1, Proto::Tcp4) => ip4_start(f),
            (false, 0 | 1, _) => ip6_start(f),
            (false, _, _) => port_start(f),
        };
        ok?;
    }
    match field {
        Some(_) => Err("v1 line: more than four fields after the protocol"),
        None => Ok(()),
    }
}

fn ip4(f: &[u8]) -> Result<Ipv4Addr, &'static str> {
    // Rust reads exactly four decimal parts and refuses heading zeroes.
    std::str::from_utf8(f)
        .ok()
        .and_then(|s| Ipv4Addr::from_str(s).ok())
        .ok_or("v1 line: bad IPv4 address")
}

fn ip6(f: &[u8]) -> Result<Ipv6Addr, &'static str> {
    std::str::from_utf8(f)
        .ok()
        .and_then(|s| Ipv6Addr::from_str(s).ok())
        .ok_or("v1 line: bad IPv6 address")
}

/// A decimal number 0..=65535 without heading zeroes.
fn port(f: &[u8]) -> Result<u16, &'static str> {
    port_start(f)?;
    match f.is_empty() {
        true => Err("v1 line: bad port"),
        false => std::str::from_utf8(f)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("v1 line: bad port"),
    }
}

fn port_start(f: &[u8]) -> Result<(), &'static str> {
    let ok = f.iter().all(u8::is_ascii_digit)
        && f.len() <= 5
        && !(f.len() > 1 && f[0] == b'0')
        && f.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0')) <= 65535;
    match ok {
        true => Ok(()),
        false => Err("v1 line: bad port"),
    }
}

/// Could `f` begin a dotted-quad address? Parts of 1-3 digits, at most
/// four, each at most 255, without heading zeroes.
fn ip4_start(f: &[u8]) -> Result<(), &'static str> {
    let parts = f.split(|&b| b == b'.').count();
    let part_ok = |(i, part): (usize, &[u8])| {
        part.iter().all(u8::is_ascii_digit)
            && ((1..=3).contains(&part.len()) || (part.is_empty() && i + 1 == parts))
            && !(part.len() > 1 && part[0] == b'0')
            && part.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0')) <= 255
    };
    match parts <= 4 && f.split(|&b| b == b'.').enumerate().all(part_ok) {
        true => Ok(()),
        false => Err("v1 line: bad IPv4 address"),
    }
}

/// Could `f` begin an IPv6 address? Checked by its characters and length
/// only: the whole field is checked by `Ipv6Addr` once its space arrives.
fn ip6_start(f: &[u8]) -> Result<(), &'static str> {
    let ok = f.len() <= IP6_MAX_TEXT
        && f.iter()
            .all(|b| b.is_ascii_hexdigit() || *b == b':' || *b == b'.');
    match ok {
        true => Ok(()),
        false => Err("v1 line: bad IPv6 address"),
    }
}

/// Appends the v1 line for a TCP connection from `src` to `dst`. As
/// HAProxy: TCP4 when both are IPv4, else TCP6 with an IPv4 address written
/// v4-mapped (`::ffff:a.b.c.d`).
pub fn write_v1(src: SocketAddr, dst: SocketAddr, out: &mut Vec<u8>) {
    let (s, d) = (src.ip(), dst.ip());
    // Writing into a Vec cannot fail.
    let _ = match (s, d) {
        (IpAddr::V4(s), IpAddr::V4(d)) => write!(out, "PROXY TCP4 {s} {d} "),
        _ => write!(out, "PROXY TCP6 {} {} ", v6(s), v6(d)),
    };
    let _ = write!(out, "{} {}\r\n", src.port(), dst.port());
}

fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

/// Appends `PROXY UNKNOWN\r\n`, the line for a connection that is not TCP
/// over IP (HAProxy sends it for a Unix socket client).
pub fn write_v1_unknown(out: &mut Vec<u8>) {
    out.extend_from_slice(b"PROXY UNKNOWN\r\n");
}
