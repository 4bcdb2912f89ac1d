//! Socket options and limits: bind options, server `source`/`tfo`/
//! `tcp-ut`/`id`/`minconn`/`maxqueue`, proxy `source`, `fullconn`,
//! `backlog`, `id` and the `nolinger` / `tcp-smart-*` options.

use super::*;

#[test]
fn bind_options_are_read_into_the_bind() {
    let text = in_frontend(
        "bind [::1]:81 v6only backlog 64 defer-accept tfo interface lo mss 1400 tcp-ut 5s \
         process all thread all maxconn 30\nbind :::82 v4v6 maxconn 0",
    );
    let c = load(&text);
    let b = &c.frontends[0].binds;
    let want = BindOpts {
        v6only: Some(true),
        backlog: Some(64),
        defer_accept: true,
        tfo: true,
        interface: Some("lo".into()),
        mss: Some(1400),
        tcp_ut: Some(Duration::from_secs(5)),
        maxconn: Some(30),
        ..BindOpts::default()
    };
    assert_eq!(b[0].opts, want);
    assert_eq!(b[1].opts.v6only, Some(false));
    assert_eq!(b[1].opts.maxconn, None, "maxconn 0: no limit of its own");
    assert_eq!(b[2].opts, BindOpts::default(), "the base bind has none");
}

#[test]
fn bind_option_errors() {
    assert_frontend_errors(&[
        ("bind :80 backlog", 2, "backlog", "expects a value"),
        ("bind :80 backlog 0", 2, "backlog", "whole number >= 1"),
        ("bind :80 mss -20", 2, "mss", "negative mss"),
        ("bind :80 mss 70000", 2, "mss", "1..=65535"),
        ("bind :80 tcp-ut soon", 2, "tcp-ut", "not a time"),
        (
            "bind :80 interface averyveryverylongname",
            2,
            "interface",
            "1 to 15",
        ),
        ("bind :80 thread 1-2", 2, "thread", "only 'thread all'"),
        ("bind :80 maxconn", 2, "maxconn", "expects a value"),
        ("bind :80 maxconn -1", 2, "maxconn", "whole number >= 0"),
        ("bind :80 maxconn lots", 2, "maxconn", "whole number >= 0"),
        (
            "bind :80 accept-netscaler-cip 1234",
            2,
            "accept-netscaler-cip",
            "not implemented yet",
        ),
    ]);
}

#[test]
fn server_socket_options_and_limits() {
    let text = in_backend(
        "server s3 127.0.0.1:9003 id 7 minconn 5 maxconn 50 maxqueue 3 source 127.0.0.2 \
         interface lo tfo tcp-ut 2s\nserver s4 127.0.0.1:9004 minconn 9\n\
         server s5 127.0.0.1:9005 maxconn 4",
    );
    let c = load(&text);
    let s3 = server(&c, "s3");
    assert_eq!(
        (s3.id, s3.minconn, s3.maxconn, s3.maxqueue),
        (Some(7), 5, 50, 3)
    );
    let source = s3.source.as_ref().unwrap();
    assert_eq!(source.addr, "127.0.0.2:0".parse().unwrap());
    assert_eq!(source.interface.as_deref(), Some("lo"));
    assert!(s3.tfo);
    assert_eq!(s3.tcp_ut, Some(Duration::from_secs(2)));
    // HAProxy: a minconn alone is the maxconn; a maxconn alone is static.
    let s4 = server(&c, "s4");
    assert_eq!((s4.minconn, s4.maxconn), (9, 9));
    let s5 = server(&c, "s5");
    assert_eq!((s5.minconn, s5.maxconn), (4, 4));
    // Ids not given are the next free ones in conf order.
    let ids: Vec<_> = c.backends[0].servers.iter().map(|s| s.id).collect();
    assert_eq!(ids, [None, None, Some(7), None, None]);
    assert_eq!(numbered_ids(&ids), [1, 2, 7, 3, 4]);
    assert_eq!(numbered_ids(&[None, Some(1), None]), [2, 1, 3]);
}

