//! The connect stage: pick a server (with `avoid` on a retry), take its
//! connection slot, connect without blocking, and on failure retry
//! elsewhere, queue, or wait out l4lb's own shortage.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::{Connecting, Ctx, Forwarding, Next, Queued, Session, State, Step};
use crate::backend::{ConnGuard, PortLease, Server, SockOpts};
use crate::config::Backend;
use crate::logs::tcplog::{Cause, Phase, Termination};
use crate::proxy::net::{self, Progress};
use crate::proxy::pump::{Pump, Side};
use crate::proxy::stream::Stream;
use crate::shared::{BackendCount, Shared};
use crate::wire::proxy_protocol::{tlv, write_for};
use crate::worker::token::Peer;

impl Session {
    /// The connect stage: picks a server and starts connecting to it.
    /// Entered from the route stage, the queue or a failed attempt; leaves
    /// to Connecting, Queued (every server full, or l4lb short of fds), a
    /// failed attempt, or an end (no server at all).
    pub(super) fn connect(
        &mut self,
        ctx: &mut Ctx<'_>,
        mut avoid: Option<usize>,
        attempts: u32,
        queued_since: Option<Instant>,
    ) -> Step {
        let servers = &ctx.shared.servers[self.backend];
        let be = &ctx.shared.config.backends[self.backend];
        let balancer = &mut ctx.balancers[self.backend];
        let since = queued_since.unwrap_or(ctx.now);
        let count = &ctx.shared.backends[self.backend];
        let queued = |avoid, starved| {
            let q = Queued {
                since,
                avoid,
                attempts,
                starved,
                _seat: (!starved).then(|| QueueSeat::take(count)),
            };
            State::Queued(q)
        };
        refresh_limits(ctx.shared, self.backend);
        // Redispatch: never the server that just failed, unless it is the
        // only one left.
        let key = self.hash_key();
        // `use-server`: its server first (a retry goes through the balancer).
        let forced = self.forced.filter(|_| avoid.is_none());
        let pick = forced.or_else(|| {
            balancer
                .pick(servers, key, avoid)
                .or_else(|| avoid.and_then(|_| balancer.pick(servers, key, None)))
        });
        let Some(idx) = pick else {
            if servers.iter().any(|s| s.in_service()) {
                return Step::Stay(queued(avoid, false), Next::Queue);
            }
            log::debug!(
                "client {}: no server available in backend {}",
                self.peer.ip(),
                be.name
            );
            self.admission.frontend().rejected.fetch_add(1, Relaxed);
            // HAProxy's `SC` with `<NOSRV>` (or the last server tried).
            return self.end(State::Moving, Cause::ServerAbort, Phase::Connect);
        };
        if let Some(failed) = avoid.take_if(|&mut a| a != idx) {
            servers[failed].stats.redispatches.fetch_add(1, Relaxed);
        }
        // The pick saw a free slot, but another worker took it since: wait
        // for the next one, as when every server is full.
        let Some(mut guard) = ConnGuard::acquire(&servers[idx]) else {
            return Step::Stay(queued(avoid, false), Next::Queue);
        };
        let addr = servers[idx].addr();
        // Read once per attempt: how to connect, and the PROXY header after.
        let sockopts = servers[idx].sockopts();
        let (connected, unix) = self.open(be, &sockopts, addr, attempts);
        self.trace.server_unix = unix;
        let (mut stream, port) = match connected {
            Ok(connected) => connected,
            Err(e) if net::local_shortage(&e) => {
                self.starving(&e);
                return Step::Stay(queued(avoid, true), Next::Starved);
            }
            Err(err) => {
                self.trace.attempt(idx, addr, ctx.now);
                let out = Termination::new(connect_cause(&err), Phase::Connect);
                return Step::Failed {
                    failed: idx,
                    attempts,
                    err,
                    out,
                };
            }
        };
        guard.hold_port(port);
        self.trace.attempt(idx, addr, ctx.now);
        self.note_backend_addr(ctx.shared, &stream);
        if let Err(e) = ctx.sockets.register(&mut stream, self.key, Peer::Server) {
            log::warn!("cannot register server socket: {e}");
            return self.end(State::Moving, Cause::Resource, Phase::Connect);
        }
        let connecting = Connecting {
            server: Side::new(stream),
            guard,
            idx,
            since: ctx.now,
            attempts,
            send_proxy: sockopts.send_proxy,
        };
        Step::Stay(State::Connecting(connecting), Next::Wait)
    }

