//! The last step of every response: ServiceNow's common headers, rate-limit headers,
//! compression and an injected body truncation.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use super::body::{self, OutBody};
use super::faults::RateDecision;
use super::gzip;
use super::respond::{MAX_HEADER_LINE, Resp};
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
    drop_long_headers(&mut parts.headers);
    let mut bytes = bytes;
    if gzip
        && !bytes.is_empty()
        && parts.status != StatusCode::NO_CONTENT
        && let Some(compressed) = gzip::compress(&bytes)
    {
        bytes = compressed;
        parts
            .headers
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        parts
            .headers
            .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
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

/// Drops every header whose line would be longer than [`MAX_HEADER_LINE`] (an absurd file
/// name in `Content-Disposition` and `X-Attachment-Metadata`, say): a header nobody can read
/// is worse than none. The `Link` header never gets here that long (see the Table API).
fn drop_long_headers(headers: &mut http::HeaderMap) {
    let too_long: Vec<header::HeaderName> = headers
        .iter()
        .filter(|(k, v)| k.as_str().len() + 2 + v.len() > MAX_HEADER_LINE)
        .map(|(k, _)| k.clone())
        .collect();
    for name in too_long {
        tracing::debug!(header = %name, "dropping a response header longer than 16 KiB");
        headers.remove(&name);
    }
}
