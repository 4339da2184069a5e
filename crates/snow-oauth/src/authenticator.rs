//! [`OAuthAuthenticator`]: the token cache, single-flight refresh, and the `Authenticator` impl.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use snow_core::http::{self, header};
use snow_core::{AuthError, AuthRetry, Authenticator, insert_credential};

use crate::builder::OAuthBuilder;
use crate::cache::{Cached, TokenCache, TokenEpoch};
use crate::grant::{Endpoint, Grant, Issued};
use crate::http::ExchangeClient;
use crate::{OAuthError, TokenSet, TokenStore};

/// The closure called with every new token set once it is in the cache.
pub(crate) type Updater = Arc<dyn Fn(&TokenSet) + Send + Sync + 'static>;

/// OAuth 2 for ServiceNow as an [`Authenticator`]: puts `Authorization: Bearer <token>` on every
/// request, gets and refreshes the token as needed, and never stampedes the token endpoint.
///
/// Built with [`OAuth::builder`](crate::OAuth) (an alias of this type). Cloning is cheap and
/// clones share one cache: hand one clone to the transport, keep another to call
/// [`generate_token`](Self::generate_token) or [`revoke`](Self::revoke).
///
/// # The cache
///
/// - **Fast path**: [`authenticate`](Authenticator::authenticate) reads the cached token under a
///   std `RwLock` (held for a pointer copy, never across I/O), checks its expiry with the skew,
///   and sets a sensitive `Authorization` header. It records the token's [`TokenEpoch`] in the
///   request's extensions.
/// - **When to renew**: a new access token `skew` before it expires (at most half its announced
///   lifetime before). ServiceNow answers a grant made within the access token's lifetime with
///   that same token, so when a renewal brings back the token already cached, it keeps its
///   epoch and is used until it has certainly expired (`expires_in` is rounded down, so one
///   second is added), then renewed. No renewal that a 401 did not force happens within one
///   second of the last token answer (which covers `expires_in: 0`). Under steady traffic that
///   is at most two renewals per access-token lifetime.
/// - **Slow path**: when there is no usable token, callers queue on one async gate. The first
///   one through makes the token request; the others, once through, find the new token and use
///   it. If that request failed, the callers that were waiting for it get the same error instead
///   of repeating it. So N concurrent requests with an expired token cause one refresh.
/// - **401**: [`on_unauthorized`](Authenticator::on_unauthorized) compares the request's epoch
///   with the cache's: if a newer token is there already, or a token request begun since the
///   401 has answered, it just asks for a replay; otherwise it renews the token, once, for all
///   the requests that failed with it. A 401 is never held back by the one-second interval.
/// - **Renewal order**: the refresh-token grant if there is a refresh token; if the server
///   refuses it ([`OAuthError::InvalidGrant`]) and a password (or client credentials, or a JWT
///   key) is configured, that grant; else the error. A refresh answer without a refresh token
///   keeps the old one.
/// - **Afterwards**: the token updater is called with the new token set (already in the cache,
///   so [`cached_token`](Self::cached_token) returns it), then the [`TokenStore`] saves it.
///
/// ```no_run
/// use std::sync::Arc;
/// use snow_core::{HttpExchange, Instance};
/// use snow_oauth::OAuth;
///
/// # async fn f(exchange: Arc<dyn HttpExchange>) -> Result<(), snow_oauth::OAuthError> {
/// let instance = Instance::from_name("acme").expect("valid name");
/// let auth = OAuth::builder(&instance, "client-id", "client-secret")
///     .exchange(exchange)
///     .token_updater(|t| println!("new token: {t}")) // Display shows no token
///     .build()?;
/// let token = auth.generate_token("admin", "password").await?;
/// // Store `token` (it is serde-serialisable); hand `auth` to a transport.
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OAuthAuthenticator {
    inner: Arc<Inner>,
}

/// The short name: `OAuth::builder(...)`.
pub type OAuth = OAuthAuthenticator;

