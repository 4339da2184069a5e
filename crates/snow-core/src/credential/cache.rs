//! [`CredentialCache`]: the fast path, the single flight of renewals, and the `Authenticator`.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::lock::{Mutex, MutexGuard};
use http::header::HeaderName;

use super::apply::Apply;
use super::entry::Timing;
use super::{
    ApplyCredential, Cached, Credential, CredentialEpoch, Expiring, FetchCredential,
    HeaderCredential, Renewal, RenewalReason, SameCredential,
};
use crate::{AuthError, AuthRetry, Authenticator};

/// Numbers caches, so that epochs of different caches never compare equal.
static NEXT_CACHE: AtomicU64 = AtomicU64::new(1);

/// A renewing [`Authenticator`] built from a [`FetchCredential`]: caches the credential, renews
/// it before it expires and after a `401`, one renewal at a time, and puts it on every request.
///
/// Cloning is cheap and clones share one cache: hand one clone to a transport, keep another to
/// [`renew`](Self::renew), [`lock`](Self::lock) or read [`cached`](Self::cached).
///
/// # How it behaves
///
/// - **Fast path.** [`authenticate`](Authenticator::authenticate) copies the cached entry's
///   `Arc` under a std `RwLock` (never held across an `.await`), checks it against its renewal
///   time, applies it, and records its [`CredentialEpoch`] in the request's extensions.
/// - **Renewal before expiry.** A fetched credential is renewed `skew` (default 60 s) before it
///   expires, the skew capped at half its lifetime when the fetch announced one.
/// - **Single flight.** When there is no usable credential, callers queue on one async lock.
///   The first one through fetches; the others, once through, find the new credential. If the
///   fetch failed, the callers already waiting get a clone of its error rather than fetching
///   again; later callers try again.
/// - **401.** [`on_unauthorized`](Authenticator::on_unauthorized) reads the request's epoch. If
///   a newer credential is cached, or a fetch begun after the 401 has since answered, it asks
///   for a replay at once; otherwise it fetches, once for all the requests that carried the stale
///   credential. If [`can_renew`](FetchCredential::can_renew) says no, the 401 is handed back.
/// - **Minimum interval.** No renewal that a 401 did not force happens within
///   [`min_renewal_interval`](CredentialCacheBuilder::min_renewal_interval) (default 1 s) of the
///   last fetch: an issuer answering with an already expired credential costs one fetch a
///   second, not one per request.
/// - **The same credential again** keeps its epoch; what its new expiry means is
///   [`SameCredential`]'s choice.
///
/// It uses no runtime: the lock is `futures-util`'s, time is std's, and nothing is spawned.
pub struct CredentialCache<F: FetchCredential> {
    inner: Arc<Inner<F>>,
}

impl<F: FetchCredential> Clone for CredentialCache<F> {
    fn clone(&self) -> Self {
        CredentialCache {
            inner: self.inner.clone(),
        }
    }
}

type Entry<F> = Arc<Cached<<F as FetchCredential>::Credential>>;

struct Inner<F: FetchCredential> {
    id: u64,
    fetcher: F,
    apply: Apply<F::Credential>,
    timing: Timing,
    current: RwLock<Option<Entry<F>>>,
    next_epoch: AtomicU64,
    gate: Mutex<Gate<F::Error>>,
    /// Completed fetches (mirrors `Gate::attempts`, readable without the gate).
    attempts: AtomicU64,
    /// Fetches begun (each under the gate, so all but one in flight have completed).
    started: AtomicU64,
}

/// What the holder of the gate knows.
struct Gate<E> {
    /// Whether `FetchCredential::load` has run (or something superseded it).
    loaded: bool,
    attempts: u64,
    last_error: Option<E>,
}

/// What a caller of the slow path wants.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// A usable credential.
    Fresh,
    /// A credential other than the one with this epoch.
    Replace(CredentialEpoch, RenewalReason),
}

impl<F: FetchCredential> fmt::Debug for CredentialCache<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("CredentialCache")
            .field("fetcher", &i.fetcher)
            .field("apply", &i.apply)
            .field("skew", &i.timing.skew)
            .field("min_renewal_interval", &i.timing.min_interval)
            .field("same_credential", &i.timing.same)
            .field("cached", &self.cached())
            .finish()
    }
}

impl<F: FetchCredential> CredentialCache<F> {
    /// The default renewal skew: a credential is renewed 60 s before it expires.
    pub const DEFAULT_SKEW: Duration = Duration::from_secs(60);
    /// The default least time between two renewals that no `401` forced: 1 s.
    pub const DEFAULT_MIN_RENEWAL_INTERVAL: Duration = Duration::from_secs(1);

