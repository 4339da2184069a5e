//! Walking JSON by its structure only: where strings, objects and arrays start and end, without
//! decoding what is inside them.
//!
//! Used where decoding with serde_json would cost as much as the caller's own decoding only to
//! learn where things are: the records of a page ([`result_records`]), one member of a record
//! (the `sys_id` the paging checks read, [`member`]) and the members of a lazily read
//! [`Record`](crate::Record) ([`object_members`]).
//!
//! What it accepts is a superset of JSON: it follows strings and brackets (and, for one
//! object's members, the punctuation between them), and does not look into numbers, literals,
//! escapes or UTF-8. A page's records are found by their brackets alone ([`Brackets`]). So nothing it
//! finds is used before serde_json has read those bytes: a record it delimits is decoded, and
//! validated, when it is used. Every function returns `None` on anything it does not expect (the
//! caller then asks serde_json, which names the problem), never panics on any input, and never
//! recurses, so nesting depth costs no stack.

use std::ops::Range;

use super::brackets::Brackets;

/// Whether `b` is JSON whitespace (space, tab, line feed, carriage return; nothing else).
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The index of the first byte at or after `i` that is not JSON whitespace.
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).copied().is_some_and(is_ws) {
        i += 1;
    }
    i
}

/// `b[i]` opens a string: the index just past its closing quote, and whether it holds an
/// escape (`\`). `None` when the string does not end.
pub(crate) fn string_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut at = i.checked_add(1)?;
    let mut escaped = false;
    loop {
        let k = memchr::memchr2(b'"', b'\\', b.get(at..)?)?;
        at += k;
        if b[at] == b'"' {
            return Some((at + 1, escaped));
        }
        escaped = true;
        // The backslash and the byte it escapes (`\"` does not close the string).
        at += 2;
    }
}

/// `b[i]` starts a value: the index just past it. Strings and containers are followed to their
/// end (brackets counted, strings skipped whole); a number or literal runs to the next `,`, `}`,
/// `]` or whitespace.
pub(crate) fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i).map(|(end, _)| end),
        b'{' | b'[' => container_end(b, i),
        _ => scalar_end(b, i),
    }
}

fn scalar_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    while let Some(&c) = b.get(j) {
        match c {
            b',' | b'}' | b']' => break,
            c if is_ws(c) => break,
            b'"' | b'{' | b'[' | b':' => return None,
            _ => j += 1,
        }
    }
    (j > i).then_some(j)
}

fn container_end(b: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    loop {
        let k = b
            .get(j..)?
            .iter()
            .position(|&c| matches!(c, b'"' | b'{' | b'}' | b'[' | b']'))?;
        j += k;
        match b[j] {
            b'"' => {
                j = string_end(b, j)?.0;
                continue;
            }
            b'{' | b'[' => depth += 1,
            _ => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
        }
        j += 1;
    }
}

/// One member of an object: its name (inside the quotes), whether the name holds an escape
/// (then its bytes are not the name itself), and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) name: Range<usize>,
    pub(crate) name_escaped: bool,
    pub(crate) value: Range<usize>,
}

/// Calls `f` with each member of the object that `b[i]` opens, in order; the index just past
/// its `}`. `None` when it is not an object as far as its structure goes, or when `f` returns
/// `None`.
pub(crate) fn object_members(
    b: &[u8],
    i: usize,
    mut f: impl FnMut(Member) -> Option<()>,
) -> Option<usize> {
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b'}') {
        return Some(j + 1);
    }
    loop {
        if b.get(j) != Some(&b'"') {
            return None;
        }
        let (name_end, name_escaped) = string_end(b, j)?;
        let name = j + 1..name_end - 1;
        j = skip_ws(b, name_end);
        if b.get(j) != Some(&b':') {
            return None;
        }
        j = skip_ws(b, j + 1);
        let end = value_end(b, j)?;
        f(Member {
            name,
            name_escaped,
            value: j..end,
        })?;
        j = skip_ws(b, end);
        match b.get(j)? {
            b',' => j = skip_ws(b, j + 1),
            b'}' => return Some(j + 1),
            _ => return None,
        }
    }
}

/// The value of the member `name` (a name without escapes) of the object that is the whole of
/// `record` (whitespace around it allowed): `Some(None)` when it has no such member; the last
/// one when it has several. `None` when the structure is not that of one object, or a member
/// name holds an escape (it could spell `name`).
pub(crate) fn member(record: &[u8], name: &[u8]) -> Option<Option<Range<usize>>> {
    let mut found = None;
    let end = object_members(record, skip_ws(record, 0), |m| {
        if m.name_escaped {
            return None;
        }
        if record.get(m.name.clone()) == Some(name) {
            found = Some(m.value);
        }
        Some(())
    })?;
    (skip_ws(record, end) == record.len()).then_some(found)
}

