//! The numbers operators read: one [`Row`] per frontend, backend and
//! server, built from the shared counters (never from the workers), and
//! the two text forms HAProxy tools already parse: `show stat` (CSV with
//! HAProxy's column names, in HAProxy's order); `show info` is in
//! [`info`](super::info).
//!
//! Rates (connections per second) need two readings a second apart: the
//! supervisor keeps a [`Rates`] and ticks it once a second.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use crate::admin::info::ProcessRates;
use crate::backend::{Admin, CheckStatus, RAMP_FULL, Server};
use crate::config::Balance;
use crate::shared::Shared;

/// What a row describes (HAProxy's `type` column: 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Frontend,
    Backend,
    Server,
}

/// One line of `show stat`. Counters are totals since the process started
/// (or since the server or frontend was added).
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    pub kind: Option<Kind>,
    /// Proxy (frontend or backend) name.
    pub pxname: String,
    /// `FRONTEND`, `BACKEND`, or the server's name.
    pub svname: String,
    /// Current, highest and limit of concurrent connections.
    pub scur: u64,
    pub smax: u64,
    pub slim: Option<u64>,
    /// Connections ever.
    pub stot: u64,
    /// Bytes from clients (in) and to clients (out).
    pub bin: u64,
    pub bout: u64,
    /// Clients closed for want of a server (frontends).
    pub rejected: u64,
    /// Clients refused by `tcp-request connection`, `session`, `content`
    /// rules (frontends).
    pub denied_conn: u64,
    pub denied_sess: u64,
    pub denied_req: u64,
    /// Failed connects (`econ`), retries (`wretr`), redispatches (`wredis`).
    pub econ: u64,
    pub wretr: u64,
    pub wredis: u64,
    /// Connections cut by the client, or by the server, while forwarding.
    pub cli_abrt: u64,
    pub srv_abrt: u64,
    /// HAProxy's status words: OPEN, UP, DOWN, MAINT, DRAIN, `UP 1/3`,
    /// `DOWN 1/2`, `no check`.
    pub status: String,
    pub weight: u64,
    /// Active and backup servers in service (a server row: 1 for its kind).
    pub act: u64,
    pub bck: u64,
    /// Failed checks, and UP -> DOWN transitions.
    pub chkfail: Option<u64>,
    pub chkdown: Option<u64>,
    /// Seconds since the last state change; seconds spent DOWN.
    pub lastchg: Option<u64>,
    pub downtime: Option<u64>,
    /// Slow start: percent of its weight the server has now.
    pub throttle: Option<u64>,
    /// Connections per second over the last second, and the highest seen.
    pub rate: u64,
    pub rate_max: u64,
    pub check_status: Option<&'static str>,
    /// The HTTP/SMTP code of the last check.
    pub check_code: Option<u32>,
    pub check_duration: Option<u64>,
    /// HAProxy's text for the status (`check_desc`), and what the last
    /// check said (`last_chk`: the server's error, the HTTP reason...).
    pub check_desc: Option<&'static str>,
    pub last_chk: Option<String>,
    pub check_rise: Option<u32>,
    pub check_fall: Option<u32>,
    pub check_health: Option<u32>,
    /// The `agent-check`'s status, duration, text, rise, fall and health.
    pub agent_status: Option<&'static str>,
    pub agent_duration: Option<u64>,
    pub agent_desc: Option<&'static str>,
    pub last_agt: Option<String>,
    pub agent_rise: Option<u32>,
    pub agent_fall: Option<u32>,
    pub agent_health: Option<u32>,
    /// `IP:PORT` of a server.
    pub addr: Option<String>,
    /// Clients waiting for a server slot now and at most (backends), and
    /// the server's `maxqueue` (`qlimit`).
    pub qcur: u64,
    pub qmax: u64,
    pub qlimit: Option<u64>,
    /// A backend's `balance`.
    pub algo: Option<&'static str>,
}

