//! [`OrderCheck`]: what a stream verifies about the sys_ids of the records it yields, so that a
//! server that ignores the offset, repeats rows across pages or reorders them gives an error
//! naming the page, never a quietly wrong result set.
//!
//! - Ordered by `sys_id` (the default order of a stream): sys_ids strictly increase within each
//!   page, and pages do not overlap: each page's first sys_id is above the last sys_id of the
//!   page before it (by offset) and its last below the first of the page after it. Pages are
//!   tracked by offset only while they are not contiguous with the pages before them (pages
//!   yielded as they arrive), so memory stays within the pages in flight.
//! - Any other order: no sys_id twice within a page or in two consecutive pages (the ids of the
//!   previous page are kept: memory is one page of ids).
//!
//! A record without a `sys_id` is not checked (the stream asks for `sys_id` whenever the
//! caller's field list leaves it out).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};

use crate::Error;

/// How a stream checks the sys_ids it yields.
#[derive(Debug)]
pub(crate) enum OrderCheck {
    /// The stream is ordered by sys_id, ascending.
    Ascending(Ascending),
    /// Another order: no repeats.
    Distinct(Distinct),
    /// No check (a stream that failed before its first page).
    Off,
}

/// Where the page being yielded sits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PagePos {
    /// The page's number in the order pages were yielded, from 1.
    pub(crate) number: u64,
    /// The page's offset and length, when paging by offset; `None` when pages follow one
    /// another (keyset, links).
    pub(crate) span: Option<(u64, u64)>,
}

impl PagePos {
    fn describe(&self) -> String {
        match self.span {
            Some((offset, _)) => format!("page {} (offset {offset})", self.number),
            None => format!("page {}", self.number),
        }
    }
}

impl OrderCheck {
    /// The check for a stream sorted by sys_id (`ascending`) or by something else.
    pub(crate) fn new(ascending: bool) -> Self {
        if ascending {
            OrderCheck::Ascending(Ascending::default())
        } else {
            OrderCheck::Distinct(Distinct::default())
        }
    }

    /// A new page starts.
    pub(crate) fn begin(&mut self, pos: PagePos) {
        match self {
            OrderCheck::Ascending(a) => a.begin(pos),
            OrderCheck::Distinct(d) => d.begin(pos),
            OrderCheck::Off => {}
        }
    }

    /// Whether the check needs each record's sys_id.
    pub(crate) fn wants_ids(&self) -> bool {
        !matches!(self, OrderCheck::Off)
    }

    /// The next record of the current page has this sys_id.
    pub(crate) fn record(&mut self, sys_id: Option<&str>) -> Result<(), Error> {
        let Some(id) = sys_id else { return Ok(()) };
        match self {
            OrderCheck::Ascending(a) => a.record(id),
            OrderCheck::Distinct(d) => d.record(id),
            OrderCheck::Off => Ok(()),
        }
    }

    /// The current page has been yielded whole.
    pub(crate) fn end(&mut self) -> Result<(), Error> {
        match self {
            OrderCheck::Ascending(a) => a.end(),
            OrderCheck::Distinct(d) => {
                d.end();
                Ok(())
            }
            OrderCheck::Off => Ok(()),
        }
    }
}

fn paging(reason: String) -> Error {
    Error::Paging { reason }
}

/// The first and last sys_id of pages already yielded, by offset.
#[derive(Debug, Clone)]
struct Seen {
    len: u64,
    first: String,
    last: String,
}

/// The check of a stream sorted by sys_id.
#[derive(Debug, Default)]
pub(crate) struct Ascending {
    pos: Option<PagePos>,
    first: Option<String>,
    last: String,
    /// Pages yielded, by offset (or by number when paging is sequential); contiguous pages are
    /// merged, so this holds one entry plus the pages yielded ahead of a gap.
    seen: BTreeMap<u64, Seen>,
}

impl Ascending {
    fn begin(&mut self, pos: PagePos) {
        self.pos = Some(pos);
        self.first = None;
        self.last.clear();
    }

    /// The page's key and length in `seen`.
    fn key(&self) -> (u64, u64) {
        match self.pos {
            Some(PagePos {
                span: Some((offset, len)),
                ..
            }) => (offset, len),
            Some(PagePos { number, .. }) => (number, 1),
            None => (0, 1),
        }
    }

