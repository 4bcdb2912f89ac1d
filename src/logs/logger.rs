//! The logger thread and its targets. Workers hand it connection records
//! (and, for frontends in HAProxy's default format, `connect::Connect`s at
//! accept) over a bounded channel with `try_send` and never wait: when it falls
//! behind, records are dropped and counted (`Process::log_dropped`). It
//! formats each record once in its frontend's line format (`format`; the
//! `log-format-sd` part too, for RFC 5424 targets), frames it for every
//! target of the frontend (syslog header per `format`, at `info`, or `err`
//! for errors under `option log-separate-errors`, cut to `len`) and writes
//! it: stdout/stderr as lines, UDP syslog as datagrams,
//! unix datagram sockets (`/dev/log`) likewise. A target that fails is
//! reported once on the daemon's own log, and again once it works again.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::config::{Config, LogDest, LogFormat, LogTarget};
use crate::logs::connect::{self, Connect};
use crate::logs::date::LogDate;
use crate::logs::format::{self, Env};
use crate::logs::tcplog::Record;

/// Records waiting for the logger thread before workers start dropping
/// them: a few milliseconds of a busy proxy's connections.
const CHANNEL_CAPACITY: usize = 4096;
/// Connection logs go out at `info`, as HAProxy's (errors included) ...
pub(crate) const SEVERITY_INFO: u8 = 6;
/// ... unless `option log-separate-errors` raises errors to `err`.
pub(crate) const SEVERITY_ERR: u8 = 3;

/// Records travel by value (under 300 bytes): nothing to allocate. Boxing
/// them to make `Stop` (sent once) smaller would cost an allocation per
/// connection.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Msg {
    Conn(Record),
    Connect(Connect),
    Stop,
}

/// The workers' end of the logger's channel.
#[derive(Debug, Clone)]
pub struct LogSender(Sender<Msg>);

impl LogSender {
    /// Queues `record` without waiting; false if the channel is full.
    pub fn try_send(&self, record: Record) -> bool {
        self.send(Msg::Conn(record))
    }

    /// Queues the default format's line of a connection just accepted.
    pub fn try_send_connect(&self, connect: Connect) -> bool {
        self.send(Msg::Connect(connect))
    }

