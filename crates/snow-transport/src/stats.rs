//! Counters of what a transport did: requests, retries by reason, throttling by kind, bytes and
//! time waited. Plain atomics, cheap enough to leave on; read them with
//! [`Transport::stats`](crate::Transport::stats).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Why a request was sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryReason {
    /// `429` from a rate-limit rule (`X-RateLimit-*` headers, or the documented
    /// "Rate limit exceeded" body): waited for `Retry-After` or the window's reset.
    RateLimited,
    /// `429` without rate-limit headers: the instance's request queue (the API_INT semaphore)
    /// was full; backed off briefly with jitter.
    Semaphore,
    /// `202` to a `GET` or `HEAD`: the session was busy (session synchronisation).
    SessionRejected,
    /// `502`, `503` or `504`.
    ServerError,
    /// `408`, or the per-attempt timeout elapsed.
    Timeout,
    /// No connection could be made, or it dropped before the answer.
    Connection,
    /// Anything else retryable (a transient authentication failure).
    Other,
}

impl RetryReason {
    /// Every reason, in the order of [`RetryCounts`]' fields.
    pub const ALL: [RetryReason; 7] = [
        RetryReason::RateLimited,
        RetryReason::Semaphore,
        RetryReason::SessionRejected,
        RetryReason::ServerError,
        RetryReason::Timeout,
        RetryReason::Connection,
        RetryReason::Other,
    ];

    /// A short snake_case name for logs and metric labels (`rate_limited`, `semaphore`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RetryReason::RateLimited => "rate_limited",
            RetryReason::Semaphore => "semaphore",
            RetryReason::SessionRejected => "session_rejected",
            RetryReason::ServerError => "server_error",
            RetryReason::Timeout => "timeout",
            RetryReason::Connection => "connection",
            RetryReason::Other => "other",
        }
    }

    fn index(self) -> usize {
        match self {
            RetryReason::RateLimited => 0,
            RetryReason::Semaphore => 1,
            RetryReason::SessionRejected => 2,
            RetryReason::ServerError => 3,
            RetryReason::Timeout => 4,
            RetryReason::Connection => 5,
            RetryReason::Other => 6,
        }
    }
}

impl fmt::Display for RetryReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Retries by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryCounts {
    /// After a rate-limit rule's `429`.
    pub rate_limited: u64,
    /// After a semaphore `429` (no rate-limit headers).
    pub semaphore: u64,
    /// After a `202` session rejection.
    pub session_rejected: u64,
    /// After a `502`, `503` or `504`.
    pub server_error: u64,
    /// After a `408` or a per-attempt timeout.
    pub timeout: u64,
    /// After a failed or dropped connection.
    pub connection: u64,
    /// After anything else retryable.
    pub other: u64,
}

impl RetryCounts {
    /// The count for one reason.
    pub fn get(&self, reason: RetryReason) -> u64 {
        match reason {
            RetryReason::RateLimited => self.rate_limited,
            RetryReason::Semaphore => self.semaphore,
            RetryReason::SessionRejected => self.session_rejected,
            RetryReason::ServerError => self.server_error,
            RetryReason::Timeout => self.timeout,
            RetryReason::Connection => self.connection,
            RetryReason::Other => self.other,
        }
    }

    /// All retries, whatever the reason.
    pub fn total(&self) -> u64 {
        RetryReason::ALL.iter().map(|r| self.get(*r)).sum()
    }
}

/// A snapshot of a transport's counters, from [`Transport::stats`](crate::Transport::stats):
/// every clone of the transport (and of a client over it, and every handle made with
/// `with_auth`) adds to the same counters, from the moment it was built.
///
/// ```
/// use snow_transport::{Instance, Transport};
///
/// let transport = Transport::builder(Instance::from_name("acme")?).build()?;
/// let stats = transport.stats();
/// assert_eq!(stats.requests, 0);
/// assert_eq!(stats.retries.total(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Logical requests started (a request and its retries count once; token calls too).
    pub requests: u64,
    /// Attempts sent: first tries and retries.
    pub attempts: u64,
    /// Retries, by reason.
    pub retries: RetryCounts,
    /// `429`s from a rate-limit rule.
    pub rate_limit_429s: u64,
    /// `429`s without rate-limit headers (a full request queue).
    pub semaphore_429s: u64,
    /// `202`s to a `GET` or `HEAD` (session rejections).
    pub session_rejections: u64,
    /// Requests that ended in an error (the transport's; a non-2xx answer is not one).
    pub failed: u64,
    /// Requests that failed with [`TransportError::RateLimited`](crate::TransportError::RateLimited).
    pub rate_limited: u64,
    /// Requests dropped by their caller before an answer arrived.
    pub cancelled: u64,
    /// Request body bytes sent (every attempt counts).
    pub bytes_sent: u64,
    /// Response body bytes received (as read by the caller).
    pub bytes_received: u64,
    /// Attempts that waited before being sent, to spread a rate-limit budget (pacing).
    pub paced: u64,
    /// Time spent waiting for pacing.
    pub waited_pacing: Duration,
    /// Time spent waiting before retries: backoff, `Retry-After`, a rate-limit window's reset.
    pub waited_retrying: Duration,
}