#[test]
fn a_backend_source_goes_to_servers_without_their_own() {
    let text = in_backend("source 10.0.0.1:4000\nserver s3 [::1]:9003 source [::1]:0");
    let c = load(&text);
    let src = |name| server(&c, name).source.as_ref().map(|s| s.addr);
    assert_eq!(src("s1"), Some("10.0.0.1:4000".parse().unwrap()));
    assert_eq!(src("s3"), Some("[::1]:0".parse().unwrap()));
    let mixed = in_backend("server s3 127.0.0.1:9003 source ::1");
    assert_error(&mixed, 5, "backend", "not the same address family");
}

#[test]
fn server_option_errors() {
    assert_backend_errors(&[
        ("server s3 127.0.0.1:1 id 0", 9, "id", "whole number"),
        (
            "server s3 127.0.0.1:1 source nowhere",
            9,
            "source",
            "not an IP address",
        ),
        (
            "server s3 127.0.0.1:1 source 1.2.3.4:2000-1000",
            9,
            "source",
            "invalid port range '2000-1000'",
        ),
        (
            "server s3 127.0.0.1:1 source 1.2.3.4:0-1000",
            9,
            "source",
            "whole number in 1..=65535",
        ),
        (
            "server s3 127.0.0.1:1 source 1.2.3.4:1000-70000",
            9,
            "source",
            "whole number in 1..=65535",
        ),
        (
            "source 1.2.3.4:1000-2000",
            9,
            "source",
            "not permitted in a backend's source, as in HAProxy",
        ),
        (
            "server s3 127.0.0.1:1 interface lo",
            9,
            "interface",
            "source ADDR interface NAME",
        ),
        (
            "server s3 127.0.0.1:1 source 1.2.3.4 usesrc clientip",
            9,
            "usesrc",
            "transparent",
        ),
        (
            "server s3 127.0.0.1:1 tcp-ut",
            9,
            "tcp-ut",
            "expects a time",
        ),
        ("source 1.2.3.4 usesrc client", 9, "usesrc", "transparent"),
        ("source", 9, "source", "expects: source ADDR"),
    ]);
}

#[test]
fn a_server_source_port_range_is_its_own_and_default_server_gives_each_one() {
    let text = in_backend(
        "default-server source 127.0.0.3:2000-2009\n\
         server s3 127.0.0.1:9003 source 127.0.0.2:1025-1027 interface lo\n\
         server s4 127.0.0.1:9004\nserver s5 127.0.0.1:9005 source 127.0.0.2:4000-4000\n\
         server s6 [::1]:9006 source [::1]:5000-5001",
    );
    let c = load(&text);
    let source = |name| server(&c, name).source.clone().unwrap();
    let s3 = source("s3");
    assert_eq!(s3.addr, "127.0.0.2:0".parse().unwrap());
    assert_eq!(s3.ports, Some(1025..=1027));
    assert_eq!(s3.interface.as_deref(), Some("lo"));
    let s4 = source("s4");
    assert_eq!(
        (s4.addr, s4.ports),
        ("127.0.0.3:0".parse().unwrap(), Some(2000..=2009))
    );
    // LOW-LOW is one port, as HAProxy.
    let s5 = source("s5");
    assert_eq!(
        (s5.addr, s5.ports),
        ("127.0.0.2:4000".parse().unwrap(), None)
    );
    assert!(
        server(&c, "s1").source.is_none(),
        "above the default-server"
    );
}

#[test]
fn ids_are_unique_per_backend_and_among_proxies() {
    let dup = in_backend("server s3 127.0.0.1:9003 id 4\nserver s4 127.0.0.1:9004 id 4");
    assert_error(&dup, 5, "backend", "id 4 is already used by server 's3'");
    let text =
        format!("{BASE}    id 3\nfrontend other\n    id 3\n    bind :99\n    default_backend be\n");
    assert_error(&text, 11, "id", "id 3 is already used by proxy 'be'");
}

#[test]
fn proxies_get_their_id_or_the_next_free_one() {
    let text = format!("{BASE}    id 1\nlisten l\n    bind :99\n    server s 127.0.0.1:1\n");
    let c = load(&text);
    let fe: Vec<_> = c
        .frontends
        .iter()
        .map(|f| (f.name.as_str(), f.id))
        .collect();
    let be: Vec<_> = c.backends.iter().map(|b| (b.name.as_str(), b.id)).collect();
    // `be` took 1; `fe` gets 2, the listen section one id for both halves.
    assert_eq!(fe, [("fe", 2), ("l", 3)]);
    assert_eq!(be, [("be", 1), ("l", 3)]);
}

