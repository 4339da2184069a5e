//! ServiceNow's `error` member, and the tolerant second pass over a body that did not decode:
//! how many records arrived, whether there was a `result` and an `error`, and where the JSON
//! stopped.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Longest `message` / `detail` text kept from an error body.
const MAX_TEXT: usize = 2000;

/// ServiceNow's `error` member.
#[derive(Debug, Default)]
pub(super) struct ErrorBody {
    pub(super) message: String,
    pub(super) detail: Option<String>,
}

fn clip(s: String) -> String {
    if s.chars().count() > MAX_TEXT {
        let mut c: String = s.chars().take(MAX_TEXT).collect();
        c.push('…');
        c
    } else {
        s
    }
}

impl<'de> Deserialize<'de> for ErrorBody {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            message: Option<serde_json::Value>,
            detail: Option<serde_json::Value>,
        }
        let text = |v: Option<serde_json::Value>| match v {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => None,
            Some(serde_json::Value::String(s)) => Some(clip(s)),
            Some(other) => Some(clip(other.to_string())),
        };
        // Some APIs send `"error": "text"`; accept that as the message.
        let v = serde_json::Value::deserialize(d)?;
        match v {
            serde_json::Value::Object(_) => {
                let raw = Raw::deserialize(v).map_err(de::Error::custom)?;
                Ok(ErrorBody {
                    message: text(raw.message).unwrap_or_default(),
                    detail: text(raw.detail),
                })
            }
            other => Ok(ErrorBody {
                message: text(Some(other)).unwrap_or_default(),
                detail: None,
            }),
        }
    }
}

/// What a tolerant second pass over the body found.
#[derive(Debug, Default)]
pub(super) struct Scan {
    pub(super) rows: usize,
    pub(super) has_result: bool,
    pub(super) error: Option<ErrorBody>,
    /// The body ended before the JSON did.
    pub(super) eof: bool,
    /// The JSON was malformed (other than ending early), or not an object.
    pub(super) malformed: bool,
    /// What the parser said when it stopped, when it did.
    pub(super) problem: Option<serde_json::Error>,
}

struct ScanVisitor<'a> {
    rows: &'a Cell<usize>,
    has_result: &'a Cell<bool>,
    error: &'a RefCell<Option<ErrorBody>>,
}

struct CountSeed<'a>(&'a Cell<usize>);

impl<'de> DeserializeSeed<'de> for CountSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CountSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a result")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {
            self.0.set(self.0.get() + 1);
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.0.set(1);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
}

impl<'de> Visitor<'de> for ScanVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "result" => {
                    self.has_result.set(true);
                    map.next_value_seed(CountSeed(self.rows))?;
                }
                "error" => {
                    let e: ErrorBody = map.next_value()?;
                    *self.error.borrow_mut() = Some(e);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Reads `body` as far as it goes, without failing.
pub(super) fn scan(body: &[u8]) -> Scan {
    let rows = Cell::new(0);
    let has_result = Cell::new(false);
    let error = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let outcome = de::Deserializer::deserialize_map(
        &mut de,
        ScanVisitor {
            rows: &rows,
            has_result: &has_result,
            error: &error,
        },
    )
    .and_then(|()| de.end());
    let (eof, malformed) = match &outcome {
        Ok(()) => (false, false),
        Err(e) => (e.is_eof(), !e.is_eof()),
    };
    Scan {
        rows: rows.get(),
        has_result: has_result.get(),
        error: error.into_inner(),
        eof,
        malformed,
        problem: outcome.err(),
    }
}
