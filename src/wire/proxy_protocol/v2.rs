//! PROXY protocol v2: the 12-byte signature, version and command, family
//! and transport, a length, the addresses, then TLVs. Read incrementally,
//! rejected at the first impossible byte; every TLV bounds-checked, a
//! CRC32C TLV verified.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::crc32c::Crc32c;
use super::{
    Addresses, Command, Header, Parsed, V2_FIXED_LEN, V2_MAX_LEN, V2_SIGNATURE, Version, tlv,
};

/// The version nibble, high half of byte 13.
const VERSION_2: u8 = 0x20;
const CMD_LOCAL: u8 = 0x0;
const CMD_PROXY: u8 = 0x1;

/// Byte 14, family (high nibble) and transport (low nibble): the only
/// values the spec allows.
const FAM_UNSPEC: u8 = 0x00;
const FAM_TCP4: u8 = 0x11;
const FAM_UDP4: u8 = 0x12;
const FAM_TCP6: u8 = 0x21;
const FAM_UDP6: u8 = 0x22;
const FAM_UNIX_STREAM: u8 = 0x31;
const FAM_UNIX_DGRAM: u8 = 0x32;

const ADDR_LEN_INET: usize = 4 + 4 + 2 + 2;
const ADDR_LEN_INET6: usize = 16 + 16 + 2 + 2;
/// A Unix socket path field, NUL-padded.
const UNIX_PATH_LEN: usize = 108;
const ADDR_LEN_UNIX: usize = 2 * UNIX_PATH_LEN;

/// A TLV's type and length.
const TLV_HEAD_LEN: usize = 3;
/// HAProxy refuses a connection whose header has a longer TLV value (its
/// HA_PP2_MAX_ALLOC, against memory exhaustion); so does l4lb, to accept
/// what HAProxy accepts and no more.
pub(super) const TLV_VALUE_MAX: usize = 1024;

/// Reads a v2 header; `buf` starts with CR.
pub(super) fn parse(buf: &[u8]) -> Parsed<'_> {
    match header(buf) {
        Ok(Some((h, len))) => Parsed::Header(h, len),
        Ok(None) => Parsed::Incomplete,
        Err(why) => Parsed::Invalid(why),
    }
}

/// The header and its length, `None` for a valid prefix.
fn header(buf: &[u8]) -> Result<Option<(Header<'_>, usize)>, &'static str> {
    let head = &buf[..buf.len().min(V2_SIGNATURE.len())];
    if head != &V2_SIGNATURE[..head.len()] {
        return Err("not a PROXY protocol header");
    }
    let Some(&ver_cmd) = buf.get(12) else {
        return Ok(None);
    };
    if ver_cmd & 0xf0 != VERSION_2 {
        return Err("v2 header: version is not 2");
    }
    let command = match ver_cmd & 0x0f {
        CMD_LOCAL => Command::Local,
        CMD_PROXY => Command::Proxy,
        _ => return Err("v2 header: command is neither LOCAL nor PROXY"),
    };
    let Some(&fam) = buf.get(13) else {
        return Ok(None);
    };
    let addr_len = family(fam, command)?;
    let Some(len) = buf.get(14..16) else {
        return Ok(None);
    };
    let body = usize::from(u16::from_be_bytes([len[0], len[1]]));
    let total = V2_FIXED_LEN + body;
    if total > V2_MAX_LEN {
        return Err("v2 header longer than l4lb's 4096 bytes");
    }
    if command == Command::Proxy && body < addr_len {
        return Err("v2 header: length shorter than its addresses");
    }
    let Some(whole) = buf.get(..total) else {
        return Ok(None);
    };
    // LOCAL: the spec says to ignore the family and addresses; a block too
    // short for the family's addresses is skipped whole (no TLVs).
    let tlv_start = match body >= addr_len {
        true => V2_FIXED_LEN + addr_len,
        false => total,
    };
    let addresses = match command {
        Command::Proxy => addresses(fam, &whole[V2_FIXED_LEN..tlv_start]),
        Command::Local => Addresses::Unknown,
    };
    check_tlvs(whole, tlv_start)?;
    let h = Header {
        version: Version::V2,
        command,
        addresses,
        tlvs: &whole[tlv_start..],
    };
    Ok(Some((h, total)))
}

/// The address block's length for the family byte. The spec's list of
/// values is closed (others "must be rejected"), where HAProxy takes any
/// and keeps the real addresses.
fn family(fam: u8, command: Command) -> Result<usize, &'static str> {
    let len = match fam {
        FAM_UNSPEC => 0,
        FAM_TCP4 | FAM_UDP4 => ADDR_LEN_INET,
        FAM_TCP6 | FAM_UDP6 => ADDR_LEN_INET6,
        FAM_UNIX_STREAM | FAM_UNIX_DGRAM => ADDR_LEN_UNIX,
        _ => return Err("v2 header: unknown address family or transport"),
    };
    let dgram = matches!(fam, FAM_UDP4 | FAM_UDP6 | FAM_UNIX_DGRAM);
    if dgram && command == Command::Proxy {
        return Err("v2 header: a datagram (UDP) connection, and l4lb is TCP only");
    }
    Ok(len)
}

