//! The connection log's record: what a session notes on its way
//! ([`Trace`]) and leaves behind when its line is due ([`Record`], a plain
//! struct a worker sends without allocating), and HAProxy's two-letter
//! termination state. The logger thread writes the line from it in the
//! frontend's format (`format`), by default HAProxy's TCP log format:
//!
//! ```text
//! %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq
//! 127.0.0.1:50114 [24/Nov/2026:12:01:02.123] quick quick/s1 0/1/5003 1234 -- 1/1/1/1/0 0/0
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::{Config, Frontend};

/// The first letter of the termination state: what ended the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// `-`: both sides closed normally.
    Normal,
    /// `C`: the client aborted (reset, or an error on its socket).
    ClientAbort,
    /// `S`: the server aborted, or refused the connection; also used when
    /// no server was available, as HAProxy.
    ServerAbort,
    /// `c`: the client-side timeout struck (`timeout client`, `client-fin`).
    ClientTimeout,
    /// `s`: a server-side timeout struck (`timeout server`, `server-fin`,
    /// `timeout connect`, `timeout queue`).
    ServerTimeout,
    /// `R`: the proxy ran out of a resource (fds, memory, ports).
    Resource,
    /// `P`: the proxy blocked the session (a `tcp-request content reject`
    /// or `silent-drop`), or had no backend to send it to.
    Proxy,
    /// `D`: the server went DOWN with `on-marked-down shutdown-sessions`.
    Down,
    /// `K`: killed by the operator (l4lb stopping).
    Killed,
    /// `I`: l4lb lost track of why the session ended (a bug: report it).
    Internal,
}

/// The second letter: where the session was when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `-`: after the end of the data transfer (normal completion).
    Done,
    /// `Q`: waiting in the queue for a server slot.
    Queue,
    /// `R`: waiting for the client's PROXY protocol header (HAProxy's
    /// "waiting for a complete, valid request").
    Request,
    /// `C`: waiting for the connection to the server to establish.
    Connect,
    /// `D`: forwarding data.
    Data,
}

/// HAProxy's session state at disconnection, e.g. `--`, `SC`, `cD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termination {
    pub cause: Cause,
    pub phase: Phase,
}

impl Termination {
    pub const NORMAL: Termination = Termination {
        cause: Cause::Normal,
        phase: Phase::Done,
    };

    pub fn new(cause: Cause, phase: Phase) -> Termination {
        Termination { cause, phase }
    }

    /// The two letters as HAProxy writes them.
    pub fn letters(self) -> [char; 2] {
        let cause = match self.cause {
            Cause::Normal => '-',
            Cause::ClientAbort => 'C',
            Cause::ServerAbort => 'S',
            Cause::ClientTimeout => 'c',
            Cause::ServerTimeout => 's',
            Cause::Resource => 'R',
            Cause::Proxy => 'P',
            Cause::Down => 'D',
            Cause::Killed => 'K',
            Cause::Internal => 'I',
        };
        let phase = match self.phase {
            Phase::Done => '-',
            Phase::Queue => 'Q',
            Phase::Request => 'R',
            Phase::Connect => 'C',
            Phase::Data => 'D',
        };
        [cause, phase]
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b] = self.letters();
        write!(f, "{a}{b}")
    }
}

