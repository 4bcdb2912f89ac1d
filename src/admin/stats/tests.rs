//! The rows' unit tests: counts, states, rates and names as `show stat`
//! shows them.

use std::sync::Arc;

use super::*;
use crate::backend::ConnGuard;
use crate::shared::{Admission, BackendSeat};
use crate::testutil::shared;

const CONF: &str = "\
global
maxconn 50
frontend fe
bind 127.0.0.1:8001
maxconn 10
default_backend be
backend be
server a 127.0.0.1:9001 maxconn 5
server b 127.0.0.1:9002 weight 3
server c 127.0.0.1:9003 backup weight 2
server d 127.0.0.1:9004 disabled
";

fn all(s: &Shared) -> Vec<Row> {
    rows(s, &Rates::default())
}

fn row(s: &Shared, svname: &str) -> Row {
    all(s)
        .into_iter()
        .find(|r| r.svname == svname)
        .unwrap_or_else(|| panic!("no row {svname}"))
}

fn server<'a>(s: &'a Shared, name: &str) -> &'a Arc<Server> {
    s.find_server("be", name).unwrap().1
}

/// Says `check rise 2 fall 3` was configured and sets the health
/// counter (0..=4: DOWN at 0, UP at 4).
fn checked(s: &Server, up: bool, health: u32) {
    s.check.enabled.store(true, Relaxed);
    s.check.rise.store(2, Relaxed);
    s.check.fall.store(3, Relaxed);
    s.check.health.store(health, Relaxed);
    s.set_up(up);
}

#[test]
fn rows_come_in_haproxys_order() {
    let s = shared(CONF);
    let names: Vec<(Option<Kind>, String)> =
        all(&s).into_iter().map(|r| (r.kind, r.svname)).collect();
    let want = [
        (Kind::Frontend, "FRONTEND"),
        (Kind::Server, "a"),
        (Kind::Server, "b"),
        (Kind::Server, "c"),
        (Kind::Server, "d"),
        (Kind::Backend, "BACKEND"),
    ]
    .map(|(k, n)| (Some(k), n.to_string()));
    assert_eq!(names, want);
}

#[test]
fn server_status_words_say_admin_state_then_health() {
    let s = shared(CONF);
    let (a, b) = (server(&s, "a"), server(&s, "b"));
    let status = |name: &str| row(&s, name).status;
    assert_eq!(status("a"), "no check");
    assert_eq!(status("d"), "MAINT");
    a.set_up(false);
    assert_eq!(status("a"), "DOWN", "no check, but marked DOWN");
    b.set_admin(Admin::Drain);
    assert_eq!(status("b"), "DRAIN");
    b.set_admin(Admin::Maint);
    assert_eq!(status("b"), "MAINT");
    b.set_admin(Admin::Ready);

    for (up, health, want) in [
        (true, 4, "UP"),
        (true, 3, "UP 2/3"),
        (true, 2, "UP 1/3"),
        (false, 0, "DOWN"),
        (false, 1, "DOWN 1/2"),
    ] {
        checked(a, up, health);
        assert_eq!(status("a"), want, "up {up}, health {health}");
    }
}

#[test]
fn a_server_row_reads_its_counters_and_settings() {
    let s = shared(CONF);
    let a = server(&s, "a");
    let st = &a.stats;
    let _held = [
        ConnGuard::acquire(a).unwrap(),
        ConnGuard::acquire(a).unwrap(),
    ];
    st.bytes_in.store(100, Relaxed);
    st.bytes_out.store(2000, Relaxed);
    st.connect_failures.store(3, Relaxed);
    st.retries.store(4, Relaxed);
    st.redispatches.store(1, Relaxed);
    st.cli_aborts.store(5, Relaxed);
    st.srv_aborts.store(6, Relaxed);
    a.set_ramp(RAMP_FULL / 4);
    let r = row(&s, "a");
    assert_eq!(
        (r.pxname.as_str(), r.scur, r.smax, r.slim),
        ("be", 2, 2, Some(5))
    );
    assert_eq!((r.stot, r.bin, r.bout), (2, 100, 2000));
    assert_eq!((r.econ, r.wretr, r.wredis), (3, 4, 1));
    assert_eq!((r.cli_abrt, r.srv_abrt), (5, 6));
    assert_eq!((r.weight, r.act, r.bck), (1, 1, 0));
    assert_eq!(r.throttle, Some(25), "slow start: a quarter of its weight");
    assert_eq!(r.addr.as_deref(), Some("127.0.0.1:9001"));
    assert_eq!(
        (r.chkfail, r.check_status, r.check_health),
        (None, None, None)
    );

    let c = row(&s, "c");
    assert_eq!((c.slim, c.throttle, c.weight), (None, None, 2));
    assert_eq!((c.act, c.bck), (0, 1), "a backup counts as one");

    checked(a, false, 0);
    a.check.failed.store(7, Relaxed);
    a.check.downs.store(2, Relaxed);
    a.check.status.store(CheckStatus::L4Con as u8, Relaxed);
    let r = row(&s, "a");
    assert_eq!((r.chkfail, r.chkdown), (Some(7), Some(2)));
    assert_eq!(r.check_status, Some("L4CON"));
    assert_eq!(
        (r.check_rise, r.check_fall, r.check_health),
        (Some(2), Some(3), Some(0))
    );
}

