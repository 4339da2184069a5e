use serde_json::{Map, Value, json};
use time::macros::datetime;

use super::*;

/// A small, fully known database: two users, one group, one server, four incidents.
struct Fixture {
    db: Db,
    ctx: EvalCtx,
    alice: String,
    bob: String,
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn fixture() -> Fixture {
    let mut db = Db::empty();
    let mut ctx = EvalCtx {
        user_sys_id: seed::ADMIN_SYS_ID.to_owned(),
        now: datetime!(2025-06-15 12:00:00 UTC),
    };
    let add = |db: &mut Db, ctx: &EvalCtx, table: &str, v: Value| -> String {
        db.insert(table, &obj(v), ctx)
            .expect("insert")
            .sys_id()
            .to_owned()
    };
    let alice = add(
        &mut db,
        &ctx,
        "sys_user",
        json!({"user_name":"alice","name":"Alice Able","email":"alice@example.com"}),
    );
    let bob = add(
        &mut db,
        &ctx,
        "sys_user",
        json!({"user_name":"bob","name":"Bob Brown","email":"bob@example.com","manager":alice}),
    );
    let group = add(
        &mut db,
        &ctx,
        "sys_user_group",
        json!({"name":"Network","manager":bob}),
    );
    let ci = add(
        &mut db,
        &ctx,
        "cmdb_ci_linux_server",
        json!({"name":"lnx-1","cpu_count":4}),
    );
    add(
        &mut db,
        &ctx,
        "incident",
        json!({"number":"INC1","short_description":"Email is down","priority":"1","state":"1",
               "category":"software","caller_id":alice,"assignment_group":group,"cmdb_ci":ci,
               "opened_at":"2025-06-15 08:00:00","active":true,"reassignment_count":"2","reopen_count":2}),
    );
    add(
        &mut db,
        &ctx,
        "incident",
        json!({"number":"INC2","short_description":"VPN drops ^ sometimes","priority":3,"state":"2",
               "category":"network","caller_id":bob,"opened_at":"2025-06-14 10:00:00","active":"True",
               "reassignment_count":0,"reopen_count":1,"description":"has \"quotes\"\nand\u{1}ctl"}),
    );
    add(
        &mut db,
        &ctx,
        "incident",
        json!({"number":"INC3","short_description":"Printer jam","priority":"5","state":"7",
               "category":"hardware","opened_at":"2025-01-01 00:00:00","active":false,
               "reassignment_count":10,"reopen_count":3}),
    );
    ctx.user_sys_id = alice.clone();
    add(
        &mut db,
        &ctx,
        "incident",
        json!({"number":"INC4","short_description":"email quota","priority":"2","state":"6",
               "category":"software","caller_id":alice,"assigned_to":alice,
               "opened_at":"2024-12-31 23:59:59","active":"false","reassignment_count":1,"reopen_count":1}),
    );
    ctx.user_sys_id = seed::ADMIN_SYS_ID.to_owned();
    Fixture {
        db,
        ctx,
        alice,
        bob,
    }
}

impl Fixture {
    fn q(&self, query: &str) -> Vec<&str> {
        self.q_as(query, &self.ctx)
    }

    fn q_as(&self, query: &str, ctx: &EvalCtx) -> Vec<&str> {
        let page = self
            .db
            .list("incident", query, ctx, 0, 100)
            .unwrap_or_else(|e| panic!("query {query:?} failed: {e}"));
        assert_eq!(page.total, page.rows.len());
        page.rows
            .iter()
            .map(|r| r.get("number").unwrap_or_default())
            .collect()
    }

    fn render(&self, table: &str, sys_id: &str, opts: &RenderOpts<'_>) -> Value {
        let rec = self.db.get(table, sys_id).expect("record");
        let mut out = Vec::new();
        self.db.render(table, rec, opts, &mut out);
        serde_json::from_slice(&out).expect("rendered JSON parses")
    }

    fn inc(&self, number: &str) -> String {
        self.db
            .list("incident", &format!("number={number}"), &self.ctx, 0, 1)
            .expect("list")
            .rows[0]
            .sys_id()
            .to_owned()
    }
}

fn opts(dv: DisplayValue, exclude: bool) -> RenderOpts<'static> {
    RenderOpts {
        fields: None,
        display_value: dv,
        exclude_reference_link: exclude,
        link_base: "http://h/api/now/v2",
    }
}

#[test]
fn equality_and_inequality_are_typed() {
    let f = fixture();
    assert_eq!(f.q("priority=1"), ["INC1"]);
    assert_eq!(f.q("priority=01"), ["INC1"]);
    assert_eq!(f.q("priority!=1"), ["INC2", "INC3", "INC4"]);
    assert_eq!(f.q("state=7"), ["INC3"]);
    assert_eq!(f.q("active=true"), ["INC1", "INC2"]);
    assert_eq!(f.q("active=false"), ["INC3", "INC4"]);
    assert_eq!(f.q("active!=true"), ["INC3", "INC4"]);
    assert_eq!(f.q("short_description=Printer jam"), ["INC3"]);
}

#[test]
fn ordering_operators_compare_numbers_numerically() {
    let f = fixture();
    assert_eq!(f.q("priority<3"), ["INC1", "INC4"]);
    assert_eq!(f.q("priority<=3"), ["INC1", "INC2", "INC4"]);
    assert_eq!(f.q("priority>3"), ["INC3"]);
    assert_eq!(f.q("priority>=3"), ["INC2", "INC3"]);
    // 10 > 2 numerically although "10" < "2" lexically.
    assert_eq!(f.q("reassignment_count>2"), ["INC3"]);
    // Strings compare lexically.
    assert_eq!(f.q("short_description<F"), ["INC1"]);
}

