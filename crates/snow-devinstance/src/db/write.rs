//! Inserts, updates and deletes, with ServiceNow's system-field bookkeeping.

use serde_json::{Map, Value};

use super::record::Record;
use super::schema::{
    FieldDef, FieldDefault, FieldType, SYS_CREATED_BY, SYS_CREATED_ON, SYS_ID, SYS_MOD_COUNT,
    SYS_UPDATED_BY, SYS_UPDATED_ON, TableSchema, schemas,
};
use super::time_fmt;
use super::{Db, DbError, EvalCtx, is_sys_id};

fn is_system_field(i: usize, name: &str) -> bool {
    i <= SYS_MOD_COUNT || name == "sys_class_name"
}

impl Db {
    /// Inserts a record. Unknown fields and system fields are ignored (a valid, unused
    /// `sys_id` is kept); `number`, `sys_created_*`, `sys_updated_*` and `sys_mod_count` are
    /// generated; omitted fields get their defaults.
    ///
    /// # Errors
    /// [`DbError::InvalidTable`] for an unknown table, [`DbError::InvalidField`] for a value
    /// that does not fit its field (nothing is written then).
    pub fn insert(
        &mut self,
        table: &str,
        fields: &Map<String, Value>,
        ctx: &EvalCtx,
    ) -> Result<&Record, DbError> {
        let schema = schemas()
            .table(table)
            .ok_or_else(|| DbError::InvalidTable(table.to_owned()))?;
        let now = time_fmt::format_datetime(ctx.now);
        let user_name = self.user_name_of(&ctx.user_sys_id);
        let mut values: Vec<String> = schema
            .fields
            .iter()
            .map(|f| match f.default {
                FieldDefault::Empty => String::new(),
                FieldDefault::Lit(v) => v.to_owned(),
                FieldDefault::Now => now.clone(),
                FieldDefault::CurrentUser => ctx.user_sys_id.clone(),
            })
            .collect();
        let mut sys_id = None;
        for (name, value) in fields {
            let Some(i) = schema.field_index(name) else {
                continue;
            };
            if i == SYS_ID {
                if let Value::String(s) = value {
                    if is_sys_id(s) && !self.index.contains_key(s.as_str()) {
                        sys_id = Some(s.clone());
                    }
                }
                continue;
            }
            if is_system_field(i, name) {
                continue;
            }
            let field = &schema.fields[i];
            let converted = self.convert(field, value)?;
            values[i] = if field.ty == FieldType::Journal {
                journal_entry(field, &converted, &now, &user_name, "")
            } else {
                converted
            };
        }
        values[SYS_ID] = match sys_id {
            Some(id) => id,
            None => self.new_sys_id(),
        };
        if let (Some(prefix), Some(i)) = (schema.number_prefix, schema.field_index("number")) {
            if values[i].is_empty() {
                values[i] = self.next_number(prefix);
            }
        }
        if let Some(i) = schema.field_index("sys_class_name") {
            values[i] = schema.name.to_owned();
        }
        values[SYS_CREATED_ON] = now.clone();
        values[SYS_UPDATED_ON] = now;
        values[SYS_CREATED_BY] = user_name.clone();
        values[SYS_UPDATED_BY] = user_name;
        values[SYS_MOD_COUNT] = "0".to_owned();
        let loc = self.push(Record::pack(schema, &values));
        self.at(loc).ok_or(DbError::NotFound)
    }

    /// Updates the given fields of a record (merge; PUT and PATCH alike), bumping
    /// `sys_mod_count` and `sys_updated_*`. Unknown and system fields are ignored.
    ///
    /// # Errors
    /// [`DbError::InvalidTable`], [`DbError::NotFound`], or [`DbError::InvalidField`]
    /// (nothing is written then).
    pub fn update(
        &mut self,
        table: &str,
        sys_id: &str,
        fields: &Map<String, Value>,
        ctx: &EvalCtx,
    ) -> Result<&Record, DbError> {
        let parent = schemas()
            .table(table)
            .ok_or_else(|| DbError::InvalidTable(table.to_owned()))?;
        let loc = *self.index.get(sys_id).ok_or(DbError::NotFound)?;
        if !schemas().is_a(loc.table, parent.id) {
            return Err(DbError::NotFound);
        }
        let schema = schemas().by_id(loc.table);
        let mut values = self.at(loc).ok_or(DbError::NotFound)?.unpack();
        let now = time_fmt::format_datetime(ctx.now);
        let user_name = self.user_name_of(&ctx.user_sys_id);
        for (name, value) in fields {
            let Some(i) = parent.field_index(name) else {
                continue;
            };
            if is_system_field(i, name) {
                continue;
            }
            let field = &schema.fields[i];
            let converted = self.convert(field, value)?;
            if field.ty == FieldType::Journal {
                if !converted.is_empty() {
                    let previous = std::mem::take(&mut values[i]);
                    values[i] = journal_entry(field, &converted, &now, &user_name, &previous);
                }
            } else {
                values[i] = converted;
            }
        }
        let count = values[SYS_MOD_COUNT].parse::<u64>().unwrap_or(0);
        values[SYS_MOD_COUNT] = count.saturating_add(1).to_string();
        values[SYS_UPDATED_ON] = now;
        values[SYS_UPDATED_BY] = user_name;
        self.touched();
        self.stores[usize::from(loc.table)].replace(loc.slot, Record::pack(schema, &values));
        self.at(loc).ok_or(DbError::NotFound)
    }

