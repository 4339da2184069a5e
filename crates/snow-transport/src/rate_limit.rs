//! [`RateLimitConfig`]: how a transport keeps within the instance's rate-limit rules.

use std::time::Duration;

/// Whether and how requests are spread to keep within a rate-limit rule's budget.
///
/// ServiceNow sends `X-RateLimit-Limit` (requests per window), `X-RateLimit-Reset` (when the
/// window resets, UNIX time) and `X-RateLimit-Rule` (the rule's sys_id) on every answer to a
/// request a rule covers. It sends no "remaining" count: the transport counts the answers it
/// got in the current window itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Pacing {
    /// Never wait before sending. A rate-limit rule's `429` is still told from a semaphore
    /// `429` and waited out before a retry.
    Off,
    /// Spread requests so that the rule's budget lasts until its window resets (the default).
    ///
    /// At the first answer of each window, the budget left (the limit, less the answers
    /// already counted in the window and the requests in flight) becomes a token bucket:
    /// half of it may be spent at once, so short jobs never wait, and the other half is
    /// spread evenly until the reset. A request that comes faster than that waits its turn
    /// (in arrival order, with every other request under the same rule). A rule's `429`
    /// empties the bucket until the reset.
    #[default]
    Pace,
    /// As [`Pace`](Self::Pace), but never slower than `requests` per `per`: past the budget,
    /// requests go on at this rate and meet the rule's `429`s (waited out like any other).
    /// For callers who would rather keep a minimum pace than wait for the window.
    Floor {
        /// Requests...
        requests: u32,
        /// ...per this much time.
        per: Duration,
    },
}

impl Pacing {
    /// The floor as the time between two requests, if there is one.
    pub(crate) fn floor_period(&self) -> Option<Duration> {
        match *self {
            Pacing::Floor { requests, per } if requests > 0 => Some(per / requests),
            _ => None,
        }
    }
}

/// Rate-limit settings of a transport: pacing, and the cap on time spent waiting.
///
/// What the transport does with the instance's rate limits, whatever the settings:
///
/// - reads `X-RateLimit-Limit`, `-Reset` and `-Rule` on every answer, and keeps per-rule state
///   shared by every clone of the transport and every request in flight through it;
/// - tells a rate-limit rule's `429` (those headers, or the documented `Rate limit exceeded`
///   body) from a semaphore `429` (a full request queue: no rate-limit headers). The first is
///   retried after `Retry-After` (or the window's reset), the second after a short backoff
///   with jitter; a `202` to a `GET` (a busy session) is retried with backoff too. Each is
///   counted separately in [`Stats`](crate::Stats).
///
/// And with [`pacing`](Self::pacing) on (the default), spreads requests so that a rule's
/// budget lasts until its window resets; concurrent requests and every clone slow down
/// together.
///
/// No request waits for rate limits (pacing and rate-limit `429`s together) longer than
/// [`max_wait`](Self::max_wait): past it, it fails with
/// [`TransportError::RateLimited`](crate::TransportError::RateLimited), which carries the
/// rule's sys_id, limit and reset time.
///
/// ```
/// use std::time::Duration;
/// use snow_transport::{Pacing, RateLimitConfig};
///
/// let config = RateLimitConfig::default()
///     .pacing(Pacing::Floor { requests: 1, per: Duration::from_secs(2) })
///     .max_wait(Duration::from_secs(120));
/// assert_eq!(config.max_wait, Duration::from_secs(120));
/// assert_eq!(RateLimitConfig::default().pacing, Pacing::Pace);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// Whether requests are spread to keep within a rule's budget. Default [`Pacing::Pace`].
    pub pacing: Pacing,
    /// The most time one request may spend waiting for rate limits, pacing and rate-limit
    /// `429`s together. Default 60 s (ServiceNow's windows are an hour long: waiting for
    /// one to reset is rarely what an interactive caller wants).
    pub max_wait: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            pacing: Pacing::Pace,
            max_wait: Duration::from_secs(60),
        }
    }
}

impl RateLimitConfig {
    /// Set [`pacing`](Self::pacing).
    #[must_use]
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        self.pacing = pacing;
        self
    }

    /// Set [`max_wait`](Self::max_wait).
    #[must_use]
    pub fn max_wait(mut self, d: Duration) -> Self {
        self.max_wait = d;
        self
    }

    /// Why this configuration cannot be used, if it cannot.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        match self.pacing {
            Pacing::Floor { requests: 0, .. } => Some("a pacing floor needs at least 1 request"),
            Pacing::Floor { per, .. } if per.is_zero() => {
                Some("a pacing floor needs a period longer than zero")
            }
            _ => None,
        }
    }
}
