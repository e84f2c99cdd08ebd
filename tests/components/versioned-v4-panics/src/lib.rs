//! Test fixture: version v4 of `VersionedProcessor`, whose `process`
//! panics; see the README's Expectations.

fixture_common::processor! {
    VersionedProcessor,
    info: versioned_common::info("4.0.0"),
    process: |_date| panic!("versioned v4 always panics"),
}
