//! The machine-readable marks at the top of each `tests/confs/*.cfg` file
//! (see tests/confs/README.md) and the placeholders of the `start` ones:
//! parsed, checked for consistency, and substituted.

use std::collections::BTreeSet;

/// A feature family a file waits for: `-c` may fail on its keywords only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Family {
    /// Issue 12: HTTP, protocol and agent health checks.
    HealthChecks,
    /// Issue 13's keywords l4lb still refuses (`tcp-response`): the rest of
    /// routing (ACLs, content rules, backend switching, PROXY protocol) is in.
    Routing,
}

/// The keywords (as `-c` names them between quotes) of each waited family.
/// scripts/confs_check.sh has the same lists: keep them in step.
const HEALTH_CHECKS: &[&str] = &[
    "option httpchk",
    "http-check",
    "option mysql-check",
    "option pgsql-check",
    "option redis-check",
    "option smtpchk",
    "option ldap-check",
    "option ssl-hello-chk",
    "option log-health-checks",
    "option external-check",
    "external-check",
    "check-ssl",
    "check-send-proxy",
    "check-sni",
    "check-alpn",
    // `verify none` on a server line whose only TLS is its check-ssl.
    "verify",
    "agent-check",
    "agent-port",
    "agent-inter",
    "agent-addr",
    "agent-send",
];
const ROUTING: &[&str] = &["tcp-response"];

impl Family {
    fn parse(word: &str) -> Option<Family> {
        match word {
            "health-checks" => Some(Family::HealthChecks),
            "routing" => Some(Family::Routing),
            _ => None,
        }
    }

    pub(crate) fn keywords(self) -> &'static [&'static str] {
        match self {
            Family::HealthChecks => HEALTH_CHECKS,
            Family::Routing => ROUTING,
        }
    }

    /// The family a keyword belongs to, if any.
    pub(crate) fn of(keyword: &str) -> Option<Family> {
        [Family::HealthChecks, Family::Routing]
            .into_iter()
            .find(|f| f.keywords().contains(&keyword))
    }
}

/// What the test starts on a `@BE_name@` port (tests/confs/servers.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// `Backend::named`: writes its name, then echoes (the default).
    Echo,
    /// Nothing listens: connects are refused; its checks must take it out.
    Down,
    /// Answers a Redis check (redis-check or tcp-check) as the master.
    RedisMaster,
    /// Answers a Redis check as a replica (role:slave), so it is taken out.
    RedisReplica,
    /// A MySQL server: a protocol-10 greeting, OK to mysql-check's login.
    Mysql,
    /// An SMTP server: a 220 banner, 250 to HELO/EHLO, 221 to QUIT.
    Smtp,
    /// An LDAP server: a successful BindResponse to ldap-check's bind.
    Ldap,
    /// An HTTP check target (not traffic): `http-NNN`, `patroni-*`.
    Http(HttpAnswer),
    /// TLS with an HTTP answer for checks, echo for passed-through
    /// traffic on the same port (a Kubernetes API server): `tls-http-NNN`.
    TlsHttp(HttpAnswer),
    /// An agent-check target (not traffic): `agent-up|drain|down`.
    Agent(Agent),
}

/// How an HTTP check target answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HttpAnswer {
    /// This status to any request (`http-200`, `http-503`, ...).
    Status(u16),
    /// Patroni's REST API on the leader: `/`, `/primary` 200, `/replica` 503.
    PatroniPrimary,
    /// Patroni's REST API on a replica: `/replica` 200, `/`, `/primary` 503.
    PatroniReplica,
}

/// The line an agent-check target answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Agent {
    /// `up 100%`
    Up,
    /// `drain`: no new connection (show stat: DRAIN).
    Drain,
    /// `down`
    Down,
}

/// What a traffic client reads before it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Greeting {
    /// Nothing: the client speaks first.
    None,
    /// One line (an SMTP banner).
    Line,
    /// One MySQL packet (the server's handshake).
    MysqlPacket,
}

