//! Active health checks: the prober marks dead servers DOWN and live ones
//! UP again, and the balancer stops sending to a DOWN server.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;

/// Waits (bounded) for the `nth` log line containing `text`; returns when.
fn wait_log(l4: &L4lb, text: &str, nth: usize, limit: Duration) -> Instant {
    let seen = wait_until(limit, || {
        l4.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(text))
            .count()
            >= nth
    });
    assert!(
        seen,
        "no log line '{text}' (#{nth}) within {limit:?}:\n{}",
        l4.log_text()
    );
    Instant::now()
}

#[test]
fn a_killed_server_is_marked_down_then_up_again_and_skipped_meanwhile() {
    let a = Backend::named("a");
    let b = Backend::named("b");
    let a_port = a.port;
    let port = free_port();
    let check = "check inter 200ms rise 2 fall 2";
    let conf = format!(
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
         listen l\n  bind 127.0.0.1:{port}\n  balance roundrobin\n  server a {} {check}\n  server b {} {check}\n",
        a.addr(),
        b.addr()
    );
    let l4 = L4lb::start(&conf);
    // Checks are connects the backend counts: after two passed checks the
    // server is steadily UP (a server starts one failure away from DOWN).
    let counts = std::sync::Arc::clone(&a.counts);
    let steady = wait_until(Duration::from_secs(5), || {
        counts.total.load(std::sync::atomic::Ordering::SeqCst) >= 2
    });
    assert!(steady, "the prober checks a");
    let killed = Instant::now();
    drop(a);
    let down =
        wait_log(&l4, "server l/a is DOWN", 1, Duration::from_secs(5)).duration_since(killed);
    // fall = 2: one failure is not enough (the second check comes a
    // fastinter later), and both come within about two intervals.
    assert!(
        down >= Duration::from_millis(150),
        "hysteresis: DOWN after {down:?}"
    );
    assert!(
        down <= Duration::from_millis(1200),
        "DOWN within fall x inter: {down:?}"
    );
    for _ in 0..10 {
        assert_eq!(round_trip(port), "b", "no connection to a DOWN server");
    }
    let back = Instant::now();
    let _a = Backend::named_at("a", a_port);
    let up = wait_log(&l4, "server l/a is UP", 1, Duration::from_secs(5)).duration_since(back);
    assert!(
        up >= Duration::from_millis(150),
        "rise = 2: not at the first success: {up:?}"
    );
    assert!(
        up <= Duration::from_millis(1200),
        "UP within rise x inter: {up:?}"
    );
    let names: Vec<String> = (0..10).map(|_| round_trip(port)).collect();
    assert!(
        names.iter().any(|n| n == "a"),
        "a takes traffic again: {names:?}"
    );
}

/// `n` clients, each connecting again and again (read the server's name,
/// send a ping, check its echo) until `stop` or 30 s; each returns what
/// every connection got: the server's name, or the error.
fn steady_clients(
    port: u16,
    n: usize,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<Result<String, String>>>> {
    (0..n)
        .map(|_| {
            let stop = std::sync::Arc::clone(stop);
            std::thread::spawn(move || {
                let mut results = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(30);
                while !stop.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
                    let mut conn = connect(port);
                    let got = read_line(&mut conn).and_then(|name| {
                        conn.write_all(b"ping\n")?;
                        let echo = read_line(&mut conn)?;
                        Ok(if echo == "ping" {
                            name
                        } else {
                            format!("bad echo {echo}")
                        })
                    });
                    results.push(got.map_err(|e| e.to_string()));
                }
                results
            })
        })
        .collect()
}

