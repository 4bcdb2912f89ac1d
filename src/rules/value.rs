//! Samples (what fetches yield and converters transform) and the facts of a
//! connection that fetches read, as the caller implements them.

use std::net::{IpAddr, SocketAddr};

/// One value, borrowed from the connection, the configuration or a scratch
/// buffer: never owned, so evaluating a rule allocates nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sample<'a> {
    Bool(bool),
    Int(i64),
    Ip(IpAddr),
    Str(&'a [u8]),
    Bin(&'a [u8]),
}

/// A fetch's answer: a sample or none, and whether it may still change as
/// more client bytes arrive (HAProxy's `SMP_F_MAY_CHANGE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fetched<'a> {
    pub(crate) sample: Option<Sample<'a>>,
    pub(crate) may_change: bool,
}

impl<'a> Fetched<'a> {
    pub(crate) const NONE: Fetched<'static> = Fetched {
        sample: None,
        may_change: false,
    };
    /// No sample yet, but one may come with more bytes.
    pub(crate) const LATER: Fetched<'static> = Fetched {
        sample: None,
        may_change: true,
    };

    pub(crate) fn found(sample: Sample<'a>) -> Self {
        Fetched {
            sample: Some(sample),
            may_change: false,
        }
    }
}

/// A backend named by a fetch (`be_conn(B)`, `nbsrv(B)`...): the name as
/// written, and the id the caller resolved it to at load (see
/// `Cond::resolve`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BackendRef {
    pub(crate) name: String,
    pub(crate) id: usize,
}

/// A server named `B/S` by `srv_is_up`: the backend and the server's ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServerRef {
    pub(crate) backend: BackendRef,
    pub(crate) name: String,
    pub(crate) id: usize,
}

/// What the TLS ClientHello reader (`wire::client_hello`) found, as the
/// fetches `req.ssl_sni`, `req.ssl_alpn` and `req.ssl_ec_ext` see it.
pub(crate) trait HelloView {
    fn sni(&self) -> Option<&str>;
    /// The `i`-th protocol of the ALPN extension (0-based), if any:
    /// borrowed from the hello, or copied into `stash` when the reader
    /// yields a copy (a name split over two records).
    fn alpn<'s>(&'s self, i: usize, stash: &'s mut Stash) -> Option<&'s [u8]>;
    /// Whether the hello carries the supported groups (elliptic curves)
    /// extension.
    fn ec_ext(&self) -> bool;
}

/// The state of the ClientHello in the bytes buffered so far.
pub(crate) enum Hello<'a> {
    /// Too few bytes to tell: more may come.
    Partial,
    /// Not a ClientHello (or garbage): the TLS fetches find nothing.
    Absent,
    Parsed(&'a dyn HelloView),
}

/// One connection as the fetches see it; the session implements it. The
/// counters take the ids resolved at load; `None` means "no such thing"
/// (the fetch then finds no sample).
pub(crate) trait Facts {
    fn src(&self) -> Option<SocketAddr>;
    fn dst(&self) -> Option<SocketAddr>;
    fn fe_name(&self) -> &str;
    fn fe_conn(&self) -> i64;
    fn be_conn(&self, backend: &BackendRef) -> Option<i64>;
    fn nbsrv(&self, backend: &BackendRef) -> Option<i64>;
    fn srv_is_up(&self, server: &ServerRef) -> Option<bool>;
    fn connslots(&self, backend: &BackendRef) -> Option<i64>;
    fn queue(&self, backend: &BackendRef) -> Option<i64>;
    /// The client bytes buffered by the inspect stage (empty before it).
    fn request(&self) -> &[u8];
    /// The inspect buffer's size (`tune.bufsize`): a payload that cannot fit
    /// will never come.
    fn buffer_size(&self) -> usize;
    /// True once no more client bytes can arrive (client closed its side or
    /// the buffer is full).
    fn request_closed(&self) -> bool;
    fn hello(&self) -> Hello<'_>;
}

/// Room for one fetched value the hello reader hands out by copy (an ALPN
/// name is at most 255 bytes).
pub(crate) type Stash = [u8; 255];

/// The buffers an evaluation writes into, allocated once by the caller
/// (one per worker) and reused: the converters' output and a stash for
/// fetched copies.
pub(crate) struct Scratch {
    pub(crate) out: OutBuf,
    pub(crate) stash: Stash,
}

impl Scratch {
    /// `capacity` bounds a converter's text output (`tune.bufsize` fits any
    /// sample).
    pub(crate) fn new(capacity: usize) -> Self {
        Scratch {
            out: OutBuf {
                buf: Vec::with_capacity(capacity),
            },
            stash: [0; 255],
        }
    }
}

/// The buffer converters write into (`lower`, `upper`, casts to text),
/// never grown on the data path: a result that does not fit makes the
/// conversion fail, as HAProxy's trash chunk.
pub(crate) struct OutBuf {
    buf: Vec<u8>,
}

impl OutBuf {
    /// Replaces the content with `bytes`, or returns `None` if they do not
    /// fit in the capacity.
    pub(crate) fn set(&mut self, bytes: &[u8]) -> Option<&mut [u8]> {
        if bytes.len() > self.buf.capacity() {
            return None;
        }
        self.buf.clear();
        self.buf.extend_from_slice(bytes);
        Some(&mut self.buf)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }
}

/// Formats an integer in decimal into `buf`, returning the digits.
pub(crate) fn itoa(value: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = value.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if value < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

/// HAProxy's string-to-integer cast: optional sign and leading digits; no
/// digit means no integer.
pub(crate) fn atoi(bytes: &[u8]) -> Option<i64> {
    let (neg, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let mut n: i64 = 0;
    for &d in &digits[..end] {
        n = n.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if neg { -n } else { n })
}

/// A client known by its address alone (the stats page's): every other
/// fact is missing, so fetches of them find no sample.
pub(crate) struct PeerFacts(pub(crate) Option<SocketAddr>);

impl Facts for PeerFacts {
    fn src(&self) -> Option<SocketAddr> {
        self.0
    }
    fn dst(&self) -> Option<SocketAddr> {
        None
    }
    fn fe_name(&self) -> &str {
        ""
    }
    fn fe_conn(&self) -> i64 {
        0
    }
    fn be_conn(&self, _: &BackendRef) -> Option<i64> {
        None
    }
    fn nbsrv(&self, _: &BackendRef) -> Option<i64> {
        None
    }
    fn srv_is_up(&self, _: &ServerRef) -> Option<bool> {
        None
    }
    fn connslots(&self, _: &BackendRef) -> Option<i64> {
        None
    }
    fn queue(&self, _: &BackendRef) -> Option<i64> {
        None
    }
    fn request(&self) -> &[u8] {
        &[]
    }
    fn buffer_size(&self) -> usize {
        0
    }
    fn request_closed(&self) -> bool {
        true
    }
    fn hello(&self) -> Hello<'_> {
        Hello::Absent
    }
}
