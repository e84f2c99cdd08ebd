//! Test fixture `OneBadRowFailsRun`: 199 rows with one bad row, under the
//! `FailRun` bad-row policy, which fails the run.

use slate_sdk::BadRowPolicy;

fixture_common::processor! {
    OneBadRowFailsRun,
    info: one_bad_row_common::info(
        "OneBadRowFailsRun",
        "one_bad_row_fails_run",
        BadRowPolicy::FailRun,
    ),
    process: |date| Ok(one_bad_row_common::rows(date)),
}
