//! The Attachment API: list, upload, download (streamed) and delete.

use std::fmt;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyDataStream;
use snow_transport::{Body, ResponseBody};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Error;
use crate::client::Client;
use crate::list::ListRequest;
use crate::query::field;
use crate::request::{ApiRequest, BoxFuture};
use crate::response::RawResponse;

/// An attachment's metadata (`sys_attachment`), as the Attachment API returns it. Every value
/// is text, as on the wire; missing members are empty.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Attachment {
    /// The attachment's sys_id.
    pub sys_id: String,
    /// The file name.
    pub file_name: String,
    /// The MIME type it was uploaded with.
    pub content_type: String,
    /// The size in bytes, as text (see [`size`](Self::size)).
    pub size_bytes: String,
    /// The table of the record it is attached to.
    pub table_name: String,
    /// The sys_id of that record.
    pub table_sys_id: String,
    /// The URL of its content.
    pub download_link: String,
    /// SHA-256 of the content, when the instance sends it.
    pub hash: String,
    /// `sys_created_on`.
    pub sys_created_on: String,
}

impl Attachment {
    /// The size in bytes, when it is a number.
    pub fn size(&self) -> Option<u64> {
        self.size_bytes.trim().parse().ok()
    }
}

/// The Attachment API (`/api/now/attachment`).
///
/// ```no_run
/// # async fn demo(client: snow_client::Client, incident_id: &str) -> Result<(), snow_client::Error> {
/// let attachments = client.attachments();
/// let meta = attachments
///     .upload("incident", incident_id, "notes.txt", b"hello".to_vec())
///     .await?;                                   // content type guessed: text/plain
/// for a in attachments.for_record("incident", incident_id).all::<snow_client::Attachment>().await? {
///     println!("{} ({} bytes)", a.file_name, a.size().unwrap_or(0));
/// }
/// let bytes = attachments.download(&meta.sys_id).await?.bytes().await?;
/// assert_eq!(&bytes[..], b"hello");
/// attachments.delete(&meta.sys_id).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Attachments {
    client: Client,
}

impl Attachments {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// `method` on `/attachment/{sys_id}`.
    fn one(method: Method, sys_id: &str) -> ApiRequest {
        ApiRequest::api(method, ["attachment", sys_id])
    }

    /// A list of attachment metadata; add a query, paging options...
    pub fn list(&self) -> ListRequest {
        ListRequest::new(
            self.client.clone(),
            ApiRequest::api(Method::GET, ["attachment"]),
        )
    }

    /// The attachments of one record (`table_sys_id=<id>^table_name=<table>`).
    pub fn for_record(&self, table: &str, sys_id: &str) -> ListRequest {
        self.list()
            .query(field("table_sys_id").eq(sys_id) & field("table_name").eq(table))
    }

    /// The attachments of every record of a table (`table_name=<table>`).
    pub fn for_table(&self, table: &str) -> ListRequest {
        self.list().query(field("table_name").eq(table))
    }

    /// One attachment's metadata.
    pub async fn get(&self, sys_id: &str) -> Result<Attachment, Error> {
        self.client
            .send_buffered(Self::one(Method::GET, sys_id))
            .await?
            .raw()
            .decode_one()
    }

    /// Uploads `data` as `file_name` to a record (`POST /attachment/file`, raw body). The
    /// content type is guessed from the file name unless set with
    /// [`UploadRequest::content_type`].
    pub fn upload(
        &self,
        table: &str,
        table_sys_id: &str,
        file_name: &str,
        data: impl Into<Bytes>,
    ) -> UploadRequest {
        UploadRequest::new(
            self.client.clone(),
            table,
            table_sys_id,
            file_name,
            Source::Bytes(data.into()),
        )
    }

    /// Uploads a file from disk, streamed (not read into memory). The attachment is named after
    /// the file unless [`UploadRequest::file_name`] says otherwise.
    pub fn upload_file(
        &self,
        table: &str,
        table_sys_id: &str,
        path: impl AsRef<Path>,
    ) -> UploadRequest {
        let path = path.as_ref();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        UploadRequest::new(
            self.client.clone(),
            table,
            table_sys_id,
            &name,
            Source::File(path.to_owned()),
        )
    }

