//! The MySQL check's bytes and judges against handshake, OK and error
//! packets.

use super::super::testing::{never_panics, run, sends};
use super::*;

/// MariaDB 10.11's greeting, its OK to HAProxy's login and its refusal of
/// an unknown user, as captured.
const GREETING: &[u8] =
    b"d\x00\x00\x00\n5.5.5-10.11.19-MariaDB-0+deb12u1\x00\x04\x00\x00\x00309n=(L'\x00\
    \xfe\xf7\x08\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00{Y*c91)xE.S:\x00\
    mysql_native_password\x00";
const OK: &[u8] = b"\x07\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00";
const DENIED: &[u8] =
    b"I\x00\x00\x02\xff\x15\x04#28000Access denied for user 'nosuch'@'localhost' \
    (using password: NO)";
const VERSION: &str = "5.5.5-10.11.19-MariaDB-0+deb12u1";

fn handshake() -> Vec<u8> {
    GREETING.to_vec()
}

fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut b = vec![len[0], len[1], len[2], seq];
    b.extend_from_slice(payload);
    b
}

fn denied() -> Vec<u8> {
    DENIED.to_vec()
}

fn check(login: Option<(&str, Client)>, reply: &[u8]) -> Verdict {
    let mut s = Vec::new();
    steps(login, &mut s);
    if login.is_some() {
        // As HAProxy, the login goes out at once, before the greeting is
        // read: both packets come after the send.
        return run(&s, &[b"", reply]);
    }
    run(&s, &[reply])
}

#[test]
fn login_packets_are_haproxys_bytes() {
    let quit = [1u8, 0, 0, 0, 1];
    let mut pre = vec![14, 0, 0, 1, 0x00, 0x80, 0, 0, 1];
    pre.extend_from_slice(b"haproxy\0\0");
    pre.extend_from_slice(&quit);
    assert_eq!(login_and_quit("haproxy", Client::Pre41), pre);

    let mut post = vec![41, 0, 0, 1, 0x00, 0x82, 0, 0, 0x00, 0x80, 0, 1, 0x21];
    post.extend_from_slice(&[0; 23]);
    post.extend_from_slice(b"haproxy\0\0");
    post.extend_from_slice(&quit);
    assert_eq!(login_and_quit("haproxy", Client::Post41), post);

    let mut p80 = vec![63, 0, 0, 1, 0x00, 0x82, 0x08, 0, 0x00, 0x80, 0, 1, 0x21];
    p80.extend_from_slice(&[0; 23]);
    p80.extend_from_slice(b"haproxy\0\0mysql_native_password\0");
    p80.extend_from_slice(&quit);
    assert_eq!(login_and_quit("haproxy", Client::Post80), p80);
}

#[test]
fn without_a_user_nothing_is_sent_and_the_handshake_decides() {
    let mut s = Vec::new();
    steps(None, &mut s);
    assert!(matches!(&s[0], Step::Connect(c) if c.linger));
    assert!(sends(&s).is_empty());
    let v = check(None, &handshake());
    assert_eq!(v, Verdict::Pass(CheckStatus::L7Ok, VERSION.into()));
}

#[test]
fn a_refused_host_is_l7sts_with_the_servers_message() {
    // Before any handshake, without an SQL state.
    let msg = b"\xff\x6a\x04Host '10.0.0.9' is not allowed to connect to this MariaDB server";
    let v = check(None, &packet(0, msg));
    let want = "1130 Host '10.0.0.9' is not allowed to connect to this MariaDB server";
    assert_eq!(v, Verdict::Fail(CheckStatus::L7Sts, want.into()));
}

#[test]
fn with_a_user_the_login_reply_decides() {
    let user = Some(("haproxy", Client::Post41));
    let mut ok = handshake();
    ok.extend_from_slice(OK);
    assert_eq!(
        check(user, &ok),
        Verdict::Pass(CheckStatus::L7Ok, VERSION.into())
    );

    let mut refused = handshake();
    refused.extend_from_slice(&denied());
    let want = "1045 Access denied for user 'nosuch'@'localhost' (using password: NO)";
    assert_eq!(
        check(user, &refused),
        Verdict::Fail(CheckStatus::L7Sts, want.into())
    );
}

#[test]
fn pre_41_logins_are_answered_the_same_way() {
    let mut ok = handshake();
    ok.extend_from_slice(b"\x03\x00\x00\x02\x00\x00\x00"); // as captured
    let v = check(Some(("haproxy", Client::Pre41)), &ok);
    assert_eq!(v, Verdict::Pass(CheckStatus::L7Ok, VERSION.into()));
}

#[test]
fn truncated_packets_wait_then_fail_l7rsp() {
    let hs = handshake();
    let first = Packet::Handshake { last: true };
    assert_eq!(first.judge(&hs[..3], false), Verdict::More);
    assert_eq!(first.judge(&hs[..20], false), Verdict::More);
    assert!(matches!(
        first.judge(&hs[..20], true),
        Verdict::Fail(CheckStatus::L7Rsp, _)
    ));
    // The handshake alone: the login's answer is still to come.
    assert_eq!(Packet::AfterLogin.judge(&hs, false), Verdict::More);
    assert!(matches!(
        Packet::AfterLogin.judge(&hs, true),
        Verdict::Fail(CheckStatus::L7Rsp, _)
    ));
}

#[test]
fn an_oversized_length_never_reads_past_the_buffer() {
    let huge = [0xff, 0xff, 0xff, 0, 0x0a, b'5'];
    assert_eq!(
        Packet::Handshake { last: true }.judge(&huge, false),
        Verdict::More
    );
    assert!(matches!(
        Packet::AfterLogin.judge(&huge, true),
        Verdict::Fail(CheckStatus::L7Rsp, _)
    ));
    // A zero-length packet is not an error packet.
    let empty = [0, 0, 0, 0];
    assert!(matches!(
        Packet::Handshake { last: true }.judge(&empty, true),
        Verdict::Pass(..)
    ));
}

#[test]
fn survives_any_input() {
    let mut ok = handshake();
    ok.extend_from_slice(OK);
    let mut refused = handshake();
    refused.extend_from_slice(&denied());
    let fixtures: [&[u8]; 3] = [&ok, &refused, &[1, 0, 0, 0, 0xff]];
    never_panics(&Packet::Handshake { last: true }, &fixtures);
    never_panics(&Packet::Handshake { last: false }, &fixtures);
    never_panics(&Packet::AfterLogin, &fixtures);
}
