//! Start-up: logging, configuration, limits, listeners, workers, then the
//! supervisor, which runs until the stop. Every start-up error is printed
//! here, in one place.

use std::io;
use std::process::ExitCode;
use std::sync::Arc;

use mio::{Poll, Waker};

use crate::cli::Args;
use crate::config::{Config, Source};
use crate::control::{Control, Handle};
use crate::health::{self, ProberParts};
use crate::logs::logger::Logger;
use crate::process::binds;
use crate::process::fds;
use crate::process::notify;
use crate::process::supervisor::{self, Supervisor};
use crate::process::upgrade;
use crate::shared::Shared;
use crate::sys::{self, SignalFd};
use crate::worker::Worker;
use crate::worker::token;

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
    let inherited = match upgrade_from {
        Some(pid) => inherit_listeners(&shared.config, pid)?,
        None => Vec::new(),
    };
    let takeover = upgrade_from.is_some();
    let mut supervisor = Supervisor::new(signals, Arc::clone(&shared), source, takeover)?;
    if let Some(logger) = logger {
        supervisor.set_logger(logger.spawn(Arc::clone(&shared.config))?);
    }
    let cfg = &shared.config;
    let sets = binds::for_workers(cfg, &binds::list(cfg), cfg.threads, inherited)?;
    supervisor.keep_listeners(&sets);
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    for (id, listeners) in sets.into_iter().enumerate() {
        let core = cfg
            .cpu_affinity
            .then(|| cores.get(id % cores.len().max(1)).copied())
            .flatten();
        let worker = spawn_worker(id, &shared, listeners, core, &supervisor)?;
        supervisor.add_worker(worker);
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

/// `--upgrade-from PID`: the listening sockets of the l4lb `pid`, asked for
/// over the conf's first stats socket.
fn inherit_listeners(cfg: &Config, pid: i32) -> io::Result<Vec<binds::Inherited>> {
    let api = cfg.stats_sockets.first().ok_or_else(|| {
        io::Error::other("--upgrade-from needs a `stats socket` (level admin) in the conf")
    })?;
    let socks = upgrade::take_listeners(&api.path)?;
    log::info!(
        "upgrade: took {} listening socket(s) from pid {pid}",
        socks.len()
    );
    Ok(socks)
}

/// Starts worker `id` on its `listeners`, pinned to `core` if given.
fn spawn_worker(
    id: usize,
    shared: &Arc<Shared>,
    listeners: binds::Set,
    core: Option<core_affinity::CoreId>,
    supervisor: &Supervisor,
) -> io::Result<Handle<Control>> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), token::WAKER)?);
    let (tx, rx) = crossbeam_channel::unbounded();
    let worker = Worker::new(id, poll, rx, Arc::clone(shared), listeners)?;
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
    Ok(Handle {
        thread,
        control: tx,
        waker,
    })
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
