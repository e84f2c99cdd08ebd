//! Hostile test fixture `HostileRowFlood`: returns 100,000 rows, far past a small row cap.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The hostile processor.
pub struct HostileRowFlood;

impl Guest for HostileRowFlood {
    fn info() -> ProcessorInfo {
        hostile_common::info("HostileRowFlood", "hostile_row_flood")
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        Ok(hostile_common::rows(date, 100_000))
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(HostileRowFlood);
