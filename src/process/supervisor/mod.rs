//! The main thread once l4lb serves: one mio `Poll` that waits for signals
//! (through a signalfd), for the other threads' notices (a worker ended, a
//! thread switched to a new snapshot) and for the admin services, and
//! dispatches them.
//!
//! SIGTERM and SIGUSR1 start a soft stop: workers close their listeners and
//! return once their last session has ended; `hard-stop-after` bounds the
//! wait, then workers close what is left. SIGINT stops at once (a hard
//! stop). SIGHUP asks for a reload, and so does SIGUSR2 (HAProxy's
//! master-worker reload signal: its systemd unit's `ExecReload` sends it,
//! where SIGUSR2's default action would kill l4lb). The process is done when every worker
//! thread has returned; the prober is stopped then, and all are joined.
//!
//! A reload (SIGHUP, or the runtime API's `reload`, `add server`, `del
//! server`) never blocks the loop: once the new snapshot is handed over,
//! the supervisor is [`Switching`] until every worker and the prober run
//! it, and serves signals, the API and metrics meanwhile. Each thread
//! reports on a channel and rings the supervisor's waker as it switches
//! (`SwitchNotice`): the loop sleeps until then, or until the switch's
//! deadline. The API connection that asked waits for the end of the switch
//! for its answer (see `api`); a SIGHUP during a switch reloads once it is
//! over.
//!
//! The files: this one the loop and its dispatch; `stops` the soft and
//! hard stops; `switch` reloads and the end of a switch; `admin` what the
//! runtime API drives and the `stats` sockets' move; `tests`.
//!
//! Event sources are told apart by their token, in `Supervisor::dispatch`.
//! Tokens below [`FIRST_FREE`] are the supervisor's own. From it on, each
//! admin service (the runtime API, the metrics endpoint) takes one tag and
//! encodes its listeners' and connections' tokens under it (`Tokens`).
//! To add a source, give it the next free token or tag and add an arm there.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::admin::api::Api;
use crate::admin::metrics::Metrics;
use crate::admin::service::Tokens;
use crate::admin::stats::Rates;
use crate::admin::stats_page::{self, StatsPages};
use crate::backend::slowstart::SlowStarts;
use crate::config::Source;
use crate::control::{Control, ExitNotice, Handle, ProberControl};
use crate::logs::logger::LoggerHandle;
use crate::process::binds::{self, Kept};
use crate::process::reload::{self, Switching};
use crate::shared::Shared;
use crate::sys::SignalFd;

mod admin;
mod stops;
mod switch;
#[cfg(test)]
mod tests;

/// The signalfd.
const SIGNALS: Token = Token(0);
/// The supervisor's one waker (mio allows one per `Poll`), which the other
/// threads ring: a worker ended ([`ExitNotice`]), a thread switched to a
/// new snapshot (`SwitchNotice`).
const NOTICES: Token = Token(1);
/// Tokens from here on are free for sources added later; each takes its own.
pub const FIRST_FREE: Token = Token(16);
/// The runtime API's tokens.
const API_TOKENS: Tokens = Tokens::new(FIRST_FREE);
/// The metrics endpoint's tokens.
const METRICS_TOKENS: Tokens = Tokens::new(Token(FIRST_FREE.0 + 1));
/// The stats pages' tokens.
const PAGE_TOKENS: Tokens = Tokens::new(Token(FIRST_FREE.0 + 2));

/// The signals the supervisor handles; block them before spawning threads.
pub const SIGNALS_HANDLED: [libc::c_int; 5] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGHUP,
    libc::SIGUSR2,
];

/// Where the process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Soft stop: workers drain. At `hard_at` (`hard-stop-after`), the
    /// supervisor turns it into a hard stop.
    Draining {
        since: Instant,
        hard_at: Option<Instant>,
    },
    /// Hard stop: workers close every connection and return.
    Stopping,
}

pub struct Supervisor {
    poll: Poll,
    signals: SignalFd,
    shared: Arc<Shared>,
    workers: Vec<Handle<Control>>,
    prober: Option<Handle<ProberControl>>,
    /// The connection logger, if some frontend logs (stopped after the
    /// workers, so their last connections are logged too).
    logger: Option<LoggerHandle>,
    exit_tx: Sender<usize>,
    exits: Receiver<usize>,
    /// Rung by the other threads' notices (the [`NOTICES`] token).
    waker: Arc<Waker>,
    /// Worker threads that have not returned yet.
    running: usize,
    phase: Phase,
    /// The first error, returned once every thread is joined.
    error: Option<io::Error>,
    /// The runtime API (`stats socket`), if configured.
    api: Option<Api>,
    /// The metrics endpoint (`stats http`), if configured.
    metrics: Option<Metrics>,
    /// The stats pages (`mode http` sections with `stats` lines), if any.
    pages: Option<StatsPages>,
    /// Connection rates, read once a second at `next_tick`.
    rates: Rates,
    next_tick: Instant,
    /// Where a reload reads the configuration again.
    source: Source,
    /// A duplicate of every worker's listening socket, for a new l4lb
    /// taking over (`_getsocks`).
    listeners: Kept,
    /// Slow starts of servers leaving maintenance or added at run time.
    ramps: SlowStarts,
    /// A reload changed the `stats` lines: the API and metrics sockets
    /// follow once the current event is handled (the reload may have come
    /// from an API connection).
    stats_changed: bool,
    /// The switch to a new snapshot, while the workers and the prober
    /// take it.
    switching: Option<Switching>,
    /// Switches over so far.
    switched: u64,
    /// How long a switch waits for the threads ([`reload::SWITCH_WAIT`]).
    switch_wait: Duration,
    /// A SIGHUP came during a switch: reload once it is over.
    reload_queued: bool,
}

