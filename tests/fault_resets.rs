//! Resets in every phase of a connection (issue 9; HAProxy's CQ, CC, CD
//! and SD states): while queued, while connecting, mid-stream each way,
//! right after the server's first byte, and from a half-closed peer. Each
//! fault happens beside innocent clients streaming checked bytes through
//! the same l4lb and server; they must all complete byte-exact with a clean
//! EOF. A truncation must reach the other peer as a reset, never as a clean
//! EOF, and every scenario ends with l4lb back to idle (see `fault::Lb::audit`).

mod common;
#[path = "common/fault.rs"]
mod fault;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Mutex, mpsc};

use common::*;
use fault::*;

/// Innocent clients beside each fault.
const INNOCENTS: usize = 6;
const HALF_MIB: usize = 512 * 1024;

#[test]
fn a_client_reset_while_queued_leaves_the_queue_to_the_others() {
    let be = scripted(|_, _| {});
    // The innocents take every slot of the only server: the next clients queue.
    let lb = Lb::start(
        &[be.addr()],
        &format!("timeout queue 20s\ndefault-server maxconn {INNOCENTS}"),
    );
    let innocents = Innocents::start(lb.port, INNOCENTS);
    let queued: Vec<TcpStream> = (0..3).map(|_| connect(lb.port)).collect();
    let all_queued = wait_until(LIMIT, || lb.stat("px", "BACKEND", "scur") == 9);
    assert!(all_queued, "3 queued: {}", lb.api("show stat"));
    for c in queued {
        reset(c);
    }
    let left = wait_until(LIMIT, || lb.stat("px", "BACKEND", "scur") == 6);
    assert!(left, "the resets leave the queue: {}", lb.api("show stat"));
    // A client queued after them still gets the next free slot.
    let mut late = connect(lb.port);
    late.write_all(b"echo\nlate!").unwrap();
    shutdown_write(&late);
    innocents.finish();
    let got = receive(&mut late);
    assert_eq!((got.head.as_slice(), got.end), (&b"late!"[..], End::Eof));
    assert_eq!(
        be.counts.total.load(SeqCst),
        INNOCENTS + 1,
        "a client reset while queued never reaches the server"
    );
    let states = lb.wait_states(INNOCENTS + 4);
    assert_eq!(
        states.iter().filter(|s| *s == "CQ").count(),
        3,
        "{states:?}"
    );
    lb.audit(&[be.port]);
}

#[test]
fn a_client_reset_while_connecting_abandons_the_connect() {
    let be = scripted(|_, _| {});
    let (_hole, _fillers, hole) = black_hole();
    let (port, hole_port) = (free_port(), free_port());
    let lb = Lb::start_sections(
        "",
        &[
            (port, listen("px", port, &[be.addr()], "")),
            (
                hole_port,
                listen("hole", hole_port, &[hole], "timeout connect 20s"),
            ),
        ],
    );
    let innocents = Innocents::start(lb.port, INNOCENTS);
    let connecting: Vec<TcpStream> = (0..3).map(|_| connect(hole_port)).collect();
    // A connecting session holds its server slot.
    let all = wait_until(LIMIT, || lb.stat("hole", "s0", "scur") == 3);
    assert!(all, "3 connecting: {}", lb.api("show stat"));
    for c in connecting {
        reset(c);
    }
    let states = lb.wait_states(3);
    assert_eq!(
        states,
        ["CC", "CC", "CC"],
        "ended by the client while connecting"
    );
    innocents.finish();
    lb.audit(&[be.port, hole.port()]);
}

#[test]
fn a_client_reset_mid_upload_reaches_the_server_as_a_reset() {
    let (be, rx) = scripted_reporting(|_, mut s, tx| {
        let first = receive_up_to(&mut s, HALF_MIB);
        let _ = tx.send(first);
        let _ = tx.send(receive(&mut s));
    });
    let lb = Lb::start(&[be.addr()], "");
    let innocents = Innocents::start(lb.port, INNOCENTS);
    let mut c = connect(lb.port);
    c.write_all(b"sink\n").unwrap();
    send(&mut c, 1, HALF_MIB).unwrap();
    let first = rx.recv_timeout(LIMIT).expect("the server reads the upload");
    assert!(first.is_pattern(1, HALF_MIB), "{first:?}");
    // More bytes in flight, then the reset.
    send(&mut c, 2, 64 * 1024).unwrap();
    reset(c);
    let rest = rx.recv_timeout(LIMIT).expect("the server's read ends");
    assert_eq!(rest.end, End::Reset, "not a clean EOF: {rest:?}");
    assert!(
        rest.is_pattern_prefix(2),
        "what arrived is intact: {rest:?}"
    );
    innocents.finish();
    assert_eq!(lb.wait_states(INNOCENTS + 1)[0], "CD");
    lb.audit(&[be.port]);
}

