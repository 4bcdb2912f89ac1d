//! The validated, immutable configuration: flags merged over the conf file.
//!
//! Stage two of parsing: `conf` turns text into raw sections with line
//! numbers, this module checks every value and resolves names, so nothing past
//! it sees argh types or raw strings. Every error names file, line, keyword.

use std::net::SocketAddr;
use std::time::Duration;

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
    Source { consistent: bool },
    /// `balance random[(N)]`: power of N choices (default 2).
    Random { draws: u32 },
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
        write!(f, "{}:{}: '{}': {}", self.file, self.line, self.keyword, self.msg)
    }
}

impl Config {
    // STUB: helper A implements.
    pub fn from_args(_args: &crate::cli::Args) -> Result<Config, Vec<ConfError>> {
        unimplemented!()
    }

    /// One line per frontend and backend, for `-c`.
    pub fn summary(&self) -> Vec<String> {
        unimplemented!()
    }
}
