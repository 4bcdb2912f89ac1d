//! What all workers share: the configuration, the servers with their
//! counters, and the global, per-frontend and per-listener connection
//! counts that enforce `maxconn`. Read without locks; counters are padded
//! atomics.
//!
//! A [`Shared`] is one configuration snapshot. What must outlive a snapshot
//! (a reload) is behind its own `Arc`: the process-wide [`Process`], each
//! frontend's [`FrontendStats`], each backend's [`BackendCount`] and each
//! [`Server`], reused by name.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use crate::backend::Server;
use crossbeam_channel::Sender;
use mio::Waker;

use crate::config::{Config, SockAddr};
use crate::logs::connect::Connect;
use crate::logs::logger::LogSender;
use crate::logs::tcplog::Record;

/// Counters of one frontend (or of the whole process), on their own line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct ConnCount {
    pub cur: AtomicUsize,
    pub total: AtomicU64,
    /// Highest `cur` seen.
    pub max: AtomicUsize,
    /// Clients closed without a server: none available, or `timeout queue`.
    pub rejected: AtomicU64,
    /// Clients refused by `tcp-request connection`, `session` and
    /// `content` rules (`show stat` dcon, dses, dreq).
    pub denied_conn: AtomicU64,
    pub denied_sess: AtomicU64,
    pub denied_req: AtomicU64,
    /// Bytes from clients, and to clients.
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
}

/// A frontend's counters; they survive reloads that keep the frontend.
pub(crate) type FrontendStats = ConnCount;

/// Sessions of one backend, from the accept to the close, queued ones
/// included (HAProxy's `beconn`); they survive reloads that keep the
/// backend.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct BackendCount {
    pub cur: AtomicUsize,
    /// Highest `cur` seen.
    pub max: AtomicUsize,
    /// Of `cur`, those waiting for a server slot (`qcur`), and the most
    /// seen (`qmax`).
    pub queued: AtomicUsize,
    pub queued_max: AtomicUsize,
}

/// One worker's own counters, written only by it.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct WorkerStats {
    /// Client connections this worker accepted (accept imbalance between
    /// cores shows here).
    pub accepted: AtomicU64,
    /// Splice pipes lent to sessions now, and ever.
    pub pipes_in_use: AtomicUsize,
    pub pipes_lent: AtomicU64,
}

/// What lives as long as the process, across reloads.
#[derive(Debug)]
pub struct Process {
    pub started: Instant,
    pub started_wall: SystemTime,
    /// All client connections of the process (global `maxconn`).
    pub global: ConnCount,
    /// Indexed by worker id.
    pub workers: Vec<WorkerStats>,
    /// Connection log lines dropped because the logger fell behind.
    pub log_dropped: AtomicU64,
    /// Reloads applied, and refused (invalid conf).
    pub reloads: AtomicU64,
    pub reload_failures: AtomicU64,
    /// Connections per listening address, for `bind ... maxconn`.
    pub listeners: ListenerCounts,
}

/// Client connections of one listening address over all workers (each has
/// its own socket on it), for its bind's `maxconn`. Kept by address for
/// the life of the process, as the sockets are across reloads.
#[derive(Debug, Default)]
pub struct ListenerCounts(Mutex<HashMap<SockAddr, Arc<ListenerCount>>>);

/// The count of one listening address, on its own cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct ListenerCount {
    pub cur: AtomicUsize,
}

impl ListenerCounts {
    /// The count of `addr`; looked up when a worker takes a listener, not
    /// per accept.
    pub fn of(&self, addr: SockAddr) -> Arc<ListenerCount> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry(addr).or_default())
    }
}

/// A listener's `maxconn`: its count, shared by every worker, and the limit.
#[derive(Debug, Clone)]
pub(crate) struct ListenerCap {
    pub(crate) count: Arc<ListenerCount>,
    pub(crate) max: usize,
}

impl Process {
    pub fn new(workers: usize) -> Process {
        Process {
            started: Instant::now(),
            started_wall: SystemTime::now(),
            global: ConnCount::default(),
            workers: (0..workers).map(|_| WorkerStats::default()).collect(),
            log_dropped: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
            listeners: ListenerCounts::default(),
        }
    }
}

