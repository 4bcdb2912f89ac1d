//! Servers and the counters every worker shares.
//!
//! A [`Server`] is created once per configuration and shared by all workers
//! behind an `Arc`. Its counters are atomics on their own cache line so that
//! two workers counting on different servers never contend. A live
//! connection is represented by a [`ConnGuard`]: it takes a slot on the server
//! when it is created and gives it back when dropped, on every exit path.

pub mod limit;
pub mod ports;
pub mod slowstart;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::config::{Observe, ServerConf, SourceAddr, UnixAddr};

pub use limit::dynamic_maxconn;
pub use ports::{PortLease, PortPool};

/// Counters of one server, padded to their own cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct ServerStats {
    /// Connections currently established or being established.
    pub cur: AtomicU32,
    /// Connections ever attempted to this server (HAProxy `stot`).
    pub total: AtomicU64,
    /// Bytes from the client to this server.
    pub bytes_in: AtomicU64,
    /// Bytes from this server to the client.
    pub bytes_out: AtomicU64,
    /// Failed connection attempts (refused, reset, timed out).
    pub connect_failures: AtomicU64,
    /// Highest `cur` seen (HAProxy `smax`).
    pub max: AtomicU32,
    /// Connect failures in a row on live traffic (`observe layer4`).
    pub consecutive_errors: AtomicU32,
    /// Attempts retried after failing on this server (HAProxy `wretr`).
    pub retries: AtomicU64,
    /// Of those, the ones given to another server (HAProxy `wredis`).
    pub redispatches: AtomicU64,
    /// Connections aborted by the client, or by the server, once forwarding.
    pub cli_aborts: AtomicU64,
    pub srv_aborts: AtomicU64,
}

/// Results of the active checks of one server; written only by the prober,
/// read by the stats.
#[derive(Debug, Default)]
pub struct CheckStats {
    /// `check` (or `observe` alone) is configured.
    pub enabled: AtomicBool,
    /// [`CheckStatus`] of the last check.
    pub status: AtomicU8,
    pub duration_ms: AtomicU64,
    /// HAProxy's health counter (0..rise+fall-1), with rise and fall.
    pub health: AtomicU32,
    pub rise: AtomicU32,
    pub fall: AtomicU32,
    /// Failed checks (`chkfail`) and UP -> DOWN transitions (`chkdown`).
    pub failed: AtomicU64,
    pub downs: AtomicU64,
    /// Last state change (health or admin), ms since the process started.
    pub last_change_ms: AtomicU64,
    /// Time spent DOWN before the current state, ms; and when the current
    /// DOWN began (ms since start, meaningful only while DOWN).
    pub down_ms: AtomicU64,
    pub down_since_ms: AtomicU64,
    /// The last check's outcome in words.
    pub desc: Mutex<String>,
    /// The HTTP or SMTP status code the last check got (0: none).
    pub code: AtomicU32,
}

/// HAProxy's `check_status` values that a TCP check can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CheckStatus {
    /// No check has finished yet.
    Init = 0,
    /// Connected (and every tcp-check step passed when there are none).
    L4Ok = 1,
    /// Connect timed out.
    L4Tout = 2,
    /// Connect refused or failed.
    L4Con = 3,
    /// tcp-check expect steps passed.
    L7Ok = 4,
    /// An expect did not match, or the server closed first.
    L7Rsp = 5,
    /// An expect got nothing in time.
    L7Tout = 6,
    /// Could not even make a socket.
    SockErr = 7,
    /// The TLS handshake of a `check-ssl` check (or an ssl-hello) passed.
    L6Ok = 8,
    /// The TLS handshake timed out.
    L6Tout = 9,
    /// The TLS handshake failed (bad certificate, alert, not TLS).
    L6Rsp = 10,
    /// An HTTP check passed conditionally: a 404 under `disable-on-404`.
    L7Okc = 11,
    /// An HTTP check got a status it did not expect.
    L7Sts = 12,
    /// An agent answered without a state word: nothing to change.
    Checked = 13,
}

/// Every status, by its number.
pub const CHECK_STATUSES: [CheckStatus; 14] = {
    use CheckStatus::*;
    [
        Init, L4Ok, L4Tout, L4Con, L7Ok, L7Rsp, L7Tout, SockErr, L6Ok, L6Tout, L6Rsp, L7Okc, L7Sts,
        Checked,
    ]
};

impl CheckStatus {
    pub fn from_u8(v: u8) -> CheckStatus {
        CHECK_STATUSES
            .get(usize::from(v))
            .copied()
            .unwrap_or(CheckStatus::Init)
    }

