//! `snow import`: rows into staging tables, each row's transform result, exit code 9 when the
//! transform rejects one.

use serde_json::Value;

use crate::common::{Dev, sys_ids_where};

#[test]
fn one_row_from_flags_is_transformed_at_once() {
    let dev = Dev::start(10);
    let run = dev
        .snow(&[
            "import",
            "imp_user",
            "--set",
            "user_name=j.public",
            "--set",
            "first_name=John",
            "--set",
            "last_name=Public",
            "--format",
            "jsonl",
        ])
        .run();
    assert_eq!(run.code, 0, "{run:#?}");
    let rows = run.lines();
    assert_eq!(rows.len(), 1, "{run:#?}");
    let r = &rows[0];
    assert_eq!(r["row"], 0);
    assert_eq!(r["status"], "inserted", "{r}");
    assert_eq!(r["table"], "sys_user");
    assert_eq!(r["display_value"], "John Public");
    assert!(r["import_set"].as_str().unwrap().starts_with("ISET"), "{r}");
    let users = sys_ids_where(&dev, "sys_user", "user_name=j.public");
    assert_eq!(users.len(), 1);
    assert!(users.contains(r["sys_id"].as_str().unwrap()));

    // The same row again coalesces on user_name: updated, then ignored.
    let again = dev
        .snow(&[
            "import",
            "imp_user",
            "-d",
            r#"{"user_name":"j.public","title":"CTO"}"#,
        ])
        .run()
        .ok();
    let v: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(v[0]["status"], "updated", "{v}");
    assert_eq!(v[0]["sys_id"], r["sys_id"]);
}

#[test]
fn many_rows_from_standard_input_report_each_row_and_exit_9_on_a_rejection() {
    let dev = Dev::start(10);
    let mut input = String::new();
    for i in 0..5 {
        let cpu = if i == 3 {
            "lots".to_owned()
        } else {
            i.to_string()
        };
        input.push_str(&format!(
            "{{\"name\":\"srv-cli-{i}\",\"cpu_count\":\"{cpu}\"}}\n"
        ));
    }
    let run = dev
        .snow(&[
            "-v",
            "import",
            "imp_computer",
            "--data",
            "-",
            "--set",
            "os=Linux",
            "--chunk",
            "2",
            "--format",
            "jsonl",
        ])
        .stdin(input.as_bytes())
        .run();
    let rows = run.lines();
    let err = run.fails(9);
    assert_eq!(rows.len(), 5, "{rows:?}");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["row"], i, "{r}");
        if i == 3 {
            assert_eq!(r["status"], "error", "{r}");
            assert!(r["message"].as_str().unwrap().contains("cpu_count"), "{r}");
        } else {
            assert_eq!(r["status"], "inserted", "{r}");
            assert_eq!(r["table"], "cmdb_ci_server", "{r}");
        }
    }
    // --set reached every row.
    assert_eq!(
        sys_ids_where(&dev, "cmdb_ci_server", "nameSTARTSWITHsrv-cli-^os=Linux").len(),
        4
    );
    // Three insertMultiple requests of at most two rows, then the summary, then the error.
    let posts = err
        .lines()
        .filter(|l| l.starts_with("snow: > POST /api/now/import/imp_computer/insertMultiple"))
        .count();
    assert_eq!(posts, 3, "{err}");
    let last: Vec<&str> = err.lines().rev().take(2).collect();
    assert!(
        last[0].starts_with("snow: error: 1 of 5 row(s) were rejected"),
        "{err}"
    );
    assert!(
        last[1].starts_with("snow: ") && last[1].contains(" requests, "),
        "{err}"
    );
}

#[test]
fn a_json_array_from_a_file() {
    let dev = Dev::start(10);
    let file = dev.path("rows.json");
    std::fs::write(
        &file,
        r#"[{"name":"arr-1","cpu_count":"2"},{"name":"arr-2","cpu_count":"4"}]"#,
    )
    .unwrap();
    let out = dev
        .snow(&[
            "import",
            "imp_computer",
            "--data",
            &format!("@{}", file.display()),
            "--format",
            "csv",
        ])
        .run()
        .ok();
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some(
            "row,status,table,sys_id,display_value,transform_map,message,import_set,staging_sys_id"
        )
    );
    assert_eq!(
        lines.filter(|l| l.contains(",inserted,")).count(),
        2,
        "{out}"
    );
}

#[test]
fn bad_input_exits_2() {
    let dev = Dev::start(10);
    let err = dev.snow(&["import", "imp_user"]).run().fails(2);
    assert!(err.contains("no rows"), "{err}");
    let err = dev
        .snow(&["import", "imp_user", "-d", "{\"a\":\"1\"}\n[1]"])
        .run()
        .fails(2);
    assert!(err.contains("row 2"), "{err}");
    let err = dev
        .snow(&["import", "imp_user", "-d", "{nope"])
        .run()
        .fails(2);
    assert!(err.contains("not valid JSON"), "{err}");
}