/// The addresses of a PROXY command's block (exactly the family's length).
fn addresses(fam: u8, a: &[u8]) -> Addresses<'_> {
    let port = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
    match fam {
        FAM_TCP4 => {
            let ip = |i: usize| IpAddr::V4(Ipv4Addr::new(a[i], a[i + 1], a[i + 2], a[i + 3]));
            Addresses::Inet(
                SocketAddr::new(ip(0), port(8)),
                SocketAddr::new(ip(4), port(10)),
            )
        }
        FAM_TCP6 => {
            let ip = |i: usize| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&a[i..i + 16]);
                IpAddr::V6(Ipv6Addr::from(o))
            };
            Addresses::Inet(
                SocketAddr::new(ip(0), port(32)),
                SocketAddr::new(ip(16), port(34)),
            )
        }
        FAM_UNIX_STREAM => Addresses::Unix(
            unix_path(&a[..UNIX_PATH_LEN]),
            unix_path(&a[UNIX_PATH_LEN..]),
        ),
        _ => Addresses::Unknown,
    }
}

/// A path field without its NUL padding: up to the first NUL, or for an
/// abstract socket (a leading NUL) up to the trailing NULs.
fn unix_path(field: &[u8]) -> &[u8] {
    match field.first() {
        Some(0) => {
            let end = field.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            &field[..end]
        }
        _ => {
            let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
            &field[..end]
        }
    }
}

/// A TLV's type and value, and the bytes after it.
pub(super) type Split<'a> = (u8, &'a [u8], &'a [u8]);

/// The first TLV of `rest`, `None` at the end.
pub(super) fn split_tlv(rest: &[u8]) -> Result<Option<Split<'_>>, &'static str> {
    if rest.is_empty() {
        return Ok(None);
    }
    let Some(head) = rest.get(..TLV_HEAD_LEN) else {
        return Err("v2 header: a TLV's type and length run past the end");
    };
    let len = usize::from(u16::from_be_bytes([head[1], head[2]]));
    let Some(value) = rest.get(TLV_HEAD_LEN..TLV_HEAD_LEN + len) else {
        return Err("v2 header: a TLV runs past the end");
    };
    Ok(Some((head[0], value, &rest[TLV_HEAD_LEN + len..])))
}

/// Walks the TLVs from `start` to the end of `whole` (the header), checking
/// each's bounds, HAProxy's lengths, and a CRC32C's checksum.
fn check_tlvs(whole: &[u8], start: usize) -> Result<(), &'static str> {
    let mut at = start;
    while let Some((kind, value, _)) = split_tlv(&whole[at..])? {
        if value.len() > TLV_VALUE_MAX {
            return Err("v2 header: a TLV longer than 1024 bytes");
        }
        match kind {
            tlv::CRC32C => check_crc(whole, at + TLV_HEAD_LEN, value)?,
            tlv::AUTHORITY if value.len() > tlv::AUTHORITY_MAX => {
                return Err("v2 header: an AUTHORITY TLV longer than 255 bytes");
            }
            tlv::UNIQUE_ID if value.len() > tlv::UNIQUE_ID_MAX => {
                return Err("v2 header: a UNIQUE_ID TLV longer than 128 bytes");
            }
            _ => {}
        }
        at += TLV_HEAD_LEN + value.len();
    }
    Ok(())
}