impl Behaviour {
    fn parse(word: &str) -> Option<Behaviour> {
        let status = |code: &str| {
            let n: u16 = code.parse().ok()?;
            (code.len() == 3 && (100..600).contains(&n)).then_some(HttpAnswer::Status(n))
        };
        Some(match word {
            "echo" => Behaviour::Echo,
            "down" => Behaviour::Down,
            "redis-master" => Behaviour::RedisMaster,
            "redis-replica" => Behaviour::RedisReplica,
            "mysql" => Behaviour::Mysql,
            "smtp" => Behaviour::Smtp,
            "ldap" => Behaviour::Ldap,
            "patroni-primary" => Behaviour::Http(HttpAnswer::PatroniPrimary),
            "patroni-replica" => Behaviour::Http(HttpAnswer::PatroniReplica),
            "agent-up" => Behaviour::Agent(Agent::Up),
            "agent-drain" => Behaviour::Agent(Agent::Drain),
            "agent-down" => Behaviour::Agent(Agent::Down),
            _ => match word.split_once("http-")? {
                ("", code) => Behaviour::Http(status(code)?),
                ("tls-", code) => Behaviour::TlsHttp(status(code)?),
                _ => return None,
            },
        })
    }

    /// Whether l4lb's checks must mark this server DOWN before traffic
    /// flows (whatever proxy it is in; `l4lb-out` names others).
    pub(crate) fn is_taken_out(self) -> bool {
        matches!(self, Behaviour::Down | Behaviour::RedisReplica)
    }

    /// Whether it echoes traffic (else it is only a check target).
    pub(crate) fn carries_traffic(self) -> bool {
        !matches!(self, Behaviour::Http(_) | Behaviour::Agent(_))
    }

    pub(crate) fn greeting(self) -> Greeting {
        match self {
            Behaviour::Smtp => Greeting::Line,
            Behaviour::Mysql => Greeting::MysqlPacket,
            _ => Greeting::None,
        }
    }
}

/// `[PROXY/]SERVER` in `l4lb-out` / `l4lb-passes`: the `show stat` rows of
/// server SERVER (of proxy PROXY only, if given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub proxy: Option<String>,
    pub server: String,
}

/// `# l4lb-route: FRONTEND [OPENING] -> SERVER...`: connections to
/// `@FE_frontend@` that start with OPENING must reach one of these servers
/// (by `@BE_name@` name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub frontend: String,
    pub opening: Opening,
    pub servers: Vec<String>,
}

/// What a route's client sends first, before its round trip's `ping`
/// (tests/confs/openings.rs writes the bytes); the server echoes it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Opening {
    /// Nothing (no word): the client's first bytes are the round trip's.
    Nothing,
    /// `tls`: a TLS ClientHello without a server name; `sni=NAME`: with
    /// NAME (sent as written, case included).
    TlsHello(Option<String>),
    /// `ssh`: an SSH client's identification line (`SSH-2.0-...`).
    SshBanner,
}

impl Opening {
    fn parse(word: &str) -> Option<Opening> {
        match word {
            "tls" => Some(Opening::TlsHello(None)),
            "ssh" => Some(Opening::SshBanner),
            _ => {
                let name = word.strip_prefix("sni=")?;
                let ok = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c));
                ok.then(|| Opening::TlsHello(Some(name.to_string())))
            }
        }
    }
}

/// Every mark of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marks {
    pub family: String,
    pub start: bool,
    pub waits: BTreeSet<Family>,
    pub routes: Vec<Route>,
    /// `# l4lb-rejects: FRONTEND...`: a plain client of these frontends is
    /// closed before it reaches a server (the file's rules turn it away).
    pub rejects: Vec<String>,
    pub servers: Vec<(String, Behaviour)>,
    pub out: Vec<Row>,
    pub passes: Vec<Row>,
}

