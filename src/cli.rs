//! Command-line flags (argh). Only `config` looks at the daemon's, and it
//! checks their values: argh only splits and types them. Start-up (`process::startup`)
//! keeps a [`crate::config::Source`] of them for reloads, never [`Args`].
//! `l4lb ctl` is a subcommand, so `l4lb -f FILE` and every daemon flag stay
//! as they were.
//!
//! HAProxy's multi-letter short flags (`-sf PID...`, `-st PID...`, `-db`,
//! `-Ws`) and a repeated `-f` are not argh's kind of flag: [`from_env`]
//! rewrites them into long flags ([`translate`]) before argh parses, so init
//! scripts and units written for HAProxy run l4lb unchanged.

use argh::FromArgs;

/// l4lb: a thread-per-core L4 TCP load balancer.
///
/// Reads a HAProxy-syntax configuration (mode tcp) with -f, or builds one
/// frontend and one backend from --bind and --server. Flags override the file.
#[derive(FromArgs, Debug, Default, Clone)]
pub struct Args {
    /// configuration file (HAProxy syntax, mode tcp), or a directory: its
    /// *.cfg files in lexical order; repeatable, read in the order given
    #[argh(option, short = 'f', arg_name = "FILE")]
    pub file: Option<String>,
    /// a second and later -f (what `translate` makes of a repeated -f)
    #[argh(option, hidden_help, arg_name = "FILE")]
    pub more_files: Vec<String>,
    /// check the configuration, print a summary, exit 0 if valid or 1
    #[argh(switch, short = 'c')]
    pub check: bool,
    /// quiet: print errors only (with -c: nothing when the conf is valid)
    #[argh(switch, short = 'q')]
    pub quiet: bool,
    /// verbose: debug logging; cancels -q
    #[argh(switch, short = 'V')]
    pub verbose: bool,
    /// fork to the background once ready (as `daemon` in global)
    #[argh(switch, short = 'D')]
    pub daemon: bool,
    /// stay in the foreground even with `daemon` in the conf (HAProxy's -db)
    #[argh(switch)]
    pub foreground: bool,
    /// write the pid to FILE once ready; overrides `pidfile` in global
    #[argh(option, short = 'p', arg_name = "FILE")]
    pub pidfile: Option<String>,
    /// once ready, make the l4lb with this pid stop gracefully (SIGUSR1),
    /// taking its listeners over the stats socket first if it can
    /// (HAProxy's -sf PID...; repeatable)
    #[argh(option, arg_name = "PID")]
    pub finish: Vec<i32>,
    /// as --finish, but stop it at once (SIGINT: HAProxy's -st PID...)
    #[argh(option, arg_name = "PID")]
    pub terminate: Vec<i32>,
    /// with -sf/-st or --upgrade-from: the old process's stats socket to
    /// take the listeners from (default: the conf's first stats socket)
    #[argh(option, short = 'x', arg_name = "SOCKET")]
    pub takeover_socket: Option<String>,
    /// accepted for HAProxy's -W / -Ws: l4lb is always its own master
    #[argh(switch, short = 'W')]
    pub master_worker: bool,
    /// HAProxy's master CLI (-S PATH[,mode,OCTAL][,level,LEVEL]): l4lb's
    /// runtime API on this unix socket, at level admin by default
    #[argh(option, short = 'S', arg_name = "SOCKET")]
    pub master_socket: Option<String>,
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

/// HAProxy's flags that argh cannot read, and their long forms.
const RENAMED: &[(&str, &str)] = &[("-db", "--foreground"), ("-Ws", "--master-worker")];
/// Flags whose next word is their value (so `-f ctl` is not the subcommand).
const TAKES_VALUE: &[&str] = &[
    "-f",
    "--more-files",
    "-p",
    "--pidfile",
    "--threads",
    "--log-level",
    "--bind",
    "--server",
    "--balance",
    "--maxconn",
    "--upgrade-from",
    "--finish",
    "--terminate",
    "-x",
    "--takeover-socket",
    "-S",
    "--master-socket",
];

/// Parses the process's own command line, after [`translate`]. Exits with
/// argh's message on a bad flag, as `argh::from_env` does.
pub fn from_env() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let words = translate(argv.get(1..).unwrap_or_default());
    let cmd = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|a| a.to_str())
        .unwrap_or("l4lb");
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    match Args::from_args(&[cmd], &refs) {
        Ok(args) => args,
        Err(early) => {
            let failed = early.status.is_err();
            if failed {
                eprintln!("{}\nRun {cmd} --help for more information.", early.output);
            } else {
                println!("{}", early.output);
            }
            std::process::exit(i32::from(failed));
        }
    }
}

