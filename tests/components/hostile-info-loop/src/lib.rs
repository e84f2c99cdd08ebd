//! Hostile test fixture `InfoLoop`: loops forever in `info()`, so that
//! loading it would stall every command that loads processors.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The hostile processor.
pub struct InfoLoop;

impl Guest for InfoLoop {
    fn info() -> ProcessorInfo {
        let mut spins: u64 = 0;
        loop {
            spins = std::hint::black_box(spins.wrapping_add(1));
            if std::hint::black_box(spins) == u64::MAX {
                break;
            }
        }
        hostile_common::info("InfoLoop", "hostile_info_loop")
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        Ok(hostile_common::rows(date, 1))
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(InfoLoop);
