//! Unix socket addresses on `bind` and `server` lines (issue 11): a TCP
//! client through to a unix server and back, a unix client to a TCP one,
//! a chain through an abstract name; a bind's mode and owner and the
//! global `unix-bind` on the socket file; a stale file replaced; reloads
//! and upgrades that keep the very socket; a unix server that is down
//! retried elsewhere and marked DOWN by its checks.

mod common;
#[path = "common/unix.rs"]
mod unix;

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::time::Duration;

use common::*;
use unix::*;

#[test]
fn a_tcp_client_reaches_a_checked_unix_server() {
    let dir = TempDir::new("ux-srv");
    let (api, path) = (dir.0.join("api.sock"), dir.0.join("srv.sock"));
    let _srv = UnixBackend::named("u", Where::Path(path.clone()));
    let port = free_port();
    let text = format!(
        "{}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\n\
         backend be\n    server u {} check inter 100ms\n",
        head(&api),
        path.display()
    );
    let l4 = L4lb::start(&text);
    for _ in 0..4 {
        assert_eq!(round_trip(port), "u");
    }
    assert_eq!(show_stat(&api, "be", "u", "addr"), "unix", "as HAProxy");
    // Checked on its socket: UP once a check passed (before: "UP 1/3").
    assert!(
        wait_until(Duration::from_secs(10), || show_stat(
            &api, "be", "u", "status"
        ) == "UP"),
        "{}",
        show_stat(&api, "be", "u", "status")
    );
    assert_eq!(show_stat(&api, "be", "u", "check_status"), "L4OK");
    drop(l4);
}

#[test]
fn a_unix_client_reaches_a_tcp_server_and_the_bind_sets_mode_and_owner() {
    let dir = TempDir::new("ux-fe");
    let (api, path) = (dir.0.join("api.sock"), dir.0.join("fe.sock"));
    let b = Backend::named("b");
    // The test's own ids, which chown always accepts.
    let (uid, gid) = (
        std::fs::metadata(&dir.0).unwrap().uid(),
        std::fs::metadata(&dir.0).unwrap().gid(),
    );
    let text = format!(
        "{}frontend fe\n    bind {} mode 640 uid {uid} gid {gid}\n    default_backend be\n\n\
         backend be\n    server b {}\n",
        head(&api),
        path.display(),
        b.addr()
    );
    let _l4 = L4lb::start(&text);
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.mode() & 0o7777, 0o640);
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    for _ in 0..4 {
        assert_eq!(unix_round_trip(&path), "b");
    }
    let left: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp") || n.contains(".bak"))
        .collect();
    assert!(left.is_empty(), "temporary names left: {left:?}");
}

#[test]
fn unix_to_abstract_to_unix_chain() {
    let dir = TempDir::new("ux-chain");
    let (api, fe, srv) = (
        dir.0.join("api.sock"),
        dir.0.join("fe.sock"),
        dir.0.join("srv.sock"),
    );
    let name = format!("l4lb-test-chain-{}", std::process::id());
    let _srv = UnixBackend::named("end", Where::Path(srv.clone()));
    let text = format!(
        "{}frontend first\n    bind {}\n    default_backend hop\n\n\
         backend hop\n    server abstract abns@{name}\n\n\
         frontend second\n    bind abns@{name}\n    default_backend last\n\n\
         backend last\n    server file {}\n",
        head(&api),
        fe.display(),
        srv.display()
    );
    let _l4 = L4lb::start(&text);
    for _ in 0..4 {
        assert_eq!(unix_round_trip(&fe), "end");
    }
    assert_eq!(show_stat(&api, "hop", "abstract", "addr"), "unix");
}

#[test]
fn an_abstract_server_of_another_program_with_abnsz() {
    let dir = TempDir::new("ux-abnsz");
    let api = dir.0.join("api.sock");
    let name = format!("l4lb-test-abnsz-{}", std::process::id());
    let _srv = UnixBackend::named("z", Where::Abstract(name.clone()));
    let port = free_port();
    let text = format!(
        "{}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\n\
         backend be\n    server z abnsz@{name}\n",
        head(&api)
    );
    let _l4 = L4lb::start(&text);
    assert_eq!(round_trip(port), "z");
}

#[test]
fn unix_bind_gives_the_prefix_and_mode_and_a_stale_file_is_replaced() {
    let dir = TempDir::new("ux-prefix");
    let api = dir.0.join("api.sock");
    let path = dir.0.join("fe.sock");
    // A socket file nobody listens on any more, as a crash leaves it.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(std::os::unix::net::UnixStream::connect(&path).is_err());
    let b = Backend::named("b");
    let text = format!(
        "global\n    unix-bind prefix {} mode 660\n{}frontend fe\n    bind /fe.sock\n    \
         default_backend be\n\nbackend be\n    server b {}\n",
        dir.0.display(),
        head(&api).replacen("global\n", "", 1),
        b.addr()
    );
    let _l4 = L4lb::start(&text);
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o660);
    assert_eq!(unix_round_trip(&path), "b");
}

