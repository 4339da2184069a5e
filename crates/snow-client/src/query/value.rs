//! Values a condition compares against, and how each Rust type is written.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::QueryError;
use super::ast::Scalar;
use super::check;

const DATE_TIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
const DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");
const TIME: &[FormatItem<'static>] = format_description!("[hour]:[minute]:[second]");

/// A value for a condition: text, a number, a boolean, a sys_id, a date, or a script sent on
/// purpose.
///
/// Conversions (`From`) cover the common types:
/// - `&str` / `String`: literal text. Text starting with `javascript:` is refused when the
///   condition is built; use [`Value::javascript`] to send a script.
/// - integers: decimal; `bool`: `true` / `false`.
/// - [`time::OffsetDateTime`] (and `chrono::DateTime<Tz>` with the `chrono` feature): converted
///   to UTC and written `yyyy-MM-dd HH:mm:ss`, which ServiceNow compares against its stored UTC
///   values. A [`time::PrimitiveDateTime`] / `chrono::NaiveDateTime` is taken as UTC already.
///   Sub-second parts are dropped.
/// - [`time::Date`] / `chrono::NaiveDate`: `yyyy-MM-dd`.
///
/// For a date and time meant in the *instance user's* time zone, use
/// [`Value::date_generate_in_user_time_zone`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value(pub(crate) Result<Scalar, QueryError>);

impl Value {
    /// Literal text.
    pub fn text(s: impl Into<String>) -> Self {
        Self(Ok(Scalar::Text(s.into())))
    }

    /// A server-side script, written as `javascript:<expr>`, for example
    /// `Value::javascript("gs.getUserID()")` or `Value::javascript("gs.daysAgoStart(7)")`.
    ///
    /// The instance evaluates the expression: never build it from untrusted input.
    pub fn javascript(expr: impl Into<String>) -> Self {
        Self(Ok(Scalar::Script(expr.into())))
    }

    /// A date and time read in the instance user's time zone:
    /// `javascript:gs.dateGenerate('yyyy-MM-dd','HH:mm:ss')`. The instance converts it to UTC
    /// with the requesting user's time zone. Use a plain [`OffsetDateTime`] value for UTC
    /// semantics instead.
    pub fn date_generate_in_user_time_zone(at: PrimitiveDateTime) -> Self {
        Self(fmt_date(at.date()).and_then(|d| {
            let t = fmt_time(at.time())?;
            Ok(Scalar::Script(format!("gs.dateGenerate('{d}','{t}')")))
        }))
    }

    /// The value as it will be written, or why it cannot be.
    pub fn to_scalar(&self) -> Result<&Scalar, &QueryError> {
        self.0.as_ref()
    }
}

fn check_year(year: i32, shown: &dyn Fn() -> String) -> Result<(), QueryError> {
    if (0..=9999).contains(&year) {
        Ok(())
    } else {
        Err(check::invalid_value(
            &shown(),
            "ServiceNow dates have a four-digit year (0000 to 9999)",
        ))
    }
}

pub(crate) fn fmt_date(d: Date) -> Result<String, QueryError> {
    check_year(d.year(), &|| format!("{d}"))?;
    d.format(DATE)
        .map_err(|_| check::invalid_value(&format!("{d}"), "the date cannot be formatted"))
}

fn fmt_time(t: Time) -> Result<String, QueryError> {
    t.format(TIME)
        .map_err(|_| check::invalid_value(&format!("{t}"), "the time cannot be formatted"))
}

fn fmt_utc(at: PrimitiveDateTime) -> Result<String, QueryError> {
    check_year(at.year(), &|| format!("{at}"))?;
    at.format(DATE_TIME)
        .map_err(|_| check::invalid_value(&format!("{at}"), "the date cannot be formatted"))
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::text(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::text(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::text(s.as_str())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::text(if b { "true" } else { "false" })
    }
}

macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::text(n.to_string())
            }
        }
    )*};
}
int_values!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

impl From<crate::SysId> for Value {
    fn from(id: crate::SysId) -> Self {
        Value::text(id.as_str())
    }
}

impl From<&crate::SysId> for Value {
    fn from(id: &crate::SysId) -> Self {
        Value::text(id.as_str())
    }
}

