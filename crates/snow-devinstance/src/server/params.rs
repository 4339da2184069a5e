//! Query-string parameters as ServiceNow reads them (lenient about case and empties).

/// The decoded query string, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pub(crate) pairs: Vec<(String, String)>,
}

impl Params {
    pub(crate) fn parse(query: &str) -> Self {
        Self {
            pairs: form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        }
    }

    /// The last value given for `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean: `true`/`True`/`TRUE`/`1` are true; anything else (or absence) is `default`
    /// only when absent or empty.
    pub(crate) fn flag(&self, name: &str, default: bool) -> bool {
        match self.get(name).map(str::trim) {
            None | Some("") => default,
            Some(v) => v.eq_ignore_ascii_case("true") || v == "1",
        }
    }

    /// A non-negative number; absent, empty or unparseable gives `default`. Negative numbers
    /// count as 0 and numbers too large for `usize` as `usize::MAX`, so an absurd offset pages
    /// past the end instead of wrapping back to the first page.
    pub(crate) fn number(&self, name: &str, default: usize) -> usize {
        let Some(v) = self.get(name).map(str::trim) else {
            return default;
        };
        let (negative, digits) = match v.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, v.strip_prefix('+').unwrap_or(v)),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return default;
        }
        if negative {
            return 0;
        }
        digits.parse::<usize>().unwrap_or(usize::MAX)
    }

    /// `sysparm_fields` as a list; `None` when absent or empty (all fields).
    pub(crate) fn fields(&self) -> Option<Vec<String>> {
        let raw = self.get("sysparm_fields")?;
        let list: Vec<String> = raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        (!list.is_empty()).then_some(list)
    }

    /// Name-value pair filters: every parameter that is not a `sysparm_` one (nor an API key)
    /// and whose name could be a (dot-walked) field name. Other parameters (`cache-buster`,
    /// names with spaces or carets) are ignored like any unknown parameter, so they can neither
    /// fail the request nor inject query syntax.
    pub(crate) fn name_value_filters(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .filter(|(k, _)| {
                !k.starts_with("sysparm_")
                    && !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            })
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The query string with `sysparm_limit` and `sysparm_offset` set to a page, the other
    /// parameters kept in order (as ServiceNow re-emits them in `Link`).
    pub(crate) fn with_page(&self, limit: usize, offset: usize) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            if k != "sysparm_limit" && k != "sysparm_offset" {
                s.append_pair(k, v);
            }
        }
        s.append_pair("sysparm_limit", &limit.to_string());
        s.append_pair("sysparm_offset", &offset.to_string());
        s.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_flags_numbers_and_fields() {
        let p = Params::parse(
            "sysparm_display_value=True&sysparm_no_count=&sysparm_limit=abc&sysparm_offset=-3&sysparm_fields=&active=true",
        );
        assert!(p.flag("sysparm_display_value", false));
        assert!(!p.flag("sysparm_no_count", false));
        assert_eq!(p.number("sysparm_limit", 10000), 10000);
        assert_eq!(p.number("sysparm_offset", 0), 0);
        assert_eq!(p.fields(), None);
        assert_eq!(
            p.name_value_filters().collect::<Vec<_>>(),
            [("active", "true")]
        );
    }

    #[test]
    fn only_field_like_names_filter() {
        let p = Params::parse(
            "active=true&caller_id.name=Bob&foo-bar=1&x%5EORactive=true&cache%20buster=3&x-sn-apikey=k&sysparm_limit=1",
        );
        assert_eq!(
            p.name_value_filters().collect::<Vec<_>>(),
            [("active", "true"), ("caller_id.name", "Bob")]
        );
    }

    #[test]
    fn huge_and_negative_numbers_saturate() {
        let p = Params::parse(
            "sysparm_limit=99999999999&sysparm_offset=99999999999999999999999&a=-99999999999999999999999&b=%2B7",
        );
        assert_eq!(p.number("sysparm_limit", 10), 99_999_999_999);
        assert_eq!(p.number("sysparm_offset", 0), usize::MAX);
        assert_eq!(p.number("a", 5), 0);
        assert_eq!(p.number("b", 5), 7);
    }

    #[test]
    fn page_query_keeps_other_params() {
        let p = Params::parse("sysparm_query=number%3DINC1&sysparm_limit=1&display_value=True");
        assert_eq!(
            p.with_page(1, 5),
            "sysparm_query=number%3DINC1&display_value=True&sysparm_limit=1&sysparm_offset=5"
        );
    }
}
