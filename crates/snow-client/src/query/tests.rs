use proptest::prelude::*;
use time::macros::{date, datetime};

use super::any;
use super::*;
use proptest::prelude::any as prop_any;

fn s(c: impl IntoQuery) -> String {
    c.into_query().unwrap().to_string()
}

fn err(c: impl IntoQuery) -> QueryError {
    c.into_query().unwrap_err()
}

#[test]
fn every_operator_is_written_as_the_wire_contract_says() {
    let t = |c: Condition, want: &str| assert_eq!(s(c), want);
    t(field("state").eq(2), "state=2");
    t(field("short_description").ne("x"), "short_description!=x");
    t(field("priority").lt(3), "priority<3");
    t(field("priority").le(2), "priority<=2");
    t(field("priority").gt(3), "priority>3");
    t(field("priority").ge(2), "priority>=2");
    t(
        field("short_description").contains("email"),
        "short_descriptionLIKEemail",
    );
    t(
        field("short_description").not_contains("SAP"),
        "short_descriptionNOT LIKESAP",
    );
    t(
        field("short_description").starts_with("SAP"),
        "short_descriptionSTARTSWITHSAP",
    );
    t(
        field("short_description").ends_with("x"),
        "short_descriptionENDSWITHx",
    );
    t(field("priority").is_in([1, 2, 3]), "priorityIN1,2,3");
    t(
        field("subcategory").not_in(["db2", "oracle"]),
        "subcategoryNOT INdb2,oracle",
    );
    t(field("caller_id").is_empty(), "caller_idISEMPTY");
    t(field("caller_id").is_not_empty(), "caller_idISNOTEMPTY");
    t(
        field("short_description").is_empty_string(),
        "short_descriptionEMPTYSTRING",
    );
    t(field("x").is_anything(), "xANYTHING");
    t(field("impact").between(1, 3), "impactBETWEEN1@3");
    t(
        field("caller_id").same_as("assigned_to"),
        "caller_idSAMEASassigned_to",
    );
    t(
        field("caller_id").not_same_as("assigned_to"),
        "caller_idNSAMEASassigned_to",
    );
    t(
        field("reassignment_count").gt_field("reopen_count"),
        "reassignment_countGT_FIELDreopen_count",
    );
    t(field("a").lt_field("b"), "aLT_FIELDb");
    t(field("a").ge_field("b"), "aGT_OR_EQUALS_FIELDb");
    t(field("a").le_field("b"), "aLT_OR_EQUALS_FIELDb");
    t(
        field("caller_id").dynamic("54635e965f510100a9ad2572f2b4774c"),
        "caller_idDYNAMIC54635e965f510100a9ad2572f2b4774c",
    );
    t(
        field("sla_due").relative_gt(Relative::ago(1, TimeUnit::Hour)),
        "sla_dueRELATIVEGT@hour@ago@1",
    );
    t(
        field("d").relative_lt(Relative::ahead(2, TimeUnit::Day)),
        "dRELATIVELT@dayofweek@ahead@2",
    );
    t(
        field("d").relative_ge(Relative::ago(3, TimeUnit::Week)),
        "dRELATIVEGE@week@ago@3",
    );
    t(
        field("d").relative_le(Relative::ago(4, TimeUnit::Month)),
        "dRELATIVELE@month@ago@4",
    );
    t(
        field("d").relative_ee(Relative::ago(5, TimeUnit::Year)),
        "dRELATIVEEE@year@ago@5",
    );
    t(
        field("sys_created_on").on(DatePreset::Today),
        "sys_created_onONToday@javascript:gs.beginningOfToday()@javascript:gs.endOfToday()",
    );
    t(
        field("sys_created_on").not_on(DatePreset::Last7Days),
        "sys_created_onNOTONLast 7 days@javascript:gs.daysAgoStart(7)@javascript:gs.daysAgoEnd(0)",
    );
    t(
        field("opened_at").on(DateRange::day(date!(2016 - 02 - 01))),
        "opened_atON2016-02-01@javascript:gs.dateGenerate('2016-02-01','start')@javascript:gs.dateGenerate('2016-02-01','end')",
    );
    t(
        field("sys_class_name").instance_of("task"),
        "sys_class_nameINSTANCEOFtask",
    );
    t(
        field("company.stock_symbol").eq("NYX"),
        "company.stock_symbol=NYX",
    );
}

