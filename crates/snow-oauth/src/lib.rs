//! OAuth 2 for ServiceNow, as a snow [`Authenticator`](snow_core::Authenticator): password,
//! refresh, client-credentials and JWT-bearer grants, with a token cache that never stampedes
//! the token endpoint.
//!
//! - [`OAuthAuthenticator`] (alias [`OAuth`]), built with [`OAuth::builder`] from the instance,
//!   the HTTP exchange its token calls go through, and the client id and secret: puts a sensitive
//!   `Authorization: Bearer` header on every request, renews the token before it expires
//!   (60 s skew by default) and after a `401`, one renewal at a time however many requests
//!   need it. The token lives in snow-core's
//!   [`CredentialCache`](snow_core::credential::CredentialCache); this crate is how it is
//!   fetched.
//! - Grants: [`generate_token`](OAuthAuthenticator::generate_token) (password, like pysnow),
//!   refresh (automatic, also from a refresh token alone), [client
//!   credentials](OAuthBuilder::client_credentials), and [JWT bearer](JwtBearer) with the
//!   assertion signed here from a PEM key. Client id and secret travel in the form body, as
//!   ServiceNow documents, or with HTTP Basic on request ([`ClientAuth`]).
//! - Keeping tokens: a [token updater](OAuthBuilder::token_updater) closure called with every new
//!   [`TokenSet`] once it is cached, and a [`TokenStore`] ([`FileTokenStore`] writes atomically
//!   with mode `0600`).
//! - Errors: [`OAuthError`], with [`kind`](OAuthError::kind) and
//!   [`is_retryable`](OAuthError::is_retryable); it converts into
//!   [`snow_core::AuthError`].
//!
//! Token calls go through [`snow_core::HttpExchange`], so they use the same connector, TLS
//! settings, proxy and timeouts as the rest of the client; redirects are never followed. This
//! crate does not depend on a transport or on any HTTP client.
//!
//! Nothing here logs or formats a token, password, client secret, private key or token response
//! body: `Debug` of every type redacts them, and errors carry only the endpoint's `error` and
//! `error_description`.
//!
//! ```
//! use snow_core::{async_trait, http, Authenticator, ExchangeError, HttpExchange, Instance};
//! use snow_oauth::OAuth;
//!
//! /// A stand-in token endpoint (a real program uses snow-transport's exchange).
//! #[derive(Debug)]
//! struct Endpoint;
//!
//! #[async_trait]
//! impl HttpExchange for Endpoint {
//!     async fn exchange(&self, req: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, ExchangeError> {
//!         assert_eq!(req.uri().path(), "/oauth_token.do");
//!         let body = String::from_utf8_lossy(req.body());
//!         assert!(body.contains("grant_type=password") && body.contains("client_id=my-client"));
//!         Ok(http::Response::builder()
//!             .header("content-type", "application/json;charset=UTF-8")
//!             .body(br#"{"access_token":"AT","refresh_token":"RT","scope":"useraccount","token_type":"Bearer","expires_in":1799}"#.to_vec())
//!             .unwrap())
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let instance = Instance::from_name("acme")?;
//! let auth = OAuth::builder(&instance, Endpoint, "my-client", "my-secret").build()?;
//! let token = auth.generate_token("admin", "password").await?;
//! assert_eq!(token.scope(), Some("useraccount"));
//!
//! let (mut parts, ()) = http::Request::get("https://acme.service-now.com/api/now/table/incident")
//!     .body(()).unwrap().into_parts();
//! auth.authenticate(&mut parts).await?;
//! assert_eq!(parts.headers["authorization"], "Bearer AT");
//! assert!(parts.headers["authorization"].is_sensitive());
//! assert!(!format!("{auth:?}").contains("my-secret"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod authenticator;
mod endpoint;
mod error;
mod jwt;
mod response;
mod store;
mod token;

pub use authenticator::{OAuth, OAuthAuthenticator, OAuthBuilder, TokenEpoch};
pub use endpoint::ClientAuth;
pub use error::OAuthError;
pub use jwt::{JwtAlgorithm, JwtBearer};
pub use store::{FileTokenStore, TokenStore};
pub use token::TokenSet;
