//! A worker's listeners: where each stands (accepting, full, resting), its
//! bind's `maxconn`, and how they follow a reload (kept by address,
//! removed, added).

use std::time::Instant;

use mio::{Interest, Registry};

use super::token;
use crate::config::{Config, SockAddr};
use crate::proxy::listener::Listener as Socket;
use crate::shared::{ListenerCap, Shared};

/// One of the worker's SO_REUSEPORT sockets (or its duplicate of a unix
/// one) and the frontend it serves.
pub(super) struct Listener {
    pub(super) sock: Socket,
    pub(super) frontend: usize,
    pub(super) state: Accepting,
    /// A shortage of fds was logged (once per listener).
    pub(super) warned: bool,
    /// Its bind's `maxconn`, if it has one (see [`set_caps`]).
    pub(super) cap: Option<ListenerCap>,
    /// Its bind's `accept-proxy`.
    pub(super) accept_proxy: bool,
}

/// Where a worker's listener stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Accepting {
    /// Accepts on its readiness events.
    Open,
    /// At the global, frontend or bind maxconn: retried every tick, as
    /// slots are freed by other workers too (which do not wake this one).
    Full,
    /// Out of fds, memory or local ports: no accept before this instant.
    Resting(Instant),
}

impl Listener {
    pub(super) fn new(sock: Socket, frontend: usize) -> Listener {
        Listener {
            sock,
            frontend,
            state: Accepting::Open,
            warned: false,
            cap: None,
            accept_proxy: false,
        }
    }
}

/// Gives each listener the `maxconn` of its bind in `shared` (at start,
/// and after a reload, which may change it): a count by address, which
/// every worker's socket on that address shares.
pub(super) fn set_caps(listeners: &mut [Listener], shared: &Shared) {
    for l in listeners {
        l.accept_proxy = bind_of(shared, l).is_some_and(|b| b.opts.accept_proxy);
        l.cap = l.sock.addr().ok().and_then(|addr| {
            let binds = &shared.config.frontends.get(l.frontend)?.binds;
            let max = binds.iter().find(|b| b.addr == addr)?.opts.maxconn?;
            Some(ListenerCap {
                count: shared.process.listeners.of(addr),
                max: max as usize,
            })
        });
    }
}

/// The bind line a listener serves.
fn bind_of<'a>(shared: &'a Shared, l: &Listener) -> Option<&'a crate::config::Bind> {
    let binds = &shared.config.frontends.get(l.frontend)?.binds;
    match &l.sock {
        Socket::Unix(_, addr) => binds
            .iter()
            .find(|b| matches!(&b.addr, SockAddr::Unix(a) if a == addr)),
        _ => {
            let addr = l.sock.addr().ok()?;
            binds.iter().find(|b| b.addr == addr)
        }
    }
}

/// The id HAProxy gives the bind a unix listener serves (its place among
/// its frontend's binds, from 1), which it logs as a unix client's %cp;
/// None for a TCP listener.
pub(super) fn unix_bind_id(config: &Config, l: &Listener) -> Option<u32> {
    let Socket::Unix(_, addr) = &l.sock else {
        return None;
    };
    let binds = &config.frontends.get(l.frontend)?.binds;
    let at = binds
        .iter()
        .position(|b| matches!(&b.addr, SockAddr::Unix(a) if a == addr))?;
    u32::try_from(at + 1).ok()
}

/// A reload's listeners: the `old` ones whose address is still in `binds`
/// are kept (serving the frontend of that bind now), the others are
/// deregistered and dropped (their queues were taken in before), and
/// `added` ones join. Tokens follow positions, so every listener is
/// registered again under its new index.
pub(super) fn reconcile(
    registry: &Registry,
    old: Vec<Listener>,
    added: Vec<(Socket, usize)>,
    binds: &[(SockAddr, usize)],
    worker: usize,
) -> Vec<Listener> {
    let mut kept = Vec::with_capacity(old.len() + added.len());
    for mut l in old {
        let addr = l.sock.addr().ok();
        match binds.iter().find(|(a, _)| Some(a) == addr.as_ref()) {
            Some(&(_, f)) => {
                l.frontend = f;
                kept.push(l);
            }
            None => {
                let _ = registry.deregister(&mut l.sock);
            }
        }
    }
    kept.extend(
        added
            .into_iter()
            .map(|(sock, frontend)| Listener::new(sock, frontend)),
    );
    for (i, l) in kept.iter_mut().enumerate() {
        let tok = token::listener(i);
        let result = registry
            .reregister(&mut l.sock, tok, Interest::READABLE)
            .or_else(|_| registry.register(&mut l.sock, tok, Interest::READABLE));
        if let Err(e) = result {
            log::warn!("worker {worker}: cannot register a listener: {e}");
        }
    }
    kept
}
