//! The JWT-bearer grant's assertion, built and signed here from a PEM private key.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde::Serialize;

use crate::OAuthError;

/// The signature algorithm of a JWT-bearer assertion.
///
/// ServiceNow accepts RS/ES 256/384/512 signatures on a JWT-bearer assertion; the ones here are
/// those the signing backend offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (an RSA key).
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (an RSA key).
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (an RSA key).
    RS512,
    /// RSASSA-PSS with SHA-256 (an RSA key).
    PS256,
    /// ECDSA on P-256 with SHA-256 (a P-256 key).
    ES256,
    /// ECDSA on P-384 with SHA-384 (a P-384 key).
    ES384,
}

impl JwtAlgorithm {
    fn to_jwt(self) -> Algorithm {
        match self {
            JwtAlgorithm::RS256 => Algorithm::RS256,
            JwtAlgorithm::RS384 => Algorithm::RS384,
            JwtAlgorithm::RS512 => Algorithm::RS512,
            JwtAlgorithm::PS256 => Algorithm::PS256,
            JwtAlgorithm::ES256 => Algorithm::ES256,
            JwtAlgorithm::ES384 => Algorithm::ES384,
        }
    }

    fn is_rsa(self) -> bool {
        !matches!(self, JwtAlgorithm::ES256 | JwtAlgorithm::ES384)
    }
}

/// How to build the assertion of the JWT-bearer grant
/// (`urn:ietf:params:oauth:grant-type:jwt-bearer`), signed with a private key.
///
/// The assertion carries `iss` and `aud` (both the OAuth client id unless set), `sub` (the user,
/// matched by the "User Field" of ServiceNow's JWT provider), `exp` (now + lifetime), `iat` and
/// `nbf` (now minus the clock skew, so a server whose clock is slightly behind still accepts it),
/// a unique `jti`, and `kid` in the header if set. A fresh assertion is signed for every token
/// request.
///
/// Keys are PEM: RSA keys as PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`),
/// EC keys as PKCS#8. The key is checked against the algorithm when loaded. `Debug` shows no key.
///
/// ```no_run
/// use std::time::Duration;
/// use snow_oauth::{JwtAlgorithm, JwtBearer};
///
/// let pem = std::fs::read("jwt-key.pem")?;
/// let jwt = JwtBearer::from_pem(JwtAlgorithm::RS256, &pem, "integration.user")?
///     .key_id("snow-key-1")
///     .lifetime(Duration::from_secs(120));
/// let assertion = jwt.sign_assertion("my-client-id")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JwtBearer {
    algorithm: JwtAlgorithm,
    key: EncodingKey,
    subject: String,
    issuer: Option<String>,
    audience: Option<String>,
    key_id: Option<String>,
    lifetime: Duration,
    clock_skew: Duration,
}

impl fmt::Debug for JwtBearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtBearer")
            .field("algorithm", &self.algorithm)
            .field("key", &"[REDACTED]")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("key_id", &self.key_id)
            .field("lifetime", &self.lifetime)
            .field("clock_skew", &self.clock_skew)
            .finish()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    iat: u64,
    nbf: u64,
    jti: String,
}

static JTI_COUNTER: AtomicU64 = AtomicU64::new(0);

impl JwtBearer {
    /// The default assertion lifetime: 5 minutes.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
    /// The default clock skew allowance (how far `iat`/`nbf` are backdated): 60 seconds.
    pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);

    /// Load a PEM private key for `algorithm`, for assertions about `subject` (the user).
    ///
    /// Fails with [`OAuthError::Jwt`] if the PEM is not a private key of that algorithm's kind,
    /// or cannot sign with it (a P-384 key with `ES256`, say).
    pub fn from_pem(
        algorithm: JwtAlgorithm,
        pem: &[u8],
        subject: impl Into<String>,
    ) -> Result<Self, OAuthError> {
        let key = if algorithm.is_rsa() {
            EncodingKey::from_rsa_pem(pem)
        } else {
            EncodingKey::from_ec_pem(pem)
        }
        .map_err(|e| OAuthError::Jwt {
            message: format!("the private key is not a usable {algorithm:?} PEM key ({e})"),
        })?;
        let jwt = JwtBearer {
            algorithm,
            key,
            subject: subject.into(),
            issuer: None,
            audience: None,
            key_id: None,
            lifetime: Self::DEFAULT_LIFETIME,
            clock_skew: Self::DEFAULT_CLOCK_SKEW,
        };
        // Prove the key signs with this algorithm now, not at the first token request.
        jwt.sign_assertion("probe")?;
        Ok(jwt)
    }

    /// Set `iss` (default: the OAuth client id).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Set `aud` (default: the OAuth client id, as ServiceNow expects).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Set `kid` in the JWT header (the key id the JWT provider's verifier is configured with).
    pub fn key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    /// How long each assertion is valid (`exp` = now + lifetime). Default 5 minutes.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// How far `iat` and `nbf` are set before now, for servers whose clock is behind. Default 60 s.
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// The subject (`sub`).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The algorithm.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    /// Build and sign a fresh assertion; `client_id` is used for `iss` and `aud` where they are
    /// not set.
    pub fn sign_assertion(&self, client_id: &str) -> Result<SecretString, OAuthError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| OAuthError::Jwt {
                message: "the system clock is before 1970".into(),
            })?;
        let seq = JTI_COUNTER.fetch_add(1, Ordering::Relaxed);
        let claims = Claims {
            iss: self.issuer.as_deref().unwrap_or(client_id),
            sub: &self.subject,
            aud: self.audience.as_deref().unwrap_or(client_id),
            exp: now.as_secs().saturating_add(self.lifetime.as_secs()),
            iat: now.as_secs().saturating_sub(self.clock_skew.as_secs()),
            nbf: now.as_secs().saturating_sub(self.clock_skew.as_secs()),
            jti: format!("{:x}-{:x}-{seq:x}", now.as_nanos(), std::process::id()),
        };
        let mut header = Header::new(self.algorithm.to_jwt());
        header.kid = self.key_id.clone();
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(SecretString::from)
            .map_err(|e| OAuthError::Jwt {
                message: format!("signing with {:?} failed ({e})", self.algorithm),
            })
    }
}
