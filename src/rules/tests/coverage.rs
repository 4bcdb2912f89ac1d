//! One case per fetch, flag, operator and converter the other files left
//! out (issue 13: "ACL matching also unit-tested per fetch, flag and
//! operator"): every old fetch name, every default match method, SSLv2
//! hellos, relative `payload_lv` offsets, `-m` casts between types, several
//! `-f` files, dotted version ranges, and the `map_*` variants.

use super::{Conn, FakeHello, HelloState, TempFile, acl_error, acl_matches, eval_with};
use crate::rules::{Expr, Fetch, Method, Tri};

fn named(fe: &str) -> Conn {
    Conn {
        fe: fe.into(),
        ..Conn::default()
    }
}

fn with_req(req: &[u8]) -> Conn {
    Conn {
        req: req.to_vec(),
        ..Conn::default()
    }
}

fn hello(h: FakeHello) -> Conn {
    Conn {
        hello: HelloState::Parsed(h),
        ..Conn::default()
    }
}

/// `acl x LINE` evaluated before the inspect delay is over.
fn early(line: &str, conn: &Conn) -> Tri {
    eval_with(&[&format!("x {line}")], "if x", conn, false)
}

#[test]
fn every_old_fetch_name_is_the_new_one() {
    for (old, new, args) in [
        ("req_len", "req.len", &[][..]),
        ("payload", "req.payload", &["0", "1"][..]),
        ("payload_lv", "req.payload_lv", &["0", "1"][..]),
        ("req_ssl_sni", "req.ssl_sni", &[][..]),
        ("req_ssl_hello_type", "req.ssl_hello_type", &[][..]),
        ("req_ssl_ver", "req.ssl_ver", &[][..]),
        ("req_ssl_alpn", "req.ssl_alpn", &[][..]),
        ("req_ssl_ec_ext", "req.ssl_ec_ext", &[][..]),
        ("req_rdp_cookie", "req.rdp_cookie", &["mstshash"][..]),
        ("rdp_cookie", "req.rdp_cookie", &[][..]),
        ("req_rdp_cookie_cnt", "req.rdp_cookie_cnt", &[][..]),
        ("rdp_cookie_cnt", "req.rdp_cookie_cnt", &["mstshash"][..]),
    ] {
        assert_eq!(
            Fetch::parse(old, args).unwrap(),
            Fetch::parse(new, args).unwrap(),
            "{old}"
        );
    }
}

#[test]
fn every_fetch_has_haproxy_default_method() {
    use Method::{Bin, Bool, Int, Ip, Str};
    for (expr, want) in [
        ("src", Ip),
        ("dst", Ip),
        ("src_port", Int),
        ("dst_port", Int),
        ("fe_name", Str),
        ("fe_conn", Int),
        ("be_conn", Int),
        ("nbsrv(app)", Int),
        ("srv_is_up(app/s1)", Bool),
        ("connslots", Int),
        ("queue(app)", Int),
        ("always_true", Bool),
        ("always_false", Bool),
        ("env(HOME)", Str),
        ("wait_end", Bool),
        ("req.len", Int),
        ("req.payload(0,2)", Bin),
        ("req.payload_lv(0,2)", Bin),
        ("req.ssl_sni", Str),
        ("req.ssl_hello_type", Int),
        ("req.ssl_alpn", Str),
        ("req.ssl_ec_ext", Bool),
        ("req.rdp_cookie", Str),
        ("req.rdp_cookie_cnt", Int),
        ("dst_port,upper", Str),
    ] {
        assert_eq!(
            Expr::parse(expr).unwrap().default_method(),
            (want, false),
            "{expr}"
        );
    }
    let ip = TempFile::new("ip.map", "k 10.0.0.1\n");
    let int = TempFile::new("int.map", "k 7\n");
    for (conv, file, want) in [
        ("map_str_ip", &ip, Method::Ip),
        ("map_str_int", &int, Method::Int),
        ("map_str_str", &int, Method::Str),
        ("map", &int, Method::Str),
    ] {
        let e = Expr::parse(&format!("fe_name,{conv}({})", file.path)).unwrap();
        assert_eq!(e.default_method(), (want, false), "{conv}");
    }
    assert!(
        Expr::parse(&format!("fe_name,map_str_int({})", ip.path))
            .unwrap_err()
            .contains("not an integer")
    );
}

