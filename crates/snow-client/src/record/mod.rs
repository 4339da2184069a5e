//! Dynamic records: [`Record`], [`FieldValue`] and [`Field`].
//!
//! Use these when the fields are not known at compile time, or use [`Field`] as the type of each
//! member of your own serde struct to keep value, display value and link together.
//!
//! ```
//! use snow_client::Record;
//! let r: Record = serde_json::from_str(r#"{
//!     "number": "INC0010001",
//!     "active": "true",
//!     "priority": {"display_value": "1 - Critical", "value": "1"},
//!     "caller_id": {"link": "https://acme.service-now.com/api/now/table/sys_user/5137153cc611227c000bbd1bd8cd2005", "value": "5137153cc611227c000bbd1bd8cd2005"},
//!     "opened_at": "2016-01-19 04:51:19"
//! }"#)?;
//! assert_eq!(r.str("number"), Some("INC0010001"));
//! assert_eq!(r.bool("active")?, Some(true));
//! assert_eq!(r.i64("priority")?, Some(1));
//! assert_eq!(r.get("priority").and_then(|f| f.display_value()), Some("1 - Critical"));
//! assert!(r.get("caller_id").and_then(|f| f.link()).is_some());
//! assert_eq!(r.datetime("opened_at")?.map(|d| d.unix_timestamp()), Some(1453179079));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod field;
mod lazy;

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};
use time::{Date, OffsetDateTime};

pub use field::{Field, ValueError};

use crate::Error;

/// The value of one member of a [`Record`]: a Table-API field, or other JSON (for APIs whose
/// records are not flat strings).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FieldValue {
    /// A string, or one of the `{value, display_value, link}` objects.
    Field(Field),
    /// Anything else: nested objects, arrays (from non-Table APIs).
    Json(serde_json::Value),
}

impl FieldValue {
    /// The field form, if this is one.
    pub fn as_field(&self) -> Option<&Field> {
        match self {
            FieldValue::Field(f) => Some(f),
            FieldValue::Json(_) => None,
        }
    }
    /// The stored value.
    pub fn value(&self) -> Option<&str> {
        self.as_field().and_then(Field::value)
    }
    /// The display value.
    pub fn display_value(&self) -> Option<&str> {
        self.as_field().and_then(Field::display_value)
    }
    /// The link of a reference.
    pub fn link(&self) -> Option<&str> {
        self.as_field().and_then(Field::link)
    }
    /// The value, or the display value when only that was sent.
    pub fn as_str(&self) -> Option<&str> {
        self.as_field().and_then(Field::as_str)
    }
}

impl From<Field> for FieldValue {
    fn from(f: Field) -> Self {
        FieldValue::Field(f)
    }
}

impl Serialize for FieldValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldValue::Field(f) => f.serialize(s),
            FieldValue::Json(v) => v.serialize(s),
        }
    }
}

pub(crate) struct FieldValueVisitor;

