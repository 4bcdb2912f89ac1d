//! One proxied connection: the client socket, the server it was given, and
//! the state machine between accept and close.
//!
//! ```text
//!   accept -> pick -> Connecting --connected--> Forwarding --both FINs--> closed
//!              |  ^       |  (refused, timeout: retry on another server)
//!              v  |       v      ^            |
//!             Queued    closed   |            | retry-on empty-response: the server
//!                                +------------+ hung up before its first byte; pick
//!                                               another, replay the client's bytes
//! ```
//! Every handler says which state it is entered in and what it may leave to.
//! A handler returns a [`Next`] telling the worker what to do with the slot.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry};
use socket2::SockRef;

use crate::backend::{ConnGuard, Server};
use crate::balance::Balancer;
use crate::config::{Backend, Frontend};
use crate::connect::{self, Progress};
use crate::forward::{Failed, Moved, Pools, Pump, Side};
use crate::shared::{Admission, FrontendStats, Shared};
use crate::slab::Key;
use crate::tcplog::{Cause, Phase, Record, Termination, Trace};
use crate::token::{self, Peer};

/// What the worker does with a session after a handler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait for the next event or deadline.
    Wait,
    /// Bytes may still move: run the session again on the next turn.
    Again,
    /// Waiting for a server slot: retry when one may have freed.
    Queue,
    /// l4lb itself is out of fds, memory or local ports: wait like
    /// `Queue`, and the worker stops accepting for a while.
    Starved,
    /// Both directions finished cleanly: close both sockets.
    Close,
    /// A socket failed or a limit hit: close, passing an RST to live peers.
    Abort,
}

/// Readiness reported by one event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ready {
    pub readable: bool,
    pub writable: bool,
    /// The peer sent its FIN (or the socket failed).
    pub read_closed: bool,
    /// The socket failed (a reset).
    pub error: bool,
}

/// What a session borrows from its worker while a handler runs.
pub struct Ctx<'a> {
    pub registry: &'a Registry,
    pub pools: &'a mut Pools,
    pub shared: &'a Shared,
    pub balancers: &'a mut [Balancer],
    pub now: Instant,
}

#[derive(Debug)]
enum State {
    /// Every usable server is at its maxconn (or, `starved`, l4lb could
    /// not open a socket); waiting for a slot.
    Queued {
        since: Instant,
        avoid: Option<usize>,
        attempts: u32,
        starved: bool,
    },
    /// Non-blocking connect in progress to `servers[idx]`.
    Connecting {
        server: Side,
        guard: ConnGuard,
        idx: usize,
        since: Instant,
        attempts: u32,
    },
    /// Connected: bytes flow both ways until both FINs have been passed on.
    Forwarding {
        server: Side,
        guard: ConnGuard,
        up: Pump,
        down: Pump,
        idx: usize,
        attempts: u32,
    },
    /// Left by a handler that is replacing the state.
    Moving,
}

#[derive(Debug)]
pub struct Session {
    key: Key,
    frontend: usize,
    backend: usize,
    peer: SocketAddr,
    client: Side,
    state: State,
    splice: bool,
    /// Last time bytes moved from or to each side (inactivity timeouts).
    client_seen: Instant,
    server_seen: Instant,
    /// Instant of this session's live timer entry, if any.
    pub armed: Option<Instant>,
    /// `retry-on empty-response`: what the client sent a server that hung
    /// up without answering, for the next one.
    replay: Option<Vec<u8>>,
    /// Times, attempts and end reason, for the connection log.
    trace: Trace,
    /// The frontend logs connections (`option tcplog` with a target).
    logged: bool,
    _admission: Admission,
}

impl Session {
    /// Entered for a freshly accepted client; leaves to Connecting, Queued
    /// or a close.
    pub fn start(
        ctx: &mut Ctx<'_>,
        key: Key,
        mut stream: TcpStream,
        peer: SocketAddr,
        frontend: usize,
        admission: Admission,
    ) -> (Session, Next) {
        let fe = &ctx.shared.config.frontends[frontend];
        let be = &ctx.shared.config.backends[fe.backend];
        // TCP_NODELAY and SO_KEEPALIVE come from the listener (inherited).
        let registered = ctx.registry.register(
            &mut stream,
            token::session(key, Peer::Client),
            Interest::READABLE | Interest::WRITABLE,
        );
        let logged = fe.tcplog && !fe.log.is_empty();
        let mut s = Session {
            key,
            frontend,
            backend: fe.backend,
            peer,
            client: Side::new(stream),
            state: State::Moving,
            splice: fe.splice_auto && be.splice_auto,
            client_seen: ctx.now,
            server_seen: ctx.now,
            armed: None,
            replay: None,
            trace: Trace::new(ctx.now, logged),
            logged,
            _admission: admission,
        };
        if let Err(e) = registered {
            log::warn!("cannot register client {peer}: {e}");
            let next = s.end(Cause::Resource, Phase::Connect);
            return (s, next);
        }
        let next = s.connect_next(ctx, None, 0);
        (s, next)
    }

