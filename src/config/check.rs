//! Health checks as the conf asks for them: each checked server's timing
//! (`inter`, `rise`, `fall`...), its TLS and agent settings, and the
//! backend's rules, HAProxy's tcp-check rule set: what `tcp-check`,
//! `option httpchk` / `http-check` and the protocol options (`mysql-check`,
//! `pgsql-check`, `redis-check`, `ldap-check`, `smtpchk`, `ssl-hello-chk`)
//! ask the prober to send and expect.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Active health check settings of one server (HAProxy's names and defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Between checks while the server is UP and steady (`inter`, default 2s).
    pub inter: Duration,
    /// Between checks while it is changing state (`fastinter`, default inter).
    pub fastinter: Duration,
    /// Between checks while it is DOWN (`downinter`, default inter).
    pub downinter: Duration,
    /// Consecutive successes that bring a DOWN server UP (`rise`, default 2).
    pub rise: u32,
    /// Consecutive failures that take an UP server DOWN (`fall`, default 3).
    pub fall: u32,
    /// Where to connect: the server's address unless `addr` / `port` say otherwise.
    pub target: SocketAddr,
    /// `observe layer4` without `check`: probed only while live traffic has
    /// taken it out (DOWN or on its way back), to bring it back.
    pub passive_only: bool,
    /// The check starts with a PROXY protocol header (`check-send-proxy`,
    /// or by default a `send-proxy` server checked on its own address):
    /// Some(v2). HAProxy sends `PROXY UNKNOWN` (v1) or a LOCAL header (v2).
    pub send_proxy: Option<bool>,
    /// `check-ssl` (with `verify`, `ca-file`, `check-sni`...): the check's
    /// connection speaks TLS. The data path never does.
    pub tls: Option<CheckTls>,
}

/// Passive health: what `error-limit` connect failures in a row on live
/// traffic do (`on-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observe {
    /// `error-limit N` (default 10, as HAProxy).
    pub error_limit: u32,
    pub on_error: OnError,
}

/// HAProxy's `on-error` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Check again now, then at `fastinter`.
    FastInter,
    /// Count as one failed check (the default).
    FailCheck,
    /// One failed check away from DOWN.
    SuddenDeath,
    /// DOWN at once; `rise` passed checks bring it back.
    MarkDown,
}

pub const DEFAULT_ERROR_LIMIT: u32 = 10;

/// HAProxy's check defaults.
pub const DEFAULT_INTER: Duration = Duration::from_secs(2);
pub const DEFAULT_RISE: u32 = 2;
pub const DEFAULT_FALL: u32 = 3;

/// `check-ssl` and its companions on a `server` line: the TLS of its
/// checks' default connect, and of any `tcp-check connect ssl` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckTls {
    /// `check-ssl`: the default connect (the one HAProxy adds, or a rule
    /// with `default`) speaks TLS.
    pub check_ssl: bool,
    /// `verify required` (HAProxy's default): the certificate must chain to
    /// `ca_file`; `verify none` accepts any.
    pub verify: bool,
    /// No `verify` on the line: the global `ssl-server-verify` decides
    /// (applied when the whole file is built).
    pub verify_from_global: bool,
    /// `ca-file FILE`, or `@system-ca` for the system's store.
    pub ca_file: Option<CaFile>,
    /// `check-sni NAME`: the ClientHello's server name (none by default).
    pub sni: Option<String>,
    /// `verifyhost NAME`: the name the certificate must carry (with `verify
    /// required`; defaults to the SNI when there is one).
    pub verifyhost: Option<String>,
    /// `check-alpn LIST`: protocols offered in the ClientHello.
    pub alpn: Vec<String>,
}

/// Where trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaFile {
    /// A PEM file (relative to `ca-base` when not absolute).
    Path(PathBuf),
    /// `@system-ca`: the system's trust store.
    System,
}

/// `agent-check` settings of a server: an independent probe whose answer
/// sets the server's state and weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// `agent-addr` / `agent-port` (the port is required).
    pub target: SocketAddr,
    /// `agent-inter` (default 2s, as HAProxy).
    pub inter: Duration,
    /// `agent-send STRING`: sent once connected (nothing by default).
    pub send: Vec<u8>,
}

/// What a backend's checks do after (or instead of) the plain connect.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CheckKind {
    /// The TCP connect alone (HAProxy's default).
    #[default]
    Connect,
    /// `option tcp-check` with its `tcp-check` rules (the implicit first
    /// connect is left out: rules start with the first explicit one).
    TcpCheck(Vec<CheckStep>),
    /// `option httpchk` / `http-check` rules.
    Http(HttpCheck),
    /// `option ssl-hello-chk`: an SSLv3 ClientHello, expecting a ServerHello.
    SslHello,
    /// `option mysql-check [user U [post-41]]`.
    Mysql { user: Option<String>, post41: bool },
    /// `option pgsql-check user U`.
    Pgsql { user: String },
    /// `option redis-check`: PING, expecting +PONG.
    Redis,
    /// `option ldap-check`: an anonymous bind.
    Ldap,
    /// `option smtpchk [HELO|EHLO DOMAIN]` (default `HELO localhost`).
    Smtp { verb: String, domain: String },
}