#[test]
fn every_preset_builds_and_parses_back() {
    use DatePreset::*;
    for p in [
        Today,
        Yesterday,
        Tomorrow,
        ThisWeek,
        LastWeek,
        NextWeek,
        ThisMonth,
        LastMonth,
        NextMonth,
        ThisQuarter,
        LastQuarter,
        NextQuarter,
        ThisYear,
        LastYear,
        NextYear,
        Last7Days,
        Last30Days,
        Last90Days,
        Last15Minutes,
        Last30Minutes,
        CurrentHour,
        LastHour,
    ] {
        let q = field("opened_at").on(p).build().unwrap();
        assert_eq!(Query::parse(&q.to_string()).unwrap(), q, "{p:?}");
    }
}

#[test]
fn combinators_follow_servicenow_precedence() {
    let a = || field("a").eq(1);
    let b = || field("b").eq(2);
    let c = || field("c").eq(3);
    let d = || field("d").eq(4);
    assert_eq!(s(a() & b()), "a=1^b=2");
    assert_eq!(s(a() | b()), "a=1^ORb=2");
    assert_eq!(s(a() & (b() | c())), "a=1^b=2^ORc=3");
    assert_eq!(s((a() | b()) & c()), "a=1^ORb=2^c=3");
    // (a AND b) OR c is a new query.
    assert_eq!(s(a() & b() | c()), "a=1^b=2^NQc=3");
    assert_eq!(s(a() | b() & c()), "a=1^NQb=2^c=3");
    assert_eq!(s(a() & b() | c() & d()), "a=1^b=2^NQc=3^d=4");
    assert_eq!(s((a() | b()) & (c() | d())), "a=1^ORb=2^c=3^ORd=4");
    assert_eq!(s(any([a(), b(), c()])), "a=1^ORb=2^ORc=3");
    assert_eq!(s(all([a(), b()])), "a=1^b=2");
    assert_eq!(s(all([a() | b(), c().into()])), "a=1^ORb=2^c=3");
    assert_eq!(err(any(Vec::new())), QueryError::EmptyGroup);
    assert_eq!(err(all(Vec::<Condition>::new())), QueryError::EmptyGroup);
}

#[test]
fn ordering() {
    let q = field("priority")
        .is_in([3, 4])
        .order_by_desc("created_at")
        .order_by("priority")
        .build()
        .unwrap();
    // pysnow docs example.
    assert_eq!(
        q.to_string(),
        "priorityIN3,4^ORDERBYDESCcreated_at^ORDERBYpriority"
    );
    assert!(q.has_order());
    let q = QueryBuilder::new().order_by("number").build().unwrap();
    assert_eq!(q.to_string(), "ORDERBYnumber");
    assert!(
        err(QueryBuilder::new().order_by("bad name"))
            .to_string()
            .contains("bad name")
    );
    let q = Query::new().order_by(FieldName::new("sys_id").unwrap(), false);
    assert_eq!(q.to_string(), "ORDERBYsys_id");
}

#[test]
fn pysnow_examples() {
    let q = (field("f1").eq("val1")
        & field("f2").between(
            Value::date_generate_in_user_time_zone(datetime!(2016-02-01 00:00:00)),
            Value::date_generate_in_user_time_zone(datetime!(2016-02-10 00:00:00)),
        )
        | field("f3").eq("val3"))
    .build()
    .unwrap();
    assert_eq!(
        q.to_string(),
        "f1=val1^f2BETWEENjavascript:gs.dateGenerate('2016-02-01','00:00:00')@javascript:gs.dateGenerate('2016-02-10','00:00:00')^NQf3=val3"
    );
    // Aware datetimes are converted to UTC.
    assert_eq!(
        s(field("test").gt(datetime!(2016-02-01 03:00:00 +01:00))),
        "test>2016-02-01 02:00:00"
    );
    assert_eq!(
        s(field("sys_created_on").gt(datetime!(2020-01-02 03:04:05 UTC))),
        "sys_created_on>2020-01-02 03:04:05"
    );
}

#[test]
fn caret_is_escaped_and_parsed_back() {
    let q = field("short_description")
        .eq("Cost^Center")
        .build()
        .unwrap();
    assert_eq!(q.to_string(), "short_description=Cost^^Center");
    assert_eq!(Query::parse(&q.to_string()).unwrap(), q);
    // ^OR and ^NQ inside values stay inside.
    let q = (field("a").eq("x^ORb=1") & field("c").is_in(["^NQd", "e^"]))
        .build()
        .unwrap();
    assert_eq!(q.to_string(), "a=x^^ORb=1^cIN^^NQd,e^^");
    let back = Query::parse(&q.to_string()).unwrap();
    assert_eq!(back, q);
    assert_eq!(back.groups().len(), 1);
    assert_eq!(back.groups()[0].clauses().len(), 2);
}