/// One configuration snapshot as the workers run it.
#[derive(Debug)]
pub struct Shared {
    pub config: Arc<Config>,
    /// Servers of each backend, indexed like `config.backends`.
    pub servers: Vec<Vec<Arc<Server>>>,
    pub process: Arc<Process>,
    /// Client connections per frontend, indexed like `config.frontends`.
    pub frontends: Vec<Arc<FrontendStats>>,
    /// Sessions per backend, indexed like `config.backends`.
    pub backends: Vec<Arc<BackendCount>>,
    /// Where workers report `observe layer4` error runs: the prober.
    pub observer: Option<Observer>,
    /// Where workers send connection log records: the logger thread, if
    /// some frontend logs.
    pub log: Option<LogSender>,
}

/// Where workers tell the prober that a server reached its `observe
/// layer4` error-limit: a channel of its own, and the prober's waker.
#[derive(Debug, Clone)]
pub struct Observer {
    pub tx: Sender<Arc<Server>>,
    pub waker: Arc<Waker>,
}

impl Observer {
    /// Tells the prober that `server` reached its error-limit.
    pub fn report(&self, server: &Arc<Server>) {
        let _ = self.tx.send(Arc::clone(server));
        let _ = self.waker.wake();
    }
}

impl Shared {
    /// The first snapshot of a process.
    pub fn new(config: Config, observer: Option<Observer>) -> Shared {
        let process = Arc::new(Process::new(config.threads));
        let servers = config
            .backends
            .iter()
            .map(|b| b.servers.iter().map(|s| Arc::new(Server::new(s))).collect())
            .collect();
        let frontends = config
            .frontends
            .iter()
            .map(|_| Arc::new(FrontendStats::default()))
            .collect();
        let backends = config
            .backends
            .iter()
            .map(|_| Arc::new(BackendCount::default()))
            .collect();
        Shared {
            config: Arc::new(config),
            servers,
            process,
            frontends,
            backends,
            observer,
            log: None,
        }
    }

    /// With connection logs sent to `log`.
    pub fn with_log(mut self, log: Option<LogSender>) -> Shared {
        self.log = log;
        self
    }

    /// Hands a finished connection's record to the logger thread without
    /// ever waiting: if its channel is full, the line is dropped and counted.
    pub fn log_connection(&self, record: Record) {
        let sent = self.log.as_ref().is_some_and(|l| l.try_send(record));
        if !sent {
            self.process.log_dropped.fetch_add(1, Relaxed);
        }
    }

    /// Hands the default format's accept line to the logger thread, or
    /// counts it dropped, as [`Shared::log_connection`].
    pub fn log_connect(&self, connect: Connect) {
        let sent = self
            .log
            .as_ref()
            .is_some_and(|l| l.try_send_connect(connect));
        if !sent {
            self.process.log_dropped.fetch_add(1, Relaxed);
        }
    }

    /// Index of the backend called `name`.
    pub fn backend_index(&self, name: &str) -> Option<usize> {
        self.config.backends.iter().position(|b| b.name == name)
    }

    /// The server `backend/server`, with its backend's index.
    pub fn find_server(&self, backend: &str, server: &str) -> Option<(usize, &Arc<Server>)> {
        let b = self.backend_index(backend)?;
        self.servers[b]
            .iter()
            .find(|s| s.name == server)
            .map(|s| (b, s))
    }
}

/// A client connection's place under the global, frontend and listener
/// `maxconn`; given back when dropped.
#[derive(Debug)]
pub(crate) struct Admission {
    shared: Arc<Shared>,
    frontend: usize,
    /// Its listener's count, if its bind has a `maxconn`.
    listener: Option<Arc<ListenerCount>>,
}

impl Admission {
    /// The snapshot this connection was admitted under (its generation).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The frontend this connection counts against.
    pub(crate) fn frontend(&self) -> &FrontendStats {
        &self.shared.frontends[self.frontend]
    }

    /// Takes a place if the global and frontend limits allow it (tests; the
    /// workers use [`Admission::reserve_on`]). Strict across workers. The
    /// place is reserved before `accept`, which may find nothing: totals
    /// are counted by [`Admission::admitted`] once a client is there.
    #[cfg(test)]
    pub(crate) fn reserve(shared: &Arc<Shared>, frontend: usize) -> Option<Admission> {
        Admission::reserve_on(shared, frontend, None)
    }

