//! Stage one alone: any bytes -> `conf::parse` -> sections or errors, never
//! a panic. Also checks what the parser promises: line numbers inside the
//! input and in order, no empty line kept, every error on a line; and that
//! words written back quoted parse to the same words.

#![no_main]

use l4lb::config::text::{self as conf, Kind, Section};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    match conf::parse(data) {
        Ok(sections) => {
            check_order(&sections, lines);
            let again = conf::parse(write_back(&sections).as_bytes())
                .expect("sections written back must parse");
            assert_eq!(words(&sections), words(&again), "quoting round trip");
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "Err without an error");
            for e in &errors {
                assert!((1..=lines).contains(&e.line), "error line {e:?}");
                assert!(!e.msg.is_empty(), "error without a message {e:?}");
            }
            assert!(errors.windows(2).all(|w| w[0].line < w[1].line));
        }
    }
});

/// Headers and their lines in strictly increasing line order, within the input.
fn check_order(sections: &[Section], lines: usize) {
    let mut last = 0;
    for s in sections {
        assert!(s.line > last && s.line <= lines, "header line {}", s.line);
        last = s.line;
        for l in &s.lines {
            assert!(l.line > last && l.line <= lines, "line {}", l.line);
            assert!(!l.words.is_empty(), "empty line kept at {}", l.line);
            last = l.line;
        }
    }
}

/// Every header and line as words, the section keyword first.
fn words(sections: &[Section]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for s in sections {
        out.push([vec![keyword(&s.kind)], s.args.clone()].concat());
        out.extend(s.lines.iter().map(|l| l.words.clone()));
    }
    out
}

fn keyword(kind: &Kind) -> String {
    match kind {
        Kind::Global => "global",
        Kind::Defaults => "defaults",
        Kind::Frontend => "frontend",
        Kind::Backend => "backend",
        Kind::Listen => "listen",
        Kind::Other(k) => k,
    }
    .to_string()
}

/// The sections as conf text again, one line each, every word double-quoted.
fn write_back(sections: &[Section]) -> String {
    let mut text = String::new();
    for line in words(sections) {
        let quoted: Vec<String> = line.iter().map(|w| quote(w)).collect();
        text += &quoted.join(" ");
        text.push('\n');
    }
    text
}

fn quote(word: &str) -> String {
    let mut q = String::from("\"");
    for c in word.chars() {
        match c {
            '"' => q += "\\\"",
            '\\' => q += "\\\\",
            '\n' => q += "\\n",
            '\r' => q += "\\r",
            c => q.push(c),
        }
    }
    q + "\""
}
