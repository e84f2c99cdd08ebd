//! Hostile test fixture `NullablePartition`: declares its partition column
//! NULLABLE and returns rows whose date is NULL, which no rerun of any date
//! would ever replace.

use slate_sdk::{
    Date, FieldMode, Guest, ProcessError, ProcessorInfo, RowSet, RowSetBuilder, Value,
};

/// The hostile processor.
pub struct NullablePartition;

impl Guest for NullablePartition {
    fn info() -> ProcessorInfo {
        let mut info = hostile_common::info("NullablePartition", "hostile_nullable_partition");
        info.schema[0].mode = FieldMode::Nullable;
        info
    }

    fn process(_: Date) -> Result<RowSet, ProcessError> {
        let mut rows = RowSetBuilder::new(&hostile_common::COLUMNS);
        for n in 0..3 {
            rows.push(vec![Value::Null, Value::int64(n)]);
        }
        Ok(rows.finish())
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(NullablePartition);
