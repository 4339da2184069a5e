//! One request from arrival to response: admin API, faults, authentication, routing,
//! common headers, compression, counters and the request log.

use std::io::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::auth::{self, Caller};
use super::body::{self, OutBody};
use super::config::Role;
use super::faults::{self, FaultKind, RateDecision};
use super::params::Params;
use super::respond::{self, Resp};
use super::state::{LoggedRequest, State};
use super::{admin, attachment, oauth, table};

/// The connection is dropped without a response (an injected connection reset).
#[derive(Debug, thiserror::Error)]
#[error("connection reset by an injected fault")]
pub(crate) struct ResetConnection;

/// A request on its way through the handlers.
pub(crate) struct Req {
    pub(crate) state: Arc<State>,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) params: Params,
    pub(crate) headers: HeaderMap,
    body: Option<Incoming>,
    pub(crate) caller: Option<Caller>,
    /// `v1`, `v2`, ... when the path carried a version segment.
    pub(crate) version: Option<String>,
    /// An injected fault asks for a list to be cut short with an `error` member.
    pub(crate) cancel_txn: bool,
}

impl Req {
    pub(crate) async fn read_body(&mut self) -> Result<Bytes, Resp> {
        self.read_body_max(self.state.config.max_body_bytes).await
    }

    pub(crate) async fn read_body_max(&mut self, max: usize) -> Result<Bytes, Resp> {
        match self.body.take() {
            Some(b) => body::read(b, &self.headers, max).await,
            None => Ok(Bytes::new()),
        }
    }

    /// `{base}/api/now[/vN]`: where links and `Location` point, echoing the request's version.
    pub(crate) fn link_base(&self) -> String {
        match &self.version {
            Some(v) => format!("{}/api/now/{v}", self.state.base_url),
            None => format!("{}/api/now", self.state.base_url),
        }
    }

    pub(crate) fn caller_role(&self) -> Option<Role> {
        self.caller.as_ref().map(|c| c.role)
    }
}

/// Headers whose values are credentials and never reach the request log.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-sn-apikey",
    "x-usertoken",
    "authentication",
];

/// Whether a query parameter carries a credential (API key, token, password, client secret,
/// JWT assertion); compared case-insensitively after URL-decoding.
fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("apikey")
        || name.contains("token")
        || name.contains("password")
        || name.contains("secret")
        || name == "assertion"
}

fn redacted_query(query: &str) -> String {
    if !form_urlencoded::parse(query.as_bytes()).any(|(k, _)| is_secret_param(&k)) {
        return query.to_owned();
    }
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        s.append_pair(
            &k,
            if is_secret_param(&k) {
                "<redacted>"
            } else {
                &v
            },
        );
    }
    s.finish()
}

fn redacted_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            let value = if SECRET_HEADERS.contains(&k.as_str()) {
                "<redacted>".to_owned()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (k.as_str().to_owned(), value)
        })
        .collect()
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|enc| {
            let mut it = enc.split(';');
            let name = it.next().unwrap_or("").trim();
            let q_zero = it.any(|p| {
                let p = p.trim();
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            });
            name.eq_ignore_ascii_case("gzip") && !q_zero
        })
}

/// What the outer layer does with the handler's response.
enum Outcome {
    Respond(Resp),
    Reset,
}

pub(crate) async fn serve(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<OutBody>, ResetConnection> {
    let (parts, incoming) = req.into_parts();
    let mut method = parts.method.clone();
    if let Some(m) = parts
        .headers
        .get("x-http-method-override")
        .and_then(|v| Method::from_bytes(v.as_bytes()).ok())
    {
        method = m;
    }
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let gzip = accepts_gzip(&parts.headers);
    let mut req = Req {
        state: state.clone(),
        method,
        path,
        params: Params::parse(&query),
        headers: parts.headers,
        body: Some(incoming),
        caller: None,
        version: None,
        cancel_txn: false,
    };
    let mut truncate = false;
    let mut rate: Option<RateDecision> = None;
    let outcome = dispatch(&mut req, &query, &mut truncate, &mut rate).await;
    let status;
    let result = match outcome {
        Outcome::Reset => {
            status = 0;
            Err(ResetConnection)
        }
        Outcome::Respond(resp) => {
            status = resp.status().as_u16();
            Ok(finish(&state, resp, gzip, truncate, rate.as_ref()))
        }
    };
    state.count_request(&req.path, status);
    state.log_request(LoggedRequest {
        method: req.method.to_string(),
        path: req.path.clone(),
        query: redacted_query(&query),
        headers: redacted_headers(&req.headers),
        user: req.caller.as_ref().map(|c| c.name.clone()),
        status,
    });
    result
}

async fn dispatch(
    req: &mut Req,
    query: &str,
    truncate: &mut bool,
    rate: &mut Option<RateDecision>,
) -> Outcome {
    let state = req.state.clone();
    if let Some(rest) = req.path.strip_prefix("/__dev/") {
        let rest = rest.to_owned();
        req.caller = auth::authenticate(&state, &req.headers, None);
        return Outcome::Respond(admin::http(req, &rest).await);
    }
    if state.faults().hibernating(&req.path) {
        return Outcome::Respond(respond::hibernating());
    }
    let public = req.path == "/oauth_token.do" || req.path == "/oauth_revoke_token.do";
    if !public {
        req.caller = auth::authenticate(&state, &req.headers, req.params.get("x-sn-apikey"));
        if req.caller.is_none() {
            return Outcome::Respond(respond::unauthorized());
        }
    }
    let user = req.caller.as_ref().map(|c| c.name.clone());
    let hits = state.faults().roll(&req.path, user.as_deref());
    if let Some(pause) = faults::latency(&hits) {
        tokio::time::sleep(pause).await;
    }
    for hit in &hits {
        match hit {
            FaultKind::ConnectionReset => return Outcome::Reset,
            FaultKind::Semaphore => {
                return Outcome::Respond(respond::error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Maximum number of concurrent requests exceeded",
                    Some("The API_INT semaphore queue is full"),
                ));
            }
            FaultKind::SessionRejected => {
                return Outcome::Respond(respond::empty(StatusCode::ACCEPTED));
            }
            FaultKind::Hibernate => return Outcome::Respond(respond::hibernating()),
            FaultKind::ServerError { status } => {
                let code = StatusCode::from_u16(*status)
                    .ok()
                    .filter(|s| s.is_server_error())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return Outcome::Respond(respond::error(
                    code,
                    "Exception while executing request: null",
                    Some(
                        "Check logs for error trace or enable glide.rest.debug property to verify REST request processing",
                    ),
                ));
            }
            FaultKind::TransactionCancelled => req.cancel_txn = true,
            FaultKind::TruncatedBody => *truncate = true,
            FaultKind::Latency { .. } => {}
        }
    }
    if let Some(name) = &user {
        let now_s = u64::try_from(state.now_ms() / 1000).unwrap_or(0);
        *rate = state.faults().rate_limit(name, now_s);
        if let Some(d) = rate.as_ref() {
            if let Some(retry) = d.retry_after {
                let api = api_name(&req.path);
                let mut resp = respond::error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Rate limit exceeded",
                    Some(&format!(
                        "Rate limit of {} requests per hour for {api} exceeded",
                        d.limit
                    )),
                );
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry));
                return Outcome::Respond(resp);
            }
        }
    }
    Outcome::Respond(route(req, query).await)
}

