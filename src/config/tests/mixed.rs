//! Files written for HAProxy that mix HTTP and TCP: a `defaults` section in
//! mode http read by mode tcp proxies, HTTP-only settings in mode tcp (one
//! warning each, as HAProxy ignores them), and error reports that give
//! every bad option of a line and no second error caused by a first.

use super::*;

/// A mode http defaults with HTTP-only settings, two mode tcp frontends
/// and their backends: lines 1..=12 are the defaults.
const MIXED: &str = "\
defaults
    mode http
    log stdout local0
    option httplog
    option forwardfor
    option http-server-close
    timeout http-request 10s
    timeout http-keep-alive 5s
    timeout client 30s
    timeout server 30s
    errorfile 503 /etc/haproxy/errors/503.http
    errorfile 504 /etc/haproxy/errors/504.http
frontend fe_pg
    mode tcp
    bind 127.0.0.1:5432
    default_backend be_pg
frontend fe_redis
    mode tcp
    bind 127.0.0.1:6379
    default_backend be_redis
backend be_pg
    mode tcp
    server pg1 127.0.0.1:15432
backend be_redis
    mode tcp
    server r1 127.0.0.1:16379
";

#[test]
fn mode_http_defaults_load_and_each_http_setting_is_warned_once() {
    let c = load(MIXED);
    assert_eq!((c.frontends.len(), c.backends.len()), (2, 2));
    assert!(c.frontends.iter().all(|f| f.tcplog), "httplog -> tcplog");
    let all = "the mode tcp proxies fe_pg, fe_redis, be_pg, be_redis";
    assert_eq!(
        c.warnings,
        [
            "defaults (line 4): option httplog needs mode http; in the mode tcp proxies fe_pg, \
             fe_redis it falls back to option tcplog, as in HAProxy"
                .to_string(),
            format!(
                "defaults (line 5): option forwardfor has no effect on {all}; HAProxy ignores it \
                 there too"
            ),
            format!(
                "defaults (line 6): option http-server-close has no effect on {all}; HAProxy \
                 ignores it there too"
            ),
            format!(
                "defaults (line 7): timeout http-request has no effect on {all}; HAProxy \
                 ignores it there too"
            ),
            format!(
                "defaults (line 8): timeout http-keep-alive has no effect on {all}; HAProxy \
                 ignores it there too"
            ),
            format!(
                "defaults (lines 11, 12): errorfile has no effect on {all}; HAProxy ignores it \
                 there too"
            ),
        ]
    );
}

#[test]
fn a_proxy_overriding_an_http_setting_is_not_listed() {
    let text = MIXED
        .replace(
            "    bind 127.0.0.1:5432\n",
            "    bind 127.0.0.1:5432\n    option tcplog\n    no option http-server-close\n",
        )
        .replace(
            "\nbackend be_pg\n",
            "\nbackend be_pg\n    no option forwardfor\n",
        );
    let w = load(&text).warnings;
    let find = |name: &str| w.iter().find(|w| w.contains(name)).cloned();
    assert!(
        find("option httplog")
            .unwrap()
            .contains("proxy fe_redis it falls")
    );
    assert!(
        find("option http-server-close")
            .unwrap()
            .contains("proxies fe_redis, be_pg, be_redis;")
    );
    assert!(
        find("option forwardfor")
            .unwrap()
            .contains("proxies fe_pg, fe_redis, be_redis;")
    );
}

#[test]
fn httplog_in_a_tcp_frontend_falls_back_to_tcplog() {
    let text = format!(
        "global\n log stdout local0\n{}",
        in_frontend("log global\noption httplog")
    );
    let c = load(&text);
    assert!(c.frontends[0].tcplog);
    assert_eq!(
        c.warnings,
        [
            "frontend fe (line 5): option httplog needs mode http; in this mode tcp proxy it falls \
          back to option tcplog, as in HAProxy"
        ]
    );
    assert_error(
        &in_frontend("no option httplog"),
        2,
        "no option httplog",
        "negation is not supported",
    );
}

/// HAProxy: "'option tcplog' directive is ignored in backends", a warning.
#[test]
fn tcplog_or_httplog_in_a_backend_is_a_warning() {
    for option in ["tcplog", "httplog"] {
        assert_warning(
            &in_backend(&format!("option {option}")),
            &[
                &format!("backend be (line 9): option {option} is ignored in a backend section"),
                "it acts in frontends and listen sections",
            ],
        );
    }
    // Inherited by a backend, it is silently unused there, as in HAProxy.
    let text = format!("defaults\n option httplog\n log stdout local0\n{BASE}");
    assert!(load(&text).warnings[0].contains("in the mode tcp proxy fe it falls back"));
    assert_eq!(load(&text).warnings.len(), 1);
}

#[test]
fn http_rules_in_tcp_mode_warn_that_they_filter_nothing() {
    let text = in_frontend("http-request deny if { src 10.0.0.0/8 }\nredirect scheme https");
    let w = load(&text).warnings;
    assert_eq!(w.len(), 2, "{w:#?}");
    assert!(
        w[0].starts_with("frontend fe (line 2): http-request rules are NOT APPLIED"),
        "{}",
        w[0]
    );
    assert!(w[0].contains("filter NOTHING"), "{}", w[0]);
    assert!(w[1].contains("redirect rules are NOT APPLIED"), "{}", w[1]);
}

