//! The HTTP/1.x exchange the supervisor's HTTP endpoints share (the
//! metrics endpoint of `stats http`, the stats pages): one request per
//! connection, answered with `Connection: close`, on a non-blocking socket.
//!
//! A [`Conn`] walks [`Phase`]s: it reads the request head (at most
//! [`MAX_HEAD`] bytes, before its deadline) and a `Content-Length` body (at
//! most [`MAX_BODY`]), has its owner turn the [`Request`] into bytes,
//! writes them as far as the socket takes them (resumed when it is
//! writable), then half-closes and reads what the client may still send
//! before closing, so that unread input never turns the close into a reset
//! that would cut the response short (bounded by [`LINGER`] and
//! [`MAX_LINGER_BYTES`]). Nothing here blocks.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use crate::admin::service::Next;

/// The longest request head (request line and headers) accepted.
pub(crate) const MAX_HEAD: usize = 8 * 1024;
/// The longest request body accepted (an admin form is a few hundred bytes).
pub(crate) const MAX_BODY: usize = 16 * 1024;
/// The time a response may go without the client reading any of it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// After the response: how long, and how much, the client's leftover input
/// is read and discarded before the close.
const LINGER: Duration = Duration::from_secs(1);
const MAX_LINGER_BYTES: usize = 256 * 1024;

/// Where a connection is in its one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the request head and body. Leaves to `Respond`.
    Request,
    /// Writing `output` from `sent` on. Leaves to `Linger`.
    Respond,
    /// Write side shut: reading and dropping input until EOF, then closed.
    Linger,
}

pub(crate) struct Conn {
    stream: TcpStream,
    peer: Option<SocketAddr>,
    phase: Phase,
    input: Vec<u8>,
    output: Vec<u8>,
    sent: usize,
    /// Bytes dropped while lingering.
    discarded: usize,
    /// When the connection is closed if it has not moved on.
    deadline: Instant,
}

/// A request read whole.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    /// The request target as sent (path and query).
    pub(crate) target: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    pub(crate) body: &'a [u8],
}

/// A request that cannot be served, and the status that says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not HTTP/1.x, a head too long, a malformed header: 400.
    Bad,
    /// A body over [`MAX_BODY`]: 413.
    TooLarge,
    /// A chunked body: 411 (a length is required).
    NoLength,
}

impl Request<'_> {
    /// The target without its query string.
    pub(crate) fn path(&self) -> &str {
        self.target.split_once('?').map_or(self.target, |(p, _)| p)
    }

    /// The first header of this name (case-insensitive), trimmed.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

impl Conn {
    /// A connection just accepted at `now`; its request must be in within
    /// `request_timeout`.
    pub(crate) fn new(stream: TcpStream, now: Instant, request_timeout: Duration) -> Conn {
        Conn {
            peer: stream.peer_addr().ok(),
            stream,
            phase: Phase::Request,
            input: Vec::new(),
            output: Vec::new(),
            sent: 0,
            discarded: 0,
            deadline: now + request_timeout,
        }
    }

