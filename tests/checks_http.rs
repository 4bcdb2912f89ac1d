//! HTTP health checks in TCP mode (`option httpchk`, `http-check send`,
//! `http-check expect`, `http-check disable-on-404`, `option
//! log-health-checks`) against fake HTTP servers and a Patroni-like REST
//! API: the status and check status HAProxy 2.6 shows for every kind of
//! answer, the request bytes it sends, and traffic that follows the checks
//! (a Patroni primary switch moves the clients).

mod common;

use std::time::Duration;

use common::fakes::*;
use common::{Backend, round_trip, wait_until};

const CLOSED: &[&str] = &["SOCKERR", "L7RSP"];

#[test]
fn httpchk_get_passes_on_2xx_and_fails_on_every_bad_answer() {
    let cases = six(
        || Fake::http(HttpReply::new(200, "ok\n")),
        [
            shows("UP", &["L7OK"], ""),
            shows("DOWN", &["L7STS"], ""),
            shows("DOWN", &["L7TOUT"], ""),
            shows("DOWN", CLOSED, ""),
            shows("DOWN", &["L7RSP"], ""),
            shows("DOWN", &["L7RSP"], ""),
        ],
    );
    let c = assert_cases("h", "option httpchk GET /health", &cases);
    assert_eq!(
        c.row("h_right", "s").check_code,
        "200",
        "check_code: the status"
    );
    assert_eq!(c.row("h_wrong", "s").check_code, "503");
    let req = cases[0].1.last_request().unwrap();
    assert_eq!(
        req, b"GET /health HTTP/1.0\r\n\r\n",
        "HAProxy's request, as is"
    );
}

#[test]
fn http_check_expect_string_reads_the_body_in_any_framing() {
    let mut cases = Vec::new();
    for (name, framing) in [
        ("length", Framing::ContentLength),
        ("chunked", Framing::Chunked),
        ("close", Framing::Close),
    ] {
        let reply = |body: &str| HttpReply::new(200, body).framed(framing);
        cases.push((
            format!("{name}_ok"),
            Fake::http(reply("state running\n")),
            shows("UP", &["L7OK"], ""),
        ));
        cases.push((
            format!("{name}_no"),
            Fake::http(reply("state stopped\n")),
            shows("DOWN", &["L7RSP"], ""),
        ));
        let cut = Fake::http(reply("state running, all is well\n"));
        cut.set_mode(Mode::CloseMid);
        cases.push((format!("{name}_cut"), cut, shows("DOWN", &["L7RSP"], "")));
    }
    let _c = assert_cases(
        "s",
        "option httpchk GET /health\nhttp-check expect string running",
        &cases,
    );
}

/// One listen per (name, check lines, reply), each with one server `s`.
fn start_each(cases: &[(&str, &str, &Fake<HttpReply>)]) -> Checked {
    let sections: String = cases
        .iter()
        .map(|(name, lines, fake)| listen(name, lines, &[("s", fake.addr(), "")]).1)
        .collect();
    Checked::start(&sections)
}

#[test]
fn http_check_expect_status_rstatus_and_negated_string() {
    let f = |status, body| Fake::http(HttpReply::new(status, body));
    let (no_content, moved, missing, broken, found, error) = (
        f(204, ""),
        f(301, ""),
        f(404, ""),
        f(500, ""),
        f(302, ""),
        f(200, "an error here"),
    );
    let primary = f(200, "{\"state\": \"running\", \"role\": \"primary\"}");
    let c = start_each(&[
        (
            "only200",
            "option httpchk\nhttp-check expect status 200",
            &no_content,
        ),
        ("moved", "option httpchk", &moved),
        ("missing", "option httpchk", &missing),
        ("broken", "option httpchk", &broken),
        (
            "r2xx",
            "option httpchk\nhttp-check expect rstatus ^2",
            &found,
        ),
        (
            "noerror",
            "option httpchk\nhttp-check expect ! string error",
            &error,
        ),
        (
            "rstring",
            "option httpchk\nhttp-check expect rstring '\"role\": \"primary\"'",
            &primary,
        ),
    ]);
    c.wait_for("only200", "s", "DOWN", &["L7STS"]);
    // Without an expect rule, 2xx and 3xx pass.
    c.wait_for("moved", "s", "UP", &["L7OK"]);
    c.wait_for("missing", "s", "DOWN", &["L7STS"]);
    c.wait_for("broken", "s", "DOWN", &["L7STS"]);
    c.wait_for("r2xx", "s", "DOWN", &["L7STS"]);
    c.wait_for("noerror", "s", "DOWN", &["L7RSP"]);
    c.wait_for("rstring", "s", "UP", &["L7OK"]);
    assert_eq!(
        moved.last_request().unwrap(),
        b"OPTIONS / HTTP/1.0\r\n\r\n",
        "the default request"
    );
}

