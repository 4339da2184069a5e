//! [`Error`]: the one error type of the crate.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::{Method, StatusCode};
use snow_core::{AuthError, ErrorKind};
use snow_transport::TransportError;

use crate::query::QueryError;

/// Everything that can go wrong talking to ServiceNow, as one type.
///
/// Each message is one sentence saying what happened and what to do. [`kind`] classifies the
/// failure ([`ErrorKind`]: transient, throttling, server, client, auth, response, config),
/// [`is_retryable`] tells whether sending the same request again may succeed, and [`status`]
/// gives the HTTP status when there was one. The errors of the parts underneath (the
/// transport's [`TransportError`], an [`AuthError`], a [`ConfigError`]) are kept typed as the
/// [`source`](std::error::Error::source), reachable without downcasting.
///
/// [`kind`]: Error::kind
/// [`is_retryable`]: Error::is_retryable
/// [`status`]: Error::status
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// ServiceNow answered with its error envelope `{"error":{"message","detail"},"status":"failure"}`.
    #[error("{}", ApiText { status: *status, message, detail: detail.as_deref(), transaction_id: transaction_id.as_deref() })]
    Api {
        /// The HTTP status (the real signal; the body does not repeat it).
        status: StatusCode,
        /// `error.message`.
        message: String,
        /// `error.detail`, when it was a non-empty string.
        detail: Option<String>,
        /// The `X-Transaction-ID` response header, for the instance's logs.
        transaction_id: Option<String>,
    },
    /// A call that needs a record found none.
    #[error("no record matched; check the query, the sys_id, or the user's read access")]
    NoResults,
    /// A call that needs exactly one record found several.
    #[error("more than one record matched where exactly one was expected; narrow the query")]
    MultipleResults,
    /// The instance answered something other than the JSON ServiceNow sends (an HTML error
    /// page, a proxy page, an empty body, JSON without `result`).
    #[error("ServiceNow answered HTTP {} with {reason}{}; check the instance URL and any proxy in between",
        status_text(*status), excerpt_text(content_type.as_deref(), excerpt))]
    UnexpectedResponse {
        /// The HTTP status.
        status: StatusCode,
        /// The `Content-Type` header, if any.
        content_type: Option<String>,
        /// What was wrong, e.g. "a body that is not JSON".
        reason: String,
        /// The start of the body: truncated, whitespace collapsed, credentials redacted.
        excerpt: String,
    },
    /// The instance is not serving requests; `hibernating` when it sent the developer-instance
    /// hibernation page.
    #[error("{}", if *hibernating {
        format!("the instance is hibernating (HTTP {}); wake it from the developer portal, then try again", status_text(*status))
    } else {
        format!("the instance is unavailable (HTTP {}); try again later", status_text(*status))
    })]
    InstanceUnavailable {
        /// Whether the hibernation page was recognised.
        hibernating: bool,
        /// The HTTP status of the answer.
        status: StatusCode,
    },
    /// ServiceNow cancelled the transaction while streaming the result: a 200 whose body carries
    /// an `error` member after a (possibly cut) `result`.
    #[error(
        "ServiceNow cancelled the transaction after sending {rows_received} record(s) ({message}); request smaller pages or fewer fields"
    )]
    TransactionCancelled {
        /// How many complete records arrived before the error.
        rows_received: usize,
        /// `error.message`, e.g. "Transaction cancelled: maximum execution time exceeded".
        message: String,
        /// `error.detail`, when present.
        detail: Option<String>,
        /// The `X-Transaction-ID` response header.
        transaction_id: Option<String>,
    },
    /// The body ended in the middle of the JSON.
    #[error("the response body ended in the middle of the JSON after {rows_received} complete record(s) (HTTP {}); the instance probably cancelled the transaction, so request smaller pages or fewer fields", status_text(*status))]
    TruncatedResponse {
        /// How many complete records arrived.
        rows_received: usize,
        /// The HTTP status.
        status: StatusCode,
    },
    /// A GET answered 202: the instance rejected it because the session was busy (session synchronisation).
    #[error(
        "ServiceNow rejected the request with HTTP 202 because its session is busy; retry later and avoid sharing session cookies between concurrent requests"
    )]
    SessionRejected {
        /// The `X-Transaction-ID` response header.
        transaction_id: Option<String>,
    },
    /// HTTP 429: a rate-limit rule or a full request queue. Also what the transport returns
    /// instead of waiting past its cap for a rate-limit rule's window
    /// ([`RateLimitConfig::max_wait`](snow_transport::RateLimitConfig::max_wait)); `message`
    /// then gives the wait and the cap.
    #[error("rate limited ({}){}{}; slow down and retry later",
        if rule.is_some() || limit.is_some() { "a rate-limit rule of the instance" } else { "HTTP 429: a rate limit or a full request queue" },
        retry_after.map(|d| format!(", retry after {} s", d.as_secs())).unwrap_or_default(),
        message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    RateLimited {
        /// The `Retry-After` header (seconds or an HTTP date), when sent.
        retry_after: Option<Duration>,
        /// `error.message` and `error.detail`, when the body had them.
        message: Option<String>,
        /// `X-RateLimit-Rule`: the sys_id of the rate-limit rule that applied, when sent.
        rule: Option<String>,
        /// `X-RateLimit-Limit`: requests allowed per window by that rule, when sent.
        limit: Option<u64>,
        /// `X-RateLimit-Reset`: when the rule's window resets, when sent.
        reset: Option<SystemTime>,
    },
    /// Credentials could not be obtained or applied.
    #[error("authentication failed: {0}")]
    Auth(#[source] AuthError),
    /// The request or the response body took too long.
    #[error("{0}; raise the timeout or request less data per call")]
    Timeout(#[source] TransportError),
    /// The TLS handshake failed (certificate verification, protocol).
    #[error("{0}; check the instance URL and the trusted certificates")]
    Tls(#[source] TransportError),
    /// No connection could be made.
    #[error("{0}; check the URL, the network and any proxy")]
    Connect(#[source] TransportError),
    /// Another failure of the transport while sending or receiving.
    #[error("{0}")]
    Transport(#[source] TransportError),
    /// The JSON did not fit the target type; `path` names where (`result[3].priority`).
    #[error(
        "could not decode the response at `{path}` ({source}); check that the target type matches the fields returned"
    )]
    Decode {
        /// The JSON path of the failure.
        path: String,
        /// The decoding error.
        source: serde_json::Error,
    },
    /// A field of a [`Record`](crate::Record) does not hold the type asked for
    /// (`record.i64("priority")` on `"high"`).
    #[error("the field `{field}` cannot be read as asked: {source}")]
    FieldValue {
        /// The field's name.
        field: String,
        /// What was found and what was expected.
        source: crate::record::ValueError,
    },
    /// An encoded query could not be built or parsed.
    #[error("invalid query: {0}")]
    InvalidQuery(#[from] QueryError),
    /// An argument was refused before anything was sent.
    #[error("invalid input: {message}")]
    InvalidInput {
        /// What was wrong.
        message: String,
    },
    /// The client could not be set up (an invalid instance URL, TLS, proxy or OAuth setting).
    #[error("invalid client configuration: {0}")]
    Config(#[source] ConfigError),
    /// The response body was larger than the transport's cap; reading stopped there.
    #[error(
        "the response body exceeds the limit of {limit} bytes; request smaller pages or raise the transport's max_response_body"
    )]
    BodyTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// Following the instance's `Link: rel="next"` header could not go on: the link is
    /// malformed, points away from the instance (credentials are never sent elsewhere), or
    /// leads back to a page already fetched.
    #[error("paging by the Link header stopped: {reason}")]
    Paging {
        /// What was wrong with the link (never the link itself, which may carry credentials).
        reason: String,
    },
    /// A call of the [blocking client](crate::blocking) was made inside an async runtime, where
    /// blocking would stall the runtime's thread. Nothing was sent.
    #[cfg(feature = "blocking")]
    #[error(
        "the blocking client was called inside an async runtime, where it would block the runtime's thread; use the async snow_client::Client there, or call the blocking client from a thread of your own (std::thread::spawn)"
    )]
    BlockingInAsync,
    /// Paging received a different number of records than `X-Total-Count` announced (records
    /// were added or deleted while paging, or ACLs hid some rows).
    #[error(
        "expected {expected} record(s) from X-Total-Count but received {received}; the table changed while paging or ACLs hid rows; use keyset paging or retry"
    )]
    CountMismatch {
        /// What `X-Total-Count` (and the limit and offset) announced.
        expected: u64,
        /// What arrived.
        received: u64,
    },
    /// A request of a batch was not run: the instance listed it in `unserviced_requests` on
    /// every submission (the batch ran out of time or room), or the batch carrying it failed as
    /// a whole (that failure is kept by the batch's answer).
    #[error(
        "batch request {id} was not run after {attempts} submission(s): {reason}; send it again later or in a smaller batch"
    )]
    BatchUnserviced {
        /// The request's id in the batch.
        id: String,
        /// How many times it was submitted.
        attempts: u32,
        /// Why it was not run.
        reason: String,
    },
    /// Downloaded content does not match the SHA-256 `hash` the instance holds for the
    /// attachment: it was corrupted on the way or changed meanwhile.
    #[error(
        "the downloaded content does not match its hash (expected SHA-256 {expected}, got {actual}); do not use it, download it again"
    )]
    HashMismatch {
        /// The `hash` of the attachment's metadata.
        expected: String,
        /// The SHA-256 of what arrived.
        actual: String,
    },
    /// Reading or writing a local file (an upload's source, a download's destination) failed.
    #[error("could not {action}: {source}")]
    Io {
        /// What was being done, e.g. "write the download to report.pdf".
        action: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Why a [`Client`](crate::Client) could not be set up: the typed error of the part that
/// refused its setting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The instance name, host or URL is not valid.
    #[error(transparent)]
    Instance(#[from] snow_core::InstanceError),
    /// The transport could not be built (TLS, proxy, default headers, limits).
    #[error(transparent)]
    Transport(#[from] snow_transport::BuildError),
    /// The OAuth settings are not valid.
    #[cfg(feature = "oauth")]
    #[error(transparent)]
    OAuth(snow_oauth::OAuthError),
    /// The environment variables do not describe a client ([`Client::from_env`](crate::Client::from_env)):
    /// a variable missing, or two that contradict each other. The message names variables,
    /// never their values.
    #[error("{message}")]
    Environment {
        /// What is missing or contradictory.
        message: String,
    },
    /// The blocking client's runtime could not be started.
    #[cfg(feature = "blocking")]
    #[error("the blocking client's runtime could not be started: {0}")]
    Runtime(std::io::Error),
}

struct ApiText<'a> {
    status: StatusCode,
    message: &'a str,
    detail: Option<&'a str>,
    transaction_id: Option<&'a str>,
}

impl fmt::Display for ApiText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ServiceNow returned HTTP {}: {}",
            status_text(self.status),
            if self.message.is_empty() {
                "(no message)"
            } else {
                self.message
            }
        )?;
        if let Some(d) = self.detail {
            write!(f, ": {d}")?;
        }
        if let Some(t) = self.transaction_id {
            write!(f, " (transaction {t})")?;
        }
        match self.status {
            StatusCode::UNAUTHORIZED => f.write_str(
                "; check the credentials (user name and password, API key or token) and that the account is active",
            )?,
            StatusCode::FORBIDDEN => {
                f.write_str("; the account lacks the role or ACL this needs on the instance")?;
            }
            _ => {}
        }
        Ok(())
    }
}

