//! `balance source` with `hash-type consistent`: a hash ring of virtual nodes.
//!
//! Each server gets `weight * VNODES_PER_WEIGHT` points on a 64-bit ring,
//! placed by hashing its NAME and the point's index with the fixed-seed hash
//! of [`super::hash`]. A client goes to the first point at or after the hash
//! of its address. Because a point depends on nothing but its server's name,
//! every worker and every l4lb process with the same servers builds the same
//! ring, conf order does not matter, and removing a server removes only its
//! points: only its clients move (spread over all the others), and adding it
//! back restores the old mapping exactly.
//!
//! The ring is built once (a sorted array searched by bisection); servers that
//! cannot take a pick now (full, avoided) are passed over at pick time by
//! walking clockwise to the next server not yet tried, stopping once every
//! server on the ring has been tried. Disabled and weight-0 servers never get
//! points, as if their line were absent.
//!
//! A server in slow start keeps all its points but admits only the clients
//! whose draw (client hash and server name) is under its ramp; the others
//! walk on as if it were full. The admitted set only grows with the ramp, so
//! a client that reached the recovered server stays there.

use std::sync::Arc;

use super::hash::{HashKey, hash_name, hash_vnode, slowstart_draw};
use super::{first_admitted, pickable};
use crate::backend::Server;

/// Points per unit of weight. A server's share of the ring is a sum of
/// random arcs, so its error shrinks only as 1/sqrt(points). Over 200 random
/// sets of three server names, the largest server's excess over its third
/// (ring alone, before client sampling noise) was, median / 95th percentile:
/// 1.7 / 3.7 points at 256 per unit, 0.8 / 2.1 at 1000, 0.6 / 1.4 at 2000
/// (99th: 1.8). 2000 is the smallest round count that keeps "removing one of
/// N servers moves at most 1/N + 2 %" true for nearly any names, not just
/// the test's. The cost is 12 bytes per point per worker: 24 KB per unit of
/// weight.
pub const VNODES_PER_WEIGHT: u32 = 2000;

/// Cap on the points of one ring (12 MiB per worker). A backend whose total
/// weight is above `MAX_RING_POINTS / VNODES_PER_WEIGHT` (524) gets fewer
/// points per unit of weight: balance stays as good, since each server then
/// holds thousands of points, but the count depends on the total weight, so
/// adding or removing a server also moves some clients of the others. Weights
/// are relative: 1, 2, 3 express the same ratios as 100, 200, 300 at a
/// hundredth of the memory.
const MAX_RING_POINTS: u64 = 1 << 20;

/// Points per unit of weight for a ring of this total weight.
fn vnodes_per_weight(total_weight: u64) -> u32 {
    let fit = MAX_RING_POINTS / total_weight.max(1);
    u32::try_from(fit)
        .unwrap_or(u32::MAX)
        .clamp(1, VNODES_PER_WEIGHT)
}

pub(super) struct Ring {
    /// Ring positions, ascending.
    points: Vec<u64>,
    /// Server index of each point (parallel to `points`, which keeps the
    /// bisected array dense).
    owners: Vec<u32>,
    /// Servers with points: a walk that has tried them all gives up.
    on_ring: usize,
    /// Each server's key for slow-start draws ([`hash_name`]).
    keys: Vec<u64>,
    /// Walk scratch: the servers the current pick has met.
    tried: Tried,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("points", &self.points.len())
            .field("on_ring", &self.on_ring)
            .finish_non_exhaustive()
    }
}

