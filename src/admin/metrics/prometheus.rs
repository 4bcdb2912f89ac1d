//! `GET /metrics`: the Prometheus text exposition format, version 0.0.4.
//!
//! Every metric is a family: its `# HELP` and `# TYPE` lines, then all its
//! samples together. Counters end in `_total`. Values come from the same
//! [`stats::rows`] as `show stat` (per frontend, backend and server) and
//! from the process-wide counters in [`Shared`].

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::UNIX_EPOCH;

use crate::admin::stats::{self, Kind, Rates, Row};
use crate::backend::{Admin, CHECK_STATUSES, CheckStatus, RAMP_FULL, Server};
use crate::config::Config;
use crate::shared::{Process, Shared, WorkerStats};

pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy)]
enum Type {
    Counter,
    Gauge,
}

/// A metric read from a `show stat` row; None: no sample for this row.
struct RowMetric {
    name: &'static str,
    ty: Type,
    help: &'static str,
    value: fn(&Row) -> Option<u64>,
}

const fn counter(
    name: &'static str,
    help: &'static str,
    value: fn(&Row) -> Option<u64>,
) -> RowMetric {
    RowMetric {
        name,
        ty: Type::Counter,
        help,
        value,
    }
}

const fn gauge(
    name: &'static str,
    help: &'static str,
    value: fn(&Row) -> Option<u64>,
) -> RowMetric {
    RowMetric {
        name,
        ty: Type::Gauge,
        help,
        value,
    }
}

const FRONTEND: &[RowMetric] = &[
    gauge(
        "l4lb_frontend_current_connections",
        "Client connections open now.",
        |r| Some(r.scur),
    ),
    gauge(
        "l4lb_frontend_max_connections",
        "Highest number of client connections open at once.",
        |r| Some(r.smax),
    ),
    gauge(
        "l4lb_frontend_limit_connections",
        "The frontend's maxconn.",
        |r| r.slim,
    ),
    counter(
        "l4lb_frontend_connections_total",
        "Client connections accepted.",
        |r| Some(r.stot),
    ),
    gauge(
        "l4lb_frontend_connection_rate",
        "Client connections accepted over the last second.",
        |r| Some(r.rate),
    ),
    counter(
        "l4lb_frontend_bytes_in_total",
        "Bytes received from clients.",
        |r| Some(r.bin),
    ),
    counter(
        "l4lb_frontend_bytes_out_total",
        "Bytes sent to clients.",
        |r| Some(r.bout),
    ),
    counter(
        "l4lb_frontend_rejected_connections_total",
        "Client connections closed without ever reaching a server: no server was \
         available, or none freed a slot within timeout queue (show stat dcon).",
        |r| Some(r.rejected),
    ),
    counter(
        "l4lb_frontend_denied_connections_total",
        "Client connections refused by tcp-request connection rules (show stat dcon \
         counts these too).",
        |r| Some(r.denied_conn),
    ),
    counter(
        "l4lb_frontend_denied_sessions_total",
        "Client connections refused by tcp-request session rules (show stat dses).",
        |r| Some(r.denied_sess),
    ),
    counter(
        "l4lb_frontend_denied_requests_total",
        "Client connections refused by tcp-request content rules (show stat dreq).",
        |r| Some(r.denied_req),
    ),
];

