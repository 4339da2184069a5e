//! Injected faults and rate limits, set at start and through the admin API.

use crate::common::{admin, basic, start, start_with};
use bytes::Bytes;
use http::Method;
use serde_json::json;
use snow_devinstance::{DevConfig, FaultKind, FaultRule, RateLimitRule, Trigger};

#[tokio::test]
async fn rate_limit_rule_per_user() {
    let (instance, http) = start_with(DevConfig {
        records: 5,
        rate_limits: vec![RateLimitRule::per_hour(Some("itil"), 2)],
        ..DevConfig::default()
    })
    .await;
    let itil = basic("itil", "itil");
    for _ in 0..2 {
        let r = http
            .get("/api/now/table/incident?sysparm_limit=1", &itil)
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-limit"), Some("2"));
        assert!(
            r.header("x-ratelimit-reset")
                .is_some_and(|v| v.parse::<u64>().is_ok())
        );
        assert!(r.header("x-ratelimit-rule").is_some_and(|v| v.len() == 32));
    }
    let r = http
        .get("/api/now/table/incident?sysparm_limit=1", &itil)
        .await;
    assert_eq!(r.status, 429);
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=3600).contains(&retry));
    assert_eq!(
        r.json(),
        json!({"error":{"message":"Rate limit exceeded","detail":"Rate limit of 2 requests per hour for Table API exceeded"},"status":"failure"})
    );
    // Other users are not limited.
    let r = http
        .get("/api/now/table/incident?sysparm_limit=1", &admin())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-limit"), None);
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn semaphore_session_and_server_errors_every_nth() {
    let (instance, http) = start(5).await;
    let a = instance.admin();
    a.set_faults(vec![FaultRule::new(
        FaultKind::Semaphore,
        Trigger::EveryNth { n: 2 },
    )]);
    let statuses = {
        let mut v = Vec::new();
        for _ in 0..4 {
            let r = http
                .get("/api/now/table/incident?sysparm_limit=1", &admin())
                .await;
            if r.status == 429 {
                assert_eq!(r.header("x-ratelimit-limit"), None);
                assert_eq!(r.header("retry-after"), None);
            }
            v.push(r.status);
        }
        v
    };
    assert_eq!(statuses, [200, 429, 200, 429]);

    a.set_faults(vec![FaultRule::new(
        FaultKind::SessionRejected,
        Trigger::Always,
    )]);
    let r = http
        .get("/api/now/table/incident?sysparm_limit=1", &admin())
        .await;
    assert_eq!(r.status, 202);
    assert!(r.body.is_empty());

    a.set_faults(vec![
        FaultRule::new(FaultKind::ServerError { status: 503 }, Trigger::Always).user("itil"),
    ]);
    assert_eq!(
        http.get("/api/now/table/incident?sysparm_limit=1", &admin())
            .await
            .status,
        200
    );
    let r = http
        .get(
            "/api/now/table/incident?sysparm_limit=1",
            &basic("itil", "itil"),
        )
        .await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["status"], "failure");
    a.clear_faults();
    assert_eq!(
        http.get(
            "/api/now/table/incident?sysparm_limit=1",
            &basic("itil", "itil")
        )
        .await
        .status,
        200
    );
    assert_eq!(
        a.counters().requests_with("/api/now/table/incident", 429),
        2
    );
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn fraction_trigger_is_deterministic() {
    let run = || async {
        let (instance, http) = start_with(DevConfig {
            records: 5,
            seed: 42,
            faults: vec![FaultRule::new(
                FaultKind::ServerError { status: 500 },
                Trigger::Fraction { p: 0.5 },
            )],
            ..DevConfig::default()
        })
        .await;
        let mut v = Vec::new();
        for _ in 0..20 {
            v.push(
                http.get("/api/now/table/incident?sysparm_limit=1", &admin())
                    .await
                    .status,
            );
        }
        instance.shutdown().await.expect("shutdown");
        v
    };
    let first = run().await;
    assert_eq!(first, run().await);
    assert!(first.contains(&500) && first.contains(&200), "{first:?}");
}

