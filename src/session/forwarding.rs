//! The forward stage: both pumps, FIN passing, HAProxy's per-side
//! inactivity timeouts, and the replay of `retry-on empty-response`.

use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::{Ctx, Next, Session, State};
use crate::backend::Server;
use crate::config::{Backend, Frontend};
use crate::forward::{Failed, Moved, Pump};
use crate::shared::FrontendStats;
use crate::tcplog::{Cause, Phase, Termination};

impl Session {
    /// In Forwarding: when each side's read and write timeouts strike, as
    /// HAProxy runs them (see the README's timeout rules). A side's clock
    /// for reading restarts with every byte read from or written to it; its
    /// clock for writing starts when bytes owed to it stop moving.
    pub(super) fn idle_deadlines(&self, fe: &Frontend, be: &Backend) -> IdleDeadlines {
        let State::Forwarding { up, down, .. } = &self.state else {
            return IdleDeadlines::default();
        };
        // A side is half-closed once it sent its FIN or was passed one.
        let client_half_closed = up.eof() || down.done();
        let server_half_closed = down.eof() || up.done();
        let (client, server) = idle_timeouts(fe, be, client_half_closed, server_half_closed);
        let read = |t: Option<Duration>, pump: &Pump, seen: Instant| {
            t.filter(|_| pump.reading()).map(|t| seen + t)
        };
        let write =
            |t: Option<Duration>, pump: &Pump| t.and_then(|t| pump.blocked_since().map(|b| b + t));
        IdleDeadlines {
            client_read: read(client, up, self.client_seen),
            client_write: write(client, down),
            server_read: read(server, down, self.server_seen),
            server_write: write(server, up),
        }
    }

    /// Entered in Forwarding when an idle deadline passed. A write timeout
    /// cuts bytes owed to that side: the session is aborted and both peers
    /// see a reset. A read timeout gives up reading that side: its
    /// direction passes a FIN on and the other direction carries on under
    /// its own timeouts. Leaves to Forwarding, a close or an abort.
    pub(super) fn idle_timeout(&mut self, ctx: &mut Ctx<'_>) -> Next {
        let fe = &ctx.shared.config.frontends[self.frontend];
        let be = &ctx.shared.config.backends[self.backend];
        let due = self.idle_deadlines(fe, be).due(ctx.now);
        let State::Forwarding {
            up, down, guard, ..
        } = &mut self.state
        else {
            return Next::Wait;
        };
        let stats = &guard.server().stats;
        // HAProxy counts a timeout as an abort of the side it struck.
        if due.client_read || due.client_write {
            stats.cli_aborts.fetch_add(1, Relaxed);
        }
        if due.server_read || due.server_write {
            stats.srv_aborts.fetch_add(1, Relaxed);
        }
        let client_first = due.client_write || (due.client_read && !due.server_write);
        let cause = if client_first {
            Cause::ClientTimeout
        } else {
            Cause::ServerTimeout
        };
        if due.client_write || due.server_write {
            log::debug!("client {}: bytes owed cut by a timeout", self.peer.ip());
            return self.end(cause, Phase::Data);
        }
        if due.client_read {
            up.stop_reading();
        }
        if due.server_read {
            down.stop_reading();
        }
        if due.client_read || due.server_read {
            self.note_end(Termination::new(cause, Phase::Data));
        }
        self.forward(ctx)
    }

    /// Entered in Forwarding when the server hung up (FIN or reset) before
    /// sending a byte, while the journal still holds all the client sent:
    /// counts a failure against the server and, while retries last, gives
    /// the client to another server with the same bytes. Leaves to
    /// Connecting, Queued or a close.
    pub(super) fn replay(&mut self, ctx: &mut Ctx<'_>, err: io::Error) -> Next {
        let State::Forwarding {
            server,
            mut up,
            mut down,
            idx,
            attempts,
            ..
        } = std::mem::replace(&mut self.state, State::Moving)
        else {
            unreachable!("replay() is only called in Forwarding")
        };
        let journal = up.take_journal();
        up.release(ctx.pools);
        down.release(ctx.pools);
        // Nothing of this connection should linger on the server.
        let _ = SockRef::from(&server.stream).set_linger(Some(Duration::ZERO));
        drop(server);
        // Out of retries: the server hung up in the data phase, before its
        // first byte.
        let out = Termination::new(Cause::ServerAbort, Phase::Data);
        self.replay = journal;
        self.retry(ctx, idx, attempts, err, out)
    }

