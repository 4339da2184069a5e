//! [`TokenSource`]: how snow-oauth fetches a token for the credential cache (refresh first,
//! then the configured grant), loads and saves it, and tells the token updater.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use secrecy::SecretString;
use snow_core::credential::{Cached, Expiring, FetchCredential, Renewal, RenewalReason};
use snow_core::http::HeaderValue;

use crate::endpoint::{Endpoint, Grant};
use crate::response::Issued;
use crate::{OAuthError, TokenSet, TokenStore};

/// The closure called with every new token set once it is in the cache.
pub(crate) type Updater = Arc<dyn Fn(&TokenSet) + Send + Sync + 'static>;

/// Gets OAuth tokens for the cache: the refresh-token grant when there is a refresh token,
/// falling back to the configured grant when the server refuses it.
pub(crate) struct TokenSource {
    endpoint: Endpoint,
    grant: Option<Grant>,
    revoke_url: url::Url,
    updater: Option<Updater>,
    store: Option<Arc<dyn TokenStore>>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("endpoint", &self.endpoint)
            .field("grant", &self.grant)
            .field("revoke_url", &self.revoke_url.as_str())
            .field(
                "token_updater",
                &self.updater.as_ref().map(|_| "Fn(&TokenSet)"),
            )
            .field("store", &self.store)
            .finish()
    }
}

impl TokenSource {
    pub(crate) fn new(
        endpoint: Endpoint,
        grant: Option<Grant>,
        revoke_url: url::Url,
        updater: Option<Updater>,
        store: Option<Arc<dyn TokenStore>>,
    ) -> Self {
        TokenSource {
            endpoint,
            grant,
            revoke_url,
            updater,
            store,
        }
    }

    /// A password grant the caller asked for, as the cache's fetch result.
    pub(crate) async fn password(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<Expiring<TokenSet>, OAuthError> {
        self.endpoint
            .password(username, password)
            .await
            .map(fetched)
    }

    /// Revoke one token (access or refresh).
    pub(crate) async fn revoke(&self, token: &SecretString) -> Result<(), OAuthError> {
        self.endpoint.revoke(&self.revoke_url, token).await
    }

    /// Get a new token: the refresh grant first, then the configured grant.
    async fn renew(&self, renewal: &Renewal<'_, TokenSet>) -> Result<Issued, OAuthError> {
        let current = renewal.current();
        if let Some(rt) = current.and_then(TokenSet::refresh_token) {
            match self.endpoint.refresh(rt).await {
                Ok(mut issued) => {
                    if issued.token.refresh_token().is_none() {
                        issued.token.set_refresh_token(Some(rt.clone()));
                    }
                    return Ok(issued);
                }
                Err(e) if e.is_invalid_grant() => match &self.grant {
                    Some(grant) => {
                        tracing::info!(
                            fallback = grant.name(),
                            "the refresh token was refused; using the configured grant"
                        );
                    }
                    None => {
                        // The refresh token is dead: forget it, so that later requests fail
                        // at once with MissingToken instead of asking again.
                        renewal.forget_current();
                        return Err(no_fallback(e));
                    }
                },
                Err(e) => return Err(e),
            }
        }
        match &self.grant {
            Some(grant) => self.endpoint.grant(grant).await,
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
}

#[async_trait]
impl FetchCredential for TokenSource {
    type Credential = TokenSet;
    type Error = OAuthError;

    async fn fetch(
        &self,
        renewal: &Renewal<'_, TokenSet>,
    ) -> Result<Expiring<TokenSet>, OAuthError> {
        if renewal.reason() == RenewalReason::Rejected {
            tracing::debug!(
                epoch = renewal.current_entry().map(|c| c.epoch().get()),
                "the instance refused the token (401)"
            );
        }
        self.renew(renewal).await.map(fetched)
    }

    async fn load(&self) -> Result<Option<Expiring<TokenSet>>, OAuthError> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let loaded = store
            .load()
            .await
            .map_err(|e| OAuthError::store("load", e))?;
        match loaded {
            Some(token) => {
                check_header(&token)?;
                tracing::debug!("token loaded from the store");
                Ok(Some(given(token)))
            }
            None => Ok(None),
        }
    }

    async fn cached(&self, entry: &Cached<TokenSet>) {
        let token = entry.credential();
        tracing::debug!(
            epoch = entry.epoch().get(),
            expires_in_secs = secs_until(entry.expires_at()),
            renew_in_secs = secs_until(entry.renew_at()),
            has_refresh_token = token.refresh_token().is_some(),
            "{} OAuth token cached",
            if entry.is_reissue() { "same" } else { "new" }
        );
        if let Some(updater) = &self.updater {
            updater(token);
        }
        if let Some(store) = &self.store
            && let Err(e) = store.save(token).await
        {
            tracing::error!(error = %e, "the token store could not save the new token");
        }
    }

    fn can_renew(&self, current: Option<&TokenSet>) -> bool {
        self.grant.is_some() || current.is_some_and(|t| t.refresh_token().is_some())
    }
}

/// A token the endpoint issued, for the cache.
fn fetched(issued: Issued) -> Expiring<TokenSet> {
    match issued.lifetime {
        Some(lifetime) => Expiring::new(issued.token).expires_in(lifetime),
        None => Expiring::new(issued.token),
    }
}

/// A token handed over (given to the builder, set, or stored), for the cache.
pub(crate) fn given(token: TokenSet) -> Expiring<TokenSet> {
    match token.expires_at() {
        Some(at) => Expiring::new(token).expires_at(at),
        None => Expiring::new(token),
    }
}

/// Refuse a token whose access token cannot be put in an `Authorization` header.
pub(crate) fn check_header(token: &TokenSet) -> Result<(), OAuthError> {
    HeaderValue::from_str(&format!("Bearer {}", token.access_token_str()))
        .map(drop)
        .map_err(|_| {
            OAuthError::protocol("the access token contains characters an HTTP header cannot carry")
        })
}

/// A refused refresh token with nothing to fall back on: say so.
fn no_fallback(e: OAuthError) -> OAuthError {
    match e {
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
    }
}

fn secs_until(at: Option<SystemTime>) -> Option<u64> {
    at.map(|at| {
        at.duration_since(SystemTime::now())
            .map_or(0, |d| d.as_secs())
    })
}
