//! Reading what an answer says about load: the `X-RateLimit-*` headers, which kind of `429`
//! it is, and the other headers an operator wants to see (`X-Transaction-ID`, `Server-Timing`).

use std::time::{Duration, SystemTime};

use http::header::HeaderName;
use http::{HeaderMap, Method, StatusCode};

use crate::stats::Throttled;

/// The body text of a rate-limit rule's `429` (`{"error":{"message":"Rate limit exceeded",...}}`).
const RATE_LIMIT_MESSAGE: &[u8] = b"Rate limit exceeded";

/// The longest rule id or transaction id kept (sys_ids are 32 characters).
const MAX_ID: usize = 64;

// The names looked up on every answer, parsed once rather than on each lookup.
const RATELIMIT_RULE: HeaderName = HeaderName::from_static("x-ratelimit-rule");
const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const TRANSACTION_ID: HeaderName = HeaderName::from_static("x-transaction-id");
const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// What one answer's `X-RateLimit-*` headers (and `Date`) say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RateLimitInfo {
    /// `X-RateLimit-Rule`, when it is a plausible id.
    pub(crate) rule: Option<String>,
    /// `X-RateLimit-Limit`.
    pub(crate) limit: Option<u64>,
    /// `X-RateLimit-Reset`, UNIX seconds.
    pub(crate) reset: Option<u64>,
    /// The server's clock when it answered (`Date`), UNIX seconds.
    pub(crate) date: Option<u64>,
}

impl RateLimitInfo {
    /// The rate-limit headers of an answer; `None` when it has none of them.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let text = |name: &HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let number = |name: &HeaderName| text(name).and_then(|v| v.parse::<u64>().ok());
        let info = RateLimitInfo {
            rule: text(&RATELIMIT_RULE).and_then(safe_id).map(str::to_owned),
            limit: number(&RATELIMIT_LIMIT),
            reset: number(&RATELIMIT_RESET),
            date: None,
        };
        if info.rule.is_none() && info.limit.is_none() && info.reset.is_none() {
            return None;
        }
        let date = text(&http::header::DATE)
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .and_then(|d| d.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
        Some(RateLimitInfo { date, ..info })
    }

    /// How long until the window resets, by the server's clock (`Date`) when it sent one, so
    /// that a client whose clock is off still reads the reset right. `Date` has whole seconds:
    /// the time left is over-estimated by less than a second, which paces a little slower.
    pub(crate) fn reset_in(&self) -> Option<Duration> {
        let reset = self.reset?;
        let now = self.date.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
        Some(Duration::from_secs(reset.saturating_sub(now)))
    }

    /// The reset as a time.
    pub(crate) fn reset_time(&self) -> Option<SystemTime> {
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(self.reset?))
    }
}

/// Why the instance turned an attempt away for load, put in the answer's extensions by the
/// rate-limit layer for the retry policy and the counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Throttle {
    /// `429` from a rate-limit rule: its headers (all `None` when only the body said so).
    RateLimit(RateLimitInfo),
    /// `429` without rate-limit headers or body: the request queue was full.
    Semaphore,
    /// `202` to a `GET` or `HEAD`: the session was busy.
    SessionRejected,
}

impl Throttle {
    /// Classify an answer by its status and headers; `None` for a `429` that needs its body
    /// read ([`Throttle::from_body`]) and for answers that are not throttling.
    pub(crate) fn from_head(status: StatusCode, method: &Method, headers: &HeaderMap) -> Head {
        if status == StatusCode::TOO_MANY_REQUESTS {
            return match RateLimitInfo::from_headers(headers) {
                Some(info) => Head::Throttle(Throttle::RateLimit(info)),
                None => Head::NeedsBody,
            };
        }
        if status == StatusCode::ACCEPTED && (method == Method::GET || method == Method::HEAD) {
            return Head::Throttle(Throttle::SessionRejected);
        }
        Head::NotThrottled
    }

    /// Classify a `429` without rate-limit headers by the start of its body.
    pub(crate) fn from_body(prefix: &[u8]) -> Throttle {
        if prefix
            .windows(RATE_LIMIT_MESSAGE.len())
            .any(|w| w == RATE_LIMIT_MESSAGE)
        {
            Throttle::RateLimit(RateLimitInfo::default())
        } else {
            Throttle::Semaphore
        }
    }

    /// The counter this kind adds to.
    pub(crate) fn counted_as(&self) -> Throttled {
        match self {
            Throttle::RateLimit(_) => Throttled::RateLimit,
            Throttle::Semaphore => Throttled::Semaphore,
            Throttle::SessionRejected => Throttled::SessionRejected,
        }
    }

    /// A short name for logs.
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Throttle::RateLimit(_) => "rate_limit",
            Throttle::Semaphore => "semaphore",
            Throttle::SessionRejected => "session_rejected",
        }
    }
}

/// What the head of an answer says about throttling.
#[derive(Debug)]
pub(crate) enum Head {
    Throttle(Throttle),
    NeedsBody,
    NotThrottled,
}

/// An id fit for logs and errors: ASCII letters, digits, `-`, `_`, `.`, at most 64 of them.
fn safe_id(v: &str) -> Option<&str> {
    let ok = !v.is_empty()
        && v.len() <= MAX_ID
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then_some(v)
}

/// `X-Transaction-ID`, when it is a plausible id (anything else is not logged).
pub(crate) fn transaction_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(TRANSACTION_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(safe_id)
}

