//! The token cache: a cached token with its bearer header value and epoch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use snow_core::http::HeaderValue;

use crate::grant::Issued;
use crate::{OAuthError, TokenSet};

/// Which token a request was authenticated with, recorded in the request's extensions by
/// [`OAuthAuthenticator::authenticate`](crate::OAuthAuthenticator).
///
/// Every token that enters the cache gets a new epoch. When the instance answers `401`,
/// the authenticator compares the request's epoch with the cached one: if they differ, another
/// request already replaced the stale token and this one is just replayed; only the first 401
/// for a given epoch triggers a refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenEpoch(u64);

impl TokenEpoch {
    /// The epoch number (starts at 1, grows by one per new token).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A token in the cache.
#[derive(Debug)]
pub(crate) struct Cached {
    pub(crate) token: TokenSet,
    /// `Bearer <access token>`, checked to be a valid header value.
    pub(crate) bearer: SecretString,
    pub(crate) epoch: TokenEpoch,
    /// When to stop using the token: expiry minus the skew.
    refresh_at: Option<SystemTime>,
}

impl Cached {
    pub(crate) fn needs_refresh(&self) -> bool {
        if self.token.access_token_str().is_empty() {
            return true;
        }
        self.refresh_at.is_some_and(|at| SystemTime::now() >= at)
    }
}

/// The cache: a std `RwLock` read on every request (never held across an `.await`), written
/// only by the holder of the refresh gate.
#[derive(Debug)]
pub(crate) struct TokenCache {
    current: RwLock<Option<Arc<Cached>>>,
    next_epoch: AtomicU64,
    skew: Duration,
}

impl TokenCache {
    pub(crate) fn new(skew: Duration) -> Self {
        TokenCache {
            current: RwLock::new(None),
            next_epoch: AtomicU64::new(1),
            skew,
        }
    }

    pub(crate) fn get(&self) -> Option<Arc<Cached>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The cached token if it can be used now.
    pub(crate) fn fresh(&self) -> Option<Arc<Cached>> {
        self.get().filter(|c| !c.needs_refresh())
    }

    pub(crate) fn clear(&self) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Put a token in the cache under a new epoch.
    ///
    /// With a known lifetime (a token just issued) the skew is capped at half the lifetime, so
    /// that a short-lived token (shorter than twice the skew) is still used for half its life
    /// instead of being refreshed on every request.
    pub(crate) fn publish(&self, issued: Issued) -> Result<Arc<Cached>, OAuthError> {
        let bearer = format!("Bearer {}", issued.token.access_token_str());
        if HeaderValue::from_str(&bearer).is_err() {
            return Err(OAuthError::protocol(
                "the access token contains characters an HTTP header cannot carry",
            ));
        }
        let refresh_at = match (issued.lifetime, issued.token.expires_at()) {
            (Some(lifetime), Some(at)) => at.checked_sub(self.skew.min(lifetime / 2)),
            (None, Some(at)) => Some(at.checked_sub(self.skew).unwrap_or(at)),
            (_, None) => None,
        };
        let cached = Arc::new(Cached {
            token: issued.token,
            bearer: SecretString::from(bearer),
            epoch: TokenEpoch(self.next_epoch.fetch_add(1, Ordering::Relaxed)),
            refresh_at,
        });
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(cached.clone());
        tracing::debug!(
            epoch = cached.epoch.0,
            expires_in_secs = refresh_in(cached.token.expires_at()),
            has_refresh_token = cached.token.refresh_token().is_some(),
            "new OAuth token cached"
        );
        Ok(cached)
    }
}

fn refresh_in(at: Option<SystemTime>) -> Option<u64> {
    at.map(|at| {
        at.duration_since(SystemTime::now())
            .map_or(0, |d| d.as_secs())
    })
}

impl Cached {
    pub(crate) fn bearer(&self) -> &str {
        self.bearer.expose_secret()
    }
}
