//! HAProxy's own tools against l4lb's stats socket: the exact exchanges
//! hatop 0.8.2 (Debian's `hatop`) and prometheus-haproxy-exporter 0.14
//! (Debian's package) have with it, read from their sources, with the
//! answers parsed the way each tool parses them. scripts/haproxy_tools.sh
//! runs the tools themselves.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use common::*;

/// l4lb with an admin stats socket over `servers` (s0, s1...) in backend
/// `be` behind frontend `fe`.
struct Proxy {
    _l4: L4lb,
    sock: PathBuf,
}

impl Proxy {
    fn start(servers: &[std::net::SocketAddr], level: &str) -> Proxy {
        let dir = TempDir::new("tools");
        let sock = dir.0.join("l4lb.sock");
        let text = conf(free_port(), servers, "balance roundrobin").replacen(
            "global\n",
            &format!(
                "global\n    stats socket {} mode 600 level {level}\n",
                sock.display()
            ),
            1,
        );
        let path = dir.0.join("l4lb.conf");
        std::fs::write(&path, text).unwrap();
        let l4 = L4lb::spawn(&["-f", path.to_str().unwrap()], dir);
        Proxy { _l4: l4, sock }
    }
}

/// hatop's `Socket`: prompt mode, then `set timeout cli 60`; each answer
/// read until it ends with the `> ` prompt, split into lines.
struct Hatop {
    s: UnixStream,
}

impl Hatop {
    fn connect(sock: &std::path::Path) -> Hatop {
        let s = UnixStream::connect(sock).unwrap();
        // hatop's HAPROXY_CLI_CMD_TIMEOUT is 1 s; a loaded test machine
        // gets more, the exchange is the same.
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut h = Hatop { s };
        h.send("prompt");
        h.recv();
        h.send("set timeout cli 60");
        assert_eq!(h.recv(), [""], "set timeout cli: an empty answer");
        h
    }

    fn send(&mut self, line: &str) {
        self.s.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    /// The lines before the prompt (hatop's `Socket.recv`).
    fn recv(&mut self) -> Vec<String> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.ends_with(b"> ") {
            let n = self.s.read(&mut chunk).expect("the prompt, in time");
            assert!(n > 0, "EOF before the prompt: hatop's 'socket error'");
            buf.extend_from_slice(&chunk[..n]);
        }
        let text = String::from_utf8(buf).unwrap();
        let body = text.strip_suffix("> ").unwrap();
        body.split('\n')
            .map(str::to_string)
            .take(body.matches('\n').count())
            .collect()
    }

    fn cmd(&mut self, line: &str) -> Vec<String> {
        self.send(line);
        self.recv()
    }
}

/// hatop's HAPROXY_INFO_RE: each field it reads, and whether its value
/// must be a number (`\d+`) or may be any word (`\S+`, `[\S ]+`).
const HATOP_INFO: &[(&str, bool)] = &[
    ("Name", false),
    ("Version", false),
    ("Release_date", false),
    ("Nbproc", true),
    ("Process_num", true),
    ("Pid", true),
    ("Uptime", false),
    ("Maxconn", true),
    ("CurrConns", true),
    ("Maxpipes", true),
    ("PipesUsed", true),
    ("Tasks", true),
    ("Run_queue", true),
    ("node", false),
];

/// hatop's HAPROXY_STAT_CSV, in order: the columns it reads (51), and
/// which are text (the rest must be empty or a number).
const HATOP_TEXT_COLUMNS: &[&str] = &[
    "pxname",
    "svname",
    "status",
    "tracked",
    "check_status",
    "hanafail",
];
const HATOP_COLUMNS: usize = 51;

/// hatop's `parse_info`: every field it needs matches its regex.
fn hatop_parse_info(lines: &[String]) {
    for &(key, numeric) in HATOP_INFO {
        let value = lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(&format!("{key}:")))
            .map(str::trim)
            .unwrap_or_else(|| panic!("missing \"{key}\" in info data: {lines:?}"));
        let first = value.split_whitespace().next().unwrap_or("");
        assert!(!first.is_empty(), "{key}: no value");
        if numeric {
            assert!(first.bytes().all(|b| b.is_ascii_digit()), "{key}: {value}");
        }
    }
}

