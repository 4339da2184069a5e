//! The encoded query language (`sysparm_query`): parsing into an inspectable [`Query`].
//!
//! Grammar: terms joined by `^` (AND) and `^OR` (OR, binding only to its neighbours), groups of
//! terms joined by `^NQ` (OR of whole groups), `ORDERBY<field>` / `ORDERBYDESC<field>` terms,
//! `^EQ` and `^GROUPBY<field>` accepted and ignored, `^^` for a literal caret inside a value.
//!
//! ```
//! use snow_devinstance::db::query::{self, Operator};
//!
//! let q = query::parse("active=true^priority<=2^ORurgency=1^ORDERBYDESCnumber").unwrap();
//! assert_eq!(q.groups.len(), 1);
//! assert_eq!(q.groups[0].clauses.len(), 2); // active=true AND (priority<=2 OR urgency=1)
//! assert_eq!(q.groups[0].clauses[1].terms[0].operator, Operator::Le);
//! assert!(q.order[0].descending);
//! assert_eq!(q.to_string(), "active=true^priority<=2^ORurgency=1^ORDERBYDESCnumber");
//! ```

use std::fmt;

/// Why an encoded query could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A term does not start with a field name.
    #[error("query term `{term}` does not start with a field name")]
    MissingField {
        /// The offending term.
        term: String,
    },
    /// A term has no operator this instance knows.
    #[error("query term `{term}` has no known operator")]
    UnknownOperator {
        /// The offending term.
        term: String,
    },
    /// A term uses an operator or construct this instance does not support.
    #[error("query term `{term}` uses `{feature}`, which this instance does not support")]
    Unsupported {
        /// The offending term.
        term: String,
        /// The unsupported operator or construct.
        feature: String,
    },
    /// `ORDERBY` / `ORDERBYDESC` without a valid field name.
    #[error("`{term}` does not name a field to order by")]
    BadOrderBy {
        /// The offending term.
        term: String,
    },
    /// An operator's value is malformed (BETWEEN without `@`, ON without three parts, ...).
    #[error("query term `{term}` has a malformed value: {reason}")]
    BadValue {
        /// The offending term.
        term: String,
        /// What is wrong.
        reason: String,
    },
    /// A `javascript:` value outside the supported whitelist.
    #[error(
        "`{script}` is not a supported javascript value (supported: gs.getUserID(), gs.daysAgoStart(n), \
         gs.daysAgoEnd(n), gs.daysAgo(n), gs.hoursAgo(n), gs.minutesAgo(n), gs.beginningOfToday(), \
         gs.endOfToday(), gs.beginningOfYesterday(), gs.endOfYesterday(), gs.dateGenerate(date, time), \
         gs.nowNoTZ(), gs.nowDateTime())"
    )]
    UnsupportedScript {
        /// The script text after `javascript:`.
        script: String,
    },
}

/// A comparison operator of a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operator {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `LIKE` (alias `*`): case-insensitive substring.
    Like,
    /// `NOT LIKE` (alias `!*`).
    NotLike,
    /// `STARTSWITH`
    StartsWith,
    /// `ENDSWITH` (alias `%`).
    EndsWith,
    /// `IN` comma list.
    In,
    /// `NOT IN` comma list.
    NotIn,
    /// `ISEMPTY` (alias `EMPTY`).
    IsEmpty,
    /// `ISNOTEMPTY` (alias `NOTEMPTY`).
    IsNotEmpty,
    /// `EMPTYSTRING`
    EmptyString,
    /// `ANYTHING`: matches every record.
    Anything,
    /// `BETWEEN a@b`, inclusive.
    Between,
    /// `SAMEAS other_field` (optionally `@day`).
    SameAs,
    /// `NSAMEAS other_field`.
    NSameAs,
    /// `GT_FIELD other_field`.
    GtField,
    /// `LT_FIELD other_field`.
    LtField,
    /// `GT_OR_EQUALS_FIELD other_field`.
    GeField,
    /// `LT_OR_EQUALS_FIELD other_field`.
    LeField,
    /// `ON label@start@end`: a date between start and end, inclusive.
    On,
    /// `NOTON label@start@end`.
    NotOn,
    /// `INSTANCEOF table`: the record's class is the table or extends it.
    InstanceOf,
}

