//! `balance leastconn`: the server with the fewest connections per weight.
//!
//! Load is `(cur() + 1) / eweight`, the load once this connection is added
//! (HAProxy's key, which weighs a server in slow start fairly), where `cur()` counts the connections of all
//! workers (one shared atomic per server), so every worker balances the same
//! totals rather than its own share. Loads are compared by cross-multiplying,
//! exactly and without floats. Ties are common (idle servers all have load 0),
//! so the scan starts one past the previous winner: equal servers take turns
//! instead of the first in conf order taking every tie.

use std::sync::Arc;

use super::{Load, eligible};
use crate::backend::Server;

#[derive(Debug)]
pub(super) struct LeastConn {
    /// Where the next scan starts: one past the last pick.
    start: usize,
}

impl LeastConn {
    pub(super) fn new() -> LeastConn {
        LeastConn { start: 0 }
    }

    pub(super) fn pick(&mut self, servers: &[Arc<Server>], avoid: Option<usize>) -> Option<usize> {
        let n = servers.len();
        let start = self.start.min(n);
        let mut best: Option<(usize, Load)> = None;
        for i in (start..n).chain(0..start) {
            if !eligible(servers, i, avoid) {
                continue;
            }
            let load = Load::after_pick(&servers[i]);
            // Strictly lighter: the first in rotation order keeps a tie.
            if best.is_none_or(|(_, b)| load.lighter_than(b)) {
                best = Some((i, load));
            }
        }
        let (i, _) = best?;
        self.start = (i + 1) % n;
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testutil::*;
    use super::*;

    #[test]
    fn leastconn_equal_idle_servers_share_evenly() {
        let servers = weighted(&[1, 1, 1]);
        let mut lc = LeastConn::new();
        let seq: Vec<usize> = (0..9).map(|_| lc.pick(&servers, None).unwrap()).collect();
        assert_eq!(seq, [0, 1, 2, 0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn leastconn_sends_picks_to_others_until_loads_even_out() {
        const HELD: u32 = 30;
        let servers = weighted(&[1, 1, 1]);
        let mut held = hold(&servers[0], HELD);
        let mut lc = LeastConn::new();
        // The others catch up to server 0 without it getting a single pick.
        for _ in 0..2 * HELD {
            let i = lc.pick(&servers, None).unwrap();
            assert_ne!(i, 0, "loads {:?}", loads(&servers));
            held.extend(hold(&servers[i], 1));
        }
        assert_eq!(loads(&servers), [HELD; 3]);
        // From there on they stay within one connection of each other.
        for _ in 0..30 {
            let i = lc.pick(&servers, None).unwrap();
            held.extend(hold(&servers[i], 1));
            let l = loads(&servers);
            assert!(
                l.iter().max().unwrap() - l.iter().min().unwrap() <= 1,
                "{l:?}"
            );
        }
    }

    #[test]
    fn leastconn_loads_follow_weights() {
        let servers = weighted(&[1, 2, 3]);
        let mut lc = LeastConn::new();
        let mut held = Vec::new();
        for _ in 0..600 {
            let i = lc.pick(&servers, None).unwrap();
            held.extend(hold(&servers[i], 1));
        }
        assert_eq!(loads(&servers), [100, 200, 300]);
    }

    fn loads(servers: &[Arc<Server>]) -> Vec<u32> {
        servers.iter().map(|s| s.cur()).collect()
    }
}
