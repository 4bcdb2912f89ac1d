//! `l4lb ctl`: a client of the runtime API, so operators need no socat.
//!
//! Each command is one connection to the `stats socket`: the command line
//! sent, the write side shut, the answer read to EOF (the API answers and
//! closes). `show stat` becomes an aligned table (`table`), `top` a live
//! view (`top`); any other command's answer is printed as is. Only std is
//! used: a blocking `UnixStream` with timeouts.
//!
//! Exit status: 0 done; 1 the answer is an error line, or the arguments are
//! wrong; 2 the socket cannot be reached (or stops answering).

mod table;
mod top;

use std::fmt;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::CtlArgs;

/// How long one answer may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why `l4lb ctl` failed.
#[derive(Debug)]
pub enum CtlError {
    /// The API answered with an error line (exit 1).
    Answer(String),
    /// Bad arguments (exit 1).
    Usage(String),
    /// The socket cannot be reached, or broke off (exit 2).
    Unreachable(String),
}

impl CtlError {
    fn code(&self) -> u8 {
        match self {
            CtlError::Answer(_) | CtlError::Usage(_) => 1,
            CtlError::Unreachable(_) => 2,
        }
    }
}

impl fmt::Display for CtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtlError::Answer(m) => f.write_str(m.trim_end()),
            CtlError::Usage(m) | CtlError::Unreachable(m) => f.write_str(m),
        }
    }
}

/// Runs `l4lb ctl`; errors are printed here, in one place.
pub fn main(args: CtlArgs) -> ExitCode {
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("l4lb ctl: {e}");
            ExitCode::from(e.code())
        }
    }
}

fn run(args: &CtlArgs) -> Result<(), CtlError> {
    let socket = Path::new(&args.socket);
    let words: Vec<&str> = args.command.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] => Err(CtlError::Usage(
            "no command given: try `l4lb ctl -s SOCKET help`, `show stat` or `top`".into(),
        )),
        ["top", opts @ ..] => {
            let (secs, count) = top_options(opts, args.interval, args.count)?;
            top::run(socket, interval(secs)?, count)
        }
        ["show", "stat", ..] => {
            let csv = command(socket, &words.join(" "))?;
            print!("{}", table::show_stat(&csv));
            Ok(())
        }
        _ => {
            let answer = command(socket, &words.join(" "))?;
            print!("{answer}");
            Ok(())
        }
    }
}

/// `-i SECS` and `-n COUNT` may also follow `top` (`l4lb ctl top -n 2`):
/// the greedy command words hold them then.
fn top_options(
    opts: &[&str],
    mut secs: f64,
    mut count: Option<u64>,
) -> Result<(f64, Option<u64>), CtlError> {
    let mut opts = opts.iter();
    while let Some(&opt) = opts.next() {
        let value = opts.next().copied();
        match (opt, value) {
            ("-i" | "--interval", Some(v)) => {
                secs = v
                    .parse()
                    .map_err(|_| CtlError::Usage(format!("-i {v}: expects seconds")))?;
            }
            ("-n" | "--count", Some(v)) => {
                count = Some(
                    v.parse()
                        .map_err(|_| CtlError::Usage(format!("-n {v}: expects a count")))?,
                );
            }
            _ => {
                return Err(CtlError::Usage(format!(
                    "top: unexpected '{opt}'; usage: top [-i SECS] [-n COUNT]"
                )));
            }
        }
    }
    if count == Some(0) {
        return Err(CtlError::Usage("-n must be at least 1".into()));
    }
    Ok((secs, count))
}

fn interval(secs: f64) -> Result<Duration, CtlError> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| CtlError::Usage(format!("-i {secs}: expects seconds above 0")))
}

/// Sends one command; its answer, or the error line as [`CtlError::Answer`].
pub fn command(socket: &Path, cmd: &str) -> Result<String, CtlError> {
    let answer = request(socket, cmd)?;
    if is_error(cmd, &answer) {
        return Err(CtlError::Answer(answer));
    }
    Ok(answer)
}

