//! The blocking [`OAuthClient`]: pysnow's `OAuthClient`, synchronous.

use std::fmt;
use std::ops::Deref;

use snow_core::secret::SecretString;
use snow_oauth::{OAuth, OAuthBuilder, TokenSet, TokenStore};
use snow_transport::{Proxy, TlsConfig, TransportBuilder};

use super::{Client, Runtime};
use crate::Error;

/// The blocking form of [`snow_client::OAuthClient`](crate::OAuthClient): a blocking
/// [`Client`] (it dereferences to one) whose tokens [`oauth`](Self::oauth) reaches.
///
/// ```no_run
/// use snow_client::blocking::Client;
/// use snow_client::oauth::TokenSet;
///
/// # fn demo(stored: TokenSet, save: fn(&TokenSet)) -> Result<(), snow_client::Error> {
/// let client = Client::oauth_client("acme", "client-id", "client-secret").token_updater(save).build()?;
/// let token = client.oauth().generate_token("admin", "s3cret")?; // a TokenSet to store
/// client.oauth().set_token(stored)?;                             // or start from a stored one
/// let current = client.oauth().token();                          // the cached token, no I/O
/// client.oauth().revoke()?;                                      // revoke and forget it
/// # let _ = (token, current); Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct OAuthClient {
    client: Client,
    oauth: OAuthHandle,
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

    /// The client alone.
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

/// The blocking form of [`snow_client::OAuthHandle`](crate::OAuthHandle).
#[derive(Clone)]
pub struct OAuthHandle {
    inner: crate::OAuthHandle,
    rt: Runtime,
}

impl fmt::Debug for OAuthHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthHandle")
            .field("inner", &self.inner)
            .finish()
    }
}

impl OAuthHandle {
    /// Gets a token with the password grant (pysnow's `generate_token`) and returns it.
    pub fn generate_token(
        &self,
        user: &str,
        password: impl Into<SecretString>,
    ) -> Result<TokenSet, Error> {
        self.rt.block_on(self.inner.generate_token(user, password))
    }

    /// Uses this token from now on (pysnow's `set_token`).
    pub fn set_token(&self, token: TokenSet) -> Result<(), Error> {
        self.rt.block_on(self.inner.set_token(token))
    }

    /// The current token set, without any I/O; `None` before the first one.
    pub fn token(&self) -> Option<TokenSet> {
        self.inner.token()
    }

    /// A usable token: the current one, or a new one if it has expired.
    pub fn fresh_token(&self) -> Result<TokenSet, Error> {
        self.rt.block_on(self.inner.fresh_token())
    }

    /// Renews the token now.
    pub fn refresh(&self) -> Result<TokenSet, Error> {
        self.rt.block_on(self.inner.refresh())
    }

    /// Revokes the current refresh and access tokens, then forgets them.
    pub fn revoke(&self) -> Result<(), Error> {
        self.rt.block_on(self.inner.revoke())
    }

    /// Forgets the current token.
    pub fn clear_token(&self) -> Result<(), Error> {
        self.rt.block_on(async {
            self.inner.clear_token().await;
            Ok(())
        })
    }

    /// The authenticator itself (snow-oauth's async type).
    pub fn authenticator(&self) -> &OAuth {
        self.inner.authenticator()
    }
}

/// The blocking form of [`snow_client::OAuthClientBuilder`](crate::OAuthClientBuilder):
/// the same settings, and [`build`](Self::build) gives a blocking [`OAuthClient`].
#[derive(Debug)]
#[must_use = "a builder does nothing until built"]
pub struct OAuthClientBuilder {
    inner: crate::OAuthClientBuilder,
}

impl From<crate::OAuthClientBuilder> for OAuthClientBuilder {
    fn from(inner: crate::OAuthClientBuilder) -> Self {
        Self { inner }
    }
}

impl OAuthClientBuilder {
    pub(crate) fn from_async(inner: crate::OAuthClientBuilder) -> Self {
        Self { inner }
    }

    /// See [`snow_client::OAuthClientBuilder::from_env`](crate::OAuthClientBuilder::from_env).
    pub fn from_env() -> Result<Self, Error> {
        Ok(crate::OAuthClientBuilder::from_env()?.into())
    }

    /// See [`snow_client::OAuthClientBuilder::from_env_with`](crate::OAuthClientBuilder::from_env_with).
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Ok(crate::OAuthClientBuilder::from_env_with(get)?.into())
    }

    fn map(self, f: impl FnOnce(crate::OAuthClientBuilder) -> crate::OAuthClientBuilder) -> Self {
        Self {
            inner: f(self.inner),
        }
    }

    super::delegate! { "OAuthClientBuilder";
        fn token_updater(updater: impl Fn(&TokenSet) + Send + Sync + 'static);
        fn token(token: TokenSet);
        fn token_store(store: impl TokenStore);
        fn password(user: impl Into<String>, password: impl Into<SecretString>);
        fn client_credentials();
        fn oauth(f: impl FnOnce(OAuthBuilder) -> OAuthBuilder + Send + 'static);
        fn transport(f: impl FnOnce(TransportBuilder) -> TransportBuilder + Send + 'static);
        fn proxy(proxy: Proxy);
        fn tls(tls: TlsConfig);
        fn default_param(name: impl Into<String>, value: impl Into<String>);
        fn default_header(name: impl AsRef<str>, value: impl AsRef<str>);
    }

    /// Builds the client and starts its runtime.
    pub fn build(self) -> Result<OAuthClient, Error> {
        let inner = self.inner.build()?;
        let oauth = inner.oauth().clone();
        let client = Client::from_async(inner.into_client())?;
        let rt = client.runtime().clone();
        Ok(OAuthClient {
            client,
            oauth: OAuthHandle { inner: oauth, rt },
        })
    }
}
