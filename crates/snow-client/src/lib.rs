#![cfg_attr(docsrs, feature(doc_cfg))]
//! A ServiceNow REST client: Table, Attachment and any other API, typed records, a safe
//! encoded-query builder and streaming pages — over any transport and any authenticator, async
//! or blocking.
//!
//! # Install
//!
//! ```sh
//! cargo add snow-client
//! cargo add tokio --features macros,rt-multi-thread   # for `#[tokio::main]`
//! # or, for plain `fn main` without async: cargo add snow-client --features blocking
//! ```
//!
//! # Quick start
//!
//! ```no_run
//! use serde_json::json;
//! use snow_client::{Client, Record, query::field};
//!
//! # async fn demo() -> Result<(), snow_client::Error> {
//! let client = Client::basic("acme", "admin", "s3cret")?; // or a host, or a full URL
//! let incidents = client.table("incident");
//!
//! // Five open priority-1 incidents, newest first.
//! let top: Vec<Record> = incidents
//!     .list()
//!     .query((field("active").eq(true) & field("priority").eq(1)).order_by_desc("sys_created_on"))
//!     .fields(["number", "short_description", "caller_id.name"])
//!     .limit(5)
//!     .all()
//!     .await?;
//!
//! // Every incident, page by page, in bounded memory.
//! let mut all = incidents.list().page_size(1000).stream::<Record>();
//! while let Some(r) = all.try_next().await? {
//!     let _ = r.str("number");
//! }
//!
//! // Write.
//! let created = incidents.create(&json!({"short_description": "Printer on fire"})).await?;
//! let id = created.sys_id().unwrap_or_default().to_owned();
//! incidents.update(&id, &json!({"urgency": "1"})).await?;
//! incidents.delete(&id).await?;
//! # Ok(()) }
//! ```
//!
//! # OAuth quick start
//!
//! pysnow's `OAuthClient`: generate a token from a user and password (and keep it), or start
//! from a stored one; requests refresh it by themselves and hand every new one to the updater.
//! Token calls share the client's transport (TLS, proxy, connection pool).
//!
//! ```no_run
//! use snow_client::{Client, Record, oauth::TokenSet};
//!
//! # async fn demo(stored: Option<TokenSet>, save: fn(&TokenSet)) -> Result<(), snow_client::Error> {
//! let client = Client::oauth_client("acme", "client-id", "client-secret")
//!     .token_updater(save) // called with every new token set
//!     .build()?;
//! match stored {
//!     Some(token) => client.oauth().set_token(token).await?,
//!     None => save(&client.oauth().generate_token("admin", "s3cret").await?),
//! }
//! let open: Vec<Record> = client.table("incident").list().limit(5).all().await?;
//! let current = client.oauth().token(); // the token in use, no I/O
//! client.oauth().revoke().await?;
//! # let _ = (open, current); Ok(()) }
//! ```
//!
//! # Guides
//!
//! - [From pysnow to snow](https://github.com/snow-rs/snow/blob/main/docs/from-pysnow.md):
//!   every pysnow scenario next to its snow form.
//! - [OAuth](https://github.com/snow-rs/snow/blob/main/docs/oauth.md): grants, the token
//!   cache, storing tokens.
//! - [Writing an authenticator](https://github.com/snow-rs/snow/blob/main/docs/writing-an-authenticator.md).
//! - Examples, each against a local instance (`cargo run -p snow-client --example <name>`):
//!   `quickstart`, `query_builder`, `attachments`, `oauth`, `tls_proxy` (TLS, a company CA,
//!   a proxy, timeouts), `blocking` (with `--features blocking`), `export`.
//!
//! # Parts
//!
//! - [`Client`]: one instance and one transport; [`Client::basic`] and friends for the common
//!   cases, [`Client::builder`] ([`ClientBuilder`]) for TLS, proxy, timeouts and the parameters
//!   and headers sent with every request, [`Client::from_env`] for `SNOW_*` variables,
//!   [`Client::oauth_client`] ([`OAuthClient`]) for OAuth with its tokens in reach,
//!   [`Client::with_auth`] for any [`Authenticator`](core::Authenticator), [`Client::new`]
//!   for a [`Transport`](transport::Transport) you built (your own layers or inner service).
//! - `blocking` (feature `blocking`): the same API for synchronous programs, on a runtime the
//!   client owns.
//! - [`table`]: [`Table`] with `get`, `list`, `create`, `update` (PATCH or PUT), `delete`,
//!   `update_where`/`delete_where`; each call carries its own parameters.
//! - [`list`]: the paging [`RecordStream`] (bounded memory, stable order, count check, keyset
//!   paging, concurrent pages, retry of cancelled transactions) and the buffered [`Page`];
//!   `one()`, `first()`, `one_or_none()`, `first_or_none()` and `all()` on both.
//! - [`resource`]: any API path, any method, extra query parameters and headers.
//! - [`attachment`]: list, upload (raw or multipart; from memory, a file or an async reader,
//!   streamed), streamed download checked against the instance's SHA-256 (or saved to a file
//!   whole or not at all), delete.
//! - [`aggregate`]: the Aggregate API: `count(query)`, means, minimums, maximums and totals,
//!   grouped with `having` and an order, numbers parsed from ServiceNow's strings.
//! - [`import_set`]: the Import Set API: load one row or many (split under the size limit)
//!   and get each row's transform outcome.
//! - [`batch`]: the Batch API: many requests of any kind in one round trip, unserviced ones
//!   resubmitted, large batches split; bulk update and delete by query with a per-record
//!   outcome.
//! - [`cmdb`]: the CMDB Instance API: CIs with their attributes and relations.
//! - [`query`]: the encoded-query builder. Conditions combine with `&` and `|`;
//!   a value that could widen the query (`^`, commas in `IN` lists, line breaks, `@` in ranges,
//!   stray `javascript:`) is escaped or refused with an error naming it, and any built query
//!   parses back into the same structure with [`query::Query::parse`].
//! - [`params`]: `sysparm_*` parameters as owned values, booleans lowercase. Get, list and
//!   write requests also take `.param(name, value)` and `.header(name, value)`; the
//!   `sysparm_*` names a typed setter owns are refused there ([`params::OWNED_PARAMS`]).
//! - [`record`]: a dynamic [`Record`] and the [`Field`] type for `sysparm_display_value=all`
//!   (value, display value, link), reading every shape the Table API sends.
//! - [`response`]: decoding an answer into the caller's serde type or one typed [`Error`]:
//!   ServiceNow's error envelope, a transaction cancelled mid-stream, a truncated body, the
//!   hibernation page, rate limiting and session rejection.
//! - [`Error`]: the crate's one error type, with [`Error::kind`] ([`ErrorKind`]),
//!   [`Error::is_retryable`] and [`Error::status`].
//!
//! Features: `basic` (re-exports snow-basic as [`basic`]) and `oauth` (snow-oauth as `oauth`)
//! are on by default; `blocking` adds the blocking client; `chrono` accepts chrono types in
//! queries; `native-roots` trusts the operating system's certificates.
//!
//! ```
//! use snow_client::params::{DisplayValue, ListParams};
//! use snow_client::query::field;
//!
//! let params = ListParams::new()
//!     .query(field("active").eq(true) & field("priority").le(2))
//!     .fields(["number", "caller_id.email"])
//!     .display_value(DisplayValue::All)
//!     .limit(100);
//! let pairs = params.to_pairs()?;
//! assert_eq!(pairs[0], ("sysparm_query", "active=true^priority<=2".to_owned()));
//! # Ok::<(), snow_client::Error>(())
//! ```

