//! HTTP CONNECT proxies, and the connector that goes through one (or not).

use std::fmt;
use std::task::{Context, Poll};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::TokioIo;
use snow_core::BoxError;
use snow_core::secret::{ExposeSecret, SecretString};
use tokio::net::TcpStream;
use tower::Service;

use crate::error::BuildError;
use crate::layer::BoxFuture;

/// An HTTP proxy reached with `CONNECT` tunnels, used for every call of the transport (token
/// calls included), whether the instance is `https` or `http`.
///
/// ```
/// use snow_transport::Proxy;
/// use snow_core::secret::SecretString;
///
/// let proxy = Proxy::http("http://proxy.corp.example:3128")
///     .basic_auth("svc-snow", SecretString::from("pr0xy-pass"));
/// assert!(!format!("{proxy:?}").contains("pr0xy-pass"));
/// ```
#[derive(Clone)]
pub struct Proxy {
    uri: Result<Uri, String>,
    credentials: Option<(String, SecretString)>,
}

impl Proxy {
    /// A proxy at `url` (`http://host:port`). An unusable URL is reported when the transport is
    /// built. Credentials go through [`basic_auth`](Self::basic_auth), not the URL.
    pub fn http(url: impl AsRef<str>) -> Self {
        Self {
            uri: parse_proxy_url(url.as_ref()),
            credentials: None,
        }
    }

    /// Authenticate to the proxy with Basic credentials (`Proxy-Authorization`, marked sensitive).
    #[must_use]
    pub fn basic_auth(
        mut self,
        user: impl Into<String>,
        password: impl Into<SecretString>,
    ) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    pub(crate) fn tunnel(
        &self,
        connector: HttpConnector,
    ) -> Result<Tunnel<HttpConnector>, BuildError> {
        let uri = self
            .uri
            .clone()
            .map_err(|message| BuildError::Proxy { message })?;
        let tunnel = Tunnel::new(uri, connector);
        Ok(match &self.credentials {
            None => tunnel,
            Some((user, _)) if user.contains(':') => {
                return Err(BuildError::Proxy {
                    message: "the proxy user name must not contain ':' (Basic credentials \
                              could not tell user and password apart)"
                        .into(),
                });
            }
            Some((user, password)) => {
                let token = STANDARD.encode(format!("{user}:{}", password.expose_secret()));
                let mut value = HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| {
                    BuildError::Proxy {
                        message: "the proxy user name cannot be sent in a header".into(),
                    }
                })?;
                value.set_sensitive(true);
                tunnel.with_auth(value)
            }
        })
    }
}

fn parse_proxy_url(url: &str) -> Result<Uri, String> {
    let url = url.trim();
    if url.contains('@') {
        return Err("the proxy URL must not hold credentials; use Proxy::basic_auth".into());
    }
    let uri: Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => {}
        Some(_) => return Err("only http:// proxies are supported".into()),
        None => return Err(format!("{url:?} has no scheme; expected http://host:port")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    if uri.path_and_query().is_some_and(|pq| pq.as_str() != "/") {
        return Err(format!(
            "{url:?} has a path or query; expected http://host:port"
        ));
    }
    Ok(uri)
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Proxy");
        match &self.uri {
            Ok(uri) => d.field("url", &uri.to_string()),
            Err(e) => d.field("invalid", e),
        };
        d.field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("password", &self.credentials.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// The TCP connector under TLS: direct, or through a CONNECT tunnel.
#[derive(Clone, Debug)]
pub(crate) enum Connector {
    Direct(HttpConnector),
    Tunnel(Tunnel<HttpConnector>),
}

/// `dst` with its port spelt out, so the tunnel asks for the right one (`Tunnel` assumes 443).
fn with_port(dst: Uri) -> Uri {
    if dst.port().is_some() {
        return dst;
    }
    let port = if dst.scheme_str() == Some("http") {
        80
    } else {
        443
    };
    let Some(host) = dst.host() else { return dst };
    let authority = format!("{host}:{port}");
    let mut parts = dst.clone().into_parts();
    match authority.parse() {
        Ok(a) => {
            parts.authority = Some(a);
            Uri::from_parts(parts).unwrap_or(dst)
        }
        Err(_) => dst,
    }
}

impl Service<Uri> for Connector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = BoxFuture<Result<TokioIo<TcpStream>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Connector::Direct(c) => c.poll_ready(cx).map_err(Into::into),
            Connector::Tunnel(t) => t.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        match self {
            Connector::Direct(c) => {
                let fut = c.call(dst);
                Box::pin(async move { fut.await.map_err(Into::into) })
            }
            Connector::Tunnel(t) => {
                let fut = t.call(with_port(dst));
                Box::pin(async move { fut.await.map_err(Into::into) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        assert!(parse_proxy_url("http://proxy:3128").is_ok());
        assert!(parse_proxy_url("http://proxy:3128/").is_ok());
        for bad in [
            "https://proxy:3128",
            "proxy:3128",
            "http://u:p@proxy",
            "http://proxy/x",
            "socks5://p:1",
        ] {
            let e = parse_proxy_url(bad).unwrap_err();
            assert!(!e.contains("u:p"), "{e}");
        }
    }

    #[test]
    fn a_proxy_user_with_a_colon_is_refused_without_echoing_the_password() {
        let err = Proxy::http("http://proxy:3128")
            .basic_auth("a:b", "pr0xy-pass")
            .tunnel(HttpConnector::new())
            .unwrap_err();
        assert!(matches!(err, BuildError::Proxy { .. }), "{err}");
        assert!(err.to_string().contains("':'"), "{err}");
        assert!(!err.to_string().contains("pr0xy-pass"), "{err}");
        assert!(
            Proxy::http("http://proxy:3128")
                .basic_auth("a", "b:c")
                .tunnel(HttpConnector::new())
                .is_ok()
        );
    }

    #[test]
    fn explicit_ports() {
        assert_eq!(
            with_port("http://h/x".parse().unwrap()).to_string(),
            "http://h:80/x"
        );
        assert_eq!(
            with_port("https://h".parse().unwrap()).port_u16(),
            Some(443)
        );
        assert_eq!(
            with_port("https://h:8443".parse().unwrap()).port_u16(),
            Some(8443)
        );
    }
}