/// HAProxy's `show stat` columns, in its order, up to the last one l4lb
/// fills. Columns l4lb has no value for are left empty, as HAProxy does.
pub(crate) const COLUMNS: &[&str] = &[
    "pxname",
    "svname",
    "qcur",
    "qmax",
    "scur",
    "smax",
    "slim",
    "stot",
    "bin",
    "bout",
    "dreq",
    "dresp",
    "ereq",
    "econ",
    "eresp",
    "wretr",
    "wredis",
    "status",
    "weight",
    "act",
    "bck",
    "chkfail",
    "chkdown",
    "lastchg",
    "downtime",
    "qlimit",
    "pid",
    "iid",
    "sid",
    "throttle",
    "lbtot",
    "tracked",
    "type",
    "rate",
    "rate_lim",
    "rate_max",
    "check_status",
    "check_code",
    "check_duration",
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
    "hanafail",
    "req_rate",
    "req_rate_max",
    "req_tot",
    "cli_abrt",
    "srv_abrt",
    "comp_in",
    "comp_out",
    "comp_byp",
    "comp_rsp",
    "lastsess",
    "last_chk",
    "last_agt",
    "qtime",
    "ctime",
    "rtime",
    "ttime",
    "agent_status",
    "agent_code",
    "agent_duration",
    "check_desc",
    "agent_desc",
    "check_rise",
    "check_fall",
    "check_health",
    "agent_rise",
    "agent_fall",
    "agent_health",
    "addr",
    "cookie",
    "mode",
    "algo",
    "conn_rate",
    "conn_rate_max",
    "conn_tot",
    "intercepted",
    "dcon",
    "dses",
];

impl Row {
    /// The value of column `name` as `show stat` prints it ("" if none).
    pub(crate) fn field(&self, name: &str, iid: usize, sid: usize) -> String {
        let n = |v: u64| v.to_string();
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        let opt32 = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
        let kind = self.kind.unwrap_or(Kind::Server);
        match name {
            "pxname" => self.pxname.clone(),
            "svname" => self.svname.clone(),
            "qcur" if kind != Kind::Frontend => n(self.qcur),
            "qmax" if kind != Kind::Frontend => n(self.qmax),
            "qlimit" => opt(self.qlimit),
            "scur" => n(self.scur),
            "smax" => n(self.smax),
            "slim" => opt(self.slim),
            "stot" => n(self.stot),
            "bin" => n(self.bin),
            "bout" => n(self.bout),
            "dreq" if kind == Kind::Frontend => n(self.denied_req),
            "ereq" if kind == Kind::Frontend => n(0),
            "dresp" => n(0),
            "econ" | "eresp" | "wretr" | "wredis" if kind == Kind::Frontend => String::new(),
            "econ" => n(self.econ),
            "eresp" => n(self.srv_abrt),
            "wretr" => n(self.wretr),
            "wredis" => n(self.wredis),
            "status" => self.status.clone(),
            "weight" | "act" | "bck" if kind == Kind::Frontend => String::new(),
            "weight" => n(self.weight),
            "act" => n(self.act),
            "bck" => n(self.bck),
            "chkfail" => opt(self.chkfail),
            "chkdown" => opt(self.chkdown),
            "lastchg" => opt(self.lastchg),
            "downtime" => opt(self.downtime),
            "pid" => n(1),
            "iid" => n(iid as u64),
            "sid" => n(sid as u64),
            "throttle" => opt(self.throttle),
            "lbtot" if kind != Kind::Frontend => n(self.stot),
            "type" => n(match kind {
                Kind::Frontend => 0,
                Kind::Backend => 1,
                Kind::Server => 2,
            }),
            "rate" => n(self.rate),
            "rate_max" => n(self.rate_max),
            "check_status" => self.check_status.unwrap_or_default().to_string(),
            "check_code" => opt32(self.check_code),
            "check_duration" => opt(self.check_duration),
            "cli_abrt" | "srv_abrt" if kind == Kind::Frontend => String::new(),
            "cli_abrt" => n(self.cli_abrt),
            "srv_abrt" => n(self.srv_abrt),
            "check_desc" => self.check_desc.unwrap_or_default().to_string(),
            "last_chk" => self.last_chk.clone().unwrap_or_default(),
            "last_agt" => self.last_agt.clone().unwrap_or_default(),
            "check_rise" => opt32(self.check_rise),
            "check_fall" => opt32(self.check_fall),
            "check_health" => opt32(self.check_health),
            "agent_status" => self.agent_status.unwrap_or_default().to_string(),
            "agent_duration" => opt(self.agent_duration),
            "agent_desc" => self.agent_desc.unwrap_or_default().to_string(),
            "agent_rise" => opt32(self.agent_rise),
            "agent_fall" => opt32(self.agent_fall),
            "agent_health" => opt32(self.agent_health),
            "addr" => self.addr.clone().unwrap_or_default(),
            "mode" => "tcp".into(),
            "algo" => self.algo.unwrap_or_default().to_string(),
            "conn_rate" if kind == Kind::Frontend => n(self.rate),
            "conn_rate_max" if kind == Kind::Frontend => n(self.rate_max),
            "conn_tot" if kind == Kind::Frontend => n(self.stot),
            "dcon" if kind == Kind::Frontend => n(self.rejected + self.denied_conn),
            "dses" if kind == Kind::Frontend => n(self.denied_sess),
            _ => String::new(),
        }
    }
}

