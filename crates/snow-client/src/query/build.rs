//! The builder: `field(..)` conditions combined with `&` and `|`.

use std::ops::{BitAnd, BitOr};

use time::Date;

use super::QueryError;
use super::ast::{
    Clause, DateRange, FieldName, Group, Operand, Operator, Order, Query, Relative, Scalar, Term,
};
use super::check;
use super::value::Value;

/// Starts a condition on `name` (a column or a dot-walk path such as `caller_id.email`).
///
/// The name is checked when the query is built.
pub fn field(name: impl AsRef<str>) -> Field {
    Field(FieldName::new(name.as_ref()))
}

/// A field about to be compared; every method gives a [`Condition`].
#[derive(Clone, Debug)]
#[must_use = "a field does nothing until compared"]
pub struct Field(Result<FieldName, QueryError>);

impl Field {
    fn term(self, operator: Operator, operand: Result<Operand, QueryError>) -> Condition {
        Condition(self.0.and_then(|f| Term::new(f, operator, operand?)))
    }

    fn scalar(self, operator: Operator, value: Value) -> Condition {
        self.term(operator, value.0.map(Operand::Scalar))
    }

    fn other_field(self, operator: Operator, other: &str) -> Condition {
        self.term(operator, FieldName::new(other).map(Operand::Field))
    }

    /// `field=value`
    pub fn eq(self, value: impl Into<Value>) -> Condition {
        self.scalar(Operator::Eq, value.into())
    }
    /// `field!=value`
    pub fn ne(self, value: impl Into<Value>) -> Condition {
        self.scalar(Operator::Ne, value.into())
    }
    /// `field<value`
    pub fn lt(self, value: impl Into<Value>) -> Condition {
        self.scalar(Operator::Lt, value.into())
    }
    /// `field<=value`
    pub fn le(self, value: impl Into<Value>) -> Condition {
        self.scalar(Operator::Le, value.into())
    }
    /// `field>value`
    pub fn gt(self, value: impl Into<Value>) -> Condition {
        self.scalar(Operator::Gt, value.into())
    }
    /// `field>=value`
    pub fn ge(self, value: impl Into<Value>) -> Condition {
        self.scalar(Operator::Ge, value.into())
    }
    /// `fieldLIKEvalue`: the field contains `value`.
    pub fn contains(self, value: impl Into<Value>) -> Condition {
        self.scalar(Operator::Like, value.into())
    }
    /// `fieldNOT LIKEvalue`: the field does not contain `value`.
    pub fn not_contains(self, value: impl Into<Value>) -> Condition {
        self.scalar(Operator::NotLike, value.into())
    }
    /// `fieldSTARTSWITHvalue`
    pub fn starts_with(self, value: impl Into<Value>) -> Condition {
        self.scalar(Operator::StartsWith, value.into())
    }
    /// `fieldENDSWITHvalue`
    pub fn ends_with(self, value: impl Into<Value>) -> Condition {
        self.scalar(Operator::EndsWith, value.into())
    }