impl Ring {
    pub(super) fn new(servers: &[Arc<Server>]) -> Ring {
        let on_ring = || servers.iter().enumerate().filter(|(_, s)| pickable(s));
        let total_weight: u64 = on_ring().map(|(_, s)| u64::from(s.weight())).sum();
        let per_weight = vnodes_per_weight(total_weight);
        let mut ring =
            Vec::with_capacity(usize::try_from(total_weight * u64::from(per_weight)).unwrap_or(0));
        for (i, s) in on_ring() {
            let owner = u32::try_from(i).expect("server count fits in u32");
            ring.extend((0..s.weight() * per_weight).map(|v| (hash_vnode(&s.name, v), owner)));
        }
        // Ties (two points on the same 64-bit position) go by name, not conf
        // order, so reordering the conf moves nobody.
        ring.sort_unstable_by(|a, b| {
            let name = |o: u32| &servers[o as usize].name;
            a.0.cmp(&b.0).then_with(|| name(a.1).cmp(name(b.1)))
        });
        Ring {
            points: ring.iter().map(|&(p, _)| p).collect(),
            owners: ring.iter().map(|&(_, o)| o).collect(),
            on_ring: on_ring().count(),
            keys: servers.iter().map(|s| hash_name(&s.name)).collect(),
            tried: Tried::new(servers.len()),
        }
    }

    pub(super) fn pick(
        &mut self,
        servers: &[Arc<Server>],
        key: impl Into<HashKey>,
        avoid: Option<usize>,
    ) -> Option<usize> {
        if self.points.is_empty() {
            return None;
        }
        let h = key.into().0;
        let home = match self.points.partition_point(|&p| p < h) {
            end if end == self.points.len() => 0,
            e => e,
        };
        let Ring {
            owners,
            on_ring,
            keys,
            tried,
            ..
        } = self;
        // Clockwise from the home point, each server once (its first point
        // met), until every server on the ring has had its turn.
        tried.start();
        let clockwise = (home..owners.len())
            .chain(0..home)
            .map(|e| owners[e] as usize)
            .filter(|&i| tried.first_time(i))
            .take(*on_ring);
        first_admitted(clockwise, servers, avoid, |i| slowstart_draw(h, keys[i]))
    }
}

/// The servers a ring walk has met: server `i` was met iff
/// `marks[i] == walk`. Starting a walk bumps `walk`, which forgets every
/// mark in O(1), so a pick neither allocates nor clears a table.
#[derive(Debug)]
struct Tried {
    marks: Vec<u32>,
    walk: u32,
}

impl Tried {
    fn new(servers: usize) -> Tried {
        Tried {
            marks: vec![0; servers],
            walk: 0,
        }
    }

    /// Forgets the previous walk.
    #[inline]
    fn start(&mut self) {
        self.walk = self.walk.wrapping_add(1);
        if self.walk == 0 {
            self.marks.fill(0);
            self.walk = 1;
        }
    }

