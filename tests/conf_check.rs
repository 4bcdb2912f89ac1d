//! `l4lb -c` on real files: exit codes, and errors that name file, line and
//! keyword. Only the check path is run; nothing binds a socket.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory of conf files, removed on drop even when a test fails.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let name = format!("l4lb-conf-check-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn l4lb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_l4lb"))
        .args(args)
        .output()
        .unwrap()
}

fn check(path: &Path) -> Output {
    l4lb(&["-f", path.to_str().unwrap(), "-c"])
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const VALID: &str = "\
global
    maxconn 100
frontend fe
    bind 127.0.0.1:8080
    default_backend be
    timeout client 30s
backend be
    balance leastconn
    server s1 127.0.0.1:9001
    server s2 127.0.0.1:9002 disabled
    timeout server 30s
";

#[test]
fn example_conf_is_valid() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/l4lb.conf");
    let out = check(&conf);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).ends_with("Configuration file is valid\n"));
    assert_eq!(stderr(&out), "", "the example should not warn");
}

#[test]
fn valid_file_prints_summary_and_exits_0() {
    let dir = TempDir::new();
    let out = check(&dir.write("ok.conf", VALID));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "frontend fe: bind 127.0.0.1:8080 -> backend be, maxconn 100, timeout client 30s"
        ),
        "{text}"
    );
    assert!(
        text.contains("backend be: balance leastconn, 2 servers (1 enabled)"),
        "{text}"
    );
    assert!(text.ends_with("Configuration file is valid\n"), "{text}");
}

/// Runs `-c` on `text` and asserts exit 1 with an error at `line` on `keyword`.
fn assert_invalid(text: &str, line: usize, keyword: &str, msg: &str) {
    let dir = TempDir::new();
    let path = dir.write("bad.conf", text);
    let out = check(&path);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let want = format!("{}:{line}: '{keyword}': ", path.display());
    assert!(err.contains(&want), "stderr lacks {want:?}:\n{err}");
    assert!(err.contains(msg), "stderr lacks {msg:?}:\n{err}");
}

#[test]
fn http_mode_is_refused_with_file_line_and_keyword() {
    let text = VALID.replace("    timeout client 30s\n", "    mode http\n");
    assert_invalid(&text, 6, "mode", "mode http is not supported; use mode tcp");
}

/// A check l4lb cannot run yet is refused, and the message says so rather
/// than advise removing the check.
#[test]
fn a_check_l4lb_cannot_run_is_refused_without_removal_advice() {
    assert_invalid(
        &format!("{VALID}    option spop-check\n"),
        12,
        "option spop-check",
        "cannot run SPOP health checks yet",
    );
}

/// A mode http defaults (as in many haproxy.cfg files) read by mode tcp
/// proxies: `-c` passes and names each inherited HTTP-only setting once.
#[test]
fn mode_http_defaults_lists_each_http_setting_once() {
    let text = "\
global
    log stdout local0
defaults
    mode http
    log global
    option httplog
    option forwardfor
    option http-server-close
    timeout http-request 10s
    timeout client 30s
    timeout server 30s
frontend fe_pg
    mode tcp
    bind 127.0.0.1:5432
    default_backend be_pg
frontend fe_redis
    mode tcp
    bind 127.0.0.1:6379
    default_backend be_redis
backend be_pg
    mode tcp
    server pg1 127.0.0.1:15432
backend be_redis
    mode tcp
    server r1 127.0.0.1:16379
";
    let dir = TempDir::new();
    let out = check(&dir.write("mixed.conf", text));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let once = [
        "defaults (line 6): option httplog needs mode http; in the mode tcp proxies fe_pg, \
         fe_redis it falls back to option tcplog",
        "defaults (line 7): option forwardfor has no effect on the mode tcp proxies fe_pg, \
         fe_redis, be_pg, be_redis; HAProxy ignores it there too",
        "defaults (line 8): option http-server-close has no effect",
        "defaults (line 9): timeout http-request has no effect",
    ];
    for w in once {
        assert_eq!(err.matches(w).count(), 1, "{w:?} not once in:\n{err}");
    }
    assert_eq!(err.lines().count(), once.len(), "{err}");
    assert!(stdout(&out).ends_with("Configuration file is valid\n"));
}

/// Every bad option of a line, each with its keyword, and no "has no
/// server" after the only server line failed.
#[test]
fn every_bad_option_of_a_line_is_reported_once() {
    let dir = TempDir::new();
    let text = VALID
        .replace("    server s2 127.0.0.1:9002 disabled\n", "")
        .replace(
            "server s1 127.0.0.1:9001",
            "server s1 127.0.0.1:9001 weight 300 resolvers dns inter soon",
        );
    let path = dir.write("bad.conf", &text);
    let out = check(&path);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let p = path.display();
    for want in [
        format!("{p}:9: 'weight': "),
        format!("{p}:9: 'resolvers': "),
        format!("{p}:9: 'inter': "),
    ] {
        assert!(err.contains(&want), "stderr lacks {want:?}:\n{err}");
    }
    assert!(!err.contains("has no server"), "{err}");
    assert!(err.contains("(3 error(s))"), "{err}");
}

#[test]
fn a_planned_server_option_is_not_implemented_yet() {
    let text = VALID.replace(
        "server s1 127.0.0.1:9001",
        "server s1 127.0.0.1:9001 check resolvers dns",
    );
    assert_invalid(&text, 9, "resolvers", "not implemented yet in l4lb");
}

#[test]
fn unknown_backend_is_named() {
    let text = VALID.replace("default_backend be", "default_backend nope");
    assert_invalid(&text, 5, "default_backend", "no backend named 'nope'");
}

#[test]
fn unknown_keyword_is_refused() {
    assert_invalid(
        &format!("{VALID}    frobnicate\n"),
        12,
        "frobnicate",
        "unknown keyword",
    );
}

#[test]
fn missing_timeouts_warn_but_pass() {
    let dir = TempDir::new();
    let text = VALID.replace("    timeout client 30s\n", "");
    let out = check(&dir.write("warn.conf", &text));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("no timeout client in frontend fe: idle connections are kept forever")
    );
}

#[test]
fn missing_file_exits_1() {
    let dir = TempDir::new();
    let path = dir.0.join("absent.conf");
    let out = check(&path);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("{}:0: '-f': cannot open", path.display())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn quick_start_check_exits_0() {
    let out = l4lb(&[
        "--bind",
        "127.0.0.1:8080",
        "--server",
        "127.0.0.1:9001",
        "--server",
        "127.0.0.1:9002",
        "--balance",
        "leastconn",
        "-c",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "quick start should not warn");
    assert!(stdout(&out).contains("backend quick: balance leastconn, 2 servers (2 enabled)"));
}

#[test]
fn file_and_bind_together_exit_1() {
    let dir = TempDir::new();
    let path = dir.write("ok.conf", VALID);
    let out = l4lb(&["-f", path.to_str().unwrap(), "--bind", ":1", "-c"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("<flags>:0: '--bind': use either -f or --bind/--server"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_configuration_exits_1() {
    let out = l4lb(&["-c"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("<flags>:0: '-f': no configuration"),
        "{}",
        stderr(&out)
    );
}
