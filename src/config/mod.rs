//! The validated, immutable configuration: flags merged over the conf file.
//!
//! Stage two of parsing: `conf` turns text into raw sections with line
//! numbers, this module checks every value and resolves names, so nothing past
//! it sees argh types or raw strings. Every error names file, line, keyword.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::Args;

use flags::Flags;

pub use addr::{SockAddr, UnixAddr};
pub use check::*;
pub use log::system_hostname;
pub use log_format::{
    Fetch, Flags as ItemFlags, LineFormat, LogLine, Part, TCP_CLF_LOG_FORMAT, TCP_LOG_FORMAT, Var,
};

/// Listening and server addresses: IP or unix sockets.
mod addr;
/// Sections -> `Config`: defaults inheritance and whole-file checks.
mod build;
/// Health checks as the conf asks for them: timing, rules, TLS, agent.
mod check;
/// Overriding flags and the `--bind`/`--server` quick start.
mod flags;
/// The warnings about settings HAProxy ignores (HTTP-only ones in mode tcp).
mod ignored;
/// The keyword tables and their handlers: proxy, server and global
/// keywords, and the HAProxy ones refused.
mod keywords;
/// The `log` line: target, format, facility, levels.
mod log;
/// `log-format` strings compiled into parts.
mod log_format;
/// The process settings: daemon, identity, chroot, fd limit, check spread.
mod process;
/// The raw stage: what the keyword handlers write, before `build`.
mod raw;
/// `-f` files and directories, read again on each reload.
mod source;
/// What `-c` prints: one line per section.
mod summary;
pub mod text;
/// `unix-bind` applied to the unix binds.
mod unix_bind;
/// Pure value parsers: numbers, times, addresses, algorithms.
mod values;
pub(crate) use summary::fmt_duration;

pub use process::{Process, SpreadChecks, UnixBind};
pub use source::{Source, Takeover};

/// Conf text literals by topic, every error with its line and keyword.
#[cfg(test)]
mod tests;

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
    /// `hard-stop-after`: how long a soft stop (SIGTERM, SIGUSR1) lets
    /// connections finish before closing them. None = as long as they last.
    pub hard_stop_after: Option<Duration>,
    /// `log-tag` and `log-send-hostname`: the syslog header's fields.
    pub logging: Logging,
    /// `stats socket` lines: the runtime API's unix sockets.
    pub stats_sockets: Vec<StatsSocket>,
    /// `stats timeout`: an idle runtime API connection is closed after it
    /// (default 10s, as HAProxy).
    pub stats_timeout: Duration,
    /// `stats maxconn`: runtime API connections at once (default 10).
    pub stats_maxconn: usize,
    /// `stats http ADDR:PORT` (l4lb extension): `GET /metrics` and `/stats`.
    pub stats_http: Option<SocketAddr>,
    /// `node NAME` in global: this node's name, for `show info`.
    pub node: Option<String>,
    /// `description TEXT` in global, for `show info`.
    pub description: Option<String>,
    /// `daemon`, `pidfile`, `user`, `group`, `chroot`, `ulimit-n`...
    pub process: Process,
    /// `spread-checks`, `max-spread-checks`: the prober's timing.
    pub spread_checks: SpreadChecks,
    pub frontends: Vec<Frontend>,
    pub backends: Vec<Backend>,
    /// `mode http` proxies with `stats` lines: HAProxy's stats page, served
    /// by the supervisor (they are neither frontends nor backends).
    pub stats_pages: Vec<StatsPage>,
    /// Non-fatal remarks found while validating (printed at start and by `-c`).
    pub warnings: Vec<String>,
}

