//! The runtime API and metrics settings of global: `stats socket`,
//! `stats timeout`, `stats maxconn`, `stats http`.

use super::*;

#[test]
fn stats_socket_timeout_maxconn_and_http() {
    let c = load(&format!(
        "global\n stats socket /run/l4lb.sock mode 660 level admin expose-fd listeners\n \
         stats socket /run/ro.sock uid 1000 gid 1001\n stats timeout 30s\n stats maxconn 4\n \
         stats http 127.0.0.1:9100\n{BASE}"
    ));
    assert_eq!(
        c.stats_sockets,
        [
            StatsSocket {
                path: "/run/l4lb.sock".into(),
                mode: 0o660,
                level: ApiLevel::Admin,
                uid: None,
                gid: None,
            },
            StatsSocket {
                path: "/run/ro.sock".into(),
                mode: 0o600,
                level: ApiLevel::Operator,
                uid: Some(1000),
                gid: Some(1001),
            }
        ]
    );
    assert_eq!(
        (c.stats_timeout, c.stats_maxconn),
        (Duration::from_secs(30), 4)
    );
    assert_eq!(c.stats_http, Some("127.0.0.1:9100".parse().unwrap()));
    let d = load(BASE);
    assert_eq!(
        (d.stats_timeout, d.stats_maxconn),
        (Duration::from_secs(10), 10)
    );
    let cases = [
        ("stats socket run.sock", "stats socket", "absolute path"),
        ("stats socket /r.sock mode 999", "stats socket", "octal"),
        (
            "stats socket /r.sock level root",
            "stats socket",
            "accepted: user",
        ),
        (
            "stats socket /r.sock user no-such-user-here",
            "stats socket",
            "no-such-user-here",
        ),
        (
            "stats socket /r.sock process 1",
            "stats socket",
            "not implemented yet",
        ),
        ("stats timeout 0", "stats timeout", "above 0"),
        ("stats http nowhere", "stats http", "IP:PORT"),
        ("stats enable", "stats", "expects: stats socket"),
    ];
    for (line, keyword, msg) in cases {
        assert_error(&format!("global\n {line}\n{BASE}"), 2, keyword, msg);
    }
}

#[test]
fn a_stats_socket_line_reports_every_bad_option() {
    let line = "stats socket run.sock mode 999 thread 1 level root expose-fd all";
    assert_errors(
        &format!("global\n {line}\n{BASE}"),
        &[
            (2, "stats socket", "absolute path"),
            (2, "stats socket", "octal"),
            (2, "stats socket", "'thread' is not implemented yet"),
            (2, "stats socket", "accepted: user, operator, admin"),
            (2, "stats socket", "accepted: expose-fd listeners"),
        ],
    );
}
