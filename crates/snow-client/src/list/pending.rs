//! Records received but not decoded yet ([`Pending`]), and the [`BufferPool`] their page bodies
//! go back to.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use crate::Error;
use crate::response::walk::RecordAt;

/// Records received but not decoded yet: the bodies of one or more list responses and where
/// each record sits in them. Records are decoded one at a time as they are taken, and each body
/// is dropped as soon as its last record is taken, so a page costs its raw bytes, not its
/// decoded records.
pub(crate) struct Pending<T> {
    chunks: VecDeque<Chunk>,
    len: usize,
    decode: fn(&[u8], usize) -> Result<T, Error>,
    /// Where finished bodies go back to.
    pool: Option<Arc<BufferPool>>,
}

/// One response body and the records left in it.
pub(crate) struct Chunk {
    body: Bytes,
    /// Counts the body among the pages the stream holds, until the chunk is dropped.
    _lease: Option<Lease>,
    spans: std::vec::IntoIter<RecordAt>,
    /// Position of the next record in the response's `result` array (for error paths).
    index: usize,
}

impl<T> Pending<T> {
    pub(crate) fn empty(decode: fn(&[u8], usize) -> Result<T, Error>) -> Self {
        Self {
            chunks: VecDeque::new(),
            len: 0,
            decode,
            pool: None,
        }
    }

    /// Records not taken yet.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// A hash of the next record's bytes, to recognise a page that repeats the one before.
    pub(crate) fn first_hash(&self) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        let chunk = self.chunks.front()?;
        let span = chunk.spans.as_slice().first()?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        chunk.body.get(span.bytes.clone())?.hash(&mut h);
        Some(h.finish())
    }

    /// Drops all but the first `n` records.
    pub(crate) fn truncate(&mut self, n: usize) {
        let mut keep = n;
        for chunk in &mut self.chunks {
            let have = chunk.spans.len();
            if have > keep {
                let spans: Vec<_> = chunk.spans.by_ref().take(keep).collect();
                chunk.spans = spans.into_iter();
            }
            keep -= chunk.spans.len();
        }
        for chunk in std::mem::take(&mut self.chunks) {
            if chunk.spans.len() > 0 {
                self.chunks.push_back(chunk);
            } else if let Some(pool) = &self.pool {
                pool.give(chunk.body);
            }
        }
        self.len = self.len.min(n);
    }

    pub(crate) fn append(&mut self, mut other: Pending<T>) {
        self.len += other.len;
        self.chunks.append(&mut other.chunks);
        if self.pool.is_none() {
            self.pool = other.pool.take();
        }
    }

    /// Drops the first body, handing its buffer back for the next page.
    fn pop_front(&mut self) {
        if let (Some(chunk), Some(pool)) = (self.chunks.pop_front(), &self.pool) {
            pool.give(chunk.body);
        }
    }

    /// Decodes and removes the next record.
    #[cfg(test)]
    pub(crate) fn take(&mut self) -> Option<Result<T, Error>> {
        self.take_with(|_, _| Ok(()))
    }

    /// Removes the next record, shows its bytes and where its sys_id is (when known, see
    /// [`RecordAt::sys_id`]) to `inspect` (which may refuse it), then decodes it.
    pub(crate) fn take_with(
        &mut self,
        inspect: impl FnOnce(&[u8], Option<Option<Range<usize>>>) -> Result<(), Error>,
    ) -> Option<Result<T, Error>> {
        loop {
            let chunk = self.chunks.front_mut()?;
            let Some(span) = chunk.spans.next() else {
                self.pop_front();
                continue;
            };
            let index = chunk.index;
            chunk.index += 1;
            self.len = self.len.saturating_sub(1);
            let item = match chunk.body.get(span.bytes) {
                Some(bytes) => {
                    inspect(bytes, span.sys_id).and_then(|()| (self.decode)(bytes, index))
                }
                None => Err(Error::invalid_input(
                    "a record's position lies outside its page",
                )),
            };
            if chunk.spans.len() == 0 {
                self.pop_front();
            }
            return Some(item);
        }
    }
}