pub mod aggregate;
pub mod attachment;
pub mod batch;
#[cfg(feature = "blocking")]
pub mod blocking;
mod builder;
mod client;
pub mod cmdb;
mod env;
pub mod error;
pub mod import_set;
pub mod list;
#[cfg(feature = "oauth")]
mod oauth_client;
pub mod params;
pub mod query;
pub mod record;
mod request;
pub mod resource;
pub mod response;
mod sys_id;
pub mod table;
mod task;

pub use aggregate::Aggregate;
pub use attachment::{Attachment, Attachments};
pub use batch::{Batch, BatchItem};
pub use builder::ClientBuilder;
pub use client::Client;
pub use cmdb::Cmdb;
pub use error::{ConfigError, Error};
pub use import_set::ImportSet;
pub use list::{CountCheck, ListRequest, Page, PageOrder, Paging, RecordStream};
#[cfg(feature = "oauth")]
pub use oauth_client::{OAuthClient, OAuthClientBuilder, OAuthHandle};
pub use params::DisplayValue;
pub use record::{Field, FieldValue, Record};
pub use request::{BoxFuture, Retry};
pub use resource::{Resource, ResourceRequest, ResourceResponse};
pub use snow_core::{ErrorKind, Instance};
pub use sys_id::{InvalidSysId, SysId};
pub use table::Table;

/// snow-basic: Basic auth, API keys, bearer tokens.
#[cfg(feature = "basic")]
pub use snow_basic as basic;
/// snow-core: [`Instance`], the [`Authenticator`](snow_core::Authenticator) trait, secrets.
pub use snow_core as core;
/// snow-oauth: OAuth 2 grants and the token cache.
#[cfg(feature = "oauth")]
pub use snow_oauth as oauth;
/// snow-transport: [`Transport`](snow_transport::Transport), TLS, proxy, retry settings.
pub use snow_transport as transport;

/// Shortens a value quoted in an error message.
pub(crate) fn query_quote(s: &str) -> String {
    query::quote_for_error(s)
}