    /// Entered in Forwarding: runs both pumps; leaves to a close once both
    /// FINs have been passed on, or to an abort when a socket fails.
    pub(super) fn forward(&mut self, ctx: &mut Ctx<'_>) -> Next {
        let State::Forwarding {
            server,
            guard,
            up,
            down,
            ..
        } = &mut self.state
        else {
            return Next::Wait;
        };
        // Err(true) when the server's socket failed.
        let moved = match up.run(&mut self.client, server, ctx.pools) {
            Err(f) => Err((matches!(f, Failed::Destination(_)), f)),
            Ok(u) => match down.run(server, &mut self.client, ctx.pools) {
                Err(f) => Err((matches!(f, Failed::Source(_)), f)),
                Ok(d) => Ok((u, d)),
            },
        };
        // The server said nothing yet, and the journal holds all the client
        // said: the server can still be replaced.
        let replayable = up.journaled() && !down.heard();
        let (u, d) = match moved {
            Ok(m) => m,
            Err((true, Failed::Source(e) | Failed::Destination(e))) if replayable => {
                return self.replay(ctx, e);
            }
            Err((server_side, f)) => {
                log::debug!("client {}: connection aborted: {f}", self.peer.ip());
                let stats = &guard.server().stats;
                let (aborts, cause) = if server_side {
                    (&stats.srv_aborts, Cause::ServerAbort)
                } else {
                    (&stats.cli_aborts, Cause::ClientAbort)
                };
                aborts.fetch_add(1, Relaxed);
                self.note_end(Termination::new(cause, Phase::Data));
                return Next::Abort;
            }
        };
        if replayable && down.eof() && !up.eof() {
            let e = io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "server closed before answering",
            );
            return self.replay(ctx, e);
        }
        if up.journaled() && down.heard() {
            up.forget();
        }
        count_bytes(guard.server(), self.admission.frontend(), u, d);
        up.track_blocking(u.written, ctx.now);
        down.track_blocking(d.written, ctx.now);
        if u.read + d.written > 0 {
            self.client_seen = ctx.now;
        }
        if d.read + u.written > 0 {
            self.server_seen = ctx.now;
        }
        // Both FINs in: close(2) will pass them on, no shutdown needed.
        let closing = (up.done() || up.fin_owed()) && (down.done() || down.fin_owed());
        if up.fin_owed() {
            up.pass_fin(server, closing);
        }
        if down.fin_owed() {
            down.pass_fin(&self.client, closing);
        }
        if closing {
            self.note_end(Termination::NORMAL);
            Next::Close
        } else if u.more || d.more {
            Next::Again
        } else {
            Next::Wait
        }
    }
}

/// Client-side and server-side inactivity timeouts of a connected session:
/// `timeout tunnel` replaces both once connected; a side that is
/// half-closed (it sent its FIN, or was passed one) runs `timeout
/// client-fin` / `server-fin` instead, where set (HAProxy's rules).
pub(super) fn idle_timeouts(
    fe: &Frontend,
    be: &Backend,
    client_half_closed: bool,
    server_half_closed: bool,
) -> (Option<Duration>, Option<Duration>) {
    let client = be.timeout_tunnel.or(fe.timeout_client);
    let server = be.timeout_tunnel.or(be.timeout_server);
    (
        fe.timeout_client_fin
            .filter(|_| client_half_closed)
            .or(client),
        be.timeout_server_fin
            .filter(|_| server_half_closed)
            .or(server),
    )
}

/// A forwarding session's four inactivity deadlines; `None` where that
/// timeout is not set or does not apply now.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct IdleDeadlines {
    /// Waiting for the client to send.
    client_read: Option<Instant>,
    /// Bytes owed to the client wait for it to read.
    client_write: Option<Instant>,
    server_read: Option<Instant>,
    server_write: Option<Instant>,
}

/// Which of the [`IdleDeadlines`] have passed.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct IdleDue {
    client_read: bool,
    client_write: bool,
    server_read: bool,
    server_write: bool,
}

impl IdleDeadlines {
    pub(super) fn earliest(self) -> Option<Instant> {
        [
            self.client_read,
            self.client_write,
            self.server_read,
            self.server_write,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(super) fn due(self, now: Instant) -> IdleDue {
        let past = |d: Option<Instant>| d.is_some_and(|d| d <= now);
        IdleDue {
            client_read: past(self.client_read),
            client_write: past(self.client_write),
            server_read: past(self.server_read),
            server_write: past(self.server_write),
        }
    }
}

pub(super) fn count_bytes(server: &Server, frontend: &FrontendStats, up: Moved, down: Moved) {
    if up.written > 0 {
        server.stats.bytes_in.fetch_add(up.written as u64, Relaxed);
        frontend.bytes_in.fetch_add(up.written as u64, Relaxed);
    }
    if down.written > 0 {
        let n = down.written as u64;
        server.stats.bytes_out.fetch_add(n, Relaxed);
        frontend.bytes_out.fetch_add(n, Relaxed);
    }
}
