//! Errors of the transport and of building it.

use std::error::Error as StdError;
use std::fmt;
use std::time::{Duration, SystemTime};

use snow_core::{AuthError, BoxError, ErrorKind, ExchangeError, InstanceError};

/// The largest response head (status line and headers) the transport's HTTP/1 client reads:
/// 408 KiB, hyper's default, set explicitly so that the error can name it.
pub(crate) const MAX_RESPONSE_HEAD: usize = 408 * 1024;

/// The most header fields the transport's HTTP/1 client accepts in a response: 100, hyper's
/// default, which the client keeps (see `client.rs`; a test pins it).
pub(crate) const MAX_RESPONSE_HEADERS: usize = 100;

/// Which timeout elapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// One attempt got no response head in time (`TransportBuilder::timeout`).
    Attempt,
    /// The whole call, retries and body included, took too long (`TransportBuilder::total_timeout`).
    Total,
    /// No part of the response body arrived in time (`TransportBuilder::read_timeout`).
    BodyRead,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Attempt => "per-attempt",
            TimeoutKind::Total => "total",
            TimeoutKind::BodyRead => "body read",
        })
    }
}

/// What went wrong in a TLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The server's certificate could not be verified (unknown issuer, wrong name, expired, ...).
    CertificateVerification,
    /// Any other handshake failure (protocol mismatch, the server refused the client certificate, ...).
    Handshake,
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsFailure::CertificateVerification => "TLS certificate verification failed",
            TlsFailure::Handshake => "the TLS handshake failed",
        })
    }
}

