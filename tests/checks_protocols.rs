//! The protocol health checks (`option redis-check`, `pgsql-check`,
//! `mysql-check`, `ldap-check`, `smtpchk`, `ssl-hello-chk`, and a
//! `tcp-check` for Redis's role) against fake servers: for every kind of
//! answer (right, wrong, slow, closed, cut, garbage) the server's status
//! and check status are what HAProxy 2.6 shows for the same fake; and
//! clients reach only the servers that pass.

mod common;

use common::fakes::*;

/// A server that closes at once: a reset of the check's send (SOCKERR) or,
/// when the FIN comes first, an empty response (L7RSP).
const CLOSED: &[&str] = &["SOCKERR", "L7RSP"];

fn redis_cases() -> Cases<&'static str> {
    six(
        || Fake::redis("master"),
        [
            shows("UP", &["L7OK"], ""),
            // -LOADING is no +PONG, but more might come: HAProxy waits.
            shows("DOWN", &["L7TOUT"], ""),
            shows("DOWN", &["L7TOUT"], ""),
            shows("DOWN", CLOSED, ""),
            shows("DOWN", &["L7STS"], "+PO"),
            shows("DOWN", &["L7TOUT"], ""),
        ],
    )
}

#[test]
fn redis_check_pings_and_wants_pong() {
    let cases = without(redis_cases(), &["wrong", "garbage"]);
    let _c = assert_cases("redis", "option redis-check", &cases);
    let ping = cases[0].1.last_request().unwrap();
    assert_eq!(
        ping, b"*1\r\n$4\r\nPING\r\n",
        "HAProxy's PING, as a RESP array"
    );
}

/// HAProxy's `expect string +PONG` has no min-recv: a mismatch waits for
/// more bytes until the close or `timeout check`. A Redis still loading
/// keeps the connection open, so HAProxy shows L7TOUT.
#[test]
fn redis_check_waits_for_more_after_a_mismatch_as_haproxy() {
    let _c = assert_cases(
        "redis",
        "option redis-check",
        &only(redis_cases(), &["wrong", "garbage"]),
    );
}

fn pgsql_cases() -> Cases<PgAuth> {
    let mut cases = six(
        Fake::pgsql,
        [
            shows("UP", &["L7OK"], ""),
            shows("DOWN", &["L7RSP"], "FATAL"),
            shows("DOWN", &["L7TOUT"], ""),
            shows("DOWN", CLOSED, ""),
            shows("DOWN", &["L7STS"], ""),
            shows("DOWN", &["L7STS"], ""),
        ],
    );
    for (name, auth) in [("md5", PgAuth::Md5), ("sasl", PgAuth::Sasl)] {
        let fake = Fake::pgsql();
        fake.set(auth);
        cases.push((name.into(), fake, shows("UP", &["L7OK"], "")));
    }
    cases
}

#[test]
fn pgsql_check_sends_a_startup_and_wants_an_auth_request() {
    let cases = without(pgsql_cases(), &["close"]);
    let _c = assert_cases("pg", "option pgsql-check user hauser", &cases);
    let startup = cases[0].1.last_request().unwrap();
    assert_eq!(
        &startup[..8],
        b"\0\0\0\x15\0\x03\0\0",
        "length, protocol 3.0"
    );
    assert_eq!(pg_user(&startup).as_deref(), Some("hauser"));
}

/// HAProxy fails an expect on an empty response at the close with that
/// rule's error status: the first rule's, L7RSP (or SOCKERR on a reset).
#[test]
fn pgsql_check_an_empty_response_fails_the_first_rule_as_haproxy() {
    let _c = assert_cases(
        "pg",
        "option pgsql-check user hauser",
        &only(pgsql_cases(), &["close"]),
    );
}

#[test]
fn mysql_check_without_user_reads_the_greeting() {
    let cases = six(
        Fake::mysql,
        [
            shows("UP", &["L7OK"], ""),
            shows("DOWN", &["L7STS"], "is not allowed to connect"),
            shows("DOWN", &["L7TOUT"], ""),
            // The server speaks first: a close is an empty response.
            shows("DOWN", &["L7RSP"], ""),
            shows("DOWN", &["L7RSP"], ""),
            // A garbage length: HAProxy waits for the rest of the packet.
            shows("DOWN", &["L7TOUT"], ""),
        ],
    );
    let _c = assert_cases("my", "option mysql-check", &cases);
    assert!(cases[0].1.last_request().is_none(), "no user: nothing sent");
}

