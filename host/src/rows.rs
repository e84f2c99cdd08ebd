//! The values that cross the component boundary, and their conversions.
//!
//! Rows are the WIT `row-set`: column names once, then positional typed
//! values. The host uses the generated types directly, so rows returned by
//! a plugin are validated and written without another conversion.

use chrono::{DateTime, Datelike, NaiveDate};

use crate::schema::{Column, ColumnMode, ColumnType};

pub use crate::bindings::{Date, Row, RowSet, Scalar, Value};

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

/// Parses an RFC 3339 timestamp into microseconds since the epoch; `None`
/// for text that is not one, or a leap second.
pub fn timestamp_micros(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        // A leap second (`23:59:60`) is no TIMESTAMP: BigQuery refuses it,
        // and read as the next second it would be another value than
        // written.
        .filter(|t| t.timestamp_subsec_nanos() < 1_000_000_000)
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

/// A list as the JSON array text the stores keep: each JSON item as the
/// processor wrote it, the others as [`scalar_json`] gives them. Parsed and
/// written again, a JSON item would change: a number past a double's
/// precision rounded, keys reordered, a duplicate key dropped.
pub fn list_json_text(items: &[Scalar]) -> String {
    let mut text = String::from("[");
    for (at, item) in items.iter().enumerate() {
        if at > 0 {
            text.push(',');
        }
        text.push_str(&scalar_json_text(item));
    }
    text.push(']');
    text
}

/// A scalar as JSON text: a JSON cell that is valid JSON as the processor
/// wrote it, anything else as [`scalar_json`] gives it.
fn scalar_json_text(scalar: &Scalar) -> String {
    match scalar {
        Scalar::Json(raw) if serde_json::from_str::<serde::de::IgnoredAny>(raw).is_ok() => {
            raw.trim().to_string()
        }
        other => scalar_json(other).to_string(),
    }
}

/// A cell as JSON text, as [`value_json`] gives it but with each JSON
/// value kept as written ([`list_json_text`]).
pub fn value_json_text(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Scalar(scalar) => scalar_json_text(scalar),
        Value::Repeated(items) => list_json_text(items),
    }
}

/// The items of a JSON column's list, from the array text
/// [`list_json_text`] wrote, each exactly as written.
pub fn json_list_items(text: &[u8]) -> Result<Vec<Scalar>, serde_json::Error> {
    let items: Vec<Box<serde_json::value::RawValue>> = serde_json::from_slice(text)?;
    Ok(items
        .into_iter()
        .map(|item| Scalar::Json(item.get().to_string()))
        .collect())
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

/// The most bytes of a cell [`describe_value`] renders.
pub const DESCRIBED_VALUE_BYTES: usize = 256;

/// A short rendering of a cell for error messages: `42`, `"text"`, `null`;
/// past [`DESCRIBED_VALUE_BYTES`], cut short, saying how much was left out.
pub fn describe_value(value: &Value) -> String {
    let described = match value {
        Value::Null => "null".to_string(),
        // As written: parsed, `2^70` would read 1.1805916207174113e+21.
        // Its white space may hold line feeds and carriage returns, which
        // would break the message's line, or draw over it: escaped.
        Value::Scalar(Scalar::Json(text)) => {
            format!("JSON {}", crate::printable::one_line(text))
        }
        Value::Scalar(s) => format!("{} {}", scalar_type_name(s), scalar_json(s)),
        Value::Repeated(items) => format!("list of {} {}", items.len(), list_json_text(items)),
    };
    cut_short(described, DESCRIBED_VALUE_BYTES)
}

/// `text`, cut to at most `max` bytes (on a character boundary) with a
/// note of how many more it held: what a message quoting untrusted text
/// keeps of it, so that a processor cannot make the host's messages, logs
/// or run history as large as it likes.
pub fn cut_short(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let left_out = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("… ({left_out} more bytes)"));
    text
}

/// A JSON or CSV cell that is not a value of its column: the column, what
/// it takes and what the cell holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, got {found}")]
pub struct CellMismatch {
    /// The column's name.
    pub column: String,
    /// What the column takes.
    pub expected: Expected,
    /// What the cell holds.
    pub found: Found,
}

/// What a column takes, as a [`CellMismatch`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// One value of this type.
    Scalar(ColumnType),
    /// A list of values of this type (a REPEATED column).
    List(ColumnType),
    /// A REPEATED column's CSV cell: a JSON array.
    JsonList,
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expected::Scalar(column_type) => write!(f, "{column_type}"),
            Expected::List(column_type) => write!(f, "a list of {column_type}"),
            Expected::JsonList => f.write_str("a JSON list"),
        }
    }
}

