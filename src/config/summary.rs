//! What `l4lb -c` prints: a line for the global settings and the process,
//! then one per frontend, backend and stats page.

use std::time::Duration;

use super::{Backend, Balance, CheckKind, Config, Frontend, LineFormat, StatsPage};

impl Config {
    /// One line for global settings, then one per frontend and backend, for `-c`.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = vec![self.global_summary()];
        lines.extend(self.process.summary());
        lines.extend(
            self.frontends
                .iter()
                .map(|f| frontend_summary(f, &self.backends)),
        );
        lines.extend(self.backends.iter().map(backend_summary));
        lines.extend(self.stats_pages.iter().map(StatsPage::summary));
        lines
    }

    fn global_summary(&self) -> String {
        let pipesize = self
            .pipesize
            .map_or("default".to_string(), |p| p.to_string());
        let mut line = format!(
            "global: nbthread {}, cpu-affinity {}, maxconn {}, maxpipes {}, bufsize {}, pipesize {}",
            self.threads,
            on_off(self.cpu_affinity),
            self.maxconn,
            self.maxpipes,
            self.bufsize,
            pipesize
        );
        if let Some(t) = self.hard_stop_after {
            line.push_str(&format!(", hard-stop-after {}", fmt_duration(t)));
        }
        line
    }
}

fn frontend_summary(f: &Frontend, backends: &[Backend]) -> String {
    let binds: Vec<String> = f.binds.iter().map(|b| b.addr.to_string()).collect();
    let default = f.backend.map_or("none", |b| backends[b].name.as_str());
    let backend = match &f.rules {
        Some(r) if !r.use_backend.is_empty() => {
            format!(
                "{} use_backend rule(s), default {default}",
                r.use_backend.len()
            )
        }
        _ => default.to_string(),
    };
    let mut s = format!(
        "frontend {}: bind {} -> backend {}, maxconn {}, timeout client {}",
        f.name,
        binds.join(" "),
        backend,
        f.maxconn,
        opt_duration(f.timeout_client)
    );
    if let Some(d) = f.timeout_client_fin {
        s += &format!(", timeout client-fin {}", fmt_duration(d));
    }
    if f.tcp_keepalive {
        s += ", clitcpka";
    }
    if !f.splice_auto {
        s += ", splice-auto off";
    }
    if f.tcplog {
        let custom = f.log_line.format != LineFormat::tcplog();
        let what = if custom { "log-format" } else { "tcplog" };
        s += &format!(", {what} to {} target(s)", f.log.len());
    } else if !f.log.is_empty() {
        // HAProxy's default format: one line at accept.
        s += &format!(", connect log to {} target(s)", f.log.len());
    }
    let options = [
        (f.log_line.sd.is_some(), "log-format-sd"),
        (f.log_line.logasap, "logasap"),
        (f.log_line.dontlog_normal, "dontlog-normal"),
        (f.log_line.separate_errors, "log-separate-errors"),
    ];
    for (_, name) in options.iter().filter(|(on, _)| *on) {
        s += &format!(", {name}");
    }
    if f.dontlognull {
        s += ", dontlognull";
    }
    for (on, name) in [
        (f.nolinger, "nolinger"),
        (f.smart_accept, "tcp-smart-accept"),
    ] {
        if on {
            s += &format!(", {name}");
        }
    }
    s
}

fn backend_summary(b: &Backend) -> String {
    let enabled = b.servers.iter().filter(|s| !s.disabled).count();
    let mut s = format!(
        "backend {}: balance {}, {} servers ({} enabled), retries {}, timeout connect {}, timeout server {}",
        b.name,
        balance_text(b.balance),
        b.servers.len(),
        enabled,
        b.retries,
        fmt_duration(b.timeout_connect),
        opt_duration(b.timeout_server)
    );
    let optional = [
        ("timeout server-fin", b.timeout_server_fin),
        ("timeout tunnel", b.timeout_tunnel),
        (
            "timeout queue",
            Some(b.timeout_queue).filter(|q| *q != b.timeout_connect),
        ),
        ("timeout check", b.timeout_check),
    ];
    for (name, d) in optional {
        if let Some(d) = d {
            s += &format!(", {name} {}", fmt_duration(d));
        }
    }
    let checked = b
        .servers
        .iter()
        .filter(|s| s.check.as_ref().is_some_and(|c| !c.passive_only))
        .count();
    if checked > 0 {
        s += &format!(", {checked} checked");
    }
    match &b.checks {
        CheckKind::Connect => {}
        CheckKind::TcpCheck(steps) => s += &format!(", tcp-check {} step(s)", steps.len()),
        CheckKind::Http(h) => s += &format!(", httpchk {} rule(s)", h.rules.len()),
        CheckKind::SslHello => s += ", ssl-hello-chk",
        CheckKind::Mysql { .. } => s += ", mysql-check",
        CheckKind::Pgsql { .. } => s += ", pgsql-check",
        CheckKind::Redis => s += ", redis-check",
        CheckKind::Ldap => s += ", ldap-check",
        CheckKind::Smtp { .. } => s += ", smtpchk",
    }
    if b.redispatch {
        s += ", redispatch";
    }
    if b.retry_empty_response {
        s += ", retry-on empty-response";
    }
    if b.tcp_keepalive {
        s += ", srvtcpka";
    }
    if b.servers
        .iter()
        .any(|s| s.minconn > 0 && s.minconn < s.maxconn)
    {
        s += &format!(", fullconn {}", b.fullconn);
    }
    for (on, name) in [
        (b.nolinger, "nolinger"),
        (b.smart_connect, "tcp-smart-connect"),
    ] {
        if on {
            s += &format!(", {name}");
        }
    }
    s + &format!(", splice-auto {}", on_off(b.splice_auto))
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// HAProxy spelling, as it would be written in the file.
fn balance_text(b: Balance) -> String {
    match b {
        Balance::RoundRobin => "roundrobin".to_string(),
        Balance::LeastConn => "leastconn".to_string(),
        Balance::Source { consistent: false } => "source".to_string(),
        Balance::Source { consistent: true } => "source (hash-type consistent)".to_string(),
        Balance::Random { draws } => format!("random({draws})"),
        Balance::First => "first".to_string(),
    }
}

fn opt_duration(d: Option<Duration>) -> String {
    d.map_or("none".to_string(), fmt_duration)
}

/// The largest HAProxy unit that divides `d` exactly: 5s, 300ms, 90s, 1h.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        return "0".to_string();
    }
    let units = [
        ("d", 86_400_000_000),
        ("h", 3_600_000_000),
        ("m", 60_000_000),
        ("s", 1_000_000),
        ("ms", 1000),
    ];
    for (unit, size) in units {
        if us.is_multiple_of(size) {
            return format!("{}{unit}", us / size);
        }
    }
    format!("{us}us")
}