#[test]
fn mysql_check_with_user_logs_in_and_quits() {
    let mut cases = six(
        Fake::mysql,
        [
            shows("UP", &["L7OK"], ""),
            shows("DOWN", &["L7STS"], "is not allowed to connect"),
            shows("DOWN", &["L7TOUT"], ""),
            shows("DOWN", CLOSED, ""),
            shows("DOWN", &["L7RSP"], ""),
            shows("DOWN", &["L7TOUT"], ""),
        ],
    );
    let denied = Fake::mysql();
    denied.set(MysqlAuth::Denied);
    cases.push((
        "denied".into(),
        denied,
        shows("DOWN", &["L7STS"], "Access denied"),
    ));
    let c = assert_cases("myu", "option mysql-check user hauser", &cases);
    let auth = cases[0].1.last_request().unwrap();
    assert_eq!(mysql_user(&auth).as_deref(), Some("hauser"));
    assert_eq!(auth[3], 1, "the client's packet is number 1");
    assert!(auth.ends_with(&[1, 0, 0, 0, 1]), "then COM_QUIT: {auth:?}");
    drop(c);
    // pre-41: the old, shorter packet; post-41 is the default.
    let fake = Fake::mysql();
    let (_, s) = listen(
        "old",
        "option mysql-check user hauser pre-41",
        &[("s", fake.addr(), "")],
    );
    let c = Checked::start(&s);
    c.wait_for("old", "s", "UP", &["L7OK"]);
    let auth = fake.last_request().unwrap();
    assert_eq!(&auth[..9], b"\x0d\0\0\x01\0\x80\0\0\x01", "pre-41 header");
    assert_eq!(mysql_user(&auth).as_deref(), Some("hauser"));
}

#[test]
fn ldap_check_binds_anonymously() {
    let cases = six(
        Fake::ldap,
        [
            shows("UP", &["L7OK"], ""),
            shows("DOWN", &["L7STS"], ""),
            shows("DOWN", &["L7TOUT"], ""),
            shows("DOWN", CLOSED, ""),
            shows("DOWN", &["L7RSP"], ""),
            shows("DOWN", &["L7RSP"], ""),
        ],
    );
    let _c = assert_cases("ldap", "option ldap-check", &cases);
    let bind = cases[0].1.last_request().unwrap();
    assert_eq!(
        bind,
        b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00"
    );
}

/// smtpchk's cases, HELO or EHLO alike.
fn smtp_cases() -> Cases<Smtp> {
    let mut cases = six(
        Fake::smtp,
        [
            shows("UP", &["L7OK"], ""),
            shows("DOWN", &["L7STS"], "no service here"),
            shows("DOWN", &["L7TOUT"], ""),
            shows("DOWN", &["L7RSP"], ""),
            shows("DOWN", &["L7STS", "SOCKERR"], ""),
            shows("DOWN", &["L7RSP"], ""),
        ],
    );
    let refusing = Fake::smtp();
    refusing.set(Smtp {
        banner: 220,
        helo: 501,
    });
    // No 2xx after HELO, and the server keeps the line open: HAProxy waits.
    cases.push(("refused".into(), refusing, shows("DOWN", &["L7TOUT"], "")));
    let busy = Fake::smtp();
    busy.set(Smtp {
        banner: 421,
        helo: 250,
    });
    cases.push(("busy".into(), busy, shows("DOWN", &["L7STS"], "")));
    cases
}

/// The smtpchk cases that take `timeout check` or a close after HELO:
/// their own test (see below).
const SMTP_DIFFERS: &[&str] = &["refused", "closemid"];

#[test]
fn smtpchk_says_helo_localhost_by_default() {
    let cases = without(smtp_cases(), SMTP_DIFFERS);
    let c = assert_cases("smtp", "option smtpchk", &cases);
    assert_eq!(
        c.row("smtp_right", "s").check_code,
        "221",
        "check_code: QUIT's reply"
    );
    assert_eq!(c.row("smtp_wrong", "s").check_code, "554");
    let said = cases[0].1.last_request().unwrap();
    assert_eq!(said, b"HELO localhost\r\nQUIT\r\n");
}

#[test]
fn smtpchk_ehlo_takes_a_multi_line_250() {
    let cases = without(smtp_cases(), SMTP_DIFFERS);
    let c = assert_cases("esmtp", "option smtpchk EHLO fake.example", &cases);
    assert_eq!(
        c.row("esmtp_right", "s").check_code,
        "221",
        "check_code: QUIT's reply"
    );
    assert_eq!(c.row("esmtp_wrong", "s").check_code, "554");
    let said = cases[0].1.last_request().unwrap();
    assert_eq!(said, b"EHLO fake.example\r\nQUIT\r\n");
}