    fn list<I, V>(self, operator: Operator, values: I) -> Condition
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        let items = values
            .into_iter()
            .map(|v| match v.into().0? {
                Scalar::Text(t) => Ok(t),
                Scalar::Script(s) => Err(check::invalid_value(
                    &format!("javascript:{s}"),
                    "a script cannot be an item of an IN list",
                )),
            })
            .collect::<Result<Vec<_>, _>>();
        self.term(operator, items.map(Operand::List))
    }

    /// `fieldINa,b,c`: the field is one of `values` (at least one; no commas inside an item).
    pub fn is_in<I, V>(self, values: I) -> Condition
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        self.list(Operator::In, values)
    }
    /// `fieldNOT INa,b,c`
    pub fn not_in<I, V>(self, values: I) -> Condition
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        self.list(Operator::NotIn, values)
    }
    /// `fieldISEMPTY`
    pub fn is_empty(self) -> Condition {
        self.term(Operator::IsEmpty, Ok(Operand::None))
    }
    /// `fieldISNOTEMPTY`
    pub fn is_not_empty(self) -> Condition {
        self.term(Operator::IsNotEmpty, Ok(Operand::None))
    }
    /// `fieldEMPTYSTRING`
    pub fn is_empty_string(self) -> Condition {
        self.term(Operator::EmptyString, Ok(Operand::None))
    }
    /// `fieldANYTHING`: matches every record, empty values included.
    pub fn is_anything(self) -> Condition {
        self.term(Operator::Anything, Ok(Operand::None))
    }
    /// `fieldBETWEENlow@high` (inclusive; no `@` inside a bound).
    pub fn between(self, low: impl Into<Value>, high: impl Into<Value>) -> Condition {
        let operand = low
            .into()
            .0
            .and_then(|a| Ok(Operand::Between(a, high.into().0?)));
        self.term(Operator::Between, operand)
    }
    /// `fieldSAMEASother`: equal to another field of the same record.
    pub fn same_as(self, other: impl AsRef<str>) -> Condition {
        self.other_field(Operator::SameAs, other.as_ref())
    }
    /// `fieldNSAMEASother`
    pub fn not_same_as(self, other: impl AsRef<str>) -> Condition {
        self.other_field(Operator::NotSameAs, other.as_ref())
    }
    /// `fieldGT_FIELDother`
    pub fn gt_field(self, other: impl AsRef<str>) -> Condition {
        self.other_field(Operator::GtField, other.as_ref())
    }
    /// `fieldLT_FIELDother`
    pub fn lt_field(self, other: impl AsRef<str>) -> Condition {
        self.other_field(Operator::LtField, other.as_ref())
    }
    /// `fieldGT_OR_EQUALS_FIELDother`
    pub fn ge_field(self, other: impl AsRef<str>) -> Condition {
        self.other_field(Operator::GeField, other.as_ref())
    }
    /// `fieldLT_OR_EQUALS_FIELDother`
    pub fn le_field(self, other: impl AsRef<str>) -> Condition {
        self.other_field(Operator::LeField, other.as_ref())
    }
    /// `fieldDYNAMIC<sys_id>`: a dynamic filter option such as "Me", by its sys_id.
    pub fn dynamic(self, option_sys_id: impl AsRef<str>) -> Condition {
        let id = option_sys_id.as_ref().to_owned();
        self.term(Operator::Dynamic, Ok(Operand::SysId(id)))
    }
    /// `fieldRELATIVEGT@unit@ago|ahead@n`: after the relative moment.
    pub fn relative_gt(self, at: Relative) -> Condition {
        self.term(Operator::RelativeGt, Ok(Operand::Relative(at)))
    }
    /// `fieldRELATIVELT@...`: before the relative moment.
    pub fn relative_lt(self, at: Relative) -> Condition {
        self.term(Operator::RelativeLt, Ok(Operand::Relative(at)))
    }
    /// `fieldRELATIVEGE@...`: at or after the relative moment.
    pub fn relative_ge(self, at: Relative) -> Condition {
        self.term(Operator::RelativeGe, Ok(Operand::Relative(at)))
    }
    /// `fieldRELATIVELE@...`: at or before the relative moment.
    pub fn relative_le(self, at: Relative) -> Condition {
        self.term(Operator::RelativeLe, Ok(Operand::Relative(at)))
    }
    /// `fieldRELATIVEEE@...`: on the relative moment.
    pub fn relative_ee(self, at: Relative) -> Condition {
        self.term(Operator::RelativeEe, Ok(Operand::Relative(at)))
    }
    /// `fieldON<label>@<start>@<end>`: within a date range, for example
    /// `field("opened_at").on(DatePreset::Today)` or `.on(DateRange::day(date))`.
    pub fn on(self, range: impl Into<RangeValue>) -> Condition {
        self.term(Operator::On, range.into().0.map(Operand::Range))
    }
    /// `fieldNOTON<label>@<start>@<end>`: outside a date range.
    pub fn not_on(self, range: impl Into<RangeValue>) -> Condition {
        self.term(Operator::NotOn, range.into().0.map(Operand::Range))
    }
    /// `fieldINSTANCEOFtable`: the record's class is `table` or extends it (on `sys_class_name`).
    pub fn instance_of(self, table: impl AsRef<str>) -> Condition {
        let t = table.as_ref();
        let operand = if t.contains('.') {
            Err(QueryError::InvalidField {
                name: check::quote(t),
                reason: "a table name has no dots",
            })
        } else {
            FieldName::new(t).map(Operand::Field)
        };
        self.term(Operator::InstanceOf, operand)
    }
}

/// A date range for [`Field::on`], possibly invalid until the query is built.
#[derive(Clone, Debug)]
pub struct RangeValue(Result<DateRange, QueryError>);

