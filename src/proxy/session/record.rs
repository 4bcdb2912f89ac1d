//! The close stage's log record: the session's trace and counts, handed
//! to the logger thread.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::{Session, State};
use crate::logs::tcplog::{Cause, Record, Termination};
use crate::shared::Shared;

impl Session {
    /// Hands the connection's record to the logger thread, unless
    /// `option dontlognull` applies. Counts are read before the session
    /// gives back its slots, so they include it.
    pub(super) fn log(&self, shared: &Shared, now: Instant) {
        let fe = &shared.config.frontends[self.frontend];
        let (sent, received) = match &self.state {
            State::Forwarding(f) => (f.up.total, f.down.total),
            _ => (0, 0),
        };
        if fe.dontlognull && sent == 0 {
            return;
        }
        let (queue_ms, connect_ms, total_ms) = self.trace.timers(now);
        let servers = &shared.servers[self.backend];
        let record = Record {
            config: Arc::clone(&shared.config),
            client: self.peer,
            accepted: self.trace.accept_date,
            frontend: self.frontend,
            backend: self.backend,
            server: self.trace.server,
            queue_ms,
            connect_ms,
            total_ms,
            bytes_read: received,
            termination: self.trace.end.unwrap_or_else(|| {
                // Every handler records why it ends the session.
                debug_assert!(false, "session ended without a termination state");
                Termination::new(Cause::Internal, self.phase())
            }),
            actconn: shared.process.global.cur.load(Relaxed),
            feconn: shared.frontends[self.frontend].cur.load(Relaxed),
            beconn: shared.backends[self.backend].cur.load(Relaxed) as u64,
            srv_conn: self.trace.server.map_or(0, |i| servers[i].cur()),
            retries: self.trace.tries.saturating_sub(1),
            redispatched: self.trace.redispatched,
        };
        shared.log_connection(record);
    }
}
