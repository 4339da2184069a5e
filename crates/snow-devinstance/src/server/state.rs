//! The state shared by every connection of one instance.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::blobs::Blobs;
use super::config::{DevConfig, DevUser};
use super::data_dir::Journal;
use super::faults::Faults;
use super::tokens::Tokens;
use super::wal::Ticket;
use crate::db::Db;

/// Distinct paths counted one by one; the rest are counted together.
const MAX_COUNTED_PATHS: usize = 10_000;

/// The counter key under which paths beyond the first 10,000 distinct ones are counted.
pub const OTHER_PATHS: &str = "<other>";

/// Request and token-grant counts since start (or the last reset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Path → status code → number of responses (after 10,000 distinct paths, further new
    /// paths are counted under [`OTHER_PATHS`]). Status 0 means the connection was dropped
    /// by an injected fault.
    pub requests: BTreeMap<String, BTreeMap<u16, u64>>,
    /// Grant type (`password`, `refresh_token`, `client_credentials`, `jwt_bearer`) → tokens issued.
    pub token_grants: BTreeMap<String, u64>,
}

impl Counters {
    /// Responses with `status` on `path`.
    pub fn requests_with(&self, path: &str, status: u16) -> u64 {
        self.requests
            .get(path)
            .and_then(|m| m.get(&status))
            .copied()
            .unwrap_or(0)
    }

    /// All responses on `path`.
    pub fn requests_to(&self, path: &str) -> u64 {
        self.requests
            .get(path)
            .map(|m| m.values().sum())
            .unwrap_or(0)
    }

    /// Tokens issued through `grant` (`password`, `refresh_token`, `client_credentials`, `jwt_bearer`).
    pub fn grants(&self, grant: &str) -> u64 {
        self.token_grants.get(grant).copied().unwrap_or(0)
    }
}

/// One request as the instance saw it, credentials redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string (`x-sn-apikey` and `token` values redacted).
    pub query: String,
    /// Request headers; `authorization`, `cookie`, `x-sn-apikey` and the like are `<redacted>`.
    pub headers: Vec<(String, String)>,
    /// The authenticated user, if any.
    pub user: Option<String>,
    /// Status of the response.
    pub status: u16,
}

pub(crate) struct State {
    pub(crate) config: DevConfig,
    pub(crate) base_url: String,
    db: RwLock<Db>,
    pub(crate) blobs: Blobs,
    /// The log of writes, with a data directory.
    pub(crate) journal: Option<Journal>,
    pub(crate) tokens: Mutex<Tokens>,
    pub(crate) faults: Mutex<Faults>,
    counters: Mutex<Counters>,
    log: Mutex<VecDeque<LoggedRequest>>,
    clock_skew_ms: AtomicI64,
    access_ttl_ms: AtomicI64,
    refresh_ttl_ms: AtomicI64,
    txn: AtomicU64,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl State {
    pub(crate) fn new(
        config: DevConfig,
        base_url: String,
        db: Db,
        blobs: Blobs,
        journal: Option<Journal>,
    ) -> Self {
        let faults = Faults::new(
            config.seed,
            config.faults.clone(),
            config.rate_limits.clone(),
        );
        Self {
            access_ttl_ms: AtomicI64::new(ms(config.access_token_ttl)),
            refresh_ttl_ms: AtomicI64::new(ms(config.refresh_token_ttl)),
            config,
            base_url,
            db: RwLock::new(db),
            blobs,
            journal,
            tokens: Mutex::new(Tokens::default()),
            faults: Mutex::new(faults),
            counters: Mutex::new(Counters::default()),
            log: Mutex::new(VecDeque::new()),
            clock_skew_ms: AtomicI64::new(0),
            txn: AtomicU64::new(0x79ae_e3f5_2fa2),
        }
    }

    pub(crate) fn db(&self) -> RwLockReadGuard<'_, Db> {
        self.db.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn db_mut(&self) -> RwLockWriteGuard<'_, Db> {
        self.db.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs the current state of these records (put, or delete when gone); call it with the
    /// database write lock held, right after changing them. Without a data directory the
    /// ticket is ready at once.
    pub(crate) fn log_changes(&self, db: &Db, sys_ids: &[&str]) -> Ticket {
        match &self.journal {
            Some(j) => j.record(db, sys_ids),
            None => Ticket::ready(),
        }
    }

    pub(crate) fn tokens(&self) -> MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn user(&self, name: &str) -> Option<&DevUser> {
        self.config.users.iter().find(|u| u.name == name)
    }

    /// Milliseconds since the epoch on the instance's clock (real time plus the configured skew).
    pub(crate) fn now_ms(&self) -> i64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(ms)
            .unwrap_or(0);
        real.saturating_add(self.clock_skew_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.now_ms()) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }

    pub(crate) fn set_clock_skew(&self, skew: Duration, forward: bool) {
        let v = ms(skew);
        self.clock_skew_ms
            .store(if forward { v } else { -v }, Ordering::Relaxed);
    }

    pub(crate) fn clock_skew_ms(&self) -> i64 {
        self.clock_skew_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn access_ttl_ms(&self) -> i64 {
        self.access_ttl_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn refresh_ttl_ms(&self) -> i64 {
        self.refresh_ttl_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn set_ttls(&self, access: Option<Duration>, refresh: Option<Duration>) {
        if let Some(a) = access {
            self.access_ttl_ms.store(ms(a), Ordering::Relaxed);
        }
        if let Some(r) = refresh {
            self.refresh_ttl_ms.store(ms(r), Ordering::Relaxed);
        }
    }

    /// A fresh 12-hex-character transaction id.
    pub(crate) fn transaction_id(&self) -> String {
        let n = self.txn.fetch_add(0x1_0001, Ordering::Relaxed);
        format!("{:012x}", n & 0xffff_ffff_ffff)
    }

    pub(crate) fn count_request(&self, path: &str, status: u16) {
        let mut c = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded: past MAX_COUNTED_PATHS distinct paths, new ones are counted under "<other>".
        let key = if c.requests.len() >= MAX_COUNTED_PATHS && !c.requests.contains_key(path) {
            OTHER_PATHS
        } else {
            path
        };
        *c.requests
            .entry(key.to_owned())
            .or_default()
            .entry(status)
            .or_default() += 1;
    }

    pub(crate) fn count_grant(&self, grant: &str) {
        let mut c = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        *c.token_grants.entry(grant.to_owned()).or_default() += 1;
    }

    pub(crate) fn counters(&self) -> Counters {
        self.counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn reset_counters(&self) {
        *self.counters.lock().unwrap_or_else(PoisonError::into_inner) = Counters::default();
    }

    pub(crate) fn log_request(&self, entry: LoggedRequest) {
        let cap = self.config.request_log_capacity;
        if cap == 0 {
            return;
        }
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        while log.len() >= cap {
            log.pop_front();
        }
        log.push_back(entry);
    }

    pub(crate) fn request_log(&self) -> Vec<LoggedRequest> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    pub(crate) fn clear_request_log(&self) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
