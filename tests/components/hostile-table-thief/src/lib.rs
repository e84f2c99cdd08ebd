//! Hostile test fixture `TableThief`: names `VersionedProcessor`'s output
//! table with its exact schema, under its own name, and returns no rows,
//! which would empty the owner's date.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet, RowSetBuilder};

/// The hostile processor.
pub struct TableThief;

impl Guest for TableThief {
    fn info() -> ProcessorInfo {
        ProcessorInfo {
            name: "TableThief".into(),
            ..versioned_common::info("6.6.6")
        }
    }

    fn process(_: Date) -> Result<RowSet, ProcessError> {
        Ok(RowSetBuilder::new(&["day", "n", "label"]).finish())
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(TableThief);
