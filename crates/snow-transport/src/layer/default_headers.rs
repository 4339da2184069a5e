//! Headers every request carries unless it sets them itself.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, HeaderName, Request};
use snow_core::is_credential_header;
use tower::{Layer, Service};

/// Adds default headers (`User-Agent`, `Accept`, the caller's own) to requests that do not
/// already have them.
///
/// `Debug` shows the header names only: a default header may carry a credential.
#[derive(Clone)]
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

    /// The same defaults without those that carry credentials: values marked sensitive and
    /// credential headers ([`snow_core::is_credential_header`]: `Authorization`, `Cookie`,
    /// `x-sn-apikey`, ...), whatever their value.
    /// For requests that leave the instance's origin.
    pub fn without_credentials(&self) -> Self {
        let mut public = HeaderMap::new();
        for (name, value) in self.headers.iter() {
            if !value.is_sensitive() && !is_credential_header(name) {
                public.append(name.clone(), value.clone());
            }
        }
        Self::new(public)
    }
}

impl fmt::Debug for DefaultHeadersLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultHeadersLayer")
            .field("names", &NamesOnly(&self.headers))
            .finish()
    }
}

struct NamesOnly<'a>(&'a HeaderMap);

impl fmt::Debug for NamesOnly<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.keys().map(HeaderName::as_str))
            .finish()
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
#[derive(Clone)]
pub struct DefaultHeaders<S> {
    inner: S,
    headers: Arc<HeaderMap>,
}

impl<S: fmt::Debug> fmt::Debug for DefaultHeaders<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultHeaders")
            .field("inner", &self.inner)
            .field("names", &NamesOnly(&self.headers))
            .finish()
    }
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
        if headers.is_empty() {
            // Nothing to keep: the defaults as they are, in one copy.
            headers.clone_from(&self.headers);
            return self.inner.call(req);
        }
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
