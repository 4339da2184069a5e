//! Test control: the [`Admin`] handle and its HTTP form under `/__dev/` (admin users only),
//! a path no real instance has.
//!
//! | Method and path | Body | Effect |
//! |---|---|---|
//! | `GET /__dev/counters`, `DELETE` | | counters as JSON; reset |
//! | `GET /__dev/requests`, `DELETE` | | the request log; clear |
//! | `GET /__dev/memory` | | what the request log, counters and attachments hold ([`MemoryUse`]) |
//! | `GET /__dev/faults`, `PUT` (array), `POST` (one rule), `DELETE` | [`FaultRule`] JSON | list, replace, add, clear |
//! | `GET /__dev/rate_limits`, `PUT` (array), `POST` (one rule), `DELETE` | [`RateLimitRule`] JSON | list, replace, add, clear the rate-limit rules |
//! | `PUT /__dev/token_ttl` | `{"access_secs":n,"refresh_secs":n}` | token lifetimes for new tokens |
//! | `POST /__dev/revoke` | `{"user":"itil"}` or `{}` | expire the user's (or all) tokens |
//! | `PUT /__dev/clock` | `{"skew_secs":n}` | shift the instance clock |
//! | `POST /__dev/api_keys` | `{"user":"itil"}` | mint an API key → `{"result":{"key":…}}` |
//! | `DELETE /__dev/api_keys` | `{"key":"…"}`, `{"user":"itil"}` or `{}` | revoke one key, a user's keys, or all → `{"result":{"revoked":n}}` |
//! | `PUT /__dev/oauth_revocation` | `{"refresh_with_access":true}` | revoking an access token also revokes its refresh token |
//! | `PUT /__dev/client_ca` | `{"pem":"-----BEGIN CERTIFICATE-----…"}` or `{"pem":null}` | require client certificates from that CA on new TLS connections, or stop |
//! | `PUT /__dev/hibernate` | `{"on":true}` | hibernate every path (except `/__dev/`) |
//! | `POST /__dev/persist` | | write a snapshot to the data directory now |

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::Error;
use super::faults::{FaultKind, FaultRule, RateLimitRule, Trigger};
use super::introspect::{Counters, LoggedRequest, MemoryUse};
use super::request::Req;
use super::respond::{self, Resp};
use super::state::State;
use crate::db::Db;

/// Control over a running instance, for tests: counters, the request log, faults, rate
/// limits, token lifetimes and revocation, the clock, API keys and the data itself.
#[derive(Debug, Clone)]
pub struct Admin {
    state: Arc<State>,
}

impl Admin {
    pub(crate) fn new(state: Arc<State>) -> Self {
        Self { state }
    }

    /// Requests by path and status, token grants by type.
    pub fn counters(&self) -> Counters {
        self.state.counters()
    }

    /// Set all counters back to zero.
    pub fn reset_counters(&self) {
        self.state.reset_counters();
    }

