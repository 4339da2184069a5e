//! Client settings from environment variables ([`ClientBuilder::from_env`]).
//!
//! | variable | meaning |
//! | --- | --- |
//! | `SNOW_INSTANCE` | the instance: a name (`acme`), a host or a URL |
//! | `SNOW_URL` | the instance as a URL (`https://acme.service-now.com`); set this or `SNOW_INSTANCE` |
//! | `SNOW_USER`, `SNOW_PASSWORD` | Basic auth; with an OAuth client, the password grant |
//! | `SNOW_CLIENT_ID`, `SNOW_CLIENT_SECRET` | OAuth 2 |
//! | `SNOW_TOKEN_FILE` | OAuth: load the token from this file and save every new one to it |
//! | `SNOW_API_KEY` | a ServiceNow API key (`x-sn-apikey`) |
//! | `HTTPS_PROXY` / `https_proxy` | the HTTP proxy for an `https` instance (`http://[user:password@]host:port`) |
//! | `HTTP_PROXY` / `http_proxy` | the HTTP proxy for an `http` instance |
//! | `NO_PROXY` / `no_proxy` | hosts reached without the proxy |
//!
//! Exactly one credential: an API key, an OAuth client (with a user and password for the
//! password grant, or a token file, or neither for the client-credentials grant), or a user
//! and password. Anything ambiguous or incomplete is an error naming the variables, never
//! their values. An empty variable counts as unset.
//!
//! `NO_PROXY` is a comma-separated list of `*` (no proxy at all), host names (`example.com`
//! also matches `a.example.com`; a leading `.` or `*.` is the same), IP addresses and CIDR
//! blocks (`10.0.0.0/8`), each optionally with a `:port`. It is matched against the instance's
//! host, once, when the client is built.

use std::net::IpAddr;

use crate::builder::ClientBuilder;
use crate::{ConfigError, Error};

/// Reads an environment variable; empty values count as unset.
type Source<'a> = &'a dyn Fn(&str) -> Option<String>;

impl ClientBuilder {
    /// A builder with the instance, the credential and the proxy read from the process's
    /// environment (see the table in [`Client::from_env`](crate::Client::from_env)); add
    /// defaults or transport settings, then build.
    pub fn from_env() -> Result<ClientBuilder, Error> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) reading variables through `get` instead of the process's
    /// environment (a map in a test, a configuration file of your own, a prefix).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use snow_client::ClientBuilder;
    ///
    /// let vars = HashMap::from([("SNOW_INSTANCE", "acme"), ("SNOW_API_KEY", "k")]);
    /// let client = ClientBuilder::from_env_with(|name| vars.get(name).map(|v| v.to_string()))?
    ///     .build()?;
    /// assert_eq!(client.instance().host(), "acme.service-now.com");
    /// # Ok::<(), snow_client::Error>(())
    /// ```
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<ClientBuilder, Error> {
        builder(&get)
    }
}

#[cfg(feature = "oauth")]
impl crate::OAuthClientBuilder {
    /// An OAuth client builder from the process's environment: `SNOW_CLIENT_ID` and
    /// `SNOW_CLIENT_SECRET` are required, the rest as for
    /// [`Client::from_env`](crate::Client::from_env).
    pub fn from_env() -> Result<crate::OAuthClientBuilder, Error> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) reading variables through `get`.
    pub fn from_env_with(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<crate::OAuthClientBuilder, Error> {
        let mut base = builder(&get)?;
        match base.oauth.take() {
            Some(settings) => Ok(crate::OAuthClientBuilder::with_settings(base, settings)),
            None => Err(env_error(
                "an OAuth client needs SNOW_CLIENT_ID and SNOW_CLIENT_SECRET",
            )),
        }
    }
}

fn var(get: Source<'_>, name: &str) -> Option<String> {
    get(name).filter(|v| !v.is_empty())
}

fn env_error(message: impl Into<String>) -> Error {
    Error::Config(ConfigError::Environment {
        message: message.into(),
    })
}

