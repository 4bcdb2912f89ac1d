//! The metrics endpoint (`stats http ADDR:PORT`, an l4lb extension): a
//! minimal HTTP/1.x server in the supervisor's `Poll`, off the workers' path.
//! `GET /metrics` is the Prometheus text exposition ([`prometheus`]),
//! `GET /stats` the `show stat` rows as JSON ([`json`]); both read the
//! shared counters only.
//!
//! One request per connection, answered with `Connection: close`. Nothing
//! here may block the supervisor: sockets are non-blocking, a response is
//! written as far as the socket takes it and resumed when it is writable.
//! A connection walks [`Phase`]s: it reads the request head (at most
//! [`MAX_HEAD`] bytes, within [`HEAD_TIMEOUT`]), writes the response, then
//! half-closes and reads what the client may still send before closing, so
//! that unread input never turns the close into a reset that would cut the
//! response short (bounded by [`LINGER`] and [`MAX_LINGER_BYTES`]).
//! The listener, connections and deadlines are an
//! [admin service](crate::admin::service): out of fds, the listener rests
//! and retries, so a client queued meanwhile is answered once fds are back.

pub(crate) mod json;
pub(crate) mod prometheus;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use mio::Registry;
use mio::net::{TcpListener, TcpStream};

use crate::admin::service::{Listening, Next, Protocol, Service, Tokens};
use crate::admin::stats::Rates;
use crate::shared::Shared;

/// The longest request head (request line and headers) accepted.
pub(crate) const MAX_HEAD: usize = 8 * 1024;
/// The time a client has to send its whole request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// The time a response may go without the client reading any of it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// After the response: how long, and how much, the client's leftover input
/// is read and discarded before the close.
const LINGER: Duration = Duration::from_secs(1);
const MAX_LINGER_BYTES: usize = 256 * 1024;
/// Connections at once; more are closed as soon as accepted.
pub(crate) const MAX_CONNS: usize = 64;

/// Where a connection is in its one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the request head. Leaves to `Respond`.
    Head,
    /// Writing `output` from `sent` on. Leaves to `Linger`.
    Respond,
    /// Write side shut: reading and dropping input until EOF, then closed.
    Linger,
}

pub(crate) struct Conn {
    stream: TcpStream,
    phase: Phase,
    input: Vec<u8>,
    output: Vec<u8>,
    sent: usize,
    /// Bytes dropped while lingering.
    discarded: usize,
    /// When the connection is closed if it has not moved on.
    deadline: Instant,
}

/// The metrics endpoint: the admin service that speaks [`Http`].
pub(crate) type Metrics = Service<Http>;

/// The one-request HTTP/1.x server of `stats http`.
pub(crate) struct Http {
    /// The address of its `stats http` line (port 0 stays 0).
    configured: SocketAddr,
    addr: SocketAddr,
}

impl Protocol for Http {
    type Listener = TcpListener;
    type Origin = ();
    type Conn = Conn;
    type Ctx<'a> = (&'a Shared, &'a Rates);
    const NAME: &'static str = "stats http";

    fn open(&self, stream: TcpStream, _: &(), now: Instant) -> Conn {
        Conn {
            stream,
            phase: Phase::Head,
            input: Vec::new(),
            output: Vec::new(),
            sent: 0,
            discarded: 0,
            deadline: now + HEAD_TIMEOUT,
        }
    }

    fn stream(c: &mut Conn) -> &mut TcpStream {
        &mut c.stream
    }

    fn deadline(&self, c: &Conn) -> Instant {
        c.deadline
    }

    fn ready(&self, c: &mut Conn, (shared, rates): (&Shared, &Rates)) -> Next {
        c.advance(shared, rates)
    }
}

impl Metrics {
    /// Listens on `addr` and registers the listener in `registry`.
    pub(crate) fn bind(
        addr: SocketAddr,
        registry: &Registry,
        tokens: Tokens,
    ) -> io::Result<Metrics> {
        let sock = TcpListener::bind(addr)
            .map_err(|e| io::Error::new(e.kind(), format!("stats http {addr}: {e}")))?;
        let http = Http {
            configured: addr,
            addr: sock.local_addr()?,
        };
        let mut metrics = Service::new(http, registry, tokens, MAX_CONNS)?;
        metrics.listen(Listening::new(sock, (), None))?;
        Ok(metrics)
    }

    /// The address of its `stats http` line.
    pub(crate) fn configured(&self) -> SocketAddr {
        self.protocol().configured
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.protocol().addr
    }
}

