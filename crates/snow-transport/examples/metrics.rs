//! Export a transport's counters through the `metrics` facade, so any `metrics` exporter
//! (Prometheus, StatsD, ...) publishes them.
//!
//! ```sh
//! cargo run -p snow-transport --example metrics
//! ```
//!
//! Without an exporter installed the `metrics` macros do nothing; this example installs a tiny
//! recorder that prints what it is given, and sends requests to a server on 127.0.0.1 that
//! answers every third one with a semaphore `429`, so that there are retries to see.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use snow_transport::{Body, Instance, RetryConfig, RetryReason, Stats, Transport};

/// Publish one snapshot. Counters are cumulative since the transport was built, so they are
/// set with `absolute`; call this on a timer.
fn export(s: &Stats) {
    metrics::counter!("snow_requests_total").absolute(s.requests);
    metrics::counter!("snow_attempts_total").absolute(s.attempts);
    for reason in RetryReason::ALL {
        metrics::counter!("snow_retries_total", "reason" => reason.as_str())
            .absolute(s.retries.get(reason));
    }
    metrics::counter!("snow_throttled_total", "kind" => "rate_limit").absolute(s.rate_limit_429s);
    metrics::counter!("snow_throttled_total", "kind" => "semaphore").absolute(s.semaphore_429s);
    metrics::counter!("snow_throttled_total", "kind" => "session_rejected")
        .absolute(s.session_rejections);
    metrics::counter!("snow_failed_total").absolute(s.failed);
    metrics::counter!("snow_rate_limited_total").absolute(s.rate_limited);
    metrics::counter!("snow_cancelled_total").absolute(s.cancelled);
    metrics::counter!("snow_bytes_total", "direction" => "sent").absolute(s.bytes_sent);
    metrics::counter!("snow_bytes_total", "direction" => "received").absolute(s.bytes_received);
    metrics::counter!("snow_paced_total").absolute(s.paced);
    metrics::gauge!("snow_waited_seconds", "for" => "pacing").set(s.waited_pacing.as_secs_f64());
    metrics::gauge!("snow_waited_seconds", "for" => "retrying")
        .set(s.waited_retrying.as_secs_f64());
}

/// A recorder that prints every value it is given.
#[derive(Debug)]
struct Print;

#[derive(Debug)]
struct Line(Key);

impl metrics::CounterFn for Line {
    fn increment(&self, value: u64) {
        println!("{} += {value}", self.0);
    }
    fn absolute(&self, value: u64) {
        println!("{} = {value}", self.0);
    }
}

impl metrics::GaugeFn for Line {
    fn increment(&self, value: f64) {
        println!("{} += {value}", self.0);
    }
    fn decrement(&self, value: f64) {
        println!("{} -= {value}", self.0);
    }
    fn set(&self, value: f64) {
        println!("{} = {value:.3}", self.0);
    }
}

impl metrics::HistogramFn for Line {
    fn record(&self, value: f64) {
        println!("{} <- {value}", self.0);
    }
}

impl Recorder for Print {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Line(key.clone())))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(Line(key.clone())))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Line(key.clone())))
    }
}

/// A server on 127.0.0.1 that refuses every third request like a full API_INT queue.
async fn local_server() -> Result<Instance, Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let n = seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let (status, body) = if n % 3 == 2 {
                        (
                            429,
                            r#"{"error":{"message":"Maximum number of concurrent requests exceeded"},"status":"failure"}"#,
                        )
                    } else {
                        (200, r#"{"result":[]}"#)
                    };
                    let resp = http::Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from_static(body.as_bytes())));
                    async move { resp }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
            });
        }
    });
    Ok(Instance::from_url(&format!("http://{addr}"))?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    metrics::set_global_recorder(Print).map_err(|e| e.to_string())?;
    let transport = Transport::builder(local_server().await?)
        .retry(RetryConfig::default().base_delay(Duration::from_millis(20)))
        .build()?;
    for _ in 0..6 {
        let req =
            http::Request::get("/api/now/table/incident?sysparm_limit=1").body(Body::empty())?;
        let resp = transport.send(req).await?;
        resp.into_body().collect_bytes().await?;
    }
    export(&transport.stats());
    Ok(())
}
