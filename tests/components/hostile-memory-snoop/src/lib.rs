//! Hostile test fixture `HostileMemorySnoop`: searches all of its linear
//! memory for what an earlier run left there, then leaves its own marks.
//!
//! A run that finds an earlier run's mark fails, naming the date the mark
//! carries. Otherwise it writes marks carrying its own date into memory it
//! grows, into its heap and into a static buffer, searches again, and
//! returns one row per mark it then finds, at most `ROWS`: a run that
//! returns fewer has a search that could not have seen a leak either.
//!
//! A mark is `MARK_LEN` bytes computed from a seed the compiler cannot
//! see, then the run's date as days since 1970. The search compares byte by
//! byte against the same computation, so no copy of a mark sits in memory
//! until a run writes one.

/// The bytes of a mark before its date.
const MARK_LEN: usize = 16;
/// A mark and its date.
const RECORD_LEN: usize = MARK_LEN + 4;
/// The most rows a run returns.
const ROWS: usize = 3;
/// How far each run grows its memory before searching it: 64 pages, 4 MiB.
const GROWN_PAGES: usize = 64;
/// The size of a wasm page.
const PAGE: usize = 65_536;

/// The size of this instance's linear memory, in pages.
#[cfg(target_arch = "wasm32")]
fn memory_pages() -> usize {
    core::arch::wasm32::memory_size::<0>()
}

/// Grows linear memory by `pages`: the first new page, or `usize::MAX`.
#[cfg(target_arch = "wasm32")]
fn grow(pages: usize) -> usize {
    core::arch::wasm32::memory_grow::<0>(pages)
}

/// Natively there is no linear memory to search.
#[cfg(not(target_arch = "wasm32"))]
fn memory_pages() -> usize {
    0
}

/// Natively there is no linear memory to grow.
#[cfg(not(target_arch = "wasm32"))]
fn grow(_pages: usize) -> usize {
    usize::MAX
}

/// Where the static mark goes: zero at every instance's start.
static mut STATIC_MARKS: [u8; 4096] = [0; 4096];

/// Byte `i` of the mark made from `seed`.
#[inline(always)]
fn mark_byte(seed: u8, i: usize) -> u8 {
    (i as u8).wrapping_mul(97).wrapping_add(seed) ^ 0x5a
}

/// Writes a mark for `day` at `at`.
///
/// # Safety
/// `at .. at + RECORD_LEN` must be writable memory of this instance.
unsafe fn write_mark(seed: u8, at: *mut u8, day: i32) {
    for i in 0..MARK_LEN {
        // SAFETY: within the record, by the caller's promise.
        unsafe { at.add(i).write_volatile(mark_byte(seed, i)) };
    }
    for (i, byte) in day.to_le_bytes().into_iter().enumerate() {
        // SAFETY: as above.
        unsafe { at.add(MARK_LEN + i).write_volatile(byte) };
    }
}

/// The dates (days since 1970) of every mark in memory from byte 8 to the
/// end.
fn marks_in_memory(seed: u8) -> Vec<i32> {
    let end = memory_pages() * PAGE;
    let mut found = Vec::new();
    let mut at = 8;
    while at + RECORD_LEN <= end {
        // SAFETY: every address below `memory_size` pages is this
        // instance's memory; the reads are volatile, so none is assumed.
        let matches = (0..MARK_LEN)
            .all(|i| unsafe { (at as *const u8).add(i).read_volatile() } == mark_byte(seed, i));
        if matches {
            let mut day = [0u8; 4];
            for (i, byte) in day.iter_mut().enumerate() {
                // SAFETY: as above, within `end`.
                *byte = unsafe { (at as *const u8).add(MARK_LEN + i).read_volatile() };
            }
            found.push(i32::from_le_bytes(day));
            at += RECORD_LEN;
        } else {
            at += 1;
        }
    }
    found
}

fixture_common::processor! {
    HostileMemorySnoop,
    info: hostile_common::info("HostileMemorySnoop", "hostile_memory_snoop"),
    process: |date| {
        let seed = std::hint::black_box(0xa5u8);
        let today = slate_sdk::days_from_date(date) as i32;
        // Grown memory is where an earlier instance's pages would show: a
        // pool that kept them must hand them back as zeros.
        let grown_at = grow(GROWN_PAGES);
        if grown_at == usize::MAX {
            return Err(slate_sdk::ProcessError::Internal("could not grow memory".into()));
        }
        if let Some(day) = marks_in_memory(seed).into_iter().find(|d| *d != today) {
            return Err(slate_sdk::ProcessError::InvalidInput(format!(
                "found the mark of an earlier run, for {}",
                slate_sdk::date_from_days(i64::from(day))
            )));
        }
        let grown = (grown_at * PAGE) as *mut u8;
        let mut heap = vec![0u8; 1 << 20];
        // SAFETY: the grown pages, the heap buffer and the static buffer
        // are this instance's, and each write fits in its own.
        unsafe {
            write_mark(seed, grown.add(GROWN_PAGES * PAGE / 2), today);
            write_mark(seed, heap.as_mut_ptr().add(heap.len() / 2), today);
            write_mark(seed, (&raw mut STATIC_MARKS).cast::<u8>().add(1024), today);
        }
        std::hint::black_box(&heap);
        let found = marks_in_memory(seed).len().min(ROWS);
        Ok(hostile_common::rows(date, found as i64))
    },
}
