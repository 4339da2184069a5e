//! `snow cmdb list|get|create|update|add-relations|delete-relation`: configuration items and
//! their relations through the CMDB Instance API.

use std::io::IsTerminal;

use clap::{Args, Subcommand};
use serde_json::Value;
use serde_json::value::RawValue;
use snow_client::cmdb::{Ci, CmdbWrite, Relation};
use snow_client::{Field, FieldValue};

use super::Ctx;
use super::input::DataOpts;
use crate::connect::Needs;
use crate::exit::CliError;
use crate::output::{CellMode, Format, RecordWriter, ordered_object, write_one};

/// The CMDB commands.
#[derive(Subcommand)]
pub(crate) enum CmdbCommand {
    /// The CIs of a class, sys_id and name: snow cmdb list cmdb_ci_linux_server --limit 20
    List(ListArgs),
    /// One CI with its attributes and its inbound and outbound relations.
    Get {
        /// The class, e.g. cmdb_ci_appl.
        class: String,
        /// The CI's sys_id.
        sys_id: String,
    },
    /// Create a CI, with relations: snow cmdb create cmdb_ci_appl --set name=billing
    /// --outbound SERVER_SYS_ID:REL_TYPE_SYS_ID
    Create {
        /// The class.
        class: String,
        #[command(flatten)]
        data: DataOpts,
        #[command(flatten)]
        relations: RelationOpts,
        #[command(flatten)]
        source: SourceOpt,
    },
    /// Change attributes of a CI (PATCH; --put for PUT).
    Update {
        /// The class.
        class: String,
        /// The CI's sys_id.
        sys_id: String,
        #[command(flatten)]
        data: DataOpts,
        /// Send PUT instead of PATCH.
        #[arg(long)]
        put: bool,
        #[command(flatten)]
        source: SourceOpt,
    },
    /// Add relations to a CI: --inbound and --outbound, each TARGET_SYS_ID:REL_TYPE_SYS_ID.
    AddRelations {
        /// The class.
        class: String,
        /// The CI's sys_id.
        sys_id: String,
        #[command(flatten)]
        relations: RelationOpts,
        #[command(flatten)]
        source: SourceOpt,
    },
    /// Delete one relation of a CI (asks first on a terminal, unless --yes).
    DeleteRelation {
        /// The class.
        class: String,
        /// The CI's sys_id.
        sys_id: String,
        /// The relation's sys_id (from `snow cmdb get`).
        relation_sys_id: String,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `snow cmdb list`.
#[derive(Args)]
pub(crate) struct ListArgs {
    /// The class, e.g. cmdb_ci_linux_server.
    class: String,
    /// Encoded query, e.g. 'nameSTARTSWITHweb'.
    #[arg(long, short = 'q', value_name = "QUERY")]
    query: Option<String>,
    /// At most this many CIs (default 100; see --all).
    #[arg(long, short = 'l', value_name = "N", conflicts_with = "all")]
    limit: Option<u64>,
    /// Every matching CI.
    #[arg(long)]
    all: bool,
    /// CIs per request.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    page_size: u64,
}

/// Relations of a new CI, or to add.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct RelationOpts {
    /// A relation in which this CI is the child: the parent's sys_id and the relationship
    /// type's sys_id, PARENT:TYPE (repeatable).
    #[arg(long, value_name = "CI:TYPE")]
    inbound: Vec<String>,
    /// A relation in which this CI is the parent: CHILD:TYPE (repeatable).
    #[arg(long, value_name = "CI:TYPE")]
    outbound: Vec<String>,
}

/// The discovery source sent with writes.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct SourceOpt {
    /// The entity reporting the CI, a discovery_source choice (default ServiceNow).
    #[arg(long, value_name = "SOURCE")]
    source: Option<String>,
}

impl RelationOpts {
    fn is_empty(&self) -> bool {
        self.inbound.is_empty() && self.outbound.is_empty()
    }

