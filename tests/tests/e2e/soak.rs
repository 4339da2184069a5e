//! No data lost under faults: 32 workers read, create, update and delete records through the
//! client while the dev instance answers 5 % of requests with a fault (429, 502, 503, a reset
//! connection, a body cut short, a cancelled transaction). Each worker keeps a ledger of the
//! writes the instance acknowledged; an ambiguous outcome (the request may or may not have been
//! applied) is recorded as such, the way a careful integration would. At the end, with the
//! faults off, the instance's records must equal the ledger, and no create may have been
//! applied twice.
//!
//! `SNOW_SOAK_SECONDS` sets how long the workers run (a few seconds by default, for CI);
//! `cargo xtask soak --minutes N` runs the long version.

use std::collections::{HashMap, HashSet};

use std::time::{Duration, Instant};

use serde_json::json;
use snow_client::transport::{RetryConfig, Transport};
use snow_client::{Client, Error, Record, Retry, basic::BasicAuth, query::field};
use snow_devinstance::{DevConfig, DevInstance, FaultKind, FaultRule, Trigger};

const WORKERS: usize = 32;
const MARK: &str = "soak";

/// What a worker knows of one record it created.
#[derive(Debug, Clone, PartialEq)]
enum Known {
    /// Exists with one of these urgencies (two after an update whose outcome is unknown).
    Exists(Vec<String>),
    /// Deleted for sure.
    Deleted,
    /// May exist (an unacknowledged create or delete), with one of these urgencies.
    Maybe(Vec<String>),
}

#[derive(Debug, Default)]
struct Ledger {
    /// By marker (the record's short description), its sys_id when known.
    records: HashMap<String, (Option<String>, Known)>,
    acknowledged: u64,
    ambiguous: u64,
    reads: u64,
}

fn faults() -> Vec<FaultRule> {
    let share = 0.05 / 6.0;
    [
        FaultKind::Semaphore,
        FaultKind::ServerError { status: 502 },
        FaultKind::ServerError { status: 503 },
        FaultKind::ConnectionReset,
        FaultKind::TruncatedBody,
        FaultKind::TransactionCancelled,
    ]
    .into_iter()
    .map(|f| {
        FaultRule::new(f, Trigger::Fraction { p: share }).path_prefix("/api/now/table/incident")
    })
    .collect()
}

fn client(dev: &DevInstance) -> Client {
    let transport = Transport::builder(dev.base_url().parse().unwrap())
        .auth(BasicAuth::new("admin", "admin"))
        .retry(
            RetryConfig::default()
                .max_attempts(5)
                .base_delay(Duration::from_millis(5))
                .max_delay(Duration::from_millis(50)),
        )
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Client::new(transport)
}

/// A small deterministic generator (each worker its own).
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn worker(id: usize, client: Client, until: Instant) -> Ledger {
    let table = client.table("incident");
    let mut ledger = Ledger::default();
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15 ^ (id as u64 + 1));
    let mut n = 0u64;
    while Instant::now() < until {
        let roll = dice.next() % 100;
        let live: Vec<(String, String)> = ledger
            .records
            .iter()
            .filter_map(|(m, (sys_id, k))| match (sys_id, k) {
                (Some(s), Known::Exists(_)) => Some((m.clone(), s.clone())),
                _ => None,
            })
            .collect();
        if roll < 35 || live.is_empty() {
            n += 1;
            let marker = format!("{MARK}-{id}-{n}");
            let urgency = (1 + dice.next() % 3).to_string();
            match table
                .create(&json!({"short_description": marker, "urgency": urgency}))
                .await
            {
                Ok(r) => {
                    ledger.acknowledged += 1;
                    let sys_id = r.sys_id().map(str::to_owned);
                    assert!(sys_id.is_some(), "a create answered without a sys_id");
                    ledger
                        .records
                        .insert(marker, (sys_id, Known::Exists(vec![urgency])));
                }
                Err(e) => {
                    assert_ambiguous(&e);
                    ledger.ambiguous += 1;
                    ledger
                        .records
                        .insert(marker, (None, Known::Maybe(vec![urgency])));
                }
            }
            continue;
        }
        let (marker, sys_id) = live[(dice.next() as usize) % live.len()].clone();
        if roll < 70 {
            // A read of a record this worker wrote: what it holds must be what was written.
            match table.get(&sys_id).await {
                Ok(r) => {
                    ledger.reads += 1;
                    let Some((_, Known::Exists(urgencies))) = ledger.records.get(&marker) else {
                        unreachable!()
                    };
                    let got = r.str("urgency").unwrap_or("").to_owned();
                    assert!(
                        urgencies.contains(&got),
                        "{marker}: read {got}, wrote {urgencies:?}"
                    );
                    assert_eq!(r.str("short_description"), Some(marker.as_str()));
                }
                Err(e) => assert_ambiguous(&e),
            }
        } else if roll < 90 {
            // An update by sys_id is safe to repeat: the caller opts in to retries.
            let urgency = (1 + dice.next() % 3).to_string();
            let outcome = table
                .update(&sys_id, &json!({"urgency": urgency}))
                .retry(Retry::Always)
                .await;
            let entry = ledger.records.get_mut(&marker).unwrap();
            match outcome {
                Ok(_) => {
                    ledger.acknowledged += 1;
                    entry.1 = Known::Exists(vec![urgency]);
                }
                Err(e) => {
                    assert_ambiguous(&e);
                    ledger.ambiguous += 1;
                    if let Known::Exists(u) = &mut entry.1 {
                        u.push(urgency);
                    }
                }
            }
        } else {
            let outcome = table.delete(&sys_id).await;
            let entry = ledger.records.get_mut(&marker).unwrap();
            match outcome {
                Ok(()) => {
                    ledger.acknowledged += 1;
                    entry.1 = Known::Deleted;
                }
                // A retried delete whose first attempt went through.
                Err(Error::Api { status, .. }) if status == 404 => entry.1 = Known::Deleted,
                Err(e) => {
                    assert_ambiguous(&e);
                    ledger.ambiguous += 1;
                    if let Known::Exists(u) = &entry.1 {
                        entry.1 = Known::Maybe(u.clone());
                    }
                }
            }
        }
    }
    ledger
}