    /// A cache with the defaults: `Authorization: Bearer <secret>`, 60 s skew, 1 s between
    /// unforced renewals, [`SameCredential::Extended`].
    pub fn new(fetcher: F) -> Self {
        Self::builder(fetcher).build()
    }

    /// Configure a cache.
    pub fn builder(fetcher: F) -> CredentialCacheBuilder<F> {
        CredentialCacheBuilder {
            fetcher,
            apply: Apply::Header(HeaderCredential::bearer()),
            timing: Timing {
                skew: Self::DEFAULT_SKEW,
                min_interval: Self::DEFAULT_MIN_RENEWAL_INTERVAL,
                same: SameCredential::default(),
            },
            initial: None,
        }
    }

    /// The fetcher.
    pub fn fetcher(&self) -> &F {
        &self.inner.fetcher
    }

    /// The cached entry, usable or not, without any I/O.
    pub fn cached(&self) -> Option<Entry<F>> {
        self.inner.current()
    }

    /// A usable credential: the cached one, or a new one if it is due.
    pub async fn get(&self) -> Result<Entry<F>, F::Error> {
        match self.inner.current().filter(|c| !c.needs_renewal()) {
            Some(c) => Ok(c),
            None => self.inner.obtain(Want::Fresh).await,
        }
    }

    /// Fetch a new credential now, whatever the cached one's expiry (unless a fetch that began
    /// after this call has already answered).
    pub async fn renew(&self) -> Result<Entry<F>, F::Error> {
        let want = match self.inner.current() {
            Some(c) => Want::Replace(c.epoch(), RenewalReason::Requested),
            None => Want::Fresh,
        };
        self.inner.obtain(want).await
    }

    /// A credential other than the one with `epoch`, which the instance refused: the cached one
    /// if it has been replaced already, else a new one. Many callers with the same stale epoch
    /// cause one fetch. This is what [`on_unauthorized`](Authenticator::on_unauthorized) does.
    pub async fn renew_after(&self, epoch: CredentialEpoch) -> Result<Entry<F>, F::Error> {
        self.inner
            .obtain(Want::Replace(epoch, RenewalReason::Rejected))
            .await
    }

    /// Hold the renewal lock: no fetch runs until the returned [`CacheLock`] is dropped. Use it
    /// to set, clear or fetch a credential in your own way (a password grant the caller asked
    /// for, say) without racing the cache's own renewals.
    pub async fn lock(&self) -> CacheLock<'_, F> {
        CacheLock {
            inner: &self.inner,
            gate: self.inner.gate.lock().await,
        }
    }

    /// Apply `entry`'s credential to `request` and record its epoch there.
    fn apply(
        &self,
        entry: &Cached<F::Credential>,
        request: &mut http::request::Parts,
    ) -> Result<(), AuthError> {
        self.inner.apply.apply(entry.credential(), request)?;
        request.extensions.insert(entry.epoch());
        Ok(())
    }
}

impl<F: FetchCredential> Inner<F> {
    fn current(&self) -> Option<Entry<F>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn store(&self, entry: Option<Entry<F>>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = entry;
    }

    /// The cached entry if it holds this same credential.
    fn same_as(&self, credential: &F::Credential) -> Option<Entry<F>> {
        self.current()
            .filter(|c| c.is_usable() && c.credential().is_same(credential))
    }

    fn epoch_for(&self, previous: Option<&Entry<F>>) -> CredentialEpoch {
        match previous {
            Some(p) => p.epoch(),
            None => CredentialEpoch::new(self.id, self.next_epoch.fetch_add(1, Ordering::Relaxed)),
        }
    }

    /// Put a fetched credential in the cache.
    fn publish_fetched(&self, fetched: Expiring<F::Credential>) -> Entry<F> {
        let previous = self.same_as(fetched.credential());
        let epoch = self.epoch_for(previous.as_ref());
        let entry = Arc::new(self.timing.fetched(fetched, previous.as_deref(), epoch));
        self.store(Some(entry.clone()));
        entry
    }

    /// Put a credential handed over (set, loaded, given at build) in the cache.
    fn publish_given(&self, given: Expiring<F::Credential>) -> Entry<F> {
        let previous = self.same_as(given.credential());
        let epoch = self.epoch_for(previous.as_ref());
        let entry = Arc::new(self.timing.given(given, previous.as_deref(), epoch));
        self.store(Some(entry.clone()));
        entry
    }