/// A `frontend` (or the accepting half of a `listen` section).
#[derive(Debug, Clone)]
pub struct Frontend {
    pub name: String,
    pub description: Option<String>,
    pub binds: Vec<Bind>,
    /// Index into `Config::backends`: the `default_backend` (a listen
    /// section's own); None when `use_backend` rules are all its routing.
    pub backend: Option<usize>,
    /// Its `acl`, `tcp-request`, `use_backend` lines (a listen section's
    /// are shared with its backend); None: none, the plain path.
    pub(crate) rules: Option<std::sync::Arc<crate::rules::ProxyRules>>,
    /// Its sessions peek at the client's first bytes: a rule of its own,
    /// or of a backend it may send to (content rules, `balance hash` or
    /// `persist rdp-cookie` on the bytes), reads them.
    pub(crate) peeks: bool,
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
    /// `option tcplog` or `log-format`: one line per connection.
    pub tcplog: bool,
    /// `unique-id-format`: each connection's ID (`%ID` in logs,
    /// `proxy-v2-options unique-id`), made when first needed.
    pub unique_id_format: Option<LineFormat>,
    /// The line's format and when it is written (`log-format`,
    /// `log-format-sd`, `option logasap`, `dontlog-normal`,
    /// `log-separate-errors`).
    pub log_line: LogLine,
    /// `option dontlognull`: not for connections whose client sent nothing.
    pub dontlognull: bool,
    /// Where this frontend's connection logs go (`log`, `log global`
    /// expanded); empty = not logged.
    pub log: Vec<LogTarget>,
    /// `id N`, or the next free id in conf order (HAProxy's `iid`).
    pub id: u32,
    /// `backlog N`: accept queue of binds without their own `backlog`;
    /// None = the frontend's maxconn, as HAProxy.
    pub backlog: Option<u32>,
    /// `option nolinger`: client connections end with a reset on close.
    pub nolinger: bool,
    /// `option tcp-smart-accept`: TCP_QUICKACK off on the listeners.
    pub smart_accept: bool,
}

impl Backend {
    /// Whether its rules, hash or persistence read the client's bytes.
    pub(crate) fn reads_content(&self) -> bool {
        self.rules.as_ref().is_some_and(|r| r.reads_content)
            || [&self.hash_on, &self.persist_rdp]
                .into_iter()
                .flatten()
                .any(|e| e.fetch.needs_content())
    }

    /// Whether a session needs more than its balancer here (rules, a hash
    /// or persistence on a value of the connection).
    pub(crate) fn has_rules(&self) -> bool {
        self.rules.is_some() || self.hash_on.is_some() || self.persist_rdp.is_some()
    }
}

impl Frontend {
    /// Whether a `use_backend` rule names `backend`.
    pub(crate) fn routes_to(&self, backend: usize) -> bool {
        self.rules
            .as_ref()
            .is_some_and(|r| r.named_targets().any(|b| b == backend))
    }
}

/// A `listen` or `frontend` in `mode http` with `stats` lines: the HTML
/// stats page (and its `;csv`), `monitor-uri`, and a Prometheus path. Or
/// one with only a `monitor-uri` and nothing to forward to (`stats` false):
/// the monitor URI alone, every other request HAProxy's 503.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsPage {
    pub name: String,
    pub binds: Vec<Bind<SocketAddr>>,
    /// The section has `stats` lines (its own or its defaults'): the page
    /// is served under `uri`. False: a `monitor-uri` section, no page.
    pub stats: bool,
    /// `stats uri`: the prefix of the URIs served as the page (HAProxy's
    /// default `/haproxy?stats`).
    pub uri: String,
    /// `stats realm` (default `HAProxy Statistics`).
    pub realm: String,
    /// `stats auth USER:PASSWORD` lines; empty = no authentication.
    pub auth: Vec<(String, String)>,
    /// `stats refresh`: the page asks the browser to reload it this often.
    pub refresh: Option<Duration>,
    /// `stats admin if TRUE|LOCALHOST`: who may change server states.
    pub admin: Option<StatsAdmin>,
    /// `stats show-version` (hidden by default, as HAProxy).
    pub show_version: bool,
    /// `stats show-legends`: addresses, ids and mode next to the names.
    pub show_legends: bool,
    /// `stats show-node [NAME]` (the host name without NAME).
    pub node: Option<String>,
    /// `stats show-desc [TEXT]`.
    pub desc: Option<String>,
    /// `stats scope NAME|.`: only these proxies; empty = all.
    pub scope: Vec<String>,
    /// `monitor-uri`: answered 200 without authentication ...
    pub monitor_uri: Option<String>,
    /// ... or 503 with `monitor fail if TRUE` (`unless FALSE`).
    pub monitor_fail: bool,
    /// `http-request use-service prometheus-exporter if { path P }`: P.
    pub prometheus_path: Option<String>,
    /// Connections at once (`maxconn`; default 64, never above the
    /// global maxconn).
    pub maxconn: usize,
    /// How long a client may take to send its request: `timeout
    /// http-request`, else `timeout client`, else 10s.
    pub timeout_request: Duration,
}

