//! Hostile test fixture `TableThief`: names `VersionedProcessor`'s output
//! table with its exact schema, under its own name, and returns no rows,
//! which would empty the owner's date.

use slate_sdk::{ProcessorInfo, RowSetBuilder};

fixture_common::processor! {
    TableThief,
    info: ProcessorInfo {
        name: "TableThief".into(),
        ..versioned_common::info("6.6.6")
    },
    process: |_| Ok(RowSetBuilder::new(&["day", "n", "label"]).finish()),
}
