//! Attachment bytes: in memory without a data directory, in `DIR/attachments/<sys_id>` with
//! one. Either way the total is capped (`DevConfig::max_attachment_total_bytes`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use super::wal::sync_dir;

/// Why attachment bytes could not be stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PutError {
    /// Storing them would take the total past the cap.
    #[error("the attachment store is full: {used} of {cap} bytes in use, {wanted} more asked for")]
    Full {
        /// Bytes stored now.
        used: u64,
        /// The cap.
        cap: u64,
        /// The size of the refused attachment.
        wanted: u64,
    },
    /// Writing the file failed.
    #[error("writing the attachment failed: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Default)]
struct Inner {
    /// The bytes, in memory mode.
    mem: HashMap<String, Bytes>,
    /// Size of every stored attachment (both modes).
    sizes: HashMap<String, u64>,
    /// Sum of `sizes`, plus space reserved by writes in progress.
    total: u64,
}

/// The attachment byte store of one instance.
#[derive(Debug)]
pub(crate) struct Blobs {
    inner: Mutex<Inner>,
    cap: u64,
    /// `Some` in disk mode.
    dir: Option<PathBuf>,
}

impl Blobs {
    /// Bytes kept in memory.
    pub(crate) fn in_memory(cap: u64) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            cap,
            dir: None,
        }
    }

    /// Bytes kept as files in `dir`, which already holds `existing` (sys_id → size).
    pub(crate) fn on_disk(dir: PathBuf, cap: u64, existing: HashMap<String, u64>) -> Self {
        let total = existing.values().sum();
        Self {
            inner: Mutex::new(Inner {
                mem: HashMap::new(),
                sizes: existing,
                total,
            }),
            cap,
            dir: Some(dir),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes stored (and reserved by uploads in progress).
    pub(crate) fn total(&self) -> u64 {
        self.inner().total
    }

    /// The cap on [`Blobs::total`].
    pub(crate) fn cap(&self) -> u64 {
        self.cap
    }

    /// Whether the bytes live on disk.
    pub(crate) fn on_disk_mode(&self) -> bool {
        self.dir.is_some()
    }

    fn path(dir: &Path, sys_id: &str) -> PathBuf {
        dir.join(sys_id)
    }

    /// Stores the bytes of a new attachment; on disk they are synced before this returns.
    ///
    /// # Errors
    /// [`PutError::Full`] past the cap, [`PutError::Io`] when the file cannot be written.
    pub(crate) async fn put(&self, sys_id: &str, data: Bytes) -> Result<(), PutError> {
        let len = data.len() as u64;
        {
            let mut inner = self.inner();
            if inner.total.saturating_add(len) > self.cap {
                return Err(PutError::Full {
                    used: inner.total,
                    cap: self.cap,
                    wanted: len,
                });
            }
            inner.total += len;
            if self.dir.is_none() {
                inner.mem.insert(sys_id.to_owned(), data);
                inner.sizes.insert(sys_id.to_owned(), len);
                return Ok(());
            }
        }
        let Some(dir) = self.dir.clone() else {
            return Ok(());
        };
        let path = Self::path(&dir, sys_id);
        let written = tokio::task::spawn_blocking(move || write_durable(&path, &data))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        let mut inner = self.inner();
        match written {
            Ok(()) => {
                inner.sizes.insert(sys_id.to_owned(), len);
                Ok(())
            }
            Err(e) => {
                inner.total = inner.total.saturating_sub(len);
                Err(PutError::Io(e))
            }
        }
    }

    /// The bytes of an attachment, `None` when there are none.
    pub(crate) async fn get(&self, sys_id: &str) -> Option<Bytes> {
        let Some(dir) = &self.dir else {
            return self.inner().mem.get(sys_id).cloned();
        };
        if !self.inner().sizes.contains_key(sys_id) {
            return None;
        }
        tokio::fs::read(Self::path(dir, sys_id))
            .await
            .ok()
            .map(Bytes::from)
    }

    /// Forgets the bytes of these attachments (and deletes their files).
    pub(crate) async fn remove(&self, sys_ids: &[String]) {
        let mut gone = Vec::new();
        {
            let mut inner = self.inner();
            for id in sys_ids {
                inner.mem.remove(id.as_str());
                if let Some(len) = inner.sizes.remove(id.as_str()) {
                    inner.total = inner.total.saturating_sub(len);
                    gone.push(id.clone());
                }
            }
        }
        if let (Some(dir), false) = (&self.dir, gone.is_empty()) {
            let dir = dir.clone();
            let _ = tokio::task::spawn_blocking(move || {
                for id in gone {
                    let _ = std::fs::remove_file(Self::path(&dir, &id));
                }
            })
            .await;
        }
    }
}

/// Writes `data` to `path` through a temporary file, synced, renamed into place, the
/// directory synced: after this returns the file survives a crash whole or not at all.
pub(crate) fn write_durable(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(data)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}
