//! HAProxy's process keywords and command line: `daemon` / `-D` / `-db`,
//! `pidfile` / `-p`, `user`/`group` (with a reload that binds below 1024
//! afterwards), `chroot` (and a reload inside it), `ulimit-n`, `-f` with a
//! directory and several files, `-q`, and `-sf` / `-st` upgrades.
//!
//! The tests run as root (as CI does). A daemonized l4lb is reparented to
//! this test process (a child subreaper), killed by the pid in its pidfile
//! and reaped.

// prctl, kill and waitpid on the daemons: libc calls.
#![allow(unsafe_code)]

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

const LIMIT: Duration = Duration::from_secs(20);

/// Runs `l4lb ARGS` to its exit (bounded) and returns its status and stderr.
fn run(args: &[&str]) -> (ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_l4lb"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut status = None;
    wait_until(LIMIT, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("l4lb {args:?} did not exit");
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, err)
}

/// A daemonized l4lb, our child through the subreaper: killed (SIGINT,
/// l4lb's immediate stop) and reaped on drop.
struct Daemon(i32);

impl Daemon {
    fn from_pidfile(path: &Path) -> Daemon {
        let text = std::fs::read_to_string(path).expect("read the pidfile");
        Daemon(text.trim().parse().expect("a pid in the pidfile"))
    }

    fn alive(&self) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(self.0, 0) == 0 }
    }
}

