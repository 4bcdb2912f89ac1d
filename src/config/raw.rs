//! The raw stage of the configuration: what the keyword handlers write
//! (`Global`, `Settings`, `Proxy`), before `build` checks them as a whole.
//! The vocabulary `keywords`, `flags` and `build` share, kept here so that
//! none of them needs another (ripgrep's `lowargs.rs`).

use std::time::Duration;

use super::log::LogSpec;
use super::log_format::LineFormat;
use super::process::{Process, SpreadChecks};
use super::{
    Balance, Bind, CheckKind, CheckStep, ConnectRule, HttpExpect, HttpRequest, LogTarget,
    ServerConf, SourceAddr, StatsAdmin, StatsSocket,
};

// Where a keyword is accepted: a bit per section role; `listen` is both
// frontend and backend, so it accepts either kind of keyword.

pub(super) const DEF: u8 = 1;
pub(super) const FE: u8 = 2;
pub(super) const BE: u8 = 4;
pub(super) const LISTEN: u8 = FE | BE;
pub(super) const ALL: u8 = DEF | FE | BE;

pub(super) fn role_name(role: u8) -> &'static str {
    match role {
        DEF => "defaults",
        FE => "frontend",
        BE => "backend",
        _ => "listen",
    }
}

pub(super) fn accepted_in(mask: u8) -> String {
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

/// `timeout` names, where each is accepted, and their index in
/// [`Settings::timeouts`].
pub(super) const TIMEOUTS: [(&str, u8); 8] = [
    ("connect", DEF | BE),
    ("client", DEF | FE),
    ("server", DEF | BE),
    ("tunnel", DEF | BE),
    ("client-fin", DEF | FE),
    ("server-fin", DEF | BE),
    ("queue", DEF | BE),
    ("check", DEF | BE),
];
pub(super) const T_CONNECT: usize = 0;
pub(super) const T_CLIENT: usize = 1;
pub(super) const T_SERVER: usize = 2;
pub(super) const T_TUNNEL: usize = 3;
pub(super) const T_CLIENT_FIN: usize = 4;
pub(super) const T_SERVER_FIN: usize = 5;
pub(super) const T_QUEUE: usize = 6;
pub(super) const T_CHECK: usize = 7;
/// Values of `global` lines; None = not set, the default applies.
#[derive(Debug, Default)]
pub(super) struct Global {
    pub(super) threads: Option<usize>,
    pub(super) cpu_affinity: Option<bool>,
    pub(super) maxconn: Option<usize>,
    pub(super) maxpipes: Option<usize>,
    pub(super) bufsize: Option<usize>,
    pub(super) pipesize: Option<usize>,
    pub(super) hard_stop_after: Option<Duration>,
    /// `log` lines, what a proxy's `log global` stands for.
    pub(super) log: Vec<LogTarget>,
    pub(super) log_tag: Option<String>,
    /// `log-send-hostname`, with its name if one was given.
    pub(super) log_send_hostname: Option<Option<String>>,
    pub(super) stats_sockets: Vec<StatsSocket>,
    pub(super) stats_timeout: Option<Duration>,
    pub(super) stats_maxconn: Option<usize>,
    pub(super) stats_http: Option<std::net::SocketAddr>,
    /// `daemon`, `pidfile`, `user`, `chroot`...: final values as read.
    pub(super) process: Process,
    pub(super) spread: SpreadChecks,
    pub(super) node: Option<String>,
    pub(super) description: Option<String>,
    /// TLS keywords accepted with no effect, in the order first seen.
    pub(super) no_effect: Vec<String>,
    /// `ssl-server-verify none|required`: the checks' `verify` default.
    pub(super) ssl_server_verify: Option<bool>,
    /// `ca-base DIR`: where a relative `ca-file` is.
    pub(super) ca_base: Option<std::path::PathBuf>,
}

/// Values of a defaults or proxy section; None = inherit or default.
/// Proxies start from a clone of their defaults section's.
#[derive(Debug, Clone, Default)]
pub(super) struct Settings {
    /// `mode tcp|http` and its line; None = tcp, HAProxy's default.
    pub(super) mode: Option<(Mode, usize)>,
    pub(super) balance: Option<Balance>,
    /// `hash-type consistent`; applied to `balance source` when the backend
    /// is built, since either line may come from the defaults.
    pub(super) consistent: Option<bool>,
    /// Indexed like [`TIMEOUTS`]; `Some(ZERO)` is an explicit "no timeout"
    /// that overrides one from the defaults, as in HAProxy.
    pub(super) timeouts: [Option<Duration>; TIMEOUTS.len()],
    pub(super) retries: Option<u32>,
    pub(super) redispatch: Option<bool>,
    /// `retry-on empty-response`.
    pub(super) retry_empty: Option<bool>,
    pub(super) splice_auto: Option<bool>,
    pub(super) clitcpka: Option<bool>,
    pub(super) srvtcpka: Option<bool>,
    pub(super) maxconn: Option<usize>,
    /// Backend name and the line that named it.
    pub(super) default_backend: Option<(String, usize)>,
    pub(super) description: Option<String>,
    /// Each bind with its line, to report a duplicate where it is.
    pub(super) binds: Vec<(Bind, usize)>,
    pub(super) servers: Vec<ServerConf>,
    /// The check option and the `tcp-check` / `http-check` rules.
    pub(super) checks: CheckLines,
    /// `option allbackups`.
    pub(super) all_backups: Option<bool>,
    /// `default-server` option words, applied before each server's own.
    pub(super) default_server: Vec<String>,
    /// `log` lines (inherited ones first; `no log` empties it), with the
    /// line of the last one written in the section itself.
    pub(super) log: Vec<LogSpec>,
    pub(super) log_line: Option<usize>,
    /// `option tcplog`, `option dontlognull`.
    pub(super) tcplog: Option<bool>,
    pub(super) dontlognull: Option<bool>,
    /// `log-format` (None: `option tcplog`'s), `log-format-sd`, `option
    /// logasap`, `dontlog-normal`, `log-separate-errors`.
    pub(super) log_format: Option<LineFormat>,
    pub(super) log_format_sd: Option<LineFormat>,
    /// `unique-id-format`.
    pub(super) unique_id_format: Option<LineFormat>,
    pub(super) logasap: Option<bool>,
    pub(super) dontlog_normal: Option<bool>,
    pub(super) log_separate_errors: Option<bool>,
    /// Settings HAProxy ignores in a mode tcp proxy (HTTP-only ones, and
    /// `option tcplog` in a backend), inherited ones first; warned about
    /// once each when the file is checked as a whole (`ignored`).
    pub(super) ignored: Vec<Ignored>,
    /// The keywords of lines that had an error, inherited ones too: what
    /// they would have set is missing for a reason already reported, so
    /// its absence is no second error (no "has no server" after a bad
    /// server line).
    pub(super) failed: Vec<String>,
    /// `stats` lines of a defaults section, which proxies inherit (a
    /// proxy's own `stats` lines replace them whole, as in HAProxy).
    pub(super) stats: Option<StatsLines>,
    /// `monitor-uri` of a defaults section.
    pub(super) monitor_uri: Option<String>,
    /// `source ...` of defaults or a backend (see `keywords::sockopts`).
    pub(super) source: Option<SourceAddr>,
    /// `fullconn N`, `backlog N`, and `id N` with its line.
    pub(super) fullconn: Option<u32>,
    pub(super) backlog: Option<u32>,
    pub(super) id: Option<(u32, usize)>,
    /// `option nolinger`, `tcp-smart-accept`, `tcp-smart-connect`.
    pub(super) nolinger: Option<bool>,
    pub(super) smart_accept: Option<bool>,
    pub(super) smart_connect: Option<bool>,
    /// `acl`, `tcp-request`, `use_backend` and `use-server` lines, in
    /// order (an ACL is known to the rules after it), parsed whole by
    /// `build::routing` once every backend and server is known.
    pub(super) rule_lines: Vec<RuleLine>,
    /// `balance hash EXPR` / `balance rdp-cookie`: the expression whose
    /// value is hashed, and its line.
    pub(super) hash_on: Option<(String, usize)>,
    /// `persist rdp-cookie[(NAME)]`: the cookie's expression, and its line.
    pub(super) persist_rdp: Option<(String, usize)>,
}

/// One routing line as written: its line number and words, the keyword
/// first.
#[derive(Debug, Clone)]
pub(super) struct RuleLine {
    pub(super) line: usize,
    pub(super) words: Vec<String>,
}

impl Settings {
    pub(super) fn timeout(&self, which: usize) -> Option<Duration> {
        self.timeouts[which].filter(|d| !d.is_zero())
    }

    /// Records an ignored setting; one with the same slot is replaced, as
    /// a later line overrides an earlier one (or an inherited one).
    pub(super) fn ignore(&mut self, entry: Ignored) {
        if let Some(slot) = entry.slot {
            self.ignored.retain(|e| e.slot != Some(slot));
        }
        self.ignored.push(entry);
    }

    /// Forgets the ignored settings of `slot` (a line that overrides them).
    pub(super) fn unignore_slot(&mut self, slot: &str) {
        self.ignored.retain(|e| e.slot != Some(slot));
    }
}

/// A setting HAProxy accepts and then ignores in a mode tcp proxy, with
/// the line it was written at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ignored {
    /// As the warning names it: `option forwardfor`, `timeout http-request`.
    pub(super) name: String,
    /// Settings of one slot replace each other (`option httpclose` and
    /// `option http-keep-alive`); None = each line adds one (`errorfile`).
    pub(super) slot: Option<&'static str>,
    pub(super) line: usize,
    /// The roles it would act in (FE, BE or both): elsewhere an inherited
    /// one is silently unused, as in HAProxy.
    pub(super) roles: u8,
    pub(super) why: Why,
}

