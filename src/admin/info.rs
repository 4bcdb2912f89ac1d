//! `show info`: the process's facts under HAProxy's field names, in
//! HAProxy's order (its `stat_cols_info`), so that tools written for
//! HAProxy (hatop, prometheus-haproxy-exporter, scripts) read them.
//!
//! As HAProxy does for what a build lacks (SSL, zlib), a field l4lb has no
//! value for is left out rather than made up: no SSL or zlib fields, no
//! `description` unless one is configured, no `TotalSplicedBytesOut`,
//! `MaxconnReached` or `BootTime_ms` (not counted). A concept l4lb does
//! not have gets HAProxy's value for "none": 0 memory pools, 0 peers, 0
//! compression, `Run_queue` 0 (a worker runs a connection the moment epoll
//! reports it; nothing waits in a queue). l4lb's own fields follow
//! HAProxy's.
//!
//! Process-wide rates (`ConnRate`, `BytesOutRate`, `Idle_pct`) need two
//! readings a second apart: [`ProcessRates`], ticked with the row rates.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::UNIX_EPOCH;

use crate::shared::Shared;

/// The date of this version, HAProxy's `Release_date` (YYYY/MM/DD): bumped
/// with the version in Cargo.toml.
pub(crate) const RELEASE_DATE: &str = "2026/12/01";

/// Clock ticks per second of `/proc/<pid>/task/<tid>/stat` CPU times
/// (USER_HZ, 100 on every Linux ABI).
const USER_HZ: f64 = 100.0;

/// Process-wide rates over the last second, and the highest seen.
#[derive(Debug, Default)]
pub(crate) struct ProcessRates {
    last_conns: Option<u64>,
    last_bytes_out: Option<u64>,
    /// CPU ticks of the worker threads at the last reading.
    last_cpu: Option<u64>,
    conn_rate: u64,
    conn_rate_max: u64,
    bytes_out_rate: u64,
    /// Percent of the last second the workers spent waiting (100 at start).
    idle_pct: Option<u64>,
}

impl ProcessRates {
    /// Takes a reading; `secs` since the last one.
    pub(crate) fn tick(&mut self, shared: &Shared, secs: f64) {
        let per_sec = |now: u64, before: u64| (now.saturating_sub(before) as f64 / secs).round();
        let conns = shared.process.global.total.load(Relaxed);
        if let Some(before) = self.last_conns {
            self.conn_rate = per_sec(conns, before) as u64;
            self.conn_rate_max = self.conn_rate_max.max(self.conn_rate);
        }
        let bytes = total_bytes_out(shared);
        if let Some(before) = self.last_bytes_out {
            self.bytes_out_rate = per_sec(bytes, before) as u64;
        }
        let cpu = worker_cpu_ticks();
        if let (Some(now), Some(before)) = (cpu, self.last_cpu) {
            let busy = now.saturating_sub(before) as f64 / USER_HZ / secs;
            let threads = shared.config.threads.max(1) as f64;
            let idle = 100.0 - (busy / threads * 100.0).clamp(0.0, 100.0);
            self.idle_pct = Some(idle.round() as u64);
        }
        self.last_conns = Some(conns);
        self.last_bytes_out = Some(bytes);
        self.last_cpu = cpu;
    }
}

/// Bytes the process sent: to clients (frontends' `bout`) and to servers
/// (servers' `bin`), of the frontends and servers in this snapshot.
fn total_bytes_out(shared: &Shared) -> u64 {
    let to_clients: u64 = shared
        .frontends
        .iter()
        .map(|f| f.bytes_out.load(Relaxed))
        .sum();
    let to_servers: u64 = shared
        .servers
        .iter()
        .flatten()
        .map(|s| s.stats.bytes_in.load(Relaxed))
        .sum();
    to_clients + to_servers
}

