//! Bytes that must all get through when a peer stops, stalls or closes
//! (issue 9, S1-S7 and S30): a server that speaks first, disconnects on
//! either side with bytes still in flight, a half-close each way while the
//! other direction streams, a large answer to a stalled reader (also across
//! a soft stop), tiny buffers, bytes a client sends before its server is
//! connected, and a client that leaves a keep-alive server behind. Splice
//! (the default) and `no option splice-auto` both, where the pump matters.

mod common;
#[path = "common/fault.rs"]
mod fault;

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use fault::*;
use sha2::{Digest, Sha256};

const MIB: usize = 1 << 20;
const SPLICE: &str = "option splice-auto";
const COPY: &str = "no option splice-auto";

/// Connects with a send buffer that holds `len` bytes at once (the kernel
/// doubles what it is given): a client whose writes never wait for l4lb.
fn connect_roomy(port: u16, len: usize) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_send_buffer_size(len).unwrap();
    s.connect_timeout(&addr(port).into(), Duration::from_secs(5))
        .unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

#[test]
fn server_speaks_first_to_a_silent_client_then_each_side_closes() {
    let (be, rx) = reporting(|mut s, tx| {
        let _ = s.write_all(b"220 greeting\n");
        let _ = send(&mut s, 1, 64 * 1024);
        shutdown_write(&s);
        let _ = tx.send(receive(&mut s));
    });
    let lb = Lb::start(&[be.addr()], "");
    let mut c = connect(lb.port);
    // Not a byte from the client yet.
    assert_eq!(read_line(&mut c).unwrap(), "220 greeting");
    let rest = receive(&mut c);
    assert!(rest.is_pattern(1, 64 * 1024), "{rest:?}");
    assert_eq!(rest.end, End::Eof, "the server's FIN");
    c.write_all(b"bye").unwrap();
    shutdown_write(&c);
    let seen = rx.recv_timeout(LIMIT).unwrap();
    assert_eq!((seen.head.as_slice(), seen.end), (&b"bye"[..], End::Eof));
    assert_eq!(lb.wait_states(1), ["--"]);
    assert_eq!(lb.stat("px", "FRONTEND", "bin"), 3);
    assert_eq!(lb.stat("px", "FRONTEND", "bout"), 13 + 64 * 1024);
    drop(c);
    lb.audit(&[be.port]);
}

/// The server answers 3 MiB and closes at once; the client, with a small
/// receive buffer, reads only once the server is gone.
fn upstream_disconnect_flushes_everything(extra: &str) {
    let be = Backend::start(|mut s| {
        let mut request = [0u8; 5];
        if std::io::Read::read_exact(&mut s, &mut request).is_ok() {
            let _ = send(&mut s, 2, 3 * MIB);
        }
    });
    let lb = Lb::start(&[be.addr()], extra);
    let mut c = connect_small(lb.port, 64 * 1024);
    c.write_all(b"hello").unwrap();
    let gone = wait_until(LIMIT, || {
        be.counts.total.load(SeqCst) == 1 && be.counts.active.load(SeqCst) == 0
    });
    assert!(gone, "the server wrote its answer and closed");
    let got = receive(&mut c);
    assert!(got.is_pattern(2, 3 * MIB) && got.end == End::Eof, "{got:?}");
    shutdown_write(&c);
    assert_eq!(lb.wait_states(1), ["--"]);
    for (px, sv) in [("px", "FRONTEND"), ("px", "s0")] {
        assert_eq!(lb.stat(px, sv, "bin"), 5, "{sv}");
        assert_eq!(lb.stat(px, sv, "bout"), 3 * MIB as u64, "{sv}");
    }
    drop(c);
    lb.audit(&[be.port]);
}

#[test]
fn upstream_disconnect_flushes_everything_with_splice() {
    upstream_disconnect_flushes_everything(SPLICE);
}

#[test]
fn upstream_disconnect_flushes_everything_with_copy() {
    upstream_disconnect_flushes_everything(COPY);
}

