//! Hostile test fixture `InfoPanic`: panics in `info()`.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The hostile processor.
pub struct InfoPanic;

impl Guest for InfoPanic {
    fn info() -> ProcessorInfo {
        panic!("hostile info panic: no description today")
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        Ok(hostile_common::rows(date, 1))
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(InfoPanic);
