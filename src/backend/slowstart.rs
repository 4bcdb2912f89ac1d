//! Slow start's clock: servers whose effective weight is ramping up, and
//! the steps that raise it. The prober runs one for servers coming back UP;
//! the supervisor runs one for servers leaving maintenance or drain, and
//! for servers added at run time.
//!
//! A ramp goes from 1/[`RAMP_FULL`] of the weight to all of it over the
//! server's `slowstart` time, raised [`STEPS`] times (HAProxy: 20), at
//! most every [`MIN_STEP`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::{RAMP_FULL, Server};

pub const STEPS: u32 = 32;
pub const MIN_STEP: Duration = Duration::from_millis(10);

struct Ramp {
    server: Arc<Server>,
    since: Instant,
    over: Duration,
}

#[derive(Default)]
pub struct SlowStarts {
    ramps: Vec<Ramp>,
    next: Option<Instant>,
}

impl SlowStarts {
    /// Starts (or restarts) `server`'s ramp over `over`; nothing if zero.
    /// Call it before the server can take traffic, so it never gets its
    /// full weight first.
    pub fn start(&mut self, server: &Arc<Server>, over: Duration, now: Instant) {
        if over.is_zero() {
            return;
        }
        server.set_ramp(1);
        self.ramps.retain(|r| !Arc::ptr_eq(&r.server, server));
        self.ramps.push(Ramp {
            server: Arc::clone(server),
            since: now,
            over,
        });
        let at = now + step(over);
        self.next = Some(self.next.map_or(at, |t| t.min(at)));
    }

    /// Ends `server`'s ramp now (it went DOWN: its next UP starts over).
    pub fn stop(&mut self, server: &Arc<Server>) {
        self.ramps.retain(|r| !Arc::ptr_eq(&r.server, server));
        server.set_ramp(RAMP_FULL);
    }

    /// When `raise` should run next; None when nothing ramps.
    pub fn next_at(&self) -> Option<Instant> {
        self.next
    }

    /// Raises every ramp to its share of the time elapsed; ended ones go.
    pub fn raise(&mut self, now: Instant) {
        if self.next.is_none_or(|at| at > now) {
            return;
        }
        self.next = None;
        self.ramps.retain(|r| {
            let elapsed = now.duration_since(r.since);
            if elapsed >= r.over {
                r.server.set_ramp(RAMP_FULL);
                return false;
            }
            let ramp = u128::from(RAMP_FULL) * elapsed.as_nanos() / r.over.as_nanos();
            r.server.set_ramp(u32::try_from(ramp).unwrap_or(RAMP_FULL));
            true
        });
        for r in &self.ramps {
            let at = now + step(r.over);
            self.next = Some(self.next.map_or(at, |t| t.min(at)));
        }
    }
}

fn step(over: Duration) -> Duration {
    (over / STEPS).max(MIN_STEP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::server;

    #[test]
    fn a_ramp_grows_from_its_minimum_to_full_over_its_time() {
        let s = server("s");
        let mut ramps = SlowStarts::default();
        let t0 = Instant::now();
        ramps.start(&s, Duration::from_secs(10), t0);
        assert_eq!(s.ramp(), 1);
        ramps.raise(t0 + Duration::from_secs(5));
        assert_eq!(s.ramp(), RAMP_FULL / 2);
        assert!(ramps.next_at().is_some());
        ramps.raise(t0 + Duration::from_secs(10));
        assert_eq!(s.ramp(), RAMP_FULL);
        assert_eq!(ramps.next_at(), None, "done");
    }

    #[test]
    fn no_slowstart_no_ramp() {
        let s = server("s");
        let mut ramps = SlowStarts::default();
        ramps.start(&s, Duration::ZERO, Instant::now());
        assert_eq!(s.ramp(), RAMP_FULL);
        assert_eq!(ramps.next_at(), None);
    }
}
