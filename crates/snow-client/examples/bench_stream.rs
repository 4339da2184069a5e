//! Streaming benchmark: page through incidents of a running dev instance and report wall time
//! and this process's peak memory, as one JSON line.
//!
//! ```text
//! snow-devinstance --records 1000000 &           # prints its base URL
//! cargo run --release -p snow-client --example bench_stream -- \
//!     --url http://127.0.0.1:PORT --records 200000 [--page 10000] [--typed|--raw-json] [--raw] [--keyset]
//! ```
//!
//! - default: snow's `table("incident").list().page_size(page).limit(records).stream()`,
//!   decoding each record into a dynamic [`Record`] (`--typed`: into a small serde struct;
//!   `--raw-json`: into `Box<RawValue>`, each record's JSON as received, the cheapest stream;
//!   `--keyset`: with keyset paging, as `snow export` pages).
//! - `--raw`: the baseline, a minimal loop over hyper-util's client and serde_json asking for the
//!   same pages (same `sysparm_query=ORDERBYsys_id`, limits and offsets), decoding each page into
//!   `serde_json::Value` (`--typed`: into the same struct) and dropping it.
//!
//! Output: `{"mode":"snow","decode":"record","records":200000,"wall_ms":...,"peak_rss_kib":...}`.
//! Peak RSS is `VmHWM` of `/proc/self/status` (Linux), read at the end; `null` elsewhere.
//! Run each configuration in its own process so that the figure is that configuration's alone.

use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use snow_client::{Client, Field, Record};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A few incident fields, as an application would declare them (the rest are ignored).
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read by nobody: the benchmark only decodes
struct Incident {
    sys_id: String,
    number: String,
    short_description: String,
    state: String,
    priority: String,
    active: String,
    opened_at: String,
    caller_id: Field,
    assignment_group: Field,
}

#[derive(Debug)]
struct Args {
    url: String,
    records: u64,
    page: u64,
    typed: bool,
    raw_json: bool,
    keyset: bool,
    raw: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        records: 200_000,
        page: 10_000,
        typed: false,
        raw_json: false,
        keyset: false,
        raw: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--url" => args.url = value("--url")?,
            "--records" => {
                args.records = value("--records")?
                    .parse()
                    .map_err(|e| format!("--records: {e}"))?;
            }
            "--page" => {
                args.page = value("--page")?
                    .parse()
                    .map_err(|e| format!("--page: {e}"))?;
            }
            "--typed" => args.typed = true,
            "--raw-json" => args.raw_json = true,
            "--keyset" => args.keyset = true,
            "--raw" => args.raw = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.url.is_empty() {
        return Err(
            "usage: bench_stream --url URL [--records N] [--page N] [--typed|--raw-json] [--raw] [--keyset]"
                .into(),
        );
    }
    if args.page == 0 {
        return Err("--page must be at least 1".into());
    }
    Ok(args)
}

/// `VmHWM` (peak resident set) of this process, in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

async fn snow_stream(args: &Args) -> Result<u64, BoxError> {
    let client = Client::basic(args.url.as_str(), "admin", "admin")?;
    let mut list = client
        .table("incident")
        .list()
        .page_size(args.page)
        .limit(args.records);
    if args.keyset {
        list = list.paging(snow_client::list::Paging::Keyset);
    }
    let mut n = 0u64;
    if args.raw_json {
        let mut s = list.stream::<Box<serde_json::value::RawValue>>();
        while let Some(r) = s.try_next().await? {
            std::hint::black_box(&r);
            n += 1;
        }
    } else if args.typed {
        let mut s = list.stream::<Incident>();
        while let Some(r) = s.try_next().await? {
            std::hint::black_box(&r);
            n += 1;
        }
    } else {
        let mut s = list.stream::<Record>();
        while let Some(r) = s.try_next().await? {
            std::hint::black_box(&r);
            n += 1;
        }
    }
    Ok(n)
}

#[derive(Deserialize)]
struct Envelope<T> {
    result: Vec<T>,
}

async fn raw_loop(args: &Args) -> Result<u64, BoxError> {
    let client: HyperClient<HttpConnector, Empty<Bytes>> =
        HyperClient::builder(TokioExecutor::new()).build_http();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:admin")
    );
    let base = args.url.trim_end_matches('/');
    let (mut offset, mut n, mut total) = (0u64, 0u64, None::<u64>);
    while n < args.records.min(total.unwrap_or(u64::MAX)) {
        let limit = args.page.min(args.records - n);
        let uri = format!(
            "{base}/api/now/table/incident?sysparm_query=ORDERBYsys_id&sysparm_limit={limit}\
             &sysparm_offset={offset}&sysparm_suppress_pagination_header=true"
        );
        let req = http::Request::get(uri)
            .header(http::header::AUTHORIZATION, &auth)
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::new())?;
        let resp = client.request(req).await?;
        if !resp.status().is_success() {
            return Err(format!("status {}", resp.status()).into());
        }
        if total.is_none() {
            total = resp
                .headers()
                .get("x-total-count")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
        }
        let body = resp.into_body().collect().await?.to_bytes();
        let got = if args.typed {
            let page: Envelope<Incident> = serde_json::from_slice(&body)?;
            std::hint::black_box(&page.result);
            page.result.len()
        } else {
            let page: Envelope<serde_json::Value> = serde_json::from_slice(&body)?;
            std::hint::black_box(&page.result);
            page.result.len()
        } as u64;
        n += got;
        offset += got;
        if got < limit {
            break;
        }
    }
    Ok(n)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    let started = Instant::now();
    let records = if args.raw {
        raw_loop(&args).await?
    } else {
        snow_stream(&args).await?
    };
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    let rss = peak_rss_kib().map_or_else(|| "null".to_owned(), |k| k.to_string());
    println!(
        "{{\"mode\":\"{}\",\"decode\":\"{}\",\"page\":{},\"records\":{records},\"wall_ms\":{wall_ms:.1},\"peak_rss_kib\":{rss}}}",
        if args.raw { "raw" } else { "snow" },
        if args.typed {
            "typed"
        } else if args.raw_json {
            "raw_json"
        } else {
            "record"
        },
        args.page,
    );
    Ok(())
}
