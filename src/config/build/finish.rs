//! The checks of a conf as a whole, once every section is read: backends
//! and their servers, frontends and the backends they send to, binds
//! bound twice, stats pages; then the `Config` with the flags applied.

use super::routing::Names;
use super::*;

impl Builder {
    /// Checks the sections as a whole and builds the Config.
    pub(super) fn finish(mut self, flags: &Flags) -> Result<Config, Vec<ConfError>> {
        let mut config = self.global_config(flags);
        config.warnings.append(&mut self.warnings);
        let proxies = std::mem::take(&mut self.proxies);
        let (ids, id_errors) = proxy_ids(&proxies);
        for (line, msg) in id_errors {
            self.err(line, "id", msg);
        }
        for (p, &id) in proxies.iter().zip(&ids).filter(|(p, _)| p.role & BE != 0) {
            let backend = self.backend(p, flags, &mut config.warnings);
            config.backends.push(Backend { id, ..backend });
        }
        // Every backend is known now: the rules may name any of them.
        let mut next_backend = 0;
        let mut fe_rules = Vec::new();
        for p in &proxies {
            let own = (p.role & BE != 0).then_some(next_backend);
            next_backend += usize::from(own.is_some());
            let names = Names {
                backends: &config.backends,
                own,
            };
            let rules = self.rules(p, &names);
            if let Some(b) = own {
                config.backends[b].rules.clone_from(&rules);
            }
            if p.role & FE != 0 {
                fe_rules.push(rules);
            }
        }
        config.warnings.append(&mut self.warnings);
        let mut bound = HashMap::new();
        let frontends = proxies.iter().zip(&ids).filter(|(p, _)| p.role & FE != 0);
        for ((p, &id), rules) in frontends.zip(fe_rules) {
            self.check_binds(p, &mut bound);
            let frontend = self.frontend(p, flags, &mut config);
            let peeks = peeks(rules.as_deref(), frontend.backend, &config.backends);
            config.frontends.push(Frontend {
                id,
                rules,
                peeks,
                ..frontend
            });
        }
        let backends = proxies.iter().filter(|p| p.role & BE != 0);
        for (b, p) in backends.enumerate() {
            let fullconn = p.settings.fullconn;
            config.backends[b].fullconn =
                fullconn.unwrap_or_else(|| default_fullconn(&config.frontends, b));
        }
        config.warnings.extend(ignored::warnings(&proxies));
        self.finish_stats_pages(&mut config, &mut bound);
        if let Some(m) = &flags.master_socket
            && self.global.stats_sockets.iter().any(|s| s.path == m.path)
        {
            let msg = format!("{} is already a stats socket of the conf", m.path.display());
            self.errors.push(conf_error(FLAGS, 0, "-S", msg));
        }
        if self.errors.is_empty() {
            Ok(config)
        } else {
            Err(self.errors)
        }
    }

    fn global_config(&self, flags: &Flags) -> Config {
        let g = &self.global;
        let available = || std::thread::available_parallelism().map_or(1, |n| n.get());
        let maxconn = flags.maxconn.or(g.maxconn).unwrap_or(DEFAULT_MAXCONN);
        Config {
            threads: flags.threads.or(g.threads).unwrap_or_else(available),
            cpu_affinity: !flags.no_affinity && g.cpu_affinity.unwrap_or(true),
            maxconn,
            maxpipes: g.maxpipes.unwrap_or(maxconn / 4),
            bufsize: g.bufsize.unwrap_or(DEFAULT_BUFSIZE),
            pipesize: g.pipesize,
            hard_stop_after: g.hard_stop_after,
            logging: Logging {
                tag: g.log_tag.clone().unwrap_or_else(|| Logging::default().tag),
                hostname: g
                    .log_send_hostname
                    .clone()
                    .map(|name| name.unwrap_or_else(system_hostname)),
            },
            // `-S` last: `-x`'s default stays the conf's first socket.
            stats_sockets: g
                .stats_sockets
                .iter()
                .chain(&flags.master_socket)
                .cloned()
                .collect(),
            stats_timeout: g.stats_timeout.unwrap_or(Duration::from_secs(10)),
            stats_maxconn: g.stats_maxconn.unwrap_or(10),
            stats_http: g.stats_http,
            node: g.node.clone(),
            description: g.description.clone(),
            process: flags.over_process(&g.process),
            spread_checks: g.spread,
            frontends: Vec::new(),
            backends: Vec::new(),
            stats_pages: Vec::new(),
            warnings: self.global_warnings(),
        }
    }

