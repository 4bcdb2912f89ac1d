//! Live reload: from a new, fully validated [`Config`] to the snapshot that
//! follows the running one, keeping everything whose identity matters.
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
//!   first `check` or `option tcplog`.
//!
//! The supervisor binds the new listeners and hands the snapshot to the
//! workers and the prober; sessions keep the snapshot they started with.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::backend::Server;
use crate::binds;
use crate::config::{Config, ServerConf};
use crate::fds;
use crate::shared::{BackendCount, FrontendStats, Shared};

/// What a reload will do.
pub struct Plan {
    pub shared: Shared,
    /// Binds to open: address, frontend index.
    pub new_binds: Vec<(SocketAddr, usize)>,
    /// One line for the log and the API.
    pub summary: String,
    /// Kept servers whose line changed, with the new line: applied once
    /// every worker runs the new snapshot (see [`Plan::apply_changes`]).
    pub changed: Vec<(Arc<Server>, ServerConf)>,
}

impl Plan {
    /// Gives the kept servers their new settings. Done only after every
    /// worker has switched, so no connection still balanced by the old
    /// snapshot sees a half-applied conf (a server that was its only one
    /// now at weight 0, say).
    pub fn apply_changes(changed: Vec<(Arc<Server>, ServerConf)>) {
        for (server, conf) in changed {
            server.apply_conf(&conf);
        }
    }
}

/// The snapshot that follows `old` for `config`, or why it cannot be.
pub fn plan(old: &Shared, mut config: Config) -> Result<Plan, String> {
    let was = &old.config;
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
    fds::fit_reload(was, &config).map_err(|e| e.to_string())?;

    let old_binds = binds::list(was);
    let new_binds: Vec<(SocketAddr, usize)> = binds::list(&config)
        .into_iter()
        .filter(|(a, _)| !old_binds.iter().any(|(o, _)| o == a))
        .collect();
    let removed_binds = old_binds
        .iter()
        .filter(|(a, _)| !binds::list(&config).iter().any(|(n, _)| n == a))
        .count();

    let frontends: Vec<Arc<FrontendStats>> = config
        .frontends
        .iter()
        .map(|fe| {
            was.frontends
                .iter()
                .position(|o| o.name == fe.name)
                .map_or_else(Arc::default, |i| Arc::clone(&old.frontends[i]))
        })
        .collect();

    let backends: Vec<Arc<BackendCount>> = config
        .backends
        .iter()
        .map(|be| {
            was.backends
                .iter()
                .position(|o| o.name == be.name)
                .map_or_else(Arc::default, |i| Arc::clone(&old.backends[i]))
        })
        .collect();

    let (mut added, mut same) = (0, 0);
    let mut changed = Vec::new();
    let mut servers = Vec::with_capacity(config.backends.len());
    for be in &config.backends {
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
                Some((old_conf, server)) if same_line(old_conf, conf) => {
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
        servers.push(list);
    }
    let before: usize = old.servers.iter().map(Vec::len).sum();
    let removed = before - same - changed.len();

    let mut summary = format!(
        "{} frontend(s), {} backend(s); binds +{} -{}; servers +{added} -{removed} ~{}",
        config.frontends.len(),
        config.backends.len(),
        new_binds.len(),
        removed_binds,
        changed.len(),
    );
    if !kept.is_empty() {
        summary += &format!("; kept (a change needs a restart): {}", kept.join(", "));
    }
    let shared = Shared {
        config: Arc::new(config),
        servers,
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
        changed,
    })
}

/// Whether a server line is unchanged (then the runtime API's changes to it
/// stand).
fn same_line(a: &ServerConf, b: &ServerConf) -> bool {
    a == b
}
