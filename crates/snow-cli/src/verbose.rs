//! `--verbose`: one line per request and per answer on standard error.
//!
//! The layer sits among the transport's caller layers, which see each request before default
//! headers and credentials are added, so no credential can reach these lines; query parameters
//! named like credentials are redacted all the same.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use snow_client::transport::{Body, ResponseBody};

/// Logs each request and its answer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LogLayer;

impl<S> tower::Layer<S> for LogLayer {
    type Service = LogService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        LogService { inner }
    }
}

/// The service of [`LogLayer`].
#[derive(Clone, Debug)]
pub(crate) struct LogService<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> tower::Service<Request<Body>> for LogService<S>
where
    S: tower::Service<Request<Body>, Response = Response<ResponseBody>>,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = Response<ResponseBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let line = describe(&req);
        eprintln!("snow: > {line}");
        let started = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            let ms = started.elapsed().as_millis();
            match &result {
                Ok(resp) => eprintln!("snow: < {} {line} ({ms} ms)", resp.status()),
                Err(_) => eprintln!("snow: < failed {line} ({ms} ms)"),
            }
            result
        })
    }
}

/// `METHOD /path?query`, with credential-like query values redacted.
pub(crate) fn describe(req: &Request<Body>) -> String {
    let uri = req.uri();
    let mut s = format!("{} {}", req.method(), uri.path());
    if let Some(q) = uri.query() {
        s.push('?');
        s.push_str(&redact_query(q));
    }
    s
}

fn redact_query(q: &str) -> String {
    q.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if snow_client::core::is_credential_query_param(name) => {
                format!("{name}=<redacted>")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_parameters_are_redacted() {
        assert_eq!(
            redact_query("sysparm_limit=1&x-sn-apikey=abc&token=t&sysparm_query=a%3Db"),
            "sysparm_limit=1&x-sn-apikey=<redacted>&token=<redacted>&sysparm_query=a%3Db"
        );
    }
}