/// Operator spellings, longest first so that prefixes resolve correctly.
const OPERATORS: &[(&str, Operator)] = &[
    ("GT_OR_EQUALS_FIELD", Operator::GeField),
    ("LT_OR_EQUALS_FIELD", Operator::LeField),
    ("EMPTYSTRING", Operator::EmptyString),
    ("ISNOTEMPTY", Operator::IsNotEmpty),
    ("STARTSWITH", Operator::StartsWith),
    ("INSTANCEOF", Operator::InstanceOf),
    ("ENDSWITH", Operator::EndsWith),
    ("NOT LIKE", Operator::NotLike),
    ("ANYTHING", Operator::Anything),
    ("NOTEMPTY", Operator::IsNotEmpty),
    ("GT_FIELD", Operator::GtField),
    ("LT_FIELD", Operator::LtField),
    ("ISEMPTY", Operator::IsEmpty),
    ("BETWEEN", Operator::Between),
    ("NSAMEAS", Operator::NSameAs),
    ("NOT IN", Operator::NotIn),
    ("SAMEAS", Operator::SameAs),
    ("NOTON", Operator::NotOn),
    ("EMPTY", Operator::IsEmpty),
    ("LIKE", Operator::Like),
    ("ON", Operator::On),
    ("IN", Operator::In),
    ("!=", Operator::Ne),
    ("<=", Operator::Le),
    (">=", Operator::Ge),
    ("!*", Operator::NotLike),
    ("=", Operator::Eq),
    ("<", Operator::Lt),
    (">", Operator::Gt),
    ("*", Operator::Like),
    ("%", Operator::EndsWith),
];

/// Operators of the language that this instance recognises but does not evaluate.
const UNSUPPORTED_OPERATORS: &[&str] = &[
    "IN_HIERARCHY_DYNAMIC",
    "IN_HIERARCHY",
    "VALCHANGES",
    "CHANGESFROM",
    "CHANGESTO",
    "RELATIVEGT",
    "RELATIVELT",
    "RELATIVEGE",
    "RELATIVELE",
    "RELATIVEEE",
    "DATEPART",
    "MORETHAN",
    "LESSTHAN",
    "DYNAMIC",
];

/// Special terms this instance does not support.
const UNSUPPORTED_TERMS: &[&str] = &[
    "RLQUERY",
    "ENDRLQUERY",
    "SUBQUERY",
    "ENDSUBQUERY",
    "JOIN",
    "123TEXTQUERY321",
    "123TEXTINDEXGROUP321",
    "javascript:",
];

impl Operator {
    /// The canonical spelling of the operator in an encoded query.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::Like => "LIKE",
            Operator::NotLike => "NOT LIKE",
            Operator::StartsWith => "STARTSWITH",
            Operator::EndsWith => "ENDSWITH",
            Operator::In => "IN",
            Operator::NotIn => "NOT IN",
            Operator::IsEmpty => "ISEMPTY",
            Operator::IsNotEmpty => "ISNOTEMPTY",
            Operator::EmptyString => "EMPTYSTRING",
            Operator::Anything => "ANYTHING",
            Operator::Between => "BETWEEN",
            Operator::SameAs => "SAMEAS",
            Operator::NSameAs => "NSAMEAS",
            Operator::GtField => "GT_FIELD",
            Operator::LtField => "LT_FIELD",
            Operator::GeField => "GT_OR_EQUALS_FIELD",
            Operator::LeField => "LT_OR_EQUALS_FIELD",
            Operator::On => "ON",
            Operator::NotOn => "NOTON",
            Operator::InstanceOf => "INSTANCEOF",
        }
    }

    /// Whether the operator takes no value.
    pub fn is_unary(self) -> bool {
        matches!(
            self,
            Operator::IsEmpty | Operator::IsNotEmpty | Operator::EmptyString | Operator::Anything
        )
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A whitelisted `javascript:` value, evaluated at query time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Script {
    /// `gs.getUserID()`: the sys_id of the querying user.
    GetUserId,
    /// `gs.daysAgoStart(n)`: 00:00:00 UTC, n days ago.
    DaysAgoStart(i64),
    /// `gs.daysAgoEnd(n)`: 23:59:59 UTC, n days ago.
    DaysAgoEnd(i64),
    /// `gs.daysAgo(n)`: now minus n days.
    DaysAgo(i64),
    /// `gs.hoursAgo(n)`: now minus n hours.
    HoursAgo(i64),
    /// `gs.minutesAgo(n)`: now minus n minutes.
    MinutesAgo(i64),
    /// `gs.beginningOfToday()`.
    BeginningOfToday,
    /// `gs.endOfToday()`.
    EndOfToday,
    /// `gs.beginningOfYesterday()`.
    BeginningOfYesterday,
    /// `gs.endOfYesterday()`.
    EndOfYesterday,
    /// `gs.dateGenerate('yyyy-MM-dd','HH:mm:ss')` (time also `start` / `end`), already
    /// normalised to `yyyy-MM-dd HH:mm:ss`.
    DateGenerate(String),
    /// `gs.nowNoTZ()` / `gs.nowDateTime()`: the current UTC time.
    Now,
}

/// One value in a term: a literal or a whitelisted script.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Value {
    /// A literal string, carets already unescaped.
    Literal(String),
    /// A `javascript:` value.
    Script(Script),
}

