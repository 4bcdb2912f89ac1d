//! `log-format`, `log-format-sd`, `option logasap`, `dontlog-normal` and
//! `log-separate-errors`: what they set, how they inherit and replace
//! `option tcplog`, and every error with its line and keyword.

use super::*;

const TARGET: &str = "log stdout format raw local0";

fn frontend_with(lines: &str) -> Frontend {
    load(&in_frontend(&format!("{TARGET}\n{lines}")))
        .frontends
        .remove(0)
}

#[test]
fn log_format_turns_logging_on_with_its_parts() {
    let f = frontend_with("log-format \"%ci %b\"");
    assert!(f.tcplog);
    assert_eq!(
        f.log_line.format.parts,
        [
            Part::Var(Var::ClientIp, ItemFlags::MANDATORY),
            Part::Space,
            Part::Var(Var::Backend, ItemFlags::MANDATORY),
        ]
    );
    // HAProxy's own spelling of option tcplog, through its variable too.
    let tcplog = LineFormat::tcplog();
    let f = frontend_with(&format!("log-format \"{TCP_LOG_FORMAT}\""));
    assert_eq!(f.log_line.format, tcplog);
    let f = frontend_with("log-format \"${HAPROXY_TCP_LOG_FMT}\"");
    assert_eq!(f.log_line.format, tcplog);
    let needs = |f: &LineFormat| {
        (
            f.needs_frontend_addr,
            f.needs_backend_addr,
            f.needs_request_id,
        )
    };
    assert_eq!(needs(&tcplog), (false, false, false));
    let f = frontend_with("log-format \"%[dst_port] %bp %rt\"");
    assert_eq!(needs(&f.log_line.format), (true, true, true));
    let f = frontend_with("option tcplog clf");
    assert_eq!(
        f.log_line.format,
        LineFormat::compile(TCP_CLF_LOG_FORMAT).unwrap()
    );
    let f = frontend_with("log-format %ci\\ %b");
    assert_eq!(f.log_line.format.parts.len(), 3);
}

#[test]
fn the_last_of_option_tcplog_and_log_format_wins_and_defaults_inherit() {
    let f = frontend_with("log-format %ci\noption tcplog");
    assert_eq!(f.log_line.format, LineFormat::tcplog());
    let f = frontend_with("option tcplog\nlog-format %ci");
    assert_eq!(f.log_line.format.parts.len(), 1);
    let f = frontend_with("log-format %ci\nno option tcplog");
    assert!(!f.tcplog);
    let text = format!("defaults\n {TARGET}\n log-format %b\n option logasap\n{BASE}");
    let f = &load(&text).frontends[0];
    assert!(f.tcplog && f.log_line.logasap);
    assert_eq!(f.log_line.format.parts.len(), 1);
    let text = format!("defaults\n log-format %b\n{}", in_frontend("option tcplog"));
    assert_eq!(
        load(&text).frontends[0].log_line.format,
        LineFormat::tcplog()
    );
}

