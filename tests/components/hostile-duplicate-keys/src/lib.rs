//! Hostile test fixture `HostileDuplicateKeys`: returns five rows of which
//! the last two repeat the key (`n`) of an earlier one, as a processor that
//! joins against a table with a repeated row would. Written, a date would
//! hold two rows that both claim to be the same row.

use slate_sdk::Value;

fixture_common::processor! {
    HostileDuplicateKeys,
    info: hostile_common::info("HostileDuplicateKeys", "hostile_duplicate_keys"),
    process: |date| {
        let mut rows = hostile_common::rows(date, 5);
        rows.rows[3][1] = Value::int64(1);
        rows.rows[4][1] = Value::int64(1);
        Ok(rows)
    },
}
