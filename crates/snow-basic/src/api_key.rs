//! ServiceNow API keys.

use std::fmt;

use snow_core::http::HeaderName;
use snow_core::http::uri::{PathAndQuery, Uri};
use snow_core::secret::{ExposeSecret, SecretString};
use snow_core::{API_KEY_HEADER, AuthError, encode_component, http};

use crate::Prepared;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Placement {
    Header,
    Query,
}

/// A ServiceNow API key (REST API key authentication).
///
/// Sent in the `x-sn-apikey` header by default (marked sensitive). The header name can be
/// changed with [`header_name`](Self::header_name), or the key can be sent as a query parameter
/// of the same name with [`in_query`](Self::in_query) (percent-encoded). `Debug` never shows the key.
///
/// ```
/// use snow_basic::ApiKey;
/// use snow_core::{http, Authenticator};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // In the x-sn-apikey header.
/// let key = ApiKey::new("k3y");
/// let (mut parts, ()) = http::Request::get("https://acme.service-now.com/api/now/table/x").body(()).unwrap().into_parts();
/// key.authenticate(&mut parts).await.unwrap();
/// assert_eq!(parts.headers["x-sn-apikey"], "k3y");
/// assert!(parts.headers["x-sn-apikey"].is_sensitive());
///
/// // As a query parameter, appended to any existing query.
/// let key = ApiKey::new("a&b=c").in_query();
/// let (mut parts, ()) = http::Request::get("https://acme.service-now.com/api/now/table/x?sysparm_limit=1")
///     .body(()).unwrap().into_parts();
/// key.authenticate(&mut parts).await.unwrap();
/// assert_eq!(parts.uri.to_string(),
///            "https://acme.service-now.com/api/now/table/x?sysparm_limit=1&x-sn-apikey=a%26b%3Dc");
/// assert!(!format!("{key:?}").contains("a&b"));
///
/// // A key already in the URL (say, in a `Link` header's next-page URL) is replaced, not repeated.
/// let (mut parts, ()) = http::Request::get("https://acme.service-now.com/api/now/table/x?X-SN-APIKEY=old&sysparm_offset=2")
///     .body(()).unwrap().into_parts();
/// key.authenticate(&mut parts).await.unwrap();
/// assert_eq!(parts.uri.query(), Some("sysparm_offset=2&x-sn-apikey=a%26b%3Dc"));
/// # });
/// ```
#[derive(Clone)]
pub struct ApiKey {
    key: SecretString,
    name: HeaderName,
    header: Prepared,
    placement: Placement,
}

impl ApiKey {
    /// An API key (`&str`, `String` or [`SecretString`]), sent in the `x-sn-apikey` header.
    pub fn new(key: impl Into<SecretString>) -> Self {
        let key: SecretString = key.into();
        let header = Prepared::new(key.expose_secret(), "API key");
        Self {
            key,
            name: API_KEY_HEADER,
            header,
            placement: Placement::Header,
        }
    }

    /// Send the key in this header instead of `x-sn-apikey` (and under this name in the query,
    /// with [`in_query`](Self::in_query)).
    ///
    /// ```
    /// # use snow_basic::ApiKey;
    /// use snow_core::http::HeaderName;
    /// let key = ApiKey::new("k3y").header_name(HeaderName::from_static("x-acme-key"));
    /// assert_eq!(key.name(), "x-acme-key");
    /// ```
    #[must_use]
    pub fn header_name(mut self, name: HeaderName) -> Self {
        self.name = name;
        self
    }

    /// Send the key as a query parameter (`?x-sn-apikey=<key>`, percent-encoded) instead of a header.
    ///
    /// Prefer the header where possible: URLs end up in proxy and server logs.
    #[must_use]
    pub fn in_query(mut self) -> Self {
        self.placement = Placement::Query;
        self
    }

    /// The header or query parameter name the key is sent under.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// Whether the key is sent as a query parameter.
    pub fn is_in_query(&self) -> bool {
        self.placement == Placement::Query
    }

    fn append_query(&self, uri: &Uri) -> Result<Uri, AuthError> {
        let value = encode_component(self.key.expose_secret());
        let name = encode_component(self.name.as_str());
        let path = uri.path();
        // A parameter of the same name already there (a URL taken from a `Link` header echoes
        // the key it was sent with) is replaced, not repeated.
        let kept: Vec<&str> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|pair| {
                let key = pair.split_once('=').map_or(*pair, |(k, _)| k);
                !pair.is_empty()
                    && !percent_encoding::percent_decode_str(key)
                        .decode_utf8_lossy()
                        .eq_ignore_ascii_case(self.name.as_str())
            })
            .collect();
        let pq = if kept.is_empty() {
            format!("{path}?{name}={value}")
        } else {
            format!("{path}?{}&{name}={value}", kept.join("&"))
        };
        let pq = PathAndQuery::try_from(pq)
            .map_err(|_| AuthError::InvalidCredential { what: "API key" })?;
        let mut parts = uri.clone().into_parts();
        parts.path_and_query = Some(pq);
        Uri::from_parts(parts).map_err(|_| AuthError::InvalidCredential { what: "API key" })
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name.as_str())
            .field("in_query", &self.is_in_query())
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl ApiKey {
    /// Sets the credential on `request`.
    fn apply(&self, request: &mut http::request::Parts) -> Result<(), AuthError> {
        match self.placement {
            Placement::Header => {
                request
                    .headers
                    .insert(self.name.clone(), self.header.get()?);
            }
            Placement::Query => request.uri = self.append_query(&request.uri)?,
        }
        Ok(())
    }
}

fixed_credential!(ApiKey);
