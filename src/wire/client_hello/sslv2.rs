//! The SSLv2-compatible ClientHello (RFC 5246 appendix E.2; SSL 2.0's
//! CLIENT-HELLO): a 2- or 3-byte header, message type 1, then version,
//! cipher specs, session id and challenge lengths. Old clients sent it to
//! offer SSLv3/TLS; it has no extensions, hence no SNI.

use super::cursor::{Read, Stop};
use super::{CLIENT_HELLO, Hello, Info};

/// An SSLv2 CLIENT-HELLO at the start of `buf`, checked as HAProxy's
/// `req.ssl_ver` checks it.
pub(super) fn hello(buf: &[u8]) -> Read<Hello<'_>> {
    let byte = |i: usize| buf.get(i).copied().ok_or(Stop::Need);
    let u16_at =
        |i: usize| Ok::<usize, Stop>(usize::from(byte(i)?) << 8 | usize::from(byte(i + 1)?));
    // The short header (high bit set) has a 15-bit length; the long one a
    // 14-bit length and a padding length.
    let (rlen, pad, at) = if byte(0)? & 0x80 != 0 {
        (u16_at(0)? & 0x7fff, 0, 2)
    } else {
        (u16_at(0)? & 0x3fff, usize::from(byte(2)?), 3)
    };
    if byte(at)? != CLIENT_HELLO {
        return Err(Stop::Bad);
    }
    let version = u32::from(byte(at + 1)?) << 16 | u32::from(byte(at + 2)?);
    let ciphers = u16_at(at + 3)?;
    let session_id = u16_at(at + 5)?;
    let challenge = u16_at(at + 7)?;
    if ciphers % 3 != 0
        || (session_id != 0 && session_id != 16)
        || !(16..=32).contains(&challenge)
        || rlen != 9 + ciphers + session_id + challenge
    {
        return Err(Stop::Bad);
    }
    // The whole message (and its padding) must be in.
    if buf.len() < at + 9 + ciphers + session_id + challenge + pad {
        return Err(Stop::Need);
    }
    Ok(Hello::ClientHello(Info {
        hello_type: CLIENT_HELLO,
        version,
        record_version: 0x20000,
        sni: None,
        alpn: None,
        ec_ext: false,
        sslv2: true,
    }))
}
