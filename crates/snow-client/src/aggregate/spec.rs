//! What an aggregate call asks for, written as the `sysparm_*` parameters of the Aggregate API:
//! the functions, `sysparm_having` conditions and `sysparm_order_by` keys.

use std::fmt;

use crate::Error;
use crate::query::{FieldName, QueryError};

/// An aggregate function over a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AggregateFn {
    /// The mean (`sysparm_avg_fields`); number fields only.
    Avg,
    /// The smallest value (`sysparm_min_fields`); numbers, dates or text.
    Min,
    /// The largest value (`sysparm_max_fields`); numbers, dates or text.
    Max,
    /// The total (`sysparm_sum_fields`); number fields only.
    Sum,
}

impl AggregateFn {
    /// The lowercase name, as in `sysparm_having` and the answer's `stats` (`avg`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateFn::Avg => "avg",
            AggregateFn::Min => "min",
            AggregateFn::Max => "max",
            AggregateFn::Sum => "sum",
        }
    }

    /// The parameter listing the fields of this function (`sysparm_avg_fields`, ...).
    pub(crate) fn param(self) -> &'static str {
        match self {
            AggregateFn::Avg => "sysparm_avg_fields",
            AggregateFn::Min => "sysparm_min_fields",
            AggregateFn::Max => "sysparm_max_fields",
            AggregateFn::Sum => "sysparm_sum_fields",
        }
    }
}

/// A field name given by the caller, checked when the request is built.
pub(crate) type Checked = Result<FieldName, QueryError>;

/// What a [`Having`] condition or a [`StatsOrder`] measures.
#[derive(Clone, Debug, PartialEq)]
enum Measure {
    Count(Checked),
    Of(AggregateFn, Checked),
}

impl Measure {
    fn field(&self) -> Result<&FieldName, Error> {
        match self {
            Measure::Count(f) | Measure::Of(_, f) => {
                f.as_ref().map_err(|e| Error::InvalidQuery(e.clone()))
            }
        }
    }
}

/// One `sysparm_having` condition on the groups: `count^priority^>^3` keeps the groups with
/// more than three records. Start from [`Having::count`], [`Having::avg`], [`Having::min`],
/// [`Having::max`] or [`Having::sum`].
///
/// ```
/// use snow_client::aggregate::Having;
/// assert_eq!(Having::count("priority").gt(3).to_param()?, "count^priority^>^3");
/// assert_eq!(Having::avg("reassignment_count").le(1.5).to_param()?, "avg^reassignment_count^<=^1.5");
/// # Ok::<(), snow_client::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Having {
    measure: Measure,
    op: &'static str,
    value: f64,
}

/// A [`Having`] condition waiting for its comparison.
#[derive(Clone, Debug, PartialEq)]
#[must_use = "finish the condition with eq(), gt(), ..."]
pub struct HavingBuilder(Measure);

impl Having {
    /// On the number of records of each group; `field` is the field counted (any field of the
    /// table, usually a group-by field).
    pub fn count(field: impl AsRef<str>) -> HavingBuilder {
        HavingBuilder(Measure::Count(FieldName::new(field.as_ref())))
    }

    /// On the mean of `field` in each group.
    pub fn avg(field: impl AsRef<str>) -> HavingBuilder {
        Self::of(AggregateFn::Avg, field)
    }

    /// On the smallest value of `field` in each group.
    pub fn min(field: impl AsRef<str>) -> HavingBuilder {
        Self::of(AggregateFn::Min, field)
    }

    /// On the largest value of `field` in each group.
    pub fn max(field: impl AsRef<str>) -> HavingBuilder {
        Self::of(AggregateFn::Max, field)
    }

    /// On the total of `field` in each group.
    pub fn sum(field: impl AsRef<str>) -> HavingBuilder {
        Self::of(AggregateFn::Sum, field)
    }

    /// On any aggregate function of `field`.
    pub fn of(function: AggregateFn, field: impl AsRef<str>) -> HavingBuilder {
        HavingBuilder(Measure::Of(function, FieldName::new(field.as_ref())))
    }

    /// The condition as `sysparm_having` writes it (`count^priority^>^3`); an invalid field
    /// name or a value that is not a finite number is an error.
    pub fn to_param(&self) -> Result<String, Error> {
        let field = self.measure.field()?;
        if !self.value.is_finite() {
            return Err(Error::invalid_input(format!(
                "a having condition needs a finite number, not {}",
                self.value
            )));
        }
        let function = match &self.measure {
            Measure::Count(_) => "count",
            Measure::Of(f, _) => f.as_str(),
        };
        Ok(format!("{function}^{field}^{}^{}", self.op, self.value))
    }
}

