//! Evaluating a parsed query against a table: field paths resolved once, typed comparisons.

use std::cmp::Ordering;
use std::ops::Bound;

use time::{Duration, PrimitiveDateTime, Time, UtcOffset};

use super::query::{Operand, Operator, Query, Script, Term, Value};
use super::record::Record;
use super::schema::{FieldDef, FieldType, SYS_ID, TableId, TableSchema, schemas};
use super::time_fmt;
use super::{Db, DbError, EvalCtx, is_sys_id};

/// A field reached from a table, possibly through references (`assignment_group.manager.email`).
#[derive(Debug, Clone)]
pub(crate) struct Path {
    /// Reference fields to follow, as indexes into each hop's table.
    pub(crate) hops: Vec<usize>,
    /// Index of the final field in the last table.
    pub(crate) idx: usize,
    /// The final field.
    pub(crate) field: &'static FieldDef,
}

/// Resolves a (dot-walked) field name against a table; `None` when any part is unknown or a
/// non-reference field is walked through.
pub(crate) fn resolve_path(schema: &'static TableSchema, name: &str) -> Option<Path> {
    let mut table = schema;
    let mut hops = Vec::new();
    let mut parts = name.split('.').peekable();
    loop {
        let part = parts.next()?;
        let idx = table.field_index(part)?;
        let field = &table.fields[idx];
        if parts.peek().is_none() {
            return Some(Path { hops, idx, field });
        }
        if field.ty != FieldType::Reference {
            return None;
        }
        table = schemas().table(field.reference?)?;
        hops.push(idx);
    }
}

impl Db {
    /// Follows a path's references from a record; `None` when a reference is empty or dangling.
    pub(crate) fn walk<'a>(&'a self, rec: &'a Record, path: &Path) -> Option<&'a Record> {
        let mut cur = rec;
        for &hop in &path.hops {
            cur = self.lookup(cur.value_at(hop))?;
        }
        Some(cur)
    }

    /// The stored value at a path, `""` when unreachable.
    pub(crate) fn path_value<'a>(&'a self, rec: &'a Record, path: &Path) -> &'a str {
        self.walk(rec, path).map_or("", |r| r.value_at(path.idx))
    }

    /// The display value of a reference value (the referenced record's display field).
    pub(crate) fn ref_display<'a>(&'a self, sys_id: &str) -> &'a str {
        self.lookup(sys_id).map_or("", |r| self.display_value(r))
    }
}

/// How values of a field compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Num,
    DateTime,
    Date,
    Bool,
    Ref,
    Text,
}

fn kind_of(field: &FieldDef) -> Kind {
    if field.is_numeric() {
        return Kind::Num;
    }
    match field.ty {
        FieldType::DateTime => Kind::DateTime,
        FieldType::Date => Kind::Date,
        FieldType::Boolean => Kind::Bool,
        FieldType::Reference => Kind::Ref,
        _ => Kind::Text,
    }
}

#[derive(Debug)]
enum Rhs {
    None,
    One(String),
    /// Lower-cased needle for LIKE / STARTSWITH / ENDSWITH.
    Needle(String),
    List(Vec<String>),
    Range(String, String),
    Field(Path, bool),
    Table(Option<TableId>),
}

#[derive(Debug)]
struct CTerm {
    path: Path,
    kind: Kind,
    op: Operator,
    rhs: Rhs,
}

#[derive(Debug)]
struct COrder {
    path: Path,
    kind: Kind,
    descending: bool,
}

/// A query compiled against one table.
#[derive(Debug)]
pub(crate) struct Plan {
    /// OR of groups; each group an AND of clauses; each clause an OR of terms. Empty: all match.
    groups: Vec<Vec<Vec<CTerm>>>,
    order: Vec<COrder>,
}