/// Reads only the `sys_id` of a record.
#[derive(serde::Deserialize)]
struct SysIdProbe {
    #[serde(default)]
    sys_id: Option<crate::Field>,
}

impl<T> Pending<T> {
    /// The `sys_id` of the last record not taken yet (its value, with any display value
    /// setting), decoded on its own; `None` when there is no record or it has no sys_id.
    pub(crate) fn last_sys_id(&self) -> Result<Option<String>, Error> {
        let Some(chunk) = self.chunks.back() else {
            return Ok(None);
        };
        let Some(span) = chunk.spans.as_slice().last() else {
            return Ok(None);
        };
        let index = chunk.index + chunk.spans.len() - 1;
        let bytes = chunk.body.get(span.bytes.clone()).unwrap_or_default();
        let probe = crate::response::decode_list_item::<SysIdProbe>(bytes, index)?;
        Ok(probe.sys_id.and_then(|f| f.value().map(str::to_owned)))
    }
}

impl<T: DeserializeOwned + 'static> Pending<T> {
    /// The records of one body; the body goes back to `pool` once they are all taken, and
    /// `lease` ends then.
    pub(crate) fn from_body(
        body: Bytes,
        spans: Vec<RecordAt>,
        pool: &Arc<BufferPool>,
        lease: Option<Lease>,
    ) -> Self {
        let mut p = Self::empty(crate::response::decode_list_item::<T>);
        p.pool = Some(Arc::clone(pool));
        if spans.is_empty() {
            pool.give(body);
        } else {
            p.len = spans.len();
            p.chunks.push_back(Chunk {
                body,
                _lease: lease,
                spans: spans.into_iter(),
                index: 0,
            });
        }
        p
    }
}

/// Page buffers of one stream, handed back when a page's last record is taken and reused for
/// the next page.
///
/// Without it every page is a fresh allocation of the page's size (~19 MB for 10,000
/// incidents) freed a page later; glibc's malloc then raises its mmap threshold to that size and
/// serves later pages from the heap, where they fragment it: peak memory grew by ~18 MiB at
/// 200,000 records and kept growing with the table. Reusing the same two or three buffers keeps
/// memory flat.
///
/// It also paces a sequential stream that asks for pages ahead ([`BufferPool::bounded`]): the
/// next page is asked for as soon as the page before it has been read, so the instance works
/// on it while the caller uses the records already here, but its body is read only once the
/// stream holds fewer than its bound of pages (or after [`GRACE`], see [`lease`]).
///
/// [`lease`]: BufferPool::lease
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: std::sync::Mutex<Vec<BytesMut>>,
    /// Page bodies read and not used up yet ([`Lease`]s alive).
    held: AtomicUsize,
    /// Told when a lease ends.
    room: Notify,
    /// How many page bodies the stream may hold before another is read; `None`: no bound kept
    /// here (concurrent pages are bounded by their number in flight).
    bound: Option<usize>,
    /// Set when a page waited for room longer than [`GRACE`]: the caller takes its time, and
    /// pages are asked for only once there is room for them.
    slow: AtomicBool,
}

/// The longest a page asked for ahead waits, its head received, before its body is read
/// anyway. A caller slower than this gets its pages asked for only when there is room: a
/// response is never left unread for long (the instance, and the total timeout, would not
/// wait for it).
pub(crate) const GRACE: Duration = Duration::from_secs(2);

/// One page body counted as held by its stream; dropping it makes room.
#[derive(Debug)]
pub(crate) struct Lease(Arc<BufferPool>);

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, Ordering::SeqCst);
        self.0.room.notify_waiters();
    }
}

impl BufferPool {
    /// Buffers kept for reuse at most (a stream holds two pages, plus requests in flight).
    const KEEP: usize = 4;

    /// A pool for a stream holding at most `pages` page bodies while it asks ahead.
    pub(crate) fn bounded(pages: usize) -> Self {
        Self {
            bound: Some(pages.max(1)),
            ..Self::default()
        }
    }

