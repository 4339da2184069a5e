//! One stored row, packed into a single string buffer.

use super::schema::{SYS_ID, TableId, TableSchema, schemas};

/// A stored record: the values of all its table's fields, packed into one buffer.
///
/// Values are indexed like the fields of the record's own table schema (its class).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    table: TableId,
    buf: Box<str>,
    ends: Box<[u32]>,
}

impl Record {
    /// Packs values (one per field of `schema`, missing ones empty) into a record.
    pub(crate) fn pack<S: AsRef<str>>(schema: &TableSchema, values: &[S]) -> Record {
        let mut buf = String::new();
        let mut ends = Vec::with_capacity(schema.fields.len());
        for i in 0..schema.fields.len() {
            if let Some(v) = values.get(i) {
                buf.push_str(v.as_ref());
            }
            ends.push(u32::try_from(buf.len()).unwrap_or(u32::MAX));
        }
        Record {
            table: schema.id,
            buf: buf.into_boxed_str(),
            ends: ends.into_boxed_slice(),
        }
    }

    /// All values as owned strings, one per field of the record's class.
    pub(crate) fn unpack(&self) -> Vec<String> {
        (0..self.ends.len())
            .map(|i| self.value_at(i).to_owned())
            .collect()
    }

    /// The id of the record's class.
    pub(crate) fn table_id(&self) -> TableId {
        self.table
    }

    /// The record's class: the table it was inserted into (`incident`, `cmdb_ci_linux_server`).
    pub fn class_name(&self) -> &'static str {
        schemas().by_id(self.table).name
    }

    /// The record's sys_id.
    pub fn sys_id(&self) -> &str {
        self.value_at(SYS_ID)
    }

    /// The stored value of a field of the record's class, `None` for an unknown field.
    pub fn get(&self, field: &str) -> Option<&str> {
        schemas()
            .by_id(self.table)
            .field_index(field)
            .map(|i| self.value_at(i))
    }

    /// The stored value at a field index; `""` past the end.
    pub(crate) fn value_at(&self, i: usize) -> &str {
        let Some(&end) = self.ends.get(i) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.buf
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }
}
