//! The blocking generic resource: any API path, any method.

use http::Method;
use serde::Serialize;

use super::Runtime;
use crate::resource::ResourceResponse;
use crate::{Error, Retry};

/// The blocking form of [`snow_client::Resource`](crate::Resource): any REST path of the
/// instance. The answer is the async client's [`ResourceResponse`] (already read).
///
/// ```no_run
/// # fn demo(client: snow_client::blocking::Client) -> Result<(), snow_client::Error> {
/// let stats = client.resource("/api/now/stats/incident");
/// let resp = stats.get().query("sysparm_count", "true").send()?;
/// let result: serde_json::Value = resp.result()?;
/// # let _ = result; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Resource {
    inner: crate::Resource,
    rt: Runtime,
}

impl Resource {
    pub(crate) fn new(inner: crate::Resource, rt: Runtime) -> Self {
        Self { inner, rt }
    }

    /// The API path.
    pub fn path(&self) -> &str {
        self.inner.path()
    }

    /// A request with any method.
    pub fn request(&self, method: Method) -> ResourceRequest {
        ResourceRequest {
            inner: self.inner.request(method),
            rt: self.rt.clone(),
        }
    }

    /// A `GET`.
    pub fn get(&self) -> ResourceRequest {
        self.request(Method::GET)
    }

    /// A `POST`.
    pub fn post(&self) -> ResourceRequest {
        self.request(Method::POST)
    }

    /// A `PUT`.
    pub fn put(&self) -> ResourceRequest {
        self.request(Method::PUT)
    }

    /// A `PATCH`.
    pub fn patch(&self) -> ResourceRequest {
        self.request(Method::PATCH)
    }

    /// A `DELETE`.
    pub fn delete(&self) -> ResourceRequest {
        self.request(Method::DELETE)
    }
}

/// A request on a [`Resource`] being configured; see
/// [`snow_client::ResourceRequest`](crate::ResourceRequest).
#[derive(Debug)]
#[must_use = "a request does nothing until sent"]
pub struct ResourceRequest {
    inner: crate::ResourceRequest,
    rt: Runtime,
}

impl ResourceRequest {
    fn map(self, f: impl FnOnce(crate::ResourceRequest) -> crate::ResourceRequest) -> Self {
        Self {
            inner: f(self.inner),
            rt: self.rt,
        }
    }

    super::delegate! { "ResourceRequest";
        fn path(append: impl Into<String>);
        fn query(name: impl Into<String>, value: impl Into<String>);
        fn header(name: impl AsRef<str>, value: impl AsRef<str>);
        fn json(body: &impl Serialize);
        fn body(body: impl Into<bytes::Bytes>, content_type: &str);
        fn retry(retry: Retry);
    }

    /// Sends the request and reads the answer (any status).
    pub fn send(self) -> Result<ResourceResponse, Error> {
        self.rt.block_on(self.inner.send())
    }
}
