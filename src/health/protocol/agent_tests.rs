//! The agent's reply grammar, word by word, as HAProxy reads it.

use super::*;

fn parse(line: &str) -> AgentReply {
    parse_reply(line.as_bytes()).unwrap()
}

#[test]
fn states_weights_and_maxconn_in_any_order() {
    let r = parse("75%, drain\tup maxconn:30\n");
    assert_eq!(r.health, Some(AgentHealth::Up));
    assert_eq!(r.admin, Some(AgentAdmin::Drain));
    assert_eq!(r.weight, Some(AgentWeight::Percent(75)));
    assert_eq!(r.maxconn, Some(30));
    assert_eq!(r.summary(), "via agent : up");
    assert_eq!(r.error, None);
}

#[test]
fn words_are_case_insensitive_and_the_last_wins() {
    let r = parse("UP Down MAINT ready 10% weight:20\r\n");
    assert_eq!(r.health, Some(AgentHealth::Down(DownWord::Down)));
    assert_eq!(r.admin, Some(AgentAdmin::Ready));
    assert_eq!(r.weight, Some(AgentWeight::Absolute(20)));
}

#[test]
fn a_description_follows_a_sharp() {
    let r = parse("stopped #  planned maintenance, back at 6\n");
    assert_eq!(r.health, Some(AgentHealth::Down(DownWord::Stopped)));
    assert_eq!(r.description, "planned maintenance, back at 6");
    assert_eq!(
        r.summary(),
        "via agent : stopped (planned maintenance, back at 6)"
    );
    let r = parse("fail,#disk full\n");
    assert_eq!(r.summary(), "via agent : fail (disk full)");
}

#[test]
fn unknown_words_and_bad_values_are_reported_not_applied() {
    let r = parse("hello up weight:300 maxconn:x\n");
    assert_eq!(r.error.as_deref(), Some("hello"));
    assert_eq!(r.weight, None);
    assert_eq!(r.maxconn, None);
    let bad = "Absolute weight can only be between 0 and 256 inclusive.";
    assert_eq!(r.warning.as_deref(), Some(bad));
    // UP shows the error; a state-less reply reports it alone.
    assert_eq!(r.summary(), "via agent : up (hello)");
    assert_eq!(parse("bogus\n").summary(), "agent reports an error : bogus");
    let r = parse("50%x\n");
    assert_eq!(
        r.summary(),
        "agent warns : Trailing garbage in weight string"
    );
    // "up#x" is one word, not a state and a description.
    assert_eq!(parse("up#x\n").error.as_deref(), Some("up#x"));
}

#[test]
fn weight_and_maxconn_syntax() {
    assert_eq!(parse_weight("0%"), Ok(AgentWeight::Percent(0)));
    assert_eq!(parse_weight("99999%"), Ok(AgentWeight::Percent(25600)));
    assert_eq!(parse_weight("256"), Ok(AgentWeight::Absolute(256)));
    assert!(parse_weight("-1%").is_err());
    assert!(parse_weight("").is_err());
    assert!(parse_weight("abc").is_err());
    assert_eq!(parse_maxconn("0"), Ok(0));
    assert!(parse_maxconn("").is_err());
    assert!(parse_maxconn("10k").is_err());
    assert!(parse_maxconn("-3").is_err());
    assert!(parse_maxconn("99999999999999999999999").is_err());
}

#[test]
fn only_a_complete_line_counts() {
    assert!(!complete(b"up"));
    assert!(complete(b"up\r"));
    assert_eq!(
        parse_reply(b"up"),
        Err("Ignoring incomplete line from agent".into())
    );
    assert!(parse_reply(b"up\0\n").is_err());
    // What follows the line is not read.
    assert_eq!(parse("up\ndown\n").health, Some(AgentHealth::Up));
    // An empty line changes nothing.
    assert_eq!(parse("\n"), AgentReply::default());
    assert_eq!(parse("\n").summary(), "");
}

#[test]
fn the_request_is_agent_send_verbatim() {
    let agent = Agent {
        target: "127.0.0.1:9999".parse().unwrap(),
        inter: std::time::Duration::from_secs(2),
        send: b"hello backend\n".to_vec(),
    };
    assert_eq!(request(&agent), b"hello backend\n");
}

#[test]
fn survives_any_input() {
    let mut x: u32 = 0x9e37_79b9;
    for len in 0..400 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[1]
            })
            .collect();
        if let Ok(r) = parse_reply(&bytes) {
            let _ = r.summary();
        }
    }
    for line in ["maxconn:", "weight:", "%", "9%%", "#", ",,,\t\n", "é up\n"] {
        let _ = parse_reply(line.as_bytes());
    }
}
