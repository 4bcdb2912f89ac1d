//! Connection logs, off the data path: a session's end becomes a
//! `tcplog::Record` (built on the worker thread, no formatting there), sent
//! to the logger thread (`logger`), which formats HAProxy's TCP log line
//! with local dates (`date`) and writes it to the targets.

pub(crate) mod date;
pub(crate) mod logger;
pub(crate) mod tcplog;
