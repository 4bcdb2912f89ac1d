//! l4lb in front of fakes: a conf with a stats socket and short check
//! timings, and waits on one server's `show stat` row until its status and
//! check status are what HAProxy shows.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use super::super::{L4lb, TempDir, api_command, free_port, wait_until};

/// `global` and `defaults` for check tests: `timeout check 500ms`, so a
/// [`super::Mode::Slow`] answer of 1.5 s is a timeout.
pub(crate) fn check_conf(sock: &std::path::Path, sections: &str) -> String {
    format!(
        "global\n    stats socket {} level admin\n\ndefaults\n    mode tcp\n    timeout connect 1s\n    \
         timeout check 500ms\n    timeout client 5s\n    timeout server 5s\n\n{sections}",
        sock.display()
    )
}

/// A `listen NAME` section on a fresh port with `lines` and one `server`
/// line per (name, address, extra), each checked every 200 ms with rise 1
/// and fall 1; returns (its port, its text).
pub(crate) fn listen(
    name: &str,
    lines: &str,
    servers: &[(&str, SocketAddr, &str)],
) -> (u16, String) {
    let port = free_port();
    let mut s = format!("listen {name}\n    bind 127.0.0.1:{port}\n");
    for l in lines.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str(&format!("    {}\n", l.trim()));
    }
    for (sv, at, extra) in servers {
        s.push_str(&format!(
            "    server {sv} {at} check inter 200ms rise 1 fall 1 {extra}\n"
        ));
    }
    s.push('\n');
    (port, s)
}

/// The `show stat` fields of one server the check tests look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Row {
    pub status: String,
    pub weight: String,
    pub check_status: String,
    /// HAProxy's check_code: the HTTP status, SMTP reply code, MySQL error
    /// number, LDAP resultCode...
    pub check_code: String,
    /// `check_desc: last_chk`, HAProxy's status text and the check's words.
    pub check_desc: String,
    pub agent_status: String,
    /// `agent_desc: last_agt`.
    pub agent_desc: String,
}

/// A running l4lb (or, with `CHECKS_WITH_HAPROXY=/path/to/haproxy` in the
/// environment, that HAProxy, to check what the tests expect against it)
/// with its stats socket.
pub(crate) struct Checked {
    proc: Proc,
    pub sock: PathBuf,
    _dir: TempDir,
}

enum Proc {
    L4lb(L4lb),
    Haproxy(Haproxy),
}

impl Checked {
    /// Starts l4lb (or HAProxy, see above) with `sections` (`listen`s
    /// from [`listen`]).
    pub(crate) fn start(sections: &str) -> Checked {
        let dir = TempDir::new("checks");
        let sock = dir.0.join("stats.sock");
        let conf = check_conf(&sock, sections);
        let proc = match std::env::var_os("CHECKS_WITH_HAPROXY") {
            Some(bin) => Proc::Haproxy(Haproxy::start(&bin, &dir, &conf, &sock)),
            None => Proc::L4lb(L4lb::start(&conf)),
        };
        Checked {
            proc,
            sock,
            _dir: dir,
        }
    }

    /// Whether the proxy under test is HAProxy.
    pub(crate) fn is_haproxy(&self) -> bool {
        matches!(self.proc, Proc::Haproxy(_))
    }

    /// Its log (stderr) so far.
    pub(crate) fn log_text(&self) -> String {
        match &self.proc {
            Proc::L4lb(l4) => l4.log_text(),
            Proc::Haproxy(h) => h.log.lock().unwrap().join("\n"),
        }
    }

