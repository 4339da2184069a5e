//! Writing records as ServiceNow JSON objects straight into a byte buffer.

use std::collections::HashSet;

use super::eval::{Path, resolve_path};
use super::record::Record;
use super::schema::{FieldDef, FieldType, schemas};
use super::{Db, DisplayValue, RenderOpts};

/// Bytes that need escaping inside a JSON string: control characters, `"` and `\\`.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Whether any of 8 bytes is a control character, `"` or `\\` (SWAR test).
fn chunk_needs_escape(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0;
    below_space || has_zero(x ^ (ONES * u64::from(b'"'))) || has_zero(x ^ (ONES * u64::from(b'\\')))
}

/// Appends `s` escaped for the inside of a JSON string (no quotes).
fn write_escaped(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Fast path: copy clean 8-byte chunks without looking at each byte.
    let mut clean = 0;
    while let Some(chunk) = bytes.get(clean..clean + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if chunk_needs_escape(u64::from_le_bytes(word)) {
            break;
        }
        clean += 8;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        if !NEEDS_ESCAPE[usize::from(b)] {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends `s` as a JSON string literal.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_escaped(out, s);
    out.push(b'"');
}

/// Appends `"<base>/table/<table>/<sys_id>"`.
fn write_link(out: &mut Vec<u8>, base: &str, table: &str, sys_id: &str) {
    out.push(b'"');
    write_escaped(out, base);
    out.extend_from_slice(b"/table/");
    write_escaped(out, table);
    out.push(b'/');
    write_escaped(out, sys_id);
    out.push(b'"');
}

impl Db {
    /// Appends one record as a JSON object, shaped per `opts` (as the Table API shapes values): every
    /// value a JSON string; references `{"link","value"}` or `""`; display values for
    /// `DisplayValue::True`; `{"display_value","value"(,"link")}` for `DisplayValue::All`;
    /// dot-walked fields as flat keys (`"caller_id.name"`). `table` is the table the record
    /// was read through (a parent table shows only its own fields).
    pub fn render(&self, table: &str, rec: &Record, opts: &RenderOpts<'_>, out: &mut Vec<u8>) {
        let schema = schemas()
            .table(table)
            .filter(|s| schemas().is_a(rec.table_id(), s.id))
            .unwrap_or_else(|| schemas().by_id(rec.table_id()));
        out.push(b'{');
        let mut first = true;
        match opts.fields {
            Some(names) => {
                // Short lists (the usual case) are checked for repeats in place; long ones
                // through a set, so a huge `sysparm_fields` costs linear time, not quadratic.
                let mut seen = (names.len() > 16).then(HashSet::new);
                for (i, name) in names.iter().enumerate() {
                    let name = name.trim();
                    let repeated = match seen.as_mut() {
                        Some(set) => !set.insert(name),
                        None => names[..i].iter().any(|n| n.trim() == name),
                    };
                    if name.is_empty() || repeated {
                        continue;
                    }
                    let Some(path) = resolve_path(schema, name) else {
                        continue;
                    };
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    if path.hops.is_empty() {
                        out.extend_from_slice(&path.field.key_json);
                    } else {
                        write_str(out, name);
                        out.push(b':');
                    }
                    self.render_path(rec, &path, opts, out);
                }
            }
            None => {
                for (i, field) in schema.fields.iter().enumerate() {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.extend_from_slice(&field.key_json);
                    self.render_value(field, rec.value_at(i), opts, out);
                }
            }
        }
        out.push(b'}');
    }

    /// Appends records as a JSON array of objects (see [`Db::render`]).
    pub fn render_list(
        &self,
        table: &str,
        rows: &[&Record],
        opts: &RenderOpts<'_>,
        out: &mut Vec<u8>,
    ) {
        out.push(b'[');
        for (i, rec) in rows.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.render(table, rec, opts, out);
        }
        out.push(b']');
    }

    fn render_path(&self, rec: &Record, path: &Path, opts: &RenderOpts<'_>, out: &mut Vec<u8>) {
        let value = self.path_value(rec, path);
        self.render_value(path.field, value, opts, out);
    }

    fn render_value(
        &self,
        field: &FieldDef,
        value: &str,
        opts: &RenderOpts<'_>,
        out: &mut Vec<u8>,
    ) {
        if field.ty == FieldType::Reference {
            return self.render_reference(field, value, opts, out);
        }
        match opts.display_value {
            DisplayValue::False => {
                // Journal fields read back empty; their entries show as display value.
                let v = if field.ty == FieldType::Journal {
                    ""
                } else {
                    value
                };
                write_str(out, v);
            }
            DisplayValue::True => write_str(out, display_of(field, value)),
            DisplayValue::All => {
                out.extend_from_slice(b"{\"display_value\":");
                write_str(out, display_of(field, value));
                out.extend_from_slice(b",\"value\":");
                let v = if field.ty == FieldType::Journal {
                    ""
                } else {
                    value
                };
                write_str(out, v);
                out.push(b'}');
            }
        }
    }

    fn render_reference(
        &self,
        field: &FieldDef,
        value: &str,
        opts: &RenderOpts<'_>,
        out: &mut Vec<u8>,
    ) {
        let target = field.reference.unwrap_or_default();
        let link = !opts.exclude_reference_link && !value.is_empty();
        match opts.display_value {
            DisplayValue::False => {
                if !link {
                    write_str(out, value);
                } else {
                    out.extend_from_slice(b"{\"link\":");
                    write_link(out, opts.link_base, target, value);
                    out.extend_from_slice(b",\"value\":");
                    write_str(out, value);
                    out.push(b'}');
                }
            }
            DisplayValue::True => {
                let display = self.ref_display(value);
                if !link {
                    write_str(out, display);
                } else {
                    out.extend_from_slice(b"{\"display_value\":");
                    write_str(out, display);
                    out.extend_from_slice(b",\"link\":");
                    write_link(out, opts.link_base, target, value);
                    out.push(b'}');
                }
            }
            DisplayValue::All => {
                out.extend_from_slice(b"{\"display_value\":");
                write_str(out, self.ref_display(value));
                if link {
                    out.extend_from_slice(b",\"link\":");
                    write_link(out, opts.link_base, target, value);
                }
                out.extend_from_slice(b",\"value\":");
                write_str(out, value);
                out.push(b'}');
            }
        }
    }
}

/// The names of `names` that [`Db::render`] would show for records read through `table`:
/// known (possibly dot-walked) fields, first occurrence only, in order. Filtering a long
/// `sysparm_fields` once per request keeps rendering each row cheap.
pub(crate) fn usable_fields(table: &str, names: &[String]) -> Vec<String> {
    let Some(schema) = schemas().table(table) else {
        return Vec::new();
    };
    let mut seen = HashSet::new();
    names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty() && resolve_path(schema, n).is_some() && seen.insert(*n))
        .map(str::to_owned)
        .collect()
}

/// The display value of a non-reference field value.
fn display_of<'a>(field: &FieldDef, value: &'a str) -> &'a str {
    match field.ty {
        FieldType::Choice => field.choice_label(value),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn escapes_every_special_byte() {
        let s: String = (0u8..0x80)
            .map(char::from)
            .chain("é\u{2028}😀".chars())
            .collect();
        let mut out = Vec::new();
        write_str(&mut out, &s);
        let back: String = serde_json::from_slice(&out).expect("valid JSON string");
        assert_eq!(back, s);
    }

    proptest! {
        #[test]
        fn write_str_round_trips(s in "\\PC*|[\\x00-\\x7f]{0,40}") {
            let mut out = Vec::new();
            write_str(&mut out, &s);
            let back: String = serde_json::from_slice(&out).expect("valid JSON string");
            prop_assert_eq!(back, s);
        }
    }
}
