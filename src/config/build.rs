//! Turns the sections of a conf file into a [`Config`]: collects `global`,
//! `defaults` and proxy sections in file order, applies defaults inheritance
//! (`defaults NAME`, `from`), then checks the proxies as a whole (names,
//! binds, default backends, maxconn) and applies the overriding flags.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use super::flags::{FLAGS, Flags, quick_proxy};
use super::keywords::{
    Bad, HTTP_SECTIONS, backend_servers, default_fullconn, global_line, http_only,
    maxqueue_refused, proxy_ids, settings_line,
};
use super::log::{LogSpec, system_hostname};
use super::raw::{
    BE, DEF, FE, Global, LISTEN, Mode, Proxy, Settings, T_CHECK, T_CLIENT, T_CLIENT_FIN, T_CONNECT,
    T_QUEUE, T_SERVER, T_SERVER_FIN, T_TUNNEL, check_name, role_name,
};
use super::text::{self, Kind, Line, Section};
use super::{
    Backend, Balance, ConfError, Config, DEFAULT_BUFSIZE, DEFAULT_MAXCONN, DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_CONNECT, Frontend, LogTarget, Logging, conf_error,
};
use crate::cli::Args;

impl Config {
    /// Parses conf text; `file` only names it in errors.
    pub(super) fn from_reader<R: Read>(
        file: &str,
        rdr: R,
        flags: &Flags,
    ) -> Result<Config, Vec<ConfError>> {
        let sections = text::parse(rdr).map_err(|errs| {
            let keyword = |e: &text::Error| {
                if e.line == 0 {
                    "-f".to_string()
                } else {
                    e.keyword.clone()
                }
            };
            errs.iter()
                .map(|e| conf_error(file, e.line, &keyword(e), e.msg.clone()))
                .collect::<Vec<_>>()
        })?;
        let mut b = Builder::new(file);
        for s in &sections {
            b.section(s);
        }
        if !b.proxies.iter().any(|p| p.role & FE != 0) && b.errors.is_empty() {
            let msg = "no frontend or listen section: nothing would accept connections";
            b.err(0, "frontend", msg.to_string());
        }
        b.finish(flags)
    }

    /// `l4lb --bind A --server B...`: the quick-start proxy, checked as a
    /// file's would be.
    pub(super) fn quick_start(args: &Args, flags: &Flags) -> Result<Config, Vec<ConfError>> {
        let mut b = Builder::new(FLAGS);
        b.proxies.push(quick_proxy(args)?);
        b.finish(flags)
    }
}

/// Collects sections in file order, then checks them as a whole in `finish`.
pub(super) struct Builder {
    file: String,
    pub(super) errors: Vec<ConfError>,
    global: Global,
    /// The last `defaults` section: what a proxy without `from` inherits.
    defaults: Settings,
    named: HashMap<String, Settings>,
    pub(super) proxies: Vec<Proxy>,
}

impl Builder {
    pub(super) fn new(file: &str) -> Builder {
        Builder {
            file: file.to_string(),
            errors: Vec::new(),
            global: Global::default(),
            defaults: Settings::default(),
            named: HashMap::new(),
            proxies: Vec::new(),
        }
    }

    pub(super) fn err(&mut self, line: usize, keyword: &str, msg: String) {
        self.errors.push(conf_error(&self.file, line, keyword, msg));
    }

    fn bad(&mut self, line: &Line, bad: Bad) {
        let keyword = bad.keyword.unwrap_or_else(|| line.words[0].clone());
        self.err(line.line, &keyword, bad.msg);
    }

    fn section(&mut self, s: &Section) {
        match &s.kind {
            Kind::Global => self.global_section(s),
            Kind::Defaults => self.defaults_section(s),
            Kind::Frontend => self.proxy_section(s, FE),
            Kind::Backend => self.proxy_section(s, BE),
            Kind::Listen => self.proxy_section(s, LISTEN),
            Kind::Other(kind) if HTTP_SECTIONS.contains(&kind.as_str()) => {
                let b = http_only(kind);
                self.err(s.line, kind, b.msg)
            }
            Kind::Other(kind) => {
                let msg = format!("section '{kind}' is not implemented yet in l4lb; remove it");
                self.err(s.line, kind, msg)
            }
        }
    }

    fn global_section(&mut self, s: &Section) {
        if !s.args.is_empty() {
            self.err(s.line, "global", "takes no argument".to_string());
        }
        for l in &s.lines {
            if let Err(b) = global_line(&mut self.global, &l.words) {
                self.bad(l, b);
            }
        }
    }

    fn defaults_section(&mut self, s: &Section) {
        let (name, mut settings) = self.header(s, DEF);
        self.section_lines(s, DEF, &mut settings);
        if let Some(name) = name {
            if self.named.contains_key(&name) {
                let msg = format!(
                    "a defaults section named '{name}' already exists; names must be unique"
                );
                self.err(s.line, "defaults", msg);
            }
            self.named.insert(name, settings.clone());
        }
        self.defaults = settings;
    }

