//! [`ReadyCall`]: calling a service below that is ready at once, without a `Oneshot`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tower::util::Oneshot;
use tower::{Service, ServiceExt};

pin_project_lite::pin_project! {
    /// A call to the service below a layer. The layers that use it (attempt, rate limit) sit
    /// on services that are ready at once, so the service is asked whether it is ready when the
    /// call is made: it then is called there and then, and the future holds only its answer's
    /// future, not the request and a clone of the service until first polled (as a `Oneshot`
    /// does; each of them is moved with the future, and a request is 264 bytes). A service
    /// that is not ready at once goes into a `Oneshot` that waits for it. Like a `Oneshot`, it
    /// panics when polled after it completed.
    #[project = ReadyCallProj]
    pub(crate) enum ReadyCall<S, R>
    where
        S: Service<R>,
    {
        Called {
            #[pin]
            call: S::Future,
        },
        Waiting {
            #[pin]
            call: Oneshot<S, R>,
        },
        Failed {
            error: Option<S::Error>,
        },
    }
}

impl<S, R> ReadyCall<S, R>
where
    S: Service<R> + Clone,
{
    /// Calls `service` with `req` if it is ready now; otherwise waits for a clone of it.
    pub(crate) fn new(service: &mut S, req: R) -> Self {
        let mut cx = Context::from_waker(Waker::noop());
        match service.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => ReadyCall::Called {
                call: service.call(req),
            },
            Poll::Ready(Err(e)) => ReadyCall::Failed { error: Some(e) },
            // The service that said Pending may hold a place in a queue (a semaphore's): it
            // goes into the `Oneshot`, which polls it with the real waker, and a fresh clone
            // stays behind for the next call.
            Poll::Pending => {
                let fresh = service.clone();
                ReadyCall::Waiting {
                    call: std::mem::replace(service, fresh).oneshot(req),
                }
            }
        }
    }
}

impl<S, R> Future for ReadyCall<S, R>
where
    S: Service<R>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ReadyCallProj::Called { call } => call.poll(cx),
            ReadyCallProj::Waiting { call } => call.poll(cx),
            ReadyCallProj::Failed { error } => Poll::Ready(Err(error
                .take()
                .expect("ReadyCall polled after completion"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ready after `pending` polls, or refusing (`broken`); doubles what it is called with.
    #[derive(Clone)]
    struct Late {
        pending: usize,
        broken: bool,
    }

    impl Service<u32> for Late {
        type Response = u32;
        type Error = &'static str;
        type Future = std::future::Ready<Result<u32, &'static str>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            if self.broken {
                return Poll::Ready(Err("broken"));
            }
            if self.pending == 0 {
                return Poll::Ready(Ok(()));
            }
            self.pending -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }

        fn call(&mut self, req: u32) -> Self::Future {
            std::future::ready(Ok(req * 2))
        }
    }

    #[tokio::test]
    async fn a_service_waiting_for_a_permit_is_the_one_that_gets_it() {
        use std::sync::Arc;
        use tokio::sync::Semaphore;
        use tower::Layer;
        use tower::limit::GlobalConcurrencyLimitLayer;

        let semaphore = Arc::new(Semaphore::new(1));
        let held = semaphore.clone().acquire_owned().await.unwrap();
        let mut limited = GlobalConcurrencyLimitLayer::with_semaphore(semaphore).layer(Late {
            pending: 0,
            broken: false,
        });
        let call = ReadyCall::new(&mut limited, 4);
        assert!(matches!(call, ReadyCall::Waiting { .. }));
        // The permit goes to the first waiter in the semaphore's queue: the call's own.
        drop(held);
        let answer = tokio::time::timeout(std::time::Duration::from_secs(5), call).await;
        assert_eq!(answer.expect("the call gets the permit"), Ok(8));
        // And the service left in the layer is a fresh one that can be called.
        assert_eq!(ReadyCall::new(&mut limited, 5).await, Ok(10));
    }

    #[tokio::test]
    async fn a_ready_service_is_called_at_once_and_others_are_waited_for_or_fail() {
        let mut ready = Late {
            pending: 0,
            broken: false,
        };
        let call = ReadyCall::new(&mut ready, 21);
        assert!(matches!(call, ReadyCall::Called { .. }));
        assert_eq!(call.await, Ok(42));

        let mut late = Late {
            pending: 3,
            broken: false,
        };
        let call = ReadyCall::new(&mut late, 5);
        assert!(matches!(call, ReadyCall::Waiting { .. }));
        assert_eq!(call.await, Ok(10));

        let mut broken = Late {
            pending: 0,
            broken: true,
        };
        let call = ReadyCall::new(&mut broken, 5);
        assert!(matches!(call, ReadyCall::Failed { .. }));
        assert_eq!(call.await, Err("broken"));
    }
}
