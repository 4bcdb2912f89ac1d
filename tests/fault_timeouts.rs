//! Every inactivity timeout against a slow or silent peer, each way
//! (issue 9, S10), written against HAProxy's semantics:
//!
//! - each side has one timeout: `timeout tunnel` if set, else `timeout
//!   client` / `timeout server`; once that side is half-closed (it sent its
//!   FIN, or l4lb passed one to it), `client-fin` / `server-fin` where set;
//! - read timeout: while l4lb waits to read from a side, restarted by each
//!   byte read from or written to it; when it strikes, l4lb stops reading
//!   that side and passes a FIN to the other (after the bytes in flight),
//!   the other direction goes on; the log says cD or sD;
//! - write timeout: bytes owed to a side that it does not accept for its
//!   timeout are cut: both peers get a reset, never a clean EOF;
//! - a side with nothing to read and nothing owed has no timer.
//!
//! Times are short (a few hundred ms); bounds only check which timeout
//! struck, never speed.

mod common;
#[path = "common/fault.rs"]
mod fault;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use fault::*;
use sha2::{Digest, Sha256};

const ANSWER: usize = 256 * 1024;

/// What the slow server saw: when l4lb passed it a FIN (after the
/// request), and whether its answer was accepted.
#[derive(Debug)]
struct Slow {
    fin_after: Option<Duration>,
    answered: bool,
}

