//! Checks output rows against a table schema before anything is written.
//!
//! Every problem is collected, not just the first. Each names the row index,
//! the row's key columns, the field, the expected type and the offending
//! value, so "Rows: 1; errors: 1" can never be the whole story.
//!
//! STRING values are valid UTF-8 by construction: the component model
//! checks every string that crosses the boundary.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::rows::{
    RowSet, Scalar, Value, describe_value, naive_date, scalar_type_name, timestamp_text,
};
use crate::schema::{Column, ColumnMode, ColumnType, TableSchema};

/// The most bytes of a row's key an error quotes.
pub const ROW_KEY_BYTES: usize = 1024;

/// One problem with one field of one row (or with the row set's columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        // A problem with the columns (a missing or unknown field) fails every row.
        let column_level = self.errors.iter().any(|e| e.row_index.is_none());
        let failing = if column_level {
            self.rows_checked
        } else {
            self.bad_rows.len()
        };
        let errors = self.errors.len();
        let mut text = format!(
            "{failing} of {} rows failed validation with {errors} {}",
            self.rows_checked,
            if errors == 1 { "error" } else { "errors" }
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

/// Validates `rows` against `schema`; the partition column must hold
/// `date`, and no two valid rows may have the same key columns.
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
        .chain(
            // The partition column, unless it is one of the keys already.
            Some(&schema.partition_column).filter(|p| !schema.key_columns.contains(p)),
        )
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
    // The key columns identify a row: the first valid row with a key holds
    // it, and a later one with the same key is an error of its own.
    let key_fields = schema.key_columns.join(", ");
    // A key column missing from the rows is a column error already.
    let unique_positions: Vec<usize> = schema
        .key_columns
        .iter()
        .map(|k| rows.columns.iter().position(|c| c == k))
        .collect::<Option<_>>()
        .unwrap_or_default();
    let mut key_holders: HashMap<RowKey<'_>, usize> = HashMap::with_capacity(rows.rows.len());

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
            && let Some(Value::Null) = row.get(p)
            && !row_errors
                .iter()
                .any(|(field, ..)| field == &schema.partition_column)
        {
            row_errors.push((
                schema.partition_column.clone(),
                format!("DATE {date}"),
                describe_value(&row[p]),
                "the partition column must not be NULL: no rerun of a date would replace the row"
                    .to_string(),
            ));
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
        let row_key = || {
            let key = key_positions
                .iter()
                .filter_map(|(p, name)| {
                    row.get(*p)
                        .map(|v| format!("{name}={}", crate::rows::value_json(v)))
                })
                .collect::<Vec<_>>()
                .join(", ");
            crate::rows::cut_short(key, ROW_KEY_BYTES)
        };
        if row_errors.is_empty() && !unique_positions.is_empty() {
            let key = RowKey {
                row,
                positions: &unique_positions,
            };
            if let Some(&holder) = key_holders.get(&key) {
                row_errors.push((
                    key_fields.clone(),
                    "a key no other row has".to_string(),
                    row_key(),
                    format!("row {holder} has the same key"),
                ));
            } else {
                key_holders.insert(key, index);
            }
        }
        if !row_errors.is_empty() {
            report.bad_rows.insert(index);
            let row_key = row_key();
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

/// A row seen through its key columns: rows are equal when every key
/// cell is, so a map of them finds a repeated key without building text.
struct RowKey<'a> {
    row: &'a [Value],
    positions: &'a [usize],
}

impl Hash for RowKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for &p in self.positions {
            match self.row.get(p) {
                None | Some(Value::Null) => state.write_u8(0),
                Some(Value::Scalar(scalar)) => hash_scalar(scalar, state),
                Some(Value::Repeated(items)) => {
                    state.write_usize(items.len());
                    items.iter().for_each(|s| hash_scalar(s, state));
                }
            }
        }
    }
}

/// Hashes `scalar` as [`RowKey`]'s equality compares it.
fn hash_scalar<H: Hasher>(scalar: &Scalar, state: &mut H) {
    match scalar {
        Scalar::String(text) | Scalar::Json(text) => text.hash(state),
        Scalar::Numeric(text) => numeric_value(text).hash(state),
        Scalar::Int64(n) | Scalar::Timestamp(n) => n.hash(state),
        // 0.0 and -0.0 are equal, so they hash alike.
        Scalar::Float64(x) => (if *x == 0.0 { 0.0 } else { *x }).to_bits().hash(state),
        Scalar::Boolean(b) => b.hash(state),
        Scalar::Date(d) => (d.year, d.month, d.day).hash(state),
    }
}

