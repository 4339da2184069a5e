//! The [`Authenticator`] contract.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use http::header::{HeaderName, HeaderValue};

/// A boxed error, as used by tower and hyper.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a transport should do after the instance answered `401 Unauthorized`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthRetry {
    /// Give up: return the 401 to the caller (Basic auth, API keys, static tokens).
    No,
    /// Fresh credentials are available: authenticate the request again and send it once more.
    /// Transports replay at most once, and only requests whose body can be replayed.
    Replay,
}

/// Puts credentials on requests to a ServiceNow instance.
///
/// Implementations are shared between concurrent requests (`Send + Sync`), held as
/// `Arc<dyn Authenticator>` by transports (the blanket impls for [`Arc`] and [`Box`] make any
/// `A: Authenticator` and `dyn Authenticator` interchangeable), and must keep secrets out of
/// their `Debug` output.
///
/// Getting a credential (which may be async, cached and shared) is kept apart from applying it:
/// [`authenticate`](Self::authenticate) should be cheap when a credential is cached, and only set
/// headers (marked sensitive, see [`insert_credential`]) or query parameters.
///
/// # Example: an HMAC-style header authenticator written against snow-core alone
///
/// ```
/// use snow_core::{async_trait, http, insert_credential, AuthError, Authenticator};
/// use snow_core::secret::{ExposeSecret, SecretString};
///
/// #[derive(Debug)]
/// struct Signed { key_id: String, key: SecretString }
///
/// #[async_trait]
/// impl Authenticator for Signed {
///     async fn authenticate(&self, req: &mut http::request::Parts) -> Result<(), AuthError> {
///         // A toy signature; a real one would use an HMAC crate.
///         let sig = format!("{}:{}:{}", self.key_id, req.method, self.key.expose_secret().len());
///         insert_credential(&mut req.headers, "x-signature", &sig, "signature")
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let auth: std::sync::Arc<dyn Authenticator> =
///     std::sync::Arc::new(Signed { key_id: "k1".into(), key: SecretString::from("s3cret") });
/// let (mut parts, ()) = http::Request::get("https://acme.service-now.com/").body(()).unwrap().into_parts();
/// auth.authenticate(&mut parts).await.unwrap();
/// assert!(parts.headers["x-signature"].is_sensitive());
/// assert!(!format!("{auth:?}").contains("s3cret"));
/// # });
/// ```
#[async_trait]
pub trait Authenticator: Send + Sync + fmt::Debug + 'static {
    /// Put credentials on a request that is about to be sent.
    ///
    /// Called once per attempt (retries call it again), with the request's head. The authenticator
    /// may also record in `request.extensions` which credential it used, to recognise it again in
    /// [`on_unauthorized`](Self::on_unauthorized).
    async fn authenticate(&self, request: &mut http::request::Parts) -> Result<(), AuthError>;

    /// The instance answered `401` to a request this authenticator authenticated.
    ///
    /// Return [`AuthRetry::Replay`] if fresh credentials are now available (the transport then calls
    /// [`authenticate`](Self::authenticate) again and replays once), or [`AuthRetry::No`] to hand
    /// the 401 to the caller. When many requests fail at once with the same stale credential, an
    /// implementation should renew it once, not once per request. The default never replays.
    async fn on_unauthorized(
        &self,
        request: &http::request::Parts,
        response: &http::response::Parts,
    ) -> Result<AuthRetry, AuthError> {
        let _ = (request, response);
        Ok(AuthRetry::No)
    }
}

#[async_trait]
impl<A: Authenticator + ?Sized> Authenticator for Arc<A> {
    async fn authenticate(&self, request: &mut http::request::Parts) -> Result<(), AuthError> {
        (**self).authenticate(request).await
    }
    async fn on_unauthorized(
        &self,
        request: &http::request::Parts,
        response: &http::response::Parts,
    ) -> Result<AuthRetry, AuthError> {
        (**self).on_unauthorized(request, response).await
    }
}

#[async_trait]
impl<A: Authenticator + ?Sized> Authenticator for Box<A> {
    async fn authenticate(&self, request: &mut http::request::Parts) -> Result<(), AuthError> {
        (**self).authenticate(request).await
    }
    async fn on_unauthorized(
        &self,
        request: &http::request::Parts,
        response: &http::response::Parts,
    ) -> Result<AuthRetry, AuthError> {
        (**self).on_unauthorized(request, response).await
    }
}

/// Sends requests without credentials (public endpoints, or a custom inner service that
/// authenticates by itself, e.g. with a client certificate).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

#[async_trait]
impl Authenticator for NoAuth {
    async fn authenticate(&self, _request: &mut http::request::Parts) -> Result<(), AuthError> {
        Ok(())
    }
}

