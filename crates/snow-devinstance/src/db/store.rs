//! The rows of one table, in insertion order; deleted rows leave a hole so slots stay stable.

use super::record::Record;

#[derive(Debug, Clone, Default)]
pub(crate) struct Store {
    rows: Vec<Option<Record>>,
    live: usize,
}

impl Store {
    pub(crate) fn push(&mut self, rec: Record) -> u32 {
        let slot = u32::try_from(self.rows.len()).unwrap_or(u32::MAX);
        self.rows.push(Some(rec));
        self.live += 1;
        slot
    }

    pub(crate) fn get(&self, slot: u32) -> Option<&Record> {
        self.rows.get(slot as usize).and_then(Option::as_ref)
    }

    pub(crate) fn replace(&mut self, slot: u32, rec: Record) {
        if let Some(row) = self.rows.get_mut(slot as usize) {
            *row = Some(rec);
        }
    }

    pub(crate) fn remove(&mut self, slot: u32) -> Option<Record> {
        let rec = self.rows.get_mut(slot as usize).and_then(Option::take);
        if rec.is_some() {
            self.live -= 1;
        }
        rec
    }

    pub(crate) fn live(&self) -> usize {
        self.live
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Record> {
        self.rows.iter().filter_map(Option::as_ref)
    }
}
