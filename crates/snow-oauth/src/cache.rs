//! The token cache: a cached token with its bearer header value, its epoch, and when to renew it.
//!
//! # When a token is renewed
//!
//! ServiceNow answers any grant made while the access token is still valid with that same
//! access token and the whole seconds it has left (`expires_in`, rounded down). Renewing "a
//! little before expiry" therefore cannot yield a new token early; naively re-applying the skew
//! to each answer would renew on every request during the token's last moments. So:
//!
//! - a **new** access token is renewed `skew` before it expires (the skew capped at half the
//!   announced lifetime);
//! - when a renewal brings back the **same** access token, it keeps its epoch and is used until
//!   it has certainly expired: the earliest `received + expires_in + 1 s` seen for it (the
//!   extra second covers the rounding down). Then the next request renews it and, the token
//!   being gone on the instance's side, gets a new one;
//! - no renewal that a `401` did not force happens within [`MIN_RENEWAL_INTERVAL`] (1 s) of the
//!   last answer from the token endpoint, which covers an `expires_in` of 0 (and an instance
//!   clock running behind ours). A request whose token the instance refuses in the meantime
//!   gets a `401`, which renews the token at once.
//!
//! So a client under steady traffic makes at most two renewals per access-token lifetime: one
//! ahead of expiry that returns the same token, and one at expiry (or on the first `401`) that
//! returns the next.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use snow_core::http::HeaderValue;

use crate::grant::Issued;
use crate::{OAuthError, TokenSet};

/// Which token a request was authenticated with, recorded in the request's extensions by
/// [`OAuthAuthenticator::authenticate`](crate::OAuthAuthenticator).
///
/// Every new access token that enters the cache gets a new epoch; the same access token issued
/// again keeps its epoch. When the instance answers `401`, the authenticator compares the
/// request's epoch with the cached one: if they differ, another request already replaced the
/// stale token and this one is just replayed; only the first 401 for a given epoch triggers a
/// refresh (and a token request that began after the 401 counts as that refresh).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenEpoch(u64);

