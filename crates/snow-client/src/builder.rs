//! [`ClientBuilder`]: a [`Client`] from its settings — the instance, a credential, transport
//! settings (TLS, proxy, timeouts), and the parameters and headers sent with every request.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use snow_core::{Authenticator, Instance};
use snow_transport::{Proxy, TlsConfig, Transport, TransportBuilder};

use crate::Error;
use crate::client::Client;
use crate::request::Defaults;

/// One transport setting, applied when the client is built.
pub(crate) type TransportStep = Box<dyn FnOnce(TransportBuilder) -> TransportBuilder + Send>;

/// Builds a [`Client`]: start with [`Client::builder`] (or [`ClientBuilder::from_env`]),
/// choose a credential, add transport settings and defaults, then [`build`](Self::build).
///
/// Every setting is checked when the client is built: the first invalid one is the error of
/// [`build`](Self::build), and nothing is sent before.
///
/// ```no_run
/// use std::time::Duration;
/// use snow_client::Client;
/// use snow_client::transport::{Proxy, TlsConfig};
///
/// # fn demo(company_ca_pem: Vec<u8>) -> Result<(), snow_client::Error> {
/// let client = Client::builder("acme")
///     .basic("admin", "s3cret")
///     .proxy(Proxy::http("http://proxy.corp.example:3128"))
///     .tls(TlsConfig::default().add_ca_pem(company_ca_pem))
///     .transport(|t| t.timeout(Duration::from_secs(20)))
///     .default_param("sysparm_something_custom", "1") // pysnow's request_params
///     .default_header("x-requested-by", "nightly-sync")
///     .build()?;
/// # Ok(()) }
/// ```
#[must_use = "a builder does nothing until built"]
pub struct ClientBuilder {
    pub(crate) instance: Result<Instance, Error>,
    pub(crate) auth: Option<Arc<dyn Authenticator>>,
    pub(crate) transport: Vec<TransportStep>,
    pub(crate) defaults: Defaults,
    pub(crate) error: Option<Error>,
    /// OAuth settings read from the environment: the client is built as an OAuth client.
    #[cfg(feature = "oauth")]
    pub(crate) oauth: Option<crate::oauth_client::OAuthSettings>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("instance", &self.instance)
            .field("auth", &self.auth)
            .field("transport_settings", &self.transport.len())
            .field("defaults", &self.defaults)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A builder for `instance`, given as a name (`acme`), a host (`acme.example.com:8443`) or
    /// a full URL (`https://acme.service-now.com`); an invalid one is the error of
    /// [`build`](Self::build).
    pub fn new(instance: &str) -> Self {
        Self::from_instance(Instance::from_str(instance).map_err(Error::from))
    }

    /// A builder for an [`Instance`] you made (with another API root, say).
    pub fn for_instance(instance: Instance) -> Self {
        Self::from_instance(Ok(instance))
    }

    fn from_instance(instance: Result<Instance, Error>) -> Self {
        Self {
            instance,
            auth: None,
            transport: Vec::new(),
            defaults: Defaults::default(),
            error: None,
            #[cfg(feature = "oauth")]
            oauth: None,
        }
    }

    fn fail(&mut self, e: Error) {
        self.error.get_or_insert(e);
    }

    /// Authenticate with any [`Authenticator`] (replaces an earlier credential).
    pub fn auth(self, auth: impl Authenticator) -> Self {
        self.auth_arc(Arc::new(auth))
    }

    /// [`auth`](Self::auth) for an authenticator that is already shared.
    pub fn auth_arc(mut self, auth: Arc<dyn Authenticator>) -> Self {
        self.auth = Some(auth);
        #[cfg(feature = "oauth")]
        {
            self.oauth = None;
        }
        self
    }

    /// Basic auth with a user and password.
    #[cfg(feature = "basic")]
    pub fn basic(
        self,
        user: impl Into<String>,
        password: impl Into<snow_core::secret::SecretString>,
    ) -> Self {
        self.auth(snow_basic::BasicAuth::new(user, password))
    }

