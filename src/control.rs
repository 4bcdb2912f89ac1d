//! The messages between threads and the handles that carry them. Below
//! every thread's own module, so that the supervisor, the workers and the
//! prober can all name them without naming each other.
//!
//! Each thread has its own message type: a worker's [`Control`], the
//! prober's [`ProberControl`]. A message is sent on a channel, then the
//! thread's `Poll` is woken; the thread drains its channel on the wake.
//! The other way, threads tell the supervisor the same way, on its one
//! waker: [`ExitNotice`] when a worker ends, [`SwitchNotice`] when a thread
//! runs a new snapshot.

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Sender;
use mio::Waker;

use crate::backend::Server;
use crate::logs::tcplog::Cause;
use crate::proxy::listener::Listener;
use crate::shared::Shared;

/// A thread the supervisor stops and joins: a worker or the prober.
pub struct Handle<M> {
    pub thread: JoinHandle<io::Result<()>>,
    pub control: Sender<M>,
    pub waker: Arc<Waker>,
}

impl<M> Handle<M> {
    /// Sends `msg` and wakes the thread's `Poll`. A thread that has already
    /// returned no longer reads its channel: the message is dropped.
    pub fn send(&self, msg: M) {
        let _ = self.control.send(msg);
        if let Err(e) = self.waker.wake() {
            log::error!("cannot wake a thread: {e}");
        }
    }
}

/// Rings the supervisor when a worker thread ends, however it ends: the
/// worker's closure owns it, so its `Drop` runs on return and on panic.
pub struct ExitNotice {
    id: usize,
    tx: Sender<usize>,
    waker: Arc<Waker>,
}

impl ExitNotice {
    /// The notice of worker `id`: sends `id` on `tx` and wakes `waker`.
    pub fn new(id: usize, tx: Sender<usize>, waker: Arc<Waker>) -> ExitNotice {
        ExitNotice { id, tx, waker }
    }
}

impl Drop for ExitNotice {
    fn drop(&mut self) {
        let _ = self.tx.send(self.id);
        let _ = self.waker.wake();
    }
}

/// Tells the supervisor that a thread (a worker or the prober) runs the
/// snapshot of a reload: sends on the switch's channel, then wakes the
/// supervisor's `Poll`, so its Switching phase ends without polling. A
/// notice dropped unsent (its thread returned before it switched) wakes
/// the supervisor too: once the last one is gone the switch is over.
#[derive(Debug)]
pub struct SwitchNotice {
    tx: Sender<()>,
    waker: Arc<Waker>,
}

impl SwitchNotice {
    /// A notice that reports on `tx` and wakes `waker`.
    pub fn new(tx: Sender<()>, waker: Arc<Waker>) -> SwitchNotice {
        SwitchNotice { tx, waker }
    }

    /// This thread runs the new snapshot.
    pub fn report(self) {
        let _ = self.tx.send(());
        // Dropped here: `Drop` wakes the supervisor.
    }
}

impl Drop for SwitchNotice {
    fn drop(&mut self) {
        let _ = self.waker.wake();
    }
}

/// A new configuration snapshot for a worker, with the listeners it must
/// add (one SO_REUSEPORT socket per new bind, with its frontend index).
#[derive(Debug)]
pub struct Update {
    pub shared: Arc<Shared>,
    pub listeners: Vec<(Listener, usize)>,
    /// Reported once the snapshot is in force here.
    pub done: Option<SwitchNotice>,
}

/// What the main thread (and the prober) tell a worker.
#[derive(Debug)]
pub enum Control {
    /// Stop accepting, close every connection and return.
    Stop,
    /// Stop accepting (listeners closed), let established and queued
    /// sessions finish, and return when none is left.
    SoftStop,
    /// Reset every connection to this server: it went DOWN with
    /// `on-marked-down shutdown-sessions` (`Cause::Down`), or the runtime
    /// API said `shutdown sessions server` (`Cause::Killed`).
    ShutdownSessions(Arc<Server>, Cause),
    /// Server weights changed (runtime API): rebuild the balancers.
    Rebalance,
    /// A reload: a new snapshot and the listeners it adds.
    Update(Box<Update>),
}

/// What the main thread tells the prober. (Workers report `observe
/// layer4` error runs on a channel of their own: [`crate::shared::Observer`].)
#[derive(Debug)]
pub enum ProberControl {
    /// Return: the workers are done.
    Stop,
    /// A reload: probe the servers of this snapshot; `done` is reported
    /// once the prober runs it.
    Update {
        shared: Arc<Shared>,
        done: Option<SwitchNotice>,
    },
}
