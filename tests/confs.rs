//! Real-world haproxy.cfg files (tests/confs/*.cfg, written after the
//! deployments named at the top of each): `l4lb -c` must do what each file's
//! marks say (tests/confs/README.md), and the `start` ones are run against
//! loopback backends with bytes sent through every frontend they route.
//!
//! The expectations are the target of issue 11 ("l4lb runs real haproxy.cfg
//! files"); scripts/confs_check.sh prints where each file stands.

mod common;
#[path = "confs/http.rs"]
mod http;
#[path = "confs/marks.rs"]
mod marks;
#[path = "confs/openings.rs"]
mod openings;
#[path = "confs/servers.rs"]
mod servers;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{L4lb, TempDir};
use marks::{Behaviour, Family, Marks};

fn conf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/confs")
}

/// One file, its placeholders replaced: written in its own temp dir (which
/// is also its `@DIR@`), with the ports its frontends and servers got.
struct Prepared {
    name: String,
    marks: Marks,
    text: String,
    path: PathBuf,
    frontends: BTreeMap<String, u16>,
    servers: BTreeMap<String, u16>,
    dir: TempDir,
}

fn prepare(name: &str) -> Prepared {
    let raw = std::fs::read_to_string(conf_dir().join(name)).unwrap();
    let marks = marks::parse(&raw).unwrap_or_else(|e| panic!("{name}: bad marks: {e}"));
    let dir = TempDir::new("confs");
    let (mut frontends, mut servers) = (BTreeMap::new(), BTreeMap::new());
    let text = marks::substitute(&raw, |kind, n| {
        let ports = if kind == "FE" {
            &mut frontends
        } else {
            &mut servers
        };
        ports
            .entry(n.to_string())
            .or_insert_with(common::free_port)
            .to_string()
    })
    .replace("@DIR@", dir.0.to_str().unwrap());
    copy_data(&dir.0);
    let path = dir.0.join(name);
    std::fs::write(&path, &text).unwrap();
    Prepared {
        name: name.to_string(),
        marks,
        text,
        path,
        frontends,
        servers,
        dir,
    }
}

/// Copies the map and pattern files of tests/confs/data/ into `dir`, where
/// the files name them as `@DIR@/NAME`, as an operator keeps them next to
/// haproxy.cfg.
fn copy_data(dir: &Path) {
    for entry in std::fs::read_dir(conf_dir().join("data")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
}

fn l4lb_check(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_l4lb"))
        .args(["-c", "-f", path.to_str().unwrap()])
        .output()
        .unwrap()
}

/// The keywords `-c` names in its errors about `path`
/// (`l4lb: PATH:LINE: 'KEYWORD': message`); an error line that names no
/// keyword of that file is returned as `Err`.
fn error_keywords(stderr: &str, path: &Path) -> Result<Vec<String>, String> {
    let prefix = format!("{}:", path.display());
    let mut keywords = Vec::new();
    for line in stderr.lines() {
        let Some(msg) = line.strip_prefix("l4lb: ") else {
            continue; // a log line (warnings go through the logger)
        };
        let lower = msg.to_ascii_lowercase();
        if lower.starts_with("configuration is invalid") || lower.starts_with("warning") {
            continue;
        }
        let keyword = msg
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split_once(": '"))
            .filter(|(line_no, _)| line_no.chars().all(|c| c.is_ascii_digit()))
            .and_then(|(_, rest)| rest.split_once("': "))
            .map(|(kw, _)| kw.to_string());
        keywords.push(keyword.ok_or_else(|| format!("an error that names no keyword: {line}"))?);
    }
    Ok(keywords)
}

/// Checks `-c`'s verdict against the marks: `Err` says what is off.
fn check_verdict(p: &Prepared, out: &Output) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    if p.marks.waits.is_empty() {
        return match code {
            Some(0) => Ok(()),
            _ => Err(format!("-c should pass; it said ({code:?}):\n{stderr}")),
        };
    }
    if code != Some(1) {
        return Err(format!(
            "-c should fail on {:?} only; exit {code:?}:\n{stderr}",
            p.marks.waits
        ));
    }
    let keywords = error_keywords(&stderr, &p.path)?;
    let foreign: Vec<&String> = keywords
        .iter()
        .filter(|k| !Family::of(k).is_some_and(|f| p.marks.waits.contains(&f)))
        .collect();
    if !foreign.is_empty() {
        return Err(format!(
            "-c fails on keywords outside {:?}: {foreign:?}:\n{stderr}",
            p.marks.waits
        ));
    }
    let seen: BTreeSet<Family> = keywords.iter().filter_map(|k| Family::of(k)).collect();
    let stale: Vec<&Family> = p.marks.waits.difference(&seen).collect();
    if !stale.is_empty() {
        return Err(format!(
            "stale l4lb-waits {stale:?}: no error of theirs:\n{stderr}"
        ));
    }
    Ok(())
}

