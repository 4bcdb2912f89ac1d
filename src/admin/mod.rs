//! The control plane, in the supervisor's `Poll` on the main thread: one
//! admin-socket `service` under the runtime API (`api`, on unix sockets),
//! the metrics endpoint (`metrics`, `stats http`) and HAProxy's stats page
//! (`stats_page`, `mode http` sections with `stats` lines), which all read
//! the same `stats` rows; the two HTTP ones share `http`.

pub(crate) mod api;
pub(crate) mod http;
pub(crate) mod info;
pub(crate) mod metrics;
pub(crate) mod service;
pub(crate) mod stats;
pub(crate) mod stats_page;