/// Shared by backends and servers: `{scope}` is the only difference.
macro_rules! proxy_metrics {
    ($scope:literal, $what:literal) => {
        &[
            gauge(
                concat!("l4lb_", $scope, "_current_connections"),
                concat!(
                    "Connections to ",
                    $what,
                    " open now (connecting or forwarding; a backend's counts its",
                    " queued clients too)."
                ),
                |r| Some(r.scur),
            ),
            gauge(
                concat!("l4lb_", $scope, "_max_connections"),
                concat!(
                    "Highest number of connections to ",
                    $what,
                    " open at once (a backend's counts its queued clients too)."
                ),
                |r| Some(r.smax),
            ),
            gauge(
                concat!("l4lb_", $scope, "_limit_connections"),
                concat!("The maxconn of ", $what, " (no sample: no limit)."),
                |r| r.slim,
            ),
            counter(
                concat!("l4lb_", $scope, "_connections_total"),
                concat!("Connections attempted to ", $what, "."),
                |r| Some(r.stot),
            ),
            gauge(
                concat!("l4lb_", $scope, "_connection_rate"),
                concat!("Connections to ", $what, " over the last second."),
                |r| Some(r.rate),
            ),
            counter(
                concat!("l4lb_", $scope, "_bytes_in_total"),
                concat!("Bytes from clients forwarded to ", $what, "."),
                |r| Some(r.bin),
            ),
            counter(
                concat!("l4lb_", $scope, "_bytes_out_total"),
                concat!("Bytes from ", $what, " forwarded to clients."),
                |r| Some(r.bout),
            ),
            counter(
                concat!("l4lb_", $scope, "_connection_errors_total"),
                concat!(
                    "Failed connects to ",
                    $what,
                    " (refused, reset, timed out; show stat econ)."
                ),
                |r| Some(r.econ),
            ),
            counter(
                concat!("l4lb_", $scope, "_retries_total"),
                concat!("Connects to ", $what, " retried after failing (wretr)."),
                |r| Some(r.wretr),
            ),
            counter(
                concat!("l4lb_", $scope, "_redispatches_total"),
                concat!(
                    "Retries that moved a connection from ",
                    $what,
                    " to another server (wredis)."
                ),
                |r| Some(r.wredis),
            ),
            counter(
                concat!("l4lb_", $scope, "_client_aborts_total"),
                concat!(
                    "Connections to ",
                    $what,
                    " cut by the client while forwarding (cli_abrt)."
                ),
                |r| Some(r.cli_abrt),
            ),
            counter(
                concat!("l4lb_", $scope, "_server_aborts_total"),
                concat!(
                    "Connections to ",
                    $what,
                    " cut by the server while forwarding (srv_abrt)."
                ),
                |r| Some(r.srv_abrt),
            ),
            gauge(
                concat!("l4lb_", $scope, "_weight"),
                concat!(
                    "Weight of ",
                    $what,
                    " now (a backend's: the sum over servers in service)."
                ),
                |r| Some(r.weight),
            ),
        ]
    };
}

const BACKEND: &[RowMetric] = proxy_metrics!("backend", "the backend's servers");
const SERVER: &[RowMetric] = proxy_metrics!("server", "the server");

const BACKEND_ONLY: &[RowMetric] = &[
    gauge(
        "l4lb_backend_up",
        "1 if some server of the backend is in service, else 0.",
        |r| Some(u64::from(r.act + r.bck > 0)),
    ),
    gauge(
        "l4lb_backend_active_servers",
        "Regular (non-backup) servers in service.",
        |r| Some(r.act),
    ),
    gauge(
        "l4lb_backend_backup_servers",
        "Backup servers in service.",
        |r| Some(r.bck),
    ),
];

const SERVER_CHECKS: &[RowMetric] = &[
    counter(
        "l4lb_server_check_failures_total",
        "Failed health checks (chkfail); only servers with checks.",
        |r| r.chkfail,
    ),
    counter(
        "l4lb_server_check_downs_total",
        "Times the server went from UP to DOWN (chkdown); only servers with checks.",
        |r| r.chkdown,
    ),
    counter(
        "l4lb_server_downtime_seconds_total",
        "Seconds the server has spent DOWN; only servers with checks.",
        |r| r.downtime,
    ),
    gauge(
        "l4lb_server_last_state_change_seconds",
        "Seconds since the server's last state change (health or admin).",
        |r| r.lastchg,
    ),
];

