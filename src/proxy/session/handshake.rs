//! The PROXY protocol stage (`bind ... accept-proxy`): before anything
//! else, the client's header is read (v1 or v2, auto-detected), and its
//! addresses stand for the connection's from then on: the balancer's
//! `source` hash, the logs, a `send-proxy` header to the server. A
//! malformed, oversized or truncated header, or none within `timeout
//! client`, closes that client alone (`CR`/`cR` in its log line).

use std::io::Read;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::{Next, Session, State, Step};
use crate::logs::tcplog::{Cause, Phase};
use crate::wire::proxy_protocol::{Parsed, parse};

/// The most l4lb reads of a header: a v1 line is at most 107 bytes; v2
/// headers with the TLVs senders put in (authority, unique id, SSL) fit.
const MAX_HEADER: usize = 1024;

impl Session {
    /// Entered in AwaitHeader when the client sent bytes: looks at them
    /// (without taking any beyond the header) and leaves to the connect
    /// stage once the header is whole, or ends the session.
    pub(super) fn read_header(&mut self, since: Instant, read_closed: bool) -> Step {
        let mut buf = [0u8; MAX_HEADER];
        let seen = match crate::sys::peek(self.client.stream.as_fd(), &mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Step::Stay(State::AwaitHeader(since), Next::Wait);
            }
            Err(_) => return self.bad_header(since, "the connection failed"),
        };
        match parse(&buf[..seen]) {
            Parsed::Header(header, used) => {
                let real = (self.peer, self.client.stream.local_addr());
                let (src, dst) = match real {
                    (peer, Some(local)) => {
                        let (src, dst) = header.effective((peer, local));
                        (src, Some(dst))
                    }
                    (peer, None) => (peer, None),
                };
                // Take exactly the header: the client's bytes stay queued.
                let mut take = [0u8; MAX_HEADER];
                if self.client.stream.read_exact(&mut take[..used]).is_err() {
                    return self.bad_header(since, "the connection failed");
                }
                self.peer = src;
                self.proxied_dst = dst;
                // Passed on by `proxy-v2-options authority` (an SNI the
                // inspect stage reads takes its place).
                let authority = header.tlv(crate::wire::proxy_protocol::tlv::AUTHORITY);
                self.authority = authority.map(Into::into);
                let shared = std::sync::Arc::clone(self.shared());
                self.log_accepted(&shared);
                Step::Admitted
            }
            Parsed::Incomplete if seen == MAX_HEADER => {
                self.bad_header(since, "a header longer than l4lb reads")
            }
            Parsed::Incomplete if read_closed => {
                self.bad_header(since, "closed before its PROXY header ended")
            }
            Parsed::Incomplete => Step::Stay(State::AwaitHeader(since), Next::Wait),
            Parsed::Invalid(why) => self.bad_header(since, why),
        }
    }

    /// A client whose PROXY header is wrong: logged, counted, closed.
    fn bad_header(&mut self, since: Instant, why: &str) -> Step {
        log::info!("client {}: PROXY header refused: {why}", self.peer);
        self.admission.frontend().rejected.fetch_add(1, Relaxed);
        self.end(
            State::AwaitHeader(since),
            Cause::ClientAbort,
            Phase::Request,
        )
    }

    /// No header within `timeout client`.
    pub(super) fn header_timeout(&mut self, since: Instant) -> Step {
        log::info!(
            "client {}: no PROXY header within timeout client",
            self.peer
        );
        self.admission.frontend().rejected.fetch_add(1, Relaxed);
        self.end(
            State::AwaitHeader(since),
            Cause::ClientTimeout,
            Phase::Request,
        )
    }
}