    fn send(&self, msg: Msg) -> bool {
        match self.0.try_send(msg) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

/// The logger's channel, made before the workers that send on it.
pub struct Logger {
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
}

/// The running logger thread.
pub struct LoggerHandle {
    tx: Sender<Msg>,
    thread: JoinHandle<()>,
}

impl Logger {
    /// A logger if some frontend logs connections (at their end, or at
    /// accept in the default format), else None.
    pub fn new(config: &Config) -> Option<Logger> {
        let logging = config.frontends.iter().any(|f| !f.log.is_empty());
        logging.then(|| {
            let (tx, rx) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
            Logger { tx, rx }
        })
    }

    pub fn sender(&self) -> LogSender {
        LogSender(self.tx.clone())
    }

    pub fn spawn(self, config: Arc<Config>) -> io::Result<LoggerHandle> {
        let mut writer = Writer::new(config);
        let rx = self.rx;
        let thread = std::thread::Builder::new()
            .name("l4lb-logger".into())
            .spawn(move || writer.run(&rx))?;
        Ok(LoggerHandle {
            tx: self.tx,
            thread,
        })
    }
}

impl LoggerHandle {
    /// Writes out what is queued, then stops the thread. Call once the
    /// workers have stopped, so their last records are in.
    pub fn stop(self) {
        let _ = self.tx.send(Msg::Stop);
        if self.thread.join().is_err() {
            log::error!("the logger thread panicked");
        }
    }
}

/// One distinct target, and whether it is failing (reported once).
struct Sink {
    target: LogTarget,
    failing: bool,
}

/// The thread's state: targets, their sockets, reusable buffers.
struct Writer {
    /// The snapshot whose frontends `routes` follows.
    config: Arc<Config>,
    sinks: Vec<Sink>,
    /// For each frontend, indexes into `sinks` (`log global` shared by
    /// several frontends is one sink).
    routes: Vec<Vec<usize>>,
    outputs: Outputs,
    pid: u32,
    /// `%H`: the system's host name.
    hostname: String,
    /// `%lc`: lines written so far, by frontend of `config`.
    counts: Vec<u64>,
    line: String,
    sd: String,
    frame: String,
}

impl Writer {
    fn new(config: Arc<Config>) -> Writer {
        let mut writer = Writer {
            config: Arc::clone(&config),
            sinks: Vec::new(),
            routes: Vec::new(),
            outputs: Outputs {
                stdout: BufWriter::new(io::stdout()),
                stderr: BufWriter::new(io::stderr()),
                udp4: None,
                udp6: None,
                unix: None,
            },
            pid: std::process::id(),
            hostname: crate::config::system_hostname(),
            counts: Vec::new(),
            line: String::with_capacity(256),
            sd: String::with_capacity(256),
            frame: String::with_capacity(512),
        };
        writer.route(config);
        writer
    }

    /// Routes records by the frontends of `config` (a sink per distinct
    /// target; sinks of earlier snapshots are kept, with their state).
    fn route(&mut self, config: Arc<Config>) {
        self.routes.clear();
        // %lc goes on counting for a frontend a reload keeps.
        let counts: Vec<u64> = config
            .frontends
            .iter()
            .map(|fe| {
                let old = self.config.frontends.iter().position(|o| o.name == fe.name);
                old.and_then(|i| self.counts.get(i)).copied().unwrap_or(0)
            })
            .collect();
        self.counts = counts;
        for fe in &config.frontends {
            let mut route = Vec::new();
            for t in &fe.log {
                let i = match self.sinks.iter().position(|s| s.target == *t) {
                    Some(i) => i,
                    None => {
                        self.sinks.push(Sink {
                            target: t.clone(),
                            failing: false,
                        });
                        self.sinks.len() - 1
                    }
                };
                route.push(i);
            }
            self.routes.push(route);
        }
        self.config = config;
    }

    fn run(&mut self, rx: &Receiver<Msg>) {
        while let Ok(msg) = rx.recv() {
            match msg {
                Msg::Conn(record) => self.write(&record),
                Msg::Connect(c) => self.write_connect(&c),
                Msg::Stop => break,
            }
            // Lines to stdout/stderr go out in batches: whatever arrived
            // together, one write.
            if rx.is_empty() {
                self.outputs.flush();
            }
        }
        self.outputs.flush();
    }

    /// Follows `config` from now on if it is a newer snapshot (a reload).
    fn follow(&mut self, config: &Arc<Config>) {
        if !Arc::ptr_eq(config, &self.config) {
            self.route(Arc::clone(config));
        }
    }

    /// HAProxy's default format: the line of a connection just accepted.
    fn write_connect(&mut self, c: &Connect) {
        self.follow(&c.config);
        let Some(fe) = self.config.frontends.get(c.frontend) else {
            return;
        };
        self.line.clear();
        connect::write_line(&mut self.line, &fe.name, c);
        self.sd.clear();
        self.send_line(c.frontend, SEVERITY_INFO);
    }

    fn write(&mut self, record: &Record) {
        self.follow(&record.config);
        let Some(fe) = self.config.frontends.get(record.frontend) else {
            return;
        };
        let count = &mut self.counts[record.frontend];
        let env = Env {
            pid: self.pid,
            hostname: &self.hostname,
            log_count: *count,
        };
        *count += 1;
        self.line.clear();
        format::write_line(&mut self.line, &fe.log_line.format, record, &env);
        self.sd.clear();
        if let Some(sd) = &fe.log_line.sd {
            format::write_line(&mut self.sd, sd, record, &env);
        }
        let severity = if fe.log_line.separate_errors && record.is_error() {
            SEVERITY_ERR
        } else {
            SEVERITY_INFO
        };
        self.send_line(record.frontend, severity);
    }

    /// Frames `line` (and `sd`, for RFC 5424) for every target of frontend
    /// `frontend` and sends it.
    fn send_line(&mut self, frontend: usize, severity: u8) {
        let Some(route) = self.routes.get(frontend) else {
            return;
        };
        let logging = &self.config.logging;
        let header = Header {
            now: LogDate::local(SystemTime::now()),
            host: logging.hostname.as_deref(),
            tag: &logging.tag,
            pid: self.pid,
            sd: Some(self.sd.as_str()).filter(|sd| !sd.is_empty()),
        };
        for &i in route {
            let sink = &mut self.sinks[i];
            if frame(&mut self.frame, &sink.target, severity, &header, &self.line) {
                let sent = self.outputs.send(&sink.target.dest, &self.frame);
                note(sink, sent);
            }
        }
    }
}

/// Where lines are written; sockets are opened at their first use.
struct Outputs {
    stdout: BufWriter<io::Stdout>,
    stderr: BufWriter<io::Stderr>,
    udp4: Option<UdpSocket>,
    udp6: Option<UdpSocket>,
    unix: Option<UnixDatagram>,
}

impl Outputs {
    fn send(&mut self, dest: &LogDest, msg: &str) -> io::Result<()> {
        match dest {
            LogDest::Stdout => writeln!(self.stdout, "{msg}"),
            LogDest::Stderr => writeln!(self.stderr, "{msg}"),
            LogDest::Udp(addr) => {
                let sock = match addr {
                    SocketAddr::V4(_) => udp(&mut self.udp4, "0.0.0.0:0")?,
                    SocketAddr::V6(_) => udp(&mut self.udp6, "[::]:0")?,
                };
                sock.send_to(msg.as_bytes(), addr).map(drop)
            }
            LogDest::Unix(path) => {
                if self.unix.is_none() {
                    self.unix = Some(UnixDatagram::unbound()?);
                }
                let sock = self.unix.as_ref().expect("set above");
                sock.send_to(msg.as_bytes(), path).map(drop)
            }
        }
    }

    fn flush(&mut self) {
        let _ = self.stdout.flush();
        let _ = self.stderr.flush();
    }
}

/// Reports a target's first failure and its recovery, not every line.
fn note(sink: &mut Sink, sent: io::Result<()>) {
    match sent {
        Err(e) if !sink.failing => {
            sink.failing = true;
            log::warn!(
                "connection log target {}: {e}; lines to it are lost until it works again",
                describe(&sink.target.dest)
            );
        }
        Ok(()) if sink.failing => {
            sink.failing = false;
            log::info!(
                "connection log target {} works again",
                describe(&sink.target.dest)
            );
        }
        _ => {}
    }
}

fn udp<'a>(slot: &'a mut Option<UdpSocket>, local: &str) -> io::Result<&'a UdpSocket> {
    if slot.is_none() {
        *slot = Some(UdpSocket::bind(local)?);
    }
    Ok(slot.as_ref().expect("set above"))
}

