//! Row-level differences between two outputs of one processor for the
//! same dates, matched by the table's key: what a new version would change
//! in the live table before it replaces the old one.
//!
//! [`diff`] is a pure function of two row sets and their schemas:
//! - rows only in the live output, rows only in the new one, and rows
//!   whose values differ in a column both have;
//! - per column: how many rows changed, for numbers the largest and the
//!   mean absolute difference, and the first [`EXAMPLES`] keys with their
//!   old and new values;
//! - the schema's differences: columns added, removed or retyped. A
//!   retyped column's values are compared as they are, so each row whose
//!   value changed type counts as changed.
//!
//! Knows nothing of stores, shadows or HTTP.

use std::collections::HashMap;

use serde::Serialize;

use crate::rows::{RowSet, Scalar, Value, value_json};
use crate::schema::{Column, TableSchema};

/// How many example keys each list keeps.
pub const EXAMPLES: usize = 3;

/// A row's key: its key columns' values, as JSON, in the schema's order.
pub type Key = Vec<serde_json::Value>;

/// One changed value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The row's key.
    pub key: Key,
    /// The live value.
    pub old: serde_json::Value,
    /// The new value.
    pub new: serde_json::Value,
}

/// What changed in one column both outputs have.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDiff {
    /// The column.
    pub column: String,
    /// Rows matched by key whose value in it differs.
    pub rows_changed: u64,
    /// For numbers: the largest absolute difference among the changed
    /// rows where both values are numbers.
    pub max_abs_diff: Option<f64>,
    /// For numbers: the mean absolute difference over those rows.
    pub mean_abs_diff: Option<f64>,
    /// The first changed rows, in key order.
    pub examples: Vec<Change>,
}

/// A column whose type or mode differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retyped {
    /// The live column.
    pub old: Column,
    /// The new column.
    pub new: Column,
}

/// How the new output's schema differs from the live one.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SchemaDiff {
    /// Columns only the new output has.
    pub added: Vec<Column>,
    /// Columns only the live output has.
    pub removed: Vec<Column>,
    /// Columns both have, with another type or mode.
    pub retyped: Vec<Retyped>,
}

impl SchemaDiff {
    /// Whether the schemas have the same columns, types and modes.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.retyped.is_empty()
    }
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableDiff {
    /// Rows compared in the live output.
    pub live_rows: u64,
    /// Rows compared in the new output.
    pub new_rows: u64,
    /// Rows whose key only the live output has.
    pub only_in_live: u64,
    /// The first of them, in key order.
    pub only_in_live_examples: Vec<Key>,
    /// Rows whose key only the new output has.
    pub only_in_new: u64,
    /// The first of them, in key order.
    pub only_in_new_examples: Vec<Key>,
    /// Rows in both whose values differ in at least one shared column.
    pub changed: u64,
    /// Rows in both with the same values in every shared column.
    pub unchanged: u64,
    /// Per shared column with a change, in the live schema's order.
    pub columns: Vec<ColumnDiff>,
    /// How the schemas differ.
    pub schema: SchemaDiff,
}

/// Compares `new` (with its schema) against `live`, matching rows by the
/// live schema's key columns and its partition column (a key need not
/// name the date, but rows of two dates are never the same row).
pub fn diff(
    live: &RowSet,
    live_schema: &TableSchema,
    new: &RowSet,
    new_schema: &TableSchema,
) -> TableDiff {
    let schema = schema_diff(live_schema, new_schema);
    let mut key_columns = live_schema.key_columns.clone();
    if !key_columns.contains(&live_schema.partition_column) {
        key_columns.push(live_schema.partition_column.clone());
    }
    let live_rows = keyed(live, &key_columns);
    let new_rows = keyed(new, &key_columns);

    let mut only_in_live: Vec<&Key> = live_rows
        .keys()
        .filter(|k| !new_rows.contains_key(*k))
        .collect();
    let mut only_in_new: Vec<&Key> = new_rows
        .keys()
        .filter(|k| !live_rows.contains_key(*k))
        .collect();
    only_in_live.sort_by(|a, b| key_order(a, b));
    only_in_new.sort_by(|a, b| key_order(a, b));
    let mut shared: Vec<&Key> = live_rows
        .keys()
        .filter(|k| new_rows.contains_key(*k))
        .collect();
    shared.sort_by(|a, b| key_order(a, b));

    let compared: Vec<(&str, usize, usize)> = live_schema
        .columns
        .iter()
        .filter_map(|c| {
            let in_live = live.columns.iter().position(|n| *n == c.name)?;
            let in_new = new.columns.iter().position(|n| *n == c.name)?;
            Some((c.name.as_str(), in_live, in_new))
        })
        .collect();
    let mut tallies: Vec<Tally> = compared.iter().map(|_| Tally::default()).collect();
    let mut changed = 0;
    for key in &shared {
        let (old_row, new_row) = (live_rows[*key], new_rows[*key]);
        let mut row_changed = false;
        for ((_, in_live, in_new), tally) in compared.iter().zip(&mut tallies) {
            let (old, new) = (&old_row[*in_live], &new_row[*in_new]);
            if old != new {
                row_changed = true;
                tally.add(key, old, new);
            }
        }
        changed += u64::from(row_changed);
    }
    TableDiff {
        live_rows: live.rows.len() as u64,
        new_rows: new.rows.len() as u64,
        only_in_live: only_in_live.len() as u64,
        only_in_live_examples: only_in_live
            .iter()
            .take(EXAMPLES)
            .map(|k| (*k).clone())
            .collect(),
        only_in_new: only_in_new.len() as u64,
        only_in_new_examples: only_in_new
            .iter()
            .take(EXAMPLES)
            .map(|k| (*k).clone())
            .collect(),
        changed,
        unchanged: shared.len() as u64 - changed,
        columns: compared
            .iter()
            .zip(tallies)
            .filter(|(_, tally)| tally.rows_changed > 0)
            .map(|((name, _, _), tally)| tally.finish(name))
            .collect(),
        schema,
    }
}

