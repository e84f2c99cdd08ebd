//! Hostile test fixture `HostileBadRows`: returns rows that violate its schema.

use slate_sdk::{Date, Guest, ProcessError, ProcessorInfo, RowSet};

/// The hostile processor.
pub struct HostileBadRows;

impl Guest for HostileBadRows {
    fn info() -> ProcessorInfo {
        hostile_common::info("HostileBadRows", "hostile_bad_rows")
    }

    fn process(date: Date) -> Result<RowSet, ProcessError> {
        use slate_sdk::{Scalar, Value};
        let mut rows = hostile_common::rows(date, 3);
        rows.rows[1][1] = Value::Scalar(Scalar::Timestamp(1_700_000_000));
        rows.rows[2][1] = Value::Null;
        Ok(rows)
    }
}

#[cfg(target_arch = "wasm32")]
slate_sdk::export!(HostileBadRows);
