//! The Attachment API: list, upload (raw or multipart, from memory, a file or any async
//! reader), download (streamed, or saved to a file whole or not at all, checked against the
//! instance's SHA-256) and delete.
//!
//! Files: `upload.rs` (uploads and their sources), `multipart.rs` (the `multipart/form-data`
//! framing of `/attachment/upload`), `download.rs` (the streamed content and saving it).

mod download;
mod multipart;
mod upload;

use std::path::Path;

use http::Method;

pub use download::{Download, DownloadRequest, SavedFile};
pub use upload::UploadRequest;

use crate::Error;
use crate::client::Client;
use crate::list::ListRequest;
use crate::query::field;
use crate::request::ApiRequest;

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
///
/// // Large files: streamed both ways, in bounded memory; the download is checked against the
/// // instance's SHA-256 and appears at its path whole or not at all.
/// let big = attachments.upload_file("incident", incident_id, "/tmp/backup.tar").multipart().await?;
/// attachments.download_to(&big.sys_id, "/tmp/restored.tar").await?;
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

    /// Uploads `data` as `file_name` to a record (`POST /attachment/file`, raw body;
    /// [`UploadRequest::multipart`] for `/attachment/upload`). The content type is guessed
    /// from the file name unless set with [`UploadRequest::content_type`].
    pub fn upload(
        &self,
        table: &str,
        table_sys_id: &str,
        file_name: &str,
        data: impl Into<bytes::Bytes>,
    ) -> UploadRequest {
        UploadRequest::new(
            self.client.clone(),
            table,
            table_sys_id,
            file_name,
            upload::Source::Bytes(data.into()),
        )
    }

    /// Uploads a file from disk, streamed (not read into memory) with its length announced.
    /// The attachment is named after the file unless [`UploadRequest::file_name`] says
    /// otherwise.
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
            upload::Source::File(path.to_owned()),
        )
    }

    /// Uploads what `reader` yields, streamed. With `length` known it is announced
    /// (`Content-Length`) and the reader must yield exactly that many bytes; without, the body
    /// is sent chunked. A reader that fails or ends early makes the upload fail with
    /// [`Error::Io`] and the instance never receives a complete body.
    ///
    /// ```no_run
    /// # async fn demo(client: snow_client::Client, id: &str) -> Result<(), snow_client::Error> {
    /// let file = tokio::fs::File::open("/var/log/app.log").await
    ///     .map_err(|e| snow_client::Error::Io { action: "open the log".into(), source: e })?;
    /// client.attachments()
    ///     .upload_reader("incident", id, "app log.txt", file, None)
    ///     .multipart()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn upload_reader<R>(
        &self,
        table: &str,
        table_sys_id: &str,
        file_name: &str,
        reader: R,
        length: Option<u64>,
    ) -> UploadRequest
    where
        R: tokio::io::AsyncRead + Send + Unpin + 'static,
    {
        UploadRequest::new(
            self.client.clone(),
            table,
            table_sys_id,
            file_name,
            upload::Source::Reader(Box::new(reader), length),
        )
    }

    /// Starts downloading an attachment's content (`GET /attachment/{id}/file`); `.await` it
    /// for a [`Download`], whose body is read as it arrives.
    pub fn download(&self, sys_id: &str) -> DownloadRequest {
        DownloadRequest::new(self.client.clone(), sys_id)
    }

    /// Downloads an attachment into the file at `path`, streamed in bounded memory and of any
    /// size: it is written to a temporary file next to `path`, checked against the
    /// attachment's SHA-256 `hash` when the instance sends one, synced, and renamed to `path`
    /// only then. On any failure (the connection, the disk, [`Error::HashMismatch`]) the
    /// temporary file is removed and `path` is left as it was.
    pub async fn download_to(
        &self,
        sys_id: &str,
        path: impl AsRef<Path>,
    ) -> Result<SavedFile, Error> {
        self.download(sys_id)
            .max_size(usize::MAX)
            .await?
            .save(path)
            .await
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