/// Each row of `rows` by its key. A key given twice keeps its first row:
/// validation refuses duplicate keys before anything is written.
fn keyed<'a>(rows: &'a RowSet, key_columns: &[String]) -> HashMap<Key, &'a [Value]> {
    let positions: Vec<Option<usize>> = key_columns
        .iter()
        .map(|name| rows.columns.iter().position(|c| c == name))
        .collect();
    let mut keyed = HashMap::with_capacity(rows.rows.len());
    for row in &rows.rows {
        let key: Key = positions
            .iter()
            .map(|p| p.map_or(serde_json::Value::Null, |i| value_json(&row[i])))
            .collect();
        keyed.entry(key).or_insert(row.as_slice());
    }
    keyed
}

/// Keys in a stable order: by their JSON text, column by column.
fn key_order(a: &Key, b: &Key) -> std::cmp::Ordering {
    a.iter()
        .map(ToString::to_string)
        .cmp(b.iter().map(ToString::to_string))
}

/// A cell as a number, when it is one.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Scalar(Scalar::Int64(v)) => Some(*v as f64),
        Value::Scalar(Scalar::Float64(v)) => Some(*v),
        Value::Scalar(Scalar::Numeric(text)) => text.parse().ok(),
        _ => None,
    }
}

/// One column's changes so far.
#[derive(Default)]
struct Tally {
    rows_changed: u64,
    numeric: u64,
    sum_abs_diff: f64,
    max_abs_diff: Option<f64>,
    examples: Vec<Change>,
}

impl Tally {
    fn add(&mut self, key: &Key, old: &Value, new: &Value) {
        self.rows_changed += 1;
        if let (Some(old), Some(new)) = (number(old), number(new)) {
            let difference = (new - old).abs();
            self.numeric += 1;
            self.sum_abs_diff += difference;
            self.max_abs_diff = Some(self.max_abs_diff.map_or(difference, |m| m.max(difference)));
        }
        if self.examples.len() < EXAMPLES {
            self.examples.push(Change {
                key: key.clone(),
                old: value_json(old),
                new: value_json(new),
            });
        }
    }

    fn finish(self, column: &str) -> ColumnDiff {
        ColumnDiff {
            column: column.to_string(),
            rows_changed: self.rows_changed,
            max_abs_diff: self.max_abs_diff,
            mean_abs_diff: (self.numeric > 0).then(|| self.sum_abs_diff / self.numeric as f64),
            examples: self.examples,
        }
    }
}

