//! The log line keywords of proxy sections: `log-format`, `log-format-sd`
//! and `option tcplog clf`, compiled here so a bad format is reported at
//! its line. (`option tcplog`, `logasap`, `dontlog-normal` and
//! `log-separate-errors` are in `proxy`'s option table.)

use super::super::log_format::{LineFormat, TCP_CLF_LOG_FORMAT};
use super::super::raw::Settings;
use super::{Bad, Ctx, bad, bad_kw};

/// The one argument of a format keyword: HAProxy's own error for the
/// classic mistake of unquoted, unescaped spaces.
fn format_arg<'a>(c: &Ctx<'a>) -> Result<&'a str, Bad> {
    match c.args {
        [one] if !one.is_empty() => Ok(one),
        [] | [_] => Err(bad(format!("expects: {}", c.usage))),
        _ => Err(bad(
            "expects one argument: put the format between double quotes (or escape its spaces)",
        )),
    }
}

/// `log-format STRING`: replaces `option tcplog`'s line (the last of the
/// two in a section wins, as in HAProxy) and turns logging on.
pub(super) fn log_format(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let format = LineFormat::compile(format_arg(c)?).map_err(bad)?;
    s.log_format = Some(format);
    s.tcplog = Some(true);
    Ok(())
}

/// `unique-id-format STRING`: how each connection's unique ID is made.
pub(super) fn unique_id_format(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let format = LineFormat::compile(format_arg(c)?).map_err(bad)?;
    if format.uses(|v| v == super::super::log_format::Var::UniqueId) {
        return Err(bad("the format cannot contain %ID, the ID it makes"));
    }
    s.unique_id_format = Some(format);
    Ok(())
}

/// `log-format-sd STRING`: the structured data of RFC 5424 lines.
pub(super) fn log_format_sd(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let format = LineFormat::compile(format_arg(c)?).map_err(bad)?;
    s.log_format_sd = Some(format);
    Ok(())
}

/// `option tcplog clf`: HAProxy's TCP log in the common log format.
pub(super) fn option_tcplog_arg(s: &mut Settings, arg: &str) -> Result<(), Bad> {
    if arg != "clf" {
        let msg = format!("unexpected argument '{arg}': option tcplog takes only clf");
        return Err(bad_kw("option tcplog", msg));
    }
    s.log_format = Some(LineFormat::compile(TCP_CLF_LOG_FORMAT).expect("HAProxy's CLF compiles"));
    s.tcplog = Some(true);
    Ok(())
}