/// Connection rates: totals read a second ago, and the highest rates.
#[derive(Debug, Default)]
pub(crate) struct Rates {
    last: HashMap<(String, String), u64>,
    rate: HashMap<(String, String), u64>,
    max: HashMap<(String, String), u64>,
    at: Option<Instant>,
    /// The process-wide ones, for `show info`.
    pub process: ProcessRates,
}

impl Rates {
    /// Takes a reading of every total; called about once a second.
    pub(crate) fn tick(&mut self, shared: &Shared) {
        let now = Instant::now();
        let secs = self
            .at
            .map_or(1.0, |at| now.duration_since(at).as_secs_f64().max(0.001));
        let rows = rows_without_rates(shared);
        let mut seen = HashMap::with_capacity(rows.len());
        for r in rows {
            let key = (r.pxname, r.svname);
            if let Some(&before) = self.last.get(&key) {
                let rate = (r.stot.saturating_sub(before) as f64 / secs).round() as u64;
                self.rate.insert(key.clone(), rate);
                let max = self.max.entry(key.clone()).or_default();
                *max = (*max).max(rate);
            }
            seen.insert(key, r.stot);
        }
        // Rows gone in a reload are forgotten.
        self.rate.retain(|k, _| seen.contains_key(k));
        self.max.retain(|k, _| seen.contains_key(k));
        self.last = seen;
        self.at = Some(now);
        self.process.tick(shared, secs);
    }

    fn fill(&self, row: &mut Row) {
        let key = (row.pxname.clone(), row.svname.clone());
        row.rate = self.rate.get(&key).copied().unwrap_or(0);
        row.rate_max = self.max.get(&key).copied().unwrap_or(0);
    }
}

/// Every row, in HAProxy's order: each frontend, then each backend's
/// servers followed by the backend itself.
pub(crate) fn rows(shared: &Shared, rates: &Rates) -> Vec<Row> {
    let mut rows = rows_without_rates(shared);
    for r in &mut rows {
        rates.fill(r);
    }
    rows
}

fn rows_without_rates(shared: &Shared) -> Vec<Row> {
    let cfg = &shared.config;
    let now_ms = shared.process.started.elapsed().as_millis() as u64;
    let mut rows = Vec::new();
    for (f, fe) in cfg.frontends.iter().enumerate() {
        let c = &shared.frontends[f];
        rows.push(Row {
            kind: Some(Kind::Frontend),
            pxname: fe.name.clone(),
            svname: "FRONTEND".into(),
            scur: c.cur.load(Relaxed) as u64,
            smax: c.max.load(Relaxed) as u64,
            slim: Some(fe.maxconn as u64),
            stot: c.total.load(Relaxed),
            bin: c.bytes_in.load(Relaxed),
            bout: c.bytes_out.load(Relaxed),
            rejected: c.rejected.load(Relaxed),
            denied_conn: c.denied_conn.load(Relaxed),
            denied_sess: c.denied_sess.load(Relaxed),
            denied_req: c.denied_req.load(Relaxed),
            status: "OPEN".into(),
            ..Row::default()
        });
    }
    for (b, be) in cfg.backends.iter().enumerate() {
        let servers = &shared.servers[b];
        let first = rows.len();
        for s in servers {
            rows.push(server_row(&be.name, s, now_ms));
        }
        let members = &rows[first..];
        let sum = |f: fn(&Row) -> u64| members.iter().map(f).sum::<u64>();
        let in_service: Vec<&Server> = servers
            .iter()
            .filter(|s| s.in_service())
            .map(|s| &**s)
            .collect();
        let act = in_service.iter().filter(|s| !s.is_backup()).count() as u64;
        let bck = in_service.len() as u64 - act;
        let weight = in_service
            .iter()
            .filter(|s| s.is_backup() == (act == 0))
            .map(|s| u64::from(s.weight()))
            .sum();
        let row = Row {
            kind: Some(Kind::Backend),
            pxname: be.name.clone(),
            svname: "BACKEND".into(),
            // Its sessions, queued ones included, as HAProxy's.
            scur: shared.backends[b].cur.load(Relaxed) as u64,
            smax: shared.backends[b].max.load(Relaxed) as u64,
            slim: None,
            stot: sum(|r| r.stot),
            bin: sum(|r| r.bin),
            bout: sum(|r| r.bout),
            econ: sum(|r| r.econ),
            wretr: sum(|r| r.wretr),
            wredis: sum(|r| r.wredis),
            cli_abrt: sum(|r| r.cli_abrt),
            srv_abrt: sum(|r| r.srv_abrt),
            status: if act + bck > 0 { "UP" } else { "DOWN" }.into(),
            weight,
            act,
            bck,
            algo: Some(algo_name(be.balance)),
            qcur: shared.backends[b].queued.load(Relaxed) as u64,
            qmax: shared.backends[b].queued_max.load(Relaxed) as u64,
            ..Row::default()
        };
        rows.push(row);
    }
    rows
}

