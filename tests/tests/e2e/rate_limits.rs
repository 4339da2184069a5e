//! Rate limits and observability against the dev instance: its per-user rate-limit rules (with
//! the headers ServiceNow sends), its semaphore `429`s and `202` session rejections, and a TRACE
//! capture of a run. The dev instance keeps real time (its clock cannot be paused), so the
//! paced exports use a short window; `pacing.rs` runs the 10-second window on a paused clock.

use std::time::{Duration, Instant, SystemTime};

use snow_basic::BasicAuth;
use snow_client::query::field;
use snow_client::{Client, Error, Record};
use snow_devinstance::{DevConfig, DevInstance, FaultKind, FaultRule, RateLimitRule, Trigger};
use snow_test_support::{Capture, assert_no_secret};
use snow_transport::{Pacing, RateLimitConfig, RetryConfig, Transport};

const T: &str = "/api/now/table/incident";
const RULE: &str = "9d3f2e1c0b4a59687766554433221100";

async fn start(records: usize) -> DevInstance {
    DevInstance::start(DevConfig {
        records,
        ..DevConfig::default()
    })
    .await
    .expect("dev instance starts")
}

fn rule(limit: u64, window_secs: u64) -> RateLimitRule {
    RateLimitRule {
        user: Some("itil".into()),
        limit,
        window_secs,
        rule_sys_id: RULE.into(),
    }
}

fn client(dev: &DevInstance, rate_limits: RateLimitConfig, retry: RetryConfig) -> Client {
    let instance = dev.base_url().parse().expect("instance");
    Client::new(
        Transport::builder(instance)
            .auth(BasicAuth::new("itil", "itil"))
            .rate_limits(rate_limits)
            .retry(retry)
            .build()
            .expect("transport"),
    )
}

fn quick_retry() -> RetryConfig {
    RetryConfig::default()
        .base_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(50))
        .max_attempts(5)
}

