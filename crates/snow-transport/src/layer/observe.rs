//! The outermost layer: a `tracing` span and a record for each logical request (a request and
//! its retries), the counters, and the events an operator reads.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::{Request, Response};
use snow_core::BoxError;
use tokio::time::Instant;
use tower::{Layer, Service};
use tracing::field::Empty;
use tracing::instrument::Instrumented;
use tracing::{Instrument, Span};

use crate::body::{Body, BodyTap, ResponseBody};
use crate::error::TransportError;
use crate::layer::ReadyCall;
use crate::stats::{Counters, RetryReason};
use crate::throttle::{log_path, transaction_id};

/// What one logical request did so far, shared (in the request's extensions) by the layers
/// below: the attempt layer numbers attempts, the rate-limit layer and the retry policy add
/// the time waited and the retry reasons, and hold the request to the cap on waiting.
#[derive(Debug)]
pub(crate) struct RequestCtx {
    /// The request's span, for fields recorded below it.
    pub(crate) span: Span,
    pub(crate) counters: Arc<Counters>,
    /// The cap on time spent waiting for rate limits.
    pub(crate) max_wait: Duration,
    attempts: AtomicU32,
    /// Waited for rate limits (pacing and rate-limit `429`s), in nanoseconds.
    rate_waited: AtomicU64,
    /// Waited in all (the above and backoffs), in nanoseconds.
    waited: AtomicU64,
    reasons: Mutex<String>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl RequestCtx {
    /// The number of the attempt starting now (1 for the first).
    pub(crate) fn next_attempt(&self) -> u32 {
        self.attempts.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Time waited for rate limits so far.
    pub(crate) fn rate_waited(&self) -> Duration {
        Duration::from_nanos(self.rate_waited.load(Ordering::Relaxed))
    }

    /// The request waited `d` for pacing.
    pub(crate) fn paced(&self, d: Duration) {
        self.rate_waited.fetch_add(nanos(d), Ordering::Relaxed);
        self.waited.fetch_add(nanos(d), Ordering::Relaxed);
        self.counters.paced(d);
    }

    /// The request will be sent again after `delay`, for `reason`.
    pub(crate) fn retrying(&self, reason: RetryReason, delay: Duration) {
        if reason == RetryReason::RateLimited {
            self.rate_waited.fetch_add(nanos(delay), Ordering::Relaxed);
        }
        self.waited.fetch_add(nanos(delay), Ordering::Relaxed);
        self.counters.retry(reason, delay);
        let mut reasons = self.reasons.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded by the retry limit in practice; capped anyway.
        if reasons.len() < 512 {
            if !reasons.is_empty() {
                reasons.push(',');
            }
            let _ = write!(reasons, "{reason}");
        }
    }

    fn record_end(&self) {
        let attempts = self.attempts.load(Ordering::Relaxed);
        self.span.record("attempts", attempts);
        self.span.record("retries", attempts.saturating_sub(1));
        self.span.record(
            "waited_ms",
            millis(Duration::from_nanos(self.waited.load(Ordering::Relaxed))),
        );
        let reasons = self.reasons.lock().unwrap_or_else(PoisonError::into_inner);
        if !reasons.is_empty() {
            self.span.record("retry_reasons", reasons.as_str());
        }
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Opens the span of each logical request, counts it, and watches its body.
#[derive(Debug, Clone)]
pub(crate) struct ObserveLayer {
    counters: Arc<Counters>,
    max_wait: Duration,
}

impl ObserveLayer {
    pub(crate) fn new(counters: Arc<Counters>, max_wait: Duration) -> Self {
        Self { counters, max_wait }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            counters: self.counters.clone(),
            max_wait: self.max_wait,
        }
    }
}

/// The service of [`ObserveLayer`].
#[derive(Debug, Clone)]
pub(crate) struct Observe<S> {
    inner: S,
    counters: Arc<Counters>,
    max_wait: Duration,
}

/// Warns when a request is dropped before its answer arrived.
struct Watch {
    ctx: Arc<RequestCtx>,
    start: Instant,
    armed: bool,
}

impl Drop for Watch {
    fn drop(&mut self) {
        if self.armed {
            self.ctx.counters.cancelled();
            self.ctx.record_end();
            tracing::warn!(
                parent: &self.ctx.span,
                elapsed_ms = millis(self.start.elapsed()),
                "request cancelled before an answer arrived"
            );
        }
    }
}

impl<S> Service<Request<Body>> for Observe<S>
where
    S: Service<Request<Body>, Response = Response<ResponseBody>> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = ObserveFuture<S>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // The path only: never the query, which carries filter values (and may carry an API key).
        let span = tracing::debug_span!(
            "snow.request",
            method = %req.method(),
            path = %log_path(req.uri().path()),
            status = Empty,
            attempts = Empty,
            retries = Empty,
            retry_reasons = Empty,
            transaction_id = Empty,
            bytes_out = Empty,
            bytes_in = Empty,
            latency_ms = Empty,
            waited_ms = Empty,
            error = Empty,
        );
        if let Some(n) = http_body::Body::size_hint(req.body()).exact() {
            span.record("bytes_out", n);
        }
        let ctx = Arc::new(RequestCtx {
            span: span.clone(),
            counters: self.counters.clone(),
            max_wait: self.max_wait,
            attempts: AtomicU32::new(0),
            rate_waited: AtomicU64::new(0),
            waited: AtomicU64::new(0),
            reasons: Mutex::new(String::new()),
        });
        self.counters.request();
        req.extensions_mut().insert(ctx.clone());
        // The layers below are called in the request's span (their spans are its children).
        let call = {
            let _in_span = span.enter();
            ReadyCall::new(&mut self.inner, req)
        };
        ObserveFuture {
            call: call.instrument(span),
            watch: Watch {
                ctx,
                start: Instant::now(),
                armed: true,
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Observe`]: the call in the request's span; its end logged and counted,
    /// and the response body tapped, when it completes (its cancellation, when dropped before).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub(crate) struct ObserveFuture<S>
    where
        S: Service<Request<Body>>,
    {
        #[pin]
        call: Instrumented<ReadyCall<S, Request<Body>>>,
        watch: Watch,
    }
}

impl<S> Future for ObserveFuture<S>
where
    S: Service<Request<Body>, Response = Response<ResponseBody>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result = ready!(this.call.as_mut().poll(cx));
        let (watch, span) = (this.watch, this.call.span());
        watch.armed = false;
        let ctx = &watch.ctx;
        let start = watch.start;
        let latency = start.elapsed();
        ctx.record_end();
        span.record("latency_ms", millis(latency));
        Poll::Ready(match result {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                // With no subscriber listening, the transaction id is not looked up.
                let observed =
                    !span.is_disabled() || tracing::event_enabled!(tracing::Level::DEBUG);
                let txn = observed.then(|| transaction_id(resp.headers())).flatten();
                span.record("status", status);
                if let Some(txn) = txn {
                    span.record("transaction_id", txn);
                }
                tracing::debug!(
                    parent: span,
                    status,
                    transaction_id = txn,
                    latency_ms = millis(latency),
                    "request answered"
                );
                resp.body_mut().set_tap(Box::new(Tap {
                    ctx: ctx.clone(),
                    start,
                    bytes: 0,
                    ended: false,
                }));
                Ok(resp)
            }
            Err(e) => {
                let e: BoxError = e.into();
                let typed = e.downcast_ref::<TransportError>();
                let rate_limited = matches!(typed, Some(TransportError::RateLimited { .. }));
                ctx.counters.failed(rate_limited);
                match typed {
                    Some(t) => span.record("error", tracing::field::display(t)),
                    None => span.record("error", tracing::field::display(&e)),
                };
                tracing::debug!(parent: span, latency_ms = millis(latency), error = %e, "request failed");
                Err(e)
            }
        })
    }
}

/// Counts the body's bytes as they are read, and logs its end in the request's span.
struct Tap {
    ctx: Arc<RequestCtx>,
    start: Instant,
    bytes: u64,
    ended: bool,
}

impl BodyTap for Tap {
    fn data(&mut self, bytes: usize) {
        let bytes = bytes as u64;
        self.bytes = self.bytes.saturating_add(bytes);
        self.ctx.counters.received(bytes);
    }

    fn end(&mut self, error: Option<&TransportError>) {
        self.ended = true;
        let span = &self.ctx.span;
        span.record("bytes_in", self.bytes);
        let elapsed_ms = millis(self.start.elapsed());
        match error {
            None => {
                tracing::debug!(parent: span, bytes_in = self.bytes, elapsed_ms, "response body read")
            }
            Some(e) => {
                span.record("error", tracing::field::display(e));
                tracing::debug!(parent: span, bytes_in = self.bytes, elapsed_ms, error = %e, "response body failed");
            }
        }
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        if !self.ended {
            self.ctx.span.record("bytes_in", self.bytes);
        }
    }
}
