//! Hostile test fixture `HostilePanic`: panics.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The hostile processor.
pub struct HostilePanic;

impl Guest for HostilePanic {
    fn info() -> ProcessorInfo {
        hostile_common::info("HostilePanic", "hostile_panic")
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        panic!("hostile panic on {date}")
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(HostilePanic);
