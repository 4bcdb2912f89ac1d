//! `agent-check`: what the agent sends and what its one-line reply means
//! (HAProxy's `tcpcheck_agent_expect_reply` and the manual's agent-check
//! section). The prober sends [`request`], reads until [`complete`] or the
//! agent closes, and applies [`parse_reply`]'s answer.

use crate::config::Agent;

/// The bytes sent once connected: `agent-send` as written (nothing by
/// default; the agent then answers on connect).
pub(crate) fn request(agent: &Agent) -> Vec<u8> {
    agent.send.clone()
}

/// The reply is complete: its line ended with a CR or LF. The prober reads
/// until then, the agent closes, or the check buffer is full.
pub(crate) fn complete(buf: &[u8]) -> bool {
    buf.iter().any(|&b| matches!(b, b'\r' | b'\n'))
}

/// The operational state an agent reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AgentHealth {
    /// `up`: UP again, if the regular check agrees (HAProxy sets the
    /// health to rise + fall - 1).
    Up,
    /// `down`, `fail` or `stopped`: DOWN at once (health 0). The three
    /// differ only in the word reported.
    Down(DownWord),
}

/// Which word took the server down, for the status text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DownWord {
    Down,
    Fail,
    Stopped,
}

/// The administrative state an agent asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AgentAdmin {
    /// `ready`: leave DRAIN or MAINT.
    Ready,
    /// `drain`: no new connections (but persistent ones).
    Drain,
    /// `maint`: no connections, checks stopped.
    Maint,
}

/// A weight the agent asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AgentWeight {
    /// `75%` or `weight:75%`: of the server's configured weight (the
    /// prober caps the result at 256, as HAProxy). Capped here at 25600.
    Percent(u32),
    /// `weight:N`: 0 to 256.
    Absolute(u32),
}

/// What one agent reply asks for. Anything left out is not changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AgentReply {
    /// `up`, `down`, `fail`, `stopped` (the last one given wins).
    pub(crate) health: Option<AgentHealth>,
    /// `ready`, `drain`, `maint` (the last one given wins).
    pub(crate) admin: Option<AgentAdmin>,
    /// A weight word (the last one given wins), if it was valid.
    pub(crate) weight: Option<AgentWeight>,
    /// `maxconn:N`, if it was valid.
    pub(crate) maxconn: Option<u32>,
    /// The text after `#`, which HAProxy shows with a state change.
    pub(crate) description: String,
    /// The first word not understood.
    pub(crate) error: Option<String>,
    /// Why the first bad weight or maxconn was refused.
    pub(crate) warning: Option<String>,
}

/// Reads the agent's line: words separated by spaces, tabs or commas, in
/// any order, up to the first CR or LF, then an optional `# description`.
/// Words are case-insensitive. An incomplete line (the agent closed
/// before ending it) is refused, as HAProxy ignores it.
pub(crate) fn parse_reply(line: &[u8]) -> Result<AgentReply, String> {
    let end = line
        .iter()
        .position(|&b| matches!(b, b'\r' | b'\n' | 0))
        .filter(|&i| line[i] != 0)
        .ok_or_else(|| "Ignoring incomplete line from agent".to_string())?;
    let line = String::from_utf8_lossy(&line[..end]);
    let mut reply = AgentReply::default();
    let mut words = Words::default();
    let mut rest: &str = &line;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if let Some(description) = rest.strip_prefix('#') {
            reply.description = description.trim_start_matches([' ', '\t']).to_string();
            break;
        }
        if rest.is_empty() {
            break;
        }
        let len = rest.find([' ', '\t', ',']).unwrap_or(rest.len());
        reply.word(&rest[..len], &mut words);
        rest = &rest[len..];
    }
    // As HAProxy: only the last weight and maxconn words are read, the
    // weight first.
    if let Some(w) = words.weight {
        match parse_weight(w) {
            Ok(w) => reply.weight = Some(w),
            Err(why) => reply.warn(why),
        }
    }
    if let Some(m) = words.maxconn {
        match parse_maxconn(m) {
            Ok(n) => reply.maxconn = Some(n),
            Err(why) => reply.warn(why),
        }
    }
    Ok(reply)
}

