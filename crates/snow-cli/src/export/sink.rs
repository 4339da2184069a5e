//! The export's output: records appended in JSONL, CSV or one JSON array, counting the bytes
//! written so that a checkpoint can say how much of the file is whole.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use serde_json::value::RawValue;

use crate::exit::CliError;
use crate::output::{CellMode, Format, cells, csv_line, csv_record, write_jsonl};

/// Bytes buffered before a write to the file.
const BUFFER: usize = 1024 * 1024;

/// Where records go: a file (resumable) or standard output.
pub(crate) struct Sink {
    out: BufWriter<Box<dyn Write + Send>>,
    file: Option<File>,
    format: Format,
    mode: CellMode,
    columns: Option<Vec<String>>,
    bytes: u64,
    records: u64,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("format", &self.format)
            .field("bytes", &self.bytes)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

impl Sink {
    fn new(
        out: Box<dyn Write + Send>,
        file: Option<File>,
        format: Format,
        mode: CellMode,
        columns: Option<Vec<String>>,
    ) -> Self {
        Self {
            out: BufWriter::with_capacity(BUFFER, out),
            file,
            format,
            mode,
            columns,
            bytes: 0,
            records: 0,
            scratch: Vec::with_capacity(64 * 1024),
        }
    }

    /// A new output file (replacing any), with the format's opening (`[`, the CSV header when
    /// the columns are known).
    pub(crate) fn create(
        path: &Path,
        format: Format,
        mode: CellMode,
        columns: Option<Vec<String>>,
    ) -> Result<Self, CliError> {
        let file = File::create(path)
            .map_err(CliError::io(format!("cannot create {}", path.display())))?;
        let handle = file
            .try_clone()
            .map_err(CliError::io(format!("cannot open {}", path.display())))?;
        let mut sink = Self::new(Box::new(file), Some(handle), format, mode, columns);
        sink.open()?;
        Ok(sink)
    }

    /// Standard output.
    pub(crate) fn stdout(
        format: Format,
        mode: CellMode,
        columns: Option<Vec<String>>,
    ) -> Result<Self, CliError> {
        let mut sink = Self::new(Box::new(std::io::stdout()), None, format, mode, columns);
        sink.open()?;
        Ok(sink)
    }