/// Where a record sits in its page, and its `sys_id` member when the walk saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordAt {
    /// The record's bytes in the page.
    pub(crate) bytes: Range<usize>,
    /// The value of its `sys_id` member (the last one), relative to the record's first byte:
    /// `Some(None)` when it has none; `None` when not known (the page was read by serde_json,
    /// or a string followed by `:` anywhere in the record, a member name of it or of an object
    /// inside it, holds an escape).
    pub(crate) sys_id: Option<Option<Range<usize>>>,
}

impl RecordAt {
    /// A record found by other means than the walk: its sys_id is not known.
    pub(crate) fn bytes(bytes: Range<usize>) -> Self {
        Self {
            bytes,
            sys_id: None,
        }
    }
}

/// The records of a list answer shaped exactly `{"result":[{...},{...}]}` (JSON whitespace
/// anywhere between the parts), each record an object, with each record's `sys_id` member
/// found on the way. `None` for any other shape: another member beside `result`
/// (ServiceNow's `error` after a cancelled transaction), a body cut short, a record that is not
/// an object or is closed by `]`, brackets that never balance, anything after the closing
/// brace. The caller then decodes the body with serde_json, which says what is wrong.
/// (Brackets are counted, not matched: `{"a":[1}}` is delimited as a record, which its
/// decoding then refuses.)
///
/// A page is walked by its brackets ([`Brackets`]), not member by member: the inside of a
/// record is read when the record is decoded, and a record whose members are not JSON fails
/// there. Its `sys_id` is found by its name: the last `"sys_id"` followed by `:` outside the
/// record's inner objects and arrays (in a record that is JSON, that is its member of that
/// name: a string value cannot hold an unescaped quote). When a string followed by `:` holds
/// an escape (a member name that could spell `sys_id`, or a `"sys_id"` whose first quote is
/// escaped), the sys_id is left unknown.
pub(crate) fn result_records(body: &[u8]) -> Option<Vec<RecordAt>> {
    let open = result_value(body)?;
    if body.get(open) != Some(&b'[') {
        return None;
    }
    let mut brackets = Brackets::new(body);
    // The envelope's `{` is the one bracket before `[`.
    while brackets.next_bracket()? != open {}
    let finder = memchr::memmem::Finder::new(b"\"sys_id\"");
    let mut records = Vec::new();
    // The objects and arrays inside the current record.
    let mut inner = Vec::new();
    let mut after = open;
    loop {
        let start = brackets.next_bracket()?;
        let first = records.is_empty();
        match body[start] {
            b']' if first && skip_ws(body, after + 1) == start => {
                return envelope_ends(body, start + 1).then_some(records);
            }
            b'{' if first && skip_ws(body, after + 1) == start => {}
            b'{' if !first && separated_by_comma(body, after + 1, start) => {}
            _ => return None,
        }
        inner.clear();
        let mut depth = 1usize;
        let mut opened = start;
        let end = loop {
            let at = brackets.next_bracket()?;
            if matches!(body[at], b'{' | b'[') {
                if depth == 1 {
                    opened = at;
                }
                depth += 1;
            } else {
                depth -= 1;
                match depth {
                    0 => break at,
                    1 => inner.push(opened..at + 1),
                    _ => {}
                }
            }
        };
        if body[end] != b'}' {
            return None;
        }
        let record = start..end + 1;
        let escapes = brackets
            .last_backslash_before(end)
            .is_some_and(|at| at > start);
        let sys_id = if escapes && has_escaped_name(body, record.clone()) {
            None
        } else {
            sys_id_member(body, record.clone(), &inner, &finder)
        };
        records.push(RecordAt {
            bytes: record,
            sys_id,
        });
        after = end;
        let next = skip_ws(body, end + 1);
        if body.get(next) == Some(&b']') {
            return (brackets.next_bracket()? == next && envelope_ends(body, next + 1))
                .then_some(records);
        }
    }
}

/// Whether `b[from..to]` is one `,` with JSON whitespace around it.
fn separated_by_comma(b: &[u8], from: usize, to: usize) -> bool {
    let Some(gap) = b.get(from..to) else {
        return false;
    };
    let comma = skip_ws(gap, 0);
    gap.get(comma) == Some(&b',') && skip_ws(gap, comma + 1) == gap.len()
}