impl From<OffsetDateTime> for Value {
    fn from(at: OffsetDateTime) -> Self {
        let utc = at.to_offset(UtcOffset::UTC);
        Self(fmt_utc(PrimitiveDateTime::new(utc.date(), utc.time())).map(Scalar::Text))
    }
}

impl From<PrimitiveDateTime> for Value {
    fn from(at: PrimitiveDateTime) -> Self {
        Self(fmt_utc(at).map(Scalar::Text))
    }
}

impl From<Date> for Value {
    fn from(d: Date) -> Self {
        Self(fmt_date(d).map(Scalar::Text))
    }
}

#[cfg(feature = "chrono")]
mod chrono_values {
    use super::{Scalar, Value, check};

    fn fmt_naive(at: chrono::NaiveDateTime) -> Result<String, super::QueryError> {
        use chrono::Datelike;
        super::check_year(at.year(), &|| at.to_string())?;
        Ok(at.format("%Y-%m-%d %H:%M:%S").to_string())
    }

    impl<Tz: chrono::TimeZone> From<chrono::DateTime<Tz>> for Value {
        fn from(at: chrono::DateTime<Tz>) -> Self {
            Self(fmt_naive(at.naive_utc()).map(Scalar::Text))
        }
    }

    impl From<chrono::NaiveDateTime> for Value {
        fn from(at: chrono::NaiveDateTime) -> Self {
            Self(fmt_naive(at).map(Scalar::Text))
        }
    }

    impl From<chrono::NaiveDate> for Value {
        fn from(d: chrono::NaiveDate) -> Self {
            use chrono::Datelike;
            if !(0..=9999).contains(&d.year()) {
                return Self(Err(check::invalid_value(
                    &d.to_string(),
                    "ServiceNow dates have a four-digit year (0000 to 9999)",
                )));
            }
            Self(Ok(Scalar::Text(d.format("%Y-%m-%d").to_string())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn text(v: Value) -> String {
        match v.0.unwrap() {
            Scalar::Text(t) => t,
            Scalar::Script(s) => format!("javascript:{s}"),
        }
    }

    #[test]
    fn offset_datetime_is_converted_to_utc() {
        // pysnow: dt(2016,2,1,3,tz=+01:00) -> 2016-02-01 02:00:00
        let v = Value::from(datetime!(2016-02-01 03:00:00 +01:00));
        assert_eq!(text(v), "2016-02-01 02:00:00");
        let v = Value::from(datetime!(2016-02-01 23:30:15.999 -05:00));
        assert_eq!(text(v), "2016-02-02 04:30:15");
    }

    #[test]
    fn naive_datetime_and_date() {
        assert_eq!(
            text(Value::from(datetime!(2020-01-02 03:04:05))),
            "2020-01-02 03:04:05"
        );
        assert_eq!(text(Value::from(date!(2024 - 02 - 29))), "2024-02-29");
    }

    #[test]
    fn user_time_zone_form_is_explicit() {
        let v = Value::date_generate_in_user_time_zone(datetime!(2015-05-09 00:00:00));
        assert_eq!(
            text(v),
            "javascript:gs.dateGenerate('2015-05-09','00:00:00')"
        );
    }

    #[test]
    fn out_of_range_years_are_refused() {
        let v = Value::from(date!(-0001 - 01 - 01));
        assert!(matches!(v.0, Err(QueryError::InvalidValue { .. })));
    }

    #[test]
    fn scalars_and_bools() {
        assert_eq!(text(Value::from(true)), "true");
        assert_eq!(text(Value::from(false)), "false");
        assert_eq!(text(Value::from(-42i64)), "-42");
        assert_eq!(text(Value::from(7u8)), "7");
    }

    #[cfg(feature = "chrono")]
    #[test]
    fn chrono_values() {
        use chrono::{FixedOffset, NaiveDate, TimeZone};
        let tz = FixedOffset::east_opt(3600).unwrap();
        let at = tz.with_ymd_and_hms(2016, 2, 1, 3, 0, 0).unwrap();
        assert_eq!(text(Value::from(at)), "2016-02-01 02:00:00");
        let d = NaiveDate::from_ymd_opt(2024, 1, 31).unwrap();
        assert_eq!(text(Value::from(d)), "2024-01-31");
        assert_eq!(
            text(Value::from(d.and_hms_opt(1, 2, 3).unwrap())),
            "2024-01-31 01:02:03"
        );
    }
}
