//! OAuth through the client, as pysnow's OAuthClient: generate a token from a user and
//! password, keep it (token updater), start the next run from it, read it, revoke it —
//! against a local instance (OAuth client `snow-dev` / `snow-dev-secret`).
//!
//! ```text
//! cargo run -p snow-client --example oauth
//! ```

use std::sync::{Arc, Mutex};

use snow_client::oauth::TokenSet;
use snow_client::{Client, Record};
use snow_devinstance::{DevConfig, DevInstance};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dev = DevInstance::start(DevConfig {
        records: 10,
        ..DevConfig::default()
    })
    .await?;

    // Where the tokens go: a database, a keychain, a file (see FileTokenStore).
    let store: Arc<Mutex<Option<TokenSet>>> = Arc::default();
    let keep = store.clone();

    // The five lines.
    let client = Client::oauth_client(dev.base_url(), "snow-dev", "snow-dev-secret")
        .token_updater(move |t| *keep.lock().expect("the store") = Some(t.clone()))
        .build()?;
    let token = client.oauth().generate_token("itil", "itil").await?;
    println!("new token: {token}"); // Display shows no secret
    let rows: Vec<Record> = client.table("incident").list().limit(3).all().await?;
    println!("{} incidents read with it", rows.len());

    // The next run starts from the stored token: no password needed.
    let stored = store
        .lock()
        .expect("the store")
        .clone()
        .expect("a token was stored");
    let next = Client::oauth_client(dev.base_url(), "snow-dev", "snow-dev-secret").build()?;
    next.oauth().set_token(stored).await?;
    let one: Record = next.table("incident").list().first().await?;
    println!("next run read {}", one.str("number").unwrap_or("?"));
    if let Some(current) = next.oauth().token() {
        println!("current token: {current}");
    }

    // Revoke it: the instance forgets it, and requests need a new one.
    next.oauth().revoke().await?;
    match next.table("incident").list().first::<Record>().await {
        Ok(_) => println!("unexpected: still authorised"),
        Err(e) => println!("after revoking: {e}"),
    }
    Ok(())
}