/// HAProxy refuses HTTP rules in a defaults section without a name; a
/// named one passes them on.
#[test]
fn http_rules_need_a_named_defaults_section() {
    assert_error(
        &format!("defaults\n http-request deny\n{BASE}"),
        2,
        "http-request",
        "not allowed in a defaults section without a name",
    );
    let text = format!("defaults web\n http-response del-header Server\n{BASE}");
    let w = load(&text).warnings;
    assert!(
        w[0].starts_with(
            "defaults (line 2): http-response rules are NOT APPLIED to the mode tcp proxies fe, be"
        ),
        "{w:#?}"
    );
}

#[test]
fn http_keywords_name_only_the_proxies_they_would_act_in() {
    let text = format!("defaults\n cookie SRV insert\n capture request header Host len 9\n{BASE}");
    assert_eq!(
        load(&text).warnings,
        [
            "defaults (line 2): cookie has no effect on the mode tcp proxy be; HAProxy ignores it \
             there too",
            "defaults (line 3): capture has no effect on the mode tcp proxy fe; HAProxy ignores \
             it there too",
        ]
    );
    assert_error(
        &in_frontend("errorfile"),
        2,
        "errorfile",
        "expects arguments",
    );
}

#[test]
fn l7_balance_falls_back_to_roundrobin() {
    for algo in ["uri", "url_param id", "hdr(host)"] {
        let c = load(&in_backend(&format!("balance {algo}")));
        assert_eq!(c.backends[0].balance, Balance::RoundRobin);
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("falls back to balance roundrobin"));
    }
    let text = format!(
        "defaults\n balance uri\n{}",
        in_backend("balance leastconn")
    );
    let c = load(&text);
    assert_eq!(c.backends[0].balance, Balance::LeastConn);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn http_server_options_are_warned_once_per_backend() {
    let text = in_backend(
        "server s3 127.0.0.1:9003 cookie c3 check\nserver s4 127.0.0.1:9004 cookie c4 pool-max-conn 5",
    );
    let c = load(&text);
    assert_eq!(c.backends[0].servers.len(), 4);
    assert_eq!(
        c.warnings,
        [
            "backend be (lines 9, 10): server option cookie has no effect on this mode tcp proxy; \
             HAProxy ignores it there too",
            "backend be (line 10): server option pool-max-conn has no effect on this mode tcp \
             proxy; HAProxy ignores it there too",
        ]
    );
}

/// A proxy left in mode http is an error; its HTTP settings add nothing.
#[test]
fn a_mode_http_proxy_is_refused_without_warnings_about_its_settings() {
    let text = format!("defaults\n mode http\n option forwardfor\n{BASE}");
    let errs = errors(&text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs.iter().all(|e| e.msg.contains("inherits mode http")));
}

/// The advice never says to remove a line whose removal weakens a check
/// or opens access; it says what l4lb cannot do.
#[test]
fn refusals_of_checks_and_filters_say_what_l4lb_cannot_do() {
    let cases = [
        (
            in_backend("option spop-check"),
            "option spop-check",
            "SPOP health checks",
        ),
        (
            in_backend("option httpchk\nhttp-check send-state"),
            "http-check send-state",
            "HTTP health checks",
        ),
        (
            in_frontend("tcp-response content reject"),
            "tcp-response",
            "no rules on the server's bytes",
        ),
        (
            in_backend("server s3 127.0.0.1:9003 ssl verify required"),
            "ssl",
            "cannot speak TLS",
        ),
        (
            in_backend("server s3 127.0.0.1:9003 track be/s1"),
            "track",
            "unchecked",
        ),
        (
            in_frontend("rate-limit sessions 10"),
            "rate-limit",
            "cannot limit connection rates",
        ),
        (
            format!("global\n maxconnrate 100\n{BASE}"),
            "maxconnrate",
            "rates",
        ),
    ];
    for (text, keyword, what) in cases {
        let errs = errors(&text);
        let e = errs.iter().find(|e| e.keyword == keyword).expect(keyword);
        assert!(e.msg.contains(what), "{e}");
        assert!(!e.msg.contains("remove it"), "{e}");
    }
    let weaker = &errors(&in_backend("option external-check"))[0].msg;
    assert!(
        weaker.contains("checked by a TCP connect only, which is weaker"),
        "{weaker}"
    );
}

