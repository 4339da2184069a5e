//! Reading records as raw JSON: their fields in document order, one field as text, and a
//! pretty printer that keeps the order.

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

/// Which side of a `{value, display_value}` field to show in a table or CSV cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum CellMode {
    /// The stored value (the default, and what scripts compare).
    #[default]
    Value,
    /// The display value, when the record has one.
    Display,
}

/// The members of a JSON object in document order, values left raw.
#[derive(Debug)]
pub(crate) struct Members<'a>(pub(crate) Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The members of a record, or `None` when it is not a JSON object.
pub(crate) fn members(raw: &RawValue) -> Option<Members<'_>> {
    serde_json::from_str(raw.get()).ok()
}

/// The names of a record's members, in order.
pub(crate) fn member_names(raw: &RawValue) -> Vec<String> {
    members(raw)
        .map(|m| m.0.into_iter().map(|(k, _)| k).collect())
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct FieldObject<'a> {
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
    #[serde(borrow, default)]
    display_value: Option<&'a RawValue>,
}

/// One member as text: a string as is, a `{value, display_value, link}` field by `mode`,
/// `null` as nothing, anything else as its JSON.
pub(crate) fn cell_text(raw: &RawValue, mode: CellMode) -> String {
    let text = raw.get().trim();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_owned()),
        Some(b'{') => match serde_json::from_str::<FieldObject<'_>>(text) {
            Ok(FieldObject {
                value,
                display_value,
            }) if value.is_some() || display_value.is_some() => {
                let chosen = match mode {
                    CellMode::Value => value.or(display_value),
                    CellMode::Display => display_value.or(value),
                };
                chosen.map(|v| cell_text(v, mode)).unwrap_or_default()
            }
            _ => compact(text),
        },
        Some(b'n') if text == "null" => String::new(),
        _ => compact(text),
    }
}

/// A record's member by name (dot-walked names are members of their own in ServiceNow's
/// answers, `caller_id.name`), as text.
pub(crate) fn member_text(members: &Members<'_>, name: &str, mode: CellMode) -> String {
    members
        .0
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| cell_text(v, mode))
        .unwrap_or_default()
}

/// JSON without insignificant whitespace, order kept.
pub(crate) fn compact(json: &str) -> String {
    reformat(json, None)
}

/// JSON indented by two spaces, order kept.
pub(crate) fn pretty(json: &str) -> String {
    reformat(json, Some(2))
}

/// Re-lays JSON text that is known to be valid: whitespace outside strings is dropped, and
/// with an indent, objects and arrays are broken over lines.
fn reformat(json: &str, indent: Option<usize>) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 4);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = json.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', n * depth));
        }
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // An empty container stays on one line.
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}') | Some(']')) {
                    out.push(chars.next().unwrap_or(' '));
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => {
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
            }
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn members_keep_document_order() {
        let r = raw(r#"{"z":"1","a":{"value":"2","display_value":"Two"},"m":null}"#);
        assert_eq!(member_names(&r), ["z", "a", "m"]);
        let m = members(&r).unwrap();
        assert_eq!(member_text(&m, "a", CellMode::Value), "2");
        assert_eq!(member_text(&m, "a", CellMode::Display), "Two");
        assert_eq!(member_text(&m, "m", CellMode::Value), "");
        assert_eq!(member_text(&m, "missing", CellMode::Value), "");
    }

    #[test]
    fn cells_read_every_shape() {
        assert_eq!(cell_text(&raw(r#""a\"b""#), CellMode::Value), "a\"b");
        assert_eq!(
            cell_text(
                &raw(r#"{"link":"https://x","value":"abc"}"#),
                CellMode::Display
            ),
            "abc"
        );
        assert_eq!(cell_text(&raw("12"), CellMode::Value), "12");
        assert_eq!(
            cell_text(&raw(r#"{"a": [1, 2]}"#), CellMode::Value),
            r#"{"a":[1,2]}"#
        );
    }

    #[test]
    fn pretty_keeps_order_and_strings() {
        let p = pretty(r#"{"b":"x, {y}: \"z\"","a":[1,{}],"c":[]}"#);
        assert_eq!(
            p,
            "{\n  \"b\": \"x, {y}: \\\"z\\\"\",\n  \"a\": [\n    1,\n    {}\n  ],\n  \"c\": []\n}"
        );
        assert_eq!(compact("{ \"a\" : [ 1 , 2 ] }"), r#"{"a":[1,2]}"#);
    }
}