/// The client sends 1 MiB and closes; the server reads only after that.
fn downstream_disconnect_flushes_everything(extra: &str) {
    let (closed_tx, closed_rx) = one_shot();
    let (be, rx) = reporting(move |mut s, tx| {
        let _ = closed_rx.lock().unwrap().recv_timeout(LIMIT);
        let _ = tx.send(receive(&mut s));
        // Then the server's FIN, to a client long gone.
    });
    let lb = Lb::start(&[be.addr()], extra);
    let mut c = connect_roomy(lb.port, MIB);
    send(&mut c, 3, MIB).unwrap();
    drop(c);
    closed_tx.send(()).unwrap();
    let seen = rx.recv_timeout(LIMIT).unwrap();
    assert!(seen.is_pattern(3, MIB) && seen.end == End::Eof, "{seen:?}");
    assert_eq!(lb.wait_states(1), ["--"]);
    assert_eq!(lb.stat("px", "s0", "bin"), MIB as u64);
    lb.audit(&[be.port]);
}

#[test]
fn downstream_disconnect_flushes_everything_with_splice() {
    downstream_disconnect_flushes_everything(SPLICE);
}

#[test]
fn downstream_disconnect_flushes_everything_with_copy() {
    downstream_disconnect_flushes_everything(COPY);
}

/// Half a MiB down, the client's FIN, half a MiB more down after it.
fn client_half_close_mid_download(extra: &str) {
    let (be, rx) = reporting(|mut s, tx| {
        let _ = send(&mut s, 4, MIB / 2);
        let upload = receive(&mut s);
        let more = send(&mut s, 5, MIB / 2);
        let _ = tx.send((upload, more));
    });
    let lb = Lb::start(&[be.addr()], extra);
    let mut c = connect(lb.port);
    let first = receive_up_to(&mut c, MIB / 2);
    assert!(first.is_pattern(4, MIB / 2), "{first:?}");
    shutdown_write(&c);
    let rest = receive(&mut c);
    let (upload, more) = rx.recv_timeout(LIMIT).unwrap();
    assert_eq!((upload.len, upload.end), (0, End::Eof), "the client's FIN");
    assert_eq!(more, Ok(()), "the download goes on after it");
    assert!(
        rest.is_pattern(5, MIB / 2) && rest.end == End::Eof,
        "{rest:?}"
    );
    assert_eq!(lb.wait_states(1), ["--"]);
    drop(c);
    lb.audit(&[be.port]);
}

#[test]
fn client_half_close_mid_download_with_splice() {
    client_half_close_mid_download(SPLICE);
}

#[test]
fn client_half_close_mid_download_with_copy() {
    client_half_close_mid_download(COPY);
}

/// Half a MiB up, the server's FIN, half a MiB more up after it.
fn server_half_close_mid_upload(extra: &str) {
    let (be, rx) = reporting(|mut s, tx| {
        let first = receive_up_to(&mut s, MIB / 2);
        shutdown_write(&s);
        let _ = tx.send((first, receive(&mut s)));
    });
    let lb = Lb::start(&[be.addr()], extra);
    let mut c = connect(lb.port);
    send(&mut c, 6, MIB / 2).unwrap();
    let down = receive(&mut c);
    assert_eq!((down.len, down.end), (0, End::Eof), "the server's FIN");
    let more = send(&mut c, 7, MIB / 2);
    assert_eq!(more, Ok(()), "the upload goes on after it");
    shutdown_write(&c);
    let (first, rest) = rx.recv_timeout(LIMIT).unwrap();
    assert!(first.is_pattern(6, MIB / 2), "{first:?}");
    assert!(
        rest.is_pattern(7, MIB / 2) && rest.end == End::Eof,
        "{rest:?}"
    );
    assert_eq!(lb.wait_states(1), ["--"]);
    drop(c);
    lb.audit(&[be.port]);
}

#[test]
fn server_half_close_mid_upload_with_splice() {
    server_half_close_mid_upload(SPLICE);
}

#[test]
fn server_half_close_mid_upload_with_copy() {
    server_half_close_mid_upload(COPY);
}

/// What [`blocking_writer`] reports.
#[derive(Debug, PartialEq)]
enum Writer {
    /// A write would block: every buffer on the way is full.
    Blocked,
    /// All it wrote, then closed.
    Wrote(usize),
}

