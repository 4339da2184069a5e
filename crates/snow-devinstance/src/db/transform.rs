//! Import sets: staging rows and the transform maps that copy them into target tables.
//!
//! Each staging table (a table extending `sys_import_set_row`) has one transform map: a list
//! of `staging column → target field` copies and a coalesce field. A row whose coalesce value
//! matches a target record updates it, otherwise a record is inserted. Empty staging values
//! are not copied. The outcome is written back on the staging row (`sys_import_state`,
//! `sys_target_sys_id`, `sys_row_error`...), as on a real instance.
//!
//! | staging table | map | target | coalesce |
//! |---|---|---|---|
//! | `imp_user` | `User` | `sys_user` | `user_name` |
//! | `imp_computer` | `Computer` | `cmdb_ci_server` | `name` |

use serde_json::{Map, Value};

use super::query::escape_value;
use super::schema::schemas;
use super::{Db, DbError, EvalCtx};

/// A transform map.
#[derive(Debug)]
pub(crate) struct TransformMap {
    /// Its name (`sys_transform_map.name`).
    pub(crate) name: &'static str,
    /// The staging table it reads.
    pub(crate) source: &'static str,
    /// The table it writes.
    pub(crate) target: &'static str,
    /// The target field matched to find an existing record.
    pub(crate) coalesce: &'static str,
    /// `(staging column, target field)` copies.
    pub(crate) fields: &'static [(&'static str, &'static str)],
}

/// Every transform map of the instance.
pub(crate) const MAPS: &[TransformMap] = &[
    TransformMap {
        name: "User",
        source: "imp_user",
        target: "sys_user",
        coalesce: "user_name",
        fields: &[
            ("user_name", "user_name"),
            ("first_name", "first_name"),
            ("last_name", "last_name"),
            ("email", "email"),
            ("title", "title"),
            ("active", "active"),
        ],
    },
    TransformMap {
        name: "Computer",
        source: "imp_computer",
        target: "cmdb_ci_server",
        coalesce: "name",
        fields: &[
            ("name", "name"),
            ("host_name", "host_name"),
            ("ip_address", "ip_address"),
            ("os", "os"),
            ("cpu_count", "cpu_count"),
        ],
    },
];

/// The transform map of a staging table.
pub(crate) fn map_for(staging: &str) -> Option<&'static TransformMap> {
    MAPS.iter().find(|m| m.source == staging)
}

/// What happened to one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A target record was inserted.
    Inserted(String),
    /// The coalesced target record was updated.
    Updated(String),
    /// Nothing was written: the row held no value, or the matched record already had them.
    /// The sys_id of the matched record, if any, and why.
    Ignored(Option<String>, &'static str),
    /// The row was rejected; nothing was written to the target.
    Error(String),
}

impl Outcome {
    /// `sys_import_state`.
    pub(crate) fn state(&self) -> &'static str {
        match self {
            Outcome::Inserted(_) => "inserted",
            Outcome::Updated(_) => "updated",
            Outcome::Ignored(..) => "ignored",
            Outcome::Error(_) => "error",
        }
    }

    /// The target record's sys_id, when there is one.
    pub(crate) fn target(&self) -> Option<&str> {
        match self {
            Outcome::Inserted(id) | Outcome::Updated(id) | Outcome::Ignored(Some(id), _) => {
                Some(id)
            }
            _ => None,
        }
    }
}

/// One staging row written and transformed.
#[derive(Debug, Clone)]
pub(crate) struct Transformed {
    /// The staging row's sys_id.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) row: String,
    pub(crate) outcome: Outcome,
}

impl Db {
    /// Writes `values` as row number `row_number` of import set `set` in `staging`, runs the
    /// staging table's transform map on it and records the outcome on the row. Every changed
    /// sys_id is pushed to `changed` (for the write log).
    ///
    /// # Errors
    /// Only when the staging row itself cannot be written (an unknown table).
    pub(crate) fn import_row(
        &mut self,
        map: &TransformMap,
        set: &str,
        row_number: usize,
        values: &Map<String, Value>,
        ctx: &EvalCtx,
        changed: &mut Vec<String>,
    ) -> Result<Transformed, DbError> {
        let outcome = self.transform(map, values, ctx);
        if let Some(id) = outcome.target() {
            changed.push(id.to_owned());
        }
        let mut row = values.clone();
        let system = |s: &str| Value::String(s.to_owned());
        for (k, v) in [
            ("sys_import_set", system(set)),
            ("sys_import_row", system(&row_number.to_string())),
            ("sys_import_state", system(outcome.state())),
            ("sys_target_table", system(map.target)),
            ("sys_target_sys_id", system(outcome.target().unwrap_or(""))),
            ("sys_transform_map", system(map.name)),
        ] {
            row.insert(k.to_owned(), v);
        }
        match &outcome {
            Outcome::Error(e) => {
                row.insert("sys_row_error".into(), system(e));
            }
            Outcome::Ignored(_, why) => {
                row.insert("sys_import_state_comment".into(), system(why));
            }
            _ => {}
        }
        let id = self.insert(map.source, &row, ctx)?.sys_id().to_owned();
        changed.push(id.clone());
        Ok(Transformed { row: id, outcome })
    }