/// What an [`Ignored`] setting would have done, which decides its warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Why {
    /// HTTP-only: nothing to act on in a TCP stream.
    HttpOnly,
    /// HTTP rules that would deny, allow, redirect or rewrite: they filter
    /// nothing in mode tcp, which the warning says loudly.
    HttpRule,
    /// `option httplog` / `httpslog`: the frontend logs as with `option
    /// tcplog`, as HAProxy falls back.
    HttpLog,
    /// `balance uri|url_param|hdr`: round robin instead, as HAProxy.
    L7Balance,
    /// An option written where it cannot act (`option tcplog` in a
    /// backend): HAProxy warns and ignores it, in any mode.
    Misplaced,
}

/// A section's `stats` lines, as read (see `keywords::stats_page`).
#[derive(Debug, Clone, Default)]
pub(super) struct StatsLines {
    pub(super) uri: Option<String>,
    pub(super) realm: Option<String>,
    pub(super) auth: Vec<(String, String)>,
    pub(super) refresh: Option<Duration>,
    pub(super) admin: Option<StatsAdmin>,
    pub(super) show_version: bool,
    pub(super) show_legends: bool,
    /// `show-node`, with its name if one was given.
    pub(super) node: Option<Option<String>>,
    pub(super) desc: Option<Option<String>>,
    pub(super) scope: Vec<String>,
}

