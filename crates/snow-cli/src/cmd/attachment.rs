//! `snow attachment upload|download|list|delete`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use futures_util::StreamExt;
use serde_json::value::RawValue;
use snow_client::Attachment;
use tokio::io::AsyncWriteExt;

use super::Ctx;
use crate::connect::Needs;
use crate::exit::CliError;
use crate::output::{CellMode, RecordWriter, write_one};
use crate::progress::{Progress, Unit};

/// The attachment commands.
#[derive(Subcommand)]
pub(crate) enum AttachmentCommand {
    /// Attach a file to a record: snow attachment upload incident SYS_ID report.pdf
    Upload {
        /// The record's table.
        table: String,
        /// The record's sys_id.
        sys_id: String,
        /// The file to upload.
        file: PathBuf,
        /// The attachment's name (default: the file's).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// The MIME type (default: guessed from the name).
        #[arg(long, value_name = "TYPE")]
        content_type: Option<String>,
    },
    /// Save an attachment's content (to its own file name, or --output FILE, or - for stdout).
    Download {
        /// The attachment's sys_id.
        sys_id: String,
        /// Where to write: a file, or - for standard output.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Attachments' metadata: of a record, of a table, or matching a query.
    List {
        /// Only those of this table.
        #[arg(long, value_name = "TABLE")]
        table: Option<String>,
        /// Only those of this record (with --table).
        #[arg(long, value_name = "SYS_ID", requires = "table")]
        record: Option<String>,
        /// An encoded query on sys_attachment.
        #[arg(long, short = 'q', value_name = "QUERY", conflicts_with_all = ["table", "record"])]
        query: Option<String>,
        /// At most this many.
        #[arg(long, short = 'l', value_name = "N", default_value_t = 100)]
        limit: u64,
    },
    /// Delete an attachment.
    Delete {
        /// The attachment's sys_id.
        sys_id: String,
    },
}

/// The columns of `attachment list` as a table or CSV.
const COLUMNS: [&str; 6] = [
    "sys_id",
    "file_name",
    "content_type",
    "size_bytes",
    "table_name",
    "table_sys_id",
];

/// Runs an attachment command.
pub(crate) async fn run(ctx: &Ctx, cmd: AttachmentCommand) -> Result<(), CliError> {
    let client = ctx.connect(Needs { transfers: true })?.client;
    let attachments = client.attachments();
    let format = ctx.format();
    match cmd {
        AttachmentCommand::Upload {
            table,
            sys_id,
            file,
            name,
            content_type,
        } => {
            let meta = upload(&attachments, &table, &sys_id, &file, name, content_type).await?;
            let raw = to_raw(&meta)?;
            write_one(&mut std::io::stdout().lock(), format, &raw, CellMode::Value)
        }
        AttachmentCommand::Download {
            sys_id,
            output,
            force,
        } => download(&attachments, &sys_id, output, force).await,
        AttachmentCommand::List {
            table,
            record,
            query,
            limit,
        } => {
            let req = match (&table, &record, &query) {
                (Some(t), Some(r), _) => attachments.for_record(t, r),
                (Some(t), None, _) => attachments.for_table(t),
                (None, _, Some(q)) => attachments.list().raw_query(q.clone()),
                (None, _, None) => attachments.list(),
            };
            let mut stream = req.limit(limit).stream::<Box<RawValue>>();
            let columns = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
            let mut w = RecordWriter::new(
                std::io::BufWriter::new(std::io::stdout().lock()),
                format,
                Some(columns),
                CellMode::Value,
            );
            while let Some(rec) = stream.try_next().await? {
                w.write(&rec)?;
            }
            w.finish()?;
            Ok(())
        }
        AttachmentCommand::Delete { sys_id } => {
            attachments.delete(&sys_id).await?;
            if std::io::stderr().is_terminal() {
                eprintln!("snow: deleted attachment {sys_id}");
            }
            Ok(())
        }
    }
}

fn to_raw(meta: &Attachment) -> Result<Box<RawValue>, CliError> {
    serde_json::value::to_raw_value(meta).map_err(|e| CliError::Other(e.to_string()))
}

/// Uploads a file, streamed, with a progress bar in bytes.
pub(crate) async fn upload(
    attachments: &snow_client::Attachments,
    table: &str,
    sys_id: &str,
    file: &Path,
    name: Option<String>,
    content_type: Option<String>,
) -> Result<Attachment, CliError> {
    let f = tokio::fs::File::open(file)
        .await
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
    let size = f.metadata().await.map(|m| m.len()).ok();
    let name = name.unwrap_or_else(|| {
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "attachment".to_owned())
    });
    let progress = Progress::new(&name, Unit::Bytes, size);
    let reader = Counted {
        inner: f,
        progress: progress.clone(),
    };
    let mut req = attachments.upload_reader(table, sys_id, &name, reader, size);
    if let Some(ct) = content_type {
        req = req.content_type(ct);
    }
    let result = req.await;
    progress.finish();
    Ok(result?)
}

