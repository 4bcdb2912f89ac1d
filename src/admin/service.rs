//! One admin service in the supervisor's `Poll`: listening sockets and a
//! table of non-blocking connections, with a [`Protocol`] plugged in. The
//! runtime API (`api`) and the metrics endpoint (`metrics`) are each one.
//!
//! The service accepts until `WouldBlock` (readiness is edge-triggered).
//! Out of fds, a listener rests and is retried once its [`Pause`] is over,
//! from [`Service::expire`], so a client queued meanwhile is taken without
//! another connection arriving. Past `max_conns`, a new connection is
//! closed as soon as it is accepted. A connection lives in a [`Slab`] under
//! a key with a generation, which its mio token carries ([`Tokens`]): an
//! event left in a batch for a connection that closed meanwhile finds
//! nothing, even if a new connection took its slot. Each connection has a
//! deadline, which its protocol computes; `expire` closes those past it.
//! What goes over a connection is the protocol's business: the service
//! calls it on every readiness event and closes the connection when told.
//! A protocol may park a connection, to wait for something outside its
//! socket (the runtime API's answer to a `reload` waits for the reload to
//! apply): its owner then runs the [`Service::parked`] ones again once
//! that happened, as if an event had come.

use std::io;
use std::time::Instant;

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};

use crate::proxy::listener::{self, Pause};
use crate::worker::slab::{Key, Slab};

/// What a service serves over its connections.
pub(crate) trait Protocol {
    /// The listening socket: unix for the API, TCP for metrics.
    type Listener: Accept;
    /// What a listener gives the connections it accepts (the API's level).
    type Origin;
    /// One connection's state, its stream included.
    type Conn;
    /// What a readiness event needs from the caller.
    type Ctx<'a>;
    /// The service's name in logs.
    const NAME: &'static str;

    /// A connection just accepted, at `now`, on a listener of `origin`.
    fn open(&self, stream: Stream<Self>, origin: &Self::Origin, now: Instant) -> Self::Conn;

    /// The connection's stream, to register and deregister it.
    fn stream(conn: &mut Self::Conn) -> &mut Stream<Self>;

    /// When `conn` is closed if no event moves it on.
    fn deadline(&self, conn: &Self::Conn) -> Instant;

    /// `conn` is past its deadline: closed, unless the protocol gives it
    /// something last to write (an HTTP 408) under a new deadline (Keep).
    fn expired(&self, _conn: &mut Self::Conn) -> Next {
        Next::Close
    }

    /// A readiness event on `conn`: runs it as far as its socket allows.
    fn ready(&self, conn: &mut Self::Conn, ctx: Self::Ctx<'_>) -> Next;

    /// Whether `conn` waits for something outside its socket, which its
    /// next event (see [`Service::parked`]) looks at again.
    fn parked(&self, _conn: &Self::Conn) -> bool {
        false
    }
}

/// The stream type a protocol's listener accepts.
pub(crate) type Stream<P> = <<P as Protocol>::Listener as Accept>::Stream;

/// A listening socket of any family.
pub(crate) trait Accept: Source {
    type Stream: Source;

    /// One accept (mio uses accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC).
    fn accept_stream(&self) -> io::Result<Self::Stream>;
}

impl Accept for UnixListener {
    type Stream = UnixStream;

    fn accept_stream(&self) -> io::Result<UnixStream> {
        self.accept().map(|(stream, _)| stream)
    }
}

impl Accept for TcpListener {
    type Stream = TcpStream;

    fn accept_stream(&self) -> io::Result<TcpStream> {
        self.accept().map(|(stream, _)| stream)
    }
}

/// What a readiness event left a connection as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    Keep,
    Close,
}

const _: () = assert!(usize::BITS == 64, "admin tokens need a 64-bit usize");

const TAG_BITS: u32 = 8;
const TAG_MASK: usize = (1 << TAG_BITS) - 1;
const INDEX_BITS: u32 = 24;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
const GENERATION_SHIFT: u32 = TAG_BITS + INDEX_BITS;
/// The most listeners, and the most connections at once, of one service.
pub(crate) const MAX_INDEX: usize = 1 << INDEX_BITS;