    /// Entered in Connecting on a server event: follows mio's recipe for a
    /// non-blocking connect (writable, then `take_error`, then `peer_addr`).
    /// Leaves to Forwarding, to a failed attempt, or stays.
    pub(super) fn check_connect(&mut self, c: Connecting) -> Step {
        if !c.server.writable && !c.server.readable {
            return Step::Stay(State::Connecting(c), Next::Wait);
        }
        match net::connect_outcome(&c.server.stream) {
            Progress::Connected => Step::Connected(c),
            Progress::Waiting => Step::Stay(State::Connecting(c), Next::Wait),
            Progress::Failed(e) => self.connect_failed(c, e),
        }
    }

    /// Entered in Connecting on a refused, reset or timed-out attempt.
    pub(super) fn connect_failed(&mut self, c: Connecting, err: io::Error) -> Step {
        let out = Termination::new(connect_cause(&err), Phase::Connect);
        // Dropping `c` closes the socket and gives back the server's slot.
        Step::Failed {
            failed: c.idx,
            attempts: c.attempts,
            err,
            out,
        }
    }

    /// A failed attempt on server `failed`: counts it and, while retries
    /// last, goes back to the connect stage avoiding that server; else
    /// ends the session as `out`. l4lb's own shortage is not the server's
    /// fault: the client waits instead.
    pub(super) fn failed(
        &mut self,
        ctx: &mut Ctx<'_>,
        failed: usize,
        attempts: u32,
        err: io::Error,
        out: Termination,
    ) -> Step {
        if net::local_shortage(&err) {
            self.starving(&err);
            let queued = Queued {
                since: ctx.now,
                avoid: Some(failed),
                attempts,
                starved: true,
                _seat: None,
            };
            return Step::Stay(State::Queued(queued), Next::Starved);
        }
        let servers = &ctx.shared.servers[self.backend];
        note_failure(ctx.shared, &servers[failed], &err);
        if attempts + 1 > ctx.shared.config.backends[self.backend].retries {
            log::debug!(
                "client {}: retries exhausted, last error: {err}",
                self.peer.ip()
            );
            return self.end(State::Moving, out.cause, out.phase);
        }
        servers[failed].stats.retries.fetch_add(1, Relaxed);
        Step::Connect {
            avoid: Some(failed),
            attempts: attempts + 1,
            queued_since: None,
        }
    }

    /// Entered in Connecting once the server accepted; leaves to
    /// Forwarding through its first run of the pumps.
    pub(super) fn connected(&mut self, ctx: &mut Ctx<'_>, c: Connecting) -> Step {
        c.guard.server().observe_success();
        self.trace.connected = Some(ctx.now);
        self.log_connected(ctx.shared, ctx.now);
        self.server_seen = ctx.now;
        self.client_seen = ctx.now;
        let mut up = match self.replay.take() {
            Some(journal) => Pump::replaying(journal, self.splice, ctx.pools),
            None if ctx.shared.config.backends[self.backend].retry_empty_response => {
                Pump::journaling(self.splice)
            }
            None => Pump::new(self.splice),
        };
        // The PROXY header goes first, on every connection (retries and
        // replays too), before any client byte.
        if let Some(sp) = c.send_proxy {
            // A unix client has no IP address: UNKNOWN (v1), LOCAL (v2).
            let dst = self.dst();
            let mut header = Vec::with_capacity(64);
            let addrs = dst.map(|d| (self.peer, d));
            let id = sp
                .unique_id
                .then(|| self.unique_id(ctx.shared, ctx.now))
                .flatten();
            let authority = self.authority.as_deref().filter(|_| sp.authority);
            let mut tlvs: [(u8, &[u8]); 2] = [(0, &[]); 2];
            let mut n = 0;
            for t in [
                authority.map(|a| (tlv::AUTHORITY, a)),
                id.as_deref().map(|i| (tlv::UNIQUE_ID, i.as_bytes())),
            ]
            .into_iter()
            .flatten()
            {
                tlvs[n] = t;
                n += 1;
            }
            write_for(sp.v2, addrs, sp.crc32c, &tlvs[..n], &mut header);
            up = up.prefixed(&header, ctx.pools);
        }
        let forwarding = Box::new(Forwarding {
            server: c.server,
            guard: c.guard,
            up,
            down: Pump::new(self.splice),
            idx: c.idx,
            attempts: c.attempts,
        });
        self.forward(ctx, forwarding)
    }