impl PartialEq for RowKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.positions
            .iter()
            .all(|&p| match (self.row.get(p), other.row.get(p)) {
                (
                    Some(Value::Scalar(Scalar::Numeric(a))),
                    Some(Value::Scalar(Scalar::Numeric(b))),
                ) => numeric_value(a) == numeric_value(b),
                (a, b) => a == b,
            })
    }
}

/// A NUMERIC as keys compare it, its sign, whole digits and fraction
/// digits without the zeros that change nothing: `1.5`, `1.50`, `+1.5` and
/// `01.5` are one number, so one key, as every store keeps them (BigQuery
/// and PostgreSQL store all four as 1.5).
fn numeric_value(text: &str) -> (bool, &str, &str) {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let (whole, fraction) = (
        whole.trim_start_matches('0'),
        fraction.trim_end_matches('0'),
    );
    let zero = whole.is_empty() && fraction.is_empty();
    (negative && !zero, whole, fraction)
}

/// A NUMERIC's text in one spelling per number: `1.50`, `+1.5` and
/// `01.5` all read `1.5`, and `-0.0` reads `0`, as every store keeps them.
pub fn canonical_numeric(text: &str) -> String {
    let (negative, whole, fraction) = numeric_value(text);
    let sign = if negative { "-" } else { "" };
    let whole = if whole.is_empty() { "0" } else { whole };
    match fraction {
        "" => format!("{sign}{whole}"),
        fraction => format!("{sign}{whole}.{fraction}"),
    }
}

impl Eq for RowKey<'_> {}

/// The problem with one cell, if any: what validation refuses of a row the
/// host writes, and what `slate test` refuses of a fixture or golden cell,
/// as production refuses it of a raw row.
pub fn check_value(value: &Value, column: &Column) -> Option<String> {
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

/// "a" or "an", as a type's name is read aloud: an INT64, a STRING.
fn article(type_name: &str) -> &'static str {
    match type_name.as_bytes().first() {
        Some(b'A' | b'E' | b'I' | b'O' | b'U') => "an",
        _ => "a",
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
        let found = scalar_type_name(scalar);
        let expected = column.column_type.to_string();
        return Some(format!(
            "{} {found} value cannot go into {} {expected} column",
            article(found),
            article(&expected)
        ));
    }
    match scalar {
        // PostgreSQL cannot store it; refused on every backend, so that a
        // row valid on one is valid on all.
        Scalar::String(text) if text.contains('\0') => Some(format!(
            "{text:?} holds a NUL character (\\0), which a STRING cannot hold"
        )),
        Scalar::Float64(v) if !v.is_finite() && !column.allow_non_finite => Some(format!(
            "{v} is not allowed: the field does not accept NaN or infinity"
        )),
        Scalar::Numeric(text) => numeric_problem(text),
        // BigQuery loads a JSON null as no value, SQL NULL (into a REQUIRED
        // column too, where its load then fails), while the embedded store
        // keeps the text: refused on every store, so that none differs.
        Scalar::Json(text) if text.trim() == "null" => Some(
            "JSON null, which BigQuery loads as no value (NULL): give the cell no value \
             instead (or, in a REQUIRED column, one that is not null)"
                .to_string(),
        ),
        Scalar::Json(text) => json_problem(text),
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
        _ => None,
    }
}

/// The problem with a NUMERIC or JSON cell's text, if any, as validation
/// finds it: what a store's read checks of a cell it keeps as text.
pub fn text_cell_problem(column_type: ColumnType, text: &str) -> Option<String> {
    match column_type {
        ColumnType::Numeric => numeric_problem(text),
        ColumnType::Json => json_problem(text),
        _ => None,
    }
}

/// Why `text` is no JSON value BigQuery's JSON type holds as written.
fn json_problem(text: &str) -> Option<String> {
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .err()
        .map(|e| format!("not valid JSON: {e}"))
        .or_else(|| json_number_problem(text))
}

