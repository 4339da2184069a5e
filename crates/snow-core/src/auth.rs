//! The [`Authenticator`] contract.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use http::header::{HeaderName, HeaderValue};

use crate::AuthError;

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

    /// Whether [`on_unauthorized`](Self::on_unauthorized) can ever answer
    /// [`AuthRetry::Replay`]: `true` unless overridden. An authenticator whose credential cannot
    /// be renewed (a fixed password, key or token) returns `false`; the transport then keeps no
    /// copy of a request for a replay and hands a 401 straight to the caller, without calling
    /// `on_unauthorized`.
    ///
    /// ```
    /// use snow_core::{Authenticator, NoAuth};
    /// assert!(!NoAuth.can_replay());
    /// ```
    fn can_replay(&self) -> bool {
        true
    }

    /// Put credentials on a request without waiting, when they are at hand: `Some` with what
    /// [`authenticate`](Self::authenticate) would return, or `None` (the default) when getting
    /// them may have to wait (a token to fetch or renew). The transport calls `authenticate`
    /// after a `None`, so an authenticator that returns `None` loses nothing but speed.
    ///
    /// An authenticator whose credential is fixed (a password, key or token) or cached returns
    /// `Some`: the transport then applies it without setting up a future for the credential.
    /// With `Some`, what it does to the request must be what `authenticate` does; with `None`,
    /// it must leave the request untouched, since `authenticate` runs next on the same head.
    ///
    /// ```
    /// use snow_core::{Authenticator, NoAuth, http};
    /// let (mut parts, ()) = http::Request::get("https://acme.service-now.com/").body(()).unwrap().into_parts();
    /// assert!(matches!(NoAuth.authenticate_now(&mut parts), Some(Ok(()))));
    /// ```
    fn authenticate_now(
        &self,
        request: &mut http::request::Parts,
    ) -> Option<Result<(), AuthError>> {
        let _ = request;
        None
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
    fn can_replay(&self) -> bool {
        (**self).can_replay()
    }
    fn authenticate_now(
        &self,
        request: &mut http::request::Parts,
    ) -> Option<Result<(), AuthError>> {
        (**self).authenticate_now(request)
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
    fn can_replay(&self) -> bool {
        (**self).can_replay()
    }
    fn authenticate_now(
        &self,
        request: &mut http::request::Parts,
    ) -> Option<Result<(), AuthError>> {
        (**self).authenticate_now(request)
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
    fn can_replay(&self) -> bool {
        false
    }
    fn authenticate_now(
        &self,
        _request: &mut http::request::Parts,
    ) -> Option<Result<(), AuthError>> {
        Some(Ok(()))
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
}
