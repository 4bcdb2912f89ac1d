//! Server selection: one file per algorithm behind one `pick`.
//!
//! Each algorithm (HAProxy's `balance` names) lives in its own file and offers
//! the same two operations: built once from the backend's servers, then asked
//! to `pick` a server index. [`Balancer`] dispatches over them with an enum.
//! Every algorithm filters at pick time, never by rebuilding: a server is a
//! candidate only if [`Server::available`] (enabled, weight > 0, below its
//! maxconn) and it is not the `avoid`ed server of a retry. Walks past
//! unsuitable servers are bounded, and nothing on the pick path allocates.
//!
//! Slow start enters every algorithm through the server's ramp (see
//! [`Server::eweight`]): weighted algorithms (round robin, least
//! connections, random) use the ramped weight, and those that ignore weights
//! or hash clients (first, source) admit a ramping server only for a
//! `ramp / RAMP_FULL` share of picks, drawn per client when hashing so a
//! client admitted once stays admitted while the ramp grows. A rejected pick
//! goes on exactly as if the server were unavailable, except that if no one
//! else can take it the ramping server does: slow start never refuses.
//!
//! A balancer belongs to one worker, so its mutable state (round robin
//! credits, RNG, scratch) needs no lock; the load that least-connections and
//! random compare is read from the servers' shared atomics, counted by all
//! workers.

mod chash;
mod first;
mod hash;
mod leastconn;
mod mapbased;
mod random;
mod roundrobin;

use std::sync::Arc;

use crate::backend::{RAMP_FULL, Server};
use crate::config::Balance;

pub use chash::VNODES_PER_WEIGHT;
pub use hash::HashKey;

/// A worker's balancer for one backend: the regular servers, and the
/// `backup` servers used only while no regular server is UP.
#[derive(Debug)]
pub struct Balancer {
    regular: Group,
    /// None when the backend has no backup server.
    backup: Option<Group>,
    /// `option allbackups`: balance over every backup, not just the first.
    all_backups: bool,
    /// Length of the server slice given to `new`; `pick` must get the same.
    servers: usize,
}

/// Some of a backend's servers with the algorithm that picks among them.
#[derive(Debug)]
struct Group {
    algo: Algo,
    /// Index in the backend's server list of each member.
    members: Vec<usize>,
    /// The members themselves, in order, so the algorithm sees a plain slice.
    slice: Vec<Arc<Server>>,
}

#[derive(Debug)]
enum Algo {
    RoundRobin(roundrobin::SmoothRoundRobin),
    LeastConn(leastconn::LeastConn),
    Consistent(chash::Ring),
    MapBased(mapbased::MapBased),
    Random(random::PowerOfChoices),
    First(first::First),
}

impl Group {
    fn new(kind: Balance, all: &[Arc<Server>], members: Vec<usize>, seed: u64) -> Group {
        let slice: Vec<Arc<Server>> = members.iter().map(|&i| Arc::clone(&all[i])).collect();
        let servers = &slice[..];
        let algo = match kind {
            Balance::RoundRobin => Algo::RoundRobin(roundrobin::SmoothRoundRobin::new(servers)),
            Balance::LeastConn => Algo::LeastConn(leastconn::LeastConn::new()),
            Balance::Source { consistent: true } => Algo::Consistent(chash::Ring::new(servers)),
            Balance::Source { consistent: false } => {
                Algo::MapBased(mapbased::MapBased::new(servers))
            }
            Balance::Random { draws } => {
                Algo::Random(random::PowerOfChoices::new(servers, draws, seed))
            }
            Balance::First => Algo::First(first::First::new(seed)),
        };
        Group {
            algo,
            members,
            slice,
        }
    }

    fn pick(&mut self, key: HashKey, avoid: Option<usize>) -> Option<usize> {
        // `avoid` is only set on a retry: the scan is off the common path.
        let avoid = avoid.and_then(|g| self.members.iter().position(|&m| m == g));
        let servers = &self.slice[..];
        let local = match &mut self.algo {
            Algo::RoundRobin(rr) => rr.pick(servers, avoid),
            Algo::LeastConn(lc) => lc.pick(servers, avoid),
            Algo::Consistent(ring) => ring.pick(servers, key, avoid),
            Algo::MapBased(map) => map.pick(servers, key, avoid),
            Algo::Random(rnd) => rnd.pick(servers, avoid),
            Algo::First(first) => first.pick(servers, avoid),
        };
        local.map(|i| self.members[i])
    }

