//! The process keywords of global (`daemon`, `user`, `chroot`, `ulimit-n`,
//! `spread-checks`...), `-D`/`-db`/`-p` over them, and several `-f` files.

use super::*;

#[test]
fn process_keywords_are_read() {
    let c = load(&format!(
        "global\n daemon\n quiet\n pidfile /run/l4lb.pid\n user nobody\n group nogroup\n\
         chroot /var/empty\n ulimit-n 5000\n nbproc 1\n master-worker\n node web-1.a_b\n\
         description the front door\n spread-checks 5\n max-spread-checks 3s\n{BASE}"
    ));
    let p = &c.process;
    assert!(p.daemon && p.master_worker && p.quiet);
    assert_eq!(
        p.pidfile.as_deref(),
        Some(std::path::Path::new("/run/l4lb.pid"))
    );
    assert_eq!((p.uid, p.gid), (Some(65534), Some(65534)));
    assert_eq!(
        p.chroot.as_deref(),
        Some(std::path::Path::new("/var/empty"))
    );
    assert_eq!(p.ulimit_n, Some(5000));
    assert_eq!(c.node.as_deref(), Some("web-1.a_b"));
    assert_eq!(c.description.as_deref(), Some("the front door"));
    assert_eq!(c.spread_checks.percent, 5);
    assert_eq!(c.spread_checks.max, Some(Duration::from_secs(3)));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(
        c.summary()[1],
        "process: daemon, pidfile /run/l4lb.pid, chroot /var/empty, uid 65534, gid 65534, \
         ulimit-n 5000"
    );
    assert!(!load(BASE).summary()[1].starts_with("process"));
}

#[test]
fn numeric_ids_and_unix_bind() {
    let c = load(&format!(
        "global\n uid 1000\n gid 1001\n unix-bind prefix /run/l4lb mode 660 uid 5 group nogroup\n{BASE}"
    ));
    assert_eq!((c.process.uid, c.process.gid), (Some(1000), Some(1001)));
    let ub = &c.process.unix_bind;
    assert_eq!(
        ub.prefix.as_deref(),
        Some(std::path::Path::new("/run/l4lb"))
    );
    assert_eq!(
        (ub.mode, ub.uid, ub.gid),
        (Some(0o660), Some(5), Some(65534))
    );
}

#[test]
fn process_keyword_errors_name_line_and_keyword() {
    let cases = [
        ("daemon now", "daemon", "expects: daemon"),
        ("user no-such-user-l4lb", "user", "no user named"),
        ("group no-such-group-l4lb", "group", "no group named"),
        ("uid -1", "uid", "not a whole number"),
        ("chroot var/empty", "chroot", "absolute path"),
        ("chroot auto", "chroot", "not supported"),
        ("ulimit-n 0", "ulimit-n", ">= 1"),
        ("nbproc 2", "nbproc", "one process; use nbthread"),
        ("node a/b", "node", "letters, digits"),
        ("spread-checks 51", "spread-checks", "0..=50"),
        ("max-spread-checks soon", "max-spread-checks", ""),
        (
            "master-worker no-exit-on-failure",
            "master-worker",
            "one process",
        ),
        ("unix-bind mode 999", "unix-bind", "octal"),
        ("unix-bind color red", "unix-bind", "unknown option 'color'"),
        ("pidfile", "pidfile", "expects: pidfile FILE"),
        (
            "ssl-default-bind-ciphers",
            "ssl-default-bind-ciphers",
            "expects a value",
        ),
    ];
    for (line, kw, msg) in cases {
        assert_error(&format!("global\n  {line}\n{BASE}"), 2, kw, msg);
    }
    assert_error(
        &format!("global\n user nobody\n uid 3\n{BASE}"),
        3,
        "uid",
        "already given",
    );
}

