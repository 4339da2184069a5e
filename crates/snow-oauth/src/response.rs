//! Reading the token endpoint's answers: a token, an OAuth error, or something else (the
//! hibernation page, a redirect, an outage page), never quoting a body that may hold a token.

use std::time::{Duration, SystemTime};

use oauth2::TokenResponse;
use oauth2::basic::{BasicErrorResponse, BasicTokenResponse, BasicTokenType};
use snow_core::http::{self, HeaderValue, StatusCode, header};

use crate::{OAuthError, TokenSet};

/// The markers of the page a hibernating developer instance answers every URL with.
const HIBERNATION_MARKERS: [&str; 2] =
    ["Instance Hibernating page", "Your instance is hibernating"];

/// How much of a body that is not JSON is searched for the hibernation markers.
const SNIFF_LIMIT: usize = 64 * 1024;

/// The most characters of server text (an OAuth `error`, a content type) an error message keeps.
const MAX_TEXT: usize = 200;

/// A token the endpoint just issued, with the lifetime it announced.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) token: TokenSet,
    pub(crate) lifetime: Option<Duration>,
}

/// Read the answer to a token request made with `grant`.
///
/// - the hibernation page, whatever its status: [`OAuthError::InstanceUnavailable`] with
///   `hibernating`;
/// - a redirect: [`OAuthError::Redirected`] (never followed);
/// - any status but 200: the OAuth error it carries (see [`refusal`]);
/// - 200: a token response (JSON, a non-empty access token that fits in a header), else
///   [`OAuthError::Protocol`] naming what was wrong but not the body.
pub(crate) fn token(
    grant: &'static str,
    response: &http::Response<Vec<u8>>,
) -> Result<Issued, OAuthError> {
    let status = response.status();
    let body = response.body();
    if is_hibernation_page(body) {
        return Err(OAuthError::InstanceUnavailable {
            hibernating: true,
            status: status.as_u16(),
        });
    }
    if status.is_redirection() {
        return Err(OAuthError::Redirected {
            status: status.as_u16(),
        });
    }
    if status != StatusCode::OK {
        return Err(refusal(grant, status.as_u16(), body));
    }
    check_json(response)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(OAuthError::protocol("the token response is empty"));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    let parsed: BasicTokenResponse = serde_path_to_error::deserialize(de).map_err(|e| {
        // serde messages can quote a value (a token): name only the kind of error and where.
        OAuthError::protocol(format!(
            "the token response is not valid ({:?} error at `{}`)",
            e.inner().classify(),
            bounded(&e.path().to_string())
        ))
    })?;
    issued(parsed)
}

/// Read the answer to a revocation request.
pub(crate) fn revocation(response: &http::Response<Vec<u8>>) -> Result<(), OAuthError> {
    let status = response.status().as_u16();
    if is_hibernation_page(response.body()) {
        return Err(OAuthError::InstanceUnavailable {
            hibernating: true,
            status,
        });
    }
    match response.status() {
        s if s.is_success() => Ok(()),
        s if s.is_redirection() => Err(OAuthError::Redirected { status }),
        _ => Err(OAuthError::Revoke { status }),
    }
}

/// Whether `body` is the page a hibernating developer instance sends for every URL: not JSON,
/// and holding one of the page's markers in its first 64 KiB.
pub(crate) fn is_hibernation_page(body: &[u8]) -> bool {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_none_or(|i| matches!(body[i], b'{' | b'[')) {
        return false;
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(SNIFF_LIMIT)]);
    HIBERNATION_MARKERS.iter().any(|m| text.contains(m))
}

/// Classify an answer other than 200 to a token request.
///
/// - An OAuth error body: see [`server_error`].
/// - No OAuth error body, with a status that says the instance cannot serve now (`408`, `429`,
///   `5xx`): [`OAuthError::InstanceUnavailable`] (not hibernating).
/// - Anything else: [`OAuthError::Protocol`].
fn refusal(grant: &'static str, status: u16, body: &[u8]) -> OAuthError {
    match serde_json::from_slice::<BasicErrorResponse>(body) {
        Ok(e) => server_error(grant, status, &e),
        Err(_) if status >= 500 || status == 408 || status == 429 => {
            OAuthError::InstanceUnavailable {
                hibernating: false,
                status,
            }
        }
        Err(_) => OAuthError::protocol(format!("HTTP {status} without an OAuth error body")),
    }
}

/// Classify an OAuth error response.
///
/// - HTTP 5xx: [`OAuthError::InstanceUnavailable`] (not hibernating; `502`, `503` and `504`
///   are transient).
/// - A refused refresh-token grant, or any `invalid_grant`: [`OAuthError::InvalidGrant`].
///   ServiceNow answers a revoked or expired refresh token with the same 401
///   `server_error`/`access_denied` as a wrong password, so for the refresh grant every refusal
///   counts as an invalid grant; that is what allows the password fallback.
/// - Anything else: [`OAuthError::TokenCreate`] with the status, `error` and `error_description`.
fn server_error(grant: &'static str, status: u16, e: &BasicErrorResponse) -> OAuthError {
    if status >= 500 {
        return OAuthError::InstanceUnavailable {
            hibernating: false,
            status,
        };
    }
    let error = bounded(e.error().as_ref());
    let description = e.error_description().map(|d| bounded(d));
    if grant == "refresh_token" || error == "invalid_grant" {
        let description = Some(match description {
            Some(d) => format!("{error}: {d}"),
            None => error,
        });
        return OAuthError::InvalidGrant {
            grant,
            status: Some(status),
            description,
        };
    }
    OAuthError::TokenCreate {
        status: Some(status),
        error,
        description,
    }
}

/// A 200 answer must be JSON when it says what it is.
fn check_json(response: &http::Response<Vec<u8>>) -> Result<(), OAuthError> {
    let Some(ct) = response.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let ct = String::from_utf8_lossy(ct.as_bytes());
    if ct
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Ok(());
    }
    Err(OAuthError::protocol(format!(
        "the answer is not JSON but {:?}",
        bounded(&ct)
    )))
}

/// The token set of a token response whose access token can be used.
fn issued(response: BasicTokenResponse) -> Result<Issued, OAuthError> {
    let access = response.access_token().secret();
    if access.is_empty() {
        return Err(OAuthError::protocol(
            "the token response has an empty access token",
        ));
    }
    if HeaderValue::from_str(&format!("Bearer {access}")).is_err() {
        return Err(OAuthError::protocol(
            "the access token contains characters an HTTP header cannot carry",
        ));
    }
    let lifetime = response.expires_in();
    let mut token = TokenSet::new(access.clone()).with_token_type(match response.token_type() {
        // oauth2 spells it in lower case; ServiceNow and RFC 6750 say `Bearer`.
        BasicTokenType::Bearer => "Bearer".to_owned(),
        other => bounded(other.as_ref()),
    });
    if let Some(rt) = response.refresh_token() {
        token = token.with_refresh_token(rt.secret().clone());
    }
    if let Some(at) = lifetime.and_then(|l| SystemTime::now().checked_add(l)) {
        token = token.with_expires_at(at);
    }
    if let Some(scopes) = response.scopes() {
        let joined = scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        token = token.with_scope(joined);
    }
    Ok(Issued { token, lifetime })
}

/// Server text fit for an error message: at most [`MAX_TEXT`] characters, control characters
/// replaced by spaces.
pub(crate) fn bounded(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_TEXT)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(MAX_TEXT).is_some() {
        out.push('…');
    }
    out
}
