//! [`BatchItem`]: one request of a batch, and how it is written into the batch body.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderValue, Method};
use serde::Serialize;
use snow_core::Instance;

use crate::Error;
use crate::request::{ApiRequest, Defaults, Target, append_path, check_api_path, header_pair};

/// One request of a batch: any method, API path, query, headers and body, built like a
/// [`ResourceRequest`](crate::ResourceRequest). Invalid input is reported when the batch is
/// sent, before anything goes out.
///
/// ```
/// use snow_client::batch::BatchItem;
/// use serde_json::json;
///
/// let get = BatchItem::get("/api/now/table/incident")
///     .query("sysparm_limit", "1")
///     .query("sysparm_query", "active=true");
/// let create = BatchItem::post("/api/now/table/incident")
///     .json(&json!({"short_description": "from a batch"}));
/// let raw = BatchItem::put("/api/x_acme/v1/orders")
///     .path("42")
///     .header("x-request-id", "abc")
///     .body("<order/>", "application/xml");
/// ```
#[derive(Clone, Debug)]
#[must_use = "an item does nothing until pushed to a batch"]
pub struct BatchItem {
    request: ApiRequest,
    error: Option<String>,
}

impl BatchItem {
    /// A request with any method to an API path (`/api/now/table/incident`; it must start
    /// with `/api/` and its segments hold letters, digits, `.`, `_` and `-`).
    pub fn new(method: Method, api_path: impl Into<String>) -> Self {
        let path = api_path.into();
        let error = check_api_path(&path).err().map(|e| e.to_string());
        Self {
            request: ApiRequest::new(method, Target::Path(path, Vec::new())),
            error,
        }
    }

    /// A `GET`.
    pub fn get(api_path: impl Into<String>) -> Self {
        Self::new(Method::GET, api_path)
    }

    /// A `POST`.
    pub fn post(api_path: impl Into<String>) -> Self {
        Self::new(Method::POST, api_path)
    }

    /// A `PUT`.
    pub fn put(api_path: impl Into<String>) -> Self {
        Self::new(Method::PUT, api_path)
    }

    /// A `PATCH`.
    pub fn patch(api_path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, api_path)
    }

    /// A `DELETE`.
    pub fn delete(api_path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, api_path)
    }

    /// An item from a request built by the crate (a table record, for bulk changes).
    pub(crate) fn from_request(request: ApiRequest) -> Self {
        Self {
            request,
            error: None,
        }
    }

    fn fail(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e.to_string());
        }
    }

    /// Appends a relative path (`"abc123/foo"`), percent-encoded segment by segment.
    pub fn path(mut self, append: impl AsRef<str>) -> Self {
        match append_path(self.request.clone(), append.as_ref()) {
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

    /// Adds a header.
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

    /// The method.
    pub fn method(&self) -> &Method {
        self.request.method()
    }

    /// The item as the batch body carries it, and the size of its own body.
    /// The client's default parameters and headers are added as to any request; credential
    /// headers are left out (the batch request itself is authenticated).
    pub(crate) fn encode(
        &self,
        id: &str,
        instance: &Instance,
        defaults: &Defaults,
        exclude_response_headers: bool,
    ) -> Result<(Vec<u8>, usize), Error> {
        let bad = |why: String| Error::invalid_input(format!("batch request {id}: {why}"));
        if let Some(e) = &self.error {
            return Err(bad(e.clone()));
        }
        let request = self.request.clone().with_defaults(defaults);
        let uri = request.uri(instance).map_err(|e| bad(e.to_string()))?;
        let full = uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
        // The instance runs the request itself: the URL is relative to its root, without the
        // path prefix a proxy in front of it may add.
        let url = match full.strip_prefix(instance.prefix()) {
            Some(rest) if !instance.prefix().is_empty() && rest.starts_with('/') => rest.to_owned(),
            _ => full,
        };
        let mut headers: Vec<Header> = Vec::new();
        let given = request.header_map();
        if !given.contains_key(ACCEPT) {
            headers.push(Header::new("Accept", "application/json"));
        }
        for (name, value) in given {
            if snow_core::is_credential_header(name) {
                continue;
            }
            let value = value
                .to_str()
                .map_err(|_| bad(format!("the header {name} is not visible ASCII")))?;
            headers.push(Header::new(name.as_str(), value));
        }
        let body = request.body_bytes().map_err(|e| bad(e.to_string()))?;
        let (body, len) = match body {
            Some((bytes, content_type)) => {
                if !given.contains_key(CONTENT_TYPE) {
                    let ct = content_type
                        .to_str()
                        .map_err(|_| bad("the content type is not visible ASCII".into()))?;
                    headers.push(Header::new("Content-Type", ct));
                }
                (
                    Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
                    bytes.len(),
                )
            }
            None => (None, 0),
        };
        let wire = Wire {
            id,
            method: request.method().as_str(),
            url: &url,
            headers,
            body,
            exclude_response_headers,
        };
        let json = serde_json::to_vec(&wire).map_err(|e| bad(e.to_string()))?;
        Ok((json, len))
    }
}

#[derive(Serialize)]
struct Header {
    name: String,
    value: String,
}

impl Header {
    fn new(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }
}

/// One item of `rest_requests`.
#[derive(Serialize)]
struct Wire<'a> {
    id: &'a str,
    method: &'a str,
    url: &'a str,
    headers: Vec<Header>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    exclude_response_headers: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(item: &BatchItem, instance: &str) -> serde_json::Value {
        let (json, _) = item
            .encode("1", &instance.parse().unwrap(), &Defaults::default(), false)
            .unwrap();
        serde_json::from_slice(&json).unwrap()
    }

    #[test]
    fn items_are_written_as_the_batch_api_reads_them() {
        let item = BatchItem::post("/api/now/table/incident")
            .query("sysparm_fields", "number,sys_id")
            .json(&serde_json::json!({"short_description": "a b"}));
        let v = encode(&item, "https://acme.service-now.com");
        assert_eq!(v["method"], "POST");
        assert_eq!(
            v["url"],
            "/api/now/table/incident?sysparm_fields=number%2Csys_id"
        );
        assert_eq!(
            v["headers"],
            serde_json::json!([
                {"name": "Accept", "value": "application/json"},
                {"name": "Content-Type", "value": "application/json"}
            ])
        );
        let body = base64::engine::general_purpose::STANDARD
            .decode(v["body"].as_str().unwrap())
            .unwrap();
        assert_eq!(body, br#"{"short_description":"a b"}"#);

        // Credentials never go into the batch body.
        let v = encode(
            &BatchItem::get("/api/now/table/incident").header("Authorization", "Basic c2VjcmV0"),
            "https://acme.service-now.com",
        );
        assert!(!v.to_string().contains("c2VjcmV0"), "{v}");

        // No body member without a body; a proxy's path prefix is not part of the URL.
        let v = encode(
            &BatchItem::delete("/api/now/table/incident").path("abc"),
            "https://proxy.example.com/sn",
        );
        assert!(v.get("body").is_none());
        assert_eq!(v["url"], "/api/now/table/incident/abc");
    }

    #[test]
    fn bad_input_is_reported_with_the_id() {
        let i: Instance = "https://acme.service-now.com".parse().unwrap();
        for bad in [
            BatchItem::get("/table/incident"),
            BatchItem::get("/api/now/table/incident").path("../x"),
            BatchItem::get("/api/now/table/incident").header("bad name", "x"),
        ] {
            let e = bad
                .encode("7", &i, &Defaults::default(), false)
                .unwrap_err();
            assert!(e.to_string().contains("batch request 7"), "{e}");
        }
    }
}
