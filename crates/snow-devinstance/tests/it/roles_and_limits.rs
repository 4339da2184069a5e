//! Role boundaries, secret redaction and absurd inputs, over real HTTP.

use crate::common::{Http, admin, basic, start};
use bytes::Bytes;
use http::Method;
use serde_json::json;

const ACL_INSERT: &str = "ACL Exception Insert Failed due to security constraints";
const ACL_UPDATE: &str = "ACL Exception Update Failed due to security constraints";
const ACL_DELETE: &str = "ACL Exception Delete Failed due to security constraints";

fn assert_acl(r: &crate::common::Reply, detail: &str) {
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"error":{"message":"Operation Failed","detail":detail},"status":"failure"})
    );
}

async fn first_sys_id(http: &Http, table: &str) -> String {
    let r = http
        .get(
            &format!("/api/now/table/{table}?sysparm_limit=1&sysparm_fields=sys_id"),
            &admin(),
        )
        .await;
    r.json()["result"][0]["sys_id"]
        .as_str()
        .expect("a record")
        .to_owned()
}

#[tokio::test]
async fn itil_writes_task_tables_only_and_never_deletes() {
    let (instance, http) = start(5).await;
    let itil = basic("itil", "itil");
    let reader = basic("reader", "reader");
    let body = json!({"short_description": "from itil"});

    // Task tables: create and update.
    for table in ["incident", "problem", "change_request", "task"] {
        let r = http
            .json(
                Method::POST,
                &format!("/api/now/table/{table}"),
                &itil,
                &body,
            )
            .await;
        assert_eq!(r.status, 201, "{table}: {}", r.text());
    }
    let problem = first_sys_id(&http, "problem").await;
    let r = http
        .json(
            Method::PATCH,
            &format!("/api/now/table/problem/{problem}"),
            &itil,
            &json!({"short_description": "patched"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["result"]["short_description"], "patched");

    // Other tables: 403 with the documented ACL bodies, and nothing written.
    let users_before = instance.admin().read_db(|db| db.count("sys_user"));
    let r = http
        .json(
            Method::POST,
            "/api/now/table/sys_user",
            &itil,
            &json!({"user_name": "intruder"}),
        )
        .await;
    assert_acl(&r, ACL_INSERT);
    assert_eq!(
        instance.admin().read_db(|db| db.count("sys_user")),
        users_before
    );
    let user = first_sys_id(&http, "sys_user").await;
    for method in [Method::PUT, Method::PATCH] {
        let r = http
            .json(
                method,
                &format!("/api/now/table/sys_user/{user}"),
                &itil,
                &json!({"title": "changed"}),
            )
            .await;
        assert_acl(&r, ACL_UPDATE);
    }
    let r = http
        .get(
            &format!("/api/now/table/sys_user/{user}?sysparm_fields=title"),
            &admin(),
        )
        .await;
    assert_ne!(r.json()["result"]["title"], "changed");

    // Deletes: never for itil, not even on task tables.
    let incident = first_sys_id(&http, "incident").await;
    let r = http
        .send(
            Method::DELETE,
            &format!("/api/now/table/incident/{incident}"),
            &[("authorization", &itil)],
            Bytes::new(),
        )
        .await;
    assert_acl(&r, ACL_DELETE);

    // Reader: read only, everywhere.
    let r = http
        .json(Method::POST, "/api/now/table/incident", &reader, &body)
        .await;
    assert_acl(&r, ACL_INSERT);
    let r = http
        .json(
            Method::PATCH,
            &format!("/api/now/table/incident/{incident}"),
            &reader,
            &body,
        )
        .await;
    assert_acl(&r, ACL_UPDATE);
    assert_eq!(
        http.get("/api/now/table/sys_user?sysparm_limit=1", &reader)
            .await
            .status,
        200
    );

    // Admin: everything.
    let r = http
        .json(
            Method::POST,
            "/api/now/table/sys_user",
            &admin(),
            &json!({"user_name": "newbie"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["result"]["sys_id"]
        .as_str()
        .expect("sys_id")
        .to_owned();
    let r = http
        .send(
            Method::DELETE,
            &format!("/api/now/table/sys_user/{id}"),
            &[("authorization", &admin())],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, 204);

    // Attachments follow the target record's table.
    let upload = |table: &str, record: &str| {
        format!("/api/now/attachment/file?table_name={table}&table_sys_id={record}&file_name=a.txt")
    };
    let headers = [
        ("authorization", itil.as_str()),
        ("content-type", "text/plain"),
    ];
    let r = http
        .send(
            Method::POST,
            &upload("sys_user", &user),
            &headers,
            Bytes::from_static(b"x"),
        )
        .await;
    assert_acl(&r, ACL_INSERT);
    let r = http
        .send(
            Method::POST,
            &upload("incident", &incident),
            &headers,
            Bytes::from_static(b"x"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn request_log_redacts_secret_query_parameters_in_any_spelling() {
    let (instance, http) = start(3).await;
    let key = instance.admin().mint_api_key("reader").expect("key");
    for query in [
        format!("x-sn-apikey={key}"),
        format!("x-sn-%61pikey={key}"),
        format!("X-SN-APIKEY={key}"),
    ] {
        http.send(
            Method::GET,
            &format!("/api/now/table/incident?sysparm_limit=1&{query}"),
            &[],
            Bytes::new(),
        )
        .await;
    }
    // Credentials in the token endpoint's query string (a client bug, but it happens).
    let r = http
        .send(
            Method::POST,
            "/oauth_token.do?grant_type=password&username=admin&password=Hunter2Secret&client_secret=snow-dev-secret&refresh_token=RefreshSecret",
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, 401);
    let log = instance.admin().request_log();
    assert_eq!(log.len(), 4);
    let everything = format!("{log:?}{:?}", instance.admin().counters());
    for secret in [
        key.as_str(),
        "Hunter2Secret",
        "snow-dev-secret",
        "RefreshSecret",
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked: {everything}"
        );
    }
    assert!(log[0].query.contains("sysparm_limit=1"), "{:?}", log[0]);
    assert!(log[3].query.contains("username=admin"), "{:?}", log[3]);
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn absurd_limits_offsets_and_field_lists_are_served() {
    let (instance, http) = start(30).await;
    let total: usize = http
        .get("/api/now/table/incident?sysparm_limit=1", &admin())
        .await
        .header("x-total-count")
        .and_then(|v| v.parse().ok())
        .expect("count");

    let r = http
        .get(
            "/api/now/table/incident?sysparm_limit=99999999999&sysparm_fields=number",
            &admin(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["result"].as_array().map(Vec::len), Some(total));
    assert_eq!(r.header("link"), None);

    // An offset too large for any integer type pages past the end; it must not wrap back to
    // the first page (a client paging by offset would loop forever).
    let r = http
        .get(
            "/api/now/table/incident?sysparm_limit=5&sysparm_offset=99999999999999999999999&sysparm_fields=number",
            &admin(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"result": []}));
    assert_eq!(r.header("x-total-count"), Some(total.to_string().as_str()));
    let link = r.header("link").expect("Link past the end");
    assert!(link.contains("rel=\"first\""), "{link}");
    assert!(!link.contains("rel=\"next\""), "{link}");

    // Negative and huge negative offsets are the first page.
    let first = http
        .get(
            "/api/now/table/incident?sysparm_limit=2&sysparm_fields=number",
            &admin(),
        )
        .await
        .json();
    for off in ["-5", "-99999999999999999999999"] {
        let r = http
            .get(
                &format!(
                    "/api/now/table/incident?sysparm_limit=2&sysparm_offset={off}&sysparm_fields=number"
                ),
                &admin(),
            )
            .await;
        assert_eq!(r.json(), first, "offset {off}");
    }

    // Thousands of unknown or repeated field names: rows shaped by the known ones only. (Such
    // a query string is too long to repeat in a Link header, so paging links are turned off.)
    let unknown: Vec<String> = (0..6000).map(|i| format!("f{i}")).collect();
    let r = http
        .get(
            &format!(
                "/api/now/table/incident?sysparm_limit=3&sysparm_suppress_pagination_header=true&sysparm_fields={},number,{}",
                unknown.join(","),
                vec!["number"; 3000].join(",")
            ),
            &admin(),
        )
        .await;
    assert_eq!(r.status, 200);
    let rows = r.json()["result"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let keys: Vec<&String> = row.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["number"]);
    }

    // Unknown parameters that cannot be field names are ignored, not parsed as query syntax.
    for odd in [
        "foo-bar=1",
        "cache%20buster=3",
        "x%5EORactive=true",
        "%20=1",
    ] {
        let r = http
            .get(
                &format!("/api/now/table/incident?sysparm_limit=1&{odd}"),
                &admin(),
            )
            .await;
        assert_eq!(r.status, 200, "{odd}: {}", r.text());
        assert_eq!(
            r.header("x-total-count"),
            Some(total.to_string().as_str()),
            "{odd}"
        );
    }

    let r = http
        .get("/api/now/table/incident?sysparm_limit=1", &admin())
        .await;
    assert_eq!(r.status, 200);
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn extreme_admin_settings_do_not_break_serving() {
    let (instance, http) = start(3).await;
    let form = "grant_type=password&client_id=snow-dev&client_secret=snow-dev-secret&username=itil&password=itil";
    let token = |http: Http| async move {
        http.send(
            Method::POST,
            "/oauth_token.do",
            &[("content-type", "application/x-www-form-urlencoded")],
            Bytes::from(form),
        )
        .await
    };
    let admin_put = |path: &'static str, body: serde_json::Value| {
        let http = http.clone();
        async move { http.json(Method::PUT, path, &admin(), &body).await }
    };

    // Clock shifted as far as it goes, both ways.
    for skew in [i64::MAX, i64::MIN + 1] {
        assert_eq!(
            admin_put("/__dev/clock", json!({ "skew_secs": skew }))
                .await
                .status,
            200
        );
        assert_eq!(token(http.clone()).await.status, 200);
        let r = http
            .json(
                Method::POST,
                "/api/now/table/incident",
                &basic("itil", "itil"),
                &json!({"short_description": "time travel"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    assert_eq!(
        admin_put("/__dev/clock", json!({"skew_secs": 0}))
            .await
            .status,
        200
    );

    // Token lifetimes as long as they go: a token is issued and works.
    assert_eq!(
        admin_put(
            "/__dev/token_ttl",
            json!({"access_secs": u64::MAX, "refresh_secs": u64::MAX})
        )
        .await
        .status,
        200
    );
    instance.admin().revoke_tokens(None);
    let r = token(http.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let access = r.json()["access_token"].as_str().expect("token").to_owned();
    assert!(r.json()["expires_in"].as_i64().is_some_and(|n| n > 1800));
    let r = http
        .get(
            "/api/now/table/incident?sysparm_limit=1",
            &format!("Bearer {access}"),
        )
        .await;
    assert_eq!(r.status, 200);

    // Latency rules whose sum overflows (on a path nobody calls) and a rate-limit window as
    // long as it goes.
    let r = http
        .json(
            Method::PUT,
            "/__dev/faults",
            &admin(),
            &json!([
                {"fault":{"kind":"latency","millis":u64::MAX},"trigger":{"mode":"always"},"path_prefix":"/api/now/table/incident","user":"nobody"},
                {"fault":{"kind":"latency","millis":u64::MAX},"trigger":{"mode":"always"},"path_prefix":"/api/now/table/incident","user":"nobody"},
            ]),
        )
        .await;
    assert_eq!(r.status, 200);
    instance.admin().clear_faults();
    assert_eq!(
        admin_put(
            "/__dev/rate_limits",
            json!([{"user":"reader","limit":0,"window_secs":u64::MAX}])
        )
        .await
        .status,
        200
    );
    let r = http
        .get(
            "/api/now/table/incident?sysparm_limit=1",
            &basic("reader", "reader"),
        )
        .await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    let r = http
        .get("/api/now/table/incident?sysparm_limit=1", &admin())
        .await;
    assert_eq!(r.status, 200);
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn token_endpoint_answers_access_denied_for_an_oversized_body() {
    let (instance, http) = start(1).await;
    let mut form = b"grant_type=password&username=admin&password=admin&pad=".to_vec();
    form.resize(10 * 1024 * 1024 + 16, b'a');
    let r = http
        .send(
            Method::POST,
            "/oauth_token.do",
            &[("content-type", "application/x-www-form-urlencoded")],
            form,
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        json!({"error_description":"access_denied","error":"server_error"})
    );
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn attachment_metadata_header_is_ascii_json() {
    let (instance, http) = start(2).await;
    let incident = first_sys_id(&http, "incident").await;
    let r = http
        .send(
            Method::POST,
            &format!(
                "/api/now/attachment/file?table_name=incident&table_sys_id={incident}&file_name=r%C3%A9sum%C3%A9%20%F0%9F%98%80.txt"
            ),
            &[
                ("authorization", admin().as_str()),
                ("content-type", "text/plain"),
            ],
            Bytes::from_static(b"cv"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["result"]["sys_id"]
        .as_str()
        .expect("sys_id")
        .to_owned();
    let r = http
        .get(&format!("/api/now/attachment/{id}/file"), &admin())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..], b"cv");
    let raw = r
        .headers
        .get("x-attachment-metadata")
        .expect("X-Attachment-Metadata");
    assert!(raw.as_bytes().is_ascii());
    let meta: serde_json::Value = serde_json::from_slice(raw.as_bytes()).expect("JSON");
    assert_eq!(meta["file_name"], "résumé 😀.txt");
    assert_eq!(meta["sys_id"], id.as_str());
    assert_eq!(meta["size_bytes"], "2");
    assert_eq!(
        r.header("content-disposition"),
        Some(
            "attachment;filename=\"r_sum_ _.txt\";filename*=UTF-8''r%C3%A9sum%C3%A9%20%F0%9F%98%80.txt"
        )
    );
    instance.shutdown().await.expect("shutdown");
}
