//! Exports under a ServiceNow rate-limit rule of 60 requests per 10-second window, on tokio's
//! paused clock (the rule's windows, `Date` and `X-RateLimit-Reset` follow it), so the waits
//! cost no real time: an in-test Table API on 127.0.0.1 serving 500 incidents.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use snow_basic::BasicAuth;
use snow_client::{Client, Record};
use snow_transport::{Instance, Pacing, RateLimitConfig, Transport};
use tokio::time::Instant;

/// A UNIX time that starts a window.
const EPOCH: u64 = 1_700_000_000;
const RULE: &str = "4a2cf4c3db3d1010c0a8f7f1f39619e7";
const RECORDS: usize = 500;
const LIMIT: u64 = 60;
const WINDOW: u64 = 10;

/// The instance: 500 incidents, and a rule of 60 requests per 10-second window for everyone.
struct Table {
    start: Instant,
    counts: Mutex<(u64, u64)>,
    refused: AtomicU64,
    served: AtomicU64,
}

fn sys_id(i: usize) -> String {
    format!("{:032x}", i + 1)
}

fn param(query: &str, name: &str) -> Option<usize> {
    query
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

impl Table {
    fn answer(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let elapsed = self.start.elapsed().as_secs();
        let now = EPOCH + elapsed;
        let window = elapsed / WINDOW;
        let reset = EPOCH + (window + 1) * WINDOW;
        let over = {
            let mut c = self.counts.lock().unwrap();
            if c.0 != window {
                *c = (window, 0);
            }
            c.1 += 1;
            c.1 > LIMIT
        };
        let mut resp = if over {
            self.refused.fetch_add(1, Ordering::SeqCst);
            let mut r = Response::new(Full::new(Bytes::from(format!(
                r#"{{"error":{{"message":"Rate limit exceeded","detail":"Rate limit of {LIMIT} requests per hour for Table API exceeded"}},"status":"failure"}}"#
            ))));
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            r.headers_mut()
                .insert("retry-after", (reset - now).max(1).into());
            r
        } else {
            self.served.fetch_add(1, Ordering::SeqCst);
            let query = req.uri().query().unwrap_or_default();
            let limit = param(query, "sysparm_limit").unwrap_or(10_000);
            let offset = param(query, "sysparm_offset").unwrap_or(0);
            let rows: Vec<String> = (offset..RECORDS.min(offset.saturating_add(limit)))
                .map(|i| format!(r#"{{"sys_id":"{}","number":"INC{:07}"}}"#, sys_id(i), i + 1))
                .collect();
            let mut r = Response::new(Full::new(Bytes::from(format!(
                r#"{{"result":[{}]}}"#,
                rows.join(",")
            ))));
            r.headers_mut()
                .insert("x-total-count", RECORDS.to_string().parse().unwrap());
            r
        };
        let h = resp.headers_mut();
        h.insert(
            "content-type",
            "application/json;charset=UTF-8".parse().unwrap(),
        );
        h.insert("x-ratelimit-limit", LIMIT.into());
        h.insert("x-ratelimit-reset", reset.into());
        h.insert("x-ratelimit-rule", RULE.parse().unwrap());
        let date = SystemTime::UNIX_EPOCH + Duration::from_secs(now);
        h.insert("date", httpdate::fmt_http_date(date).parse().unwrap());
        resp
    }
}

async fn start() -> (Arc<Table>, Instance) {
    let table = Arc::new(Table {
        start: Instant::now(),
        counts: Mutex::new((0, 0)),
        refused: AtomicU64::new(0),
        served: AtomicU64::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = table.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let state = state.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let resp = state.answer(&req);
                    async move { Ok::<_, Infallible>(resp) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    let instance = Instance::from_url(&format!("http://{addr}")).unwrap();
    (table, instance)
}

fn client(instance: Instance, pacing: Pacing) -> Client {
    Client::new(
        Transport::builder(instance)
            .auth(BasicAuth::new("itil", "itil"))
            .rate_limits(RateLimitConfig::default().pacing(pacing))
            .build()
            .unwrap(),
    )
}

/// Export the table in pages of 10 and check every record arrived once, in order.
async fn export(client: Client) {
    let records: Vec<Record> = client
        .table("incident")
        .list()
        .page_size(10)
        .all()
        .await
        .unwrap();
    let ids: Vec<String> = records
        .iter()
        .map(|r| r.sys_id().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..RECORDS).map(sys_id).collect();
    assert_eq!(ids, expected);
}

/// `n` exports of the table at once, through clones of one client.
async fn exports(client: &Client, n: usize) -> Duration {
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| tokio::spawn(export(client.clone())))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_paced_export_of_500_records_in_pages_of_10_meets_no_429() {
    let (table, instance) = start().await;
    let c = client(instance, Pacing::Pace);
    let elapsed = exports(&c, 1).await;
    // 50 full pages and the short one that ends paging: 51 requests, within one window's
    // budget of 60, spread over the window (half at once, the rest evenly until the reset).
    assert_eq!(table.served.load(Ordering::SeqCst), 51);
    assert_eq!(table.refused.load(Ordering::SeqCst), 0);
    assert!(
        elapsed > Duration::from_secs(5) && elapsed < Duration::from_secs(WINDOW),
        "{elapsed:?}"
    );
    let stats = c.stats();
    assert_eq!((stats.requests, stats.rate_limit_429s), (51, 0));
    eprintln!("paced, one export: {elapsed:?} on the paused clock, {stats:?}");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn two_paced_exports_at_once_share_the_budget_and_meet_no_429() {
    let (table, instance) = start().await;
    let c = client(instance, Pacing::Pace);
    // 102 requests: more than one window allows. Both exports slow down together.
    let elapsed = exports(&c, 2).await;
    assert_eq!(table.served.load(Ordering::SeqCst), 102);
    assert_eq!(table.refused.load(Ordering::SeqCst), 0);
    // At least one reset must pass (60 requests per window); pacing adds less than a window.
    assert!(
        elapsed >= Duration::from_secs(WINDOW) && elapsed < Duration::from_secs(2 * WINDOW),
        "{elapsed:?}"
    );
    let stats = c.stats();
    assert_eq!(stats.rate_limit_429s, 0);
    assert!(stats.paced > 0);
    eprintln!("paced, two exports: {elapsed:?} on the paused clock, {stats:?}");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn unpaced_the_same_exports_meet_429s_and_still_complete_correctly() {
    let (table, instance) = start().await;
    let c = client(instance, Pacing::Off);
    let elapsed = exports(&c, 2).await;
    let refused = table.refused.load(Ordering::SeqCst);
    assert!(refused > 0);
    assert_eq!(table.served.load(Ordering::SeqCst), 102);
    let stats = c.stats();
    assert_eq!(stats.rate_limit_429s, refused);
    assert_eq!(stats.retries.rate_limited, refused);
    assert_eq!(stats.semaphore_429s, 0);
    eprintln!("unpaced, two exports: {elapsed:?} on the paused clock, {refused} 429s, {stats:?}");
}
