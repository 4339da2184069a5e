//! Per attempt: wait for the rate-limit pacer, then learn from the answer's `X-RateLimit-*`
//! headers and tell what kind of throttling a `429` or `202` is.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime};

use http::{Request, Response, StatusCode};
use snow_core::BoxError;
use tower::{Layer, Service, ServiceExt};

use crate::body::{Body, ResponseBody};
use crate::layer::observe::{RequestCtx, millis};
use crate::layer::retry::retry_after;
use crate::layer::{BoxFuture, ReadyCall};
use crate::pacer::{Pacer, Ticket};
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
    type Future = RateLimitFuture<S>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness is awaited inside the call, after the wait for pacing.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let pacer = self.pacer.clone();
        let method = req.method().clone();
        // The route key is worked out before sending only once some route has a rule, and
        // otherwise only if the answer names one.
        if !pacer.routes_known() {
            // No rule to wait for: the request goes at once.
            let answer = Answer {
                route: Route::Later(req.uri().clone()),
                method,
                ticket: pacer.untracked(),
                pacer,
            };
            return RateLimitFuture {
                state: State::Sending {
                    call: ReadyCall::new(&mut self.inner, req),
                    answer: Some(answer),
                },
            };
        }
        let inner = self.inner.clone();
        let route = route_key(&method, req.uri().path());
        let ctx = req.extensions().get::<Arc<RequestCtx>>().cloned();
        RateLimitFuture {
            state: State::Boxed {
                call: Box::pin(async move {
                    let waited = ctx.as_ref().map_or(Duration::ZERO, |c| c.rate_waited());
                    let ticket = pacer.admit(&route, waited).await.map_err(|e| e.boxed())?;
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
                    let answer = Answer {
                        route: Route::Known(route),
                        method,
                        ticket,
                        pacer,
                    };
                    let resp = inner.oneshot(req).await.map_err(Into::into)?;
                    Ok(match answer.throttle(&resp) {
                        Some(throttle) => answer.settle(resp, throttle),
                        None => answer.peek_then_settle(resp).await,
                    })
                }),
            },
        }
    }
}

/// The route a request counts against.
enum Route {
    /// Worked out before sending.
    Known(String),
    /// Worked out from this URI only if the answer names a rule.
    Later(http::Uri),
}

/// What the layer learns from an answer with, and the request's place in flight.
struct Answer {
    route: Route,
    method: http::Method,
    /// Held until the answer is read.
    ticket: Ticket,
    pacer: Arc<Pacer>,
}

impl Answer {
    /// What kind of throttling the answer's head says it is: `None` when only its body can
    /// tell ([`peek_then_settle`](Self::peek_then_settle)).
    fn throttle(&self, resp: &Response<ResponseBody>) -> Option<Option<Throttle>> {
        match Throttle::from_head(resp.status(), &self.method, resp.headers()) {
            Head::Throttle(t) => Some(Some(t)),
            Head::NotThrottled => Some(None),
            Head::NeedsBody => None,
        }
    }

    /// Reads ahead in the answer's body to tell what kind of throttling it is, then settles.
    async fn peek_then_settle(self, mut resp: Response<ResponseBody>) -> Response<ResponseBody> {
        // Best effort: a body that does not arrive in time is a semaphore 429's.
        let prefix = tokio::time::timeout(PEEK_TIME, resp.body_mut().peek(PEEK_BYTES))
            .await
            .ok()
            .map(Throttle::from_body);
        self.settle(resp, Some(prefix.unwrap_or(Throttle::Semaphore)))
    }

    /// Tells the pacer what the answer says of its rule, and marks a throttled answer.
    fn settle(
        self,
        mut resp: Response<ResponseBody>,
        throttle: Option<Throttle>,
    ) -> Response<ResponseBody> {
        let wait = match resp.status() {
            StatusCode::TOO_MANY_REQUESTS => retry_after(resp.headers(), SystemTime::now()),
            _ => None,
        };
        if let Some(info) = RateLimitInfo::from_headers(resp.headers()) {
            let route = match self.route {
                Route::Known(route) => route,
                Route::Later(uri) => route_key(&self.method, uri.path()),
            };
            self.pacer.observe(&route, &info, throttle.as_ref(), wait);
        }
        drop(self.ticket);
        if let Some(t) = throttle {
            resp.extensions_mut().insert(t);
        }
        resp
    }
}

pin_project_lite::pin_project! {
    /// The future of the rate-limit layer.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub(crate) struct RateLimitFuture<S>
    where
        S: Service<Request<Body>>,
    {
        #[pin]
        state: State<S>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<S>
    where
        S: Service<Request<Body>>,
    {
        // Sent at once (no rule known); the answer not read yet.
        Sending {
            #[pin]
            call: ReadyCall<S, Request<Body>>,
            answer: Option<Answer>,
        },
        // Paced by a rule, or reading ahead in the answer's body.
        Boxed {
            call: BoxFuture<Result<Response<ResponseBody>, BoxError>>,
        },
    }
}

impl<S> Future for RateLimitFuture<S>
where
    S: Service<Request<Body>, Response = Response<ResponseBody>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (resp, answer) = match self.as_mut().project().state.project() {
            StateProj::Boxed { call } => return call.as_mut().poll(cx),
            StateProj::Sending { call, answer } => {
                let resp = ready!(call.poll(cx)).map_err(Into::into);
                (resp, answer.take())
            }
        };
        let resp = resp?;
        let Some(answer) = answer else {
            return Poll::Ready(Ok(resp));
        };
        match answer.throttle(&resp) {
            Some(throttle) => Poll::Ready(Ok(answer.settle(resp, throttle))),
            None => {
                let mut read = Box::pin(async move { Ok(answer.peek_then_settle(resp).await) });
                let poll = read.as_mut().poll(cx);
                self.project().state.set(State::Boxed { call: read });
                poll
            }
        }
    }
}
