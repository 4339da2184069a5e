//! The write-ahead log of the data directory: every change is appended and flushed to disk
//! (`fdatasync`) before the request that made it is answered.
//!
//! One writer thread takes whatever changes are queued, appends them in one write, syncs once
//! and then wakes every request waiting for them (group commit). Each entry is framed as a
//! 4-byte little-endian payload length, a 4-byte little-endian CRC-32 of the payload, and the
//! payload. Reading stops at the first entry that is cut short or fails its checksum: that is
//! a write the process was killed in the middle of, never acknowledged, and ignored.
//!
//! The log is split into generations (`wal-<n>.log`). A compaction switches the writer to the
//! next generation at the same instant it snapshots the database, so once the snapshot is on
//! disk the older generations can be deleted.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use tokio::sync::{Notify, watch};

/// Entries larger than this are taken for garbage when reading (no record comes near it).
const MAX_ENTRY: u32 = 256 * 1024 * 1024;

const PREFIX: &str = "wal-";
const SUFFIX: &str = ".log";

/// The path of generation `generation` in `dir`.
pub(crate) fn log_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("{PREFIX}{generation:010}{SUFFIX}"))
}

/// The log files in `dir`, oldest generation first.
pub(crate) fn log_files(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let generation = name
            .strip_prefix(PREFIX)
            .and_then(|n| n.strip_suffix(SUFFIX))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(g) = generation {
            found.push((g, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Appends one framed entry.
pub(crate) fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What reading a log file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadLog {
    /// Complete entries handed to the callback.
    pub(crate) entries: usize,
    /// Where an incomplete or corrupt entry starts (ignored with everything after it).
    pub(crate) torn_at: Option<u64>,
}

/// Hands every complete entry of the log file to `each`, in order; stops at the first torn one.
///
/// # Errors
/// Reading the file failed, or `each` failed (its message is returned).
pub(crate) fn read_log(
    path: &Path,
    mut each: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<ReadLog, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut offset = 0u64;
    let mut entries = 0usize;
    let mut payload = Vec::new();
    loop {
        let mut head = [0u8; 8];
        match read_full(&mut reader, &mut head) {
            Ok(0) => {
                return Ok(ReadLog {
                    entries,
                    torn_at: None,
                });
            }
            Ok(8) => {}
            Ok(_) => return Ok(torn(entries, offset)),
            Err(e) => return Err(e.to_string()),
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if len > MAX_ENTRY {
            return Ok(torn(entries, offset));
        }
        payload.resize(len as usize, 0);
        match read_full(&mut reader, &mut payload) {
            Ok(n) if n == payload.len() => {}
            Ok(_) => return Ok(torn(entries, offset)),
            Err(e) => return Err(e.to_string()),
        }
        if crc32fast::hash(&payload) != crc {
            return Ok(torn(entries, offset));
        }
        each(&payload)?;
        entries += 1;
        offset += 8 + u64::from(len);
    }
}

fn torn(entries: usize, offset: u64) -> ReadLog {
    ReadLog {
        entries,
        torn_at: Some(offset),
    }
}

/// Reads until `buf` is full or the file ends; returns how many bytes were read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Makes a directory entry (a new or renamed file) durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// How far the log is on disk.
#[derive(Debug, Clone, Default)]
struct Durable {
    /// Every entry up to this sequence number is on disk.
    seq: u64,
    /// Writing failed; later entries are not durable.
    failed: Option<Arc<str>>,
}

enum Item {
    Entry(u64, Vec<u8>),
    /// Switch to the next generation; answer with the generation just closed.
    Rotate(mpsc::Sender<Result<u64, String>>),
}

#[derive(Default)]
struct Queue {
    items: Vec<Item>,
    next_seq: u64,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl Shared {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running log: a queue and the writer thread behind it.
pub(crate) struct Wal {
    shared: Arc<Shared>,
    /// Bytes in the current generation, as the writer last wrote them.
    logged: Arc<AtomicU64>,
    durable: watch::Receiver<Durable>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal").finish_non_exhaustive()
    }
}

/// A queued entry; [`Ticket::wait`] returns once it is on disk.
#[derive(Debug)]
pub(crate) struct Ticket(Option<(u64, watch::Receiver<Durable>)>);

impl Ticket {
    /// Nothing to wait for (no data directory).
    pub(crate) fn ready() -> Self {
        Self(None)
    }

    /// Waits until the entry is on disk.
    ///
    /// # Errors
    /// The log could not be written; the message says why.
    pub(crate) async fn wait(self) -> Result<(), String> {
        let Some((seq, mut rx)) = self.0 else {
            return Ok(());
        };
        let d = rx
            .wait_for(|d| d.seq >= seq || d.failed.is_some())
            .await
            .map_err(|_| "the log writer stopped".to_owned())?;
        if d.seq >= seq {
            return Ok(());
        }
        Err(d.failed.as_deref().unwrap_or("the log failed").to_owned())
    }
}

impl Wal {
    /// Opens generation `generation` in `dir` for appending and starts the writer. Once a
    /// generation holds more than `compact_after` bytes, `compact` is notified.
    pub(crate) fn start(
        dir: &Path,
        generation: u64,
        compact_after: u64,
        compact: Arc<Notify>,
    ) -> std::io::Result<Wal> {
        let file = open_append(dir, generation)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        });
        let (tx, durable) = watch::channel(Durable::default());
        let logged = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            logged: logged.clone(),
            dir: dir.to_owned(),
            generation,
            file,
            written: 0,
            compact_after,
            compact,
            durable: tx,
            failed: None,
        };
        let thread = std::thread::Builder::new()
            .name("snow-devinstance-wal".to_owned())
            .spawn({
                let shared = shared.clone();
                move || writer.run(&shared)
            })?;
        Ok(Wal {
            shared,
            logged,
            durable,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues one entry. Call it while holding the lock under which the change was made, so
    /// the log has the changes in the order they were made.
    pub(crate) fn append(&self, payload: Vec<u8>) -> Ticket {
        let mut q = self.shared.queue();
        if q.closed {
            drop(q);
            // Stopped: the entry can never become durable, and the waiter says so.
            let (tx, rx) = watch::channel(Durable {
                seq: 0,
                failed: Some("the instance is shutting down".into()),
            });
            drop(tx);
            return Ticket(Some((1, rx)));
        }
        q.next_seq += 1;
        let seq = q.next_seq;
        q.items.push(Item::Entry(seq, payload));
        drop(q);
        self.shared.wake.notify_one();
        Ticket(Some((seq, self.durable.clone())))
    }

    /// Bytes written to the current generation (0 right after a rotation).
    pub(crate) fn logged_bytes(&self) -> u64 {
        self.logged.load(Ordering::Relaxed)
    }

    /// Switches the writer to the next generation after the entries queued so far; the
    /// receiver gets the generation that was closed once it is complete on disk.
    pub(crate) fn rotate(&self) -> mpsc::Receiver<Result<u64, String>> {
        let (tx, rx) = mpsc::channel();
        let mut q = self.shared.queue();
        if q.closed {
            let _ = tx.send(Err("the log is closed".to_owned()));
        } else {
            q.items.push(Item::Rotate(tx));
        }
        drop(q);
        self.shared.wake.notify_one();
        rx
    }

    /// Writes what is queued and stops the writer.
    pub(crate) fn close(&self) {
        self.shared.queue().closed = true;
        self.shared.wake.notify_all();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        // Let the writer finish what is queued; it exits on its own.
        self.shared.queue().closed = true;
        self.shared.wake.notify_all();
    }
}

fn open_append(dir: &Path, generation: u64) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(dir, generation))?;
    sync_dir(dir)?;
    Ok(file)
}

struct Writer {
    dir: PathBuf,
    generation: u64,
    file: File,
    /// Bytes in the current generation.
    written: u64,
    /// `written`, shared with [`Wal::logged_bytes`].
    logged: Arc<AtomicU64>,
    compact_after: u64,
    compact: Arc<Notify>,
    durable: watch::Sender<Durable>,
    failed: Option<Arc<str>>,
}

impl Writer {
    fn run(mut self, shared: &Shared) {
        loop {
            let items = {
                let mut q = shared.queue();
                while q.items.is_empty() && !q.closed {
                    q = shared.wake.wait(q).unwrap_or_else(PoisonError::into_inner);
                }
                if q.items.is_empty() {
                    break;
                }
                std::mem::take(&mut q.items)
            };
            self.write_batch(items);
        }
    }

    fn write_batch(&mut self, items: Vec<Item>) {
        let mut buf = Vec::new();
        let mut last = None;
        for item in items {
            match item {
                Item::Entry(seq, payload) => {
                    frame(&mut buf, &payload);
                    last = Some(seq);
                }
                Item::Rotate(done) => {
                    self.flush(&mut buf, last.take());
                    let _ = done.send(self.next_generation());
                }
            }
        }
        self.flush(&mut buf, last);
    }

    /// Writes and syncs `buf`, then tells the waiters up to `last`.
    fn flush(&mut self, buf: &mut Vec<u8>, last: Option<u64>) {
        if buf.is_empty() {
            return;
        }
        if self.failed.is_none() {
            let res = self
                .file
                .write_all(buf)
                .and_then(|()| self.file.sync_data());
            if let Err(e) = res {
                tracing::error!(error = %e, "writing the log failed; writes are no longer durable");
                self.failed = Some(format!("writing the log failed: {e}").into());
            }
        }
        let before = self.written;
        self.written += buf.len() as u64;
        self.logged.store(self.written, Ordering::Relaxed);
        buf.clear();
        if before <= self.compact_after && self.written > self.compact_after {
            self.compact.notify_one();
        }
        let failed = self.failed.clone();
        self.durable.send_modify(|d| match (&failed, last) {
            (None, Some(seq)) => d.seq = d.seq.max(seq),
            (Some(f), _) => d.failed = Some(f.clone()),
            (None, None) => {}
        });
    }

    fn next_generation(&mut self) -> Result<u64, String> {
        if let Some(f) = &self.failed {
            return Err(f.to_string());
        }
        let closed = self.generation;
        match open_append(&self.dir, closed + 1) {
            Ok(file) => {
                self.file = file;
                self.generation = closed + 1;
                self.written = 0;
                self.logged.store(0, Ordering::Relaxed);
                Ok(closed)
            }
            Err(e) => Err(format!("cannot open the next log file: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "snow-devinstance-wal-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn entries(path: &Path) -> (Vec<Vec<u8>>, ReadLog) {
        let mut seen = Vec::new();
        let read = read_log(path, |p| {
            seen.push(p.to_vec());
            Ok(())
        })
        .expect("readable");
        (seen, read)
    }

    #[tokio::test]
    async fn acknowledged_entries_are_on_disk_and_a_torn_tail_is_ignored() {
        let dir = temp_dir("torn");
        let wal = Wal::start(&dir, 1, u64::MAX, Arc::new(Notify::new())).expect("starts");
        let tickets: Vec<Ticket> = (0..50)
            .map(|i| wal.append(format!("entry {i}").into_bytes()))
            .collect();
        for t in tickets {
            t.wait().await.expect("durable");
        }
        // Read while the writer is still open: everything acknowledged is already there.
        let (seen, read) = entries(&log_path(&dir, 1));
        assert_eq!(seen.len(), 50);
        assert_eq!(seen[49], b"entry 49");
        assert_eq!(read.torn_at, None);
        wal.close();

        // A write cut short (header only, then half a payload) and a corrupt entry.
        let full = std::fs::read(log_path(&dir, 1)).expect("log");
        for tail in [
            &[7u8, 0, 0][..],
            &[9, 0, 0, 0, 1, 2, 3, 4, b'x'][..],
            &{
                let mut bad = Vec::new();
                frame(&mut bad, b"checksum will not match");
                let last = bad.len() - 1;
                bad[last] ^= 0xff;
                bad
            }[..],
        ] {
            let mut torn_file = full.clone();
            torn_file.extend_from_slice(tail);
            std::fs::write(log_path(&dir, 2), &torn_file).expect("write");
            let (seen, read) = entries(&log_path(&dir, 2));
            assert_eq!(seen.len(), 50, "complete entries before the torn one");
            assert_eq!(read.torn_at, Some(full.len() as u64));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn rotation_starts_the_next_generation() {
        let dir = temp_dir("rotate");
        let notify = Arc::new(Notify::new());
        let wal = Wal::start(&dir, 3, 10, notify.clone()).expect("starts");
        wal.append(b"first generation, long enough to ask for compaction".to_vec())
            .wait()
            .await
            .expect("durable");
        tokio::time::timeout(std::time::Duration::from_secs(5), notify.notified())
            .await
            .expect("compaction asked for past the threshold");
        assert!(wal.logged_bytes() > 10);
        let closed = wal.rotate().recv().expect("answer").expect("rotated");
        assert_eq!(closed, 3);
        assert_eq!(wal.logged_bytes(), 0, "nothing in the new generation yet");
        wal.append(b"second".to_vec())
            .wait()
            .await
            .expect("durable");
        wal.close();
        let files: Vec<u64> = log_files(&dir)
            .expect("list")
            .into_iter()
            .map(|(g, _)| g)
            .collect();
        assert_eq!(files, [3, 4]);
        assert_eq!(entries(&log_path(&dir, 4)).0, [b"second".to_vec()]);
        assert!(
            wal.append(b"late".to_vec()).wait().await.is_err(),
            "no acknowledgement after close"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
