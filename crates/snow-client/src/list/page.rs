//! [`Page`]: the buffered answer to one list request.

use serde::de::DeserializeOwned;

use crate::Error;
use crate::request::Buffered;
use crate::response::link::next_link_of;

/// The answer to one list request, buffered: the records, `X-Total-Count` and the `Link`
/// header's next page. The same accessors as [`RecordStream`](super::RecordStream) work on it.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    records: Vec<T>,
    total_count: Option<u64>,
    next_link: Option<String>,
}

impl<T> Page<T> {
    /// The records.
    pub fn records(&self) -> &[T] {
        &self.records
    }

    /// `X-Total-Count`: how many records match the whole query.
    pub fn total_count(&self) -> Option<u64> {
        self.total_count
    }

    /// The `Link` header's `rel="next"` URL, when there is a next page.
    pub fn next_link(&self) -> Option<&str> {
        self.next_link.as_deref()
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the page is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record.
    pub fn all(self) -> Vec<T> {
        self.records
    }

    /// Exactly one record: [`Error::NoResults`] or [`Error::MultipleResults`] otherwise.
    pub fn one(self) -> Result<T, Error> {
        self.one_or_none()?.ok_or(Error::NoResults)
    }

    /// The only record or `None`; [`Error::MultipleResults`] when there are several.
    pub fn one_or_none(self) -> Result<Option<T>, Error> {
        let mut it = self.records.into_iter();
        match (it.next(), it.next()) {
            (None, _) => Ok(None),
            (Some(r), None) => Ok(Some(r)),
            (Some(_), Some(_)) => Err(Error::MultipleResults),
        }
    }

    /// The first record; [`Error::NoResults`] when there is none.
    pub fn first(self) -> Result<T, Error> {
        self.first_or_none().ok_or(Error::NoResults)
    }

    /// The first record, or `None`.
    pub fn first_or_none(self) -> Option<T> {
        self.records.into_iter().next()
    }
}

impl<T> IntoIterator for Page<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.records.into_iter()
    }
}

impl<T: DeserializeOwned> Page<T> {
    /// The records and paging headers of a list answer.
    pub(crate) fn from_response(resp: &Buffered) -> Result<Self, Error> {
        let raw = resp.raw();
        Ok(Page {
            records: raw.decode_list::<T>()?,
            total_count: raw.total_count(),
            next_link: next_link_of(&resp.parts.headers),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_accessors_follow_pysnow() {
        let page = |v: Vec<u32>| Page {
            records: v,
            total_count: None,
            next_link: None,
        };
        assert_eq!(page(vec![1]).one().unwrap(), 1);
        assert!(matches!(
            page(vec![1, 2, 3]).one(),
            Err(Error::MultipleResults)
        ));
        assert_eq!(page(vec![1, 2, 3]).first().unwrap(), 1);
        assert_eq!(page(vec![1, 2, 3]).first_or_none(), Some(1));
        assert!(matches!(page(vec![]).one(), Err(Error::NoResults)));
        assert!(matches!(page(vec![]).first(), Err(Error::NoResults)));
        assert_eq!(page(vec![]).one_or_none().unwrap(), None);
        assert_eq!(page(vec![]).first_or_none(), None);
        assert!(page(vec![]).all().is_empty());
    }
}