    /// Whether some member is enabled, weighted and UP (if merely full,
    /// clients wait for it rather than go to the backups).
    fn any_up(&self) -> bool {
        self.slice.iter().any(|s| s.in_service())
    }
}

impl Balancer {
    /// Built once per backend per worker from the backend's servers, in conf
    /// order. `worker_seed` seeds the random algorithm (any value, 0 included).
    pub fn new(kind: Balance, servers: &[Arc<Server>], worker_seed: u64) -> Balancer {
        Balancer::with_backups(kind, servers, worker_seed, false)
    }

    /// Like `new`, with `option allbackups` said.
    pub fn with_backups(
        kind: Balance,
        servers: &[Arc<Server>],
        worker_seed: u64,
        all_backups: bool,
    ) -> Balancer {
        let (backups, regular): (Vec<usize>, Vec<usize>) =
            (0..servers.len()).partition(|&i| servers[i].is_backup());
        Balancer {
            regular: Group::new(kind, servers, regular, worker_seed),
            backup: (!backups.is_empty())
                .then(|| Group::new(kind, servers, backups, worker_seed ^ 0x5bd1_e995)),
            all_backups,
            servers: servers.len(),
        }
    }

    /// Index into `servers` (the same slice passed to `new`) for a connection
    /// whose hash key is `key` (the client's address today; only hashing
    /// algorithms read it): never `avoid`, only a server whose
    /// [`Server::available`] is true. None when no server can take it.
    /// Backup servers are picked only while no regular server is UP: the
    /// first available one in conf order, or any with `option allbackups`.
    pub fn pick(
        &mut self,
        servers: &[Arc<Server>],
        key: impl Into<HashKey>,
        avoid: Option<usize>,
    ) -> Option<usize> {
        let key = key.into();
        debug_assert_eq!(
            servers.len(),
            self.servers,
            "pick() needs the slice given to new()"
        );
        if let Some(i) = self.regular.pick(key, avoid) {
            return Some(i);
        }
        let backup = self.backup.as_mut()?;
        if self.regular.any_up() {
            return None;
        }
        if self.all_backups {
            return backup.pick(key, avoid);
        }
        backup
            .members
            .iter()
            .copied()
            .find(|&i| eligible(servers, i, avoid))
    }
}

/// Whether server `i` may take this pick.
#[inline]
fn eligible(servers: &[Arc<Server>], i: usize, avoid: Option<usize>) -> bool {
    avoid != Some(i) && servers[i].available()
}

/// Slow start: whether `server` takes a pick whose uniform draw is `draw`.
/// All draws pass once the ramp is full; during it, `ramp / RAMP_FULL` of
/// them do (the draw's top 8 bits against the ramp), and a draw admitted at
/// some ramp is admitted at every higher one.
#[inline]
fn admits(server: &Server, draw: u64) -> bool {
    const _: () = assert!(RAMP_FULL == 256, "admits() compares 8 bits");
    let ramp = server.ramp();
    ramp >= RAMP_FULL || ((draw >> 56) as u32) < ramp
}

/// Slow start's walk for the algorithms that do not weigh (first, and both
/// source hashes): the first of `candidates`, in the algorithm's own order,
/// that is [`eligible`] and [`admits`] its draw; else the first eligible
/// one, so a ramping server is passed over but never refused when no other
/// can take the pick. `draw(i)` is asked only of eligible servers, in order,
/// and once each (first's RNG stream, hence its picks, depends on it).
#[inline]
fn first_admitted(
    candidates: impl IntoIterator<Item = usize>,
    servers: &[Arc<Server>],
    avoid: Option<usize>,
    mut draw: impl FnMut(usize) -> u64,
) -> Option<usize> {
    let mut fallback = None;
    for i in candidates {
        if eligible(servers, i, avoid) {
            if admits(&servers[i], draw(i)) {
                return Some(i);
            }
            fallback = fallback.or(Some(i));
        }
    }
    fallback
}