/// hatop's `parse_stat`: (pxname, svname, iid, sid, weight, status) of
/// each row, after checking every field as it does.
fn hatop_parse_stat(lines: &[String]) -> Vec<(String, String, i64, i64, i64, String)> {
    let header = lines.iter().find(|l| l.starts_with("# ")).expect("header");
    let names: Vec<&str> = header[2..].split(',').collect();
    let col = |n: &str| names.iter().position(|c| *c == n).unwrap();
    let mut rows = Vec::new();
    for line in lines {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        assert!(
            line.matches(',').count() >= HATOP_COLUMNS,
            "hatop skips a short row: {line}"
        );
        let f: Vec<&str> = line.splitn(HATOP_COLUMNS + 1, ',').collect();
        for (i, v) in f.iter().take(HATOP_COLUMNS).enumerate() {
            let text = HATOP_TEXT_COLUMNS.contains(&names[i]);
            assert!(
                text || v.is_empty() || v.parse::<i64>().is_ok(),
                "garbage field: {}=\"{v}\" in {line}",
                names[i]
            );
        }
        let int = |n: &str| f[col(n)].parse::<i64>().unwrap_or(0);
        rows.push((
            f[0].to_string(),
            f[1].to_string(),
            int("iid"),
            int("sid"),
            int("weight"),
            f[col("status")].to_string(),
        ));
    }
    rows
}

fn row<'a>(
    rows: &'a [(String, String, i64, i64, i64, String)],
    sv: &str,
) -> &'a (String, String, i64, i64, i64, String) {
    rows.iter()
        .find(|r| r.1 == sv)
        .unwrap_or_else(|| panic!("no {sv}: {rows:?}"))
}

#[test]
fn hatop_reads_show_info_and_show_stat_as_it_parses_them() {
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let p = Proxy::start(&[a.addr(), b.addr()], "admin");
    let mut h = Hatop::connect(&p.sock);
    // hatop's refresh: show info, then show stat, each in turn.
    for _ in 0..2 {
        hatop_parse_info(&h.cmd("show info"));
        let rows = hatop_parse_stat(&h.cmd("show stat"));
        assert_eq!(rows.len(), 4, "FRONTEND, s0, s1, BACKEND: {rows:?}");
        let (fe, s1, be) = (
            row(&rows, "FRONTEND"),
            row(&rows, "s1"),
            row(&rows, "BACKEND"),
        );
        assert!(fe.2 > 0 && s1.2 > 0 && be.2 == s1.2, "proxy ids: {rows:?}");
        assert_eq!((fe.3, s1.3, be.3), (0, 2, 0), "server ids");
        assert_eq!(s1.5, "no check", "hatop shows it as '-'");
    }
    // hatop's -f filter: `show stat <iid> <type> <sid>` by number.
    let iid = row(&hatop_parse_stat(&h.cmd("show stat")), "s0").2;
    let only_s1 = hatop_parse_stat(&h.cmd(&format!("show stat {iid} 4 2")));
    assert_eq!(only_s1.len(), 1, "{only_s1:?}");
    assert_eq!(only_s1[0].1, "s1");
    let backend_rows = hatop_parse_stat(&h.cmd(&format!("show stat {iid} -1 -1")));
    assert_eq!(backend_rows.len(), 3, "s0, s1, BACKEND: {backend_rows:?}");
    h.send("quit");
}

#[test]
fn hatop_admin_keys_change_the_server() {
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let p = Proxy::start(&[a.addr(), b.addr()], "admin");
    let mut h = Hatop::connect(&p.sock);
    let status = |h: &mut Hatop, sv: &str| {
        let rows = hatop_parse_stat(&h.cmd("show stat"));
        let r = row(&rows, sv);
        (r.5.clone(), r.4)
    };
    // F10 / F2: disable server; F9 / F1: enable server.
    assert_eq!(h.cmd("disable server be/s0"), [""]);
    assert_eq!(status(&mut h, "s0").0, "MAINT");
    assert_eq!(h.cmd("enable server be/s0"), [""]);
    assert_eq!(status(&mut h, "s0").0, "no check");
    // F7 / F8: weight + 1 / + 10; F5 / F6: - 10 / - 1; F4: reset.
    assert_eq!(h.cmd("set weight be/s1 11"), [""]);
    assert_eq!(status(&mut h, "s1").1, 11);
    assert_eq!(h.cmd("set weight be/s1 1"), [""]);
    assert_eq!(h.cmd("set weight be/s1 0"), [""]);
    assert_eq!(status(&mut h, "s1").1, 0);
    assert_eq!(h.cmd("get weight be/s1"), ["0 (initial 1)", ""]);
    assert_eq!(h.cmd("set weight be/s1 100%"), [""]);
    assert_eq!(status(&mut h, "s1").1, 1);
    assert_eq!(
        h.cmd("set weight be/s1 300"),
        [
            "Absolute weight can only be between 0 and 256 inclusive.",
            ""
        ]
    );
    assert_eq!(h.cmd("set weight be/nope 1"), ["No such server.", ""]);
    // Traffic follows: s0 in maintenance gets nothing.
    h.cmd("disable server be/s0");
    let csv = api_command(&p.sock, "show stat");
    assert_eq!(
        stat_column(&csv, "status")
            .into_iter()
            .find(|r| r.1 == "s0")
            .map(|r| r.2),
        Some("MAINT".to_string())
    );
    h.send("quit");
}