/// A server that reads a 2-byte request, then streams pattern bytes (seed
/// 8) until a write would block, says so, writes 1 MiB more and closes:
/// more than the kernel buffers hold, whatever they grew to.
fn blocking_writer() -> (Backend, mpsc::Receiver<Writer>) {
    reporting(|mut s, tx| {
        if std::io::Read::read_exact(&mut s, &mut [0u8; 2]).is_err() {
            return;
        }
        let mut pat = Pattern::new(8);
        let mut chunk = vec![0u8; 64 * 1024];
        let (mut total, mut after) = (0, None);
        s.set_nonblocking(true).unwrap();
        // Bounded: a reader that never fills up is a failed scenario.
        while total < 256 * MIB && after.is_none_or(|a| total < a + MIB) {
            pat.fill(&mut chunk);
            let mut at = 0;
            while at < chunk.len() {
                match s.write(&chunk[at..]) {
                    Ok(n) => at += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        let _ = tx.send(Writer::Blocked);
                        s.set_nonblocking(false).unwrap();
                        after = Some(total);
                    }
                    Err(_) => return,
                }
            }
            total += chunk.len();
        }
        let _ = tx.send(Writer::Wrote(total));
    })
}

/// A large answer to a client that half-closes, stalls until the server's
/// writes block, then reads it all.
fn large_answer_to_a_stalled_then_resumed_reader(extra: &str) -> Lb {
    let (be, rx) = blocking_writer();
    let lb = Lb::start(&[be.addr()], extra);
    let mut c = connect_small(lb.port, 64 * 1024);
    c.write_all(b"go").unwrap();
    shutdown_write(&c);
    assert_eq!(
        rx.recv_timeout(LIMIT),
        Ok(Writer::Blocked),
        "the server's writes block"
    );
    let got = receive(&mut c);
    let Ok(Writer::Wrote(total)) = rx.recv_timeout(LIMIT) else {
        panic!("the server finished")
    };
    assert!(
        got.is_pattern(8, total) && got.end == End::Eof,
        "{got:?} of {total}"
    );
    assert_eq!(lb.wait_states(1), ["--"]);
    assert_eq!(lb.stat("px", "s0", "bout"), total as u64);
    drop(c);
    lb.audit(&[be.port]);
    lb
}

#[test]
fn a_large_answer_reaches_a_stalled_then_resumed_reader_with_splice() {
    let lb = large_answer_to_a_stalled_then_resumed_reader(SPLICE);
    assert!(lb.info("PipesLent") > 0, "the bulk went through pipes");
}

#[test]
fn a_large_answer_reaches_a_stalled_then_resumed_reader_with_copy() {
    let lb = large_answer_to_a_stalled_then_resumed_reader(COPY);
    assert_eq!(lb.info("PipesLent"), 0, "copied, never spliced");
}

#[test]
fn a_soft_stop_during_a_flush_to_a_stalled_reader_delivers_everything() {
    let (be, rx) = blocking_writer();
    let mut lb = Lb::start(&[be.addr()], "");
    let mut c = connect_small(lb.port, 64 * 1024);
    c.write_all(b"go").unwrap();
    shutdown_write(&c);
    assert_eq!(
        rx.recv_timeout(LIMIT),
        Ok(Writer::Blocked),
        "the server's writes block"
    );
    lb.l4.signal(libc::SIGTERM);
    let closed = wait_until(LIMIT, || !listening(lb.port));
    assert!(closed, "the soft stop closed the listeners");
    assert!(lb.l4.is_running(), "and waits for the open connection");
    let got = receive(&mut c);
    let Ok(Writer::Wrote(total)) = rx.recv_timeout(LIMIT) else {
        panic!("the server finished")
    };
    assert!(
        got.is_pattern(8, total) && got.end == End::Eof,
        "{got:?} of {total}"
    );
    let status = lb
        .l4
        .wait_exit(LIMIT)
        .expect("l4lb exits after the last one");
    assert!(status.success(), "{status:?}");
    assert_eq!(lb.states(), ["--"]);
    // No API left to ask: the sockets are what remains to check.
    drop(c);
    let ports = [lb.port, be.port];
    assert!(wait_until(LIMIT, || close_wait_count(&ports) == 0));
}

/// 1 MiB each way through 1 KiB buffers and 4 KiB pipes.
fn tiny_buffers_carry_a_large_transfer(extra: &str) {
    let be = scripted(|_, _| {});
    let port = free_port();
    let lb = Lb::start_sections(
        "tune.bufsize 1024\ntune.pipesize 4096",
        &[(port, listen("px", port, &[be.addr()], extra))],
    );
    let mut c = connect(lb.port);
    c.write_all(b"echo\n").unwrap();
    let mut w = c.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let sent = send(&mut w, 9, MIB);
        shutdown_write(&w);
        sent
    });
    let got = receive(&mut c);
    assert_eq!(writer.join().unwrap(), Ok(()));
    assert!(got.is_pattern(9, MIB) && got.end == End::Eof, "{got:?}");
    drop(c);
    lb.audit(&[be.port]);
}

