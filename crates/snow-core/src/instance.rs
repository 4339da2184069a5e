//! The ServiceNow instance a client talks to.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::url::{UrlBuilder, is_unreserved};

/// The API root used when none is given: ServiceNow's platform REST APIs.
const DEFAULT_API_ROOT: &str = "/api/now";

/// The domain a bare instance name is placed under.
const SERVICE_NOW_DOMAIN: &str = "service-now.com";

/// URL scheme of an [`Instance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `https://`, the default and what every hosted instance speaks.
    Https,
    /// `http://`, for local development servers (like `snow-devinstance`) only.
    Http,
}

impl Scheme {
    /// The scheme as it appears in a URL, without `://`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }

    /// The port a URL of this scheme uses when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            Scheme::Http => 80,
        }
    }
}

/// Why a string was refused as an instance name, host, base URL or path.
///
/// Every message names the problem; none repeats a credential (inputs carrying
/// user information are refused without echoing them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstanceError {
    /// The input was empty or only whitespace.
    #[error("the {what} is empty")]
    Empty {
        /// Which input: "instance name", "host", "base URL" or "API root".
        what: &'static str,
    },
    /// The input contains whitespace or control characters.
    #[error("the {what} {input:?} contains whitespace or control characters")]
    Whitespace {
        /// Which input.
        what: &'static str,
        /// The input as given.
        input: String,
    },
    /// An instance name contained something other than letters, digits and hyphens.
    #[error(
        "{input:?} is not a ServiceNow instance name (letters, digits and '-' only, like \"acme\"); \
         pass a host such as \"acme.service-now.com\" or a full URL instead"
    )]
    InvalidName {
        /// The input as given.
        input: String,
    },
    /// The input carried user information (`user@host` or `user:pass@host`).
    #[error(
        "the {what} must not contain user information ('@'); give credentials to an authenticator instead"
    )]
    UserInfo {
        /// Which input.
        what: &'static str,
    },
    /// A base URL used a scheme other than `http` or `https`.
    #[error(
        "the base URL {input:?} uses an unsupported scheme; only http:// and https:// are allowed"
    )]
    UnsupportedScheme {
        /// The input as given.
        input: String,
    },
    /// A base URL carried a query string or fragment.
    #[error("the base URL {input:?} must not contain a query string ('?') or fragment ('#')")]
    QueryOrFragment {
        /// The input as given.
        input: String,
    },
    /// A host or name carried a path.
    #[error(
        "the {what} {input:?} must not contain a path ('/'); pass a full URL to use a path prefix"
    )]
    UnexpectedPath {
        /// Which input.
        what: &'static str,
        /// The input as given.
        input: String,
    },
    /// A host name was malformed (empty label, bad character, trailing dot, too long).
    #[error("{input:?} is not a valid host name: {reason}")]
    InvalidHost {
        /// The input as given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A host contained non-ASCII characters (an internationalised name that may imitate another).
    #[error(
        "the host {input:?} contains non-ASCII characters; internationalised names are refused \
         (they can imitate other hosts); use the ASCII (punycode) form"
    )]
    NonAsciiHost {
        /// The input as given.
        input: String,
    },
    /// A port was not a number from 1 to 65535.
    #[error("{input:?} has an invalid port (expected a number from 1 to 65535)")]
    InvalidPort {
        /// The input as given.
        input: String,
    },
    /// A path (URL prefix, API root or resource path) was malformed.
    #[error("the {what} {input:?} is not a valid path: {reason}")]
    InvalidPath {
        /// Which path.
        what: &'static str,
        /// The input as given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A path segment (a table name, sys_id or appended path) was empty, `.` or `..`.
    #[error(
        "the URL path segment {segment:?} is not allowed (empty, \".\" and \"..\" are refused)"
    )]
    InvalidSegment {
        /// The refused segment.
        segment: String,
    },
    /// A base URL included ServiceNow's API path, which is configured separately.
    #[error(
        "the base URL {input:?} already contains an API path ('/api/...'); pass the bare instance URL \
         and set the API root with `with_api_root`"
    )]
    ApiPathInBaseUrl {
        /// The input as given.
        input: String,
    },
    /// The assembled URL was rejected by the `http` crate.
    #[error("the URL could not be built: {reason}")]
    Build {
        /// What went wrong.
        reason: String,
    },
    /// A URL given to [`Instance::resolve`] points to another origin (scheme, host or port).
    #[error("refused to use a URL of {origin}: it is not the instance ({instance})")]
    CrossOrigin {
        /// Scheme, host and port of the refused URL (no user information, path or query).
        origin: String,
        /// The instance's origin.
        instance: String,
    },
    /// A URL given to [`Instance::resolve`] is neither a path nor an absolute http(s) URL.
    #[error("the URL cannot be resolved on the instance: {reason}")]
    UnresolvableUrl {
        /// What is wrong with it (the URL itself is not repeated: it may carry a credential).
        reason: &'static str,
    },
}