/// The whole exposition.
pub(crate) fn render(shared: &Shared, rates: &Rates) -> String {
    let rows = stats::rows(shared, rates);
    let mut out = Out(String::with_capacity(16 * 1024));
    process(&mut out, shared);
    let of = |k| rows.iter().filter(move |r| r.kind == Some(k));
    for m in FRONTEND {
        out.rows(m, of(Kind::Frontend), |r| {
            vec![("frontend", r.pxname.as_str())]
        });
    }
    // Backends have no maxconn of their own: no limit family for them.
    let backend = BACKEND
        .iter()
        .filter(|m| !m.name.ends_with("_limit_connections"));
    for m in backend.chain(BACKEND_ONLY) {
        out.rows(m, of(Kind::Backend), |r| {
            vec![("backend", r.pxname.as_str())]
        });
    }
    for m in SERVER.iter().chain(SERVER_CHECKS) {
        out.rows(m, of(Kind::Server), server_labels);
    }
    let servers: Vec<(&Row, &Server)> = of(Kind::Server)
        .filter_map(|r| Some((r, &**shared.find_server(&r.pxname, &r.svname)?.1)))
        .collect();
    server_states(&mut out, &servers);
    out.0
}

/// A process-wide metric: one unlabelled sample.
struct ProcessMetric {
    name: &'static str,
    ty: Type,
    help: &'static str,
    value: fn(&Process, &Config) -> u64,
}

/// A metric of each worker thread: one sample per worker, labelled by its
/// index.
struct WorkerMetric {
    name: &'static str,
    ty: Type,
    help: &'static str,
    value: fn(&WorkerStats) -> u64,
}

/// The process-wide connection counts, written before [`PER_WORKER`].
const PROCESS_CONNECTIONS: &[ProcessMetric] = &[
    ProcessMetric {
        name: "l4lb_process_current_connections",
        ty: Type::Gauge,
        help: "Client connections open now, all frontends together.",
        value: |p, _| p.global.cur.load(Relaxed) as u64,
    },
    ProcessMetric {
        name: "l4lb_process_max_connections",
        ty: Type::Gauge,
        help: "Highest number of client connections open at once.",
        value: |p, _| p.global.max.load(Relaxed) as u64,
    },
    ProcessMetric {
        name: "l4lb_process_limit_connections",
        ty: Type::Gauge,
        help: "The global maxconn.",
        value: |_, cfg| cfg.maxconn as u64,
    },
    ProcessMetric {
        name: "l4lb_process_connections_total",
        ty: Type::Counter,
        help: "Client connections accepted, all frontends together.",
        value: |p, _| p.global.total.load(Relaxed),
    },
];

const PER_WORKER: &[WorkerMetric] = &[
    WorkerMetric {
        name: "l4lb_worker_accepted_connections_total",
        ty: Type::Counter,
        help: "Client connections accepted by each worker thread (shows accept imbalance between cores).",
        value: |w| w.accepted.load(Relaxed),
    },
    WorkerMetric {
        name: "l4lb_worker_pipes_in_use",
        ty: Type::Gauge,
        help: "Splice pipes each worker has lent to connections now.",
        value: |w| w.pipes_in_use.load(Relaxed) as u64,
    },
];

/// The rest of the process-wide metrics, written after [`PER_WORKER`].
const PROCESS: &[ProcessMetric] = &[
    ProcessMetric {
        name: "l4lb_process_pipes_in_use",
        ty: Type::Gauge,
        help: "Splice pipes lent to connections now, all workers together.",
        value: |p, _| {
            let n: usize = p.workers.iter().map(|w| w.pipes_in_use.load(Relaxed)).sum();
            n as u64
        },
    },
    ProcessMetric {
        name: "l4lb_process_pipes_lent_total",
        ty: Type::Counter,
        help: "Times a splice pipe was lent to a connection (splice at work).",
        value: |p, _| p.workers.iter().map(|w| w.pipes_lent.load(Relaxed)).sum(),
    },
    ProcessMetric {
        name: "l4lb_process_pipes_limit",
        ty: Type::Gauge,
        help: "Splice pipes l4lb may have (maxpipes, as the fd limit allowed).",
        value: |_, cfg| cfg.maxpipes as u64,
    },
    ProcessMetric {
        name: "l4lb_log_dropped_total",
        ty: Type::Counter,
        help: "Connection log lines dropped because the logger thread fell behind.",
        value: |p, _| p.log_dropped.load(Relaxed),
    },
    ProcessMetric {
        name: "l4lb_reloads_total",
        ty: Type::Counter,
        help: "Configuration reloads applied.",
        value: |p, _| p.reloads.load(Relaxed),
    },
    ProcessMetric {
        name: "l4lb_reload_failures_total",
        ty: Type::Counter,
        help: "Configuration reloads refused (the new configuration was invalid).",
        value: |p, _| p.reload_failures.load(Relaxed),
    },
];

