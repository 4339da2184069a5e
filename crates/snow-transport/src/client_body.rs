//! [`ClientBody`]: a response body as the HTTP client at the bottom of the stack hands it over.

use std::any::Any;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use snow_core::BoxError;

/// A response body from the HTTP client: hyper's own, held as it is, or any other body, boxed.
/// Keeping hyper's body unboxed spares every response an allocation and every frame a dynamic
/// call; a body that is already a `ClientBody` is kept as it is.
pub(crate) enum ClientBody {
    /// hyper's body (the transport's own client, or a caller's inner service built on hyper).
    Hyper(Incoming),
    /// Any other body.
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl ClientBody {
    /// `body`, boxed unless it is hyper's body or a `ClientBody` already.
    pub(crate) fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        // A look at the body's type, without moving it to the heap to find out.
        let mut slot = Some(body);
        let any: &mut dyn Any = &mut slot;
        if let Some(body) = any
            .downcast_mut::<Option<ClientBody>>()
            .and_then(Option::take)
        {
            return body;
        }
        if let Some(body) = any
            .downcast_mut::<Option<Incoming>>()
            .and_then(Option::take)
        {
            return ClientBody::Hyper(body);
        }
        match slot {
            Some(body) => ClientBody::Boxed(body.map_err(Into::into).boxed_unsync()),
            // Not reached: the slot is only emptied by a match above, which returns.
            None => ClientBody::Boxed(
                http_body_util::Empty::new()
                    .map_err(Into::into)
                    .boxed_unsync(),
            ),
        }
    }
}

impl http_body::Body for ClientBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ClientBody::Hyper(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            ClientBody::Boxed(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ClientBody::Hyper(b) => b.is_end_stream(),
            ClientBody::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ClientBody::Hyper(b) => b.size_hint(),
            ClientBody::Boxed(b) => b.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body::Body as _;

    use super::*;

    #[tokio::test]
    async fn hyper_s_body_is_held_unboxed_and_a_client_body_kept_as_it_is() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client_io, mut server_io) = tokio::io::duplex(4096);
        tokio::spawn(async move {
            let mut head = [0u8; 1024];
            let _ = server_io.read(&mut head).await;
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc";
            server_io.write_all(answer).await.unwrap();
        });
        let io = hyper_util::rt::TokioIo::new(client_io);
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        let request = http::Request::get("/")
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        let resp = send.send_request(request).await.unwrap();
        let body = ClientBody::new(resp.into_body());
        assert!(matches!(body, ClientBody::Hyper(_)));
        let again = ClientBody::new(body);
        assert!(matches!(again, ClientBody::Hyper(_)));
        assert_eq!(&again.collect().await.unwrap().to_bytes()[..], b"abc");
    }

    #[tokio::test]
    async fn any_other_body_is_boxed() {
        let full = ClientBody::new(http_body_util::Full::new(Bytes::from_static(b"abc")));
        assert!(matches!(full, ClientBody::Boxed(_)));
        assert_eq!(full.size_hint().exact(), Some(3));
        assert!(!full.is_end_stream());
        let bytes = full.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"abc");
    }
}
