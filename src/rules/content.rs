//! The content fetches, over the client bytes the inspect stage buffered:
//! `req.len`, `req.payload`, `req.payload_lv`, the TLS hello's type and
//! version as HAProxy reads them from the record, the ClientHello's SNI,
//! ALPN and groups extension (from the `wire::client_hello` reader), and the
//! RDP cookie (read by `wire::rdp`). "Not yet" is a sample missing with `may_change`.

use super::value::{Facts, Fetched, Hello, Sample, Stash};

/// Where `req.payload_lv`'s data starts when its third argument is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DataAt {
    /// `N`: at offset N of the buffer.
    Absolute(usize),
    /// `+N` / `-N`: relative to the end of the length field.
    Relative(isize),
}

/// What a TLS fetch reads from the parsed ClientHello.
#[derive(Clone, Copy)]
pub(super) enum HelloField {
    Sni,
    Alpn,
    EcExt,
}

pub(super) fn req_len<F: Facts + ?Sized>(facts: &F) -> Fetched<'static> {
    Fetched {
        sample: Some(Sample::Int(facts.request().len() as i64)),
        may_change: true,
    }
}

pub(super) fn from_hello<'a>(
    field: HelloField,
    hello: Hello<'a>,
    index: usize,
    stash: &'a mut Stash,
) -> Fetched<'a> {
    let view = match hello {
        Hello::Partial => return Fetched::LATER,
        Hello::Absent => return Fetched::NONE,
        Hello::Parsed(view) => view,
    };
    let sample = match field {
        HelloField::Sni => view.sni().map(|s| Sample::Str(s.as_bytes())),
        HelloField::Alpn => view.alpn(index, stash).map(Sample::Str),
        HelloField::EcExt => Some(Sample::Bool(view.ec_ext())),
    };
    Fetched {
        sample,
        may_change: false,
    }
}

/// `req.payload(offset,len)`; a zero length means "to the end of what is
/// buffered", which may still grow.
pub(super) fn payload<F: Facts + ?Sized>(facts: &F, offset: usize, len: usize) -> Fetched<'_> {
    let req = facts.request();
    let max = facts.buffer_size();
    if len > max || offset.saturating_add(len) > max {
        return Fetched::NONE;
    }
    if offset + len > req.len() {
        return Fetched::LATER;
    }
    let end = if len == 0 { req.len() } else { offset + len };
    Fetched {
        sample: Some(Sample::Bin(&req[offset..end])),
        may_change: len == 0 && !facts.request_closed(),
    }
}

/// `req.payload_lv(offset,len[,data])`: a big-endian length of `len` bytes
/// at `offset`, the data after it (or at `data`).
pub(super) fn payload_lv<F: Facts + ?Sized>(
    facts: &F,
    offset: usize,
    len: usize,
    data: Option<DataAt>,
) -> Fetched<'_> {
    let req = facts.request();
    let max = facts.buffer_size();
    if offset + len > req.len() {
        return Fetched::LATER;
    }
    let size = req[offset..offset + len]
        .iter()
        .fold(0usize, |n, b| n << 8 | usize::from(*b));
    let start = match data {
        None => Some(offset + len),
        Some(DataAt::Absolute(at)) => Some(at),
        Some(DataAt::Relative(d)) => (offset + len).checked_add_signed(d),
    };
    let Some(start) = start else {
        return Fetched::NONE;
    };
    if size == 0 || size > max || start.saturating_add(size) > max {
        return Fetched::NONE;
    }
    if start + size > req.len() {
        return Fetched::LATER;
    }
    Fetched::found(Sample::Bin(&req[start..start + size]))
}

fn is_ssl3_record(first: u8) -> bool {
    (0x14..=0x17).contains(&first) || first == 0xff
}

/// `req.ssl_hello_type`: the handshake type of the first record, once the
/// whole handshake message is in.
pub(super) fn hello_type(req: &[u8]) -> Fetched<'static> {
    let Some(&first) = req.first() else {
        return Fetched::LATER;
    };
    if !is_ssl3_record(first) {
        return Fetched::NONE;
    }
    if req.len() < 9 {
        return Fetched::LATER;
    }
    let version = u32::from(req[1]) << 16 | u32::from(req[2]);
    let rec_len = usize::from(req[3]) << 8 | usize::from(req[4]);
    if version < 0x0003_0000 || rec_len < 4 {
        return Fetched::NONE;
    }
    let hs_len = usize::from(req[6]) << 16 | usize::from(req[7]) << 8 | usize::from(req[8]);
    if req.len() < 9 + hs_len {
        return Fetched::LATER;
    }
    Fetched::found(Sample::Int(i64::from(req[5])))
}

/// `req.ssl_ver`: the ClientHello's version as `major << 16 | minor`, from
/// an SSLv3/TLS record or an SSLv2-compatible hello, as HAProxy; `max` is
/// the buffer size.
pub(super) fn ssl_ver(req: &[u8], max: usize) -> Fetched<'static> {
    let Some(&first) = req.first() else {
        return Fetched::LATER;
    };
    let (version, msg_len, left) = if is_ssl3_record(first) {
        if req.len() < 11 {
            return Fetched::LATER;
        }
        let rec_version = u32::from(req[1]) << 16 | u32::from(req[2]);
        let msg_len = usize::from(req[3]) << 8 | usize::from(req[4]);
        if rec_version < 0x0003_0000 || !(6..=(1 << 14) + 2048).contains(&msg_len) {
            return Fetched::NONE;
        }
        (
            u32::from(req[9]) << 16 | u32::from(req[10]),
            msg_len,
            req.len() - 5,
        )
    } else {
        match ssl2_ver(req) {
            Ok(v) => v,
            Err(f) => return f,
        }
    };
    // As HAProxy: a message longer than the buffer can hold is decided on
    // what fits.
    if left < msg_len.min(max) {
        return Fetched::LATER;
    }
    Fetched::found(Sample::Int(i64::from(version)))
}

/// An SSLv2-compatible ClientHello: (version, message length, bytes left).
fn ssl2_ver(req: &[u8]) -> Result<(u32, usize, usize), Fetched<'static>> {
    let (rlen, plen, at) = if req[0] & 0x80 != 0 {
        if req.len() < 3 {
            return Err(Fetched::LATER);
        }
        (usize::from(req[0] & 0x7f) << 8 | usize::from(req[1]), 0, 2)
    } else {
        if req.len() < 4 {
            return Err(Fetched::LATER);
        }
        (
            usize::from(req[0] & 0x3f) << 8 | usize::from(req[1]),
            usize::from(req[2]),
            3,
        )
    };
    if req[at] != 0x01 {
        return Err(Fetched::NONE);
    }
    let d = &req[at + 1..];
    if d.len() < 8 {
        return Err(Fetched::LATER);
    }
    let be16 = |i: usize| usize::from(d[i]) << 8 | usize::from(d[i + 1]);
    let (ci, si, ch) = (be16(2), be16(4), be16(6));
    if ci % 3 != 0 || (si != 0 && si != 16) || !(16..=32).contains(&ch) || rlen != 9 + ci + si + ch
    {
        return Err(Fetched::NONE);
    }
    let version = u32::from(d[0]) << 16 | u32::from(d[1]);
    Ok((version, ci + si + ch + plen, d.len() - 8))
}
