//! One span per attempt (inside the request's span): its number, status, transaction id,
//! latency and the queue waits the instance reports; and the attempt and throttling counters.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use snow_core::BoxError;
use tokio::time::Instant;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing::field::Empty;
use tracing::instrument::Instrumented;

use crate::body::{Body, ResponseBody};
use crate::layer::ReadyCall;
use crate::layer::observe::{RequestCtx, millis};
use crate::stats::Counters;
use crate::throttle::{Throttle, server_waits, transaction_id};

/// Opens a span per attempt and counts attempts, bytes sent and throttled answers.
#[derive(Debug, Clone)]
pub(crate) struct AttemptLayer {
    counters: Arc<Counters>,
}

impl AttemptLayer {
    pub(crate) fn new(counters: Arc<Counters>) -> Self {
        Self { counters }
    }
}

impl<S> Layer<S> for AttemptLayer {
    type Service = Attempt<S>;

    fn layer(&self, inner: S) -> Attempt<S> {
        Attempt {
            inner,
            counters: self.counters.clone(),
        }
    }
}

/// The service of [`AttemptLayer`].
#[derive(Debug, Clone)]
pub(crate) struct Attempt<S> {
    inner: S,
    counters: Arc<Counters>,
}

impl<S> Service<Request<Body>> for Attempt<S>
where
    S: Service<Request<Body>, Response = Response<ResponseBody>> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = AttemptFuture<S>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let attempt = req
            .extensions()
            .get::<Arc<RequestCtx>>()
            .map_or(1, |ctx| ctx.next_attempt());
        self.counters.attempt();
        let req = match http_body::Body::size_hint(req.body()).exact() {
            Some(n) => {
                self.counters.sent(n);
                req
            }
            None => {
                let counters = self.counters.clone();
                req.map(|b| b.counted(move |n| counters.sent(n)))
            }
        };
        let span = tracing::debug_span!(
            "snow.attempt",
            attempt,
            status = Empty,
            transaction_id = Empty,
            latency_ms = Empty,
            waited_ms = Empty,
            throttled = Empty,
            sem_wait_ms = Empty,
            sesh_wait_ms = Empty,
            error = Empty,
        );
        // With no subscriber listening, the answer's ids, waits and latency are not read.
        let observed = !span.is_disabled() || tracing::event_enabled!(tracing::Level::TRACE);
        // The latency counts the work done when the service below is called, which is done
        // inside the attempt's span, as its polling is.
        let start = observed.then(Instant::now);
        let call = {
            let _entered = span.enter();
            ReadyCall::new(&mut self.inner, req)
        };
        AttemptFuture {
            start,
            call: call.instrument(span),
            counters: self.counters.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Attempt`]: one attempt in its span; what the answer says is recorded
    /// and counted when it completes.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub(crate) struct AttemptFuture<S>
    where
        S: Service<Request<Body>>,
    {
        #[pin]
        call: Instrumented<ReadyCall<S, Request<Body>>>,
        counters: Arc<Counters>,
        start: Option<Instant>,
    }
}

impl<S> Future for AttemptFuture<S>
where
    S: Service<Request<Body>, Response = Response<ResponseBody>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result: Result<_, BoxError> = ready!(this.call.as_mut().poll(cx)).map_err(Into::into);
        let counters = this.counters;
        let Some(start) = *this.start else {
            if let Ok(resp) = &result
                && let Some(throttle) = resp.extensions().get::<Throttle>()
            {
                counters.throttled(throttle.counted_as());
            }
            return Poll::Ready(result);
        };
        // What follows is logged in the attempt's span, as the call was.
        let span = this.call.span();
        let _entered = span.enter();
        let latency_ms = millis(start.elapsed());
        span.record("latency_ms", latency_ms);
        match &result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let txn = transaction_id(resp.headers());
                span.record("status", status);
                if let Some(txn) = txn {
                    span.record("transaction_id", txn);
                }
                let (sem, sesh) = server_waits(resp.headers());
                if let Some(sem) = sem {
                    span.record("sem_wait_ms", sem);
                }
                if let Some(sesh) = sesh {
                    span.record("sesh_wait_ms", sesh);
                }
                if let Some(throttle) = resp.extensions().get::<Throttle>() {
                    counters.throttled(throttle.counted_as());
                    span.record("throttled", throttle.as_str());
                }
                tracing::trace!(status, transaction_id = txn, latency_ms, "attempt answered");
            }
            Err(e) => {
                span.record("error", tracing::field::display(e));
                tracing::trace!(latency_ms, error = %e, "attempt failed");
            }
        }
        Poll::Ready(result)
    }
}
