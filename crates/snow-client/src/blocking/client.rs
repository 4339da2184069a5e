//! The blocking [`Client`] and its [`ClientBuilder`].

use snow_core::{Authenticator, Instance};
use snow_transport::{Proxy, TlsConfig, Transport, TransportBuilder};

use super::{Attachments, Resource, Runtime, Table};
use crate::Error;

/// The blocking form of [`snow_client::Client`](crate::Client): one instance, one transport,
/// and the runtime its calls run on. Cloning is cheap; clones share everything and may be used
/// from any number of threads.
///
/// ```no_run
/// use snow_client::blocking::Client;
///
/// # fn demo() -> Result<(), snow_client::Error> {
/// let client = Client::basic("acme", "admin", "s3cret")?;
/// let record: snow_client::Record = client.table("incident").get("9d385017c611228701d22104cc95c371").send()?;
/// # let _ = record; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    inner: crate::Client,
    rt: Runtime,
}

impl Client {
    /// A blocking client over an async one (built by this client's constructors).
    pub(crate) fn from_async(inner: crate::Client) -> Result<Self, Error> {
        Ok(Self {
            inner,
            rt: Runtime::new()?,
        })
    }

    /// A client over a transport built for it (not one already used by an async runtime of
    /// yours: its pooled connections belong to that runtime).
    pub fn new(transport: Transport) -> Result<Self, Error> {
        Self::from_async(crate::Client::new(transport))
    }

    /// See [`snow_client::Client::with_auth`](crate::Client::with_auth).
    pub fn with_auth(instance: Instance, auth: impl Authenticator) -> Result<Self, Error> {
        Self::from_async(crate::Client::with_auth(instance, auth)?)
    }

    /// Basic auth: `Client::basic("acme", "admin", "s3cret")`.
    #[cfg(feature = "basic")]
    pub fn basic(
        instance: &str,
        user: impl Into<String>,
        password: impl Into<snow_core::secret::SecretString>,
    ) -> Result<Self, Error> {
        Self::from_async(crate::Client::basic(instance, user, password)?)
    }

    /// A ServiceNow API key (`x-sn-apikey`).
    #[cfg(feature = "basic")]
    pub fn api_key(
        instance: &str,
        key: impl Into<snow_core::secret::SecretString>,
    ) -> Result<Self, Error> {
        Self::from_async(crate::Client::api_key(instance, key)?)
    }

    /// A bearer token obtained elsewhere.
    #[cfg(feature = "basic")]
    pub fn bearer(
        instance: &str,
        token: impl Into<snow_core::secret::SecretString>,
    ) -> Result<Self, Error> {
        Self::from_async(crate::Client::bearer(instance, token)?)
    }

    /// OAuth 2 with the password grant; see
    /// [`snow_client::Client::oauth_password`](crate::Client::oauth_password).
    #[cfg(feature = "oauth")]
    pub fn oauth_password(
        instance: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<snow_core::secret::SecretString>,
        user: impl Into<String>,
        password: impl Into<snow_core::secret::SecretString>,
    ) -> Result<Self, Error> {
        Self::from_async(crate::Client::oauth_password(
            instance,
            client_id,
            client_secret,
            user,
            password,
        )?)
    }

    /// pysnow's `OAuthClient`; see [`snow_client::Client::oauth_client`](crate::Client::oauth_client).
    #[cfg(feature = "oauth")]
    pub fn oauth_client(
        instance: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<snow_core::secret::SecretString>,
    ) -> super::OAuthClientBuilder {
        super::OAuthClientBuilder::from_async(crate::Client::oauth_client(
            instance,
            client_id,
            client_secret,
        ))
    }

    /// A [`ClientBuilder`]; see [`snow_client::Client::builder`](crate::Client::builder).
    pub fn builder(instance: &str) -> ClientBuilder {
        ClientBuilder {
            inner: crate::ClientBuilder::new(instance),
        }
    }

    /// A client from environment variables; see
    /// [`snow_client::Client::from_env`](crate::Client::from_env).
    pub fn from_env() -> Result<Self, Error> {
        ClientBuilder::from_env()?.build()
    }

    /// The runtime its calls run on.
    #[cfg(feature = "oauth")]
    pub(crate) fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// The instance this client talks to.
    pub fn instance(&self) -> &Instance {
        self.inner.instance()
    }

    /// The transport underneath.
    pub fn transport(&self) -> &Transport {
        self.inner.transport()
    }

    /// The Table API for `table`.
    pub fn table(&self, table: impl Into<String>) -> Table {
        Table::new(self.inner.table(table), self.rt.clone())
    }

    /// Any API path under the instance; see [`snow_client::Client::resource`](crate::Client::resource).
    pub fn resource(&self, api_path: impl Into<String>) -> Resource {
        Resource::new(self.inner.resource(api_path), self.rt.clone())
    }

    /// The Attachment API.
    pub fn attachments(&self) -> Attachments {
        Attachments::new(self.inner.attachments(), self.rt.clone())
    }
}

/// The blocking form of [`snow_client::ClientBuilder`](crate::ClientBuilder): the same settings,
/// and [`build`](Self::build) gives a blocking [`Client`].
#[derive(Debug)]
#[must_use = "a builder does nothing until built"]
pub struct ClientBuilder {
    inner: crate::ClientBuilder,
}

impl From<crate::ClientBuilder> for ClientBuilder {
    fn from(inner: crate::ClientBuilder) -> Self {
        Self { inner }
    }
}

impl ClientBuilder {
    /// See [`snow_client::ClientBuilder::from_env`](crate::ClientBuilder::from_env).
    pub fn from_env() -> Result<Self, Error> {
        Ok(crate::ClientBuilder::from_env()?.into())
    }

    /// See [`snow_client::ClientBuilder::from_env_with`](crate::ClientBuilder::from_env_with).
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Ok(crate::ClientBuilder::from_env_with(get)?.into())
    }

    fn map(self, f: impl FnOnce(crate::ClientBuilder) -> crate::ClientBuilder) -> Self {
        Self {
            inner: f(self.inner),
        }
    }

    super::delegate! { "ClientBuilder";
        fn auth(auth: impl Authenticator);
        fn proxy(proxy: Proxy);
        fn tls(tls: TlsConfig);
        fn transport(f: impl FnOnce(TransportBuilder) -> TransportBuilder + Send + 'static);
        fn default_param(name: impl Into<String>, value: impl Into<String>);
        fn default_header(name: impl AsRef<str>, value: impl AsRef<str>);
        #[cfg(feature = "basic")]
        fn basic(user: impl Into<String>, password: impl Into<snow_core::secret::SecretString>);
        #[cfg(feature = "basic")]
        fn api_key(key: impl Into<snow_core::secret::SecretString>);
        #[cfg(feature = "basic")]
        fn bearer(token: impl Into<snow_core::secret::SecretString>);
    }

    /// OAuth 2 with this client id and secret; see
    /// [`snow_client::ClientBuilder::oauth`](crate::ClientBuilder::oauth).
    #[cfg(feature = "oauth")]
    pub fn oauth(
        self,
        client_id: impl Into<String>,
        client_secret: impl Into<snow_core::secret::SecretString>,
    ) -> super::OAuthClientBuilder {
        super::OAuthClientBuilder::from_async(self.inner.oauth(client_id, client_secret))
    }

    /// Builds the client and starts its runtime.
    pub fn build(self) -> Result<Client, Error> {
        Client::from_async(self.inner.build()?)
    }
}
