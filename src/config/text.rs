//! Stage one of configuration: conf file text -> raw sections with line numbers.
//!
//! This only splits HAProxy-style text into sections and words; it knows no
//! keyword but the section headers. `config` gives the words their meaning, so
//! the types here never leave the configuration layer.

use std::io::Read;

/// Words that open a section. HAProxy's other section kinds are recognised
/// too, so that their bodies are reported once as unsupported instead of as
/// a run of unknown keywords.
const SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "userlist",
    "peers",
    "resolvers",
    "mailers",
    "program",
    "http-errors",
    "cache",
    "ring",
    "log-forward",
    "fcgi-app",
    "crt-store",
    "traces",
    "acme",
];

/// What a section header opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Global,
    Defaults,
    Frontend,
    Backend,
    Listen,
    /// A HAProxy section l4lb does not support, e.g. `userlist`.
    Other(String),
}

/// One section: its header and the lines below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub kind: Kind,
    /// Line number (1-based) of the header.
    pub line: usize,
    /// Header words after the section keyword (`NAME`, `from`, `DEFNAME`).
    pub args: Vec<String>,
    pub lines: Vec<Line>,
}

/// One non-empty line, split into words; `words` is never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Line number (1-based).
    pub line: usize,
    pub words: Vec<String>,
}

/// A line that could not be split into words, or sits outside any section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// 0 when the input could not be read at all.
    pub line: usize,
    pub keyword: String,
    pub msg: String,
}

/// Splits conf text into sections. Every error is collected, so one run
/// reports every bad line.
pub fn parse<R: Read>(rdr: R) -> Result<Vec<Section>, Vec<Error>> {
    let (sections, errors) = parse_all(rdr);
    if errors.is_empty() {
        Ok(sections)
    } else {
        Err(errors)
    }
}

/// As [`parse`], but also returns the sections of the lines that could be
/// split, so that the keyword errors of those lines are found in the same
/// run as the errors here.
pub fn parse_all<R: Read>(mut rdr: R) -> (Vec<Section>, Vec<Error>) {
    let mut bytes = Vec::new();
    if let Err(e) = rdr.read_to_end(&mut bytes) {
        return (Vec::new(), vec![error(0, "", format!("cannot read: {e}"))]);
    }
    let mut sections: Vec<Section> = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let words = match line_words(raw) {
            Ok(words) if words.is_empty() => continue,
            Ok(words) => words,
            Err((keyword, msg)) => {
                errors.push(error(line, &keyword, msg));
                continue;
            }
        };
        if let Some(kind) = section_kind(&words[0]) {
            let args = words[1..].to_vec();
            sections.push(Section {
                kind,
                line,
                args,
                lines: Vec::new(),
            });
        } else if let Some(section) = sections.last_mut() {
            section.lines.push(Line { line, words });
        } else {
            let msg =
                "outside any section; start one with global, defaults, frontend, backend or listen";
            errors.push(error(line, &words[0], msg.to_string()));
        }
    }
    (sections, errors)
}

fn error(line: usize, keyword: &str, msg: String) -> Error {
    Error {
        line,
        keyword: keyword.to_string(),
        msg,
    }
}

fn section_kind(word: &str) -> Option<Kind> {
    let kind = match word {
        "global" => Kind::Global,
        "defaults" => Kind::Defaults,
        "frontend" => Kind::Frontend,
        "backend" => Kind::Backend,
        "listen" => Kind::Listen,
        other if SECTIONS.contains(&other) => Kind::Other(other.to_string()),
        _ => return None,
    };
    Some(kind)
}

/// Decodes one line and splits it; on error returns (keyword, message).
fn line_words(raw: &[u8]) -> Result<Vec<String>, (String, String)> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let text = std::str::from_utf8(raw).map_err(|_| {
        let start = String::from_utf8_lossy(raw);
        let first = start.split_whitespace().next().unwrap_or("").to_string();
        (first, "line is not valid UTF-8".to_string())
    })?;
    split_words(text).map_err(|msg| {
        let first = text.split_whitespace().next().unwrap_or("").to_string();
        (first, msg)
    })
}

