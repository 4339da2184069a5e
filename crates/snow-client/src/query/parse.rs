//! Reading an encoded query string back into a [`Query`].

use super::QueryError;
use super::ast::{
    Clause, DateRange, FieldName, Group, Operand, Operator, Order, Query, Relative, Scalar, Shape,
    Term, TimeUnit,
};
use super::check;

/// How a term was joined to the one before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sep {
    Start,
    And,
    Or,
    Nq,
}

/// Splits on `^`, `^OR`, `^NQ`, turning `^^` back into `^` inside terms.
fn tokenize(input: &str) -> Vec<(Sep, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut sep = Sep::Start;
    let mut rest = input;
    while let Some(pos) = rest.find('^') {
        cur.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(next) = after.strip_prefix('^') {
            cur.push('^');
            rest = next;
            continue;
        }
        out.push((sep, std::mem::take(&mut cur)));
        if after.starts_with("OR") && !after.starts_with("ORDERBY") {
            sep = Sep::Or;
            rest = &after[2..];
        } else if let Some(next) = after.strip_prefix("NQ") {
            sep = Sep::Nq;
            rest = next;
        } else {
            sep = Sep::And;
            rest = after;
        }
    }
    cur.push_str(rest);
    out.push((sep, cur));
    out
}

fn perr(term: &str, reason: impl Into<String>) -> QueryError {
    QueryError::Parse {
        term: check::quote(term),
        reason: reason.into(),
    }
}

fn scalar(s: &str) -> Scalar {
    match s.strip_prefix("javascript:") {
        Some(expr) => Scalar::Script(expr.to_owned()),
        None => Scalar::Text(s.to_owned()),
    }
}

