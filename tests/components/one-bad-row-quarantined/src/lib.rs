//! Test fixture `OneBadRowQuarantined`: 199 rows with one bad row, under the
//! `Quarantine` bad-row policy, which quarantines it.

use slate_sdk::BadRowPolicy;

fixture_common::processor! {
    OneBadRowQuarantined,
    info: one_bad_row_common::info(
        "OneBadRowQuarantined",
        "one_bad_row_quarantined",
        BadRowPolicy::Quarantine,
    ),
    process: |date| Ok(one_bad_row_common::rows(date)),
}
