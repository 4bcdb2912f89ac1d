//! A file as a whole: section headers, names, what each proxy needs, and
//! how errors are reported (all at once, named, with the file).

use super::*;

#[test]
fn frontend_needs_bind_and_default_backend() {
    let text =
        "frontend fe\n timeout client 1s\nbackend be\n server s 127.0.0.1:1\n timeout server 1s\n";
    let errs = errors(text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_eq!((errs[0].line, errs[0].keyword.as_str()), (1, "frontend"));
    assert!(errs[0].msg.contains("no bind"));
    assert_eq!((errs[1].line, errs[1].keyword.as_str()), (1, "frontend"));
    assert!(errs[1].msg.contains("no default_backend"));
}

#[test]
fn default_backend_must_exist() {
    let text = BASE.replace("default_backend be", "default_backend nope");
    assert_error(
        &text,
        3,
        "default_backend",
        "no backend named 'nope'; backends: be",
    );
}

#[test]
fn backend_needs_a_server_and_unused_backends_are_fine() {
    assert_error(
        &format!("{BASE}backend empty\n timeout server 1s\n"),
        9,
        "backend",
        "has no server",
    );
    let c = load(&format!(
        "{BASE}backend spare\n server x 127.0.0.1:1\n timeout server 1s\n"
    ));
    assert_eq!(c.backends.len(), 2);
}

#[test]
fn a_file_without_proxies_is_an_error() {
    assert_error(
        "global\n maxconn 10\n",
        0,
        "frontend",
        "no frontend or listen section",
    );
}

#[test]
fn duplicate_names() {
    let fe = "frontend fe\n bind :1\n default_backend be\n timeout client 1s\n";
    let listen = "listen be\n bind :1\n server x 127.0.0.1:1\n timeout client 1s\n";
    let cases = [
        (
            format!("{BASE}backend be\n server x 127.0.0.1:1\n"),
            9,
            "backend",
            "duplicate backend name 'be' (first at line 5)",
        ),
        (
            format!("{BASE}{fe}"),
            9,
            "frontend",
            "duplicate frontend name 'fe'",
        ),
        (
            format!("{BASE}{listen}"),
            9,
            "listen",
            "duplicate backend name 'be'",
        ),
        (
            format!("defaults d\ndefaults d\n{BASE}"),
            2,
            "defaults",
            "named 'd' already exists",
        ),
    ];
    for (text, line, keyword, msg) in cases {
        assert_error(&text, line, keyword, msg);
    }
    // A frontend and a backend may share a name, as in HAProxy.
    let text = BASE
        .replace("backend be", "backend fe")
        .replace("default_backend be", "default_backend fe");
    assert_eq!(load(&text).backends[0].name, "fe");
}

#[test]
fn section_headers() {
    let cases = [
        (
            "frontend\n bind :1\n".to_string(),
            1,
            "frontend",
            "needs a name",
        ),
        (
            format!("{BASE}backend a b\n"),
            9,
            "backend",
            "expects: backend NAME [from DEFAULTS]",
        ),
        (
            format!("{BASE}backend a/b\n server x 127.0.0.1:1\n"),
            9,
            "backend",
            "invalid name 'a/b'",
        ),
        (
            format!("global x\n{BASE}"),
            1,
            "global",
            "takes no argument",
        ),
        (
            format!("userlist u\n user a\n{BASE}"),
            1,
            "userlist",
            "section 'userlist' is not implemented yet",
        ),
    ];
    for (text, line, keyword, msg) in cases {
        assert_error(&text, line, keyword, msg);
    }
}

#[test]
fn listen_is_a_frontend_and_a_backend_of_the_same_name() {
    let text = format!(
        "{BASE}listen redis\n bind [::1]:6379\n balance first\n server r1 127.0.0.1:7000\n\
                            timeout client 5s\n timeout server 5s\n"
    );
    let c = load(&text);
    assert_eq!(c.frontends[1].name, "redis");
    assert_eq!(c.backends[c.frontends[1].backend.unwrap()].name, "redis");
    assert_eq!(c.backends[1].balance, Balance::First);
    let bad = "listen l\n bind :1\n server x 127.0.0.1:1\n default_backend be\n";
    assert_error(
        &format!("{BASE}{bad}"),
        12,
        "default_backend",
        "sends to its own servers",
    );
    assert_error("listen l\n bind :1\n", 1, "listen", "has no server");
}

#[test]
fn errors_are_all_reported_at_once() {
    let text = in_backend("balance fastest\noption foo\nserver s9 127.0.0.1");
    let lines: Vec<usize> = errors(&text).iter().map(|e| e.line).collect();
    assert_eq!(lines, [9, 10, 11]);
}

#[test]
fn stage_one_errors_carry_the_file_name() {
    let errs = errors("global\n description \"open\n");
    assert_eq!((errs[0].file.as_str(), errs[0].line), ("t.conf", 2));
    assert_eq!(
        errs[0].to_string(),
        "t.conf:2: 'description': unterminated quote (\"): close it on the same line"
    );
}

/// Fuzzing found errors on an empty quoted word with a blank keyword
/// (`t.conf:1: '': ...`); they name it `""`.
#[test]
fn empty_quoted_word_is_named_in_errors() {
    let empty = r#""""#;
    assert_error(&format!("''\n{BASE}"), 1, empty, "outside any section");
    assert_error(
        &format!("global\n \"\"\n{BASE}"),
        2,
        empty,
        "unknown keyword",
    );
    assert_backend_errors(&[
        ("\"\" 1", 9, empty, "unknown keyword"),
        (
            "server s3 127.0.0.1:9003 ''",
            9,
            empty,
            "unknown server option",
        ),
    ]);
    assert_frontend_errors(&[
        ("bind 127.0.0.1:8081 \"\"", 2, empty, "unknown bind option"),
        ("log \"\" local0", 2, "log", "not a log target"),
    ]);
}

/// A line that cannot be split into words does not hide the errors of
/// the others, and what it held is not reported missing.
#[test]
fn unreadable_lines_do_not_hide_keyword_errors() {
    let text = "frontend fe\n bind :1\n default_backend be\n frobnicate\nbackend be\n \
                server s1 \"127.0.0.1:1\n";
    assert_errors(
        text,
        &[
            (4, "frobnicate", "unknown keyword"),
            (6, "server", "unterminated quote"),
        ],
    );
}

/// HAProxy's HTTP-only sections serve what does nothing in mode tcp.
#[test]
fn http_only_sections_are_ignored_with_a_warning() {
    let text = format!("cache c\n total-max-size 4\nhttp-errors site\n errorfile 503 /x\n{BASE}");
    assert_eq!(
        load(&text).warnings,
        [
            "cache c (line 1): an HTTP-only section, which nothing in a mode tcp proxy uses; \
             ignored",
            "http-errors site (line 3): an HTTP-only section, which nothing in a mode tcp proxy \
             uses; ignored",
        ]
    );
}
