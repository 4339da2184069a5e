//! The state shared by every connection of one instance.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use super::blobs::Blobs;
use super::config::{DevConfig, DevUser};
use super::data_dir::Journal;
use super::faults::Faults;
use super::introspect::{CounterSet, Counters, LoggedRequest, MemoryUse, RequestLog};
use super::tls::Tls;
use super::tokens::Tokens;
use super::wal::Ticket;
use crate::db::Db;

pub(crate) struct State {
    pub(crate) config: DevConfig,
    pub(crate) base_url: String,
    db: RwLock<Db>,
    pub(crate) blobs: Blobs,
    /// The log of writes, with a data directory.
    pub(crate) journal: Option<Journal>,
    /// The TLS identity and acceptor, when serving HTTPS.
    pub(crate) tls: Option<Tls>,
    pub(crate) tokens: Mutex<Tokens>,
    pub(crate) faults: Mutex<Faults>,
    counters: Mutex<CounterSet>,
    log: Mutex<RequestLog>,
    clock_skew_ms: AtomicI64,
    revoke_refresh_with_access: AtomicBool,
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
        tls: Option<Tls>,
    ) -> Self {
        let faults = Faults::new(
            config.seed,
            config.faults.clone(),
            config.rate_limits.clone(),
        );
        let log = RequestLog::new(config.request_log_capacity, config.request_log_max_bytes);
        let cascade = config.oauth.revoke_refresh_with_access;
        Self {
            access_ttl_ms: AtomicI64::new(ms(config.access_token_ttl)),
            refresh_ttl_ms: AtomicI64::new(ms(config.refresh_token_ttl)),
            config,
            base_url,
            db: RwLock::new(db),
            blobs,
            journal,
            tls,
            tokens: Mutex::new(Tokens::default()),
            faults: Mutex::new(faults),
            counters: Mutex::new(CounterSet::default()),
            log: Mutex::new(log),
            clock_skew_ms: AtomicI64::new(0),
            revoke_refresh_with_access: AtomicBool::new(cascade),
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

    /// Whether revoking an access token also revokes its refresh token.
    pub(crate) fn revoke_refresh_with_access(&self) -> bool {
        self.revoke_refresh_with_access.load(Ordering::Relaxed)
    }

    pub(crate) fn set_revoke_refresh_with_access(&self, on: bool) {
        self.revoke_refresh_with_access.store(on, Ordering::Relaxed);
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

    fn counter_set(&self) -> MutexGuard<'_, CounterSet> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn log(&self) -> MutexGuard<'_, RequestLog> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn count_request(&self, path: &str, status: u16) {
        self.counter_set().count_request(path, status);
    }

    pub(crate) fn count_grant(&self, grant: &str) {
        self.counter_set().count_grant(grant);
    }

    pub(crate) fn counters(&self) -> Counters {
        self.counter_set().snapshot()
    }

    pub(crate) fn reset_counters(&self) {
        self.counter_set().reset();
    }

    pub(crate) fn log_request(&self, entry: LoggedRequest) {
        self.log().push(entry);
    }

    pub(crate) fn request_log(&self) -> Vec<LoggedRequest> {
        self.log().entries()
    }

    pub(crate) fn clear_request_log(&self) {
        self.log().clear();
    }

    /// What the request log, the counters and the attachment store hold.
    pub(crate) fn memory(&self) -> MemoryUse {
        let (request_log_entries, request_log_bytes, request_log_max_bytes) = {
            let log = self.log();
            (log.len(), log.bytes(), log.max_bytes())
        };
        let (counted_paths, counters_bytes) = {
            let c = self.counter_set();
            (c.paths(), c.accounted_bytes())
        };
        MemoryUse {
            request_log_entries,
            request_log_bytes,
            request_log_max_bytes,
            counted_paths,
            counters_bytes,
            attachment_bytes: self.blobs.total(),
            attachment_max_bytes: self.blobs.cap(),
            attachments_on_disk: self.blobs.on_disk_mode(),
        }
    }
}
