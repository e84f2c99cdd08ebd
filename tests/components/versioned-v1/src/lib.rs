//! Test fixture: version v1 of `VersionedProcessor`, two rows labelled `v1`;
//! see the README's Expectations.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The fixture processor.
pub struct VersionedProcessor;

impl Guest for VersionedProcessor {
    fn info() -> ProcessorInfo {
        versioned_common::info("1.0.0")
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        Ok(versioned_common::rows(date, 2, "v1"))
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(VersionedProcessor);
