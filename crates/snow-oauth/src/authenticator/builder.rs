//! [`OAuthBuilder`]: configuration of an [`OAuthAuthenticator`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use snow_core::credential::{CredentialCache, SameCredential};
use snow_core::{HttpExchange, Instance};

use super::TokenSource;
use super::source::{self, Updater};
use crate::endpoint::{Endpoint, EndpointConfig, Grant};
use crate::{ClientAuth, JwtBearer, OAuthAuthenticator, OAuthError, TokenSet, TokenStore};

/// `expires_in` counts whole seconds, rounded down: a token said to expire in `n` seconds may
/// still be valid for up to one second more.
const EXPIRES_IN_PRECISION: Duration = Duration::from_secs(1);

/// Builds an [`OAuthAuthenticator`]; start with [`OAuth::builder`](crate::OAuth), which takes
/// the instance, the HTTP exchange token calls go through, and the client id and secret.
///
/// Choose at most one grant for getting a token when there is none ([`password`](Self::password),
/// [`client_credentials`](Self::client_credentials), [`jwt_bearer`](Self::jwt_bearer)); the last
/// one set wins. Without one, the authenticator works from a token you give it
/// ([`token`](Self::token), [`refresh_token`](Self::refresh_token), a [`TokenStore`], or
/// [`generate_token`](OAuthAuthenticator::generate_token)) and refreshes it while the refresh
/// token lives.
#[must_use = "a builder does nothing until built"]
pub struct OAuthBuilder {
    base_url: String,
    client_id: String,
    client_secret: SecretString,
    exchange: Arc<dyn HttpExchange>,
    grant: Option<Grant>,
    initial: Option<TokenSet>,
    store: Option<Arc<dyn TokenStore>>,
    updater: Option<Updater>,
    skew: Duration,
    client_auth: ClientAuth,
    token_url: Option<String>,
    revoke_url: Option<String>,
    scopes: Vec<String>,
}

impl fmt::Debug for OAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthBuilder")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("exchange", &self.exchange)
            .field("grant", &self.grant)
            .field("initial", &self.initial)
            .field("store", &self.store)
            .field(
                "token_updater",
                &self.updater.as_ref().map(|_| "Fn(&TokenSet)"),
            )
            .field("skew", &self.skew)
            .field("client_auth", &self.client_auth)
            .field("token_url", &self.token_url)
            .field("revoke_url", &self.revoke_url)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl OAuthBuilder {
    /// The default expiry skew: a token is renewed 60 s before it expires.
    pub const DEFAULT_SKEW: Duration = Duration::from_secs(60);

    pub(crate) fn new(
        instance: &Instance,
        exchange: impl HttpExchange,
        client_id: String,
        client_secret: SecretString,
    ) -> Self {
        OAuthBuilder {
            base_url: instance.base_url(),
            client_id,
            client_secret,
            exchange: Arc::new(exchange),
            grant: None,
            initial: None,
            store: None,
            updater: None,
            skew: Self::DEFAULT_SKEW,
            client_auth: ClientAuth::default(),
            token_url: None,
            revoke_url: None,
            scopes: Vec::new(),
        }
    }

    /// Use the password grant for the user, and keep the password to fall back on when the
    /// refresh token is refused.
    pub fn password(
        mut self,
        username: impl Into<String>,
        password: impl Into<SecretString>,
    ) -> Self {
        self.grant = Some(Grant::Password {
            username: username.into(),
            password: password.into(),
        });
        self
    }

    /// Use the client-credentials grant (ServiceNow Washington DC and later, with
    /// `glide.oauth.inbound.client.credential.grant_type.enabled`).
    pub fn client_credentials(mut self) -> Self {
        self.grant = Some(Grant::ClientCredentials);
        self
    }

    /// Use the JWT-bearer grant, with assertions built and signed by `jwt`.
    pub fn jwt_bearer(mut self, jwt: JwtBearer) -> Self {
        self.grant = Some(Grant::JwtBearer(Box::new(jwt)));
        self
    }

    /// Start from this token set (one you stored earlier). If it has expired, the first request
    /// refreshes it.
    pub fn token(mut self, token: TokenSet) -> Self {
        self.initial = Some(token);
        self
    }

    /// Start from a refresh token alone: the first request refreshes it. No password needed.
    pub fn refresh_token(mut self, refresh_token: impl Into<SecretString>) -> Self {
        self.initial = Some(TokenSet::from_refresh_token(refresh_token));
        self
    }

    /// Load the token from `store` when one is first needed (unless [`token`](Self::token) gave
    /// one), and save every new token set to it.
    pub fn token_store(mut self, store: impl TokenStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Like [`token_store`](Self::token_store), for a store already in an `Arc`.
    pub fn token_store_arc(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Call `updater` with every new token set, after it is in the cache and before the store
    /// saves it (pysnow's `token_updater`). It runs while other token requests wait, so keep it
    /// short; it must not call back into this authenticator's token methods.
    pub fn token_updater(mut self, updater: impl Fn(&TokenSet) + Send + Sync + 'static) -> Self {
        self.updater = Some(Arc::new(updater));
        self
    }

    /// Renew a token this long before it expires (default 60 s). For a token the endpoint has
    /// just issued, the skew is capped at half its lifetime. If that early renewal brings back
    /// the same access token (ServiceNow does so within a token's lifetime), the token is used
    /// until it expires and renewed then; see [`OAuthAuthenticator`]'s "The cache".
    pub fn expiry_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// How to send the client id and secret (form body by default).
    pub fn client_auth(mut self, client_auth: ClientAuth) -> Self {
        self.client_auth = client_auth;
        self
    }

    /// Use another token endpoint than `<instance>/oauth_token.do`.
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// Use another revocation endpoint than `<instance>/oauth_revoke_token.do`.
    pub fn revoke_url(mut self, url: impl Into<String>) -> Self {
        self.revoke_url = Some(url.into());
        self
    }

    /// Ask for a scope (ServiceNow grants `useraccount` whatever is asked; other servers differ).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Build the authenticator.
    ///
    /// Fails with [`OAuthError::Config`] with a malformed token or revocation URL, and with
    /// [`OAuthError::Protocol`] if the initial token cannot be put in a header.
    pub fn build(self) -> Result<OAuthAuthenticator, OAuthError> {
        let token_url = self
            .token_url
            .unwrap_or_else(|| format!("{}/oauth_token.do", self.base_url));
        let revoke_url = self
            .revoke_url
            .unwrap_or_else(|| format!("{}/oauth_revoke_token.do", self.base_url));
        let revoke_url = url::Url::parse(&revoke_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| OAuthError::Config {
                message: "the revocation URL is not a valid http or https URL".into(),
            })?;
        let endpoint = Endpoint::new(
            EndpointConfig {
                token_url,
                client_id: self.client_id,
                client_secret: self.client_secret,
                client_auth: self.client_auth,
                scopes: self.scopes,
            },
            self.exchange,
        )?;
        let tokens = TokenSource::new(endpoint, self.grant, revoke_url, self.updater, self.store);
        let mut cache = CredentialCache::builder(tokens)
            .expiry_skew(self.skew)
            .same_credential(SameCredential::KeepsExpiry {
                precision: EXPIRES_IN_PRECISION,
            });
        if let Some(token) = self.initial {
            source::check_header(&token)?;
            cache = cache.credential(source::given(token));
        }
        Ok(OAuthAuthenticator::from_cache(cache.build()))
    }
}