#[test]
fn dates_compare_chronologically_with_date_only_literals() {
    let f = fixture();
    assert_eq!(f.q("opened_at>2025-01-01"), ["INC1", "INC2"]);
    assert_eq!(f.q("opened_at>=2025-01-01"), ["INC1", "INC2", "INC3"]);
    assert_eq!(f.q("opened_at<2025-01-01 00:00:00"), ["INC4"]);
    assert_eq!(f.q("opened_at=2025-06-14 10:00:00"), ["INC2"]);
    assert!(matches!(
        f.db.list("incident", "opened_at<yesterday", &f.ctx, 0, 10),
        Err(DbError::InvalidQuery(_))
    ));
}

#[test]
fn text_operators_are_case_insensitive() {
    let f = fixture();
    assert_eq!(f.q("short_descriptionLIKEemail"), ["INC1", "INC4"]);
    assert_eq!(f.q("short_description*EMAIL"), ["INC1", "INC4"]);
    assert_eq!(f.q("short_descriptionNOT LIKEemail"), ["INC2", "INC3"]);
    assert_eq!(f.q("short_description!*email"), ["INC2", "INC3"]);
    assert_eq!(f.q("short_descriptionSTARTSWITHemail"), ["INC1", "INC4"]);
    assert_eq!(f.q("short_descriptionENDSWITHJAM"), ["INC3"]);
    assert_eq!(f.q("short_description%jam"), ["INC3"]);
}

#[test]
fn in_lists_and_emptiness() {
    let f = fixture();
    assert_eq!(f.q("priorityIN1,5"), ["INC1", "INC3"]);
    assert_eq!(f.q("priorityNOT IN1,5"), ["INC2", "INC4"]);
    assert_eq!(f.q(&format!("caller_idIN{},x", f.bob)), ["INC2"]);
    assert_eq!(f.q("caller_idISEMPTY"), ["INC3"]);
    assert_eq!(f.q("caller_idEMPTY"), ["INC3"]);
    assert_eq!(f.q("caller_idISNOTEMPTY"), ["INC1", "INC2", "INC4"]);
    assert_eq!(f.q("descriptionEMPTYSTRING"), ["INC1", "INC3", "INC4"]);
    assert_eq!(f.q("descriptionANYTHING"), ["INC1", "INC2", "INC3", "INC4"]);
}

#[test]
fn between_and_on_are_inclusive_and_accept_scripts() {
    let f = fixture();
    assert_eq!(f.q("priorityBETWEEN2@3"), ["INC2", "INC4"]);
    assert_eq!(
        f.q("opened_atBETWEEN2025-06-14 00:00:00@2025-06-15 08:00:00"),
        ["INC1", "INC2"]
    );
    assert_eq!(
        f.q("opened_atBETWEENjavascript:gs.daysAgoStart(1)@javascript:gs.daysAgoEnd(0)"),
        ["INC1", "INC2"]
    );
    assert_eq!(
        f.q("opened_atBETWEENjavascript:gs.dateGenerate('2024-12-31','end')@javascript:gs.dateGenerate('2025-01-01','start')"),
        ["INC3", "INC4"]
    );
    let today = "ONToday@javascript:gs.beginningOfToday()@javascript:gs.endOfToday()";
    assert_eq!(f.q(&format!("opened_at{today}")), ["INC1"]);
    assert_eq!(
        f.q(&format!("opened_atNOT{today}")),
        ["INC2", "INC3", "INC4"]
    );
    assert_eq!(f.q("opened_at>javascript:gs.daysAgo(1)"), ["INC1"]);
    assert_eq!(f.q("opened_at<javascript:gs.nowNoTZ()").len(), 4);
    assert_eq!(f.q("opened_at>=javascript:gs.hoursAgo(4)"), ["INC1"]);
}

#[test]
fn field_to_field_comparisons() {
    let f = fixture();
    assert_eq!(f.q("caller_idSAMEASassigned_to"), ["INC4"]);
    assert_eq!(f.q("caller_idNSAMEASassigned_to"), ["INC1", "INC2", "INC3"]);
    assert_eq!(f.q("reassignment_countGT_FIELDreopen_count"), ["INC3"]);
    assert_eq!(
        f.q("reassignment_countGT_OR_EQUALS_FIELDreopen_count"),
        ["INC1", "INC3", "INC4"]
    );
    assert_eq!(f.q("reassignment_countLT_FIELDreopen_count"), ["INC2"]);
    assert_eq!(
        f.q("reassignment_countLT_OR_EQUALS_FIELDreopen_count"),
        ["INC1", "INC2", "INC4"]
    );
    // INC1 was opened on the day the fixture was created.
    assert_eq!(f.q("opened_atSAMEASsys_created_on@day"), ["INC1"]);
    // Unknown field on the right-hand side: the term is dropped.
    assert_eq!(f.q("caller_idSAMEASnope^priority=1"), ["INC1"]);
}

#[test]
fn dot_walk_and_references() {
    let f = fixture();
    assert_eq!(f.q("caller_id.name=Alice Able"), ["INC1", "INC4"]);
    assert_eq!(
        f.q("assignment_group.manager.email=bob@example.com"),
        ["INC1"]
    );
    assert_eq!(f.q("cmdb_ci.name=lnx-1"), ["INC1"]);
    // cmdb_ci (the referenced table) has no cpu_count: the term is dropped.
    assert_eq!(f.q("cmdb_ci.cpu_count>=4").len(), 4);
    assert_eq!(f.q("caller_id.nameSTARTSWITHbob"), ["INC2"]);
    assert_eq!(f.q("caller_id.manager.name=Alice Able"), ["INC2"]);
    // Text operators on a reference match its display value; = matches sys_id or display.
    assert_eq!(f.q("caller_idLIKEalice"), ["INC1", "INC4"]);
    assert_eq!(f.q(&format!("caller_id={}", f.alice)), ["INC1", "INC4"]);
    assert_eq!(f.q("caller_id=Bob Brown"), ["INC2"]);
    let as_alice = EvalCtx {
        user_sys_id: f.alice.clone(),
        now: f.ctx.now,
    };
    assert_eq!(
        f.q_as("opened_by=javascript:gs.getUserID()", &as_alice),
        ["INC4"]
    );
}

