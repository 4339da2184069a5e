//! [`Client`]: the entry point, bound to one instance, over any transport and authenticator.

use std::fmt;
#[cfg(any(feature = "basic", feature = "oauth"))]
use std::str::FromStr;
use std::sync::Arc;

use http::Response;
use snow_core::{Authenticator, Instance};
use snow_transport::{ResponseBody, Transport};

use crate::Error;
use crate::aggregate::Aggregate;
use crate::attachment::Attachments;
use crate::batch::Batch;
use crate::builder::ClientBuilder;
use crate::cmdb::Cmdb;
use crate::import_set::ImportSet;
use crate::request::{self, ApiRequest, Buffered, Defaults, Sender};
use crate::resource::Resource;
use crate::table::Table;
use crate::task::InFlight;

/// A ServiceNow client: one instance, one transport (connection pool, TLS, retry, timeouts,
/// authentication). Cloning is cheap and clones share everything.
///
/// Build one with a short constructor ([`Client::basic`], [`Client::api_key`],
/// [`Client::bearer`], [`Client::oauth_password`]), from an [`Instance`] and any
/// [`Authenticator`] ([`Client::with_auth`]), or from a [`Transport`] you configured yourself
/// ([`Client::new`]: your own TLS roots, proxy, retry policy, tower layers or inner service —
/// the Rust form of pysnow's custom session).
///
/// ```no_run
/// use std::time::Duration;
/// use snow_client::transport::{RetryConfig, Transport};
/// use snow_client::{Client, Instance, basic::BasicAuth};
///
/// # fn demo() -> Result<(), snow_client::Error> {
/// // The common case: an instance name (or host, or URL), a user and a password.
/// let client = Client::basic("acme", "admin", "s3cret")?;
///
/// // The custom-session case: any transport setting, any authenticator.
/// let transport = Transport::builder(Instance::from_name("acme")?)
///     .auth(BasicAuth::new("admin", "s3cret"))
///     .timeout(Duration::from_secs(20))
///     .retry(RetryConfig::default().max_attempts(5))
///     .build()?;
/// let client = Client::new(transport);
/// # Ok(()) }
/// ```
///
/// # Many requests at once
///
/// Drive them from one task (`buffer_unordered`, `join_all`). On a runtime with several worker
/// threads, a request your task sends while it has others of the client in flight runs its
/// transport stack and reads its answer on a task of the runtime, so the requests spread over
/// its threads; each answer is decoded on your task. That task carries your span and `tracing`
/// subscriber, not your task-local or thread-local values (a layer of yours should read
/// per-request context from the request's extensions). A request you drop is cancelled
/// promptly, its task with it. The transport's
/// [`concurrency_limit`](snow_transport::TransportBuilder::concurrency_limit) caps how many are
/// sent at once across every clone.
///
/// ```no_run
/// use futures_util::stream::{self, StreamExt};
/// use snow_client::{Client, Record};
///
/// # async fn demo(client: Client, ids: Vec<String>) -> Result<(), snow_client::Error> {
/// let incidents = client.table("incident");
/// let records: Vec<Record> = stream::iter(ids)
///     .map(|id| incidents.get(id).into_future())
///     .buffer_unordered(64)
///     .collect::<Vec<_>>()
///     .await
///     .into_iter()
///     .collect::<Result<_, _>>()?;
/// # let _ = records;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    transport: Transport,
    shared: Arc<Shared>,
}

/// What the clones of a client share besides the transport.
#[derive(Debug)]
struct Shared {
    /// The parameters and headers added to every request.
    defaults: Defaults,
    /// The requests in flight, to tell a lone request from one among several.
    in_flight: InFlight,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("transport", &self.transport)
            .field("defaults", &self.shared.defaults)
            .finish()
    }
}

/// Parses an instance given as a name (`acme`), a host (`acme.example.com:8443`) or a full URL
/// (`https://acme.service-now.com`, `http://127.0.0.1:8080`).
#[cfg(any(feature = "basic", feature = "oauth"))]
fn parse_instance(instance: &str) -> Result<Instance, Error> {
    Instance::from_str(instance).map_err(Error::from)
}

impl Client {
    /// A client over an already built transport.
    pub fn new(transport: Transport) -> Self {
        Self::with_defaults(transport, Defaults::default())
    }