    /// Deletes a record of the table (or of a table extending it).
    ///
    /// # Errors
    /// [`DbError::InvalidTable`] or [`DbError::NotFound`].
    pub fn delete(&mut self, table: &str, sys_id: &str) -> Result<(), DbError> {
        let parent = schemas()
            .table(table)
            .ok_or_else(|| DbError::InvalidTable(table.to_owned()))?;
        let loc = *self.index.get(sys_id).ok_or(DbError::NotFound)?;
        if !schemas().is_a(loc.table, parent.id) {
            return Err(DbError::NotFound);
        }
        self.touched();
        self.index.remove(sys_id);
        self.stores[usize::from(loc.table)].remove(loc.slot);
        Ok(())
    }

    /// The `user_name` of a user sys_id, for `sys_created_by` / `sys_updated_by`.
    fn user_name_of(&self, user_sys_id: &str) -> String {
        self.lookup(user_sys_id)
            .filter(|r| r.class_name() == "sys_user")
            .and_then(|r| r.get("user_name"))
            .filter(|n| !n.is_empty())
            .unwrap_or("system")
            .to_owned()
    }

    /// Converts a JSON value written to a field into its stored string.
    pub(super) fn convert(&self, field: &FieldDef, value: &Value) -> Result<String, DbError> {
        let invalid = |reason: &str| DbError::InvalidField {
            field: field.name.to_owned(),
            reason: reason.to_owned(),
        };
        let text = match value {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            // Some clients send the display_value=all shape back: take its value.
            Value::Object(o) => match o.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                _ => return Err(invalid("expected a string, number or boolean")),
            },
            Value::Array(_) => return Err(invalid("expected a string, number or boolean")),
        };
        if text.is_empty() {
            return Ok(text);
        }
        Ok(match field.ty {
            FieldType::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => "true".to_owned(),
                "false" | "0" | "no" => "false".to_owned(),
                _ => return Err(invalid("expected true or false")),
            },
            FieldType::Integer => text
                .trim()
                .parse::<i64>()
                .map(|n| n.to_string())
                .map_err(|_| invalid("expected an integer"))?,
            FieldType::Currency => {
                let t = text.trim();
                t.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|_| t.to_owned())
                    .ok_or_else(|| invalid("expected a decimal amount"))?
            }
            FieldType::DateTime => time_fmt::normalize_datetime(&text)
                .ok_or_else(|| invalid("expected a date and time as yyyy-MM-dd HH:mm:ss"))?,
            FieldType::Date => time_fmt::normalize_date(&text)
                .ok_or_else(|| invalid("expected a date as yyyy-MM-dd"))?,
            FieldType::Reference => self.resolve_reference(field, text),
            _ => text,
        })
    }

    /// A reference value: a sys_id is kept; otherwise a record of the referenced table whose
    /// display value equals the text is looked up; failing that the text is kept as is.
    fn resolve_reference(&self, field: &FieldDef, text: String) -> String {
        if is_sys_id(&text) {
            return text;
        }
        let Some(target) = field.reference.and_then(|t| schemas().table(t)) else {
            return text;
        };
        let display = target.display_field;
        target
            .family
            .iter()
            .flat_map(|&t| self.stores[usize::from(t)].iter())
            .find(|r| r.value_at(display) == text)
            .map_or(text, |r| r.sys_id().to_owned())
    }
}

/// A journal entry prepended to the field's previous entries (newest first).
fn journal_entry(field: &FieldDef, text: &str, now: &str, user: &str, previous: &str) -> String {
    if text.is_empty() {
        return previous.to_owned();
    }
    let kind = if field.name == "work_notes" {
        "Work notes"
    } else {
        "Additional comments"
    };
    let mut out = format!("{now} - {user} ({kind})\n{text}\n\n");
    out.push_str(previous);
    out
}

/// Checks that a schema exists (used by persistence).
pub(crate) fn table_or_err(name: &str) -> Result<&'static TableSchema, DbError> {
    schemas()
        .table(name)
        .ok_or_else(|| DbError::InvalidTable(name.to_owned()))
}
