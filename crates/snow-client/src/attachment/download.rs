//! Downloads: the content streamed as it arrives, checked against the SHA-256 `hash` of the
//! attachment's metadata, and saved to a file whole or not at all.

use std::fmt;
use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyDataStream;
use sha2::{Digest, Sha256};
use snow_transport::ResponseBody;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::Attachment;
use crate::Error;
use crate::client::Client;
use crate::request::{ApiRequest, BoxFuture};
use crate::response::RawResponse;

/// A download being started; `.await` it for the [`Download`].
#[derive(Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct DownloadRequest {
    client: Client,
    sys_id: String,
    max_size: Option<usize>,
}

impl DownloadRequest {
    pub(super) fn new(client: Client, sys_id: &str) -> Self {
        Self {
            client,
            sys_id: sys_id.to_owned(),
            max_size: None,
        }
    }

    /// The most bytes to accept, in place of the transport's response-body cap (128 MiB by
    /// default): raise it for large attachments that are streamed or saved rather than read
    /// into memory.
    pub fn max_size(mut self, bytes: usize) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// Sends the request; the content is read as the [`Download`] is consumed.
    pub async fn send(self) -> Result<Download, Error> {
        let mut req = ApiRequest::api(Method::GET, ["attachment", self.sys_id.as_str(), "file"])
            .header(http::header::ACCEPT, HeaderValue::from_static("*/*"));
        if let Some(max) = self.max_size {
            req = req.max_response_body(max);
        }
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
        let expected_hash = metadata_of(&parts.headers)
            .map(|m| m.hash.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty());
        Ok(Download {
            headers: parts.headers,
            body: BodyDataStream::new(body),
            hasher: Sha256::new(),
            expected_hash,
            received: 0,
        })
    }
}

impl IntoFuture for DownloadRequest {
    type Output = Result<Download, Error>;
    type IntoFuture = BoxFuture<Download>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

fn metadata_of(headers: &HeaderMap) -> Option<Attachment> {
    let v = headers.get("x-attachment-metadata")?.to_str().ok()?;
    serde_json::from_str(v).ok()
}

/// A file saved by [`Download::save`] or [`Attachments::download_to`](super::Attachments::download_to).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SavedFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The SHA-256 of its content, in lowercase hex.
    pub sha256: String,
    /// Whether the instance sent a `hash` it was checked against.
    pub verified: bool,
}