pub(crate) struct Inner {
    pub(crate) endpoint: Endpoint,
    pub(crate) grant: Option<Grant>,
    pub(crate) revoke_url: url::Url,
    pub(crate) cache: TokenCache,
    pub(crate) gate: tokio::sync::Mutex<Gate>,
    /// Completed token requests (mirrors `Gate::attempts`, readable without the gate).
    pub(crate) attempts: AtomicU64,
    /// Token requests begun (each under the gate, so all but one in flight have completed).
    pub(crate) started: AtomicU64,
    pub(crate) updater: Option<Updater>,
    pub(crate) store: Option<Arc<dyn TokenStore>>,
    pub(crate) skew: Duration,
}

/// State kept by whoever holds the refresh gate.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    pub(crate) store_loaded: bool,
    attempts: u64,
    last_error: Option<OAuthError>,
}

impl Gate {
    pub(crate) fn new(store_loaded: bool) -> Self {
        Gate {
            store_loaded,
            ..Gate::default()
        }
    }
}

/// Why a token is wanted.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// A usable token.
    Fresh,
    /// A token other than the one with this epoch, which the instance refused.
    Replace(TokenEpoch),
}

impl fmt::Debug for OAuthAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let cached = i.cache.get();
        f.debug_struct("OAuthAuthenticator")
            .field("endpoint", &i.endpoint)
            .field("grant", &i.grant)
            .field("revoke_url", &i.revoke_url.as_str())
            .field("token", &cached.as_ref().map(|c| &c.token))
            .field("epoch", &cached.as_ref().map(|c| c.epoch.get()))
            .field("skew", &i.skew)
            .field(
                "token_updater",
                &i.updater.as_ref().map(|_| "Fn(&TokenSet)"),
            )
            .field("store", &i.store)
            .finish()
    }
}

impl OAuthAuthenticator {
    /// Start building an authenticator for `instance`, with the OAuth client id and secret of
    /// the instance's Application Registry entry.
    ///
    /// The token endpoint is `<instance base URL>/oauth_token.do` unless
    /// [`token_url`](OAuthBuilder::token_url) says otherwise. An
    /// [`exchange`](OAuthBuilder::exchange) is required.
    pub fn builder(
        instance: &snow_core::Instance,
        client_id: impl Into<String>,
        client_secret: impl Into<SecretString>,
    ) -> OAuthBuilder {
        OAuthBuilder::new(instance, client_id.into(), client_secret.into())
    }

    pub(crate) fn from_inner(inner: Inner) -> Self {
        OAuthAuthenticator {
            inner: Arc::new(inner),
        }
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
        let mut gate = self.inner.gate.lock().await;
        // A token obtained now supersedes whatever is stored.
        gate.store_loaded = true;
        self.inner.started.fetch_add(1, Ordering::AcqRel);
        let result = self.inner.endpoint.password(username, &password).await;
        let cached = self.finish_attempt(&mut gate, result).await?;
        Ok(cached.token.clone())
    }

    /// A usable token: the cached one, or a new one (refreshed or granted) if it has expired.
    pub async fn token(&self) -> Result<TokenSet, OAuthError> {
        Ok(self.usable().await?.token.clone())
    }

    /// The cached token set, usable or not, without any I/O.
    pub fn cached_token(&self) -> Option<TokenSet> {
        self.inner.cache.get().map(|c| c.token.clone())
    }

    /// Renew the token now (refresh grant, or the configured grant), whatever its expiry.
    pub async fn refresh(&self) -> Result<TokenSet, OAuthError> {
        let want = match self.inner.cache.get() {
            Some(c) => Want::Replace(c.epoch),
            None => Want::Fresh,
        };
        Ok(self.obtain(want).await?.token.clone())
    }

    /// Replace the cached token (pysnow's `set_token`), for instance with one loaded from your
    /// own storage. The updater and the store are called as for any new token.
    ///
    /// Fails with [`OAuthError::Protocol`] if the access token cannot be put in a header.
    pub async fn set_token(&self, token: TokenSet) -> Result<(), OAuthError> {
        let mut gate = self.inner.gate.lock().await;
        gate.store_loaded = true;
        let cached = self.inner.cache.publish_given(token)?;
        self.announce(&cached).await;
        Ok(())
    }

