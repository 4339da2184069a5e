//! The token requests: password, refresh, client credentials and JWT bearer, and how their
//! answers are classified.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse, BasicTokenType};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RefreshToken, RequestTokenError,
    ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use snow_core::HttpExchange;
use snow_core::http::{self, header};

use crate::http::{ExchangeClient, ExchangeFailure};
use crate::{JwtBearer, OAuthError, TokenSet};

/// The `grant_type` of the JWT-bearer grant (RFC 7523).
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How the OAuth client id and secret are sent to the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientAuth {
    /// As `client_id` and `client_secret` form fields, as ServiceNow documents (the default).
    #[default]
    RequestBody,
    /// In an HTTP Basic `Authorization` header (`client_secret_basic`), as pysnow sent them.
    Basic,
}

/// The grant used to get a token when there is none (or the refresh token was refused).
#[derive(Clone)]
pub(crate) enum Grant {
    Password {
        username: String,
        password: SecretString,
    },
    ClientCredentials,
    JwtBearer(Box<JwtBearer>),
}

impl Grant {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Grant::Password { .. } => "password",
            Grant::ClientCredentials => "client_credentials",
            Grant::JwtBearer(_) => "jwt-bearer",
        }
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::Password { username, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .field("password", &"[REDACTED]")
                .finish(),
            Grant::ClientCredentials => f.write_str("ClientCredentials"),
            Grant::JwtBearer(jwt) => f.debug_tuple("JwtBearer").field(jwt).finish(),
        }
    }
}

/// A token the endpoint just issued, with the lifetime it announced.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) token: TokenSet,
    pub(crate) lifetime: Option<Duration>,
}

type SnowClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The token endpoint and the client's credentials.
pub(crate) struct Endpoint {
    client: SnowClient,
    client_id: String,
    client_secret: SecretString,
    client_auth: ClientAuth,
    token_url: String,
    scopes: Vec<String>,
    exchange: Arc<dyn HttpExchange>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("client_auth", &self.client_auth)
            .field("scopes", &self.scopes)
            .field("exchange", &self.exchange)
            .finish()
    }
}

impl Endpoint {
    pub(crate) fn new(
        token_url: String,
        client_id: String,
        client_secret: SecretString,
        client_auth: ClientAuth,
        scopes: Vec<String>,
        exchange: Arc<dyn HttpExchange>,
    ) -> Result<Self, OAuthError> {
        let url = TokenUrl::new(token_url.clone()).map_err(|e| OAuthError::Config {
            message: format!("the token URL is not a valid URL ({e})"),
        })?;
        if !matches!(url.url().scheme(), "http" | "https") {
            return Err(OAuthError::Config {
                message: "the token URL must be http or https".into(),
            });
        }
        let client = BasicClient::new(ClientId::new(client_id.clone()))
            .set_client_secret(ClientSecret::new(client_secret.expose_secret().to_owned()))
            .set_auth_type(match client_auth {
                ClientAuth::RequestBody => AuthType::RequestBody,
                ClientAuth::Basic => AuthType::BasicAuth,
            })
            .set_token_uri(url);
        Ok(Endpoint {
            client,
            client_id,
            client_secret,
            client_auth,
            token_url,
            scopes,
            exchange,
        })
    }

    pub(crate) fn exchange(&self) -> &Arc<dyn HttpExchange> {
        &self.exchange
    }

    pub(crate) async fn grant(&self, grant: &Grant) -> Result<Issued, OAuthError> {
        match grant {
            Grant::Password { username, password } => self.password(username, password).await,
            Grant::ClientCredentials => self.client_credentials().await,
            Grant::JwtBearer(jwt) => self.jwt_bearer(jwt).await,
        }
    }