/// The structured value of a term, shaped by its operator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operand {
    /// No value (ISEMPTY, ANYTHING, ...).
    None,
    /// A single value.
    Single(Value),
    /// A comma list (IN, NOT IN).
    List(Vec<Value>),
    /// An inclusive range (BETWEEN `a@b`, ON `label@a@b`).
    Range(Value, Value),
    /// Another field of the same record (SAMEAS, GT_FIELD, ...), with an optional `@unit`.
    Field {
        /// The other field (may be dot-walked).
        field: String,
        /// The comparison unit after `@` (`day`, ...), if any.
        unit: Option<String>,
    },
    /// A table name (INSTANCEOF).
    Table(String),
}

/// One condition: `<field><operator><value>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Field name, possibly dot-walked (`caller_id.name`).
    pub field: String,
    /// The operator.
    pub operator: Operator,
    /// The value text after the operator, carets unescaped.
    pub value: String,
    /// The value parsed according to the operator.
    pub operand: Operand,
}

/// Terms joined by `^OR`: matches when any term matches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Clause {
    /// The alternatives.
    pub terms: Vec<Term>,
}

/// Clauses joined by `^`: matches when every clause matches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Group {
    /// The conjuncts.
    pub clauses: Vec<Clause>,
}

/// One ORDERBY / ORDERBYDESC term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// Field name, possibly dot-walked.
    pub field: String,
    /// `true` for ORDERBYDESC.
    pub descending: bool,
}

/// A parsed encoded query: groups joined by `^NQ` (a record matches when any group matches;
/// no groups match everything), plus the requested order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// The `^NQ`-separated groups.
    pub groups: Vec<Group>,
    /// ORDERBY terms, most significant first.
    pub order: Vec<OrderBy>,
}

impl Query {
    /// Every term of every group, in query order.
    pub fn terms(&self) -> impl Iterator<Item = &Term> {
        self.groups
            .iter()
            .flat_map(|g| g.clauses.iter())
            .flat_map(|c| c.terms.iter())
    }
}

/// Escapes a value for an encoded query: `^` becomes `^^`.
pub fn escape_value(value: &str) -> String {
    value.replace('^', "^^")
}

impl fmt::Display for Query {
    /// Encodes the query again; `parse(&q.to_string())` gives back `q`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (gi, g) in self.groups.iter().enumerate() {
            if gi > 0 {
                f.write_str("^NQ")?;
            }
            for (ci, c) in g.clauses.iter().enumerate() {
                if ci > 0 {
                    f.write_str("^")?;
                }
                for (ti, t) in c.terms.iter().enumerate() {
                    if ti > 0 {
                        f.write_str("^OR")?;
                    }
                    write!(f, "{}{}{}", t.field, t.operator, escape_value(&t.value))?;
                    first = false;
                }
            }
        }
        for o in &self.order {
            if !first {
                f.write_str("^")?;
            }
            first = false;
            let kw = if o.descending {
                "ORDERBYDESC"
            } else {
                "ORDERBY"
            };
            write!(f, "{kw}{}", o.field)?;
        }
        Ok(())
    }
}

