//! [`Field`]: one field's value, display value and link.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, Serializer};
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

/// Why a field's text could not be read as the asked type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not {expected}")]
pub struct ValueError {
    /// The text found (shortened if long).
    pub value: String,
    /// What was expected, e.g. "a boolean (true/false)".
    pub expected: &'static str,
}

fn value_error(value: &str, expected: &'static str) -> ValueError {
    ValueError {
        value: crate::query_quote(value),
        expected,
    }
}

/// One field of a Table-API record, in any of the shapes of `sysparm_display_value`:
///
/// | JSON | `value` | `display_value` | `link` |
/// |---|---|---|---|
/// | `"x"` | `x` | – | – |
/// | `{"link","value"}` | ✓ | – | ✓ |
/// | `{"display_value","link"}` | – | ✓ | ✓ |
/// | `{"display_value","value"[,"link"]}` | ✓ | ✓ | ✓ / – |
///
/// A plain string is taken as the value; with `sysparm_display_value=true` it is really the
/// display string, which the field cannot tell.
///
/// Serialising a `Field` writes its value (so a record read with `display_value=all` can be
/// written back); a field holding only a display value refuses to serialise rather than write
/// the display text as a value.
///
/// ```
/// use snow_client::Field;
/// let f: Field = serde_json::from_str(r#"{"display_value":"Fred","value":"62826bf0","link":"https://x/api/now/table/sys_user/62826bf0"}"#)?;
/// assert_eq!(f.value(), Some("62826bf0"));
/// assert_eq!(f.display_value(), Some("Fred"));
/// assert_eq!(serde_json::to_string(&f)?, r#""62826bf0""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Field {
    value: Option<String>,
    display_value: Option<String>,
    link: Option<String>,
}

impl Field {
    /// A field with just a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// All three parts.
    pub fn with_parts(
        value: Option<String>,
        display_value: Option<String>,
        link: Option<String>,
    ) -> Self {
        Self {
            value,
            display_value,
            link,
        }
    }

    /// The stored value (a sys_id for a reference, the choice value, UTC date text...).
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// The display value (label, name, localised date), when the instance sent one.
    pub fn display_value(&self) -> Option<&str> {
        self.display_value.as_deref()
    }

    /// The REST link of a reference field, when sent.
    pub fn link(&self) -> Option<&str> {
        self.link.as_deref()
    }

    /// The value, or the display value when only that was sent.
    pub fn as_str(&self) -> Option<&str> {
        self.value().or(self.display_value())
    }

    /// Whether the field is empty (`""` or absent).
    pub fn is_empty(&self) -> bool {
        self.as_str().is_none_or(str::is_empty)
    }

    fn text(&self) -> Option<&str> {
        self.as_str().filter(|s| !s.is_empty())
    }

    /// The value as a boolean (`true` / `false`); `None` when empty.
    pub fn as_bool(&self) -> Result<Option<bool>, ValueError> {
        self.text()
            .map(|s| match s {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(value_error(s, "a boolean (true/false)")),
            })
            .transpose()
    }

    /// The value as an integer; `None` when empty.
    pub fn as_i64(&self) -> Result<Option<i64>, ValueError> {
        self.text()
            .map(|s| s.parse().map_err(|_| value_error(s, "an integer")))
            .transpose()
    }

    /// The value as a date (`yyyy-MM-dd`); `None` when empty.
    pub fn as_date(&self) -> Result<Option<Date>, ValueError> {
        self.text()
            .map(|s| {
                Date::parse(s, format_description!("[year]-[month]-[day]"))
                    .map_err(|_| value_error(s, "a date (yyyy-MM-dd)"))
            })
            .transpose()
    }

    /// The value as a UTC date and time (`yyyy-MM-dd HH:mm:ss`, how ServiceNow sends stored
    /// values); `None` when empty.
    pub fn as_datetime(&self) -> Result<Option<OffsetDateTime>, ValueError> {
        self.text()
            .map(|s| {
                PrimitiveDateTime::parse(
                    s,
                    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
                )
                .map(PrimitiveDateTime::assume_utc)
                .map_err(|_| value_error(s, "a date and time (yyyy-MM-dd HH:mm:ss)"))
            })
            .transpose()
    }

    /// The value as a sys_id; `None` when empty.
    pub fn as_sys_id(&self) -> Result<Option<crate::SysId>, ValueError> {
        self.text()
            .map(|s| crate::SysId::new(s).map_err(|_| value_error(s, "a sys_id")))
            .transpose()
    }
}

impl fmt::Display for Field {
    /// The value, or the display value when only that was sent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str().unwrap_or_default())
    }
}

impl From<&str> for Field {
    fn from(s: &str) -> Self {
        Field::new(s)
    }
}

impl From<String> for Field {
    fn from(s: String) -> Self {
        Field::new(s)
    }
}

impl Serialize for Field {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (&self.value, &self.display_value) {
            (Some(v), _) => s.serialize_str(v),
            (None, None) => s.serialize_str(""),
            (None, Some(_)) => Err(serde::ser::Error::custom(
                "this field holds only a display value; read it with sysparm_display_value=all \
                 or false to write it back",
            )),
        }
    }
}

/// A member name of an object that may be a field, read without allocating when it is one of
/// the part keys.
enum PartKey {
    Value,
    DisplayValue,
    Link,
    /// `display_value_internal`: allowed in the field shape, not kept.
    Internal,
    /// Any other name: the object is not a field.
    Other(String),
}