    /// A client over `transport` that adds `defaults` to every request.
    pub(crate) fn with_defaults(transport: Transport, defaults: Defaults) -> Self {
        Self {
            transport,
            shared: Arc::new(Shared {
                defaults,
                in_flight: InFlight::default(),
            }),
        }
    }

    /// A client for `instance` authenticating with `auth` (any [`Authenticator`], including a
    /// third party's), over a transport with default settings.
    pub fn with_auth(instance: Instance, auth: impl Authenticator) -> Result<Self, Error> {
        Ok(Self::new(Transport::builder(instance).auth(auth).build()?))
    }

    /// Basic auth: `Client::basic("acme", "admin", "s3cret")`. The instance may be a name, a
    /// host or a full URL.
    #[cfg(feature = "basic")]
    pub fn basic(
        instance: &str,
        user: impl Into<String>,
        password: impl Into<snow_core::secret::SecretString>,
    ) -> Result<Self, Error> {
        Self::with_auth(
            parse_instance(instance)?,
            snow_basic::BasicAuth::new(user, password),
        )
    }

    /// A ServiceNow API key, sent in the `x-sn-apikey` header.
    #[cfg(feature = "basic")]
    pub fn api_key(
        instance: &str,
        key: impl Into<snow_core::secret::SecretString>,
    ) -> Result<Self, Error> {
        Self::with_auth(parse_instance(instance)?, snow_basic::ApiKey::new(key))
    }

    /// A bearer token obtained elsewhere.
    #[cfg(feature = "basic")]
    pub fn bearer(
        instance: &str,
        token: impl Into<snow_core::secret::SecretString>,
    ) -> Result<Self, Error> {
        Self::with_auth(
            parse_instance(instance)?,
            snow_basic::BearerToken::new(token),
        )
    }

    /// OAuth 2 with the password grant: the token is fetched on first use from
    /// `/oauth_token.do`, cached, and renewed before it expires and after a `401`.
    #[cfg(feature = "oauth")]
    pub fn oauth_password(
        instance: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<snow_core::secret::SecretString>,
        user: impl Into<String>,
        password: impl Into<snow_core::secret::SecretString>,
    ) -> Result<Self, Error> {
        let (user, password) = (user.into(), password.into());
        Self::oauth(instance, client_id, client_secret, move |b| {
            b.password(user, password)
        })
    }

    /// OAuth 2 with any grant or option of [`oauth::OAuthBuilder`](crate::oauth::OAuthBuilder)
    /// (client credentials, JWT bearer, a stored token, a token updater...), over a transport
    /// with default settings. Token calls and API calls share one connection pool.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), snow_client::Error> {
    /// let client = snow_client::Client::oauth("acme", "my-client", "my-secret", |b| b.client_credentials())?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "oauth")]
    pub fn oauth(
        instance: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<snow_core::secret::SecretString>,
        configure: impl FnOnce(snow_oauth::OAuthBuilder) -> snow_oauth::OAuthBuilder,
    ) -> Result<Self, Error> {
        let transport = Transport::builder(parse_instance(instance)?).build()?;
        Self::oauth_over(transport, client_id, client_secret, configure)
    }

    /// OAuth 2 over a transport you configured (TLS roots, client certificate, proxy, timeouts):
    /// the token calls to `/oauth_token.do` go through that same transport, with its settings and
    /// its connection pool, and the API calls are authenticated with the resulting tokens.
    /// Any authenticator already set on `transport` is replaced for the API calls.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use snow_client::transport::{Proxy, Transport};
    /// use snow_client::{Client, Instance};
    ///
    /// # fn demo() -> Result<(), snow_client::Error> {
    /// let transport = Transport::builder(Instance::from_name("acme")?)
    ///     .proxy(Proxy::http("http://proxy.corp.example:3128"))
    ///     .timeout(Duration::from_secs(20))
    ///     .build()?;
    /// let client = Client::oauth_over(transport, "my-client", "my-secret", |b| {
    ///     b.password("integration.user", "s3cret")
    /// })?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "oauth")]
    pub fn oauth_over(
        transport: Transport,
        client_id: impl Into<String>,
        client_secret: impl Into<snow_core::secret::SecretString>,
        configure: impl FnOnce(snow_oauth::OAuthBuilder) -> snow_oauth::OAuthBuilder,
    ) -> Result<Self, Error> {
        let builder = snow_oauth::OAuth::builder(
            transport.instance(),
            transport.clone(),
            client_id,
            client_secret,
        );
        let auth = configure(builder)
            .build()
            .map_err(|e| Error::Config(crate::ConfigError::OAuth(e)))?;
        Ok(Self::new(transport.with_auth(auth)))
    }

