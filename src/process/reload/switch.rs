//! The last step of a reload: the new snapshot handed to every worker and
//! to the prober ([`hand_over`]), then the [`Switching`] phase the
//! supervisor is in until all of them run it. Each thread reports on a
//! channel and wakes the supervisor's `Poll` (`SwitchNotice`), so the
//! supervisor learns of the end of a switch as it happens, never by
//! looking again and again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};
use mio::Waker;

use crate::backend::Server;
use crate::config::ServerConf;
use crate::control::{Control, Handle, ProberControl, SwitchNotice, Update};
use crate::process::binds;
use crate::shared::Shared;

/// How long a switch waits for every thread to run the new snapshot; a
/// thread's switch takes microseconds, so only a stuck one is waited for
/// that long.
pub const SWITCH_WAIT: Duration = Duration::from_secs(2);

/// Where the threads handed a snapshot report, and how many they are.
#[derive(Debug)]
pub struct Reports {
    rx: Receiver<()>,
    threads: usize,
}

/// Sends each worker the snapshot with its set of new listeners, and the
/// `prober` (one already running: a prober started for this snapshot has
/// it) the snapshot; each gets a `SwitchNotice` that rings `waker`, the
/// supervisor's. Returns where they report.
pub fn hand_over(
    workers: &[Handle<Control>],
    prober: Option<&Handle<ProberControl>>,
    sets: Vec<binds::Set>,
    shared: &Arc<Shared>,
    waker: &Arc<Waker>,
) -> Reports {
    let (tx, rx) = crossbeam_channel::unbounded();
    let notice = || Some(SwitchNotice::new(tx.clone(), Arc::clone(waker)));
    for (w, listeners) in workers.iter().zip(sets) {
        w.send(Control::Update(Box::new(Update {
            shared: Arc::clone(shared),
            listeners,
            done: notice(),
        })));
    }
    if let Some(p) = prober {
        p.send(ProberControl::Update {
            shared: Arc::clone(shared),
            done: notice(),
        });
    }
    let threads = workers.len() + usize::from(prober.is_some());
    Reports { rx, threads }
}

/// What made a new snapshot: what the end of its switch says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// SIGHUP or the API's `reload`.
    Reload,
    /// A runtime API command; the line to log once it applied.
    Api(String),
}

/// The last phase of a reload, which the supervisor's loop runs while it
/// serves everything else: the workers and the prober have the new
/// snapshot and report once they run it. The switch is over when all
/// have, or at the deadline ([`SWITCH_WAIT`]); then the kept servers take
/// their changed lines, as no connection is balanced by the old snapshot
/// any more, so none sees a half-applied conf (a server that was its only
/// one now at weight 0, say). One switch at a time: another reload waits
/// for its end.
#[derive(Debug)]
pub struct Switching {
    deadline: Instant,
    /// Threads that have not reported yet.
    waiting: usize,
    reports: Receiver<()>,
    changed: Vec<(Arc<Server>, ServerConf)>,
    summary: String,
    trigger: Trigger,
}

/// A switch over.
#[derive(Debug)]
pub struct Switched {
    pub summary: String,
    pub trigger: Trigger,
    /// Threads that had not reported by the deadline.
    pub late: usize,
    /// Some kept server took a changed line: balancers need a rebuild.
    pub changed: bool,
}

impl Switching {
    /// The switch to a plan's snapshot (its `summary` and `changed`
    /// servers), waiting until `deadline` (now + [`SWITCH_WAIT`]) for the
    /// threads behind `reports`.
    pub fn new(
        summary: String,
        changed: Vec<(Arc<Server>, ServerConf)>,
        trigger: Trigger,
        reports: Reports,
        deadline: Instant,
    ) -> Switching {
        Switching {
            deadline,
            waiting: reports.threads,
            reports: reports.rx,
            changed,
            summary,
            trigger,
        }
    }

