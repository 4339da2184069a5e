//! `bench-worker`: one contender running one workload against a running dev instance, in its
//! own process, reporting one JSON line on standard output:
//!
//! ```text
//! bench-worker w1 snow-typed --url http://127.0.0.1:PORT --records 200000
//! {"workload":"w1","contender":"snow-typed","count":200000,"wall_ms":1234.5,"first_ms":null,"peak_rss_kib":49152,"check":200000}
//! ```
//!
//! Workloads (`docs/benchmarks.md`):
//!
//! - `w1`: stream `--records` incidents in pages of `--page-size` (10,000), ordered by sys_id.
//! - `w2`: `--requests` sequential GETs by sys_id (ids from `--ids FILE`, one a line), one
//!   keep-alive connection; with `--ca FILE` over TLS.
//! - `w3`: `--requests` GETs by sys_id, `--in-flight` (64) at a time.
//! - `w4`: `--pages` pages of `--page-size` records, `--concurrency` pages at a time (snow only;
//!   `--ask-ahead 0`: a sequential stream asks for each page only when it has room for it).
//! - `w5`: `--requests` concurrent requests through an OAuth client whose token the instance
//!   has just expired (snow only; the driver expires it and counts the grants).
//! - `ids`: writes `--requests` sys_ids of incidents to `--out FILE` (not timed).
//!
//! Contenders: `raw-bytes` (hyper, bodies read and dropped: the server-and-wire floor),
//! `raw-typed` (the same decoded into [`model::Incident`]), `raw-value` (into
//! `serde_json::Value`), `snow-typed`, `snow-dynamic` (snow's `Record`, one field read).
//!
//! `wall_ms` is measured around the workload only (not start-up, not reading the ids); peak
//! RSS is `VmHWM` of `/proc/self/status` at the end.

mod model;
mod raw;
mod snow;

use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the worker was asked to do.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub(crate) workload: String,
    pub(crate) contender: String,
    pub(crate) url: String,
    pub(crate) records: u64,
    pub(crate) page_size: u64,
    pub(crate) requests: usize,
    pub(crate) in_flight: usize,
    pub(crate) pages: u64,
    pub(crate) concurrency: usize,
    /// Whether a sequential snow stream asks for the page after next before it is needed.
    pub(crate) ask_ahead: bool,
    pub(crate) ids: Option<String>,
    pub(crate) out: Option<String>,
    pub(crate) ca: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let usage = "usage: bench-worker WORKLOAD CONTENDER --url URL [--records N] [--page-size N] \
                 [--requests N] [--in-flight N] [--pages N] [--concurrency N] [--ask-ahead 0|1] [--ids FILE] \
                 [--out FILE] [--ca FILE]";
    let workload = it.next().ok_or(usage)?;
    let contender = if workload == "ids" {
        String::new()
    } else {
        it.next().ok_or(usage)?
    };
    let mut a = Args {
        workload,
        contender,
        url: String::new(),
        records: 200_000,
        page_size: 10_000,
        requests: 10_000,
        in_flight: 64,
        pages: 100,
        concurrency: 1,
        ask_ahead: true,
        ids: None,
        out: None,
        ca: None,
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--url" => a.url = value,
            "--records" => a.records = num(&value)?,
            "--page-size" => a.page_size = num(&value)?.max(1),
            "--requests" => a.requests = num(&value)? as usize,
            "--in-flight" => a.in_flight = num(&value)?.max(1) as usize,
            "--pages" => a.pages = num(&value)?,
            "--concurrency" => a.concurrency = num(&value)?.max(1) as usize,
            "--ask-ahead" => a.ask_ahead = num(&value)? != 0,
            "--ids" => a.ids = Some(value),
            "--out" => a.out = Some(value),
            "--ca" => a.ca = Some(value),
            other => return Err(format!("unknown argument {other:?}\n{usage}")),
        }
    }
    if a.url.is_empty() {
        return Err(usage.into());
    }
    a.url = a.url.trim_end_matches('/').to_owned();
    Ok(a)
}

/// What a workload reports: how many records or requests, a number derived from the data
/// (so nothing is optimised away, and the driver can check it), and the time of the first
/// request when it is worth showing (the connection and TLS handshake).
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) count: u64,
    pub(crate) check: u64,
    pub(crate) first: Option<Duration>,
    /// The time to report instead of the whole run's, when the workload prepares more than
    /// it measures.
    pub(crate) wall: Option<Duration>,
}

/// `VmHWM` (peak resident set) of this process, in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The sys_ids of the file given with `--ids`, at most `n` (repeated when the file has fewer).
pub(crate) fn load_ids(args: &Args, n: usize) -> Result<Vec<String>, BoxError> {
    let path = args
        .ids
        .as_deref()
        .ok_or("this workload needs --ids FILE")?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let ids: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return Err(format!("{path} holds no sys_id").into());
    }
    Ok(ids.iter().cycle().take(n).cloned().collect())
}

async fn run(args: &Args) -> Result<Option<(Outcome, Duration)>, BoxError> {
    if args.workload == "ids" {
        raw::write_ids(args).await?;
        return Ok(None);
    }
    // Everything a workload needs before it starts (ids, clients) is prepared untimed.
    let prepared = Prepared::new(args)?;
    let started = Instant::now();
    let outcome = match (args.workload.as_str(), args.contender.as_str()) {
        (w, c) if c.starts_with("raw-") => raw::run(w, c, args, prepared).await?,
        (w, c) if c.starts_with("snow-") => snow::run(w, c, args, prepared).await?,
        (w, c) => return Err(format!("no contender {c:?} for workload {w:?}").into()),
    };
    let wall = outcome.wall.unwrap_or_else(|| started.elapsed());
    Ok(Some((outcome, wall)))
}

/// Inputs read before the clock starts.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    pub(crate) ids: Vec<String>,
}

impl Prepared {
    fn new(args: &Args) -> Result<Self, BoxError> {
        let ids = match args.workload.as_str() {
            "w2" | "w3" => load_ids(args, args.requests)?,
            _ => Vec::new(),
        };
        Ok(Self { ids })
    }
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench-worker: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench-worker: no runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(None) => std::process::ExitCode::SUCCESS,
        Ok(Some((outcome, wall))) => {
            let rss = peak_rss_kib().map_or_else(|| "null".to_owned(), |k| k.to_string());
            let first = outcome.first.map_or_else(
                || "null".to_owned(),
                |d| format!("{:.3}", d.as_secs_f64() * 1000.0),
            );
            println!(
                "{{\"workload\":\"{}\",\"contender\":\"{}\",\"count\":{},\"wall_ms\":{:.3},\"first_ms\":{first},\"peak_rss_kib\":{rss},\"check\":{}}}",
                args.workload,
                args.contender,
                outcome.count,
                wall.as_secs_f64() * 1000.0,
                outcome.check,
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-worker {} {}: {e}", args.workload, args.contender);
            std::process::ExitCode::FAILURE
        }
    }
}