impl Plan {
    /// Resolves fields and evaluates values. Terms and ORDERBYs on unknown fields are dropped.
    pub(crate) fn compile(
        _db: &Db,
        schema: &'static TableSchema,
        query: &Query,
        ctx: &EvalCtx,
    ) -> Result<Plan, DbError> {
        let mut groups = Vec::new();
        for g in &query.groups {
            let mut clauses = Vec::new();
            for c in &g.clauses {
                let mut terms = Vec::new();
                for t in &c.terms {
                    if let Some(ct) = compile_term(schema, t, ctx)? {
                        terms.push(ct);
                    }
                }
                if !terms.is_empty() {
                    clauses.push(terms);
                }
            }
            if !clauses.is_empty() {
                groups.push(clauses);
            }
        }
        let order = query
            .order
            .iter()
            .filter_map(|o| {
                resolve_path(schema, &o.field).map(|path| COrder {
                    kind: kind_of(path.field),
                    path,
                    descending: o.descending,
                })
            })
            .collect();
        Ok(Plan { groups, order })
    }

    pub(crate) fn has_order(&self) -> bool {
        !self.order.is_empty()
    }

    /// Whether any filter term is left (a query with none matches every record).
    pub(crate) fn has_filter(&self) -> bool {
        !self.groups.is_empty()
    }

    /// Takes the `sys_id` comparisons (`=`, `>`, `>=`, `<`, `<=`) that every match must satisfy
    /// out of the filter and returns them as a range, so a keyset page (`sys_id>X^ORDERBYsys_id`)
    /// starts its walk at `X` instead of testing every record before it, and `sys_id=X` finds
    /// its record in the index. Only terms that stand alone in an AND of a single group are
    /// taken; anything under `^OR`/`^NQ` stays.
    pub(crate) fn take_sys_id_range(&mut self) -> SysIdRange {
        let mut range = SysIdRange::default();
        let [clauses] = self.groups.as_mut_slice() else {
            return range;
        };
        clauses.retain(|terms| {
            let [t] = terms.as_slice() else { return true };
            let (Rhs::One(v), true) = (&t.rhs, t.path.hops.is_empty() && t.path.idx == SYS_ID)
            else {
                return true;
            };
            let v: Box<str> = v.as_str().into();
            match t.op {
                Operator::Eq => {
                    range.raise(Bound::Included(v.clone()));
                    range.lower(Bound::Included(v));
                }
                Operator::Gt => range.raise(Bound::Excluded(v)),
                Operator::Ge => range.raise(Bound::Included(v)),
                Operator::Lt => range.lower(Bound::Excluded(v)),
                Operator::Le => range.lower(Bound::Included(v)),
                _ => return true,
            }
            false
        });
        if clauses.is_empty() {
            self.groups.clear();
        }
        range
    }

    /// Whether a lone `sys_id=X` term is ANDed with the rest of the only group: at most one
    /// record matches, whatever the order, and the sys_id index finds it without a scan (as on
    /// a real instance, where a query by sys_id costs the record, not the table).
    pub(crate) fn pins_sys_id(&self) -> bool {
        let [clauses] = self.groups.as_slice() else {
            return false;
        };
        clauses.iter().any(|terms| {
            matches!(terms.as_slice(), [t] if t.op == Operator::Eq
                && matches!(t.rhs, Rhs::One(_))
                && t.path.hops.is_empty()
                && t.path.idx == SYS_ID)
        })
    }

    /// `Some(descending)` when the first ORDERBY is the record's own sys_id.
    pub(crate) fn sys_id_order(&self) -> Option<bool> {
        self.order
            .first()
            .filter(|o| o.path.hops.is_empty() && o.path.idx == SYS_ID)
            .map(|o| o.descending)
    }

    /// Whether a record matches.
    pub(crate) fn matches(&self, db: &Db, rec: &Record) -> bool {
        self.groups.is_empty()
            || self.groups.iter().any(|clauses| {
                clauses
                    .iter()
                    .all(|terms| terms.iter().any(|t| eval_term(db, rec, t)))
            })
    }