impl<'de> Visitor<'de> for FieldValueVisitor {
    type Value = FieldValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldValue, E> {
        Ok(FieldValue::Field(Field::new(v)))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<FieldValue, E> {
        Ok(FieldValue::Field(Field::new(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<FieldValue, E> {
        Ok(FieldValue::Field(Field::new(v.to_string())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<FieldValue, E> {
        Ok(FieldValue::Field(Field::new(v.to_string())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<FieldValue, E> {
        Ok(FieldValue::Field(Field::new(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<FieldValue, E> {
        Ok(FieldValue::Field(Field::new(v.to_string())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<FieldValue, E> {
        Ok(FieldValue::Field(Field::default()))
    }
    fn visit_none<E: de::Error>(self) -> Result<FieldValue, E> {
        Ok(FieldValue::Field(Field::default()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<FieldValue, A::Error> {
        let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(FieldValue::Json(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FieldValue, A::Error> {
        // A reference's parts are moved into the field, not copied.
        Ok(match Field::visit_object(map)? {
            Ok(f) => FieldValue::Field(f),
            Err(v) => FieldValue::Json(v),
        })
    }
}

use serde::Deserialize as _;

impl<'de> serde::Deserialize<'de> for FieldValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldValueVisitor)
    }
}

/// A record as a map of field name to [`FieldValue`], sorted by name. Dot-walked fields keep
/// their dotted name (`caller_id.email`).
///
/// A record the client receives (from a list stream, or one record by sys_id) is kept as the
/// JSON it arrived in, checked whole, and each text field is made into a [`Field`] only when it
/// is read: reading a few fields of each record of a large table costs about what decoding
/// them into a struct of your own would. [`str`](Self::str) reads a text field without making
/// anything; [`iter`](Self::iter), [`len`](Self::len), comparing, printing and serialising make
/// the whole map once; changing the record turns it into a plain map.
#[derive(Clone, Default)]
pub struct Record(Repr);

#[derive(Clone)]
enum Repr {
    Map(BTreeMap<String, FieldValue>),
    Lazy(Box<lazy::LazyRecord>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Map(BTreeMap::new())
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Record").field(self.map()).finish()
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.map() == other.map()
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.map().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(d).map(|m| Record(Repr::Map(m)))
    }
}

impl Record {
    /// An empty record (to fill and send).
    pub fn new() -> Self {
        Self::default()
    }

    /// A record read from the JSON of one object, kept as that JSON (see the type's
    /// documentation); the same errors as `serde_json::from_slice`.
    pub(crate) fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        match lazy::LazyRecord::read(bytes) {
            Some(lazy) => Ok(Record(Repr::Lazy(Box::new(lazy)))),
            // Not JSON, not an object, or names with escapes: decoded as a map (which says
            // what is wrong, if anything).
            None => serde_json::from_slice(bytes),
        }
    }

    /// The record of an answer that is exactly `{"result":{...}}`, kept as its JSON; `None`
    /// for any other answer (which the caller decodes the ordinary way).
    pub(crate) fn from_result_json(body: &[u8]) -> Option<Self> {
        lazy::LazyRecord::read_result(body).map(|l| Record(Repr::Lazy(Box::new(l))))
    }

    fn map(&self) -> &BTreeMap<String, FieldValue> {
        match &self.0 {
            Repr::Map(m) => m,
            Repr::Lazy(l) => l.map(),
        }
    }

    /// Runs `f` on the record as a plain map (which it stays).
    fn with_map<R>(&mut self, f: impl FnOnce(&mut BTreeMap<String, FieldValue>) -> R) -> R {
        let mut map = match std::mem::take(&mut self.0) {
            Repr::Map(m) => m,
            Repr::Lazy(l) => l.into_map(),
        };
        let out = f(&mut map);
        self.0 = Repr::Map(map);
        out
    }

    fn into_map(self) -> BTreeMap<String, FieldValue> {
        match self.0 {
            Repr::Map(m) => m,
            Repr::Lazy(l) => l.into_map(),
        }
    }

    /// The member `name`.
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        match &self.0 {
            Repr::Map(m) => m.get(name),
            Repr::Lazy(l) => l.get(name),
        }
    }

    /// Sets a member, returning the previous one.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        value: impl Into<Field>,
    ) -> Option<FieldValue> {
        let (name, value) = (name.into(), FieldValue::Field(value.into()));
        self.with_map(|m| m.insert(name, value))
    }

    /// Removes a member.
    pub fn remove(&mut self, name: &str) -> Option<FieldValue> {
        self.with_map(|m| m.remove(name))
    }

    /// The members, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FieldValue)> {
        self.map().iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }

    /// The record's `sys_id` value.
    pub fn sys_id(&self) -> Option<&str> {
        self.str("sys_id")
    }

    /// The value (or display value when only that was sent) of `name`.
    pub fn str(&self, name: &str) -> Option<&str> {
        match &self.0 {
            Repr::Map(m) => m.get(name).and_then(FieldValue::as_str),
            Repr::Lazy(l) => l.str(name),
        }
    }

    fn typed<T>(
        &self,
        name: &str,
        read: impl FnOnce(&Field) -> Result<Option<T>, ValueError>,
    ) -> Result<Option<T>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(FieldValue::Field(f)) => read(f).map_err(|e| Error::FieldValue {
                field: crate::query_quote(name),
                source: e,
            }),
            Some(FieldValue::Json(_)) => Err(Error::FieldValue {
                field: crate::query_quote(name),
                source: ValueError {
                    value: "(nested JSON)".to_owned(),
                    expected: "a field value",
                },
            }),
        }
    }

    /// `name` as a boolean; `Ok(None)` when absent or empty, [`Error::Decode`] naming the field
    /// when it is not `true`/`false`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, Error> {
        self.typed(name, Field::as_bool)
    }

    /// `name` as an integer.
    pub fn i64(&self, name: &str) -> Result<Option<i64>, Error> {
        self.typed(name, Field::as_i64)
    }

    /// `name` as a date (`yyyy-MM-dd`).
    pub fn date(&self, name: &str) -> Result<Option<Date>, Error> {
        self.typed(name, Field::as_date)
    }

    /// `name` as a UTC date and time (`yyyy-MM-dd HH:mm:ss`).
    pub fn datetime(&self, name: &str) -> Result<Option<OffsetDateTime>, Error> {
        self.typed(name, Field::as_datetime)
    }
}

impl FromIterator<(String, FieldValue)> for Record {
    fn from_iter<I: IntoIterator<Item = (String, FieldValue)>>(iter: I) -> Self {
        Record(Repr::Map(iter.into_iter().collect()))
    }
}

impl IntoIterator for Record {
    type Item = (String, FieldValue);
    type IntoIter = std::collections::btree_map::IntoIter<String, FieldValue>;
    fn into_iter(self) -> Self::IntoIter {
        self.into_map().into_iter()
    }
}

#[cfg(test)]
mod tests;
