//! [`OAuthError`]: everything that can go wrong getting, keeping or storing a token.

use std::borrow::Cow;
use std::sync::Arc;

use snow_core::http::{Method, StatusCode};
use snow_core::{AuthError, BoxError, ErrorKind, ExchangeError};

/// A shared, clonable error source.
pub(crate) type SharedSource = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why a token could not be obtained, refreshed, stored or used.
///
/// No variant's message contains a token, password, client secret or response body: the token
/// endpoint's `error` and `error_description` (at most 256 bytes each) are the only server
/// text carried.
///
/// The error is [`Clone`], because one failed refresh is handed to every request that was waiting
/// for it (see the crate documentation on single-flight refreshes).
///
/// [`kind`](Self::kind) classifies it as every snow error is classified. It converts into
/// [`snow_core::AuthError`] (what an [`Authenticator`](snow_core::Authenticator) returns) with
/// the same kind: [`MissingToken`](Self::MissingToken) becomes `AuthError::MissingCredential`,
/// and every other variant is kept whole as the source of `AuthError::Refused` (a refused grant,
/// or a transient failure) or `AuthError::Other`, so that
/// `source().downcast_ref::<OAuthError>()` finds it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// There is no token and no way to get one (no grant configured, no refresh token).
    #[error("no OAuth token: {0}")]
    MissingToken(Cow<'static, str>),

    /// The token endpoint refused to issue a token: wrong user password, wrong client secret, a
    /// disabled grant or a rejected assertion. ServiceNow answers all of these with HTTP 401,
    /// `error=server_error`, `error_description=access_denied`.
    #[error("the token endpoint refused to create a token{}: {error}{}",
        status.map(|s| format!(" (HTTP {s})")).unwrap_or_default(),
        description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    TokenCreate {
        /// HTTP status of the token response.
        status: Option<u16>,
        /// The OAuth `error` code (`server_error` from ServiceNow, `invalid_client`, ...).
        error: String,
        /// The OAuth `error_description` (`access_denied` from ServiceNow), if any.
        description: Option<String>,
    },

    /// The refresh token (or another grant) was refused as invalid, expired or revoked.
    ///
    /// Every refusal of a refresh-token grant is classified here, whatever `error` code the
    /// server used: ServiceNow answers a revoked or expired refresh token with the same
    /// `server_error` / `access_denied` it uses for everything else, and a refresh token that
    /// the server refuses cannot become good again. This is the error that makes the
    /// authenticator fall back to the password grant, when it has a password.
    #[error("the {grant} grant was refused as invalid, expired or revoked{}{}",
        status.map(|s| format!(" (HTTP {s})")).unwrap_or_default(),
        description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    InvalidGrant {
        /// Which grant was refused (`refresh_token`, `password`, ...).
        grant: &'static str,
        /// HTTP status of the token response, if one was received.
        status: Option<u16>,
        /// The OAuth `error` and `error_description`, as `error: description`.
        description: Option<String>,
    },

    /// The token request could not be sent or its response not read (connection refused, TLS,
    /// timeout, body too large). Transient or not as the exchange error says.
    #[error("the token request failed: {0}")]
    Transport(#[source] Arc<ExchangeError>),

    /// The instance cannot serve token requests now.
    ///
    /// `hibernating`: a developer instance that hibernates answers every URL, the token endpoint
    /// included, with its "Instance Hibernating page" (HTTP 200, HTML); wake it from the
    /// developer portal. Otherwise the token endpoint answered `5xx` (or `408`/`429` without an
    /// OAuth error): `502`, `503`, `504`, `408` and `429` are worth retrying later.
    #[error("{}", if *hibernating {
        format!("the instance is hibernating (HTTP {status}); wake it from the developer portal, then try again")
    } else {
        format!("the token endpoint is unavailable (HTTP {status})")
    })]
    InstanceUnavailable {
        /// Whether the answer was the hibernation page.
        hibernating: bool,
        /// The HTTP status of the answer.
        status: u16,
    },

    /// The token endpoint answered with a redirect. Redirects are never followed, so that no
    /// credential is sent anywhere but the configured endpoint.
    #[error("the token endpoint answered with a redirect (HTTP {status}), which is not followed")]
    Redirected {
        /// The HTTP status (300..=399).
        status: u16,
    },

    /// The token endpoint answered with something that is not a token response (malformed JSON,
    /// a body that is not JSON, a token that cannot be put in a header).
    #[error("the token endpoint sent an unexpected response: {message}")]
    Protocol {
        /// What was wrong, without the response body (which may hold a token).
        message: String,
    },

    /// The configuration is not usable (a malformed token or revocation URL).
    #[error("invalid OAuth configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },

    /// A JWT-bearer assertion could not be built: the private key is not a PEM key of the
    /// chosen algorithm, or signing failed.
    #[error("cannot build the JWT assertion: {message}")]
    Jwt {
        /// What failed, without any key material.
        message: String,
    },

    /// A [`TokenStore`](crate::TokenStore) could not load or save the token.
    #[error("token store failed to {action}: {source}")]
    Store {
        /// `"load"` or `"save"`.
        action: &'static str,
        /// The store's error.
        #[source]
        source: SharedSource,
    },

    /// Revoking a token failed: the endpoint answered with a status other than 2xx.
    #[error("the revocation endpoint answered HTTP {status}")]
    Revoke {
        /// The HTTP status.
        status: u16,
    },
}

