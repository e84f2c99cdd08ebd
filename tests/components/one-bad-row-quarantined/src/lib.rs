//! Test fixture `OneBadRowQuarantined`: 199 rows with one bad row, under the
//! `Quarantine` bad-row policy, which quarantines it.

use slate_sdk::{BadRowPolicy, Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The fixture processor.
pub struct OneBadRowQuarantined;

impl Guest for OneBadRowQuarantined {
    fn info() -> ProcessorInfo {
        one_bad_row_common::info(
            "OneBadRowQuarantined",
            "one_bad_row_quarantined",
            BadRowPolicy::Quarantine,
        )
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        Ok(one_bad_row_common::rows(date))
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(OneBadRowQuarantined);
