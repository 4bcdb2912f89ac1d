//! Unit tests of the ACL engine over a stand-in connection (`Conn`) and a
//! stand-in ClientHello reader.

mod conds;
mod coverage;
mod fetches;
mod ips;
mod patterns;

use std::net::SocketAddr;

use super::value::{BackendRef, Facts, Hello, HelloView, ServerRef, Stash};
use super::{AclTable, Cond, Scratch, Tri};

/// What the ClientHello reader would have found.
#[derive(Default)]
pub(super) struct FakeHello {
    pub(super) sni: Option<String>,
    pub(super) alpn: Vec<Vec<u8>>,
    pub(super) ec: bool,
}

impl HelloView for FakeHello {
    fn sni(&self) -> Option<&str> {
        self.sni.as_deref()
    }
    /// Odd names are handed out by copy, as the reader does for a name
    /// split over two records.
    fn alpn<'s>(&'s self, i: usize, stash: &'s mut Stash) -> Option<&'s [u8]> {
        let name = self.alpn.get(i)?;
        if i.is_multiple_of(2) {
            return Some(name);
        }
        stash[..name.len()].copy_from_slice(name);
        Some(&stash[..name.len()])
    }
    fn ec_ext(&self) -> bool {
        self.ec
    }
}

/// The hello state of a `Conn`.
pub(super) enum HelloState {
    Partial,
    Absent,
    Parsed(FakeHello),
}

/// A stand-in connection.
pub(super) struct Conn {
    pub(super) src: Option<SocketAddr>,
    pub(super) dst: Option<SocketAddr>,
    pub(super) fe: String,
    pub(super) fe_conn: i64,
    /// (backend name, be_conn, nbsrv, connslots, queue)
    pub(super) backends: Vec<(String, i64, i64, i64, i64)>,
    /// (backend/server, up)
    pub(super) servers: Vec<(String, bool)>,
    pub(super) req: Vec<u8>,
    pub(super) closed: bool,
    pub(super) hello: HelloState,
}

impl Default for Conn {
    fn default() -> Self {
        Conn {
            src: Some("10.1.2.3:40000".parse().unwrap()),
            dst: Some("192.168.0.1:443".parse().unwrap()),
            fe: "fe_main".into(),
            fe_conn: 5,
            backends: vec![("app".into(), 3, 2, 10, 0)],
            servers: vec![("app/s1".into(), true), ("app/s2".into(), false)],
            req: Vec::new(),
            closed: false,
            hello: HelloState::Absent,
        }
    }
}

impl Conn {
    fn backend(&self, b: &BackendRef) -> Option<&(String, i64, i64, i64, i64)> {
        let name = if b.name.is_empty() {
            "app"
        } else {
            b.name.as_str()
        };
        self.backends.iter().find(|x| x.0 == name)
    }
}

impl Facts for Conn {
    fn src(&self) -> Option<SocketAddr> {
        self.src
    }
    fn dst(&self) -> Option<SocketAddr> {
        self.dst
    }
    fn fe_name(&self) -> &str {
        &self.fe
    }
    fn fe_conn(&self) -> i64 {
        self.fe_conn
    }
    fn be_conn(&self, b: &BackendRef) -> Option<i64> {
        self.backend(b).map(|x| x.1)
    }
    fn nbsrv(&self, b: &BackendRef) -> Option<i64> {
        self.backend(b).map(|x| x.2)
    }
    fn srv_is_up(&self, s: &ServerRef) -> Option<bool> {
        let key = format!("{}/{}", s.backend.name, s.name);
        self.servers.iter().find(|x| x.0 == key).map(|x| x.1)
    }
    fn connslots(&self, b: &BackendRef) -> Option<i64> {
        self.backend(b).map(|x| x.3)
    }
    fn queue(&self, b: &BackendRef) -> Option<i64> {
        self.backend(b).map(|x| x.4)
    }
    fn request(&self) -> &[u8] {
        &self.req
    }
    fn buffer_size(&self) -> usize {
        16384
    }
    fn request_closed(&self) -> bool {
        self.closed
    }
    fn hello(&self) -> Hello<'_> {
        match &self.hello {
            HelloState::Partial => Hello::Partial,
            HelloState::Absent => Hello::Absent,
            HelloState::Parsed(h) => Hello::Parsed(h),
        }
    }
}

/// Splits a conf line's words (no quoting needed in these tests).
pub(super) fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Builds a table from `acl` lines (`NAME WORDS...`).
pub(super) fn table(acls: &[&str]) -> AclTable {
    let mut t = AclTable::default();
    for line in acls {
        let w = words(line);
        t.add(w[0], &w[1..])
            .unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    t
}

/// Evaluates `cond` (e.g. `if a b || !c`) over `conn` with `acls`.
pub(super) fn eval_with(acls: &[&str], cond: &str, conn: &Conn, last: bool) -> Tri {
    let mut t = table(acls);
    let c = Cond::parse(&words(cond), &mut t).unwrap_or_else(|e| panic!("{cond}: {e}"));
    c.eval(&t, conn, last, &mut Scratch::new(1024))
}

/// One ACL line's result over `conn`, at the last evaluation.
pub(super) fn acl_matches(line: &str, conn: &Conn) -> bool {
    eval_with(&[&format!("x {line}")], "if x", conn, true) == Tri::Match
}

/// The error of adding one ACL line.
pub(super) fn acl_error(line: &str) -> String {
    let w = words(line);
    AclTable::default().add("x", &w).expect_err(line)
}

/// A file in a fresh temporary directory, removed with the returned guard.
pub(super) struct TempFile {
    pub(super) path: String,
}

impl TempFile {
    pub(super) fn new(name: &str, content: &str) -> TempFile {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("l4lb-rules-{}-{n}-{name}", std::process::id()));
        std::fs::write(&path, content).unwrap();
        TempFile {
            path: path.to_string_lossy().into_owned(),
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
