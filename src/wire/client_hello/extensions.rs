//! The ClientHello's extensions that routing reads: server_name (RFC 6066
//! section 3), application_layer_protocol_negotiation (RFC 7301) and
//! supported_groups (RFC 8422, once "elliptic_curves").

use super::Info;
use super::cursor::{Cursor, Piece, Read, Stop};

const SERVER_NAME: u16 = 0;
const SUPPORTED_GROUPS: u16 = 10;
const ALPN: u16 = 16;
/// The server_name entry type of a DNS host name.
const HOST_NAME: u8 = 0;

/// Reads the extension block into `info`. A wrong length of the block or of
/// an extension is `Bad` (no TLS server would take the hello); a malformed
/// server_name or ALPN extension only leaves that field out, as HAProxy's
/// fetches fail alone. The first of repeated extensions counts.
pub(super) fn read<'a>(mut c: Cursor<'a>, info: &mut Info<'a>) -> Read<()> {
    let (mut sni_seen, mut alpn_seen) = (false, false);
    while c.left() > 0 {
        let kind = c.u16()?;
        let len = usize::from(c.u16()?);
        let data = c.sub(len)?;
        match kind {
            SERVER_NAME if !sni_seen => {
                sni_seen = true;
                info.sni = optional(server_name(data))?;
            }
            ALPN if !alpn_seen => {
                alpn_seen = true;
                info.alpn = optional(alpn(data))?;
            }
            SUPPORTED_GROUPS => info.ec_ext = true,
            _ => {}
        }
        c.rejoin(data)?;
    }
    Ok(())
}

/// A field's value, none if malformed, or `Need`.
fn optional<T>(read: Read<Option<T>>) -> Read<Option<T>> {
    match read {
        Err(Stop::Bad) => Ok(None),
        other => other,
    }
}

/// The first host_name entry of a server_name list, if it is a valid host
/// name. Entries of other types are skipped.
fn server_name<'a>(mut c: Cursor<'a>) -> Read<Option<Piece<'a>>> {
    let len = usize::from(c.u16()?);
    let mut list = c.sub(len)?;
    if list.left() == 0 || c.left() != 0 {
        return Err(Stop::Bad);
    }
    while list.left() > 0 {
        let kind = list.u8()?;
        let len = usize::from(list.u16()?);
        if kind != HOST_NAME {
            list.skip(len)?;
            continue;
        }
        if len > 255 {
            return Ok(None);
        }
        let name = list.take(len)?;
        return Ok(is_host_name(name.bytes()).then_some(name));
    }
    Ok(None)
}

/// A DNS host name as SNI carries it: dot-separated labels of 1 to 63
/// letters, digits, `-` or `_`, 253 bytes at most, no trailing dot. The
/// underscore is not LDH but is seen in internal names, and HAProxy takes any
/// bytes; a name outside this cannot be a server's name.
pub(crate) fn is_host_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split(|&b| b == b'.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Checks the ALPN extension: a list of one or more non-empty names filling
/// it.
fn alpn<'a>(mut c: Cursor<'a>) -> Read<Option<Alpn<'a>>> {
    let len = usize::from(c.u16()?);
    let list = c.sub(len)?;
    if len == 0 || c.left() != 0 {
        return Err(Stop::Bad);
    }
    let mut check = list;
    while check.left() > 0 {
        let n = usize::from(check.u8()?);
        if n == 0 {
            return Err(Stop::Bad);
        }
        check.take(n)?;
    }
    Ok(Some(Alpn { list }))
}

/// The protocol names of an ALPN extension (`req.ssl_alpn` yields the first;
/// ACLs match any).
#[derive(Clone, Copy, Debug)]
pub struct Alpn<'a> {
    list: Cursor<'a>,
}

impl<'a> Iterator for Alpn<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        if self.list.left() == 0 {
            return None;
        }
        // Checked whole by `alpn`, so these reads cannot fail.
        let n = usize::from(self.list.u8().ok()?);
        self.list.take(n).ok()
    }
}

impl PartialEq for Alpn<'_> {
    fn eq(&self, other: &Self) -> bool {
        (*self).eq(*other)
    }
}