fn describe(dest: &LogDest) -> String {
    match dest {
        LogDest::Stdout => "stdout".to_string(),
        LogDest::Stderr => "stderr".to_string(),
        LogDest::Udp(a) => format!("udp {a}"),
        LogDest::Unix(p) => format!("unix {}", p.display()),
    }
}

/// What syslog headers say besides the priority.
#[derive(Debug)]
pub(crate) struct Header<'a> {
    /// When the message is sent.
    pub now: LogDate,
    /// `log-send-hostname`, if set.
    pub host: Option<&'a str>,
    /// `log-tag`.
    pub tag: &'a str,
    pub pid: u32,
    /// `log-format-sd`'s part of RFC 5424 headers (`-` without).
    pub sd: Option<&'a str>,
}

/// Puts in `out` the message `msg` of severity `severity` as `target`
/// sends it: its format's header, then `msg`, cut to `len` bytes. False
/// when the target's level filters the message out.
pub(crate) fn frame(
    out: &mut String,
    target: &LogTarget,
    severity: u8,
    h: &Header<'_>,
    msg: &str,
) -> bool {
    if severity > target.level {
        return false;
    }
    // MINLEVEL: a more severe message is sent at that level instead.
    let severity = severity.max(target.minlevel);
    let pri = u32::from(target.facility) * 8 + u32::from(severity);
    out.clear();
    let _ = match target.format {
        LogFormat::Raw => Ok(()),
        LogFormat::Short => write!(out, "<{severity}>"),
        LogFormat::Priority => write!(out, "<{pri}>"),
        LogFormat::Rfc3164 | LogFormat::Local => {
            let _ = write!(out, "<{pri}>");
            let _ = h.now.write_rfc3164(out);
            match h.host.filter(|_| target.format == LogFormat::Rfc3164) {
                Some(host) => write!(out, " {host} {}[{}]: ", h.tag, h.pid),
                None => write!(out, " {}[{}]: ", h.tag, h.pid),
            }
        }
        LogFormat::Rfc5424 => {
            let _ = write!(out, "<{pri}>1 ");
            let _ = h.now.write_iso(out);
            let host = h.host.unwrap_or("-");
            let sd = h.sd.unwrap_or("-");
            write!(out, " {host} {} {} - {sd} ", h.tag, h.pid)
        }
        LogFormat::Timed => {
            let _ = write!(out, "<{severity}>");
            let _ = h.now.write_iso(out);
            out.write_char(' ')
        }
        LogFormat::Iso => {
            let _ = h.now.write_iso(out);
            out.write_char(' ')
        }
    };
    out.push_str(msg);
    truncate(out, target.maxlen);
    true
}