/// A reader that moves the progress bar by the bytes read through it.
struct Counted<R> {
    inner: R,
    progress: Progress,
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counted<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.progress.inc(read as u64);
        }
        polled
    }
}

/// A file name from an attachment's metadata that is safe to create in the current
/// directory: its last path component, without control characters; `None` if nothing is left.
fn safe_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty() && clean != "." && clean != "..").then_some(clean)
}

async fn download(
    attachments: &snow_client::Attachments,
    sys_id: &str,
    output: Option<PathBuf>,
    force: bool,
) -> Result<(), CliError> {
    let mut dl = attachments.download(sys_id).await?;
    let meta = dl.metadata();
    let total = dl
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or_else(|| meta.as_ref().and_then(Attachment::size));
    let to_stdout = match &output {
        Some(p) => p.as_os_str() == "-",
        None => !std::io::stdout().is_terminal(),
    };
    if to_stdout {
        let progress = Progress::new(sys_id, Unit::Bytes, total);
        let mut out = tokio::io::stdout();
        while let Some(chunk) = dl.next().await {
            let chunk = chunk?;
            out.write_all(&chunk)
                .await
                .map_err(CliError::io("cannot write to standard output"))?;
            progress.inc(chunk.len() as u64);
        }
        out.flush()
            .await
            .map_err(CliError::io("cannot write to standard output"))?;
        progress.finish();
        return Ok(());
    }
    let path = match output {
        Some(p) => p,
        None => PathBuf::from(
            meta.as_ref()
                .and_then(|m| safe_file_name(&m.file_name))
                .unwrap_or_else(|| format!("attachment-{sys_id}")),
        ),
    };
    if path.exists() && !force {
        return Err(CliError::usage(format!(
            "{} exists; pass --force to replace it, or --output FILE",
            path.display()
        )));
    }
    // Written beside the target and renamed when complete: an interrupted download leaves no
    // truncated file under the real name.
    let part = path.with_file_name(format!(
        ".{}.part",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let label = path.display().to_string();
    let progress = Progress::new(&label, Unit::Bytes, total);
    let result = async {
        let mut f = tokio::fs::File::create(&part)
            .await
            .map_err(CliError::io(format!("cannot create {}", part.display())))?;
        let mut n = 0u64;
        while let Some(chunk) = dl.next().await {
            let chunk = chunk?;
            f.write_all(&chunk)
                .await
                .map_err(CliError::io(format!("cannot write {}", part.display())))?;
            n += chunk.len() as u64;
            progress.inc(chunk.len() as u64);
        }
        f.sync_all()
            .await
            .map_err(CliError::io(format!("cannot write {}", part.display())))?;
        tokio::fs::rename(&part, &path)
            .await
            .map_err(CliError::io(format!("cannot rename to {}", path.display())))?;
        Ok::<u64, CliError>(n)
    }
    .await;
    progress.finish();
    match result {
        Ok(n) => {
            if std::io::stderr().is_terminal() {
                eprintln!("snow: saved {} ({n} bytes)", path.display());
            }
            Ok(())
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&part).await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::safe_file_name;

    #[test]
    fn attachment_names_cannot_escape_the_directory() {
        assert_eq!(safe_file_name("report.pdf").as_deref(), Some("report.pdf"));
        assert_eq!(
            safe_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(safe_file_name("a\\b\\c.txt").as_deref(), Some("c.txt"));
        assert_eq!(safe_file_name(".."), None);
        assert_eq!(safe_file_name("dir/"), None);
        assert_eq!(safe_file_name("x\ny").as_deref(), Some("xy"));
    }
}