/// Why a request through the transport produced no (complete) response.
///
/// No message contains a credential: URLs are reduced to their origin, headers are never shown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// No connection could be made: refused, unknown host, connect timeout, or the proxy refused the tunnel.
    #[error("could not connect: {message}")]
    Connect {
        /// The causes, outermost first.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },

    /// The TLS handshake failed; `kind` says whether the server certificate could not be verified.
    #[error("{kind}: {message}")]
    Tls {
        /// What failed.
        kind: TlsFailure,
        /// The causes, outermost first.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },

    /// A timeout elapsed.
    #[error("the request timed out (the {kind} timeout elapsed)")]
    Timeout {
        /// Which timeout.
        kind: TimeoutKind,
    },

    /// The response body is larger than the configured cap; reading stopped there.
    #[error("the response body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },

    /// The authenticator could not put credentials on the request.
    #[error("authentication failed: {0}")]
    Auth(#[from] AuthError),

    /// The request was addressed to another origin than the instance; it was not sent.
    #[error("refused to send a request to {origin}: the transport only talks to {instance}")]
    CrossOrigin {
        /// Scheme, host and port of the refused request (no path, no query).
        origin: String,
        /// The instance's origin.
        instance: String,
    },

    /// The request cannot be sent as it is.
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
    },

    /// The server asked to wait longer before retrying than the configured maximum.
    #[error("the server asked to retry after {}s, more than the allowed {}s", retry_after.as_secs(), limit.as_secs())]
    RetryAfterTooLong {
        /// The wait the server asked for.
        retry_after: Duration,
        /// The configured maximum (`RetryConfig::max_retry_after`).
        limit: Duration,
    },

    /// A rate-limit rule of the instance would make this request wait longer than the cap on
    /// time spent waiting for rate limits ([`RateLimitConfig::max_wait`](crate::RateLimitConfig::max_wait)):
    /// its budget is spent until `reset`. Either the pacer refused to send the request, or the
    /// instance answered `429` for the rule and waiting for it would pass the cap.
    #[error("{}", RateLimitedText { rule: rule.as_deref(), limit: *limit, reset: *reset, retry_after: *retry_after, max_wait: *max_wait })]
    RateLimited {
        /// `X-RateLimit-Rule`: the sys_id of the rule, when the instance named it.
        rule: Option<String>,
        /// `X-RateLimit-Limit`: the requests the rule allows per window, when sent.
        limit: Option<u64>,
        /// `X-RateLimit-Reset`: when the rule's window resets, when sent.
        reset: Option<SystemTime>,
        /// How much longer the request would have had to wait.
        retry_after: Option<Duration>,
        /// The cap on time spent waiting for rate limits per request.
        max_wait: Duration,
    },

    /// The response head (status line and headers) is larger than the HTTP client accepts: more
    /// than 408 KiB, or more than 100 header fields. Reading stopped there; asking again would
    /// get the same answer.
    #[error(
        "the response head (status line and headers) is too large: the client reads at most {} KiB \
         and {} header fields",
        MAX_RESPONSE_HEAD / 1024,
        MAX_RESPONSE_HEADERS
    )]
    ResponseHeadTooLarge {
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },

    /// The server's answer is not valid HTTP (garbage bytes, a malformed status line or header,
    /// a broken chunked encoding). Asking again would most likely get the same answer.
    #[error("the response is not valid HTTP: {message}")]
    MalformedResponse {
        /// What the HTTP parser found wrong.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },

    /// The connection failed after it was made (reset, closed before the whole answer arrived).
    #[error("the connection failed: {message}")]
    Io {
        /// The causes, outermost first.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },

    /// A caller-supplied layer or inner service failed with an error of its own.
    #[error("the HTTP service failed: {0}")]
    Service(#[source] BoxError),
}

impl TransportError {
    /// What kind of failure this is.
    ///
    /// | variant | kind |
    /// | --- | --- |
    /// | `Connect`, `Timeout`, `Io` | [`ErrorKind::Transient`] |
    /// | `RetryAfterTooLong`, `RateLimited` | [`ErrorKind::Throttling`] |
    /// | `Tls` | [`ErrorKind::Config`] (roots, client certificate or scheme to fix) |
    /// | `BodyTooLarge`, `ResponseHeadTooLarge`, `MalformedResponse` | [`ErrorKind::Response`] (not retried) |
    /// | `Auth` | [`ErrorKind::Transient`] if the authentication error is transient, else [`ErrorKind::Auth`] |
    /// | `CrossOrigin`, `InvalidRequest` | [`ErrorKind::Client`] |
    /// | `Service` | [`ErrorKind::Client`] (a caller's layer or inner service refused the request) |
    ///
    /// ```
    /// use snow_core::ErrorKind;
    /// use snow_transport::{TimeoutKind, TransportError};
    ///
    /// let e = TransportError::Timeout { kind: TimeoutKind::Attempt };
    /// assert_eq!(e.kind(), ErrorKind::Transient);
    /// assert!(e.is_retryable());
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            TransportError::Connect { .. }
            | TransportError::Timeout { .. }
            | TransportError::Io { .. } => ErrorKind::Transient,
            TransportError::RetryAfterTooLong { .. } | TransportError::RateLimited { .. } => {
                ErrorKind::Throttling
            }
            TransportError::Tls { .. } => ErrorKind::Config,
            TransportError::BodyTooLarge { .. }
            | TransportError::ResponseHeadTooLarge { .. }
            | TransportError::MalformedResponse { .. } => ErrorKind::Response,
            TransportError::Auth(e) => e.kind(),
            TransportError::CrossOrigin { .. }
            | TransportError::InvalidRequest { .. }
            | TransportError::Service(_) => ErrorKind::Client,
        }
    }

    /// Whether sending the same request again, after a wait, may succeed:
    /// `self.kind().is_retryable()` (connection trouble, timeouts, a server asking to wait, a
    /// transient authentication failure).
    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }

    /// Whether a timeout elapsed (of any kind, including the connect timeout).
    pub fn is_timeout(&self) -> bool {
        match self {
            TransportError::Timeout { .. } => true,
            TransportError::Connect { source, .. } | TransportError::Io { source, .. } => source
                .as_deref()
                .is_some_and(|s| chain(s).any(is_timed_out)),
            _ => false,
        }
    }

    /// Whether the server certificate could not be verified.
    pub fn is_certificate_verification(&self) -> bool {
        matches!(
            self,
            TransportError::Tls {
                kind: TlsFailure::CertificateVerification,
                ..
            }
        )
    }

    pub(crate) fn boxed(self) -> BoxError {
        Box::new(self)
    }

    /// A request target refused by [`Instance::resolve_uri`](snow_core::Instance::resolve_uri).
    pub(crate) fn refused_target(e: InstanceError) -> Self {
        match e {
            InstanceError::CrossOrigin { origin, instance } => {
                TransportError::CrossOrigin { origin, instance }
            }
            other => TransportError::InvalidRequest {
                message: other.to_string(),
            },
        }
    }

    /// Classify an error of the hyper-util client.
    pub(crate) fn from_client(err: hyper_util::client::legacy::Error) -> Self {
        let connect = err.is_connect();
        let err: BoxError = Box::new(err);
        classify(err, connect)
    }

    /// Classify an error raised while reading a response body.
    pub(crate) fn from_body_error(err: BoxError) -> Self {
        match err.downcast::<TransportError>() {
            Ok(t) => *t,
            Err(e) => classify(e, false),
        }
    }
}

/// The text of [`TransportError::RateLimited`]: "Rate limit reached", the rule, its limit and
/// reset, the wait and the cap.
struct RateLimitedText<'a> {
    rule: Option<&'a str>,
    limit: Option<u64>,
    reset: Option<SystemTime>,
    retry_after: Option<Duration>,
    max_wait: Duration,
}