impl PartKey {
    fn from_str(v: &str) -> Self {
        match v {
            "value" => PartKey::Value,
            "display_value" => PartKey::DisplayValue,
            "link" => PartKey::Link,
            "display_value_internal" => PartKey::Internal,
            other => PartKey::Other(other.to_owned()),
        }
    }
}

impl<'de> serde::Deserialize<'de> for PartKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = PartKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PartKey, E> {
                Ok(PartKey::from_str(v))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<PartKey, E> {
                Ok(match PartKey::from_str(&v) {
                    PartKey::Other(_) => PartKey::Other(v),
                    known => known,
                })
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<PartKey, E> {
                std::str::from_utf8(v)
                    .map(PartKey::from_str)
                    .map_err(|_| E::invalid_value(de::Unexpected::Bytes(v), &self))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

pub(crate) struct FieldVisitor;

impl Field {
    /// Reads an object's members as a field when they have the field shape (only part keys,
    /// and `value`, `display_value` and `link` scalars or null, the last of a repeated name
    /// counting): the member names are matched without allocating and the strings are moved
    /// into the field. Anything else comes back as the whole JSON object, members in the order
    /// they came.
    pub(crate) fn visit_object<'de, A: MapAccess<'de>>(
        mut map: A,
    ) -> Result<Result<Field, serde_json::Value>, A::Error> {
        let mut parts = Parts::default();
        while let Some(key) = map.next_key::<PartKey>()? {
            let i = match key {
                PartKey::Value => 0,
                PartKey::DisplayValue => 1,
                PartKey::Link => 2,
                PartKey::Internal => 3,
                PartKey::Other(name) => {
                    // Not a field: the members so far, this one and the rest, as JSON.
                    let mut object = parts.into_object();
                    object.insert(name, map.next_value()?);
                    while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                        object.insert(k, v);
                    }
                    return Ok(Err(serde_json::Value::Object(object)));
                }
            };
            parts.set(i, map.next_value()?);
        }
        if parts.len == 0 || parts.values[..3].iter().flatten().any(|v| !is_scalar(v)) {
            return Ok(Err(serde_json::Value::Object(parts.into_object())));
        }
        let [value, display_value, link, _] = parts.values;
        let text = |v: Option<serde_json::Value>| v.and_then(|v| into_text(v).ok().flatten());
        Ok(Ok(Field {
            value: text(value),
            display_value: text(display_value),
            link: text(link),
        }))
    }
}

/// The part members of an object read so far: value, display_value, link and
/// display_value_internal, and the order in which they first came.
#[derive(Default)]
struct Parts {
    values: [Option<serde_json::Value>; 4],
    order: [usize; 4],
    len: usize,
}

impl Parts {
    /// Part `i` is `v` (a repeated name keeps its first place and its last value, as a JSON
    /// object would).
    fn set(&mut self, i: usize, v: serde_json::Value) {
        if self.values[i].replace(v).is_none() {
            self.order[self.len] = i;
            self.len += 1;
        }
    }

    /// The parts as JSON members, in the order they came.
    fn into_object(mut self) -> serde_json::Map<String, serde_json::Value> {
        const NAMES: [&str; 4] = ["value", "display_value", "link", "display_value_internal"];
        let mut object = serde_json::Map::new();
        for &i in &self.order[..self.len] {
            if let Some(v) = self.values[i].take() {
                object.insert(NAMES[i].to_owned(), v);
            }
        }
        object
    }
}

/// Whether `v` can be a field part: a string, a number, a boolean or null.
fn is_scalar(v: &serde_json::Value) -> bool {
    !matches!(
        v,
        serde_json::Value::Array(_) | serde_json::Value::Object(_)
    )
}

/// A field part's text, moved out of `v` (`None` for null); `v` back when it is not a scalar.
fn into_text(v: serde_json::Value) -> Result<Option<String>, serde_json::Value> {
    match v {
        serde_json::Value::String(s) => Ok(Some(s)),
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Bool(b) => Ok(Some(b.to_string())),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(other),
    }
}

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field: a string, or an object with value / display_value / link")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
        Ok(Field::new(v))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Field, E> {
        Ok(Field::new(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Field, E> {
        Ok(Field::new(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Field, E> {
        Ok(Field::new(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field, E> {
        Ok(Field::new(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Field, E> {
        Ok(Field::new(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Field, E> {
        Ok(Field::default())
    }
    fn visit_none<E: de::Error>(self) -> Result<Field, E> {
        Ok(Field::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field, A::Error> {
        let mut f = Field::default();
        while let Some(key) = map.next_key::<PartKey>()? {
            let (slot, name) = match key {
                PartKey::Value => (&mut f.value, "value"),
                PartKey::DisplayValue => (&mut f.display_value, "display_value"),
                PartKey::Link => (&mut f.link, "link"),
                PartKey::Internal | PartKey::Other(_) => {
                    map.next_value::<de::IgnoredAny>()?;
                    continue;
                }
            };
            let v: serde_json::Value = map.next_value()?;
            *slot = into_text(v)
                .map_err(|_| de::Error::custom(format!("field part `{name}` is not a string")))?;
        }
        Ok(f)
    }
}

impl<'de> serde::Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}
