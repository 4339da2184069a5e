//! The names under which credentials travel on ServiceNow's wire, so that every crate marks,
//! withholds and redacts the same ones.

use http::HeaderName;

/// The header, and the query parameter, ServiceNow reads API keys from: `x-sn-apikey`.
pub const API_KEY_NAME: &str = "x-sn-apikey";

/// [`API_KEY_NAME`] as a header name.
pub const API_KEY_HEADER: HeaderName = HeaderName::from_static(API_KEY_NAME);

/// Headers that carry a credential whatever their value (lowercase, as [`HeaderName`] spells
/// them): `Authorization`, `Proxy-Authorization`, `Cookie` and `Set-Cookie` (ServiceNow's
/// session), `x-sn-apikey`, `X-UserToken` (ServiceNow's anti-CSRF token, sent with session
/// cookies) and `Authentication` (a non-standard bearer header some clients send).
pub const CREDENTIAL_HEADERS: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    API_KEY_NAME,
    "x-usertoken",
    "authentication",
];

/// Query parameters that carry a credential: ServiceNow's API key and anti-CSRF token
/// (`sysparm_ck`), OAuth's tokens, client secret, assertion and authorization code, and the
/// usual names of API keys and passwords. [`is_credential_query_param`] also catches other
/// spellings.
pub const CREDENTIAL_QUERY_PARAMS: [&str; 12] = [
    API_KEY_NAME,
    "apikey",
    "api_key",
    "sysparm_ck",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "client_secret",
    "assertion",
    "code",
    "password",
];

/// Whether a header carries a credential whatever its value: one of [`CREDENTIAL_HEADERS`].
///
/// Such headers are marked sensitive, never shown in `Debug`, logs or errors, and never sent
/// to an origin other than the instance.
///
/// ```
/// use snow_core::http::{header, HeaderName};
/// use snow_core::{is_credential_header, API_KEY_HEADER};
///
/// assert!(is_credential_header(&header::AUTHORIZATION));
/// assert!(is_credential_header(&API_KEY_HEADER));
/// assert!(is_credential_header(&HeaderName::from_static("x-usertoken")));
/// assert!(!is_credential_header(&header::ACCEPT));
/// ```
pub fn is_credential_header(name: &HeaderName) -> bool {
    CREDENTIAL_HEADERS.contains(&name.as_str())
}

/// Whether a query parameter name carries a credential: one of [`CREDENTIAL_QUERY_PARAMS`], or
/// any name containing `apikey`, `api_key`, `token`, `password` or `secret`. The name may be
/// given percent-encoded or decoded, in any case.
///
/// ```
/// use snow_core::is_credential_query_param;
///
/// assert!(is_credential_query_param("x-sn-apikey"));
/// assert!(is_credential_query_param("X%2DSN%2DAPIKEY"));
/// assert!(is_credential_query_param("my_app_token"));
/// assert!(!is_credential_query_param("sysparm_query"));
/// ```
pub fn is_credential_query_param(name: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
    let name = decoded.to_ascii_lowercase();
    CREDENTIAL_QUERY_PARAMS.contains(&name.as_str())
        || ["apikey", "api_key", "token", "password", "secret"]
            .iter()
            .any(|word| name.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_header_is_a_valid_lowercase_name() {
        for name in CREDENTIAL_HEADERS {
            let parsed = HeaderName::from_static(name);
            assert!(is_credential_header(&parsed), "{name}");
            assert_eq!(parsed.as_str(), name);
        }
        assert_eq!(API_KEY_HEADER.as_str(), API_KEY_NAME);
        assert!(is_credential_header(&HeaderName::from_static("set-cookie")));
        assert!(!is_credential_header(&HeaderName::from_static(
            "x-sn-apikey-hint"
        )));
    }

    #[test]
    fn query_parameters_in_any_spelling() {
        for name in CREDENTIAL_QUERY_PARAMS {
            assert!(is_credential_query_param(name), "{name}");
            assert!(
                is_credential_query_param(&name.to_ascii_uppercase()),
                "{name}"
            );
        }
        for name in [
            "Access%5Ftoken",
            "client-secret",
            "db_password",
            "x-sn-ApiKey",
        ] {
            assert!(is_credential_query_param(name), "{name}");
        }
        for name in [
            "sysparm_query",
            "sysparm_limit",
            "sysparm_offset",
            "sysparm_fields",
            "sysparm_display_value",
            "%ff",
        ] {
            assert!(!is_credential_query_param(name), "{name}");
        }
    }
}