    fn here(&self) -> String {
        self.pos
            .map_or_else(|| "a page".to_owned(), |p| p.describe())
    }

    fn record(&mut self, id: &str) -> Result<(), Error> {
        if self.first.is_none() {
            // The first record of the page: above the last of the page before it.
            let (key, _) = self.key();
            if let Some((_, before)) = self.seen.range(..key).next_back()
                && id <= before.last.as_str()
            {
                return Err(paging(format!(
                    "{} starts with sys_id {id}, not after {} where the page before it ended; \
                         the instance repeated rows or ignored the offset",
                    self.here(),
                    before.last
                )));
            }
            self.first = Some(id.to_owned());
        } else if id <= self.last.as_str() {
            return Err(paging(format!(
                "{} has sys_id {id} after {}; the rows are not in sys_id order or come twice",
                self.here(),
                self.last
            )));
        }
        self.last.clear();
        self.last.push_str(id);
        Ok(())
    }

    fn end(&mut self) -> Result<(), Error> {
        let Some(first) = self.first.take() else {
            return Ok(());
        };
        let (key, len) = self.key();
        if let Some((_, after)) = self.seen.range(key.saturating_add(1)..).next()
            && self.last.as_str() >= after.first.as_str()
        {
            return Err(paging(format!(
                "{} ends with sys_id {}, not before {} where a later page starts; \
                     the instance repeated rows or ignored the offset",
                self.here(),
                self.last,
                after.first
            )));
        }
        self.seen.insert(
            key,
            Seen {
                len,
                first,
                last: self.last.clone(),
            },
        );
        self.merge();
        Ok(())
    }

    /// Merges pages that follow one another, keeping only the bounds of each run.
    fn merge(&mut self) {
        let keys: Vec<u64> = self.seen.keys().copied().collect();
        let mut run = None::<u64>;
        for key in keys {
            if let Some(start) = run {
                let end = self.seen.get(&start).map(|s| start.saturating_add(s.len));
                if end == Some(key) {
                    if let Some(next) = self.seen.remove(&key)
                        && let Some(lower) = self.seen.get_mut(&start)
                    {
                        lower.len += next.len;
                        lower.last = next.last;
                    }
                    continue;
                }
            }
            run = Some(key);
        }
    }
}

/// The check of a stream in another order: no repeats within a page or across two consecutive
/// pages.
#[derive(Debug, Default)]
pub(crate) struct Distinct {
    pos: Option<PagePos>,
    previous: HashSet<String>,
    current: HashSet<String>,
}

impl Distinct {
    fn begin(&mut self, pos: PagePos) {
        self.pos = Some(pos);
        self.current.clear();
    }

    fn record(&mut self, id: &str) -> Result<(), Error> {
        let here = || {
            self.pos
                .map_or_else(|| "a page".to_owned(), |p| p.describe())
        };
        if self.previous.contains(id) {
            return Err(paging(format!(
                "{} repeats sys_id {id} from the page before it; the instance repeated rows or \
                 ignored the offset",
                here()
            )));
        }
        if !self.current.insert(id.to_owned()) {
            return Err(paging(format!("{} has sys_id {id} twice", here())));
        }
        Ok(())
    }

    fn end(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }
}

/// The `sys_id` of one record, read without decoding the rest: a string, or the `value` of a
/// `{"display_value","value"}` object (`sysparm_display_value=all`); the last one when a record
/// names it twice.
///
/// `known` is where the page walk found the member ([`RecordAt::sys_id`]); otherwise the
/// record's members are walked here by their structure (strings skipped whole), which costs a
/// small part of decoding the record. The value, and any record whose structure the walk does
/// not follow, are read by serde_json.
///
/// [`RecordAt::sys_id`]: crate::response::walk::RecordAt::sys_id
pub(crate) fn probe_sys_id(
    record: &[u8],
    known: Option<Option<Range<usize>>>,
) -> Result<Option<Cow<'_, str>>, serde_json::Error> {
    let at = match known.or_else(|| crate::response::walk::member(record, b"sys_id")) {
        Some(None) => return Ok(None),
        Some(Some(at)) => at,
        None => return decode_sys_id(record),
    };
    let Some(raw) = record.get(at) else {
        return decode_sys_id(record);
    };
    // A plain string is the common case: its bytes are the sys_id.
    if let Some(inner) = raw.strip_prefix(b"\"").and_then(|r| r.strip_suffix(b"\""))
        && !inner.contains(&b'\\')
        && let Ok(id) = std::str::from_utf8(inner)
    {
        return Ok(Some(Cow::Borrowed(id)));
    }
    Ok(serde_json::from_slice::<IdValue<'_>>(raw)?.0)
}

