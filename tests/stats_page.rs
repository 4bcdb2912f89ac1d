//! HAProxy's stats page (`mode http` sections with `stats` lines): the
//! HTML page parsed with an HTML parser and checked against `show stat`,
//! its `;csv`, basic auth, refresh, `monitor-uri`, the Prometheus path,
//! the admin form, reload, what `-c` refuses, and bad clients that must
//! harm nothing.

mod common;
#[path = "common/misc.rs"]
mod misc;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;
use misc::{get, http};
use scraper::{Html, Selector};

/// l4lb with a TCP frontend, a backend of two echo servers, a listen of
/// one, a runtime API socket, and a stats page with `page` lines.
struct Lb {
    l4: L4lb,
    sock: PathBuf,
    path: PathBuf,
    port: u16,
    /// The `listen app` proxy's port.
    listen: u16,
    page: u16,
    _backends: Vec<Backend>,
}

impl Lb {
    fn start(page: &str) -> Lb {
        let backends = vec![Backend::echo(), Backend::echo(), Backend::echo()];
        let (port, listen, page_port) = (free_port(), free_port(), free_port());
        let dir = TempDir::new("stats-page");
        let sock = dir.0.join("api.sock");
        let path = dir.0.join("l4lb.conf");
        let servers: Vec<_> = backends.iter().map(Backend::addr).collect();
        let conf = text(&sock, port, listen, page_port, &servers, page);
        std::fs::write(&path, conf).unwrap();
        let l4 = L4lb::spawn(&["-f", path.to_str().unwrap()], dir);
        Lb {
            l4,
            sock,
            path,
            port,
            listen,
            page: page_port,
            _backends: backends,
        }
    }

    fn api(&self, cmd: &str) -> String {
        api_command(&self.sock, cmd)
    }

    /// Some traffic through both proxies, so the numbers are not all 0.
    fn traffic(&self) {
        for p in [self.port, self.port, self.port, self.listen] {
            let mut c = connect(p);
            c.write_all(b"hello\n").unwrap();
            let mut buf = [0u8; 6];
            c.read_exact(&mut buf).unwrap();
        }
    }
}

fn text(
    sock: &std::path::Path,
    port: u16,
    listen: u16,
    page_port: u16,
    servers: &[std::net::SocketAddr],
    page: &str,
) -> String {
    let mut c = format!(
        "global\n    nbthread 2\n    stats socket {} level admin\ndefaults\n    timeout connect 2s\n    \
         timeout client 30s\n    timeout server 30s\nfrontend fe\n    bind 127.0.0.1:{port}\n    \
         default_backend be\nbackend be\n    server s0 {}\n    server s1 {}\n\
         listen app\n    bind 127.0.0.1:{listen}\n    server a0 {}\n\
         listen stats\n    mode http\n    bind 127.0.0.1:{page_port}\n",
        sock.display(),
        servers[0],
        servers[1],
        servers[2],
    );
    for line in page.lines() {
        c.push_str(&format!("    {}\n", line.trim()));
    }
    c
}

fn post(port: u16, target: &str, body: &str) -> (u16, String, String) {
    let req = format!(
        "POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    http(port, req.as_bytes())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Every (proxy, server) -> column -> value of `show stat`.
type Stats = BTreeMap<(String, String), BTreeMap<String, String>>;

fn parse_csv(csv: &str) -> Stats {
    let mut lines = csv.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .map(String::from)
        .collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let cols = header
                .iter()
                .zip(&f)
                .map(|(h, v)| (h.clone(), v.to_string()))
                .collect();
            ((f[0].to_string(), f[1].to_string()), cols)
        })
        .collect()
}

/// The page's tables: proxy -> rows (server) -> data-col -> data-value.
fn parse_page(html: &str) -> BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>> {
    let doc = Html::parse_document(html);
    let table = Selector::parse("table.px").unwrap();
    let tr = Selector::parse("tbody tr").unwrap();
    let td = Selector::parse("td[data-col]").unwrap();
    let mut out = BTreeMap::new();
    for t in doc.select(&table) {
        let px = t.value().attr("data-px").expect("a table names its proxy");
        let mut rows = BTreeMap::new();
        for r in t.select(&tr) {
            let sv = r.value().attr("data-sv").expect("a row names its server");
            let cells = r
                .select(&td)
                .map(|c| {
                    let v = c.value();
                    (
                        v.attr("data-col").unwrap().to_string(),
                        v.attr("data-value").unwrap().to_string(),
                    )
                })
                .collect();
            assert!(
                rows.insert(sv.to_string(), cells).is_none(),
                "row {px}/{sv} twice"
            );
        }
        assert!(
            out.insert(px.to_string(), rows).is_none(),
            "table {px} twice"
        );
    }
    out
}

