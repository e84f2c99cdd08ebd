//! Test fixture: version v2 of `VersionedProcessor`, three rows labelled
//! `v2`; see the README's Expectations.

fixture_common::processor! {
    VersionedProcessor,
    info: versioned_common::info("2.0.0"),
    process: |date| Ok(versioned_common::rows(date, 3, "v2")),
}