    /// A ServiceNow API key, sent in the `x-sn-apikey` header.
    #[cfg(feature = "basic")]
    pub fn api_key(self, key: impl Into<snow_core::secret::SecretString>) -> Self {
        self.auth(snow_basic::ApiKey::new(key))
    }

    /// A bearer token obtained elsewhere.
    #[cfg(feature = "basic")]
    pub fn bearer(self, token: impl Into<snow_core::secret::SecretString>) -> Self {
        self.auth(snow_basic::BearerToken::new(token))
    }

    /// OAuth 2 with this client id and secret: the rest of the settings carry over to the
    /// [`OAuthClientBuilder`](crate::OAuthClientBuilder), whose `build` gives an
    /// [`OAuthClient`](crate::OAuthClient) (token calls over this client's transport).
    #[cfg(feature = "oauth")]
    pub fn oauth(
        self,
        client_id: impl Into<String>,
        client_secret: impl Into<snow_core::secret::SecretString>,
    ) -> crate::OAuthClientBuilder {
        crate::OAuthClientBuilder::new(self, client_id.into(), client_secret.into())
    }

    /// Any transport setting (timeouts, retry policy, concurrency limit, user agent, body cap,
    /// your own tower layers...): `f` gets the transport builder and returns it. Several calls
    /// apply in order.
    pub fn transport(
        mut self,
        f: impl FnOnce(TransportBuilder) -> TransportBuilder + Send + 'static,
    ) -> Self {
        self.transport.push(Box::new(f));
        self
    }

    /// Go through an HTTP CONNECT proxy, for every call (token calls included).
    pub fn proxy(self, proxy: Proxy) -> Self {
        self.transport(move |t| t.proxy(proxy))
    }

    /// TLS settings: the roots to trust, extra CAs (a company CA), a client certificate.
    pub fn tls(self, tls: TlsConfig) -> Self {
        self.transport(move |t| t.tls(tls))
    }

    /// A query parameter sent with every request of the client (pysnow's `request_params`),
    /// unless a request sets the same name with `.param()`. The `sysparm_*` names a typed
    /// setter owns ([`OWNED_PARAMS`](crate::params::OWNED_PARAMS)) are refused: `build` fails
    /// naming the setter to use on each request instead.
    pub fn default_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let Err(e) = self.defaults.param(name.into(), value.into()) {
            self.fail(e);
        }
        self
    }

    /// A header sent with every request of the client (replacing an earlier default of the
    /// same name), unless a request sets the same name with `.header()`. Credential headers are
    /// marked sensitive. An invalid name or value is the error of `build`.
    pub fn default_header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        if let Err(e) = self.defaults.header(name.as_ref(), value.as_ref()) {
            self.fail(e);
        }
        self
    }

    /// The transport (with every setting given and the credential, if any) and the defaults;
    /// or the first invalid setting.
    pub(crate) fn into_parts(self) -> Result<(Transport, Defaults), Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut builder = self
            .transport
            .into_iter()
            .fold(Transport::builder(self.instance?), |b, step| step(b));
        if let Some(auth) = self.auth {
            builder = builder.auth_arc(auth);
        }
        Ok((builder.build()?, self.defaults))
    }

    /// Builds the client. Fails with the first invalid setting: the instance, a default
    /// parameter or header, a transport setting (TLS, proxy), or an OAuth setting.
    pub fn build(self) -> Result<Client, Error> {
        #[cfg(feature = "oauth")]
        if self.oauth.is_some() {
            return self.build_oauth();
        }
        let (transport, defaults) = self.into_parts()?;
        Ok(Client::with_defaults(transport, defaults))
    }

    /// The client of OAuth settings read from the environment.
    #[cfg(feature = "oauth")]
    fn build_oauth(mut self) -> Result<Client, Error> {
        let settings = self.oauth.take();
        let builder = match settings {
            Some(settings) => crate::OAuthClientBuilder::with_settings(self, settings),
            None => return self.build(),
        };
        Ok(builder.build()?.into_client())
    }
}
