//! Test fixture: version v2 of `VersionedProcessor`, three rows labelled
//! `v2`; see the README's Expectations.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The fixture processor.
pub struct VersionedProcessor;

impl Guest for VersionedProcessor {
    fn info() -> ProcessorInfo {
        versioned_common::info("2.0.0")
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        Ok(versioned_common::rows(date, 3, "v2"))
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(VersionedProcessor);