impl Marks {
    /// Every `show stat` row that must be out before traffic: the `l4lb-out`
    /// marks, and the servers whose behaviour is taken out.
    pub(crate) fn taken_out(&self) -> Vec<Row> {
        let implicit = self
            .servers
            .iter()
            .filter(|(_, b)| b.is_taken_out())
            .map(|(n, _)| Row {
                proxy: None,
                server: n.clone(),
            });
        self.out.iter().cloned().chain(implicit).collect()
    }

    /// The behaviour the test gives the server on `@BE_name@`.
    pub(crate) fn behaviour(&self, name: &str) -> Behaviour {
        self.servers
            .iter()
            .find(|(n, _)| n == name)
            .map_or(Behaviour::Echo, |(_, b)| *b)
    }
}

/// Parses and checks the marks of `text`; the error says what is wrong.
pub(crate) fn parse(text: &str) -> Result<Marks, String> {
    let mut family = None;
    let mut test = None;
    let mut marks = Marks {
        family: String::new(),
        start: false,
        waits: BTreeSet::new(),
        routes: Vec::new(),
        rejects: Vec::new(),
        servers: Vec::new(),
        out: Vec::new(),
        passes: Vec::new(),
    };
    // Marks live in the leading comment block only.
    for line in text.lines().take_while(|l| l.trim_start().starts_with('#')) {
        let body = line.trim_start().trim_start_matches('#').trim();
        let Some((mark, value)) = body.split_once(':') else {
            continue;
        };
        if !mark.starts_with("l4lb-") {
            continue;
        }
        let value = value.trim();
        match mark {
            "l4lb-family" => set_once(&mut family, mark, value.to_string())?,
            "l4lb-test" => set_once(&mut test, mark, value.to_string())?,
            "l4lb-waits" => {
                // The first word names the family; the rest is a note.
                let word = value.split_whitespace().next().unwrap_or("");
                let f =
                    Family::parse(word).ok_or(format!("l4lb-waits: unknown family {word:?}"))?;
                marks.waits.insert(f);
            }
            "l4lb-route" => marks.routes.push(parse_route(value)?),
            "l4lb-rejects" => marks
                .rejects
                .extend(value.split_whitespace().map(str::to_string)),
            "l4lb-server" => marks.servers.push(parse_server(value)?),
            "l4lb-out" => marks.out.extend(parse_rows(mark, value)?),
            "l4lb-passes" => marks.passes.extend(parse_rows(mark, value)?),
            _ => return Err(format!("unknown mark {mark:?}")),
        }
    }
    marks.family = family.ok_or("no l4lb-family mark")?;
    marks.start = match test.as_deref() {
        Some("load") => false,
        Some("start") => true,
        Some(other) => return Err(format!("l4lb-test: {other:?} is neither load nor start")),
        None => return Err("no l4lb-test mark".into()),
    };
    check_consistency(&marks, text)?;
    Ok(marks)
}

fn set_once(slot: &mut Option<String>, mark: &str, value: String) -> Result<(), String> {
    if slot.replace(value).is_some() {
        return Err(format!("{mark} given twice"));
    }
    Ok(())
}

fn parse_route(value: &str) -> Result<Route, String> {
    let expected =
        || format!("l4lb-route {value:?}: expected FRONTEND [tls|sni=NAME|ssh] -> SERVER...");
    let (left, servers) = value.split_once("->").ok_or_else(expected)?;
    let servers: Vec<String> = servers.split_whitespace().map(str::to_string).collect();
    let (frontend, opening) = match left.split_whitespace().collect::<Vec<_>>()[..] {
        [fe] => (fe, Opening::Nothing),
        [fe, word] => (fe, Opening::parse(word).ok_or_else(expected)?),
        _ => return Err(expected()),
    };
    if servers.is_empty() {
        return Err(expected());
    }
    Ok(Route {
        frontend: frontend.to_string(),
        opening,
        servers,
    })
}

