//! ServiceNow date/time text: `yyyy-MM-dd HH:mm:ss` (UTC) and `yyyy-MM-dd`.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

const DATETIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
const DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// Parses `yyyy-MM-dd HH:mm:ss`.
pub(crate) fn parse_datetime(s: &str) -> Option<PrimitiveDateTime> {
    PrimitiveDateTime::parse(s, DATETIME).ok()
}

/// Parses `yyyy-MM-dd`.
pub(crate) fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, DATE).ok()
}

/// Formats as `yyyy-MM-dd HH:mm:ss` in UTC.
pub(crate) fn format_datetime(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    PrimitiveDateTime::new(t.date(), t.time())
        .format(DATETIME)
        .unwrap_or_default()
}

/// Formats a UTC date-time without offset.
pub(crate) fn format_primitive(t: PrimitiveDateTime) -> String {
    t.format(DATETIME).unwrap_or_default()
}

/// Normalises a date/time literal to `yyyy-MM-dd HH:mm:ss`: accepts that form, a bare date
/// (midnight), and ISO 8601 `yyyy-MM-ddTHH:mm:ss` with an optional `Z`.
pub(crate) fn normalize_datetime(s: &str) -> Option<String> {
    let s = s.trim();
    if parse_datetime(s).is_some() {
        return Some(s.to_owned());
    }
    if let Some(d) = parse_date(s) {
        return Some(format_primitive(PrimitiveDateTime::new(d, Time::MIDNIGHT)));
    }
    let iso = s.strip_suffix('Z').unwrap_or(s).replacen('T', " ", 1);
    let iso = iso.split('.').next().unwrap_or_default();
    parse_datetime(iso).map(|_| iso.to_owned())
}

/// Normalises a date literal to `yyyy-MM-dd` (a date-time keeps its date part).
pub(crate) fn normalize_date(s: &str) -> Option<String> {
    let s = s.trim();
    if parse_date(s).is_some() {
        return Some(s.to_owned());
    }
    normalize_datetime(s).map(|dt| dt[..10].to_owned())
}
