//! `option httpchk` / `http-check`: the request bytes HAProxy puts on the
//! wire for an `http-check send` and the judges of `http-check expect`
//! (`tcpcheck_eval_send`'s HTTP case through the H1 mux, and
//! `tcpcheck_eval_expect_http`).

use super::http_parse::{Response, parse};
use super::tcp::contains;
use crate::backend::CheckStatus;
use crate::config::{ConnectRule, HttpCheck, HttpExpect, HttpMatch, HttpRequest, HttpRule};
use crate::health::rules::{Judge, Step, Verdict};

/// HAProxy's implicit expect when the rules end with a send.
const DEFAULT_STATUSES: (u16, u16) = (200, 399);

pub(super) fn steps(check: &HttpCheck, steps: &mut Vec<Step>) {
    if !matches!(check.rules.first(), Some(HttpRule::Connect(_))) {
        steps.push(Step::Connect(ConnectRule::implicit()));
    }
    let mut head = false;
    for rule in &check.rules {
        steps.push(match rule {
            HttpRule::Connect(c) => Step::Connect(c.clone()),
            HttpRule::Send(req) => {
                head = req.method == "HEAD";
                Step::Send(request(req))
            }
            HttpRule::Expect(e) => Step::Expect(Box::new(Expect::new(e.clone(), head, check))),
        });
    }
    if matches!(check.rules.last(), Some(HttpRule::Send(_))) {
        let e = HttpExpect {
            inverse: false,
            what: HttpMatch::Status(vec![DEFAULT_STATUSES]),
        };
        steps.push(Step::Expect(Box::new(Expect::new(e, head, check))));
    }
}

/// The request as HAProxy's H1 mux writes it: `METHOD URI VERSION` (any
/// version from 1.1 up written `HTTP/1.1`), the `hdr` headers in order
/// with lower-case names (HTX lower-cases them; headers with an empty
/// value are left out), `content-length` when there is a body or the
/// method is not OPTIONS, GET, HEAD or DELETE, then the connection mode:
/// HAProxy asks for a close, which an HTTP/1.1 request states with
/// `connection: close` and an HTTP/1.0 one says by default. No `Host` is
/// added: HTTP/1.1 checks name it with `hdr Host`, as in HAProxy.
pub(super) fn request(req: &HttpRequest) -> Vec<u8> {
    let v11 = at_least_11(&req.version);
    let version = if v11 { "HTTP/1.1" } else { &req.version };
    let mut out = format!("{} {} {version}\r\n", req.method, req.uri).into_bytes();
    let mut connection: Option<Tokens> = None;
    for (name, value) in &req.headers {
        if value.is_empty() {
            continue;
        }
        let name = name.to_ascii_lowercase();
        if name == "connection" {
            // The mux takes close / keep-alive out and states the mode
            // itself; other tokens (upgrade...) stay.
            let t = connection.get_or_insert_with(Tokens::default);
            let kept = t.add(value);
            if !kept.is_empty() {
                push_header(&mut out, &name, &kept);
            }
            continue;
        }
        push_header(&mut out, &name, value);
    }
    let bodiless = ["OPTIONS", "GET", "HEAD", "DELETE"].contains(&req.method.as_str());
    if !req.body.is_empty() || !bodiless {
        push_header(&mut out, "content-length", &req.body.len().to_string());
    }
    // No Connection header: HAProxy adds `Connection: close`.
    let close = connection
        .as_ref()
        .is_none_or(|t| t.close || (!v11 && !t.keep_alive));
    match (v11, close) {
        (true, true) => push_header(&mut out, "connection", "close"),
        (false, false) => push_header(&mut out, "connection", "keep-alive"),
        _ => {}
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&req.body);
    out
}

/// HTTP/1.1 or later, as HAProxy decides it (`HTTP/2`, `HTTP/1.1`...).
fn at_least_11(version: &str) -> bool {
    match version.as_bytes() {
        [_, _, _, _, _, b'2'] => true,
        [_, _, _, _, _, major, _, minor] => *major > b'1' || (*major == b'1' && *minor >= b'1'),
        _ => false,
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
}

/// The connection tokens of the `hdr Connection` headers.
#[derive(Default)]
struct Tokens {
    close: bool,
    keep_alive: bool,
}

impl Tokens {
    /// Notes close / keep-alive; returns the other tokens.
    fn add(&mut self, value: &str) -> String {
        let mut kept = Vec::new();
        for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if token.eq_ignore_ascii_case("close") {
                self.close = true;
            } else if token.eq_ignore_ascii_case("keep-alive") {
                self.keep_alive = true;
            } else {
                kept.push(token);
            }
        }
        kept.join(",")
    }
}

