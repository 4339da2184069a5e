//! The validated structure of an encoded query, and how it is written out.

use std::fmt::{self, Write as _};

use super::QueryError;
use super::check;
pub use super::operator::Operator;
pub(crate) use super::operator::Shape;

/// A validated field name or dot-walk path, such as `priority` or `caller_id.email`.
///
/// Lowercase ASCII letters, digits and `_`, in non-empty parts separated by dots.
///
/// ```
/// use snow_client::query::FieldName;
/// assert!(FieldName::new("caller_id.email").is_ok());
/// assert!(FieldName::new("caller_id..email").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldName(String);

impl FieldName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self, QueryError> {
        check::check_field(name)?;
        Ok(Self(name.to_owned()))
    }

    /// The name as written in the query.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for FieldName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// One value in a term: plain text, or a server-side script sent on purpose.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scalar {
    /// Plain text, compared literally (`^` is escaped when written).
    Text(String),
    /// A script expression, written as `javascript:<expr>` and evaluated by the instance.
    Script(String),
}

impl Scalar {
    pub(crate) fn write(&self, out: &mut String) {
        match self {
            Scalar::Text(t) => push_escaped(out, t),
            Scalar::Script(s) => {
                out.push_str("javascript:");
                push_escaped(out, s);
            }
        }
    }

    /// The text of the value as it appears in the query (before `^` escaping).
    pub fn to_query_text(&self) -> String {
        match self {
            Scalar::Text(t) => t.clone(),
            Scalar::Script(s) => format!("javascript:{s}"),
        }
    }

    /// Validates this scalar as a standalone value.
    pub(crate) fn check(&self) -> Result<(), QueryError> {
        match self {
            Scalar::Text(t) => check::check_text(t),
            Scalar::Script(s) => check::check_chars(s),
        }
    }

    /// Validates this scalar as one bound of an `@`-separated operand.
    pub(crate) fn check_bound(&self) -> Result<(), QueryError> {
        self.check()?;
        match self {
            Scalar::Text(t) => check::check_bound(t),
            Scalar::Script(s) => check::check_bound(s),
        }
    }
}

/// The unit of a relative date (`RELATIVEGT@<unit>@ago@<n>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeUnit {
    /// `minute`
    Minute,
    /// `hour`
    Hour,
    /// `dayofweek` (days)
    Day,
    /// `week`
    Week,
    /// `month`
    Month,
    /// `quarter`
    Quarter,
    /// `year`
    Year,
}

impl TimeUnit {
    const ALL: [TimeUnit; 7] = [
        TimeUnit::Minute,
        TimeUnit::Hour,
        TimeUnit::Day,
        TimeUnit::Week,
        TimeUnit::Month,
        TimeUnit::Quarter,
        TimeUnit::Year,
    ];

    /// The unit as written in the query.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "dayofweek",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
            TimeUnit::Quarter => "quarter",
            TimeUnit::Year => "year",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.as_str() == s)
    }
}

/// A moment relative to now: `n` units ago or ahead.
///
/// ```
/// use snow_client::query::{field, Relative, TimeUnit};
/// let q = field("sys_updated_on").relative_gt(Relative::ago(3, TimeUnit::Hour)).build()?;
/// assert_eq!(q.to_string(), "sys_updated_onRELATIVEGT@hour@ago@3");
/// # Ok::<(), snow_client::query::QueryError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Relative {
    /// The unit.
    pub unit: TimeUnit,
    /// `true` for `ahead` (in the future), `false` for `ago`.
    pub ahead: bool,
    /// How many units.
    pub amount: u32,
}

impl Relative {
    /// `amount` units in the past.
    pub fn ago(amount: u32, unit: TimeUnit) -> Self {
        Self {
            unit,
            ahead: false,
            amount,
        }
    }

    /// `amount` units in the future.
    pub fn ahead(amount: u32, unit: TimeUnit) -> Self {
        Self {
            unit,
            ahead: true,
            amount,
        }
    }
}

/// A named date range for `ON` / `NOTON`: `label@start@end`. The label is informational; the
/// instance evaluates the two bounds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DateRange {
    pub(crate) label: String,
    pub(crate) start: Scalar,
    pub(crate) end: Scalar,
}

impl DateRange {
    /// The label (for example `Today`).
    pub fn label(&self) -> &str {
        &self.label
    }
    /// The start bound.
    pub fn start(&self) -> &Scalar {
        &self.start
    }
    /// The end bound.
    pub fn end(&self) -> &Scalar {
        &self.end
    }
}

