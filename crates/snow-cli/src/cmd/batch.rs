//! `snow batch FILE`: requests from a JSON Lines file sent through the Batch API, each answer
//! shown with its status; exit code 9 when any request failed.

use std::io::{BufRead, BufReader, Read};

use clap::Args;
use http::Method;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use snow_client::batch::{BatchItem, BatchOutcome};
use snow_client::{Batch, Instance};

use super::Ctx;
use super::input::MAX_INPUT;
use crate::connect::Needs;
use crate::exit::CliError;
use crate::output::{CellMode, Format, RecordWriter, ordered_object};

/// The most requests one file may hold (the client sends them in batches of 100).
const MAX_REQUESTS: usize = 10_000;

/// `snow batch`.
#[derive(Args)]
pub(crate) struct BatchArgs {
    /// The requests, one JSON object per line (FILE, or - for standard input):
    /// {"method":"POST","url":"/api/now/table/incident","headers":{"X-Name":"v"},
    /// "body":{"short_description":"x"},"id":"optional"}. method defaults to GET; a body
    /// that is a JSON string is sent as it is, with the Content-Type header given.
    file: String,
}

/// One line of the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    method: Option<String>,
    url: String,
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
    #[serde(default)]
    body: Option<Value>,
}

/// What is shown of a request next to its answer.
struct Sent {
    id: String,
    method: String,
    url: String,
}

/// Runs `snow batch`.
pub(crate) async fn run(ctx: &Ctx, a: BatchArgs) -> Result<(), CliError> {
    let lines = read_lines(&a.file)?;
    if lines.is_empty() {
        return Err(CliError::usage(format!("{}: no requests", a.file)));
    }
    let client = ctx.connect(Needs::default())?.client;
    let mut batch = client.batch();
    let mut sent = Vec::with_capacity(lines.len());
    for (number, text) in lines {
        let line: Line = serde_json::from_str(&text)
            .map_err(|e| CliError::usage(format!("{} line {number}: {e}", a.file)))?;
        let (item, shown) = item(&line, client.instance())
            .map_err(|why| CliError::usage(format!("{} line {number}: {why}", a.file)))?;
        let id = match &line.id {
            Some(id) => {
                batch
                    .push_with_id(id.clone(), item)
                    .map_err(|e| CliError::usage(format!("{} line {number}: {e}", a.file)))?;
                id.clone()
            }
            None => batch.push(item),
        };
        sent.push(Sent {
            id,
            method: shown.0,
            url: shown.1,
        });
    }
    send(ctx, batch, &sent).await
}

async fn send(ctx: &Ctx, batch: Batch, sent: &[Sent]) -> Result<(), CliError> {
    let answers = batch.send().await?;
    let format = ctx.format();
    // A table has no room for bodies; every other format shows them.
    let columns = match format {
        Format::Table => Some(
            ["id", "method", "url", "status", "error"]
                .map(str::to_owned)
                .to_vec(),
        ),
        _ => None,
    };
    let mut writer = RecordWriter::new(
        std::io::BufWriter::new(std::io::stdout().lock()),
        format,
        columns,
        CellMode::Value,
    );
    let stopped = answers.stopped_by().map(ToString::to_string);
    let total = answers.len();
    let mut failed = 0;
    // The answers come in the order the requests were pushed.
    for (s, outcome) in sent.iter().zip(answers) {
        let (row, ok) = shown(s, outcome);
        if !ok {
            failed += 1;
        }
        writer.write(&row)?;
    }
    writer.finish()?;
    if failed > 0 {
        let mut msg = format!("{failed} of {total} batch request(s) failed");
        if let Some(why) = stopped {
            msg.push_str(&format!("; the batch stopped part-way: {why}"));
        }
        return Err(CliError::Partial(msg));
    }
    Ok(())
}

/// One answer as a record, and whether it succeeded.
fn shown(s: &Sent, outcome: BatchOutcome) -> (Box<RawValue>, bool) {
    let mut members: Vec<(&str, Value)> = vec![
        ("id", Value::from(s.id.as_str())),
        ("method", Value::from(s.method.as_str())),
        ("url", Value::from(s.url.as_str())),
    ];
    let ok = match outcome.response {
        Ok(r) => {
            let ok = r.status().is_success();
            members.push(("status", Value::from(r.status().as_u16())));
            let error = match r.expect_success() {
                Ok(()) => Value::Null,
                Err(e) => Value::from(one_line(&e.to_string())),
            };
            members.push(("error", error));
            members.push((
                "execution_ms",
                r.execution_time()
                    .map_or(Value::Null, |d| Value::from(d.as_millis() as u64)),
            ));
            members.push(("body", body(r.bytes())));
            ok
        }
        Err(e) => {
            members.push(("status", Value::Null));
            members.push(("error", Value::from(one_line(&e.to_string()))));
            members.push(("execution_ms", Value::Null));
            members.push(("body", Value::Null));
            false
        }
    };
    (ordered_object(members), ok)
}

