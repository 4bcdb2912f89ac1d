//! The condition grammar and its three-valued evaluation.

use super::{Conn, HelloState, eval_with, table, words};
use crate::rules::{AclTable, Cond, Tri};

const ACLS: &[&str] = &["yes always_true", "no always_false", "wait req.ssl_sni x"];

fn eval(cond: &str) -> Tri {
    let waiting = Conn {
        hello: HelloState::Partial,
        ..Conn::default()
    };
    eval_with(ACLS, cond, &waiting, false)
}

fn parse_err(cond: &str) -> String {
    let mut t = table(ACLS);
    Cond::parse(&words(cond), &mut t).expect_err(cond)
}

#[test]
fn and_or_not() {
    assert_eq!(eval("if yes"), Tri::Match);
    assert_eq!(eval("if no"), Tri::NoMatch);
    assert_eq!(eval("unless no"), Tri::Match);
    assert_eq!(eval("if yes no"), Tri::NoMatch);
    assert_eq!(eval("if yes yes"), Tri::Match);
    assert_eq!(eval("if no || yes"), Tri::Match);
    assert_eq!(eval("if no or no"), Tri::NoMatch);
    assert_eq!(eval("if !no"), Tri::Match);
    assert_eq!(eval("if ! no"), Tri::Match);
    assert_eq!(eval("if !!no"), Tri::NoMatch);
    assert_eq!(eval("if yes !yes || !no"), Tri::Match);
}

#[test]
fn need_more_propagates_as_haproxy() {
    assert_eq!(eval("if wait"), Tri::NeedMore);
    assert_eq!(eval("if !wait"), Tri::NeedMore, "negation keeps MISS");
    assert_eq!(eval("if wait || yes"), Tri::Match);
    assert_eq!(eval("if wait || no"), Tri::NeedMore);
    assert_eq!(
        eval("if no wait"),
        Tri::NoMatch,
        "AND stops at the first FAIL"
    );
    assert_eq!(
        eval("if wait no"),
        Tri::NeedMore,
        "AND stops at the first MISS"
    );
    assert_eq!(eval("if yes wait"), Tri::NeedMore);
}

#[test]
fn anonymous_acls() {
    assert_eq!(eval("if { always_true }"), Tri::Match);
    assert_eq!(
        eval("if { fe_conn gt 10 } || { fe_name fe_main }"),
        Tri::Match
    );
    assert_eq!(eval("if !{ src 10.0.0.0/8 }"), Tri::NoMatch);
    assert_eq!(eval("if yes { dst_port 443 }"), Tri::Match);
    assert!(parse_err("if { src").contains("without its '}'"));
    assert!(parse_err("if { }").contains("empty"));
    assert!(parse_err("if }").contains("without its '{'"));
    assert!(parse_err("if { nope 1 }").contains("unknown fetch"));
}

#[test]
fn grammar_errors_and_unknown_names() {
    assert!(parse_err("if").contains("missing condition"));
    assert!(parse_err("when yes").contains("expected 'if' or 'unless'"));
    assert!(parse_err("if || yes").contains("without a term before"));
    assert!(parse_err("if yes ||").contains("without a term after"));
    assert!(parse_err("if yes !").contains("'!' without a term"));
    assert!(parse_err("if nope").contains("no such ACL: 'nope'"));
    assert!(parse_err("if HTTP").contains("HTTP"));
}

#[test]
fn named_acls_or_their_lines_and_predefined() {
    let lines = ["a fe_conn 1", "a fe_conn 5", "b src 172.16.0.0/12"];
    let c = Conn::default();
    assert_eq!(eval_with(&lines, "if a", &c, true), Tri::Match);
    assert_eq!(eval_with(&lines, "if a b", &c, true), Tri::NoMatch);
    assert_eq!(eval_with(&[], "if TRUE !FALSE", &c, true), Tri::Match);
    assert_eq!(eval_with(&[], "if LOCALHOST", &c, true), Tri::NoMatch);
    let local = Conn {
        src: Some("127.0.0.5:1".parse().unwrap()),
        ..Conn::default()
    };
    assert_eq!(eval_with(&[], "if LOCALHOST", &local, true), Tri::Match);
    let local6 = Conn {
        src: Some("[::1]:1".parse().unwrap()),
        ..Conn::default()
    };
    assert_eq!(eval_with(&[], "if LOCALHOST", &local6, true), Tri::Match);
    assert_eq!(
        eval_with(&["TRUE always_false"], "if TRUE", &c, true),
        Tri::NoMatch,
        "declared shadows predefined"
    );
}

#[test]
fn later_lines_join_an_acl_already_used() {
    let mut t = AclTable::default();
    t.add("a", &["fe_conn", "1"]).unwrap();
    let cond = Cond::parse(&["if", "a"], &mut t).unwrap();
    let c = Conn::default();
    let mut s = crate::rules::Scratch::new(64);
    assert_eq!(cond.eval(&t, &c, true, &mut s), Tri::NoMatch);
    t.add("a", &["fe_conn", "5"]).unwrap();
    assert_eq!(
        cond.eval(&t, &c, true, &mut s),
        Tri::Match,
        "as HAProxy, the ACL is shared"
    );
    assert!(
        t.add("bad name", &["src"])
            .unwrap_err()
            .contains("invalid character ' '")
    );
}

#[test]
fn needs_content_tells_the_inspect_stage() {
    let mut t = table(&["l4 src 10.0.0.0/8", "tls req.ssl_sni x"]);
    let plain = Cond::parse(&["if", "l4", "TRUE"], &mut t).unwrap();
    let content = Cond::parse(&["if", "l4", "||", "tls"], &mut t).unwrap();
    let anon = Cond::parse(&words("if { req.len gt 0 }"), &mut t).unwrap();
    assert!(!plain.needs_content(&t));
    assert!(content.needs_content(&t));
    assert!(anon.needs_content(&t));
}