#[test]
fn a_backend_row_totals_its_servers_and_counts_those_in_service() {
    let s = shared(CONF);
    for (name, total, bytes_in) in [("a", 2, 10), ("b", 3, 20), ("c", 4, 40)] {
        let st = &server(&s, name).stats;
        st.total.store(total, Relaxed);
        st.bytes_in.store(bytes_in, Relaxed);
        st.connect_failures.store(1, Relaxed);
    }
    let _seats = [BackendSeat::take(&s, 0), BackendSeat::take(&s, 0)];
    let be = row(&s, "BACKEND");
    assert_eq!((be.scur, be.smax, be.slim), (2, 2, None));
    assert_eq!((be.stot, be.bin, be.econ), (9, 70, 3));
    assert_eq!(be.algo, Some("roundrobin"));
    // a and b are active and UP; c is a backup; d is in maintenance.
    assert_eq!(
        (be.status.as_str(), be.act, be.bck, be.weight),
        ("UP", 2, 1, 4)
    );

    server(&s, "a").set_up(false);
    server(&s, "b").set_admin(Admin::Drain);
    let be = row(&s, "BACKEND");
    assert_eq!(
        (be.status.as_str(), be.act, be.bck, be.weight),
        ("UP", 0, 1, 2),
        "only the backup: its weight is the backend's"
    );
    server(&s, "c").set_up(false);
    let be = row(&s, "BACKEND");
    assert_eq!(
        (be.status.as_str(), be.act, be.bck, be.weight),
        ("DOWN", 0, 0, 0)
    );
}

#[test]
fn a_frontend_row_counts_its_clients() {
    let s = shared(CONF);
    let mut a = Admission::reserve(&s, 0).unwrap();
    a.admitted();
    let _b = Admission::reserve(&s, 0).unwrap();
    s.frontends[0].rejected.store(3, Relaxed);
    s.frontends[0].bytes_out.store(42, Relaxed);
    let fe = row(&s, "FRONTEND");
    assert_eq!((fe.pxname.as_str(), fe.status.as_str()), ("fe", "OPEN"));
    assert_eq!((fe.scur, fe.smax, fe.slim, fe.stot), (2, 1, Some(10), 1));
    assert_eq!((fe.rejected, fe.bout), (3, 42));
}

#[test]
fn show_stat_fields_follow_the_columns() {
    let s = shared(CONF);
    let rows = all(&s);
    let fields = fields(&rows, &s);
    let col = |r: usize, name: &str| {
        let c = COLUMNS.iter().position(|&c| c == name).unwrap();
        fields[r][c].as_str()
    };
    assert!(fields.iter().all(|f| f.len() == COLUMNS.len()));
    // Rows: FRONTEND, a, b, c, d, BACKEND.
    assert_eq!(
        [col(0, "type"), col(0, "iid"), col(0, "sid")],
        ["0", "1", "0"]
    );
    assert_eq!(
        [col(2, "type"), col(2, "iid"), col(2, "sid")],
        ["2", "2", "2"]
    );
    assert_eq!(
        [col(5, "type"), col(5, "iid"), col(5, "sid")],
        ["1", "2", "0"]
    );
    assert_eq!(
        [col(0, "econ"), col(0, "weight")],
        ["", ""],
        "not a frontend's"
    );
    assert_eq!([col(1, "status"), col(4, "status")], ["no check", "MAINT"]);
    assert_eq!([col(1, "mode"), col(5, "algo")], ["tcp", "roundrobin"]);
    assert_eq!(col(0, "dcon"), "0");

    let csv = csv(&rows, &s);
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("# pxname,svname,qcur,"));
    assert!(lines.next().unwrap().starts_with("fe,FRONTEND,"));
    assert_eq!(lines.count(), 5);
}

#[test]
fn csv_fields_with_commas_or_quotes_are_quoted() {
    assert_eq!(csv_escape("plain"), "plain");
    assert_eq!(csv_escape("a,b"), "\"a,b\"");
    assert_eq!(csv_escape("say \"hi\"\nbye"), "\"say \"\"hi\"\" bye\"");
}

#[test]
fn a_listen_section_is_one_proxy_id() {
    let s = shared(
        "frontend fe\n bind 127.0.0.1:8001\n default_backend be\n\
         listen app\n bind 127.0.0.1:8002\n server x 127.0.0.1:9009\n\
         backend be\n server a 127.0.0.1:9001\n",
    );
    let rows = all(&s);
    let ids: Vec<(String, String, usize)> = row_ids(&rows, &s)
        .into_iter()
        .zip(&rows)
        .map(|((iid, _), r)| (r.pxname.clone(), r.svname.clone(), iid))
        .collect();
    let iid = |px: &str, sv: &str| ids.iter().find(|r| r.0 == px && r.1 == sv).unwrap().2;
    assert_eq!(iid("app", "FRONTEND"), iid("app", "BACKEND"));
    assert_eq!(iid("app", "x"), iid("app", "FRONTEND"));
    assert_ne!(iid("fe", "FRONTEND"), iid("be", "BACKEND"));
    assert_ne!(iid("be", "BACKEND"), iid("app", "BACKEND"));
}

#[test]
fn algorithm_names_are_haproxys() {
    assert_eq!(algo_name(Balance::Source { consistent: true }), "source");
    assert_eq!(algo_name(Balance::Random { draws: 2 }), "random");
    assert_eq!(algo_name(Balance::First), "first");
}
