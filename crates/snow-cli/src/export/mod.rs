//! `snow export TABLE`: every matching record, streamed to JSONL, CSV or JSON; `--parallel N`
//! sys_id ranges fetched at once; resumable after any interruption from a checkpoint beside the
//! output; `--shard K/N` for one part of the table per process.
//!
//! Files: `ranges.rs` (the sys_id ranges), `fetch.rs` (fetching a range), `sink.rs` (the
//! output), `checkpoint.rs` (what makes resuming exact).

mod checkpoint;
mod fetch;
mod ranges;
mod sink;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::value::RawValue;
use snow_client::Client;
use snow_client::query::Query;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::cmd::Ctx;
use crate::cmd::input::RecordOpts;
use crate::connect::Needs;
use crate::exit::CliError;
use crate::output::{Format, thousands};
use crate::progress::{Progress, Unit};
use checkpoint::{Checkpoint, Job};
pub(crate) use ranges::Shard;
use sink::Sink;

/// Records per request when none is set.
pub(crate) const DEFAULT_PAGE_SIZE: u64 = 2000;
/// How often the checkpoint is written at most.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(300);

/// `snow export`.
#[derive(Args)]
pub(crate) struct ExportArgs {
    /// The table, e.g. incident.
    pub(crate) table: String,
    /// Encoded query selecting the records (it must be one `snow query check` can read).
    #[arg(long, short = 'q', value_name = "QUERY")]
    pub(crate) query: Option<String>,
    #[command(flatten)]
    pub(crate) opts: RecordOpts,
    /// The output file (default: standard output, not resumable). Run the same command
    /// again after an interruption to resume into it.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Fetch this many sys_id ranges at once.
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(ranges::MAX_PARALLEL)))]
    pub(crate) parallel: u32,
    /// Export only part K of N (disjoint sys_id ranges; N processes with 1/N .. N/N together
    /// export every record once).
    #[arg(long, value_name = "K/N")]
    pub(crate) shard: Option<Shard>,
    /// Records per request.
    #[arg(long, default_value_t = DEFAULT_PAGE_SIZE, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub(crate) page_size: u64,
    /// Start over: discard the checkpoint and replace the output file.
    #[arg(long)]
    pub(crate) restart: bool,
}

/// How an export went.
#[derive(Clone, Debug)]
pub(crate) struct Summary {
    /// Records in the output.
    pub(crate) records: u64,
    /// Of those, written by an earlier, interrupted run.
    pub(crate) resumed_from: u64,
    /// Bytes of the output.
    pub(crate) bytes: u64,
    /// This run's time.
    pub(crate) elapsed: Duration,
}

/// Runs `snow export`.
pub(crate) async fn run(ctx: &Ctx, a: ExportArgs) -> Result<(), CliError> {
    let format = export_format(ctx.global.format, a.output.as_deref())?;
    let conn = ctx.connect(Needs::default())?;
    let label = a.table.clone();
    let output = a.output.clone();
    let summary = export(&conn.client, &a, format).await?;
    if std::io::stderr().is_terminal() || ctx.global.verbose {
        let secs = summary.elapsed.as_secs_f64().max(0.001);
        let new = summary.records - summary.resumed_from;
        eprintln!(
            "snow: exported {} {label} record(s){}{} in {secs:.1} s ({} records/s)",
            thousands(summary.records),
            output
                .as_ref()
                .map(|p| format!(" to {}", p.display()))
                .unwrap_or_default(),
            if summary.resumed_from > 0 {
                format!(" (resumed after {})", thousands(summary.resumed_from))
            } else {
                String::new()
            },
            thousands((new as f64 / secs) as u64)
        );
    }
    Ok(())
}

/// The format: asked for, else from the output's extension, else JSONL.
pub(crate) fn export_format(
    asked: Option<Format>,
    output: Option<&Path>,
) -> Result<Format, CliError> {
    let format = asked.unwrap_or_else(|| {
        match output
            .and_then(Path::extension)
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Format::Csv,
            Some("json") => Format::Json,
            _ => Format::Jsonl,
        }
    });
    if format == Format::Table {
        return Err(CliError::usage(
            "export writes json, jsonl or csv; use `snow table list` for a table",
        ));
    }
    Ok(format)
}

