use super::flags::Flags;
use super::values::parse_time;
use super::*;

/// A valid file; error tests append to it, so its lines stay 1..=8.
const BASE: &str = "\
frontend fe
    bind 127.0.0.1:8080
    default_backend be
    timeout client 30s
backend be
    server s1 127.0.0.1:9001
    server s2 127.0.0.1:9002
    timeout server 30s
";

fn load_with(text: &str, args: &Args) -> Result<Config, Vec<ConfError>> {
    let flags = Flags::from_args(args)?;
    Config::from_reader("t.conf", text.as_bytes(), &flags)
}

fn load(text: &str) -> Config {
    load_with(text, &Args::default()).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn errors(text: &str) -> Vec<ConfError> {
    load_with(text, &Args::default()).expect_err("expected an error")
}

/// Asserts `text` fails with exactly one error, at `line` on `keyword`,
/// whose message contains `msg`.
fn assert_error(text: &str, line: usize, keyword: &str, msg: &str) {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let e = &errs[0];
    assert_eq!(
        (e.file.as_str(), e.line, e.keyword.as_str()),
        ("t.conf", line, keyword),
        "{e}"
    );
    assert!(e.msg.contains(msg), "{e}\n  does not contain: {msg}");
}

/// BASE with `lines` added to its backend section (they start at line 9).
fn in_backend(lines: &str) -> String {
    format!("{BASE}{lines}\n")
}

/// BASE with `lines` added to its frontend section (they start at line 2).
fn in_frontend(lines: &str) -> String {
    BASE.replacen("frontend fe\n", &format!("frontend fe\n{lines}\n"), 1)
}

fn quick(binds: &[&str], servers: &[&str]) -> Args {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    Args {
        bind: strings(binds),
        server: strings(servers),
        ..Args::default()
    }
}

#[test]
fn base_config_has_the_documented_defaults() {
    let c = load(BASE);
    assert_eq!(
        c.threads,
        std::thread::available_parallelism().unwrap().get()
    );
    assert!(c.cpu_affinity);
    assert_eq!(
        (c.maxconn, c.maxpipes, c.bufsize, c.pipesize),
        (4096, 1024, 16384, None)
    );
    let f = &c.frontends[0];
    assert_eq!(
        f.binds,
        [Bind {
            addr: "127.0.0.1:8080".parse().unwrap(),
            name: None
        }]
    );
    assert_eq!(
        (f.backend, f.maxconn, f.tcp_keepalive, f.splice_auto),
        (0, 4096, false, true)
    );
    assert_eq!(
        (f.timeout_client, f.timeout_client_fin),
        (Some(Duration::from_secs(30)), None)
    );
    let b = &c.backends[0];
    assert_eq!(
        (b.balance, b.retries, b.redispatch),
        (Balance::RoundRobin, 3, false)
    );
    assert_eq!(
        (b.timeout_connect, b.timeout_queue),
        (Duration::from_secs(5), Duration::from_secs(5))
    );
    assert_eq!((b.timeout_tunnel, b.timeout_server_fin), (None, None));
    assert_eq!((b.tcp_keepalive, b.splice_auto), (false, true));
    assert_eq!(
        b.servers[1],
        ServerConf::new("s2".into(), "127.0.0.1:9002".parse().unwrap())
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn global_keywords() {
    let text = "global\n nbthread 3\n maxconn 100\n maxpipes 7\n tune.bufsize 32768\n \
                    tune.pipesize 65536\n cpu-affinity off\n";
    let c = load(&format!("{text}{BASE}"));
    assert_eq!((c.threads, c.maxconn, c.maxpipes), (3, 100, 7));
    assert_eq!(
        (c.bufsize, c.pipesize, c.cpu_affinity),
        (32768, Some(65536), false)
    );
    assert_eq!(c.frontends[0].maxconn, 100);
}

#[test]
fn hard_stop_after_takes_a_haproxy_time() {
    assert_eq!(load(BASE).hard_stop_after, None);
    for (text, want) in [
        ("300ms", 300),
        ("300", 300),
        ("30s", 30_000),
        ("2m", 120_000),
        ("0", 0),
    ] {
        let c = load(&format!("global\n hard-stop-after {text}\n{BASE}"));
        assert_eq!(
            c.hard_stop_after,
            Some(Duration::from_millis(want)),
            "{text}"
        );
    }
    let c = load(&format!("global\n hard-stop-after 90s\n{BASE}"));
    assert!(
        c.summary()[0].ends_with(", hard-stop-after 90s"),
        "{}",
        c.summary()[0]
    );
}

#[test]
fn hard_stop_after_errors_name_line_and_keyword() {
    let cases = [
        ("hard-stop-after", "expects: hard-stop-after TIME"),
        ("hard-stop-after 10 s", "expects: hard-stop-after TIME"),
        ("hard-stop-after soon", "'soon' is not a time"),
        ("hard-stop-after 5x", "unknown time unit 'x'"),
        ("hard-stop-after 30d", "too long"),
    ];
    for (line, msg) in cases {
        assert_error(
            &format!("global\n nbthread 1\n {line}\n{BASE}"),
            3,
            "hard-stop-after",
            msg,
        );
    }
    assert_error(
        &in_backend("hard-stop-after 1s"),
        9,
        "hard-stop-after",
        "accepted only in the global section",
    );
}

#[test]
fn maxpipes_defaults_to_a_quarter_of_maxconn_after_flags() {
    let args = Args {
        maxconn: Some(1000),
        ..Args::default()
    };
    let c = load_with(&format!("global\n maxconn 50\n{BASE}"), &args).unwrap();
    assert_eq!((c.maxconn, c.maxpipes), (1000, 250));
}

#[test]
fn global_errors_name_line_and_keyword() {
    let cases = [
        ("nbthread 0", "nbthread", "1..=4096"),
        ("nbthread two", "nbthread", "not a whole number"),
        ("maxconn", "maxconn", "expects: maxconn N"),
        ("tune.bufsize 16k", "tune.bufsize", "not a whole number"),
        ("tune.pipesize 100", "tune.pipesize", "4096"),
        ("cpu-affinity yes", "cpu-affinity", "neither on nor off"),
        ("daemon", "daemon", "not implemented yet"),
        ("tune.maxaccept 10", "tune.maxaccept", "not implemented yet"),
        ("tune.http.maxhdr 10", "tune.http.maxhdr", "HTTP-only"),
        ("bind :80", "bind", "accepted in frontend, listen"),
        (
            "frobnicate",
            "frobnicate",
            "unknown keyword; accepted in global: nbthread",
        ),
    ];
    for (line, kw, msg) in cases {
        assert_error(&format!("global\n  {line}\n{BASE}"), 2, kw, msg);
    }
}

#[test]
fn time_units() {
    let ms = |t: &str| parse_time(t).map(|d| d.as_micros());
    assert_eq!(ms("250"), Ok(250_000));
    assert_eq!(ms("250ms"), Ok(250_000));
    assert_eq!(ms("7us"), Ok(7));
    assert_eq!(ms("3s"), Ok(3_000_000));
    assert_eq!(ms("2m"), Ok(120_000_000));
    assert_eq!(ms("1h"), Ok(3_600_000_000));
    assert_eq!(ms("1d"), Ok(86_400_000_000));
    assert!(ms("24d").is_ok());
    assert!(ms("25d").unwrap_err().contains("too long"));
    assert!(ms("5 s").is_err());
    assert!(ms("5x").unwrap_err().contains("unknown time unit 'x'"));
    assert!(ms("s").unwrap_err().contains("not a time"));
    assert!(ms("-1s").is_err());
}

#[test]
fn durations_print_compactly() {
    let f = |us| fmt_duration(Duration::from_micros(us));
    assert_eq!(f(5_000_000), "5s");
    assert_eq!(f(300_000), "300ms");
    assert_eq!(f(3_600_000_000), "1h");
    assert_eq!(f(90_000_000), "90s");
    assert_eq!(f(120_000_000), "2m");
    assert_eq!(f(1500), "1500us");
    assert_eq!(f(86_400_000_000), "1d");
}

#[test]
fn all_timeouts_parse() {
    let c = load(&in_backend(
        "timeout connect 2s\ntimeout tunnel 1h\ntimeout server-fin 1s\ntimeout queue 10s\n\
             timeout server 0",
    ));
    let b = &c.backends[0];
    assert_eq!(b.timeout_connect, Duration::from_secs(2));
    assert_eq!(b.timeout_tunnel, Some(Duration::from_secs(3600)));
    assert_eq!(b.timeout_server_fin, Some(Duration::from_secs(1)));
    assert_eq!(b.timeout_queue, Duration::from_secs(10));
    assert_eq!(b.timeout_server, None, "0 means no timeout, as in HAProxy");
    let c = load(&in_frontend("timeout client-fin 500"));
    assert_eq!(
        c.frontends[0].timeout_client_fin,
        Some(Duration::from_millis(500))
    );
}

#[test]
fn timeout_queue_follows_timeout_connect() {
    let c = load(&in_backend("timeout connect 2s"));
    assert_eq!(c.backends[0].timeout_queue, Duration::from_secs(2));
}

#[test]
fn timeout_errors() {
    assert_error(
        &in_backend("timeout http-request 5s"),
        9,
        "timeout http-request",
        "HTTP-only",
    );
    assert_error(
        &in_backend("timeout http-keep-alive 5s"),
        9,
        "timeout http-keep-alive",
        "HTTP-only",
    );
    assert_error(
        &in_backend("timeout foo 5s"),
        9,
        "timeout foo",
        "accepted: connect, client, server",
    );
    assert_error(
        &in_backend("timeout client 5s"),
        9,
        "timeout client",
        "accepted in defaults, frontend",
    );
    assert_error(
        &in_frontend("timeout server 5s"),
        2,
        "timeout server",
        "not accepted in a frontend",
    );
    assert_error(
        &in_backend("timeout connect 5q"),
        9,
        "timeout connect",
        "unknown time unit",
    );
    assert_error(
        &in_backend("timeout connect 0"),
        9,
        "timeout connect",
        "above 0",
    );
    assert_error(
        &in_backend("timeout connect"),
        9,
        "timeout connect",
        "expects one time",
    );
    assert_error(&in_backend("timeout"), 9, "timeout", "names: connect");
}

#[test]
fn binds_accept_ipv4_ipv6_and_wildcards() {
    let text = in_frontend(
        "bind *:81\nbind :::82\nbind [::1]:83\nbind ::1:84\nbind 0.0.0.0:85 name any\n\
             bind :86,[fe80::1]:87",
    );
    let binds: Vec<String> = load(&text).frontends[0]
        .binds
        .iter()
        .map(|b| b.addr.to_string())
        .collect();
    let want = [
        "0.0.0.0:81",
        "[::]:82",
        "[::1]:83",
        "[::1]:84",
        "0.0.0.0:85",
        "0.0.0.0:86",
        "[fe80::1]:87",
        "127.0.0.1:8080",
    ];
    assert_eq!(binds, want);
    assert_eq!(
        load(&text).frontends[0].binds[4].name.as_deref(),
        Some("any")
    );
}

#[test]
fn bind_errors() {
    assert_error(&in_frontend("bind 127.0.0.1"), 2, "bind", "has no port");
    assert_error(&in_frontend("bind 127.0.0.1:0"), 2, "bind", "1..=65535");
    assert_error(&in_frontend("bind :70000"), 2, "bind", "1..=65535");
    assert_error(
        &in_frontend("bind localhost:80"),
        2,
        "bind",
        "not an IP address",
    );
    assert_error(&in_frontend("bind"), 2, "bind", "expects: bind ADDR:PORT");
    assert_error(
        &in_frontend("bind :80 ssl crt x.pem"),
        2,
        "ssl",
        "not implemented yet",
    );
    assert_error(&in_frontend("bind :80 name"), 2, "name", "expects a value");
    assert_error(
        &in_frontend("bind :80 wat"),
        2,
        "wat",
        "accepted: name NAME",
    );
    assert_error(
        &in_backend("bind :80"),
        9,
        "bind",
        "not accepted in a backend section; accepted in frontend, listen",
    );
}

#[test]
fn same_bind_address_twice_is_an_error() {
    assert_error(
        &in_frontend("bind 127.0.0.1:8080"),
        3,
        "bind",
        "already bound at line 2",
    );
    let text = format!(
        "{BASE}frontend fe2\n bind 127.0.0.1:8080\n default_backend be\n timeout client 1s\n"
    );
    assert_error(&text, 10, "bind", "already bound at line 2");
}

#[test]
fn server_lines() {
    let c = load(&in_backend(
        "server s3 localhost:9003 weight 0 maxconn 10\nserver s4 [::1]:9004 disabled",
    ));
    let s = &c.backends[0].servers;
    assert_eq!(s[2].addr.port(), 9003);
    assert!(s[2].addr.ip().is_loopback());
    assert_eq!((s[2].weight, s[2].maxconn, s[2].disabled), (0, 10, false));
    assert_eq!(
        (s[3].addr, s[3].disabled),
        ("[::1]:9004".parse().unwrap(), true)
    );
}

#[test]
fn server_errors() {
    assert_error(
        &in_backend("server s1 127.0.0.1:1"),
        9,
        "server",
        "duplicate server name 's1'",
    );
    assert_error(
        &in_backend("server s3"),
        9,
        "server",
        "expects: server NAME ADDR:PORT",
    );
    assert_error(
        &in_backend("server s3 127.0.0.1"),
        9,
        "server",
        "has no port",
    );
    assert_error(
        &in_backend("server s3 0.0.0.0:80"),
        9,
        "server",
        "not a server address",
    );
    assert_error(
        &in_backend("server s3 no-such-host.invalid:80"),
        9,
        "server",
        "does not resolve",
    );
    assert_error(
        &in_backend("server s3 127.0.0.1:80 weight 257"),
        9,
        "weight",
        "0..=256",
    );
    assert_error(
        &in_backend("server s3 127.0.0.1:80 weight"),
        9,
        "weight",
        "expects a value",
    );
    assert_error(
        &in_backend("server s3 127.0.0.1:80 maxconn -1"),
        9,
        "maxconn",
        "whole number",
    );
    assert_error(
        &in_backend("server s3 127.0.0.1:80 check inter 0"),
        9,
        "inter",
        "above 0",
    );
    assert_error(
        &in_backend("server s3 127.0.0.1:80 check rise 0"),
        9,
        "rise",
        "",
    );
    assert_error(
        &in_backend("server s3 127.0.0.1:80 check addr nowhere"),
        9,
        "addr",
        "not an IP address",
    );
    assert_error(
        &in_backend("server s3 127.0.0.1:80 check port 70000"),
        9,
        "port",
        "",
    );
    assert_error(
        &in_backend("server s3 127.0.0.1:80 on-marked-up shutdown-backup-sessions"),
        9,
        "on-marked-up",
        "not implemented yet",
    );
    assert_error(
        &in_backend("server s3 127.0.0.1:80 slowstart soon"),
        9,
        "slowstart",
        "",
    );
    assert_error(
        &in_backend("server s3 127.0.0.1:80 cookie a"),
        9,
        "cookie",
        "HTTP-only",
    );
    assert_error(
        &in_backend("server s3 127.0.0.1:80 foo"),
        9,
        "foo",
        "accepted: weight N, maxconn N, disabled",
    );
    assert_error(
        &in_frontend("server s3 127.0.0.1:80"),
        2,
        "server",
        "accepted in backend, listen",
    );
}

#[test]
fn balance_algorithms() {
    let balance = |algo: &str| load(&in_backend(&format!("balance {algo}"))).backends[0].balance;
    assert_eq!(balance("roundrobin"), Balance::RoundRobin);
    assert_eq!(balance("leastconn"), Balance::LeastConn);
    assert_eq!(balance("first"), Balance::First);
    assert_eq!(balance("source"), Balance::Source { consistent: false });
    assert_eq!(
        balance("source\nhash-type consistent"),
        Balance::Source { consistent: true }
    );
    assert_eq!(
        balance("source\nhash-type map-based"),
        Balance::Source { consistent: false }
    );
    assert_eq!(balance("random"), Balance::Random { draws: 2 });
    assert_eq!(balance("random(3)"), Balance::Random { draws: 3 });
}

#[test]
fn balance_errors() {
    assert_error(
        &in_backend("balance uri"),
        9,
        "balance",
        "HTTP/L7 algorithm, l4lb is a TCP (L4) balancer",
    );
    assert_error(&in_backend("balance url_param id"), 9, "balance", "HTTP/L7");
    assert_error(&in_backend("balance hdr(host)"), 9, "balance", "HTTP/L7");
    assert_error(&in_backend("balance rdp-cookie"), 9, "balance", "HTTP/L7");
    assert_error(
        &in_backend("balance static-rr"),
        9,
        "balance",
        "not implemented yet",
    );
    assert_error(
        &in_backend("balance fastest"),
        9,
        "balance",
        "accepted: roundrobin, leastconn, source",
    );
    assert_error(&in_backend("balance random(0)"), 9, "balance", "N >= 1");
    assert_error(&in_backend("balance random(x"), 9, "balance", "random(N)");
    assert_error(
        &in_backend("balance first now"),
        9,
        "balance",
        "unexpected argument 'now'",
    );
    assert_error(&in_backend("balance"), 9, "balance", "accepted: roundrobin");
    assert_error(
        &in_frontend("balance first"),
        2,
        "balance",
        "accepted in defaults, backend, listen",
    );
    assert_error(
        &in_backend("hash-type consistent sdbm"),
        9,
        "hash-type",
        "hash function 'sdbm'",
    );
    assert_error(
        &in_backend("hash-type ring"),
        9,
        "hash-type",
        "accepted: map-based, consistent",
    );
}

#[test]
fn options_and_their_no_forms() {
    let c = load(&in_backend(
        "option redispatch\noption srvtcpka\nno option splice-auto\nretries 0",
    ));
    let b = &c.backends[0];
    assert_eq!(
        (b.redispatch, b.tcp_keepalive, b.splice_auto, b.retries),
        (true, true, false, 0)
    );
    let c = load(&format!(
        "defaults\n option tcpka\n option redispatch\n{}",
        in_backend("no option redispatch")
    ));
    assert!(c.frontends[0].tcp_keepalive && c.backends[0].tcp_keepalive);
    assert!(!c.backends[0].redispatch);
    let c = load(&format!(
        "defaults\n option tcpka\n{}",
        in_frontend("no option clitcpka")
    ));
    assert!(!c.frontends[0].tcp_keepalive && c.backends[0].tcp_keepalive);
    assert!(load(&in_frontend("option clitcpka")).frontends[0].tcp_keepalive);
}

#[test]
fn option_errors() {
    assert_error(
        &in_backend("option httplog"),
        9,
        "option httplog",
        "'option httplog' is HTTP-only",
    );
    assert_error(
        &in_backend("option httpchk GET /"),
        9,
        "option httpchk",
        "HTTP-only",
    );
    assert_error(
        &in_backend("option forwardfor"),
        9,
        "option forwardfor",
        "HTTP-only",
    );
    assert_error(
        &in_backend("option http-server-close"),
        9,
        "option http-server-close",
        "HTTP-only",
    );
    assert_error(
        &in_backend("option httpclose"),
        9,
        "option httpclose",
        "HTTP-only",
    );
    assert_error(
        &in_backend("option http-keep-alive"),
        9,
        "option http-keep-alive",
        "HTTP-only",
    );
    assert_error(
        &in_backend("option redis-check"),
        9,
        "option redis-check",
        "health checks are planned",
    );
    assert_error(
        &in_frontend("option logasap"),
        2,
        "option logasap",
        "not implemented yet",
    );
    assert_error(
        &in_backend("option tcplog"),
        9,
        "option tcplog",
        "not accepted in a backend section; accepted in defaults, frontend, listen",
    );
    assert_error(
        &in_backend("option foo"),
        9,
        "option foo",
        "accepted: redispatch, splice-auto",
    );
    assert_error(
        &in_backend("option redispatch 1"),
        9,
        "option redispatch",
        "unexpected argument",
    );
    assert_error(
        &in_backend("no redispatch"),
        9,
        "no",
        "expects: no option NAME",
    );
    assert_error(
        &in_frontend("no option redispatch"),
        2,
        "no option redispatch",
        "accepted in defaults, backend",
    );
    assert_error(
        &in_frontend("option srvtcpka"),
        2,
        "option srvtcpka",
        "not accepted in a frontend",
    );
}

#[test]
fn http_only_keywords_are_refused() {
    let kws = [
        "http-request deny",
        "http-response del-header x",
        "http-reuse safe",
        "redirect prefix /",
        "reqadd X",
        "rspadd X",
        "cookie SRV insert",
        "capture request header Host len 10",
        "compression algo gzip",
        "errorfile 503 /x",
    ];
    for line in kws {
        let kw = line.split(' ').next().unwrap();
        assert_error(
            &in_backend(line),
            9,
            kw,
            &format!("l4lb is a TCP (L4) balancer: '{kw}' is HTTP-only"),
        );
    }
    assert_error(
        &in_backend("stats uri /stats"),
        9,
        "stats uri",
        "'stats uri' is HTTP-only",
    );
}

#[test]
fn not_implemented_keywords_are_refused() {
    let kws = [
        "log-format %ci",
        "acl a src 1.2.3.4",
        "use_backend be if a",
        "tcp-request content accept",
        "source 10.0.0.1",
    ];
    for line in kws {
        let kw = line.split(' ').next().unwrap();
        assert_error(
            &in_backend(line),
            9,
            kw,
            &format!("'{kw}' is not implemented yet in l4lb"),
        );
    }
    for kw in [
        "daemon",
        "user haproxy",
        "group haproxy",
        "chroot /x",
        "pidfile /x",
    ] {
        let first = kw.split(' ').next().unwrap();
        assert_error(
            &format!("global\n {kw}\n{BASE}"),
            2,
            first,
            "not implemented yet in l4lb",
        );
    }
}

#[test]
fn unknown_keyword() {
    assert_error(
        &in_backend("frobnicate 1"),
        9,
        "frobnicate",
        "unknown keyword; accepted in backend: mode",
    );
    assert_error(
        &in_backend("nbthread 2"),
        9,
        "nbthread",
        "accepted only in the global section",
    );
}

#[test]
fn mode() {
    assert_eq!(
        load(&format!("defaults\n mode tcp\n{}", in_backend("mode tcp")))
            .backends
            .len(),
        1
    );
    let msg = "l4lb is a TCP (L4) balancer: mode http is not supported; use mode tcp";
    assert_error(&in_frontend("mode http"), 2, "mode", msg);
    assert_error(&in_frontend("mode health"), 2, "mode", "use mode tcp");
}

#[test]
fn description_takes_the_rest_of_the_line() {
    let c = load(&in_frontend(
        "description \"Redis  cache\" for  apps # not this",
    ));
    assert_eq!(
        c.frontends[0].description.as_deref(),
        Some("Redis  cache for apps")
    );
    assert_error(
        &in_frontend("description"),
        2,
        "description",
        "expects: description TEXT",
    );
    assert_error(
        &format!("defaults\n description x\n{BASE}"),
        2,
        "description",
        "accepted in frontend, backend",
    );
}

#[test]
fn frontend_maxconn_is_clamped_to_global_with_a_warning() {
    let c = load(&format!(
        "global\n maxconn 100\n{}",
        in_frontend("maxconn 500")
    ));
    assert_eq!(c.frontends[0].maxconn, 100);
    assert_eq!(
        c.warnings,
        ["maxconn 500 in frontend fe is above the global maxconn 100: clamped to 100"]
    );
    assert_eq!(load(&in_frontend("maxconn 50")).frontends[0].maxconn, 50);
    assert_error(
        &in_backend("maxconn 5"),
        9,
        "maxconn",
        "accepted in defaults, frontend, listen",
    );
    assert_error(&in_frontend("maxconn 0"), 2, "maxconn", "whole number >= 1");
}

#[test]
fn frontend_needs_bind_and_default_backend() {
    let text =
        "frontend fe\n timeout client 1s\nbackend be\n server s 127.0.0.1:1\n timeout server 1s\n";
    let errs = errors(text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_eq!((errs[0].line, errs[0].keyword.as_str()), (1, "frontend"));
    assert!(errs[0].msg.contains("no bind"));
    assert_eq!((errs[1].line, errs[1].keyword.as_str()), (1, "frontend"));
    assert!(errs[1].msg.contains("no default_backend"));
}

#[test]
fn default_backend_must_exist() {
    let text = BASE.replace("default_backend be", "default_backend nope");
    assert_error(
        &text,
        3,
        "default_backend",
        "no backend named 'nope'; backends: be",
    );
}

#[test]
fn backend_needs_a_server_and_unused_backends_are_fine() {
    assert_error(
        &format!("{BASE}backend empty\n timeout server 1s\n"),
        9,
        "backend",
        "has no server",
    );
    let c = load(&format!(
        "{BASE}backend spare\n server x 127.0.0.1:1\n timeout server 1s\n"
    ));
    assert_eq!(c.backends.len(), 2);
}

#[test]
fn a_file_without_proxies_is_an_error() {
    assert_error(
        "global\n maxconn 10\n",
        0,
        "frontend",
        "no frontend or listen section",
    );
}

#[test]
fn duplicate_names() {
    assert_error(
        &format!("{BASE}backend be\n server x 127.0.0.1:1\n"),
        9,
        "backend",
        "duplicate backend name 'be' (first at line 5)",
    );
    let fe = "frontend fe\n bind :1\n default_backend be\n timeout client 1s\n";
    assert_error(
        &format!("{BASE}{fe}"),
        9,
        "frontend",
        "duplicate frontend name 'fe'",
    );
    let listen = "listen be\n bind :1\n server x 127.0.0.1:1\n timeout client 1s\n";
    assert_error(
        &format!("{BASE}{listen}"),
        9,
        "listen",
        "duplicate backend name 'be'",
    );
    // A frontend and a backend may share a name, as in HAProxy.
    let text = BASE
        .replace("backend be", "backend fe")
        .replace("default_backend be", "default_backend fe");
    assert_eq!(load(&text).backends[0].name, "fe");
    let defs = "defaults d\ndefaults d\n";
    assert_error(
        &format!("{defs}{BASE}"),
        2,
        "defaults",
        "named 'd' already exists",
    );
}

#[test]
fn section_headers() {
    assert_error("frontend\n bind :1\n", 1, "frontend", "needs a name");
    assert_error(
        &format!("{BASE}backend a b\n"),
        9,
        "backend",
        "expects: backend NAME [from DEFAULTS]",
    );
    assert_error(
        &format!("{BASE}backend a/b\n server x 127.0.0.1:1\n"),
        9,
        "backend",
        "invalid name 'a/b'",
    );
    assert_error(
        &format!("global x\n{BASE}"),
        1,
        "global",
        "takes no argument",
    );
    assert_error(
        &format!("userlist u\n user a\n{BASE}"),
        1,
        "userlist",
        "section 'userlist' is not implemented yet",
    );
    assert_error(
        &format!("cache c\n total-max-size 4\n{BASE}"),
        1,
        "cache",
        "HTTP-only",
    );
}

#[test]
fn proxies_inherit_the_last_defaults_section() {
    let text = "defaults\n timeout connect 1s\n balance leastconn\n retries 7\n\
                    backend a\n server x 127.0.0.1:1\n\
                    defaults\n timeout client 2s\n\
                    backend b\n server x 127.0.0.1:1\n";
    assert_error(text, 0, "frontend", "no frontend or listen section");
    let text = format!("{text}listen l\n bind :1\n server x 127.0.0.1:1\n");
    let c = load(&text);
    let (a, b) = (&c.backends[0], &c.backends[1]);
    assert_eq!(
        (a.timeout_connect, a.balance, a.retries),
        (Duration::from_secs(1), Balance::LeastConn, 7)
    );
    // A new defaults section starts from scratch, as in HAProxy.
    assert_eq!(
        (b.timeout_connect, b.balance, b.retries),
        (Duration::from_secs(5), Balance::RoundRobin, 3)
    );
    assert_eq!(c.frontends[0].timeout_client, Some(Duration::from_secs(2)));
}

#[test]
fn named_defaults_and_from() {
    let text = "defaults slow\n timeout connect 9s\n timeout client 1m\n\
                    defaults fast from slow\n timeout connect 1s\n\
                    defaults\n\
                    backend a from slow\n server x 127.0.0.1:1\n\
                    backend b from fast\n server x 127.0.0.1:1\n\
                    backend c\n server x 127.0.0.1:1\n\
                    frontend fe from fast\n bind :1\n default_backend a\n";
    let c = load(text);
    let connect: Vec<u64> = c
        .backends
        .iter()
        .map(|b| b.timeout_connect.as_secs())
        .collect();
    assert_eq!(connect, [9, 1, 5]);
    assert_eq!(c.frontends[0].timeout_client, Some(Duration::from_secs(60)));
    assert_error(
        &format!("{BASE}backend d from nope\n server x 127.0.0.1:1\n"),
        9,
        "backend",
        "no defaults section named 'nope' before this line; named defaults: none",
    );
}

#[test]
fn defaults_may_hold_default_backend() {
    let text = "defaults\n default_backend be\n timeout client 1s\n timeout server 1s\n\
                    frontend fe\n bind :1\nbackend be\n server x 127.0.0.1:1\n";
    assert_eq!(load(text).frontends[0].backend, 0);
    assert_error(
        &format!("defaults\n bind :1\n{BASE}"),
        2,
        "bind",
        "not accepted in a defaults section",
    );
}

#[test]
fn listen_is_a_frontend_and_a_backend_of_the_same_name() {
    let text = format!(
        "{BASE}listen redis\n bind [::1]:6379\n balance first\n server r1 127.0.0.1:7000\n\
                            timeout client 5s\n timeout server 5s\n"
    );
    let c = load(&text);
    assert_eq!(c.frontends[1].name, "redis");
    assert_eq!(c.backends[c.frontends[1].backend].name, "redis");
    assert_eq!(c.backends[1].balance, Balance::First);
    let bad = "listen l\n bind :1\n server x 127.0.0.1:1\n default_backend be\n";
    assert_error(
        &format!("{BASE}{bad}"),
        12,
        "default_backend",
        "sends to its own servers",
    );
    assert_error("listen l\n bind :1\n", 1, "listen", "has no server");
}

#[test]
fn missing_timeouts_are_warnings() {
    let text = BASE
        .replace("    timeout client 30s\n", "")
        .replace("    timeout server 30s\n", "");
    let c = load(&text);
    assert_eq!(
        c.warnings,
        [
            "no timeout server in backend be: idle connections are kept forever",
            "no timeout client in frontend fe: idle connections are kept forever",
        ]
    );
    let c = load(&format!("{text}    timeout tunnel 1h\n"));
    assert!(
        c.warnings.is_empty(),
        "timeout tunnel covers both sides: {:?}",
        c.warnings
    );
}

#[test]
fn errors_are_all_reported_at_once() {
    let text = in_backend("balance uri\noption httplog\nserver s9 127.0.0.1");
    let lines: Vec<usize> = errors(&text).iter().map(|e| e.line).collect();
    assert_eq!(lines, [9, 10, 11]);
}

#[test]
fn stage_one_errors_carry_the_file_name() {
    let errs = errors("global\n description \"open\n");
    assert_eq!((errs[0].file.as_str(), errs[0].line), ("t.conf", 2));
    assert_eq!(
        errs[0].to_string(),
        "t.conf:2: 'description': unterminated quote (\"): close it on the same line"
    );
}

#[test]
fn flags_override_the_file() {
    let file = format!(
        "global\n nbthread 2\n maxconn 100\n cpu-affinity on\n{}",
        in_backend("balance leastconn\nhash-type consistent\noption splice-auto")
    );
    let args = Args {
        threads: Some(5),
        maxconn: Some(200),
        balance: Some("source".into()),
        no_affinity: true,
        no_splice: true,
        ..Args::default()
    };
    let c = load_with(&file, &args).unwrap();
    assert_eq!(
        (c.threads, c.maxconn, c.maxpipes, c.cpu_affinity),
        (5, 200, 50, false)
    );
    assert_eq!(c.backends[0].balance, Balance::Source { consistent: true });
    assert!(!c.backends[0].splice_auto && !c.frontends[0].splice_auto);
    assert_eq!(c.frontends[0].maxconn, 200);
}

#[test]
fn bad_flags_are_errors_on_flags() {
    let args = Args {
        threads: Some(0),
        maxconn: Some(0),
        balance: Some("uri".into()),
        log_level: Some("loud".into()),
        ..Args::default()
    };
    let errs = Flags::from_args(&args).unwrap_err();
    let kws: Vec<&str> = errs.iter().map(|e| e.keyword.as_str()).collect();
    assert_eq!(kws, ["--threads", "--maxconn", "--log-level", "--balance"]);
    assert!(errs.iter().all(|e| e.file == "<flags>" && e.line == 0));
    assert!(errs[3].msg.contains("HTTP/L7"));
    let args = Args {
        log_level: Some("debug".into()),
        ..Args::default()
    };
    assert!(Flags::from_args(&args).is_ok());
}

#[test]
fn file_and_bind_flags_exclude_each_other() {
    let args = Args {
        file: Some("x.conf".into()),
        bind: vec![":1".into()],
        ..Args::default()
    };
    let errs = Config::from_args(&args).unwrap_err();
    assert_eq!(
        (errs[0].keyword.as_str(), errs[0].file.as_str()),
        ("--bind", "<flags>")
    );
    assert!(errs[0].msg.contains("use either -f or --bind/--server"));
}

#[test]
fn unreadable_file_is_an_error_on_line_0() {
    let args = Args {
        file: Some("/nonexistent/l4lb.conf".into()),
        ..Args::default()
    };
    let errs = Config::from_args(&args).unwrap_err();
    assert_eq!(
        (
            errs[0].file.as_str(),
            errs[0].line,
            errs[0].keyword.as_str()
        ),
        ("/nonexistent/l4lb.conf", 0, "-f")
    );
}

#[test]
fn quick_start_builds_one_frontend_and_backend() {
    let mut args = quick(&["127.0.0.1:8080"], &["127.0.0.1:9001", "localhost:9002"]);
    args.balance = Some("leastconn".into());
    let c = Config::from_args(&args).unwrap();
    let (f, b) = (&c.frontends[0], &c.backends[0]);
    assert_eq!(
        (f.name.as_str(), b.name.as_str(), f.backend),
        ("quick", "quick", 0)
    );
    assert_eq!(f.binds[0].addr, "127.0.0.1:8080".parse().unwrap());
    let names: Vec<&str> = b.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["s1", "s2"]);
    assert_eq!(b.balance, Balance::LeastConn);
    assert_eq!(
        (b.timeout_connect, b.timeout_server, f.timeout_client),
        (Duration::from_secs(5), None, None)
    );
    assert!(c.warnings.is_empty());
    let c = Config::from_args(&quick(&[":1"], &["127.0.0.1:1"])).unwrap();
    assert_eq!(c.backends[0].balance, Balance::RoundRobin);
}

#[test]
fn quick_start_errors() {
    let kw = |args: Args| {
        let errs = Config::from_args(&args).unwrap_err();
        assert!(errs.iter().all(|e| e.file == "<flags>"), "{errs:?}");
        errs.iter().map(|e| e.keyword.clone()).collect::<Vec<_>>()
    };
    assert_eq!(kw(quick(&[], &[])), ["-f"]);
    assert_eq!(kw(quick(&[":1"], &[])), ["--server"]);
    assert_eq!(kw(quick(&[], &["127.0.0.1:1"])), ["--bind"]);
    assert_eq!(kw(quick(&["nope"], &["127.0.0.1"])), ["--bind", "--server"]);
    assert_eq!(
        kw(quick(&[":1", "0.0.0.0:1"], &["127.0.0.1:1"])),
        ["--bind"]
    );
}

#[test]
fn summary_lines() {
    let text = format!(
        "global\n nbthread 2\n{}",
        in_backend("balance leastconn\nserver s3 127.0.0.1:9003 disabled\noption redispatch")
    );
    let lines = load(&text).summary();
    assert_eq!(
        lines,
        [
            "global: nbthread 2, cpu-affinity on, maxconn 4096, maxpipes 1024, bufsize 16384, pipesize default",
            "frontend fe: bind 127.0.0.1:8080 -> backend be, maxconn 4096, timeout client 30s",
            "backend be: balance leastconn, 3 servers (2 enabled), retries 3, timeout connect 5s, \
                 timeout server 30s, redispatch, splice-auto on",
        ]
    );
}

#[test]
fn server_check_options_with_haproxy_defaults() {
    let c = load(&in_backend(
        "timeout check 1s\nserver s3 127.0.0.1:80 check inter 300ms rise 1 fall 2 addr 127.0.0.2 port 81\n\
         server s4 127.0.0.1:82 check\nserver s5 127.0.0.1:83 inter 5s",
    ));
    let b = &c.backends[0];
    assert_eq!(b.timeout_check, Some(Duration::from_secs(1)));
    let s3 = b.servers.iter().find(|s| s.name == "s3").unwrap();
    let check = s3.check.as_ref().unwrap();
    assert_eq!(check.inter, Duration::from_millis(300));
    assert_eq!(
        check.fastinter,
        Duration::from_millis(300),
        "fastinter defaults to inter"
    );
    assert_eq!(
        check.downinter,
        Duration::from_millis(300),
        "downinter defaults to inter"
    );
    assert_eq!((check.rise, check.fall), (1, 2));
    assert_eq!(check.target, "127.0.0.2:81".parse().unwrap());
    let s4 = b
        .servers
        .iter()
        .find(|s| s.name == "s4")
        .unwrap()
        .check
        .clone()
        .unwrap();
    assert_eq!((s4.inter, s4.rise, s4.fall), (Duration::from_secs(2), 2, 3));
    assert_eq!(s4.target, "127.0.0.1:82".parse().unwrap());
    let s5 = b.servers.iter().find(|s| s.name == "s5").unwrap();
    assert!(
        s5.check.is_none(),
        "timing options without `check` do not probe"
    );
}

#[test]
fn tcp_check_steps_with_escapes_and_hex() {
    let c = load(&in_backend(
        "option tcp-check\ntcp-check connect\ntcp-check send PING\\r\\n\ntcp-check expect string +PONG\n\
         tcp-check send-binary 0d0a\ntcp-check expect binary 2b4f4b",
    ));
    assert_eq!(
        c.backends[0].tcp_check,
        vec![
            CheckStep::Send(b"PING\r\n".to_vec()),
            CheckStep::Expect(b"+PONG".to_vec()),
            CheckStep::Send(b"\r\n".to_vec()),
            CheckStep::Expect(b"+OK".to_vec()),
        ]
    );
    let without_option = load(&in_backend("tcp-check send PING"));
    assert!(without_option.backends[0].tcp_check.is_empty());
    assert!(
        without_option
            .warnings
            .iter()
            .any(|w| w.contains("option tcp-check"))
    );
}

#[test]
fn tcp_check_errors() {
    assert_error(
        &in_backend("tcp-check send-binary 0d0"),
        9,
        "tcp-check",
        "hex digits",
    );
    assert_error(
        &in_backend("tcp-check expect rstring x"),
        9,
        "tcp-check expect",
        "implemented",
    );
    assert_error(
        &in_backend("tcp-check send PING\ntcp-check connect"),
        10,
        "tcp-check connect",
        "first",
    );
    assert_error(&in_backend("tcp-check bogus"), 9, "tcp-check", "expects");
}

#[test]
fn backup_servers_and_allbackups() {
    let c = load(&in_backend(
        "option allbackups\nserver s3 127.0.0.1:80 backup check",
    ));
    let b = &c.backends[0];
    assert!(b.all_backups);
    let s3 = b.servers.iter().find(|s| s.name == "s3").unwrap();
    assert!(s3.backup && s3.check.is_some());
    assert!(!b.servers.iter().find(|s| s.name == "s1").unwrap().backup);
}

#[test]
fn default_server_options_apply_to_later_servers_and_are_overridden() {
    let text = "defaults\n  mode tcp\n  timeout client 1s\n  timeout server 1s\n  default-server check inter 500ms fall 5\n\
                listen l\n  bind 127.0.0.1:8080\n  default-server weight 3\n  server a 127.0.0.1:1\n  \
                server b 127.0.0.1:2 weight 1 fall 2\n";
    let c = load(text);
    let s = &c.backends[0].servers;
    assert_eq!(s[0].weight, 3);
    let a = s[0]
        .check
        .as_ref()
        .expect("check from the defaults' default-server");
    assert_eq!((a.inter, a.fall), (Duration::from_millis(500), 5));
    assert_eq!(s[1].weight, 1, "the server's own option wins");
    assert_eq!(s[1].check.as_ref().unwrap().fall, 2);
    assert_error(&in_backend("default-server weight 999"), 9, "weight", "");
}

#[test]
fn on_marked_down_shutdown_sessions() {
    let c = load(&in_backend(
        "server s3 127.0.0.1:80 check on-marked-down shutdown-sessions",
    ));
    let s3 = c.backends[0]
        .servers
        .iter()
        .find(|s| s.name == "s3")
        .unwrap();
    assert!(s3.shutdown_on_down);
    assert!(!c.backends[0].servers[0].shutdown_on_down, "off by default");
    assert_error(
        &in_backend("server s3 127.0.0.1:80 on-marked-down nothing"),
        9,
        "on-marked-down",
        "shutdown-sessions",
    );
}

#[test]
fn slowstart_on_servers_and_default_server() {
    let c = load(&in_backend(
        "default-server slowstart 30s\n    server s3 127.0.0.1:80\n    server s4 127.0.0.1:81 slowstart 1m",
    ));
    let by_name = |n: &str| {
        c.backends[0]
            .servers
            .iter()
            .find(|s| s.name == n)
            .unwrap()
            .slowstart
    };
    assert_eq!(by_name("s3"), Duration::from_secs(30));
    assert_eq!(by_name("s4"), Duration::from_secs(60));
    let plain = load(&in_backend("server s3 127.0.0.1:80"));
    assert!(
        plain.backends[0]
            .servers
            .iter()
            .all(|s| s.slowstart.is_zero()),
        "off by default"
    );
}

#[test]
fn observe_layer4_options() {
    let c = load(&in_backend(
        "server s3 127.0.0.1:80 check observe layer4 error-limit 5 on-error sudden-death",
    ));
    let s3 = c.backends[0]
        .servers
        .iter()
        .find(|s| s.name == "s3")
        .unwrap();
    assert_eq!(
        s3.observe,
        Some(Observe {
            error_limit: 5,
            on_error: OnError::SuddenDeath
        })
    );
    let d = load(&in_backend("server s3 127.0.0.1:80 check observe layer4"));
    let o = d.backends[0]
        .servers
        .iter()
        .find(|s| s.name == "s3")
        .unwrap()
        .observe
        .unwrap();
    assert_eq!(
        (o.error_limit, o.on_error),
        (10, OnError::FailCheck),
        "HAProxy's defaults"
    );
    let passive = load(&in_backend(
        "server s3 127.0.0.1:80 observe layer4 inter 500ms rise 3",
    ));
    let s3 = passive.backends[0]
        .servers
        .iter()
        .find(|s| s.name == "s3")
        .unwrap();
    let check = s3.check.as_ref().expect("probed while taken out");
    assert!(check.passive_only, "no `check`: probed only to come back");
    assert_eq!((check.inter, check.rise), (Duration::from_millis(500), 3));
    assert_error(
        &in_backend("server s3 127.0.0.1:80 check observe layer7"),
        9,
        "observe layer7",
        "HTTP-only",
    );
    assert_error(
        &in_backend("server s3 127.0.0.1:80 check on-error explode"),
        9,
        "on-error",
        "mark-down",
    );
}

#[test]
fn retry_on_empty_response_is_opt_in() {
    let on = load(&in_backend("retry-on conn-failure empty-response"));
    assert!(on.backends[0].retry_empty_response);
    let off = load(&in_backend("retry-on conn-failure"));
    assert!(!off.backends[0].retry_empty_response, "the default");
    let inherited = load(&format!(
        "defaults\n retry-on empty-response\n{}",
        in_backend("retry-on none")
    ));
    assert!(
        !inherited.backends[0].retry_empty_response,
        "none undoes it"
    );
    assert_error(&in_backend("retry-on 503"), 9, "retry-on 503", "HTTP-only");
    assert_error(
        &in_backend("retry-on sometimes"),
        9,
        "retry-on",
        "accepted: none",
    );
    assert_error(
        &in_backend("retry-on none empty-response"),
        9,
        "retry-on",
        "cannot be combined",
    );
}

fn target(dest: LogDest, format: LogFormat, facility: u8, level: u8) -> LogTarget {
    LogTarget {
        dest,
        format,
        maxlen: 1024,
        facility,
        level,
        minlevel: 0,
    }
}

#[test]
fn global_log_lines_in_haproxy_forms() {
    let text = "global\n\
                log stdout format raw local0\n\
                log stderr format raw daemon\n\
                log 127.0.0.1:514 local0 info\n\
                log 127.0.0.1 local1\n\
                log /dev/log local0\n\
                log unix@/run/log.sock user\n\
                log [::1]:1514 len 2048 format rfc5424 local7 notice debug\n\
                log ::1 format short kern\n\
                log udp@10.0.0.1:600 format priority local2 err\n\
                log fd@1 format iso mail\n\
                log-tag edge\n\
                log-send-hostname lb1\n\
                defaults\n log global\n option tcplog\n";
    let c = load(&format!("{text}{BASE}"));
    let udp = |a: &str| LogDest::Udp(a.parse().unwrap());
    let unix = |p: &str| LogDest::Unix(p.into());
    let mut rfc5424 = target(udp("[::1]:1514"), LogFormat::Rfc5424, 23, 5);
    (rfc5424.maxlen, rfc5424.minlevel) = (2048, 7);
    let want = vec![
        target(LogDest::Stdout, LogFormat::Raw, 16, 7),
        target(LogDest::Stderr, LogFormat::Raw, 3, 7),
        target(udp("127.0.0.1:514"), LogFormat::Rfc3164, 16, 6),
        target(udp("127.0.0.1:514"), LogFormat::Rfc3164, 17, 7),
        target(unix("/dev/log"), LogFormat::Rfc3164, 16, 7),
        target(unix("/run/log.sock"), LogFormat::Rfc3164, 1, 7),
        rfc5424,
        target(udp("[::1]:514"), LogFormat::Short, 0, 7),
        target(udp("10.0.0.1:600"), LogFormat::Priority, 18, 3),
        target(LogDest::Stdout, LogFormat::Iso, 2, 7),
    ];
    let fe = &c.frontends[0];
    assert!(fe.tcplog && !fe.dontlognull);
    assert_eq!(fe.log, want);
    assert_eq!(
        c.logging,
        Logging {
            tag: "edge".into(),
            hostname: Some("lb1".into())
        }
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn log_send_hostname_without_a_name_is_the_system_one() {
    let c = load(&format!("global\n log-send-hostname\n{BASE}"));
    let host = c.logging.hostname.unwrap();
    assert!(!host.is_empty() && !host.contains('\n'), "{host:?}");
    assert_eq!(load(BASE).logging, Logging::default());
}

#[test]
fn proxy_log_lines_add_to_inherited_ones_and_no_log_clears() {
    let global = "global\n log 127.0.0.1 local0\n";
    let own = "log stdout format raw daemon";
    // defaults: log global + tcplog; the frontend adds its own target.
    let c = load(&format!(
        "{global}defaults\n log global\n option tcplog\n option dontlognull\n{}",
        in_frontend(own)
    ));
    let fe = &c.frontends[0];
    assert!(fe.tcplog && fe.dontlognull);
    let dests: Vec<&LogDest> = fe.log.iter().map(|t| &t.dest).collect();
    assert_eq!(
        dests,
        [
            &LogDest::Udp("127.0.0.1:514".parse().unwrap()),
            &LogDest::Stdout
        ]
    );
    // `no log` drops the inherited lines; `no option` undoes options.
    let c = load(&format!(
        "{global}defaults\n log global\n option tcplog\n{}",
        in_frontend("no log\nno option tcplog")
    ));
    assert!(c.frontends[0].log.is_empty() && !c.frontends[0].tcplog);
    // A listen section is a frontend: it logs too.
    let c = load(&format!(
        "{global}listen l\n bind 127.0.0.1:7000\n log global\n option tcplog\n \
         timeout client 1s\n timeout server 1s\n server a 127.0.0.1:7001\n"
    ));
    assert!(c.frontends[0].tcplog && c.frontends[0].log.len() == 1);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn log_warnings() {
    let c = load(&in_frontend("option tcplog"));
    assert!(
        c.warnings[0].contains("option tcplog in frontend fe but no log target"),
        "{:?}",
        c.warnings
    );
    // `log global` with an empty global is no target either.
    let c = load(&in_frontend("option tcplog\nlog global"));
    assert!(c.warnings[0].contains("no log target"), "{:?}", c.warnings);
    let c = load(&in_backend("log stdout local0"));
    assert!(
        c.warnings[0].contains("log at line 9 in backend be"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn log_errors_name_the_line() {
    let cases = [
        (
            "log 127.0.0.1 local9",
            "unknown facility 'local9'; accepted: kern, user",
        ),
        (
            "log 127.0.0.1 local0 loud",
            "unknown level 'loud'; accepted: emerg, alert",
        ),
        (
            "log 127.0.0.1 local0 info verbose",
            "unknown level 'verbose'",
        ),
        (
            "log 127.0.0.1 format json local0",
            "unknown log format 'json'; accepted: raw",
        ),
        ("log 127.0.0.1", "needs a facility"),
        ("log", "expects: log global | log TARGET"),
        (
            "log 127.0.0.1 len 10 local0",
            "len: '10' is not a whole number in 80..=65535",
        ),
        ("log 127.0.0.1 local0 info info x", "unexpected 'x'"),
        ("log 127.0.0.1 format", "'format' expects a value"),
        (
            "log 127.0.0.1 sample 1:2 local0",
            "sampling (`sample`) is not implemented yet",
        ),
        ("log tcp@127.0.0.1:514 local0", "'tcp@' is not supported"),
        ("log ring@buf local0", "'ring@' is not supported"),
        ("log 127.0.0.1:0 local0", "is not a log target"),
        ("log syslog.example local0", "is not a log target"),
        ("log global", "`log global` is for proxies"),
        ("log-tag", "expects: log-tag TAG"),
        ("log-send-hostname a b", "expects: log-send-hostname [NAME]"),
    ];
    for (line, msg) in cases {
        let kw = line.split(' ').next().unwrap();
        assert_error(&format!("global\n  {line}\n{BASE}"), 2, kw, msg);
    }
    assert_error(
        &in_frontend("log 127.0.0.1 local0 nfo"),
        2,
        "log",
        "unknown level 'nfo'",
    );
    assert_error(
        &in_frontend("log global local0"),
        2,
        "log",
        "is not a log target",
    );
    assert_error(
        &in_frontend("no log global"),
        2,
        "no",
        "expects: no option NAME | no log",
    );
    assert_error(
        &in_frontend("log-tag x"),
        2,
        "log-tag",
        "not implemented yet",
    );
    assert_error(
        &in_frontend("option httplog"),
        2,
        "option httplog",
        "HTTP-only",
    );
}

#[test]
fn stats_socket_timeout_maxconn_and_http() {
    let c = load(&format!(
        "global\n stats socket /run/l4lb.sock mode 660 level admin expose-fd listeners\n \
         stats socket /run/ro.sock\n stats timeout 30s\n stats maxconn 4\n \
         stats http 127.0.0.1:9100\n{BASE}"
    ));
    assert_eq!(
        c.stats_sockets,
        [
            StatsSocket {
                path: "/run/l4lb.sock".into(),
                mode: 0o660,
                level: ApiLevel::Admin
            },
            StatsSocket {
                path: "/run/ro.sock".into(),
                mode: 0o600,
                level: ApiLevel::Operator
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
    let global = |line: &str| format!("global\n {line}\n{BASE}");
    assert_error(
        &global("stats socket run.sock"),
        2,
        "stats socket",
        "absolute path",
    );
    assert_error(
        &global("stats socket /r.sock mode 999"),
        2,
        "stats socket",
        "octal",
    );
    assert_error(
        &global("stats socket /r.sock level root"),
        2,
        "stats socket",
        "accepted: user",
    );
    assert_error(
        &global("stats socket /r.sock user haproxy"),
        2,
        "stats socket",
        "not implemented yet",
    );
    assert_error(&global("stats timeout 0"), 2, "stats timeout", "above 0");
    assert_error(&global("stats http nowhere"), 2, "stats http", "IP:PORT");
    assert_error(&global("stats enable"), 2, "stats", "expects: stats socket");
}

/// Fuzzing found errors on an empty quoted word with a blank keyword
/// (`t.conf:1: '': ...`); they name it `""`.
#[test]
fn empty_quoted_word_is_named_in_errors() {
    assert_error(&format!("''\n{BASE}"), 1, r#""""#, "outside any section");
    assert_error(
        &format!("global\n \"\"\n{BASE}"),
        2,
        r#""""#,
        "unknown keyword",
    );
    assert_error(&in_backend("\"\" 1"), 9, r#""""#, "unknown keyword");
    assert_error(
        &in_backend("server s3 127.0.0.1:9003 ''"),
        9,
        r#""""#,
        "unknown server option",
    );
    assert_error(
        &in_frontend("bind 127.0.0.1:8081 \"\""),
        2,
        r#""""#,
        "unknown bind option",
    );
    assert_error(
        &in_frontend("log \"\" local0"),
        2,
        "log",
        "not a log target",
    );
}

/// Each `log global` used to add the global targets again, so repeated ones
/// in a defaults section grew every proxy's targets as global lines times
/// `log global` lines: a 20 KB file made 8 million. HAProxy adds them once.
#[test]
fn repeated_log_global_adds_the_global_targets_once() {
    let global = "global\n log 127.0.0.1 local0\n log stderr daemon\n";
    let c = load(&format!(
        "{global}defaults\n log global\n log global\n{}",
        in_frontend("log global\nlog stdout local1\nlog global")
    ));
    let dests: Vec<&LogDest> = c.frontends[0].log.iter().map(|t| &t.dest).collect();
    assert_eq!(
        dests,
        [
            &LogDest::Udp("127.0.0.1:514".parse().unwrap()),
            &LogDest::Stderr,
            &LogDest::Stdout
        ]
    );
    // After `no log`, a `log global` adds them again.
    let c = load(&format!(
        "{global}defaults\n log global\n{}",
        in_frontend("no log\nlog stdout local1\nlog global")
    ));
    assert_eq!(c.frontends[0].log.len(), 3);
}
