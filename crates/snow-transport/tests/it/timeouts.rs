//! Timeouts and the connection pool, over real sockets.
//!
//! The timeout tests run on tokio's paused clock: the runtime jumps to the next timer whenever
//! it has nothing else to do, so a 300 ms timeout or a minute of trickling costs no real time,
//! while the loopback sockets still carry every byte (data written on loopback is readable at
//! once, before the clock may move). The pool test stays on the real clock: what it waits for
//! is the server seeing its socket closed, and the clock must not race ahead of that.

use std::time::Duration;

use snow_test_support::server::{raw_server, read_head, reply, serve};
use snow_transport::{DEFAULT_TOTAL_TIMEOUT, RetryConfig, TimeoutKind, Transport, TransportError};
use tokio::io::AsyncWriteExt;

fn instance(addr: std::net::SocketAddr) -> snow_transport::Instance {
    snow_transport::Instance::from_url(&format!("http://{addr}")).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_stalled_server_trips_the_per_attempt_timeout() {
    let addr = raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await;
    let t = Transport::builder(instance(addr))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = t.send(crate::get("/x")).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Timeout {
                kind: TimeoutKind::Attempt
            }
        ),
        "{err}"
    );
    assert!(err.is_timeout());
    assert!(err.to_string().contains("per-attempt"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_body_that_stops_arriving_trips_the_read_timeout() {
    let addr = raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"result\":")
            .await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let t = Transport::builder(instance(addr))
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let err = resp.into_body().collect_bytes().await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Timeout {
                kind: TimeoutKind::BodyRead
            }
        ),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_total_timeout_covers_retries() {
    let server = serve(|_, _| async { reply(503, "") }).await;
    let t = Transport::builder(server.instance())
        .retry(
            RetryConfig::default()
                .max_attempts(100)
                .base_delay(Duration::from_millis(100))
                .max_delay(Duration::from_millis(100)),
        )
        // Generous, so that a loaded machine still makes the first attempt in time; the
        // 100 attempts at up to 100 ms apart cannot all fit in it.
        .total_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let err = t.send(crate::get("/x")).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Timeout {
                kind: TimeoutKind::Total
            }
        ),
        "{err}"
    );
    let n = server.count();
    assert!((1..100).contains(&n), "{n}");
}

#[tokio::test(start_paused = true)]
async fn the_total_timeout_covers_the_body() {
    let addr = raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            .await;
        // A chunk every 50 ms for a minute: the read timeout never trips, the total one must.
        for _ in 0..1200 {
            if s.write_all(b"1\r\nx\r\n").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    // The head arrives at once; 3 s leaves a loaded machine ample time to get it, and is far
    // shorter than the minute the body would take.
    let t = Transport::builder(instance(addr))
        .read_timeout(Duration::from_secs(30))
        .total_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let resp = t.send(crate::get("/x")).await.unwrap();
    let body = resp.into_body();
    let err = body.collect_bytes().await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Timeout {
                kind: TimeoutKind::Total
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn idle_pooled_connections_are_closed_after_the_pool_idle_timeout() {
    let server = serve(|_, _| async { reply(200, "{}") }).await;
    let get = |t: Transport| async move {
        let resp = t.send(crate::get("/x")).await.unwrap();
        resp.into_body().collect_bytes().await.unwrap();
    };

    // Back to back: the pooled connection is reused (2 s of idling allowed between the two).
    let t = Transport::builder(server.instance())
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    get(t.clone()).await;
    get(t.clone()).await;
    assert_eq!(server.connections(), 1);

    // Idling past the timeout, the pool's timer closes it while the transport is still alive.
    // Wait for that (up to a minute), rather than for a fixed time.
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while server.closed() == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "the idle connection was never closed");
    assert_eq!(server.closed(), 1);
    get(t.clone()).await;
    assert_eq!(server.connections(), 2);
    assert_eq!(server.count(), 3);
    drop(t);
}

/// A server that sends `head`, then one byte of `body_byte` per second, for `seconds` seconds.
async fn trickling_server(head: &'static [u8], seconds: u64) -> std::net::SocketAddr {
    raw_server(move |mut s| async move {
        let _ = read_head(&mut s).await;
        if s.write_all(head).await.is_err() {
            return;
        }
        for _ in 0..seconds {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if s.write_all(b"x").await.is_err() {
                return;
            }
        }
        // Then hold the connection open, silent.
        std::future::pending::<()>().await;
    })
    .await
}

// The clock is paused: Tokio moves it to the next timer whenever every task waits, so minutes of
// trickling take milliseconds, and the elapsed times below are exact.

#[tokio::test(start_paused = true)]
async fn with_the_defaults_a_trickling_body_ends_in_the_total_timeout() {
    let addr = trickling_server(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n", 3600).await;
    let t = Transport::builder(instance(addr)).build().unwrap();
    let start = tokio::time::Instant::now();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let err = resp.into_body().collect_bytes().await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Timeout {
                kind: TimeoutKind::Total
            }
        ),
        "{err}"
    );
    // A byte a second never trips the 60 s read timeout; the whole-call bound does, on time.
    let elapsed = start.elapsed();
    assert!(
        elapsed >= DEFAULT_TOTAL_TIMEOUT
            && elapsed < DEFAULT_TOTAL_TIMEOUT + Duration::from_secs(2),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn with_the_defaults_a_head_then_nothing_ends_in_the_read_timeout() {
    let addr = trickling_server(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n", 0).await;
    let t = Transport::builder(instance(addr)).build().unwrap();
    let start = tokio::time::Instant::now();
    let resp = t.send(crate::get("/x")).await.unwrap();
    let err = resp.into_body().collect_bytes().await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Timeout {
                kind: TimeoutKind::BodyRead
            }
        ),
        "{err}"
    );
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(60) && elapsed < Duration::from_secs(62),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn with_the_defaults_a_trickling_head_ends_in_a_timeout_within_the_total_bound() {
    // The status line, a byte a second, never finished: each attempt times out after 60 s and
    // the GET is tried three times in all, well inside the total bound.
    let addr = trickling_server(b"HTTP/1.1 200 OK\r\nx-slow: ", 3600).await;
    let t = Transport::builder(instance(addr)).build().unwrap();
    let start = tokio::time::Instant::now();
    let err = t.send(crate::get("/x")).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_secs(180), "{elapsed:?}");
    assert!(elapsed <= DEFAULT_TOTAL_TIMEOUT, "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn without_a_total_timeout_a_slow_body_may_take_as_long_as_it_keeps_coming() {
    // 400 bytes at one a second: longer than the default bound, never idle for 60 s.
    let addr = trickling_server(b"HTTP/1.1 200 OK\r\ncontent-length: 400\r\n\r\n", 400).await;
    let t = Transport::builder(instance(addr))
        .no_total_timeout()
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let resp = t.send(crate::get("/x")).await.unwrap();
    let body = resp.into_body().collect_bytes().await.unwrap();
    assert_eq!(body.len(), 400);
    assert!(start.elapsed() >= Duration::from_secs(400));
}
