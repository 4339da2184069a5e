//! [`TokenSet`]: an access token with its refresh token, expiry and scope.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use snow_core::credential::Credential;

/// An OAuth token set as issued by the token endpoint: access token, optional refresh token,
/// expiry, scope and token type.
///
/// It serialises with serde (for the caller's own storage; [`FileTokenStore`](crate::FileTokenStore)
/// uses it), with `expires_at` as whole seconds since the Unix epoch. Deserialising also accepts
/// what pysnow's `token_updater` received: a fractional `expires_at` and a list `scope`; unknown
/// fields such as `expires_in` are ignored.
///
/// Its `Debug` and `Display` show no token.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use snow_oauth::TokenSet;
///
/// let t = TokenSet::new("access-abc")
///     .with_refresh_token("refresh-def")
///     .with_expires_at(SystemTime::now() + Duration::from_secs(1800))
///     .with_scope("useraccount");
/// let json = serde_json::to_string(&t)?;
/// let back: TokenSet = serde_json::from_str(&json)?;
/// assert_eq!(back.access_token_str(), "access-abc");
/// assert!(!format!("{t:?} {t}").contains("abc"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenSet {
    #[serde(serialize_with = "ser_secret")]
    access_token: SecretString,
    #[serde(
        default,
        serialize_with = "ser_opt_secret",
        skip_serializing_if = "Option::is_none"
    )]
    refresh_token: Option<SecretString>,
    #[serde(
        default,
        serialize_with = "ser_time",
        deserialize_with = "de_time",
        skip_serializing_if = "Option::is_none"
    )]
    expires_at: Option<SystemTime>,
    #[serde(
        default,
        deserialize_with = "de_scope",
        skip_serializing_if = "Option::is_none"
    )]
    scope: Option<String>,
    #[serde(default = "bearer")]
    token_type: String,
}

fn bearer() -> String {
    "Bearer".to_owned()
}

impl TokenSet {
    /// A token set holding only an access token (type `Bearer`, no expiry known).
    pub fn new(access_token: impl Into<SecretString>) -> Self {
        TokenSet {
            access_token: access_token.into(),
            refresh_token: None,
            expires_at: None,
            scope: None,
            token_type: bearer(),
        }
    }

    /// A token set holding only a refresh token: its access token is empty and already expired,
    /// so the first use refreshes it. This is how to start from a stored refresh token alone.
    pub fn from_refresh_token(refresh_token: impl Into<SecretString>) -> Self {
        TokenSet::new(String::new())
            .with_refresh_token(refresh_token)
            .with_expires_at(UNIX_EPOCH)
    }

    /// Set the refresh token.
    pub fn with_refresh_token(mut self, refresh_token: impl Into<SecretString>) -> Self {
        self.refresh_token = Some(refresh_token.into());
        self
    }

    /// Set the moment the access token expires.
    pub fn with_expires_at(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Set the scope.
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Set the token type (`Bearer` unless told otherwise).
    pub fn with_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token_type = token_type.into();
        self
    }

    /// The access token.
    pub fn access_token(&self) -> &SecretString {
        &self.access_token
    }

    /// The access token as a string slice, for putting it on the wire yourself.
    pub fn access_token_str(&self) -> &str {
        self.access_token.expose_secret()
    }

    /// The refresh token, if the endpoint issued one.
    pub fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh_token.as_ref()
    }

    /// When the access token expires, if the endpoint said.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The scope granted (`useraccount` on ServiceNow).
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The token type (`Bearer`).
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// Whether the access token is expired, or will be within `skew`. A token with no known
    /// expiry never expires by time (only a 401 retires it); an empty access token is always
    /// expired.
    pub fn is_expired(&self, skew: Duration) -> bool {
        if self.access_token.expose_secret().is_empty() {
            return true;
        }
        match self.expires_at {
            Some(at) => SystemTime::now()
                .checked_add(skew)
                .is_none_or(|limit| limit >= at),
            None => false,
        }
    }

    pub(crate) fn set_refresh_token(&mut self, refresh_token: Option<SecretString>) {
        self.refresh_token = refresh_token;
    }
}

/// The access token is what goes on requests (`Authorization: Bearer <access token>`), and
/// what tells one token set from another: ServiceNow hands back the current access token for a
/// grant made within its lifetime.
impl Credential for TokenSet {
    fn secret(&self) -> &str {
        self.access_token.expose_secret()
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"[REDACTED]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("expires_at", &self.expires_at.map(unix_seconds))
            .field("scope", &self.scope)
            .field("token_type", &self.token_type)
            .finish()
    }
}

impl fmt::Display for TokenSet {
    /// `Bearer token (with refresh token), expires at 1767225600 (unix)`: no token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} token", self.token_type)?;
        if self.refresh_token.is_some() {
            f.write_str(" (with refresh token)")?;
        }
        match self.expires_at {
            Some(at) => write!(f, ", expires at {} (unix)", unix_seconds(at)),
            None => f.write_str(", expiry unknown"),
        }
    }
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn ser_secret<S: Serializer>(s: &SecretString, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.expose_secret())
}

