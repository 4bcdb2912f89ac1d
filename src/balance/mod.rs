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
mod tests;