    /// When the switch is over even if some thread has not reported: the
    /// only deadline it adds to the supervisor's poll (the reports wake it).
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Counts the reports in; whether the switch is over: every thread
    /// reported (or has returned, dropping its notice), or the deadline
    /// passed.
    pub fn over(&mut self, now: Instant) -> bool {
        while self.waiting > 0 {
            match self.reports.try_recv() {
                Ok(()) => self.waiting -= 1,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
        self.waiting == 0 || now >= self.deadline
    }

    /// Ends it: the kept servers take their changed lines.
    pub fn finish(self) -> Switched {
        let changed = !self.changed.is_empty();
        for (server, conf) in self.changed {
            server.apply_conf(&conf);
        }
        Switched {
            summary: self.summary,
            trigger: self.trigger,
            late: self.waiting,
            changed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use mio::{Events, Poll, Token};

    fn server(weight: u32) -> (Arc<Server>, ServerConf) {
        let mut conf = ServerConf::new("s".into(), "127.0.0.1:1".parse().unwrap());
        conf.weight = weight;
        (Arc::new(Server::new(&conf)), conf)
    }

    /// The supervisor's side: a poll and its waker (which the supervisor
    /// keeps: the eventfd closes with the last one, losing its event).
    struct Supervisor {
        poll: Poll,
        _waker: Arc<Waker>,
    }

    /// The supervisor's side, and two notices behind `Reports`.
    fn two_threads() -> (Supervisor, [SwitchNotice; 2], Reports) {
        let poll = Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), Token(1)).unwrap());
        let (tx, rx) = crossbeam_channel::unbounded();
        let notice = || SwitchNotice::new(tx.clone(), Arc::clone(&waker));
        let notices = [notice(), notice()];
        let sup = Supervisor {
            poll,
            _waker: waker,
        };
        (sup, notices, Reports { rx, threads: 2 })
    }

    /// Whether the supervisor has been woken, without waiting.
    fn woken(sup: &mut Supervisor) -> bool {
        let mut events = Events::with_capacity(4);
        sup.poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
        !events.is_empty()
    }

    #[test]
    fn a_switch_is_over_once_every_thread_reported_and_then_applies_the_changes() {
        let (s, _) = server(1);
        let (_, five) = server(5);
        let (mut sup, [first, second], reports) = two_threads();
        let now = Instant::now();
        let changed = vec![(Arc::clone(&s), five)];
        let mut sw = Switching::new(
            "sum".into(),
            changed,
            Trigger::Reload,
            reports,
            now + SWITCH_WAIT,
        );
        assert_eq!(sw.deadline(), now + SWITCH_WAIT);
        assert!(!sw.over(now));
        assert!(!woken(&mut sup));
        first.report();
        assert!(woken(&mut sup), "a report wakes the supervisor");
        assert!(!sw.over(now), "one of two");
        assert_eq!(s.weight(), 1, "no change while an old snapshot picks");
        second.report();
        assert!(woken(&mut sup));
        assert!(sw.over(now));
        let done = sw.finish();
        assert_eq!(s.weight(), 5);
        assert_eq!((done.late, done.changed), (0, true));
        assert_eq!(
            (done.summary.as_str(), done.trigger),
            ("sum", Trigger::Reload)
        );
    }

    #[test]
    fn a_switch_ends_at_its_deadline_and_counts_the_late() {
        let (_poll, [first, _second], reports) = two_threads();
        let now = Instant::now();
        let why = Trigger::Api("server be/s added".into());
        let mut sw = Switching::new(String::new(), Vec::new(), why, reports, now + SWITCH_WAIT);
        first.report();
        let deadline = now + SWITCH_WAIT;
        assert!(!sw.over(deadline - Duration::from_millis(1)));
        assert!(sw.over(deadline));
        let done = sw.finish();
        assert_eq!((done.late, done.changed), (1, false));
    }

    #[test]
    fn a_switch_whose_threads_have_all_returned_is_over_and_their_notices_wake() {
        let (mut sup, notices, reports) = two_threads();
        let now = Instant::now();
        let mut sw = Switching::new(
            String::new(),
            Vec::new(),
            Trigger::Reload,
            reports,
            now + SWITCH_WAIT,
        );
        drop(notices);
        assert!(woken(&mut sup), "a notice dropped unsent wakes too");
        assert!(sw.over(now));
    }
}
