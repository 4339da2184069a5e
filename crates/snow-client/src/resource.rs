//! A generic resource: any API path, any method (pysnow's `resource(api_path)` + `request()`).

use std::future::IntoFuture;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use snow_transport::Body;

use crate::client::{Buffered, Client, url_error};
use crate::table::BoxFuture;
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

fn check_api_path(path: &str) -> Result<(), Error> {
    let bad = |why: &str| {
        Error::invalid_input(format!(
            "the API path {:?} is not valid: {why}",
            crate::query_quote(path)
        ))
    };
    let Some(rest) = path.strip_prefix("/api/") else {
        return Err(bad(
            "it must start with /api/ (for example /api/now/stats/incident)",
        ));
    };
    if rest.is_empty() || rest.ends_with('/') {
        return Err(bad("it must name a resource and must not end with '/'"));
    }
    for seg in rest.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(bad("empty, '.' and '..' segments are not allowed"));
        }
        if !seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(bad(
                "segments may only contain letters, digits, '.', '_' and '-'",
            ));
        }
    }
    Ok(())
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
            path: self.path.clone(),
            method,
            append: None,
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            retry: false,
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
    path: String,
    method: Method,
    append: Option<String>,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Option<(Bytes, HeaderValue)>,
    retry: bool,
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
        let rel = append.strip_prefix('/').unwrap_or(&append);
        if rel.is_empty()
            || rel
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
        {
            self.fail(Error::invalid_input(format!(
                "the appended path {:?} is not valid: empty, '.' and '..' segments and a trailing '/' are refused",
                crate::query_quote(&append)
            )));
        } else {
            self.append = Some(rel.to_owned());
        }
        self
    }

    /// Adds a query parameter (percent-encoded).
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds a header (for this request only).
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        match (
            HeaderName::try_from(name.as_ref()),
            HeaderValue::try_from(value.as_ref()),
        ) {
            (Ok(n), Ok(v)) => {
                self.headers.append(n, v);
            }
            _ => self.fail(Error::invalid_input(format!(
                "the header {:?} has an invalid name or value",
                crate::query_quote(name.as_ref())
            ))),
        }
        self
    }

    /// A JSON body (`Content-Type: application/json`).
    pub fn json(mut self, body: &impl Serialize) -> Self {
        match serde_json::to_vec(body) {
            Ok(v) => {
                self.body = Some((Bytes::from(v), HeaderValue::from_static("application/json")))
            }
            Err(e) => self.fail(Error::invalid_input(format!(
                "the body could not be serialised as JSON: {e}"
            ))),
        }
        self
    }

    /// A raw body with its content type.
    pub fn body(mut self, body: impl Into<Bytes>, content_type: &str) -> Self {
        match HeaderValue::try_from(content_type) {
            Ok(ct) => self.body = Some((body.into(), ct)),
            Err(_) => self.fail(Error::invalid_input(
                "the content type is not a valid header value",
            )),
        }
        self
    }

    /// Allow retrying a non-idempotent method (`POST`, `PATCH`) on `429`, `5xx` or a failed
    /// connection.
    pub fn retry_non_idempotent(mut self, yes: bool) -> Self {
        self.retry = yes;
        self
    }

    /// Sends the request and reads the answer (any status; decode it with the response's
    /// methods, which turn error statuses into [`Error`]s).
    pub async fn send(self) -> Result<ResourceResponse, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut url = self.client.instance().url().path(&self.path);
        if let Some(a) = &self.append {
            url = url.path(a);
        }
        for (k, v) in &self.query {
            url = url.query(k, v);
        }
        let uri = url.build().map_err(url_error)?;
        let mut req = Request::builder().method(self.method).uri(uri);
        if let Some(h) = req.headers_mut() {
            h.extend(self.headers);
        }
        let body = match self.body {
            Some((b, ct)) => {
                req = req.header(http::header::CONTENT_TYPE, ct);
                Body::from(b)
            }
            None => Body::empty(),
        };
        let req = req
            .body(body)
            .map_err(|e| Error::invalid_input(e.to_string()))?;
        Ok(ResourceResponse {
            inner: self.client.send_buffered(req, self.retry).await?,
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
            source: Box::new(e.into_inner()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::check_api_path;

    #[test]
    fn api_paths_pysnow_case_3() {
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