/// Splits on whitespace as HAProxy does: `#` outside quotes starts a comment,
/// `"..."` and `'...'` group words, and a backslash escapes the next character
/// outside single quotes; `\r`, `\n`, `\t` and `\xNN` (ASCII) stand for those
/// bytes, as in HAProxy (`tcp-check send PING\r\n`).
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A quoted empty string is still a word, so emptiness alone can't tell.
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '#' => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '"' | '\'' => {
                quoted(&mut chars, c, &mut word)?;
                in_word = true;
            }
            '\\' => {
                word.push(escaped(&mut chars)?);
                in_word = true;
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// The character a backslash stands for, the backslash already read.
fn escaped(chars: &mut std::str::Chars<'_>) -> Result<char, String> {
    let c = chars.next().ok_or("line ends with a lone backslash")?;
    Ok(match c {
        'r' => '\r',
        'n' => '\n',
        't' => '\t',
        'x' => {
            let hex: String = chars.by_ref().take(2).collect();
            match u8::from_str_radix(&hex, 16) {
                Ok(b) if b.is_ascii() && hex.len() == 2 => b as char,
                _ => {
                    return Err(format!(
                        "\\x{hex}: expected two hex digits of an ASCII byte (00-7f); \
                         for other bytes use send-binary / expect binary"
                    ));
                }
            }
        }
        c => c,
    })
}

/// Appends the rest of a quoted string (opened by `quote`) to `word`.
fn quoted(chars: &mut std::str::Chars<'_>, quote: char, word: &mut String) -> Result<(), String> {
    while let Some(c) = chars.next() {
        match c {
            c if c == quote => return Ok(()),
            '\\' if quote == '"' => word.push(escaped(chars)?),
            c => word.push(c),
        }
    }
    Err(format!(
        "unterminated quote ({quote}): close it on the same line"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        split_words(line).unwrap()
    }

    #[test]
    fn words_split_on_whitespace_and_comments() {
        assert_eq!(
            words("  bind\t:80   name x # trailing"),
            ["bind", ":80", "name", "x"]
        );
        assert_eq!(words("# only a comment"), Vec::<String>::new());
        assert_eq!(
            words("server a 1.2.3.4:5#no space"),
            ["server", "a", "1.2.3.4:5"]
        );
    }

    #[test]
    fn quotes_group_words_and_hide_hashes() {
        assert_eq!(
            words(r#"description "a # b"  c"#),
            ["description", "a # b", "c"]
        );
        assert_eq!(
            words(r#"x "say \"hi\"" 'it\s'"#),
            ["x", r#"say "hi""#, r"it\s"]
        );
        assert_eq!(words(r#"x "" y"#), ["x", "", "y"]);
        assert_eq!(words(r#"x a"b c"d"#), ["x", "ab cd"]);
        assert_eq!(words(r"x a\ b \#c"), ["x", "a b", "#c"]);
    }

    #[test]
    fn unterminated_quote_is_an_error_with_its_line() {
        let errs = parse(&b"global\n  nbthread 2\n  description \"oops\n"[..]).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, 3);
        assert_eq!(errs[0].keyword, "description");
        assert!(
            errs[0].msg.contains("unterminated quote"),
            "{}",
            errs[0].msg
        );
    }

    #[test]
    fn trailing_backslash_is_an_error() {
        let errs = parse(&b"global\nnbthread 2\\"[..]).unwrap_err();
        assert_eq!((errs[0].line, errs[0].keyword.as_str()), (2, "nbthread"));
    }

    #[test]
    fn sections_keep_their_header_and_line_numbers() {
        let text = b"# head\n\nglobal\n  nbthread 2\r\n\nfrontend fe from d\n  bind :80\nuserlist u\n  user x\n";
        let secs = parse(&text[..]).unwrap();
        assert_eq!(secs.len(), 3);
        assert_eq!((secs[0].kind.clone(), secs[0].line), (Kind::Global, 3));
        assert_eq!(
            secs[0].lines,
            [Line {
                line: 4,
                words: vec!["nbthread".into(), "2".into()]
            }]
        );
        assert_eq!(secs[1].kind, Kind::Frontend);
        assert_eq!(secs[1].args, ["fe", "from", "d"]);
        assert_eq!(secs[1].lines[0].line, 7);
        assert_eq!(secs[2].kind, Kind::Other("userlist".into()));
        assert_eq!(secs[2].lines[0].line, 9);
    }

    #[test]
    fn keyword_before_any_section_is_an_error() {
        let errs = parse(&b"\n  maxconn 10\nglobal\n"[..]).unwrap_err();
        assert_eq!((errs[0].line, errs[0].keyword.as_str()), (2, "maxconn"));
        assert!(errs[0].msg.contains("outside any section"));
    }

    #[test]
    fn every_bad_line_is_reported() {
        let errs = parse(&b"a\nglobal\nx \"\ny '\n"[..]).unwrap_err();
        let lines: Vec<usize> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 3, 4]);
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let errs = parse(&b"global\nnbthread \xff\n"[..]).unwrap_err();
        assert_eq!((errs[0].line, errs[0].keyword.as_str()), (2, "nbthread"));
    }

    #[test]
    fn empty_input_has_no_sections() {
        assert_eq!(parse(&b""[..]).unwrap(), Vec::<Section>::new());
    }
}