    /// Dispatches one readiness event for one of the session's sockets.
    pub fn on_event(&mut self, ctx: &mut Ctx<'_>, peer: Peer, ready: Ready) -> Next {
        let side = match (peer, &mut self.state) {
            (Peer::Client, _) => Some(&mut self.client),
            (Peer::Server, State::Connecting { server, .. } | State::Forwarding { server, .. }) => {
                Some(server)
            }
            _ => None,
        };
        if let Some(side) = side {
            side.readable |= ready.readable;
            side.writable |= ready.writable;
            side.read_closed |= ready.read_closed;
        }
        match (&self.state, peer) {
            // No byte of the client is read before a server is connected;
            // a reset is all there is to notice: no server for nobody.
            (State::Queued { .. }, Peer::Client) if ready.error => {
                self.end(Cause::ClientAbort, Phase::Queue)
            }
            (State::Connecting { .. }, Peer::Client) if ready.error => {
                self.end(Cause::ClientAbort, Phase::Connect)
            }
            (State::Connecting { .. }, Peer::Server) => self.check_connect(ctx),
            (State::Forwarding { .. }, _) => self.forward(ctx),
            _ => Next::Wait,
        }
    }

    /// Runs the pumps again after a handler returned [`Next::Again`].
    pub fn resume(&mut self, ctx: &mut Ctx<'_>) -> Next {
        match self.state {
            State::Forwarding { .. } => self.forward(ctx),
            _ => Next::Wait,
        }
    }

    /// Entered in Queued when a server slot may have freed; leaves to
    /// Connecting, Queued again, or a close.
    pub fn retry_queued(&mut self, ctx: &mut Ctx<'_>) -> Next {
        match std::mem::replace(&mut self.state, State::Moving) {
            State::Queued {
                avoid,
                attempts,
                since,
                ..
            } => {
                let next = self.connect_next(ctx, avoid, attempts);
                if let State::Queued { since: s, .. } = &mut self.state {
                    *s = since;
                }
                next
            }
            other => {
                self.state = other;
                Next::Wait
            }
        }
    }

    /// The server this session is connected or connecting to.
    pub fn server(&self) -> Option<&Arc<Server>> {
        match &self.state {
            State::Connecting { guard, .. } | State::Forwarding { guard, .. } => {
                Some(guard.server())
            }
            _ => None,
        }
    }

    /// The configuration snapshot this session runs under: the one in force
    /// when it was accepted, until it ends, whatever reloads happen.
    pub fn shared(&self) -> &Arc<Shared> {
        self._admission.shared()
    }

    /// When the session's current state times out, absent further activity.
    pub fn deadline(&self) -> Option<Instant> {
        let shared = &**self.shared();
        let fe = &shared.config.frontends[self.frontend];
        let be = &shared.config.backends[self.backend];
        match &self.state {
            State::Queued { since, .. } => Some(*since + be.timeout_queue),
            State::Connecting { since, .. } => Some(*since + be.timeout_connect),
            State::Forwarding { .. } => self.idle_deadlines(fe, be).earliest(),
            State::Moving => None,
        }
    }

