//! `balance roundrobin`: smooth weighted round robin (nginx's algorithm).
//!
//! Every server holds a credit. On each pick, every candidate's credit grows
//! by its weight, the candidate with the most credit wins and pays back the
//! sum of the candidates' weights. Over a cycle of `sum(weights)` picks each
//! server is chosen `weight` times, and spread out: weights 5,1,1 give
//! `a a b a c a a`, not `a a a a a b c`.
//!
//! Credits grow by the effective weight (`eweight`, which slow start ramps),
//! so a server coming back takes its share gradually.
//!
//! A server that is not a candidate (unavailable, weight 0, or the avoided
//! server of a retry) neither earns nor pays for that pick, so the others
//! keep their mutual ratio, and it resumes with the credit it had, without a
//! burst to catch up. The pick is O(servers); HAProxy's tree is O(log n), but
//! a linear pass over a few dozen servers is as fast and allocation-free.

use std::sync::Arc;

use super::eligible;
use crate::backend::Server;

#[derive(Debug)]
pub(super) struct SmoothRoundRobin {
    /// nginx's `current_weight`, per server. Their sum stays 0 when every
    /// server takes part, so the values stay within ± the total weight.
    credit: Vec<i64>,
}

impl SmoothRoundRobin {
    pub(super) fn new(servers: &[Arc<Server>]) -> SmoothRoundRobin {
        SmoothRoundRobin {
            credit: vec![0; servers.len()],
        }
    }

    pub(super) fn pick(&mut self, servers: &[Arc<Server>], avoid: Option<usize>) -> Option<usize> {
        let mut best: Option<usize> = None;
        let mut total = 0;
        for (i, s) in servers.iter().enumerate() {
            if !eligible(servers, i, avoid) {
                continue;
            }
            let weight = i64::try_from(s.eweight()).unwrap_or(i64::MAX);
            self.credit[i] += weight;
            total += weight;
            // Strictly more: on a tie the earlier server wins, as in nginx.
            if best.is_none_or(|b| self.credit[i] > self.credit[b]) {
                best = Some(i);
            }
        }
        let b = best?;
        self.credit[b] -= total;
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testutil::*;
    use super::*;

    fn sequence(rr: &mut SmoothRoundRobin, servers: &[Arc<Server>], n: usize) -> Vec<usize> {
        (0..n).map(|_| rr.pick(servers, None).unwrap()).collect()
    }

    #[test]
    fn roundrobin_weights_give_configured_ratio() {
        let weights = [1, 2, 3, 4];
        let servers = weighted(&weights);
        let mut rr = SmoothRoundRobin::new(&servers);
        let mut counts = [0; 4];
        for i in sequence(&mut rr, &servers, 10_000) {
            counts[i] += 1;
        }
        assert_ratio(&counts, &weights, 0.02);
        // Smooth WRR is exact over every full cycle of sum(weights) picks.
        assert_eq!(counts, [1000, 2000, 3000, 4000]);
    }

    #[test]
    fn smooth_roundrobin_has_no_bursts() {
        let servers = weighted(&[5, 1, 1]);
        let mut rr = SmoothRoundRobin::new(&servers);
        let seq = sequence(&mut rr, &servers, 70);
        // nginx's documented sequence for weights 5,1,1: a a b a c a a.
        assert_eq!(seq[..7], [0, 0, 1, 0, 2, 0, 0]);
        for pair in seq.windows(2) {
            assert!(
                pair[0] == 0 || pair[1] == 0,
                "weight-1 servers back to back: {seq:?}"
            );
        }
    }

    #[test]
    fn roundrobin_equal_weights_alternate() {
        let servers = weighted(&[1, 1, 1]);
        let mut rr = SmoothRoundRobin::new(&servers);
        assert_eq!(sequence(&mut rr, &servers, 6), [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn roundrobin_skipped_server_keeps_ratio_of_the_others() {
        let weights = [1, 2, 3, 4];
        let servers = vec![
            server("a", 1, 0, false),
            server("b", 2, 0, false),
            server("c", 3, 1, false),
            server("d", 4, 0, false),
        ];
        let mut rr = SmoothRoundRobin::new(&servers);
        let held = hold(&servers[2], 1);
        let mut counts = [0; 4];
        for i in sequence(&mut rr, &servers, 7_000) {
            counts[i] += 1;
        }
        assert_eq!(counts[2], 0);
        assert_ratio(&[counts[0], counts[1], counts[3]], &[1, 2, 4], 0.02);

        // Back in service: it rejoins at its own share, without a burst.
        drop(held);
        let seq = sequence(&mut rr, &servers, 10_000);
        let mut counts = [0; 4];
        for &i in &seq {
            counts[i] += 1;
        }
        assert_ratio(&counts, &weights, 0.02);
        let c_first_cycle = seq[..10].iter().filter(|&&i| i == 2).count();
        assert!(
            c_first_cycle <= 4,
            "server c bursts on return: {:?}",
            &seq[..10]
        );
    }

    #[test]
    fn roundrobin_avoid_skips_only_that_pick() {
        let servers = weighted(&[1, 1]);
        let mut rr = SmoothRoundRobin::new(&servers);
        assert_eq!(rr.pick(&servers, None), Some(0));
        assert_eq!(rr.pick(&servers, Some(1)), Some(0));
        assert_eq!(rr.pick(&servers, None), Some(1));
        assert_eq!(rr.pick(&servers, None), Some(0));
    }
}