    /// The logged requests, oldest first, credentials redacted.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.state.request_log()
    }

    /// Forget the logged requests.
    pub fn clear_request_log(&self) {
        self.state.clear_request_log();
    }

    /// What the request log, the counters and the attachment store hold, against their caps.
    pub fn memory(&self) -> MemoryUse {
        self.state.memory()
    }

    /// The active fault rules.
    pub fn faults(&self) -> Vec<FaultRule> {
        self.state.faults().rules()
    }

    /// Replace the fault rules (hit counters start again).
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.state.faults().set_rules(rules);
    }

    /// Add one fault rule.
    pub fn add_fault(&self, rule: FaultRule) {
        self.state.faults().add_rule(rule);
    }

    /// Remove every fault rule.
    pub fn clear_faults(&self) {
        self.state.faults().set_rules(Vec::new());
    }

    /// Put the instance into (or out of) hibernation: every path but `/__dev/` answers the
    /// hibernation page.
    pub fn hibernate(&self, on: bool) {
        let mut faults = self.state.faults();
        let mut rules: Vec<FaultRule> = faults
            .rules()
            .into_iter()
            .filter(|r| r.fault != FaultKind::Hibernate)
            .collect();
        if on {
            rules.push(FaultRule::new(FaultKind::Hibernate, Trigger::Always));
        }
        faults.set_rules(rules);
    }

    /// The rate-limit rules, with their sys_ids.
    pub fn rate_limits(&self) -> Vec<RateLimitRule> {
        self.state.faults().rate_limits.clone()
    }

    /// Replace the rate-limit rules (windows start again).
    pub fn set_rate_limits(&self, rules: Vec<RateLimitRule>) {
        self.state.faults().set_rate_limits(rules);
    }

    /// Add one rate-limit rule (after the others: a user's first rule is the one applied).
    pub fn add_rate_limit(&self, rule: RateLimitRule) {
        self.state.faults().add_rate_limit(rule);
    }

    /// Remove every rate-limit rule.
    pub fn clear_rate_limits(&self) {
        self.state.faults().set_rate_limits(Vec::new());
    }

    /// Lifetimes of tokens issued from now on; `None` keeps the current one.
    pub fn set_token_ttls(&self, access: Option<Duration>, refresh: Option<Duration>) {
        self.state.set_ttls(access, refresh);
    }

    /// Expire every access and refresh token of `user` (all users with `None`); returns how many.
    pub fn revoke_tokens(&self, user: Option<&str>) -> usize {
        self.state.tokens().revoke_user(user)
    }

    /// Expire one access or refresh token as `/oauth_revoke_token.do` does (a refresh token
    /// takes its access tokens along; see [`Admin::set_revoke_refresh_with_access`]); returns
    /// whether it existed.
    pub fn revoke_token(&self, token: &str) -> bool {
        let cascade = self.state.revoke_refresh_with_access();
        self.state.tokens().revoke(token, cascade)
    }

    /// Whether revoking an access token also revokes the refresh token issued with it (and
    /// so that refresh token's other access tokens). Starts as
    /// `OAuthClientConfig::revoke_refresh_with_access` (off).
    pub fn set_revoke_refresh_with_access(&self, on: bool) {
        self.state.set_revoke_refresh_with_access(on);
    }

    /// Require client certificates issued by a CA in `pem` on every new TLS connection
    /// (mutual TLS), or stop requiring them with `None`. Connections already open are kept.
    ///
    /// # Errors
    /// [`Error::Tls`] when the instance serves plain HTTP or the PEM holds no usable CA.
    pub fn set_client_ca(&self, pem: Option<&str>) -> Result<(), Error> {
        match &self.state.tls {
            Some(tls) => tls.set_client_ca(pem),
            None => Err(Error::Tls(
                "the instance serves plain HTTP; start it with TLS to require client certificates"
                    .to_owned(),
            )),
        }
    }

    /// Forget an API key: requests with it get 401 from now on. Returns whether it existed.
    pub fn revoke_api_key(&self, key: &str) -> bool {
        self.state.tokens().revoke_api_key(key)
    }

    /// Forget every API key of `user` (of everyone with `None`); returns how many.
    pub fn revoke_api_keys(&self, user: Option<&str>) -> usize {
        self.state.tokens().revoke_api_keys(user)
    }

    /// Shift the instance clock (token expiry, `sys_updated_on`, `javascript:` dates) by
    /// `secs` seconds, forward when positive.
    pub fn set_clock_skew_secs(&self, secs: i64) {
        self.state
            .set_clock_skew(Duration::from_secs(secs.unsigned_abs()), secs >= 0);
    }

    /// The current clock shift in seconds.
    pub fn clock_skew_secs(&self) -> i64 {
        self.state.clock_skew_ms() / 1000
    }

    /// Mint an API key (for `x-sn-apikey`) bound to `user`.
    ///
    /// # Errors
    /// [`Error::UnknownUser`] when the instance has no such user.
    pub fn mint_api_key(&self, user: &str) -> Result<String, Error> {
        if self.state.user(user).is_none() {
            return Err(Error::UnknownUser(user.to_owned()));
        }
        let key = super::tokens::random_hex(32);
        self.state
            .tokens()
            .api_keys
            .insert(key.clone(), user.to_owned());
        Ok(key)
    }

    /// Run `f` with the database locked for reading.
    pub fn read_db<R>(&self, f: impl FnOnce(&Db) -> R) -> R {
        f(&self.state.db())
    }

    /// Run `f` with the database locked for writing. Changes made here are not logged: with a
    /// data directory they reach the disk with the next snapshot ([`Admin::persist`],
    /// shutdown, or a periodic one).
    pub fn write_db<R>(&self, f: impl FnOnce(&mut Db) -> R) -> R {
        f(&mut self.state.db_mut())
    }

    /// Write a snapshot to the data directory now and drop the log it covers (a no-op
    /// without a data directory). Writes through the HTTP APIs are on disk anyway; this also
    /// saves changes made with [`Admin::write_db`], which are not logged.
    ///
    /// # Errors
    /// [`Error::Data`] when writing fails.
    pub fn persist(&self) -> Result<(), Error> {
        super::data_dir::compact(&self.state)
    }
}

#[derive(Deserialize)]
struct TtlBody {
    access_secs: Option<u64>,
    refresh_secs: Option<u64>,
}

#[derive(Deserialize)]
struct UserBody {
    user: Option<String>,
}

#[derive(Deserialize)]
struct KeyBody {
    key: Option<String>,
    user: Option<String>,
}

#[derive(Deserialize)]
struct ClientCaBody {
    pem: Option<String>,
}

#[derive(Deserialize)]
struct RevocationBody {
    refresh_with_access: bool,
}

#[derive(Deserialize)]
struct ClockBody {
    skew_secs: i64,
}

#[derive(Deserialize)]
struct OnBody {
    on: bool,
}

