//! A local ServiceNow-compatible instance for developing and testing integrations offline.
//!
//! It serves the Table, Attachment, Aggregate, Import Set, Batch and CMDB Instance APIs,
//! `/oauth_token.do` and friends over plain HTTP or HTTPS on loopback, with seeded data,
//! users, token lifetimes, injected faults and introspection for tests. The wire behaviour follows what a real ServiceNow instance sends.
//!
//! Defaults, all overridable in [`DevConfig`]:
//!
//! | what | default |
//! |---|---|
//! | users | `admin`/`admin` (admin), `itil`/`itil` (reads everything, writes task tables, never deletes), `reader`/`reader` (read only) |
//! | OAuth client | id `snow-dev`, secret `snow-dev-secret` |
//! | token lifetimes | access 1800 s, refresh 8,640,000 s |
//! | request-body limit | 10 MB (`glide.rest.max_content_length`) |
//!
//! ```no_run
//! # async fn demo() -> Result<(), snow_devinstance::Error> {
//! use snow_devinstance::{DevConfig, DevInstance, FaultKind, FaultRule, Trigger};
//!
//! let instance = DevInstance::start(DevConfig { records: 200, ..DevConfig::default() }).await?;
//! let url = format!("{}/api/now/table/incident?sysparm_limit=5", instance.base_url());
//! // ... point a client at `url` with Basic admin:admin ...
//! instance
//!     .admin()
//!     .add_fault(FaultRule::new(FaultKind::Semaphore, Trigger::EveryNth { n: 2 }));
//! assert_eq!(instance.admin().counters().requests_to("/api/now/table/incident"), 0);
//! instance.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod db;
mod server;

pub use server::config::{DevConfig, DevUser, OAuthClientConfig, Role};
pub use server::faults::{FaultKind, FaultRule, RateLimitRule, RateLimitSpecError, Trigger};
pub use server::introspect::{Counters, LoggedRequest, MemoryUse, OTHER_PATHS};
pub use server::{Admin, DevInstance, Error};
