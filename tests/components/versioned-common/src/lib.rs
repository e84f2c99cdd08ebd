//! What every version of the `VersionedProcessor` fixture shares: its
//! `info` and its rows. Each version crate is this plus what makes it that
//! version (a version string, a row count and label, or a defect).

use slate_sdk::{Date, FieldMode, FieldType, ProcessorInfo, RowSet, Value, field};

/// A valid `info` of `VersionedProcessor` at `version`.
pub fn info(version: &str) -> ProcessorInfo {
    let label = field(
        "label",
        FieldType::String,
        FieldMode::Required,
        "The version that wrote the row.",
    );
    ProcessorInfo {
        version: version.into(),
        ..fixture_common::info(
            "VersionedProcessor",
            "slate_test.versioned",
            fixture_common::numbered_schema([label]),
        )
    }
}

/// `count` rows for `date`, each labelled with the version that wrote it.
pub fn rows(date: Date, count: i64, label: &str) -> RowSet {
    fixture_common::numbered_rows(date, count, &["day", "n", "label"], &[Value::string(label)])
}
