//! The prober: one thread, its own mio `Poll`, that checks every server
//! with `check` by a non-blocking TCP connect and is the only writer of
//! their UP/DOWN state. Workers read that state from the shared atomics.
//!
//! Hysteresis is HAProxy's health counter: it runs from 0 to rise+fall-1; a
//! server is UP from `rise` up. An UP server at the top goes DOWN after
//! `fall` failures in a row; a DOWN server comes UP after `rise` successes in
//! a row (a failure on the way up starts the count again), so a server that
//! alternates pass and fail keeps its state. A server starts UP with its
//! counter at `rise`, so one failed check takes a dead server out at start.
//!
//! A server with `observe layer4` but no `check` is probed only while live
//! traffic has taken it out: from its error run until it is fully UP again.
//!
//! Slow start is run from here too: when a server with `slowstart T` comes
//! back UP, its ramp (see [`Server::eweight`]) starts at 1/256 and the
//! prober raises it in small steps until T has passed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::backend::slowstart::SlowStarts;
use crate::backend::{CheckStatus, Server};
use crate::config::{Config, ConnectRule, OnError};
use crate::control::{Control, Handle, ProberControl};
use crate::proxy::net;
use crate::proxy::stream::Stream;
use crate::shared::{Observer, Shared};
use crate::worker::token::WAKER;

mod agent;
mod conn;
mod exchange;
mod probe;
mod protocol;
mod rules;
mod state;
pub(crate) mod tls;

use conn::CheckConn;
use exchange::{Advance, Pending, advance, describe};
use probe::{Outcome, Probe, Role, probes_for};

/// Whether `config` needs the prober thread: some server has `check` (or
/// `observe layer4`, which probes a server only while it is out).
pub(crate) fn needs_prober(config: &Config) -> bool {
    config
        .backends
        .iter()
        .any(|b| b.servers.iter().any(|s| s.check.is_some()))
}

/// The check TLS settings rustls cannot use (a CA file without a
/// certificate, a `check-sni` that is no host name...), as conf errors
/// about `file`: found before anything starts or a reload applies.
pub(crate) fn tls_errors(config: &Config, file: &str) -> Vec<crate::config::ConfError> {
    let mut errors = Vec::new();
    for b in &config.backends {
        for s in &b.servers {
            let Some(t) = s.check.as_ref().and_then(|c| c.tls.as_ref()) else {
                continue;
            };
            if let Err(msg) = tls::client_config(t, &t.alpn) {
                errors.push(crate::config::ConfError {
                    file: file.to_string(),
                    line: 0,
                    keyword: "check-ssl".into(),
                    msg: format!("backend {} server {}: {msg}", b.name, s.name),
                });
            }
        }
    }
    errors
}

/// The prober's poll, waker and channel, made before the workers that
/// report to it start.
pub struct ProberParts {
    poll: Poll,
    waker: Arc<Waker>,
    control: Sender<ProberControl>,
    inbox: Receiver<ProberControl>,
    observed_tx: Sender<Arc<Server>>,
    observed: Receiver<Arc<Server>>,
}

impl ProberParts {
    pub fn new() -> io::Result<ProberParts> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (control, inbox) = crossbeam_channel::unbounded();
        let (observed_tx, observed) = crossbeam_channel::unbounded();
        Ok(ProberParts {
            poll,
            waker,
            control,
            inbox,
            observed_tx,
            observed,
        })
    }

    /// How workers report `observe layer4` error runs to this prober.
    pub fn observer(&self) -> Observer {
        Observer {
            tx: self.observed_tx.clone(),
            waker: Arc::clone(&self.waker),
        }
    }

    /// Starts the health prober; the supervisor stops it once the workers
    /// are done, and joins it.
    pub fn spawn(
        self,
        shared: &Arc<Shared>,
        workers: Vec<(Sender<Control>, Arc<Waker>)>,
    ) -> io::Result<Handle<ProberControl>> {
        let channels = (self.inbox, self.observed);
        let prober = Prober::new(self.poll, channels, Arc::clone(shared), workers)
            .ok_or_else(|| io::Error::other("no server to check"))?;
        let thread = std::thread::Builder::new()
            .name("l4lb-prober".into())
            .spawn(move || prober.run())?;
        Ok(Handle {
            thread,
            control: self.control,
            waker: self.waker,
        })
    }
}

