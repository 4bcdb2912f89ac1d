//! The main thread once l4lb serves: one mio `Poll` that waits for signals
//! (through a signalfd) and for worker threads to end, and runs the stops.
//!
//! SIGTERM and SIGUSR1 start a soft stop: workers close their listeners and
//! return once their last session has ended; `hard-stop-after` bounds the
//! wait, then workers close what is left. SIGINT stops at once (a hard
//! stop). SIGHUP asks for a reload. The process is done when every worker
//! thread has returned; the prober is stopped then, and all are joined.
//!
//! A reload (SIGHUP, or the runtime API's `reload`, `add server`, `del
//! server`) never blocks the loop: once the new snapshot is handed over,
//! the supervisor is [`Switching`] until every worker runs it, and serves
//! signals, the API and metrics meanwhile. The API connection that asked
//! waits for the end of the switch for its answer (see `api`); a SIGHUP
//! during a switch reloads once it is over.
//!
//! Event sources are told apart by their token, in `Supervisor::dispatch`.
//! Tokens below [`FIRST_FREE`] are the supervisor's own. From it on, each
//! admin service (the runtime API, the metrics endpoint) takes one tag and
//! encodes its listeners' and connections' tokens under it ([`Tokens`]).
//! To add a source, give it the next free token or tag and add an arm there.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::admin::api::{self, Api};
use crate::admin::metrics::Metrics;
use crate::admin::service::Tokens;
use crate::admin::stats::Rates;
use crate::backend::Server;
use crate::backend::slowstart::SlowStarts;
use crate::config::{Config, ServerConf, Source, fmt_duration};
use crate::control::{Control, ExitNotice, Handle, ProberControl};
use crate::logs::logger::LoggerHandle;
use crate::logs::tcplog::Cause;
use crate::process::binds::{self, Kept};
use crate::process::notify;
use crate::process::reload::{self, ReloadError, SideThreads, Switched, Switching, Trigger};
use crate::shared::Shared;
use crate::sys::SignalFd;

/// The signalfd.
const SIGNALS: Token = Token(0);
/// The waker worker threads ring as they end (see [`ExitNotice`]).
const EXITS: Token = Token(1);
/// Tokens from here on are free for sources added later; each takes its own.
pub const FIRST_FREE: Token = Token(16);
/// The runtime API's tokens.
const API_TOKENS: Tokens = Tokens::new(FIRST_FREE);
/// The metrics endpoint's tokens.
const METRICS_TOKENS: Tokens = Tokens::new(Token(FIRST_FREE.0 + 1));

