//! Match methods, flags, operators and pattern files.

use super::{Conn, TempFile, acl_error, acl_matches};

fn sni(name: &str) -> Conn {
    Conn {
        fe: name.into(),
        ..Conn::default()
    }
}

#[test]
fn str_exact_and_icase() {
    assert!(acl_matches("fe_name fe_main other", &Conn::default()));
    assert!(!acl_matches("fe_name FE_MAIN", &Conn::default()));
    assert!(acl_matches("fe_name -i FE_MAIN", &Conn::default()));
    assert!(acl_matches("fe_name -i fe_main", &sni("FE_Main")));
    assert!(!acl_matches("fe_name fe_mai", &Conn::default()));
    let long = "a".repeat(300);
    assert!(acl_matches(
        &format!("fe_name -i {}", long.to_uppercase()),
        &sni(&long)
    ));
}

#[test]
fn beg_end_sub() {
    let c = sni("www.example.com");
    assert!(acl_matches("fe_name -m beg www.", &c));
    assert!(!acl_matches("fe_name -m beg example", &c));
    assert!(acl_matches("fe_name -m end .com", &c));
    assert!(acl_matches("fe_name -m end -i .COM", &c));
    assert!(!acl_matches("fe_name -m end .org", &c));
    assert!(acl_matches("fe_name -m sub ample", &c));
    assert!(acl_matches("fe_name -m sub -i AMPLE", &c));
    assert!(!acl_matches("fe_name -m sub sample", &c));
}

#[test]
fn dom_is_delimited_by_slash_question_dot_colon() {
    let c = sni("www.example.com:443");
    assert!(acl_matches("fe_name -m dom example.com", &c));
    assert!(acl_matches("fe_name -m dom www", &c));
    assert!(
        acl_matches("fe_name -m dom .example.", &c),
        "the pattern's own delimiters are dropped"
    );
    assert!(acl_matches("fe_name -m dom 443", &c));
    assert!(!acl_matches("fe_name -m dom ample.com", &c));
    assert!(!acl_matches("fe_name -m dom example.co", &c));
    assert!(acl_matches("fe_name -m dom -i EXAMPLE", &c));
    assert!(acl_matches("fe_name -m dir b", &sni("/a/b?c")));
    assert!(!acl_matches("fe_name -m dir a.b", &sni("x/a.bc")));
}

#[test]
fn reg_compiled_once_with_icase() {
    let c = sni("api-42.example.com");
    assert!(acl_matches(r"fe_name -m reg ^api-[0-9]+\.", &c));
    assert!(!acl_matches("fe_name -m reg ^API", &c));
    assert!(acl_matches("fe_name -m reg -i ^API", &c));
    assert!(acl_error("fe_name -m reg (").contains("bad regex"));
}

#[test]
fn int_operators_and_ranges() {
    let c = Conn::default(); // fe_conn 5, dst_port 443
    for (line, want) in [
        ("fe_conn 5", true),
        ("fe_conn eq 5", true),
        ("fe_conn gt 4", true),
        ("fe_conn gt 5", false),
        ("fe_conn ge 5", true),
        ("fe_conn lt 5", false),
        ("fe_conn le 5", true),
        ("fe_conn lt 6", true),
        ("fe_conn 1:5", true),
        ("fe_conn 6:", false),
        ("fe_conn :4", false),
        ("fe_conn :5", true),
        ("fe_conn 1 2 3", false),
        ("fe_conn gt 10 eq 5", true),
        ("fe_conn lt 3 7", true), // the operator applies to every value after it
        ("dst_port 443", true),
        ("dst_port 80 443", true),
        ("src_port 1024:65535", true),
    ] {
        assert_eq!(acl_matches(line, &c), want, "{line}");
    }
    assert!(
        acl_error("fe_conn gt ten").contains("'ten' is neither a number nor a supported operator")
    );
}

#[test]
fn len_found_bool() {
    let c = sni("abcd");
    assert!(acl_matches("fe_name -m len 4", &c));
    assert!(acl_matches("fe_name -m len gt 3", &c));
    assert!(!acl_matches("fe_name -m len lt 4", &c));
    assert!(acl_matches("fe_name -m found", &c));
    assert!(!acl_matches("env(L4LB_TEST_SURELY_UNSET_VAR) -m found", &c));
    assert!(acl_matches("fe_conn -m bool", &c));
    assert!(!acl_matches("queue -m bool", &c));
    assert!(
        acl_matches("fe_name -m found x", &c),
        "patterns ignored, as HAProxy"
    );
}