    fn proxy_section(&mut self, s: &Section, role: u8) {
        let (name, mut settings) = self.header(s, role);
        self.section_lines(s, role, &mut settings);
        let Some(name) = name else {
            return; // `header` reported it
        };
        if role == LISTEN {
            self.refuse_listen_default_backend(s.line, &settings);
        }
        self.refuse_http_mode(&name, role, s.line, &settings);
        self.check_duplicate(&name, role, s.line);
        self.proxies.push(Proxy {
            role,
            name,
            line: s.line,
            settings,
            quiet: false,
        });
    }

    /// A proxy whose mode is http, its own `mode` line's or its defaults'.
    /// It is still collected, so that names it holds raise no second error.
    fn refuse_http_mode(&mut self, name: &str, role: u8, header: usize, s: &Settings) {
        let Some((Mode::Http, line)) = s.mode else {
            return;
        };
        let kind = role_name(role);
        let why = "l4lb is a TCP (L4) balancer: mode http is not supported; use mode tcp";
        if line > header {
            self.err(line, "mode", format!("{kind} '{name}': {why}"));
        } else {
            let msg = format!("{kind} '{name}' inherits mode http (defaults, line {line}): {why}");
            self.err(header, kind, msg);
        }
    }

    /// A listen section's backend is itself; a `default_backend` written in it
    /// (not inherited) would silently be ignored.
    fn refuse_listen_default_backend(&mut self, header: usize, s: &Settings) {
        if let Some((name, line)) = s.default_backend.clone().filter(|(_, line)| *line > header) {
            let msg = format!(
                "a listen section sends to its own servers; to route to backend '{name}' use a frontend section"
            );
            self.err(line, "default_backend", msg);
        }
    }

    fn check_duplicate(&mut self, name: &str, role: u8, line: usize) {
        let Some(first) = self
            .proxies
            .iter()
            .find(|p| p.name == name && p.role & role != 0)
        else {
            return;
        };
        let kind = if first.role & role & FE != 0 {
            "frontend"
        } else {
            "backend"
        };
        let msg = format!(
            "duplicate {kind} name '{name}' (first at line {}); names must be unique",
            first.line
        );
        self.err(line, role_name(role), msg);
    }

    /// Reads `NAME [from DEFAULTS]`; returns the name and the settings to
    /// start from. On error, goes on from the last defaults to find more.
    fn header(&mut self, s: &Section, role: u8) -> (Option<String>, Settings) {
        let kw = role_name(role);
        let (name, from) = match s.args.as_slice() {
            [] if role == DEF => (None, None),
            [] => {
                self.err(
                    s.line,
                    kw,
                    format!("needs a name: {kw} NAME [from DEFAULTS]"),
                );
                (None, None)
            }
            [name] => (Some(name), None),
            [name, from, def] if from == "from" => (Some(name), Some(def)),
            _ => {
                let name = if role == DEF { "[NAME]" } else { "NAME" };
                self.err(s.line, kw, format!("expects: {kw} {name} [from DEFAULTS]"));
                (None, None)
            }
        };
        for n in name.iter().chain(from.iter()) {
            if let Err(msg) = check_name(n) {
                self.err(s.line, kw, msg);
            }
        }
        let base = match from {
            Some(def) => self.named_defaults(def, s.line, kw),
            None if role == DEF => Settings::default(),
            None => self.defaults.clone(),
        };
        (name.cloned(), base)
    }

    fn named_defaults(&mut self, def: &str, line: usize, kw: &str) -> Settings {
        if let Some(s) = self.named.get(def) {
            return s.clone();
        }
        let mut known: Vec<&str> = self.named.keys().map(String::as_str).collect();
        known.sort_unstable();
        let known = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        let msg =
            format!("no defaults section named '{def}' before this line; named defaults: {known}");
        self.err(line, kw, msg);
        self.defaults.clone()
    }

    fn section_lines(&mut self, s: &Section, role: u8, settings: &mut Settings) {
        for l in &s.lines {
            if let Err(b) = settings_line(settings, role, l) {
                self.bad(l, b);
            }
        }
    }

