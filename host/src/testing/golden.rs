//! Golden files for `slate test`: output rows as NDJSON, and a readable
//! per-row, per-field diff against the expected rows.
//!
//! Rows are matched by the processor's key columns when those identify every
//! row, else by position. Numbers match within a tolerance relative to the
//! expected value (absolute below 1); everything else must be equal. A
//! golden row must itself fit the output table: a field the table lacks, a
//! value of another type, or a key another golden row holds is a bad
//! golden file, named by line, not a difference.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value as Json};

use crate::rows::{RowSet, Scalar, Value, naive_date, row_json, value_from_json, value_json};
use crate::schema::TableSchema;
use crate::validate::canonical_numeric;

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
                // Values are cut short, as a run's record cuts them: a
                // 5 MB string would otherwise be a 5 MB line.
                let cut = |value: &Json| {
                    crate::rows::cut_short(value.to_string(), crate::rows::DESCRIBED_VALUE_BYTES)
                };
                write!(
                    f,
                    "{}: field `{field}`: expected {}, got {}",
                    cut_row(row),
                    cut(expected),
                    cut(actual)
                )?;
                // Cut, two long texts may show alike: say where they part.
                if let (Json::String(expected), Json::String(actual)) = (expected, actual)
                    && expected.len().max(actual.len()) > crate::rows::DESCRIBED_VALUE_BYTES
                {
                    let at = (expected.chars().zip(actual.chars()))
                        .take_while(|(e, a)| e == a)
                        .count();
                    write!(f, " (they first differ at character {})", at + 1)?;
                }
                Ok(())
            }
            Difference::Missing { row } => {
                write!(f, "{}: expected, but not produced", cut_row(row))
            }
            Difference::Unexpected { row } => {
                write!(f, "{}: produced, but not expected", cut_row(row))
            }
        }
    }
}

