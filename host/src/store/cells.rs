//! How typed values are kept in SQLite cells, and read back by schema.
//!
//! | type              | SQLite cell                                  |
//! |-------------------|----------------------------------------------|
//! | STRING, NUMERIC, JSON | TEXT                                     |
//! | INT64             | INTEGER                                      |
//! | FLOAT64           | REAL; NaN and infinities as TEXT             |
//! | BOOL              | INTEGER 0 or 1                               |
//! | DATE              | TEXT `YYYY-MM-DD` (sorts by date)            |
//! | TIMESTAMP         | TEXT RFC 3339 with microseconds, UTC         |
//! | REPEATED          | TEXT: a JSON array of the values             |

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};

use crate::column_batch::{Cell, ColumnBuilder, naive_days_since_epoch};
use crate::rows::{Scalar, Value, scalar_json, timestamp_micros, timestamp_text, wit_date};
use crate::schema::{Column, ColumnMode, ColumnType};

/// The SQLite column type for a schema column.
pub fn sql_type(column: &Column) -> &'static str {
    if column.mode == ColumnMode::Repeated {
        return "TEXT";
    }
    match column.column_type {
        ColumnType::Int64 | ColumnType::Bool => "INTEGER",
        ColumnType::Float64 => "REAL",
        _ => "TEXT",
    }
}

/// The SQLite cell for a value; borrowed where no formatting is needed.
pub fn to_sql(value: &Value) -> ToSqlOutput<'_> {
    match value {
        Value::Null => ToSqlOutput::Owned(SqlValue::Null),
        Value::Scalar(scalar) => scalar_to_sql(scalar),
        Value::Repeated(items) => ToSqlOutput::Owned(SqlValue::Text(
            serde_json::Value::Array(items.iter().map(scalar_json).collect()).to_string(),
        )),
    }
}

fn scalar_to_sql(scalar: &Scalar) -> ToSqlOutput<'_> {
    match scalar {
        Scalar::String(s) | Scalar::Numeric(s) | Scalar::Json(s) => {
            ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
        }
        Scalar::Int64(v) => ToSqlOutput::Owned(SqlValue::Integer(*v)),
        Scalar::Float64(v) if v.is_finite() => ToSqlOutput::Owned(SqlValue::Real(*v)),
        Scalar::Float64(v) => ToSqlOutput::Owned(SqlValue::Text(v.to_string())),
        Scalar::Boolean(v) => ToSqlOutput::Owned(SqlValue::Integer(i64::from(*v))),
        Scalar::Date(d) => ToSqlOutput::Owned(SqlValue::Text(format!(
            "{:04}-{:02}-{:02}",
            d.year, d.month, d.day
        ))),
        Scalar::Timestamp(t) => ToSqlOutput::Owned(SqlValue::Text(
            timestamp_text(*t).unwrap_or_else(|| t.to_string()),
        )),
    }
}

/// A stored cell as an error message names it, e.g. `text "not-a-date"`.
fn describe(cell: ValueRef<'_>) -> String {
    match cell {
        ValueRef::Null => "null".to_string(),
        ValueRef::Integer(v) => format!("integer {v}"),
        ValueRef::Real(v) => format!("real {v}"),
        ValueRef::Text(t) => format!("text {:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("a blob of {} bytes", b.len()),
    }
}

/// The error for a cell that does not hold the column's type.
fn unexpected(cell: ValueRef<'_>, column: &Column) -> String {
    format!(
        "`{}` holds {}, not {}",
        column.name,
        describe(cell),
        column.column_type
    )
}

/// A TEXT cell's text, or the error naming what the cell holds.
fn text<'c>(cell: ValueRef<'c>, column: &Column) -> Result<&'c str, String> {
    match cell {
        ValueRef::Text(t) => std::str::from_utf8(t).map_err(|_| unexpected(cell, column)),
        _ => Err(unexpected(cell, column)),
    }
}