impl StatsPage {
    /// Its `-c` line.
    fn summary(&self) -> String {
        let binds: Vec<String> = self.binds.iter().map(|b| b.addr.to_string()).collect();
        if !self.stats {
            let uri = self.monitor_uri.as_deref().unwrap_or_default();
            let fail = if self.monitor_fail {
                ", monitor fail"
            } else {
                ""
            };
            return format!(
                "monitor {}: bind {}, monitor-uri {uri}{fail}, no stats page",
                self.name,
                binds.join(",")
            );
        }
        let mut line = format!(
            "stats page {}: bind {}, uri {}, auth {}",
            self.name,
            binds.join(","),
            self.uri,
            if self.auth.is_empty() {
                "none".to_string()
            } else {
                format!("{} user(s)", self.auth.len())
            }
        );
        if let Some(r) = self.refresh {
            line.push_str(&format!(", refresh {}", fmt_duration(r)));
        }
        if let Some(a) = &self.admin {
            let who = match a {
                StatsAdmin::Always => "if TRUE",
                StatsAdmin::Localhost => "if LOCALHOST",
                StatsAdmin::If(rule) => &rule.text,
            };
            line.push_str(&format!(", admin {who}"));
        }
        for (what, uri) in [
            ("monitor-uri", &self.monitor_uri),
            ("prometheus", &self.prometheus_path),
        ] {
            if let Some(u) = uri {
                line.push_str(&format!(", {what} {u}"));
            }
        }
        if self.monitor_fail {
            line.push_str(", monitor fail");
        }
        line
    }
}

/// Who gets the stats page's admin form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsAdmin {
    /// `stats admin if TRUE`: every client that passed authentication.
    Always,
    /// `stats admin if LOCALHOST`: clients from 127.0.0.0/8 or ::1.
    Localhost,
    /// `stats admin if|unless COND`, any other condition over the
    /// client's address (the section's `acl` lines, anonymous ACLs).
    If(AdminRule),
}

/// A parsed `stats admin` condition with the ACLs it uses.
#[derive(Debug, Clone)]
pub struct AdminRule {
    /// As written, for `-c` and comparisons.
    pub text: String,
    rule: std::sync::Arc<(crate::rules::AclTable, crate::rules::Cond)>,
}

impl PartialEq for AdminRule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for AdminRule {}

impl AdminRule {
    /// `words` is `if|unless ...`; `acls` the section's `acl` lines so far.
    pub(crate) fn parse(acls: &[Vec<String>], words: &[String]) -> Result<AdminRule, String> {
        let mut table = crate::rules::AclTable::default();
        for line in acls {
            let w: Vec<&str> = line.iter().map(String::as_str).collect();
            table.add(w[0], &w[1..])?;
        }
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let cond = crate::rules::Cond::parse(&w, &mut table)?;
        if cond.needs_content(&table) {
            return Err(
                "the condition reads a TCP request's bytes; on the stats page only \
                        the client's address and l4lb's counters can be tested"
                    .into(),
            );
        }
        Ok(AdminRule {
            text: w.join(" "),
            rule: std::sync::Arc::new((table, cond)),
        })
    }

    /// Whether a client at `peer` gets the admin level.
    pub(crate) fn allows(&self, peer: Option<SocketAddr>) -> bool {
        let (table, cond) = &*self.rule;
        let facts = crate::rules::PeerFacts(peer);
        let mut scratch = crate::rules::Scratch::new(1024);
        cond.eval(table, &facts, true, &mut scratch) == crate::rules::Tri::Match
    }
}

