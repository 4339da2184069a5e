//! Output formats: JSON, JSON Lines, CSV and terminal tables, written from records kept as
//! raw JSON (never decoded and encoded again on the JSON paths).

pub(crate) mod cells;
pub(crate) mod table;

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use serde_json::value::RawValue;

pub(crate) use cells::CellMode;
use cells::{member_names, member_text, members};
use table::TablePrinter;

use crate::exit::CliError;

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    /// One JSON document (an array for lists), indented on a terminal.
    Json,
    /// JSON Lines: one record per line.
    Jsonl,
    /// CSV with a header row; reference and choice fields as their values.
    Csv,
    /// Aligned columns for reading.
    Table,
}

impl Format {
    /// The format asked for, or a table on a terminal and JSON when piped.
    pub(crate) fn or_default(asked: Option<Format>) -> Format {
        asked.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Json
            }
        })
    }

    /// The name as typed.
    #[cfg(test)]
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Table => "table",
        }
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Writes one JSON value as a JSONL line: as is when it is on one line already, else
/// compacted (a value holding line breaks between tokens would break the line format).
pub(crate) fn write_jsonl(out: &mut impl Write, raw: &str) -> std::io::Result<()> {
    if raw.contains('\n') || raw.contains('\r') {
        out.write_all(cells::compact(raw).as_bytes())?;
    } else {
        out.write_all(raw.as_bytes())?;
    }
    out.write_all(b"\n")
}

/// One CSV field: quoted when it holds a comma, a quote or a line break; quotes doubled.
pub(crate) fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// One CSV line (with its line break).
pub(crate) fn csv_line<'a>(fields: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = String::new();
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        csv_field(&mut line, f);
    }
    line.push_str("\r\n");
    line
}

/// A record's CSV line for these columns.
pub(crate) fn csv_record(raw: &RawValue, columns: &[String], mode: CellMode) -> String {
    let m = members(raw).unwrap_or(cells::Members(Vec::new()));
    let texts: Vec<String> = columns.iter().map(|c| member_text(&m, c, mode)).collect();
    csv_line(texts.iter().map(String::as_str))
}

/// Writes a list of records (JSON objects) in a format, as they come.
#[derive(Debug)]
pub(crate) struct RecordWriter<W: Write> {
    out: W,
    format: Format,
    columns: Option<Vec<String>>,
    mode: CellMode,
    count: u64,
    table: Option<TablePrinter>,
    pretty: bool,
}

impl<W: Write> RecordWriter<W> {
    /// A writer; `columns` fixes the CSV and table columns (else the first record's members).
    pub(crate) fn new(
        out: W,
        format: Format,
        columns: Option<Vec<String>>,
        mode: CellMode,
    ) -> Self {
        let pretty = format == Format::Json && std::io::stdout().is_terminal();
        Self {
            out,
            format,
            columns: columns.filter(|c| !c.is_empty()),
            mode,
            count: 0,
            table: None,
            pretty,
        }
    }

    /// Records written so far.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    fn columns_for(&mut self, raw: &RawValue) -> Vec<String> {
        self.columns
            .get_or_insert_with(|| member_names(raw))
            .clone()
    }

    /// Writes one record.
    pub(crate) fn write(&mut self, raw: &RawValue) -> Result<(), CliError> {
        let io = CliError::io("cannot write the output");
        let first = self.count == 0;
        self.count += 1;
        match self.format {
            Format::Jsonl => write_jsonl(&mut self.out, raw.get()).map_err(io),
            Format::Json => {
                let sep: &[u8] = if first { b"[\n" } else { b",\n" };
                self.out
                    .write_all(sep)
                    .map_err(CliError::io("cannot write the output"))?;
                let text = if self.pretty {
                    indent_lines(&cells::pretty(raw.get()), 2)
                } else {
                    cells::compact(raw.get())
                };
                self.out.write_all(text.as_bytes()).map_err(io)
            }
            Format::Csv => {
                let columns = self.columns_for(raw);
                if first {
                    self.out
                        .write_all(csv_line(columns.iter().map(String::as_str)).as_bytes())
                        .map_err(CliError::io("cannot write the output"))?;
                }
                self.out
                    .write_all(csv_record(raw, &columns, self.mode).as_bytes())
                    .map_err(io)
            }
            Format::Table => {
                let columns = self.columns_for(raw);
                let m = members(raw).unwrap_or(cells::Members(Vec::new()));
                let row = columns
                    .iter()
                    .map(|c| member_text(&m, c, self.mode))
                    .collect();
                let printer = self
                    .table
                    .get_or_insert_with(|| TablePrinter::new(columns, table::terminal_width()));
                printer.row(&mut self.out, row).map_err(io)
            }
        }
    }

    /// Ends the list (the JSON array's bracket, the table's held rows) and flushes.
    pub(crate) fn finish(mut self) -> Result<W, CliError> {
        let io = CliError::io("cannot write the output");
        match self.format {
            Format::Json => {
                let end: &[u8] = if self.count == 0 { b"[]\n" } else { b"\n]\n" };
                self.out.write_all(end).map_err(io)?;
            }
            Format::Csv if self.count == 0 => {
                if let Some(c) = &self.columns {
                    self.out
                        .write_all(csv_line(c.iter().map(String::as_str)).as_bytes())
                        .map_err(io)?;
                }
            }
            Format::Table => match self.table.take() {
                Some(t) => {
                    let dropped = t.finish(&mut self.out).map_err(io)?;
                    if dropped > 0 {
                        eprintln!(
                            "snow: {dropped} column(s) did not fit; choose them with --fields or use --format json"
                        );
                    }
                }
                None => eprintln!("snow: no records"),
            },
            _ => {}
        }
        self.out
            .flush()
            .map_err(CliError::io("cannot write the output"))?;
        Ok(self.out)
    }
}

