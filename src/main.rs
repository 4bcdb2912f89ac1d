//! l4lb entry point: flags in, exit code out. Everything else is in `run`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: l4lb::cli::Args = argh::from_env();
    l4lb::run::main(args)
}