    /// Uploads the bytes of a stream as `file_name`, sent as they come (never held whole in
    /// memory): for content produced on the fly, or a file read with progress reporting. The
    /// content type is guessed from the file name unless set with
    /// [`UploadRequest::content_type`]. A streamed body cannot be sent twice, so the upload is
    /// not retried.
    ///
    /// ```no_run
    /// use bytes::Bytes;
    /// # async fn demo(client: snow_client::Client, incident_id: &str) -> Result<(), snow_client::Error> {
    /// let chunks = futures_util::stream::iter([
    ///     Ok::<_, snow_client::core::BoxError>(Bytes::from_static(b"hello, ")),
    ///     Ok(Bytes::from_static(b"world")),
    /// ]);
    /// let meta = client
    ///     .attachments()
    ///     .upload_stream("incident", incident_id, "greeting.txt", chunks)
    ///     .await?;
    /// assert_eq!(meta.size(), Some(12));
    /// # Ok(()) }
    /// ```
    pub fn upload_stream<S>(
        &self,
        table: &str,
        table_sys_id: &str,
        file_name: &str,
        stream: S,
    ) -> UploadRequest
    where
        S: Stream<Item = Result<Bytes, snow_core::BoxError>> + Send + 'static,
    {
        UploadRequest::new(
            self.client.clone(),
            table,
            table_sys_id,
            file_name,
            Source::Stream(Body::from_stream(stream)),
        )
    }

    /// Starts downloading an attachment's content (`GET /attachment/{id}/file`); the body is
    /// read as it arrives.
    pub async fn download(&self, sys_id: &str) -> Result<Download, Error> {
        let req = Self::one(Method::GET, sys_id)
            .segment("file")
            .header(http::header::ACCEPT, HeaderValue::from_static("*/*"));
        let resp = self.client.send(req).await?;
        if !resp.status().is_success() || resp.status() == StatusCode::ACCEPTED {
            let (parts, body) = resp.into_parts();
            let body = body.collect_bytes().await?;
            let raw = RawResponse::new(&Method::GET, parts.status, &parts.headers, &body)
                .with_sent_credentials(parts.extensions.get());
            raw.expect_success()?;
            return Err(Error::UnexpectedResponse {
                status: parts.status,
                content_type: None,
                reason: "no attachment content".into(),
                excerpt: String::new(),
            });
        }
        let (parts, body) = resp.into_parts();
        Ok(Download {
            headers: parts.headers,
            body: BodyDataStream::new(body),
        })
    }

    /// Deletes an attachment (`DELETE /attachment/{id}`, answered `204`).
    pub async fn delete(&self, sys_id: &str) -> Result<(), Error> {
        self.client
            .send_buffered(Self::one(Method::DELETE, sys_id))
            .await?
            .raw()
            .expect_success()
    }
}

#[derive(Debug)]
enum Source {
    Bytes(Bytes),
    File(std::path::PathBuf),
    Stream(Body),
}

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
}

impl UploadRequest {
    fn new(client: Client, table: &str, sys_id: &str, file_name: &str, source: Source) -> Self {
        Self {
            client,
            table: table.to_owned(),
            table_sys_id: sys_id.to_owned(),
            file_name: file_name.to_owned(),
            content_type: None,
            encryption_context: None,
            source,
        }
    }

