//! Binary upgrade: a new l4lb takes the running one's listening sockets
//! over its stats socket (SCM_RIGHTS), and the old one stops gracefully.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Inodes of the sockets listening on 127.0.0.1:`port`.
fn listening_inodes(port: u16) -> BTreeSet<u64> {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!("0100007F:{port:04X}");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&local.as_str()) && f.get(3) == Some(&"0A"))
                .then(|| f[9].parse().unwrap())
        })
        .collect()
}

#[test]
fn upgrade_takes_the_same_listening_sockets_and_the_old_process_drains() {
    let a = Backend::named("a");
    let port = free_port();
    let dir = TempDir::new("upgrade");
    let sock = dir.0.join("l4lb.sock");
    let conf_path = dir.0.join("l4lb.conf");
    let text = conf(port, &[a.addr()], "").replacen(
        "global\n",
        &format!("global\n    stats socket {} level admin\n", sock.display()),
        1,
    );
    std::fs::write(&conf_path, text).unwrap();
    let conf_arg = conf_path.to_str().unwrap().to_string();
    let mut old = L4lb::spawn(&["-f", &conf_arg], TempDir::new("old"));
    let before = listening_inodes(port);
    assert_eq!(before.len(), 2, "one socket per worker");

    let mut held = connect(port);
    assert_eq!(read_line(&mut held).unwrap(), "a");

    // Clients all through the upgrade.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = std::sync::Arc::clone(&stop);
    let clients = thread::spawn(move || {
        let (mut n, mut failures) = (0, Vec::new());
        let deadline = Instant::now() + Duration::from_secs(30);
        while !stop2.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
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

    let pid = old.pid().to_string();
    let new = L4lb::spawn(
        &["-f", &conf_arg, "--upgrade-from", &pid],
        TempDir::new("new"),
    );
    assert!(
        new.log_text()
            .contains("upgrade: took 2 listening socket(s)"),
        "{}",
        new.log_text()
    );
    // The old process got SIGUSR1: it stops accepting, the held connection
    // goes on, and it exits 0 once that ends.
    assert!(
        wait_until(Duration::from_secs(10), || old
            .log_text()
            .contains("soft stop")),
        "{}",
        old.log_text()
    );
    held.write_all(b"across the upgrade\n").unwrap();
    assert_eq!(read_line(&mut held).unwrap(), "across the upgrade");
    drop(held);
    let status = old
        .wait_exit(Duration::from_secs(10))
        .expect("the old one exits");
    assert_eq!(status.code(), Some(0));

    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (n, failures) = clients.join().unwrap();
    assert!(n > 0);
    assert!(
        failures.is_empty(),
        "{} of {n} failed: {failures:?}",
        failures.len()
    );
    // The very same sockets listen now, in the new process.
    assert_eq!(listening_inodes(port), before);
    assert_eq!(round_trip(port), "a");
    // The API socket is the new one's (the old did not remove it on exit).
    let info = api_command(&sock, "show info");
    assert!(info.contains(&format!("Pid: {}\n", new.pid())), "{info}");
}

#[test]
fn upgrade_without_a_stats_socket_is_a_clear_error() {
    let a = Backend::named("a");
    let port = free_port();
    let dir = TempDir::new("noapi");
    let path = dir.0.join("l4lb.conf");
    std::fs::write(&path, conf(port, &[a.addr()], "")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_l4lb"))
        .args(["-f", path.to_str().unwrap(), "--upgrade-from", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--upgrade-from needs a `stats socket`"),
        "{err}"
    );
}
