//! Reading typed columns out of a [`RowSet`], and building output rows.
//!
//! Input rows arrive with every column of the table's schema; [`Columns`]
//! resolves column names to positions once, so a processor reads cells by
//! position in its inner loop.

use crate::{Date, ProcessError, Row, RowSet, Scalar, Value};

/// Column positions of a row set, looked up by name once.
pub struct Columns<'a> {
    rows: &'a RowSet,
}

impl<'a> Columns<'a> {
    /// Wraps a row set for reading.
    pub fn new(rows: &'a RowSet) -> Self {
        Columns { rows }
    }

    /// The position of `name`, or a `missing-data` error naming it.
    pub fn index(&self, name: &str) -> Result<usize, ProcessError> {
        self.rows
            .columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| ProcessError::MissingData(format!("input has no column `{name}`")))
    }
}

fn scalar<'r>(row: &'r Row, index: usize, column: &str) -> Result<&'r Scalar, ProcessError> {
    match row.get(index) {
        Some(Value::Scalar(s)) => Ok(s),
        Some(Value::Null) => Err(ProcessError::InvalidInput(format!("`{column}` is null"))),
        Some(Value::Repeated(_)) => Err(ProcessError::InvalidInput(format!(
            "`{column}` is a list, expected one value"
        ))),
        None => Err(ProcessError::InvalidInput(format!(
            "row has no cell for `{column}`"
        ))),
    }
}

fn wrong_type(column: &str, expected: &str, got: &Scalar) -> ProcessError {
    ProcessError::InvalidInput(format!("`{column}` should be {expected}, got {got:?}"))
}

/// Typed access to the cells of an input row. `column` only names the cell in errors.
pub trait RowExt {
    /// A STRING cell.
    fn string(&self, index: usize, column: &str) -> Result<&str, ProcessError>;
    /// An INT64 cell.
    fn int64(&self, index: usize, column: &str) -> Result<i64, ProcessError>;
    /// A FLOAT64 cell (INT64 cells widen).
    fn float64(&self, index: usize, column: &str) -> Result<f64, ProcessError>;
    /// A BOOL cell.
    fn boolean(&self, index: usize, column: &str) -> Result<bool, ProcessError>;
    /// A DATE cell.
    fn date(&self, index: usize, column: &str) -> Result<Date, ProcessError>;
    /// Whether the cell is null.
    fn is_null(&self, index: usize) -> bool;
    /// A NULLABLE FLOAT64 cell (INT64 cells widen).
    fn optional_float64(&self, index: usize, column: &str) -> Result<Option<f64>, ProcessError> {
        if self.is_null(index) {
            Ok(None)
        } else {
            self.float64(index, column).map(Some)
        }
    }
    /// A REPEATED STRING cell; a null cell is an empty list.
    fn strings(&self, index: usize, column: &str) -> Result<Vec<String>, ProcessError>;
}

impl RowExt for Row {
    fn string(&self, index: usize, column: &str) -> Result<&str, ProcessError> {
        match scalar(self, index, column)? {
            Scalar::String(s) => Ok(s),
            other => Err(wrong_type(column, "STRING", other)),
        }
    }
    fn int64(&self, index: usize, column: &str) -> Result<i64, ProcessError> {
        match scalar(self, index, column)? {
            Scalar::Int64(v) => Ok(*v),
            other => Err(wrong_type(column, "INT64", other)),
        }
    }
    fn float64(&self, index: usize, column: &str) -> Result<f64, ProcessError> {
        match scalar(self, index, column)? {
            Scalar::Float64(v) => Ok(*v),
            Scalar::Int64(v) => Ok(*v as f64),
            other => Err(wrong_type(column, "FLOAT64", other)),
        }
    }
    fn boolean(&self, index: usize, column: &str) -> Result<bool, ProcessError> {
        match scalar(self, index, column)? {
            Scalar::Boolean(v) => Ok(*v),
            other => Err(wrong_type(column, "BOOL", other)),
        }
    }
    fn date(&self, index: usize, column: &str) -> Result<Date, ProcessError> {
        match scalar(self, index, column)? {
            Scalar::Date(v) => Ok(*v),
            other => Err(wrong_type(column, "DATE", other)),
        }
    }
    fn is_null(&self, index: usize) -> bool {
        matches!(self.get(index), Some(Value::Null) | None)
    }
    fn strings(&self, index: usize, column: &str) -> Result<Vec<String>, ProcessError> {
        match self.get(index) {
            Some(Value::Repeated(items)) => items
                .iter()
                .map(|item| match item {
                    Scalar::String(s) => Ok(s.clone()),
                    other => Err(wrong_type(column, "a list of STRING", other)),
                })
                .collect(),
            Some(Value::Null) | None => Ok(Vec::new()),
            Some(other) => Err(ProcessError::InvalidInput(format!(
                "`{column}` should be a list, got {other:?}"
            ))),
        }
    }
}

/// Builds an output row set column by column, in schema order.
pub struct RowSetBuilder {
    set: RowSet,
}

impl RowSetBuilder {
    /// A builder for rows with these columns, in this order.
    pub fn new(columns: &[&str]) -> Self {
        RowSetBuilder {
            set: RowSet {
                columns: columns.iter().map(|c| c.to_string()).collect(),
                rows: Vec::new(),
            },
        }
    }

    /// Adds one row; its values follow the columns given to [`RowSetBuilder::new`].
    pub fn push(&mut self, row: Row) {
        self.set.rows.push(row);
    }

    /// The finished row set.
    pub fn finish(self) -> RowSet {
        self.set
    }
}

impl Value {
    /// A STRING cell.
    pub fn string(value: impl Into<String>) -> Value {
        Value::Scalar(Scalar::String(value.into()))
    }
    /// An INT64 cell.
    pub fn int64(value: i64) -> Value {
        Value::Scalar(Scalar::Int64(value))
    }
    /// A FLOAT64 cell.
    pub fn float64(value: f64) -> Value {
        Value::Scalar(Scalar::Float64(value))
    }
    /// A FLOAT64 cell, or null for `None`.
    pub fn float64_or_null(value: Option<f64>) -> Value {
        value.map_or(Value::Null, Value::float64)
    }
    /// A BOOL cell.
    pub fn boolean(value: bool) -> Value {
        Value::Scalar(Scalar::Boolean(value))
    }
    /// A DATE cell.
    pub fn date(value: Date) -> Value {
        Value::Scalar(Scalar::Date(value))
    }
    /// A REPEATED STRING cell.
    pub fn strings<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Value {
        Value::Repeated(
            values
                .into_iter()
                .map(|s| Scalar::String(s.into()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_null_or_missing_string_list_reads_as_empty() {
        let row: Row = vec![
            Value::Null,
            Value::strings(["a", "b"]),
            Value::string("not a list"),
        ];
        assert!(row.strings(0, "x").unwrap().is_empty());
        assert!(row.strings(9, "x").unwrap().is_empty());
        assert_eq!(row.strings(1, "x").unwrap(), ["a", "b"]);
        assert!(row.strings(2, "x").is_err());
    }

    #[test]
    fn a_null_float_reads_as_none_and_an_int_widens() {
        let row: Row = vec![Value::Null, Value::int64(3), Value::string("3")];
        assert_eq!(row.optional_float64(0, "x").unwrap(), None);
        assert_eq!(row.optional_float64(1, "x").unwrap(), Some(3.0));
        assert!(row.optional_float64(2, "x").is_err());
    }
}