#[test]
fn every_client_succeeds_while_a_server_is_killed_and_restarted() {
    let a = Backend::named("a");
    let b = Backend::named("b");
    let c = Backend::named("c");
    let b_port = b.port;
    let port = free_port();
    let check = "check inter 100ms fall 2 rise 2";
    let dir = TempDir::new("failover");
    let path = dir.0.join("l4lb.conf");
    std::fs::write(
        &path,
        format!(
            "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 10s\n  timeout server 10s\n  \
             retries 3\n  option redispatch\n  retry-on conn-failure empty-response\n\
             listen l\n  bind 127.0.0.1:{port}\n  balance roundrobin\n  server a {} {check}\n  \
             server b {} {check}\n  server c {} {check}\n",
            a.addr(),
            b.addr(),
            c.addr()
        ),
    )
    .unwrap();
    // Debug level: every failed connect to a server is logged, by name.
    let l4 = L4lb::spawn(&["-f", path.to_str().unwrap(), "--log-level", "debug"], dir);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients = steady_clients(port, 2, &stop);
    std::thread::sleep(Duration::from_millis(300)); // Traffic before the kill.
    drop(b);
    wait_log(&l4, "server l/b is DOWN", 1, Duration::from_secs(5));
    // Connects started just before DOWN may still fail (and log) just after
    // it; past this grace, any connect to b would be a new pick of b.
    std::thread::sleep(Duration::from_millis(200));
    let grace_end = l4.log.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(400)); // Traffic while it is down.
    let window_end = l4.log.lock().unwrap().len();
    let _b = Backend::named_at("b", b_port);
    wait_log(&l4, "server l/b is UP", 1, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300)); // Traffic after it is back.
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let results: Vec<Result<String, String>> = clients
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let failed: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
    assert!(
        failed.is_empty(),
        "{} of {} failed: {failed:?}",
        failed.len(),
        results.len()
    );
    assert!(results.len() >= 30, "a steady stream: {}", results.len());
    let names = |n: &str| results.iter().filter(|r| r.as_deref() == Ok(n)).count();
    assert!(
        names("b") > 0 && names("a") > 0 && names("c") > 0,
        "all three served"
    );
    // While b was DOWN, no connection was tried on it (while before DOWN,
    // traffic did meet the dead b: the debug lines are there).
    let log = l4.log.lock().unwrap();
    let is_b_try = |l: &&String| l.contains("connect to b (");
    let down_line = log
        .iter()
        .position(|l| l.contains("server l/b is DOWN"))
        .unwrap();
    assert!(
        log[..down_line].iter().any(|l| is_b_try(&l)),
        "debug lines on"
    );
    let tried_b = log[grace_end..window_end]
        .iter()
        .filter(is_b_try)
        .collect::<Vec<_>>();
    assert!(tried_b.is_empty(), "sent to b while DOWN: {tried_b:?}");
}

#[test]
fn a_server_that_never_accepts_is_caught_by_timeout_check() {
    let (_hole, _fillers, hole) = black_hole();
    let good = Backend::named("good");
    let port = free_port();
    let conf = format!(
        "defaults\n  mode tcp\n  timeout connect 3s\n  timeout check 300ms\n  timeout client 10s\n  \
         timeout server 10s\nlisten l\n  bind 127.0.0.1:{port}\n  balance roundrobin\n  \
         server hole {hole} check inter 200ms fall 1\n  server good {} check inter 200ms\n",
        good.addr()
    );
    let l4 = L4lb::start(&conf);
    wait_log(
        &l4,
        "server l/hole is DOWN (was UP): timeout after 300ms",
        1,
        Duration::from_secs(5),
    );
    for _ in 0..10 {
        let t = Instant::now();
        assert_eq!(round_trip(port), "good");
        // Sent to the hole, a connection would wait the 3 s connect timeout.
        assert!(
            t.elapsed() < Duration::from_millis(1500),
            "{:?}",
            t.elapsed()
        );
    }
}

