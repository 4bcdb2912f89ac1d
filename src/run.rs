//! Start-up: logging, configuration, limits, listeners, workers, then the
//! supervisor, which runs until the stop. Every start-up error is printed
//! here, in one place.

use std::io;
use std::process::ExitCode;
use std::sync::Arc;

use mio::net::TcpListener;
use mio::{Poll, Waker};

use crate::cli::Args;
use crate::config::{Config, Source};
use crate::control::Handle;
use crate::fds;
use crate::health::{self, ProberParts};
use crate::listener;
use crate::logger::Logger;
use crate::notify;
use crate::shared::Shared;
use crate::supervisor::{self, Supervisor};
use crate::sys::{self, SignalFd};
use crate::token;
use crate::upgrade;
use crate::worker::Worker;
use std::os::fd::AsFd;

/// Runs l4lb with parsed flags and returns the process exit code.
pub fn main(args: Args) -> ExitCode {
    init_logging(args.log_level.as_deref());
    let loaded = Source::from_args(&args).and_then(|source| Ok((source.load()?, source)));
    let (config, source) = match loaded {
        Ok(loaded) => loaded,
        Err(errors) => {
            for e in &errors {
                eprintln!("l4lb: {e}");
            }
            eprintln!("l4lb: configuration is invalid ({} error(s))", errors.len());
            return ExitCode::from(1);
        }
    };
    for w in &config.warnings {
        log::warn!("{w}");
    }
    if args.check {
        for line in config.summary() {
            println!("{line}");
        }
        println!("Configuration file is valid");
        return ExitCode::SUCCESS;
    }
    match serve(config, source, args.upgrade_from) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("l4lb: {e}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(level: Option<&str>) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if let Some(level) = level {
        builder.parse_filters(level);
    }
    builder.format_target(false).init();
}

/// Binds, starts the workers and the prober, and hands over to the
/// supervisor until the stop.
fn serve(mut config: Config, source: Source, upgrade_from: Option<i32>) -> io::Result<()> {
    config.maxpipes = fds::fit_at_start(&config)?;
    // Blocked before any thread starts, so that only the supervisor's
    // signalfd sees them.
    let signals = SignalFd::block(&supervisor::SIGNALS_HANDLED)?;
    // The prober's channel exists before the workers, which report
    // `observe layer4` error runs to it.
    let prober = health::needs_prober(&config)
        .then(ProberParts::new)
        .transpose()?;
    let observer = prober.as_ref().map(ProberParts::observer);
    let logger = Logger::new(&config);
    let log_tx = logger.as_ref().map(Logger::sender);
    let shared = Arc::new(Shared::new(config, observer).with_log(log_tx));
    // An upgrade takes the old process's listening sockets before anything
    // binds, so its accept queues carry over.
    let mut inherited = match upgrade_from {
        Some(pid) => {
            let api = shared.config.stats_sockets.first().ok_or_else(|| {
                io::Error::other("--upgrade-from needs a `stats socket` (level admin) in the conf")
            })?;
            let socks = upgrade::take_listeners(&api.path)?;
            log::info!(
                "upgrade: took {} listening socket(s) from pid {pid}",
                socks.len()
            );
            socks
        }
        None => Vec::new(),
    };
    let takeover = upgrade_from.is_some();
    let mut supervisor = Supervisor::new(signals, Arc::clone(&shared), source, takeover)?;
    if let Some(logger) = logger {
        supervisor.set_logger(logger.spawn(Arc::clone(&shared.config))?);
    }
    let cfg = &shared.config;
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let mut sets = (0..cfg.threads)
        .map(|_| bind_all(&shared, &mut inherited))
        .collect::<io::Result<Vec<_>>>()?;
    // Inherited sockets beyond one per worker still hold queued clients:
    // they are shared out too. Those of binds gone from the conf close.
    let workers = sets.len();
    for (i, (sock, addr)) in inherited.into_iter().enumerate() {
        if let Some(f) = find_bind(cfg, addr) {
            sets[i % workers].push((TcpListener::from_std(sock), f));
        }
    }
    for set in &sets {
        for (sock, _) in set {
            if let (Ok(fd), Ok(addr)) = (sock.as_fd().try_clone_to_owned(), sock.local_addr()) {
                supervisor.keep_listener(fd, addr);
            }
        }
    }
    for (id, listeners) in sets.into_iter().enumerate() {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), token::WAKER)?);
        let (tx, rx) = crossbeam_channel::unbounded();
        let worker = Worker::new(id, poll, rx, Arc::clone(&shared), listeners)?;
        let core = cfg
            .cpu_affinity
            .then(|| cores.get(id % cores.len().max(1)).copied())
            .flatten();
        let exit = supervisor.exit_notice(id);
        let thread = std::thread::Builder::new()
            .name(format!("l4lb-w{id}"))
            .spawn(move || {
                let _exit = exit;
                if let Some(core) = core
                    && !core_affinity::set_for_current(core)
                {
                    log::warn!("worker {id}: could not pin to core {}", core.id);
                }
                worker.run()
            })?;
        supervisor.add_worker(Handle {
            thread,
            control: tx,
            waker,
        });
    }
    if let Some(parts) = prober {
        let prober = parts.spawn(&shared, supervisor.worker_controls())?;
        supervisor.set_prober(prober);
    }
    announce(&shared);
    if let Some(pid) = upgrade_from {
        match sys::kill(pid, libc::SIGUSR1) {
            Ok(()) => log::info!("upgrade: told pid {pid} to stop gracefully (SIGUSR1)"),
            Err(e) => log::warn!("upgrade: cannot signal pid {pid}: {e}"),
        }
    }
    supervisor.run()
}

/// The index of the frontend that binds `addr`.
fn find_bind(cfg: &Config, addr: std::net::SocketAddr) -> Option<usize> {
    cfg.frontends
        .iter()
        .position(|fe| fe.binds.iter().any(|b| b.addr == addr))
}

/// One worker's listeners: a SO_REUSEPORT socket for every bind, taken from
/// `inherited` (an upgrade) when one of that address is left.
fn bind_all(
    shared: &Shared,
    inherited: &mut Vec<(std::net::TcpListener, std::net::SocketAddr)>,
) -> io::Result<Vec<(TcpListener, usize)>> {
    let mut out = Vec::new();
    for (i, fe) in shared.config.frontends.iter().enumerate() {
        let backlog = i32::try_from(fe.maxconn).unwrap_or(i32::MAX);
        for bind in &fe.binds {
            if let Some(pos) = inherited.iter().position(|(_, a)| *a == bind.addr) {
                let (sock, _) = inherited.swap_remove(pos);
                out.push((TcpListener::from_std(sock), i));
                continue;
            }
            let sock =
                listener::bind_reuseport(bind.addr, backlog, fe.tcp_keepalive).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot bind {} (frontend {}): {e}", bind.addr, fe.name),
                    )
                })?;
            out.push((sock, i));
        }
    }
    Ok(out)
}

fn announce(shared: &Shared) {
    let cfg = &shared.config;
    for fe in &cfg.frontends {
        let binds: Vec<String> = fe.binds.iter().map(|b| b.addr.to_string()).collect();
        let be = &cfg.backends[fe.backend];
        log::info!(
            "frontend {} on {} -> backend {} ({} servers)",
            fe.name,
            binds.join(", "),
            be.name,
            be.servers.len()
        );
    }
    let status = format!("{} worker(s), maxconn {}", cfg.threads, cfg.maxconn);
    log::info!("l4lb ready: {status}");
    notify::ready(&format!("serving: {status}"));
}
