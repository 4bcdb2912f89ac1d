//! Unix socket addresses: `bind` and `server` on a path, `unix@`, `abns@`
//! and `abnsz@`; the unix-only bind options; the global `unix-bind`.

use super::*;

fn bind_addrs(c: &Config) -> Vec<SockAddr> {
    c.frontends[0]
        .binds
        .iter()
        .map(|b| b.addr.clone())
        .collect()
}

fn path(p: &str) -> SockAddr {
    SockAddr::Unix(UnixAddr::Path(p.into()))
}

#[test]
fn binds_on_paths_and_abstract_names() {
    let c = load(&in_frontend(
        "bind /run/a.sock\nbind unix@rel.sock,abns@web\nbind abnsz@web",
    ));
    let mut padded = b"web".to_vec();
    padded.resize(106, 0);
    let want = [
        path("/run/a.sock"),
        path("rel.sock"),
        SockAddr::Unix(UnixAddr::Abstract(padded)),
        SockAddr::Unix(UnixAddr::Abstract(b"web".to_vec())),
        SockAddr::Inet("127.0.0.1:8080".parse().unwrap()),
    ];
    assert_eq!(bind_addrs(&c), want);
    let shown: Vec<String> = want.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "/run/a.sock",
            "rel.sock",
            "abns@web",
            "abns@web",
            "127.0.0.1:8080"
        ],
        "as HAProxy shows them"
    );
}

#[test]
fn unix_bind_options_set_mode_and_owner() {
    let c = load(&in_frontend("bind /run/a.sock mode 660 uid 12 gid 34"));
    let o = &c.frontends[0].binds[0].opts;
    assert_eq!((o.mode, o.uid, o.gid), (Some(0o660), Some(12), Some(34)));
    let c = load(&in_frontend("bind /run/a.sock user root group root"));
    let o = &c.frontends[0].binds[0].opts;
    assert_eq!((o.uid, o.gid), (Some(0), Some(0)));
}

#[test]
fn unix_only_options_on_an_ip_bind_warn_as_haproxy_ignores_them() {
    assert_warning(
        &in_frontend("bind :81 mode 600 uid 3"),
        &["bind 0.0.0.0:81: mode, uid applies to unix sockets only"],
    );
}

#[test]
fn unix_bind_gives_its_prefix_and_defaults_the_bind_line_overrides() {
    let text = format!(
        "global\n unix-bind prefix /run/l4lb/ mode 640 uid 7 gid 8\n{}",
        in_frontend("bind /a.sock mode 600\nbind abns@x gid 9")
    );
    let c = load(&text);
    let b = &c.frontends[0].binds;
    assert_eq!(
        b[0].addr,
        path("/run/l4lb//a.sock"),
        "put before the path as written"
    );
    assert_eq!(
        (b[0].opts.mode, b[0].opts.uid, b[0].opts.gid),
        (Some(0o600), Some(7), Some(8))
    );
    assert!(matches!(&b[1].addr, SockAddr::Unix(UnixAddr::Abstract(n)) if n.starts_with(b"x\0")));
    assert_eq!(b[1].opts.gid, Some(9));
    assert_eq!(b[2].opts.mode, None, "an IP bind takes none of it");
}

#[test]
fn servers_on_unix_sockets() {
    let c = load(&in_backend(
        "server u1 /run/pg.sock check\nserver u2 unix@pg2.sock\nserver u3 abns@pg",
    ));
    let s = server(&c, "u1");
    assert_eq!(s.unix, Some(UnixAddr::Path("/run/pg.sock".into())));
    assert!(s.check.is_some());
    assert_eq!(s.target().to_string(), "/run/pg.sock");
    assert_eq!(server(&c, "u2").target().to_string(), "pg2.sock");
    assert_eq!(server(&c, "u3").target().to_string(), "abns@pg");
    assert_eq!(server(&c, "s1").unix, None);
}

#[test]
fn unix_address_errors() {
    let long = format!("bind /{}", "a".repeat(97));
    assert_error(&in_frontend(&long), 2, "bind", "at most 97 bytes");
    let long_abns = format!("bind abns@{}", "a".repeat(107));
    assert_error(&in_frontend(&long_abns), 2, "bind", "1 to 106 bytes");
    let long_server = format!("server u /{}", "a".repeat(107));
    assert_error(&in_backend(&long_server), 9, "server", "too long");
    assert_frontend_errors(&[
        ("bind unix@", 2, "bind", "needs a path"),
        ("bind abns@", 2, "bind", "1 to 106 bytes"),
        ("bind /a.sock mode 999", 2, "mode", "not an octal file mode"),
        (
            "bind /a.sock user no-such-user-l4lb",
            2,
            "user",
            "no user named",
        ),
        ("bind /a.sock uid", 2, "uid", "expects a value"),
    ]);
    assert_backend_errors(&[(
        "server u /run/pg.sock check port 5432",
        9,
        "server",
        "checked on that socket",
    )]);
    let text = format!(
        "global\n unix-bind prefix /{}\n{}",
        "p".repeat(90),
        in_frontend("bind /a.sock")
    );
    assert_error(&text, 4, "bind", "too long");
}

#[test]
fn a_unix_path_bound_twice_is_an_error() {
    assert_frontend_errors(&[(
        "bind /run/a.sock\nbind unix@/run/a.sock",
        3,
        "bind",
        "already bound at line 2",
    )]);
}

#[test]
fn the_quick_start_binds_and_connects_unix_sockets_too() {
    let args = Args {
        bind: vec!["/run/q.sock".into()],
        server: vec!["abns@q".into(), "127.0.0.1:1".into()],
        ..Args::default()
    };
    let c = Config::from_args(&args).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(bind_addrs(&c), [path("/run/q.sock")]);
    assert_eq!(c.backends[0].servers[0].target().to_string(), "abns@q");
}

#[test]
fn a_stats_page_on_a_unix_socket_is_refused() {
    let text = format!("{BASE}listen stats\n mode http\n bind /run/stats.sock\n stats enable\n");
    assert_error(&text, 11, "bind", "stats pages on IP sockets only");
}

#[test]
fn a_unix_server_takes_no_source() {
    let c = load(&in_backend("source 127.0.0.1\nserver u /run/u.sock"));
    assert_eq!(
        server(&c, "u").source,
        None,
        "the backend's is for its IP servers"
    );
    assert!(server(&c, "s1").source.is_some());
    let errs = errors(&in_backend("server u /run/u.sock source 127.0.0.1"));
    assert!(
        errs.iter().any(|e| e
            .msg
            .contains("on a unix socket: it cannot connect from source")),
        "{errs:#?}"
    );
}

#[test]
fn tcp_only_options_on_a_unix_bind_warn_as_haproxy_ignores_them() {
    assert_warning(
        &in_frontend("bind /run/a.sock tfo mss 1400 backlog 10"),
        &["bind /run/a.sock: tfo, mss applies to TCP sockets only"],
    );
}