#[test]
fn tiny_buffers_and_pipes_carry_a_large_transfer_with_splice() {
    tiny_buffers_carry_a_large_transfer(SPLICE);
}

#[test]
fn tiny_buffers_carry_a_large_transfer_with_copy() {
    tiny_buffers_carry_a_large_transfer(COPY);
}

/// S30's pre-engage case: 2 MiB sent while queued for the only server slot
/// (more than a pipe, a buffer or a socket buffer of l4lb's holds), then
/// 1 MiB once connected: the server gets all 3 MiB in order.
fn bytes_sent_before_the_server_connects_come_first(extra: &str) {
    const PRE: usize = 2 * MIB;
    const POST: usize = MIB;
    let (be, rx) = reporting(|mut s, tx| {
        let Ok(word) = read_line(&mut s) else { return };
        if word == "hold" {
            // The slot holder: until its client closes.
            let _ = receive(&mut s);
            return;
        }
        let _ = s.write_all(b"ready\n");
        let _ = tx.send(receive(&mut s));
    });
    let lb = Lb::start(&[be.addr()], &format!("{extra}\ndefault-server maxconn 1"));
    let mut holder = connect(lb.port);
    holder.write_all(b"hold\n").unwrap();
    assert!(wait_until(LIMIT, || be.counts.active.load(SeqCst) == 1));
    let mut data = vec![0u8; PRE + POST];
    Pattern::new(10).fill(&mut data[5..]);
    data[..5].copy_from_slice(b"data\n");
    let mut c = connect_roomy(lb.port, PRE);
    c.write_all(&data[..PRE]).unwrap();
    let queued = wait_until(LIMIT, || lb.stat("px", "BACKEND", "scur") == 2);
    assert!(queued, "{}", lb.api("show stat"));
    assert_eq!(be.counts.total.load(SeqCst), 1, "not connected yet");
    drop(holder);
    assert_eq!(read_line(&mut c).unwrap(), "ready");
    c.write_all(&data[PRE..]).unwrap();
    shutdown_write(&c);
    let seen = rx.recv_timeout(LIMIT).unwrap();
    let want = Sha256::digest(&data[5..]);
    assert!(
        seen.len == PRE + POST - 5 && seen.hash == <[u8; 32]>::from(want) && seen.end == End::Eof,
        "the server gets every byte in order: {} of {} bytes, then {:?}",
        seen.len,
        PRE + POST - 5,
        seen.end
    );
    let got = receive(&mut c);
    assert_eq!((got.len, got.end), (0, End::Eof));
    drop(c);
    lb.audit(&[be.port]);
}

#[test]
fn bytes_sent_before_the_server_connects_come_first_with_splice() {
    bytes_sent_before_the_server_connects_come_first(SPLICE);
}

#[test]
fn bytes_sent_before_the_server_connects_come_first_with_copy() {
    bytes_sent_before_the_server_connects_come_first(COPY);
}

#[test]
fn a_client_close_completes_beside_a_keep_alive_server_that_never_closes() {
    let (done_tx, done_rx) = one_shot();
    let (be, rx) = reporting(move |mut s, tx| {
        let _ = tx.send(receive(&mut s));
        // Keeps its connection open, silent, until the test is done.
        let _ = done_rx.lock().unwrap().recv_timeout(LIMIT);
    });
    let lb = Lb::start(&[be.addr()], "timeout server 400ms\ntimeout client 5s");
    let mut c = connect(lb.port);
    c.write_all(b"request").unwrap();
    drop(c);
    let seen = rx.recv_timeout(LIMIT).unwrap();
    assert_eq!(
        (seen.head.as_slice(), seen.end),
        (&b"request"[..], End::Eof)
    );
    let ended = wait_until(LIMIT, || lb.stat("px", "FRONTEND", "scur") == 0);
    assert!(ended, "the session ends though the server never closes");
    assert_eq!(lb.wait_states(1), ["sD"], "at the server's timeout");
    done_tx.send(()).unwrap();
    lb.audit(&[be.port]);
}
