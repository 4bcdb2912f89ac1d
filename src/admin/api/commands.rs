//! The runtime API's commands, with HAProxy's names, arguments and answers.
//!
//! Reading commands (`show ...`, `help`) are open to every level; commands
//! that change anything need `level admin`. An answer is text; HAProxy's
//! wording is kept where scripts may match it ("No such server."). The
//! commands that make a new snapshot (`reload`, `add server`, `del
//! server`) answer once it is in force, after the switch ([`Answer`]).

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::show_stat;
use crate::admin::info;
use crate::admin::stats::Rates;
use crate::backend::{Admin, Server};
use crate::config::{ApiLevel, ServerConf};
use crate::process::fds;
use crate::process::reload::ReloadError;
use crate::shared::Shared;

/// What commands act on; the supervisor provides it.
pub(crate) trait Runtime {
    /// The configuration snapshot now in force.
    fn shared(&self) -> Arc<Shared>;
    fn rates(&self) -> &Rates;
    /// Weights changed in `backend`: every worker rebuilds its balancers.
    fn rebalance(&mut self);
    /// `server` goes back into service: its slow start, if it has one.
    fn slow_start(&mut self, server: &Arc<Server>);
    /// Every worker resets its connections to `server` (`shutdown sessions`).
    fn shutdown_sessions(&mut self, server: &Arc<Server>);
    /// Adds a server to a backend: a new snapshot, switched to from now
    /// on (see [`Runtime::switching`]).
    fn add_server(&mut self, backend: usize, conf: ServerConf) -> Result<(), ReloadError>;
    /// Removes a server from a backend: a new snapshot, as `add_server`.
    fn del_server(&mut self, backend: usize, name: &str) -> Result<(), ReloadError>;
    /// Re-reads the conf file and starts the switch to it; Ok is its
    /// summary.
    fn reload(&mut self) -> Result<String, ReloadError>;
    /// Whether the workers are switching to a new snapshot (one of the
    /// changes above started it); another change meanwhile is refused
    /// with [`ReloadError::Busy`].
    fn switching(&self) -> bool;
    /// How many switches are over: a change is in force once this has
    /// gone past its value when the change was made.
    fn switched(&self) -> u64;
    /// Duplicates of the listening sockets, with their addresses, for a
    /// new l4lb taking over (`_getsocks`).
    fn listener_fds(&self) -> Vec<(std::os::fd::OwnedFd, crate::config::SockAddr)>;
    /// A soft stop is under way (`show info`'s `Stopping`).
    fn stopping(&self) -> bool {
        false
    }
}

const HELP: &str = "\
The following commands are valid at this level:
  help                                    : this message
  prompt                                  : toggle interactive mode with prompt
  quit                                    : disconnect
  show info                               : report information about the running process
  show stat [{<px>|-1} {<type>|-1} {<sid>|-1}] [no-maint] [up] : report counters for each proxy and server (CSV)
  get weight <bk>/<srv>                   : report a server's current weight
  show servers state [<backend>]          : dump the state of the servers
  set timeout cli <delay>                 : change this connection's idle timeout (seconds)
The following commands need level admin:
  set server <bk>/<srv> state ready|drain|maint : change a server's administrative state
  set server <bk>/<srv> weight <w>[%]     : change a server's weight (0-256, or % of its conf weight)
  set weight <bk>/<srv> <w>[%]            : same as set server weight
  set server <bk>/<srv> addr <ip> [port <p>] : change a server's address
  set maxconn server <bk>/<srv> <n>       : change a server's maxconn (0 = none)
  enable server <bk>/<srv>                : same as set server state ready
  disable server <bk>/<srv>               : same as set server state maint
  shutdown sessions server <bk>/<srv>     : reset all connections to a server
  add server <bk>/<srv> <addr:port> [opts]: add a server (weight, maxconn, backup, disabled, check...)
  del server <bk>/<srv>                   : remove a server in maintenance with no connection
  reload                                  : re-read the configuration file and apply it
";

