//! [`LazyRecord`]: a record kept as the JSON it arrived in, its text fields made into
//! [`Field`]s only when asked for.
//!
//! A Table-API record is mostly plain strings (an incident: about 45 members, 7 of them
//! references), and a caller often reads a few of them. Decoding every member into an owned
//! name and value costs two allocations per member and a sorted map; this keeps the record's
//! bytes, reads them once with serde_json (so the JSON is checked whole, as an eager decode
//! checks it), and notes where each member's name and plain-string value are. Any other value
//! (a reference object, a string with escapes, a number, nested JSON) is decoded in that same
//! pass, so reading a field later cannot fail. A record whose member names hold escapes is
//! decoded eagerly instead.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::{Field, FieldValue, FieldValueVisitor};

/// A record's JSON with the position of each member.
#[derive(Clone)]
pub(super) struct LazyRecord {
    json: Box<str>,
    /// In arrival order; a name that comes twice counts with its last value.
    members: Vec<Member>,
    /// The values decoded while reading (everything but plain strings).
    decoded: Vec<FieldValue>,
    /// Plain-string values as [`FieldValue`]s, made when [`get`](Self::get) is first called.
    cache: OnceLock<Box<[OnceLock<FieldValue>]>>,
    /// The whole record as a map, made when it is asked for as a whole.
    map: OnceLock<BTreeMap<String, FieldValue>>,
}

#[derive(Clone)]
struct Member {
    name: Range<u32>,
    value: Slot,
}

#[derive(Clone)]
enum Slot {
    /// A string without escapes: its text in the JSON.
    Text(Range<u32>),
    /// An index into `decoded`.
    Decoded(u32),
}

impl LazyRecord {
    /// Reads `bytes` (one JSON object). `None` when it is not valid JSON, not an object, or a
    /// member name holds an escape: the caller decodes it eagerly then (which reports what is
    /// wrong, if anything).
    pub(super) fn read(bytes: &[u8]) -> Option<Self> {
        Self::read_with(bytes, |de, base| Index { base }.deserialize(de))
    }

    /// Reads the record of an answer that is exactly `{"result":{...}}`, in the same one pass
    /// (the answer's few bytes around the record are kept with it). `None` for any other shape.
    pub(super) fn read_result(body: &[u8]) -> Option<Self> {
        Self::read_with(body, |de, base| de.deserialize_map(Envelope { base }))
    }

    fn read_with(
        bytes: &[u8],
        read: impl FnOnce(
            &mut serde_json::Deserializer<serde_json::de::StrRead<'_>>,
            usize,
        ) -> Result<Indexed, serde_json::Error>,
    ) -> Option<Self> {
        let json = std::str::from_utf8(bytes).ok()?;
        u32::try_from(json.len()).ok()?;
        let mut de = serde_json::Deserializer::from_str(json);
        let (members, decoded) = read(&mut de, json.as_ptr() as usize).ok()??;
        de.end().ok()?;
        Some(Self {
            json: json.into(),
            members,
            decoded,
            cache: OnceLock::new(),
            map: OnceLock::new(),
        })
    }

    fn text(&self, r: &Range<u32>) -> &str {
        self.json
            .get(r.start as usize..r.end as usize)
            .unwrap_or_default()
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.members
            .iter()
            .rposition(|m| self.text(&m.name) == name)
    }

    /// The member `name`.
    pub(super) fn get(&self, name: &str) -> Option<&FieldValue> {
        if let Some(map) = self.map.get() {
            return map.get(name);
        }
        let i = self.find(name)?;
        match &self.members.get(i)?.value {
            Slot::Decoded(k) => self.decoded.get(*k as usize),
            Slot::Text(r) => {
                let cache = self
                    .cache
                    .get_or_init(|| self.members.iter().map(|_| OnceLock::new()).collect());
                Some(
                    cache
                        .get(i)?
                        .get_or_init(|| Field::new(self.text(r)).into()),
                )
            }
        }
    }

    /// The value (or display value) of `name`, read straight from the JSON when it is a plain
    /// string.
    pub(super) fn str(&self, name: &str) -> Option<&str> {
        let i = self.find(name)?;
        match &self.members.get(i)?.value {
            Slot::Text(r) => Some(self.text(r)),
            Slot::Decoded(k) => self.decoded.get(*k as usize)?.as_str(),
        }
    }

