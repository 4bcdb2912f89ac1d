//! Fixtures shared by the crate's in-module tests (compiled only for them).

use std::sync::Arc;

use crate::backend::Server;
use crate::config::{Config, ServerConf};
use crate::shared::Shared;

/// A server line with nothing but `name` and an address nothing listens
/// on: the base for `ServerConf { maxconn, ..server_conf("s") }`.
pub(crate) fn server_conf(name: &str) -> ServerConf {
    ServerConf::new(name.into(), "127.0.0.1:1".parse().unwrap())
}

/// A server built from `conf`, shared as workers share it.
pub(crate) fn server_from(conf: &ServerConf) -> Arc<Server> {
    Arc::new(Server::new(conf))
}

/// A server with every option at its default (weight 1, no limits).
pub(crate) fn server(name: &str) -> Arc<Server> {
    server_from(&server_conf(name))
}

/// The first snapshot of a process running the conf `text`.
pub(crate) fn shared(text: &str) -> Arc<Shared> {
    let config = Config::from_text("t.conf", text.as_bytes()).unwrap_or_else(|e| panic!("{e:#?}"));
    Arc::new(Shared::new(config, None))
}

/// A new empty directory under the system's temporary one, for sockets.
pub(crate) fn temp_dir(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Relaxed);
    let dir = std::env::temp_dir().join(format!("l4lb-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
