//! An acknowledged write survives `kill -9`: the real binary with `--data`, concurrent writers
//! recording every write that got its 2xx, SIGKILL in the middle of the burst, a restart on
//! the same directory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::common::{Http, admin, spawn, temp_dir};
use bytes::Bytes;
use http::Method;
use serde_json::json;

/// What a record should look like after the restart: `Some(short_description)` or `None`
/// for deleted.
type State = Option<String>;

/// One record's acknowledged state, and the write in flight when the server died (which
/// may or may not have reached the disk).
#[derive(Debug, Clone)]
struct Tracked {
    acked: State,
    pending: Option<State>,
}

#[derive(Debug, Default)]
struct Ledger {
    records: HashMap<String, Tracked>,
    acked_writes: usize,
}

fn lock(ledger: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    ledger.lock().unwrap_or_else(PoisonError::into_inner)
}

const INC: &str = "/api/now/table/incident";

/// Creates, updates twice and sometimes deletes records, one at a time, recording each
/// acknowledged write, until the server stops answering.
async fn writer(http: Http, task: usize, ledger: Arc<Mutex<Ledger>>, stop: Arc<AtomicBool>) {
    let auth = admin();
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json"),
    ];
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let value = format!("t{task}-r{n}-v0");
        let body = serde_json::to_vec(&json!({ "short_description": value })).unwrap_or_default();
        let Ok(r) = http.try_send(Method::POST, INC, &headers, body).await else {
            return;
        };
        if r.status != 201 {
            return;
        }
        let Some(id) = r.json()["result"]["sys_id"].as_str().map(str::to_owned) else {
            return;
        };
        {
            let mut l = lock(&ledger);
            l.records.insert(
                id.clone(),
                Tracked {
                    acked: Some(value),
                    pending: None,
                },
            );
            l.acked_writes += 1;
        }
        let path = format!("{INC}/{id}");
        let mut ops: Vec<State> = (1..=2)
            .map(|v| Some(format!("t{task}-r{n}-v{v}")))
            .collect();
        if n % 3 == 0 {
            ops.push(None);
        }
        for op in ops {
            lock(&ledger).records.get_mut(&id).expect("tracked").pending = Some(op.clone());
            let result = match &op {
                Some(v) => {
                    let body =
                        serde_json::to_vec(&json!({ "short_description": v })).unwrap_or_default();
                    http.try_send(Method::PATCH, &path, &headers, body).await
                }
                None => {
                    http.try_send(Method::DELETE, &path, &headers, Bytes::new())
                        .await
                }
            };
            let ok = matches!(&result, Ok(r) if r.status == 200 || r.status == 204);
            if !ok {
                return;
            }
            let mut l = lock(&ledger);
            let t = l.records.get_mut(&id).expect("tracked");
            t.acked = op;
            t.pending = None;
            l.acked_writes += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill_mid_burst() {
    let dir = temp_dir("sigkill");
    let dir_s = dir.to_string_lossy().into_owned();
    let (mut server, url) = spawn(&["--port", "0", "--records", "20", "--data", &dir_s]);
    let http = Http::new(&url);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..8)
        .map(|task| tokio::spawn(writer(http.clone(), task, ledger.clone(), stop.clone())))
        .collect();
    let started = Instant::now();
    while lock(&ledger).acked_writes < 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "too slow: {} writes acknowledged",
            lock(&ledger).acked_writes
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.0.kill().expect("SIGKILL");
    let _ = server.0.wait();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("writer task");
    }
    let ledger = std::mem::take(&mut *lock(&ledger));
    assert!(ledger.acked_writes >= 200);

    // A write cut short by the kill, as if the process died inside `write`: a header that
    // promises more bytes than follow.
    let logs: Vec<_> = std::fs::read_dir(&dir)
        .expect("data dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    assert!(!logs.is_empty(), "the writes were logged");
    let last = logs.iter().max().expect("a log");
    let mut torn = std::fs::read(last).expect("log");
    torn.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, b'{', b'"']);
    std::fs::write(last, torn).expect("append a torn entry");

    let (server, url) = spawn(&["--port", "0", "--data", &dir_s]);
    assert!(url.starts_with("http://"), "restarted: {url}");
    let http = Http::new(&url);
    let mut missing = Vec::new();
    for (id, t) in &ledger.records {
        let r = http
            .get(
                &format!("{INC}/{id}?sysparm_fields=short_description"),
                &admin(),
            )
            .await;
        let now: State = match r.status {
            200 => r.json()["result"]["short_description"]
                .as_str()
                .map(str::to_owned),
            404 => None,
            other => panic!("GET {id}: {other} {}", r.text()),
        };
        let allowed = now == t.acked || t.pending.as_ref() == Some(&now);
        if !allowed {
            missing.push(format!("{id}: acknowledged {:?}, found {now:?}", t.acked));
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes lost: {missing:?}",
        missing.len(),
        ledger.acked_writes
    );
    let list = http.get(&format!("{INC}?sysparm_limit=1"), &admin()).await;
    assert_eq!(list.status, 200, "the store loaded cleanly");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
