//! Test fixture: version v1 of `VersionedProcessor`, two rows labelled `v1`;
//! see the README's Expectations.

fixture_common::processor! {
    VersionedProcessor,
    info: versioned_common::info("1.0.0"),
    process: |date| Ok(versioned_common::rows(date, 2, "v1")),
}