    /// The MIME type to send instead of the guessed one.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// The attachment's file name.
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = name.into();
        self
    }

    /// `encryption_context`: the sys_id of an encryption context.
    pub fn encryption_context(mut self, sys_id: impl Into<String>) -> Self {
        self.encryption_context = Some(sys_id.into());
        self
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
        let content_type = HeaderValue::try_from(content_type.as_str()).map_err(|_| {
            Error::invalid_input("the attachment content type is not a valid header value")
        })?;
        let mut req = ApiRequest::api(Method::POST, ["attachment", "file"])
            .pair("table_name", self.table)
            .pair("table_sys_id", self.table_sys_id)
            .pair("file_name", self.file_name);
        if let Some(ctx) = self.encryption_context {
            req = req.pair("encryption_context", ctx);
        }
        let req = match self.source {
            Source::Bytes(b) => req.bytes(b, content_type),
            Source::File(path) => {
                let file = tokio::fs::File::open(&path).await.map_err(|e| {
                    Error::invalid_input(format!("cannot open {}: {e}", path.display()))
                })?;
                req.stream(Body::from_stream(read_chunks(file)), content_type)
            }
            Source::Stream(body) => req.stream(body, content_type),
        };
        self.client.send_buffered(req).await?.raw().decode_one()
    }
}

impl std::future::IntoFuture for UploadRequest {
    type Output = Result<Attachment, Error>;
    type IntoFuture = BoxFuture<Attachment>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// Reads a file in 64 KiB chunks.
fn read_chunks<R: AsyncRead + Unpin + Send + 'static>(
    reader: R,
) -> impl Stream<Item = Result<Bytes, snow_core::BoxError>> + Send + 'static {
    futures_util::stream::unfold(Some(reader), |state| async move {
        let mut reader = state?;
        let mut buf = vec![0u8; 64 * 1024];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(reader)))
            }
            Err(e) => Some((Err(Box::new(e) as snow_core::BoxError), None)),
        }
    })
}

/// The content type for a file name, from a small table of common extensions;
/// `application/octet-stream` otherwise.
///
/// ```
/// assert_eq!(snow_client::attachment::guess_content_type("Report.PDF"), "application/pdf");
/// assert_eq!(snow_client::attachment::guess_content_type("notes.txt"), "text/plain");
/// assert_eq!(snow_client::attachment::guess_content_type("blob"), "application/octet-stream");
/// ```
pub fn guess_content_type(file_name: &str) -> &'static str {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" | "text" => "text/plain",
        "csv" => "text/csv",
        "md" => "text/markdown",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "eml" => "message/rfc822",
        _ => "application/octet-stream",
    }
}

/// An attachment's content, streamed as it arrives ([`Stream`] of byte chunks).
pub struct Download {
    headers: HeaderMap,
    body: BodyDataStream<ResponseBody>,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("content_type", &self.content_type())
            .finish_non_exhaustive()
    }
}

impl Download {
    /// The response headers (`Content-Type`, `Content-Disposition`, `X-Attachment-Metadata`...).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `Content-Type` of the content.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }

    /// The metadata from `X-Attachment-Metadata`, when sent and valid.
    pub fn metadata(&self) -> Option<Attachment> {
        let v = self.headers.get("x-attachment-metadata")?.to_str().ok()?;
        serde_json::from_str(v).ok()
    }

    /// Reads the whole content into memory (at most the transport's body cap).
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        use futures_util::StreamExt;
        let mut out = bytes::BytesMut::new();
        while let Some(chunk) = self.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.freeze())
    }

    /// Writes the content to `writer` chunk by chunk; returns the number of bytes written.
    pub async fn write_to<W: AsyncWrite + Unpin>(mut self, writer: &mut W) -> Result<u64, Error> {
        use futures_util::StreamExt;
        let mut n = 0u64;
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            writer
                .write_all(&chunk)
                .await
                .map_err(|e| Error::invalid_input(format!("could not write the download: {e}")))?;
            n += chunk.len() as u64;
        }
        writer
            .flush()
            .await
            .map_err(|e| Error::invalid_input(format!("could not write the download: {e}")))?;
        Ok(n)
    }
}

impl Stream for Download {
    type Item = Result<Bytes, Error>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.get_mut().body)
            .poll_next(cx)
            .map(|o| o.map(|r| r.map_err(|e| Error::from(snow_transport::TransportError::from(e)))))
    }
}