/// The caller's query, parsed: the sys_id bounds of each range are added to each of its
/// groups, and records come in sys_id order.
fn parse_query(q: Option<&str>) -> Result<Query, CliError> {
    let Some(q) = q.filter(|q| !q.trim().is_empty()) else {
        return Ok(Query::new());
    };
    let parsed = Query::parse(q).map_err(|e| {
        CliError::usage(format!(
            "export needs a query it can read, to add the sys_id ranges to it: {e} (see `snow query check`)"
        ))
    })?;
    if parsed
        .orders()
        .iter()
        .any(|o| o.field.as_str() != "sys_id" || o.descending)
    {
        return Err(CliError::usage(
            "export orders records by sys_id (that is how it resumes and splits); remove ORDERBY from the query",
        ));
    }
    Ok(parsed)
}

/// Exports `a.table` with `client`: the whole job, from counting to the last checkpoint.
pub(crate) async fn export(
    client: &Client,
    a: &ExportArgs,
    format: Format,
) -> Result<Summary, CliError> {
    let started = Instant::now();
    let query = parse_query(a.query.as_deref())?;
    let shard = a.shard.unwrap_or(Shard::ALL);
    let job = Job {
        table: a.table.clone(),
        query: a.query.clone().unwrap_or_default(),
        fields: a.opts.field_list(),
        display_value: a.opts.display_value,
        exclude_reference_link: a.opts.exclude_reference_link,
        format,
        shard,
    };
    let spec = Arc::new(fetch::Spec {
        table: a.table.clone(),
        query,
        fields: job.fields.clone(),
        display_value: a.opts.display_value.map(Into::into),
        exclude_reference_link: a.opts.exclude_reference_link,
        page_size: a.page_size,
    });
    let cp_path = a.output.as_deref().map(Checkpoint::path_for);
    let previous = match &cp_path {
        Some(p) if !a.restart => Checkpoint::load(p)?,
        _ => None,
    };
    if let Some(prev) = &previous {
        if let Some(what) = prev.job.difference(&job) {
            return Err(CliError::usage(format!(
                "{} belongs to an export with another {what}; run that export again to finish it, or pass --restart",
                cp_path.as_deref().unwrap_or(Path::new("")).display()
            )));
        }
    } else if let Some(out) = &a.output {
        if out.exists() && !a.restart {
            return Err(CliError::usage(format!(
                "{} exists and no checkpoint says it is unfinished; pass --restart to replace it",
                out.display()
            )));
        }
    }
    // Counting first also surfaces bad credentials, an unknown table or a bad query before
    // any file is touched.
    let total = count(client, &spec, shard).await?;
    let mut cp = match previous {
        Some(prev) => prev,
        None => Checkpoint::new(job, ranges::split(shard, a.parallel)),
    };
    let resumed_from = cp.records;
    let mode = a.opts.cell_mode();
    let mut sink = match (&a.output, resumed_from > 0 || cp.bytes > 0) {
        (Some(path), true) => {
            Sink::resume(path, format, mode, cp.columns.clone(), cp.bytes, cp.records)?
        }
        (Some(path), false) => Sink::create(path, format, mode, a.opts.columns())?,
        (None, _) => Sink::stdout(format, mode, a.opts.columns())?,
    };
    if let Some(p) = &cp_path {
        sink.flush()?;
        save(&mut cp, &sink, p)?;
    }
    let progress = Progress::new(&a.table, Unit::Records, total);
    progress.set_position(cp.records);

    let result = run_ranges(
        client,
        &spec,
        &mut cp,
        &mut sink,
        cp_path.as_deref(),
        &progress,
    )
    .await;
    progress.finish();
    if let Err(e) = result {
        // What is written is saved: the same command resumes from here.
        if let Some(p) = &cp_path {
            if sink.flush().is_ok() {
                let _ = save(&mut cp, &sink, p);
            }
            if let CliError::Interrupted(_) = e {
                return Err(CliError::Interrupted(format!(
                    "interrupted after {} record(s); run the same command again to resume",
                    cp.records
                )));
            }
        }
        return Err(e);
    }
    let (bytes, records) = sink.finish()?;
    if let Some(p) = &cp_path {
        std::fs::remove_file(p).map_err(CliError::io(format!("cannot remove {}", p.display())))?;
    }
    Ok(Summary {
        records,
        resumed_from,
        bytes,
        elapsed: started.elapsed(),
    })
}

