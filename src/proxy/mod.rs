//! The data path, one file per step a connection takes, all run by the
//! worker threads: `listener` accepts, `session` walks a connection through
//! its stages (route, pick, connect, forward, record), `pump` moves one
//! direction's bytes (splice through a pipe from `pipes`, or copy through a
//! buffer from `buffers`), `net` opens the sockets to servers, `stream`
//! is a session's socket (TCP or unix), `scratch` the buffers the rule
//! stages peek the client's first bytes into.

pub(crate) mod buffers;
pub(crate) mod listener;
pub(crate) mod net;
pub(crate) mod pipes;
pub(crate) mod pump;
pub(crate) mod scratch;
pub(crate) mod session;
pub(crate) mod stream;
pub(crate) mod unix_listener;