/// Process-wide metrics: the build and the clock as code, then the tables
/// (per-worker families between the process's connection counts and the
/// rest, the order of the exposition since it began).
fn process(out: &mut Out, shared: &Shared) {
    let (p, cfg) = (&*shared.process, &*shared.config);
    build_and_clock(out, p);
    for m in PROCESS_CONNECTIONS {
        out.single(m.name, m.ty, m.help, (m.value)(p, cfg));
    }
    for m in PER_WORKER {
        out.family(m.name, m.ty, m.help);
        for (i, w) in p.workers.iter().enumerate() {
            out.sample(m.name, &[("worker", &i.to_string())], (m.value)(w));
        }
    }
    for m in PROCESS {
        out.single(m.name, m.ty, m.help, (m.value)(p, cfg));
    }
}

/// The version, the start time and the uptime.
fn build_and_clock(out: &mut Out, p: &Process) {
    out.family(
        "l4lb_build_info",
        Type::Gauge,
        "Always 1; the version is in the label.",
    );
    out.sample(
        "l4lb_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1u64,
    );
    let start = p
        .started_wall
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    out.single(
        "l4lb_process_start_time_seconds",
        Type::Gauge,
        "When the process started, in seconds since the Unix epoch.",
        start,
    );
    out.single(
        "l4lb_process_uptime_seconds",
        Type::Gauge,
        "Seconds since the process started.",
        p.started.elapsed().as_secs_f64(),
    );
}

fn server_labels(r: &Row) -> Vec<(&'static str, &str)> {
    vec![("backend", &r.pxname), ("server", &r.svname)]
}

/// Health, admin state, checks and slow start of each server.
fn server_states(out: &mut Out, servers: &[(&Row, &Server)]) {
    let labels = server_labels;
    out.family(
        "l4lb_server_up",
        Type::Gauge,
        "1 if the server is UP (its checks pass, or it has none), 0 if DOWN. \
         The administrative state is separate: l4lb_server_admin_state.",
    );
    for (r, s) in servers {
        out.sample("l4lb_server_up", &labels(r), u64::from(s.is_up()));
    }
    out.family(
        "l4lb_server_admin_state",
        Type::Gauge,
        "Administrative state: 1 for the current one of ready (takes connections), \
         drain (no new connections, open ones finish) and maint (maintenance).",
    );
    for (r, s) in servers {
        for (state, admin) in [
            ("ready", Admin::Ready),
            ("drain", Admin::Drain),
            ("maint", Admin::Maint),
        ] {
            let mut l = labels(r);
            l.push(("state", state));
            out.sample("l4lb_server_admin_state", &l, u64::from(s.admin() == admin));
        }
    }
    out.family(
        "l4lb_server_check_status",
        Type::Gauge,
        "Result of the last health check: 1 for the current one of HAProxy's \
         statuses (INI: none finished yet, L4OK, L4TOUT, L4CON, L6OK, L6TOUT, L6RSP, \
         L7OK, L7OKC, L7RSP, L7STS, L7TOUT, SOCKERR); only servers with checks.",
    );
    for (r, _) in servers {
        let Some(current) = r.check_status else {
            continue;
        };
        for status in CHECK_STATUSES.map(CheckStatus::name) {
            let mut l = labels(r);
            l.push(("status", status));
            out.sample("l4lb_server_check_status", &l, u64::from(status == current));
        }
    }
    out.family(
        "l4lb_server_check_duration_seconds",
        Type::Gauge,
        "How long the last health check took; only servers with checks.",
    );
    for (r, _) in servers {
        if let Some(ms) = r.check_duration {
            let secs = ms as f64 / 1000.0;
            out.sample("l4lb_server_check_duration_seconds", &labels(r), secs);
        }
    }
    out.family(
        "l4lb_server_throttle_ratio",
        Type::Gauge,
        "Slow start: the share of its weight the server gets now, \
         from 1/256 to 1 (1: full weight, no ramp in progress).",
    );
    for (r, s) in servers {
        let ratio = f64::from(s.ramp()) / f64::from(RAMP_FULL);
        out.sample("l4lb_server_throttle_ratio", &labels(r), ratio);
    }
}