    /// Whether the next page is asked for before there is room for it.
    pub(crate) fn asks_ahead(&self) -> bool {
        self.bound.is_some() && !self.slow.load(Ordering::SeqCst)
    }

    /// Counts one more page body held, until the lease is dropped: at once when the stream
    /// holds fewer page bodies than its bound (or has none); otherwise once one of them is used
    /// up, or after [`GRACE`] (then the caller counts as slow, and this no longer waits).
    pub(crate) async fn lease(self: &Arc<Self>) -> Lease {
        let Some(bound) = self.bound else {
            self.held.fetch_add(1, Ordering::SeqCst);
            return Lease(Arc::clone(self));
        };
        let take_one = || {
            self.held
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                    (held < bound).then_some(held + 1)
                })
                .is_ok()
        };
        let wait = async {
            loop {
                let notified = self.room.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if take_one() {
                    return;
                }
                notified.await;
            }
        };
        if self.slow.load(Ordering::SeqCst) || tokio::time::timeout(GRACE, wait).await.is_err() {
            self.slow.store(true, Ordering::SeqCst);
            self.held.fetch_add(1, Ordering::SeqCst);
        }
        Lease(Arc::clone(self))
    }

    /// An empty buffer with room for `want` bytes: a returned one when there is one.
    pub(crate) fn take(&self, want: usize) -> BytesMut {
        let reused = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match reused {
            Some(mut buf) => {
                buf.clear();
                buf.reserve(want);
                buf
            }
            None => BytesMut::with_capacity(want),
        }
    }

    /// Takes a page body back once nothing else refers to it.
    pub(crate) fn give(&self, body: Bytes) {
        if let Ok(buf) = body.try_into_mut() {
            let mut free = self
                .free
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if free.len() < Self::KEEP {
                free.push(buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_page_is_read_once_there_is_room_or_after_the_grace() {
        let pool = Arc::new(BufferPool::bounded(2));
        assert!(pool.asks_ahead());
        let (a, b) = (pool.lease().await, pool.lease().await);
        // Two wait for room at once: one gets it when a page is used up, not both.
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let pool = Arc::clone(&pool);
                tokio::spawn(async move { pool.lease().await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            waiting.iter().all(|w| !w.is_finished()),
            "two pages held: no room"
        );
        drop(a);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(waiting.iter().filter(|w| w.is_finished()).count(), 1);
        assert_eq!(pool.held.load(Ordering::SeqCst), 2);
        assert!(pool.asks_ahead());
        // The other waits out the grace: read anyway, and no more asking ahead.
        let started = tokio::time::Instant::now();
        let mut leases = Vec::new();
        for w in waiting {
            leases.push(w.await.unwrap());
        }
        assert!(started.elapsed() >= GRACE - Duration::from_millis(200));
        assert_eq!(pool.held.load(Ordering::SeqCst), 3);
        assert!(!pool.asks_ahead());
        drop((b, leases));
        assert_eq!(pool.held.load(Ordering::SeqCst), 0);
        // Unbounded (concurrent pages): never waits, never asks ahead.
        let free = Arc::new(BufferPool::default());
        let _l = free.lease().await;
        assert!(!free.asks_ahead());
    }

    #[test]
    fn pending_truncates_across_chunks() {
        let mut p = Pending::<u32>::empty(|b, _| Ok(u32::from(b[0])));
        for body in [&b"\x01\x02\x03"[..], &b"\x04\x05"[..]] {
            let spans = (0..body.len()).map(|i| RecordAt::bytes(i..i + 1)).collect();
            let mut chunk = Pending::<u32>::empty(|b, _| Ok(u32::from(b[0])));
            chunk.len = body.len();
            chunk.chunks.push_back(Chunk {
                body: Bytes::copy_from_slice(body),
                _lease: None,
                spans: Vec::into_iter(spans),
                index: 0,
            });
            p.append(chunk);
        }
        p.truncate(4);
        assert_eq!(p.len(), 4);
        let got: Vec<u32> = std::iter::from_fn(|| p.take())
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, vec![1, 2, 3, 4]);
    }
}
