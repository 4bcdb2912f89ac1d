//! Check options and rules: `option httpchk` with `http-check` lines, the
//! protocol options, which one wins, what defaults pass on; the servers'
//! check TLS (`check-ssl`, `verify`, `ca-file`) and agent options.

use super::*;

fn http(c: &Config) -> &HttpCheck {
    match &c.backends[0].checks {
        CheckKind::Http(h) => h,
        other => panic!("not an HTTP check: {other:?}"),
    }
}

fn request(c: &Config) -> &HttpRequest {
    http(c)
        .rules
        .iter()
        .find_map(|r| match r {
            HttpRule::Send(req) => Some(req),
            _ => None,
        })
        .expect("a send")
}

#[test]
fn option_httpchk_forms_and_haproxys_implicit_rules() {
    let c = load(&in_backend("option httpchk"));
    assert_eq!(
        http(&c).rules,
        [
            HttpRule::Send(HttpRequest::default()),
            HttpRule::Expect(HttpExpect {
                inverse: false,
                what: HttpMatch::Status(vec![(200, 399)])
            }),
        ],
        "OPTIONS / HTTP/1.0, and a 2xx or 3xx passes"
    );
    let uri = load(&in_backend("option httpchk /healthz"));
    assert_eq!(
        (request(&uri).method.as_str(), request(&uri).uri.as_str()),
        ("OPTIONS", "/healthz")
    );
    // The old way of adding a header (Patroni's docs, many blog posts).
    let old = load(&in_backend(
        r"option httpchk GET /primary HTTP/1.1\r\nHost:\ db",
    ));
    let req = request(&old);
    assert_eq!(
        (req.method.as_str(), req.uri.as_str(), req.version.as_str()),
        ("GET", "/primary", "HTTP/1.1")
    );
    assert_eq!(req.headers, [("Host".to_string(), "db".to_string())]);
    let host = load(&in_backend("option httpchk GET /readyz HTTP/1.1 api.local"));
    assert_eq!(
        request(&host).headers,
        [("Host".to_string(), "api.local".to_string())]
    );
}

