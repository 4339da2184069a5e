//! A deadline over the whole call: waiting for a slot, every attempt and backoff, and the body.

use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use snow_core::BoxError;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

use crate::body::{Body, ResponseBody};
use crate::error::{TimeoutKind, TransportError};
use crate::layer::BoxFuture;

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

/// The service of [`TotalTimeoutLayer`].
#[derive(Debug, Clone)]
pub struct TotalTimeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S> Service<Request<Body>> for TotalTimeout<S>
where
    S: Service<Request<Body>, Response = Response<ResponseBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<ResponseBody>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness is awaited inside the call, so that waiting counts against the deadline.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // A timeout too long to represent (`Duration::MAX`, say) means no deadline, not a panic.
        let deadline = Instant::now().checked_add(self.timeout);
        let inner = self.inner.clone();
        Box::pin(async move {
            let Some(deadline) = deadline else {
                return inner.oneshot(req).await.map_err(Into::into);
            };
            match tokio::time::timeout_at(deadline, inner.oneshot(req)).await {
                Ok(Ok(mut resp)) => {
                    resp.body_mut().set_deadline(deadline);
                    Ok(resp)
                }
                Ok(Err(e)) => Err(e.into()),
                Err(_) => Err(TransportError::Timeout {
                    kind: TimeoutKind::Total,
                }
                .boxed()),
            }
        })
    }
}