/// Whether a server belongs in the tables algorithms build: weight 0 leaves
/// it out (as if its line were absent). A weight change rebuilds the
/// balancer; the admin state (maint, drain) and health are checked at pick
/// time, so a server in maintenance is passed over like a DOWN one.
fn pickable(server: &Server) -> bool {
    server.weight() > 0
}

/// One server's load, `conns / eweight`, read once so that a comparison sees
/// one consistent value even while other workers change the counter.
#[derive(Debug, Clone, Copy)]
struct Load {
    conns: u64,
    weight: u64,
}

impl Load {
    /// The load now.
    #[inline]
    fn of(server: &Server) -> Load {
        Load {
            conns: u64::from(server.cur()),
            weight: server.eweight(),
        }
    }

    /// The load once this pick is added (HAProxy's leastconn key): an idle
    /// server in slow start is not "empty, so take everything", it is as
    /// loaded as one connection on its small weight makes it.
    #[inline]
    fn after_pick(server: &Server) -> Load {
        Load {
            conns: u64::from(server.cur()) + 1,
            weight: server.eweight(),
        }
    }

    /// Strictly lower `conns / weight`, compared by cross-multiplication
    /// (exact; both weights are > 0 for any available server, and the
    /// products stay far below 2^64: conns < 2^32, eweight <= 2^16).
    #[inline]
    fn lighter_than(self, other: Load) -> bool {
        self.conns * other.weight < other.conns * self.weight
    }
}

/// Cumulative weights of the pickable servers, in conf order: map-based
/// source hashing indexes it with a hash, random draws from it.
#[derive(Debug)]
struct WeightTable {
    /// `ends[e]` = total weight of entries `0..=e`.
    ends: Vec<u64>,
    /// Server index of each entry.
    index: Vec<u32>,
}

impl WeightTable {
    fn new(servers: &[Arc<Server>]) -> WeightTable {
        let mut total = 0;
        let mut ends = Vec::new();
        let mut index = Vec::new();
        for (i, s) in servers.iter().enumerate().filter(|(_, s)| pickable(s)) {
            total += u64::from(s.weight());
            ends.push(total);
            index.push(u32::try_from(i).expect("server count fits in u32"));
        }
        WeightTable { ends, index }
    }

    /// Sum of the weights; 0 when no server is pickable.
    #[inline]
    fn total(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }

    #[inline]
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// The entry whose weight span holds `point` (`point < total()`).
    #[inline]
    fn entry_at(&self, point: u64) -> usize {
        self.ends.partition_point(|&end| end <= point)
    }

    /// Server index of entry `e`.
    #[inline]
    fn server(&self, e: usize) -> usize {
        self.index[e] as usize
    }
}

#[cfg(test)]
mod testutil {
    //! Servers and clients shared by the algorithms' tests.

    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::sync::Arc;

    use crate::backend::{ConnGuard, Server};
    use crate::config::{Balance, ServerConf};
    use crate::testutil::{server_conf, server_from};

    pub(super) fn server(name: &str, weight: u32, maxconn: u32, disabled: bool) -> Arc<Server> {
        server_from(&ServerConf {
            weight,
            maxconn,
            disabled,
            ..server_conf(name)
        })
    }

