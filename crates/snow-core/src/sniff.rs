//! Telling a JSON body from anything else (an HTML page, a proxy's text) before decoding it.

/// Whether `body` starts like a JSON object or array: `{` or `[` after JSON's own whitespace
/// (space, tab, line feed, carriage return — not form feed or vertical tab, which JSON does
/// not allow, so a page starting with one is not taken for JSON).
///
/// ```
/// use snow_core::looks_like_json;
///
/// assert!(looks_like_json(b" \r\n\t{\"result\":[]}"));
/// assert!(looks_like_json(b"[1]"));
/// assert!(!looks_like_json(b"<html>Instance Hibernating page</html>"));
/// assert!(!looks_like_json(b"\x0c[not json"));
/// assert!(!looks_like_json(b""));
/// ```
pub fn looks_like_json(body: &[u8]) -> bool {
    matches!(
        body.iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')),
        Some(b'{' | b'[')
    )
}
