//! Basic auth, API key (`x-sn-apikey`) and static bearer-token authenticators for snow, the
//! ServiceNow REST toolkit.
//!
//! Each type implements [`snow_core::Authenticator`], so it plugs into any snow transport:
//!
//! - [`BasicAuth`]: `Authorization: Basic ...` from a user name and password.
//! - [`ApiKey`]: a ServiceNow API key, in the `x-sn-apikey` header (name configurable) or as the
//!   `x-sn-apikey` query parameter.
//! - [`BearerToken`]: `Authorization: Bearer ...` with a token obtained elsewhere.
//!
//! Credentials are held as [`SecretString`]; no type prints its secret in `Debug`, and every
//! credential header is marked sensitive. None of them can renew a credential, so a `401` is
//! handed back to the caller unchanged (no replay).
//!
//! ```
//! use snow_basic::{ApiKey, BasicAuth, BearerToken};
//! use snow_core::{http, Authenticator};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let auth = BasicAuth::new("admin", "s3cret");
//! let (mut parts, ()) = http::Request::get("https://acme.service-now.com/api/now/table/incident")
//!     .body(())
//!     .unwrap()
//!     .into_parts();
//! auth.authenticate(&mut parts).await.unwrap();
//! assert_eq!(parts.headers["authorization"], "Basic YWRtaW46czNjcmV0");
//! assert!(parts.headers["authorization"].is_sensitive());
//! assert!(!format!("{auth:?}").contains("s3cret"));
//!
//! // Any of them can be held as `Arc<dyn Authenticator>`.
//! let _all: Vec<std::sync::Arc<dyn Authenticator>> = vec![
//!     std::sync::Arc::new(auth),
//!     std::sync::Arc::new(ApiKey::new("key")),
//!     std::sync::Arc::new(BearerToken::new("token")),
//! ];
//! # });
//! ```

/// `Authenticator` for a type with a fixed credential and an `apply` method that puts it on a
/// request: applied without waiting, and a 401 is final.
macro_rules! fixed_credential {
    ($ty:ty) => {
        #[snow_core::async_trait]
        impl snow_core::Authenticator for $ty {
            async fn authenticate(
                &self,
                request: &mut snow_core::http::request::Parts,
            ) -> Result<(), snow_core::AuthError> {
                self.apply(request)
            }
            /// The credential is at hand: never waits.
            fn authenticate_now(
                &self,
                request: &mut snow_core::http::request::Parts,
            ) -> Option<Result<(), snow_core::AuthError>> {
                Some(self.apply(request))
            }
            /// A fixed credential: a 401 is final.
            fn can_replay(&self) -> bool {
                false
            }
        }
    };
}

mod api_key;
mod basic;
mod bearer;

pub use api_key::ApiKey;
pub use basic::BasicAuth;
pub use bearer::BearerToken;
/// Re-exported from snow-core: the header and query parameter name of API keys, `x-sn-apikey`.
pub use snow_core::API_KEY_NAME;

/// Re-exported: the secret type every constructor here accepts (as does `&str` and `String`).
pub use snow_core::secret::SecretString;

use snow_core::AuthError;
use snow_core::http::HeaderValue;

/// Build a sensitive header value once, at construction. `Err` remembers only which credential
/// was unusable, never its value.
fn sensitive_value(value: &str, what: &'static str) -> Result<HeaderValue, AuthError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| AuthError::InvalidCredential { what })?;
    v.set_sensitive(true);
    Ok(v)
}

/// A precomputed header value, or the reason it could not be built (reported on use).
#[derive(Clone)]
enum Prepared {
    Ready(HeaderValue),
    Invalid(&'static str),
}

impl Prepared {
    fn new(value: &str, what: &'static str) -> Self {
        match sensitive_value(value, what) {
            Ok(v) => Prepared::Ready(v),
            Err(_) => Prepared::Invalid(what),
        }
    }

    fn get(&self) -> Result<HeaderValue, AuthError> {
        match self {
            Prepared::Ready(v) => Ok(v.clone()),
            Prepared::Invalid(what) => Err(AuthError::InvalidCredential { what }),
        }
    }
}