impl Daemon {
    /// Whether it exited (and was reaped) within `limit`, with status 0.
    fn exits_cleanly(&self, limit: Duration) -> bool {
        let mut status = -1;
        // SAFETY: waitpid on our own (reparented) child; status is a local.
        let reaped = wait_until(limit, || unsafe {
            libc::waitpid(self.0, &mut status, libc::WNOHANG) == self.0
        });
        reaped && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill and waitpid on a pid this test started (our child
        // since it was reparented to the subreaper); status is a local.
        unsafe {
            libc::kill(self.0, libc::SIGINT);
            let mut status = 0;
            let deadline = Instant::now() + LIMIT;
            while libc::waitpid(self.0, &mut status, libc::WNOHANG) == 0 {
                if Instant::now() > deadline {
                    libc::kill(self.0, libc::SIGKILL);
                    libc::waitpid(self.0, &mut status, 0);
                    break;
                }
                thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Orphans of this process (the daemons once their parent exits) become
/// its children, so the tests can reap them.
fn subreaper() {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(rc, 0);
}

fn write_conf(dir: &TempDir, name: &str, text: &str) -> String {
    let path = dir.0.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn with_global(text: &str, lines: &str) -> String {
    text.replacen("global\n", &format!("global\n{lines}"), 1)
}

/// A field of /proc/PID/status, e.g. `Uid`.
/// `text` with one more bind, on `port`, in its frontend.
fn with_bind(text: &str, port: u16) -> String {
    text.replacen(
        "default_backend be\n",
        &format!("default_backend be\n    bind 127.0.0.1:{port}\n"),
        1,
    )
}

/// Sends `l` a SIGHUP and waits until its log says `outcome`.
fn reload_until(l: &L4lb, outcome: &str) {
    l.signal(libc::SIGHUP);
    assert!(
        wait_until(LIMIT, || l.log_text().contains(outcome)),
        "{}",
        l.log_text()
    );
}

fn status_field(pid: u32, field: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

#[test]
fn daemon_returns_once_ready_and_the_pidfile_names_the_serving_child() {
    subreaper();
    let a = Backend::named("a");
    let port = free_port();
    let dir = TempDir::new("daemon");
    let pidfile = dir.0.join("l4lb.pid");
    let text = with_global(
        &conf(port, &[a.addr()], ""),
        &format!("    daemon\n    pidfile {}\n", pidfile.display()),
    );
    let path = write_conf(&dir, "l4lb.conf", &text);
    let (status, err) = run(&["-f", &path]);
    assert!(status.success(), "{status}: {err}");
    assert!(
        err.contains("l4lb ready"),
        "the start-up log reached us: {err}"
    );
    // The parent returned only once ready: the child serves at once.
    let daemon = Daemon::from_pidfile(&pidfile);
    assert!(daemon.alive());
    assert_eq!(round_trip(port), "a");
    let sid = std::fs::read_to_string(format!("/proc/{}/stat", daemon.0)).unwrap();
    let fields: Vec<&str> = sid.rsplit(')').next().unwrap().split_whitespace().collect();
    assert_eq!(fields[3], daemon.0.to_string(), "setsid: its own session");
    let fd0 = std::fs::read_link(format!("/proc/{}/fd/2", daemon.0)).unwrap();
    assert_eq!(fd0, Path::new("/dev/null"), "stdio to /dev/null");
}

#[test]
fn daemon_start_up_errors_reach_the_terminal_and_the_exit_status() {
    let a = Backend::named("a");
    let dir = TempDir::new("daemon-fail");
    // Not a local address: the bind fails in the child, after the fork.
    let text = conf(free_port(), &[a.addr()], "")
        .replace("bind 127.0.0.1:", "bind 192.0.2.1:")
        .replacen("global\n", "global\n    daemon\n", 1);
    let path = write_conf(&dir, "l4lb.conf", &text);
    let (status, err) = run(&["-f", &path]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("192.0.2.1") && err.contains("l4lb: "), "{err}");
    let (status, err) = run(&["-D", "-f", &path]);
    assert_eq!(status.code(), Some(1), "-D too: {err}");
}

#[test]
fn db_keeps_a_daemon_conf_in_the_foreground_and_p_writes_its_pid() {
    let a = Backend::named("a");
    let port = free_port();
    let dir = TempDir::new("db");
    let pidfile = dir.0.join("fg.pid");
    let text = with_global(&conf(port, &[a.addr()], ""), "    daemon\n");
    let path = write_conf(&dir, "l4lb.conf", &text);
    let p = pidfile.to_str().unwrap().to_string();
    let l = L4lb::spawn(&["-f", &path, "-db", "-p", &p], TempDir::new("db-run"));
    assert_eq!(round_trip(port), "a");
    let written = std::fs::read_to_string(&pidfile).unwrap();
    assert_eq!(written, format!("{}\n", l.pid()));
    assert!(l.stop().success());
    assert!(pidfile.exists(), "as HAProxy, the pidfile is left at exit");
}

/// A port below 1024 free on 127.0.0.1 now (nothing reserves these).
fn low_port() -> u16 {
    (700..1000)
        .find(|p| std::net::TcpListener::bind(addr(*p)).is_ok())
        .expect("a free port below 1024")
}

#[test]
fn user_and_group_drop_privileges_and_a_reload_still_binds_below_1024() {
    let a = Backend::named("a");
    let port = free_port();
    let dir = TempDir::new("user");
    let text = with_global(
        &conf(port, &[a.addr()], ""),
        "    user nobody\n    group nogroup\n",
    );
    let path = write_conf(&dir, "l4lb.conf", &text);
    let l = L4lb::spawn(&["-f", &path], TempDir::new("user-run"));
    let pid = l.pid();
    assert_eq!(status_field(pid, "Uid"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(pid, "Gid"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(pid, "Groups"), "");
    assert_eq!(
        status_field(pid, "CapEff"),
        "0000000000000400",
        "only CAP_NET_BIND_SERVICE is kept"
    );
    assert_eq!(round_trip(port), "a");
    // A reload that adds a privileged port binds it.
    let low = low_port();
    std::fs::write(&path, with_bind(&text, low)).unwrap();
    reload_until(&l, "reload: applied");
    assert_eq!(round_trip(low), "a");
    assert_eq!(round_trip(port), "a");
    assert!(l.stop().success());
}

#[test]
fn chroot_is_entered_and_a_reload_reads_the_conf_inside_it() {
    let a = Backend::named("a");
    let port = free_port();
    let jail = TempDir::new("jail");
    let dir = TempDir::new("chroot");
    let text = with_global(
        &conf(port, &[a.addr()], ""),
        // No /etc/passwd in the jail: the names read at start are kept.
        &format!(
            "    chroot {}\n    user nobody\n    group nogroup\n",
            jail.0.display()
        ),
    );
    let path = write_conf(&dir, "l4lb.conf", &text);
    let l = L4lb::spawn(&["-f", &path], TempDir::new("chroot-run"));
    let root = std::fs::read_link(format!("/proc/{}/root", l.pid())).unwrap();
    assert_eq!(root, jail.0);
    assert_eq!(status_field(l.pid(), "Uid"), "65534\t65534\t65534\t65534");
    assert_eq!(round_trip(port), "a");
    // The conf's path does not exist inside the jail: the reload fails,
    // says why, and the old conf keeps serving.
    reload_until(&l, "reload: failed");
    assert!(l.log_text().contains("chrooted in"), "{}", l.log_text());
    assert_eq!(round_trip(port), "a");
    // Put a conf at the same path inside the jail: that one is read.
    let second = free_port();
    let inside: PathBuf = jail.0.join(Path::new(&path).strip_prefix("/").unwrap());
    std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
    std::fs::write(&inside, with_bind(&text, second)).unwrap();
    reload_until(&l, "reload: applied");
    assert_eq!(round_trip(second), "a");
    assert!(l.stop().success());
}

#[test]
fn ulimit_n_sets_the_fd_limit_and_a_too_small_one_is_refused() {
    let a = Backend::named("a");
    let port = free_port();
    let dir = TempDir::new("ulimit");
    let text = with_global(&conf(port, &[a.addr()], ""), "    ulimit-n 5000\n");
    let path = write_conf(&dir, "l4lb.conf", &text);
    let l = L4lb::spawn(&["-f", &path], TempDir::new("ulimit-run"));
    let lim = nofile(l.pid());
    assert_eq!((lim.rlim_cur, lim.rlim_max), (5000, 5000));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", l.pid())).unwrap();
    assert!(
        limits
            .lines()
            .any(|x| x.starts_with("Max open files") && x.contains("5000")),
        "{limits}"
    );
    assert_eq!(round_trip(port), "a");
    assert!(l.stop().success());
    let small = with_global(&conf(port, &[a.addr()], ""), "    ulimit-n 100\n");
    let path = write_conf(&dir, "small.conf", &small);
    let (status, err) = run(&["-f", &path]);
    assert_eq!(status.code(), Some(1));
    assert!(
        err.contains("the fd limit is 100") && err.contains("ulimit-n"),
        "{err}"
    );
}

#[test]
fn f_takes_a_directory_in_lexical_order_and_several_files() {
    let dir = TempDir::new("confd");
    let d = dir.0.join("conf.d");
    std::fs::create_dir(&d).unwrap();
    let a = Backend::named("a");
    let port = free_port();
    // The last defaults wins, in lexical order of names: 10, 20, then 9.
    std::fs::write(d.join("10-defaults.cfg"), "defaults\n timeout connect 1s\n").unwrap();
    std::fs::write(d.join("20-defaults.cfg"), "defaults\n timeout connect 2s\n").unwrap();
    std::fs::write(d.join("9-defaults.cfg"), "defaults\n timeout connect 9s\n").unwrap();
    std::fs::write(d.join(".hidden.cfg"), "garbage\n").unwrap();
    std::fs::write(d.join("notes.txt"), "garbage\n").unwrap();
    let proxies = format!(
        "frontend fe\n bind 127.0.0.1:{port}\n default_backend be\n timeout client 5s\n\
         backend be\n server a {}\n timeout server 5s\n",
        a.addr()
    );
    let extra = write_conf(&dir, "proxies.cfg", &proxies);
    let ds = d.to_str().unwrap().to_string();
    let (status, out) = {
        let o = Command::new(env!("CARGO_BIN_EXE_l4lb"))
            .args(["-c", "-f", &ds, "-f", &extra])
            .output()
            .unwrap();
        (o.status, String::from_utf8_lossy(&o.stdout).into_owned())
    };
    assert!(status.success(), "{out}");
    assert!(out.contains("timeout connect 9s"), "{out}");
    // `--` FILE..., HAProxy's other way to list files.
    let o = Command::new(env!("CARGO_BIN_EXE_l4lb"))
        .args(["-c", "--", &ds, &extra])
        .output()
        .unwrap();
    assert!(o.status.success());
    // Errors name the file inside the directory and its line.
    std::fs::write(d.join("30-bad.cfg"), "defaults\n bogus 1\n").unwrap();
    let (status, err) = run(&["-c", "-f", &ds, "-f", &extra]);
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("conf.d/30-bad.cfg:2: 'bogus'"), "{err}");
}

#[test]
fn q_makes_a_valid_check_silent() {
    let dir = TempDir::new("quiet");
    let a = Backend::named("a");
    let path = write_conf(&dir, "l4lb.conf", &conf(free_port(), &[a.addr()], ""));
    let o = Command::new(env!("CARGO_BIN_EXE_l4lb"))
        .args(["-c", "-q", "-f", &path])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{o:?}");
    // `quiet` in global is the same, and a warning is not printed either.
    let text = with_global(&conf(free_port(), &[a.addr()], ""), "    quiet\n")
        .replace("    timeout client 30s\n", "");
    let path = write_conf(&dir, "quiet.conf", &text);
    let o = Command::new(env!("CARGO_BIN_EXE_l4lb"))
        .args(["-c", "-f", &path])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{o:?}");
    let o = Command::new(env!("CARGO_BIN_EXE_l4lb"))
        .args(["-c", "-V", "-f", &path])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no timeout client"), "-V wins: {err}");
}

/// A conf with an admin stats socket, and its path.
fn upgradable(dir: &TempDir, port: u16, server: std::net::SocketAddr) -> (String, PathBuf) {
    let sock = dir.0.join("l4lb.sock");
    let text = with_global(
        &conf(port, &[server], ""),
        &format!("    stats socket {} level admin\n", sock.display()),
    );
    (write_conf(dir, "l4lb.conf", &text), sock)
}

#[test]
fn sf_takes_the_listeners_and_finishes_the_old_process_without_losing_a_client() {
    let a = Backend::named("a");
    let port = free_port();
    let dir = TempDir::new("sf");
    let (path, _) = upgradable(&dir, port, a.addr());
    let pidfile = dir.0.join("l4lb.pid");
    let p = pidfile.to_str().unwrap().to_string();
    let mut old = L4lb::spawn(&["-f", &path, "-p", &p], TempDir::new("sf-old"));
    let mut held = connect(port);
    assert_eq!(read_line(&mut held).unwrap(), "a");
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let clients = thread::spawn(move || {
        let mut failures = Vec::new();
        let mut n = 0;
        while !stop2.load(SeqCst) && n < 100_000 {
            let got = std::net::TcpStream::connect(addr(port)).and_then(|mut c| {
                c.set_read_timeout(Some(Duration::from_secs(10)))?;
                read_line(&mut c)
            });
            if !matches!(&got, Ok(name) if name == "a") {
                failures.push(format!("{got:?}"));
            }
            n += 1;
        }
        (n, failures)
    });
    // What an init script runs: -sf $(cat pidfile).
    let old_pid = std::fs::read_to_string(&pidfile).unwrap();
    let new = L4lb::spawn(
        &["-f", &path, "-p", &p, "-sf", old_pid.trim()],
        TempDir::new("sf-new"),
    );
    assert!(
        new.log_text()
            .contains("upgrade: took 2 listening socket(s)"),
        "{}",
        new.log_text()
    );
    assert!(wait_until(LIMIT, || {
        std::fs::read_to_string(&pidfile).is_ok_and(|t| t == format!("{}\n", new.pid()))
    }));
    // The old one finishes: the held connection goes on, then it exits 0.
    held.write_all_line("ping");
    assert_eq!(read_line(&mut held).unwrap(), "ping");
    assert!(old.is_running());
    drop(held);
    let status = old.wait_exit(LIMIT).expect("the old l4lb exits");
    assert!(status.success(), "{status}");
    stop.store(true, SeqCst);
    let (n, failures) = clients.join().unwrap();
    assert!(
        n > 0 && failures.is_empty(),
        "{n} clients, failed: {failures:?}"
    );
    assert_eq!(round_trip(port), "a");
    assert!(new.stop().success());
}

trait WriteLine {
    fn write_all_line(&mut self, line: &str);
}

impl WriteLine for std::net::TcpStream {
    fn write_all_line(&mut self, line: &str) {
        use std::io::Write;
        self.write_all(format!("{line}\n").as_bytes()).unwrap();
    }
}

#[test]
fn st_stops_the_old_process_at_once_and_a_dead_pid_is_passed_over() {
    let a = Backend::named("a");
    let port = free_port();
    let dir = TempDir::new("st");
    let (path, _) = upgradable(&dir, port, a.addr());
    let mut old = L4lb::spawn(&["-f", &path], TempDir::new("st-old"));
    let mut held = connect(port);
    assert_eq!(read_line(&mut held).unwrap(), "a");
    // A pid that ran and is gone.
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id().to_string();
    gone.wait().unwrap();
    let old_pid = old.pid().to_string();
    let new = L4lb::spawn(
        &["-f", &path, "-st", &old_pid, &gone_pid],
        TempDir::new("st-new"),
    );
    let status = old
        .wait_exit(LIMIT)
        .expect("-st stops the old l4lb at once");
    assert!(status.success(), "{status}");
    // Its connection was cut, not finished.
    let mut rest = Vec::new();
    let _ = held.read_to_end(&mut rest);
    assert!(
        wait_until(LIMIT, || new
            .log_text()
            .contains(&format!("pid {gone_pid} is not running"))),
        "{}",
        new.log_text()
    );
    assert_eq!(round_trip(port), "a");
    assert!(new.stop().success());
}

#[test]
fn sf_without_a_stats_socket_binds_anew_beside_the_old_process() {
    let a = Backend::named("a");
    let port = free_port();
    let dir = TempDir::new("sf-plain");
    let path = write_conf(&dir, "l4lb.conf", &conf(port, &[a.addr()], ""));
    let mut old = L4lb::spawn(&["-f", &path], TempDir::new("plain-old"));
    let old_pid = old.pid().to_string();
    let new = L4lb::spawn(&["-f", &path, "-sf", &old_pid], TempDir::new("plain-new"));
    assert!(
        new.log_text().contains("binding anew"),
        "{}",
        new.log_text()
    );
    assert!(
        old.wait_exit(LIMIT)
            .expect("the old one finishes")
            .success()
    );
    assert_eq!(round_trip(port), "a");
    assert!(new.stop().success());
}

#[test]
fn x_names_the_socket_to_take_the_listeners_from() {
    let a = Backend::named("a");
    let port = free_port();
    let dir = TempDir::new("x");
    let (with_api, sock) = upgradable(&dir, port, a.addr());
    let mut old = L4lb::spawn(&["-f", &with_api], TempDir::new("x-old"));
    let plain = write_conf(&dir, "plain.conf", &conf(port, &[a.addr()], ""));
    let (old_pid, s) = (old.pid().to_string(), sock.to_str().unwrap().to_string());
    let new = L4lb::spawn(
        &["-f", &plain, "-x", &s, "-sf", &old_pid],
        TempDir::new("x-new"),
    );
    assert!(
        new.log_text()
            .contains("upgrade: took 2 listening socket(s)"),
        "{}",
        new.log_text()
    );
    assert!(
        old.wait_exit(LIMIT)
            .expect("the old one finishes")
            .success()
    );
    assert_eq!(round_trip(port), "a");
    assert!(new.stop().success());
}

#[test]
fn an_init_script_upgrade_of_a_daemon_with_sf_and_its_pidfile() {
    subreaper();
    let a = Backend::named("a");
    let port = free_port();
    let dir = TempDir::new("init");
    let (path, _) = upgradable(&dir, port, a.addr());
    let pidfile = dir.0.join("l4lb.pid");
    let p = pidfile.to_str().unwrap().to_string();
    // haproxy -D -f CONF -p PIDFILE, then -sf $(cat PIDFILE).
    let (status, err) = run(&["-D", "-f", &path, "-p", &p]);
    assert!(status.success(), "{err}");
    let old = Daemon::from_pidfile(&pidfile);
    assert_eq!(round_trip(port), "a");
    let old_pid = old.0.to_string();
    let (status, err) = run(&["-D", "-f", &path, "-p", &p, "-sf", &old_pid]);
    assert!(status.success(), "{err}");
    assert!(err.contains("upgrade: took 2 listening socket(s)"), "{err}");
    let new = Daemon::from_pidfile(&pidfile);
    assert_ne!(new.0, old.0);
    assert!(
        old.exits_cleanly(LIMIT),
        "the old daemon finishes and exits 0"
    );
    assert!(new.alive());
    assert_eq!(round_trip(port), "a");
}