impl TokenEpoch {
    /// The epoch number (starts at 1, grows by one per new token).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// `expires_in` counts whole seconds, rounded down: a token said to expire in `n` seconds may
/// still be valid for up to one second more.
const EXPIRES_IN_RESOLUTION: Duration = Duration::from_secs(1);

/// The least time between two renewals that no `401` forced. It matches the resolution of
/// `expires_in`: a token the endpoint has just called valid for `expires_in >= 1` seconds is not
/// due before then anyway, so this only holds back a renewal after an `expires_in` of 0.
pub(crate) const MIN_RENEWAL_INTERVAL: Duration = Duration::from_secs(1);

/// A token in the cache.
#[derive(Debug)]
pub(crate) struct Cached {
    pub(crate) token: TokenSet,
    /// `Bearer <access token>`, checked to be a valid header value.
    pub(crate) bearer: SecretString,
    pub(crate) epoch: TokenEpoch,
    /// When to start renewing the token (`None`: only after a 401).
    renew_at: Option<SystemTime>,
    /// The latest moment the token can still be valid, by the endpoint's own count: the earliest
    /// `now + expires_in + 1 s` over every answer that carried this access token.
    valid_until: Option<SystemTime>,
    /// No renewal that a 401 did not force before this (set for tokens from the endpoint).
    renew_not_before: Option<Instant>,
}

impl Cached {
    /// Whether a request should renew the token before using it.
    pub(crate) fn needs_refresh(&self) -> bool {
        if self.token.access_token_str().is_empty() {
            return true;
        }
        let due = self.renew_at.is_some_and(|at| SystemTime::now() >= at);
        due && self.renew_not_before.is_none_or(|t| Instant::now() >= t)
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

    /// Put a token the endpoint just answered with in the cache.
    ///
    /// - A **new access token** is renewed `skew` before it expires, the skew capped at half the
    ///   announced lifetime (a token shorter-lived than twice the skew is used for half its life).
    /// - The **current access token again** (ServiceNow answers every grant made within the
    ///   lifetime of the access token with that token and the seconds it has left): asking again
    ///   before it expires would only bring it back once more, so it is used until it has
    ///   certainly expired (`valid_until`), then renewed.
    /// - Either way, no renewal that a 401 does not force happens within
    ///   [`MIN_RENEWAL_INTERVAL`] of this answer, which absorbs an `expires_in` of 0.
    pub(crate) fn publish_issued(&self, issued: Issued) -> Result<Arc<Cached>, OAuthError> {
        let previous = self.same_token(&issued.token);
        let expires_at = issued.token.expires_at();
        let announced = expires_at.and_then(|at| at.checked_add(EXPIRES_IN_RESOLUTION));
        let (renew_at, valid_until) = match &previous {
            Some(p) => {
                let valid_until = earliest(p.valid_until, announced);
                (valid_until.or(expires_at), valid_until)
            }
            None => {
                let skew = issued
                    .lifetime
                    .map_or(self.skew, |lifetime| self.skew.min(lifetime / 2));
                (expires_at.map(|at| before(at, skew)), announced)
            }
        };
        if previous.is_some() {
            tracing::debug!(
                "the token endpoint answered with the cached access token; it is used until it expires"
            );
        }
        self.put(
            issued.token,
            previous,
            renew_at,
            valid_until,
            Instant::now().checked_add(MIN_RENEWAL_INTERVAL),
        )
    }

    /// Put a token the caller handed over (or a store held) in the cache: it is renewed `skew`
    /// before its `expires_at`, or only after a 401 if it has none.
    pub(crate) fn publish_given(&self, token: TokenSet) -> Result<Arc<Cached>, OAuthError> {
        let previous = self.same_token(&token);
        let renew_at = token.expires_at().map(|at| before(at, self.skew));
        self.put(token, previous, renew_at, None, None)
    }

    /// The cached entry if it holds this same (non-empty) access token.
    fn same_token(&self, token: &TokenSet) -> Option<Arc<Cached>> {
        let access = token.access_token_str();
        self.get()
            .filter(|c| !access.is_empty() && c.token.access_token_str() == access)
    }

    /// Cache `token`: under the epoch of `previous` (the same access token), or a new one.
    fn put(
        &self,
        token: TokenSet,
        previous: Option<Arc<Cached>>,
        renew_at: Option<SystemTime>,
        valid_until: Option<SystemTime>,
        renew_not_before: Option<Instant>,
    ) -> Result<Arc<Cached>, OAuthError> {
        let bearer = format!("Bearer {}", token.access_token_str());
        if HeaderValue::from_str(&bearer).is_err() {
            return Err(OAuthError::protocol(
                "the access token contains characters an HTTP header cannot carry",
            ));
        }
        let epoch = match &previous {
            Some(p) => p.epoch,
            None => TokenEpoch(self.next_epoch.fetch_add(1, Ordering::Relaxed)),
        };
        let cached = Arc::new(Cached {
            token,
            bearer: SecretString::from(bearer),
            epoch,
            renew_at,
            valid_until,
            renew_not_before,
        });
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(cached.clone());
        tracing::debug!(
            epoch = cached.epoch.0,
            expires_in_secs = secs_until(cached.token.expires_at()),
            renew_in_secs = secs_until(cached.renew_at),
            has_refresh_token = cached.token.refresh_token().is_some(),
            "{} OAuth token cached",
            if previous.is_some() { "same" } else { "new" }
        );
        Ok(cached)
    }
}

/// `at - skew`, or `at` if that is not representable.
fn before(at: SystemTime, skew: Duration) -> SystemTime {
    at.checked_sub(skew).unwrap_or(at)
}

/// The earlier of two optional moments (a missing one does not count).
fn earliest(a: Option<SystemTime>, b: Option<SystemTime>) -> Option<SystemTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn secs_until(at: Option<SystemTime>) -> Option<u64> {
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