fn status_text(s: StatusCode) -> String {
    match s.canonical_reason() {
        Some(r) => format!("{} {r}", s.as_u16()),
        None => s.as_u16().to_string(),
    }
}

fn excerpt_text(content_type: Option<&str>, excerpt: &str) -> String {
    let ct = content_type
        .map(|c| format!(" (content type {c})"))
        .unwrap_or_default();
    if excerpt.is_empty() {
        ct
    } else {
        format!("{ct}: \"{excerpt}\"")
    }
}

impl Error {
    /// What kind of failure this is (transient, throttling, server, client, auth, response,
    /// config): branch on it instead of matching variants.
    pub fn kind(&self) -> ErrorKind {
        // The answer's status classified as for a write: a `202` is a failure only for reads,
        // and a read's is `SessionRejected`.
        let of_status = |status: StatusCode, otherwise| {
            ErrorKind::of_status(status, &Method::POST).unwrap_or(otherwise)
        };
        match self {
            Error::Api { status, .. } => of_status(*status, ErrorKind::Server),
            Error::UnexpectedResponse { status, .. } => of_status(*status, ErrorKind::Response),
            Error::InstanceUnavailable { hibernating, .. } => {
                if *hibernating {
                    ErrorKind::Server
                } else {
                    ErrorKind::Transient
                }
            }
            Error::TransactionCancelled { .. } => ErrorKind::Server,
            Error::SessionRejected { .. } | Error::RateLimited { .. } => ErrorKind::Throttling,
            Error::Auth(e) => e.kind(),
            Error::Timeout(_) | Error::Connect(_) => ErrorKind::Transient,
            Error::Tls(_) | Error::Config(_) => ErrorKind::Config,
            Error::Transport(e) => e.kind(),
            Error::NoResults
            | Error::MultipleResults
            | Error::InvalidQuery(_)
            | Error::InvalidInput { .. } => ErrorKind::Client,
            #[cfg(feature = "blocking")]
            Error::BlockingInAsync => ErrorKind::Client,
            Error::TruncatedResponse { .. }
            | Error::Decode { .. }
            | Error::FieldValue { .. }
            | Error::BodyTooLarge { .. }
            | Error::Paging { .. }
            | Error::CountMismatch { .. }
            | Error::HashMismatch { .. } => ErrorKind::Response,
            Error::BatchUnserviced { .. } => ErrorKind::Transient,
            Error::Io { .. } => ErrorKind::Client,
        }
    }

