//! Table API over real HTTP: paging, shapes, writes, errors.

use std::io::Read as _;

use crate::common::{Http, admin, basic, start};
use bytes::Bytes;
use http::Method;
use serde_json::json;

#[tokio::test]
async fn list_link_header_has_servicenow_form_and_arithmetic() {
    let (instance, http) = start(73).await;
    let total: usize = {
        let r = http
            .get("/api/now/table/incident?sysparm_limit=1", &admin())
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["result"].as_array().map(Vec::len), Some(1));
        r.header("x-total-count")
            .and_then(|v| v.parse().ok())
            .expect("X-Total-Count")
    };
    assert!(total >= 73, "{total}");
    let r = http
        .get("/api/now/table/incident?sysparm_limit=1", &admin())
        .await;
    let base = format!("{}/api/now/table/incident", instance.base_url());
    let expected = format!(
        "<{base}?sysparm_limit=1&sysparm_offset=0>;rel=\"first\",<{base}?sysparm_limit=1&sysparm_offset=1>;rel=\"next\",<{base}?sysparm_limit=1&sysparm_offset={}>;rel=\"last\"",
        total - 1
    );
    assert_eq!(r.header("link"), Some(expected.as_str()));

    // Offset > 0: prev appears; other parameters are re-emitted; the version is echoed.
    let r = http
        .get("/api/now/v2/table/incident?sysparm_query=active%3Dtrue&sysparm_limit=10&sysparm_offset=20", &admin())
        .await;
    let link = r.header("link").expect("Link").to_owned();
    let n: usize = r
        .header("x-total-count")
        .and_then(|v| v.parse().ok())
        .expect("count");
    let vbase = format!("{}/api/now/v2/table/incident", instance.base_url());
    assert!(link.starts_with(&format!(
        "<{vbase}?sysparm_query=active%3Dtrue&sysparm_limit=10&sysparm_offset=0>;rel=\"first\",<{vbase}?sysparm_query=active%3Dtrue&sysparm_limit=10&sysparm_offset=10>;rel=\"prev\""
    )), "{link}");
    assert!(
        link.ends_with(&format!(
            "sysparm_offset={}>;rel=\"last\"",
            (n - 1) / 10 * 10
        )),
        "{link}"
    );
    assert_eq!(link.contains("rel=\"next\""), 30 < n);

    // Everything on one page: no Link. Suppressed: no Link.
    let r = http
        .get("/api/now/table/incident?sysparm_limit=100000", &admin())
        .await;
    assert_eq!(r.header("link"), None);
    assert_eq!(r.header("x-total-count"), Some(total.to_string().as_str()));
    let r = http
        .get(
            "/api/now/table/incident?sysparm_limit=1&sysparm_suppress_pagination_header=True",
            &admin(),
        )
        .await;
    assert_eq!(r.header("link"), None);
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn default_limit_is_10000_and_paging_is_stable() {
    let (instance, http) = start(20).await;
    let all = http
        .get("/api/now/table/incident?sysparm_fields=sys_id", &admin())
        .await
        .json();
    let ids: Vec<String> = all["result"]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["sys_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(ids.len() >= 20);
    let mut paged = Vec::new();
    for off in (0..ids.len()).step_by(7) {
        let r = http
            .get(&format!("/api/now/table/incident?sysparm_fields=sys_id&sysparm_limit=7&sysparm_offset={off}"), &admin())
            .await
            .json();
        for rec in r["result"].as_array().expect("array") {
            paged.push(rec["sys_id"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(paged, ids);
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn empty_result_v1_is_404_v2_and_latest_are_200() {
    let (instance, http) = start(10).await;
    let q = "sysparm_query=number%3DNOPE";
    let v1 = http
        .get(&format!("/api/now/v1/table/incident?{q}"), &admin())
        .await;
    assert_eq!(v1.status, 404);
    assert_eq!(
        v1.json(),
        json!({"error":{"message":"No Record found","detail":"Records matching query not found. Check query parameter or offset parameter"},"status":"failure"})
    );
    for path in ["/api/now/v2/table/incident", "/api/now/table/incident"] {
        let r = http.get(&format!("{path}?{q}"), &admin()).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json(), json!({"result": []}));
        assert_eq!(r.header("x-total-count"), Some("0"));
    }
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn fields_display_value_and_reference_shapes() {
    let (instance, http) = start(30).await;
    let r = http
        .get("/api/now/table/incident?sysparm_query=caller_idISNOTEMPTY&sysparm_limit=1&sysparm_fields=number,caller_id,caller_id.user_name,nonexistent", &admin())
        .await;
    assert_eq!(r.status, 200);
    let rec = &r.json()["result"][0];
    let obj = rec.as_object().expect("object");
    assert!(
        obj.contains_key("number") && obj.contains_key("caller_id.user_name"),
        "{rec}"
    );
    assert!(
        !obj.contains_key("nonexistent") && !obj.contains_key("sys_id"),
        "{rec}"
    );
    let caller = &rec["caller_id"];
    let id = caller["value"].as_str().expect("value");
    assert_eq!(id.len(), 32);
    assert_eq!(
        caller["link"].as_str(),
        Some(format!("{}/api/now/table/sys_user/{id}", instance.base_url()).as_str())
    );

    let r = http
        .get("/api/now/table/incident?sysparm_query=caller_idISNOTEMPTY&sysparm_limit=1&sysparm_fields=caller_id&sysparm_exclude_reference_link=True", &admin())
        .await;
    assert!(r.json()["result"][0]["caller_id"].is_string());

    let r = http
        .get("/api/now/table/incident?sysparm_query=caller_idISNOTEMPTY&sysparm_limit=1&sysparm_fields=caller_id,priority&sysparm_display_value=all&sysparm_view=&sysparm_no_count=false&unknown_param=1", &admin())
        .await;
    let rec = &r.json()["result"][0];
    assert!(
        rec["priority"]["display_value"].is_string() && rec["priority"]["value"].is_string(),
        "{rec}"
    );
    assert!(rec["caller_id"]["link"].is_string(), "{rec}");

    let r = http
        .get(
            "/api/now/table/incident?sysparm_limit=2&sysparm_display_value=True&sysparm_fields=",
            &admin(),
        )
        .await;
    let rec = &r.json()["result"][0];
    assert!(
        rec.as_object().is_some_and(|o| o.len() > 10),
        "empty sysparm_fields means all fields"
    );
    for v in rec.as_object().expect("object").values() {
        assert!(
            v.is_string() || v.is_object(),
            "every value is a string or a reference object: {v}"
        );
    }
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn crud_round_trip_with_statuses_and_location() {
    let (instance, http) = start(5).await;
    let created = http
        .json(
            Method::POST,
            "/api/now/v2/table/incident",
            &admin(),
            &json!({"short_description": "printer on fire", "priority": "2"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let body = created.json();
    let id = body["result"]["sys_id"]
        .as_str()
        .expect("sys_id")
        .to_owned();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        created.header("location"),
        Some(format!("{}/api/now/v2/table/incident/{id}", instance.base_url()).as_str())
    );
    assert_eq!(body["result"]["short_description"], "printer on fire");
    assert!(
        body["result"]["number"]
            .as_str()
            .is_some_and(|n| n.starts_with("INC"))
    );
    assert_eq!(body["result"]["sys_created_by"], "admin");
    assert_eq!(body["result"]["sys_mod_count"], "0");

    let patched = http
        .json(
            Method::PATCH,
            &format!("/api/now/table/incident/{id}"),
            &basic("itil", "itil"),
            &json!({"short_description": "printer out"}),
        )
        .await;
    assert_eq!(patched.status, 200);
    let p = patched.json();
    assert_eq!(p["result"]["short_description"], "printer out");
    assert_eq!(p["result"]["priority"], "2", "merge keeps other fields");
    assert_eq!(p["result"]["sys_mod_count"], "1");
    assert_eq!(p["result"]["sys_updated_by"], "itil");

    let put = http
        .json(
            Method::PUT,
            &format!("/api/now/table/incident/{id}"),
            &admin(),
            &json!({"priority": "1"}),
        )
        .await;
    assert_eq!(put.status, 200);
    assert_eq!(put.json()["result"]["short_description"], "printer out");

    let quiet = http
        .send(
            Method::PATCH,
            &format!("/api/now/table/incident/{id}"),
            &[
                ("authorization", &admin()),
                ("content-type", "application/json"),
                ("x-no-response-body", "true"),
            ],
            r#"{"impact":"1"}"#,
        )
        .await;
    assert_eq!(quiet.status, 204);
    assert!(quiet.body.is_empty());

    let one = http
        .get(&format!("/api/now/table/incident/{id}"), &admin())
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["result"]["impact"], "1");
    assert_eq!(one.header("x-total-count"), None);

    let denied = http
        .send(
            Method::DELETE,
            &format!("/api/now/table/incident/{id}"),
            &[("authorization", &basic("itil", "itil"))],
            Bytes::new(),
        )
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(
        denied.json()["error"]["detail"],
        "ACL Exception Delete Failed due to security constraints"
    );

    let deleted = http
        .send(
            Method::DELETE,
            &format!("/api/now/table/incident/{id}"),
            &[("authorization", &admin())],
            Bytes::new(),
        )
        .await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    let gone = http
        .get(&format!("/api/now/table/incident/{id}"), &admin())
        .await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.json(),
        json!({"error":{"message":"No Record found","detail":"Record doesn't exist or ACL restricts the record retrieval"},"status":"failure"})
    );
    let again = http
        .send(
            Method::DELETE,
            &format!("/api/now/table/incident/{id}"),
            &[("authorization", &admin())],
            Bytes::new(),
        )
        .await;
    assert_eq!(again.status, 404);
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn documented_error_bodies() {
    let (instance, http) = start(5).await;
    let r = http
        .send(Method::GET, "/api/now/table/incident", &[], Bytes::new())
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("BASIC realm=\"Service-now\"")
    );
    assert_eq!(
        r.text(),
        r#"{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}"#
    );
    let r = http
        .get("/api/now/table/incident", &basic("admin", "wrong"))
        .await;
    assert_eq!(r.status, 401);
    let r = http
        .get("/api/now/table/incident", "Bearer not-a-token")
        .await;
    assert_eq!(r.status, 401);

    let r = http.get("/api/now/table/x_no_such_table", &admin()).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"error":{"message":"Invalid table x_no_such_table","detail":null},"status":"failure"})
    );

    let r = http
        .json(
            Method::POST,
            "/api/now/table/incident",
            &basic("reader", "reader"),
            &json!({"short_description": "x"}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"error":{"message":"Operation Failed","detail":"ACL Exception Insert Failed due to security constraints"},"status":"failure"})
    );
    let r = http
        .get(
            "/api/now/table/incident?sysparm_limit=1",
            &basic("reader", "reader"),
        )
        .await;
    assert_eq!(r.status, 200, "reader may read");

    let r = http.get("/api/now/nothing/here", &admin()).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["status"], "failure");
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn typical_headers_gzip_and_http2() {
    let (instance, http) = start(50).await;
    let r = http
        .get("/api/now/table/incident?sysparm_limit=3", &admin())
        .await;
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    let txn = r.header("x-transaction-id").expect("transaction id");
    assert_eq!(txn.len(), 12);
    assert!(txn.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(r.header("server"), Some("ServiceNow"));
    assert!(
        r.header("set-cookie")
            .is_some_and(|c| c.starts_with("JSESSIONID="))
    );

    let z = http
        .send(
            Method::GET,
            "/api/now/table/incident?sysparm_limit=20",
            &[
                ("authorization", &admin()),
                ("accept-encoding", "gzip, deflate"),
            ],
            Bytes::new(),
        )
        .await;
    assert_eq!(z.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&z.body[..])
        .read_to_string(&mut text)
        .expect("valid gzip");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON inside gzip");
    assert_eq!(v["result"].as_array().map(Vec::len), Some(20));

    let h2 = Http::h2(instance.base_url());
    let r = h2
        .get("/api/now/table/incident?sysparm_limit=2", &admin())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["result"].as_array().map(Vec::len), Some(2));
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn name_value_pairs_filter_like_a_query() {
    let (instance, http) = start(40).await;
    let by_query = http
        .get("/api/now/table/incident?sysparm_query=active%3Dtrue%5Epriority%3D1&sysparm_fields=sys_id", &admin())
        .await;
    let by_pairs = http
        .get(
            "/api/now/table/incident?active=true&priority=1&sysparm_fields=sys_id",
            &admin(),
        )
        .await;
    assert_eq!(by_query.json(), by_pairs.json());
    assert_eq!(
        by_query.header("x-total-count"),
        by_pairs.header("x-total-count")
    );
    let all = http
        .get("/api/now/table/incident?sysparm_fields=sys_id", &admin())
        .await;
    assert_ne!(
        all.header("x-total-count"),
        by_pairs.header("x-total-count")
    );
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn head_method_override_and_no_count() {
    let (instance, http) = start(30).await;
    let head = http
        .send(
            Method::HEAD,
            "/api/now/table/incident?sysparm_limit=1",
            &[("authorization", &admin())],
            Bytes::new(),
        )
        .await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert!(head.header("x-total-count").is_some());

    let created = http
        .json(
            Method::POST,
            "/api/now/table/incident",
            &admin(),
            &json!({"short_description": "override me"}),
        )
        .await;
    let id = created.json()["result"]["sys_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = http
        .send(
            Method::POST,
            &format!("/api/now/table/incident/{id}"),
            &[
                ("authorization", &admin()),
                ("content-type", "application/json"),
                ("x-http-method-override", "PATCH"),
            ],
            r#"{"short_description":"overridden"}"#,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["result"]["short_description"], "overridden");

    let r = http
        .get(
            "/api/now/table/incident?sysparm_limit=5&sysparm_no_count=true",
            &admin(),
        )
        .await;
    assert_eq!(
        r.header("x-total-count"),
        Some("5"),
        "no_count: the number of records returned"
    );
    let link = r.header("link").expect("more pages");
    assert!(
        link.contains("rel=\"next\"") && !link.contains("rel=\"last\""),
        "{link}"
    );
    instance.shutdown().await.expect("shutdown");
}
