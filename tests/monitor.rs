//! Monitor sections (a `mode http` frontend or listen with a `monitor-uri`
//! and nothing to forward to, as kubespray's `frontend healthz`): the URI
//! answered, every other request HAProxy's 503, `monitor fail`; and a conf
//! whose only listeners are a stats page and a monitor.

mod common;
#[path = "common/misc.rs"]
mod misc;

use std::path::PathBuf;

use common::*;
use misc::{get, http};

/// A TCP proxy to an echo server on `port`, and frontend `healthz` on
/// `monitor` with `lines`.
fn text(port: u16, server: std::net::SocketAddr, monitor: u16, lines: &str) -> String {
    format!(
        "defaults\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         listen app\n    bind 127.0.0.1:{port}\n    server s {server}\n\
         frontend healthz\n    bind 127.0.0.1:{monitor}\n    mode http\n{lines}"
    )
}

/// l4lb on the conf `text`, in a file the test may rewrite.
fn start(text: &str) -> (L4lb, PathBuf) {
    let dir = TempDir::new("monitor");
    let path = dir.0.join("haproxy.cfg");
    std::fs::write(&path, text).unwrap();
    let l4 = L4lb::spawn(&["-f", path.to_str().unwrap()], dir);
    (l4, path)
}

/// Kubespray's `frontend healthz` (mode http, a bind, `monitor-uri`, no
/// server): the monitor URI answers 200, anything else HAProxy's 503, and
/// there is no stats page. `monitor fail if TRUE`, reloaded in, turns the
/// monitor to 503 (an operator's switch), and back; the TCP proxy beside
/// it carries on.
#[test]
fn a_monitor_uri_section_answers_the_uri_and_503s_the_rest() {
    let echo = Backend::echo();
    let (port, monitor) = (free_port(), free_port());
    let conf = |lines: &str| text(port, echo.addr(), monitor, lines);
    let (l4, path) = start(&conf("    monitor-uri /healthz\n"));
    assert!(
        l4.log_text()
            .contains(&format!("monitor healthz on 127.0.0.1:{monitor}"))
    );
    let (code, _, body) = get(monitor, "/healthz", "");
    assert_eq!(code, 200);
    assert!(body.contains("Service ready."), "{body}");
    let (code, head, body) = http(monitor, b"HEAD /healthz HTTP/1.0\r\n\r\n");
    assert_eq!((code, body.as_str()), (200, ""), "{head}");
    for other in ["/", "/haproxy?stats", "/healthz/x", "/stats"] {
        let (code, _, body) = get(monitor, other, "");
        assert_eq!(code, 503, "{other}");
        assert!(body.contains("No server is available"), "{other}: {body}");
    }
    l4.reload_with(
        &path,
        &conf("    monitor-uri /healthz\n    monitor fail if TRUE\n"),
    );
    assert_eq!(get(monitor, "/healthz", "").0, 503, "monitor fail if TRUE");
    l4.reload_with(
        &path,
        &conf("    monitor-uri /healthz\n    monitor fail if FALSE\n"),
    );
    assert_eq!(get(monitor, "/healthz", "").0, 200);
    let mut c = connect(port);
    std::io::Write::write_all(&mut c, b"hi\n").unwrap();
    assert_eq!(read_line(&mut c).unwrap(), "hi");
}

/// A conf whose only sections are a stats page and a monitor starts (as
/// HAProxy does), serves both, reloads, and stops cleanly. The regression
/// this pins: it was refused with "no frontend or listen section".
#[test]
fn a_conf_of_only_a_stats_page_and_a_monitor_serves_them() {
    let (page, monitor) = (free_port(), free_port());
    let conf = format!(
        "defaults\n    timeout client 10s\nlisten stats\n    mode http\n    bind 127.0.0.1:{page}\n    \
         stats uri /stats\nfrontend healthz\n    mode http\n    bind 127.0.0.1:{monitor}\n    \
         monitor-uri /healthz\n"
    );
    let (l4, path) = start(&conf);
    let (code, _, body) = get(page, "/stats;csv", "");
    assert_eq!(code, 200);
    assert!(body.starts_with("# pxname,svname,"), "{body}");
    assert_eq!(get(monitor, "/healthz", "").0, 200);
    assert_eq!(get(monitor, "/stats", "").0, 503);
    l4.reload_with(&path, &conf);
    assert_eq!(get(page, "/stats", "").0, 200);
    assert!(l4.stop().success());
}
