//! A worker's deadlines: a min-heap of (instant, session key).
//!
//! Entries are lazy. Activity on a session only moves its deadline later and
//! touches nothing here; when an entry comes due the worker recomputes the
//! session's real deadline and either expires it or arms it again. A session
//! remembers the instant of its one live entry (`armed`), so entries left
//! behind by a closed session or a rearm are recognised and skipped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use crate::worker::slab::Key;

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Key)>>,
}

impl Timers {
    /// Arms `key` at `at` unless it is already armed at or before `at`.
    /// `armed` is the session's record of its live entry.
    pub(crate) fn arm(&mut self, armed: &mut Option<Instant>, key: Key, at: Instant) {
        if armed.is_some_and(|t| t <= at) {
            return;
        }
        *armed = Some(at);
        self.heap.push(Reverse((at, key)));
    }

    /// Pops the next entry due at `now`, as (instant it was armed for, key).
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, Key)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Time until the next entry, None when there is none.
    pub(crate) fn next_in(&self, now: Instant) -> Option<Duration> {
        self.heap
            .peek()
            .map(|Reverse((at, _))| at.saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_rearm_earlier_only() {
        let mut t = Timers::default();
        let now = Instant::now();
        let (mut a, mut b) = (None, None);
        let (k1, k2) = (Key::from_parts(1, 1), Key::from_parts(2, 1));
        t.arm(&mut a, k1, now + Duration::from_secs(5));
        t.arm(&mut b, k2, now + Duration::from_secs(1));
        // Arming later than the live entry is a no-op; earlier replaces it.
        t.arm(&mut a, k1, now + Duration::from_secs(9));
        assert_eq!(a, Some(now + Duration::from_secs(5)));
        t.arm(&mut a, k1, now + Duration::from_millis(500));
        assert_eq!(t.next_in(now), Some(Duration::from_millis(500)));
        assert!(t.pop_due(now).is_none());
        let late = now + Duration::from_secs(10);
        let got: Vec<_> = std::iter::from_fn(|| t.pop_due(late))
            .map(|(_, s)| s)
            .collect();
        assert_eq!(
            got,
            vec![k1, k2, k1],
            "the stale entry of k1 still pops; the worker skips it"
        );
    }
}
