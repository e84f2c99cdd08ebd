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

use crate::column_batch::{Cell, ColumnBuilder, WrongCell, naive_days_since_epoch};
use crate::rows::{
    Scalar, Value, json_list_items, list_json_text, timestamp_micros, timestamp_text, wit_date,
};
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
        Value::Repeated(items) => ToSqlOutput::Owned(SqlValue::Text(list_json_text(items))),
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

/// A stored cell that does not read back as its column's type: the column,
/// what it takes and what the cell holds.
#[derive(Debug, thiserror::Error)]
pub enum UnreadableCell {
    /// The cell holds another type than the column's.
    #[error("`{column}` holds {found}, not {expected}")]
    WrongType {
        /// The column's name.
        column: String,
        /// What the cell holds.
        found: StoredCell,
        /// The column's type.
        expected: ColumnType,
    },
    /// The cell holds the column's type, but a value no row may hold: a
    /// NULL in a REQUIRED column, a FLOAT64 that is not finite, a BOOL
    /// other than 0 or 1. Only a row written past the host's validation
    /// (into a raw input, say) can hold one.
    #[error("`{column}` holds {found}: {rule}")]
    Refused {
        /// The column's name.
        column: String,
        /// What the cell holds.
        found: StoredCell,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// The cell holds the column's type as text, but text no row may hold:
    /// a NUMERIC that is no decimal of at most 38 digits (9 after the
    /// point), a JSON cell that is not valid JSON, or a list holding an
    /// item validation refuses. Only a row written past the host's
    /// validation (into a raw input, say) can hold one.
    #[error("`{column}` holds {found}: {problem}")]
    Invalid {
        /// The column's name.
        column: String,
        /// What the cell holds.
        found: StoredCell,
        /// What is wrong with it, as validation says.
        problem: String,
    },
    /// A REPEATED column's cell is neither null nor text.
    #[error("`{column}` holds {found}, not a list")]
    NotAList {
        /// The column's name.
        column: String,
        /// What the cell holds.
        found: StoredCell,
    },
    /// A REPEATED column's text is not a JSON array.
    #[error("`{column}` holds a malformed list: {source}")]
    MalformedList {
        /// The column's name.
        column: String,
        /// Why the text is not a JSON array.
        #[source]
        source: serde_json::Error,
    },
    /// An item of a REPEATED column's list is not of the column's type.
    #[error("`{column}` holds list item {item}, not {expected}")]
    BadListItem {
        /// The column's name.
        column: String,
        /// The item.
        item: serde_json::Value,
        /// The column's type.
        expected: ColumnType,
    },
    /// The value read does not fit the column being packed for a batch.
    #[error(transparent)]
    Packing(#[from] WrongCell),
}

/// What a stored cell holds, as an [`UnreadableCell`] names it: its
/// message reads `text "not-a-date"`, `integer 3` or `a blob of 4 bytes`.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredCell {
    /// NULL.
    Null,
    /// An INTEGER.
    Integer(i64),
    /// A REAL.
    Real(f64),
    /// TEXT (invalid UTF-8 replaced).
    Text(String),
    /// A BLOB, by its length in bytes.
    Blob(usize),
}

impl From<ValueRef<'_>> for StoredCell {
    fn from(cell: ValueRef<'_>) -> Self {
        match cell {
            ValueRef::Null => StoredCell::Null,
            ValueRef::Integer(v) => StoredCell::Integer(v),
            ValueRef::Real(v) => StoredCell::Real(v),
            ValueRef::Text(t) => StoredCell::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => StoredCell::Blob(b.len()),
        }
    }
}

impl std::fmt::Display for StoredCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredCell::Null => f.write_str("null"),
            StoredCell::Integer(v) => write!(f, "integer {v}"),
            StoredCell::Real(v) => write!(f, "real {v}"),
            StoredCell::Text(t) => write!(f, "text {t:?}"),
            StoredCell::Blob(length) => write!(f, "a blob of {length} bytes"),
        }
    }
}

/// The error for a cell that does not hold the column's type.
fn unexpected(cell: ValueRef<'_>, column: &Column) -> UnreadableCell {
    UnreadableCell::WrongType {
        column: column.name.clone(),
        found: cell.into(),
        expected: column.column_type,
    }
}

/// A NUMERIC or JSON cell's text, if validation takes it.
fn checked_text<'a>(cell: ValueRef<'a>, column: &Column) -> Result<&'a str, UnreadableCell> {
    let text = text(cell, column)?;
    match crate::validate::text_cell_problem(column.column_type, text) {
        None => Ok(text),
        Some(problem) => Err(UnreadableCell::Invalid {
            column: column.name.clone(),
            found: cell.into(),
            problem,
        }),
    }
}

/// The error for a cell of the column's type that breaks `rule`.
fn refused(cell: ValueRef<'_>, column: &Column, rule: &'static str) -> UnreadableCell {
    UnreadableCell::Refused {
        column: column.name.clone(),
        found: cell.into(),
        rule,
    }
}

