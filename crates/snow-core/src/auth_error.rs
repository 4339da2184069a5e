//! [`AuthError`]: why credentials could not be put on a request, for every kind of auth.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::ErrorKind;

/// A boxed error, as used by tower and hyper.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A shared error: what [`AuthError`] carries as its source, so that the error is [`Clone`] (one
/// failed renewal is handed to every request that waited for it).
pub type SharedError = Arc<dyn StdError + Send + Sync + 'static>;

/// Why credentials could not be put on a request.
///
/// One error type for every authenticator, so that transports and retry policies decide with
/// [`kind`](Self::kind) and [`is_retryable`](Self::is_retryable) without knowing the kind of
/// auth. It says nothing about how a credential is obtained: the authenticator's own error (an
/// OAuth token endpoint's answer, a vault's) travels as the [`source`](StdError::source) of
/// [`Refused`](Self::Refused) and [`Other`](Self::Other), where callers can downcast to it.
///
/// No variant's message contains a password, secret or token; an authenticator keeps its own
/// errors free of them too.
///
/// ```
/// use snow_core::{AuthError, ErrorKind};
///
/// let sealed = AuthError::refused("the vault is sealed", true);
/// assert_eq!(sealed.kind(), ErrorKind::Transient);
/// assert!(sealed.is_retryable());
///
/// let denied = AuthError::refused("access denied", false);
/// assert_eq!(denied.kind(), ErrorKind::Auth);
/// assert_eq!(denied.to_string(), "the credential was refused: access denied");
///
/// let clone = denied.clone(); // shared with every request that waited for it
/// assert_eq!(clone.to_string(), denied.to_string());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthError {
    /// No credential is available and the authenticator has no way to get one: none was
    /// configured or stored, or the one it had was refused for good.
    MissingCredential(Cow<'static, str>),

    /// A credential cannot be put on a request: it holds characters an HTTP header (or a URL)
    /// cannot carry, such as a newline.
    InvalidCredential {
        /// Which credential ("password", "token", "API key", ...), never its value.
        what: &'static str,
    },

    /// The credential's issuer (a token endpoint, a vault, an identity provider) did not issue
    /// one: it refused (a wrong password, a revoked grant), or could not for now (unreachable,
    /// overloaded), as `transient` says.
    Refused {
        /// Whether asking again later may succeed.
        transient: bool,
        /// The authenticator's own error, saying what the issuer answered.
        source: SharedError,
    },

    /// Any other failure of an authenticator (its configuration, an answer it could not use),
    /// with the kind of failure it is.
    Other {
        /// What kind of failure this is.
        kind: ErrorKind,
        /// The authenticator's own error.
        source: SharedError,
    },
}

impl AuthError {
    /// No credential is available, for the reason given (which must not hold a secret).
    pub fn missing(reason: impl Into<Cow<'static, str>>) -> Self {
        AuthError::MissingCredential(reason.into())
    }

    /// The issuer did not issue a credential; `transient` if asking again later may work.
    pub fn refused(source: impl Into<BoxError>, transient: bool) -> Self {
        AuthError::Refused {
            transient,
            source: Arc::from(source.into()),
        }
    }

    /// Wrap an authenticator-specific error of the given kind.
    pub fn other(source: impl Into<BoxError>, kind: ErrorKind) -> Self {
        AuthError::Other {
            kind,
            source: Arc::from(source.into()),
        }
    }

    /// What kind of failure this is: [`ErrorKind::Auth`] for a missing, unusable or refused
    /// credential, [`ErrorKind::Transient`] for an issuer that could not answer for now, and the
    /// wrapped error's kind for [`Other`](Self::Other).
    pub fn kind(&self) -> ErrorKind {
        match self {
            AuthError::MissingCredential(_) | AuthError::InvalidCredential { .. } => {
                ErrorKind::Auth
            }
            AuthError::Refused { transient, .. } => {
                if *transient {
                    ErrorKind::Transient
                } else {
                    ErrorKind::Auth
                }
            }
            AuthError::Other { kind, .. } => *kind,
        }
    }

    /// Whether trying again later may succeed: `self.kind().is_retryable()`.
    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::MissingCredential(reason) => write!(f, "no credential available: {reason}"),
            AuthError::InvalidCredential { what } => write!(
                f,
                "the {what} cannot be sent: it contains characters an HTTP header cannot carry"
            ),
            AuthError::Refused {
                transient: false,
                source,
            } => write!(f, "the credential was refused: {source}"),
            AuthError::Refused {
                transient: true,
                source,
            } => write!(f, "no credential could be obtained for now: {source}"),
            AuthError::Other { source, .. } => write!(f, "{source}"),
        }
    }
}

impl StdError for AuthError {
    /// The authenticator's own error itself (not the `Arc` around it), so that
    /// `source().and_then(|s| s.downcast_ref::<TheirError>())` finds it.
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            AuthError::Refused { source, .. } | AuthError::Other { source, .. } => Some(&**source),
            AuthError::MissingCredential(_) | AuthError::InvalidCredential { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("endpoint said no")]
    struct Theirs;

    #[test]
    fn kinds_and_retryability() {
        assert_eq!(AuthError::missing("none").kind(), ErrorKind::Auth);
        assert_eq!(
            AuthError::InvalidCredential { what: "token" }.kind(),
            ErrorKind::Auth
        );
        assert!(AuthError::refused("down", true).is_retryable());
        assert!(!AuthError::refused("no", false).is_retryable());
        let other = AuthError::other("hibernating", ErrorKind::Server);
        assert_eq!(other.kind(), ErrorKind::Server);
        assert!(!other.is_retryable());
        assert!(AuthError::other("slow down", ErrorKind::Throttling).is_retryable());
    }

    #[test]
    fn source_is_the_wrapped_error_and_survives_clone() {
        let e = AuthError::refused(Theirs, false).clone();
        let src = e.source().expect("a source");
        assert!(src.downcast_ref::<Theirs>().is_some());
        assert_eq!(
            e.to_string(),
            "the credential was refused: endpoint said no"
        );
        let e = AuthError::other(Theirs, ErrorKind::Config);
        assert!(
            e.source()
                .and_then(|s| s.downcast_ref::<Theirs>())
                .is_some()
        );
        assert_eq!(e.to_string(), "endpoint said no");
        assert!(AuthError::missing("x").source().is_none());
        assert_eq!(
            AuthError::refused("down", true).to_string(),
            "no credential could be obtained for now: down"
        );
    }
}