/// One `tcp-check` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckStep {
    /// `tcp-check connect [port P] [addr A] [ssl] [sni S] [alpn L] [linger]`.
    Connect(ConnectRule),
    /// `tcp-check send STRING` / `send-binary HEX`.
    Send(Vec<u8>),
    /// `tcp-check expect [min-recv N] [!] string|binary|rstring|rbinary X`.
    Expect(TcpExpect),
}

/// Where and how a check rule (re)connects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRule {
    /// `default`, or the connect HAProxy adds before rules that do not
    /// start with one: the server line's check settings apply (`check-ssl`,
    /// `check-sni`, `check-alpn`) where the rule does not set its own.
    pub default: bool,
    /// `port P` (default: the check's port).
    pub port: Option<u16>,
    /// `addr A` (default: the check's address).
    pub addr: Option<IpAddr>,
    /// `ssl`: TLS on this connection, with the server's TLS settings.
    pub ssl: bool,
    /// `sni NAME`.
    pub sni: Option<String>,
    /// `alpn LIST`.
    pub alpn: Vec<String>,
    /// `linger`: close with a FIN, not a reset.
    pub linger: bool,
}

/// A `tcp-check expect` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpExpect {
    /// `!`: the rule passes when the pattern is NOT found.
    pub inverse: bool,
    /// `min-recv N`: wait for at least N bytes before matching.
    pub min_recv: Option<usize>,
    pub what: TcpMatch,
}

impl ConnectRule {
    /// The connect HAProxy adds before rules that do not start with one.
    pub fn implicit() -> ConnectRule {
        ConnectRule {
            default: true,
            ..ConnectRule::default()
        }
    }
}

impl TcpExpect {
    /// An expect without `!` or `min-recv`.
    pub fn plain(what: TcpMatch) -> TcpExpect {
        TcpExpect {
            inverse: false,
            min_recv: None,
            what,
        }
    }
}

/// What a `tcp-check expect` looks for in the bytes received since the
/// last send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpMatch {
    String(Vec<u8>),
    Binary(Vec<u8>),
    /// A regular expression over the bytes.
    RString(Pattern),
    /// A regular expression over the bytes written as upper-case hex.
    RBinary(Pattern),
}

/// A compiled regular expression that compares by its source.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    pub re: regex::bytes::Regex,
}

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, String> {
        let re =
            regex::bytes::Regex::new(source).map_err(|e| format!("bad regex {source:?}: {e}"))?;
        Ok(Pattern {
            source: source.to_string(),
            re,
        })
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

/// `option httpchk` and the `http-check` rules, in order. The conf layer
/// adds HAProxy's implicit rules: a send of the `option httpchk` request
/// when there is no `http-check send`, and an expect of a 2xx or 3xx
/// status when there is no `http-check expect`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpCheck {
    pub rules: Vec<HttpRule>,
    /// `http-check disable-on-404`: a 404 from an UP server drains it (no
    /// new connections) instead of failing the check.
    pub disable_on_404: bool,
}

/// One `http-check` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpRule {
    Connect(ConnectRule),
    Send(HttpRequest),
    Expect(HttpExpect),
}

/// The request of an `http-check send` (merged over `option httpchk`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Default `OPTIONS` (HAProxy's).
    pub method: String,
    /// Default `/`.
    pub uri: String,
    /// Default `HTTP/1.0`.
    pub version: String,
    /// `hdr NAME VALUE`, in order.
    pub headers: Vec<(String, String)>,
    /// `body STRING` (a content-length is added).
    pub body: Vec<u8>,
}

impl Default for HttpRequest {
    fn default() -> HttpRequest {
        HttpRequest {
            method: "OPTIONS".into(),
            uri: "/".into(),
            version: "HTTP/1.0".into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

/// An `http-check expect` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpExpect {
    /// `!`: passes when the match fails.
    pub inverse: bool,
    pub what: HttpMatch,
}

/// What an `http-check expect` matches in the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpMatch {
    /// `status CODES`: codes and ranges (`200`, `200-399`, `200,301`).
    Status(Vec<(u16, u16)>),
    /// `rstatus REGEX` over the three status digits.
    RStatus(Pattern),
    /// `string TEXT` in the body.
    String(Vec<u8>),
    /// `rstring REGEX` over the body.
    RString(Pattern),
}
