//! l4lb entry point: flags in, exit code out. Everything else is in `process::startup`,
//! or in `ctl` for the `l4lb ctl` subcommand.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Not `argh::from_env`: HAProxy's `-sf`, `-db`... are rewritten first.
    let mut args = l4lb::cli::from_env();
    match args.command.take() {
        Some(l4lb::cli::Command::Ctl(ctl)) => l4lb::ctl::main(ctl),
        None => l4lb::process::startup::main(args),
    }
}