/// Runs the whole test of one file: `-c` by its marks, then (for `start`)
/// traffic through every route.
fn run_file(name: &str) {
    let p = prepare(name);
    let out = l4lb_check(&p.path);
    if let Err(e) = check_verdict(&p, &out) {
        panic!("{name}: {e}");
    }
    if p.marks.start {
        start_and_route(p, Proxy::L4lb);
    }
}

/// What runs the file: l4lb, or (to check that the marks and the test's
/// servers mean what HAProxy means) HAProxy itself.
#[derive(Clone, Copy)]
enum Proxy {
    L4lb,
    Haproxy(&'static str),
}

fn start_and_route(p: Prepared, proxy: Proxy) {
    let _backends: Vec<_> = p
        .servers
        .iter()
        .filter_map(|(n, port)| servers::start(n, *port, p.marks.behaviour(n)))
        .collect();
    let path = p.path.to_str().unwrap().to_string();
    let mut args = vec!["-f", path.as_str()];
    if marks::wants_daemon(&p.text) {
        args.push("-db");
    }
    let lb = match proxy {
        Proxy::L4lb => L4lb::spawn(&args, p.dir),
        Proxy::Haproxy(bin) => spawn_haproxy(bin, &p.text, &path, p.dir, &p.frontends),
    };
    wait_checks(&p.name, &p.marks, &p.text, &lb);
    let mut clients = 0;
    for route in &p.marks.routes {
        let port = p.frontends[&route.frontend];
        // One greeting per route (marks::parse checks).
        let greets = p.marks.behaviour(&route.servers[0]);
        let opening = openings::bytes(&route.opening);
        clients += 2 * route.servers.len() + 1;
        for _ in 0..2 * route.servers.len() {
            let got = round_trip(port, greets, &opening);
            assert!(
                route.servers.contains(&got),
                "{}: {} ({:?}) reached {got}, not one of {:?}; log:\n{}",
                p.name,
                route.frontend,
                route.opening,
                route.servers,
                lb.log_text()
            );
        }
        stream_through(&p.name, route, port, greets, &opening);
    }
    for fe in &p.marks.rejects {
        if let Err(e) = turned_away(p.frontends[fe]) {
            panic!(
                "{}: {fe} should turn the client away: {e}; log:\n{}",
                p.name,
                lb.log_text()
            );
        }
    }
    if marks::logs_each_connection(&p.text) {
        let logged =
            common::wait_until(Duration::from_secs(10), || lb.out_lines().len() >= clients);
        assert!(
            logged,
            "{}: {clients} connections, log lines on stdout:\n{}",
            p.name,
            lb.out_lines().join("\n")
        );
    }
    let status = lb.stop();
    if let Proxy::L4lb = proxy {
        assert!(status.success(), "{}: l4lb exited {status:?}", p.name);
    }
}

/// HAProxy on `path` (whose text is `text`) in the foreground, once each
/// frontend and its stats socket accept.
fn spawn_haproxy(
    bin: &str,
    text: &str,
    path: &str,
    dir: TempDir,
    frontends: &BTreeMap<String, u16>,
) -> L4lb {
    // `L4lb` waits for its ready line on stderr; HAProxy says nothing, so
    // the shell says it and the frontends are polled.
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "echo 'l4lb ready' >&2; exec \"$0\" -db -f \"$1\"",
        bin,
        path,
    ]);
    let lb = L4lb::spawn_command(cmd, dir);
    let sock = marks::stats_socket(text);
    let bound = common::wait_until(Duration::from_secs(10), || {
        let api = sock
            .as_ref()
            .is_none_or(|s| std::os::unix::net::UnixStream::connect(s).is_ok());
        api && frontends
            .values()
            .all(|port| TcpStream::connect(common::addr(*port)).is_ok())
    });
    assert!(bound, "haproxy never listened; log:\n{}", lb.log_text());
    lb
}

