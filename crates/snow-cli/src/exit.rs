//! Exit codes, one per kind of failure, and the command's error type.

use std::fmt;

use snow_client::{Error as ClientError, ErrorKind};

/// How the command ended. The numbers are stable: scripts branch on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Success.
    Ok,
    /// A failure of none of the kinds below (a local file, an unexpected state).
    Other,
    /// The command line or its input cannot be used (also: an invalid query or setting).
    Usage,
    /// Credentials are missing or were refused, or the account may not do this.
    Auth,
    /// The record, table or attachment does not exist.
    NotFound,
    /// The instance asked to slow down (429, a busy session).
    RateLimited,
    /// The instance is hibernating, in maintenance or otherwise not serving.
    Unavailable,
    /// The instance could not be reached: connection, TLS, timeout.
    Network,
    /// The instance failed, or answered something that is not ServiceNow's JSON.
    Server,
    /// Stopped by the user (ctrl-c); an export keeps its checkpoint.
    Interrupted,
}

impl Exit {
    /// Every exit code, in order, for the help text and the README.
    pub(crate) const ALL: [Exit; 10] = [
        Exit::Ok,
        Exit::Other,
        Exit::Usage,
        Exit::Auth,
        Exit::NotFound,
        Exit::RateLimited,
        Exit::Unavailable,
        Exit::Network,
        Exit::Server,
        Exit::Interrupted,
    ];

    /// The process exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Other => 1,
            Exit::Usage => 2,
            Exit::Auth => 3,
            Exit::NotFound => 4,
            Exit::RateLimited => 5,
            Exit::Unavailable => 6,
            Exit::Network => 7,
            Exit::Server => 8,
            Exit::Interrupted => 130,
        }
    }

    /// The kind's name in JSON error objects.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::Other => "other",
            Exit::Usage => "usage",
            Exit::Auth => "auth",
            Exit::NotFound => "not_found",
            Exit::RateLimited => "rate_limited",
            Exit::Unavailable => "unavailable",
            Exit::Network => "network",
            Exit::Server => "server",
            Exit::Interrupted => "interrupted",
        }
    }

    fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "success",
            Exit::Other => "another failure (a local file could not be read or written, ...)",
            Exit::Usage => "usage: bad arguments, invalid query, data or setting",
            Exit::Auth => "auth: credentials missing or refused, or not allowed (401, 403)",
            Exit::NotFound => "not found: no such record, table or attachment",
            Exit::RateLimited => "rate limited: the instance asked to slow down (429)",
            Exit::Unavailable => "instance unavailable: hibernating, maintenance, 502/503/504",
            Exit::Network => "network: no connection, TLS failure, timeout",
            Exit::Server => "server: the instance failed (5xx) or answered unusably",
            Exit::Interrupted => "interrupted (ctrl-c); an export can be resumed",
        }
    }
}

