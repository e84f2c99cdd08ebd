//! A word-at-a-time `memcmp` and `bcmp` for the guest.
//!
//! wasi-libc's `memcmp` is musl's byte loop, and every string comparison a
//! processor makes (a hash-map probe, a sort by name) calls it. Defined
//! here, the linker takes these instead: eight bytes a step, and the tail
//! as one more word that overlaps bytes already found equal. Natively the
//! platform's own stays in use: there these are plain functions, under
//! test.

/// `len` bytes at `p + at`, as a big-endian number: numbers of equal
/// length order as their bytes do.
///
/// # Safety
/// `p + at .. p + at + len` must be valid for reads; `len` is 4 or 8.
#[inline(always)]
unsafe fn word(p: *const u8, at: usize, len: usize) -> u64 {
    // SAFETY: the caller's promise.
    unsafe {
        if len == 8 {
            u64::from_be(p.add(at).cast::<u64>().read_unaligned())
        } else {
            u64::from(u32::from_be(p.add(at).cast::<u32>().read_unaligned()))
        }
    }
}

/// Compares `n` bytes of `a` and `b` as unsigned bytes, in order.
///
/// # Safety
/// `a` and `b` must each be valid for reads of `n` bytes.
#[cfg_attr(target_arch = "wasm32", unsafe(no_mangle))]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let order = |x: u64, y: u64| if x < y { -1 } else { 1 };
    // SAFETY (every read below): each lies within the first `n` bytes.
    unsafe {
        if n < 4 {
            for i in 0..n {
                let (x, y) = (*a.add(i), *b.add(i));
                if x != y {
                    return i32::from(x) - i32::from(y);
                }
            }
            return 0;
        }
        let step = if n < 8 { 4 } else { 8 };
        let mut i = 0;
        while i + step <= n {
            let (x, y) = (word(a, i, step), word(b, i, step));
            if x != y {
                return order(x, y);
            }
            i += step;
        }
        if i < n {
            // The last `step` bytes: those before `i` are already equal,
            // so the first difference, if any, orders the words.
            let (x, y) = (word(a, n - step, step), word(b, n - step, step));
            if x != y {
                return order(x, y);
            }
        }
        0
    }
}

/// Whether `n` bytes of `a` and `b` differ (zero when they are equal).
///
/// # Safety
/// As for [`memcmp`].
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller's promise, passed on.
    unsafe { memcmp(a, b, n) }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    /// What `memcmp` says of `a` and `b`, as an ordering.
    fn compared(a: &[u8], b: &[u8]) -> Ordering {
        assert_eq!(a.len(), b.len());
        // SAFETY: both slices hold `a.len()` bytes.
        unsafe { super::memcmp(a.as_ptr(), b.as_ptr(), a.len()) }.cmp(&0)
    }

    #[test]
    fn equal_bytes_compare_equal_at_every_length() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            assert_eq!(
                compared(&bytes, &bytes.clone()),
                Ordering::Equal,
                "len {len}"
            );
        }
    }

    #[test]
    fn the_first_differing_byte_orders_as_unsigned_at_every_length_and_position() {
        for len in 1..40 {
            for at in 0..len {
                let a: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
                for (low, high) in [(0x00, 0x01), (0x7f, 0x80), (0x10, 0xff)] {
                    let (mut lesser, mut greater) = (a.clone(), a.clone());
                    lesser[at] = low;
                    greater[at] = high;
                    // Bytes after the difference must not decide.
                    for later in at + 1..len {
                        lesser[later] = 0xff;
                        greater[later] = 0x00;
                    }
                    assert_eq!(lesser.cmp(&greater), Ordering::Less);
                    assert_eq!(
                        compared(&lesser, &greater),
                        Ordering::Less,
                        "len {len} at {at}"
                    );
                    assert_eq!(
                        compared(&greater, &lesser),
                        Ordering::Greater,
                        "len {len} at {at}"
                    );
                }
            }
        }
    }
}
