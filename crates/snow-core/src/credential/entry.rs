//! A cached credential with its epoch, and when to renew it.

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Credential, Expiring};

/// Which credential a request was authenticated with, recorded in the request's extensions by
/// [`CredentialCache`](super::CredentialCache).
///
/// Every new credential that enters a cache gets a new epoch; the same credential issued again
/// keeps its epoch. When the instance answers `401`, the cache compares the request's epoch with
/// the cached one: if another request already replaced the stale credential, this one is just
/// replayed, so many `401`s caused by one stale credential renew it once. Epochs of different
/// caches never compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CredentialEpoch {
    cache: u64,
    number: u64,
}

impl CredentialEpoch {
    pub(crate) fn new(cache: u64, number: u64) -> Self {
        CredentialEpoch { cache, number }
    }

    /// The epoch number within its cache (starts at 1, grows by one per new credential).
    pub fn get(self) -> u64 {
        self.number
    }

    pub(crate) fn cache(self) -> u64 {
        self.cache
    }
}

/// What a renewal that brings back the credential already cached means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SameCredential {
    /// The issuer extended it (a renewed lease): it is renewed `skew` before its new expiry,
    /// like a new credential. The default.
    #[default]
    Extended,
    /// The issuer hands back the current credential with the time it has left, as ServiceNow's
    /// token endpoint does for any grant made within an access token's lifetime. Renewing it
    /// before it expires would only bring it back again, so it is used until it has certainly
    /// expired: the earliest expiry announced for it, plus `precision` (how much an announced
    /// lifetime may be short, e.g. one second for an `expires_in` rounded down). The first
    /// request after that renews it.
    KeepsExpiry {
        /// How much an announced lifetime may fall short of the real one.
        precision: Duration,
    },
}

/// How the cache times renewals.
#[derive(Debug, Clone)]
pub(crate) struct Timing {
    pub(crate) skew: Duration,
    pub(crate) min_interval: Duration,
    pub(crate) same: SameCredential,
}

impl Timing {
    /// The schedule of a credential just fetched. `previous` is the cached entry if it holds
    /// this same credential.
    pub(crate) fn fetched<C>(
        &self,
        fetched: Expiring<C>,
        previous: Option<&Cached<C>>,
        epoch: CredentialEpoch,
    ) -> Cached<C> {
        let expires_at = fetched.expires_at;
        let (renew_at, valid_until) = match (previous, self.same) {
            (Some(p), SameCredential::KeepsExpiry { precision }) => {
                let announced = expires_at.and_then(|at| at.checked_add(precision));
                let valid_until = earliest(p.valid_until, announced);
                (valid_until.or(expires_at), valid_until)
            }
            (_, same) => {
                let precision = match same {
                    SameCredential::KeepsExpiry { precision } => precision,
                    SameCredential::Extended => Duration::ZERO,
                };
                let announced = expires_at.and_then(|at| at.checked_add(precision));
                let skew = self.skew_for(fetched.lifetime);
                (expires_at.map(|at| before(at, skew)), announced)
            }
        };
        Cached {
            credential: fetched.credential,
            epoch,
            expires_at,
            renew_at,
            valid_until,
            renew_not_before: Instant::now().checked_add(self.min_interval),
            reissued: previous.is_some(),
        }
    }

    /// The schedule of a credential handed to the cache (set, loaded, or given at build): renewed
    /// `skew` before it expires, and not held back by the minimum interval.
    pub(crate) fn given<C>(
        &self,
        given: Expiring<C>,
        previous: Option<&Cached<C>>,
        epoch: CredentialEpoch,
    ) -> Cached<C> {
        let skew = self.skew_for(given.lifetime);
        Cached {
            credential: given.credential,
            epoch,
            expires_at: given.expires_at,
            renew_at: given.expires_at.map(|at| before(at, skew)),
            valid_until: None,
            renew_not_before: None,
            reissued: previous.is_some(),
        }
    }

    /// The skew, capped at half the credential's lifetime when it is known.
    fn skew_for(&self, lifetime: Option<Duration>) -> Duration {
        lifetime.map_or(self.skew, |lifetime| self.skew.min(lifetime / 2))
    }
}

/// A credential in the cache, with its epoch and schedule.
pub struct Cached<C> {
    credential: C,
    epoch: CredentialEpoch,
    expires_at: Option<SystemTime>,
    /// When to start renewing it (`None`: only after a 401).
    renew_at: Option<SystemTime>,
    /// The latest moment it can still be valid, by the issuer's own count (same-credential
    /// answers under [`SameCredential::KeepsExpiry`]).
    valid_until: Option<SystemTime>,
    /// No renewal that a 401 did not force before this.
    renew_not_before: Option<Instant>,
    reissued: bool,
}