/// HAProxy 2.6: a 501 to HELO fails no rule at once (the 2xx rule has no
/// min-recv and the server keeps the line open: L7TOUT); an empty
/// response after HELO fails with that rule's L7STS.
#[test]
fn smtpchk_mismatches_and_empty_replies_as_haproxy() {
    let _c = assert_cases("smtp", "option smtpchk", &only(smtp_cases(), SMTP_DIFFERS));
    let _c = assert_cases(
        "esmtp",
        "option smtpchk EHLO fake.example",
        &only(smtp_cases(), SMTP_DIFFERS),
    );
}

fn ssl_hello_cases() -> Cases<()> {
    six(
        Fake::ssl_hello,
        [
            shows("UP", &["L6OK"], ""),
            shows("DOWN", &["L6RSP"], ""),
            shows("DOWN", &["L6TOUT"], ""),
            shows("DOWN", &["SOCKERR", "L6RSP"], ""),
            // Its first five bytes are a handshake record's: enough.
            shows("UP", &["L6OK"], ""),
            shows("DOWN", &["L6RSP"], ""),
        ],
    )
}

#[test]
fn ssl_hello_chk_wants_a_tls_record_back() {
    let cases = ssl_hello_cases();
    let _c = assert_cases("ssl", "option ssl-hello-chk", &cases);
    let hello = cases[0].1.last_request().unwrap();
    assert_eq!(&hello[..3], b"\x16\x03\x00", "an SSLv3 handshake record");
    assert_eq!(hello[5], 1, "a ClientHello");
}

const ROLE_MASTER: &str = "option tcp-check\ntcp-check send info\\ replication\\r\\n\n\
                           tcp-check expect rstring role:master";

#[test]
fn tcp_check_finds_the_redis_master_by_its_role() {
    let mut cases = six(
        || Fake::redis("master"),
        [
            shows("UP", &["L7OK"], ""),
            shows("DOWN", &["L7TOUT"], ""),
            shows("DOWN", &["L7TOUT"], ""),
            shows("DOWN", CLOSED, ""),
            shows("DOWN", &["L7RSP"], ""),
            shows("DOWN", &["L7TOUT"], ""),
        ],
    );
    // No match yet and the connection open: more might come.
    cases.push((
        "slave".into(),
        Fake::redis("slave"),
        shows("DOWN", &["L7TOUT"], ""),
    ));
    let _c = assert_cases("role", ROLE_MASTER, &cases);
    assert_eq!(cases[0].1.last_request().unwrap(), b"info replication\r\n");
}

#[test]
fn tcp_check_not_rstring_decides_at_min_recv_or_waits() {
    let wait = "option tcp-check\ntcp-check send PING\\r\\n\ntcp-check expect string +PONG\n\
                tcp-check send info\\ replication\\r\\n\ntcp-check expect ! rstring role:slave";
    let decide = "option tcp-check\ntcp-check send info\\ replication\\r\\n\n\
                  tcp-check expect min-recv 20 ! rstring role:slave";
    // The fakes must live as long as the proxy: keep them.
    let fakes = [
        Fake::redis("master"),
        Fake::redis("slave"),
        Fake::redis("master"),
        Fake::redis("slave"),
    ];
    let confs = [wait, wait, decide, decide];
    let names = ["wait_master", "wait_slave", "decide_master", "decide_slave"];
    let sections: String = fakes
        .iter()
        .zip(confs)
        .zip(names)
        .map(|((f, conf), name)| listen(name, conf, &[("s", f.addr(), "")]).1)
        .collect();
    let c = Checked::start(&sections);
    // Without min-recv a `!` can only pass at the close or timeout: HAProxy
    // times out on the master, and fails the slave as soon as it matches.
    c.wait_for("wait_master", "s", "DOWN", &["L7TOUT"]);
    c.wait_for("wait_slave", "s", "DOWN", &["L7RSP"]);
    c.wait_for("decide_master", "s", "UP", &["L7OK"]);
    c.wait_for("decide_slave", "s", "DOWN", &["L7RSP"]);
}

/// Asks the Redis role through the proxy on `port`.
fn role_through(port: u16) -> String {
    let back = through(port, "INFO replication");
    let text = String::from_utf8_lossy(&back);
    text.lines()
        .find_map(|l| l.strip_prefix("role:"))
        .unwrap_or("none")
        .to_string()
}