impl HavingBuilder {
    fn cmp(self, op: &'static str, value: impl Into<f64>) -> Having {
        Having {
            measure: self.0,
            op,
            value: value.into(),
        }
    }

    /// `=`.
    pub fn eq(self, value: impl Into<f64>) -> Having {
        self.cmp("=", value)
    }

    /// `!=`.
    pub fn ne(self, value: impl Into<f64>) -> Having {
        self.cmp("!=", value)
    }

    /// `>`.
    pub fn gt(self, value: impl Into<f64>) -> Having {
        self.cmp(">", value)
    }

    /// `>=`.
    pub fn ge(self, value: impl Into<f64>) -> Having {
        self.cmp(">=", value)
    }

    /// `<`.
    pub fn lt(self, value: impl Into<f64>) -> Having {
        self.cmp("<", value)
    }

    /// `<=`.
    pub fn le(self, value: impl Into<f64>) -> Having {
        self.cmp("<=", value)
    }
}

/// What the groups are ordered by (`sysparm_order_by`): a group-by field, the count, or an
/// aggregate of a field; ascending unless [`desc`](Self::desc).
///
/// ```
/// use snow_client::aggregate::StatsOrder;
/// assert_eq!(StatsOrder::count().desc().to_param()?, "COUNT^DESC");
/// assert_eq!(StatsOrder::avg("reassignment_count").to_param()?, "AVG^reassignment_count");
/// assert_eq!(StatsOrder::field("priority").to_param()?, "priority");
/// # Ok::<(), snow_client::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StatsOrder {
    key: OrderKey,
    descending: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum OrderKey {
    Field(Checked),
    Count,
    Of(AggregateFn, Checked),
}

impl StatsOrder {
    /// By a group-by field's value.
    pub fn field(name: impl AsRef<str>) -> Self {
        Self::new(OrderKey::Field(FieldName::new(name.as_ref())))
    }

    /// By the number of records in each group.
    pub fn count() -> Self {
        Self::new(OrderKey::Count)
    }

    /// By the mean of `field`.
    pub fn avg(field: impl AsRef<str>) -> Self {
        Self::of(AggregateFn::Avg, field)
    }

    /// By the smallest value of `field`.
    pub fn min(field: impl AsRef<str>) -> Self {
        Self::of(AggregateFn::Min, field)
    }

    /// By the largest value of `field`.
    pub fn max(field: impl AsRef<str>) -> Self {
        Self::of(AggregateFn::Max, field)
    }

    /// By the total of `field`.
    pub fn sum(field: impl AsRef<str>) -> Self {
        Self::of(AggregateFn::Sum, field)
    }

    /// By any aggregate function of `field`.
    pub fn of(function: AggregateFn, field: impl AsRef<str>) -> Self {
        Self::new(OrderKey::Of(function, FieldName::new(field.as_ref())))
    }

    fn new(key: OrderKey) -> Self {
        Self {
            key,
            descending: false,
        }
    }

    /// Largest first.
    pub fn desc(mut self) -> Self {
        self.descending = true;
        self
    }

    /// The key as `sysparm_order_by` writes it (`priority`, `COUNT`, `AVG^field`, then
    /// `^DESC` when descending).
    pub fn to_param(&self) -> Result<String, Error> {
        let check = |f: &Checked| f.clone().map_err(Error::InvalidQuery);
        let mut out = match &self.key {
            OrderKey::Field(f) => check(f)?.as_str().to_owned(),
            OrderKey::Count => "COUNT".to_owned(),
            OrderKey::Of(function, f) => {
                format!("{}^{}", function.as_str().to_ascii_uppercase(), check(f)?)
            }
        };
        if self.descending {
            out.push_str("^DESC");
        }
        Ok(out)
    }
}

impl fmt::Display for AggregateFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_fields_and_values_are_refused() {
        assert!(Having::count("a b").gt(1).to_param().is_err());
        assert!(Having::sum("x").gt(f64::NAN).to_param().is_err());
        assert!(StatsOrder::field("x^y").to_param().is_err());
        assert_eq!(Having::min("a").ne(-2).to_param().unwrap(), "min^a^!=^-2");
        assert_eq!(
            Having::max("a").eq(0.25).to_param().unwrap(),
            "max^a^=^0.25"
        );
        assert_eq!(
            StatsOrder::sum("cost").desc().to_param().unwrap(),
            "SUM^cost^DESC"
        );
    }
}
