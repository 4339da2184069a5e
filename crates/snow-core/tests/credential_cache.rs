//! The credential cache with a counting fetcher: single flight, epochs, expiry, hooks.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use snow_core::credential::{
    Cached, CredentialCache, Expiring, FetchCredential, HeaderCredential, Renewal, RenewalReason,
    SameCredential,
};
use snow_core::secret::{ExposeSecret, SecretString};
use snow_core::{AuthError, AuthRetry, Authenticator, ErrorKind, async_trait, http};

/// Hands out `token-1`, `token-2`, ... (or the same token, or errors), counting fetches.
#[derive(Debug, Default)]
struct Counting {
    fetches: AtomicUsize,
    /// How long each fetch takes, so that concurrent callers pile up behind it.
    delay: Duration,
    lifetime: Option<Duration>,
    /// Fail this many fetches first (transiently).
    failures: AtomicUsize,
    /// Always answer with the same token.
    same: bool,
    renewable: Option<bool>,
    stored: Mutex<Option<Expiring<SecretString>>>,
    seen: Mutex<Vec<(u64, bool)>>,
    reasons: Mutex<Vec<RenewalReason>>,
    forget_on_error: AtomicBool,
}

#[async_trait]
impl FetchCredential for Counting {
    type Credential = SecretString;
    type Error = AuthError;

    async fn fetch(
        &self,
        renewal: &Renewal<'_, SecretString>,
    ) -> Result<Expiring<SecretString>, AuthError> {
        self.reasons.lock().unwrap().push(renewal.reason());
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1))
            .is_ok()
        {
            if self.forget_on_error.load(Ordering::SeqCst) {
                renewal.forget_current();
            }
            return Err(AuthError::refused("the vault is sealed", true));
        }
        let token = if self.same { 1 } else { n };
        let fetched = Expiring::new(SecretString::from(format!("token-{token}")));
        Ok(match self.lifetime {
            Some(l) => fetched.expires_in(l),
            None => fetched,
        })
    }

    async fn load(&self) -> Result<Option<Expiring<SecretString>>, AuthError> {
        Ok(self.stored.lock().unwrap().take())
    }

    async fn cached(&self, entry: &Cached<SecretString>) {
        self.seen
            .lock()
            .unwrap()
            .push((entry.epoch().get(), entry.is_reissue()));
    }

    fn can_renew(&self, _current: Option<&SecretString>) -> bool {
        self.renewable.unwrap_or(true)
    }
}