/// Whether every cell of the page equals `show stat` for its row.
fn page_matches(
    page: &BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    stats: &Stats,
) -> Result<(), String> {
    let mut seen = 0;
    for (px, rows) in page {
        for (sv, cells) in rows {
            let want = stats
                .get(&(px.clone(), sv.clone()))
                .ok_or(format!("no show stat row {px}/{sv}"))?;
            for (col, v) in cells {
                if want.get(col) != Some(v) {
                    return Err(format!(
                        "{px}/{sv} {col}: page {v:?}, show stat {:?}",
                        want.get(col)
                    ));
                }
            }
            seen += 1;
        }
    }
    if seen != stats.len() {
        return Err(format!(
            "{seen} rows on the page, {} in show stat",
            stats.len()
        ));
    }
    Ok(())
}

#[test]
fn the_page_has_a_table_per_proxy_with_the_numbers_of_show_stat() {
    let lb = Lb::start("stats enable\nstats uri /stats\nstats show-legends");
    lb.traffic();
    assert!(wait_until(Duration::from_secs(5), || show_stat(
        &lb.sock, "be", "BACKEND", "stot"
    ) == "3"));
    let (code, head, body) = get(lb.page, "/stats", "");
    assert_eq!(code, 200, "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = parse_page(&body);
    let names: BTreeSet<&str> = page.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from(["app", "be", "fe"]),
        "a table per proxy, the page's own excluded"
    );
    let rows = |px: &str| page[px].keys().cloned().collect::<Vec<_>>();
    assert_eq!(rows("be"), ["BACKEND", "s0", "s1"]);
    assert_eq!(
        rows("app"),
        ["BACKEND", "FRONTEND", "a0"],
        "a listen's rows in one table"
    );
    assert_eq!(page["be"]["BACKEND"]["stot"], "3");
    assert_eq!(page["app"]["FRONTEND"]["stot"], "1");
    // Cell by cell, equal to show stat read at the same moment (rates and
    // seconds move once a second: a read across a tick is taken again).
    let mut last = String::new();
    let same = wait_until(Duration::from_secs(10), || {
        let page = parse_page(&get(lb.page, "/stats", "").2);
        match page_matches(&page, &parse_csv(&lb.api("show stat"))) {
            Ok(()) => true,
            Err(e) => {
                last = e;
                false
            }
        }
    });
    assert!(same, "{last}");
    let doc = Html::parse_document(&body);
    let addr = Selector::parse("tr[data-sv=s0] .legend-info").unwrap();
    let shown = doc
        .select(&addr)
        .next()
        .expect("show-legends: addresses")
        .text()
        .collect::<String>();
    assert_eq!(shown, show_stat(&lb.sock, "be", "s0", "addr"));
    let title = Selector::parse("title").unwrap();
    assert!(
        doc.select(&title)
            .next()
            .unwrap()
            .text()
            .collect::<String>()
            .contains("Statistics Report")
    );
}

#[test]
fn csv_is_show_stat() {
    let lb = Lb::start("stats uri /st?stats");
    let mut last = (String::new(), String::new());
    let same = wait_until(Duration::from_secs(10), || {
        let (code, head, body) = get(lb.page, "/st?stats;csv", "");
        assert_eq!(code, 200, "{head}");
        // The API ends an answer with an empty line.
        let api = lb.api("show stat");
        last = (body, api.strip_suffix('\n').unwrap_or_default().to_string());
        last.0 == last.1
    });
    assert!(same, "page:\n{}\nshow stat:\n{}", last.0, last.1);
    assert!(last.0.starts_with("# pxname,svname,"));
    assert_eq!(
        last.0.lines().count(),
        1 + 1 + 3 + 1 + 2,
        "header, fe, be (2 servers), app (3 rows)"
    );
}