pub(crate) struct Prober {
    poll: Poll,
    control: Receiver<ProberControl>,
    /// Servers that reached their `observe layer4` error-limit (workers).
    observed: Receiver<Arc<Server>>,
    /// The workers' control channels, to reset a DOWN server's connections.
    workers: Vec<(Sender<Control>, Arc<Waker>)>,
    shared: Arc<Shared>,
    probes: Vec<Probe>,
    /// (when, probe index) of the next check or of a connect's deadline.
    due: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Slow starts of servers coming back UP.
    ramps: SlowStarts,
    /// The last check could not open a socket (logged once per shortage).
    starved: bool,
    /// xorshift state for `spread-checks` and the first checks' spread.
    rng: u64,
}

/// What opening a check's connection came to.
enum Opened {
    Yes,
    /// Out of fds or source ports: no result, the next check at the interval.
    Skipped,
    Failed(Outcome),
}

/// Token of probe `i` (0 is the waker).
fn token(i: usize) -> Token {
    Token(i + 1)
}

impl Prober {
    /// None when no server has `check`: no thread is needed.
    pub(crate) fn new(
        poll: Poll,
        (control, observed): (Receiver<ProberControl>, Receiver<Arc<Server>>),
        shared: Arc<Shared>,
        workers: Vec<(Sender<Control>, Arc<Waker>)>,
    ) -> Option<Prober> {
        let probes = probes_for(&shared);
        if probes.is_empty() {
            return None;
        }
        // Spread the first checks over one interval (or max-spread-checks),
        // not all at once.
        let now = Instant::now();
        let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let rng = clock.map_or(1, |d| d.as_nanos() as u64) | 1;
        let mut prober = Prober {
            poll,
            control,
            observed,
            workers,
            shared,
            probes,
            due: BinaryHeap::new(),
            ramps: SlowStarts::default(),
            starved: false,
            rng,
        };
        for i in 0..prober.probes.len() {
            if prober.probes[i].check.passive_only {
                continue; // Probed only once live traffic takes it out.
            }
            let draw = prober.draw();
            let spread = prober.shared.config.spread_checks;
            let jitter = spread.first(prober.probes[i].check.inter, draw);
            prober.schedule(i, now + jitter);
        }
        Some(prober)
    }

