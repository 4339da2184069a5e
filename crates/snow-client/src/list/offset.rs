//! Offset paging: `sysparm_offset` grows by the page size; pages may be fetched concurrently.
//!
//! Nothing is planned from `X-Total-Count`: pages are asked for one at a time (or up to the
//! concurrency at once), paging ends at the first page that comes back short or empty, and
//! the announced total only bounds how far ahead pages are asked for. When the pages reach the
//! announced total full, one more page is asked for, to find out whether the total was too low
//! (the record stream then reports the mismatch).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, FuturesUnordered, StreamExt};
use serde::de::DeserializeOwned;

use super::PageOrder;
use super::fetcher::{Fetcher, PageOut, Plan};
use super::pending::Pending;
use crate::Error;
use crate::query::Query;

/// One page request's outcome: its offset, the records asked for, and what came back.
type Fetched<T> = (u64, u64, Result<(Pending<T>, Option<u64>, bool), Error>);

/// The pages of an offset-paged call.
pub(crate) fn pages<T>(
    f: Arc<Fetcher>,
    q: Query,
    plan: Plan,
) -> BoxStream<'static, Result<PageOut<T>, Error>>
where
    T: DeserializeOwned + Send + 'static,
{
    let state = Offsets {
        f,
        q,
        plan,
        end: plan.limit.map(|l| plan.start.saturating_add(l)),
        first: true,
        next_offset: plan.start,
        claimed_end: None,
        probe_sent: false,
        short_at: None,
        in_flight: FuturesUnordered::new(),
        ready: BTreeMap::new(),
        next_yield: plan.start,
        done: false,
    };
    stream::unfold(state, |mut st| async move {
        let item = st.next_page().await?;
        Some((item, st))
    })
    .boxed()
}

struct Offsets<T> {
    f: Arc<Fetcher>,
    q: Query,
    plan: Plan,
    /// Where the caller's limit ends (exclusive offset).
    end: Option<u64>,
    first: bool,
    /// The offset of the next page to ask for.
    next_offset: u64,
    /// Where the announced total ends (exclusive offset), while it is believed.
    claimed_end: Option<u64>,
    /// Whether the one page past the announced total was asked for.
    probe_sent: bool,
    /// Where the first short page ended: no page past it is asked for.
    short_at: Option<u64>,
    in_flight: FuturesUnordered<BoxFuture<'static, Fetched<T>>>,
    /// Pages that arrived ahead of their turn (query order only), by offset.
    ready: BTreeMap<u64, Fetched<T>>,
    /// The offset of the next page to yield (query order only).
    next_yield: u64,
    done: bool,
}

impl<T: DeserializeOwned + Send + 'static> Offsets<T> {
    /// The number of records to ask for at `offset`, or `None` when no more page is wanted.
    fn next_len(&self) -> Option<u64> {
        let offset = self.next_offset;
        if self.short_at.is_some() {
            return None;
        }
        let len = match self.end {
            Some(end) if offset >= end => return None,
            Some(end) => self.plan.page.min(end - offset),
            None => self.plan.page,
        };
        match self.claimed_end {
            Some(claimed) if offset >= claimed && self.probe_sent => None,
            _ => Some(len),
        }
    }

    /// Pages asked for at once: the configured number; a sequential stream that asks ahead has
    /// the page after next asked for while the next is read, its body read only once there is
    /// room for it (see [`BufferPool`](super::pending::BufferPool)), so the instance prepares it
    /// meanwhile and the stream still holds at most two pages.
    fn in_flight_at_most(&self) -> usize {
        if self.asks_ahead() {
            2
        } else {
            self.plan.concurrency
        }
    }

    fn asks_ahead(&self) -> bool {
        self.plan.concurrency == 1 && self.f.pool().asks_ahead()
    }

    fn spawn(&mut self, offset: u64, len: u64) {
        if self.claimed_end.is_some_and(|c| offset >= c) {
            self.probe_sent = true;
        }
        let (f, q) = (self.f.clone(), self.q.clone());
        self.in_flight.push(Box::pin(async move {
            let got = f.range::<T>(&q, offset, len).await;
            (offset, len, got)
        }));
        self.next_offset = offset.saturating_add(len);
    }

    /// Keeps up to `concurrency` pages asked for (counting those that arrived early).
    fn fill(&mut self) {
        while self.in_flight.len() + self.ready.len() < self.in_flight_at_most() {
            // Asked ahead, a page goes only inside the announced total: one at or past its end
            // (with no total, any page might be) waits for the pages before it, which may be
            // short and end the stream.
            let busy = !(self.in_flight.is_empty() && self.ready.is_empty());
            if busy
                && self.asks_ahead()
                && self.claimed_end.is_none_or(|end| self.next_offset >= end)
            {
                break;
            }
            match self.next_len() {
                Some(len) => self.spawn(self.next_offset, len),
                None => break,
            }
        }
    }

    /// The next finished page in the configured order, or `None` when none is left.
    async fn next_finished(&mut self) -> Option<Fetched<T>> {
        loop {
            if self.plan.page_order == PageOrder::Query
                && let Some(page) = self.ready.remove(&self.next_yield)
            {
                return Some(page);
            }
            self.fill();
            let page = self.in_flight.next().await?;
            match self.plan.page_order {
                PageOrder::Arrival => return Some(page),
                PageOrder::Query => {
                    let _ = self.ready.insert(page.0, page);
                }
            }
        }
    }

    async fn next_page(&mut self) -> Option<Result<PageOut<T>, Error>> {
        if self.done {
            return None;
        }
        let mut expected = None;
        let (offset, len, got) = if self.first {
            self.first = false;
            let len = self.next_len()?;
            self.next_offset = self.plan.start.saturating_add(len);
            let got = self.f.range::<T>(&self.q, self.plan.start, len).await;
            if let Ok((_, Some(total), _)) = &got
                && !self.plan.no_count
            {
                let avail = total.saturating_sub(self.plan.start);
                expected = Some(self.plan.limit.map_or(avail, |l| l.min(avail)));
                self.claimed_end = Some(self.plan.start.saturating_add(avail));
                // A first page already past the announced total is the one extra page.
                self.probe_sent = avail == 0;
            }
            (self.plan.start, len, got)
        } else {
            self.next_finished().await?
        };
        let (records, _, short) = match got {
            Ok(page) => page,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        self.next_yield = offset.saturating_add(len);
        let n = records.len() as u64;
        if let Some(short_at) = self.short_at {
            // A page past the end the instance reported with a short page: it must be empty.
            if offset >= short_at && n > 0 {
                self.done = true;
                return Some(Err(Error::Paging {
                    reason: format!(
                        "the page at offset {offset} has {n} record(s) although the page \
                         before it ended the result at offset {short_at}; the table changed \
                         while paging"
                    ),
                }));
            }
        }
        if short {
            let end = offset.saturating_add(n);
            self.short_at = Some(self.short_at.map_or(end, |s| s.min(end)));
        } else if self
            .claimed_end
            .is_some_and(|c| offset.saturating_add(len) > c)
        {
            // A full page past the announced total: the total was too low. The record stream
            // reports the mismatch as the records arrive; when that ends the stream, no further
            // page is asked for, otherwise the total is no longer believed.
            if self.plan.strict_count {
                self.short_at = Some(offset.saturating_add(n));
            } else {
                self.claimed_end = None;
            }
        }
        Some(Ok(PageOut {
            records,
            expected,
            span: Some((offset, len)),
        }))
    }
}
