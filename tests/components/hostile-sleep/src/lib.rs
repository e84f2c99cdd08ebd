//! Hostile test fixture `HostileSleep`: sleeps for an hour inside a host call,
//! where epoch interruption cannot reach it.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The hostile processor.
pub struct HostileSleep;

impl Guest for HostileSleep {
    fn info() -> ProcessorInfo {
        hostile_common::info("HostileSleep", "hostile_sleep")
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        std::thread::sleep(std::time::Duration::from_secs(3600));
        Ok(hostile_common::rows(date, 1))
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(HostileSleep);