#[test]
fn a_reload_keeps_a_unix_bind_and_moves_a_changed_one_with_no_byte_lost() {
    let dir = TempDir::new("ux-reload");
    let (api, one, two) = (
        dir.0.join("api.sock"),
        dir.0.join("one.sock"),
        dir.0.join("two.sock"),
    );
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let conf_path = dir.0.join("l4lb.conf");
    let conf = |bind: &std::path::Path, mode: &str, server: std::net::SocketAddr| {
        format!(
            "{}frontend fe\n    bind {} mode {mode}\n    default_backend be\n\nbackend be\n    server s {server}\n",
            head(&api),
            bind.display()
        )
    };
    std::fs::write(&conf_path, conf(&one, "600", a.addr())).unwrap();
    let l4 = L4lb::spawn(
        &["-f", conf_path.to_str().unwrap()],
        TempDir::new("ux-reload-run"),
    );
    let mut held = unix_connect(&one);
    assert_eq!(line(&mut held).unwrap(), "a");
    let ino = inode(&one);
    let reload = |text: String| l4.reload_with(&conf_path, &text);
    // Same bind, another server and mode: the very socket stays, with
    // the new mode.
    reload(conf(&one, "640", b.addr()));
    assert_eq!(inode(&one), ino, "the same socket file");
    assert_eq!(std::fs::metadata(&one).unwrap().mode() & 0o7777, 0o640);
    assert_eq!(unix_round_trip(&one), "b");
    held.write_all(b"still here\n").unwrap();
    assert_eq!(line(&mut held).unwrap(), "still here");
    // The bind moves: the new path answers, the held client goes on.
    reload(conf(&two, "600", b.addr()));
    assert_eq!(unix_round_trip(&two), "b");
    held.write_all(b"and here\n").unwrap();
    assert_eq!(line(&mut held).unwrap(), "and here");
}

#[test]
fn an_upgrade_takes_the_unix_listener_over() {
    let dir = TempDir::new("ux-upgrade");
    let (api, path) = (dir.0.join("api.sock"), dir.0.join("fe.sock"));
    let a = Backend::named("a");
    let conf_path = dir.0.join("l4lb.conf");
    let text = format!(
        "{}frontend fe\n    bind {}\n    default_backend be\n\nbackend be\n    server a {}\n",
        head(&api),
        path.display(),
        a.addr()
    );
    std::fs::write(&conf_path, text).unwrap();
    let conf_arg = conf_path.to_str().unwrap().to_string();
    let mut old = L4lb::spawn(&["-f", &conf_arg], TempDir::new("ux-old"));
    let ino = inode(&path);
    let mut held = unix_connect(&path);
    assert_eq!(line(&mut held).unwrap(), "a");
    let pid = old.pid().to_string();
    let new = L4lb::spawn(&["-f", &conf_arg, "-sf", &pid], TempDir::new("ux-new"));
    assert!(
        new.log_text()
            .contains("upgrade: took 1 listening socket(s)"),
        "{}",
        new.log_text()
    );
    assert_eq!(inode(&path), ino, "not bound anew: the same socket");
    held.write_all(b"across\n").unwrap();
    assert_eq!(line(&mut held).unwrap(), "across");
    drop(held);
    let status = old
        .wait_exit(Duration::from_secs(10))
        .expect("the old one exits");
    assert_eq!(status.code(), Some(0));
    assert_eq!(unix_round_trip(&path), "a");
}

#[test]
fn a_unix_server_that_is_down_is_redispatched_and_marked_down() {
    let dir = TempDir::new("ux-down");
    let api = dir.0.join("api.sock");
    let missing = dir.0.join("missing.sock");
    let refused = dir.0.join("refused.sock");
    // A file with no listener: ECONNREFUSED; no file at all: ENOENT.
    drop(std::os::unix::net::UnixListener::bind(&refused).unwrap());
    let b = Backend::named("b");
    let port = free_port();
    let text = format!(
        "{}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\n\
         backend be\n    balance roundrobin\n    retries 2\n    option redispatch\n    \
         server gone {} check inter 100ms fall 1\n    server dead {} check inter 100ms fall 1\n    \
         server b {}\n",
        head(&api),
        missing.display(),
        refused.display(),
        b.addr()
    );
    let _l4 = L4lb::start(&text);
    for _ in 0..6 {
        assert_eq!(round_trip(port), "b", "redispatched past the dead ones");
    }
    for sv in ["gone", "dead"] {
        assert!(
            wait_until(Duration::from_secs(10), || show_stat(
                &api, "be", sv, "status"
            ) == "DOWN"),
            "{sv}: {}",
            show_stat(&api, "be", sv, "status")
        );
    }
    // Brought up, the checks bring it back.
    let _up = UnixBackend::named("gone", Where::Path(missing.clone()));
    assert!(wait_until(Duration::from_secs(10), || show_stat(
        &api, "be", "gone", "status"
    ) == "UP"));
}

