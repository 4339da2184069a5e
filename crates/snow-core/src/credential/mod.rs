//! Renewing credentials for any authenticator: fetch one, cache it, put it on requests.
//!
//! A credential that expires (an OAuth token, a vault lease, a signed assertion, a cloud
//! identity token) needs the same machinery whoever issues it: one renewal at a time however
//! many requests need it, renewal a little before expiry, one renewal for many `401`s caused by
//! the same stale credential, and one failed renewal's error handed to every request that waited
//! for it. [`CredentialCache`] is that machinery. Following the split the AWS SDK's smithy
//! runtime makes between resolving an identity, caching it and signing with it:
//!
//! - **fetch** ([`FetchCredential`]): the one async method you implement. It gets a credential
//!   and says when it expires ([`Expiring`]). It may look at the credential it replaces and why
//!   ([`Renewal`]), say that a renewal cannot help ([`can_renew`](FetchCredential::can_renew)),
//!   load one kept from an earlier run ([`load`](FetchCredential::load)) and hear about every
//!   new one ([`cached`](FetchCredential::cached)).
//! - **cache** ([`CredentialCache`]): a read-mostly fast path; renewal `skew` before expiry
//!   (default 60 s, at most half of a new credential's lifetime); a single flight of renewals
//!   behind an async lock (with no runtime of its own: any executor will do); a
//!   [`CredentialEpoch`] per credential, recorded in each request's extensions, so that a `401`
//!   renews only a credential nobody has replaced yet; at most one renewal a second that no `401`
//!   forced ([`min_renewal_interval`](CredentialCacheBuilder::min_renewal_interval)); and what
//!   to make of an issuer handing back the credential already cached ([`SameCredential`]).
//! - **apply** ([`ApplyCredential`]): by default a sensitive `Authorization: Bearer <secret>`
//!   header ([`HeaderCredential`]), or another header, or your own hook (a query parameter, a
//!   signature computed from the credential).
//!
//! The cache is an [`Authenticator`](crate::Authenticator): hand it to a transport as it is.
//!
//! ```
//! use std::time::Duration;
//! use snow_core::credential::{CredentialCache, Expiring, FetchCredential, Renewal};
//! use snow_core::secret::SecretString;
//! use snow_core::{async_trait, http, AuthError, Authenticator};
//!
//! /// Asks a (pretend) identity service for a token valid for five minutes.
//! #[derive(Debug)]
//! struct Identity;
//!
//! #[async_trait]
//! impl FetchCredential for Identity {
//!     type Credential = SecretString;
//!     type Error = AuthError;
//!
//!     async fn fetch(&self, _: &Renewal<'_, SecretString>) -> Result<Expiring<SecretString>, AuthError> {
//!         Ok(Expiring::new(SecretString::from("id-token")).expires_in(Duration::from_secs(300)))
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let auth = CredentialCache::new(Identity);
//! let (mut parts, ()) = http::Request::get("https://acme.service-now.com/").body(()).unwrap().into_parts();
//! auth.authenticate(&mut parts).await?;
//! assert_eq!(parts.headers["authorization"], "Bearer id-token");
//! assert!(parts.headers["authorization"].is_sensitive());
//! # Ok::<(), AuthError>(())
//! # }).unwrap();
//! ```

mod apply;
mod cache;
mod entry;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use crate::AuthError;

pub use apply::{ApplyCredential, HeaderCredential};
pub use cache::{CacheLock, CredentialCache, CredentialCacheBuilder};
pub use entry::{Cached, CredentialEpoch, SameCredential};

/// Gets a credential and says when it expires: what a renewing authenticator implements.
///
/// Only [`fetch`](Self::fetch) is required; [`CredentialCache`] calls it one call at a time,
/// never concurrently with itself. The other methods have defaults that do nothing.
#[async_trait]
pub trait FetchCredential: Send + Sync + fmt::Debug + 'static {
    /// What is fetched: a [`SecretString`], or a richer type that keeps more (an OAuth token set
    /// with its refresh token).
    type Credential: Credential;

    /// Why fetching failed: [`AuthError`] suits most. It is [`Clone`] because one failed renewal
    /// is handed to every request that waited for it.
    type Error: Clone + Into<AuthError> + Send + Sync + 'static;

    /// Get a new credential, with its expiry.
    ///
    /// `renewal` holds the credential being replaced, if any, and why it is being replaced.
    async fn fetch(
        &self,
        renewal: &Renewal<'_, Self::Credential>,
    ) -> Result<Expiring<Self::Credential>, Self::Error>;

    /// A credential kept from an earlier run, if any. Called once, the first time a credential
    /// is needed, unless the cache was given one (or one was set) before. By default: none.
    async fn load(&self) -> Result<Option<Expiring<Self::Credential>>, Self::Error> {
        Ok(None)
    }

    /// Called with every new credential put in the cache, fetched or set (not one
    /// [loaded](Self::load), which came from your own storage), once it is there (so the cache
    /// already hands it out), in order, while other renewals wait: keep it short. By default:
    /// nothing.
    async fn cached(&self, entry: &Cached<Self::Credential>) {
        let _ = entry;
    }

    /// Whether fetching could bring a credential other than `current` at all. When it cannot (a
    /// static token with nothing to renew it), a `401` is handed back to the caller instead of
    /// renewing. By default: always.
    fn can_renew(&self, current: Option<&Self::Credential>) -> bool {
        let _ = current;
        true
    }
}