/// [`probe_sys_id`] by serde_json alone: the record decoded as a struct of one optional member.
pub(crate) fn decode_sys_id(record: &[u8]) -> Result<Option<Cow<'_, str>>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(borrow, default)]
        sys_id: Option<IdValue<'a>>,
    }
    Ok(serde_json::from_slice::<Probe<'_>>(record)?
        .sys_id
        .and_then(|v| v.0))
}

/// A sys_id field in any of its shapes.
struct IdValue<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for IdValue<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = IdValue<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sys_id")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(IdValue(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(IdValue(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut value = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "value" {
                        value = map.next_value::<IdValue<'a>>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(IdValue(value))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(IdValue(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(IdValue(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(IdValue(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(IdValue(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(IdValue(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(IdValue(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(IdValue(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe_sys_id_of(record: &[u8]) -> Result<Option<Cow<'_, str>>, serde_json::Error> {
        probe_sys_id(record, None)
    }

    fn pos(number: u64, span: Option<(u64, u64)>) -> PagePos {
        PagePos { number, span }
    }

    #[test]
    fn probes_every_shape() {
        assert_eq!(
            probe_sys_id_of(br#"{"a":1,"sys_id":"x"}"#)
                .unwrap()
                .as_deref(),
            Some("x")
        );
        assert_eq!(
            probe_sys_id_of(br#"{"sys_id":{"display_value":"d","value":"v"}}"#)
                .unwrap()
                .as_deref(),
            Some("v")
        );
        assert_eq!(probe_sys_id_of(br#"{"number":"1"}"#).unwrap(), None);
        assert_eq!(probe_sys_id_of(br#"{"sys_id":null}"#).unwrap(), None);
        assert_eq!(
            probe_sys_id_of(br#"{"sys_id":"a\"b"}"#).unwrap().as_deref(),
            Some("a\"b")
        );
        assert!(probe_sys_id_of(b"{").is_err());
    }

    #[test]
    fn ascending_pages_in_any_arrival_order() {
        let mut c = OrderCheck::new(true);
        // Offsets 20 then 0 then 10 (as they arrive), each page ten ids.
        for (offset, ids) in [(20u64, 20..30), (0, 0..10), (10, 10..20)] {
            c.begin(pos(1, Some((offset, 10))));
            for i in ids {
                c.record(Some(&format!("{i:04}"))).unwrap();
            }
            c.end().unwrap();
        }
        if let OrderCheck::Ascending(a) = &c {
            assert_eq!(a.seen.len(), 1, "contiguous pages merged: {:?}", a.seen);
        }
        // A page at offset 30 that overlaps what came before.
        c.begin(pos(4, Some((30, 10))));
        let e = c.record(Some("0025")).unwrap_err();
        assert!(e.to_string().contains("page 4 (offset 30)"), "{e}");
    }

    #[test]
    fn an_early_page_that_overlaps_a_later_one_is_caught_at_its_end() {
        let mut c = OrderCheck::new(true);
        c.begin(pos(1, Some((10, 10))));
        for i in 10..20 {
            c.record(Some(&format!("{i:04}"))).unwrap();
        }
        c.end().unwrap();
        c.begin(pos(2, Some((0, 10))));
        for i in 5..15 {
            c.record(Some(&format!("{i:04}"))).unwrap();
        }
        assert!(c.end().is_err());
    }

    #[test]
    fn distinct_catches_repeats_within_and_across_one_page() {
        let mut c = OrderCheck::new(false);
        c.begin(pos(1, None));
        c.record(Some("b")).unwrap();
        c.record(Some("a")).unwrap();
        assert!(c.record(Some("a")).is_err());
        c.end().unwrap();
        c.begin(pos(2, None));
        let e = c.record(Some("b")).unwrap_err();
        assert!(e.to_string().contains("page 2"), "{e}");
        c.record(None).unwrap();
    }
}
