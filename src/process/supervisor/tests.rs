//! The supervisor's loop driven turn by turn, with a worker the test plays:
//! what the API and signals get while a switch is pending.

use super::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;

use crossbeam_channel::TryRecvError;

use crate::cli::Args;

/// A conf with the runtime API at `sock`: frontend `fe`, backend `be`
/// with `servers`.
fn conf(sock: &Path, servers: &str) -> String {
    format!(
        "global\n nbthread 1\n stats socket {} level admin\n\
         defaults\n mode tcp\n timeout client 1s\n timeout server 1s\n\
         frontend fe\n bind 127.0.0.1:1\n default_backend be\n\
         backend be\n{servers}",
        sock.display()
    )
}

/// A supervisor reading the conf at `path`, serving its API, with one
/// worker whose thread has returned: the test reads the worker's
/// channel and reports its switches, when it wants to.
struct Bench {
    sup: Supervisor,
    worker: Receiver<Control>,
    _worker_poll: Poll,
    events: Events,
}

impl Bench {
    fn new(path: &Path) -> Bench {
        let args = Args {
            file: Some(path.display().to_string()),
            ..Args::default()
        };
        let source = Source::from_args(&args).unwrap();
        let shared = Arc::new(Shared::new(source.load().unwrap(), None));
        // Blocked in this test's thread only; no test signals them.
        let signals = SignalFd::block(&SIGNALS_HANDLED).unwrap();
        let mut sup = Supervisor::new(signals, shared, source, false).unwrap();
        // Never over by its deadline: the test decides when it is.
        sup.switch_wait = Duration::from_secs(3600);
        let (control, worker) = crossbeam_channel::unbounded();
        let poll = Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
        let thread = std::thread::spawn(|| Ok(()));
        sup.add_worker(Handle {
            thread,
            control,
            waker,
        });
        Bench {
            sup,
            worker,
            _worker_poll: poll,
            events: Events::with_capacity(64),
        }
    }

    /// Runs turns of the loop until `done` holds (at most `max`);
    /// whether it does.
    fn turns_until(&mut self, max: usize, mut done: impl FnMut(&Supervisor) -> bool) -> bool {
        for _ in 0..max {
            if done(&self.sup) {
                return true;
            }
            self.sup.turn(&mut self.events).unwrap();
        }
        done(&self.sup)
    }

    /// Runs the loop until `client` has its whole answer (l4lb closed).
    fn answer(&mut self, client: &mut UnixStream) -> String {
        let mut out = Vec::new();
        for _ in 0..100 {
            self.sup.turn(&mut self.events).unwrap();
            match client.read_to_end(&mut out) {
                Ok(_) => return String::from_utf8(out).unwrap(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        panic!("no whole answer: {:?}", String::from_utf8_lossy(&out));
    }

    /// Takes the worker's snapshot and reports it runs it.
    fn switch_worker(&self) {
        loop {
            match self.worker.try_recv() {
                Ok(Control::Update(update)) => {
                    return update.done.unwrap().report();
                }
                Ok(_) => {}
                Err(e) => panic!("no update for the worker: {e}"),
            }
        }
    }
}

/// A client that sent `line`, reading without blocking.
fn ask(sock: &Path, line: &str) -> UnixStream {
    let mut c = UnixStream::connect(sock).unwrap();
    c.write_all(format!("{line}\n").as_bytes()).unwrap();
    c.set_nonblocking(true).unwrap();
    c
}

/// Whether nothing has come on `c` (no byte, no close).
fn silent(c: &mut UnixStream) -> bool {
    matches!(c.read(&mut [0u8; 64]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Issue 10: a reload no longer blocks the main thread. While the
/// worker has not switched, the API answers others; the reload's
/// answer, and its changed server line, wait for the switch; a change
/// asked meanwhile runs after it, with a switch of its own.
#[test]
fn the_api_is_served_while_a_switch_is_pending_and_the_reload_answers_after_it() {
    let dir = Dir(std::env::temp_dir().join(format!("l4lb-sup-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let (path, sock) = (dir.0.join("l4lb.conf"), dir.0.join("api.sock"));
    std::fs::write(&path, conf(&sock, " server a 127.0.0.1:2\n")).unwrap();
    let mut b = Bench::new(&path);
    let a = Arc::clone(&b.sup.shared.servers[0][0]);
    std::fs::write(&path, conf(&sock, " server a 127.0.0.1:2 weight 5\n")).unwrap();

    let mut reloading = ask(&sock, "reload");
    assert!(b.turns_until(20, |s| s.switching.is_some()), "no switch");
    let info = b.answer(&mut ask(&sock, "show info"));
    assert!(info.contains("Name: l4lb\n"), "{info}");
    let mut adding = ask(&sock, "add server be/b 127.0.0.1:3; show servers state be");
    // More input is an event for the parked connection: still parked.
    reloading.write_all(b"show info\n").unwrap();
    b.turns_until(5, |_| false);
    assert!(
        silent(&mut reloading),
        "the reload answered before its switch"
    );
    assert!(silent(&mut adding), "a second change ran during the switch");
    assert_eq!(a.weight(), 1, "the changed line waits for the switch");
    assert_eq!(b.sup.shared.process.reloads.load(Relaxed), 0);

    b.switch_worker();
    let summary = b.answer(&mut reloading);
    assert_eq!(
        summary,
        "1 frontend(s), 1 backend(s); binds +0 -0; servers +0 -0 ~1\n\n"
    );
    assert_eq!(a.weight(), 5);
    assert_eq!(b.sup.shared.process.reloads.load(Relaxed), 1);
    // The add server ran once that switch was over; it answers at the
    // end of its own, then the rest of its line runs.
    assert!(
        b.turns_until(20, |s| s.switching.is_some()),
        "no second switch"
    );
    assert!(silent(&mut adding));
    b.switch_worker();
    let added = b.answer(&mut adding);
    assert!(added.starts_with("New server registered.\n\n"), "{added}");
    assert!(added.contains("\n2 be 2 b 127.0.0.1 "), "{added}");
    assert!(matches!(b.worker.try_recv(), Err(TryRecvError::Empty)));
}
