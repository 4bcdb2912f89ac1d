//! Fetch parsing, arguments, old names, default match methods and values,
//! content fetches with their "need more data", and converters.

use super::{Conn, FakeHello, HelloState, TempFile, acl_error, acl_matches, eval_with};
use crate::rules::{Expr, Fetch, Method, Sample, Scratch, Tri};

fn tls_conn(sni: &str) -> Conn {
    let hello = FakeHello {
        sni: Some(sni.into()),
        alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        ec: true,
    };
    Conn {
        hello: HelloState::Parsed(hello),
        ..Conn::default()
    }
}

/// A TLS record holding a (fake) ClientHello of `body_len` bytes.
fn tls_record(body_len: usize) -> Vec<u8> {
    let hs_len = body_len + 2;
    let mut r = vec![0x16, 0x03, 0x01];
    r.extend_from_slice(&((hs_len + 4) as u16).to_be_bytes());
    r.push(0x01);
    r.extend_from_slice(&(hs_len as u32).to_be_bytes()[1..]);
    r.extend_from_slice(&[0x03, 0x03]);
    r.extend(std::iter::repeat_n(0u8, body_len));
    r
}

#[test]
fn fetch_names_args_and_old_names() {
    assert_eq!(Fetch::parse("req_ssl_sni", &[]).unwrap(), Fetch::SslSni);
    assert_eq!(Fetch::parse("req_len", &[]).unwrap(), Fetch::ReqLen);
    assert_eq!(
        Fetch::parse("payload", &["0", "3"]).unwrap(),
        Fetch::Payload { offset: 0, len: 3 }
    );
    assert_eq!(
        Fetch::parse("rdp_cookie", &[]).unwrap(),
        Fetch::RdpCookie(None)
    );
    assert!(
        matches!(Fetch::parse("be_conn", &["app"]).unwrap(), Fetch::BeConn(b) if b.name == "app")
    );
    assert!(matches!(Fetch::parse("nbsrv", &[]).unwrap(), Fetch::Nbsrv(b) if b.name.is_empty()));
    let Fetch::SrvIsUp(s) = Fetch::parse("srv_is_up", &["app/s1"]).unwrap() else {
        panic!()
    };
    assert_eq!((s.backend.name.as_str(), s.name.as_str()), ("app", "s1"));
    assert!(
        Fetch::parse("req.payload", &["0"])
            .unwrap_err()
            .contains("takes 2 argument")
    );
    assert!(
        Fetch::parse("src", &["x"])
            .unwrap_err()
            .contains("takes 0 argument")
    );
    assert!(
        Fetch::parse("req.payload", &["-1", "2"])
            .unwrap_err()
            .contains("non-negative")
    );
    assert!(
        Fetch::parse("req.payload_lv", &["0", "5"])
            .unwrap_err()
            .contains("1 to 4")
    );
    assert!(
        Fetch::parse("nope", &[])
            .unwrap_err()
            .contains("unknown fetch method 'nope'")
    );
    assert!(Fetch::parse("hdr", &[]).unwrap_err().contains("HTTP"));
    assert!(
        Expr::parse("req.payload(0,3")
            .unwrap_err()
            .contains("missing ')'")
    );
    assert!(
        Expr::parse("src,nope")
            .unwrap_err()
            .contains("unknown converter 'nope'")
    );
}

#[test]
fn default_methods_as_haproxy() {
    let m = |t: &str| Expr::parse(t).unwrap().default_method();
    assert_eq!(m("src"), (Method::Ip, false));
    assert_eq!(m("dst_port"), (Method::Int, false));
    assert_eq!(m("fe_name"), (Method::Str, false));
    assert_eq!(m("req.payload(0,1)"), (Method::Bin, false));
    assert_eq!(m("req.ssl_ver"), (Method::Int, true));
    assert_eq!(m("req.ssl_ec_ext"), (Method::Bool, false));
    assert_eq!(m("src,lower"), (Method::Str, false));
}

#[test]
fn l4_fetches() {
    let c = Conn::default();
    for (line, want) in [
        ("src 10.1.2.3", true),
        ("src_port 40000", true),
        ("dst 192.168.0.1", true),
        ("dst_port 443", true),
        ("fe_name fe_main", true),
        ("fe_conn 5", true),
        ("be_conn(app) 3", true),
        ("be_conn 3", true),
        ("nbsrv(app) lt 1", false),
        ("nbsrv(app) 2", true),
        ("nbsrv(nope) -m found", false),
        ("connslots(app) 10", true),
        ("queue(app) 0", true),
        ("srv_is_up(app/s1)", true),
        ("srv_is_up(app/s2)", false),
        ("always_true", true),
        ("always_false", false),
    ] {
        assert_eq!(acl_matches(line, &c), want, "{line}");
    }
    // SAFETY of the test: the variable's name is unique to this test.
    assert!(acl_matches("env(PATH) -m found", &c));
}