#[test]
fn a_client_reset_mid_download_reaches_the_server_as_a_reset() {
    let (be, rx) = scripted_reporting(|_, mut s, tx| {
        s.set_write_timeout(Some(LIMIT)).unwrap();
        // Streams until the write fails: how it failed is the verdict.
        let mut seed = 3;
        let end = loop {
            if let Err(end) = send(&mut s, seed, HALF_MIB) {
                break end;
            }
            seed += 1;
        };
        let _ = tx.send(end);
    });
    let lb = Lb::start(&[be.addr()], "");
    let innocents = Innocents::start(lb.port, INNOCENTS);
    let mut c = connect(lb.port);
    c.write_all(b"source\n").unwrap();
    let first = receive_up_to(&mut c, HALF_MIB);
    assert!(first.is_pattern(3, HALF_MIB), "{first:?}");
    reset(c);
    let end = rx.recv_timeout(LIMIT).expect("the server's writes fail");
    assert_eq!(end, End::Reset, "the server's writes end in a reset");
    innocents.finish();
    assert_eq!(lb.wait_states(INNOCENTS + 1)[0], "CD");
    lb.audit(&[be.port]);
}

#[test]
fn a_server_reset_mid_upload_reaches_the_client_as_a_reset() {
    let (sent_tx, sent_rx) = one_shot();
    let (be, rx) = scripted_reporting(move |_, mut s, tx| {
        let first = receive_up_to(&mut s, HALF_MIB);
        // The client's extra bytes are in flight past this point.
        let _ = sent_rx.lock().unwrap().recv_timeout(LIMIT);
        reset(s);
        let _ = tx.send(first);
    });
    let lb = Lb::start(&[be.addr()], "");
    let innocents = Innocents::start(lb.port, INNOCENTS);
    let mut c = connect(lb.port);
    c.write_all(b"sink-then-reset\n").unwrap();
    send(&mut c, 1, HALF_MIB + 64 * 1024).unwrap();
    sent_tx.send(()).unwrap();
    let first = rx.recv_timeout(LIMIT).unwrap();
    assert!(first.is_pattern(1, HALF_MIB), "{first:?}");
    let got = receive(&mut c);
    assert_eq!((got.len, got.end), (0, End::Reset), "{got:?}");
    innocents.finish();
    assert_eq!(lb.wait_states(INNOCENTS + 1)[0], "SD");
    lb.audit(&[be.port]);
}

#[test]
fn a_server_reset_mid_download_reaches_the_client_as_a_reset() {
    let (go_tx, go_rx) = one_shot();
    let be = scripted(move |_, mut s| {
        // Half a MiB, half of it read by the client, then the reset: the
        // rest of it is cut.
        let _ = send(&mut s, 4, HALF_MIB);
        let _ = go_rx.lock().unwrap().recv_timeout(LIMIT);
        reset(s);
    });
    let lb = Lb::start(&[be.addr()], "");
    let innocents = Innocents::start(lb.port, INNOCENTS);
    let mut c = connect(lb.port);
    c.write_all(b"source-then-reset\n").unwrap();
    let first = receive_up_to(&mut c, HALF_MIB / 2);
    assert!(first.is_pattern(4, HALF_MIB / 2), "{first:?}");
    go_tx.send(()).unwrap();
    let rest = receive(&mut c);
    assert_eq!(
        rest.end,
        End::Reset,
        "a cut download is not a clean EOF: {rest:?}"
    );
    assert!(rest.len <= HALF_MIB / 2, "{rest:?}");
    innocents.finish();
    assert_eq!(lb.wait_states(INNOCENTS + 1)[0], "SD");
    lb.audit(&[be.port]);
}

/// The server sends one byte and resets: the client gets the byte, then
/// the reset. With `retry-on empty-response` too: once the server spoke,
/// its hang-up is no empty response to replay elsewhere.
fn server_reset_after_its_first_byte(extra: &str) {
    let be = scripted(|_, mut s| {
        let _ = s.write_all(b"x");
        reset(s);
    });
    let lb = Lb::start(&[be.addr()], extra);
    let innocents = Innocents::start(lb.port, INNOCENTS);
    let mut c = connect(lb.port);
    c.write_all(b"first-byte-then-reset\n").unwrap();
    let got = receive(&mut c);
    assert_eq!((got.head.as_slice(), got.end), (&b"x"[..], End::Reset));
    innocents.finish();
    assert_eq!(lb.wait_states(INNOCENTS + 1)[0], "SD");
    assert_eq!(be.counts.total.load(SeqCst), INNOCENTS + 1);
    lb.audit(&[be.port]);
}

