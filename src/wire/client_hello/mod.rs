//! The TLS ClientHello, read without terminating TLS (issue 13: SNI routing):
//! what HAProxy's content fetches `req.ssl_hello_type`, `req.ssl_ver`,
//! `req.ssl_sni`, `req.ssl_alpn` and `req.ssl_ec_ext` read from the client's
//! first bytes.
//!
//! `inspect` runs over the bytes received so far and says whether they are a
//! ClientHello (and what it carries), cannot be one, or need more bytes. The
//! hello may span several records (post-quantum key shares make it larger than
//! one); SSLv2-compatible hellos are recognised too. Every length is checked
//! against the one it lies in, nothing past `buf` is read, nothing allocated.
//! Feeding more bytes never changes a decision: `Incomplete` lasts only while
//! more bytes could still make a valid hello.

mod cursor;
mod extensions;
mod sslv2;
#[cfg(test)]
mod tests;

pub use cursor::Piece;
use cursor::{Cursor, HANDSHAKE, Read, Stop};
pub use extensions::Alpn;

/// The handshake message type of a ClientHello (`req.ssl_hello_type` 1).
pub const CLIENT_HELLO: u8 = 1;

/// What the client's first bytes are.
// Large for `Piece`'s inline copy: boxing it would allocate per connection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq)]
pub enum Hello<'a> {
    /// A TLS handshake may be arriving: more bytes will decide.
    Incomplete,
    /// Cannot be a TLS handshake (a plain-text client: an SSH banner, HTTP).
    NotTls,
    /// A TLS handshake message other than a ClientHello (e.g. 2, a
    /// ServerHello): only `req.ssl_hello_type` and `req.ssl_ver` apply.
    Handshake { msg_type: u8, version: u32 },
    /// A whole ClientHello.
    ClientHello(Info<'a>),
}

/// What a ClientHello says.
#[derive(Debug, PartialEq)]
pub struct Info<'a> {
    /// The handshake message type: 1 (`req.ssl_hello_type`).
    pub hello_type: u8,
    /// `req.ssl_ver`: the hello's client_version (not the record's), as
    /// `major << 16 | minor` (0x30003 for TLS 1.2, and for TLS 1.3, whose
    /// hello says 1.2 there), as HAProxy.
    pub version: u32,
    /// The record layer's version (`major << 16 | minor`); for an SSLv2
    /// hello, 0x20000.
    pub record_version: u32,
    /// The server name: the first host_name entry of the server_name
    /// extension, when it is a valid host name.
    pub sni: Option<Piece<'a>>,
    /// The protocol names of the ALPN extension, in the client's order, when
    /// the extension is there and well formed.
    pub alpn: Option<Alpn<'a>>,
    /// Whether the supported_groups (elliptic curves) extension is there
    /// (`req.ssl_ec_ext`).
    pub ec_ext: bool,
    /// An SSLv2-compatible hello (no extensions).
    pub sslv2: bool,
}

impl Info<'_> {
    /// The server name as text (a valid host name is ASCII).
    pub fn sni_str(&self) -> Option<&str> {
        self.sni
            .as_ref()
            .and_then(|p| std::str::from_utf8(p.bytes()).ok())
    }
}

/// Reads the client's first bytes: see the module doc.
pub fn inspect(buf: &[u8]) -> Hello<'_> {
    let Some(&first) = buf.first() else {
        return Hello::Incomplete;
    };
    let read = if first == HANDSHAKE {
        tls(buf)
    } else if (0x14..=0x17).contains(&first) || first == 0xff {
        // Other SSLv3+ record types (alert, change_cipher_spec, application
        // data) cannot open a handshake.
        Err(Stop::Bad)
    } else {
        sslv2::hello(buf)
    };
    match read {
        Ok(hello) => hello,
        Err(Stop::Need) => Hello::Incomplete,
        Err(Stop::Bad) => Hello::NotTls,
    }
}

/// A handshake message in SSLv3/TLS records.
fn tls(buf: &[u8]) -> Read<Hello<'_>> {
    // `Cursor::start` checks the first record's header.
    let mut head = Cursor::start(buf, 4)?;
    let record_version = u32::from(buf[1]) << 16 | u32::from(buf[2]);
    let msg_type = head.u8()?;
    let len = head.u24()?;
    // The message's body, bounded by its length.
    let mut body = Cursor::start(buf, 4 + len)?;
    body.skip(4)?;
    if msg_type != CLIENT_HELLO {
        let version = u32::from(body.u8()?) << 16 | u32::from(body.u8()?);
        return Ok(Hello::Handshake { msg_type, version });
    }
    client_hello(body, record_version).map(Hello::ClientHello)
}

/// The ClientHello's body (RFC 8446 4.1.2, RFC 5246 7.4.1.2).
fn client_hello(mut c: Cursor<'_>, record_version: u32) -> Read<Info<'_>> {
    let (major, minor) = (c.u8()?, c.u8()?);
    if major != 3 {
        return Err(Stop::Bad);
    }
    c.skip(32)?; // random
    let session_id = usize::from(c.u8()?);
    if session_id > 32 {
        return Err(Stop::Bad);
    }
    c.skip(session_id)?;
    let suites = usize::from(c.u16()?);
    if suites < 2 || suites % 2 != 0 {
        return Err(Stop::Bad);
    }
    c.skip(suites)?;
    let methods = usize::from(c.u8()?);
    if methods < 1 {
        return Err(Stop::Bad);
    }
    c.skip(methods)?;
    let mut info = Info {
        hello_type: CLIENT_HELLO,
        version: u32::from(major) << 16 | u32::from(minor),
        record_version,
        sni: None,
        alpn: None,
        ec_ext: false,
        sslv2: false,
    };
    // A hello may end here (no extensions, before TLS 1.2); if not, the
    // extension block fills the rest of it (RFC 8446 4.1.2: TLS servers
    // refuse bytes after it; HAProxy is laxer, but such a hello cannot be
    // served).
    if c.left() > 0 {
        let len = usize::from(c.u16()?);
        if len != c.left() {
            return Err(Stop::Bad);
        }
        extensions::read(c.sub(len)?, &mut info)?;
    }
    Ok(info)
}
