//! Rows of JSON objects from an argument (inline text, `@FILE`, or `-` for standard input):
//! one object, an array of objects, or objects one after another (JSON Lines). Read one row
//! at a time, each at most [`MAX_INPUT`] bytes, so a file of any length streams through.

use std::io::{BufRead, BufReader, Cursor, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

use super::input::MAX_INPUT;
use crate::exit::CliError;

/// JSON objects read one at a time.
pub(crate) struct Rows {
    inner: Inner,
    /// Rows yielded so far.
    count: usize,
    what: String,
}

enum Inner {
    /// An array, read whole (at most [`MAX_INPUT`] bytes).
    Array(std::vec::IntoIter<Value>),
    /// Values one after another.
    Stream {
        values: serde_json::StreamDeserializer<'static, serde_json::de::IoRead<Bounded>, Value>,
        used: Arc<AtomicU64>,
    },
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows")
            .field("count", &self.count)
            .field("what", &self.what)
            .finish_non_exhaustive()
    }
}

/// A reader that fails once more than [`MAX_INPUT`] bytes were read since the counter was
/// last reset (at the start of each row).
struct Bounded {
    inner: Box<dyn BufRead>,
    used: Arc<AtomicU64>,
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.used.load(Ordering::Relaxed) > MAX_INPUT {
            return Err(std::io::Error::other(format!(
                "a row is larger than {MAX_INPUT} bytes"
            )));
        }
        let n = self.inner.read(buf)?;
        self.used.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Rows {
    /// The rows of `arg`: inline JSON, `@FILE`, or `-` for standard input.
    pub(crate) fn open(arg: &str) -> Result<Self, CliError> {
        let (mut reader, what): (Box<dyn BufRead>, String) = if arg == "-" {
            (
                Box::new(BufReader::new(std::io::stdin().lock())),
                "standard input".to_owned(),
            )
        } else if let Some(path) = arg.strip_prefix('@') {
            let f = std::fs::File::open(path)
                .map_err(|e| CliError::usage(format!("cannot read {path}: {e}")))?;
            (Box::new(BufReader::new(f)), path.to_owned())
        } else {
            (
                Box::new(Cursor::new(arg.as_bytes().to_vec())),
                "--data".to_owned(),
            )
        };
        let first = first_byte(&mut reader)
            .map_err(|e| CliError::usage(format!("cannot read {what}: {e}")))?;
        let inner = if first == Some(b'[') {
            let mut buf = Vec::new();
            reader
                .take(MAX_INPUT + 1)
                .read_to_end(&mut buf)
                .map_err(|e| CliError::usage(format!("cannot read {what}: {e}")))?;
            if buf.len() as u64 > MAX_INPUT {
                return Err(CliError::usage(format!(
                    "{what}: a JSON array may hold at most {MAX_INPUT} bytes; give more rows as JSON Lines (one object per line)"
                )));
            }
            let values: Vec<Value> = serde_json::from_slice(&buf).map_err(|e| {
                CliError::usage(format!(
                    "{what} is not a valid JSON array (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })?;
            Inner::Array(values.into_iter())
        } else {
            let used = Arc::new(AtomicU64::new(0));
            let bounded = Bounded {
                inner: reader,
                used: used.clone(),
            };
            Inner::Stream {
                values: serde_json::Deserializer::from_reader(bounded).into_iter(),
                used,
            }
        };
        Ok(Self {
            inner,
            count: 0,
            what,
        })
    }

    /// The next row, `None` at the end.
    pub(crate) fn next_row(&mut self) -> Result<Option<Map<String, Value>>, CliError> {
        let value = match &mut self.inner {
            Inner::Array(values) => values.next(),
            Inner::Stream { values, used } => {
                used.store(0, Ordering::Relaxed);
                match values.next() {
                    None => None,
                    Some(Ok(v)) => Some(v),
                    Some(Err(e)) if e.is_io() => {
                        return Err(CliError::usage(format!(
                            "cannot read row {} of {}: {e}",
                            self.count + 1,
                            self.what
                        )));
                    }
                    Some(Err(e)) => {
                        return Err(CliError::usage(format!(
                            "row {} of {} is not valid JSON (line {}, column {})",
                            self.count + 1,
                            self.what,
                            e.line(),
                            e.column()
                        )));
                    }
                }
            }
        };
        match value {
            None => Ok(None),
            Some(Value::Object(m)) => {
                self.count += 1;
                Ok(Some(m))
            }
            Some(_) => Err(CliError::usage(format!(
                "row {} of {} is not a JSON object",
                self.count + 1,
                self.what
            ))),
        }
    }

    /// Up to `n` rows.
    pub(crate) fn take(&mut self, n: usize) -> Result<Vec<Map<String, Value>>, CliError> {
        let mut out = Vec::new();
        while out.len() < n {
            match self.next_row()? {
                Some(r) => out.push(r),
                None => break,
            }
        }
        Ok(out)
    }
}

/// Skips leading whitespace and returns the first byte without consuming it.
fn first_byte(r: &mut dyn BufRead) -> std::io::Result<Option<u8>> {
    loop {
        let buf = r.fill_buf()?;
        let Some(pos) = buf.iter().position(|b| !b.is_ascii_whitespace()) else {
            if buf.is_empty() {
                return Ok(None);
            }
            let n = buf.len();
            r.consume(n);
            continue;
        };
        let b = buf[pos];
        r.consume(pos);
        return Ok(Some(b));
    }
}

/// `FIELD=VALUE` pairs as a row's members.
pub(crate) fn set_pairs(set: &[String]) -> Result<Map<String, Value>, CliError> {
    let mut out = Map::new();
    for s in set {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--set {s:?} is not FIELD=VALUE")))?;
        if k.trim().is_empty() {
            return Err(CliError::usage(format!("--set {s:?} has no field name")));
        }
        out.insert(k.trim().to_owned(), Value::String(v.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(arg: &str) -> Result<Vec<Map<String, Value>>, CliError> {
        Rows::open(arg)?.take(usize::MAX)
    }

    #[test]
    fn one_object_an_array_or_lines() {
        assert_eq!(all(r#" {"a":"1"} "#).unwrap().len(), 1);
        assert_eq!(all("{\n  \"a\": \"1\"\n}").unwrap().len(), 1);
        assert_eq!(all(r#"[{"a":"1"},{"a":"2"}]"#).unwrap().len(), 2);
        let lines = all("{\"a\":\"1\"}\n{\"a\":\"2\"}\n\n{\"a\":\"3\"}\n").unwrap();
        assert_eq!(lines[2]["a"], "3");
        assert!(all("").unwrap().is_empty());
    }

    #[test]
    fn bad_rows_are_usage_errors_naming_the_row() {
        let e = all("{\"a\":\"1\"}\n[1]").unwrap_err();
        assert!(e.to_string().contains("row 2"), "{e}");
        let e = all("{\"a\":\"1\"}\n{nope}").unwrap_err();
        assert!(
            e.to_string().contains("row 2") && e.to_string().contains("line 2"),
            "{e}"
        );
        assert!(matches!(all("[1,2]"), Err(CliError::Usage(_))));
    }

    #[test]
    fn a_huge_row_is_refused() {
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_INPUT as usize + 10));
        let e = all(&big).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
    }
}