/// Waits (bounded) until the runtime API shows out (DOWN, MAINT or DRAIN)
/// every server the file's checks must take out, so that no connection can
/// still reach one, and shows a passed last check for each `l4lb-passes`
/// server, so that the servers' answers are known to satisfy the checks.
fn wait_checks(name: &str, marks: &Marks, text: &str, lb: &L4lb) {
    let out = marks.taken_out();
    if out.is_empty() && marks.passes.is_empty() {
        return;
    }
    let sock = PathBuf::from(marks::stats_socket(text).expect("checked by marks::parse"));
    let mut csv = String::new();
    let settled = common::wait_until(Duration::from_secs(20), || {
        csv = common::api_command(&sock, "show stat");
        let status = common::stat_column(&csv, "status");
        let check = common::stat_column(&csv, "check_status");
        all_rows(&status, &out, is_out) && all_rows(&check, &marks.passes, passed)
    });
    assert!(
        settled,
        "{name}: out {out:?}, passing {:?} never both shown:\n{csv}\nlog:\n{}",
        marks.passes,
        lb.log_text()
    );
}

/// Whether every row of `want` is in `rows` (proxy, server, value) and all
/// its values satisfy `ok`.
fn all_rows(rows: &[(String, String, String)], want: &[marks::Row], ok: fn(&str) -> bool) -> bool {
    want.iter().all(|w| {
        let mine: Vec<_> = rows
            .iter()
            .filter(|(px, sv, _)| *sv == w.server && w.proxy.as_ref().is_none_or(|p| px == p))
            .collect();
        !mine.is_empty() && mine.iter().all(|(_, _, v)| ok(v))
    })
}

/// A passed check's status (HAProxy's codes, as show stat's check_status).
fn passed(check_status: &str) -> bool {
    ["L4OK", "L6OK", "L7OK", "L7OKC"]
        .iter()
        .any(|s| check_status.trim_start_matches('*') == *s)
}

/// A status in which a server takes no new connection.
fn is_out(status: &str) -> bool {
    ["DOWN", "MAINT", "DRAIN"]
        .iter()
        .any(|s| status.starts_with(s))
}

/// Connects through l4lb to a server that behaves like `greets`: reads its
/// greeting, if it has one.
fn connect_to(port: u16, greets: Behaviour) -> TcpStream {
    let mut c = common::connect(port);
    servers::read_greeting(&mut c, greets).expect("read the server's greeting");
    c
}

/// `common::round_trip` for any traffic server: the client speaks first
/// (after the greeting): its route's opening, if any, then `ping`; it
/// reads the server's name and the echo of both.
fn round_trip(port: u16, greets: Behaviour, opening: &[u8]) -> String {
    let mut c = connect_to(port, greets);
    let name = if opening.is_empty() {
        c.write_all(b"ping\n").unwrap();
        common::read_line(&mut c).unwrap()
    } else {
        // The opening alone first: the rules decide on it, not on `ping`.
        c.write_all(opening).unwrap();
        let name = common::read_line(&mut c).unwrap();
        read_echo(&mut c, opening);
        c.write_all(b"ping\n").unwrap();
        name
    };
    assert_eq!(common::read_line(&mut c).unwrap(), "ping");
    name
}

/// Reads `sent`'s echo and checks it byte for byte.
fn read_echo(c: &mut TcpStream, sent: &[u8]) {
    let mut echo = vec![0u8; sent.len()];
    c.read_exact(&mut echo).expect("read the opening's echo");
    assert!(echo == sent, "the opening came back altered");
}