    pub(crate) fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Runs the connection as far as its socket allows; once the request
    /// is in, `respond` turns it into the whole response.
    pub(crate) fn advance(
        &mut self,
        respond: impl FnOnce(Result<Request<'_>, Refused>, Option<SocketAddr>) -> Vec<u8>,
    ) -> Next {
        if self.phase == Phase::Request {
            match self.read_request() {
                Ok(Some(len)) => {
                    self.output = respond(parse(&self.input[..len]), self.peer);
                    self.start_response();
                }
                Ok(None) => return Next::Keep,
                Err(_) => return Next::Close,
            }
        }
        if self.phase == Phase::Respond {
            match self.write() {
                Ok(true) => {
                    // Errors here mean the peer is gone: lingering finds out.
                    let _ = self.stream.shutdown(Shutdown::Write);
                    self.phase = Phase::Linger;
                    self.deadline = Instant::now() + LINGER;
                }
                Ok(false) => return Next::Keep,
                Err(_) => return Next::Close,
            }
        }
        self.linger()
    }

    /// Past the deadline: a client that sent part of a request gets
    /// HAProxy's 408 (written as far as the socket takes it, under a new
    /// deadline); one that sent nothing, or that does not read its answer,
    /// is closed.
    pub(crate) fn expired(&mut self) -> Next {
        if self.phase != Phase::Request || self.input.is_empty() {
            return Next::Close;
        }
        self.output = response("408 Request Timeout", TEXT, b"Request timeout\n", true, "");
        self.start_response();
        self.advance(|_, _| Vec::new())
    }

    /// Reads until `WouldBlock`. Ok(Some(n)): the request is complete (or
    /// cannot be, and [`parse`] says why) in the first `n` bytes of
    /// `input`; Ok(None): more is needed.
    fn read_request(&mut self) -> io::Result<Option<usize>> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(n) = complete(&self.input) {
                return Ok(Some(n));
            }
            match self.stream.read(&mut buf) {
                // The client stopped sending before the request was
                // complete: whatever it sent is answered (a 400).
                Ok(0) if self.input.is_empty() => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(0) => return Ok(Some(self.input.len())),
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn start_response(&mut self) {
        self.phase = Phase::Respond;
        self.sent = 0;
        self.input = Vec::new();
        self.deadline = Instant::now() + WRITE_TIMEOUT;
    }

    /// Writes what the socket takes; Ok(true) once everything is written.
    fn write(&mut self) -> io::Result<bool> {
        while self.sent < self.output.len() {
            match self.stream.write(&self.output[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    self.deadline = Instant::now() + WRITE_TIMEOUT;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Drops input until EOF (then the connection is done) or `WouldBlock`.
    fn linger(&mut self) -> Next {
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return Next::Close,
                Ok(n) => {
                    self.discarded += n;
                    if self.discarded > MAX_LINGER_BYTES {
                        return Next::Close;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
    }
}

/// The length of the head (through its blank line), if it is complete.
fn head_end(input: &[u8]) -> Option<usize> {
    let limit = input.len().min(MAX_HEAD);
    let window = &input[..limit];
    let crlf = window
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    let lf = window.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// How many bytes of `input` make the request, once that is known: the
/// head and its body, or what came when it cannot be one (too long).
fn complete(input: &[u8]) -> Option<usize> {
    let Some(end) = head_end(input) else {
        return (input.len() > MAX_HEAD).then_some(input.len());
    };
    let want = match content_length(&input[..end]) {
        Some(Ok(n)) if n <= MAX_BODY => end + n,
        // Answered without reading the body.
        Some(_) => return Some(end),
        None => end,
    };
    (input.len() >= want).then_some(want)
}

/// The head's `Content-Length`: None without one, Err if unreadable.
fn content_length(head: &[u8]) -> Option<Result<usize, ()>> {
    let text = std::str::from_utf8(head).ok()?;
    text.split('\n').skip(1).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().map_err(drop))
    })
}

/// Parses a request (as cut by [`complete`]).
fn parse(input: &[u8]) -> Result<Request<'_>, Refused> {
    let end = head_end(input).ok_or(Refused::Bad)?;
    let text = std::str::from_utf8(&input[..end]).map_err(|_| Refused::Bad)?;
    let text = text
        .strip_suffix("\r\n\r\n")
        .or_else(|| text.strip_suffix("\n\n"))
        .ok_or(Refused::Bad)?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts.as_slice() else {
        return Err(Refused::Bad);
    };
    let token_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_alphabetic());
    if !token_ok || !target.starts_with('/') || !matches!(*version, "HTTP/1.0" | "HTTP/1.1") {
        return Err(Refused::Bad);
    }
    let mut headers = Vec::new();
    for l in lines {
        match l.split_once(':') {
            Some((name, value)) if !name.is_empty() && !name.contains([' ', '\t']) => {
                headers.push((name, value.trim()));
            }
            _ => return Err(Refused::Bad),
        }
    }
    let req = Request {
        method,
        target,
        headers,
        body: &[],
    };
    if req.header("transfer-encoding").is_some() {
        return Err(Refused::NoLength);
    }
    let body = match req.header("content-length").map(str::parse::<usize>) {
        None => &input[end..end],
        Some(Ok(n)) if n > MAX_BODY => return Err(Refused::TooLarge),
        Some(Ok(n)) if input.len() >= end + n => &input[end..end + n],
        // Bad, or the client closed before its body was in.
        Some(_) => return Err(Refused::Bad),
    };
    Ok(Request { body, ..req })
}

pub(crate) const TEXT: &str = "text/plain; charset=utf-8";

/// A whole response; `extra` are header lines, each ending in CRLF. With
/// `body` false (a HEAD), the length is said and the bytes left out.
pub(crate) fn response(
    status: &str,
    ctype: &str,
    content: &[u8],
    body: bool,
    extra: &str,
) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\n{extra}Connection: close\r\n\r\n",
        content.len()
    )
    .into_bytes();
    if body {
        out.extend_from_slice(content);
    }
    out
}

/// The answer to a request that could not be read.
pub(crate) fn refusal(r: Refused) -> Vec<u8> {
    let (status, text) = match r {
        Refused::Bad => ("400 Bad Request", "Bad request\n"),
        Refused::TooLarge => ("413 Payload Too Large", "Request body too large\n"),
        Refused::NoLength => ("411 Length Required", "Send a Content-Length\n"),
    };
    response(status, TEXT, text.as_bytes(), true, "")
}

/// 405 for a method other than `allowed` (e.g. "GET, HEAD").
pub(crate) fn method_not_allowed(allowed: &str) -> Vec<u8> {
    let text = format!("Only {allowed} are served\n");
    let extra = format!("Allow: {allowed}\r\n");
    response(
        "405 Method Not Allowed",
        TEXT,
        text.as_bytes(),
        true,
        &extra,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(input: &[u8]) -> Result<Request<'_>, Refused> {
        parse(input)
    }

    #[test]
    fn heads_end_at_the_first_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.0\r\n\r\nxx"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.0\n\n"), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.0\r\nHost: a\r\n"), None);
    }