/// A body as JSON when it is JSON, else as text (`null` when empty).
fn body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(bytes).into_owned()))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The request of a line, and its method and URL as shown.
fn item(line: &Line, instance: &Instance) -> Result<(BatchItem, (String, String)), String> {
    let method_text = line
        .method
        .as_deref()
        .unwrap_or("GET")
        .trim()
        .to_ascii_uppercase();
    let method = Method::from_bytes(method_text.as_bytes())
        .map_err(|_| format!("{method_text:?} is not an HTTP method"))?;
    let (path, query) = split_url(&line.url, instance)?;
    let mut item = BatchItem::new(method.clone(), path);
    for (name, value) in query {
        item = item.query(name, value);
    }
    let mut content_type = None;
    for (name, value) in &line.headers {
        let Value::String(value) = value else {
            return Err(format!("the header {name:?} must have a string value"));
        };
        if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.clone());
        } else {
            item = item.header(name, value);
        }
    }
    item = match &line.body {
        None | Some(Value::Null) => item,
        Some(Value::String(text)) => item.body(
            text.clone().into_bytes(),
            content_type.as_deref().unwrap_or("application/json"),
        ),
        Some(json) => item.json(json),
    };
    Ok((item, (method_text, line.url.clone())))
}

/// An API path and its decoded query pairs, from a path (`/api/now/table/x?a=b`) or a URL
/// of the instance.
fn split_url(url: &str, instance: &Instance) -> Result<(String, Vec<(String, String)>), String> {
    let url = url.trim();
    let rest = if url.contains("://") {
        let uri: http::Uri = url
            .parse()
            .map_err(|_| format!("{url:?} is not a valid URL"))?;
        if !instance.is_same_origin(&uri) {
            return Err(
                "the URL is not on the instance; give a path such as /api/now/table/incident"
                    .into(),
            );
        }
        uri.path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
    } else {
        url.to_owned()
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest.as_str(), ""));
    if !path.starts_with("/api/") {
        return Err(format!(
            "the url must be an API path starting with /api/, not {path:?}"
        ));
    }
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            (super::api::decode(n), super::api::decode(v))
        })
        .collect();
    Ok((path.to_owned(), pairs))
}

/// The non-blank lines of `file` (or standard input) with their numbers, each at most
/// [`MAX_INPUT`] bytes, at most [`MAX_REQUESTS`] of them.
fn read_lines(file: &str) -> Result<Vec<(usize, String)>, CliError> {
    let (reader, what): (Box<dyn BufRead>, &str) = if file == "-" {
        (
            Box::new(BufReader::new(std::io::stdin().lock())),
            "standard input",
        )
    } else {
        let f = std::fs::File::open(file)
            .map_err(|e| CliError::usage(format!("cannot read {file}: {e}")))?;
        (Box::new(BufReader::new(f)), file)
    };
    let mut reader = reader;
    let mut out = Vec::new();
    let mut number = 0;
    loop {
        let mut buf = Vec::new();
        let n = (&mut reader)
            .take(MAX_INPUT + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| CliError::usage(format!("cannot read {what}: {e}")))?;
        if n == 0 {
            break;
        }
        number += 1;
        if buf.len() as u64 > MAX_INPUT {
            return Err(CliError::usage(format!(
                "{what} line {number} is longer than {MAX_INPUT} bytes"
            )));
        }
        let text = String::from_utf8(buf)
            .map_err(|_| CliError::usage(format!("{what} line {number} is not UTF-8")))?;
        if text.trim().is_empty() {
            continue;
        }
        if out.len() == MAX_REQUESTS {
            return Err(CliError::usage(format!(
                "{what} holds more than {MAX_REQUESTS} requests; split it"
            )));
        }
        out.push((number, text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Instance {
        Instance::from_url("https://acme.service-now.com").unwrap()
    }

    #[test]
    fn urls_become_paths_and_pairs() {
        let (p, q) = split_url(
            "/api/now/table/incident?sysparm_limit=1&sysparm_query=a%3Db",
            &instance(),
        )
        .unwrap();
        assert_eq!(p, "/api/now/table/incident");
        assert_eq!(
            q,
            vec![
                ("sysparm_limit".into(), "1".into()),
                ("sysparm_query".into(), "a=b".into())
            ]
        );
        let (p, q) = split_url(
            "https://acme.service-now.com/api/now/stats/incident",
            &instance(),
        )
        .unwrap();
        assert_eq!((p.as_str(), q.len()), ("/api/now/stats/incident", 0));
        assert!(split_url("https://evil.example.com/api/now/table/x", &instance()).is_err());
        assert!(split_url("/table/x", &instance()).is_err());
    }

    #[test]
    fn lines_become_items() {
        let line: Line = serde_json::from_str(
            r#"{"method":"post","url":"/api/now/table/incident","headers":{"Content-Type":"text/plain","X-A":"b"},"body":"hi"}"#,
        )
        .unwrap();
        let (item, (m, u)) = item(&line, &instance()).unwrap();
        assert_eq!(item.method(), Method::POST);
        assert_eq!(
            (m.as_str(), u.as_str()),
            ("POST", "/api/now/table/incident")
        );
        let bad: Line = serde_json::from_str(r#"{"method":"NO PE","url":"/api/x"}"#).unwrap();
        assert!(super::item(&bad, &instance()).is_err());
        let bad: Line = serde_json::from_str(r#"{"url":"/api/x","headers":{"a":1}}"#).unwrap();
        assert!(super::item(&bad, &instance()).is_err());
        assert!(serde_json::from_str::<Line>(r#"{"url":"/api/x","bdy":1}"#).is_err());
    }
}
