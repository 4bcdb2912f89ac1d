//! The connect stage: pick a server (with `avoid` on a retry), take its
//! connection slot, connect without blocking, and on failure retry
//! elsewhere, queue, or wait out l4lb's own shortage.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use mio::Interest;

use super::{Ctx, Next, Session, State};
use crate::backend::{ConnGuard, Server};
use crate::forward::{Pump, Side};
use crate::net::{self, Progress};
use crate::shared::Shared;
use crate::tcplog::{Cause, Phase, Termination};
use crate::token::{self, Peer};

impl Session {
    /// Picks a server and starts connecting. Entered from start, Queued or a
    /// failed attempt; leaves to Connecting, Queued, or a close.
    pub(super) fn connect_next(
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
            let key = self.hash_key();
            let pick = balancer
                .pick(servers, key, avoid)
                .or_else(|| avoid.and_then(|_| balancer.pick(servers, key, None)));
            let Some(idx) = pick else { break };
            if let Some(failed) = avoid.take_if(|&mut a| a != idx) {
                servers[failed].stats.redispatches.fetch_add(1, Relaxed);
            }
            let Some(guard) = ConnGuard::acquire(&servers[idx]) else {
                continue;
            };
            let opts = net::Options {
                nodelay: true,
                keepalive: be.tcp_keepalive,
            };
            match net::connect(servers[idx].addr(), opts) {
                Err(e) if net::local_shortage(&e) => {
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
        self.admission.frontend().rejected.fetch_add(1, Relaxed);
        // HAProxy's `SC` with `<NOSRV>` (or the last server tried).
        self.end(Cause::ServerAbort, Phase::Connect)
    }

    /// Entered in Connecting on a server event: follows mio's recipe for a
    /// non-blocking connect (writable, then `take_error`, then `peer_addr`).
    /// Leaves to Forwarding, to another attempt, or stays.
    pub(super) fn check_connect(&mut self, ctx: &mut Ctx<'_>) -> Next {
        let State::Connecting { server, .. } = &self.state else {
            return Next::Wait;
        };
        if !server.writable && !server.readable {
            return Next::Wait;
        }
        match net::connect_outcome(&server.stream) {
            Progress::Connected => self.connected(ctx),
            Progress::InProgress => Next::Wait,
            Progress::Failed(e) => self.connect_failed(ctx, e),
        }
    }

    /// Entered in Connecting once the server accepted; leaves to Forwarding.
    pub(super) fn connected(&mut self, ctx: &mut Ctx<'_>) -> Next {
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

    /// A failed attempt on server `idx`: counts it and, while retries last,
    /// tries another server; else ends the session as `out`.
    pub(super) fn retry(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        attempts: u32,
        err: io::Error,
        out: Termination,
    ) -> Next {
        if net::local_shortage(&err) {
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
    pub(super) fn starve(
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
    pub(super) fn connect_failed(&mut self, ctx: &mut Ctx<'_>, err: io::Error) -> Next {
        let State::Connecting { idx, attempts, .. } =
            std::mem::replace(&mut self.state, State::Moving)
        else {
            unreachable!("connect_failed() is only called in Connecting")
        };
        let out = Termination::new(connect_cause(&err), Phase::Connect);
        self.retry(ctx, idx, attempts, err, out)
    }
}

/// What a failed connect says about who ended the session: a timeout is
/// the server side's (`sC`), a shortage of fds, memory or ports ours
/// (`RC`), anything else (refused, reset, unreachable) the server's (`SC`).
pub(super) fn connect_cause(err: &io::Error) -> Cause {
    match err.raw_os_error() {
        _ if err.kind() == io::ErrorKind::TimedOut => Cause::ServerTimeout,
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EADDRNOTAVAIL) => {
            Cause::Resource
        }
        _ => Cause::ServerAbort,
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
        server.addr()
    );
}