/// Why a number in the valid JSON `text` is one BigQuery's JSON type
/// cannot hold as written, if one is: an integer beyond 64 bits, or a
/// number beyond the range of a double (`1e400`). BigQuery would round the
/// one and turn the other into text, while the embedded store keeps both:
/// refused on every store instead, so that no cell is silently rewritten.
fn json_number_problem(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let (mut at, mut in_string, mut escaped) = (0, false, false);
    while at < bytes.len() {
        let byte = bytes[at];
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            at += 1;
            continue;
        }
        if byte == b'"' {
            in_string = true;
            at += 1;
            continue;
        }
        if byte != b'-' && !byte.is_ascii_digit() {
            at += 1;
            continue;
        }
        let end = bytes[at..]
            .iter()
            .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
            .map_or(bytes.len(), |length| at + length);
        let number = &text[at..end];
        let integer = !number.contains(['.', 'e', 'E']);
        let held = match integer {
            true => number.parse::<i64>().is_ok() || number.parse::<u64>().is_ok(),
            false => number.parse::<f64>().is_ok_and(f64::is_finite),
        };
        if !held {
            let what = match integer {
                true => "an integer beyond 64 bits",
                false => "a number beyond the range of FLOAT64",
            };
            return Some(format!(
                "JSON number {} is {what}: BigQuery's JSON type cannot hold it as written",
                crate::rows::cut_short(number.to_string(), 64)
            ));
        }
        at = end;
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::Date;

    fn column(name: &str, column_type: ColumnType, mode: ColumnMode) -> Column {
        Column::new(name, column_type, mode)
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 11).unwrap()
    }

    fn wit_day() -> Value {
        Value::Scalar(Scalar::Date(Date {
            year: 2026,
            month: 1,
            day: 11,
        }))
    }

    /// A schema partitioned by `d`, with these key columns.
    fn schema(columns: Vec<Column>, keys: &[&str]) -> TableSchema {
        TableSchema {
            columns,
            partition_column: "d".into(),
            key_columns: keys.iter().map(|k| k.to_string()).collect(),
        }
    }

    /// Validates one cell in `column`, next to a valid partition column.
    fn check(column: Column, value: Value) -> Vec<String> {
        let schema = schema(
            vec![
                column.clone(),
                Column::new("d", ColumnType::Date, ColumnMode::Required),
            ],
            &[],
        );
        let rows = RowSet {
            columns: vec![column.name, "d".into()],
            rows: vec![vec![value, wit_day()]],
        };
        validate(&rows, &schema, day())
            .errors
            .iter()
            .map(|e| e.problem.clone())
            .collect()
    }

    fn s(scalar: Scalar) -> Value {
        Value::Scalar(scalar)
    }

    #[test]
    fn each_type_accepts_its_own_values_only() {
        use ColumnMode::Required;
        assert!(
            check(
                column("c", ColumnType::Int64, Required),
                s(Scalar::Int64(i64::MAX))
            )
            .is_empty()
        );
        assert_eq!(
            check(
                column("c", ColumnType::Int64, Required),
                s(Scalar::Float64(1.0))
            ),
            ["a FLOAT64 value cannot go into an INT64 column"]
        );
        assert_eq!(
            check(
                column("c", ColumnType::Timestamp, Required),
                s(Scalar::Int64(1_700_000_000))
            ),
            ["an INT64 value cannot go into a TIMESTAMP column"]
        );
        assert_eq!(
            check(
                column("c", ColumnType::Bool, Required),
                s(Scalar::String("true".into()))
            ),
            ["a STRING value cannot go into a BOOL column"]
        );
    }

    #[test]
    fn float64_refuses_nan_and_infinity_unless_allowed() {
        let strict = column("c", ColumnType::Float64, ColumnMode::Required);
        assert_eq!(check(strict.clone(), s(Scalar::Float64(f64::NAN))).len(), 1);
        assert_eq!(
            check(strict.clone(), s(Scalar::Float64(f64::INFINITY))).len(),
            1
        );
        let lenient = Column {
            allow_non_finite: true,
            ..strict
        };
        assert!(check(lenient, s(Scalar::Float64(f64::NAN))).is_empty());
    }

    #[test]
    fn a_string_may_not_hold_a_nul_character() {
        let text = column("c", ColumnType::String, ColumnMode::Required);
        assert_eq!(
            check(text.clone(), s(Scalar::String("bad\0label".into()))),
            ["\"bad\\0label\" holds a NUL character (\\0), which a STRING cannot hold"]
        );
        assert!(check(text, s(Scalar::String("bad label".into()))).is_empty());
    }

    #[test]
    fn numeric_keys_that_are_one_number_are_one_key() {
        let schema = schema(
            vec![
                column("d", ColumnType::Date, ColumnMode::Required),
                column("n", ColumnType::Numeric, ColumnMode::Required),
            ],
            &["n"],
        );
        let rows = RowSet {
            columns: vec!["d".into(), "n".into()],
            rows: ["1.5", "1.50", "+1.5", "01.5", "2", "-0", "0.0"]
                .iter()
                .map(|n| vec![wit_day(), s(Scalar::Numeric((*n).into()))])
                .collect(),
        };
        let report = validate(&rows, &schema, day());
        let repeated: Vec<(Option<usize>, &str)> = report
            .errors
            .iter()
            .map(|e| (e.row_index, e.problem.as_str()))
            .collect();
        assert_eq!(
            repeated,
            [
                (Some(1), "row 0 has the same key"),
                (Some(2), "row 0 has the same key"),
                (Some(3), "row 0 has the same key"),
                (Some(6), "row 5 has the same key"),
            ]
        );
    }

    #[test]
    fn numeric_allows_precision_38_scale_9() {
        let numeric = column("c", ColumnType::Numeric, ColumnMode::Required);
        let ok = |t: &str| check(numeric.clone(), s(Scalar::Numeric(t.into()))).is_empty();
        assert!(ok("12.500000000"));
        assert!(ok(&format!("-{}.{}", "9".repeat(29), "9".repeat(9))));
        assert!(!ok("1.0000000001"), "ten digits after the point");
        assert!(!ok(&"9".repeat(30)), "thirty digits before the point");
        assert!(!ok("12,5"));
        assert!(!ok("."));
    }

    #[test]
    fn dates_and_timestamps_must_be_real_and_in_range() {
        let date = column("c", ColumnType::Date, ColumnMode::Required);
        let bad_day = s(Scalar::Date(Date {
            year: 2026,
            month: 2,
            day: 30,
        }));
        assert_eq!(
            check(date.clone(), bad_day),
            ["2026-02-30 is not a calendar date"]
        );
        assert_eq!(
            check(
                date,
                s(Scalar::Date(Date {
                    year: 10000,
                    month: 1,
                    day: 1
                }))
            )
            .len(),
            1
        );
        let timestamp = column("c", ColumnType::Timestamp, ColumnMode::Required);
        assert!(check(timestamp.clone(), s(Scalar::Timestamp(0))).is_empty());
        assert_eq!(check(timestamp, s(Scalar::Timestamp(i64::MAX))).len(), 1);
    }

    #[test]
    fn json_must_parse() {
        let json = column("c", ColumnType::Json, ColumnMode::Nullable);
        assert!(check(json.clone(), s(Scalar::Json("{\"a\": [1]}".into()))).is_empty());
        assert!(
            check(json.clone(), s(Scalar::Json("{a: 1}".into())))[0].starts_with("not valid JSON")
        );
        // What BigQuery's JSON type would round or turn into text.
        for (text, named) in [
            (
                "{\"x\": 123456789012345678901234567890}",
                "JSON number 123456789012345678901234567890 is an integer beyond 64 bits",
            ),
            (
                "[18446744073709551616]",
                "18446744073709551616 is an integer beyond 64 bits",
            ),
            (
                "1e400",
                "JSON number 1e400 is a number beyond the range of FLOAT64",
            ),
        ] {
            let problems = check(json.clone(), s(Scalar::Json(text.into())));
            assert!(problems[0].contains(named), "{text}: {problems:?}");
        }
        for mode in [
            ColumnMode::Required,
            ColumnMode::Nullable,
            ColumnMode::Repeated,
        ] {
            let json = column("c", ColumnType::Json, mode);
            let cell = Scalar::Json(" null ".into());
            let value = match mode {
                ColumnMode::Repeated => Value::Repeated(vec![cell]),
                _ => s(cell),
            };
            let problems = check(json, value);
            assert!(
                problems[0].contains("JSON null, which BigQuery loads as no value"),
                "{mode}: {problems:?}"
            );
        }
        for held in [
            "[null]",
            "{\"a\": null}",
            "[-9223372036854775808, 18446744073709551615, 1.5e300, -0.1]",
            "{\"x-1e400\": \"123456789012345678901234567890\"}",
        ] {
            assert!(
                check(json.clone(), s(Scalar::Json(held.into()))).is_empty(),
                "{held}"
            );
        }
    }

    #[test]
    fn modes_govern_null_and_lists() {
        let required = column("c", ColumnType::String, ColumnMode::Required);
        assert_eq!(
            check(required.clone(), Value::Null),
            ["a REQUIRED field is null"]
        );
        assert_eq!(
            check(required, Value::Repeated(vec![])),
            ["a REQUIRED field takes one value, not a list"]
        );
        assert!(
            check(
                column("c", ColumnType::String, ColumnMode::Nullable),
                Value::Null
            )
            .is_empty()
        );
        let repeated = column("c", ColumnType::String, ColumnMode::Repeated);
        assert!(check(repeated.clone(), Value::Repeated(vec![])).is_empty());
        assert_eq!(check(repeated.clone(), Value::Null).len(), 1);
        assert_eq!(
            check(
                repeated,
                Value::Repeated(vec![Scalar::String("ok".into()), Scalar::Int64(1)])
            ),
            ["list item 1: an INT64 value cannot go into a STRING column"]
        );
    }

    #[test]
    fn missing_and_unknown_fields_are_reported_by_name() {
        let schema = schema(
            vec![
                Column::new("player", ColumnType::String, ColumnMode::Required),
                Column::new("d", ColumnType::Date, ColumnMode::Required),
            ],
            &["player"],
        );
        let rows = RowSet {
            columns: vec!["d".into(), "extra".into()],
            rows: vec![vec![wit_day(), Value::Null]],
        };
        let report = validate(&rows, &schema, day());
        let problems: Vec<_> = report
            .errors
            .iter()
            .map(|e| (e.field.as_str(), e.problem.as_str()))
            .collect();
        assert_eq!(
            problems,
            [
                ("extra", "the field is not in the schema"),
                ("player", "the field is missing from the rows")
            ]
        );
    }

    #[test]
    fn every_bad_row_is_reported_with_its_key_not_just_the_first() {
        let schema = schema(
            vec![
                Column::new("player", ColumnType::String, ColumnMode::Required),
                Column::new("points", ColumnType::Int64, ColumnMode::Required),
                Column::new("d", ColumnType::Date, ColumnMode::Required),
            ],
            &["player"],
        );
        let row =
            |player: String, points: Value| vec![s(Scalar::String(player)), points, wit_day()];
        let rows = RowSet {
            columns: vec!["player".into(), "points".into(), "d".into()],
            rows: (0..199)
                .map(|i| match i {
                    17 => row("a".into(), s(Scalar::String("12".into()))),
                    150 => row("b".into(), Value::Null),
                    _ => row(format!("player{i}"), s(Scalar::Int64(i))),
                })
                .collect(),
        };
        let report = validate(&rows, &schema, day());
        assert_eq!(
            report.bad_rows.iter().copied().collect::<Vec<_>>(),
            [17, 150]
        );
        assert_eq!(
            report.errors[0].to_string(),
            "row 17 (player=\"a\", d=\"2026-01-11\"): field `points` expected REQUIRED INT64, \
             got STRING \"12\": a STRING value cannot go into an INT64 column"
        );
        assert!(
            report
                .summary(1)
                .starts_with("2 of 199 rows failed validation with 2 errors")
        );
        assert!(report.summary(1).ends_with("... and 1 more"));
    }

    #[test]
    fn rows_for_another_date_are_refused() {
        let other = Value::Scalar(Scalar::Date(Date {
            year: 2026,
            month: 1,
            day: 12,
        }));
        let schema = schema(
            vec![Column::new("d", ColumnType::Date, ColumnMode::Required)],
            &[],
        );
        let rows = RowSet {
            columns: vec!["d".into()],
            rows: vec![vec![other]],
        };
        let errors = validate(&rows, &schema, day()).errors;
        assert_eq!(
            errors[0].problem,
            "the partition column must equal the run's date 2026-01-11"
        );
    }

    #[test]
    fn a_null_partition_date_fails_even_where_the_column_is_nullable() {
        let schema = schema(
            vec![Column::new("d", ColumnType::Date, ColumnMode::Nullable)],
            &[],
        );
        let rows = RowSet {
            columns: vec!["d".into()],
            rows: vec![vec![Value::Null]],
        };
        let report = validate(&rows, &schema, day());
        assert!(!report.is_valid());
        assert_eq!(
            report.errors[0].problem,
            "the partition column must not be NULL: no rerun of a date would replace the row"
        );
    }

    #[test]
    fn a_partition_column_that_is_also_a_key_is_named_once_and_one_error_is_singular() {
        let schema = schema(
            vec![
                Column::new("player", ColumnType::String, ColumnMode::Required),
                Column::new("d", ColumnType::Date, ColumnMode::Required),
            ],
            &["player", "d"],
        );
        let rows = RowSet {
            columns: vec!["player".into(), "d".into()],
            rows: vec![vec![Value::Null, wit_day()]],
        };
        let report = validate(&rows, &schema, day());
        assert_eq!(report.errors[0].row_key, "player=null, d=\"2026-01-11\"");
        assert!(
            report
                .summary(5)
                .starts_with("1 of 1 rows failed validation with 1 error\n"),
            "{}",
            report.summary(5)
        );
    }

    /// Player rows on the run's date, keyed by player (and `d`).
    fn player_rows(players: &[Value]) -> (TableSchema, RowSet) {
        let schema = schema(
            vec![
                Column::new("player", ColumnType::String, ColumnMode::Nullable),
                Column::new("d", ColumnType::Date, ColumnMode::Required),
            ],
            &["player", "d"],
        );
        let rows = RowSet {
            columns: vec!["player".into(), "d".into()],
            rows: players.iter().map(|p| vec![p.clone(), wit_day()]).collect(),
        };
        (schema, rows)
    }

    #[test]
    fn a_row_whose_key_repeats_an_earlier_rows_is_an_error_naming_both_rows() {
        let player = |name: &str| s(Scalar::String(name.into()));
        let (schema, rows) = player_rows(&[
            player("lebron"),
            player("steph"),
            player("lebron"),
            player("tatum"),
            player("lebron"),
        ]);
        let report = validate(&rows, &schema, day());
        assert_eq!(report.bad_rows, BTreeSet::from([2, 4]));
        assert_eq!(
            report.errors[0].to_string(),
            "row 2 (player=\"lebron\", d=\"2026-01-11\"): field `player, d` expected \
             a key no other row has, got player=\"lebron\", d=\"2026-01-11\": \
             row 0 has the same key"
        );
        assert_eq!(report.errors[1].problem, "row 0 has the same key");
        assert!(
            report
                .summary(5)
                .starts_with("2 of 5 rows failed validation with 2 errors")
        );
    }

    #[test]
    fn keys_are_compared_by_value_and_type_and_a_schema_without_keys_allows_repeats() {
        let (schema, rows) = player_rows(&[
            s(Scalar::String("7".into())),
            s(Scalar::Int64(7)),
            Value::Null,
            s(Scalar::String("7 ".into())),
        ]);
        // Int64 7 in a STRING column is an error of its own, not a repeat.
        let report = validate(&rows, &schema, day());
        assert_eq!(report.bad_rows, BTreeSet::from([1]));
        let (mut keyless, repeated) = player_rows(&[Value::Null, Value::Null]);
        keyless.key_columns.clear();
        assert!(validate(&repeated, &keyless, day()).is_valid());
        // Two null keys are the same key.
        assert_eq!(
            validate(&repeated, &schema, day()).bad_rows,
            BTreeSet::from([1])
        );
    }

    #[test]
    fn an_invalid_row_does_not_hold_its_key_against_a_valid_one() {
        let (schema, mut rows) = player_rows(&[s(Scalar::String("lebron".into()))]);
        let dated = |day: u8| {
            Value::Scalar(Scalar::Date(Date {
                year: 2026,
                month: 1,
                day,
            }))
        };
        // Row 0 has the wrong date; row 1, the same player on the run's date, is kept.
        rows.rows[0][1] = dated(10);
        rows.rows
            .push(vec![s(Scalar::String("lebron".into())), dated(11)]);
        let report = validate(&rows, &schema, day());
        assert_eq!(report.bad_rows, BTreeSet::from([0]));
    }

    #[test]
    fn float_keys_that_compare_equal_repeat_even_with_a_different_sign_of_zero() {
        let schema = schema(
            vec![
                Column::new("x", ColumnType::Float64, ColumnMode::Required),
                Column::new("d", ColumnType::Date, ColumnMode::Required),
            ],
            &["x"],
        );
        let rows = RowSet {
            columns: vec!["x".into(), "d".into()],
            rows: vec![
                vec![s(Scalar::Float64(0.0)), wit_day()],
                vec![s(Scalar::Float64(-0.0)), wit_day()],
                vec![s(Scalar::Float64(0.5)), wit_day()],
            ],
        };
        assert_eq!(
            validate(&rows, &schema, day()).bad_rows,
            BTreeSet::from([1])
        );
    }
}