    /// Opens the socket to a server of `be` with its `sockopts` and starts
    /// connecting: over TCP to `addr`, or to its unix socket (then true).
    fn open(
        &self,
        be: &Backend,
        sockopts: &SockOpts,
        addr: std::net::SocketAddr,
        attempts: u32,
    ) -> (io::Result<(Stream, Option<PortLease>)>, bool) {
        if let Some(unix) = &sockopts.unix {
            return (net::connect_unix(unix).map(|s| (s, None)), true);
        }
        let opts = net::Options {
            nodelay: true,
            keepalive: be.tcp_keepalive,
            nolinger: be.nolinger,
            smart_connect: be.smart_connect,
            // As HAProxy: only with client bytes to carry in the SYN (with
            // a cookie cached the kernel holds the SYN until the first
            // write: a server that speaks first would never hear), and
            // never on a retry, whose connect must tell a refusal from a
            // success.
            fast_open: attempts == 0 && sockopts.tfo && self.client_has_data(),
            server: Some(sockopts),
        };
        let connected = net::connect_server(addr, opts).map(|(s, port)| (Stream::Tcp(s), port));
        (connected, false)
    }

    /// Whether the client has sent bytes not read yet (one peek, asked only
    /// for a `tfo` server).
    fn client_has_data(&self) -> bool {
        let mut byte = [std::mem::MaybeUninit::new(0u8); 1];
        matches!(self.client.stream.peek(&mut byte), Ok(n) if n > 0)
    }

    /// Notes that l4lb could not open a socket to a server: nothing is
    /// counted against the server and no retry is spent; the client waits
    /// in Queued (up to `timeout queue`), retried with the queue, and the
    /// worker stops accepting for a while.
    fn starving(&self, err: &io::Error) {
        log::debug!(
            "client {}: cannot connect to a server, l4lb is short of resources: {err}",
            self.peer.ip()
        );
    }

    /// Entered in Queued when `timeout queue` struck: ends the session,
    /// `RC` if l4lb was short of fds, `sQ` if every server stayed full.
    pub(super) fn queue_timeout(&mut self, q: Queued) -> Step {
        self.admission.frontend().rejected.fetch_add(1, Relaxed);
        if q.starved {
            // HAProxy's `RC`: a local resource ran out.
            log::info!(
                "client {}: refused, l4lb had no fd, memory or local port for a server connection within timeout queue",
                self.peer.ip()
            );
            return self.end(State::Queued(q), Cause::Resource, Phase::Connect);
        }
        log::debug!(
            "client {}: no server slot within timeout queue",
            self.peer.ip()
        );
        self.end(State::Queued(q), Cause::ServerTimeout, Phase::Queue)
    }
}

/// What a failed connect says about who ended the session: a timeout is
/// the server side's (`sC`), a shortage of fds, memory or ports ours
/// (`RC`), anything else (refused, reset, unreachable) the server's (`SC`).
pub(super) fn connect_cause(err: &io::Error) -> Cause {
    if err.kind() == io::ErrorKind::TimedOut {
        Cause::ServerTimeout
    } else if net::local_shortage(err) {
        Cause::Resource
    } else {
        Cause::ServerAbort
    }
}

/// A queued client's place in its backend's queue count (`qcur`, `qmax`
/// of show stat), given back when it leaves the queue.
#[derive(Debug)]
pub(super) struct QueueSeat(Arc<BackendCount>);

impl QueueSeat {
    fn take(count: &Arc<BackendCount>) -> QueueSeat {
        let now = count.queued.fetch_add(1, Relaxed) + 1;
        count.queued_max.fetch_max(now, Relaxed);
        QueueSeat(Arc::clone(count))
    }
}

impl Drop for QueueSeat {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Relaxed);
    }
}

/// Sets the limit of each server with `minconn` for its backend's load now
/// (HAProxy's dynamic maxconn), before a pick reads it. Servers with a
/// static limit cost one load each.
fn refresh_limits(shared: &Shared, backend: usize) {
    let beconn = shared.backends[backend].cur.load(Relaxed);
    let fullconn = shared.config.backends[backend].fullconn;
    for server in &shared.servers[backend] {
        if server.is_dynamic() {
            server.refresh_limit(beconn, fullconn);
        }
    }
}

pub(super) fn note_failure(shared: &Shared, server: &Arc<Server>, err: &io::Error) {
    server.stats.connect_failures.fetch_add(1, Relaxed);
    if server.observe_failure()
        && let Some(observer) = &shared.observer
    {
        observer.report(server);
    }
    log::debug!(
        "connect to {} ({}) failed: {err}",
        server.name,
        server.shown_addr()
    );
}
