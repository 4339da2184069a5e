//! The rows of one table, in insertion order; deleted rows leave a hole so slots stay stable.
//! A second index keeps the rows in sys_id order, so `ORDERBYsys_id` (what every paging client
//! sends) walks rows in order instead of sorting the table on each request.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::eval::SysIdRange;
use super::record::Record;

#[derive(Debug, Clone, Default)]
pub(crate) struct Store {
    rows: Vec<Option<Record>>,
    /// Slots by sys_id, maintained on every insert and delete (a sys_id never changes).
    by_sys_id: BTreeMap<Box<str>, u32>,
    live: usize,
}

impl Store {
    pub(crate) fn push(&mut self, rec: Record) -> u32 {
        let slot = u32::try_from(self.rows.len()).unwrap_or(u32::MAX);
        self.by_sys_id.insert(rec.sys_id().into(), slot);
        self.rows.push(Some(rec));
        self.live += 1;
        slot
    }

    pub(crate) fn get(&self, slot: u32) -> Option<&Record> {
        self.rows.get(slot as usize).and_then(Option::as_ref)
    }

    /// Replaces a row with a new version of the same record (same sys_id).
    pub(crate) fn replace(&mut self, slot: u32, rec: Record) {
        if let Some(row) = self.rows.get_mut(slot as usize) {
            debug_assert_eq!(row.as_ref().map(Record::sys_id), Some(rec.sys_id()));
            *row = Some(rec);
        }
    }

    pub(crate) fn remove(&mut self, slot: u32) -> Option<Record> {
        let rec = self.rows.get_mut(slot as usize).and_then(Option::take);
        if let Some(r) = &rec {
            self.by_sys_id.remove(r.sys_id());
            self.live -= 1;
        }
        rec
    }

    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// The rows with their slots, in insertion order.
    pub(crate) fn iter_slots(&self) -> impl Iterator<Item = (u32, &Record)> {
        self.rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((u32::try_from(i).ok()?, r.as_ref()?)))
    }

    /// The rows in insertion order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Record> {
        self.rows.iter().filter_map(Option::as_ref)
    }

    /// The rows whose sys_id is in the range, in ascending sys_id order (byte order, as
    /// ServiceNow sorts sys_ids).
    pub(crate) fn range_by_sys_id<'a>(
        &'a self,
        range: &SysIdRange,
    ) -> Box<dyn DoubleEndedIterator<Item = &'a Record> + 'a> {
        if range.is_empty() {
            return Box::new(std::iter::empty());
        }
        Box::new(
            self.by_sys_id
                .range::<str, _>(range.as_bounds())
                .filter_map(|(_, &slot)| self.get(slot)),
        )
    }

    /// How many rows have a sys_id in the range (walks the index, not the rows).
    pub(crate) fn count_range(&self, range: &SysIdRange) -> usize {
        if range.is_empty() {
            return 0;
        }
        match range.as_bounds() {
            (Bound::Unbounded, Bound::Unbounded) => self.live,
            bounds => self.by_sys_id.range::<str, _>(bounds).count(),
        }
    }
}