/// How often rates are read.
const RATE_TICK: Duration = Duration::from_secs(1);

impl Supervisor {
    /// `signals` must have been blocked before any other thread started.
    /// `takeover`: an upgrade, the API sockets of the old process are
    /// replaced.
    pub fn new(
        signals: SignalFd,
        shared: Arc<Shared>,
        source: Source,
        takeover: bool,
    ) -> io::Result<Supervisor> {
        let poll = Poll::new()?;
        let fd = signals.as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&fd), SIGNALS, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), NOTICES)?);
        let (exit_tx, exits) = crossbeam_channel::unbounded();
        let api = if shared.config.stats_sockets.is_empty() {
            None
        } else {
            let api = Api::bind(&shared.config, poll.registry(), API_TOKENS, takeover)?;
            for path in api.paths() {
                log::info!("runtime API on {}", path.display());
            }
            Some(api)
        };
        let metrics = match shared.config.stats_http {
            Some(addr) => {
                let m = Metrics::bind(addr, poll.registry(), METRICS_TOKENS)?;
                log::info!("metrics on http://{}/metrics and /stats", m.addr());
                Some(m)
            }
            None => None,
        };
        let pages = StatsPages::bind(&shared.config, poll.registry(), PAGE_TOKENS)?;
        let mut rates = Rates::default();
        rates.tick(&shared);
        Ok(Supervisor {
            poll,
            signals,
            shared,
            workers: Vec::new(),
            prober: None,
            logger: None,
            exit_tx,
            exits,
            waker,
            running: 0,
            phase: Phase::Serving,
            error: None,
            api,
            metrics,
            pages,
            rates,
            next_tick: Instant::now() + RATE_TICK,
            source,
            listeners: Kept::default(),
            ramps: SlowStarts::default(),
            stats_changed: false,
            switching: None,
            switched: 0,
            switch_wait: reload::SWITCH_WAIT,
            reload_queued: false,
        })
    }

    /// Where later event sources register (with tokens from [`FIRST_FREE`]).
    pub fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// The notice worker `id`'s thread must own, to report its end.
    pub fn exit_notice(&self, id: usize) -> ExitNotice {
        ExitNotice::new(id, self.exit_tx.clone(), Arc::clone(&self.waker))
    }

    /// A worker thread, started with an `ExitNotice`.
    pub fn add_worker(&mut self, worker: Handle<Control>) {
        self.workers.push(worker);
        self.running += 1;
    }

    /// The workers' control channels, for the prober.
    pub fn worker_controls(&self) -> Vec<(Sender<Control>, Arc<Waker>)> {
        self.workers
            .iter()
            .map(|w| (w.control.clone(), Arc::clone(&w.waker)))
            .collect()
    }

    /// Keeps a duplicate of the workers' listening sockets (see `listeners`).
    pub fn keep_listeners(&mut self, sets: &[binds::Set]) {
        self.listeners.keep(sets);
    }

    pub fn set_prober(&mut self, prober: Handle<ProberControl>) {
        self.prober = Some(prober);
    }

    pub fn set_logger(&mut self, logger: LoggerHandle) {
        self.logger = Some(logger);
    }

    /// Runs until every worker has returned, then stops the prober and
    /// joins all threads. Ok when no thread failed.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(64);
        while self.running > 0 {
            if let Err(e) = self.turn(&mut events) {
                self.fail(e);
                self.hard_stop("supervisor poll failed");
                self.wait_workers();
                break;
            }
        }
        self.finish()
    }

    /// One turn of the loop: waits for events until the next deadline,
    /// handles them, ends the switch if every thread has reported (a
    /// report rings [`NOTICES`]), then does what is due. Err when the poll
    /// failed.
    fn turn(&mut self, events: &mut Events) -> io::Result<()> {
        match self.poll.poll(events, self.timeout()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            self.dispatch(event.token());
        }
        let now = Instant::now();
        if let Some(switch) = self.switching.take_if(|s| s.over(now)) {
            self.end_switch(switch.finish());
        }
        if std::mem::take(&mut self.stats_changed) {
            self.rebind_stats();
            let registry = self.poll.registry();
            stats_page::follow(&mut self.pages, &self.shared.config, registry, PAGE_TOKENS);
        }
        self.when_due(Instant::now());
        Ok(())
    }

    /// The deadlines' work at `now`: slow starts, rates, idle admin
    /// connections, the soft stop's end.
    fn when_due(&mut self, now: Instant) {
        self.ramps.raise(now);
        if now >= self.next_tick {
            self.rates.tick(&self.shared);
            self.next_tick = now + RATE_TICK;
        }
        if let Some(api) = &mut self.api {
            api.expire(now);
        }
        if let Some(m) = &mut self.metrics {
            m.expire(now);
        }
        if let Some(p) = &mut self.pages {
            p.expire(now);
        }
        self.hard_stop_if_due(now);
    }

    /// One ready source.
    fn dispatch(&mut self, token: Token) {
        match token {
            SIGNALS => self.on_signals(),
            // Switch reports are counted after the events, in `turn`.
            NOTICES => self.on_exits(),
            t if API_TOKENS.owns(t) => {
                if let Some(mut api) = self.api.take() {
                    api.on_event(t, self);
                    self.api = Some(api);
                }
            }
            t if METRICS_TOKENS.owns(t) => {
                if let Some(m) = &mut self.metrics {
                    m.on_event(t, (&self.shared, &self.rates));
                }
            }
            t if PAGE_TOKENS.owns(t) => {
                if let Some(mut pages) = self.pages.take() {
                    pages.on_event(t, self);
                    self.pages = Some(pages);
                }
            }
            other => log::debug!("supervisor: event for unknown {other:?}"),
        }
    }

    /// Until the next deadline: the rates' tick, an idle API or metrics
    /// connection, the soft stop's end, a switch's deadline (its reports
    /// wake the poll: they need no deadline).
    fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut next = self.next_tick;
        if let Some(s) = &self.switching {
            next = next.min(s.deadline());
        }
        if let Phase::Draining {
            hard_at: Some(at), ..
        } = self.phase
        {
            next = next.min(at);
        }
        if let Some(at) = self.api.as_ref().and_then(Api::next_deadline) {
            next = next.min(at);
        }
        if let Some(at) = self.ramps.next_at() {
            next = next.min(at);
        }
        if let Some(at) = self.metrics.as_ref().and_then(Metrics::next_deadline) {
            next = next.min(at);
        }
        if let Some(at) = self.pages.as_ref().and_then(StatsPages::next_deadline) {
            next = next.min(at);
        }
        Some(next.saturating_duration_since(now) + Duration::from_micros(999))
    }

    /// Reads every pending signal (the fd is edge-triggered: drain it).
    fn on_signals(&mut self) {
        loop {
            let sig = match self.signals.read() {
                Ok(Some(sig)) => sig,
                Ok(None) => return,
                Err(e) => {
                    log::error!("reading signals: {e}");
                    return;
                }
            };
            let name = signal_name(sig);
            match sig {
                libc::SIGINT => self.hard_stop(name),
                libc::SIGTERM | libc::SIGUSR1 => self.soft_stop(name),
                libc::SIGHUP | libc::SIGUSR2 if self.switching.is_some() => {
                    log::info!("{name} received while a reload applies: reloading after it");
                    self.reload_queued = true;
                }
                libc::SIGHUP | libc::SIGUSR2 if self.phase == Phase::Serving => {
                    log::info!("{name} received: reloading");
                    let _ = self.reload();
                }
                _ => log::info!("{name} received while stopping: ignored"),
            }
        }
    }

    fn rebalance_all(&self) {
        for w in &self.workers {
            w.send(Control::Rebalance);
        }
    }

    /// Counts the worker threads that ended. One that ends on its own while
    /// serving has failed: the others are stopped too.
    fn on_exits(&mut self) {
        while let Ok(id) = self.exits.try_recv() {
            self.running -= 1;
            if self.phase == Phase::Serving {
                self.fail(io::Error::other(format!(
                    "worker {id} stopped unexpectedly"
                )));
                self.hard_stop("a worker stopped");
            }
        }
    }

    /// After a failed poll: waits (blocking) until every worker returned.
    fn wait_workers(&mut self) {
        while self.running > 0 && self.exits.recv().is_ok() {
            self.running -= 1;
        }
    }

    fn fail(&mut self, e: io::Error) {
        log::error!("{e}");
        self.error.get_or_insert(e);
    }

    /// Every worker has returned: stops the prober, joins all threads.
    fn finish(mut self) -> io::Result<()> {
        if let Some(p) = &self.prober {
            p.send(ProberControl::Stop);
        }
        let threads = std::mem::take(&mut self.workers)
            .into_iter()
            .map(|w| w.thread)
            .chain(self.prober.take().map(|p| p.thread));
        for t in threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => self.fail(e),
                Err(_) => self.fail(io::Error::other("a worker or the prober panicked")),
            }
        }
        if let Some(logger) = self.logger.take() {
            logger.stop();
        }
        match self.phase {
            Phase::Draining { since, .. } => log::info!(
                "soft stop done in {:.1}s: every connection finished",
                since.elapsed().as_secs_f64()
            ),
            _ => log::info!("stopped"),
        }
        self.error.map_or(Ok(()), Err)
    }
}

fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGHUP => "SIGHUP",
        libc::SIGUSR2 => "SIGUSR2",
        _ => "signal",
    }
}
