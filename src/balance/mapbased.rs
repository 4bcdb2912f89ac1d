//! `balance source` with `hash-type map-based` (HAProxy's default): the
//! client address hashed onto a table of cumulative weights.
//!
//! `hash(client) % total_weight` falls in one server's span of the table, so
//! each server gets clients in proportion to its weight and the same client
//! always lands on the same server. The table is built once, from the servers
//! that can ever be picked (not disabled, weight > 0). When the chosen server
//! is unavailable or avoided, the client goes to the next entry of the table
//! (bounded: each entry is tried at most once). Unlike the consistent ring,
//! changing the server list remaps most clients; that is the price of a
//! table this small.

use std::sync::Arc;

use super::hash::{HashKey, hash_name, slowstart_draw};
use super::{WeightTable, first_admitted};
use crate::backend::Server;

#[derive(Debug)]
pub(super) struct MapBased {
    table: WeightTable,
    /// Each server's key for slow-start draws, by server index.
    keys: Vec<u64>,
}

impl MapBased {
    pub(super) fn new(servers: &[Arc<Server>]) -> MapBased {
        MapBased {
            table: WeightTable::new(servers),
            keys: servers.iter().map(|s| hash_name(&s.name)).collect(),
        }
    }

    pub(super) fn pick(
        &self,
        servers: &[Arc<Server>],
        key: impl Into<HashKey>,
        avoid: Option<usize>,
    ) -> Option<usize> {
        let total = self.table.total();
        if total == 0 {
            return None;
        }
        let len = self.table.len();
        let h = key.into().0;
        let home = self.table.entry_at(h % total);
        let entries = (home..len).chain(0..home).map(|e| self.table.server(e));
        // A server in slow start admits only some clients (by a per-client
        // draw); the others go on to the next entry, unless none admits.
        first_admitted(entries, servers, avoid, |i| slowstart_draw(h, self.keys[i]))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::testutil::*;
    use super::*;

    #[test]
    fn mapbased_weights_give_configured_ratio() {
        let weights = [1, 2, 3, 4];
        let servers = weighted(&weights);
        let map = MapBased::new(&servers);
        let mut counts = [0; 4];
        for c in clients(10_000) {
            counts[map.pick(&servers, c, None).unwrap()] += 1;
        }
        assert_ratio(&counts, &weights, 0.02);
    }

    #[test]
    fn mapbased_same_client_same_server_in_every_worker() {
        let servers = weighted(&[1, 2, 3]);
        let a = MapBased::new(&servers);
        let b = MapBased::new(&servers);
        for c in clients(1_000) {
            assert_eq!(a.pick(&servers, c, None), b.pick(&servers, c, None));
        }
    }

    #[test]
    fn mapbased_unavailable_server_moves_only_its_clients_to_next_entry() {
        let servers = vec![
            server("a", 1, 0, false),
            server("b", 1, 1, false),
            server("c", 1, 0, false),
        ];
        let map = MapBased::new(&servers);
        let cl = clients(3_000);
        let before: Vec<usize> = cl
            .iter()
            .map(|&c| map.pick(&servers, c, None).unwrap())
            .collect();
        let _b = hold(&servers[1], 1);
        for (&c, &was) in cl.iter().zip(&before) {
            let now = map.pick(&servers, c, None).unwrap();
            let want = if was == 1 { 2 } else { was };
            assert_eq!(now, want, "client {c}");
        }
    }

    #[test]
    fn mapbased_walk_wraps_around_the_table() {
        let servers = weighted(&[1, 1, 1]);
        let map = MapBased::new(&servers);
        let c = clients(100)
            .into_iter()
            .find(|&c| map.pick(&servers, c, None) == Some(2))
            .unwrap();
        assert_eq!(map.pick(&servers, c, Some(2)), Some(0));
    }
}