    /// [`Admission::reserve`] on a listener with its own `maxconn`, taken
    /// first, as HAProxy does; a limit that refuses gives back the places
    /// taken before it.
    pub(crate) fn reserve_on(
        shared: &Arc<Shared>,
        frontend: usize,
        cap: Option<&ListenerCap>,
    ) -> Option<Admission> {
        let listener = match cap {
            Some(cap) => {
                take(&cap.count.cur, cap.max)?;
                Some(Arc::clone(&cap.count))
            }
            None => None,
        };
        let give_back = |listener: Option<Arc<ListenerCount>>| {
            if let Some(l) = listener {
                l.cur.fetch_sub(1, Relaxed);
            }
        };
        let fe = &shared.frontends[frontend];
        let global = &shared.process.global;
        if take(&global.cur, shared.config.maxconn).is_none() {
            give_back(listener);
            return None;
        }
        if take(&fe.cur, shared.config.frontends[frontend].maxconn).is_none() {
            global.cur.fetch_sub(1, Relaxed);
            give_back(listener);
            return None;
        }
        Some(Admission {
            shared: Arc::clone(shared),
            frontend,
            listener,
        })
    }

    /// A client took this place: counts it in the totals and highs.
    pub(crate) fn admitted(&mut self) {
        for count in [&self.shared.process.global, self.frontend()] {
            count.total.fetch_add(1, Relaxed);
            count.max.fetch_max(count.cur.load(Relaxed), Relaxed);
        }
    }
}

/// A session's place in its backend's session count (`scur`, `smax`,
/// queued clients included, as HAProxy's): taken when the session is
/// routed to the backend, given back when dropped.
#[derive(Debug)]
pub(crate) struct BackendSeat {
    count: Arc<BackendCount>,
}

impl BackendSeat {
    pub(crate) fn take(shared: &Shared, backend: usize) -> BackendSeat {
        let count = Arc::clone(&shared.backends[backend]);
        let now = count.cur.fetch_add(1, Relaxed) + 1;
        count.max.fetch_max(now, Relaxed);
        BackendSeat { count }
    }
}

impl Drop for BackendSeat {
    fn drop(&mut self) {
        self.count.cur.fetch_sub(1, Relaxed);
    }
}

