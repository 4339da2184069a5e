//! Serving speed of the dev instance, measured with a plain hyper client on loopback.
//!
//! `cargo run --release -p snow-devinstance --example load [RECORDS] [--url URL] [--quick]`
//!
//! Prints single-record GETs per second (several concurrent keep-alive connections) and
//! 10,000-record incident pages per second (sequential and two at a time), with the median
//! time to serve one page in the default order and with `ORDERBYsys_id` (what paging clients
//! send). Request counts are bounded, so the run stops by itself.
//!
//! With `--url`, it loads an instance that is already running (for example the
//! `snow-devinstance` binary in its own process) instead of starting one in this process.
//! The last line is machine-readable: `result key=value ...`.

use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use snow_devinstance::{DevConfig, DevInstance};

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// Median, minimum and maximum of some durations, in milliseconds.
fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    (ms(v.get(v.len() / 2)), ms(v.first()), ms(v.last()))
}

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
    let (mut records, mut url, mut quick) = (100_000usize, None, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--url" => url = Some(args.next().ok_or("--url needs a value")?),
            "--quick" => quick = true,
            n => records = n.parse().map_err(|e| format!("{n:?}: {e}"))?,
        }
    }
    let instance = match url {
        Some(_) => None,
        None => {
            let seeding = Instant::now();
            let instance = DevInstance::start(DevConfig {
                records,
                request_log_capacity: 0,
                ..DevConfig::default()
            })
            .await?;
            println!("seeded {records} incidents in {:?}", seeding.elapsed());
            Some(instance)
        }
    };
    let base = match (&url, &instance) {
        (Some(u), _) => u.trim_end_matches('/').to_owned(),
        (None, Some(i)) => i.base_url().to_owned(),
        (None, None) => return Err("no instance".into()),
    };
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
    let per_worker = if quick { 500 } else { 4_000 };
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
    let get_rps = rate(n, start.elapsed());
    println!("single-record GET: {n} requests, {get_rps:.0} req/s ({workers} connections)");

    // 10,000-record pages.
    let page_url = format!("{base}/api/now/table/incident?sysparm_limit=10000");
    let first = Instant::now();
    let bytes = get(&client, &page_url, &auth).await?;
    println!(
        "one 10,000-record page: {:?}, {:.1} MB",
        first.elapsed(),
        bytes as f64 / 1e6
    );
    let pages = if quick { 6 } else { 20 };
    let mut times = Vec::new();
    let start = Instant::now();
    for i in 0..pages {
        let url = format!(
            "{page_url}&sysparm_offset={}",
            (i * 10_000) % records.max(1)
        );
        let t = Instant::now();
        get(&client, &url, &auth).await?;
        times.push(t.elapsed());
    }
    let seq = start.elapsed();
    let seq_rate = rate(pages, seq);
    let (page_med, page_min, page_max) = stats(times);
    println!(
        "10,000-record pages, sequential: {seq_rate:.1} pages/s (median {page_med:.1} ms per page)"
    );
    // What a paging client asks for: the same pages in sys_id order.
    let mut times = Vec::new();
    for i in 0..pages.min(10) {
        let url = format!(
            "{page_url}&sysparm_query=ORDERBYsys_id&sysparm_offset={}",
            (i * 10_000) % records.max(1)
        );
        let t = Instant::now();
        get(&client, &url, &auth).await?;
        times.push(t.elapsed());
    }
    let (ord_med, ord_min, ord_max) = stats(times);
    println!("10,000-record pages, ORDERBYsys_id: median {ord_med:.1} ms per page");
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
    let par_rate = rate(pages, start.elapsed());
    println!("10,000-record pages, 2 concurrent: {par_rate:.1} pages/s");
    println!(
        "result records={records} page_bytes={bytes} get_rps={get_rps:.0} \
         pages_per_s={seq_rate:.2} pages_per_s_2={par_rate:.2} \
         page_ms_median={page_med:.1} page_ms_min={page_min:.1} page_ms_max={page_max:.1} \
         ordered_page_ms_median={ord_med:.1} ordered_page_ms_min={ord_min:.1} \
         ordered_page_ms_max={ord_max:.1}"
    );
    if let Some(instance) = instance {
        instance.shutdown().await?;
    }
    Ok(())
}
