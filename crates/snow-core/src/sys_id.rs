//! ServiceNow record identifiers.

/// Whether `s` has the shape of a ServiceNow `sys_id`: 32 lowercase hexadecimal digits.
///
/// Every record's `sys_id` has this shape (a GUID without dashes); checking it before putting an
/// identifier in a URL or a query catches a display value or a name passed by mistake.
///
/// ```
/// use snow_core::is_sys_id;
///
/// assert!(is_sys_id("9d385017c611228701d22104cc95c371"));
/// assert!(!is_sys_id("9D385017C611228701D22104CC95C371")); // upper case
/// assert!(!is_sys_id("9d385017-c611-2287-01d2-2104cc95c371"));
/// assert!(!is_sys_id("INC0010001"));
/// ```
pub fn is_sys_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_32_lowercase_hex_digits() {
        assert!(is_sys_id("0123456789abcdef0123456789abcdef"));
        for bad in [
            "",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdeg0123456789abcdef",
            "0123456789abcdef0123456789abcdeF",
            " 123456789abcdef0123456789abcdef",
            "é123456789abcdef0123456789abcde",
        ] {
            assert!(!is_sys_id(bad), "{bad:?}");
        }
    }
}
