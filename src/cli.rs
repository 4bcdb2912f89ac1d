//! Command-line flags (argh). Only `config` looks at these, and it checks
//! their values: argh only splits and types them.

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
}