    /// Checks the sections as a whole and builds the Config.
    pub(super) fn finish(mut self, flags: &Flags) -> Result<Config, Vec<ConfError>> {
        let mut config = self.global_config(flags);
        let proxies = std::mem::take(&mut self.proxies);
        let (ids, id_errors) = proxy_ids(&proxies);
        for (line, msg) in id_errors {
            self.err(line, "id", msg);
        }
        for (p, &id) in proxies.iter().zip(&ids).filter(|(p, _)| p.role & BE != 0) {
            let backend = self.backend(p, flags, &mut config.warnings);
            config.backends.push(Backend { id, ..backend });
        }
        let mut bound = HashMap::new();
        for (p, &id) in proxies.iter().zip(&ids).filter(|(p, _)| p.role & FE != 0) {
            self.check_binds(p, &mut bound);
            let frontend = self.frontend(p, flags, &mut config);
            config.frontends.push(Frontend { id, ..frontend });
        }
        let backends = proxies.iter().filter(|p| p.role & BE != 0);
        for (b, p) in backends.enumerate() {
            let fullconn = p.settings.fullconn;
            config.backends[b].fullconn =
                fullconn.unwrap_or_else(|| default_fullconn(&config.frontends, b));
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
            stats_sockets: g.stats_sockets.clone(),
            stats_timeout: g.stats_timeout.unwrap_or(Duration::from_secs(10)),
            stats_maxconn: g.stats_maxconn.unwrap_or(10),
            stats_http: g.stats_http,
            frontends: Vec::new(),
            backends: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn backend(&mut self, p: &Proxy, flags: &Flags, warnings: &mut Vec<String>) -> Backend {
        let s = &p.settings;
        if s.servers.is_empty() {
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
            tcp_check: if s.tcp_check == Some(true) {
                s.tcp_check_steps.clone()
            } else {
                Vec::new()
            },
            tcp_keepalive: s.srvtcpka.unwrap_or(false),
            splice_auto: !flags.no_splice && s.splice_auto.unwrap_or(true),
            // Set by `finish` once every proxy is known.
            id: 0,
            fullconn: 0,
            nolinger: s.nolinger.unwrap_or(false),
            smart_connect: s.smart_connect.unwrap_or(false),
        };
        if let Some(msg) = maxqueue_refused(&backend) {
            self.err(p.line, role_name(p.role), msg);
        }
        if let (Some(line), false) = (s.tcp_check_line, s.tcp_check == Some(true)) {
            warnings.push(format!(
                "tcp-check rules from line {line} in {} {} are not used without `option tcp-check`",
                role_name(p.role),
                p.name
            ));
        }
        if let (Some(line), BE) = (s.log_line.filter(|l| *l > p.line), p.role) {
            warnings.push(format!(
                "log at line {line} in backend {}: connections are logged by their frontend's \
                 `log` lines, so this one is unused",
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
        if s.binds.is_empty() {
            let msg = format!("{kind} '{}' has no bind; add one: bind ADDR:PORT", p.name);
            self.err(p.line, kind, msg);
        }
        let backend = self.frontend_backend(p, &config.backends);
        let frontend = Frontend {
            name: p.name.clone(),
            description: s.description.clone(),
            binds: s.binds.iter().map(|(b, _)| b.clone()).collect(),
            backend,
            maxconn: frontend_maxconn(p, config),
            timeout_client: s.timeout(T_CLIENT),
            timeout_client_fin: s.timeout(T_CLIENT_FIN),
            tcp_keepalive: s.clitcpka.unwrap_or(false),
            splice_auto: !flags.no_splice && s.splice_auto.unwrap_or(true),
            tcplog: s.tcplog.unwrap_or(false),
            dontlognull: s.dontlognull.unwrap_or(false),
            log: self.log_targets(&s.log),
            id: 0, // set by `finish`
            backlog: s.backlog,
            nolinger: s.nolinger.unwrap_or(false),
            smart_accept: s.smart_accept.unwrap_or(false),
        };
        if frontend.tcplog && frontend.log.is_empty() {
            config.warnings.push(format!(
                "option tcplog in {kind} {} but no log target: nothing is logged (add `log global` \
                 or a `log` line)",
                p.name
            ));
        }
        let tunnel = config.backends.get(backend).and_then(|b| b.timeout_tunnel);
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

    /// Index of the frontend's backend: itself for a listen section, else its
    /// `default_backend`. 0 after an error, which is then returned instead.
    fn frontend_backend(&mut self, p: &Proxy, backends: &[Backend]) -> usize {
        let find = |name: &str| backends.iter().position(|b| b.name == name);
        if p.role == LISTEN {
            return find(&p.name).unwrap_or(0);
        }
        let Some((name, line)) = &p.settings.default_backend else {
            let msg = format!(
                "frontend '{}' has no default_backend; add one: default_backend NAME",
                p.name
            );
            self.err(p.line, "frontend", msg);
            return 0;
        };
        if let Some(i) = find(name) {
            return i;
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
        0
    }

    fn check_binds(&mut self, p: &Proxy, bound: &mut HashMap<SocketAddr, usize>) {
        for (b, line) in &p.settings.binds {
            if let Some(first) = bound.insert(b.addr, *line) {
                let msg = format!(
                    "{} is already bound at line {first}; bind each address once",
                    b.addr
                );
                self.err(*line, "bind", msg);
            }
        }
    }
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