fn parse_term(text: &str) -> Result<Term, QueryError> {
    let end = text
        .bytes()
        .position(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.'))
        .unwrap_or(text.len());
    let (name, rest) = text.split_at(end);
    if name.is_empty() {
        return Err(perr(
            text,
            "a term must start with a lowercase field name (use Query::raw_unchecked for other constructs)",
        ));
    }
    let field = FieldName::new(name)?;
    let operator = Operator::match_prefix(rest)
        .ok_or_else(|| perr(text, "no supported operator follows the field name"))?;
    let value = &rest[operator.as_str().len()..];
    let operand = match operator.shape() {
        Shape::Nothing => {
            if !value.is_empty() {
                return Err(perr(
                    text,
                    format!("{operator} takes no value, but text follows it"),
                ));
            }
            Operand::None
        }
        Shape::Scalar => Operand::Scalar(scalar(value)),
        Shape::List => Operand::List(value.split(',').map(str::to_owned).collect()),
        Shape::Between => {
            let (a, b) = value
                .split_once('@')
                .ok_or_else(|| perr(text, "BETWEEN needs two bounds separated by `@`"))?;
            Operand::Between(scalar(a), scalar(b))
        }
        Shape::Field | Shape::Table => Operand::Field(FieldName::new(value)?),
        Shape::SysId => Operand::SysId(value.to_owned()),
        Shape::Relative => {
            let parts: Vec<&str> = value.split('@').collect();
            let [empty, unit, dir, n] = parts.as_slice() else {
                return Err(perr(
                    text,
                    "a relative date is written @<unit>@ago|ahead@<number>",
                ));
            };
            let unit = TimeUnit::parse(unit)
                .filter(|_| empty.is_empty())
                .ok_or_else(|| perr(text, format!("unknown relative-date unit {unit:?}")))?;
            let ahead = match *dir {
                "ago" => false,
                "ahead" => true,
                other => {
                    return Err(perr(
                        text,
                        format!("expected `ago` or `ahead`, found {other:?}"),
                    ));
                }
            };
            let amount = if n.bytes().all(|b| b.is_ascii_digit()) {
                n.parse::<u32>().ok()
            } else {
                None
            }
            .ok_or_else(|| perr(text, format!("{n:?} is not a whole number")))?;
            Operand::Relative(Relative {
                unit,
                ahead,
                amount,
            })
        }
        Shape::Range => {
            let parts: Vec<&str> = value.split('@').collect();
            let [label, start, end] = parts.as_slice() else {
                return Err(perr(text, "an ON range is written <label>@<start>@<end>"));
            };
            Operand::Range(DateRange {
                label: (*label).to_owned(),
                start: scalar(start),
                end: scalar(end),
            })
        }
    };
    Term::new(field, operator, operand)
}

impl Query {
    /// Parses an encoded query into its structure; `Query::parse(&q.to_string()) == Ok(q)` for
    /// every query `q` the builder makes.
    ///
    /// A trailing `^EQ` (a filter-UI artefact) is accepted and dropped. Constructs the builder
    /// does not model (`RLQUERY`, `JOIN`, `GROUPBY`, text search, `DATEPART`, ...) and values the
    /// builder would refuse give an error; [`Query::raw_unchecked`] takes those as they are.
    ///
    /// ```
    /// use snow_client::query::{field, Query};
    /// let q = Query::parse("active=true^priorityIN1,2^ORurgency=1^NQstate=6^ORDERBYDESCnumber")?;
    /// assert_eq!(q.groups().len(), 2);
    /// let built = (field("active").eq(true) & (field("priority").is_in([1, 2]) | field("urgency").eq(1))
    ///     | field("state").eq(6))
    ///     .order_by_desc("number")
    ///     .build()?;
    /// assert_eq!(q, built);
    /// # Ok::<(), snow_client::query::QueryError>(())
    /// ```
    pub fn parse(encoded: &str) -> Result<Query, QueryError> {
        let mut groups: Vec<Group> = Vec::new();
        let mut orders = Vec::new();
        if encoded.is_empty() {
            return Ok(Query::default());
        }
        let tokens = tokenize(encoded);
        let count = tokens.len();
        // Whether the previous token was a condition (so `^OR` may follow).
        let mut after_condition = false;
        for (i, (sep, text)) in tokens.into_iter().enumerate() {
            if text == "EQ" && i + 1 == count && sep == Sep::And {
                break;
            }
            let order = if let Some(f) = text.strip_prefix("ORDERBYDESC") {
                Some((f, true))
            } else {
                text.strip_prefix("ORDERBY").map(|f| (f, false))
            };
            if let Some((f, descending)) = order {
                if !matches!(sep, Sep::Start | Sep::And) {
                    return Err(perr(&text, "ORDERBY must be joined with `^`"));
                }
                orders.push(Order {
                    field: FieldName::new(f)?,
                    descending,
                });
                after_condition = false;
                continue;
            }
            if text.is_empty() {
                return Err(perr(encoded, "the query has an empty term"));
            }
            let term = parse_term(&text)?;
            match sep {
                Sep::Start | Sep::And => match groups.last_mut() {
                    Some(g) => g.0.push(Clause(vec![term])),
                    None => groups.push(Group(vec![Clause(vec![term])])),
                },
                Sep::Or => {
                    let clause = groups
                        .last_mut()
                        .and_then(|g| g.0.last_mut())
                        .filter(|_| after_condition)
                        .ok_or_else(|| perr(&text, "`^OR` must follow a condition"))?;
                    clause.0.push(term);
                }
                Sep::Nq => {
                    if groups.is_empty() || !after_condition {
                        return Err(perr(&text, "`^NQ` must follow a condition"));
                    }
                    groups.push(Group(vec![Clause(vec![term])]));
                }
            }
            after_condition = true;
        }
        Ok(Query {
            groups,
            orders,
            raw: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_handles_escapes_and_separators() {
        let t = tokenize("a=x^^^ORb=1^NQc=^^^ORDERBYd");
        assert_eq!(
            t,
            vec![
                (Sep::Start, "a=x^".to_owned()),
                (Sep::Or, "b=1".to_owned()),
                (Sep::Nq, "c=^".to_owned()),
                (Sep::And, "ORDERBYd".to_owned()),
            ]
        );
    }

    #[test]
    fn dangling_separators_are_errors() {
        for bad in [
            "^ORa=1",
            "^NQa=1",
            "a=1^",
            "a=1^^NQ",
            "ORDERBYx^ORa=1",
            "a=1^NQORDERBYx",
        ] {
            // "a=1^^NQ" is the value "1^NQ", which is fine; the others are not.
            let r = Query::parse(bad);
            if bad == "a=1^^NQ" {
                assert!(r.is_ok(), "{bad}");
            } else {
                assert!(r.is_err(), "{bad} parsed as {r:?}");
            }
        }
    }

    #[test]
    fn unknown_constructs_are_refused() {
        for bad in [
            "RLQUERYincident.problem_id,>=1^ENDRLQUERY",
            "123TEXTQUERY321=email",
            "nameFOO",
            "Active=true",
            "activeISEMPTYx",
            "a=javascript :x",
            "a= javascript:x",
            "dRELATIVEGT@fortnight@ago@1",
            "dRELATIVEGT@hour@ago@-1",
            "dBETWEEN1",
            "dONToday@x",
        ] {
            let r = Query::parse(bad);
            if bad == "a=javascript :x" {
                assert!(r.is_ok());
                continue;
            }
            assert!(r.is_err(), "{bad} parsed as {r:?}");
        }
    }

    #[test]
    fn trailing_eq_is_dropped() {
        let q = Query::parse("active=true^EQ").unwrap();
        assert_eq!(q.to_string(), "active=true");
    }
}
