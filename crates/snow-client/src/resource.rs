//! A generic resource: any API path, any method (pysnow's `resource(api_path)` + `request()`).

use std::future::IntoFuture;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::request::{
    ApiRequest, BoxFuture, Buffered, Retry, Target, append_path, check_api_path, header_pair,
};
use crate::{Error, Record};

/// Any REST path of the instance, such as `/api/now/stats/incident`, `/api/now/v1/batch` or
/// `/api/x_acme/v1/orders`.
///
/// The path must start with `/api/`, must not end with `/`, and its segments may hold letters,
/// digits, `.`, `_` and `-` only (no `.`/`..` segments). Appended paths are percent-encoded
/// segment by segment.
///
/// ```no_run
/// use http::Method;
/// # async fn demo(client: snow_client::Client) -> Result<(), snow_client::Error> {
/// let stats = client.resource("/api/now/stats/incident");
/// let resp = stats.get().query("sysparm_count", "true").send().await?;
/// let result: serde_json::Value = resp.result()?;
///
/// let custom = client.resource("/api/x_acme/v1/orders")
///     .request(Method::POST)
///     .path("42/approve")
///     .header("x-request-id", "abc")
///     .json(&serde_json::json!({"approved": true}))
///     .send()
///     .await?;
/// println!("{}", custom.status());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Resource {
    client: Client,
    path: String,
}

impl Resource {
    pub(crate) fn new(client: Client, path: String) -> Self {
        Self { client, path }
    }

    /// The API path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A request with any method.
    pub fn request(&self, method: Method) -> ResourceRequest {
        ResourceRequest {
            client: self.client.clone(),
            request: ApiRequest::new(method, Target::Path(self.path.clone(), Vec::new())),
            error: check_api_path(&self.path).err(),
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

/// A request on a [`Resource`] being configured; finish with [`send`](Self::send) or `.await`.
#[derive(Debug)]
#[must_use = "a request does nothing until sent"]
pub struct ResourceRequest {
    client: Client,
    request: ApiRequest,
    error: Option<Error>,
}

impl ResourceRequest {
    fn fail(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Appends a relative path (`"abc123/foo"`, one leading `/` allowed). Each segment is
    /// percent-encoded; empty segments (a trailing `/`, `a//b`), `.` and `..` are refused.
    pub fn path(mut self, append: impl Into<String>) -> Self {
        let append = append.into();
        match append_path(self.request.clone(), &append) {
            Ok(r) => self.request = r,
            Err(e) => self.fail(e),
        }
        self
    }

    /// Adds a query parameter (percent-encoded).
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.request = self.request.pair(name.into(), value);
        self
    }

    /// Adds a header (for this request only).
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        match header_pair(name.as_ref(), value.as_ref()) {
            Ok(one) => self.request = self.request.headers(one),
            Err(e) => self.fail(e),
        }
        self
    }

    /// A JSON body (`Content-Type: application/json`).
    pub fn json(mut self, body: &impl Serialize) -> Self {
        match serde_json::to_vec(body) {
            Ok(v) => self.request = self.request.json(Bytes::from(v)),
            Err(e) => self.fail(Error::invalid_input(format!(
                "the body could not be serialised as JSON: {e}"
            ))),
        }
        self
    }

    /// A raw body with its content type.
    pub fn body(mut self, body: impl Into<Bytes>, content_type: &str) -> Self {
        match HeaderValue::try_from(content_type) {
            Ok(ct) => self.request = self.request.bytes(body.into(), ct),
            Err(_) => self.fail(Error::invalid_input(
                "the content type is not a valid header value",
            )),
        }
        self
    }

    /// Whether the transport may send this request again after a transient failure (`429`,
    /// `502`-`504`, a failed connection): idempotent methods only by default,
    /// [`Retry::Always`] for a `POST` or `PATCH` that is safe to repeat.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.request = self.request.retry(retry);
        self
    }

    /// Sends the request and reads the answer (any status; decode it with the response's
    /// methods, which turn error statuses into [`Error`]s).
    pub async fn send(self) -> Result<ResourceResponse, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        Ok(ResourceResponse {
            inner: self.client.send_buffered(self.request).await?,
        })
    }
}

impl IntoFuture for ResourceRequest {
    type Output = Result<ResourceResponse, Error>;
    type IntoFuture = BoxFuture<ResourceResponse>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// The buffered answer to a [`ResourceRequest`].
#[derive(Debug)]
pub struct ResourceResponse {
    inner: Buffered,
}

impl ResourceResponse {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.inner.parts.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.inner.parts.headers
    }

    /// The raw body.
    pub fn bytes(&self) -> &Bytes {
        &self.inner.body
    }

    /// The `result` member as `T` (object or array), or the typed error of the answer.
    pub fn result<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.inner.raw().decode_result()
    }

    /// The result as a list (a single object becomes a list of one).
    pub fn list<T: DeserializeOwned>(&self) -> Result<Vec<T>, Error> {
        self.inner.raw().decode_list()
    }

    /// The result as records.
    pub fn records(&self) -> Result<Vec<Record>, Error> {
        self.list()
    }

    /// Exactly one record ([`Error::NoResults`] / [`Error::MultipleResults`] otherwise).
    pub fn one<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.inner.raw().decode_one()
    }

    /// Succeeds for any 2xx (except a GET's 202), otherwise the typed error of the answer.
    pub fn expect_success(&self) -> Result<(), Error> {
        self.inner.raw().expect_success()
    }

    /// The whole body as JSON of type `T` (for APIs without the `result` envelope), after
    /// checking the status.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.expect_success()?;
        let de = &mut serde_json::Deserializer::from_slice(&self.inner.body);
        serde_path_to_error::deserialize(de).map_err(|e| Error::Decode {
            path: e.path().to_string(),
            source: e.into_inner(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::request::check_api_path;

    #[test]
    fn api_paths_are_validated_like_pysnow() {
        for ok in [
            "/api/now/table/incident",
            "/api/x_acme/v1/it-ems",
            "/api/now/v2/stats/incident",
        ] {
            assert!(check_api_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "not_valid",
            "not/valid",
            "not/valid/",
            "/",
            "/api/",
            "/api/now/",
            "/api/../x",
            "/api/a b",
            "/table/incident",
        ] {
            assert!(check_api_path(bad).is_err(), "{bad}");
        }
    }
}
