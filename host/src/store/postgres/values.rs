//! How typed values are kept in PostgreSQL columns: written as the text
//! of a `COPY ... FROM STDIN`, read back by type.
//!
//! | type      | PostgreSQL column                                 |
//! |-----------|---------------------------------------------------|
//! | STRING    | TEXT                                              |
//! | INT64     | BIGINT                                            |
//! | FLOAT64   | DOUBLE PRECISION (NaN and infinities included)    |
//! | NUMERIC   | NUMERIC, unconstrained, so its text reads back as written |
//! | BOOL      | BOOLEAN                                           |
//! | DATE      | DATE                                              |
//! | TIMESTAMP | TIMESTAMPTZ (microseconds, as BigQuery keeps)     |
//! | JSON      | JSON, which keeps the document's text             |
//! | REPEATED  | JSON: an array of the values                      |

use chrono::{DateTime, Utc};
use postgres::Row as SqlRow;

use super::quote;
use crate::column_batch::{Cell, ColumnBuilder, naive_days_since_epoch};
use crate::rows::{
    Scalar, Value, json_list_items, list_json_text, timestamp_text, value_from_json, wit_date,
};
use crate::schema::{Column, ColumnMode, ColumnType};

/// The PostgreSQL column type for a schema column.
pub(super) fn sql_type(column: &Column) -> &'static str {
    if column.mode == ColumnMode::Repeated {
        return "JSON";
    }
    match column.column_type {
        ColumnType::String => "TEXT",
        ColumnType::Int64 => "BIGINT",
        ColumnType::Float64 => "DOUBLE PRECISION",
        ColumnType::Numeric => "NUMERIC",
        ColumnType::Bool => "BOOLEAN",
        ColumnType::Date => "DATE",
        ColumnType::Timestamp => "TIMESTAMPTZ",
        ColumnType::Json => "JSON",
    }
}

/// How a column is selected: the types the client has no Rust type for
/// are read as their text.
pub(super) fn select_expression(column: &Column) -> String {
    let name = quote(&column.name);
    let as_text = column.mode == ColumnMode::Repeated
        || matches!(column.column_type, ColumnType::Numeric | ColumnType::Json);
    if as_text {
        format!("{name}::text")
    } else {
        name
    }
}

/// Appends `value` to a line of `COPY`'s text format: `\N` for NULL, and
/// backslash, tab, newline and carriage return escaped.
pub(super) fn push_copy_text(line: &mut String, value: &Value) {
    match value {
        Value::Null => line.push_str("\\N"),
        Value::Scalar(scalar) => push_scalar(line, scalar),
        Value::Repeated(items) => push_escaped(line, &list_json_text(items)),
    }
}

fn push_scalar(line: &mut String, scalar: &Scalar) {
    use std::fmt::Write;
    match scalar {
        Scalar::String(s) | Scalar::Numeric(s) | Scalar::Json(s) => push_escaped(line, s),
        Scalar::Int64(v) => {
            let _ = write!(line, "{v}");
        }
        Scalar::Float64(v) if v.is_nan() => line.push_str("NaN"),
        Scalar::Float64(v) if v.is_infinite() => {
            line.push_str(if *v > 0.0 { "Infinity" } else { "-Infinity" })
        }
        Scalar::Float64(v) => {
            let _ = write!(line, "{v:?}");
        }
        Scalar::Boolean(v) => line.push(if *v { 't' } else { 'f' }),
        Scalar::Date(d) => {
            let _ = write!(line, "{:04}-{:02}-{:02}", d.year, d.month, d.day);
        }
        Scalar::Timestamp(micros) => match timestamp_text(*micros) {
            Some(text) => line.push_str(&text),
            // Outside years 1 to 9999: PostgreSQL refuses the number,
            // naming the column and row.
            None => {
                let _ = write!(line, "{micros}");
            }
        },
    }
}

fn push_escaped(line: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => line.push_str("\\\\"),
            '\t' => line.push_str("\\t"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            c => line.push(c),
        }
    }
}

/// A cell that does not read back as its column's type.
#[derive(Debug, thiserror::Error)]
#[error("`{column}`: {reason}")]
pub(super) struct UnreadableCell {
    column: String,
    reason: String,
}

/// The cell at `index` of `row`, in `column`, to read as the type asked for.
struct CellAt<'a> {
    row: &'a SqlRow,
    index: usize,
    column: &'a Column,
}

impl<'a> CellAt<'a> {
    /// The cell as a `T`, `None` for NULL; an error names the column.
    fn read<T: postgres::types::FromSql<'a>>(&self) -> Result<Option<T>, UnreadableCell> {
        self.row.try_get(self.index).map_err(|e| UnreadableCell {
            column: self.column.name.clone(),
            reason: e.to_string(),
        })
    }
}

