//! One direction's pump: bytes from a source socket to a destination socket.
//!
//! Bulk transfers go through a pooled pipe with `splice(2)` (no copy through
//! user space); short exchanges are copied through a pooled buffer, which
//! costs one read and one write where splice would need a pipe too
//! (HAProxy's splice-auto). A direction starts copying and switches to
//! splicing once a read fills a whole buffer, and back once reads are small.
//! A FIN from the source becomes `shutdown(Write)` on the destination after
//! every byte in flight has been written; nothing is ever dropped.
//!
//! For `retry-on empty-response`, a pump can keep a journal of what it read
//! until the other direction sees its first byte: then a dead server can be
//! replaced and sent the same bytes. A journaling pump copies (never
//! splices) and gives the journal up past one buffer.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::time::Instant;

use crate::proxy::buffers::BufPool;
use crate::proxy::pipes::{Pipe, PipePool};
use crate::proxy::stream::Stream;
use crate::sys;

/// Fill/drain rounds one call may make before yielding to other sessions;
/// the worker calls again on its next turn if there is more to do.
const ROUNDS_PER_CALL: usize = 32;

/// A socket and the readiness the event loop last reported for it. Sockets
/// are registered edge-triggered, so a flag stays set until a syscall on
/// that socket says it is exhausted.
#[derive(Debug)]
pub(crate) struct Side {
    pub stream: Stream,
    pub readable: bool,
    pub writable: bool,
    /// The peer's FIN has been reported (EPOLLRDHUP): after the data, a
    /// read will return 0, and no new event will come to say so.
    pub read_closed: bool,
}

impl Side {
    pub(crate) fn new(stream: Stream) -> Side {
        Side {
            stream,
            readable: false,
            writable: false,
            read_closed: false,
        }
    }
}

/// The worker's pools a pump borrows from.
#[derive(Debug)]
pub(crate) struct Pools {
    pub pipes: PipePool,
    pub bufs: BufPool,
    /// The rule stages' peek buffer and scratch.
    pub inspect: crate::proxy::scratch::Inspector,
}

/// Bytes in flight between the two sockets of one direction.
#[derive(Debug, Default)]
enum Flight {
    #[default]
    Empty,
    Pipe(Pipe),
    Buf {
        buf: Box<[u8]>,
        start: usize,
        end: usize,
    },
}

impl Flight {
    fn pending(&self) -> usize {
        match self {
            Flight::Empty => 0,
            Flight::Pipe(p) => p.len,
            Flight::Buf { start, end, .. } => end - start,
        }
    }
}

/// What one call of [`Pump::run`] did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Moved {
    /// Bytes read from the source (or a FIN read: see `eof`).
    pub read: usize,
    /// Bytes written to the destination.
    pub written: usize,
    /// The round budget ran out while bytes could still move: call again.
    pub more: bool,
}

/// Which socket of a pump failed.
#[derive(Debug)]
pub(crate) enum Failed {
    /// Reading from the source.
    Source(io::Error),
    /// Writing to the destination.
    Destination(io::Error),
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Source(e) | Failed::Destination(e) => e.fmt(f),
        }
    }
}

/// One direction of a proxied connection.
#[derive(Debug)]
pub(crate) struct Pump {
    flight: Flight,
    /// The source sent its FIN.
    eof: bool,
    /// Reading the source was given up (its inactivity timeout struck): a
    /// FIN is passed on as if it had sent one, and nothing more is read.
    cut: bool,
    /// Since when bytes in flight have waited for the destination (reset
    /// by each write that makes progress): its write timeout runs from here.
    blocked_since: Option<Instant>,
    /// The FIN has been passed on (`shutdown(Write)` on the destination).
    shut: bool,
    /// splice-auto: this direction has been moving full buffers.
    streaming: bool,
    splice_allowed: bool,
    /// The last splice into the pipe found it full: drain before reading.
    pipe_full: bool,
    /// Total bytes written to the destination.
    pub total: u64,
    /// `retry-on empty-response`: every byte read from the source so far,
    /// while it fits in one buffer and nobody called [`Pump::forget`].
    journal: Option<Vec<u8>>,
    /// Some byte was read from the source.
    heard: bool,
    /// Bytes of a prefix (a PROXY header) still to leave out of `total`.
    prefix: u64,
}

/// Room kept in a replay's buffer for a PROXY protocol header sent before
/// the journal (the largest l4lb writes is well under it).
pub(crate) const PREFIX_ROOM: usize = 512;

impl Pump {
    pub(crate) fn new(splice_allowed: bool) -> Pump {
        Pump {
            flight: Flight::Empty,
            eof: false,
            cut: false,
            blocked_since: None,
            shut: false,
            streaming: false,
            splice_allowed,
            pipe_full: false,
            total: 0,
            journal: None,
            heard: false,
            prefix: 0,
        }
    }

    /// A pump that journals what it reads, for a possible replay.
    pub(crate) fn journaling(splice_allowed: bool) -> Pump {
        Pump {
            journal: Some(Vec::new()),
            ..Pump::new(splice_allowed)
        }
    }