#[test]
fn fullconn_is_its_own_or_a_tenth_of_the_frontends_maxconn() {
    let c = load(&format!("{BASE}    fullconn 77\n"));
    assert_eq!(c.backends[0].fullconn, 77);
    // One frontend at the global 4096: 410 (rounded up).
    assert_eq!(load(BASE).backends[0].fullconn, 410);
    let text = BASE.replace("timeout client 30s", "timeout client 30s\n    maxconn 5");
    assert_eq!(load(&text).backends[0].fullconn, 1);
}

#[test]
fn socket_options_of_proxies() {
    let text = format!(
        "defaults\n    option nolinger\n    option tcp-smart-accept\n    option tcp-smart-connect\n\
         {BASE}    no option nolinger\n"
    );
    let c = load(&text);
    let (fe, be) = (&c.frontends[0], &c.backends[0]);
    assert!(fe.nolinger && fe.smart_accept);
    assert!(!be.nolinger && be.smart_connect);
    let c = load(&BASE.replace("timeout client 30s", "timeout client 30s\n    backlog 12"));
    assert_eq!(c.frontends[0].backlog, Some(12));
    // Where they cannot act, HAProxy warns and ignores them (warnifnotcap).
    let misplaced = [
        (
            "option tcp-smart-accept",
            "option tcp-smart-accept",
            "backend",
        ),
        ("backlog 5", "backlog", "backend"),
        (
            "option tcp-smart-connect",
            "option tcp-smart-connect",
            "frontend",
        ),
        ("fullconn 5", "fullconn", "frontend"),
    ];
    for (line, kw, section) in misplaced {
        let text = if section == "backend" {
            in_backend(line)
        } else {
            in_frontend(line)
        };
        let ignored = format!("is ignored in a {section} section");
        assert_warning(&text, &[kw, &ignored]);
    }
}

#[test]
fn maxqueue_is_refused_where_l4lb_never_queues_on_a_server() {
    let text = in_backend("balance source\nserver s3 127.0.0.1:9003 maxqueue 2");
    assert_error(&text, 5, "backend", "maxqueue with balance source");
    let ok = in_backend("server s3 127.0.0.1:9003 maxconn 1 maxqueue 2");
    assert_eq!(server(&load(&ok), "s3").maxqueue, 2);
}

#[test]
fn send_proxy_and_its_v2_options() {
    let c = load(&in_backend(
        "server s3 127.0.0.1:80 send-proxy\n\
         server s4 127.0.0.1:81 proxy-v2-options crc32c,authority,unique-id send-proxy-v2\n\
         server s5 127.0.0.1:82 proxy-v2-options crc32c\n\
         server s6 127.0.0.1:83 send-proxy proxy-v2-options crc32c",
    ));
    let v1 = SendProxy::default();
    assert_eq!(server(&c, "s3").send_proxy, Some(v1));
    let v2 = SendProxy {
        v2: true,
        crc32c: true,
        authority: true,
        unique_id: true,
    };
    assert_eq!(server(&c, "s4").send_proxy, Some(v2));
    assert_eq!(
        server(&c, "s5").send_proxy,
        None,
        "options alone send nothing"
    );
    assert_eq!(
        server(&c, "s6").send_proxy,
        Some(v1),
        "v2 options do not apply to v1"
    );
    assert_backend_errors(&[
        (
            "server s3 127.0.0.1:80 send-proxy-v2 proxy-v2-options ssl",
            9,
            "proxy-v2-options",
            "never terminates TLS",
        ),
        (
            "server s3 127.0.0.1:80 send-proxy-v2 proxy-v2-options unique-id,nope",
            9,
            "proxy-v2-options",
            "unknown option 'nope'; accepted: crc32c, authority, unique-id",
        ),
        (
            "server s3 127.0.0.1:80 send-proxy-v2-ssl",
            9,
            "send-proxy-v2-ssl",
            "never terminates TLS",
        ),
    ]);
}
