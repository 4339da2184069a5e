//! Composition: caller layers, a custom inner service, the erased service, the concurrency
//! limit, token exchanges, and what `Debug` shows.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Request, Response};
use snow_basic::{ApiKey, BasicAuth, BearerToken};
use snow_core::secret::SecretString;
use snow_core::{ExchangeError, HttpExchange, Instance};
use snow_test_support::server::{reply, serve, serve_first_then_ok};
use snow_transport::{Body, Proxy, RetryConfig, SnowService, TlsConfig, Transport, TransportError};
use tower::{ServiceExt, service_fn};

/// A caller layer that stamps a header and counts calls.
fn stamping_layer(
    count: Arc<AtomicUsize>,
) -> impl tower::Layer<SnowService, Service = SnowService> + Send + 'static {
    tower::layer::layer_fn(move |svc: SnowService| {
        let count = count.clone();
        SnowService::new(svc.map_request(move |mut req: Request<Body>| {
            count.fetch_add(1, Ordering::SeqCst);
            req.headers_mut()
                .insert("x-layer", "stamped".parse().unwrap());
            req
        }))
    })
}

#[tokio::test]
async fn a_caller_layer_runs_on_top_of_the_stack() {
    let server = serve_first_then_ok(|| reply(503, "")).await;
    let count = Arc::new(AtomicUsize::new(0));
    let t = Transport::builder(server.instance())
        .layer(stamping_layer(count.clone()))
        .retry(RetryConfig::default().base_delay(Duration::from_millis(5)))
        .build()
        .unwrap();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
    // Outside retry: called once, while the server saw both attempts, each stamped.
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|s| s.headers["x-layer"] == "stamped"));
}

