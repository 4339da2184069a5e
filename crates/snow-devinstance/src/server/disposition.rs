//! The file name of a multipart part, from its `Content-Disposition` header.
//!
//! `filename="..."` is an RFC 7230 quoted-string: `\"` and `\\` stand for `"` and `\`, and
//! other bytes (UTF-8 included, as browsers and RFC 7578 send them) are taken as they are. A
//! `filename*=UTF-8''...` parameter (RFC 5987), which some clients add, wins when present.

use http::HeaderMap;
use http::header::CONTENT_DISPOSITION;

/// The part's file name, when its `Content-Disposition` has one.
pub(crate) fn file_name(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(CONTENT_DISPOSITION)?.as_bytes();
    if let Some(v) = param(raw, b"filename*") {
        let v = String::from_utf8_lossy(&v).into_owned();
        if let Some(encoded) = v
            .strip_prefix("UTF-8''")
            .or_else(|| v.strip_prefix("utf-8''"))
        {
            return Some(percent_decode(encoded));
        }
    }
    param(raw, b"filename").map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// The value of parameter `name` (matched without regard to case), unquoted.
fn param(raw: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    let mut i = 0;
    while i < raw.len() {
        // Skip to the start of the next parameter name.
        while i < raw.len() && matches!(raw[i], b';' | b' ' | b'\t') {
            i += 1;
        }
        let start = i;
        while i < raw.len() && !matches!(raw[i], b'=' | b';') {
            i += 1;
        }
        let key = raw[start..i].trim_ascii();
        if i >= raw.len() || raw[i] == b';' {
            continue;
        }
        i += 1; // '='
        while i < raw.len() && matches!(raw[i], b' ' | b'\t') {
            i += 1;
        }
        let mut value = Vec::new();
        if raw.get(i) == Some(&b'"') {
            i += 1;
            while i < raw.len() {
                match raw[i] {
                    b'\\' if i + 1 < raw.len() => {
                        value.push(raw[i + 1]);
                        i += 2;
                    }
                    b'"' => {
                        i += 1;
                        break;
                    }
                    b => {
                        value.push(b);
                        i += 1;
                    }
                }
            }
        } else {
            while i < raw.len() && raw[i] != b';' {
                value.push(raw[i]);
                i += 1;
            }
            let trimmed = value.trim_ascii().to_vec();
            value = trimmed;
        }
        if key.eq_ignore_ascii_case(name) {
            return Some(value);
        }
    }
    None
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|&c| hex(c)),
            b.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn name(cd: &[u8]) -> Option<String> {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_DISPOSITION, HeaderValue::from_bytes(cd).unwrap());
        file_name(&h)
    }

    #[test]
    fn quoted_names_come_back_as_sent() {
        assert_eq!(
            name(br#"form-data; name="uploadFile"; filename="a \"b\" \\ c.txt""#).as_deref(),
            Some(r#"a "b" \ c.txt"#)
        );
        assert_eq!(
            name("form-data; name=\"f\"; filename=\"résumé 履歴.pdf\"".as_bytes()).as_deref(),
            Some("résumé 履歴.pdf")
        );
        assert_eq!(
            name(b"form-data; filename=plain.txt; name=f").as_deref(),
            Some("plain.txt")
        );
        assert_eq!(
            name(b"form-data; filename=\"x\"; filename*=UTF-8''%C3%A9t%C3%A9.txt").as_deref(),
            Some("été.txt")
        );
        assert_eq!(name(br#"form-data; name="table_name""#), None);
        // A name ending in a backslash.
        assert_eq!(
            name(br#"form-data; filename="dir\\""#).as_deref(),
            Some("dir\\")
        );
    }
}