/// Records the sink's position in the checkpoint and writes it.
fn save(cp: &mut Checkpoint, sink: &Sink, path: &Path) -> Result<(), CliError> {
    let (bytes, records) = sink.position();
    cp.bytes = bytes;
    cp.records = records;
    cp.columns = sink.columns().map(<[String]>::to_vec);
    cp.save(path)
}

/// How many records the shard holds (for the progress bar), from `X-Total-Count`.
async fn count(client: &Client, spec: &fetch::Spec, shard: Shard) -> Result<Option<u64>, CliError> {
    let whole = checkpoint::RangeState {
        range: ranges::whole(shard),
        after: None,
        done: false,
    };
    let q = fetch::range_query(&spec.query, &whole)?;
    let page = client
        .table(spec.table.clone())
        .list()
        .query(q)
        .fields(["sys_id"])
        .limit(1)
        .page::<Box<RawValue>>()
        .await?;
    Ok(page.total_count())
}

/// Fetches the unfinished ranges concurrently and writes their records, checkpointing as it
/// goes; returns when every range is done, at the first error, or on ctrl-c.
async fn run_ranges(
    client: &Client,
    spec: &Arc<fetch::Spec>,
    cp: &mut Checkpoint,
    sink: &mut Sink,
    cp_path: Option<&Path>,
    progress: &Progress,
) -> Result<(), CliError> {
    let pending: Vec<usize> = (0..cp.ranges.len())
        .filter(|i| !cp.ranges[*i].done)
        .collect();
    let (tx, mut rx) = mpsc::channel(2 * pending.len().max(1));
    let mut tasks = JoinSet::new();
    for i in pending {
        tasks.spawn(fetch::fetch_range(
            client.clone(),
            spec.clone(),
            i,
            cp.ranges[i].clone(),
            tx.clone(),
        ));
    }
    drop(tx);
    let mut last_save = Instant::now();
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    let result = loop {
        let batch = tokio::select! {
            b = rx.recv() => b,
            _ = &mut interrupt => break Err(CliError::Interrupted("interrupted".into())),
        };
        let batch = match batch {
            None => break Ok(()),
            Some(Err(e)) => break Err(e),
            Some(Ok(b)) => b,
        };
        let n = batch.records.len() as u64;
        if let Some(last) = batch.records.last() {
            let Some(id) = fetch::sys_id_of(last) else {
                break Err(CliError::Other(
                    "a record came without a sys_id, so the export cannot keep its place; check read access to sys_id".into(),
                ));
            };
            for rec in &batch.records {
                sink.write(rec)?;
            }
            cp.ranges[batch.range].after = Some(id);
        }
        if batch.done {
            cp.ranges[batch.range].done = true;
        }
        progress.inc(n);
        if let Some(p) = cp_path {
            if batch.done || last_save.elapsed() >= CHECKPOINT_EVERY {
                sink.flush()?;
                save(cp, sink, p)?;
                last_save = Instant::now();
            }
        }
    };
    tasks.abort_all();
    if result.is_ok() && !cp.is_complete() {
        return Err(CliError::Other(
            "a range ended without finishing; run the same command again to resume".into(),
        ));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_follows_the_extension() {
        let f = |p: &str| export_format(None, Some(Path::new(p))).unwrap();
        assert_eq!(f("x.csv"), Format::Csv);
        assert_eq!(f("x.JSON"), Format::Json);
        assert_eq!(f("x.jsonl"), Format::Jsonl);
        assert_eq!(f("x"), Format::Jsonl);
        assert_eq!(
            export_format(Some(Format::Csv), Some(Path::new("x.json"))).unwrap(),
            Format::Csv
        );
        assert!(export_format(Some(Format::Table), None).is_err());
    }

    #[test]
    fn queries_must_be_readable_and_unordered() {
        assert!(parse_query(None).unwrap().is_empty());
        assert!(parse_query(Some("active=true^ORDERBYsys_id")).is_ok());
        assert!(parse_query(Some("active=true^ORDERBYnumber")).is_err());
        assert!(parse_query(Some("active=true^RLQUERYx")).is_err());
    }
}
