//! Who is calling: HTTP Basic, Bearer token or API key.

use base64::Engine as _;
use http::HeaderMap;
use http::header::AUTHORIZATION;

use super::config::Role;
use super::state::State;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) name: String,
    pub(crate) role: Role,
}

/// Credentials decoded from an `Authorization: Basic` header.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

fn api_key<'a>(headers: &'a HeaderMap, query_key: Option<&'a str>) -> Option<&'a str> {
    headers
        .get("x-sn-apikey")
        .and_then(|v| v.to_str().ok())
        .or(query_key)
}

/// Check the request's credentials. `None` means 401.
pub(crate) fn authenticate(
    state: &State,
    headers: &HeaderMap,
    query_key: Option<&str>,
) -> Option<Caller> {
    let name = if let Some((user, pass)) = basic_credentials(headers) {
        let u = state.user(&user)?;
        if !u.password_matches(&pass) {
            return None;
        }
        user
    } else if let Some(token) = bearer(headers) {
        state.tokens().user_for_access(token, state.now_ms())?
    } else if let Some(key) = api_key(headers, query_key) {
        state.tokens().api_keys.get(key)?.clone()
    } else {
        return None;
    };
    let role = state.user(&name)?.role;
    Some(Caller { name, role })
}