fn parse_server(value: &str) -> Result<(String, Behaviour), String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    match words[..] {
        [name, kind] => {
            let b =
                Behaviour::parse(kind).ok_or(format!("l4lb-server: unknown behaviour {kind:?}"))?;
            Ok((name.to_string(), b))
        }
        _ => Err(format!("l4lb-server {value:?}: expected NAME BEHAVIOUR")),
    }
}

fn parse_rows(mark: &str, value: &str) -> Result<Vec<Row>, String> {
    let out: Vec<Row> = value
        .split_whitespace()
        .map(|w| match w.split_once('/') {
            Some((px, sv)) => Row {
                proxy: Some(px.to_string()),
                server: sv.to_string(),
            },
            None => Row {
                proxy: None,
                server: w.to_string(),
            },
        })
        .collect();
    if out.is_empty() || out.iter().any(|o| o.server.is_empty()) {
        return Err(format!("{mark} {value:?}: expected [PROXY/]SERVER..."));
    }
    Ok(out)
}

/// The rules between marks and placeholders (README.md, "Marks").
fn check_consistency(marks: &Marks, text: &str) -> Result<(), String> {
    let (fes, bes) = (placeholders(text, "FE"), placeholders(text, "BE"));
    if !marks.start {
        if !marks.routes.is_empty() || !marks.servers.is_empty() || !marks.rejects.is_empty() {
            return Err(
                "l4lb-route / l4lb-server / l4lb-rejects marks need l4lb-test: start".into(),
            );
        }
        if !fes.is_empty() || !bes.is_empty() || text.contains("@DIR@") {
            return Err("placeholders are for l4lb-test: start files only".into());
        }
        return Ok(());
    }
    if !marks.waits.is_empty() {
        return Err("a start file cannot wait for a family".into());
    }
    if marks.routes.is_empty() {
        return Err("a start file needs at least one l4lb-route".into());
    }
    for route in &marks.routes {
        check_route(marks, route, &fes, &bes)?;
    }
    for fe in &marks.rejects {
        if !fes.contains(fe) {
            return Err(format!("l4lb-rejects {fe:?} has no @FE_{fe}@"));
        }
        // The rejected client sends a plain line, as such a route's would.
        let plain = |r: &Route| r.frontend == *fe && r.opening == Opening::Nothing;
        if marks.routes.iter().any(plain) {
            return Err(format!("{fe:?} both routes and rejects a plain client"));
        }
    }
    for (name, _) in &marks.servers {
        if !bes.contains(name) {
            return Err(format!("l4lb-server {name:?} has no @BE_{name}@"));
        }
    }
    for row in marks.out.iter().chain(&marks.passes) {
        check_row(row, text)?;
    }
    let waits = !marks.taken_out().is_empty() || !marks.passes.is_empty();
    if waits && stats_socket(text).is_none() {
        return Err("the test waits on show stat: the file needs a stats socket".into());
    }
    Ok(())
}

fn check_route(
    marks: &Marks,
    route: &Route,
    fes: &BTreeSet<String>,
    bes: &BTreeSet<String>,
) -> Result<(), String> {
    if !fes.contains(&route.frontend) {
        return Err(format!(
            "route frontend {:?} has no @FE_{0}@",
            route.frontend
        ));
    }
    for s in &route.servers {
        if !bes.contains(s) {
            return Err(format!("route server {s:?} has no @BE_{s}@"));
        }
        let b = marks.behaviour(s);
        let out_everywhere = marks
            .out
            .iter()
            .any(|o| o.proxy.is_none() && o.server == *s);
        if b.is_taken_out() || out_everywhere {
            return Err(format!("route server {s:?} is one the checks take out"));
        }
        if !b.carries_traffic() {
            return Err(format!("route server {s:?} is a check target, not traffic"));
        }
    }
    let greetings: BTreeSet<_> = route
        .servers
        .iter()
        .map(|s| format!("{:?}", marks.behaviour(s).greeting()))
        .collect();
    // With an opening, the client speaks first: a server that greets would
    // wait for a connection the rules only make once the opening is in.
    let greets = route
        .servers
        .iter()
        .any(|s| marks.behaviour(s).greeting() != Greeting::None);
    if route.opening != Opening::Nothing && greets {
        return Err(format!(
            "route {:?} opens with {:?} to a server that speaks first",
            route.frontend, route.opening
        ));
    }
    if greetings.len() > 1 {
        return Err(format!(
            "route {:?} mixes servers with different greetings",
            route.frontend
        ));
    }
    Ok(())
}

