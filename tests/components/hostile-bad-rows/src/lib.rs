//! Hostile test fixture `HostileBadRows`: returns rows that violate its schema.

use slate_sdk::{Scalar, Value};

fixture_common::processor! {
    HostileBadRows,
    info: hostile_common::info("HostileBadRows", "hostile_bad_rows"),
    process: |date| {
        let mut rows = hostile_common::rows(date, 3);
        rows.rows[1][1] = Value::Scalar(Scalar::Timestamp(1_700_000_000));
        rows.rows[2][1] = Value::Null;
        Ok(rows)
    },
}
