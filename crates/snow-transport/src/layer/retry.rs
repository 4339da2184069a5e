//! The retry policy: which answers are retried, and how long to wait.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, Request, Response, StatusCode};
use snow_core::{BoxError, ErrorKind};
use tower::retry::Policy;
use tower::util::rng::{HasherRng, Rng};

use crate::body::{Body, ResponseBody};
use crate::error::TransportError;
use crate::layer::observe::RequestCtx;
use crate::retry::{LongRetryAfter, RetryConfig, RetryNonIdempotent};
use crate::stats::RetryReason;
use crate::throttle::{RateLimitInfo, Throttle};

/// The [`tower::retry::Policy`] of the transport, driven by a [`RetryConfig`].
///
/// Use it with [`tower::retry::RetryLayer`] to build a stack of your own:
///
/// ```
/// use snow_transport::{layer::RetryPolicy, RetryConfig};
/// let layer = tower::retry::RetryLayer::new(RetryPolicy::new(RetryConfig::default()));
/// # let _ = layer;
/// ```
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    config: Arc<RetryConfig>,
    /// Retries done so far for the current request (the policy is cloned per request).
    retries: u32,
}

impl RetryPolicy {
    /// A policy following `config`.
    pub fn new(config: RetryConfig) -> Self {
        Self {
            config: Arc::new(config),
            retries: 0,
        }
    }

    fn backoff(&self) -> Duration {
        let exp = 2u32.saturating_pow(self.retries.min(31));
        let ceiling = self
            .config
            .base_delay
            .saturating_mul(exp)
            .min(self.config.max_delay);
        full_jitter(ceiling, HasherRng::default().next_f64())
    }
}

/// Full jitter: `ceiling * factor`, `factor` in `[0, 1]`. `Duration::mul_f64` would panic on a
/// ceiling near `Duration::MAX` (its f64 form rounds up past it); this saturates instead.
fn full_jitter(ceiling: Duration, factor: f64) -> Duration {
    let factor = if factor.is_nan() {
        1.0
    } else {
        factor.clamp(0.0, 1.0)
    };
    Duration::try_from_secs_f64(ceiling.as_secs_f64() * factor).map_or(ceiling, |d| d.min(ceiling))
}

/// Whether an attempt's error is worth another attempt: its [`TransportError::kind`] is
/// retryable. The error is turned into the [`TransportError`] it leaves the stack as, in place.
fn is_retryable(e: &mut BoxError) -> bool {
    if !e.is::<TransportError>() {
        let raw = std::mem::replace(e, Box::new(std::fmt::Error));
        *e = TransportError::from(raw).boxed();
    }
    e.downcast_ref::<TransportError>()
        .is_some_and(TransportError::is_retryable)
}

/// Methods that may be sent twice without changing the outcome (RFC 9110, 9.2.2).
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// Parse `Retry-After`: delta-seconds or an HTTP date. A number too large to represent is
/// treated as "very long".
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(
            value
                .parse::<u64>()
                .map_or(Duration::MAX, Duration::from_secs),
        );
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Why an answer is retried, when it is retryable at all.
fn answer_reason(status: StatusCode, throttle: Option<&Throttle>) -> RetryReason {
    match (status, throttle) {
        (_, Some(Throttle::RateLimit(_))) => RetryReason::RateLimited,
        (StatusCode::TOO_MANY_REQUESTS, _) | (_, Some(Throttle::Semaphore)) => {
            RetryReason::Semaphore
        }
        (StatusCode::ACCEPTED, _) | (_, Some(Throttle::SessionRejected)) => {
            RetryReason::SessionRejected
        }
        (StatusCode::REQUEST_TIMEOUT, _) => RetryReason::Timeout,
        (s, _) if s.is_server_error() => RetryReason::ServerError,
        _ => RetryReason::Other,
    }
}

/// Why a failure is retried.
fn failure_reason(e: &BoxError) -> RetryReason {
    match e.downcast_ref::<TransportError>() {
        Some(e) if e.is_timeout() => RetryReason::Timeout,
        Some(TransportError::Connect { .. } | TransportError::Io { .. }) => RetryReason::Connection,
        _ => RetryReason::Other,
    }
}

impl RetryPolicy {
    /// How long to wait before retrying an answer that asked to be waited out (`Retry-After`),
    /// or `Err` with the error to return instead when the wait is too long.
    fn retry_after_wait(&self, headers: &HeaderMap) -> Result<Duration, TransportError> {
        match retry_after(headers, SystemTime::now()) {
            Some(wait) if wait > self.config.max_retry_after => {
                match self.config.retry_after_too_long {
                    LongRetryAfter::Cap => Ok(self.config.max_retry_after),
                    LongRetryAfter::Error => Err(TransportError::RetryAfterTooLong {
                        retry_after: wait,
                        limit: self.config.max_retry_after,
                    }),
                }
            }
            Some(wait) => Ok(wait),
            None => Ok(self.backoff()),
        }
    }

    /// How long to wait before retrying a rate-limit rule's `429`: `Retry-After`, else until
    /// the window resets, else a backoff. Held to the request's cap on waiting for rate
    /// limits when the transport keeps one (its observability layer puts it in the request);
    /// otherwise to `max_retry_after` like any `Retry-After`.
    fn rate_limit_wait(
        &self,
        headers: &HeaderMap,
        info: &RateLimitInfo,
        ctx: Option<&RequestCtx>,
    ) -> Result<Duration, TransportError> {
        let Some(ctx) = ctx else {
            return self.retry_after_wait(headers);
        };
        let wait = retry_after(headers, SystemTime::now())
            .or_else(|| info.reset_in())
            .unwrap_or_else(|| self.backoff());
        if ctx.rate_waited().saturating_add(wait) > ctx.max_wait {
            return Err(TransportError::RateLimited {
                rule: info.rule.clone(),
                limit: info.limit,
                reset: info.reset_time(),
                retry_after: Some(wait),
                max_wait: ctx.max_wait,
            });
        }
        Ok(wait)
    }
}

