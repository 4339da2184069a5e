//! Where a URL goes: the instance's origin, the same-origin check, and resolving a path or URL
//! on the instance. Every layer that sends a request or attaches a credential, and every
//! follower of a server-supplied link, asks these, so the rule lives in one place.

use http::Uri;

use crate::{Instance, InstanceError};

impl Instance {
    /// The instance's origin: scheme, host and port (the port only when it is not the scheme's
    /// default), without the path prefix or a trailing slash.
    ///
    /// ```
    /// # use snow_core::Instance;
    /// assert_eq!(Instance::from_name("acme")?.origin(), "https://acme.service-now.com");
    /// assert_eq!(Instance::from_url("http://127.0.0.1:8080/sn")?.origin(), "http://127.0.0.1:8080");
    /// assert_eq!(Instance::from_url("https://snow.example.com:443")?.origin(), "https://snow.example.com");
    /// # Ok::<(), snow_core::InstanceError>(())
    /// ```
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme().as_str(), self.authority())
    }

    /// Whether `uri` points at this instance: same scheme, host and port (an absent port is the
    /// scheme's default; case does not matter).
    ///
    /// Credentials and requests only go where this holds. A relative URI (no scheme or host) is
    /// not the same origin: [`resolve_uri`](Self::resolve_uri) it first. A port that is not a
    /// number from 0 to 65535 is not the same origin either.
    ///
    /// ```
    /// # use snow_core::Instance;
    /// let i = Instance::from_name("acme")?;
    /// assert!(i.is_same_origin(&"https://ACME.service-now.com:443/x".parse().unwrap()));
    /// assert!(!i.is_same_origin(&"http://acme.service-now.com/x".parse().unwrap()));
    /// assert!(!i.is_same_origin(&"https://acme.service-now.com:8443/x".parse().unwrap()));
    /// assert!(!i.is_same_origin(&"https://acme.service-now.com.evil.com/x".parse().unwrap()));
    /// assert!(!i.is_same_origin(&"/api/now/table/incident".parse().unwrap()));
    /// # Ok::<(), snow_core::InstanceError>(())
    /// ```
    pub fn is_same_origin(&self, uri: &Uri) -> bool {
        let Some(scheme) = uri.scheme_str() else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case(self.scheme().as_str()) {
            return false;
        }
        let Some(authority) = uri.authority() else {
            return false;
        };
        // The authority as this instance writes it (every URL it builds): `host`, `host:` or
        // `host:digits`, compared without parsing the authority again.
        if let Some(rest) = authority.as_str().strip_prefix(self.host())
            && let Some(digits) = rest.strip_prefix(':').or(rest.is_empty().then_some(""))
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            return match digits {
                "" => self.scheme().default_port() == self.port(),
                p => p.parse::<u16>().is_ok_and(|n| n == self.port()),
            };
        }
        let Some(host) = uri.host() else {
            return false;
        };
        let port = match port_text(authority.as_str()) {
            None | Some("") => self.scheme().default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(n) => n,
                Err(_) => return false,
            },
        };
        host.eq_ignore_ascii_case(self.host()) && port == self.port()
    }

    /// Where a path or URL taken from a caller or a server (a request target, the `Link` of the
    /// next page) really goes on this instance, or why it may not be used.
    ///
    /// - A path (`/api/now/table/incident?sysparm_limit=1`) is joined to the
    ///   [base URL](Self::base_url), path prefix included, exactly as the transport sends
    ///   request paths. It must start with `/`.
    /// - An absolute URL is accepted as it is when it is on the instance's
    ///   [origin](Self::origin) (same scheme, host and port); any other origin, another scheme
    ///   included, is refused with [`InstanceError::CrossOrigin`], which names only the refused
    ///   origin, never its path or query (they may carry a credential).
    /// - Refused with [`InstanceError::UnresolvableUrl`]: a network-path reference (`//host/x`,
    ///   which RFC 3986 resolves to another host), relative paths that do not start with `/`,
    ///   host-only forms (`host:port`), and anything that is not a URL. A URL with user
    ///   information (`https://user:pw@host/`) is refused with [`InstanceError::UserInfo`].
    ///
    /// A fragment (`#...`) is dropped; the `http` crate keeps none.
    ///
    /// ```
    /// use snow_core::{Instance, InstanceError};
    ///
    /// let i = Instance::from_url("https://proxy.example.com:8443/sn")?;
    /// // Paths are joined to the base URL, prefix included.
    /// assert_eq!(i.resolve("/api/now/table/incident?sysparm_offset=100")?.to_string(),
    ///            "https://proxy.example.com:8443/sn/api/now/table/incident?sysparm_offset=100");
    /// // Absolute URLs of the instance's origin are kept as they are.
    /// assert_eq!(i.resolve("https://PROXY.example.com:8443/sn/api/now/table/x")?.to_string(),
    ///            "https://PROXY.example.com:8443/sn/api/now/table/x");
    ///
    /// // Anything that would leave the instance is refused, without echoing the URL's query.
    /// let e = i.resolve("https://evil.example.com/steal?x-sn-apikey=k3y").unwrap_err();
    /// assert!(matches!(e, InstanceError::CrossOrigin { .. }));
    /// assert!(!e.to_string().contains("k3y"));
    /// for refused in [
    ///     "http://proxy.example.com:8443/sn/x", // another scheme
    ///     "https://proxy.example.com/sn/x",      // another port
    ///     "//evil.example.com/x",                // a network-path reference
    ///     "ftp://proxy.example.com:8443/x",      // not http(s)
    ///     "api/now/table/x",                     // not a path from the root
    ///     "proxy.example.com:8443",              // a host, not a URL
    ///     "https://user:pw@proxy.example.com:8443/x",
    /// ] {
    ///     assert!(i.resolve(refused).is_err(), "{refused}");
    /// }
    /// # Ok::<(), InstanceError>(())
    /// ```
    pub fn resolve(&self, target: &str) -> Result<Uri, InstanceError> {
        let uri: Uri = target.parse().map_err(|_| InstanceError::UnresolvableUrl {
            reason: "it is not a valid URL or path",
        })?;
        self.resolve_uri(&uri)
    }

    /// [`resolve`](Self::resolve) for a URI already parsed (a request's target, say).
    ///
    /// ```
    /// # use snow_core::Instance;
    /// let i = Instance::from_name("acme")?;
    /// let uri = "/api/now/table/incident".parse()?;
    /// assert_eq!(i.resolve_uri(&uri)?.to_string(),
    ///            "https://acme.service-now.com/api/now/table/incident");
    /// assert!(i.resolve_uri(&"https://evil.com/x".parse()?).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve_uri(&self, target: &Uri) -> Result<Uri, InstanceError> {
        let unresolvable = |reason| Err(InstanceError::UnresolvableUrl { reason });
        match (target.scheme_str(), target.authority()) {
            (None, None) => {
                let pq = target.path_and_query().map_or("/", |pq| pq.as_str());
                if pq.starts_with("//") {
                    return unresolvable(
                        "a network-path reference ('//host/...') would leave the instance",
                    );
                }
                if !pq.starts_with('/') {
                    return unresolvable("a relative URL must be a path starting with '/'");
                }
                format!("{}{pq}", self.base_url()).parse().map_err(|_| {
                    InstanceError::UnresolvableUrl {
                        reason: "the path cannot be joined to the instance's base URL",
                    }
                })
            }
            (Some(scheme), Some(authority)) => {
                if authority.as_str().contains('@') {
                    return Err(InstanceError::UserInfo { what: "URL" });
                }
                if self.is_same_origin(target) {
                    return Ok(target.clone());
                }
                let origin = match port_text(authority.as_str()) {
                    Some(port) if !port.is_empty() => {
                        format!("{scheme}://{}:{port}", authority.host())
                    }
                    _ => format!("{scheme}://{}", authority.host()),
                };
                Err(InstanceError::CrossOrigin {
                    origin,
                    instance: self.origin(),
                })
            }
            _ => unresolvable("only a path or an absolute http(s) URL can be used"),
        }
    }
}