    pub(crate) async fn password(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<Issued, OAuthError> {
        tracing::debug!(grant = "password", "requesting an OAuth token");
        let user = ResourceOwnerUsername::new(username.to_owned());
        let pass = ResourceOwnerPassword::new(password.expose_secret().to_owned());
        let http = ExchangeClient::new(self.exchange.clone());
        let mut request = self.client.exchange_password(&user, &pass);
        for s in &self.scopes {
            request = request.add_scope(Scope::new(s.clone()));
        }
        let result = request.request_async(&http).await;
        finish("password", result, http.status())
    }

    pub(crate) async fn refresh(&self, refresh_token: &SecretString) -> Result<Issued, OAuthError> {
        tracing::debug!(grant = "refresh_token", "requesting an OAuth token");
        let rt = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let http = ExchangeClient::new(self.exchange.clone());
        let result = self
            .client
            .exchange_refresh_token(&rt)
            .request_async(&http)
            .await;
        finish("refresh_token", result, http.status())
    }

    pub(crate) async fn client_credentials(&self) -> Result<Issued, OAuthError> {
        tracing::debug!(grant = "client_credentials", "requesting an OAuth token");
        let http = ExchangeClient::new(self.exchange.clone());
        let mut request = self.client.exchange_client_credentials();
        for s in &self.scopes {
            request = request.add_scope(Scope::new(s.clone()));
        }
        let result = request.request_async(&http).await;
        finish("client_credentials", result, http.status())
    }

    /// oauth2 has no JWT-bearer request, so this one is built here, the way oauth2 builds the
    /// others (form body, `Accept: application/json`, client authentication as configured).
    pub(crate) async fn jwt_bearer(&self, jwt: &JwtBearer) -> Result<Issued, OAuthError> {
        tracing::debug!(grant = "jwt-bearer", "requesting an OAuth token");
        let assertion = jwt.sign_assertion(&self.client_id)?;
        let request = self.jwt_request(&assertion)?;
        let http = ExchangeClient::new(self.exchange.clone());
        let response = match http.send(request).await {
            Ok(r) => r,
            Err(e) => {
                return Err(classify(
                    "jwt-bearer",
                    RequestTokenError::Request(e),
                    http.status(),
                ));
            }
        };
        let status = response.status().as_u16();
        if status != 200 {
            return Err(
                match serde_json::from_slice::<BasicErrorResponse>(response.body()) {
                    Ok(e) => server_error("jwt-bearer", Some(status), &e),
                    Err(_) if status >= 500 => OAuthError::Unavailable { status },
                    Err(_) => {
                        OAuthError::protocol(format!("HTTP {status} without an OAuth error body"))
                    }
                },
            );
        }
        check_json(&response)?;
        let parsed: BasicTokenResponse = serde_json::from_slice(response.body()).map_err(|e| {
            OAuthError::protocol(format!(
                "the token response is not valid ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        Ok(issued(parsed))
    }

    /// The JWT-bearer token request (built apart from the async code: the form serialiser is not `Send`).
    fn jwt_request(&self, assertion: &SecretString) -> Result<http::Request<Vec<u8>>, OAuthError> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", JWT_BEARER)
            .append_pair("assertion", assertion.expose_secret());
        if !self.scopes.is_empty() {
            form.append_pair("scope", &self.scopes.join(" "));
        }
        let mut builder = http::Request::post(&self.token_url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        match self.client_auth {
            ClientAuth::RequestBody => {
                form.append_pair("client_id", &self.client_id)
                    .append_pair("client_secret", self.client_secret.expose_secret());
            }
            ClientAuth::Basic => {
                // RFC 6749 section 2.3.1: form-encode id and secret before Base64.
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let pair = format!(
                    "{}:{}",
                    enc(&self.client_id),
                    enc(self.client_secret.expose_secret())
                );
                let b64 = base64::engine::general_purpose::STANDARD.encode(pair);
                let mut value =
                    http::HeaderValue::from_str(&format!("Basic {b64}")).map_err(|_| {
                        OAuthError::Config {
                            message: "the client credentials cannot be sent in a header".into(),
                        }
                    })?;
                value.set_sensitive(true);
                builder = builder.header(header::AUTHORIZATION, value);
            }
        }
        builder
            .body(form.finish().into_bytes())
            .map_err(|_| OAuthError::Config {
                message: "the token URL cannot be used in a request".into(),
            })
    }
}

fn check_json(response: &http::Response<Vec<u8>>) -> Result<(), OAuthError> {
    if let Some(ct) = response.headers().get(header::CONTENT_TYPE) {
        let ok = ct
            .to_str()
            .map(|s| {
                s.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            })
            .unwrap_or(false);
        if !ok {
            return Err(not_json(ct.to_str().unwrap_or("?")));
        }
    }
    Ok(())
}

fn not_json(content_type: &str) -> OAuthError {
    let hint = if content_type.to_ascii_lowercase().contains("text/html") {
        " (a hibernating instance answers with an HTML page)"
    } else {
        ""
    };
    OAuthError::protocol(format!("the answer is not JSON but {content_type:?}{hint}"))
}

fn issued(response: BasicTokenResponse) -> Issued {
    let lifetime = response.expires_in();
    let mut token = TokenSet::new(response.access_token().secret().clone()).with_token_type(
        match response.token_type() {
            // oauth2 spells it in lower case; ServiceNow and RFC 6750 say `Bearer`.
            BasicTokenType::Bearer => "Bearer".to_owned(),
            other => other.as_ref().to_owned(),
        },
    );
    if let Some(rt) = response.refresh_token() {
        token = token.with_refresh_token(rt.secret().clone());
    }
    if let Some(at) = lifetime.and_then(|l| SystemTime::now().checked_add(l)) {
        token = token.with_expires_at(at);
    }
    if let Some(scopes) = response.scopes() {
        let joined = scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        token = token.with_scope(joined);
    }
    Issued { token, lifetime }
}

fn finish(
    grant: &'static str,
    result: Result<BasicTokenResponse, RequestTokenError<ExchangeFailure, BasicErrorResponse>>,
    status: Option<u16>,
) -> Result<Issued, OAuthError> {
    match result {
        Ok(r) => {
            tracing::debug!(grant, status, "the token endpoint issued a token");
            Ok(issued(r))
        }
        Err(e) => {
            let e = classify(grant, e, status);
            tracing::debug!(grant, status, error = %e, "the token request failed");
            Err(e)
        }
    }
}

/// Turn oauth2's error into ours, never looking at (let alone printing) a response body.
fn classify(
    grant: &'static str,
    error: RequestTokenError<ExchangeFailure, BasicErrorResponse>,
    status: Option<u16>,
) -> OAuthError {
    let server_failed = status.filter(|s| *s >= 500);
    match error {
        RequestTokenError::Request(ExchangeFailure::Exchange(e)) => e.into(),
        RequestTokenError::Request(ExchangeFailure::Redirect(status)) => {
            OAuthError::Redirected { status }
        }
        RequestTokenError::ServerResponse(e) => server_error(grant, status, &e),
        // The body (the second field) may hold a token: it is dropped unread.
        RequestTokenError::Parse(e, _body) => match server_failed {
            Some(status) => OAuthError::Unavailable { status },
            None if status == Some(200) => OAuthError::protocol(format!(
                "the token response is not valid ({:?} error at `{}`)",
                e.inner().classify(),
                e.path()
            )),
            None => OAuthError::protocol(format!(
                "HTTP {} without an OAuth error body",
                status.unwrap_or(0)
            )),
        },
        RequestTokenError::Other(message) => match server_failed {
            Some(status) => OAuthError::Unavailable { status },
            None if message.contains("Content-Type") => {
                let ct = message
                    .split('"')
                    .nth(1)
                    .unwrap_or("an unexpected content type");
                not_json(ct)
            }
            None => OAuthError::protocol(message),
        },
    }
}

/// Classify an OAuth error response.
///
/// - HTTP 5xx: [`OAuthError::Unavailable`] (transient).
/// - A refused refresh-token grant, or any `invalid_grant`: [`OAuthError::InvalidGrant`].
///   ServiceNow answers a revoked or expired refresh token with the same 401
///   `server_error`/`access_denied` as a wrong password, so for the refresh grant every refusal
///   counts as an invalid grant; that is what allows the password fallback.
/// - Anything else: [`OAuthError::TokenCreate`] with the status, `error` and `error_description`.
fn server_error(grant: &'static str, status: Option<u16>, e: &BasicErrorResponse) -> OAuthError {
    if let Some(status) = status.filter(|s| *s >= 500) {
        return OAuthError::Unavailable { status };
    }
    let error = e.error().as_ref().to_owned();
    let description = e.error_description().cloned();
    if grant == "refresh_token" || error == "invalid_grant" {
        let description = Some(match description {
            Some(d) => format!("{error}: {d}"),
            None => error,
        });
        return OAuthError::InvalidGrant {
            grant,
            status,
            description,
        };
    }
    OAuthError::TokenCreate {
        status,
        error,
        description,
    }
}
