//! What an operator sees: a TRACE capture of requests with a retry shows a span per request
//! and per attempt (method, path, status, attempt number, transaction id, bytes, latency, retry
//! reasons) and never a query value or a credential; retries warn; a cancelled request warns.

use std::time::Duration;

use http::Request;
use snow_basic::{ApiKey, BasicAuth};
use snow_test_support::server::{reply, serve};
use snow_test_support::{Capture, assert_no_secret};
use snow_transport::{Body, RetryConfig, Transport};

const PASSWORD: &str = "pw-9f8e7d6c5b4a";
const API_KEY: &str = "key-0a1b2c3d4e5f";
const QUERY_VALUE: &str = "caller_secret_value";

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_trace_capture_shows_requests_and_attempts_with_transaction_ids_and_no_secrets() {
    let capture = Capture::default();
    let _guard = capture.install();
    let server = serve(|_, i| async move {
        let mut r = if i == 0 {
            reply(503, r#"{"error":{"message":"busy"}}"#)
        } else {
            reply(200, r#"{"result":[{"number":"INC0000001"}]}"#)
        };
        r.headers_mut().insert(
            "x-transaction-id",
            format!("a1b2c3d4e5f6{i:04}").parse().unwrap(),
        );
        r.headers_mut().insert(
            "server-timing",
            "sem_wait;dur=7, sesh_wait;dur=0".parse().unwrap(),
        );
        r
    })
    .await;
    let basic = Transport::builder(server.instance())
        .auth(BasicAuth::new("admin", PASSWORD))
        .retry(
            RetryConfig::default()
                .base_delay(Duration::from_millis(10))
                .max_delay(Duration::from_millis(20)),
        )
        .build()
        .unwrap();
    let path = format!(
        "/api/now/table/incident?sysparm_query=short_description%3D{QUERY_VALUE}&sysparm_limit=1"
    );
    let resp = basic.send(crate::get(path.as_str())).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect_bytes().await.unwrap();
    // An API key in the query string, as ServiceNow allows it.
    let keyed = Transport::builder(server.instance())
        .auth(ApiKey::new(API_KEY).in_query())
        .build()
        .unwrap();
    keyed
        .send(
            Request::post("/api/now/table/incident?sysparm_fields=number")
                .body(Body::from(r#"{"short_description":"printer"}"#))
                .unwrap(),
        )
        .await
        .unwrap()
        .into_body()
        .collect_bytes()
        .await
        .unwrap();

    let log = capture.text();
    // A span per logical request and per attempt, nested, with what happened.
    assert!(
        log.contains("snow.request{method=GET path=/api/now/table/incident"),
        "{log}"
    );
    assert!(log.contains("snow.attempt{attempt=1"), "{log}");
    assert!(log.contains("snow.attempt{attempt=2"), "{log}");
    assert!(log.contains("status=503"), "{log}");
    assert!(log.contains("status=200"), "{log}");
    assert!(
        log.contains("transaction_id=\"a1b2c3d4e5f60000\"")
            || log.contains("transaction_id=a1b2c3d4e5f60000"),
        "{log}"
    );
    assert!(log.contains("a1b2c3d4e5f60001"), "{log}");
    assert!(log.contains("sem_wait_ms=7"), "{log}");
    assert!(
        log.contains("retry_reasons=\"server_error\"")
            || log.contains("retry_reasons=server_error"),
        "{log}"
    );
    assert!(log.contains(&format!("bytes_in={}", body.len())), "{log}");
    assert!(log.contains("latency_ms="), "{log}");
    assert!(
        log.contains("WARN") && log.contains("retrying request"),
        "{log}"
    );
    assert!(
        log.contains("reason=\"server_error\"") || log.contains("reason=server_error"),
        "{log}"
    );
    assert!(
        log.contains("snow.request{method=POST path=/api/now/table/incident"),
        "{log}"
    );
    assert!(log.contains("bytes_out=31"), "{log}");
    // Never a query value or a credential.
    assert_no_secret(&log, &[QUERY_VALUE.into(), PASSWORD.into(), API_KEY.into()]);
    for text in ["sysparm_", "Basic ", "authorization"] {
        assert!(!log.contains(text), "{text} in the log");
    }
    let stats = basic.stats();
    assert_eq!(stats.bytes_received, body.len() as u64);
    assert_eq!(stats.retries.server_error, 1);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_request_dropped_before_its_answer_warns_and_is_counted() {
    let capture = Capture::default();
    let _guard = capture.install();
    let server = serve(|_, _| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        reply(200, "{}")
    })
    .await;
    let t = Transport::builder(server.instance()).build().unwrap();
    let send = t.send(crate::get("/api/now/table/incident"));
    assert!(
        tokio::time::timeout(Duration::from_secs(1), send)
            .await
            .is_err()
    );
    assert_eq!(t.stats().cancelled, 1);
    let log = capture.text();
    assert!(
        log.contains("WARN") && log.contains("request cancelled"),
        "{log}"
    );
}
