//! One proxied connection, as a pipeline of stages (worker threads):
//! accept -> [PROXY header (`handshake.rs`)] -> [rules and inspect
//! (`inspect.rs`, over `facts.rs`): the backend and server they choose]
//! -> route (the backend, counted there) -> pick and connect
//! (`connect.rs`) -> forward (`forwarding.rs`) -> close and log
//! (`record.rs`). A frontend without rules goes from accept to connect.
//!
//! ```text
//!   accept -> route -> connect -> Connecting --connected--> Forwarding --both FINs--> closed
//!                       |  ^        |  (refused, timeout: a failed attempt, retried elsewhere)
//!                       v  |        v      ^            |
//!                      Queued     closed   |            | retry-on empty-response: the server
//!                                          +------------+ hung up before its first byte; pick
//!                                                         another, replay the client's bytes
//! ```
//! Every handler says which state it is entered in and what it may leave
//! to. It takes the state by value and returns a [`Step`]: settle in a
//! state, or go to the next stage; [`Session::run`] takes the steps, so no
//! handler calls another across states. The worker gets a [`Next`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::SockRef;

use crate::backend::{ConnGuard, Server};
use crate::balance::Balancer;
use crate::logs::tcplog::{Cause, Phase, Termination, Trace, logs_connections};
use crate::proxy::pump::{Pools, Pump, Side};
use crate::proxy::stream::Stream;
use crate::shared::{Admission, BackendSeat, Shared};
use crate::worker::slab::Key;
use crate::worker::token::{Peer, Sockets};

mod connect;
/// The connection as the rules see it.
mod facts;
mod forwarding;
/// The PROXY protocol header of an `accept-proxy` bind.
mod handshake;
/// `tcp-request` rules, the inspect stage, `use_backend`, `use-server`.
mod inspect;
mod record;
mod route;

/// `Session::backend` before the session is routed.
const NO_BACKEND: usize = usize::MAX;

/// What the worker does with a session after a handler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
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
pub(crate) struct Ready {
    pub readable: bool,
    pub writable: bool,
    /// The peer sent its FIN (or the socket failed).
    pub read_closed: bool,
    /// The socket failed (a reset).
    pub error: bool,
}

/// What a session borrows from its worker while a handler runs.
pub(crate) struct Ctx<'a> {
    pub sockets: Sockets<'a>,
    pub pools: &'a mut Pools,
    pub shared: &'a Shared,
    pub balancers: &'a mut [Balancer],
    pub now: Instant,
}

#[derive(Debug)]
enum State {
    /// `accept-proxy`: waiting for the client's PROXY header, since then.
    AwaitHeader(Instant),
    /// Waiting for client bytes a content rule needs.
    Inspect(inspect::Inspect),
    Queued(Queued),
    Connecting(Connecting),
    /// Boxed: handlers take the state by value, and this one is moved on
    /// every event; a pointer moves cheaper than two pumps.
    Forwarding(Box<Forwarding>),
    /// Only while a handler holds the state by value (see
    /// [`Session::run`]); never seen between two events.
    Moving,
}

/// Every usable server is at its maxconn (or, `starved`, l4lb could not
/// open a socket); waiting for a slot.
#[derive(Debug)]
struct Queued {
    since: Instant,
    avoid: Option<usize>,
    attempts: u32,
    starved: bool,
    /// Its place in the backend's `qcur` (not while starved).
    _seat: Option<connect::QueueSeat>,
}

/// Non-blocking connect in progress to `servers[idx]`.
#[derive(Debug)]
struct Connecting {
    server: Side,
    guard: ConnGuard,
    idx: usize,
    since: Instant,
    attempts: u32,
    /// `send-proxy`: the header the connection starts with, once connected.
    send_proxy: Option<crate::config::SendProxy>,
}

/// Connected: bytes flow both ways until both FINs have been passed on.
#[derive(Debug)]
struct Forwarding {
    server: Side,
    guard: ConnGuard,
    up: Pump,
    down: Pump,
    idx: usize,
    attempts: u32,
}

