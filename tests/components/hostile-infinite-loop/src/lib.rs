//! Hostile test fixture `HostileInfiniteLoop`: spins forever.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The hostile processor.
pub struct HostileInfiniteLoop;

impl Guest for HostileInfiniteLoop {
    fn info() -> ProcessorInfo {
        hostile_common::info("HostileInfiniteLoop", "hostile_infinite_loop")
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        let _ = date;
        let mut counter: u64 = 0;
        loop {
            counter = std::hint::black_box(counter.wrapping_add(1));
        }
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(HostileInfiniteLoop);
