//! The `Link` header (RFC 8288): the `rel="next"` URL of a list answer.

/// The `rel="next"` URL of a response's `Link` header, if any.
pub(crate) fn next_link_of(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(next_link)
}

/// The `rel="next"` URL of a `Link` header (RFC 8288): `<url>;rel="next"` among
/// comma-separated links. URLs are taken between `<` and `>`, so commas inside them
/// (`sysparm_fields=a,b`) do not split a link; parameters are split on `;` and links on `,`
/// only outside quoted strings (so `title="x; rel=next"` is a title); `rel` may be quoted with
/// `"` or `'`, unquoted, or hold several relation types.
pub(crate) fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let open = rest.find('<')?;
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let url = &after[..close];
        let (params, tail) = link_params(&after[close + 1..]);
        let is_next = params.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("rel")
                && v.split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(url.trim().to_owned());
        }
        rest = tail;
    }
}

/// The `;`-separated `name=value` parameters of one link, up to the `,` that ends it outside
/// quotes, and the rest of the header after that comma. Quotes are removed from values.
fn link_params(s: &str) -> (Vec<(String, String)>, &str) {
    let mut params = Vec::new();
    let mut current = Vec::<u8>::new();
    let mut quote: Option<u8> = None;
    let bytes = s.as_bytes();
    let mut i = 0;
    let flush = |current: &mut Vec<u8>, params: &mut Vec<(String, String)>| {
        let text = String::from_utf8_lossy(current).into_owned();
        current.clear();
        if let Some((k, v)) = text.split_once('=') {
            params.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    };
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) if b == b'\\' => {
                if let Some(&escaped) = bytes.get(i) {
                    current.push(escaped);
                    i += 1;
                }
            }
            Some(_) => current.push(b),
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b';' => flush(&mut current, &mut params),
                b',' => break,
                _ => current.push(b),
            },
        }
    }
    flush(&mut current, &mut params);
    (params, s.get(i..).unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let h = r#"<https://x/api/now/table/incident?sysparm_limit=1&sysparm_offset=0>;rel="first",<https://x/api/now/table/incident?sysparm_limit=1&sysparm_offset=1>;rel="next",<https://x/api/now/table/incident?sysparm_limit=1&sysparm_offset=72>;rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://x/api/now/table/incident?sysparm_limit=1&sysparm_offset=1")
        );
        assert_eq!(next_link(r#"<https://x/a>;rel="first""#), None);
        // Commas inside a URL do not split it; quoting styles and several relation types.
        let h = r#"<https://x/t?sysparm_fields=a,b&sysparm_offset=0>; rel="first", <https://x/t?sysparm_fields=a,b&sysparm_offset=2>; rel='next'"#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://x/t?sysparm_fields=a,b&sysparm_offset=2")
        );
        assert_eq!(
            next_link("<https://x/b>; title=\"a,b\"; rel=\"prev next\"").as_deref(),
            Some("https://x/b")
        );
        assert_eq!(
            next_link("<https://x/c>;REL=next").as_deref(),
            Some("https://x/c")
        );
        assert_eq!(next_link("<https://x/d>;rel=nextpage"), None);
        assert_eq!(next_link("garbage"), None);
        assert_eq!(next_link("<unclosed;rel=next"), None);
        assert_eq!(next_link(""), None);
    }
}