fn server_row(backend: &str, s: &Server, now_ms: u64) -> Row {
    let st = &s.stats;
    let c = &s.check;
    let checked = c.enabled.load(Relaxed);
    let (a, agent) = (&s.agent, s.agent.enabled.load(Relaxed));
    let maxconn = s.maxconn();
    let health = c.health.load(Relaxed);
    let (rise, fall) = (c.rise.load(Relaxed), c.fall.load(Relaxed));
    let up = s.is_up();
    let status = match s.admin() {
        Admin::Maint => "MAINT".to_string(),
        Admin::Drain if up && agent => "DRAIN (agent)".to_string(),
        Admin::Drain if up => "DRAIN".to_string(),
        _ if up && s.is_nolb() => "NOLB".to_string(),
        _ if !s.agent_up() => "DOWN (agent)".to_string(),
        _ if !checked => if up { "no check" } else { "DOWN" }.to_string(),
        // Going down: health between rise and its top; coming up: below rise.
        _ if up && health < rise + fall - 1 => {
            format!("UP {}/{}", health - rise + 1, fall)
        }
        _ if !up && health > 0 => format!("DOWN {health}/{rise}"),
        _ if up => "UP".to_string(),
        _ => "DOWN".to_string(),
    };
    let down_ms = c.down_ms.load(Relaxed)
        + if up {
            0
        } else {
            now_ms.saturating_sub(c.down_since_ms.load(Relaxed))
        };
    let ramp = s.ramp();
    Row {
        kind: Some(Kind::Server),
        pxname: backend.to_string(),
        svname: s.name.clone(),
        scur: u64::from(s.cur()),
        smax: u64::from(st.max.load(Relaxed)),
        slim: (maxconn > 0).then_some(u64::from(maxconn)),
        stot: st.total.load(Relaxed),
        bin: st.bytes_in.load(Relaxed),
        bout: st.bytes_out.load(Relaxed),
        econ: st.connect_failures.load(Relaxed),
        wretr: st.retries.load(Relaxed),
        wredis: st.redispatches.load(Relaxed),
        cli_abrt: st.cli_aborts.load(Relaxed),
        srv_abrt: st.srv_aborts.load(Relaxed),
        status,
        weight: u64::from(s.weight()),
        act: u64::from(!s.is_backup()),
        bck: u64::from(s.is_backup()),
        chkfail: checked.then(|| c.failed.load(Relaxed)),
        chkdown: checked.then(|| c.downs.load(Relaxed)),
        lastchg: Some(now_ms.saturating_sub(c.last_change_ms.load(Relaxed)) / 1000),
        downtime: checked.then_some(down_ms / 1000),
        throttle: (ramp < RAMP_FULL).then(|| u64::from(ramp) * 100 / u64::from(RAMP_FULL)),
        check_status: checked.then(|| CheckStatus::from_u8(c.status.load(Relaxed)).name()),
        check_duration: checked.then(|| c.duration_ms.load(Relaxed)),
        // HAProxy shows a code (0 if none) for the layer 7 verdicts.
        check_code: (checked
            && matches!(
                CheckStatus::from_u8(c.status.load(Relaxed)),
                CheckStatus::L7Ok | CheckStatus::L7Okc | CheckStatus::L7Sts
            ))
        .then(|| c.code.load(Relaxed)),
        check_desc: checked.then(|| CheckStatus::from_u8(c.status.load(Relaxed)).description()),
        last_chk: checked.then(|| c.desc.lock().unwrap_or_else(|e| e.into_inner()).clone()),
        check_rise: checked.then_some(rise),
        check_fall: checked.then_some(fall),
        check_health: checked.then_some(health),
        agent_status: agent.then(|| CheckStatus::from_u8(a.status.load(Relaxed)).name()),
        agent_duration: agent.then(|| a.duration_ms.load(Relaxed)),
        agent_desc: agent.then(|| CheckStatus::from_u8(a.status.load(Relaxed)).description()),
        last_agt: agent.then(|| a.desc.lock().unwrap_or_else(|e| e.into_inner()).clone()),
        agent_rise: agent.then(|| a.rise.load(Relaxed)),
        agent_fall: agent.then(|| a.fall.load(Relaxed)),
        agent_health: agent.then(|| a.health.load(Relaxed)),
        // HAProxy shows a unix server's address as "unix".
        addr: Some(match s.sockopts().unix {
            Some(_) => "unix".to_string(),
            None => s.addr().to_string(),
        }),
        qlimit: Some(u64::from(s.maxqueue())).filter(|&q| q > 0),
        ..Row::default()
    }
}

