//! What of a request may reach the request log: credentials in headers and query parameters
//! are replaced with `<redacted>`.

use http::HeaderMap;

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
pub(crate) fn redacted_query(query: &str) -> String {
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

/// The headers as (name, value) pairs, credential values redacted.
pub(crate) fn redacted_headers(headers: &HeaderMap) -> Vec<(String, String)> {
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
