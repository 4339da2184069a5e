//! HTTP Basic authentication.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use snow_core::secret::{ExposeSecret, SecretString};
use snow_core::{AuthError, http};

use crate::Prepared;

/// HTTP Basic authentication (`Authorization: Basic base64(user:password)`).
///
/// The header value is computed once, at construction, and marked sensitive; `Debug` shows the
/// user name only. A `401` is returned to the caller as is: a password cannot renew itself.
///
/// A user name containing `:` cannot be sent (RFC 7617: the first `:` separates user and
/// password, so the server would read other credentials than the ones given); every request then
/// fails with [`AuthError::InvalidCredential`] naming the user name, never the password.
///
/// ```
/// use snow_basic::BasicAuth;
/// use snow_core::{http, Authenticator};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let auth = BasicAuth::new("admin", String::from("pa:ss w0rd"));
/// let (mut parts, ()) = http::Request::get("https://acme.service-now.com/").body(()).unwrap().into_parts();
/// auth.authenticate(&mut parts).await.unwrap();
/// assert_eq!(parts.headers["authorization"], "Basic YWRtaW46cGE6c3MgdzByZA==");
/// assert_eq!(auth.user(), "admin");
/// assert_eq!(format!("{auth:?}"), r#"BasicAuth { user: "admin", password: "[REDACTED]" }"#);
/// # });
/// ```
#[derive(Clone)]
pub struct BasicAuth {
    user: String,
    header: Prepared,
}

impl BasicAuth {
    /// Basic credentials for `user` and `password` (`&str`, `String` or [`SecretString`]).
    pub fn new(user: impl Into<String>, password: impl Into<SecretString>) -> Self {
        let user = user.into();
        let password: SecretString = password.into();
        if user.contains(':') {
            return Self {
                user,
                header: Prepared::Invalid("user name (it contains ':')"),
            };
        }
        // The clear text lives only in this temporary buffer (and the base64 string), both dropped here.
        let mut clear = String::with_capacity(user.len() + 1 + password.expose_secret().len());
        clear.push_str(&user);
        clear.push(':');
        clear.push_str(password.expose_secret());
        let header = Prepared::new(
            &format!("Basic {}", STANDARD.encode(clear.as_bytes())),
            "password",
        );
        Self { user, header }
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("user", &self.user)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

impl BasicAuth {
    /// Sets the credential on `request`.
    fn apply(&self, request: &mut http::request::Parts) -> Result<(), AuthError> {
        request
            .headers
            .insert(http::header::AUTHORIZATION, self.header.get()?);
        Ok(())
    }
}

fixed_credential!(BasicAuth);
