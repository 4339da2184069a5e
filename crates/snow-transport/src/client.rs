//! The hyper client at the bottom of the stack.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::TryFutureExt;
use futures_util::future::MapErr;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use snow_core::BoxError;
use tower::Service;

use crate::body::Body;
use crate::error::{BuildError, MAX_RESPONSE_HEAD, TransportError};
use crate::proxy::{Connector, Proxy};
use crate::tls::TlsConfig;

/// The hyper-util client over rustls (and a proxy tunnel, if any). It never follows redirects.
#[derive(Clone, Debug)]
pub(crate) struct HyperService {
    // Shared: the stack above clones this service on every request, and a hyper-util client
    // is a dozen reference counts and a connector to clone.
    client: Arc<Client<HttpsConnector<Connector>, Body>>,
}

impl HyperService {
    /// A pooled HTTP/1.1 and HTTP/2 client over rustls, through `proxy` if any.
    pub(crate) fn new(
        tls: &TlsConfig,
        proxy: Option<&Proxy>,
        connect_timeout: Option<Duration>,
        pool_idle_timeout: Option<Duration>,
    ) -> Result<Self, BuildError> {
        let tls = tls.client_config()?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(connect_timeout);
        let connector = match proxy {
            Some(proxy) => Connector::Tunnel(proxy.tunnel(http)?),
            None => Connector::Direct(http),
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(connector);
        let mut builder = Client::builder(TokioExecutor::new());
        // The pool timer is what makes the idle timeout take effect.
        builder
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(pool_idle_timeout)
            .http1_max_buf_size(MAX_RESPONSE_HEAD);
        // MAX_RESPONSE_HEADERS is hyper's default and is left unset: setting it (even to the
        // default) makes hyper fill its two 100-slot header arrays slot by slot for every
        // response instead of leaving them uninitialised (see docs/benchmarks.md). A test pins
        // the limit at 100 fields.
        Ok(Self {
            client: Arc::new(builder.build(https)),
        })
    }
}

impl Service<Request<Body>> for HyperService {
    type Response = Response<Incoming>;
    type Error = BoxError;
    // Not boxed: the stack calls this client as it is (`ClientService::Hyper`).
    type Future = MapErr<ResponseFuture, fn(hyper_util::client::legacy::Error) -> BoxError>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        self.client.request(req).map_err(client_error as fn(_) -> _)
    }
}

fn client_error(e: hyper_util::client::legacy::Error) -> BoxError {
    TransportError::from_client(e).boxed()
}