/// A section's `mode`. l4lb runs `tcp` proxies; `http` is accepted where it
/// does no harm (a `defaults` section whose proxies all set `mode tcp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Tcp,
    Http,
}

/// A frontend, backend or listen section, read but not yet checked as a whole.
#[derive(Debug)]
pub(super) struct Proxy {
    pub(super) role: u8,
    pub(super) name: String,
    pub(super) line: usize,
    pub(super) settings: Settings,
    /// The quick-start proxy: its missing timeouts are deliberate.
    pub(super) quiet: bool,
}

/// HAProxy's proxy-name characters.
pub(super) fn check_name(name: &str) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_.:".contains(c);
    match name.chars().find(|&c| !ok(c)) {
        None if !name.is_empty() => Ok(()),
        _ => Err(format!(
            "invalid name '{name}': use letters, digits, '-', '_', '.' and ':'"
        )),
    }
}

/// A section's check option and rules (see `keywords::checks`).
#[derive(Debug, Clone, Default)]
pub(super) struct CheckLines {
    /// The last check option (`option tcp-check`, `httpchk`, `mysql-check`...)
    /// and its line; None: the connect alone.
    pub(super) option: Option<(CheckOption, usize)>,
    /// `tcp-check` rules, with the line of the first.
    pub(super) tcp: Vec<CheckStep>,
    pub(super) tcp_line: Option<usize>,
    /// `http-check` rules, with the line of the first.
    pub(super) http: Vec<HttpDraft>,
    pub(super) http_line: Option<usize>,
    /// `http-check disable-on-404`.
    pub(super) disable_on_404: bool,
    /// The rules came from a defaults section: the section's own first
    /// rule replaces them all, as in HAProxy.
    pub(super) inherited: bool,
    /// `option log-health-checks`.
    pub(super) log_health: Option<bool>,
}

/// A check option as written.
#[derive(Debug, Clone)]
pub(super) enum CheckOption {
    Tcp,
    /// `option httpchk`, with the request it describes.
    Http(HttpRequest),
    Other(CheckKind),
}

/// An `http-check` rule as written: a send's unset parts come from
/// `option httpchk` when the backend is built.
#[derive(Debug, Clone)]
pub(super) enum HttpDraft {
    Connect(ConnectRule),
    Send(SendDraft),
    Expect(HttpExpect),
}

/// `http-check send` as written.
#[derive(Debug, Clone, Default)]
pub(super) struct SendDraft {
    pub(super) method: Option<String>,
    pub(super) uri: Option<String>,
    pub(super) version: Option<String>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Option<Vec<u8>>,
}