#[test]
fn content_fetches_wait_then_decide() {
    let acls = ["sni req.ssl_sni -i www.example.com"];
    let waiting = Conn {
        hello: HelloState::Partial,
        ..Conn::default()
    };
    assert_eq!(eval_with(&acls, "if sni", &waiting, false), Tri::NeedMore);
    assert_eq!(
        eval_with(&acls, "if sni", &waiting, true),
        Tri::NoMatch,
        "delay over: no data, no match"
    );
    assert_eq!(
        eval_with(&acls, "unless sni", &waiting, false),
        Tri::NeedMore
    );
    assert_eq!(
        eval_with(&acls, "if sni", &tls_conn("WWW.example.com"), false),
        Tri::Match
    );
    assert_eq!(
        eval_with(&acls, "if sni", &tls_conn("other"), false),
        Tri::NoMatch
    );
    assert_eq!(
        eval_with(&acls, "if sni", &Conn::default(), false),
        Tri::NoMatch,
        "not TLS: final"
    );
}

#[test]
fn req_len_may_change() {
    let acls = ["big req.len ge 4"];
    let mut c = Conn {
        req: b"ab".to_vec(),
        ..Conn::default()
    };
    assert_eq!(eval_with(&acls, "if big", &c, false), Tri::NeedMore);
    assert_eq!(eval_with(&acls, "if big", &c, true), Tri::NoMatch);
    c.req.extend_from_slice(b"cd");
    assert_eq!(eval_with(&acls, "if big", &c, false), Tri::Match);
    assert_eq!(eval_with(&[], "if REQ_CONTENT", &c, false), Tri::Match);
    let empty = Conn::default();
    assert_eq!(
        eval_with(&[], "if REQ_CONTENT", &empty, false),
        Tri::NeedMore
    );
    assert_eq!(eval_with(&[], "if WAIT_END", &empty, false), Tri::NeedMore);
    assert_eq!(eval_with(&[], "if WAIT_END", &empty, true), Tri::Match);
}

#[test]
fn payload_and_payload_lv() {
    let c = Conn {
        req: b"SSH-2.0-x\r\n".to_vec(),
        ..Conn::default()
    };
    assert!(acl_matches("req.payload(0,7) -m str SSH-2.0", &c));
    assert_eq!(
        eval_with(&["p req.payload(0,20) -m found"], "if p", &c, false),
        Tri::NeedMore
    );
    assert_eq!(
        eval_with(&["p req.payload(0,20000) -m found"], "if p", &c, false),
        Tri::NoMatch,
        "never fits"
    );
    assert!(
        acl_matches("req.payload(4,0) -m beg 2.0-x", &c)
            && !acl_matches("req.payload(4,0) -m str 2.0-x", &c),
        "zero length: to the end"
    );
    let lv = Conn {
        req: b"\x00\x03abcxyz".to_vec(),
        ..Conn::default()
    };
    assert!(acl_matches("req.payload_lv(0,2) -m str abc", &lv));
    assert!(acl_matches("req.payload_lv(0,2,+3) -m str xyz", &lv));
    assert!(acl_matches("req.payload_lv(0,2,4) -m str cxy", &lv));
    let short = Conn {
        req: b"\x00\x09abc".to_vec(),
        ..Conn::default()
    };
    assert_eq!(
        eval_with(&["p req.payload_lv(0,2) -m found"], "if p", &short, false),
        Tri::NeedMore
    );
}

#[test]
fn ssl_hello_type_and_version() {
    let full = Conn {
        req: tls_record(40),
        ..Conn::default()
    };
    assert!(acl_matches("req.ssl_hello_type 1", &full));
    assert!(
        acl_matches("req_ssl_ver 3.3", &full),
        "the ClientHello's version, dotted"
    );
    assert!(acl_matches("req.ssl_ver ge 3.1", &full));
    assert!(!acl_matches("req.ssl_ver lt 3.3", &full));
    assert!(acl_matches("req.ssl_ver -m int 196611", &full));
    let mut part = tls_record(40);
    part.truncate(20);
    let part = Conn {
        req: part,
        ..Conn::default()
    };
    assert_eq!(
        eval_with(&["t req.ssl_hello_type 1"], "if t", &part, false),
        Tri::NeedMore
    );
    let ssh = Conn {
        req: b"SSH-2.0-OpenSSH_9\r\n".to_vec(),
        ..Conn::default()
    };
    assert_eq!(
        eval_with(&["t req.ssl_hello_type 1"], "if t", &ssh, false),
        Tri::NoMatch
    );
}

#[test]
fn sni_alpn_ec() {
    let c = tls_conn("www.example.com");
    assert!(acl_matches("req.ssl_sni -m end .example.com", &c));
    assert!(acl_matches("req.ssl_alpn h2", &c));
    assert!(
        acl_matches("req.ssl_alpn http/1.1", &c),
        "every ALPN value is tried"
    );
    assert!(!acl_matches("req.ssl_alpn h3", &c));
    assert!(acl_matches("req.ssl_ec_ext", &c));
    let no_sni = Conn {
        hello: HelloState::Parsed(FakeHello::default()),
        ..Conn::default()
    };
    assert!(!acl_matches("req.ssl_sni -m found", &no_sni));
}