fn indent_lines(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes one JSON value (a record, an attachment's metadata, an API answer) in a format: a
/// table shows an object's members one per line.
pub(crate) fn write_one(
    out: &mut impl Write,
    format: Format,
    raw: &RawValue,
    mode: CellMode,
) -> Result<(), CliError> {
    let io = CliError::io("cannot write the output");
    let is_object = raw.get().trim_start().starts_with('{');
    match format {
        Format::Json => {
            let text = if std::io::stdout().is_terminal() {
                cells::pretty(raw.get())
            } else {
                cells::compact(raw.get())
            };
            writeln!(out, "{text}").map_err(io)?;
        }
        Format::Jsonl => write_jsonl(out, raw.get()).map_err(io)?,
        Format::Csv if is_object => {
            let columns = member_names(raw);
            out.write_all(csv_line(columns.iter().map(String::as_str)).as_bytes())
                .map_err(CliError::io("cannot write the output"))?;
            out.write_all(csv_record(raw, &columns, mode).as_bytes())
                .map_err(io)?;
        }
        Format::Table if is_object => {
            let m = members(raw).unwrap_or(cells::Members(Vec::new()));
            let mut t = TablePrinter::new(
                vec!["field".into(), "value".into()],
                table::terminal_width(),
            );
            for (name, value) in &m.0 {
                t.row(out, vec![name.clone(), cells::cell_text(value, mode)])
                    .map_err(CliError::io("cannot write the output"))?;
            }
            t.finish(out).map_err(io)?;
        }
        // A non-object as CSV or a table: its JSON.
        Format::Csv | Format::Table => {
            writeln!(out, "{}", cells::pretty(raw.get())).map_err(io)?;
        }
    }
    out.flush().map_err(CliError::io("cannot write the output"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    fn list(format: Format, records: &[&str], columns: Option<Vec<String>>) -> String {
        let mut w = RecordWriter::new(Vec::new(), format, columns, CellMode::Value);
        for r in records {
            w.write(&raw(r)).unwrap();
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    #[test]
    fn lists_in_every_format() {
        let recs = [
            r#"{"a":"1","b":{"value":"x","display_value":"X"}}"#,
            r#"{"a":"2,3","b":"y"}"#,
        ];
        assert_eq!(
            list(Format::Jsonl, &recs, None),
            format!("{}\n{}\n", recs[0], recs[1])
        );
        assert_eq!(
            list(Format::Json, &recs, None),
            format!("[\n{},\n{}\n]\n", recs[0], recs[1])
        );
        assert_eq!(list(Format::Json, &[], None), "[]\n");
        assert_eq!(
            list(Format::Csv, &recs, None),
            "a,b\r\n1,x\r\n\"2,3\",y\r\n"
        );
        assert_eq!(
            list(Format::Csv, &recs, Some(vec!["b".into()])),
            "b\r\nx\r\ny\r\n"
        );
        let t = list(Format::Table, &recs, None);
        assert!(t.starts_with("a    b\n---  -\n1    x\n2,3  y"), "{t}");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn jsonl_never_breaks_a_line() {
        let mut out = Vec::new();
        write_jsonl(&mut out, "{\n  \"a\": \"b\\nc\"\n}").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "{\"a\":\"b\\nc\"}\n");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(
            csv_line(["a", "b,c", "d\"e", "f\ng", " h"]),
            "a,\"b,c\",\"d\"\"e\",\"f\ng\",\" h\"\r\n"
        );
    }

    #[test]
    fn one_object_as_a_table() {
        let mut out = Vec::new();
        write_one(
            &mut out,
            Format::Table,
            &raw(r#"{"number":"INC1","x":null}"#),
            CellMode::Value,
        )
        .unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("number  INC1"), "{s}");
    }
}