impl Stats {
    /// All time spent waiting: pacing and before retries.
    pub fn waited(&self) -> Duration {
        self.waited_pacing.saturating_add(self.waited_retrying)
    }
}

/// What the transport's 429s and 202s were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Throttled {
    RateLimit,
    Semaphore,
    SessionRejected,
}

/// The live counters behind [`Stats`], shared by every layer that counts.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    attempts: AtomicU64,
    retries: [AtomicU64; 7],
    rate_limit_429s: AtomicU64,
    semaphore_429s: AtomicU64,
    session_rejections: AtomicU64,
    failed: AtomicU64,
    rate_limited: AtomicU64,
    cancelled: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    paced: AtomicU64,
    waited_pacing_ns: AtomicU64,
    waited_retrying_ns: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Counters {
    pub(crate) fn request(&self) {
        add(&self.requests, 1);
    }

    pub(crate) fn attempt(&self) {
        add(&self.attempts, 1);
    }

    pub(crate) fn retry(&self, reason: RetryReason, waited: Duration) {
        add(&self.retries[reason.index()], 1);
        add(&self.waited_retrying_ns, nanos(waited));
    }

    pub(crate) fn throttled(&self, what: Throttled) {
        add(
            match what {
                Throttled::RateLimit => &self.rate_limit_429s,
                Throttled::Semaphore => &self.semaphore_429s,
                Throttled::SessionRejected => &self.session_rejections,
            },
            1,
        );
    }

    pub(crate) fn failed(&self, rate_limited: bool) {
        add(&self.failed, 1);
        if rate_limited {
            add(&self.rate_limited, 1);
        }
    }

    pub(crate) fn cancelled(&self) {
        add(&self.cancelled, 1);
    }

    pub(crate) fn sent(&self, bytes: u64) {
        add(&self.bytes_sent, bytes);
    }

    pub(crate) fn received(&self, bytes: u64) {
        add(&self.bytes_received, bytes);
    }

    pub(crate) fn paced(&self, waited: Duration) {
        add(&self.paced, 1);
        add(&self.waited_pacing_ns, nanos(waited));
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let r = |reason: RetryReason| get(&self.retries[reason.index()]);
        Stats {
            requests: get(&self.requests),
            attempts: get(&self.attempts),
            retries: RetryCounts {
                rate_limited: r(RetryReason::RateLimited),
                semaphore: r(RetryReason::Semaphore),
                session_rejected: r(RetryReason::SessionRejected),
                server_error: r(RetryReason::ServerError),
                timeout: r(RetryReason::Timeout),
                connection: r(RetryReason::Connection),
                other: r(RetryReason::Other),
            },
            rate_limit_429s: get(&self.rate_limit_429s),
            semaphore_429s: get(&self.semaphore_429s),
            session_rejections: get(&self.session_rejections),
            failed: get(&self.failed),
            rate_limited: get(&self.rate_limited),
            cancelled: get(&self.cancelled),
            bytes_sent: get(&self.bytes_sent),
            bytes_received: get(&self.bytes_received),
            paced: get(&self.paced),
            waited_pacing: Duration::from_nanos(get(&self.waited_pacing_ns)),
            waited_retrying: Duration::from_nanos(get(&self.waited_retrying_ns)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_in_the_snapshot() {
        let c = Counters::default();
        c.request();
        c.attempt();
        c.attempt();
        c.retry(RetryReason::Semaphore, Duration::from_millis(30));
        c.retry(RetryReason::RateLimited, Duration::from_secs(2));
        c.throttled(Throttled::Semaphore);
        c.throttled(Throttled::RateLimit);
        c.paced(Duration::from_millis(500));
        c.sent(10);
        c.received(100);
        c.failed(true);
        let s = c.snapshot();
        assert_eq!((s.requests, s.attempts), (1, 2));
        assert_eq!(s.retries.semaphore, 1);
        assert_eq!(s.retries.rate_limited, 1);
        assert_eq!(s.retries.total(), 2);
        assert_eq!((s.rate_limit_429s, s.semaphore_429s), (1, 1));
        assert_eq!((s.bytes_sent, s.bytes_received), (10, 100));
        assert_eq!((s.failed, s.rate_limited, s.paced), (1, 1, 1));
        assert_eq!(s.waited(), Duration::from_millis(2530));
        for r in RetryReason::ALL {
            assert_eq!(RetryReason::ALL[r.index()], r);
        }
    }
}