    /// Forget the cached token (the store is not touched). The next request gets a new one if
    /// a grant is configured, or fails with [`OAuthError::MissingToken`].
    pub async fn clear_token(&self) {
        let mut gate = self.inner.gate.lock().await;
        gate.store_loaded = true;
        self.inner.cache.clear();
    }

    /// Revoke one token, access or refresh, with ServiceNow's
    /// `GET /oauth_revoke_token.do?token=...` (which needs no authentication). The cache is not
    /// touched; see [`revoke`](Self::revoke).
    pub async fn revoke_token(&self, token: &SecretString) -> Result<(), OAuthError> {
        let mut url = self.inner.revoke_url.clone();
        url.query_pairs_mut()
            .append_pair("token", token.expose_secret());
        let request = http::Request::get(url.as_str())
            .header(header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|_| OAuthError::Config {
                message: "the revocation URL cannot be used in a request".into(),
            })?;
        let client = ExchangeClient::new(self.inner.endpoint.exchange().clone());
        let response = match client.send(request).await {
            Ok(r) => r,
            Err(crate::http::ExchangeFailure::Exchange(e)) => return Err(e.into()),
            Err(crate::http::ExchangeFailure::Redirect(status)) => {
                return Err(OAuthError::Redirected { status });
            }
        };
        let status = response.status();
        tracing::debug!(status = status.as_u16(), "token revocation answered");
        if status.is_success() {
            Ok(())
        } else {
            Err(OAuthError::Revoke {
                status: status.as_u16(),
            })
        }
    }

    /// Revoke the cached refresh token and access token (as far as they exist), then forget them.
    pub async fn revoke(&self) -> Result<(), OAuthError> {
        let mut gate = self.inner.gate.lock().await;
        gate.store_loaded = true;
        if let Some(cached) = self.inner.cache.get() {
            if let Some(rt) = cached.token.refresh_token() {
                self.revoke_token(rt).await?;
            }
            if !cached.token.access_token_str().is_empty() {
                self.revoke_token(cached.token.access_token()).await?;
            }
        }
        self.inner.cache.clear();
        Ok(())
    }

    /// The token the request would use, from the cache or the slow path.
    async fn usable(&self) -> Result<Arc<Cached>, OAuthError> {
        match self.inner.cache.fresh() {
            Some(c) => Ok(c),
            None => self.obtain(Want::Fresh).await,
        }
    }

    /// The slow path: one caller at a time behind the gate, re-checking the cache first.
    async fn obtain(&self, want: Want) -> Result<Arc<Cached>, OAuthError> {
        let seen = self.inner.attempts.load(Ordering::Acquire);
        let seen_started = self.inner.started.load(Ordering::Acquire);
        let mut gate = self.inner.gate.lock().await;
        if !gate.store_loaded {
            self.load_store(&mut gate).await?;
        }
        let current = self.inner.cache.get();
        if let Some(c) = &current {
            let replaced = match want {
                Want::Fresh => true,
                Want::Replace(epoch) => c.epoch != epoch,
            };
            if replaced && !c.needs_refresh() {
                return Ok(c.clone());
            }
        }
        // A token request finished while this caller waited, and failed: share its outcome
        // rather than repeat it (a thousand callers, one failed refresh, one token request).
        if gate.attempts != seen {
            if let Some(e) = &gate.last_error {
                return Err(e.clone());
            }
        }
        // A token request begun after this caller arrived (so after the 401 it reports) and
        // answered: its token is as new as one more request would get. This holds when the
        // endpoint answered with the same access token (same epoch), which asking again would
        // only repeat.
        if self.inner.started.load(Ordering::Acquire) != seen_started {
            if let Some(c) = current
                .as_ref()
                .filter(|c| !c.token.access_token_str().is_empty())
            {
                return Ok(c.clone());
            }
        }
        self.inner.started.fetch_add(1, Ordering::AcqRel);
        let result = self.fetch(current.as_deref()).await;
        self.finish_attempt(&mut gate, result).await
    }

    async fn load_store(&self, gate: &mut Gate) -> Result<(), OAuthError> {
        let Some(store) = &self.inner.store else {
            gate.store_loaded = true;
            return Ok(());
        };
        let loaded = store
            .load()
            .await
            .map_err(|e| OAuthError::store("load", e))?;
        gate.store_loaded = true;
        if let Some(token) = loaded {
            tracing::debug!("token loaded from the store");
            if self.inner.cache.get().is_none() {
                self.inner.cache.publish_given(token)?;
            }
        }
        Ok(())
    }