#[test]
fn a_server_line_reports_every_bad_option() {
    assert_errors(
        &in_backend(
            "server s3 127.0.0.1:9003 weight 999 send-proxy-v2-ssl check inter 0 bogus 1 rise",
        ),
        &[
            (9, "weight", "0..=256"),
            (9, "send-proxy-v2-ssl", "never terminates TLS"),
            (9, "inter", "above 0"),
            (9, "bogus", "unknown server option"),
            (9, "rise", "expects a value"),
        ],
    );
    // A bad address does not hide the options' errors.
    assert_errors(
        &in_backend("server s3 127.0.0.1 agent-check agent-port 0 verify sometimes"),
        &[
            (9, "server", "has no port"),
            (9, "agent-port", "1..=65535"),
            (9, "verify", "none|required"),
            (9, "agent-check", "needs agent-port"),
        ],
    );
    // The values of a refused option are not taken for options.
    assert_errors(
        &in_backend("server s3 127.0.0.1:9003 crt /x.pem check ca-file"),
        &[(9, "crt", "TLS"), (9, "ca-file", "expects a file")],
    );
    let words = "server s5 127.0.0.1:9005 weight 999 cookie x".split(' ');
    let err = server_line(&words.map(String::from).collect::<Vec<_>>()).unwrap_err();
    assert!(
        err.contains("'weight'") && err.contains("'cookie': l4lb is a TCP"),
        "{err}"
    );
}

#[test]
fn retry_on_http_conditions_are_ignored_in_mode_tcp() {
    let c = load(&in_backend(
        "retry-on 503 conn-failure all-retryable-errors",
    ));
    assert!(!c.backends[0].retry_empty_response);
    assert_eq!(
        c.warnings,
        [
            "backend be (line 9): retry-on 503 all-retryable-errors has no effect on this mode tcp \
          proxy; HAProxy ignores it there too"
        ]
    );
    let text = format!(
        "defaults\n retry-on 503\n{}",
        in_backend("retry-on empty-response")
    );
    let c = load(&text);
    assert!(c.backends[0].retry_empty_response && c.warnings.is_empty());
    assert_errors(
        &in_backend("retry-on 503 sometimes none"),
        &[
            (9, "retry-on", "unknown condition 'sometimes'"),
            (9, "retry-on", "cannot be combined"),
        ],
    );
}

/// A line in error leaves out what it would have set: that is not
/// reported again as missing.
#[test]
fn no_second_error_about_what_a_bad_line_left_out() {
    let only_server = "frontend fe\n bind :1\n default_backend be\nbackend be\n";
    assert_errors(
        &format!("{only_server} server s1 127.0.0.1:1 weight x\n"),
        &[(5, "weight", "whole number")],
    );
    assert_errors(
        "listen l\n bind :1 ssl crt x.pem\n server s 127.0.0.1:1\n",
        &[(2, "ssl", "TLS"), (2, "crt", "TLS")],
    );
    assert_errors(
        "frontend fe\n bind :1\n default_backend a b\nbackend be\n server s 127.0.0.1:1\n",
        &[(3, "default_backend", "expects: default_backend NAME")],
    );
    assert_errors(
        "frontend fe\n bind :1\n default_backend be\nbackend be x\n server s 127.0.0.1:1\n",
        &[(4, "backend", "expects: backend NAME [from DEFAULTS]")],
    );
    assert_errors(
        "frontend fe\n bind :1\n use_backend be if TRUE\nbackend be\n server-template s 3 x:1\n",
        &[(5, "server-template", "")],
    );
    let text = format!("defaults\n mode http\n{}", in_frontend("mode tpc"));
    let text = text.replace("\nbackend be\n", "\nbackend be\n mode tcp\n");
    assert_errors(&text, &[(4, "mode", "mode tpc is not supported")]);
}

/// A proxy refused for mode http (a stats page, say) gets that error alone,
/// not also "has no server" or "has no default_backend".
#[test]
fn a_mode_http_proxy_gets_no_second_error() {
    let text = format!("{BASE}listen stats\n mode http\n bind :8404\n");
    assert_errors(&text, &[(10, "mode", "mode http is not supported")]);
    let text = format!("{BASE}frontend prom\n mode http\n bind :8405\n");
    assert_errors(&text, &[(10, "mode", "mode http is not supported")]);
}

#[test]
fn fd_and_socket_pair_addresses_say_so() {
    assert_frontend_errors(&[(
        "bind fd@3",
        2,
        "bind",
        "file descriptor addresses are not implemented yet",
    )]);
    assert_backend_errors(&[(
        "server s3 sockpair@4",
        9,
        "server",
        "socket pair addresses are not implemented yet",
    )]);
}

/// A server or bind line with a bad option still holds its name or
/// address: reusing them is reported in the same run.
#[test]
fn a_bad_line_still_counts_for_duplicates() {
    assert_errors(
        &in_backend("server s3 127.0.0.1:3 chek\nserver s3 127.0.0.1:4"),
        &[
            (9, "chek", "unknown server option"),
            (10, "server", "duplicate server name 's3'"),
        ],
    );
    assert_errors(
        &in_frontend("bind 127.0.0.1:81 frob\nbind 127.0.0.1:81"),
        &[
            (2, "frob", "unknown bind option"),
            (3, "bind", "already bound at line 2"),
        ],
    );
}

/// HAProxy: "'stats' statement ignored ... as it requires HTTP mode".
#[test]
fn stats_lines_in_a_tcp_proxy_are_ignored_with_a_warning() {
    assert_warning(
        &in_frontend("stats enable\nstats uri /haproxy"),
        &["stats", "fe", "HAProxy ignores it there too"],
    );
}