    /// An output file being resumed: cut back to the `bytes` its checkpoint vouches for.
    pub(crate) fn resume(
        path: &Path,
        format: Format,
        mode: CellMode,
        columns: Option<Vec<String>>,
        bytes: u64,
        records: u64,
    ) -> Result<Self, CliError> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(CliError::io(format!(
                "cannot open {} to resume",
                path.display()
            )))?;
        let len = file
            .metadata()
            .map_err(CliError::io(format!("cannot read {}", path.display())))?
            .len();
        if len < bytes {
            return Err(CliError::usage(format!(
                "{} is shorter ({len} bytes) than its checkpoint says ({bytes} bytes): it was changed or not fully saved; pass --restart to start over",
                path.display()
            )));
        }
        file.set_len(bytes)
            .and_then(|()| file.seek(SeekFrom::End(0)).map(|_| ()))
            .map_err(CliError::io(format!("cannot resume {}", path.display())))?;
        let handle = file
            .try_clone()
            .map_err(CliError::io(format!("cannot open {}", path.display())))?;
        let mut sink = Self::new(Box::new(file), Some(handle), format, mode, columns);
        sink.bytes = bytes;
        sink.records = records;
        Ok(sink)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        self.out
            .write_all(bytes)
            .map_err(CliError::io("cannot write the export"))?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    fn open(&mut self) -> Result<(), CliError> {
        match self.format {
            Format::Json => self.put(b"["),
            Format::Csv => match self.columns.clone() {
                Some(c) => self.put(csv_line(c.iter().map(String::as_str)).as_bytes()),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// The CSV columns (known from the start, or from the first record).
    pub(crate) fn columns(&self) -> Option<&[String]> {
        self.columns.as_deref()
    }

    /// Bytes written, records written.
    pub(crate) fn position(&self) -> (u64, u64) {
        (self.bytes, self.records)
    }

    /// Appends one record.
    pub(crate) fn write(&mut self, raw: &RawValue) -> Result<(), CliError> {
        // The common case, straight from the page's bytes: a record already on one line.
        let text = raw.get();
        if matches!(self.format, Format::Jsonl | Format::Table)
            && !text.contains('\n')
            && !text.contains('\r')
        {
            self.put(text.as_bytes())?;
            self.put(b"\n")?;
            self.records += 1;
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        match self.format {
            Format::Jsonl | Format::Table => {
                write_jsonl(&mut scratch, raw.get()).map_err(CliError::io("cannot write"))?;
            }
            Format::Json => {
                scratch.extend_from_slice(if self.records == 0 { b"\n" } else { b",\n" });
                let text = raw.get();
                if text.contains('\n') || text.contains('\r') {
                    scratch.extend_from_slice(cells::compact(text).as_bytes());
                } else {
                    scratch.extend_from_slice(text.as_bytes());
                }
            }
            Format::Csv => {
                if self.columns.is_none() {
                    let names = cells::member_names(raw);
                    scratch
                        .extend_from_slice(csv_line(names.iter().map(String::as_str)).as_bytes());
                    self.columns = Some(names);
                }
                let columns = self.columns.as_deref().unwrap_or_default();
                scratch.extend_from_slice(csv_record(raw, columns, self.mode).as_bytes());
            }
        }
        let result = self.put(&scratch);
        self.scratch = scratch;
        result?;
        self.records += 1;
        Ok(())
    }

    /// Hands everything written to the operating system (a checkpoint may now count it).
    pub(crate) fn flush(&mut self) -> Result<(), CliError> {
        self.out
            .flush()
            .map_err(CliError::io("cannot write the export"))
    }

    /// Closes the format (`]`), flushes, and syncs a file to disk.
    pub(crate) fn finish(mut self) -> Result<(u64, u64), CliError> {
        if self.format == Format::Json {
            let end: &[u8] = if self.records == 0 { b"]\n" } else { b"\n]\n" };
            self.put(end)?;
        }
        self.flush()?;
        if let Some(f) = &self.file {
            f.sync_all()
                .map_err(CliError::io("cannot save the export to disk"))?;
        }
        Ok((self.bytes, self.records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn a_resumed_file_is_cut_to_the_checkpoint_and_continued() {
        let dir = std::env::temp_dir().join(format!("snow-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for format in [Format::Json, Format::Jsonl, Format::Csv] {
            let path = dir.join(format!("out.{}", format.name()));
            let mut s = Sink::create(&path, format, CellMode::Value, None).unwrap();
            s.write(&raw(r#"{"sys_id":"a","n":"1"}"#)).unwrap();
            s.flush().unwrap();
            let (bytes, records) = s.position();
            let columns = s.columns().map(<[String]>::to_vec);
            // Written after the checkpoint, then lost to a kill.
            s.write(&raw(r#"{"sys_id":"b","n":"2"}"#)).unwrap();
            s.flush().unwrap();
            drop(s);
            let mut r =
                Sink::resume(&path, format, CellMode::Value, columns, bytes, records).unwrap();
            r.write(&raw(r#"{"sys_id":"b","n":"2"}"#)).unwrap();
            r.finish().unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            let expected = match format {
                Format::Json => {
                    "[\n{\"sys_id\":\"a\",\"n\":\"1\"},\n{\"sys_id\":\"b\",\"n\":\"2\"}\n]\n"
                }
                Format::Jsonl => "{\"sys_id\":\"a\",\"n\":\"1\"}\n{\"sys_id\":\"b\",\"n\":\"2\"}\n",
                _ => "sys_id,n\r\na,1\r\nb,2\r\n",
            };
            assert_eq!(text, expected, "{format:?}");
            // A file shorter than its checkpoint is refused.
            assert!(Sink::resume(&path, format, CellMode::Value, None, 10_000, 1).is_err());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_empty_json_export_is_an_empty_array() {
        let dir = std::env::temp_dir().join(format!("snow-sink-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("e.json");
        Sink::create(&path, Format::Json, CellMode::Value, None)
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[]\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