/// The exit-code table shown at the end of `snow --help`.
pub(crate) fn help_table() -> String {
    let mut s = String::from("Exit codes:\n");
    for e in Exit::ALL {
        s.push_str(&format!("  {:>3}  {}\n", e.code(), e.meaning()));
    }
    s
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The command line or an input cannot be used.
    #[error("{0}")]
    Usage(String),
    /// No usable credentials.
    #[error("{0}")]
    Auth(String),
    /// The client failed talking to the instance.
    #[error("{0}")]
    Client(#[from] ClientError),
    /// A local file or stream could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the file.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Stopped by ctrl-c.
    #[error("{0}")]
    Interrupted(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl CliError {
    /// A usage error.
    pub(crate) fn usage(msg: impl fmt::Display) -> Self {
        CliError::Usage(msg.to_string())
    }

    /// An I/O error while doing `what`.
    pub(crate) fn io(what: impl fmt::Display) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.to_string();
        move |source| CliError::Io { what, source }
    }

    /// The exit code for this error.
    pub(crate) fn exit(&self) -> Exit {
        match self {
            CliError::Usage(_) => Exit::Usage,
            CliError::Auth(_) => Exit::Auth,
            CliError::Client(e) => classify(e),
            CliError::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe => {
                Exit::Ok
            }
            CliError::Io { .. } | CliError::Other(_) => Exit::Other,
            CliError::Interrupted(_) => Exit::Interrupted,
        }
    }

    /// The HTTP status behind the error, when there was one.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            CliError::Client(e) => e.status().map(|s| s.as_u16()),
            _ => None,
        }
    }

    /// The message on one line.
    pub(crate) fn one_line(&self) -> String {
        let text = self.to_string();
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// The exit code of a client error: by its variant where that says more than its kind, then
/// by [`ErrorKind`].
pub(crate) fn classify(e: &ClientError) -> Exit {
    use http::StatusCode;
    match e {
        ClientError::InstanceUnavailable { .. } => return Exit::Unavailable,
        ClientError::RateLimited { .. } | ClientError::SessionRejected { .. } => {
            return Exit::RateLimited;
        }
        ClientError::NoResults => return Exit::NotFound,
        ClientError::Api {
            status, message, ..
        } => {
            if *status == StatusCode::NOT_FOUND
                || (*status == StatusCode::BAD_REQUEST && message.starts_with("Invalid table"))
            {
                return Exit::NotFound;
            }
            if *status == StatusCode::FORBIDDEN {
                return Exit::Auth;
            }
        }
        ClientError::Tls(_)
        | ClientError::Connect(_)
        | ClientError::Timeout(_)
        | ClientError::Transport(_) => return Exit::Network,
        ClientError::Auth(a) => {
            if let Some(exit) = auth_source_exit(a) {
                return exit;
            }
        }
        _ => {}
    }
    match e.kind() {
        ErrorKind::Auth => Exit::Auth,
        ErrorKind::Throttling => Exit::RateLimited,
        ErrorKind::Transient => match e.status() {
            Some(s) if s.is_server_error() => Exit::Unavailable,
            _ => Exit::Network,
        },
        ErrorKind::Server | ErrorKind::Response => Exit::Server,
        ErrorKind::Client | ErrorKind::Config => Exit::Usage,
        _ => Exit::Other,
    }
}

/// An authentication failure caused by the instance rather than the credentials: the token
/// endpoint hibernating or unreachable.
fn auth_source_exit(a: &snow_client::core::AuthError) -> Option<Exit> {
    use snow_client::oauth::OAuthError;
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(a);
    while let Some(s) = source {
        if let Some(o) = s.downcast_ref::<OAuthError>() {
            return match o {
                OAuthError::InstanceUnavailable { .. } => Some(Exit::Unavailable),
                _ => match o.kind() {
                    ErrorKind::Transient => Some(Exit::Network),
                    ErrorKind::Throttling => Some(Exit::RateLimited),
                    ErrorKind::Server | ErrorKind::Response => Some(Exit::Server),
                    _ => None,
                },
            };
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_listed() {
        let mut codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Exit::ALL.len());
        let help = help_table();
        for e in Exit::ALL {
            assert!(help.contains(&format!("{:>3}  ", e.code())), "{help}");
        }
    }

    #[test]
    fn client_errors_map_to_their_codes() {
        let api = |status: u16, message: &str| ClientError::Api {
            status: http::StatusCode::from_u16(status).unwrap(),
            message: message.into(),
            detail: None,
            transaction_id: None,
        };
        assert_eq!(classify(&api(404, "No Record found")), Exit::NotFound);
        assert_eq!(classify(&api(400, "Invalid table nope")), Exit::NotFound);
        assert_eq!(classify(&api(400, "Bad request")), Exit::Usage);
        assert_eq!(classify(&api(401, "User Not Authenticated")), Exit::Auth);
        assert_eq!(classify(&api(403, "Operation Failed")), Exit::Auth);
        assert_eq!(classify(&api(500, "boom")), Exit::Server);
        assert_eq!(classify(&api(503, "down")), Exit::Unavailable);
        assert_eq!(
            classify(&ClientError::InstanceUnavailable {
                hibernating: true,
                status: http::StatusCode::OK
            }),
            Exit::Unavailable
        );
        assert_eq!(classify(&ClientError::NoResults), Exit::NotFound);
    }

    #[test]
    fn one_line_collapses_whitespace() {
        let e = CliError::Other("a\nb   c".into());
        assert_eq!(e.one_line(), "a b c");
    }
}
