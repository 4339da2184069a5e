//! [`RecordStream`]: the records of a list call, page after page.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::stream::{self, BoxStream, StreamExt};

use super::CountCheck;
use super::check::{OrderCheck, PagePos, probe_sys_id};
use super::fetcher::PageOut;
use super::pending::{BufferPool, Pending};
use super::prefetch::Prefetch;
use crate::Error;

/// The records of a list call, page after page, as a [`Stream`].
///
/// Holds at most the page being yielded and the next one (plus the requests in flight when
/// fetching concurrently); inside a Tokio runtime the next page is fetched by a task of its own
/// while the current one is used (see the [module documentation](crate::list)). Pages are kept
/// as received and each record is decoded when it is yielded, so memory is about two pages of
/// JSON whatever the record type; a record that does not decode (or whose JSON is broken
/// inside) ends the stream with an error after the records before it. After an error the
/// stream ends.
///
/// The stream trusts nothing the server says about the whole: `X-Total-Count` is a hint
/// (paging ends at the first short or empty page; a record past the announced total ends the
/// stream with [`Error::CountMismatch`] unless [`CountCheck`] says otherwise), and the sys_ids
/// of the records are checked as they are yielded — strictly increasing when the stream is
/// ordered by sys_id, never repeated within a page or across two consecutive pages otherwise —
/// so a server that ignores the offset, repeats or reorders rows gives [`Error::Paging`] naming
/// the page, not a quietly wrong result.
#[must_use = "streams do nothing unless polled"]
pub struct RecordStream<T> {
    pages: Prefetch<T>,
    current: Option<Pending<T>>,
    next: Option<(Pending<T>, PagePos)>,
    check: OrderCheck,
    page_number: u64,
    /// The bound on the whole run, started at the first poll.
    limit: Option<std::time::Duration>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    pages_done: bool,
    pending_error: Option<Error>,
    finished: bool,
    received: u64,
    expected: Option<u64>,
    count_check: CountCheck,
}

// No field is ever pinned: records are moved out by value.
impl<T> Unpin for RecordStream<T> {}

impl<T> fmt::Debug for RecordStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordStream")
            .field("received", &self.received)
            .field("expected", &self.expected)
            .field("buffered", &self.current.as_ref().map_or(0, Pending::len))
            .field("prefetched", &self.next.as_ref().map(|(p, _)| p.len()))
            .field("finished", &self.finished)
            .finish()
    }
}

impl<T: Send + 'static> RecordStream<T> {
    pub(crate) fn new(
        pages: BoxStream<'static, Result<PageOut<T>, Error>>,
        ask_ahead: Option<Arc<BufferPool>>,
        count_check: CountCheck,
        check: OrderCheck,
    ) -> Self {
        Self {
            pages: Prefetch::new(pages, ask_ahead),
            current: None,
            next: None,
            check,
            page_number: 0,
            limit: None,
            deadline: None,
            pages_done: false,
            pending_error: None,
            finished: false,
            received: 0,
            expected: None,
            count_check,
        }
    }

    pub(crate) fn failed(e: Error) -> Self {
        Self::new(
            stream::once(async { Err(e) }).boxed(),
            None,
            CountCheck::Off,
            OrderCheck::Off,
        )
    }
}

impl<T> RecordStream<T> {
    /// Ends the stream with [`Error::Timeout`] if its whole run (every page, every record)
    /// takes longer than `limit`, counted from the first poll. Each request is bounded by the
    /// transport's timeouts; this bounds the stream however many pages the instance serves.
    pub fn timeout(mut self, limit: std::time::Duration) -> Self {
        self.limit = Some(limit);
        self
    }

    /// How many records the call should yield in all, once the first page told
    /// (`X-Total-Count` with the offset and limit applied); `None` before, or with `no_count`.
    pub fn expected(&self) -> Option<u64> {
        self.expected
    }

    /// How many records the stream holds right now, received but not yielded yet: the rest of
    /// the current page plus the next page once the stream has taken it from its page task (a
    /// page read by the task and not handed over yet is not counted; the stream never holds
    /// more than two pages when fetching sequentially). They are kept as received and decoded
    /// one by one as they are yielded.
    pub fn buffered(&self) -> usize {
        self.current.as_ref().map_or(0, Pending::len)
            + self.next.as_ref().map_or(0, |(p, _)| p.len())
    }

    /// How many records were yielded so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The next record; `Ok(None)` at the end. With it a stream needs no extra crate:
    /// `while let Some(r) = stream.try_next().await? { ... }`.
    pub async fn try_next(&mut self) -> Result<Option<T>, Error> {
        self.next().await.transpose()
    }

    /// The next record or error; `None` at the end (the [`Stream`] impl, without importing a
    /// stream trait).
    pub async fn next(&mut self) -> Option<Result<T, Error>> {
        StreamExt::next(self).await
    }