/// A ServiceNow instance: scheme, host, port, optional path prefix, and API root.
///
/// Built from a bare instance name, a host, or a full base URL; all three refuse hostile or
/// broken input with an [`InstanceError`] naming the problem.
///
/// ```
/// use snow_core::Instance;
///
/// // A bare instance name.
/// let a = Instance::from_name("acme")?;
/// assert_eq!(a.base_url(), "https://acme.service-now.com");
///
/// // A host, TLS on by default, off on request (like pysnow's `use_ssl=False`).
/// let b = Instance::from_host("snow.example.com")?.with_tls(false);
/// assert_eq!(b.base_url(), "http://snow.example.com");
///
/// // A full base URL with port and prefix, and a versioned API root.
/// let c = Instance::from_url("https://proxy.example.com:8443/sn")?.with_api_root("/api/now/v2")?;
/// assert_eq!(c.api().segment("table").segment("incident").build()?.to_string(),
///            "https://proxy.example.com:8443/sn/api/now/v2/table/incident");
///
/// // Hostile input is refused.
/// assert!(Instance::from_name("evil.com/x").is_err());
/// assert!(Instance::from_url("https://user:pw@acme.service-now.com").is_err());
/// # Ok::<(), snow_core::InstanceError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "InstanceRepr", into = "InstanceRepr")]
pub struct Instance {
    scheme: Scheme,
    /// Lower-case ASCII host; IPv6 literals are kept in brackets.
    host: String,
    port: Option<u16>,
    /// `""` or `/seg/seg`, each segment unreserved characters only.
    prefix: String,
    /// `/seg/seg`, each segment unreserved characters only.
    api_root: String,
}

impl Instance {
    /// An instance by its ServiceNow name: `acme` becomes `https://acme.service-now.com`.
    ///
    /// Letters, digits and `-` only (a label of at most 63 characters, not starting or ending
    /// with `-`); anything else is refused, so `x/`, `evil.com/x` or `a@b` cannot produce a
    /// surprising URL.
    pub fn from_name(name: &str) -> Result<Self, InstanceError> {
        const WHAT: &str = "instance name";
        check_not_empty(name, WHAT)?;
        check_no_user_info(name, WHAT)?;
        check_no_whitespace(name, WHAT)?;
        let valid = name.len() <= 63
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if !valid {
            return Err(InstanceError::InvalidName {
                input: name.to_owned(),
            });
        }
        Ok(Self::new(
            Scheme::Https,
            format!("{}.{SERVICE_NOW_DOMAIN}", name.to_ascii_lowercase()),
            None,
            String::new(),
        ))
    }

    /// An instance by host name (optionally with `:port`), reached over HTTPS.
    ///
    /// Use [`with_tls(false)`](Self::with_tls) for plain HTTP. The host must be a DNS name or an
    /// IP address: no scheme, path, query, user information, trailing dot or non-ASCII letters.
    pub fn from_host(host: &str) -> Result<Self, InstanceError> {
        const WHAT: &str = "host";
        check_not_empty(host, WHAT)?;
        check_no_user_info(host, WHAT)?;
        check_no_whitespace(host, WHAT)?;
        if host.contains("://") {
            return Err(InstanceError::InvalidHost {
                input: host.to_owned(),
                reason: "it contains a scheme; use Instance::from_url for full URLs",
            });
        }
        if host.contains('/') {
            return Err(InstanceError::UnexpectedPath {
                what: WHAT,
                input: host.to_owned(),
            });
        }
        if host.contains(['?', '#']) {
            return Err(InstanceError::InvalidHost {
                input: host.to_owned(),
                reason: "it contains '?' or '#'",
            });
        }
        let (host_part, port) = parse_authority(host)?;
        Ok(Self::new(Scheme::Https, host_part, port, String::new()))
    }