/// Splits on single `^`, turning `^^` into a literal caret.
fn split_segments(encoded: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = encoded.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '^' {
            if chars.peek() == Some(&'^') {
                chars.next();
                cur.push('^');
            } else {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

fn is_field_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'
}

/// Whether `name` is a well-formed (possibly dot-walked) field name.
pub(crate) fn valid_field_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(is_field_char) && name.split('.').all(|p| !p.is_empty())
}

/// Parses an encoded query.
///
/// Field names are not checked against any table here; the evaluator drops terms on unknown
/// fields, as ServiceNow does. Never panics, whatever the input.
///
/// # Errors
/// A [`QueryError`] naming the offending term when a term has no field, no known operator, a
/// malformed value, or an unsupported construct.
pub fn parse(encoded: &str) -> Result<Query, QueryError> {
    let mut query = Query::default();
    let mut group = Group::default();
    for raw in split_segments(encoded) {
        let mut seg = raw.as_str();
        if let Some(rest) = seg.strip_prefix("NQ") {
            if !group.clauses.is_empty() {
                query.groups.push(std::mem::take(&mut group));
            }
            seg = rest;
        }
        if seg.is_empty() || seg == "EQ" || seg.starts_with("GROUPBY") {
            continue;
        }
        if let Some(field) = seg.strip_prefix("ORDERBYDESC") {
            query.order.push(order_by(seg, field, true)?);
            continue;
        }
        if let Some(field) = seg.strip_prefix("ORDERBY") {
            query.order.push(order_by(seg, field, false)?);
            continue;
        }
        let (is_or, body) = match seg.strip_prefix("OR") {
            Some(rest) => (true, rest),
            None => (false, seg),
        };
        if body.is_empty() {
            continue;
        }
        let term = parse_term(body)?;
        match group.clauses.last_mut() {
            Some(last) if is_or => last.terms.push(term),
            _ => group.clauses.push(Clause { terms: vec![term] }),
        }
    }
    if !group.clauses.is_empty() {
        query.groups.push(group);
    }
    Ok(query)
}

fn order_by(term: &str, field: &str, descending: bool) -> Result<OrderBy, QueryError> {
    if !valid_field_name(field) {
        return Err(QueryError::BadOrderBy {
            term: term.to_owned(),
        });
    }
    Ok(OrderBy {
        field: field.to_owned(),
        descending,
    })
}

fn parse_term(term: &str) -> Result<Term, QueryError> {
    if let Some(kw) = UNSUPPORTED_TERMS.iter().find(|kw| term.starts_with(**kw)) {
        return Err(QueryError::Unsupported {
            term: term.to_owned(),
            feature: (*kw).to_owned(),
        });
    }
    let split = term.find(|c: char| !is_field_char(c)).unwrap_or(term.len());
    let (field, rest) = term.split_at(split);
    if !valid_field_name(field) {
        return Err(QueryError::MissingField {
            term: term.to_owned(),
        });
    }
    let Some(&(spelling, operator)) = OPERATORS.iter().find(|(s, _)| rest.starts_with(s)) else {
        if let Some(op) = UNSUPPORTED_OPERATORS.iter().find(|s| rest.starts_with(**s)) {
            return Err(QueryError::Unsupported {
                term: term.to_owned(),
                feature: (*op).to_owned(),
            });
        }
        return Err(QueryError::UnknownOperator {
            term: term.to_owned(),
        });
    };
    let value = &rest[spelling.len()..];
    let operand = parse_operand(term, operator, value)?;
    Ok(Term {
        field: field.to_owned(),
        operator,
        value: value.to_owned(),
        operand,
    })
}

fn bad(term: &str, reason: &str) -> QueryError {
    QueryError::BadValue {
        term: term.to_owned(),
        reason: reason.to_owned(),
    }
}

fn parse_operand(term: &str, op: Operator, value: &str) -> Result<Operand, QueryError> {
    Ok(match op {
        Operator::IsEmpty | Operator::IsNotEmpty | Operator::EmptyString | Operator::Anything => {
            Operand::None
        }
        Operator::In | Operator::NotIn => {
            if value.starts_with("javascript:") {
                Operand::List(vec![parse_value(value)?])
            } else {
                Operand::List(
                    value
                        .split(',')
                        .map(|v| Value::Literal(v.to_owned()))
                        .collect(),
                )
            }
        }
        Operator::Between => {
            let (a, b) = value
                .split_once('@')
                .ok_or_else(|| bad(term, "BETWEEN needs two values separated by `@`"))?;
            Operand::Range(parse_value(a)?, parse_value(b)?)
        }
        Operator::On | Operator::NotOn => {
            let mut parts = value.splitn(3, '@');
            let _label = parts.next();
            match (parts.next(), parts.next()) {
                (Some(a), Some(b)) => Operand::Range(parse_value(a)?, parse_value(b)?),
                _ => return Err(bad(term, "ON needs `label@start@end`")),
            }
        }
        Operator::SameAs
        | Operator::NSameAs
        | Operator::GtField
        | Operator::LtField
        | Operator::GeField
        | Operator::LeField => {
            let (field, unit) = match value.split_once('@') {
                Some((f, u)) => (f, Some(u.to_owned())),
                None => (value, None),
            };
            if !valid_field_name(field) {
                return Err(bad(term, "expected another field name"));
            }
            Operand::Field {
                field: field.to_owned(),
                unit,
            }
        }
        Operator::InstanceOf => Operand::Table(value.to_owned()),
        _ => Operand::Single(parse_value(value)?),
    })
}

/// Parses one value: a literal or a whitelisted `javascript:` call.
fn parse_value(value: &str) -> Result<Value, QueryError> {
    let Some(script) = value.strip_prefix("javascript:") else {
        return Ok(Value::Literal(value.to_owned()));
    };
    parse_script(script)
        .map(Value::Script)
        .ok_or_else(|| QueryError::UnsupportedScript {
            script: script.to_owned(),
        })
}

fn parse_script(script: &str) -> Option<Script> {
    let s = script.trim().trim_end_matches(';').trim();
    let s = s.strip_prefix("gs.")?;
    let open = s.find('(')?;
    let name = &s[..open];
    let args_text = s[open + 1..].strip_suffix(')')?;
    let args = split_args(args_text)?;
    let int_arg = || -> Option<i64> {
        match args.as_slice() {
            [a] => a.parse().ok(),
            _ => None,
        }
    };
    let no_args = args.is_empty();
    Some(match name {
        "getUserID" if no_args => Script::GetUserId,
        "daysAgoStart" => Script::DaysAgoStart(int_arg()?),
        "daysAgoEnd" => Script::DaysAgoEnd(int_arg()?),
        "daysAgo" => Script::DaysAgo(int_arg()?),
        "hoursAgo" => Script::HoursAgo(int_arg()?),
        "minutesAgo" => Script::MinutesAgo(int_arg()?),
        "beginningOfToday" if no_args => Script::BeginningOfToday,
        "endOfToday" if no_args => Script::EndOfToday,
        "beginningOfYesterday" if no_args => Script::BeginningOfYesterday,
        "endOfYesterday" if no_args => Script::EndOfYesterday,
        "nowNoTZ" | "nowDateTime" if no_args => Script::Now,
        "dateGenerate" => Script::DateGenerate(date_generate(&args)?),
        _ => return None,
    })
}

/// Splits call arguments on commas, unquoting `'...'` and `"..."`.
fn split_args(text: &str) -> Option<Vec<String>> {
    let text = text.trim();
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',')
        .map(|a| {
            let a = a.trim();
            let unq = a
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .or_else(|| a.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
                .unwrap_or(a);
            (!unq.contains(['\'', '"', '(', ')'])).then(|| unq.to_owned())
        })
        .collect()
}

/// `dateGenerate('yyyy-MM-dd', 'HH:mm:ss' | 'start' | 'end')` or `dateGenerate('yyyy-MM-dd HH:mm:ss')`.
fn date_generate(args: &[String]) -> Option<String> {
    let (date, time) = match args {
        [one] => match one.split_once(' ') {
            Some((d, t)) => (d, t),
            None => (one.as_str(), "00:00:00"),
        },
        [d, t] => (d.as_str(), t.as_str()),
        _ => return None,
    };
    let time = match time {
        "start" => "00:00:00",
        "end" => "23:59:59",
        t => t,
    };
    let joined = format!("{date} {time}");
    super::time_fmt::parse_datetime(&joined).map(|_| joined)
}

#[cfg(test)]
mod tests;