impl fmt::Display for RateLimitedText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rate limit reached")?;
        if let Some(rule) = self.rule {
            write!(f, " for rule {rule}")?;
        }
        if let Some(limit) = self.limit {
            write!(f, " ({limit} requests per window)")?;
        }
        if let Some(reset) = self.reset {
            let unix = reset
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            write!(f, ", resetting at {unix} (UNIX time)")?;
        }
        match self.retry_after {
            Some(wait) => write!(
                f,
                ": waiting {} s more would pass the cap of {} s spent waiting per request",
                wait.as_secs_f64().ceil() as u64,
                self.max_wait.as_secs()
            ),
            None => write!(
                f,
                ": waiting would pass the cap of {} s spent waiting per request",
                self.max_wait.as_secs()
            ),
        }
    }
}

/// Recover a typed error from a tower `BoxError`: our own errors come back as they were, tower's
/// timeout becomes [`TransportError::Timeout`], hyper's errors are classified, and anything else is
/// [`TransportError::Service`].
impl From<BoxError> for TransportError {
    fn from(err: BoxError) -> Self {
        let err = match err.downcast::<TransportError>() {
            Ok(t) => return *t,
            Err(e) => e,
        };
        if err.is::<tower::timeout::error::Elapsed>() {
            return TransportError::Timeout {
                kind: TimeoutKind::Attempt,
            };
        }
        let err = match err.downcast::<AuthError>() {
            Ok(a) => return TransportError::Auth(*a),
            Err(e) => e,
        };
        let err = match err.downcast::<hyper_util::client::legacy::Error>() {
            Ok(h) => return TransportError::from_client(*h),
            Err(e) => e,
        };
        if err.is::<hyper::Error>() || err.is::<std::io::Error>() {
            return classify(err, false);
        }
        TransportError::Service(err)
    }
}

/// The causes of a failed connection, as a source for [`ExchangeError::Connect`], whose own
/// text already says "could not connect": the transport's message (the causes, outermost
/// first) once, with the underlying error as its source.
#[derive(Debug)]
struct ConnectCause {
    message: String,
    source: Option<BoxError>,
}

impl fmt::Display for ConnectCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for ConnectCause {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

impl From<TransportError> for ExchangeError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Connect { message, source } => ExchangeError::Connect {
                source: Box::new(ConnectCause { message, source }),
            },
            TransportError::Tls { .. } => ExchangeError::Tls {
                source: Box::new(e),
            },
            TransportError::Timeout { .. } => ExchangeError::Timeout,
            TransportError::BodyTooLarge { limit } => ExchangeError::BodyTooLarge { limit },
            TransportError::InvalidRequest { message } => ExchangeError::InvalidRequest { message },
            TransportError::CrossOrigin { .. } => ExchangeError::InvalidRequest {
                message: e.to_string(),
            },
            other => ExchangeError::Io {
                source: Box::new(other),
            },
        }
    }
}

/// The kind of an authentication failure.
/// Walk an error and its sources, looking inside `io::Error`s too (their `source` skips the
/// wrapped error).
fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next = Some(err);
    std::iter::from_fn(move || {
        let cur = next?;
        next = match cur
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => cur.source(),
        };
        Some(cur)
    })
}

fn is_timed_out(e: &(dyn StdError + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
}

/// The messages of an error chain, joined, without repeats and without hyper-util's generic
/// "client error (...)" wrapper.
fn describe(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in chain(err) {
        if e.is::<hyper_util::client::legacy::Error>() {
            continue;
        }
        let s = e.to_string();
        if s.is_empty() || parts.iter().any(|p| p.contains(&s)) {
            continue;
        }
        parts.push(s);
    }
    if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    }
}

/// hyper's message for a response head over its size or header-count limit.
const HYPER_HEAD_TOO_LARGE: &str = "message head is too large";

/// How an answer failed to parse.
enum Malformed {
    HeadTooLarge,
    Invalid,
}

/// Whether `err` says the server's bytes are not acceptable HTTP, as opposed to the connection
/// failing: hyper's parse errors (a head too large, an invalid status line or header), and data
/// errors inside a body hyper was reading (a broken chunked encoding).
fn malformed(err: &(dyn StdError + 'static)) -> Option<Malformed> {
    let hyper = chain(err).find_map(|e| e.downcast_ref::<hyper::Error>())?;
    if hyper.is_parse() {
        // `hyper::Error::is_parse_too_large` exists only with hyper's server feature, which a
        // client should not compile in; its message has been the same since hyper 0.14, and the
        // hostile-server tests pin it.
        return Some(if hyper.to_string() == HYPER_HEAD_TOO_LARGE {
            Malformed::HeadTooLarge
        } else {
            Malformed::Invalid
        });
    }
    // hyper's body decoder reports bad framing as InvalidInput or InvalidData (a body cut
    // short is UnexpectedEof: the connection failed, not the format).
    let bad_framing = chain(err).any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput
            )
        })
    });
    bad_framing.then_some(Malformed::Invalid)
}