/// One `stats socket PATH [mode OCTAL] [level LEVEL] [expose-fd listeners]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSocket {
    pub path: std::path::PathBuf,
    /// File mode of the socket (default 0600).
    pub mode: u32,
    pub level: ApiLevel,
    /// `user`/`uid` and `group`/`gid`: the socket file's owner (default:
    /// the process's, before any `user` drop, as HAProxy).
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// What a runtime API connection may do (HAProxy's `level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ApiLevel {
    /// Read-only commands (`show ...`, `help`).
    User,
    /// As `user` in l4lb (HAProxy's operator commands are HTTP or cache ones).
    Operator,
    /// Every command: server states, weights, add/del, reload.
    Admin,
}

/// Global settings of the syslog header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    /// `log-tag` (default `l4lb`): the program name in the header.
    pub tag: String,
    /// `log-send-hostname [NAME]`: the header's host name; None = left out
    /// (RFC 3164) or `-` (RFC 5424), as HAProxy.
    pub hostname: Option<String>,
}

impl Default for Logging {
    fn default() -> Logging {
        Logging {
            tag: "l4lb".to_string(),
            hostname: None,
        }
    }
}

/// One `log` target line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    pub dest: LogDest,
    pub format: LogFormat,
    /// `len N`: longest message sent, header included (default 1024).
    pub maxlen: usize,
    /// Syslog facility code, 0 (kern) ..= 23 (local7).
    pub facility: u8,
    /// `LEVEL`: messages less severe than this are not sent (default 7, debug).
    pub level: u8,
    /// `MINLEVEL`: more severe messages are sent at this level (default 0).
    pub minlevel: u8,
}

/// Where a `log` line sends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LogDest {
    Stdout,
    Stderr,
    /// UDP syslog.
    Udp(SocketAddr),
    /// A unix datagram socket, e.g. `/dev/log`.
    Unix(PathBuf),
}

/// `format F`: the header put before each message (HAProxy's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// The message alone.
    Raw,
    /// `<SEVERITY>` then the message.
    Short,
    /// `<PRI>` then the message.
    Priority,
    /// RFC 3164 without the host name.
    Local,
    /// `<PRI>Mmm dd hh:mm:ss [HOST ]TAG[PID]: ` (the default).
    Rfc3164,
    /// `<PRI>1 ISO-DATE HOST TAG PID - - `.
    Rfc5424,
    /// `<SEVERITY>ISO-DATE ` then the message.
    Timed,
    /// `ISO-DATE ` then the message.
    Iso,
}

/// One `bind` line: a frontend's (any address) or a stats page's (`A` an
/// IP socket address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind<A = SockAddr> {
    pub addr: A,
    /// `bind ... name N`.
    pub name: Option<String>,
    /// The socket options of the line (`v6only`, `backlog`, `tfo`, ...).
    pub opts: BindOpts,
}

/// A bind line's socket options (HAProxy's bind options of section 5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindOpts {
    /// `v6only` (Some(true)) / `v4v6` (Some(false)): IPV6_V6ONLY on an
    /// IPv6 bind; None = the kernel's default (dual-stack).
    pub v6only: Option<bool>,
    /// `backlog N`: the accept queue; None = the frontend's.
    pub backlog: Option<u32>,
    /// `defer-accept`: TCP_DEFER_ACCEPT (1s, as HAProxy): a client is
    /// accepted once it has sent data.
    pub defer_accept: bool,
    /// `tfo`: TCP_FASTOPEN, with the backlog as its queue length.
    pub tfo: bool,
    /// `interface NAME`: SO_BINDTODEVICE.
    pub interface: Option<String>,
    /// `mss N`: TCP_MAXSEG.
    pub mss: Option<u32>,
    /// `tcp-ut T`: TCP_USER_TIMEOUT, inherited by accepted sockets.
    pub tcp_ut: Option<Duration>,
    /// `maxconn N`: connections of this listener at once, over all
    /// workers (past it, clients wait in the accept queue); None or
    /// `maxconn 0`: only the frontend's and the global limits.
    pub maxconn: Option<u32>,
    /// `mode OCTAL` of a unix socket file (else `unix-bind`'s, else the
    /// umask's).
    pub mode: Option<u32>,
    /// `uid N` / `user NAME` owning a unix socket file (else `unix-bind`'s).
    pub uid: Option<u32>,
    /// `gid N` / `group NAME` of a unix socket file (else `unix-bind`'s).
    pub gid: Option<u32>,
    /// `accept-proxy`: every client starts with a PROXY protocol header
    /// (v1 or v2), whose addresses then stand for the connection's.
    pub accept_proxy: bool,
}