    /// Unlimited, enabled servers with these weights, named `s0`, `s1`, ...
    pub(super) fn weighted(weights: &[u32]) -> Vec<Arc<Server>> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| server(&format!("s{i}"), w, 0, false))
            .collect()
    }

    /// `n` distinct clients: four in five are 10.x.y.z, one in five IPv6.
    pub(super) fn clients(n: u32) -> Vec<IpAddr> {
        (0..n)
            .map(|i| {
                let [_, b, c, d] = i.to_be_bytes();
                if i % 5 == 4 {
                    IpAddr::V6(Ipv6Addr::new(
                        0x2001,
                        0xdb8,
                        0,
                        0,
                        0,
                        0,
                        (i >> 16) as u16,
                        i as u16,
                    ))
                } else {
                    IpAddr::V4(Ipv4Addr::new(10, b, c, d))
                }
            })
            .collect()
    }

    /// Every algorithm, with both hash types and draw counts.
    pub(super) const ALL: [Balance; 7] = [
        Balance::RoundRobin,
        Balance::LeastConn,
        Balance::Source { consistent: true },
        Balance::Source { consistent: false },
        Balance::Random { draws: 2 },
        Balance::Random { draws: 1 },
        Balance::First,
    ];

    pub(super) fn any_client() -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))
    }

    /// Takes `n` slots on `server`; they are released when the guards drop.
    pub(super) fn hold(server: &Arc<Server>, n: u32) -> Vec<ConnGuard> {
        (0..n)
            .map(|_| ConnGuard::acquire(server).expect("slot below maxconn"))
            .collect()
    }

    /// Asserts that `counts` (picks per server) follow `weights` within
    /// `tolerance` (a share, 0.02 = 2 percentage points).
    pub(super) fn assert_ratio(counts: &[u32], weights: &[u32], tolerance: f64) {
        let picks: u32 = counts.iter().sum();
        let total_weight: u32 = weights.iter().sum();
        for (i, (&c, &w)) in counts.iter().zip(weights).enumerate() {
            let got = f64::from(c) / f64::from(picks);
            let want = f64::from(w) / f64::from(total_weight);
            assert!(
                (got - want).abs() <= tolerance,
                "server {i}: share {got:.4}, weight share {want:.4} (counts {counts:?})"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    //! Properties every algorithm shares, checked on all of them.

    use super::testutil::*;
    use super::*;

    /// Picks for many distinct clients (so hashing algorithms try every server).
    fn picks(kind: Balance, servers: &[Arc<Server>], avoid: Option<usize>) -> Vec<Option<usize>> {
        let mut b = Balancer::new(kind, servers, 7);
        clients(300)
            .into_iter()
            .map(|c| b.pick(servers, c, avoid))
            .collect()
    }

    #[test]
    fn weight_zero_never_picked() {
        let servers = weighted(&[1, 0, 1]);
        for kind in ALL {
            let got = picks(kind, &servers, None);
            assert!(
                got.iter().all(|p| matches!(p, Some(0 | 2))),
                "{kind:?}: {got:?}"
            );
        }
    }

    #[test]
    fn disabled_never_picked() {
        let servers = vec![
            server("a", 1, 0, true),
            server("b", 1, 0, false),
            server("c", 1, 0, true),
        ];
        for kind in ALL {
            let got = picks(kind, &servers, None);
            assert!(got.iter().all(|&p| p == Some(1)), "{kind:?}: {got:?}");
        }
    }

    #[test]
    fn server_at_maxconn_skipped() {
        let servers = vec![
            server("a", 1, 2, false),
            server("b", 1, 0, false),
            server("c", 1, 3, false),
        ];
        let _a = hold(&servers[0], 2);
        let _c = hold(&servers[2], 3);
        for kind in ALL {
            let got = picks(kind, &servers, None);
            assert!(got.iter().all(|&p| p == Some(1)), "{kind:?}: {got:?}");
        }
    }

    #[test]
    fn avoid_never_returned_when_another_server_available() {
        let servers = weighted(&[1, 3, 1]);
        for kind in ALL {
            for avoid in 0..servers.len() {
                let got = picks(kind, &servers, Some(avoid));
                assert!(
                    got.iter().all(|&p| p.is_some() && p != Some(avoid)),
                    "{kind:?} avoid {avoid}: {got:?}"
                );
            }
        }
    }

    #[test]
    fn avoid_of_the_only_available_server_gives_none() {
        let servers = vec![
            server("a", 1, 0, true),
            server("b", 1, 0, false),
            server("c", 0, 0, false),
        ];
        for kind in ALL {
            let got = picks(kind, &servers, Some(1));
            assert!(got.iter().all(Option::is_none), "{kind:?}: {got:?}");
        }
    }

    #[test]
    fn all_unavailable_gives_none() {
        let servers = vec![
            server("a", 1, 0, true),
            server("b", 0, 0, false),
            server("c", 1, 1, false),
        ];
        let _c = hold(&servers[2], 1);
        for kind in ALL {
            let got = picks(kind, &servers, None);
            assert!(got.iter().all(Option::is_none), "{kind:?}: {got:?}");
        }
    }

    #[test]
    fn no_servers_gives_none() {
        for kind in ALL {
            assert_eq!(picks(kind, &[], None)[0], None, "{kind:?}");
        }
    }

    #[test]
    fn a_hash_key_picks_as_the_address_it_was_made_from() {
        let servers = weighted(&[1, 2, 3]);
        for kind in [
            Balance::Source { consistent: true },
            Balance::Source { consistent: false },
        ] {
            let mut b = Balancer::new(kind, &servers, 1);
            for c in clients(500) {
                let by_addr = b.pick(&servers, c, None);
                assert!(by_addr.is_some());
                assert_eq!(b.pick(&servers, HashKey::from(c), None), by_addr);
                assert_eq!(b.pick(&servers, HashKey(hash::hash_ip(c)), None), by_addr);
                if let std::net::IpAddr::V4(v4) = c {
                    let mapped = std::net::IpAddr::V6(v4.to_ipv6_mapped());
                    assert_eq!(b.pick(&servers, mapped, None), by_addr, "{kind:?}: {c}");
                }
            }
        }
    }

    #[test]
    fn server_freed_from_maxconn_is_picked_again() {
        let servers = vec![server("a", 1, 1, false)];
        for kind in ALL {
            let mut b = Balancer::new(kind, &servers, 1);
            let held = hold(&servers[0], 1);
            assert_eq!(b.pick(&servers, any_client(), None), None, "{kind:?}");
            drop(held);
            assert_eq!(b.pick(&servers, any_client(), None), Some(0), "{kind:?}");
        }
    }
}

#[cfg(test)]
mod walk_tests {
    //! Slow start's one walk, and the three algorithms that take it.

    use super::hash::{hash_ip, hash_name, slowstart_draw};
    use super::random::XorShift64Star;
    use super::testutil::*;
    use super::*;

    /// A draw every ramp admits, and one that only a full ramp admits.
    const LOW: u64 = 0;
    const HIGH: u64 = u64::MAX;

    #[test]
    fn the_first_eligible_candidate_that_admits_its_draw_takes_the_pick() {
        let servers = weighted(&[1, 1, 1, 1]);
        servers[1].set_ramp(RAMP_FULL / 2);
        servers[3].set_up(false);
        let draw = |i| if i == 1 { HIGH } else { LOW };
        // 3 is DOWN, 0 avoided, 1 ramping and not admitting: 2.
        assert_eq!(
            first_admitted([3, 0, 1, 2], &servers, Some(0), draw),
            Some(2)
        );
        assert_eq!(
            first_admitted([1, 0], &servers, None, draw),
            Some(0),
            "candidate order, not server order"
        );
        assert_eq!(
            first_admitted([1, 2], &servers, None, |_| LOW),
            Some(1),
            "a ramping server admits a draw under its ramp"
        );
    }

    #[test]
    fn when_no_candidate_admits_the_first_eligible_one_takes_the_pick() {
        let servers = weighted(&[1, 1, 1]);
        for s in &servers {
            s.set_ramp(1);
        }
        servers[0].set_up(false);
        assert_eq!(first_admitted([0, 2, 1], &servers, None, |_| HIGH), Some(2));
        assert_eq!(
            first_admitted([0, 2, 1], &servers, Some(2), |_| HIGH),
            Some(1)
        );
        assert_eq!(first_admitted([0, 2], &servers, Some(2), |_| HIGH), None);
        assert_eq!(first_admitted([], &servers, None, |_| LOW), None);
    }

    #[test]
    fn draws_are_asked_of_eligible_candidates_only_in_order_until_one_admits() {
        let servers = weighted(&[1, 1, 1, 1]);
        for s in &servers {
            s.set_ramp(1);
        }
        servers[2].set_up(false);
        let mut asked = Vec::new();
        let got = first_admitted(0..4, &servers, Some(0), |i| {
            asked.push(i);
            HIGH
        });
        assert_eq!((got, &asked[..]), (Some(1), &[1, 3][..]));
        asked.clear();
        let got = first_admitted(0..4, &servers, None, |i| {
            asked.push(i);
            if i == 1 { LOW } else { HIGH }
        });
        assert_eq!((got, &asked[..]), (Some(1), &[0, 1][..]));
    }

    /// Issue 10: first, map-based and consistent hashing take one walk. A
    /// ramping server that does not admit a pick's draw is passed over
    /// exactly as if the pick avoided it; one that admits it keeps it.
    #[test]
    fn first_and_both_source_hashes_pass_over_a_ramping_server_as_if_avoided() {
        const SEED: u64 = 5;
        for kind in [
            Balance::First,
            Balance::Source { consistent: true },
            Balance::Source { consistent: false },
        ] {
            let servers = weighted(&[1, 1, 1]);
            let clients = clients(3000);
            let mut b = Balancer::new(kind, &servers, SEED);
            let mut settled = |avoid| -> Vec<Option<usize>> {
                clients
                    .iter()
                    .map(|&c| b.pick(&servers, c, avoid))
                    .collect()
            };
            let (full, avoiding) = (settled(None), settled(Some(0)));

            servers[0].set_ramp(RAMP_FULL / 4);
            let mut b = Balancer::new(kind, &servers, SEED);
            // First draws from its RNG for each eligible server it meets;
            // the hashes draw by client and server name.
            let mut rng = XorShift64Star::new(SEED);
            let (mut kept, mut passed) = (0, 0);
            for (i, &c) in clients.iter().enumerate() {
                let draw = match kind {
                    Balance::First => rng.next(),
                    _ => slowstart_draw(hash_ip(c), hash_name("s0")),
                };
                let admitted = admits(&servers[0], draw);
                let want = match full[i] {
                    Some(0) if admitted => {
                        kept += 1;
                        full[i]
                    }
                    Some(0) => {
                        passed += 1;
                        if kind == Balance::First {
                            rng.next(); // server 1's draw: it takes the pick
                        }
                        avoiding[i]
                    }
                    _ => full[i],
                };
                assert_eq!(b.pick(&servers, c, None), want, "{kind:?}: client {c}");
            }
            assert!(
                kept > 0 && passed > kept,
                "{kind:?}: {kept} kept, {passed} passed"
            );
        }
    }
}

#[cfg(test)]
mod backup_tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::backend::ConnGuard;
    use crate::config::ServerConf;
    use crate::testutil::{server_conf, server_from};

    fn servers(backups: &[bool], maxconn: u32) -> Vec<Arc<Server>> {
        backups
            .iter()
            .enumerate()
            .map(|(i, &backup)| {
                server_from(&ServerConf {
                    maxconn,
                    backup,
                    ..server_conf(&format!("s{i}"))
                })
            })
            .collect()
    }

    fn picks(b: &mut Balancer, s: &[Arc<Server>]) -> BTreeSet<usize> {
        let ip: std::net::IpAddr = "10.0.0.1".parse().unwrap();
        (0..20).filter_map(|_| b.pick(s, ip, None)).collect()
    }

    #[test]
    fn backups_only_while_no_regular_server_is_up() {
        let s = servers(&[false, false, true, true], 0);
        let mut b = Balancer::with_backups(Balance::RoundRobin, &s, 1, false);
        assert_eq!(picks(&mut b, &s), BTreeSet::from([0, 1]));
        s[0].set_up(false);
        assert_eq!(
            picks(&mut b, &s),
            BTreeSet::from([1]),
            "one regular server is enough"
        );
        s[1].set_up(false);
        assert_eq!(
            picks(&mut b, &s),
            BTreeSet::from([2]),
            "the first backup takes over"
        );
        let mut all = Balancer::with_backups(Balance::RoundRobin, &s, 1, true);
        assert_eq!(
            picks(&mut all, &s),
            BTreeSet::from([2, 3]),
            "allbackups: all of them"
        );
        s[1].set_up(true);
        assert_eq!(picks(&mut b, &s), BTreeSet::from([1]), "handed back");
    }

    #[test]
    fn full_regular_servers_do_not_spill_to_backups() {
        let s = servers(&[false, true], 1);
        let mut b = Balancer::with_backups(Balance::LeastConn, &s, 1, false);
        let _held = ConnGuard::acquire(&s[0]).unwrap();
        let ip: std::net::IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(
            b.pick(&s, ip, None),
            None,
            "UP but full: wait, do not use the backup"
        );
    }
}

#[cfg(test)]
mod slowstart_tests {
    use super::testutil::*;
    use super::*;

    /// Share of `n` picks (distinct clients, each connection held) that go
    /// to server 0.
    fn share_of_first(kind: Balance, servers: &[Arc<Server>], n: u32) -> f64 {
        let mut b = Balancer::new(kind, servers, 3);
        let mut held = Vec::new();
        let mut hits = 0;
        for c in clients(n) {
            let i = b.pick(servers, c, None).expect("a server");
            hits += u32::from(i == 0);
            held.extend(hold(&servers[i], 1));
        }
        f64::from(hits) / f64::from(n)
    }

    #[test]
    fn every_algorithm_gives_a_ramping_server_its_ramped_share() {
        for kind in ALL {
            let servers = weighted(&[1, 1, 1]);
            let full = share_of_first(kind, &servers, 3000);
            servers[0].set_ramp(RAMP_FULL / 4);
            let quarter = share_of_first(kind, &servers, 3000);
            servers[0].set_ramp(1);
            let least = share_of_first(kind, &servers, 3000);
            // `first` fills server 0 (no maxconn): all of it, then a quarter,
            // then almost nothing. Weighted ones: a third, then 0.25 / 2.25.
            let (want_full, want_quarter) = match kind {
                Balance::First => (1.0, 0.25),
                _ => (1.0 / 3.0, 0.25 / 2.25),
            };
            assert!((full - want_full).abs() < 0.04, "{kind:?}: full {full}");
            assert!(
                (quarter - want_quarter).abs() < 0.04,
                "{kind:?}: quarter ramp {quarter}, want {want_quarter}"
            );
            assert!(least < 0.02, "{kind:?}: minimal ramp {least}");
        }
    }

    #[test]
    fn a_ramping_server_alone_still_takes_every_pick() {
        for kind in ALL {
            let servers = weighted(&[1, 1]);
            servers[0].set_ramp(1);
            servers[1].set_up(false);
            let mut b = Balancer::new(kind, &servers, 3);
            for c in clients(50) {
                assert_eq!(b.pick(&servers, c, None), Some(0), "{kind:?}");
            }
        }
    }

    #[test]
    fn hashing_ramp_admits_a_growing_set_and_leaves_other_clients_alone() {
        for kind in [
            Balance::Source { consistent: true },
            Balance::Source { consistent: false },
        ] {
            let servers = weighted(&[1, 1, 1]);
            let clients = clients(3000);
            let map = |servers: &[Arc<Server>]| -> Vec<usize> {
                let mut b = Balancer::new(kind, servers, 3);
                clients
                    .iter()
                    .map(|&c| b.pick(servers, c, None).unwrap())
                    .collect()
            };
            let settled = map(&servers);
            let mut admitted_before = vec![false; clients.len()];
            for ramp in [1, 16, 64, 128, 200, RAMP_FULL] {
                servers[0].set_ramp(ramp);
                let now = map(&servers);
                for (c, (&was, &is)) in settled.iter().zip(&now).enumerate() {
                    if was != 0 {
                        assert_eq!(is, was, "{kind:?}: client {c} of another server moved");
                    } else {
                        assert!(
                            !admitted_before[c] || is == 0,
                            "{kind:?}: client {c} left the recovering server at ramp {ramp}"
                        );
                        admitted_before[c] = is == 0;
                    }
                }
            }
            assert_eq!(map(&servers), settled, "{kind:?}: full ramp, old mapping");
        }
    }
}