impl From<DateRange> for RangeValue {
    fn from(r: DateRange) -> Self {
        Self(Ok(r))
    }
}

impl From<DatePreset> for RangeValue {
    fn from(p: DatePreset) -> Self {
        Self(Ok(p.range()))
    }
}

impl DateRange {
    /// One calendar day in the user's time zone: label `yyyy-MM-dd`, bounds
    /// `gs.dateGenerate('yyyy-MM-dd','start')` / `'end'`.
    pub fn day(date: Date) -> RangeValue {
        RangeValue(super::value::fmt_date(date).map(|d| DateRange {
            start: Scalar::Script(format!("gs.dateGenerate('{d}','start')")),
            end: Scalar::Script(format!("gs.dateGenerate('{d}','end')")),
            label: d,
        }))
    }

    /// Any range: a label (informational) and two bounds, typically
    /// [`Value::javascript`] expressions.
    pub fn custom(label: impl Into<String>, start: Value, end: Value) -> RangeValue {
        let label = label.into();
        RangeValue(start.0.and_then(|s| {
            Ok(DateRange {
                label,
                start: s,
                end: end.0?,
            })
        }))
    }
}

/// The date ranges of the ServiceNow filter UI, written with `gs.*` bounds evaluated in the
/// user's time zone (for example `ONToday@javascript:gs.beginningOfToday()@javascript:gs.endOfToday()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DatePreset {
    /// Today.
    Today,
    /// Yesterday.
    Yesterday,
    /// Tomorrow.
    Tomorrow,
    /// This week.
    ThisWeek,
    /// Last week.
    LastWeek,
    /// Next week.
    NextWeek,
    /// This month.
    ThisMonth,
    /// Last month.
    LastMonth,
    /// Next month.
    NextMonth,
    /// This quarter.
    ThisQuarter,
    /// Last quarter.
    LastQuarter,
    /// Next quarter.
    NextQuarter,
    /// This year.
    ThisYear,
    /// Last year.
    LastYear,
    /// Next year.
    NextYear,
    /// The last 7 days, today included.
    Last7Days,
    /// The last 30 days, today included.
    Last30Days,
    /// The last 90 days, today included.
    Last90Days,
    /// The last 15 minutes.
    Last15Minutes,
    /// The last 30 minutes.
    Last30Minutes,
    /// The current hour.
    CurrentHour,
    /// The last hour.
    LastHour,
}

impl DatePreset {
    /// The range: label and `gs.*` bounds.
    pub fn range(self) -> DateRange {
        use DatePreset::*;
        let pair = |label: &str, what: &str| DateRange {
            label: label.to_owned(),
            start: Scalar::Script(format!("gs.beginningOf{what}()")),
            end: Scalar::Script(format!("gs.endOf{what}()")),
        };
        let ago = |label: &str, unit: &str, n: u32| DateRange {
            label: label.to_owned(),
            start: Scalar::Script(format!("gs.{unit}AgoStart({n})")),
            end: Scalar::Script(format!("gs.{unit}AgoEnd(0)")),
        };
        match self {
            Today => pair("Today", "Today"),
            Yesterday => pair("Yesterday", "Yesterday"),
            Tomorrow => pair("Tomorrow", "Tomorrow"),
            ThisWeek => pair("This week", "ThisWeek"),
            LastWeek => pair("Last week", "LastWeek"),
            NextWeek => pair("Next week", "NextWeek"),
            ThisMonth => pair("This month", "ThisMonth"),
            LastMonth => pair("Last month", "LastMonth"),
            NextMonth => pair("Next month", "NextMonth"),
            ThisQuarter => pair("This quarter", "ThisQuarter"),
            LastQuarter => pair("Last quarter", "LastQuarter"),
            NextQuarter => pair("Next quarter", "NextQuarter"),
            ThisYear => pair("This year", "ThisYear"),
            LastYear => pair("Last year", "LastYear"),
            NextYear => pair("Next year", "NextYear"),
            Last7Days => ago("Last 7 days", "days", 7),
            Last30Days => ago("Last 30 days", "days", 30),
            Last90Days => ago("Last 90 days", "days", 90),
            Last15Minutes => ago("Last 15 minutes", "minutes", 15),
            Last30Minutes => ago("Last 30 minutes", "minutes", 30),
            CurrentHour => ago("Current hour", "hours", 0),
            LastHour => ago("Last hour", "hours", 1),
        }
    }
}

