//! Request and response bodies.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use snow_core::BoxError;
use tokio::time::{Instant, Sleep};

use crate::client_body::ClientBody;
use crate::error::{TimeoutKind, TransportError};

/// The default cap on response bodies: 128 MiB.
pub const DEFAULT_MAX_RESPONSE_BODY: usize = 128 * 1024 * 1024;

/// A request extension that sets the response-body cap of one request, in place of the
/// transport's `max_response_body`: for a body written out as it arrives (an attachment of
/// hundreds of megabytes saved to a file), which the cap protecting in-memory reads would
/// otherwise cut.
///
/// ```
/// use snow_transport::{Body, MaxResponseBody};
///
/// let mut req = http::Request::get("/api/now/attachment/abc/file").body(Body::empty()).unwrap();
/// req.extensions_mut().insert(MaxResponseBody(1 << 30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxResponseBody(pub usize);

type BoxStream = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send + 'static>>;

/// A request body: buffered bytes (replayable, so the request can be retried or replayed after a
/// `401`) or a one-shot stream (uploads; never retried).
///
/// ```
/// use snow_transport::Body;
///
/// let json = Body::from(r#"{"short_description":"printer on fire"}"#);
/// assert!(json.is_replayable());
///
/// let upload = Body::from_stream(futures_util::stream::iter(vec![
///     Ok::<_, snow_transport::BoxError>(bytes::Bytes::from_static(b"chunk")),
/// ]));
/// assert!(!upload.is_replayable());
/// ```
pub struct Body {
    kind: Kind,
}

enum Kind {
    Bytes(Option<Bytes>),
    Stream(BoxStream),
}

impl Body {
    /// An empty body.
    pub fn empty() -> Self {
        Self {
            kind: Kind::Bytes(None),
        }
    }

