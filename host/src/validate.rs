//! Checks output rows against a table schema before anything is written.
//!
//! Every problem is collected, not just the first. Each names the row index,
//! the row's key columns, the field, the expected type and the offending
//! value, so "Rows: 1; errors: 1" can never be the whole story.
//!
//! STRING values are valid UTF-8 by construction: the component model
//! checks every string that crosses the boundary.

use std::collections::BTreeSet;
use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use crate::rows::{
    RowSet, Scalar, Value, describe_value, naive_date, scalar_type_name, timestamp_text,
};
use crate::schema::{Column, ColumnMode, ColumnType, TableSchema};

/// One problem with one field of one row (or with the row set's columns).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    /// The row's index in the output, or `None` for a problem with the columns.
    pub row_index: Option<usize>,
    /// The row's key columns and values, e.g. `player_lookup="a", game_date=2026-01-11`.
    pub row_key: String,
    /// The field concerned.
    pub field: String,
    /// What the schema expects, e.g. `REQUIRED TIMESTAMP`.
    pub expected: String,
    /// The offending value, e.g. `INT64 1700000000`.
    pub value: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.row_index {
            Some(i) => write!(f, "row {i}")?,
            None => write!(f, "all rows")?,
        }
        if !self.row_key.is_empty() {
            write!(f, " ({})", self.row_key)?;
        }
        write!(
            f,
            ": field `{}` expected {}, got {}: {}",
            self.field, self.expected, self.value, self.problem
        )
    }
}

/// All validation problems of one row set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ValidationReport {
    /// Every problem found, in row order.
    pub errors: Vec<FieldError>,
    /// The indexes of rows with at least one problem.
    pub bad_rows: BTreeSet<usize>,
    /// Rows checked.
    pub rows_checked: usize,
}

impl ValidationReport {
    /// Whether every row is valid.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// A summary with the first `limit` errors, for a run's error message.
    pub fn summary(&self, limit: usize) -> String {
        let mut text = format!(
            "{} of {} rows failed validation with {} errors",
            self.bad_rows.len().max(usize::from(
                !self.errors.is_empty() && self.bad_rows.is_empty()
            )),
            self.rows_checked,
            self.errors.len()
        );
        for error in self.errors.iter().take(limit) {
            text.push_str("\n  ");
            text.push_str(&error.to_string());
        }
        if self.errors.len() > limit {
            text.push_str(&format!("\n  ... and {} more", self.errors.len() - limit));
        }
        text
    }
}

/// Validates `rows` against `schema`; the partition column must hold `date`.
pub fn validate(rows: &RowSet, schema: &TableSchema, date: NaiveDate) -> ValidationReport {
    let mut report = ValidationReport {
        rows_checked: rows.rows.len(),
        ..Default::default()
    };
    let column_error = |field: &str, expected: String, problem: &str| FieldError {
        row_index: None,
        row_key: String::new(),
        field: field.to_string(),
        expected,
        value: "(no column)".to_string(),
        problem: problem.to_string(),
    };
    // Shape: map the row set's columns onto the schema.
    let mut positions: Vec<Option<&Column>> = Vec::with_capacity(rows.columns.len());
    for (i, name) in rows.columns.iter().enumerate() {
        let column = schema.columns.iter().find(|c| &c.name == name);
        if column.is_none() {
            report.errors.push(column_error(
                name,
                "no such field".into(),
                "the field is not in the schema",
            ));
        } else if rows.columns[..i].contains(name) {
            report.errors.push(column_error(
                name,
                "one column".into(),
                "the column is given twice",
            ));
        }
        positions.push(column);
    }
    for column in &schema.columns {
        if !rows.columns.contains(&column.name) {
            report.errors.push(column_error(
                &column.name,
                format!("{} {}", column.mode, column.column_type),
                "the field is missing from the rows",
            ));
        }
    }
    let key_positions: Vec<(usize, &str)> = schema
        .key_columns
        .iter()
        .chain(std::iter::once(&schema.partition_column))
        .filter_map(|k| {
            rows.columns
                .iter()
                .position(|c| c == k)
                .map(|p| (p, k.as_str()))
        })
        .collect();
    let partition = rows
        .columns
        .iter()
        .position(|c| c == &schema.partition_column);

    for (index, row) in rows.rows.iter().enumerate() {
        let mut row_errors = Vec::new();
        if row.len() != rows.columns.len() {
            row_errors.push((
                "(row)".to_string(),
                format!("{} values", rows.columns.len()),
                format!("{} values", row.len()),
                "the row has a different number of values than there are columns".to_string(),
            ));
        }
        for (value, column) in row.iter().zip(&positions) {
            let Some(column) = column else { continue };
            if let Some(problem) = check_value(value, column) {
                row_errors.push((
                    column.name.clone(),
                    format!("{} {}", column.mode, column.column_type),
                    describe_value(value),
                    problem,
                ));
            }
        }
        if let Some(p) = partition
            && let Some(Value::Scalar(Scalar::Date(d))) = row.get(p)
            && naive_date(*d).is_some_and(|d| d != date)
        {
            row_errors.push((
                schema.partition_column.clone(),
                format!("DATE {date}"),
                describe_value(&row[p]),
                format!("the partition column must equal the run's date {date}"),
            ));
        }
        if !row_errors.is_empty() {
            report.bad_rows.insert(index);
            let row_key = key_positions
                .iter()
                .filter_map(|(p, name)| {
                    row.get(*p)
                        .map(|v| format!("{name}={}", crate::rows::value_json(v)))
                })
                .collect::<Vec<_>>()
                .join(", ");
            for (field, expected, value, problem) in row_errors {
                report.errors.push(FieldError {
                    row_index: Some(index),
                    row_key: row_key.clone(),
                    field,
                    expected,
                    value,
                    problem,
                });
            }
        }
    }
    report
}

