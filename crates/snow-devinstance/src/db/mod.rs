//! The instance's data: table schemas, an in-memory store, the encoded-query language,
//! record rendering in ServiceNow's wire shapes, writes, the seed generator and persistence.
//!
//! No HTTP here; the server wraps a [`Db`] in a lock and calls into it.
//!
//! Tables: `task` (extended by `incident`, `problem`, `change_request`), `sys_user`,
//! `sys_user_group`, `sys_user_grmember`, `sys_user_role`, `sys_user_has_role`, `cmdb_ci`
//! (extended by `cmdb_ci_server`, itself extended by `cmdb_ci_linux_server` and
//! `cmdb_ci_win_server`, and by `cmdb_ci_appl` and `cmdb_ci_database`), `cmdb_rel_type`,
//! `cmdb_rel_ci`, `sys_attachment`, `sys_import_set` and the staging tables extending
//! `sys_import_set_row` (`imp_user`, `imp_computer`). Listing or reading a parent table includes the
//! records of the tables extending it. Built-in users: `admin` (role `admin`), `itil` (role
//! `itil`) and `reader` (role `snc_read_only`).
//!
//! ```
//! use snow_devinstance::db::{Db, DisplayValue, EvalCtx, RenderOpts};
//!
//! let db = Db::new_seeded(7, 50);
//! let ctx = EvalCtx::system();
//! let page = db.list("incident", "active=true^ORDERBYnumber", &ctx, 0, 5).unwrap();
//! assert!(page.total <= 50);
//! let fields = vec!["number".to_owned(), "caller_id.name".to_owned()];
//! let opts = RenderOpts {
//!     fields: Some(&fields),
//!     display_value: DisplayValue::False,
//!     exclude_reference_link: false,
//!     link_base: "http://127.0.0.1:8080/api/now/v2",
//! };
//! let mut out = Vec::new();
//! db.render("incident", page.rows[0], &opts, &mut out);
//! let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
//! assert!(v["number"].as_str().unwrap().starts_with("INC"));
//! assert!(v["caller_id.name"].is_string());
//! ```

pub(crate) mod aggregate;
mod change;
mod eval;
mod order_cache;
pub mod query;
mod record;
pub(crate) mod render;
pub mod schema;
mod schema_ext;
mod seed;
mod seed_cmdb;
mod seed_words;
mod snapshot;
mod store;
mod time_fmt;
pub(crate) mod transform;
mod write;

#[cfg(test)]
mod tests;

pub(crate) use change::Change;
pub use record::Record;
pub use schema::{FieldDef, FieldType, TableSchema, schemas};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use schema::TableId;
use time::OffsetDateTime;

/// Who is asking and when: the values behind `javascript:gs.getUserID()`, `gs.nowNoTZ()`,
/// `sys_created_by`, `sys_updated_on`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalCtx {
    /// sys_id of the acting user (a `sys_user` record).
    pub user_sys_id: String,
    /// The current time.
    pub now: OffsetDateTime,
}

impl EvalCtx {
    /// The built-in `admin` user, at the current time.
    pub fn system() -> Self {
        Self {
            user_sys_id: seed::ADMIN_SYS_ID.to_owned(),
            now: OffsetDateTime::now_utc(),
        }
    }
}

/// `sysparm_display_value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DisplayValue {
    /// Stored values (the default).
    #[default]
    False,
    /// Display values (choice labels, reference display names).
    True,
    /// Both, as `{"display_value","value"}` objects.
    All,
}

/// How to render records.
#[derive(Debug, Clone, Copy)]
pub struct RenderOpts<'a> {
    /// `sysparm_fields`: the fields to include, possibly dot-walked; `None` for all fields.
    /// Unknown names are skipped.
    pub fields: Option<&'a [String]>,
    /// `sysparm_display_value`.
    pub display_value: DisplayValue,
    /// `sysparm_exclude_reference_link`.
    pub exclude_reference_link: bool,
    /// The base of reference links, e.g. `http://127.0.0.1:8080/api/now/v2`; links are
    /// `<link_base>/table/<table>/<sys_id>`.
    pub link_base: &'a str,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Listing<'a> {
    /// How many records match the query in total.
    pub total: usize,
    /// The records of the requested page, in order.
    pub rows: Vec<&'a Record>,
}

