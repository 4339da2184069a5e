//! The Aggregate, Import Set, Batch and CMDB Instance APIs on the wire, with a plain HTTP
//! client: shapes, numbers computed over the same records a list returns, roles, errors.

mod common;

use base64::Engine as _;
use common::{Http, admin, basic, start, start_with};
use http::Method;
use serde_json::{Value, json};
use snow_devinstance::{DevConfig, Role};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn unb64(v: &Value) -> Value {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or_default())
        .unwrap();
    if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    }
}

#[tokio::test]
async fn aggregate_counts_what_a_list_returns() {
    let (_dev, http) = start(200).await;
    let q = "active=true^priority<=2";
    let list = http
        .get(
            &format!(
                "/api/now/table/incident?sysparm_query={}&sysparm_fields=sys_id&sysparm_limit=1000",
                urlenc(q)
            ),
            &admin(),
        )
        .await;
    let listed = list.json()["result"].as_array().unwrap().len();
    let stats = http
        .get(
            &format!(
                "/api/now/stats/incident?sysparm_count=true&sysparm_query={}",
                urlenc(q)
            ),
            &admin(),
        )
        .await;
    assert_eq!(stats.status, 200, "{}", stats.text());
    assert_eq!(
        stats.json(),
        json!({"result": {"stats": {"count": listed.to_string()}}})
    );

    // Averages, sums, minimums and maximums are strings; averages have four decimals.
    let r = http
        .get(
            "/api/now/v1/stats/incident?sysparm_count=true&sysparm_avg_fields=reassignment_count&sysparm_sum_fields=reassignment_count&sysparm_min_fields=opened_at&sysparm_max_fields=priority,opened_at",
            &basic("reader", "reader"),
        )
        .await;
    let s = &r.json()["result"]["stats"];
    assert_eq!(s["count"], "200");
    let avg = s["avg"]["reassignment_count"].as_str().unwrap();
    assert_eq!(avg.split_once('.').unwrap().1.len(), 4, "{avg}");
    assert!(
        s["sum"]["reassignment_count"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert_eq!(s["max"]["priority"], "5");
    assert!(s["max"]["opened_at"].as_str().unwrap() > s["min"]["opened_at"].as_str().unwrap());
}

fn urlenc(s: &str) -> String {
    form_urlencoded_byte(s)
}

fn form_urlencoded_byte(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn aggregate_groups_having_order_and_errors() {
    let (_dev, http) = start(300).await;
    let r = http
        .get(
            "/api/now/stats/incident?sysparm_count=true&sysparm_group_by=priority,active&sysparm_having=count%5Epriority%5E%3E%5E5&sysparm_order_by=COUNT%5EDESC&sysparm_display_value=true",
            &admin(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let groups = r.json()["result"].as_array().unwrap().clone();
    assert!(groups.len() > 2);
    let counts: Vec<u64> = groups
        .iter()
        .map(|g| g["stats"]["count"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        counts.iter().all(|&c| c > 5) && counts.windows(2).all(|w| w[0] >= w[1]),
        "{counts:?}"
    );
    let f = &groups[0]["groupby_fields"];
    assert_eq!(f[0]["field"], "priority");
    assert_eq!(f[1]["field"], "active");
    assert!(f[0]["display_value"].as_str().unwrap().contains(" - "));

    for (path, status) in [
        (
            "/api/now/stats/incident?sysparm_avg_fields=no_such_field",
            400,
        ),
        (
            "/api/now/stats/incident?sysparm_sum_fields=short_description",
            400,
        ),
        (
            "/api/now/stats/incident?sysparm_count=true&sysparm_group_by=nope",
            400,
        ),
        (
            "/api/now/stats/incident?sysparm_count=true&sysparm_having=count%5Ex%5E~%5E1",
            400,
        ),
        ("/api/now/stats/no_table?sysparm_count=true", 400),
    ] {
        let r = http.get(path, &admin()).await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert_eq!(r.json()["status"], "failure");
    }
}

#[tokio::test]
async fn import_sets_transform_and_report_per_row() {
    let (dev, http) = start(20).await;
    let row = json!({"user_name": "j.public", "first_name": "John", "last_name": "Public", "email": "j@example.com"});
    let r = http
        .json(Method::POST, "/api/now/import/imp_user", &admin(), &row)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert!(v["import_set"].as_str().unwrap().starts_with("ISET"));
    assert_eq!(v["staging_table"], "imp_user");
    let res = &v["result"][0];
    assert_eq!(res["status"], "inserted");
    assert_eq!(res["table"], "sys_user");
    assert_eq!(res["transform_map"], "User");
    assert_eq!(res["display_value"], "John Public");
    let user_id = res["sys_id"].as_str().unwrap().to_owned();
    let user = http
        .get(&format!("/api/now/table/sys_user/{user_id}"), &admin())
        .await;
    assert_eq!(user.json()["result"]["email"], "j@example.com");

    // Coalesced on user_name: an update, then nothing to change, then a rejected value.
    let again = http
        .json(
            Method::POST,
            "/api/now/import/imp_user",
            &admin(),
            &json!({"user_name":"j.public","title":"CTO"}),
        )
        .await;
    assert_eq!(again.json()["result"][0]["status"], "updated");
    assert_eq!(again.json()["import_set"], v["import_set"]);
    let same = http
        .json(
            Method::POST,
            "/api/now/import/imp_user",
            &admin(),
            &json!({"user_name":"j.public","title":"CTO"}),
        )
        .await;
    assert_eq!(same.json()["result"][0]["status"], "ignored");
    let bad = http
        .json(
            Method::POST,
            "/api/now/import/imp_user",
            &admin(),
            &json!({"user_name":"x.y","active":"perhaps"}),
        )
        .await;
    assert_eq!(bad.status, 201);
    let res = &bad.json()["result"][0];
    assert_eq!(res["status"], "error");
    assert!(
        res["error_message"].as_str().unwrap().contains("active"),
        "{res}"
    );

    // insertMultiple: one new import set, rows readable from the staging table.
    let many = json!({"records": [
        {"name": "imp-srv-1", "cpu_count": "4"},
        {"name": "imp-srv-2", "cpu_count": "many"},
        {"name": "imp-srv-1", "os": "Linux"},
    ]});
    let r = http
        .json(
            Method::POST,
            "/api/now/import/imp_computer/insertMultiple",
            &admin(),
            &many,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let set = r.json()["import_set_id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["multi_import_set_id"].as_str().unwrap().len(), 32);
    let rows = http
        .get(&format!("/api/now/table/imp_computer?sysparm_query=sys_import_set%3D{set}%5EORDERBYsys_import_row&sysparm_exclude_reference_link=true"), &admin())
        .await;
    let rows = rows.json()["result"].as_array().unwrap().clone();
    let states: Vec<&str> = rows
        .iter()
        .map(|r| r["sys_import_state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["inserted", "error", "updated"]);
    assert_eq!(rows[0]["sys_target_sys_id"], rows[2]["sys_target_sys_id"]);
    // One row's result by its staging sys_id.
    let one = http
        .get(
            &format!(
                "/api/now/import/imp_computer/{}",
                rows[1]["sys_id"].as_str().unwrap()
            ),
            &admin(),
        )
        .await;
    assert_eq!(one.json()["result"][0]["status"], "error");

    // Roles: loading needs admin; a non-staging table is refused.
    for user in ["itil", "reader"] {
        let r = http
            .json(
                Method::POST,
                "/api/now/import/imp_user",
                &basic(user, user),
                &row,
            )
            .await;
        assert_eq!(r.status, 403, "{user}");
    }
    assert_eq!(
        http.json(Method::POST, "/api/now/import/incident", &admin(), &row)
            .await
            .status,
        400
    );
    assert_eq!(
        http.json(Method::POST, "/api/now/import/nope", &admin(), &row)
            .await
            .status,
        400
    );
    drop(dev);
}

#[tokio::test]
async fn batch_runs_items_through_the_router_and_leaves_the_rest_unserviced() {
    let (dev, http) = start_with(DevConfig {
        records: 10,
        batch_max_requests: 3,
        ..DevConfig::default()
    })
    .await;
    let first = http
        .get("/api/now/table/incident?sysparm_limit=1", &admin())
        .await;
    let victim = first.json()["result"][0]["sys_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({
        "batch_request_id": 7,
        "rest_requests": [
            {"id": "a", "method": "GET", "url": "/api/now/table/incident?sysparm_limit=2&sysparm_fields=number",
             "headers": [{"name": "Accept", "value": "application/json"}]},
            {"id": "b", "method": "POST", "url": "/api/now/v2/table/incident",
             "headers": [{"name": "Content-Type", "value": "application/json"}, {"name": "Accept", "value": "application/json"}],
             "body": b64(r#"{"short_description":"from a batch"}"#), "exclude_response_headers": true},
            {"id": "c", "method": "DELETE", "url": format!("/api/now/table/incident/{victim}")},
            {"id": "d", "method": "GET", "url": "/api/now/table/incident?sysparm_limit=1"},
        ]
    });
    let r = http
        .json(
            Method::POST,
            "/api/now/v1/batch",
            &basic("itil", "itil"),
            &body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["batch_request_id"], "7");
    assert_eq!(v["unserviced_requests"], json!(["d"]));
    let items = v["serviced_requests"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["id"], "a");
    assert_eq!(items[0]["status_code"], 200);
    assert_eq!(
        unb64(&items[0]["body"])["result"].as_array().unwrap().len(),
        2
    );
    assert!(
        items[0]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["name"] == "Content-Type")
    );
    assert_eq!(items[1]["status_code"], 201);
    assert_eq!(items[1]["headers"], json!([]));
    assert_eq!(
        unb64(&items[1]["body"])["result"]["short_description"],
        "from a batch"
    );
    // Roles apply per item: itil may not delete.
    assert_eq!(items[2]["status_code"], 403);
    assert!(items[2]["execution_time"].is_u64());
    assert_eq!(items[2]["error_message"], "Operation Failed");
    // Items are counted and logged like requests from the network.
    assert_eq!(
        dev.admin()
            .counters()
            .requests_to("/api/now/v2/table/incident"),
        1
    );

    assert_eq!(
        http.json(
            Method::POST,
            "/api/now/v1/batch",
            &admin(),
            &json!({"rest_requests": [{"id": "x"}]})
        )
        .await
        .status,
        400
    );
    let nested =
        json!({"rest_requests": [{"id": "n", "method": "POST", "url": "/api/now/v1/batch"}]});
    let r = http
        .json(Method::POST, "/api/now/v1/batch", &admin(), &nested)
        .await;
    assert_eq!(r.json()["serviced_requests"][0]["status_code"], 400);
}

#[tokio::test]
async fn cmdb_instances_with_relations() {
    let (dev, http) = start(500).await;
    let apps = dev.admin().read_db(|db| db.count("cmdb_ci_appl"));
    let dbs = dev.admin().read_db(|db| db.count("cmdb_ci_database"));
    assert_eq!((apps, dbs), (10, 5));
    let list = http
        .get(
            "/api/now/cmdb/instance/cmdb_ci_appl?sysparm_limit=3",
            &basic("reader", "reader"),
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.header("x-total-count"), Some("10"));
    let items = list.json()["result"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3);
    let app_id = items[0]["sys_id"].as_str().unwrap().to_owned();
    let ci = http
        .get(
            &format!("/api/now/cmdb/instance/cmdb_ci_appl/{app_id}"),
            &admin(),
        )
        .await;
    let ci = ci.json()["result"].clone();
    assert_eq!(ci["attributes"]["sys_id"], app_id.as_str());
    assert_eq!(ci["attributes"]["sys_class_name"], "cmdb_ci_appl");
    let out = ci["outbound_relations"].as_array().unwrap();
    assert_eq!(out.len(), 2, "{ci}");
    let types: Vec<&str> = out
        .iter()
        .map(|r| r["type"]["display_value"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"Runs on::Runs") && types.contains(&"Depends on::Used by"));
    assert!(
        out[0]["target"]["link"]
            .as_str()
            .unwrap()
            .contains("/api/now/cmdb/instance/cmdb_ci/")
    );

    // Create with a relation, update, add and delete relations.
    let server = out
        .iter()
        .find(|r| r["type"]["display_value"] == "Runs on::Runs")
        .unwrap()["target"]["value"]
        .clone();
    let body = json!({
        "attributes": {"name": "billing-api", "version": "2.1"},
        "source": "ServiceNow",
        "outbound_relations": [{"target": server, "type": "60bc4e22c0a8010e01f074cbe6bd73c3"}],
    });
    let r = http
        .json(
            Method::POST,
            "/api/now/cmdb/instance/cmdb_ci_appl",
            &admin(),
            &body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let created = r.json()["result"].clone();
    let id = created["attributes"]["sys_id"].as_str().unwrap().to_owned();
    assert_eq!(created["attributes"]["discovery_source"], "ServiceNow");
    assert_eq!(created["outbound_relations"].as_array().unwrap().len(), 1);
    let r = http
        .json(
            Method::PATCH,
            &format!("/api/now/cmdb/instance/cmdb_ci_appl/{id}"),
            &admin(),
            &json!({"attributes": {"version": "2.2"}, "source": "ServiceNow"}),
        )
        .await;
    assert_eq!(r.json()["result"]["attributes"]["version"], "2.2");
    let r = http
        .json(Method::POST, &format!("/api/now/cmdb/instance/cmdb_ci_appl/{id}/relation"), &admin(), &json!({"inbound_relations": [{"target": app_id, "type": "1a9cb166f1571100a92eb60da2bce5c5"}], "source": "ServiceNow"}))
        .await;
    let inbound = r.json()["result"]["inbound_relations"].clone();
    assert_eq!(inbound.as_array().unwrap().len(), 1, "{}", r.text());
    let rel = inbound[0]["sys_id"].as_str().unwrap().to_owned();
    let r = http
        .send(
            Method::DELETE,
            &format!("/api/now/cmdb/instance/cmdb_ci_appl/{id}/relation/{rel}"),
            &[("authorization", &admin())],
            "",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["result"]["inbound_relations"], json!([]));

    // Errors and roles.
    assert_eq!(
        http.get(
            "/api/now/cmdb/instance/cmdb_ci_appl/00000000000000000000000000000000",
            &admin()
        )
        .await
        .status,
        404
    );
    assert_eq!(
        http.get("/api/now/cmdb/instance/incident", &admin())
            .await
            .status,
        400
    );
    assert_eq!(
        http.json(
            Method::POST,
            "/api/now/cmdb/instance/cmdb_ci_appl",
            &admin(),
            &json!({"attributes": {}})
        )
        .await
        .status,
        400
    );
    for user in ["itil", "reader"] {
        let r = http
            .json(
                Method::POST,
                "/api/now/cmdb/instance/cmdb_ci_appl",
                &basic(user, user),
                &body,
            )
            .await;
        assert_eq!(r.status, 403, "{user}");
    }
    assert!(Role::Admin.can_write_table("cmdb_ci_appl"));
    let bad_rel = json!({"attributes": {"name": "x"}, "source": "ServiceNow", "inbound_relations": [{"target": "nope", "type": "nope"}]});
    assert_eq!(
        http.json(
            Method::POST,
            "/api/now/cmdb/instance/cmdb_ci",
            &admin(),
            &bad_rel
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn seeded_relationships_grow_with_records() {
    let count = |n: usize| async move {
        let (dev, _http): (_, Http) = start(n).await;
        dev.admin()
            .read_db(|db| (db.count("cmdb_rel_ci"), db.count("cmdb_rel_type")))
    };
    let (small, types) = count(100).await;
    let (big, _) = count(2_000).await;
    assert_eq!(types, 4);
    assert!(big > small * 5, "{small} {big}");
}
