//! `l4lb ctl top`: a live view of frontends and servers, refreshed every
//! interval. Rates (connections and bytes per second) come from two
//! readings of `show stat`, an interval apart.
//!
//! On a terminal each frame clears the screen (ANSI `ESC[H ESC[2J`); piped
//! to a file or a test, frames follow each other, each opened by its
//! `l4lb top` title line.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use super::table::{self, Record};
use super::{CtlError, command};

/// Cursor home, then clear the screen.
const CLEAR: &str = "\x1b[H\x1b[2J";

/// One reading of the API.
struct Reading {
    at: Instant,
    stats: Vec<Record>,
    info: HashMap<String, String>,
}

impl Reading {
    fn take(socket: &Path) -> Result<Reading, CtlError> {
        let stats = table::parse_csv(&command(socket, "show stat")?);
        let info = command(socket, "show info")?
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(Reading {
            at: Instant::now(),
            stats,
            info,
        })
    }
}

/// Refreshes until `count` frames are shown (None: until interrupted).
pub(super) fn run(socket: &Path, interval: Duration, count: Option<u64>) -> Result<(), CtlError> {
    let tty = std::io::stdout().is_terminal();
    let mut before = Reading::take(socket)?;
    let mut shown = 0;
    while count.is_none_or(|n| shown < n) {
        std::thread::sleep(interval);
        let now = Reading::take(socket)?;
        let mut frame = String::new();
        if tty {
            frame.push_str(CLEAR);
        } else if shown > 0 {
            frame.push('\n');
        }
        frame.push_str(&render(socket, &before, &now));
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) ends the view quietly.
        if out
            .write_all(frame.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            return Ok(());
        }
        before = now;
        shown += 1;
    }
    Ok(())
}

/// One frame: a title line, the frontends, then each backend's servers.
fn render(socket: &Path, before: &Reading, now: &Reading) -> String {
    let rates = Rates::between(before, now);
    let mut out = title(socket, now, rates.secs);
    out.push('\n');
    out.push_str(&frontends(now, &rates));
    out.push('\n');
    out.push_str(&servers(now, &rates));
    out
}

/// The `l4lb top` line: which process, its uptime and connections.
fn title(socket: &Path, now: &Reading, secs: f64) -> String {
    let info = |k: &str| now.info.get(k).map_or("?", String::as_str);
    format!(
        "l4lb top - {} - pid {}, up {}, {} thread(s), {}/{} connections, every {:.1}s\n",
        socket.display(),
        info("Pid"),
        info("Uptime"),
        info("Nbthread"),
        info("CurrConns"),
        info("Maxconn"),
        secs
    )
}

/// Per-second rates of a row between two readings.
struct Rates<'a> {
    /// The earlier reading's rows by (pxname, svname).
    old: HashMap<(&'a str, &'a str), &'a Record>,
    /// Seconds between the readings (at least a millisecond).
    secs: f64,
}

impl<'a> Rates<'a> {
    fn between(before: &'a Reading, now: &Reading) -> Rates<'a> {
        let old = before
            .stats
            .iter()
            .map(|r| ((field(r, "pxname"), field(r, "svname")), r))
            .collect();
        let secs = now.at.duration_since(before.at).as_secs_f64().max(0.001);
        Rates { old, secs }
    }

    /// Per second since the last reading; 0 for a row that just appeared.
    fn per_sec(&self, r: &Record, col: &str) -> f64 {
        let key = (field(r, "pxname"), field(r, "svname"));
        let was = self.old.get(&key).map_or(num(r, col), |o| num(o, col));
        num(r, col).saturating_sub(was) as f64 / self.secs
    }

    /// Connections, bytes in and bytes out per second, formatted.
    fn of(&self, r: &Record) -> [String; 3] {
        [
            format!("{:.0}", self.per_sec(r, "stot")),
            table::bytes_per_sec(self.per_sec(r, "bin")),
            table::bytes_per_sec(self.per_sec(r, "bout")),
        ]
    }
}

/// The frontends table.
fn frontends(now: &Reading, rates: &Rates<'_>) -> String {
    let rows: Vec<Vec<String>> = now
        .stats
        .iter()
        .filter(|r| field(r, "svname") == "FRONTEND")
        .map(|r| {
            let [conns, bin, bout] = rates.of(r);
            vec![
                field(r, "pxname").to_string(),
                field(r, "status").to_string(),
                field(r, "scur").to_string(),
                field(r, "slim").to_string(),
                conns,
                bin,
                bout,
                field(r, "stot").to_string(),
                field(r, "dcon").to_string(),
            ]
        })
        .collect();
    table::render(
        &[
            "frontend", "status", "cur", "limit", "conn/s", "in/s", "out/s", "total", "rejected",
        ],
        rows,
    )
}

/// The backends and servers table, one row per `show stat` row that is
/// not a frontend's.
fn servers(now: &Reading, rates: &Rates<'_>) -> String {
    let rows: Vec<Vec<String>> = now
        .stats
        .iter()
        .filter(|r| field(r, "svname") != "FRONTEND")
        .map(|r| {
            let [conns, bin, bout] = rates.of(r);
            let check = match (field(r, "check_status"), field(r, "check_duration")) {
                ("", _) => String::new(),
                (s, "") => s.to_string(),
                (s, ms) => format!("{s} {ms}ms"),
            };
            vec![
                format!("{}/{}", field(r, "pxname"), field(r, "svname")),
                field(r, "status").to_string(),
                field(r, "weight").to_string(),
                field(r, "scur").to_string(),
                conns,
                bin,
                bout,
                field(r, "stot").to_string(),
                field(r, "econ").to_string(),
                check,
            ]
        })
        .collect();
    table::render(
        &[
            "backend/server",
            "status",
            "weight",
            "cur",
            "conn/s",
            "in/s",
            "out/s",
            "total",
            "errors",
            "check",
        ],
        rows,
    )
}

fn field<'r>(r: &'r Record, col: &str) -> &'r str {
    r.get(col).map_or("", String::as_str)
}

fn num(r: &Record, col: &str) -> u64 {
    field(r, col).parse().unwrap_or(0)
}
