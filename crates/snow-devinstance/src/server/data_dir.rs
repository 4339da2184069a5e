//! The data directory: its layout, loading it at start and saving the state into it.
//!
//! Layout: `db.json` (the whole database) and `attachments/<sys_id>` (attachment bytes).
//! Every file is written to a temporary name first and renamed into place, so a crash in
//! the middle of a save leaves the previous state intact.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

use super::Error;
use super::state::State;
use crate::db::{Db, is_sys_id};

const DB_FILE: &str = "db.json";
const BLOB_DIR: &str = "attachments";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Data {
        path: path.to_owned(),
        source,
    }
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// A loaded state: the database and the attachment bytes by sys_id.
pub(crate) type Loaded = (Db, HashMap<String, Bytes>);

/// Load a saved state; `None` when the directory holds none yet.
pub(crate) fn load(dir: &Path) -> Result<Option<Loaded>, Error> {
    let db_path = dir.join(DB_FILE);
    let text = match std::fs::read(&db_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&db_path)(e)),
    };
    let db = db_from_bytes(&text).map_err(|message| Error::Corrupt {
        path: db_path.clone(),
        message,
    })?;
    let mut blobs = HashMap::new();
    let blob_dir = dir.join(BLOB_DIR);
    if let Ok(entries) = std::fs::read_dir(&blob_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_sys_id(&name) {
                continue;
            }
            let path = entry.path();
            let data = std::fs::read(&path).map_err(io(&path))?;
            blobs.insert(name, Bytes::from(data));
        }
    }
    Ok(Some((db, blobs)))
}

/// Save the database and attachment bytes.
pub(crate) fn save(state: &State, dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let text = db_to_bytes(&state.db());
    write_atomic(&dir.join(DB_FILE), &text)?;
    let blob_dir: PathBuf = dir.join(BLOB_DIR);
    std::fs::create_dir_all(&blob_dir).map_err(io(&blob_dir))?;
    let blobs = state
        .blobs
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    for (id, data) in &blobs {
        if !is_sys_id(id) {
            continue;
        }
        let path = blob_dir.join(id);
        let same = std::fs::metadata(&path).is_ok_and(|m| m.len() == data.len() as u64);
        if !same {
            write_atomic(&path, data)?;
        }
    }
    if let Ok(entries) = std::fs::read_dir(&blob_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_sys_id(&name) && !blobs.contains_key(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

/// Save every `every` until the instance stops.
pub(crate) async fn periodic(
    state: Arc<State>,
    dir: PathBuf,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(every.max(Duration::from_millis(100)));
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let (state, dir) = (state.clone(), dir.clone());
                match tokio::task::spawn_blocking(move || save(&state, &dir)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "periodic save failed"),
                    Err(e) => tracing::warn!(error = %e, "periodic save task failed"),
                }
            }
            _ = stop.changed() => break,
        }
    }
}

fn db_to_bytes(db: &Db) -> Vec<u8> {
    db.to_json()
}

fn db_from_bytes(bytes: &[u8]) -> Result<Db, String> {
    Db::from_json(bytes).map_err(|e| e.to_string())
}
