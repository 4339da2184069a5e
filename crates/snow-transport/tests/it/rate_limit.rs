//! Rate-limit awareness over real sockets: pacing by the `X-RateLimit-*` headers, a rule's `429`
//! told from a semaphore's, session rejections, the cap on waiting, and the counters. The
//! servers keep their windows on tokio's clock, which these tests pause.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use snow_test_support::server::{Reply, reply, serve};
use snow_transport::{Pacing, RateLimitConfig, RetryConfig, Transport, TransportError};
use tokio::time::Instant;

/// A UNIX time that is a multiple of every window used here.
const EPOCH: u64 = 1_700_000_400;
const RULE: &str = "4a2cf4c3db3d1010c0a8f7f1f39619e7";

/// A rate-limit rule as ServiceNow applies it: `limit` requests per fixed window, the headers on
/// every answer, `429` with `Retry-After` and the documented body past the limit. Its clock is
/// tokio's (paused in these tests), shown to clients as `Date` from [`EPOCH`].
struct Rule {
    start: Instant,
    limit: u64,
    window: u64,
    counts: Mutex<(u64, u64)>,
    refused: AtomicUsize,
}

impl Rule {
    fn new(limit: u64, window: u64) -> Arc<Self> {
        Arc::new(Rule {
            start: Instant::now(),
            limit,
            window,
            counts: Mutex::new((0, 0)),
            refused: AtomicUsize::new(0),
        })
    }