#[tokio::test]
async fn a_custom_inner_service_replaces_the_client_and_keeps_the_stack() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen_calls = calls.clone();
    let inner = service_fn(move |req: Request<Body>| {
        let n = seen_calls.fetch_add(1, Ordering::SeqCst);
        async move {
            // The stack above has resolved the URI and authenticated the request.
            assert_eq!(
                req.uri().to_string(),
                "https://acme.service-now.com/api/now/table/x"
            );
            assert_eq!(req.headers()["authorization"], "Bearer tok");
            assert_eq!(req.headers()["accept"], "application/json");
            let status = if n == 0 { 502 } else { 200 };
            Ok::<_, std::convert::Infallible>(
                Response::builder()
                    .status(status)
                    .body(http_body_util::Full::new(bytes::Bytes::from_static(
                        b"local",
                    )))
                    .unwrap(),
            )
        }
    });
    let count = Arc::new(AtomicUsize::new(0));
    let t = Transport::builder(Instance::from_name("acme").unwrap())
        .auth(BearerToken::new("tok"))
        .retry(RetryConfig::default().base_delay(Duration::from_millis(1)))
        .layer(stamping_layer(count.clone()))
        .inner_service(inner)
        .max_response_body(4)
        .build()
        .unwrap();
    let resp = t.send(crate::get("/api/now/table/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
    // The body cap applies to the custom service's bodies too.
    let err = resp.into_body().collect_bytes().await.unwrap_err();
    assert!(
        matches!(err, TransportError::BodyTooLarge { limit: 4 }),
        "{err}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_erased_service_is_clone_send_sync_and_errors_downcast() {
    let server = serve(|_, _| async { reply(200, "{}") }).await;
    let t = Transport::builder(server.instance()).build().unwrap();
    let svc: SnowService = t.service();
    fn assert_traits<T: Clone + Send + Sync + 'static>(_: &T) {}
    assert_traits(&svc);
    assert_traits(&t);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let svc = svc.clone();
            tokio::spawn(async move { svc.oneshot(crate::get("/x")).await.unwrap().status() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(server.count(), 4);
    let err = svc
        .oneshot(crate::get("http://example.com/x"))
        .await
        .unwrap_err();
    assert!(matches!(
        err.downcast_ref::<TransportError>(),
        Some(TransportError::CrossOrigin { .. })
    ));
}

#[tokio::test]
async fn the_concurrency_limit_holds() {
    let server = serve(|_, _| async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        reply(200, "{}")
    })
    .await;
    let t = Transport::builder(server.instance())
        .concurrency_limit(2)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let t = t.clone();
            tokio::spawn(async move { t.send(crate::get("/x")).await.unwrap().status() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(server.count(), 8);
    // Never more than the limit (two at once is expected, but a loaded machine may serialise).
    let max = server.max_in_flight();
    assert!((1..=2).contains(&max), "{max} requests in flight at once");
}

#[tokio::test]
async fn token_exchange_goes_anywhere_without_auth_retry_or_redirects() {
    let idp = serve(|seen, i| async move {
        assert!(seen.headers.get("authorization").is_none());
        assert!(seen.headers.get("x-sn-apikey").is_none());
        match i {
            0 => {
                let mut r = reply(302, "");
                r.headers_mut()
                    .insert("location", "http://127.0.0.1:1/elsewhere".parse().unwrap());
                r
            }
            _ => reply(503, "down"),
        }
    })
    .await;
    let instance = serve(|_, _| async { reply(200, "{}") }).await;
    let t = Transport::builder(instance.instance())
        .auth(ApiKey::new("k"))
        .build()
        .unwrap();
    let post = |body: &'static [u8]| {
        Request::post(format!("{}/oauth_token.do", idp.url()))
            .body(body.to_vec())
            .unwrap()
    };
    let resp = t.exchange(post(b"a=1")).await.unwrap();
    assert_eq!(resp.status(), 302);
    let resp = t.exchange(post(b"a=2")).await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.body(), b"down");
    assert_eq!(idp.count(), 2);
    assert_eq!(instance.count(), 0);
    assert!(
        idp.seen()[0].headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("snow/")
    );

    let err = t
        .exchange(Request::post("/oauth_token.do").body(Vec::new()).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, ExchangeError::InvalidRequest { .. }), "{err}");
}

#[test]
fn debug_output_never_shows_secrets() {
    let secrets = [
        "hunter2",
        "k3y-value",
        "b3arer-tok",
        "pr0xy-pass",
        "h3ader-secret",
    ];
    let instance = Instance::from_name("acme").unwrap();
    let builders = [
        Transport::builder(instance.clone()).auth(BasicAuth::new("admin", "hunter2")),
        Transport::builder(instance.clone()).auth(ApiKey::new("k3y-value").in_query()),
        Transport::builder(instance.clone())
            .auth(BearerToken::new(SecretString::from("b3arer-tok"))),
    ];
    for b in builders {
        let b = b
            .proxy(Proxy::http("http://proxy:3128").basic_auth("pu", "pr0xy-pass"))
            .default_header("x-extra-token", "h3ader-secret")
            .tls(TlsConfig::default());
        let shown_builder = format!("{b:?}");
        let t = b.build().unwrap();
        for shown in [shown_builder, format!("{t:?}"), format!("{t:#?}")] {
            for s in secrets {
                assert!(!shown.contains(s), "{s} in {shown}");
            }
            assert!(shown.contains("acme.service-now.com"), "{shown}");
        }
    }
}

#[test]
fn the_transport_builds_without_a_runtime_and_reports_bad_settings() {
    let instance = Instance::from_name("acme").unwrap();
    assert!(Transport::builder(instance.clone()).build().is_ok());
    assert!(
        Transport::builder(instance.clone())
            .concurrency_limit(0)
            .build()
            .is_err()
    );
    assert!(
        Transport::builder(instance.clone())
            .retry(RetryConfig::default().max_attempts(0))
            .build()
            .is_err()
    );
    let err = Transport::builder(instance.clone())
        .default_header("bad header", "v")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("bad header"), "{err}");
    let err = Transport::builder(instance)
        .default_header("x-ok", "line\nbreak-secret")
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains("break-secret"), "{err}");
}

#[tokio::test]
async fn token_calls_to_another_origin_get_no_credential_default_headers() {
    let idp = serve(|_, _| async { reply(200, "{}") }).await;
    let instance = serve(|_, _| async { reply(200, "{}") }).await;
    let t = Transport::builder(instance.instance())
        .default_header("x-sn-apikey", "k3y-value")
        .default_header("authorization", "Bearer h3ader-secret")
        .default_header("x-usertoken", "csrf-t0ken")
        .default_header("x-requested-by", "nightly")
        .build()
        .unwrap();
    let post = |base: String| {
        Request::post(format!("{base}/oauth_token.do"))
            .body(b"grant_type=x".to_vec())
            .unwrap()
    };
    t.exchange(post(idp.url())).await.unwrap();
    let seen = &idp.seen()[0];
    assert!(seen.headers.get("x-sn-apikey").is_none(), "{seen:?}");
    assert!(seen.headers.get("authorization").is_none(), "{seen:?}");
    assert!(seen.headers.get("x-usertoken").is_none(), "{seen:?}");
    assert_eq!(seen.headers["x-requested-by"], "nightly");
    assert!(seen.headers.get("user-agent").is_some());

    // The instance's own token endpoint gets them, as every other call to it does.
    t.exchange(post(instance.url())).await.unwrap();
    let seen = &instance.seen()[0];
    assert_eq!(seen.headers["x-sn-apikey"], "k3y-value");
    assert_eq!(seen.headers["authorization"], "Bearer h3ader-secret");
}

