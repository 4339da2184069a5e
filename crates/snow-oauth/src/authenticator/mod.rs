//! [`OAuthAuthenticator`]: OAuth tokens in snow-core's credential cache, as an `Authenticator`.

mod builder;
mod source;

use std::fmt;

use async_trait::async_trait;
use secrecy::SecretString;
use snow_core::credential::{CredentialCache, CredentialEpoch};
use snow_core::http;
use snow_core::{AuthError, AuthRetry, Authenticator, HttpExchange, Instance};

pub use builder::OAuthBuilder;
pub(crate) use source::TokenSource;

use crate::{OAuthError, TokenSet};

/// Which token a request was authenticated with, recorded in the request's extensions by
/// [`OAuthAuthenticator`]: snow-core's [`CredentialEpoch`].
///
/// Every new access token gets a new epoch; the same access token issued again keeps its epoch.
/// When the instance answers `401`, the authenticator compares the request's epoch with the
/// cached one: only the first 401 for a given epoch triggers a refresh (and a token request that
/// began after the 401 counts as that refresh).
pub type TokenEpoch = CredentialEpoch;

/// OAuth 2 for ServiceNow as an [`Authenticator`]: puts `Authorization: Bearer <token>` on every
/// request, gets and refreshes the token as needed, and never stampedes the token endpoint.
///
/// Built with [`OAuth::builder`](crate::OAuth) (an alias of this type). Cloning is cheap and
/// clones share one cache: hand one clone to the transport, keep another to call
/// [`generate_token`](Self::generate_token) or [`revoke`](Self::revoke).
///
/// # The cache
///
/// The token lives in snow-core's [`CredentialCache`], which gives it a fast path, a single
/// flight of renewals, a [`TokenEpoch`] per token in each request's extensions, one refresh for
/// many `401`s and one failed refresh's error shared with its waiters. What snow-oauth adds:
///
/// - **When to renew**: a new access token `skew` before it expires (at most half its announced
///   lifetime before). ServiceNow answers a grant made within the access token's lifetime with
///   that same token, so when a renewal brings back the token already cached, it keeps its
///   epoch and is used until it has certainly expired (`expires_in` is rounded down, so one
///   second is added), then renewed. No renewal that a 401 did not force happens within one
///   second of the last token answer (which covers `expires_in: 0`). Under steady traffic that
///   is at most two renewals per access-token lifetime.
/// - **Renewal order**: the refresh-token grant if there is a refresh token; if the server
///   refuses it ([`OAuthError::InvalidGrant`]) and a password (or client credentials, or a JWT
///   key) is configured, that grant; else the error, and the dead refresh token is forgotten. A
///   refresh answer without a refresh token keeps the old one.
/// - **401 without a way to renew** (no refresh token, no grant): handed back to the caller.
/// - **Afterwards**: the token updater is called with the new token set (already in the cache,
///   so [`cached_token`](Self::cached_token) returns it), then the [`TokenStore`](crate::TokenStore)
///   saves it.
///
/// ```no_run
/// use snow_core::{HttpExchange, Instance};
/// use snow_oauth::OAuth;
///
/// # async fn f(exchange: impl HttpExchange) -> Result<(), snow_oauth::OAuthError> {
/// let instance = Instance::from_name("acme").expect("valid name");
/// let auth = OAuth::builder(&instance, exchange, "client-id", "client-secret")
///     .token_updater(|t| println!("new token: {t}")) // Display shows no token
///     .build()?;
/// let token = auth.generate_token("admin", "password").await?;
/// // Store `token` (it is serde-serialisable); hand `auth` to a transport.
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OAuthAuthenticator {
    cache: CredentialCache<TokenSource>,
}

/// The short name: `OAuth::builder(...)`.
pub type OAuth = OAuthAuthenticator;

impl fmt::Debug for OAuthAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthAuthenticator")
            .field("cache", &self.cache)
            .finish()
    }
}