fn take(count: &AtomicUsize, max: usize) -> Option<usize> {
    count
        .fetch_update(Relaxed, Relaxed, |c| (c < max).then_some(c + 1))
        .ok()
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.shared.frontends[self.frontend]
            .cur
            .fetch_sub(1, Relaxed);
        self.shared.process.global.cur.fetch_sub(1, Relaxed);
        if let Some(l) = &self.listener {
            l.cur.fetch_sub(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::shared;

    /// Global maxconn 3; `small` allows 2 of them, `wide` all 3.
    const LIMITS: &str = "\
global
    maxconn 3
frontend small
    bind 127.0.0.1:8001
    maxconn 2
    default_backend be
frontend wide
    bind 127.0.0.1:8002
    default_backend be
backend be
    server s1 127.0.0.1:9001
";
    const SMALL: usize = 0;
    const WIDE: usize = 1;

    /// Current connections: global, then per frontend.
    fn cur(s: &Shared) -> (usize, usize, usize) {
        let load = |c: &ConnCount| c.cur.load(Relaxed);
        let fe = |f: usize| load(&s.frontends[f]);
        (load(&s.process.global), fe(SMALL), fe(WIDE))
    }

    #[test]
    fn admission_is_strict_at_the_frontend_maxconn() {
        let s = shared(LIMITS);
        let a = Admission::reserve(&s, SMALL).expect("1 of 2");
        let b = Admission::reserve(&s, SMALL).expect("2 of 2");
        assert!(Admission::reserve(&s, SMALL).is_none(), "frontend full");
        assert_eq!(cur(&s), (2, 2, 0), "the refused place is given back");
        drop(a);
        assert_eq!(cur(&s), (1, 1, 0));
        let _c = Admission::reserve(&s, SMALL).expect("a place freed");
        drop(b);
        assert_eq!(cur(&s), (1, 1, 0));
    }

    #[test]
    fn admission_is_strict_at_the_global_maxconn() {
        let s = shared(LIMITS);
        let _a = Admission::reserve(&s, SMALL).unwrap();
        let _b = Admission::reserve(&s, SMALL).unwrap();
        let c = Admission::reserve(&s, WIDE).expect("3 of 3");
        assert!(
            Admission::reserve(&s, WIDE).is_none(),
            "room in the frontend, none in the process"
        );
        assert_eq!(cur(&s), (3, 2, 1));
        drop(c);
        assert!(Admission::reserve(&s, WIDE).is_some());
        assert_eq!(cur(&s), (2, 2, 0), "dropped at once: given back");
    }

    #[test]
    fn totals_and_highs_count_admitted_clients_only() {
        let s = shared(LIMITS);
        let counts = |c: &ConnCount| (c.total.load(Relaxed), c.max.load(Relaxed));
        let mut a = Admission::reserve(&s, WIDE).unwrap();
        let mut b = Admission::reserve(&s, WIDE).unwrap();
        let _reserved = Admission::reserve(&s, SMALL).unwrap();
        assert_eq!(counts(&s.process.global), (0, 0), "reserved, no client yet");
        a.admitted();
        assert_eq!(
            counts(&s.process.global),
            (1, 3),
            "the high is of places taken"
        );
        drop(a);
        b.admitted();
        assert_eq!(counts(&s.process.global), (2, 3));
        assert_eq!(counts(&s.frontends[WIDE]), (2, 2));
        assert_eq!(counts(&s.frontends[SMALL]), (0, 0));
        assert_eq!(b.frontend().cur.load(Relaxed), 1);
        assert!(Arc::ptr_eq(b.shared(), &s));
    }

    #[test]
    fn a_bind_maxconn_is_strict_and_every_refusal_gives_its_places_back() {
        let s = shared(LIMITS);
        let addr = SockAddr::Inet("127.0.0.1:8001".parse().unwrap());
        let cap = ListenerCap {
            count: s.process.listeners.of(addr.clone()),
            max: 1,
        };
        let listener = |c: &ListenerCap| c.count.cur.load(Relaxed);
        let a = Admission::reserve_on(&s, SMALL, Some(&cap)).expect("1 of 1");
        assert!(Admission::reserve_on(&s, SMALL, Some(&cap)).is_none());
        assert_eq!((listener(&cap), cur(&s)), (1, (1, 1, 0)));
        // Another worker's socket on the same address shares the count.
        let other = ListenerCap {
            count: s.process.listeners.of(addr),
            max: 1,
        };
        assert!(Admission::reserve_on(&s, SMALL, Some(&other)).is_none());
        drop(a);
        assert_eq!((listener(&cap), cur(&s)), (0, (0, 0, 0)));
        // Refused by the frontend: the listener's place is given back too.
        let wide = ListenerCap { max: 5, ..cap };
        let _b = Admission::reserve(&s, SMALL).unwrap();
        let _c = Admission::reserve(&s, SMALL).unwrap();
        assert!(Admission::reserve_on(&s, SMALL, Some(&wide)).is_none());
        assert_eq!((listener(&wide), cur(&s)), (0, (2, 2, 0)));
        let d = Admission::reserve_on(&s, WIDE, Some(&wide)).expect("3 of 3");
        assert!(
            Admission::reserve_on(&s, WIDE, Some(&wide)).is_none(),
            "global"
        );
        assert_eq!(listener(&wide), 1);
        drop(d);
        assert_eq!(listener(&wide), 0);
    }

    #[test]
    fn a_backend_seat_counts_from_take_to_drop_and_keeps_the_high() {
        let s = shared(LIMITS);
        let count = |s: &Shared| {
            let c = &s.backends[0];
            (c.cur.load(Relaxed), c.max.load(Relaxed))
        };
        let a = BackendSeat::take(&s, 0);
        let b = BackendSeat::take(&s, 0);
        assert_eq!(count(&s), (2, 2));
        drop(a);
        drop(b);
        assert_eq!(count(&s), (0, 2));
        let _c = BackendSeat::take(&s, 0);
        assert_eq!(count(&s), (1, 2));
    }

    #[test]
    fn servers_and_backends_are_found_by_name() {
        let s = shared(LIMITS);
        assert_eq!(s.backend_index("be"), Some(0));
        assert_eq!(s.backend_index("nope"), None);
        let (b, server) = s.find_server("be", "s1").unwrap();
        assert_eq!((b, server.name.as_str()), (0, "s1"));
        assert!(s.find_server("be", "s2").is_none());
    }
}
