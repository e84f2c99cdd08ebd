//! Test fixture `OneBadRowFailsRun`: 199 rows with one bad row, under the
//! `FailRun` bad-row policy, which fails the run.

use slate_sdk::{BadRowPolicy, Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The fixture processor.
pub struct OneBadRowFailsRun;

impl Guest for OneBadRowFailsRun {
    fn info() -> ProcessorInfo {
        one_bad_row_common::info(
            "OneBadRowFailsRun",
            "one_bad_row_fails_run",
            BadRowPolicy::FailRun,
        )
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        Ok(one_bad_row_common::rows(date))
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(OneBadRowFailsRun);