/// A NULL cell's refusal when the column is REQUIRED.
fn null_in(cell: ValueRef<'_>, column: &Column) -> Result<(), UnreadableCell> {
    match column.mode {
        ColumnMode::Required => Err(refused(cell, column, "the column is REQUIRED")),
        _ => Ok(()),
    }
}

/// A FLOAT64 cell's value, which must be finite unless the column allows
/// NaN and infinities, as validation requires of every row the host writes.
fn float(cell: ValueRef<'_>, column: &Column) -> Result<f64, UnreadableCell> {
    let value = match cell {
        ValueRef::Real(v) => v,
        ValueRef::Integer(v) => v as f64,
        _ => text(cell, column)?
            .parse()
            .map_err(|_| unexpected(cell, column))?,
    };
    match value.is_finite() || column.allow_non_finite {
        true => Ok(value),
        false => Err(refused(
            cell,
            column,
            "the column does not accept NaN or infinity",
        )),
    }
}

/// A BOOL cell's value: stored as the integer 0 or 1, nothing else.
fn boolean(cell: ValueRef<'_>, column: &Column) -> Result<bool, UnreadableCell> {
    match cell {
        ValueRef::Integer(0) => Ok(false),
        ValueRef::Integer(1) => Ok(true),
        ValueRef::Integer(_) => Err(refused(cell, column, "a BOOL is stored as 0 or 1")),
        _ => Err(unexpected(cell, column)),
    }
}

/// A TEXT cell's text, or the error naming what the cell holds.
fn text<'c>(cell: ValueRef<'c>, column: &Column) -> Result<&'c str, UnreadableCell> {
    match cell {
        ValueRef::Text(t) => std::str::from_utf8(t).map_err(|_| unexpected(cell, column)),
        _ => Err(unexpected(cell, column)),
    }
}

/// A STRING cell's text, which holds no NUL character, as validation
/// requires of every row the host writes (PostgreSQL cannot keep one).
fn string<'c>(cell: ValueRef<'c>, column: &Column) -> Result<&'c str, UnreadableCell> {
    let text = text(cell, column)?;
    match text.contains('\0') {
        false => Ok(text),
        true => Err(refused(
            cell,
            column,
            "a STRING cannot hold a NUL character (\\0)",
        )),
    }
}