    /// What the global section asks that l4lb accepts but does not do.
    fn global_warnings(&self) -> Vec<String> {
        let g = &self.global;
        let mut warnings: Vec<String> = g
            .no_effect
            .iter()
            .map(|kw| {
                format!(
                    "{kw} in global has no effect: no listener or server of l4lb terminates TLS"
                )
            })
            .collect();
        if g.process.unix_bind != Default::default() && !g.stats_sockets.is_empty() {
            warnings.push(
                "unix-bind in global does not apply to stats sockets (their own path and \
                 mode are used, as HAProxy): only to unix bind lines"
                    .to_string(),
            );
        }
        warnings
    }

    fn backend(&mut self, p: &Proxy, flags: &Flags, warnings: &mut Vec<String>) -> Backend {
        let s = &p.settings;
        // A proxy refused for mode http (a stats page, say) may well have
        // no server: that is no second error.
        if s.servers.is_empty()
            && !failed(s, "server")
            && !failed(s, "server-template")
            && !self.refused_http(s)
        {
            let msg = format!(
                "{} '{}' has no server; add one: server NAME ADDR:PORT",
                role_name(p.role),
                p.name
            );
            self.err(p.line, role_name(p.role), msg);
        }
        let connect = s.timeout(T_CONNECT).unwrap_or(DEFAULT_TIMEOUT_CONNECT);
        let mut servers = s.servers.clone();
        if let Err(msg) = backend_servers(&mut servers, s.source.as_ref()) {
            self.err(p.line, role_name(p.role), msg);
        }
        let checks = self.checks(p, warnings);
        self.check_tls(p, &checks, &mut servers);
        let backend = Backend {
            name: p.name.clone(),
            description: s.description.clone(),
            balance: resolve_balance(flags.balance.or(s.balance), s.consistent),
            servers,
            retries: s.retries.unwrap_or(DEFAULT_RETRIES),
            redispatch: s.redispatch.unwrap_or(false),
            retry_empty_response: s.retry_empty.unwrap_or(false),
            timeout_connect: connect,
            timeout_server: s.timeout(T_SERVER),
            timeout_server_fin: s.timeout(T_SERVER_FIN),
            timeout_tunnel: s.timeout(T_TUNNEL),
            timeout_queue: s.timeout(T_QUEUE).unwrap_or(connect),
            timeout_check: s.timeout(T_CHECK),
            all_backups: s.all_backups.unwrap_or(false),
            checks,
            log_health_checks: s.checks.log_health.unwrap_or(false),
            tcp_keepalive: s.srvtcpka.unwrap_or(false),
            splice_auto: !flags.no_splice && s.splice_auto.unwrap_or(true),
            // Set by `finish` once every proxy is known.
            id: 0,
            fullconn: 0,
            nolinger: s.nolinger.unwrap_or(false),
            smart_connect: s.smart_connect.unwrap_or(false),
            rules: None, // set by `finish` once every backend is known
            hash_on: self.expr(s.hash_on.as_ref(), "balance"),
            persist_rdp: self.expr(s.persist_rdp.as_ref(), "persist"),
        };
        if let Some(msg) = maxqueue_refused(&backend) {
            self.err(p.line, role_name(p.role), msg);
        }
        if let (Some(line), BE) = (s.log_line.filter(|l| *l > p.line), p.role) {
            warnings.push(format!(
                "log at {} in backend {}: connections are logged by their frontend's \
                 `log` lines, so this one is unused",
                self.at(line),
                p.name
            ));
        }
        if !p.quiet && backend.timeout_server.is_none() && backend.timeout_tunnel.is_none() {
            let kind = role_name(p.role);
            warnings.push(format!(
                "no timeout server in {kind} {}: idle connections are kept forever",
                p.name
            ));
        }
        backend
    }

