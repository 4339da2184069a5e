//! The one request path: a request to the instance ([`ApiRequest`]: method, path, query pairs,
//! headers, body) built and sent through the transport, buffered or streamed.
//!
//! Every API module (tables, lists, resources, attachments, and the APIs to come) describes its
//! call as an [`ApiRequest`] and hands it to the [`Client`](crate::Client), which sends it with
//! the functions here; none builds URLs, sets content types or reads bodies on its own. This
//! module depends on nothing else of the crate but [`Error`] and the response decoder.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response};
use http_body_util::BodyExt;
use snow_core::Instance;
use snow_transport::{Body, ResponseBody, RetryNonIdempotent, Transport, TransportError};

use crate::Error;
use crate::response::RawResponse;
use crate::task::InFlight;

/// The future of a request builder's `.await` (every builder implements `IntoFuture` with it).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'static>>;

/// Whether the transport may send a request again after a failure it deems transient (no
/// connection, a connection dropped before the answer, `429`, `502`-`504`).
///
/// ```no_run
/// use serde_json::json;
/// use snow_client::Retry;
/// # async fn demo(client: snow_client::Client) -> Result<(), snow_client::Error> {
/// // An update by sys_id is safe to repeat: allow retries although PATCH is not idempotent.
/// client.table("incident").update("9d385017c611228701d22104cc95c371", &json!({"urgency": "1"}))
///     .retry(Retry::Always)
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Retry {
    /// Retry only idempotent methods (`GET`, `HEAD`, `PUT`, `DELETE`): the default. A `POST`
    /// or `PATCH` is sent once, since a create sent twice can insert twice.
    #[default]
    IdempotentOnly,
    /// Retry this request whatever its method: the caller knows that sending it twice is safe.
    Always,
}

/// Where a request goes.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// Segments under the instance's API root (`/api/now/` + segments), each percent-encoded.
    Api(Vec<String>),
    /// An absolute path on the instance, already checked by its builder, plus segments.
    Path(String, Vec<String>),
    /// A full URL of the instance (the next page of a `Link` header), sent as it is.
    Uri(http::Uri),
}

/// A request body.
#[derive(Debug)]
enum Payload {
    /// Bytes in memory (replayable: the transport may retry the request).
    Bytes(Bytes),
    /// A stream read once (an upload from a file or a reader). In a mutex only so that a
    /// request is `Sync` (a stream body is `Send` but not `Sync`); it is taken once, when sent.
    Stream(std::sync::Mutex<Option<Body>>),
    /// A clone of a request whose stream went to the original: sending it is an error.
    Taken,
}

impl Clone for Payload {
    fn clone(&self) -> Self {
        match self {
            Payload::Bytes(b) => Payload::Bytes(b.clone()),
            Payload::Stream(_) | Payload::Taken => Payload::Taken,
        }
    }
}

/// One request to the instance being described: method, target, query pairs, headers, body
/// and retry choice. Turned into an `http::Request` only when it is sent.
#[derive(Clone, Debug)]
pub(crate) struct ApiRequest {
    method: Method,
    target: Target,
    query: Vec<(Cow<'static, str>, String)>,
    headers: HeaderMap,
    body: Option<(Payload, HeaderValue)>,
    retry: Retry,
    /// The first caller setting refused while the request was being described (an extra
    /// parameter or header); sending the request fails with it before anything goes out.
    refused: Option<String>,
    /// The response-body cap of this request, in place of the transport's.
    max_response_body: Option<usize>,
}

/// The query parameters and headers a client sends with every request (pysnow's
/// `request_params`), unless the request sets the same name itself. Checked when the client is
/// built, with the same rules as a request's own `.param()` and `.header()`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Defaults {
    params: Vec<(String, String)>,
    headers: HeaderMap,
}

