//! The main job, end to end: start a local ServiceNow-compatible instance, then use snow as a
//! new user would — list, stream, create, update, delete.
//!
//! ```text
//! cargo run -p snow-client --example quickstart
//! ```

use std::time::Instant;

use serde::Deserialize;
use serde_json::json;
use snow_client::query::field;
use snow_client::{Client, Record};
use snow_devinstance::{DevConfig, DevInstance};

/// Your own type for the fields you care about (every Table-API value is text).
#[derive(Debug, Deserialize)]
struct Incident {
    number: String,
    priority: String,
    short_description: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local instance with 2,000 seeded incidents, on a free loopback port.
    let dev = DevInstance::start(DevConfig {
        records: 2000,
        ..DevConfig::default()
    })
    .await?;
    println!("dev instance at {}\n", dev.base_url());

    // 1. Connect: the instance may be a name ("acme"), a host, or a full URL.
    let client = Client::basic(dev.base_url(), "admin", "admin")?;
    let incidents = client.table("incident");

    // 2. Five active priority-1/2 incidents, newest first.
    let top: Vec<Incident> = incidents
        .list()
        .query((field("active").eq(true) & field("priority").le(2)).order_by_desc("sys_created_on"))
        .fields(["number", "priority", "short_description"])
        .limit(5)
        .all()
        .await?;
    println!("5 active incidents with priority 1-2:");
    for i in &top {
        println!(
            "  {}  P{}  {}",
            i.number,
            i.priority,
            clip(&i.short_description, 50)
        );
    }

    // 3. Stream 1,000 records in pages of 200 (bounded memory, stable order).
    let started = Instant::now();
    let mut stream = incidents
        .list()
        .fields(["number", "state"])
        .page_size(200)
        .limit(1000)
        .stream::<Record>();
    let (mut n, mut open) = (0, 0);
    while let Some(r) = stream.try_next().await? {
        n += 1;
        if r.i64("state")?.is_some_and(|s| s < 6) {
            open += 1;
        }
    }
    println!(
        "\nstreamed {n} incidents in 5 pages in {:.0?} ({open} not yet resolved)",
        started.elapsed()
    );

    // 4. Create, update, delete.
    let created = incidents
        .create(&json!({"short_description": "Printer on fire", "urgency": "2"}))
        .await?;
    let id = created.sys_id().unwrap_or_default().to_owned();
    println!(
        "\ncreated {} ({id}): {}",
        created.str("number").unwrap_or("?"),
        created.str("short_description").unwrap_or("")
    );
    let updated = incidents.update(&id, &json!({"urgency": "1"})).await?;
    println!(
        "updated urgency to {}",
        updated.str("urgency").unwrap_or("?")
    );
    incidents.delete(&id).await?;
    let gone = incidents
        .get(&id)
        .fetch_optional::<Record>()
        .await?
        .is_none();
    println!(
        "deleted; a new read finds it: {}",
        if gone { "no" } else { "yes" }
    );

    dev.shutdown().await?;
    Ok(())
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut c: String = s.chars().take(n - 1).collect();
        c.push('…');
        c
    }
}
