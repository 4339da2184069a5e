use proptest::prelude::*;

use super::*;

fn ops(q: &Query) -> Vec<(String, Operator, String)> {
    q.terms()
        .map(|t| (t.field.clone(), t.operator, t.value.clone()))
        .collect()
}

#[test]
fn every_operator_parses() {
    let cases: &[(&str, Operator, &str)] = &[
        ("a=1", Operator::Eq, "1"),
        ("a!=1", Operator::Ne, "1"),
        ("a<1", Operator::Lt, "1"),
        ("a<=1", Operator::Le, "1"),
        ("a>1", Operator::Gt, "1"),
        ("a>=1", Operator::Ge, "1"),
        ("aLIKEx", Operator::Like, "x"),
        ("a*x", Operator::Like, "x"),
        ("aNOT LIKEx", Operator::NotLike, "x"),
        ("a!*x", Operator::NotLike, "x"),
        ("aSTARTSWITHx", Operator::StartsWith, "x"),
        ("aENDSWITHx", Operator::EndsWith, "x"),
        ("a%x", Operator::EndsWith, "x"),
        ("aIN1,2", Operator::In, "1,2"),
        ("aNOT IN1,2", Operator::NotIn, "1,2"),
        ("aISEMPTY", Operator::IsEmpty, ""),
        ("aEMPTY", Operator::IsEmpty, ""),
        ("aISNOTEMPTY", Operator::IsNotEmpty, ""),
        ("aNOTEMPTY", Operator::IsNotEmpty, ""),
        ("aEMPTYSTRING", Operator::EmptyString, ""),
        ("aANYTHING", Operator::Anything, ""),
        ("aBETWEEN1@3", Operator::Between, "1@3"),
        ("aSAMEASb", Operator::SameAs, "b"),
        ("aNSAMEASb", Operator::NSameAs, "b"),
        ("aGT_FIELDb", Operator::GtField, "b"),
        ("aLT_FIELDb", Operator::LtField, "b"),
        ("aGT_OR_EQUALS_FIELDb", Operator::GeField, "b"),
        ("aLT_OR_EQUALS_FIELDb", Operator::LeField, "b"),
        ("aONToday@x@y", Operator::On, "Today@x@y"),
        ("aNOTONToday@x@y", Operator::NotOn, "Today@x@y"),
        ("sys_class_nameINSTANCEOFtask", Operator::InstanceOf, "task"),
    ];
    for (text, op, value) in cases {
        let q = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let field = if *op == Operator::InstanceOf {
            "sys_class_name"
        } else {
            "a"
        };
        assert_eq!(
            ops(&q),
            vec![(field.to_owned(), *op, (*value).to_owned())],
            "{text}"
        );
    }
}

#[test]
fn operands_are_structured() {
    let q = parse("aIN1,2,3").expect("parse");
    let t = q.terms().next().expect("term");
    assert_eq!(
        t.operand,
        Operand::List(["1", "2", "3"].map(|s| Value::Literal(s.into())).to_vec())
    );
    let q =
        parse("aBETWEENjavascript:gs.daysAgoStart(1)@javascript:gs.daysAgoEnd(0)").expect("parse");
    assert_eq!(
        q.terms().next().map(|t| t.operand.clone()),
        Some(Operand::Range(
            Value::Script(Script::DaysAgoStart(1)),
            Value::Script(Script::DaysAgoEnd(0))
        ))
    );
    let q = parse("aSAMEASb.c@day").expect("parse");
    assert_eq!(
        q.terms().next().map(|t| t.operand.clone()),
        Some(Operand::Field {
            field: "b.c".into(),
            unit: Some("day".into())
        })
    );
    for (script, expected) in [
        ("gs.getUserID()", Script::GetUserId),
        ("gs.beginningOfToday()", Script::BeginningOfToday),
        ("gs.endOfToday()", Script::EndOfToday),
        ("gs.nowNoTZ()", Script::Now),
        ("gs.daysAgoEnd(-2)", Script::DaysAgoEnd(-2)),
        (
            "gs.dateGenerate('2015-05-09','00:00:00')",
            Script::DateGenerate("2015-05-09 00:00:00".into()),
        ),
        (
            "gs.dateGenerate(\"2015-05-09\",\"end\")",
            Script::DateGenerate("2015-05-09 23:59:59".into()),
        ),
        (
            "gs.dateGenerate(\"2015-05-09 01:02:03\")",
            Script::DateGenerate("2015-05-09 01:02:03".into()),
        ),
    ] {
        let q =
            parse(&format!("a=javascript:{script}")).unwrap_or_else(|e| panic!("{script}: {e}"));
        assert_eq!(
            q.terms().next().map(|t| t.operand.clone()),
            Some(Operand::Single(Value::Script(expected))),
            "{script}"
        );
    }
}

