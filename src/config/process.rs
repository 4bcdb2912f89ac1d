//! The process settings of `global` as l4lb runs them: daemon mode, the
//! pidfile, the identity to drop to, the chroot, the fd limit, `unix-bind`,
//! and how health checks are spread (`spread-checks`).

use std::path::PathBuf;
use std::time::Duration;

/// `daemon`, `pidfile`, `user`/`uid`, `group`/`gid`, `chroot`, `ulimit-n`,
/// `master-worker`, `unix-bind`, with `-D`, `-db` and `-p` applied over
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Process {
    /// Fork to the background once ready (`daemon`, `-D`; `-db` clears it).
    pub daemon: bool,
    /// Where the pid is written once ready (`pidfile`, `-p`).
    pub pidfile: Option<PathBuf>,
    /// `uid N` or `user NAME` (looked up when the conf is read).
    pub uid: Option<u32>,
    /// `gid N` or `group NAME`.
    pub gid: Option<u32>,
    /// `chroot DIR`: entered after every listener is bound.
    pub chroot: Option<PathBuf>,
    /// `ulimit-n N`: RLIMIT_NOFILE, instead of raising it to the hard limit.
    pub ulimit_n: Option<u64>,
    /// `master-worker` (accepted: l4lb's main thread is always its workers'
    /// supervisor, and a reload never drops a connection).
    pub master_worker: bool,
    /// `unix-bind`: defaults for unix listening sockets.
    pub unix_bind: UnixBind,
    /// `quiet` (as `-q`): errors only at start-up.
    pub quiet: bool,
}

impl Process {
    /// The `-c` line of what is set; None when nothing is.
    pub fn summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.daemon {
            parts.push("daemon".to_string());
        }
        let paths = [("pidfile", &self.pidfile), ("chroot", &self.chroot)];
        for (name, path) in paths {
            if let Some(p) = path {
                parts.push(format!("{name} {}", p.display()));
            }
        }
        let ids = [("uid", self.uid), ("gid", self.gid)];
        for (name, id) in ids {
            if let Some(id) = id {
                parts.push(format!("{name} {id}"));
            }
        }
        if let Some(n) = self.ulimit_n {
            parts.push(format!("ulimit-n {n}"));
        }
        (!parts.is_empty()).then(|| format!("process: {}", parts.join(", ")))
    }
}

/// `unix-bind [prefix P] [mode M] [user U|uid N] [group G|gid N]`. The
/// prefix is put before every `stats socket` path; the rest is kept for
/// unix `bind` lines, which l4lb does not have yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnixBind {
    pub prefix: Option<PathBuf>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// `spread-checks` and `max-spread-checks`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpreadChecks {
    /// Each interval between two checks of a server is its `inter` plus or
    /// minus up to this percentage of it, at random (0..=50; 0 = exact).
    pub percent: u32,
    /// The first checks start spread over the server's `inter`, or over
    /// this at most.
    pub max: Option<Duration>,
}

impl SpreadChecks {
    /// `inter` moved by `draw` (uniform in 0..1) within +/- `percent`.
    pub fn interval(&self, inter: Duration, draw: f64) -> Duration {
        if self.percent == 0 {
            return inter;
        }
        let span = inter.as_secs_f64() * f64::from(self.percent) / 100.0;
        Duration::from_secs_f64((inter.as_secs_f64() + span * (2.0 * draw - 1.0)).max(0.0))
    }

    /// When the first check of a server with `inter` starts, after the
    /// start, for `draw` uniform in 0..1.
    pub fn first(&self, inter: Duration, draw: f64) -> Duration {
        let over = self.max.map_or(inter, |m| m.min(inter));
        over.mul_f64(draw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_move_within_the_percentage() {
        let s = SpreadChecks {
            percent: 10,
            max: None,
        };
        let inter = Duration::from_secs(2);
        assert_eq!(s.interval(inter, 0.0), Duration::from_millis(1800));
        assert_eq!(s.interval(inter, 0.5), inter);
        assert_eq!(s.interval(inter, 1.0), Duration::from_millis(2200));
        assert_eq!(SpreadChecks::default().interval(inter, 0.9), inter);
    }

    #[test]
    fn max_spread_caps_the_first_delay() {
        let inter = Duration::from_secs(30);
        let capped = SpreadChecks {
            percent: 0,
            max: Some(Duration::from_secs(3)),
        };
        assert_eq!(capped.first(inter, 0.5), Duration::from_millis(1500));
        assert_eq!(
            capped.first(Duration::from_secs(1), 0.5),
            Duration::from_millis(500),
            "a shorter inter is kept"
        );
        assert_eq!(SpreadChecks::default().first(inter, 0.5), inter / 2);
    }
}
