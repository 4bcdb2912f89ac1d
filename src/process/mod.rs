//! The main thread's life: start-up (daemon, limits, signals, listeners,
//! pidfile, chroot and privileges, threads),
//! the supervisor's loop (signals, thread exits, soft and hard stop, the
//! admin services), reloads and binary upgrades, systemd notification, and
//! the file-descriptor budget all of them check against.

pub mod binds;
mod daemon;
pub mod fds;
pub mod notify;
mod pidfile;
mod privileges;
pub mod reload;
pub mod startup;
pub mod supervisor;
pub mod upgrade;
