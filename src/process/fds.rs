//! The file descriptor budget: every fd l4lb can hold open at once, at
//! worst, worked out from the configuration in one place ([`fd_budget`]),
//! and fitting it into RLIMIT_NOFILE at start ([`fit_at_start`]) and on a
//! reload ([`fit_reload`]).
//!
//! Everything but the splice pipes must fit, or l4lb refuses the conf with
//! the arithmetic in the message: past the limit, accepts and connects fail
//! with EMFILE. Pipes are an optimisation: at start, fewer are made when
//! they do not fit as well (the rest copy), with a warning.
//!
//! With `ulimit-n N`, the limit is N (set at start, kept on reloads), never
//! raised past it.
//!
//! Not counted: the extra listening sockets an upgrade (`--upgrade-from`)
//! takes from an l4lb that ran more workers than this one.

use std::fmt;
use std::io;
use std::sync::OnceLock;

use crate::admin::metrics;
use crate::config::{ApiLevel, Config, LogDest};
use crate::health;
use crate::sys;

/// stdin, stdout, stderr: what is open at start at least.
const STDIO: u64 = 3;
/// Fds open for a moment: the conf file and host name lookups on a reload,
/// the stats sockets and the metrics listener a reload binds before the
/// ones they replace close, the notify socket, the probe of a stats
/// socket's path, the old process's stats socket during an upgrade.
const TRANSIENT: u64 = 16;

/// Some fds, and what they are for (as the refusal prints it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub fds: u64,
    pub what: String,
}

impl Part {
    fn new(fds: u64, what: impl Into<String>) -> Part {
        Part {
            fds,
            what: what.into(),
        }
    }

    /// The larger of two parts (with its explanation).
    fn max(self, other: Part) -> Part {
        if other.fds > self.fds { other } else { self }
    }
}

/// The worst case of a configuration, part by part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdBudget {
    /// A client and a server socket per connection: 2 x maxconn.
    pub sessions: Part,
    /// One socket per bind per worker, and the supervisor's duplicate of
    /// each (kept to hand them over on an upgrade).
    pub listeners: Part,
    /// The copies of the supervisor's duplicates that `_getsocks` sends
    /// (only with a `level admin` stats socket).
    pub handover: Part,
    /// epoll and eventfd of each worker and of the prober; epoll, eventfd
    /// and signalfd of the supervisor.
    pub event_loops: Part,
    /// One check socket per server with `check` (or `observe layer4`): a
    /// server has one check in progress at most.
    pub checks: Part,
    /// The runtime API: a listener per `stats socket`, its copy of the
    /// supervisor's epoll fd, `stats maxconn` connections (a cap over all
    /// of its sockets), and one more accepted past the cap, closed at once.
    pub api: Part,
    /// `stats http`: its listener, its copy of the supervisor's epoll fd,
    /// its connections and one accepted past them.
    pub metrics: Part,
    /// The stats pages: a listener per bind, an epoll copy, their
    /// `maxconn`s together and one accepted past them.
    pub pages: Part,
    /// The logger's sockets: UDP for IPv4, UDP for IPv6 and unix datagram,
    /// each opened at its first use and kept.
    pub logs: Part,
    /// The fds open at start (stdio, and any the parent left open) and
    /// short-lived ones.
    pub base: Part,
    /// Two per splice pipe: each worker's pool holds maxpipes / workers
    /// (rounded up). Optional: see [`fit_at_start`].
    pub pipes: Part,
}

/// The worst case of `cfg` (with `cfg.maxpipes` pipes).
pub fn fd_budget(cfg: &Config) -> FdBudget {
    let threads = cfg.threads.max(1) as u64;
    let binds: u64 = cfg.frontends.iter().map(|f| f.binds.len() as u64).sum();
    budget_with(cfg, binds, threads)
}