    /// The slow path: one caller at a time behind the gate, re-checking the cache first.
    async fn obtain(&self, want: Want) -> Result<Entry<F>, F::Error> {
        let seen = self.attempts.load(Ordering::Acquire);
        let seen_started = self.started.load(Ordering::Acquire);
        let mut gate = self.gate.lock().await;
        if !gate.loaded {
            self.load(&mut gate).await?;
        }
        let current = self.current();
        if let Some(c) = &current {
            let replaced = match want {
                Want::Fresh => true,
                Want::Replace(epoch, _) => c.epoch() != epoch,
            };
            if replaced && !c.needs_renewal() {
                return Ok(c.clone());
            }
        }
        // A fetch finished while this caller waited, and failed: share its outcome rather than
        // repeat it (a thousand callers, one failed renewal, one fetch).
        if gate.attempts != seen
            && let Some(e) = &gate.last_error
        {
            return Err(e.clone());
        }
        // A fetch begun after this caller arrived (so after the 401 it reports) has answered:
        // its credential is as new as one more fetch would get. This holds when the issuer
        // answered with the same credential (same epoch), which asking again would only repeat.
        if self.started.load(Ordering::Acquire) != seen_started
            && let Some(c) = current.as_ref().filter(|c| c.is_usable())
        {
            return Ok(c.clone());
        }
        let reason = match (want, &current) {
            (Want::Replace(_, reason), _) => reason,
            (Want::Fresh, None) => RenewalReason::Missing,
            (Want::Fresh, Some(_)) => RenewalReason::Expiring,
        };
        let forget = AtomicBool::new(false);
        let renewal = Renewal::new(current.as_deref(), reason, &forget);
        self.started.fetch_add(1, Ordering::AcqRel);
        let result = self.fetcher.fetch(&renewal).await;
        if result.is_err() && forget.load(Ordering::Relaxed) {
            self.store(None);
        }
        self.finish(&mut gate, result).await
    }

    /// Load a stored credential, once.
    async fn load(&self, gate: &mut Gate<F::Error>) -> Result<(), F::Error> {
        let loaded = self.fetcher.load().await?;
        gate.loaded = true;
        if let Some(credential) = loaded
            && self.current().is_none()
        {
            self.publish_given(credential);
        }
        Ok(())
    }

    /// Record the outcome of a fetch made under the gate; publish and announce a new credential.
    async fn finish(
        &self,
        gate: &mut Gate<F::Error>,
        result: Result<Expiring<F::Credential>, F::Error>,
    ) -> Result<Entry<F>, F::Error> {
        gate.attempts += 1;
        self.attempts.store(gate.attempts, Ordering::Release);
        match result {
            Ok(fetched) => {
                gate.last_error = None;
                let entry = self.publish_fetched(fetched);
                self.fetcher.cached(&entry).await;
                Ok(entry)
            }
            Err(e) => {
                gate.last_error = Some(e.clone());
                Err(e)
            }
        }
    }
}

/// Configures a [`CredentialCache`]; start with [`CredentialCache::builder`].
#[must_use = "a builder does nothing until built"]
pub struct CredentialCacheBuilder<F: FetchCredential> {
    fetcher: F,
    apply: Apply<F::Credential>,
    timing: Timing,
    initial: Option<Expiring<F::Credential>>,
}

impl<F: FetchCredential> fmt::Debug for CredentialCacheBuilder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialCacheBuilder")
            .field("fetcher", &self.fetcher)
            .field("apply", &self.apply)
            .field("timing", &self.timing)
            .field("initial", &self.initial.as_ref().map(|_| "[credential]"))
            .finish()
    }
}

impl<F: FetchCredential> CredentialCacheBuilder<F> {
    /// Renew a credential this long before it expires (default 60 s; capped at half the
    /// lifetime of a credential fetched with one).
    pub fn expiry_skew(mut self, skew: Duration) -> Self {
        self.timing.skew = skew;
        self
    }

    /// The least time between a fetch and a renewal that no `401` forced (default 1 s).
    pub fn min_renewal_interval(mut self, interval: Duration) -> Self {
        self.timing.min_interval = interval;
        self
    }

    /// What a fetch that returns the credential already cached means (default
    /// [`SameCredential::Extended`]).
    pub fn same_credential(mut self, same: SameCredential) -> Self {
        self.timing.same = same;
        self
    }

    /// Apply the credential as `Authorization: Bearer <secret>` (the default).
    pub fn bearer(self) -> Self {
        self.header(HeaderCredential::bearer())
    }

    /// Apply the credential in one header (see [`HeaderCredential`]), marked sensitive.
    pub fn header(mut self, header: HeaderCredential) -> Self {
        self.apply = Apply::Header(header);
        self
    }

    /// Apply the credential in the header `name`, with no prefix.
    pub fn header_named(self, name: HeaderName) -> Self {
        self.header(HeaderCredential::named(name))
    }

