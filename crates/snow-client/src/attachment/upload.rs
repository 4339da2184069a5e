//! Uploads: raw (`POST /attachment/file`) or multipart (`POST /attachment/upload`), from
//! memory, a file or any async reader, streamed in 64 KiB chunks.

use std::fmt;
use std::future::IntoFuture;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_util::StreamExt;
use http::header::CONTENT_LENGTH;
use http::{HeaderValue, Method};
use snow_transport::Body;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::multipart::Frame;
use super::{Attachment, guess_content_type};
use crate::Error;
use crate::client::Client;
use crate::request::{ApiRequest, BoxFuture};

/// Bytes read from a source at a time.
const CHUNK: usize = 64 * 1024;

/// What an upload sends.
pub(super) enum Source {
    Bytes(Bytes),
    File(PathBuf),
    Reader(Box<dyn AsyncRead + Send + Unpin>, Option<u64>),
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Bytes(b) => f.debug_tuple("Bytes").field(&b.len()).finish(),
            Source::File(p) => f.debug_tuple("File").field(p).finish(),
            Source::Reader(_, len) => f.debug_tuple("Reader").field(len).finish(),
        }
    }
}

/// Where a failure of the source is kept, so that the upload reports it rather than the
/// transport's "body stream failed".
type Failure = Arc<Mutex<Option<std::io::Error>>>;

/// An upload being configured; `.await` it (or call [`send`](Self::send)) for the new
/// attachment's metadata.
#[derive(Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct UploadRequest {
    client: Client,
    table: String,
    table_sys_id: String,
    file_name: String,
    content_type: Option<String>,
    encryption_context: Option<String>,
    source: Source,
    multipart: bool,
}

/// The content, opened: in memory, or a stream with its length when known.
enum Content {
    Bytes(Bytes),
    Stream(Body, Option<u64>),
}

impl UploadRequest {
    pub(super) fn new(
        client: Client,
        table: &str,
        sys_id: &str,
        file_name: &str,
        source: Source,
    ) -> Self {
        Self {
            client,
            table: table.to_owned(),
            table_sys_id: sys_id.to_owned(),
            file_name: file_name.to_owned(),
            content_type: None,
            encryption_context: None,
            source,
            multipart: false,
        }
    }

    /// The MIME type to send instead of the guessed one.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// The attachment's file name (any text without control characters: spaces, quotes and
    /// non-ASCII letters are kept as given).
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = name.into();
        self
    }

    /// `encryption_context`: the sys_id of an encryption context.
    pub fn encryption_context(mut self, sys_id: impl Into<String>) -> Self {
        self.encryption_context = Some(sys_id.into());
        self
    }

    /// Send as `multipart/form-data` to `/attachment/upload` (form fields `table_name` and
    /// `table_sys_id`, then the file part, with a fresh random boundary) instead of the raw
    /// body of `/attachment/file`.
    pub fn multipart(mut self) -> Self {
        self.multipart = true;
        self
    }

    /// Opens the source.
    async fn open(source: Source, failure: &Failure) -> Result<Content, Error> {
        Ok(match source {
            Source::Bytes(b) => Content::Bytes(b),
            Source::File(path) => {
                let action = || format!("open {} for the upload", path.display());
                let file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| Error::io(action(), e))?;
                let len = file
                    .metadata()
                    .await
                    .map_err(|e| Error::io(action(), e))?
                    .len();
                let body =
                    Body::from_stream(read_chunks(Box::new(file), Some(len), failure.clone()));
                Content::Stream(body, Some(len))
            }
            Source::Reader(reader, len) => Content::Stream(
                Body::from_stream(read_chunks(reader, len, failure.clone())),
                len,
            ),
        })
    }

    /// Sends the upload.
    pub async fn send(self) -> Result<Attachment, Error> {
        if self.file_name.is_empty() || self.file_name.chars().any(char::is_control) {
            return Err(Error::invalid_input(
                "the attachment file name is empty or contains control characters",
            ));
        }
        let content_type = self
            .content_type
            .clone()
            .unwrap_or_else(|| guess_content_type(&self.file_name).to_owned());
        let header = |v: &str| {
            HeaderValue::try_from(v).map_err(|_| {
                Error::invalid_input("the attachment content type is not a valid header value")
            })
        };
        let file_ct = header(&content_type)?;
        let failure: Failure = Arc::default();
        let frame = if self.multipart {
            let mut fields = vec![
                ("table_name", self.table.as_str()),
                ("table_sys_id", self.table_sys_id.as_str()),
            ];
            if let Some(ctx) = &self.encryption_context {
                fields.push(("encryption_context", ctx.as_str()));
            }
            Some(Frame::new(&fields, &self.file_name, &content_type)?)
        } else {
            None
        };
        let content = Self::open(self.source, &failure).await?;
        let req = match frame {
            Some(frame) => {
                let ct = header(&frame.content_type())?;
                let req = ApiRequest::api(Method::POST, ["attachment", "upload"]);
                match content {
                    Content::Bytes(b) => {
                        let mut all =
                            BytesMut::with_capacity(frame.head.len() + b.len() + frame.tail.len());
                        all.extend_from_slice(&frame.head);
                        all.extend_from_slice(&b);
                        all.extend_from_slice(&frame.tail);
                        req.bytes(all.freeze(), ct)
                    }
                    Content::Stream(body, len) => {
                        let (head, tail) = (frame.head.clone(), frame.tail.clone());
                        let framed = futures_util::stream::once(async move {
                            Ok::<_, snow_core::BoxError>(head)
                        })
                        .chain(http_body_util::BodyDataStream::new(body))
                        .chain(futures_util::stream::once(async move { Ok(tail) }));
                        with_length(
                            req.stream(Body::from_stream(framed), ct),
                            len.map(|n| frame.len_with(n)),
                        )
                    }
                }
            }
            None => {
                let mut req = ApiRequest::api(Method::POST, ["attachment", "file"])
                    .pair("table_name", self.table)
                    .pair("table_sys_id", self.table_sys_id)
                    .pair("file_name", self.file_name);
                if let Some(ctx) = self.encryption_context {
                    req = req.pair("encryption_context", ctx);
                }
                match content {
                    Content::Bytes(b) => req.bytes(b, file_ct),
                    Content::Stream(body, len) => with_length(req.stream(body, file_ct), len),
                }
            }
        };
        match self.client.send_buffered(req).await {
            Ok(resp) => resp.raw().decode_one(),
            Err(e) => {
                let source = failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                Err(match source {
                    Some(io) => Error::io("read the upload's content", io),
                    None => e,
                })
            }
        }
    }
}