/// The value of the record's last member named `sys_id` (see [`result_records`]), relative to
/// the record's first byte; `Some(None)` when it has none.
#[allow(clippy::option_option)]
fn sys_id_member(
    b: &[u8],
    record: Range<usize>,
    inner: &[Range<usize>],
    finder: &memchr::memmem::Finder<'_>,
) -> Option<Option<Range<usize>>> {
    let start = record.start;
    let mut value = None;
    // The inner containers are in order and apart, as are the matches: one pass over both
    // (a hostile record of many nested `sys_id`s costs its length, not its length squared).
    let mut inner = inner.iter().peekable();
    for at in finder.find_iter(b.get(record)?) {
        let quote = start + at;
        while inner.next_if(|r| r.end <= quote).is_some() {}
        if inner.peek().is_some_and(|r| r.contains(&quote)) {
            continue;
        }
        let colon = skip_ws(b, quote + 8);
        if b.get(colon) == Some(&b':') {
            value = Some(skip_ws(b, colon + 1));
        }
    }
    let Some(value) = value else {
        return Some(None);
    };
    let end = value_end(b, value)?;
    Some(Some(value - start..end - start))
}

/// Whether a string holding an escape is followed by `:` in `record`: a member name (of the
/// record or of an object inside it) that could spell `sys_id`.
fn has_escaped_name(b: &[u8], record: Range<usize>) -> bool {
    let Some(text) = b.get(record.clone()) else {
        return true;
    };
    let mut from = 0;
    while let Some(k) = memchr::memchr(b'\\', text.get(from..).unwrap_or_default()) {
        // The end of the string holding this backslash (`string_end` reads from the byte
        // after the one it is given).
        let Some((end, _)) = (from + k).checked_sub(1).and_then(|i| string_end(text, i)) else {
            return true;
        };
        if text.get(skip_ws(text, end)) == Some(&b':') {
            return true;
        }
        from = end;
    }
    false
}

/// Where the value of `result` starts in a body that opens `{"result":`.
fn result_value(body: &[u8]) -> Option<usize> {
    let mut j = skip_ws(body, 0);
    if body.get(j) != Some(&b'{') {
        return None;
    }
    j = skip_ws(body, j + 1);
    if body.get(j..j + 8) != Some(b"\"result\"") {
        return None;
    }
    j = skip_ws(body, j + 8);
    if body.get(j) != Some(&b':') {
        return None;
    }
    Some(skip_ws(body, j + 1))
}