/// A sample value: counts as integers, the rest as decimals.
enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

/// The exposition being written.
struct Out(String);

impl Out {
    fn family(&mut self, name: &str, ty: Type, help: &str) {
        let ty = match ty {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
        };
        let _ = writeln!(self.0, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.0, "# TYPE {name} {ty}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Into<Value>) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape_label(v));
            }
            self.0.push('}');
        }
        let _ = match value.into() {
            Value::Int(v) => writeln!(self.0, " {v}"),
            // Display never uses an exponent; Prometheus parses either.
            Value::Float(v) => writeln!(self.0, " {v}"),
        };
    }

    /// A family of one unlabelled sample.
    fn single(&mut self, name: &str, ty: Type, help: &str, value: impl Into<Value>) {
        self.family(name, ty, help);
        self.sample(name, &[], value);
    }

    /// A family with one sample per row that has a value for it.
    fn rows<'r>(
        &mut self,
        m: &RowMetric,
        rows: impl Iterator<Item = &'r Row>,
        labels: impl Fn(&'r Row) -> Vec<(&'static str, &'r str)>,
    ) {
        self.family(m.name, m.ty, m.help);
        for r in rows {
            if let Some(v) = (m.value)(r) {
                self.sample(m.name, &labels(r), v);
            }
        }
    }
}

/// A label value: backslash, double quote and line feed escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// HELP text: backslash and line feed escaped.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
        assert_eq!(escape_help("a\\b\nc \"q\""), "a\\\\b\\nc \"q\"");
    }

    #[test]
    fn samples_have_labels_then_the_value() {
        let mut out = Out(String::new());
        out.family("m_total", Type::Counter, "help");
        out.sample("m_total", &[("a", "x"), ("b", "y\"")], 3u64);
        out.sample("m_total", &[], 0.25);
        assert_eq!(
            out.0,
            "# HELP m_total help\n# TYPE m_total counter\nm_total{a=\"x\",b=\"y\\\"\"} 3\nm_total 0.25\n"
        );
    }

    #[test]
    fn every_counter_ends_in_total_and_no_gauge_does() {
        let all = FRONTEND
            .iter()
            .chain(BACKEND)
            .chain(SERVER)
            .chain(BACKEND_ONLY)
            .chain(SERVER_CHECKS);
        for m in all {
            assert!(m.name.starts_with("l4lb_"), "{}", m.name);
            let counter = matches!(m.ty, Type::Counter);
            assert_eq!(m.name.ends_with("_total"), counter, "{}", m.name);
        }
        let process = PROCESS_CONNECTIONS.iter().chain(PROCESS);
        let process = process.map(|m| (m.name, m.ty));
        for (name, ty) in process.chain(PER_WORKER.iter().map(|m| (m.name, m.ty))) {
            assert!(name.starts_with("l4lb_"), "{name}");
            let counter = matches!(ty, Type::Counter);
            assert_eq!(name.ends_with("_total"), counter, "{name}");
        }
    }
}
