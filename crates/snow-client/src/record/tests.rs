use super::*;
use time::macros::{date, datetime};

fn field(json: &str) -> Field {
    serde_json::from_str(json).unwrap()
}

#[test]
fn field_reads_every_wire_shape() {
    let f = field(r#""plain""#);
    assert_eq!(
        (f.value(), f.display_value(), f.link()),
        (Some("plain"), None, None)
    );

    let f = field(r#"{"link":"https://i/api/now/table/sys_user/abc","value":"abc"}"#);
    assert_eq!(
        (f.value(), f.display_value(), f.link()),
        (
            Some("abc"),
            None,
            Some("https://i/api/now/table/sys_user/abc")
        )
    );

    let f = field(r#"{"display_value":"Fred","link":"https://i/x"}"#);
    assert_eq!(
        (f.value(), f.display_value(), f.link()),
        (None, Some("Fred"), Some("https://i/x"))
    );
    assert_eq!(f.as_str(), Some("Fred"));

    let f = field(r#"{"display_value":"Fred","value":"abc","link":"https://i/x"}"#);
    assert_eq!(
        (f.value(), f.display_value(), f.link()),
        (Some("abc"), Some("Fred"), Some("https://i/x"))
    );

    let f = field(r#"{"display_value":"1 - Critical","value":"1"}"#);
    assert_eq!(f.as_i64().unwrap(), Some(1));

    // Extra parts some APIs add are ignored; null parts are absent.
    let f = field(r#"{"display_value":"x","value":null,"display_value_internal":"y"}"#);
    assert_eq!((f.value(), f.display_value()), (None, Some("x")));

    // Non-Table APIs: numbers, booleans, null.
    assert_eq!(field("3").value(), Some("3"));
    assert_eq!(field("true").as_bool().unwrap(), Some(true));
    assert!(field("null").is_empty());
    assert!(serde_json::from_str::<Field>("[1]").is_err());
}

#[test]
fn field_typed_helpers() {
    assert_eq!(Field::new("true").as_bool().unwrap(), Some(true));
    assert_eq!(Field::new("false").as_bool().unwrap(), Some(false));
    assert_eq!(Field::new("").as_bool().unwrap(), None);
    let e = Field::new("yes").as_bool().unwrap_err();
    assert!(e.to_string().contains("\"yes\""));
    assert_eq!(Field::new("-12").as_i64().unwrap(), Some(-12));
    assert!(Field::new("1.5").as_i64().is_err());
    assert_eq!(
        Field::new("2016-01-19").as_date().unwrap(),
        Some(date!(2016 - 01 - 19))
    );
    assert_eq!(
        Field::new("2016-01-19 04:51:19").as_datetime().unwrap(),
        Some(datetime!(2016-01-19 04:51:19 UTC))
    );
    assert!(Field::new("19/01/2016").as_datetime().is_err());
    assert_eq!(
        Field::new("9d385017c611228701d22104cc95c371")
            .as_sys_id()
            .unwrap()
            .map(|s| s.to_string()),
        Some("9d385017c611228701d22104cc95c371".into())
    );
    assert!(Field::new("nope").as_sys_id().is_err());
    assert_eq!(Field::new("x").to_string(), "x");
}

#[test]
fn field_serialises_as_its_value() {
    let f = Field::with_parts(Some("abc".into()), Some("Fred".into()), Some("l".into()));
    assert_eq!(serde_json::to_string(&f).unwrap(), r#""abc""#);
    assert_eq!(serde_json::to_string(&Field::default()).unwrap(), r#""""#);
    // Only a display value: refuse rather than write a label as a value.
    let f = Field::with_parts(None, Some("Fred".into()), None);
    let e = serde_json::to_string(&f).unwrap_err();
    assert!(e.to_string().contains("display value"));
}

#[test]
fn record_round_trips_display_value_all_into_values() {
    let json = r#"{"sys_id":{"display_value":"abc","value":"abc"},"caller_id":{"display_value":"Fred","value":"u1","link":"https://i/u1"},"active":{"display_value":"true","value":"true"}}"#;
    let r: Record = serde_json::from_str(json).unwrap();
    assert_eq!(r.sys_id(), Some("abc"));
    assert_eq!(r.len(), 3);
    let back = serde_json::to_value(&r).unwrap();
    assert_eq!(
        back,
        serde_json::json!({"sys_id":"abc","caller_id":"u1","active":"true"})
    );
}

#[test]
fn record_keeps_nested_json_and_dot_walked_names() {
    let json = r#"{"caller_id.email":"fred@example.com","attributes":{"name":"x","os":"linux"},"tags":["a"],"count":null}"#;
    let r: Record = serde_json::from_str(json).unwrap();
    assert_eq!(r.str("caller_id.email"), Some("fred@example.com"));
    assert!(matches!(r.get("attributes"), Some(FieldValue::Json(_))));
    assert!(matches!(r.get("tags"), Some(FieldValue::Json(_))));
    assert_eq!(r.str("count"), None);
    let e = r.bool("attributes").unwrap_err();
    assert!(matches!(&e, Error::FieldValue { field, .. } if field == "attributes"));
}

#[test]
fn record_typed_getters_name_the_field() {
    let r: Record =
        serde_json::from_str(r#"{"active":"maybe","n":"7","d":"2024-01-02","empty":""}"#).unwrap();
    let e = r.bool("active").unwrap_err();
    assert!(matches!(&e, Error::FieldValue { field, .. } if field == "active"));
    assert!(e.to_string().contains("`active`") && e.to_string().contains("maybe"));
    assert_eq!(r.i64("n").unwrap(), Some(7));
    assert_eq!(r.date("d").unwrap(), Some(date!(2024 - 01 - 02)));
    assert_eq!(r.bool("empty").unwrap(), None);
    assert_eq!(r.bool("missing").unwrap(), None);
}

#[test]
fn record_is_editable_and_serialises_for_writes() {
    let mut r = Record::new();
    assert!(r.is_empty());
    r.insert("short_description", "Printer on fire");
    r.insert("urgency", "1");
    assert!(r.insert("urgency", "2").is_some());
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"short_description":"Printer on fire","urgency":"2"}"#
    );
    assert!(r.remove("urgency").is_some());
    assert_eq!(r.iter().count(), 1);
    let collected: Record = r.clone().into_iter().collect();
    assert_eq!(collected, r);
}

#[test]
fn typed_structs_can_hold_fields() {
    #[derive(serde::Deserialize)]
    struct Incident {
        number: Field,
        caller_id: Field,
    }
    let i: Incident =
        serde_json::from_str(r#"{"number":"INC1","caller_id":{"link":"https://i/u","value":"u"}}"#)
            .unwrap();
    assert_eq!(i.number.value(), Some("INC1"));
    assert_eq!(i.caller_id.link(), Some("https://i/u"));
}

#[test]
fn record_objects_become_fields_only_in_the_field_shape_and_stay_whole_otherwise() {
    let json = r#"{
        "ref": {"value": "u1", "display_value": "Fred", "link": "https://x/u1", "display_value_internal": "f"},
        "num": {"value": 3, "display_value": true, "link": null},
        "deep": {"value": {"a": 1}},
        "extra": {"value": "v", "other": 1},
        "first": {"other": [1], "link": "l", "value": "v"},
        "late": {"link": "l", "display_value_internal": "i", "value": [1, {"x": null}], "z": 2},
        "escaped": {"val\u0075e": "v", "\u006cink": "l"},
        "repeated": {"value": [1], "link": "l", "value": "x"},
        "repeated_late": {"value": "x", "value": {"a": 1}},
        "empty": {}
    }"#;
    let r: Record = serde_json::from_str(json).unwrap();
    let f = r.get("ref").and_then(FieldValue::as_field).unwrap();
    assert_eq!(
        (f.value(), f.display_value(), f.link()),
        (Some("u1"), Some("Fred"), Some("https://x/u1"))
    );
    let f = r.get("num").and_then(FieldValue::as_field).unwrap();
    assert_eq!(
        (f.value(), f.display_value(), f.link()),
        (Some("3"), Some("true"), None)
    );
    // Escaped member names are the same names.
    let f = r.get("escaped").and_then(FieldValue::as_field).unwrap();
    assert_eq!((f.value(), f.link()), (Some("v"), Some("l")));
    // A repeated name counts with its last value, as in any JSON object.
    let f = r.get("repeated").and_then(FieldValue::as_field).unwrap();
    assert_eq!((f.value(), f.link()), (Some("x"), Some("l")));
    for (name, whole) in [
        ("deep", serde_json::json!({"value": {"a": 1}})),
        ("extra", serde_json::json!({"value": "v", "other": 1})),
        (
            "first",
            serde_json::json!({"other": [1], "link": "l", "value": "v"}),
        ),
        (
            "late",
            serde_json::json!({"link": "l", "display_value_internal": "i", "value": [1, {"x": null}], "z": 2}),
        ),
        ("repeated_late", serde_json::json!({"value": {"a": 1}})),
        ("empty", serde_json::json!({})),
    ] {
        match r.get(name) {
            Some(FieldValue::Json(v)) => assert_eq!(v, &whole, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn a_received_record_is_kept_as_json_until_changed() {
    let json = br#"{"number":"INC1","caller_id":{"link":"https://x/api/now/table/sys_user/1","value":"1"},"short_description":"a \"quoted\" word","n":5,"number":"INC2"}"#;
    let mut r = Record::from_json(json).unwrap();
    assert!(matches!(r.0, Repr::Lazy(_)));
    // The last of two members of one name counts, as in a map.
    assert_eq!(r.str("number"), Some("INC2"));
    assert_eq!(
        r.get("caller_id").and_then(FieldValue::link),
        Some("https://x/api/now/table/sys_user/1")
    );
    assert_eq!(r.str("caller_id"), Some("1"));
    assert_eq!(r.str("short_description"), Some("a \"quoted\" word"));
    assert_eq!(r.i64("n").unwrap(), Some(5));
    assert_eq!(r.len(), 4);
    let before = r.clone();
    r.insert("state", "2");
    assert!(matches!(r.0, Repr::Map(_)));
    assert_eq!(r.str("state"), Some("2"));
    assert_eq!(before.get("state"), None, "the clone is its own record");
    assert_eq!(r.len(), 5);
}

#[test]
fn records_with_escaped_names_or_bad_json_are_read_as_maps() {
    let r = Record::from_json(br#"{"num\u0062er":"INC1"}"#).unwrap();
    assert!(matches!(r.0, Repr::Map(_)));
    assert_eq!(r.str("number"), Some("INC1"));
    for bad in [
        &br#"{"a":"\ud800"}"#[..],
        br#"{"a":1e999999}"#,
        br#"["a"]"#,
        br#"{"a":"b"} x"#,
    ] {
        let lazy = Record::from_json(bad).unwrap_err().to_string();
        let eager = serde_json::from_slice::<Record>(bad)
            .unwrap_err()
            .to_string();
        assert_eq!(lazy, eager);
    }
}

#[test]
fn the_record_of_a_single_answer_is_read_in_one_pass_and_only_from_that_shape() {
    let body = br#" {"result" : {"number":"INC1","n":{"value":"5"}} } "#;
    let r = Record::from_result_json(body).unwrap();
    assert!(matches!(r.0, Repr::Lazy(_)));
    assert_eq!(r.str("number"), Some("INC1"));
    assert_eq!(r.len(), 2);
    // What it shows and writes is the record, not the answer around it.
    let expected: Record = serde_json::from_str(r#"{"number":"INC1","n":{"value":"5"}}"#).unwrap();
    assert_eq!(r, expected);
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::to_value(&expected).unwrap()
    );
    for other in [
        &br#"{"result":{"a":"1"},"error":{}}"#[..],
        br#"{"error":{},"result":{"a":"1"}}"#,
        br#"{"result":[{"a":"1"}]}"#,
        br#"{"result":{"a":"1"}"#,
        br#"{"result":{"a":"1"}}}"#,
        br#"{"re\u0073ult":{"a":"1"}}"#,
    ] {
        assert!(
            Record::from_result_json(other).is_none(),
            "{}",
            String::from_utf8_lossy(other)
        );
    }
}