fn api_name(path: &str) -> &'static str {
    if path.contains("/attachment") {
        "Attachment API"
    } else if path.contains("/table/") {
        "Table API"
    } else {
        "REST API"
    }
}

async fn route(req: &mut Req, query: &str) -> Resp {
    let path = req.path.clone();
    match path.as_str() {
        "/oauth_token.do" => {
            if req.method != Method::POST {
                return respond::oauth_denied();
            }
            // Every failure of the token endpoint, an unreadable or oversized body included,
            // is the same 401 `access_denied` body.
            return match req.read_body().await {
                Ok(b) => oauth::token(&req.state, &req.headers, &b),
                Err(_) => respond::oauth_denied(),
            };
        }
        "/oauth_revoke_token.do" => {
            let b = req.read_body().await.unwrap_or_default();
            return oauth::revoke(&req.state, query, &b);
        }
        _ => {}
    }
    let Some(rest) = path.strip_prefix("/api/now/") else {
        return respond::unknown_resource();
    };
    let mut segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    if segments.first().is_some_and(|s| {
        s.len() >= 2 && s.starts_with('v') && s[1..].bytes().all(|b| b.is_ascii_digit())
    }) {
        req.version = Some(segments.remove(0).to_owned());
    }
    let is_list = segments.len() == 2
        && segments[0] == "table"
        && matches!(req.method, Method::GET | Method::HEAD);
    if req.cancel_txn && !is_list {
        // Cancelled before any output: a plain 500 (KB1297438).
        return respond::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Transaction cancelled: maximum execution time exceeded",
            Some(
                "Check logs for error trace or enable glide.rest.debug property to verify REST request processing",
            ),
        );
    }
    match segments.split_first() {
        Some((&"table", rest)) => table::handle(req, rest).await,
        Some((&"attachment", rest)) => attachment::handle(req, rest).await,
        _ => respond::unknown_resource(),
    }
}

/// Common headers, compression and injected body truncation.
fn finish(
    state: &State,
    resp: Resp,
    gzip: bool,
    truncate: bool,
    rate: Option<&RateDecision>,
) -> Response<OutBody> {
    let (mut parts, bytes) = resp.into_parts();
    let h = &mut parts.headers;
    let is_html = h
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !is_html {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache,no-store,must-revalidate,max-age=-1"),
        );
        h.insert(
            header::PRAGMA,
            HeaderValue::from_static("no-store,no-cache"),
        );
        h.insert(header::EXPIRES, HeaderValue::from_static("0"));
        h.insert(header::SERVER, HeaderValue::from_static("ServiceNow"));
        h.insert("x-is-logged-in", HeaderValue::from_static("true"));
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            "server-timing",
            HeaderValue::from_static("sem_wait;dur=0, sesh_wait;dur=0"),
        );
        if let Ok(v) = HeaderValue::from_str(&state.transaction_id()) {
            h.insert("x-transaction-id", v);
        }
        let session = super::tokens::random_hex(32).to_ascii_uppercase();
        if let Ok(v) = HeaderValue::from_str(&format!("JSESSIONID={session}; Path=/; HttpOnly")) {
            h.append(header::SET_COOKIE, v);
        }
    }
    if let Some(d) = rate {
        h.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
        h.insert("x-ratelimit-reset", HeaderValue::from(d.reset_unix));
        if let Ok(v) = HeaderValue::from_str(&d.rule_sys_id) {
            h.insert("x-ratelimit-rule", v);
        }
    }
    let mut bytes = bytes;
    if gzip && !bytes.is_empty() && parts.status != StatusCode::NO_CONTENT {
        let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
        if enc.write_all(&bytes).is_ok() {
            if let Ok(compressed) = enc.finish() {
                bytes = Bytes::from(compressed);
                parts
                    .headers
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                parts
                    .headers
                    .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
            }
        }
    }
    let body = if truncate && !bytes.is_empty() {
        parts.headers.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(bytes.len() as u64),
        );
        body::truncated(bytes)
    } else {
        body::full(bytes)
    };
    Response::from_parts(parts, body)
}