    /// A [`ClientBuilder`] for `instance` (a name, a host or a URL): a credential, TLS and
    /// proxy settings, timeouts, and the parameters and headers sent with every request.
    pub fn builder(instance: &str) -> ClientBuilder {
        ClientBuilder::new(instance)
    }

    /// pysnow's `OAuthClient`: an [`OAuthClientBuilder`](crate::OAuthClientBuilder) for
    /// `instance` with the OAuth client id and secret of its Application Registry entry. Its
    /// [`OAuthClient`](crate::OAuthClient) reaches the token calls with
    /// [`oauth()`](crate::OAuthClient::oauth).
    ///
    /// ```no_run
    /// use snow_client::Client;
    ///
    /// # async fn demo() -> Result<(), snow_client::Error> {
    /// let client = Client::oauth_client("acme", "client-id", "client-secret")
    ///     .token_updater(|t| println!("store me: {t}")) // Display shows no token
    ///     .build()?;
    /// let token = client.oauth().generate_token("admin", "s3cret").await?;
    /// let open = client.table("incident").list().limit(5).all::<snow_client::Record>().await?;
    /// # let _ = (token, open); Ok(()) }
    /// ```
    #[cfg(feature = "oauth")]
    pub fn oauth_client(
        instance: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<snow_core::secret::SecretString>,
    ) -> crate::OAuthClientBuilder {
        ClientBuilder::new(instance).oauth(client_id, client_secret)
    }