/// One exchange: the answer without the empty line that ends it.
fn request(socket: &Path, cmd: &str) -> Result<String, CtlError> {
    let where_ = socket.display();
    let mut s = UnixStream::connect(socket)
        .map_err(|e| CtlError::Unreachable(format!("cannot reach {where_}: {e}")))?;
    let broke = |e: std::io::Error| CtlError::Unreachable(format!("{where_}: {e}"));
    s.set_read_timeout(Some(ANSWER_TIMEOUT)).map_err(broke)?;
    s.set_write_timeout(Some(ANSWER_TIMEOUT)).map_err(broke)?;
    s.write_all(format!("{cmd}\n").as_bytes()).map_err(broke)?;
    s.shutdown(Shutdown::Write).map_err(broke)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(broke)?;
    let text = String::from_utf8_lossy(&raw);
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

/// Whether `answer` reports a failure. The API has no status code: its
/// error lines are HAProxy's wording, in `api::commands`. Commands that
/// change something answer nothing on success (or one of a few fixed
/// lines); the others fail with one of the generic lines.
fn is_error(cmd: &str, answer: &str) -> bool {
    const GENERIC: &[&str] = &[
        "Unknown command",
        "Permission denied",
        "No such ",
        "Require ",
        "Can't find ",
        "Command line too long",
    ];
    const CHANGE_OK: &[&str] = &[
        "New server registered.",
        "Server deleted.",
        "IP changed from",
    ];
    let first = answer.lines().next().unwrap_or_default();
    if GENERIC.iter().any(|g| first.starts_with(g)) || first.ends_with("not implemented yet") {
        return true;
    }
    let verb = cmd.split_whitespace().next().unwrap_or_default();
    // `reload` answers a summary, or why it kept the running configuration.
    const RELOAD_FAILED: &[&str] = &[
        "configuration is invalid",
        "stopping:",
        "cannot bind",
        "no command line",
    ];
    if verb == "reload" {
        return RELOAD_FAILED.iter().any(|f| first.starts_with(f));
    }
    let changes = ["set", "enable", "disable", "shutdown", "add", "del"].contains(&verb);
    changes && !answer.is_empty() && !CHANGE_OK.iter().any(|ok| first.starts_with(ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_are_told_from_answers() {
        assert!(is_error(
            "show stat x",
            "Unknown command: 'show stat x'.\nhelp..."
        ));
        assert!(is_error("set server be/x state drain", "No such server.\n"));
        assert!(is_error("disable server be/s1", "Permission denied\n"));
        assert!(is_error(
            "set server be/s1 weight 999",
            "'999': a weight is 0 to 256.\n"
        ));
        assert!(is_error("reload", "reload: not implemented yet\n"));
        assert!(!is_error("set server be/s1 state drain", ""));
        assert!(!is_error(
            "set server be/s1 addr 127.0.0.2",
            "IP changed from '1'\n"
        ));
        assert!(!is_error("show info", "Name: l4lb\nNo such thing: 1\n"));
        assert!(!is_error(
            "help",
            "The following commands are valid at this level:\n"
        ));
        assert!(is_error(
            "reload",
            "configuration is invalid (1 error(s)); still running the previous one\n"
        ));
        assert!(!is_error("reload", "2 frontend(s), 3 server(s) added\n"));
    }

    #[test]
    fn top_takes_its_options_before_or_after_the_word() {
        assert_eq!(top_options(&[], 1.0, None).unwrap(), (1.0, None));
        assert_eq!(
            top_options(&["-n", "2", "-i", "0.2"], 1.0, None).unwrap(),
            (0.2, Some(2))
        );
        assert_eq!(
            top_options(&["-i", "3"], 1.0, Some(5)).unwrap(),
            (3.0, Some(5))
        );
        assert!(top_options(&["-n", "0"], 1.0, None).is_err());
        assert!(top_options(&["-n"], 1.0, None).is_err());
        assert!(top_options(&["-x", "1"], 1.0, None).is_err());
    }

    #[test]
    fn the_interval_must_be_positive() {
        assert_eq!(interval(0.2).unwrap(), Duration::from_millis(200));
        assert!(interval(0.0).is_err() && interval(-1.0).is_err() && interval(f64::NAN).is_err());
    }
}
