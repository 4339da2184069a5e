//! Short, credential-free excerpts of bodies for error messages.

/// Bytes of the body looked at.
const SCAN: usize = 1024;
/// Characters kept in an excerpt.
const KEEP: usize = 200;

/// Words after which the next token is a credential.
const KEYWORDS: [&str; 11] = [
    "authorization",
    "bearer",
    "basic",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
    "x-sn-apikey",
    "apikey",
    "api_key",
];

fn is_delim(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b'"' | b'\'' | b'&' | b',' | b'<' | b'>' | b';' | b'}')
}

/// Replaces the token following each credential keyword with `[redacted]`.
pub(crate) fn redact(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for kw in KEYWORDS {
        let mut from = 0;
        while let Some(pos) = lower[from..].find(kw) {
            let mut i = from + pos + kw.len();
            while i < bytes.len() && matches!(bytes[i], b' ' | b':' | b'=' | b'"' | b'\'') {
                i += 1;
            }
            let start = i;
            while i < bytes.len() && !is_delim(bytes[i]) {
                i += 1;
            }
            if i > start {
                ranges.push((start, i));
            }
            from = from + pos + kw.len();
        }
    }
    ranges.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e) in ranges {
        if e <= at {
            continue;
        }
        let s = s.max(at);
        out.push_str(&text[at..s]);
        out.push_str("[redacted]");
        at = e;
    }
    out.push_str(&text[at..]);
    out
}

/// The start of `body` as one line: at most [`KEEP`] characters, whitespace collapsed,
/// control characters dropped, credentials redacted.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let head = &body[..body.len().min(SCAN)];
    let text = String::from_utf8_lossy(head);
    let mut flat = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = true;
        } else if !c.is_control() {
            if space && !flat.is_empty() {
                flat.push(' ');
            }
            space = false;
            flat.push(c);
        }
    }
    let red = redact(&flat);
    if red.chars().count() > KEEP || body.len() > SCAN {
        let mut s: String = red.chars().take(KEEP).collect();
        s.push('…');
        s
    } else {
        red
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted() {
        let body = b"<html><pre>Authorization: Bearer eyJsecret.token.value\nCookie: x</pre> \
            {\"access_token\":\"AT-123\",\"refresh_token\":\"RT-456\"} password=hunter2&x-sn-apikey=KEY9 Basic dXNlcjpwYXNz</html>";
        let e = excerpt(body);
        for secret in [
            "eyJsecret",
            "AT-123",
            "RT-456",
            "hunter2",
            "KEY9",
            "dXNlcjpwYXNz",
        ] {
            assert!(!e.contains(secret), "{secret} leaked in {e}");
        }
        assert!(e.contains("[redacted]"));
        assert!(!e.contains('\n'));
    }

    #[test]
    fn long_bodies_are_truncated_on_a_char_boundary() {
        let body = "é".repeat(5000);
        let e = excerpt(body.as_bytes());
        assert_eq!(e.chars().count(), KEEP + 1);
        assert!(e.ends_with('…'));
    }

    #[test]
    fn whitespace_is_collapsed() {
        assert_eq!(excerpt(b"  a \r\n\t b  "), "a b");
        assert_eq!(excerpt(b""), "");
    }
}