/// An attachment's content, streamed as it arrives ([`Stream`] of byte chunks).
///
/// When the instance sends the attachment's metadata (`X-Attachment-Metadata`) with a SHA-256
/// `hash`, the content is checked against it as it is consumed: [`bytes`](Self::bytes),
/// [`write_to`](Self::write_to) and [`save`](Self::save) end with [`Error::HashMismatch`] when
/// it differs, and the stream yields that error after its last chunk.
pub struct Download {
    headers: HeaderMap,
    body: BodyDataStream<ResponseBody>,
    hasher: Sha256,
    expected_hash: Option<String>,
    received: u64,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("content_type", &self.content_type())
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `%XX` sequences decoded (for `filename*`); invalid UTF-8 is replaced.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hexval = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hexval),
            b.get(i + 2).copied().and_then(hexval),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

    /// The announced length of the content.
    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get(http::header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The metadata from `X-Attachment-Metadata`, when sent and valid.
    pub fn metadata(&self) -> Option<Attachment> {
        metadata_of(&self.headers)
    }

    /// The SHA-256 the content is checked against, when the instance sent one.
    pub fn expected_hash(&self) -> Option<&str> {
        self.expected_hash.as_deref()
    }

    /// The file name: `filename*` of `Content-Disposition` (UTF-8), else its `filename`, else
    /// the metadata's.
    pub fn file_name(&self) -> Option<String> {
        let cd = self
            .headers
            .get(http::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let param = |name: &str| {
            cd.split(';').map(str::trim).find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        if let Some(v) = param("filename*") {
            if let Some((charset, rest)) = v.split_once('\'') {
                if charset.eq_ignore_ascii_case("utf-8") {
                    if let Some((_, encoded)) = rest.split_once('\'') {
                        return Some(percent_decode(encoded));
                    }
                }
            }
        }
        if let Some(v) = param("filename") {
            return Some(v.trim_matches('"').to_owned());
        }
        self.metadata()
            .map(|m| m.file_name)
            .filter(|n| !n.is_empty())
    }

    /// Checks what arrived against the expected hash; the SHA-256 and whether it was checked.
    fn finish(&mut self) -> Result<(String, bool), Error> {
        let actual = hex(&std::mem::take(&mut self.hasher).finalize());
        match self.expected_hash.take() {
            Some(expected) if expected != actual => Err(Error::HashMismatch { expected, actual }),
            Some(_) => Ok((actual, true)),
            None => Ok((actual, false)),
        }
    }

    /// The next chunk, hashed; `None` at the end (not yet checked).
    async fn chunk(&mut self) -> Option<Result<Bytes, Error>> {
        let next = self.body.next().await?;
        Some(
            next.inspect(|chunk| {
                self.hasher.update(chunk);
                self.received += chunk.len() as u64;
            })
            .map_err(|e| Error::from(snow_transport::TransportError::from(e))),
        )
    }

    /// Reads the whole content into memory (at most the response-body cap in effect) and
    /// checks its hash.
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        let mut out = bytes::BytesMut::new();
        while let Some(chunk) = self.chunk().await {
            out.extend_from_slice(&chunk?);
        }
        self.finish()?;
        Ok(out.freeze())
    }

    /// Writes the content to `writer` chunk by chunk; returns the number of bytes written.
    /// The hash is checked at the end, after everything was written: on
    /// [`Error::HashMismatch`] discard what was written ([`save`](Self::save) does that for
    /// files).
    pub async fn write_to<W: AsyncWrite + Unpin>(mut self, writer: &mut W) -> Result<u64, Error> {
        let write_error = |e| Error::io("write the download", e);
        while let Some(chunk) = self.chunk().await {
            writer.write_all(&chunk?).await.map_err(write_error)?;
        }
        writer.flush().await.map_err(write_error)?;
        self.finish()?;
        Ok(self.received)
    }

    /// Saves the content at `path`, whole or not at all: written to a temporary file in the
    /// same directory, checked against the hash, synced to disk and renamed to `path`. On any
    /// failure the temporary file is removed and `path` is untouched.
    pub async fn save(mut self, path: impl AsRef<Path>) -> Result<SavedFile, Error> {
        let path = path.as_ref().to_owned();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::invalid_input("the download's path names no file"))?;
        let temp = dir.join(format!(".{name}.{}.part", super::multipart::random_token()));
        let shown = path.display().to_string();
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .await
            .map_err(|e| Error::io(format!("create a temporary file next to {shown}"), e))?;
        let outcome = async {
            let write_error = |e| Error::io(format!("write the download to {shown}"), e);
            while let Some(chunk) = self.chunk().await {
                file.write_all(&chunk?).await.map_err(write_error)?;
            }
            file.flush().await.map_err(write_error)?;
            file.sync_all().await.map_err(write_error)?;
            self.finish()
        }
        .await;
        drop(file);
        let (sha256, verified) = match outcome {
            Ok(x) => x,
            Err(e) => {
                let _ = tokio::fs::remove_file(&temp).await;
                return Err(e);
            }
        };
        if let Err(e) = tokio::fs::rename(&temp, &path).await {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(Error::io(
                format!("move the download into place at {shown}"),
                e,
            ));
        }
        Ok(SavedFile {
            path,
            bytes: self.received,
            sha256,
            verified,
        })
    }
}

impl Stream for Download {
    type Item = Result<Bytes, Error>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.hasher.update(&chunk);
                this.received += chunk.len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::from(
                snow_transport::TransportError::from(e),
            )))),
            // At the end, once: the hash check (an error item when it fails).
            Poll::Ready(None) if this.expected_hash.is_some() => {
                Poll::Ready(this.finish().err().map(Err))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_from_content_disposition() {
        assert_eq!(percent_decode("a%20b%C3%A9%22"), "a bé\"");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
