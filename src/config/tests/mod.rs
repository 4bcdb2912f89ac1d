//! The configuration tested on conf text literals, by topic: every error is
//! checked for its file, line and keyword (ripgrep's `flags/config.rs`).
//! Error cases are tables, one case a row: the lines added to [`BASE`], the
//! line the error is reported at, its keyword and a part of its message.

use super::flags::Flags;
use super::*;

mod binds;
mod check_rules;
mod checks;
mod defaults;
mod flags;
mod global;
mod log_format;
mod logs;
mod mixed;
mod process;
mod proxy;
mod routing;
mod sections;
mod servers;
mod sockopts;
mod stats;
mod stats_page;
mod timeouts;
mod unix;

/// A valid file; error tests append to it, so its lines stay 1..=8.
const BASE: &str = "\
frontend fe
    bind 127.0.0.1:8080
    default_backend be
    timeout client 30s
backend be
    server s1 127.0.0.1:9001
    server s2 127.0.0.1:9002
    timeout server 30s
";

/// One error case: the lines added to a section of [`BASE`], the line the
/// error is at, its keyword, and a part of its message.
type Case = (&'static str, usize, &'static str, &'static str);

fn load_with(text: &str, args: &Args) -> Result<Config, Vec<ConfError>> {
    let flags = Flags::from_args(args)?;
    Config::from_reader("t.conf", text.as_bytes(), &flags)
}

fn load(text: &str) -> Config {
    load_with(text, &Args::default()).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn errors(text: &str) -> Vec<ConfError> {
    load_with(text, &Args::default()).expect_err("expected an error")
}

/// Asserts `text` fails with exactly one error, at `line` on `keyword`,
/// whose message contains `msg`.
fn assert_error(text: &str, line: usize, keyword: &str, msg: &str) {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let e = &errs[0];
    assert_eq!(
        (e.file.as_str(), e.line, e.keyword.as_str()),
        ("t.conf", line, keyword),
        "{e}"
    );
    assert!(e.msg.contains(msg), "{e}\n  does not contain: {msg}");
}

/// Asserts `text` fails with exactly these errors, in this order: (line,
/// keyword, a part of the message).
fn assert_errors(text: &str, want: &[(usize, &str, &str)]) {
    let errs = errors(text);
    let got: Vec<(usize, &str)> = errs.iter().map(|e| (e.line, e.keyword.as_str())).collect();
    let lines: Vec<(usize, &str)> = want.iter().map(|&(l, k, _)| (l, k)).collect();
    assert_eq!(got, lines, "{errs:#?}");
    for (e, (_, _, msg)) in errs.iter().zip(want) {
        assert!(e.msg.contains(msg), "{e}\n  does not contain: {msg}");
    }
}

/// Asserts `text` loads with exactly one warning, which contains every
/// one of `parts`.
fn assert_warning(text: &str, parts: &[&str]) {
    let warnings = load(text).warnings;
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    for part in parts {
        assert!(
            warnings[0].contains(part),
            "{}\n  does not contain: {part}",
            warnings[0]
        );
    }
}

/// [`assert_error`] for each case, its lines added to BASE's backend.
fn assert_backend_errors(cases: &[Case]) {
    for &(lines, line, keyword, msg) in cases {
        assert_error(&in_backend(lines), line, keyword, msg);
    }
}

/// [`assert_error`] for each case, its lines added to BASE's frontend.
fn assert_frontend_errors(cases: &[Case]) {
    for &(lines, line, keyword, msg) in cases {
        assert_error(&in_frontend(lines), line, keyword, msg);
    }
}

/// BASE with `lines` added to its backend section (they start at line 9).
fn in_backend(lines: &str) -> String {
    format!("{BASE}{lines}\n")
}

/// BASE with `lines` added to its frontend section (they start at line 2).
fn in_frontend(lines: &str) -> String {
    BASE.replacen("frontend fe\n", &format!("frontend fe\n{lines}\n"), 1)
}

/// The server of `backend be` named `name`.
fn server<'a>(c: &'a Config, name: &str) -> &'a ServerConf {
    c.backends[0]
        .servers
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no server {name}"))
}

#[test]
fn base_config_has_the_documented_defaults() {
    let c = load(BASE);
    assert_eq!(
        c.threads,
        std::thread::available_parallelism().unwrap().get()
    );
    assert!(c.cpu_affinity);
    assert_eq!(
        (c.maxconn, c.maxpipes, c.bufsize, c.pipesize),
        (4096, 1024, 16384, None)
    );
    let f = &c.frontends[0];
    assert_eq!(
        f.binds,
        [Bind {
            addr: crate::config::SockAddr::Inet("127.0.0.1:8080".parse().unwrap()),
            name: None,
            opts: BindOpts::default(),
        }]
    );
    assert_eq!(
        (f.backend, f.maxconn, f.tcp_keepalive, f.splice_auto),
        (Some(0), 4096, false, true)
    );
    assert_eq!(
        (f.timeout_client, f.timeout_client_fin),
        (Some(Duration::from_secs(30)), None)
    );
    let b = &c.backends[0];
    assert_eq!(
        (b.balance, b.retries, b.redispatch),
        (Balance::RoundRobin, 3, false)
    );
    assert_eq!(
        (b.timeout_connect, b.timeout_queue),
        (Duration::from_secs(5), Duration::from_secs(5))
    );
    assert_eq!((b.timeout_tunnel, b.timeout_server_fin), (None, None));
    assert_eq!((b.tcp_keepalive, b.splice_auto), (false, true));
    assert_eq!(
        b.servers[1],
        ServerConf::new("s2".into(), "127.0.0.1:9002".parse().unwrap())
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}
