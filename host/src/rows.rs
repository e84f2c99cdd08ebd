//! The values that cross the component boundary, and their conversions.
//!
//! Rows are the WIT `row-set`: column names once, then positional typed
//! values. The host uses the generated types directly, so rows returned by
//! a plugin are validated and written without another conversion.

use chrono::{DateTime, Datelike, NaiveDate};

pub use crate::plugin::bindings::{Date, Row, RowSet, Scalar, Value};

/// Converts a chrono date to a WIT date.
pub fn wit_date(date: NaiveDate) -> Date {
    Date {
        year: date.year(),
        month: date.month() as u8,
        day: date.day() as u8,
    }
}

/// Converts a WIT date to a chrono date, or `None` for an impossible date.
pub fn naive_date(date: Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(date.year, u32::from(date.month), u32::from(date.day))
}

/// Formats a TIMESTAMP (microseconds since the epoch) as RFC 3339, or `None`
/// when it lies outside BigQuery's range (years 0001 to 9999).
pub fn timestamp_text(micros: i64) -> Option<String> {
    let instant = DateTime::from_timestamp_micros(micros)?;
    (1..=9999)
        .contains(&instant.year())
        .then(|| instant.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
}

/// Parses an RFC 3339 timestamp into microseconds since the epoch.
pub fn timestamp_micros(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_micros())
}

/// The name of a scalar's type, as the schema spells it.
pub fn scalar_type_name(scalar: &Scalar) -> &'static str {
    match scalar {
        Scalar::String(_) => "STRING",
        Scalar::Int64(_) => "INT64",
        Scalar::Float64(_) => "FLOAT64",
        Scalar::Numeric(_) => "NUMERIC",
        Scalar::Boolean(_) => "BOOL",
        Scalar::Date(_) => "DATE",
        Scalar::Timestamp(_) => "TIMESTAMP",
        Scalar::Json(_) => "JSON",
    }
}

/// A scalar as JSON: numbers as numbers, dates as `YYYY-MM-DD` text,
/// timestamps as RFC 3339 text (or the raw integer when out of range).
pub fn scalar_json(scalar: &Scalar) -> serde_json::Value {
    use serde_json::Value as Json;
    match scalar {
        Scalar::String(s) | Scalar::Numeric(s) => Json::String(s.clone()),
        Scalar::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| Json::String(s.clone())),
        Scalar::Int64(v) => Json::from(*v),
        Scalar::Float64(v) => serde_json::Number::from_f64(*v)
            .map(Json::Number)
            .unwrap_or_else(|| Json::String(v.to_string())),
        Scalar::Boolean(v) => Json::Bool(*v),
        Scalar::Date(d) => Json::String(format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)),
        Scalar::Timestamp(t) => timestamp_text(*t).map_or_else(|| Json::from(*t), Json::String),
    }
}

/// A cell as JSON: `null`, a scalar, or an array of scalars.
pub fn value_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Scalar(s) => scalar_json(s),
        Value::Repeated(items) => items.iter().map(scalar_json).collect(),
    }
}

/// A whole row as a JSON object keyed by column name.
pub fn row_json(columns: &[String], row: &Row) -> serde_json::Value {
    columns
        .iter()
        .zip(row)
        .map(|(name, value)| (name.clone(), value_json(value)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// A short rendering of a cell for error messages: `42`, `"text"`, `null`.
pub fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Scalar(s) => format!("{} {}", scalar_type_name(s), scalar_json(s)),
        Value::Repeated(items) => format!("list of {} {}", items.len(), value_json(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_both_ways_and_impossible_dates_are_none() {
        let date = NaiveDate::from_ymd_opt(2026, 1, 11).unwrap();
        assert_eq!(naive_date(wit_date(date)), Some(date));
        assert_eq!(
            naive_date(Date {
                year: 2026,
                month: 2,
                day: 30
            }),
            None
        );
    }

    #[test]
    fn timestamps_outside_bigquery_range_have_no_text() {
        assert_eq!(
            timestamp_text(0).as_deref(),
            Some("1970-01-01T00:00:00.000000Z")
        );
        assert_eq!(timestamp_micros("1970-01-01T00:00:00.000001Z"), Some(1));
        assert_eq!(timestamp_text(i64::MAX), None);
    }

    #[test]
    fn values_are_described_with_their_type() {
        assert_eq!(
            describe_value(&Value::Scalar(Scalar::Int64(1_700_000_000))),
            "INT64 1700000000"
        );
        assert_eq!(describe_value(&Value::Null), "null");
    }
}