    /// An instance by full base URL: `https://host[:port][/prefix]` or `http://...`.
    ///
    /// A path prefix is kept (for instances behind a reverse proxy). Refused: other schemes,
    /// user information, query strings, fragments, `.`/`..` segments, an `/api/...` path (the API
    /// root is set with [`with_api_root`](Self::with_api_root)), and non-ASCII hosts.
    pub fn from_url(url: &str) -> Result<Self, InstanceError> {
        const WHAT: &str = "base URL";
        check_not_empty(url, WHAT)?;
        // Before any check whose error repeats the input: `user:password@` must never be echoed.
        check_no_user_info(url, WHAT)?;
        check_no_whitespace(url, WHAT)?;
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(InstanceError::InvalidPath {
                what: WHAT,
                input: url.to_owned(),
                reason: "it has no scheme; expected https://host or http://host",
            });
        };
        let scheme = if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else {
            return Err(InstanceError::UnsupportedScheme {
                input: url.to_owned(),
            });
        };
        if rest.contains(['?', '#']) {
            return Err(InstanceError::QueryOrFragment {
                input: url.to_owned(),
            });
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (host, port) = parse_authority(authority)?;
        let prefix = normalize_path(path, "base URL path", true)?;
        if prefix.split('/').any(|s| s == "api") {
            return Err(InstanceError::ApiPathInBaseUrl {
                input: url.to_owned(),
            });
        }
        Ok(Self::new(scheme, host, port, prefix))
    }

    fn new(scheme: Scheme, host: String, port: Option<u16>, prefix: String) -> Self {
        Self {
            scheme,
            host,
            port,
            prefix,
            api_root: DEFAULT_API_ROOT.to_owned(),
        }
    }

    /// Switch between HTTPS (`true`, the default) and plain HTTP (`false`).
    ///
    /// An explicit port is kept as given.
    #[must_use]
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.scheme = if tls { Scheme::Https } else { Scheme::Http };
        self
    }

    /// Replace the API root (default `/api/now`), e.g. `/api/now/v2` or `/api/x_acme_app`.
    ///
    /// Segments may hold letters, digits, `-`, `.`, `_` and `~`; `.` and `..` are refused.
    pub fn with_api_root(mut self, api_root: &str) -> Result<Self, InstanceError> {
        let root = normalize_path(api_root, "API root", false)?;
        if root.is_empty() {
            return Err(InstanceError::Empty { what: "API root" });
        }
        self.api_root = root;
        Ok(self)
    }

    /// The URL scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Whether requests use TLS.
    pub fn is_tls(&self) -> bool {
        self.scheme == Scheme::Https
    }

    /// The host, lower-case; IPv6 literals in brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port requests go to (the scheme's default when none was given).
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.scheme.default_port())
    }

    /// `host` or `host:port` when the port differs from the scheme's default.
    pub fn authority(&self) -> String {
        match self.port {
            Some(p) if p != self.scheme.default_port() => format!("{}:{p}", self.host),
            _ => self.host.clone(),
        }
    }

    /// The path prefix before the API root (`""` for hosted instances).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The API root, e.g. `/api/now`.
    pub fn api_root(&self) -> &str {
        &self.api_root
    }

    /// The base URL without a trailing slash: `https://acme.service-now.com`.
    pub fn base_url(&self) -> String {
        self.base_url_then("", 0)
    }

    /// The base URL followed by `rest`, in one string with room for `spare` more bytes.
    fn base_url_then(&self, rest: &str, spare: usize) -> String {
        use std::fmt::Write as _;
        let scheme = self.scheme.as_str();
        let mut url = String::with_capacity(
            scheme.len() + 3 + self.host.len() + 6 + self.prefix.len() + rest.len() + spare,
        );
        url.push_str(scheme);
        url.push_str("://");
        url.push_str(&self.host);
        if let Some(p) = self.port.filter(|p| *p != self.scheme.default_port()) {
            // Writing to a String cannot fail.
            let _ = write!(url, ":{p}");
        }
        url.push_str(&self.prefix);
        url.push_str(rest);
        url
    }

    /// A URL builder starting at the base URL (for `/oauth_token.do` and other non-API paths).
    pub fn url(&self) -> UrlBuilder {
        UrlBuilder::new(self.base_url_then("", 64))
    }

    /// A URL builder starting at the API root: `https://acme.service-now.com/api/now`.
    pub fn api(&self) -> UrlBuilder {
        UrlBuilder::new(self.base_url_then(&self.api_root, 96))
    }
}

