//! [`SysId`]: a record's 32-hex-digit identifier.

use std::fmt;
use std::str::FromStr;

/// A record's `sys_id`: 32 lowercase hexadecimal digits.
///
/// The record calls take one wherever they take a sys_id ([`Table::get`](crate::Table::get),
/// `update`, `delete`, the attachment calls), as they take a plain string: the sys_ids of a few
/// system records are not 32 hex digits (`global`), so a string is never refused for its shape.
/// A `SysId` is checked once, when it is made, and goes into queries as a value
/// (`field("caller_id").eq(&id)`).
///
/// ```
/// use snow_client::SysId;
/// let id: SysId = "9d385017c611228701d22104cc95c371".parse()?;
/// assert_eq!(id.as_str(), "9d385017c611228701d22104cc95c371");
/// assert!("not-an-id".parse::<SysId>().is_err());
/// # Ok::<(), snow_client::InvalidSysId>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SysId(String);

/// A string that is not a sys_id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a sys_id (a sys_id is 32 lowercase hexadecimal digits)")]
pub struct InvalidSysId {
    /// The string given (shortened if long).
    pub value: String,
}

impl SysId {
    /// Validates `s`.
    pub fn new(s: &str) -> Result<Self, InvalidSysId> {
        if snow_core::is_sys_id(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidSysId {
                value: crate::query_quote(s),
            })
        }
    }

    /// The 32 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SysId {
    type Err = InvalidSysId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for SysId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SysId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<SysId> for String {
    fn from(id: SysId) -> String {
        id.0
    }
}

impl From<&SysId> for String {
    fn from(id: &SysId) -> String {
        id.0.clone()
    }
}

impl serde::Serialize for SysId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SysId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        SysId::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_round_trips_through_serde() {
        let id = SysId::new("9d385017c611228701d22104cc95c371").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"9d385017c611228701d22104cc95c371\"");
        let back: SysId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        for bad in [
            "",
            "9D385017C611228701D22104CC95C371",
            "abc",
            "9d385017c611228701d22104cc95c37g",
            &"a".repeat(33),
        ] {
            assert!(SysId::new(bad).is_err(), "{bad}");
        }
        let err = serde_json::from_str::<SysId>("\"nope\"").unwrap_err();
        assert!(err.to_string().contains("nope"));
    }
}
