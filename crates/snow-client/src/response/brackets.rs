//! The brackets (`{`, `}`, `[`, `]`) of a JSON text that lie outside its strings, found 64 bytes
//! at a time ([`Brackets`]).
//!
//! Each block of 64 bytes is compared with `"`, `\` and the brackets sixteen bytes at a time
//! (SIMD through `wide`), giving one bit per byte; the bytes escaped by a backslash and the
//! bytes inside strings then follow from those bits with a few integer operations (the method
//! of simdjson's first stage), carrying the state of an escape or a string from one block to
//! the next. Walking a page by its brackets visits the few bytes that shape it instead of every
//! member of every record.
//!
//! Like the rest of the walk it reads a superset of JSON: text that is not JSON gives
//! brackets that do not match, or none, and is read by serde_json afterwards.

use wide::u8x16;

/// Bits at even positions.
const EVEN: u64 = 0x5555_5555_5555_5555;

/// The positions of `"`, `\` and of `{`, `}`, `[`, `]` in the 64 bytes of `b` at `at` (bit `k`:
/// the byte at `at + k`); the bytes past the end of `b` count as spaces.
fn masks(b: &[u8], at: usize) -> (u64, u64, u64) {
    let mut padded = [b' '; 64];
    let rest = b.get(at..).unwrap_or_default();
    let block = match rest.get(..64) {
        Some(whole) => whole,
        None => {
            padded[..rest.len()].copy_from_slice(rest);
            &padded[..]
        }
    };
    let (mut quotes, mut backslashes, mut brackets) = (0, 0, 0);
    for (k, lane) in block.chunks_exact(16).enumerate() {
        let v = u8x16::new(<[u8; 16]>::try_from(lane).unwrap_or([b' '; 16]));
        // `[` and `]` differ from `{` and `}` by one bit only.
        let folded = v | u8x16::splat(0x20);
        let bracket = folded.cmp_eq(u8x16::splat(b'{')) | folded.cmp_eq(u8x16::splat(b'}'));
        quotes |= bits(v.cmp_eq(u8x16::splat(b'"')).move_mask()) << (16 * k);
        backslashes |= bits(v.cmp_eq(u8x16::splat(b'\\')).move_mask()) << (16 * k);
        brackets |= bits(bracket.move_mask()) << (16 * k);
    }
    (quotes, backslashes, brackets)
}

/// The sixteen bits of a lane's mask.
fn bits(mask: i32) -> u64 {
    u64::try_from(mask).unwrap_or(0)
}

/// The bytes escaped by a backslash: the byte after each odd-length run of backslashes. `carry`
/// says whether the previous block ended in such a run, and is set for the next block.
fn escaped(backslashes: u64, carry: &mut u64) -> u64 {
    if backslashes == 0 && *carry == 0 {
        return 0;
    }
    let backslashes = backslashes & !*carry;
    let follows = (backslashes << 1) | *carry;
    let odd_starts = backslashes & !EVEN & !follows;
    let (runs, overflow) = odd_starts.overflowing_add(backslashes);
    *carry = u64::from(overflow);
    (EVEN ^ (runs << 1)) & follows
}

/// Each bit the XOR of itself and the bits below it: from the quotes of a block, the bytes
/// inside strings (an opening quote counts as inside, a closing one as outside).
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// The brackets outside strings of a text, in order, and where its backslashes are.
pub(crate) struct Brackets<'a> {
    text: &'a [u8],
    /// Where the current block starts.
    base: usize,
    /// The brackets of the current block not yet given.
    left: u64,
    /// The backslashes of the current block.
    backslashes: u64,
    /// The last backslash of the blocks before the current one.
    last_backslash: Option<usize>,
    /// All ones when the current block ends inside a string.
    in_string: u64,
    /// Whether the current block ends in an odd run of backslashes.
    escape: u64,
}

impl<'a> Brackets<'a> {
    /// The brackets of `text`, from its first byte.
    pub(crate) fn new(text: &'a [u8]) -> Self {
        let mut b = Brackets {
            text,
            base: 0,
            left: 0,
            backslashes: 0,
            last_backslash: None,
            in_string: 0,
            escape: 0,
        };
        b.load();
        b
    }