/// One condition (a term), or the error that makes it invalid. Combine with `&` and `|`.
#[derive(Clone, Debug)]
#[must_use = "a condition does nothing until built into a query"]
pub struct Condition(pub(crate) Result<Term, QueryError>);

/// Conditions joined by `^OR` (any of them): `a | b`.
#[derive(Clone, Debug)]
#[must_use = "a condition does nothing until built into a query"]
pub struct AnyOf(pub(crate) Result<Clause, QueryError>);

/// Clauses joined by `^` (all of them): `a & b`, `a & (b | c)`.
#[derive(Clone, Debug)]
#[must_use = "a condition does nothing until built into a query"]
pub struct AllOf(pub(crate) Result<Group, QueryError>);

/// Groups joined by `^NQ` (any group): `a & b | c` is `(a AND b) OR c`.
///
/// Rust's precedence (`&` before `|`) matches ServiceNow's meaning exactly; an expression that
/// ServiceNow cannot express without rewriting (such as `(a & b | c) & d`) does not compile.
#[derive(Clone, Debug)]
#[must_use = "a condition does nothing until built into a query"]
pub struct Filter(pub(crate) Result<Vec<Group>, QueryError>);

impl Condition {
    /// The validated term.
    pub fn into_term(self) -> Result<Term, QueryError> {
        self.0
    }
}

impl From<Condition> for AnyOf {
    fn from(c: Condition) -> Self {
        AnyOf(c.0.map(|t| Clause(vec![t])))
    }
}
impl From<Condition> for AllOf {
    fn from(c: Condition) -> Self {
        AllOf::from(AnyOf::from(c))
    }
}
impl From<AnyOf> for AllOf {
    fn from(c: AnyOf) -> Self {
        AllOf(c.0.map(|c| Group(vec![c])))
    }
}
impl From<Condition> for Filter {
    fn from(c: Condition) -> Self {
        Filter::from(AllOf::from(c))
    }
}
impl From<AnyOf> for Filter {
    fn from(c: AnyOf) -> Self {
        Filter::from(AllOf::from(c))
    }
}
impl From<AllOf> for Filter {
    fn from(g: AllOf) -> Self {
        Filter(g.0.map(|g| vec![g]))
    }
}

fn join<T>(
    a: Result<Vec<T>, QueryError>,
    b: Result<Vec<T>, QueryError>,
) -> Result<Vec<T>, QueryError> {
    let mut a = a?;
    a.extend(b?);
    Ok(a)
}

fn any_of(a: AnyOf, b: AnyOf) -> AnyOf {
    AnyOf(join(a.0.map(|c| c.0), b.0.map(|c| c.0)).map(Clause))
}
fn all_of(a: AllOf, b: AllOf) -> AllOf {
    AllOf(join(a.0.map(|g| g.0), b.0.map(|g| g.0)).map(Group))
}
fn filter(a: Filter, b: Filter) -> Filter {
    Filter(join(a.0, b.0))
}

macro_rules! ops {
    ($op:ident, $method:ident, $out:ident, $f:ident: $( ($l:ty, $r:ty) ),* ) => {$(
        impl $op<$r> for $l {
            type Output = $out;
            fn $method(self, rhs: $r) -> $out {
                $f($out::from(self), $out::from(rhs))
            }
        }
    )*};
}

ops!(BitOr, bitor, AnyOf, any_of:
    (Condition, Condition), (Condition, AnyOf), (AnyOf, Condition), (AnyOf, AnyOf));
ops!(BitAnd, bitand, AllOf, all_of:
    (Condition, Condition), (Condition, AnyOf), (Condition, AllOf),
    (AnyOf, Condition), (AnyOf, AnyOf), (AnyOf, AllOf),
    (AllOf, Condition), (AllOf, AnyOf), (AllOf, AllOf));
ops!(BitOr, bitor, Filter, filter:
    (AllOf, Condition), (AllOf, AnyOf), (AllOf, AllOf), (AllOf, Filter),
    (Condition, AllOf), (AnyOf, AllOf), (Condition, Filter), (AnyOf, Filter),
    (Filter, Condition), (Filter, AnyOf), (Filter, AllOf), (Filter, Filter));

