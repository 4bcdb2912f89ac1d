//! Connection logs, off the data path: a session's end (or, with `option
//! logasap`, its connect) becomes a `tcplog::Record` (built on the worker
//! thread, no formatting there), sent to the logger thread (`logger`),
//! which writes the line in the frontend's compiled format (`format`: HAProxy's
//! TCP log format or a `log-format`) with local dates (`date`) to the targets.
//! A frontend with a target but no line format logs at accept instead, in
//! HAProxy's default format (`connect`).

pub(crate) mod connect;
pub(crate) mod date;
pub(crate) mod format;
pub(crate) mod logger;
pub(crate) mod tcplog;