#[test]
fn tls_defaults_are_accepted_with_a_warning() {
    let c = load(&format!(
        "global\n ssl-default-bind-ciphers ECDHE\n ssl-default-bind-options no-sslv3\n\
         ssl-default-server-ciphers X\n ca-base /etc/ssl/certs\n crt-base /etc/ssl/private\n{BASE}"
    ));
    for kw in [
        "ssl-default-bind-ciphers",
        "ssl-default-bind-options",
        "ssl-default-server-ciphers",
        "crt-base",
    ] {
        assert!(
            c.warnings
                .iter()
                .any(|w| w.starts_with(kw) && w.contains("no effect")),
            "{kw}: {:?}",
            c.warnings
        );
    }
}

#[test]
fn unix_bind_with_a_stats_socket_says_it_does_not_apply() {
    let c = load(&format!(
        "global\n unix-bind mode 660\n stats socket /tmp/x.sock\n{BASE}"
    ));
    assert!(
        c.warnings.iter().any(|w| w.contains("unix-bind")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn dash_d_db_and_p_override_the_file() {
    let text = format!("global\n daemon\n pidfile /a.pid\n{BASE}");
    let db = Args {
        daemon: true,
        foreground: true,
        pidfile: Some("/b.pid".into()),
        ..Args::default()
    };
    let c = load_with(&text, &db).unwrap();
    assert!(!c.process.daemon, "-db wins over daemon and -D");
    assert_eq!(
        c.process.pidfile.as_deref(),
        Some(std::path::Path::new("/b.pid"))
    );
    let d = Args {
        daemon: true,
        ..Args::default()
    };
    assert!(load_with(BASE, &d).unwrap().process.daemon);
    assert!(!load(BASE).process.daemon);
}

fn files(list: &[(&str, &str)]) -> Result<Config, Vec<ConfError>> {
    let files: Vec<(String, Vec<u8>)> = list
        .iter()
        .map(|(n, t)| (n.to_string(), t.as_bytes().to_vec()))
        .collect();
    Config::from_files(&files, &Flags::default())
}

#[test]
fn several_files_are_one_conf_and_defaults_carry_over() {
    let c = files(&[
        (
            "a.cfg",
            "global\n maxconn 77\ndefaults\n timeout server 7s\n",
        ),
        ("b.cfg", BASE),
    ])
    .unwrap();
    assert_eq!(c.maxconn, 77);
    assert_eq!(c.backends[0].timeout_server, Some(Duration::from_secs(30)));
    let c = files(&[
        ("a.cfg", "defaults\n timeout connect 7s\n"),
        ("b.cfg", BASE),
    ])
    .unwrap();
    assert_eq!(c.backends[0].timeout_connect, Duration::from_secs(7));
}

#[test]
fn errors_name_the_right_file_and_line() {
    let errs = files(&[
        ("a.cfg", "global\n maxconn 77\n\n"),
        ("b.cfg", &format!("{BASE}    bogus 1\n")),
        ("c.cfg", "backend be\n server s 127.0.0.1:1\n nbthread 3\n"),
    ])
    .unwrap_err();
    let got: Vec<(&str, usize, &str)> = errs
        .iter()
        .map(|e| (e.file.as_str(), e.line, e.keyword.as_str()))
        .collect();
    assert!(got.contains(&("b.cfg", 9, "bogus")), "{errs:#?}");
    assert!(got.contains(&("c.cfg", 3, "nbthread")), "{errs:#?}");
    let dup = errs
        .iter()
        .find(|e| e.msg.contains("duplicate"))
        .unwrap_or_else(|| panic!("{errs:#?}"));
    assert_eq!((dup.file.as_str(), dup.line), ("c.cfg", 1));
    assert!(dup.msg.contains("first at line 5 of b.cfg"), "{dup}");
}

#[test]
fn a_section_ends_with_its_file() {
    let errs = files(&[("a.cfg", BASE), ("b.cfg", "    timeout server 1s\n")]).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!((errs[0].file.as_str(), errs[0].line), ("b.cfg", 1));
    assert!(errs[0].msg.contains("outside any section"), "{}", errs[0]);
}