/// What a cell that does not fit its column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A JSON value (an NDJSON field, or a CSV cell once parsed).
    Json(serde_json::Value),
    /// The text of a CSV cell, as written.
    Text(String),
    /// A JSON value as written in its file (`99999999999999999999`, which
    /// parsed would read `1e+20`).
    Written(String),
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Found::Json(json) => write!(f, "{json}"),
            Found::Text(text) => write!(f, "{text:?}"),
            Found::Written(text) => f.write_str(text),
        }
    }
}

/// Reads a JSON value as a cell of `column`, the inverse of [`value_json`].
/// The error says what was expected and what was found.
pub fn value_from_json(column: &Column, json: &serde_json::Value) -> Result<Value, CellMismatch> {
    match (json, column.mode) {
        (serde_json::Value::Null, ColumnMode::Repeated) => Ok(Value::Repeated(Vec::new())),
        (serde_json::Value::Null, _) => Ok(Value::Null),
        (serde_json::Value::Array(items), ColumnMode::Repeated) => items
            .iter()
            .map(|item| scalar_from_json(column, item))
            .collect::<Result<_, _>>()
            .map(Value::Repeated),
        (other, ColumnMode::Repeated) => Err(CellMismatch {
            column: column.name.clone(),
            expected: Expected::List(column.column_type),
            found: Found::Json(other.clone()),
        }),
        (other, _) => scalar_from_json(column, other).map(Value::Scalar),
    }
}

fn scalar_from_json(column: &Column, json: &serde_json::Value) -> Result<Scalar, CellMismatch> {
    use serde_json::Value as Json;
    let expected = || CellMismatch {
        column: column.name.clone(),
        expected: Expected::Scalar(column.column_type),
        found: Found::Json(json.clone()),
    };
    Ok(match (column.column_type, json) {
        (ColumnType::String, Json::String(s)) => Scalar::String(s.clone()),
        (ColumnType::Int64, Json::Number(n)) => Scalar::Int64(n.as_i64().ok_or_else(expected)?),
        (ColumnType::Float64, Json::Number(n)) => Scalar::Float64(n.as_f64().ok_or_else(expected)?),
        (ColumnType::Float64, Json::String(s)) => {
            Scalar::Float64(s.parse().map_err(|_| expected())?)
        }
        (ColumnType::Numeric, Json::String(s)) => Scalar::Numeric(s.clone()),
        (ColumnType::Numeric, Json::Number(n)) => Scalar::Numeric(n.to_string()),
        (ColumnType::Bool, Json::Bool(b)) => Scalar::Boolean(*b),
        // Exactly YYYY-MM-DD, as everywhere: `2026-1-11` is no date here
        // either, or a fixture would pass that the store refuses.
        (ColumnType::Date, Json::String(s)) => {
            Scalar::Date(wit_date(crate::dates::parse(s).map_err(|_| expected())?))
        }
        (ColumnType::Timestamp, Json::String(s)) => {
            Scalar::Timestamp(timestamp_micros(s).ok_or_else(expected)?)
        }
        (ColumnType::Json, other) => Scalar::Json(other.to_string()),
        _ => return Err(expected()),
    })
}

/// Reads a JSON cell as written (a fixture's field) as a cell of `column`,
/// as [`value_from_json`] does but keeping what parsing would change: a
/// JSON column's value (its key order, a repeated key, a number past a
/// double's precision) and a NUMERIC given as a JSON number (its digits),
/// each exactly as written, item by item in a list. Validation then takes
/// or refuses them as production does.
pub fn value_from_raw_json(
    column: &Column,
    raw: &serde_json::value::RawValue,
) -> Result<Value, CellMismatch> {
    let text = raw.get().trim();
    if text == "null" {
        return value_from_json(column, &serde_json::Value::Null);
    }
    if column.mode != ColumnMode::Repeated {
        return scalar_from_raw_json(column, raw).map(Value::Scalar);
    }
    let items: Vec<&serde_json::value::RawValue> =
        serde_json::from_str(text).map_err(|_| CellMismatch {
            column: column.name.clone(),
            expected: Expected::List(column.column_type),
            found: Found::Json(serde_json::from_str(text).unwrap_or_default()),
        })?;
    items
        .into_iter()
        .map(|item| scalar_from_raw_json(column, item))
        .collect::<Result<_, _>>()
        .map(Value::Repeated)
}