    /// A client configured from environment variables:
    ///
    /// | variable | meaning |
    /// | --- | --- |
    /// | `SNOW_INSTANCE` | the instance: a name (`acme`), a host or a URL |
    /// | `SNOW_URL` | the instance as a URL; set this or `SNOW_INSTANCE` |
    /// | `SNOW_USER`, `SNOW_PASSWORD` | Basic auth; with an OAuth client, the password grant |
    /// | `SNOW_CLIENT_ID`, `SNOW_CLIENT_SECRET` | OAuth 2 |
    /// | `SNOW_TOKEN_FILE` | OAuth: the token is loaded from this file, and every new one saved to it (mode `0600`) |
    /// | `SNOW_API_KEY` | a ServiceNow API key |
    /// | `HTTPS_PROXY`, `HTTP_PROXY` (or lower case) | the HTTP proxy for an `https` (or `http`) instance: `http://[user:password@]host:port` |
    /// | `NO_PROXY` (or `no_proxy`) | hosts reached directly: `*`, names (`example.com` covers its subdomains), IPs, CIDR blocks, each with an optional `:port` |
    ///
    /// One credential must be set: `SNOW_API_KEY`; or `SNOW_CLIENT_ID` and
    /// `SNOW_CLIENT_SECRET` (with `SNOW_USER` and `SNOW_PASSWORD` for the password grant, with
    /// `SNOW_TOKEN_FILE` to start from a stored token, with neither for the client-credentials
    /// grant); or `SNOW_USER` and `SNOW_PASSWORD` for Basic auth. A missing or contradictory
    /// setting is [`ConfigError::Environment`](crate::ConfigError::Environment), naming the
    /// variables but never their values. Empty variables count as unset.
    ///
    /// To add settings, start from [`ClientBuilder::from_env`]; to read from somewhere else
    /// than the process's environment, [`ClientBuilder::from_env_with`].
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::from_env()?.build()
    }

    /// The instance this client talks to.
    pub fn instance(&self) -> &Instance {
        self.transport.instance()
    }

    /// The transport underneath (to send raw requests or reuse its connections).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// What the transport did so far: requests, retries by reason, `429`s by kind, bytes in
    /// and out, time waited ([`Transport::stats`]). Shared by every clone of the client.
    pub fn stats(&self) -> snow_transport::Stats {
        self.transport.stats()
    }

    /// The Table API for `table` (`/api/now/table/{table}`). The name is percent-encoded as one
    /// path segment; an empty name, `.` or `..` fails at the first call.
    pub fn table(&self, table: impl Into<String>) -> Table {
        Table::new(self.clone(), table.into())
    }

    /// Any API path under the instance, such as `/api/now/stats/incident` or
    /// `/api/x_acme/v1/orders`: pysnow's `resource(api_path=...)` with `request()`.
    pub fn resource(&self, api_path: impl Into<String>) -> Resource {
        Resource::new(self.clone(), api_path.into())
    }

    /// The Attachment API (`/api/now/attachment`).
    pub fn attachments(&self) -> Attachments {
        Attachments::new(self.clone())
    }

    /// The Aggregate API for `table` (`/api/now/stats/{table}`): counts and statistics.
    ///
    /// ```no_run
    /// # async fn demo(client: snow_client::Client) -> Result<(), snow_client::Error> {
    /// use snow_client::query::field;
    /// let open = client.aggregate("incident").count(field("active").eq(true)).await?;
    /// # Ok(()) }
    /// ```
    pub fn aggregate(&self, table: impl Into<String>) -> Aggregate {
        Aggregate::new(self.clone(), table.into())
    }

    /// The Import Set API for a staging table (`/api/now/import/{staging_table}`).
    ///
    /// ```no_run
    /// # async fn demo(client: snow_client::Client) -> Result<(), snow_client::Error> {
    /// let loaded = client.import_set("imp_user")
    ///     .insert(&serde_json::json!({"user_name": "j.public"}))
    ///     .await?;
    /// println!("{:?}", loaded.result().map(|r| &r.status));
    /// # Ok(()) }
    /// ```
    pub fn import_set(&self, staging_table: impl Into<String>) -> ImportSet {
        ImportSet::new(self.clone(), staging_table.into())
    }

    /// A new, empty batch for the Batch API (`/api/now/v1/batch`).
    ///
    /// ```no_run
    /// # async fn demo(client: snow_client::Client) -> Result<(), snow_client::Error> {
    /// use snow_client::batch::BatchItem;
    /// let answers = client.batch()
    ///     .with(BatchItem::get("/api/now/table/incident").query("sysparm_limit", "1"))
    ///     .with(BatchItem::get("/api/now/table/problem").query("sysparm_limit", "1"))
    ///     .await?;
    /// assert!(answers.all_succeeded());
    /// # Ok(()) }
    /// ```
    pub fn batch(&self) -> Batch {
        Batch::new(self.clone())
    }

    /// The CMDB Instance API for a CI class (`/api/now/cmdb/instance/{class}`).
    ///
    /// ```no_run
    /// # async fn demo(client: snow_client::Client, id: &str) -> Result<(), snow_client::Error> {
    /// let ci = client.cmdb("cmdb_ci_linux_server").get(id).await?;
    /// for rel in &ci.outbound_relations {
    ///     println!("{:?} {:?}", rel.kind.display_value(), rel.target.display_value());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn cmdb(&self, class: impl Into<String>) -> Cmdb {
        Cmdb::new(self.clone(), class.into())
    }

    /// The parameters and headers this client adds to every request (batch items too).
    pub(crate) fn defaults(&self) -> &Defaults {
        &self.shared.defaults
    }

    /// What requests are sent through: the transport, this client's defaults, and the count of
    /// its requests in flight.
    fn sender(&self) -> Sender<'_> {
        Sender {
            transport: &self.transport,
            defaults: &self.shared.defaults,
            in_flight: &self.shared.in_flight,
        }
    }

    /// Sends a request; the body streams as it arrives.
    pub(crate) async fn send(&self, req: ApiRequest) -> Result<Response<ResponseBody>, Error> {
        request::send(self.sender(), req).await
    }

    /// Sends a request and reads the whole answer (at most the transport's body cap).
    pub(crate) fn send_buffered(
        &self,
        req: ApiRequest,
    ) -> impl Future<Output = Result<Buffered, Error>> + Send + '_ {
        request::send_buffered(self.sender(), req)
    }

    /// Sends a request and reads the whole answer into a buffer from `buffer`, given the
    /// announced length.
    pub(crate) async fn send_buffered_into(
        &self,
        req: ApiRequest,
        buffer: impl AsyncFnOnce(usize) -> bytes::BytesMut,
    ) -> Result<Buffered, Error> {
        request::send_buffered_into(self.sender(), req, buffer).await
    }
}
