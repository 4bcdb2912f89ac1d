//! Live reload: from a new, fully validated [`Config`] to the snapshot that
//! follows the running one, keeping everything whose identity matters, and
//! the steps that put it in force.
//!
//! - Frontends and backends keep their counters (by name); binds present
//!   in both configurations keep their listening sockets, never closed.
//! - Servers are matched by backend and server name: the same [`Server`]
//!   object carries on (counters, health, connections). An unchanged line
//!   keeps what the runtime API set (state, weight, address); a changed line
//!   takes the new settings. New servers start UP, as at startup; removed
//!   ones leave the snapshot, and their connections end normally.
//! - What the running process cannot change (worker count, buffer and pipe
//!   sizes) keeps its value, and the summary says so. A conf whose worst
//!   case of fds does not fit the limit is refused ([`fds::fit_reload`]).
//!   Log targets follow each record's snapshot. The supervisor moves the
//!   `stats` sockets and starts the prober or the logger thread for the
//!   first `check` or `option tcplog` ([`SideThreads`]).
//!
//! The supervisor applies a [`plan`] in steps: it binds the new listeners
//! for every worker ([`crate::process::binds`]), so a bind that fails changes
//! nothing; starts the [`SideThreads`] and the slow starts of new servers
//! ([`ramp_new_servers`]); hands the snapshot over ([`hand_over`]); then is
//! [`Switching`] until every worker and the prober run it, and only then do
//! kept servers take their changed lines (`switch`). Sessions keep the
//! snapshot they started with.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Instant;

use crate::backend::Server;
use crate::backend::slowstart::SlowStarts;
use crate::config::{Backend, ConfError, Config, Frontend, ServerConf};
use crate::health::{self, ProberParts};
use crate::logs::logger::Logger;
use crate::process::binds::{self, Bind, BindError};
use crate::process::fds;
use crate::shared::Shared;

mod switch;

pub use switch::{Reports, SWITCH_WAIT, Switched, Switching, Trigger, hand_over};

/// Why a reload, or a runtime API change that makes a new snapshot, did
/// not happen. Nothing changed then.
#[derive(Debug)]
pub enum ReloadError {
    /// The process is stopping.
    Stopping,
    /// A switch to a new snapshot is pending: one at a time.
    Busy,
    /// The configuration read again has errors (each one is logged).
    Invalid(Vec<ConfError>),
    Bind(BindError),
    FdLimit(fds::Refusal),
    /// The prober's or the logger's thread could not start.
    Thread {
        name: &'static str,
        err: io::Error,
    },
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadError::Stopping => f.write_str("stopping: reload refused"),
            ReloadError::Busy => f.write_str("a reload is being applied"),
            ReloadError::Invalid(errors) => write!(
                f,
                "configuration is invalid ({} error(s)); still running the previous one",
                errors.len()
            ),
            ReloadError::Bind(e) => e.fmt(f),
            ReloadError::FdLimit(e) => e.fmt(f),
            ReloadError::Thread { name, err } => write!(f, "cannot start the {name}: {err}"),
        }
    }
}

/// What a reload will do.
pub struct Plan {
    pub shared: Shared,
    /// Binds to open: address, frontend index.
    pub new_binds: Vec<Bind>,
    /// One line for the log and the API.
    pub summary: String,
    /// Kept servers whose line changed, with the new line: applied once
    /// every worker runs the new snapshot (see [`Switching`]).
    pub changed: Vec<(Arc<Server>, ServerConf)>,
}

/// The snapshot that follows `old` for `config`, or why it cannot be.
pub fn plan(old: &Shared, mut config: Config) -> Result<Plan, ReloadError> {
    let was = &old.config;
    let kept = keep_fixed_settings(was, &mut config);
    fds::fit_reload(was, &config).map_err(ReloadError::FdLimit)?;
    let (new_binds, removed_binds) = bind_diff(&binds::list(was), &binds::list(&config));
    let frontends = carry_by_name(&was.frontends, &old.frontends, &config.frontends);
    let backends = carry_by_name(&was.backends, &old.backends, &config.backends);
    let servers = match_servers(old, &config);
    let summary = summary(&config, (new_binds.len(), removed_binds), &servers, &kept);
    let shared = Shared {
        config: Arc::new(config),
        servers: servers.lists,
        process: Arc::clone(&old.process),
        frontends,
        backends,
        observer: old.observer.clone(),
        log: old.log.clone(),
    };
    Ok(Plan {
        shared,
        new_binds,
        summary,
        changed: servers.changed,
    })
}