/// What a handler hands back: the state the session settles in, or the
/// stage it goes to next. Handlers never call each other across states;
/// [`Session::run`] takes each step in turn.
#[derive(Debug)]
enum Step {
    /// Settled in this state until the next event or deadline (or ended,
    /// with its reason recorded); the worker does `Next`.
    Stay(State, Next),
    /// The client is known (its PROXY header read, if any): the session
    /// rules, the inspect stage, the route.
    Admitted,
    /// The connect stage: pick a server and connect. From the route stage,
    /// the queue (`queued_since`), or a failed attempt.
    Connect {
        avoid: Option<usize>,
        attempts: u32,
        queued_since: Option<Instant>,
    },
    /// An attempt on `servers[failed]` went wrong: count it against the
    /// server, then retry elsewhere while retries last, else end as `out`.
    Failed {
        failed: usize,
        attempts: u32,
        err: io::Error,
        out: Termination,
    },
    /// The server accepted: the forward stage starts.
    Connected(Connecting),
}

/// Who a session serves: the client's address ([`UNIX_PEER`] for a unix
/// one), and for a unix client the id of the bind it came by (HAProxy logs
/// it as %cp, and `unix` as %ci).
///
/// [`UNIX_PEER`]: crate::proxy::listener::UNIX_PEER
#[derive(Debug, Clone, Copy)]
pub(crate) struct Client {
    pub addr: SocketAddr,
    pub unix_bind: Option<u32>,
    /// Its bind has `accept-proxy`: a PROXY header comes first.
    pub accept_proxy: bool,
}

#[derive(Debug)]
pub(crate) struct Session {
    key: Key,
    frontend: usize,
    /// Set by the route stage, with the session's place in its count
    /// ([`NO_BACKEND`] and None before).
    backend: usize,
    seat: Option<BackendSeat>,
    /// The server a `use-server` rule chose, for the first attempt.
    forced: Option<usize>,
    /// `proxy-v2-options authority`: the client's TLS server name (the
    /// inspect stage's), else the AUTHORITY of its own PROXY header.
    authority: Option<Box<[u8]>>,
    /// `unique-id-format`: the ID, made when first needed (a log line, a
    /// `proxy-v2-options unique-id` header).
    unique_id: Option<std::sync::Arc<str>>,
    /// `balance hash` / `rdp-cookie`: the key its value gave (None inside:
    /// no value, round robin), instead of the client's address.
    hash: Option<Option<crate::balance::HashKey>>,
    peer: SocketAddr,
    /// The destination a client's PROXY header gave (`accept-proxy`):
    /// what a `send-proxy` header passes on instead of l4lb's own address.
    proxied_dst: Option<SocketAddr>,
    /// The client socket's own address, read (getsockname) once, when
    /// first needed: by a rule, a log line or a `send-proxy` header.
    local: std::cell::Cell<Option<Option<SocketAddr>>>,
    /// A unix client's bind id (see [`Client`]).
    unix_bind: Option<u32>,
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
    /// The frontend logs connections (`option tcplog` or `log-format`,
    /// with a target).
    logged: bool,
    admission: Admission,
}

impl Session {
    /// Entered for a freshly accepted client: the connection rules, the
    /// PROXY header stage, the rule stages, then the connect stage.
    pub(crate) fn start(
        ctx: &mut Ctx<'_>,
        key: Key,
        mut stream: Stream,
        peer: Client,
        frontend: usize,
        admission: Admission,
    ) -> (Session, Next) {
        let fe = &ctx.shared.config.frontends[frontend];
        // TCP_NODELAY and SO_KEEPALIVE come from the listener (inherited).
        let registered = ctx.sockets.register(&mut stream, key, Peer::Client);
        let logged = logs_connections(fe);
        let mut s = Session {
            key,
            frontend,
            backend: NO_BACKEND,
            seat: None,
            forced: None,
            authority: None,
            unique_id: None,
            hash: None,
            peer: peer.addr,
            proxied_dst: None,
            local: std::cell::Cell::new(None),
            unix_bind: peer.unix_bind,
            client: Side::new(stream),
            state: State::Moving,
            // Set by the route stage, with the backend's.
            splice: false,
            client_seen: ctx.now,
            server_seen: ctx.now,
            armed: None,
            replay: None,
            trace: Trace::new(ctx.now, fe),
            logged,
            admission,
        };
        let mut expect_proxy = peer.accept_proxy;
        let step = match registered {
            Ok(()) => match s.connection_rules(ctx, &mut expect_proxy) {
                Some(refused) => refused,
                // The client is known once its header is read.
                None if expect_proxy => Step::Stay(State::AwaitHeader(ctx.now), Next::Wait),
                None => {
                    s.log_accepted(ctx.shared);
                    Step::Admitted
                }
            },
            Err(e) => {
                log::warn!("cannot register client {}: {e}", peer.addr);
                s.end(State::Moving, Cause::Resource, Phase::Connect)
            }
        };
        let next = s.run(ctx, step);
        (s, next)
    }

