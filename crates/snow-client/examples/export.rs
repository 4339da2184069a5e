//! Export a large table: page through every incident of a local instance sequentially, with
//! keyset paging and with concurrent pages, and print the throughput of each.
//!
//! ```text
//! cargo run --release -p snow-client --example export -- 200000 10000
//! ```

use std::time::Instant;

use snow_client::{Client, ListRequest, Paging, Record};
use snow_devinstance::{DevConfig, DevInstance};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let records: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let page: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let dev = DevInstance::start(DevConfig {
        records,
        ..DevConfig::default()
    })
    .await?;
    let client = Client::basic(dev.base_url(), "admin", "admin")?;
    let table = client.table("incident");
    println!("{records} incidents, pages of {page}");
    for (name, req) in [
        ("offset, sequential", table.list().page_size(page)),
        (
            "keyset",
            table.list().page_size(page).paging(Paging::Keyset),
        ),
        (
            "offset, 4 in flight",
            table.list().page_size(page).concurrency(4),
        ),
    ] {
        run(name, req).await?;
    }
    dev.shutdown().await?;
    Ok(())
}

async fn run(name: &str, req: ListRequest) -> Result<(), snow_client::Error> {
    let started = Instant::now();
    let mut stream = req.stream::<Record>();
    let (mut n, mut peak) = (0u64, 0usize);
    while let Some(_r) = stream.try_next().await? {
        n += 1;
        peak = peak.max(stream.buffered() + 1);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "  {name:<20} {n} records in {secs:.2} s ({:.0} records/s, at most {peak} held)",
        n as f64 / secs
    );
    Ok(())
}