impl Bind {
    /// The same bind on an IP socket, if it is on one.
    pub fn inet(&self) -> Option<Bind<SocketAddr>> {
        Some(Bind {
            addr: self.addr.inet()?,
            name: self.name.clone(),
            opts: self.opts.clone(),
        })
    }
}

/// `source ADDR[:PORT] [interface NAME]`: where connections to servers
/// come from (a backend's, or a server's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAddr {
    /// Port 0: the kernel picks one at connect (IP_BIND_ADDRESS_NO_PORT),
    /// or one of `ports`.
    pub addr: SocketAddr,
    /// A server's `source ADDR:LOW-HIGH`: each connection (and check) takes
    /// a port of the range from the server's pool (`backend::ports`).
    pub ports: Option<std::ops::RangeInclusive<u16>>,
    /// `interface NAME`: SO_BINDTODEVICE.
    pub interface: Option<String>,
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
    /// `retry-on empty-response`: a server that closes or resets a connection
    /// before its first byte is replaced by another, and the client's bytes
    /// so far (up to one buffer) are replayed to it. Counts against `retries`.
    pub retry_empty_response: bool,
    /// `timeout connect` (default 5s).
    pub timeout_connect: Duration,
    /// `timeout server`: inactivity on the server side. None = no timeout.
    pub timeout_server: Option<Duration>,
    /// `timeout server-fin`: server-side inactivity once half-closed.
    pub timeout_server_fin: Option<Duration>,
    /// `timeout tunnel`: once connected, replaces client and server timeouts.
    pub timeout_tunnel: Option<Duration>,
    /// `timeout check`: how long a health check may take (connect included);
    /// None = the server's `inter`, as HAProxy.
    pub timeout_check: Option<Duration>,
    /// What every check of this backend's servers does after (or instead
    /// of) the connect: `tcp-check` rules, `httpchk`, a protocol check.
    pub checks: CheckKind,
    /// `option log-health-checks`: every check result that changes a
    /// server's health is logged, not only its UP/DOWN transitions.
    pub log_health_checks: bool,
    /// `option allbackups`: with no regular server UP, balance over every
    /// backup server rather than use the first one.
    pub all_backups: bool,
    /// `timeout queue`: how long a client waits for a server slot when every
    /// server is at its maxconn (default: timeout connect, as HAProxy).
    pub timeout_queue: Duration,
    /// `option tcpka` / `option srvtcpka`: SO_KEEPALIVE on server sockets.
    pub tcp_keepalive: bool,
    /// `option splice-auto` (default on).
    pub splice_auto: bool,
    /// `id N`, or the next free id in conf order (HAProxy's `iid`).
    pub id: u32,
    /// `fullconn N`: the backend load at which servers reach their maxconn
    /// (with `minconn`); default 10% of the maxconn of the frontends that
    /// send here, as HAProxy.
    pub fullconn: u32,
    /// `option nolinger`: server connections end with a reset on close.
    pub nolinger: bool,
    /// `option tcp-smart-connect`: TCP_QUICKACK off on server sockets, so
    /// the first bytes go with the handshake's last ACK.
    pub smart_connect: bool,
    /// Its `tcp-request content` and `use-server` lines (and ACLs); None:
    /// none.
    pub(crate) rules: Option<std::sync::Arc<crate::rules::ProxyRules>>,
    /// `balance hash EXPR` / `balance rdp-cookie[(NAME)]`: the value hashed
    /// instead of the client's address (none found: round robin, as
    /// HAProxy).
    pub(crate) hash_on: Option<std::sync::Arc<crate::rules::Expr>>,
    /// `persist rdp-cookie[(NAME)]`: the cookie naming the server
    /// (`msts=ADDR.PORT.0000`) a client goes back to.
    pub(crate) persist_rdp: Option<std::sync::Arc<crate::rules::Expr>>,
}

