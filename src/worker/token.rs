//! mio tokens: what an event is about, encoded in one `usize`.
//!
//! `0` is the worker's waker, `1..=MAX_LISTENERS` its listeners. A session's
//! two sockets carry its whole slab [`Key`]: bit 0 the socket, bits 1..33
//! the slot, bits 33..64 the slot's generation (never 0, so a session token
//! is always above every listener token). An event still in a batch for a
//! connection that has closed decodes to a key the slab no longer holds.

use std::io;

use crate::proxy::stream::Stream;
use mio::{Interest, Registry, Token};

use crate::worker::slab::Key;

pub(crate) const WAKER: Token = Token(0);
const LISTENER_BASE: usize = 1;
const MAX_LISTENERS: usize = 1 << 16;
const SLOT_SHIFT: u32 = 1;
const GENERATION_SHIFT: u32 = 33;

const _: () = assert!(usize::BITS == 64, "session tokens need a 64-bit usize");

/// Which socket of a session an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    Client,
    Server,
}

/// What a token designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Waker,
    Listener(usize),
    Session(Key, Peer),
}

pub(crate) fn listener(index: usize) -> Token {
    assert!(
        index < MAX_LISTENERS,
        "at most {MAX_LISTENERS} listeners per worker"
    );
    Token(LISTENER_BASE + index)
}

pub(crate) fn session(key: Key, peer: Peer) -> Token {
    Token(
        (key.generation() as usize) << GENERATION_SHIFT
            | (key.slot() as usize) << SLOT_SHIFT
            | (peer == Peer::Server) as usize,
    )
}

pub(crate) fn target(token: Token) -> Target {
    let t = token.0;
    match t >> GENERATION_SHIFT {
        0 if t == 0 => Target::Waker,
        0 => Target::Listener(t - LISTENER_BASE),
        generation => {
            let slot = (t >> SLOT_SHIFT) as u32;
            let peer = if t & 1 == 0 {
                Peer::Client
            } else {
                Peer::Server
            };
            Target::Session(Key::from_parts(slot, generation as u32), peer)
        }
    }
}

/// What a session may do with the worker's poll: register its sockets,
/// without knowing how their tokens are made.
#[derive(Clone, Copy)]
pub(crate) struct Sockets<'a>(pub(crate) &'a Registry);

impl Sockets<'_> {
    /// Registers one socket of session `key`, edge-triggered for both
    /// directions (it stays registered until it is closed).
    pub(crate) fn register(&self, stream: &mut Stream, key: Key, peer: Peer) -> io::Result<()> {
        let interest = Interest::READABLE | Interest::WRITABLE;
        self.0.register(stream, session(key, peer), interest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        assert_eq!(target(WAKER), Target::Waker);
        assert_eq!(target(listener(0)), Target::Listener(0));
        assert_eq!(target(listener(7)), Target::Listener(7));
        for (slot, generation) in [(0, 1), (1, 2), (99_999, 7), (u32::MAX, (1 << 31) - 1)] {
            let key = Key::from_parts(slot, generation);
            for peer in [Peer::Client, Peer::Server] {
                assert_eq!(target(session(key, peer)), Target::Session(key, peer));
            }
        }
    }

    #[test]
    fn a_slots_next_generation_is_another_token() {
        let old = Key::from_parts(3, 1);
        let new = Key::from_parts(3, 2);
        assert_ne!(session(old, Peer::Client), session(new, Peer::Client));
    }
}