    /// The server's row now.
    pub(crate) fn row(&self, px: &str, sv: &str) -> Row {
        let csv = api_command(&self.sock, "show stat");
        let mut lines = csv.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let row: Vec<String> = lines
            .map(csv_fields)
            .find(|f| f.len() > 1 && f[0] == px && f[1] == sv)
            .unwrap_or_else(|| panic!("no row {px}/{sv} in:\n{csv}"));
        let col = |name: &str| {
            let i = header
                .iter()
                .position(|c| *c == name)
                .unwrap_or_else(|| panic!("no column {name}"));
            row.get(i).map(|v| v.to_string()).unwrap_or_default()
        };
        // check_desc is the status's fixed text ("Layer7 wrong status"),
        // last_chk what the check found (the server's words): both, here.
        let check_desc = format!("{}: {}", col("check_desc"), col("last_chk"));
        let agent_desc = format!("{}: {}", col("agent_desc"), col("last_agt"));
        Row {
            status: col("status"),
            weight: col("weight"),
            check_status: col("check_status"),
            check_code: col("check_code"),
            check_desc,
            agent_status: col("agent_status"),
            agent_desc,
        }
    }

    /// Waits (up to 5 s) until `ok(row)`; returns the row, or panics with
    /// the last one seen and the log.
    pub(crate) fn wait(&self, px: &str, sv: &str, what: &str, ok: impl Fn(&Row) -> bool) -> Row {
        let (last, held) = self.try_wait(px, sv, ok);
        assert!(
            held,
            "{px}/{sv}: never {what}; last {last:?}; log:\n{}",
            self.log_text()
        );
        last
    }

    /// Waits (up to 5 s) until `ok(row)`: the last row seen, and whether
    /// it held.
    pub(crate) fn try_wait(&self, px: &str, sv: &str, ok: impl Fn(&Row) -> bool) -> (Row, bool) {
        let mut last = Row::default();
        let held = wait_until(Duration::from_secs(5), || {
            last = self.row(px, sv);
            ok(&last)
        });
        (last, held)
    }

    /// Waits until the server's status is `status` and its check status is
    /// one of `checks` (HAProxy's words: UP, DOWN, L7OK, L7STS...).
    pub(crate) fn wait_for(&self, px: &str, sv: &str, status: &str, checks: &[&str]) -> Row {
        let what = format!("{status} with {checks:?}");
        self.wait(px, sv, &what, |r| {
            r.status == status && checks.contains(&r.check_status.as_str())
        })
    }
}

/// Sends `marker` and a CRLF through the proxy on `port`, half-closes, and
/// reads what comes back until the close (or 3 s): a request a fake records,
/// so a test can tell which server the proxy chose.
pub(crate) fn through(port: u16, marker: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(super::super::addr(port)).expect("connect to l4lb");
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let _ = c.write_all(format!("{marker}\r\n").as_bytes());
    let _ = c.shutdown(std::net::Shutdown::Write);
    let mut back = Vec::new();
    let _ = c.read_to_end(&mut back);
    back
}

/// What HAProxy 2.6 shows for a server after one kind of answer: its
/// status, the check statuses it may show (a close races the client's
/// send: a reset is SOCKERR, a FIN first is L7RSP), and a text its
/// check_desc must contain ("" for any; a server not UP must have one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shows {
    pub status: &'static str,
    pub checks: &'static [&'static str],
    pub desc: &'static str,
}

/// `Shows` in short: status, check statuses, check_desc text.
pub(crate) const fn shows(
    status: &'static str,
    checks: &'static [&'static str],
    desc: &'static str,
) -> Shows {
    Shows {
        status,
        checks,
        desc,
    }
}

/// Named fakes, each with what HAProxy shows for it.
pub(crate) type Cases<K> = Vec<(String, super::Fake<K>, Shows)>;

/// The answer of a slow server: later than `timeout check` (500 ms).
pub(crate) const SLOW: super::Mode = super::Mode::Slow(Duration::from_millis(1500));

