//! `/oauth_token.do` and `/oauth_revoke_token.do`.

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use secrecy::ExposeSecret;

use super::auth::basic_credentials;
use super::config::constant_time_eq;
use super::respond::{self, Resp, quote};
use super::state::State;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Answer a token request. Every failure is the same 401 `access_denied` body.
pub(crate) fn token(state: &State, headers: &HeaderMap, body: &Bytes) -> Resp {
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    match grant(state, headers, &form) {
        Some((grant_name, user, client, with_refresh)) => {
            let now = state.now_ms();
            let mut tokens = state.tokens();
            let refresh = with_refresh
                .then(|| tokens.refresh_for(&user, &client, now, state.refresh_ttl_ms()));
            let (access, expires_at) = tokens.access_for(
                &user,
                &client,
                refresh.as_deref(),
                now,
                state.access_ttl_ms(),
            );
            drop(tokens);
            state.count_grant(grant_name);
            let expires_in = (expires_at.saturating_sub(now).saturating_sub(1) / 1000).max(0);
            let refresh_member = refresh
                .map(|r| format!("\"refresh_token\":{},", quote(&r)))
                .unwrap_or_default();
            let body = format!(
                "{{\"scope\":\"useraccount\",\"token_type\":\"Bearer\",\"expires_in\":{expires_in},{refresh_member}\"access_token\":{}}}",
                quote(&access)
            );
            respond::json(StatusCode::OK, body)
        }
        None => respond::oauth_denied(),
    }
}

/// (grant counter name, user, client id, issue a refresh token?)
fn grant(
    state: &State,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Option<(&'static str, String, String, bool)> {
    let cfg = &state.config.oauth;
    // Client authentication: form fields or HTTP Basic (requests-oauthlib sends Basic).
    let basic = basic_credentials(headers);
    let client_id = form
        .get("client_id")
        .cloned()
        .or_else(|| basic.as_ref().map(|(u, _)| u.clone()));
    let client_secret = form
        .get("client_secret")
        .cloned()
        .or_else(|| basic.as_ref().map(|(_, p)| p.clone()));
    let client_ok = client_id.as_deref() == Some(cfg.client_id.as_str())
        && client_secret.as_deref().is_some_and(|s| {
            constant_time_eq(s.as_bytes(), cfg.client_secret.expose_secret().as_bytes())
        });
    let grant_type = form.get("grant_type")?.as_str();
    match grant_type {
        "password" => {
            if !client_ok {
                return None;
            }
            let name = form.get("username")?;
            let user = state.user(name)?;
            user.password_matches(form.get("password")?)
                .then(|| ("password", name.clone(), cfg.client_id.clone(), true))
        }
        "refresh_token" => {
            if !client_ok {
                return None;
            }
            let issued = state
                .tokens()
                .refresh_grant(form.get("refresh_token")?, state.now_ms())?;
            (issued.client_id == cfg.client_id).then_some((
                "refresh_token",
                issued.user,
                issued.client_id,
                true,
            ))
        }
        "client_credentials" => {
            if !client_ok {
                return None;
            }
            let user = cfg.client_credentials_user.clone()?;
            Some(("client_credentials", user, cfg.client_id.clone(), false))
        }
        JWT_BEARER => {
            // A public client may leave out the id and secret; given ones must be right.
            if (client_id.is_some() || client_secret.is_some()) && !client_ok {
                return None;
            }
            let assertion = form.get("assertion").map(String::as_str).or_else(|| {
                headers
                    .get("authentication")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
            })?;
            let user = verify_jwt(state, assertion)?;
            state.user(&user)?;
            Some(("jwt_bearer", user, cfg.client_id.clone(), false))
        }
        _ => None,
    }
}

#[derive(serde::Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
}

/// The `sub` of a valid assertion: signed with the configured key, `aud` = client id,
/// `exp` not more than 300 s in the past on the instance clock.
fn verify_jwt(state: &State, assertion: &str) -> Option<String> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let pem = state.config.oauth.jwt_public_key_pem.as_deref()?;
    let header = jsonwebtoken::decode_header(assertion).ok()?;
    let key = match header.alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
            DecodingKey::from_rsa_pem(pem.as_bytes()).ok()?
        }
        Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(pem.as_bytes()).ok()?,
        _ => return None,
    };
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "sub", "aud"]);
    validation.set_audience(&[state.config.oauth.client_id.as_str()]);
    let data = jsonwebtoken::decode::<Claims>(assertion, &key, &validation).ok()?;
    let now_s = state.now_ms() / 1000;
    (data.claims.exp.saturating_add(300) >= now_s).then_some(data.claims.sub)
}

/// `/oauth_revoke_token.do?token=…`: expire an access or refresh token. No authentication.
/// A refresh token takes its access tokens along; an access token takes its refresh token
/// along only when the instance is set to (`OAuthClientConfig::revoke_refresh_with_access`).
pub(crate) fn revoke(state: &State, query: &str, body: &Bytes) -> Resp {
    let from = |b: &[u8]| {
        form_urlencoded::parse(b)
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    };
    match from(query.as_bytes()).or_else(|| from(body)) {
        Some(token) => {
            let cascade = state.revoke_refresh_with_access();
            state.tokens().revoke(&token, cascade);
            respond::json(StatusCode::OK, "{}")
        }
        None => respond::oauth_denied(),
    }
}
