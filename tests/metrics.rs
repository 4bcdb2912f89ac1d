//! The metrics endpoint (`stats http`): the Prometheus exposition parses
//! and counts what went through the proxy, `/stats` agrees with it, bad
//! requests get their status, and nothing a client does to the endpoint
//! holds up the proxy.

mod common;
#[path = "common/misc.rs"]
mod misc;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use misc::http;

/// l4lb over `servers` with `stats http` on its own port; returns
/// (proxy port, metrics port, l4lb).
fn start(servers: &[std::net::SocketAddr]) -> (u16, u16, L4lb) {
    let (port, mport) = (free_port(), free_port());
    let conf = conf(port, servers, "").replacen(
        "global\n",
        &format!("global\n    stats http 127.0.0.1:{mport}\n"),
        1,
    );
    (port, mport, L4lb::start(&conf))
}

/// `GET path` as a Prometheus scraper sends it.
fn get(port: u16, path: &str) -> (u16, String, String) {
    misc::get(port, path, "Accept: */*\r\n")
}

/// One sample: name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// A strict parser of the text format 0.0.4, as far as l4lb uses it:
/// panics on anything malformed. Every family has HELP and TYPE before
/// its samples, its samples are together, counters end in `_total`, no
/// series appears twice.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut help = HashSet::new();
    let mut types = HashMap::new();
    let mut finished = HashSet::new();
    let mut current = String::new();
    let mut series = HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, doc) = rest.split_once(' ').expect("HELP name text");
            assert!(valid_name(name), "HELP of a bad name: {line}");
            assert!(!doc.is_empty(), "empty HELP: {line}");
            assert!(help.insert(name.to_string()), "second HELP: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').expect("TYPE name type");
            assert!(help.contains(name), "TYPE before HELP: {line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&ty),
                "{line}"
            );
            if ty == "counter" {
                assert!(name.ends_with("_total"), "counter without _total: {line}");
            } else {
                assert!(!name.ends_with("_total"), "{ty} ending in _total: {line}");
            }
            assert!(types.insert(name.to_string(), ty).is_none(), "{line}");
            if !current.is_empty() {
                finished.insert(std::mem::take(&mut current));
            }
            current = name.to_string();
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line: {line:?}"
        );
        let s = parse_sample(line);
        assert!(s.name.starts_with("l4lb_"), "{line}");
        assert!(types.contains_key(&s.name), "sample without TYPE: {line}");
        assert_eq!(s.name, current, "sample outside its family: {line}");
        assert!(!finished.contains(&s.name), "family split: {line}");
        let key = format!("{}{:?}", s.name, s.labels);
        assert!(series.insert(key), "series twice: {line}");
        samples.push(s);
    }
    assert!(!samples.is_empty());
    samples
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_sample(line: &str) -> Sample {
    let end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("no value: {line}"));
    let name = &line[..end];
    assert!(valid_name(name), "bad metric name: {line}");
    let mut rest = &line[end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let close;
        loop {
            // label name
            let start = chars.peek().map(|&(i, _)| i).expect("label");
            let mut lname_end = start;
            while let Some(&(i, c)) = chars.peek() {
                if c == '=' {
                    lname_end = i;
                    break;
                }
                chars.next();
            }
            let lname = &inner[start..lname_end];
            assert!(
                valid_name(lname) && !lname.contains(':'),
                "bad label name {lname:?}: {line}"
            );
            chars.next(); // '='
            assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
            let mut value = String::new();
            loop {
                match chars.next().map(|(_, c)| c) {
                    Some('\\') => match chars.next().map(|(_, c)| c) {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => panic!("bad escape {other:?}: {line}"),
                    },
                    Some('"') => break,
                    Some('\n') | None => panic!("unterminated label value: {line}"),
                    Some(c) => value.push(c),
                }
            }
            labels.push((lname.to_string(), value));
            match chars.next() {
                Some((_, ',')) => continue,
                Some((i, '}')) => {
                    close = i;
                    break;
                }
                other => panic!("bad label list at {other:?}: {line}"),
            }
        }
        rest = &inner[close + 1..];
    }
    let value = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("no space before the value: {line}"));
    let value: f64 = value
        .parse()
        .unwrap_or_else(|_| panic!("bad value {value:?}: {line}"));
    Sample {
        name: name.to_string(),
        labels,
        value,
    }
}