#[test]
fn values_that_would_change_the_query_are_refused_by_name() {
    let cases: Vec<(Condition, &str)> = vec![
        (field("number").is_in(["INC1,INC2"]), "INC1,INC2"),
        (field("a").eq("line\nbreak"), "line\nbreak"),
        (field("a").eq("carriage\rreturn"), "carriage\rreturn"),
        (field("a").eq("nul\0"), "nul\0"),
        (field("a").between("1@2", "3"), "1@2"),
        (field("a").between("1", "x@y"), "x@y"),
        (
            field("a").eq("javascript:gs.getUserID()"),
            "javascript:gs.getUserID()",
        ),
        (field("a").eq(" JavaScript:evil()"), " JavaScript:evil()"),
        (field("a").is_in(["ok", "javascript:x()"]), "javascript:x()"),
        (
            field("a").is_in([Value::javascript("gs.getUserID()")]),
            "javascript:gs.getUserID()",
        ),
        (field("a").lt("=5"), "=5"),
        (field("a").gt("=5"), "=5"),
        (field("a").is_in(["STANCEOFtask"]), "STANCEOFtask"),
        (field("a").dynamic("me"), "me"),
        (
            field("a").on(DateRange::custom(
                "x@y",
                Value::javascript("a()"),
                Value::javascript("b()"),
            )),
            "x@y",
        ),
        (
            field("a").on(DateRange::custom(
                "L",
                Value::javascript("a(1@2)"),
                Value::javascript("b()"),
            )),
            "a(1@2)",
        ),
    ];
    for (cond, value) in cases {
        let e = err(cond);
        let QueryError::InvalidValue { value: named, .. } = &e else {
            panic!("{value:?}: {e:?}");
        };
        assert_eq!(named, value);
        assert!(e.to_string().contains(&format!("{value:?}")), "{e}");
    }
    assert!(matches!(
        err(field("a").is_in(Vec::<String>::new())),
        QueryError::EmptyList { .. }
    ));
    // The first error wins through combinators.
    let e = err(field("ok").eq(1) & (field("a").eq("x\ny") | field("B").eq(1)));
    assert!(e.to_string().contains("x\\ny"));
}

#[test]
fn field_names_are_validated() {
    for bad in [
        "", "Active", "a b", "a..b", ".a", "a.", "a^b", "a=b", "sys_id\n",
    ] {
        let e = err(field(bad).eq(1));
        assert!(matches!(e, QueryError::InvalidField { .. }), "{bad}: {e:?}");
    }
    assert!(matches!(
        err(field("a").same_as("B")),
        QueryError::InvalidField { .. }
    ));
    assert!(matches!(
        err(field("a").instance_of("a.b")),
        QueryError::InvalidField { .. }
    ));
    assert!(
        field("caller_id.department.dept_head")
            .eq(1)
            .build()
            .is_ok()
    );
}

#[test]
fn script_values_only_through_the_explicit_api() {
    assert_eq!(
        s(field("caller_id").eq(Value::javascript("gs.getUserID()"))),
        "caller_id=javascript:gs.getUserID()"
    );
    assert_eq!(
        s(field("sla_due").between(
            Value::javascript("gs.daysAgoStart(1)"),
            Value::javascript("gs.daysAgoEnd(0)")
        )),
        "sla_dueBETWEENjavascript:gs.daysAgoStart(1)@javascript:gs.daysAgoEnd(0)"
    );
    assert!(matches!(
        err(field("a").eq(Value::javascript("x\n"))),
        QueryError::InvalidValue { .. }
    ));
}

#[test]
fn value_types() {
    assert_eq!(s(field("active").eq(true)), "active=true");
    assert_eq!(s(field("active").eq(false)), "active=false");
    assert_eq!(s(field("n").eq(-3i32)), "n=-3");
    assert_eq!(s(field("n").eq(7u64)), "n=7");
    let id = crate::SysId::new("9d385017c611228701d22104cc95c371").unwrap();
    assert_eq!(
        s(field("sys_id").eq(&id)),
        "sys_id=9d385017c611228701d22104cc95c371"
    );
    assert_eq!(s(field("d").ge(date!(2025 - 08 - 01))), "d>=2025-08-01");
    assert_eq!(s(field("a").eq("")), "a=");
    assert_eq!(s(field("a").eq(String::from("x"))), "a=x");
}

