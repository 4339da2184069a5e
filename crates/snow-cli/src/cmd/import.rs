//! `snow import STAGING_TABLE`: rows into an import set's staging table (Import Set API), and
//! what the transform made of each.

use clap::Args;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use snow_client::ImportSet;
use snow_client::import_set::{ImportStatus, TransformResult};

use super::Ctx;
use super::rows::{Rows, set_pairs};
use crate::connect::Needs;
use crate::exit::CliError;
use crate::output::{CellMode, RecordWriter, ordered_object};

/// `snow import`.
#[derive(Args)]
pub(crate) struct ImportArgs {
    /// The staging table, e.g. imp_user.
    staging_table: String,
    /// The rows: one JSON object, an array of objects, or JSON Lines (one object per line);
    /// inline, @FILE, or - for standard input.
    #[arg(long, short = 'd', value_name = "JSON|@FILE|-")]
    data: Option<String>,
    /// A field to set, FIELD=VALUE (repeatable): the row itself without --data, else added
    /// to every row.
    #[arg(long, short = 's', value_name = "FIELD=VALUE")]
    set: Vec<String>,
    /// Load even a single row with insertMultiple (a real instance may then transform it
    /// later: its status is "pending").
    #[arg(long)]
    multiple: bool,
    /// Rows per insertMultiple request (each request makes one import set).
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    chunk: u64,
}

/// Runs `snow import`.
pub(crate) async fn run(ctx: &Ctx, a: ImportArgs) -> Result<(), CliError> {
    let extra = set_pairs(&a.set)?;
    let mut rows = match &a.data {
        Some(arg) => Some(Rows::open(arg)?),
        None if extra.is_empty() => {
            return Err(CliError::usage(
                "no rows: give --data JSON (or @FILE, or - for standard input) or --set FIELD=VALUE",
            ));
        }
        None => None,
    };
    let with_extra = |mut row: Map<String, Value>| {
        row.extend(extra.clone());
        row
    };
    // The first two rows decide between one row and many.
    let first: Vec<Map<String, Value>> = match &mut rows {
        Some(r) => r.take(2)?.into_iter().map(with_extra).collect(),
        None => vec![extra.clone()],
    };
    if first.is_empty() {
        return Err(CliError::usage("no rows: the data holds no JSON object"));
    }
    let client = ctx.connect(Needs::default())?.client;
    let set = client.import_set(&a.staging_table);
    let mut out = Outcomes::new(ctx);
    let loaded = if first.len() == 1 && !a.multiple {
        load_one(&set, &first[0], &mut out).await
    } else {
        let chunk = usize::try_from(a.chunk).unwrap_or(usize::MAX);
        load_many(&set, first, rows.as_mut(), &with_extra, chunk, &mut out).await
    };
    // The rows shown so far stay valid output (a closed JSON array) whatever happened.
    out.finish(loaded)
}

/// One row with a single `POST`: the transform runs at once.
async fn load_one(
    set: &ImportSet,
    row: &Map<String, Value>,
    out: &mut Outcomes,
) -> Result<(), CliError> {
    let loaded = set.insert(row).await?;
    for r in &loaded.results {
        out.row(0, r, &loaded.import_set, "")?;
    }
    Ok(())
}

/// Rows in `insertMultiple` requests of `chunk` rows, read as they are sent.
async fn load_many(
    set: &ImportSet,
    first: Vec<Map<String, Value>>,
    mut rows: Option<&mut Rows>,
    with_extra: &dyn Fn(Map<String, Value>) -> Map<String, Value>,
    chunk: usize,
    out: &mut Outcomes,
) -> Result<(), CliError> {
    let mut pending = first;
    let mut offset = 0usize;
    loop {
        if let Some(r) = rows.as_deref_mut() {
            let need = chunk.saturating_sub(pending.len());
            pending.extend(r.take(need)?.into_iter().map(with_extra));
        }
        if pending.is_empty() {
            return Ok(());
        }
        let sent = pending.len();
        let loaded = set
            .insert_multiple(std::mem::take(&mut pending))
            .max_rows(chunk)
            .await?;
        for row in &loaded {
            out.row(
                offset.saturating_add(row.index),
                &row.result,
                &row.import_set_id,
                &row.staging_sys_id,
            )?;
        }
        offset += sent;
        if sent < chunk {
            return Ok(());
        }
    }
}

/// The outcome rows as they are written, and the count of rejected ones.
struct Outcomes {
    writer: RecordWriter<std::io::BufWriter<std::io::StdoutLock<'static>>>,
    rows: usize,
    errors: usize,
}

impl Outcomes {
    fn new(ctx: &Ctx) -> Self {
        Self {
            writer: RecordWriter::new(
                std::io::BufWriter::new(std::io::stdout().lock()),
                ctx.format(),
                None,
                CellMode::Value,
            ),
            rows: 0,
            errors: 0,
        }
    }

    fn row(
        &mut self,
        index: usize,
        r: &TransformResult,
        import_set: &str,
        staging_sys_id: &str,
    ) -> Result<(), CliError> {
        self.rows += 1;
        if r.status == ImportStatus::Error {
            self.errors += 1;
        }
        self.writer
            .write(&outcome(index, r, import_set, staging_sys_id))
    }

    /// Ends the output, then reports `loaded`'s error, or the rejected rows.
    fn finish(self, loaded: Result<(), CliError>) -> Result<(), CliError> {
        let written = self.writer.finish();
        loaded?;
        written?;
        if self.errors > 0 {
            return Err(CliError::Partial(format!(
                "{} of {} row(s) were rejected by the transform (status error)",
                self.errors, self.rows
            )));
        }
        Ok(())
    }
}

/// One row's outcome as a flat record.
fn outcome(
    index: usize,
    r: &TransformResult,
    import_set: &str,
    staging_sys_id: &str,
) -> Box<RawValue> {
    let message = r
        .error_message
        .as_deref()
        .or(r.status_message.as_deref())
        .unwrap_or_default();
    ordered_object([
        ("row", Value::from(index)),
        ("status", Value::from(status_name(&r.status))),
        ("table", Value::from(r.table.as_str())),
        ("sys_id", Value::from(r.sys_id.as_str())),
        ("display_value", Value::from(r.display_value.as_str())),
        ("transform_map", Value::from(r.transform_map.as_str())),
        ("message", Value::from(message)),
        ("import_set", Value::from(import_set)),
        ("staging_sys_id", Value::from(staging_sys_id)),
    ])
}

/// The status as ServiceNow writes it.
fn status_name(s: &ImportStatus) -> &str {
    match s {
        ImportStatus::Inserted => "inserted",
        ImportStatus::Updated => "updated",
        ImportStatus::Ignored => "ignored",
        ImportStatus::Skipped => "skipped",
        ImportStatus::Error => "error",
        ImportStatus::Pending => "pending",
        ImportStatus::Other(s) => s,
        _ => "unknown",
    }
}