    /// Copies one staging row into the map's target table.
    fn transform(
        &mut self,
        map: &TransformMap,
        values: &Map<String, Value>,
        ctx: &EvalCtx,
    ) -> Outcome {
        let Some(target) = schemas().table(map.target) else {
            return Outcome::Error(format!("Invalid target table {}", map.target));
        };
        let mut fields = Map::new();
        for (from, to) in map.fields {
            let text = match values.get(*from) {
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            if !text.is_empty() {
                fields.insert((*to).to_owned(), Value::String(text));
            }
        }
        if fields.is_empty() {
            return Outcome::Ignored(None, "No field values to transform");
        }
        // Reject a value that does not fit its field before anything is written.
        for (name, value) in &fields {
            if let Some(f) = target.field(name) {
                if let Err(e) = self.convert(f, value) {
                    return Outcome::Error(match e {
                        DbError::InvalidField { field, reason } => {
                            format!("Unable to set field {field}: {reason}")
                        }
                        other => other.to_string(),
                    });
                }
            }
        }
        let existing = fields
            .get(map.coalesce)
            .and_then(Value::as_str)
            .and_then(|key| {
                let q = format!("{}={}", map.coalesce, escape_value(key));
                let found = self.list(map.target, &q, ctx, 0, 1).ok()?;
                found.rows.first().map(|r| r.sys_id().to_owned())
            });
        match existing {
            Some(id) => {
                let unchanged = self.get(map.target, &id).is_some_and(|rec| {
                    fields.iter().all(|(name, value)| {
                        let now = rec.get(name).unwrap_or("");
                        target
                            .field(name)
                            .and_then(|f| self.convert(f, value).ok())
                            .is_some_and(|v| v == now)
                    })
                });
                if unchanged {
                    return Outcome::Ignored(Some(id), "No field values changed");
                }
                match self.update(map.target, &id, &fields, ctx) {
                    Ok(_) => Outcome::Updated(id),
                    Err(e) => Outcome::Error(e.to_string()),
                }
            }
            None => {
                // As the sys_user business rule does on insert: a name from the first and last
                // names.
                if map.target == "sys_user" && !fields.contains_key("name") {
                    let part = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or("");
                    let name = format!("{} {}", part("first_name"), part("last_name"));
                    if !name.trim().is_empty() {
                        fields.insert("name".into(), Value::String(name.trim().to_owned()));
                    }
                }
                self.insert_target(map, &fields, ctx)
            }
        }
    }

    fn insert_target(
        &mut self,
        map: &TransformMap,
        fields: &Map<String, Value>,
        ctx: &EvalCtx,
    ) -> Outcome {
        match self.insert(map.target, fields, ctx) {
            Ok(rec) => Outcome::Inserted(rec.sys_id().to_owned()),
            Err(e) => Outcome::Error(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_update_ignore_and_reject() {
        let mut db = Db::empty();
        let ctx = EvalCtx::system();
        let map = map_for("imp_user").unwrap();
        let row = |v: Value| v.as_object().cloned().unwrap();
        let mut changed = Vec::new();
        let first = db
            .import_row(
                map,
                "set1",
                1,
                &row(serde_json::json!({"user_name":"j.public","first_name":"John","last_name":"Public"})),
                &ctx,
                &mut changed,
            )
            .unwrap();
        let Outcome::Inserted(id) = &first.outcome else {
            panic!("{first:?}")
        };
        assert_eq!(
            db.get("sys_user", id).unwrap().get("name"),
            Some("John Public")
        );
        let again = db
            .import_row(
                map,
                "set1",
                2,
                &row(serde_json::json!({"user_name":"j.public","first_name":"John"})),
                &ctx,
                &mut changed,
            )
            .unwrap();
        assert_eq!(
            again.outcome,
            Outcome::Ignored(Some(id.clone()), "No field values changed")
        );
        let update = db
            .import_row(
                map,
                "set1",
                3,
                &row(serde_json::json!({"user_name":"j.public","title":"CTO"})),
                &ctx,
                &mut changed,
            )
            .unwrap();
        assert_eq!(update.outcome, Outcome::Updated(id.clone()));
        let bad = db
            .import_row(
                map,
                "set1",
                4,
                &row(serde_json::json!({"user_name":"x","active":"maybe"})),
                &ctx,
                &mut changed,
            )
            .unwrap();
        assert!(
            matches!(&bad.outcome, Outcome::Error(e) if e.contains("active")),
            "{bad:?}"
        );
        assert!(
            db.list("sys_user", "user_name=x", &ctx, 0, 1)
                .unwrap()
                .rows
                .is_empty()
        );
        let staged = db.get("imp_user", &bad.row).unwrap();
        assert_eq!(staged.get("sys_import_state"), Some("error"));
        assert_eq!(staged.get("sys_import_row"), Some("4"));
        assert!(
            staged
                .get("sys_row_error")
                .unwrap()
                .contains("true or false")
        );
    }
}