    fn apply(&self, mut w: CmdbWrite) -> Result<CmdbWrite, CliError> {
        for r in &self.inbound {
            let (ci, kind) = relation(r, "--inbound")?;
            w = w.inbound(ci, kind);
        }
        for r in &self.outbound {
            let (ci, kind) = relation(r, "--outbound")?;
            w = w.outbound(ci, kind);
        }
        Ok(w)
    }
}

impl SourceOpt {
    fn apply(&self, w: CmdbWrite) -> CmdbWrite {
        match &self.source {
            Some(s) => w.source(s),
            None => w,
        }
    }
}

/// `CI:TYPE`, both sys_ids.
fn relation<'a>(text: &'a str, flag: &str) -> Result<(&'a str, &'a str), CliError> {
    match text.split_once(':') {
        Some((ci, kind)) if !ci.trim().is_empty() && !kind.trim().is_empty() => {
            Ok((ci.trim(), kind.trim()))
        }
        _ => Err(CliError::usage(format!(
            "{flag} {text:?} is not CI_SYS_ID:REL_TYPE_SYS_ID"
        ))),
    }
}

/// The limit of `cmdb list` when none is given.
const DEFAULT_LIMIT: u64 = 100;

/// Runs a CMDB command.
pub(crate) async fn run(ctx: &Ctx, cmd: CmdbCommand) -> Result<(), CliError> {
    let client = ctx.connect(Needs::default())?.client;
    let ci = match cmd {
        CmdbCommand::List(a) => return list(ctx, &client, a).await,
        CmdbCommand::Get { class, sys_id } => client.cmdb(class).get(&sys_id).await?,
        CmdbCommand::Create {
            class,
            data,
            relations,
            source,
        } => {
            let body = data.object()?;
            let w = client.cmdb(class).create(&body);
            relations.apply(source.apply(w))?.await?
        }
        CmdbCommand::Update {
            class,
            sys_id,
            data,
            put,
            source,
        } => {
            let body = data.object()?;
            let mut w = client.cmdb(class).update(&sys_id, &body);
            if put {
                w = w.put();
            }
            source.apply(w).await?
        }
        CmdbCommand::AddRelations {
            class,
            sys_id,
            relations,
            source,
        } => {
            if relations.is_empty() {
                return Err(CliError::usage(
                    "no relations: give --inbound or --outbound CI_SYS_ID:REL_TYPE_SYS_ID",
                ));
            }
            let w = client.cmdb(class).add_relations(&sys_id);
            relations.apply(source.apply(w))?.await?
        }
        CmdbCommand::DeleteRelation {
            class,
            sys_id,
            relation_sys_id,
            yes,
        } => {
            if !yes
                && std::io::stdin().is_terminal()
                && !crate::prompt::confirm(&format!(
                    "Delete relation {relation_sys_id} of {class} {sys_id}?"
                ))
            {
                return Err(CliError::usage("not deleted"));
            }
            client
                .cmdb(class)
                .delete_relation(&sys_id, &relation_sys_id)
                .await?
        }
    };
    show_ci(ctx.format(), &ci)
}

async fn list(ctx: &Ctx, client: &snow_client::Client, a: ListArgs) -> Result<(), CliError> {
    let mut req = client
        .cmdb(&a.class)
        .list()
        .page_size(a.page_size.clamp(1, 10_000));
    if let Some(q) = a.query.as_deref().filter(|q| !q.trim().is_empty()) {
        req = req.raw_query(q);
    }
    if !a.all {
        req = req.limit(a.limit.unwrap_or(DEFAULT_LIMIT));
    }
    let mut stream = req.stream::<Box<RawValue>>();
    let mut writer = RecordWriter::new(
        std::io::BufWriter::new(std::io::stdout().lock()),
        ctx.format(),
        None,
        CellMode::Value,
    );
    while let Some(rec) = stream.try_next().await? {
        writer.write(&rec)?;
    }
    writer.finish()?;
    Ok(())
}

