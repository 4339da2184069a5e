//! Putting a cached credential on a request: [`ApplyCredential`] and [`HeaderCredential`].

use std::borrow::Cow;
use std::fmt;

use http::header::{AUTHORIZATION, HeaderName};

use super::Credential;
use crate::{AuthError, insert_credential};

/// Puts a cached credential on a request head: the "sign" step, kept apart from getting the
/// credential. It runs on every attempt, so it should be cheap and must not block.
///
/// Closures `Fn(&C, &mut http::request::Parts) -> Result<(), AuthError>` implement it:
///
/// ```
/// use snow_core::credential::ApplyCredential;
/// use snow_core::secret::{ExposeSecret, SecretString};
/// use snow_core::{http, insert_credential, AuthError};
///
/// // A gateway that wants the token in its own header, with a key id beside it.
/// let apply = |token: &SecretString, request: &mut http::request::Parts| -> Result<(), AuthError> {
///     request.headers.insert("x-key-id", http::HeaderValue::from_static("k1"));
///     insert_credential(&mut request.headers, "x-gateway-token", token.expose_secret(), "token")
/// };
/// let (mut parts, ()) = http::Request::get("https://acme.service-now.com/").body(()).unwrap().into_parts();
/// apply.apply(&SecretString::from("t"), &mut parts)?;
/// assert!(parts.headers["x-gateway-token"].is_sensitive());
/// # Ok::<(), AuthError>(())
/// ```
pub trait ApplyCredential<C>: Send + Sync + 'static {
    /// Put `credential` on `request` (headers marked sensitive, see [`insert_credential`]).
    fn apply(&self, credential: &C, request: &mut http::request::Parts) -> Result<(), AuthError>;
}

impl<C, F> ApplyCredential<C> for F
where
    F: Fn(&C, &mut http::request::Parts) -> Result<(), AuthError> + Send + Sync + 'static,
{
    fn apply(&self, credential: &C, request: &mut http::request::Parts) -> Result<(), AuthError> {
        self(credential, request)
    }
}

/// Puts a credential's [`secret`](Credential::secret) in one header, marked sensitive, after a
/// fixed prefix: `Authorization: Bearer <secret>` ([`bearer`](Self::bearer), the cache's
/// default) or any other header.
///
/// ```
/// use snow_core::credential::{ApplyCredential, HeaderCredential};
/// use snow_core::secret::SecretString;
/// use snow_core::{http, AuthError};
///
/// let vault = HeaderCredential::named(http::HeaderName::from_static("x-vault-token"));
/// let (mut parts, ()) = http::Request::get("https://acme.service-now.com/").body(()).unwrap().into_parts();
/// vault.apply(&SecretString::from("s.abc"), &mut parts)?;
/// assert_eq!(parts.headers["x-vault-token"], "s.abc");
/// assert!(parts.headers["x-vault-token"].is_sensitive());
/// # Ok::<(), AuthError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderCredential {
    name: HeaderName,
    prefix: Cow<'static, str>,
}

impl HeaderCredential {
    /// `Authorization: Bearer <secret>`.
    pub fn bearer() -> Self {
        HeaderCredential {
            name: AUTHORIZATION,
            prefix: Cow::Borrowed("Bearer "),
        }
    }

    /// `<name>: <secret>`.
    pub fn named(name: HeaderName) -> Self {
        HeaderCredential {
            name,
            prefix: Cow::Borrowed(""),
        }
    }

    /// Put `prefix` before the secret (`"Token "`, say).
    pub fn prefix(mut self, prefix: impl Into<Cow<'static, str>>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The header it sets.
    pub fn name(&self) -> &HeaderName {
        &self.name
    }
}

impl Default for HeaderCredential {
    /// [`HeaderCredential::bearer`].
    fn default() -> Self {
        HeaderCredential::bearer()
    }
}

impl<C: Credential> ApplyCredential<C> for HeaderCredential {
    fn apply(&self, credential: &C, request: &mut http::request::Parts) -> Result<(), AuthError> {
        let secret = credential.secret();
        if secret.is_empty() {
            return Err(AuthError::missing("the credential is empty"));
        }
        let name = self.name.clone();
        if self.prefix.is_empty() {
            insert_credential(&mut request.headers, name, secret, "credential")
        } else {
            let value = format!("{}{secret}", self.prefix);
            insert_credential(&mut request.headers, name, &value, "credential")
        }
    }
}

/// How a cache applies its credential.
pub(crate) enum Apply<C> {
    Header(HeaderCredential),
    Custom(Box<dyn ApplyCredential<C>>),
}

impl<C: Credential> Apply<C> {
    pub(crate) fn apply(
        &self,
        credential: &C,
        request: &mut http::request::Parts,
    ) -> Result<(), AuthError> {
        match self {
            Apply::Header(h) => h.apply(credential, request),
            Apply::Custom(c) => c.apply(credential, request),
        }
    }
}

impl<C> fmt::Debug for Apply<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Apply::Header(h) => h.fmt(f),
            Apply::Custom(_) => f.write_str("Custom(ApplyCredential)"),
        }
    }
}
