//! Command-line flags (argh). Only `config` looks at these.
// STUB: helper A replaces this file.

use argh::FromArgs;

/// l4lb: a thread-per-core L4 TCP load balancer.
#[derive(FromArgs, Debug, Default)]
pub struct Args {
    /// configuration file (HAProxy syntax, mode tcp)
    #[argh(option, short = 'f')]
    pub file: Option<String>,
    /// check the configuration, print a summary, exit 0 if valid or 1
    #[argh(switch, short = 'c')]
    pub check: bool,
    /// log level: error, warn, info (default), debug, trace
    #[argh(option)]
    pub log_level: Option<String>,
}
