//! Retries over real sockets; attempts are counted on the server. The tests that wait for a
//! `Retry-After` or a timeout run on tokio's paused clock, so they cost no real time.

use std::time::{Duration, SystemTime};

use http::Request;
use snow_test_support::proxy::ConnectProxy;
use snow_test_support::server::{reply, serve, serve_first_then_ok};
use snow_transport::{
    Body, LongRetryAfter, Proxy, RetryConfig, RetryNonIdempotent, Transport, TransportError,
};
use tokio::time::Instant;

fn quick() -> RetryConfig {
    RetryConfig::default()
        .base_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(50))
}

fn with_header(status: u16, name: &'static str, value: String) -> snow_test_support::server::Reply {
    let mut r = reply(status, "{}");
    r.headers_mut().insert(name, value.parse().unwrap());
    r
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_one_second_is_retried_after_waiting() {
    let server = serve_first_then_ok(|| with_header(429, "retry-after", "1".into())).await;
    let t = Transport::builder(server.instance())
        .retry(quick())
        .build()
        .unwrap();
    let start = Instant::now();
    let resp = t.send(crate::get("/api/now/table/x")).await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(resp.status(), 200);
    assert_eq!(server.count(), 2);
    // The wait was honoured (a correctness check of waiting, not a performance bound).
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_http_date_is_honoured() {
    let server = serve_first_then_ok(|| {
        let when = SystemTime::now() + Duration::from_secs(2);
        with_header(429, "retry-after", httpdate::fmt_http_date(when))
    })
    .await;
    let t = Transport::builder(server.instance())
        .retry(quick())
        .build()
        .unwrap();
    let start = Instant::now();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(server.count(), 2);
    assert!(start.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn a_huge_retry_after_is_an_error_by_default() {
    let server = serve(|_, _| async { with_header(429, "retry-after", "3600".into()) }).await;
    let t = Transport::builder(server.instance())
        .retry(quick())
        .build()
        .unwrap();
    let err = t.send(crate::get("/x")).await.unwrap_err();
    match &err {
        TransportError::RetryAfterTooLong { retry_after, limit } => {
            assert_eq!(*retry_after, Duration::from_secs(3600));
            assert_eq!(*limit, Duration::from_secs(60));
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("3600"), "{err}");
    assert_eq!(server.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_huge_retry_after_can_be_capped_instead() {
    let server = serve_first_then_ok(|| with_header(429, "retry-after", "3600".into())).await;
    let t = Transport::builder(server.instance())
        .retry(
            quick()
                .max_retry_after(Duration::from_secs(1))
                .retry_after_too_long(LongRetryAfter::Cap),
        )
        .build()
        .unwrap();
    let start = Instant::now();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(server.count(), 2);
    assert!(start.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn gateway_errors_are_retried() {
    for status in [502u16, 503, 504] {
        let server = serve_first_then_ok(move || reply(status, "")).await;
        let t = Transport::builder(server.instance())
            .retry(quick())
            .build()
            .unwrap();
        let resp = t
            .send(
                Request::delete("/api/now/table/x/1")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{status}");
        assert_eq!(server.count(), 2, "{status}");
    }
}

#[tokio::test]
async fn attempts_are_capped_and_the_last_answer_returned() {
    let server = serve(|_, _| async { reply(503, "busy") }).await;
    let t = Transport::builder(server.instance())
        .retry(quick().max_attempts(4))
        .build()
        .unwrap();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.into_body().collect_bytes().await.unwrap(), "busy");
    assert_eq!(server.count(), 4);

    let t = Transport::builder(server.instance())
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    t.send(crate::get("/x")).await.unwrap();
    assert_eq!(server.count(), 5);
}

#[tokio::test]
async fn other_statuses_are_not_retried() {
    let server = serve(|_, _| async { reply(500, "{}") }).await;
    let t = Transport::builder(server.instance())
        .retry(quick())
        .build()
        .unwrap();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_get_answered_202_is_retried_unless_turned_off_and_a_post_never() {
    // ServiceNow's session-synchronisation rejection: 202 with no body, then success.
    let server = serve(|_, i| async move {
        if i % 2 == 0 {
            reply(202, "")
        } else {
            reply(200, "{}")
        }
    })
    .await;
    let get = || crate::get("/api/now/table/x");
    let t = Transport::builder(server.instance())
        .retry(quick())
        .build()
        .unwrap();
    assert_eq!(t.send(get()).await.unwrap().status(), 200);
    assert_eq!(server.count(), 2);

    let off = Transport::builder(server.instance())
        .retry(quick().retry_session_rejected(false))
        .build()
        .unwrap();
    assert_eq!(off.send(get()).await.unwrap().status(), 202);
    assert_eq!(server.count(), 3);

    // A 202 to a write is an answer, not a rejection to retry (even when retries are allowed).
    let _ = t.send(get()).await.unwrap(); // request 4 gets 200; request 5 will get 202
    let mut post = Request::post("/api/now/table/x")
        .body(Body::from("{}"))
        .unwrap();
    post.extensions_mut().insert(RetryNonIdempotent);
    assert_eq!(t.send(post).await.unwrap().status(), 202);
    assert_eq!(server.count(), 5);
}

#[tokio::test]
async fn post_is_not_retried_unless_asked() {
    let server = serve(|_, i| async move {
        // The first two attempts are refused, the third accepted.
        if i < 2 {
            reply(503, "")
        } else {
            reply(201, "{}")
        }
    })
    .await;
    let t = Transport::builder(server.instance())
        .retry(quick())
        .build()
        .unwrap();
    let resp = t
        .send(
            Request::post("/api/now/table/incident")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(server.count(), 1);

    let mut req = Request::post("/api/now/table/incident")
        .body(Body::from(r#"{"a":1}"#))
        .unwrap();
    req.extensions_mut().insert(RetryNonIdempotent);
    let resp = t.send(req).await.unwrap();
    assert_eq!(resp.status(), 201);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].body, r#"{"a":1}"#);
}

#[tokio::test]
async fn a_streamed_body_is_never_retried() {
    let server = serve(|_, _| async { reply(503, "") }).await;
    let t = Transport::builder(server.instance())
        .retry(quick())
        .build()
        .unwrap();
    let body = Body::from_stream(futures_util::stream::iter(vec![Ok::<
        _,
        snow_transport::BoxError,
    >(
        bytes::Bytes::from_static(b"chunk"),
    )]));
    let resp = t
        .send(Request::put("/x").body(body).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn connect_failures_are_retried() {
    // The proxy refuses the first two tunnels: each is a failed connection attempt.
    let server = serve(|_, _| async { reply(200, "{}") }).await;
    let proxy = ConnectProxy::start_with(None, 2).await;
    let t = Transport::builder(server.instance())
        .proxy(Proxy::http(proxy.url()))
        .retry(quick())
        .build()
        .unwrap();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(proxy.connects().len(), 3);
    assert_eq!(server.count(), 1);

    // With retries off, the failure surfaces as a connect error.
    let proxy = ConnectProxy::start_with(None, 1).await;
    let t = Transport::builder(server.instance())
        .proxy(Proxy::http(proxy.url()))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let err = t.send(crate::get("/x")).await.unwrap_err();
    assert!(matches!(err, TransportError::Connect { .. }), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    // Bind then drop a listener to get a port nobody listens on.
    let addr = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let instance = snow_transport::Instance::from_url(&format!("http://{addr}")).unwrap();
    let t = Transport::builder(instance)
        .retry(quick().max_attempts(2))
        .build()
        .unwrap();
    let err = t.send(crate::get("/x")).await.unwrap_err();
    assert!(matches!(err, TransportError::Connect { .. }), "{err}");
    assert!(err.to_string().starts_with("could not connect"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_503_with_retry_after_is_honoured_and_a_429_without_one_backs_off() {
    let server = serve(|_, i| async move {
        match i {
            0 => with_header(503, "retry-after", "1".into()),
            1 => reply(429, "{}"),
            _ => reply(200, "{}"),
        }
    })
    .await;
    let t = Transport::builder(server.instance())
        .retry(quick())
        .build()
        .unwrap();
    let start = Instant::now();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(server.count(), 3);
    // The 503's Retry-After was waited for (a check that waiting happened, not a time bound).
    assert!(start.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn a_408_is_retried_like_every_answer_of_a_retryable_kind() {
    let server = serve_first_then_ok(|| reply(408, "")).await;
    let t = Transport::builder(server.instance())
        .retry(quick())
        .build()
        .unwrap();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(server.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_attempt_that_times_out_is_retried() {
    // The first request and every POST stall past the per-attempt timeout; others are
    // answered at once.
    let server = serve(|seen, i| async move {
        if i == 0 || seen.method == http::Method::POST {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        reply(200, "{}")
    })
    .await;
    let t = Transport::builder(server.instance())
        .timeout(Duration::from_millis(300))
        .retry(quick())
        .build()
        .unwrap();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(server.count(), 2);

    // A POST is not retried: the timeout surfaces.
    let err = t
        .send(Request::post("/x").body(Body::from("{}")).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(err.is_retryable(), "{err}");
    assert_eq!(server.count(), 3);
}

#[derive(Debug, Default)]
struct FlakyAuth {
    calls: std::sync::atomic::AtomicUsize,
}

#[snow_core::async_trait]
impl snow_core::Authenticator for FlakyAuth {
    async fn authenticate(&self, _: &mut http::request::Parts) -> Result<(), snow_core::AuthError> {
        if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            return Err(snow_core::AuthError::refused("token endpoint down", true));
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_transient_authentication_failure_is_retried_and_a_permanent_one_is_not() {
    let server = serve(|_, _| async { reply(200, "{}") }).await;
    let auth = std::sync::Arc::new(FlakyAuth::default());
    let t = Transport::builder(server.instance())
        .auth_arc(auth.clone())
        .retry(quick())
        .build()
        .unwrap();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(auth.calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(server.count(), 1);

    let t = Transport::builder(server.instance())
        .auth(snow_basic::BearerToken::new("bad\ntoken"))
        .retry(quick())
        .build()
        .unwrap();
    let err = t.send(crate::get("/x")).await.unwrap_err();
    assert!(matches!(err, TransportError::Auth(_)), "{err}");
    assert_eq!(err.kind(), snow_transport::ErrorKind::Auth);
    assert_eq!(server.count(), 1);
}