/// One scalar of [`value_from_raw_json`].
fn scalar_from_raw_json(
    column: &Column,
    raw: &serde_json::value::RawValue,
) -> Result<Scalar, CellMismatch> {
    let text = raw.get().trim();
    let is_number = text.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    match column.column_type {
        ColumnType::Json => Ok(Scalar::Json(text.to_string())),
        ColumnType::Numeric if is_number => Ok(Scalar::Numeric(text.to_string())),
        _ => {
            let parsed: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            // A mismatch quotes the value as written, not as parsed.
            scalar_from_json(column, &parsed).map_err(|mismatch| CellMismatch {
                found: Found::Written(text.to_string()),
                ..mismatch
            })
        }
    }
}

/// Whether `text` spells NaN or an infinity (`inf`, `-Infinity`, `NaN`),
/// as Rust's float parser reads them, rather than a number.
fn spells_nan_or_infinity(text: &str) -> bool {
    let bare = text.trim_start_matches(['-', '+']).to_ascii_lowercase();
    matches!(bare.as_str(), "nan" | "inf" | "infinity")
}

/// Reads CSV text as a cell of `column`: empty is null (an empty list when
/// REPEATED), a REPEATED cell is a JSON array, anything else is parsed as
/// the column's type.
pub fn value_from_text(column: &Column, text: &str) -> Result<Value, CellMismatch> {
    if text.is_empty() {
        return value_from_json(column, &serde_json::Value::Null);
    }
    let mismatch = |expected| CellMismatch {
        column: column.name.clone(),
        expected,
        found: Found::Text(text.to_string()),
    };
    if column.mode == ColumnMode::Repeated {
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(text).map_err(|_| mismatch(Expected::JsonList))?;
        return value_from_raw_json(column, raw);
    }
    let expected = || mismatch(Expected::Scalar(column.column_type));
    let json = match column.column_type {
        ColumnType::Int64 => serde_json::Value::from(text.parse::<i64>().map_err(|_| expected())?),
        // JSON has no NaN or infinity (serde_json makes them null): those
        // go on as text, which reads as the float it spells. A number past
        // FLOAT64's range (1e400) spells none: it is refused as written,
        // not as the infinity it would read as.
        ColumnType::Float64 => match text.parse::<f64>().map_err(|_| expected())? {
            value if value.is_finite() => serde_json::Value::from(value),
            _ if !spells_nan_or_infinity(text) => return Err(expected()),
            _ => serde_json::Value::String(text.to_string()),
        },
        ColumnType::Bool => match text {
            "true" | "TRUE" | "1" => serde_json::Value::Bool(true),
            "false" | "FALSE" | "0" => serde_json::Value::Bool(false),
            _ => return Err(expected()),
        },
        // As written: parsed and written again, it would change.
        ColumnType::Json => {
            let raw: &serde_json::value::RawValue =
                serde_json::from_str(text).map_err(|_| expected())?;
            return value_from_raw_json(column, raw);
        }
        _ => serde_json::Value::String(text.to_string()),
    };
    value_from_json(column, &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before, `23:59:60` was taken as the next second: a fixture or a raw
    /// cell read another instant than the one written.
    #[test]
    fn a_leap_second_is_no_timestamp() {
        assert_eq!(timestamp_micros("2016-12-31T23:59:60Z"), None);
        assert_eq!(
            timestamp_micros("2016-12-31T23:59:59.999999Z"),
            Some(1_483_228_799_999_999)
        );
        assert_eq!(
            timestamp_micros("2017-01-01T00:00:00Z"),
            Some(1_483_228_800_000_000)
        );
    }

    #[test]
    fn a_long_value_is_described_cut_short_saying_how_much_was_left_out() {
        let huge = Value::Scalar(Scalar::String("é".repeat(100_000)));
        let described = describe_value(&huge);
        assert!(
            described.len() < DESCRIBED_VALUE_BYTES + 40,
            "{}",
            described.len()
        );
        assert!(described.starts_with("STRING \"éé"), "{described}");
        assert!(described.ends_with(" more bytes)"), "{described}");
        assert_eq!(cut_short("short".into(), 10), "short");
        assert_eq!(cut_short("abcdef".into(), 3), "abc… (3 more bytes)");
    }

    #[test]
    fn a_date_in_json_is_exactly_yyyy_mm_dd() {
        let day = Column::new("d", ColumnType::Date, ColumnMode::Required);
        assert!(value_from_json(&day, &serde_json::json!("2026-01-11")).is_ok());
        for loose in ["2026-1-11", "2026-02-30", "20260111", " 2026-01-11"] {
            assert!(
                value_from_json(&day, &serde_json::json!(loose)).is_err(),
                "{loose}"
            );
        }
    }

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

    /// An error quotes the JSON a processor sent: parsed, 2^70 read
    /// `1.1805916207174113e+21`, which a double holds, so the message did
    /// not show why it was refused.
    #[test]
    fn json_is_described_as_written() {
        let two_to_the_70 = Scalar::Json("1180591620717411303424".into());
        assert_eq!(
            describe_value(&Value::Scalar(two_to_the_70.clone())),
            "JSON 1180591620717411303424"
        );
        assert_eq!(
            describe_value(&Value::Repeated(vec![two_to_the_70, Scalar::Int64(1)])),
            "list of 2 [1180591620717411303424,1]"
        );
        // White space of the JSON text that would break or rewrite the line.
        let spaced = Scalar::Json(" {\"a\":\r\n 1}\n".into());
        assert_eq!(
            describe_value(&Value::Scalar(spaced)),
            "JSON  {\"a\":\\r\\n 1}\\n"
        );
    }

    #[test]
    fn json_and_csv_cells_are_read_by_the_column_type() {
        let int = Column::new("n", ColumnType::Int64, ColumnMode::Required);
        assert_eq!(
            value_from_json(&int, &serde_json::json!(3)),
            Ok(Value::Scalar(Scalar::Int64(3)))
        );
        assert_eq!(
            value_from_json(&int, &serde_json::json!("3")).unwrap_err(),
            CellMismatch {
                column: "n".into(),
                expected: Expected::Scalar(ColumnType::Int64),
                found: Found::Json(serde_json::json!("3")),
            }
        );
        assert_eq!(
            value_from_text(&int, "3"),
            Ok(Value::Scalar(Scalar::Int64(3)))
        );
        assert_eq!(
            value_from_text(&int, "three").unwrap_err(),
            CellMismatch {
                column: "n".into(),
                expected: Expected::Scalar(ColumnType::Int64),
                found: Found::Text("three".into()),
            }
        );
        let day = Column::new("d", ColumnType::Date, ColumnMode::Nullable);
        assert_eq!(value_from_text(&day, ""), Ok(Value::Null));
        let tags = Column::new("t", ColumnType::String, ColumnMode::Repeated);
        assert_eq!(
            value_from_text(&tags, "[\"a\"]"),
            Ok(Value::Repeated(vec![Scalar::String("a".into())]))
        );
        let stamp = Column::new("s", ColumnType::Timestamp, ColumnMode::Required);
        let round_trip = value_json(&Value::Scalar(Scalar::Timestamp(1_767_225_600_000_001)));
        assert_eq!(
            value_from_json(&stamp, &round_trip),
            Ok(Value::Scalar(Scalar::Timestamp(1_767_225_600_000_001)))
        );
    }

    #[test]
    fn a_mismatch_names_the_column_what_it_takes_and_what_the_cell_holds() {
        let int = Column::new("n", ColumnType::Int64, ColumnMode::Required);
        let tags = Column::new("tags", ColumnType::String, ColumnMode::Repeated);
        let error = value_from_json(&int, &serde_json::json!("3")).unwrap_err();
        assert_eq!(error.to_string(), "expected INT64, got \"3\"");
        let error = value_from_text(&int, "three").unwrap_err();
        assert_eq!(error.to_string(), "expected INT64, got \"three\"");
        let error = value_from_json(&tags, &serde_json::json!("a")).unwrap_err();
        assert_eq!(
            (error.column.as_str(), error.expected),
            ("tags", Expected::List(ColumnType::String))
        );
        assert_eq!(error.to_string(), "expected a list of STRING, got \"a\"");
        let error = value_from_text(&tags, "a,b").unwrap_err();
        assert_eq!(
            (error.expected, &error.found),
            (Expected::JsonList, &Found::Text("a,b".into()))
        );
        assert_eq!(error.to_string(), "expected a JSON list, got \"a,b\"");
        let error = value_from_json(&tags, &serde_json::json!([1])).unwrap_err();
        assert_eq!(
            (error.expected, error.found),
            (
                Expected::Scalar(ColumnType::String),
                Found::Json(serde_json::json!(1))
            )
        );
    }
}
