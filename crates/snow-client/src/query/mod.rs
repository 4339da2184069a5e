//! The encoded-query builder: `sysparm_query` strings that no value can widen.
//!
//! Conditions start with [`field`] and combine with `&` (AND, `^`) and `|` (OR): `a | b` becomes
//! `a^ORb`, `a & b` becomes `a^b`, and `a & b | c` becomes `a^b^NQc`, which is how ServiceNow
//! says "(a AND b) OR c". Rust's operator precedence matches ServiceNow's meaning, and a shape
//! the encoded-query language cannot hold (such as `(a & b | c) & d`) does not compile.
//! [`any`] and [`all`] fold conditions built at run time.
//!
//! ```
//! use snow_client::query::{field, Relative, TimeUnit};
//!
//! let q = (field("active").eq(true) & (field("priority").le(2) | field("urgency").eq(1)))
//!     .order_by_desc("sys_created_on")
//!     .build()?;
//! assert_eq!(
//!     q.to_string(),
//!     "active=true^priority<=2^ORurgency=1^ORDERBYDESCsys_created_on"
//! );
//!
//! // A caret in a value is escaped, never read as a separator.
//! let q = field("short_description").eq("Cost^Center").build()?;
//! assert_eq!(q.to_string(), "short_description=Cost^^Center");
//!
//! // A value that cannot be written without changing the query is refused, by name.
//! let err = field("number").is_in(["INC1,INC2"]).build().unwrap_err();
//! assert!(err.to_string().contains("INC1,INC2"));
//! # Ok::<(), snow_client::query::QueryError>(())
//! ```
//!
//! # What is refused
//! - a line break or other control character in any value;
//! - a comma inside an `IN` / `NOT IN` item, and an empty list;
//! - an `@` inside a `BETWEEN` bound or an `ON` label or bound;
//! - text starting with `javascript:` (any case) unless given as [`Value::javascript`];
//! - a value that would turn the operator into another one (`<` followed by `=5`);
//! - field names other than lowercase ASCII letters, digits and `_` in non-empty dot-separated
//!   parts (ServiceNow column names are lowercase; the operators are uppercase, so this keeps
//!   every query readable back with [`Query::parse`]).
//!
//! [`Query::raw_unchecked`] remains for constructs the builder does not model.
//!
//! # Dates
//! [`time::OffsetDateTime`] values are converted to UTC and written `yyyy-MM-dd HH:mm:ss`, the
//! form ServiceNow compares against its stored UTC values (`chrono` types too, with the `chrono`
//! feature). [`Value::date_generate_in_user_time_zone`] writes
//! `javascript:gs.dateGenerate('yyyy-MM-dd','HH:mm:ss')`, read in the API user's time zone.
//! [`Relative`] dates and [`DatePreset`] ranges (`ONToday@...`) are evaluated by the instance.

mod ast;
mod build;
mod check;
mod operator;
pub(crate) use check::quote as quote_for_error;
mod parse;
mod value;

pub use ast::{
    Clause, DateRange, FieldName, Group, Operand, Operator, Order, Query, Relative, Scalar, Term,
    TimeUnit,
};
pub use build::{
    AllOf, AnyOf, Condition, DatePreset, Field, Filter, IntoQuery, QueryBuilder, RangeValue, all,
    any, field,
};
pub use value::Value;

/// Why a query could not be built or parsed. Every message names the field or value at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A field name is not a valid column name or dot-walk path.
    #[error("invalid field name {name:?}: {reason}")]
    InvalidField {
        /// The name given (shortened if long).
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A value cannot be written into an encoded query without changing the query's meaning.
    #[error("the value {value:?} cannot be used in an encoded query: {reason}")]
    InvalidValue {
        /// The value given (shortened if long).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An `IN` / `NOT IN` list has no item.
    #[error("the {operator} list for field {field} is empty; give at least one value")]
    EmptyList {
        /// The field.
        field: String,
        /// `IN` or `NOT IN`.
        operator: &'static str,
    },
    /// `any([])` or `all([])` was given nothing to combine.
    #[error("an any()/all() combination is empty; give at least one condition")]
    EmptyGroup,
    /// An encoded query string could not be read.
    #[error("cannot read the encoded query at {term:?}: {reason}")]
    Parse {
        /// The term at fault (shortened if long).
        term: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A raw query (from `Query::raw_unchecked`) cannot be combined with conditions.
    #[error(
        "a raw query cannot be combined with other conditions; build it with the query builder instead"
    )]
    Raw,
}

#[cfg(test)]
mod tests;