/// A command's answer, and when to give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Now (it may be empty).
    Now(String),
    /// Once the switch the command started is over: it made a new
    /// snapshot, in force only then (see [`Runtime::switched`]).
    AfterSwitch(String),
    /// Another switch is pending: run the command again once it is over.
    Retry,
}

/// Runs one command.
pub(crate) fn execute(cmd: &str, level: ApiLevel, rt: &mut dyn Runtime) -> Answer {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    if level != ApiLevel::Admin {
        return Answer::Now(answer(cmd, &words, false, rt));
    }
    match words.as_slice() {
        ["add", "server", target, addr, opts @ ..] => add_server(rt, target, addr, opts),
        ["del", "server", target] => del_server(rt, target),
        ["reload"] => after_switch(rt.reload()),
        _ => Answer::Now(answer(cmd, &words, true, rt)),
    }
}

/// The answer to a change that makes a new snapshot: `Ok`'s text once it
/// is in force.
fn after_switch(result: Result<String, ReloadError>) -> Answer {
    match result {
        Ok(text) => Answer::AfterSwitch(text),
        Err(ReloadError::Busy) => Answer::Retry,
        Err(e) => Answer::Now(format!("{e}\n")),
    }
}

/// `show info`'s fields as the process stands now: what the runtime API
/// prints and the stats page's first box shows.
pub(crate) fn info_fields(rt: &dyn Runtime) -> Vec<(&'static str, String)> {
    let shared = rt.shared();
    let facts = info::Facts {
        stopping: rt.stopping(),
        maxsock: fds::fd_budget(&shared.config).total(),
    };
    info::fields(&shared, &rt.rates().process, facts)
}

/// Runs a command that answers at once.
fn answer(cmd: &str, words: &[&str], admin: bool, rt: &mut dyn Runtime) -> String {
    match words {
        ["help"] => HELP.to_string(),
        ["show", "info"] => info::text(&info_fields(rt)),
        ["show", "info", ..] => {
            "l4lb prints 'show info' in the default format only (no typed, json, desc or float).\n"
                .into()
        }
        ["show", "stat", args @ ..] => show_stat::answer(&rt.shared(), rt.rates(), args),
        ["get", "weight", target] => with_server(rt, target, |_, s| {
            format!("{} (initial {})\n", s.weight(), s.conf_weight())
        }),
        ["get", "weight", ..] => "Require 'backend/server'.\n".into(),
        ["show", "servers", "state", backend @ ..] => servers_state(&rt.shared(), backend),
        [
            "set" | "enable" | "disable" | "shutdown" | "add" | "del" | "reload",
            ..,
        ] if !admin => "Permission denied\n".into(),
        ["set", "server", target, rest @ ..] => set_server(rt, target, rest),
        // HAProxy's older form, which hatop sends.
        ["set", "weight", target, w] => set_server(rt, target, &["weight", w]),
        ["set", "weight", ..] => "Require <weight> or <weight%>.\n".into(),
        ["set", "maxconn", "server", target, n] => {
            with_server(rt, target, |_, s| match n.parse::<u32>() {
                Ok(n) => {
                    s.set_maxconn(n);
                    String::new()
                }
                Err(_) => "Require <maxconn>: a whole number (0 = no limit).\n".into(),
            })
        }
        ["enable", "server", target] => set_state(rt, target, Admin::Ready),
        ["disable", "server", target] => set_state(rt, target, Admin::Maint),
        ["shutdown", "sessions", "server", target] => {
            let found = find(&rt.shared(), target).map(|(_, s)| s);
            match found {
                Ok(s) => {
                    rt.shutdown_sessions(&s);
                    String::new()
                }
                Err(e) => e,
            }
        }
        [] => String::new(),
        _ => format!("Unknown command: '{cmd}'.\n{HELP}"),
    }
}

/// `backend/server` -> the server, or HAProxy's error line.
fn find(shared: &Shared, target: &str) -> Result<(usize, Arc<Server>), String> {
    let Some((backend, server)) = target.split_once('/') else {
        return Err("Require 'backend/server'.\n".into());
    };
    let Some(b) = shared.backend_index(backend) else {
        return Err("No such backend.\n".into());
    };
    shared.servers[b]
        .iter()
        .find(|s| s.name == server)
        .map(|s| (b, Arc::clone(s)))
        .ok_or_else(|| "No such server.\n".into())
}