#[test]
fn precedence_or_binds_tighter_than_and_nq_separates_groups() {
    let f = fixture();
    assert_eq!(f.q("priority=1^ORpriority=5^active=true"), ["INC1"]);
    assert_eq!(f.q("active=true^priority=1^ORpriority=5"), ["INC1"]);
    assert_eq!(f.q("active=false^priority=1^ORpriority=5"), ["INC3"]);
    assert_eq!(f.q("priority=1^NQpriority=5"), ["INC1", "INC3"]);
    assert_eq!(
        f.q("active=true^priority=3^NQactive=false^priority=2"),
        ["INC2", "INC4"]
    );
    assert_eq!(
        f.q("priority=3^ORpriority=5^NQcaller_id.name=Alice Able^priority=2"),
        ["INC2", "INC3", "INC4"]
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let f = fixture();
    assert_eq!(f.q("nonexistent=1^priority=1"), ["INC1"]);
    assert_eq!(f.q("nonexistent=1").len(), 4);
    assert_eq!(f.q("priority=1^ORbogus=2"), ["INC1"]);
    assert_eq!(f.q("caller_id.bogus=x^priority=5"), ["INC3"]);
    assert_eq!(f.q("priority=1^NQbogus=1"), ["INC1"]);
    assert_eq!(f.q("ORDERBYbogus^priority=5"), ["INC3"]);
}

#[test]
fn caret_escape_and_ui_artefacts() {
    let f = fixture();
    assert_eq!(f.q("short_descriptionLIKE^^"), ["INC2"]);
    assert_eq!(f.q("short_description=VPN drops ^^ sometimes"), ["INC2"]);
    assert_eq!(f.q("priority=1^EQ"), ["INC1"]);
    assert_eq!(f.q("priority=1^EQ^GROUPBYcategory"), ["INC1"]);
    assert_eq!(f.q("").len(), 4);
}

#[test]
fn ordering_is_typed_multi_key_and_stable() {
    let f = fixture();
    assert_eq!(f.q("ORDERBYpriority"), ["INC1", "INC4", "INC2", "INC3"]);
    assert_eq!(f.q("ORDERBYDESCpriority"), ["INC3", "INC2", "INC4", "INC1"]);
    assert_eq!(
        f.q("ORDERBYreassignment_count"),
        ["INC2", "INC4", "INC1", "INC3"]
    );
    assert_eq!(
        f.q("ORDERBYactive^ORDERBYDESCopened_at"),
        ["INC3", "INC4", "INC1", "INC2"]
    );
    // References sort by display value; empties first; ties keep insertion order.
    assert_eq!(f.q("ORDERBYcaller_id"), ["INC3", "INC1", "INC4", "INC2"]);
    assert_eq!(
        f.q("ORDERBYDESCcaller_id.name"),
        ["INC2", "INC1", "INC4", "INC3"]
    );
    assert_eq!(f.q("active=true^ORDERBYDESCnumber"), ["INC2", "INC1"]);
}

#[test]
fn paging_reports_total_and_slices_in_order() {
    let f = fixture();
    let p =
        f.db.list("incident", "ORDERBYpriority", &f.ctx, 1, 2)
            .expect("list");
    assert_eq!(p.total, 4);
    let n: Vec<_> = p.rows.iter().filter_map(|r| r.get("number")).collect();
    assert_eq!(n, ["INC4", "INC2"]);
    let p = f.db.list("incident", "", &f.ctx, 3, 10).expect("list");
    assert_eq!((p.total, p.rows.len()), (4, 1));
    let p = f.db.list("incident", "", &f.ctx, 10, 10).expect("list");
    assert_eq!((p.total, p.rows.len()), (4, 0));
    let p =
        f.db.list("incident", "", &f.ctx, 0, usize::MAX)
            .expect("list");
    assert_eq!(p.rows.len(), 4);
}

#[test]
fn parent_tables_list_children_and_instanceof_filters() {
    let f = fixture();
    assert_eq!(
        f.db.list("task", "", &f.ctx, 0, 100).expect("task").total,
        4
    );
    let p =
        f.db.list("task", "sys_class_nameINSTANCEOFincident", &f.ctx, 0, 100)
            .expect("task");
    assert_eq!(p.total, 4);
    let p =
        f.db.list("task", "sys_class_nameINSTANCEOFproblem", &f.ctx, 0, 100)
            .expect("task");
    assert_eq!(p.total, 0);
    let ci =
        f.db.list("cmdb_ci", "name=lnx-1", &f.ctx, 0, 10)
            .expect("ci");
    assert_eq!(ci.total, 1);
    assert_eq!(ci.rows[0].class_name(), "cmdb_ci_linux_server");
    let id = f.inc("INC1");
    assert!(f.db.get("task", &id).is_some());
    assert!(f.db.get("problem", &id).is_none());
    assert_eq!(f.db.count("task"), 4);
}

#[test]
fn bad_queries_are_clear_errors() {
    let f = fixture();
    for q in [
        "priority",
        "=1",
        "priorityBETWEEN1",
        "opened_at>javascript:alert(1)",
        "ORDERBY",
        "ORDERBYDESC",
        "priorityFOO1",
        "priorityDYNAMIC90d1921e5f510100a9ad2572f2b477fe",
        "RLQUERYincident.problem_id,>=1^ENDRLQUERY",
        "opened_atONToday",
        "caller_idSAMEAS",
        "javascript:'priority=1'",
    ] {
        match f.db.list("incident", q, &f.ctx, 0, 10) {
            Err(DbError::InvalidQuery(msg)) => assert!(!msg.is_empty(), "{q}"),
            other => panic!("{q:?} gave {other:?}"),
        }
    }
    assert!(matches!(
        f.db.list("nope", "", &f.ctx, 0, 1),
        Err(DbError::InvalidTable(t)) if t == "nope"
    ));
}

#[test]
fn render_false_gives_strings_and_reference_links() {
    let f = fixture();
    let v = f.render(
        "incident",
        &f.inc("INC1"),
        &opts(DisplayValue::False, false),
    );
    let o = v.as_object().expect("object");
    assert!(o.values().all(|x| x.is_string() || x.is_object()));
    assert_eq!(v["priority"], "1");
    assert_eq!(v["active"], "true");
    assert_eq!(v["sys_mod_count"], "0");
    assert_eq!(v["reassignment_count"], "2");
    assert_eq!(
        v["caller_id"],
        json!({"link": format!("http://h/api/now/v2/table/sys_user/{}", f.alice), "value": f.alice})
    );
    assert_eq!(v["assigned_to"], "");
    assert_eq!(v["comments"], "");
    assert_eq!(v["sys_class_name"], "incident");
    let v = f.render("incident", &f.inc("INC1"), &opts(DisplayValue::False, true));
    assert_eq!(v["caller_id"], json!(f.alice));
}

#[test]
fn render_true_gives_display_values() {
    let f = fixture();
    let v = f.render("incident", &f.inc("INC1"), &opts(DisplayValue::True, false));
    assert_eq!(v["priority"], "1 - Critical");
    assert_eq!(v["state"], "New");
    assert_eq!(v["category"], "Software");
    assert_eq!(
        v["caller_id"],
        json!({"display_value":"Alice Able","link": format!("http://h/api/now/v2/table/sys_user/{}", f.alice)})
    );
    assert_eq!(v["assigned_to"], "");
    let v = f.render("incident", &f.inc("INC1"), &opts(DisplayValue::True, true));
    assert_eq!(v["caller_id"], "Alice Able");
    assert_eq!(v["cmdb_ci"], "lnx-1");
}

#[test]
fn render_all_gives_both() {
    let f = fixture();
    let v = f.render("incident", &f.inc("INC1"), &opts(DisplayValue::All, false));
    assert_eq!(
        v["priority"],
        json!({"display_value":"1 - Critical","value":"1"})
    );
    assert_eq!(
        v["caller_id"],
        json!({"display_value":"Alice Able",
               "link": format!("http://h/api/now/v2/table/sys_user/{}", f.alice),
               "value": f.alice})
    );
    assert_eq!(v["assigned_to"], json!({"display_value":"","value":""}));
    let v = f.render("incident", &f.inc("INC1"), &opts(DisplayValue::All, true));
    assert_eq!(
        v["caller_id"],
        json!({"display_value":"Alice Able","value": f.alice})
    );
}

#[test]
fn render_fields_with_dot_walk() {
    let f = fixture();
    let fields: Vec<String> = [
        "number",
        "caller_id.name",
        "assignment_group.manager.email",
        "assignment_group.manager",
        "bogus",
        "caller_id.bogus",
        "number",
        "",
        "cmdb_ci.name",
    ]
    .map(String::from)
    .to_vec();
    let mut o = opts(DisplayValue::False, false);
    o.fields = Some(&fields);
    let v = f.render("incident", &f.inc("INC1"), &o);
    let obj = v.as_object().expect("object");
    let keys: Vec<_> = obj.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_eq!(v["number"], "INC1");
    assert_eq!(v["caller_id.name"], "Alice Able");
    assert_eq!(v["assignment_group.manager.email"], "bob@example.com");
    assert_eq!(v["assignment_group.manager"]["value"], json!(f.bob));
    assert_eq!(v["cmdb_ci.name"], "lnx-1");
    assert!(obj.get("sys_id").is_none());
    // Unreachable dot-walk renders empty.
    let v = f.render("incident", &f.inc("INC3"), &o);
    assert_eq!(v["caller_id.name"], "");
    o.display_value = DisplayValue::All;
    let v = f.render("incident", &f.inc("INC1"), &o);
    assert_eq!(
        v["caller_id.name"],
        json!({"display_value":"Alice Able","value":"Alice Able"})
    );
}

#[test]
fn render_through_parent_shows_parent_fields_and_escapes() {
    let f = fixture();
    let v = f.render("task", &f.inc("INC2"), &opts(DisplayValue::False, false));
    assert!(v.get("caller_id").is_none());
    assert_eq!(v["number"], "INC2");
    assert_eq!(v["description"], "has \"quotes\"\nand\u{1}ctl");
    let mut out = Vec::new();
    let rows: Vec<&Record> = f.db.list("incident", "", &f.ctx, 0, 10).expect("list").rows;
    f.db.render_list("incident", &rows, &opts(DisplayValue::All, false), &mut out);
    let arr: Value = serde_json::from_slice(&out).expect("array parses");
    assert_eq!(arr.as_array().map(Vec::len), Some(4));
}

#[test]
fn insert_generates_system_fields() {
    let mut db = Db::empty();
    let ctx = EvalCtx {
        user_sys_id: seed::ITIL_SYS_ID.to_owned(),
        now: datetime!(2025-03-04 05:06:07 UTC),
    };
    let rec = db
        .insert(
            "incident",
            &obj(
                json!({"short_description":"x","bogus":"ignored","active":false,
                "sys_created_by":"mallory","sys_mod_count":"9","reassignment_count":3,
                "caller_id":seed::READER_SYS_ID}),
            ),
            &ctx,
        )
        .expect("insert")
        .clone();
    assert!(super::is_sys_id(rec.sys_id()));
    assert_eq!(rec.get("number"), Some("INC0010001"));
    assert_eq!(rec.get("sys_created_on"), Some("2025-03-04 05:06:07"));
    assert_eq!(rec.get("sys_updated_on"), Some("2025-03-04 05:06:07"));
    assert_eq!(rec.get("sys_created_by"), Some("itil"));
    assert_eq!(rec.get("sys_updated_by"), Some("itil"));
    assert_eq!(rec.get("sys_mod_count"), Some("0"));
    assert_eq!(rec.get("active"), Some("false"));
    assert_eq!(rec.get("reassignment_count"), Some("3"));
    assert_eq!(rec.get("caller_id"), Some(seed::READER_SYS_ID));
    assert_eq!(rec.get("opened_by"), Some(seed::ITIL_SYS_ID));
    assert_eq!(rec.get("state"), Some("1"));
    assert_eq!(rec.get("opened_at"), Some("2025-03-04 05:06:07"));
    assert_eq!(rec.get("bogus"), None);
    let second = db
        .insert(
            "incident",
            &obj(json!({"caller_id":"Read Only User"})),
            &ctx,
        )
        .expect("insert");
    assert_eq!(second.get("number"), Some("INC0010002"));
    assert_eq!(second.get("caller_id"), Some(seed::READER_SYS_ID));
    let own_id = "0123456789abcdef0123456789abcdef";
    let third = db
        .insert("problem", &obj(json!({"sys_id": own_id})), &ctx)
        .expect("insert");
    assert_eq!(third.sys_id(), own_id);
    assert_eq!(third.get("number"), Some("PRB0010001"));
}

#[test]
fn invalid_writes_are_rejected_and_lose_nothing() {
    let mut db = Db::empty();
    let ctx = EvalCtx::system();
    let before = db.count("incident");
    for bad in [
        json!({"reassignment_count":"many"}),
        json!({"active":"maybe"}),
        json!({"opened_at":"yesterday"}),
        json!({"short_description":["a"]}),
    ] {
        assert!(matches!(
            db.insert("incident", &obj(bad), &ctx),
            Err(DbError::InvalidField { .. })
        ));
    }
    assert_eq!(db.count("incident"), before);
    assert!(matches!(
        db.insert("nope", &Map::new(), &ctx),
        Err(DbError::InvalidTable(_))
    ));
    let id = db
        .insert("incident", &obj(json!({"short_description":"keep"})), &ctx)
        .expect("insert")
        .sys_id()
        .to_owned();
    assert!(
        db.update(
            "incident",
            &id,
            &obj(json!({"short_description":"new","priority":"x1","impact":{"a":1}})),
            &ctx
        )
        .is_err()
    );
    assert_eq!(
        db.get("incident", &id)
            .and_then(|r| r.get("short_description")),
        Some("keep")
    );
}

#[test]
fn update_merges_and_bumps_bookkeeping() {
    let mut f = fixture();
    let id = f.inc("INC1");
    let later = EvalCtx {
        user_sys_id: f.bob.clone(),
        now: datetime!(2025-07-01 00:00:00 UTC),
    };
    let rec = f
        .db
        .update(
            "incident",
            &id,
            &obj(json!({"state":"2","bogus":1,"comments":"first","sys_mod_count":"50","active":true})),
            &later,
        )
        .expect("update")
        .clone();
    assert_eq!(rec.get("state"), Some("2"));
    assert_eq!(rec.get("short_description"), Some("Email is down"));
    assert_eq!(rec.get("sys_mod_count"), Some("1"));
    assert_eq!(rec.get("sys_updated_on"), Some("2025-07-01 00:00:00"));
    assert_eq!(rec.get("sys_updated_by"), Some("bob"));
    assert_eq!(rec.get("sys_created_by"), Some("admin"));
    f.db.update("task", &id, &obj(json!({"comments":"second"})), &later)
        .expect("update through parent");
    let v = f.render("incident", &id, &opts(DisplayValue::True, false));
    let journal = v["comments"].as_str().unwrap_or_default();
    assert!(
        journal.contains("first") && journal.contains("second"),
        "{journal}"
    );
    assert!(journal.find("second") < journal.find("first"));
    assert_eq!(
        f.db.get("incident", &id)
            .and_then(|r| r.get("sys_mod_count")),
        Some("2")
    );
    assert!(matches!(
        f.db.update("incident", "0000", &Map::new(), &later),
        Err(DbError::NotFound)
    ));
    assert!(matches!(
        f.db.update("problem", &id, &Map::new(), &later),
        Err(DbError::NotFound)
    ));
}

#[test]
fn delete_removes_from_table_and_index() {
    let mut f = fixture();
    let id = f.inc("INC2");
    assert!(matches!(
        f.db.delete("problem", &id),
        Err(DbError::NotFound)
    ));
    f.db.delete("incident", &id).expect("delete");
    assert!(f.db.get("incident", &id).is_none());
    assert!(matches!(
        f.db.delete("incident", &id),
        Err(DbError::NotFound)
    ));
    assert_eq!(f.q(""), ["INC1", "INC3", "INC4"]);
    assert_eq!(f.q("caller_id.name=Bob Brown"), Vec::<&str>::new());
}

#[test]
fn persistence_round_trips() {
    let mut db = Db::new_seeded(3, 200);
    let ctx = EvalCtx::system();
    let id = db.list("incident", "", &ctx, 0, 1).expect("list").rows[0]
        .sys_id()
        .to_owned();
    db.delete("incident", &id).expect("delete");
    let json = db.to_json();
    let mut back = Db::from_json(&json).expect("load");
    assert_eq!(back.to_json(), json);
    let render = |db: &Db| {
        let p = db
            .list(
                "incident",
                "ORDERBYcaller_id.name^priority<=3",
                &ctx,
                0,
                1000,
            )
            .expect("list");
        let mut out = Vec::new();
        db.render_list(
            "incident",
            &p.rows,
            &opts(DisplayValue::All, false),
            &mut out,
        );
        out
    };
    assert_eq!(render(&db), render(&back));
    assert!(back.get("incident", &id).is_none());
    let a = db
        .insert("incident", &Map::new(), &ctx)
        .expect("insert")
        .clone();
    let b = back
        .insert("incident", &Map::new(), &ctx)
        .expect("insert")
        .clone();
    assert_eq!(a.get("number"), b.get("number"));
    assert!(matches!(
        Db::from_json(b"{nope"),
        Err(DbError::InvalidData(_))
    ));
    assert!(matches!(
        Db::from_json(br#"{"format":"other"}"#),
        Err(DbError::InvalidData(_))
    ));
    assert!(matches!(
        Db::from_json(
            br#"{"format":"snow-devinstance-db/1","tables":{"x":{"fields":[],"rows":[]}}}"#
        ),
        Err(DbError::InvalidTable(_))
    ));
    assert!(matches!(
        Db::from_json(br#"{"format":"snow-devinstance-db/1","tables":{"incident":{"fields":["sys_id"],"rows":[["a"],["a"]]}}}"#),
        Err(DbError::InvalidData(_))
    ));
}

#[test]
fn seed_is_deterministic_and_cross_referenced() {
    let a = Db::new_seeded(42, 300);
    assert_eq!(a.to_json(), Db::new_seeded(42, 300).to_json());
    assert_ne!(a.to_json(), Db::new_seeded(43, 300).to_json());
    assert_eq!(a.count("incident"), 300);
    assert!(a.count("problem") >= 2 && a.count("change_request") >= 2);
    assert!(a.count("sys_user") >= 20 && a.count("sys_user_group") >= 6);
    assert!(a.count("cmdb_ci") > a.count("cmdb_ci_server"));
    assert!(a.count("cmdb_ci_linux_server") > 0 && a.count("cmdb_ci_win_server") > 0);
    let ctx = EvalCtx::system();
    // Every incident's caller and group resolve through dot-walks.
    let all = a.list("incident", "", &ctx, 0, 1000).expect("list").total;
    let named = a
        .list(
            "incident",
            "caller_id.nameISNOTEMPTY^assignment_group.manager.emailLIKE@",
            &ctx,
            0,
            1000,
        )
        .expect("list")
        .total;
    assert_eq!(all, named);
    assert!(
        a.list("incident", "cmdb_ci.nameISNOTEMPTY", &ctx, 0, 1)
            .expect("l")
            .total
            > 0
    );
    for p in 1..=5 {
        assert!(
            a.list("incident", &format!("priority={p}"), &ctx, 0, 1)
                .expect("l")
                .total
                > 0
        );
    }
    let states = ["1", "2", "3", "6", "7", "8"];
    for s in states {
        assert!(
            a.list("incident", &format!("state={s}"), &ctx, 0, 1)
                .expect("l")
                .total
                > 0,
            "{s}"
        );
    }
    assert_eq!(
        a.list("incident", "active=true^stateNOT IN1,2,3", &ctx, 0, 1)
            .expect("l")
            .total,
        0
    );
    // Numbers follow opened_at.
    let by_number = a
        .list("incident", "ORDERBYnumber", &ctx, 0, 1000)
        .expect("l");
    let by_opened = a
        .list("incident", "ORDERBYopened_at", &ctx, 0, 1000)
        .expect("l");
    let ids = |l: &Listing<'_>| {
        l.rows
            .iter()
            .map(|r| r.sys_id().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&by_number), ids(&by_opened));
    for (user, role) in [
        ("admin", "admin"),
        ("itil", "itil"),
        ("reader", "snc_read_only"),
    ] {
        let u = a.user_by_name(user).expect("builtin user");
        assert_eq!(a.user_roles(u.sys_id()), vec![role]);
    }
    assert!(a.user_by_name("nobody").is_none());
}

#[test]
fn empty_db_has_builtin_users_only() {
    let db = Db::empty();
    assert_eq!(db.count("sys_user"), 3);
    assert_eq!(db.count("incident"), 0);
    assert!(db.has_table("incident") && db.has_table("sys_attachment"));
    assert!(!db.has_table("nope"));
    assert_eq!(db.user_roles(seed::ADMIN_SYS_ID), vec!["admin"]);
}

#[test]
fn page_of_ten_thousand_renders_quickly() {
    let start = std::time::Instant::now();
    let db = Db::new_seeded(1, 10_000);
    let seeded = start.elapsed();
    let ctx = EvalCtx::system();
    let o = opts(DisplayValue::False, false);
    let (mut list_best, mut render_best) = (std::time::Duration::MAX, std::time::Duration::MAX);
    let mut bytes = 0;
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let page = db.list("incident", "", &ctx, 0, 10_000).expect("list");
        let listed = start.elapsed();
        let mut out = Vec::with_capacity(bytes);
        db.render_list("incident", &page.rows, &o, &mut out);
        list_best = list_best.min(listed);
        render_best = render_best.min(start.elapsed() - listed);
        bytes = out.len();
        assert_eq!(page.rows.len(), 10_000);
    }
    let start = std::time::Instant::now();
    let page = db
        .list(
            "incident",
            "active=true^ORDERBYDESCopened_at",
            &ctx,
            0,
            10_000,
        )
        .expect("list");
    let mut out = Vec::new();
    let all = opts(DisplayValue::All, false);
    db.render_list("incident", &page.rows, &all, &mut out);
    let filtered = start.elapsed();
    println!(
        "seed 10,000 incidents: {seeded:?}; page of 10,000: list {list_best:?} + render \
         {render_best:?} ({bytes} bytes); active=true^ORDERBYDESCopened_at with \
         display_value=all ({} rows): {filtered:?}",
        page.rows.len()
    );
    let v: Value = serde_json::from_slice(&out).expect("parses");
    assert_eq!(v.as_array().map(Vec::len), Some(page.total));
}

mod no_panics {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn list_never_panics(s in "\\PC{0,60}|[a-z_.]{1,20}(=|<|>=|LIKE|IN|BETWEEN|SAMEAS|ONx@|\\^OR|\\^NQ|ORDERBY|javascript:gs\\.daysAgo\\(|[0-9@,^ -]){0,10}") {
            let f = fixture();
            let _ = f.db.list("incident", &s, &f.ctx, 0, 10);
        }
    }
}

