//! Requests driven concurrently from one task on a multi-thread runtime: each runs on a task of
//! the runtime while others are in flight (a lone one stays on the caller's task), and that task
//! is the caller's in every way that shows: its span and subscriber, its panics, its
//! cancellation.

use std::panic::AssertUnwindSafe;
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

/// Waits until `done()` holds (at most 10 s), and says whether it does.
async fn eventually(done: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

/// The name of the current thread.
fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_owned()
}

/// A lone request of `client` runs on the caller's thread: no request is counted in flight.
async fn a_lone_request_stays_in_place(client: &Client, threads: &Mutex<Vec<String>>) {
    threads.lock().unwrap().clear();
    client.table("incident").get("d".repeat(32)).await.unwrap();
    assert_eq!(
        threads.lock().unwrap().as_slice(),
        [thread_name()].as_slice()
    );
}

/// A client whose layer records the thread each request runs its stack on.
fn recording_threads(instance: Instance) -> (Client, Arc<Mutex<Vec<String>>>) {
    let threads = Arc::new(Mutex::new(Vec::new()));
    let seen = threads.clone();
    let client = client_with(instance, move |_| seen.lock().unwrap().push(thread_name()));
    (client, threads)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_given_up_is_not_finished_in_the_background() {
    let capture = Capture::default();
    let _log = capture.install();
    // The answers to these two never come in time.
    let server = serve(|seen: Seen, _| async move {
        let slow = !seen.uri.path().ends_with(&"d".repeat(32));
        if slow {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        snow_test_support::server::reply(200, r#"{"result":{"sys_id":"d"}}"#)
    })
    .await;
    let (client, threads) = recording_threads(server.instance());
    let both = futures_util::future::join(
        client.table("incident").get("a".repeat(32)).into_future(),
        client.table("incident").get("b".repeat(32)).into_future(),
    );
    // Given up once both have reached the server.
    tokio::select! {
        _ = both => panic!("answered"),
        arrived = eventually(|| server.count() == 2) => assert!(arrived),
    }
    let threads_then = threads.lock().unwrap().clone();
    assert_eq!(threads_then.len(), 2);
    assert_ne!(threads_then[1], thread_name(), "the second ran on a task");
    // Both are cancelled, the one on a task of its own too (left running, it would wait for its
    // answer a minute), and both connections close.
    assert!(
        eventually(|| client.stats().cancelled == 2).await,
        "{:?}",
        client.stats()
    );
    assert!(eventually(|| server.closed() == 2).await);
    // What the stack logs as a request is cancelled goes to the caller's subscriber, also from
    // the task dropped on another thread.
    let log = capture.text();
    assert_eq!(
        log.matches("request cancelled before an answer arrived")
            .count(),
        2,
        "{log}"
    );
    a_lone_request_stays_in_place(&client, &threads).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_request_on_its_own_task_goes_on_in_the_caller() {
    let server = records_after(Duration::from_millis(50)).await;
    let (client, threads) = {
        let threads = Arc::new(Mutex::new(Vec::new()));
        let seen = threads.clone();
        let client = client_with(server.instance(), move |req| {
            seen.lock().unwrap().push(thread_name());
            assert!(
                !req.uri().path().ends_with("boom"),
                "a layer panicked on thread {:?}",
                thread_name()
            );
        });
        (client, threads)
    };
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
    assert!(text.contains("a layer panicked on thread"), "{text}");
    assert!(
        !text.contains(&format!("{:?}", thread_name())),
        "it panicked on a task of the runtime: {text}"
    );
    a_lone_request_stays_in_place(&client, &threads).await;
}

#[tokio::test(flavor = "current_thread")]
async fn on_a_current_thread_runtime_every_request_stays_in_place() {
    let server = records_after(Duration::from_millis(5)).await;
    let (client, threads) = recording_threads(server.instance());
    let got = join_all(
        ids(8)
            .into_iter()
            .map(|id| client.table("incident").get(id).into_future()),
    )
    .await;
    assert!(got.iter().all(Result::is_ok));
    assert_eq!(*threads.lock().unwrap(), vec![thread_name(); 8]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_each_sent_by_a_task_of_its_own_stay_on_that_task() {
    let server = records_after(Duration::from_millis(20)).await;
    let stack_tasks = Arc::new(Mutex::new(Vec::new()));
    let seen = stack_tasks.clone();
    let client = client_with(server.instance(), move |_| {
        seen.lock().unwrap().push(tokio::task::try_id());
    });
    // Eight tasks, a request each, all in flight at once: each request's stack runs in the
    // task that sent it (already spread over the runtime's threads), not in a task of its own.
    let tasks: Vec<_> = ids(8)
        .into_iter()
        .map(|id| {
            let client = client.clone();
            tokio::spawn(async move { client.table("incident").get(id).await.map(|_| ()) })
        })
        .collect();
    let mut senders: Vec<_> = tasks.iter().map(|t| Some(t.id())).collect();
    for task in join_all(tasks).await {
        task.unwrap().unwrap();
    }
    assert!(server.max_in_flight() > 1, "the requests overlapped");
    let mut ran_in = stack_tasks.lock().unwrap().clone();
    ran_in.sort();
    senders.sort();
    assert_eq!(ran_in, senders);
}

/// A multi-thread runtime with two workers, for a test that installs a thread-local subscriber
/// on its own thread first.
fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `log` shows `n` requests answered, each inside the caller's span `caller_span`.
fn answered_in_caller_span(log: &str, n: usize) {
    let answered: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("request answered"))
        .collect();
    assert_eq!(answered.len(), n, "{log}");
    assert!(
        answered
            .iter()
            .all(|l| l.contains("caller_span:snow.request{")),
        "{log}"
    );
}

#[test]
fn requests_on_tasks_of_their_own_log_to_the_callers_subscriber_within_its_span() {
    let capture = Capture::default();
    let _guard = capture.install();
    let runtime = two_workers();
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
    answered_in_caller_span(&capture.text(), 8);
}

#[test]
fn a_streams_page_task_logs_to_the_callers_subscriber_within_its_span() {
    let capture = Capture::default();
    let _guard = capture.install();
    let runtime = two_workers();
    let pages = runtime.block_on(async {
        let dev = crate::common::start(5).await;
        let client = crate::common::client(&dev, "admin");
        let span = tracing::info_span!("caller_span");
        let all = client.table("incident").list().page_size(2).all::<Record>();
        let records = tracing::Instrument::instrument(all, span).await.unwrap();
        assert_eq!(records.len(), 5);
        let pages = crate::common::log_for(&dev, "/api/now/table/incident").len();
        dev.shutdown().await.unwrap();
        pages
    });
    assert!(pages >= 3, "{pages} pages");
    answered_in_caller_span(&capture.text(), pages);
}
