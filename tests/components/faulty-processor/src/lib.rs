//! Test fixture: `FaultyProcessor` misbehaves according to the analysis
//! date's day of month; see the README's Expectations.

use slate_sdk::{
    Date, FieldMode, FieldType, ProcessError, ProcessorInfo, RowSet, Scalar, Value, field, table,
};

const COLUMNS: [&str; 3] = ["day", "n", "loaded_at"];

fn rows(date: Date, count: i64, loaded_at: Value) -> RowSet {
    fixture_common::numbered_rows(date, count, &COLUMNS, &[loaded_at])
}

fixture_common::processor! {
    FaultyProcessor,
    info: {
        let loaded_at = field(
            "loaded_at",
            FieldType::Timestamp,
            FieldMode::Nullable,
            "Load time.",
        );
        ProcessorInfo {
            inputs: vec![table("nba_raw.schedule")],
            ..fixture_common::info(
                "FaultyProcessor",
                "slate_test.faulty",
                fixture_common::numbered_schema([loaded_at]),
            )
        }
    },
    process: |date| {
        let timestamp = Value::Scalar(Scalar::Timestamp(1_767_225_600_000_000));
        match date.day {
            1 => Ok(rows(date, 2, timestamp)),
            2 => Err(ProcessError::Internal("deliberate failure".into())),
            3 => {
                let read = slate_sdk::read_rows(&table("nba_raw.schedule"), date, date);
                panic!(
                    "deliberate panic after reading {} rows",
                    read.map(|r| r.rows.len()).unwrap_or(0)
                );
            }
            4 => {
                let undeclared =
                    slate_sdk::read_rows(&table("nba_raw.player_boxscores"), date, date);
                let unknown_column = slate_sdk::read_columns(
                    &table("nba_raw.schedule"),
                    date,
                    date,
                    &["game_date", "no_such_column"],
                );
                match (undeclared, unknown_column) {
                    (Err(undeclared), Err(unknown_column)) => Err(ProcessError::Internal(
                        format!("{undeclared:?}; {unknown_column:?}"),
                    )),
                    _ => Err(ProcessError::Internal("a bad read succeeded".into())),
                }
            }
            5 => Ok(rows(date, 3, Value::int64(1_700_000_000))),
            _ => Ok(rows(date, 1, timestamp)),
        }
    },
}