    /// Get a new token: refresh grant first, then the configured grant.
    async fn fetch(&self, current: Option<&Cached>) -> Result<Issued, OAuthError> {
        let inner = &self.inner;
        if let Some(rt) = current.and_then(|c| c.token.refresh_token()) {
            match inner.endpoint.refresh(rt).await {
                Ok(mut issued) => {
                    if issued.token.refresh_token().is_none() {
                        issued.token.set_refresh_token(Some(rt.clone()));
                    }
                    return Ok(issued);
                }
                Err(e) if e.is_invalid_grant() => match &inner.grant {
                    Some(grant) => {
                        tracing::info!(
                            fallback = grant.name(),
                            "the refresh token was refused; using the configured grant"
                        );
                    }
                    None => {
                        // The refresh token is dead: forget it, so that later requests fail
                        // at once with MissingToken instead of asking again.
                        inner.cache.clear();
                        return Err(match e {
                            OAuthError::InvalidGrant {
                                grant,
                                status,
                                description,
                            } => OAuthError::InvalidGrant {
                                grant,
                                status,
                                description: Some(format!(
                                    "{}; no password or other grant is configured to fall back on",
                                    description.as_deref().unwrap_or("refused")
                                )),
                            },
                            other => other,
                        });
                    }
                },
                Err(e) => return Err(e),
            }
        }
        match &inner.grant {
            Some(grant) => inner.endpoint.grant(grant).await,
            None => Err(OAuthError::MissingToken(
                if current.is_some() {
                    "the token has expired and there is no refresh token, password or other grant to renew it"
                } else {
                    "no token was set or generated, and no grant is configured"
                }
                .into(),
            )),
        }
    }

    /// Record the outcome of a token request made under the gate; publish and announce a new token.
    async fn finish_attempt(
        &self,
        gate: &mut Gate,
        result: Result<Issued, OAuthError>,
    ) -> Result<Arc<Cached>, OAuthError> {
        gate.attempts += 1;
        self.inner.attempts.store(gate.attempts, Ordering::Release);
        let published = result.and_then(|issued| self.inner.cache.publish_issued(issued));
        match published {
            Ok(cached) => {
                gate.last_error = None;
                self.announce(&cached).await;
                Ok(cached)
            }
            Err(e) => {
                gate.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Tell the updater and the store about a token that is now in the cache.
    async fn announce(&self, cached: &Cached) {
        if let Some(updater) = &self.inner.updater {
            updater(&cached.token);
        }
        if let Some(store) = &self.inner.store {
            if let Err(e) = store.save(&cached.token).await {
                tracing::error!(error = %e, "the token store could not save the new token");
            }
        }
    }

    /// Whether a refused token could be renewed at all.
    fn can_renew(&self) -> bool {
        self.inner.grant.is_some()
            || self
                .inner
                .cache
                .get()
                .is_some_and(|c| c.token.refresh_token().is_some())
    }
}

#[async_trait]
impl Authenticator for OAuthAuthenticator {
    async fn authenticate(&self, request: &mut http::request::Parts) -> Result<(), AuthError> {
        let cached = self.usable().await?;
        insert_credential(
            &mut request.headers,
            header::AUTHORIZATION,
            cached.bearer(),
            "access token",
        )?;
        request.extensions.insert(cached.epoch);
        Ok(())
    }

    async fn on_unauthorized(
        &self,
        request: &http::request::Parts,
        response: &http::response::Parts,
    ) -> Result<AuthRetry, AuthError> {
        let _ = response;
        let Some(epoch) = request.extensions.get::<TokenEpoch>().copied() else {
            // Not authenticated by this authenticator: nothing to renew.
            return Ok(AuthRetry::No);
        };
        if !self.can_renew() {
            return Ok(AuthRetry::No);
        }
        tracing::debug!(epoch = epoch.get(), "the instance refused the token (401)");
        self.obtain(Want::Replace(epoch)).await?;
        Ok(AuthRetry::Replay)
    }
}
