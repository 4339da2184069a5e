//! A bearer token obtained elsewhere.

use std::fmt;

use snow_core::secret::{ExposeSecret, SecretString};
use snow_core::{AuthError, http};

use crate::Prepared;

/// A static bearer token (`Authorization: Bearer <token>`), for a token obtained by other means
/// (an identity provider, a vault, a CI secret).
///
/// The header value is computed once and marked sensitive. A token that cannot be carried in a
/// header (a newline, say) makes every request fail with [`AuthError::InvalidCredential`]; the
/// token itself never appears in errors or `Debug`. The token is not renewed: a `401` is returned
/// to the caller as is (use snow-oauth for tokens that expire).
///
/// ```
/// use snow_basic::BearerToken;
/// use snow_core::{http, Authenticator};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let auth = BearerToken::new("eyJhbGciOi");
/// let (mut parts, ()) = http::Request::get("https://acme.service-now.com/").body(()).unwrap().into_parts();
/// auth.authenticate(&mut parts).await.unwrap();
/// assert_eq!(parts.headers["authorization"], "Bearer eyJhbGciOi");
/// assert!(parts.headers["authorization"].is_sensitive());
/// assert!(!format!("{auth:?}").contains("eyJhbGciOi"));
/// # });
/// ```
#[derive(Clone)]
pub struct BearerToken {
    header: Prepared,
}

impl BearerToken {
    /// A bearer token (`&str`, `String` or [`SecretString`]).
    pub fn new(token: impl Into<SecretString>) -> Self {
        let token: SecretString = token.into();
        Self {
            header: Prepared::new(&format!("Bearer {}", token.expose_secret()), "token"),
        }
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerToken")
            .field("token", &"[REDACTED]")
            .finish()
    }
}

impl BearerToken {
    /// Sets the credential on `request`.
    fn apply(&self, request: &mut http::request::Parts) -> Result<(), AuthError> {
        request
            .headers
            .insert(http::header::AUTHORIZATION, self.header.get()?);
        Ok(())
    }
}

fixed_credential!(BearerToken);
