//! Keeps every request on the instance.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use snow_core::{BoxError, Instance};
use tower::{Layer, Service};

use crate::body::Body;
use crate::error::TransportError;
use crate::layer::BoxFuture;

/// Resolves request URIs against the instance and refuses any other origin, with
/// [`Instance::resolve_uri`].
///
/// A path-only URI (`/api/now/table/incident?sysparm_limit=1`) is joined to the instance's base
/// URL (scheme, host, port and path prefix). An absolute URI must have the instance's scheme,
/// host and port, else the request fails with [`TransportError::CrossOrigin`] without being sent;
/// other forms (`//host/x`, `host:port`, user information) fail with
/// [`TransportError::InvalidRequest`].
#[derive(Debug, Clone)]
pub struct BaseUriLayer {
    // Shared: the services clone their fields on every request.
    instance: Arc<Instance>,
}

impl BaseUriLayer {
    /// Keep requests on `instance`.
    pub fn new(instance: Instance) -> Self {
        Self {
            instance: Arc::new(instance),
        }
    }
}

impl<S> Layer<S> for BaseUriLayer {
    type Service = BaseUri<S>;

    fn layer(&self, inner: S) -> BaseUri<S> {
        BaseUri {
            inner,
            instance: self.instance.clone(),
        }
    }
}

/// The service of [`BaseUriLayer`].
#[derive(Debug, Clone)]
pub struct BaseUri<S> {
    inner: S,
    instance: Arc<Instance>,
}

impl<S> Service<Request<Body>> for BaseUri<S>
where
    S: Service<Request<Body>>,
    S::Response: Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        match self.instance.resolve_uri(req.uri()) {
            Ok(uri) => {
                *req.uri_mut() = uri;
                let fut = self.inner.call(req);
                Box::pin(async move { fut.await.map_err(Into::into) })
            }
            Err(e) => Box::pin(std::future::ready(Err(
                TransportError::refused_target(e).boxed()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn resolves_paths_and_refuses_other_origins() {
        let i = Instance::from_url("http://127.0.0.1:8080/sn").unwrap();
        let echo = tower::service_fn(|req: Request<Body>| async move {
            Ok::<_, BoxError>(req.uri().to_string())
        });
        let svc = BaseUriLayer::new(i).layer(echo);
        let r = |s: &str| {
            let req = Request::get(s).body(Body::empty()).unwrap();
            svc.clone().oneshot(req)
        };
        assert_eq!(
            r("/api/now/table/x?a=1").await.unwrap(),
            "http://127.0.0.1:8080/sn/api/now/table/x?a=1"
        );
        assert_eq!(
            r("http://127.0.0.1:8080/sn/api").await.unwrap(),
            "http://127.0.0.1:8080/sn/api"
        );
        for bad in [
            "https://127.0.0.1:8080/x",
            "http://127.0.0.1:8081/x",
            "http://localhost:8080/x",
            "http://evil.com/x",
        ] {
            let e = TransportError::from(r(bad).await.unwrap_err());
            assert!(
                matches!(e, TransportError::CrossOrigin { .. }),
                "{bad}: {e}"
            );
        }
        let e = TransportError::from(r("http://user:pw@evil.com/x?token=abc").await.unwrap_err());
        let msg = e.to_string();
        assert!(!msg.contains("pw") && !msg.contains("abc"), "{msg}");
        for bad in ["127.0.0.1:8080", "//evil.com/x"] {
            let e = TransportError::from(r(bad).await.unwrap_err());
            assert!(
                matches!(e, TransportError::InvalidRequest { .. }),
                "{bad}: {e}"
            );
        }
    }
}