/// A service's mio tokens. The supervisor gives each service its own tag;
/// a token is the tag in bits 0..8, a listener's index or a connection's
/// slot in bits 8..32, and the connection's generation in bits 32..63
/// (0 for a listener: generations start at 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tokens {
    tag: usize,
}

/// What one of a service's tokens designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Listener(usize),
    Conn(Key),
}

impl Tokens {
    /// The tokens tagged `tag` (in 1..256). The supervisor keeps its own
    /// tokens below every tag it gives, so none of them is a service's.
    pub(crate) const fn new(tag: Token) -> Tokens {
        assert!(tag.0 > 0 && tag.0 <= TAG_MASK, "a service tag is in 1..256");
        Tokens { tag: tag.0 }
    }

    /// Whether `token` is one of these.
    pub(crate) fn owns(self, token: Token) -> bool {
        token.0 & TAG_MASK == self.tag
    }

    fn listener(self, index: usize) -> Token {
        assert!(
            index < MAX_INDEX,
            "at most {MAX_INDEX} listeners per service"
        );
        Token(self.tag | index << TAG_BITS)
    }

    fn conn(self, key: Key) -> Token {
        debug_assert!((key.slot() as usize) < MAX_INDEX);
        Token(
            self.tag
                | (key.slot() as usize) << TAG_BITS
                | (key.generation() as usize) << GENERATION_SHIFT,
        )
    }

    fn target(self, token: Token) -> Option<Target> {
        if !self.owns(token) {
            return None;
        }
        let index = token.0 >> TAG_BITS & INDEX_MASK;
        Some(match token.0 >> GENERATION_SHIFT {
            0 => Target::Listener(index),
            generation => Target::Conn(Key::from_parts(index as u32, generation as u32)),
        })
    }
}

/// One listening socket of a service.
pub(crate) struct Listening<P: Protocol> {
    sock: P::Listener,
    origin: P::Origin,
    /// Where it listens, said in logs; None for a service's only listener.
    label: Option<String>,
    /// Set while it rests after running out of fds.
    pause: Pause,
}

impl<P: Protocol> Listening<P> {
    pub(crate) fn new(sock: P::Listener, origin: P::Origin, label: Option<String>) -> Listening<P> {
        Listening {
            sock,
            origin,
            label,
            pause: Pause::default(),
        }
    }

    pub(crate) fn origin(&self) -> &P::Origin {
        &self.origin
    }

    pub(crate) fn origin_mut(&mut self) -> &mut P::Origin {
        &mut self.origin
    }

    /// " on LABEL", or nothing, for log lines.
    fn on(&self) -> String {
        self.label
            .as_ref()
            .map(|l| format!(" on {l}"))
            .unwrap_or_default()
    }

    fn recovered(&mut self) {
        if let Some(n) = self.pause.recovered() {
            let on = self.on();
            log::info!(
                "{}: accepting again{on} after {n} failed accept(s)",
                P::NAME
            );
        }
    }
}

pub(crate) struct Service<P: Protocol> {
    protocol: P,
    registry: Registry,
    tokens: Tokens,
    /// Listener `i` is registered under `tokens.listener(i)`.
    listeners: Vec<Listening<P>>,
    conns: Slab<P::Conn>,
    max_conns: usize,
}

impl<P: Protocol> Service<P> {
    /// A service with no listener yet, registering in `registry` (a copy
    /// of it: one more epoll fd) under `tokens`.
    pub(crate) fn new(
        protocol: P,
        registry: &Registry,
        tokens: Tokens,
        max_conns: usize,
    ) -> io::Result<Service<P>> {
        Ok(Service {
            protocol,
            registry: registry.try_clone()?,
            tokens,
            listeners: Vec::new(),
            conns: Slab::default(),
            max_conns,
        })
    }

