//! l4lb: a thread-per-core L4 TCP load balancer. Folders by thread and
//! role, in the order a connection meets them:
//!
//! - `worker/`: one event loop per core (worker threads): dispatch, the
//!   session slab and its keys, tokens, timers.
//! - `proxy/`: the data path the workers run: accept, the session's stages
//!   (route, pick, connect, forward, record), the pumps and their pools.
//! - `balance/`: one file per algorithm behind one `pick(key, avoid)`.
//! - `backend/`: servers and their shared atomics, slow start.
//! - `health`: the prober thread, the only writer of UP and DOWN.
//! - `logs/`: connection log records and the logger thread.
//! - `process/`: the main thread: start-up, the supervisor, reload and
//!   upgrade, systemd, the fd budget.
//! - `admin/`: the runtime API and the metrics endpoint (main thread).
//! - `ctl/`: the `l4lb ctl` client.
//! - `config/`: `cli` flags and conf text -> one immutable `Config`.
//! - `rules/`: ACLs and conditions; `wire/`: the PROXY protocol header and
//!   the TLS ClientHello, as pure parsers.
//! - `control`: the messages and handles between threads; `shared`: one
//!   configuration snapshot as every thread sees it; `sys`: every `unsafe`.
//!
//! Only what the binaries, benches and fuzz targets use is `pub` here:
//! `cli`, `config`, `ctl`, `process` (start-up), `backend`, `balance` and
//! `wire`.

mod admin;
pub mod backend;
pub mod balance;
pub mod cli;
pub mod config;
mod control;
pub mod ctl;
mod health;
mod logs;
pub mod process;
mod proxy;
#[allow(dead_code)] // Wired by the routing stages (issue 13).
mod rules;
mod shared;
mod sys;
#[cfg(test)]
mod testutil;
pub mod wire;
mod worker;