/// Only the injected faults may fail a call, and each such failure says so by its kind.
fn assert_ambiguous(e: &Error) {
    use snow_client::ErrorKind;
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Transient | ErrorKind::Throttling | ErrorKind::Server | ErrorKind::Response
        ),
        "an unexpected failure: {e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_under_faults_lose_nothing() {
    let seconds: u64 = std::env::var("SNOW_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let dev = DevInstance::start(DevConfig {
        records: 200,
        ..DevConfig::default()
    })
    .await
    .unwrap();
    dev.admin().set_faults(faults());
    let client = client(&dev);
    let until = Instant::now() + Duration::from_secs(seconds);
    // Memory over a long run: one line a minute (client and instance share this process).
    let watch = tokio::spawn(async move {
        let start = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            eprintln!(
                "soak: {} s, RSS {} KiB",
                start.elapsed().as_secs(),
                rss_kib().map_or_else(|| "?".to_owned(), |k| k.to_string())
            );
        }
    });
    let tasks: Vec<_> = (0..WORKERS)
        .map(|id| tokio::spawn(worker(id, client.clone(), until)))
        .collect();
    let mut ledgers = Vec::new();
    for t in tasks {
        ledgers.push(t.await.expect("a worker panicked"));
    }
    watch.abort();
    dev.admin().clear_faults();

    // What the instance holds now, by marker.
    let held: Vec<Record> = client
        .table("incident")
        .list()
        .query(field("short_description").starts_with(MARK))
        .fields(["short_description", "urgency"])
        .page_size(500)
        .all()
        .await
        .unwrap();
    let mut by_marker: HashMap<String, Vec<&Record>> = HashMap::new();
    for r in &held {
        by_marker
            .entry(r.str("short_description").unwrap_or("").to_owned())
            .or_default()
            .push(r);
    }
    for (marker, rs) in &by_marker {
        assert_eq!(rs.len(), 1, "{marker} was created {} times", rs.len());
    }

    let (mut acknowledged, mut ambiguous, mut reads) = (0, 0, 0);
    let mut known = HashSet::new();
    for ledger in &ledgers {
        acknowledged += ledger.acknowledged;
        ambiguous += ledger.ambiguous;
        reads += ledger.reads;
        for (marker, (sys_id, k)) in &ledger.records {
            known.insert(marker.clone());
            let found = by_marker.get(marker).map(|rs| rs[0]);
            match (k, found) {
                (Known::Exists(urgencies), Some(r)) => {
                    let got = r.str("urgency").unwrap_or("").to_owned();
                    assert!(
                        urgencies.contains(&got),
                        "{marker}: holds {got}, wrote {urgencies:?}"
                    );
                    assert_eq!(r.sys_id(), sys_id.as_deref(), "{marker}");
                }
                (Known::Exists(_), None) => panic!("{marker}: an acknowledged write was lost"),
                (Known::Deleted, Some(_)) => panic!("{marker}: an acknowledged delete came back"),
                (Known::Deleted, None) | (Known::Maybe(_), None) => {}
                (Known::Maybe(urgencies), Some(r)) => {
                    let got = r.str("urgency").unwrap_or("").to_owned();
                    assert!(
                        urgencies.contains(&got),
                        "{marker}: holds {got}, wrote {urgencies:?}"
                    );
                }
            }
        }
    }
    for marker in by_marker.keys() {
        assert!(
            known.contains(marker),
            "{marker} exists but no worker wrote it"
        );
    }
    eprintln!(
        "soak: {seconds} s, {WORKERS} workers, {acknowledged} acknowledged writes, {ambiguous} \
         ambiguous, {reads} checked reads, {} records at the end; peak RSS {} KiB",
        held.len(),
        peak_rss_kib().map_or_else(|| "?".to_owned(), |k| k.to_string())
    );
    assert!(
        acknowledged > 100,
        "the workload ran ({acknowledged} writes)"
    );
    assert!(ambiguous > 0 || seconds < 2, "faults were injected");
    dev.shutdown().await.unwrap();
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn rss_kib() -> Option<u64> {
    status_kib("VmRSS:")
}

fn peak_rss_kib() -> Option<u64> {
    status_kib("VmHWM:")
}