async fn body<T: serde::de::DeserializeOwned>(req: &mut Req) -> Result<T, Resp> {
    let bytes = req.read_body().await?;
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        bytes::Bytes::from_static(b"{}")
    } else {
        bytes
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        respond::bad_request(
            "Exception while reading request",
            &format!("Invalid admin body: {e}"),
        )
    })
}

fn ok() -> Resp {
    respond::result(StatusCode::OK, &json!({"status": "ok"}))
}

/// The `/__dev/` admin API. Only admin users get in.
pub(crate) async fn http(req: &mut Req, rest: &str) -> Resp {
    match &req.caller {
        None => return respond::unauthorized(),
        Some(c) if c.role != super::config::Role::Admin => {
            return respond::error(
                StatusCode::FORBIDDEN,
                "User Not Authorized",
                Some("The dev-instance admin API needs the admin role"),
            );
        }
        Some(_) => {}
    }
    let admin = Admin::new(req.state.clone());
    let to_json = |v: serde_json::Result<serde_json::Value>| match v {
        Ok(v) => respond::result(StatusCode::OK, &v),
        Err(e) => respond::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Serialization failed",
            Some(&e.to_string()),
        ),
    };
    let outcome: Result<Resp, Resp> = async {
        Ok(match (req.method.clone(), rest.trim_end_matches('/')) {
            (Method::GET, "counters") => to_json(serde_json::to_value(admin.counters())),
            (Method::DELETE, "counters") => {
                admin.reset_counters();
                ok()
            }
            (Method::GET, "requests") => to_json(serde_json::to_value(admin.request_log())),
            (Method::DELETE, "requests") => {
                admin.clear_request_log();
                ok()
            }
            (Method::GET, "memory") => to_json(serde_json::to_value(admin.memory())),
            (Method::GET, "faults") => to_json(serde_json::to_value(admin.faults())),
            (Method::PUT, "faults") => {
                admin.set_faults(body(req).await?);
                ok()
            }
            (Method::POST, "faults") => {
                admin.add_fault(body(req).await?);
                ok()
            }
            (Method::DELETE, "faults") => {
                admin.clear_faults();
                ok()
            }
            (Method::GET, "rate_limits") => to_json(serde_json::to_value(admin.rate_limits())),
            (Method::PUT, "rate_limits") => {
                admin.set_rate_limits(body(req).await?);
                ok()
            }
            (Method::POST, "rate_limits") => {
                admin.add_rate_limit(body(req).await?);
                ok()
            }
            (Method::DELETE, "rate_limits") => {
                admin.clear_rate_limits();
                ok()
            }
            (Method::PUT, "token_ttl") => {
                let b: TtlBody = body(req).await?;
                admin.set_token_ttls(
                    b.access_secs.map(Duration::from_secs),
                    b.refresh_secs.map(Duration::from_secs),
                );
                ok()
            }
            (Method::POST, "revoke") => {
                let b: UserBody = body(req).await?;
                let n = admin.revoke_tokens(b.user.as_deref());
                respond::result(StatusCode::OK, &json!({ "revoked": n }))
            }
            (Method::PUT, "clock") => {
                let b: ClockBody = body(req).await?;
                admin.set_clock_skew_secs(b.skew_secs);
                ok()
            }
            (Method::POST, "api_keys") => {
                let b: UserBody = body(req).await?;
                let user = b.user.unwrap_or_default();
                match admin.mint_api_key(&user) {
                    Ok(key) => {
                        respond::result(StatusCode::CREATED, &json!({ "key": key, "user": user }))
                    }
                    Err(e) => respond::bad_request("Unknown user", &e.to_string()),
                }
            }
            (Method::DELETE, "api_keys") => {
                let b: KeyBody = body(req).await?;
                let n = match (&b.key, &b.user) {
                    (Some(key), _) => usize::from(admin.revoke_api_key(key)),
                    (None, user) => admin.revoke_api_keys(user.as_deref()),
                };
                respond::result(StatusCode::OK, &json!({ "revoked": n }))
            }
            (Method::PUT, "oauth_revocation") => {
                let b: RevocationBody = body(req).await?;
                admin.set_revoke_refresh_with_access(b.refresh_with_access);
                ok()
            }
            (Method::PUT, "client_ca") => {
                let b: ClientCaBody = body(req).await?;
                match admin.set_client_ca(b.pem.as_deref()) {
                    Ok(()) => ok(),
                    Err(e) => respond::bad_request("Invalid client CA", &e.to_string()),
                }
            }
            (Method::PUT, "hibernate") => {
                let b: OnBody = body(req).await?;
                admin.hibernate(b.on);
                ok()
            }
            (Method::POST, "persist") => match admin.persist() {
                Ok(()) => ok(),
                Err(e) => respond::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Persist failed",
                    Some(&e.to_string()),
                ),
            },
            _ => respond::unknown_resource(),
        })
    }
    .await;
    outcome.unwrap_or_else(|r| r)
}
