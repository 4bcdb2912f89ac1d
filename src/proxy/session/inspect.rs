//! The rule stages, between accept and connect, for a frontend with
//! `tcp-request` or `use_backend` rules (one without any never enters
//! them): `tcp-request connection` rules at accept, `tcp-request session`
//! rules once the PROXY header (if any) is read, then the inspect stage:
//! the client's first bytes are peeked (left in the socket, so that the
//! forward stage splices them as any other), and the `tcp-request
//! content` rules, `use_backend`, the backend's own content rules and
//! `use-server` run over them, again as more bytes arrive, until a rule
//! decides or the inspect delay ends (then they run with what is there).

use std::os::fd::AsFd;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::facts::ConnFacts;
use super::{Ctx, Next, Session, State, Step};
use crate::balance::HashKey;
use crate::logs::tcplog::{Cause, Phase};
use crate::proxy::scratch::Inspector;
use crate::rules::{List, Outcome, ProxyRules, Sample, Scratch, itoa};
use crate::shared::Shared;

/// Waiting in the inspect stage since `since`, at rule `from` of the
/// frontend's content rules, or (`backend` set, already counted there)
/// of that backend's.
#[derive(Debug, Clone, Copy)]
pub(super) struct Inspect {
    pub(super) since: Instant,
    from: usize,
    backend: Option<usize>,
}

/// What the rule stages decided over the bytes seen so far.
enum Decision {
    Wait(Inspect),
    Reject,
    SilentDrop,
    /// Routed nowhere: no `use_backend` applied and no default.
    Nowhere,
    Go {
        backend: usize,
        server: Option<usize>,
    },
}

