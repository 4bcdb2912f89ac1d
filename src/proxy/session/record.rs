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
use crate::logs::format::{Env, write_line};
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
        if record.unique_id.is_none() {
            record.unique_id = unique_id_of(shared, &record);
        }
        shared.log_connection(record);
    }

    /// `unique-id-format`: makes the session's ID now if the frontend has a
    /// format and it is not made yet (a `proxy-v2-options unique-id` header
    /// needs it before the log line), and returns it.
    pub(super) fn unique_id(&mut self, shared: &Shared, now: Instant) -> Option<Arc<str>> {
        if self.unique_id.is_none() {
            let record = self.record(shared, now, Termination::NORMAL);
            self.unique_id = unique_id_of(shared, &record);
        }
        self.unique_id.clone()
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
        if record.unique_id.is_none() {
            record.unique_id = unique_id_of(shared, &record);
            self.unique_id.clone_from(&record.unique_id);
        }
        self.trace.logged_early = true;
        shared.log_connection(record);
    }

    /// %bi %bp: the local end of a server socket whose connect started
    /// (the kernel picked its port then), for a format that shows it, as
    /// HAProxy shows it even when the connect then fails.
    pub(super) fn note_backend_addr(&mut self, shared: &Shared, stream: &Stream) {
        let format = &shared.config.frontends[self.frontend].log_line.format;
        let ids = shared.config.frontends[self.frontend]
            .unique_id_format
            .as_ref();
        if (self.logged && format.needs_backend_addr) || ids.is_some_and(|f| f.needs_backend_addr) {
            self.trace.backend_addr = stream.local_addr();
        }
    }

    /// The record at `now`, byte counts left at 0.
    fn record(&self, shared: &Shared, now: Instant, termination: Termination) -> Record {
        let fe = &shared.config.frontends[self.frontend];
        let (format, ids) = (&fe.log_line.format, fe.unique_id_format.as_ref());
        let (queue_ms, connect_ms, total_ms) = self.trace.timers(now);
        // None before the route (a client refused by a content rule).
        let servers = shared.servers.get(self.backend);
        Record {
            config: Arc::clone(&shared.config),
            client: self.peer,
            client_unix: self.unix_bind,
            // getsockname, only for a format that shows it.
            frontend_addr: (format.needs_frontend_addr
                || ids.is_some_and(|f| f.needs_frontend_addr))
            .then(|| self.dst())
            .flatten(),
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
            unique_id: self.unique_id.clone(),
            asap: false,
        }
    }
}

/// The ID the frontend's `unique-id-format` makes of `record` (the
/// session as it stands), if it has one.
fn unique_id_of(shared: &Shared, record: &Record) -> Option<Arc<str>> {
    static HOSTNAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let format = shared.config.frontends[record.frontend]
        .unique_id_format
        .as_ref()?;
    let env = Env {
        pid: std::process::id(),
        hostname: HOSTNAME.get_or_init(crate::config::system_hostname),
        log_count: 0,
    };
    let mut id = String::new();
    write_line(&mut id, format, record, &env);
    // HAProxy's IDs are at most 128 bytes (its buffer's size), as the
    // PROXY protocol's UNIQUE_ID TLV.
    let mut end = id
        .len()
        .min(crate::wire::proxy_protocol::tlv::UNIQUE_ID_MAX);
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    id.truncate(end);
    Some(id.into())
}