fn with_server(
    rt: &mut dyn Runtime,
    target: &str,
    f: impl FnOnce(&mut dyn Runtime, &Arc<Server>) -> String,
) -> String {
    match find(&rt.shared(), target) {
        Ok((_, s)) => f(rt, &s),
        Err(e) => e,
    }
}

fn set_state(rt: &mut dyn Runtime, target: &str, admin: Admin) -> String {
    with_server(rt, target, |rt, s| {
        if s.admin() != admin {
            if admin == Admin::Ready {
                // Leaving maintenance or drain counts as coming up.
                rt.slow_start(s);
            }
            s.set_admin(admin);
            let since = rt.shared().process.started.elapsed().as_millis() as u64;
            s.check
                .last_change_ms
                .store(since, std::sync::atomic::Ordering::Relaxed);
            log::info!(
                "server {target} is now {} (runtime API)",
                match admin {
                    Admin::Ready => "READY",
                    Admin::Drain => "DRAIN",
                    Admin::Maint => "MAINT",
                }
            );
        }
        String::new()
    })
}

fn set_server(rt: &mut dyn Runtime, target: &str, rest: &[&str]) -> String {
    match rest {
        ["state", "ready"] => set_state(rt, target, Admin::Ready),
        ["state", "drain"] => set_state(rt, target, Admin::Drain),
        ["state", "maint"] => set_state(rt, target, Admin::Maint),
        ["state", ..] => "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n".into(),
        ["weight", w] => with_server(rt, target, |rt, s| match parse_weight(w, s) {
            Ok(w) => {
                s.set_weight(w);
                rt.rebalance();
                String::new()
            }
            Err(e) => e,
        }),
        ["addr", ip, port @ ..] => with_server(rt, target, |_, s| {
            if s.sockopts().unix.is_some() {
                return "l4lb cannot move a server on a unix socket to an IP address at run \
                        time; change its line and reload.\n"
                    .into();
            }
            let Ok(ip) = ip.parse::<IpAddr>() else {
                return format!("'{ip}' is not an IP address.\n");
            };
            let port = match port {
                [] => s.addr().port(),
                ["port", p] => match p.parse::<u16>() {
                    Ok(p) if p > 0 => p,
                    _ => return format!("'{p}' is not a port.\n"),
                },
                _ => return "Require 'addr <ip> [port <port>]'.\n".into(),
            };
            let old = s.addr();
            let new = SocketAddr::new(ip, port);
            s.set_addr(new);
            format!(
                "IP changed from '{}' to '{}', port changed from '{}' to '{}' by 'stats socket command'\n",
                old.ip(),
                new.ip(),
                old.port(),
                new.port()
            )
        }),
        ["weight" | "addr", ..] | [] => {
            "Require 'set server <bk>/<srv> state|weight|addr ...'.\n".into()
        }
        [what, ..] => {
            format!("'set server' does not know '{what}'; accepted: state, weight, addr.\n")
        }
    }
}

/// `N` (0..=256) or `N%` of the conf weight (capped at 256), with
/// HAProxy's errors.
fn parse_weight(w: &str, s: &Server) -> Result<u32, String> {
    let digits = w
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(w.len(), |(i, _)| i);
    let (n, rest) = w.split_at(digits);
    let Ok(n) = n.parse::<i64>() else {
        return Err("Empty weight string empty or preceded by garbage\n".into());
    };
    match rest {
        "%" if n < 0 => Err("Relative weight must be positive.\n".into()),
        "%" => {
            let w = i64::from(s.conf_weight()) * n.min(25_600) / 100;
            Ok(w.min(256) as u32)
        }
        _ if !(0..=256).contains(&n) => {
            Err("Absolute weight can only be between 0 and 256 inclusive.\n".into())
        }
        "" => Ok(n as u32),
        _ => Err("Trailing garbage in weight string\n".into()),
    }
}

