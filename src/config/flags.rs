//! The command-line side of configuration: checks the flags that override
//! the file (`--threads`, `--maxconn`, `--balance`...) and builds the
//! quick-start proxy from `--bind` and `--server` when no file is given.

use super::keywords::master_socket;
use super::raw::{LISTEN, Proxy, Settings};
use super::values::{bind_addr, parse_balance, server_addr, unix_addr};
use super::{Balance, Bind, ConfError, MAX_THREADS, Process, ServerConf, StatsSocket, conf_error};
use crate::cli::Args;

/// The file name in errors that come from flags rather than a file.
pub(super) const FLAGS: &str = "<flags>";
/// Name of the frontend and backend built from `--bind` / `--server`.
const QUICK: &str = "quick";
const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];

/// The flags that override the file, checked.
#[derive(Debug, Default)]
pub(super) struct Flags {
    pub(super) threads: Option<usize>,
    pub(super) maxconn: Option<usize>,
    pub(super) balance: Option<Balance>,
    pub(super) no_affinity: bool,
    pub(super) no_splice: bool,
    /// `-D` (Some(true)) or `-db` (Some(false), which wins).
    pub(super) daemon: Option<bool>,
    /// `-p FILE`.
    pub(super) pidfile: Option<std::path::PathBuf>,
    /// `-S SOCKET`: HAProxy's master CLI, a runtime API socket here.
    pub(super) master_socket: Option<StatsSocket>,
}

impl Flags {
    pub(super) fn from_args(args: &Args) -> Result<Flags, Vec<ConfError>> {
        let mut errors = Vec::new();
        let mut err = |kw: &str, msg: String| errors.push(conf_error(FLAGS, 0, kw, msg));
        if !args.files().is_empty() && !args.bind.is_empty() {
            err(
                "--bind",
                "use either -f or --bind/--server, not both".to_string(),
            );
        }
        if !args.files().is_empty() && !args.server.is_empty() {
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
        let master = args.master_socket.as_deref().map(master_socket).transpose();
        let master = master.unwrap_or_else(|msgs| {
            for m in msgs {
                err("-S", m);
            }
            None
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        let (no_affinity, no_splice) = (args.no_affinity, args.no_splice);
        let daemon = match (args.daemon, args.foreground) {
            (_, true) => Some(false),
            (true, false) => Some(true),
            (false, false) => None,
        };
        Ok(Flags {
            threads: args.threads,
            maxconn: args.maxconn,
            balance,
            no_affinity,
            no_splice,
            daemon,
            pidfile: args.pidfile.as_ref().map(Into::into),
            master_socket: master,
        })
    }

    /// The global section's process settings with `-D`, `-db` and `-p`
    /// applied over them.
    pub(super) fn over_process(&self, conf: &Process) -> Process {
        Process {
            daemon: self.daemon.unwrap_or(conf.daemon),
            pidfile: self.pidfile.clone().or_else(|| conf.pidfile.clone()),
            ..conf.clone()
        }
    }
}

/// `l4lb --bind A --server B...`: one listen-like proxy named `quick`,
/// raw, for the builder to check like a section of a file.
pub(super) fn quick_proxy(args: &Args) -> Result<Proxy, Vec<ConfError>> {
    let mut errors = Vec::new();
    let mut err = |keyword: &str, msg: String| errors.push(conf_error(FLAGS, 0, keyword, msg));
    let need = "give -f FILE, or at least one --bind and one --server";
    match (args.bind.is_empty(), args.server.is_empty()) {
        (true, true) => err("-f", format!("no configuration: {need}")),
        (true, false) => err("--bind", format!("no --bind: {need}")),
        (false, true) => err("--server", format!("no --server: {need}")),
        (false, false) => {}
    }
    let mut settings = Settings::default();
    for a in &args.bind {
        match bind_addr(a) {
            Ok(addr) if settings.binds.iter().any(|(b, _)| b.addr == addr) => err(
                "--bind",
                format!("'{a}' is given twice; each address can be bound once"),
            ),
            Ok(addr) => settings.binds.push((
                Bind {
                    addr,
                    name: None,
                    opts: Default::default(),
                },
                0,
            )),
            Err(msg) => err("--bind", msg),
        }
    }
    for (i, a) in args.server.iter().enumerate() {
        if let Some(unix) = unix_addr(a) {
            match unix {
                Ok(u) => settings
                    .servers
                    .push(ServerConf::unix(format!("s{}", i + 1), u)),
                Err(msg) => err("--server", msg),
            }
            continue;
        }
        match server_addr(a) {
            Ok((configured, addr)) => {
                let name = format!("s{}", i + 1);
                settings
                    .servers
                    .push(ServerConf::resolved(name, configured, addr));
            }
            Err(msg) => err("--server", msg),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Proxy {
        role: LISTEN,
        name: QUICK.to_string(),
        line: 0,
        settings,
        quiet: true,
    })
}