#[test]
fn http_check_send_builds_the_request() {
    let fake = Fake::http(HttpReply::new(200, ""));
    let lines = "option httpchk\n\
                 http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host example.test hdr X-Fake yes body hello";
    let c = start_each(&[("send", lines, &fake)]);
    c.wait_for("send", "s", "UP", &["L7OK"]);
    let req = String::from_utf8(fake.last_request().unwrap()).unwrap();
    let (head, body) = req.split_once("\r\n\r\n").expect("a request head");
    let mut lines = head.split("\r\n");
    assert_eq!(lines.next(), Some("GET /readyz HTTP/1.1"));
    // Header names are case-blind; HAProxy sends them in lower case, in
    // this order, and adds the length and, in HTTP/1.1, the close.
    let headers: Vec<String> = lines.map(str::to_ascii_lowercase).collect();
    assert_eq!(
        headers,
        [
            "host: example.test",
            "x-fake: yes",
            "content-length: 5",
            "connection: close"
        ],
        "{req:?}"
    );
    assert_eq!(body, "hello");
}

#[test]
fn disable_on_404_drains_instead_of_failing() {
    let gone = Fake::http(HttpReply::new(404, ""));
    let sick = Fake::http(HttpReply::new(503, ""));
    let fine = Fake::http(HttpReply::new(200, ""));
    let lines = "balance roundrobin\noption httpchk GET /x\nhttp-check disable-on-404";
    let (port, s) = listen(
        "d",
        lines,
        &[
            ("gone", gone.addr(), ""),
            ("sick", sick.addr(), ""),
            ("fine", fine.addr(), ""),
        ],
    );
    let c = Checked::start(&s);
    // A 404 passes conditionally: up, but no new connections (NOLB).
    c.wait_for("d", "gone", "NOLB", &["L7OKC"]);
    c.wait_for("d", "sick", "DOWN", &["L7STS"]);
    c.wait_for("d", "fine", "UP", &["L7OK"]);
    for i in 0..6 {
        through(port, &format!("client-{i}"));
    }
    assert!(
        (0..6).all(|i| fine.got(&format!("client-{i}"))),
        "every client reached fine"
    );
    assert!(
        !gone.got("client-") && !sick.got("client-"),
        "none reached the others"
    );
    gone.set(HttpReply::new(200, ""));
    c.wait_for("d", "gone", "UP", &["L7OK"]);
}

