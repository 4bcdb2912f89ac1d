//! The control plane, in the supervisor's `Poll` on the main thread: one
//! admin-socket `service` under the runtime API (`api`, on unix sockets)
//! and the metrics endpoint (`metrics`, `stats http`), which both read the
//! same `stats` rows.

pub(crate) mod api;
pub(crate) mod info;
pub(crate) mod metrics;
pub(crate) mod service;
pub(crate) mod stats;
