//! The forward stage: both pumps, FIN passing, HAProxy's per-side
//! inactivity timeouts, and the replay of `retry-on empty-response`.

use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::{Ctx, Forwarding, Next, Session, State, Step};
use crate::backend::Server;
use crate::config::{Backend, Frontend};
use crate::logs::tcplog::{Cause, Phase, Termination};
use crate::proxy::pump::{Failed, Moved, Pump};
use crate::shared::FrontendStats;

/// Which peer's socket failed while the pumps ran.
#[derive(Debug)]
enum Broken {
    Client(io::Error),
    Server(io::Error),
}

impl Session {
    /// In Forwarding: when each side's read and write timeouts strike, as
    /// HAProxy runs them (see the README's timeout rules). A side's clock
    /// for reading restarts with every byte read from or written to it; its
    /// clock for writing starts when bytes owed to it stop moving.
    pub(super) fn idle_deadlines(
        &self,
        fe: &Frontend,
        be: &Backend,
        f: &Forwarding,
    ) -> IdleDeadlines {
        let (up, down) = (&f.up, &f.down);
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
    pub(super) fn idle_timeout(&mut self, ctx: &mut Ctx<'_>, mut f: Box<Forwarding>) -> Step {
        let fe = &ctx.shared.config.frontends[self.frontend];
        let be = &ctx.shared.config.backends[self.backend];
        let due = self.idle_deadlines(fe, be, &f).due(ctx.now);
        let stats = &f.guard.server().stats;
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
            return self.end(State::Forwarding(f), cause, Phase::Data);
        }
        if due.client_read {
            f.up.stop_reading();
        }
        if due.server_read {
            f.down.stop_reading();
        }
        if due.client_read || due.server_read {
            self.note_end(Termination::new(cause, Phase::Data));
        }
        self.forward(ctx, f)
    }

    /// Entered in Forwarding when the server hung up (FIN or reset) before
    /// sending a byte, while the journal still holds all the client sent:
    /// a failed attempt, after which another server gets the same bytes.
    /// Leaves to a failed attempt.
    fn replay(&mut self, ctx: &mut Ctx<'_>, f: Box<Forwarding>, err: io::Error) -> Step {
        let Forwarding {
            server,
            mut up,
            mut down,
            idx,
            attempts,
            ..
        } = *f;
        let journal = up.take_journal();
        up.release(ctx.pools);
        down.release(ctx.pools);
        // Nothing of this connection should linger on the server.
        let _ = SockRef::from(&server.stream).set_linger(Some(Duration::ZERO));
        drop(server);
        self.replay = journal;
        Step::Failed {
            failed: idx,
            attempts,
            err,
            // Out of retries: the server hung up in the data phase, before
            // its first byte.
            out: Termination::new(Cause::ServerAbort, Phase::Data),
        }
    }

