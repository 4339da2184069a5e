//! Retry settings.

use std::time::Duration;

/// What to do when a server asks (with `Retry-After`) to wait longer than
/// [`RetryConfig::max_retry_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LongRetryAfter {
    /// Give up and return [`TransportError::RetryAfterTooLong`](crate::TransportError::RetryAfterTooLong).
    #[default]
    Error,
    /// Wait [`RetryConfig::max_retry_after`] instead, then retry.
    Cap,
}

/// When and how requests are retried.
///
/// A request is retried when its answer or its failure is of a retryable
/// [`ErrorKind`](snow_core::ErrorKind), the one classification every snow error uses:
///
/// - answers classified by [`ErrorKind::of_status`](snow_core::ErrorKind::of_status) as
///   transient or throttling: `408`, `429 Too Many Requests` (waiting as long as its
///   `Retry-After` says, in seconds or as an HTTP date, up to
///   [`max_retry_after`](Self::max_retry_after)), `502`, `503` (also honouring `Retry-After`),
///   `504`, and a `GET` or `HEAD` answered `202 Accepted`, which is how ServiceNow rejects a
///   request whose session is busy with another one (session synchronisation; can be turned off
///   with [`retry_session_rejected`](Self::retry_session_rejected));
/// - failures whose [`TransportError::kind`](crate::TransportError::kind) is retryable: no
///   connection could be made, the connection dropped before a response arrived, the
///   per-attempt timeout elapsed, the authenticator failed transiently. An answer that is not
///   acceptable HTTP ([`ResponseHeadTooLarge`](crate::TransportError::ResponseHeadTooLarge),
///   [`MalformedResponse`](crate::TransportError::MalformedResponse)) is not retried: the same
///   request would get the same answer.
///
/// Without `Retry-After` it waits an exponential backoff with full jitter: a random delay between
/// zero and `base_delay * 2^retry`, at most `max_delay`.
///
/// Only idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) are retried, unless the
/// request carries the [`RetryNonIdempotent`](crate::RetryNonIdempotent) extension, and only
/// requests with a replayable [`Body`](crate::Body).
///
/// ```
/// use std::time::Duration;
/// use snow_transport::{LongRetryAfter, RetryConfig};
///
/// let retry = RetryConfig::default()
///     .max_attempts(5)
///     .base_delay(Duration::from_millis(100))
///     .max_retry_after(Duration::from_secs(30))
///     .retry_after_too_long(LongRetryAfter::Cap);
/// assert_eq!(retry.max_attempts, 5);
/// assert_eq!(RetryConfig::disabled().max_attempts, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Attempts in all, the first one included (1 = no retry). Default 3.
    pub max_attempts: u32,
    /// Backoff base: the first retry waits up to this long. Default 200 ms.
    pub base_delay: Duration,
    /// Backoff ceiling. Default 10 s.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured. Default 60 s.
    pub max_retry_after: Duration,
    /// What to do with a longer `Retry-After`. Default [`LongRetryAfter::Error`].
    pub retry_after_too_long: LongRetryAfter,
    /// Retry a `GET` or `HEAD` answered `202 Accepted` (ServiceNow's session-synchronisation
    /// rejection: a GET never legitimately gets a 202 from it). Default `true`.
    pub retry_session_rejected: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
            retry_after_too_long: LongRetryAfter::Error,
            retry_session_rejected: true,
        }
    }
}

impl RetryConfig {
    /// Never retry.
    pub fn disabled() -> Self {
        Self::default().max_attempts(1)
    }

    /// Set [`max_attempts`](Self::max_attempts).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// Set [`base_delay`](Self::base_delay).
    #[must_use]
    pub fn base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }

    /// Set [`max_delay`](Self::max_delay).
    #[must_use]
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// Set [`max_retry_after`](Self::max_retry_after).
    #[must_use]
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// Set [`retry_after_too_long`](Self::retry_after_too_long).
    #[must_use]
    pub fn retry_after_too_long(mut self, what: LongRetryAfter) -> Self {
        self.retry_after_too_long = what;
        self
    }

    /// Set [`retry_session_rejected`](Self::retry_session_rejected).
    #[must_use]
    pub fn retry_session_rejected(mut self, yes: bool) -> Self {
        self.retry_session_rejected = yes;
        self
    }
}

/// Put this in a request's extensions to allow retrying it although its method is not
/// idempotent (a POST or PATCH the caller knows is safe to repeat).
///
/// ```
/// use snow_transport::{Body, RetryNonIdempotent};
///
/// let mut req = http::Request::post("/api/now/table/incident").body(Body::from("{}")).unwrap();
/// req.extensions_mut().insert(RetryNonIdempotent);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryNonIdempotent;
