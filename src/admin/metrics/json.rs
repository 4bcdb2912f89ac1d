//! `GET /stats`: the rows of `show stat` as a JSON array of objects, keyed
//! by HAProxy's column names. The values are the CSV's, field for field
//! ([`stats::fields`]): numbers as JSON numbers, text as strings, and the
//! columns l4lb leaves empty are omitted.

use std::fmt::Write as _;

use crate::admin::stats::{self, COLUMNS, Rates};
use crate::shared::Shared;

pub(crate) const CONTENT_TYPE: &str = "application/json";

/// Columns that hold text even when it looks like a number (a server
/// named `1`).
const TEXT_COLUMNS: &[&str] = &[
    "pxname",
    "svname",
    "status",
    "check_status",
    "check_desc",
    "addr",
    "mode",
    "algo",
    "cookie",
    "agent_status",
    "agent_desc",
];

pub(crate) fn render(shared: &Shared, rates: &Rates) -> String {
    let rows = stats::rows(shared, rates);
    let mut out = String::from("[");
    for (i, values) in stats::fields(&rows, shared).iter().enumerate() {
        out.push_str(if i == 0 { "\n  {" } else { ",\n  {" });
        let mut first = true;
        for (col, v) in COLUMNS.iter().zip(values) {
            if v.is_empty() {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "\"{col}\":");
            if !TEXT_COLUMNS.contains(col) && is_integer(v) {
                out.push_str(v);
            } else {
                string(&mut out, v);
            }
        }
        out.push('}');
    }
    out.push_str("\n]\n");
    out
}

/// A JSON integer: an optional minus and digits, no leading zero.
fn is_integer(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
}

/// A JSON string literal.
fn string(out: &mut String, v: &str) {
    out.push('"');
    for ch in v.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn only_plain_integers_are_numbers() {
        assert!(is_integer("0") && is_integer("42") && is_integer("-1"));
        assert!(!is_integer("") && !is_integer("007") && !is_integer("1.5") && !is_integer("UP"));
    }
}
