//! A reader over the handshake stream carried by consecutive TLS handshake
//! records: it skips each record's 5-byte header, so that a ClientHello split
//! over several records reads as one message, and bounds every read by the
//! length of the structure it is in.

/// Why a read stopped: the bytes are not all there yet, or they cannot be a
/// TLS handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stop {
    Need,
    Bad,
}

pub(super) type Read<T> = Result<T, Stop>;

/// The content type of a handshake record.
pub(super) const HANDSHAKE: u8 = 0x16;
/// The largest record fragment accepted: 2^14 plus the 2048 bytes of slack
/// RFC 5246 allows a record's ciphertext, as HAProxy's `req.ssl_ver`.
const MAX_FRAGMENT: usize = (1 << 14) + 2048;

/// A position in the handshake stream and how many bytes the structure being
/// read has left (`left`): reading past it is `Bad`, past `buf` is `Need`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cursor<'a> {
    buf: &'a [u8],
    /// The next byte's offset in `buf`.
    pos: usize,
    /// Where the current record's fragment ends in `buf` (may lie past it).
    frag_end: usize,
    left: usize,
}

/// Bytes of the handshake stream: borrowed from `buf` when they lie in one
/// record, or copied when a record boundary splits them (at most 255 bytes:
/// a host name or an ALPN protocol name).
// The inline copy is what keeps this free of allocation; it lives on the
// stack for one inspection.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy)]
pub enum Piece<'a> {
    /// The bytes, in the buffer given to `inspect`.
    Borrowed(&'a [u8]),
    /// A copy of the bytes (the first `.1` of the array).
    Inline([u8; 255], u8),
}

impl<'a> Piece<'a> {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Piece::Borrowed(b) => b,
            Piece::Inline(a, n) => &a[..usize::from(*n)],
        }
    }
}

impl std::fmt::Debug for Piece<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.bytes()))
    }
}

impl PartialEq for Piece<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

/// Reads a record header at `at`: a handshake record of SSL 3 or later, with
/// a fragment of 1 to `MAX_FRAGMENT` bytes. Returns where its fragment starts
/// and ends.
fn record(buf: &[u8], at: usize) -> Read<(usize, usize)> {
    let byte = |i: usize| buf.get(at + i).copied().ok_or(Stop::Need);
    if byte(0)? != HANDSHAKE || byte(1)? != 3 {
        return Err(Stop::Bad);
    }
    let len = usize::from(u16::from_be_bytes([byte(3)?, byte(4)?]));
    if len == 0 || len > MAX_FRAGMENT {
        return Err(Stop::Bad);
    }
    Ok((at + 5, at + 5 + len))
}

impl<'a> Cursor<'a> {
    /// A cursor at the first handshake byte of the record at the start of
    /// `buf`, bounded by `left`.
    pub(super) fn start(buf: &'a [u8], left: usize) -> Read<Cursor<'a>> {
        let (pos, frag_end) = record(buf, 0)?;
        Ok(Cursor {
            buf,
            pos,
            frag_end,
            left,
        })
    }

    /// The bytes left in the structure being read.
    pub(super) fn left(&self) -> usize {
        self.left
    }

    /// Moves to the next record when the current fragment is used up.
    fn at_data(&mut self) -> Read<()> {
        if self.pos == self.frag_end {
            let (pos, end) = record(self.buf, self.frag_end)?;
            self.pos = pos;
            self.frag_end = end;
        }
        Ok(())
    }

    fn claim(&mut self, n: usize) -> Read<()> {
        if n > self.left {
            return Err(Stop::Bad);
        }
        self.left -= n;
        Ok(())
    }

    pub(super) fn u8(&mut self) -> Read<u8> {
        self.claim(1)?;
        self.at_data()?;
        let b = *self.buf.get(self.pos).ok_or(Stop::Need)?;
        self.pos += 1;
        Ok(b)
    }

    pub(super) fn u16(&mut self) -> Read<u16> {
        Ok(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }

    pub(super) fn u24(&mut self) -> Read<usize> {
        let (a, b, c) = (self.u8()?, self.u8()?, self.u8()?);
        Ok(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
    }

    /// Skips `n` bytes, which must all be in `buf`.
    pub(super) fn skip(&mut self, mut n: usize) -> Read<()> {
        self.claim(n)?;
        while n > 0 {
            self.at_data()?;
            let step = n.min(self.frag_end - self.pos);
            if self.pos + step > self.buf.len() {
                return Err(Stop::Need);
            }
            self.pos += step;
            n -= step;
        }
        Ok(())
    }

    /// The next `n` bytes as a child cursor bounded by them. This cursor
    /// gives them up; `rejoin` moves it past them once the child is read, so
    /// that what the child finds wrong is found before what comes after.
    pub(super) fn sub(&mut self, n: usize) -> Read<Cursor<'a>> {
        self.claim(n)?;
        Ok(Cursor { left: n, ..*self })
    }

    /// Moves this cursor to the end of `child`, a `sub` of it.
    pub(super) fn rejoin(&mut self, mut child: Cursor<'a>) -> Read<()> {
        child.skip(child.left)?;
        self.pos = child.pos;
        self.frag_end = child.frag_end;
        Ok(())
    }

    /// The next `n` bytes (`n` at most 255, or `Bad`).
    pub(super) fn take(&mut self, n: usize) -> Read<Piece<'a>> {
        if n > 255 {
            return Err(Stop::Bad);
        }
        let start = self.pos;
        if n > 0 && start < self.frag_end && start + n <= self.frag_end {
            self.skip(n)?;
            return Ok(Piece::Borrowed(&self.buf[start..start + n]));
        }
        let mut inline = [0u8; 255];
        for slot in &mut inline[..n] {
            *slot = self.u8()?;
        }
        // n <= 255, checked above.
        Ok(Piece::Inline(inline, n as u8))
    }
}