/// `show servers state`: HAProxy's format version 1 (the columns l4lb has;
/// the others hold HAProxy's neutral value).
fn servers_state(shared: &Shared, backend: &[&str]) -> String {
    let only = match backend {
        [] => None,
        [b] => match shared.backend_index(b) {
            Some(i) => Some(i),
            None => return format!("Can't find backend '{b}'.\n"),
        },
        _ => return "Require 'show servers state [<backend>]'.\n".into(),
    };
    let mut out = String::from(
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight \
         srv_iweight srv_time_since_last_change srv_check_status srv_check_result \
         srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id \
         srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr \
         srv_agent_port\n",
    );
    let now_ms = shared.process.started.elapsed().as_millis() as u64;
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    for (b, be) in shared.config.backends.iter().enumerate() {
        if only.is_some_and(|o| o != b) {
            continue;
        }
        for (i, s) in shared.servers[b].iter().enumerate() {
            let addr = s.addr();
            // HAProxy shows a unix server's address as "-" (port 0).
            let ip = match s.sockopts().unix {
                Some(_) => "-".to_string(),
                None => addr.ip().to_string(),
            };
            // HAProxy: op_state 0 = stopped, 2 = running; admin bit 0x01 =
            // forced maintenance, 0x08 = forced drain.
            let op = if s.is_up() { 2 } else { 0 };
            let admin = match s.admin() {
                Admin::Ready => 0,
                Admin::Maint => 1,
                Admin::Drain => 8,
            };
            let since = now_ms.saturating_sub(s.check.last_change_ms.load(relaxed)) / 1000;
            let checked = s.check.enabled.load(relaxed);
            let conf = be.servers.iter().find(|c| c.name == s.name);
            let fqdn = conf.and_then(|c| c.configured.fqdn()).unwrap_or("-");
            let _ = writeln!(
                out,
                "{} {} {} {} {} {op} {admin} {} {} {since} {} {} {} {} 0 0 0 {fqdn} {} - 0 0 - - 0",
                shared.config.frontends.len() + b + 1,
                be.name,
                i + 1,
                s.name,
                ip,
                s.weight(),
                s.conf_weight(),
                s.check.status.load(relaxed),
                u8::from(s.is_up()) * 3,
                s.check.health.load(relaxed),
                if checked { 6 } else { 0 },
                addr.port(),
            );
        }
    }
    out
}

fn add_server(rt: &mut dyn Runtime, target: &str, addr: &str, opts: &[&str]) -> Answer {
    let now = |text: String| Answer::Now(text);
    let Some((backend, name)) = target.split_once('/') else {
        return now("Require 'backend/server'.\n".into());
    };
    let shared = rt.shared();
    let Some(b) = shared.backend_index(backend) else {
        return now("No such backend.\n".into());
    };
    if shared.servers[b].iter().any(|s| s.name == name) {
        return now(format!(
            "Already exists a server with the same name in backend {backend}.\n"
        ));
    }
    let mut line = vec!["server".to_string(), name.to_string(), addr.to_string()];
    line.extend(opts.iter().map(|o| o.to_string()));
    let conf = match crate::config::server_line(&line) {
        Ok(c) => c,
        Err(e) => return now(format!("{e}\n")),
    };
    after_switch(
        rt.add_server(b, conf)
            .map(|()| "New server registered.\n".into()),
    )
}

fn del_server(rt: &mut dyn Runtime, target: &str) -> Answer {
    let (b, s) = match find(&rt.shared(), target) {
        Ok(found) => found,
        Err(e) => return Answer::Now(e),
    };
    if s.admin() != Admin::Maint {
        return Answer::Now("Only servers in maintenance mode can be deleted.\n".into());
    }
    if s.cur() > 0 {
        return Answer::Now(
            "Server still has connections attached to it, cannot remove it.\n".into(),
        );
    }
    after_switch(
        rt.del_server(b, &s.name)
            .map(|()| "Server deleted.\n".into()),
    )
}