#[test]
fn precedence_structure() {
    let q = parse("a=1^ORb=2^c=3^NQd=4^e=5^ORf=6").expect("parse");
    let shape: Vec<Vec<usize>> = q
        .groups
        .iter()
        .map(|g| g.clauses.iter().map(|c| c.terms.len()).collect())
        .collect();
    assert_eq!(shape, vec![vec![2, 1], vec![1, 2]]);
    // A leading ^OR has nothing to bind to and starts a clause.
    let q = parse("ORa=1^b=2").expect("parse");
    assert_eq!(q.groups[0].clauses.len(), 2);
}

#[test]
fn escapes_order_and_artefacts() {
    let q = parse("a=x^^y^^^ORb=2^EQ^GROUPBYc^ORDERBYa^ORDERBYDESCb.c").expect("parse");
    assert_eq!(
        ops(&q),
        vec![
            ("a".to_owned(), Operator::Eq, "x^y^".to_owned()),
            ("b".to_owned(), Operator::Eq, "2".to_owned())
        ]
    );
    assert_eq!(q.groups[0].clauses.len(), 1);
    assert_eq!(
        q.order,
        vec![
            OrderBy {
                field: "a".into(),
                descending: false
            },
            OrderBy {
                field: "b.c".into(),
                descending: true
            }
        ]
    );
    assert_eq!(parse("").expect("empty"), Query::default());
    assert_eq!(
        parse("^^^").map(|_| ()),
        Err(QueryError::MissingField { term: "^".into() })
    );
}

#[test]
fn errors_name_the_term() {
    for (text, want) in [
        ("priority", "priority"),
        ("=1", "=1"),
        ("aBETWEEN1", "aBETWEEN1"),
        ("aONToday", "aONToday"),
        ("ORDERBY", "ORDERBY"),
        ("ORDERBYDESCA", "ORDERBYDESCA"),
        ("aDYNAMICxyz", "DYNAMIC"),
        ("JOINa.b=c.d!x", "JOIN"),
        ("a=javascript:gs.eval('x')", "gs.eval"),
        ("a=javascript:gs.daysAgoStart(x)", "daysAgoStart"),
        (
            "a=javascript:gs.dateGenerate('2015-13-45','00:00:00')",
            "dateGenerate",
        ),
    ] {
        let e = parse(text).expect_err(text);
        assert!(e.to_string().contains(want), "{text}: {e}");
    }
}

fn term_strategy() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec![
        "priority",
        "state",
        "caller_id.name",
        "short_description",
        "opened_at",
    ]);
    let op = prop::sample::select(vec![
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "LIKE",
        "NOT LIKE",
        "STARTSWITH",
        "ENDSWITH",
        "IN",
        "NOT IN",
        "ISEMPTY",
        "ISNOTEMPTY",
        "ANYTHING",
        "EMPTYSTRING",
    ]);
    (field, op, "[a-zA-Z0-9 ^,]{0,8}").prop_map(|(f, o, v)| {
        let v = if matches!(o, "ISEMPTY" | "ISNOTEMPTY" | "ANYTHING" | "EMPTYSTRING") {
            String::new()
        } else {
            escape_value(&v)
        };
        format!("{f}{o}{v}")
    })
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC{0,80}") {
        let _ = parse(&s);
    }

    #[test]
    fn parse_never_panics_on_query_like_input(s in "[a-z_.]{0,6}(=|!=|<|>|LIKE|IN|BETWEEN|SAMEAS|ON|\\^|\\^OR|\\^NQ|ORDERBY|javascript:gs\\.|\\(|\\)|'|@|,|[A-Z0-9]){0,12}") {
        let _ = parse(&s);
    }

    #[test]
    fn encoding_round_trips(
        terms in prop::collection::vec(term_strategy(), 1..6),
        seps in prop::collection::vec(prop::sample::select(vec!["^", "^OR", "^NQ"]), 6),
    ) {
        let mut text = terms[0].clone();
        for (i, t) in terms.iter().enumerate().skip(1) {
            text.push_str(seps[i]);
            text.push_str(t);
        }
        let q = parse(&text).expect("generated query parses");
        prop_assert_eq!(q.terms().count(), terms.len());
        let again = parse(&q.to_string()).expect("re-encoded query parses");
        prop_assert_eq!(again, q);
    }
}