impl OAuthError {
    /// What kind of failure this is.
    ///
    /// - [`Auth`](ErrorKind::Auth): the endpoint refused the grant
    ///   ([`TokenCreate`](Self::TokenCreate), [`InvalidGrant`](Self::InvalidGrant)), or there is
    ///   no token ([`MissingToken`](Self::MissingToken)).
    /// - The exchange error's kind for [`Transport`](Self::Transport) (a connection failure or
    ///   timeout is [`Transient`](ErrorKind::Transient)).
    /// - [`Server`](ErrorKind::Server) for a hibernating instance
    ///   ([`InstanceUnavailable`](Self::InstanceUnavailable) with `hibernating`): it answers
    ///   nothing until woken, so retrying does not help.
    /// - The status's kind ([`ErrorKind::of_status`]) for other
    ///   [`InstanceUnavailable`](Self::InstanceUnavailable) answers and for
    ///   [`Revoke`](Self::Revoke): `502`, `503` and `504` are transient, `500` is
    ///   [`Server`](ErrorKind::Server).
    /// - [`Response`](ErrorKind::Response) for an answer that is not a token response or a
    ///   redirect; [`Config`](ErrorKind::Config) for configuration, keys and token stores.
    ///
    /// ```
    /// use snow_core::ErrorKind;
    /// use snow_oauth::OAuthError;
    ///
    /// let down = OAuthError::InstanceUnavailable { hibernating: false, status: 503 };
    /// assert!(down.is_retryable());
    /// let asleep = OAuthError::InstanceUnavailable { hibernating: true, status: 200 };
    /// assert_eq!(asleep.kind(), ErrorKind::Server);
    /// assert!(!asleep.is_retryable());
    /// let denied = OAuthError::TokenCreate {
    ///     status: Some(401),
    ///     error: "server_error".into(),
    ///     description: Some("access_denied".into()),
    /// };
    /// assert_eq!(denied.kind(), ErrorKind::Auth);
    /// assert!(!denied.is_retryable());
    /// assert!(denied.to_string().contains("access_denied"));
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            OAuthError::MissingToken(_)
            | OAuthError::TokenCreate { .. }
            | OAuthError::InvalidGrant { .. } => ErrorKind::Auth,
            OAuthError::Transport(e) => e.kind(),
            OAuthError::InstanceUnavailable {
                hibernating: true, ..
            } => ErrorKind::Server,
            OAuthError::InstanceUnavailable { status, .. } | OAuthError::Revoke { status } => {
                status_kind(*status)
            }
            OAuthError::Redirected { .. } | OAuthError::Protocol { .. } => ErrorKind::Response,
            OAuthError::Config { .. } | OAuthError::Jwt { .. } | OAuthError::Store { .. } => {
                ErrorKind::Config
            }
        }
    }

    /// Whether trying again later may succeed (network trouble, a `502`/`503`/`504` from the
    /// token endpoint), as opposed to a refusal (wrong password, revoked grant) or a
    /// configuration error: `self.kind().is_retryable()`.
    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }

    /// Whether this is an invalid-grant refusal (the condition for the password fallback).
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, OAuthError::InvalidGrant { .. })
    }

    pub(crate) fn store(action: &'static str, source: BoxError) -> Self {
        OAuthError::Store {
            action,
            source: Arc::from(source),
        }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        OAuthError::Protocol {
            message: message.into(),
        }
    }
}