/// The worst case while a reload from `was` to `now` is applied and
/// after it: each part is the larger of the two confs', since what the
/// running conf opened closes only as its connections end (and the prober
/// and the logger, once started, stay), and the listeners of binds the
/// reload removes stay open until every worker has switched.
/// `now.threads` and `now.maxpipes` must already be the running ones.
pub fn reload_budget(was: &Config, now: &Config) -> FdBudget {
    let (old, new) = (fd_budget(was), fd_budget(now));
    let threads = now.threads.max(1) as u64;
    let mut addrs: Vec<_> = was.frontends.iter().flat_map(|f| &f.binds).collect();
    for b in now.frontends.iter().flat_map(|f| &f.binds) {
        if !addrs.iter().any(|a| a.addr == b.addr) {
            addrs.push(b);
        }
    }
    let both = budget_with(now, addrs.len() as u64, threads);
    FdBudget {
        sessions: old.sessions.max(new.sessions),
        listeners: both.listeners,
        handover: old.handover.max(new.handover),
        event_loops: old.event_loops.max(new.event_loops),
        checks: old.checks.max(new.checks),
        api: old.api.max(new.api),
        metrics: old.metrics.max(new.metrics),
        pages: old.pages.max(new.pages),
        logs: old.logs.max(new.logs),
        base: new.base,
        pipes: new.pipes,
    }
}

/// The worst case of `cfg` with `binds` listening addresses and `threads`
/// workers.
fn budget_with(cfg: &Config, binds: u64, threads: u64) -> FdBudget {
    let maxconn = cfg.maxconn as u64;
    let sessions = Part::new(
        2 * maxconn,
        format!("for connections (2 x maxconn {maxconn})"),
    );
    let listeners = Part::new(
        2 * threads * binds,
        format!(
            "listening sockets ({threads} worker(s) x {binds} bind(s), and the supervisor's \
             copy of each)"
        ),
    );
    let admin = cfg.stats_sockets.iter().any(|s| s.level == ApiLevel::Admin);
    let handover = Part::new(
        if admin { threads * binds } else { 0 },
        "copies of them handed over by `_getsocks` (a level admin stats socket)",
    );
    let prober = health::needs_prober(cfg);
    let event_loops = Part::new(
        2 * threads + if prober { 2 } else { 0 } + 3,
        format!(
            "for event loops (epoll and eventfd of {threads} worker(s){}, the supervisor's \
             epoll, eventfd and signalfd)",
            if prober { " and the prober" } else { "" }
        ),
    );
    let checked = cfg
        .backends
        .iter()
        .flat_map(|b| &b.servers)
        .filter(|s| s.check.is_some())
        .count() as u64;
    let checks = Part::new(checked, "health check sockets (one per checked server)");
    let (api, metrics) = admin_services(cfg);
    let logs = Part::new(log_sockets(cfg), "log sockets (UDP IPv4, UDP IPv6, unix)");
    let base = base(STDIO);
    let per_worker = cfg.maxpipes.div_ceil(threads as usize) as u64;
    let pipes = Part::new(
        2 * threads * per_worker,
        format!(
            "for splice pipes ({threads} worker(s) x {per_worker} pipe(s) x 2, maxpipes {})",
            cfg.maxpipes
        ),
    );
    FdBudget {
        sessions,
        listeners,
        handover,
        event_loops,
        checks,
        api,
        metrics,
        pages: stats_pages(cfg),
        logs,
        base,
        pipes,
    }
}

/// The runtime API's part and the metrics endpoint's.
fn admin_services(cfg: &Config) -> (Part, Part) {
    let sockets = cfg.stats_sockets.len() as u64;
    let api = if sockets == 0 {
        Part::new(0, "")
    } else {
        let max = cfg.stats_maxconn as u64;
        Part::new(
            sockets + 1 + max + 1,
            format!(
                "for the runtime API ({sockets} stats socket(s), an epoll copy, stats maxconn \
                 {max}, one accepted past it)"
            ),
        )
    };
    let metrics = match cfg.stats_http {
        Some(_) => Part::new(
            2 + metrics::MAX_CONNS as u64 + 1,
            format!(
                "for stats http (its listener, an epoll copy, {} connections, one accepted \
                 past them)",
                metrics::MAX_CONNS
            ),
        ),
        None => Part::new(0, ""),
    };
    (api, metrics)
}