/// A CI: as the API gives it in JSON; on a terminal table, its attributes, then its
/// relations; as CSV, its attributes.
fn show_ci(format: Format, ci: &Ci) -> Result<(), CliError> {
    let attributes = ordered_object(
        ci.attributes
            .iter()
            .map(|(name, v)| (name.to_owned(), field_value_json(v))),
    );
    let relations = |rels: &[Relation]| Value::Array(rels.iter().map(relation_json).collect());
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json | Format::Jsonl => {
            let whole = ordered_object([
                (
                    "attributes",
                    serde_json::from_str::<Value>(attributes.get()).unwrap_or(Value::Null),
                ),
                ("inbound_relations", relations(&ci.inbound_relations)),
                ("outbound_relations", relations(&ci.outbound_relations)),
            ]);
            write_one(&mut out, format, &whole, CellMode::Value)
        }
        Format::Csv => write_one(&mut out, format, &attributes, CellMode::Value),
        Format::Table => {
            write_one(&mut out, format, &attributes, CellMode::Value)?;
            let rows: Vec<Box<RawValue>> = ci
                .inbound_relations
                .iter()
                .map(|r| relation_row("inbound", r))
                .chain(
                    ci.outbound_relations
                        .iter()
                        .map(|r| relation_row("outbound", r)),
                )
                .collect();
            if rows.is_empty() {
                return Ok(());
            }
            use std::io::Write as _;
            writeln!(out).map_err(CliError::io("cannot write the output"))?;
            let mut w = RecordWriter::new(out, format, None, CellMode::Value);
            for r in &rows {
                w.write(r)?;
            }
            drop(w.finish()?);
            Ok(())
        }
    }
}

/// A relation as the API writes it.
fn relation_json(r: &Relation) -> Value {
    serde_json::json!({
        "sys_id": r.sys_id,
        "target": field_json(&r.target),
        "type": field_json(&r.kind),
    })
}

/// A relation as a table row.
fn relation_row(direction: &str, r: &Relation) -> Box<RawValue> {
    let text = |f: &Field| {
        f.display_value()
            .or(f.value())
            .unwrap_or_default()
            .to_owned()
    };
    ordered_object([
        ("relation", Value::from(direction)),
        ("type", Value::from(text(&r.kind))),
        ("ci", Value::from(text(&r.target))),
        (
            "ci_sys_id",
            Value::from(r.target.value().unwrap_or_default()),
        ),
        ("sys_id", Value::from(r.sys_id.as_str())),
    ])
}

fn field_value_json(v: &FieldValue) -> Value {
    match v {
        FieldValue::Field(f) => field_json(f),
        FieldValue::Json(j) => j.clone(),
        _ => Value::Null,
    }
}

/// A field: its value as a string, or `{value, display_value, link}` when it has more.
fn field_json(f: &Field) -> Value {
    if f.display_value().is_none() && f.link().is_none() {
        return Value::from(f.value().unwrap_or_default());
    }
    let mut m = serde_json::Map::new();
    if let Some(v) = f.value() {
        m.insert("value".into(), v.into());
    }
    if let Some(d) = f.display_value() {
        m.insert("display_value".into(), d.into());
    }
    if let Some(l) = f.link() {
        m.insert("link".into(), l.into());
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_are_ci_and_type() {
        assert_eq!(relation(" a : b ", "--outbound").unwrap(), ("a", "b"));
        for bad in ["ab", ":b", "a:", ""] {
            assert!(relation(bad, "--inbound").is_err(), "{bad}");
        }
    }

    #[test]
    fn fields_keep_their_parts() {
        assert_eq!(field_json(&Field::new("x")), Value::from("x"));
        let f = Field::with_parts(Some("v".into()), Some("d".into()), None);
        assert_eq!(
            field_json(&f),
            serde_json::json!({"value":"v","display_value":"d"})
        );
    }
}
