//! The supervisor as the admin services see it: the [`api::Runtime`] the
//! runtime API drives, and the `stats` sockets moved after a reload.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Instant;

use super::{API_TOKENS, METRICS_TOKENS, Phase, Supervisor};
use crate::admin::api::{self, Api};
use crate::admin::metrics::Metrics;
use crate::admin::stats::Rates;
use crate::backend::Server;
use crate::config::{Config, ServerConf};
use crate::control::Control;
use crate::logs::tcplog::Cause;
use crate::process::reload::{ReloadError, Trigger};
use crate::shared::Shared;

impl Supervisor {
    /// After a reload changed the `stats` lines: the runtime API keeps the
    /// sockets whose path stayed and opens or closes the others; the
    /// metrics endpoint moves to its new address. A socket that cannot be
    /// bound is logged and stays closed (the rest of the reload holds).
    pub(super) fn rebind_stats(&mut self) {
        let cfg = &self.shared.config;
        let errors = match &mut self.api {
            Some(api) => api.rebind(cfg),
            None if cfg.stats_sockets.is_empty() => Vec::new(),
            None => match Api::bind(cfg, self.poll.registry(), API_TOKENS, false) {
                Ok(api) => {
                    self.api = Some(api);
                    Vec::new()
                }
                Err(e) => vec![e.to_string()],
            },
        };
        for e in errors {
            log::error!("reload: {e}");
        }
        for path in self.api.iter().flat_map(Api::paths) {
            log::info!("runtime API on {}", path.display());
        }
        let want = cfg.stats_http;
        if self.metrics.as_ref().map(Metrics::configured) == want {
            return;
        }
        let bound = want.map(|addr| {
            Metrics::bind(addr, self.poll.registry(), METRICS_TOKENS).or_else(|e| {
                if e.kind() != io::ErrorKind::AddrInUse || self.metrics.is_none() {
                    return Err(e);
                }
                // The old address holds the port (0.0.0.0:P -> 127.0.0.1:P):
                // closed first.
                self.metrics = None;
                Metrics::bind(addr, self.poll.registry(), METRICS_TOKENS)
            })
        });
        match bound {
            None => {
                self.metrics = None;
                log::info!("reload: metrics endpoint closed");
            }
            Some(Ok(m)) => {
                log::info!("metrics on http://{}/metrics and /stats", m.addr());
                self.metrics = Some(m);
            }
            Some(Err(e)) => log::error!("reload: {e}"),
        }
    }
}

impl api::Runtime for Supervisor {
    fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    fn rates(&self) -> &Rates {
        &self.rates
    }

    fn stopping(&self) -> bool {
        self.phase != Phase::Serving
    }

    fn rebalance(&mut self) {
        self.rebalance_all();
    }

    fn slow_start(&mut self, server: &Arc<Server>) {
        let cfg = &self.shared.config;
        let conf = self
            .shared
            .servers
            .iter()
            .zip(&cfg.backends)
            .find_map(|(list, be)| {
                let i = list.iter().position(|s| Arc::ptr_eq(s, server))?;
                Some(&be.servers[i])
            });
        if let Some(conf) = conf {
            self.ramps.start(server, conf.slowstart, Instant::now());
        }
    }

    fn shutdown_sessions(&mut self, server: &Arc<Server>) {
        for w in &self.workers {
            w.send(Control::ShutdownSessions(Arc::clone(server), Cause::Killed));
        }
    }

    fn add_server(&mut self, backend: usize, conf: ServerConf) -> Result<(), ReloadError> {
        let mut config = Config::clone(&self.shared.config);
        let name = format!("{}/{}", config.backends[backend].name, conf.name);
        config.backends[backend].servers.push(conf);
        let line = format!("server {name} added (runtime API)");
        self.apply(config, Trigger::Api(line)).map(drop)
    }

    fn del_server(&mut self, backend: usize, name: &str) -> Result<(), ReloadError> {
        let mut config = Config::clone(&self.shared.config);
        let label = format!("{}/{name}", config.backends[backend].name);
        config.backends[backend].servers.retain(|s| s.name != name);
        let line = format!("server {label} deleted (runtime API)");
        self.apply(config, Trigger::Api(line)).map(drop)
    }

    fn reload(&mut self) -> Result<String, ReloadError> {
        Supervisor::reload(self)
    }

    fn switching(&self) -> bool {
        self.switching.is_some()
    }

    fn switched(&self) -> u64 {
        self.switched
    }

    fn listener_fds(&self) -> Vec<(OwnedFd, crate::config::SockAddr)> {
        self.listeners.copies()
    }
}
