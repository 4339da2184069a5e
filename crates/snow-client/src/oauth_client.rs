//! [`OAuthClient`]: a [`Client`] authenticated with OAuth 2, with its token calls in reach
//! ([`OAuthHandle`]): pysnow's `OAuthClient`, `generate_token`, `set_token` and `token_updater`.
//!
//! ```no_run
//! use snow_client::{Client, oauth::TokenSet};
//!
//! # async fn demo(stored: TokenSet, save: fn(&TokenSet)) -> Result<(), snow_client::Error> {
//! let client = Client::oauth_client("acme", "client-id", "client-secret").token_updater(save).build()?;
//! let token = client.oauth().generate_token("admin", "s3cret").await?; // a TokenSet to store
//! client.oauth().set_token(stored).await?;                             // or start from a stored one
//! let current = client.oauth().token();                                // the cached token, no I/O
//! client.oauth().revoke().await?;                                      // revoke and forget it
//! # let _ = (token, current); Ok(()) }
//! ```

use std::fmt;
use std::ops::Deref;

use snow_core::secret::SecretString;
use snow_oauth::{OAuth, OAuthBuilder, TokenSet, TokenStore};
use snow_transport::{Proxy, TlsConfig, TransportBuilder};

use crate::builder::ClientBuilder;
use crate::client::Client;
use crate::{ConfigError, Error};

/// One OAuth setting, applied when the client is built.
pub(crate) type OAuthStep = Box<dyn FnOnce(OAuthBuilder) -> OAuthBuilder + Send>;

/// The OAuth client and what to configure its authenticator with.
pub(crate) struct OAuthSettings {
    client_id: String,
    client_secret: SecretString,
    steps: Vec<OAuthStep>,
}

impl OAuthSettings {
    pub(crate) fn new(client_id: String, client_secret: SecretString) -> Self {
        Self {
            client_id,
            client_secret,
            steps: Vec::new(),
        }
    }

    pub(crate) fn step(&mut self, f: impl FnOnce(OAuthBuilder) -> OAuthBuilder + Send + 'static) {
        self.steps.push(Box::new(f));
    }
}

impl fmt::Debug for OAuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthSettings")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("settings", &self.steps.len())
            .finish()
    }
}

/// A [`Client`] authenticated with OAuth 2 whose tokens you can reach: [`oauth`](Self::oauth)
/// generates, sets, reads, refreshes and revokes them. It dereferences to [`Client`], so
/// tables, lists, attachments and everything else work as on any client (and `&OAuthClient`
/// goes wherever a `&Client` does).
///
/// Built with [`Client::oauth_client`]. The token calls (`/oauth_token.do`,
/// `/oauth_revoke_token.do`) go through the client's own transport: the same TLS roots,
/// client certificate, proxy, timeouts and connection pool as the API calls. The token endpoint
/// comes from the instance, so there is nothing to forget wiring.
///
/// Requests renew the token by themselves: before it expires, and once after a `401`, with the
/// refresh token (then the password, if one was configured with
/// [`OAuthClientBuilder::password`]). Every new token goes to the token updater.
#[derive(Clone)]
pub struct OAuthClient {
    client: Client,
    oauth: OAuthHandle,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client", &self.client)
            .field("oauth", &self.oauth)
            .finish()
    }
}

impl OAuthClient {
    /// The token calls: generate, set, read, refresh, revoke.
    pub fn oauth(&self) -> &OAuthHandle {
        &self.oauth
    }

    /// The client (also reachable through `Deref`).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The client alone; the tokens stay in reach of clones of [`oauth`](Self::oauth).
    pub fn into_client(self) -> Client {
        self.client
    }
}

impl Deref for OAuthClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl From<OAuthClient> for Client {
    fn from(c: OAuthClient) -> Client {
        c.client
    }
}

/// The token calls of an [`OAuthClient`]. Cheap to clone; clones share the token.
///
/// Errors are the client's [`Error`], as for any other call: a refused grant is
/// [`Error::Auth`] (with snow-oauth's [`OAuthError`](snow_oauth::OAuthError) as its source),
/// a hibernating developer instance is [`Error::InstanceUnavailable`] with `hibernating: true`.
#[derive(Clone)]
pub struct OAuthHandle {
    auth: OAuth,
}

impl fmt::Debug for OAuthHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthHandle")
            .field("auth", &self.auth)
            .finish()
    }
}

impl OAuthHandle {
    /// Gets a token with the password grant (pysnow's `generate_token`), caches it, calls the
    /// token updater and the store, and returns it so you can keep it. The password is not
    /// kept: later renewals use the refresh token.
    pub async fn generate_token(
        &self,
        user: &str,
        password: impl Into<SecretString>,
    ) -> Result<TokenSet, Error> {
        Ok(self.auth.generate_token(user, password).await?)
    }

    /// Uses this token from now on (pysnow's `set_token`), for instance one stored earlier; if
    /// it has expired, the next request refreshes it. The token updater and the store are
    /// called as for any new token.
    pub async fn set_token(&self, token: TokenSet) -> Result<(), Error> {
        Ok(self.auth.set_token(token).await?)
    }

    /// The current token set (pysnow's `token`), usable or not, without any I/O; `None`
    /// before the first one.
    pub fn token(&self) -> Option<TokenSet> {
        self.auth.cached_token()
    }

    /// A usable token: the current one, or a new one (refreshed, or granted) if it has expired.
    pub async fn fresh_token(&self) -> Result<TokenSet, Error> {
        Ok(self.auth.token().await?)
    }