/// The signals the supervisor handles; block them before spawning threads.
pub const SIGNALS_HANDLED: [libc::c_int; 4] =
    [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1, libc::SIGHUP];

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
    exit_waker: Arc<Waker>,
    /// Worker threads that have not returned yet.
    running: usize,
    phase: Phase,
    /// The first error, returned once every thread is joined.
    error: Option<io::Error>,
    /// The runtime API (`stats socket`), if configured.
    api: Option<Api>,
    /// The metrics endpoint (`stats http`), if configured.
    metrics: Option<Metrics>,
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
    /// The switch to a new snapshot, while the workers take it.
    switching: Option<Switching>,
    /// Switches over so far.
    switched: u64,
    /// How long a switch waits for the workers ([`reload::SWITCH_WAIT`]).
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
        let exit_waker = Arc::new(Waker::new(poll.registry(), EXITS)?);
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
            exit_waker,
            running: 0,
            phase: Phase::Serving,
            error: None,
            api,
            metrics,
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
        ExitNotice::new(id, self.exit_tx.clone(), Arc::clone(&self.exit_waker))
    }

    /// A worker thread, started with an [`ExitNotice`].
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
    /// handles them, then what is due. Err when the poll failed.
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
        self.hard_stop_if_due(now);
    }

    /// One ready source.
    fn dispatch(&mut self, token: Token) {
        match token {
            SIGNALS => self.on_signals(),
            EXITS => self.on_exits(),
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
            other => log::debug!("supervisor: event for unknown {other:?}"),
        }
    }

    /// Until the next deadline: the rates' tick, an idle API or metrics
    /// connection, the soft stop's end, the next look at a switch.
    fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut next = self.next_tick;
        if let Some(s) = &self.switching {
            next = next.min(s.next_look(now));
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
                libc::SIGHUP if self.switching.is_some() => {
                    log::info!("SIGHUP received while a reload applies: reloading after it");
                    self.reload_queued = true;
                }
                libc::SIGHUP if self.phase == Phase::Serving => {
                    let _ = self.reload();
                }
                _ => log::info!("{name} received while stopping: ignored"),
            }
        }
    }

    /// Serving -> Draining: every worker closes its listeners and returns
    /// once its sessions are done. A second request only logs.
    fn soft_stop(&mut self, why: &str) {
        if self.phase != Phase::Serving {
            log::info!("{why} received: already stopping, ignored");
            return;
        }
        self.listeners.clear();
        let left = self.shared.process.global.cur.load(Relaxed);
        let limit = self.shared.config.hard_stop_after;
        let after = limit.map_or("no hard-stop-after".to_string(), |t| {
            format!("hard stop after {}", fmt_duration(t))
        });
        log::info!("{why} received: soft stop: {left} connection(s) left, {after}");
        notify::stopping(&format!("soft stop: {left} connection(s) left, {after}"));
        let now = Instant::now();
        self.phase = Phase::Draining {
            since: now,
            hard_at: limit.map(|t| now + t),
        };
        for w in &self.workers {
            w.send(Control::SoftStop);
        }
    }

    /// Any phase -> Stopping: every worker closes all its connections.
    fn hard_stop(&mut self, why: &str) {
        if self.phase == Phase::Stopping {
            return;
        }
        self.listeners.clear();
        let left = self.shared.process.global.cur.load(Relaxed);
        log::info!("{why}: stopping now, closing {left} connection(s)");
        if self.phase == Phase::Serving {
            notify::stopping("stopping");
        }
        self.phase = Phase::Stopping;
        for w in &self.workers {
            w.send(Control::Stop);
        }
    }

    fn hard_stop_if_due(&mut self, now: Instant) {
        if let Phase::Draining {
            hard_at: Some(at), ..
        } = self.phase
            && at <= now
        {
            let limit = self.shared.config.hard_stop_after.unwrap_or_default();
            self.hard_stop(&format!("hard-stop-after {} expired", fmt_duration(limit)));
        }
    }

    /// SIGHUP or the API's `reload`: reads the configuration again and, if
    /// it is valid, applies it without closing a listener or a connection
    /// (see [`Supervisor::apply`]); Ok is the summary. If not, logs every
    /// error and keeps running the current one.
    fn reload(&mut self) -> Result<String, ReloadError> {
        if self.phase != Phase::Serving {
            return Err(ReloadError::Stopping);
        }
        if self.switching.is_some() {
            return Err(ReloadError::Busy);
        }
        notify::reloading();
        let result = self
            .source
            .load()
            .map_err(ReloadError::Invalid)
            .and_then(|config| {
                for w in &config.warnings {
                    log::warn!("reload: {w}");
                }
                self.apply(config, Trigger::Reload)
            });
        if let Err(e) = &result {
            if let ReloadError::Invalid(errors) = e {
                for e in errors {
                    log::error!("reload: {e}");
                }
            }
            self.shared.process.reload_failures.fetch_add(1, Relaxed);
            log::error!("reload: failed: {e}");
            self.notify_ready();
        }
        result
    }

    /// Makes `config` the running configuration: binds the new listeners
    /// for every worker first, so that a bind that fails changes nothing,
    /// starts what the snapshot needs, then hands it to the workers and the
    /// prober, and is [`Switching`] until the workers run it. Ok is the
    /// plan's summary.
    fn apply(&mut self, config: Config, trigger: Trigger) -> Result<String, ReloadError> {
        if self.switching.is_some() {
            return Err(ReloadError::Busy);
        }
        let mut plan = reload::plan(&self.shared, config)?;
        let workers = self.workers.len();
        let sets = binds::for_workers(&plan.shared.config, &plan.new_binds, workers, Vec::new())
            .map_err(ReloadError::Bind)?;
        let threads = SideThreads::missing(
            &plan.shared.config,
            self.prober.is_some(),
            self.logger.is_some(),
        )?;
        threads.wire(&mut plan.shared);
        let shared = Arc::new(plan.shared);
        self.start_side_threads(threads, &shared)?;
        reload::ramp_new_servers(&self.shared, &shared, &mut self.ramps, Instant::now());
        self.stats_changed |= reload::stats_changed(&self.shared.config, &shared.config);
        self.listeners.retain(&binds::list(&shared.config));
        self.listeners.apply(&shared.config);
        self.listeners.keep(&sets);
        let reports = reload::hand_over(&self.workers, sets, &shared);
        self.shared = shared;
        let summary = plan.summary.clone();
        self.switching = Some(Switching::new(
            plan.summary,
            plan.changed,
            trigger,
            workers,
            reports,
            Instant::now() + self.switch_wait,
        ));
        Ok(summary)
    }

    /// Starts the side threads `shared` is the first snapshot to need;
    /// the prober already running probes `shared` from now on.
    fn start_side_threads(
        &mut self,
        threads: SideThreads,
        shared: &Arc<Shared>,
    ) -> Result<(), ReloadError> {
        let failed = |name| move |err| ReloadError::Thread { name, err };
        if let Some(l) = threads.logger {
            let config = Arc::clone(&shared.config);
            self.logger = Some(l.spawn(config).map_err(failed("logger"))?);
        }
        if let Some(p) = threads.prober {
            let handle = p.spawn(shared, self.worker_controls());
            self.prober = Some(handle.map_err(failed("prober"))?);
        } else if let Some(p) = &self.prober {
            p.send(ProberControl::Update {
                shared: Arc::clone(shared),
                done: None,
            });
        }
        Ok(())
    }

    /// The switch is over: every worker runs the new snapshot (or the wait
    /// ran out), its changed servers applied. The API connections waiting
    /// for it get their answers; a SIGHUP that came meanwhile reloads.
    fn end_switch(&mut self, switched: Switched) {
        let Switched {
            summary,
            trigger,
            late,
            changed,
        } = switched;
        self.switched += 1;
        if late > 0 {
            log::warn!("reload: {late} worker(s) slow to switch; applying anyway");
        }
        if changed {
            self.rebalance_all();
        }
        match trigger {
            Trigger::Reload => {
                self.shared.process.reloads.fetch_add(1, Relaxed);
                log::info!("reload: applied: {summary}");
                self.notify_ready();
            }
            Trigger::Api(line) => log::info!("{line}"),
        }
        if let Some(mut api) = self.api.take() {
            for token in api.parked() {
                api.on_event(token, self);
            }
            self.api = Some(api);
        }
        if self.reload_queued && self.switching.is_none() {
            self.reload_queued = false;
            if self.phase == Phase::Serving {
                let _ = self.reload();
            }
        }
    }

    /// After RELOADING=1: serving again (unless a stop began meanwhile).
    fn notify_ready(&self) {
        if self.phase == Phase::Serving {
            let cfg = &self.shared.config;
            notify::ready(&format!(
                "{} worker(s), maxconn {}",
                cfg.threads, cfg.maxconn
            ));
        }
    }

    fn rebalance_all(&self) {
        for w in &self.workers {
            w.send(Control::Rebalance);
        }
    }

    /// After a reload changed the `stats` lines: the runtime API keeps the
    /// sockets whose path stayed and opens or closes the others; the
    /// metrics endpoint moves to its new address. A socket that cannot be
    /// bound is logged and stays closed (the rest of the reload holds).
    fn rebind_stats(&mut self) {
        let cfg = &self.shared.config;
        let errors = match &mut self.api {
            Some(api) => api.rebind(cfg),
            None if cfg.stats_sockets.is_empty() => Vec::new(),
            None => match Api::bind(cfg, self.poll.registry(), API_TOKENS, false) {
                Ok(api) => {
                    self.api = Some(api);
                    Vec::new()
                }
                Err(e) => vec![e.to_string()],
            },
        };
        for e in errors {
            log::error!("reload: {e}");
        }
        for path in self.api.iter().flat_map(Api::paths) {
            log::info!("runtime API on {}", path.display());
        }
        let want = cfg.stats_http;
        if self.metrics.as_ref().map(Metrics::configured) == want {
            return;
        }
        let bound = want.map(|addr| {
            Metrics::bind(addr, self.poll.registry(), METRICS_TOKENS).or_else(|e| {
                if e.kind() != io::ErrorKind::AddrInUse || self.metrics.is_none() {
                    return Err(e);
                }
                // The old address holds the port (0.0.0.0:P -> 127.0.0.1:P):
                // closed first.
                self.metrics = None;
                Metrics::bind(addr, self.poll.registry(), METRICS_TOKENS)
            })
        });
        match bound {
            None => {
                self.metrics = None;
                log::info!("reload: metrics endpoint closed");
            }
            Some(Ok(m)) => {
                log::info!("metrics on http://{}/metrics and /stats", m.addr());
                self.metrics = Some(m);
            }
            Some(Err(e)) => log::error!("reload: {e}"),
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

impl api::Runtime for Supervisor {
    fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    fn rates(&self) -> &Rates {
        &self.rates
    }

    fn rebalance(&mut self) {
        self.rebalance_all();
    }

    fn slow_start(&mut self, server: &Arc<Server>) {
        let cfg = &self.shared.config;
        let conf = self
            .shared
            .servers
            .iter()
            .zip(&cfg.backends)
            .find_map(|(list, be)| {
                let i = list.iter().position(|s| Arc::ptr_eq(s, server))?;
                Some(&be.servers[i])
            });
        if let Some(conf) = conf {
            self.ramps.start(server, conf.slowstart, Instant::now());
        }
    }

    fn shutdown_sessions(&mut self, server: &Arc<Server>) {
        for w in &self.workers {
            w.send(Control::ShutdownSessions(Arc::clone(server), Cause::Killed));
        }
    }

    fn add_server(&mut self, backend: usize, conf: ServerConf) -> Result<(), ReloadError> {
        let mut config = Config::clone(&self.shared.config);
        let name = format!("{}/{}", config.backends[backend].name, conf.name);
        config.backends[backend].servers.push(conf);
        let line = format!("server {name} added (runtime API)");
        self.apply(config, Trigger::Api(line)).map(drop)
    }

    fn del_server(&mut self, backend: usize, name: &str) -> Result<(), ReloadError> {
        let mut config = Config::clone(&self.shared.config);
        let label = format!("{}/{name}", config.backends[backend].name);
        config.backends[backend].servers.retain(|s| s.name != name);
        let line = format!("server {label} deleted (runtime API)");
        self.apply(config, Trigger::Api(line)).map(drop)
    }

    fn reload(&mut self) -> Result<String, ReloadError> {
        Supervisor::reload(self)
    }

    fn switching(&self) -> bool {
        self.switching.is_some()
    }

    fn switched(&self) -> u64 {
        self.switched
    }

    fn listener_fds(&self) -> Vec<(OwnedFd, SocketAddr)> {
        self.listeners.copies()
    }
}

fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::path::{Path, PathBuf};

    use crossbeam_channel::TryRecvError;

    use crate::cli::Args;

    /// A conf with the runtime API at `sock`: frontend `fe`, backend `be`
    /// with `servers`.
    fn conf(sock: &Path, servers: &str) -> String {
        format!(
            "global\n nbthread 1\n stats socket {} level admin\n\
             defaults\n mode tcp\n timeout client 1s\n timeout server 1s\n\
             frontend fe\n bind 127.0.0.1:1\n default_backend be\n\
             backend be\n{servers}",
            sock.display()
        )
    }

    /// A supervisor reading the conf at `path`, serving its API, with one
    /// worker whose thread has returned: the test reads the worker's
    /// channel and reports its switches, when it wants to.
    struct Bench {
        sup: Supervisor,
        worker: Receiver<Control>,
        _worker_poll: Poll,
        events: Events,
    }

    impl Bench {
        fn new(path: &Path) -> Bench {
            let args = Args {
                file: Some(path.display().to_string()),
                ..Args::default()
            };
            let source = Source::from_args(&args).unwrap();
            let shared = Arc::new(Shared::new(source.load().unwrap(), None));
            // Blocked in this test's thread only; no test signals them.
            let signals = SignalFd::block(&SIGNALS_HANDLED).unwrap();
            let mut sup = Supervisor::new(signals, shared, source, false).unwrap();
            // Never over by its deadline: the test decides when it is.
            sup.switch_wait = Duration::from_secs(3600);
            let (control, worker) = crossbeam_channel::unbounded();
            let poll = Poll::new().unwrap();
            let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
            let thread = std::thread::spawn(|| Ok(()));
            sup.add_worker(Handle {
                thread,
                control,
                waker,
            });
            Bench {
                sup,
                worker,
                _worker_poll: poll,
                events: Events::with_capacity(64),
            }
        }

        /// Runs turns of the loop until `done` holds (at most `max`);
        /// whether it does.
        fn turns_until(&mut self, max: usize, mut done: impl FnMut(&Supervisor) -> bool) -> bool {
            for _ in 0..max {
                if done(&self.sup) {
                    return true;
                }
                self.sup.turn(&mut self.events).unwrap();
            }
            done(&self.sup)
        }

        /// Runs the loop until `client` has its whole answer (l4lb closed).
        fn answer(&mut self, client: &mut UnixStream) -> String {
            let mut out = Vec::new();
            for _ in 0..100 {
                self.sup.turn(&mut self.events).unwrap();
                match client.read_to_end(&mut out) {
                    Ok(_) => return String::from_utf8(out).unwrap(),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
            panic!("no whole answer: {:?}", String::from_utf8_lossy(&out));
        }

        /// Takes the worker's snapshot and reports it runs it.
        fn switch_worker(&self) {
            loop {
                match self.worker.try_recv() {
                    Ok(Control::Update(update)) => {
                        return update.done.unwrap().send(()).unwrap();
                    }
                    Ok(_) => {}
                    Err(e) => panic!("no update for the worker: {e}"),
                }
            }
        }
    }

    /// A client that sent `line`, reading without blocking.
    fn ask(sock: &Path, line: &str) -> UnixStream {
        let mut c = UnixStream::connect(sock).unwrap();
        c.write_all(format!("{line}\n").as_bytes()).unwrap();
        c.set_nonblocking(true).unwrap();
        c
    }

    /// Whether nothing has come on `c` (no byte, no close).
    fn silent(c: &mut UnixStream) -> bool {
        matches!(c.read(&mut [0u8; 64]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    struct Dir(PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Issue 10: a reload no longer blocks the main thread. While the
    /// worker has not switched, the API answers others; the reload's
    /// answer, and its changed server line, wait for the switch; a change
    /// asked meanwhile runs after it, with a switch of its own.
    #[test]
    fn the_api_is_served_while_a_switch_is_pending_and_the_reload_answers_after_it() {
        let dir = Dir(std::env::temp_dir().join(format!("l4lb-sup-{}", std::process::id())));
        std::fs::create_dir_all(&dir.0).unwrap();
        let (path, sock) = (dir.0.join("l4lb.conf"), dir.0.join("api.sock"));
        std::fs::write(&path, conf(&sock, " server a 127.0.0.1:2\n")).unwrap();
        let mut b = Bench::new(&path);
        let a = Arc::clone(&b.sup.shared.servers[0][0]);
        std::fs::write(&path, conf(&sock, " server a 127.0.0.1:2 weight 5\n")).unwrap();

        let mut reloading = ask(&sock, "reload");
        assert!(b.turns_until(20, |s| s.switching.is_some()), "no switch");
        let info = b.answer(&mut ask(&sock, "show info"));
        assert!(info.contains("Name: l4lb\n"), "{info}");
        let mut adding = ask(&sock, "add server be/b 127.0.0.1:3; show servers state be");
        // More input is an event for the parked connection: still parked.
        reloading.write_all(b"show info\n").unwrap();
        b.turns_until(5, |_| false);
        assert!(
            silent(&mut reloading),
            "the reload answered before its switch"
        );
        assert!(silent(&mut adding), "a second change ran during the switch");
        assert_eq!(a.weight(), 1, "the changed line waits for the switch");
        assert_eq!(b.sup.shared.process.reloads.load(Relaxed), 0);

        b.switch_worker();
        let summary = b.answer(&mut reloading);
        assert_eq!(
            summary,
            "1 frontend(s), 1 backend(s); binds +0 -0; servers +0 -0 ~1\n\n"
        );
        assert_eq!(a.weight(), 5);
        assert_eq!(b.sup.shared.process.reloads.load(Relaxed), 1);
        // The add server ran once that switch was over; it answers at the
        // end of its own, then the rest of its line runs.
        assert!(
            b.turns_until(20, |s| s.switching.is_some()),
            "no second switch"
        );
        assert!(silent(&mut adding));
        b.switch_worker();
        let added = b.answer(&mut adding);
        assert!(added.starts_with("New server registered.\n\n"), "{added}");
        assert!(added.contains("\n2 be 2 b 127.0.0.1 "), "{added}");
        assert!(matches!(b.worker.try_recv(), Err(TryRecvError::Empty)));
    }
}