    /// A journaling pump for a replacement server: `journal` (what the
    /// client sent the failed one) is in flight first.
    pub(crate) fn replaying(journal: Vec<u8>, splice_allowed: bool, pools: &mut Pools) -> Pump {
        let mut buf = pools.bufs.get();
        let len = journal.len();
        debug_assert!(len <= buf.len(), "a journal never outgrows a buffer");
        buf[..len].copy_from_slice(&journal);
        Pump {
            flight: Flight::Buf {
                buf,
                start: 0,
                end: len,
            },
            journal: Some(journal),
            ..Pump::new(splice_allowed)
        }
    }

    /// `pump` with `prefix` (a PROXY protocol header) in flight before
    /// anything else; not journaled, not counted as the client's bytes.
    pub(crate) fn prefixed(mut self, prefix: &[u8], pools: &mut Pools) -> Pump {
        let mut buf = pools.bufs.get();
        let (start, end) = match &self.flight {
            Flight::Buf {
                buf: old,
                start,
                end,
            } => {
                let held = &old[*start..*end];
                debug_assert!(prefix.len() + held.len() <= buf.len(), "PREFIX_ROOM");
                buf[prefix.len()..prefix.len() + held.len()].copy_from_slice(held);
                (0, prefix.len() + held.len())
            }
            _ => (0, prefix.len()),
        };
        buf[..prefix.len()].copy_from_slice(prefix);
        if let Flight::Buf { buf: old, .. } = std::mem::replace(&mut self.flight, Flight::Empty) {
            pools.bufs.put(old);
        }
        self.flight = Flight::Buf { buf, start, end };
        self.prefix = prefix.len() as u64;
        self
    }

    /// Whether the source ever sent a byte.
    pub(crate) fn heard(&self) -> bool {
        self.heard
    }

    /// Whether this pump still holds everything it ever read.
    pub(crate) fn journaled(&self) -> bool {
        self.journal.is_some()
    }

    /// Takes the journal, if still whole.
    pub(crate) fn take_journal(&mut self) -> Option<Vec<u8>> {
        self.journal.take()
    }

    /// Stops journaling (the replay window is over).
    pub(crate) fn forget(&mut self) {
        self.journal = None;
    }

    /// The source's FIN has been read and passed on, nothing left in flight.
    pub(crate) fn done(&self) -> bool {
        self.shut
    }

    /// The source has sent its FIN (bytes may still be in flight).
    pub(crate) fn eof(&self) -> bool {
        self.eof
    }

    /// Moves what readiness allows; `Err` means a socket failed (reset, ...)
    /// and the connection must be aborted (or, before any answer, retried).
    pub(crate) fn run(
        &mut self,
        src: &mut Side,
        dst: &mut Side,
        pools: &mut Pools,
    ) -> Result<Moved, Failed> {
        let mut moved = Moved::default();
        for _ in 0..ROUNDS_PER_CALL {
            let mut progress = false;
            if src.readable && self.reading() {
                let n = self.fill(src, pools).map_err(Failed::Source)?;
                progress |= n > 0 || self.eof;
                moved.read += n;
            }
            if dst.writable && self.flight.pending() > 0 {
                let n = self.drain(dst).map_err(Failed::Destination)?;
                progress |= n > 0;
                moved.written += n;
            }
            if !progress {
                self.settle(pools);
                return Ok(moved);
            }
        }
        moved.more = true;
        self.settle(pools);
        Ok(moved)
    }

    /// Gives back what this direction holds, at the end of the connection.
    pub(crate) fn release(&mut self, pools: &mut Pools) {
        match std::mem::take(&mut self.flight) {
            Flight::Empty => {}
            Flight::Pipe(p) => pools.pipes.put(p),
            Flight::Buf { buf, .. } => pools.bufs.put(buf),
        }
    }

    fn has_room(&self) -> bool {
        match &self.flight {
            Flight::Empty => true,
            Flight::Pipe(_) => !self.pipe_full,
            Flight::Buf { start, end, .. } => start == end,
        }
    }

    /// Once nothing is in flight: return the pipe or buffer to its pool.
    fn settle(&mut self, pools: &mut Pools) {
        if self.flight.pending() == 0 {
            self.release(pools);
        }
    }

    /// The source's FIN has been read (or reading was given up) and every
    /// byte before it written: the FIN is owed to the destination.
    pub(crate) fn fin_owed(&self) -> bool {
        (self.eof || self.cut) && !self.shut && self.flight.pending() == 0
    }

    /// Whether this direction waits to read its source: no FIN yet, not
    /// given up, and room for bytes. The source's read timeout runs only
    /// then; a direction blocked on its destination runs the destination's
    /// write timeout instead.
    pub(crate) fn reading(&self) -> bool {
        !self.eof && !self.cut && self.has_room()
    }

    /// The source's read timeout struck: read no more from it, and pass a
    /// FIN on once the bytes in flight are written.
    pub(crate) fn stop_reading(&mut self) {
        self.cut = true;
    }

    /// Since when bytes in flight have been waiting for the destination.
    pub(crate) fn blocked_since(&self) -> Option<Instant> {
        self.blocked_since
    }

