//! The rules that keep a value from changing the meaning of an encoded query.

use super::QueryError;

/// Longest excerpt of a value quoted in an error.
const MAX_QUOTED: usize = 120;

/// A value shortened for an error message (the full value stays with the caller).
pub(crate) fn quote(value: &str) -> String {
    if value.chars().count() <= MAX_QUOTED {
        return value.to_owned();
    }
    let mut s: String = value.chars().take(MAX_QUOTED).collect();
    s.push('…');
    s
}

pub(crate) fn invalid_value(value: &str, reason: &'static str) -> QueryError {
    QueryError::InvalidValue {
        value: quote(value),
        reason,
    }
}

/// Whether a text value would be evaluated as a server-side script.
pub(crate) fn looks_like_script(value: &str) -> bool {
    let v = value.trim_start().as_bytes();
    v.len() >= 11 && v[..11].eq_ignore_ascii_case(b"javascript:")
}

/// Checks that apply to every text that goes into a query: no line breaks or other control
/// characters (ServiceNow ends a term there or mangles it).
pub(crate) fn check_chars(value: &str) -> Result<(), QueryError> {
    if value.contains(['\n', '\r']) {
        return Err(invalid_value(
            value,
            "it contains a line break, which ServiceNow does not keep inside a query term",
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid_value(
            value,
            "it contains a control character, which an encoded query cannot carry",
        ));
    }
    Ok(())
}

/// Checks for a plain text value (not a script).
pub(crate) fn check_text(value: &str) -> Result<(), QueryError> {
    check_chars(value)?;
    if looks_like_script(value) {
        return Err(invalid_value(
            value,
            "it starts with `javascript:` and would run as a server-side script; \
             use Value::javascript to send a script on purpose",
        ));
    }
    Ok(())
}

/// Checks for one part of an `@`-separated operand (BETWEEN bounds, ON bounds and labels).
pub(crate) fn check_bound(value: &str) -> Result<(), QueryError> {
    if value.contains('@') {
        return Err(invalid_value(
            value,
            "it contains `@`, which separates the bounds of a range and has no escape",
        ));
    }
    Ok(())
}

/// Checks for one item of an `IN` / `NOT IN` list.
pub(crate) fn check_list_item(value: &str) -> Result<(), QueryError> {
    if value.contains(',') {
        return Err(invalid_value(
            value,
            "it contains a comma, which separates IN-list items and has no escape",
        ));
    }
    Ok(())
}

/// Validates a field name or dot-walk path: lowercase ASCII letters, digits and `_`,
/// parts separated by single dots.
pub(crate) fn check_field(name: &str) -> Result<(), QueryError> {
    let fail = |reason| {
        Err(QueryError::InvalidField {
            name: quote(name),
            reason,
        })
    };
    if name.is_empty() {
        return fail("it is empty");
    }
    if name.len() > 256 {
        return fail("it is longer than 256 characters");
    }
    for part in name.split('.') {
        if part.is_empty() {
            return fail("a dot-walk part is empty (leading, trailing or double dot)");
        }
        if !part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return fail(
                "only lowercase letters, digits, `_` and dots are allowed \
                 (ServiceNow column names are lowercase; uppercase would read as an operator)",
            );
        }
    }
    Ok(())
}

pub(crate) use snow_core::is_sys_id;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names() {
        for ok in ["active", "caller_id.email", "u_field_2", "a.b.c", "x"] {
            assert!(check_field(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", ".a", "a.", "a..b", "Active", "a b", "a=b", "a^b", "a-b", "ä", "a\n",
        ] {
            let err = check_field(bad).unwrap_err();
            assert!(matches!(err, QueryError::InvalidField { .. }), "{bad}");
        }
    }

    #[test]
    fn quote_truncates_long_values() {
        let long = "x".repeat(500);
        let q = quote(&long);
        assert_eq!(q.chars().count(), MAX_QUOTED + 1);
        assert!(q.ends_with('…'));
        assert_eq!(quote("short"), "short");
    }

    #[test]
    fn script_detection_ignores_case_and_leading_space() {
        assert!(looks_like_script("javascript:x"));
        assert!(looks_like_script("  JavaScript:x"));
        assert!(!looks_like_script("java script:x"));
        assert!(!looks_like_script("javascript"));
    }
}
