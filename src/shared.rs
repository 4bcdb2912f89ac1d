//! What all workers share: the configuration, the servers with their
//! counters, and the global and per-frontend connection counts that enforce
//! `maxconn`. Read without locks; counters are padded atomics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::backend::Server;
use crossbeam_channel::Sender;
use mio::Waker;

use crate::config::Config;
use crate::logger::LogSender;
use crate::tcplog::Record;
use crate::worker::Control;

/// Counters of one frontend (or of the whole process), on their own line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct ConnCount {
    pub cur: AtomicUsize,
    pub total: AtomicU64,
}

/// A counter on its own cache line, for counts written rarely but from any
/// worker.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// One configuration snapshot as the workers run it.
#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    /// Servers of each backend, indexed like `config.backends`.
    pub servers: Vec<Vec<Arc<Server>>>,
    /// All client connections of the process (global `maxconn`).
    pub global: ConnCount,
    /// Client connections per frontend, indexed like `config.frontends`.
    pub frontends: Vec<ConnCount>,
    /// Where workers report `observe layer4` error runs: the prober.
    pub observer: Option<Observer>,
    /// Where workers send connection log records: the logger thread, if
    /// some frontend logs.
    pub log: Option<LogSender>,
    /// Connection log lines lost because the logger thread fell behind.
    pub log_dropped: Counter,
}

/// The prober's control channel and waker, as workers see them.
#[derive(Debug)]
pub struct Observer {
    pub tx: Sender<Control>,
    pub waker: Arc<Waker>,
}

impl Observer {
    /// Tells the prober that `server` reached its error-limit.
    pub fn report(&self, server: &Arc<Server>) {
        let _ = self.tx.send(Control::Observed(Arc::clone(server)));
        let _ = self.waker.wake();
    }
}

impl Shared {
    pub fn new(config: Config, observer: Option<Observer>) -> Shared {
        let servers = config
            .backends
            .iter()
            .map(|b| b.servers.iter().map(|s| Arc::new(Server::new(s))).collect())
            .collect();
        let frontends = config
            .frontends
            .iter()
            .map(|_| ConnCount::default())
            .collect();
        Shared {
            config,
            servers,
            global: ConnCount::default(),
            frontends,
            observer,
            log: None,
            log_dropped: Counter::default(),
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
            self.log_dropped.add(1);
        }
    }
}

/// A client connection's place under the global and frontend `maxconn`;
/// given back when dropped.
#[derive(Debug)]
pub struct Admission {
    shared: Arc<Shared>,
    frontend: usize,
}

impl Admission {
    /// Takes a place if both limits allow it. Strict across workers.
    pub fn reserve(shared: &Arc<Shared>, frontend: usize) -> Option<Admission> {
        let fe = &shared.frontends[frontend];
        take(&shared.global.cur, shared.config.maxconn)?;
        if take(&fe.cur, shared.config.frontends[frontend].maxconn).is_none() {
            shared.global.cur.fetch_sub(1, Relaxed);
            return None;
        }
        shared.global.total.fetch_add(1, Relaxed);
        fe.total.fetch_add(1, Relaxed);
        Some(Admission {
            shared: Arc::clone(shared),
            frontend,
        })
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
        self.shared.global.cur.fetch_sub(1, Relaxed);
    }
}
