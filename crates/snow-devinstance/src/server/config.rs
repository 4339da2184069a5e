//! Start-up configuration of a dev instance.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::faults::{FaultRule, RateLimitRule};

/// What a user may do through the Table and Attachment APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Everything, including deletes and the `/__dev/` admin API.
    Admin,
    /// Read every table; create and update records of the task tables (`task` and the
    /// tables extending it: `incident`, `problem`, `change_request`); writes to other
    /// tables and every delete are refused with 403.
    Itil,
    /// Read only; every write is refused with 403.
    Reader,
}

impl Role {
    /// Whether this role may create or update records of at least some tables (itil: the
    /// task tables only; see [`Role::can_write_table`]).
    pub fn can_write(self) -> bool {
        matches!(self, Role::Admin | Role::Itil)
    }

    /// Whether this role may delete records.
    pub fn can_delete(self) -> bool {
        matches!(self, Role::Admin)
    }

    /// Whether this role may create or update records of `table`: admin everywhere, itil
    /// only on `task` and the tables extending it, reader nowhere.
    ///
    /// ```
    /// use snow_devinstance::Role;
    /// assert!(Role::Itil.can_write_table("incident"));
    /// assert!(!Role::Itil.can_write_table("sys_user"));
    /// assert!(Role::Admin.can_write_table("sys_user"));
    /// assert!(!Role::Reader.can_write_table("incident"));
    /// ```
    pub fn can_write_table(self, table: &str) -> bool {
        match self {
            Role::Admin => true,
            Role::Itil => is_task_table(table),
            Role::Reader => false,
        }
    }
}

/// Whether `table` is `task` or extends it.
fn is_task_table(table: &str) -> bool {
    let schemas = crate::db::schema::schemas();
    match (schemas.table("task"), schemas.table(table)) {
        (Some(task), Some(t)) => task.family.contains(&t.id),
        _ => false,
    }
}

/// A user who may log in with HTTP Basic or the OAuth password grant.
#[derive(Clone)]
pub struct DevUser {
    /// The `user_name` (also the `sys_user` record looked up for the user's `sys_id`).
    pub name: String,
    /// The password.
    pub password: SecretString,
    /// What the user may do.
    pub role: Role,
}

impl DevUser {
    /// A user with a name, password and role.
    pub fn new(name: impl Into<String>, password: impl Into<String>, role: Role) -> Self {
        Self {
            name: name.into(),
            password: SecretString::from(password.into()),
            role,
        }
    }

    pub(crate) fn password_matches(&self, candidate: &str) -> bool {
        constant_time_eq(
            self.password.expose_secret().as_bytes(),
            candidate.as_bytes(),
        )
    }
}

impl fmt::Debug for DevUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevUser")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("role", &self.role)
            .finish()
    }
}

/// The OAuth client registered on the instance (Application Registry entry).
#[derive(Clone)]
pub struct OAuthClientConfig {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: SecretString,
    /// The user the `client_credentials` grant acts as ("OAuth Application User");
    /// `None` disables that grant, as on an instance without the system property.
    pub client_credentials_user: Option<String>,
    /// PEM public key (RSA or EC) that JWT-bearer assertions must be signed with;
    /// `None` disables the JWT-bearer grant.
    pub jwt_public_key_pem: Option<String>,
    /// Whether revoking an access token at `/oauth_revoke_token.do` also revokes the refresh
    /// token issued with it (and that refresh token's other access tokens). Off by default:
    /// only the token sent is marked expired, and the client can still refresh. Revoking a
    /// refresh token always revokes its access tokens too.
    pub revoke_refresh_with_access: bool,
}

impl fmt::Debug for OAuthClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClientConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("client_credentials_user", &self.client_credentials_user)
            .field("jwt_public_key_pem", &self.jwt_public_key_pem.is_some())
            .field(
                "revoke_refresh_with_access",
                &self.revoke_refresh_with_access,
            )
            .finish()
    }
}

