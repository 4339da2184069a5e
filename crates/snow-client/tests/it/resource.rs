//! The generic resource: any API path, any method, appended paths, query parameters and
//! headers, as pysnow's `resource(api_path=...)` and `request()` offer them.

use crate::common::{client, log_for, param, start};
use http::Method;
use serde_json::json;
use snow_client::{Error, Record};

#[tokio::test]
async fn custom_requests_with_paths_headers_and_bodies() {
    let dev = start(5).await;
    let c = client(&dev, "admin");
    let res = c.resource("/api/now/table/incident");

    let resp = res
        .get()
        .query("sysparm_limit", "2")
        .header("foo", "bar")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), http::StatusCode::OK);
    assert_eq!(resp.list::<Record>().unwrap().len(), 2);
    let r = log_for(&dev, "/api/now/table/incident").pop().unwrap();
    assert!(r.headers.iter().any(|(k, v)| k == "foo" && v == "bar"));
    assert_eq!(param(&r, "sysparm_limit").as_deref(), Some("2"));

    // POST with a JSON body, then path_append "/<sys_id>".
    let created: Record = res
        .post()
        .json(&json!({"short_description": "via resource"}))
        .await
        .unwrap()
        .one()
        .unwrap();
    let id = created.sys_id().unwrap().to_owned();
    let got: Record = res
        .get()
        .path(format!("/{id}"))
        .await
        .unwrap()
        .one()
        .unwrap();
    assert_eq!(got.str("short_description"), Some("via resource"));
    let del = res.request(Method::DELETE).path(id.as_str()).await.unwrap();
    assert_eq!(del.status(), http::StatusCode::NO_CONTENT);
    del.expect_success().unwrap();

    // Errors come back typed from the response methods.
    let missing = res.get().path(id.as_str()).await.unwrap();
    assert_eq!(missing.status(), http::StatusCode::NOT_FOUND);
    assert!(matches!(missing.one::<Record>(), Err(Error::Api { .. })));

    // Case 17: bad appended paths are refused before sending.
    dev.admin().clear_request_log();
    for bad in ["foo/", "", "a//b", "../x"] {
        let err = res.get().path(bad).send().await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{bad}");
    }
    // Case 3: bad resource paths.
    for bad in ["not_valid", "not/valid", "not/valid/", "/"] {
        let err = c.resource(bad).get().send().await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{bad}");
    }
    let err = res
        .get()
        .header("bad header", "x")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
    assert!(dev.admin().request_log().is_empty());

    // A namespaced API path is addressed as given (the dev instance knows only /api/now).
    let other = c
        .resource("/api/x_acme/v1/orders")
        .get()
        .path("42")
        .send()
        .await
        .unwrap();
    assert!(other.status().is_client_error());
    assert!(other.expect_success().is_err());
    assert_eq!(
        dev.admin().request_log().pop().unwrap().path,
        "/api/x_acme/v1/orders/42"
    );
    dev.shutdown().await.unwrap();
}