/// The names among `names` that are set, for an error message.
fn set_names<'n>(get: Source<'_>, names: &[&'n str]) -> Vec<&'n str> {
    names
        .iter()
        .copied()
        .filter(|n| var(get, n).is_some())
        .collect()
}

/// A builder from the variables `get` reads.
pub(crate) fn builder(get: Source<'_>) -> Result<ClientBuilder, Error> {
    let instance = match (var(get, "SNOW_INSTANCE"), var(get, "SNOW_URL")) {
        (Some(_), Some(_)) => {
            return Err(env_error(
                "both SNOW_INSTANCE and SNOW_URL are set; set one of them",
            ));
        }
        (Some(i), None) => i.parse().map_err(Error::from)?,
        (None, Some(u)) => snow_core::Instance::from_url(&u).map_err(Error::from)?,
        (None, None) => {
            return Err(env_error(
                "neither SNOW_INSTANCE nor SNOW_URL is set; set one of them to the instance",
            ));
        }
    };
    let proxy = proxy_for(get, &instance)?;
    let mut builder = ClientBuilder::for_instance(instance);
    if let Some(proxy) = proxy {
        builder = builder.proxy(proxy);
    }
    credentials(get, builder)
}

/// The credential, chosen by which variables are set.
fn credentials(get: Source<'_>, builder: ClientBuilder) -> Result<ClientBuilder, Error> {
    const OTHERS: [&str; 5] = [
        "SNOW_USER",
        "SNOW_PASSWORD",
        "SNOW_CLIENT_ID",
        "SNOW_CLIENT_SECRET",
        "SNOW_TOKEN_FILE",
    ];
    if let Some(key) = var(get, "SNOW_API_KEY") {
        let others = set_names(get, &OTHERS);
        if !others.is_empty() {
            return Err(env_error(format!(
                "SNOW_API_KEY is set together with {}; set one credential",
                others.join(", ")
            )));
        }
        return api_key(builder, key);
    }
    let pair = |a: &str, b: &str| -> Result<Option<(String, String)>, Error> {
        match (var(get, a), var(get, b)) {
            (Some(x), Some(y)) => Ok(Some((x, y))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(env_error(format!("{a} is set but {b} is not"))),
            (None, Some(_)) => Err(env_error(format!("{b} is set but {a} is not"))),
        }
    };
    let user = pair("SNOW_USER", "SNOW_PASSWORD")?;
    let token_file = var(get, "SNOW_TOKEN_FILE");
    match pair("SNOW_CLIENT_ID", "SNOW_CLIENT_SECRET")? {
        Some((id, secret)) => oauth(builder, id, secret, user, token_file),
        None if token_file.is_some() => Err(env_error(
            "SNOW_TOKEN_FILE is set without SNOW_CLIENT_ID and SNOW_CLIENT_SECRET (a token file is for OAuth)",
        )),
        None => match user {
            Some((user, password)) => basic(builder, user, password),
            None => Err(env_error(
                "no credentials: set SNOW_USER and SNOW_PASSWORD, SNOW_API_KEY, or SNOW_CLIENT_ID and SNOW_CLIENT_SECRET",
            )),
        },
    }
}

#[cfg(feature = "basic")]
fn api_key(builder: ClientBuilder, key: String) -> Result<ClientBuilder, Error> {
    Ok(builder.api_key(key))
}

#[cfg(not(feature = "basic"))]
fn api_key(_: ClientBuilder, _: String) -> Result<ClientBuilder, Error> {
    Err(env_error(
        "SNOW_API_KEY needs snow-client's `basic` feature",
    ))
}

#[cfg(feature = "basic")]
fn basic(builder: ClientBuilder, user: String, password: String) -> Result<ClientBuilder, Error> {
    Ok(builder.basic(user, password))
}

#[cfg(not(feature = "basic"))]
fn basic(_: ClientBuilder, _: String, _: String) -> Result<ClientBuilder, Error> {
    Err(env_error(
        "SNOW_USER and SNOW_PASSWORD need snow-client's `basic` feature for Basic auth (or set SNOW_CLIENT_ID and SNOW_CLIENT_SECRET for OAuth)",
    ))
}

#[cfg(feature = "oauth")]
fn oauth(
    mut builder: ClientBuilder,
    id: String,
    secret: String,
    user: Option<(String, String)>,
    token_file: Option<String>,
) -> Result<ClientBuilder, Error> {
    let mut settings = crate::oauth_client::OAuthSettings::new(id, secret.into());
    let password_grant = user.is_some();
    if let Some((user, password)) = user {
        settings.step(move |b| b.password(user, password));
    }
    match token_file {
        Some(path) => settings.step(move |b| b.token_store(snow_oauth::FileTokenStore::new(path))),
        None if !password_grant => settings.step(snow_oauth::OAuthBuilder::client_credentials),
        None => {}
    }
    builder.oauth = Some(settings);
    Ok(builder)
}

#[cfg(not(feature = "oauth"))]
fn oauth(
    _: ClientBuilder,
    _: String,
    _: String,
    _: Option<(String, String)>,
    _: Option<String>,
) -> Result<ClientBuilder, Error> {
    Err(env_error(
        "SNOW_CLIENT_ID and SNOW_CLIENT_SECRET need snow-client's `oauth` feature",
    ))
}

/// The proxy the environment asks for the instance, unless `NO_PROXY` exempts its host.
fn proxy_for(
    get: Source<'_>,
    instance: &snow_core::Instance,
) -> Result<Option<snow_transport::Proxy>, Error> {
    let names: [&str; 2] = if instance.is_tls() {
        ["https_proxy", "HTTPS_PROXY"]
    } else {
        ["http_proxy", "HTTP_PROXY"]
    };
    let Some((name, url)) = names.iter().find_map(|n| var(get, n).map(|v| (*n, v))) else {
        return Ok(None);
    };
    let no_proxy = var(get, "no_proxy").or_else(|| var(get, "NO_PROXY"));
    if no_proxy.is_some_and(|list| no_proxy_matches(&list, instance.host(), instance.port())) {
        return Ok(None);
    }
    parse_proxy(&url)
        .map(Some)
        .map_err(|why| env_error(format!("{name}: {why}")))
}

/// A proxy URL as the environment spells it: `http://host:port`, `host:port` (http assumed),
/// with optional percent-encoded `user:password@`. Errors never quote the URL (it may hold a
/// password).
fn parse_proxy(url: &str) -> Result<snow_transport::Proxy, String> {
    let url = url.trim();
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some(_) => {
            return Err(
                "only http:// proxies are supported (the proxy is reached over plain HTTP and tunnels TLS with CONNECT)"
                    .into(),
            );
        }
        None => url,
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    if !matches!(path, "" | "/") {
        return Err("the proxy URL must be http://host:port, without a path".into());
    }
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (Some(userinfo), host),
        None => (None, authority),
    };
    let proxy = snow_transport::Proxy::http(format!("http://{host}"));
    Ok(match userinfo {
        None => proxy,
        Some(userinfo) => {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let user = percent_decode(user)
                .ok_or("the proxy user name is not valid percent-encoded UTF-8")?;
            let password = percent_decode(password)
                .ok_or("the proxy password is not valid percent-encoded UTF-8")?;
            proxy.basic_auth(user, password)
        }
    })
}

/// Decodes `%XX` escapes; `None` for a malformed escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            let hex = std::str::from_utf8(&hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// Whether a `NO_PROXY` list exempts `host` (lower-case; IPv6 in brackets) on `port`.
pub(crate) fn no_proxy_matches(list: &str, host: &str, port: u16) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip: Option<IpAddr> = bare.parse().ok();
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| entry_matches(entry, bare, ip, port))
}

