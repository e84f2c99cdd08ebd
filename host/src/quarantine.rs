//! The `quarantine` bad-row policy: good rows load, bad rows are kept aside.
//!
//! A processor whose policy is `quarantine` does not lose a whole date to one
//! malformed row. The host splits the validated output into the rows that
//! load and the rows that go to the quarantine table, each with its field
//! errors and the raw row as JSON, so nothing is lost and nothing is
//! half-written: both land in the same commit as the run's success.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::rows::{RowSet, Value, value_json_text};
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
    /// 0; a JSON cell exactly as written.
    pub raw_row: RawRow,
}

/// A bad row as a JSON object's text, kept as it was made: each JSON cell
/// as the processor wrote it, where parsed and written again a number past
/// a double's precision would be rounded and keys reordered. It goes into
/// JSON output as that object, not as a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRow(String);

impl RawRow {
    /// The row `columns` name, `values` holding them in order and perhaps
    /// more, each past the last column under `(extra value N)`.
    pub fn of(columns: &[String], values: &[Value]) -> Self {
        let mut text = String::from("{");
        let extra = (columns.len()..values.len()).map(|at| format!("(extra value {at})"));
        let names = columns.iter().cloned().chain(extra);
        for (at, (name, value)) in names.zip(values).enumerate() {
            if at > 0 {
                text.push(',');
            }
            text.push_str(&serde_json::Value::String(name).to_string());
            text.push(':');
            text.push_str(&value_json_text(value));
        }
        text.push('}');
        RawRow(text)
    }

    /// A row as stored: refused unless it is JSON.
    pub fn from_stored(text: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<serde::de::IgnoredAny>(&text)?;
        Ok(RawRow(text))
    }

    /// The JSON text, to store or print.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The row parsed, to read a cell from (lossy as parsing is: for the
    /// exact cells, read [`RawRow::as_str`]).
    pub fn parsed(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

impl std::fmt::Display for RawRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RawRow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawRow {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        Ok(RawRow(raw.get().to_string()))
    }
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
    /// The row as a JSON object, each JSON cell as written.
    pub raw_row: RawRow,
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
        // Values past the last column are kept too, by position: the row
        // is set aside for what it is, nothing of it dropped.
        let raw_row = RawRow::of(&columns, &row);
        bad.push(QuarantinedRow {
            row_index: index,
            errors: report
                .errors
                .iter()
                .filter(|e| e.row_index == Some(index))
                .cloned()
                .collect(),
            raw_row,
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
            bad[0].raw_row.as_str(),
            r#"{"player_lookup":"b","game_date":"2026-01-11","points":null}"#
        );
    }

    /// Before, the raw row held each JSON cell parsed: a number past a
    /// double's precision came back rounded, keys sorted, a duplicate key
    /// dropped. The row's errors quoted it as written; now so does the row.
    #[test]
    fn a_raw_row_keeps_each_json_cell_as_written_in_the_column_order() {
        let exact = r#"{"z": 1, "a": 123456789012345678901234567890, "z": 2}"#;
        let columns = vec![
            "player_lookup".to_string(),
            "detail".to_string(),
            "tags".to_string(),
        ];
        let values = vec![
            Value::Scalar(Scalar::String("b".into())),
            Value::Scalar(Scalar::Json(exact.into())),
            Value::Repeated(vec![
                Scalar::Json("1.50".into()),
                Scalar::Json("\"x\"".into()),
            ]),
        ];

        let raw = RawRow::of(&columns, &values);

        assert_eq!(
            raw.as_str(),
            format!(r#"{{"player_lookup":"b","detail":{exact},"tags":[1.50,"x"]}}"#)
        );
        // Into JSON output as the object, not a string, and back the same.
        let written = serde_json::to_string(&Holder {
            raw_row: raw.clone(),
        })
        .unwrap();
        assert_eq!(written, format!(r#"{{"raw_row":{}}}"#, raw.as_str()));
        let read: Holder = serde_json::from_str(&written).unwrap();
        assert_eq!(read.raw_row, raw);
        assert!(RawRow::from_stored("{not json".into()).is_err());
    }

    #[derive(Serialize, Deserialize)]
    struct Holder {
        raw_row: RawRow,
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
            bad[0].raw_row.parsed(),
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