/// One `server` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConf {
    pub name: String,
    /// Where connections go: `configured`, resolved when the line was read.
    /// Unspecified (0.0.0.0:0) for a server on a unix socket (`unix`).
    pub addr: SocketAddr,
    /// A server on a unix socket (`/path`, `unix@`, `abns@`, `abnsz@`):
    /// where connections go instead of `addr`.
    pub unix: Option<UnixAddr>,
    /// The address as the line wrote it, host name kept, so that it can be
    /// resolved again without the conf file.
    pub configured: ServerAddr,
    /// 0..=256; 0 takes no new connections. Default 1.
    pub weight: u32,
    /// 0 = unlimited.
    pub maxconn: u32,
    /// `disabled`: in maintenance from the start, never picked.
    pub disabled: bool,
    /// `backup`: takes traffic only while no regular server is UP.
    pub backup: bool,
    /// `on-marked-down shutdown-sessions`: when marked DOWN, its established
    /// connections are reset (off by default, as in HAProxy).
    pub shutdown_on_down: bool,
    /// `observe layer4`: live traffic's connect failures count against the
    /// server. Needs `check` (the prober brings the server back).
    pub observe: Option<Observe>,
    /// `check` and its timing options; None = never probed (always UP).
    /// Also set, with `passive_only`, for `observe layer4` without `check`.
    pub check: Option<Check>,
    /// `agent-check` (with `agent-port`...): runs with or without `check`.
    pub agent: Option<Agent>,
    /// `slowstart T`: after coming back UP, the server's effective weight
    /// ramps from 1/256 of its weight to all of it over T (zero = off).
    pub slowstart: Duration,
    /// `id N`; None: numbered where shown (see [`numbered_ids`]).
    pub id: Option<u32>,
    /// `minconn N`: with the backend's `fullconn`, the dynamic limit
    /// `max(minconn, maxconn * backend sessions / fullconn)`. Equal to
    /// `maxconn` when not set (a static limit).
    pub minconn: u32,
    /// `maxqueue N`: clients waiting for this very server (0 = no limit).
    pub maxqueue: u32,
    /// `source ...` of the line, else of the backend.
    pub source: Option<SourceAddr>,
    /// `tfo`: TCP_FASTOPEN_CONNECT on connections to it.
    pub tfo: bool,
    /// `tcp-ut T`: TCP_USER_TIMEOUT on connections to it.
    pub tcp_ut: Option<Duration>,
    /// `send-proxy` / `send-proxy-v2` (with `proxy-v2-options`): a PROXY
    /// protocol header goes out first on every connection to it.
    pub send_proxy: Option<SendProxy>,
}

/// The PROXY protocol header a server gets (`send-proxy`, `send-proxy-v2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendProxy {
    /// Version 2 (binary) rather than 1 (text).
    pub v2: bool,
    /// `proxy-v2-options crc32c`: a CRC32C TLV over the header.
    pub crc32c: bool,
    /// `proxy-v2-options authority`: the SNI the client sent, when the
    /// inspect stage read one.
    pub authority: bool,
    /// `proxy-v2-options unique-id`: the connection's `unique-id-format`
    /// ID (none without one, as HAProxy).
    pub unique_id: bool,
}

/// A server address as written: a host name or an IP, and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerAddr {
    pub host: Host,
    pub port: u16,
}

/// The host of a [`ServerAddr`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A name, looked up with the system resolver.
    Name(String),
    /// An IP literal: nothing to look up.
    Ip(IpAddr),
}

impl ServerAddr {
    /// The host name, if the address was given as one (HAProxy's `srv_fqdn`).
    pub fn fqdn(&self) -> Option<&str> {
        match &self.host {
            Host::Name(name) => Some(name),
            Host::Ip(_) => None,
        }
    }
}

