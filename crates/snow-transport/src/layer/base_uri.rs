//! Keeps every request on the instance.

use std::task::{Context, Poll};

use http::{Request, Uri};
use snow_core::{BoxError, Instance};
use tower::{Layer, Service};

use crate::body::Body;
use crate::error::TransportError;
use crate::layer::BoxFuture;

/// Resolves request URIs against the instance and refuses any other origin.
///
/// A path-only URI (`/api/now/table/incident?sysparm_limit=1`) is joined to the instance's base
/// URL (scheme, host, port and path prefix). An absolute URI must have the instance's scheme,
/// host and port, else the request fails with [`TransportError::CrossOrigin`] without being sent.
#[derive(Debug, Clone)]
pub struct BaseUriLayer {
    instance: Instance,
}

impl BaseUriLayer {
    /// Keep requests on `instance`.
    pub fn new(instance: Instance) -> Self {
        Self { instance }
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
    instance: Instance,
}

/// Where `uri` really goes, or why it may not be sent.
pub(crate) fn resolve(instance: &Instance, uri: &Uri) -> Result<Uri, TransportError> {
    match (uri.scheme(), uri.authority()) {
        (None, None) => {
            let pq = uri.path_and_query().map_or("/", |pq| pq.as_str());
            if !pq.starts_with('/') {
                return Err(TransportError::InvalidRequest {
                    message: "a relative request URI must start with '/'".into(),
                });
            }
            format!("{}{pq}", instance.base_url()).parse().map_err(|_| {
                TransportError::InvalidRequest {
                    message: "the request path cannot be joined to the instance URL".into(),
                }
            })
        }
        (Some(_), Some(_)) if instance.is_same_origin(uri) => Ok(uri.clone()),
        (Some(scheme), Some(authority)) => Err(TransportError::CrossOrigin {
            origin: format!(
                "{scheme}://{}",
                authority_without_userinfo(authority.as_str())
            ),
            instance: instance_origin(instance),
        }),
        _ => Err(TransportError::InvalidRequest {
            message: "the request URI must be a path or an absolute http(s) URL".into(),
        }),
    }
}

pub(crate) fn instance_origin(instance: &Instance) -> String {
    format!("{}://{}", instance.scheme().as_str(), instance.authority())
}

fn authority_without_userinfo(authority: &str) -> &str {
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
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
        match resolve(&self.instance, req.uri()) {
            Ok(uri) => {
                *req.uri_mut() = uri;
                let fut = self.inner.call(req);
                Box::pin(async move { fut.await.map_err(Into::into) })
            }
            Err(e) => Box::pin(std::future::ready(Err(e.boxed()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_paths_and_refuses_other_origins() {
        let i = Instance::from_url("http://127.0.0.1:8080/sn").unwrap();
        let r = |s: &str| resolve(&i, &s.parse().unwrap());
        assert_eq!(
            r("/api/now/table/x?a=1").unwrap().to_string(),
            "http://127.0.0.1:8080/sn/api/now/table/x?a=1"
        );
        assert_eq!(
            r("http://127.0.0.1:8080/sn/api").unwrap().to_string(),
            "http://127.0.0.1:8080/sn/api"
        );
        for bad in [
            "https://127.0.0.1:8080/x",
            "http://127.0.0.1:8081/x",
            "http://localhost:8080/x",
            "http://evil.com/x",
        ] {
            let e = r(bad).unwrap_err();
            assert!(
                matches!(e, TransportError::CrossOrigin { .. }),
                "{bad}: {e}"
            );
        }
        let e = r("http://user:pw@evil.com/x?token=abc").unwrap_err();
        let msg = e.to_string();
        assert!(!msg.contains("pw") && !msg.contains("abc"), "{msg}");
        assert!(matches!(
            r("127.0.0.1:8080"),
            Err(TransportError::InvalidRequest { .. })
        ));
    }
}
