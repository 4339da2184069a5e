//! What tests inspect: request counters and the request log, both bounded in bytes so that
//! hostile traffic (huge heads, endless distinct paths) cannot pin memory.

use std::collections::{BTreeMap, VecDeque};
use std::mem::size_of;

use serde::{Deserialize, Serialize};

/// Distinct paths counted one by one; the rest are counted together.
const MAX_COUNTED_PATHS: usize = 10_000;

/// Paths longer than this are counted under [`OTHER_PATHS`].
const MAX_COUNTED_PATH_LEN: usize = 512;

/// Total bytes of the distinct paths counted one by one.
const MAX_COUNTED_PATH_BYTES: usize = 1024 * 1024;

/// Bytes accounted per counted path besides its text (map node, inner map).
const PATH_OVERHEAD: usize = 96;

/// Bytes accounted per status code counted on a path.
const STATUS_OVERHEAD: usize = 32;

/// The counter key under which paths are counted together: paths longer than 512 bytes, and
/// new paths once 10,000 distinct ones (or 1 MiB of them) are counted.
pub const OTHER_PATHS: &str = "<other>";

/// Request and token-grant counts since start (or the last reset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Path → status code → number of responses (paths longer than 512 bytes, and new paths
    /// after 10,000 distinct ones or 1 MiB of them, are counted under [`OTHER_PATHS`]).
    /// Status 0 means the connection was dropped by an injected fault.
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

/// One request as the instance saw it, credentials redacted and every part bounded: the path
/// is kept up to 2 KiB, the query up to 8 KiB, each header value up to 1 KiB, and headers
/// beyond 16 KiB for the whole entry are left out (a last `("<truncated>", "N headers")`
/// pair says how many). Cut values end in `…`.
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

impl LoggedRequest {
    /// The bytes this entry is accounted for in the request log: its text plus the size of
    /// the structures holding it.
    pub fn accounted_bytes(&self) -> usize {
        size_of::<Self>()
            + self.method.len()
            + self.path.len()
            + self.query.len()
            + self.user.as_ref().map_or(0, String::len)
            + self
                .headers
                .iter()
                .map(|(k, v)| size_of::<(String, String)>() + k.len() + v.len())
                .sum::<usize>()
    }
}

/// How much memory the instance's bookkeeping holds, for checking the caps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemoryUse {
    /// Entries in the request log.
    pub request_log_entries: usize,
    /// Bytes the request log is accounted for (sum of [`LoggedRequest::accounted_bytes`]).
    pub request_log_bytes: usize,
    /// The request log's cap in bytes (`DevConfig::request_log_max_bytes`).
    pub request_log_max_bytes: usize,
    /// Distinct paths counted one by one.
    pub counted_paths: usize,
    /// Bytes the counters are accounted for (path texts plus a fixed overhead per path and
    /// per status).
    pub counters_bytes: usize,
    /// Attachment bytes stored (in memory, or on disk with a data directory).
    pub attachment_bytes: u64,
    /// The cap on stored attachment bytes (`DevConfig::max_attachment_total_bytes`).
    pub attachment_max_bytes: u64,
    /// Whether attachment bytes live on disk (with a data directory) rather than in memory.
    pub attachments_on_disk: bool,
}

/// The counters with the bookkeeping that keeps them bounded.
#[derive(Debug, Default)]
pub(crate) struct CounterSet {
    counters: Counters,
    /// Bytes of the distinct path keys.
    key_bytes: usize,
    /// Sum over paths of the statuses counted.
    statuses: usize,
}

impl CounterSet {
    pub(crate) fn count_request(&mut self, path: &str, status: u16) {
        let c = &mut self.counters;
        let own_key = c.requests.contains_key(path)
            || (path.len() <= MAX_COUNTED_PATH_LEN
                && c.requests.len() < MAX_COUNTED_PATHS
                && self.key_bytes + path.len() <= MAX_COUNTED_PATH_BYTES);
        let key = if own_key { path } else { OTHER_PATHS };
        let per_path = match c.requests.get_mut(key) {
            Some(m) => m,
            None => {
                self.key_bytes += key.len();
                c.requests.entry(key.to_owned()).or_default()
            }
        };
        let n = per_path.entry(status).or_insert_with(|| {
            self.statuses += 1;
            0
        });
        *n += 1;
    }

    pub(crate) fn count_grant(&mut self, grant: &str) {
        *self
            .counters
            .token_grants
            .entry(grant.to_owned())
            .or_default() += 1;
    }

    pub(crate) fn snapshot(&self) -> Counters {
        self.counters.clone()
    }

    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    pub(crate) fn paths(&self) -> usize {
        self.counters.requests.len()
    }

    pub(crate) fn accounted_bytes(&self) -> usize {
        self.key_bytes
            + self.counters.requests.len() * PATH_OVERHEAD
            + self.statuses * STATUS_OVERHEAD
    }
}

/// The request log: newest entries kept, oldest dropped first, bounded in entries and bytes.
#[derive(Debug)]
pub(crate) struct RequestLog {
    entries: VecDeque<LoggedRequest>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl RequestLog {
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    pub(crate) fn push(&mut self, entry: LoggedRequest) {
        let size = entry.accounted_bytes();
        if self.max_entries == 0 || size > self.max_bytes {
            return;
        }
        while self.entries.len() >= self.max_entries || self.bytes + size > self.max_bytes {
            match self.entries.pop_front() {
                Some(old) => self.bytes -= old.accounted_bytes(),
                None => break,
            }
        }
        self.bytes += size;
        self.entries.push_back(entry);
    }

    pub(crate) fn entries(&self) -> Vec<LoggedRequest> {
        self.entries.iter().cloned().collect()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn max_bytes(&self) -> usize {
        self.max_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, pad: usize) -> LoggedRequest {
        LoggedRequest {
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            headers: vec![("x-pad".into(), "a".repeat(pad))],
            user: None,
            status: 401,
        }
    }

    #[test]
    fn the_log_keeps_the_newest_entries_within_its_bytes() {
        let mut log = RequestLog::new(10_000, 50_000);
        for i in 0..1000 {
            log.push(entry(&format!("/p{i}"), 1000));
        }
        assert!(log.bytes() <= 50_000, "{}", log.bytes());
        let kept = log.entries();
        assert_eq!(
            log.bytes(),
            kept.iter()
                .map(LoggedRequest::accounted_bytes)
                .sum::<usize>()
        );
        assert_eq!(kept.last().map(|e| e.path.as_str()), Some("/p999"));
        assert!(kept.len() > 10 && kept.len() < 60, "{}", kept.len());
        log.push(entry("/huge", 60_000));
        assert_eq!(log.entries().last().map(|e| e.path.as_str()), Some("/p999"));
        log.clear();
        assert_eq!((log.len(), log.bytes()), (0, 0));
    }

    #[test]
    fn counters_stay_bounded_by_paths_and_bytes() {
        let mut c = CounterSet::default();
        for i in 0..20_000 {
            c.count_request(&format!("/{i:0>400}"), 401);
        }
        c.count_request(&"/x".repeat(1000), 404);
        let counters = c.snapshot();
        assert!(
            c.accounted_bytes() < 2 * 1024 * 1024,
            "{}",
            c.accounted_bytes()
        );
        assert!(c.paths() < 3000, "{}", c.paths());
        assert!(counters.requests_with(OTHER_PATHS, 401) > 17_000);
        assert_eq!(counters.requests_with(OTHER_PATHS, 404), 1);
        let total: u64 = counters.requests.values().flat_map(|m| m.values()).sum();
        assert_eq!(total, 20_001, "every request counted");
    }
}
