//! `balance first`: fill servers in conf order.
//!
//! The first server (in conf order) that is available, i.e. below its
//! maxconn, takes the connection; the next one is used only once it is full.
//! Servers without a maxconn are never full, so one of them takes everything
//! that reaches it. This keeps the number of busy servers minimal (HAProxy's
//! use: let idle servers be powered down).
//!
//! Weights do not matter here, so slow start thins a ramping server's picks
//! instead: it takes a pick that reaches it with probability
//! ramp / RAMP_FULL, and the rest go on to the next server (back to it if
//! none other can take them).

use std::sync::Arc;

use super::first_admitted;
use super::random::XorShift64Star;
use crate::backend::Server;

/// The servers' counters are the whole state, but for slow start's draws.
#[derive(Debug)]
pub(super) struct First {
    rng: XorShift64Star,
}

impl First {
    pub(super) fn new(seed: u64) -> First {
        First {
            rng: XorShift64Star::new(seed),
        }
    }

    pub(super) fn pick(&mut self, servers: &[Arc<Server>], avoid: Option<usize>) -> Option<usize> {
        first_admitted(0..servers.len(), servers, avoid, |_| self.rng.next())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testutil::*;
    use super::*;

    #[test]
    fn first_picks_first_with_free_slot_then_moves_on_when_full() {
        let servers = vec![
            server("a", 1, 2, false),
            server("b", 1, 3, false),
            server("c", 1, 0, false),
        ];
        let mut first = First::new(1);
        let mut held = Vec::new();
        let mut order = Vec::new();
        for _ in 0..8 {
            let i = first.pick(&servers, None).unwrap();
            order.push(i);
            held.extend(hold(&servers[i], 1));
        }
        assert_eq!(order, [0, 0, 1, 1, 1, 2, 2, 2]);

        // A slot freed on the first server is taken again before the others.
        held.remove(0);
        assert_eq!(first.pick(&servers, None), Some(0));
    }

    #[test]
    fn first_skips_avoided_server() {
        let servers = weighted(&[1, 1]);
        assert_eq!(First::new(1).pick(&servers, Some(0)), Some(1));
    }
}