#[test]
fn with_every_server_down_clients_are_closed_at_once_then_served_again() {
    let only = Backend::named("only");
    let only_port = only.port;
    let port = free_port();
    let conf = format!(
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
         listen l\n  bind 127.0.0.1:{port}\n  server only {} check inter 200ms rise 1 fall 1\n",
        only.addr()
    );
    let l4 = L4lb::start(&conf);
    drop(only);
    wait_log(&l4, "server l/only is DOWN", 1, Duration::from_secs(5));
    assert!(
        l4.log_text().contains("0 of 1 server(s) UP"),
        "{}",
        l4.log_text()
    );
    let t = Instant::now();
    // Accepted then reset: the reset may even beat the connect's own check.
    let closed = match std::net::TcpStream::connect_timeout(&addr(port), Duration::from_secs(2)) {
        Ok(mut c) => {
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            read_line(&mut c).is_err()
        }
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    assert!(closed, "no server: the client is closed");
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "closed at once, not after retries: {:?}",
        t.elapsed()
    );
    let _only = Backend::named_at("only", only_port);
    wait_log(&l4, "server l/only is UP", 1, Duration::from_secs(5));
    assert_eq!(round_trip(port), "only");
}

/// A Redis-like server: answers each `PING\r\n` with `+PONG\r\n`.
fn pong_server() -> Backend {
    Backend::start(|mut s| {
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = std::io::Read::read(&mut s, &mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            while let Some(end) = seen.windows(6).position(|w| w == b"PING\r\n") {
                seen.drain(..end + 6);
                if s.write_all(b"+PONG\r\n").is_err() {
                    return;
                }
            }
        }
    })
}

#[test]
fn a_server_that_accepts_but_never_answers_is_caught_by_tcp_check_expect() {
    // Accepts and reads, but never says a word: its port is open.
    let mute = Backend::start(|mut s| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut s, &mut sink);
    });
    let pong = pong_server();
    let port = free_port();
    let conf = format!(
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout check 300ms\n  timeout client 10s\n  \
         timeout server 10s\nlisten redis\n  bind 127.0.0.1:{port}\n  balance roundrobin\n  \
         option tcp-check\n  tcp-check connect\n  tcp-check send PING\\r\\n\n  tcp-check expect string +PONG\n  \
         server mute {} check inter 200ms fall 1\n  server pong {} check inter 200ms fall 1\n",
        mute.addr(),
        pong.addr()
    );
    let l4 = L4lb::start(&conf);
    wait_log(
        &l4,
        "server redis/mute is DOWN (was UP): no \"+PONG\" within 300ms",
        1,
        Duration::from_secs(5),
    );
    for _ in 0..10 {
        let mut c = connect(port);
        c.write_all(b"PING\r\n").unwrap();
        assert_eq!(
            read_line(&mut c).unwrap(),
            "+PONG\r",
            "every client reaches the answering server"
        );
    }
    assert!(
        !l4.log_text().contains("server redis/pong is DOWN"),
        "{}",
        l4.log_text()
    );
}

#[test]
fn a_backup_server_takes_over_and_hands_back() {
    let main = Backend::named("main");
    let main_port = main.port;
    let spare = Backend::named("spare");
    let port = free_port();
    let conf = format!(
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
         listen l\n  bind 127.0.0.1:{port}\n  server main {} check inter 200ms rise 1 fall 1\n  \
         server spare {} backup\n",
        main.addr(),
        spare.addr()
    );
    let l4 = L4lb::start(&conf);
    for _ in 0..5 {
        assert_eq!(
            round_trip(port),
            "main",
            "a backup idles while the main server is UP"
        );
    }
    drop(main);
    wait_log(&l4, "server l/main is DOWN", 1, Duration::from_secs(5));
    for _ in 0..5 {
        assert_eq!(round_trip(port), "spare");
    }
    let _main = Backend::named_at("main", main_port);
    wait_log(&l4, "server l/main is UP", 1, Duration::from_secs(5));
    for _ in 0..5 {
        assert_eq!(round_trip(port), "main", "handed back");
    }
}