/// The stats pages' part.
fn stats_pages(cfg: &Config) -> Part {
    if cfg.stats_pages.is_empty() {
        return Part::new(0, "");
    }
    let binds: u64 = cfg.stats_pages.iter().map(|p| p.binds.len() as u64).sum();
    let conns: u64 = cfg.stats_pages.iter().map(|p| p.maxconn as u64).sum();
    Part::new(
        binds + 1 + conns + 1,
        format!(
            "for stats pages ({binds} bind(s), an epoll copy, {conns} connections, one              accepted past them)"
        ),
    )
}

/// The fds open at start and the short-lived ones.
fn base(open_at_start: u64) -> Part {
    Part::new(
        open_at_start + TRANSIENT,
        format!(
            "for fds open at start ({open_at_start}: stdio, inherited) and short-lived ones \
             ({TRANSIENT}: conf file, host name lookups, stats sockets being replaced)"
        ),
    )
}

/// Fds open when l4lb starts: stdio and whatever its parent left open,
/// counted at the first call (from [`fit_at_start`], before l4lb opens any
/// that stay).
fn open_at_start() -> u64 {
    static OPEN: OnceLock<u64> = OnceLock::new();
    *OPEN.get_or_init(|| {
        std::fs::read_dir("/proc/self/fd")
            // Less the directory's own fd.
            .map(|dir| (dir.count() as u64).saturating_sub(1))
            .unwrap_or(STDIO)
            .max(STDIO)
    })
}

/// The kinds of socket the logger opens for `cfg`'s targets (stdout and
/// stderr need none).
fn log_sockets(cfg: &Config) -> u64 {
    let targets: Vec<&LogDest> = cfg
        .frontends
        .iter()
        .flat_map(|f| f.log.iter().map(|t| &t.dest))
        .collect();
    let kinds: [fn(&LogDest) -> bool; 3] = [
        |d| matches!(d, LogDest::Udp(a) if a.is_ipv4()),
        |d| matches!(d, LogDest::Udp(a) if a.is_ipv6()),
        |d| matches!(d, LogDest::Unix(_)),
    ];
    kinds
        .iter()
        .filter(|kind| targets.iter().any(|d| kind(d)))
        .count() as u64
}

impl FdBudget {
    fn parts(&self) -> [&Part; 11] {
        [
            &self.sessions,
            &self.listeners,
            &self.handover,
            &self.event_loops,
            &self.checks,
            &self.api,
            &self.metrics,
            &self.pages,
            &self.logs,
            &self.base,
            &self.pipes,
        ]
    }

    /// What must fit: everything but the pipes.
    pub fn required(&self) -> u64 {
        self.total() - self.pipes.fds
    }

    /// Everything, pipes included.
    pub fn total(&self) -> u64 {
        self.parts().iter().map(|p| p.fds).sum()
    }
}

/// The sum, part by part: `N = a what + b what + ...` (parts of zero fds
/// left out), pipes included only if they are counted in N.
struct Sum<'a>(&'a FdBudget, bool);

impl fmt::Display for Sum<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Sum(b, with_pipes) = *self;
        let n = if with_pipes { b.total() } else { b.required() };
        write!(f, "{n} =")?;
        let parts = b.parts();
        // The pipes are the last part.
        let counted = if with_pipes {
            &parts[..]
        } else {
            &parts[..parts.len() - 1]
        };
        let shown = counted.iter().filter(|p| p.fds > 0);
        for (i, p) in shown.enumerate() {
            let plus = if i == 0 { "" } else { " +" };
            write!(f, "{plus} {} {}", p.fds, p.what)?;
        }
        Ok(())
    }
}