/// What a session leaves behind for its log line: plain values only, so
/// sending it costs no allocation. Counts are taken when the line is made,
/// before the session gives back its own slots, so they include it (as
/// HAProxy's %ac and %fc do; its %bc and %sc at the end of a connection do
/// not, as `scripts/log_interop.sh` shows).
#[derive(Debug, Clone)]
pub struct Record {
    /// The snapshot the session ran under: indexes below point into its
    /// configuration, whatever reloads came since.
    pub config: Arc<Config>,
    pub client: SocketAddr,
    /// A unix client (`client` is then 0.0.0.0:0): the id of the bind it
    /// came by, which HAProxy logs as %cp and %fp, with `unix` as %ci and %fi.
    pub client_unix: Option<u32>,
    /// The address the client connected to (%fi %fp), when the format
    /// needs it.
    pub frontend_addr: Option<SocketAddr>,
    /// The local end of the server connection (%bi %bp), when the format
    /// needs it and the connection is still open.
    pub backend_addr: Option<SocketAddr>,
    /// The address of the last server tried (%si %sp).
    pub server_addr: Option<SocketAddr>,
    /// That server is on a unix socket: HAProxy logs `unix` as %si and %bi,
    /// 0 as %sp and %bp.
    pub server_unix: bool,
    pub accepted: SystemTime,
    /// Indexes into the configuration.
    pub frontend: usize,
    pub backend: usize,
    /// The last server tried, if any (`<NOSRV>` otherwise).
    pub server: Option<usize>,
    /// Tw, Tc, Tt in milliseconds; -1 for a phase never reached.
    pub queue_ms: i64,
    pub connect_ms: i64,
    pub total_ms: i64,
    /// Bytes from the server to the client (%B), and the other way (%U).
    pub bytes_read: u64,
    pub bytes_uploaded: u64,
    pub termination: Termination,
    /// %ac %fc %bc %sc: connections of the process, of the frontend, of
    /// the backend (queued ones included), to this server.
    pub actconn: usize,
    pub feconn: usize,
    pub beconn: u64,
    pub srv_conn: u32,
    /// Connection attempts after the first (%rc).
    pub retries: u32,
    /// A retry went to another server: `+` before the retries, as HAProxy.
    pub redispatched: bool,
    /// %rt: the connection's number in the process (0 unless the format
    /// uses it).
    pub request_id: u64,
    /// %ID: the `unique-id-format` ID, if the frontend has one.
    pub unique_id: Option<std::sync::Arc<str>>,
    /// Made once connected (`option logasap`), not at the end.
    pub asap: bool,
}

impl Record {
    /// HAProxy's test for `dontlog-normal` and `log-separate-errors`: the
    /// connection ended on an error or timeout, or needed a retry or a
    /// redispatch.
    pub fn is_error(&self) -> bool {
        self.termination.cause != Cause::Normal || self.retries > 0 || self.redispatched
    }
}

/// %rt's counter: connections numbered in accept order, over the process
/// (only those of frontends whose format uses %rt take a number).
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Whether `fe` logs its connections: a line format and a target.
pub(crate) fn logs_connections(fe: &Frontend) -> bool {
    fe.tcplog && !fe.log.is_empty()
}

/// What a session notes on its way for its log line: when it passed each
/// step and what it tried. Plain fields set at accept and per connect
/// attempt, never per byte.
#[derive(Debug)]
pub(crate) struct Trace {
    pub accepted: Instant,
    /// Wall-clock accept time; only read when the frontend logs, so only
    /// taken then (UNIX_EPOCH otherwise).
    pub accept_date: SystemTime,
    /// The first connect attempt started (the queue, if any, is behind).
    pub connecting: Option<Instant>,
    pub connected: Option<Instant>,
    /// Connect attempts started.
    pub tries: u32,
    /// Some attempt went to another server than the one before.
    pub redispatched: bool,
    /// The server of the last attempt, and its address then.
    pub server: Option<usize>,
    pub server_addr: Option<SocketAddr>,
    /// The last attempt went to a unix socket (`server_addr` is 0.0.0.0:0).
    pub server_unix: bool,
    /// The local end of the last attempt's socket (%bi %bp), when the
    /// format shows it.
    pub backend_addr: Option<SocketAddr>,
    /// Why the session ended, once it is known.
    pub end: Option<Termination>,
    /// %rt, taken at accept when the format uses it.
    pub request_id: u64,
    /// The line went out at connect time (`option logasap`).
    pub logged_early: bool,
}

impl Trace {
    /// The trace of a connection `fe` accepted at `now`.
    pub(crate) fn new(now: Instant, fe: &Frontend) -> Trace {
        // A `unique-id-format` may use the date and number too.
        let ids = fe.unique_id_format.as_ref();
        let logged = logs_connections(fe) || ids.is_some();
        let numbered = (logs_connections(fe) && fe.log_line.format.needs_request_id)
            || ids.is_some_and(|f| f.needs_request_id);
        Trace {
            accepted: now,
            accept_date: if logged {
                SystemTime::now()
            } else {
                UNIX_EPOCH
            },
            connecting: None,
            connected: None,
            tries: 0,
            redispatched: false,
            server: None,
            server_addr: None,
            server_unix: false,
            backend_addr: None,
            end: None,
            request_id: if numbered {
                REQUESTS.fetch_add(1, Relaxed)
            } else {
                0
            },
            logged_early: false,
        }
    }