impl fmt::Display for Instance {
    /// The base URL followed by the API root.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.base_url(), self.api_root)
    }
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("base_url", &self.base_url())
            .field("api_root", &self.api_root)
            .finish()
    }
}

impl FromStr for Instance {
    type Err = InstanceError;

    /// Guess the form: a string with `://` is a URL, one with `.` or `:` a host, anything else
    /// an instance name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains("://") {
            Self::from_url(s)
        } else if s.contains(['.', ':', '[']) {
            Self::from_host(s)
        } else {
            Self::from_name(s)
        }
    }
}

#[derive(Serialize, Deserialize)]
struct InstanceRepr {
    url: String,
    #[serde(default = "default_api_root")]
    api_root: String,
}

fn default_api_root() -> String {
    DEFAULT_API_ROOT.to_owned()
}

impl TryFrom<InstanceRepr> for Instance {
    type Error = InstanceError;
    fn try_from(r: InstanceRepr) -> Result<Self, Self::Error> {
        r.url.parse::<Instance>()?.with_api_root(&r.api_root)
    }
}

impl From<Instance> for InstanceRepr {
    fn from(i: Instance) -> Self {
        InstanceRepr {
            url: i.base_url(),
            api_root: i.api_root,
        }
    }
}

fn check_not_empty(s: &str, what: &'static str) -> Result<(), InstanceError> {
    if s.trim().is_empty() {
        Err(InstanceError::Empty { what })
    } else {
        Ok(())
    }
}

/// Refuse any `@`: no valid name, host or base URL holds one (paths are limited to unreserved
/// characters, queries and fragments are refused), and an input with one may carry a password,
/// so this check runs before any other whose error repeats the input.
fn check_no_user_info(s: &str, what: &'static str) -> Result<(), InstanceError> {
    if s.contains('@') {
        Err(InstanceError::UserInfo { what })
    } else {
        Ok(())
    }
}