    /// In Forwarding: when each side's read and write timeouts strike, as
    /// HAProxy runs them (see the README's timeout rules). A side's clock
    /// for reading restarts with every byte read from or written to it; its
    /// clock for writing starts when bytes owed to it stop moving.
    fn idle_deadlines(&self, fe: &Frontend, be: &Backend) -> IdleDeadlines {
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

    /// Entered when the deadline passed: a connect timeout is a failed
    /// attempt (retry elsewhere); a queue or idle timeout closes.
    pub fn on_timeout(&mut self, ctx: &mut Ctx<'_>) -> Next {
        match self.state {
            State::Connecting { .. } => {
                let err = io::Error::new(io::ErrorKind::TimedOut, "timeout connect");
                self.connect_failed(ctx, err)
            }
            State::Queued { starved, .. } => {
                self._admission.frontend().rejected.fetch_add(1, Relaxed);
                if starved {
                    // HAProxy's `RC`: a local resource ran out.
                    log::info!(
                        "client {}: refused, l4lb had no fd, memory or local port for a server connection within timeout queue",
                        self.peer.ip()
                    );
                    return self.end(Cause::Resource, Phase::Connect);
                }
                log::debug!(
                    "client {}: no server slot within timeout queue",
                    self.peer.ip()
                );
                self.end(Cause::ServerTimeout, Phase::Queue)
            }
            State::Forwarding { .. } => self.idle_timeout(ctx),
            State::Moving => Next::Close,
        }
    }

    /// Entered in Forwarding when an idle deadline passed. A write timeout
    /// cuts bytes owed to that side: the session is aborted and both peers
    /// see a reset. A read timeout gives up reading that side: its
    /// direction passes a FIN on and the other direction carries on under
    /// its own timeouts. Leaves to Forwarding, a close or an abort.
    fn idle_timeout(&mut self, ctx: &mut Ctx<'_>) -> Next {
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

    /// Records why the session ends unless a reason is already recorded:
    /// the first one wins (a timeout logged `cD` stays `cD` when the rest
    /// of the answer is then delivered).
    fn note_end(&mut self, end: Termination) {
        self.trace.end.get_or_insert(end);
    }

    /// Records why the session ends, with the phase it is in: for the
    /// worker's own reasons (a DOWN server's sessions, a stop).
    pub fn kill(&mut self, cause: Cause) {
        let phase = self.phase();
        self.trace.end = Some(Termination::new(cause, phase));
    }

    /// The termination phase of the current state.
    fn phase(&self) -> Phase {
        match self.state {
            State::Queued { .. } => Phase::Queue,
            State::Connecting { .. } | State::Moving => Phase::Connect,
            State::Forwarding { .. } => Phase::Data,
        }
    }

    /// Records an abnormal end and returns the verdict that applies it.
    fn end(&mut self, cause: Cause, phase: Phase) -> Next {
        self.note_end(Termination::new(cause, phase));
        Next::Abort
    }

    /// Ends the session: logs it, gives back pipes and buffers, and with
    /// `abort` makes both sockets close with an RST (SO_LINGER 0), so a
    /// truncation is never mistaken for a clean end. Dropping the session
    /// closes them.
    pub fn finish(mut self, pools: &mut Pools, now: Instant, abort: bool) {
        if self.logged {
            self.log(self.shared(), now);
        }
        let server = match &mut self.state {
            State::Forwarding {
                server, up, down, ..
            } => {
                up.release(pools);
                down.release(pools);
                Some(&server.stream)
            }
            State::Connecting { server, .. } => Some(&server.stream),
            _ => None,
        };
        if abort {
            for stream in server.into_iter().chain([&self.client.stream]) {
                let _ = SockRef::from(stream).set_linger(Some(Duration::ZERO));
            }
        }
    }

    /// Hands the connection's record to the logger thread, unless
    /// `option dontlognull` applies. Counts are read before the session
    /// gives back its slots, so they include it.
    fn log(&self, shared: &Shared, now: Instant) {
        let fe = &shared.config.frontends[self.frontend];
        let (sent, received) = match &self.state {
            State::Forwarding { up, down, .. } => (up.total, down.total),
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

    /// Picks a server and starts connecting. Entered from start, Queued or a
    /// failed attempt; leaves to Connecting, Queued, or a close.
    fn connect_next(
        &mut self,
        ctx: &mut Ctx<'_>,
        mut avoid: Option<usize>,
        mut attempts: u32,
    ) -> Next {
        let servers = &ctx.shared.servers[self.backend];
        let be = &ctx.shared.config.backends[self.backend];
        let balancer = &mut ctx.balancers[self.backend];
        // Each pass either returns or marks one more server as failed/full,
        // so this ends within the number of servers (plus slot races).
        for _ in 0..=servers.len() * 2 {
            // Redispatch: never the server that just failed, unless it is
            // the only one left.
            let client_ip = self.peer.ip();
            let pick = balancer
                .pick(servers, client_ip, avoid)
                .or_else(|| avoid.and_then(|_| balancer.pick(servers, client_ip, None)));
            let Some(idx) = pick else { break };
            if let Some(failed) = avoid.take_if(|&mut a| a != idx) {
                servers[failed].stats.redispatches.fetch_add(1, Relaxed);
            }
            let Some(guard) = ConnGuard::acquire(&servers[idx]) else {
                continue;
            };
            let opts = connect::Options {
                nodelay: true,
                keepalive: be.tcp_keepalive,
            };
            match connect::start(servers[idx].addr(), opts) {
                Err(e) if connect::local_shortage(&e) => {
                    return self.starve(ctx, &e, avoid, attempts);
                }
                Ok(mut stream) => {
                    self.trace.attempt(idx, ctx.now);
                    let tok = token::session(self.key, Peer::Server);
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if let Err(e) = ctx.registry.register(&mut stream, tok, interest) {
                        log::warn!("cannot register server socket: {e}");
                        return self.end(Cause::Resource, Phase::Connect);
                    }
                    let server = Side::new(stream);
                    self.state = State::Connecting {
                        server,
                        guard,
                        idx,
                        since: ctx.now,
                        attempts,
                    };
                    return Next::Wait;
                }
                Err(e) => {
                    self.trace.attempt(idx, ctx.now);
                    note_failure(ctx.shared, &servers[idx], &e);
                    attempts += 1;
                    if attempts > be.retries {
                        return self.end(connect_cause(&e), Phase::Connect);
                    }
                    servers[idx].stats.retries.fetch_add(1, Relaxed);
                    avoid = Some(idx);
                }
            }
        }
        if servers.iter().any(|s| s.in_service()) && attempts <= be.retries {
            self.state = State::Queued {
                since: ctx.now,
                avoid,
                attempts,
                starved: false,
            };
            return Next::Queue;
        }
        log::debug!(
            "client {}: no server available in backend {}",
            self.peer.ip(),
            be.name
        );
        self._admission.frontend().rejected.fetch_add(1, Relaxed);
        // HAProxy's `SC` with `<NOSRV>` (or the last server tried).
        self.end(Cause::ServerAbort, Phase::Connect)
    }

    /// Entered in Connecting on a server event: follows mio's recipe for a
    /// non-blocking connect (writable, then `take_error`, then `peer_addr`).
    /// Leaves to Forwarding, to another attempt, or stays.
    fn check_connect(&mut self, ctx: &mut Ctx<'_>) -> Next {
        let State::Connecting { server, .. } = &self.state else {
            return Next::Wait;
        };
        if !server.writable && !server.readable {
            return Next::Wait;
        }
        match connect::outcome(&server.stream) {
            Progress::Connected => self.connected(ctx),
            Progress::InProgress => Next::Wait,
            Progress::Failed(e) => self.connect_failed(ctx, e),
        }
    }

    /// Entered in Connecting once the server accepted; leaves to Forwarding.
    fn connected(&mut self, ctx: &mut Ctx<'_>) -> Next {
        let State::Connecting {
            server,
            guard,
            idx,
            attempts,
            ..
        } = std::mem::replace(&mut self.state, State::Moving)
        else {
            unreachable!("connected() is only called in Connecting")
        };
        guard.server().observe_success();
        self.trace.connected = Some(ctx.now);
        self.server_seen = ctx.now;
        self.client_seen = ctx.now;
        let up = match self.replay.take() {
            Some(journal) => Pump::replaying(journal, self.splice, ctx.pools),
            None if ctx.shared.config.backends[self.backend].retry_empty_response => {
                Pump::journaling(self.splice)
            }
            None => Pump::new(self.splice),
        };
        self.state = State::Forwarding {
            server,
            guard,
            up,
            down: Pump::new(self.splice),
            idx,
            attempts,
        };
        self.forward(ctx)
    }

    /// Entered in Forwarding when the server hung up (FIN or reset) before
    /// sending a byte, while the journal still holds all the client sent:
    /// counts a failure against the server and, while retries last, gives
    /// the client to another server with the same bytes. Leaves to
    /// Connecting, Queued or a close.
    fn replay(&mut self, ctx: &mut Ctx<'_>, err: io::Error) -> Next {
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

    /// A failed attempt on server `idx`: counts it and, while retries last,
    /// tries another server; else ends the session as `out`.
    fn retry(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        attempts: u32,
        err: io::Error,
        out: Termination,
    ) -> Next {
        if connect::local_shortage(&err) {
            return self.starve(ctx, &err, Some(idx), attempts);
        }
        let servers = &ctx.shared.servers[self.backend];
        note_failure(ctx.shared, &servers[idx], &err);
        if attempts + 1 > ctx.shared.config.backends[self.backend].retries {
            log::debug!(
                "client {}: retries exhausted, last error: {err}",
                self.peer.ip()
            );
            return self.end(out.cause, out.phase);
        }
        servers[idx].stats.retries.fetch_add(1, Relaxed);
        self.connect_next(ctx, Some(idx), attempts + 1)
    }

    /// l4lb ran out of fds, memory or local ports while connecting: not the
    /// server's fault, so nothing is counted against it and no retry is
    /// spent. The client waits in Queued (up to `timeout queue`) and is
    /// retried with the queue; the worker stops accepting for a while.
    fn starve(
        &mut self,
        ctx: &mut Ctx<'_>,
        err: &io::Error,
        avoid: Option<usize>,
        attempts: u32,
    ) -> Next {
        log::debug!(
            "client {}: cannot connect to a server, l4lb is short of resources: {err}",
            self.peer.ip()
        );
        let since = match self.state {
            State::Queued { since, .. } => since,
            _ => ctx.now,
        };
        self.state = State::Queued {
            since,
            avoid,
            attempts,
            starved: true,
        };
        Next::Starved
    }

    /// Entered in Connecting on a refused, reset or timed-out attempt:
    /// counts it against the server and retries elsewhere while retries last.
    fn connect_failed(&mut self, ctx: &mut Ctx<'_>, err: io::Error) -> Next {
        let State::Connecting { idx, attempts, .. } =
            std::mem::replace(&mut self.state, State::Moving)
        else {
            unreachable!("connect_failed() is only called in Connecting")
        };
        let out = Termination::new(connect_cause(&err), Phase::Connect);
        self.retry(ctx, idx, attempts, err, out)
    }

    /// Entered in Forwarding: runs both pumps; leaves to a close once both
    /// FINs have been passed on, or to an abort when a socket fails.
    fn forward(&mut self, ctx: &mut Ctx<'_>) -> Next {
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
        count_bytes(guard.server(), self._admission.frontend(), u, d);
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

/// What a failed connect says about who ended the session: a timeout is
/// the server side's (`sC`), a shortage of fds, memory or ports ours
/// (`RC`), anything else (refused, reset, unreachable) the server's (`SC`).
fn connect_cause(err: &io::Error) -> Cause {
    match err.raw_os_error() {
        _ if err.kind() == io::ErrorKind::TimedOut => Cause::ServerTimeout,
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EADDRNOTAVAIL) => {
            Cause::Resource
        }
        _ => Cause::ServerAbort,
    }
}

/// Client-side and server-side inactivity timeouts of a connected session:
/// `timeout tunnel` replaces both once connected; a side that is
/// half-closed (it sent its FIN, or was passed one) runs `timeout
/// client-fin` / `server-fin` instead, where set (HAProxy's rules).
fn idle_timeouts(
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
struct IdleDeadlines {
    /// Waiting for the client to send.
    client_read: Option<Instant>,
    /// Bytes owed to the client wait for it to read.
    client_write: Option<Instant>,
    server_read: Option<Instant>,
    server_write: Option<Instant>,
}

/// Which of the [`IdleDeadlines`] have passed.
#[derive(Debug, Default, Clone, Copy)]
struct IdleDue {
    client_read: bool,
    client_write: bool,
    server_read: bool,
    server_write: bool,
}

impl IdleDeadlines {
    fn earliest(self) -> Option<Instant> {
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

    fn due(self, now: Instant) -> IdleDue {
        let past = |d: Option<Instant>| d.is_some_and(|d| d <= now);
        IdleDue {
            client_read: past(self.client_read),
            client_write: past(self.client_write),
            server_read: past(self.server_read),
            server_write: past(self.server_write),
        }
    }
}

fn note_failure(shared: &Shared, server: &Arc<Server>, err: &io::Error) {
    server.stats.connect_failures.fetch_add(1, Relaxed);
    if server.observe_failure()
        && let Some(observer) = &shared.observer
    {
        observer.report(server);
    }
    log::debug!(
        "connect to {} ({}) failed: {err}",
        server.name,
        server.addr()
    );
}

fn count_bytes(server: &Server, frontend: &FrontendStats, up: Moved, down: Moved) {
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