#[test]
fn patroni_primary_takes_the_traffic_and_a_switch_moves_it() {
    let (api1, api2) = (Fake::patroni(Role::Primary), Fake::patroni(Role::Replica));
    let (pg1, pg2) = (Backend::named("pg1"), Backend::named("pg2"));
    // Patroni's own example: traffic to PostgreSQL, checks to the REST API.
    let lines = "option httpchk OPTIONS /primary\nhttp-check expect status 200\ndefault-server on-marked-down shutdown-sessions";
    let (port, s) = listen(
        "pg",
        lines,
        &[
            ("pg1", pg1.addr(), &format!("port {}", api1.port)),
            ("pg2", pg2.addr(), &format!("port {}", api2.port)),
        ],
    );
    let c = Checked::start(&s);
    c.wait_for("pg", "pg1", "UP", &["L7OK"]);
    c.wait_for("pg", "pg2", "DOWN", &["L7STS"]);
    for _ in 0..4 {
        assert_eq!(round_trip(port), "pg1");
    }
    assert_eq!(
        request_line(&api1.last_request().unwrap()),
        "OPTIONS /primary HTTP/1.0"
    );
    api1.set(Role::Replica);
    api2.set(Role::Primary);
    // rise 1 x inter 200 ms: within a few checks.
    assert!(
        wait_until(Duration::from_secs(5), || name_through(port).as_deref()
            == Some("pg2")),
        "traffic follows the new primary:\n{}",
        c.log_text()
    );
    c.wait_for("pg", "pg1", "DOWN", &["L7STS"]);
    for _ in 0..4 {
        assert_eq!(round_trip(port), "pg2");
    }
}

/// The name a `Backend::named` server says through the proxy, if one
/// answers (none while every server is DOWN).
fn name_through(port: u16) -> Option<String> {
    // With no server, the proxy may reset the client even before its
    // connect returns.
    let mut c =
        std::net::TcpStream::connect_timeout(&common::addr(port), Duration::from_secs(2)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    common::read_line(&mut c).ok()
}

/// Waits (5 s) for a log line with every one of `parts`.
fn wait_log_line(c: &Checked, parts: &[&str]) -> String {
    let mut found = None;
    wait_until(Duration::from_secs(5), || {
        found = c
            .log_text()
            .lines()
            .find(|l| parts.iter().all(|p| l.contains(p)))
            .map(str::to_string);
        found.is_some()
    });
    found.unwrap_or_else(|| panic!("no log line with {parts:?}:\n{}", c.log_text()))
}

#[test]
fn log_health_checks_logs_each_check_result_change() {
    let fake = Fake::http(HttpReply::new(200, ""));
    let s = format!(
        "listen lhc\n    bind 127.0.0.1:{}\n    option httpchk GET /health\n    option log-health-checks\n    \
         server s {} check inter 200ms rise 2 fall 3\n",
        common::free_port(),
        fake.addr()
    );
    let c = Checked::start(&s);
    c.wait_for("lhc", "s", "UP", &["L7OK"]);
    fake.set_mode(Mode::Wrong);
    // The first failure is logged although the server stays UP (fall 3).
    let first = wait_log_line(&c, &["Health check for server lhc/s failed", "UP"]);
    assert!(
        first.contains("Layer7 wrong status") || first.contains("L7STS"),
        "{first}"
    );
    c.wait_for("lhc", "s", "DOWN", &["L7STS"]);
    fake.set_mode(Mode::Right);
    wait_log_line(&c, &["Health check for server lhc/s succeeded"]);
    c.wait_for("lhc", "s", "UP", &["L7OK"]);
}

/// HAProxy logs every check whose result differs from the last one, the
/// one that flips the state included ("status: 0/1 DOWN"), with its
/// status text and the server's words ("Layer7 wrong status, code: 503,
/// info: \"Service Unavailable\"").
#[test]
fn log_health_checks_logs_the_result_that_flips_the_state_as_haproxy() {
    let fake = Fake::http(HttpReply::new(200, ""));
    let lines = "option httpchk GET /health\noption log-health-checks";
    let (_, s) = listen("flip", lines, &[("s", fake.addr(), "")]);
    let c = Checked::start(&s);
    c.wait_for("flip", "s", "UP", &["L7OK"]);
    fake.set_mode(Mode::Wrong);
    c.wait_for("flip", "s", "DOWN", &["L7STS"]);
    let line = wait_log_line(
        &c,
        &["Health check for server flip/s failed", "status: 0/1 DOWN"],
    );
    assert!(
        line.contains("reason: Layer7 wrong status, code: 503"),
        "{line}"
    );
    assert!(line.contains("info: \"Service Unavailable\""), "{line}");
}