impl From<SocketAddr> for ServerAddr {
    fn from(addr: SocketAddr) -> ServerAddr {
        ServerAddr {
            host: Host::Ip(addr.ip()),
            port: addr.port(),
        }
    }
}

/// As it would be written in the file: `NAME:PORT`, `IPV4:PORT`, `[IPV6]:PORT`.
impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Name(name) => write!(f, "{name}:{}", self.port),
            Host::Ip(ip) => SocketAddr::new(*ip, self.port).fmt(f),
        }
    }
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

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// Catches typos such as `nbthread 40000`; far above any core count.
const MAX_THREADS: usize = 4096;

impl Config {
    /// Reads `-f FILE` (or builds the quick-start proxy from `--bind` and
    /// `--server`), then applies the overriding flags. Returns every error
    /// found, not just the first.
    pub fn from_args(args: &Args) -> Result<Config, Vec<ConfError>> {
        Source::from_args(args)?.load()
    }

    /// Validates conf text alone, as `l4lb -c -f FILE` does when no flag
    /// overrides the file; `file` only names it in errors. The entry point
    /// of the fuzz targets (tests/fuzz/).
    pub fn from_text(file: &str, text: &[u8]) -> Result<Config, Vec<ConfError>> {
        Config::from_reader(file, text, &Flags::default())
    }

    /// Every bind as (address, frontend index), in conf order: the one
    /// list the main thread binds by and the workers reconcile against.
    pub fn binds(&self) -> Vec<(SockAddr, usize)> {
        let mut v = Vec::new();
        for (f, fe) in self.frontends.iter().enumerate() {
            v.extend(fe.binds.iter().map(|b| (b.addr.clone(), f)));
        }
        v
    }
}

impl ServerConf {
    /// A server line with nothing but its name and address: weight 1, no
    /// limits, no checks (the defaults of every option).
    pub fn new(name: String, addr: SocketAddr) -> ServerConf {
        ServerConf {
            name,
            addr,
            unix: None,
            configured: addr.into(),
            weight: 1,
            maxconn: 0,
            disabled: false,
            backup: false,
            shutdown_on_down: false,
            observe: None,
            check: None,
            agent: None,
            slowstart: Duration::ZERO,
            id: None,
            minconn: 0,
            maxqueue: 0,
            source: None,
            tfo: false,
            tcp_ut: None,
            send_proxy: None,
        }
    }

    /// As [`ServerConf::new`], for a server on a unix socket.
    pub fn unix(name: String, addr: UnixAddr) -> ServerConf {
        ServerConf {
            unix: Some(addr),
            ..ServerConf::new(name, SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 0))
        }
    }

    /// Where connections go, as HAProxy shows it: `IP:PORT` or the socket.
    pub fn target(&self) -> SockAddr {
        match &self.unix {
            Some(u) => SockAddr::Unix(u.clone()),
            None => SockAddr::Inet(self.addr),
        }
    }

    /// As [`ServerConf::new`], for an address written as `configured` that
    /// resolved to `addr`.
    pub fn resolved(name: String, configured: ServerAddr, addr: SocketAddr) -> ServerConf {
        ServerConf {
            configured,
            ..ServerConf::new(name, addr)
        }
    }
}

fn conf_error(file: &str, line: usize, keyword: &str, msg: String) -> ConfError {
    // An empty quoted word ("" or '') can stand where a keyword or an option
    // is expected: name it as written, not as nothing (found by fuzzing).
    let keyword = if keyword.is_empty() { "\"\"" } else { keyword };
    ConfError {
        file: file.to_string(),
        line,
        keyword: keyword.to_string(),
        msg,
    }
}

/// HAProxy's numbering (of a backend's servers, for show stat's `sid`):
/// each one's own `id`, else the next id no one has, from 1, in order.
pub fn numbered_ids(explicit: &[Option<u32>]) -> Vec<u32> {
    keywords::numbered(explicit)
}

/// Parses a `server NAME ADDR:PORT [OPTIONS]` line given at run time (the
/// runtime API's `add server`), with the checks of a conf file.
pub fn server_line(words: &[String]) -> Result<ServerConf, String> {
    keywords::server_line(words)
}