/// Reads a cell back as the column's type; the error names what was found.
pub fn from_sql(cell: ValueRef<'_>, column: &Column) -> Result<Value, UnreadableCell> {
    if column.mode == ColumnMode::Repeated {
        let list = match cell {
            ValueRef::Null => Ok(Value::Repeated(Vec::new())),
            ValueRef::Text(text) => {
                let malformed = |source| UnreadableCell::MalformedList {
                    column: column.name.clone(),
                    source,
                };
                if column.column_type == ColumnType::Json {
                    json_list_items(text)
                        .map(Value::Repeated)
                        .map_err(malformed)
                } else {
                    let items: Vec<serde_json::Value> =
                        serde_json::from_slice(text).map_err(malformed)?;
                    items
                        .iter()
                        .map(|item| scalar_from_json(item, column))
                        .collect::<Result<_, _>>()
                        .map(Value::Repeated)
                }
            }
            other => Err(UnreadableCell::NotAList {
                column: column.name.clone(),
                found: other.into(),
            }),
        }?;
        // Each item as validation takes it: a NUMERIC item a decimal, a
        // JSON item valid JSON, a FLOAT64 item finite.
        return match crate::validate::check_value(&list, column) {
            None => Ok(list),
            Some(problem) => Err(UnreadableCell::Invalid {
                column: column.name.clone(),
                found: cell.into(),
                problem,
            }),
        };
    }
    if let ValueRef::Null = cell {
        null_in(cell, column)?;
        return Ok(Value::Null);
    }
    let unexpected = || unexpected(cell, column);
    let text = || text(cell, column);
    let scalar = match column.column_type {
        ColumnType::String => Scalar::String(string(cell, column)?.to_string()),
        ColumnType::Numeric => Scalar::Numeric(checked_text(cell, column)?.to_string()),
        ColumnType::Json => Scalar::Json(checked_text(cell, column)?.to_string()),
        ColumnType::Int64 => match cell {
            ValueRef::Integer(v) => Scalar::Int64(v),
            _ => return Err(unexpected()),
        },
        ColumnType::Float64 => Scalar::Float64(float(cell, column)?),
        ColumnType::Bool => Scalar::Boolean(boolean(cell, column)?),
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
) -> Result<(), UnreadableCell> {
    if packed.packing().is_none() {
        let value = from_sql(cell, column)?;
        return Ok(packed.push_value(value)?);
    }
    let unexpected = || unexpected(cell, column);
    let text = || text(cell, column);
    let packed_cell = match (column.column_type, cell) {
        (_, ValueRef::Null) => {
            null_in(cell, column)?;
            packed.push_null();
            return Ok(());
        }
        (ColumnType::String, _) => Cell::Text(string(cell, column)?),
        (ColumnType::Numeric | ColumnType::Json, _) => Cell::Text(checked_text(cell, column)?),
        (ColumnType::Int64, ValueRef::Integer(v)) => Cell::Integer(v),
        (ColumnType::Float64, _) => Cell::Float(float(cell, column)?),
        (ColumnType::Bool, _) => Cell::Boolean(boolean(cell, column)?),
        (ColumnType::Date, _) => Cell::Day(naive_days_since_epoch(
            parse_date_key(text()?).ok_or_else(unexpected)?,
        )),
        (ColumnType::Timestamp, _) => {
            Cell::Integer(timestamp_micros(text()?).ok_or_else(unexpected)?)
        }
        _ => return Err(unexpected()),
    };
    Ok(packed.push(packed_cell)?)
}

fn scalar_from_json(item: &serde_json::Value, column: &Column) -> Result<Scalar, UnreadableCell> {
    let bad = || UnreadableCell::BadListItem {
        column: column.name.clone(),
        item: item.clone(),
        expected: column.column_type,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_of_another_type_is_unreadable_naming_the_column_and_what_it_holds() {
        let day = Column::new("day", ColumnType::Date, ColumnMode::Required);
        let error = from_sql(ValueRef::Text(b"not-a-date"), &day).unwrap_err();
        assert!(
            matches!(
                &error,
                UnreadableCell::WrongType { column, found: StoredCell::Text(text), expected }
                    if column == "day" && text == "not-a-date" && *expected == ColumnType::Date
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "`day` holds text \"not-a-date\", not DATE"
        );
        let count = Column::new("n", ColumnType::Int64, ColumnMode::Nullable);
        let error = from_sql(ValueRef::Blob(&[0; 4]), &count).unwrap_err();
        assert_eq!(error.to_string(), "`n` holds a blob of 4 bytes, not INT64");
    }

    #[test]
    fn a_value_no_validated_row_may_hold_is_refused_by_both_readers() {
        let required = Column::new("points", ColumnType::Int64, ColumnMode::Required);
        let minutes = Column::new("minutes", ColumnType::Float64, ColumnMode::Nullable);
        let home = Column::new("is_home", ColumnType::Bool, ColumnMode::Nullable);
        let name = Column::new("player_name", ColumnType::String, ColumnMode::Nullable);
        let cases: [(&Column, ValueRef<'_>, &str); 6] = [
            (
                &name,
                ValueRef::Text(b"Cal\0eb"),
                "`player_name` holds text \"Cal\\0eb\": a STRING cannot hold a NUL character (\\0)",
            ),
            (
                &required,
                ValueRef::Null,
                "`points` holds null: the column is REQUIRED",
            ),
            (
                &minutes,
                ValueRef::Text(b"inf"),
                "`minutes` holds text \"inf\": the column does not accept NaN or infinity",
            ),
            (
                &minutes,
                ValueRef::Text(b"NaN"),
                "`minutes` holds text \"NaN\": the column does not accept NaN or infinity",
            ),
            (
                &minutes,
                ValueRef::Real(f64::NEG_INFINITY),
                "`minutes` holds real -inf: the column does not accept NaN or infinity",
            ),
            (
                &home,
                ValueRef::Integer(7),
                "`is_home` holds integer 7: a BOOL is stored as 0 or 1",
            ),
        ];
        for (column, cell, message) in cases {
            assert_eq!(from_sql(cell, column).unwrap_err().to_string(), message);
            let mut packed = ColumnBuilder::new(
                column.name.clone(),
                crate::column_batch::Packing::of_column(column),
            );
            assert_eq!(
                push_sql(cell, column, &mut packed).unwrap_err().to_string(),
                message
            );
        }

        // What validation lets through still reads.
        let mut lenient = minutes.clone();
        lenient.allow_non_finite = true;
        assert!(from_sql(ValueRef::Text(b"NaN"), &lenient).is_ok());
        assert!(matches!(
            from_sql(ValueRef::Null, &minutes),
            Ok(Value::Null)
        ));
        assert!(matches!(
            from_sql(ValueRef::Integer(1), &home),
            Ok(Value::Scalar(Scalar::Boolean(true)))
        ));
    }

    #[test]
    fn a_bad_list_is_unreadable_naming_the_column_and_the_item_or_the_json_error() {
        let tags = Column::new("tags", ColumnType::Int64, ColumnMode::Repeated);
        let error = from_sql(ValueRef::Text(b"[1, \"two\"]"), &tags).unwrap_err();
        assert!(
            matches!(
                &error,
                UnreadableCell::BadListItem { column, item, expected: ColumnType::Int64 }
                    if column == "tags" && item == "two"
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "`tags` holds list item \"two\", not INT64"
        );
        let error = from_sql(ValueRef::Text(b"[1,"), &tags).unwrap_err();
        let UnreadableCell::MalformedList { column, source } = &error else {
            panic!("not a malformed list: {error:?}");
        };
        assert_eq!((column.as_str(), source.is_eof()), ("tags", true));
        assert_eq!(
            error.to_string(),
            format!("`tags` holds a malformed list: {source}")
        );
        let error = from_sql(ValueRef::Integer(3), &tags).unwrap_err();
        assert_eq!(error.to_string(), "`tags` holds integer 3, not a list");
    }
}
