//! `snow stats`: counts, statistics and groups, equal to what the instance holds.

use serde_json::Value;

use crate::common::{Dev, sys_ids_where};

#[test]
fn counts_and_statistics_of_a_query() {
    let dev = Dev::start(200);
    let expected = sys_ids_where(&dev, "incident", "priority=1").len();
    let out = dev
        .snow(&[
            "stats",
            "incident",
            "--query",
            "priority=1",
            "--avg",
            "reassignment_count",
            "--max",
            "priority",
            "--format",
            "json",
        ])
        .run()
        .ok();
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["count"], expected as u64, "{v}");
    assert!(v["avg(reassignment_count)"].is_number(), "{v}");
    assert_eq!(v["max(priority)"], "1", "{v}");
    // As CSV: a header and one row, the count first.
    let csv = dev
        .snow(&["stats", "incident", "--format", "csv"])
        .run()
        .ok();
    assert_eq!(csv, "count\r\n200\r\n");
}

#[test]
fn groups_with_having_order_and_display_values() {
    let dev = Dev::start(300);
    let run = dev
        .snow(&[
            "stats",
            "incident",
            "--group-by",
            "priority",
            "--order-by",
            "-count",
            "--format",
            "jsonl",
        ])
        .run();
    let groups = run.lines();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(groups.len() >= 2, "{run:#?}");
    let mut total = 0;
    let mut last = u64::MAX;
    for g in &groups {
        let priority = g["priority"].as_str().expect("priority");
        let count = g["count"].as_u64().expect("count");
        assert_eq!(
            count as usize,
            sys_ids_where(&dev, "incident", &format!("priority={priority}")).len(),
            "{g}"
        );
        assert!(count <= last, "not in descending order: {groups:?}");
        last = count;
        total += count;
    }
    assert_eq!(total, 300);

    // Only the groups over a threshold, with their labels.
    let threshold = groups[groups.len() - 1]["count"].as_u64().unwrap();
    let run = dev
        .snow(&[
            "stats",
            "incident",
            "-g",
            "priority",
            "--having",
            &format!("count(priority)>{threshold}"),
            "--display-value",
            "--format",
            "jsonl",
        ])
        .run();
    let kept = run.lines();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(kept.len() < groups.len(), "{kept:?}");
    for g in &kept {
        assert!(g["count"].as_u64().unwrap() > threshold, "{g}");
        assert!(g["priority"]["display_value"].is_string(), "{g}");
        assert!(g["priority"]["value"].is_string(), "{g}");
    }
}

#[test]
fn bad_requests_exit_with_their_codes() {
    let dev = Dev::start(10);
    let err = dev
        .snow(&["stats", "incident", "-g", "priority", "--having", "count>3"])
        .run()
        .fails(2);
    assert!(err.contains("--having"), "{err}");
    let err = dev
        .snow(&["stats", "incident", "--having", "count(priority)>3"])
        .run()
        .fails(2);
    assert!(err.contains("group-by"), "{err}");
    let err = dev.snow(&["stats", "no_such_table"]).run().fails(4);
    assert!(err.starts_with("snow: error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let err = dev
        .snow(&[
            "stats",
            "incident",
            "--avg",
            "bad field",
            "--format",
            "json",
        ])
        .run()
        .fails(2);
    let v: Value = serde_json::from_str(err.trim()).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(v["error"]["kind"], "usage", "{v}");
}
