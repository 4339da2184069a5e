//! Requests driven concurrently from one task on a multi-thread runtime: each runs on a task of
//! the runtime while others are in flight (a lone one stays on the caller's task), and that task
//! is the caller's in every way that shows: its span and subscriber, its panics, its
//! cancellation.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::join_all;
use http::Request;
use snow_client::transport::{Body, RetryConfig, SnowService, Transport};
use snow_client::{Client, Instance, Record};
use snow_test_support::capture::Capture;
use snow_test_support::server::{RecordingServer, Reply, Seen, serve};
use tower::ServiceExt;
use tower::layer::layer_fn;

/// A server answering every GET with the record whose sys_id is the last path segment, after
/// `delay`.
async fn records_after(delay: Duration) -> RecordingServer {
    serve(move |seen: Seen, _| async move {
        tokio::time::sleep(delay).await;
        let id = seen.uri.path().rsplit('/').next().unwrap_or_default();
        let body = format!(r#"{{"result":{{"sys_id":"{id}"}}}}"#);
        http::Response::builder()
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap() as Reply
    })
    .await
}

/// A client whose one caller layer runs `each` on every request, where the stack runs it.
fn client_with(
    instance: Instance,
    each: impl Fn(&Request<Body>) + Clone + Send + Sync + 'static,
) -> Client {
    let transport = Transport::builder(instance)
        .retry(RetryConfig::disabled())
        .layer(layer_fn(move |svc: SnowService| {
            let each = each.clone();
            svc.map_request(move |req: Request<Body>| {
                each(&req);
                req
            })
        }))
        .build()
        .unwrap();
    Client::new(transport)
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{i:032x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_spread_over_the_runtime_threads_and_a_lone_one_stays_in_place() {
    let server = records_after(Duration::from_millis(20)).await;
    let threads = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = threads.clone();
    let client = client_with(server.instance(), move |_| {
        let name = std::thread::current().name().unwrap_or("").to_owned();
        seen.lock().unwrap().push(name);
    });
    let caller = std::thread::current().name().unwrap_or("").to_owned();

    let lone: Record = client
        .table("incident")
        .get(ids(1)[0].clone())
        .await
        .unwrap();
    assert_eq!(lone.sys_id(), Some(ids(1)[0].as_str()));
    assert_eq!(
        threads.lock().unwrap().as_slice(),
        std::slice::from_ref(&caller),
        "a lone request runs on the caller's thread"
    );
    threads.lock().unwrap().clear();

    let wanted = ids(16);
    let got = join_all(
        wanted
            .iter()
            .map(|id| client.table("incident").get(id.clone()).into_future()),
    )
    .await;
    let got: Vec<String> = got
        .into_iter()
        .map(|r| r.unwrap().sys_id().unwrap().to_owned())
        .collect();
    assert_eq!(got, wanted, "each answer goes to its own request");
    let threads = threads.lock().unwrap().clone();
    assert_eq!(threads.len(), 16);
    let on_workers = threads.iter().filter(|t| **t != caller).count();
    assert!(
        on_workers >= 15,
        "all but the first run on the runtime's threads: {threads:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_given_up_is_not_finished_in_the_background() {
    // The answers never come in time; the caller gives up after 100 ms.
    let server = records_after(Duration::from_secs(60)).await;
    let started = Arc::new(AtomicUsize::new(0));
    let count = started.clone();
    let client = client_with(server.instance(), move |_| {
        count.fetch_add(1, Ordering::SeqCst);
    });
    let both = futures_util::future::join(
        client.table("incident").get("a".repeat(32)).into_future(),
        client.table("incident").get("b".repeat(32)).into_future(),
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(100), both)
            .await
            .is_err()
    );
    assert_eq!(started.load(Ordering::SeqCst), 2);
    // Both connections close once the requests are dropped, the one on a task of its own too
    // (left running, it would hold its connection until the answer, a minute later).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while server.closed() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.closed(), 2, "connections closed by the client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_request_on_its_own_task_goes_on_in_the_caller() {
    let server = records_after(Duration::from_millis(50)).await;
    let client = client_with(server.instance(), |req| {
        assert!(!req.uri().path().ends_with("boom"), "a layer panicked");
    });
    let calm = client.table("incident").get("c".repeat(32)).into_future();
    // Sent while the first is in flight: on a task of its own.
    let boom = AssertUnwindSafe(client.table("incident").get("boom").into_future()).catch_unwind();
    let (calm, boom) = futures_util::future::join(calm, boom).await;
    assert!(calm.is_ok());
    let payload = boom.expect_err("the panic reaches the caller");
    let text = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(text.contains("a layer panicked"), "{text}");
}

#[test]
fn requests_on_tasks_of_their_own_log_to_the_callers_subscriber_within_its_span() {
    let capture = Capture::default();
    let _guard = capture.install();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = records_after(Duration::from_millis(20)).await;
        let client = client_with(server.instance(), |_| {});
        let gets = ids(8);
        let gets = gets
            .iter()
            .map(|id| client.table("incident").get(id.clone()).into_future());
        let span = tracing::info_span!("caller_span");
        let got = tracing::Instrument::instrument(join_all(gets), span).await;
        assert!(got.iter().all(Result::is_ok));
    });
    let log = capture.text();
    let answered: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("request answered"))
        .collect();
    assert_eq!(answered.len(), 8, "{log}");
    assert!(
        answered
            .iter()
            .all(|l| l.contains("caller_span:snow.request{")),
        "{log}"
    );
}
