//! Test fixture: a version of `VersionedProcessor` that depends on a
//! processor nobody has; see the README's Expectations.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The fixture processor.
pub struct VersionedProcessor;

impl Guest for VersionedProcessor {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            upstream: vec!["NoSuchProcessor".into()],
            ..versioned_common::info("4.0.0")
        }
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        Ok(versioned_common::rows(date, 1, "unknown-upstream"))
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(VersionedProcessor);
