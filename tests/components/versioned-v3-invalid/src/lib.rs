//! Test fixture: an invalid version of `VersionedProcessor`, whose partition
//! column is not in its schema; see the README's Expectations.

use slate_sdk::ProcessorInfo;

fixture_common::processor! {
    VersionedProcessor,
    info: ProcessorInfo {
        partition_column: "no_such_column".into(),
        ..versioned_common::info("3.0.0")
    },
    process: |date| Ok(versioned_common::rows(date, 1, "v3-invalid")),
}
