//! `agent-check` (`agent-port`, `agent-inter`, `agent-send`) against a fake
//! agent: what each answer does to the server's state and weight (`up
//! 75%`, `drain`, `maint`, `down #reason`, `ready`...), as HAProxy 2.6 shows
//! it; an agent that fails to answer takes nothing down; and a drained
//! server gets no new clients.

mod common;

use common::fakes::*;
use common::{Backend, round_trip};

/// The server line's extra words for an agent on `agent` (weight 80, so
/// that percentages show).
fn agent_extra(agent: &Fake<String>) -> String {
    format!(
        "agent-check agent-port {} agent-inter 200ms agent-send hello\\n weight 80",
        agent.port
    )
}

/// One listen per agent (named `a0`, `a1`...), over the one data server.
fn start_agents(data: &Backend, agents: &[Fake<String>]) -> Checked {
    let sections: String = agents
        .iter()
        .enumerate()
        .map(|(i, a)| listen(&format!("a{i}"), "", &[("s", data.addr(), &agent_extra(a))]).1)
        .collect();
    Checked::start(&sections)
}

/// Waits until listen `a{i}`'s server has `status` and `weight`.
fn wait_state(c: &Checked, i: usize, status: &str, weight: &str) -> Row {
    let what = format!("{status} at weight {weight}");
    c.wait(&format!("a{i}"), "s", &what, |r| {
        r.status == status && r.weight == weight
    })
}

#[test]
fn each_agent_answer_sets_state_and_weight_as_haproxy() {
    agent_answers();
}

/// Each answer's state, weight and agent status, as HAProxy 2.6 shows them.
fn agent_answers() {
    let data = Backend::echo();
    // (answer, status, weight, agent_status) as HAProxy 2.6 shows them.
    let table = [
        ("up 75%", "UP", "60", "L7OK"),
        ("50%", "UP", "40", "CHECKED"),
        ("up 0%", "UP", "0", "L7OK"),
        ("drain", "DRAIN (agent)", "80", "CHECKED"),
        ("drain 20%", "DRAIN (agent)", "16", "CHECKED"),
        ("maint", "MAINT", "80", "CHECKED"),
        ("ready", "UP", "80", "CHECKED"),
        ("up", "UP", "80", "L7OK"),
        ("down #maintenance", "DOWN (agent)", "80", "L7STS"),
        ("down", "DOWN (agent)", "80", "L7STS"),
        ("stopped", "DOWN (agent)", "80", "L7STS"),
        ("fail #bad", "DOWN (agent)", "80", "L7STS"),
    ];
    let agents: Vec<Fake<String>> = table.iter().map(|t| Fake::agent(t.0)).collect();
    let c = start_agents(&data, &agents);
    // Every answer is waited for and every mismatch reported.
    let wrong: Vec<String> = table
        .iter()
        .enumerate()
        .filter_map(|(i, &(answer, status, weight, agent_status))| {
            let reason = answer.split('#').nth(1).unwrap_or_default();
            let ok = |r: &Row| {
                r.status == status
                    && r.weight == weight
                    && r.agent_status == agent_status
                    && r.agent_desc.contains(reason)
            };
            let (last, held) = c.try_wait(&format!("a{i}"), "s", ok);
            if held {
                return None;
            }
            Some(format!(
                "{answer:?}: want {status} {weight} {agent_status} {reason:?}; got {} {} {} {:?}",
                last.status, last.weight, last.agent_status, last.agent_desc
            ))
        })
        .collect();
    assert!(wrong.is_empty(), "not as HAProxy:\n{}", wrong.join("\n"));
    assert_eq!(
        agents[0].last_request().unwrap(),
        b"hello\n",
        "agent-send, once connected"
    );
}