#[test]
fn ip_patterns_and_casts() {
    let c = Conn::default(); // src 10.1.2.3
    assert!(acl_matches("src 10.0.0.0/8", &c));
    assert!(acl_matches("src 10.1.2.3", &c));
    assert!(acl_matches("src 10.1.0.0/255.255.0.0", &c));
    assert!(!acl_matches("src 10.1.2.4 192.168.0.0/16", &c));
    assert!(
        acl_matches("src ::ffff:10.1.2.0/120", &c),
        "IPv4 looked up as mapped IPv6"
    );
    assert!(
        acl_matches("dst -m str 192.168.0.1", &c),
        "address cast to text"
    );
    assert!(
        acl_matches("fe_name -m ip 1.2.0.0/16", &sni("1.2.3.4")),
        "text cast to address"
    );
    assert!(acl_error("src example.com").contains("host names are not resolved"));
    assert!(acl_error("src 10.0.0.0/33").contains("not an IP address"));
    assert!(acl_error("src 10.0.0.0/255.0.255.0").contains("not an IP address"));
}

#[test]
fn bin_patterns_are_hex() {
    let c = Conn {
        req: b"\x16\x03\x01hello".to_vec(),
        ..Conn::default()
    };
    assert!(acl_matches("req.payload(0,3) 160301", &c));
    assert!(!acl_matches("req.payload(0,3) 160303", &c));
    assert!(acl_matches("req.payload(3,5) -m str hello", &c));
    assert!(acl_error("req.payload(0,3) 1603z1").contains("hexadecimal"));
    assert!(acl_error("req.payload(0,3) 16030").contains("hexadecimal"));
}

#[test]
fn flags_and_double_dash() {
    assert!(acl_matches("fe_name -- -dash", &sni("-dash")));
    assert!(acl_error("fe_name -x foo").contains("'-x' is not a valid ACL option"));
    assert!(acl_error("fe_name -m").contains("'-m' needs an argument"));
    assert!(acl_error("fe_name -m nope x").contains("unknown match method"));
    assert!(acl_error("fe_name -u 3 x").contains("'-u'"));
    assert!(acl_matches("src -n 10.0.0.0/8", &Conn::default()));
}

#[test]
fn pattern_files_and_map_files_as_patterns() {
    let f = TempFile::new("nets.lst", "# allowlist\n\n  192.168.0.0/16\n10.0.0.0/8\n");
    assert!(acl_matches(&format!("src -f {}", f.path), &Conn::default()));
    // As HAProxy: only a `#` in the first column starts a comment, and
    // trailing blanks belong to the pattern (an address with one is bad).
    let f = TempFile::new("odd.lst", "  # not a comment\n10.0.0.0/8 \n");
    assert!(acl_error(&format!("src -f {}", f.path)).contains("# not a comment"));
    let names = TempFile::new("sp.lst", "fe_main \n");
    assert!(!acl_matches(
        &format!("fe_name -f {}", names.path),
        &Conn::default()
    ));
    let names = TempFile::new("names.lst", "foo\n  Fe_Main\n# fe_x\n");
    assert!(acl_matches(
        &format!("fe_name -i -f {}", names.path),
        &Conn::default()
    ));
    assert!(!acl_matches(
        &format!("fe_name -f {}", names.path),
        &Conn::default()
    ));
    assert!(
        acl_matches(
            &format!("fe_name -f {} fe_main", names.path),
            &Conn::default()
        ),
        "file and inline"
    );
    let map = TempFile::new("m.map", "fe_main be1\nother be2\n");
    assert!(acl_matches(
        &format!("fe_name -M -f {}", map.path),
        &Conn::default()
    ));
    assert!(acl_error("fe_name -f /nonexistent/l4lb.lst").contains("/nonexistent/l4lb.lst"));
}

#[test]
fn an_acl_without_pattern_never_matches() {
    let w = super::words("fe_name");
    let e = crate::rules::AclExpr::parse(&w).unwrap();
    assert!(e.patterns.never_matches());
    assert!(!acl_matches("fe_name", &Conn::default()));
    let w = super::words("always_true");
    assert!(
        !crate::rules::AclExpr::parse(&w)
            .unwrap()
            .patterns
            .never_matches()
    );
}