    pub(crate) fn protocol(&self) -> &P {
        &self.protocol
    }

    pub(crate) fn protocol_mut(&mut self) -> &mut P {
        &mut self.protocol
    }

    /// Connections past `max` are closed as soon as accepted; those open
    /// stay.
    pub(crate) fn set_max_conns(&mut self, max: usize) {
        self.max_conns = max;
    }

    /// Adds a listener, registered under the next listener token. It is
    /// kept even if registering fails (the error is returned), so that what
    /// it owns is released with the service.
    pub(crate) fn listen(&mut self, mut l: Listening<P>) -> io::Result<()> {
        let token = self.tokens.listener(self.listeners.len());
        let registered = self
            .registry
            .register(&mut l.sock, token, Interest::READABLE);
        self.listeners.push(l);
        registered
    }

    /// Deregisters and hands back every listener (to bind a new set, as a
    /// reload does, with [`Service::listen`]); connections stay open.
    pub(crate) fn take_listeners(&mut self) -> Vec<Listening<P>> {
        let mut taken = std::mem::take(&mut self.listeners);
        for l in &mut taken {
            let _ = self.registry.deregister(&mut l.sock);
        }
        taken
    }

    /// The listeners' origins, in listener order.
    pub(crate) fn origins(&self) -> impl Iterator<Item = &P::Origin> {
        self.listeners.iter().map(|l| &l.origin)
    }

    /// A readiness event: accepts on a listener or runs a connection. A
    /// token left over from a closed connection finds nothing.
    pub(crate) fn on_event(&mut self, token: Token, ctx: P::Ctx<'_>) {
        match self.tokens.target(token) {
            Some(Target::Listener(i)) => self.accept(i),
            Some(Target::Conn(key)) => {
                let Some(conn) = self.conns.get_mut(key) else {
                    return;
                };
                if self.protocol.ready(conn, ctx) == Next::Close {
                    self.close(key);
                }
            }
            None => {}
        }
    }

    /// The tokens of the connections the protocol has parked. Once what
    /// they wait for happened, the owner gives each an event with
    /// [`Service::on_event`], as readiness would.
    pub(crate) fn parked(&self) -> Vec<Token> {
        self.conns
            .keys()
            .filter(|&k| self.conns.get(k).is_some_and(|c| self.protocol.parked(c)))
            .map(|k| self.tokens.conn(k))
            .collect()
    }