    /// Sorts records by the ORDERBY terms (stable: ties keep their previous order), keeping only
    /// the first `keep` of them: a page needs `offset + limit` rows in order, not the whole table.
    ///
    /// Each row's keys are computed once into one flat vector; the first `keep` rows are selected
    /// in linear time and only they are sorted, so a page costs O(n + keep·log keep).
    pub(crate) fn sort_prefix<'a>(&self, db: &'a Db, rows: &mut Vec<&'a Record>, keep: usize) {
        let sorted: Vec<&'a Record> = self
            .order_indices(db, rows, keep)
            .into_iter()
            .map(|i| rows[i])
            .collect();
        *rows = sorted;
    }

    /// The positions in `rows` of the first `keep` rows in ORDERBY order (see
    /// [`Plan::sort_prefix`]).
    pub(crate) fn order_indices(&self, db: &Db, rows: &[&Record], keep: usize) -> Vec<usize> {
        let width = self.order.len();
        let mut keys: Vec<SortKey<'_>> = Vec::with_capacity(rows.len().saturating_mul(width));
        for &r in rows {
            keys.extend(self.order.iter().map(|o| sort_key(db, r, &o.path, o.kind)));
        }
        let cmp = |a: &usize, b: &usize| -> Ordering {
            for (i, o) in self.order.iter().enumerate() {
                let ord = keys[a * width + i].cmp(&keys[b * width + i]);
                let ord = if o.descending { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            // The previous position breaks ties: the order is total, and the sort stable.
            a.cmp(b)
        };
        let mut idx: Vec<usize> = (0..rows.len()).collect();
        let keep = keep.min(idx.len());
        if keep == 0 {
            return Vec::new();
        }
        if keep < idx.len() {
            idx.select_nth_unstable_by(keep - 1, cmp);
            idx.truncate(keep);
        }
        idx.sort_unstable_by(cmp);
        idx
    }
}

/// The sys_ids a query admits: the intersection of its `sys_id` comparisons.
#[derive(Debug, Clone)]
pub(crate) struct SysIdRange {
    /// The lowest admitted sys_id.
    pub(crate) start: Bound<Box<str>>,
    /// The highest admitted sys_id.
    pub(crate) end: Bound<Box<str>>,
}

impl Default for SysIdRange {
    fn default() -> Self {
        Self {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
        }
    }
}

impl SysIdRange {
    /// Narrows the start to `b` when `b` is the tighter bound.
    fn raise(&mut self, b: Bound<Box<str>>) {
        let tighter = match (&self.start, &b) {
            (Bound::Unbounded, _) => true,
            (_, Bound::Unbounded) => false,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(n)) => n > a,
            (Bound::Included(a), Bound::Excluded(n)) => n >= a,
            (Bound::Excluded(a), Bound::Excluded(n)) => n > a,
        };
        if tighter {
            self.start = b;
        }
    }

    /// Narrows the end to `b` when `b` is the tighter bound.
    fn lower(&mut self, b: Bound<Box<str>>) {
        let tighter = match (&self.end, &b) {
            (Bound::Unbounded, _) => true,
            (_, Bound::Unbounded) => false,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(n)) => n < a,
            (Bound::Included(a), Bound::Excluded(n)) => n <= a,
            (Bound::Excluded(a), Bound::Excluded(n)) => n < a,
        };
        if tighter {
            self.end = b;
        }
    }

    /// Whether no sys_id can be in the range (`BTreeMap::range` panics on such ranges).
    pub(crate) fn is_empty(&self) -> bool {
        match (&self.start, &self.end) {
            (Bound::Included(a), Bound::Included(b)) => a > b,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
            | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
            _ => false,
        }
    }

    /// The range as borrowed bounds, for `BTreeMap::range`.
    pub(crate) fn as_bounds(&self) -> (Bound<&str>, Bound<&str>) {
        fn borrow(x: &Bound<Box<str>>) -> Bound<&str> {
            x.as_ref().map(|v| &**v)
        }
        (borrow(&self.start), borrow(&self.end))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SortKey<'a> {
    Empty,
    Num(f64),
    Str(&'a str),
}

impl SortKey<'_> {
    fn rank(&self) -> u8 {
        match self {
            SortKey::Empty => 0,
            SortKey::Num(_) => 1,
            SortKey::Str(_) => 2,
        }
    }

    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortKey::Num(a), SortKey::Num(b)) => a.total_cmp(b),
            (SortKey::Str(a), SortKey::Str(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

fn sort_key<'a>(db: &'a Db, rec: &'a Record, path: &Path, kind: Kind) -> SortKey<'a> {
    let v = db.path_value(rec, path);
    if v.is_empty() {
        return SortKey::Empty;
    }
    match kind {
        Kind::Num => v.parse::<f64>().map_or(SortKey::Str(v), SortKey::Num),
        // References sort by the referenced record's display value, as in ServiceNow lists.
        Kind::Ref => match db.ref_display(v) {
            "" => SortKey::Str(v),
            d => SortKey::Str(d),
        },
        _ => SortKey::Str(v),
    }
}

fn invalid(term: &Term, reason: &str) -> DbError {
    DbError::InvalidQuery(format!(
        "{}{}{}: {reason}",
        term.field, term.operator, term.value
    ))
}

fn compile_term(
    schema: &'static TableSchema,
    term: &Term,
    ctx: &EvalCtx,
) -> Result<Option<CTerm>, DbError> {
    let Some(path) = resolve_path(schema, &term.field) else {
        return Ok(None);
    };
    let kind = kind_of(path.field);
    let value = |v: &Value| -> Result<String, DbError> {
        let raw = eval_value(v, ctx).ok_or_else(|| invalid(term, "date out of range"))?;
        Ok(normalize(kind, raw))
    };
    let ordered = |v: &Value| -> Result<String, DbError> {
        let s = value(v)?;
        match kind {
            Kind::DateTime if time_fmt::parse_datetime(&s).is_none() => {
                Err(invalid(term, "expected a date as yyyy-MM-dd HH:mm:ss"))
            }
            Kind::Date if time_fmt::parse_date(&s).is_none() => {
                Err(invalid(term, "expected a date as yyyy-MM-dd"))
            }
            _ => Ok(s),
        }
    };
    let rhs = match (&term.operand, term.operator) {
        (_, Operator::InstanceOf) => match &term.operand {
            Operand::Table(t) => Rhs::Table(schemas().table(t).map(|s| s.id)),
            _ => Rhs::Table(None),
        },
        (Operand::None, _) => Rhs::None,
        (
            Operand::Single(v),
            Operator::Like | Operator::NotLike | Operator::StartsWith | Operator::EndsWith,
        ) => Rhs::Needle(eval_value(v, ctx).unwrap_or_default().to_lowercase()),
        (Operand::Single(v), Operator::Lt | Operator::Le | Operator::Gt | Operator::Ge) => {
            Rhs::One(ordered(v)?)
        }
        (Operand::Single(v), _) => Rhs::One(value(v)?),
        (Operand::List(vs), _) => Rhs::List(vs.iter().map(value).collect::<Result<_, _>>()?),
        (Operand::Range(a, b), _) => Rhs::Range(ordered(a)?, ordered(b)?),
        (Operand::Field { field, unit }, _) => match resolve_path(schema, field) {
            Some(other) => Rhs::Field(other, unit.as_deref() == Some("day")),
            None => return Ok(None),
        },
        (Operand::Table(_), _) => Rhs::None,
    };
    Ok(Some(CTerm {
        path,
        kind,
        op: term.operator,
        rhs,
    }))
}

/// Brings a query value into the stored form of its field's kind, when it can.
fn normalize(kind: Kind, raw: String) -> String {
    match kind {
        Kind::DateTime => time_fmt::normalize_datetime(&raw).unwrap_or(raw),
        Kind::Date => time_fmt::normalize_date(&raw).unwrap_or(raw),
        Kind::Bool => match raw.to_ascii_lowercase().as_str() {
            "true" | "1" => "true".to_owned(),
            "false" | "0" => "false".to_owned(),
            _ => raw,
        },
        _ => raw,
    }
}

/// Evaluates a literal or whitelisted script; `None` when a date computation overflows.
fn eval_value(v: &Value, ctx: &EvalCtx) -> Option<String> {
    match v {
        Value::Literal(s) => Some(s.clone()),
        Value::Script(s) => eval_script(s, ctx),
    }
}

fn eval_script(s: &Script, ctx: &EvalCtx) -> Option<String> {
    const MAX_DAYS: i64 = 3_000_000;
    let now = ctx.now.to_offset(UtcOffset::UTC);
    let day_at = |days_ago: i64, t: Time| -> Option<String> {
        let d = now
            .date()
            .checked_sub(Duration::days(days_ago.clamp(-MAX_DAYS, MAX_DAYS)))?;
        Some(time_fmt::format_primitive(PrimitiveDateTime::new(d, t)))
    };
    let ago = |d: Duration| -> Option<String> { now.checked_sub(d).map(time_fmt::format_datetime) };
    let end = Time::from_hms(23, 59, 59).ok()?;
    let clamp = |n: i64, per_day: i64| n.clamp(-MAX_DAYS * per_day, MAX_DAYS * per_day);
    match s {
        Script::GetUserId => Some(ctx.user_sys_id.clone()),
        Script::DaysAgoStart(n) => day_at(*n, Time::MIDNIGHT),
        Script::DaysAgoEnd(n) => day_at(*n, end),
        Script::BeginningOfToday => day_at(0, Time::MIDNIGHT),
        Script::EndOfToday => day_at(0, end),
        Script::BeginningOfYesterday => day_at(1, Time::MIDNIGHT),
        Script::EndOfYesterday => day_at(1, end),
        Script::DaysAgo(n) => ago(Duration::days(clamp(*n, 1))),
        Script::HoursAgo(n) => ago(Duration::hours(clamp(*n, 24))),
        Script::MinutesAgo(n) => ago(Duration::minutes(clamp(*n, 1440))),
        Script::DateGenerate(s) => Some(s.clone()),
        Script::Now => Some(time_fmt::format_datetime(now)),
    }
}

fn eq(db: &Db, kind: Kind, v: &str, rhs: &str) -> bool {
    match kind {
        Kind::Num => match (v.parse::<f64>(), rhs.parse::<f64>()) {
            (Ok(a), Ok(b)) => a == b,
            _ => v == rhs,
        },
        Kind::Ref => v == rhs || (!is_sys_id(rhs) && !v.is_empty() && db.ref_display(v) == rhs),
        _ => v == rhs,
    }
}

fn cmp(kind: Kind, v: &str, rhs: &str) -> Option<Ordering> {
    if v.is_empty() {
        return None;
    }
    match kind {
        Kind::Num => match (v.parse::<f64>(), rhs.parse::<f64>()) {
            (Ok(a), Ok(b)) => a.partial_cmp(&b),
            (Err(_), Ok(_)) => None,
            _ => Some(v.cmp(rhs)),
        },
        _ => Some(v.cmp(rhs)),
    }
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return true;
    }
    if hay.is_ascii() && needle.is_ascii() {
        return h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    hay.to_lowercase().contains(needle)
}

fn starts_ci(hay: &str, needle: &str) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        return hay.len() >= needle.len()
            && hay.as_bytes()[..needle.len()].eq_ignore_ascii_case(needle.as_bytes());
    }
    hay.to_lowercase().starts_with(needle)
}