/// Reads the cell at `index` of `row` as `column`'s type, as selected by
/// [`select_expression`].
pub(super) fn read_cell(
    row: &SqlRow,
    index: usize,
    column: &Column,
) -> Result<Value, UnreadableCell> {
    let unreadable = |reason: String| UnreadableCell {
        column: column.name.clone(),
        reason,
    };
    let typed = |e: postgres::Error| unreadable(e.to_string());
    if column.mode == ColumnMode::Repeated {
        let text: Option<String> = row.try_get(index).map_err(typed)?;
        let Some(text) = text else {
            return Ok(Value::Repeated(Vec::new()));
        };
        let malformed = |e| unreadable(format!("holds a malformed list: {e}"));
        if column.column_type == ColumnType::Json {
            return json_list_items(text.as_bytes())
                .map(Value::Repeated)
                .map_err(malformed);
        }
        let json: serde_json::Value = serde_json::from_str(&text).map_err(malformed)?;
        return value_from_json(column, &json).map_err(|e| unreadable(e.to_string()));
    }
    let cell = CellAt { row, index, column };
    let scalar = match column.column_type {
        ColumnType::String => cell.read()?.map(Scalar::String),
        ColumnType::Numeric => cell.read()?.map(Scalar::Numeric),
        ColumnType::Json => cell.read()?.map(Scalar::Json),
        ColumnType::Int64 => cell.read()?.map(Scalar::Int64),
        ColumnType::Float64 => cell.read()?.map(Scalar::Float64),
        ColumnType::Bool => cell.read()?.map(Scalar::Boolean),
        ColumnType::Date => cell.read()?.map(|d| Scalar::Date(wit_date(d))),
        ColumnType::Timestamp => cell
            .read::<DateTime<Utc>>()?
            .map(|t| Scalar::Timestamp(t.timestamp_micros())),
    };
    Ok(scalar.map_or(Value::Null, Value::Scalar))
}

/// Appends the cell at `index` of `row` to `packed`, `column`'s packed
/// column, without making a [`Value`] of it (but for REPEATED columns,
/// which keep one value per row).
pub(super) fn push_cell(
    row: &SqlRow,
    index: usize,
    column: &Column,
    packed: &mut ColumnBuilder,
) -> Result<(), UnreadableCell> {
    let unreadable = |reason: String| UnreadableCell {
        column: column.name.clone(),
        reason,
    };
    let packing = |e: crate::column_batch::WrongCell| unreadable(e.to_string());
    if column.mode == ColumnMode::Repeated {
        return packed
            .push_value(read_cell(row, index, column)?)
            .map_err(packing);
    }
    let at = CellAt { row, index, column };
    let cell = match column.column_type {
        ColumnType::String | ColumnType::Numeric | ColumnType::Json => at.read()?.map(Cell::Text),
        ColumnType::Int64 => at.read()?.map(Cell::Integer),
        ColumnType::Timestamp => at
            .read::<DateTime<Utc>>()?
            .map(|t| Cell::Integer(t.timestamp_micros())),
        ColumnType::Float64 => at.read()?.map(Cell::Float),
        ColumnType::Bool => at.read()?.map(Cell::Boolean),
        ColumnType::Date => at.read()?.map(|d| Cell::Day(naive_days_since_epoch(d))),
    };
    match cell {
        Some(cell) => packed.push(cell).map_err(packing),
        None => {
            packed.push_null();
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::Date;

    fn copy_text(value: Value) -> String {
        let mut line = String::new();
        push_copy_text(&mut line, &value);
        line
    }

    #[test]
    fn copy_text_escapes_what_the_format_gives_meaning_to() {
        assert_eq!(
            copy_text(Value::Scalar(Scalar::String("a\tb\nc\\d\re".into()))),
            "a\\tb\\nc\\\\d\\re"
        );
        assert_eq!(copy_text(Value::Null), "\\N");
        assert_eq!(
            copy_text(Value::Scalar(Scalar::String("\\N".into()))),
            "\\\\N"
        );
    }

    #[test]
    fn copy_text_spells_each_type_as_postgres_reads_it() {
        assert_eq!(copy_text(Value::Scalar(Scalar::Float64(0.1))), "0.1");
        assert_eq!(copy_text(Value::Scalar(Scalar::Float64(3.0))), "3.0");
        assert_eq!(copy_text(Value::Scalar(Scalar::Float64(f64::NAN))), "NaN");
        assert_eq!(
            copy_text(Value::Scalar(Scalar::Float64(f64::NEG_INFINITY))),
            "-Infinity"
        );
        assert_eq!(copy_text(Value::Scalar(Scalar::Boolean(true))), "t");
        assert_eq!(
            copy_text(Value::Scalar(Scalar::Date(Date {
                year: 2026,
                month: 1,
                day: 7
            }))),
            "2026-01-07"
        );
        assert_eq!(
            copy_text(Value::Scalar(Scalar::Timestamp(1))),
            "1970-01-01T00:00:00.000001Z"
        );
        assert_eq!(
            copy_text(Value::Repeated(vec![Scalar::Int64(1), Scalar::Int64(2)])),
            "[1,2]"
        );
    }
}