/// One `http-check expect`, judging the response to the last send.
#[derive(Debug)]
struct Expect {
    rule: HttpExpect,
    /// The request was a HEAD: the response has no body.
    head: bool,
    /// `http-check disable-on-404`: a 404 passes as L7OKC (the prober
    /// drains the server).
    disable_on_404: bool,
}

impl Expect {
    fn new(rule: HttpExpect, head: bool, check: &HttpCheck) -> Expect {
        Expect {
            rule,
            head,
            disable_on_404: check.disable_on_404,
        }
    }

    /// Some(matched) once it can tell, or a verdict of its own.
    fn matched(&self, r: &Response<'_>, last: bool) -> Result<bool, Verdict> {
        let done = last || r.complete;
        let body = &r.body[..];
        match &self.rule.what {
            HttpMatch::Status(ranges) => {
                Ok(ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&r.status)))
            }
            HttpMatch::RStatus(p) => Ok(p.re.is_match(r.code)),
            HttpMatch::String(_) | HttpMatch::RString(_) if body.is_empty() => {
                if done {
                    let why = "HTTP content check could not find a response body";
                    Err(Verdict::Fail(CheckStatus::L7Rsp, why.into()))
                } else {
                    Err(Verdict::More)
                }
            }
            HttpMatch::String(s) => {
                let found = contains(body, s);
                if !found && !done {
                    return Err(Verdict::More);
                }
                Ok(found)
            }
            HttpMatch::RString(p) => {
                let found = p.re.is_match(body);
                if !found && !done {
                    return Err(Verdict::More);
                }
                Ok(found)
            }
        }
    }

    fn on_status(&self) -> bool {
        matches!(self.rule.what, HttpMatch::Status(_) | HttpMatch::RStatus(_))
    }
}

impl Judge for Expect {
    fn judge(&self, buf: &[u8], last: bool) -> Verdict {
        let r = match parse(buf, self.head) {
            Err(why) => return Verdict::Fail(CheckStatus::L7Rsp, why.into()),
            Ok(None) if !last => return Verdict::More,
            Ok(None) if buf.is_empty() => {
                return Verdict::Fail(CheckStatus::L7Rsp, "empty response".into());
            }
            Ok(None) => {
                return Verdict::Fail(CheckStatus::L7Rsp, "truncated HTTP response".into());
            }
            Ok(Some(r)) => r,
        };
        let status_text = || {
            let reason = String::from_utf8_lossy(&r.reason[..r.reason.len().min(128)]);
            format!("{} {reason}", r.status).trim_end().to_string()
        };
        // HAProxy: a 404 under disable-on-404 passes every expect, and the
        // check ends "conditionally passed".
        if self.disable_on_404 && r.status == 404 {
            return Verdict::Pass(CheckStatus::L7Okc, status_text());
        }
        let matched = match self.matched(&r, last) {
            Ok(m) => m,
            Err(v) => return v,
        };
        if matched != self.rule.inverse {
            return Verdict::Pass(CheckStatus::L7Ok, status_text());
        }
        if self.on_status() {
            return Verdict::Fail(CheckStatus::L7Sts, status_text());
        }
        let why = if self.rule.inverse {
            "HTTP check matched unwanted content"
        } else {
            "HTTP content check did not match"
        };
        Verdict::Fail(CheckStatus::L7Rsp, why.into())
    }

    fn describe(&self) -> String {
        let not = if self.rule.inverse { "! " } else { "" };
        let what = match &self.rule.what {
            HttpMatch::Status(ranges) => {
                let list: Vec<String> = ranges
                    .iter()
                    .map(|&(lo, hi)| {
                        if lo == hi {
                            lo.to_string()
                        } else {
                            format!("{lo}-{hi}")
                        }
                    })
                    .collect();
                format!("HTTP status {}", list.join(","))
            }
            HttpMatch::RStatus(p) => format!("HTTP status matching {:?}", p.source),
            HttpMatch::String(s) => format!("body {:?}", String::from_utf8_lossy(s)),
            HttpMatch::RString(p) => format!("body matching {:?}", p.source),
        };
        format!("{not}{what}")
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