    #[test]
    fn a_request_is_complete_with_its_body() {
        let head = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(complete(head), None);
        let mut full = head.to_vec();
        full.extend_from_slice(b"a=1xx");
        assert_eq!(complete(&full), Some(head.len() + 3));
        assert_eq!(req(&full[..head.len() + 3]).unwrap().body, b"a=1");
        let huge = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert_eq!(complete(huge.as_bytes()), Some(huge.len()));
        assert_eq!(req(huge.as_bytes()), Err(Refused::TooLarge));
    }

    #[test]
    fn requests_give_method_target_and_headers() {
        let r = req(b"GET /stats?x=1 HTTP/1.0\nHost: a\nAuthorization:  Basic eA== \n\n").unwrap();
        assert_eq!(
            (r.method, r.target, r.path()),
            ("GET", "/stats?x=1", "/stats")
        );
        assert_eq!(r.header("authorization"), Some("Basic eA=="));
        assert_eq!(r.header("cookie"), None);
        assert_eq!(
            req(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(Refused::NoLength)
        );
    }

    #[test]
    fn malformed_requests_are_bad() {
        for head in [
            &b"GET /metrics\r\n\r\n"[..],
            b"GET /metrics HTTP/2.0\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\n",
            b"\xff /metrics HTTP/1.1\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nshort",
        ] {
            assert_eq!(
                req(head),
                Err(Refused::Bad),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(req(long.as_bytes()), Err(Refused::Bad));
    }
}
