//! `snow api`.

use crate::common::Dev;

#[test]
fn get_post_and_errors() {
    let dev = Dev::start(30);
    let out = dev
        .snow(&[
            "api",
            "get",
            "/api/now/table/incident?sysparm_limit=2&sysparm_query=priority%3D1",
            "-F",
            "json",
        ])
        .run()
        .ok();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let result = v["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    assert!(result.iter().all(|r| r["priority"] == "1"), "{out}");

    let out = dev
        .snow(&[
            "api",
            "POST",
            "/api/now/table/incident",
            "--data",
            r#"{"short_description":"via api"}"#,
            "-F",
            "json",
        ])
        .run()
        .ok();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["result"]["short_description"], "via api");

    let table = dev
        .snow(&[
            "api",
            "GET",
            "/api/now/table/incident",
            "-q",
            "sysparm_limit=2",
            "-q",
            "sysparm_fields=number",
            "-F",
            "table",
        ])
        .run()
        .ok();
    assert!(table.starts_with("number"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");

    let err = dev
        .snow(&["api", "GET", "/api/now/table/nope"])
        .run()
        .fails(4);
    assert!(err.contains("Invalid table"), "{err}");
    let err = dev.snow(&["api", "GET", "/not/api"]).run().fails(2);
    assert!(err.contains("/api/"), "{err}");
    dev.snow(&["api", "NOT A METHOD", "/api/now/table/incident"])
        .run()
        .fails(2);
}
