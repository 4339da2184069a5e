//! The data directory: its layout, opening it at start, logging writes into it, and
//! compaction.
//!
//! Layout:
//!
//! - `db.json`: a snapshot of the whole database (the snapshot format of [`crate::db::Db::to_json`]).
//! - `wal-<n>.log`: every change since the snapshot, each on disk before its request is
//!   answered (see the `wal` module). Replayed on top of the snapshot at start.
//! - `attachments/<sys_id>`: attachment bytes, synced before their metadata record is logged.
//!
//! At start the snapshot is loaded (or the database seeded when there is none), the logs are
//! replayed (a torn last entry is ignored), the result is written as the new snapshot and the
//! replayed logs are deleted; attachment files no record refers to are removed. While running,
//! a compaction writes a new snapshot and deletes the logs it covers: every `persist_every`
//! (without it, every five minutes if anything was logged), when a log grows past
//! `compact_log_bytes`, and at shutdown.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::Error;
use super::blobs::{Blobs, write_durable};
use super::config::DevConfig;
use super::state::State;
use super::wal::{self, Ticket, Wal};
use crate::db::{Change, Db, EvalCtx, is_sys_id};

const DB_FILE: &str = "db.json";
const BLOB_DIR: &str = "attachments";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Data {
        path: path.to_owned(),
        source,
    }
}

/// The durable side of a running instance with a data directory.
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
    wal: Wal,
    /// One compaction at a time.
    compacting: Mutex<()>,
    /// Notified by the log writer when a log grows past the compaction threshold.
    compact_wanted: Arc<Notify>,
}

impl Journal {
    /// Logs the current state of each record (a put, or a delete when it is gone). Call it
    /// with the database write lock held, right after the change.
    pub(crate) fn record(&self, db: &Db, sys_ids: &[&str]) -> Ticket {
        let mut ticket = Ticket::ready();
        for id in sys_ids {
            ticket = self.wal.append(db.change_for(id).to_json());
        }
        ticket
    }

    /// Writes what is queued and stops the log writer.
    pub(crate) fn close(&self) {
        self.wal.close();
    }
}

/// What opening a data directory gives the instance.
pub(crate) struct Opened {
    pub(crate) db: Db,
    pub(crate) blobs: Blobs,
    pub(crate) journal: Journal,
}