/// Insert a credential header, marked sensitive (so HTTP/2 never indexes it and loggers that honour
/// the flag hide it). `what` names the credential in the error if the value cannot be a header
/// (it contains a newline, say); the value itself is never echoed.
///
/// ```
/// # use snow_core::{http, insert_credential};
/// let mut headers = http::HeaderMap::new();
/// insert_credential(&mut headers, "authorization", "Bearer abc", "token").unwrap();
/// assert!(headers["authorization"].is_sensitive());
/// let err = insert_credential(&mut headers, "authorization", "Bearer a\nb", "token").unwrap_err();
/// assert!(!err.to_string().contains("a\nb"));
/// ```
pub fn insert_credential(
    headers: &mut http::HeaderMap,
    name: impl TryInto<HeaderName>,
    value: &str,
    what: &'static str,
) -> Result<(), AuthError> {
    let name = name.try_into().map_err(|_| AuthError::InvalidCredential {
        what: "header name",
    })?;
    let mut value =
        HeaderValue::from_str(value).map_err(|_| AuthError::InvalidCredential { what })?;
    value.set_sensitive(true);
    headers.insert(name, value);
    Ok(())
}

/// Why credentials could not be put on a request.
///
/// One error type for every authenticator, so that retry policies decide with
/// [`is_transient`](Self::is_transient) without knowing the kind of auth. No variant's message
/// contains a password, secret or token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credential is available and the authenticator has no way to obtain one.
    #[error("no credential available: {0}")]
    MissingCredential(Cow<'static, str>),

    /// A credential cannot be carried in an HTTP header (for example it contains a newline).
    #[error("the {what} cannot be sent: it contains characters an HTTP header cannot carry")]
    InvalidCredential {
        /// Which credential ("password", "token", "API key", ...).
        what: &'static str,
    },

    /// The token endpoint refused to issue a token (wrong password, wrong client secret,
    /// disabled grant). ServiceNow answers these with `error=server_error`,
    /// `error_description=access_denied`.
    #[error("the token endpoint refused the request{}: {error}{}",
        status.map(|s| format!(" (HTTP {s})")).unwrap_or_default(),
        description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Rejected {
        /// HTTP status of the token response, if one was received.
        status: Option<u16>,
        /// The OAuth `error` code.
        error: String,
        /// The OAuth `error_description`, if any.
        description: Option<String>,
    },

    /// The grant used (a refresh token, an assertion) is invalid, expired or revoked.
    #[error("the grant was refused as invalid or expired (invalid_grant){}",
        description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    InvalidGrant {
        /// The OAuth `error_description`, if any.
        description: Option<String>,
    },

    /// The identity provider could not be reached or failed (network, timeout, 5xx); trying later may work.
    #[error("the token endpoint is unavailable: {message}")]
    Unavailable {
        /// What failed, without any secret.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },

    /// The identity provider answered with something that is not a valid token response.
    #[error("the token endpoint sent an unexpected response: {message}")]
    Protocol {
        /// What was wrong, without the body (which may hold a token).
        message: String,
    },

    /// An authenticator-specific failure.
    #[error("{source}")]
    Other {
        /// The underlying error.
        source: BoxError,
        /// Whether trying again later may succeed.
        transient: bool,
    },
}

impl AuthError {
    /// Whether trying again later may succeed (network trouble, a 5xx from the token endpoint),
    /// as opposed to a permanent refusal (wrong password, revoked grant).
    pub fn is_transient(&self) -> bool {
        match self {
            AuthError::Unavailable { .. } => true,
            AuthError::Other { transient, .. } => *transient,
            _ => false,
        }
    }

    /// Wrap an authenticator-specific error.
    pub fn other(source: impl Into<BoxError>, transient: bool) -> Self {
        AuthError::Other {
            source: source.into(),
            transient,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fixed(&'static str);

    #[async_trait]
    impl Authenticator for Fixed {
        async fn authenticate(&self, r: &mut http::request::Parts) -> Result<(), AuthError> {
            insert_credential(&mut r.headers, http::header::AUTHORIZATION, self.0, "token")
        }
    }

    fn parts() -> http::request::Parts {
        http::Request::get("http://h/")
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[tokio::test]
    async fn blanket_impls_and_object_safety() {
        let a: Arc<dyn Authenticator> = Arc::new(Fixed("x"));
        let b: Box<dyn Authenticator> = Box::new(Fixed("y"));
        let c = Arc::new(Box::new(Fixed("z")));
        for (auth, want) in [(&a as &dyn Authenticator, "x"), (&b, "y"), (&c, "z")] {
            let mut p = parts();
            auth.authenticate(&mut p).await.unwrap();
            assert_eq!(p.headers["authorization"], want);
            let resp = http::Response::builder()
                .status(401)
                .body(())
                .unwrap()
                .into_parts()
                .0;
            assert_eq!(
                auth.on_unauthorized(&p, &resp).await.unwrap(),
                AuthRetry::No
            );
        }
        let mut p = parts();
        NoAuth.authenticate(&mut p).await.unwrap();
        assert!(p.headers.is_empty());
    }

    #[test]
    fn transience() {
        assert!(
            AuthError::Unavailable {
                message: "x".into(),
                source: None
            }
            .is_transient()
        );
        assert!(AuthError::other("x", true).is_transient());
        assert!(!AuthError::other("x", false).is_transient());
        assert!(!AuthError::InvalidGrant { description: None }.is_transient());
        let r = AuthError::Rejected {
            status: Some(401),
            error: "server_error".into(),
            description: Some("access_denied".into()),
        };
        assert!(!r.is_transient());
        assert_eq!(
            r.to_string(),
            "the token endpoint refused the request (HTTP 401): server_error: access_denied"
        );
    }
}