fn classify(err: BoxError, connect: bool) -> TransportError {
    let mut message = describe(&*err);
    let tls = chain(&*err).find_map(|e| e.downcast_ref::<rustls::Error>().cloned());
    if let Some(tls) = tls {
        if matches!(
            tls,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
        ) {
            message.push_str(
                " (the server answered something other than TLS: if it speaks plain HTTP, \
                 use an http:// URL)",
            );
        }
        let kind = match tls {
            rustls::Error::InvalidCertificate(_) => TlsFailure::CertificateVerification,
            _ => TlsFailure::Handshake,
        };
        return TransportError::Tls {
            kind,
            message,
            source: Some(err),
        };
    }
    // HTTP/2 keeps I/O errors as text only, so a TLS alert sent by the server after the
    // handshake (a refused client certificate, say) is recognised by its message.
    if message.contains("received fatal alert") {
        return TransportError::Tls {
            kind: TlsFailure::Handshake,
            message,
            source: Some(err),
        };
    }
    if let Some(malformed) = malformed(&*err) {
        return match malformed {
            Malformed::HeadTooLarge => TransportError::ResponseHeadTooLarge { source: Some(err) },
            Malformed::Invalid => TransportError::MalformedResponse {
                message,
                source: Some(err),
            },
        };
    }
    if connect {
        TransportError::Connect {
            message,
            source: Some(err),
        }
    } else {
        TransportError::Io {
            message,
            source: Some(err),
        }
    }
}

/// Why a [`Transport`](crate::Transport) could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The TLS configuration is unusable (a PEM that holds no certificate, a key that does not parse, ...).
    #[error("invalid TLS configuration: {message}")]
    Tls {
        /// What is wrong (never the key material).
        message: String,
    },
    /// The proxy configuration is unusable.
    #[error("invalid proxy configuration: {message}")]
    Proxy {
        /// What is wrong (never the proxy password).
        message: String,
    },
    /// A default header name or value is not valid HTTP.
    #[error("invalid default header {name}")]
    InvalidHeader {
        /// The header name as given (its value is not shown).
        name: String,
    },
    /// Another setting is out of range (a zero concurrency limit, zero attempts, ...).
    #[error("invalid transport configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_kind_and_retryable_follows_it() {
        let io = || Some(Box::new(std::io::Error::other("x")) as BoxError);
        let cases = [
            (
                TransportError::Connect {
                    message: String::new(),
                    source: io(),
                },
                ErrorKind::Transient,
            ),
            (
                TransportError::Io {
                    message: String::new(),
                    source: io(),
                },
                ErrorKind::Transient,
            ),
            (
                TransportError::Timeout {
                    kind: TimeoutKind::Total,
                },
                ErrorKind::Transient,
            ),
            (
                TransportError::RetryAfterTooLong {
                    retry_after: Duration::from_secs(600),
                    limit: Duration::from_secs(60),
                },
                ErrorKind::Throttling,
            ),
            (
                TransportError::RateLimited {
                    rule: Some("4a2cf4c3db3d1010c0a8f7f1f39619e7".into()),
                    limit: Some(60),
                    reset: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_010)),
                    retry_after: Some(Duration::from_secs(7)),
                    max_wait: Duration::from_secs(5),
                },
                ErrorKind::Throttling,
            ),
            (
                TransportError::Tls {
                    kind: TlsFailure::CertificateVerification,
                    message: String::new(),
                    source: None,
                },
                ErrorKind::Config,
            ),
            (
                TransportError::BodyTooLarge { limit: 1 },
                ErrorKind::Response,
            ),
            (
                TransportError::Auth(AuthError::refused("token endpoint down", true)),
                ErrorKind::Transient,
            ),
            (
                TransportError::Auth(AuthError::InvalidCredential { what: "password" }),
                ErrorKind::Auth,
            ),
            (
                TransportError::CrossOrigin {
                    origin: String::new(),
                    instance: String::new(),
                },
                ErrorKind::Client,
            ),
            (
                TransportError::InvalidRequest {
                    message: String::new(),
                },
                ErrorKind::Client,
            ),
            (TransportError::Service("refused".into()), ErrorKind::Client),
        ];
        let limited = cases
            .iter()
            .find(|(e, _)| matches!(e, TransportError::RateLimited { .. }))
            .map(|(e, _)| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            limited,
            "Rate limit reached for rule 4a2cf4c3db3d1010c0a8f7f1f39619e7 (60 requests per \
             window), resetting at 1700000010 (UNIX time): waiting 7 s more would pass the cap \
             of 5 s spent waiting per request"
        );
        for (e, kind) in cases {
            assert_eq!(e.kind(), kind, "{e:?}");
            assert_eq!(e.is_retryable(), kind.is_retryable(), "{e:?}");
        }
    }
}
