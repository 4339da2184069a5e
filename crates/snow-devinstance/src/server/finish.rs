//! The last step of every response: ServiceNow's common headers, rate-limit headers,
//! compression and an injected body truncation.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use super::body::{self, OutBody};
use super::faults::RateDecision;
use super::gzip;
use super::respond::Resp;
use super::state::State;

/// Turn a handler's response into what goes on the wire.
pub(crate) fn finish(
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
        if let Some(compressed) = gzip::compress(&bytes) {
            bytes = compressed;
            parts
                .headers
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            parts
                .headers
                .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
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