    fn build_map(&self) -> BTreeMap<String, FieldValue> {
        let mut map = BTreeMap::new();
        for m in &self.members {
            let value = match &m.value {
                Slot::Text(r) => Field::new(self.text(r)).into(),
                Slot::Decoded(k) => match self.decoded.get(*k as usize) {
                    Some(v) => v.clone(),
                    None => continue,
                },
            };
            map.insert(self.text(&m.name).to_owned(), value);
        }
        map
    }

    /// The whole record as a map (made once).
    pub(super) fn map(&self) -> &BTreeMap<String, FieldValue> {
        self.map.get_or_init(|| self.build_map())
    }

    /// The whole record as a map, taken.
    pub(super) fn into_map(mut self) -> BTreeMap<String, FieldValue> {
        self.map.take().unwrap_or_else(|| self.build_map())
    }
}

impl fmt::Debug for LazyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.map().fmt(f)
    }
}

/// Where `s` (borrowed from the JSON) sits in it.
fn range_of(base: usize, s: &str) -> Option<Range<u32>> {
    let start = u32::try_from((s.as_ptr() as usize).checked_sub(base)?).ok()?;
    Some(start..start.checked_add(u32::try_from(s.len()).ok()?)?)
}

type Indexed = Option<(Vec<Member>, Vec<FieldValue>)>;

/// Reads the members of the record: `None` when a name holds an escape.
struct Index {
    base: usize,
}

impl<'de> Visitor<'de> for Index {
    type Value = Indexed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Indexed, A::Error> {
        let mut members = Vec::with_capacity(64);
        let mut decoded = Vec::new();
        let mut plain_names = true;
        while let Some(name) = map.next_key_seed(Name { base: self.base })? {
            let value = map.next_value_seed(Value { base: self.base })?;
            let Some(name) = name else {
                plain_names = false;
                continue;
            };
            let value = match value {
                Read::Text(r) => Slot::Text(r),
                Read::Decoded(v) => {
                    let k = u32::try_from(decoded.len()).map_err(de::Error::custom)?;
                    decoded.push(v);
                    Slot::Decoded(k)
                }
            };
            members.push(Member { name, value });
        }
        Ok(plain_names.then_some((members, decoded)))
    }
}

/// `{"result": <record>}` and nothing else.
struct Envelope {
    base: usize,
}

impl<'de> Visitor<'de> for Envelope {
    type Value = Indexed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an answer")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Indexed, A::Error> {
        // A name with an escape cannot be borrowed: an error here, and the answer is then
        // decoded the ordinary way.
        if map.next_key::<&'de str>()? != Some("result") {
            return Ok(None);
        }
        let record = map.next_value_seed(Index { base: self.base })?;
        let alone = map.next_key::<de::IgnoredAny>()?.is_none();
        Ok(record.filter(|_| alone))
    }
}

impl<'de> DeserializeSeed<'de> for Index {
    type Value = Indexed;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Indexed, D::Error> {
        d.deserialize_map(self)
    }
}

/// A member name: its place in the JSON, or `None` when it holds an escape.
struct Name {
    base: usize,
}

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Option<Range<u32>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Option<Range<u32>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(range_of(self.base, v))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A member value: a plain string's place, or the value decoded.
enum Read {
    Text(Range<u32>),
    Decoded(FieldValue),
}

struct Value {
    base: usize,
}

impl<'de> DeserializeSeed<'de> for Value {
    type Value = Read;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Read, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Value {
    type Value = Read;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Read, E> {
        Ok(match range_of(self.base, v) {
            Some(r) => Read::Text(r),
            None => Read::Decoded(Field::new(v).into()),
        })
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Read, E> {
        FieldValueVisitor.visit_str(v).map(Read::Decoded)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Read, E> {
        FieldValueVisitor.visit_bool(v).map(Read::Decoded)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Read, E> {
        FieldValueVisitor.visit_i64(v).map(Read::Decoded)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Read, E> {
        FieldValueVisitor.visit_u64(v).map(Read::Decoded)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Read, E> {
        FieldValueVisitor.visit_f64(v).map(Read::Decoded)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Read, E> {
        FieldValueVisitor.visit_unit().map(Read::Decoded)
    }
    fn visit_none<E: de::Error>(self) -> Result<Read, E> {
        FieldValueVisitor.visit_none().map(Read::Decoded)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Read, A::Error> {
        FieldValueVisitor.visit_seq(seq).map(Read::Decoded)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Read, A::Error> {
        FieldValueVisitor.visit_map(map).map(Read::Decoded)
    }
}
