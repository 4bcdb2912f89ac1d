//! The whole validate path: any bytes -> `Config::from_text` -> a `Config`
//! or a list of errors, never a panic. The rule it checks: every error names
//! the file, a line of it (0 only for whole-file errors) and a keyword; a
//! `Config` that comes back is consistent and can be summarised (`-c`).

#![no_main]

use l4lb::config::Config;
use libfuzzer_sys::fuzz_target;

const FILE: &str = "fuzz.conf";

fuzz_target!(|data: &[u8]| {
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    match Config::from_text(FILE, data) {
        Ok(config) => check_config(&config),
        Err(errors) => {
            assert!(!errors.is_empty(), "Err without an error");
            for e in &errors {
                assert_eq!(e.file, FILE, "{e:?}");
                assert!(e.line <= lines, "line past the end: {e:?}");
                assert!(!e.keyword.is_empty(), "error without a keyword: {e:?}");
                assert!(!e.msg.is_empty(), "error without a message: {e:?}");
                let _ = e.to_string();
            }
        }
    }
});

fn check_config(config: &Config) {
    assert!(!config.frontends.is_empty(), "valid without a frontend");
    assert!((1..=4096).contains(&config.threads));
    for f in &config.frontends {
        assert!(f.backend < config.backends.len(), "frontend {}", f.name);
        assert!(!f.binds.is_empty(), "frontend {} without bind", f.name);
        assert!(f.maxconn <= config.maxconn, "frontend {}", f.name);
    }
    for b in &config.backends {
        assert!(!b.servers.is_empty(), "backend {} without server", b.name);
        assert!(b.servers.iter().all(|s| s.weight <= 256));
    }
    let _ = config.summary();
}