/// Seeding and paging through the binary's largest documented size; run with `--ignored`.
#[test]
#[ignore = "slow in debug builds; run in release with --ignored to measure"]
fn seed_hundred_thousand() {
    let start = std::time::Instant::now();
    let db = Db::new_seeded(1, 100_000);
    let seeded = start.elapsed();
    let ctx = EvalCtx::system();
    let start = std::time::Instant::now();
    let page = db
        .list(
            "incident",
            "priority<=2^ORDERBYnumber",
            &ctx,
            50_000,
            10_000,
        )
        .expect("list");
    let queried = start.elapsed();
    let start = std::time::Instant::now();
    let json = db.to_json();
    let saved = start.elapsed();
    let start = std::time::Instant::now();
    let back = Db::from_json(&json).expect("load");
    let loaded = start.elapsed();
    println!(
        "seed 100,000 incidents: {seeded:?}; filtered+sorted page at offset 50,000 of {}: \
         {queried:?}; to_json {saved:?} ({} bytes); from_json {loaded:?}",
        page.total,
        json.len()
    );
    assert_eq!(db.count("incident"), 100_000);
    assert_eq!(back.count("incident"), 100_000);
}

/// `ORDERBYsys_id` walks the sys_id index and takes `sys_id` bounds out of the filter as a
/// range; both must give exactly what filtering everything and sorting gives.
mod sys_id_order {
    use proptest::prelude::*;