/// The value of `name` with exactly these labels.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
        })
        .map(|s| s.value)
}

fn scrape(mport: u16) -> Vec<Sample> {
    let (code, head, body) = get(mport, "/metrics");
    assert_eq!(code, 200, "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    parse_exposition(&body)
}

/// `n` connections through the proxy, each sending `len` bytes and
/// reading them back from the echo server.
fn echo_connections(port: u16, n: usize, len: usize) {
    for i in 0..n {
        let mut c = connect(port);
        let sent = send_pattern(&mut c, i as u64, len).unwrap();
        shutdown_write(&c);
        let (got, hash) = recv_all(&mut c).unwrap();
        assert_eq!((got, hash), (len, sent));
    }
}

#[test]
fn metrics_parse_and_count_what_went_through() {
    let backend = Backend::echo();
    let (port, mport, l4) = start(&[backend.addr()]);
    let (conns, len) = (5, 3000);
    echo_connections(port, conns, len);
    let srv = [("backend", "be"), ("server", "s0")];
    let total = (conns * len) as f64;
    let mut samples = Vec::new();
    // Bytes are counted as sessions end, a moment after the client's EOF.
    let settled = wait_until(Duration::from_secs(10), || {
        samples = scrape(mport);
        value(&samples, "l4lb_server_bytes_out_total", &srv) == Some(total)
            && value(&samples, "l4lb_process_current_connections", &[]) == Some(0.0)
    });
    assert!(settled, "{samples:#?}");
    let v = |name: &str, labels: &[(&str, &str)]| {
        value(&samples, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?}"))
    };
    let n = conns as f64;
    assert_eq!(v("l4lb_server_connections_total", &srv), n);
    assert_eq!(v("l4lb_server_bytes_in_total", &srv), total);
    assert_eq!(v("l4lb_server_current_connections", &srv), 0.0);
    // One connection at a time, but the next may start a moment before
    // l4lb has closed the last one's server side.
    assert!((1.0..=2.0).contains(&v("l4lb_server_max_connections", &srv)));
    assert_eq!(v("l4lb_server_connection_errors_total", &srv), 0.0);
    assert_eq!(v("l4lb_server_up", &srv), 1.0);
    assert_eq!(v("l4lb_server_weight", &srv), 1.0);
    assert_eq!(v("l4lb_server_throttle_ratio", &srv), 1.0);
    let state = |s| [srv[0], srv[1], ("state", s)];
    assert_eq!(v("l4lb_server_admin_state", &state("ready")), 1.0);
    assert_eq!(v("l4lb_server_admin_state", &state("drain")), 0.0);
    assert_eq!(v("l4lb_server_admin_state", &state("maint")), 0.0);
    let be = [("backend", "be")];
    assert_eq!(v("l4lb_backend_connections_total", &be), n);
    assert_eq!(v("l4lb_backend_bytes_out_total", &be), total);
    assert_eq!(v("l4lb_backend_up", &be), 1.0);
    let fe = [("frontend", "fe")];
    // Regression: a worker reserves a place before accept, and used to
    // count it even when accept found nothing (frontend totals doubled).
    assert_eq!(v("l4lb_frontend_connections_total", &fe), n);
    assert!((1.0..=2.0).contains(&v("l4lb_frontend_max_connections", &fe)));
    assert_eq!(v("l4lb_frontend_bytes_in_total", &fe), total);
    assert_eq!(v("l4lb_frontend_bytes_out_total", &fe), total);
    assert_eq!(v("l4lb_frontend_rejected_connections_total", &fe), 0.0);
    assert_eq!(v("l4lb_frontend_limit_connections", &fe), 2000.0);
    assert_eq!(v("l4lb_process_connections_total", &[]), n);
    assert_eq!(v("l4lb_process_limit_connections", &[]), 2000.0);
    let accepted: f64 = samples
        .iter()
        .filter(|s| s.name == "l4lb_worker_accepted_connections_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(accepted, n, "per-worker accepts add up");
    for w in ["0", "1"] {
        assert!(value(&samples, "l4lb_worker_pipes_in_use", &[("worker", w)]).is_some());
    }
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(v("l4lb_build_info", &[("version", version)]), 1.0);
    assert!(v("l4lb_process_uptime_seconds", &[]) >= 0.0);
    assert!(v("l4lb_process_start_time_seconds", &[]) > 1.6e9);
    for name in [
        "l4lb_log_dropped_total",
        "l4lb_reloads_total",
        "l4lb_reload_failures_total",
        "l4lb_process_pipes_in_use",
        "l4lb_process_pipes_lent_total",
    ] {
        assert_eq!(v(name, &[]), 0.0, "{name}");
    }
    drop(l4);
}

#[test]
fn check_status_and_connect_failures_show_for_a_dead_server() {
    let dead = addr(free_port());
    let (port, port2, mport) = (free_port(), free_port(), free_port());
    let conf = format!(
        "global\n  stats http 127.0.0.1:{mport}\ndefaults\n  mode tcp\n  timeout connect 1s\n  \
         timeout client 10s\n  timeout server 10s\n  retries 1\nfrontend fe\n  bind 127.0.0.1:{port}\n  \
         default_backend be\nbackend be\n  server dead {dead} check inter 200ms fall 1\n  \
         server \"odd\\\"name\" {dead}\nfrontend fe2\n  bind 127.0.0.1:{port2}\n  \
         default_backend be2\nbackend be2\n  server off {dead} disabled\n"
    );
    let _l4 = L4lb::start(&conf);
    let srv = [("backend", "be"), ("server", "dead")];
    let mut samples = Vec::new();
    let down = wait_until(Duration::from_secs(10), || {
        samples = scrape(mport);
        value(&samples, "l4lb_server_up", &srv) == Some(0.0)
    });
    assert!(down, "{samples:#?}");
    let status = |s| [srv[0], srv[1], ("status", s)];
    assert_eq!(
        value(&samples, "l4lb_server_check_status", &status("L4CON")),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "l4lb_server_check_status", &status("L4OK")),
        Some(0.0)
    );
    assert!(value(&samples, "l4lb_server_check_failures_total", &srv).unwrap() >= 1.0);
    assert_eq!(
        value(&samples, "l4lb_server_check_downs_total", &srv),
        Some(1.0)
    );
    assert!(value(&samples, "l4lb_server_check_duration_seconds", &srv).is_some());
    // A label value with a quote is escaped (the parser checked it), and
    // comes back intact.
    let odd = [("backend", "be"), ("server", "odd\"name")];
    assert_eq!(value(&samples, "l4lb_server_up", &odd), Some(1.0));
    assert_eq!(
        value(&samples, "l4lb_server_check_failures_total", &odd),
        None,
        "no check, no check metrics"
    );
    // The only server left refuses: a connect failure. In be2, no server
    // is in service: the client is closed without one (rejected).
    for p in [port, port2] {
        // The reset may come before connect returns.
        if let Ok(mut c) = TcpStream::connect(addr(p)) {
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = [0u8; 1];
            assert!(matches!(c.read(&mut buf), Ok(0) | Err(_)));
        }
    }
    let counted = wait_until(Duration::from_secs(10), || {
        samples = scrape(mport);
        value(&samples, "l4lb_server_connection_errors_total", &odd) >= Some(1.0)
            && value(
                &samples,
                "l4lb_frontend_rejected_connections_total",
                &[("frontend", "fe2")],
            ) == Some(1.0)
    });
    assert!(counted, "{samples:#?}");
}

#[test]
fn stats_json_has_the_show_stat_numbers() {
    let backend = Backend::echo();
    let (port, mport, _l4) = start(&[backend.addr(), backend.addr()]);
    echo_connections(port, 4, 1000);
    let mut rows = Vec::new();
    let settled = wait_until(Duration::from_secs(10), || {
        let (code, head, body) = get(mport, "/stats");
        assert_eq!(code, 200, "{head}");
        assert!(head.contains("Content-Type: application/json"), "{head}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        rows = json.as_array().expect("an array").clone();
        rows.iter()
            .any(|r| r["svname"] == "BACKEND" && r["bout"] == 4000 && r["scur"] == 0)
    });
    assert!(settled, "{rows:#?}");
    let row = |sv: &str| rows.iter().find(|r| r["svname"] == sv).unwrap().clone();
    // Each worker keeps its own round robin: the split between the two
    // servers varies, the sums do not.
    let mut stot = 0;
    for s in ["s0", "s1"] {
        let r = row(s);
        assert_eq!(r["pxname"], "be");
        let n = r["stot"].as_u64().expect("stot is a number");
        assert_eq!(r["bin"].as_u64(), Some(n * 1000), "{r}");
        assert_eq!(r["bout"].as_u64(), Some(n * 1000), "{r}");
        assert_eq!(r["status"], "no check");
        assert_eq!(r["type"], 2);
        assert!(r.get("check_status").is_none(), "empty fields are omitted");
        stot += n;
    }
    assert_eq!(stot, 4);
    let fe = row("FRONTEND");
    assert_eq!(
        (fe["stot"].clone(), fe["slim"].clone()),
        (4.into(), 2000.into())
    );
    assert_eq!(row("BACKEND")["stot"], 4);
    // The same numbers as the metrics.
    let samples = scrape(mport);
    let srv = [("backend", "be"), ("server", "s0")];
    assert_eq!(
        value(&samples, "l4lb_server_connections_total", &srv),
        row("s0")["stot"].as_f64()
    );
}

#[test]
fn bad_requests_get_404_405_and_400() {
    let backend = Backend::echo();
    let (_port, mport, _l4) = start(&[backend.addr()]);
    let (code, head, _) = get(mport, "/nope");
    assert_eq!(code, 404, "{head}");
    assert!(head.contains("Connection: close"), "{head}");
    let (code, head, _) = http(
        mport,
        b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(code, 405, "{head}");
    assert!(head.contains("Allow: GET, HEAD"), "{head}");
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /metrics HTTP/2.0\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
    ] {
        let (code, head, _) = http(mport, bad);
        assert_eq!(code, 400, "{}: {head}", String::from_utf8_lossy(bad));
    }
    // HTTP/1.0, a query string, bare LFs: still served.
    let (code, _, body) = http(mport, b"GET /metrics?x=1 HTTP/1.0\n\n");
    assert_eq!(code, 200);
    parse_exposition(&body);
    let (code, head, body) = http(mport, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(code, 200, "{head}");
    assert!(body.is_empty(), "HEAD has no body");
    // A client that stops before the end of its head is answered too.
    let mut s = connect(mport);
    s.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
    shutdown_write(&s);
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[test]
fn oversized_and_idle_requests_do_not_hurt_the_proxy() {
    let backend = Backend::echo();
    let (port, mport, _l4) = start(&[backend.addr()]);
    // Over the head limit, within what l4lb reads before closing: a 400.
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(16 * 1024));
    let (code, head, _) = http(mport, long.as_bytes());
    assert_eq!(code, 400, "{head}");
    // Much more, with no line end: l4lb answers and closes, the client may
    // see its writes fail; what matters is that both services go on.
    let flood = std::thread::spawn(move || {
        let mut s = connect(mport);
        let junk = vec![b'x'; 64 * 1024];
        for _ in 0..64 {
            if s.write_all(&junk).is_err() {
                return;
            }
        }
    });
    // Connections that send nothing, and one that never reads its answer,
    // hold nothing up: the supervisor never waits on a client.
    let idle: Vec<TcpStream> = (0..5).map(|_| connect(mport)).collect();
    let mut unread = connect(mport);
    unread.write_all(b"GET /stats HTTP/1.1\r\n\r\n").unwrap();
    flood.join().unwrap();
    echo_connections(port, 2, 100_000);
    let samples = scrape(mport);
    assert_eq!(
        value(
            &samples,
            "l4lb_frontend_connections_total",
            &[("frontend", "fe")]
        ),
        Some(2.0)
    );
    // Idle connections are closed after a few seconds.
    for mut s in idle {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = [0u8; 16];
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("an idle connection was not closed: {other:?}"),
        }
    }
    drop(unread);
}
