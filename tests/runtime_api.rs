//! The runtime API on a unix socket: HAProxy's commands and answers, each
//! checked against what the proxy then does with real connections.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use common::*;

/// l4lb with a `stats socket` at `level`, over `servers` (named s0, s1...).
struct Proxy {
    l4: L4lb,
    sock: PathBuf,
    port: u16,
}

impl Proxy {
    fn start(servers: &[std::net::SocketAddr], backend_extra: &str, level: &str) -> Proxy {
        let dir = TempDir::new("api");
        let sock = dir.0.join("l4lb.sock");
        let port = free_port();
        let text = conf(port, servers, backend_extra).replacen(
            "global\n",
            &format!(
                "global\n    stats socket {} mode 600 level {level}\n",
                sock.display()
            ),
            1,
        );
        let path = dir.0.join("l4lb.conf");
        std::fs::write(&path, text).unwrap();
        let l4 = L4lb::spawn(&["-f", path.to_str().unwrap()], dir);
        Proxy { l4, sock, port }
    }

    /// Sends one line, returns the whole answer (the API closes after it).
    fn cmd(&self, line: &str) -> String {
        api_command(&self.sock, line)
    }

    /// `show stat` as (pxname, svname) -> column -> value.
    fn stat(&self, px: &str, sv: &str, column: &str) -> String {
        show_stat(&self.sock, px, sv, column)
    }
}

/// A named backend that holds each connection open until the client closes.
fn holder(name: &'static str) -> Backend {
    Backend::named(name)
}

#[test]
fn show_info_and_show_stat_count_real_connections() {
    let (a, b) = (holder("a"), holder("b"));
    let p = Proxy::start(&[a.addr(), b.addr()], "balance roundrobin", "user");
    for _ in 0..6 {
        round_trip(p.port);
    }
    let info = p.cmd("show info");
    assert!(info.starts_with("Name: l4lb\n"), "{info}");
    assert!(info.contains(&format!("Pid: {}\n", p.l4.pid())), "{info}");
    assert!(
        info.ends_with("\n\n"),
        "HAProxy ends an answer with an empty line"
    );
    let csv = p.cmd("show stat");
    assert!(
        csv.starts_with("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,"),
        "HAProxy's column order: {csv}"
    );
    // Counters are read after the sessions closed their slots.
    assert!(wait_until(Duration::from_secs(5), || p
        .stat("be", "s0", "scur")
        == "0"
        && p.stat("be", "s1", "scur") == "0"));
    assert_eq!(p.stat("fe", "FRONTEND", "stot"), "6");
    let n = |sv: &str, col: &str| p.stat("be", sv, col).parse::<u64>().unwrap();
    // Round robin is per worker: the split between s0 and s1 may vary.
    assert_eq!(n("s0", "stot") + n("s1", "stot"), 6);
    assert_eq!(n("BACKEND", "stot"), 6);
    assert_eq!(p.stat("be", "s0", "status"), "no check");
    // Each round trip: the server sends "a\n" and echoes "ping\n".
    for sv in ["s0", "s1"] {
        assert_eq!(n(sv, "bout"), n(sv, "stot") * 7, "{sv}");
        assert_eq!(n(sv, "bin"), n(sv, "stot") * 5, "{sv}");
    }
    assert_eq!(n("BACKEND", "bout"), 6 * 7);
    assert_eq!(p.stat("fe", "FRONTEND", "bout"), (6 * 7).to_string());
    let servers_only = p.cmd("show stat -1 4 -1");
    assert_eq!(servers_only.lines().count(), 1 + 2 + 1, "{servers_only}");
    let state = p.cmd("show servers state be");
    assert!(
        state.starts_with("1\n# be_id be_name srv_id srv_name"),
        "{state}"
    );
    assert!(state.contains(" be 2 s1 127.0.0.1 2 0 1 1 "), "{state}");
}

