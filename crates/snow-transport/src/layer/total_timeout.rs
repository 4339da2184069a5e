//! A deadline over the whole call: waiting for a slot, every attempt and backoff, and the body.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::{Request, Response};
use snow_core::BoxError;
use tokio::time::{Instant, Timeout};
use tower::{Layer, Service};

use crate::body::{Body, ResponseBody};
use crate::error::{TimeoutKind, TransportError};
use crate::layer::ReadyCall;

/// Fails a call with [`TransportError::Timeout`] (kind [`TimeoutKind::Total`]) once `timeout`
/// has passed since it started, whether it is still waiting for the response head or already
/// reading the body.
#[derive(Debug, Clone, Copy)]
pub struct TotalTimeoutLayer {
    timeout: Duration,
}

impl TotalTimeoutLayer {
    /// A deadline `timeout` after each call starts.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for TotalTimeoutLayer {
    type Service = TotalTimeout<S>;

    fn layer(&self, inner: S) -> TotalTimeout<S> {
        TotalTimeout {
            inner,
            timeout: self.timeout,
        }
    }
}

/// The service of [`TotalTimeoutLayer`]. Like tower's `Timeout`, its `call` starts the deadline's
/// timer, so it is called within a Tokio runtime (as `oneshot` and `Transport::send` do).
#[derive(Debug, Clone)]
pub struct TotalTimeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S> Service<Request<Body>> for TotalTimeout<S>
where
    S: Service<Request<Body>, Response = Response<ResponseBody>> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = TotalTimeoutFuture<S>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness is awaited inside the call, so that waiting counts against the deadline.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let call = ReadyCall::new(&mut self.inner, req);
        // A timeout too long to represent (`Duration::MAX`, say) means no deadline, not a panic.
        let state = match Instant::now().checked_add(self.timeout) {
            Some(deadline) => State::Timed {
                call: tokio::time::timeout_at(deadline, call),
                deadline,
            },
            None => State::Untimed { call },
        };
        TotalTimeoutFuture { state }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`TotalTimeout`]: the inner call under the deadline, which then goes on
    /// with the response body.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct TotalTimeoutFuture<S>
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
        Timed {
            #[pin]
            call: Timeout<ReadyCall<S, Request<Body>>>,
            deadline: Instant,
        },
        Untimed {
            #[pin]
            call: ReadyCall<S, Request<Body>>,
        },
    }
}

impl<S> std::fmt::Debug for TotalTimeoutFuture<S>
where
    S: Service<Request<Body>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotalTimeoutFuture").finish_non_exhaustive()
    }
}

impl<S> Future for TotalTimeoutFuture<S>
where
    S: Service<Request<Body>, Response = Response<ResponseBody>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Untimed { call } => call.poll(cx).map_err(Into::into),
            StateProj::Timed { call, deadline } => Poll::Ready(match ready!(call.poll(cx)) {
                Ok(Ok(mut resp)) => {
                    resp.body_mut().set_deadline(*deadline);
                    Ok(resp)
                }
                Ok(Err(e)) => Err(e.into()),
                Err(_) => Err(TransportError::Timeout {
                    kind: TimeoutKind::Total,
                }
                .boxed()),
            }),
        }
    }
}
