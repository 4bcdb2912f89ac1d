//! `show stat` CSV in, aligned text tables out.

use std::collections::HashMap;
use std::fmt::Write as _;

/// The columns of `l4lb ctl show stat`, in order.
const SHOW_STAT: &[&str] = &[
    "pxname",
    "svname",
    "status",
    "weight",
    "scur",
    "smax",
    "slim",
    "stot",
    "bin",
    "bout",
    "econ",
    "wretr",
    "wredis",
    "rate",
    "check_status",
    "check_duration",
    "lastchg",
];

/// One `show stat` line: column name -> value ("" when empty).
pub(super) type Record = HashMap<String, String>;

/// Parses `show stat` CSV: a `# ` header of names, then one line per row.
pub(super) fn parse_csv(csv: &str) -> Vec<Record> {
    let mut lines = csv.lines();
    let Some(header) = lines.next().and_then(|h| h.strip_prefix("# ")) else {
        return Vec::new();
    };
    let names = split_csv(header);
    lines
        .filter(|l| !l.is_empty())
        .map(|l| names.iter().cloned().zip(split_csv(l)).collect())
        .collect()
}

/// Fields of one CSV line; `"..."` quotes a field, `""` is a quote in it.
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    // Every line ends in a comma, so a non-empty rest is a last field.
    if !field.is_empty() {
        fields.push(field);
    }
    fields
}

/// `l4lb ctl show stat`: the CSV as an aligned table.
pub(super) fn show_stat(csv: &str) -> String {
    let records = parse_csv(csv);
    let rows = records
        .iter()
        .map(|r| {
            SHOW_STAT
                .iter()
                .map(|&c| {
                    let v = r.get(c).map(String::as_str).unwrap_or_default();
                    match c {
                        "lastchg" => v.parse().map(duration).unwrap_or_default(),
                        "check_duration" if !v.is_empty() => format!("{v}ms"),
                        _ => v.to_string(),
                    }
                })
                .collect()
        })
        .collect();
    render(SHOW_STAT, rows)
}

/// Columns padded to their widest cell; numbers (and `-`) to the right.
/// An empty cell is shown as `-`.
pub(super) fn render(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| if c.is_empty() { "-".into() } else { c })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    // A column is numeric when every cell starts with a digit (or is `-`).
    let numeric: Vec<bool> = (0..headers.len())
        .map(|i| {
            rows.iter().all(|r| {
                r.get(i)
                    .is_none_or(|c| c == "-" || c.starts_with(|ch: char| ch.is_ascii_digit()))
            })
        })
        .collect();
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let w = widths[i];
            if i > 0 {
                line.push_str("  ");
            }
            if numeric[i] {
                let _ = write!(line, "{cell:>w$}");
            } else {
                let _ = write!(line, "{cell:<w$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Seconds as `42s`, `3m05s`, `2h07m`, `4d03h`.
pub(super) fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, s / 60 % 60),
        s => format!("{}d{:02}h", s / 86_400, s / 3600 % 24),
    }
}

/// A byte count per second in binary units: `512B/s`, `1.5KiB/s`.
pub(super) fn bytes_per_sec(v: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = v.max(0.0);
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0}B/s")
    } else {
        format!("{v:.1}{}/s", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_is_split() {
        assert_eq!(
            split_csv(r#"a,"b,c","d""e",,"#),
            vec!["a", "b,c", "d\"e", ""]
        );
        let recs = parse_csv("# pxname,svname,scur,\nbe,s1,3,\n");
        assert_eq!(recs[0]["svname"], "s1");
        assert_eq!(recs[0]["scur"], "3");
    }

    #[test]
    fn tables_align_text_left_and_numbers_right() {
        let t = render(
            &["name", "n"],
            vec![vec!["a".into(), "10".into()], vec!["bbb".into(), "".into()]],
        );
        assert_eq!(t, "name   n\na     10\nbbb    -\n");
    }

    #[test]
    fn human_units() {
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(185), "3m05s");
        assert_eq!(duration(7620), "2h07m");
        assert_eq!(duration(2 * 86_400 + 3 * 3600), "2d03h");
        assert_eq!(bytes_per_sec(512.0), "512B/s");
        assert_eq!(bytes_per_sec(1536.0), "1.5KiB/s");
    }
}
