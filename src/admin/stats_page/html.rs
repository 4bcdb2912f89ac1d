//! The stats page as HTML, in the spirit of HAProxy's (`stats-html.c`): a
//! header with the process's numbers and the display options, a legend of
//! the state colours, then one table per proxy (its FRONTEND row, a row
//! per server, its BACKEND row) with the `show stat` numbers, and with
//! `stats admin` a form under each backend. Every number cell carries its
//! `show stat` column (`data-col`) and exact value (`data-value`), so
//! tools and tests can read the page as they read the CSV.

use std::fmt::Write as _;

use super::View;
use super::admin::ACTIONS;
use crate::admin::stats::{self, COLUMNS, Kind, Row};
use crate::config::StatsPage;
use crate::shared::Shared;

/// One column of a proxy table: its `show stat` name, its header, how its
/// value reads.
struct Col {
    name: &'static str,
    title: &'static str,
    fmt: Fmt,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fmt {
    Plain,
    Bytes,
    Secs,
    Percent,
}

/// Column groups, as HAProxy's page has them.
const GROUPS: &[(&str, &[Col])] = &[
    (
        "Session rate",
        &[col("rate", "Cur"), col("rate_max", "Max")],
    ),
    (
        "Sessions",
        &[
            col("scur", "Cur"),
            col("smax", "Max"),
            col("slim", "Limit"),
            col("stot", "Total"),
            col("lbtot", "LbTot"),
        ],
    ),
    (
        "Bytes",
        &[
            Col {
                name: "bin",
                title: "In",
                fmt: Fmt::Bytes,
            },
            Col {
                name: "bout",
                title: "Out",
                fmt: Fmt::Bytes,
            },
        ],
    ),
    ("Denied", &[col("dcon", "Conn")]),
    ("Errors", &[col("econ", "Conn"), col("eresp", "Resp")]),
    ("Warnings", &[col("wretr", "Retr"), col("wredis", "Redis")]),
    ("Aborts", &[col("cli_abrt", "Cli"), col("srv_abrt", "Srv")]),
    (
        "Server",
        &[
            col("status", "Status"),
            Col {
                name: "lastchg",
                title: "LastChg",
                fmt: Fmt::Secs,
            },
            col("check_status", "LastChk"),
            col("weight", "Wght"),
            col("act", "Act"),
            col("bck", "Bck"),
            col("chkfail", "Chk"),
            col("chkdown", "Dwn"),
            Col {
                name: "downtime",
                title: "Dwntme",
                fmt: Fmt::Secs,
            },
            Col {
                name: "throttle",
                title: "Thrtle",
                fmt: Fmt::Percent,
            },
        ],
    ),
];

const fn col(name: &'static str, title: &'static str) -> Col {
    Col {
        name,
        title,
        fmt: Fmt::Plain,
    }
}

/// The whole page.
/// `info`: `show info`'s fields, shown in the page's first box.
pub(super) fn render(
    page: &StatsPage,
    shared: &Shared,
    rows: &[Row],
    view: &View,
    info: &[(&str, String)],
) -> String {
    let mut out = String::with_capacity(32 * 1024);
    head(&mut out, page, view);
    header(&mut out, page, view, info);
    let fields = stats::fields(rows, shared);
    let mut i = 0;
    while i < rows.len() {
        let name = &rows[i].pxname;
        let end = (i..rows.len())
            .find(|&j| &rows[j].pxname != name)
            .unwrap_or(rows.len());
        // A listen's FRONTEND row comes with the frontends, its servers and
        // BACKEND later: gather every row of the proxy into its table.
        let mut members: Vec<usize> = (i..end).collect();
        if rows[i].kind == Some(Kind::Frontend) {
            members.extend((end..rows.len()).filter(|&j| &rows[j].pxname == name));
        }
        if !rows[..i].iter().any(|r| &r.pxname == name) {
            proxy_table(&mut out, page, rows, &fields, &members, view);
        }
        i = end;
    }
    out.push_str("<footer>l4lb &middot; a TCP (L4) load balancer &middot; numbers as <code>show stat</code> prints them</footer>\n</body>\n</html>\n");
    out
}

fn head(out: &mut String, page: &StatsPage, view: &View) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Statistics Report for l4lb{}</title>\n",
        page.node
            .as_deref()
            .map(|n| format!(" on {}", esc(n)))
            .unwrap_or_default()
    );
    if let Some(r) = page.refresh.filter(|_| !view.norefresh) {
        let _ = writeln!(
            out,
            "<meta http-equiv=\"refresh\" content=\"{}\">",
            r.as_secs()
        );
    }
    out.push_str(CSS);
    out.push_str("</head>\n<body>\n");
}

