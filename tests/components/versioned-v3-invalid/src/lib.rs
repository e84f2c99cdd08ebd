//! Test fixture: an invalid version of `VersionedProcessor`, whose partition
//! column is not in its schema; see the README's Expectations.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The fixture processor.
pub struct VersionedProcessor;

impl Guest for VersionedProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            partition_column: "no_such_column".into(),
            ..versioned_common::info("3.0.0")
        }
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        Ok(versioned_common::rows(date, 1, "v3-invalid"))
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(VersionedProcessor);
