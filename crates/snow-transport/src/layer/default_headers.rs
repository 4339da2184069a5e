//! Headers every request carries unless it sets them itself.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, Request};
use tower::{Layer, Service};

/// Adds default headers (`User-Agent`, `Accept`, the caller's own) to requests that do not
/// already have them.
#[derive(Debug, Clone)]
pub struct DefaultHeadersLayer {
    headers: Arc<HeaderMap>,
}

impl DefaultHeadersLayer {
    /// Add `headers` to every request lacking them.
    pub fn new(headers: HeaderMap) -> Self {
        Self {
            headers: Arc::new(headers),
        }
    }
}

impl<S> Layer<S> for DefaultHeadersLayer {
    type Service = DefaultHeaders<S>;

    fn layer(&self, inner: S) -> DefaultHeaders<S> {
        DefaultHeaders {
            inner,
            headers: self.headers.clone(),
        }
    }
}

/// The service of [`DefaultHeadersLayer`].
#[derive(Debug, Clone)]
pub struct DefaultHeaders<S> {
    inner: S,
    headers: Arc<HeaderMap>,
}

impl<S, B> Service<Request<B>> for DefaultHeaders<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> S::Future {
        let headers = req.headers_mut();
        for name in self.headers.keys() {
            if !headers.contains_key(name) {
                for value in self.headers.get_all(name) {
                    headers.append(name.clone(), value.clone());
                }
            }
        }
        self.inner.call(req)
    }
}
