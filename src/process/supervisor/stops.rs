//! The two stops. A soft stop (SIGTERM, SIGUSR1) lets every session end
//! and bounds the wait with `hard-stop-after`; a hard stop (SIGINT, that
//! bound, a failed worker) closes every connection now.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::{Phase, Supervisor};
use crate::config::fmt_duration;
use crate::control::Control;
use crate::process::notify;

impl Supervisor {
    /// Serving -> Draining: every worker closes its listeners and returns
    /// once its sessions are done. A second request only logs.
    pub(super) fn soft_stop(&mut self, why: &str) {
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
    pub(super) fn hard_stop(&mut self, why: &str) {
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

    pub(super) fn hard_stop_if_due(&mut self, now: Instant) {
        if let Phase::Draining {
            hard_at: Some(at), ..
        } = self.phase
            && at <= now
        {
            let limit = self.shared.config.hard_stop_after.unwrap_or_default();
            self.hard_stop(&format!("hard-stop-after {} expired", fmt_duration(limit)));
        }
    }
}