impl Defaults {
    /// Adds a default query parameter, or says why it is refused.
    pub(crate) fn param(&mut self, name: String, value: String) -> Result<(), Error> {
        crate::params::check_extra_param(&name).map_err(Error::invalid_input)?;
        self.params.push((name, value));
        Ok(())
    }

    /// Adds a default header (replacing an earlier default of the same name), or says why it is
    /// refused.
    pub(crate) fn header(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let (name, value) = parse_header(name, value).map_err(Error::invalid_input)?;
        self.headers.insert(name, value);
        Ok(())
    }
}

/// A header given by the caller: a valid name and value, marked sensitive when the name is a
/// credential's (`Authorization`, `x-sn-apikey`, ...) so it is never logged or shown.
pub(crate) fn parse_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let quoted = crate::query_quote(name);
    let name =
        HeaderName::try_from(name).map_err(|_| format!("{quoted:?} is not a valid header name"))?;
    let mut value = HeaderValue::try_from(value)
        .map_err(|_| format!("the value of the header {quoted:?} is not a valid header value"))?;
    if snow_core::is_credential_header(&name) {
        value.set_sensitive(true);
    }
    Ok((name, value))
}

impl ApiRequest {
    /// A request with no query, header or body.
    pub(crate) fn new(method: Method, target: Target) -> Self {
        Self {
            method,
            target,
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            retry: Retry::default(),
            refused: None,
            max_response_body: None,
        }
    }

    /// A request to segments under the API root (`table`, `incident`, ...).
    pub(crate) fn api<I, S>(method: Method, segments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let segments = segments.into_iter();
        // Room for one more: most requests add a sys_id.
        let mut all = Vec::with_capacity(segments.size_hint().0 + 1);
        all.extend(segments.map(Into::into));
        Self::new(method, Target::Api(all))
    }

    /// The method.
    pub(crate) fn method(&self) -> &Method {
        &self.method
    }