    /// When the next connection times out, or a resting listener is
    /// retried.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let conns = self.conns.values().map(|c| self.protocol.deadline(c));
        let rests = self.listeners.iter().filter_map(|l| l.pause.until());
        conns.chain(rests).min()
    }

    /// Closes the connections past their deadline at `now`, then retries
    /// the listeners whose rest is over.
    pub(crate) fn expire(&mut self, now: Instant) {
        let due: Vec<Key> = self
            .conns
            .keys()
            .filter(|&k| {
                self.conns
                    .get(k)
                    .is_some_and(|c| now >= self.protocol.deadline(c))
            })
            .collect();
        for key in due {
            let last_words = self
                .conns
                .get_mut(key)
                .is_some_and(|c| self.protocol.expired(c) == Next::Keep);
            if !last_words {
                self.close(key);
            }
        }
        for i in 0..self.listeners.len() {
            if self.listeners[i].pause.due(now) {
                self.accept(i);
            }
        }
    }

    /// Accepts on listener `i` until `WouldBlock`, or until fds run out
    /// (then it rests).
    fn accept(&mut self, i: usize) {
        let Some(l) = self.listeners.get_mut(i) else {
            return;
        };
        if l.pause.resting() {
            return;
        }
        loop {
            let stream = match l.sock.accept_stream() {
                Ok(stream) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    l.recovered();
                    return;
                }
                Err(e) if listener::is_exhausted(&e) => {
                    if l.pause.failed(Instant::now()) {
                        let on = l.on();
                        log::warn!(
                            "{}: accept{on}: {e}; pausing it, retried every {}ms",
                            P::NAME,
                            listener::EXHAUSTED_PAUSE.as_millis()
                        );
                    }
                    return;
                }
                // The client left before we took it, or a signal.
                Err(_) => continue,
            };
            l.recovered();
            if self.conns.len() >= self.max_conns.min(MAX_INDEX) {
                // Dropping it closes it.
                log::warn!(
                    "{}: {} connection(s) open, the most allowed; closing a new one",
                    P::NAME,
                    self.max_conns
                );
                continue;
            }
            let mut conn = self.protocol.open(stream, &l.origin, Instant::now());
            let token = self.tokens.conn(self.conns.vacant_key());
            let interest = Interest::READABLE | Interest::WRITABLE;
            if let Err(e) = self
                .registry
                .register(P::stream(&mut conn), token, interest)
            {
                log::warn!("{}: register: {e}", P::NAME);
                continue;
            }
            self.conns.insert(conn);
        }
    }

    fn close(&mut self, key: Key) {
        if let Some(mut conn) = self.conns.remove(key) {
            let _ = self.registry.deregister(P::stream(&mut conn));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::collections::VecDeque;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream as StdStream;
    use std::time::Duration;

    use crate::proxy::listener::EXHAUSTED_PAUSE;

    /// A listener without a socket file: it hands out the server ends of
    /// stream pairs the test queued, or once an error the test set.
    struct Queue {
        /// Registered in the listener's place; never ready.
        anchor: UnixStream,
        _anchor_peer: UnixStream,
        pending: RefCell<VecDeque<UnixStream>>,
        fail: Cell<Option<i32>>,
    }

    impl Source for Queue {
        fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
            self.anchor.register(r, t, i)
        }

        fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
            self.anchor.reregister(r, t, i)
        }

        fn deregister(&mut self, r: &Registry) -> io::Result<()> {
            self.anchor.deregister(r)
        }
    }

    impl Accept for Queue {
        type Stream = UnixStream;

        fn accept_stream(&self) -> io::Result<UnixStream> {
            if let Some(errno) = self.fail.take() {
                return Err(io::Error::from_raw_os_error(errno));
            }
            self.pending
                .borrow_mut()
                .pop_front()
                .ok_or_else(|| io::ErrorKind::WouldBlock.into())
        }
    }

    const IDLE: Duration = Duration::from_secs(10);

    /// Counts its events; reading `q` closes, anything read is activity
    /// that pushes the idle deadline back.
    struct Probe;

    struct ProbeConn {
        stream: UnixStream,
        origin: u8,
        events: usize,
        seen: Instant,
    }

    impl Protocol for Probe {
        type Listener = Queue;
        type Origin = u8;
        type Conn = ProbeConn;
        /// Counts the calls to `ready`.
        type Ctx<'a> = &'a mut usize;
        const NAME: &'static str = "probe";

        fn open(&self, stream: UnixStream, origin: &u8, now: Instant) -> ProbeConn {
            ProbeConn {
                stream,
                origin: *origin,
                events: 0,
                seen: now,
            }
        }

        fn stream(conn: &mut ProbeConn) -> &mut UnixStream {
            &mut conn.stream
        }

        fn deadline(&self, conn: &ProbeConn) -> Instant {
            conn.seen + IDLE
        }

        fn ready(&self, conn: &mut ProbeConn, calls: &mut usize) -> Next {
            *calls += 1;
            conn.events += 1;
            let mut buf = [0u8; 64];
            match conn.stream.read(&mut buf) {
                Ok(n) if buf[..n].contains(&b'q') => Next::Close,
                Ok(_) => {
                    conn.seen = Instant::now();
                    Next::Keep
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Next::Keep,
                Err(_) => Next::Close,
            }
        }
    }

    fn pair() -> (UnixStream, StdStream) {
        let (ours, theirs) = StdStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        (UnixStream::from_std(ours), theirs)
    }

    /// A service with one listener (origin 7) and room for `max` clients.
    fn service(max: usize) -> Service<Probe> {
        let poll = mio::Poll::new().unwrap();
        let mut s = Service::new(Probe, poll.registry(), Tokens::new(Token(16)), max).unwrap();
        let (anchor, anchor_peer) = UnixStream::pair().unwrap();
        let queue = Queue {
            anchor,
            _anchor_peer: anchor_peer,
            pending: RefCell::default(),
            fail: Cell::default(),
        };
        s.listen(Listening::new(queue, 7, None)).unwrap();
        s
    }

    /// A client in the accept queue of listener `i`.
    fn client(s: &Service<Probe>, i: usize) -> StdStream {
        let (ours, theirs) = pair();
        s.listeners[i].sock.pending.borrow_mut().push_back(ours);
        theirs
    }

    fn accept_event(s: &mut Service<Probe>) {
        s.on_event(s.tokens.listener(0), &mut 0);
    }

    fn keys(s: &Service<Probe>) -> Vec<Key> {
        s.conns.keys().collect()
    }

    /// Whether l4lb's end of `c` is closed (EOF), without waiting.
    fn closed(c: &StdStream) -> bool {
        c.set_nonblocking(true).unwrap();
        matches!((&*c).read(&mut [0u8; 8]), Ok(0))
    }

    #[test]
    fn tokens_name_their_service_and_a_listener_or_a_connection() {
        let api = Tokens::new(Token(16));
        let metrics = Tokens::new(Token(17));
        let last = Key::from_parts(MAX_INDEX as u32 - 1, (1 << 31) - 1);
        let first = Key::from_parts(0, 1);
        assert_eq!(api.target(api.listener(0)), Some(Target::Listener(0)));
        assert_eq!(api.target(api.listener(3)), Some(Target::Listener(3)));
        assert_eq!(api.target(api.conn(first)), Some(Target::Conn(first)));
        assert_eq!(api.target(api.conn(last)), Some(Target::Conn(last)));
        for t in [api.listener(0), api.conn(first), api.conn(last)] {
            assert!(api.owns(t) && !metrics.owns(t), "{t:?}");
            assert_eq!(metrics.target(t), None);
        }
        // The supervisor's own tokens, below every tag.
        for own in [Token(0), Token(1), Token(15)] {
            assert!(!api.owns(own) && !metrics.owns(own));
        }
        let reused = Key::from_parts(0, 2);
        assert_ne!(api.conn(first), api.conn(reused));
    }

    #[test]
    fn accepts_until_would_block_and_closes_past_max_conns() {
        let mut s = service(2);
        let clients: Vec<StdStream> = (0..3).map(|_| client(&s, 0)).collect();
        // A client gone before the accept is skipped; the loop goes on.
        s.listeners[0].sock.fail.set(Some(libc::ECONNABORTED));
        accept_event(&mut s);
        assert!(s.listeners[0].sock.pending.borrow().is_empty());
        assert_eq!(s.conns.len(), 2);
        assert!(s.conns.values().all(|c| c.origin == 7));
        assert!(!closed(&clients[0]) && !closed(&clients[1]));
        assert!(closed(&clients[2]), "past max_conns, closed at once");
        // Room again once one closes; a lower maximum spares those open.
        (&clients[0]).write_all(b"q").unwrap();
        s.on_event(s.tokens.conn(keys(&s)[0]), &mut 0);
        assert_eq!(s.conns.len(), 1);
        let _next = client(&s, 0);
        accept_event(&mut s);
        assert_eq!(s.conns.len(), 2);
        s.set_max_conns(1);
        let late = client(&s, 0);
        accept_event(&mut s);
        assert_eq!(s.conns.len(), 2);
        assert!(closed(&late));
    }

    /// Issue 9, bug 1, for admin connections: an event still in a batch
    /// for a closed connection must not reach the one that took its slot.
    #[test]
    fn a_stale_token_misses_the_connection_that_reused_its_slot() {
        let mut s = service(4);
        let a = client(&s, 0);
        accept_event(&mut s);
        let old = keys(&s)[0];
        (&a).write_all(b"q").unwrap();
        s.on_event(s.tokens.conn(old), &mut 0);
        assert!(s.conns.is_empty() && closed(&a));
        let b = client(&s, 0);
        accept_event(&mut s);
        let new = keys(&s)[0];
        assert_eq!(new.slot(), old.slot());
        (&b).write_all(b"q").unwrap();
        let mut calls = 0;
        s.on_event(s.tokens.conn(old), &mut calls);
        assert_eq!((calls, s.conns.len()), (0, 1), "the stale event ran");
        s.on_event(s.tokens.conn(new), &mut calls);
        assert_eq!((calls, s.conns.len()), (1, 0));
    }

    #[test]
    fn idle_connections_close_at_their_deadline() {
        let mut s = service(4);
        assert_eq!(s.next_deadline(), None);
        let quiet = client(&s, 0);
        let busy = client(&s, 0);
        accept_event(&mut s);
        let [kq, kb] = keys(&s)[..] else {
            panic!("two connections")
        };
        std::thread::sleep(Duration::from_millis(2));
        (&busy).write_all(b"x").unwrap();
        s.on_event(s.tokens.conn(kb), &mut 0);
        let deadline = |s: &Service<Probe>, k| s.protocol.deadline(s.conns.get(k).unwrap());
        let (dq, db) = (deadline(&s, kq), deadline(&s, kb));
        assert!(dq < db, "activity pushes the deadline back");
        assert_eq!(s.next_deadline(), Some(dq));
        s.expire(dq - Duration::from_millis(1));
        assert_eq!(s.conns.len(), 2);
        s.expire(dq);
        assert_eq!(keys(&s), vec![kb]);
        assert!(closed(&quiet) && !closed(&busy));
        assert_eq!(s.next_deadline(), Some(db));
        s.expire(db);
        assert!(s.conns.is_empty() && closed(&busy));
        assert_eq!(s.next_deadline(), None);
    }

    /// Issue 9, bug 3, for admin listeners: out of fds, a listener rests
    /// (no spin on its events) and takes the queued client when retried.
    #[test]
    fn a_listener_out_of_fds_rests_then_takes_its_queue_when_retried() {
        let mut s = service(4);
        let _waiting = client(&s, 0);
        s.listeners[0].sock.fail.set(Some(libc::EMFILE));
        let before = Instant::now();
        accept_event(&mut s);
        assert!(s.conns.is_empty());
        let retry = s.next_deadline().expect("the rest ends");
        assert!(retry >= before + EXHAUSTED_PAUSE);
        accept_event(&mut s);
        assert!(s.conns.is_empty(), "a resting listener does not accept");
        s.expire(retry - Duration::from_millis(1));
        assert!(s.conns.is_empty());
        s.expire(retry);
        assert_eq!(s.conns.len(), 1);
        assert!(s.listeners[0].pause.until().is_none());
    }

    /// A reload binds a new set of listeners; open connections carry on.
    #[test]
    fn connections_outlive_their_listeners_being_taken_and_given_back() {
        let mut s = service(4);
        let first = client(&s, 0);
        accept_event(&mut s);
        let taken = s.take_listeners();
        assert!(s.origins().next().is_none());
        assert_eq!(s.conns.len(), 1);
        for l in taken {
            s.listen(l).unwrap();
        }
        let (anchor, anchor_peer) = UnixStream::pair().unwrap();
        let second = Queue {
            anchor,
            _anchor_peer: anchor_peer,
            pending: RefCell::default(),
            fail: Cell::default(),
        };
        s.listen(Listening::new(second, 9, Some("second".into())))
            .unwrap();
        assert_eq!(s.origins().copied().collect::<Vec<_>>(), vec![7, 9]);
        let _other = client(&s, 1);
        s.on_event(s.tokens.listener(1), &mut 0);
        let origins: Vec<u8> = s.conns.values().map(|c| c.origin).collect();
        assert_eq!(origins, vec![7, 9]);
        assert!(!closed(&first));
    }
}
