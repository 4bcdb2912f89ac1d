//! `log` lines in global and in proxies, `log-tag`, `log-send-hostname`,
//! `option tcplog` and their warnings.

use super::*;

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
    assert_frontend_errors(&[
        ("log 127.0.0.1 local0 nfo", 2, "log", "unknown level 'nfo'"),
        (
            "log global local0",
            2,
            "log",
            "log global takes nothing after it",
        ),
        ("no log global", 2, "no", "expects: no option NAME | no log"),
        ("log-tag x", 2, "log-tag", "not implemented yet"),
    ]);
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

#[test]
fn a_log_line_reports_every_bad_part() {
    assert_errors(
        &in_frontend("log 127.0.0.1:0 len 10 format json local9 loud"),
        &[
            (2, "log", "is not a log target"),
            (2, "log", "len: '10'"),
            (2, "log", "unknown log format 'json'"),
            (2, "log", "unknown facility 'local9'"),
            (2, "log", "unknown level 'loud'"),
        ],
    );
    assert_errors(
        "global\n log stdout len 9 kern\nlisten l\n bind :1\n server s 127.0.0.1:1\n",
        &[(2, "log", "len: '9'")],
    );
}
