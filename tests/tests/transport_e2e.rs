//! End to end over real sockets: snow-transport with snow-basic authenticators against an
//! in-test HTTP server on 127.0.0.1 that checks what it receives.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use snow_basic::{ApiKey, BasicAuth};
use snow_transport::{Body, Instance, RetryConfig, Transport};

type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A server that answers 503 to the first request, then checks Basic credentials like an
/// instance would: 200 with a result for `admin:s3cret`, 401 otherwise. Logs (URI, Authorization).
async fn instance_like_server() -> (SocketAddr, Log) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let state = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let state = state.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let state = state.clone();
                    async move {
                        let auth = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let n = {
                            let mut log = state.lock().unwrap();
                            log.push((req.uri().to_string(), auth.clone()));
                            log.len()
                        };
                        let (status, body) = if n == 1 {
                            (503, "")
                        } else if auth.as_deref() == Some("Basic YWRtaW46czNjcmV0")
                            || req
                                .uri()
                                .query()
                                .is_some_and(|q| q.contains("x-sn-apikey=k%2F1"))
                        {
                            (200, r#"{"result":[{"number":"INC0000001"}]}"#)
                        } else {
                            (
                                401,
                                r#"{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}"#,
                            )
                        };
                        Ok::<_, Infallible>(
                            Response::builder()
                                .status(status)
                                .header("content-type", "application/json;charset=UTF-8")
                                .body(Full::new(Bytes::from_static(body.as_bytes())))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, log)
}

#[tokio::test]
async fn basic_auth_call_survives_a_503_and_reads_the_result() {
    let (addr, log) = instance_like_server().await;
    let instance = Instance::from_url(&format!("http://{addr}")).unwrap();
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
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2, "one 503, one retry");
    for (uri, auth) in &log {
        assert_eq!(uri, "/api/now/table/incident?sysparm_limit=1");
        assert_eq!(auth.as_deref(), Some("Basic YWRtaW46czNjcmV0"));
    }
}

#[tokio::test]
async fn wrong_password_gets_the_401_back_and_api_key_in_query_works() {
    let (addr, log) = instance_like_server().await;
    let instance = Instance::from_url(&format!("http://{addr}")).unwrap();
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
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 3);
    assert_eq!(log[2].0, "/api/now/table/incident?x-sn-apikey=k%2F1");
    assert_eq!(log[2].1, None);
}
