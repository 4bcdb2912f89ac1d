//! Command-line flags (argh). Only `config` looks at the daemon's, and it
//! checks their values: argh only splits and types them. Start-up (`process::startup`)
//! keeps a [`crate::config::Source`] of them for reloads, never [`Args`].
//! `l4lb ctl` is a subcommand, so `l4lb -f FILE` and every daemon flag stay
//! as they were.

use argh::FromArgs;

/// l4lb: a thread-per-core L4 TCP load balancer.
///
/// Reads a HAProxy-syntax configuration (mode tcp) with -f, or builds one
/// frontend and one backend from --bind and --server. Flags override the file.
#[derive(FromArgs, Debug, Default, Clone)]
pub struct Args {
    /// configuration file (HAProxy syntax, mode tcp)
    #[argh(option, short = 'f', arg_name = "FILE")]
    pub file: Option<String>,
    /// check the configuration, print a summary, exit 0 if valid or 1
    #[argh(switch, short = 'c')]
    pub check: bool,
    /// worker threads; overrides nbthread (default: available CPUs)
    #[argh(option, arg_name = "N")]
    pub threads: Option<usize>,
    /// log level: error, warn, info, debug or trace
    #[argh(option, arg_name = "LEVEL")]
    pub log_level: Option<String>,
    /// address to listen on, without -f (repeatable), e.g. 127.0.0.1:8080
    #[argh(option, arg_name = "ADDR")]
    pub bind: Vec<String>,
    /// server to balance over, without -f (repeatable), e.g. 127.0.0.1:9001
    #[argh(option, arg_name = "ADDR")]
    pub server: Vec<String>,
    /// roundrobin, leastconn, source, random or first; overrides every
    /// backend's balance
    #[argh(option, arg_name = "ALGO")]
    pub balance: Option<String>,
    /// global connection limit; overrides maxconn in global
    #[argh(option, arg_name = "N")]
    pub maxconn: Option<usize>,
    /// do not pin workers to cores; overrides cpu-affinity
    #[argh(switch)]
    pub no_affinity: bool,
    /// never splice, always copy; overrides option splice-auto everywhere
    #[argh(switch)]
    pub no_splice: bool,
    /// take the listening sockets of the l4lb with this pid over its stats
    /// socket (the first `stats socket` of the conf, level admin), then
    /// tell it to stop gracefully (binary upgrade)
    #[argh(option, arg_name = "PID")]
    pub upgrade_from: Option<i32>,
    /// ctl: talk to a running l4lb; without a subcommand, l4lb runs the
    /// load balancer
    #[argh(subcommand)]
    pub command: Option<Command>,
}

/// What `l4lb SUBCOMMAND` runs instead of the load balancer.
#[derive(FromArgs, Debug, Clone)]
#[argh(subcommand)]
pub enum Command {
    Ctl(CtlArgs),
}

/// Talk to a running l4lb through its runtime API socket (stats socket).
///
/// `show stat` prints an aligned table, `top` a live view refreshed every
/// -i seconds; any other command is sent as is and its answer printed.
/// Exit status: 0 done, 1 the command failed (its error is printed),
/// 2 the socket cannot be reached.
#[derive(FromArgs, Debug, Clone)]
#[argh(subcommand, name = "ctl")]
pub struct CtlArgs {
    /// the runtime API socket (default /run/l4lb.sock)
    #[argh(
        option,
        short = 's',
        arg_name = "PATH",
        default = "String::from(\"/run/l4lb.sock\")"
    )]
    pub socket: String,
    /// top: seconds between refreshes, fractions allowed (default 1)
    #[argh(option, short = 'i', arg_name = "SECS", default = "1.0")]
    pub interval: f64,
    /// top: stop after COUNT refreshes (default: until interrupted)
    #[argh(option, short = 'n', arg_name = "COUNT")]
    pub count: Option<u64>,
    /// the command: show stat, top, or any runtime API command (help lists
    /// them); everything from its first word on is taken as is
    #[argh(positional, greedy)]
    pub command: Vec<String>,
}