    /// HAProxy's description of it (`show stat` check_desc).
    pub fn description(self) -> &'static str {
        match self {
            CheckStatus::Init => "Initializing",
            CheckStatus::L4Ok => "Layer4 check passed",
            CheckStatus::L4Tout => "Layer4 timeout",
            CheckStatus::L4Con => "Layer4 connection problem",
            CheckStatus::L7Ok => "Layer7 check passed",
            CheckStatus::L7Rsp => "Layer7 invalid response",
            CheckStatus::L7Tout => "Layer7 timeout",
            CheckStatus::SockErr => "Socket error",
            CheckStatus::L6Ok => "Layer6 check passed",
            CheckStatus::L6Tout => "Layer6 timeout",
            CheckStatus::L6Rsp => "Layer6 invalid response",
            CheckStatus::L7Okc => "Layer7 check conditionally passed",
            CheckStatus::L7Sts => "Layer7 wrong status",
            CheckStatus::Checked => "No status change",
        }
    }

    /// HAProxy's name for it (`show stat` check_status).
    pub fn name(self) -> &'static str {
        match self {
            CheckStatus::Init => "INI",
            CheckStatus::L4Ok => "L4OK",
            CheckStatus::L4Tout => "L4TOUT",
            CheckStatus::L4Con => "L4CON",
            CheckStatus::L7Ok => "L7OK",
            CheckStatus::L7Rsp => "L7RSP",
            CheckStatus::L7Tout => "L7TOUT",
            CheckStatus::SockErr => "SOCKERR",
            CheckStatus::L6Ok => "L6OK",
            CheckStatus::L6Tout => "L6TOUT",
            CheckStatus::L6Rsp => "L6RSP",
            CheckStatus::L7Okc => "L7OKC",
            CheckStatus::L7Sts => "L7STS",
            CheckStatus::Checked => "CHECKED",
        }
    }
}

/// A server's administrative state (HAProxy's READY / DRAIN / MAINT), set
/// by the conf (`disabled`) and the runtime API; health is separate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Admin {
    /// Takes new connections (if UP).
    Ready = 0,
    /// No new connections; established ones finish.
    Drain = 1,
    /// Maintenance: no new connections; established ones finish.
    Maint = 2,
}

impl Admin {
    fn from_u8(v: u8) -> Admin {
        match v {
            0 => Admin::Ready,
            1 => Admin::Drain,
            _ => Admin::Maint,
        }
    }
}

/// One server of a backend, as every worker sees it.
///
/// Its name is its identity: a reload keeps the same `Server` (and its
/// counters) for a server of the same name in the same backend, and updates
/// the settable fields below in place. They are atomics because the runtime
/// API and reloads change them while workers read them; workers never write
/// them.
#[derive(Debug)]
pub struct Server {
    pub name: String,
    addr: Mutex<SocketAddr>,
    /// Weight now (`set server weight`), 0..=256.
    weight: AtomicU32,
    /// Weight from the conf: `weight N%` is relative to it.
    conf_weight: AtomicU32,
    /// 0 = unlimited.
    maxconn: AtomicU32,
    /// `minconn`: equal to maxconn for a static limit.
    minconn: AtomicU32,
    /// The limit in force: maxconn, or the dynamic one of `minconn` and
    /// the backend's `fullconn` (see [`limit`]), refreshed before each pick.
    limit: AtomicU32,
    /// `maxqueue` (0 = none), shown as `qlimit`.
    maxqueue: AtomicU32,
    /// `id N` (0: none; see [`crate::config::numbered_ids`]).
    id: AtomicU32,
    /// How connections to it are made: `source`, `tfo`, `tcp-ut`.
    sockopts: Mutex<Arc<SockOpts>>,
    admin: AtomicU8,
    /// `backup`: used only while no regular server of the backend is UP.
    backup: AtomicBool,
    /// `observe layer4` settings, if any (read only on a failed connect).
    observe: Mutex<Option<Observe>>,
    /// UP (true) or DOWN, as the prober last judged it. Written only by the
    /// prober thread; servers without `check` stay UP.
    up: AtomicBool,
    /// Slow start: the share of its weight the server gets now, in
    /// 1/[`RAMP_FULL`] steps (1..=RAMP_FULL). Written only by the prober.
    ramp: AtomicU32,
    /// HAProxy's NOLB: an HTTP check under `disable-on-404` got a 404, so
    /// the server is UP but takes no new connections. Written by the prober.
    nolb: AtomicBool,
    /// Its `agent-check` said down (or fail, stopped): DOWN whatever the
    /// health check says, until the agent says up. Written by the prober.
    agent_down: AtomicBool,
    pub stats: ServerStats,
    pub check: CheckStats,
    /// The `agent-check`'s results, shown as the `agent_*` columns.
    pub agent: CheckStats,
}