    /// Apply the credential your own way (a query parameter, a signature).
    pub fn apply_with(mut self, apply: impl ApplyCredential<F::Credential>) -> Self {
        self.apply = Apply::Custom(Box::new(apply));
        self
    }

    /// Start from this credential; [`FetchCredential::load`] is then never called.
    pub fn credential(mut self, credential: Expiring<F::Credential>) -> Self {
        self.initial = Some(credential);
        self
    }

    /// Build the cache.
    pub fn build(self) -> CredentialCache<F> {
        let inner = Inner {
            id: NEXT_CACHE.fetch_add(1, Ordering::Relaxed),
            fetcher: self.fetcher,
            apply: self.apply,
            timing: self.timing,
            current: RwLock::new(None),
            next_epoch: AtomicU64::new(1),
            gate: Mutex::new(Gate {
                loaded: self.initial.is_some(),
                attempts: 0,
                last_error: None,
            }),
            attempts: AtomicU64::new(0),
            started: AtomicU64::new(0),
        };
        if let Some(credential) = self.initial {
            inner.publish_given(credential);
        }
        CredentialCache {
            inner: Arc::new(inner),
        }
    }
}

/// The renewal lock of a [`CredentialCache`], from [`CredentialCache::lock`]: no fetch runs
/// while it is held. Whatever it sets, clears or fetches supersedes a credential the cache
/// has yet to [`load`](FetchCredential::load).
pub struct CacheLock<'a, F: FetchCredential> {
    inner: &'a Inner<F>,
    gate: MutexGuard<'a, Gate<F::Error>>,
}

impl<F: FetchCredential> fmt::Debug for CacheLock<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheLock")
            .field("cached", &self.inner.current())
            .finish_non_exhaustive()
    }
}

impl<F: FetchCredential> CacheLock<'_, F> {
    /// The cached entry, usable or not.
    pub fn current(&self) -> Option<Entry<F>> {
        self.inner.current()
    }

    /// The fetcher.
    pub fn fetcher(&self) -> &F {
        &self.inner.fetcher
    }

    /// Put `credential` in the cache (the same credential keeps its epoch), then tell
    /// [`FetchCredential::cached`]. It is renewed `skew` before its expiry.
    pub async fn set(&mut self, credential: Expiring<F::Credential>) -> Entry<F> {
        self.gate.loaded = true;
        let entry = self.inner.publish_given(credential);
        self.inner.fetcher.cached(&entry).await;
        entry
    }

    /// Forget the cached credential: the next request fetches one.
    pub fn clear(&mut self) {
        self.gate.loaded = true;
        self.inner.store(None);
    }

    /// Run a fetch of your own (`fetch` is awaited here, under the lock) and treat its outcome
    /// as the cache's own: a credential is published as fetched and announced; an error is
    /// handed to the callers waiting for the lock.
    pub async fn fetch_with<Fut>(&mut self, fetch: Fut) -> Result<Entry<F>, F::Error>
    where
        Fut: Future<Output = Result<Expiring<F::Credential>, F::Error>>,
    {
        self.gate.loaded = true;
        self.inner.started.fetch_add(1, Ordering::AcqRel);
        let result = fetch.await;
        self.inner.finish(&mut *self.gate, result).await
    }
}

#[async_trait]
impl<F: FetchCredential> Authenticator for CredentialCache<F> {
    async fn authenticate(&self, request: &mut http::request::Parts) -> Result<(), AuthError> {
        let entry = self.get().await.map_err(Into::into)?;
        self.apply(&entry, request)
    }

    /// The cached credential when it needs no renewal; `None` (then `authenticate` fetches one)
    /// otherwise.
    fn authenticate_now(
        &self,
        request: &mut http::request::Parts,
    ) -> Option<Result<(), AuthError>> {
        let entry = self.inner.current().filter(|c| !c.needs_renewal())?;
        Some(self.apply(&entry, request))
    }

    async fn on_unauthorized(
        &self,
        request: &http::request::Parts,
        response: &http::response::Parts,
    ) -> Result<AuthRetry, AuthError> {
        let _ = response;
        let Some(epoch) = request
            .extensions
            .get::<CredentialEpoch>()
            .copied()
            .filter(|e| e.cache() == self.inner.id)
        else {
            // Not authenticated by this cache: nothing to renew.
            return Ok(AuthRetry::No);
        };
        let current = self.inner.current();
        if !self
            .inner
            .fetcher
            .can_renew(current.as_deref().map(Cached::credential))
        {
            return Ok(AuthRetry::No);
        }
        self.renew_after(epoch).await.map_err(Into::into)?;
        Ok(AuthRetry::Replay)
    }
}