    /// Runs until told to stop.
    pub(crate) fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        log::info!("prober: checking {} server(s)", self.probes.len());
        loop {
            let next = self.due.peek().map(|Reverse((at, _))| *at);
            let next = match (next, self.ramps.next_at()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let timeout = next.map(|at| {
                at.saturating_duration_since(Instant::now()) + Duration::from_micros(999)
            });
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                if event.token() == WAKER {
                    while let Ok(msg) = self.control.try_recv() {
                        match msg {
                            ProberControl::Stop => return Ok(()),
                            ProberControl::Update { shared, done } => {
                                self.update(shared);
                                if let Some(done) = done {
                                    done.report();
                                }
                            }
                        }
                    }
                    while let Ok(server) = self.observed.try_recv() {
                        self.observed(&server);
                    }
                    continue;
                }
                self.on_ready(event.token().0 - 1);
            }
            self.run_due();
            self.ramps.raise(Instant::now());
        }
    }

    /// A reload: the probes of the new snapshot. A server whose check did
    /// not change keeps its probe (health, schedule, check in progress);
    /// others start over from their current state; probes of servers that
    /// are gone are dropped with their sockets.
    fn update(&mut self, shared: Arc<Shared>) {
        let mut old = std::mem::take(&mut self.probes);
        let mut probes = Vec::new();
        for mut fresh in probes_for(&shared) {
            let same = old.iter().position(|o| {
                Arc::ptr_eq(&o.server, &fresh.server)
                    && o.role == fresh.role
                    && o.check == fresh.check
                    && o.kind == fresh.kind
                    && o.timeout == fresh.timeout
            });
            match same {
                Some(j) => {
                    let mut kept = old.swap_remove(j);
                    kept.label = fresh.label;
                    kept.backend = fresh.backend;
                    kept.shutdown_on_down = fresh.shutdown_on_down;
                    kept.slowstart = fresh.slowstart;
                    kept.log_health = fresh.log_health;
                    // A reload reads the CA files again.
                    kept.tls_configs.clear();
                    kept.stats().health.store(kept.health, Relaxed);
                    probes.push(kept);
                }
                None => {
                    if !fresh.says_up() {
                        fresh.health = 0;
                        fresh.stats().health.store(0, Relaxed);
                    }
                    probes.push(fresh);
                }
            }
        }
        for gone in &old {
            let kept = |p: &Probe| Arc::ptr_eq(&p.server, &gone.server) && p.role == gone.role;
            if !probes.iter().any(kept) {
                gone.stats().enabled.store(false, Relaxed);
                if let Role::Agent(_) = gone.role {
                    gone.server.set_agent_up(true); // No agent holds it down any more.
                }
            }
        }
        drop(old);
        self.probes = probes;
        self.shared = shared;
        // Tokens and schedule entries are by position: renew them all.
        self.due.clear();
        let now = Instant::now();
        for i in 0..self.probes.len() {
            let conn = self.probes[i]
                .pending
                .as_mut()
                .and_then(|p| p.conn.as_mut());
            if let Some(conn) = conn {
                let interest = Interest::READABLE | Interest::WRITABLE;
                if let Err(e) = self
                    .poll
                    .registry()
                    .reregister(conn.socket(), token(i), interest)
                {
                    log::warn!("prober: cannot register a check socket again: {e}");
                }
            }
            match self.probes[i].next_at {
                Some(at) => self.due.push(Reverse((at, i))),
                None if !self.probes[i].check.passive_only => self.schedule(i, now),
                None => {}
            }
        }
        log::info!("prober: checking {} server(s)", self.probes.len());
    }

    /// A check made progress: connect finished, bytes sent or received.
    fn on_ready(&mut self, i: usize) {
        if self.probes[i].pending.is_some() {
            self.drive(i);
        }
    }

    /// Walks check `i` as far as its sockets allow, opening the
    /// connections its connect steps ask for.
    fn drive(&mut self, i: usize) {
        loop {
            let probe = &mut self.probes[i];
            let Some(p) = &mut probe.pending else {
                return;
            };
            let outcome = match advance(p, &probe.steps) {
                Advance::Wait => return,
                Advance::Connect(rule) => match self.open(i, &rule) {
                    Opened::Yes => continue,
                    Opened::Skipped => return,
                    Opened::Failed(outcome) => outcome,
                },
                Advance::Done(status, why) => Outcome::Passed(status, why),
                Advance::Failed(status, why) => Outcome::Failed(status, why),
            };
            return self.finish(i, outcome);
        }
    }

    /// Starts the checks that are due and fails the checks past their timeout.
    fn run_due(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((at, i))) = self.due.peek() {
            if at > now {
                break;
            }
            self.due.pop();
            if self.probes[i].next_at != Some(at) {
                continue; // Stale: the check finished early and was rescheduled.
            }
            let probe = &self.probes[i];
            if let Some(p) = &probe.pending {
                let (status, why) = p.timed_out(&probe.steps, probe.timeout.as_millis());
                self.finish(i, Outcome::Failed(status, why));
            } else {
                self.probes[i].pending = Some(Pending::new(now));
                let deadline = now + self.probes[i].timeout;
                self.schedule(i, deadline);
                self.drive(i);
            }
        }
    }

    /// Opens the connection of a connect step: to the check's target, or
    /// the rule's port and address.
    fn open(&mut self, i: usize, rule: &ConnectRule) -> Opened {
        let probe = &mut self.probes[i];
        // A check leaves as the server's traffic does: from its `source`.
        let sockopts = probe.server.sockopts();
        let opts = net::Options {
            server: Some(&sockopts),
            ..net::Options::default()
        };
        let mut target = probe.check.target;
        if let Some(ip) = rule.addr {
            target.set_ip(ip);
        }
        if let Some(port) = rule.port {
            target.set_port(port);
        }
        let connected = match &sockopts.unix {
            Some(unix) => net::connect_unix(unix).map(|s| (s, None)),
            None => net::connect_server(target, opts).map(|(s, p)| (Stream::Tcp(s), p)),
        };
        let (mut stream, port) = match connected {
            Ok(opened) => opened,
            Err(e) if net::local_shortage(&e) => {
                // Our shortage says nothing of the server: no result, its
                // state stays; try again at the next interval.
                probe.pending = None;
                if !self.starved {
                    log::warn!(
                        "prober: cannot open a socket to check {} ({e}); checks are skipped, server states unchanged, until l4lb has fds (or source ports) again",
                        probe.label
                    );
                    self.starved = true;
                }
                let next = Instant::now() + probe.interval();
                self.schedule(i, next);
                return Opened::Skipped;
            }
            Err(e) => return Opened::Failed(Outcome::Failed(CheckStatus::L4Con, describe(&e))),
        };
        self.starved = false;
        // A check's request goes out whole: no Nagle delay behind a TLS
        // record or a short send (HAProxy's checks do the same).
        if let Stream::Tcp(s) = &stream {
            let _ = s.set_nodelay(true);
        }
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, token(i), interest)
        {
            let why = format!("cannot register a check socket: {e}");
            return Opened::Failed(Outcome::Failed(CheckStatus::SockErr, why));
        }
        let conn = match probe.tls_for(rule) {
            None => CheckConn::Plain(stream),
            Some(Ok((config, sni))) => match CheckConn::tls(stream, config, sni.as_deref()) {
                Ok(conn) => conn,
                Err(e) => {
                    return Opened::Failed(Outcome::Failed(CheckStatus::L6Rsp, e.to_string()));
                }
            },
            Some(Err(why)) => return Opened::Failed(Outcome::Failed(CheckStatus::L6Rsp, why)),
        };
        if let Some(p) = &mut probe.pending {
            // The previous connection (if any) closes here.
            p.opened(conn, port);
        }
        Opened::Yes
    }

    fn finish(&mut self, i: usize, outcome: Outcome) {
        let started = self.probes[i].pending.as_ref().map(|p| p.started);
        let now = Instant::now();
        self.finish_at(i, outcome, started.unwrap_or(now), now);
    }

    /// Records a result, logs a change of state, and schedules the next check.
    /// Dropping the socket closes it from our side, so the TIME_WAIT stays
    /// here, not on the server.
    fn finish_at(&mut self, i: usize, outcome: Outcome, started: Instant, now: Instant) {
        self.probes[i].pending = None;
        self.apply(i, &outcome, now.duration_since(started));
        if self.probes[i].at_rest() {
            self.probes[i].next_at = None;
            return;
        }
        let draw = self.draw();
        let interval = self.probes[i].interval();
        let next = now + self.shared.config.spread_checks.interval(interval, draw);
        self.schedule(i, next);
    }

    /// Uniform in 0..1 (xorshift64): the draw of `spread-checks`.
    fn draw(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % 1000) as f64 / 1000.0
    }

    /// A worker saw `error-limit` connect failures in a row to `server` on
    /// live traffic (`observe layer4`): apply its `on-error` action, then
    /// check at `fastinter`.
    fn observed(&mut self, server: &Arc<Server>) {
        let Some(i) = self
            .probes
            .iter()
            .position(|p| p.role == Role::Health && Arc::ptr_eq(&p.server, server))
        else {
            return;
        };
        server.stats.consecutive_errors.store(0, Relaxed);
        let Some(observe) = server.observe() else {
            return;
        };
        let why = format!(
            "{} connect errors in a row on live traffic",
            observe.error_limit
        );
        let probe = &mut self.probes[i];
        match observe.on_error {
            OnError::FastInter => {}
            OnError::FailCheck => {
                self.apply(i, &Outcome::Failed(CheckStatus::L4Con, why), Duration::ZERO);
            }
            OnError::SuddenDeath => probe.health = probe.health.min(probe.check.rise),
            OnError::MarkDown => {
                probe.health = probe.health.min(probe.check.rise);
                self.apply(i, &Outcome::Failed(CheckStatus::L4Con, why), Duration::ZERO);
            }
        }
        let probe = &self.probes[i];
        if probe.pending.is_none() {
            let next = Instant::now() + probe.check.fastinter;
            if probe.next_at.is_none_or(|at| next < at) {
                self.schedule(i, next);
            }
        }
    }

    fn schedule(&mut self, i: usize, at: Instant) {
        self.probes[i].next_at = Some(at);
        self.due.push(Reverse((at, i)));
    }
}
