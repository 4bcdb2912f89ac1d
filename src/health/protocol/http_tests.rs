//! The HTTP check's request bytes and expect judges.

use super::super::testing::{never_panics, run, sends};
use super::*;
use crate::config::Pattern;

fn req(method: &str, uri: &str, version: &str) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        uri: uri.into(),
        version: version.into(),
        ..HttpRequest::default()
    }
}

fn expect(inverse: bool, what: HttpMatch) -> HttpExpect {
    HttpExpect { inverse, what }
}

fn check(rules: Vec<HttpRule>) -> HttpCheck {
    HttpCheck {
        rules,
        disable_on_404: false,
    }
}

fn judge(e: HttpExpect) -> Expect {
    Expect::new(e, false, &check(Vec::new()))
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"role\":\"master\"}";
const UNAVAILABLE: &[u8] =
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 18\r\n\r\n{\"role\":\"replica\"}";

#[test]
fn the_default_request_is_haproxys() {
    assert_eq!(
        request(&HttpRequest::default()),
        b"OPTIONS / HTTP/1.0\r\n\r\n"
    );
}

#[test]
fn http_11_says_close_and_names_its_headers_in_lower_case() {
    let mut r = req("GET", "/readyz", "HTTP/1.1");
    r.headers = vec![
        ("Host".into(), "api.example:6443".into()),
        ("User-Agent".into(), "l4lb".into()),
        ("X-Empty".into(), String::new()),
    ];
    let want = "GET /readyz HTTP/1.1\r\nhost: api.example:6443\r\nuser-agent: l4lb\r\nconnection: close\r\n\r\n";
    assert_eq!(String::from_utf8(request(&r)).unwrap(), want);
}

#[test]
fn a_body_or_a_post_gets_a_content_length() {
    let mut r = req("POST", "/check", "HTTP/1.1");
    assert_eq!(
        String::from_utf8(request(&r)).unwrap(),
        "POST /check HTTP/1.1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    r.body = b"{\"q\":1}".to_vec();
    r.method = "GET".into();
    r.version = "HTTP/1.0".into();
    assert_eq!(
        String::from_utf8(request(&r)).unwrap(),
        "GET /check HTTP/1.0\r\ncontent-length: 7\r\n\r\n{\"q\":1}"
    );
}

#[test]
fn a_connection_header_sets_the_mode() {
    let mut r = req("GET", "/", "HTTP/1.1");
    r.headers = vec![("Connection".into(), "keep-alive".into())];
    assert_eq!(request(&r), b"GET / HTTP/1.1\r\n\r\n");
    r.version = "HTTP/1.0".into();
    assert_eq!(
        request(&r),
        b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n"
    );
    r.headers = vec![("Connection".into(), "close, upgrade".into())];
    r.version = "HTTP/2".into();
    assert_eq!(
        request(&r),
        b"GET / HTTP/1.1\r\nconnection: upgrade\r\nconnection: close\r\n\r\n"
    );
}

#[test]
fn versions_from_11_up_are_written_11() {
    assert!(at_least_11("HTTP/1.1") && at_least_11("HTTP/2") && at_least_11("HTTP/2.0"));
    assert!(!at_least_11("HTTP/1.0") && !at_least_11("HTTP/0.9") && !at_least_11("foo"));
}

#[test]
fn steps_connect_send_and_the_implicit_expect() {
    let c = check(vec![HttpRule::Send(req("GET", "/health", "HTTP/1.0"))]);
    let mut s = Vec::new();
    steps(&c, &mut s);
    assert!(matches!(s[0], Step::Connect(_)));
    assert_eq!(sends(&s), [&b"GET /health HTTP/1.0\r\n\r\n"[..]]);
    // 2xx and 3xx pass, others are L7STS with the status.
    assert!(matches!(run(&s, &[b"", OK]), Verdict::Pass(CheckStatus::L7Ok, t) if t == "200 OK"));
    let moved = b"HTTP/1.1 301 Moved Permanently\r\nLocation: /x\r\n\r\n";
    assert!(matches!(
        run(&s, &[b"", moved]),
        Verdict::Pass(CheckStatus::L7Ok, _)
    ));
    let v = run(&s, &[b"", UNAVAILABLE]);
    assert_eq!(
        v,
        Verdict::Fail(CheckStatus::L7Sts, "503 Service Unavailable".into())
    );
}

#[test]
fn status_lists_ranges_and_regexes() {
    let e = judge(expect(
        false,
        HttpMatch::Status(vec![(200, 200), (204, 206)]),
    ));
    assert!(matches!(e.judge(OK, false), Verdict::Pass(..)));
    let r = b"HTTP/1.1 205 Reset Content\r\n\r\n";
    assert!(matches!(e.judge(r, false), Verdict::Pass(..)));
    assert!(matches!(
        e.judge(UNAVAILABLE, false),
        Verdict::Fail(CheckStatus::L7Sts, _)
    ));
    let e = judge(expect(true, HttpMatch::Status(vec![(500, 599)])));
    assert!(matches!(
        e.judge(UNAVAILABLE, false),
        Verdict::Fail(CheckStatus::L7Sts, _)
    ));
    assert!(matches!(e.judge(OK, false), Verdict::Pass(..)));
    let e = judge(expect(
        false,
        HttpMatch::RStatus(Pattern::new("^2").unwrap()),
    ));
    assert!(matches!(e.judge(OK, false), Verdict::Pass(..)));
    assert!(matches!(
        e.judge(UNAVAILABLE, false),
        Verdict::Fail(CheckStatus::L7Sts, _)
    ));
}

#[test]
fn a_status_is_judged_once_the_headers_are_in() {
    let e = judge(expect(false, HttpMatch::Status(vec![(200, 200)])));
    assert_eq!(
        e.judge(b"HTTP/1.1 200 OK\r\nServer: x\r\n", false),
        Verdict::More
    );
    assert!(matches!(
        e.judge(b"HTTP/1.1 200 OK\r\n\r\n{", false),
        Verdict::Pass(..)
    ));
    let v = e.judge(b"HTTP/1.1 200 OK\r\nSer", true);
    assert_eq!(
        v,
        Verdict::Fail(CheckStatus::L7Rsp, "truncated HTTP response".into())
    );
    let v = e.judge(b"", true);
    assert_eq!(
        v,
        Verdict::Fail(CheckStatus::L7Rsp, "empty response".into())
    );
}

#[test]
fn strings_and_regexes_in_the_body() {
    let master = judge(expect(
        false,
        HttpMatch::String(b"\"role\":\"master\"".to_vec()),
    ));
    assert!(matches!(
        master.judge(OK, false),
        Verdict::Pass(CheckStatus::L7Ok, _)
    ));
    let v = master.judge(UNAVAILABLE, false);
    assert_eq!(
        v,
        Verdict::Fail(
            CheckStatus::L7Rsp,
            "HTTP content check did not match".into()
        )
    );
    // Partial body: wait; a close decides on what came.
    assert_eq!(master.judge(&OK[..OK.len() - 4], false), Verdict::More);
    assert!(matches!(
        master.judge(&OK[..OK.len() - 4], true),
        Verdict::Fail(CheckStatus::L7Rsp, _)
    ));
    let not = judge(expect(
        true,
        HttpMatch::RString(Pattern::new("replica|standby").unwrap()),
    ));
    assert!(matches!(not.judge(OK, false), Verdict::Pass(..)));
    let v = not.judge(UNAVAILABLE, false);
    assert_eq!(
        v,
        Verdict::Fail(
            CheckStatus::L7Rsp,
            "HTTP check matched unwanted content".into()
        )
    );
    // No body at all.
    let v = master.judge(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false);
    let want = "HTTP content check could not find a response body";
    assert_eq!(v, Verdict::Fail(CheckStatus::L7Rsp, want.into()));
}

#[test]
fn a_body_until_close_and_a_chunked_one() {
    let e = judge(expect(false, HttpMatch::String(b"synced".to_vec())));
    let close = b"HTTP/1.0 200 OK\r\n\r\nGalera node is sync";
    assert_eq!(e.judge(close, false), Verdict::More);
    assert!(matches!(
        e.judge(close, true),
        Verdict::Fail(CheckStatus::L7Rsp, _)
    ));
    let done = b"HTTP/1.0 200 OK\r\n\r\nGalera cluster node is synced.\r\n";
    assert!(matches!(e.judge(done, false), Verdict::Pass(..)));
    let chunked =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nsyn\r\n3\r\nced\r\n0\r\n\r\n";
    assert!(matches!(e.judge(chunked, false), Verdict::Pass(..)));
}

#[test]
fn several_expects_judge_one_response() {
    let c = check(vec![
        HttpRule::Send(req("GET", "/primary", "HTTP/1.1")),
        HttpRule::Expect(expect(false, HttpMatch::Status(vec![(200, 200)]))),
        HttpRule::Expect(expect(false, HttpMatch::String(b"master".to_vec()))),
    ]);
    let mut s = Vec::new();
    steps(&c, &mut s);
    assert_eq!(s.len(), 4, "no implicit expect after an expect");
    assert!(matches!(
        run(&s, &[b"", OK]),
        Verdict::Pass(CheckStatus::L7Ok, _)
    ));
    let replica = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nreplica";
    assert!(matches!(
        run(&s, &[b"", replica]),
        Verdict::Fail(CheckStatus::L7Rsp, _)
    ));
}

#[test]
fn not_http_is_l7rsp() {
    let e = judge(expect(false, HttpMatch::Status(vec![(200, 399)])));
    for reply in [
        &b"+PONG\r\n"[..],
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"HTTP/1.1 OK\r\n\r\n",
    ] {
        assert!(matches!(
            e.judge(reply, false),
            Verdict::Fail(CheckStatus::L7Rsp, _)
        ));
    }
}

#[test]
fn disable_on_404_passes_conditionally() {
    let mut c = check(vec![
        HttpRule::Send(req("HEAD", "/", "HTTP/1.0")),
        HttpRule::Expect(expect(false, HttpMatch::String(b"x".to_vec()))),
    ]);
    c.disable_on_404 = true;
    let mut s = Vec::new();
    steps(&c, &mut s);
    let gone = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        run(&s, &[b"", gone]),
        Verdict::Pass(CheckStatus::L7Okc, "404 Not Found".into())
    );
    // Without the option a 404 is a wrong status.
    let plain = judge(expect(false, HttpMatch::Status(vec![(200, 399)])));
    assert!(matches!(
        plain.judge(gone, false),
        Verdict::Fail(CheckStatus::L7Sts, _)
    ));
}

#[test]
fn a_head_response_has_no_body_whatever_its_length() {
    let c = check(vec![HttpRule::Send(req("HEAD", "/", "HTTP/1.1"))]);
    let mut s = Vec::new();
    steps(&c, &mut s);
    let r = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
    assert!(matches!(
        run(&s, &[b"", r]),
        Verdict::Pass(CheckStatus::L7Ok, _)
    ));
}

#[test]
fn survives_any_input() {
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let fixtures = [
        OK,
        UNAVAILABLE,
        &chunked[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n",
    ];
    for what in [
        HttpMatch::Status(vec![(200, 399)]),
        HttpMatch::RStatus(Pattern::new("^[23]").unwrap()),
        HttpMatch::String(b"master".to_vec()),
        HttpMatch::RString(Pattern::new("ma.ter").unwrap()),
    ] {
        for inverse in [false, true] {
            never_panics(&judge(expect(inverse, what.clone())), &fixtures);
        }
    }
}

/// HAProxy 2.6's requests for the same `http-check send` lines, as
/// captured on the wire.
#[test]
fn requests_match_haproxys_on_the_wire() {
    let mut post = req("POST", "/check", "HTTP/1.1");
    post.body = b"{q:1}".to_vec();
    let mut keep_10 = req("GET", "/", "HTTP/1.0");
    keep_10.headers = vec![("Connection".into(), "keep-alive".into())];
    let mut keep_11 = keep_10.clone();
    keep_11.version = "HTTP/1.1".into();
    let cases: [(&HttpRequest, &[u8]); 4] = [
        (&HttpRequest::default(), b"OPTIONS / HTTP/1.0\r\n\r\n"),
        (
            &post,
            b"POST /check HTTP/1.1\r\ncontent-length: 5\r\nconnection: close\r\n\r\n{q:1}",
        ),
        (
            &keep_10,
            b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n",
        ),
        (&keep_11, b"GET / HTTP/1.1\r\n\r\n"),
    ];
    for (r, want) in cases {
        assert_eq!(request(r), want, "{r:?}");
    }
}