/// A full ramp: the server has its whole weight.
pub const RAMP_FULL: u32 = 256;

impl Server {
    pub fn new(conf: &ServerConf) -> Server {
        let server = Server {
            name: conf.name.clone(),
            addr: Mutex::new(conf.addr),
            weight: AtomicU32::new(0),
            conf_weight: AtomicU32::new(0),
            maxconn: AtomicU32::new(0),
            minconn: AtomicU32::new(0),
            limit: AtomicU32::new(0),
            maxqueue: AtomicU32::new(0),
            id: AtomicU32::new(0),
            sockopts: Mutex::new(Arc::new(SockOpts::default())),
            admin: AtomicU8::new(Admin::Ready as u8),
            backup: AtomicBool::new(false),
            observe: Mutex::new(None),
            up: AtomicBool::new(true),
            ramp: AtomicU32::new(RAMP_FULL),
            nolb: AtomicBool::new(false),
            agent_down: AtomicBool::new(false),
            stats: ServerStats::default(),
            check: CheckStats::default(),
            agent: CheckStats::default(),
        };
        server.apply_conf(conf);
        server
    }

    /// Takes the settings of `conf` (same name): at creation and on a reload
    /// that changed the server's line.
    pub fn apply_conf(&self, conf: &ServerConf) {
        debug_assert_eq!(self.name, conf.name);
        self.set_addr(conf.addr);
        self.weight.store(conf.weight, Relaxed);
        self.conf_weight.store(conf.weight, Relaxed);
        self.maxconn.store(conf.maxconn, Relaxed);
        self.minconn.store(conf.minconn, Relaxed);
        self.limit.store(conf.maxconn, Relaxed);
        self.maxqueue.store(conf.maxqueue, Relaxed);
        self.id.store(conf.id.unwrap_or(0), Relaxed);
        let mut sockopts = self.sockopts.lock().unwrap_or_else(|e| e.into_inner());
        *sockopts = Arc::new(SockOpts::of(conf, sockopts.ports.as_ref()));
        drop(sockopts);
        let admin = if conf.disabled {
            Admin::Maint
        } else {
            Admin::Ready
        };
        self.set_admin(admin);
        self.backup.store(conf.backup, Relaxed);
        *self.observe.lock().unwrap_or_else(|e| e.into_inner()) = conf.observe;
    }

    /// Where connections go, as HAProxy shows it: `IP:PORT`, a unix
    /// socket's path or `abns@NAME`.
    pub fn shown_addr(&self) -> String {
        match &self.sockopts().unix {
            Some(unix) => unix.to_string(),
            None => self.addr().to_string(),
        }
    }