/// The columns added, removed and retyped from `live` to `new`.
pub fn schema_diff(live: &TableSchema, new: &TableSchema) -> SchemaDiff {
    let mut diff = SchemaDiff::default();
    for column in &live.columns {
        match new.columns.iter().find(|c| c.name == column.name) {
            None => diff.removed.push(column.clone()),
            Some(other) if other.column_type != column.column_type || other.mode != column.mode => {
                diff.retyped.push(Retyped {
                    old: column.clone(),
                    new: other.clone(),
                });
            }
            Some(_) => {}
        }
    }
    diff.added = new
        .columns
        .iter()
        .filter(|c| live.index_of(&c.name).is_none())
        .cloned()
        .collect();
    diff
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::{ColumnMode, ColumnType};

    fn schema(columns: &[(&str, ColumnType)]) -> TableSchema {
        TableSchema {
            columns: columns
                .iter()
                .map(|(name, kind)| Column::new(name, *kind, ColumnMode::Required))
                .collect(),
            partition_column: "day".into(),
            key_columns: vec!["player".into(), "day".into()],
        }
    }

    fn text(s: &str) -> Value {
        Value::Scalar(Scalar::String(s.into()))
    }

    fn float(v: f64) -> Value {
        Value::Scalar(Scalar::Float64(v))
    }

    fn int(v: i64) -> Value {
        Value::Scalar(Scalar::Int64(v))
    }

    fn day() -> Value {
        Value::Scalar(Scalar::Date(crate::rows::wit_date(
            chrono::NaiveDate::from_ymd_opt(2026, 1, 7).unwrap(),
        )))
    }

    fn rows(columns: &[&str], rows: Vec<Vec<Value>>) -> RowSet {
        RowSet {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
        }
    }

    /// v1 → v2: `points_avg` rounded differently for three players, `games`
    /// unchanged, one player dropped, one added, and a `minutes_avg` column
    /// added.
    #[test]
    fn counts_examples_and_differences_are_exact_on_a_constructed_case() {
        let live_schema = schema(&[
            ("player", ColumnType::String),
            ("day", ColumnType::Date),
            ("points_avg", ColumnType::Float64),
            ("games", ColumnType::Int64),
        ]);
        let new_schema = schema(&[
            ("player", ColumnType::String),
            ("day", ColumnType::Date),
            ("points_avg", ColumnType::Float64),
            ("games", ColumnType::Int64),
            ("minutes_avg", ColumnType::Float64),
        ]);
        let live = rows(
            &["player", "day", "points_avg", "games"],
            vec![
                vec![text("a"), day(), float(10.0), int(5)],
                vec![text("b"), day(), float(20.5), int(6)],
                vec![text("c"), day(), float(7.25), int(7)],
                vec![text("d"), day(), float(3.0), int(8)],
                vec![text("gone"), day(), float(1.0), int(1)],
            ],
        );
        let new = rows(
            &["player", "day", "points_avg", "games", "minutes_avg"],
            vec![
                vec![text("d"), day(), float(3.0), int(8), float(30.0)],
                vec![text("c"), day(), float(7.0), int(7), float(31.0)],
                vec![text("b"), day(), float(21.0), int(6), float(32.0)],
                vec![text("a"), day(), float(11.0), int(5), float(33.0)],
                vec![text("new"), day(), float(9.0), int(2), float(34.0)],
            ],
        );
        let diff = diff(&live, &live_schema, &new, &new_schema);
        assert_eq!((diff.live_rows, diff.new_rows), (5, 5));
        assert_eq!((diff.only_in_live, diff.only_in_new), (1, 1));
        assert_eq!(
            diff.only_in_live_examples,
            [vec![json!("gone"), json!("2026-01-07")]]
        );
        assert_eq!(
            diff.only_in_new_examples,
            [vec![json!("new"), json!("2026-01-07")]]
        );
        assert_eq!((diff.changed, diff.unchanged), (3, 1));
        assert_eq!(
            diff.columns.len(),
            1,
            "only points_avg changed: {:?}",
            diff.columns
        );
        let points = &diff.columns[0];
        assert_eq!(points.column, "points_avg");
        assert_eq!(points.rows_changed, 3);
        assert_eq!(points.max_abs_diff, Some(1.0));
        assert_eq!(points.mean_abs_diff, Some((1.0 + 0.5 + 0.25) / 3.0));
        assert_eq!(
            points.examples,
            [
                Change {
                    key: vec![json!("a"), json!("2026-01-07")],
                    old: json!(10.0),
                    new: json!(11.0)
                },
                Change {
                    key: vec![json!("b"), json!("2026-01-07")],
                    old: json!(20.5),
                    new: json!(21.0)
                },
                Change {
                    key: vec![json!("c"), json!("2026-01-07")],
                    old: json!(7.25),
                    new: json!(7.0)
                },
            ]
        );
        assert_eq!(
            diff.schema
                .added
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["minutes_avg"]
        );
        assert!(diff.schema.removed.is_empty() && diff.schema.retyped.is_empty());
    }

    #[test]
    fn a_retyped_column_is_reported_and_its_rows_count_as_changed_without_numbers_for_text() {
        let live_schema = schema(&[
            ("player", ColumnType::String),
            ("day", ColumnType::Date),
            ("tier", ColumnType::Int64),
            ("note", ColumnType::String),
        ]);
        let new_schema = schema(&[
            ("player", ColumnType::String),
            ("day", ColumnType::Date),
            ("tier", ColumnType::String),
        ]);
        let live = rows(
            &["player", "day", "tier", "note"],
            vec![vec![text("a"), day(), int(1), text("x")]],
        );
        let new = rows(
            &["player", "day", "tier"],
            vec![vec![text("a"), day(), text("gold")]],
        );
        let diff = diff(&live, &live_schema, &new, &new_schema);
        assert_eq!(diff.changed, 1);
        assert_eq!(diff.columns[0].column, "tier");
        assert_eq!(diff.columns[0].max_abs_diff, None, "text is not a number");
        assert_eq!(diff.columns[0].mean_abs_diff, None);
        assert_eq!(diff.schema.retyped[0].new.column_type, ColumnType::String);
        assert_eq!(diff.schema.removed[0].name, "note");
        assert!(!diff.schema.is_empty());
    }

    #[test]
    fn identical_outputs_have_no_differences() {
        let s = schema(&[("player", ColumnType::String), ("day", ColumnType::Date)]);
        let r = rows(&["player", "day"], vec![vec![text("a"), day()]]);
        let diff = diff(&r, &s, &r, &s);
        assert_eq!(
            (
                diff.changed,
                diff.unchanged,
                diff.only_in_live,
                diff.only_in_new
            ),
            (0, 1, 0, 0)
        );
        assert!(diff.columns.is_empty() && diff.schema.is_empty());
    }
}
