//! The response body cap and read timeout.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use snow_core::BoxError;
use tower::{Layer, Service};

use crate::body::{Body, MaxResponseBody, ResponseBody};
use crate::error::TransportError;

/// Turns the inner service's response body into a [`ResponseBody`] that enforces a size cap and
/// a read (idle) timeout.
///
/// A response whose `Content-Length` is above the cap is refused at once with
/// [`TransportError::BodyTooLarge`], before any of its body is read; other bodies fail as soon
/// as more than the cap has arrived. A request carrying a
/// [`MaxResponseBody`](crate::MaxResponseBody) extension has that cap instead.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitLayer {
    limit: usize,
    read_timeout: Option<Duration>,
}

impl BodyLimitLayer {
    /// Cap bodies at `limit` bytes; fail a read that waits longer than `read_timeout` for data.
    pub fn new(limit: usize, read_timeout: Option<Duration>) -> Self {
        Self {
            limit,
            read_timeout,
        }
    }
}

impl<S> Layer<S> for BodyLimitLayer {
    type Service = BodyLimit<S>;

    fn layer(&self, inner: S) -> BodyLimit<S> {
        BodyLimit {
            inner,
            limit: self.limit,
            read_timeout: self.read_timeout,
        }
    }
}

/// The service of [`BodyLimitLayer`].
#[derive(Debug, Clone)]
pub struct BodyLimit<S> {
    inner: S,
    limit: usize,
    read_timeout: Option<Duration>,
}

fn declared_length(resp: &http::response::Parts) -> Option<u64> {
    resp.headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl<S, B> Service<Request<Body>> for BodyLimit<S>
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = BodyLimitFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let head = req.method() == Method::HEAD;
        let limit = req
            .extensions()
            .get::<MaxResponseBody>()
            .map_or(self.limit, |m| m.0);
        BodyLimitFuture {
            inner: self.inner.call(req),
            head,
            limit,
            read_timeout: self.read_timeout,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`BodyLimit`]: the inner service's response, its body capped (or the
    /// response refused when it announces more than the cap).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct BodyLimitFuture<F> {
        #[pin]
        inner: F,
        head: bool,
        limit: usize,
        read_timeout: Option<Duration>,
    }
}

impl<F, B, E> Future for BodyLimitFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let resp = ready!(this.inner.poll(cx)).map_err(Into::into)?;
        let limit = *this.limit;
        let (parts, body) = resp.into_parts();
        let bodiless = *this.head
            || parts.status.is_informational()
            || parts.status == StatusCode::NO_CONTENT
            || parts.status == StatusCode::NOT_MODIFIED;
        if !bodiless && declared_length(&parts).is_some_and(|n| n > limit as u64) {
            // Dropping the body closes the connection without reading it.
            return Poll::Ready(Err(TransportError::BodyTooLarge { limit }.boxed()));
        }
        Poll::Ready(Ok(Response::from_parts(
            parts,
            ResponseBody::with_limits(body, limit, *this.read_timeout),
        )))
    }
}