    /// Where connections go (0.0.0.0:0 for a unix server: see [`SockOpts`]).
    pub fn addr(&self) -> SocketAddr {
        *self.addr.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_addr(&self, addr: SocketAddr) {
        *self.addr.lock().unwrap_or_else(|e| e.into_inner()) = addr;
    }

    #[inline]
    pub fn weight(&self) -> u32 {
        self.weight.load(Relaxed)
    }

    /// The conf's weight (`set server weight N%` is a share of it).
    pub fn conf_weight(&self) -> u32 {
        self.conf_weight.load(Relaxed)
    }

    /// Sets the weight (0..=256; the caller has checked). Balancers that
    /// build tables from weights must be rebuilt after.
    pub fn set_weight(&self, weight: u32) {
        self.weight.store(weight, Relaxed);
    }

    /// 0 = unlimited.
    #[inline]
    pub fn maxconn(&self) -> u32 {
        self.maxconn.load(Relaxed)
    }

    /// `set maxconn server`: as HAProxy, a static limit stays static
    /// (minconn follows), a dynamic one keeps its minconn.
    pub fn set_maxconn(&self, maxconn: u32) {
        if self.minconn() == self.maxconn() {
            self.minconn.store(maxconn, Relaxed);
        }
        self.maxconn.store(maxconn, Relaxed);
        self.limit.store(maxconn, Relaxed);
    }

    /// `minconn` (equal to maxconn when the limit is static).
    #[inline]
    pub fn minconn(&self) -> u32 {
        self.minconn.load(Relaxed)
    }

    /// Whether `minconn` makes the limit follow the backend's load.
    #[inline]
    pub fn is_dynamic(&self) -> bool {
        let min = self.minconn();
        min > 0 && min < self.maxconn()
    }

    /// The connection limit in force now (0 = unlimited): maxconn, or the
    /// dynamic limit last set by [`Server::refresh_limit`].
    #[inline]
    pub fn limit(&self) -> u32 {
        self.limit.load(Relaxed)
    }

    /// Sets the dynamic limit for a backend of `beconn` sessions and
    /// `fullconn` (see [`dynamic_maxconn`]); a static one stays maxconn.
    pub fn refresh_limit(&self, beconn: usize, fullconn: u32) {
        let (min, max) = (self.minconn(), self.maxconn());
        let limit = dynamic_maxconn(min, max, beconn, fullconn);
        if self.limit() != limit {
            self.limit.store(limit, Relaxed);
        }
    }

    /// `maxqueue` (0 = no limit).
    pub fn maxqueue(&self) -> u32 {
        self.maxqueue.load(Relaxed)
    }

    /// `id N`, if its line has one.
    pub fn id(&self) -> Option<u32> {
        Some(self.id.load(Relaxed)).filter(|&id| id > 0)
    }

    /// How connections to this server are made.
    pub fn sockopts(&self) -> Arc<SockOpts> {
        Arc::clone(&self.sockopts.lock().unwrap_or_else(|e| e.into_inner()))
    }

    #[inline]
    pub fn admin(&self) -> Admin {
        Admin::from_u8(self.admin.load(Relaxed))
    }

    pub fn set_admin(&self, admin: Admin) {
        self.admin.store(admin as u8, Relaxed);
    }

    #[inline]
    pub fn is_backup(&self) -> bool {
        self.backup.load(Relaxed)
    }

    pub fn observe(&self) -> Option<Observe> {
        *self.observe.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Current connections, as counted by all workers together.
    #[inline]
    pub fn cur(&self) -> u32 {
        self.stats.cur.load(Relaxed)
    }

    /// Whether the balancer may choose this server now: READY, UP, with
    /// weight and a free slot (a hint: the slot is only really taken by
    /// [`ConnGuard::acquire`]).
    #[inline]
    pub fn available(&self) -> bool {
        self.in_service() && {
            let max = self.limit();
            max == 0 || self.cur() < max
        }
    }

    /// READY, weighted and UP: it would take connections if it had a slot.
    #[inline]
    pub fn in_service(&self) -> bool {
        self.admin() == Admin::Ready && self.weight() > 0 && self.is_up() && !self.is_nolb()
    }

    /// UP: its health check and its agent (if any) both say so.
    #[inline]
    pub fn is_up(&self) -> bool {
        self.up.load(Relaxed) && !self.agent_down.load(Relaxed)
    }

    /// HAProxy's running state (not STOPPED): UP and not in maintenance,
    /// draining included. `srv_is_up`, `use-server` and persistence go by
    /// it.
    #[inline]
    pub fn is_running(&self) -> bool {
        self.is_up() && self.admin() != Admin::Maint
    }

    /// What the health check alone says (the agent aside).
    #[inline]
    pub fn check_up(&self) -> bool {
        self.up.load(Relaxed)
    }

    /// UP but refusing new connections (`disable-on-404`).
    #[inline]
    pub fn is_nolb(&self) -> bool {
        self.nolb.load(Relaxed)
    }

    /// For the prober: a 404 under `disable-on-404` (true), or a pass (false).
    pub fn set_nolb(&self, nolb: bool) {
        self.nolb.store(nolb, Relaxed);
    }

    /// What the agent says: DOWN (false) or back (true); for the prober.
    pub fn set_agent_up(&self, up: bool) {
        self.agent_down.store(!up, Relaxed);
    }

    /// Whether the agent holds the server DOWN.
    pub fn agent_up(&self) -> bool {
        !self.agent_down.load(Relaxed)
    }

    /// Counts a failed connect on live traffic; true when this one reaches
    /// `error-limit` under `observe layer4` (the prober must be told).
    pub fn observe_failure(&self) -> bool {
        let Some(observe) = self.observe() else {
            return false;
        };
        self.stats.consecutive_errors.fetch_add(1, Relaxed) + 1 == observe.error_limit
    }

    /// A connect on live traffic succeeded: the error run is over.
    #[inline]
    pub fn observe_success(&self) {
        // Read first: a write would bounce this line between cores. Only
        // `observe layer4` servers ever count errors.
        if self.stats.consecutive_errors.load(Relaxed) != 0 {
            self.stats.consecutive_errors.store(0, Relaxed);
        }
    }

    /// Slow-start ramp, 1..=[`RAMP_FULL`]; RAMP_FULL outside slow start.
    #[inline]
    pub fn ramp(&self) -> u32 {
        self.ramp.load(Relaxed)
    }

    /// Weight as the balancer uses it now: `weight * ramp`, so RAMP_FULL
    /// times the weight once slow start is over.
    #[inline]
    pub fn eweight(&self) -> u64 {
        u64::from(self.weight()) * u64::from(self.ramp())
    }

    /// Sets the slow-start ramp (clamped to 1..=RAMP_FULL); for the prober.
    pub fn set_ramp(&self, ramp: u32) {
        self.ramp.store(ramp.clamp(1, RAMP_FULL), Relaxed);
    }

    /// Sets the health state; for the prober, the only writer.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Relaxed);
    }
}

/// A server's socket options for the connections to it (and its checks).
#[derive(Debug, Clone, Default)]
pub struct SockOpts {
    /// `source`: bound before the connect.
    pub source: Option<SourceAddr>,
    /// The pool of `source`'s port range, if it has one; kept across
    /// reloads that keep the range.
    pub ports: Option<Arc<PortPool>>,
    /// `tfo`: TCP_FASTOPEN_CONNECT on a first attempt.
    pub tfo: bool,
    /// `tcp-ut`: TCP_USER_TIMEOUT.
    pub tcp_ut: Option<Duration>,
    /// A server on a unix socket: connections (and checks) go there, not
    /// to the server's IP address.
    pub unix: Option<UnixAddr>,
    /// `send-proxy` / `send-proxy-v2`: the header every connection starts with.
    pub send_proxy: Option<crate::config::SendProxy>,
}

impl SockOpts {
    /// The options of `conf`, with `was` as the range's pool if it fits.
    fn of(conf: &ServerConf, was: Option<&Arc<PortPool>>) -> SockOpts {
        let range = conf.source.as_ref().and_then(|s| s.ports.as_ref());
        SockOpts {
            source: conf.source.clone(),
            ports: ports::carry(&conf.name, was, range),
            tfo: conf.tfo,
            tcp_ut: conf.tcp_ut,
            unix: conf.unix.clone(),
            send_proxy: conf.send_proxy,
        }
    }
}

/// One connection's slot on a server, and the source port it holds when
/// the server has a port range; both released on drop.
#[derive(Debug)]
pub struct ConnGuard {
    server: Arc<Server>,
    port: Option<PortLease>,
}

impl ConnGuard {
    /// Takes a slot on `server` unless it is at its maxconn. Strict across
    /// workers: two workers racing for the last slot cannot both get it.
    pub fn acquire(server: &Arc<Server>) -> Option<ConnGuard> {
        let stats = &server.stats;
        let max = server.limit();
        let prev = stats
            .cur
            .fetch_update(Relaxed, Relaxed, |c| (max == 0 || c < max).then_some(c + 1))
            .ok()?;
        stats.total.fetch_add(1, Relaxed);
        stats.max.fetch_max(prev + 1, Relaxed);
        Some(ConnGuard {
            server: Arc::clone(server),
            port: None,
        })
    }

