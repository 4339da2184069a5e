//! What of a request reaches the request log: credentials in headers and query parameters
//! are replaced with `<redacted>`, and every part is cut to a bounded size.

use http::HeaderMap;

use super::introspect::LoggedRequest;
use super::request::Req;

/// Longest path kept in a log entry.
const MAX_PATH: usize = 2 * 1024;
/// Longest query string kept in a log entry.
const MAX_QUERY: usize = 8 * 1024;
/// Longest header value kept in a log entry.
const MAX_HEADER_VALUE: usize = 1024;
/// Header bytes kept in one log entry; later headers are left out.
const MAX_HEADERS: usize = 16 * 1024;

/// The log entry of a request: redacted and bounded.
pub(crate) fn log_entry(req: &Req, status: u16) -> LoggedRequest {
    let mut headers = Vec::new();
    let mut header_bytes = 0;
    let total = req.headers.len();
    for (name, value) in redacted_headers(&req.headers, MAX_HEADER_VALUE) {
        header_bytes += name.len() + value.len();
        if header_bytes > MAX_HEADERS {
            let left = total - headers.len();
            headers.push(("<truncated>".to_owned(), format!("{left} headers")));
            break;
        }
        headers.push((name, value));
    }
    LoggedRequest {
        method: cut(req.method.to_string(), 32),
        path: cut(req.path.clone(), MAX_PATH),
        query: cut(redacted_query(&req.query), MAX_QUERY),
        headers,
        user: req.caller.as_ref().map(|c| c.name.clone()),
        status,
    }
}

/// `s` cut to at most `max` bytes (on a character boundary), ending in `…` when cut.
fn cut(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push('…');
    s
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

/// The query string with the value of every credential parameter redacted.
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

/// The headers as (name, value) pairs, credential values redacted, values cut to `max` bytes
/// (only that much of a value is ever copied).
fn redacted_headers(
    headers: &HeaderMap,
    max: usize,
) -> impl Iterator<Item = (String, String)> + '_ {
    headers.iter().map(move |(k, v)| {
        let value = if SECRET_HEADERS.contains(&k.as_str()) {
            "<redacted>".to_owned()
        } else {
            let bytes = v.as_bytes();
            let head = &bytes[..bytes.len().min(max)];
            let text = String::from_utf8_lossy(head).into_owned();
            if head.len() < bytes.len() {
                cut(text + "…", max)
            } else {
                cut(text, max)
            }
        };
        (cut(k.as_str().to_owned(), max), value)
    })
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn cut_keeps_short_text_and_marks_long_text() {
        assert_eq!(cut("short".into(), 10), "short");
        let long = cut("é".repeat(100), 11);
        assert!(long.len() <= 11 && long.ends_with('…'), "{long}");
        assert!(long.starts_with("ééé"));
    }
}