impl Default for OAuthClientConfig {
    fn default() -> Self {
        Self {
            client_id: "snow-dev".to_owned(),
            client_secret: SecretString::from("snow-dev-secret".to_owned()),
            client_credentials_user: Some("admin".to_owned()),
            jwt_public_key_pem: None,
            revoke_refresh_with_access: false,
        }
    }
}

/// Everything a dev instance is started with. `DevConfig::default()` is what the binary runs
/// without options: plain HTTP on an ephemeral loopback port, 1,000 seeded incidents, users
/// `admin`/`admin`, `itil`/`itil`, `reader`/`reader`, OAuth client `snow-dev`/`snow-dev-secret`.
///
/// ```
/// use snow_devinstance::DevConfig;
/// let config = DevConfig { records: 50, tls: true, ..DevConfig::default() };
/// assert_eq!(config.port, 0);
/// ```
#[derive(Debug, Clone)]
pub struct DevConfig {
    /// Address to bind; loopback by default.
    pub bind: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Incident rows to seed (other tables are sized proportionally).
    pub records: usize,
    /// Seed of the deterministic data generator and fault dice.
    pub seed: u64,
    /// Serve HTTPS with a certificate generated at start.
    pub tls: bool,
    /// PEM of the CA certificate(s) client certificates must be issued by: the TLS listener
    /// then requires a client certificate and verifies it (mutual TLS). Implies `tls`.
    pub client_ca_pem: Option<String>,
    /// Directory the state lives in: every acknowledged write is logged there before it is
    /// answered, and a snapshot is written at start, at shutdown and periodically.
    pub data_dir: Option<PathBuf>,
    /// Also write a snapshot to `data_dir` this often (not only at shutdown or when the log
    /// grows past `compact_log_bytes`).
    pub persist_every: Option<Duration>,
    /// Access-token lifetime.
    pub access_token_ttl: Duration,
    /// Refresh-token lifetime.
    pub refresh_token_ttl: Duration,
    /// Users who may log in.
    pub users: Vec<DevUser>,
    /// The registered OAuth client.
    pub oauth: OAuthClientConfig,
    /// Largest accepted request body for JSON APIs (ServiceNow's `glide.rest.max_content_length`).
    pub max_body_bytes: usize,
    /// Largest accepted attachment upload.
    pub max_attachment_bytes: usize,
    /// Most attachment bytes stored in all (in memory, or on disk with `data_dir`); uploads
    /// past it are refused.
    pub max_attachment_total_bytes: usize,
    /// With `data_dir`: compact (write a snapshot, drop the log) once the log holds this many
    /// bytes.
    pub compact_log_bytes: u64,
    /// Faults active from the start.
    pub faults: Vec<FaultRule>,
    /// Rate-limit rules active from the start.
    pub rate_limits: Vec<RateLimitRule>,
    /// Requests kept in the request log (oldest dropped first).
    pub request_log_capacity: usize,
    /// Bytes the request log may hold (oldest entries dropped first; see
    /// [`crate::LoggedRequest`] for the bound on one entry).
    pub request_log_max_bytes: usize,
    /// Batch API: the requests of one batch past this many are not run but listed in
    /// `unserviced_requests`, as a real instance does when a batch hits its time or size quota.
    pub batch_max_requests: usize,
}

impl Default for DevConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            records: 1000,
            seed: 1,
            tls: false,
            client_ca_pem: None,
            data_dir: None,
            persist_every: None,
            access_token_ttl: Duration::from_secs(1800),
            refresh_token_ttl: Duration::from_secs(8_640_000),
            users: vec![
                DevUser::new("admin", "admin", Role::Admin),
                DevUser::new("itil", "itil", Role::Itil),
                DevUser::new("reader", "reader", Role::Reader),
            ],
            oauth: OAuthClientConfig::default(),
            max_body_bytes: 10 * 1024 * 1024,
            max_attachment_bytes: 64 * 1024 * 1024,
            max_attachment_total_bytes: 256 * 1024 * 1024,
            compact_log_bytes: 64 * 1024 * 1024,
            faults: Vec::new(),
            rate_limits: Vec::new(),
            request_log_capacity: 10_000,
            request_log_max_bytes: 16 * 1024 * 1024,
            batch_max_requests: 100,
        }
    }
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