    fn frontend(&mut self, p: &Proxy, flags: &Flags, config: &mut Config) -> Frontend {
        let s = &p.settings;
        let kind = role_name(p.role);
        if s.binds.is_empty() && !failed(s, "bind") && !self.refused_http(s) {
            let msg = format!("{kind} '{}' has no bind; add one: bind ADDR:PORT", p.name);
            self.err(p.line, kind, msg);
        }
        let backend = self.frontend_backend(p, &config.backends);
        let binds = self.unix_binds(s, &mut config.warnings);
        let frontend = Frontend {
            name: p.name.clone(),
            description: s.description.clone(),
            binds,
            backend,
            maxconn: frontend_maxconn(p, config),
            timeout_client: s.timeout(T_CLIENT),
            timeout_client_fin: s.timeout(T_CLIENT_FIN),
            tcp_keepalive: s.clitcpka.unwrap_or(false),
            splice_auto: !flags.no_splice && s.splice_auto.unwrap_or(true),
            tcplog: s.tcplog.unwrap_or(false),
            unique_id_format: s.unique_id_format.clone(),
            log_line: log_line(s),
            dontlognull: s.dontlognull.unwrap_or(false),
            log: self.log_targets(&s.log),
            id: 0, // set by `finish`
            backlog: s.backlog,
            nolinger: s.nolinger.unwrap_or(false),
            smart_accept: s.smart_accept.unwrap_or(false),
            rules: None, // set by `finish`
            peeks: false,
        };
        if frontend.tcplog && frontend.log.is_empty() {
            let what = if s.log_format.is_some() {
                "log-format"
            } else {
                "option tcplog"
            };
            config.warnings.push(format!(
                "{what} in {kind} {} but no log target: nothing is logged (add `log global` \
                 or a `log` line)",
                p.name
            ));
        }
        if frontend.tcplog {
            config
                .warnings
                .extend(fixed_variables(&frontend.log_line, kind, &p.name));
        }
        let tunnel = backend.and_then(|b| config.backends[b].timeout_tunnel);
        if !p.quiet && frontend.timeout_client.is_none() && tunnel.is_none() {
            let msg = format!(
                "no timeout client in {kind} {}: idle connections are kept forever",
                p.name
            );
            config.warnings.push(msg);
        }
        frontend
    }

    /// A proxy's `log` lines with `log global` replaced by the global
    /// targets. A second `log global` adds nothing, as in HAProxy: else
    /// repeated ones in a defaults section multiply, in every proxy, the
    /// global targets (a 20 KB file made 8 million targets, 380 MB).
    fn log_targets(&self, specs: &[LogSpec]) -> Vec<LogTarget> {
        let mut out = Vec::new();
        let mut global_added = false;
        for spec in specs {
            match spec {
                LogSpec::Global if global_added => {}
                LogSpec::Global => {
                    out.extend(self.global.log.iter().cloned());
                    global_added = true;
                }
                LogSpec::Target(t) => out.push(t.clone()),
            }
        }
        out
    }

    /// Whether the proxy is left in mode http and an error was reported
    /// (`refuse_http_mode`'s): what it lacks then is no second error. A
    /// proxy in mode http that was let through still gets its checks.
    fn refused_http(&self, s: &Settings) -> bool {
        matches!(s.mode, Some((Mode::Http, _))) && !self.errors.is_empty()
    }

    /// Index of the frontend's backend: itself for a listen section, else its
    /// `default_backend`; None for a frontend routed by `use_backend` rules
    /// alone (a client no rule sends anywhere is closed). None after an
    /// error, which is then returned instead.
    fn frontend_backend(&mut self, p: &Proxy, backends: &[Backend]) -> Option<usize> {
        let find = |name: &str| backends.iter().position(|b| b.name == name);
        if p.role == LISTEN {
            return find(&p.name);
        }
        let Some((name, line)) = &p.settings.default_backend else {
            let routed = failed(&p.settings, "default_backend")
                || failed(&p.settings, "use_backend")
                || p.settings
                    .rule_lines
                    .iter()
                    .any(|l| l.words[0] == "use_backend");
            if routed || self.refused_http(&p.settings) {
                return None;
            }
            let msg = format!(
                "frontend '{}' has no default_backend; add one: default_backend NAME",
                p.name
            );
            self.err(p.line, "frontend", msg);
            return None;
        };
        if let Some(i) = find(name) {
            return Some(i);
        }
        if self.failed_names.contains(name) {
            return None;
        }
        let known: Vec<&str> = backends.iter().map(|b| b.name.as_str()).collect();
        let known = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        self.err(
            *line,
            "default_backend",
            format!("no backend named '{name}'; backends: {known}"),
        );
        None
    }

