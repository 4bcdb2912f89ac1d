//! `balance random(N)`: power of N choices.
//!
//! Draw N servers at random, each draw weighted by weight among the servers
//! that can take this pick, and keep the least loaded (`cur() / weight`; the
//! first draw keeps a tie, so with no load the result is a plain weighted
//! draw). Two draws already avoid most of the herding of pure random, at
//! O(N) cost instead of leastconn's full scan. Draws may repeat a server, as
//! in HAProxy.
//!
//! A draw first tries the static weight table (binary search) and rejects
//! servers that cannot take the pick; after [`REJECTION_TRIES`] misses it
//! falls back to one exact pass over the eligible servers. Both are exact
//! weighted draws among eligible servers, so their mix is too, and the
//! common case costs one table lookup.
//!
//! Slow start: a table draw of a ramping server is kept with probability
//! ramp / RAMP_FULL, and the exact pass and the load comparison use the
//! ramped weight, so both paths give the server its ramped share.
//!
//! The RNG is per worker (xorshift64*), seeded from the worker's seed, so it
//! needs no lock and workers do not draw in lockstep.

use std::sync::Arc;

use super::{Load, WeightTable, admits, eligible};
use crate::backend::Server;

/// Table draws rejected before one exact pass over the eligible servers.
const REJECTION_TRIES: u32 = 8;

#[derive(Debug)]
pub(super) struct PowerOfChoices {
    table: WeightTable,
    draws: u32,
    rng: XorShift64Star,
}

impl PowerOfChoices {
    /// `draws` = 0 is taken as 1 (a plain weighted random pick).
    pub(super) fn new(servers: &[Arc<Server>], draws: u32, seed: u64) -> PowerOfChoices {
        PowerOfChoices {
            table: WeightTable::new(servers),
            draws: draws.max(1),
            rng: XorShift64Star::new(seed),
        }
    }

    pub(super) fn pick(&mut self, servers: &[Arc<Server>], avoid: Option<usize>) -> Option<usize> {
        let mut best: Option<(usize, Load)> = None;
        for _ in 0..self.draws {
            let i = self.draw(servers, avoid)?;
            let load = Load::of(&servers[i]);
            if best.is_none_or(|(_, b)| load.lighter_than(b)) {
                best = Some((i, load));
            }
        }
        best.map(|(i, _)| i)
    }

    /// One server, weighted by weight among those eligible. None if none is.
    fn draw(&mut self, servers: &[Arc<Server>], avoid: Option<usize>) -> Option<usize> {
        let total = self.table.total();
        if total == 0 {
            return None;
        }
        for _ in 0..REJECTION_TRIES {
            let i = self
                .table
                .server(self.table.entry_at(self.rng.below(total)));
            // Slow start thins a ramping server's table draws to its ramp.
            if eligible(servers, i, avoid) && admits(&servers[i], self.rng.next()) {
                return Some(i);
            }
        }
        self.draw_by_scan(servers, avoid)
    }

    /// Weighted reservoir sampling of one: each eligible server replaces the
    /// choice with probability eweight / (eligible eweight seen so far).
    fn draw_by_scan(&mut self, servers: &[Arc<Server>], avoid: Option<usize>) -> Option<usize> {
        let mut seen = 0;
        let mut chosen = None;
        for e in 0..self.table.len() {
            let i = self.table.server(e);
            if !eligible(servers, i, avoid) {
                continue;
            }
            let weight = servers[i].eweight();
            seen += weight;
            if self.rng.below(seen) < weight {
                chosen = Some(i);
            }
        }
        chosen
    }
}

/// Marsaglia's xorshift64 with a multiplying output (Vigna's xorshift64*):
/// tiny state, good high bits, never stuck once seeded non-zero.
#[derive(Debug)]
pub(super) struct XorShift64Star(u64);

impl XorShift64Star {
    /// Any seed works: it is scrambled (splitmix64) so neighbouring worker
    /// seeds give unrelated streams, and a zero state is replaced.
    pub(super) fn new(seed: u64) -> XorShift64Star {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        XorShift64Star(if z == 0 { 0x2545_f491_4f6c_dd1d } else { z })
    }

    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0) by multiply-shift, which uses the high bits;
    /// the bias, at most n / 2^64, is far below anything measurable here.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testutil::*;
    use super::*;

    #[test]
    fn random_weighted_draws_give_configured_ratio() {
        let weights = [1, 2, 3, 4];
        let servers = weighted(&weights);
        for draws in [1, 2] {
            let mut rnd = PowerOfChoices::new(&servers, draws, 42);
            let mut counts = [0; 4];
            for _ in 0..10_000 {
                counts[rnd.pick(&servers, None).unwrap()] += 1;
            }
            assert_ratio(&counts, &weights, 0.02);
        }
    }

    #[test]
    fn random_unavailable_heavy_server_keeps_ratio_of_the_others() {
        // The full server has most of the table's weight, so most table draws
        // are rejected and the exact scan does the work.
        let servers = vec![
            server("a", 1, 0, false),
            server("big", 200, 1, false),
            server("c", 3, 0, false),
        ];
        let _big = hold(&servers[1], 1);
        let mut rnd = PowerOfChoices::new(&servers, 1, 3);
        let mut counts = [0; 3];
        for _ in 0..10_000 {
            counts[rnd.pick(&servers, None).unwrap()] += 1;
        }
        assert_eq!(counts[1], 0);
        assert_ratio(&[counts[0], counts[2]], &[1, 3], 0.02);
    }

    /// Picks (holding each connection) while server 0, which starts with
    /// `held` connections, is strictly the most loaded of three equal
    /// servers. Returns (picks, picks that went to server 0).
    fn catch_up(held: u32, seed: u64) -> (u32, u32) {
        let servers = weighted(&[1, 1, 1]);
        let mut guards = hold(&servers[0], held);
        let mut rnd = PowerOfChoices::new(&servers, 2, seed);
        let (mut picks, mut to_loaded) = (0, 0);
        while servers[0].cur() > servers[1].cur().max(servers[2].cur()) {
            let i = rnd.pick(&servers, None).unwrap();
            picks += 1;
            to_loaded += u32::from(i == 0);
            guards.extend(hold(&servers[i], 1));
        }
        (picks, to_loaded)
    }

    #[test]
    fn random_sends_picks_to_others_until_loads_even_out() {
        const HELD: u32 = 30;
        // Server 0 wins only when both draws hit it (1 in 9), so the others
        // gain 3/9 of a connection on it per pick: about 3 * HELD picks.
        let (picks, to_loaded) = catch_up(HELD, 9);
        assert!(
            to_loaded * 5 <= picks,
            "{to_loaded} of {picks} picks went to the loaded server"
        );
        assert!(picks <= 5 * HELD, "{picks} picks to even out");
    }

    #[test]
    fn random_workers_with_different_seeds_draw_differently() {
        let servers = weighted(&[1; 8]);
        let seq = |seed| {
            let mut rnd = PowerOfChoices::new(&servers, 1, seed);
            (0..32)
                .map(|_| rnd.pick(&servers, None).unwrap())
                .collect::<Vec<_>>()
        };
        assert_ne!(seq(0), seq(1));
        assert_eq!(seq(5), seq(5));
    }

    #[test]
    fn rng_zero_seed_is_not_stuck() {
        let mut rng = XorShift64Star::new(0);
        let a = rng.next();
        let b = rng.next();
        assert!(a != 0 && b != 0 && a != b);
    }
}