    /// Whether sending the same request again, after a wait, may succeed: rate limiting, a busy
    /// session, timeouts, connection failures, 502/503/504, an unavailable (not hibernating)
    /// instance and transient authentication failures. The same as `kind().is_retryable()`.
    ///
    /// A cancelled or truncated transaction is not retryable as is; ask for smaller pages.
    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }

    /// The HTTP status of the answer behind this error, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api { status, .. }
            | Error::UnexpectedResponse { status, .. }
            | Error::InstanceUnavailable { status, .. }
            | Error::TruncatedResponse { status, .. } => Some(*status),
            Error::TransactionCancelled { .. } => Some(StatusCode::OK),
            Error::SessionRejected { .. } => Some(StatusCode::ACCEPTED),
            Error::RateLimited { .. } => Some(StatusCode::TOO_MANY_REQUESTS),
            _ => None,
        }
    }

    /// The transport's error behind this one, when the failure happened in the transport.
    pub fn transport_error(&self) -> Option<&TransportError> {
        match self {
            Error::Timeout(e) | Error::Tls(e) | Error::Connect(e) | Error::Transport(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the connection failed while the answer was being read (a page can be asked
    /// for again).
    pub(crate) fn is_dropped_connection(&self) -> bool {
        matches!(self, Error::Transport(_))
    }

    /// A refused argument.
    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput {
            message: message.into(),
        }
    }

    /// A failed local file operation.
    pub(crate) fn io(action: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            action: action.into(),
            source,
        }
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        use snow_transport::TransportError as T;
        if e.is_timeout() {
            return Error::Timeout(e);
        }
        match e {
            T::Auth(a) => Error::from(a),
            T::Connect { .. } => Error::Connect(e),
            T::Tls { .. } => Error::Tls(e),
            T::BodyTooLarge { limit } => Error::BodyTooLarge { limit },
            T::RetryAfterTooLong { retry_after, .. } => Error::RateLimited {
                retry_after: Some(retry_after),
                message: Some(e.to_string()),
                rule: None,
                limit: None,
                reset: None,
            },
            T::RateLimited {
                ref rule,
                limit,
                reset,
                retry_after,
                ..
            } => Error::RateLimited {
                retry_after,
                message: Some(e.to_string()),
                rule: rule.clone(),
                limit,
                reset,
            },
            T::CrossOrigin { .. } | T::InvalidRequest { .. } => Error::InvalidInput {
                message: e.to_string(),
            },
            other => Error::Transport(other),
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

impl From<snow_transport::BuildError> for Error {
    fn from(e: snow_transport::BuildError) -> Self {
        Error::Config(ConfigError::Transport(e))
    }
}

impl From<snow_core::InstanceError> for Error {
    fn from(e: snow_core::InstanceError) -> Self {
        Error::Config(ConfigError::Instance(e))
    }
}

impl From<AuthError> for Error {
    /// [`Error::Auth`], except that a credential issuer on a hibernating developer instance
    /// (the OAuth token endpoint answering with the hibernation page) is
    /// [`Error::InstanceUnavailable`] with `hibernating: true`, as any other call to it is.
    fn from(e: AuthError) -> Self {
        #[cfg(feature = "oauth")]
        {
            use std::error::Error as _;
            if let Some(snow_oauth::OAuthError::InstanceUnavailable {
                hibernating: true,
                status,
            }) = e.source().and_then(|s| s.downcast_ref())
            {
                return Error::InstanceUnavailable {
                    hibernating: true,
                    status: StatusCode::from_u16(*status).unwrap_or(StatusCode::OK),
                };
            }
        }
        Error::Auth(e)
    }
}

#[cfg(feature = "oauth")]
impl From<snow_oauth::OAuthError> for Error {
    /// As the same failure met by an API call: through [`AuthError`] (so a hibernating
    /// instance is [`Error::InstanceUnavailable`]), except a configuration error, which is
    /// [`Error::Config`].
    fn from(e: snow_oauth::OAuthError) -> Self {
        match e {
            e @ (snow_oauth::OAuthError::Config { .. } | snow_oauth::OAuthError::Jwt { .. }) => {
                Error::Config(ConfigError::OAuth(e))
            }
            e => Error::from(AuthError::from(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snow_transport::{TimeoutKind, TlsFailure};

    fn timeout() -> TransportError {
        TransportError::Timeout {
            kind: TimeoutKind::Attempt,
        }
    }

    fn connect() -> TransportError {
        TransportError::Connect {
            message: "connection refused".into(),
            source: None,
        }
    }

    fn tls() -> TransportError {
        TransportError::Tls {
            kind: TlsFailure::CertificateVerification,
            message: "unknown issuer".into(),
            source: None,
        }
    }

    fn sentence(e: &Error) -> String {
        let s = e.to_string();
        assert!(!s.is_empty());
        assert!(!s.contains('\n'), "one line: {s}");
        s
    }

    #[test]
    fn api_error_text_names_status_message_detail_and_transaction() {
        let e = Error::Api {
            status: StatusCode::NOT_FOUND,
            message: "No Record found".into(),
            detail: Some("Record doesn't exist or ACL restricts the record retrieval".into()),
            transaction_id: Some("79aee3f52fa2".into()),
        };
        let s = sentence(&e);
        assert!(s.contains(
            "No Record found: Record doesn't exist or ACL restricts the record retrieval"
        ));
        assert!(s.contains("404 Not Found"));
        assert!(s.contains("79aee3f52fa2"));
        assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));
        assert!(!e.is_retryable());

        let e = Error::Api {
            status: StatusCode::BAD_REQUEST,
            message: "Invalid table name".into(),
            detail: None,
            transaction_id: None,
        };
        assert_eq!(
            sentence(&e),
            "ServiceNow returned HTTP 400 Bad Request: Invalid table name"
        );
    }

    #[test]
    fn retryable_kinds() {
        let retry = [
            Error::RateLimited {
                retry_after: Some(Duration::from_secs(3)),
                message: None,
                rule: None,
                limit: None,
                reset: None,
            },
            Error::SessionRejected {
                transaction_id: None,
            },
            Error::Timeout(timeout()),
            Error::Connect(connect()),
            Error::InstanceUnavailable {
                hibernating: false,
                status: StatusCode::SERVICE_UNAVAILABLE,
            },
            Error::Api {
                status: StatusCode::BAD_GATEWAY,
                message: String::new(),
                detail: None,
                transaction_id: None,
            },
            Error::Auth(AuthError::refused("token endpoint down", true)),
        ];
        for e in &retry {
            assert!(e.is_retryable(), "{e}");
            sentence(e);
        }
        let no_retry = [
            Error::InstanceUnavailable {
                hibernating: true,
                status: StatusCode::OK,
            },
            Error::NoResults,
            Error::MultipleResults,
            Error::Tls(tls()),
            Error::TransactionCancelled {
                rows_received: 3,
                message: "Transaction cancelled".into(),
                detail: None,
                transaction_id: None,
            },
            Error::TruncatedResponse {
                rows_received: 2,
                status: StatusCode::OK,
            },
            Error::Api {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: "x".into(),
                detail: None,
                transaction_id: None,
            },
            Error::Auth(AuthError::refused("bad password", false)),
            Error::invalid_input("limit must be positive"),
        ];
        for e in &no_retry {
            assert!(!e.is_retryable(), "{e}");
            sentence(e);
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(
            Error::SessionRejected {
                transaction_id: None
            }
            .status(),
            Some(StatusCode::ACCEPTED)
        );
        assert_eq!(
            Error::RateLimited {
                retry_after: None,
                message: None,
                rule: None,
                limit: None,
                reset: None,
            }
            .status(),
            Some(StatusCode::TOO_MANY_REQUESTS)
        );
        assert_eq!(Error::NoResults.status(), None);
        assert_eq!(Error::Timeout(timeout()).status(), None);
    }

    #[test]
    fn hibernation_message_says_what_to_do() {
        let s = Error::InstanceUnavailable {
            hibernating: true,
            status: StatusCode::OK,
        }
        .to_string();
        assert!(s.contains("hibernating") && s.contains("wake"), "{s}");
    }

    #[test]
    fn rate_limit_message_carries_retry_after() {
        let s = Error::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
            message: Some("Rate limit exceeded".into()),
            rule: Some("0123456789abcdef0123456789abcdef".into()),
            limit: Some(60),
            reset: None,
        }
        .to_string();
        assert!(s.contains("retry after 30 s") && s.contains("Rate limit exceeded"));
        assert!(s.contains("a rate-limit rule"), "{s}");
    }

    #[test]
    fn kinds_and_typed_sources() {
        use std::error::Error as _;
        let e = Error::from(connect());
        assert_eq!(e.kind(), ErrorKind::Transient);
        assert!(matches!(
            e.transport_error(),
            Some(TransportError::Connect { .. })
        ));
        let source = e.source().and_then(|s| s.downcast_ref::<TransportError>());
        assert!(source.is_some(), "the transport error is the source");
        // Said once: "could not connect" is not repeated by the client's own text.
        let text = e.to_string();
        assert_eq!(text.matches("could not connect").count(), 1, "{text}");
        let e = Error::from(timeout());
        assert_eq!(e.to_string().matches("timed out").count(), 1, "{e}");

        let e: Error = snow_core::Instance::from_url("ftp://x").unwrap_err().into();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(matches!(e, Error::Config(ConfigError::Instance(_))));
        assert!(e.source().is_some());

        for (status, kind) in [
            (StatusCode::NOT_FOUND, ErrorKind::Client),
            (StatusCode::UNAUTHORIZED, ErrorKind::Auth),
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorKind::Server),
            (StatusCode::SERVICE_UNAVAILABLE, ErrorKind::Transient),
            (StatusCode::OK, ErrorKind::Server),
        ] {
            let e = Error::Api {
                status,
                message: "x".into(),
                detail: None,
                transaction_id: None,
            };
            assert_eq!(e.kind(), kind, "{status}");
        }
        assert_eq!(Error::NoResults.kind(), ErrorKind::Client);
        assert_eq!(
            Error::CountMismatch {
                expected: 2,
                received: 1
            }
            .kind(),
            ErrorKind::Response
        );
        let unserviced = Error::BatchUnserviced {
            id: "7".into(),
            attempts: 4,
            reason: "listed in unserviced_requests".into(),
        };
        assert!(unserviced.is_retryable());
        sentence(&unserviced);
        let mismatch = Error::HashMismatch {
            expected: "ab".into(),
            actual: "cd".into(),
        };
        assert_eq!(mismatch.kind(), ErrorKind::Response);
        assert!(sentence(&mismatch).contains("expected SHA-256 ab"));
        let io = Error::io(
            "write the download to a.txt",
            std::io::Error::other("disk full"),
        );
        assert_eq!(io.kind(), ErrorKind::Client);
        assert!(io.source().is_some());
        assert_eq!(
            sentence(&io),
            "could not write the download to a.txt: disk full"
        );
    }

    #[test]
    fn a_rate_limit_the_transport_would_not_wait_for_keeps_the_rule() {
        let reset = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_010);
        let e = Error::from(TransportError::RateLimited {
            rule: Some("4a2cf4c3db3d1010c0a8f7f1f39619e7".into()),
            limit: Some(60),
            reset: Some(reset),
            retry_after: Some(Duration::from_secs(9)),
            max_wait: Duration::from_secs(5),
        });
        match &e {
            Error::RateLimited {
                retry_after,
                message,
                rule,
                limit,
                reset: r,
            } => {
                assert_eq!(*retry_after, Some(Duration::from_secs(9)));
                assert_eq!(rule.as_deref(), Some("4a2cf4c3db3d1010c0a8f7f1f39619e7"));
                assert_eq!(*limit, Some(60));
                assert_eq!(*r, Some(reset));
                assert!(
                    message
                        .as_deref()
                        .unwrap_or_default()
                        .contains("cap of 5 s")
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.kind(), ErrorKind::Throttling);
        assert!(e.is_retryable());
        let text = sentence(&e);
        assert!(text.contains("a rate-limit rule"), "{text}");
    }

    #[test]
    fn query_errors_convert() {
        let q = crate::query::field("a b").eq(1).build().unwrap_err();
        let e: Error = q.into();
        assert!(
            e.to_string()
                .starts_with("invalid query: invalid field name \"a b\"")
        );
    }
}
