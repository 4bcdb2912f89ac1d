//! A runtime `add server` line (the API splits it on whitespace): any text
//! -> `config::server_line` -> a `ServerConf` or a message, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut words = vec!["server".to_string()];
    words.extend(text.split_whitespace().map(str::to_string));
    match l4lb::config::server_line(&words) {
        Ok(s) => {
            assert!(s.weight <= 256, "weight {}", s.weight);
            if let Some(c) = &s.check {
                assert!(!c.inter.is_zero() && c.rise >= 1 && c.fall >= 1, "{c:?}");
            }
        }
        Err(msg) => assert!(!msg.is_empty()),
    }
});