impl Counting {
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn parts() -> http::request::Parts {
    http::Request::get("https://acme.service-now.com/api/now/table/incident")
        .body(())
        .unwrap()
        .into_parts()
        .0
}

fn unauthorized() -> http::response::Parts {
    http::Response::builder()
        .status(401)
        .body(())
        .unwrap()
        .into_parts()
        .0
}

async fn header(auth: &impl Authenticator) -> String {
    let mut p = parts();
    auth.authenticate(&mut p).await.unwrap();
    p.headers["authorization"].to_str().unwrap().to_owned()
}

fn expired(token: &str) -> Expiring<SecretString> {
    Expiring::new(SecretString::from(token)).expires_at(UNIX_EPOCH + Duration::from_secs(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_401s_with_a_stale_credential_renew_once() {
    let auth = CredentialCache::new(Counting {
        delay: Duration::from_millis(50),
        ..Counting::default()
    });
    let mut stale = Vec::new();
    for _ in 0..1000 {
        let mut p = parts();
        auth.authenticate(&mut p).await.unwrap();
        stale.push(p);
    }
    assert_eq!(auth.fetcher().fetches(), 1);
    let response = Arc::new(unauthorized());
    let tasks: Vec<_> = stale
        .into_iter()
        .map(|p| {
            let (auth, response) = (auth.clone(), response.clone());
            tokio::spawn(async move { auth.on_unauthorized(&p, &response).await.unwrap() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), AuthRetry::Replay);
    }
    assert_eq!(
        auth.fetcher().fetches(),
        2,
        "one renewal for a thousand 401s"
    );
    assert_eq!(header(&auth).await, "Bearer token-2");
    assert_eq!(
        *auth.fetcher().reasons.lock().unwrap(),
        [RenewalReason::Missing, RenewalReason::Rejected]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_requests_with_an_expired_credential_fetch_once() {
    let auth = CredentialCache::builder(Counting {
        delay: Duration::from_millis(50),
        ..Counting::default()
    })
    .credential(expired("stale"))
    .build();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { header(&auth).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), "Bearer token-1");
    }
    assert_eq!(auth.fetcher().fetches(), 1);
    assert_eq!(
        *auth.fetcher().reasons.lock().unwrap(),
        [RenewalReason::Expiring]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failed_renewal_is_shared_with_its_waiters() {
    let auth = CredentialCache::new(Counting {
        delay: Duration::from_millis(50),
        failures: AtomicUsize::new(1),
        ..Counting::default()
    });
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { auth.authenticate(&mut parts()).await.unwrap_err() })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap();
        assert!(
            matches!(
                err,
                AuthError::Refused {
                    transient: true,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Transient);
    }
    assert_eq!(
        auth.fetcher().fetches(),
        1,
        "the waiters got the same error"
    );
    // A later request tries again.
    assert_eq!(header(&auth).await, "Bearer token-2");
    assert_eq!(auth.fetcher().fetches(), 2);
}

#[tokio::test]
async fn renews_before_expiry_with_the_skew_capped_at_half_the_lifetime() {
    let auth = CredentialCache::new(Counting {
        lifetime: Some(Duration::from_millis(1600)),
        ..Counting::default()
    });
    assert_eq!(header(&auth).await, "Bearer token-1");
    assert_eq!(header(&auth).await, "Bearer token-1");
    let entry = auth.cached().unwrap();
    let renew_in = entry
        .renew_at()
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(
        renew_in <= Duration::from_millis(800),
        "half of the life: {renew_in:?}"
    );
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(header(&auth).await, "Bearer token-2");
    assert_eq!(auth.fetcher().fetches(), 2);
}

#[tokio::test]
async fn an_already_expired_answer_is_fetched_at_most_once_a_second_unless_refused() {
    let auth = CredentialCache::new(Counting {
        lifetime: Some(Duration::ZERO),
        ..Counting::default()
    });
    for _ in 0..50 {
        assert_eq!(header(&auth).await, "Bearer token-1");
    }
    assert_eq!(
        auth.fetcher().fetches(),
        1,
        "held back by the minimum interval"
    );
    // A 401 is never held back.
    let mut p = parts();
    auth.authenticate(&mut p).await.unwrap();
    assert_eq!(
        auth.on_unauthorized(&p, &unauthorized()).await.unwrap(),
        AuthRetry::Replay
    );
    assert_eq!(header(&auth).await, "Bearer token-2");
}

#[tokio::test]
async fn the_same_credential_keeps_its_epoch_and_its_expiry_when_asked_to() {
    let auth = CredentialCache::builder(Counting {
        same: true,
        lifetime: Some(Duration::from_secs(1800)),
        ..Counting::default()
    })
    .same_credential(SameCredential::KeepsExpiry {
        precision: Duration::from_secs(1),
    })
    .build();
    let first = auth.get().await.unwrap();
    let again = auth.renew().await.unwrap();
    assert_eq!(again.epoch(), first.epoch());
    assert!(again.is_reissue() && !first.is_reissue());
    // Used until it has expired (+ precision), not renewed a skew before.
    let renew_at = again.renew_at().unwrap();
    assert!(renew_at > first.expires_at().unwrap());
    assert_eq!(
        *auth.fetcher().seen.lock().unwrap(),
        [(1, false), (1, true)]
    );
}

#[tokio::test]
async fn a_401_is_handed_back_when_nothing_can_renew_the_credential() {
    let auth = CredentialCache::builder(Counting {
        renewable: Some(false),
        ..Counting::default()
    })
    .credential(Expiring::new(SecretString::from("static")))
    .build();
    let mut p = parts();
    auth.authenticate(&mut p).await.unwrap();
    assert_eq!(
        auth.on_unauthorized(&p, &unauthorized()).await.unwrap(),
        AuthRetry::No
    );
    // A request this cache did not authenticate (or another cache did) is not renewed either.
    let other = CredentialCache::new(Counting::default());
    let mut q = parts();
    other.authenticate(&mut q).await.unwrap();
    let renewable = CredentialCache::new(Counting::default());
    assert_eq!(
        renewable
            .on_unauthorized(&q, &unauthorized())
            .await
            .unwrap(),
        AuthRetry::No
    );
    assert_eq!(renewable.fetcher().fetches(), 0);
    assert_eq!(auth.fetcher().fetches(), 0);
}

#[tokio::test]
async fn a_stored_credential_is_loaded_once_and_every_new_one_announced() {
    let fetcher = Counting::default();
    *fetcher.stored.lock().unwrap() = Some(Expiring::new(SecretString::from("stored")));
    let auth = CredentialCache::new(fetcher);
    assert_eq!(header(&auth).await, "Bearer stored");
    assert_eq!(auth.fetcher().fetches(), 0);
    auth.renew().await.unwrap();
    assert_eq!(header(&auth).await, "Bearer token-1");
    // The loaded credential came from storage: only the fetched one is announced.
    assert_eq!(*auth.fetcher().seen.lock().unwrap(), [(2, false)]);
}

#[tokio::test]
async fn a_dead_credential_can_be_forgotten_by_a_failed_fetch() {
    let auth = CredentialCache::builder(Counting {
        failures: AtomicUsize::new(1),
        forget_on_error: AtomicBool::new(true),
        ..Counting::default()
    })
    .credential(expired("dead"))
    .build();
    assert!(auth.get().await.is_err());
    assert!(auth.cached().is_none(), "forgotten");
}

#[tokio::test]
async fn the_lock_sets_clears_and_fetches() {
    let auth = CredentialCache::new(Counting::default());
    {
        let mut lock = auth.lock().await;
        let entry = lock.set(Expiring::new(SecretString::from("given"))).await;
        assert_eq!(entry.epoch().get(), 1);
        // Setting the same credential again keeps its epoch.
        let again = lock.set(Expiring::new(SecretString::from("given"))).await;
        assert_eq!(again.epoch(), entry.epoch());
    }
    assert_eq!(header(&auth).await, "Bearer given");
    {
        let mut lock = auth.lock().await;
        let fetched = lock
            .fetch_with(async { Ok(Expiring::new(SecretString::from("mine"))) })
            .await
            .unwrap();
        assert_eq!(fetched.credential().expose_secret(), "mine");
        lock.clear();
        assert!(lock.current().is_none());
    }
    assert_eq!(header(&auth).await, "Bearer token-1");
    assert_eq!(auth.fetcher().fetches(), 1);
}

#[tokio::test]
async fn other_headers_hooks_and_no_secret_in_debug() {
    let vault = CredentialCache::builder(Counting::default())
        .header(
            HeaderCredential::named(http::HeaderName::from_static("x-vault-token")).prefix("v1."),
        )
        .build();
    let mut p = parts();
    vault.authenticate(&mut p).await.unwrap();
    assert_eq!(p.headers["x-vault-token"], "v1.token-1");
    assert!(p.headers["x-vault-token"].is_sensitive());

    let query = CredentialCache::builder(Counting::default())
        .apply_with(|t: &SecretString, r: &mut http::request::Parts| {
            r.uri = format!("{}?key={}", r.uri, t.expose_secret())
                .parse()
                .map_err(|_| AuthError::InvalidCredential { what: "key" })?;
            Ok(())
        })
        .build();
    let mut p = parts();
    query.authenticate(&mut p).await.unwrap();
    assert!(p.uri.to_string().ends_with("?key=token-1"));

    let bad = CredentialCache::builder(Counting::default())
        .credential(Expiring::new(SecretString::from("a\nb")))
        .build();
    let err = bad.authenticate(&mut parts()).await.unwrap_err();
    assert!(
        matches!(err, AuthError::InvalidCredential { .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("a\nb"));

    let debug = format!("{vault:?} {:?}", vault.cached());
    assert!(
        !debug.contains("token-1") && debug.contains("x-vault-token"),
        "{debug}"
    );
}

#[tokio::test]
async fn a_usable_cached_credential_is_at_hand_and_one_due_for_renewal_is_not() {
    use snow_core::credential::CredentialEpoch;
    // Nothing cached yet: the credential must be fetched, so it is not at hand.
    let auth = CredentialCache::new(Counting::default());
    assert!(auth.authenticate_now(&mut parts()).is_none());
    assert_eq!(header(&auth).await, "Bearer token-1");
    // Cached: applied as `authenticate` applies it, epoch included, with no fetch.
    let mut p = parts();
    assert!(matches!(auth.authenticate_now(&mut p), Some(Ok(()))));
    assert_eq!(p.headers["authorization"], "Bearer token-1");
    assert!(p.headers["authorization"].is_sensitive());
    assert_eq!(
        p.extensions.get::<CredentialEpoch>().copied(),
        Some(auth.cached().unwrap().epoch())
    );
    assert_eq!(auth.fetcher().fetches(), 1);
    // Expired: not at hand; `authenticate` renews it.
    let stale = CredentialCache::builder(Counting::default())
        .credential(expired("stale"))
        .build();
    assert!(stale.cached().is_some());
    assert!(stale.authenticate_now(&mut parts()).is_none());
    assert_eq!(header(&stale).await, "Bearer token-1");
}