/// Export `n` incidents in pages of 10; every record once, in sys_id order.
async fn export(c: &Client, n: usize) -> Duration {
    let start = Instant::now();
    let records: Vec<Record> = c
        .table("incident")
        .list()
        .page_size(10)
        .all()
        .await
        .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(records.len(), n);
    let ids: Vec<&str> = records.iter().map(|r| r.sys_id().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order, no repeats");
    elapsed
}

#[tokio::test]
async fn a_paced_export_meets_no_429_and_takes_about_what_the_budget_allows() {
    let dev = start(500).await;
    // 20 requests per 2-second window: the 51 requests of the export need three windows.
    dev.admin().set_rate_limits(vec![rule(20, 2)]);
    let c = client(&dev, RateLimitConfig::default(), RetryConfig::default());
    let elapsed = export(&c, 500).await;
    let counters = dev.admin().counters();
    assert_eq!(counters.requests_with(T, 429), 0);
    assert_eq!(counters.requests_with(T, 200), 51);
    // The third window starts at least one whole window after the first one ends.
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(12),
        "{elapsed:?}"
    );
    let stats = c.stats();
    assert_eq!((stats.requests, stats.rate_limit_429s), (51, 0));
    assert!(stats.paced > 0);
    eprintln!("paced export under 20 per 2 s: {elapsed:?}, {stats:?}");
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn unpaced_the_same_export_meets_429s_and_still_completes_correctly() {
    let dev = start(500).await;
    dev.admin().set_rate_limits(vec![rule(20, 2)]);
    let c = client(
        &dev,
        RateLimitConfig::default().pacing(Pacing::Off),
        RetryConfig::default(),
    );
    let elapsed = export(&c, 500).await;
    let refused = dev.admin().counters().requests_with(T, 429);
    assert!(refused > 0);
    let stats = c.stats();
    assert_eq!(stats.rate_limit_429s, refused);
    assert_eq!(stats.retries.rate_limited, refused);
    assert_eq!(stats.semaphore_429s, 0);
    eprintln!("unpaced export under 20 per 2 s: {elapsed:?}, {refused} 429s, {stats:?}");
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn semaphore_429s_and_session_rejections_are_retried_with_backoff_and_counted_apart() {
    let dev = start(200).await;
    let admin = dev.admin();
    admin
        .add_fault(FaultRule::new(FaultKind::Semaphore, Trigger::EveryNth { n: 3 }).path_prefix(T));
    admin.add_fault(
        FaultRule::new(FaultKind::SessionRejected, Trigger::EveryNth { n: 7 }).path_prefix(T),
    );
    let c = client(&dev, RateLimitConfig::default(), quick_retry());
    export(&c, 200).await;
    let counters = admin.counters();
    let (semaphores, rejections) = (
        counters.requests_with(T, 429),
        counters.requests_with(T, 202),
    );
    assert!(semaphores > 0 && rejections > 0);
    let s = c.stats();
    assert_eq!(s.semaphore_429s, semaphores);
    assert_eq!(s.session_rejections, rejections);
    assert_eq!(s.rate_limit_429s, 0);
    assert_eq!(s.retries.semaphore, semaphores);
    assert_eq!(s.retries.session_rejected, rejections);
    assert_eq!(s.retries.rate_limited, 0);
    assert_eq!(s.attempts, s.requests + semaphores + rejections);
    assert!(s.waited_retrying > Duration::ZERO);
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_capped_wait_is_a_typed_error_with_the_rule_and_its_reset() {
    let dev = start(5).await;
    // One request per hour.
    dev.admin().set_rate_limits(vec![rule(1, 3600)]);
    let capped = RateLimitConfig::default().max_wait(Duration::from_secs(5));
    let c = client(&dev, capped.clone(), RetryConfig::default());
    c.table("incident").list().first::<Record>().await.unwrap();
    let err = c
        .table("incident")
        .list()
        .first::<Record>()
        .await
        .unwrap_err();
    let check = |err: &Error| match err {
        Error::RateLimited {
            rule,
            limit,
            reset,
            retry_after,
            ..
        } => {
            assert_eq!(rule.as_deref(), Some(RULE));
            assert_eq!(*limit, Some(1));
            let reset = reset.expect("a reset time");
            let now = SystemTime::now();
            assert!(reset > now && reset <= now + Duration::from_secs(3600));
            assert!(retry_after.is_some_and(|d| d > Duration::from_secs(5)));
        }
        other => panic!("{other:?}"),
    };
    check(&err);
    assert!(err.is_retryable());
    // The budget was known to be spent: the second request was never sent.
    let counters = dev.admin().counters();
    assert_eq!(
        (
            counters.requests_with(T, 200),
            counters.requests_with(T, 429)
        ),
        (1, 0)
    );

    // A client that has not seen the rule meets its 429, and will not wait an hour.
    let fresh = client(&dev, capped, RetryConfig::default());
    let err = fresh
        .table("incident")
        .list()
        .first::<Record>()
        .await
        .unwrap_err();
    check(&err);
    assert_eq!(dev.admin().counters().requests_with(T, 429), 1);
    assert_eq!(fresh.stats().rate_limited, 1);
    dev.shutdown().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_trace_capture_shows_spans_with_transaction_ids_and_no_secrets_or_query_values() {
    let dev = start(30).await;
    dev.admin()
        .add_fault(FaultRule::new(FaultKind::Semaphore, Trigger::EveryNth { n: 2 }).path_prefix(T));
    let key = dev.admin().mint_api_key("itil").unwrap();
    let capture = Capture::default();
    let _guard = capture.install();

    let c = Client::api_key(dev.base_url(), key.clone()).unwrap();
    let needle = "needle-7c1e5a9b3d";
    let found: Vec<Record> = c
        .table("incident")
        .list()
        .query(field("short_description").eq(needle) | field("active").eq(true))
        .page_size(10)
        .all()
        .await
        .unwrap();
    assert!(!found.is_empty());
    let basic = Client::basic(dev.base_url(), "itil", "itil").unwrap();
    basic
        .table("incident")
        .list()
        .first::<Record>()
        .await
        .unwrap();

    let log = capture.text();
    assert!(
        log.contains("snow.request{method=GET path=/api/now/table/incident"),
        "{log}"
    );
    assert!(log.contains("snow.attempt{attempt=1"), "{log}");
    assert!(log.contains("snow.attempt{attempt=2"), "{log}");
    assert!(
        log.contains("throttled=\"semaphore\"") || log.contains("throttled=semaphore"),
        "{log}"
    );
    assert!(log.contains("retrying request"), "{log}");
    assert!(log.contains("bytes_in="), "{log}");
    // The dev instance's transaction ids: twelve hex digits.
    let txn = log
        .match_indices("transaction_id=")
        .filter_map(|(i, m)| log.get(i + m.len()..i + m.len() + 14))
        .map(|v| v.trim_matches('"'))
        .find(|v| v.len() >= 12 && v[..12].bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(txn.is_some(), "{log}");
    assert_no_secret(&log, &[key.clone(), needle.to_owned()]);
    for text in ["sysparm_query", "Basic aXRpbDppdGls", "x-sn-apikey"] {
        assert!(!log.contains(text), "{text} in the log");
    }
    eprintln!("TRACE capture: {} lines", log.lines().count());
    dev.shutdown().await.unwrap();
}