    /// The same request with another method.
    pub(crate) fn method_to(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Appends one path segment (percent-encoded when sent).
    pub(crate) fn segment(mut self, segment: impl Into<String>) -> Self {
        match &mut self.target {
            Target::Api(segments) | Target::Path(_, segments) => segments.push(segment.into()),
            // A full URL is sent as it is.
            Target::Uri(_) => {}
        }
        self
    }

    /// Adds a query pair (percent-encoded when sent).
    pub(crate) fn pair(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
    ) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds query pairs.
    pub(crate) fn pairs<N, V>(mut self, pairs: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: Into<Cow<'static, str>>,
        V: Into<String>,
    {
        self.query
            .extend(pairs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Adds headers (appended: a name given twice is sent twice).
    pub(crate) fn headers(mut self, headers: HeaderMap) -> Self {
        for (name, value) in headers {
            if let Some(name) = name {
                self.headers.append(name, value);
            }
        }
        self
    }

    /// Sets one header, replacing any of the same name.
    pub(crate) fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Adds a query parameter given by the caller (`.param()`): refused (at send time) when a
    /// typed setter owns the name.
    pub(crate) fn add_param(&mut self, name: String, value: String) {
        match crate::params::check_extra_param(&name) {
            Ok(()) => self.query.push((Cow::Owned(name), value)),
            Err(why) => self.refuse(why),
        }
    }

    /// Adds a header given by the caller (`.header()`; a name given twice is sent twice):
    /// refused (at send time) when the name or value is not valid.
    pub(crate) fn add_header(&mut self, name: &str, value: &str) {
        match parse_header(name, value) {
            Ok((name, value)) => {
                self.headers.append(name, value);
            }
            Err(why) => self.refuse(why),
        }
    }

    /// Records why the request cannot be sent (the first reason is kept).
    fn refuse(&mut self, why: String) {
        self.refused.get_or_insert(why);
    }

    /// The same request to another target, keeping its headers and retry choice but not its
    /// query (a `Link` URL carries its own).
    pub(crate) fn retarget(mut self, target: Target) -> Self {
        self.target = target;
        self.query.clear();
        self
    }

    /// Adds the client's defaults: each default parameter and header the request does not set
    /// itself. A full URL (the next page of a `Link` header) carries its query already, so it
    /// gets the default headers only.
    pub(crate) fn with_defaults(mut self, defaults: &Defaults) -> Self {
        if !matches!(self.target, Target::Uri(_)) {
            for (name, value) in &defaults.params {
                if !self.query.iter().any(|(k, _)| k == name) {
                    self.query.push((Cow::Owned(name.clone()), value.clone()));
                }
            }
        }
        for (name, value) in &defaults.headers {
            if !self.headers.contains_key(name) {
                self.headers.insert(name.clone(), value.clone());
            }
        }
        self
    }

    /// A JSON body (`Content-Type: application/json`).
    pub(crate) fn json(self, body: Bytes) -> Self {
        self.bytes(body, HeaderValue::from_static("application/json"))
    }

    /// A body in memory with its content type.
    pub(crate) fn bytes(mut self, body: Bytes, content_type: HeaderValue) -> Self {
        self.body = Some((Payload::Bytes(body), content_type));
        self
    }

    /// A streamed body with its content type (read once: the request is not retried).
    pub(crate) fn stream(mut self, body: Body, content_type: HeaderValue) -> Self {
        self.body = Some((
            Payload::Stream(std::sync::Mutex::new(Some(body))),
            content_type,
        ));
        self
    }

    /// The retry choice.
    pub(crate) fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// The response-body cap of this request, in place of the transport's (a download written
    /// to disk as it arrives).
    pub(crate) fn max_response_body(mut self, limit: usize) -> Self {
        self.max_response_body = Some(limit);
        self
    }

    /// The headers set so far (the content type of the body is added when sent).
    pub(crate) fn header_map(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body and its content type, when it is in memory; `Err` for a streamed body.
    pub(crate) fn body_bytes(&self) -> Result<Option<(&Bytes, &HeaderValue)>, Error> {
        match &self.body {
            None => Ok(None),
            Some((Payload::Bytes(b), ct)) => Ok(Some((b, ct))),
            Some(_) => Err(Error::invalid_input(
                "this request has a streamed body, which cannot be sent this way",
            )),
        }
    }

    /// The full URL on `instance`, built and percent-encoded; the first refused caller setting,
    /// if any.
    pub(crate) fn uri(&self, instance: &Instance) -> Result<http::Uri, Error> {
        if let Some(why) = &self.refused {
            return Err(Error::invalid_input(why.clone()));
        }
        Ok(match &self.target {
            Target::Uri(uri) => uri.clone(),
            Target::Api(segments) => {
                let url = segments
                    .iter()
                    .fold(instance.api(), |url, s| url.segment(s));
                with_query(url, &self.query).build().map_err(url_error)?
            }
            Target::Path(path, segments) => {
                let url = segments
                    .iter()
                    .fold(instance.url().path(path), |url, s| url.segment(s));
                with_query(url, &self.query).build().map_err(url_error)?
            }
        })
    }

    /// The `http::Request` for `instance`: the URL built and percent-encoded, the content type
    /// set, and [`RetryNonIdempotent`] attached when retries are allowed for any method.
    pub(crate) fn into_http(self, instance: &Instance) -> Result<Request<Body>, Error> {
        let uri = self.uri(instance)?;
        let mut headers = self.headers;
        let body = match self.body {
            Some((payload, content_type)) => {
                // A content type the caller set with `.header()` wins.
                headers.entry(CONTENT_TYPE).or_insert(content_type);
                let stream = match payload {
                    Payload::Bytes(b) => Some(Body::from(b)),
                    Payload::Stream(body) => body
                        .into_inner()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                    Payload::Taken => None,
                };
                stream.ok_or_else(|| {
                    Error::invalid_input("a request with a streamed body can be sent only once")
                })?
            }
            None => Body::empty(),
        };
        // Method, URI and headers are typed already: set in place, nothing left to fail.
        let mut req = Request::new(body);
        *req.method_mut() = self.method;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        if self.retry == Retry::Always {
            req.extensions_mut().insert(RetryNonIdempotent);
        }
        if let Some(limit) = self.max_response_body {
            req.extensions_mut()
                .insert(snow_transport::MaxResponseBody(limit));
        }
        Ok(req)
    }
}

/// Checks an API path given by the caller (`/api/now/stats/incident`): it starts with `/api/`,
/// names a resource, does not end with `/`, and its segments hold letters, digits, `.`, `_` and
/// `-` only (no `.`/`..` segments).
pub(crate) fn check_api_path(path: &str) -> Result<(), Error> {
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

/// Appends a relative path given by the caller (`"abc123/foo"`, one leading `/` allowed),
/// segment by segment; empty segments (a trailing `/`, `a//b`), `.` and `..` are refused.
pub(crate) fn append_path(req: ApiRequest, append: &str) -> Result<ApiRequest, Error> {
    let rel = append.strip_prefix('/').unwrap_or(append);
    if rel.is_empty()
        || rel
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(Error::invalid_input(format!(
            "the appended path {:?} is not valid: empty, '.' and '..' segments and a trailing '/' are refused",
            crate::query_quote(append)
        )));
    }
    Ok(rel.split('/').fold(req, ApiRequest::segment))
}

/// A header given by the caller, checked (and marked sensitive when it is a credential's), as
/// a map of one to append to a request.
pub(crate) fn header_pair(name: &str, value: &str) -> Result<HeaderMap, Error> {
    let (name, value) = parse_header(name, value).map_err(Error::invalid_input)?;
    let mut one = HeaderMap::new();
    one.append(name, value);
    Ok(one)
}

fn with_query(
    url: snow_core::UrlBuilder,
    query: &[(Cow<'static, str>, String)],
) -> snow_core::UrlBuilder {
    query.iter().fold(url, |url, (k, v)| url.query(k, v))
}

/// A URL that could not be built from caller input.
pub(crate) fn url_error(e: snow_core::InstanceError) -> Error {
    Error::invalid_input(e.to_string())
}

/// What requests are sent through: the transport, and the client's defaults added to every
/// request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sender<'a> {
    pub(crate) transport: &'a Transport,
    pub(crate) defaults: &'a Defaults,
    pub(crate) in_flight: &'a InFlight,
}

impl Sender<'_> {
    /// `req` with the client's defaults, as the HTTP request the transport sends.
    fn http(self, req: ApiRequest) -> Result<Request<Body>, Error> {
        req.with_defaults(self.defaults)
            .into_http(self.transport.instance())
    }
}

/// Sends a request; the body streams as it arrives.
pub(crate) async fn send(
    sender: Sender<'_>,
    req: ApiRequest,
) -> Result<Response<ResponseBody>, Error> {
    let req = sender.http(req)?;
    Ok(sender.transport.send(req).await?)
}

/// Sends a request and reads the whole answer (at most the transport's body cap); while the
/// client has other requests in flight, on a task of the runtime
/// ([`on_runtime`](crate::task::on_runtime)). The answer comes back read, ready to decode on
/// the caller's task.
pub(crate) fn send_buffered(
    sender: Sender<'_>,
    req: ApiRequest,
) -> impl Future<Output = Result<Buffered, Error>> + Send + '_ {
    // The request is built and its sending boxed before the returned future is first polled,
    // so that future holds a pointer rather than the request and the stack's futures
    // (kilobytes, otherwise copied each time the caller's future or the task moves).
    let method = req.method().clone();
    let work = sender.http(req).map(|req| {
        let transport = sender.transport.clone();
        Box::pin(async move {
            let resp = transport.send(req).await?;
            read_whole(method, resp, async |n| BytesMut::with_capacity(n)).await
        })
    });
    async move { crate::task::on_runtime(sender.in_flight, work?).await }
}

/// Most bytes reserved up front from a response's announced length.
const MAX_RESERVE: usize = 64 * 1024 * 1024;

/// Sends a request and reads the whole answer into one buffer from `buffer` (given the
/// announced length, capped), so a body is never held twice (once as the received chunks, once
/// as their concatenation).
pub(crate) async fn send_buffered_into(
    sender: Sender<'_>,
    req: ApiRequest,
    buffer: impl AsyncFnOnce(usize) -> BytesMut,
) -> Result<Buffered, Error> {
    let method = req.method().clone();
    let resp = send(sender, req).await?;
    read_whole(method, resp, buffer).await
}

/// Reads the whole of `resp` into one buffer from `buffer` (given the announced length, capped).
async fn read_whole(
    method: Method,
    resp: Response<ResponseBody>,
    buffer: impl AsyncFnOnce(usize) -> BytesMut,
) -> Result<Buffered, Error> {
    let (parts, mut body) = resp.into_parts();
    let hint = http_body::Body::size_hint(&body);
    let reserve = hint.exact().unwrap_or(hint.lower());
    let mut buf = buffer(usize::try_from(reserve).unwrap_or(0).min(MAX_RESERVE)).await;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::from(TransportError::from(e)))?;
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
        }
    }
    Ok(Buffered {
        method,
        parts,
        body: buf.freeze(),
    })
}

/// A response read into memory.
#[derive(Debug)]
pub(crate) struct Buffered {
    pub(crate) method: Method,
    pub(crate) parts: http::response::Parts,
    pub(crate) body: Bytes,
}

impl Buffered {
    /// The response, ready to decode.
    pub(crate) fn raw(&self) -> RawResponse<'_> {
        RawResponse::new(
            &self.method,
            self.parts.status,
            &self.parts.headers,
            &self.body,
        )
        .with_sent_credentials(self.parts.extensions.get())
    }
}

