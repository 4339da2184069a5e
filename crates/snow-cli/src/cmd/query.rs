//! `snow query check`: parse an encoded query, show its structure, point at what cannot be
//! read.

use clap::Subcommand;
use serde_json::{Value, json};
use snow_client::query::{Operand, Query, QueryError, Scalar, Term};

use super::Ctx;
use crate::exit::CliError;
use crate::output::Format;

/// The query commands.
#[derive(Subcommand)]
pub(crate) enum QueryCommand {
    /// Parse an encoded query and print its structure, or point at the part that cannot be
    /// read: snow query check 'active=true^priority<=2^ORurgency=1'
    Check {
        /// The encoded query.
        query: String,
    },
}

/// Runs a query command.
pub(crate) fn run(ctx: &Ctx, cmd: QueryCommand) -> Result<(), CliError> {
    let QueryCommand::Check { query } = cmd;
    let json = ctx.global.format.is_some_and(|f| f != Format::Table);
    match Query::parse(&query) {
        Ok(q) => {
            if json {
                println!("{}", structure(&q));
            } else {
                print!("{}", pretty(&q));
                println!("\nencoded: {}", q.to_encoded());
            }
            Ok(())
        }
        Err(e) => {
            let at = locate(&query, &e);
            if json {
                let mut obj = json!({"valid": false, "error": e.to_string()});
                if let Some((start, end)) = at {
                    obj["at"] = json!({"start": start, "end": end, "text": &query[start..end]});
                }
                println!("{obj}");
            } else if let Some((start, end)) = at {
                eprint!("{}", pointer(&query, start, end));
            }
            Err(CliError::usage(format!("the query cannot be read: {e}")))
        }
    }
}

/// The query as indented lines: groups (`^NQ`) separated by OR, clauses joined by AND, the
/// alternatives of a clause (`^OR`) in parentheses.
pub(crate) fn pretty(q: &Query) -> String {
    let mut out = String::new();
    for (gi, group) in q.groups().iter().enumerate() {
        if gi > 0 {
            out.push_str("OR\n");
        }
        for (ci, clause) in group.clauses().iter().enumerate() {
            let terms: Vec<String> = clause.terms().iter().map(term_text).collect();
            let text = if terms.len() > 1 {
                format!("({})", terms.join(" OR "))
            } else {
                terms.join("")
            };
            out.push_str(if ci == 0 { "  " } else { "  AND " });
            out.push_str(&text);
            out.push('\n');
        }
    }
    if q.groups().is_empty() {
        out.push_str("  (every record)\n");
    }
    for o in q.orders() {
        out.push_str(&format!(
            "ORDER BY {}{}\n",
            o.field.as_str(),
            if o.descending { " descending" } else { "" }
        ));
    }
    out
}

fn scalar(s: &Scalar) -> String {
    s.to_query_text()
}

fn operand_text(o: &Operand) -> String {
    match o {
        Operand::None => String::new(),
        Operand::Scalar(s) => scalar(s),
        Operand::List(items) => format!("({})", items.join(", ")),
        Operand::Between(a, b) => format!("{} AND {}", scalar(a), scalar(b)),
        Operand::Field(f) => f.as_str().to_owned(),
        Operand::SysId(id) => id.clone(),
        Operand::Relative(r) => format!(
            "{} {}(s) {}",
            r.amount,
            r.unit.as_str(),
            if r.ahead { "ahead" } else { "ago" }
        ),
        Operand::Range(r) => format!(
            "{} ({} to {})",
            r.label(),
            scalar(r.start()),
            scalar(r.end())
        ),
        _ => String::from("?"),
    }
}

fn term_text(t: &Term) -> String {
    let operand = operand_text(t.operand());
    if operand.is_empty() {
        format!("{} {}", t.field().as_str(), t.operator())
    } else {
        format!("{} {} {operand}", t.field().as_str(), t.operator())
    }
}

/// The structure as JSON.
fn structure(q: &Query) -> Value {
    let groups: Vec<Value> = q
        .groups()
        .iter()
        .map(|g| {
            Value::Array(
                g.clauses()
                    .iter()
                    .map(|c| {
                        Value::Array(
                            c.terms()
                                .iter()
                                .map(|t| {
                                    json!({
                                        "field": t.field().as_str(),
                                        "operator": t.operator().as_str(),
                                        "value": operand_text(t.operand()),
                                    })
                                })
                                .collect(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let orders: Vec<Value> = q
        .orders()
        .iter()
        .map(|o| json!({"field": o.field.as_str(), "descending": o.descending}))
        .collect();
    json!({"valid": true, "encoded": q.to_encoded(), "groups": groups, "order": orders})
}

/// Where in `query` the error's term, field or value is (byte range).
fn locate(query: &str, e: &QueryError) -> Option<(usize, usize)> {
    let needle = match e {
        QueryError::Parse { term, .. } => term,
        QueryError::InvalidField { name, .. } => name,
        QueryError::InvalidValue { value, .. } => value,
        QueryError::EmptyList { field, .. } => field,
        _ => return None,
    };
    let needle = needle.trim_end_matches('…');
    if needle.is_empty() {
        return None;
    }
    query
        .find(needle)
        .map(|start| (start, start + needle.len()))
}

/// The query with a line of carets under `start..end`.
fn pointer(query: &str, start: usize, end: usize) -> String {
    let lead = query[..start].chars().count();
    let width = query[start..end].chars().count().max(1);
    format!("  {query}\n  {}{}\n", " ".repeat(lead), "^".repeat(width))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_is_shown_with_and_or_and_order() {
        let q = Query::parse("active=true^priority<=2^ORurgency=1^NQstate=6^ORDERBYDESCnumber")
            .unwrap();
        assert_eq!(
            pretty(&q),
            "  active = true\n  AND (priority <= 2 OR urgency = 1)\nOR\n  state = 6\nORDER BY number descending\n"
        );
        let s = structure(&q);
        assert_eq!(s["groups"][0][1][1]["field"], "urgency");
        assert_eq!(s["order"][0]["descending"], true);
    }

    #[test]
    fn operands_of_every_shape() {
        let q = Query::parse(
            "priorityIN1,2^short_descriptionISEMPTY^opened_atBETWEEN2024-01-01@2024-02-01",
        )
        .unwrap();
        let p = pretty(&q);
        assert!(p.contains("priority IN (1, 2)"), "{p}");
        assert!(p.contains("short_description ISEMPTY\n"), "{p}");
        assert!(
            p.contains("opened_at BETWEEN 2024-01-01 AND 2024-02-01"),
            "{p}"
        );
    }

    #[test]
    fn errors_point_at_the_term() {
        let query = "active=true^prioritysomething^state=1";
        let e = Query::parse(query).unwrap_err();
        let (s, end) = locate(query, &e).expect("located");
        assert!(query[s..end].contains("prioritysomething"), "{e}");
        let p = pointer(query, s, end);
        assert!(
            p.lines().nth(1).unwrap().trim_start().starts_with('^'),
            "{p}"
        );
    }
}
