//! Issue 9, bug 3: a runtime API or metrics client that arrives while l4lb
//! is out of file descriptors waits in the accept queue, and is answered
//! once fds are back, without another connection arriving to wake the
//! listener.

mod common;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::*;

/// How long a starved client is watched for an answer that must not come.
const STARVED: Duration = Duration::from_millis(600);
/// How long an answer may take once fds are back.
const ANSWER: Duration = Duration::from_secs(5);

/// Reads whatever is there within `limit`; None if nothing came.
fn try_read(r: &mut impl Read, limit: Duration) -> Option<Vec<u8>> {
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    let ok = wait_until(limit, || match r.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => {
            got.extend_from_slice(&buf[..n]);
            false
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
        Err(e) => panic!("read: {e}"),
    });
    (ok || !got.is_empty()).then_some(got)
}

/// Reads to EOF within `limit`; None if EOF did not come in time.
fn read_to_eof(r: &mut impl Read, limit: Duration) -> Option<Vec<u8>> {
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    wait_until(limit, || match r.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => {
            got.extend_from_slice(&buf[..n]);
            false
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
        Err(e) => panic!("read: {e}"),
    })
    .then_some(got)
}

#[test]
fn bug3_admin_clients_queued_during_emfile_are_answered_once_fds_are_back() {
    let backend = Backend::echo();
    let (port, mport) = (free_port(), free_port());
    let dir = TempDir::new("emfile");
    let sock = dir.0.join("l4lb.sock");
    let text = conf(port, &[backend.addr()], "").replacen(
        "global\n",
        &format!(
            "global\n    stats socket {} level admin\n    stats http 127.0.0.1:{mport}\n",
            sock.display()
        ),
        1,
    );
    let path = dir.0.join("l4lb.conf");
    std::fs::write(&path, text).unwrap();
    let l4 = L4lb::spawn(&["-f", path.to_str().unwrap()], dir);
    // Both endpoints work before the starvation.
    assert!(api_command(&sock, "show info").contains("Name: l4lb"));
    let baseline = l4.fd_count();

    let was = starve_fds(l4.pid());
    let mut metrics = TcpStream::connect(addr(mport)).unwrap();
    metrics
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: test\r\n\r\n")
        .unwrap();
    metrics.set_nonblocking(true).unwrap();
    let mut api = UnixStream::connect(&sock).unwrap();
    api.write_all(b"show info\n").unwrap();
    api.set_nonblocking(true).unwrap();
    let starved_metrics = try_read(&mut metrics, STARVED);
    let starved_api = try_read(&mut api, STARVED);
    set_nofile(l4.pid(), was);
    assert_eq!(starved_metrics, None, "metrics answered while starved");
    assert_eq!(starved_api, None, "API answered while starved");

    // No other connection is made from here on: only the listeners'
    // own retry can take the two clients out of their accept queues.
    let answer = read_to_eof(&mut metrics, ANSWER).unwrap_or_else(|| {
        panic!(
            "metrics client not answered after fds came back; log:\n{}",
            l4.log_text()
        )
    });
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("l4lb_"), "{answer}");
    let answer = read_to_eof(&mut api, ANSWER).unwrap_or_else(|| {
        panic!(
            "API client not answered after fds came back; log:\n{}",
            l4.log_text()
        )
    });
    assert!(String::from_utf8_lossy(&answer).contains("Name: l4lb"));
    drop((metrics, api));
    assert!(
        wait_until(ANSWER, || l4.fd_count() == baseline),
        "fds {} after the clients left, baseline {baseline}",
        l4.fd_count()
    );

    // A run of failures is logged once per listener as it starts and once
    // as it ends, not once per retry.
    let log = l4.log_text();
    for what in [
        "stats http: accept:",
        "stats http: accepting again",
        "runtime API: accept on",
        "runtime API: accepting again",
    ] {
        assert_eq!(log.matches(what).count(), 1, "{what}:\n{log}");
    }
}

/// Lowers `pid`'s soft RLIMIT_NOFILE to its lowest free fd number, so that
/// its next fd cannot be made (EMFILE). Returns the limits it had.
fn starve_fds(pid: u32) -> libc::rlimit {
    let open: Vec<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let lowest_free = (0..).find(|n| !open.contains(n)).unwrap();
    let was = nofile(pid);
    set_nofile(
        pid,
        libc::rlimit {
            rlim_cur: lowest_free,
            rlim_max: was.rlim_max,
        },
    );
    was
}
