//! Start-up and shutdown: logging, configuration, workers, signals.

use std::process::ExitCode;

use crate::cli::Args;
use crate::config::Config;

/// Runs l4lb with parsed flags; every error is printed here, in one place.
pub fn main(args: Args) -> ExitCode {
    let config = match Config::from_args(&args) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors {
                eprintln!("l4lb: {e}");
            }
            eprintln!("l4lb: configuration is invalid ({} error(s))", errors.len());
            return ExitCode::from(1);
        }
    };
    for w in &config.warnings {
        eprintln!("l4lb: warning: {w}");
    }
    if args.check {
        for line in config.summary() {
            println!("{line}");
        }
        println!("Configuration file is valid");
        return ExitCode::SUCCESS;
    }
    ExitCode::from(1)
}
