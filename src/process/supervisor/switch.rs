//! How the supervisor runs a reload: reads the conf again (SIGHUP, the
//! API's `reload`) or takes the API's changed one, applies its plan
//! ([`crate::process::reload`]) without blocking the loop, and ends the
//! Switching phase once every thread reported: answers the API connections
//! parked on it and runs the SIGHUP that came meanwhile.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::{Phase, Supervisor};
use crate::config::Config;
use crate::process::binds;
use crate::process::notify;
use crate::process::reload::{self, ReloadError, SideThreads, Switched, Switching, Trigger};
use crate::shared::Shared;

impl Supervisor {
    /// SIGHUP or the API's `reload`: reads the configuration again and, if
    /// it is valid, applies it without closing a listener or a connection
    /// (see [`Supervisor::apply`]); Ok is the summary. If not, logs every
    /// error and keeps running the current one.
    pub(super) fn reload(&mut self) -> Result<String, ReloadError> {
        if self.phase != Phase::Serving {
            return Err(ReloadError::Stopping);
        }
        if self.switching.is_some() {
            return Err(ReloadError::Busy);
        }
        notify::reloading();
        let result = crate::process::startup::load(&self.source)
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
    /// prober, and is [`Switching`] until they run it. Ok is the plan's
    /// summary.
    pub(super) fn apply(
        &mut self,
        config: Config,
        trigger: Trigger,
    ) -> Result<String, ReloadError> {
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
        // A prober started now runs `shared` from the start: no report.
        let prober_running = self.prober.is_some();
        self.start_side_threads(threads, &shared)?;
        reload::ramp_new_servers(&self.shared, &shared, &mut self.ramps, Instant::now());
        self.stats_changed |= reload::stats_changed(&self.shared.config, &shared.config);
        self.listeners.retain(&binds::list(&shared.config));
        self.listeners.apply(&shared.config);
        self.listeners.keep(&sets);
        let prober = self.prober.as_ref().filter(|_| prober_running);
        let reports = reload::hand_over(&self.workers, prober, sets, &shared, &self.waker);
        self.shared = shared;
        let summary = plan.summary.clone();
        self.switching = Some(Switching::new(
            plan.summary,
            plan.changed,
            trigger,
            reports,
            Instant::now() + self.switch_wait,
        ));
        Ok(summary)
    }

    /// Starts the side threads `shared` is the first snapshot to need (a
    /// prober already running gets it in [`reload::hand_over`]).
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
        }
        Ok(())
    }

    /// The switch is over: every worker and the prober run the new
    /// snapshot (or the wait ran out), its changed servers applied. The API connections waiting
    /// for it get their answers; a SIGHUP that came meanwhile reloads.
    pub(super) fn end_switch(&mut self, switched: Switched) {
        let Switched {
            summary,
            trigger,
            late,
            changed,
        } = switched;
        self.switched += 1;
        if late > 0 {
            log::warn!("reload: {late} thread(s) slow to switch; applying anyway");
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
}