#[test]
fn raw_queries_are_sent_as_is() {
    let raw = "RLQUERYincident.problem_id,>=1^ENDRLQUERY";
    let q = Query::raw_unchecked(raw);
    assert!(q.is_raw());
    assert_eq!(q.to_string(), raw);
    assert!(!q.has_order());
    assert_eq!(
        q.clone()
            .order_by(FieldName::new("sys_id").unwrap(), true)
            .to_string(),
        format!("{raw}^ORDERBYDESCsys_id")
    );
    let term = field("sys_id").gt("a").into_term().unwrap();
    assert_eq!(q.and_term(term), Err(QueryError::Raw));
}

#[test]
fn and_term_distributes_over_groups() {
    let q = (field("a").eq(1) | field("b").eq(2) & field("c").eq(3))
        .order_by("sys_id")
        .build()
        .unwrap();
    let term = field("sys_id").gt("abc").into_term().unwrap();
    let q = q.and_term(term.clone()).unwrap();
    assert_eq!(
        q.to_string(),
        "a=1^sys_id>abc^NQb=2^c=3^sys_id>abc^ORDERBYsys_id"
    );
    let empty = Query::new().and_term(term).unwrap();
    assert_eq!(empty.to_string(), "sys_id>abc");
}

#[test]
fn parse_reads_the_structure() {
    let q =
        Query::parse("active=true^priority<=2^ORurgency=1^NQstate=6^ORDERBYDESCnumber").unwrap();
    assert_eq!(q.groups().len(), 2);
    let g0 = &q.groups()[0];
    assert_eq!(g0.clauses().len(), 2);
    assert_eq!(g0.clauses()[1].terms().len(), 2);
    let t = &g0.clauses()[1].terms()[0];
    assert_eq!(t.field().as_str(), "priority");
    assert_eq!(t.operator(), Operator::Le);
    assert_eq!(t.operand(), &Operand::Scalar(Scalar::Text("2".into())));
    assert_eq!(
        q.orders(),
        &[Order {
            field: FieldName::new("number").unwrap(),
            descending: true
        }]
    );
    assert!(Query::parse("").unwrap().is_empty());
    // Orders may come first.
    let q = Query::parse("ORDERBYnumber^active=true").unwrap();
    assert_eq!(q.to_string(), "active=true^ORDERBYnumber");
}

#[test]
fn operator_table_is_longest_first() {
    let ops = Operator::BY_LENGTH;
    for (i, a) in ops.iter().enumerate() {
        for b in &ops[i + 1..] {
            assert!(
                !b.as_str().starts_with(a.as_str()) || a == b,
                "{a} must come after {b}"
            );
        }
        assert_eq!(Operator::match_prefix(a.as_str()), Some(*a));
    }
}

// ---- property tests ----

fn field_name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,8}(\\.[a-z0-9_]{1,6}){0,2}"
}

/// Values with every character that matters to the encoding, and then some.
fn hostile() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9 ^@,=<>!.%&_:;'\"\\\\/é中\\-]{0,12}").unwrap()
}

fn scalar_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        hostile().prop_map(Value::from),
        prop_any::<i64>().prop_map(Value::from),
        prop_any::<bool>().prop_map(Value::from),
        "[a-zA-Z0-9().,' ^]{0,10}".prop_map(Value::javascript),
        (0i64..253402300799)
            .prop_map(|t| Value::from(time::OffsetDateTime::from_unix_timestamp(t).unwrap())),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    let f = field_name();
    (
        f,
        field_name(),
        0u8..32,
        scalar_value(),
        scalar_value(),
        proptest::collection::vec(hostile(), 1..4),
        hostile(),
        0u32..1000,
    )
        .prop_map(|(name, other, op, v1, v2, list, text, n)| {
            let f = field(&name);
            match op {
                0 => f.eq(v1),
                1 => f.ne(v1),
                2 => f.lt(v1),
                3 => f.le(v1),
                4 => f.gt(v1),
                5 => f.ge(v1),
                6 => f.contains(v1),
                7 => f.not_contains(v1),
                8 => f.starts_with(v1),
                9 => f.ends_with(v1),
                10 => f.is_in(list),
                11 => f.not_in(list),
                12 => f.is_empty(),
                13 => f.is_not_empty(),
                14 => f.is_empty_string(),
                15 => f.is_anything(),
                16 => f.between(v1, v2),
                17 => f.same_as(other),
                18 => f.not_same_as(other),
                19 => f.gt_field(other),
                20 => f.lt_field(other),
                21 => f.ge_field(other),
                22 => f.le_field(other),
                23 => f.dynamic(format!("{:032x}", u128::from(n) * 7919)),
                24 => f.relative_gt(Relative::ago(n, TimeUnit::Hour)),
                25 => f.relative_lt(Relative::ahead(n, TimeUnit::Minute)),
                26 => f.relative_ge(Relative::ago(n, TimeUnit::Quarter)),
                27 => f.relative_le(Relative::ahead(n, TimeUnit::Year)),
                28 => f.relative_ee(Relative::ago(n, TimeUnit::Day)),
                29 => f.on(DateRange::custom(text, v1, v2)),
                30 => f.not_on(DatePreset::LastMonth),
                _ => f.instance_of(other.replace('.', "_")),
            }
        })
}