    #[inline]
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    /// Keeps the connection's source port until the guard goes: its owner
    /// drops the socket first (it is declared before the guard).
    pub fn hold_port(&mut self, port: Option<PortLease>) {
        self.port = port;
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.server.stats.cur.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{server_conf, server_from};

    fn server(maxconn: u32) -> Arc<Server> {
        server_from(&ServerConf {
            maxconn,
            ..server_conf("s")
        })
    }

    #[test]
    fn guard_counts_and_uncounts() {
        let s = server(0);
        let a = ConnGuard::acquire(&s).unwrap();
        let b = ConnGuard::acquire(&s).unwrap();
        assert_eq!(s.cur(), 2);
        drop(a);
        assert_eq!(s.cur(), 1);
        drop(b);
        assert_eq!(s.cur(), 0);
        assert_eq!(s.stats.total.load(Relaxed), 2);
        assert_eq!(s.stats.max.load(Relaxed), 2);
    }

    #[test]
    fn maxconn_is_strict() {
        let s = server(2);
        let _a = ConnGuard::acquire(&s).unwrap();
        let _b = ConnGuard::acquire(&s).unwrap();
        assert!(ConnGuard::acquire(&s).is_none());
        assert!(!s.available());
        drop(_a);
        assert!(s.available());
        assert!(ConnGuard::acquire(&s).is_some());
    }
}
