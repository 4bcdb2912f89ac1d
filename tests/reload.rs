//! Live reload (SIGHUP, SIGUSR2 and the API's `reload`): the new conf applies in
//! place, listeners of unchanged binds are never closed, established
//! connections carry on, and an invalid conf changes nothing.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// l4lb on a conf file the test rewrites.
struct Reloadable {
    l4: L4lb,
    path: PathBuf,
    sock: PathBuf,
}

/// A conf: frontend `fe` on `binds`, backend `be` with `servers` (name, addr).
fn text(sock: &std::path::Path, binds: &[u16], servers: &[(&str, std::net::SocketAddr)]) -> String {
    let mut t = format!(
        "global\n    stats socket {} level admin\n\ndefaults\n    mode tcp\n    \
         timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\n\
         frontend fe\n    default_backend be\n",
        sock.display()
    );
    for b in binds {
        t += &format!("    bind 127.0.0.1:{b}\n");
    }
    t += "\nbackend be\n    balance roundrobin\n";
    for (name, addr) in servers {
        t += &format!("    server {name} {addr}\n");
    }
    t
}

impl Reloadable {
    fn start(binds: &[u16], servers: &[(&str, std::net::SocketAddr)]) -> Reloadable {
        let dir = TempDir::new("reload");
        let path = dir.0.join("l4lb.conf");
        let sock = dir.0.join("l4lb.sock");
        std::fs::write(&path, text(&sock, binds, servers)).unwrap();
        let l4 = L4lb::spawn(&["-f", path.to_str().unwrap()], dir);
        Reloadable { l4, path, sock }
    }