/// A credential the cache can hold.
///
/// [`secret`](Self::secret) is what the built-in [`HeaderCredential`] puts on requests; a
/// credential applied by your own [`ApplyCredential`] hook returns whatever identifies it (a key
/// id, say). An empty secret stands for no usable credential: the next request renews it.
pub trait Credential: Send + Sync + 'static {
    /// The secret put on requests (a token, a key).
    fn secret(&self) -> &str;

    /// Whether `other` is this same credential issued again (it then keeps its
    /// [`CredentialEpoch`]). By default: the same non-empty secret.
    fn is_same(&self, other: &Self) -> bool {
        let secret = self.secret();
        !secret.is_empty() && secret == other.secret()
    }
}

impl Credential for SecretString {
    fn secret(&self) -> &str {
        self.expose_secret()
    }
}

/// A credential with its expiry, as fetched (or loaded, or set).
///
/// ```
/// use std::time::Duration;
/// use snow_core::credential::Expiring;
/// use snow_core::secret::SecretString;
///
/// let fetched = Expiring::new(SecretString::from("t")).expires_in(Duration::from_secs(300));
/// assert_eq!(fetched.lifetime(), Some(Duration::from_secs(300)));
/// assert!(fetched.expiry().is_some());
/// assert!(Expiring::new(SecretString::from("t")).expiry().is_none()); // renewed only on 401
/// ```
#[derive(Clone)]
pub struct Expiring<C> {
    credential: C,
    expires_at: Option<SystemTime>,
    lifetime: Option<Duration>,
}

impl<C> Expiring<C> {
    /// A credential with no known expiry: it is renewed only when the instance refuses it.
    pub fn new(credential: C) -> Self {
        Expiring {
            credential,
            expires_at: None,
            lifetime: None,
        }
    }

    /// It expires `lifetime` from now (an issuer's `expires_in`). The renewal skew is capped at
    /// half of it, so a short-lived credential is used for half its life rather than renewed on
    /// every request. A lifetime too large to add to the clock means no expiry.
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_at = SystemTime::now().checked_add(lifetime);
        self.lifetime = Some(lifetime);
        self
    }

    /// It expires at `at` (an issuer's absolute expiry).
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// The credential.
    pub fn credential(&self) -> &C {
        &self.credential
    }

    /// The credential, taken out.
    pub fn into_credential(self) -> C {
        self.credential
    }

    /// When it expires, if known.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The lifetime the issuer announced, if given with [`expires_in`](Self::expires_in).
    pub fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }
}

impl<C: fmt::Debug> fmt::Debug for Expiring<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expiring")
            .field("credential", &self.credential)
            .field("expires_at", &self.expires_at)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// Why the cache is fetching a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RenewalReason {
    /// There is no credential yet (or it was forgotten).
    Missing,
    /// The cached credential is due: it expires within the skew, or it is empty.
    Expiring,
    /// The instance answered `401` to a request carrying the cached credential.
    Rejected,
    /// The cache's owner asked for a renewal ([`CredentialCache::renew`]).
    Requested,
}

/// What [`FetchCredential::fetch`] is told about the renewal it is asked for.
pub struct Renewal<'a, C> {
    current: Option<&'a Cached<C>>,
    reason: RenewalReason,
    forget: &'a AtomicBool,
}

impl<'a, C> Renewal<'a, C> {
    pub(crate) fn new(
        current: Option<&'a Cached<C>>,
        reason: RenewalReason,
        forget: &'a AtomicBool,
    ) -> Self {
        Renewal {
            current,
            reason,
            forget,
        }
    }

    /// The credential being replaced, if there is one (an OAuth fetch reads its refresh token).
    pub fn current(&self) -> Option<&'a C> {
        self.current.map(Cached::credential)
    }

    /// The cache entry being replaced, with its epoch and expiry.
    pub fn current_entry(&self) -> Option<&'a Cached<C>> {
        self.current
    }

    /// Why the credential is being fetched.
    pub fn reason(&self) -> RenewalReason {
        self.reason
    }

    /// Forget the current credential if this fetch fails: it is dead (its refresh token was
    /// refused, say), so later requests should not try to renew it again but find no credential.
    pub fn forget_current(&self) {
        self.forget.store(true, Ordering::Relaxed);
    }
}

impl<C> fmt::Debug for Renewal<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renewal")
            .field("current_epoch", &self.current.map(Cached::epoch))
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}