    /// A buffered body.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self {
            kind: Kind::Bytes((!bytes.is_empty()).then_some(bytes)),
        }
    }

    /// A streamed body, sent as it is produced. It cannot be replayed, so a request carrying it is
    /// sent once: no retry, no replay after a `401`.
    pub fn from_stream<S>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, BoxError>> + Send + 'static,
    {
        Self {
            kind: Kind::Stream(Box::pin(stream)),
        }
    }

    /// Whether the body is buffered, and so can be sent again.
    pub fn is_replayable(&self) -> bool {
        matches!(self.kind, Kind::Bytes(_))
    }

    /// This body, telling `count` the size of each piece of a stream as it is sent.
    pub(crate) fn counted(self, count: impl Fn(u64) + Send + 'static) -> Self {
        match self.kind {
            Kind::Stream(s) => {
                use futures_util::StreamExt as _;
                Self::from_stream(s.inspect(move |item| {
                    if let Ok(b) = item {
                        count(b.len() as u64);
                    }
                }))
            }
            bytes @ Kind::Bytes(_) => Self { kind: bytes },
        }
    }

    /// A copy of a buffered body; `None` for a stream.
    pub fn try_clone(&self) -> Option<Self> {
        match &self.kind {
            Kind::Bytes(b) => Some(Self {
                kind: Kind::Bytes(b.clone()),
            }),
            Kind::Stream(_) => None,
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Bytes(b) => f
                .debug_struct("Body")
                .field("len", &b.as_ref().map_or(0, Bytes::len))
                .finish(),
            Kind::Stream(_) => f.debug_struct("Body").field("stream", &true).finish(),
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Self::from_bytes(b)
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Self {
        Self::from_bytes(b)
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Self::from_bytes(s)
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Self::from_bytes(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Self::from_bytes(Bytes::from_static(s))
    }
}

impl From<()> for Body {
    fn from((): ()) -> Self {
        Self::empty()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().kind {
            Kind::Bytes(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Kind::Stream(s) => s
                .as_mut()
                .poll_next(cx)
                .map(|item| item.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, Kind::Bytes(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Bytes(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Stream(_) => SizeHint::default(),
        }
    }
}

/// A response body with the transport's limits applied, streamed as it arrives.
///
/// Reading fails with [`TransportError::BodyTooLarge`] as soon as more than the configured cap
/// has arrived, with [`TransportError::Timeout`] when no data arrives within the read timeout or
/// the total deadline passes, and with [`TransportError::Io`] when the connection breaks. Errors
/// are `BoxError`s that downcast to [`TransportError`]; [`collect_bytes`](Self::collect_bytes)
/// returns them typed.
pub struct ResponseBody {
    inner: ClientBody,
    limit: usize,
    received: usize,
    idle: Option<Duration>,
    idle_timer: Option<Pin<Box<Sleep>>>,
    deadline: Option<Deadline>,
    done: bool,
    /// Bytes read ahead by [`peek`](Self::peek), handed out before the rest.
    replay: BytesMut,
    /// An error met while reading ahead, handed out after `replay`.
    replay_error: Option<BoxError>,
    /// Told of every piece of data handed out and of the end.
    tap: Option<Box<dyn BodyTap>>,
}

/// The total deadline of a body. Its timer is set only when a read has to wait: a body that
/// has arrived by the time it is read (most answers of a few kilobytes) costs one look at the
/// clock per frame and no timer.
struct Deadline {
    at: Instant,
    timer: Option<Pin<Box<Sleep>>>,
}

/// Whether `timer` (set by `make` on the first wait) has fired; the waker is registered if not.
fn fired(
    timer: &mut Option<Pin<Box<Sleep>>>,
    make: impl FnOnce() -> Sleep,
    cx: &mut Context<'_>,
) -> bool {
    timer
        .get_or_insert_with(|| Box::pin(make()))
        .as_mut()
        .poll(cx)
        .is_ready()
}

/// Watches a response body as its reader reads it (the observability layer counts bytes and
/// logs the end with it).
pub(crate) trait BodyTap: Send {
    /// `bytes` more were handed to the reader.
    fn data(&mut self, bytes: usize);
    /// The body ended, with this error if it failed. Called at most once.
    fn end(&mut self, error: Option<&TransportError>);
}

impl ResponseBody {
    /// Wrap any body, with the default cap ([`DEFAULT_MAX_RESPONSE_BODY`]) and no read timeout.
    /// Handy for custom inner services and layers that answer by themselves.
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self::with_limits(body, DEFAULT_MAX_RESPONSE_BODY, None)
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::new(http_body_util::Empty::<Bytes>::new())
    }

    /// A body holding `bytes`.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        Self::new(http_body_util::Full::new(bytes.into()))
    }

    pub(crate) fn with_limits<B>(body: B, limit: usize, idle: Option<Duration>) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self {
            inner: ClientBody::new(body),
            limit,
            received: 0,
            idle,
            idle_timer: None,
            deadline: None,
            done: false,
            replay: BytesMut::new(),
            replay_error: None,
            tap: None,
        }
    }

    /// The cap on this body, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Fail reading with a total timeout once `deadline` passes (used by the total timeout).
    pub(crate) fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = Some(Deadline {
            at: deadline,
            timer: None,
        });
    }

    /// Watch this body as it is read.
    pub(crate) fn set_tap(&mut self, tap: Box<dyn BodyTap>) {
        self.tap = Some(tap);
    }

    /// Read up to about `n` bytes ahead (whole frames) without consuming them: they are handed
    /// out first when the body is read. Cancel-safe: what was read before a cancellation is
    /// kept. Returns what has been read ahead so far.
    pub(crate) async fn peek(&mut self, n: usize) -> &[u8] {
        while self.replay.len() < n && self.replay_error.is_none() && !self.done {
            let frame = std::future::poll_fn(|cx| self.poll_inner(cx)).await;
            match frame {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.replay.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => self.replay_error = Some(e),
                None => break,
            }
        }
        &self.replay
    }

    /// Tell the tap, once, that the body ended.
    fn finish(&mut self, error: Option<&TransportError>) {
        if let Some(mut tap) = self.tap.take() {
            tap.end(error);
        }
    }

    /// Read the whole body (at most the cap) into memory.
    pub async fn collect_bytes(self) -> Result<Bytes, TransportError> {
        let collected = BodyExt::collect(self)
            .await
            .map_err(TransportError::from_body_error)?;
        Ok(collected.to_bytes())
    }

    fn fail(&mut self, err: TransportError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        Poll::Ready(Some(Err(err.boxed())))
    }

    /// The next frame of the inner body, with the cap and the timeouts applied.
    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(deadline) = &this.deadline
            && Instant::now() >= deadline.at
        {
            return this.fail(TransportError::Timeout {
                kind: TimeoutKind::Total,
            });
        }
        match http_body::Body::poll_frame(Pin::new(&mut this.inner), cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received = this.received.saturating_add(data.len());
                    if this.received > this.limit {
                        return this.fail(TransportError::BodyTooLarge { limit: this.limit });
                    }
                }
                if let (Some(idle), Some(timer)) = (this.idle, this.idle_timer.as_mut()) {
                    // A read timeout too long to represent never fires (and must not panic).
                    match Instant::now().checked_add(idle) {
                        Some(at) => timer.as_mut().reset(at),
                        None => this.idle_timer = None,
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                let err = TransportError::from_body_error(e);
                this.fail(err)
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if let Some(deadline) = this.deadline.as_mut() {
                    let at = deadline.at;
                    if fired(&mut deadline.timer, || tokio::time::sleep_until(at), cx) {
                        return this.fail(TransportError::Timeout {
                            kind: TimeoutKind::Total,
                        });
                    }
                }
                if let Some(idle) = this.idle
                    && fired(&mut this.idle_timer, || tokio::time::sleep(idle), cx)
                {
                    return this.fail(TransportError::Timeout {
                        kind: TimeoutKind::BodyRead,
                    });
                }
                Poll::Pending
            }
        }
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("limit", &self.limit)
            .field("received", &self.received)
            .field("read_timeout", &self.idle)
            .finish_non_exhaustive()
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if !this.replay.is_empty() {
            let data = this.replay.split().freeze();
            if let Some(tap) = this.tap.as_mut() {
                tap.data(data.len());
            }
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if let Some(e) = this.replay_error.take() {
            let err = TransportError::from_body_error(e);
            this.finish(Some(&err));
            return Poll::Ready(Some(Err(err.boxed())));
        }
        let polled = this.poll_inner(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(tap)) = (frame.data_ref(), this.tap.as_mut()) {
                    tap.data(data.len());
                }
            }
            Poll::Ready(Some(Err(e))) => {
                let err = e.downcast_ref::<TransportError>();
                if let Some(mut tap) = this.tap.take() {
                    tap.end(err);
                }
            }
            Poll::Ready(None) => this.finish(None),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.replay.is_empty()
            && self.replay_error.is_none()
            && (self.done || self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let ahead = self.replay.len() as u64;
        if ahead == 0 {
            return inner;
        }
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(ahead));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(ahead));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt as _;
    use http_body::Body as _;

    #[tokio::test]
    async fn buffered_body_is_replayable_and_cloned() {
        let b = Body::from("hello");
        let c = b.try_clone().unwrap();
        assert_eq!(c.collect().await.unwrap().to_bytes(), "hello");
        assert_eq!(b.collect().await.unwrap().to_bytes(), "hello");
        assert!(Body::empty().is_end_stream());
        assert!(Body::from(Vec::new()).is_end_stream());
    }

    #[tokio::test]
    async fn stream_body_is_not_replayable() {
        let s = Body::from_stream(futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"a")),
            Ok(Bytes::from_static(b"b")),
        ]));
        assert!(!s.is_replayable());
        assert!(s.try_clone().is_none());
        assert_eq!(s.collect().await.unwrap().to_bytes(), "ab");
    }

    #[tokio::test]
    async fn response_body_stops_at_the_cap() {
        let chunks = (0..100).map(|_| Ok::<_, BoxError>(Frame::data(Bytes::from(vec![0u8; 10]))));
        let body = http_body_util::StreamBody::new(futures_util::stream::iter(chunks));
        let rb = ResponseBody::with_limits(body, 55, None);
        let err = rb.collect_bytes().await.unwrap_err();
        assert!(matches!(err, TransportError::BodyTooLarge { limit: 55 }));
        let ok = ResponseBody::with_limits(http_body_util::Full::new(Bytes::from("x")), 1, None);
        assert_eq!(ok.collect_bytes().await.unwrap(), "x");
    }

    #[tokio::test]
    async fn a_read_timeout_too_long_to_represent_does_not_panic() {
        // Pending first (which arms the idle timer), then data (which re-arms it).
        let mut polled = false;
        let chunks = futures_util::stream::poll_fn(move |cx| {
            if polled {
                return Poll::Ready(None);
            }
            polled = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .chain(futures_util::stream::iter(vec![Ok::<_, BoxError>(
            Frame::data(Bytes::from_static(b"ok")),
        )]));
        let body = http_body_util::StreamBody::new(chunks);
        let rb = ResponseBody::with_limits(body, 10, Some(Duration::MAX));
        assert_eq!(rb.collect_bytes().await.unwrap(), "ok");
    }

    #[tokio::test]
    async fn a_counted_stream_reports_each_piece_and_bytes_are_left_alone() {
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = sent.clone();
        let s = Body::from_stream(futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Ok(Bytes::from_static(b"de")),
        ]))
        .counted(move |n| {
            counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(s.collect().await.unwrap().to_bytes(), "abcde");
        assert_eq!(sent.load(std::sync::atomic::Ordering::Relaxed), 5);
        let b = Body::from("xyz").counted(|_| panic!("buffered bodies are counted by size"));
        assert!(b.is_replayable());
    }

    #[tokio::test]
    async fn a_peeked_prefix_is_read_again_and_the_tap_sees_everything() {
        struct Tap(std::sync::Arc<std::sync::Mutex<(usize, bool)>>);
        impl BodyTap for Tap {
            fn data(&mut self, bytes: usize) {
                self.0.lock().unwrap().0 += bytes;
            }
            fn end(&mut self, error: Option<&TransportError>) {
                assert!(error.is_none());
                self.0.lock().unwrap().1 = true;
            }
        }
        let chunks = ["ab", "cd", "ef"].map(|c| Ok::<_, BoxError>(Frame::data(Bytes::from(c))));
        let body = http_body_util::StreamBody::new(futures_util::stream::iter(chunks));
        let mut rb = ResponseBody::with_limits(body, 100, None);
        assert_eq!(rb.peek(3).await, b"abcd");
        assert_eq!(rb.size_hint().lower(), 4);
        let seen = std::sync::Arc::default();
        rb.set_tap(Box::new(Tap(std::sync::Arc::clone(&seen))));
        assert_eq!(rb.collect_bytes().await.unwrap(), "abcdef");
        assert_eq!(*seen.lock().unwrap(), (6, true));

        let mut short = ResponseBody::from_bytes("x");
        assert_eq!(short.peek(10).await, b"x");
        assert!(!short.is_end_stream());
        assert_eq!(short.collect_bytes().await.unwrap(), "x");
    }

    #[tokio::test(start_paused = true)]
    async fn response_body_read_timeout() {
        let pending = http_body_util::StreamBody::new(futures_util::stream::pending::<
            Result<Frame<Bytes>, BoxError>,
        >());
        let rb = ResponseBody::with_limits(pending, 10, Some(Duration::from_secs(5)));
        let err = rb.collect_bytes().await.unwrap_err();
        assert!(matches!(
            err,
            TransportError::Timeout {
                kind: TimeoutKind::BodyRead
            }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn the_total_deadline_ends_a_body_that_keeps_coming_and_one_that_waits() {
        let is_total = |e: &TransportError| {
            matches!(
                e,
                TransportError::Timeout {
                    kind: TimeoutKind::Total
                }
            )
        };
        // Every frame ready at once: no timer is set, the deadline is read from the clock.
        let ready = (0..10).map(|_| Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"ab"))));
        let mut rb = ResponseBody::with_limits(
            http_body_util::StreamBody::new(futures_util::stream::iter(ready)),
            100,
            None,
        );
        rb.set_deadline(Instant::now() + Duration::from_secs(1));
        assert_eq!(
            rb.frame().await.unwrap().unwrap().into_data().unwrap(),
            "ab"
        );
        assert!(rb.deadline.as_ref().is_some_and(|d| d.timer.is_none()));
        tokio::time::advance(Duration::from_secs(2)).await;
        let err = TransportError::from_body_error(rb.frame().await.unwrap().unwrap_err());
        assert!(is_total(&err), "{err:?}");
        assert!(rb.frame().await.is_none(), "a failed body ends");

        // Nothing arrives: the timer set on the first wait fires, before the read timeout.
        let pending = http_body_util::StreamBody::new(futures_util::stream::pending::<
            Result<Frame<Bytes>, BoxError>,
        >());
        let mut rb = ResponseBody::with_limits(pending, 10, Some(Duration::from_secs(60)));
        rb.set_deadline(Instant::now() + Duration::from_secs(5));
        let started = Instant::now();
        let err = rb.collect_bytes().await.unwrap_err();
        assert!(is_total(&err), "{err:?}");
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }
}