    /// Entered in Forwarding: runs both pumps; leaves to a close once both
    /// FINs have been passed on, to an abort when a socket fails, or to a
    /// replay (`retry-on empty-response`).
    pub(super) fn forward(&mut self, ctx: &mut Ctx<'_>, mut f: Box<Forwarding>) -> Step {
        let moved = match f.up.run(&mut self.client, &mut f.server, ctx.pools) {
            Err(Failed::Source(e)) => Err(Broken::Client(e)),
            Err(Failed::Destination(e)) => Err(Broken::Server(e)),
            Ok(u) => match f.down.run(&mut f.server, &mut self.client, ctx.pools) {
                Err(Failed::Source(e)) => Err(Broken::Server(e)),
                Err(Failed::Destination(e)) => Err(Broken::Client(e)),
                Ok(d) => Ok((u, d)),
            },
        };
        // The server said nothing yet, and the journal holds all the client
        // said: the server can still be replaced.
        let replayable = f.up.journaled() && !f.down.heard();
        let (u, d) = match moved {
            Ok(m) => m,
            Err(Broken::Server(e)) if replayable => return self.replay(ctx, f, e),
            Err(broken) => return self.broken(f, broken),
        };
        if replayable && f.down.eof() && !f.up.eof() {
            let e = io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "server closed before answering",
            );
            return self.replay(ctx, f, e);
        }
        if f.up.journaled() && f.down.heard() {
            f.up.forget();
        }
        count_bytes(f.guard.server(), self.admission.frontend(), u, d);
        f.up.track_blocking(u.written, ctx.now);
        f.down.track_blocking(d.written, ctx.now);
        if u.read + d.written > 0 {
            self.client_seen = ctx.now;
        }
        if d.read + u.written > 0 {
            self.server_seen = ctx.now;
        }
        // Both FINs in: close(2) will pass them on, no shutdown needed.
        let closing = (f.up.done() || f.up.fin_owed()) && (f.down.done() || f.down.fin_owed());
        if f.up.fin_owed() {
            f.up.pass_fin(&f.server, closing);
        }
        if f.down.fin_owed() {
            f.down.pass_fin(&self.client, closing);
        }
        let next = if closing {
            self.note_end(Termination::NORMAL);
            Next::Close
        } else if u.more || d.more {
            Next::Again
        } else {
            Next::Wait
        };
        Step::Stay(State::Forwarding(f), next)
    }

    /// A socket failed mid-stream: counted as that side's abort; the
    /// session is aborted, so the other peer sees a reset too.
    fn broken(&mut self, f: Box<Forwarding>, broken: Broken) -> Step {
        let stats = &f.guard.server().stats;
        let (e, aborts, cause) = match &broken {
            Broken::Server(e) => (e, &stats.srv_aborts, Cause::ServerAbort),
            Broken::Client(e) => (e, &stats.cli_aborts, Cause::ClientAbort),
        };
        log::debug!("client {}: connection aborted: {e}", self.peer.ip());
        aborts.fetch_add(1, Relaxed);
        self.end(State::Forwarding(f), cause, Phase::Data)
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{IdleDeadlines, idle_timeouts};
    use crate::config::Config;

    fn conf(defaults: &str) -> Config {
        let text = format!(
            "defaults\n{defaults}\nfrontend fe\n    bind 127.0.0.1:1\n    default_backend be\nbackend be\n    server s 127.0.0.1:2\n"
        );
        Config::from_text("t.conf", text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn timeouts(c: &Config, client_half: bool, server_half: bool) -> (Option<u64>, Option<u64>) {
        let (c, s) = idle_timeouts(&c.frontends[0], &c.backends[0], client_half, server_half);
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
        (ms(c), ms(s))
    }

    #[test]
    fn each_side_runs_its_own_timeout_and_fin_timeout_once_half_closed() {
        let c = conf(
            "    timeout client 1s\n    timeout server 5s\n    timeout client-fin 200ms\n    timeout server-fin 300ms",
        );
        assert_eq!(timeouts(&c, false, false), (Some(1000), Some(5000)));
        assert_eq!(timeouts(&c, true, false), (Some(200), Some(5000)));
        assert_eq!(timeouts(&c, false, true), (Some(1000), Some(300)));
        assert_eq!(timeouts(&c, true, true), (Some(200), Some(300)));
    }

    #[test]
    fn tunnel_replaces_both_sides_and_fin_timeouts_replace_the_tunnel() {
        let c = conf(
            "    timeout client 1s\n    timeout server 5s\n    timeout tunnel 1h\n    timeout server-fin 300ms",
        );
        assert_eq!(
            timeouts(&c, false, false),
            (Some(3_600_000), Some(3_600_000))
        );
        assert_eq!(timeouts(&c, true, true), (Some(3_600_000), Some(300)));
        let none = conf("    timeout connect 1s");
        assert_eq!(
            timeouts(&none, true, true),
            (None, None),
            "no timeout: none"
        );
    }

    #[test]
    fn the_earliest_deadline_strikes_and_only_what_passed_is_due() {
        let t0 = Instant::now();
        let at = |ms| Some(t0 + Duration::from_millis(ms));
        let d = IdleDeadlines {
            client_read: at(300),
            client_write: None,
            server_read: at(100),
            server_write: at(200),
        };
        assert_eq!(d.earliest(), at(100));
        let due = d.due(t0 + Duration::from_millis(200));
        assert!(due.server_read && due.server_write);
        assert!(!due.client_read && !due.client_write);
        assert_eq!(IdleDeadlines::default().earliest(), None);
    }
}
