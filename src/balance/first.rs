//! `balance first`: fill servers in conf order.
//!
//! The first server (in conf order) that is available, i.e. below its
//! maxconn, takes the connection; the next one is used only once it is full.
//! Servers without a maxconn are never full, so one of them takes everything
//! that reaches it. This keeps the number of busy servers minimal (HAProxy's
//! use: let idle servers be powered down).

use std::sync::Arc;

use super::eligible;
use crate::backend::Server;

/// Stateless: the servers' counters are the whole state.
#[derive(Debug)]
pub struct First;

impl First {
    pub fn pick(&self, servers: &[Arc<Server>], avoid: Option<usize>) -> Option<usize> {
        (0..servers.len()).find(|&i| eligible(servers, i, avoid))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn first_picks_first_with_free_slot_then_moves_on_when_full() {
        let servers = vec![
            server("a", 1, 2, false),
            server("b", 1, 3, false),
            server("c", 1, 0, false),
        ];
        let first = First;
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
        assert_eq!(First.pick(&servers, Some(0)), Some(1));
    }
}
