//! The global section: thread, connection and buffer settings,
//! `hard-stop-after`, and what global refuses.

use super::*;

#[test]
fn global_keywords() {
    let text = "global\n nbthread 3\n maxconn 100\n maxpipes 7\n tune.bufsize 32768\n \
                    tune.pipesize 65536\n cpu-affinity off\n";
    let c = load(&format!("{text}{BASE}"));
    assert_eq!((c.threads, c.maxconn, c.maxpipes), (3, 100, 7));
    assert_eq!(
        (c.bufsize, c.pipesize, c.cpu_affinity),
        (32768, Some(65536), false)
    );
    assert_eq!(c.frontends[0].maxconn, 100);
}

#[test]
fn hard_stop_after_takes_a_haproxy_time() {
    assert_eq!(load(BASE).hard_stop_after, None);
    for (text, want) in [
        ("300ms", 300),
        ("300", 300),
        ("30s", 30_000),
        ("2m", 120_000),
        ("0", 0),
    ] {
        let c = load(&format!("global\n hard-stop-after {text}\n{BASE}"));
        assert_eq!(
            c.hard_stop_after,
            Some(Duration::from_millis(want)),
            "{text}"
        );
    }
    let c = load(&format!("global\n hard-stop-after 90s\n{BASE}"));
    assert!(
        c.summary()[0].ends_with(", hard-stop-after 90s"),
        "{}",
        c.summary()[0]
    );
}

#[test]
fn hard_stop_after_errors_name_line_and_keyword() {
    let cases = [
        ("hard-stop-after", "expects: hard-stop-after TIME"),
        ("hard-stop-after 10 s", "expects: hard-stop-after TIME"),
        ("hard-stop-after soon", "'soon' is not a time"),
        ("hard-stop-after 5x", "unknown time unit 'x'"),
        ("hard-stop-after 30d", "too long"),
    ];
    for (line, msg) in cases {
        assert_error(
            &format!("global\n nbthread 1\n {line}\n{BASE}"),
            3,
            "hard-stop-after",
            msg,
        );
    }
    assert_backend_errors(&[(
        "hard-stop-after 1s",
        9,
        "hard-stop-after",
        "accepted only in the global section",
    )]);
}

#[test]
fn maxpipes_defaults_to_a_quarter_of_maxconn_after_flags() {
    let args = Args {
        maxconn: Some(1000),
        ..Args::default()
    };
    let c = load_with(&format!("global\n maxconn 50\n{BASE}"), &args).unwrap();
    assert_eq!((c.maxconn, c.maxpipes), (1000, 250));
}

#[test]
fn global_errors_name_line_and_keyword() {
    let cases = [
        ("nbthread 0", "nbthread", "1..=4096"),
        ("nbthread two", "nbthread", "not a whole number"),
        ("maxconn", "maxconn", "expects: maxconn N"),
        ("tune.bufsize 16k", "tune.bufsize", "not a whole number"),
        ("tune.pipesize 100", "tune.pipesize", "4096"),
        ("cpu-affinity yes", "cpu-affinity", "neither on nor off"),
        ("cpu-map 1 0", "cpu-map", "not implemented yet"),
        ("tune.maxaccept 10", "tune.maxaccept", "not implemented yet"),
        ("tune.http.maxhdr 10", "tune.http.maxhdr", "HTTP-only"),
        ("bind :80", "bind", "accepted in frontend, listen"),
        (
            "frobnicate",
            "frobnicate",
            "unknown keyword; accepted in global: nbthread",
        ),
    ];
    for (line, kw, msg) in cases {
        assert_error(&format!("global\n  {line}\n{BASE}"), 2, kw, msg);
    }
}

#[test]
fn not_implemented_global_keywords_are_refused() {
    for kw in ["setenv A b", "grace 1s", "strict-limits", "ssl-engine x"] {
        let first = kw.split(' ').next().unwrap();
        assert_error(
            &format!("global\n {kw}\n{BASE}"),
            2,
            first,
            "not implemented yet in l4lb",
        );
    }
}
