//! The validated, immutable configuration: flags merged over the conf file.
//!
//! Stage two of parsing: `conf` turns text into raw sections with line
//! numbers, this module checks every value and resolves names, so nothing past
//! it sees argh types or raw strings. Every error names file, line, keyword.

use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use crate::cli::Args;
use crate::conf::{self, Kind, Line, Section};

/// Everything l4lb needs to run, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Worker threads (`nbthread`, `--threads`); default: available CPUs.
    pub threads: usize,
    /// Pin each worker to its own core (`cpu-affinity on|off`, `--no-affinity`).
    pub cpu_affinity: bool,
    /// Global connection limit (`maxconn` in `global`).
    pub maxconn: usize,
    /// Global cap on splice pipes (`maxpipes`); split evenly between workers.
    pub maxpipes: usize,
    /// User-space copy buffer size (`tune.bufsize`).
    pub bufsize: usize,
    /// Pipe size set with F_SETPIPE_SZ (`tune.pipesize`); None = kernel default.
    pub pipesize: Option<usize>,
    pub frontends: Vec<Frontend>,
    pub backends: Vec<Backend>,
    /// Non-fatal remarks found while validating (printed at start and by `-c`).
    pub warnings: Vec<String>,
}

/// A `frontend` (or the accepting half of a `listen` section).
#[derive(Debug, Clone)]
pub struct Frontend {
    pub name: String,
    pub description: Option<String>,
    pub binds: Vec<Bind>,
    /// Index into `Config::backends`.
    pub backend: usize,
    /// Per-frontend connection limit; defaults to the global maxconn.
    pub maxconn: usize,
    /// `timeout client`: inactivity on the client side. None = no timeout.
    pub timeout_client: Option<Duration>,
    /// `timeout client-fin`: client-side inactivity once half-closed.
    pub timeout_client_fin: Option<Duration>,
    /// `option tcpka` / `option clitcpka`: SO_KEEPALIVE on client sockets.
    pub tcp_keepalive: bool,
    /// `option splice-auto` (default on; `no option splice-auto` turns it off).
    pub splice_auto: bool,
}

/// One `bind` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub addr: SocketAddr,
    /// `bind ... name N`.
    pub name: Option<String>,
}

/// A `backend` (or the server half of a `listen` section).
#[derive(Debug, Clone)]
pub struct Backend {
    pub name: String,
    pub description: Option<String>,
    pub balance: Balance,
    pub servers: Vec<ServerConf>,
    /// `retries`: connect attempts after the first one fails (default 3).
    pub retries: u32,
    /// `option redispatch`: a retry goes to another server. l4lb always
    /// avoids the server that just failed when another one is available; the
    /// flag is kept for compatibility and shown by `-c`.
    pub redispatch: bool,
    /// `timeout connect` (default 5s).
    pub timeout_connect: Duration,
    /// `timeout server`: inactivity on the server side. None = no timeout.
    pub timeout_server: Option<Duration>,
    /// `timeout server-fin`: server-side inactivity once half-closed.
    pub timeout_server_fin: Option<Duration>,
    /// `timeout tunnel`: once connected, replaces client and server timeouts.
    pub timeout_tunnel: Option<Duration>,
    /// `timeout queue`: how long a client waits for a server slot when every
    /// server is at its maxconn (default: timeout connect, as HAProxy).
    pub timeout_queue: Duration,
    /// `option tcpka` / `option srvtcpka`: SO_KEEPALIVE on server sockets.
    pub tcp_keepalive: bool,
    /// `option splice-auto` (default on).
    pub splice_auto: bool,
}

/// One `server` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConf {
    pub name: String,
    pub addr: SocketAddr,
    /// 0..=256; 0 takes no new connections. Default 1.
    pub weight: u32,
    /// 0 = unlimited.
    pub maxconn: u32,
    /// `disabled`: in maintenance from the start, never picked.
    pub disabled: bool,
}

/// The `balance` algorithm of a backend (HAProxy names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    RoundRobin,
    LeastConn,
    /// `balance source`, with `hash-type consistent` or `map-based` (default).
    Source {
        consistent: bool,
    },
    /// `balance random[(N)]`: power of N choices (default 2).
    Random {
        draws: u32,
    },
    First,
}

/// A configuration error: where it is and what is accepted instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    pub file: String,
    /// 0 when the error does not come from a line (flags, missing file).
    pub line: usize,
    pub keyword: String,
    pub msg: String,
}

impl std::fmt::Display for ConfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: '{}': {}",
            self.file, self.line, self.keyword, self.msg
        )
    }
}

/// Global `maxconn` when neither the file nor `--maxconn` sets it.
pub const DEFAULT_MAXCONN: usize = 4096;
/// `tune.bufsize` default, HAProxy's.
pub const DEFAULT_BUFSIZE: usize = 16384;
/// `retries` default, HAProxy's.
pub const DEFAULT_RETRIES: u32 = 3;
/// `timeout connect` default: HAProxy has none, but an unbounded connect to a
/// dead server would hold the client forever.
pub const DEFAULT_TIMEOUT_CONNECT: Duration = Duration::from_secs(5);
/// `balance random` without `(N)`: power of two choices, as HAProxy.
pub const DEFAULT_RANDOM_DRAWS: u32 = 2;

/// The file name in errors that come from flags rather than a file.
const FLAGS: &str = "<flags>";
/// Name of the frontend and backend built from `--bind` / `--server`.
const QUICK: &str = "quick";
/// Catches typos such as `nbthread 40000`; far above any core count.
const MAX_THREADS: usize = 4096;
/// HAProxy's limit: its timers are signed 32-bit milliseconds.
const MAX_TIMEOUT_MS: u64 = i32::MAX as u64;
const MIN_BUFSIZE: usize = 1024;
/// A pipe is at least one page; larger pipes are capped by the kernel's
/// `fs.pipe-max-size`, which only the running system can check.
const MIN_PIPESIZE: usize = 4096;
const MAX_SIZE: usize = 1 << 30;
const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];

impl Config {
    /// Reads `-f FILE` (or builds the quick-start proxy from `--bind` and
    /// `--server`), then applies the overriding flags. Returns every error
    /// found, not just the first.
    pub fn from_args(args: &Args) -> Result<Config, Vec<ConfError>> {
        let flags = Flags::from_args(args)?;
        match &args.file {
            Some(path) => {
                let file = std::fs::File::open(path)
                    .map_err(|e| vec![conf_error(path, 0, "-f", format!("cannot open: {e}"))])?;
                Config::from_reader(path, file, &flags)
            }
            None => Config::quick_start(args, &flags),
        }
    }

