//! The main thread's life: start-up (limits, signals, listeners, threads),
//! the supervisor's loop (signals, thread exits, soft and hard stop, the
//! admin services), reloads and binary upgrades, systemd notification, and
//! the file-descriptor budget all of them check against.

pub mod binds;
pub mod fds;
pub mod notify;
pub mod reload;
pub mod startup;
pub mod supervisor;
pub mod upgrade;