#[test]
fn fetch_argument_errors() {
    assert!(
        Fetch::parse("srv_is_up", &[])
            .unwrap_err()
            .contains("takes 1 argument")
    );
    assert!(
        Fetch::parse("srv_is_up", &["app/"])
            .unwrap_err()
            .contains("missing server name")
    );
    let Fetch::SrvIsUp(s) = Fetch::parse("srv_is_up", &["s1"]).unwrap() else {
        panic!()
    };
    assert!(s.backend.name.is_empty(), "no backend: the rule's own");
    assert!(
        Fetch::parse("env", &[])
            .unwrap_err()
            .contains("takes 1 argument")
    );
    assert!(
        Fetch::parse("nbsrv", &["a", "b"])
            .unwrap_err()
            .contains("0 to 1")
    );
    assert!(
        Fetch::parse("req.payload_lv", &["0", "0"])
            .unwrap_err()
            .contains("1 to 4")
    );
    assert!(
        Fetch::parse("req.payload_lv", &["0", "2", "x"])
            .unwrap_err()
            .contains("bad data offset")
    );
    for http in ["path", "req.hdr", "http_first_req", "method"] {
        let err = Fetch::parse(http, &[]).unwrap_err();
        assert!(err.contains("HTTP"), "{http}: {err}");
    }
}

#[test]
fn counters_of_an_unknown_backend_find_nothing() {
    let c = Conn::default();
    for line in [
        "be_conn(nope) -m found",
        "connslots(nope) -m found",
        "queue(nope) -m found",
        "srv_is_up(app/nope) -m found",
    ] {
        assert!(!acl_matches(line, &c), "{line}");
    }
    assert!(acl_matches("connslots gt 9", &c), "the rule's own backend");
    assert!(acl_matches("queue(app) lt 1", &c));
}

#[test]
fn env_is_read_at_load() {
    let path = std::env::var("PATH").unwrap_or_default();
    assert!(acl_matches(
        &format!("env(PATH) -m len {}", path.len()),
        &Conn::default()
    ));
    assert!(!acl_matches(
        "env(L4LB_TEST_SURELY_UNSET_VAR) -m len 0",
        &Conn::default()
    ));
}

#[test]
fn wait_end_by_its_fetch_name() {
    let c = Conn::default();
    assert_eq!(early("wait_end", &c), Tri::NeedMore);
    assert!(acl_matches("wait_end", &c));
    assert_eq!(
        eval_with(&["w wait_end"], "if !w", &c, true),
        Tri::NoMatch,
        "once the delay ends, wait_end is true"
    );
}

