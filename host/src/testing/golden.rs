//! Golden files for `slate test`: output rows as NDJSON, and a readable
//! per-row, per-field diff against the expected rows.
//!
//! Rows are matched by the processor's key columns when those identify every
//! row, else by position. Numbers match within a tolerance relative to the
//! expected value (absolute below 1); everything else must be equal.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value as Json};

use crate::rows::{RowSet, row_json};

/// The rows as NDJSON, one object per line, in the row set's order.
pub fn to_ndjson(rows: &RowSet) -> String {
    let mut text = String::new();
    for row in &rows.rows {
        text.push_str(&row_json(&rows.columns, row).to_string());
        text.push('\n');
    }
    text
}

/// One difference between the expected and the actual output.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    /// A field differs in a row present in both.
    Field {
        /// The row, by key or position.
        row: String,
        /// The field.
        field: String,
        /// The expected value.
        expected: Json,
        /// The value produced.
        actual: Json,
    },
    /// An expected row was not produced.
    Missing {
        /// The row, by key or position.
        row: String,
    },
    /// A produced row was not expected.
    Unexpected {
        /// The row, by key or position.
        row: String,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Field {
                row,
                field,
                expected,
                actual,
            } => {
                write!(
                    f,
                    "{row}: field `{field}`: expected {expected}, got {actual}"
                )
            }
            Difference::Missing { row } => write!(f, "{row}: expected, but not produced"),
            Difference::Unexpected { row } => write!(f, "{row}: produced, but not expected"),
        }
    }
}

/// Why the golden file cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct GoldenError {
    /// The golden file.
    pub file: String,
    /// The 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn key_of(row: &Map<String, Json>, keys: &[String]) -> String {
    let parts: Vec<String> = keys
        .iter()
        .map(|k| format!("{k}={}", row.get(k).unwrap_or(&Json::Null)))
        .collect();
    format!("row ({})", parts.join(", "))
}

fn same(expected: &Json, actual: &Json, tolerance: f64) -> bool {
    match (expected, actual) {
        (Json::Number(e), Json::Number(a)) => match (e.as_f64(), a.as_f64()) {
            (Some(e), Some(a)) => (e - a).abs() <= tolerance * e.abs().max(1.0),
            _ => e == a,
        },
        (Json::Array(e), Json::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| same(e, a, tolerance))
        }
        _ => expected == actual,
    }
}

/// Compares the produced rows with the golden NDJSON `expected`.
pub fn compare(
    file: &str,
    expected: &str,
    actual: &RowSet,
    key_columns: &[String],
    tolerance: f64,
) -> Result<Vec<Difference>, GoldenError> {
    let mut wanted = Vec::new();
    for (index, line) in expected.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let object: Map<String, Json> = serde_json::from_str(line).map_err(|e| GoldenError {
            file: file.to_string(),
            line: index + 1,
            message: format!("not a JSON object: {e}"),
        })?;
        wanted.push(object);
    }
    let produced: Vec<Map<String, Json>> = actual
        .rows
        .iter()
        .map(|row| match row_json(&actual.columns, row) {
            Json::Object(map) => map,
            _ => unreachable!("a row is an object"),
        })
        .collect();

    let unique = |rows: &[Map<String, Json>]| {
        let keys: std::collections::BTreeSet<String> =
            rows.iter().map(|r| key_of(r, key_columns)).collect();
        keys.len() == rows.len()
    };
    let by_key = !key_columns.is_empty() && unique(&wanted) && unique(&produced);
    let label = |index: usize, row: &Map<String, Json>| {
        if by_key {
            key_of(row, key_columns)
        } else {
            format!("row {index}")
        }
    };
    let wanted: BTreeMap<String, &Map<String, Json>> = wanted
        .iter()
        .enumerate()
        .map(|(i, r)| (label(i, r), r))
        .collect();
    let produced: BTreeMap<String, &Map<String, Json>> = produced
        .iter()
        .enumerate()
        .map(|(i, r)| (label(i, r), r))
        .collect();

    let mut differences = Vec::new();
    for (row, expected) in &wanted {
        let Some(actual) = produced.get(row) else {
            differences.push(Difference::Missing { row: row.clone() });
            continue;
        };
        let fields: std::collections::BTreeSet<&String> =
            expected.keys().chain(actual.keys()).collect();
        for field in fields {
            let (e, a) = (
                expected.get(field).unwrap_or(&Json::Null),
                actual.get(field).unwrap_or(&Json::Null),
            );
            if !same(e, a, tolerance) {
                differences.push(Difference::Field {
                    row: row.clone(),
                    field: field.clone(),
                    expected: e.clone(),
                    actual: a.clone(),
                });
            }
        }
    }
    for row in produced.keys().filter(|row| !wanted.contains_key(*row)) {
        differences.push(Difference::Unexpected { row: row.clone() });
    }
    Ok(differences)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::{Scalar, Value};

    fn rows(points: &[(&str, f64)]) -> RowSet {
        RowSet {
            columns: vec!["player".into(), "points".into()],
            rows: points
                .iter()
                .map(|(p, n)| {
                    vec![
                        Value::Scalar(Scalar::String(p.to_string())),
                        Value::Scalar(Scalar::Float64(*n)),
                    ]
                })
                .collect(),
        }
    }

    #[test]
    fn output_that_matches_within_tolerance_has_no_differences() {
        let golden = to_ndjson(&rows(&[("a", 20.0), ("b", 10.0)]));
        let keys = ["player".to_string()];
        assert!(
            compare(
                "g",
                &golden,
                &rows(&[("b", 10.0), ("a", 20.000001)]),
                &keys,
                1e-6
            )
            .unwrap()
            .is_empty()
        );
    }

    #[test]
    fn a_changed_field_names_the_row_by_key_and_the_field() {
        let golden = to_ndjson(&rows(&[("a", 20.0), ("b", 10.0)]));
        let keys = ["player".to_string()];
        let differences =
            compare("g", &golden, &rows(&[("a", 21.5), ("c", 1.0)]), &keys, 1e-9).unwrap();
        let text: Vec<String> = differences.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "row (player=\"a\"): field `points`: expected 20.0, got 21.5",
                "row (player=\"b\"): expected, but not produced",
                "row (player=\"c\"): produced, but not expected",
            ]
        );
    }

    #[test]
    fn a_malformed_golden_line_is_named() {
        let error = compare(
            "golden.ndjson",
            "{\"a\": 1}\nnot json\n",
            &rows(&[]),
            &[],
            0.0,
        )
        .unwrap_err();
        assert_eq!((error.file.as_str(), error.line), ("golden.ndjson", 2));
    }
}