/// The CRC32C of the whole header with the checksum at `at` taken as zero
/// must be the checksum.
fn check_crc(whole: &[u8], at: usize, value: &[u8]) -> Result<(), &'static str> {
    let Ok(sent) = <[u8; 4]>::try_from(value) else {
        return Err("v2 header: a CRC32C TLV not of 4 bytes");
    };
    let mut c = Crc32c::new();
    c.update(&whole[..at]);
    c.update(&[0; 4]);
    c.update(&whole[at + 4..]);
    match c.finish() == u32::from_be_bytes(sent) {
        true => Ok(()),
        false => Err("v2 header: CRC32C mismatch"),
    }
}

/// Appends a v2 header: `command`, `addresses`, a CRC32C TLV first if
/// `crc32c` (computed over the whole header once written, as HAProxy's
/// `proxy-v2-options crc32c`), then `tlvs` in order. TCP addresses of
/// mixed families are both written IPv6, the IPv4 one v4-mapped, as
/// HAProxy. Errors, leaving `out` as it was, on a Unix path over 108 bytes,
/// a TLV value over 65535, or a header over the spec's 16 + 65535 bytes.
pub fn write_v2(
    command: Command,
    addresses: Addresses<'_>,
    tlvs: &[(u8, &[u8])],
    crc32c: bool,
    out: &mut Vec<u8>,
) -> Result<(), &'static str> {
    let start = out.len();
    let done = write_parts(start, command, addresses, tlvs, crc32c, out);
    if done.is_err() {
        out.truncate(start);
    }
    done
}

fn write_parts(
    start: usize,
    command: Command,
    addresses: Addresses<'_>,
    tlvs: &[(u8, &[u8])],
    crc32c: bool,
    out: &mut Vec<u8>,
) -> Result<(), &'static str> {
    out.extend_from_slice(&V2_SIGNATURE);
    out.push(
        VERSION_2
            | match command {
                Command::Local => CMD_LOCAL,
                Command::Proxy => CMD_PROXY,
            },
    );
    write_addresses(addresses, out)?;
    let crc_at = crc32c.then(|| {
        push_tlv(tlv::CRC32C, &[0; 4], out);
        out.len() - 4
    });
    for &(kind, value) in tlvs {
        if value.len() > usize::from(u16::MAX) {
            return Err("a PROXY v2 TLV value longer than 65535 bytes");
        }
        push_tlv(kind, value, out);
    }
    let body = out.len() - start - V2_FIXED_LEN;
    let Ok(body) = u16::try_from(body) else {
        return Err("a PROXY v2 header longer than 16 + 65535 bytes");
    };
    out[start + 14..start + 16].copy_from_slice(&body.to_be_bytes());
    if let Some(at) = crc_at {
        let sum = super::crc32c(&out[start..]);
        out[at..at + 4].copy_from_slice(&sum.to_be_bytes());
    }
    Ok(())
}

/// Appends the family byte, a zero length (set once known) and the block.
fn write_addresses(addresses: Addresses<'_>, out: &mut Vec<u8>) -> Result<(), &'static str> {
    match addresses {
        Addresses::Inet(src, dst) => {
            match (src.ip(), dst.ip()) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    out.extend_from_slice(&[FAM_TCP4, 0, 0]);
                    out.extend_from_slice(&s.octets());
                    out.extend_from_slice(&d.octets());
                }
                (s, d) => {
                    out.extend_from_slice(&[FAM_TCP6, 0, 0]);
                    out.extend_from_slice(&v6(s).octets());
                    out.extend_from_slice(&v6(d).octets());
                }
            }
            out.extend_from_slice(&src.port().to_be_bytes());
            out.extend_from_slice(&dst.port().to_be_bytes());
        }
        Addresses::Unix(src, dst) => {
            if src.len() > UNIX_PATH_LEN || dst.len() > UNIX_PATH_LEN {
                return Err("a Unix socket path longer than 108 bytes");
            }
            out.extend_from_slice(&[FAM_UNIX_STREAM, 0, 0]);
            for path in [src, dst] {
                out.extend_from_slice(path);
                out.resize(out.len() + UNIX_PATH_LEN - path.len(), 0);
            }
        }
        Addresses::Unknown => out.extend_from_slice(&[FAM_UNSPEC, 0, 0]),
    }
    Ok(())
}

fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

fn push_tlv(kind: u8, value: &[u8], out: &mut Vec<u8>) {
    out.push(kind);
    // The caller checked the length fits.
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
}