#[tokio::test]
async fn credential_default_headers_are_marked_sensitive() {
    let flags = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = flags.clone();
    let inner = service_fn(move |req: Request<Body>| {
        let recorded = recorded.clone();
        async move {
            for name in [
                "authorization",
                "x-sn-apikey",
                "x-usertoken",
                "x-requested-by",
            ] {
                recorded
                    .lock()
                    .unwrap()
                    .push((name, req.headers()[name].is_sensitive()));
            }
            Ok::<_, std::convert::Infallible>(Response::new(
                http_body_util::Empty::<bytes::Bytes>::new(),
            ))
        }
    });
    let t = Transport::builder(Instance::from_name("acme").unwrap())
        .default_header("authorization", "Bearer x")
        .default_header("x-sn-apikey", "k")
        .default_header("x-usertoken", "t")
        .default_header("x-requested-by", "nightly")
        .inner_service(inner)
        .build()
        .unwrap();
    t.send(crate::get("/x")).await.unwrap();
    assert_eq!(
        *flags.lock().unwrap(),
        vec![
            ("authorization", true),
            ("x-sn-apikey", true),
            ("x-usertoken", true),
            ("x-requested-by", false)
        ]
    );
}

#[tokio::test]
async fn timeouts_too_long_to_represent_mean_no_deadline_not_a_panic() {
    let server = serve(|_, _| async { reply(200, r#"{"result":[]}"#) }).await;
    let t = Transport::builder(server.instance())
        .timeout(Duration::MAX)
        .total_timeout(Duration::MAX)
        .read_timeout(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .pool_idle_timeout(Duration::MAX)
        .retry(
            RetryConfig::default()
                .max_delay(Duration::MAX)
                .max_retry_after(Duration::MAX),
        )
        .build()
        .unwrap();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(
        resp.into_body().collect_bytes().await.unwrap(),
        r#"{"result":[]}"#
    );
    let resp = t
        .exchange(
            Request::get(format!("{}/x", server.url()))
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[test]
fn an_unrepresentable_concurrency_limit_is_a_build_error_not_a_panic() {
    let err = Transport::builder(Instance::from_name("acme").unwrap())
        .concurrency_limit(usize::MAX)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("concurrency limit"), "{err}");
}

#[tokio::test]
async fn with_auth_shares_the_pool_and_the_layers_but_not_the_credentials() {
    let server = serve(|_, _| async move { reply(200, "{}") }).await;
    let layered = Arc::new(AtomicUsize::new(0));
    let base = Transport::builder(server.instance())
        .layer(stamping_layer(layered.clone()))
        .build()
        .unwrap();
    let api = base.with_auth(BearerToken::new("the-api-token"));

    // Token-style call through the base transport (its HttpExchange): no credentials.
    let token_req = Request::post(format!("{}/oauth_token.do", server.url()))
        .body(b"grant_type=password".to_vec())
        .unwrap();
    base.exchange(token_req).await.unwrap();
    // API calls through the derived transport: the new credentials and the caller's layer.
    for _ in 0..3 {
        let req = crate::get("/api/now/table/incident");
        let resp = api.send(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.into_body().collect_bytes().await.unwrap();
    }
    // The base transport still sends none.
    let req = crate::get("/api/now/table/incident");
    base.send(req)
        .await
        .unwrap()
        .into_body()
        .collect_bytes()
        .await
        .unwrap();

    let seen = server.seen();
    assert_eq!(seen.len(), 5);
    assert!(
        seen[0].headers.get("authorization").is_none(),
        "token call carried credentials"
    );
    for s in &seen[1..4] {
        assert_eq!(s.headers["authorization"], "Bearer the-api-token");
        assert_eq!(s.headers["x-layer"], "stamped");
    }
    assert!(seen[4].headers.get("authorization").is_none());
    assert_eq!(
        layered.load(Ordering::SeqCst),
        4,
        "the caller's layer runs on both stacks"
    );
    assert_eq!(
        server.connections(),
        1,
        "both handles share one pooled connection"
    );
    assert!(!format!("{api:?}").contains("the-api-token"));
}
