//! mio tokens: what an event is about, encoded in one `usize`.
//!
//! `0` is the worker's waker, `1..=MAX_LISTENERS` its listeners, and above
//! that each session slot has two tokens, one per socket.

use mio::Token;

pub const WAKER: Token = Token(0);
const LISTENER_BASE: usize = 1;
const MAX_LISTENERS: usize = 1 << 16;
const SESSION_BASE: usize = LISTENER_BASE + MAX_LISTENERS;

/// Which socket of a session an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Client,
    Server,
}

/// What a token designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Waker,
    Listener(usize),
    Session(usize, Peer),
}

pub fn listener(index: usize) -> Token {
    assert!(
        index < MAX_LISTENERS,
        "at most {MAX_LISTENERS} listeners per worker"
    );
    Token(LISTENER_BASE + index)
}

pub fn session(slot: usize, peer: Peer) -> Token {
    Token(SESSION_BASE + slot * 2 + (peer == Peer::Server) as usize)
}

pub fn target(token: Token) -> Target {
    match token.0 {
        0 => Target::Waker,
        t if t < SESSION_BASE => Target::Listener(t - LISTENER_BASE),
        t => {
            let n = t - SESSION_BASE;
            let peer = if n.is_multiple_of(2) {
                Peer::Client
            } else {
                Peer::Server
            };
            Target::Session(n / 2, peer)
        }
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
        for slot in [0, 1, 99_999] {
            assert_eq!(
                target(session(slot, Peer::Client)),
                Target::Session(slot, Peer::Client)
            );
            assert_eq!(
                target(session(slot, Peer::Server)),
                Target::Session(slot, Peer::Server)
            );
        }
    }
}
