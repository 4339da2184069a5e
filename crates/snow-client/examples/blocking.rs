//! The blocking client from a plain `fn main`: tables, paging as an iterator, writes,
//! attachments and OAuth, with no async code of your own (the `blocking` feature).
//!
//! ```text
//! cargo run -p snow-client --features blocking --example blocking
//! ```

use serde_json::json;
use snow_client::blocking::Client;
use snow_client::query::field;
use snow_client::{Attachment, Record};
use snow_devinstance::{DevConfig, DevInstance};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The local instance needs a runtime of its own; the client below does not.
    let server = tokio::runtime::Runtime::new()?;
    let dev = server.block_on(DevInstance::start(DevConfig {
        records: 250,
        ..DevConfig::default()
    }))?;

    let client = Client::basic(dev.base_url(), "admin", "admin")?;
    let incidents = client.table("incident");

    // Every active incident, page by page, as an iterator.
    let mut active = 0;
    for r in incidents
        .query(field("active").eq(true))
        .fields(["number"])
        .page_size(50)
        .iter::<Record>()
    {
        let _number = r?.str("number").map(str::to_owned);
        active += 1;
    }
    println!("{active} active incidents");

    // Write.
    let created: Record = incidents
        .create(&json!({"short_description": "Printer on fire", "urgency": "2"}))
        .send()?;
    let id = created.sys_id().unwrap_or_default().to_owned();
    println!("created {}", created.str("number").unwrap_or("?"));
    let updated: Record = incidents.update(&id, &json!({"urgency": "1"})).send()?;
    println!("urgency now {}", updated.str("urgency").unwrap_or("?"));

    // Attachments.
    let attachments = client.attachments();
    let meta = attachments
        .upload("incident", &id, "note.txt", b"hello".to_vec())
        .send()?;
    let listed: Vec<Attachment> = attachments.for_record("incident", &id).all()?;
    let content = attachments.download(&meta.sys_id)?.bytes()?;
    println!(
        "{} attachment(s); note says {:?}",
        listed.len(),
        String::from_utf8_lossy(&content)
    );
    incidents.delete(&id).send()?;

    // OAuth, pysnow's OAuthClient.
    let oauth = Client::oauth_client(dev.base_url(), "snow-dev", "snow-dev-secret")
        .token_updater(|t| println!("token updater called: {t}"))
        .build()?;
    let _token = oauth.oauth().generate_token("itil", "itil")?;
    let first: Record = oauth.table("incident").list().first()?;
    println!("read {} with OAuth", first.str("number").unwrap_or("?"));
    oauth.oauth().revoke()?;
    Ok(())
}