#[test]
fn drain_lets_connections_finish_and_sends_new_ones_elsewhere() {
    let (a, b) = (holder("a"), holder("b"));
    let p = Proxy::start(&[a.addr(), b.addr()], "balance first", "admin");
    let mut held: Vec<_> = (0..3)
        .map(|_| {
            let mut c = connect(p.port);
            assert_eq!(read_line(&mut c).unwrap(), "a", "`first` fills s0");
            c
        })
        .collect();
    assert_eq!(p.cmd("set server be/s0 state drain"), "\n");
    assert_eq!(p.stat("be", "s0", "status"), "DRAIN");
    for _ in 0..3 {
        assert_eq!(
            round_trip(p.port),
            "b",
            "no new connection to a draining server"
        );
    }
    // The count falls as the held connections end, one by one.
    for left in (0..3).rev() {
        let mut c = held.pop().unwrap();
        c.write_all(b"bye\n").unwrap();
        assert_eq!(
            read_line(&mut c).unwrap(),
            "bye",
            "still served while draining"
        );
        drop(c);
        let want = left.to_string();
        assert!(
            wait_until(Duration::from_secs(5), || p.stat("be", "s0", "scur")
                == want),
            "scur {} after closing, want {want}",
            p.stat("be", "s0", "scur")
        );
    }
    assert_eq!(p.cmd("set server be/s0 state ready"), "\n");
    assert_eq!(round_trip(p.port), "a", "ready again");
    assert_eq!(p.cmd("disable server be/s0"), "\n");
    assert_eq!(p.stat("be", "s0", "status"), "MAINT");
    assert_eq!(round_trip(p.port), "b");
    assert_eq!(p.cmd("enable server be/s0"), "\n");
    assert_eq!(round_trip(p.port), "a");
}

#[test]
fn weight_maxconn_and_addr_change_where_connections_go() {
    let (a, b, c) = (holder("a"), holder("b"), holder("c"));
    let p = Proxy::start(&[a.addr(), b.addr()], "balance roundrobin", "admin");
    assert_eq!(p.cmd("set server be/s0 weight 0"), "\n");
    assert_eq!(p.stat("be", "s0", "weight"), "0");
    for _ in 0..4 {
        assert_eq!(round_trip(p.port), "b", "weight 0: no new connections");
    }
    assert_eq!(p.cmd("set server be/s0 weight 100%"), "\n");
    assert_eq!(p.stat("be", "s0", "weight"), "1", "100% of the conf weight");
    let names: Vec<String> = (0..6).map(|_| round_trip(p.port)).collect();
    assert!(names.iter().any(|n| n == "a"), "{names:?}");

    // maxconn 1 on s0 with one connection held: the rest go to s1.
    assert_eq!(p.cmd("set maxconn server be/s0 1"), "\n");
    assert_eq!(p.stat("be", "s0", "slim"), "1");
    let mut held = None;
    for _ in 0..4 {
        let mut conn = connect(p.port);
        if read_line(&mut conn).unwrap() == "a" {
            held = Some(conn);
            break;
        }
    }
    assert!(held.is_some(), "s0 took one connection");
    for _ in 0..4 {
        assert_eq!(round_trip(p.port), "b", "s0 is full");
    }
    drop(held);
    assert_eq!(p.cmd("set maxconn server be/s0 0"), "\n");

    // addr: s1 now points at c.
    let answer = p.cmd(&format!("set server be/s1 addr 127.0.0.1 port {}", c.port));
    assert!(
        answer.starts_with("IP changed from '127.0.0.1' to '127.0.0.1', port changed from"),
        "{answer}"
    );
    let names: Vec<String> = (0..6).map(|_| round_trip(p.port)).collect();
    assert!(names.iter().any(|n| n == "c"), "{names:?}");
    assert!(!names.iter().any(|n| n == "b"), "{names:?}");
    assert_eq!(p.stat("be", "s1", "addr"), c.addr().to_string());
}

#[test]
fn shutdown_sessions_resets_a_servers_connections() {
    let a = holder("a");
    let p = Proxy::start(&[a.addr()], "", "admin");
    let mut c = connect(p.port);
    assert_eq!(read_line(&mut c).unwrap(), "a");
    assert_eq!(p.cmd("shutdown sessions server be/s0"), "\n");
    let mut rest = Vec::new();
    let got = c.read_to_end(&mut rest);
    assert!(got.is_err() || rest.is_empty(), "cut: {got:?} {rest:?}");
    assert!(wait_until(Duration::from_secs(5), || p
        .stat("be", "s0", "scur")
        == "0"));
    assert_eq!(round_trip(p.port), "a", "new connections still go there");
}