    use super::*;

    /// What the query must return: the same query without its ORDERBY, run as a plain scan
    /// (a second `^NQ` group that matches nothing keeps it from using the index or the
    /// range), sorted by sys_id, then paged.
    fn reference(
        db: &Db,
        table: &str,
        filter: &str,
        desc: bool,
        offset: usize,
        limit: usize,
    ) -> (usize, Vec<String>) {
        let scan = if filter.is_empty() {
            String::new()
        } else {
            format!("{filter}^NQsys_id=~")
        };
        let all = db
            .list(table, &scan, &EvalCtx::system(), 0, usize::MAX)
            .expect("list");
        let mut ids: Vec<String> = all.rows.iter().map(|r| r.sys_id().to_owned()).collect();
        ids.sort();
        if desc {
            ids.reverse();
        }
        let page = ids.into_iter().skip(offset).take(limit).collect();
        (all.total, page)
    }

    /// A `sys_id` comparison: against a short hex prefix, or (`Some(n)`) against the sys_id
    /// of an existing record, so that `>` and `>=` differ.
    type Term = (&'static str, String, Option<usize>);

    fn term() -> impl Strategy<Value = Term> {
        (
            prop::sample::select(vec![">", ">=", "<", "<=", "=", "!="]),
            "[0-9a-f]{0,3}",
            prop::option::of(0usize..1000),
        )
    }

    fn extra() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "",
            "^active=true",
            "^ORpriority=1",
            "^NQpriority=2",
            "^NQsys_id<4",
        ])
    }

    fn build(terms: &[Term], extra: &str, ids: &[String]) -> String {
        let mut q = terms
            .iter()
            .map(|(op, prefix, pick)| match pick {
                Some(n) => format!("sys_id{op}{}", ids[n % ids.len()]),
                None => format!("sys_id{op}{prefix}"),
            })
            .collect::<Vec<_>>()
            .join("^");
        if !q.is_empty() || !extra.starts_with("^OR") {
            q.push_str(extra);
        }
        q.trim_start_matches('^').to_owned()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn index_walk_matches_filter_then_sort(
            terms in prop::collection::vec(term(), 0..3),
            extra in extra(),
            desc in any::<bool>(),
            table in prop::sample::select(vec!["incident", "task"]),
            offset in 0usize..400,
            limit in 1usize..300,
            deletes in prop::collection::vec(0usize..200, 0..20),
        ) {
            let mut db = Db::new_seeded(3, 300);
            // Rows deleted after seeding and rows inserted later must be in the index too.
            let ctx = EvalCtx::system();
            let ids: Vec<String> = db
                .list("task", "", &ctx, 0, usize::MAX)
                .expect("list")
                .rows
                .iter()
                .map(|r| r.sys_id().to_owned())
                .collect();
            for &d in &deletes {
                let _ = db.delete("task", &ids[d % ids.len()]);
            }
            for i in 0..deletes.len() {
                let t = if i % 2 == 0 { "incident" } else { "problem" };
                db.insert(t, &obj(json!({"short_description": "later"})), &ctx).expect("insert");
            }
            let filter = build(&terms, extra, &ids);
            let order = if desc { "ORDERBYDESCsys_id" } else { "ORDERBYsys_id" };
            let query = if filter.is_empty() { order.to_owned() } else { format!("{filter}^{order}") };
            let got = db.list(table, &query, &ctx, offset, limit).expect("list");
            let got_ids: Vec<String> = got.rows.iter().map(|r| r.sys_id().to_owned()).collect();
            let (total, want) = reference(&db, table, &filter, desc, offset, limit);
            prop_assert_eq!(got.total, total, "total for {}", query);
            prop_assert_eq!(got_ids, want, "rows for {}", query);
            // Without an order (a lone `sys_id=X` uses the index then): the same records.
            let unordered = db.list(table, &filter, &ctx, 0, usize::MAX).expect("list");
            let mut got_ids: Vec<String> = unordered.rows.iter().map(|r| r.sys_id().to_owned()).collect();
            got_ids.sort();
            let (total, want) = reference(&db, table, &filter, false, 0, usize::MAX);
            prop_assert_eq!(unordered.total, total, "total for {}", filter);
            prop_assert_eq!(got_ids, want, "rows for {}", filter);
        }
    }

    #[test]
    fn a_query_by_sys_id_finds_its_record_in_any_table_of_the_family() {
        let db = Db::new_seeded(3, 300);
        let ctx = EvalCtx::system();
        let all = db.list("incident", "", &ctx, 0, usize::MAX).expect("list");
        let id = all.rows[17].sys_id().to_owned();
        for (table, q, want) in [
            ("incident", format!("sys_id={id}"), 1),
            ("task", format!("sys_id={id}"), 1),
            ("problem", format!("sys_id={id}"), 0),
            (
                "incident",
                format!("active=true^sys_id={id}^ORDERBYnumber"),
                usize::from(all.rows[17].get("active") == Some("true")),
            ),
            ("incident", format!("sys_id={}", id.to_uppercase()), 0),
            (
                "incident",
                "sys_id=ffffffffffffffffffffffffffffffff".to_owned(),
                0,
            ),
            (
                "incident",
                format!(
                    "sys_id={id}^ORnumber={}",
                    all.rows[3].get("number").unwrap_or_default()
                ),
                2,
            ),
        ] {
            let got = db.list(table, &q, &ctx, 0, 10).expect("list");
            assert_eq!((got.total, got.rows.len()), (want, want), "{table}: {q}");
        }
        let past = db
            .list("incident", &format!("sys_id={id}"), &ctx, 1, 10)
            .expect("list");
        assert_eq!((past.total, past.rows.len()), (1, 0));
    }

    #[test]
    fn later_order_keys_do_not_matter_and_contradictions_are_empty() {
        let db = Db::new_seeded(3, 300);
        let ctx = EvalCtx::system();
        let a = db
            .list("incident", "ORDERBYsys_id^ORDERBYnumber", &ctx, 0, 50)
            .expect("list");
        let b = db
            .list("incident", "ORDERBYsys_id", &ctx, 0, 50)
            .expect("list");
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.total, 300);
        for q in [
            "sys_id>8^sys_id<8^ORDERBYsys_id",
            "sys_id>=9^sys_id<=1^ORDERBYsys_id",
        ] {
            let empty = db.list("incident", q, &ctx, 0, 50).expect("list");
            assert_eq!((empty.total, empty.rows.len()), (0, 0), "{q}");
        }
    }
}

