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

/// The most bytes of server text (an OAuth `error`, a content type) an error message keeps.
const MAX_TEXT: usize = 256;

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
    if body.iter().all(u8::is_ascii_whitespace) || snow_core::looks_like_json(body) {
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

/// Server text fit for an error message: at most [`MAX_TEXT`] bytes (cut at a character
/// boundary, with `…` when cut), control characters replaced by spaces.
pub(crate) fn bounded(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TEXT) + 3);
    for c in text.chars() {
        if out.len() + c.len_utf8() > MAX_TEXT {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// Errors never grow with the body: a bound on any message.
    const MAX_MESSAGE: usize = 700;
    const SECRET: &str = "SECRET-rt-9Qw2";

    fn answer(status: u16, content_type: Option<&str>, body: Vec<u8>) -> http::Response<Vec<u8>> {
        let mut b = http::Response::builder().status(status);
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(body).unwrap()
    }

    fn json_answer(body: impl Into<Vec<u8>>) -> http::Response<Vec<u8>> {
        answer(200, Some("application/json;charset=UTF-8"), body.into())
    }

    fn check_error(e: &OAuthError) {
        let message = e.to_string();
        assert!(
            message.len() <= MAX_MESSAGE,
            "{} bytes: {message}",
            message.len()
        );
        assert!(!message.contains(SECRET), "{message}");
        let _ = e.kind();
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,24}".prop_map(Value::String),
            Just(Value::String(SECRET.to_owned())),
        ];
        leaf.prop_recursive(5, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,10}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// `expires_in` as the network may spell it: any JSON number text, huge ones included.
    fn arb_expires_in() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| f.to_string()),
            "[1-9][0-9]{19,400}",
            "-?[0-9]{1,5}(\\.[0-9]{1,5})?[eE][+-]?[0-9]{1,5}",
            Just("\"1799\"".to_owned()),
            Just("null".to_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any status, content type and bytes: no panic, a bounded error that quotes nothing.
        #[test]
        fn arbitrary_bytes(
            status in prop_oneof![Just(200u16), Just(401), Just(400), Just(500), Just(503), Just(302), Just(429), 100u16..600],
            content_type in prop_oneof![
                Just(None),
                Just(Some("application/json".to_owned())),
                Just(Some("text/html".to_owned())),
                ".{0,300}".prop_map(Some),
            ],
            body in prop::collection::vec(any::<u8>(), 0..2048),
        ) {
            let r = answer(status, None, body);
            let r = match content_type.as_deref().map(HeaderValue::from_str) {
                Some(Ok(v)) => { let mut r = r; r.headers_mut().insert(header::CONTENT_TYPE, v); r }
                _ => r,
            };
            for grant in ["password", "refresh_token", "jwt-bearer"] {
                match token(grant, &r) {
                    Ok(issued) => {
                        prop_assert_eq!(status, 200);
                        prop_assert!(!issued.token.access_token_str().is_empty());
                    }
                    Err(e) => check_error(&e),
                }
            }
            if let Err(e) = revocation(&r) { check_error(&e) }
        }

        /// Any JSON document answered with 200: no panic; a token only with a usable access
        /// token; errors name a path and a category, never a value.
        #[test]
        fn arbitrary_json(doc in arb_json()) {
            match token("password", &json_answer(serde_json::to_vec(&doc).unwrap())) {
                Ok(issued) => {
                    let access = doc.get("access_token").and_then(Value::as_str);
                    prop_assert_eq!(Some(issued.token.access_token_str()), access);
                }
                Err(e) => {
                    prop_assert!(matches!(e, OAuthError::Protocol { .. }), "{:?}", e);
                    check_error(&e);
                }
            }
        }

        /// Token-shaped JSON with arbitrary members, a secret refresh token and any
        /// `expires_in`: parsed, or refused without quoting the secret.
        #[test]
        fn token_shaped_json(
            access in prop_oneof![Just(json!("AT-1")), arb_json()],
            token_type in prop_oneof![Just(json!("Bearer")), arb_json()],
            expires_in in arb_expires_in(),
            extra in arb_json(),
        ) {
            let body = format!(
                r#"{{"extra":{extra},"access_token":{access},"token_type":{token_type},"refresh_token":"{SECRET}","expires_in":{expires_in}}}"#
            );
            match token("refresh_token", &json_answer(body)) {
                Ok(issued) => {
                    prop_assert!(!issued.token.access_token_str().is_empty());
                    if let Ok(n) = expires_in.parse::<u64>() {
                        prop_assert_eq!(issued.lifetime, Some(Duration::from_secs(n)));
                    }
                }
                Err(e) => check_error(&e),
            }
        }

        /// OAuth error bodies with any status, `error` and `error_description`.
        #[test]
        fn oauth_error_bodies(
            status in 300u16..600,
            error in ".{0,500}",
            description in prop::option::of(".{0,5000}"),
            grant in prop_oneof![Just("password"), Just("refresh_token"), Just("client_credentials")],
        ) {
            let mut doc = json!({"error": error});
            if let Some(d) = &description { doc["error_description"] = json!(d); }
            let e = token(grant, &answer(status, Some("application/json"), serde_json::to_vec(&doc).unwrap()))
                .unwrap_err();
            check_error(&e);
            if status >= 500 {
                prop_assert!(matches!(e, OAuthError::InstanceUnavailable { hibernating: false, .. }), "{:?}", e);
            } else if status < 400 {
                prop_assert!(matches!(e, OAuthError::Redirected { .. }), "{:?}", e);
            } else if grant == "refresh_token" {
                prop_assert!(e.is_invalid_grant(), "{:?}", e);
            }
        }

        /// The hibernation page is recognised whatever surrounds it, and whatever the status.
        #[test]
        fn hibernation_page_anywhere(
            status in 100u16..600,
            before in "[^{\\[ \t\r\n][^{}]{0,200}",
            after in ".{0,200}",
            marker in prop_oneof![Just("Instance Hibernating page"), Just("Your instance is hibernating")],
        ) {
            let body = format!("{before}{marker}{after}").into_bytes();
            let e = token("password", &answer(status, Some("text/html"), body)).unwrap_err();
            prop_assert!(matches!(e, OAuthError::InstanceUnavailable { hibernating: true, .. }), "{:?}", e);
            prop_assert_eq!(e.kind(), snow_core::ErrorKind::Server);
        }
    }

    #[test]
    fn deep_nesting_and_huge_bodies_are_refused_cleanly() {
        for body in [
            "[".repeat(100_000),
            "{\"a\":".repeat(100_000),
            format!("{{\"access_token\":{}1}}", "[".repeat(50_000)),
        ] {
            let e = token("password", &json_answer(body)).unwrap_err();
            assert!(matches!(e, OAuthError::Protocol { .. }), "{e:?}");
            check_error(&e);
        }
        // A megabyte of digits in expires_in, and a megabyte-long error description.
        let digits = "9".repeat(1 << 20);
        let body =
            format!(r#"{{"access_token":"AT","token_type":"Bearer","expires_in":{digits}}}"#);
        check_error(&token("password", &json_answer(body)).unwrap_err());
        let body = format!(
            r#"{{"error":"server_error","error_description":"{}"}}"#,
            "x".repeat(1 << 20)
        );
        let e = token(
            "password",
            &answer(401, Some("application/json"), body.into_bytes()),
        )
        .unwrap_err();
        check_error(&e);
        assert!(e.to_string().ends_with('…'), "{e}");
    }

    #[test]
    fn expires_in_at_the_limits() {
        let parse = |n: &str| {
            token(
                "password",
                &json_answer(format!(
                    r#"{{"access_token":"AT","token_type":"Bearer","expires_in":{n}}}"#
                )),
            )
        };
        let max = parse(&u64::MAX.to_string()).unwrap();
        assert_eq!(max.lifetime, Some(Duration::from_secs(u64::MAX)));
        assert!(
            max.token.expires_at().is_none(),
            "past the end of the clock: no expiry"
        );
        assert_eq!(parse("0").unwrap().lifetime, Some(Duration::ZERO));
        for bad in ["-1", "1.5", "1e400", "18446744073709551616", "\"1799\""] {
            let e = parse(bad).unwrap_err();
            assert!(matches!(e, OAuthError::Protocol { .. }), "{bad}: {e:?}");
            assert!(e.to_string().contains("expires_in"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_hibernation_sniff_reads_a_bounded_prefix() {
        let mut late = vec![b'x'; SNIFF_LIMIT];
        late.extend_from_slice(b"Instance Hibernating page");
        assert!(!is_hibernation_page(&late));
        assert!(!is_hibernation_page(
            br#"{"result":"Your instance is hibernating"}"#
        ));
        assert!(!is_hibernation_page(b""));
        assert!(is_hibernation_page(
            b"\n<html><title>Instance Hibernating page</title>"
        ));
    }

    #[test]
    fn a_usable_token_response() {
        let issued = token(
            "password",
            &json_answer(
                r#"{"scope":"useraccount","token_type":"Bearer","expires_in":1799,"refresh_token":"RT","access_token":"AT"}"#,
            ),
        )
        .unwrap();
        assert_eq!(issued.token.access_token_str(), "AT");
        assert_eq!(issued.token.scope(), Some("useraccount"));
        assert_eq!(issued.token.token_type(), "Bearer");
        assert_eq!(issued.lifetime, Some(Duration::from_secs(1799)));
        for (body, what) in [
            (r#"{"access_token":"","token_type":"Bearer"}"#, "empty"),
            (r#"{"access_token":"a\nb","token_type":"Bearer"}"#, "header"),
            ("  ", "empty"),
        ] {
            let e = token("password", &json_answer(body)).unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
        }
        let e = token("password", &answer(200, Some("text/plain"), b"AT".to_vec())).unwrap_err();
        assert!(e.to_string().contains("not JSON"), "{e}");
    }
}