    /// Parses conf text; `file` only names it in errors.
    fn from_reader<R: Read>(file: &str, rdr: R, flags: &Flags) -> Result<Config, Vec<ConfError>> {
        let sections = conf::parse(rdr).map_err(|errs| {
            let keyword = |e: &conf::Error| {
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

    /// `l4lb --bind A --server B...`: one listen-like proxy named `quick`.
    fn quick_start(args: &Args, flags: &Flags) -> Result<Config, Vec<ConfError>> {
        let mut b = Builder::new(FLAGS);
        let need = "give -f FILE, or at least one --bind and one --server";
        match (args.bind.is_empty(), args.server.is_empty()) {
            (true, true) => b.err(0, "-f", format!("no configuration: {need}")),
            (true, false) => b.err(0, "--bind", format!("no --bind: {need}")),
            (false, true) => b.err(0, "--server", format!("no --server: {need}")),
            (false, false) => {}
        }
        let mut settings = Settings::default();
        for a in &args.bind {
            match bind_addr(a) {
                Ok(addr) if settings.binds.iter().any(|(b, _)| b.addr == addr) => b.err(
                    0,
                    "--bind",
                    format!("'{a}' is given twice; each address can be bound once"),
                ),
                Ok(addr) => settings.binds.push((Bind { addr, name: None }, 0)),
                Err(msg) => b.err(0, "--bind", msg),
            }
        }
        for (i, a) in args.server.iter().enumerate() {
            match server_addr(a) {
                Ok(addr) => settings
                    .servers
                    .push(ServerConf::new(format!("s{}", i + 1), addr)),
                Err(msg) => b.err(0, "--server", msg),
            }
        }
        if !b.errors.is_empty() {
            return Err(b.errors);
        }
        let proxy = Proxy {
            role: LISTEN,
            name: QUICK.to_string(),
            line: 0,
            settings,
            quiet: true,
        };
        b.proxies.push(proxy);
        b.finish(flags)
    }

    /// One line for global settings, then one per frontend and backend, for `-c`.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = vec![self.global_summary()];
        lines.extend(
            self.frontends
                .iter()
                .map(|f| frontend_summary(f, &self.backends)),
        );
        lines.extend(self.backends.iter().map(backend_summary));
        lines
    }

    fn global_summary(&self) -> String {
        let pipesize = self
            .pipesize
            .map_or("default".to_string(), |p| p.to_string());
        format!(
            "global: nbthread {}, cpu-affinity {}, maxconn {}, maxpipes {}, bufsize {}, pipesize {}",
            self.threads,
            on_off(self.cpu_affinity),
            self.maxconn,
            self.maxpipes,
            self.bufsize,
            pipesize
        )
    }
}

impl ServerConf {
    fn new(name: String, addr: SocketAddr) -> ServerConf {
        ServerConf {
            name,
            addr,
            weight: 1,
            maxconn: 0,
            disabled: false,
        }
    }
}

fn conf_error(file: &str, line: usize, keyword: &str, msg: String) -> ConfError {
    ConfError {
        file: file.to_string(),
        line,
        keyword: keyword.to_string(),
        msg,
    }
}

fn frontend_summary(f: &Frontend, backends: &[Backend]) -> String {
    let binds: Vec<String> = f.binds.iter().map(|b| b.addr.to_string()).collect();
    let backend = backends.get(f.backend).map_or("?", |b| b.name.as_str());
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
    ];
    for (name, d) in optional {
        if let Some(d) = d {
            s += &format!(", {name} {}", fmt_duration(d));
        }
    }
    if b.redispatch {
        s += ", redispatch";
    }
    if b.tcp_keepalive {
        s += ", srvtcpka";
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
fn fmt_duration(d: Duration) -> String {
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

// ---------------------------------------------------------------------------
// Flags

/// The flags that override the file, checked.
#[derive(Debug, Default)]
struct Flags {
    threads: Option<usize>,
    maxconn: Option<usize>,
    balance: Option<Balance>,
    no_affinity: bool,
    no_splice: bool,
}

impl Flags {
    fn from_args(args: &Args) -> Result<Flags, Vec<ConfError>> {
        let mut errors = Vec::new();
        let mut err = |kw: &str, msg: String| errors.push(conf_error(FLAGS, 0, kw, msg));
        if args.file.is_some() && !args.bind.is_empty() {
            err(
                "--bind",
                "use either -f or --bind/--server, not both".to_string(),
            );
        }
        if args.file.is_some() && !args.server.is_empty() {
            err(
                "--server",
                "use either -f or --bind/--server, not both".to_string(),
            );
        }
        if let Some(t) = args.threads.filter(|t| !(1..=MAX_THREADS).contains(t)) {
            err("--threads", format!("{t} is not in 1..={MAX_THREADS}"));
        }
        if args.maxconn == Some(0) {
            err("--maxconn", "must be at least 1".to_string());
        }
        if let Some(level) = args
            .log_level
            .as_deref()
            .filter(|l| !LOG_LEVELS.contains(l))
        {
            err(
                "--log-level",
                format!(
                    "unknown level '{level}'; accepted: {}",
                    LOG_LEVELS.join(", ")
                ),
            );
        }
        let balance = match args.balance.as_deref().map(parse_balance) {
            Some(Err(msg)) => {
                err("--balance", msg);
                None
            }
            Some(Ok(b)) => Some(b),
            None => None,
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let (no_affinity, no_splice) = (args.no_affinity, args.no_splice);
        Ok(Flags {
            threads: args.threads,
            maxconn: args.maxconn,
            balance,
            no_affinity,
            no_splice,
        })
    }
}

// ---------------------------------------------------------------------------
// Where a keyword is accepted: a bit per section role; `listen` is both
// frontend and backend, so it accepts either kind of keyword.

const DEF: u8 = 1;
const FE: u8 = 2;
const BE: u8 = 4;
const LISTEN: u8 = FE | BE;
const ALL: u8 = DEF | FE | BE;

fn role_name(role: u8) -> &'static str {
    match role {
        DEF => "defaults",
        FE => "frontend",
        BE => "backend",
        _ => "listen",
    }
}

fn accepted_in(mask: u8) -> String {
    let names = [
        (DEF, "defaults"),
        (FE, "frontend"),
        (BE, "backend"),
        (LISTEN, "listen"),
    ];
    let found: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    found.join(", ")
}

// ---------------------------------------------------------------------------
// Stage two: sections -> Config

/// A keyword's complaint about its line. `keyword` is None when it is the
/// line's first word; otherwise it names the part at fault (`option httplog`,
/// a server's `weight`).
#[derive(Debug)]
struct Bad {
    keyword: Option<String>,
    msg: String,
}

fn bad(msg: impl Into<String>) -> Bad {
    Bad {
        keyword: None,
        msg: msg.into(),
    }
}

fn bad_kw(keyword: &str, msg: impl Into<String>) -> Bad {
    Bad {
        keyword: Some(keyword.to_string()),
        msg: msg.into(),
    }
}

fn http_only(keyword: &str) -> Bad {
    bad_kw(
        keyword,
        format!("l4lb is a TCP (L4) balancer: '{keyword}' is HTTP-only"),
    )
}

fn not_yet(keyword: &str) -> Bad {
    let note = if is_health_check(keyword) {
        " (health checks are planned); remove it"
    } else {
        "; remove it"
    };
    bad_kw(
        keyword,
        format!("'{keyword}' is not implemented yet in l4lb{note}"),
    )
}

/// Values of `global` lines; None = not set, the default applies.
#[derive(Debug, Default)]
struct Global {
    threads: Option<usize>,
    cpu_affinity: Option<bool>,
    maxconn: Option<usize>,
    maxpipes: Option<usize>,
    bufsize: Option<usize>,
    pipesize: Option<usize>,
}

/// Values of a defaults or proxy section; None = inherit or default.
/// Proxies start from a clone of their defaults section's.
#[derive(Debug, Clone, Default)]
struct Settings {
    balance: Option<Balance>,
    /// `hash-type consistent`; applied to `balance source` when the backend
    /// is built, since either line may come from the defaults.
    consistent: Option<bool>,
    /// Indexed like [`TIMEOUTS`]; `Some(ZERO)` is an explicit "no timeout"
    /// that overrides one from the defaults, as in HAProxy.
    timeouts: [Option<Duration>; TIMEOUTS.len()],
    retries: Option<u32>,
    redispatch: Option<bool>,
    splice_auto: Option<bool>,
    clitcpka: Option<bool>,
    srvtcpka: Option<bool>,
    maxconn: Option<usize>,
    /// Backend name and the line that named it.
    default_backend: Option<(String, usize)>,
    description: Option<String>,
    /// Each bind with its line, to report a duplicate where it is.
    binds: Vec<(Bind, usize)>,
    servers: Vec<ServerConf>,
}

impl Settings {
    fn timeout(&self, which: usize) -> Option<Duration> {
        self.timeouts[which].filter(|d| !d.is_zero())
    }
}

/// A frontend, backend or listen section, read but not yet checked as a whole.
#[derive(Debug)]
struct Proxy {
    role: u8,
    name: String,
    line: usize,
    settings: Settings,
    /// The quick-start proxy: its missing timeouts are deliberate.
    quiet: bool,
}

/// Collects sections in file order, then checks them as a whole in `finish`.
struct Builder {
    file: String,
    errors: Vec<ConfError>,
    global: Global,
    /// The last `defaults` section: what a proxy without `from` inherits.
    defaults: Settings,
    named: HashMap<String, Settings>,
    proxies: Vec<Proxy>,
}

impl Builder {
    fn new(file: &str) -> Builder {
        Builder {
            file: file.to_string(),
            errors: Vec::new(),
            global: Global::default(),
            defaults: Settings::default(),
            named: HashMap::new(),
            proxies: Vec::new(),
        }
    }

    fn err(&mut self, line: usize, keyword: &str, msg: String) {
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
        self.check_duplicate(&name, role, s.line);
        self.proxies.push(Proxy {
            role,
            name,
            line: s.line,
            settings,
            quiet: false,
        });
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
    fn finish(mut self, flags: &Flags) -> Result<Config, Vec<ConfError>> {
        let mut config = self.global_config(flags);
        let proxies = std::mem::take(&mut self.proxies);
        for p in proxies.iter().filter(|p| p.role & BE != 0) {
            let backend = self.backend(p, flags, &mut config.warnings);
            config.backends.push(backend);
        }
        let mut bound = HashMap::new();
        for p in proxies.iter().filter(|p| p.role & FE != 0) {
            self.check_binds(p, &mut bound);
            let frontend = self.frontend(p, flags, &mut config);
            config.frontends.push(frontend);
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
        let backend = Backend {
            name: p.name.clone(),
            description: s.description.clone(),
            balance: resolve_balance(flags.balance.or(s.balance), s.consistent),
            servers: s.servers.clone(),
            retries: s.retries.unwrap_or(DEFAULT_RETRIES),
            redispatch: s.redispatch.unwrap_or(false),
            timeout_connect: connect,
            timeout_server: s.timeout(T_SERVER),
            timeout_server_fin: s.timeout(T_SERVER_FIN),
            timeout_tunnel: s.timeout(T_TUNNEL),
            timeout_queue: s.timeout(T_QUEUE).unwrap_or(connect),
            tcp_keepalive: s.srvtcpka.unwrap_or(false),
            splice_auto: !flags.no_splice && s.splice_auto.unwrap_or(true),
        };
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
        };
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

/// HAProxy's proxy-name characters.
fn check_name(name: &str) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_.:".contains(c);
    match name.chars().find(|&c| !ok(c)) {
        None if !name.is_empty() => Ok(()),
        _ => Err(format!(
            "invalid name '{name}': use letters, digits, '-', '_', '.' and ':'"
        )),
    }
}

// ---------------------------------------------------------------------------
// Keywords of defaults, frontend, backend and listen sections

/// What a keyword's parser sees.
struct Ctx<'a> {
    /// The words after the keyword.
    args: &'a [String],
    line: usize,
    role: u8,
    usage: &'static str,
}

impl<'a> Ctx<'a> {
    fn one(&self) -> Result<&'a str, Bad> {
        match self.args {
            [one] => Ok(one),
            _ => Err(bad(format!("expects: {}", self.usage))),
        }
    }
}

struct Keyword {
    name: &'static str,
    mask: u8,
    usage: &'static str,
    parse: fn(&mut Settings, &Ctx) -> Result<(), Bad>,
}

const KEYWORDS: &[Keyword] = &[
    Keyword {
        name: "mode",
        mask: ALL,
        usage: "mode tcp",
        parse: mode,
    },
    Keyword {
        name: "bind",
        mask: FE,
        usage: "bind ADDR:PORT[,ADDR:PORT...] [name NAME]",
        parse: bind,
    },
    Keyword {
        name: "default_backend",
        mask: DEF | FE,
        usage: "default_backend NAME",
        parse: default_backend,
    },
    Keyword {
        name: "balance",
        mask: DEF | BE,
        usage: "balance ALGORITHM",
        parse: balance,
    },
    Keyword {
        name: "hash-type",
        mask: DEF | BE,
        usage: "hash-type map-based|consistent",
        parse: hash_type,
    },
    Keyword {
        name: "server",
        mask: BE,
        usage: SERVER_USAGE,
        parse: server,
    },
    Keyword {
        name: "timeout",
        mask: ALL,
        usage: "timeout NAME TIME",
        parse: timeout,
    },
    Keyword {
        name: "retries",
        mask: DEF | BE,
        usage: "retries N",
        parse: retries,
    },
    Keyword {
        name: "option",
        mask: ALL,
        usage: "option NAME",
        parse: option,
    },
    Keyword {
        name: "no",
        mask: ALL,
        usage: "no option NAME",
        parse: no_option,
    },
    Keyword {
        name: "maxconn",
        mask: DEF | FE,
        usage: "maxconn N",
        parse: maxconn,
    },
    Keyword {
        name: "description",
        mask: FE | BE,
        usage: "description TEXT",
        parse: description,
    },
];

const SERVER_USAGE: &str = "server NAME ADDR:PORT [weight 0-256] [maxconn N] [disabled]";

/// HAProxy section kinds that only serve HTTP.
const HTTP_SECTIONS: &[&str] = &["cache", "http-errors", "fcgi-app"];

/// HAProxy proxy keywords that only make sense for HTTP.
const HTTP_ONLY: &[&str] = &[
    "http-request",
    "http-response",
    "http-after-response",
    "http-reuse",
    "http-check",
    "http-error",
    "http-send-name-header",
    "redirect",
    "reqadd",
    "reqallow",
    "reqdel",
    "reqdeny",
    "reqiallow",
    "reqidel",
    "reqideny",
    "reqipass",
    "reqirep",
    "reqisetbe",
    "reqitarpit",
    "reqpass",
    "reqrep",
    "reqsetbe",
    "reqtarpit",
    "rspadd",
    "rspdel",
    "rspdeny",
    "rspidel",
    "rspideny",
    "rspirep",
    "rsprep",
    "cookie",
    "capture",
    "declare",
    "compression",
    "errorfile",
    "errorfiles",
    "errorloc",
    "errorloc302",
    "errorloc303",
    "monitor-uri",
    "monitor",
    "unique-id-format",
    "unique-id-header",
    "max-keep-alive-queue",
    "use-fcgi-app",
];

/// HAProxy proxy keywords l4lb may support later; refused, never ignored.
const NOT_YET: &[&str] = &[
    "default-server",
    "server-template",
    "tcp-check",
    "log",
    "log-format",
    "log-format-sd",
    "error-log-format",
    "log-tag",
    "log-steps",
    "acl",
    "use_backend",
    "use-server",
    "tcp-request",
    "tcp-response",
    "source",
    "fullconn",
    "persist",
    "force-persist",
    "ignore-persist",
    "stick",
    "stick-table",
    "stick-on",
    "stick-match",
    "stick-store-request",
    "stick-store-response",
    "dispatch",
    "email-alert",
    "external-check",
    "server-state-file-name",
    "load-server-state-from-file",
    "id",
    "enabled",
    "disabled",
    "bind-process",
    "grace",
    "hash-balance-factor",
    "hash-key",
    "rate-limit",
    "backlog",
    "retry-on",
    "filter",
    "guid",
    "send-proxy",
    "ssl",
    "hard-stop-after",
];

/// Whether a refused keyword belongs to health checking, which is planned.
fn is_health_check(keyword: &str) -> bool {
    let w = keyword.rsplit(' ').next().unwrap_or(keyword);
    let words = [
        "inter",
        "fastinter",
        "downinter",
        "rise",
        "fall",
        "backup",
        "default-server",
    ];
    w.ends_with("check")
        || w.ends_with("chk")
        || w.starts_with("check-")
        || w.starts_with("agent-")
        || words.contains(&w)
}

/// Parses one line of a defaults, frontend, backend or listen section.
fn settings_line(s: &mut Settings, role: u8, l: &Line) -> Result<(), Bad> {
    let kw = l.words[0].as_str();
    if kw == "stats" {
        // In a proxy, `stats` configures the HTTP statistics page.
        let sub = l.words.get(1).map_or(String::new(), |w| format!(" {w}"));
        return Err(http_only(&format!("stats{sub}")));
    }
    if HTTP_ONLY.contains(&kw) {
        return Err(http_only(kw));
    }
    if NOT_YET.contains(&kw) {
        return Err(not_yet(kw));
    }
    let Some(k) = KEYWORDS.iter().find(|k| k.name == kw) else {
        return Err(unknown_proxy_keyword(kw, role));
    };
    if k.mask & role == 0 {
        return Err(misplaced(kw, k.mask, role));
    }
    let ctx = Ctx {
        args: &l.words[1..],
        line: l.line,
        role,
        usage: k.usage,
    };
    (k.parse)(s, &ctx)
}

fn unknown_proxy_keyword(kw: &str, role: u8) -> Bad {
    if GLOBAL_KEYWORDS.iter().any(|g| g.name == kw) {
        return bad(format!(
            "accepted only in the global section, not in {}",
            role_name(role)
        ));
    }
    let known: Vec<&str> = KEYWORDS
        .iter()
        .filter(|k| k.mask & role != 0)
        .map(|k| k.name)
        .collect();
    bad(format!(
        "unknown keyword; accepted in {}: {}",
        role_name(role),
        known.join(", ")
    ))
}

fn misplaced(kw: &str, mask: u8, role: u8) -> Bad {
    let msg = format!(
        "not accepted in a {} section; accepted in {}",
        role_name(role),
        accepted_in(mask)
    );
    bad_kw(kw, msg)
}

fn mode(_: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    match c.one()? {
        "tcp" => Ok(()),
        "http" => Err(bad(
            "l4lb is a TCP (L4) balancer: mode http is not supported; use mode tcp",
        )),
        other => Err(bad(format!("mode {other} is not supported; use mode tcp"))),
    }
}

fn bind(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [addrs, opts @ ..] = c.args else {
        return Err(bad(format!("expects: {}", c.usage)));
    };
    let name = bind_options(opts)?;
    for a in addrs.split(',') {
        let addr = bind_addr(a).map_err(bad)?;
        s.binds.push((
            Bind {
                addr,
                name: name.clone(),
            },
            c.line,
        ));
    }
    Ok(())
}

/// HAProxy bind options l4lb may support later.
const BIND_NOT_YET: &[&str] = &[
    "ssl",
    "crt",
    "crt-list",
    "alpn",
    "npn",
    "ca-file",
    "verify",
    "accept-proxy",
    "accept-netscaler-cip",
    "transparent",
    "interface",
    "defer-accept",
    "v4v6",
    "v6only",
    "backlog",
    "maxconn",
    "tfo",
    "process",
    "thread",
    "mss",
    "nice",
    "id",
    "level",
    "mode",
    "user",
    "group",
    "uid",
    "gid",
    "namespace",
    "tcp-ut",
    "strict-sni",
    "ciphers",
    "ciphersuites",
    "curves",
    "ecdhe",
    "ssl-min-ver",
    "ssl-max-ver",
    "expose-fd",
    "severity-output",
    "guid-prefix",
];

/// Returns the bind's `name`.
fn bind_options(opts: &[String]) -> Result<Option<String>, Bad> {
    let mut name = None;
    let mut it = opts.iter();
    while let Some(opt) = it.next() {
        match opt.as_str() {
            "name" => {
                let n = it
                    .next()
                    .ok_or_else(|| bad_kw("name", "expects a value: name NAME"))?;
                name = Some(n.clone());
            }
            o if BIND_NOT_YET.contains(&o) => return Err(not_yet(o)),
            o => return Err(bad_kw(o, "unknown bind option; accepted: name NAME")),
        }
    }
    Ok(name)
}

fn default_backend(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let name = c.one()?;
    check_name(name).map_err(bad)?;
    s.default_backend = Some((name.to_string(), c.line));
    Ok(())
}

fn balance(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [algo, rest @ ..] = c.args else {
        return Err(bad(format!(
            "expects: balance ALGORITHM; accepted: {BALANCE_ACCEPTED}"
        )));
    };
    let b = parse_balance(algo).map_err(bad)?;
    if !rest.is_empty() {
        return Err(bad(format!(
            "unexpected argument '{}' after balance {algo}",
            rest[0]
        )));
    }
    s.balance = Some(b);
    Ok(())
}

const BALANCE_ACCEPTED: &str = "roundrobin, leastconn, source, random, random(N), first";
/// HAProxy algorithms that read the request's content.
const BALANCE_L7: &[&str] = &["uri", "url_param", "hdr", "rdp-cookie"];
/// HAProxy algorithms valid in TCP mode that l4lb does not have yet.
const BALANCE_NOT_YET: &[&str] = &["static-rr", "hash"];

/// A `balance` algorithm, from the file or `--balance`. `source` comes back
/// map-based: `hash-type` is applied when the backend is built.
fn parse_balance(algo: &str) -> Result<Balance, String> {
    let base = algo.split('(').next().unwrap_or(algo);
    let b = match algo {
        "roundrobin" => Balance::RoundRobin,
        "leastconn" => Balance::LeastConn,
        "source" => Balance::Source { consistent: false },
        "first" => Balance::First,
        "random" => Balance::Random {
            draws: DEFAULT_RANDOM_DRAWS,
        },
        _ if base == "random" => Balance::Random {
            draws: random_draws(algo)?,
        },
        _ if BALANCE_L7.contains(&base) => {
            let msg = "is an HTTP/L7 algorithm, l4lb is a TCP (L4) balancer";
            return Err(format!("'{algo}' {msg}; accepted: {BALANCE_ACCEPTED}"));
        }
        _ if BALANCE_NOT_YET.contains(&base) => {
            return Err(format!(
                "'{algo}' is not implemented yet in l4lb; accepted: {BALANCE_ACCEPTED}"
            ));
        }
        _ => {
            return Err(format!(
                "unknown algorithm '{algo}'; accepted: {BALANCE_ACCEPTED}"
            ));
        }
    };
    Ok(b)
}

/// The N of `random(N)`.
fn random_draws(algo: &str) -> Result<u32, String> {
    let n = algo
        .strip_prefix("random(")
        .and_then(|r| r.strip_suffix(')'));
    match n.map(str::parse::<u32>) {
        Some(Ok(n)) if n >= 1 => Ok(n),
        _ => Err(format!(
            "'{algo}': expected random or random(N) with N >= 1"
        )),
    }
}

fn hash_type(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [method, rest @ ..] = c.args else {
        return Err(bad(format!("expects: {}", c.usage)));
    };
    s.consistent = Some(match method.as_str() {
        "map-based" => false,
        "consistent" => true,
        other => {
            return Err(bad(format!(
                "unknown hash method '{other}'; accepted: map-based, consistent"
            )));
        }
    });
    if let Some(func) = rest.first() {
        // Balance has no place for a function: l4lb hashes the client address
        // its own way, so accepting HAProxy's names would be a promise not kept.
        let msg = format!("hash function '{func}' is not supported; give only hash-type {method}");
        return Err(bad(msg));
    }
    Ok(())
}

fn server(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [name, addr, opts @ ..] = c.args else {
        return Err(bad(format!("expects: {}", c.usage)));
    };
    if s.servers.iter().any(|sv| &sv.name == name) {
        return Err(bad(format!(
            "duplicate server name '{name}' in this section; server names must be unique"
        )));
    }
    let addr = server_addr(addr).map_err(bad)?;
    let mut conf = ServerConf::new(name.clone(), addr);
    server_options(&mut conf, opts)?;
    s.servers.push(conf);
    Ok(())
}

/// HAProxy server options l4lb may support later (health checks first).
const SERVER_NOT_YET: &[&str] = &[
    "check",
    "inter",
    "fastinter",
    "downinter",
    "rise",
    "fall",
    "backup",
    "send-proxy",
    "send-proxy-v2",
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "ssl",
    "verify",
    "verifyhost",
    "sni",
    "ca-file",
    "crt",
    "crl-file",
    "ciphers",
    "ciphersuites",
    "alpn",
    "npn",
    "resolvers",
    "resolve-prefer",
    "resolve-net",
    "resolve-opts",
    "init-addr",
    "agent-check",
    "agent-port",
    "agent-inter",
    "agent-addr",
    "agent-send",
    "slowstart",
    "observe",
    "on-error",
    "on-marked-down",
    "on-marked-up",
    "error-limit",
    "port",
    "addr",
    "source",
    "track",
    "id",
    "namespace",
    "tfo",
    "minconn",
    "maxqueue",
    "check-ssl",
    "check-send-proxy",
    "check-alpn",
    "check-sni",
    "no-check",
    "enabled",
    "usesrc",
    "socks4",
    "tcp-ut",
    "guid",
];

/// HAProxy server options that only make sense for HTTP.
const SERVER_HTTP_ONLY: &[&str] = &[
    "cookie",
    "redir",
    "pool-max-conn",
    "pool-purge-delay",
    "pool-low-conn",
    "max-reuse",
    "proto",
];

fn server_options(conf: &mut ServerConf, opts: &[String]) -> Result<(), Bad> {
    let mut it = opts.iter();
    while let Some(opt) = it.next() {
        let mut value = |range| {
            let v = it
                .next()
                .ok_or_else(|| bad_kw(opt, format!("expects a value: {opt} N")))?;
            number(v, range).map_err(|m| bad_kw(opt, m))
        };
        match opt.as_str() {
            "weight" => conf.weight = value(0..=256)?,
            "maxconn" => conf.maxconn = value(0..=u32::MAX)?,
            "disabled" => conf.disabled = true,
            o if SERVER_HTTP_ONLY.contains(&o) => return Err(http_only(o)),
            o if SERVER_NOT_YET.contains(&o) => return Err(not_yet(o)),
            o => {
                let msg = "unknown server option; accepted: weight N, maxconn N, disabled";
                return Err(bad_kw(o, msg));
            }
        }
    }
    Ok(())
}

/// `timeout` names, where each is accepted, and their index in
/// [`Settings::timeouts`].
const TIMEOUTS: [(&str, u8); 7] = [
    ("connect", DEF | BE),
    ("client", DEF | FE),
    ("server", DEF | BE),
    ("tunnel", DEF | BE),
    ("client-fin", DEF | FE),
    ("server-fin", DEF | BE),
    ("queue", DEF | BE),
];
const T_CONNECT: usize = 0;
const T_CLIENT: usize = 1;
const T_SERVER: usize = 2;
const T_TUNNEL: usize = 3;
const T_CLIENT_FIN: usize = 4;
const T_SERVER_FIN: usize = 5;
const T_QUEUE: usize = 6;
const HTTP_TIMEOUTS: &[&str] = &["http-request", "http-keep-alive", "tarpit"];

fn timeout(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [which, rest @ ..] = c.args else {
        return Err(bad(format!(
            "expects: timeout NAME TIME; names: {}",
            timeout_names()
        )));
    };
    let kw = format!("timeout {which}");
    if HTTP_TIMEOUTS.contains(&which.as_str()) {
        return Err(http_only(&kw));
    }
    if which == "check" {
        return Err(not_yet(&kw));
    }
    let Some(i) = TIMEOUTS.iter().position(|(name, _)| name == which) else {
        return Err(bad_kw(
            &kw,
            format!("unknown timeout; accepted: {}", timeout_names()),
        ));
    };
    if TIMEOUTS[i].1 & c.role == 0 {
        return Err(misplaced(&kw, TIMEOUTS[i].1, c.role));
    }
    let [time] = rest else {
        return Err(bad_kw(
            &kw,
            format!("expects one time, e.g. {kw} 30s ({TIME_UNITS})"),
        ));
    };
    let d = parse_time(time).map_err(|m| bad_kw(&kw, m))?;
    if d.is_zero() && (i == T_CONNECT || i == T_QUEUE) {
        return Err(bad_kw(
            &kw,
            "must be above 0: l4lb never waits forever to connect",
        ));
    }
    s.timeouts[i] = Some(d);
    Ok(())
}

fn timeout_names() -> String {
    TIMEOUTS.map(|(name, _)| name).join(", ")
}

const TIME_UNITS: &str = "units us, ms, s, m, h, d; no unit = ms";

/// A HAProxy time: digits then an optional unit, milliseconds by default.
fn parse_time(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a time ({TIME_UNITS})"))?;
    let us_per_unit: u64 = match unit {
        "us" => 1,
        "" | "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return Err(format!("unknown time unit '{unit}' ({TIME_UNITS})")),
    };
    let us = n
        .checked_mul(us_per_unit)
        .filter(|us| *us <= MAX_TIMEOUT_MS * 1000);
    let us = us.ok_or_else(|| {
        format!("'{text}' is too long: at most {MAX_TIMEOUT_MS}ms (about 24.8 days)")
    })?;
    Ok(Duration::from_micros(us))
}

fn retries(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    s.retries = Some(number(c.one()?, 0..=u32::MAX).map_err(bad)?);
    Ok(())
}

fn maxconn(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    s.maxconn = Some(number(c.one()?, 1..=usize::MAX).map_err(bad)?);
    Ok(())
}

fn description(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    if c.args.is_empty() {
        return Err(bad(format!("expects: {}", c.usage)));
    }
    s.description = Some(c.args.join(" "));
    Ok(())
}

/// `option` names l4lb has, where each is accepted, and what each sets.
struct Opt {
    name: &'static str,
    mask: u8,
    set: fn(&mut Settings, bool),
}

const OPTIONS: &[Opt] = &[
    Opt {
        name: "redispatch",
        mask: DEF | BE,
        set: |s, on| s.redispatch = Some(on),
    },
    Opt {
        name: "splice-auto",
        mask: ALL,
        set: |s, on| s.splice_auto = Some(on),
    },
    Opt {
        name: "tcpka",
        mask: ALL,
        set: set_tcpka,
    },
    Opt {
        name: "clitcpka",
        mask: DEF | FE,
        set: |s, on| s.clitcpka = Some(on),
    },
    Opt {
        name: "srvtcpka",
        mask: DEF | BE,
        set: |s, on| s.srvtcpka = Some(on),
    },
];

/// `option tcpka` is both sides; in a frontend-only or backend-only section
/// the other side is simply never read.
fn set_tcpka(s: &mut Settings, on: bool) {
    s.clitcpka = Some(on);
    s.srvtcpka = Some(on);
}

/// HAProxy options that only make sense for HTTP.
const OPTION_HTTP_ONLY: &[&str] = &[
    "httplog",
    "httpslog",
    "forwardfor",
    "http-server-close",
    "httpclose",
    "forceclose",
    "http-keep-alive",
    "httpchk",
    "http-buffer-request",
    "http-pretend-keepalive",
    "http-use-proxy-header",
    "http-no-delay",
    "http-ignore-probes",
    "http-restrict-req-hdr-names",
    "http-drop-request-trailers",
    "http-drop-response-trailers",
    "originalto",
    "accept-invalid-http-request",
    "accept-invalid-http-response",
    "accept-unsafe-violations-in-http-request",
    "accept-unsafe-violations-in-http-response",
    "h1-case-adjust-bogus-client",
    "h1-case-adjust-bogus-server",
    "checkcache",
    "http_proxy",
    "http-use-htx",
    "disable-h2-upgrade",
];

/// HAProxy options l4lb may support later.
const OPTION_NOT_YET: &[&str] = &[
    "tcp-check",
    "tcplog",
    "dontlognull",
    "dontlog-normal",
    "logasap",
    "log-health-checks",
    "log-separate-errors",
    "log-steps",
    "ssl-hello-chk",
    "mysql-check",
    "pgsql-check",
    "redis-check",
    "smtpchk",
    "ldap-check",
    "spop-check",
    "external-check",
    "allbackups",
    "persist",
    "prefer-last-server",
    "socket-stats",
    "transparent",
    "independent-streams",
    "nolinger",
    "tcp-smart-accept",
    "tcp-smart-connect",
    "contstats",
    "splice-request",
    "splice-response",
    "abortonclose",
    "idle-close-on-response",
];

fn option(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    set_option(s, c, c.args, true)
}

fn no_option(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    match c.args {
        [opt, rest @ ..] if opt == "option" => set_option(s, c, rest, false),
        _ => Err(bad(format!("expects: {}", c.usage))),
    }
}

fn set_option(s: &mut Settings, c: &Ctx, args: &[String], on: bool) -> Result<(), Bad> {
    let prefix = if on { "option" } else { "no option" };
    let [name, rest @ ..] = args else {
        return Err(bad(format!(
            "expects: {prefix} NAME; names: {}",
            option_names()
        )));
    };
    let kw = format!("{prefix} {name}");
    if OPTION_HTTP_ONLY.contains(&name.as_str()) {
        return Err(http_only(&kw));
    }
    if OPTION_NOT_YET.contains(&name.as_str()) {
        return Err(not_yet(&kw));
    }
    let Some(opt) = OPTIONS.iter().find(|o| o.name == name) else {
        return Err(bad_kw(
            &kw,
            format!("unknown option; accepted: {}", option_names()),
        ));
    };
    if opt.mask & c.role == 0 {
        return Err(misplaced(&kw, opt.mask, c.role));
    }
    if let Some(extra) = rest.first() {
        return Err(bad_kw(
            &kw,
            format!("unexpected argument '{extra}': {prefix} {name} takes none"),
        ));
    }
    (opt.set)(s, on);
    Ok(())
}

fn option_names() -> String {
    OPTIONS
        .iter()
        .map(|o| o.name)
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------
// Keywords of the global section

struct GlobalKeyword {
    name: &'static str,
    usage: &'static str,
    parse: fn(&mut Global, &str) -> Result<(), String>,
}

const GLOBAL_KEYWORDS: &[GlobalKeyword] = &[
    GlobalKeyword {
        name: "nbthread",
        usage: "nbthread N",
        parse: |g, v| set(&mut g.threads, v, 1, MAX_THREADS),
    },
    GlobalKeyword {
        name: "maxconn",
        usage: "maxconn N",
        parse: |g, v| set(&mut g.maxconn, v, 1, usize::MAX),
    },
    GlobalKeyword {
        name: "maxpipes",
        usage: "maxpipes N",
        parse: |g, v| set(&mut g.maxpipes, v, 0, usize::MAX),
    },
    GlobalKeyword {
        name: "tune.bufsize",
        usage: "tune.bufsize BYTES",
        parse: |g, v| set(&mut g.bufsize, v, MIN_BUFSIZE, MAX_SIZE),
    },
    GlobalKeyword {
        name: "tune.pipesize",
        usage: "tune.pipesize BYTES",
        parse: |g, v| set(&mut g.pipesize, v, MIN_PIPESIZE, MAX_SIZE),
    },
    GlobalKeyword {
        name: "cpu-affinity",
        usage: "cpu-affinity on|off",
        parse: cpu_affinity,
    },
];

fn set(field: &mut Option<usize>, value: &str, min: usize, max: usize) -> Result<(), String> {
    *field = Some(number(value, min..=max)?);
    Ok(())
}

fn cpu_affinity(g: &mut Global, value: &str) -> Result<(), String> {
    g.cpu_affinity = Some(match value {
        "on" => true,
        "off" => false,
        other => return Err(format!("'{other}' is neither on nor off")),
    });
    Ok(())
}

/// HAProxy global keywords that only serve HTTP.
const GLOBAL_HTTP_ONLY: &[&str] = &[
    "maxcomprate",
    "maxcompcpuusage",
    "maxzlibmem",
    "h1-case-adjust",
    "h1-case-adjust-file",
];
const TUNE_HTTP_PREFIXES: &[&str] = &[
    "tune.http.",
    "tune.h1.",
    "tune.h2.",
    "tune.comp.",
    "tune.zlib.",
];

/// HAProxy global keywords l4lb may support later. Every other `tune.*` is
/// treated the same way, since HAProxy has many.
const GLOBAL_NOT_YET: &[&str] = &[
    "daemon",
    "master-worker",
    "user",
    "group",
    "uid",
    "gid",
    "chroot",
    "pidfile",
    "log",
    "log-send-hostname",
    "log-tag",
    "hard-stop-after",
    "stats",
    "nbproc",
    "ulimit-n",
    "node",
    "description",
    "localpeer",
    "setenv",
    "presetenv",
    "resetenv",
    "unsetenv",
    "spread-checks",
    "max-spread-checks",
    "maxconnrate",
    "maxsessrate",
    "maxsslconn",
    "maxsslrate",
    "noepoll",
    "nopoll",
    "nosplice",
    "nogetaddrinfo",
    "noreuseport",
    "cpu-map",
    "quiet",
    "zero-warning",
    "expose-experimental-directives",
    "insecure-fork-wanted",
    "busy-polling",
    "server-state-file",
    "server-state-base",
    "unix-bind",
    "lua-load",
    "lua-prepend-path",
    "ca-base",
    "crt-base",
    "thread-groups",
    "numa-cpu-mapping",
    "set-dumpable",
    "strict-limits",
    "grace",
    "close-spread-time",
    "default-path",
    "fd-hard-limit",
    "cluster-secret",
    "ssl-engine",
    "ssl-mode-async",
    "ssl-server-verify",
    "ssl-dh-param-file",
];

fn global_line(g: &mut Global, words: &[String]) -> Result<(), Bad> {
    let kw = words[0].as_str();
    if GLOBAL_HTTP_ONLY.contains(&kw) || TUNE_HTTP_PREFIXES.iter().any(|p| kw.starts_with(p)) {
        return Err(http_only(kw));
    }
    let Some(k) = GLOBAL_KEYWORDS.iter().find(|k| k.name == kw) else {
        return Err(unknown_global_keyword(kw));
    };
    match &words[1..] {
        [value] => (k.parse)(g, value).map_err(bad),
        _ => Err(bad(format!("expects: {}", k.usage))),
    }
}

fn unknown_global_keyword(kw: &str) -> Bad {
    if GLOBAL_NOT_YET.contains(&kw) || kw.starts_with("tune.") || kw.starts_with("ssl-") {
        return not_yet(kw);
    }
    if let Some(k) = KEYWORDS.iter().find(|k| k.name == kw) {
        return bad(format!(
            "not accepted in the global section; accepted in {}",
            accepted_in(k.mask)
        ));
    }
    let known: Vec<&str> = GLOBAL_KEYWORDS.iter().map(|k| k.name).collect();
    bad(format!(
        "unknown keyword; accepted in global: {}",
        known.join(", ")
    ))
}

// ---------------------------------------------------------------------------
// Values

/// A whole number in `range`, or a message saying which range.
fn number<T>(text: &str, range: RangeInclusive<T>) -> Result<T, String>
where
    T: FromStr + PartialOrd + std::fmt::Display + Bounded,
{
    match text.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ if *range.end() == T::MAX => Err(format!(
            "'{text}' is not a whole number >= {}",
            range.start()
        )),
        _ => Err(format!(
            "'{text}' is not a whole number in {}..={}",
            range.start(),
            range.end()
        )),
    }
}

/// Lets [`number`] leave an unbounded maximum out of its message.
trait Bounded {
    const MAX: Self;
}

impl Bounded for u32 {
    const MAX: u32 = u32::MAX;
}

impl Bounded for usize {
    const MAX: usize = usize::MAX;
}

/// Splits `HOST:PORT`, `[IPV6]:PORT` or `IPV6:PORT`: the last colon starts
/// the port, as in HAProxy. The port is required and never 0.
fn host_port(text: &str) -> Result<(&str, u16), String> {
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => rest
            .split_once("]:")
            .ok_or_else(|| format!("'{text}': expected [IPV6]:PORT"))?,
        None => text
            .rsplit_once(':')
            .ok_or_else(|| format!("'{text}' has no port: expected ADDR:PORT"))?,
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((host, p)),
        _ => Err(format!(
            "'{text}': port '{port}' is not a number in 1..=65535"
        )),
    }
}

/// A listening address: an IP literal, or `*` / empty for all IPv4, `::`
/// for all IPv6. Host names are refused: one name may map to several
/// addresses, and which one is bound should not depend on the resolver.
fn bind_addr(text: &str) -> Result<SocketAddr, String> {
    let (host, port) = host_port(text)?;
    let ip = match host {
        "" | "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        h => h.parse().map_err(|_| {
            format!("'{h}' is not an IP address; accepted: IPV4:PORT, [IPV6]:PORT, *:PORT (all IPv4), :::PORT (all IPv6)")
        })?,
    };
    Ok(SocketAddr::new(ip, port))
}

/// A server address: an IP literal, or a host name resolved now, once (its
/// first address is used).
fn server_addr(text: &str) -> Result<SocketAddr, String> {
    let (host, port) = host_port(text)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        if ip.is_unspecified() {
            return Err(format!(
                "'{text}': {ip} is not a server address; give the server's IP or host name"
            ));
        }
        return Ok(SocketAddr::new(ip, port));
    }
    if host.is_empty() || host == "*" {
        return Err(format!(
            "'{text}' has no host; expected IP:PORT or HOSTNAME:PORT"
        ));
    }
    let resolved = (host, port).to_socket_addrs().map(|mut addrs| addrs.next());
    match resolved {
        Ok(Some(addr)) => Ok(addr),
        Ok(None) => Err(format!(
            "'{host}' resolves to no address; give an IP address or a resolvable name"
        )),
        Err(e) => Err(format!(
            "'{host}' does not resolve ({e}); give an IP address or a resolvable name"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid file; error tests append to it, so its lines stay 1..=8.
    const BASE: &str = "\
frontend fe
    bind 127.0.0.1:8080
    default_backend be
    timeout client 30s
backend be
    server s1 127.0.0.1:9001
    server s2 127.0.0.1:9002
    timeout server 30s
";

    fn load_with(text: &str, args: &Args) -> Result<Config, Vec<ConfError>> {
        let flags = Flags::from_args(args)?;
        Config::from_reader("t.conf", text.as_bytes(), &flags)
    }

    fn load(text: &str) -> Config {
        load_with(text, &Args::default()).unwrap_or_else(|e| panic!("{e:#?}"))
    }

    fn errors(text: &str) -> Vec<ConfError> {
        load_with(text, &Args::default()).expect_err("expected an error")
    }

    /// Asserts `text` fails with exactly one error, at `line` on `keyword`,
    /// whose message contains `msg`.
    fn assert_error(text: &str, line: usize, keyword: &str, msg: &str) {
        let errs = errors(text);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        let e = &errs[0];
        assert_eq!(
            (e.file.as_str(), e.line, e.keyword.as_str()),
            ("t.conf", line, keyword),
            "{e}"
        );
        assert!(e.msg.contains(msg), "{e}\n  does not contain: {msg}");
    }

    /// BASE with `lines` added to its backend section (they start at line 9).
    fn in_backend(lines: &str) -> String {
        format!("{BASE}{lines}\n")
    }

    /// BASE with `lines` added to its frontend section (they start at line 2).
    fn in_frontend(lines: &str) -> String {
        BASE.replacen("frontend fe\n", &format!("frontend fe\n{lines}\n"), 1)
    }

    fn quick(binds: &[&str], servers: &[&str]) -> Args {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Args {
            bind: strings(binds),
            server: strings(servers),
            ..Args::default()
        }
    }

    #[test]
    fn base_config_has_the_documented_defaults() {
        let c = load(BASE);
        assert_eq!(
            c.threads,
            std::thread::available_parallelism().unwrap().get()
        );
        assert!(c.cpu_affinity);
        assert_eq!(
            (c.maxconn, c.maxpipes, c.bufsize, c.pipesize),
            (4096, 1024, 16384, None)
        );
        let f = &c.frontends[0];
        assert_eq!(
            f.binds,
            [Bind {
                addr: "127.0.0.1:8080".parse().unwrap(),
                name: None
            }]
        );
        assert_eq!(
            (f.backend, f.maxconn, f.tcp_keepalive, f.splice_auto),
            (0, 4096, false, true)
        );
        assert_eq!(
            (f.timeout_client, f.timeout_client_fin),
            (Some(Duration::from_secs(30)), None)
        );
        let b = &c.backends[0];
        assert_eq!(
            (b.balance, b.retries, b.redispatch),
            (Balance::RoundRobin, 3, false)
        );
        assert_eq!(
            (b.timeout_connect, b.timeout_queue),
            (Duration::from_secs(5), Duration::from_secs(5))
        );
        assert_eq!((b.timeout_tunnel, b.timeout_server_fin), (None, None));
        assert_eq!((b.tcp_keepalive, b.splice_auto), (false, true));
        assert_eq!(
            b.servers[1],
            ServerConf::new("s2".into(), "127.0.0.1:9002".parse().unwrap())
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn global_keywords() {
        let text = "global\n nbthread 3\n maxconn 100\n maxpipes 7\n tune.bufsize 32768\n \
                    tune.pipesize 65536\n cpu-affinity off\n";
        let c = load(&format!("{text}{BASE}"));
        assert_eq!((c.threads, c.maxconn, c.maxpipes), (3, 100, 7));
        assert_eq!(
            (c.bufsize, c.pipesize, c.cpu_affinity),
            (32768, Some(65536), false)
        );
        assert_eq!(c.frontends[0].maxconn, 100);
    }

    #[test]
    fn maxpipes_defaults_to_a_quarter_of_maxconn_after_flags() {
        let args = Args {
            maxconn: Some(1000),
            ..Args::default()
        };
        let c = load_with(&format!("global\n maxconn 50\n{BASE}"), &args).unwrap();
        assert_eq!((c.maxconn, c.maxpipes), (1000, 250));
    }

    #[test]
    fn global_errors_name_line_and_keyword() {
        let cases = [
            ("nbthread 0", "nbthread", "1..=4096"),
            ("nbthread two", "nbthread", "not a whole number"),
            ("maxconn", "maxconn", "expects: maxconn N"),
            ("tune.bufsize 16k", "tune.bufsize", "not a whole number"),
            ("tune.pipesize 100", "tune.pipesize", "4096"),
            ("cpu-affinity yes", "cpu-affinity", "neither on nor off"),
            ("daemon", "daemon", "not implemented yet"),
            ("tune.maxaccept 10", "tune.maxaccept", "not implemented yet"),
            ("tune.http.maxhdr 10", "tune.http.maxhdr", "HTTP-only"),
            ("bind :80", "bind", "accepted in frontend, listen"),
            (
                "frobnicate",
                "frobnicate",
                "unknown keyword; accepted in global: nbthread",
            ),
        ];
        for (line, kw, msg) in cases {
            assert_error(&format!("global\n  {line}\n{BASE}"), 2, kw, msg);
        }
    }

    #[test]
    fn time_units() {
        let ms = |t: &str| parse_time(t).map(|d| d.as_micros());
        assert_eq!(ms("250"), Ok(250_000));
        assert_eq!(ms("250ms"), Ok(250_000));
        assert_eq!(ms("7us"), Ok(7));
        assert_eq!(ms("3s"), Ok(3_000_000));
        assert_eq!(ms("2m"), Ok(120_000_000));
        assert_eq!(ms("1h"), Ok(3_600_000_000));
        assert_eq!(ms("1d"), Ok(86_400_000_000));
        assert!(ms("24d").is_ok());
        assert!(ms("25d").unwrap_err().contains("too long"));
        assert!(ms("5 s").is_err());
        assert!(ms("5x").unwrap_err().contains("unknown time unit 'x'"));
        assert!(ms("s").unwrap_err().contains("not a time"));
        assert!(ms("-1s").is_err());
    }

    #[test]
    fn durations_print_compactly() {
        let f = |us| fmt_duration(Duration::from_micros(us));
        assert_eq!(f(5_000_000), "5s");
        assert_eq!(f(300_000), "300ms");
        assert_eq!(f(3_600_000_000), "1h");
        assert_eq!(f(90_000_000), "90s");
        assert_eq!(f(120_000_000), "2m");
        assert_eq!(f(1500), "1500us");
        assert_eq!(f(86_400_000_000), "1d");
    }

    #[test]
    fn all_timeouts_parse() {
        let c = load(&in_backend(
            "timeout connect 2s\ntimeout tunnel 1h\ntimeout server-fin 1s\ntimeout queue 10s\n\
             timeout server 0",
        ));
        let b = &c.backends[0];
        assert_eq!(b.timeout_connect, Duration::from_secs(2));
        assert_eq!(b.timeout_tunnel, Some(Duration::from_secs(3600)));
        assert_eq!(b.timeout_server_fin, Some(Duration::from_secs(1)));
        assert_eq!(b.timeout_queue, Duration::from_secs(10));
        assert_eq!(b.timeout_server, None, "0 means no timeout, as in HAProxy");
        let c = load(&in_frontend("timeout client-fin 500"));
        assert_eq!(
            c.frontends[0].timeout_client_fin,
            Some(Duration::from_millis(500))
        );
    }

    #[test]
    fn timeout_queue_follows_timeout_connect() {
        let c = load(&in_backend("timeout connect 2s"));
        assert_eq!(c.backends[0].timeout_queue, Duration::from_secs(2));
    }

    #[test]
    fn timeout_errors() {
        assert_error(
            &in_backend("timeout http-request 5s"),
            9,
            "timeout http-request",
            "HTTP-only",
        );
        assert_error(
            &in_backend("timeout http-keep-alive 5s"),
            9,
            "timeout http-keep-alive",
            "HTTP-only",
        );
        assert_error(
            &in_backend("timeout check 5s"),
            9,
            "timeout check",
            "not implemented yet",
        );
        assert_error(
            &in_backend("timeout foo 5s"),
            9,
            "timeout foo",
            "accepted: connect, client, server",
        );
        assert_error(
            &in_backend("timeout client 5s"),
            9,
            "timeout client",
            "accepted in defaults, frontend",
        );
        assert_error(
            &in_frontend("timeout server 5s"),
            2,
            "timeout server",
            "not accepted in a frontend",
        );
        assert_error(
            &in_backend("timeout connect 5q"),
            9,
            "timeout connect",
            "unknown time unit",
        );
        assert_error(
            &in_backend("timeout connect 0"),
            9,
            "timeout connect",
            "above 0",
        );
        assert_error(
            &in_backend("timeout connect"),
            9,
            "timeout connect",
            "expects one time",
        );
        assert_error(&in_backend("timeout"), 9, "timeout", "names: connect");
    }

    #[test]
    fn binds_accept_ipv4_ipv6_and_wildcards() {
        let text = in_frontend(
            "bind *:81\nbind :::82\nbind [::1]:83\nbind ::1:84\nbind 0.0.0.0:85 name any\n\
             bind :86,[fe80::1]:87",
        );
        let binds: Vec<String> = load(&text).frontends[0]
            .binds
            .iter()
            .map(|b| b.addr.to_string())
            .collect();
        let want = [
            "0.0.0.0:81",
            "[::]:82",
            "[::1]:83",
            "[::1]:84",
            "0.0.0.0:85",
            "0.0.0.0:86",
            "[fe80::1]:87",
            "127.0.0.1:8080",
        ];
        assert_eq!(binds, want);
        assert_eq!(
            load(&text).frontends[0].binds[4].name.as_deref(),
            Some("any")
        );
    }

    #[test]
    fn bind_errors() {
        assert_error(&in_frontend("bind 127.0.0.1"), 2, "bind", "has no port");
        assert_error(&in_frontend("bind 127.0.0.1:0"), 2, "bind", "1..=65535");
        assert_error(&in_frontend("bind :70000"), 2, "bind", "1..=65535");
        assert_error(
            &in_frontend("bind localhost:80"),
            2,
            "bind",
            "not an IP address",
        );
        assert_error(&in_frontend("bind"), 2, "bind", "expects: bind ADDR:PORT");
        assert_error(
            &in_frontend("bind :80 ssl crt x.pem"),
            2,
            "ssl",
            "not implemented yet",
        );
        assert_error(&in_frontend("bind :80 name"), 2, "name", "expects a value");
        assert_error(
            &in_frontend("bind :80 wat"),
            2,
            "wat",
            "accepted: name NAME",
        );
        assert_error(
            &in_backend("bind :80"),
            9,
            "bind",
            "not accepted in a backend section; accepted in frontend, listen",
        );
    }

    #[test]
    fn same_bind_address_twice_is_an_error() {
        assert_error(
            &in_frontend("bind 127.0.0.1:8080"),
            3,
            "bind",
            "already bound at line 2",
        );
        let text = format!(
            "{BASE}frontend fe2\n bind 127.0.0.1:8080\n default_backend be\n timeout client 1s\n"
        );
        assert_error(&text, 10, "bind", "already bound at line 2");
    }

    #[test]
    fn server_lines() {
        let c = load(&in_backend(
            "server s3 localhost:9003 weight 0 maxconn 10\nserver s4 [::1]:9004 disabled",
        ));
        let s = &c.backends[0].servers;
        assert_eq!(s[2].addr.port(), 9003);
        assert!(s[2].addr.ip().is_loopback());
        assert_eq!((s[2].weight, s[2].maxconn, s[2].disabled), (0, 10, false));
        assert_eq!(
            (s[3].addr, s[3].disabled),
            ("[::1]:9004".parse().unwrap(), true)
        );
    }

    #[test]
    fn server_errors() {
        assert_error(
            &in_backend("server s1 127.0.0.1:1"),
            9,
            "server",
            "duplicate server name 's1'",
        );
        assert_error(
            &in_backend("server s3"),
            9,
            "server",
            "expects: server NAME ADDR:PORT",
        );
        assert_error(
            &in_backend("server s3 127.0.0.1"),
            9,
            "server",
            "has no port",
        );
        assert_error(
            &in_backend("server s3 0.0.0.0:80"),
            9,
            "server",
            "not a server address",
        );
        assert_error(
            &in_backend("server s3 no-such-host.invalid:80"),
            9,
            "server",
            "does not resolve",
        );
        assert_error(
            &in_backend("server s3 127.0.0.1:80 weight 257"),
            9,
            "weight",
            "0..=256",
        );
        assert_error(
            &in_backend("server s3 127.0.0.1:80 weight"),
            9,
            "weight",
            "expects a value",
        );
        assert_error(
            &in_backend("server s3 127.0.0.1:80 maxconn -1"),
            9,
            "maxconn",
            "whole number",
        );
        assert_error(
            &in_backend("server s3 127.0.0.1:80 check"),
            9,
            "check",
            "not implemented yet in l4lb",
        );
        assert_error(
            &in_backend("server s3 127.0.0.1:80 check inter 2s"),
            9,
            "check",
            "health checks are planned",
        );
        assert_error(
            &in_backend("server s3 127.0.0.1:80 backup"),
            9,
            "backup",
            "not implemented yet",
        );
        assert_error(
            &in_backend("server s3 127.0.0.1:80 cookie a"),
            9,
            "cookie",
            "HTTP-only",
        );
        assert_error(
            &in_backend("server s3 127.0.0.1:80 foo"),
            9,
            "foo",
            "accepted: weight N, maxconn N, disabled",
        );
        assert_error(
            &in_frontend("server s3 127.0.0.1:80"),
            2,
            "server",
            "accepted in backend, listen",
        );
    }

    #[test]
    fn balance_algorithms() {
        let balance =
            |algo: &str| load(&in_backend(&format!("balance {algo}"))).backends[0].balance;
        assert_eq!(balance("roundrobin"), Balance::RoundRobin);
        assert_eq!(balance("leastconn"), Balance::LeastConn);
        assert_eq!(balance("first"), Balance::First);
        assert_eq!(balance("source"), Balance::Source { consistent: false });
        assert_eq!(
            balance("source\nhash-type consistent"),
            Balance::Source { consistent: true }
        );
        assert_eq!(
            balance("source\nhash-type map-based"),
            Balance::Source { consistent: false }
        );
        assert_eq!(balance("random"), Balance::Random { draws: 2 });
        assert_eq!(balance("random(3)"), Balance::Random { draws: 3 });
    }

    #[test]
    fn balance_errors() {
        assert_error(
            &in_backend("balance uri"),
            9,
            "balance",
            "HTTP/L7 algorithm, l4lb is a TCP (L4) balancer",
        );
        assert_error(&in_backend("balance url_param id"), 9, "balance", "HTTP/L7");
        assert_error(&in_backend("balance hdr(host)"), 9, "balance", "HTTP/L7");
        assert_error(&in_backend("balance rdp-cookie"), 9, "balance", "HTTP/L7");
        assert_error(
            &in_backend("balance static-rr"),
            9,
            "balance",
            "not implemented yet",
        );
        assert_error(
            &in_backend("balance fastest"),
            9,
            "balance",
            "accepted: roundrobin, leastconn, source",
        );
        assert_error(&in_backend("balance random(0)"), 9, "balance", "N >= 1");
        assert_error(&in_backend("balance random(x"), 9, "balance", "random(N)");
        assert_error(
            &in_backend("balance first now"),
            9,
            "balance",
            "unexpected argument 'now'",
        );
        assert_error(&in_backend("balance"), 9, "balance", "accepted: roundrobin");
        assert_error(
            &in_frontend("balance first"),
            2,
            "balance",
            "accepted in defaults, backend, listen",
        );
        assert_error(
            &in_backend("hash-type consistent sdbm"),
            9,
            "hash-type",
            "hash function 'sdbm'",
        );
        assert_error(
            &in_backend("hash-type ring"),
            9,
            "hash-type",
            "accepted: map-based, consistent",
        );
    }

    #[test]
    fn options_and_their_no_forms() {
        let c = load(&in_backend(
            "option redispatch\noption srvtcpka\nno option splice-auto\nretries 0",
        ));
        let b = &c.backends[0];
        assert_eq!(
            (b.redispatch, b.tcp_keepalive, b.splice_auto, b.retries),
            (true, true, false, 0)
        );
        let c = load(&format!(
            "defaults\n option tcpka\n option redispatch\n{}",
            in_backend("no option redispatch")
        ));
        assert!(c.frontends[0].tcp_keepalive && c.backends[0].tcp_keepalive);
        assert!(!c.backends[0].redispatch);
        let c = load(&format!(
            "defaults\n option tcpka\n{}",
            in_frontend("no option clitcpka")
        ));
        assert!(!c.frontends[0].tcp_keepalive && c.backends[0].tcp_keepalive);
        assert!(load(&in_frontend("option clitcpka")).frontends[0].tcp_keepalive);
    }

    #[test]
    fn option_errors() {
        assert_error(
            &in_backend("option httplog"),
            9,
            "option httplog",
            "'option httplog' is HTTP-only",
        );
        assert_error(
            &in_backend("option httpchk GET /"),
            9,
            "option httpchk",
            "HTTP-only",
        );
        assert_error(
            &in_backend("option forwardfor"),
            9,
            "option forwardfor",
            "HTTP-only",
        );
        assert_error(
            &in_backend("option http-server-close"),
            9,
            "option http-server-close",
            "HTTP-only",
        );
        assert_error(
            &in_backend("option httpclose"),
            9,
            "option httpclose",
            "HTTP-only",
        );
        assert_error(
            &in_backend("option http-keep-alive"),
            9,
            "option http-keep-alive",
            "HTTP-only",
        );
        assert_error(
            &in_backend("option tcp-check"),
            9,
            "option tcp-check",
            "health checks are planned",
        );
        assert_error(
            &in_backend("option tcplog"),
            9,
            "option tcplog",
            "not implemented yet",
        );
        assert_error(
            &in_backend("option foo"),
            9,
            "option foo",
            "accepted: redispatch, splice-auto",
        );
        assert_error(
            &in_backend("option redispatch 1"),
            9,
            "option redispatch",
            "unexpected argument",
        );
        assert_error(
            &in_backend("no redispatch"),
            9,
            "no",
            "expects: no option NAME",
        );
        assert_error(
            &in_frontend("no option redispatch"),
            2,
            "no option redispatch",
            "accepted in defaults, backend",
        );
        assert_error(
            &in_frontend("option srvtcpka"),
            2,
            "option srvtcpka",
            "not accepted in a frontend",
        );
    }

    #[test]
    fn http_only_keywords_are_refused() {
        let kws = [
            "http-request deny",
            "http-response del-header x",
            "http-reuse safe",
            "redirect prefix /",
            "reqadd X",
            "rspadd X",
            "cookie SRV insert",
            "capture request header Host len 10",
            "compression algo gzip",
            "errorfile 503 /x",
        ];
        for line in kws {
            let kw = line.split(' ').next().unwrap();
            assert_error(
                &in_backend(line),
                9,
                kw,
                &format!("l4lb is a TCP (L4) balancer: '{kw}' is HTTP-only"),
            );
        }
        assert_error(
            &in_backend("stats uri /stats"),
            9,
            "stats uri",
            "'stats uri' is HTTP-only",
        );
    }

    #[test]
    fn not_implemented_keywords_are_refused() {
        let kws = [
            "default-server check",
            "tcp-check connect",
            "log global",
            "acl a src 1.2.3.4",
            "use_backend be if a",
            "tcp-request content accept",
            "source 10.0.0.1",
        ];
        for line in kws {
            let kw = line.split(' ').next().unwrap();
            assert_error(
                &in_backend(line),
                9,
                kw,
                &format!("'{kw}' is not implemented yet in l4lb"),
            );
        }
        for kw in [
            "daemon",
            "user haproxy",
            "group haproxy",
            "chroot /x",
            "pidfile /x",
            "stats socket /x",
            "hard-stop-after 1s",
        ] {
            let first = kw.split(' ').next().unwrap();
            assert_error(
                &format!("global\n {kw}\n{BASE}"),
                2,
                first,
                "not implemented yet in l4lb",
            );
        }
    }

    #[test]
    fn unknown_keyword() {
        assert_error(
            &in_backend("frobnicate 1"),
            9,
            "frobnicate",
            "unknown keyword; accepted in backend: mode",
        );
        assert_error(
            &in_backend("nbthread 2"),
            9,
            "nbthread",
            "accepted only in the global section",
        );
    }

    #[test]
    fn mode() {
        assert_eq!(
            load(&format!("defaults\n mode tcp\n{}", in_backend("mode tcp")))
                .backends
                .len(),
            1
        );
        let msg = "l4lb is a TCP (L4) balancer: mode http is not supported; use mode tcp";
        assert_error(&in_frontend("mode http"), 2, "mode", msg);
        assert_error(&in_frontend("mode health"), 2, "mode", "use mode tcp");
    }

    #[test]
    fn description_takes_the_rest_of_the_line() {
        let c = load(&in_frontend(
            "description \"Redis  cache\" for  apps # not this",
        ));
        assert_eq!(
            c.frontends[0].description.as_deref(),
            Some("Redis  cache for apps")
        );
        assert_error(
            &in_frontend("description"),
            2,
            "description",
            "expects: description TEXT",
        );
        assert_error(
            &format!("defaults\n description x\n{BASE}"),
            2,
            "description",
            "accepted in frontend, backend",
        );
    }

    #[test]
    fn frontend_maxconn_is_clamped_to_global_with_a_warning() {
        let c = load(&format!(
            "global\n maxconn 100\n{}",
            in_frontend("maxconn 500")
        ));
        assert_eq!(c.frontends[0].maxconn, 100);
        assert_eq!(
            c.warnings,
            ["maxconn 500 in frontend fe is above the global maxconn 100: clamped to 100"]
        );
        assert_eq!(load(&in_frontend("maxconn 50")).frontends[0].maxconn, 50);
        assert_error(
            &in_backend("maxconn 5"),
            9,
            "maxconn",
            "accepted in defaults, frontend, listen",
        );
        assert_error(&in_frontend("maxconn 0"), 2, "maxconn", "whole number >= 1");
    }

    #[test]
    fn frontend_needs_bind_and_default_backend() {
        let text = "frontend fe\n timeout client 1s\nbackend be\n server s 127.0.0.1:1\n timeout server 1s\n";
        let errs = errors(text);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert_eq!((errs[0].line, errs[0].keyword.as_str()), (1, "frontend"));
        assert!(errs[0].msg.contains("no bind"));
        assert_eq!((errs[1].line, errs[1].keyword.as_str()), (1, "frontend"));
        assert!(errs[1].msg.contains("no default_backend"));
    }

    #[test]
    fn default_backend_must_exist() {
        let text = BASE.replace("default_backend be", "default_backend nope");
        assert_error(
            &text,
            3,
            "default_backend",
            "no backend named 'nope'; backends: be",
        );
    }

    #[test]
    fn backend_needs_a_server_and_unused_backends_are_fine() {
        assert_error(
            &format!("{BASE}backend empty\n timeout server 1s\n"),
            9,
            "backend",
            "has no server",
        );
        let c = load(&format!(
            "{BASE}backend spare\n server x 127.0.0.1:1\n timeout server 1s\n"
        ));
        assert_eq!(c.backends.len(), 2);
    }

    #[test]
    fn a_file_without_proxies_is_an_error() {
        assert_error(
            "global\n maxconn 10\n",
            0,
            "frontend",
            "no frontend or listen section",
        );
    }

    #[test]
    fn duplicate_names() {
        assert_error(
            &format!("{BASE}backend be\n server x 127.0.0.1:1\n"),
            9,
            "backend",
            "duplicate backend name 'be' (first at line 5)",
        );
        let fe = "frontend fe\n bind :1\n default_backend be\n timeout client 1s\n";
        assert_error(
            &format!("{BASE}{fe}"),
            9,
            "frontend",
            "duplicate frontend name 'fe'",
        );
        let listen = "listen be\n bind :1\n server x 127.0.0.1:1\n timeout client 1s\n";
        assert_error(
            &format!("{BASE}{listen}"),
            9,
            "listen",
            "duplicate backend name 'be'",
        );
        // A frontend and a backend may share a name, as in HAProxy.
        let text = BASE
            .replace("backend be", "backend fe")
            .replace("default_backend be", "default_backend fe");
        assert_eq!(load(&text).backends[0].name, "fe");
        let defs = "defaults d\ndefaults d\n";
        assert_error(
            &format!("{defs}{BASE}"),
            2,
            "defaults",
            "named 'd' already exists",
        );
    }

    #[test]
    fn section_headers() {
        assert_error("frontend\n bind :1\n", 1, "frontend", "needs a name");
        assert_error(
            &format!("{BASE}backend a b\n"),
            9,
            "backend",
            "expects: backend NAME [from DEFAULTS]",
        );
        assert_error(
            &format!("{BASE}backend a/b\n server x 127.0.0.1:1\n"),
            9,
            "backend",
            "invalid name 'a/b'",
        );
        assert_error(
            &format!("global x\n{BASE}"),
            1,
            "global",
            "takes no argument",
        );
        assert_error(
            &format!("userlist u\n user a\n{BASE}"),
            1,
            "userlist",
            "section 'userlist' is not implemented yet",
        );
        assert_error(
            &format!("cache c\n total-max-size 4\n{BASE}"),
            1,
            "cache",
            "HTTP-only",
        );
    }

    #[test]
    fn proxies_inherit_the_last_defaults_section() {
        let text = "defaults\n timeout connect 1s\n balance leastconn\n retries 7\n\
                    backend a\n server x 127.0.0.1:1\n\
                    defaults\n timeout client 2s\n\
                    backend b\n server x 127.0.0.1:1\n";
        assert_error(text, 0, "frontend", "no frontend or listen section");
        let text = format!("{text}listen l\n bind :1\n server x 127.0.0.1:1\n");
        let c = load(&text);
        let (a, b) = (&c.backends[0], &c.backends[1]);
        assert_eq!(
            (a.timeout_connect, a.balance, a.retries),
            (Duration::from_secs(1), Balance::LeastConn, 7)
        );
        // A new defaults section starts from scratch, as in HAProxy.
        assert_eq!(
            (b.timeout_connect, b.balance, b.retries),
            (Duration::from_secs(5), Balance::RoundRobin, 3)
        );
        assert_eq!(c.frontends[0].timeout_client, Some(Duration::from_secs(2)));
    }

    #[test]
    fn named_defaults_and_from() {
        let text = "defaults slow\n timeout connect 9s\n timeout client 1m\n\
                    defaults fast from slow\n timeout connect 1s\n\
                    defaults\n\
                    backend a from slow\n server x 127.0.0.1:1\n\
                    backend b from fast\n server x 127.0.0.1:1\n\
                    backend c\n server x 127.0.0.1:1\n\
                    frontend fe from fast\n bind :1\n default_backend a\n";
        let c = load(text);
        let connect: Vec<u64> = c
            .backends
            .iter()
            .map(|b| b.timeout_connect.as_secs())
            .collect();
        assert_eq!(connect, [9, 1, 5]);
        assert_eq!(c.frontends[0].timeout_client, Some(Duration::from_secs(60)));
        assert_error(
            &format!("{BASE}backend d from nope\n server x 127.0.0.1:1\n"),
            9,
            "backend",
            "no defaults section named 'nope' before this line; named defaults: none",
        );
    }

    #[test]
    fn defaults_may_hold_default_backend() {
        let text = "defaults\n default_backend be\n timeout client 1s\n timeout server 1s\n\
                    frontend fe\n bind :1\nbackend be\n server x 127.0.0.1:1\n";
        assert_eq!(load(text).frontends[0].backend, 0);
        assert_error(
            &format!("defaults\n bind :1\n{BASE}"),
            2,
            "bind",
            "not accepted in a defaults section",
        );
    }

    #[test]
    fn listen_is_a_frontend_and_a_backend_of_the_same_name() {
        let text = format!(
            "{BASE}listen redis\n bind [::1]:6379\n balance first\n server r1 127.0.0.1:7000\n\
                            timeout client 5s\n timeout server 5s\n"
        );
        let c = load(&text);
        assert_eq!(c.frontends[1].name, "redis");
        assert_eq!(c.backends[c.frontends[1].backend].name, "redis");
        assert_eq!(c.backends[1].balance, Balance::First);
        let bad = "listen l\n bind :1\n server x 127.0.0.1:1\n default_backend be\n";
        assert_error(
            &format!("{BASE}{bad}"),
            12,
            "default_backend",
            "sends to its own servers",
        );
        assert_error("listen l\n bind :1\n", 1, "listen", "has no server");
    }

    #[test]
    fn missing_timeouts_are_warnings() {
        let text = BASE
            .replace("    timeout client 30s\n", "")
            .replace("    timeout server 30s\n", "");
        let c = load(&text);
        assert_eq!(
            c.warnings,
            [
                "no timeout server in backend be: idle connections are kept forever",
                "no timeout client in frontend fe: idle connections are kept forever",
            ]
        );
        let c = load(&format!("{text}    timeout tunnel 1h\n"));
        assert!(
            c.warnings.is_empty(),
            "timeout tunnel covers both sides: {:?}",
            c.warnings
        );
    }

    #[test]
    fn errors_are_all_reported_at_once() {
        let text = in_backend("balance uri\noption httplog\nserver s9 127.0.0.1");
        let lines: Vec<usize> = errors(&text).iter().map(|e| e.line).collect();
        assert_eq!(lines, [9, 10, 11]);
    }

    #[test]
    fn stage_one_errors_carry_the_file_name() {
        let errs = errors("global\n description \"open\n");
        assert_eq!((errs[0].file.as_str(), errs[0].line), ("t.conf", 2));
        assert_eq!(
            errs[0].to_string(),
            "t.conf:2: 'description': unterminated quote (\"): close it on the same line"
        );
    }

    #[test]
    fn flags_override_the_file() {
        let file = format!(
            "global\n nbthread 2\n maxconn 100\n cpu-affinity on\n{}",
            in_backend("balance leastconn\nhash-type consistent\noption splice-auto")
        );
        let args = Args {
            threads: Some(5),
            maxconn: Some(200),
            balance: Some("source".into()),
            no_affinity: true,
            no_splice: true,
            ..Args::default()
        };
        let c = load_with(&file, &args).unwrap();
        assert_eq!(
            (c.threads, c.maxconn, c.maxpipes, c.cpu_affinity),
            (5, 200, 50, false)
        );
        assert_eq!(c.backends[0].balance, Balance::Source { consistent: true });
        assert!(!c.backends[0].splice_auto && !c.frontends[0].splice_auto);
        assert_eq!(c.frontends[0].maxconn, 200);
    }

    #[test]
    fn bad_flags_are_errors_on_flags() {
        let args = Args {
            threads: Some(0),
            maxconn: Some(0),
            balance: Some("uri".into()),
            log_level: Some("loud".into()),
            ..Args::default()
        };
        let errs = Flags::from_args(&args).unwrap_err();
        let kws: Vec<&str> = errs.iter().map(|e| e.keyword.as_str()).collect();
        assert_eq!(kws, ["--threads", "--maxconn", "--log-level", "--balance"]);
        assert!(errs.iter().all(|e| e.file == "<flags>" && e.line == 0));
        assert!(errs[3].msg.contains("HTTP/L7"));
        let args = Args {
            log_level: Some("debug".into()),
            ..Args::default()
        };
        assert!(Flags::from_args(&args).is_ok());
    }

    #[test]
    fn file_and_bind_flags_exclude_each_other() {
        let args = Args {
            file: Some("x.conf".into()),
            bind: vec![":1".into()],
            ..Args::default()
        };
        let errs = Config::from_args(&args).unwrap_err();
        assert_eq!(
            (errs[0].keyword.as_str(), errs[0].file.as_str()),
            ("--bind", "<flags>")
        );
        assert!(errs[0].msg.contains("use either -f or --bind/--server"));
    }

    #[test]
    fn unreadable_file_is_an_error_on_line_0() {
        let args = Args {
            file: Some("/nonexistent/l4lb.conf".into()),
            ..Args::default()
        };
        let errs = Config::from_args(&args).unwrap_err();
        assert_eq!(
            (
                errs[0].file.as_str(),
                errs[0].line,
                errs[0].keyword.as_str()
            ),
            ("/nonexistent/l4lb.conf", 0, "-f")
        );
    }

    #[test]
    fn quick_start_builds_one_frontend_and_backend() {
        let mut args = quick(&["127.0.0.1:8080"], &["127.0.0.1:9001", "localhost:9002"]);
        args.balance = Some("leastconn".into());
        let c = Config::from_args(&args).unwrap();
        let (f, b) = (&c.frontends[0], &c.backends[0]);
        assert_eq!(
            (f.name.as_str(), b.name.as_str(), f.backend),
            ("quick", "quick", 0)
        );
        assert_eq!(f.binds[0].addr, "127.0.0.1:8080".parse().unwrap());
        let names: Vec<&str> = b.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["s1", "s2"]);
        assert_eq!(b.balance, Balance::LeastConn);
        assert_eq!(
            (b.timeout_connect, b.timeout_server, f.timeout_client),
            (Duration::from_secs(5), None, None)
        );
        assert!(c.warnings.is_empty());
        let c = Config::from_args(&quick(&[":1"], &["127.0.0.1:1"])).unwrap();
        assert_eq!(c.backends[0].balance, Balance::RoundRobin);
    }

    #[test]
    fn quick_start_errors() {
        let kw = |args: Args| {
            let errs = Config::from_args(&args).unwrap_err();
            assert!(errs.iter().all(|e| e.file == "<flags>"), "{errs:?}");
            errs.iter().map(|e| e.keyword.clone()).collect::<Vec<_>>()
        };
        assert_eq!(kw(quick(&[], &[])), ["-f"]);
        assert_eq!(kw(quick(&[":1"], &[])), ["--server"]);
        assert_eq!(kw(quick(&[], &["127.0.0.1:1"])), ["--bind"]);
        assert_eq!(kw(quick(&["nope"], &["127.0.0.1"])), ["--bind", "--server"]);
        assert_eq!(
            kw(quick(&[":1", "0.0.0.0:1"], &["127.0.0.1:1"])),
            ["--bind"]
        );
    }

    #[test]
    fn summary_lines() {
        let text = format!(
            "global\n nbthread 2\n{}",
            in_backend("balance leastconn\nserver s3 127.0.0.1:9003 disabled\noption redispatch")
        );
        let lines = load(&text).summary();
        assert_eq!(
            lines,
            [
                "global: nbthread 2, cpu-affinity on, maxconn 4096, maxpipes 1024, bufsize 16384, pipesize default",
                "frontend fe: bind 127.0.0.1:8080 -> backend be, maxconn 4096, timeout client 30s",
                "backend be: balance leastconn, 3 servers (2 enabled), retries 3, timeout connect 5s, \
                 timeout server 30s, redispatch, splice-auto on",
            ]
        );
    }
}
