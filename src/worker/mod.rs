//! One worker: a mio `Poll` on its own core, its own listeners, sessions
//! and timers. It only dispatches: events go to `listener` (accept) or to a
//! `session` (connect, forward), due deadlines to the session's timeout.
//!
//! Its life: `Serving`; on `SoftStop`, `Draining` (listeners closed,
//! sessions run to their end, the thread returns with the last one); on
//! `Stop`, from either, every session is closed and the thread returns.

pub(crate) mod slab;
pub(crate) mod timer;
pub(crate) mod token;

mod listeners;

use listeners::{Accepting, Listener};

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::{Events, Interest, Poll, Token};

use crate::backend::Server;
use crate::balance::Balancer;
use crate::control::{Control, Update};
use crate::logs::tcplog::Cause;
use crate::proxy::buffers::BufPool;
use crate::proxy::listener::{self, Accepted, EXHAUSTED_PAUSE};
use crate::proxy::pipes::PipePool;
use crate::proxy::pump::Pools;
use crate::proxy::session::{Client, Ctx, Next, Ready, Session};
use crate::proxy::stream::Stream;
use crate::shared::{Admission, Shared};
use crate::worker::slab::{Key, Slab};
use crate::worker::timer::Timers;
use token::Target;

/// The part of a worker a session handler borrows, for a session of
/// generation `$g`. A macro rather than a method so the borrow stays field
/// by field, leaving `sessions` free.
macro_rules! session_ctx {
    ($w:ident, $g:expr) => {
        Ctx {
            sockets: token::Sockets($w.poll.registry()),
            pools: &mut $w.pools,
            shared: &$g.shared,
            balancers: &mut $g.balancers,
            now: $w.now,
        }
    };
}

/// A configuration snapshot as one worker runs it: the shared part and
/// this worker's balancers for it. Sessions keep the generation they were
/// accepted in; after a reload the old one lives on until its last session
/// ends.
struct Generation {
    shared: Arc<Shared>,
    balancers: Vec<Balancer>,
}

/// How often paused listeners and queued sessions are retried: slots are
/// also freed by other workers, which do not wake this one.
const RETRY_TICK: Duration = Duration::from_millis(10);

/// Where a worker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Accepting and forwarding.
    Serving,
    /// Listeners closed; the loop returns when the last session ends.
    Draining,
    /// Told to stop: close every session and return.
    Stopping,
}

pub(crate) struct Worker {
    id: usize,
    poll: Poll,
    control: Receiver<Control>,
    /// The generation new connections get.
    current: Generation,
    /// Older generations that still have sessions here.
    old: Vec<Generation>,
    listeners: Vec<Listener>,
    sessions: Slab<Session>,
    timers: Timers,
    pools: Pools,
    /// Sessions whose pumps ran out of budget: run again next turn.
    again: Vec<Key>,
    /// Sessions waiting for a server slot.
    queued: Vec<Key>,
    now: Instant,
    phase: Phase,
    /// When old generations are next checked for sessions.
    next_prune: Instant,
}

/// How often a worker with old generations looks whether they still have
/// sessions (a scan of its sessions).
const PRUNE_EVERY: Duration = Duration::from_secs(1);

impl Worker {
    /// `listeners` are (socket, frontend index), already bound.
    pub(crate) fn new(
        id: usize,
        poll: Poll,
        control: Receiver<Control>,
        shared: Arc<Shared>,
        listeners: Vec<(listener::Listener, usize)>,
    ) -> io::Result<Worker> {
        let cfg = &shared.config;
        let mut registered = Vec::with_capacity(listeners.len());
        for (i, (mut sock, frontend)) in listeners.into_iter().enumerate() {
            poll.registry()
                .register(&mut sock, token::listener(i), Interest::READABLE)?;
            registered.push(Listener::new(sock, frontend));
        }
        listeners::set_caps(&mut registered, &shared);
        let pipes_per_worker = cfg.maxpipes.div_ceil(cfg.threads.max(1));
        let pools = Pools {
            pipes: PipePool::new(pipes_per_worker, cfg.pipesize),
            bufs: BufPool::new(cfg.bufsize),
            inspect: crate::proxy::scratch::Inspector::new(cfg.bufsize),
        };
        let current = Generation {
            balancers: balancers_for(&shared, id),
            shared,
        };
        Ok(Worker {
            id,
            poll,
            control,
            current,
            old: Vec::new(),
            listeners: registered,
            sessions: Slab::default(),
            timers: Timers::default(),
            pools,
            again: Vec::new(),
            queued: Vec::new(),
            now: Instant::now(),
            phase: Phase::Serving,
            next_prune: Instant::now(),
        })
    }