    fn count(&self, needle: &str) -> usize {
        self.l4
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Rewrites the conf, sends SIGHUP, waits for the outcome's log line.
    fn reload(&self, binds: &[u16], servers: &[(&str, std::net::SocketAddr)]) {
        self.reload_text(&text(&self.sock, binds, servers), "reload: applied");
    }

    fn reload_text(&self, conf: &str, expect: &str) {
        self.reload_by(libc::SIGHUP, conf, expect);
    }

    /// Rewrites the conf, sends `sig`, waits for the `expect` log line.
    fn reload_by(&self, sig: i32, conf: &str, expect: &str) {
        let before = self.count(expect);
        std::fs::write(&self.path, conf).unwrap();
        self.l4.signal(sig);
        assert!(
            wait_until(Duration::from_secs(10), || self.count(expect) > before),
            "no '{expect}' after signal {sig}:\n{}",
            self.l4.log_text()
        );
    }

    fn api(&self, cmd: &str) -> String {
        api_command(&self.sock, cmd)
    }
}

#[test]
fn servers_change_by_name_and_an_open_stream_survives_reloads() {
    let echo = Backend::echo();
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let port = free_port();
    let l = Reloadable::start(&[port], &[("echo", echo.addr())]);
    // A sha256-checked stream both ways, paced so it spans the reloads.
    let mut stream = connect(port);
    let mut reader = stream.try_clone().unwrap();
    let len = 8 << 20;
    let sender = thread::spawn(move || {
        let mut pat = Pattern::new(7);
        let mut buf = vec![0u8; 1 << 20];
        for _ in 0..8 {
            pat.fill(&mut buf);
            stream.write_all(&buf).unwrap();
            thread::sleep(Duration::from_millis(40));
        }
        stream.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let receiver = thread::spawn(move || recv_all(&mut reader).unwrap());
    // Reloads while it streams: a server added, then one removed.
    // `echo` keeps its stream but takes no new connection (weight 0).
    let echo0 = format!("{} weight 0", echo.addr());
    let with = |servers: &[(&str, &str)]| -> String {
        let mut t = text(&l.sock, &[port], &[]);
        for (n, a) in servers {
            t += &format!("    server {n} {a}\n");
        }
        t
    };
    let (a_addr, b_addr) = (a.addr().to_string(), b.addr().to_string());
    l.reload_text(
        &with(&[("echo", &echo0), ("a", &a_addr), ("b", &b_addr)]),
        "reload: applied",
    );
    let seen: Vec<String> = (0..8).map(|_| round_trip(port)).collect();
    assert!(
        seen.iter().any(|n| n == "b"),
        "the added server takes connections: {seen:?}"
    );
    let b_total = |l: &Reloadable| -> u64 {
        let csv = l.api("show stat be 4 -1");
        let row = csv
            .lines()
            .find(|r| r.starts_with("be,b,"))
            .unwrap()
            .to_string();
        row.split(',').nth(7).unwrap().parse().unwrap()
    };
    let before = b_total(&l);
    assert!(before > 0);
    l.reload_text(
        &with(&[("echo", &echo0), ("b", &b_addr)]),
        "reload: applied",
    );
    let seen: Vec<String> = (0..8).map(|_| round_trip(port)).collect();
    assert!(
        !seen.iter().any(|n| n == "a"),
        "the removed server takes none: {seen:?}"
    );
    assert_eq!(b_total(&l), before + 8, "a kept server's counters go on");
    sender.join().unwrap();
    let (got, hash) = receiver.join().unwrap();
    assert_eq!(got, len, "every byte came back");
    assert_eq!(hash, pattern_hash(7, len), "and in order");
    assert_eq!(l.count("reload: applied"), 2);
    let info = l.api("show info");
    assert!(info.contains("Reloads: 2\n"), "{info}");
}

#[test]
fn a_connection_to_a_removed_server_finishes_normally() {
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let port = free_port();
    let l = Reloadable::start(&[port], &[("a", a.addr())]);
    let mut held = connect(port);
    assert_eq!(read_line(&mut held).unwrap(), "a");
    l.reload(&[port], &[("b", b.addr())]);
    for _ in 0..4 {
        assert_eq!(round_trip(port), "b");
    }
    held.write_all(b"still there\n").unwrap();
    assert_eq!(read_line(&mut held).unwrap(), "still there");
    drop(held);
    assert!(
        wait_until(Duration::from_secs(5), || a
            .counts
            .active
            .load(std::sync::atomic::Ordering::SeqCst)
            == 0),
        "closed at the server too"
    );
}

/// HAProxy's systemd unit runs `haproxy -Ws -f CONF -p PIDFILE -S
/// MASTER_SOCKET`, and reloads with `haproxy -Ws -f CONF -c -S ...` then
/// `kill -USR2 $MAINPID`. The regression this pins: SIGUSR2 was not
/// handled, and its default action killed l4lb on `systemctl reload`.
#[test]
fn sigusr2_reloads_as_haproxys_unit_does_and_a_connection_survives() {
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let port = free_port();
    let dir = TempDir::new("reload");
    let path = dir.0.join("haproxy.cfg");
    let sock = dir.0.join("l4lb.sock");
    let pidfile = dir.0.join("haproxy.pid");
    let master = dir.0.join("haproxy-master.sock");
    let master_arg = master.to_str().unwrap().to_string();
    std::fs::write(&path, text(&sock, &[port], &[("a", a.addr())])).unwrap();
    let (conf, pid) = (path.to_str().unwrap(), pidfile.to_str().unwrap());
    let l4 = L4lb::spawn(&["-Ws", "-f", conf, "-p", pid, "-S", &master_arg], dir);
    let l = Reloadable { l4, path, sock };
    let mut held = connect(port);
    assert_eq!(read_line(&mut held).unwrap(), "a");
    let new = text(&l.sock, &[port], &[("b", b.addr())]);
    std::fs::write(&l.path, &new).unwrap();
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_l4lb"))
        .args([
            "-Ws",
            "-f",
            l.path.to_str().unwrap(),
            "-c",
            "-S",
            &master_arg,
        ])
        .output()
        .unwrap();
    assert!(check.status.success(), "ExecReload's check: {check:?}");
    l.reload_by(libc::SIGUSR2, &new, "reload: applied");
    for _ in 0..4 {
        assert_eq!(round_trip(port), "b");
    }
    held.write_all(b"still there\n").unwrap();
    assert_eq!(read_line(&mut held).unwrap(), "still there");
    assert!(l.l4.log_text().contains("SIGUSR2"), "{}", l.l4.log_text());
    // `-S`: the runtime API, level admin (HAProxy's master CLI is).
    let info = api_command(&master, "show info");
    assert!(info.contains("Reloads: 1"), "{info}");
    let answer = api_command(&master, "reload");
    assert!(!answer.contains("Permission denied"), "{answer}");
    let reloads = || api_command(&master, "show info").contains("Reloads: 2");
    assert!(wait_until(Duration::from_secs(10), reloads), "{answer}");
}

#[test]
fn binds_added_and_removed_while_a_kept_one_never_stops() {
    let a = Backend::named("a");
    let (kept, gone, added) = (free_port(), free_port(), free_port());
    let l = Reloadable::start(&[kept, gone], &[("a", a.addr())]);
    assert_eq!(round_trip(gone), "a");
    // Clients on the kept bind all through the reloads.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = std::sync::Arc::clone(&stop);
    let client = thread::spawn(move || {
        let mut failures = Vec::new();
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !stop2.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
            let got = std::net::TcpStream::connect(addr(kept)).and_then(|mut c| {
                c.set_read_timeout(Some(Duration::from_secs(10)))?;
                read_line(&mut c)
            });
            match got {
                Ok(name) if name == "a" => {}
                other => failures.push(format!("{other:?}")),
            }
            n += 1;
        }
        (n, failures)
    });
    l.reload(&[kept, added], &[("a", a.addr())]);
    assert_eq!(round_trip(added), "a", "a new bind accepts");
    assert!(
        std::net::TcpStream::connect(addr(gone)).is_err(),
        "a removed bind refuses"
    );
    for _ in 0..5 {
        l.reload(&[kept, added], &[("a", a.addr())]);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (n, failures) = client.join().unwrap();
    assert!(n > 0);
    assert!(
        failures.is_empty(),
        "{} of {n} failed on the kept bind: {failures:?}",
        failures.len()
    );
}

#[test]
fn an_invalid_conf_is_refused_and_the_old_one_keeps_running() {
    let a = Backend::named("a");
    let port = free_port();
    let l = Reloadable::start(&[port], &[("a", a.addr())]);
    let good = std::fs::read_to_string(&l.path).unwrap();
    l.reload_text(
        &format!("{good}    server broken 127.0.0.1:notaport\n    frobnicate\n"),
        "reload: failed",
    );
    let log = l.l4.log_text();
    assert!(log.contains("'server'"), "every error is logged: {log}");
    assert!(log.contains("'frobnicate'"), "every error is logged: {log}");
    assert_eq!(round_trip(port), "a", "still serving the old conf");
    let info = l.api("show info");
    assert!(info.contains("ReloadFailures: 1\n"), "{info}");
    // The API's `reload` reports the outcome.
    std::fs::write(&l.path, &good).unwrap();
    let answer = l.api("reload");
    assert!(
        answer.starts_with("1 frontend(s), 1 backend(s)"),
        "{answer}"
    );
}

#[test]
fn add_and_del_server_on_the_runtime_api() {
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let port = free_port();
    let l = Reloadable::start(&[port], &[("a", a.addr())]);
    assert_eq!(
        l.api(&format!("add server be/b {} weight 3", b.addr())),
        "New server registered.\n\n"
    );
    let seen: Vec<String> = (0..8).map(|_| round_trip(port)).collect();
    assert!(seen.iter().any(|n| n == "b"), "{seen:?}");
    assert!(
        l.api("add server be/b 127.0.0.1:1")
            .starts_with("Already exists")
    );
    assert!(
        l.api("add server be/c 127.0.0.1:1 weight lots")
            .contains("weight")
    );
    let mut held = connect(port);
    let name = read_line(&mut held).unwrap();
    let target = format!("be/{name}");
    assert_eq!(l.api(&format!("set server {target} state maint")), "\n");
    assert_eq!(
        l.api(&format!("del server {target}")),
        "Server still has connections attached to it, cannot remove it.\n\n"
    );
    drop(held);
    assert!(wait_until(Duration::from_secs(5), || {
        l.api(&format!("del server {target}")) == "Server deleted.\n\n"
    }));
    let other = if name == "a" { "b" } else { "a" };
    for _ in 0..4 {
        assert_eq!(round_trip(port), other);
    }
}

#[test]
fn the_first_check_and_the_first_tcplog_start_on_a_reload() {
    let a = Backend::named("a");
    // A port nothing listens on: refused.
    let dead = addr(free_port());
    let port = free_port();
    let l = Reloadable::start(&[port], &[("a", a.addr()), ("dead", dead)]);
    let status = |l: &Reloadable, server: &str| -> String {
        let csv = l.api("show stat be 4 -1");
        let row = csv
            .lines()
            .find(|r| r.starts_with(&format!("be,{server},")))
            .unwrap_or_else(|| panic!("no row for {server}: {csv}"))
            .to_string();
        row.split(',').nth(17).unwrap().to_string()
    };
    assert_eq!(status(&l, "dead"), "no check");
    assert!(l.l4.out_lines().is_empty());
    let checked = text(&l.sock, &[port], &[]).replacen(
        "frontend fe\n",
        "frontend fe\n    log stdout format raw local0\n    option tcplog\n",
        1,
    ) + &format!(
        "    server a {} check inter 100ms fall 1 rise 1\n    \
             server dead {dead} check inter 100ms fall 1 rise 1\n",
        a.addr()
    );
    l.reload_text(&checked, "reload: applied");
    assert!(
        wait_until(Duration::from_secs(5), || status(&l, "dead") == "DOWN"),
        "the prober started by the reload marks the dead server DOWN:\n{}",
        l.l4.log_text()
    );
    assert_eq!(status(&l, "a"), "UP");
    assert_eq!(round_trip(port), "a");
    assert!(
        wait_until(Duration::from_secs(5), || l
            .l4
            .out_lines()
            .iter()
            .any(|line| line.contains(" fe be/a "))),
        "the logger started by the reload logs the connection: {:?}",
        l.l4.out_lines()
    );
}

/// An HTTP GET of `path` on 127.0.0.1:`port`: the status line, or the error.
fn http_get(port: u16, path: &str) -> Result<String, std::io::Error> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr(port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    Ok(reply.lines().next().unwrap_or_default().to_string())
}

#[test]
fn stats_sockets_and_the_metrics_endpoint_follow_a_reload() {
    let a = Backend::named("a");
    let port = free_port();
    let l = Reloadable::start(&[port], &[("a", a.addr())]);
    let first = l.sock.clone();
    let second = first.with_file_name("second.sock");
    let mport = free_port();
    assert!(http_get(mport, "/metrics").is_err(), "no metrics yet");
    // A second socket (read-only) and the metrics endpoint: the first
    // socket stays, and a connection open on it through the reload too.
    let mut held = std::os::unix::net::UnixStream::connect(&first).unwrap();
    writeln!(held, "prompt").unwrap();
    let base = text(&first, &[port], &[("a", a.addr())]);
    let more = base.replacen(
        "global\n",
        &format!(
            "global\n    stats socket {} level user\n    stats http 127.0.0.1:{mport}\n",
            second.display()
        ),
        1,
    );
    l.reload_text(&more, "reload: applied");
    assert!(
        wait_until(Duration::from_secs(5), || http_get(mport, "/metrics")
            .is_ok_and(|s| s.contains("200"))),
        "metrics served after the reload:\n{}",
        l.l4.log_text()
    );
    assert!(api_command(&second, "show info").contains("Reloads: 1\n"));
    assert!(
        api_command(&second, "disable server be/a").contains("Permission denied"),
        "the new socket has its level"
    );
    assert!(api_command(&first, "show info").contains("Reloads: 1\n"));
    writeln!(held, "show info").unwrap();
    let mut reply = String::new();
    let mut r = std::io::BufReader::new(&held);
    held.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    while !reply.contains("Reloads: 1\n") {
        let n = std::io::BufRead::read_line(&mut r, &mut reply).unwrap();
        assert!(n > 0, "the held API connection was closed: {reply}");
    }
    // Back: the second socket's file goes, the metrics port closes.
    l.reload_text(&base, "reload: applied");
    assert!(
        wait_until(Duration::from_secs(5), || !second.exists()
            && http_get(mport, "/metrics").is_err()),
        "second socket and metrics closed:\n{}",
        l.l4.log_text()
    );
    assert!(api_command(&first, "show info").contains("Reloads: 2\n"));
    assert_eq!(round_trip(port), "a");
}
