//! The close stage's log record (and, with `option logasap`, the connect
//! stage's; in HAProxy's default format, the accept line): the session's
//! trace, counts and addresses, handed to the logger thread. Which connections are logged is decided here, on the
//! worker: `option dontlognull`, `option dontlog-normal`.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use crate::proxy::stream::Stream;

use super::{Session, State};
use crate::logs::connect::{Connect, logs_connects};
use crate::logs::tcplog::{Cause, Record, Termination};
use crate::shared::Shared;

impl Session {
    /// HAProxy's default format (a target, no `option tcplog` nor
    /// `log-format`): the line goes out as the connection is accepted.
    /// Only then is getsockname called: the line shows the local address.
    pub(super) fn log_accepted(&self, shared: &Shared) {
        if !logs_connects(&shared.config.frontends[self.frontend]) {
            return;
        }
        shared.log_connect(Connect {
            config: Arc::clone(&shared.config),
            frontend: self.frontend,
            client: self.peer,
            local: self.dst(),
            unix_bind: self.unix_bind,
        });
    }

    /// Hands the connection's record to the logger thread at its end,
    /// unless it went out at connect time, or `option dontlognull` or
    /// `option dontlog-normal` applies. Counts are read before the session
    /// gives back its slots, so they include it.
    pub(super) fn log(&self, shared: &Shared, now: Instant) {
        if self.trace.logged_early {
            return;
        }
        let fe = &shared.config.frontends[self.frontend];
        let (sent, received) = match &self.state {
            State::Forwarding(f) => (f.up.total, f.down.total),
            _ => (0, 0),
        };
        if fe.dontlognull && sent == 0 {
            return;
        }
        let termination = self.trace.end.unwrap_or_else(|| {
            // Every handler records why it ends the session.
            debug_assert!(false, "session ended without a termination state");
            Termination::new(Cause::Internal, self.phase())
        });
        let mut record = self.record(shared, now, termination);
        (record.bytes_uploaded, record.bytes_read) = (sent, received);
        if fe.log_line.dontlog_normal && !record.is_error() {
            return;
        }
        shared.log_connection(record);
    }

    /// `option logasap`: the line goes out as soon as the server accepted,
    /// with what is known then; HAProxy's `+` marks the byte
    /// count and the total time as partial. Under `dontlog-normal` a
    /// connection without a retry waits for its end instead, and is logged
    /// then if it ends on an error.
    pub(super) fn log_connected(&mut self, shared: &Shared, now: Instant) {
        let fe = &shared.config.frontends[self.frontend];
        // Once: a `retry-on empty-response` replay connects again.
        if !self.logged || !fe.log_line.logasap || self.trace.logged_early {
            return;
        }
        let mut record = self.record(shared, now, Termination::NORMAL);
        record.asap = true;
        if fe.log_line.dontlog_normal && !record.is_error() {
            return;
        }
        self.trace.logged_early = true;
        shared.log_connection(record);
    }

    /// %bi %bp: the local end of a server socket whose connect started
    /// (the kernel picked its port then), for a format that shows it, as
    /// HAProxy shows it even when the connect then fails.
    pub(super) fn note_backend_addr(&mut self, shared: &Shared, stream: &Stream) {
        let format = &shared.config.frontends[self.frontend].log_line.format;
        if self.logged && format.needs_backend_addr {
            self.trace.backend_addr = stream.local_addr();
        }
    }

    /// The record at `now`, byte counts left at 0.
    fn record(&self, shared: &Shared, now: Instant, termination: Termination) -> Record {
        let format = &shared.config.frontends[self.frontend].log_line.format;
        let (queue_ms, connect_ms, total_ms) = self.trace.timers(now);
        // None before the route (a client refused by a content rule).
        let servers = shared.servers.get(self.backend);
        Record {
            config: Arc::clone(&shared.config),
            client: self.peer,
            client_unix: self.unix_bind,
            // getsockname, only for a format that shows it.
            frontend_addr: format.needs_frontend_addr.then(|| self.dst()).flatten(),
            backend_addr: self.trace.backend_addr,
            server_addr: self.trace.server_addr,
            server_unix: self.trace.server_unix,
            accepted: self.trace.accept_date,
            frontend: self.frontend,
            backend: self.backend,
            server: self.trace.server,
            queue_ms,
            connect_ms,
            total_ms,
            bytes_read: 0,
            bytes_uploaded: 0,
            termination,
            actconn: shared.process.global.cur.load(Relaxed),
            feconn: shared.frontends[self.frontend].cur.load(Relaxed),
            beconn: shared
                .backends
                .get(self.backend)
                .map_or(0, |b| b.cur.load(Relaxed) as u64),
            srv_conn: self
                .trace
                .server
                .and_then(|i| servers?.get(i))
                .map_or(0, |s| s.cur()),
            retries: self.trace.tries.saturating_sub(1),
            redispatched: self.trace.redispatched,
            request_id: self.trace.request_id,
            asap: false,
        }
    }
}