/// Joins conditions with `^OR`: true when any of them is. An empty iterator is an error when built.
pub fn any<I: IntoIterator<Item = Condition>>(conditions: I) -> AnyOf {
    let terms: Result<Vec<Term>, QueryError> = conditions.into_iter().map(|c| c.0).collect();
    AnyOf(terms.and_then(|t| {
        if t.is_empty() {
            Err(QueryError::EmptyGroup)
        } else {
            Ok(Clause(t))
        }
    }))
}

/// Joins conditions or `any(..)` clauses with `^`: true when all are. An empty iterator is an
/// error when built.
pub fn all<I, C>(clauses: I) -> AllOf
where
    I: IntoIterator<Item = C>,
    C: Into<AnyOf>,
{
    let clauses: Result<Vec<Clause>, QueryError> =
        clauses.into_iter().map(|c| c.into().0).collect();
    AllOf(clauses.and_then(|c| {
        if c.is_empty() {
            Err(QueryError::EmptyGroup)
        } else {
            Ok(Group(c))
        }
    }))
}

/// A filter plus sort order, ready to [`build`](QueryBuilder::build).
#[derive(Clone, Debug)]
#[must_use = "call .build() to get the query"]
pub struct QueryBuilder {
    groups: Result<Vec<Group>, QueryError>,
    orders: Result<Vec<Order>, QueryError>,
}

impl Default for QueryBuilder {
    fn default() -> Self {
        Self {
            groups: Ok(Vec::new()),
            orders: Ok(Vec::new()),
        }
    }
}

impl QueryBuilder {
    /// No condition, no order.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sorts by `field`, ascending (`ORDERBYfield`), after any earlier sort key.
    pub fn order_by(self, field: impl AsRef<str>) -> Self {
        self.push_order(field.as_ref(), false)
    }

    /// Sorts by `field`, descending (`ORDERBYDESCfield`), after any earlier sort key.
    pub fn order_by_desc(self, field: impl AsRef<str>) -> Self {
        self.push_order(field.as_ref(), true)
    }

    fn push_order(mut self, field: &str, descending: bool) -> Self {
        self.orders = self.orders.and_then(|mut o| {
            o.push(Order {
                field: FieldName::new(field)?,
                descending,
            });
            Ok(o)
        });
        self
    }

    /// Checks everything and gives the query, or the first problem found (naming the value or
    /// field at fault).
    pub fn build(self) -> Result<Query, QueryError> {
        Ok(Query {
            groups: self.groups?,
            orders: self.orders?,
            raw: None,
        })
    }
}

impl<F: Into<Filter>> From<F> for QueryBuilder {
    fn from(f: F) -> Self {
        Self {
            groups: f.into().0,
            orders: Ok(Vec::new()),
        }
    }
}

macro_rules! finishers {
    ($($t:ty),*) => {$(
        impl $t {
            /// Sorts by `field`, ascending (`ORDERBYfield`).
            pub fn order_by(self, field: impl AsRef<str>) -> QueryBuilder {
                QueryBuilder::from(self).order_by(field)
            }
            /// Sorts by `field`, descending (`ORDERBYDESCfield`).
            pub fn order_by_desc(self, field: impl AsRef<str>) -> QueryBuilder {
                QueryBuilder::from(self).order_by_desc(field)
            }
            /// Checks everything and gives the query, or the first problem found.
            pub fn build(self) -> Result<Query, QueryError> {
                QueryBuilder::from(self).build()
            }
        }
    )*};
}
finishers!(Condition, AnyOf, AllOf, Filter);

/// Anything that can become a [`Query`]: a built query, or any builder value (checked then).
pub trait IntoQuery {
    /// Checks and converts.
    fn into_query(self) -> Result<Query, QueryError>;
}

impl IntoQuery for Query {
    fn into_query(self) -> Result<Query, QueryError> {
        Ok(self)
    }
}
impl IntoQuery for &Query {
    fn into_query(self) -> Result<Query, QueryError> {
        Ok(self.clone())
    }
}
impl IntoQuery for QueryBuilder {
    fn into_query(self) -> Result<Query, QueryError> {
        self.build()
    }
}
impl IntoQuery for Result<Query, QueryError> {
    fn into_query(self) -> Result<Query, QueryError> {
        self
    }
}
macro_rules! into_query {
    ($($t:ty),*) => {$(
        impl IntoQuery for $t {
            fn into_query(self) -> Result<Query, QueryError> {
                self.build()
            }
        }
    )*};
}
into_query!(Condition, AnyOf, AllOf, Filter);