fn check_no_whitespace(s: &str, what: &'static str) -> Result<(), InstanceError> {
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(InstanceError::Whitespace {
            what,
            input: s.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Split `host[:port]` or `[v6]:port`, validating both.
fn parse_authority(authority: &str) -> Result<(String, Option<u16>), InstanceError> {
    if !authority.is_ascii() {
        return Err(InstanceError::NonAsciiHost {
            input: authority.to_owned(),
        });
    }
    let invalid = |reason| InstanceError::InvalidHost {
        input: authority.to_owned(),
        reason,
    };
    if authority.is_empty() {
        return Err(invalid("it is empty"));
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid("unclosed '[' in an IPv6 address"))?;
        v6.parse::<Ipv6Addr>()
            .map_err(|_| invalid("not a valid IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| invalid("unexpected text after ']'"))?,
            ),
        };
        (format!("[{}]", v6.to_ascii_lowercase()), port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => {
                return Err(InstanceError::InvalidPort {
                    input: authority.to_owned(),
                });
            }
        },
    };
    if !host.starts_with('[') {
        validate_dns_host(&host, authority)?;
    }
    Ok((host.to_ascii_lowercase(), port))
}

fn validate_dns_host(host: &str, input: &str) -> Result<(), InstanceError> {
    let invalid = |reason| InstanceError::InvalidHost {
        input: input.to_owned(),
        reason,
    };
    if host.is_empty() {
        return Err(invalid("the host is empty"));
    }
    if host.ends_with('.') {
        return Err(invalid("it ends with a dot; remove the trailing '.'"));
    }
    if host.len() > 253 {
        return Err(invalid("it is longer than 253 characters"));
    }
    if host.parse::<Ipv4Addr>().is_ok() {
        return Ok(());
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err(invalid("it has an empty label ('..')"));
        }
        if label.len() > 63 {
            return Err(invalid("a label is longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                "only letters, digits, '-' and '_' may appear between dots",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid("a label starts or ends with '-'"));
        }
    }
    if host
        .split('.')
        .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid("it looks like an IPv4 address but is not one"));
    }
    Ok(())
}

/// Normalise `/a/b/` to `/a/b` (or `""`), refusing dot segments, empty inner segments and any
/// character outside the unreserved set.
pub(crate) fn normalize_path(
    path: &str,
    what: &'static str,
    allow_empty: bool,
) -> Result<String, InstanceError> {
    let invalid = |reason| InstanceError::InvalidPath {
        what,
        input: path.to_owned(),
        reason,
    };
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return if allow_empty {
            Ok(String::new())
        } else {
            Err(InstanceError::Empty { what })
        };
    }
    let mut out = String::with_capacity(trimmed.len() + 1);
    for seg in trimmed.split('/') {
        if seg.is_empty() {
            return Err(invalid("it contains an empty segment ('//')"));
        }
        if seg == "." || seg == ".." {
            return Err(invalid("'.' and '..' segments are not allowed"));
        }
        if !seg.bytes().all(is_unreserved) {
            return Err(invalid(
                "segments may only contain letters, digits, '-', '.', '_' and '~'",
            ));
        }
        out.push('/');
        out.push_str(seg);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hosts_and_urls() {
        assert_eq!(
            Instance::from_name("Acme-1").unwrap().base_url(),
            "https://acme-1.service-now.com"
        );
        assert_eq!(
            Instance::from_host("snow.example.com").unwrap().base_url(),
            "https://snow.example.com"
        );
        assert_eq!(
            Instance::from_host("snow.example.com:8443")
                .unwrap()
                .with_tls(false)
                .base_url(),
            "http://snow.example.com:8443"
        );
        assert_eq!(
            Instance::from_url("http://127.0.0.1:8080")
                .unwrap()
                .base_url(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            Instance::from_url("https://h:443/").unwrap().base_url(),
            "https://h"
        );
        assert_eq!(
            Instance::from_url("https://h/pre/fix/").unwrap().base_url(),
            "https://h/pre/fix"
        );
        assert_eq!(
            Instance::from_url("http://[::1]:9000").unwrap().base_url(),
            "http://[::1]:9000"
        );
        assert_eq!(Instance::from_host("[::1]").unwrap().port(), 443);
    }

    #[test]
    fn from_str_guesses_the_form() {
        assert_eq!(
            "acme".parse::<Instance>().unwrap().host(),
            "acme.service-now.com"
        );
        assert_eq!("a.b.c".parse::<Instance>().unwrap().host(), "a.b.c");
        assert_eq!("localhost:8080".parse::<Instance>().unwrap().port(), 8080);
        assert_eq!(
            "http://localhost:1".parse::<Instance>().unwrap().scheme(),
            Scheme::Http
        );
    }

    #[test]
    fn hostile_input_is_refused_with_a_named_problem() {
        type Parse = fn(&str) -> Result<Instance, InstanceError>;
        let cases: &[(&str, Parse, &str)] = &[
            ("", Instance::from_name, "empty"),
            ("   ", Instance::from_name, "empty"),
            ("ac me", Instance::from_name, "whitespace"),
            ("x/", Instance::from_name, "not a ServiceNow instance name"),
            (
                "evil.com/x",
                Instance::from_name,
                "not a ServiceNow instance name",
            ),
            ("user@acme", Instance::from_name, "user information"),
            (
                "-acme",
                Instance::from_name,
                "not a ServiceNow instance name",
            ),
            ("https://h", Instance::from_host, "scheme"),
            ("user@h.com", Instance::from_host, "user information"),
            ("h.com/x", Instance::from_host, "path"),
            ("h.com.", Instance::from_host, "ends with a dot"),
            ("h..com", Instance::from_host, "empty label"),
            ("h.com:0", Instance::from_host, "invalid port"),
            ("h.com:99999", Instance::from_host, "invalid port"),
            ("h.com:+80", Instance::from_host, "invalid port"),
            ("sеrvice-now.com", Instance::from_host, "non-ASCII"),
            ("ftp://h.com", Instance::from_url, "unsupported scheme"),
            (
                "javascript://h.com",
                Instance::from_url,
                "unsupported scheme",
            ),
            ("https://u:p@h.com", Instance::from_url, "user information"),
            ("https://h.com?x=1", Instance::from_url, "query string"),
            ("https://h.com#f", Instance::from_url, "fragment"),
            ("https://h.com/../x", Instance::from_url, "'..'"),
            ("https://h.com/a//b", Instance::from_url, "empty segment"),
            (
                "https://h.com/a%2e",
                Instance::from_url,
                "segments may only contain",
            ),
            (
                "https://acme.service-now.com/api/now",
                Instance::from_url,
                "API path",
            ),
            ("h.com", Instance::from_url, "no scheme"),
            ("https://", Instance::from_url, "empty"),
            ("https://[::1", Instance::from_url, "unclosed"),
            ("https://1.2.3", Instance::from_url, "IPv4"),
        ];
        for (input, parse, needle) in cases {
            let err = parse(input).expect_err(input).to_string();
            assert!(
                err.contains(needle),
                "{input:?}: {err:?} should mention {needle:?}"
            );
        }
    }

    #[test]
    fn user_info_is_never_echoed() {
        type Parse = fn(&str) -> Result<Instance, InstanceError>;
        // Each input is also broken in another way whose error would repeat the input.
        let cases: &[(&str, Parse)] = &[
            ("https://admin:s3cret@h.com", Instance::from_url),
            ("https://admin:s3 cret@h.com", Instance::from_url),
            ("ftp://admin:s3cret@h.com", Instance::from_url),
            ("https://admin:s3cret@h.com?x=1", Instance::from_url),
            ("https://admin:s3cret@h.com/a%20", Instance::from_url),
            ("admin:s3cret@h.com", Instance::from_url),
            ("https://admin:s3cret@h.com", Instance::from_host),
            ("admin:s3 cret@h.com", Instance::from_host),
            ("admin:s3cret@h.com:99999", Instance::from_host),
            ("admin:s3 cret@acme", Instance::from_name),
        ];
        for (input, parse) in cases {
            let err = parse(input).unwrap_err();
            assert!(
                matches!(err, InstanceError::UserInfo { .. }),
                "{input:?}: {err:?}"
            );
            assert!(!err.to_string().contains("s3"), "{err}");
            assert!(!format!("{err:?}").contains("s3"), "{err:?}");
        }
        let err = "admin:s3cret@h.com".parse::<Instance>().unwrap_err();
        assert!(!format!("{err} {err:?}").contains("s3cret"));
    }

    #[test]
    fn pysnow_quirks_do_not_exist() {
        // pysnow: instance="x/" -> https://x/.service-now.com ; host="https://h" -> https://https://h
        assert!(Instance::from_name("x/").is_err());
        assert!(Instance::from_host("https://h").is_err());
    }

    #[test]
    fn api_root_is_validated() {
        let i = Instance::from_name("acme").unwrap();
        assert_eq!(
            i.clone().with_api_root("/api/now/v2").unwrap().api_root(),
            "/api/now/v2"
        );
        assert_eq!(
            i.clone()
                .with_api_root("api/x_acme_app/")
                .unwrap()
                .api_root(),
            "/api/x_acme_app"
        );
        assert!(i.clone().with_api_root("/api/../etc").is_err());
        assert!(i.clone().with_api_root("/").is_err());
        assert!(i.clone().with_api_root("/api/now?x").is_err());
    }

    #[test]
    fn serde_round_trip() {
        let i = Instance::from_url("http://127.0.0.1:9/p")
            .unwrap()
            .with_api_root("/api/now/v1")
            .unwrap();
        let json = serde_json::to_string(&i).unwrap();
        assert_eq!(
            json,
            r#"{"url":"http://127.0.0.1:9/p","api_root":"/api/now/v1"}"#
        );
        assert_eq!(serde_json::from_str::<Instance>(&json).unwrap(), i);
        assert!(serde_json::from_str::<Instance>(r#"{"url":"https://u@h"}"#).is_err());
    }
}