/// The problem with one cell, if any.
fn check_value(value: &Value, column: &Column) -> Option<String> {
    match (value, column.mode) {
        (Value::Null, ColumnMode::Nullable) => None,
        (Value::Null, ColumnMode::Required) => Some("a REQUIRED field is null".into()),
        (Value::Null, ColumnMode::Repeated) => {
            Some("a REPEATED field must be a list (possibly empty), not null".into())
        }
        (Value::Scalar(_), ColumnMode::Repeated) => {
            Some("a REPEATED field must be a list, not a single value".into())
        }
        (Value::Repeated(_), ColumnMode::Nullable | ColumnMode::Required) => Some(format!(
            "a {} field takes one value, not a list",
            column.mode
        )),
        (Value::Scalar(s), _) => check_scalar(s, column),
        (Value::Repeated(items), ColumnMode::Repeated) => items
            .iter()
            .enumerate()
            .find_map(|(i, s)| check_scalar(s, column).map(|p| format!("list item {i}: {p}"))),
    }
}

fn check_scalar(scalar: &Scalar, column: &Column) -> Option<String> {
    let type_matches = matches!(
        (scalar, column.column_type),
        (Scalar::String(_), ColumnType::String)
            | (Scalar::Int64(_), ColumnType::Int64)
            | (Scalar::Float64(_), ColumnType::Float64)
            | (Scalar::Numeric(_), ColumnType::Numeric)
            | (Scalar::Boolean(_), ColumnType::Bool)
            | (Scalar::Date(_), ColumnType::Date)
            | (Scalar::Timestamp(_), ColumnType::Timestamp)
            | (Scalar::Json(_), ColumnType::Json)
    );
    if !type_matches {
        return Some(format!(
            "a {} value cannot go into a {} column",
            scalar_type_name(scalar),
            column.column_type
        ));
    }
    match scalar {
        Scalar::Float64(v) if !v.is_finite() && !column.allow_non_finite => Some(format!(
            "{v} is not allowed: the field does not accept NaN or infinity"
        )),
        Scalar::Numeric(text) => numeric_problem(text),
        Scalar::Date(d) => match naive_date(*d) {
            None => Some(format!(
                "{:04}-{:02}-{:02} is not a calendar date",
                d.year, d.month, d.day
            )),
            Some(_) if !(1..=9999).contains(&d.year) => {
                Some(format!("year {} is outside 0001 to 9999", d.year))
            }
            Some(_) => None,
        },
        Scalar::Timestamp(micros) if timestamp_text(*micros).is_none() => Some(format!(
            "{micros} microseconds is outside 0001-01-01 to 9999-12-31"
        )),
        Scalar::Json(text) => serde_json::from_str::<serde::de::IgnoredAny>(text)
            .err()
            .map(|e| format!("not valid JSON: {e}")),
        _ => None,
    }
}

/// NUMERIC is a decimal with at most 38 digits, at most 9 after the point.
fn numeric_problem(text: &str) -> Option<String> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Some(format!("`{text}` is not a decimal number"));
    }
    if fraction.len() > 9 {
        return Some(format!(
            "`{text}` has {} digits after the point; NUMERIC allows 9",
            fraction.len()
        ));
    }
    let significant = whole.trim_start_matches('0').len();
    if significant > 29 {
        return Some(format!(
            "`{text}` has {significant} digits before the point; NUMERIC allows 29"
        ));
    }
    None
}
