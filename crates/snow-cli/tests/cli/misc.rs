//! `snow query check`, `snow completions`, `snow dev serve`, `snow demo`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::common::snow_bare;

#[test]
fn query_check_shows_structure_or_points_at_the_fault() {
    let home = tempfile::tempdir().unwrap();
    let out = snow_bare(home.path())
        .args(&[
            "query",
            "check",
            "active=true^priority<=2^ORurgency=1^NQstate=6^ORDERBYDESCnumber",
        ])
        .run()
        .ok();
    assert!(
        out.contains("  active = true\n  AND (priority <= 2 OR urgency = 1)\nOR\n  state = 6\n"),
        "{out}"
    );
    assert!(out.contains("ORDER BY number descending"), "{out}");

    let run = snow_bare(home.path())
        .args(&["query", "check", "active=true^priority~~2^state=1"])
        .run();
    let err = run.stderr.clone();
    assert_eq!(run.code, 2, "{run:#?}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[0].trim(), "active=true^priority~~2^state=1", "{err}");
    let caret = lines[1].find('^').unwrap();
    assert_eq!(&lines[0][caret..caret + 8], "priority", "{err}");
    assert!(
        lines[2].starts_with("snow: error: the query cannot be read"),
        "{err}"
    );

    let json = snow_bare(home.path())
        .args(&["query", "check", "a=1^ORb=2", "-F", "json"])
        .run()
        .ok();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["groups"][0][0][1]["field"], "b");
}

#[test]
fn completions_for_each_shell() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = snow_bare(home.path())
            .args(&["completions", shell])
            .run()
            .ok();
        assert!(
            out.contains("snow") && out.contains("export"),
            "{shell}: {out:.300}"
        );
    }
    snow_bare(home.path())
        .args(&["completions", "tcsh"])
        .run()
        .fails(2);
}

#[test]
fn dev_serve_serves_until_stopped() {
    let home = tempfile::tempdir().unwrap();
    let mut server = snow_bare(home.path())
        .args(&["dev", "serve", "--records", "25"])
        .cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let run = snow_bare(home.path())
        .args(&[
            "--url", &url, "-u", "admin", "table", "list", "incident", "--all", "-F", "jsonl",
        ])
        .env("SNOW_PASSWORD", "admin")
        .run();
    assert_eq!(run.lines().len(), 25, "{run:#?}");
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&server),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    assert!(server.wait().unwrap().success());
}

#[test]
fn the_demo_walks_through_everything() {
    let home = tempfile::tempdir().unwrap();
    let run = snow_bare(home.path())
        .args(&["demo", "--records", "1500", "--parallel", "3"])
        .run();
    assert_eq!(run.code, 0, "{run:#?}");
    let out = &run.stdout;
    for needle in [
        "[1/6]",
        "$ snow --url http://127.0.0.1:",
        "number",
        "token updater fired (1)",
        "token updater fired (2)",
        "refresh_token 1",
        "urgency is now 1",
        "hashes match",
        "1,500 records",
        "Summary",
    ] {
        assert!(out.contains(needle), "{needle:?} missing:\n{out}");
    }
    // The demo's files are cleaned up; no progress bar when standard error is not a terminal.
    assert!(!run.stderr.contains("ETA"), "{}", run.stderr);
}