/// A client the file's rules must turn away: it sends a line (long enough
/// that no PROXY header reader can still be waiting for more) and must see
/// the connection closed (EOF or a reset), not a server's name.
fn turned_away(port: u16) -> Result<(), String> {
    let reset = |e: &std::io::Error| e.kind() == std::io::ErrorKind::ConnectionReset;
    // A proxy that resets at once (HAProxy's connection reject) can do it
    // before connect() has returned: that is a close too.
    let mut c = match TcpStream::connect_timeout(&common::addr(port), Duration::from_secs(5)) {
        Ok(c) => c,
        Err(e) if reset(&e) => return Ok(()),
        Err(e) => return Err(format!("connect: {e}")),
    };
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    // Likewise a failed write.
    let _ = c.write_all(b"a client the rules turn away\n");
    let mut buf = [0u8; 256];
    match c.read(&mut buf) {
        Ok(0) => Ok(()),
        Ok(n) => Err(format!("got {:?}", String::from_utf8_lossy(&buf[..n]))),
        Err(e) if reset(&e) => Ok(()),
        Err(e) => Err(format!("no close: {e}")),
    }
}

/// Sends the route's opening and 256 KiB through one connection and checks
/// the echo, byte for byte.
fn stream_through(name: &str, route: &marks::Route, port: u16, greets: Behaviour, opening: &[u8]) {
    const LEN: usize = 256 * 1024;
    let frontend = &route.frontend;
    let mut c = connect_to(port, greets);
    c.write_all(opening).unwrap();
    let mut w = c.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let hash = common::send_pattern(&mut w, 7, LEN);
        common::shutdown_write(&w);
        hash
    });
    common::read_line(&mut c).unwrap();
    read_echo(&mut c, opening);
    let (n, hash) = common::recv_all(&mut c).unwrap();
    let sent = writer.join().unwrap().unwrap();
    assert_eq!(n, LEN, "{name}: {frontend} echoed {n} of {LEN} bytes");
    assert_eq!(hash, sent, "{name}: {frontend} echoed other bytes");
}

macro_rules! confs {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                run_file($file);
            }
        )*
        /// Every file a test above runs.
        const LISTED: &[&str] = &[$($file),*];
    };
}

confs! {
    allowlist => "allowlist.cfg",
    bind_options => "bind-options.cfg",
    centos_stock => "centos-stock.cfg",
    consul_template => "consul-template.cfg",
    debian_stock => "debian-stock.cfg",
    galera_clustercheck => "galera-clustercheck.cfg",
    galera_mysql_check => "galera-mysql-check.cfg",
    k8s_kind => "k8s-kind.cfg",
    k8s_kubeadm => "k8s-kubeadm.cfg",
    k8s_kubeadm_tcp => "k8s-kubeadm-tcp.cfg",
    k8s_kubespray => "k8s-kubespray.cfg",
    k8s_openshift_ingress => "k8s-openshift-ingress.cfg",
    k8s_openshift_upi => "k8s-openshift-upi.cfg",
    ldap_check => "ldap-check.cfg",
    ldap_tcp => "ldap-tcp.cfg",
    log_format => "log-format.cfg",
    log_options => "log-options.cfg",
    mysql_replication => "mysql-replication.cfg",
    nbsrv_failover => "nbsrv-failover.cfg",
    patroni_agent_check => "patroni-agent-check.cfg",
    patroni_pg => "patroni-pg.cfg",
    patroni_primary_replica => "patroni-primary-replica.cfg",
    proxy_chain => "proxy-chain.cfg",
    proxy_protocol => "proxy-protocol.cfg",
    queue_limits => "queue-limits.cfg",
    rabbitmq => "rabbitmq.cfg",
    rabbitmq_stats => "rabbitmq-stats.cfg",
    redis_check => "redis-check.cfg",
    redis_master => "redis-master.cfg",
    redis_sentinel => "redis-sentinel.cfg",
    smtp_postfix => "smtp-postfix.cfg",
    smtp_postfix_run => "smtp-postfix-run.cfg",
    smtp_submission => "smtp-submission.cfg",
    source_address => "source-address.cfg",
    ssh_bastion => "ssh-bastion.cfg",
    ssh_git => "ssh-git.cfg",
    ssh_https_443 => "ssh-https-443.cfg",
    stats_page => "stats-page.cfg",
    stats_prometheus => "stats-prometheus.cfg",
    tls_passthrough => "tls-passthrough.cfg",
    tls_sni => "tls-sni.cfg",
    tls_sni_map => "tls-sni-map.cfg",
    tls_sni_use_server => "tls-sni-use-server.cfg",
    tls_sni_sites => "tls-sni-sites.cfg",
    unix_sockets => "unix-sockets.cfg",
    unix_sidecar => "unix-sidecar.cfg",
}