fn ser_opt_secret<S: Serializer>(s: &Option<SecretString>, ser: S) -> Result<S::Ok, S::Error> {
    match s {
        Some(s) => ser.serialize_some(s.expose_secret()),
        None => ser.serialize_none(),
    }
}

fn ser_time<S: Serializer>(t: &Option<SystemTime>, ser: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ser.serialize_some(&unix_seconds(*t)),
        None => ser.serialize_none(),
    }
}

fn de_time<'de, D: Deserializer<'de>>(de: D) -> Result<Option<SystemTime>, D::Error> {
    let Some(secs) = Option::<f64>::deserialize(de)? else {
        return Ok(None);
    };
    if !secs.is_finite() || !(0.0..=1e12).contains(&secs) {
        return Err(serde::de::Error::custom(
            "expires_at must be seconds since the Unix epoch",
        ));
    }
    Ok(Some(UNIX_EPOCH + Duration::from_secs_f64(secs)))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ScopeRepr {
    One(String),
    Many(Vec<String>),
}

fn de_scope<'de, D: Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<ScopeRepr>::deserialize(de)?.map(|s| match s {
        ScopeRepr::One(s) => s,
        ScopeRepr::Many(v) => v.join(" "),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy as _;

    #[test]
    fn serde_round_trip_and_pysnow_shape() {
        let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let t = TokenSet::new("AT")
            .with_refresh_token("RT")
            .with_expires_at(at)
            .with_scope("useraccount");
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"access_token":"AT","refresh_token":"RT","expires_at":1_800_000_000u64,
                               "scope":"useraccount","token_type":"Bearer"})
        );
        // What pysnow's token_updater was handed.
        let py: TokenSet = serde_json::from_str(
            r#"{"access_token":"AT","refresh_token":"RT","token_type":"Bearer",
                "scope":["useraccount"],"expires_in":1799,"expires_at":1800000000.25}"#,
        )
        .unwrap();
        assert_eq!(py.scope(), Some("useraccount"));
        assert_eq!(unix_seconds(py.expires_at().unwrap()), 1_800_000_000);
        assert!(
            serde_json::from_str::<TokenSet>(r#"{"access_token":"A","expires_at":-1}"#).is_err()
        );
        let min: TokenSet = serde_json::from_str(r#"{"access_token":"A"}"#).unwrap();
        assert_eq!(min.token_type(), "Bearer");
        assert!(min.refresh_token().is_none());
    }

    #[test]
    fn expiry_with_skew() {
        let t = TokenSet::new("A").with_expires_at(SystemTime::now() + Duration::from_secs(100));
        assert!(!t.is_expired(Duration::from_secs(60)));
        assert!(t.is_expired(Duration::from_secs(120)));
        assert!(!TokenSet::new("A").is_expired(Duration::from_secs(60)));
        assert!(TokenSet::from_refresh_token("R").is_expired(Duration::ZERO));
    }

    proptest::proptest! {
        /// A token file (or a caller's storage) holding anything: no panic, and an error that
        /// names no value. `expires_at` at any magnitude, sign or fraction is refused or read.
        #[test]
        fn any_stored_json_is_read_or_refused(
            expires_at in proptest::prop_oneof![
                proptest::num::f64::ANY.prop_map(|f| f.to_string()),
                "[0-9]{1,400}",
                proptest::prelude::Just("\"soon\"".to_owned()),
            ],
            scope in proptest::prop_oneof![
                proptest::prelude::Just("\"useraccount\"".to_owned()),
                proptest::prelude::Just("[\"a\",\"b\"]".to_owned()),
                proptest::prelude::Just("42".to_owned()),
            ],
        ) {
            let json = format!(
                r#"{{"access_token":"AT-SECRET-1","refresh_token":"RT-SECRET-2","expires_at":{expires_at},"scope":{scope}}}"#
            );
            match serde_json::from_str::<TokenSet>(&json) {
                Ok(t) => proptest::prop_assert_eq!(t.access_token_str(), "AT-SECRET-1"),
                Err(e) => proptest::prop_assert!(!e.to_string().contains("SECRET"), "{}", e),
            }
        }
    }

    #[test]
    fn debug_and_display_hide_tokens() {
        let t = TokenSet::new("secret-access")
            .with_refresh_token("secret-refresh")
            .with_expires_at(UNIX_EPOCH + Duration::from_secs(5));
        let out = format!("{t:?} {t} {t:#?}");
        assert!(!out.contains("secret-"), "{out}");
        assert!(out.contains("REDACTED"));
        assert!(t.to_string().contains("expires at 5 (unix)"));
    }
}