#[test]
fn logging_options_are_set_and_cleared() {
    let f = frontend_with(
        "option tcplog\noption logasap\noption dontlog-normal\noption log-separate-errors\n\
         log-format-sd \"[x@1 fe=%{+Q,+E}f]\"",
    );
    let l = &f.log_line;
    assert!(l.logasap && l.dontlog_normal && l.separate_errors && l.sd.is_some());
    let f = frontend_with("option tcplog\noption logasap\nno option logasap");
    assert!(!f.log_line.logasap);
    let c = load(&in_frontend(&format!(
        "{TARGET}\noption tcplog\noption logasap\nlog-format-sd %f"
    )));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn http_and_tls_variables_load_with_a_warning() {
    let c = load(&in_frontend(&format!(
        "{TARGET}\nlog-format \"%ci %ST %r %sslv %ST %Ti\""
    )));
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(
        c.warnings[0].contains("log-format in frontend fe: %ST %Ti %r %sslv only have a value"),
        "{:?}",
        c.warnings
    );
    let c = load(&in_frontend("log-format %ci"));
    assert!(c.warnings[0].contains("log-format in frontend fe but no log target"));
}

/// Bad formats and misplaced options, in the frontend (line 2).
const FRONTEND_ERRORS: &[Case] = &[
    (
        "log-format %ci %b",
        2,
        "log-format",
        "put the format between double quotes",
    ),
    ("log-format", 2, "log-format", "expects: log-format"),
    ("log-format \"\"", 2, "log-format", "expects: log-format"),
    (
        "log-format \"%zz\"",
        2,
        "log-format",
        "no such format alias '%zz'",
    ),
    (
        "log-format \"50%\"",
        2,
        "log-format",
        "ends with a lone '%'",
    ),
    (
        "log-format \"50% off\"",
        2,
        "log-format",
        "'%' followed by ' '",
    ),
    (
        "log-format \"%{Q}ci\"",
        2,
        "log-format",
        "flag 'Q' needs a sign",
    ),
    (
        "log-format \"%{+Z}ci\"",
        2,
        "log-format",
        "unknown flag 'Z'",
    ),
    (
        "log-format \"%{+json}o %ci\"",
        2,
        "log-format",
        "'json' encoding is not implemented",
    ),
    (
        "log-format \"%{+Q}\"",
        2,
        "log-format",
        "not followed by a variable",
    ),
    ("log-format \"%{+Q ci\"", 2, "log-format", "missing '}'"),
    ("log-format \"%[src\"", 2, "log-format", "missing ']'"),
    (
        "log-format \"%[req.hdr]\"",
        2,
        "log-format",
        "unknown or not layer-4 sample fetch",
    ),
    (
        "log-format \"%[src,ipmask(24)]\"",
        2,
        "log-format",
        "converters are not implemented",
    ),
    (
        "log-format \"%[be_conn(x)]\"",
        2,
        "log-format",
        "fetch arguments are not implemented",
    ),
    (
        "log-format \"%(na me)ci\"",
        2,
        "log-format",
        "invalid character ' '",
    ),
    (
        "log-format \"%(n:int)ci\"",
        2,
        "log-format",
        "unknown item type 'int'",
    ),
    (
        "log-format \"${HAPROXY_HTTP_LOG_FMT}\"",
        2,
        "log-format",
        "HTTP log format",
    ),
    ("log-format \"${HOME}\"", 2, "log-format", "expands only"),
    (
        "log-format-sd \"%zz\"",
        2,
        "log-format-sd",
        "no such format alias",
    ),
    ("option logasap now", 2, "option logasap", "takes none"),
    ("option tcplog json", 2, "option tcplog", "takes only clf"),
];

/// The logging keywords act in frontends: in a backend HAProxy warns and
/// ignores them (`warnifnotcap`), and so does l4lb.
const IN_A_BACKEND: &[(&str, &str)] = &[
    ("log-format %ci", "log-format"),
    ("option logasap", "option logasap"),
    ("option dontlog-normal", "option dontlog-normal"),
    ("option log-separate-errors", "option log-separate-errors"),
];

#[test]
fn format_errors_name_the_line_and_keyword() {
    assert_frontend_errors(FRONTEND_ERRORS);
    for (line, keyword) in IN_A_BACKEND {
        let text = in_backend(line);
        assert_warning(&text, &[keyword, "is ignored in a backend section"]);
    }
}

#[test]
fn named_items_and_unsigned_flag_free_args_are_accepted() {
    let f = frontend_with("log-format \"%(client)ci %(c:str){+Q}b %{}s %(:sint)B\"");
    assert_eq!(f.log_line.format.parts.len(), 7);
    assert_eq!(
        f.log_line.format.parts[2],
        Part::Var(Var::Backend, ItemFlags::MANDATORY | ItemFlags::QUOTE)
    );
}

#[test]
fn odd_formats_are_errors_or_text_never_a_panic() {
    let odd = [
        "%",
        "%%%",
        "%{",
        "%{}",
        "%{é}ci",
        "%(é)ci",
        "%(",
        "%()",
        "%[",
        "%[]",
        "%[é]",
        "%é",
        "é%",
        "%{+Q}%",
        "%(a){+Q}[src",
        "${",
        "${}",
        "%o",
        "%{-M}o%ID",
        " ",
        "\t%ci\t",
    ];
    for text in odd {
        let _ = LineFormat::compile(text);
    }
    assert_eq!(LineFormat::compile("é %ci").unwrap().parts.len(), 3);
}

#[test]
fn unique_id_format_compiles_and_cannot_contain_its_own_id() {
    let c = load(&in_frontend(
        "unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid",
    ));
    let f = c.frontends[0].unique_id_format.as_ref().expect("a format");
    assert!(f.needs_request_id && f.needs_frontend_addr);
    assert_frontend_errors(&[
        ("unique-id-format %ci_%ID", 2, "unique-id-format", "%ID"),
        ("unique-id-format", 2, "unique-id-format", "expects"),
    ]);
}