    /// The event loop; returns when told to stop, or once drained after a
    /// soft stop.
    pub(crate) fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.now = Instant::now();
            for event in events.iter() {
                let read_closed = event.is_read_closed() || event.is_error();
                let ready = Ready {
                    readable: event.is_readable() || read_closed,
                    writable: event.is_writable() || event.is_write_closed() || event.is_error(),
                    read_closed,
                    error: event.is_error(),
                };
                self.on_event(event.token(), ready);
                if self.phase == Phase::Stopping {
                    self.stop();
                    return Ok(());
                }
            }
            for key in std::mem::take(&mut self.again) {
                self.dispatch(key, Session::resume);
            }
            self.expire();
            self.retry_waiting();
            // One store per turn, on this worker's own cache line.
            let stats = &self.current.shared.process.workers[self.id];
            stats.pipes_in_use.store(self.pools.pipes.in_use(), Relaxed);
            stats.pipes_lent.store(self.pools.pipes.lent(), Relaxed);
            if !self.old.is_empty() && self.now >= self.next_prune {
                self.prune_generations();
                self.next_prune = self.now + PRUNE_EVERY;
            }
            if self.phase == Phase::Draining && self.sessions.is_empty() {
                log::debug!("worker {}: drained", self.id);
                return Ok(());
            }
        }
    }

    /// Handles one event of a batch. Slots freed by one event may be
    /// taken by an accept before the batch's later events are handled:
    /// those for the closed connection carry its key, which the slab no
    /// longer holds, and are dropped in `dispatch`.
    fn on_event(&mut self, token: Token, ready: Ready) {
        match token::target(token) {
            Target::Waker => self.handle_control(),
            Target::Listener(i) => self.accept(i),
            Target::Session(key, peer) => {
                self.dispatch(key, |s, ctx| s.on_event(ctx, peer, ready));
            }
        }
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.again.is_empty() {
            return Some(Duration::ZERO);
        }
        let waiting =
            !self.queued.is_empty() || self.listeners.iter().any(|l| l.state != Accepting::Open);
        let tick = waiting
            .then_some(RETRY_TICK)
            .or((!self.old.is_empty()).then_some(PRUNE_EVERY));
        let next = self.timers.next_in(Instant::now());
        // Round up so a deadline is never woken for a millisecond early.
        let next = next.map(|d| d + Duration::from_micros(999));
        match (tick, next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Applies the messages waiting on the control channel.
    fn handle_control(&mut self) {
        while let Ok(msg) = self.control.try_recv() {
            match msg {
                Control::Stop => self.phase = Phase::Stopping,
                Control::SoftStop => self.soft_stop(),
                Control::ShutdownSessions(server, cause) => {
                    self.shutdown_sessions(&server, cause);
                }
                Control::Rebalance => {
                    let id = self.id;
                    for g in std::iter::once(&mut self.current).chain(&mut self.old) {
                        g.balancers = balancers_for(&g.shared, id);
                    }
                }
                Control::Update(update) => self.update(*update),
            }
        }
    }

    /// Serving -> Draining: takes in the connections already in the accept
    /// queues (closing a listener would reset them), then closes the
    /// listeners, so a new connect is refused. Sessions carry on.
    fn soft_stop(&mut self) {
        if self.phase != Phase::Serving {
            return;
        }
        for i in 0..self.listeners.len() {
            self.accept(i);
        }
        self.listeners.clear();
        self.phase = Phase::Draining;
        log::debug!(
            "worker {}: listeners closed, {} session(s) left",
            self.id,
            self.sessions.len()
        );
    }

    /// Resets every connection of this worker to `server`. A scan of the
    /// sessions, on a rare event (a server going DOWN), never per tick.
    fn shutdown_sessions(&mut self, server: &Arc<Server>, cause: Cause) {
        let doomed: Vec<Key> = self
            .sessions
            .keys()
            .filter(|&key| {
                self.sessions
                    .get(key)
                    .and_then(|s| s.server())
                    .is_some_and(|s| Arc::ptr_eq(s, server))
            })
            .collect();
        for &key in &doomed {
            if let Some(s) = self.sessions.get_mut(key) {
                s.kill(cause);
            }
            self.after(key, Next::Abort);
        }
        if !doomed.is_empty() {
            let why = if cause == Cause::Down {
                "DOWN server"
            } else {
                "server"
            };
            log::info!(
                "worker {}: reset {} connection(s) to {why} {}",
                self.id,
                doomed.len(),
                server.name
            );
        }
    }

    /// A reload: new connections get the new generation, sessions keep
    /// theirs. Listeners whose bind is gone take in what is in their accept
    /// queue (closing them would reset it) and close; kept ones stay open
    /// and serve the frontend of the same bind; new ones start accepting.
    fn update(&mut self, update: Update) {
        let Update {
            shared,
            listeners,
            done,
        } = update;
        let new_binds = shared.config.binds();
        if self.phase == Phase::Serving {
            // Removed binds: drain their queues under the old generation.
            for i in 0..self.listeners.len() {
                let addr = self.listeners[i].sock.addr().ok();
                if !new_binds.iter().any(|(a, _)| Some(a) == addr.as_ref()) {
                    self.accept(i);
                }
            }
        }
        let old = std::mem::replace(
            &mut self.current,
            Generation {
                balancers: balancers_for(&shared, self.id),
                shared,
            },
        );
        self.old.push(old);
        if self.phase != Phase::Serving {
            // Soft stop: no listener anymore; new ones are dropped.
            drop(listeners);
        } else {
            let old = std::mem::take(&mut self.listeners);
            self.listeners =
                listeners::reconcile(self.poll.registry(), old, listeners, &new_binds, self.id);
            listeners::set_caps(&mut self.listeners, &self.current.shared);
            // New listeners may already hold connections (their edge is
            // past): look at every queue once.
            for i in 0..self.listeners.len() {
                self.accept(i);
            }
        }
        self.prune_generations();
        if let Some(done) = done {
            done.report();
        }
    }

    /// Drops old generations no session of this worker uses anymore.
    fn prune_generations(&mut self) {
        if self.old.is_empty() {
            return;
        }
        let sessions = &self.sessions;
        self.old.retain(|g| {
            sessions
                .values()
                .any(|s| Arc::ptr_eq(s.shared(), &g.shared))
        });
    }

    /// Closes listeners, then every session.
    fn stop(&mut self) {
        self.listeners.clear();
        let n = self.sessions.len();
        for mut s in self.sessions.drain() {
            s.kill(Cause::Killed);
            s.finish(&mut self.pools, self.now, false);
        }
        log::debug!("worker {} stopped, closed {n} connection(s)", self.id);
    }

    /// Accepts until the queue is empty, a limit is reached, or fds run out.
    fn accept(&mut self, index: usize) {
        loop {
            // An event of the batch that closed the listeners (soft stop).
            let Some(l) = self.listeners.get_mut(index) else {
                return;
            };
            if let Accepting::Resting(_) = l.state {
                return;
            }
            let shared = &self.current.shared;
            let Some(mut admission) = Admission::reserve_on(shared, l.frontend, l.cap.as_ref())
            else {
                l.state = Accepting::Full;
                return;
            };
            l.state = Accepting::Open;
            match listener::accept(&l.sock) {
                Accepted::Conn(stream, peer) => {
                    admission.admitted();
                    self.current.shared.process.workers[self.id]
                        .accepted
                        .fetch_add(1, Relaxed);
                    let frontend = l.frontend;
                    let client = Client {
                        addr: peer,
                        unix_bind: listeners::unix_bind_id(&self.current.shared.config, l),
                        accept_proxy: l.accept_proxy,
                    };
                    self.start(stream, client, frontend, admission);
                }
                Accepted::Drained => return,
                Accepted::Skipped => continue,
                Accepted::Exhausted(e) => {
                    if !l.warned {
                        log::warn!(
                            "accept failed ({e}); pausing the listener, raise the fd limit or lower maxconn"
                        );
                        l.warned = true;
                    }
                    l.state = Accepting::Resting(self.now + EXHAUSTED_PAUSE);
                    return;
                }
            }
        }
    }

    fn start(&mut self, stream: Stream, peer: Client, frontend: usize, admission: Admission) {
        let key = self.sessions.vacant_key();
        let mut ctx = session_ctx!(self, self.current);
        let (session, next) = Session::start(&mut ctx, key, stream, peer, frontend, admission);
        let inserted = self.sessions.insert(session);
        debug_assert_eq!(inserted, key);
        self.after(key, next);
    }

    /// Runs a handler on the session `key` names, if it still exists:
    /// events, timers and retries for a session that has closed are
    /// dropped, even when another session has taken its slot.
    fn dispatch(&mut self, key: Key, handler: impl FnOnce(&mut Session, &mut Ctx<'_>) -> Next) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        let generation = if Arc::ptr_eq(session.shared(), &self.current.shared) {
            &mut self.current
        } else {
            let shared = session.shared();
            match self.old.iter().position(|g| Arc::ptr_eq(&g.shared, shared)) {
                Some(i) => &mut self.old[i],
                None => {
                    // Not reachable: a generation is kept while it has sessions.
                    self.old.push(Generation {
                        balancers: balancers_for(shared, self.id),
                        shared: Arc::clone(shared),
                    });
                    self.old.last_mut().expect("just pushed")
                }
            }
        };
        let mut ctx = session_ctx!(self, generation);
        let next = handler(session, &mut ctx);
        self.after(key, next);
    }

    /// Applies a handler's verdict: arm the deadline, queue, or close.
    fn after(&mut self, key: Key, next: Next) {
        match next {
            Next::Close | Next::Abort => {
                if let Some(s) = self.sessions.remove(key) {
                    s.finish(&mut self.pools, self.now, next == Next::Abort);
                }
                return;
            }
            Next::Again => self.again.push(key),
            Next::Queue => self.queued.push(key),
            Next::Starved => {
                self.queued.push(key);
                self.rest_listeners();
            }
            Next::Wait => {}
        }
        if let Some(s) = self.sessions.get_mut(key)
            && let Some(at) = s.deadline()
        {
            self.timers.arm(&mut s.armed, key, at);
        }
    }

    /// l4lb ran out of fds, memory or ports: accepting more clients would
    /// only make more wait, so every listener rests (as after an accept
    /// that failed with EMFILE) and the kernel queues new connections.
    fn rest_listeners(&mut self) {
        let until = self.now + EXHAUSTED_PAUSE;
        if self.listeners.iter().any(|l| !l.warned) {
            log::warn!(
                "worker {}: out of fds, memory or local ports for server connections; pausing accepts, raise the fd limit or lower maxconn",
                self.id
            );
        }
        for l in &mut self.listeners {
            l.warned = true;
            l.state = Accepting::Resting(until);
        }
    }

    /// Handles every due timer entry; stale entries are skipped.
    fn expire(&mut self) {
        while let Some((at, key)) = self.timers.pop_due(self.now) {
            let Some(s) = self.sessions.get_mut(key) else {
                continue;
            };
            if s.armed != Some(at) {
                continue;
            }
            s.armed = None;
            match s.deadline() {
                Some(d) if d > self.now => self.timers.arm(&mut s.armed, key, d),
                Some(_) => self.dispatch(key, Session::on_timeout),
                None => {}
            }
        }
    }

    /// Retries listeners that paused and sessions waiting for a server; runs
    /// every turn, and costs an atomic load or two when nothing waits.
    fn retry_waiting(&mut self) {
        for key in std::mem::take(&mut self.queued) {
            self.dispatch(key, Session::retry_queued);
        }
        for i in 0..self.listeners.len() {
            let l = &mut self.listeners[i];
            match l.state {
                Accepting::Resting(until) if until <= self.now => {
                    l.state = Accepting::Open;
                    self.accept(i);
                }
                Accepting::Full => self.accept(i),
                _ => {}
            }
        }
    }
}

/// One balancer per backend of `shared`, seeded per worker.
fn balancers_for(shared: &Shared, worker: usize) -> Vec<Balancer> {
    shared
        .config
        .backends
        .iter()
        .zip(&shared.servers)
        .map(|(b, servers)| {
            let seed = 0x9E37_79B9_7F4A_7C15 ^ (worker as u64 + 1);
            Balancer::with_backups(b.balance, servers, seed, b.all_backups)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::{ErrorKind, Read};
    use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};

    use super::*;
    use crate::cli::Args;
    use crate::config::Config;
    use crate::worker::token::Peer;

    /// A worker with one listener on loopback, balancing to `server`.
    fn worker(server: &StdListener) -> (Worker, SocketAddr) {
        let args = Args {
            // Only names the frontend: the worker gets its socket below.
            bind: vec!["127.0.0.1:1".into()],
            server: vec![server.local_addr().unwrap().to_string()],
            ..Args::default()
        };
        let shared = Arc::new(Shared::new(Config::from_args(&args).unwrap(), None));
        let sock = listener::bind_reuseport("127.0.0.1:0".parse().unwrap(), 16, false).unwrap();
        let addr = sock.local_addr().unwrap();
        let (_tx, rx) = crossbeam_channel::unbounded();
        let w = Worker::new(
            0,
            Poll::new().unwrap(),
            rx,
            shared,
            vec![(listener::Listener::Tcp(sock), 0)],
        )
        .unwrap();
        (w, addr)
    }

    const READABLE: Ready = Ready {
        readable: true,
        writable: false,
        read_closed: false,
        error: false,
    };
    /// What epoll reports for a socket the peer reset.
    const RESET: Ready = Ready {
        readable: true,
        writable: true,
        read_closed: true,
        error: true,
    };

    /// Issue 9, bug 1: within one batch of events, a client resets and its
    /// session closes, an accept gives its slot to a new client, and then
    /// the batch's remaining events for the closed connection are handled.
    /// They used to reach the new client and reset it while it connected.
    /// The batch is replayed here event by event, in that order, on real
    /// sockets, so the interleaving is certain, not a matter of luck.
    #[test]
    fn a_stale_event_of_a_closed_connection_spares_the_client_that_took_its_slot() {
        // Connects to it complete in its backlog; it never needs to accept.
        let server = StdListener::bind("127.0.0.1:0").unwrap();
        let (mut w, addr) = worker(&server);

        let a = StdStream::connect(addr).unwrap();
        w.on_event(token::listener(0), READABLE);
        let a_key = w.sessions.keys().next().expect("A accepted");
        w.on_event(token::session(a_key, Peer::Client), RESET);
        assert!(w.sessions.is_empty(), "A's reset ended its session");

        let b = StdStream::connect(addr).unwrap();
        w.on_event(token::listener(0), READABLE);
        let b_key = w.sessions.keys().next().expect("B accepted");
        assert_eq!(b_key.slot(), a_key.slot(), "B took A's slot");

        // The rest of the batch: what epoll had already reported for A.
        w.on_event(token::session(a_key, Peer::Client), RESET);
        w.on_event(token::session(a_key, Peer::Server), RESET);
        assert!(w.sessions.get(b_key).is_some(), "B's session is alive");
        b.set_nonblocking(true).unwrap();
        match (&b).read(&mut [0u8; 1]) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("B saw {other:?} instead of a live connection"),
        }
        drop(a);
    }
}