/// A JSON request body, checked to be an object (ServiceNow records are objects).
pub(crate) fn json_object_body(payload: &impl serde::Serialize) -> Result<Bytes, Error> {
    let value = serde_json::to_value(payload).map_err(|e| {
        Error::invalid_input(format!("the payload could not be serialised as JSON: {e}"))
    })?;
    if !value.is_object() {
        return Err(Error::invalid_input(
            "the payload must serialise to a JSON object (a record), not an array or a scalar",
        ));
    }
    serde_json::to_vec(&value)
        .map(Bytes::from)
        .map_err(|e| Error::invalid_input(format!("the payload could not be serialised: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Instance {
        "https://acme.service-now.com".parse().unwrap()
    }

    #[test]
    fn api_targets_are_encoded_segment_by_segment() {
        let req = ApiRequest::api(Method::GET, ["table", "u_a b"])
            .segment("x/y")
            .pair("sysparm_query", "a=1^b=2")
            .into_http(&instance())
            .unwrap();
        assert_eq!(
            req.uri().to_string(),
            "https://acme.service-now.com/api/now/table/u_a%20b/x%2Fy?sysparm_query=a%3D1%5Eb%3D2"
        );
        assert!(req.extensions().get::<RetryNonIdempotent>().is_none());
        assert!(req.headers().get(CONTENT_TYPE).is_none());
    }

    #[test]
    fn bodies_set_their_content_type_and_retry_is_carried() {
        let req = ApiRequest::api(Method::POST, ["table", "incident"])
            .json(Bytes::from_static(b"{}"))
            .retry(Retry::Always)
            .into_http(&instance())
            .unwrap();
        assert_eq!(req.headers()[CONTENT_TYPE], "application/json");
        assert!(req.extensions().get::<RetryNonIdempotent>().is_some());
    }

    #[test]
    fn hostile_segments_are_refused() {
        for bad in ["", ".", ".."] {
            let e = ApiRequest::api(Method::GET, ["table", bad])
                .into_http(&instance())
                .unwrap_err();
            assert!(matches!(e, Error::InvalidInput { .. }), "{bad:?}: {e}");
        }
    }

    #[test]
    fn defaults_fill_in_what_the_request_does_not_set() {
        let mut defaults = Defaults::default();
        defaults.param("x_a".into(), "default".into()).unwrap();
        defaults.param("x_b".into(), "default".into()).unwrap();
        defaults.header("x-h", "default").unwrap();
        defaults.header("authorization", "Bearer secret").unwrap();
        assert!(defaults.param("Sysparm_Limit".into(), "1".into()).is_err());
        assert!(defaults.header("bad header", "x").is_err());

        let mut req = ApiRequest::api(Method::GET, ["table", "incident"]);
        req.add_param("x_a".into(), "mine".into());
        req.add_header("x-h", "mine");
        let req = req.with_defaults(&defaults).into_http(&instance()).unwrap();
        assert_eq!(
            req.uri().query(),
            Some("x_a=mine&x_b=default"),
            "the request's own value, then the defaults it does not set"
        );
        assert_eq!(req.headers()["x-h"], "mine");
        assert!(req.headers()["authorization"].is_sensitive());

        // A full URL keeps its own query; only the headers are added.
        let uri: http::Uri = "https://acme.service-now.com/api/now/table/incident?sysparm_offset=5"
            .parse()
            .unwrap();
        let req = ApiRequest::new(Method::GET, Target::Uri(uri))
            .with_defaults(&defaults)
            .into_http(&instance())
            .unwrap();
        assert_eq!(req.uri().query(), Some("sysparm_offset=5"));
        assert_eq!(req.headers()["x-h"], "default");
    }

    #[test]
    fn refused_extras_fail_the_request_when_sent() {
        let mut req = ApiRequest::api(Method::GET, ["table", "incident"]);
        req.add_param("sysparm_offset".into(), "5".into());
        req.add_header("x-ok", "fine");
        let e = req.into_http(&instance()).unwrap_err();
        assert!(e.to_string().contains(".offset()"), "{e}");

        let mut req = ApiRequest::api(Method::POST, ["table", "incident"]);
        req.add_header("content-type", "application/json;charset=UTF-8");
        let req = req
            .json(Bytes::from_static(b"{}"))
            .into_http(&instance())
            .unwrap();
        let types: Vec<_> = req.headers().get_all(CONTENT_TYPE).iter().collect();
        assert_eq!(types, ["application/json;charset=UTF-8"]);
    }

    #[test]
    fn payloads_must_be_objects() {
        assert!(json_object_body(&serde_json::json!({"a": 1})).is_ok());
        for bad in [
            serde_json::json!([1]),
            serde_json::json!("x"),
            serde_json::json!(null),
        ] {
            assert!(json_object_body(&bad).is_err());
        }
    }

    #[test]
    fn a_sending_future_holds_a_pointer_to_the_stack_not_the_stack() {
        // Every request's future is moved (into a caller's `FuturesUnordered`, a task, a box):
        // the request and the stack's futures are boxed once so that those moves copy a few
        // hundred bytes, not kilobytes (3,136 and 4,088 bytes before).
        let client = crate::Client::builder("http://127.0.0.1:1")
            .build()
            .unwrap();
        let send = client.send_buffered(ApiRequest::api(Method::GET, ["table", "incident"]));
        assert!(
            std::mem::size_of_val(&send) <= 512,
            "{}",
            std::mem::size_of_val(&send)
        );
        let fetch = client.table("incident").get("x").fetch::<crate::Record>();
        assert!(
            std::mem::size_of_val(&fetch) <= 2048,
            "{}",
            std::mem::size_of_val(&fetch)
        );
    }
}
