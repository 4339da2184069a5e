//! pysnow's OAuth flow with snow-oauth over snow-transport: generate a token once from user and
//! password, store it, later start from the stored token, and let it refresh, with a token
//! updater.
//!
//! ```text
//! SNOW_URL=http://127.0.0.1:8080 SNOW_CLIENT_ID=... SNOW_CLIENT_SECRET=... \
//! SNOW_USER=admin SNOW_PASSWORD=... cargo run -p snow-oauth --example oauth_password
//! ```
//!
//! Against the development instance (`cargo run -p snow-devinstance`), the client is
//! `snow-dev` / `snow-dev-secret` and the user `admin` / `admin`. Set `SNOW_CA_PEM` to a PEM file
//! to trust an extra certificate authority (the development instance's, when it serves HTTPS).

use snow_core::{BoxError, Instance, http};
use snow_oauth::{FileTokenStore, OAuth, TokenStore};
use snow_transport::{Body, TlsConfig, Transport, TransportBuilder};

fn env(name: &str) -> Result<String, BoxError> {
    std::env::var(name).map_err(|_| format!("set {name}").into())
}

/// A transport builder for the instance, trusting `SNOW_CA_PEM` if it is set. Token calls and
/// API calls are configured the same way, so the proxy, CA roots and timeouts apply to both.
fn transport(instance: &Instance) -> Result<TransportBuilder, BoxError> {
    let mut builder = Transport::builder(instance.clone());
    if let Ok(path) = std::env::var("SNOW_CA_PEM") {
        builder = builder.tls(TlsConfig::default().add_ca_pem(std::fs::read(path)?));
    }
    Ok(builder)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let instance = Instance::from_url(&env("SNOW_URL")?)?;
    // The transport that carries the token calls (`Transport` implements `HttpExchange`; clones
    // share its connection pool).
    let exchange = transport(&instance)?.build()?;
    let store_path = std::env::temp_dir().join("snow-oauth-example-token.json");
    let store = FileTokenStore::new(&store_path);

    // 1. Once: generate a token from user and password, and store it (the store's file is
    //    written atomically with mode 0600). The password is not kept.
    if store.load().await?.is_none() {
        let auth = OAuth::builder(
            &instance,
            exchange.clone(),
            env("SNOW_CLIENT_ID")?,
            env("SNOW_CLIENT_SECRET")?,
        )
        .token_store(store.clone())
        .build()?;
        let token = auth
            .generate_token(&env("SNOW_USER")?, env("SNOW_PASSWORD")?)
            .await?;
        println!("generated: {token}"); // Display shows no token
    }

    // 2. Later: start from the stored token. It refreshes by itself (before expiry, and after a
    //    401) while the refresh token lives; the updater sees every new token (already in the
    //    authenticator's cache), and the store saves it.
    let auth = OAuth::builder(
        &instance,
        exchange,
        env("SNOW_CLIENT_ID")?,
        env("SNOW_CLIENT_SECRET")?,
    )
    .token_store(store)
    .token_updater(|t| println!("token updated: {t}"))
    .build()?;

    // API calls: a transport authenticated by a clone of the authenticator (clones share the
    // token cache).
    let api = transport(&instance)?.auth(auth.clone()).build()?;
    let request =
        http::Request::get("/api/now/table/incident?sysparm_limit=1").body(Body::empty())?;
    let response = api.send(request).await?;
    let status = response.status();
    let body = response.into_body().collect_bytes().await?;
    println!("GET incident: HTTP {status}, {} bytes", body.len());

    // Renew on demand, as an expiry would.
    let renewed = auth.refresh().await?;
    println!(
        "refreshed: {renewed}; token stored in {}",
        store_path.display()
    );
    Ok(())
}