#[test]
fn a_flapping_server_does_not_flap_traffic() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    // Passes its first three checks, then fails every other one.
    let n = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&n);
    let flappy = Backend::start(move |mut s| {
        let i = seen.fetch_add(1, SeqCst);
        let mut buf = [0u8; 64];
        let _ = std::io::Read::read(&mut s, &mut buf);
        let reply: &[u8] = if i < 3 || i.is_multiple_of(2) {
            b"+PONG\r\n"
        } else {
            b"-ERR\r\n"
        };
        let _ = s.write_all(reply);
    });
    let port = free_port();
    let conf = format!(
        "defaults\n  mode tcp\n  timeout client 10s\n  timeout server 10s\n  timeout check 500ms\n\
         listen l\n  bind 127.0.0.1:{port}\n  option tcp-check\n  tcp-check send PING\\r\\n\n  \
         tcp-check expect string +PONG\n  server flappy {} check inter 100ms rise 2 fall 2\n",
        flappy.addr()
    );
    let l4 = L4lb::start(&conf);
    assert!(
        wait_until(Duration::from_secs(10), || n.load(SeqCst) >= 14),
        "14 checks ran"
    );
    assert!(
        !l4.log_text().contains("is DOWN"),
        "fall 2 holds against 1-in-2 failures:\n{}",
        l4.log_text()
    );
    assert_eq!(name_of_pong(port), "+PONG\r");
}

fn name_of_pong(port: u16) -> String {
    let mut c = connect(port);
    c.write_all(b"PING\r\n").unwrap();
    read_line(&mut c).unwrap()
}

#[test]
fn on_marked_down_shutdown_sessions_resets_established_connections() {
    // Traffic goes to `data`; checks go to `health` (`port`), which dies alone.
    let data = Backend::echo();
    let health = Backend::echo();
    let (port_a, port_b) = (free_port(), free_port());
    let server = format!(
        "server s {} check port {} inter 200ms rise 1 fall 1",
        data.addr(),
        health.port
    );
    let conf = format!(
        "defaults\n  mode tcp\n  timeout client 30s\n  timeout server 30s\n\
         listen cut\n  bind 127.0.0.1:{port_a}\n  {server} on-marked-down shutdown-sessions\n\
         listen keep\n  bind 127.0.0.1:{port_b}\n  {server}\n"
    );
    let l4 = L4lb::start(&conf);
    let open = |port| {
        let mut c = connect(port);
        let mut b = [0u8; 2];
        c.write_all(b"hi").unwrap();
        std::io::Read::read_exact(&mut c, &mut b).unwrap();
        c
    };
    let (mut cut, mut keep) = (open(port_a), open(port_b));
    drop(health);
    wait_log(&l4, "server cut/s is DOWN", 1, Duration::from_secs(5));
    wait_log(&l4, "server keep/s is DOWN", 1, Duration::from_secs(5));
    let mut b = [0u8; 2];
    cut.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let ended = std::io::Read::read(&mut cut, &mut b);
    let was_cut = match &ended {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    };
    assert!(
        was_cut,
        "the connection to the DOWN server was cut: {ended:?}"
    );
    // Without the option, an established connection lives on.
    keep.write_all(b"ok").unwrap();
    std::io::Read::read_exact(&mut keep, &mut b).unwrap();
    assert_eq!(&b, b"ok");
}

#[test]
fn observe_layer4_takes_a_failing_server_out_between_checks() {
    // Checks go to a live port; traffic goes to a dead one. Only live
    // traffic can tell, and `inter 10s` keeps the prober out of it.
    let probe_target = Backend::echo();
    let good = Backend::named("good");
    let dead = addr(free_port());
    let port = free_port();
    let conf = format!(
        "defaults\n  mode tcp\n  timeout client 10s\n  timeout server 10s\nlisten l\n  \
         bind 127.0.0.1:{port}\n  balance first\n  \
         server dead {dead} check port {} inter 10s fastinter 10s observe layer4 error-limit 3 on-error mark-down\n  \
         server good {}\n",
        probe_target.port,
        good.addr()
    );
    let l4 = L4lb::start(&conf);
    for _ in 0..6 {
        // Refused by `dead`, retried on `good`: the client never notices.
        assert_eq!(round_trip(port), "good");
    }
    wait_log(
        &l4,
        "server l/dead is DOWN (was UP): 3 connect errors in a row on live traffic",
        1,
        Duration::from_secs(5),
    );
}

