//! Property test: for random field names and values, a query built by `snow_client::query` and read by
//! the dev instance's own parser (which shares no code with the builder) has exactly the
//! intended terms, with the intended fields, operators and values. No value changes the number
//! of terms.

use proptest::prelude::*;
use snow_client::query::{Condition, field};
use snow_devinstance::db::query::{self as devq, Operand, Operator, Value};

#[derive(Clone, Debug)]
enum Op {
    Eq,
    Ne,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    In,
}

fn cond(f: &str, op: &Op, v: &str) -> Condition {
    let x = field(f);
    match op {
        Op::Eq => x.eq(v),
        Op::Ne => x.ne(v),
        Op::Contains => x.contains(v),
        Op::NotContains => x.not_contains(v),
        Op::StartsWith => x.starts_with(v),
        Op::EndsWith => x.ends_with(v),
        Op::In => x.is_in([v, "fixed"]),
    }
}

fn dev_op(op: &Op) -> Operator {
    match op {
        Op::Eq => Operator::Eq,
        Op::Ne => Operator::Ne,
        Op::Contains => Operator::Like,
        Op::NotContains => Operator::NotLike,
        Op::StartsWith => Operator::StartsWith,
        Op::EndsWith => Operator::EndsWith,
        Op::In => Operator::In,
    }
}

fn field_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,12}(\\.[a-z][a-z0-9_]{0,8}){0,2}"
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        // Hostile fragments of the query language.
        proptest::collection::vec(
            prop_oneof![
                Just("^".to_owned()),
                Just("^OR".to_owned()),
                Just("^NQ".to_owned()),
                Just("^ORDERBY".to_owned()),
                Just("^EQ".to_owned()),
                Just("=".to_owned()),
                Just("!=".to_owned()),
                Just("@".to_owned()),
                Just(",".to_owned()),
                Just("ISEMPTY".to_owned()),
                Just("LIKE".to_owned()),
                Just(" ".to_owned()),
                "[a-zA-Z0-9]{1,4}",
            ],
            1..6
        )
        .prop_map(|v| v.concat()),
        // Anything printable.
        "\\PC{1,20}",
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Contains),
        Just(Op::NotContains),
        Just(Op::StartsWith),
        Just(Op::EndsWith),
        Just(Op::In),
    ]
}

fn literal(v: &Value) -> Option<&str> {
    match v {
        Value::Literal(s) => Some(s),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn built_queries_parse_to_exactly_the_intended_terms(
        terms in proptest::collection::vec((field_name(), op(), value()), 1..5),
        or_last in proptest::bool::ANY,
    ) {
        // AND of all terms, or (first terms AND) ^OR-joined last two.
        let conds: Vec<Condition> = terms.iter().map(|(f, o, v)| cond(f, o, v)).collect();
        let built = if or_last && conds.len() >= 2 {
            let mut it = conds.clone().into_iter();
            let a = it.next().unwrap();
            let b = it.next().unwrap();
            let mut q = snow_client::query::AllOf::from(snow_client::query::any([a, b]));
            for c in it {
                q = q & c;
            }
            q.build()
        } else {
            let mut it = conds.clone().into_iter();
            let mut q = snow_client::query::AllOf::from(it.next().unwrap());
            for c in it {
                q = q & c;
            }
            q.build()
        };
        let Ok(query) = built else {
            // Refused (a comma in an IN item, a control character, ...): fine, nothing was sent.
            // Every refusal names the value or field at fault.
            let msg = built.unwrap_err().to_string();
            prop_assert!(!msg.is_empty());
            return Ok(());
        };
        let encoded = query.to_string();
        let parsed = devq::parse(&encoded).map_err(|e| TestCaseError::fail(format!("{encoded:?}: {e}")))?;
        let got: Vec<&devq::Term> = parsed.terms().collect();
        prop_assert_eq!(got.len(), terms.len(), "{:?}", encoded);
        prop_assert_eq!(parsed.groups.len(), 1);
        prop_assert!(parsed.order.is_empty());
        // Our own parser agrees too.
        prop_assert_eq!(snow_client::query::Query::parse(&encoded).map_err(|e| TestCaseError::fail(e.to_string()))?, query);
        for (t, (f, o, v)) in got.iter().zip(&terms) {
            prop_assert_eq!(&t.field, f);
            prop_assert_eq!(t.operator, dev_op(o));
            match (&t.operand, o) {
                (Operand::List(items), Op::In) => {
                    prop_assert_eq!(items.len(), 2);
                    prop_assert_eq!(literal(&items[0]), Some(v.as_str()));
                }
                (Operand::Single(x), _) => prop_assert_eq!(literal(x), Some(v.as_str()), "{:?}", encoded),
                (other, _) => prop_assert!(false, "unexpected operand {:?} for {:?}", other, encoded),
            }
        }
    }
}

/// The property above is not vacuous: these hostile values are accepted (escaped) and parse
/// back to exactly one term each, with the value intact.
#[test]
fn hostile_values_are_escaped_not_refused() {
    for v in [
        "a^NQb",
        "x^ORy=1",
        "^ORDERBYnumber",
        "50%^",
        "^^",
        "a=b!=c",
        "LIKE^EQ",
        "ü^€",
    ] {
        let q = field("short_description").eq(v).build().expect("accepted");
        let parsed = devq::parse(&q.to_string()).expect("parses");
        let terms: Vec<&devq::Term> = parsed.terms().collect();
        assert_eq!(terms.len(), 1, "{q}");
        assert_eq!(terms[0].value, v, "{q}");
        assert!(parsed.order.is_empty(), "{q}");
    }
}
