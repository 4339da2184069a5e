//! `snow table list|get|create|update|delete`.

use std::io::IsTerminal;

use clap::{Args, Subcommand};
use serde_json::value::RawValue;

use super::Ctx;
use super::input::{DataOpts, RecordOpts, apply_record_opts};
use crate::connect::Needs;
use crate::exit::CliError;
use crate::output::{RecordWriter, write_one};
use crate::progress::{Progress, Unit};

/// The table commands.
#[derive(Subcommand)]
pub(crate) enum TableCommand {
    /// Records matching a query: snow table list incident --query 'active=true' --limit 10
    List(ListArgs),
    /// One record by sys_id.
    Get {
        /// The table, e.g. incident.
        table: String,
        /// The record's sys_id.
        sys_id: String,
        #[command(flatten)]
        opts: RecordOpts,
    },
    /// Create a record: snow table create incident --set short_description='Printer on fire'
    Create {
        /// The table.
        table: String,
        #[command(flatten)]
        data: DataOpts,
        #[command(flatten)]
        opts: RecordOpts,
    },
    /// Change fields of a record (PATCH; --put for PUT).
    Update {
        /// The table.
        table: String,
        /// The record's sys_id.
        sys_id: String,
        #[command(flatten)]
        data: DataOpts,
        /// Send PUT instead of PATCH.
        #[arg(long)]
        put: bool,
        #[command(flatten)]
        opts: RecordOpts,
    },
    /// Delete a record (asks first on a terminal, unless --yes).
    Delete {
        /// The table.
        table: String,
        /// The record's sys_id.
        sys_id: String,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `snow table list`.
#[derive(Args)]
pub(crate) struct ListArgs {
    /// The table, e.g. incident.
    pub(crate) table: String,
    /// Encoded query, e.g. 'active=true^priority<=2^ORDERBYDESCsys_created_on'.
    #[arg(long, short = 'q', value_name = "QUERY")]
    pub(crate) query: Option<String>,
    /// At most this many records (default 100; see --all).
    #[arg(long, short = 'l', value_name = "N", conflicts_with = "all")]
    pub(crate) limit: Option<u64>,
    /// Every matching record (for big tables, `snow export` is resumable).
    #[arg(long)]
    pub(crate) all: bool,
    /// Skip this many records first.
    #[arg(long, value_name = "N")]
    pub(crate) offset: Option<u64>,
    /// Records per request.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) page_size: u64,
    #[command(flatten)]
    pub(crate) opts: RecordOpts,
}

/// The limit of `table list` when none is given.
const DEFAULT_LIMIT: u64 = 100;

/// Runs a table command.
pub(crate) async fn run(ctx: &Ctx, cmd: TableCommand) -> Result<(), CliError> {
    let client = ctx.connect(Needs::default())?.client;
    let format = ctx.format();
    // One record decodes as a `Value` (the single-record answer may be an object or an
    // array of one, which a raw value cannot tell apart); members come out in name order.
    let print = |rec: serde_json::Value, opts: &RecordOpts| {
        let raw = serde_json::value::to_raw_value(&rec)
            .map_err(|e| CliError::Other(format!("cannot show the record: {e}")))?;
        write_one(
            &mut std::io::stdout().lock(),
            format,
            &raw,
            opts.cell_mode(),
        )
    };
    match cmd {
        TableCommand::List(a) => list(ctx, &client, a).await,
        TableCommand::Get {
            table,
            sys_id,
            opts,
        } => {
            let req = apply_record_opts!(client.table(table).get(sys_id), opts);
            print(req.fetch().await?, &opts)
        }
        TableCommand::Create { table, data, opts } => {
            let body = data.object()?;
            let req = apply_record_opts!(client.table(table).create(&body), opts);
            print(req.send().await?, &opts)
        }
        TableCommand::Update {
            table,
            sys_id,
            data,
            put,
            opts,
        } => {
            let body = data.object()?;
            let mut req = client.table(table).update(sys_id, &body);
            if put {
                req = req.put();
            }
            let req = apply_record_opts!(req, opts);
            print(req.send().await?, &opts)
        }
        TableCommand::Delete { table, sys_id, yes } => {
            if !yes
                && std::io::stdin().is_terminal()
                && !crate::prompt::confirm(&format!("Delete {table} record {sys_id}?"))
            {
                return Err(CliError::usage("not deleted"));
            }
            client.table(&table).delete(&sys_id).await?;
            if std::io::stderr().is_terminal() {
                eprintln!("snow: deleted {table} record {sys_id}");
            }
            Ok(())
        }
    }
}

async fn list(ctx: &Ctx, client: &snow_client::Client, a: ListArgs) -> Result<(), CliError> {
    let limit = if a.all {
        None
    } else {
        Some(a.limit.unwrap_or(DEFAULT_LIMIT))
    };
    let mut req = client
        .table(&a.table)
        .list()
        .page_size(a.page_size.clamp(1, 10_000));
    if let Some(q) = a.query.as_deref().filter(|q| !q.is_empty()) {
        req = req.raw_query(q);
    }
    if let Some(l) = limit {
        req = req.limit(l);
    }
    if let Some(o) = a.offset {
        req = req.offset(o);
    }
    let req = apply_record_opts!(req, a.opts);
    let mut stream = req.stream::<Box<RawValue>>();
    let mut writer = RecordWriter::new(
        std::io::BufWriter::new(std::io::stdout().lock()),
        ctx.format(),
        a.opts.columns(),
        a.opts.cell_mode(),
    );
    let mut progress = Progress::hidden();
    let mut bar_checked = false;
    while let Some(rec) = stream.try_next().await? {
        writer.write(&rec)?;
        if !bar_checked {
            bar_checked = true;
            // A bar only for lists longer than a page or two.
            if let Some(n) = stream.expected().filter(|n| *n > 2 * a.page_size) {
                progress = Progress::new(&a.table, Unit::Records, Some(n));
            }
        }
        progress.inc(1);
    }
    progress.finish();
    let shown = writer.count();
    writer.finish()?;
    // Say when the default limit cut the list short, on a terminal only.
    if a.limit.is_none() && !a.all && std::io::stderr().is_terminal() {
        if let (Some(l), Some(total)) = (limit, stream.expected()) {
            if shown == l && total >= l {
                let mut count = client.table(&a.table).list();
                if let Some(q) = a.query.as_deref().filter(|q| !q.is_empty()) {
                    count = count.raw_query(q);
                }
                let matched = count
                    .fields(["sys_id"])
                    .limit(1)
                    .page::<Box<RawValue>>()
                    .await
                    .ok()
                    .and_then(|p| p.total_count());
                if matched.is_some_and(|m| m > l) {
                    eprintln!(
                        "snow: showing the first {l} of {} records; use --limit N or --all",
                        matched.unwrap_or(l)
                    );
                }
            }
        }
    }
    Ok(())
}
