//! `snow cmdb`: CIs with their relations, writes, and the errors of missing CIs and rights.

use serde_json::Value;

use crate::common::Dev;

const RUNS_ON: &str = "60bc4e22c0a8010e01f074cbe6bd73c3";
const DEPENDS_ON: &str = "1a9cb166f1571100a92eb60da2bce5c5";

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn list_get_create_update_and_relations() {
    let dev = Dev::start(100);
    let run = dev
        .snow(&[
            "cmdb",
            "list",
            "cmdb_ci_appl",
            "--all",
            "--page-size",
            "3",
            "--format",
            "jsonl",
        ])
        .run();
    let apps = run.lines();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(apps.len() >= 2, "{apps:?}");
    assert!(
        apps.iter()
            .all(|a| a["sys_id"].is_string() && a["name"].is_string())
    );
    let first = apps[0]["sys_id"].as_str().unwrap().to_owned();
    let second = apps[1]["sys_id"].as_str().unwrap().to_owned();
    let limited = dev
        .snow(&[
            "cmdb",
            "list",
            "cmdb_ci_appl",
            "--limit",
            "1",
            "--format",
            "jsonl",
        ])
        .run()
        .lines();
    assert_eq!(limited.len(), 1);

    let ci = json(
        &dev.snow(&["cmdb", "get", "cmdb_ci_appl", &first, "--format", "json"])
            .run()
            .ok(),
    );
    assert_eq!(ci["attributes"]["sys_id"], first.as_str());
    let runs_on = ci["outbound_relations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"]["value"] == RUNS_ON)
        .expect("an application runs on a server")
        .clone();
    assert_eq!(runs_on["type"]["display_value"], "Runs on::Runs");
    let server = runs_on["target"]["value"].as_str().unwrap().to_owned();

    // A table shows the attributes, then the relations.
    let table = dev
        .snow(&["cmdb", "get", "cmdb_ci_appl", &first, "--format", "table"])
        .run()
        .ok();
    assert!(
        table.contains("sys_class_name") && table.contains("cmdb_ci_appl"),
        "{table}"
    );
    assert!(
        table.contains("outbound") && table.contains("Runs on::Runs"),
        "{table}"
    );

    let created = json(
        &dev.snow(&[
            "cmdb",
            "create",
            "cmdb_ci_appl",
            "--set",
            "name=billing-api",
            "--set",
            "version=2.1",
            "--outbound",
            &format!("{server}:{RUNS_ON}"),
            "--format",
            "json",
        ])
        .run()
        .ok(),
    );
    assert_eq!(created["attributes"]["name"], "billing-api");
    assert_eq!(created["attributes"]["discovery_source"], "ServiceNow");
    assert_eq!(created["outbound_relations"].as_array().unwrap().len(), 1);
    let id = created["attributes"]["sys_id"].as_str().unwrap().to_owned();

    let updated = json(
        &dev.snow(&[
            "cmdb",
            "update",
            "cmdb_ci_appl",
            &id,
            "--set",
            "version=2.2",
            "--put",
            "--format",
            "json",
        ])
        .run()
        .ok(),
    );
    assert_eq!(updated["attributes"]["version"], "2.2");

    let more = json(
        &dev.snow(&[
            "cmdb",
            "add-relations",
            "cmdb_ci_appl",
            &id,
            "--outbound",
            &format!("{second}:{DEPENDS_ON}"),
            "--format",
            "json",
        ])
        .run()
        .ok(),
    );
    let rels = more["outbound_relations"].as_array().unwrap();
    assert_eq!(rels.len(), 2, "{more}");
    let gone = rels[0]["sys_id"].as_str().unwrap().to_owned();
    let after = json(
        &dev.snow(&[
            "cmdb",
            "delete-relation",
            "cmdb_ci_appl",
            &id,
            &gone,
            "--yes",
            "--format",
            "json",
        ])
        .run()
        .ok(),
    );
    let rels = after["outbound_relations"].as_array().unwrap();
    assert_eq!(rels.len(), 1, "{after}");
    assert_ne!(rels[0]["sys_id"], gone.as_str());
}

#[test]
fn missing_cis_rights_and_bad_input_exit_with_their_codes() {
    let dev = Dev::start(20);
    let err = dev
        .snow(&[
            "cmdb",
            "get",
            "cmdb_ci_appl",
            "00000000000000000000000000000000",
        ])
        .run()
        .fails(4);
    assert!(
        err.starts_with("snow: error: ") && err.lines().count() == 1,
        "{err}"
    );
    let err = dev
        .snow(&["cmdb", "create", "cmdb_ci_appl", "--set", "name=nope"])
        .env("SNOW_USER", "itil")
        .env("SNOW_PASSWORD", "itil")
        .run()
        .fails(3);
    assert!(err.contains("403"), "{err}");
    let err = dev
        .snow(&[
            "cmdb",
            "create",
            "cmdb_ci_appl",
            "--set",
            "name=x",
            "--outbound",
            "just-one",
        ])
        .run()
        .fails(2);
    assert!(err.contains("--outbound"), "{err}");
    let err = dev
        .snow(&["cmdb", "add-relations", "cmdb_ci_appl", "0123"])
        .run()
        .fails(2);
    assert!(err.contains("no relations"), "{err}");
    let err = dev
        .snow(&["cmdb", "list", "incident", "--format", "json"])
        .run()
        .fails(2);
    let v = json(err.trim());
    assert_eq!(v["error"]["status"], 400, "{v}");
}
