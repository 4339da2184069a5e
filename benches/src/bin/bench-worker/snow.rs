//! snow's contenders: `snow-typed` (records decoded into [`Incident`]) and `snow-dynamic`
//! (snow's [`Record`], one field read from each), used the way its documentation shows.

use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use snow_client::transport::TlsConfig;
use snow_client::{Client, Record};

use crate::model::Incident;
use crate::{Args, BoxError, Outcome, Prepared};

/// 1 for a dynamic record that is an incident (its number read, as an application would).
fn record_check(r: &Record) -> u64 {
    let check = u64::from(r.str("number").is_some_and(|n| n.starts_with("INC")));
    std::hint::black_box(r);
    check
}

fn client(args: &Args) -> Result<Client, BoxError> {
    let mut b = Client::builder(&args.url).basic("admin", "admin");
    if let Some(ca) = &args.ca {
        let pem = std::fs::read(ca).map_err(|e| format!("{ca}: {e}"))?;
        b = b.tls(TlsConfig::default().add_ca_pem(pem));
    }
    Ok(b.build()?)
}

/// Runs workload `w` for the snow contender `c`.
pub(crate) async fn run(
    w: &str,
    c: &str,
    args: &Args,
    prepared: Prepared,
) -> Result<Outcome, BoxError> {
    let typed = match c {
        "snow-typed" => true,
        "snow-dynamic" => false,
        other => return Err(format!("unknown contender {other:?}").into()),
    };
    match w {
        "w1" => stream_records(&client(args)?, args.records, args.page_size, 1, true, typed).await,
        "w2" => sequential(&client(args)?, &prepared.ids, typed).await,
        "w3" => in_flight(&client(args)?, prepared.ids, args.in_flight, typed).await,
        "w4" => {
            let records = args.pages.saturating_mul(args.page_size);
            stream_records(
                &client(args)?,
                records,
                args.page_size,
                args.concurrency,
                args.ask_ahead,
                typed,
            )
            .await
        }
        "w5" => expired_token(args).await,
        other => Err(format!("snow does not run {other}").into()),
    }
}

/// W1 and W4: `records` incidents in pages of `page_size`, `concurrency` pages at a time.
async fn stream_records(
    client: &Client,
    records: u64,
    page_size: u64,
    concurrency: usize,
    ask_ahead: bool,
    typed: bool,
) -> Result<Outcome, BoxError> {
    let list = client
        .table("incident")
        .list()
        .page_size(page_size)
        .limit(records)
        .concurrency(concurrency)
        .ask_ahead(ask_ahead);
    let mut out = Outcome::default();
    if typed {
        let mut s = list.stream::<Incident>();
        while let Some(r) = s.try_next().await? {
            out.check += r.check();
            out.count += 1;
        }
    } else {
        let mut s = list.stream::<Record>();
        while let Some(r) = s.try_next().await? {
            out.check += record_check(&r);
            out.count += 1;
        }
    }
    Ok(out)
}

/// One record by sys_id: the check value.
async fn get_one(client: &Client, id: &str, typed: bool) -> Result<u64, BoxError> {
    let get = client.table("incident").get(id);
    Ok(if typed {
        get.fetch::<Incident>().await?.check()
    } else {
        record_check(&get.await?)
    })
}

/// W2: one GET after the other.
async fn sequential(client: &Client, ids: &[String], typed: bool) -> Result<Outcome, BoxError> {
    let mut out = Outcome::default();
    for id in ids {
        let start = Instant::now();
        out.check += get_one(client, id, typed).await?;
        if out.first.is_none() {
            out.first = Some(start.elapsed());
        }
        out.count += 1;
    }
    Ok(out)
}

/// W3: `n` GETs in flight at any time.
async fn in_flight(
    client: &Client,
    ids: Vec<String>,
    n: usize,
    typed: bool,
) -> Result<Outcome, BoxError> {
    let mut out = Outcome::default();
    let mut results = stream::iter(ids)
        .map(|id| async move { get_one(client, &id, typed).await })
        .buffer_unordered(n);
    while let Some(r) = results.next().await {
        out.check += r?;
        out.count += 1;
    }
    Ok(out)
}

/// W5: an OAuth client (password grant) gets its token with one request; the instance's
/// clock then moves past the token's lifetime, and `--requests` requests go at once. Every
/// one must succeed; the driver counts the grants the instance made.
async fn expired_token(args: &Args) -> Result<Outcome, BoxError> {
    let client =
        Client::oauth_password(&args.url, "snow-dev", "snow-dev-secret", "admin", "admin")?;
    let ids = crate::load_ids(args, args.requests)?;
    client
        .table("incident")
        .get(&ids[0])
        .fetch::<Incident>()
        .await?;
    // 1800 s is the instance's access-token lifetime; the refresh token lives far longer.
    // The instance hands out a user's live token again rather than a new one, so round n of
    // the driver moves the clock to (n + 1) × 1900 s: past this run's token and past every
    // token of the runs before it (the clock stays where the last run left it).
    let round: i64 = std::env::var("SNOW_BENCH_ROUND")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let skew = format!(r#"{{"skew_secs":{}}}"#, (round + 1) * 1900);
    crate::raw::admin(&args.url, http::Method::PUT, "/__dev/clock", &skew).await?;
    let started = Instant::now();
    let results = futures_util::future::join_all(
        ids.iter()
            .map(|id| async { get_one(&client, id, true).await }),
    )
    .await;
    let mut out = Outcome {
        wall: Some(started.elapsed()),
        ..Outcome::default()
    };
    for r in results {
        out.check += r?;
        out.count += 1;
    }
    Ok(out)
}