/// User + system CPU ticks of the worker threads (named `l4lb-w<N>`),
/// from /proc; None where /proc is not readable.
fn worker_cpu_ticks() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let path = task.path();
        let is_worker =
            std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.starts_with("l4lb-w"));
        if !is_worker {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        total += stat_cpu_ticks(&stat).unwrap_or(0);
    }
    Some(total)
}

/// utime + stime (fields 14 and 15) of a /proc `stat` line; the command
/// name (field 2, in parentheses) may hold spaces, so fields are counted
/// after its closing parenthesis.
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The node name (`node`): the host name, as HAProxy's default.
/// `global node`, else the host name (as HAProxy).
fn node_name(shared: &Shared) -> String {
    shared.config.node.clone().unwrap_or_else(hostname)
}

/// `global description`, if any.
fn description(shared: &Shared) -> Option<String> {
    shared.config.description.clone()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// HAProxy's `Uptime`: `0d 0h00m04s`.
fn uptime(secs: u64) -> String {
    format!(
        "{}d {}h{:02}m{:02}s",
        secs / 86_400,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

/// What `show info` takes from the process's other parts.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Facts {
    /// A soft stop is under way.
    pub stopping: bool,
    /// The most fds the configuration may hold (its fd budget).
    pub maxsock: u64,
}

/// `show info`'s fields and values, in HAProxy's order then l4lb's own.
pub(crate) fn fields(
    shared: &Shared,
    rates: &ProcessRates,
    facts: Facts,
) -> Vec<(&'static str, String)> {
    let mut f = identity(shared);
    f.extend(limits_and_counts(shared, rates, facts.maxsock));
    f.extend(activity(shared, rates, facts.stopping));
    f.extend(l4lb_own(shared));
    f
}

/// Name, version, threads, pid, uptime.
fn identity(shared: &Shared) -> Vec<(&'static str, String)> {
    let p = &shared.process;
    let up = p.started.elapsed().as_secs();
    let start = p
        .started_wall
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    vec![
        ("Name", "l4lb".into()),
        ("Version", env!("CARGO_PKG_VERSION").into()),
        ("Release_date", RELEASE_DATE.into()),
        ("Nbthread", shared.config.threads.to_string()),
        ("Nbproc", "1".into()),
        ("Process_num", "1".into()),
        ("Pid", std::process::id().to_string()),
        ("Uptime", uptime(up)),
        ("Uptime_sec", up.to_string()),
        ("Start_time_sec", start.to_string()),
        // No memory limit (-m) and no memory pools.
        ("Memmax_MB", "0".into()),
        ("Memmax_bytes", "0".into()),
        ("PoolAlloc_MB", "0".into()),
        ("PoolAlloc_bytes", "0".into()),
        ("PoolUsed_MB", "0".into()),
        ("PoolUsed_bytes", "0".into()),
        ("PoolFailed", "0".into()),
    ]
}

/// Fd and connection limits, connection and pipe counts, rates.
fn limits_and_counts(
    shared: &Shared,
    r: &ProcessRates,
    maxsock: u64,
) -> Vec<(&'static str, String)> {
    let p = &shared.process;
    let cfg = &shared.config;
    let ulimit = crate::sys::nofile_limit().map_or(0, |(soft, _)| soft);
    let pipes: usize = p.workers.iter().map(|w| w.pipes_in_use.load(Relaxed)).sum();
    let conns = p.global.total.load(Relaxed);
    vec![
        ("Ulimit-n", ulimit.to_string()),
        ("Maxsock", maxsock.to_string()),
        ("Maxconn", cfg.maxconn.to_string()),
        ("Hard_maxconn", cfg.maxconn.to_string()),
        ("CurrConns", p.global.cur.load(Relaxed).to_string()),
        ("CumConns", conns.to_string()),
        // A TCP connection is one request to HAProxy as well.
        ("CumReq", conns.to_string()),
        ("Maxpipes", cfg.maxpipes.to_string()),
        ("PipesUsed", pipes.to_string()),
        // Pipes are lent from a worker's pool; the idle ones are not counted.
        ("PipesFree", "0".into()),
        ("ConnRate", r.conn_rate.to_string()),
        // No `maxconnrate` / `maxsessrate`: 0 is HAProxy's "no limit".
        ("ConnRateLimit", "0".into()),
        ("MaxConnRate", r.conn_rate_max.to_string()),
        ("SessRate", r.conn_rate.to_string()),
        ("SessRateLimit", "0".into()),
        ("MaxSessRate", r.conn_rate_max.to_string()),
        ("CompressBpsIn", "0".into()),
        ("CompressBpsOut", "0".into()),
        ("CompressBpsRateLim", "0".into()),
    ]
}

/// Tasks, idleness, node, stopping, jobs, listeners, logs, bytes.
fn activity(shared: &Shared, r: &ProcessRates, stopping: bool) -> Vec<(&'static str, String)> {
    let p = &shared.process;
    let cfg = &shared.config;
    let cur = p.global.cur.load(Relaxed);
    let checks = cfg
        .backends
        .iter()
        .flat_map(|b| &b.servers)
        .filter(|s| s.check.is_some())
        .count();
    let listeners: usize = cfg.frontends.iter().map(|f| f.binds.len()).sum();
    let mut f = vec![
        // HAProxy's tasks: one per stream and one per health check.
        ("Tasks", (cur + checks).to_string()),
        ("Run_queue", "0".into()),
        ("Idle_pct", r.idle_pct.unwrap_or(100).to_string()),
        ("node", node_name(shared)),
    ];
    if let Some(d) = description(shared) {
        f.push(("description", d));
    }
    f.extend([
        ("Stopping", u8::from(stopping).to_string()),
        ("Jobs", (cur + listeners).to_string()),
        ("Unstoppable Jobs", "0".into()),
        ("Listeners", listeners.to_string()),
        ("ActivePeers", "0".into()),
        ("ConnectedPeers", "0".into()),
        ("DroppedLogs", p.log_dropped.load(Relaxed).to_string()),
        ("BusyPolling", "0".into()),
        ("FailedResolutions", "0".into()),
        ("TotalBytesOut", total_bytes_out(shared).to_string()),
        ("BytesOutRate", r.bytes_out_rate.to_string()),
        ("DebugCommandsIssued", "0".into()),
        ("CumRecvLogs", "0".into()),
        ("Build info", env!("CARGO_PKG_VERSION").into()),
        ("Tainted", "0x0".into()),
        ("TotalWarnings", cfg.warnings.len().to_string()),
        ("Niced_tasks", "0".into()),
        ("CurrStreams", cur.to_string()),
        ("CumStreams", p.global.total.load(Relaxed).to_string()),
        ("BlockedTrafficWarnings", "0".into()),
        ("PatternsAdded", "0".into()),
        ("PatternsFreed", "0".into()),
        ("NbThreadGroups", "1".into()),
    ]);
    f
}

/// l4lb's fields, after HAProxy's.
fn l4lb_own(shared: &Shared) -> Vec<(&'static str, String)> {
    let p = &shared.process;
    let accepted: u64 = p.workers.iter().map(|w| w.accepted.load(Relaxed)).sum();
    let lent: u64 = p.workers.iter().map(|w| w.pipes_lent.load(Relaxed)).sum();
    vec![
        ("MaxConnReached", p.global.max.load(Relaxed).to_string()),
        ("CumAccepted", accepted.to_string()),
        ("PipesLent", lent.to_string()),
        ("Reloads", p.reloads.load(Relaxed).to_string()),
        (
            "ReloadFailures",
            p.reload_failures.load(Relaxed).to_string(),
        ),
        ("LogDropped", p.log_dropped.load(Relaxed).to_string()),
    ]
}

/// `show info` as text: `Name: value` lines.
pub(crate) fn text(fields: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (k, v) in fields {
        let _ = writeln!(out, "{k}: {v}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::Admission;
    use crate::testutil::shared;

    const CONF: &str = "\
global
    maxconn 50
frontend fe
    bind 127.0.0.1:8001
    bind 127.0.0.1:8002
    default_backend be
backend be
    server a 127.0.0.1:9001 check
    server b 127.0.0.1:9002
";

    const STOPPING: Facts = Facts {
        stopping: true,
        maxsock: 0,
    };

    fn get<'a>(info: &'a [(&str, String)], k: &str) -> &'a str {
        info.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {k}"))
    }

    #[test]
    fn every_field_hatop_reads_is_there_in_its_format() {
        let s = shared(CONF);
        let info = fields(&s, &ProcessRates::default(), Facts::default());
        for k in [
            "Name",
            "Version",
            "Release_date",
            "Nbproc",
            "Process_num",
            "Pid",
            "Uptime",
            "Maxconn",
            "CurrConns",
            "Maxpipes",
            "PipesUsed",
            "Tasks",
            "Run_queue",
            "node",
        ] {
            let v = get(&info, k);
            assert!(!v.is_empty(), "{k} is empty");
        }
        let date = get(&info, "Release_date");
        assert!(
            date.len() == 10 && date.split('/').count() == 3,
            "YYYY/MM/DD: {date}"
        );
        assert!(!get(&info, "node").contains(char::is_whitespace));
        assert!(get(&info, "Uptime").starts_with("0d 0h00m"));
        assert_eq!(get(&info, "Listeners"), "2");
        assert_eq!(get(&info, "Tasks"), "1", "one health check");
        assert_eq!(get(&info, "Idle_pct"), "100", "no reading yet");
        assert!(
            !info.iter().any(|(k, _)| *k == "description"),
            "unset: left out, as HAProxy"
        );
    }

    #[test]
    fn fields_come_in_haproxys_order_then_l4lbs() {
        let s = shared(CONF);
        let names: Vec<&str> = fields(&s, &ProcessRates::default(), STOPPING)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let at = |k: &str| names.iter().position(|n| *n == k).unwrap();
        assert_eq!(&names[..4], ["Name", "Version", "Release_date", "Nbthread"]);
        assert!(at("Uptime_sec") < at("Ulimit-n"));
        assert!(at("CumConns") < at("Maxpipes"));
        assert!(at("Run_queue") < at("node"));
        assert!(at("node") < at("Stopping"));
        assert!(at("NbThreadGroups") < at("Reloads"));
        let text = text(&fields(&s, &ProcessRates::default(), STOPPING));
        assert!(text.contains("\nStopping: 1\n"), "{text}");
    }

    #[test]
    fn connections_and_rates_are_counted() {
        let s = shared(CONF);
        let mut rates = ProcessRates::default();
        rates.tick(&s, 1.0);
        let mut a = Admission::reserve(&s, 0).unwrap();
        a.admitted();
        s.frontends[0].bytes_out.store(1000, Relaxed);
        s.process.global.total.store(5, Relaxed);
        rates.tick(&s, 1.0);
        let info = fields(&s, &rates, Facts::default());
        assert_eq!(get(&info, "CurrConns"), "1");
        assert_eq!(get(&info, "ConnRate"), "5", "5 connections in the second");
        assert_eq!(get(&info, "MaxConnRate"), "5");
        assert_eq!(get(&info, "TotalBytesOut"), "1000");
        assert_eq!(get(&info, "BytesOutRate"), "1000");
        assert_eq!(get(&info, "Jobs"), "3", "a connection and two listeners");
    }

    #[test]
    fn cpu_ticks_are_read_past_the_command_name() {
        let line = "42 (l4lb w (0)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(stat_cpu_ticks(line), Some(300));
        assert_eq!(stat_cpu_ticks("garbage"), None);
        assert_eq!(uptime(90_061), "1d 1h01m01s");
    }
}
