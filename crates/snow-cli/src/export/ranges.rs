//! Splitting a table into disjoint sys_id ranges: for concurrent fetching (`--parallel`) and
//! across processes (`--shard K/N`).
//!
//! sys_ids are 32 hex digits. The space of 128-bit values is cut into `N × P` slices at
//! multiples of 2^64 / (N × P) (written as 32 hex digits, the low 16 zero); slice `j` of shard
//! `k` is the half-open range `[bound(i), bound(i + 1))` with `i = (k − 1) × P + j`. The first
//! slice has no lower bound and the last no upper bound, so every string, hex or not, falls in
//! exactly one slice: together the shards hold each record once, with no coordination.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The most shards, and the most concurrent ranges per process.
pub(crate) const MAX_SHARDS: u32 = 4096;
/// The most concurrent ranges per process.
pub(crate) const MAX_PARALLEL: u32 = 64;

/// `--shard K/N`: this process's part `K` (from 1) of `N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Shard {
    /// K, from 1.
    pub(crate) index: u32,
    /// N.
    pub(crate) count: u32,
}

impl Shard {
    /// The whole table.
    pub(crate) const ALL: Shard = Shard { index: 1, count: 1 };
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not K/N with 1 <= K <= N <= {MAX_SHARDS} (e.g. 2/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// A half-open sys_id range `[start, end)`; `None` is unbounded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SysIdRange {
    /// Inclusive lower bound.
    pub(crate) start: Option<String>,
    /// Exclusive upper bound.
    pub(crate) end: Option<String>,
}

impl SysIdRange {
    /// Whether `sys_id` lies in the range (string order, as the instance compares).
    #[cfg(test)]
    pub(crate) fn contains(&self, sys_id: &str) -> bool {
        self.start.as_deref().is_none_or(|s| sys_id >= s)
            && self.end.as_deref().is_none_or(|e| sys_id < e)
    }
}

/// Bound `i` of `total` slices; `None` at both ends.
fn bound(i: u64, total: u64) -> Option<String> {
    if i == 0 || i >= total {
        return None;
    }
    let v = ((u128::from(i)) << 64) / u128::from(total);
    Some(format!("{:016x}{}", v as u64, "0".repeat(16)))
}

/// The `parallel` ranges of `shard`, in sys_id order.
pub(crate) fn split(shard: Shard, parallel: u32) -> Vec<SysIdRange> {
    let total = u64::from(shard.count) * u64::from(parallel);
    let first = u64::from(shard.index - 1) * u64::from(parallel);
    (first..first + u64::from(parallel))
        .map(|i| SysIdRange {
            start: bound(i, total),
            end: bound(i + 1, total),
        })
        .collect()
}

/// The whole range of `shard` (what its ranges cover together).
pub(crate) fn whole(shard: Shard) -> SysIdRange {
    let total = u64::from(shard.count);
    let i = u64::from(shard.index - 1);
    SysIdRange {
        start: bound(i, total),
        end: bound(i + 1, total),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse() {
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 4 }
        );
        for bad in ["0/4", "5/4", "1/0", "x/2", "1", "1/5000"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn one_range_is_everything() {
        assert_eq!(
            split(Shard::ALL, 1),
            vec![SysIdRange {
                start: None,
                end: None
            }]
        );
    }

    #[test]
    fn bounds_are_hex_sys_ids_in_order() {
        let r = split(Shard::ALL, 4);
        assert_eq!(r[0].start, None);
        assert_eq!(
            r[0].end.as_deref(),
            Some("40000000000000000000000000000000")
        );
        assert_eq!(r[1].start, r[0].end);
        assert_eq!(r[3].end, None);
        assert!(r.windows(2).all(|w| w[0].end == w[1].start));
    }

    #[test]
    fn every_sys_id_falls_in_exactly_one_range_of_all_shards() {
        // Deterministic pseudo-random sys_ids, plus edge cases and non-hex strings.
        let mut ids: Vec<String> = (0u64..2000)
            .map(|i| {
                let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i << 7);
                format!("{x:016x}{:016x}", x.rotate_left(17))
            })
            .collect();
        ids.extend(
            [
                "",
                "0",
                "00000000000000000000000000000000",
                "ffffffffffffffffffffffffffffffff",
                "40000000000000000000000000000000",
                "zzzz",
                "ABCDEF",
                "3fffffffffffffffffffffffffffffff",
            ]
            .map(String::from),
        );
        for (n, p) in [(1, 1), (1, 3), (3, 1), (3, 4), (7, 5)] {
            let all: Vec<SysIdRange> = (1..=n)
                .flat_map(|k| split(Shard { index: k, count: n }, p))
                .collect();
            for id in &ids {
                let hits = all.iter().filter(|r| r.contains(id)).count();
                assert_eq!(hits, 1, "{id} in {hits} ranges ({n} shards, {p} parallel)");
            }
            for k in 1..=n {
                let shard = Shard { index: k, count: n };
                let w = whole(shard);
                let parts = split(shard, p);
                assert_eq!(w.start, parts[0].start);
                assert_eq!(w.end, parts[parts.len() - 1].end);
            }
        }
    }
}