/// A row's name as a difference shows it: cut as a run's record cuts a
/// row's key.
fn cut_row(row: &str) -> String {
    crate::rows::cut_short(row.to_string(), crate::validate::ROW_KEY_BYTES)
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

/// Spells each NUMERIC of `row` one way ([`canonical_numeric`]): `1.5`
/// and `1.50` are one number, which every store keeps alike, so a golden
/// file may write either.
fn canonical_numerics(row: &mut Map<String, Json>, schema: &TableSchema) {
    let numeric = schema
        .columns
        .iter()
        .filter(|c| c.column_type == crate::schema::ColumnType::Numeric);
    for column in numeric {
        match row.get_mut(&column.name) {
            Some(Json::String(text)) => *text = canonical_numeric(text),
            Some(Json::Array(items)) => {
                for item in items {
                    if let Json::String(text) = item {
                        *text = canonical_numeric(text);
                    }
                }
            }
            _ => {}
        }
    }
}

fn same(expected: &Json, actual: &Json, tolerance: f64) -> bool {
    match (expected, actual) {
        // Integers (INT64, TIMESTAMP) compare exactly: as doubles, a
        // count off by one passed the tolerance, and past 2^53 two
        // integers were one double.
        (Json::Number(e), Json::Number(a)) if !e.is_f64() && !a.is_f64() => e == a,
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

/// Compares the produced rows with the golden NDJSON `expected`, rows of
/// the output table `schema` on `dates` (first and last, the run's date
/// twice for `slate test`). A golden row production could never write
/// (dated outside them, a value validation refuses) is a bad golden file;
/// a REPEATED field left out is the empty list every output row holds.
pub fn compare(
    file: &str,
    expected: &str,
    actual: &RowSet,
    schema: &TableSchema,
    tolerance: f64,
    (first, last): (chrono::NaiveDate, chrono::NaiveDate),
) -> Result<Vec<Difference>, GoldenError> {
    let key_columns = &schema.key_columns;
    let mut wanted = Vec::new();
    let mut lines_by_key: BTreeMap<String, usize> = BTreeMap::new();
    for (index, line) in expected.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| GoldenError {
            file: file.to_string(),
            line: index + 1,
            message,
        };
        let mut object = super::fixtures::json_object_line(line).map_err(bad)?;
        for (field, value) in &object {
            let column = schema
                .columns
                .iter()
                .find(|c| &c.name == field)
                .ok_or_else(|| {
                    bad(format!(
                        "field `{field}` is not a column of the output table"
                    ))
                })?;
            let read =
                value_from_json(column, value).map_err(|e| bad(format!("field `{field}`: {e}")))?;
            // A value validation would refuse of the output (NaN, a NUL
            // character, null where REQUIRED) can never be matched.
            if let Some(problem) = crate::validate::check_value(&read, column) {
                return Err(bad(format!("field `{field}`: {problem}")));
            }
            if *field == schema.partition_column
                && let Value::Scalar(Scalar::Date(day)) = &read
                && naive_date(*day).is_some_and(|day| !(first..=last).contains(&day))
            {
                let dated = match first == last {
                    true => format!("the run's date {first}"),
                    false => format!("a date from {first} to {last}"),
                };
                return Err(bad(format!(
                    "field `{field}`: {value} is not {dated}: the output holds no other"
                )));
            }
            // Written as the output writes it: 5, not "5", for an INT64.
            let written = value_json(&read);
            if !same(&written, value, 0.0) {
                return Err(bad(format!(
                    "field `{field}`: {value} is written {written} in the output ({})",
                    column.column_type
                )));
            }
        }
        if let Some(missing) = schema.columns.iter().find(|c| {
            c.mode == crate::schema::ColumnMode::Required && !object.contains_key(&c.name)
        }) {
            return Err(bad(format!(
                "field `{}` is missing, but the column is REQUIRED {}: every row the \
                 output holds has it",
                missing.name, missing.column_type
            )));
        }
        for column in &schema.columns {
            if column.mode == crate::schema::ColumnMode::Repeated
                && !object.contains_key(&column.name)
            {
                object.insert(column.name.clone(), Json::Array(Vec::new()));
            }
        }
        if !key_columns.is_empty() {
            let key = key_of(&object, key_columns);
            if let Some(first) = lines_by_key.insert(key.clone(), index + 1) {
                return Err(bad(format!(
                    "{key} is also on line {first}: a key is one row"
                )));
            }
        }
        canonical_numerics(&mut object, schema);
        wanted.push(object);
    }
    let produced: Vec<Map<String, Json>> = actual
        .rows
        .iter()
        .map(|row| match row_json(&actual.columns, row) {
            Json::Object(mut map) => {
                canonical_numerics(&mut map, schema);
                map
            }
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

    /// The run's date in these tests.
    fn day() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 1, 11).unwrap()
    }

    /// A golden row production could never write is a bad golden file,
    /// not a difference that never goes away: one dated another day. A
    /// REPEATED field left out is the empty list the output holds.
    #[test]
    fn a_golden_row_of_another_date_is_bad_and_a_repeated_field_left_out_is_empty() {
        use crate::schema::{Column, ColumnMode, ColumnType};
        let schema = TableSchema {
            columns: vec![
                Column::new("day", ColumnType::Date, ColumnMode::Required),
                Column::new("player", ColumnType::String, ColumnMode::Required),
                Column::new("issues", ColumnType::String, ColumnMode::Repeated),
            ],
            partition_column: "day".into(),
            key_columns: vec!["player".into()],
        };
        let produced = RowSet {
            columns: vec!["day".into(), "player".into(), "issues".into()],
            rows: vec![vec![
                Value::Scalar(Scalar::Date(crate::rows::wit_date(day()))),
                Value::Scalar(Scalar::String("a".into())),
                Value::Repeated(Vec::new()),
            ]],
        };
        let left_out = "{\"day\": \"2026-01-11\", \"player\": \"a\"}\n";
        assert_eq!(
            compare("g", left_out, &produced, &schema, 0.0, (day(), day())).unwrap(),
            []
        );
        let another_day = "{\"day\": \"2026-01-12\", \"player\": \"a\"}\n";
        let error = compare("g", another_day, &produced, &schema, 0.0, (day(), day())).unwrap_err();
        assert_eq!(error.line, 1);
        assert!(
            error.message.starts_with(
                "field `day`: \"2026-01-12\" is not the run's date 2026-01-11: the output"
            ),
            "{}",
            error.message
        );
    }

    /// The table of [`rows`], keyed by player when `keyed`.
    fn table(keyed: bool) -> TableSchema {
        use crate::schema::{Column, ColumnMode, ColumnType};
        TableSchema {
            columns: vec![
                Column::new("player", ColumnType::String, ColumnMode::Required),
                Column::new("points", ColumnType::Float64, ColumnMode::Nullable),
            ],
            partition_column: "player".into(),
            key_columns: match keyed {
                true => vec!["player".to_string()],
                false => Vec::new(),
            },
        }
    }

    #[test]
    fn a_golden_row_that_does_not_fit_the_output_table_is_a_bad_golden_file_by_line() {
        let cases = [
            (
                "{\"player\": \"a\", \"bogus\": 1}",
                1,
                "field `bogus` is not a column of the output table",
            ),
            (
                "{\"player\": \"a\", \"points\": \"5\"}",
                1,
                "field `points`: \"5\" is written 5.0 in the output (FLOAT64)",
            ),
            (
                "{\"player\": \"a\"}\n{\"player\": \"a\"}",
                2,
                "row (player=\"a\") is also on line 1: a key is one row",
            ),
            (
                "{\"player\": \"a\", \"points\": 1.0, \"points\": 2.0}",
                1,
                "field `points` is given twice",
            ),
            (
                "{\"player\": \"a\", \"points\": \"NaN\"}",
                1,
                "field `points`: NaN is not allowed",
            ),
            (
                "{\"points\": 1.0}",
                1,
                "field `player` is missing, but the column is REQUIRED STRING",
            ),
        ];
        for (golden, line, message) in cases {
            let error = compare(
                "g",
                golden,
                &rows(&[("a", 1.0)]),
                &table(true),
                0.0,
                (day(), day()),
            )
            .unwrap_err();
            assert_eq!(error.line, line, "{golden}");
            assert!(error.message.starts_with(message), "{}", error.message);
        }
    }

    #[test]
    fn a_difference_cuts_long_values_short_and_says_where_long_texts_part() {
        let long = "x".repeat(5_000_000);
        let difference = Difference::Field {
            row: format!("row (name={long})"),
            field: "name".into(),
            expected: Json::String(format!("{long}a")),
            actual: Json::String(format!("{long}b")),
        };
        let shown = difference.to_string();
        assert!(shown.len() < 2_000, "{} bytes", shown.len());
        assert!(shown.contains("more bytes)"), "{shown:.400}");
        assert!(
            shown.ends_with("(they first differ at character 5000001)"),
            "{}",
            &shown[shown.len() - 80..]
        );
        let short = Difference::Field {
            row: "row (n=1)".into(),
            field: "points".into(),
            expected: Json::from(3),
            actual: Json::from(4),
        };
        assert_eq!(
            short.to_string(),
            "row (n=1): field `points`: expected 3, got 4"
        );
    }

    #[test]
    fn output_that_matches_within_tolerance_has_no_differences() {
        let golden = to_ndjson(&rows(&[("a", 20.0), ("b", 10.0)]));
        assert!(
            compare(
                "g",
                &golden,
                &rows(&[("b", 10.0), ("a", 20.000001)]),
                &table(true),
                1e-6,
                (day(), day()),
            )
            .unwrap()
            .is_empty()
        );
    }

    /// Before, an INT64 off by one passed the default tolerance, and past
    /// 2^53 even a tolerance of 0, for numbers were compared as doubles.
    #[test]
    fn integers_compare_exactly_whatever_the_tolerance_and_floats_within_it() {
        use serde_json::json;
        assert!(!same(
            &json!(1_000_000_000_001_i64),
            &json!(1_000_000_000_000_i64),
            1e-6
        ));
        assert!(!same(
            &json!(9_007_199_254_740_993_i64),
            &json!(9_007_199_254_740_992_i64),
            0.0
        ));
        assert!(!same(&json!([1, 2]), &json!([1, 3]), 0.5));
        assert!(same(&json!(42), &json!(42), 0.0));
        assert!(same(&json!(20.0), &json!(20.000001), 1e-6));
        assert!(!same(&json!(20.0), &json!(20.000001), 0.0));
        // A float written as a whole number still compares as a float.
        assert!(same(&json!(3), &json!(3.0000001), 1e-6));
    }

    /// A NUMERIC written `1.50` in the golden file and `1.5` by the run is
    /// one number, which every store keeps alike: before, it was reported
    /// as a difference.
    #[test]
    fn numerics_compare_as_numbers_not_as_their_spelling() {
        use crate::schema::{Column, ColumnMode, ColumnType};
        let schema = TableSchema {
            columns: vec![
                Column::new("day", ColumnType::Date, ColumnMode::Required),
                Column::new("name", ColumnType::String, ColumnMode::Required),
                Column::new("amount", ColumnType::Numeric, ColumnMode::Nullable),
            ],
            partition_column: "day".into(),
            key_columns: vec!["name".into()],
        };
        let output = |amount: &str| RowSet {
            columns: schema.column_names(),
            rows: vec![vec![
                Value::Scalar(Scalar::Date(crate::rows::wit_date(day()))),
                Value::Scalar(Scalar::String("a".into())),
                Value::Scalar(Scalar::Numeric(amount.into())),
            ]],
        };
        let golden = r#"{"day": "2026-01-11", "name": "a", "amount": "1.50"}"#;
        let compared = |amount: &str| {
            compare("g", golden, &output(amount), &schema, 0.0, (day(), day())).unwrap()
        };
        assert!(compared("1.5").is_empty());
        assert!(compared("01.500").is_empty());
        assert_eq!(compared("1.51").len(), 1);
    }

    #[test]
    fn a_changed_field_names_the_row_by_key_and_the_field() {
        let golden = to_ndjson(&rows(&[("a", 20.0), ("b", 10.0)]));
        let differences = compare(
            "g",
            &golden,
            &rows(&[("a", 21.5), ("c", 1.0)]),
            &table(true),
            1e-9,
            (day(), day()),
        )
        .unwrap();
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
            "{\"player\": \"a\"}\nnot json\n",
            &rows(&[]),
            &table(false),
            0.0,
            (day(), day()),
        )
        .unwrap_err();
        assert_eq!((error.file.as_str(), error.line), ("golden.ndjson", 2));
    }
}