/// Opens (creating it if needed) the data directory: snapshot, log replay, a fresh snapshot,
/// attachment clean-up, and a new log.
pub(crate) fn open(config: &DevConfig, dir: &Path) -> Result<Opened, Error> {
    let blob_dir = dir.join(BLOB_DIR);
    std::fs::create_dir_all(&blob_dir).map_err(io(&blob_dir))?;
    let db_path = dir.join(DB_FILE);
    let (mut db, had_snapshot) = match std::fs::read(&db_path) {
        Ok(bytes) => {
            let db = Db::from_json(&bytes).map_err(|e| Error::Corrupt {
                path: db_path.clone(),
                message: e.to_string(),
            })?;
            (db, true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            (Db::new_seeded(config.seed, config.records), false)
        }
        Err(e) => return Err(io(&db_path)(e)),
    };
    let logs = wal::log_files(dir).map_err(io(dir))?;
    for (_, path) in &logs {
        let read = wal::read_log(path, |payload| {
            let change = Change::from_json(payload).map_err(|e| e.to_string())?;
            db.apply(&change).map_err(|e| e.to_string())
        })
        .map_err(|message| Error::Corrupt {
            path: path.clone(),
            message,
        })?;
        if let Some(at) = read.torn_at {
            tracing::warn!(
                file = %path.display(),
                offset = at,
                "ignoring an incomplete entry at the end of the log (a write cut short)"
            );
        }
    }
    if !had_snapshot || !logs.is_empty() {
        write_durable(&db_path, &db.to_json()).map_err(io(&db_path))?;
        for (_, path) in &logs {
            std::fs::remove_file(path).map_err(io(path))?;
        }
    }
    let existing = attachment_files(&db, &blob_dir)?;
    let next = logs.last().map_or(1, |(g, _)| g.saturating_add(1));
    let compact_wanted = Arc::new(Notify::new());
    let wal =
        Wal::start(dir, next, config.compact_log_bytes, compact_wanted.clone()).map_err(io(dir))?;
    Ok(Opened {
        db,
        blobs: Blobs::on_disk(blob_dir, config.max_attachment_total_bytes as u64, existing),
        journal: Journal {
            dir: dir.to_owned(),
            wal,
            compacting: Mutex::new(()),
            compact_wanted,
        },
    })
}

/// The attachment files that belong to a `sys_attachment` record, with their sizes; every
/// other file (an upload cut short, a temporary file) is deleted.
fn attachment_files(db: &Db, blob_dir: &Path) -> Result<HashMap<String, u64>, Error> {
    let referenced: HashSet<String> = db
        .list("sys_attachment", "", &EvalCtx::system(), 0, usize::MAX)
        .map(|l| l.rows.iter().map(|r| r.sys_id().to_owned()).collect())
        .unwrap_or_default();
    let mut kept = HashMap::new();
    for entry in std::fs::read_dir(blob_dir).map_err(io(blob_dir))? {
        let entry = entry.map_err(io(blob_dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if is_sys_id(&name) && referenced.contains(&name) {
            let len = entry.metadata().map_err(io(&path))?.len();
            kept.insert(name, len);
        } else if path.is_file() {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(kept)
}

/// Writes a snapshot of the database and deletes the logs it covers. A no-op without a data
/// directory.
pub(crate) fn compact(state: &State) -> Result<(), Error> {
    let Some(journal) = &state.journal else {
        return Ok(());
    };
    let _one = journal
        .compacting
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    // Under the read lock no write can be made and logged, so the snapshot holds exactly the
    // changes logged before the switch to the next log generation.
    let (snapshot, rotated) = {
        let db = state.db();
        let rotated = journal.wal.rotate();
        (db.to_json(), rotated)
    };
    let dir = &journal.dir;
    let failed = |message: String| Error::Data {
        path: dir.clone(),
        source: std::io::Error::other(message),
    };
    let closed = rotated
        .recv()
        .map_err(|_| failed("the log writer stopped".to_owned()))?
        .map_err(failed)?;
    let db_path = dir.join(DB_FILE);
    write_durable(&db_path, &snapshot).map_err(io(&db_path))?;
    for (generation, path) in wal::log_files(dir).map_err(io(dir))? {
        if generation <= closed {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// Without `persist_every`, how often the log is compacted if anything was logged.
const DEFAULT_COMPACT_EVERY: Duration = Duration::from_secs(300);

/// Compacts every `every` (if given; otherwise every five minutes when anything was logged
/// since the last compaction) and whenever a log grows past the threshold, until the
/// instance stops.
pub(crate) async fn compactor(
    state: Arc<State>,
    every: Option<Duration>,
    mut stop: watch::Receiver<bool>,
) {
    let Some(wanted) = state.journal.as_ref().map(|j| j.compact_wanted.clone()) else {
        return;
    };
    let always = every.is_some();
    let period = every
        .unwrap_or(DEFAULT_COMPACT_EVERY)
        .max(Duration::from_millis(100));
    let mut ticker = tokio::time::interval(period);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let logged = state.journal.as_ref().map_or(0, |j| j.wal.logged_bytes());
                if !always && logged == 0 {
                    continue;
                }
            }
            () = wanted.notified() => {}
            _ = stop.changed() => break,
        }
        let s = state.clone();
        match tokio::task::spawn_blocking(move || compact(&s)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "compaction failed"),
            Err(e) => tracing::warn!(error = %e, "compaction task failed"),
        }
    }
}
