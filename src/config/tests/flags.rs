//! Flags over the file, and the `--bind`/`--server` quick start.

use super::*;

fn quick(binds: &[&str], servers: &[&str]) -> Args {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    Args {
        bind: strings(binds),
        server: strings(servers),
        ..Args::default()
    }
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
        ("quick", "quick", Some(0))
    );
    assert_eq!(f.binds[0].addr.inet(), "127.0.0.1:8080".parse().ok());
    let names: Vec<&str> = b.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["s1", "s2"]);
    assert_eq!(b.servers[1].configured.fqdn(), Some("localhost"));
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

/// HAProxy's units pass `-S /run/haproxy-master.sock` (its master CLI): a
/// runtime API socket at level admin, after the conf's own.
#[test]
fn dash_s_is_a_runtime_api_socket_at_level_admin() {
    let with = |spec: &str| Args {
        master_socket: Some(spec.into()),
        ..Args::default()
    };
    let file = format!("global\n stats socket /run/l4lb.sock\n{BASE}");
    let c = load_with(&file, &with("/run/haproxy-master.sock")).unwrap();
    let got: Vec<_> = c
        .stats_sockets
        .iter()
        .map(|s| (s.path.to_str().unwrap(), s.mode, s.level))
        .collect();
    assert_eq!(
        got,
        [
            ("/run/l4lb.sock", 0o600, ApiLevel::Operator),
            ("/run/haproxy-master.sock", 0o600, ApiLevel::Admin),
        ]
    );
    let c = load_with(BASE, &with("unix@/run/m.sock,mode,660,level,user")).unwrap();
    let s = &c.stats_sockets[0];
    assert_eq!((s.mode, s.level), (0o660, ApiLevel::User));
    for (spec, msg) in [
        ("m.sock", "absolute path"),
        ("/run/m.sock,bogus", "unknown option 'bogus'"),
        ("/run/l4lb.sock", "already a stats socket"),
    ] {
        let errs = load_with(&file, &with(spec)).unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.keyword == "-S" && e.msg.contains(msg)),
            "{spec}: {errs:#?}"
        );
    }
}