#[test]
fn basic_auth_guards_the_page_but_not_monitor_uri() {
    let lb = Lb::start(
        "stats uri /\nstats realm Ops\\ Room\nstats auth admin:s3cret\nstats auth ro:pw\nmonitor-uri /healthz",
    );
    let (code, head, _) = get(lb.page, "/", "");
    assert_eq!(code, 401, "{head}");
    assert_eq!(
        header(&head, "www-authenticate"),
        Some("Basic realm=\"Ops Room\"")
    );
    // base64("admin:wrong"), base64("admin:s3cret"), base64("ro:pw")
    let (code, ..) = get(lb.page, "/", "Authorization: Basic YWRtaW46d3Jvbmc=\r\n");
    assert_eq!(code, 401);
    let (code, ..) = get(
        lb.page,
        "/;csv",
        "Authorization: Basic YWRtaW46d3Jvbmc=\r\n",
    );
    assert_eq!(code, 401, "the CSV too");
    let (code, _, body) = get(lb.page, "/", "Authorization: Basic YWRtaW46czNjcmV0\r\n");
    assert_eq!(code, 200);
    assert!(body.contains("<table class=\"px\""));
    let (code, ..) = get(lb.page, "/", "authorization: basic cm86cHc=\r\n");
    assert_eq!(code, 200, "the second account, scheme in lower case");
    let (code, _, body) = get(lb.page, "/healthz", "");
    assert_eq!(code, 200, "monitor-uri needs no password");
    assert!(body.contains("Service ready"), "{body}");
}

#[test]
fn refresh_monitor_uri_prometheus_and_other_uris() {
    let lb = Lb::start(
        "stats uri /stats\nstats refresh 7s\nmonitor-uri /up\n\
         http-request use-service prometheus-exporter if { path /metrics }",
    );
    let (code, head, body) = get(lb.page, "/stats", "");
    assert_eq!(code, 200);
    assert_eq!(header(&head, "refresh"), Some("7"));
    let doc = Html::parse_document(&body);
    let meta = Selector::parse("meta[http-equiv=refresh]").unwrap();
    assert_eq!(
        doc.select(&meta)
            .next()
            .and_then(|m| m.value().attr("content")),
        Some("7")
    );
    let (_, head, body) = get(lb.page, "/stats;norefresh", "");
    assert_eq!(header(&head, "refresh"), None);
    assert!(!body.contains("http-equiv=\"refresh\""));
    let (code, _, body) = get(lb.page, "/up", "");
    assert_eq!((code, body.contains("200 OK")), (200, true));
    let (code, head, body) = get(lb.page, "/metrics", "");
    assert_eq!(code, 200, "{head}");
    assert!(
        body.contains("l4lb_server_connections_total{backend=\"be\",server=\"s0\"}"),
        "{body}"
    );
    let (code, ..) = get(lb.page, "/elsewhere", "");
    assert_eq!(code, 503, "no server behind a stats page, as HAProxy");
}

/// The admin form's POST of `action` on `servers` of `be`: the redirect.
fn act(lb: &Lb, action: &str, servers: &[&str]) -> String {
    let mut body: String = servers.iter().map(|s| format!("s={s}&")).collect();
    body.push_str(&format!("action={action}&b=be"));
    let (code, head, _) = post(lb.page, "/stats", &body);
    assert_eq!(code, 303, "{head}");
    header(&head, "location").unwrap().to_string()
}

#[test]
fn the_admin_form_sets_servers_drain_maint_and_ready() {
    let lb = Lb::start("stats uri /stats\nstats admin if LOCALHOST");
    let status = |sv: &str| show_stat(&lb.sock, "be", sv, "status");
    let body = get(lb.page, "/stats", "").2;
    let doc = Html::parse_document(&body);
    let boxes = Selector::parse("form.admin input[type=checkbox][name=s]").unwrap();
    let names: Vec<&str> = doc
        .select(&boxes)
        .filter_map(|b| b.value().attr("value"))
        .collect();
    assert_eq!(
        names,
        ["a0", "s0", "s1"],
        "a checkbox per server, app's table first"
    );
    let options = Selector::parse("form.admin select[name=action] option").unwrap();
    let actions: BTreeSet<&str> = doc
        .select(&options)
        .filter_map(|o| o.value().attr("value"))
        .collect();
    assert!(
        actions.is_superset(&BTreeSet::from(["ready", "drain", "maint"])),
        "{actions:?}"
    );

    assert_eq!(act(&lb, "drain", &["s0", "s1"]), "/stats;st=DONE");
    assert_eq!(
        (status("s0"), status("s1")),
        ("DRAIN".into(), "DRAIN".into())
    );
    assert_eq!(act(&lb, "maint", &["s1"]), "/stats;st=DONE");
    assert_eq!(status("s1"), "MAINT");
    assert_eq!(act(&lb, "ready", &["s0", "s1"]), "/stats;st=DONE");
    assert_eq!(
        (status("s0"), status("s1")),
        ("no check".into(), "no check".into())
    );
    assert_eq!(act(&lb, "maint", &["s0", "nope"]), "/stats;st=PART");
    assert_eq!(act(&lb, "drain", &[]), "/stats;st=NONE");
    assert_eq!(act(&lb, "bogus", &["s1"]), "/stats;st=ERRP");
    let (_, _, page) = get(lb.page, "/stats;st=DONE", "");
    assert!(page.contains("Action processed successfully"));
    // A form posted from another site is refused (HAProxy's CSRF check).
    let form = "s=s1&action=drain&b=be";
    let req = format!(
        "POST /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n\
         Content-Length: {}\r\n\r\n{form}",
        form.len()
    );
    let (code, head, _) = http(lb.page, req.as_bytes());
    assert_eq!(
        (code, header(&head, "location")),
        (303, Some("/stats;st=DENY"))
    );
    assert_eq!(status("s1"), "no check");
}