/// The operand of a term, shaped by its operator.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operand {
    /// No operand (`ISEMPTY`, `ISNOTEMPTY`, `EMPTYSTRING`, `ANYTHING`).
    None,
    /// One value.
    Scalar(Scalar),
    /// An `IN` / `NOT IN` list.
    List(Vec<String>),
    /// The two inclusive bounds of `BETWEEN`.
    Between(Scalar, Scalar),
    /// Another field (`SAMEAS`, `GT_FIELD`, ...) or a class name (`INSTANCEOF`).
    Field(FieldName),
    /// The sys_id of a dynamic filter option (`DYNAMIC`).
    SysId(String),
    /// A relative date (`RELATIVEGT` ...).
    Relative(Relative),
    /// A date range (`ON` / `NOTON`).
    Range(DateRange),
}

/// One condition: field, operator, operand. Built through [`field`](super::field) or parsed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Term {
    pub(crate) field: FieldName,
    pub(crate) operator: Operator,
    pub(crate) operand: Operand,
}

impl Term {
    /// The field compared.
    pub fn field(&self) -> &FieldName {
        &self.field
    }
    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }
    /// The operand.
    pub fn operand(&self) -> &Operand {
        &self.operand
    }

    /// Builds a term, checking every rule that keeps the operand from changing the query's shape.
    pub(crate) fn new(
        field: FieldName,
        operator: Operator,
        operand: Operand,
    ) -> Result<Self, QueryError> {
        match (&operand, operator.shape()) {
            (Operand::None, Shape::Nothing) => {}
            (Operand::Scalar(s), Shape::Scalar) => s.check()?,
            (Operand::List(items), Shape::List) => {
                if items.is_empty() {
                    return Err(QueryError::EmptyList {
                        field: field.0.clone(),
                        operator: operator.as_str(),
                    });
                }
                for item in items {
                    check::check_text(item)?;
                    check::check_list_item(item)?;
                }
            }
            (Operand::Between(a, b), Shape::Between) => {
                a.check_bound()?;
                b.check_bound()?;
            }
            (Operand::Field(_), Shape::Field | Shape::Table) => {}
            (Operand::SysId(id), Shape::SysId) => {
                if !check::is_sys_id(id) {
                    return Err(check::invalid_value(
                        id,
                        "a dynamic filter option is named by its sys_id (32 hexadecimal digits)",
                    ));
                }
            }
            (Operand::Relative(_), Shape::Relative) => {}
            (Operand::Range(r), Shape::Range) => {
                check::check_chars(&r.label)?;
                check::check_bound(&r.label)?;
                if r.label.is_empty() {
                    return Err(check::invalid_value(
                        &r.label,
                        "an ON range needs a non-empty label",
                    ));
                }
                r.start.check_bound()?;
                r.end.check_bound()?;
            }
            _ => {
                return Err(QueryError::Parse {
                    term: format!("{field}{operator}"),
                    reason: "the operand does not fit the operator".into(),
                });
            }
        }
        let term = Self {
            field,
            operator,
            operand,
        };
        // The operand must not turn the operator into a longer one (`<` + `=5` reads as `<=5`).
        let mut text = String::new();
        term.write_operand(&mut text);
        let joined = format!("{}{}", operator.as_str(), text);
        if Operator::match_prefix(&joined) != Some(operator) {
            return Err(check::invalid_value(
                &term.operand_text(),
                "right after the operator it would read as a different operator",
            ));
        }
        Ok(term)
    }

    fn operand_text(&self) -> String {
        let mut s = String::new();
        self.write_operand(&mut s);
        s
    }

    fn write_operand(&self, out: &mut String) {
        match &self.operand {
            Operand::None => {}
            Operand::Scalar(s) => s.write(out),
            Operand::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_escaped(out, item);
                }
            }
            Operand::Between(a, b) => {
                a.write(out);
                out.push('@');
                b.write(out);
            }
            Operand::Field(f) => out.push_str(f.as_str()),
            Operand::SysId(id) => out.push_str(id),
            Operand::Relative(r) => {
                let dir = if r.ahead { "ahead" } else { "ago" };
                let _ = write!(out, "@{}@{dir}@{}", r.unit.as_str(), r.amount);
            }
            Operand::Range(r) => {
                push_escaped(out, &r.label);
                out.push('@');
                r.start.write(out);
                out.push('@');
                r.end.write(out);
            }
        }
    }

    pub(crate) fn write(&self, out: &mut String) {
        out.push_str(self.field.as_str());
        out.push_str(self.operator.as_str());
        self.write_operand(out);
    }
}

/// Writes `s` with every `^` doubled (`^^`), ServiceNow's escape for a caret inside a value.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        if c == '^' {
            out.push_str("^^");
        } else {
            out.push(c);
        }
    }
}

