//! Per attempt: wait for the rate-limit pacer, then learn from the answer's `X-RateLimit-*`
//! headers and tell what kind of throttling a `429` or `202` is.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use http::{Request, Response, StatusCode};
use snow_core::BoxError;
use tower::{Layer, Service, ServiceExt};

use crate::body::{Body, ResponseBody};
use crate::layer::BoxFuture;
use crate::layer::observe::{RequestCtx, millis};
use crate::layer::retry::retry_after;
use crate::pacer::Pacer;
use crate::throttle::{Head, RateLimitInfo, Throttle, route_key};

/// How much of a `429`'s body is read to look for the rate-limit message, and for how long.
const PEEK_BYTES: usize = 4096;
const PEEK_TIME: Duration = Duration::from_secs(2);

/// Paces attempts by the instance's rate-limit rules and classifies throttled answers (a
/// `Throttle` in the response's extensions, for the retry policy and the counters).
#[derive(Debug, Clone)]
pub(crate) struct RateLimitLayer {
    pacer: Arc<Pacer>,
}

impl RateLimitLayer {
    pub(crate) fn new(pacer: Arc<Pacer>) -> Self {
        Self { pacer }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            pacer: self.pacer.clone(),
        }
    }
}

/// The service of [`RateLimitLayer`].
#[derive(Debug, Clone)]
pub(crate) struct RateLimit<S> {
    inner: S,
    pacer: Arc<Pacer>,
}

impl<S> Service<Request<Body>> for RateLimit<S>
where
    S: Service<Request<Body>, Response = Response<ResponseBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<ResponseBody>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness is awaited inside the call, after the wait for pacing.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The route key is worked out before sending only once some route has a rule, and
        // otherwise only if the answer names one.
        let route = self
            .pacer
            .routes_known()
            .then(|| route_key(req.method(), req.uri().path()));
        let uri = route.is_none().then(|| req.uri().clone());
        let method = req.method().clone();
        let ctx = req.extensions().get::<Arc<RequestCtx>>().cloned();
        let pacer = self.pacer.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            let waited = ctx.as_ref().map_or(Duration::ZERO, |c| c.rate_waited());
            let ticket = match &route {
                Some(route) => pacer.admit(route, waited).await.map_err(|e| e.boxed())?,
                None => pacer.untracked(),
            };
            if !ticket.waited.is_zero() {
                tracing::Span::current().record("waited_ms", millis(ticket.waited));
                tracing::debug!(
                    waited_ms = millis(ticket.waited),
                    "paced for a rate-limit rule"
                );
                if let Some(ctx) = &ctx {
                    ctx.paced(ticket.waited);
                }
            }
            let mut resp = inner.oneshot(req).await.map_err(Into::into)?;
            let info = RateLimitInfo::from_headers(resp.headers());
            let throttle = match Throttle::from_head(resp.status(), &method, resp.headers()) {
                Head::Throttle(t) => Some(t),
                Head::NotThrottled => None,
                Head::NeedsBody => {
                    // Best effort: a body that does not arrive in time is a semaphore 429's.
                    let body = resp.body_mut();
                    let prefix = tokio::time::timeout(PEEK_TIME, body.peek(PEEK_BYTES))
                        .await
                        .ok()
                        .map(Throttle::from_body);
                    Some(prefix.unwrap_or(Throttle::Semaphore))
                }
            };
            let wait = match resp.status() {
                StatusCode::TOO_MANY_REQUESTS => retry_after(resp.headers(), SystemTime::now()),
                _ => None,
            };
            if let Some(info) = &info {
                let route = route.unwrap_or_else(|| {
                    route_key(&method, uri.as_ref().map_or("/", http::Uri::path))
                });
                pacer.observe(&route, info, throttle.as_ref(), wait);
            }
            drop(ticket);
            if let Some(t) = throttle {
                resp.extensions_mut().insert(t);
            }
            Ok(resp)
        })
    }
}
