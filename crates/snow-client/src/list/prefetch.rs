//! [`Prefetch`]: the pages of a record stream, fetched one page ahead by a task of the runtime
//! while the caller takes the records of the page before.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::{BoxStream, StreamExt};
use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;

use super::fetcher::PageOut;
use super::pending::BufferPool;
use crate::Error;

type Pages<T> = BoxStream<'static, Result<PageOut<T>, Error>>;

/// The pages of a record stream.
///
/// At the first poll, inside a Tokio runtime, the pages go to a task of their own: it fetches
/// the next page (reads its body, finds its records) while the records of the current one are
/// decoded and used, so a page's wait on the instance and its reading overlap the caller's work
/// even when the caller awaits other things between records, and on a runtime with several
/// threads they run on another one. The task carries the caller's span and `tracing`
/// dispatcher ([`carry`](crate::task::carry)).
/// Dropping the stream stops the task. Outside a runtime the pages are polled in place.
///
/// A sequential stream asks for the page after next before the next has been taken (offset
/// paging: while the next is read; keyset and link paging: as soon as it is read) and reads its
/// body once a page has been used up ([`BufferPool::lease`]): the instance prepares it
/// while the caller works, and the stream still holds at most two pages. A caller that takes
/// longer than [`GRACE`](super::pending::GRACE) over a page, or a stream fetching pages
/// concurrently, has each page asked for only once the one before has been taken.
pub(crate) struct Prefetch<T> {
    state: State<T>,
}

enum State<T> {
    /// Not polled yet: the pages, and what starts them (a function made where `T` is known to
    /// be `Send`, so that polling needs no bound on it).
    Idle(
        Pages<T>,
        Option<Arc<BufferPool>>,
        fn(Pages<T>, Option<Arc<BufferPool>>) -> State<T>,
    ),
    /// Fetched by a task.
    Task {
        rx: mpsc::Receiver<Message<T>>,
        task: AbortOnDropHandle<()>,
    },
    /// Polled in place.
    Inline(Pages<T>),
    /// Between two of the above, or stopped: no page comes any more.
    Moving,
}

enum Message<T> {
    Page(Result<PageOut<T>, Error>),
    End,
}

async fn fetch_ahead<T>(
    mut pages: Pages<T>,
    pool: Option<Arc<BufferPool>>,
    tx: mpsc::Sender<Message<T>>,
) {
    loop {
        let message = if pool.as_ref().is_some_and(|p| p.asks_ahead()) {
            // The page first (its body waits for room), then the place in the channel.
            let page = pages.next().await;
            let Ok(permit) = tx.reserve().await else {
                return;
            };
            (permit, page)
        } else {
            // The place first: no page is asked for before the one before it was taken.
            let Ok(permit) = tx.reserve().await else {
                return;
            };
            (permit, pages.next().await)
        };
        match message {
            (permit, Some(page)) => permit.send(Message::Page(page)),
            (permit, None) => {
                permit.send(Message::End);
                return;
            }
        }
    }
}

/// A task for the pages inside a Tokio runtime; polling in place outside one.
fn start<T: Send + 'static>(pages: Pages<T>, pool: Option<Arc<BufferPool>>) -> State<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            let (tx, rx) = mpsc::channel(1);
            let task = runtime.spawn(crate::task::carry(fetch_ahead(pages, pool, tx)));
            State::Task {
                rx,
                task: AbortOnDropHandle::new(task),
            }
        }
        Err(_) => State::Inline(pages),
    }
}

impl<T: Send + 'static> Prefetch<T> {
    /// `ask_ahead`: the pool of a sequential stream whose next page may be asked for as soon
    /// as the one before it is read (keyset and link paging, where each page's request comes
    /// from the page before; offset paging asks ahead among its own pages in flight).
    pub(crate) fn new(pages: Pages<T>, ask_ahead: Option<Arc<BufferPool>>) -> Self {
        Self {
            state: State::Idle(pages, ask_ahead, start::<T>),
        }
    }
}

