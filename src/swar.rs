//! Questions about a string's bytes asked eight bytes at a time, as one `u64` ("SIMD within a
//! register"), for the checks that run on every cell and every written value, where nearly
//! every byte is plain ASCII. Each test sets the high bit of a byte it finds; a borrow can also
//! set it in a byte above one it found, never without one, so "is there such a byte" is exact
//! (the tests of "Bit Twiddling Hacks": a byte less than n, a zero byte).

const ONES: u64 = u64::from_ne_bytes([1; 8]);
const HIGH: u64 = ONES * 0x80;

/// A byte below `n` (at most 0x80).
pub(crate) fn below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH
}

/// A byte equal to `b`.
pub(crate) fn equal(w: u64, b: u8) -> u64 {
    let x = w ^ (ONES * u64::from(b));
    x.wrapping_sub(ONES) & !x & HIGH
}

/// A byte of 0x80 or above (not ASCII).
pub(crate) fn non_ascii(w: u64) -> u64 {
    w & HIGH
}

/// Whether `test` finds a byte in `bytes`. The last few bytes are padded with `pad`, a byte
/// `test` must not find.
pub(crate) fn any(bytes: &[u8], pad: u8, test: impl Fn(u64) -> u64) -> bool {
    let word = |w: &[u8]| test(u64::from_ne_bytes(w.try_into().expect("eight bytes"))) != 0;
    if bytes.len() < 8 {
        let mut last = [pad; 8];
        last[..bytes.len()].copy_from_slice(bytes);
        return word(&last);
    }
    let mut words = bytes.chunks_exact(8);
    // The last eight bytes, overlapping words already asked about: no copy of the rest.
    words.any(word) || (!words.remainder().is_empty() && word(&bytes[bytes.len() - 8..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value at every place of a word, of the overlapping last word and of the padded
    /// rest, among bytes of a few kinds; the property below mixes any bytes (where borrows come
    /// from).
    #[test]
    fn each_test_finds_exactly_its_bytes() {
        type Case = (&'static str, fn(u64) -> u64, fn(u8) -> bool);
        let tests: [Case; 4] = [
            ("below 0x20", |w| below(w, 0x20), |b| b < 0x20),
            ("equal '\"'", |w| equal(w, b'"'), |b| b == b'"'),
            ("equal 0x7f", |w| equal(w, 0x7f), |b| b == 0x7f),
            ("non-ASCII", non_ascii, |b| b >= 0x80),
        ];
        for (name, test, finds) in tests {
            for len in [1, 7, 8, 9, 16, 21] {
                for at in 0..len {
                    for b in 0..=255u8 {
                        for around in [b'a', b'~', b' ', b'#'] {
                            let mut bytes = vec![around; len];
                            bytes[at] = b;
                            let expected = bytes.iter().any(|&x| finds(x));
                            assert_eq!(any(&bytes, b'a', test), expected, "{name} {bytes:?}");
                        }
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_answered_as_one_at_a_time(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40)
        ) {
            let test = |w| below(w, 0x20) | equal(w, b'"') | equal(w, 0x7f) | non_ascii(w);
            let expected =
                bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == 0x7f || b >= 0x80);
            proptest::prop_assert_eq!(any(&bytes, b'a', test), expected);
        }
    }
}