    fn load(&mut self) {
        let (quotes, backslashes, brackets) = masks(self.text, self.base);
        let quotes = quotes & !escaped(backslashes, &mut self.escape);
        let inside = prefix_xor(quotes) ^ self.in_string;
        self.in_string = if inside >> 63 == 1 { u64::MAX } else { 0 };
        self.left = brackets & !inside;
        self.backslashes = backslashes;
    }

    /// The position of the next bracket outside strings; `None` at the end of the text.
    pub(crate) fn next_bracket(&mut self) -> Option<usize> {
        while self.left == 0 {
            if self.backslashes != 0 {
                self.last_backslash = Some(self.base + highest(self.backslashes));
            }
            self.base += 64;
            if self.base >= self.text.len() {
                return None;
            }
            self.load();
        }
        let at = self.base + self.left.trailing_zeros() as usize;
        self.left &= self.left - 1;
        Some(at)
    }

    /// The last backslash before `at`, the position of the bracket given last.
    pub(crate) fn last_backslash_before(&self, at: usize) -> Option<usize> {
        let shift = at.checked_sub(self.base).filter(|s| *s < 64);
        let below = shift.map_or(0, |s| self.backslashes & ((1u64 << s) - 1));
        if below == 0 {
            self.last_backslash
        } else {
            Some(self.base + highest(below))
        }
    }
}

/// The index of the highest bit set in `x` (not 0).
fn highest(x: u64) -> usize {
    63 - x.leading_zeros() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &[u8]) -> Vec<usize> {
        let mut b = Brackets::new(text);
        std::iter::from_fn(|| b.next_bracket()).collect()
    }

    /// The brackets outside strings, byte by byte: what the blocks must agree with. A backslash
    /// makes the byte after it no quote and no backslash (outside strings too, where JSON has
    /// none: a bracket there still counts).
    fn one_by_one(text: &[u8]) -> Vec<usize> {
        let (mut inside, mut escape, mut out) = (false, false, Vec::new());
        for (i, &c) in text.iter().enumerate() {
            let escaped = std::mem::take(&mut escape);
            if !inside && matches!(c, b'{' | b'}' | b'[' | b']') {
                out.push(i);
            } else if !escaped && c == b'\\' {
                escape = true;
            } else if !escaped && c == b'"' {
                inside = !inside;
            }
        }
        out
    }

    #[test]
    fn brackets_inside_strings_and_after_escapes_are_skipped_across_blocks() {
        let mut text = br#"{"a":"}]\"{[","b":[1,{"c":"\\"}],"d":"x\\\"]"}"#.to_vec();
        assert_eq!(all(&text), one_by_one(&text));
        assert_eq!(all(&text), [0, 18, 21, 30, 31, 45]);
        // A string and a run of backslashes across a block boundary.
        for pad in 0..70 {
            let mut t = vec![b' '; pad];
            t.extend_from_slice(br#"{"k":"\\\\\\\"]}" , "v" : [ {"w":"]"} ] }"#);
            assert_eq!(all(&t), one_by_one(&t), "pad {pad}");
        }
        // A string never closed: nothing after its quote.
        text = br#"[{"a":"]}]"#.to_vec();
        assert_eq!(all(&text), [0, 1]);
        assert_eq!(all(b""), Vec::<usize>::new());
    }

    #[test]
    fn the_last_backslash_before_a_bracket_is_found_in_earlier_blocks() {
        let mut text = br#"{"a":"\n"}"#.to_vec();
        text.extend(vec![b' '; 100]);
        text.extend_from_slice(b"{}");
        let mut b = Brackets::new(&text);
        assert_eq!(b.next_bracket(), Some(0));
        assert_eq!(b.last_backslash_before(0), None);
        assert_eq!(b.next_bracket(), Some(9));
        assert_eq!(b.last_backslash_before(9), Some(6));
        assert_eq!(b.next_bracket(), Some(110));
        assert_eq!(b.last_backslash_before(110), Some(6));
    }

    proptest::proptest! {
        #[test]
        fn blocks_agree_with_reading_byte_by_byte(
            text in proptest::collection::vec(proptest::sample::select(b"{}[]\"\\ a,:".to_vec()), 0..400)
        ) {
            proptest::prop_assert_eq!(all(&text), one_by_one(&text));
        }
    }
}