/// The last weight and maxconn values seen, read once the line is.
#[derive(Default)]
struct Words<'a> {
    weight: Option<&'a str>,
    maxconn: Option<&'a str>,
}

impl AgentReply {
    fn word<'a>(&mut self, word: &'a str, words: &mut Words<'a>) {
        let lower = word.to_ascii_lowercase();
        match lower.as_str() {
            "up" => self.health = Some(AgentHealth::Up),
            "down" => self.health = Some(AgentHealth::Down(DownWord::Down)),
            "fail" => self.health = Some(AgentHealth::Down(DownWord::Fail)),
            "stopped" => self.health = Some(AgentHealth::Down(DownWord::Stopped)),
            "ready" => self.admin = Some(AgentAdmin::Ready),
            "drain" => self.admin = Some(AgentAdmin::Drain),
            "maint" => self.admin = Some(AgentAdmin::Maint),
            w if w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('%') => {
                words.weight = Some(word);
            }
            w if w.starts_with("maxconn:") => words.maxconn = Some(&word["maxconn:".len()..]),
            w if w.starts_with("weight:") => words.weight = Some(&word["weight:".len()..]),
            _ => {
                self.error.get_or_insert_with(|| word.to_string());
            }
        }
    }

    fn warn(&mut self, why: &str) {
        self.warning.get_or_insert_with(|| why.to_string());
    }

    /// HAProxy's status text for this reply: `via agent : down (why)`
    /// with a state, else the error or warning, else nothing.
    pub(crate) fn summary(&self) -> String {
        if let Some(health) = self.health {
            let word = match health {
                AgentHealth::Up => "up",
                AgentHealth::Down(DownWord::Down) => "down",
                AgentHealth::Down(DownWord::Fail) => "fail",
                AgentHealth::Down(DownWord::Stopped) => "stopped",
            };
            // A DOWN report keeps the agent's own words; an UP one, or one
            // without words, shows what went wrong instead, if anything.
            let mut why = self.description.as_str();
            if (why.is_empty() || health == AgentHealth::Up)
                && let Some(other) = self.error.as_deref().or(self.warning.as_deref())
            {
                why = other;
            }
            return match why {
                "" => format!("via agent : {word}"),
                why => format!("via agent : {word} ({why})"),
            };
        }
        match (&self.error, &self.warning) {
            (Some(e), _) => format!("agent reports an error : {e}"),
            (None, Some(w)) => format!("agent warns : {w}"),
            (None, None) => String::new(),
        }
    }
}

/// A leading integer as C's `strtol` reads it, and what follows it.
fn leading_int(s: &str) -> Option<(i64, &str)> {
    let t = s.trim_start();
    let sign_len = usize::from(t.starts_with(['-', '+']));
    let digits = t[sign_len..].bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (num, rest) = t.split_at(sign_len + digits);
    let n = num.parse::<i64>().unwrap_or(if num.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    });
    Some((n, rest))
}

/// HAProxy's `server_parse_weight_change_request`, its syntax part.
fn parse_weight(s: &str) -> Result<AgentWeight, &'static str> {
    if s.is_empty() {
        return Err("Require <weight> or <weight%>.");
    }
    let (w, rest) = leading_int(s).ok_or("Empty weight string empty or preceded by garbage")?;
    if rest == "%" {
        if w < 0 {
            return Err("Relative weight must be positive.");
        }
        return Ok(AgentWeight::Percent(w.min(25600) as u32));
    }
    if !(0..=256).contains(&w) {
        return Err("Absolute weight can only be between 0 and 256 inclusive.");
    }
    if !rest.is_empty() {
        return Err("Trailing garbage in weight string");
    }
    Ok(AgentWeight::Absolute(w as u32))
}

/// HAProxy's `server_parse_maxconn_change_request`, its syntax part.
fn parse_maxconn(s: &str) -> Result<u32, &'static str> {
    if s.is_empty() {
        return Err("Require <maxconn>.");
    }
    let (v, rest) = leading_int(s).ok_or("maxconn string empty or preceded by garbage")?;
    if !rest.is_empty() {
        return Err("Trailing garbage in maxconn string");
    }
    u32::try_from(v).map_err(|_| "maxconn out of range")
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