/// The families issue 11 names; each must have at least one file.
const FAMILIES: &[&str] = &[
    "k8s-api",
    "patroni",
    "galera-mysql",
    "redis",
    "rabbitmq",
    "smtp",
    "ldap",
    "ssh",
    "consul-template",
    "distro-stock",
    "stats-page",
    "log-format",
    "unix-sockets",
    "queue-limits",
    "source",
    "bind-options",
    "proxy-protocol",
    "tls-passthrough",
    // Issue 13's.
    "allowlist",
];

#[test]
fn the_corpus_is_complete() {
    let mut files: Vec<String> = std::fs::read_dir(conf_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".cfg"))
        .collect();
    files.sort();
    let mut listed = LISTED.to_vec();
    listed.sort();
    assert_eq!(
        files, listed,
        "every tests/confs/*.cfg needs its line in confs!"
    );
    assert!(files.len() >= 30, "only {} files", files.len());
    let mut families = BTreeSet::new();
    let mut started = BTreeSet::new();
    for f in &files {
        let text = std::fs::read_to_string(conf_dir().join(f)).unwrap();
        let m = marks::parse(&text).unwrap_or_else(|e| panic!("{f}: bad marks: {e}"));
        assert!(
            FAMILIES.contains(&m.family.as_str()),
            "{f}: family {}",
            m.family
        );
        assert!(
            text.starts_with("# Modelled on") || text.contains("stock"),
            "{f}: no source"
        );
        if m.start {
            started.insert(m.family.clone());
        }
        families.insert(m.family);
    }
    let missing: Vec<_> = FAMILIES
        .iter()
        .filter(|f| !families.contains(**f))
        .collect();
    assert!(missing.is_empty(), "no file for {missing:?}");
    assert!(started.len() >= 5, "start files cover only {started:?}");
}

/// Debian's package's haproxy, or a local build's.
fn haproxy_binary() -> Option<&'static str> {
    ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// The files are valid HAProxy: the real haproxy accepts each one (when it
/// is installed; Debian's package, the version the files were written for).
#[test]
fn haproxy_accepts_every_file() {
    let Some(haproxy) = haproxy_binary() else {
        eprintln!("skipped: no haproxy installed (apt-get install -y haproxy)");
        return;
    };
    let mut bad = Vec::new();
    for f in LISTED {
        let p = prepare(f);
        let out = Command::new(haproxy)
            .args(["-c", "-q", "-f", p.path.to_str().unwrap()])
            .output()
            .unwrap();
        if !out.status.success() {
            bad.push(format!("{f}:\n{}", String::from_utf8_lossy(&out.stderr)));
        }
    }
    assert!(bad.is_empty(), "haproxy -c refuses:\n{}", bad.join("\n"));
}

/// The start files under HAProxy itself, with the same servers, marks and
/// traffic: the test's servers answer HAProxy's checks as l4lb's, and
/// HAProxy takes out and keeps the servers the marks say. Skipped without
/// HAProxy.
#[test]
fn haproxy_runs_the_start_files() {
    let Some(haproxy) = haproxy_binary() else {
        eprintln!("skipped: no haproxy installed (apt-get install -y haproxy)");
        return;
    };
    let mut bad = Vec::new();
    for f in LISTED {
        let p = prepare(f);
        if !p.marks.start {
            continue;
        }
        let run = std::panic::catch_unwind(|| start_and_route(p, Proxy::Haproxy(haproxy)));
        if let Err(e) = run {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            bad.push(format!("{f}: {why}"));
        }
    }
    assert!(bad.is_empty(), "under haproxy:\n{}", bad.join("\n\n"));
}

#[test]
fn error_lines_are_read_by_keyword() {
    let path = Path::new("/t/x.cfg");
    let stderr = "l4lb: /t/x.cfg:4: 'option httpchk': no\n\
                  [2026 WARN] something\n\
                  l4lb: /t/x.cfg:9: 'send-proxy': not yet\n\
                  l4lb: warning: /t/x.cfg:2: 'option forwardfor': no effect\n\
                  l4lb: configuration is invalid (2 error(s))\n";
    assert_eq!(
        error_keywords(stderr, path).unwrap(),
        ["option httpchk", "send-proxy"]
    );
    let cascade = "l4lb: cannot bind: in use\n";
    assert!(error_keywords(cascade, path).is_err());
}
