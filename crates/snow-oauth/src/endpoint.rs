//! The token endpoint: building and sending the password, refresh, client-credentials and
//! JWT-bearer requests, and revoking tokens.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse,
    RefreshToken, RequestTokenError, ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use snow_core::HttpExchange;
use snow_core::http::{self, header};

use crate::response::{self, Issued};
use crate::{JwtBearer, OAuthError};

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

type SnowClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Where and how token requests are sent.
#[derive(Debug)]
pub(crate) struct EndpointConfig {
    pub(crate) token_url: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) client_auth: ClientAuth,
    pub(crate) scopes: Vec<String>,
}

/// The token endpoint and the client's credentials.
pub(crate) struct Endpoint {
    client: SnowClient,
    config: EndpointConfig,
    exchange: Arc<dyn HttpExchange>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("Endpoint")
            .field("token_url", &c.token_url)
            .field("client_id", &c.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("client_auth", &c.client_auth)
            .field("scopes", &c.scopes)
            .field("exchange", &self.exchange)
            .finish()
    }
}

impl Endpoint {
    pub(crate) fn new(
        config: EndpointConfig,
        exchange: Arc<dyn HttpExchange>,
    ) -> Result<Self, OAuthError> {
        let url = TokenUrl::new(config.token_url.clone()).map_err(|e| OAuthError::Config {
            message: format!("the token URL is not a valid URL ({e})"),
        })?;
        if !matches!(url.url().scheme(), "http" | "https") {
            return Err(OAuthError::Config {
                message: "the token URL must be http or https".into(),
            });
        }
        let client = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                config.client_secret.expose_secret().to_owned(),
            ))
            .set_auth_type(match config.client_auth {
                ClientAuth::RequestBody => AuthType::RequestBody,
                ClientAuth::Basic => AuthType::BasicAuth,
            })
            .set_token_uri(url);
        Ok(Endpoint {
            client,
            config,
            exchange,
        })
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
        let request = {
            let user = ResourceOwnerUsername::new(username.to_owned());
            let pass = ResourceOwnerPassword::new(password.expose_secret().to_owned());
            let scopes = self.scopes();
            built(|c| {
                self.client
                    .exchange_password(&user, &pass)
                    .add_scopes(scopes)
                    .request(&c)
            })?
        };
        self.send("password", request).await
    }

    pub(crate) async fn refresh(&self, refresh_token: &SecretString) -> Result<Issued, OAuthError> {
        let request = {
            let rt = RefreshToken::new(refresh_token.expose_secret().to_owned());
            built(|c| self.client.exchange_refresh_token(&rt).request(&c))?
        };
        self.send("refresh_token", request).await
    }

    pub(crate) async fn client_credentials(&self) -> Result<Issued, OAuthError> {
        let request = {
            let scopes = self.scopes();
            built(|c| {
                self.client
                    .exchange_client_credentials()
                    .add_scopes(scopes)
                    .request(&c)
            })?
        };
        self.send("client_credentials", request).await
    }

    /// oauth2 has no JWT-bearer request, so this one is built here, the way oauth2 builds the
    /// others (form body, `Accept: application/json`, client authentication as configured).
    pub(crate) async fn jwt_bearer(&self, jwt: &JwtBearer) -> Result<Issued, OAuthError> {
        let assertion = jwt.sign_assertion(&self.config.client_id)?;
        let request = self.jwt_request(&assertion)?;
        self.send("jwt-bearer", request).await
    }

    /// Revoke one token with ServiceNow's `GET <revoke_url>?token=...` (no authentication).
    pub(crate) async fn revoke(
        &self,
        revoke_url: &url::Url,
        token: &SecretString,
    ) -> Result<(), OAuthError> {
        let mut url = revoke_url.clone();
        url.query_pairs_mut()
            .append_pair("token", token.expose_secret());
        let request = http::Request::get(url.as_str())
            .header(header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|_| OAuthError::Config {
                message: "the revocation URL cannot be used in a request".into(),
            })?;
        let response = self.exchange.exchange(request).await?;
        let status = response.status();
        tracing::debug!(status = status.as_u16(), "token revocation answered");
        response::revocation(&response)
    }

    /// Send a token request and read its answer.
    async fn send(&self, grant: &'static str, request: HttpRequest) -> Result<Issued, OAuthError> {
        tracing::debug!(grant, "requesting an OAuth token");
        let result = match self.exchange.exchange(request).await {
            Ok(response) => response::token(grant, &response),
            Err(e) => Err(e.into()),
        };
        match &result {
            Ok(_) => tracing::debug!(grant, "the token endpoint issued a token"),
            Err(e) => tracing::debug!(grant, error = %e, "the token request failed"),
        }
        result
    }

    fn scopes(&self) -> Vec<Scope> {
        self.config.scopes.iter().cloned().map(Scope::new).collect()
    }

    /// The JWT-bearer token request (built apart from the async code: the form serialiser is not `Send`).
    fn jwt_request(&self, assertion: &SecretString) -> Result<HttpRequest, OAuthError> {
        let c = &self.config;
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", JWT_BEARER)
            .append_pair("assertion", assertion.expose_secret());
        if !c.scopes.is_empty() {
            form.append_pair("scope", &c.scopes.join(" "));
        }
        let mut builder = http::Request::post(&c.token_url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        match c.client_auth {
            ClientAuth::RequestBody => {
                form.append_pair("client_id", &c.client_id)
                    .append_pair("client_secret", c.client_secret.expose_secret());
            }
            ClientAuth::Basic => {
                // RFC 6749 section 2.3.1: form-encode id and secret before Base64.
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let pair = format!(
                    "{}:{}",
                    enc(&c.client_id),
                    enc(c.client_secret.expose_secret())
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

/// What the request-capturing client answers oauth2 with: the request was taken, not sent.
#[derive(Debug, thiserror::Error)]
#[error("the request was captured, not sent")]
struct Captured;

/// Let oauth2 build a token request, and take it instead of letting oauth2 send it: the request
/// then goes through the exchange, and its answer through this crate's own parser.
fn built(
    build: impl FnOnce(
        &dyn Fn(HttpRequest) -> Result<HttpResponse, Captured>,
    )
        -> Result<BasicTokenResponse, RequestTokenError<Captured, BasicErrorResponse>>,
) -> Result<HttpRequest, OAuthError> {
    let slot = RefCell::new(None);
    let capture = |request: HttpRequest| -> Result<HttpResponse, Captured> {
        *slot.borrow_mut() = Some(request);
        Err(Captured)
    };
    let outcome = build(&capture);
    match (slot.into_inner(), outcome) {
        (Some(request), _) => Ok(request),
        (None, Err(RequestTokenError::Other(message))) => Err(OAuthError::Config {
            message: format!("the token request cannot be built ({message})"),
        }),
        (None, _) => Err(OAuthError::Config {
            message: "the token request cannot be built".into(),
        }),
    }
}