/// Terms joined by `^OR`: true when any of them is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Clause(pub(crate) Vec<Term>);

impl Clause {
    /// The alternatives (never empty).
    pub fn terms(&self) -> &[Term] {
        &self.0
    }
}

/// Clauses joined by `^`: true when all of them are.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Group(pub(crate) Vec<Clause>);

impl Group {
    /// The clauses (never empty).
    pub fn clauses(&self) -> &[Clause] {
        &self.0
    }
}

/// One `ORDERBY` / `ORDERBYDESC` term.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Order {
    /// The field sorted on.
    pub field: FieldName,
    /// `true` for `ORDERBYDESC`.
    pub descending: bool,
}

/// A validated encoded query: groups joined by `^NQ` (any group matches), then the sort order.
///
/// Build one with [`field`](super::field) and the `&` / `|` combinators, or parse one with
/// [`Query::parse`]. [`Display`](fmt::Display) and [`to_encoded`](Query::to_encoded) give the
/// string for `sysparm_query`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Query {
    pub(crate) groups: Vec<Group>,
    pub(crate) orders: Vec<Order>,
    pub(crate) raw: Option<String>,
}

impl Query {
    /// An empty query (matches everything).
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes an encoded query string as is, without any check or escaping.
    ///
    /// This is the escape hatch for constructs the builder does not model (`RLQUERY`, `JOIN`,
    /// text search, `DATEPART`, ...). Whatever the string contains is sent: never build it from
    /// untrusted input.
    pub fn raw_unchecked(encoded: impl Into<String>) -> Self {
        Self {
            groups: Vec::new(),
            orders: Vec::new(),
            raw: Some(encoded.into()),
        }
    }

    /// The encoded string of a query made with [`raw_unchecked`](Self::raw_unchecked).
    pub fn raw_str(&self) -> Option<&str> {
        self.raw.as_deref()
    }

    /// Whether this query came from [`raw_unchecked`](Self::raw_unchecked).
    pub fn is_raw(&self) -> bool {
        self.raw.is_some()
    }

    /// The condition groups, joined by `^NQ` (empty for a raw query).
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The sort order, first key first (empty for a raw query).
    pub fn orders(&self) -> &[Order] {
        &self.orders
    }

    /// Whether the query has no condition and no order.
    pub fn is_empty(&self) -> bool {
        match &self.raw {
            Some(r) => r.is_empty(),
            None => self.groups.is_empty() && self.orders.is_empty(),
        }
    }

    /// Whether the query sorts its results (for a raw query: whether it contains `ORDERBY`).
    pub fn has_order(&self) -> bool {
        match &self.raw {
            Some(r) => r.contains("ORDERBY"),
            None => !self.orders.is_empty(),
        }
    }

    /// Adds a sort key after the existing ones.
    pub fn order_by(mut self, field: FieldName, descending: bool) -> Self {
        match &mut self.raw {
            Some(r) => {
                if !r.is_empty() {
                    r.push('^');
                }
                r.push_str(if descending { "ORDERBYDESC" } else { "ORDERBY" });
                r.push_str(field.as_str());
            }
            None => self.orders.push(Order { field, descending }),
        }
        self
    }

    /// Adds `term` to every group (so it holds whichever group matches); on an empty query the
    /// term becomes the only group. Used for keyset paging (`sys_id>last`).
    ///
    /// A raw query cannot be combined this way, since its structure is unknown.
    pub fn and_term(mut self, term: Term) -> Result<Self, QueryError> {
        if self.raw.is_some() {
            return Err(QueryError::Raw);
        }
        if self.groups.is_empty() {
            self.groups.push(Group(vec![Clause(vec![term])]));
        } else {
            for g in &mut self.groups {
                g.0.push(Clause(vec![term.clone()]));
            }
        }
        Ok(self)
    }

    /// The encoded query string for `sysparm_query`.
    pub fn to_encoded(&self) -> String {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        let mut out = String::new();
        for (gi, group) in self.groups.iter().enumerate() {
            if gi > 0 {
                out.push_str("^NQ");
            }
            for (ci, clause) in group.0.iter().enumerate() {
                if ci > 0 {
                    out.push('^');
                }
                for (ti, term) in clause.0.iter().enumerate() {
                    if ti > 0 {
                        out.push_str("^OR");
                    }
                    term.write(&mut out);
                }
            }
        }
        for order in &self.orders {
            if !out.is_empty() {
                out.push('^');
            }
            out.push_str(if order.descending {
                "ORDERBYDESC"
            } else {
                "ORDERBY"
            });
            out.push_str(order.field.as_str());
        }
        out
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_encoded())
    }
}
