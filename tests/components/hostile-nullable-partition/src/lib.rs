//! Hostile test fixture `NullablePartition`: declares its partition column
//! NULLABLE and returns rows whose date is NULL, which no rerun of any date
//! would ever replace.

use slate_sdk::{FieldMode, RowSetBuilder, Value};

fixture_common::processor! {
    NullablePartition,
    info: {
        let mut info = hostile_common::info("NullablePartition", "hostile_nullable_partition");
        info.schema[0].mode = FieldMode::Nullable;
        info
    },
    process: |_| {
        let mut rows = RowSetBuilder::new(&hostile_common::COLUMNS);
        for n in 0..3 {
            rows.push(vec![Value::Null, Value::int64(n)]);
        }
        Ok(rows.finish())
    },
}
