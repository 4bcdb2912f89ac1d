//! A connection as the rules' fetches see it (`rules::Facts`): its
//! addresses, the counters of the frontend, backends and servers, and the
//! client bytes the inspect stage peeked, with the TLS ClientHello read
//! from them on first use.

use std::cell::OnceCell;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;

use crate::backend::Server;
use crate::rules::{BackendRef, Facts, Hello, HelloView, ServerRef, Stash};
use crate::shared::Shared;
use crate::wire::client_hello::{self, Info, Piece};

pub(super) struct ConnFacts<'a> {
    pub(super) shared: &'a Shared,
    pub(super) frontend: usize,
    /// None for a unix client.
    pub(super) src: Option<SocketAddr>,
    pub(super) dst: Option<SocketAddr>,
    /// The client's first bytes (empty outside the inspect stage).
    pub(super) request: &'a [u8],
    pub(super) bufsize: usize,
    /// The client closed its side, or `request` fills the buffer.
    pub(super) closed: bool,
    hello: OnceCell<client_hello::Hello<'a>>,
}

impl<'a> ConnFacts<'a> {
    pub(super) fn new(shared: &'a Shared, frontend: usize, src: Option<SocketAddr>) -> Self {
        ConnFacts {
            shared,
            frontend,
            src,
            dst: None,
            request: &[],
            bufsize: shared.config.bufsize,
            closed: false,
            hello: OnceCell::new(),
        }
    }

    /// The ClientHello's server name, if the bytes hold one.
    pub(super) fn sni(&self) -> Option<&[u8]> {
        match self.hello() {
            Hello::Parsed(view) => view.sni().map(str::as_bytes),
            _ => None,
        }
    }

    fn servers(&self, backend: &BackendRef) -> Option<&'a [std::sync::Arc<Server>]> {
        self.shared.servers.get(backend.id).map(Vec::as_slice)
    }
}

impl Facts for ConnFacts<'_> {
    fn src(&self) -> Option<SocketAddr> {
        self.src
    }

    fn dst(&self) -> Option<SocketAddr> {
        self.dst
    }

    fn fe_name(&self) -> &str {
        &self.shared.config.frontends[self.frontend].name
    }

    fn fe_conn(&self) -> i64 {
        self.shared.frontends[self.frontend].cur.load(Relaxed) as i64
    }

    fn be_conn(&self, backend: &BackendRef) -> Option<i64> {
        let count = self.shared.backends.get(backend.id)?;
        Some(count.cur.load(Relaxed) as i64)
    }

    /// The usable active servers; when there is none, the usable backups
    /// (HAProxy's `be_usable_srv`).
    fn nbsrv(&self, backend: &BackendRef) -> Option<i64> {
        let servers = self.servers(backend)?;
        let count = |backup: bool| {
            servers
                .iter()
                // HAProxy's usable server: UP, ready, weighted.
                .filter(|s| s.is_backup() == backup && s.in_service())
                .count() as i64
        };
        Some(match count(false) {
            0 => count(true),
            n => n,
        })
    }

    fn srv_is_up(&self, server: &ServerRef) -> Option<bool> {
        let s = self.servers(&server.backend)?.get(server.id)?;
        Some(s.is_running())
    }

    /// Free connection slots plus free queue places of the servers that are
    /// not down; -1 when one of them has no limit, as HAProxy.
    fn connslots(&self, backend: &BackendRef) -> Option<i64> {
        let mut slots = 0i64;
        for s in self.servers(backend)? {
            if !s.is_running() {
                continue;
            }
            let (max, queue) = (s.maxconn(), s.maxqueue());
            if max == 0 || queue == 0 {
                return Some(-1);
            }
            slots += i64::from(max) - i64::from(s.cur()) + i64::from(queue);
        }
        Some(slots)
    }

    fn queue(&self, backend: &BackendRef) -> Option<i64> {
        let count = self.shared.backends.get(backend.id)?;
        Some(count.queued.load(Relaxed) as i64)
    }

    fn request(&self) -> &[u8] {
        self.request
    }

    fn buffer_size(&self) -> usize {
        self.bufsize
    }

    fn request_closed(&self) -> bool {
        self.closed
    }

    fn hello(&self) -> Hello<'_> {
        match self
            .hello
            .get_or_init(|| client_hello::inspect(self.request))
        {
            // A hello larger than the buffer never completes: none, as
            // HAProxy finds when its buffer is full.
            client_hello::Hello::Incomplete if self.closed => Hello::Absent,
            client_hello::Hello::Incomplete => Hello::Partial,
            client_hello::Hello::NotTls | client_hello::Hello::Handshake { .. } => Hello::Absent,
            client_hello::Hello::ClientHello(info) => Hello::Parsed(info),
        }
    }
}

impl HelloView for Info<'_> {
    fn sni(&self) -> Option<&str> {
        self.sni_str()
    }

    fn alpn<'s>(&'s self, i: usize, stash: &'s mut Stash) -> Option<&'s [u8]> {
        match self.alpn?.nth(i)? {
            Piece::Borrowed(b) => Some(b),
            Piece::Inline(bytes, n) => {
                let n = usize::from(n);
                stash[..n].copy_from_slice(&bytes[..n]);
                Some(&stash[..n])
            }
        }
    }

    fn ec_ext(&self) -> bool {
        self.ec_ext
    }
}
