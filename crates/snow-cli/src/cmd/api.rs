//! `snow api METHOD PATH`: a raw request to any API path.

use std::io::{IsTerminal, Write};

use clap::Args;
use http::Method;
use serde_json::value::RawValue;

use super::Ctx;
use super::input::read_arg;
use crate::connect::Needs;
use crate::exit::CliError;
use crate::output::{CellMode, Format, RecordWriter, write_one};

/// `snow api`.
#[derive(Args)]
pub(crate) struct ApiArgs {
    /// The HTTP method: GET, POST, PUT, PATCH, DELETE...
    method: String,
    /// The path, starting with /api/ (a query string is allowed):
    /// /api/now/stats/incident?sysparm_count=true
    path: String,
    /// A query parameter NAME=VALUE (repeatable; VALUE as typed, encoded for you).
    #[arg(long = "param", short = 'q', value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// A header 'Name: value' (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// The body: inline text, @FILE, or - for standard input.
    #[arg(long, short = 'd', value_name = "BODY|@FILE|-")]
    data: Option<String>,
    /// The body's content type.
    #[arg(long, value_name = "TYPE", default_value = "application/json")]
    content_type: String,
    /// Retry the request after 429, 502-504 and failed connections even if it is not
    /// idempotent (POST, PATCH).
    #[arg(long)]
    retry: bool,
}

/// Runs `snow api`.
pub(crate) async fn run(ctx: &Ctx, a: ApiArgs) -> Result<(), CliError> {
    let method = Method::from_bytes(a.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| CliError::usage(format!("{:?} is not an HTTP method", a.method)))?;
    let (path, query) = match a.path.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (a.path.clone(), None),
    };
    let mut pairs = Vec::new();
    if let Some(q) = query {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            pairs.push((decode(n), decode(v)));
        }
    }
    for p in &a.params {
        let (n, v) = p
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--param {p:?} is not NAME=VALUE")))?;
        pairs.push((n.to_owned(), v.to_owned()));
    }
    let client = ctx.connect(Needs::default())?.client;
    let mut req = client.resource(path).request(method);
    for (n, v) in pairs {
        req = req.query(n, v);
    }
    for h in &a.headers {
        let (n, v) = h
            .split_once(':')
            .ok_or_else(|| CliError::usage(format!("--header {h:?} is not 'Name: value'")))?;
        req = req.header(n.trim(), v.trim());
    }
    if let Some(d) = &a.data {
        req = req.body(read_arg(d)?, &a.content_type);
    }
    if a.retry {
        req = req.retry(snow_client::Retry::Always);
    }
    let resp = req.send().await?;
    resp.expect_success()?;
    let body = resp.bytes();
    if body.is_empty() {
        return Ok(());
    }
    let is_json = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    let raw = if is_json {
        std::str::from_utf8(body)
            .ok()
            .and_then(|s| serde_json::from_str::<Box<RawValue>>(s).ok())
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    match raw {
        // JSON: in the format asked for (a table shows `result` when it is an object).
        Some(raw) => {
            let format = ctx.format();
            let shown = match format {
                Format::Table | Format::Csv => result_member(&raw).unwrap_or(raw),
                _ => raw,
            };
            // A list of records as rows.
            if matches!(format, Format::Table | Format::Csv) {
                if let Ok(rows) = serde_json::from_str::<Vec<Box<RawValue>>>(shown.get()) {
                    if rows.iter().all(|r| r.get().starts_with('{')) {
                        let mut w = RecordWriter::new(out, format, None, CellMode::Value);
                        for r in &rows {
                            w.write(r)?;
                        }
                        drop(w.finish()?);
                        return Ok(());
                    }
                }
            }
            write_one(&mut out, format, &shown, CellMode::Value)
        }
        None => out
            .write_all(body)
            .and_then(|()| {
                if std::io::stdout().is_terminal() && !body.ends_with(b"\n") {
                    out.write_all(b"\n")
                } else {
                    Ok(())
                }
            })
            .and_then(|()| out.flush())
            .map_err(CliError::io("cannot write the output")),
    }
}

/// The `result` member of ServiceNow's envelope.
fn result_member(raw: &RawValue) -> Option<Box<RawValue>> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        result: Box<RawValue>,
    }
    serde_json::from_str::<Envelope>(raw.get())
        .ok()
        .map(|e| e.result)
}

/// Percent-decodes a query component as typed in a URL (`%XX`; `+` stays as it is).
fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_decoded_once() {
        assert_eq!(
            decode("active%3Dtrue%5Epriority%3D1"),
            "active=true^priority=1"
        );
        assert_eq!(decode("a+b"), "a+b");
    }

    #[test]
    fn the_envelope_is_opened_for_tables() {
        let raw = RawValue::from_string(r#"{"result":{"stats":{"count":"3"}}}"#.into()).unwrap();
        assert_eq!(
            result_member(&raw).unwrap().get(),
            r#"{"stats":{"count":"3"}}"#
        );
    }
}