/// Why a database operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The table does not exist.
    #[error("Invalid table {0}")]
    InvalidTable(String),
    /// No record with that sys_id in that table.
    #[error("No Record found")]
    NotFound,
    /// The encoded query could not be parsed or evaluated.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// A written value does not fit its field.
    #[error("invalid value for field {field}: {reason}")]
    InvalidField {
        /// The field name.
        field: String,
        /// What is wrong with the value.
        reason: String,
    },
    /// Persisted data could not be read.
    #[error("invalid data file: {0}")]
    InvalidData(String),
}

impl From<query::QueryError> for DbError {
    fn from(e: query::QueryError) -> Self {
        DbError::InvalidQuery(e.to_string())
    }
}

/// Whether a string is a sys_id: 32 lowercase hex digits (what this instance generates and
/// accepts; used for record ids and the attachment files of the data directory alike).
pub(crate) fn is_sys_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Where a record lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Loc {
    table: TableId,
    slot: u32,
}

/// The cache key of a query's order over a table.
fn order_key(table: &str, query: &query::Query) -> String {
    let mut key = table.to_owned();
    for o in &query.order {
        key.push(if o.descending { '>' } else { '<' });
        key.push_str(&o.field);
    }
    key
}

/// Merges iterators that are each in sys_id order (ascending, or descending when asked) into
/// one in that order.
fn merge_by_sys_id<'a>(
    walks: Vec<Box<dyn Iterator<Item = &'a Record> + 'a>>,
    descending: bool,
) -> impl Iterator<Item = &'a Record> + 'a {
    let mut walks: Vec<_> = walks.into_iter().map(Iterator::peekable).collect();
    std::iter::from_fn(move || {
        if walks.len() == 1 {
            return walks[0].next();
        }
        let mut best: Option<(usize, &str)> = None;
        for (i, w) in walks.iter_mut().enumerate() {
            let Some(r) = w.peek() else { continue };
            let id: &'a str = (*r).sys_id();
            let better = best.is_none_or(|(_, b)| if descending { id > b } else { id < b });
            if better {
                best = Some((i, id));
            }
        }
        best.and_then(|(i, _)| walks[i].next())
    })
}

/// The in-memory database: one store per table, a sys_id index across all tables, and the
/// counters behind auto-numbering (`INC0010001`).
#[derive(Debug, Clone)]
pub struct Db {
    stores: Vec<store::Store>,
    index: HashMap<Box<str>, Loc>,
    counters: BTreeMap<String, u64>,
    id_state: u64,
    /// Bumped by every write; remembered orders are valid for one generation.
    generation: u64,
    orders: order_cache::OrderCache,
}

impl Db {
    /// Schemas present, no rows except the built-in users `admin`, `itil` and `reader` with
    /// their roles.
    pub fn empty() -> Db {
        let mut db = Db::bare();
        seed::builtin_users(&mut db, seed::DEFAULT_ANCHOR);
        db
    }

    /// A deterministic sample database: `records` incidents and proportionate problems,
    /// changes, users, groups and configuration items, all cross-referenced. The same
    /// `(seed, records)` always gives the same data.
    pub fn new_seeded(seed: u64, records: usize) -> Db {
        seed::generate(seed, records, seed::DEFAULT_ANCHOR)
    }

    /// Like [`Db::new_seeded`], with dates spread over the two years before `anchor`
    /// instead of before the fixed default anchor.
    pub fn new_seeded_at(seed: u64, records: usize, anchor: OffsetDateTime) -> Db {
        seed::generate(seed, records, anchor)
    }

    /// No tables' rows at all, not even the built-in users.
    fn bare() -> Db {
        let n = schemas().tables().count();
        Db {
            stores: (0..n).map(|_| store::Store::default()).collect(),
            index: HashMap::new(),
            counters: BTreeMap::new(),
            id_state: 0x5eed_0000_0000_0001,
            generation: 0,
            orders: order_cache::OrderCache::default(),
        }
    }

    /// Whether the table exists.
    pub fn has_table(&self, table: &str) -> bool {
        schemas().table(table).is_some()
    }

