//! One checked server's probe: its settings, HAProxy's health counter
//! (rise/fall hysteresis) and what it publishes to the server's atomics.
//! Pure logic, tested here without sockets.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::exchange::Pending;
use super::protocol;
use super::rules::Step;
use crate::backend::CheckStats;
use crate::backend::{CheckStatus, Server};
use crate::config::{Agent, Check, CheckKind, ConnectRule};
use crate::shared::Shared;

/// Which of a server's probes this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Role {
    /// Its health check (`check`, or `observe layer4` alone).
    Health,
    /// Its `agent-check`: the agent's reply sets its state and weight.
    Agent(Agent),
}

/// One checked server.
pub(super) struct Probe {
    pub(super) server: Arc<Server>,
    pub(super) role: Role,
    /// `option log-health-checks`: log every change of the health counter.
    pub(super) log_health: bool,
    /// `backend/server`, for the logs.
    pub(super) label: String,
    pub(super) backend: usize,
    pub(super) check: Check,
    pub(super) timeout: Duration,
    pub(super) health: u32,
    /// `on-marked-down shutdown-sessions`.
    pub(super) shutdown_on_down: bool,
    /// What the backend's checks do, as the conf says (compared on reload).
    pub(super) kind: CheckKind,
    /// The same, compiled: the steps of every check.
    pub(super) steps: Vec<Step>,
    /// `slowstart T` (zero: none).
    pub(super) slowstart: Duration,
    /// The check in progress.
    pub(super) pending: Option<Pending>,
    /// rustls configurations made for its TLS connects, by ALPN list.
    pub(super) tls_configs: Vec<(Vec<String>, Arc<rustls::ClientConfig>)>,
    /// The one live entry in the schedule: the next check, or the deadline
    /// of the connect in progress. Other entries for this probe are stale.
    pub(super) next_at: Option<Instant>,
}

/// The Host header of an HTTP check's first request, without its port.
fn http_host(kind: &CheckKind) -> Option<String> {
    let CheckKind::Http(h) = kind else {
        return None;
    };
    let req = h.rules.iter().find_map(|r| match r {
        crate::config::HttpRule::Send(req) => Some(req),
        _ => None,
    })?;
    let (_, host) = req
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))?;
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None if host.matches(':').count() == 1 => host.split(':').next().unwrap_or(host),
        None => host,
    };
    Some(name.to_string())
}

/// `1045 Access denied` -> 1045; 0 without a leading number.
fn leading_number(text: &str) -> u32 {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    text[..digits].parse().unwrap_or(0)
}

/// `503 Service Unavailable` -> (503, `Service Unavailable`).
pub(super) fn split_code(text: &str) -> (u32, &str) {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    match (digits, text.as_bytes().get(3)) {
        (3, None | Some(b' ' | b'-')) => (
            text[..3].parse().unwrap_or(0),
            text[3..].trim_start_matches([' ', '-']),
        ),
        _ => (0, text),
    }
}

/// A TLS connect's configuration and SNI, or why there is none.
pub(super) type TlsFor = Result<(Arc<rustls::ClientConfig>, Option<String>), String>;

/// What a finished check found.
pub(super) enum Outcome {
    Passed(CheckStatus, String),
    Failed(CheckStatus, String),
}

impl Probe {
    pub(super) fn max_health(&self) -> u32 {
        self.check.rise + self.check.fall - 1
    }

    /// Whether checks stop here: a passive-only server fully back UP.
    pub(super) fn at_rest(&self) -> bool {
        self.check.passive_only && self.server.check_up() && self.health == self.max_health()
    }

    /// The TLS of a connect step, if it has any: the configuration (made
    /// once per ALPN list) and the SNI. Err when it cannot be made.
    pub(super) fn tls_for(&mut self, rule: &ConnectRule) -> Option<TlsFor> {
        let tls = self.check.tls.as_ref();
        if !(rule.ssl || (rule.default && tls.is_some_and(|t| t.check_ssl))) {
            return None;
        }
        let Some(tls) = tls else {
            return Some(Err("no TLS settings for this server's checks".into()));
        };
        let alpn = match (&rule.alpn[..], rule.default) {
            ([], true) => tls.alpn.clone(),
            (list, _) => list.to_vec(),
        };
        // As HAProxy: the rule's `sni`, else the server's `check-sni`, else
        // for an HTTP check's default connect the Host it sends.
        let sni = rule.sni.clone().or_else(|| {
            rule.default
                .then(|| tls.sni.clone().or_else(|| http_host(&self.kind)))
                .flatten()
        });
        let made = match self.tls_configs.iter().find(|(a, _)| *a == alpn) {
            Some((_, config)) => Arc::clone(config),
            None => match super::tls::client_config(tls, &alpn) {
                Ok(config) => {
                    self.tls_configs.push((alpn, Arc::clone(&config)));
                    config
                }
                Err(why) => return Some(Err(why)),
            },
        };
        Some(Ok((made, sni)))
    }