#[test]
fn a_unix_client_is_logged_as_unix_with_its_bind_id() {
    let dir = TempDir::new("ux-log");
    let (api, path) = (dir.0.join("api.sock"), dir.0.join("fe.sock"));
    let b = Backend::named("b");
    let port = free_port();
    let text = format!(
        "{}frontend fe\n    log stdout format raw local0\n    log-format \"%ci:%cp %fi:%fp %s\"\n    \
         bind 127.0.0.1:{port}\n    bind {}\n    default_backend be\n\n\
         backend be\n    server b {}\n",
        head(&api),
        path.display(),
        b.addr()
    );
    let l4 = L4lb::start(&text);
    assert_eq!(unix_round_trip(&path), "b");
    assert!(
        wait_until(Duration::from_secs(10), || l4
            .out_lines()
            .iter()
            .any(|l| l == "unix:2 unix:2 b")),
        "{:?}",
        l4.out_lines()
    );
}

#[test]
fn the_runtime_api_shows_a_unix_server_as_haproxy_and_will_not_move_it() {
    let dir = TempDir::new("ux-api");
    let (api, path) = (dir.0.join("api.sock"), dir.0.join("srv.sock"));
    let _srv = UnixBackend::named("u", Where::Path(path.clone()));
    let port = free_port();
    let text = format!(
        "{}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\n\
         backend be\n    server u {}\n",
        head(&api),
        path.display()
    );
    let _l4 = L4lb::start(&text);
    let state = api_command(&api, "show servers state be");
    let row = state
        .lines()
        .find(|l| l.contains(" u "))
        .unwrap_or_else(|| panic!("{state}"));
    assert_eq!(
        row.split(' ').nth(4),
        Some("-"),
        "srv_addr of a unix server: {row}"
    );
    let answer = api_command(&api, "set server be/u addr 127.0.0.1 port 80");
    assert!(answer.contains("unix socket"), "{answer}");
    assert_eq!(round_trip(port), "u", "still on its socket");
}

#[test]
fn a_stream_through_a_unix_bind_loses_no_byte_across_reloads() {
    let dir = TempDir::new("ux-stream");
    let (api, path, other) = (
        dir.0.join("api.sock"),
        dir.0.join("fe.sock"),
        dir.0.join("b.sock"),
    );
    let echo = Backend::echo();
    let conf_path = dir.0.join("l4lb.conf");
    let conf = |binds: &str| {
        format!(
            "{}frontend fe\n{binds}    default_backend be\n\nbackend be\n    server e {}\n",
            head(&api),
            echo.addr()
        )
    };
    let first = format!("    bind {}\n", path.display());
    std::fs::write(&conf_path, conf(&first)).unwrap();
    let l4 = L4lb::spawn(
        &["-f", conf_path.to_str().unwrap()],
        TempDir::new("ux-stream-run"),
    );
    let mut client = unix_connect(&path);
    let mut reader = client.try_clone().unwrap();
    let receiver = std::thread::spawn(move || recv_all(&mut reader).unwrap());
    let len = 8 << 20;
    let mut bytes = vec![0u8; len];
    Pattern::new(11).fill(&mut bytes);
    let reload = |text: String| l4.reload_with(&conf_path, &text);
    let third = len / 3;
    client.write_all(&bytes[..third]).unwrap();
    reload(conf(&format!("    bind {} mode 600\n", path.display())));
    client.write_all(&bytes[third..2 * third]).unwrap();
    reload(conf(&format!("{first}    bind {}\n", other.display())));
    client.write_all(&bytes[2 * third..]).unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let (n, hash) = receiver.join().unwrap();
    assert_eq!(n, len);
    assert_eq!(hash, pattern_hash(11, len), "every byte, in order");
}

#[test]
fn balance_source_spreads_unix_clients_as_haproxy_falls_back_to_round_robin() {
    let dir = TempDir::new("ux-source");
    let (api, path) = (dir.0.join("api.sock"), dir.0.join("fe.sock"));
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let text = format!(
        "{}frontend fe\n    bind {}\n    default_backend be\n\n\
         backend be\n    balance source\n    server a {}\n    server b {}\n",
        head(&api),
        path.display(),
        a.addr(),
        b.addr()
    );
    let _l4 = L4lb::start(&text);
    let names: std::collections::BTreeSet<String> =
        (0..16).map(|_| unix_round_trip(&path)).collect();
    assert_eq!(names.len(), 2, "both servers: {names:?}");
}