impl<T> Prefetch<T> {
    /// No page is fetched any more: the task, if any, is stopped, and the page it may hold
    /// goes with it (the stream ended, with an error or its deadline).
    pub(crate) fn stop(&mut self) {
        self.state = State::Moving;
    }

    /// Whether the pages are fetched without being polled: then the stream asks for the next
    /// page only when it needs it.
    pub(crate) fn runs_ahead(&self) -> bool {
        matches!(self.state, State::Task { .. })
    }

    /// The next page; `None` after the last.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<PageOut<T>, Error>>> {
        if matches!(self.state, State::Idle(..))
            && let State::Idle(pages, pool, start) =
                std::mem::replace(&mut self.state, State::Moving)
        {
            self.state = start(pages, pool);
        }
        match &mut self.state {
            State::Task { rx, task } => match rx.poll_recv(cx) {
                Poll::Ready(Some(Message::Page(page))) => Poll::Ready(Some(page)),
                Poll::Ready(Some(Message::End)) => Poll::Ready(None),
                // The task ended without saying so: it panicked (the panic goes on in the
                // caller, as it would have with the pages polled in place), or its runtime is
                // shutting down.
                Poll::Ready(None) => match std::pin::Pin::new(task).poll(cx) {
                    Poll::Ready(Err(e)) if e.is_panic() => {
                        std::panic::resume_unwind(e.into_panic())
                    }
                    Poll::Ready(_) => Poll::Ready(Some(Err(Error::Paging {
                        reason: "the task fetching the pages stopped before the last page".into(),
                    }))),
                    Poll::Pending => Poll::Pending,
                },
                Poll::Pending => Poll::Pending,
            },
            State::Inline(pages) => pages.poll_next_unpin(cx),
            State::Idle(..) | State::Moving => Poll::Ready(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use futures_util::stream;

    use super::*;
    use crate::list::pending::Pending;

    /// Pages that count how many were made.
    fn counted(made: Arc<AtomicU64>) -> Pages<u8> {
        stream::unfold(made, |made| async move {
            made.fetch_add(1, Ordering::SeqCst);
            let page = PageOut {
                records: Pending::empty(|_, _| Ok(0)),
                expected: None,
                span: None,
            };
            Some((Ok(page), made))
        })
        .boxed()
    }

    async fn next(p: &mut Prefetch<u8>) -> Option<Result<PageOut<u8>, Error>> {
        std::future::poll_fn(|cx| p.poll_next(cx)).await
    }

    #[tokio::test(flavor = "current_thread")]
    #[should_panic(expected = "the page maker broke")]
    async fn a_panic_in_the_page_task_goes_on_in_the_caller() {
        let pages: Pages<u8> = stream::poll_fn(|_| -> Poll<Option<Result<PageOut<u8>, Error>>> {
            panic!("the page maker broke")
        })
        .boxed();
        let mut p = Prefetch::new(pages, None);
        let _ = next(&mut p).await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn in_a_runtime_the_next_page_is_made_without_being_polled() {
        let made = Arc::new(AtomicU64::new(0));
        let mut p = Prefetch::new(counted(made.clone()), None);
        assert!(next(&mut p).await.is_some());
        assert!(p.runs_ahead());
        // Other work runs; the stream is not polled.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(made.load(Ordering::SeqCst), 2, "one page ahead, no more");
        assert!(next(&mut p).await.is_some());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(made.load(Ordering::SeqCst), 3);
        drop(p);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(made.load(Ordering::SeqCst), 3, "nothing after the drop");
    }

    #[test]
    fn outside_a_runtime_pages_are_polled_in_place() {
        let made = Arc::new(AtomicU64::new(0));
        let mut p = Prefetch::new(counted(made.clone()), None);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(matches!(p.poll_next(&mut cx), Poll::Ready(Some(Ok(_)))));
        assert!(!p.runs_ahead());
        assert_eq!(made.load(Ordering::SeqCst), 1);
    }
}