#[tokio::test]
async fn hibernation_answers_every_path_with_the_html_page() {
    let (instance, http) = start(5).await;
    let on = http
        .json(
            Method::PUT,
            "/__dev/hibernate",
            &admin(),
            &json!({"on": true}),
        )
        .await;
    assert_eq!(on.status, 200);
    for (method, path) in [
        (Method::GET, "/api/now/table/incident"),
        (Method::POST, "/oauth_token.do"),
        (Method::GET, "/api/now/attachment"),
    ] {
        let r = http.send(method, path, &[], Bytes::new()).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("text/html"))
        );
        let page = r.text();
        assert!(page.contains("<title>Instance Hibernating page</title>"));
        assert!(page.contains("Your instance is hibernating"));
    }
    instance.admin().hibernate(false);
    assert_eq!(
        http.get("/api/now/table/incident?sysparm_limit=1", &admin())
            .await
            .status,
        200
    );
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn transaction_cancelled_mid_stream() {
    let (instance, http) = start(20).await;
    instance.admin().add_fault(FaultRule::new(
        FaultKind::TransactionCancelled,
        Trigger::Always,
    ));
    let r = http
        .get("/api/now/table/incident?sysparm_limit=10", &admin())
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["result"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        v["error"]["message"],
        "Transaction cancelled: maximum execution time exceeded"
    );
    assert_eq!(v["status"], "failure");
    let one = http
        .get(
            &format!(
                "/api/now/table/incident/{}",
                v["result"][0]["sys_id"].as_str().expect("id")
            ),
            &admin(),
        )
        .await;
    assert_eq!(one.status, 500, "cancelled before any output");
    assert_eq!(
        one.json()["error"]["message"],
        "Transaction cancelled: maximum execution time exceeded"
    );
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn connection_reset_and_truncated_body_then_recovery() {
    let (instance, http) = start(20).await;
    let a = instance.admin();
    a.set_faults(vec![FaultRule::new(
        FaultKind::ConnectionReset,
        Trigger::Always,
    )]);
    let r = http
        .try_send(
            Method::GET,
            "/api/now/table/incident?sysparm_limit=1",
            &[("authorization", &admin())],
            Bytes::new(),
        )
        .await;
    assert!(r.is_err(), "{r:?}");

    a.set_faults(vec![FaultRule::new(
        FaultKind::TruncatedBody,
        Trigger::Always,
    )]);
    let r = http
        .try_send(
            Method::GET,
            "/api/now/table/incident?sysparm_limit=10",
            &[("authorization", &admin())],
            Bytes::new(),
        )
        .await;
    assert!(r.is_err(), "a cut body must surface as an error: {r:?}");

    a.set_faults(vec![FaultRule::new(
        FaultKind::Latency { millis: 30 },
        Trigger::Always,
    )]);
    assert_eq!(
        http.get("/api/now/table/incident?sysparm_limit=1", &admin())
            .await
            .status,
        200
    );
    a.clear_faults();
    assert_eq!(
        http.get("/api/now/table/incident?sysparm_limit=1", &admin())
            .await
            .status,
        200
    );
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn faults_through_the_admin_api_with_path_filter() {
    let (instance, http) = start(5).await;
    let rule = json!({"fault": {"kind": "server_error", "status": 502}, "trigger": {"mode": "always"}, "path_prefix": "/api/now/attachment"});
    let r = http
        .json(Method::POST, "/__dev/faults", &admin(), &rule)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(http.get("/api/now/attachment", &admin()).await.status, 502);
    assert_eq!(
        http.get("/api/now/table/incident?sysparm_limit=1", &admin())
            .await
            .status,
        200
    );
    let listed = http.get("/__dev/faults", &admin()).await.json();
    assert_eq!(listed["result"][0], rule);
    let bad = http
        .send(
            Method::PUT,
            "/__dev/faults",
            &[("authorization", &admin())],
            "{not json",
        )
        .await;
    assert_eq!(bad.status, 400);
    let limits = json!([{"user": null, "limit": 1}]);
    assert_eq!(
        http.json(Method::PUT, "/__dev/rate_limits", &admin(), &limits)
            .await
            .status,
        200
    );
    assert_eq!(
        http.send(
            Method::DELETE,
            "/__dev/faults",
            &[("authorization", &admin())],
            Bytes::new()
        )
        .await
        .status,
        200
    );
    assert_eq!(
        http.get("/api/now/attachment", &basic("itil", "itil"))
            .await
            .status,
        200
    );
    assert_eq!(
        http.get("/api/now/attachment", &basic("itil", "itil"))
            .await
            .status,
        429
    );
    instance.shutdown().await.expect("shutdown");
}