/// Rewrites HAProxy's flags into the long ones argh knows: `-sf PID...`
/// into one `--finish PID` per pid (the words after it that do not start
/// with `-`, as HAProxy reads them; none is allowed, for `-sf $(cat
/// pidfile)` with no pidfile yet), `-st PID...` into `--terminate`, `-db`
/// and `-Ws`, a second `-f` into `--more-files`, and `-- FILE...` into
/// files. The words from the `ctl` subcommand on are left as they are.
pub fn translate(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut files = 0;
    let mut it = args.iter().peekable();
    while let Some(word) = it.next() {
        let w = word.as_str();
        if let Some((_, long)) = RENAMED.iter().find(|(short, _)| *short == w) {
            out.push(long.to_string());
            continue;
        }
        match w {
            "-sf" | "-st" => {
                let long = if w == "-sf" {
                    "--finish"
                } else {
                    "--terminate"
                };
                while let Some(pid) = it.next_if(|p| !p.starts_with('-')) {
                    // `-sf "1 2"` (a quoted list) counts as two pids.
                    for p in pid.split_whitespace() {
                        out.extend([long.to_string(), p.to_string()]);
                    }
                }
            }
            "-f" | "--more-files" => {
                let flag = if files == 0 { "-f" } else { "--more-files" };
                files += 1;
                out.push(flag.to_string());
                out.extend(it.next().cloned());
            }
            "--" => {
                for file in it.by_ref() {
                    let flag = if files == 0 { "-f" } else { "--more-files" };
                    files += 1;
                    out.extend([flag.to_string(), file.clone()]);
                }
            }
            "ctl" => {
                out.push(word.clone());
                out.extend(it.by_ref().cloned());
            }
            _ if TAKES_VALUE.contains(&w) => {
                out.push(word.clone());
                out.extend(it.next().cloned());
            }
            _ => out.push(word.clone()),
        }
    }
    out
}

impl Args {
    /// Every `-f`, in the order given.
    pub fn files(&self) -> Vec<&str> {
        self.file
            .iter()
            .chain(&self.more_files)
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(words: &str) -> String {
        let args: Vec<String> = words.split(' ').map(String::from).collect();
        translate(&args).join(" ")
    }

    #[test]
    fn haproxy_flags_become_long_ones() {
        assert_eq!(
            tr("-f a.cfg -p /run/x.pid -sf 12 34 -db"),
            "-f a.cfg -p /run/x.pid --finish 12 --finish 34 --foreground"
        );
        assert_eq!(tr("-st 7 -D"), "--terminate 7 -D");
        assert_eq!(tr("-sf -f a"), "-f a", "an empty pid list is allowed");
        assert_eq!(tr("-Ws -f a"), "--master-worker -f a");
    }

    #[test]
    fn a_repeated_f_and_files_after_dashes_are_kept_in_order() {
        assert_eq!(tr("-f a -f b -c"), "-f a --more-files b -c");
        assert_eq!(tr("-c -- a b"), "-c -f a --more-files b");
        let args = Args::from_args(&["l4lb"], &["-f", "a", "--more-files", "b"]).unwrap();
        assert_eq!(args.files(), ["a", "b"]);
    }

    #[test]
    fn ctl_and_option_values_are_left_alone() {
        assert_eq!(tr("ctl -s x show stat -sf"), "ctl -s x show stat -sf");
        assert_eq!(tr("-f ctl -db"), "-f ctl --foreground");
        assert_eq!(tr("--log-level -db"), "--log-level -db");
    }
}