    /// The schema of a table.
    pub fn schema(&self, table: &str) -> Option<&'static TableSchema> {
        schemas().table(table)
    }

    /// How many records the table holds, counting tables that extend it.
    pub fn count(&self, table: &str) -> usize {
        schemas().table(table).map_or(0, |s| {
            s.family
                .iter()
                .map(|&t| self.stores[usize::from(t)].live())
                .sum()
        })
    }

    /// A record of the table (or of a table extending it) by sys_id.
    pub fn get(&self, table: &str, sys_id: &str) -> Option<&Record> {
        let schema = schemas().table(table)?;
        let loc = *self.index.get(sys_id)?;
        if !schemas().is_a(loc.table, schema.id) {
            return None;
        }
        self.at(loc)
    }

    /// A record by sys_id in any table.
    pub(crate) fn lookup(&self, sys_id: &str) -> Option<&Record> {
        if sys_id.is_empty() {
            return None;
        }
        self.index.get(sys_id).and_then(|&loc| self.at(loc))
    }

    fn at(&self, loc: Loc) -> Option<&Record> {
        self.stores.get(usize::from(loc.table))?.get(loc.slot)
    }

    /// The records of a table (and the tables extending it) matching an encoded query, in
    /// query order (stable insertion order when the query has no ORDERBY), paged by
    /// `offset` / `limit`. Terms on unknown fields are ignored (as are `^OR` clauses and
    /// `^NQ` groups left with no terms); a query left with no terms matches everything.
    ///
    /// # Errors
    /// [`DbError::InvalidTable`] for an unknown table, [`DbError::InvalidQuery`] for an
    /// unparseable query.
    pub fn list<'a>(
        &'a self,
        table: &str,
        query: &str,
        ctx: &EvalCtx,
        offset: usize,
        limit: usize,
    ) -> Result<Listing<'a>, DbError> {
        let parsed = query::parse(query)?;
        self.list_query(table, &parsed, ctx, offset, limit)
    }

    /// [`Db::list`] with an already parsed query.
    ///
    /// # Errors
    /// As [`Db::list`].
    pub fn list_query<'a>(
        &'a self,
        table: &str,
        query: &query::Query,
        ctx: &EvalCtx,
        offset: usize,
        limit: usize,
    ) -> Result<Listing<'a>, DbError> {
        let schema = schemas()
            .table(table)
            .ok_or_else(|| DbError::InvalidTable(table.to_owned()))?;
        let mut plan = eval::Plan::compile(self, schema, query, ctx)?;
        let end = offset.saturating_add(limit);
        let stores = || schema.family.iter().map(|&t| &self.stores[usize::from(t)]);
        // A query pinning one sys_id matches at most one record: any order will do.
        let by_sys_id = plan
            .sys_id_order()
            .or_else(|| plan.pins_sys_id().then_some(false));
        if let Some(descending) = by_sys_id {
            // sys_ids are unique, so any later ORDERBY cannot change the order: walk the
            // sys_id indexes (merged across the table's family) instead of sorting, starting
            // where the query's own sys_id bounds (keyset paging, `sys_id=X`) start.
            let range = plan.take_sys_id_range();
            let walks = stores()
                .filter(|s| s.live() > 0)
                .map(|s| {
                    let walk = s.range_by_sys_id(&range);
                    if descending {
                        Box::new(walk.rev()) as Box<dyn Iterator<Item = &'a Record> + 'a>
                    } else {
                        walk
                    }
                })
                .collect();
            let records = merge_by_sys_id(walks, descending);
            if !plan.has_filter() {
                let total = stores().map(|s| s.count_range(&range)).sum();
                let rows = records.skip(offset).take(limit).collect();
                return Ok(Listing { total, rows });
            }
            return Ok(self.scan(&plan, records, offset, end));
        }
        if plan.has_order() {
            let key = order_key(table, query);
            match self.orders.lookup(&key, self.generation) {
                order_cache::Lookup::Hit(order) => {
                    return Ok(self.walk_order(table, &plan, &order, offset, end));
                }
                order_cache::Lookup::Repeat => {
                    let (locs, rows): (Vec<Loc>, Vec<&Record>) = schema
                        .family
                        .iter()
                        .flat_map(|&t| {
                            self.stores[usize::from(t)]
                                .iter_slots()
                                .map(move |(slot, r)| (Loc { table: t, slot }, r))
                        })
                        .unzip();
                    let order: Arc<[Loc]> = plan
                        .order_indices(self, &rows, rows.len())
                        .into_iter()
                        .map(|i| locs[i])
                        .collect();
                    self.orders.store(&key, self.generation, Arc::clone(&order));
                    return Ok(self.walk_order(table, &plan, &order, offset, end));
                }
                order_cache::Lookup::First => {}
            }
        }
        let records = stores().flat_map(store::Store::iter);
        if plan.has_order() {
            let mut all: Vec<&Record> = records.filter(|r| plan.matches(self, r)).collect();
            let total = all.len();
            if total.saturating_mul(4) < self.count(table) {
                // A selective query: sorting the whole table for the next request with this
                // order would cost more than sorting its few rows again.
                self.orders.forget(&order_key(table, query));
            }
            plan.sort_prefix(self, &mut all, end.min(total));
            let rows = all
                .get(offset.min(total)..end.min(total))
                .unwrap_or_default()
                .to_vec();
            return Ok(Listing { total, rows });
        }
        if !plan.has_filter() {
            let rows = records.skip(offset).take(limit).collect();
            return Ok(Listing {
                total: self.count(table),
                rows,
            });
        }
        Ok(self.scan(&plan, records, offset, end))
    }

    /// A page of a query over a remembered order of the table's whole family.
    fn walk_order<'a>(
        &'a self,
        table: &str,
        plan: &eval::Plan,
        order: &[Loc],
        offset: usize,
        end: usize,
    ) -> Listing<'a> {
        let records = order.iter().filter_map(|&loc| self.at(loc));
        if !plan.has_filter() {
            return Listing {
                total: self.count(table),
                rows: order
                    .get(offset.min(order.len())..end.min(order.len()))
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|&loc| self.at(loc))
                    .collect(),
            };
        }
        self.scan(plan, records, offset, end)
    }

    /// The rows `offset..end` of the records (already in order) that match the plan, and how
    /// many match in all.
    fn scan<'a>(
        &'a self,
        plan: &eval::Plan,
        records: impl Iterator<Item = &'a Record>,
        offset: usize,
        end: usize,
    ) -> Listing<'a> {
        let mut total = 0;
        let mut rows = Vec::new();
        for r in records {
            if plan.matches(self, r) {
                if total >= offset && total < end {
                    rows.push(r);
                }
                total += 1;
            }
        }
        Listing { total, rows }
    }

    /// The `sys_user` record with this `user_name`.
    pub fn user_by_name(&self, user_name: &str) -> Option<&Record> {
        let schema = schemas().table("sys_user")?;
        let idx = schema.field_index("user_name")?;
        self.stores[usize::from(schema.id)]
            .iter()
            .find(|r| r.value_at(idx) == user_name)
    }

    /// The names of the roles granted to a user (`admin`, `itil`, ...), from `sys_user_has_role`.
    pub fn user_roles(&self, user_sys_id: &str) -> Vec<&str> {
        let Some(schema) = schemas().table("sys_user_has_role") else {
            return Vec::new();
        };
        let (Some(u), Some(r)) = (schema.field_index("user"), schema.field_index("role")) else {
            return Vec::new();
        };
        self.stores[usize::from(schema.id)]
            .iter()
            .filter(|rec| rec.value_at(u) == user_sys_id)
            .filter_map(|rec| self.lookup(rec.value_at(r)))
            .filter_map(|role| role.get("name"))
            .collect()
    }

    /// The display value of a record: its number, name, ... per its table.
    pub fn display_value<'a>(&self, rec: &'a Record) -> &'a str {
        rec.value_at(schemas().by_id(rec.table_id()).display_field)
    }

    /// Notes a write: remembered orders are stale from now on.
    fn touched(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// Adds a fully formed record (values per its class's fields) to the store and index.
    /// Replaces nothing: the caller guarantees the sys_id is unused.
    fn push(&mut self, rec: Record) -> Loc {
        self.touched();
        let table = rec.table_id();
        let sys_id: Box<str> = rec.sys_id().into();
        let slot = self.stores[usize::from(table)].push(rec);
        let loc = Loc { table, slot };
        self.index.insert(sys_id, loc);
        loc
    }

    /// The next auto-number for a prefix: `INC0010001`, `INC0010002`, ...
    fn next_number(&mut self, prefix: &str) -> String {
        let c = self.counters.entry(prefix.to_owned()).or_insert(10_000);
        *c += 1;
        format!("{prefix}{:07}", *c)
    }

    /// A fresh, unused sys_id (32 lowercase hex).
    fn new_sys_id(&mut self) -> String {
        loop {
            let a = seed::splitmix(&mut self.id_state);
            let b = seed::splitmix(&mut self.id_state);
            let id = format!("{a:016x}{b:016x}");
            if !self.index.contains_key(id.as_str()) {
                return id;
            }
        }
    }
}