    /// Renews the token now, whatever its expiry.
    pub async fn refresh(&self) -> Result<TokenSet, Error> {
        Ok(self.auth.refresh().await?)
    }

    /// Revokes the current refresh and access tokens on the instance, then forgets them.
    pub async fn revoke(&self) -> Result<(), Error> {
        Ok(self.auth.revoke().await?)
    }

    /// Forgets the current token (the store is not touched).
    pub async fn clear_token(&self) {
        self.auth.clear_token().await;
    }

    /// The authenticator itself (snow-oauth's type, with its own error type).
    pub fn authenticator(&self) -> &OAuth {
        &self.auth
    }
}

/// Builds an [`OAuthClient`]: start with [`Client::oauth_client`] (or
/// [`ClientBuilder::oauth`]), add what you need, then [`build`](Self::build).
///
/// Without a grant, the client works from a token you give it ([`token`](Self::token),
/// [`OAuthHandle::set_token`], [`OAuthHandle::generate_token`], a [token
/// store](Self::token_store)) and refreshes it while its refresh token lives: pysnow's flow.
#[must_use = "a builder does nothing until built"]
pub struct OAuthClientBuilder {
    base: ClientBuilder,
    settings: OAuthSettings,
}

impl fmt::Debug for OAuthClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClientBuilder")
            .field("base", &self.base)
            .field("settings", &self.settings)
            .finish()
    }
}

impl OAuthClientBuilder {
    pub(crate) fn new(base: ClientBuilder, client_id: String, client_secret: SecretString) -> Self {
        Self::with_settings(base, OAuthSettings::new(client_id, client_secret))
    }

    pub(crate) fn with_settings(mut base: ClientBuilder, settings: OAuthSettings) -> Self {
        base.auth = None;
        base.oauth = None;
        Self { base, settings }
    }

    fn step(mut self, f: impl FnOnce(OAuthBuilder) -> OAuthBuilder + Send + 'static) -> Self {
        self.settings.step(f);
        self
    }

    /// Calls `updater` with every new token set (pysnow's `token_updater`), after it is in
    /// use. It runs while other token requests wait: keep it short, and do not call the
    /// client's token methods from it.
    pub fn token_updater(self, updater: impl Fn(&TokenSet) + Send + Sync + 'static) -> Self {
        self.step(move |b| b.token_updater(updater))
    }

    /// Starts from this token set (one you stored); if it has expired, the first request
    /// refreshes it.
    pub fn token(self, token: TokenSet) -> Self {
        self.step(move |b| b.token(token))
    }

    /// Loads the token from `store` when one is first needed (unless [`token`](Self::token)
    /// gave one), and saves every new token set to it (`snow_client::oauth::FileTokenStore`
    /// keeps it in a file with mode `0600`).
    pub fn token_store(self, store: impl TokenStore) -> Self {
        self.step(move |b| b.token_store(store))
    }

    /// Gets tokens with the password grant when there is none, and falls back to it when the
    /// refresh token is refused (the password is kept for that).
    pub fn password(self, user: impl Into<String>, password: impl Into<SecretString>) -> Self {
        let (user, password) = (user.into(), password.into());
        self.step(move |b| b.password(user, password))
    }

    /// Gets tokens with the client-credentials grant.
    pub fn client_credentials(self) -> Self {
        self.step(OAuthBuilder::client_credentials)
    }

    /// Any other setting of snow-oauth's [`OAuthBuilder`] (JWT bearer, expiry skew, client
    /// authentication, token URL, scope...). Several calls apply in order.
    pub fn oauth(self, f: impl FnOnce(OAuthBuilder) -> OAuthBuilder + Send + 'static) -> Self {
        self.step(f)
    }

    /// Any transport setting; see [`ClientBuilder::transport`].
    pub fn transport(
        mut self,
        f: impl FnOnce(TransportBuilder) -> TransportBuilder + Send + 'static,
    ) -> Self {
        self.base = self.base.transport(f);
        self
    }

    /// An HTTP CONNECT proxy for every call, token calls included.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.base = self.base.proxy(proxy);
        self
    }

    /// TLS settings, for token calls and API calls alike.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.base = self.base.tls(tls);
        self
    }

    /// A query parameter sent with every API request; see [`ClientBuilder::default_param`].
    pub fn default_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.base = self.base.default_param(name, value);
        self
    }

    /// A header sent with every API request; see [`ClientBuilder::default_header`].
    pub fn default_header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.base = self.base.default_header(name, value);
        self
    }

    /// Builds the client: one transport, whose token calls the authenticator makes and whose
    /// API calls it authenticates. Needs no async runtime. Fails with the first invalid
    /// setting (instance, defaults, TLS, proxy, a token URL, a stored token that cannot be
    /// sent).
    pub fn build(self) -> Result<OAuthClient, Error> {
        let (transport, defaults) = self.base.into_parts()?;
        let OAuthSettings {
            client_id,
            client_secret,
            steps,
        } = self.settings;
        let builder = OAuth::builder(
            transport.instance(),
            transport.clone(),
            client_id,
            client_secret,
        );
        let auth = steps
            .into_iter()
            .fold(builder, |b, step| step(b))
            .build()
            .map_err(|e| Error::Config(ConfigError::OAuth(e)))?;
        Ok(OAuthClient {
            client: Client::with_defaults(transport.with_auth(auth.clone()), defaults),
            oauth: OAuthHandle { auth },
        })
    }
}