#[test]
fn the_cli_timeout_and_get_weight_are_open_to_every_level() {
    let a = Backend::named("a");
    let p = Proxy::start(&[a.addr()], "user");
    let mut h = Hatop::connect(&p.sock);
    assert_eq!(h.cmd("get weight be/s0"), ["1 (initial 1)", ""]);
    assert_eq!(h.cmd("set weight be/s0 5"), ["Permission denied", ""]);
    for (cmd, want) in [
        ("set timeout cli 0", "Invalid timeout value."),
        ("set timeout cli 500ms", "Invalid timeout value."),
        ("set timeout cli 30d", "Invalid timeout value."),
        ("set timeout cli x", "Invalid timeout value."),
        ("set timeout cli", "Expects an integer value."),
        ("set timeout client 5", "'set timeout' only supports 'cli'."),
    ] {
        assert_eq!(h.cmd(cmd), [want, ""], "{cmd}");
    }
    assert_eq!(h.cmd("set timeout cli 2m"), [""]);
    h.send("quit");
}

#[test]
fn a_short_cli_timeout_closes_an_idle_connection() {
    let a = Backend::named("a");
    let p = Proxy::start(&[a.addr()], "user");
    let mut h = Hatop::connect(&p.sock);
    h.cmd("set timeout cli 1");
    let mut rest = Vec::new();
    // Closed after a second of silence (the read ends with EOF).
    h.s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest:?}");
}

/// The exporter: one connection per command, `show info\n` then
/// `show stat\n`, each answer read to EOF.
fn exporter_fetch(sock: &std::path::Path, cmd: &str) -> String {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(cmd.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The exporter's field numbers that it parses as numbers (server,
/// frontend and backend metrics together), besides `status` (17).
const EXPORTER_FIELDS: &[usize] = &[
    2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 18, 19, 21, 24, 30, 33, 34, 35, 38, 39, 40, 41,
    42, 43, 44, 48, 49, 50, 51, 52, 53, 54, 58, 59, 60, 61, 79,
];
/// The status words the exporter knows (others count as down).
const EXPORTER_STATUS: &[&str] = &[
    "UP",
    "UP 1/3",
    "UP 2/3",
    "OPEN",
    "no check",
    "DRAIN",
    "DOWN",
    "DOWN 1/2",
    "NOLB",
    "MAINT",
    "MAINT(via)",
    "MAINT(resolution)",
];

#[test]
fn the_exporter_reads_show_info_and_show_stat_as_it_parses_them() {
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let p = Proxy::start(&[a.addr(), b.addr()], "admin");
    api_command(&p.sock, "disable server be/s1");
    // parseInfo: `Key: value` lines, SplitN on ": ".
    let info = exporter_fetch(&p.sock, "show info\n");
    let field = |k: &str| {
        info.lines()
            .filter_map(|l| l.split_once(": "))
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string())
    };
    assert_eq!(field("Version").as_deref(), Some(env!("CARGO_PKG_VERSION")));
    let date = field("Release_date").expect("haproxy_version_info's release_date");
    assert_eq!(date.len(), 10, "{date}");
    // The CSV: `#` lines are comments, every record has the first one's
    // field count (Go's encoding/csv), at least 33.
    let csv = exporter_fetch(&p.sock, "show stat\n");
    let records: Vec<Vec<&str>> = csv
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(records.len(), 4, "{csv}");
    let count = records[0].len();
    assert!(count >= 33, "minimumCsvFieldCount: {count}");
    let mut servers = Vec::new();
    for r in &records {
        assert_eq!(r.len(), count, "csv: wrong number of fields: {r:?}");
        assert!(EXPORTER_STATUS.contains(&r[17]), "status {:?}", r[17]);
        for &i in EXPORTER_FIELDS {
            let v = r[i];
            assert!(
                v.is_empty() || v.parse::<i64>().is_ok() || v.parse::<f64>().is_ok(),
                "field {i} = {v:?} in {r:?}"
            );
        }
        match r[32] {
            "0" | "1" => {}
            "2" => servers.push((r[1], r[17])),
            t => panic!("type {t}"),
        }
    }
    assert_eq!(servers, [("s0", "no check"), ("s1", "MAINT")]);
}