/// From the second request with an ORDERBY on, pages come from a remembered order of the whole
/// table; they must equal a fresh sort, and a write must make the order be sorted again.
mod order_cache {
    use proptest::prelude::*;

    use super::*;

    fn ids(l: &Listing<'_>) -> (usize, Vec<String>) {
        (
            l.total,
            l.rows.iter().map(|r| r.sys_id().to_owned()).collect(),
        )
    }

    /// The page as a database with nothing remembered computes it.
    fn fresh(db: &Db, table: &str, q: &str, offset: usize, limit: usize) -> (usize, Vec<String>) {
        let copy = db.clone();
        let page = copy
            .list(table, q, &EvalCtx::system(), offset, limit)
            .expect("list");
        ids(&page)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn remembered_order_equals_fresh_sort_across_writes(
            order in prop::sample::select(vec![
                "ORDERBYpriority", "ORDERBYDESCpriority^ORDERBYnumber", "ORDERBYopened_at",
                "ORDERBYcaller_id", "ORDERBYDESCassignment_group.name", "ORDERBYstate^ORDERBYDESCsys_id",
            ]),
            filter in prop::sample::select(vec!["", "active=true^", "priority<=2^ORstate=6^"]),
            table in prop::sample::select(vec!["incident", "task"]),
            offset in 0usize..200,
            limit in 1usize..100,
            new_priority in 1u8..=5,
        ) {
            let mut db = Db::new_seeded(5, 250);
            let ctx = EvalCtx::system();
            let q = format!("{filter}{order}");
            let want = fresh(&db, table, &q, offset, limit);
            for _ in 0..3 {
                let got = ids(&db.list(table, &q, &ctx, offset, limit).expect("list"));
                prop_assert_eq!(&got, &want, "{}", q);
            }
            // A write that moves records in the order: the remembered order is stale.
            let victims: Vec<String> = db
                .list("incident", "ORDERBYnumber", &ctx, 0, 40)
                .expect("list")
                .rows
                .iter()
                .map(|r| r.sys_id().to_owned())
                .collect();
            for id in &victims {
                let patch = obj(json!({"priority": new_priority.to_string(), "state": "6"}));
                db.update("incident", id, &patch, &ctx).expect("update");
            }
            let want = fresh(&db, table, &q, offset, limit);
            for _ in 0..3 {
                let got = ids(&db.list(table, &q, &ctx, offset, limit).expect("list"));
                prop_assert_eq!(&got, &want, "after updates: {}", q);
            }
            db.delete("incident", &victims[0]).expect("delete");
            let want = fresh(&db, table, &q, offset, limit);
            for _ in 0..3 {
                let got = ids(&db.list(table, &q, &ctx, offset, limit).expect("list"));
                prop_assert_eq!(&got, &want, "after a delete: {}", q);
            }
        }
    }
}