impl From<ExchangeError> for OAuthError {
    fn from(e: ExchangeError) -> Self {
        OAuthError::Transport(Arc::new(e))
    }
}

/// The kind of failure an HTTP status of the token or revocation endpoint stands for.
fn status_kind(status: u16) -> ErrorKind {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| ErrorKind::of_status(s, &Method::POST))
        .unwrap_or(ErrorKind::Server)
}

/// Into the auth-neutral error every transport understands, keeping the kind and the
/// `OAuthError` itself as the source: [`MissingToken`](OAuthError::MissingToken) becomes
/// `AuthError::MissingCredential`; an auth failure (a refused grant) becomes
/// `AuthError::Refused` (not transient), a transient one `AuthError::Refused` (transient);
/// anything else `AuthError::Other` with its kind.
impl From<OAuthError> for AuthError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::MissingToken(why) => AuthError::MissingCredential(why),
            e => match e.kind() {
                ErrorKind::Auth => AuthError::refused(e, false),
                ErrorKind::Transient => AuthError::refused(e, true),
                kind => AuthError::other(e, kind),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(e: &AuthError) -> Option<&OAuthError> {
        std::error::Error::source(e).and_then(|s| s.downcast_ref::<OAuthError>())
    }

    #[test]
    fn conversion_keeps_kind_and_source() {
        let all = [
            OAuthError::InstanceUnavailable {
                hibernating: false,
                status: 503,
            },
            OAuthError::InstanceUnavailable {
                hibernating: false,
                status: 500,
            },
            OAuthError::Config {
                message: "x".into(),
            },
            OAuthError::TokenCreate {
                status: Some(401),
                error: "server_error".into(),
                description: Some("access_denied".into()),
            },
            OAuthError::InvalidGrant {
                grant: "refresh_token",
                status: Some(401),
                description: None,
            },
            OAuthError::from(ExchangeError::Timeout),
            OAuthError::Redirected { status: 302 },
            OAuthError::protocol("not JSON"),
            OAuthError::Revoke { status: 404 },
            OAuthError::InstanceUnavailable {
                hibernating: true,
                status: 200,
            },
        ];
        for e in all {
            let kind = e.kind();
            let message = e.to_string();
            let auth = AuthError::from(e);
            assert_eq!(auth.kind(), kind, "{auth:?}");
            assert!(source(&auth).is_some(), "{auth:?}");
            assert!(auth.to_string().contains(&message), "{auth}");
        }
        let e = AuthError::from(OAuthError::InstanceUnavailable {
            hibernating: false,
            status: 503,
        });
        assert!(matches!(
            e,
            AuthError::Refused {
                transient: true,
                ..
            }
        ));
        assert!(e.is_retryable());
        let e = AuthError::from(OAuthError::TokenCreate {
            status: Some(401),
            error: "server_error".into(),
            description: Some("access_denied".into()),
        });
        assert!(matches!(
            e,
            AuthError::Refused {
                transient: false,
                ..
            }
        ));
        assert!(e.to_string().contains("access_denied"));
        let e = AuthError::from(OAuthError::InstanceUnavailable {
            hibernating: true,
            status: 200,
        });
        assert!(matches!(
            e,
            AuthError::Other {
                kind: ErrorKind::Server,
                ..
            }
        ));
        assert!(e.to_string().contains("hibernating"), "{e}");
        let e = AuthError::from(OAuthError::MissingToken("none".into()));
        assert!(matches!(e, AuthError::MissingCredential(_)));
    }

    #[test]
    fn retryability() {
        assert!(OAuthError::from(ExchangeError::Timeout).is_retryable());
        assert!(
            !OAuthError::from(ExchangeError::InvalidRequest {
                message: "x".into()
            })
            .is_retryable()
        );
        assert!(!OAuthError::Redirected { status: 302 }.is_retryable());
        assert!(!OAuthError::MissingToken("none".into()).is_retryable());
        assert!(OAuthError::Revoke { status: 502 }.is_retryable());
        assert!(
            !OAuthError::InstanceUnavailable {
                hibernating: false,
                status: 500,
            }
            .is_retryable()
        );
        assert_eq!(
            OAuthError::InstanceUnavailable {
                hibernating: false,
                status: 500,
            }
            .kind(),
            ErrorKind::Server
        );
    }
}
