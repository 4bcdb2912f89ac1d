//! The balancer's unit tests, by topic: what every algorithm shares,
//! slow start's walk, backup servers, and the fixtures they use.

mod backup;
mod shared;
mod slowstart;
pub(in crate::balance) mod testutil;
mod walk;