/// An `l4lb-out` / `l4lb-passes` row must be one the file has: a `server
/// SERVER` line (in a section named PROXY, if given).
fn check_row(o: &Row, text: &str) -> Result<(), String> {
    let mut section = None;
    let found = text.lines().any(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        match words[..] {
            ["listen" | "backend" | "frontend" | "defaults", name, ..] => section = Some(name),
            ["listen" | "backend" | "frontend" | "defaults" | "global"] => section = None,
            ["server", name, ..] => {
                return name == o.server && o.proxy.as_deref().is_none_or(|px| section == Some(px));
            }
            _ => {}
        }
        false
    });
    if !found {
        return Err(format!("{o:?}: no such server line"));
    }
    Ok(())
}

/// The names of the `@KIND_name@` placeholders in `text`.
pub(crate) fn placeholders(text: &str, kind: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    substitute(text, |k, name| {
        if k == kind {
            names.insert(name.to_string());
        }
        String::new()
    });
    names
}

/// `text` with each `@FE_name@` / `@BE_name@` replaced by `port(kind, name)`.
/// (`@DIR@` is replaced by the caller; other `@` are HAProxy's, e.g. `unix@`.)
pub(crate) fn substitute(text: &str, mut port: impl FnMut(&str, &str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let (before, tail) = rest.split_at(at);
        out.push_str(before);
        let parsed = ["FE", "BE"].into_iter().find_map(|kind| {
            let body = tail
                .strip_prefix('@')?
                .strip_prefix(kind)?
                .strip_prefix('_')?;
            let end = body.find('@')?;
            let name = &body[..end];
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            ok.then(|| (kind, name, kind.len() + name.len() + 3))
        });
        match parsed {
            Some((kind, name, len)) => {
                out.push_str(&port(kind, name));
                rest = &tail[len..];
            }
            None => {
                out.push('@');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The path of the first `stats socket` in `text`.
pub(crate) fn stats_socket(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("stats"), Some("socket"), Some(path)) => Some(path.to_string()),
            _ => None,
        }
    })
}

/// Whether l4lb must write one line to its stdout per finished client
/// connection: the file logs to `stdout` with `option tcplog` or a
/// `log-format`. (Without either, HAProxy and l4lb log a "Connect from"
/// line at accept: not asserted here, `tests/tcplog.rs` does.)
pub(crate) fn logs_each_connection(text: &str) -> bool {
    let has = |words: &[&str]| {
        text.lines().any(|l| {
            let mut w = l.split_whitespace();
            words.iter().all(|word| w.next() == Some(*word))
        })
    };
    has(&["log", "stdout"]) && (has(&["option", "tcplog"]) || has(&["log-format"]))
}