/// Reads a cell back as the column's type; the error names what was found.
pub fn from_sql(cell: ValueRef<'_>, column: &Column) -> Result<Value, String> {
    if column.mode == ColumnMode::Repeated {
        return match cell {
            ValueRef::Null => Ok(Value::Repeated(Vec::new())),
            ValueRef::Text(text) => {
                let items: Vec<serde_json::Value> = serde_json::from_slice(text)
                    .map_err(|e| format!("`{}` holds a malformed list: {e}", column.name))?;
                items
                    .iter()
                    .map(|item| scalar_from_json(item, column))
                    .collect::<Result<_, _>>()
                    .map(Value::Repeated)
            }
            other => Err(format!(
                "`{}` holds {}, not a list",
                column.name,
                describe(other)
            )),
        };
    }
    if let ValueRef::Null = cell {
        return Ok(Value::Null);
    }
    let unexpected = || unexpected(cell, column);
    let text = || text(cell, column);
    let scalar = match column.column_type {
        ColumnType::String => Scalar::String(text()?.to_string()),
        ColumnType::Numeric => Scalar::Numeric(text()?.to_string()),
        ColumnType::Json => Scalar::Json(text()?.to_string()),
        ColumnType::Int64 => match cell {
            ValueRef::Integer(v) => Scalar::Int64(v),
            _ => return Err(unexpected()),
        },
        ColumnType::Float64 => match cell {
            ValueRef::Real(v) => Scalar::Float64(v),
            ValueRef::Integer(v) => Scalar::Float64(v as f64),
            _ => Scalar::Float64(text()?.parse().map_err(|_| unexpected())?),
        },
        ColumnType::Bool => match cell {
            ValueRef::Integer(v) => Scalar::Boolean(v != 0),
            _ => return Err(unexpected()),
        },
        ColumnType::Date => Scalar::Date(parse_date(text()?).ok_or_else(unexpected)?),
        ColumnType::Timestamp => {
            Scalar::Timestamp(timestamp_micros(text()?).ok_or_else(unexpected)?)
        }
    };
    Ok(Value::Scalar(scalar))
}

fn parse_date(text: &str) -> Option<crate::rows::Date> {
    parse_date_key(text).map(wit_date)
}

/// Appends a cell to a column being packed for a batch, as the column's
/// type, without making a [`Value`] of it (but for REPEATED columns, which
/// keep one value per row); the error names what was found.
pub fn push_sql(
    cell: ValueRef<'_>,
    column: &Column,
    packed: &mut ColumnBuilder,
) -> Result<(), String> {
    if packed.packing().is_none() {
        let value = from_sql(cell, column)?;
        return packed.push_value(value).map_err(|e| e.to_string());
    }
    let unexpected = || unexpected(cell, column);
    let text = || text(cell, column);
    let packed_cell = match (column.column_type, cell) {
        (_, ValueRef::Null) => {
            packed.push_null();
            return Ok(());
        }
        (ColumnType::String | ColumnType::Numeric | ColumnType::Json, _) => Cell::Text(text()?),
        (ColumnType::Int64, ValueRef::Integer(v)) => Cell::Integer(v),
        (ColumnType::Float64, ValueRef::Real(v)) => Cell::Float(v),
        (ColumnType::Float64, ValueRef::Integer(v)) => Cell::Float(v as f64),
        (ColumnType::Float64, _) => Cell::Float(text()?.parse().map_err(|_| unexpected())?),
        (ColumnType::Bool, ValueRef::Integer(v)) => Cell::Boolean(v != 0),
        (ColumnType::Date, _) => Cell::Day(naive_days_since_epoch(
            parse_date_key(text()?).ok_or_else(unexpected)?,
        )),
        (ColumnType::Timestamp, _) => {
            Cell::Integer(timestamp_micros(text()?).ok_or_else(unexpected)?)
        }
        _ => return Err(unexpected()),
    };
    packed.push(packed_cell).map_err(|e| e.to_string())
}

fn scalar_from_json(item: &serde_json::Value, column: &Column) -> Result<Scalar, String> {
    let bad = || {
        format!(
            "`{}` holds list item {item}, not {}",
            column.name, column.column_type
        )
    };
    Ok(match column.column_type {
        ColumnType::String => Scalar::String(item.as_str().ok_or_else(bad)?.to_string()),
        ColumnType::Numeric => Scalar::Numeric(item.as_str().ok_or_else(bad)?.to_string()),
        ColumnType::Json => Scalar::Json(item.to_string()),
        ColumnType::Int64 => Scalar::Int64(item.as_i64().ok_or_else(bad)?),
        ColumnType::Float64 => Scalar::Float64(match item {
            serde_json::Value::String(s) => s.parse().map_err(|_| bad())?,
            other => other.as_f64().ok_or_else(bad)?,
        }),
        ColumnType::Bool => Scalar::Boolean(item.as_bool().ok_or_else(bad)?),
        ColumnType::Date => Scalar::Date(item.as_str().and_then(parse_date).ok_or_else(bad)?),
        ColumnType::Timestamp => {
            Scalar::Timestamp(item.as_str().and_then(timestamp_micros).ok_or_else(bad)?)
        }
    })
}

/// The partition key text of a date, as stored.
pub fn date_key(date: chrono::NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// A stored date back as a date, if it is one.
pub fn parse_date_key(text: &str) -> Option<chrono::NaiveDate> {
    text.parse().ok()
}