    /// Every remaining record in a `Vec`.
    pub async fn all(mut self) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        while let Some(r) = self.next().await {
            out.push(r?);
        }
        Ok(out)
    }

    /// The first record; [`Error::NoResults`] when there is none.
    pub async fn first(self) -> Result<T, Error> {
        self.first_or_none().await?.ok_or(Error::NoResults)
    }

    /// The first record, or `None`.
    pub async fn first_or_none(mut self) -> Result<Option<T>, Error> {
        self.next().await.transpose()
    }

    /// Exactly one record: [`Error::NoResults`] or [`Error::MultipleResults`] otherwise.
    pub async fn one(self) -> Result<T, Error> {
        self.one_or_none().await?.ok_or(Error::NoResults)
    }

    /// The only record, or `None`; [`Error::MultipleResults`] when there are several.
    pub async fn one_or_none(mut self) -> Result<Option<T>, Error> {
        let Some(first) = self.next().await.transpose()? else {
            return Ok(None);
        };
        match self.next().await.transpose()? {
            None => Ok(Some(first)),
            Some(_) => Err(Error::MultipleResults),
        }
    }

    /// The record about to be yielded goes past the announced total: with
    /// [`CountCheck::Error`] the stream ends there, so that a server announcing fewer records
    /// than it sends cannot make the stream yield them as if all were well (nor page forever).
    fn past_expected(&self) -> Option<Error> {
        let expected = self.expected?;
        (self.count_check == CountCheck::Error && self.received >= expected).then(|| {
            Error::CountMismatch {
                expected,
                received: self.received + 1,
            }
        })
    }

    fn end(&mut self) -> Option<Error> {
        self.finish();
        let expected = self.expected?;
        if expected == self.received {
            return None;
        }
        match self.count_check {
            CountCheck::Error => Some(Error::CountMismatch {
                expected,
                received: self.received,
            }),
            CountCheck::Warn => {
                tracing::warn!(
                    expected,
                    received = self.received,
                    "the number of records received differs from X-Total-Count"
                );
                None
            }
            CountCheck::Off => None,
        }
    }
}

impl<T> RecordStream<T> {
    /// Ends the stream: nothing more is fetched (the page task stops) and the pages held go.
    fn finish(&mut self) {
        self.finished = true;
        self.pages.stop();
        self.current = None;
        self.next = None;
        self.deadline = None;
    }
}

impl<T> Stream for RecordStream<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.finished {
            if let Some(limit) = this.limit.take() {
                this.deadline = Some(Box::pin(tokio::time::sleep(limit)));
            }
            if let Some(deadline) = this.deadline.as_mut()
                && deadline.as_mut().poll(cx).is_ready()
            {
                this.finish();
                return Poll::Ready(Some(Err(Error::Timeout(
                    snow_transport::TransportError::Timeout {
                        kind: snow_transport::TimeoutKind::Total,
                    },
                ))));
            }
        }
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            // Keep one page prefetched: polled here it is fetched only while polled, so it is
            // asked for at once; a page task fetches on its own and is asked when needed.
            let polled = this.next.is_none()
                && !this.pages_done
                && (!this.pages.runs_ahead() || this.current.is_none());
            if polled {
                match this.pages.poll_next(cx) {
                    Poll::Ready(Some(Ok(page))) => {
                        if let Some(e) = page.expected {
                            this.expected = Some(e);
                        }
                        this.page_number += 1;
                        let pos = PagePos {
                            number: this.page_number,
                            span: page.span,
                        };
                        this.next = Some((page.records, pos));
                    }
                    Poll::Ready(Some(Err(e))) => {
                        this.pending_error = Some(e);
                        this.pages_done = true;
                    }
                    Poll::Ready(None) => this.pages_done = true,
                    Poll::Pending => {}
                }
            }
            let check = &mut this.check;
            let taken = this.current.as_mut().and_then(|p| {
                p.take_with(|bytes, known| {
                    if !check.wants_ids() {
                        return Ok(());
                    }
                    // A record that is not JSON is reported by its decoding, just after (its
                    // sys_id, found by the walk alone, does not make it a paging error).
                    match probe_sys_id(bytes, known) {
                        Ok(id) => check.record(id.as_deref()).or_else(|e| {
                            if crate::response::is_json(bytes) {
                                Err(e)
                            } else {
                                Ok(())
                            }
                        }),
                        Err(_) => Ok(()),
                    }
                })
            });
            match taken {
                Some(Ok(item)) => {
                    if let Some(e) = this.past_expected() {
                        this.finish();
                        return Poll::Ready(Some(Err(e)));
                    }
                    this.received += 1;
                    return Poll::Ready(Some(Ok(item)));
                }
                Some(Err(e)) => {
                    this.finish();
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    if this.current.take().is_some()
                        && let Err(e) = this.check.end()
                    {
                        this.finish();
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
            if let Some((next, pos)) = this.next.take() {
                this.check.begin(pos);
                this.current = Some(next);
                continue;
            }
            if let Some(e) = this.pending_error.take() {
                this.finish();
                return Poll::Ready(Some(Err(e)));
            }
            if this.pages_done {
                return Poll::Ready(this.end().map(Err));
            }
            if !polled {
                // The page just used up was the last one held: ask for the next.
                continue;
            }
            return Poll::Pending;
        }
    }
}