/// Groups of clauses of conditions, and sort keys.
type Generated = (Vec<Vec<Vec<Condition>>>, Vec<(String, bool)>);

fn query() -> impl Strategy<Value = Generated> {
    let clause = proptest::collection::vec(condition(), 1..3);
    let group = proptest::collection::vec(clause, 1..3);
    (
        proptest::collection::vec(group, 0..3),
        proptest::collection::vec((field_name(), prop_any::<bool>()), 0..2),
    )
}

fn assemble(groups: Vec<Vec<Vec<Condition>>>, orders: Vec<(String, bool)>) -> QueryBuilder {
    let mut filter: Option<Filter> = None;
    for g in groups {
        let group = all(g.into_iter().map(any));
        filter = Some(match filter {
            None => group.into(),
            Some(f) => f | group,
        });
    }
    let mut b = filter.map(QueryBuilder::from).unwrap_or_default();
    for (f, desc) in orders {
        b = if desc {
            b.order_by_desc(f)
        } else {
            b.order_by(f)
        };
    }
    b
}

fn count_terms(q: &Query) -> usize {
    q.groups()
        .iter()
        .flat_map(|g| g.clauses())
        .map(|c| c.terms().len())
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// parse(build(q)) == q for every query the builder accepts.
    #[test]
    fn parse_inverts_build((groups, orders) in query()) {
        let expected_terms: usize = groups.iter().flatten().map(Vec::len).sum();
        if let Ok(q) = assemble(groups, orders).build() {
            let text = q.to_string();
            let back = Query::parse(&text);
            prop_assert_eq!(back.as_ref(), Ok(&q), "text: {}", text);
            prop_assert_eq!(count_terms(&q), expected_terms);
        }
    }

    /// A hostile value is either refused with an error naming it, or stays exactly one term
    /// holding exactly that value.
    #[test]
    fn no_value_changes_the_number_of_terms(name in field_name(), v in prop_any::<String>(), op in 0u8..4) {
        let f = field(&name);
        let cond = match op {
            0 => f.eq(v.as_str()),
            1 => f.contains(v.as_str()),
            2 => f.is_in([v.as_str(), "x"]),
            _ => f.between(v.as_str(), "z"),
        };
        match (cond & field("tail").eq(1)).build() {
            Err(QueryError::InvalidValue { value, .. }) => {
                let shown = check::quote(&v);
                prop_assert!(value == shown || value == "x" || value == "z", "{value:?} vs {shown:?}");
            }
            Err(e) => prop_assert!(false, "unexpected error {e:?}"),
            Ok(q) => {
                let back = Query::parse(&q.to_string()).unwrap();
                prop_assert_eq!(count_terms(&back), 2);
                let t = &back.groups()[0].clauses()[0].terms()[0];
                let got = match t.operand() {
                    Operand::Scalar(Scalar::Text(s)) => s.clone(),
                    Operand::List(items) => items[0].clone(),
                    Operand::Between(Scalar::Text(a), _) => a.clone(),
                    other => return Err(TestCaseError::fail(format!("{other:?}"))),
                };
                prop_assert_eq!(got, v);
            }
        }
    }

    /// Parsing arbitrary text never panics.
    #[test]
    fn parse_never_panics(text in "[a-zA-Z0-9 ^@,=<>!._:]{0,40}") {
        let _ = Query::parse(&text);
    }
}

/// The property above is only meaningful if most generated queries are valid.
#[test]
fn generated_queries_are_mostly_valid() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = query();
    let (mut ok, mut nonempty) = (0, 0);
    for _ in 0..500 {
        let (groups, orders) = strategy.new_tree(&mut runner).unwrap().current();
        let has_terms = !groups.is_empty();
        if let Ok(q) = assemble(groups, orders).build() {
            ok += 1;
            if has_terms && q.to_string().contains('^') {
                nonempty += 1;
            }
        }
    }
    eprintln!("{ok} of 500 generated queries valid, {nonempty} with several terms");
    assert!(ok > 150, "only {ok} of 500 generated queries were valid");
    assert!(nonempty > 50, "only {nonempty} multi-term queries");
}