#[test]
fn http_check_send_completes_the_option_and_expects_replace_the_default() {
    let c = load(&in_backend(
        "option httpchk GET /health\nhttp-check connect port 8008 ssl sni db.local\n\
         http-check send ver HTTP/1.1 hdr Host db hdr X-Check yes\n\
         http-check expect ! rstatus ^5\nhttp-check expect string running\nhttp-check disable-on-404",
    ));
    let h = http(&c);
    assert!(h.disable_on_404);
    let HttpRule::Connect(connect) = &h.rules[0] else {
        panic!("{:?}", h.rules)
    };
    assert_eq!(
        (connect.port, connect.ssl, connect.sni.as_deref()),
        (Some(8008), true, Some("db.local"))
    );
    let req = request(&c);
    assert_eq!(
        (req.method.as_str(), req.uri.as_str(), req.version.as_str()),
        ("GET", "/health", "HTTP/1.1")
    );
    assert_eq!(req.headers.len(), 2);
    let expects: Vec<&HttpExpect> = h
        .rules
        .iter()
        .filter_map(|r| match r {
            HttpRule::Expect(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(expects.len(), 2, "no default expect once one is written");
    assert!(expects[0].inverse);
    assert_eq!(expects[1].what, HttpMatch::String(b"running".to_vec()));
}

#[test]
fn protocol_options_and_the_last_check_option_wins() {
    let cases = [
        ("option redis-check", CheckKind::Redis),
        ("option ldap-check", CheckKind::Ldap),
        ("option ssl-hello-chk", CheckKind::SslHello),
        (
            "option pgsql-check user haproxy",
            CheckKind::Pgsql {
                user: "haproxy".into(),
            },
        ),
        (
            "option mysql-check",
            CheckKind::Mysql {
                user: None,
                post41: true,
            },
        ),
        (
            "option mysql-check user haproxy pre-41",
            CheckKind::Mysql {
                user: Some("haproxy".into()),
                post41: false,
            },
        ),
        (
            "option smtpchk",
            CheckKind::Smtp {
                verb: "HELO".into(),
                domain: "localhost".into(),
            },
        ),
        (
            "option smtpchk EHLO mail.example.com",
            CheckKind::Smtp {
                verb: "EHLO".into(),
                domain: "mail.example.com".into(),
            },
        ),
        ("option httpchk\noption redis-check", CheckKind::Redis),
        (
            "option redis-check\noption tcp-check",
            CheckKind::TcpCheck(vec![]),
        ),
    ];
    for (lines, want) in cases {
        assert_eq!(load(&in_backend(lines)).backends[0].checks, want, "{lines}");
    }
}

#[test]
fn check_option_and_rule_errors() {
    assert_backend_errors(&[
        (
            "option pgsql-check",
            9,
            "option pgsql-check",
            "user is required",
        ),
        (
            "option smtpchk HELO",
            9,
            "option smtpchk",
            "unexpected arguments",
        ),
        (
            "option mysql-check user u post-80",
            9,
            "option mysql-check",
            "not implemented yet",
        ),
        (
            "http-check expect status 2xx",
            9,
            "http-check expect",
            "not an HTTP status",
        ),
        (
            "http-check expect hdr name x",
            9,
            "http-check expect hdr",
            "not implemented yet",
        ),
        (
            "http-check send uri-lf /%[env(X)]",
            9,
            "http-check send uri-lf",
            "not implemented yet",
        ),
        (
            "http-check send hdr Host",
            9,
            "http-check send",
            "incomplete 'hdr'",
        ),
    ]);
}

#[test]
fn a_proxys_own_rules_replace_those_of_its_defaults() {
    let text = "defaults\n mode tcp\n option tcp-check\n tcp-check send PING\\r\\n\n tcp-check expect string +PONG\n\
                backend inherits\n server a 127.0.0.1:1 check\n\
                backend own\n tcp-check send-binary 00\n server a 127.0.0.1:1 check\n\
                backend http\n option httpchk\n server a 127.0.0.1:1 check\n\
                frontend fe\n bind 127.0.0.1:8080\n default_backend inherits\n";
    let c = load(text);
    let kind = |name: &str| {
        c.backends
            .iter()
            .find(|b| b.name == name)
            .unwrap()
            .checks
            .clone()
    };
    let CheckKind::TcpCheck(inherited) = kind("inherits") else {
        panic!()
    };
    assert_eq!(inherited.len(), 2);
    assert_eq!(
        kind("own"),
        CheckKind::TcpCheck(vec![CheckStep::Send(vec![0])])
    );
    assert!(
        matches!(kind("http"), CheckKind::Http(_)),
        "the last check option wins"
    );
    assert!(
        c.warnings.iter().all(|w| !w.contains("not used")),
        "inherited rules unused by an httpchk backend are no warning: {:?}",
        c.warnings
    );
}

#[test]
fn check_ssl_verifies_by_default_and_needs_a_ca_file() {
    let dir = crate::testutil::temp_dir("check-tls");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, "not read here").unwrap();
    let c = load(&in_backend(&format!(
        "server s3 127.0.0.1:6443 check check-ssl ca-file {} check-sni api.local verifyhost api.local check-alpn h2,http/1.1\n\
         server s4 127.0.0.1:6444 check check-ssl verify none",
        ca.display()
    )));
    let tls = server(&c, "s3")
        .check
        .as_ref()
        .unwrap()
        .tls
        .clone()
        .unwrap();
    assert!(tls.verify);
    assert_eq!(tls.ca_file, Some(CaFile::Path(ca.clone())));
    assert_eq!((tls.sni.as_deref(), tls.alpn.len()), (Some("api.local"), 2));
    assert!(
        !server(&c, "s4")
            .check
            .as_ref()
            .unwrap()
            .tls
            .as_ref()
            .unwrap()
            .verify
    );
    let based = load(&format!(
        "global\n ca-base {}\n ssl-server-verify required\n{}",
        dir.display(),
        in_backend("server s3 127.0.0.1:6443 check check-ssl ca-file ca.pem")
    ));
    let tls = server(&based, "s3")
        .check
        .as_ref()
        .unwrap()
        .tls
        .clone()
        .unwrap();
    assert_eq!(tls.ca_file, Some(CaFile::Path(ca)));
    let global_none = load(&format!(
        "global\n ssl-server-verify none\n{}",
        in_backend("server s3 127.0.0.1:6443 check check-ssl")
    ));
    let tls = server(&global_none, "s3")
        .check
        .as_ref()
        .unwrap()
        .tls
        .clone()
        .unwrap();
    assert!(
        !tls.verify,
        "ssl-server-verify none is the default of verify"
    );
    assert_backend_errors(&[
        (
            "server s3 127.0.0.1:6443 check check-ssl",
            5,
            "backend",
            "no ca-file is given",
        ),
        (
            "server s3 127.0.0.1:6443 check check-ssl ca-file /nonexistent/ca.pem",
            5,
            "backend",
            "/nonexistent/ca.pem",
        ),
        (
            "server s3 127.0.0.1:6443 check-alpn ,h2",
            9,
            "check-alpn",
            "comma-separated",
        ),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn agent_options() {
    let c = load(&in_backend(
        "server s3 127.0.0.1:80 check agent-check agent-port 9999 agent-inter 5s agent-send ping\\n\n\
         server s4 127.0.0.1:81 agent-check agent-port 9998 agent-addr 127.0.0.9",
    ));
    let a = server(&c, "s3").agent.clone().unwrap();
    assert_eq!(a.target, "127.0.0.1:9999".parse().unwrap());
    assert_eq!(
        (a.inter, a.send.as_slice()),
        (Duration::from_secs(5), &b"ping\n"[..])
    );
    let b = server(&c, "s4").agent.clone().unwrap();
    assert_eq!(
        (b.target, b.inter),
        ("127.0.0.9:9998".parse().unwrap(), Duration::from_secs(2))
    );
    assert!(
        server(&c, "s4").check.is_none(),
        "an agent runs without `check`"
    );
    assert!(load(&in_backend("option log-health-checks")).backends[0].log_health_checks);
}