    /// Marks server `i` met; true if this walk had not met it yet.
    #[inline]
    fn first_time(&mut self, i: usize) -> bool {
        let first = self.marks[i] != self.walk;
        self.marks[i] = self.walk;
        first
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::IpAddr;

    use super::super::tests::testutil::*;
    use super::*;

    const CLIENTS: u32 = 10_000;

    /// The server NAME each client maps to (indices shift when servers go).
    fn mapping(servers: &[Arc<Server>], clients: &[IpAddr]) -> Vec<String> {
        let mut ring = Ring::new(servers);
        clients
            .iter()
            .map(|&c| servers[ring.pick(servers, c, None).unwrap()].name.clone())
            .collect()
    }

    fn named(names: &[&str]) -> Vec<Arc<Server>> {
        names.iter().map(|n| server(n, 1, 0, false)).collect()
    }

    #[test]
    fn consistent_weights_give_configured_ratio() {
        let weights = [1, 2, 3, 4];
        let servers = weighted(&weights);
        let mut ring = Ring::new(&servers);
        let mut counts = [0; 4];
        for c in clients(CLIENTS) {
            counts[ring.pick(&servers, c, None).unwrap()] += 1;
        }
        assert_ratio(&counts, &weights, 0.02);
    }

    #[test]
    fn consistent_removing_a_server_moves_only_its_clients_and_at_most_its_share() {
        let clients = clients(CLIENTS);
        let names = ["web1", "web2", "web3", "web4", "web5"];
        for n in 3..=5 {
            let all = named(&names[..n]);
            let before = mapping(&all, &clients);
            let mut max_moved = 0.0_f64;
            for removed in 0..n {
                let mut rest = all.clone();
                let gone = rest.remove(removed);
                let after = mapping(&rest, &clients);
                let mut moved = 0;
                for (b, a) in before.iter().zip(&after) {
                    if b != a {
                        assert_eq!(*b, gone.name, "a client of {b} moved to {a}");
                        moved += 1;
                    }
                }
                let share = f64::from(moved) / f64::from(CLIENTS);
                max_moved = max_moved.max(share);
                assert!(
                    share <= 1.0 / n as f64 + 0.02,
                    "removing {} of {n} moved {share:.4}",
                    gone.name
                );

                // Added back, at the end of the list this time: same mapping.
                rest.push(gone);
                assert_eq!(
                    mapping(&rest, &clients),
                    before,
                    "re-adding server {removed} of {n}"
                );
            }
            println!(
                "N={n}: max moved share {max_moved:.4} (limit {:.4})",
                1.0 / n as f64 + 0.02
            );
        }
    }

    #[test]
    fn consistent_same_client_same_server_in_every_worker_and_conf_order() {
        let clients = clients(2_000);
        let servers = named(&["a", "b", "c", "d"]);
        let reversed: Vec<_> = servers.iter().rev().cloned().collect();
        assert_eq!(mapping(&servers, &clients), mapping(&servers, &clients));
        assert_eq!(mapping(&servers, &clients), mapping(&reversed, &clients));
    }

    #[test]
    fn consistent_unavailable_server_spreads_its_clients_over_the_others() {
        let clients = clients(CLIENTS);
        let servers = vec![
            server("a", 1, 0, false),
            server("b", 1, 1, false),
            server("c", 1, 0, false),
            server("d", 1, 0, false),
        ];
        let mut ring = Ring::new(&servers);
        let before: Vec<usize> = clients
            .iter()
            .map(|&c| ring.pick(&servers, c, None).unwrap())
            .collect();
        let _b = hold(&servers[1], 1);
        let mut got = HashMap::new();
        for (&c, &was) in clients.iter().zip(&before) {
            let now = ring.pick(&servers, c, None).unwrap();
            if was == 1 {
                *got.entry(now).or_insert(0) += 1;
            } else {
                assert_eq!(now, was, "client {c} of an available server moved");
            }
        }
        // Each of the three others takes a fair part of b's clients.
        let moved: u32 = got.values().sum();
        for i in [0, 2, 3] {
            assert!(got[&i] * 5 >= moved, "{got:?}");
        }
    }

    #[test]
    fn consistent_ring_is_capped_for_large_total_weight() {
        assert_eq!(vnodes_per_weight(10), VNODES_PER_WEIGHT);
        assert_eq!(vnodes_per_weight(524), VNODES_PER_WEIGHT);
        assert_eq!(vnodes_per_weight(1000), 1048);
        assert_eq!(vnodes_per_weight(u64::MAX), 1);
        let servers: Vec<_> = (0..8)
            .map(|i| server(&format!("s{i}"), 256, 0, false))
            .collect();
        let ring = Ring::new(&servers);
        assert!(ring.points.len() as u64 <= MAX_RING_POINTS);
        assert!(ring.points.windows(2).all(|w| w[0] <= w[1]));
    }

    /// The ring's contract with every deployed l4lb: if this fails, clients
    /// of `balance source` + `hash-type consistent` would be remapped.
    #[test]
    fn consistent_ring_mapping_is_locked_for_compatibility() {
        let servers = named(&["web1", "web2", "web3"]);
        let clients = [
            "10.0.0.1",
            "10.0.0.2",
            "10.0.0.3",
            "192.168.1.200",
            "172.16.5.4",
            "2001:db8::1",
            "2001:db8::2",
            "fe80::1",
        ];
        let clients: Vec<IpAddr> = clients.iter().map(|c| c.parse().unwrap()).collect();
        assert_eq!(
            mapping(&servers, &clients),
            [
                "web1", "web2", "web2", "web3", "web2", "web2", "web2", "web3"
            ]
        );
    }
}