#[test]
fn rdp_cookie_cnt_counts_and_waits() {
    let mut req = vec![3, 0, 0, 40, 35, 0xe0, 0, 0, 0, 0, 0];
    req.extend_from_slice(b"Cookie: mstshash=bob\r\n");
    let c = with_req(&req);
    assert!(acl_matches("req.rdp_cookie_cnt 1", &c));
    assert!(acl_matches("rdp_cookie_cnt(mstshash) 1", &c));
    assert!(acl_matches("req_rdp_cookie_cnt(other) 0", &c));
    assert!(acl_matches("req_rdp_cookie(mstshash) -m beg b", &c));
    let not_rdp = with_req(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(acl_matches("req.rdp_cookie_cnt 0", &not_rdp));
    assert_eq!(
        early("req.rdp_cookie_cnt 1", &with_req(&req[..14])),
        Tri::NeedMore
    );
}

/// An SSLv2-compatible ClientHello offering `version`, with one cipher and
/// a 16-byte challenge.
fn sslv2_hello(version: [u8; 2]) -> Vec<u8> {
    let (ciphers, challenge) = (3u8, 16u8);
    let mut r = vec![0x80, 9 + ciphers + challenge, 0x01, version[0], version[1]];
    r.extend_from_slice(&[0, ciphers, 0, 0, 0, challenge]);
    r.extend(std::iter::repeat_n(0xaa, usize::from(ciphers + challenge)));
    r
}

#[test]
fn ssl_ver_of_an_sslv2_compatible_hello() {
    let v2 = with_req(&sslv2_hello([3, 1]));
    assert!(acl_matches("req.ssl_ver 3.1", &v2));
    assert!(acl_matches("req_ssl_ver lt 3.2", &v2));
    assert!(
        !acl_matches("req.ssl_hello_type 1", &v2),
        "as HAProxy, the hello type is read from SSLv3/TLS records only"
    );
    let mut part = sslv2_hello([3, 1]);
    part.truncate(12);
    assert_eq!(early("req.ssl_ver 3.1", &with_req(&part)), Tri::NeedMore);
    let mut bad = sslv2_hello([3, 1]);
    bad[2] = 0x02;
    assert_eq!(
        early("req.ssl_ver -m found", &with_req(&bad)),
        Tri::NoMatch,
        "not a CLIENT-HELLO: final"
    );
}

#[test]
fn dotted_versions_take_ranges_and_operators() {
    let mut r = vec![
        0x16, 0x03, 0x01, 0x00, 0x2e, 0x01, 0x00, 0x00, 0x2a, 0x03, 0x02,
    ];
    r.extend(std::iter::repeat_n(0u8, 40));
    let c = with_req(&r);
    for (line, want) in [
        ("req.ssl_ver 3.2", true),
        ("req.ssl_ver 3.1:3.3", true),
        ("req.ssl_ver 3.3:", false),
        ("req.ssl_ver :3.1", false),
        ("req.ssl_ver gt 3.1", true),
        ("req.ssl_ver le 3.1", false),
        ("req.ssl_ver 3", false),
        ("req.ssl_ver 3.0 3.2", true),
    ] {
        assert_eq!(acl_matches(line, &c), want, "{line}");
    }
    assert!(acl_error("req.ssl_ver 3.x").contains("neither a number"));
    assert!(acl_error("req.ssl_ver 65536.0").contains("neither a number"));
}

#[test]
fn payload_lv_relative_offsets_and_bounds() {
    let c = with_req(b"ab\x02cdef");
    assert!(acl_matches("req.payload_lv(2,1) -m str cd", &c));
    assert!(acl_matches("payload_lv(2,1,-3) -m str ab", &c));
    assert!(acl_matches("req.payload_lv(2,1,+2) -m str ef", &c));
    assert_eq!(
        early("req.payload_lv(2,1,-4) -m found", &c),
        Tri::NoMatch,
        "before the buffer: never"
    );
    assert_eq!(
        early("req.payload_lv(0,1) -m found", &with_req(b"\x00abc")),
        Tri::NoMatch,
        "a zero length finds nothing"
    );
    assert_eq!(
        early("req.payload_lv(0,2) -m found", &with_req(b"\xff\xffabc")),
        Tri::NoMatch,
        "longer than the buffer can hold: never"
    );
    assert!(acl_matches(
        "req.payload_lv(0,4) 616263",
        &with_req(b"\x00\x00\x00\x03abc")
    ));
}

#[test]
fn tls_fields_wait_for_the_hello_then_decide() {
    let partial = Conn {
        hello: HelloState::Partial,
        ..Conn::default()
    };
    for line in ["req.ssl_alpn h2", "req_ssl_ec_ext", "req.ssl_sni -m found"] {
        assert_eq!(early(line, &partial), Tri::NeedMore, "{line}");
        assert!(!acl_matches(line, &partial), "{line}: delay over");
    }
    let no_ec = hello(FakeHello {
        sni: Some("a.example".into()),
        ..FakeHello::default()
    });
    assert!(!acl_matches("req.ssl_ec_ext", &no_ec));
    assert!(
        acl_matches("req_ssl_ec_ext -m found", &no_ec),
        "a bool sample"
    );
    assert!(!acl_matches("req_ssl_alpn -m found", &no_ec), "no ALPN");
    assert!(acl_matches("req.ssl_sni -m dom example", &no_ec));
    let alpn = hello(FakeHello {
        alpn: vec![b"h2".to_vec(), b"acme-tls/1".to_vec()],
        ..FakeHello::default()
    });
    assert!(
        acl_matches("req.ssl_alpn -m beg acme", &alpn),
        "a copied value"
    );
    assert!(acl_matches("req.ssl_alpn -m len 2", &alpn));
}

#[test]
fn match_methods_cast_between_types() {
    let c = Conn::default(); // src 10.1.2.3, dst_port 443, fe_conn 5
    for (line, want) in [
        ("dst_port -m str 443", true),
        ("dst_port -m beg 44", true),
        ("dst_port -m end 43", true),
        ("dst_port -m sub 4", true),
        ("dst_port -m len 3", true),
        ("fe_conn -m len 1", true),
        ("src -m beg 10.1.", true),
        ("src -m end .3", true),
        ("src -m sub .2.", true),
        ("src -m reg ^10\\.", true),
        ("src -m len 8", true),
        ("src_port -m bool", true),
        ("always_false -m int 0", true),
        ("always_true -m str 1", true),
        ("always_false -m found", true),
    ] {
        assert_eq!(acl_matches(line, &c), want, "{line}");
    }
    assert!(acl_matches("fe_name -m int 42", &named("42")));
    assert!(acl_matches("fe_name -m int ge 40", &named("+42")));
    assert!(acl_matches("fe_name -m bool", &named("7")));
    assert!(!acl_matches("fe_name -m bool", &named("0")));
    assert!(acl_matches("fe_name -m bin 616263", &named("abc")));
    assert!(!acl_matches("fe_name -m bin 616263", &named("ABC")));
}

#[test]
fn icase_with_every_string_method() {
    let c = named("Www.Example.COM/Path?q");
    for line in [
        "fe_name -i -m beg www.ex",
        "fe_name -m end -i path?q",
        "fe_name -i -m sub EXAMPLE",
        "fe_name -i -m dom example",
        "fe_name -i -m dir path",
        "fe_name -i -m reg ^www",
        "fe_name -i www.example.com/path?q",
    ] {
        assert!(acl_matches(line, &c), "{line}");
        let case = line.replace("-i ", "").replace(" -i", "");
        assert!(!acl_matches(&case, &c), "{case}: without -i");
    }
}

#[test]
fn ipv6_sources_and_mapped_localhost() {
    let v6 = Conn {
        src: Some("[2001:db8::7]:4000".parse().unwrap()),
        ..Conn::default()
    };
    assert!(acl_matches("src 2001:db8::/32", &v6));
    assert!(!acl_matches("src 10.0.0.0/8 2001:db9::/32", &v6));
    assert!(acl_matches("src -m str 2001:db8::7", &v6));
    let mapped = Conn {
        src: Some("[::ffff:127.0.0.1]:4000".parse().unwrap()),
        ..Conn::default()
    };
    assert_eq!(eval_with(&[], "if LOCALHOST", &mapped, true), Tri::Match);
    let none = Conn {
        src: None,
        dst: None,
        ..Conn::default()
    };
    for line in [
        "src -m found",
        "src_port -m found",
        "dst 0.0.0.0/0",
        "dst_port ge 0",
    ] {
        assert!(!acl_matches(line, &none), "{line}: a unix client");
    }
}

#[test]
fn several_pattern_files_and_flags_anywhere() {
    let a = TempFile::new("a.lst", "10.9.0.0/16\n2001:db8::/32\n");
    let b = TempFile::new("b.lst", "10.1.0.0/16\n");
    let c = Conn::default();
    assert!(acl_matches(&format!("src -f {} -f {}", a.path, b.path), &c));
    assert!(!acl_matches(&format!("src -f {}", a.path), &c));
    let names = TempFile::new("n.lst", "FE_MAIN\n");
    assert!(
        acl_matches(&format!("fe_name -f {} -i", names.path), &c),
        "-i after -f applies to the file too"
    );
    assert!(
        acl_matches("fe_name -- -i", &named("-i")),
        "after --, a flag is a pattern"
    );
    assert!(acl_error("fe_name -f").contains("'-f' needs an argument"));
    let nets = TempFile::new("nets.map", "10.1.0.0/16 be_a\n192.0.2.0/24 be_b\n");
    assert!(acl_matches(&format!("src -M -f {}", nets.path), &c));
}

#[test]
fn int_operator_edges() {
    let c = Conn::default(); // fe_conn 5
    for (line, want) in [
        ("fe_conn gt -1", true),
        ("fe_conn lt -1", false),
        ("fe_conn -- -5:5", true),
        ("fe_conn le 4 ge 6", false),
        ("fe_conn le 4 ge 5", true),
        ("fe_conn ge 6 eq 5", true),
        ("fe_conn -m len 1:1", true),
    ] {
        assert_eq!(acl_matches(line, &c), want, "{line}");
    }
    assert!(acl_error("fe_conn 1:x").contains("'1:x' is neither a number"));
    assert!(acl_error("fe_conn ne 5").contains("'ne' is neither a number"));
}

#[test]
fn map_variants_and_errors() {
    let c = named("www.example.com");
    let sub = TempFile::new("sub.map", "ample sub_value\n");
    assert!(acl_matches(
        &format!("fe_name,map_sub({}) sub_value", sub.path),
        &c
    ));
    let dir = TempFile::new("dir.map", "api v1\n");
    assert!(acl_matches(
        &format!("fe_name,map_dir({}) v1", dir.path),
        &named("/api/users")
    ));
    let ip = TempFile::new("ip.map", "www.example.com 192.0.2.10\n");
    assert!(acl_matches(
        &format!("fe_name,map_str_ip({}) 192.0.2.0/24", ip.path),
        &c
    ));
    let ipint = TempFile::new("ipint.map", "10.0.0.0/8 100\n");
    assert!(acl_matches(
        &format!("src,map_ip_int({},0) gt 50", ipint.path),
        &Conn::default()
    ));
    assert!(acl_matches(
        &format!("dst,map_ip_int({},7) 7", ipint.path),
        &Conn::default()
    ));
    let spaced = TempFile::new("spaced.map", "www.example.com   be a b\nbare\n");
    assert!(
        acl_matches(&format!("fe_name,map({}) -m len 6", spaced.path), &c)
            && acl_matches(&format!("fe_name,map({}) -m end b", spaced.path), &c),
        "the value is the rest of the line: 'be a b'"
    );
    assert!(
        acl_matches(
            &format!("fe_name,map({}) -m len 0", spaced.path),
            &named("bare")
        ),
        "a key alone maps to an empty value"
    );
    assert!(acl_error(&format!("fe_name,map_regm({})", sub.path)).contains("not supported"));
    assert!(acl_error("fe_name,map").contains("takes a file"));
    assert!(acl_error(&format!("fe_name,map({0},a,b)", sub.path)).contains("takes a file"));
    assert!(acl_error("fe_name,lower(x)").contains("takes no argument"));
    assert!(acl_error(&format!("fe_name,map_str_bool({})", sub.path)).contains("unknown"));
    assert!(acl_error(&format!("fe_name,map_found({})", sub.path)).contains("unknown"));
    let badint = TempFile::new("badint.map", "x 1\n");
    assert!(acl_error(&format!("dst_port,map_int({})", badint.path)).contains("not an integer"));
    let badre = TempFile::new("badre.map", "( 1\n");
    assert!(acl_error(&format!("fe_name,map_reg({})", badre.path)).contains("bad regex"));
}
