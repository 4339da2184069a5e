//! [`ErrorKind`]: the one classification of failures every snow error type answers with.

use std::fmt;

use http::{Method, StatusCode};

/// What kind of failure an error is.
///
/// Every error type of the snow crates has a `kind()` returning this, and an `is_retryable()`
/// that is `kind().is_retryable()`: a caller, a retry policy or a command-line tool choosing an
/// exit code decides on the kind without knowing which crate failed or matching a
/// `#[non_exhaustive]` enum. [`ErrorKind::of_status`] is the one place an HTTP status is
/// classified; the transport's retry layer and the client's errors both use it.
///
/// ```
/// use snow_core::ErrorKind;
/// use snow_core::http::{Method, StatusCode};
///
/// assert_eq!(ErrorKind::of_status(StatusCode::TOO_MANY_REQUESTS, &Method::GET), Some(ErrorKind::Throttling));
/// assert_eq!(ErrorKind::of_status(StatusCode::ACCEPTED, &Method::GET), Some(ErrorKind::Throttling));
/// assert_eq!(ErrorKind::of_status(StatusCode::ACCEPTED, &Method::POST), None);
/// assert_eq!(ErrorKind::of_status(StatusCode::NOT_FOUND, &Method::GET), Some(ErrorKind::Client));
/// assert!(ErrorKind::of_status(StatusCode::BAD_GATEWAY, &Method::GET).is_some_and(ErrorKind::is_retryable));
/// assert!(!ErrorKind::Server.is_retryable());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A failure that may clear up if the same request is sent again soon: no connection, a
    /// connection dropped before the answer, a timeout, `408`, `502`, `503`, `504`, a token
    /// endpoint briefly unavailable.
    Transient,
    /// The instance asked the client to slow down: `429` (a rate-limit rule or a full request
    /// queue) or a `GET`/`HEAD` answered `202` (its session is busy). Retry after waiting.
    Throttling,
    /// The instance failed or cannot serve the request: `500` and other server errors, a
    /// hibernating instance, a transaction it cancelled. The same request again is unlikely to
    /// succeed.
    Server,
    /// The request was refused as it is (a `4xx` other than `401`, `408` and `429`, a missing
    /// record) or before it was sent (invalid input, an invalid query).
    Client,
    /// Credentials are missing, cannot be used, or were refused (`401`, a token endpoint
    /// refusing the grant).
    Auth,
    /// The answer could not be used: not the JSON ServiceNow sends, a body cut short or larger
    /// than allowed, records that do not fit the target type, paging that does not add up, a
    /// redirect (never followed).
    Response,
    /// The client is set up wrongly: an invalid instance URL, TLS or proxy setting, a server
    /// certificate that cannot be verified with the configured roots.
    Config,
}

impl ErrorKind {
    /// Whether sending the same request again, after a wait, may succeed: [`Transient`] and
    /// [`Throttling`] failures.
    ///
    /// [`Transient`]: ErrorKind::Transient
    /// [`Throttling`]: ErrorKind::Throttling
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Transient | ErrorKind::Throttling)
    }

    /// The kind of failure an HTTP status stands for, in an answer to a request with `method`;
    /// `None` when the status is a success.
    ///
    /// `202 Accepted` is a failure only for `GET` and `HEAD`: ServiceNow answers a read with
    /// `202` when it rejects it because the session is busy (a read never legitimately gets a
    /// `202` from it), while a write may be accepted with one.
    pub fn of_status(status: StatusCode, method: &Method) -> Option<ErrorKind> {
        if status == StatusCode::ACCEPTED {
            return matches!(*method, Method::GET | Method::HEAD).then_some(ErrorKind::Throttling);
        }
        Some(match status.as_u16() {
            100..=299 => return None,
            300..=399 => ErrorKind::Response,
            401 => ErrorKind::Auth,
            408 => ErrorKind::Transient,
            429 => ErrorKind::Throttling,
            400..=499 => ErrorKind::Client,
            502..=504 => ErrorKind::Transient,
            _ => ErrorKind::Server,
        })
    }

    /// A short lowercase name (`transient`, `throttling`, `server`, `client`, `auth`,
    /// `response`, `config`), for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Transient => "transient",
            ErrorKind::Throttling => "throttling",
            ErrorKind::Server => "server",
            ErrorKind::Client => "client",
            ErrorKind::Auth => "auth",
            ErrorKind::Response => "response",
            ErrorKind::Config => "config",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_class() {
        let get = Method::GET;
        let post = Method::POST;
        let kind = |s: u16, m: &Method| ErrorKind::of_status(StatusCode::from_u16(s).unwrap(), m);
        for ok in [100, 200, 201, 204, 206, 299] {
            assert_eq!(kind(ok, &get), None, "{ok}");
        }
        assert_eq!(kind(202, &get), Some(ErrorKind::Throttling));
        assert_eq!(kind(202, &Method::HEAD), Some(ErrorKind::Throttling));
        assert_eq!(kind(202, &post), None);
        assert_eq!(kind(202, &Method::PATCH), None);
        assert_eq!(kind(301, &get), Some(ErrorKind::Response));
        assert_eq!(kind(302, &post), Some(ErrorKind::Response));
        assert_eq!(kind(400, &get), Some(ErrorKind::Client));
        assert_eq!(kind(401, &get), Some(ErrorKind::Auth));
        assert_eq!(kind(403, &get), Some(ErrorKind::Client));
        assert_eq!(kind(404, &get), Some(ErrorKind::Client));
        assert_eq!(kind(408, &get), Some(ErrorKind::Transient));
        assert_eq!(kind(414, &get), Some(ErrorKind::Client));
        assert_eq!(kind(429, &post), Some(ErrorKind::Throttling));
        assert_eq!(kind(500, &get), Some(ErrorKind::Server));
        assert_eq!(kind(501, &get), Some(ErrorKind::Server));
        for t in [502, 503, 504] {
            assert_eq!(kind(t, &post), Some(ErrorKind::Transient), "{t}");
        }
        assert_eq!(kind(505, &get), Some(ErrorKind::Server));
        assert_eq!(kind(599, &get), Some(ErrorKind::Server));
    }

    #[test]
    fn only_transient_and_throttling_are_retryable() {
        let all = [
            ErrorKind::Transient,
            ErrorKind::Throttling,
            ErrorKind::Server,
            ErrorKind::Client,
            ErrorKind::Auth,
            ErrorKind::Response,
            ErrorKind::Config,
        ];
        let retryable: Vec<_> = all.iter().filter(|k| k.is_retryable()).collect();
        assert_eq!(retryable, [&ErrorKind::Transient, &ErrorKind::Throttling]);
        let names: std::collections::HashSet<_> = all.iter().map(|k| k.to_string()).collect();
        assert_eq!(names.len(), all.len());
    }
}
