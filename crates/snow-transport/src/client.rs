//! The hyper client at the bottom of the stack.

use std::task::{Context, Poll};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use snow_core::BoxError;
use tower::Service;

use crate::body::Body;
use crate::error::TransportError;
use crate::layer::BoxFuture;
use crate::proxy::Connector;

/// The hyper-util client over rustls (and a proxy tunnel, if any). It never follows redirects.
#[derive(Clone, Debug)]
pub(crate) struct HyperService {
    pub(crate) client: Client<HttpsConnector<Connector>, Body>,
}

impl Service<Request<Body>> for HyperService {
    type Response = Response<Incoming>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<Incoming>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let fut = self.client.request(req);
        Box::pin(async move {
            fut.await
                .map_err(|e| TransportError::from_client(e).boxed())
        })
    }
}
