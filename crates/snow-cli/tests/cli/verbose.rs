//! `--verbose`: a line per request and per answer with the instance's transaction id, never a
//! secret; the summary of requests, retries and rate-limit waits at the end of long commands.

use snow_devinstance::{DevConfig, DevUser, RateLimitRule, Role};
use snow_test_support::assert_no_secret;

use crate::common::Dev;

const PASSWORD: &str = "correct-Horse-battery-staple-9";

/// An instance whose admin has a long password (one worth searching for).
fn dev(records: usize) -> Dev {
    Dev::with(DevConfig {
        records,
        users: vec![DevUser::new("admin", PASSWORD, Role::Admin)],
        ..DevConfig::default()
    })
}

/// The seconds in `waited N.N s` of a summary line.
fn waited(line: &str) -> f64 {
    let rest = line.split("waited ").nth(1).expect("waited");
    rest.split(' ').next().unwrap().parse().expect("seconds")
}

#[test]
fn each_request_and_answer_on_a_line_with_its_transaction_id() {
    let dev = dev(100);
    let run = dev
        .snow(&[
            "-v",
            "table",
            "list",
            "incident",
            "--limit",
            "25",
            "--page-size",
            "10",
        ])
        .env("SNOW_PASSWORD", PASSWORD)
        .run();
    assert_eq!(run.code, 0, "{run:#?}");
    // Standard output is the data alone.
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON alone");
    assert_eq!(v.as_array().unwrap().len(), 25);
    let sent: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("snow: > GET"))
        .collect();
    let answered: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("snow: < 200 OK GET /api/now/table/incident"))
        .collect();
    assert_eq!((sent.len(), answered.len()), (3, 3), "{}", run.stderr);
    let mut txns = std::collections::HashSet::new();
    for line in &answered {
        let txn = line
            .split("txn ")
            .nth(1)
            .and_then(|t| t.strip_suffix(')'))
            .unwrap_or_else(|| panic!("no transaction id: {line}"));
        assert_eq!(txn.len(), 12, "{line}");
        assert!(txn.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
        assert!(txns.insert(txn.to_owned()), "repeated: {line}");
    }
    let summary = run.stderr.lines().last().unwrap();
    assert_eq!(summary, "snow: 3 requests, 0 retries, waited 0.0 s");
    let basic = "YWRtaW46Y29ycmVjdC1Ib3JzZS1iYXR0ZXJ5LXN0YXBsZS05"; // admin:PASSWORD
    assert_no_secret(
        &format!("{}{}", run.stderr, run.stdout),
        &[PASSWORD.to_owned(), basic.to_owned()],
    );

    // One page: no summary; not verbose and not a terminal: nothing at all.
    let run = dev
        .snow(&["-v", "table", "list", "incident", "--limit", "5"])
        .env("SNOW_PASSWORD", PASSWORD)
        .run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(!run.stderr.contains("requests,"), "{}", run.stderr);
    let run = dev
        .snow(&[
            "table",
            "list",
            "incident",
            "--limit",
            "25",
            "--page-size",
            "10",
        ])
        .env("SNOW_PASSWORD", PASSWORD)
        .run();
    assert_eq!(run.stderr, "", "{run:#?}");
}

#[test]
fn long_commands_end_with_the_time_waited_for_a_rate_limit() {
    let dev = dev(300);
    // 20 requests per 2-second window: an export of 30 pages has to wait.
    dev.admin()
        .set_rate_limits(vec![RateLimitRule::new(Some("admin"), 20, 2)]);
    let out = dev.path("incidents.jsonl");
    let run = dev
        .snow(&[
            "-v",
            "export",
            "incident",
            "--page-size",
            "10",
            "--output",
            &out.display().to_string(),
        ])
        .env("SNOW_PASSWORD", PASSWORD)
        .run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 300);
    let summary = run
        .stderr
        .lines()
        .rfind(|l| l.contains(" requests, "))
        .unwrap_or_else(|| panic!("no summary: {}", run.stderr));
    assert!(waited(summary) > 0.0, "{summary}");
    assert!(summary.contains("pacing"), "{summary}");
    assert_eq!(summary, run.stderr.lines().last().unwrap());
    assert_no_secret(&run.stderr, &[PASSWORD.to_owned()]);
}
