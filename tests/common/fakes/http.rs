//! The HTTP fakes: a server answering every request with the reply the test
//! sets (framed by content-length, chunked, or by the close), and a
//! Patroni-like REST API whose role the test switches.

use super::Fake;

/// How an HTTP reply's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    ContentLength,
    Chunked,
    /// No length: the body ends at the close.
    Close,
}

/// The reply an HTTP fake sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub framing: Framing,
}

impl HttpReply {
    /// `status` with `body`, framed by a content-length.
    pub(crate) fn new(status: u16, body: &str) -> HttpReply {
        HttpReply {
            status,
            headers: vec![("Server".into(), "fake".into())],
            body: body.as_bytes().to_vec(),
            framing: Framing::ContentLength,
        }
    }

    pub(crate) fn framed(self, framing: Framing) -> HttpReply {
        HttpReply { framing, ..self }
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> HttpReply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The reply's bytes.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (n, v) in &self.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        let mut out = match self.framing {
            Framing::ContentLength => format!("{head}Content-Length: {}\r\n\r\n", self.body.len()),
            Framing::Chunked => format!("{head}Transfer-Encoding: chunked\r\n\r\n"),
            Framing::Close => format!("{head}Connection: close\r\n\r\n"),
        }
        .into_bytes();
        if self.framing == Framing::Chunked {
            // Two chunks when it can, so a judge must join them.
            let (a, b) = self.body.split_at(self.body.len() / 2);
            for part in [a, b].into_iter().filter(|p| !p.is_empty()) {
                out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                out.extend_from_slice(part);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        } else {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

/// A whole request (head, and a body as its content-length says).
fn request_len(buf: &[u8]) -> Option<usize> {
    let head = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = String::from_utf8_lossy(&buf[..head]).to_ascii_lowercase();
    let body = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (buf.len() >= head + body).then_some(head + body)
}

/// The first line of a request, without its CRLF.
pub(crate) fn request_line(req: &[u8]) -> String {
    let text = String::from_utf8_lossy(req);
    text.lines().next().unwrap_or_default().to_string()
}

/// The path of a request (its target before any `?`).
pub(crate) fn request_path(req: &[u8]) -> String {
    let line = request_line(req);
    let target = line.split(' ').nth(1).unwrap_or_default();
    target.split('?').next().unwrap_or_default().to_string()
}

impl<K: Clone + Send + 'static> Fake<K> {
    /// An HTTP server answering each request with `route(request, knob)`
    /// (a 503 when wrong), then closing.
    fn http_route(knob: K, route: fn(&[u8], &K) -> HttpReply) -> Fake<K> {
        Fake::serve(knob, move |c| {
            let Some(req) = c.take(request_len) else {
                return;
            };
            let right = route(&req, &c.knob());
            let wrong = HttpReply::new(503, "fake: wrong\n").framed(right.framing);
            c.answer(&right.bytes(), &wrong.bytes());
        })
    }
}

impl Fake<HttpReply> {
    /// An HTTP server answering every request with the knob's reply.
    pub(crate) fn http(reply: HttpReply) -> Fake<HttpReply> {
        Fake::http_route(reply, |_, reply| reply.clone())
    }
}

/// A Patroni node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Primary,
    Replica,
}

impl Fake<Role> {
    /// Patroni's REST API (port 8008): `/primary` (`/master`, `/leader`)
    /// is 200 on the primary and 503 elsewhere, `/replica` the other way
    /// round, `/health` and `/` 200 on both, anything else 404.
    pub(crate) fn patroni(role: Role) -> Fake<Role> {
        Fake::http_route(role, |req, role| {
            let name = match role {
                Role::Primary => "primary",
                Role::Replica => "replica",
            };
            let body = format!("{{\"state\": \"running\", \"role\": \"{name}\"}}");
            let status = match (request_path(req).as_str(), role) {
                ("/primary" | "/master" | "/leader", Role::Primary) => 200,
                ("/primary" | "/master" | "/leader", Role::Replica) => 503,
                ("/replica", Role::Replica) => 200,
                ("/replica", Role::Primary) => 503,
                ("/" | "/health", _) => 200,
                _ => 404,
            };
            HttpReply::new(status, &body).header("Content-Type", "application/json")
        })
    }
}
