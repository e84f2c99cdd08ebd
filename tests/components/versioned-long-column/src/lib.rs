//! Test fixture: a version of `VersionedProcessor` that adds a NULLABLE
//! column whose name is 64 bytes, one more than PostgreSQL keeps; see the
//! README's Expectations.

use slate_sdk::{FieldMode, FieldType, Value, field};

/// The added column: 64 bytes.
const LONG_COLUMN: &str = "a_column_name_of_sixty_four_bytes_one_more_than_postgresql_keeps";

fixture_common::processor! {
    VersionedProcessor,
    info: {
        let mut info = versioned_common::info("5.0.0");
        info.schema.push(field(
            LONG_COLUMN,
            FieldType::Int64,
            FieldMode::Nullable,
            "A column PostgreSQL would cut short.",
        ));
        info
    },
    process: |date| Ok(fixture_common::numbered_rows(
        date,
        1,
        &["day", "n", "label", LONG_COLUMN],
        &[Value::string("long-column"), Value::Null],
    )),
}