/// The `sem_wait` and `sesh_wait` durations of `Server-Timing`, in milliseconds: how long the
/// request queued for a semaphore and for its session.
pub(crate) fn server_waits(headers: &HeaderMap) -> (Option<u64>, Option<u64>) {
    let Some(v) = headers.get(SERVER_TIMING).and_then(|v| v.to_str().ok()) else {
        return (None, None);
    };
    let (mut sem, mut sesh) = (None, None);
    for metric in v.split(',') {
        let mut parts = metric.split(';').map(str::trim);
        let slot = match parts.next().unwrap_or_default() {
            "sem_wait" => &mut sem,
            "sesh_wait" => &mut sesh,
            _ => continue,
        };
        *slot = parts
            .filter_map(|p| p.strip_prefix("dur="))
            .find_map(|d| d.trim().parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d >= 0.0)
            .map(|d| d.min(u64::MAX as f64) as u64);
    }
    (sem, sesh)
}

/// Which requests share a rate-limit rule, as far as the transport can tell before an answer:
/// the method and the path, with sys_ids (32 hex digits) and the query left out. ServiceNow keys
/// its rules by API, version and resource (a method on a path template), and the Table API's
/// optionally by table, which the path keeps.
pub(crate) fn route_key(method: &Method, path: &str) -> String {
    const MAX_KEY: usize = 256;
    let mut key = String::with_capacity(method.as_str().len() + path.len().min(MAX_KEY));
    key.push_str(method.as_str());
    key.push(' ');
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            key.push('/');
        }
        if segment.len() == 32 && segment.bytes().all(|b| b.is_ascii_hexdigit()) {
            key.push('*');
        } else {
            key.push_str(segment);
        }
        if key.len() > MAX_KEY {
            let mut end = MAX_KEY;
            while !key.is_char_boundary(end) {
                end -= 1;
            }
            key.truncate(end);
            break;
        }
    }
    key
}

/// The path of a request for logs: no query, at most 256 bytes.
pub(crate) fn log_path(path: &str) -> &str {
    const MAX: usize = 256;
    if path.len() <= MAX {
        return path;
    }
    let mut end = MAX;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn rate_limit_headers_are_read_with_the_server_clock() {
        let date =
            httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_003));
        let h = headers(&[
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-reset", " 1700000010 "),
            ("x-ratelimit-rule", "4a2cf4c3db3d1010c0a8f7f1f39619e7"),
            ("date", &date),
        ]);
        let info = RateLimitInfo::from_headers(&h).unwrap();
        assert_eq!(info.limit, Some(60));
        assert_eq!(info.reset, Some(1_700_000_010));
        assert_eq!(
            info.rule.as_deref(),
            Some("4a2cf4c3db3d1010c0a8f7f1f39619e7")
        );
        assert_eq!(info.reset_in(), Some(Duration::from_secs(7)));
        assert!(RateLimitInfo::from_headers(&HeaderMap::new()).is_none());
        // A rule id that is not an id is not kept (it would go into logs and errors).
        let h = headers(&[("x-ratelimit-rule", "a b;<c>"), ("x-ratelimit-limit", "x")]);
        assert!(RateLimitInfo::from_headers(&h).is_none());
    }

    #[test]
    fn kinds_of_throttling() {
        let get = Method::GET;
        let limited = headers(&[("x-ratelimit-limit", "1")]);
        assert!(matches!(
            Throttle::from_head(StatusCode::TOO_MANY_REQUESTS, &get, &limited),
            Head::Throttle(Throttle::RateLimit(_))
        ));
        assert!(matches!(
            Throttle::from_head(StatusCode::TOO_MANY_REQUESTS, &get, &HeaderMap::new()),
            Head::NeedsBody
        ));
        assert!(matches!(
            Throttle::from_head(StatusCode::ACCEPTED, &get, &HeaderMap::new()),
            Head::Throttle(Throttle::SessionRejected)
        ));
        assert!(matches!(
            Throttle::from_head(StatusCode::ACCEPTED, &Method::POST, &HeaderMap::new()),
            Head::NotThrottled
        ));
        let body = br#"{"error":{"message":"Rate limit exceeded","detail":"Rate limit of 100 requests per hour for Table API exceeded"},"status":"failure"}"#;
        assert!(matches!(Throttle::from_body(body), Throttle::RateLimit(_)));
        let body = br#"{"error":{"message":"Maximum number of concurrent requests exceeded"}}"#;
        assert_eq!(Throttle::from_body(body), Throttle::Semaphore);
        assert_eq!(Throttle::from_body(b""), Throttle::Semaphore);
    }

    #[test]
    fn routes_leave_out_sys_ids_and_queries() {
        assert_eq!(
            route_key(
                &Method::GET,
                "/api/now/table/incident/0123456789abcdef0123456789ABCDEF"
            ),
            "GET /api/now/table/incident/*"
        );
        assert_eq!(
            route_key(&Method::POST, "/api/now/v2/table/problem"),
            "POST /api/now/v2/table/problem"
        );
        let long = format!("/{}", "é".repeat(400));
        assert!(route_key(&Method::GET, &long).len() <= 256);
        assert!(log_path(&long).len() <= 256);
    }

    #[test]
    fn transaction_ids_and_server_timing() {
        let h = headers(&[
            ("x-transaction-id", "79aee3f52fa2"),
            (
                "server-timing",
                "sem_wait;dur=12, sesh_wait;dur=3.5, other;dur=1",
            ),
        ]);
        assert_eq!(transaction_id(&h), Some("79aee3f52fa2"));
        assert_eq!(server_waits(&h), (Some(12), Some(3)));
        let h = headers(&[("x-transaction-id", "<script>")]);
        assert_eq!(transaction_id(&h), None);
        assert_eq!(server_waits(&h), (None, None));
    }
}