/// Why a configuration's fds cannot be had.
#[derive(Debug)]
pub enum Refusal {
    /// Its worst case (pipes counted or not) is over the limit, which
    /// could not be raised that far.
    OverLimit {
        budget: Box<FdBudget>,
        with_pipes: bool,
        limit: u64,
    },
    /// RLIMIT_NOFILE could not be read or raised.
    Rlimit(io::Error),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::OverLimit {
                budget,
                with_pipes,
                limit,
            } => f.write_str(&refusal(budget, *with_pipes, *limit)),
            Refusal::Rlimit(e) => write!(f, "raising the fd limit: {e}"),
        }
    }
}

/// The refusal: what is needed, the limit, the sum, the way out.
fn refusal(b: &FdBudget, with_pipes: bool, limit: u64) -> String {
    let n = if with_pipes { b.total() } else { b.required() };
    format!(
        "the conf needs {n} file descriptors at worst but the fd limit is {limit} and could \
         not be raised: {}; raise the limit (ulimit-n, ulimit -Hn, systemd LimitNOFILE=) or \
         lower maxconn or stats maxconn",
        Sum(b, with_pipes)
    )
}

/// Raises RLIMIT_NOFILE to its hard limit, and the hard limit itself to
/// `wanted` when it is lower and we may (root with CAP_SYS_RESOURCE).
/// Returns the limit now.
fn raise(wanted: u64) -> io::Result<u64> {
    let (soft, hard) = sys::nofile_limit()?;
    if hard < wanted && sys::set_nofile_limit(wanted, wanted).is_ok() {
        return Ok(wanted);
    }
    if soft < hard {
        sys::set_nofile_limit(hard, hard)?;
    }
    Ok(hard)
}

/// `ulimit-n N` as set at start: the limit is then N, never raised.
static FIXED: OnceLock<u64> = OnceLock::new();

/// `ulimit-n N`: RLIMIT_NOFILE soft and hard to N; if the hard limit cannot
/// be raised that far (not root), the soft one to as much as it allows,
/// with a warning (as HAProxy). Returns the limit now.
fn set_fixed(n: u64) -> io::Result<u64> {
    let limit = if sys::set_nofile_limit(n, n).is_ok() {
        n
    } else {
        let (_, hard) = sys::nofile_limit()?;
        let soft = n.min(hard);
        sys::set_nofile_limit(soft, hard)?;
        log::warn!(
            "ulimit-n {n}: cannot raise the fd limit past its hard limit {hard}; it is {soft}"
        );
        soft
    };
    let _ = FIXED.set(limit);
    Ok(limit)
}

/// The limit to fit in: `ulimit-n`'s if set at start, else raised as far
/// as it may be for `wanted` fds (see [`raise`]).
fn limit_for(wanted: u64) -> io::Result<u64> {
    match FIXED.get() {
        Some(&n) => Ok(n),
        None => raise(wanted),
    }
}

/// At start: sets the limit to `ulimit-n` or raises it (see [`raise`]),
/// and refuses `cfg` if its required fds do not fit. Returns the `maxpipes` that fits in what is
/// left (whole pipes per worker), with a warning when it is less than
/// `cfg.maxpipes`.
pub fn fit_at_start(cfg: &Config) -> io::Result<usize> {
    let mut budget = fd_budget(cfg);
    budget.base = base(open_at_start());
    let limit = match cfg.process.ulimit_n {
        Some(n) => set_fixed(n)?,
        None => raise(budget.total())?,
    };
    if limit < budget.required() {
        return Err(io::Error::other(refusal(&budget, false, limit)));
    }
    log::debug!("fd limit {limit}; at worst {}", Sum(&budget, true));
    let pipes = pipes_that_fit(limit - budget.required(), cfg.maxpipes, cfg.threads);
    if pipes == cfg.maxpipes {
        return Ok(pipes);
    }
    log::warn!(
        "fd limit {limit} leaves room for {pipes} splice pipes, not maxpipes {} ({} needed \
         besides: {}); transfers beyond that copy through user space (raise LimitNOFILE= to \
         avoid this)",
        cfg.maxpipes,
        budget.required(),
        Sum(&budget, false)
    );
    Ok(pipes)
}