impl Policy<Request<Body>, Response<ResponseBody>, BoxError> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        req: &mut Request<Body>,
        result: &mut Result<Response<ResponseBody>, BoxError>,
    ) -> Option<Self::Future> {
        if self.retries.saturating_add(1) >= self.config.max_attempts {
            return None;
        }
        if !is_idempotent(req.method()) && req.extensions().get::<RetryNonIdempotent>().is_none() {
            return None;
        }
        let ctx = req.extensions().get::<Arc<RequestCtx>>().map(|c| &**c);
        let (reason, delay, status) = match result {
            Ok(resp) => {
                let status = resp.status();
                if !ErrorKind::of_status(status, req.method()).is_some_and(ErrorKind::is_retryable)
                {
                    return None;
                }
                if status == StatusCode::ACCEPTED && !self.config.retry_session_rejected {
                    return None;
                }
                let throttle = resp.extensions().get::<Throttle>();
                let reason = answer_reason(status, throttle);
                let wait = match (status, throttle) {
                    (StatusCode::TOO_MANY_REQUESTS, Some(Throttle::RateLimit(info))) => {
                        self.rate_limit_wait(resp.headers(), info, ctx)
                    }
                    (StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE, _) => {
                        self.retry_after_wait(resp.headers())
                    }
                    _ => Ok(self.backoff()),
                };
                match wait {
                    Ok(wait) => (reason, wait, Some(status.as_u16())),
                    Err(e) => {
                        *result = Err(e.boxed());
                        return None;
                    }
                }
            }
            // Only requests allowed above (an idempotent method, or one marked
            // RetryNonIdempotent) get here: no connection, a connection dropped before the
            // response, a per-attempt timeout, a transient authentication failure.
            Err(e) => {
                // A rate limit the pacer would not wait for: the wait was already weighed.
                if !is_retryable(e)
                    || matches!(
                        e.downcast_ref::<TransportError>(),
                        Some(TransportError::RateLimited { .. })
                    )
                {
                    return None;
                }
                (failure_reason(e), self.backoff(), None)
            }
        };
        self.retries += 1;
        if let Some(ctx) = ctx {
            ctx.retrying(reason, delay);
        }
        tracing::warn!(
            method = %req.method(),
            attempt = self.retries + 1,
            reason = reason.as_str(),
            status,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "retrying request"
        );
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, req: &Request<Body>) -> Option<Request<Body>> {
        let body = req.body().try_clone()?;
        let mut clone = Request::new(body);
        *clone.method_mut() = req.method().clone();
        *clone.uri_mut() = req.uri().clone();
        *clone.version_mut() = req.version();
        *clone.headers_mut() = req.headers().clone();
        *clone.extensions_mut() = req.extensions().clone();
        Some(clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, v.parse().unwrap());
        h
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers("1"), now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            retry_after(&headers(" 120 "), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&headers("99999999999999999999999"), now),
            Some(Duration::MAX)
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&later), now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(retry_after(&headers(&past), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&headers("-1"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn backoff_is_bounded() {
        let mut p = RetryPolicy::new(
            RetryConfig::default()
                .base_delay(Duration::from_millis(100))
                .max_delay(Duration::from_millis(250)),
        );
        for retries in 0..40 {
            p.retries = retries;
            assert!(p.backoff() <= Duration::from_millis(250));
        }
    }

    #[test]
    fn full_jitter_saturates_instead_of_panicking() {
        // `Duration::MAX.mul_f64(1.0)` panics: its f64 form is 2^64 s.
        assert_eq!(full_jitter(Duration::MAX, 1.0), Duration::MAX);
        assert_eq!(full_jitter(Duration::MAX, 0.0), Duration::ZERO);
        assert_eq!(
            full_jitter(Duration::from_secs(10), 0.5),
            Duration::from_secs(5)
        );
        assert_eq!(
            full_jitter(Duration::from_secs(10), 7.0),
            Duration::from_secs(10)
        );
        assert_eq!(
            full_jitter(Duration::from_secs(10), f64::NAN),
            Duration::from_secs(10)
        );
        let mut p = RetryPolicy::new(
            RetryConfig::default()
                .base_delay(Duration::MAX)
                .max_delay(Duration::MAX),
        );
        for retries in 0..64 {
            p.retries = retries;
            assert!(p.backoff() <= Duration::MAX);
        }
    }

    #[test]
    fn backoff_is_jittered() {
        let mut p = RetryPolicy::new(
            RetryConfig::default()
                .base_delay(Duration::from_secs(1))
                .max_delay(Duration::from_secs(1)),
        );
        p.retries = 3;
        let delays: std::collections::HashSet<Duration> = (0..20).map(|_| p.backoff()).collect();
        assert!(delays.len() > 1, "no jitter: {delays:?}");
    }

    #[test]
    fn idempotent_methods() {
        for m in [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
            Method::TRACE,
        ] {
            assert!(is_idempotent(&m));
        }
        for m in [Method::POST, Method::PATCH, Method::CONNECT] {
            assert!(!is_idempotent(&m));
        }
    }
}
