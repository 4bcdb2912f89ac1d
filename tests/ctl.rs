//! `l4lb ctl` against a running l4lb: the `show stat` table, raw commands
//! and their exit status, an unreachable socket, and `top`.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;

/// l4lb over two named backends with an admin and a user socket; three
/// connections have gone through it.
struct Setup {
    _l4: L4lb,
    _backends: (Backend, Backend),
    _dir: TempDir,
    admin: PathBuf,
    user: PathBuf,
}

fn setup() -> Setup {
    let (a, b) = (Backend::named("alpha"), Backend::named("beta"));
    let dir = TempDir::new("ctl");
    let (admin, user) = (dir.0.join("admin.sock"), dir.0.join("user.sock"));
    let port = free_port();
    let conf = conf(port, &[a.addr(), b.addr()], "").replacen(
        "global\n",
        &format!(
            "global\n    stats socket {} level admin\n    stats socket {} level user\n",
            admin.display(),
            user.display()
        ),
        1,
    );
    let l4 = L4lb::start(&conf);
    for _ in 0..3 {
        round_trip(port);
    }
    Setup {
        _l4: l4,
        _backends: (a, b),
        _dir: dir,
        admin,
        user,
    }
}

/// Runs `l4lb ctl ARGS` (bounded: it must exit within 30 s).
fn ctl(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_l4lb"))
        .arg("ctl")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn l4lb ctl");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(out) => out.expect("l4lb ctl output"),
        Err(_) => {
            signal(pid, libc::SIGKILL);
            panic!("l4lb ctl {args:?} did not exit");
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn show_stat_prints_an_aligned_table() {
    let s = setup();
    let out = ctl(&["-s", s.admin.to_str().unwrap(), "show", "stat"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "pxname",
            "svname",
            "status",
            "weight",
            "scur",
            "smax",
            "slim",
            "stot",
            "bin",
            "bout",
            "econ",
            "wretr",
            "wredis",
            "rate",
            "check_status",
            "check_duration",
            "lastchg"
        ]
    );
    // Aligned: every column starts at the same offset on every line.
    let svname_at = lines[0].find("svname").unwrap();
    let stot_end = lines[0].find("stot").unwrap() + 4;
    let mut stot_sum = 0;
    for (line, sv) in lines[1..].iter().zip(["FRONTEND", "s0", "s1", "BACKEND"]) {
        assert_eq!(&line[svname_at..svname_at + sv.len()], sv, "{stdout}");
        if sv.starts_with('s') {
            let stot: u32 = line[..stot_end]
                .rsplit(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            stot_sum += stot;
        }
    }
    assert_eq!(lines.len(), 5, "{stdout}");
    assert_eq!(stot_sum, 3, "{stdout}");
    // Filters go through as HAProxy's: servers only.
    let out = ctl(&[
        "-s",
        s.admin.to_str().unwrap(),
        "show",
        "stat",
        "-1",
        "4",
        "-1",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(!stdout.contains("FRONTEND"), "{stdout}");
}

#[test]
fn other_commands_print_the_raw_answer() {
    let s = setup();
    let sock = s.admin.to_str().unwrap();
    let out = ctl(&["-s", sock, "show", "info"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("Name: l4lb\n"), "{stdout}");
    assert!(stdout.contains("CumConns: 3\n"), "{stdout}");
    let out = ctl(&["-s", sock, "set", "server", "be/s1", "state", "drain"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "");
    let out = ctl(&["-s", sock, "show", "servers", "state", "be"]);
    let stdout = text(&out.stdout);
    // srv_admin_state 8: forced drain.
    assert!(stdout.contains(" be 2 s1 127.0.0.1 2 8 "), "{stdout}");
}

#[test]
fn error_answers_exit_1_with_the_error() {
    let s = setup();
    let admin = s.admin.to_str().unwrap();
    let out = ctl(&["-s", admin, "set", "server", "be/nope", "state", "drain"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(text(&out.stderr).contains("No such server."), "{out:?}");
    let out = ctl(&["-s", admin, "frobnicate", "all"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(text(&out.stderr).contains("Unknown command"), "{out:?}");
    let out = ctl(&["-s", s.user.to_str().unwrap(), "disable", "server", "be/s0"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(text(&out.stderr).contains("Permission denied"), "{out:?}");
}

#[test]
fn an_unreachable_socket_exits_2() {
    let dir = TempDir::new("ctl-missing");
    let missing = dir.0.join("nothing.sock");
    let out = ctl(&["-s", missing.to_str().unwrap(), "show", "stat"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cannot reach"), "{stderr}");
    assert!(stderr.contains("nothing.sock"), "{stderr}");
}

#[test]
fn top_shows_frames_with_servers_and_rates() {
    let s = setup();
    let out = ctl(&[
        "-s",
        s.admin.to_str().unwrap(),
        "top",
        "-n",
        "2",
        "-i",
        "0.2",
    ]);
    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("l4lb top").count(), 2, "{stdout}");
    for frame in stdout.split("l4lb top").skip(1) {
        for name in ["fe ", "be/s0", "be/s1", "be/BACKEND", "conn/s", "in/s"] {
            assert!(frame.contains(name), "{name} missing: {frame}");
        }
    }
    // Piped, frames are not cleared with escapes.
    assert!(!stdout.contains('\x1b'), "{stdout}");
    let out = ctl(&["-s", s.admin.to_str().unwrap(), "top", "-n", "0"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