/// Whether the body closes its envelope at `j` (after the value of `result`) and ends there.
fn envelope_ends(body: &[u8], j: usize) -> bool {
    let j = skip_ws(body, j);
    body.get(j) == Some(&b'}') && skip_ws(body, j + 1) == body.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(body: &[u8], records: &[RecordAt]) -> Vec<String> {
        records
            .iter()
            .map(|r| String::from_utf8_lossy(&body[r.bytes.clone()]).into_owned())
            .collect()
    }

    #[test]
    fn records_of_a_page_are_delimited() {
        let body =
            br#" { "result" : [ {"a":"}]\"{[","b":{"c":[1,{"d":null}]}} , {} ,{"e":true}] } "#;
        let records = result_records(body).unwrap();
        assert_eq!(
            texts(body, &records),
            [
                r#"{"a":"}]\"{[","b":{"c":[1,{"d":null}]}}"#,
                "{}",
                r#"{"e":true}"#
            ]
        );
        assert!(records.iter().all(|r| r.sys_id == Some(None)));
        assert_eq!(result_records(br#"{"result":[]}"#), Some(vec![]));
    }

    #[test]
    fn the_sys_id_of_each_record_is_found_on_the_way() {
        let body = br#"{"result":[{"n":"1","sys_id":"a"},{"sys_id":{"value":"b"},"x":{"sys_id":"no"}},{"s\u0079s_id":"c"}]}"#;
        let records = result_records(body).unwrap();
        let ids: Vec<Option<&[u8]>> = records
            .iter()
            .map(|r| {
                let rec = &body[r.bytes.clone()];
                r.sys_id.clone().flatten().map(|v| &rec[v])
            })
            .collect();
        assert_eq!(ids, [Some(&br#""a""#[..]), Some(br#"{"value":"b"}"#), None]);
        // A name with an escape could spell sys_id: left to serde_json.
        assert_eq!(records[2].sys_id, None);
    }

    #[test]
    fn any_other_shape_is_left_to_serde() {
        for body in [
            &br#"{"result":[{"a":1}],"error":{"message":"cancelled"}}"#[..],
            br#"{"error":{"message":"x"},"result":[]}"#,
            br#"{"result":[{"a":1},"#,
            br#"{"result":[{"a":"1}]}"#,
            br#"{"result":[{"a":1}]"#,
            br#"{"result":[1,2]}"#,
            br#"{"result":{"a":1}}"#,
            br#"{"result":[{"a":1}]}x"#,
            br#"{"result":[{"a":1}}]}"#,
            br#"{"result":[{"a":1},]}"#,
            br#"{"result":[{"a":1}{"b":2}]}"#,
            br#"{"result":[{"a":1},,{"b":2}]}"#,
            br#"{"result":[[{"a":1}]]}"#,
            br#"{"resul\u0074":[]}"#,
            b"\x0c{\"result\":[]}",
            b"",
            b"[]",
        ] {
            assert_eq!(
                result_records(body),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_record_whose_members_are_not_json_is_delimited_for_its_decoding_to_report() {
        for (body, record) in [
            (
                &br#"{"result":[{"a":1},{"a" 1},{"c":3}]}"#[..],
                &br#"{"a" 1}"#[..],
            ),
            (br#"{"result":[{"a":1},{"a":1,},{"c":3}]}"#, br#"{"a":1,}"#),
            // Brackets are counted, not matched.
            (
                br#"{"result":[{"a":1},{"a":[1}},{"c":3}]}"#,
                br#"{"a":[1}}"#,
            ),
        ] {
            let records = result_records(body).unwrap();
            assert_eq!(records.len(), 3);
            assert_eq!(&body[records[1].bytes.clone()], record);
            assert!(serde_json::from_slice::<serde::de::IgnoredAny>(record).is_err());
        }
    }

    #[test]
    fn the_sys_id_is_the_records_own_member_not_one_inside_a_value() {
        let body = br#"{"result":[{"x":{"sys_id":"in"},"s":"\"sys_id\":\"no\"","sys_id" : "a","y":["sys_id"]},{"d":"a\nb","sys_id":"b"},{"n\u0061me":"x","sys_id":"c"}]}"#;
        let records = result_records(body).unwrap();
        let ids: Vec<_> = records
            .iter()
            .map(|r| {
                let rec = &body[r.bytes.clone()];
                r.sys_id
                    .clone()
                    .map(|v| v.map(|v| String::from_utf8_lossy(&rec[v]).into_owned()))
            })
            .collect();
        assert_eq!(
            ids,
            [
                Some(Some(r#""a""#.to_owned())),
                // An escape in a value does not hide the name.
                Some(Some(r#""b""#.to_owned())),
                // A name with an escape could spell sys_id: not known.
                None,
            ]
        );
    }

    #[test]
    fn many_nested_sys_ids_are_passed_over_in_one_pass() {
        let n = 20_000;
        let mut body = br#"{"result":[{"#.to_vec();
        for i in 0..n {
            body.extend_from_slice(format!(r#""m{i}":{{"sys_id":"x"}},"#).as_bytes());
            if i == n / 2 {
                body.extend_from_slice(br#""sys_id":"own","#);
            }
        }
        body.extend_from_slice(br#""z":1}]}"#);
        let records = result_records(&body).unwrap();
        let rec = &body[records[0].bytes.clone()];
        let at = records[0].sys_id.clone().flatten().unwrap();
        assert_eq!(&rec[at], br#""own""#);
    }

    #[test]
    fn a_member_is_found_by_name_the_last_one_winning() {
        let rec = br#"{"number":"INC1","sys_id":"a\"b","x":{"sys_id":"no"},"sys_id":"c"}"#;
        let v = member(rec, b"sys_id").unwrap().unwrap();
        assert_eq!(&rec[v], br#""c""#);
        assert_eq!(member(br#"{"number":"1"}"#, b"sys_id"), Some(None));
        assert_eq!(member(br#" {} "#, b"sys_id"), Some(None));
        // A name with an escape could spell the one asked for: not decided here.
        assert_eq!(member(br#"{"sys\u005fid":"x"}"#, b"sys_id"), None);
        assert_eq!(member(br#"{"sys_id":"x"} {}"#, b"sys_id"), None);
        assert_eq!(member(br#"{"sys_id" "x"}"#, b"sys_id"), None);
        assert_eq!(member(br#"{"sys_id":}"#, b"sys_id"), None);
    }

    #[test]
    fn values_end_where_they_end() {
        let b = br#"-12.5e3 , "a\\" x"#;
        assert_eq!(value_end(b, 0), Some(7));
        assert_eq!(value_end(b, 10), Some(15));
        assert_eq!(value_end(b"[[[[]]]]]", 0), Some(8));
        assert_eq!(value_end(b"[[[[]]]", 0), None);
        assert_eq!(value_end(br#""\"#, 0), None);
        assert_eq!(value_end(b"", 0), None);
        assert_eq!(value_end(b",", 0), None);
    }

    #[test]
    fn deep_nesting_costs_no_stack() {
        let mut b = vec![b'['; 1_000_000];
        b.extend(vec![b']'; 1_000_000]);
        assert_eq!(value_end(&b, 0), Some(b.len()));
    }
}
