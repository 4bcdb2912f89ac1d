//! The data path, one file per step a connection takes, all run by the
//! worker threads: `listener` accepts, `session` walks a connection through
//! its stages (route, pick, connect, forward, record), `pump` moves one
//! direction's bytes (splice through a pipe from `pipes`, or copy through a
//! buffer from `buffers`), `net` opens the sockets to servers.

pub mod buffers;
pub mod listener;
pub mod net;
pub mod pipes;
pub mod pump;
pub mod session;