    /// Takes steps until the session settles in a state (the trampoline
    /// between stages). Each step either settles or moves to a later
    /// stage; `Connect` and `Failed` alternate at most `retries` times,
    /// since every `Failed` spends one.
    fn run(&mut self, ctx: &mut Ctx<'_>, mut step: Step) -> Next {
        loop {
            step = match step {
                Step::Stay(state, next) => {
                    self.state = state;
                    return next;
                }
                Step::Admitted => self.admitted(ctx),
                Step::Connect {
                    avoid,
                    attempts,
                    queued_since,
                } => self.connect(ctx, avoid, attempts, queued_since),
                Step::Failed {
                    failed,
                    attempts,
                    err,
                    out,
                } => self.failed(ctx, failed, attempts, err, out),
                Step::Connected(c) => self.connected(ctx, c),
            }
        }
    }

    /// Runs `handler` on the session's state, taken by value, and the
    /// steps it leads to.
    fn with_state(
        &mut self,
        ctx: &mut Ctx<'_>,
        handler: impl FnOnce(&mut Session, &mut Ctx<'_>, State) -> Step,
    ) -> Next {
        let state = std::mem::replace(&mut self.state, State::Moving);
        let step = handler(self, ctx, state);
        self.run(ctx, step)
    }

    /// Dispatches one readiness event for one of the session's sockets.
    pub(crate) fn on_event(&mut self, ctx: &mut Ctx<'_>, peer: Peer, ready: Ready) -> Next {
        let side = match (peer, &mut self.state) {
            (Peer::Client, _) => Some(&mut self.client),
            (Peer::Server, State::Connecting(c)) => Some(&mut c.server),
            (Peer::Server, State::Forwarding(f)) => Some(&mut f.server),
            _ => None,
        };
        if let Some(side) = side {
            side.readable |= ready.readable;
            side.writable |= ready.writable;
            side.read_closed |= ready.read_closed;
        }
        self.with_state(ctx, |s, ctx, state| match (state, peer) {
            // No byte of the client is read before a server is connected;
            // a reset is all there is to notice: no server for nobody.
            (state @ State::Queued(_), Peer::Client) if ready.error => {
                s.end(state, Cause::ClientAbort, Phase::Queue)
            }
            (state @ State::Connecting(_), Peer::Client) if ready.error => {
                s.end(state, Cause::ClientAbort, Phase::Connect)
            }
            (State::AwaitHeader(since), Peer::Client) if ready.error => s.end(
                State::AwaitHeader(since),
                Cause::ClientAbort,
                Phase::Request,
            ),
            (State::AwaitHeader(since), Peer::Client) => s.read_header(since, ready.read_closed),
            (State::Inspect(at), Peer::Client) if ready.error => {
                s.end(State::Inspect(at), Cause::ClientAbort, Phase::Request)
            }
            (State::Inspect(at), Peer::Client) => s.inspect(ctx, at, false),
            (State::Connecting(c), Peer::Server) => s.check_connect(c),
            (State::Forwarding(f), _) => s.forward(ctx, f),
            (state, _) => Step::Stay(state, Next::Wait),
        })
    }

    /// Runs the pumps again after a handler returned [`Next::Again`].
    pub(crate) fn resume(&mut self, ctx: &mut Ctx<'_>) -> Next {
        self.with_state(ctx, |s, ctx, state| match state {
            State::Forwarding(f) => s.forward(ctx, f),
            state => Step::Stay(state, Next::Wait),
        })
    }

    /// Entered in Queued when a server slot may have freed; leaves to
    /// Connecting, Queued again, or a close.
    pub(crate) fn retry_queued(&mut self, ctx: &mut Ctx<'_>) -> Next {
        self.with_state(ctx, |_, _, state| match state {
            State::Queued(q) => Step::Connect {
                avoid: q.avoid,
                attempts: q.attempts,
                queued_since: Some(q.since),
            },
            state => Step::Stay(state, Next::Wait),
        })
    }

    /// The address the client reached: its PROXY header's destination,
    /// else the client socket's own address.
    fn dst(&self) -> Option<SocketAddr> {
        self.proxied_dst.or_else(|| self.local_addr())
    }

    /// The client socket's own address, read once.
    fn local_addr(&self) -> Option<SocketAddr> {
        if let Some(known) = self.local.get() {
            return known;
        }
        let local = self.client.stream.local_addr();
        self.local.set(Some(local));
        local
    }

    /// The server this session is connected or connecting to.
    pub(crate) fn server(&self) -> Option<&Arc<Server>> {
        match &self.state {
            State::Connecting(c) => Some(c.guard.server()),
            State::Forwarding(f) => Some(f.guard.server()),
            _ => None,
        }
    }

    /// The configuration snapshot this session runs under: the one in force
    /// when it was accepted, until it ends, whatever reloads happen.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        self.admission.shared()
    }

