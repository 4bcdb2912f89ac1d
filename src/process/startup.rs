//! Start-up: logging, configuration, the fork of `daemon`, limits,
//! listeners, the chroot and the drop of privileges, workers, then the
//! supervisor, which runs until the stop. Every start-up error is printed
//! here, in one place (by the waiting parent, in daemon mode).

use std::io;
use std::process::ExitCode;
use std::sync::Arc;

use mio::{Poll, Waker};

use crate::cli::Args;
use crate::config::{Config, Source, Takeover};
use crate::control::{Control, Handle};
use crate::health::{self, ProberParts};
use crate::logs::logger::Logger;
use crate::process::binds;
use crate::process::daemon::{self, Notice, Role};
use crate::process::fds;
use crate::process::notify;
use crate::process::pidfile::PidFile;
use crate::process::privileges;
use crate::process::supervisor::{self, Supervisor};
use crate::process::upgrade::Upgrade;
use crate::shared::Shared;
use crate::sys::{self, SignalFd};
use crate::worker::Worker;
use crate::worker::token;

/// Runs l4lb with parsed flags and returns the process exit code.
pub fn main(args: Args) -> ExitCode {
    init_logging(&args);
    let loaded = Source::from_args(&args).and_then(|source| Ok((load(&source)?, source)));
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
    let quiet = (args.quiet || config.process.quiet) && !args.verbose;
    if quiet && args.log_level.is_none() {
        log::set_max_level(log::LevelFilter::Error);
    }
    for w in &config.warnings {
        log::warn!("{w}");
    }
    if args.check {
        if !quiet {
            for line in config.summary() {
                println!("{line}");
            }
            println!("Configuration file is valid");
        }
        return ExitCode::SUCCESS;
    }
    let upgrade = match Upgrade::new(Takeover::from_args(&args)) {
        Ok(upgrade) => upgrade,
        Err(e) => {
            eprintln!("l4lb: {e}");
            return ExitCode::from(2);
        }
    };
    // Before any thread exists: see `daemon`.
    let notice = if config.process.daemon {
        match daemon::fork() {
            Ok(Role::Parent(parent)) => return parent.wait(),
            Ok(Role::Child(notice)) => Some(notice),
            Err(e) => {
                eprintln!("l4lb: daemon: cannot fork: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        None
    };
    let mut ready = Ready { notice };
    match serve(config, source, &upgrade, &mut ready) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match ready.notice.take() {
                Some(notice) => notice.failed(&format!("l4lb: {e}\n")),
                None => eprintln!("l4lb: {e}"),
            }
            ExitCode::from(1)
        }
    }
}

/// `--log-level`, else `-V` (debug) or `-q` (errors only), else `RUST_LOG`
/// or info.
fn init_logging(args: &Args) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    let level = match (&args.log_level, args.verbose, args.quiet) {
        (Some(level), _, _) => Some(level.as_str()),
        (None, true, _) => Some("debug"),
        (None, false, true) => Some("error"),
        (None, false, false) => None,
    };
    if let Some(level) = level {
        builder.parse_filters(level);
    }
    builder.format_target(false).init();
}

/// What is left to do once every thread runs: the daemon's word to its
/// parent (until it is said).
struct Ready {
    notice: Option<Notice>,
}

/// Binds, drops privileges, starts the workers and the prober, and hands
/// over to the supervisor until the stop.
fn serve(
    mut config: Config,
    mut source: Source,
    upgrade: &Upgrade,
    ready: &mut Ready,
) -> io::Result<()> {
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
    let inherited = upgrade.inherit(&shared.config)?;
    // Opened as the user who started l4lb, outside the chroot.
    let pidfile = shared
        .config
        .process
        .pidfile
        .as_deref()
        .map(PidFile::create)
        .transpose()?;
    if let Some(dir) = &shared.config.process.chroot {
        source.set_chroot(dir);
    }
    let mut supervisor =
        Supervisor::new(signals, Arc::clone(&shared), source, upgrade.takes_over())?;
    let cfg = &shared.config;
    let sets = binds::for_workers(cfg, &binds::list(cfg), cfg.threads, inherited)?;
    // Everything is bound and no thread runs yet: see `privileges`.
    privileges::enter(&cfg.process)?;
    if let Some(logger) = logger {
        supervisor.set_logger(logger.spawn(Arc::clone(&shared.config))?);
    }
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
    // Before the ready line and systemd's READY=1, so that whoever sees
    // them finds the pid.
    if let Some(pidfile) = pidfile {
        pidfile.write(sys::getpid())?;
    }
    announce(&shared);
    if let Some(notice) = ready.notice.take() {
        notice.ready()?;
    }
    upgrade.stop_old();
    supervisor.run()
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
        match fe.backend.map(|b| &cfg.backends[b]) {
            Some(be) => log::info!(
                "frontend {} on {} -> backend {} ({} servers)",
                fe.name,
                binds.join(", "),
                be.name,
                be.servers.len()
            ),
            None => log::info!(
                "frontend {} on {} -> use_backend rules",
                fe.name,
                binds.join(", ")
            ),
        }
    }
    let status = format!("{} worker(s), maxconn {}", cfg.threads, cfg.maxconn);
    log::info!("l4lb ready: {status}");
    notify::ready(&format!("serving: {status}"));
}

/// The conf as `source` reads now, with the check TLS settings loaded
/// (their CA files read) so that their errors are conf errors too.
pub(crate) fn load(
    source: &Source,
) -> Result<crate::config::Config, Vec<crate::config::ConfError>> {
    let config = source.load()?;
    let errors = health::tls_errors(&config, source.name());
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors)
    }
}
