//! Inputs shared by commands: record data from a flag, a file or standard input; the record
//! options (`--fields`, `--display-value`, ...).

use std::io::Read;

use clap::{Args, ValueEnum};
use serde_json::{Map, Value};
use snow_client::DisplayValue;

use crate::exit::CliError;
use crate::output::CellMode;

/// The most JSON read from a file or standard input: ServiceNow's own request limit.
pub(crate) const MAX_INPUT: u64 = 10 * 1024 * 1024;

/// `sysparm_display_value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DisplayArg {
    /// Stored values (the default).
    False,
    /// Display values.
    True,
    /// Both, as `{value, display_value}` objects.
    All,
}

impl From<DisplayArg> for DisplayValue {
    fn from(d: DisplayArg) -> Self {
        match d {
            DisplayArg::False => DisplayValue::False,
            DisplayArg::True => DisplayValue::True,
            DisplayArg::All => DisplayValue::All,
        }
    }
}

/// Which fields of a record and how.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct RecordOpts {
    /// Fields to return, comma-separated (dot-walk allowed: caller_id.name).
    #[arg(long, short = 'f', value_delimiter = ',', value_name = "FIELDS")]
    pub(crate) fields: Vec<String>,
    /// Values, display values or both.
    #[arg(long, value_enum, value_name = "WHICH")]
    pub(crate) display_value: Option<DisplayArg>,
    /// Leave the link out of reference fields.
    #[arg(long)]
    pub(crate) exclude_reference_link: bool,
}

impl RecordOpts {
    /// The cell mode for tables and CSV: display values when they were asked for.
    pub(crate) fn cell_mode(&self) -> CellMode {
        match self.display_value {
            Some(DisplayArg::True | DisplayArg::All) => CellMode::Display,
            _ => CellMode::Value,
        }
    }

    /// The fields asked for, trimmed, empty ones dropped.
    pub(crate) fn field_list(&self) -> Vec<String> {
        self.fields
            .iter()
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty())
            .collect()
    }

    /// The columns for tables and CSV: the fields asked for, if any.
    pub(crate) fn columns(&self) -> Option<Vec<String>> {
        Some(self.field_list()).filter(|f| !f.is_empty())
    }
}

/// Applies the record options to any request with the record setters.
macro_rules! apply_record_opts {
    ($req:expr, $opts:expr) => {{
        let mut req = $req;
        let fields = $opts.field_list();
        if !fields.is_empty() {
            req = req.fields(fields);
        }
        if let Some(d) = $opts.display_value {
            req = req.display_value(d.into());
        }
        if $opts.exclude_reference_link {
            req = req.exclude_reference_link(true);
        }
        req
    }};
}
pub(crate) use apply_record_opts;

/// Record data for a create or update.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct DataOpts {
    /// The record as a JSON object: inline, @FILE, or - for standard input.
    #[arg(long, short = 'd', value_name = "JSON|@FILE|-")]
    pub(crate) data: Option<String>,
    /// A field to set, FIELD=VALUE (repeatable; applied after --data).
    #[arg(long, short = 's', value_name = "FIELD=VALUE")]
    pub(crate) set: Vec<String>,
}

impl DataOpts {
    /// The JSON object to send.
    pub(crate) fn object(&self) -> Result<Map<String, Value>, CliError> {
        let mut obj = match &self.data {
            Some(arg) => {
                let bytes = read_arg(arg)?;
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(Value::Object(m)) => m,
                    Ok(_) => return Err(CliError::usage("--data must be a JSON object")),
                    Err(e) => {
                        return Err(CliError::usage(format!(
                            "--data is not valid JSON (line {}, column {})",
                            e.line(),
                            e.column()
                        )));
                    }
                }
            }
            None => Map::new(),
        };
        for s in &self.set {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| CliError::usage(format!("--set {s:?} is not FIELD=VALUE")))?;
            if k.trim().is_empty() {
                return Err(CliError::usage(format!("--set {s:?} has no field name")));
            }
            obj.insert(k.trim().to_owned(), Value::String(v.to_owned()));
        }
        if obj.is_empty() {
            return Err(CliError::usage(
                "no data: give --data JSON (or @FILE, or - for standard input) or --set FIELD=VALUE",
            ));
        }
        Ok(obj)
    }
}

/// The bytes of an argument that is text, `@FILE` or `-` (standard input), at most
/// [`MAX_INPUT`].
pub(crate) fn read_arg(arg: &str) -> Result<Vec<u8>, CliError> {
    if arg == "-" {
        read_bounded(std::io::stdin().lock(), "standard input")
    } else if let Some(path) = arg.strip_prefix('@') {
        let f = std::fs::File::open(path)
            .map_err(|e| CliError::usage(format!("cannot read {path}: {e}")))?;
        read_bounded(f, path)
    } else {
        Ok(arg.as_bytes().to_vec())
    }
}

fn read_bounded(r: impl Read, what: &str) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    r.take(MAX_INPUT + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CliError::usage(format!("cannot read {what}: {e}")))?;
    if buf.len() as u64 > MAX_INPUT {
        return Err(CliError::usage(format!(
            "{what} holds more than {MAX_INPUT} bytes, the most an instance accepts"
        )));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_and_set_combine() {
        let d = DataOpts {
            data: Some(r#"{"a":"1","b":2}"#.into()),
            set: vec!["b=x=y".into(), "c=".into()],
        };
        let o = d.object().unwrap();
        assert_eq!(o["a"], "1");
        assert_eq!(o["b"], "x=y");
        assert_eq!(o["c"], "");
    }

    #[test]
    fn bad_data_is_a_usage_error() {
        for (data, set) in [
            (Some("[1]"), vec![]),
            (Some("{nope"), vec![]),
            (None, vec!["novalue"]),
            (None, vec![]),
        ] {
            let d = DataOpts {
                data: data.map(str::to_owned),
                set: set.into_iter().map(str::to_owned).collect(),
            };
            assert!(matches!(d.object(), Err(CliError::Usage(_))));
        }
    }
}