/// HAProxy's name of a `balance` algorithm.
pub(crate) fn algo_name(b: Balance) -> &'static str {
    match b {
        Balance::RoundRobin => "roundrobin",
        Balance::LeastConn => "leastconn",
        Balance::Source { .. } => "source",
        Balance::Random { .. } => "random",
        Balance::First => "first",
    }
}

/// `show stat`: a `# ` header of column names, then one line per row,
/// each ending in a comma, as HAProxy prints them.
pub(crate) fn csv(rows: &[Row], shared: &Shared) -> String {
    let mut out = String::from("# ");
    for c in COLUMNS {
        out.push_str(c);
        out.push(',');
    }
    out.push('\n');
    for values in fields(rows, shared) {
        for v in values {
            out.push_str(&csv_escape(&v));
            out.push(',');
        }
        out.push('\n');
    }
    out
}

/// Each row's fields as `show stat` prints them, one per [`COLUMNS`]
/// entry ("" when l4lb has no value): the CSV and the JSON of `GET /stats`
/// both come from here, so they always agree.
pub(crate) fn fields(rows: &[Row], shared: &Shared) -> Vec<Vec<String>> {
    let ids = Ids::new(shared);
    rows.iter()
        .map(|r| {
            let (iid, sid) = ids.of(r);
            COLUMNS.iter().map(|c| r.field(c, iid, sid)).collect()
        })
        .collect()
}

/// Each row's (`iid`, `sid`), as [`fields`] prints them.
pub(crate) fn row_ids(rows: &[Row], shared: &Shared) -> Vec<(usize, usize)> {
    let ids = Ids::new(shared);
    rows.iter().map(|r| ids.of(r)).collect()
}

/// HAProxy's proxy ids (`iid`, 1-based in conf order: frontends, then
/// backends) and server ids (`sid`, 1-based in the backend; 0 for
/// FRONTEND/BACKEND rows). A `listen` section is one proxy to HAProxy:
/// its backend has its frontend's id (and its own number stays unused).
struct Ids<'a> {
    shared: &'a Shared,
}

impl<'a> Ids<'a> {
    fn new(shared: &'a Shared) -> Ids<'a> {
        Ids { shared }
    }

    fn of(&self, r: &Row) -> (usize, usize) {
        let cfg = &self.shared.config;
        match r.kind {
            Some(Kind::Frontend) => (
                cfg.frontends
                    .iter()
                    .find(|f| f.name == r.pxname)
                    .map_or(0, |f| f.id as usize),
                0,
            ),
            _ => {
                let b = self.shared.backend_index(&r.pxname);
                let iid = b.map_or(0, |b| cfg.backends[b].id as usize);
                // Each server's `id N`, the others numbered as HAProxy.
                let sid = b
                    .and_then(|b| {
                        let servers = &self.shared.servers[b];
                        let i = servers.iter().position(|s| s.name == r.svname)?;
                        let ids: Vec<_> = servers.iter().map(|s| s.id()).collect();
                        Some(crate::config::numbered_ids(&ids)[i] as usize)
                    })
                    .unwrap_or(0);
                (iid, sid)
            }
        }
    }
}

/// A CSV field: commas and line breaks would break the columns.
fn csv_escape(v: &str) -> String {
    if v.contains([',', '\n', '"']) {
        format!("\"{}\"", v.replace('"', "\"\"").replace('\n', " "))
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests;