/// Gives `config` the running values of what needs a restart to change;
/// returns those it had changed, for the summary.
fn keep_fixed_settings(was: &Config, config: &mut Config) -> Vec<String> {
    let mut kept = Vec::new();
    if config.threads != was.threads {
        kept.push(format!("nbthread {}", was.threads));
        config.threads = was.threads;
    }
    config.cpu_affinity = was.cpu_affinity;
    // The pools are per worker, made at start.
    config.maxpipes = was.maxpipes;
    if config.bufsize != was.bufsize || config.pipesize != was.pipesize {
        kept.push("tune.bufsize/tune.pipesize".into());
        config.bufsize = was.bufsize;
        config.pipesize = was.pipesize;
    }
    if config.process != was.process {
        kept.push("daemon/pidfile/user/group/chroot/ulimit-n/unix-bind".into());
        config.process = was.process.clone();
    }
    kept
}

/// The binds of `now` whose address `was` has not, and how many of `was`
/// are gone.
fn bind_diff(was: &[Bind], now: &[Bind]) -> (Vec<Bind>, usize) {
    let has = |list: &[Bind], addr: &crate::config::SockAddr| list.iter().any(|(a, _)| a == addr);
    let added = now.iter().filter(|(a, _)| !has(was, a)).cloned();
    let removed = was.iter().filter(|(a, _)| !has(now, a)).count();
    (added.collect(), removed)
}

/// A section matched by name across a reload.
trait Named {
    fn name(&self) -> &str;
}

impl Named for Frontend {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for Backend {
    fn name(&self) -> &str {
        &self.name
    }
}

/// The counters of each section of `now`: those of the section of the
/// same name in `was` (`counters` is indexed like `was`), or new ones.
fn carry_by_name<S: Named, T: Default>(was: &[S], counters: &[Arc<T>], now: &[S]) -> Vec<Arc<T>> {
    now.iter()
        .map(|section| {
            was.iter()
                .position(|o| o.name() == section.name())
                .map_or_else(Arc::default, |i| Arc::clone(&counters[i]))
        })
        .collect()
}

/// The servers of a new snapshot, matched to the running ones by name.
struct Matched {
    /// Indexed like the new conf's backends.
    lists: Vec<Vec<Arc<Server>>>,
    changed: Vec<(Arc<Server>, ServerConf)>,
    added: usize,
    removed: usize,
}

fn match_servers(old: &Shared, now: &Config) -> Matched {
    let was = &old.config;
    let (mut added, mut same, mut changed) = (0, 0, Vec::new());
    let mut lists = Vec::with_capacity(now.backends.len());
    for be in &now.backends {
        let before = was.backends.iter().position(|b| b.name == be.name);
        let mut list = Vec::with_capacity(be.servers.len());
        for conf in &be.servers {
            let prior = before.and_then(|b| {
                let i = was.backends[b]
                    .servers
                    .iter()
                    .position(|s| s.name == conf.name)?;
                Some((&was.backends[b].servers[i], &old.servers[b][i]))
            });
            list.push(match prior {
                // Unchanged: what the runtime API set stands.
                Some((line, server)) if line == conf => {
                    same += 1;
                    Arc::clone(server)
                }
                Some((_, server)) => {
                    changed.push((Arc::clone(server), conf.clone()));
                    Arc::clone(server)
                }
                None => {
                    added += 1;
                    Arc::new(Server::new(conf))
                }
            });
        }
        lists.push(list);
    }
    let before: usize = old.servers.iter().map(Vec::len).sum();
    let removed = before - same - changed.len();
    Matched {
        lists,
        changed,
        added,
        removed,
    }
}

/// The plan in one line: sections, binds (added, removed), servers
/// (added, removed, changed), and what was kept.
fn summary(config: &Config, binds: (usize, usize), servers: &Matched, kept: &[String]) -> String {
    let mut summary = format!(
        "{} frontend(s), {} backend(s); binds +{} -{}; servers +{} -{} ~{}",
        config.frontends.len(),
        config.backends.len(),
        binds.0,
        binds.1,
        servers.added,
        servers.removed,
        servers.changed.len(),
    );
    if !kept.is_empty() {
        summary += &format!("; kept (a change needs a restart): {}", kept.join(", "));
    }
    summary
}

/// The side threads a new snapshot needs that the process has not started
/// yet: the prober for the first `check`, the logger for the first `option
/// tcplog`. Made before the snapshot is shared, as it carries their
/// channels ([`SideThreads::wire`]); the supervisor starts them with it.
pub struct SideThreads {
    pub prober: Option<ProberParts>,
    pub logger: Option<Logger>,
}

impl SideThreads {
    /// Those `config` needs, less those running.
    pub fn missing(
        config: &Config,
        prober_running: bool,
        logger_running: bool,
    ) -> Result<SideThreads, ReloadError> {
        let prober = (!prober_running && health::needs_prober(config))
            .then(ProberParts::new)
            .transpose()
            .map_err(|err| ReloadError::Thread {
                name: "prober",
                err,
            })?;
        let logger = if logger_running {
            None
        } else {
            Logger::new(config)
        };
        Ok(SideThreads { prober, logger })
    }