/// The `maxpipes` that fits in `room` fds: `maxpipes` itself if the pools
/// it makes fit (each worker's holds maxpipes / threads, rounded up), else
/// as many whole pipes per worker as fit.
fn pipes_that_fit(room: u64, maxpipes: usize, threads: usize) -> usize {
    let threads = threads.max(1);
    let per_worker = room / (2 * threads as u64);
    if per_worker >= maxpipes.div_ceil(threads) as u64 {
        maxpipes
    } else {
        per_worker as usize * threads
    }
}

/// On a reload from `was` to `now` (with the running `threads` and
/// `maxpipes`): the whole [`reload_budget`] must fit, pipes included, as
/// the workers' pools were sized at start and cannot shrink. Raises the
/// limit if it must and may; else the refusal, with the arithmetic.
pub fn fit_reload(was: &Config, now: &Config) -> Result<(), Refusal> {
    let mut budget = reload_budget(was, now);
    budget.base = base(open_at_start());
    let limit = limit_for(budget.total()).map_err(Refusal::Rlimit)?;
    if limit < budget.total() {
        return Err(Refusal::OverLimit {
            budget: Box::new(budget),
            with_pipes: true,
            limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::from_text("t.conf", text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    const BASE: &str = "global\n nbthread 2\n maxconn 100\n maxpipes 10\n\
        defaults\n mode tcp\n timeout client 1s\n timeout server 1s\n\
        frontend fe\n bind 127.0.0.1:1\n bind 127.0.0.1:2\n default_backend be\n\
        backend be\n server a 127.0.0.1:3\n";

    #[test]
    fn a_bare_conf_needs_its_connections_listeners_and_loops() {
        let b = fd_budget(&config(BASE));
        assert_eq!(b.sessions.fds, 200);
        assert_eq!(b.listeners.fds, 2 * 2 * 2, "2 workers x 2 binds, twice");
        assert_eq!(b.handover.fds, 0);
        assert_eq!(b.event_loops.fds, 2 * 2 + 3);
        assert_eq!(b.checks.fds + b.api.fds + b.metrics.fds + b.logs.fds, 0);
        assert_eq!(b.base.fds, STDIO + TRANSIENT);
        assert_eq!(b.pipes.fds, 2 * 2 * 5);
        assert_eq!(b.required(), 200 + 8 + 7 + 19);
        assert_eq!(b.total(), b.required() + 20);
    }

    #[test]
    fn stats_pages_count_their_binds_and_connections() {
        let page = "listen st\n mode http\n bind 127.0.0.1:8\n bind 127.0.0.1:9\n stats enable\n \
                    maxconn 5\nlisten st2\n mode http\n bind 127.0.0.1:10\n stats enable\n";
        let b = fd_budget(&config(&format!("{BASE}{page}")));
        assert_eq!(
            b.pages.fds,
            3 + 1 + (5 + 64) + 1,
            "3 binds, an epoll copy, 69 conns, one past"
        );
        assert_eq!(b.listeners.fds, 2 * 2 * 2, "not worker listeners");
        assert_eq!(fd_budget(&config(BASE)).pages.fds, 0);
    }

    #[test]
    fn stats_checks_and_logs_are_counted() {
        let text = BASE.replace(
            " maxpipes 10\n",
            " maxpipes 3\n stats socket /tmp/a.sock level admin\n stats socket /tmp/b.sock\n \
             stats maxconn 10000\n stats http 127.0.0.1:4\n",
        ) + " server b 127.0.0.1:5 check\n server c 127.0.0.1:6 observe layer4\n\
             frontend logged\n bind 127.0.0.1:7\n default_backend be\n option tcplog\n\
             log 127.0.0.1:514 local0\n log [::1]:514 local0\n log udp@127.0.0.2 local0\n\
             log stdout local0\n";
        let b = fd_budget(&config(&text));
        assert_eq!(b.listeners.fds, 2 * 2 * 3);
        assert_eq!(b.handover.fds, 2 * 3, "a level admin socket");
        assert_eq!(b.event_loops.fds, 2 * 2 + 2 + 3, "with the prober");
        assert_eq!(b.checks.fds, 2, "check, and observe without check");
        assert_eq!(b.api.fds, 2 + 1 + 10_000 + 1);
        assert_eq!(b.metrics.fds, 2 + 64 + 1);
        assert_eq!(b.logs.fds, 2, "UDP v4 (twice) and v6; stdout needs none");
        assert_eq!(b.pipes.fds, 2 * 2 * 2, "maxpipes 3 is 2 per worker");
    }

    #[test]
    fn the_refusal_spells_out_the_sum() {
        let text = BASE.replace(" maxpipes 10\n", " stats socket /tmp/a.sock\n");
        let b = fd_budget(&config(&text));
        assert_eq!(b.api.fds, 1 + 1 + 10 + 1);
        let msg = refusal(&b, false, 64);
        assert!(
            msg.starts_with("the conf needs 247 file descriptors at worst but the fd limit is 64"),
            "{msg}"
        );
        assert!(
            msg.contains(
                ": 247 = 200 for connections (2 x maxconn 100) + 8 listening sockets \
                 (2 worker(s) x 2 bind(s), and the supervisor's copy of each) + 7 for event loops"
            ),
            "{msg}"
        );
        assert!(msg.contains(
            "+ 13 for the runtime API (1 stats socket(s), an epoll copy, stats maxconn 10"
        ));
        assert!(!msg.contains("pipes") && !msg.contains(" 0 "), "{msg}");
        let with_pipes = refusal(&b, true, 64);
        assert!(
            with_pipes
                .contains("+ 52 for splice pipes (2 worker(s) x 13 pipe(s) x 2, maxpipes 25)"),
            "maxpipes defaults to maxconn / 4, rounded up per worker: {with_pipes}"
        );
    }

    #[test]
    fn pipes_are_fitted_whole_per_worker() {
        assert_eq!(pipes_that_fit(20, 10, 2), 10, "5 per worker, 2 fds each");
        assert_eq!(pipes_that_fit(19, 10, 2), 8, "4 per worker");
        assert_eq!(pipes_that_fit(8, 3, 2), 3, "maxpipes 3 makes pools of 2");
        assert_eq!(pipes_that_fit(7, 3, 2), 2);
        assert_eq!(pipes_that_fit(3, 3, 2), 0);
        assert_eq!(pipes_that_fit(1000, 0, 2), 0);
        // What fits at start fits a reload of the same conf.
        for room in 0..40 {
            let pipes = pipes_that_fit(room, 10, 3);
            assert!(2 * 3 * pipes.div_ceil(3) as u64 <= room, "{room}: {pipes}");
        }
    }

    #[test]
    fn a_reload_counts_the_larger_of_each_part_and_every_bind_until_the_switch() {
        let was = config(&BASE.replace(" maxconn 100\n", " maxconn 1000\n"));
        let now = config(
            &BASE
                .replace(" bind 127.0.0.1:2\n", " bind 127.0.0.1:8\n")
                .replace(" maxpipes 10\n", " stats socket /tmp/a.sock\n"),
        );
        let b = reload_budget(&was, &now);
        assert_eq!(b.sessions.fds, 2000, "the old conf's connections stay");
        assert!(b.sessions.what.contains("maxconn 1000"));
        assert_eq!(b.listeners.fds, 2 * 2 * 3, "binds 1 and 2 kept, 8 added");
        assert_eq!(b.api.fds, 13, "the new stats socket");
        assert_eq!(b.pipes.fds, fd_budget(&now).pipes.fds);
        assert_eq!(reload_budget(&now, &now), fd_budget(&now));
    }
}
