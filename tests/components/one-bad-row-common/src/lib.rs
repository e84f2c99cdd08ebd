//! What the one-bad-row fixtures share: 199 rows for a date, of which one
//! puts an INT64 into its TIMESTAMP field, as the source pipeline once did
//! with `circuit_breaker_until`. The two fixtures differ only in their
//! bad-row policy.

use slate_sdk::{
    BadRowPolicy, Date, FieldMode, FieldType, ProcessorInfo, RowSet, RowSetBuilder, Scalar, Value,
    field,
};

/// Rows returned for every date.
pub const ROWS: i64 = 199;

/// The index of the bad row, on every date but the first of a month.
pub const BAD_ROW: usize = 137;

/// `info` for a fixture named `name` writing `slate_test.<table_name>`.
pub fn info(name: &str, table_name: &str, bad_row_policy: BadRowPolicy) -> ProcessorInfo {
    let schema = vec![
        field(
            "game_date",
            FieldType::Date,
            FieldMode::Required,
            "The analysis date.",
        ),
        field(
            "player_lookup",
            FieldType::String,
            FieldMode::Required,
            "The player.",
        ),
        field("points", FieldType::Int64, FieldMode::Required, "Points."),
        field(
            "circuit_breaker_until",
            FieldType::Timestamp,
            FieldMode::Nullable,
            "Until when the player's circuit breaker is open.",
        ),
    ];
    ProcessorInfo {
        partition_column: "game_date".into(),
        key_columns: vec!["player_lookup".into()],
        bad_row_policy,
        ..fixture_common::info(name, &format!("slate_test.{table_name}"), schema)
    }
}

/// [`ROWS`] rows for `date`; on every day but the first of a month, row
/// [`BAD_ROW`] has the INT64 `1700000000` in `circuit_breaker_until`, and
/// on the 20th every row but the first: more than a run's detail lists.
pub fn rows(date: Date) -> RowSet {
    let mut rows = RowSetBuilder::new(&[
        "game_date",
        "player_lookup",
        "points",
        "circuit_breaker_until",
    ]);
    for n in 0..ROWS {
        let bad = match date.day {
            1 => false,
            20 => n > 0,
            _ => n as usize == BAD_ROW,
        };
        let breaker = if bad {
            Value::int64(1_700_000_000)
        } else {
            Value::Scalar(Scalar::Timestamp(1_767_225_600_000_000 + n))
        };
        rows.push(vec![
            Value::date(date),
            Value::string(format!("player_{n:03}")),
            Value::int64(n % 40),
            breaker,
        ]);
    }
    rows.finish()
}