    /// A connect attempt to server `idx` at `addr` starts.
    pub(crate) fn attempt(&mut self, idx: usize, addr: SocketAddr, now: Instant) {
        self.connecting.get_or_insert(now);
        self.redispatched |= self.server.is_some_and(|s| s != idx);
        self.server = Some(idx);
        self.server_addr = Some(addr);
        self.backend_addr = None;
        self.tries += 1;
    }

    /// Tw, Tc and Tt at `now`, in milliseconds, -1 for a step not reached.
    pub(crate) fn timers(&self, now: Instant) -> (i64, i64, i64) {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let queue = self.connecting.map_or(-1, |c| ms(c - self.accepted));
        let connect = match (self.connecting, self.connected) {
            (Some(a), Some(b)) => ms(b - a),
            _ => -1,
        };
        (
            queue,
            connect,
            ms(now.saturating_duration_since(self.accepted)),
        )
    }
}

#[cfg(test)]
impl Record {
    /// A finished normal connection of `config`'s first frontend, backend
    /// and server, accepted at 2026-11-24 12:01:02.123 UTC.
    pub(crate) fn example(config: Arc<Config>) -> Record {
        Record {
            config,
            client: "127.0.0.1:50114".parse().unwrap(),
            client_unix: None,
            frontend_addr: None,
            backend_addr: None,
            server_addr: Some("127.0.0.1:2".parse().unwrap()),
            server_unix: false,
            accepted: UNIX_EPOCH + Duration::from_millis(1_795_521_662_123),
            frontend: 0,
            backend: 0,
            server: Some(0),
            queue_ms: 0,
            connect_ms: 1,
            total_ms: 5003,
            bytes_read: 1234,
            bytes_uploaded: 56,
            termination: Termination::NORMAL,
            actconn: 1,
            feconn: 1,
            beconn: 1,
            srv_conn: 1,
            retries: 0,
            redispatched: false,
            request_id: 0,
            unique_id: None,
            asap: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frontend() -> Frontend {
        let args = crate::cli::Args {
            bind: vec!["127.0.0.1:1".into()],
            server: vec!["127.0.0.1:2".into()],
            ..Default::default()
        };
        Config::from_args(&args).unwrap().frontends.remove(0)
    }

    #[test]
    fn trace_timers_and_redispatch() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut t = Trace::new(t0, &frontend());
        assert_eq!(t.timers(at(7)), (-1, -1, 7));
        let a = "127.0.0.1:2".parse().unwrap();
        let b = "127.0.0.1:3".parse().unwrap();
        t.attempt(0, a, at(20));
        t.attempt(0, a, at(30));
        assert!(!t.redispatched);
        t.attempt(1, b, at(40));
        t.connected = Some(at(45));
        assert_eq!((t.tries, t.redispatched, t.server), (3, true, Some(1)));
        assert_eq!(t.server_addr, Some(b));
        assert_eq!(t.timers(at(100)), (20, 25, 100));
    }

    #[test]
    fn termination_letters() {
        let cases = [
            (Cause::Normal, Phase::Done, "--"),
            (Cause::ClientAbort, Phase::Data, "CD"),
            (Cause::ServerAbort, Phase::Data, "SD"),
            (Cause::ClientTimeout, Phase::Data, "cD"),
            (Cause::ServerTimeout, Phase::Data, "sD"),
            (Cause::ServerAbort, Phase::Connect, "SC"),
            (Cause::ServerTimeout, Phase::Connect, "sC"),
            (Cause::ClientAbort, Phase::Connect, "CC"),
            (Cause::ClientAbort, Phase::Queue, "CQ"),
            (Cause::ServerTimeout, Phase::Queue, "sQ"),
            (Cause::Resource, Phase::Connect, "RC"),
            (Cause::Proxy, Phase::Request, "PR"),
            (Cause::Down, Phase::Data, "DD"),
            (Cause::Killed, Phase::Data, "KD"),
        ];
        for (cause, phase, text) in cases {
            assert_eq!(Termination::new(cause, phase).to_string(), text);
        }
    }
}
