//! l4lb: a thread-per-core L4 TCP load balancer.
//!
//! The data path, in the order a connection walks it:
//! `listener` (accept) -> `balance` (pick) -> `session` (connect, state machine)
//! -> `forward` + `pipes`/`buffers` (move bytes, splice or copy) -> `backend`
//! (count, close). `worker` owns one event loop per core and dispatches events
//! (`token` says what an event is for) to sessions kept in a `slab`; `timer`
//! holds each worker's deadlines; `health` is the prober thread that marks
//! servers UP and DOWN; `shared` is what all workers see (servers,
//! connection counts, limits); a session's end becomes a `tcplog` record
//! that the `logger` thread writes to the log targets. `run` starts it all
//! and hands over to the `supervisor`, the main thread's event loop
//! (signals, soft and hard stop), which tells systemd through `notify`,
//! serves the runtime API (`api`) and the metrics endpoint (`metrics`,
//! from the rows of `stats`), each an `admin_service`. `ctl` is the `l4lb ctl` client of the API.
//! Configuration enters through `cli` (flags) and `conf` (file text), and
//! `config` validates both into one immutable [`config::Config`], whose
//! worst-case file descriptor count `fds` fits into RLIMIT_NOFILE. `binds`
//! deals the listening sockets out to the workers, at start and on a
//! `reload`; an `upgrade` hands them to a new l4lb. `sys` holds every
//! `unsafe` call.

pub mod admin_service;
pub mod api;
pub mod backend;
pub mod balance;
pub mod binds;
pub mod buffers;
pub mod cli;
pub mod conf;
pub mod config;
pub mod control;
pub mod ctl;
pub mod date;
pub mod fds;
pub mod forward;
pub mod health;
pub mod listener;
pub mod logger;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod pipes;
pub mod reload;
pub mod run;
pub mod session;
pub mod shared;
pub mod slab;
pub mod slowstart;
pub mod stats;
pub mod supervisor;
pub mod sys;
pub mod tcplog;
pub mod timer;
pub mod token;
pub mod upgrade;
pub mod worker;