fn entry_matches(entry: &str, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    let (pattern, entry_port) = split_port(entry);
    if entry_port.is_some_and(|p| p != port) {
        return false;
    }
    let pattern = pattern.trim_start_matches('[').trim_end_matches(']');
    if let Some((net, bits)) = pattern.split_once('/') {
        return match (net.parse::<IpAddr>(), bits.parse::<u8>(), ip) {
            (Ok(net), Ok(bits), Some(ip)) => in_cidr(ip, net, bits),
            _ => false,
        };
    }
    if let Ok(entry_ip) = pattern.parse::<IpAddr>() {
        return ip == Some(entry_ip);
    }
    let domain = pattern
        .trim_start_matches("*.")
        .trim_start_matches('.')
        .to_ascii_lowercase();
    !domain.is_empty()
        && (host == domain
            || host
                .strip_suffix(domain.as_str())
                .is_some_and(|head| head.ends_with('.')))
}

/// `host:port` → (`host`, port); IPv6 literals only with brackets (`[::1]:8080`).
fn split_port(entry: &str) -> (&str, Option<u16>) {
    let split = if entry.starts_with('[') {
        entry
            .rsplit_once("]:")
            .map(|(h, p)| (&entry[..h.len() + 1], p))
    } else if entry.matches(':').count() == 1 {
        entry.split_once(':')
    } else {
        None
    };
    match split.and_then(|(h, p)| p.parse().ok().map(|p| (h, p))) {
        Some((h, p)) => (h, Some(p)),
        None => (entry, None),
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(all(test, feature = "basic", feature = "oauth"))]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        match builder(&env(pairs)) {
            Ok(b) => panic!("expected an error, got {b:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn no_proxy_lists() {
        let m = |list, host, port| no_proxy_matches(list, host, port);
        assert!(m("*", "acme.service-now.com", 443));
        assert!(m("service-now.com", "acme.service-now.com", 443));
        assert!(m(".service-now.com", "acme.service-now.com", 443));
        assert!(m("*.service-now.com", "acme.service-now.com", 443));
        assert!(m("ACME.service-now.com", "acme.service-now.com", 443));
        assert!(m(
            "localhost, acme.service-now.com:443",
            "acme.service-now.com",
            443
        ));
        assert!(!m("acme.service-now.com:8443", "acme.service-now.com", 443));
        assert!(!m("now.com", "acme.service-now.com", 443));
        assert!(!m("example.com", "acme.service-now.com", 443));
        assert!(!m("", "acme.service-now.com", 443));
        assert!(m("127.0.0.1", "127.0.0.1", 8080));
        assert!(m("127.0.0.0/8", "127.0.0.1", 8080));
        assert!(m("10.0.0.0/8,127.0.0.1:8080", "127.0.0.1", 8080));
        assert!(!m("10.0.0.0/8", "127.0.0.1", 8080));
        assert!(m("::1", "[::1]", 443));
        assert!(m("[::1]:443", "[::1]", 443));
        assert!(m("fd00::/8", "[fd12::1]", 443));
        assert!(!m("fd00::/8", "[fe80::1]", 443));
        assert!(!m("0.0.0.0/0", "acme.service-now.com", 443));
        assert!(m("0.0.0.0/0", "192.168.1.4", 443));
    }

    #[test]
    fn credentials_are_chosen_by_what_is_set() {
        let b = builder(&env(&[
            ("SNOW_INSTANCE", "acme"),
            ("SNOW_USER", "admin"),
            ("SNOW_PASSWORD", "pw"),
        ]))
        .unwrap();
        assert!(b.auth.is_some() && b.oauth.is_none());
        let b = builder(&env(&[
            ("SNOW_URL", "https://acme.example.com"),
            ("SNOW_API_KEY", "k"),
        ]))
        .unwrap();
        assert!(b.auth.is_some());
        assert_eq!(b.instance.as_ref().unwrap().host(), "acme.example.com");
        let b = builder(&env(&[
            ("SNOW_INSTANCE", "acme"),
            ("SNOW_CLIENT_ID", "id"),
            ("SNOW_CLIENT_SECRET", "secret"),
            ("SNOW_USER", "admin"),
            ("SNOW_PASSWORD", "pw"),
            ("SNOW_TOKEN_FILE", "token.json"),
        ]))
        .unwrap();
        assert!(b.auth.is_none() && b.oauth.is_some());
        // Empty variables count as unset.
        let b = builder(&env(&[
            ("SNOW_INSTANCE", "acme"),
            ("SNOW_URL", ""),
            ("SNOW_API_KEY", ""),
            ("SNOW_USER", "admin"),
            ("SNOW_PASSWORD", "pw"),
        ]))
        .unwrap();
        assert!(b.auth.is_some());
    }

    #[test]
    fn ambiguous_or_incomplete_settings_name_the_variables_not_the_values() {
        let e = err(&[("SNOW_USER", "admin"), ("SNOW_PASSWORD", "pw-secret")]);
        assert!(e.contains("SNOW_INSTANCE") && e.contains("SNOW_URL"), "{e}");
        let e = err(&[
            ("SNOW_INSTANCE", "a"),
            ("SNOW_URL", "https://b.example.com"),
        ]);
        assert!(e.contains("both"), "{e}");
        let e = err(&[("SNOW_INSTANCE", "acme")]);
        assert!(e.contains("no credentials"), "{e}");
        let e = err(&[("SNOW_INSTANCE", "acme"), ("SNOW_USER", "admin")]);
        assert!(e.contains("SNOW_PASSWORD is not"), "{e}");
        let e = err(&[("SNOW_INSTANCE", "acme"), ("SNOW_PASSWORD", "pw-secret")]);
        assert!(
            e.contains("SNOW_USER is not") && !e.contains("pw-secret"),
            "{e}"
        );
        let e = err(&[("SNOW_INSTANCE", "acme"), ("SNOW_CLIENT_ID", "id")]);
        assert!(e.contains("SNOW_CLIENT_SECRET is not"), "{e}");
        let e = err(&[
            ("SNOW_INSTANCE", "acme"),
            ("SNOW_API_KEY", "key-secret"),
            ("SNOW_USER", "u"),
            ("SNOW_PASSWORD", "pw-secret"),
        ]);
        assert!(
            e.contains("SNOW_API_KEY is set together with SNOW_USER, SNOW_PASSWORD"),
            "{e}"
        );
        assert!(!e.contains("key-secret") && !e.contains("pw-secret"), "{e}");
        let e = err(&[("SNOW_INSTANCE", "acme"), ("SNOW_TOKEN_FILE", "t.json")]);
        assert!(e.contains("SNOW_CLIENT_ID"), "{e}");
        let e = err(&[("SNOW_INSTANCE", "ftp://x"), ("SNOW_API_KEY", "k")]);
        assert!(e.contains("invalid client configuration"), "{e}");
    }

    #[test]
    fn proxies_follow_the_instance_scheme_and_no_proxy() {
        let base = [("SNOW_API_KEY", "k")];
        let with = |extra: &[(&str, &str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            builder(&env(&pairs)).unwrap().transport.len()
        };
        assert_eq!(with(&[("SNOW_INSTANCE", "acme")]), 0);
        assert_eq!(
            with(&[
                ("SNOW_INSTANCE", "acme"),
                ("HTTPS_PROXY", "http://proxy:3128")
            ]),
            1
        );
        assert_eq!(
            with(&[("SNOW_INSTANCE", "acme"), ("https_proxy", "proxy:3128")]),
            1
        );
        // An http instance uses HTTP_PROXY, not HTTPS_PROXY.
        assert_eq!(
            with(&[
                ("SNOW_URL", "http://127.0.0.1:8080"),
                ("HTTPS_PROXY", "http://proxy:3128")
            ]),
            0
        );
        assert_eq!(
            with(&[
                ("SNOW_URL", "http://127.0.0.1:8080"),
                ("HTTP_PROXY", "http://proxy:3128")
            ]),
            1
        );
        assert_eq!(
            with(&[
                ("SNOW_INSTANCE", "acme"),
                ("HTTPS_PROXY", "http://proxy:3128"),
                ("NO_PROXY", "localhost,.service-now.com"),
            ]),
            0
        );
        let e = err(&[
            ("SNOW_INSTANCE", "acme"),
            ("SNOW_API_KEY", "k"),
            ("HTTPS_PROXY", "socks5://u:pw-secret@proxy:1080"),
        ]);
        assert!(e.contains("HTTPS_PROXY") && e.contains("http://"), "{e}");
        assert!(!e.contains("pw-secret"), "{e}");
    }

    #[test]
    fn proxy_urls_with_credentials() {
        let p = parse_proxy("http://svc%40corp:p%3Ass@proxy.corp:3128/").unwrap();
        let debug = format!("{p:?}");
        assert!(
            debug.contains("svc@corp") && !debug.contains("p:ss"),
            "{debug}"
        );
        assert!(debug.contains("proxy.corp:3128"), "{debug}");
        assert!(parse_proxy("http://proxy:3128/path").is_err());
        assert!(parse_proxy("http://u:%zz@proxy:3128").is_err());
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%"), None);
    }
}
