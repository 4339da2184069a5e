//! `snow batch`: requests from a JSON Lines file, each answer with its status, exit code 9
//! when one failed.

use crate::common::{Dev, sys_ids_where};

#[test]
fn requests_from_a_file_answered_one_by_one() {
    let dev = Dev::start(20);
    let id = sys_ids_where(&dev, "incident", "")
        .into_iter()
        .next()
        .unwrap();
    let file = dev.path("requests.jsonl");
    std::fs::write(
        &file,
        format!(
            r#"{{"method":"GET","url":"/api/now/table/incident/{id}?sysparm_fields=sys_id%2Cnumber"}}

{{"method":"post","url":"/api/now/table/incident","body":{{"short_description":"from snow batch"}}}}
{{"url":"{}/api/now/table/incident/00000000000000000000000000000000"}}
{{"id":"page","url":"/api/now/table/incident?sysparm_limit=2","headers":{{"X-Note":"cli"}}}}
"#,
            dev.url
        ),
    )
    .unwrap();
    let path = file.display().to_string();
    let run = dev.snow(&["-v", "batch", &path, "--format", "jsonl"]).run();
    let answers = run.lines();
    let err = run.fails(9);
    let statuses: Vec<u64> = answers
        .iter()
        .map(|a| a["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 201, 404, 200], "{answers:?}");
    assert_eq!(answers[0]["body"]["result"]["sys_id"], id.as_str());
    assert_eq!(answers[0]["method"], "GET");
    assert_eq!(answers[1]["method"], "POST");
    assert!(answers[1]["error"].is_null());
    assert!(
        answers[2]["error"]
            .as_str()
            .unwrap()
            .contains("No Record found"),
        "{:?}",
        answers[2]
    );
    assert_eq!(answers[3]["id"], "page");
    assert_eq!(answers[3]["body"]["result"].as_array().unwrap().len(), 2);
    assert_eq!(
        sys_ids_where(&dev, "incident", "short_description=from snow batch").len(),
        1
    );
    // One batch request, its line with a transaction id, the summary, then the error.
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("snow: < 200 OK POST /api/now/v1/batch") && l.contains("txn "))
            .count(),
        1,
        "{err}"
    );
    let last: Vec<&str> = err.lines().rev().take(2).collect();
    assert_eq!(
        last[0], "snow: error: 1 of 4 batch request(s) failed",
        "{err}"
    );
    assert!(last[1].starts_with("snow: 1 request, 0 retries"), "{err}");

    // With --format json: one JSON array on standard output, a JSON error object after it.
    let run = dev.snow(&["batch", &path, "--format", "json"]).run();
    let answers: serde_json::Value = serde_json::from_str(&run.stdout).expect("a JSON array");
    assert_eq!(answers.as_array().unwrap().len(), 4);
    let err = run.fails(9);
    let v: serde_json::Value =
        serde_json::from_str(err.trim()).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(v["error"]["kind"], "partial", "{v}");
    assert_eq!(v["error"]["exit_code"], 9, "{v}");

    // All answered with a 2xx: exit 0; from standard input; a table without bodies.
    let run = dev
        .snow(&["batch", "-", "--format", "table"])
        .stdin(format!("{{\"url\":\"/api/now/table/incident/{id}\"}}\n").as_bytes())
        .run();
    let out = run.ok();
    assert!(out.contains("200") && out.contains(&id[..16]), "{out}");
    assert!(!out.contains("body"), "{out}");
}

#[test]
fn bad_files_exit_2_naming_the_line() {
    let dev = Dev::start(5);
    let file = dev.path("bad.jsonl");
    for (content, needle) in [
        ("{\"url\":\"/api/now/table/incident\"}\n{oops\n", "line 2"),
        ("{\"url\":\"/table/incident\"}\n", "/api/"),
        (
            "{\"url\":\"/api/now/table/incident\",\"boddy\":{}}\n",
            "line 1",
        ),
        (
            "{\"url\":\"https://elsewhere.example/api/now/table/x\"}\n",
            "not on the instance",
        ),
        ("\n\n", "no requests"),
    ] {
        std::fs::write(&file, content).unwrap();
        let err = dev
            .snow(&["batch", &file.display().to_string()])
            .run()
            .fails(2);
        assert!(err.contains(needle), "{needle}: {err}");
    }
    let err = dev
        .snow(&["batch", &dev.path("missing.jsonl").display().to_string()])
        .run()
        .fails(2);
    assert!(err.contains("cannot read"), "{err}");
}
