//! End to end over real sockets: snow-transport with snow-basic authenticators against an
//! in-test HTTP server on 127.0.0.1 that checks what it receives.

use std::time::Duration;

use http::Request;
use snow_basic::{ApiKey, BasicAuth};
use snow_test_support::server::{RecordingServer, reply, serve};
use snow_transport::{Body, RetryConfig, Transport};

/// A server that answers 503 to the first request, then checks Basic credentials like an
/// instance would: 200 with a result for `admin:s3cret` (or the API key `k/1` in the query),
/// 401 otherwise. It records every request.
async fn instance_like_server() -> RecordingServer {
    serve(|seen, index| async move {
        let auth = seen
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if index == 0 {
            reply(503, "")
        } else if auth == Some("Basic YWRtaW46czNjcmV0")
            || seen
                .uri
                .query()
                .is_some_and(|q| q.contains("x-sn-apikey=k%2F1"))
        {
            reply(200, r#"{"result":[{"number":"INC0000001"}]}"#)
        } else {
            reply(
                401,
                r#"{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}"#,
            )
        }
    })
    .await
}

/// (URI, Authorization) of every request the server saw.
fn log(server: &RecordingServer) -> Vec<(String, Option<String>)> {
    server
        .seen()
        .into_iter()
        .map(|r| {
            let auth = r
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            (r.uri.to_string(), auth)
        })
        .collect()
}

#[tokio::test]
async fn basic_auth_call_survives_a_503_and_reads_the_result() {
    let server = instance_like_server().await;
    let instance = server.instance();
    let transport = Transport::builder(instance)
        .auth(BasicAuth::new("admin", "s3cret"))
        .retry(RetryConfig::default().base_delay(Duration::from_millis(10)))
        .build()
        .unwrap();
    let resp = transport
        .send(
            Request::get("/api/now/table/incident?sysparm_limit=1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect_bytes().await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["result"][0]["number"], "INC0000001");
    let log = log(&server);
    assert_eq!(log.len(), 2, "one 503, one retry");
    for (uri, auth) in &log {
        assert_eq!(uri, "/api/now/table/incident?sysparm_limit=1");
        assert_eq!(auth.as_deref(), Some("Basic YWRtaW46czNjcmV0"));
    }
}

#[tokio::test]
async fn wrong_password_gets_the_401_back_and_api_key_in_query_works() {
    let server = instance_like_server().await;
    let instance = server.instance();
    let wrong = Transport::builder(instance.clone())
        .auth(BasicAuth::new("admin", "nope"))
        .retry(RetryConfig::default().base_delay(Duration::from_millis(10)))
        .build()
        .unwrap();
    let resp = wrong
        .send(
            Request::get("/api/now/table/incident")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body = resp.into_body().collect_bytes().await.unwrap();
    assert!(body.starts_with(b"{\"error\""));

    let keyed = Transport::builder(instance)
        .auth(ApiKey::new("k/1").in_query())
        .build()
        .unwrap();
    let resp = keyed
        .send(
            Request::get("/api/now/table/incident")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let log = log(&server);
    assert_eq!(log.len(), 3);
    assert_eq!(log[2].0, "/api/now/table/incident?x-sn-apikey=k%2F1");
    assert_eq!(log[2].1, None);
}
