//! Serving speed of the dev instance, measured with a plain hyper client on loopback.
//!
//! `cargo run --release -p snow-devinstance --example load [RECORDS]`
//!
//! Prints single-record GETs per second (several concurrent keep-alive connections) and
//! 10,000-record incident pages per second (sequential and two at a time). Request counts
//! are bounded, so the run stops by itself.

use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use snow_devinstance::{DevConfig, DevInstance};

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

async fn get(client: &HttpClient, url: &str, auth: &str) -> Result<usize, String> {
    let req = http::Request::get(url)
        .header("authorization", auth)
        .header("accept", "application/json")
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let resp = client.request(req).await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("status {}", resp.status()));
    }
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(body.to_bytes().len())
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let records: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let seeding = Instant::now();
    let instance = DevInstance::start(DevConfig {
        records,
        request_log_capacity: 0,
        ..DevConfig::default()
    })
    .await?;
    println!("seeded {records} incidents in {:?}", seeding.elapsed());
    let base = instance.base_url().to_owned();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:admin")
    );
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

    // Pick some sys_ids to fetch one by one.
    let ids_url = format!("{base}/api/now/table/incident?sysparm_fields=sys_id&sysparm_limit=1000");
    let req = http::Request::get(&ids_url)
        .header("authorization", &auth)
        .body(Empty::<Bytes>::new())?;
    let body = client
        .request(req)
        .await?
        .into_body()
        .collect()
        .await?
        .to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    let ids: Vec<String> = v["result"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["sys_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        return Err("no records to fetch".into());
    }

    // Single-record GETs: 8 workers, 4,000 requests each.
    let workers = 8;
    let per_worker = 4_000;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (client, auth, base, ids) = (client.clone(), auth.clone(), base.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..per_worker {
                let id = &ids[(w * per_worker + i) % ids.len()];
                get(
                    &client,
                    &format!("{base}/api/now/table/incident/{id}"),
                    &auth,
                )
                .await?;
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let n = workers * per_worker;
    println!(
        "single-record GET: {n} requests, {:.0} req/s ({workers} connections)",
        rate(n, start.elapsed())
    );

    // 10,000-record pages.
    let page_url = format!("{base}/api/now/table/incident?sysparm_limit=10000");
    let first = Instant::now();
    let bytes = get(&client, &page_url, &auth).await?;
    println!(
        "one 10,000-record page: {:?}, {:.1} MB",
        first.elapsed(),
        bytes as f64 / 1e6
    );
    let pages = 20;
    let start = Instant::now();
    for i in 0..pages {
        let url = format!(
            "{page_url}&sysparm_offset={}",
            (i * 10_000) % records.max(1)
        );
        get(&client, &url, &auth).await?;
    }
    let seq = start.elapsed();
    println!(
        "10,000-record pages, sequential: {:.1} pages/s ({:?} per page)",
        rate(pages, seq),
        seq / pages as u32
    );
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..2 {
        let (client, auth, url) = (client.clone(), auth.clone(), page_url.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..pages / 2 {
                let off = ((w * pages / 2 + i) * 10_000) % records.max(1);
                get(&client, &format!("{url}&sysparm_offset={off}"), &auth).await?;
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!(
        "10,000-record pages, 2 concurrent: {:.1} pages/s",
        rate(pages, start.elapsed())
    );
    instance.shutdown().await?;
    Ok(())
}