    /// Where its results are shown: the `check_*` or the `agent_*` columns.
    pub(super) fn stats(&self) -> &CheckStats {
        match self.role {
            Role::Health => &self.server.check,
            Role::Agent(_) => &self.server.agent,
        }
    }

    /// UP as far as this probe is concerned.
    pub(super) fn says_up(&self) -> bool {
        match self.role {
            Role::Health => self.server.check_up(),
            Role::Agent(_) => self.server.agent_up(),
        }
    }

    /// Sets what this probe says of the server.
    pub(super) fn set_up(&self, up: bool) {
        match self.role {
            Role::Health => self.server.set_up(up),
            Role::Agent(_) => self.server.set_agent_up(up),
        }
    }

    /// The wait before the next check: `inter` when steady UP, `downinter`
    /// when steady DOWN, `fastinter` while changing.
    pub(super) fn interval(&self) -> Duration {
        if self.health == self.max_health() {
            self.check.inter
        } else if self.health == 0 {
            self.check.downinter
        } else {
            self.check.fastinter
        }
    }

    /// Publishes a result for the stats: status, duration, counters, and
    /// on a change of state its time and the DOWN time so far.
    pub(super) fn publish(
        &self,
        outcome: &Outcome,
        took: Duration,
        change: Option<bool>,
        now_ms: u64,
    ) {
        let c = self.stats();
        let (status, desc) = match outcome {
            Outcome::Passed(status, why) => (*status, why.as_str()),
            Outcome::Failed(status, why) => (*status, why.as_str()),
        };
        // HTTP and SMTP replies: the code apart, as HAProxy shows them.
        let (code, desc) = match (&self.kind, &self.role) {
            (CheckKind::Http(_) | CheckKind::Smtp { .. }, Role::Health) => split_code(desc),
            // MySQL's error number and LDAP's resultCode stay in the text.
            (CheckKind::Mysql { .. }, Role::Health) => (leading_number(desc), desc),
            (CheckKind::Ldap, Role::Health) => (
                leading_number(desc.strip_prefix("resultCode ").unwrap_or("")),
                desc,
            ),
            _ => (0, desc),
        };
        c.code.store(code, Relaxed);
        c.status.store(status as u8, Relaxed);
        c.duration_ms.store(took.as_millis() as u64, Relaxed);
        c.health.store(self.health, Relaxed);
        desc.clone_into(&mut c.desc.lock().unwrap_or_else(|e| e.into_inner()));
        match change {
            Some(false) => {
                c.downs.fetch_add(1, Relaxed);
                c.down_since_ms.store(now_ms, Relaxed);
            }
            Some(true) => {
                let since = c.down_since_ms.load(Relaxed);
                c.down_ms.fetch_add(now_ms.saturating_sub(since), Relaxed);
            }
            None => return,
        }
        c.last_change_ms.store(now_ms, Relaxed);
    }

    /// Applies one result; returns the new state when it changed.
    pub(super) fn record(&mut self, outcome: &Outcome) -> Option<bool> {
        let was_up = self.says_up();
        match outcome {
            Outcome::Passed(..) => {
                if self.health < self.max_health() {
                    self.health += 1;
                }
                // As HAProxy: from `rise` on, one pass is full health.
                if self.health >= self.check.rise {
                    self.health = self.max_health();
                    if !was_up {
                        return Some(true);
                    }
                }
            }
            Outcome::Failed(..) => {
                // HAProxy's chkfail counts the failures that cost health.
                if self.health > 0 {
                    self.stats().failed.fetch_add(1, Relaxed);
                }
                if self.health > self.check.rise {
                    self.health -= 1;
                } else {
                    self.health = 0;
                    if was_up {
                        return Some(false);
                    }
                }
            }
        }
        None
    }
}

/// The probes of every server with `check` (or `observe` alone) in `shared`,
/// each starting UP one failure from DOWN, and of every `agent-check`;
/// publishes their settings.
pub(super) fn probes_for(shared: &Shared) -> Vec<Probe> {
    let mut probes = Vec::new();
    for (b, backend) in shared.config.backends.iter().enumerate() {
        for (conf, server) in backend.servers.iter().zip(&shared.servers[b]) {
            let label = format!("{}/{}", backend.name, conf.name);
            let base = |check: Check, role: Role, steps: Vec<Step>| Probe {
                server: Arc::clone(server),
                role,
                log_health: backend.log_health_checks,
                label: label.clone(),
                backend: b,
                timeout: backend.timeout_check.unwrap_or(check.inter),
                health: check.rise,
                kind: backend.checks.clone(),
                check,
                shutdown_on_down: conf.shutdown_on_down,
                steps,
                slowstart: conf.slowstart,
                pending: None,
                tls_configs: Vec::new(),
                next_at: None,
            };
            server.agent.enabled.store(conf.agent.is_some(), Relaxed);
            if let Some(agent) = &conf.agent {
                let check = agent_check(agent);
                publish_settings(&server.agent, &check);
                let steps = agent_steps(agent);
                probes.push(base(check, Role::Agent(agent.clone()), steps));
            }
            let Some(check) = conf.check.clone() else {
                server.check.enabled.store(false, Relaxed);
                continue;
            };
            publish_settings(&server.check, &check);
            let mut steps = protocol::steps(&backend.checks);
            if let Some(v2) = check.send_proxy {
                // The server's `proxy-v2-options crc32c` applies too, as HAProxy.
                let crc = conf.send_proxy.is_some_and(|p| p.crc32c);
                with_proxy_header(&mut steps, v2, crc);
            }
            probes.push(base(check, Role::Health, steps));
        }
    }
    probes
}

