//! Requests handed to a task of the caller's runtime while the same task has others in flight,
//! and what such a task carries of its caller.

use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use snow_transport::TransportError;
use tokio::runtime::Handle;
use tokio_util::task::AbortOnDropHandle;
use tracing::{Dispatch, Instrument, dispatcher};

use crate::Error;

/// The buffered requests of a client (and its clones) in flight, and the task that sent the
/// latest one.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    /// A key of the Tokio task that sent the latest request (0: not sent from a task).
    last_sender: AtomicU64,
}

/// One request counted in its [`InFlight`] until dropped.
struct Counted<'a>(&'a InFlight);

impl InFlight {
    /// Counts one more request, and says whether it joins others sent by the same task: others
    /// are in flight, and the one sent before it came from this task too.
    fn enter(&self) -> (Counted<'_>, bool) {
        let sender = task_key();
        let before = self.count.fetch_add(1, Ordering::Relaxed);
        let previous = self.last_sender.swap(sender, Ordering::Relaxed);
        (Counted(self), before > 0 && previous == sender)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A key of the current Tokio task; 0 outside one (the future given to `block_on`).
fn task_key() -> u64 {
    tokio::task::try_id().map_or(0, |id| {
        let mut h = DefaultHasher::new();
        id.hash(&mut h);
        h.finish() | 1
    })
}

/// Runs `work` (a request, up to its answer read) on a task of the current Tokio runtime when
/// the same task has other requests of the client in flight and the runtime has several worker
/// threads; in place otherwise.
///
/// Many requests driven from one task (`buffer_unordered`, `join_all`) then have their
/// transport stack, their wait and the reading of their answers spread over the runtime's
/// worker threads instead of queueing on the caller's thread. A lone request, requests one
/// after the other, and requests each sent by a task of its own stay in place: a task would
/// only add its cost (a spawn, a wake-up across threads). So does every request on a runtime
/// with one worker (a current-thread runtime, the blocking client's), where the task would
/// only queue the callers' work on that one thread.
///
/// The task carries its caller ([`carry`]). Dropping the returned future aborts the task: a
/// request given up is cancelled at the task's next turn, not finished in the background. A
/// panic in the task goes on in the caller.
pub(crate) async fn on_runtime<T, F>(in_flight: &InFlight, work: F) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    let (_counted, joins_others) = in_flight.enter();
    if !joins_others {
        return work.await;
    }
    let runtime = match Handle::try_current() {
        Ok(runtime) if runtime.metrics().num_workers() > 1 => runtime,
        _ => return work.await,
    };
    match AbortOnDropHandle::new(runtime.spawn(carry(work))).await {
        Ok(out) => out,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only the runtime cancels it while it is awaited: it is shutting down.
        Err(e) => Err(Error::from(TransportError::Io {
            message: "the runtime shut down before the answer arrived".into(),
            source: Some(Box::new(e)),
        })),
    }
}

/// `fut` as a task of the runtime should run it for its caller: within the caller's current
/// span, and with the caller's `tracing` dispatcher as the default (one set with
/// `tracing::subscriber::set_default` too), while it is polled and when it is dropped (what a
/// layer logs when its request is cancelled goes where the caller's logs go).
pub(crate) fn carry<F: Future>(fut: F) -> Carried<tracing::instrument::Instrumented<F>> {
    Carried {
        inner: Some(fut.in_current_span()),
        dispatch: dispatcher::get_default(Dispatch::clone),
    }
}

pin_project_lite::pin_project! {
    /// A future polled and dropped with a dispatcher as the default ([`carry`]).
    pub(crate) struct Carried<F> {
        #[pin]
        inner: Option<F>,
        dispatch: Dispatch,
    }

    impl<F> PinnedDrop for Carried<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let dispatch: &Dispatch = this.dispatch;
            dispatcher::with_default(dispatch, || this.inner.set(None));
        }
    }
}

impl<F: Future> Future for Carried<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        match this.inner.as_pin_mut() {
            Some(inner) => dispatcher::with_default(this.dispatch, || inner.poll(cx)),
            // Only after the drop has begun.
            None => Poll::Pending,
        }
    }
}
