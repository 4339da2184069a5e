//! Remembered sort orders: a client paging through a table sends the same ORDERBY for every
//! page, so the second request with an order sorts the whole table once and later pages walk
//! the remembered order instead of sorting again. Any write forgets every order (an order on a
//! dot-walked or reference field depends on other tables too).

use std::sync::{Arc, Mutex, PoisonError};

use super::Loc;

/// How many orders are remembered at once.
const CAPACITY: usize = 4;

#[derive(Debug)]
struct Entry {
    key: String,
    generation: u64,
    /// `None`: asked for once at this generation, not sorted yet.
    order: Option<Arc<[Loc]>>,
}

/// What the cache says about an order.
pub(crate) enum Lookup {
    /// The whole family of the table in this order.
    Hit(Arc<[Loc]>),
    /// Asked for before at this generation: worth sorting everything and remembering it.
    Repeat,
    /// First time: sort only the page's prefix.
    First,
}

/// The remembered orders. Cloning a database starts with an empty cache.
#[derive(Debug, Default)]
pub(crate) struct OrderCache {
    entries: Mutex<Vec<Entry>>,
}

impl Clone for OrderCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl OrderCache {
    /// Looks an order up, noting that it was asked for.
    pub(crate) fn lookup(&self, key: &str, generation: u64) -> Lookup {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|e| e.generation == generation);
        if let Some(i) = entries.iter().position(|e| e.key == key) {
            let e = entries.remove(i);
            let found = match &e.order {
                Some(order) => Lookup::Hit(Arc::clone(order)),
                None => Lookup::Repeat,
            };
            entries.insert(0, e);
            return found;
        }
        entries.insert(
            0,
            Entry {
                key: key.to_owned(),
                generation,
                order: None,
            },
        );
        entries.truncate(CAPACITY);
        Lookup::First
    }

    /// Forgets that an order was asked for: its query matched too few rows for a full sort to
    /// pay off, so the next identical request sorts only its page again.
    pub(crate) fn forget(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|e| e.key != key || e.order.is_some());
    }

    /// Remembers a full order computed at `generation`.
    pub(crate) fn store(&self, key: &str, generation: u64, order: Arc<[Loc]>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|e| e.generation == generation && e.key != key);
        entries.insert(
            0,
            Entry {
                key: key.to_owned(),
                generation,
                order: Some(order),
            },
        );
        entries.truncate(CAPACITY);
    }
}