#[test]
fn drain_and_maint_last_until_ready_and_weights_until_the_next_percentage() {
    let data = Backend::echo();
    let agents = [
        Fake::agent("drain"),
        Fake::agent("maint"),
        Fake::agent("down"),
        Fake::agent("50%"),
    ];
    let c = start_agents(&data, &agents);
    wait_state(&c, 0, "DRAIN (agent)", "80");
    wait_state(&c, 1, "MAINT", "80");
    wait_state(&c, 2, "DOWN (agent)", "80");
    wait_state(&c, 3, "UP", "40");
    for (a, next) in agents.iter().zip(["up", "up", "up", "up"]) {
        a.set(next.to_string());
    }
    // `up` brings a DOWN server back, but neither undoes drain or maint,
    // nor resets the weight.
    wait_state(&c, 2, "UP", "80");
    let row = c.wait("a0", "s", "agent L7OK", |r| r.agent_status == "L7OK");
    assert!(
        ("DRAIN (agent)" == &row.status) && row.weight == "80",
        "{row:?}"
    );
    let row = c.wait("a1", "s", "agent L7OK", |r| r.agent_status == "L7OK");
    assert_eq!(row.status, "MAINT");
    let row = c.wait("a3", "s", "agent L7OK", |r| r.agent_status == "L7OK");
    assert_eq!((row.status.as_str(), row.weight.as_str()), ("UP", "40"));
    for (a, next) in agents.iter().zip(["ready", "ready", "up", "100%"]) {
        a.set(next.to_string());
    }
    wait_state(&c, 0, "UP", "80");
    wait_state(&c, 1, "UP", "80");
    wait_state(&c, 3, "UP", "80");
}

#[test]
fn an_agent_that_fails_to_answer_takes_nothing_down() {
    agent_failures();
}

/// Agents that answer wrong, late, not at all, or garbage.
fn agent_failures() {
    let data = Backend::echo();
    let modes = [
        Mode::Right,
        Mode::Wrong,
        SLOW,
        Mode::Close,
        Mode::CloseMid,
        Mode::Garbage,
    ];
    let agents: Vec<Fake<String>> = modes
        .iter()
        .map(|m| {
            let a = Fake::agent("up");
            a.set_mode(m.clone());
            a
        })
        .collect();
    let c = start_agents(&data, &agents);
    // (status, agent_status): a wrong answer is an answer ("down #wrong").
    // A close races agent-send: a reset (SOCKERR) or an empty answer.
    let expect: [(&str, &[&str]); 6] = [
        ("UP", &["L7OK"]),
        ("DOWN (agent)", &["L7STS"]),
        ("UP", &["L7TOUT"]),
        ("UP", &["L7RSP", "SOCKERR"]),
        // "Ignoring incomplete line from agent": a timeout, or a reset.
        ("UP", &["L7TOUT", "SOCKERR", "L7RSP"]),
        // HAProxy reads the line as a C string: a NUL first is no line yet.
        ("UP", &["L7TOUT"]),
    ];
    for (i, (status, agent)) in expect.iter().enumerate() {
        let what = format!("{status}, agent {agent:?}");
        c.wait(&format!("a{i}"), "s", &what, |r| {
            r.status == *status
                && agent.iter().any(|a| *a == r.agent_status)
                && r.check_status == "L4OK"
        });
    }
}

#[test]
fn a_drained_server_gets_no_new_clients() {
    let (one, two) = (Backend::named("one"), Backend::named("two"));
    let (a1, a2) = (Fake::agent("up"), Fake::agent("drain"));
    let (port, s) = listen(
        "l",
        "balance roundrobin",
        &[
            ("one", one.addr(), &agent_extra(&a1)),
            ("two", two.addr(), &agent_extra(&a2)),
        ],
    );
    let c = Checked::start(&s);
    c.wait("l", "two", "drained", |r| r.status == "DRAIN (agent)");
    c.wait("l", "one", "up", |r| {
        r.status == "UP" && r.agent_status == "L7OK"
    });
    for _ in 0..6 {
        assert_eq!(round_trip(port), "one");
    }
    a2.set("ready".into());
    c.wait("l", "two", "ready", |r| r.status == "UP");
    let names: Vec<String> = (0..6).map(|_| round_trip(port)).collect();
    assert!(
        names.iter().any(|n| n == "two"),
        "back in the rotation: {names:?}"
    );
}

#[test]
fn agent_inter_paces_the_agent_apart_from_the_check() {
    let data = Backend::echo();
    let agent = Fake::agent("up 50%");
    let s = format!(
        "listen l\n    bind 127.0.0.1:{}\n    server s {} check inter 3s agent-check agent-addr 127.0.0.1 \
         agent-port {} agent-inter 100ms weight 80\n",
        common::free_port(),
        data.addr(),
        agent.port
    );
    let c = Checked::start(&s);
    c.wait("l", "s", "at half weight", |r| r.weight == "40");
    let counts = std::sync::Arc::clone(&data.counts);
    let checks = || counts.total.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        common::wait_until(std::time::Duration::from_secs(5), || agent.accepted() >= 6),
        "the agent is asked every agent-inter"
    );
    assert!(
        checks() <= 2,
        "while the check waits its inter: {} checks",
        checks()
    );
    assert!(
        agent.last_request().is_none(),
        "no agent-send: nothing sent"
    );
}