    /// Gives `shared` the channels of the threads to start.
    pub fn wire(&self, shared: &mut Shared) {
        if let Some(p) = &self.prober {
            shared.observer = Some(p.observer());
        }
        if let Some(l) = &self.logger {
            shared.log = Some(l.sender());
        }
    }
}

/// Starts the slow start of every server of `new` that `old` has not,
/// before any worker can pick it.
pub fn ramp_new_servers(old: &Shared, new: &Shared, ramps: &mut SlowStarts, now: Instant) {
    let known = |server: &Arc<Server>| old.servers.iter().flatten().any(|s| Arc::ptr_eq(s, server));
    for (be, servers) in new.config.backends.iter().zip(&new.servers) {
        for (conf, server) in be.servers.iter().zip(servers) {
            if !known(server) {
                ramps.start(server, conf.slowstart, now);
            }
        }
    }
}

/// Whether the `stats` lines changed: the API and metrics sockets follow.
pub fn stats_changed(was: &Config, now: &Config) -> bool {
    was.stats_sockets != now.stats_sockets
        || was.stats_timeout != now.stats_timeout
        || was.stats_maxconn != now.stats_maxconn
        || was.stats_http != now.stats_http
        || was.stats_pages != now.stats_pages
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Defaults, then `rest`.
    fn config(rest: &str) -> Config {
        let text = format!("defaults\n mode tcp\n timeout client 1s\n timeout server 1s\n{rest}");
        Config::from_text("t.conf", text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// Frontend `fe` on 127.0.0.1:1 to backend `be` with `servers`.
    fn one_backend(servers: &str) -> Config {
        config(&format!(
            "frontend fe\n bind 127.0.0.1:1\n default_backend be\nbackend be\n{servers}"
        ))
    }

    fn names(shared: &Shared, backend: usize) -> Vec<&str> {
        shared.servers[backend]
            .iter()
            .map(|s| s.name.as_str())
            .collect()
    }

    #[test]
    fn servers_are_matched_by_name_and_changed_lines_wait_for_the_switch() {
        let old = Shared::new(
            one_backend(" server a 127.0.0.1:2\n server b 127.0.0.1:3\n server c 127.0.0.1:4\n"),
            None,
        );
        let now = one_backend(
            " server d 127.0.0.1:5\n server b 127.0.0.1:3 weight 5\n server a 127.0.0.1:2\n",
        );
        let plan = plan(&old, now).unwrap();
        assert_eq!(names(&plan.shared, 0), ["d", "b", "a"]);
        let (a, b) = (&old.servers[0][0], &old.servers[0][1]);
        assert!(Arc::ptr_eq(&plan.shared.servers[0][2], a), "a carries on");
        assert!(Arc::ptr_eq(&plan.shared.servers[0][1], b), "b carries on");
        assert!(
            !old.servers[0]
                .iter()
                .any(|s| Arc::ptr_eq(s, &plan.shared.servers[0][0])),
            "d is new"
        );
        assert_eq!(plan.changed.len(), 1);
        assert!(Arc::ptr_eq(&plan.changed[0].0, b));
        assert_eq!(plan.changed[0].1.weight, 5);
        assert_eq!(b.weight(), 1, "not before the switch");
        assert!(
            plan.summary.ends_with("servers +1 -1 ~1"),
            "{}",
            plan.summary
        );
    }

    #[test]
    fn binds_are_added_and_removed_by_address() {
        let old = Shared::new(
            config(
                "frontend fe\n bind 127.0.0.1:1\n bind 127.0.0.1:2\n default_backend be\n\
                 backend be\n server a 127.0.0.1:9\n",
            ),
            None,
        );
        let now = config(
            "frontend other\n bind 127.0.0.1:7\n default_backend be\n\
             frontend fe\n bind 127.0.0.1:2\n bind 127.0.0.1:3\n default_backend be\n\
             backend be\n server a 127.0.0.1:9\n",
        );
        let plan = plan(&old, now).unwrap();
        let at = |port| crate::config::SockAddr::Inet(([127, 0, 0, 1], port).into());
        assert_eq!(plan.new_binds, [(at(7), 0), (at(3), 1)]);
        assert!(
            plan.summary
                .starts_with("2 frontend(s), 1 backend(s); binds +2 -1; servers +0 -0 ~0"),
            "{}",
            plan.summary
        );
    }

    #[test]
    fn what_needs_a_restart_keeps_its_value_and_the_summary_says_so() {
        let mut was = one_backend(" server a 127.0.0.1:2\n");
        (was.threads, was.maxpipes) = (2, 7);
        let old = Shared::new(Config::clone(&was), None);
        let mut now = Config::clone(&was);
        (now.threads, now.maxpipes) = (4, 100);
        now.bufsize *= 2;
        now.maxconn += 1;
        let plan = plan(&old, now).unwrap();
        let cfg = &plan.shared.config;
        assert_eq!((cfg.threads, cfg.maxpipes), (2, 7));
        assert_eq!(cfg.bufsize, was.bufsize);
        assert_eq!(cfg.maxconn, was.maxconn + 1, "maxconn may change");
        let note = "; kept (a change needs a restart): nbthread 2, tune.bufsize/tune.pipesize";
        assert!(plan.summary.ends_with(note), "{}", plan.summary);
        let same = Config::clone(&plan.shared.config);
        let again = super::plan(&plan.shared, same).unwrap();
        assert!(!again.summary.contains("kept"), "{}", again.summary);
    }

    #[test]
    fn frontends_and_backends_keep_their_counters_by_name() {
        let two = |a: &str, b: &str| {
            config(&format!(
                "frontend {a}\n bind 127.0.0.1:1\n default_backend {a}\n\
                 frontend {b}\n bind 127.0.0.1:2\n default_backend {b}\n\
                 backend {a}\n server s 127.0.0.1:9\nbackend {b}\n server s 127.0.0.1:9\n"
            ))
        };
        let old = Shared::new(two("x", "y"), None);
        let plan = plan(&old, two("y", "z")).unwrap();
        let new = &plan.shared;
        assert!(Arc::ptr_eq(&new.frontends[0], &old.frontends[1]), "y kept");
        assert!(Arc::ptr_eq(&new.backends[0], &old.backends[1]), "y kept");
        assert!(
            !old.frontends
                .iter()
                .any(|f| Arc::ptr_eq(f, &new.frontends[1]))
        );
        assert!(
            !old.backends
                .iter()
                .any(|b| Arc::ptr_eq(b, &new.backends[1]))
        );
        assert!(
            Arc::ptr_eq(&new.servers[0][0], &old.servers[1][0]),
            "y/s kept"
        );
        assert!(Arc::ptr_eq(&new.process, &old.process));
    }

    #[test]
    fn a_conf_whose_fds_cannot_fit_is_refused_with_the_arithmetic() {
        let old = Shared::new(one_backend(" server a 127.0.0.1:2\n"), None);
        let mut huge = one_backend(" server a 127.0.0.1:2\n");
        // Past fs.nr_open: no limit can be raised that far, even as root.
        huge.maxconn = 1 << 40;
        let Err(ReloadError::FdLimit(refusal)) = plan(&old, huge) else {
            panic!("not refused for its fds");
        };
        let msg = refusal.to_string();
        assert!(
            msg.contains("file descriptors at worst but the fd limit is"),
            "{msg}"
        );
    }
}