const CSS: &str = r#"<style>
:root { --up:#b9f2b3; --going-down:#fff0a0; --going-up:#ffcc80; --down:#ff9c9c;
  --maint:#c7cde3; --drain:#a9c4ff; --nocheck:#e4eadf; --frontend:#dce7f7; --backend:#eee4c8; }
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; font-size: 12px; margin: 0 16px 16px; color: #1c2430; background: #fafbfc; }
h1 { font-size: 20px; margin: 0; padding: 10px 14px; color: #fff; background: linear-gradient(90deg,#21405e,#2f6690); border-radius: 0 0 6px 6px; }
h1 small { font-weight: normal; font-size: 13px; opacity: .85; margin-left: 10px; }
.top { display: flex; gap: 16px; margin: 12px 0; flex-wrap: wrap; }
.box { background: #fff; border: 1px solid #d4dae2; border-radius: 6px; padding: 8px 12px; }
.box h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: #4a5a70; margin: 0 0 6px; }
.info table { border-collapse: collapse; } .info td { padding: 1px 8px 1px 0; } .info td.k { color: #5a6a80; } .info td.v { padding-right: 22px; } .info p.desc { margin: 0 0 6px; font-weight: bold; }
td.err { color: #b00020; font-weight: bold; }
.legend div { display: grid; grid-template-columns: auto auto; gap: 4px 6px; }
.legend span { padding: 2px 6px; border-radius: 3px; border: 1px solid #c8ccd2; }
.opts a { display: block; color: #2f6690; text-decoration: none; padding: 1px 0; } .opts a:hover { text-decoration: underline; }
.status { margin: 8px 0; padding: 6px 12px; border-radius: 4px; font-weight: bold; }
.status.ok { background: #d5f5d0; border: 1px solid #76c56b; } .status.bad { background: #ffd9d9; border: 1px solid #e07777; }
table.px { border-collapse: collapse; width: 100%; margin: 14px 0 4px; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
table.px caption { text-align: left; font-weight: bold; font-size: 14px; padding: 4px 0; }
table.px caption a { color: #21405e; text-decoration: none; } table.px caption .desc { font-weight: normal; color: #5a6a80; margin-left: 8px; font-size: 12px; }
table.px th { background: #2f4e6e; color: #fff; font-weight: normal; padding: 3px 4px; border: 1px solid #4a6a8c; }
table.px th.group { background: #21405e; }
table.px td { border: 1px solid #d6dbe2; padding: 2px 5px; text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.px td.name { text-align: left; font-weight: bold; }
table.px td.name .legend-info { font-weight: normal; color: #4a5a70; font-size: 11px; margin-left: 6px; }
table.px td[data-col=status] { text-align: center; font-weight: bold; }
tr.frontend td { background: var(--frontend); } tr.backend td { background: var(--backend); font-weight: bold; }
tr.up td { background: var(--up); } tr.going-down td { background: var(--going-down); }
tr.going-up td { background: var(--going-up); } tr.down td { background: var(--down); }
tr.maint td { background: var(--maint); color: #444; } tr.drain td { background: var(--drain); }
tr.nocheck td { background: var(--nocheck); } tr.backend.down td { background: var(--down); }
tr:hover td { filter: brightness(0.96); }
form.admin { margin: 0 0 10px; } form.admin select, form.admin button { font-size: 12px; margin-right: 6px; }
footer { margin-top: 18px; color: #7a8898; font-size: 11px; }
</style>
"#;

/// The page's top: title, process numbers, legend, display options.
fn header(out: &mut String, page: &StatsPage, view: &View, info: &[(&str, String)]) {
    let version = if page.show_version {
        format!(" version {}", env!("CARGO_PKG_VERSION"))
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "<h1>l4lb{version} <small>Statistics Report for pid {}{}</small></h1>",
        std::process::id(),
        page.node
            .as_deref()
            .map(|n| format!(" on {}", esc(n)))
            .unwrap_or_default()
    );
    if let Some(st) = &view.status {
        let (ok, text) = status_text(st);
        let _ = writeln!(
            out,
            "<div class=\"status {}\">{text}</div>",
            if ok { "ok" } else { "bad" }
        );
    }
    out.push_str("<div class=\"top\">\n");
    info_box(out, page, info);
    legend_box(out);
    options_box(out, page, view);
    out.push_str("</div>\n");
}

/// `show info`'s numbers, and `stats show-desc`.
fn info_box(out: &mut String, page: &StatsPage, info: &[(&str, String)]) {
    out.push_str("<div class=\"box info\"><h2>General process information</h2>\n");
    if let Some(d) = page.desc.as_deref().filter(|d| !d.is_empty()) {
        let _ = writeln!(out, "<p class=\"desc\">{}</p>", esc(d));
    }
    let skip = ["Name", "Version", "Nbproc", "Process_num", "Uptime_sec"];
    let info: Vec<_> = info.iter().filter(|(k, _)| !skip.contains(k)).collect();
    out.push_str("<table>\n");
    // Two name-value pairs a line: the box stays short.
    for pair in info.chunks(2) {
        out.push_str("<tr>");
        for (k, v) in pair {
            let _ = write!(
                out,
                "<td class=\"k\">{k}</td><td class=\"v\" data-info=\"{k}\">{}</td>",
                esc(v)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></div>\n");
}

/// The state colours.
fn legend_box(out: &mut String) {
    out.push_str("<div class=\"box legend\"><h2>Legend</h2><div>\n");
    for (class, text) in [
        ("up", "active UP"),
        ("going-down", "UP, going down"),
        ("going-up", "DOWN, going up"),
        ("down", "DOWN"),
        ("drain", "DRAIN (no new connection)"),
        ("maint", "MAINT (set by admin)"),
        ("nocheck", "not checked"),
    ] {
        let _ = write!(
            out,
            "<span style=\"background:var(--{class})\">{text}</span>"
        );
    }
    out.push_str("\n</div></div>\n");
}

/// Links to the page's other views.
fn options_box(out: &mut String, page: &StatsPage, view: &View) {
    out.push_str("<div class=\"box opts\"><h2>Display options</h2>\n");
    let uri = esc(&page.uri);
    let refresh = if view.norefresh { ";norefresh" } else { "" };
    if view.up_only {
        let _ = writeln!(out, "<a href=\"{uri}{refresh}\">Show all servers</a>");
    } else {
        let _ = writeln!(out, "<a href=\"{uri};up{refresh}\">Hide DOWN servers</a>");
    }
    if page.refresh.is_some() {
        let up = if view.up_only { ";up" } else { "" };
        if view.norefresh {
            let _ = writeln!(out, "<a href=\"{uri}{up}\">Enable refresh</a>");
        } else {
            let _ = writeln!(out, "<a href=\"{uri}{up};norefresh\">Disable refresh</a>");
        }
    }
    let _ = writeln!(
        out,
        "<a href=\"{uri}{}\">Refresh now</a>",
        esc(&view.suffix())
    );
    let _ = writeln!(out, "<a href=\"{uri};csv\">CSV export</a>");
    if let Some(p) = &page.prometheus_path {
        let _ = writeln!(out, "<a href=\"{}\">Prometheus metrics</a>", esc(p));
    }
    out.push_str("</div>\n");
}

/// HAProxy's admin outcome words, said for people.
fn status_text(st: &str) -> (bool, &'static str) {
    match st {
        "DONE" => (true, "Action processed successfully."),
        "PART" => (
            false,
            "Action partially processed: some servers were not found.",
        ),
        "NONE" => (false, "Nothing has changed: no server was selected."),
        "DENY" => (false, "Action denied: admin access is not allowed here."),
        "ERRP" => (false, "Action not processed: the request was incomplete."),
        "UNKN" => (false, "Action not processed: unknown backend or server."),
        _ => (false, "Unexpected result."),
    }
}

/// One proxy's table; `members` index its rows in `rows`.
fn proxy_table(
    out: &mut String,
    page: &StatsPage,
    rows: &[Row],
    fields: &[Vec<String>],
    members: &[usize],
    view: &View,
) {
    let first = &rows[members[0]];
    let name = esc(&first.pxname);
    let is_backend = members.iter().any(|&i| rows[i].kind == Some(Kind::Backend));
    let admin = view.admin && is_backend;
    if admin {
        let _ = writeln!(
            out,
            "<form class=\"admin\" method=\"post\" action=\"{}{}\">",
            esc(&page.uri),
            esc(&view.suffix())
        );
        let _ = writeln!(out, "<input type=\"hidden\" name=\"b\" value=\"{name}\">");
    }
    let _ = writeln!(out, "<table class=\"px\" id=\"{name}\" data-px=\"{name}\">");
    let _ = write!(out, "<caption><a href=\"#{name}\">{name}</a>");
    let algo = members.iter().find_map(|&i| rows[i].algo);
    if page.show_legends {
        let _ = write!(
            out,
            "<span class=\"desc\">mode tcp{}</span>",
            algo.map(|a| format!(", balance {a}")).unwrap_or_default()
        );
    }
    out.push_str("</caption>\n<thead><tr>");
    if admin {
        out.push_str("<th rowspan=\"2\"></th>");
    }
    out.push_str("<th rowspan=\"2\" class=\"group\"></th>");
    for (group, cols) in GROUPS {
        let _ = write!(
            out,
            "<th class=\"group\" colspan=\"{}\">{group}</th>",
            cols.len()
        );
    }
    out.push_str("</tr>\n<tr>");
    for (_, cols) in GROUPS {
        for c in *cols {
            let _ = write!(out, "<th>{}</th>", c.title);
        }
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for &i in members {
        row(out, page, &rows[i], &fields[i], admin);
    }
    out.push_str("</tbody>\n</table>\n");
    if admin {
        out.push_str(
            "<label>Choose the action to perform on the checked servers: <select name=\"action\">",
        );
        for (value, label, _) in ACTIONS {
            let _ = write!(out, "<option value=\"{value}\">{label}</option>");
        }
        out.push_str("</select></label><button type=\"submit\">Apply</button>\n</form>\n");
    }
}

fn row(out: &mut String, page: &StatsPage, r: &Row, fields: &[String], admin: bool) {
    let class = state_class(r);
    let sv = esc(&r.svname);
    let _ = write!(out, "<tr class=\"{class}\" data-sv=\"{sv}\">");
    if admin {
        if r.kind == Some(Kind::Server) {
            let _ = write!(
                out,
                "<td><input type=\"checkbox\" name=\"s\" value=\"{sv}\"></td>"
            );
        } else {
            out.push_str("<td></td>");
        }
    }
    let label = match r.kind {
        Some(Kind::Frontend) => "Frontend".to_string(),
        Some(Kind::Backend) => "Backend".to_string(),
        _ => sv.clone(),
    };
    let legend = match (&r.addr, page.show_legends) {
        (Some(a), true) => format!("<span class=\"legend-info\">{}</span>", esc(a)),
        _ => String::new(),
    };
    let _ = write!(out, "<td class=\"name\">{label}{legend}</td>");
    for (_, cols) in GROUPS {
        for c in *cols {
            let idx = COLUMNS.iter().position(|&n| n == c.name).unwrap_or(0);
            let v = &fields[idx];
            let shown = match (c.name, c.fmt) {
                ("check_status", _) => check_cell(r, v),
                (_, Fmt::Bytes) => bytes(v),
                (_, Fmt::Secs) => secs(v),
                (_, Fmt::Percent) if !v.is_empty() => format!("{v}%"),
                _ => esc(v),
            };
            let alarm = ALARMS.contains(&c.name) && !v.is_empty() && v != "0";
            let class = if alarm { " class=\"err\"" } else { "" };
            let _ = write!(
                out,
                "<td{class} data-col=\"{}\" data-value=\"{}\">{shown}</td>",
                c.name,
                esc(v)
            );
        }
    }
    out.push_str("</tr>\n");
}

/// Columns shown in red when not 0: errors, retries, failed checks.
const ALARMS: &[&str] = &[
    "dcon", "econ", "eresp", "wretr", "wredis", "chkfail", "chkdown",
];

/// The row's colour: HAProxy's states.
fn state_class(r: &Row) -> &'static str {
    let s = r.status.as_str();
    match r.kind {
        Some(Kind::Frontend) => "frontend",
        Some(Kind::Backend) if s == "DOWN" => "backend down",
        Some(Kind::Backend) => "backend",
        _ if s == "MAINT" => "maint",
        // NOLB (disable-on-404) is HAProxy's blue like DRAIN: no new
        // connections, the established ones carry on.
        _ if s.starts_with("DRAIN") || s == "NOLB" => "drain",
        _ if s == "no check" => "nocheck",
        _ if s == "DOWN (agent)" => "down",
        _ if s.starts_with("UP ") => "going-down",
        _ if s.starts_with("DOWN ") => "going-up",
        _ if s == "UP" => "up",
        _ => "down",
    }
}

/// `L4OK in 2ms`, with the check's description as a tooltip.
fn check_cell(r: &Row, v: &str) -> String {
    if v.is_empty() {
        return String::new();
    }
    let ms = r
        .check_duration
        .map(|d| format!(" in {d}ms"))
        .unwrap_or_default();
    let desc = match (r.check_desc, r.last_chk.as_deref()) {
        (Some(d), Some(last)) if !last.is_empty() => format!("{d}: {last}"),
        (d, _) => d.unwrap_or_default().to_string(),
    };
    format!("<span title=\"{}\">{}{ms}</span>", esc(&desc), esc(v))
}

/// A byte count people read at a glance (the exact one is `data-value`).
fn bytes(v: &str) -> String {
    let Ok(n) = v.parse::<u64>() else {
        return esc(v);
    };
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n as f64;
    let mut u = 0;
    while x >= 1024.0 && u < UNITS.len() - 1 {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", UNITS[u])
    }
}

/// Seconds as HAProxy's page says them: `1h02m`, `3m20s`, `12s`.
fn secs(v: &str) -> String {
    let Ok(s) = v.parse::<u64>() else {
        return esc(v);
    };
    match s {
        s if s >= 86_400 => format!("{}d{:02}h", s / 86_400, s / 3600 % 24),
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s / 60 % 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// HTML text and attribute escaping.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_for_people() {
        assert_eq!(bytes("512"), "512 B");
        assert_eq!(bytes("1536"), "1.5 KiB");
        assert_eq!(bytes(""), "");
        assert_eq!(secs("59"), "59s");
        assert_eq!(secs("200"), "3m20s");
        assert_eq!(secs("3720"), "1h02m");
        assert_eq!(secs("90000"), "1d01h");
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn rows_take_haproxys_state_colours() {
        let r = |kind, status: &str| Row {
            kind: Some(kind),
            status: status.into(),
            ..Row::default()
        };
        for (kind, status, class) in [
            (Kind::Server, "UP", "up"),
            (Kind::Server, "UP 1/3", "going-down"),
            (Kind::Server, "DOWN 1/2", "going-up"),
            (Kind::Server, "DOWN", "down"),
            (Kind::Server, "MAINT", "maint"),
            (Kind::Server, "DRAIN", "drain"),
            (Kind::Server, "no check", "nocheck"),
            (Kind::Backend, "DOWN", "backend down"),
            (Kind::Frontend, "OPEN", "frontend"),
        ] {
            assert_eq!(state_class(&r(kind, status)), class, "{status}");
        }
    }
}