#[test]
fn clients_reach_only_the_redis_master_and_follow_a_switch() {
    let a = Fake::redis("master");
    let b = Fake::redis("slave");
    let lines = format!("balance roundrobin\n{ROLE_MASTER}");
    let (port, s) = listen("r", &lines, &[("a", a.addr(), ""), ("b", b.addr(), "")]);
    let c = Checked::start(&s);
    c.wait_for("r", "a", "UP", &["L7OK"]);
    c.wait_for("r", "b", "DOWN", &["L7TOUT"]);
    for _ in 0..6 {
        assert_eq!(role_through(port), "master");
    }
    assert!(!b.got("INFO replication"), "no client reached the slave");
    // A failover: b is promoted, a demoted.
    b.set("master");
    a.set("slave");
    c.wait_for("r", "b", "UP", &["L7OK"]);
    c.wait_for("r", "a", "DOWN", &["L7TOUT"]);
    for _ in 0..6 {
        assert_eq!(role_through(port), "master");
    }
    assert!(b.got("INFO replication"), "clients follow the new master");
}

#[test]
fn a_server_demoted_while_running_goes_down_and_comes_back() {
    let pg = Fake::pgsql();
    let (_, s) = listen(
        "pg",
        "option pgsql-check user hauser",
        &[("s", pg.addr(), "")],
    );
    let c = Checked::start(&s);
    c.wait_for("pg", "s", "UP", &["L7OK"]);
    pg.set_mode(Mode::Wrong);
    let row = c.wait_for("pg", "s", "DOWN", &["L7RSP"]);
    assert!(row.check_desc.contains("FATAL"), "{row:?}");
    pg.set_mode(Mode::Right);
    c.wait_for("pg", "s", "UP", &["L7OK"]);
}

#[test]
fn clients_reach_only_the_mysql_server_that_passes() {
    let good = Fake::mysql();
    let bad = Fake::mysql();
    good.set(MysqlAuth::Ok);
    bad.set(MysqlAuth::Denied);
    let (port, s) = listen(
        "db",
        "balance roundrobin\noption mysql-check user hauser",
        &[("good", good.addr(), ""), ("bad", bad.addr(), "")],
    );
    let c = Checked::start(&s);
    c.wait_for("db", "good", "UP", &["L7OK"]);
    c.wait_for("db", "bad", "DOWN", &["L7STS"]);
    for i in 0..6 {
        through(port, &format!("client-{i}"));
    }
    assert!(
        (0..6).all(|i| good.got(&format!("client-{i}"))),
        "every client reached good"
    );
    assert!(!bad.got("client-"), "none reached bad");
}

/// HAProxy's check_code: the MySQL error number, the LDAP resultCode, and 0
/// for a tcp-check rule set that passed (redis-check, pgsql-check).
#[test]
fn check_code_is_haproxys_for_mysql_ldap_redis_and_pgsql() {
    let refused = Fake::mysql();
    refused.set_mode(Mode::Wrong);
    let denied = Fake::mysql();
    denied.set(MysqlAuth::Denied);
    let bad_bind = Fake::ldap();
    bad_bind.set_mode(Mode::Wrong);
    let (bind, redis, pg) = (Fake::ldap(), Fake::redis("master"), Fake::pgsql());
    let cases = [
        (
            "refused",
            "option mysql-check user u",
            refused.addr(),
            "1130",
        ),
        ("denied", "option mysql-check user u", denied.addr(), "1045"),
        ("bad_bind", "option ldap-check", bad_bind.addr(), "49"),
        ("bind", "option ldap-check", bind.addr(), "0"),
        ("redis", "option redis-check", redis.addr(), "0"),
        ("pg", "option pgsql-check user u", pg.addr(), "0"),
    ];
    let sections: String = cases
        .iter()
        .map(|(n, l, at, _)| listen(n, l, &[("s", *at, "")]).1)
        .collect();
    let c = Checked::start(&sections);
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(n, _, _, code)| {
            let (last, held) = c.try_wait(n, "s", |r| r.check_code == *code);
            (!held).then(|| {
                format!(
                    "{n}: want check_code {code}, got {:?} ({})",
                    last.check_code, last.check_status
                )
            })
        })
        .collect();
    assert!(wrong.is_empty(), "not as HAProxy:\n{}", wrong.join("\n"));
}
