//! Rate limits as ServiceNow sends them (per user and window, `X-RateLimit-*` on every
//! matching response, 429 + `Retry-After` past the limit), set through the admin API and
//! the command line; the semaphore 429 and the 202 session rejection, which carry no
//! rate-limit headers.

use std::collections::HashSet;

use crate::common::{Http, Reply, admin, basic, spawn, start};
use http::Method;
use serde_json::json;

const TABLE: &str = "/api/now/table/incident?sysparm_limit=1";

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The rate-limit headers of a response: (limit, reset, rule).
fn rate_headers(r: &Reply) -> Option<(u64, u64, String)> {
    Some((
        r.header("x-ratelimit-limit")?.parse().ok()?,
        r.header("x-ratelimit-reset")?.parse().ok()?,
        r.header("x-ratelimit-rule")?.to_owned(),
    ))
}

#[tokio::test]
async fn a_per_user_rule_with_a_ten_second_window_through_the_admin_api() {
    let (instance, http) = start(3).await;
    let set = http
        .json(
            Method::PUT,
            "/__dev/rate_limits",
            &admin(),
            &json!([{"user": "itil", "limit": 3, "window_secs": 10}]),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text());
    let listed = http.get("/__dev/rate_limits", &admin()).await.json();
    let rule_id = listed["result"][0]["rule_sys_id"]
        .as_str()
        .expect("a sys_id is filled in")
        .to_owned();
    assert_eq!(rule_id.len(), 32);
    assert!(rule_id.bytes().all(|b| b.is_ascii_hexdigit()));

    let itil = basic("itil", "itil");
    let mut resets = HashSet::new();
    for _ in 0..3 {
        let r = http.get(TABLE, &itil).await;
        assert_eq!(r.status, 200);
        let (limit, reset, rule) = rate_headers(&r).expect("X-RateLimit-* on every response");
        assert_eq!((limit, rule.as_str()), (3, rule_id.as_str()));
        assert_eq!(reset % 10, 0, "windows end on multiples of 10 s");
        assert!(reset > now_unix().saturating_sub(1) && reset <= now_unix() + 10);
        resets.insert(reset);
    }
    let denied = http.get(TABLE, &itil).await;
    assert_eq!(denied.status, 429);
    let retry: u64 = denied
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=10).contains(&retry), "{retry}");
    assert_eq!(
        denied.json(),
        json!({"error":{"message":"Rate limit exceeded","detail":"Rate limit of 3 requests per hour for Table API exceeded"},"status":"failure"})
    );
    let (limit, _, rule) = rate_headers(&denied).expect("headers on the 429 too");
    assert_eq!((limit, rule), (3, rule_id.clone()));

    // Other users are not limited and get no headers.
    let r = http.get(TABLE, &admin()).await;
    assert_eq!(r.status, 200);
    assert!(rate_headers(&r).is_none());

    // The next window starts afresh (the clock moved instead of waiting).
    instance.admin().set_clock_skew_secs(10);
    let r = http.get(TABLE, &itil).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Attachment API requests name their API.
    instance.admin().set_clock_skew_secs(20);
    for _ in 0..3 {
        assert_eq!(http.get("/api/now/attachment", &itil).await.status, 200);
    }
    let denied = http.get("/api/now/attachment", &itil).await;
    assert_eq!(denied.status, 429);
    assert_eq!(
        denied.json()["error"]["detail"],
        "Rate limit of 3 requests per hour for Attachment API exceeded"
    );

    // Removed: no limit, no headers.
    let cleared = http
        .send(
            Method::DELETE,
            "/__dev/rate_limits",
            &[("authorization", &admin())],
            bytes::Bytes::new(),
        )
        .await;
    assert_eq!(cleared.status, 200);
    let r = http.get(TABLE, &itil).await;
    assert_eq!(r.status, 200);
    assert!(rate_headers(&r).is_none());
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_users_own_rule_wins_and_rules_have_their_own_sys_ids() {
    let (instance, http) = start(3).await;
    for rule in [
        json!({"limit": 100}),
        json!({"user": "itil", "limit": 2, "window_secs": 60}),
    ] {
        let r = http
            .json(Method::POST, "/__dev/rate_limits", &admin(), &rule)
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let everyone = http.get(TABLE, &admin()).await;
    let (limit_all, _, rule_all) = rate_headers(&everyone).expect("all-users rule");
    let itil = http.get(TABLE, &basic("itil", "itil")).await;
    let (limit_itil, reset_itil, rule_itil) = rate_headers(&itil).expect("itil's rule");
    assert_eq!((limit_all, limit_itil), (100, 2));
    assert_ne!(rule_all, rule_itil);
    assert_eq!(reset_itil % 60, 0);
    let listed: Vec<String> = instance
        .admin()
        .rate_limits()
        .into_iter()
        .map(|r| r.rule_sys_id)
        .collect();
    assert_eq!(listed, [rule_all, rule_itil]);
    instance.shutdown().await.expect("shutdown");
}

#[test]
fn rate_limits_from_the_command_line() {
    let (_server, url) = spawn(&[
        "--port",
        "0",
        "--records",
        "2",
        "--rate-limit",
        "itil:2/10",
        "--rate-limit",
        "50",
    ]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let http = Http::new(&url);
        let itil = basic("itil", "itil");
        for _ in 0..2 {
            let r = http.get(TABLE, &itil).await;
            assert_eq!(r.status, 200);
            assert_eq!(rate_headers(&r).map(|h| h.0), Some(2));
        }
        let denied = http.get(TABLE, &itil).await;
        assert_eq!(denied.status, 429);
        assert!(denied.header("retry-after").is_some());
        let r = http.get(TABLE, &admin()).await;
        assert_eq!(rate_headers(&r).map(|h| h.0), Some(50));
    });
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_snow-devinstance"))
        .args(["--rate-limit", "itil:lots"])
        .output()
        .expect("runs");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("whole number"));
}

