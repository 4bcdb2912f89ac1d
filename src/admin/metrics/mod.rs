//! The metrics endpoint (`stats http ADDR:PORT`, an l4lb extension): a
//! minimal HTTP/1.x server in the supervisor's `Poll`, off the workers' path.
//! `GET /metrics` is the Prometheus text exposition ([`prometheus`]),
//! `GET /stats` the `show stat` rows as JSON ([`json`]); both read the
//! shared counters only.
//!
//! Each connection is one [HTTP exchange](crate::admin::http) (the request
//! head within [`HEAD_TIMEOUT`]). The listener, connections and deadlines
//! are an [admin service](crate::admin::service): out of fds, the listener
//! rests and retries, so a client queued meanwhile is answered once fds
//! are back.

pub(crate) mod json;
pub(crate) mod prometheus;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::Registry;
use mio::net::{TcpListener, TcpStream};

use crate::admin::http::{self, Conn, Refused, Request, TEXT, response};
use crate::admin::service::{Listening, Next, Protocol, Service, Tokens};
use crate::admin::stats::Rates;
use crate::shared::Shared;

/// The time a client has to send its whole request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections at once; more are closed as soon as accepted.
pub(crate) const MAX_CONNS: usize = 64;

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
        Conn::new(stream, now, HEAD_TIMEOUT)
    }

    fn stream(c: &mut Conn) -> &mut TcpStream {
        c.stream()
    }

    fn deadline(&self, c: &Conn) -> Instant {
        c.deadline()
    }

    fn expired(&self, c: &mut Conn) -> Next {
        c.expired()
    }

    fn ready(&self, c: &mut Conn, (shared, rates): (&Shared, &Rates)) -> Next {
        c.advance(|req, _| respond(req, shared, rates))
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

/// The whole response to a request.
fn respond(req: Result<Request<'_>, Refused>, shared: &Shared, rates: &Rates) -> Vec<u8> {
    let req = match req {
        Ok(req) => req,
        Err(r) => return http::refusal(r),
    };
    let body = match req.method {
        "GET" => true,
        "HEAD" => false,
        _ => return http::method_not_allowed("GET, HEAD"),
    };
    let (status, ctype, text) = match req.path() {
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
    response(status, ctype, text.as_bytes(), body, "")
}
