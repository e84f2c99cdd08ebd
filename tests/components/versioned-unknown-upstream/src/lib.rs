//! Test fixture: a version of `VersionedProcessor` that depends on a
//! processor nobody has; see the README's Expectations.

use slate_sdk::ProcessorInfo;

fixture_common::processor! {
    VersionedProcessor,
    info: ProcessorInfo {
        upstream: vec!["NoSuchProcessor".into()],
        ..versioned_common::info("4.0.0")
    },
    process: |date| Ok(versioned_common::rows(date, 1, "unknown-upstream")),
}