impl Session {
    fn facts<'a>(&self, shared: &'a Shared) -> ConnFacts<'a> {
        let src = self.unix_bind.is_none().then_some(self.peer);
        let mut facts = ConnFacts::new(shared, self.frontend, src);
        facts.dst = self.dst();
        facts
    }

    /// At accept: the `tcp-request connection` rules. None: go on (with
    /// `expect_proxy` set by an `expect-proxy layer4` rule); else the end.
    pub(super) fn connection_rules(
        &mut self,
        ctx: &mut Ctx<'_>,
        expect_proxy: &mut bool,
    ) -> Option<Step> {
        let rules = fe_rules(ctx.shared, self.frontend)?;
        match self.l4_rules(ctx, rules, List::Connection) {
            Ok(proxy) => {
                *expect_proxy |= proxy;
                None
            }
            Err(refused) => Some(refused),
        }
    }

    /// Runs the `tcp-request connection` or `session` rules (no content:
    /// their conditions are final). Ok: go on, `expect-proxy layer4`
    /// applied or not; Err: the client is refused.
    fn l4_rules(
        &mut self,
        ctx: &mut Ctx<'_>,
        rules: &ProxyRules,
        list: List,
    ) -> Result<bool, Step> {
        if !rules.has(list) {
            return Ok(false);
        }
        let at = match list {
            List::Connection => DenyAt::Connection,
            _ => DenyAt::Session,
        };
        let facts = self.facts(ctx.shared);
        match rules.run(list, 0, &facts, true, &mut ctx.pools.inspect.scratch) {
            Outcome::Continue { proxy } => Ok(proxy),
            Outcome::Reject | Outcome::Wait(_) => Err(self.denied(at, false)),
            Outcome::SilentDrop => Err(self.denied(at, true)),
        }
    }

    /// Entered once the client is known (after its PROXY header, if any):
    /// the `tcp-request session` rules, then the inspect stage.
    pub(super) fn admitted(&mut self, ctx: &mut Ctx<'_>) -> Step {
        let inspect = Inspect {
            since: ctx.now,
            from: 0,
            backend: None,
        };
        let fe = &ctx.shared.config.frontends[self.frontend];
        match fe.rules.as_deref() {
            Some(rules) => {
                if let Err(refused) = self.l4_rules(ctx, rules, List::Session) {
                    return refused;
                }
            }
            // The plain path: no rule to run, the default backend.
            None => {
                let backend = fe
                    .backend
                    .expect("a frontend without rules has a default_backend");
                if !ctx.shared.config.backends[backend].has_rules() {
                    self.routed(ctx.shared, backend);
                    return Step::Connect {
                        avoid: None,
                        attempts: 0,
                        queued_since: None,
                    };
                }
            }
        }
        self.inspect(ctx, inspect, false)
    }

    /// The inspect stage, entered at first, on client bytes and when its
    /// delay ends (`expired`): decides, or waits for more bytes. Leaves to
    /// the connect stage, or ends the session.
    pub(super) fn inspect(&mut self, ctx: &mut Ctx<'_>, at: Inspect, expired: bool) -> Step {
        let shared = ctx.shared;
        let reads = shared.config.frontends[self.frontend].peeks
            || at
                .backend
                .is_some_and(|b| shared.config.backends[b].reads_content());
        let mut seen = 0;
        let mut closed = self.client.read_closed;
        let Inspector { buf, scratch } = &mut ctx.pools.inspect;
        if reads {
            if buf.len() < shared.config.bufsize {
                buf.resize(shared.config.bufsize, 0);
            }
            let room = &mut buf[..shared.config.bufsize];
            match crate::sys::peek(self.client.stream.as_fd(), room) {
                Ok(0) => closed = true,
                Ok(n) => seen = n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    return self.end(State::Inspect(at), Cause::ClientAbort, Phase::Request);
                }
            }
            closed |= seen == shared.config.bufsize;
        }
        let mut facts = self.facts(shared);
        facts.request = &buf[..seen];
        facts.closed = closed;
        match self.decide(shared, at, &facts, (expired, ctx.now), scratch) {
            Decision::Wait(next) => {
                if let Some(b) = next.backend.filter(|_| self.seat.is_none()) {
                    self.routed(shared, b);
                }
                Step::Stay(State::Inspect(next), Next::Wait)
            }
            Decision::Reject => self.denied(DenyAt::Content, false),
            Decision::SilentDrop => self.denied(DenyAt::Content, true),
            Decision::Nowhere => {
                log::debug!("client {}: no backend for it", self.peer);
                self.admission.frontend().rejected.fetch_add(1, Relaxed);
                self.end(State::Inspect(at), Cause::ServerAbort, Phase::Connect)
            }
            Decision::Go { backend, server } => {
                let servers = &shared.config.backends[backend].servers;
                if servers
                    .iter()
                    .any(|s| s.send_proxy.is_some_and(|p| p.authority))
                    && let Some(sni) = facts.sni()
                {
                    self.authority = Some(sni.into());
                }
                if self.seat.is_none() {
                    self.routed(shared, backend);
                }
                let be = &shared.config.backends[backend];
                self.hash = be.hash_on.as_ref().map(|e| {
                    let value = e.eval(&facts, true, 0, scratch).sample;
                    value.map(hash_of)
                });
                self.forced = server.or_else(|| {
                    let cookie = be.persist_rdp.as_ref()?.eval(&facts, true, 0, scratch);
                    persisted(cookie.sample?, &shared.servers[backend])
                });
                Step::Connect {
                    avoid: None,
                    attempts: 0,
                    queued_since: None,
                }
            }
        }
    }

    /// Runs the frontend's content rules (unless already past them), the
    /// route, the backend's content rules and `use-server`.
    fn decide(
        &self,
        shared: &Shared,
        at: Inspect,
        facts: &ConnFacts<'_>,
        (expired, now): (bool, Instant),
        scratch: &mut Scratch,
    ) -> Decision {
        let fe = &shared.config.frontends[self.frontend];
        let fe_rules = fe.rules.as_deref();
        let (backend, from) = match at.backend {
            Some(b) => (b, at.from),
            None => {
                if let Some(r) = fe_rules {
                    let last = expired || facts.closed || r.inspect_delay.is_none();
                    let wait = |from| Inspect { from, ..at };
                    if let Some(d) = content(r, at.from, facts, last, scratch, wait) {
                        return d;
                    }
                }
                let routed = fe_rules.and_then(|r| r.route(facts, scratch));
                match routed.or(fe.backend) {
                    Some(b) => (b, 0),
                    None => return Decision::Nowhere,
                }
            }
        };
        let be_rules = shared.config.backends[backend].rules.as_deref();
        let Some(r) = be_rules else {
            return Decision::Go {
                backend,
                server: None,
            };
        };
        // A listen section's rules are the frontend's: they ran already.
        let own = fe_rules.is_some_and(|f| std::ptr::eq(f, r));
        if !own && r.has(List::Content) {
            let fresh = at.backend.is_none();
            let last = (expired && !fresh) || facts.closed || r.inspect_delay.is_none();
            let wait = |from| Inspect {
                since: if fresh { now } else { at.since },
                from,
                backend: Some(backend),
            };
            if let Some(d) = content(r, from, facts, last, scratch, wait) {
                return d;
            }
        }
        let servers = &shared.servers[backend];
        let server = r.use_server(facts, scratch, |i| servers[i].is_running());
        Decision::Go { backend, server }
    }

    /// When the inspect stage stops waiting: its delay, or the client's
    /// timeout if that comes first.
    pub(super) fn inspect_deadline(&self, at: &Inspect) -> Option<Instant> {
        let shared = &**self.shared();
        let delay = self.inspect_delay(shared, at).map(|d| at.since + d);
        let client = shared.config.frontends[self.frontend]
            .timeout_client
            .map(|t| at.since + t);
        delay.into_iter().chain(client).min()
    }

    /// Entered when the inspect deadline passed: the client's timeout ends
    /// the session (`cR`); the inspect delay runs the rules a last time.
    pub(super) fn inspect_timeout(&mut self, ctx: &mut Ctx<'_>, at: Inspect) -> Step {
        let fe = &ctx.shared.config.frontends[self.frontend];
        let client_first = match (fe.timeout_client, self.inspect_delay(ctx.shared, &at)) {
            (Some(c), Some(d)) => c < d,
            (Some(_), None) => true,
            _ => false,
        };
        if client_first {
            return self.end(State::Inspect(at), Cause::ClientTimeout, Phase::Request);
        }
        self.inspect(ctx, at, true)
    }

    /// The inspect delay of the stage `at` waits in: the frontend's, or
    /// the backend's once routed.
    fn inspect_delay(&self, shared: &Shared, at: &Inspect) -> Option<std::time::Duration> {
        match at.backend {
            Some(b) => be_rules(shared, b),
            None => fe_rules(shared, self.frontend),
        }
        .and_then(|r| r.inspect_delay)
    }

    /// A rule refused the client: counted, closed with a reset (or
    /// silently); logged only past the connection and session rules, as
    /// HAProxy.
    fn denied(&mut self, at: DenyAt, silent: bool) -> Step {
        let fe = self.admission.frontend();
        let counter = match at {
            DenyAt::Connection => &fe.denied_conn,
            DenyAt::Session => &fe.denied_sess,
            DenyAt::Content => &fe.denied_req,
        };
        counter.fetch_add(1, Relaxed);
        if at != DenyAt::Content {
            self.logged = false;
        }
        if silent {
            self.silent_drop();
        }
        self.note_end(crate::logs::tcplog::Termination::new(
            Cause::Proxy,
            Phase::Request,
        ));
        let next = if silent { Next::Close } else { Next::Abort };
        Step::Stay(State::Moving, next)
    }

    /// `silent-drop`: the socket is put in TCP repair mode, so that
    /// closing it sends nothing: the client is left to time out, as
    /// HAProxy's action does (it needs CAP_NET_ADMIN; without it, a reset
    /// with a hop limit of 1).
    fn silent_drop(&self) {
        let fd = self.client.stream.as_fd();
        if crate::sys::set_int_sockopt(fd, libc::IPPROTO_TCP, libc::TCP_REPAIR, 1).is_err() {
            // HAProxy's fallback: a reset that dies on the way (a hop
            // limit of 1), so the client still hears nothing past a router.
            let sock = socket2::SockRef::from(&self.client.stream);
            // The socket's own family: after a PROXY header, the peer's
            // address may be of the other one.
            let _ = match self.local_addr() {
                Some(std::net::SocketAddr::V6(_)) => sock.set_unicast_hops_v6(1),
                _ => sock.set_ttl_v4(1),
            };
            let _ = sock.set_linger(Some(std::time::Duration::ZERO));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DenyAt {
    Connection,
    Session,
    Content,
}

fn fe_rules(shared: &Shared, frontend: usize) -> Option<&ProxyRules> {
    shared.config.frontends[frontend].rules.as_deref()
}

fn be_rules(shared: &Shared, backend: usize) -> Option<&ProxyRules> {
    shared.config.backends[backend].rules.as_deref()
}

/// Runs `r`'s content rules from rule `from`: None when they let the
/// session go on, else what they decided (`wait` makes the inspect state
/// to wait in at the rule that needs more bytes).
fn content(
    r: &ProxyRules,
    from: usize,
    facts: &ConnFacts<'_>,
    last: bool,
    scratch: &mut Scratch,
    wait: impl FnOnce(usize) -> Inspect,
) -> Option<Decision> {
    match r.run(List::Content, from, facts, last, scratch) {
        Outcome::Continue { .. } => None,
        Outcome::Reject => Some(Decision::Reject),
        Outcome::SilentDrop => Some(Decision::SilentDrop),
        Outcome::Wait(from) => Some(Decision::Wait(wait(from))),
    }
}

/// The balancer's key for a `balance hash` value: an address hashes as
/// `balance source` would hash it, anything else by its bytes.
fn hash_of(sample: Sample<'_>) -> HashKey {
    let mut digits = [0u8; 20];
    match sample {
        Sample::Ip(ip) => HashKey::from(ip),
        Sample::Str(b) | Sample::Bin(b) => HashKey::of_bytes(b),
        Sample::Int(n) => HashKey::of_bytes(itoa(n, &mut digits)),
        Sample::Bool(b) => HashKey::of_bytes(&[u8::from(b)]),
    }
}

/// `persist rdp-cookie`: the server whose address the cookie encodes
/// (`msts=ADDR.PORT.0000`: the IPv4 address and port as the Windows
/// client stores them, little-endian decimal), if it is up.
fn persisted(
    cookie: Sample<'_>,
    servers: &[std::sync::Arc<crate::backend::Server>],
) -> Option<usize> {
    let (Sample::Str(text) | Sample::Bin(text)) = cookie else {
        return None;
    };
    let text = std::str::from_utf8(text).ok()?;
    let mut parts = text.split('.');
    let ip: u32 = parts.next()?.parse().ok()?;
    let port: u16 = parts.next()?.parse().ok()?;
    let addr = std::net::SocketAddr::from((ip.to_le_bytes(), port.swap_bytes()));
    servers
        .iter()
        .position(|s| s.addr() == addr && s.is_running())
}