async fn statuses(http: &Http, n: usize) -> Vec<Reply> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(http.get(TABLE, &basic("itil", "itil")).await);
    }
    out
}

fn assert_semaphore_429(r: &Reply) {
    assert_eq!(r.status, 429);
    assert!(rate_headers(r).is_none(), "no rate-limit headers");
    assert!(r.header("x-ratelimit-limit").is_none());
    assert!(r.header("retry-after").is_none());
    assert_eq!(
        r.json()["error"]["message"],
        "Maximum number of concurrent requests exceeded"
    );
}

#[tokio::test]
async fn semaphore_429_for_the_next_n_requests_or_a_fraction_without_rate_headers() {
    let (instance, http) = start(3).await;
    // A rate-limit rule matches, yet the semaphore 429s carry none of its headers.
    instance
        .admin()
        .add_rate_limit("itil:1000".parse().expect("spec"));
    let r = http
        .json(
            Method::POST,
            "/__dev/faults",
            &admin(),
            &json!({"fault":{"kind":"semaphore"},"trigger":{"mode":"next","n":2}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let replies = statuses(&http, 4).await;
    assert_semaphore_429(&replies[0]);
    assert_semaphore_429(&replies[1]);
    for r in &replies[2..] {
        assert_eq!(r.status, 200);
        assert!(rate_headers(r).is_some(), "the rule applies again");
    }

    let r = http
        .json(
            Method::PUT,
            "/__dev/faults",
            &admin(),
            &json!([{"fault":{"kind":"semaphore"},"trigger":{"mode":"fraction","p":0.5},"user":"itil"}]),
        )
        .await;
    assert_eq!(r.status, 200);
    let replies = statuses(&http, 40).await;
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(
        (8..=32).contains(&refused.len()),
        "about half: {}",
        refused.len()
    );
    refused.iter().for_each(|r| assert_semaphore_429(r));
    assert!(replies.iter().all(|r| r.status == 429 || r.status == 200));
    assert_eq!(http.get(TABLE, &admin()).await.status, 200, "itil only");
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn session_rejection_202_for_the_next_request() {
    let (instance, http) = start(3).await;
    let r = http
        .json(
            Method::POST,
            "/__dev/faults",
            &admin(),
            &json!({"fault":{"kind":"session_rejected"},"trigger":{"mode":"next","n":1}}),
        )
        .await;
    assert_eq!(r.status, 200);
    let first = http.get(TABLE, &admin()).await;
    assert_eq!(first.status, 202);
    assert!(first.body.is_empty());
    assert!(rate_headers(&first).is_none());
    assert_eq!(http.get(TABLE, &admin()).await.status, 200);
    instance.shutdown().await.expect("shutdown");
}