/// The agent's timing: every `agent-inter`; its rise and fall are 1, as
/// HAProxy's (its say takes effect at once).
fn agent_check(agent: &Agent) -> Check {
    let (rise, fall) = (1, 1);
    Check {
        inter: agent.inter,
        fastinter: agent.inter,
        downinter: agent.inter,
        rise,
        fall,
        target: agent.target,
        passive_only: false,
        tls: None,
        send_proxy: None,
    }
}

/// `check-send-proxy`: the default connect is followed by HAProxy's
/// header for a check, which speaks for itself: `PROXY UNKNOWN` (v1) or a
/// LOCAL command (v2).
fn with_proxy_header(steps: &mut Vec<Step>, v2: bool, crc32c: bool) {
    let Some(at) = steps
        .iter()
        .position(|s| matches!(s, Step::Connect(c) if c.default))
    else {
        return;
    };
    let mut header = Vec::new();
    crate::wire::proxy_protocol::write_for(v2, None, v2 && crc32c, &[], &mut header);
    steps.insert(at + 1, Step::Send(header));
}

/// Connect to the agent (plain TCP), send `agent-send`, read its line.
fn agent_steps(agent: &Agent) -> Vec<Step> {
    let mut steps = vec![Step::Connect(ConnectRule::default())];
    let request = protocol::agent::request(agent);
    if !request.is_empty() {
        steps.push(Step::Send(request));
    }
    steps.push(Step::Expect(Box::new(super::agent::Line)));
    steps
}

fn publish_settings(stats: &CheckStats, check: &Check) {
    stats.enabled.store(true, Relaxed);
    stats.rise.store(check.rise, Relaxed);
    stats.fall.store(check.fall, Relaxed);
    stats.health.store(check.rise, Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(rise: u32, fall: u32) -> Probe {
        let conf = crate::testutil::server_conf("s");
        let addr = conf.addr;
        let inter = Duration::from_secs(2);
        let check = Check {
            inter,
            fastinter: inter / 2,
            downinter: inter * 2,
            rise,
            fall,
            target: addr,
            passive_only: false,
            tls: None,
            send_proxy: None,
        };
        Probe {
            server: crate::testutil::server_from(&conf),
            role: Role::Health,
            log_health: false,
            label: "b/s".into(),
            backend: 0,
            timeout: inter,
            health: rise,
            check,
            shutdown_on_down: false,
            kind: CheckKind::Connect,
            steps: protocol::steps(&CheckKind::Connect),
            slowstart: Duration::ZERO,
            pending: None,
            tls_configs: Vec::new(),
            next_at: None,
        }
    }

    /// Feeds results and applies state changes as the prober does.
    fn feed(p: &mut Probe, results: &str) -> Vec<bool> {
        results
            .chars()
            .map(|c| {
                let outcome = if c == '+' {
                    Outcome::Passed(CheckStatus::L4Ok, "ok".into())
                } else {
                    Outcome::Failed(CheckStatus::L4Con, "x".into())
                };
                if let Some(up) = p.record(&outcome) {
                    p.server.set_up(up);
                }
                p.server.is_up()
            })
            .collect()
    }

    #[test]
    fn starts_up_and_one_failure_takes_a_dead_server_down() {
        let mut p = probe(2, 3);
        assert!(p.server.is_up());
        assert_eq!(feed(&mut p, "-"), [false]);
    }

    #[test]
    fn fall_failures_in_a_row_take_a_steady_server_down() {
        let mut p = probe(2, 3);
        feed(&mut p, "++++");
        assert_eq!(p.interval(), Duration::from_secs(2), "steady UP: inter");
        assert_eq!(feed(&mut p, "--"), [true, true]);
        assert_eq!(p.interval(), Duration::from_secs(1), "changing: fastinter");
        assert_eq!(feed(&mut p, "-"), [false]);
        assert_eq!(p.interval(), Duration::from_secs(4), "DOWN: downinter");
    }

    #[test]
    fn rise_successes_in_a_row_bring_it_back() {
        let mut p = probe(2, 3);
        feed(&mut p, "-");
        assert_eq!(
            feed(&mut p, "+-+-+-"),
            [false; 6],
            "alternating never rises"
        );
        assert_eq!(feed(&mut p, "++"), [false, true]);
    }

    #[test]
    fn alternating_results_do_not_flap_an_up_server() {
        let mut p = probe(2, 3);
        feed(&mut p, "+++");
        assert!(feed(&mut p, "-+-+-+-+-+").iter().all(|&up| up));
    }
}
