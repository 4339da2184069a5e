//! One change to the database as the write-ahead log records it: the whole new state of a
//! record, or its removal.
//!
//! Changes carry full states, not deltas, so applying one is idempotent and a log can be
//! replayed on top of a snapshot that already contains some of its changes: the last change of
//! each record decides its state, as it did when the changes were made.
//!
//! ```json
//! {"op":"put","class":"incident","values":{"sys_id":"…","number":"INC0010001",…},
//!  "id_state":"5eed000000000001","counters":{"INC":10001}}
//! {"op":"delete","sys_id":"…"}
//! ```
//! Empty values are left out; fields unknown to the current schema are ignored on replay.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::record::Record;
use super::schema::{SYS_ID, schemas};
use super::write::table_or_err;
use super::{Db, DbError, Loc, is_sys_id};

/// One logged change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Change {
    /// The record now has these values (inserted, or replaced whole).
    Put {
        /// The record's class (the table it was inserted into).
        class: String,
        /// Non-empty values by field name.
        values: BTreeMap<String, String>,
        /// The sys_id generator's state after the change, in hex.
        id_state: String,
        /// The auto-number counters after the change.
        counters: BTreeMap<String, u64>,
    },
    /// The record is gone.
    Delete {
        /// Its sys_id.
        sys_id: String,
    },
}

impl Change {
    /// The change as one line of JSON.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a change written by [`Change::to_json`].
    ///
    /// # Errors
    /// [`DbError::InvalidData`] for anything else.
    pub(crate) fn from_json(bytes: &[u8]) -> Result<Change, DbError> {
        serde_json::from_slice(bytes).map_err(|e| DbError::InvalidData(e.to_string()))
    }
}

impl Db {
    /// The change that brings a replica to this record's current state: a put when the record
    /// exists, a delete when it does not.
    pub(crate) fn change_for(&self, sys_id: &str) -> Change {
        let Some(rec) = self.lookup(sys_id) else {
            return Change::Delete {
                sys_id: sys_id.to_owned(),
            };
        };
        let schema = schemas().by_id(rec.table_id());
        let values = schema
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name, rec.value_at(i)))
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Change::Put {
            class: schema.name.to_owned(),
            values,
            id_state: format!("{:016x}", self.id_state),
            counters: self.counters.clone(),
        }
    }

    /// Applies a logged change. Idempotent: a put replaces the record if it exists, a delete
    /// of a missing record does nothing.
    ///
    /// # Errors
    /// [`DbError::InvalidTable`] for an unknown class, [`DbError::InvalidData`] for a put
    /// without a valid sys_id.
    pub(crate) fn apply(&mut self, change: &Change) -> Result<(), DbError> {
        match change {
            Change::Delete { sys_id } => {
                if let Some(loc) = self.index.remove(sys_id.as_str()) {
                    self.touched();
                    self.stores[usize::from(loc.table)].remove(loc.slot);
                }
                Ok(())
            }
            Change::Put {
                class,
                values,
                id_state,
                counters,
            } => {
                let schema = table_or_err(class)?;
                let mut row = vec![String::new(); schema.fields.len()];
                for (name, value) in values {
                    if let Some(i) = schema.field_index(name) {
                        row[i] = value.clone();
                    }
                }
                if !is_sys_id(&row[SYS_ID]) {
                    return Err(DbError::InvalidData(format!(
                        "a logged {class} record has no valid sys_id"
                    )));
                }
                let rec = Record::pack(schema, &row);
                match self.index.get(row[SYS_ID].as_str()).copied() {
                    Some(Loc { table, slot }) if table == schema.id => {
                        self.touched();
                        self.stores[usize::from(table)].replace(slot, rec);
                    }
                    Some(loc) => {
                        self.index.remove(row[SYS_ID].as_str());
                        self.stores[usize::from(loc.table)].remove(loc.slot);
                        self.push(rec);
                    }
                    None => {
                        self.push(rec);
                    }
                }
                if let Ok(state) = u64::from_str_radix(id_state, 16) {
                    self.id_state = state;
                }
                for (prefix, n) in counters {
                    let c = self.counters.entry(prefix.clone()).or_insert(0);
                    *c = (*c).max(*n);
                }
                Ok(())
            }
        }
    }

    /// A fresh sys_id that no record has and the generator will not hand out again, for a
    /// record whose other data (an attachment's bytes) must be stored before the record.
    pub(crate) fn reserve_sys_id(&mut self) -> String {
        self.new_sys_id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::EvalCtx;

    #[test]
    fn replaying_changes_twice_gives_the_same_state() {
        let mut live = Db::new_seeded(3, 10);
        let mut replica = live.clone();
        let ctx = EvalCtx::system();
        let mut fields = serde_json::Map::new();
        fields.insert("short_description".into(), "logged".into());
        let a = live
            .insert("incident", &fields, &ctx)
            .expect("insert")
            .sys_id()
            .to_owned();
        let mut log = vec![live.change_for(&a)];
        fields.insert("short_description".into(), "changed".into());
        live.update("incident", &a, &fields, &ctx).expect("update");
        log.push(live.change_for(&a));
        let b = live
            .insert("problem", &fields, &ctx)
            .expect("insert")
            .sys_id()
            .to_owned();
        log.push(live.change_for(&b));
        live.delete("problem", &b).expect("delete");
        log.push(live.change_for(&b));
        let lines: Vec<Vec<u8>> = log.iter().map(Change::to_json).collect();
        for _ in 0..2 {
            for line in &lines {
                replica
                    .apply(&Change::from_json(line).expect("parses"))
                    .expect("applies");
            }
        }
        assert_eq!(replica.to_json(), live.to_json());
        assert_eq!(
            replica
                .get("incident", &a)
                .and_then(|r| r.get("short_description")),
            Some("changed")
        );
        assert!(replica.get("problem", &b).is_none());
        // The next generated number and sys_id continue where the live database is.
        let next = replica.insert("incident", &fields, &ctx).expect("insert");
        let n = next.get("number").expect("number").to_owned();
        let again = live.insert("incident", &fields, &ctx).expect("insert");
        assert_eq!(again.get("number"), Some(n.as_str()));
    }

    #[test]
    fn bad_changes_are_refused() {
        let mut db = Db::empty();
        assert!(Change::from_json(b"{\"op\":\"put\"").is_err());
        let no_id = Change::Put {
            class: "incident".into(),
            values: BTreeMap::new(),
            id_state: "0".into(),
            counters: BTreeMap::new(),
        };
        assert!(db.apply(&no_id).is_err());
        let bad_table = Change::Put {
            class: "nope".into(),
            values: BTreeMap::new(),
            id_state: "0".into(),
            counters: BTreeMap::new(),
        };
        assert!(db.apply(&bad_table).is_err());
    }
}
