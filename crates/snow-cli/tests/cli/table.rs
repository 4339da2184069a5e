//! `snow table`.

use crate::common::Dev;

#[test]
fn list_as_jsonl_with_the_documented_spelling() {
    let dev = Dev::start(300);
    let run = dev
        .snow(&[
            "table",
            "list",
            "incident",
            "--query",
            "priority=1",
            "--limit",
            "10",
            "--format",
            "jsonl",
        ])
        .run();
    let lines = run.lines();
    assert_eq!(lines.len(), 10, "{run:#?}");
    for r in &lines {
        assert_eq!(r["priority"], "1", "{r}");
        assert!(r["sys_id"].is_string());
    }
    assert_eq!(run.code, 0);
}

#[test]
fn list_is_json_when_piped_and_csv_or_table_on_request() {
    let dev = Dev::start(100);
    let out = dev
        .snow(&[
            "table",
            "list",
            "incident",
            "--limit",
            "3",
            "--fields",
            "number,priority",
        ])
        .run()
        .ok();
    let v: serde_json::Value = serde_json::from_str(&out).expect("a JSON array");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 3);
    assert!(
        arr[0]["number"].as_str().unwrap().starts_with("INC"),
        "{out}"
    );

    let csv = dev
        .snow(&[
            "table",
            "list",
            "incident",
            "--limit",
            "2",
            "--fields",
            "number,priority",
            "--format",
            "csv",
        ])
        .run()
        .ok();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "number,priority");
    assert_eq!(lines.len(), 3, "{csv}");

    let table = dev
        .snow(&[
            "table",
            "list",
            "incident",
            "--limit",
            "2",
            "--fields",
            "number,priority",
            "-F",
            "table",
        ])
        .run()
        .ok();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("number") && lines[0].contains("priority"),
        "{table}"
    );
    assert!(lines[1].starts_with("------"), "{table}");
    assert_eq!(lines.len(), 4, "{table}");
}

#[test]
fn display_values_and_offsets() {
    let dev = Dev::start(50);
    let first = dev
        .snow(&[
            "table", "list", "incident", "--limit", "2", "--fields", "number", "-F", "jsonl",
        ])
        .run()
        .lines();
    let second = dev
        .snow(&[
            "table", "list", "incident", "--limit", "1", "--offset", "1", "--fields", "number",
            "-F", "jsonl",
        ])
        .run()
        .lines();
    assert_eq!(first[1]["number"], second[0]["number"]);
    let all = dev
        .snow(&[
            "table",
            "list",
            "incident",
            "--limit",
            "1",
            "--fields",
            "priority",
            "--display-value",
            "all",
            "-F",
            "jsonl",
        ])
        .run()
        .lines();
    assert!(
        all[0]["priority"]["display_value"].is_string(),
        "{:?}",
        all[0]
    );
    let every = dev
        .snow(&[
            "table",
            "list",
            "incident",
            "--all",
            "--fields",
            "sys_id",
            "-F",
            "jsonl",
            "--page-size",
            "7",
        ])
        .run()
        .lines();
    assert_eq!(every.len(), 50);
}

#[test]
fn create_get_update_delete() {
    let dev = Dev::start(10);
    let created = dev
        .snow(&[
            "table",
            "create",
            "incident",
            "--set",
            "short_description=from the cli",
            "-F",
            "json",
        ])
        .run()
        .ok();
    let rec: serde_json::Value = serde_json::from_str(&created).unwrap();
    let id = rec["sys_id"].as_str().unwrap().to_owned();
    assert_eq!(rec["short_description"], "from the cli");

    // --data from standard input and from a file.
    let updated = dev
        .snow(&[
            "table", "update", "incident", &id, "--data", "-", "-F", "json",
        ])
        .stdin(br#"{"urgency":"1"}"#)
        .run()
        .ok();
    assert!(updated.contains("\"urgency\":\"1\""), "{updated}");
    let file = dev.path("patch.json");
    std::fs::write(&file, r#"{"impact":"2"}"#).unwrap();
    dev.snow(&[
        "table",
        "update",
        "incident",
        &id,
        "--put",
        "--data",
        &format!("@{}", file.display()),
    ])
    .run()
    .ok();

    let got = dev
        .snow(&[
            "table",
            "get",
            "incident",
            &id,
            "--fields",
            "urgency,impact,short_description",
            "-F",
            "jsonl",
        ])
        .run()
        .lines();
    assert_eq!(got[0]["urgency"], "1");
    assert_eq!(got[0]["impact"], "2");

    let shown = dev
        .snow(&["table", "get", "incident", &id, "-F", "table"])
        .run()
        .ok();
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("short_description") && l.contains("from the cli")),
        "{shown}"
    );

    dev.snow(&["table", "delete", "incident", &id]).run().ok();
    let err = dev.snow(&["table", "get", "incident", &id]).run().fails(4);
    assert!(err.contains("No Record found"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn bad_data_is_a_usage_error() {
    let dev = Dev::start(10);
    let err = dev
        .snow(&["table", "create", "incident", "--data", "[1,2]"])
        .run()
        .fails(2);
    assert!(err.contains("JSON object"), "{err}");
    dev.snow(&["table", "create", "incident"]).run().fails(2);
}