/// Whether the file asks HAProxy to daemonize (then the test passes `-db`,
/// as a systemd unit or a container entry point does).
pub(crate) fn wants_daemon(text: &str) -> bool {
    text.lines()
        .any(|l| l.split_whitespace().next() == Some("daemon"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &str = "\
# l4lb-family: redis
# l4lb-test: start
# l4lb-route: fe -> a b
# l4lb-server: c down
global
    stats socket @DIR@/s.sock level admin
listen x
    bind 127.0.0.1:@FE_fe@
    server a 127.0.0.1:@BE_a@
    server b 127.0.0.1:@BE_b@
    server c unix@/x 127.0.0.1:@BE_c@
";

    #[test]
    fn start_marks_parse() {
        let m = parse(START).unwrap();
        assert!(m.start);
        assert_eq!(m.family, "redis");
        assert_eq!(m.routes[0].servers, ["a", "b"]);
        assert_eq!(m.behaviour("c"), Behaviour::Down);
        assert_eq!(m.behaviour("a"), Behaviour::Echo);
    }

    #[test]
    fn substitute_leaves_haproxy_at_signs_alone() {
        let out = substitute(START, |k, n| format!("{k}{n}"));
        assert!(out.contains("bind 127.0.0.1:FEfe\n"), "{out}");
        assert!(out.contains("server c unix@/x 127.0.0.1:BEc\n"), "{out}");
        assert!(out.contains("@DIR@/s.sock"), "{out}");
        assert_eq!(placeholders(START, "BE").len(), 3);
    }

    #[test]
    fn bad_marks_are_refused() {
        let no_route = START.replace("# l4lb-route: fe -> a b\n", "");
        assert!(parse(&no_route).is_err());
        let down_in_route = START.replace("-> a b", "-> a c");
        assert!(parse(&down_in_route).unwrap_err().contains("take out"));
        let typo = START.replace("l4lb-server", "l4lb-sever");
        assert!(parse(&typo).unwrap_err().contains("unknown mark"));
        let load = "# l4lb-family: x\n# l4lb-test: load\nlisten a\n    bind :@FE_a@\n";
        assert!(parse(load).unwrap_err().contains("start files only"));
        let waits = "# l4lb-family: x\n# l4lb-test: load\n# l4lb-waits: routing (13)\n";
        assert_eq!(parse(waits).unwrap().waits.len(), 1);
    }

    #[test]
    fn routes_parse_their_opening() {
        let sni = START.replace("fe -> a b", "fe sni=App1.example.net -> a b");
        let m = parse(&sni).unwrap();
        let want = Opening::TlsHello(Some("App1.example.net".into()));
        assert_eq!(m.routes[0].opening, want);
        let tls = parse(&START.replace("fe -> a", "fe tls -> a")).unwrap();
        assert_eq!(tls.routes[0].opening, Opening::TlsHello(None));
        let ssh = parse(&START.replace("fe -> a", "fe ssh -> a")).unwrap();
        assert_eq!(ssh.routes[0].opening, Opening::SshBanner);
        assert_eq!(parse(START).unwrap().routes[0].opening, Opening::Nothing);
        for bad in ["fe sni= -> a", "fe http -> a", "fe tls ssh -> a", "-> a"] {
            let text = START.replace("fe -> a b", bad);
            assert!(parse(&text).unwrap_err().contains("expected"), "{bad}");
        }
        let smtp = sni.replace(
            "# l4lb-server: c down",
            "# l4lb-server: c down\n# l4lb-server: a smtp\n# l4lb-server: b smtp",
        );
        assert!(parse(&smtp).unwrap_err().contains("speaks first"));
    }

    #[test]
    fn rejects_name_a_frontend_no_plain_route_has() {
        let with = |marks: &str| START.replace("# l4lb-server: c down", marks);
        let other = with("# l4lb-server: c down\n# l4lb-rejects: adm").replace(
            "listen x\n",
            "listen adm\n    bind 127.0.0.1:@FE_adm@\nlisten x\n",
        );
        assert_eq!(parse(&other).unwrap().rejects, ["adm"]);
        let typo = with("# l4lb-server: c down\n# l4lb-rejects: amd");
        assert!(parse(&typo).unwrap_err().contains("no @FE_amd@"));
        let both = with("# l4lb-server: c down\n# l4lb-rejects: fe");
        assert!(
            parse(&both)
                .unwrap_err()
                .contains("both routes and rejects")
        );
        let opened = both.replace("fe -> a b", "fe tls -> a b");
        assert!(parse(&opened).is_ok());
        let load = "# l4lb-family: x\n# l4lb-test: load\n# l4lb-rejects: fe\n";
        assert!(parse(load).unwrap_err().contains("need l4lb-test: start"));
    }

    #[test]
    fn behaviours_parse_with_their_status() {
        let p = Behaviour::parse;
        assert_eq!(
            p("http-503"),
            Some(Behaviour::Http(HttpAnswer::Status(503)))
        );
        assert_eq!(
            p("tls-http-200"),
            Some(Behaviour::TlsHttp(HttpAnswer::Status(200)))
        );
        assert_eq!(
            p("patroni-replica"),
            Some(Behaviour::Http(HttpAnswer::PatroniReplica))
        );
        assert_eq!(p("agent-drain"), Some(Behaviour::Agent(Agent::Drain)));
        for bad in ["http-20", "http-999", "tls-http-", "xhttp-200", "agent"] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    const CHECKED: &str = "\
# l4lb-family: patroni
# l4lb-test: start
# l4lb-route: rw -> pg1
# l4lb-server: pg1api patroni-primary
# l4lb-server: pg2api patroni-replica
# l4lb-out: rw/pg2
# l4lb-passes: pg1
global
    stats socket @DIR@/s.sock level admin
listen rw
    bind 127.0.0.1:@FE_rw@
    server pg1 127.0.0.1:@BE_pg1@ check port @BE_pg1api@
    server pg2 127.0.0.1:@BE_pg2@ check port @BE_pg2api@
";

    #[test]
    fn out_and_passes_name_show_stat_rows() {
        let m = parse(CHECKED).unwrap();
        let row = |px: Option<&str>, sv: &str| Row {
            proxy: px.map(str::to_string),
            server: sv.to_string(),
        };
        assert_eq!(m.taken_out(), [row(Some("rw"), "pg2")]);
        assert_eq!(m.passes, [row(None, "pg1")]);
        // A check target alone, in no route, is fine; in a route it is not.
        let api_routed = CHECKED.replace("-> pg1", "-> pg1 pg1api");
        assert!(parse(&api_routed).unwrap_err().contains("check target"));
        let out_routed = CHECKED.replace("l4lb-out: rw/pg2", "l4lb-out: pg1");
        assert!(parse(&out_routed).unwrap_err().contains("take out"));
        // A row of another proxy (or no server line) is a typo.
        let typo = CHECKED.replace("rw/pg2", "ro/pg2");
        assert!(parse(&typo).unwrap_err().contains("no such server"));
        let no_sock = CHECKED.replace("    stats socket @DIR@/s.sock level admin\n", "");
        assert!(parse(&no_sock).unwrap_err().contains("stats socket"));
    }

    #[test]
    fn a_route_has_one_greeting() {
        let mixed = START.replace(
            "# l4lb-server: c down",
            "# l4lb-server: c down\n# l4lb-server: a smtp",
        );
        assert!(parse(&mixed).unwrap_err().contains("greetings"));
        let same = mixed.replace(
            "# l4lb-server: c down",
            "# l4lb-server: c down\n# l4lb-server: b smtp",
        );
        assert!(parse(&same).is_ok());
    }

    #[test]
    fn connection_logs_are_expected_with_a_format_on_stdout() {
        let tcplog = "global\n    log stdout format raw local0\ndefaults\n    option tcplog\n";
        assert!(logs_each_connection(tcplog));
        assert!(!logs_each_connection(
            &tcplog.replace("tcplog", "dontlognull")
        ));
        assert!(!logs_each_connection(&tcplog.replace("stdout", "/dev/log")));
        let fmt = tcplog.replace("option tcplog", "log-format \"%ci %ft\"");
        assert!(logs_each_connection(&fmt));
    }

    #[test]
    fn families_own_their_keywords() {
        assert_eq!(Family::of("option httpchk"), Some(Family::HealthChecks));
        assert_eq!(Family::of("tcp-response"), Some(Family::Routing));
        // Issue 13 brought these: a file that uses them must load.
        assert_eq!(Family::of("send-proxy-v2"), None);
        assert_eq!(Family::of("use_backend"), None);
        assert_eq!(Family::of("daemon"), None);
    }
}