    /// The binds of `s` with `unix-bind` applied (see `unix_bind`).
    fn unix_binds(&mut self, s: &Settings, warnings: &mut Vec<String>) -> Vec<Bind> {
        let mut binds = Vec::with_capacity(s.binds.len());
        for (b, line) in &s.binds {
            match unix_bind::apply(&self.global.process.unix_bind, b) {
                Ok((b, warning)) => {
                    warnings.extend(warning);
                    binds.push(b);
                }
                Err(msg) => self.err(*line, "bind", msg),
            }
        }
        binds
    }

    fn check_binds(&mut self, p: &Proxy, bound: &mut HashMap<SockAddr, usize>) {
        for (b, line) in &p.settings.binds {
            if let Some(first) = bound.insert(b.addr.clone(), *line) {
                let msg = format!(
                    "{} is already bound at {}; bind each address once",
                    b.addr,
                    self.at(first)
                );
                self.err(*line, "bind", msg);
            }
        }
    }
}

/// A frontend's log line settings: `log-format` or `option tcplog`'s.
fn log_line(s: &Settings) -> LogLine {
    LogLine {
        format: s.log_format.clone().unwrap_or_else(LineFormat::tcplog),
        sd: s.log_format_sd.clone(),
        logasap: s.logasap.unwrap_or(false),
        dontlog_normal: s.dontlog_normal.unwrap_or(false),
        separate_errors: s.log_separate_errors.unwrap_or(false),
    }
}

/// A warning for the variables of a proxy's formats that only HTTP or TLS
/// fill (HAProxy accepts them in TCP with a diagnostic warning).
fn fixed_variables(line: &LogLine, kind: &str, name: &str) -> Option<String> {
    let mut fixed: Vec<&str> = line.format.fixed.iter().map(String::as_str).collect();
    if let Some(sd) = &line.sd {
        fixed.extend(sd.fixed.iter().map(String::as_str));
    }
    fixed.sort_unstable();
    fixed.dedup();
    (!fixed.is_empty()).then(|| {
        format!(
            "log-format in {kind} {name}: {} only have a value in HTTP or TLS proxies; l4lb \
             writes them as HAProxy does in TCP (-, -1, 0, <BADREQ> or nothing)",
            fixed.join(" ")
        )
    })
}

/// Whether a line of `keyword` had an error in the section (or in the
/// defaults it read).
pub(super) fn failed(s: &Settings, keyword: &str) -> bool {
    s.failed.iter().any(|f| f == keyword)
}

/// A frontend's own maxconn, never above the global one.
fn frontend_maxconn(p: &Proxy, config: &mut Config) -> usize {
    match p.settings.maxconn {
        Some(m) if m > config.maxconn => {
            config.warnings.push(format!(
                "maxconn {m} in {} {} is above the global maxconn {}: clamped to {}",
                role_name(p.role),
                p.name,
                config.maxconn,
                config.maxconn
            ));
            config.maxconn
        }
        Some(m) => m,
        None => config.maxconn,
    }
}

fn resolve_balance(balance: Option<Balance>, consistent: Option<bool>) -> Balance {
    match balance.unwrap_or(Balance::RoundRobin) {
        Balance::Source { .. } => Balance::Source {
            consistent: consistent.unwrap_or(false),
        },
        other => other,
    }
}

/// Whether a frontend's sessions read the client's first bytes: its own
/// rules do, or a backend it may send to reads them.
fn peeks(
    rules: Option<&crate::rules::ProxyRules>,
    default: Option<usize>,
    backends: &[Backend],
) -> bool {
    let Some(r) = rules else {
        return default.is_some_and(|b| backends[b].reads_content());
    };
    if r.reads_content {
        return true;
    }
    if r.has_dynamic_target() {
        return backends.iter().any(Backend::reads_content);
    }
    r.named_targets()
        .chain(default)
        .any(|b| backends[b].reads_content())
}