#[test]
fn bad_commands_get_a_clear_error_and_harm_nothing() {
    let a = holder("a");
    let p = Proxy::start(&[a.addr()], "", "admin");
    let mut streaming = connect(p.port);
    assert_eq!(read_line(&mut streaming).unwrap(), "a");
    let cases = [
        ("set server be/nope weight 1", "No such server.\n\n"),
        ("set server nope/s0 weight 1", "No such backend.\n\n"),
        ("set server s0 weight 1", "Require 'backend/server'.\n\n"),
        (
            "set server be/s0 weight 300",
            "Absolute weight can only be between 0 and 256 inclusive.",
        ),
        (
            "set server be/s0 state sleepy",
            "expects 'ready', 'drain' and 'maint'",
        ),
        (
            "set server be/s0 addr nowhere",
            "'nowhere' is not an IP address",
        ),
        ("set maxconn server be/s0 lots", "Require <maxconn>"),
        ("shutdown sessions server be/ghost", "No such server.\n\n"),
        (
            "del server be/s0",
            "Only servers in maintenance mode can be deleted.\n\n",
        ),
        ("frobnicate", "Unknown command: 'frobnicate'."),
    ];
    for (cmd, want) in cases {
        let got = p.cmd(cmd);
        assert!(got.contains(want), "{cmd:?}: {got:?}");
    }
    // An oversized line in interactive mode: an error, then the connection
    // still answers.
    let mut s = UnixStream::connect(&p.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"prompt\n").unwrap();
    s.write_all(&vec![b'x'; 40_000]).unwrap();
    s.write_all(b"\nshow info\nquit\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.contains("Command line too long"), "{out}");
    assert!(out.contains("Name: l4lb"), "still answers after it: {out}");
    // Nothing happened to the proxied connection meanwhile.
    streaming.write_all(b"still\n").unwrap();
    assert_eq!(read_line(&mut streaming).unwrap(), "still");
    assert_eq!(p.stat("be", "s0", "weight"), "1");
}

#[test]
fn level_user_may_look_but_not_change() {
    let a = holder("a");
    let p = Proxy::start(&[a.addr()], "", "user");
    assert!(p.cmd("show stat").starts_with("# pxname"));
    for cmd in [
        "set server be/s0 weight 0",
        "disable server be/s0",
        "shutdown sessions server be/s0",
        "reload",
    ] {
        assert_eq!(p.cmd(cmd), "Permission denied\n\n", "{cmd}");
    }
    assert_eq!(p.stat("be", "s0", "weight"), "1");
}

#[test]
fn prompt_mode_answers_line_after_line_until_quit() {
    let a = holder("a");
    let p = Proxy::start(&[a.addr()], "", "admin");
    let mut s = UnixStream::connect(&p.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"prompt\nset server be/s0 weight 7; show stat -1 4 -1\nquit\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(
        out.starts_with("\n> "),
        "HAProxy: an empty answer, then the prompt: {out:?}"
    );
    assert!(out.contains("\nbe,s0,"), "{out:?}");
    assert_eq!(p.stat("be", "s0", "weight"), "7");
}

#[test]
fn leaving_maintenance_starts_the_slow_start() {
    let (a, b) = (holder("a"), holder("b"));
    let p = Proxy::start(
        &[a.addr(), b.addr()],
        "balance roundrobin\ndefault-server slowstart 2s",
        "admin",
    );
    assert_eq!(
        p.stat("be", "s0", "throttle"),
        "",
        "no slow start at startup"
    );
    assert_eq!(p.cmd("set server be/s0 state maint"), "\n");
    assert_eq!(p.cmd("set server be/s0 state ready"), "\n");
    let throttle: u32 = p.stat("be", "s0", "throttle").parse().expect("ramping");
    assert!(throttle < 50, "starts low: {throttle}%");
    assert!(
        wait_until(Duration::from_secs(10), || p
            .stat("be", "s0", "throttle")
            .is_empty()),
        "full weight after the slow start"
    );
    // A server added at run time ramps too.
    let c = holder("c");
    assert_eq!(
        p.cmd(&format!("add server be/s2 {} slowstart 2s", c.addr())),
        "New server registered.\n\n"
    );
    let throttle: u32 = p.stat("be", "s2", "throttle").parse().expect("ramping");
    assert!(throttle < 50, "{throttle}%");
}

/// `show info`'s value of `field`.
fn info_field(p: &Proxy, field: &str) -> u64 {
    let info = p.cmd("show info");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}: ")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .parse()
        .unwrap()
}