impl OAuthAuthenticator {
    /// Start building an authenticator for `instance`, whose token calls go through `exchange`
    /// (snow-transport's `Transport` is one: it shares the instance's connector, TLS roots,
    /// proxy and timeouts), with the OAuth client id and secret of the instance's Application
    /// Registry entry.
    ///
    /// The token endpoint is `<instance base URL>/oauth_token.do` unless
    /// [`token_url`](OAuthBuilder::token_url) says otherwise.
    pub fn builder(
        instance: &Instance,
        exchange: impl HttpExchange,
        client_id: impl Into<String>,
        client_secret: impl Into<SecretString>,
    ) -> OAuthBuilder {
        OAuthBuilder::new(instance, exchange, client_id.into(), client_secret.into())
    }

    pub(crate) fn from_cache(cache: CredentialCache<TokenSource>) -> Self {
        OAuthAuthenticator { cache }
    }

    /// Get a token with the password grant (pysnow's `generate_token`), put it in the cache, call
    /// the updater and the store, and return it so the caller can keep it.
    ///
    /// The password is not kept: later refreshes use the refresh token. To let the authenticator
    /// fall back to the password when the refresh token is refused, configure it with
    /// [`password`](OAuthBuilder::password) instead.
    pub async fn generate_token(
        &self,
        username: &str,
        password: impl Into<SecretString>,
    ) -> Result<TokenSet, OAuthError> {
        let password = password.into();
        let source = self.cache.fetcher();
        let mut lock = self.cache.lock().await;
        let entry = lock
            .fetch_with(source.password(username, &password))
            .await?;
        Ok(entry.credential().clone())
    }

    /// A usable token: the cached one, or a new one (refreshed or granted) if it has expired.
    pub async fn token(&self) -> Result<TokenSet, OAuthError> {
        Ok(self.cache.get().await?.credential().clone())
    }

    /// The cached token set, usable or not, without any I/O.
    pub fn cached_token(&self) -> Option<TokenSet> {
        self.cache.cached().map(|c| c.credential().clone())
    }

    /// Renew the token now (refresh grant, or the configured grant), whatever its expiry.
    pub async fn refresh(&self) -> Result<TokenSet, OAuthError> {
        Ok(self.cache.renew().await?.credential().clone())
    }

    /// Replace the cached token (pysnow's `set_token`), for instance with one loaded from your
    /// own storage. The updater and the store are called as for any new token.
    ///
    /// Fails with [`OAuthError::Protocol`] if the access token cannot be put in a header.
    pub async fn set_token(&self, token: TokenSet) -> Result<(), OAuthError> {
        source::check_header(&token)?;
        self.cache.lock().await.set(source::given(token)).await;
        Ok(())
    }

    /// Forget the cached token (the store is not touched). The next request gets a new one if
    /// a grant is configured, or fails with [`OAuthError::MissingToken`].
    pub async fn clear_token(&self) {
        self.cache.lock().await.clear();
    }

    /// Revoke one token, access or refresh, with ServiceNow's
    /// `GET /oauth_revoke_token.do?token=...` (which needs no authentication). The cache is not
    /// touched; see [`revoke`](Self::revoke).
    pub async fn revoke_token(&self, token: &SecretString) -> Result<(), OAuthError> {
        self.cache.fetcher().revoke(token).await
    }

    /// Revoke the cached refresh token and access token (as far as they exist), then forget them.
    pub async fn revoke(&self) -> Result<(), OAuthError> {
        let mut lock = self.cache.lock().await;
        if let Some(cached) = lock.current() {
            let token = cached.credential();
            if let Some(rt) = token.refresh_token() {
                self.revoke_token(rt).await?;
            }
            if !token.access_token_str().is_empty() {
                self.revoke_token(token.access_token()).await?;
            }
        }
        lock.clear();
        Ok(())
    }
}

#[async_trait]
impl Authenticator for OAuthAuthenticator {
    async fn authenticate(&self, request: &mut http::request::Parts) -> Result<(), AuthError> {
        self.cache.authenticate(request).await
    }

    fn authenticate_now(
        &self,
        request: &mut http::request::Parts,
    ) -> Option<Result<(), AuthError>> {
        self.cache.authenticate_now(request)
    }

    async fn on_unauthorized(
        &self,
        request: &http::request::Parts,
        response: &http::response::Parts,
    ) -> Result<AuthRetry, AuthError> {
        self.cache.on_unauthorized(request, response).await
    }
}