    fn answer(&self, index: usize) -> Reply {
        let elapsed = self.start.elapsed().as_secs();
        let now = EPOCH + elapsed;
        let window = elapsed / self.window;
        let reset = EPOCH + (window + 1) * self.window;
        let over = {
            let mut c = self.counts.lock().unwrap();
            if c.0 != window {
                *c = (window, 0);
            }
            c.1 += 1;
            c.1 > self.limit
        };
        let mut resp = if over {
            self.refused.fetch_add(1, Ordering::SeqCst);
            let body = format!(
                r#"{{"error":{{"message":"Rate limit exceeded","detail":"Rate limit of {} requests per hour for Table API exceeded"}},"status":"failure"}}"#,
                self.limit
            );
            let mut r = Response::new(Full::new(Bytes::from(body)));
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            r.headers_mut()
                .insert("retry-after", (reset - now).max(1).into());
            r
        } else {
            reply(200, r#"{"result":[]}"#)
        };
        let h = resp.headers_mut();
        h.insert("x-ratelimit-limit", self.limit.into());
        h.insert("x-ratelimit-reset", reset.into());
        h.insert("x-ratelimit-rule", RULE.parse().unwrap());
        h.insert(
            "x-transaction-id",
            format!("txn{index:06}").parse().unwrap(),
        );
        let date = SystemTime::UNIX_EPOCH + Duration::from_secs(now);
        h.insert("date", httpdate::fmt_http_date(date).parse().unwrap());
        resp
    }
}

async fn rule_server(rule: Arc<Rule>) -> snow_test_support::server::RecordingServer {
    serve(move |_, i| {
        let rule = rule.clone();
        async move { rule.answer(i) }
    })
    .await
}

/// Send `per_worker` GETs from each of `workers` clones at once; returns the statuses.
async fn run(t: &Transport, workers: usize, per_worker: usize) -> Vec<u16> {
    let mut tasks = Vec::new();
    for w in 0..workers {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for i in 0..per_worker {
                let path = format!("/api/now/table/incident?sysparm_offset={}", w * 1000 + i);
                let resp = t.send(crate::get(&path)).await.unwrap();
                statuses.push(resp.status().as_u16());
                resp.into_body().collect_bytes().await.unwrap();
            }
            statuses
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all
}

#[tokio::test(start_paused = true)]
async fn clones_and_concurrent_requests_slow_down_together_and_meet_no_429() {
    let rule = Rule::new(60, 10);
    let server = rule_server(rule.clone()).await;
    let t = Transport::builder(server.instance()).build().unwrap();
    let start = Instant::now();
    // 8 workers, 120 requests: two windows' worth of a 60-per-10-seconds rule.
    let statuses = run(&t, 8, 15).await;
    let elapsed = start.elapsed();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(rule.refused.load(Ordering::SeqCst), 0);
    // The second window's requests cannot go before it starts; spread over it, the last of
    // them goes as it ends: the two windows the budget allows.
    assert!(
        elapsed >= Duration::from_secs(10) && elapsed <= Duration::from_secs(21),
        "{elapsed:?}"
    );
    let stats = t.stats();
    assert_eq!(stats.requests, 120);
    assert_eq!(stats.attempts, 120);
    assert_eq!(stats.rate_limit_429s, 0);
    assert!(
        stats.paced > 0 && stats.waited_pacing > Duration::ZERO,
        "{stats:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn unpaced_the_same_work_meets_429s_waits_for_the_reset_and_completes() {
    let rule = Rule::new(60, 10);
    let server = rule_server(rule.clone()).await;
    let t = Transport::builder(server.instance())
        .rate_limits(RateLimitConfig::default().pacing(Pacing::Off))
        .build()
        .unwrap();
    let statuses = run(&t, 8, 15).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let refused = rule.refused.load(Ordering::SeqCst) as u64;
    assert!(refused > 0);
    let stats = t.stats();
    assert_eq!(stats.rate_limit_429s, refused);
    assert_eq!(stats.retries.rate_limited, refused);
    assert_eq!(stats.semaphore_429s, 0);
    assert_eq!(stats.paced, 0);
    assert!(stats.waited_retrying >= Duration::from_secs(1), "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn a_semaphore_429_a_rule_429_and_a_202_are_retried_and_counted_apart() {
    let server = serve(|_, i| async move {
        match i {
            // A full request queue: no rate-limit headers, ServiceNow's semaphore text.
            0 => reply(
                429,
                r#"{"error":{"message":"Maximum number of concurrent requests exceeded","detail":"The API_INT semaphore queue is full"},"status":"failure"}"#,
            ),
            // A busy session.
            1 => reply(202, ""),
            // A rule's 429 whose headers a proxy removed: the documented body tells it.
            2 => {
                let mut r = reply(
                    429,
                    r#"{"error":{"message":"Rate limit exceeded","detail":"Rate limit of 100 requests per hour for Table API exceeded"},"status":"failure"}"#,
                );
                r.headers_mut().insert("retry-after", 2.into());
                r
            }
            _ => reply(200, r#"{"result":[]}"#),
        }
    })
    .await;
    let t = Transport::builder(server.instance())
        .retry(RetryConfig::default().max_attempts(4))
        .build()
        .unwrap();
    let start = Instant::now();
    let resp = t.send(crate::get("/api/now/table/incident")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(server.count(), 4);
    // The rule's Retry-After was waited for; the other two only backed off briefly.
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
    let s = t.stats();
    assert_eq!((s.requests, s.attempts), (1, 4));
    assert_eq!(s.semaphore_429s, 1);
    assert_eq!(s.rate_limit_429s, 1);
    assert_eq!(s.session_rejections, 1);
    assert_eq!(s.retries.semaphore, 1);
    assert_eq!(s.retries.session_rejected, 1);
    assert_eq!(s.retries.rate_limited, 1);
    assert_eq!(s.retries.total(), 3);
    assert!(s.waited_retrying >= Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_429_body_read_to_classify_it_still_reaches_the_caller() {
    let body = r#"{"error":{"message":"Maximum number of concurrent requests exceeded"},"status":"failure"}"#;
    let server = serve(move |_, _| async move { reply(429, body) }).await;
    let t = Transport::builder(server.instance())
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let resp = t.send(crate::get("/api/now/table/incident")).await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.into_body().collect_bytes().await.unwrap(), body);
    assert_eq!(t.stats().semaphore_429s, 1);
}

#[tokio::test(start_paused = true)]
async fn past_the_cap_on_waiting_a_typed_error_names_the_rule_and_its_reset() {
    // One request per hour.
    let rule = Rule::new(1, 3600);
    let server = rule_server(rule.clone()).await;
    let t = Transport::builder(server.instance())
        .rate_limits(RateLimitConfig::default().max_wait(Duration::from_secs(30)))
        .build()
        .unwrap();
    assert_eq!(
        t.send(crate::get("/api/now/table/incident"))
            .await
            .unwrap()
            .status(),
        200
    );
    // The pacer knows the budget is spent until the reset, an hour away: it refuses at once,
    // without sending the request.
    let start = Instant::now();
    let err = t
        .send(crate::get("/api/now/table/incident"))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(server.count(), 1);
    let reset = SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH + 3600);
    match &err {
        TransportError::RateLimited {
            rule,
            limit,
            reset: r,
            retry_after,
            max_wait,
        } => {
            assert_eq!(rule.as_deref(), Some(RULE));
            assert_eq!(*limit, Some(1));
            assert_eq!(*r, Some(reset));
            assert_eq!(*retry_after, Some(Duration::from_secs(3600)));
            assert_eq!(*max_wait, Duration::from_secs(30));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());
    assert!(err.to_string().contains(RULE), "{err}");

    // A transport that has not seen the rule yet meets its 429; waiting for the reset would
    // pass the cap, so the same typed error comes back instead of the 429.
    let fresh = Transport::builder(server.instance())
        .rate_limits(RateLimitConfig::default().max_wait(Duration::from_secs(30)))
        .build()
        .unwrap();
    let err = fresh
        .send(crate::get("/api/now/table/incident"))
        .await
        .unwrap_err();
    assert_eq!(server.count(), 2);
    match &err {
        TransportError::RateLimited {
            rule,
            limit,
            reset: r,
            ..
        } => {
            assert_eq!(rule.as_deref(), Some(RULE));
            assert_eq!(*limit, Some(1));
            assert_eq!(*r, Some(reset));
        }
        other => panic!("{other:?}"),
    }
    let s = fresh.stats();
    assert_eq!((s.rate_limit_429s, s.failed, s.rate_limited), (1, 1, 1));
    assert_eq!(t.stats().rate_limited, 1);
}

#[tokio::test]
async fn a_floor_of_zero_requests_is_refused() {
    let err = Transport::builder(snow_transport::Instance::from_name("acme").unwrap())
        .rate_limits(RateLimitConfig::default().pacing(Pacing::Floor {
            requests: 0,
            per: Duration::from_secs(1),
        }))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("floor"), "{err}");
}