/// A fake per mode, in order right, wrong, slow, close, close mid-answer,
/// garbage, each with what HAProxy shows for it.
pub(crate) fn six<K: Clone + Send + 'static>(
    make: impl Fn() -> super::Fake<K>,
    expect: [Shows; 6],
) -> Cases<K> {
    use super::Mode::*;
    let modes = [Right, Wrong, SLOW, Close, CloseMid, Garbage];
    let names = ["right", "wrong", "slow", "close", "closemid", "garbage"];
    modes
        .into_iter()
        .zip(names)
        .zip(expect)
        .map(|((mode, name), shows)| {
            let fake = make();
            fake.set_mode(mode);
            (name.to_string(), fake, shows)
        })
        .collect()
}

/// Waits until server `px/s` shows `shows`; what it showed instead.
fn mismatch(c: &Checked, px: &str, shows: &Shows) -> Option<String> {
    let mut last = Row::default();
    let good = |r: &Row| {
        let desc = r.check_desc.to_lowercase();
        r.status == shows.status
            && shows.checks.contains(&r.check_status.as_str())
            && desc.contains(&shows.desc.to_lowercase())
            && (shows.status == "UP" || !desc.is_empty())
    };
    let held = wait_until(Duration::from_secs(5), || {
        last = c.row(px, "s");
        good(&last)
    });
    (!held).then(|| {
        format!(
            "{px}: want {} {:?} desc {:?}; got {} {} desc {:?}",
            shows.status, shows.checks, shows.desc, last.status, last.check_status, last.check_desc
        )
    })
}

/// Starts one l4lb with a `listen PX_NAME` (check `lines`, one server `s`)
/// per case, and asserts that each server comes to what HAProxy shows.
pub(crate) fn assert_cases<K: Clone + Send + 'static>(
    px: &str,
    lines: &str,
    cases: &Cases<K>,
) -> Checked {
    let sections: String = cases
        .iter()
        .map(|(name, fake, _)| listen(&format!("{px}_{name}"), lines, &[("s", fake.addr(), "")]).1)
        .collect();
    let c = Checked::start(&sections);
    // Every case is waited for and every mismatch reported, not the first.
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(name, _, shows)| mismatch(&c, &format!("{px}_{name}"), shows))
        .collect();
    assert!(
        wrong.is_empty(),
        "not as HAProxy:\n{}\nlog:\n{}",
        wrong.join("\n"),
        c.log_text()
    );
    c
}

/// The fields of a CSV line; a field in double quotes may hold commas and
/// doubled quotes (how `show stat` writes a check_desc with a comma).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(ch),
        }
    }
    fields.push(field);
    fields
}

/// HAProxy in the foreground, its stderr kept line by line; killed and
/// reaped on drop.
struct Haproxy {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Haproxy {
    fn start(bin: &std::ffi::OsStr, dir: &TempDir, conf: &str, sock: &std::path::Path) -> Haproxy {
        use std::io::BufRead;
        let path = dir.0.join("haproxy.cfg");
        std::fs::write(&path, conf).unwrap();
        let mut child = Command::new(bin)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn haproxy");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (lines, stderr) = (Arc::clone(&log), child.stderr.take().unwrap());
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                lines.lock().unwrap().push(line);
            }
        });
        let mut h = Haproxy {
            child,
            log,
            reader: Some(reader),
        };
        let up = wait_until(Duration::from_secs(10), || {
            std::os::unix::net::UnixStream::connect(sock).is_ok()
                || h.child.try_wait().unwrap().is_some()
        });
        assert!(
            up && h.child.try_wait().unwrap().is_none(),
            "haproxy did not start:\n{}",
            h.log.lock().unwrap().join("\n")
        );
        h
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// The cases named in `names`.
pub(crate) fn only<K>(mut cases: Cases<K>, names: &[&str]) -> Cases<K> {
    cases.retain(|(n, _, _)| names.contains(&n.as_str()));
    cases
}

/// The cases not named in `names`.
pub(crate) fn without<K>(mut cases: Cases<K>, names: &[&str]) -> Cases<K> {
    cases.retain(|(n, _, _)| !names.contains(&n.as_str()));
    cases
}
