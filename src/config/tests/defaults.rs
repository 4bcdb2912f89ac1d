//! Defaults sections: what a proxy inherits, named defaults and `from`.

use super::*;

#[test]
fn proxies_inherit_the_last_defaults_section() {
    let text = "defaults\n timeout connect 1s\n balance leastconn\n retries 7\n\
                    backend a\n server x 127.0.0.1:1\n\
                    defaults\n timeout client 2s\n\
                    backend b\n server x 127.0.0.1:1\n";
    assert_error(text, 0, "frontend", "no frontend or listen section");
    let text = format!("{text}listen l\n bind :1\n server x 127.0.0.1:1\n");
    let c = load(&text);
    let (a, b) = (&c.backends[0], &c.backends[1]);
    assert_eq!(
        (a.timeout_connect, a.balance, a.retries),
        (Duration::from_secs(1), Balance::LeastConn, 7)
    );
    // A new defaults section starts from scratch, as in HAProxy.
    assert_eq!(
        (b.timeout_connect, b.balance, b.retries),
        (Duration::from_secs(5), Balance::RoundRobin, 3)
    );
    assert_eq!(c.frontends[0].timeout_client, Some(Duration::from_secs(2)));
}

#[test]
fn named_defaults_and_from() {
    let text = "defaults slow\n timeout connect 9s\n timeout client 1m\n\
                    defaults fast from slow\n timeout connect 1s\n\
                    defaults\n\
                    backend a from slow\n server x 127.0.0.1:1\n\
                    backend b from fast\n server x 127.0.0.1:1\n\
                    backend c\n server x 127.0.0.1:1\n\
                    frontend fe from fast\n bind :1\n default_backend a\n";
    let c = load(text);
    let connect: Vec<u64> = c
        .backends
        .iter()
        .map(|b| b.timeout_connect.as_secs())
        .collect();
    assert_eq!(connect, [9, 1, 5]);
    assert_eq!(c.frontends[0].timeout_client, Some(Duration::from_secs(60)));
    assert_error(
        &format!("{BASE}backend d from nope\n server x 127.0.0.1:1\n"),
        9,
        "backend",
        "no defaults section named 'nope' before this line; named defaults: none",
    );
}

#[test]
fn defaults_may_hold_default_backend() {
    let text = "defaults\n default_backend be\n timeout client 1s\n timeout server 1s\n\
                    frontend fe\n bind :1\nbackend be\n server x 127.0.0.1:1\n";
    assert_eq!(load(text).frontends[0].backend, Some(0));
    assert_error(
        &format!("defaults\n bind :1\n{BASE}"),
        2,
        "bind",
        "not accepted in a defaults section",
    );
}
