//! The blocking Attachment API: list, upload, download, delete.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;

use bytes::{Buf, Bytes};
use http::HeaderMap;

use super::{ListRequest, Runtime};
use crate::{Attachment, Error};

/// The blocking form of [`snow_client::Attachments`](crate::Attachments).
///
/// ```no_run
/// # fn demo(client: snow_client::blocking::Client, incident_id: &str) -> Result<(), snow_client::Error> {
/// let attachments = client.attachments();
/// let meta = attachments.upload("incident", incident_id, "notes.txt", b"hello".to_vec()).send()?;
/// for a in attachments.for_record("incident", incident_id).all::<snow_client::Attachment>()? {
///     println!("{} ({} bytes)", a.file_name, a.size().unwrap_or(0));
/// }
/// let mut file = std::fs::File::create("notes.txt").expect("a file");
/// attachments.download(&meta.sys_id)?.write_to(&mut file)?;
/// attachments.delete(&meta.sys_id)?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Attachments {
    inner: crate::Attachments,
    rt: Runtime,
}

impl Attachments {
    pub(crate) fn new(inner: crate::Attachments, rt: Runtime) -> Self {
        Self { inner, rt }
    }

    /// A list of attachment metadata.
    pub fn list(&self) -> ListRequest {
        ListRequest::new(self.inner.list(), self.rt.clone())
    }

    /// The attachments of one record.
    pub fn for_record(&self, table: &str, sys_id: &str) -> ListRequest {
        ListRequest::new(self.inner.for_record(table, sys_id), self.rt.clone())
    }

    /// The attachments of every record of a table.
    pub fn for_table(&self, table: &str) -> ListRequest {
        ListRequest::new(self.inner.for_table(table), self.rt.clone())
    }

    /// One attachment's metadata.
    pub fn get(&self, sys_id: &str) -> Result<Attachment, Error> {
        self.rt.block_on(self.inner.get(sys_id))
    }

    /// Uploads `data` as `file_name` to a record; see
    /// [`snow_client::Attachments::upload`](crate::Attachments::upload).
    pub fn upload(
        &self,
        table: &str,
        table_sys_id: &str,
        file_name: &str,
        data: impl Into<Bytes>,
    ) -> UploadRequest {
        UploadRequest {
            inner: self.inner.upload(table, table_sys_id, file_name, data),
            rt: self.rt.clone(),
        }
    }

    /// Uploads a file from disk, streamed; see
    /// [`snow_client::Attachments::upload_file`](crate::Attachments::upload_file).
    pub fn upload_file(
        &self,
        table: &str,
        table_sys_id: &str,
        path: impl AsRef<Path>,
    ) -> UploadRequest {
        UploadRequest {
            inner: self.inner.upload_file(table, table_sys_id, path),
            rt: self.rt.clone(),
        }
    }

    /// Starts downloading an attachment's content; read it with [`Download`]'s
    /// [`Read`] implementation, [`bytes`](Download::bytes) or [`write_to`](Download::write_to).
    pub fn download(&self, sys_id: &str) -> Result<Download, Error> {
        let inner = self.rt.block_on(self.inner.download(sys_id).send())?;
        Ok(Download {
            inner,
            rt: self.rt.clone(),
            chunk: Bytes::new(),
        })
    }

    /// Downloads an attachment into the file at `path`, whole or not at all; see
    /// [`snow_client::attachment::Attachments::download_to`](crate::attachment::Attachments::download_to).
    pub fn download_to(
        &self,
        sys_id: &str,
        path: impl AsRef<std::path::Path>,
    ) -> Result<crate::attachment::SavedFile, Error> {
        self.rt.block_on(self.inner.download_to(sys_id, path))
    }

    /// Deletes an attachment.
    pub fn delete(&self, sys_id: &str) -> Result<(), Error> {
        self.rt.block_on(self.inner.delete(sys_id))
    }
}

/// An upload being configured; see
/// [`snow_client::attachment::UploadRequest`](crate::attachment::UploadRequest).
#[derive(Debug)]
#[must_use = "a request does nothing until sent"]
pub struct UploadRequest {
    inner: crate::attachment::UploadRequest,
    rt: Runtime,
}

impl UploadRequest {
    fn map(
        self,
        f: impl FnOnce(crate::attachment::UploadRequest) -> crate::attachment::UploadRequest,
    ) -> Self {
        Self {
            inner: f(self.inner),
            rt: self.rt,
        }
    }

    super::delegate! { "attachment::UploadRequest";
        fn content_type(content_type: impl Into<String>);
        fn file_name(name: impl Into<String>);
        fn encryption_context(sys_id: impl Into<String>);
        fn multipart();
    }

    /// Sends the upload: the new attachment's metadata.
    pub fn send(self) -> Result<Attachment, Error> {
        self.rt.block_on(self.inner.send())
    }
}

/// An attachment's content, read as it arrives: [`Read`] it, or take it whole with
/// [`bytes`](Self::bytes), or copy it with [`write_to`](Self::write_to).
pub struct Download {
    inner: crate::attachment::Download,
    rt: Runtime,
    /// What is left of the last chunk received.
    chunk: Bytes,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Download {
    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The `Content-Type` of the content.
    pub fn content_type(&self) -> Option<&str> {
        self.inner.content_type()
    }

    /// The metadata from `X-Attachment-Metadata`, when sent and valid.
    pub fn metadata(&self) -> Option<Attachment> {
        self.inner.metadata()
    }

    /// The next chunk of content, `None` at the end.
    fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        if self.chunk.has_remaining() {
            return Ok(Some(std::mem::take(&mut self.chunk)));
        }
        let inner = &mut self.inner;
        self.rt.block_on(async {
            use futures_util::StreamExt;
            while let Some(chunk) = inner.next().await {
                let chunk = chunk?;
                if !chunk.is_empty() {
                    return Ok(Some(chunk));
                }
            }
            Ok(None)
        })
    }

    /// Reads the whole content into memory (at most the transport's body cap).
    pub fn bytes(mut self) -> Result<Bytes, Error> {
        let mut out = bytes::BytesMut::new();
        while let Some(chunk) = self.next_chunk()? {
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }

    /// Writes the content to `writer` chunk by chunk; returns the number of bytes written.
    pub fn write_to<W: Write>(mut self, writer: &mut W) -> Result<u64, Error> {
        let failed =
            |e: io::Error| Error::invalid_input(format!("could not write the download: {e}"));
        let mut n = 0u64;
        while let Some(chunk) = self.next_chunk()? {
            writer.write_all(&chunk).map_err(failed)?;
            n += chunk.len() as u64;
        }
        writer.flush().map_err(failed)?;
        Ok(n)
    }
}

impl Read for Download {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let Some(mut chunk) = self.next_chunk().map_err(io::Error::other)? else {
            return Ok(0);
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.advance(n);
        self.chunk = chunk;
        Ok(n)
    }
}
