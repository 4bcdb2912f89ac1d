//! The main thread once l4lb serves: one mio `Poll` that waits for signals
//! (through a signalfd) and for worker threads to end, and runs the stops.
//!
//! SIGTERM and SIGUSR1 start a soft stop: workers close their listeners and
//! return once their last session has ended; `hard-stop-after` bounds the
//! wait, then workers close what is left. SIGINT stops at once (a hard
//! stop). SIGHUP asks for a reload. The process is done when every worker
//! thread has returned; the prober is stopped then, and all are joined.
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

use crate::admin_service::Tokens;
use crate::api::{self, Api};
use crate::backend::Server;
use crate::binds::{self, Kept};
use crate::config::{Config, ServerConf, Source, fmt_duration};
use crate::control::{Control, ExitNotice, Handle, ProberControl, Update};
use crate::health::{self, ProberParts};
use crate::logger::{Logger, LoggerHandle};
use crate::metrics::Metrics;
use crate::notify;
use crate::reload;
use crate::shared::Shared;
use crate::slowstart::SlowStarts;
use crate::stats::Rates;
use crate::sys::SignalFd;
use crate::tcplog::Cause;

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
}

/// How often rates are read.
const RATE_TICK: Duration = Duration::from_secs(1);
/// How long a reload waits for every worker to run the new snapshot.
const SWITCH_WAIT: Duration = Duration::from_secs(2);

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
            match self.poll.poll(&mut events, self.timeout()) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.fail(e);
                    self.hard_stop("supervisor poll failed");
                    self.wait_workers();
                    break;
                }
            }
            for event in events.iter() {
                self.dispatch(event.token());
            }
            if std::mem::take(&mut self.stats_changed) {
                self.rebind_stats();
            }
            let now = Instant::now();
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
        self.finish()
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
    /// connection, the soft stop's end.
    fn timeout(&self) -> Option<Duration> {
        let mut next = self.next_tick;
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
        Some(next.saturating_duration_since(Instant::now()) + Duration::from_micros(999))
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
    /// it is valid, applies it without closing a listener or a connection.
    /// If not, logs every error and keeps running the current one.
    fn reload(&mut self) -> Result<String, String> {
        if self.phase != Phase::Serving {
            return Err("stopping: reload refused".into());
        }
        notify::reloading();
        let result = self.source.load().map_err(|errors| {
            for e in &errors {
                log::error!("reload: {e}");
            }
            format!(
                "configuration is invalid ({} error(s)); still running the previous one",
                errors.len()
            )
        });
        let result = result.and_then(|config| {
            for w in &config.warnings {
                log::warn!("reload: {w}");
            }
            self.apply(config)
        });
        let process = &self.shared.process;
        match &result {
            Ok(summary) => {
                process.reloads.fetch_add(1, Relaxed);
                log::info!("reload: applied: {summary}");
            }
            Err(e) => {
                process.reload_failures.fetch_add(1, Relaxed);
                log::error!("reload: failed: {e}");
            }
        }
        let cfg = &self.shared.config;
        notify::ready(&format!(
            "{} worker(s), maxconn {}",
            cfg.threads, cfg.maxconn
        ));
        result
    }

    /// Makes `config` the running configuration (see [`reload`]): binds
    /// the new listeners for every worker first, so a bind that fails
    /// changes nothing, then hands the snapshot to the workers and the
    /// prober.
    fn apply(&mut self, config: Config) -> Result<String, String> {
        let mut plan = reload::plan(&self.shared, config)?;
        let workers = self.workers.len();
        let per_worker =
            binds::for_workers(&plan.shared.config, &plan.new_binds, workers, Vec::new())
                .map_err(|e| e.to_string())?;
        // Servers new to the process start their slow start before any
        // worker can pick them.
        let now = Instant::now();
        for (be, servers) in plan.shared.config.backends.iter().zip(&plan.shared.servers) {
            for (conf, server) in be.servers.iter().zip(servers) {
                let known = self
                    .shared
                    .servers
                    .iter()
                    .flatten()
                    .any(|s| Arc::ptr_eq(s, server));
                if !known {
                    self.ramps.start(server, conf.slowstart, now);
                }
            }
        }
        // The first `check` or `option tcplog` of the process: its thread
        // starts with this snapshot.
        let prober = (self.prober.is_none() && health::needs_prober(&plan.shared.config))
            .then(ProberParts::new)
            .transpose()
            .map_err(|e| format!("cannot start the prober: {e}"))?;
        if let Some(p) = &prober {
            plan.shared.observer = Some(p.observer());
        }
        let logger = if self.logger.is_none() {
            Logger::new(&plan.shared.config)
        } else {
            None
        };
        if let Some(l) = &logger {
            plan.shared.log = Some(l.sender());
        }
        let shared = Arc::new(plan.shared);
        if let Some(l) = logger {
            let handle = l
                .spawn(Arc::clone(&shared.config))
                .map_err(|e| format!("cannot start the logger: {e}"))?;
            self.logger = Some(handle);
        }
        if let Some(p) = prober {
            let handle = p
                .spawn(&shared, self.worker_controls())
                .map_err(|e| format!("cannot start the prober: {e}"))?;
            self.prober = Some(handle);
        } else if let Some(p) = &self.prober {
            p.send(ProberControl::Update {
                shared: Arc::clone(&shared),
                done: None,
            });
        }
        let (was, now) = (&self.shared.config, &shared.config);
        self.stats_changed = was.stats_sockets != now.stats_sockets
            || was.stats_timeout != now.stats_timeout
            || was.stats_maxconn != now.stats_maxconn
            || was.stats_http != now.stats_http;
        self.listeners.retain(&binds::list(&shared.config));
        self.listeners.keep(&per_worker);
        let (done, switched) = crossbeam_channel::unbounded();
        for (w, listeners) in self.workers.iter().zip(per_worker) {
            w.send(Control::Update(Box::new(Update {
                shared: Arc::clone(&shared),
                listeners,
                done: Some(done.clone()),
            })));
        }
        self.shared = shared;
        // Changed server lines apply once no worker picks by the old
        // snapshot anymore; a worker's switch takes microseconds.
        let deadline = Instant::now() + SWITCH_WAIT;
        let mut waiting = self.workers.len();
        while waiting > 0 && switched.recv_deadline(deadline).is_ok() {
            waiting -= 1;
        }
        if waiting > 0 {
            log::warn!("reload: {waiting} worker(s) slow to switch; applying anyway");
        }
        if !plan.changed.is_empty() {
            reload::Plan::apply_changes(plan.changed);
            for w in &self.workers {
                w.send(Control::Rebalance);
            }
        }
        Ok(plan.summary)
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
        for w in &self.workers {
            w.send(Control::Rebalance);
        }
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

    fn add_server(&mut self, backend: usize, conf: ServerConf) -> Result<(), String> {
        let mut config = Config::clone(&self.shared.config);
        let name = format!("{}/{}", config.backends[backend].name, conf.name);
        config.backends[backend].servers.push(conf);
        self.apply(config)?;
        log::info!("server {name} added (runtime API)");
        Ok(())
    }

    fn del_server(&mut self, backend: usize, name: &str) -> Result<(), String> {
        let mut config = Config::clone(&self.shared.config);
        let label = format!("{}/{name}", config.backends[backend].name);
        config.backends[backend].servers.retain(|s| s.name != name);
        self.apply(config)?;
        log::info!("server {label} deleted (runtime API)");
        Ok(())
    }

    fn reload(&mut self) -> Result<String, String> {
        Supervisor::reload(self)
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