/// A server that reads a 5-byte request and answers `ANSWER` pattern bytes
/// (seed 9) `delay` after it, then closes; meanwhile it notes the FIN.
fn slow_server(delay: Duration) -> (Backend, mpsc::Receiver<Slow>) {
    reporting(move |mut s, tx| {
        let mut request = [0u8; 5];
        if s.read_exact(&mut request).is_err() {
            return;
        }
        let t0 = Instant::now();
        let due = t0 + delay;
        let mut fin_after = None;
        while fin_after.is_none() && Instant::now() < due {
            let wait = due.saturating_duration_since(Instant::now());
            s.set_read_timeout(Some(wait.max(Duration::from_millis(1))))
                .unwrap();
            match s.read(&mut [0u8; 1]) {
                Ok(0) => fin_after = Some(t0.elapsed()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                _ => break,
            }
        }
        thread::sleep(due.saturating_duration_since(Instant::now()));
        let answered = send(&mut s, 9, ANSWER).is_ok();
        let _ = tx.send(Slow {
            fin_after,
            answered,
        });
    })
}

/// The bug report, scaled down: `timeout client` 500 ms, `timeout server`
/// 3 s, a server answering 1.2 s after the request. l4lb closed both sides
/// at the client timeout: the client saw 0 bytes and a clean EOF.
fn slow_answer_after_timeout_client(half_close: bool) {
    let (be, rx) = slow_server(Duration::from_millis(1200));
    let lb = Lb::start(&[be.addr()], "timeout client 500ms\ntimeout server 3s");
    let mut c = connect(lb.port);
    c.write_all(b"hello").unwrap();
    if half_close {
        shutdown_write(&c);
    }
    let got = receive(&mut c);
    let slow = rx.recv_timeout(LIMIT).expect("the server answers");
    assert!(
        got.is_pattern(9, ANSWER) && got.end == End::Eof,
        "the client gets the whole answer, then a clean EOF: {} of {ANSWER} bytes, then {:?} \
         (server: {slow:?}, log: {:?})",
        got.len,
        got.end,
        lb.states()
    );
    assert!(slow.answered, "{slow:?}");
    let fin = slow
        .fin_after
        .expect("the server gets a FIN before its answer");
    if half_close {
        // The client's own FIN, passed on at once: the client has nothing
        // to read from and nothing owed, so no timer; only the server's.
        assert!(fin < Duration::from_millis(400), "{slow:?}");
        assert_eq!(lb.wait_states(1), ["--"]);
    } else {
        // The client's read timeout struck: l4lb stopped reading it and
        // passed a FIN to the server; the answer still went through.
        assert!(
            fin >= Duration::from_millis(400),
            "not before timeout client: {slow:?}"
        );
        assert_eq!(lb.wait_states(1), ["cD"], "the client side timed out");
    }
    drop(c);
    lb.audit(&[be.port]);
}

#[test]
fn bug_timeout_client_cut_a_slow_answer() {
    slow_answer_after_timeout_client(false);
}

#[test]
fn bug_timeout_client_cut_a_slow_answer_to_a_half_closed_client() {
    slow_answer_after_timeout_client(true);
}

#[test]
fn a_silent_server_gets_the_client_a_fin_after_timeout_server_and_the_upload_goes_on() {
    // Reads all it is sent, never writes, closes at EOF.
    let (be, rx) = reporting(|mut s, tx| {
        let _ = tx.send(receive(&mut s));
    });
    let lb = Lb::start(&[be.addr()], "timeout server 500ms\ntimeout client 5s");
    let mut upload = vec![0u8; 257 * 1024];
    Pattern::new(5).fill(&mut upload);
    let mut c = connect(lb.port);
    c.write_all(&upload[..1024]).unwrap();
    let written = Instant::now();
    let got = receive(&mut c);
    let took = written.elapsed();
    assert_eq!(
        (got.len, got.end),
        (0, End::Eof),
        "a FIN, not a reset: {got:?}"
    );
    assert!(
        took >= Duration::from_millis(450),
        "not before timeout server: {took:?}"
    );
    assert!(
        took < Duration::from_secs(4),
        "before timeout client: {took:?}"
    );
    // Idle for longer than timeout server: the upload is under timeout
    // client only now.
    thread::sleep(Duration::from_millis(700));
    let rest = c.write_all(&upload[1024..]);
    assert!(
        rest.is_ok(),
        "the upload goes on after the download's FIN: {rest:?}, log {:?}",
        lb.states()
    );
    shutdown_write(&c);
    let seen = rx.recv_timeout(LIMIT).expect("the server's read ends");
    assert!(
        seen.is_pattern(5, upload.len()) && seen.end == End::Eof,
        "the server gets the whole upload, then the client's FIN: {} of {} bytes, then {:?}",
        seen.len,
        upload.len(),
        seen.end
    );
    assert_eq!(lb.wait_states(1), ["sD"], "the server side timed out");
    drop(c);
    lb.audit(&[be.port]);
}

#[test]
fn a_client_that_never_reads_a_large_answer_is_reset_after_timeout_client() {
    // Streams until its writes fail.
    let (be, rx) = reporting(|mut s, tx| {
        s.set_write_timeout(Some(LIMIT)).unwrap();
        let mut seed = 20;
        let end = loop {
            if let Err(end) = send(&mut s, seed, ANSWER) {
                break end;
            }
            seed += 1;
        };
        let _ = tx.send(end);
    });
    let lb = Lb::start(&[be.addr()], "timeout client 500ms\ntimeout server 5s");
    let mut c = connect_small(lb.port, 64 * 1024);
    c.write_all(b"x").unwrap();
    // Half-closed: l4lb has nothing to read from the client, so its write
    // timeout is the only one that can strike.
    shutdown_write(&c);
    // The client reads nothing until the server's writes have failed.
    let server_end = rx.recv_timeout(LIMIT).expect("the server's writes fail");
    let got = receive(&mut c);
    assert_eq!(
        got.end,
        End::Reset,
        "the cut answer reaches the client as a reset, not a clean EOF, after {} bytes",
        got.len
    );
    assert!(got.is_sends_prefix(20, ANSWER), "what arrived is intact");
    assert_eq!(server_end, End::Reset, "the server is reset too");
    assert_eq!(lb.wait_states(1), ["cD"], "the client side timed out");
    drop(c);
    lb.audit(&[be.port]);
}

#[test]
fn a_server_that_never_reads_a_large_upload_is_reset_after_timeout_server() {
    let (read_tx, read_rx) = one_shot();
    // Holds the upload unread until the client's writes have failed.
    // Half-closed at once: l4lb has nothing to read from it, so its write
    // timeout is the only one that can strike.
    let (be, rx) = reporting(move |mut s, tx| {
        shutdown_write(&s);
        let _ = read_rx.lock().unwrap().recv_timeout(LIMIT);
        let _ = tx.send(receive(&mut s));
    });
    let lb = Lb::start(&[be.addr()], "timeout server 500ms\ntimeout client 5s");
    let mut c = connect(lb.port);
    c.set_write_timeout(Some(LIMIT)).unwrap();
    let mut seed = 30;
    let client_end = loop {
        if let Err(end) = send(&mut c, seed, ANSWER) {
            break end;
        }
        seed += 1;
    };
    assert_eq!(
        client_end,
        End::Reset,
        "the client's upload is cut by a reset"
    );
    read_tx.send(()).unwrap();
    let seen = rx
        .recv_timeout(LIMIT)
        .expect("the server reads what it got");
    assert_eq!(
        seen.end,
        End::Reset,
        "the cut upload reaches the server as a reset, not a clean EOF, after {} bytes",
        seen.len
    );
    // The buffers on the way may hold more than one send's bytes.
    assert!(seen.is_sends_prefix(30, ANSWER), "what arrived is intact");
    assert_eq!(lb.wait_states(1), ["sD"], "the server side timed out");
    drop(c);
    lb.audit(&[be.port]);
}

#[test]
fn timeout_tunnel_replaces_both_sides_timeouts() {
    // Answers 300 ms after the request (past client and server timeouts,
    // within the tunnel's), then waits for EOF.
    let (be, rx) = reporting(|mut s, tx| {
        let mut request = [0u8; 5];
        if s.read_exact(&mut request).is_err() {
            return;
        }
        let t0 = Instant::now();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let early = s.read(&mut [0u8; 1]);
        let answered = send(&mut s, 9, ANSWER).is_ok();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        let end = receive(&mut s);
        let _ = tx.send((early.map_err(|e| e.kind()), answered, end, t0.elapsed()));
    });
    let lb = Lb::start(
        &[be.addr()],
        "timeout client 100ms\ntimeout server 100ms\ntimeout tunnel 800ms",
    );
    let mut c = connect(lb.port);
    c.write_all(b"hello").unwrap();
    let got = receive(&mut c);
    let (early, answered, end, took) = rx.recv_timeout(LIMIT).unwrap();
    assert!(
        matches!(early, Err(ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "nothing reaches the server within the tunnel timeout: {early:?}"
    );
    assert!(answered);
    assert!(got.is_pattern(9, ANSWER), "{got:?}");
    assert_eq!((got.end, end.len, end.end), (End::Eof, 0, End::Eof));
    assert!(
        took >= Duration::from_millis(700),
        "the tunnel timeout: {took:?}"
    );
    drop(c);
    lb.audit(&[be.port]);
}

#[test]
fn timeout_server_fin_replaces_timeout_server_once_the_server_got_its_fin() {
    let (done_tx, done_rx) = one_shot();
    // Gets the request and its FIN, then neither answers nor closes.
    let (be, rx) = reporting(move |mut s, tx| {
        let _ = tx.send(receive(&mut s));
        let _ = done_rx.lock().unwrap().recv_timeout(LIMIT);
    });
    let lb = Lb::start(
        &[be.addr()],
        "timeout client 5s\ntimeout server 5s\ntimeout server-fin 400ms",
    );
    let mut c = connect(lb.port);
    c.write_all(b"hello").unwrap();
    shutdown_write(&c);
    let sent = Instant::now();
    let got = receive(&mut c);
    let took = sent.elapsed();
    let request = rx.recv_timeout(LIMIT).unwrap();
    assert_eq!(
        (request.head.as_slice(), request.end),
        (&b"hello"[..], End::Eof)
    );
    assert_eq!((got.len, got.end), (0, End::Eof), "{got:?}");
    assert!(
        took >= Duration::from_millis(350),
        "not before server-fin: {took:?}"
    );
    assert!(
        took < Duration::from_secs(4),
        "well before timeout server: {took:?}"
    );
    assert_eq!(lb.wait_states(1), ["sD"]);
    done_tx.send(()).unwrap();
    drop(c);
    lb.audit(&[be.port]);
}

/// Whether `s` has nothing to read and no FIN waiting (nonblocking peek).
fn still_open(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let peeked = s.peek(&mut [0u8; 1]);
    s.set_nonblocking(false).unwrap();
    matches!(peeked, Err(e) if e.kind() == ErrorKind::WouldBlock)
}

/// Eight bytes, one every 150 ms: 1.2 s of traffic against a 600 ms timeout.
fn trickle(s: &mut TcpStream) {
    for b in b"trickle!" {
        thread::sleep(Duration::from_millis(150));
        s.write_all(&[*b]).unwrap();
    }
}

#[test]
fn bytes_written_to_a_silent_server_restart_its_clock() {
    let (be, rx) = reporting(|mut s, tx| {
        let _ = tx.send(receive(&mut s));
    });
    let lb = Lb::start(&[be.addr()], "timeout server 600ms\ntimeout client 5s");
    let mut c = connect(lb.port);
    trickle(&mut c);
    assert!(
        still_open(&c),
        "no FIN to the client while the server is fed"
    );
    shutdown_write(&c);
    let got = receive(&mut c);
    let seen = rx.recv_timeout(LIMIT).unwrap();
    assert_eq!(
        (seen.head.as_slice(), seen.end),
        (&b"trickle!"[..], End::Eof)
    );
    assert_eq!((got.len, got.end), (0, End::Eof));
    assert_eq!(lb.wait_states(1), ["--"]);
    drop(c);
    lb.audit(&[be.port]);
}

#[test]
fn bytes_written_to_a_silent_client_restart_its_clock() {
    let (be, rx) = reporting(|mut s, tx| {
        trickle(&mut s);
        let open = still_open(&s);
        shutdown_write(&s);
        let _ = tx.send((open, receive(&mut s)));
    });
    let lb = Lb::start(&[be.addr()], "timeout client 600ms\ntimeout server 5s");
    let mut c = connect(lb.port);
    let got = receive(&mut c);
    assert_eq!((got.head.as_slice(), got.end), (&b"trickle!"[..], End::Eof));
    shutdown_write(&c);
    let (open, seen) = rx.recv_timeout(LIMIT).unwrap();
    assert!(open, "no FIN to the server while the client is fed");
    assert_eq!((seen.len, seen.end), (0, End::Eof));
    assert_eq!(lb.wait_states(1), ["--"]);
    drop(c);
    lb.audit(&[be.port]);
}

#[test]
fn a_slow_but_steady_reader_is_not_cut_by_timeout_client() {
    const LEN: usize = 1 << 20;
    let be = Backend::start(|mut s| {
        let _ = send(&mut s, 40, LEN);
    });
    let lb = Lb::start(&[be.addr()], "timeout client 800ms\ntimeout server 5s");
    let mut c = connect_small(lb.port, 32 * 1024);
    // Nothing to send: only bytes owed to the client can time it out.
    shutdown_write(&c);
    // 128 KiB every 100 ms: l4lb's writes block often, never for long.
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 128 * 1024];
    let mut total = 0;
    let end = loop {
        thread::sleep(Duration::from_millis(100));
        match read_some(&mut c, &mut buf) {
            Ok(0) => break End::Eof,
            Ok(n) => {
                hash.update(&buf[..n]);
                total += n;
            }
            Err(e) => break End::of(&e),
        }
    };
    let hash: [u8; 32] = hash.finalize().into();
    assert_eq!((total, end), (LEN, End::Eof));
    assert_eq!(hash, pattern_hash(40, LEN));
    assert_eq!(lb.wait_states(1), ["--"]);
    drop(c);
    lb.audit(&[be.port]);
}

/// Fills `buf` or reads up to EOF: one "read" of a slow consumer.
fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match s.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
