//! The `quarantine` bad-row policy: good rows load, bad rows are kept aside.
//!
//! A processor whose policy is `quarantine` does not lose a whole date to one
//! malformed row. The host splits the validated output into the rows that
//! load and the rows that go to the quarantine table, each with its field
//! errors and the raw row as JSON, so nothing is lost and nothing is
//! half-written: both land in the same commit as the run's success.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::rows::{RowSet, value_json};
use crate::validate::{FieldError, ValidationReport};

/// One bad row taken out of a run's output.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantinedRow {
    /// The row's index in the processor's output.
    pub row_index: usize,
    /// Every problem found in the row.
    pub errors: Vec<FieldError>,
    /// The row as a JSON object, column by column, as returned: a value
    /// past the last column under `(extra value N)`, N its position from
    /// 0; a JSON cell as its parsed JSON, which the row's errors quote as
    /// written.
    pub raw_row: serde_json::Value,
}

/// A quarantined row as stored, with the run it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// The run that produced the row.
    pub run_id: String,
    /// The processor.
    pub processor: String,
    /// The run's date.
    pub data_date: NaiveDate,
    /// The output table the row was meant for, `dataset.table`.
    pub table_name: String,
    /// The row's index in the processor's output.
    pub row_index: u64,
    /// Every problem found in the row.
    pub errors: Vec<FieldError>,
    /// The row as a JSON object.
    pub raw_row: serde_json::Value,
    /// When the run committed.
    pub quarantined_at: DateTime<Utc>,
}

/// Splits validated `rows` into the rows that load and the bad rows of
/// `report`. Returns `None` when the problem is with the columns rather
/// than with rows (a missing or unknown field): that fails every row, and
/// the run fails instead.
pub fn split(rows: RowSet, report: &ValidationReport) -> Option<(RowSet, Vec<QuarantinedRow>)> {
    if report.errors.iter().any(|e| e.row_index.is_none()) {
        return None;
    }
    let RowSet { columns, rows } = rows;
    let mut good = Vec::with_capacity(rows.len() - report.bad_rows.len());
    let mut bad = Vec::with_capacity(report.bad_rows.len());
    for (index, row) in rows.into_iter().enumerate() {
        if !report.bad_rows.contains(&index) {
            good.push(row);
            continue;
        }
        let mut raw_row = columns
            .iter()
            .zip(&row)
            .map(|(column, value)| (column.clone(), value_json(value)))
            .collect::<serde_json::Map<_, _>>();
        // Values past the last column are kept too, by position: the row
        // is set aside for what it is, nothing of it dropped.
        for (position, value) in row.iter().enumerate().skip(columns.len()) {
            raw_row.insert(format!("(extra value {position})"), value_json(value));
        }
        bad.push(QuarantinedRow {
            row_index: index,
            errors: report
                .errors
                .iter()
                .filter(|e| e.row_index == Some(index))
                .cloned()
                .collect(),
            raw_row: serde_json::Value::Object(raw_row),
        });
    }
    Some((
        RowSet {
            columns,
            rows: good,
        },
        bad,
    ))
}

/// The note on a committed run: the rows it wrote, and those it set
/// aside ([`quarantine_note`]).
pub fn commit_reason(written: usize, quarantined: usize, run_id: &str) -> String {
    format!(
        "committed {written} {}{}",
        rows_noun(written),
        quarantine_note(quarantined, run_id)
    )
}

/// What a committed run's note adds for the rows it quarantined: nothing
/// for none.
pub fn quarantine_note(quarantined: usize, run_id: &str) -> String {
    match quarantined {
        0 => String::new(),
        n => format!(
            "; quarantined {n} bad {} (see `slate quarantine --run {run_id}`)",
            rows_noun(n)
        ),
    }
}

/// "row" or "rows", for `n` of them.
pub fn rows_noun(n: usize) -> &'static str {
    if n == 1 { "row" } else { "rows" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::{Scalar, Value};
    use crate::schema::{Column, ColumnMode, ColumnType, TableSchema};
    use crate::validate::validate;

    fn schema() -> TableSchema {
        TableSchema {
            columns: vec![
                Column::new("player_lookup", ColumnType::String, ColumnMode::Required),
                Column::new("game_date", ColumnType::Date, ColumnMode::Required),
                Column::new("points", ColumnType::Int64, ColumnMode::Required),
            ],
            partition_column: "game_date".into(),
            key_columns: vec!["player_lookup".into()],
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 11).unwrap()
    }

    fn row(player: &str, points: Value) -> Vec<Value> {
        vec![
            Value::Scalar(Scalar::String(player.into())),
            Value::Scalar(Scalar::Date(crate::rows::wit_date(day()))),
            points,
        ]
    }

    fn columns() -> Vec<String> {
        schema().column_names()
    }

    #[test]
    fn bad_rows_are_taken_out_with_their_errors_and_raw_json() {
        let rows = RowSet {
            columns: columns(),
            rows: vec![
                row("a", Value::Scalar(Scalar::Int64(10))),
                row("b", Value::Null),
                row("c", Value::Scalar(Scalar::Int64(7))),
            ],
        };
        let report = validate(&rows, &schema(), day());
        let (good, bad) = split(rows, &report).unwrap();
        assert_eq!(good.rows.len(), 2);
        assert_eq!(good.rows[1][0], Value::Scalar(Scalar::String("c".into())));
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].row_index, 1);
        assert_eq!(bad[0].errors.len(), 1);
        assert_eq!(bad[0].errors[0].field, "points");
        assert_eq!(
            bad[0].raw_row,
            serde_json::json!({"player_lookup": "b", "game_date": "2026-01-11", "points": null})
        );
    }

    /// Before, a row longer than the columns lost its extra values here.
    #[test]
    fn a_row_with_more_values_than_columns_is_set_aside_whole() {
        let mut long = row("a", Value::Scalar(Scalar::Int64(10)));
        long.push(Value::Scalar(Scalar::String("stray".into())));
        let rows = RowSet {
            columns: columns(),
            rows: vec![long],
        };
        let report = validate(&rows, &schema(), day());
        let (_, bad) = split(rows, &report).unwrap();
        assert_eq!(
            bad[0].raw_row,
            serde_json::json!({
                "player_lookup": "a", "game_date": "2026-01-11", "points": 10,
                "(extra value 3)": "stray"
            })
        );
    }

    #[test]
    fn a_missing_column_cannot_be_quarantined_row_by_row() {
        let rows = RowSet {
            columns: vec!["player_lookup".into(), "game_date".into()],
            rows: vec![vec![
                Value::Scalar(Scalar::String("a".into())),
                Value::Scalar(Scalar::Date(crate::rows::wit_date(day()))),
            ]],
        };
        let report = validate(&rows, &schema(), day());
        assert!(split(rows, &report).is_none());
    }
}
