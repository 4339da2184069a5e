//! The `multipart/form-data` body of `POST /attachment/upload` (RFC 7578): the form fields
//! `table_name` and `table_sys_id`, then the file as the last part.
//!
//! The body is framed around the content, which streams in between: the head (fields and the
//! file part's headers) and the tail (the closing delimiter) are small buffers, so a body of
//! any size is sent in bounded memory and its length is known whenever the content's is.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::Error;

/// A fresh boundary: 128 random bits, so it cannot occur in the content by chance.
pub(super) fn boundary() -> String {
    format!("snow-{}", random_token())
}

/// 128 random bits as 32 hex digits (boundaries, temporary file names).
pub(super) fn random_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let word = || {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    };
    format!("{:016x}{:016x}", word(), word())
}

/// `"text"` as an RFC 7230 quoted-string: `"` and `\` escaped with `\`. Other characters,
/// UTF-8 included, are kept (RFC 7578 §4.2); control characters are refused before this.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A value that cannot be put in a part: a control character would end its header line.
fn check(what: &str, value: &str) -> Result<(), Error> {
    if value.chars().any(char::is_control) {
        return Err(Error::invalid_input(format!(
            "the {what} contains control characters"
        )));
    }
    Ok(())
}

/// The framing of one upload: what comes before the content and what comes after.
#[derive(Debug, Clone)]
pub(super) struct Frame {
    pub(super) boundary: String,
    pub(super) head: Bytes,
    pub(super) tail: Bytes,
}

impl Frame {
    /// The fields, then the file part's headers, for a file named `file_name` of type
    /// `content_type`.
    pub(super) fn new(
        fields: &[(&str, &str)],
        file_name: &str,
        content_type: &str,
    ) -> Result<Self, Error> {
        let boundary = boundary();
        let mut head = String::new();
        for (name, value) in fields {
            check("form field value", value)?;
            head.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name={}\r\n\r\n{value}\r\n",
                quoted(name)
            ));
        }
        check("file name", file_name)?;
        check("content type", content_type)?;
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"uploadFile\"; filename={}\r\nContent-Type: {content_type}\r\n\r\n",
            quoted(file_name)
        ));
        let tail = format!("\r\n--{boundary}--\r\n");
        Ok(Self {
            boundary,
            head: Bytes::from(head),
            tail: Bytes::from(tail),
        })
    }

    /// The request's content type.
    pub(super) fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The body's length for content of `len` bytes.
    pub(super) fn len_with(&self, len: u64) -> u64 {
        self.head.len() as u64 + len + self.tail.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_differ() {
        let (a, b) = (boundary(), boundary());
        assert_ne!(a, b);
        assert_eq!(a.len(), "snow-".len() + 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'));
    }

    #[test]
    fn a_whole_body_parses_back() {
        let name = r#"my "quoted" \ file é.txt"#;
        let f = Frame::new(
            &[("table_name", "incident"), ("table_sys_id", "abc")],
            name,
            "text/plain",
        )
        .unwrap();
        let mut body = f.head.to_vec();
        body.extend_from_slice(b"hello");
        body.extend_from_slice(&f.tail);
        assert_eq!(f.len_with(5), body.len() as u64);
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{}\r\n", f.boundary)));
        assert!(text.ends_with(&format!("\r\n--{}--\r\n", f.boundary)));
        assert!(
            text.contains(r#"filename="my \"quoted\" \\ file é.txt""#),
            "{text}"
        );
        assert!(text.contains("name=\"table_sys_id\"\r\n\r\nabc\r\n"));
        assert!(f.content_type().ends_with(&f.boundary));
        assert!(Frame::new(&[], "a\r\nb", "text/plain").is_err());
        assert!(Frame::new(&[("table_name", "x\ny")], "a", "text/plain").is_err());
    }
}
