//! Hostile test fixture `CaseThief`: names `VersionedProcessor`'s output
//! table in capitals, `slate_test.VERSIONED`, with its exact schema, and
//! returns no rows. SQLite takes identifiers without regard to case, so on
//! the embedded store that name is the owner's table: written, the owner's
//! date would be emptied by a processor the ownership check never matched.

use slate_sdk::{ProcessorInfo, RowSetBuilder, table};

fixture_common::processor! {
    CaseThief,
    info: ProcessorInfo {
        name: "CaseThief".into(),
        output_table: table("slate_test.VERSIONED"),
        ..versioned_common::info("6.6.6")
    },
    process: |_| Ok(RowSetBuilder::new(&["day", "n", "label"]).finish()),
}