    /// When the session's current state times out, absent further activity.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let shared = &**self.shared();
        let fe = &shared.config.frontends[self.frontend];
        let be = || &shared.config.backends[self.backend];
        match &self.state {
            State::AwaitHeader(since) => fe.timeout_client.map(|t| *since + t),
            State::Inspect(at) => self.inspect_deadline(at),
            State::Queued(q) => Some(q.since + be().timeout_queue),
            State::Connecting(c) => Some(c.since + be().timeout_connect),
            State::Forwarding(f) => self.idle_deadlines(fe, be(), f).earliest(),
            State::Moving => None,
        }
    }

    /// Entered when the deadline passed: a connect timeout is a failed
    /// attempt (retry elsewhere); a queue timeout ends the session; an
    /// idle timeout follows HAProxy's rules (see `forwarding.rs`).
    pub(crate) fn on_timeout(&mut self, ctx: &mut Ctx<'_>) -> Next {
        self.with_state(ctx, |s, ctx, state| match state {
            State::Connecting(c) => {
                let err = io::Error::new(io::ErrorKind::TimedOut, "timeout connect");
                s.connect_failed(c, err)
            }
            State::Queued(q) => s.queue_timeout(q),
            State::AwaitHeader(since) => s.header_timeout(since),
            State::Inspect(at) => s.inspect_timeout(ctx, at),
            State::Forwarding(f) => s.idle_timeout(ctx, f),
            State::Moving => Step::Stay(State::Moving, Next::Close),
        })
    }

    /// Records why the session ends unless a reason is already recorded:
    /// the first one wins (a timeout logged `cD` stays `cD` when the rest
    /// of the answer is then delivered).
    fn note_end(&mut self, end: Termination) {
        self.trace.end.get_or_insert(end);
    }

    /// Records why the session ends, with the phase it is in: for the
    /// worker's own reasons (a DOWN server's sessions, a stop).
    pub(crate) fn kill(&mut self, cause: Cause) {
        let phase = self.phase();
        self.trace.end = Some(Termination::new(cause, phase));
    }

    /// The termination phase of the current state.
    fn phase(&self) -> Phase {
        match self.state {
            State::AwaitHeader(_) | State::Inspect(_) => Phase::Request,
            State::Queued(_) => Phase::Queue,
            State::Connecting(_) | State::Moving => Phase::Connect,
            State::Forwarding(_) => Phase::Data,
        }
    }

    /// Records an abnormal end in `state` and settles there with an abort.
    fn end(&mut self, state: State, cause: Cause, phase: Phase) -> Step {
        self.note_end(Termination::new(cause, phase));
        Step::Stay(state, Next::Abort)
    }

    /// Ends the session: logs it, gives back pipes and buffers, and with
    /// `abort` makes both sockets close with an RST (SO_LINGER 0), so a
    /// truncation is never mistaken for a clean end. Dropping the session
    /// closes them.
    pub(crate) fn finish(mut self, pools: &mut Pools, now: Instant, abort: bool) {
        if self.logged {
            self.log(self.shared(), now);
        }
        let server = match &mut self.state {
            State::Forwarding(f) => {
                f.up.release(pools);
                f.down.release(pools);
                Some(&f.server.stream)
            }
            State::Connecting(c) => Some(&c.server.stream),
            _ => None,
        };
        if abort {
            for stream in server.into_iter().chain([&self.client.stream]) {
                let _ = SockRef::from(stream).set_linger(Some(Duration::ZERO));
            }
        }
    }
}