/// Announces the body's length when it is known.
fn with_length(req: ApiRequest, len: Option<u64>) -> ApiRequest {
    match len {
        Some(n) => req.header(CONTENT_LENGTH, HeaderValue::from(n)),
        None => req,
    }
}

impl IntoFuture for UploadRequest {
    type Output = Result<Attachment, Error>;
    type IntoFuture = BoxFuture<Attachment>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// Reads `reader` in chunks: exactly `expected` bytes when given (ending early is an error),
/// else until it ends. A failure is kept in `failure` as well as ending the stream.
fn read_chunks(
    reader: Box<dyn AsyncRead + Send + Unpin>,
    expected: Option<u64>,
    failure: Failure,
) -> impl Stream<Item = Result<Bytes, snow_core::BoxError>> + Send + 'static {
    futures_util::stream::unfold(Some((reader, 0u64)), move |state| {
        let failure = failure.clone();
        async move {
            let (mut reader, sent) = state?;
            let want = match expected {
                Some(n) => usize::try_from(n - sent).unwrap_or(usize::MAX).min(CHUNK),
                None => CHUNK,
            };
            if want == 0 {
                return None;
            }
            let mut buf = vec![0u8; want];
            let fail = |e: std::io::Error| {
                let boxed: snow_core::BoxError =
                    Box::new(std::io::Error::new(e.kind(), e.to_string()));
                *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                Some((Err(boxed), None))
            };
            match reader.read(&mut buf).await {
                Ok(0) => match expected {
                    Some(n) => fail(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("the content ended after {sent} of the {n} bytes announced"),
                    )),
                    None => None,
                },
                Ok(k) => {
                    buf.truncate(k);
                    Some((Ok(Bytes::from(buf)), Some((reader, sent + k as u64))))
                }
                Err(e) => fail(e),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    #[tokio::test]
    async fn a_reader_is_read_to_its_announced_length() {
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let failure = Failure::default();
        let chunks: Vec<Bytes> = read_chunks(
            Box::new(std::io::Cursor::new(data.clone())),
            Some(150_000),
            failure.clone(),
        )
        .try_collect()
        .await
        .unwrap();
        assert_eq!(chunks.concat(), data[..150_000]);
        assert!(chunks.iter().all(|c| c.len() <= CHUNK));

        let short = read_chunks(
            Box::new(std::io::Cursor::new(vec![1u8; 10])),
            Some(20),
            failure.clone(),
        );
        let e = short.try_collect::<Vec<Bytes>>().await.unwrap_err();
        assert!(e.to_string().contains("after 10 of the 20"), "{e}");
        assert!(failure.lock().unwrap().is_some());

        let all: Vec<Bytes> = read_chunks(
            Box::new(std::io::Cursor::new(data.clone())),
            None,
            Failure::default(),
        )
        .try_collect()
        .await
        .unwrap();
        assert_eq!(all.concat(), data);
    }
}
