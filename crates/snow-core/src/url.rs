//! Building resource URLs that no caller-supplied string can escape.

use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::InstanceError;

/// Everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) is percent-encoded,
/// in path segments and query components alike. So `/ ? # % & = + ^` and spaces in a table
/// name, sys_id or query value stay inside that segment or value.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Whether a byte is an RFC 3986 unreserved character.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encode a path segment or a query name or value: every byte outside RFC 3986's
/// unreserved set (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`, so `/ ? # & = + %` and spaces stay
/// inside the component. [`UrlBuilder`] encodes with it; so should any other code that puts a
/// caller's string into a URL.
///
/// ```
/// use snow_core::encode_component;
///
/// assert_eq!(encode_component("a&b=c d+e/f").to_string(), "a%26b%3Dc%20d%2Be%2Ff");
/// assert_eq!(encode_component("sys_id-1.2~x").to_string(), "sys_id-1.2~x");
/// assert_eq!(encode_component("é").to_string(), "%C3%A9");
/// ```
pub fn encode_component(s: &str) -> impl std::fmt::Display + '_ {
    utf8_percent_encode(s, COMPONENT)
}

/// Append `s` percent-encoded as by [`encode_component`]; a string of unreserved characters
/// only (most table names, sys_ids and parameter names) is copied as it is.
fn push_encoded(url: &mut String, s: &str) {
    if s.bytes().all(is_unreserved) {
        url.push_str(s);
    } else {
        // Writing to a String cannot fail.
        let _ = write!(url, "{}", encode_component(s));
    }
}

/// Builds a URL under an [`Instance`](crate::Instance), one path segment and query pair at a time.
///
/// Each [`segment`](Self::segment) is percent-encoded, so a table name such as `incident/../sys_user`
/// becomes one segment `incident%2F..%2Fsys_user`; the segments `""`, `.` and `..` are refused when
/// the URL is built. Query names and values are percent-encoded too (space as `%20`, `+` as `%2B`),
/// so `&`, `=`, `+`, `#` and `%` stay inside their value.
///
/// ```
/// # use snow_core::Instance;
/// let i = Instance::from_name("acme")?;
/// let uri = i.api().segment("table").segment("inc/../x").query("sysparm_query", "a=b&c^d").build()?;
/// assert_eq!(uri.path(), "/api/now/table/inc%2F..%2Fx");
/// assert_eq!(uri.query(), Some("sysparm_query=a%3Db%26c%5Ed"));
///
/// assert!(i.api().segment("table").segment("..").build().is_err());
/// # Ok::<(), snow_core::InstanceError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a UrlBuilder does nothing until built"]
pub struct UrlBuilder {
    url: String,
    has_query: bool,
    error: Option<InstanceError>,
}

impl UrlBuilder {
    pub(crate) fn new(base: String) -> Self {
        Self {
            url: base,
            has_query: false,
            error: None,
        }
    }

    /// Append one path segment, percent-encoded. `""`, `.` and `..` make [`build`](Self::build) fail.
    pub fn segment(mut self, segment: &str) -> Self {
        if self.error.is_some() {
            return self;
        }
        if self.has_query {
            self.error = Some(InstanceError::Build {
                reason: "path segment added after query".into(),
            });
            return self;
        }
        if segment.is_empty() || segment == "." || segment == ".." {
            self.error = Some(InstanceError::InvalidSegment {
                segment: segment.to_owned(),
            });
            return self;
        }
        self.url.push('/');
        push_encoded(&mut self.url, segment);
        self
    }

    /// Append a relative path such as `/table/incident` or `x_acme/v1/items`, split on `/`.
    ///
    /// Each piece is encoded as by [`segment`](Self::segment); empty pieces (`a//b`, a trailing `/`),
    /// `.` and `..` make [`build`](Self::build) fail. One leading `/` is allowed.
    pub fn path(mut self, path: &str) -> Self {
        let rel = path.strip_prefix('/').unwrap_or(path);
        if rel.is_empty() {
            if self.error.is_none() {
                self.error = Some(InstanceError::InvalidPath {
                    what: "resource path",
                    input: path.to_owned(),
                    reason: "it is empty",
                });
            }
            return self;
        }
        for seg in rel.split('/') {
            self = self.segment(seg);
        }
        self
    }

    /// Append a query parameter; name and value are percent-encoded.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        if self.error.is_none() {
            self.url.push(if self.has_query { '&' } else { '?' });
            push_encoded(&mut self.url, name);
            self.url.push('=');
            push_encoded(&mut self.url, value);
            self.has_query = true;
        }
        self
    }

    /// Append several query parameters.
    pub fn queries<'a, I>(mut self, pairs: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        for (k, v) in pairs {
            self = self.query(k, v);
        }
        self
    }

    /// The URL as a string, or the first problem met while building it.
    pub fn build_string(self) -> Result<String, InstanceError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.url),
        }
    }

    /// The URL as an [`http::Uri`], or the first problem met while building it.
    pub fn build(self) -> Result<http::Uri, InstanceError> {
        let s = self.build_string()?;
        http::Uri::try_from(s).map_err(|e| InstanceError::Build {
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::Instance;

    fn api() -> crate::UrlBuilder {
        Instance::from_url("http://127.0.0.1:8080").unwrap().api()
    }

    #[test]
    fn segments_cannot_escape() {
        let hostile = [
            "a/b", "..%2f", "x?y=1", "x#frag", "50%", "a b", "ünï", "a\\b", "a\nb", "%2e%2e",
        ];
        for seg in hostile {
            let uri = api().segment("table").segment(seg).build().unwrap();
            let path = uri.path();
            assert!(path.starts_with("/api/now/table/"), "{seg:?} -> {path}");
            let last = &path["/api/now/table/".len()..];
            assert!(!last.contains('/'), "{seg:?} escaped its segment: {path}");
            assert!(uri.query().is_none(), "{seg:?} started a query: {uri}");
            let decoded = percent_encoding::percent_decode_str(last)
                .decode_utf8()
                .unwrap();
            assert_eq!(decoded, seg, "round trip of {seg:?}");
        }
        for bad in ["", ".", ".."] {
            assert!(api().segment(bad).build().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn paths_are_split_and_checked() {
        assert_eq!(
            api().path("/table/incident").build().unwrap().path(),
            "/api/now/table/incident"
        );
        assert_eq!(
            api().path("x_acme/v1/it ems").build().unwrap().path(),
            "/api/now/x_acme/v1/it%20ems"
        );
        for bad in ["/", "", "a//b", "a/", "/../x", "a/./b"] {
            assert!(api().path(bad).build().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn query_values_stay_in_their_value() {
        let v = "a&b=c+d #e%f^g";
        let uri = api()
            .query("sysparm_query", v)
            .query("x", "1")
            .build()
            .unwrap();
        let q = uri.query().unwrap();
        let pairs: Vec<_> = q.split('&').collect();
        assert_eq!(pairs.len(), 2);
        let (k, enc) = pairs[0].split_once('=').unwrap();
        assert_eq!(k, "sysparm_query");
        assert_eq!(
            percent_encoding::percent_decode_str(enc)
                .decode_utf8()
                .unwrap(),
            v
        );
        assert_eq!(pairs[1], "x=1");
    }

    #[test]
    fn segment_after_query_is_an_error() {
        assert!(api().query("a", "b").segment("c").build().is_err());
    }
}
