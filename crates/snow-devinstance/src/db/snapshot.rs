//! The snapshot format: the whole database as one JSON document (`db.json` in the data
//! directory).
//!
//! ```json
//! {"format":"snow-devinstance-db/1","id_state":"…","counters":{"INC":10042},
//!  "tables":{"incident":{"fields":["sys_id",…],"rows":[["…",…],…]}}}
//! ```
//! Rows are stored per class (a record of `incident` is under `incident`, not `task`).
//! Fields unknown to the current schema are ignored on load; missing ones are empty.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::record::Record;
use super::render::write_str;
use super::schema::{SYS_ID, schemas};
use super::write::table_or_err;
use super::{Db, DbError};

const FORMAT: &str = "snow-devinstance-db/1";

#[derive(Deserialize)]
struct File {
    format: String,
    #[serde(default)]
    id_state: Option<String>,
    #[serde(default)]
    counters: BTreeMap<String, u64>,
    #[serde(default)]
    tables: BTreeMap<String, TableData>,
}

#[derive(Deserialize)]
struct TableData {
    fields: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Db {
    /// The whole database as JSON (see [`Db::from_json`]).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 << 16);
        out.extend_from_slice(b"{\"format\":");
        write_str(&mut out, FORMAT);
        out.extend_from_slice(b",\"id_state\":");
        write_str(&mut out, &format!("{:016x}", self.id_state));
        out.extend_from_slice(b",\"counters\":{");
        for (i, (prefix, n)) in self.counters.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(&mut out, prefix);
            out.push(b':');
            out.extend_from_slice(n.to_string().as_bytes());
        }
        out.extend_from_slice(b"},\"tables\":{");
        let mut first = true;
        for schema in schemas().tables() {
            let store = &self.stores[usize::from(schema.id)];
            if store.live() == 0 {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            write_str(&mut out, schema.name);
            out.extend_from_slice(b":{\"fields\":[");
            for (i, f) in schema.fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(&mut out, f.name);
            }
            out.extend_from_slice(b"],\"rows\":[");
            for (k, rec) in store.iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                out.push(b'[');
                for i in 0..schema.fields.len() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(&mut out, rec.value_at(i));
                }
                out.push(b']');
            }
            out.extend_from_slice(b"]}");
        }
        out.extend_from_slice(b"}}");
        out
    }

    /// Reads a database written by [`Db::to_json`].
    ///
    /// # Errors
    /// [`DbError::InvalidData`] for malformed JSON, another format, a row without a valid
    /// sys_id or a duplicate sys_id; [`DbError::InvalidTable`] for an unknown table.
    pub fn from_json(bytes: &[u8]) -> Result<Db, DbError> {
        let file: File =
            serde_json::from_slice(bytes).map_err(|e| DbError::InvalidData(e.to_string()))?;
        if file.format != FORMAT {
            return Err(DbError::InvalidData(format!(
                "unknown format {:?}, expected {FORMAT:?}",
                file.format
            )));
        }
        let mut db = Db::bare();
        db.counters = file.counters;
        if let Some(state) = file
            .id_state
            .as_deref()
            .and_then(|s| u64::from_str_radix(s, 16).ok())
        {
            db.id_state = state;
        }
        for (name, data) in file.tables {
            let schema = table_or_err(&name)?;
            let map: Vec<Option<usize>> =
                data.fields.iter().map(|f| schema.field_index(f)).collect();
            for (n, row) in data.rows.into_iter().enumerate() {
                let mut values = vec![String::new(); schema.fields.len()];
                for (col, v) in row.into_iter().enumerate() {
                    if let Some(Some(i)) = map.get(col) {
                        values[*i] = v;
                    }
                }
                let sys_id = &values[SYS_ID];
                if sys_id.is_empty() {
                    return Err(DbError::InvalidData(format!(
                        "{name} row {n} has no sys_id"
                    )));
                }
                if db.index.contains_key(sys_id.as_str()) {
                    return Err(DbError::InvalidData(format!(
                        "duplicate sys_id {sys_id} in {name}"
                    )));
                }
                db.push(Record::pack(schema, &values));
            }
        }
        Ok(db)
    }
}