#[test]
fn a_server_reset_right_after_its_first_byte_reaches_the_client() {
    server_reset_after_its_first_byte("");
}

#[test]
fn a_server_reset_right_after_its_first_byte_is_not_replayed() {
    server_reset_after_its_first_byte("retry-on conn-failure empty-response");
}

#[test]
fn a_client_reset_right_after_the_servers_first_byte_reaches_the_server() {
    let (be, rx) = scripted_reporting(|_, mut s, tx| {
        let _ = s.write_all(b"x");
        let _ = tx.send(receive(&mut s));
    });
    let lb = Lb::start(&[be.addr()], "retry-on conn-failure empty-response");
    let innocents = Innocents::start(lb.port, INNOCENTS);
    let mut c = connect(lb.port);
    c.write_all(b"first-byte-then-read\n").unwrap();
    let mut b = [0u8; 1];
    c.read_exact(&mut b).unwrap();
    reset(c);
    let got = rx.recv_timeout(LIMIT).expect("the server's read ends");
    assert_eq!((got.len, got.end), (0, End::Reset), "{got:?}");
    innocents.finish();
    assert_eq!(lb.wait_states(INNOCENTS + 1)[0], "CD");
    lb.audit(&[be.port]);
}

#[test]
fn a_reset_from_a_half_closed_client_reaches_the_server_when_it_answers() {
    let (fin_tx, fin_rx) = mpsc::channel::<()>();
    let fin_tx = Mutex::new(fin_tx);
    let (reset_tx, reset_rx) = one_shot();
    let (be, rx) = scripted_reporting(move |_, mut s, tx| {
        let request = receive(&mut s);
        let _ = fin_tx.lock().unwrap().send(());
        let _ = reset_rx.lock().unwrap().recv_timeout(LIMIT);
        // The answer goes to a client that is gone.
        let wrote = s.write_all(b"answer");
        let _ = tx.send((request, wrote.is_ok(), wait_hangup(&s, LIMIT)));
    });
    let lb = Lb::start(&[be.addr()], "");
    let innocents = Innocents::start(lb.port, INNOCENTS);
    let mut c = connect(lb.port);
    c.write_all(b"late-answer\nrequest").unwrap();
    shutdown_write(&c);
    fin_rx.recv_timeout(LIMIT).expect("the server gets the FIN");
    reset(c);
    reset_tx.send(()).unwrap();
    let (request, wrote, end) = rx.recv_timeout(LIMIT).unwrap();
    assert_eq!(
        (request.head.as_slice(), request.end),
        (&b"request"[..], End::Eof)
    );
    assert!(wrote, "the answer is accepted");
    assert_eq!(
        end,
        End::Reset,
        "then the client's reset reaches the server"
    );
    innocents.finish();
    lb.audit(&[be.port]);
}

#[test]
fn a_reset_from_a_half_closed_server_reaches_the_client_when_it_writes() {
    let (eof_tx, eof_rx) = one_shot();
    let (be, rx) = scripted_reporting(move |_, s, tx| {
        shutdown_write(&s);
        let _ = eof_rx.lock().unwrap().recv_timeout(LIMIT);
        abort(&s);
        let _ = tx.send(());
    });
    let lb = Lb::start(&[be.addr()], "");
    let innocents = Innocents::start(lb.port, INNOCENTS);
    let mut c = connect(lb.port);
    c.write_all(b"half-close-then-reset\n").unwrap();
    let got = receive(&mut c);
    assert_eq!(
        (got.len, got.end),
        (0, End::Eof),
        "the server's FIN: {got:?}"
    );
    eof_tx.send(()).unwrap();
    rx.recv_timeout(LIMIT).expect("the server resets");
    // l4lb learns of the reset when it next writes to the server.
    let wrote = c.write_all(b"more");
    assert!(wrote.is_ok(), "{wrote:?}");
    assert_eq!(
        wait_hangup(&c, LIMIT),
        End::Reset,
        "the server's reset reaches the client"
    );
    innocents.finish();
    lb.audit(&[be.port]);
}