impl<C> Cached<C> {
    /// The credential.
    pub fn credential(&self) -> &C {
        &self.credential
    }

    /// Its epoch (the same credential issued again keeps its epoch).
    pub fn epoch(&self) -> CredentialEpoch {
        self.epoch
    }

    /// When it expires, if known.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// When a request will renew it (`None`: only when the instance refuses it).
    pub fn renew_at(&self) -> Option<SystemTime> {
        self.renew_at
    }

    /// Whether this entry holds the credential that was already cached, issued again (it kept
    /// its epoch).
    pub fn is_reissue(&self) -> bool {
        self.reissued
    }
}

impl<C: Credential> Cached<C> {
    /// Whether a request should renew it before using it: it is empty, or due and not held back
    /// by the minimum interval.
    pub(crate) fn needs_renewal(&self) -> bool {
        if self.credential.secret().is_empty() {
            return true;
        }
        let due = self.renew_at.is_some_and(|at| SystemTime::now() >= at);
        due && self.renew_not_before.is_none_or(|t| Instant::now() >= t)
    }

    /// Whether it can be put on a request at all.
    pub(crate) fn is_usable(&self) -> bool {
        !self.credential.secret().is_empty()
    }
}

impl<C> fmt::Debug for Cached<C> {
    /// The epoch and schedule; never the credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unix = |t: Option<SystemTime>| {
            t.map(|t| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
        };
        f.debug_struct("Cached")
            .field("epoch", &self.epoch.number)
            .field("expires_at_unix", &unix(self.expires_at))
            .field("renew_at_unix", &unix(self.renew_at))
            .field("reissued", &self.reissued)
            .finish_non_exhaustive()
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

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn timing(same: SameCredential) -> Timing {
        Timing {
            skew: Duration::from_secs(60),
            min_interval: Duration::from_secs(1),
            same,
        }
    }

    fn token(lifetime: u64) -> Expiring<SecretString> {
        Expiring::new(SecretString::from("t")).expires_in(Duration::from_secs(lifetime))
    }

    fn epoch() -> CredentialEpoch {
        CredentialEpoch::new(1, 1)
    }

    #[test]
    fn skew_is_capped_at_half_the_lifetime() {
        let t = timing(SameCredential::Extended);
        let long = t.fetched(token(1800), None, epoch());
        let left = long
            .renew_at
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        assert!(left > Duration::from_secs(1730) && left <= Duration::from_secs(1740));
        let short = t.fetched(token(30), None, epoch());
        let left = short
            .renew_at
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        assert!(left > Duration::from_secs(14) && left <= Duration::from_secs(15));
        assert!(!short.needs_renewal());
        let never = t.fetched(Expiring::new(SecretString::from("t")), None, epoch());
        assert!(never.renew_at.is_none() && !never.needs_renewal());
        let huge = t.fetched(
            Expiring::new(SecretString::from("t")).expires_in(Duration::from_secs(u64::MAX)),
            None,
            epoch(),
        );
        assert!(!huge.needs_renewal());
    }

    #[test]
    fn a_reissued_credential_keeps_its_earliest_expiry_when_asked_to() {
        let t = timing(SameCredential::KeepsExpiry {
            precision: Duration::from_secs(1),
        });
        let first = t.fetched(token(1800), None, epoch());
        // Asked again later: the same credential, with less time left than first announced.
        let again = t.fetched(token(100), Some(&first), epoch());
        let until = again
            .renew_at
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        assert!(until > Duration::from_secs(99) && until <= Duration::from_secs(101));
        assert!(again.is_reissue());
        // Under the default policy the same credential is renewed skew before its expiry.
        let t = timing(SameCredential::Extended);
        let first = t.fetched(token(1800), None, epoch());
        let again = t.fetched(token(3600), Some(&first), epoch());
        let until = again
            .renew_at
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        assert!(until > Duration::from_secs(3530));
    }

    #[test]
    fn an_expired_fetched_credential_waits_for_the_minimum_interval() {
        let t = timing(SameCredential::Extended);
        let zero = t.fetched(token(0), None, epoch());
        assert!(!zero.needs_renewal(), "held back for a second");
        let given = t.given(token(0), None, epoch());
        assert!(given.needs_renewal(), "a given credential is not held back");
        let empty = t.given(Expiring::new(SecretString::from("")), None, epoch());
        assert!(empty.needs_renewal() && !empty.is_usable());
    }

    #[test]
    fn debug_shows_no_credential() {
        let c = timing(SameCredential::Extended).given(
            Expiring::new(SecretString::from("s3cret-value")),
            None,
            epoch(),
        );
        let out = format!("{c:?}");
        assert!(
            !out.contains("s3cret-value") && out.contains("epoch"),
            "{out}"
        );
    }
}