#[test]
fn rdp_cookie() {
    let mut req = vec![3, 0, 0, 40, 35, 0xe0, 0, 0, 0, 0, 0];
    req.extend_from_slice(b"Cookie: mstshash=alice\r\n");
    let c = Conn {
        req: req.clone(),
        ..Conn::default()
    };
    assert!(acl_matches("req.rdp_cookie alice", &c));
    assert!(acl_matches("req.rdp_cookie(MSTSHASH) alice", &c));
    assert!(!acl_matches("req.rdp_cookie(other) -m found", &c));
    assert_eq!(eval_with(&[], "if RDP_COOKIE", &c, false), Tri::Match);
    req.truncate(req.len() - 3);
    let part = Conn {
        req,
        ..Conn::default()
    };
    assert_eq!(eval_with(&[], "if RDP_COOKIE", &part, false), Tri::NeedMore);
    assert_eq!(eval_with(&[], "if RDP_COOKIE", &part, true), Tri::NoMatch);
}

#[test]
fn converters_lower_upper_maps() {
    let c = tls_conn("WWW.Example.COM");
    assert!(acl_matches("req.ssl_sni,lower www.example.com", &c));
    assert!(acl_matches(
        "req.ssl_sni,upper,lower,upper WWW.EXAMPLE.COM",
        &c
    ));
    let map = TempFile::new(
        "sni.map",
        "# sites\nexample.com  be_example\nwww.example.com be_www\n",
    );
    assert!(
        acl_matches(
            &format!("req.ssl_sni,lower,map_dom({}) be_example", map.path),
            &c
        ),
        "first line wins"
    );
    assert!(acl_matches(
        &format!("req.ssl_sni,lower,map({}) be_www", map.path),
        &c
    ));
    assert!(
        acl_matches(&format!("req.ssl_sni,map({},none) none", map.path), &c),
        "default"
    );
    assert!(
        !acl_matches(&format!("req.ssl_sni,map({}) -m found", map.path), &c),
        "no default: no sample"
    );
    // The longest matching key wins, as HAProxy's prefix tree.
    let beg = TempFile::new("beg.map", "WWW. a\nWWW.Ex b\n");
    assert!(acl_matches(
        &format!("req.ssl_sni,map_beg({}) b", beg.path),
        &c
    ));
    let end = TempFile::new("end.map", ".COM c\n");
    assert!(acl_matches(
        &format!("req.ssl_sni,map_end({}) c", end.path),
        &c
    ));
    let reg = TempFile::new("reg.map", "^W+\\. r\n");
    assert!(acl_matches(
        &format!("req.ssl_sni,map_reg({}) r", reg.path),
        &c
    ));
    let nets = TempFile::new("nets.map", "10.0.0.0/8 wide\n10.1.0.0/16 narrow\n");
    assert!(acl_matches(
        &format!("src,map_ip({}) narrow", nets.path),
        &Conn::default()
    ));
    let ints = TempFile::new("ports.map", "443 tls\n22 ssh\n");
    assert!(acl_matches(
        &format!("dst_port,map_int({}) tls", ints.path),
        &Conn::default()
    ));
    let typed = TempFile::new("typed.map", "fe_main 7\n");
    assert!(acl_matches(
        &format!("fe_name,map_str_int({}) gt 6", typed.path),
        &Conn::default()
    ));
    assert!(
        acl_error(&format!("fe_name,map_str_int({},x)", typed.path)).contains("not an integer")
    );
    assert!(acl_error("fe_name,map_nope(/x)").contains("unknown converter"));
    assert!(acl_error("fe_name,map(/nonexistent/l4lb.map)").contains("/nonexistent/l4lb.map"));
    let bad = TempFile::new("bad.map", "10.0.0.0/8 a\nnot-a-net b\n");
    assert!(
        acl_error(&format!("src,map_ip({})", bad.path)).contains(":2:"),
        "the file's line"
    );
}

#[test]
fn expressions_evaluate_without_a_pattern() {
    let map = TempFile::new("be.map", "www.example.com be_www\n");
    let e = Expr::parse(&format!(
        "req.ssl_sni,lower,map_str({},be_default)",
        map.path
    ))
    .unwrap();
    let mut scratch = Scratch::new(256);
    let c = tls_conn("WWW.EXAMPLE.COM");
    assert_eq!(
        e.eval(&c, true, 0, &mut scratch).sample,
        Some(Sample::Str(b"be_www"))
    );
    let c = tls_conn("other");
    assert_eq!(
        e.eval(&c, true, 0, &mut scratch).sample,
        Some(Sample::Str(b"be_default"))
    );
    let mut tiny = Scratch::new(4);
    let e = Expr::parse("req.ssl_sni,lower").unwrap();
    assert_eq!(
        e.eval(&c, true, 0, &mut tiny).sample,
        None,
        "too long for the scratch buffer"
    );
}