    /// After a run that wrote `written` bytes at `now`: starts, restarts or
    /// clears the clock of the destination's write timeout.
    pub(crate) fn track_blocking(&mut self, written: usize, now: Instant) {
        if self.flight.pending() == 0 {
            self.blocked_since = None;
        } else if written > 0 || self.blocked_since.is_none() {
            self.blocked_since = Some(now);
        }
    }

    /// Passes the owed FIN on with `shutdown(Write)`, or, when the caller is
    /// about to close the destination anyway (`closing`), leaves it to
    /// close(2), which sends the same FIN one syscall cheaper.
    pub(crate) fn pass_fin(&mut self, dst: &Side, closing: bool) {
        debug_assert!(self.fin_owed());
        if !closing {
            // ENOTCONN here means the peer is gone; the other direction
            // will see the error on its next syscall.
            let _ = dst.stream.shutdown(Shutdown::Write);
        }
        self.shut = true;
    }

    /// Reads from the source into the pipe or buffer; returns bytes read.
    fn fill(&mut self, src: &mut Side, pools: &mut Pools) -> io::Result<usize> {
        // Between two reads, with nothing in flight, the stage may change:
        // a direction that keeps filling its buffer moves to a pipe even if
        // it never gets idle (a reader slower than the writer), and back.
        if self.flight.pending() == 0 {
            let on_pipe = matches!(self.flight, Flight::Pipe(_));
            if !matches!(self.flight, Flight::Empty) && on_pipe != self.wants_pipe() {
                self.release(pools);
            }
        }
        if let Flight::Empty = self.flight {
            self.flight = self.take_stage(pools);
        }
        let bufsize = pools.bufs.size();
        let mut short = false;
        let result = match &mut self.flight {
            Flight::Empty => unreachable!("take_stage always returns a stage"),
            Flight::Pipe(pipe) => {
                let room = pools.pipes.capacity().saturating_sub(pipe.len).max(4096);
                match sys::splice(src.stream.as_fd(), pipe.write_end(), room) {
                    Ok(n) => {
                        // A short splice proves nothing: the pipe may have run
                        // out of slots with bytes still queued on the socket.
                        pipe.len += n;
                        if n > 0 && n < bufsize / 4 {
                            self.streaming = false;
                        }
                        Ok(n)
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock && pipe.len > 0 => {
                        // Ambiguous EAGAIN: with bytes in the pipe, take it as
                        // "pipe full" and keep the source marked readable; once
                        // the pipe is drained, a retry tells the truth.
                        self.pipe_full = true;
                        return Ok(0);
                    }
                    Err(e) => Err(e),
                }
            }
            Flight::Buf { buf, start, end } => match src.stream.read(buf) {
                Ok(n) => {
                    (*start, *end) = (0, n);
                    short = n < buf.len();
                    self.streaming = n == buf.len();
                    if let Some(journal) = &mut self.journal {
                        if journal.len() + n <= bufsize - PREFIX_ROOM {
                            journal.extend_from_slice(&buf[..n]);
                        } else {
                            self.journal = None; // Too much to replay.
                        }
                    }
                    Ok(n)
                }
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(0) => {
                self.eof = true;
                Ok(0)
            }
            Ok(n) => {
                self.heard = true;
                // A short read emptied the socket: new data will raise a
                // new edge, so skip the read that would only say EAGAIN
                // (one syscall per message saved). Not when a FIN is
                // pending: its edge has already been consumed.
                if short && !src.read_closed {
                    src.readable = false;
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                src.readable = false;
                Ok(0)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Whether the next read should go into a pipe: the direction streams,
    /// may splice, and keeps no journal.
    fn wants_pipe(&self) -> bool {
        self.splice_allowed && self.streaming && self.journal.is_none()
    }

    /// A pipe when this direction is streaming and one is free, else a buffer.
    fn take_stage(&self, pools: &mut Pools) -> Flight {
        if self.wants_pipe()
            && let Some(pipe) = pools.pipes.get()
        {
            return Flight::Pipe(pipe);
        }
        Flight::Buf {
            buf: pools.bufs.get(),
            start: 0,
            end: 0,
        }
    }

    /// Writes what is in flight to the destination; returns bytes written.
    fn drain(&mut self, dst: &mut Side) -> io::Result<usize> {
        let result = match &mut self.flight {
            Flight::Empty => Ok(0),
            Flight::Pipe(pipe) => sys::splice(pipe.read_end(), dst.stream.as_fd(), pipe.len)
                .inspect(|&n| {
                    pipe.len -= n;
                    self.pipe_full = false;
                }),
            Flight::Buf { buf, start, end } => dst.stream.write(&buf[*start..*end]).inspect(|&n| {
                *start += n;
            }),
        };
        match result {
            Ok(0) if self.flight.pending() > 0 => Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                // A PROXY header is l4lb's, not the client's bytes.
                let header = self.prefix.min(n as u64);
                self.prefix -= header;
                self.total += n as u64 - header;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                dst.writable = false;
                Ok(0)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }
}