fn ends_ci(hay: &str, needle: &str) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        return hay.len() >= needle.len()
            && hay.as_bytes()[hay.len() - needle.len()..].eq_ignore_ascii_case(needle.as_bytes());
    }
    hay.to_lowercase().ends_with(needle)
}

fn eval_term(db: &Db, rec: &Record, t: &CTerm) -> bool {
    match (&t.rhs, t.op) {
        (_, Operator::Anything) => return true,
        (Rhs::Table(target), Operator::InstanceOf) => {
            return target.is_some_and(|id| schemas().is_a(rec.table_id(), id));
        }
        _ => {}
    }
    let v = db.path_value(rec, &t.path);
    // Text operators on references look at the referenced record's display value.
    let text = || {
        if t.kind == Kind::Ref {
            db.ref_display(v)
        } else {
            v
        }
    };
    match (&t.rhs, t.op) {
        (_, Operator::IsEmpty | Operator::EmptyString) => v.is_empty(),
        (_, Operator::IsNotEmpty) => !v.is_empty(),
        (Rhs::One(r), Operator::Eq) => eq(db, t.kind, v, r),
        (Rhs::One(r), Operator::Ne) => !eq(db, t.kind, v, r),
        (Rhs::One(r), Operator::Lt) => cmp(t.kind, v, r) == Some(Ordering::Less),
        (Rhs::One(r), Operator::Le) => {
            matches!(cmp(t.kind, v, r), Some(Ordering::Less | Ordering::Equal))
        }
        (Rhs::One(r), Operator::Gt) => cmp(t.kind, v, r) == Some(Ordering::Greater),
        (Rhs::One(r), Operator::Ge) => {
            matches!(cmp(t.kind, v, r), Some(Ordering::Greater | Ordering::Equal))
        }
        (Rhs::Needle(n), Operator::Like) => contains_ci(text(), n),
        (Rhs::Needle(n), Operator::NotLike) => !contains_ci(text(), n),
        (Rhs::Needle(n), Operator::StartsWith) => starts_ci(text(), n),
        (Rhs::Needle(n), Operator::EndsWith) => ends_ci(text(), n),
        (Rhs::List(l), Operator::In) => l.iter().any(|r| eq(db, t.kind, v, r)),
        (Rhs::List(l), Operator::NotIn) => !l.iter().any(|r| eq(db, t.kind, v, r)),
        (Rhs::Range(lo, hi), Operator::Between | Operator::On) => in_range(t.kind, v, lo, hi),
        (Rhs::Range(lo, hi), Operator::NotOn) => !in_range(t.kind, v, lo, hi),
        (Rhs::Field(other, by_day), op) => {
            let w = db.path_value(rec, other);
            let (a, b) = if *by_day && v.len() >= 10 && w.len() >= 10 {
                (v.get(..10).unwrap_or(v), w.get(..10).unwrap_or(w))
            } else {
                (v, w)
            };
            match op {
                // Like SQL, two empty values are not "the same".
                Operator::SameAs => !a.is_empty() && a == b,
                Operator::NSameAs => a.is_empty() || a != b,
                Operator::GtField => !b.is_empty() && cmp(t.kind, a, b) == Some(Ordering::Greater),
                Operator::LtField => !b.is_empty() && cmp(t.kind, a, b) == Some(Ordering::Less),
                Operator::GeField => {
                    !b.is_empty()
                        && matches!(cmp(t.kind, a, b), Some(Ordering::Greater | Ordering::Equal))
                }
                Operator::LeField => {
                    !b.is_empty()
                        && matches!(cmp(t.kind, a, b), Some(Ordering::Less | Ordering::Equal))
                }
                _ => false,
            }
        }
        _ => false,
    }
}

fn in_range(kind: Kind, v: &str, lo: &str, hi: &str) -> bool {
    matches!(cmp(kind, v, lo), Some(Ordering::Greater | Ordering::Equal))
        && matches!(cmp(kind, v, hi), Some(Ordering::Less | Ordering::Equal))
}
