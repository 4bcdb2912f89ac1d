//! What a finished check does to its server: the health counter, the
//! published status, a change of state (logged once, slow start, and
//! `on-marked-down shutdown-sessions`), `disable-on-404`'s NOLB,
//! `option log-health-checks`, and the agent's reply.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::probe::{Outcome, Role};
use super::{Prober, agent};
use crate::backend::CheckStatus;
use crate::control::Control;
use crate::logs::tcplog::Cause;

impl Prober {
    /// Records a result; on a change of state, sets it, logs it once and,
    /// with `on-marked-down shutdown-sessions`, has the workers cut the
    /// server's connections.
    pub(super) fn apply(&mut self, i: usize, outcome: &Outcome, took: Duration) {
        if let Role::Agent(_) = self.probes[i].role {
            return self.apply_agent(i, outcome, took);
        }
        let since_start = self.since_start();
        let probe = &mut self.probes[i];
        // A 404 under `disable-on-404` keeps an UP server UP without new
        // connections (any other result ends that); to a DOWN server it is
        // a wrong status, as HAProxy.
        let demoted;
        let outcome = match outcome {
            Outcome::Passed(CheckStatus::L7Okc, why) if !probe.says_up() => {
                demoted = Outcome::Failed(CheckStatus::L7Sts, why.clone());
                &demoted
            }
            other => other,
        };
        let nolb = matches!(outcome, Outcome::Passed(CheckStatus::L7Okc, _));
        probe.server.set_nolb(nolb);
        let before = (probe.health, probe.stats().status.load(Relaxed));
        let change = probe.record(outcome);
        probe.publish(outcome, took, change, since_start);
        // HAProxy reports a result whose status or health differs.
        let after = (probe.health, probe.stats().status.load(Relaxed));
        if probe.log_health && after != before {
            self.log_health(i, outcome, took);
        }
        if let Some(up) = change {
            self.changed(i, up, reason(outcome), took);
        }
    }

    /// An agent's result: its reply's words take effect; not reaching it,
    /// or a reply it cannot read, changes nothing (HAProxy).
    fn apply_agent(&mut self, i: usize, outcome: &Outcome, took: Duration) {
        let since_start = self.since_start();
        let probe = &mut self.probes[i];
        let reply = match outcome {
            Outcome::Passed(_, line) => agent::parse(line),
            Outcome::Failed(_, why) => Err(why.clone()),
        };
        let reply = match reply {
            Ok(reply) => reply,
            Err(why) => {
                let shown = match outcome {
                    Outcome::Failed(status, _) => *status,
                    Outcome::Passed(..) => CheckStatus::L7Rsp,
                };
                probe.publish(&Outcome::Failed(shown, why), took, None, since_start);
                return;
            }
        };
        agent::apply_settings(&probe.server, &reply);
        let say = agent::state(&reply);
        let was_up = probe.says_up();
        if let Some(up) = say {
            if !up && probe.health > 0 {
                probe.stats().failed.fetch_add(1, Relaxed);
            }
            probe.health = if up { probe.max_health() } else { 0 };
        }
        let change = say.filter(|&up| up != was_up);
        let shown = match say {
            Some(false) => Outcome::Failed(CheckStatus::L7Sts, reply.summary()),
            Some(true) => Outcome::Passed(CheckStatus::L7Ok, reply.summary()),
            None => Outcome::Passed(CheckStatus::Checked, reply.summary()),
        };
        probe.publish(&shown, took, change, since_start);
        if let Some(up) = change {
            self.changed(i, up, &reply.summary(), took);
        }
    }

    fn since_start(&self) -> u64 {
        self.shared.process.started.elapsed().as_millis() as u64
    }

    /// The server's state changed by probe `i`'s say.
    fn changed(&mut self, i: usize, up: bool, reason: &str, took: Duration) {
        let server = Arc::clone(&self.probes[i].server);
        let was_in = server.is_up();
        self.probes[i].set_up(up);
        let now_up = server.is_up();
        if now_up && !was_in {
            // The ramp starts before workers can see the server UP.
            self.ramps
                .start(&server, self.probes[i].slowstart, Instant::now());
        } else if !now_up {
            self.ramps.stop(&server);
        }
        let probe = &self.probes[i];
        let servers = &self.shared.servers[probe.backend];
        let left = servers.iter().filter(|s| s.in_service()).count();
        let (new, old) = if up { ("UP", "DOWN") } else { ("DOWN", "UP") };
        let by = match probe.role {
            Role::Health => "check",
            Role::Agent(_) => "agent",
        };
        let line = format!(
            "server {} is {new} (was {old}): {reason}, {by} took {}ms; \
             {left} of {} server(s) UP in the backend",
            probe.label,
            took.as_millis(),
            servers.len()
        );
        if up {
            log::info!("{line}");
            return;
        }
        log::warn!("{line}");
        if probe.shutdown_on_down && was_in {
            for (tx, waker) in &self.workers {
                let msg = Control::ShutdownSessions(Arc::clone(&probe.server), Cause::Down);
                let _ = tx.send(msg);
                let _ = waker.wake();
            }
        }
    }

    /// `option log-health-checks`: a result whose status or health
    /// differs from the last one, in HAProxy's words.
    fn log_health(&self, i: usize, outcome: &Outcome, took: Duration) {
        let probe = &self.probes[i];
        let (verb, status, info) = match outcome {
            Outcome::Passed(CheckStatus::L7Okc, why) => {
                ("conditionally succeeded", CheckStatus::L7Okc, why)
            }
            Outcome::Passed(status, why) => ("succeeded", *status, why),
            Outcome::Failed(status, why) => ("failed", *status, why),
        };
        let (health, rise, fall) = (probe.health, probe.check.rise, probe.check.fall);
        let (n, of, state) = if health >= rise {
            let state = if probe.server.weight() > 0 {
                "UP"
            } else {
                "DRAIN"
            };
            (health - rise + 1, fall, state)
        } else {
            (health, rise, "DOWN")
        };
        let backup = if probe.server.is_backup() {
            "backup "
        } else {
            ""
        };
        let (code, info) = match probe.stats().code.load(Relaxed) {
            0 => (String::new(), info.as_str()),
            n => (format!(", code: {n}"), super::probe::split_code(info).1),
        };
        // As HAProxy: a passed check has no info.
        let info = match outcome {
            Outcome::Failed(..) => format!(", info: {info:?}"),
            Outcome::Passed(..) => String::new(),
        };
        log::warn!(
            "Health check for {backup}server {} {verb}, reason: {}{code}{info}, \
             check duration: {}ms, status: {n}/{of} {state}.",
            probe.label,
            status.description(),
            took.as_millis(),
        );
    }
}

fn reason(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Passed(_, why) | Outcome::Failed(_, why) => why,
    }
}