/// `stats admin if COND` with the section's ACLs: the page's clients come
/// from 127.0.0.1, which one condition lets in and another keeps out.
#[test]
fn stats_admin_takes_a_condition_over_the_client_address() {
    let lb = Lb::start(
        "stats uri /stats\nacl ops src 127.0.0.0/8\nstats admin if ops !{ src 10.0.0.0/8 }",
    );
    assert!(get(lb.page, "/stats", "").2.contains("<form"), "the form");
    assert_eq!(act(&lb, "maint", &["s0"]), "/stats;st=DONE");
    assert_eq!(show_stat(&lb.sock, "be", "s0", "status"), "MAINT");
    let lb = Lb::start("stats uri /stats\nstats admin unless { src 127.0.0.1 }");
    assert!(!get(lb.page, "/stats", "").2.contains("<form"), "no form");
    assert_eq!(act(&lb, "maint", &["s0"]), "/stats;st=DENY");
    assert_eq!(show_stat(&lb.sock, "be", "s0", "status"), "no check");
}

#[test]
fn without_stats_admin_the_form_is_absent_and_a_post_is_denied() {
    let lb = Lb::start("stats uri /stats");
    let body = get(lb.page, "/stats", "").2;
    assert!(!body.contains("<form"), "no admin form");
    assert_eq!(act(&lb, "maint", &["s0"]), "/stats;st=DENY");
    assert_eq!(show_stat(&lb.sock, "be", "s0", "status"), "no check");
}

#[test]
fn a_reload_moves_the_page_and_keeps_the_proxy() {
    let lb = Lb::start("stats uri /stats");
    let moved = free_port();
    let conf = std::fs::read_to_string(&lb.path).unwrap();
    let conf = conf.replace(
        &format!("bind 127.0.0.1:{}\n", lb.page),
        &format!("bind 127.0.0.1:{moved}\n"),
    );
    std::fs::write(&lb.path, conf.replace("stats uri /stats", "stats uri /s2")).unwrap();
    lb.l4.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(10), || lb
            .l4
            .log_text()
            .contains("reload: applied")),
        "{}",
        lb.l4.log_text()
    );
    assert!(wait_until(Duration::from_secs(5), || {
        std::net::TcpStream::connect(addr(moved)).is_ok()
    }));
    assert_eq!(get(moved, "/s2", "").0, 200);
    assert!(
        wait_until(Duration::from_secs(5), || std::net::TcpStream::connect(
            addr(lb.page)
        )
        .is_err()),
        "old bind closed"
    );
    let mut c = connect(lb.port);
    c.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    c.read_exact(&mut b).unwrap();
}

