//! A reload's switch as the running process lives it: while one worker
//! has not taken the new snapshot, the supervisor still serves signals and
//! the runtime API, and a SIGHUP that comes then reloads once the switch is
//! over. A worker is held still (ptrace, see `common/sup.rs`) so that the
//! second SIGHUP lands inside the switch every time.

mod common;
#[path = "common/sup.rs"]
mod sup;

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use common::*;
use sup::Frozen;

const SOON: Duration = Duration::from_secs(10);

/// Two workers, the runtime API at `sock`, frontend `fe` on `port` to
/// backend `be` with its one `server`.
fn conf(sock: &Path, port: u16, server: (&str, SocketAddr)) -> String {
    format!(
        "global\n    nbthread 2\n    stats socket {} level admin\n\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    \
         timeout server 30s\n\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\n\
         backend be\n    server {} {}\n",
        sock.display(),
        server.0,
        server.1
    )
}

/// The next notify datagram's lines (bounded by the socket's timeout).
fn notice(sock: &UnixDatagram) -> Vec<String> {
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("a notify datagram");
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Whether the next notify datagram says `what` (READY=1, RELOADING=1).
fn says(sock: &UnixDatagram, what: &str) -> bool {
    notice(sock).iter().any(|l| l == what)
}

fn count(l4: &L4lb, needle: &str) -> usize {
    l4.log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(needle))
        .count()
}

fn info(sock: &Path, field: &str) -> String {
    let out = api_command(sock, "show info");
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}: ")))
        .unwrap_or_else(|| panic!("no {field} in {out}"))
        .to_string()
}

/// The regression this pins: a SIGHUP during a switch was to be queued and
/// run once the switch is over, with the conf as it is then. Two SIGHUPs
/// back to back may merge into one signal; here the second is sent only
/// once the first reload is under way (RELOADING=1) and a worker holds its
/// switch open, so it lands inside it.
#[test]
fn a_sighup_during_a_switch_reloads_after_it_with_the_last_conf_written() {
    let (echo, b, c) = (Backend::echo(), Backend::named("b"), Backend::named("c"));
    let dir = TempDir::new("switch");
    let (path, sock) = (dir.0.join("l4lb.conf"), dir.0.join("l4lb.sock"));
    let notify_path = dir.0.join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(SOON)).unwrap();
    let port = free_port();
    std::fs::write(&path, conf(&sock, port, ("echo", echo.addr()))).unwrap();
    let l4 = L4lb::spawn_with_env(
        &["-f", path.to_str().unwrap()],
        dir,
        &[("NOTIFY_SOCKET", notify_path.to_str().unwrap())],
    );
    assert!(says(&notify, "READY=1"));
    // A connection from before both reloads, to a server both remove.
    let mut held = connect(port);
    held.write_all(b"before\n").unwrap();
    assert_eq!(read_line(&mut held).unwrap(), "before");

    let frozen = Frozen::thread(l4.pid(), "l4lb-w1");
    std::fs::write(&path, conf(&sock, port, ("b", b.addr()))).unwrap();
    l4.signal(libc::SIGHUP);
    assert!(says(&notify, "RELOADING=1"));
    // The runtime API shows the new snapshot once the reload has read its
    // conf and handed it over: the switch is pending from then on (the API
    // and the signals are served by the same thread), and the conf file is
    // free to change.
    assert!(
        wait_until(SOON, || api_command(&sock, "show servers state be")
            .contains(" be 1 b ")),
        "{}",
        l4.log_text()
    );
    std::fs::write(&path, conf(&sock, port, ("c", c.addr()))).unwrap();
    l4.signal(libc::SIGHUP);
    let queued = "SIGHUP received while a reload applies: reloading after it";
    assert!(
        wait_until(SOON, || count(&l4, queued) == 1),
        "the second SIGHUP was not queued:\n{}",
        l4.log_text()
    );
    // Still switching (w1 has not taken the snapshot): the API answers,
    // and no reload has been applied.
    assert_eq!(info(&sock, "Reloads"), "0");
    assert_eq!(count(&l4, "reload: applied"), 0, "{}", l4.log_text());
    drop(frozen);

    // The first switch ends (READY=1), then the queued reload runs.
    assert!(says(&notify, "READY=1"));
    assert!(says(&notify, "RELOADING=1"));
    assert!(says(&notify, "READY=1"));
    assert!(
        wait_until(SOON, || count(&l4, "reload: applied") == 2),
        "{}",
        l4.log_text()
    );
    assert_eq!(info(&sock, "Reloads"), "2");
    let log = l4.log_text();
    assert!(
        !log.contains("slow to switch"),
        "the switch timed out:\n{log}"
    );
    // The last conf written runs.
    for _ in 0..8 {
        assert_eq!(round_trip(port), "c");
    }
    // And the connection from before carries on.
    held.write_all(b"after\n").unwrap();
    assert_eq!(read_line(&mut held).unwrap(), "after");
    drop(held);
    assert_eq!(l4.stop().code(), Some(0));
}