/// The port of an authority as written (`http::uri::Authority::port` hides one that is not a
/// `u16`, which must not pass for the default port).
fn port_text(authority: &str) -> Option<&str> {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let after_host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or("", |(_, rest)| rest),
        None => host_port.find(':').map_or("", |i| &host_port[i..]),
    };
    after_host.strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Instance {
        Instance::from_url("http://127.0.0.1:8080/sn").unwrap()
    }

    #[test]
    fn paths_join_the_base_url_and_same_origin_urls_are_kept() {
        let i = instance();
        assert_eq!(
            i.resolve("/api/now/table/x?a=1").unwrap().to_string(),
            "http://127.0.0.1:8080/sn/api/now/table/x?a=1"
        );
        assert_eq!(
            i.resolve("http://127.0.0.1:8080/sn/api")
                .unwrap()
                .to_string(),
            "http://127.0.0.1:8080/sn/api"
        );
        assert_eq!(
            i.resolve("HTTP://127.0.0.1:8080/x#frag")
                .unwrap()
                .to_string(),
            "http://127.0.0.1:8080/x"
        );
        assert_eq!(
            Instance::from_url("http://[::1]:9000")
                .unwrap()
                .resolve("http://[::1]:9000/x")
                .unwrap()
                .to_string(),
            "http://[::1]:9000/x"
        );
    }

    #[test]
    fn other_origins_are_refused_by_origin_only() {
        let i = instance();
        for (bad, origin) in [
            ("https://127.0.0.1:8080/x", "https://127.0.0.1:8080"),
            ("http://127.0.0.1:8081/x", "http://127.0.0.1:8081"),
            ("http://127.0.0.1/x", "http://127.0.0.1"),
            ("http://localhost:8080/x", "http://localhost:8080"),
            ("ftp://127.0.0.1:8080/x", "ftp://127.0.0.1:8080"),
            ("http://evil.com/x?token=abc", "http://evil.com"),
            ("http://127.0.0.1:99999/x", "http://127.0.0.1:99999"),
        ] {
            match i.resolve(bad) {
                Err(InstanceError::CrossOrigin {
                    origin: o,
                    instance,
                }) => {
                    assert_eq!(o, origin, "{bad}");
                    assert_eq!(instance, "http://127.0.0.1:8080");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let e = i.resolve("http://evil.com/x?token=abc").unwrap_err();
        assert!(!e.to_string().contains("abc"), "{e}");
    }

    #[test]
    fn odd_forms_are_refused_without_echoing_them() {
        let i = instance();
        for bad in [
            "//evil.com/x",
            "//127.0.0.1:8080/x",
            "x/y",
            "*",
            "127.0.0.1:8080",
            "mailto:a@b",
            "javascript:alert(1)",
            "/a b",
            "",
        ] {
            let e = i.resolve(bad).unwrap_err();
            assert!(
                matches!(e, InstanceError::UnresolvableUrl { .. }),
                "{bad:?}: {e:?}"
            );
        }
        for bad in [
            "http://user:s3cret@127.0.0.1:8080/x",
            "http://user:s3cret@evil.com/x",
        ] {
            let e = i.resolve(bad).unwrap_err();
            assert!(matches!(e, InstanceError::UserInfo { .. }), "{bad}: {e:?}");
            assert!(!format!("{e} {e:?}").contains("s3cret"));
        }
    }

    #[test]
    fn an_unparsable_port_is_not_the_same_origin() {
        let i = Instance::from_name("acme").unwrap();
        assert!(!i.is_same_origin(&"https://acme.service-now.com:99999/".parse().unwrap()));
        assert!(i.is_same_origin(&"https://acme.service-now.com:443/".parse().unwrap()));
    }

    /// The same-origin rule read the long way: the host and port parsed out of the authority.
    fn same_origin_parsed(i: &Instance, uri: &Uri) -> bool {
        let (Some(scheme), Some(host), Some(authority)) =
            (uri.scheme_str(), uri.host(), uri.authority())
        else {
            return false;
        };
        let port = match port_text(authority.as_str()) {
            None | Some("") => i.scheme().default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(n) => n,
                Err(_) => return false,
            },
        };
        scheme.eq_ignore_ascii_case(i.scheme().as_str())
            && host.eq_ignore_ascii_case(i.host())
            && port == i.port()
    }

    #[test]
    fn the_quick_comparison_agrees_with_the_parsed_one() {
        let instances = [
            "https://acme.service-now.com",
            "http://127.0.0.1:8080/sn",
            "http://127.0.0.1",
            "https://snow.example.com:443",
            "http://[::1]:8080",
            "https://[::1]",
        ];
        let schemes = ["http", "https", "HTTPS"];
        let hosts = [
            "acme.service-now.com",
            "ACME.service-now.com",
            "acme.service-now.com.evil.com",
            "127.0.0.1",
            "127.0.0.10",
            "127.0.0.1.evil",
            "[::1]",
            "[::10]",
            "snow.example.com",
            "user@127.0.0.1",
            "127.0.0.1@evil.com",
            "evil.com@acme.service-now.com",
            "127.0.0.1:8080@127.0.0.1",
            "acme.service-now.com:443@acme.service-now.com",
        ];
        let ports = [
            "", ":", ":80", ":443", ":8080", ":08080", ":0080", ":99999", ":65536", ":8o80",
            ":+80", ":80:80",
        ];
        let mut checked = 0;
        for base in instances {
            let i = Instance::from_url(base).unwrap();
            for scheme in schemes {
                for host in hosts {
                    for port in ports {
                        let Ok(uri) = format!("{scheme}://{host}{port}/x").parse::<Uri>() else {
                            continue;
                        };
                        assert_eq!(
                            i.is_same_origin(&uri),
                            same_origin_parsed(&i, &uri),
                            "{base} against {uri}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1_000, "only {checked} URLs parsed");
        // Both answers occur: the comparison is not vacuous.
        let i = Instance::from_url("http://127.0.0.1:8080/sn").unwrap();
        assert!(i.is_same_origin(&"http://127.0.0.1:8080/x".parse().unwrap()));
        assert!(!i.is_same_origin(&"http://127.0.0.10:8080/x".parse().unwrap()));
    }
}