#[test]
fn bad_clients_get_errors_and_harm_nothing() {
    let lb = Lb::start("stats uri /stats\ntimeout http-request 300ms");
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /stats HTTP/9.9\r\n\r\n",
        b"GET /stats HTTP/1.1\r\nbad header\r\n\r\n",
    ] {
        assert_eq!(
            http(lb.page, bad).0,
            400,
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    let long = format!("GET /stats?{} HTTP/1.1\r\n\r\n", "a".repeat(16 * 1024));
    assert_eq!(http(lb.page, long.as_bytes()).0, 400, "oversized head");
    let big = "POST /stats HTTP/1.1\r\nContent-Length: 100000\r\n\r\n";
    assert_eq!(http(lb.page, big.as_bytes()).0, 413);
    let chunked = "POST /stats HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(http(lb.page, chunked.as_bytes()).0, 411);
    assert_eq!(http(lb.page, b"DELETE /stats HTTP/1.1\r\n\r\n").0, 405);
    // A slow client is closed once its time is up; meanwhile others are served.
    let mut slow = connect(lb.page);
    slow.write_all(b"GET /stats HTTP/1.1\r\n").unwrap();
    assert_eq!(get(lb.page, "/stats", "").0, 200);
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = String::new();
    let _ = slow.read_to_string(&mut rest);
    assert!(rest.starts_with("HTTP/1.1 408 "), "HAProxy's 408: {rest:?}");
    // One that sent nothing is closed without a word.
    let mut idle = connect(lb.page);
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut nothing = Vec::new();
    let _ = idle.read_to_end(&mut nothing);
    assert!(nothing.is_empty());
    let mut c = connect(lb.port);
    c.write_all(b"still\n").unwrap();
    let mut b = [0u8; 6];
    c.read_exact(&mut b).unwrap();
    assert_eq!(get(lb.page, "/stats", "").0, 200);
}

fn check(conf: &str) -> (bool, String) {
    let dir = TempDir::new("stats-page-check");
    let path = dir.0.join("l4lb.conf");
    std::fs::write(&path, conf).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_l4lb"))
        .args(["-f", path.to_str().unwrap(), "-c"])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn check_takes_admin_conditions_on_the_address_and_refuses_other_http_proxies() {
    let base =
        "frontend fe\n bind 127.0.0.1:1\n default_backend be\nbackend be\n server s 127.0.0.1:2\n";
    let page = format!("{base}listen stats\n mode http\n bind 127.0.0.1:3\n stats enable\n");
    let (ok, out) = check(&format!(
        "{page} acl ops src 192.0.2.0/24\n stats admin if ops || {{ src 10.0.0.0/8 }}\n"
    ));
    assert!(ok, "{out}");
    let (ok, out) = check(&format!("{page} stats admin if {{ req.len gt 0 }}\n"));
    assert!(!ok, "{out}");
    assert!(
        out.contains(":10: 'stats admin': the condition reads a TCP request's bytes"),
        "{out}"
    );
    let (ok, out) = check(&format!(
        "{base}listen web\n mode http\n bind 127.0.0.1:3\n server w 127.0.0.1:4\n"
    ));
    assert!(!ok, "{out}");
    assert!(
        out.contains(":7: 'mode': listen 'web': l4lb is a TCP (L4) balancer"),
        "{out}"
    );
    let (ok, out) = check(&format!(
        "{base}listen stats\n mode http\n bind 127.0.0.1:3\n stats enable\n stats admin if TRUE\n"
    ));
    assert!(ok, "{out}");
    assert!(
        out.contains(
            "stats page stats: bind 127.0.0.1:3, uri /haproxy?stats, auth none, admin if TRUE"
        ),
        "{out}"
    );
}

#[test]
fn a_binary_upgrade_takes_the_page_over() {
    let mut lb = Lb::start("stats uri /stats");
    let pid = lb.l4.pid().to_string();
    let path = lb.path.to_str().unwrap().to_string();
    let new = L4lb::spawn(&["-f", &path, "--upgrade-from", &pid], TempDir::new("new"));
    let status = lb
        .l4
        .wait_exit(Duration::from_secs(10))
        .expect("the old one exits");
    assert_eq!(status.code(), Some(0));
    let (code, _, body) = get(lb.page, "/stats", "");
    assert_eq!(code, 200);
    let shown = format!("data-info=\"Pid\">{}<", new.pid());
    assert!(body.contains(&shown), "served by the new process");
}

#[test]
fn stats_scope_limits_the_tables_the_csv_and_the_admin_form() {
    let lb = Lb::start("stats uri /stats\nstats scope be\nstats admin if TRUE");
    let page = parse_page(&get(lb.page, "/stats", "").2);
    assert_eq!(page.keys().collect::<Vec<_>>(), ["be"]);
    let csv = get(lb.page, "/stats;csv", "").2;
    assert!(csv.lines().skip(1).all(|l| l.starts_with("be,")), "{csv}");
    let form = "s=a0&action=maint&b=app";
    let (_, head, _) = post(lb.page, "/stats", form);
    assert_eq!(header(&head, "location"), Some("/stats;st=DENY"));
    assert_eq!(show_stat(&lb.sock, "app", "a0", "status"), "no check");
}
