//! The connection log (`option tcplog`): what a session records when it
//! ends ([`Record`], a small plain struct a worker sends without
//! allocating), HAProxy's two-letter termination state, and the line itself
//! in HAProxy's TCP log format, written by the logger thread:
//!
//! ```text
//! %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq
//! 127.0.0.1:50114 [24/Nov/2026:12:01:02.123] quick quick/s1 0/1/5003 1234 -- 1/1/1/1/0 0/0
//! ```

use std::fmt::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::logs::date::LogDate;

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
            Cause::Down => 'D',
            Cause::Killed => 'K',
            Cause::Internal => 'I',
        };
        let phase = match self.phase {
            Phase::Done => '-',
            Phase::Queue => 'Q',
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
/// sending it costs no allocation. Counts are taken when the session ends,
/// before it gives back its own slots, so they include it (as HAProxy's).
#[derive(Debug, Clone)]
pub struct Record {
    /// The snapshot the session ran under: indexes below point into its
    /// configuration, whatever reloads came since.
    pub config: Arc<Config>,
    pub client: SocketAddr,
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
    /// Bytes from the server to the client (%B).
    pub bytes_read: u64,
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
    /// The server of the last attempt.
    pub server: Option<usize>,
    /// Why the session ended, once it is known.
    pub end: Option<Termination>,
}

impl Trace {
    pub(crate) fn new(now: Instant, logged: bool) -> Trace {
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
            end: None,
        }
    }

    /// A connect attempt to server `idx` starts.
    pub(crate) fn attempt(&mut self, idx: usize, now: Instant) {
        self.connecting.get_or_insert(now);
        self.redispatched |= self.server.is_some_and(|s| s != idx);
        self.server = Some(idx);
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

/// Writes `r` as one TCP log line (no newline).
pub(crate) fn write_line(out: &mut impl Write, r: &Record, config: &Config) -> fmt::Result {
    let frontend = config.frontends.get(r.frontend).map_or("-", |f| &f.name);
    let backend = config.backends.get(r.backend);
    let backend_name = backend.map_or("-", |b| &b.name);
    let server = r
        .server
        .and_then(|i| backend?.servers.get(i))
        .map_or("<NOSRV>", |s| &s.name);
    match r.client {
        SocketAddr::V4(a) => write!(out, "{}:{}", a.ip(), a.port())?,
        // %ci is the bare address, IPv6 included (no brackets), as HAProxy.
        SocketAddr::V6(a) => write!(out, "{}:{}", a.ip(), a.port())?,
    }
    out.write_str(" [")?;
    LogDate::local(r.accepted).write_log_date(out)?;
    let plus = if r.redispatched { "+" } else { "" };
    write!(
        out,
        "] {frontend} {backend_name}/{server} {}/{}/{} {} {} {}/{}/{}/{}/{plus}{} 0/0",
        r.queue_ms,
        r.connect_ms,
        r.total_ms,
        r.bytes_read,
        r.termination,
        r.actconn,
        r.feconn,
        r.beconn,
        r.srv_conn,
        r.retries
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// The quick-start proxy: frontend and backend `quick`, servers s1, s2.
    fn config() -> Config {
        let args = crate::cli::Args {
            bind: vec!["127.0.0.1:1".into()],
            server: vec!["127.0.0.1:2".into(), "127.0.0.1:3".into()],
            ..Default::default()
        };
        Config::from_args(&args).unwrap()
    }

    fn record() -> Record {
        Record {
            config: Arc::new(config()),
            client: "127.0.0.1:50114".parse().unwrap(),
            accepted: UNIX_EPOCH + Duration::from_millis(1_795_521_662_123),
            frontend: 0,
            backend: 0,
            server: Some(0),
            queue_ms: 0,
            connect_ms: 1,
            total_ms: 5003,
            bytes_read: 1234,
            termination: Termination::NORMAL,
            actconn: 1,
            feconn: 1,
            beconn: 1,
            srv_conn: 1,
            retries: 0,
            redispatched: false,
        }
    }

    fn line(r: &Record) -> String {
        let mut s = String::new();
        write_line(&mut s, r, &config()).unwrap();
        s
    }

    #[test]
    fn haproxy_tcp_log_line() {
        assert_eq!(
            line(&record()),
            "127.0.0.1:50114 [24/Nov/2026:12:01:02.123] quick quick/s1 0/1/5003 1234 -- 1/1/1/1/0 0/0"
        );
    }

    #[test]
    fn refused_with_retries_redispatched_and_no_server() {
        let mut r = record();
        r.server = Some(1);
        (r.connect_ms, r.bytes_read, r.retries, r.redispatched) = (-1, 0, 3, true);
        r.termination = Termination::new(Cause::ServerAbort, Phase::Connect);
        assert!(
            line(&r).ends_with("quick quick/s2 0/-1/5003 0 SC 1/1/1/1/+3 0/0"),
            "{}",
            line(&r)
        );
        r.server = None;
        assert!(line(&r).contains(" quick/<NOSRV> "), "{}", line(&r));
        r.client = "[::1]:4000".parse().unwrap();
        assert!(line(&r).starts_with("::1:4000 ["), "{}", line(&r));
    }

    #[test]
    fn trace_timers_and_redispatch() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut t = Trace::new(t0, false);
        assert_eq!(t.timers(at(7)), (-1, -1, 7));
        t.attempt(0, at(20));
        t.attempt(0, at(30));
        assert!(!t.redispatched);
        t.attempt(1, at(40));
        t.connected = Some(at(45));
        assert_eq!((t.tries, t.redispatched, t.server), (3, true, Some(1)));
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
            (Cause::Down, Phase::Data, "DD"),
            (Cause::Killed, Phase::Data, "KD"),
        ];
        for (cause, phase, text) in cases {
            assert_eq!(Termination::new(cause, phase).to_string(), text);
        }
    }
}
