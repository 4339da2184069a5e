//! Requests handed to a task of the caller's runtime while others are in flight.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use snow_transport::TransportError;
use tokio::runtime::Handle;
use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument;
use tracing::instrument::WithSubscriber;

use crate::Error;

/// The requests of a client (and its clones) in flight.
#[derive(Debug, Default)]
pub(crate) struct InFlight(AtomicUsize);

/// One request counted in its [`InFlight`] until dropped.
struct Counted<'a>(&'a InFlight);

impl InFlight {
    /// Counts one more request, and says whether others were in flight already.
    fn enter(&self) -> (Counted<'_>, bool) {
        let before = self.0.fetch_add(1, Ordering::Relaxed);
        (Counted(self), before > 0)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs `work` (a request, up to its answer read) on a task of the current Tokio runtime when
/// the client has other requests in flight and the runtime has several worker threads; in
/// place otherwise.
///
/// Many requests driven from one task (`buffer_unordered`, `join_all`) then have their
/// transport stack, their wait and the reading of their answers spread over the runtime's
/// worker threads instead of queueing on the caller's thread. A lone request, or requests one
/// after the other, stay in place: a task would only add its cost (a spawn, a wake-up across
/// threads). So does every request on a runtime with one worker (a current-thread runtime, the
/// blocking client's), where the task would only queue the callers' work on that one thread.
///
/// The task carries the caller's span and subscriber (one set with
/// `tracing::subscriber::set_default` too). Dropping the returned future aborts the task, so a
/// request given up is not finished in the background. A panic in the task goes on in the
/// caller. Task-local values of the caller (`tokio::task_local!`) are not seen by the task.
pub(crate) async fn on_runtime<T, F>(in_flight: &InFlight, work: F) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    let (_counted, others) = in_flight.enter();
    let runtime = match Handle::try_current() {
        Ok(runtime) if others && runtime.metrics().num_workers() > 1 => runtime,
        _ => return work.await,
    };
    let task = runtime.spawn(work.in_current_span().with_current_subscriber());
    match AbortOnDropHandle::new(task).await {
        Ok(out) => out,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only the runtime cancels it while it is awaited: it is shutting down.
        Err(_) => Err(Error::from(TransportError::Service(
            "the runtime shut down before the request was answered".into(),
        ))),
    }
}