#[test]
fn bulk_bytes_go_through_pipes_and_an_idle_connection_holds_none() {
    // The server sends 64 MiB at once, then keeps the connection open.
    let big = Backend::start(|mut s| {
        let chunk = vec![7u8; 1 << 20];
        for _ in 0..64 {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = s.read(&mut [0u8; 1]); // Until the client closes.
    });
    let p = Proxy::start(&[big.addr()], "", "user");
    assert_eq!(info_field(&p, "PipesLent"), 0);
    let mut c = connect(p.port);
    // A slow reader: bytes pile up behind it, so l4lb's reads from the
    // server fill whole buffers (what switches a direction to splice)
    // instead of following the server's writes piece by piece.
    let mut got = c.read(&mut [0u8; 1]).unwrap();
    thread::sleep(Duration::from_millis(300));
    let mut buf = vec![0u8; 1 << 16];
    while got < 64 << 20 {
        got += c.read(&mut buf).unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(10), || info_field(&p, "PipesLent") > 0),
        "full buffers switch the direction to splice"
    );
    assert!(
        wait_until(Duration::from_secs(10), || info_field(&p, "PipesUsed") == 0),
        "an idle connection gives its pipe back"
    );
    assert_eq!(p.stat("be", "s0", "scur"), "1", "still open");
}

#[test]
fn connect_failures_are_counted_per_server() {
    let live = holder("live");
    let dead = addr(free_port()); // Nothing listens: refused.
    let p = Proxy::start(&[dead, live.addr()], "balance first\nretries 3", "user");
    for _ in 0..3 {
        assert_eq!(round_trip(p.port), "live", "refused, retried on the next");
    }
    assert_eq!(p.stat("be", "s0", "econ"), "3");
    assert_eq!(p.stat("be", "s0", "wretr"), "3");
    assert_eq!(
        p.stat("be", "s0", "wredis"),
        "3",
        "each retry went elsewhere"
    );
    assert_eq!(p.stat("be", "s1", "econ"), "0");
    assert_eq!(p.stat("be", "BACKEND", "econ"), "3");
}

#[test]
fn a_backends_sessions_count_its_queued_clients() {
    let a = holder("a");
    let p = Proxy::start(&[a.addr()], "default-server maxconn 1", "user");
    let n = |sv: &str, col: &str| p.stat("be", sv, col).parse::<u64>().unwrap();
    // One client on the server, two more queued for its only slot.
    let mut first = connect(p.port);
    assert_eq!(read_line(&mut first).unwrap(), "a");
    let queued = [connect(p.port), connect(p.port)];
    assert!(
        wait_until(Duration::from_secs(5), || n("BACKEND", "scur") == 3),
        "the backend counts its queued clients: {}",
        p.cmd("show stat")
    );
    assert_eq!(n("s0", "scur"), 1, "the server, only its connection");
    assert_eq!(n("BACKEND", "smax"), 3);
    assert_eq!(n("s0", "smax"), 1);
    drop(first);
    drop(queued);
    assert!(
        wait_until(Duration::from_secs(5), || n("BACKEND", "scur") == 0),
        "{}",
        p.cmd("show stat")
    );
    assert_eq!(n("BACKEND", "smax"), 3, "the high mark stays");
}

/// `stats socket ... uid N gid N` (or `user`/`group` names): the socket
/// file belongs to them, with its mode, and still answers.
#[test]
fn a_stats_socket_gets_the_owner_its_line_names() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let a = Backend::named("a");
    let p = Proxy::start(&[a.addr()], "", "admin uid 65534 gid 65534");
    let meta = std::fs::metadata(&p.sock).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(
        p.cmd("show info").contains("Name: "),
        "{}",
        p.cmd("show info")
    );
}