impl Conn {
    /// Runs the connection as far as its socket allows.
    fn advance(&mut self, shared: &Shared, rates: &Rates) -> Next {
        if self.phase == Phase::Head {
            match self.read_head() {
                Ok(Some(head_end)) => {
                    let head = &self.input[..head_end];
                    self.output = respond(head, shared, rates);
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

    /// Reads until `WouldBlock`. Ok(Some(n)): the head is complete (or
    /// unacceptable: `output` then holds the error response) and `n` bytes
    /// of `input` make it; Ok(None): more is needed.
    fn read_head(&mut self) -> io::Result<Option<usize>> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = head_end(&self.input) {
                return Ok(Some(end));
            }
            if self.input.len() > MAX_HEAD {
                return Ok(Some(self.input.len()));
            }
            match self.stream.read(&mut buf) {
                // The client stopped sending before the head was complete:
                // whatever it sent is answered (a 400, as it cannot parse).
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

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request<'a> {
    /// GET (or HEAD: `body` false) of a path, query string removed.
    Get { path: &'a str, body: bool },
    /// A well-formed request with another method.
    OtherMethod,
    /// Not HTTP/1.x, or too long.
    Bad,
}

/// Parses a request head (as cut by [`head_end`], or whatever came before
/// the limit or the client's EOF).
fn parse(head: &[u8]) -> Request<'_> {
    if head.len() > MAX_HEAD {
        return Request::Bad;
    }
    let Ok(text) = std::str::from_utf8(head) else {
        return Request::Bad;
    };
    let Some(text) = text
        .strip_suffix("\r\n\r\n")
        .or_else(|| text.strip_suffix("\n\n"))
    else {
        return Request::Bad;
    };
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts.as_slice() else {
        return Request::Bad;
    };
    let token_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_alphabetic());
    if !token_ok || !target.starts_with('/') || !matches!(*version, "HTTP/1.0" | "HTTP/1.1") {
        return Request::Bad;
    }
    let headers_ok = lines.all(|l| {
        l.split_once(':')
            .is_some_and(|(name, _)| !name.is_empty() && !name.contains([' ', '\t']))
    });
    if !headers_ok {
        return Request::Bad;
    }
    let path = target.split_once('?').map_or(*target, |(p, _)| p);
    match *method {
        "GET" => Request::Get { path, body: true },
        "HEAD" => Request::Get { path, body: false },
        _ => Request::OtherMethod,
    }
}

/// The whole response to a request head.
fn respond(head: &[u8], shared: &Shared, rates: &Rates) -> Vec<u8> {
    match parse(head) {
        Request::Get { path, body } => {
            let (status, ctype, text) = match path {
                "/metrics" => (
                    "200 OK",
                    prometheus::CONTENT_TYPE,
                    prometheus::render(shared, rates),
                ),
                "/stats" => ("200 OK", json::CONTENT_TYPE, json::render(shared, rates)),
                _ => (
                    "404 Not Found",
                    TEXT,
                    "Not found: try /metrics or /stats\n".into(),
                ),
            };
            response(status, ctype, &text, body, "")
        }
        Request::OtherMethod => response(
            "405 Method Not Allowed",
            TEXT,
            "Only GET and HEAD are served\n",
            true,
            "Allow: GET, HEAD\r\n",
        ),
        Request::Bad => response("400 Bad Request", TEXT, "Bad request\n", true, ""),
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

fn response(status: &str, ctype: &str, text: &str, body: bool, extra: &str) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\n{extra}Connection: close\r\n\r\n",
        text.len()
    )
    .into_bytes();
    if body {
        out.extend_from_slice(text.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_end_at_the_first_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.0\r\n\r\nxx"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.0\n\n"), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.0\r\nHost: a\r\n"), None);
    }

    #[test]
    fn requests_are_routed_by_method_and_path() {
        let get = |p| Request::Get {
            path: p,
            body: true,
        };
        assert_eq!(
            parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            get("/metrics")
        );
        assert_eq!(parse(b"GET /stats?x=1 HTTP/1.0\n\n"), get("/stats"));
        assert_eq!(
            parse(b"HEAD /metrics HTTP/1.1\r\n\r\n"),
            Request::Get {
                path: "/metrics",
                body: false
            }
        );
        assert_eq!(
            parse(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Request::OtherMethod
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
        ] {
            assert_eq!(
                parse(head),
                Request::Bad,
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(parse(long.as_bytes()), Request::Bad);
    }
}