#[test]
fn observe_layer4_without_check_takes_a_server_out_and_brings_it_back() {
    let flaky = Backend::named("flaky");
    let flaky_port = flaky.port;
    let good = Backend::named("good");
    let port = free_port();
    // No `check`: the prober stays away from `flaky` until traffic fails.
    let conf = format!(
        "defaults\n  mode tcp\n  timeout client 10s\n  timeout server 10s\nlisten l\n  \
         bind 127.0.0.1:{port}\n  balance first\n  \
         server flaky {} observe layer4 error-limit 2 on-error mark-down inter 100ms rise 2\n  \
         server good {}\n",
        flaky.addr(),
        good.addr()
    );
    let l4 = L4lb::start(&conf);
    assert_eq!(
        round_trip(port),
        "flaky",
        "`first` prefers it while it works"
    );
    let counts = std::sync::Arc::clone(&flaky.counts);
    let seen = counts.total.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(seen, 1, "no probe reached it while it was healthy");
    drop(flaky);
    for _ in 0..4 {
        assert_eq!(round_trip(port), "good", "refused, retried on good");
    }
    wait_log(
        &l4,
        "server l/flaky is DOWN (was UP): 2 connect errors in a row on live traffic",
        1,
        Duration::from_secs(5),
    );
    let _flaky = Backend::named_at("flaky", flaky_port);
    wait_log(&l4, "server l/flaky is UP", 1, Duration::from_secs(5));
    assert_eq!(round_trip(port), "flaky", "back in service");
}

#[test]
fn slowstart_ramps_the_share_of_a_recovered_server() {
    let steady = Backend::named("steady");
    let back = Backend::named("back");
    let back_port = back.port;
    let port = free_port();
    let check = "check inter 100ms rise 1 fall 1";
    let conf = format!(
        "defaults\n  mode tcp\n  timeout client 10s\n  timeout server 10s\nlisten l\n  \
         bind 127.0.0.1:{port}\n  balance roundrobin\n  server steady {} {check}\n  \
         server back {} {check} slowstart 3s\n",
        steady.addr(),
        back.addr()
    );
    let l4 = L4lb::start(&conf);
    drop(back);
    wait_log(&l4, "server l/back is DOWN", 1, Duration::from_secs(5));
    let _back = Backend::named_at("back", back_port);
    let up = wait_log(&l4, "server l/back is UP", 1, Duration::from_secs(5));
    // Connections one after the other, counted per second since UP: the
    // share of `back` grows over the 3 s, then settles at its half.
    let mut picks = [(0u32, 0u32); 4]; // (to back, all) per second
    while up.elapsed() < Duration::from_secs(4) {
        let second = (up.elapsed().as_millis() / 1000).min(3) as usize;
        let to_back = round_trip(port) == "back";
        picks[second].0 += u32::from(to_back);
        picks[second].1 += 1;
    }
    let share: Vec<f64> = picks
        .iter()
        .map(|&(b, all)| f64::from(b) / f64::from(all.max(1)))
        .collect();
    assert!(
        picks.iter().all(|&(_, all)| all >= 20),
        "enough connections per second: {picks:?}"
    );
    // Ramp r gives `back` r / (1 + r) of round robin's picks: about 0.14,
    // 0.38 and 0.45 on average over the three seconds, then 0.5.
    assert!(share[0] < 0.3, "first second: a small share, {share:?}");
    assert!(share[0] < share[2], "the share grows: {share:?}");
    assert!(share[3] > 0.4, "after slowstart: its full half, {share:?}");
}