/// Cuts `s` to at most `max` bytes, on a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::Shared;
    use std::time::{Duration, UNIX_EPOCH};

    fn target(format: LogFormat) -> LogTarget {
        LogTarget {
            dest: LogDest::Stdout,
            format,
            maxlen: 1024,
            facility: 16, // local0
            level: 7,
            minlevel: 0,
        }
    }

    fn header(host: Option<&str>) -> Header<'_> {
        Header {
            now: LogDate::with_offset(UNIX_EPOCH + Duration::from_micros(1_795_521_662_123_456), 0),
            host,
            tag: "l4lb",
            pid: 42,
            sd: None,
        }
    }

    fn framed(t: &LogTarget, host: Option<&str>) -> Option<String> {
        let mut out = String::new();
        frame(&mut out, t, SEVERITY_INFO, &header(host), "msg").then_some(out)
    }

    #[test]
    fn priority_is_facility_times_8_plus_severity() {
        // local0.info = 16 * 8 + 6 = 134; daemon.info = 3 * 8 + 6 = 30.
        let mut t = target(LogFormat::Priority);
        assert_eq!(framed(&t, None).unwrap(), "<134>msg");
        t.facility = 3;
        assert_eq!(framed(&t, None).unwrap(), "<30>msg");
        t.facility = 23; // local7.info
        assert_eq!(framed(&t, None).unwrap(), "<190>msg");
    }

    #[test]
    fn every_format() {
        let cases = [
            (LogFormat::Raw, None, "msg"),
            (LogFormat::Short, None, "<6>msg"),
            (LogFormat::Priority, None, "<134>msg"),
            (
                LogFormat::Rfc3164,
                None,
                "<134>Nov 24 12:01:02 l4lb[42]: msg",
            ),
            (
                LogFormat::Rfc3164,
                Some("box"),
                "<134>Nov 24 12:01:02 box l4lb[42]: msg",
            ),
            (
                LogFormat::Local,
                Some("box"),
                "<134>Nov 24 12:01:02 l4lb[42]: msg",
            ),
            (
                LogFormat::Rfc5424,
                None,
                "<134>1 2026-11-24T12:01:02.123456+00:00 - l4lb 42 - - msg",
            ),
            (
                LogFormat::Rfc5424,
                Some("box"),
                "<134>1 2026-11-24T12:01:02.123456+00:00 box l4lb 42 - - msg",
            ),
            (
                LogFormat::Timed,
                None,
                "<6>2026-11-24T12:01:02.123456+00:00 msg",
            ),
            (LogFormat::Iso, None, "2026-11-24T12:01:02.123456+00:00 msg"),
        ];
        for (format, host, want) in cases {
            assert_eq!(framed(&target(format), host).unwrap(), want, "{format:?}");
        }
    }

    #[test]
    fn levels_filter_and_minlevel_caps() {
        let mut t = target(LogFormat::Short);
        t.level = 5; // notice: info messages are not sent
        assert_eq!(framed(&t, None), None);
        t.level = 6;
        assert_eq!(framed(&t, None).unwrap(), "<6>msg");
        t.level = 7;
        t.minlevel = 7; // debug: more severe messages are sent as debug
        assert_eq!(framed(&t, None).unwrap(), "<7>msg");
    }

    #[test]
    fn a_full_channel_drops_and_counts_without_waiting() {
        let args = crate::cli::Args {
            bind: vec!["127.0.0.1:1".into()],
            server: vec!["127.0.0.1:2".into()],
            ..Default::default()
        };
        let config = Config::from_args(&args).unwrap();
        let (tx, rx) = crossbeam_channel::bounded(2);
        let shared = Shared::new(config, None).with_log(Some(LogSender(tx)));
        let shared = Arc::new(shared);
        let record = || Record::example(Arc::clone(&shared.config));
        for _ in 0..5 {
            shared.log_connection(record());
        }
        assert_eq!(
            (
                rx.len(),
                shared
                    .process
                    .log_dropped
                    .load(std::sync::atomic::Ordering::Relaxed)
            ),
            (2, 3)
        );
    }

    #[test]
    fn len_cuts_the_whole_message() {
        let mut t = target(LogFormat::Rfc3164);
        t.maxlen = 80;
        let mut out = String::new();
        let long = "x".repeat(200);
        assert!(frame(&mut out, &t, 6, &header(None), &long));
        assert_eq!(out.len(), 80);
        assert!(out.starts_with("<134>Nov 24 12:01:02 l4lb[42]: xxx"));
        let mut s = "aé".to_string();
        truncate(&mut s, 2);
        assert_eq!(s, "a");
    }
}
