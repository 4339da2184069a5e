//! The checkpoint of an export to a file: which export it is, how far each range got, and
//! how many bytes of the output hold those records.
//!
//! It is written (to a temporary file, then renamed over the old one) only after the output
//! has been flushed, so the output file always holds at least `bytes` bytes of whole records,
//! and every record of range `r` up to `ranges[r].after` is among them. Resuming truncates the
//! output to `bytes` (dropping records written after the checkpoint) and asks each range for
//! the records after its `after`: none is missing, none repeated.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ranges::{Shard, SysIdRange};
use crate::cmd::input::DisplayArg;
use crate::exit::CliError;
use crate::output::Format;

/// The format version of checkpoint files.
const VERSION: u32 = 1;
/// The largest checkpoint file read.
const MAX_BYTES: u64 = 4 * 1024 * 1024;

/// What makes two runs the same export: resuming with other settings would mix records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Job {
    pub(crate) table: String,
    pub(crate) query: String,
    pub(crate) fields: Vec<String>,
    pub(crate) display_value: Option<DisplayArg>,
    pub(crate) exclude_reference_link: bool,
    pub(crate) format: Format,
    pub(crate) shard: Shard,
}

impl Job {
    /// The first setting that differs from `other`, named as on the command line.
    pub(crate) fn difference(&self, other: &Job) -> Option<&'static str> {
        if self.table != other.table {
            Some("the table")
        } else if self.query != other.query {
            Some("--query")
        } else if self.fields != other.fields {
            Some("--fields")
        } else if self.display_value != other.display_value {
            Some("--display-value")
        } else if self.exclude_reference_link != other.exclude_reference_link {
            Some("--exclude-reference-link")
        } else if self.format != other.format {
            Some("--format")
        } else if self.shard != other.shard {
            Some("--shard")
        } else {
            None
        }
    }
}

/// How far one range got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RangeState {
    /// The range.
    #[serde(flatten)]
    pub(crate) range: SysIdRange,
    /// The sys_id of the last record written from it.
    pub(crate) after: Option<String>,
    /// Whether every record of the range is written.
    pub(crate) done: bool,
}

/// The checkpoint file's content.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    pub(crate) version: u32,
    pub(crate) job: Job,
    /// The CSV columns, once known.
    pub(crate) columns: Option<Vec<String>>,
    /// Bytes of the output that hold the records counted here.
    pub(crate) bytes: u64,
    /// Records written.
    pub(crate) records: u64,
    pub(crate) ranges: Vec<RangeState>,
}

impl Checkpoint {
    /// A checkpoint for a new export.
    pub(crate) fn new(job: Job, ranges: Vec<SysIdRange>) -> Self {
        Self {
            version: VERSION,
            job,
            columns: None,
            bytes: 0,
            records: 0,
            ranges: ranges
                .into_iter()
                .map(|range| RangeState {
                    range,
                    after: None,
                    done: false,
                })
                .collect(),
        }
    }

    /// Where the checkpoint of an export to `output` is kept: beside it.
    pub(crate) fn path_for(output: &Path) -> PathBuf {
        let mut name = output
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".checkpoint");
        output.with_file_name(name)
    }

    /// Reads a checkpoint; `None` when there is none.
    pub(crate) fn load(path: &Path) -> Result<Option<Self>, CliError> {
        let bytes = match std::fs::metadata(path) {
            Ok(m) if m.len() > MAX_BYTES => {
                return Err(CliError::usage(format!(
                    "{} is too large to be a checkpoint",
                    path.display()
                )));
            }
            Ok(_) => std::fs::read(path)
                .map_err(CliError::io(format!("cannot read {}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CliError::io(format!("cannot read {}", path.display()))(e)),
        };
        let cp: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| {
            CliError::usage(format!(
                "{} is not a checkpoint snow can read ({e}); pass --restart to start over",
                path.display()
            ))
        })?;
        if cp.version != VERSION {
            return Err(CliError::usage(format!(
                "{} was written by another version of snow; pass --restart to start over",
                path.display()
            )));
        }
        Ok(Some(cp))
    }

    /// Writes the checkpoint atomically: a temporary file renamed over the old one.
    pub(crate) fn save(&self, path: &Path) -> Result<(), CliError> {
        let tmp = {
            let mut name = path
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_default();
            name.push(".tmp");
            path.with_file_name(name)
        };
        let json = serde_json::to_vec(self).map_err(|e| CliError::Other(e.to_string()))?;
        std::fs::write(&tmp, json)
            .map_err(CliError::io(format!("cannot write {}", tmp.display())))?;
        std::fs::rename(&tmp, path)
            .map_err(CliError::io(format!("cannot write {}", path.display())))
    }

    /// Whether every range is done.
    pub(crate) fn is_complete(&self) -> bool {
        self.ranges.iter().all(|r| r.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job {
            table: "incident".into(),
            query: "active=true".into(),
            fields: vec![],
            display_value: None,
            exclude_reference_link: false,
            format: Format::Jsonl,
            shard: Shard::ALL,
        }
    }

    #[test]
    fn round_trip_and_difference() {
        let dir = std::env::temp_dir().join(format!("snow-cp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("x.jsonl");
        let path = Checkpoint::path_for(&out);
        assert!(path.ends_with("x.jsonl.checkpoint"));
        assert!(Checkpoint::load(&path).unwrap().is_none());
        let mut cp = Checkpoint::new(job(), super::super::ranges::split(Shard::ALL, 2));
        cp.ranges[0].after = Some("abc".into());
        cp.bytes = 10;
        cp.save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap().unwrap();
        assert_eq!(back.ranges, cp.ranges);
        assert_eq!(back.bytes, 10);
        assert!(!back.is_complete());
        let mut other = job();
        other.query = "active=false".into();
        assert_eq!(job().difference(&other), Some("--query"));
        assert_eq!(job().difference(&job()), None);
        std::fs::write(&path, b"{").unwrap();
        assert!(matches!(Checkpoint::load(&path), Err(CliError::Usage(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
