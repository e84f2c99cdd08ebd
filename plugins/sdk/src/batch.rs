//! Reading typed cells out of a [`ColumnBatch`], the column-major read.
//!
//! [`ColumnBatch::column`] finds a column by name once; its typed getters
//! then read one row's cell. Text comes back borrowed from the batch, so a
//! processor that keeps `&str`s makes no allocation per row. Every error
//! names the column and the row.

use crate::{Column, ColumnBatch, ColumnValues, Date, PackedText, ProcessError, Scalar, Value};

impl ColumnBatch {
    /// A batch of no rows with these columns, for a read that had nothing
    /// to read: its columns are found and its rows are none.
    pub fn empty<S: AsRef<str>>(columns: &[S]) -> ColumnBatch {
        ColumnBatch {
            row_count: 0,
            columns: columns
                .iter()
                .map(|name| Column {
                    name: name.as_ref().to_string(),
                    nulls: Vec::new(),
                    values: ColumnValues::Values(Vec::new()),
                })
                .collect(),
        }
    }

    /// How many rows the batch holds.
    pub fn len(&self) -> usize {
        self.row_count as usize
    }

    /// Whether the batch holds no rows.
    pub fn is_empty(&self) -> bool {
        self.row_count == 0
    }

    /// `read` applied to every row index, in order, into a vector sized
    /// once; the first error stops it.
    pub fn map_rows<T>(
        &self,
        mut read: impl FnMut(usize) -> Result<T, ProcessError>,
    ) -> Result<Vec<T>, ProcessError> {
        let mut rows = Vec::with_capacity(self.len());
        for row in 0..self.len() {
            rows.push(read(row)?);
        }
        Ok(rows)
    }

    /// The columns called `names`, in that order, as named handles: a
    /// processor keeps its column names in one array, reads with it and
    /// takes the handles with it, so each name is written once.
    ///
    /// ```text
    /// const GAMES: [&str; 2] = ["player_lookup", "points"];
    /// let batch = slate_sdk::read_column_batch(&table, start, end, &GAMES)?;
    /// let [player, points] = batch.columns(GAMES)?;
    /// ```
    pub fn columns<const N: usize>(&self, names: [&str; N]) -> Result<[&Column; N], ProcessError> {
        let mut found = [const { None }; N];
        for (slot, name) in found.iter_mut().zip(names) {
            *slot = Some(self.column(name)?);
        }
        Ok(found.map(|column| column.expect("every slot was filled")))
    }

    /// The column called `name`, or a `missing-data` error naming it.
    pub fn column(&self, name: &str) -> Result<&Column, ProcessError> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| ProcessError::MissingData(format!("input has no column `{name}`")))
    }
}

impl PackedText {
    /// Row `row`'s text.
    #[inline(always)]
    fn get(&self, row: usize) -> Option<&str> {
        let end = *self.ends.get(row)? as usize;
        let start = match row {
            0 => 0,
            _ => self.ends[row - 1] as usize,
        };
        self.text.get(start..end)
    }
}

/// The name of the type a column packs, for errors.
fn type_name(values: &ColumnValues) -> &'static str {
    match values {
        ColumnValues::String(_) => "STRING",
        ColumnValues::Int64(_) => "INT64",
        ColumnValues::Float64(_) => "FLOAT64",
        ColumnValues::Numeric(_) => "NUMERIC",
        ColumnValues::Boolean(_) => "BOOL",
        ColumnValues::Date(_) => "DATE",
        ColumnValues::Timestamp(_) => "TIMESTAMP",
        ColumnValues::Json(_) => "JSON",
        ColumnValues::Values(_) => "unpacked values",
    }
}

impl Column {
    /// Whether row `row`'s cell is null (a row past the end is not).
    #[inline(always)]
    pub fn is_null(&self, row: usize) -> bool {
        match &self.values {
            ColumnValues::Values(values) => matches!(values.get(row), Some(Value::Null)),
            _ => self
                .nulls
                .get(row / 8)
                .is_some_and(|byte| byte >> (row % 8) & 1 == 1),
        }
    }

    #[cold]
    #[inline(never)]
    fn invalid(&self, row: usize, problem: impl std::fmt::Display) -> ProcessError {
        ProcessError::InvalidInput(format!("`{}` in row {row} {problem}", self.name))
    }

    #[cold]
    #[inline(never)]
    fn wrong_type(&self, row: usize, expected: &str) -> ProcessError {
        match &self.values {
            ColumnValues::Values(values) => match values.get(row) {
                Some(other) => self.invalid(row, format!("should be {expected}, got {other:?}")),
                None => self.invalid(row, "is past the end of the batch"),
            },
            packed => self.invalid(
                row,
                format!("should be {expected}, got {}", type_name(packed)),
            ),
        }
    }

    /// The non-null scalar in row `row` of an unpacked column.
    fn scalar<'v>(&self, values: &'v [Value], row: usize) -> Result<&'v Scalar, ProcessError> {
        match values.get(row) {
            Some(Value::Scalar(scalar)) => Ok(scalar),
            Some(Value::Null) => Err(self.invalid(row, "is null")),
            Some(Value::Repeated(_)) => Err(self.invalid(row, "is a list, expected one value")),
            None => Err(self.invalid(row, "is past the end of the batch")),
        }
    }

    /// Checks that row `row` is in the batch and not null.
    #[inline(always)]
    fn present(&self, row: usize, len: usize) -> Result<(), ProcessError> {
        if row >= len {
            Err(self.invalid(row, "is past the end of the batch"))
        } else if self.is_null(row) {
            Err(self.invalid(row, "is null"))
        } else {
            Ok(())
        }
    }

    /// A STRING cell, borrowed from the batch.
    #[inline(always)]
    pub fn string(&self, row: usize) -> Result<&str, ProcessError> {
        match &self.values {
            ColumnValues::String(text) => {
                self.present(row, text.ends.len())?;
                text.get(row)
                    .ok_or_else(|| self.invalid(row, "has offsets outside its text"))
            }
            ColumnValues::Values(values) => match self.scalar(values, row)? {
                Scalar::String(s) => Ok(s),
                _ => Err(self.wrong_type(row, "STRING")),
            },
            _ => Err(self.wrong_type(row, "STRING")),
        }
    }

    /// Row `row`'s cell: from `packed` when the column is packed as that
    /// list (through `convert`), from an unpacked column's scalar through
    /// `unpacked`; anything else is an error naming `expected`.
    #[inline(always)]
    fn cell<P: Copy, T>(
        &self,
        row: usize,
        expected: &str,
        packed: Option<&[P]>,
        convert: impl Fn(P) -> T,
        unpacked: impl Fn(&Scalar) -> Option<T>,
    ) -> Result<T, ProcessError> {
        if let Some(values) = packed {
            self.present(row, values.len())?;
            return Ok(convert(values[row]));
        }
        match &self.values {
            ColumnValues::Values(values) => {
                unpacked(self.scalar(values, row)?).ok_or_else(|| self.wrong_type(row, expected))
            }
            _ => Err(self.wrong_type(row, expected)),
        }
    }

    /// An INT64 cell.
    #[inline(always)]
    pub fn int64(&self, row: usize) -> Result<i64, ProcessError> {
        let packed = match &self.values {
            ColumnValues::Int64(values) => Some(values.as_slice()),
            _ => None,
        };
        self.cell(
            row,
            "INT64",
            packed,
            |v| v,
            |scalar| match scalar {
                Scalar::Int64(v) => Some(*v),
                _ => None,
            },
        )
    }

    /// A FLOAT64 cell (INT64 cells widen).
    #[inline(always)]
    pub fn float64(&self, row: usize) -> Result<f64, ProcessError> {
        let packed = match &self.values {
            ColumnValues::Int64(_) => return self.int64(row).map(|v| v as f64),
            ColumnValues::Float64(values) => Some(values.as_slice()),
            _ => None,
        };
        self.cell(
            row,
            "FLOAT64",
            packed,
            |v| v,
            |scalar| match scalar {
                Scalar::Float64(v) => Some(*v),
                Scalar::Int64(v) => Some(*v as f64),
                _ => None,
            },
        )
    }

    /// A NULLABLE FLOAT64 cell (INT64 cells widen).
    #[inline(always)]
    pub fn optional_float64(&self, row: usize) -> Result<Option<f64>, ProcessError> {
        if self.is_null(row) {
            Ok(None)
        } else {
            self.float64(row).map(Some)
        }
    }

    /// A BOOL cell.
    #[inline(always)]
    pub fn boolean(&self, row: usize) -> Result<bool, ProcessError> {
        let packed = match &self.values {
            ColumnValues::Boolean(values) => Some(values.as_slice()),
            _ => None,
        };
        self.cell(
            row,
            "BOOL",
            packed,
            |v| v,
            |scalar| match scalar {
                Scalar::Boolean(v) => Some(*v),
                _ => None,
            },
        )
    }

    /// A DATE cell, as days since 1970-01-01.
    #[inline(always)]
    pub fn day(&self, row: usize) -> Result<i64, ProcessError> {
        let packed = match &self.values {
            ColumnValues::Date(values) => Some(values.as_slice()),
            _ => None,
        };
        self.cell(row, "DATE", packed, i64::from, |scalar| match scalar {
            Scalar::Date(d) => Some(crate::days_from_date(*d)),
            _ => None,
        })
    }

    /// A DATE cell.
    #[inline(always)]
    pub fn date(&self, row: usize) -> Result<Date, ProcessError> {
        self.day(row).map(crate::date_from_days)
    }

    /// A REPEATED STRING cell, each item borrowed from the batch; a null
    /// cell is an empty list.
    pub fn strings(&self, row: usize) -> Result<Vec<&str>, ProcessError> {
        let ColumnValues::Values(values) = &self.values else {
            return Err(self.wrong_type(row, "a list of STRING"));
        };
        match values.get(row) {
            Some(Value::Repeated(items)) => items
                .iter()
                .map(|item| match item {
                    Scalar::String(s) => Ok(s.as_str()),
                    _ => Err(self.wrong_type(row, "a list of STRING")),
                })
                .collect(),
            Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Scalar(_)) => Err(self.wrong_type(row, "a list of STRING")),
            None => Err(self.invalid(row, "is past the end of the batch")),
        }
    }

    /// Row `row`'s cell as a row set's [`Value`], whatever the packing: for
    /// code that passes cells on without reading them, such as a copy.
    pub fn value(&self, row: usize) -> Result<Value, ProcessError> {
        let text = |text: &PackedText| {
            text.get(row)
                .map(str::to_string)
                .ok_or_else(|| self.invalid(row, "has offsets outside its text"))
        };
        let scalar = match &self.values {
            ColumnValues::Values(values) => {
                return values
                    .get(row)
                    .cloned()
                    .ok_or_else(|| self.invalid(row, "is past the end of the batch"));
            }
            _ if row >= self.len() => return Err(self.invalid(row, "is past the end of the batch")),
            _ if self.is_null(row) => return Ok(Value::Null),
            ColumnValues::String(t) => Scalar::String(text(t)?),
            ColumnValues::Numeric(t) => Scalar::Numeric(text(t)?),
            ColumnValues::Json(t) => Scalar::Json(text(t)?),
            ColumnValues::Int64(v) => Scalar::Int64(v[row]),
            ColumnValues::Float64(v) => Scalar::Float64(v[row]),
            ColumnValues::Boolean(v) => Scalar::Boolean(v[row]),
            ColumnValues::Date(v) => Scalar::Date(crate::date_from_days(i64::from(v[row]))),
            ColumnValues::Timestamp(v) => Scalar::Timestamp(v[row]),
        };
        Ok(Value::Scalar(scalar))
    }

    /// How many values the column holds.
    pub fn len(&self) -> usize {
        match &self.values {
            ColumnValues::String(t) | ColumnValues::Numeric(t) | ColumnValues::Json(t) => {
                t.ends.len()
            }
            ColumnValues::Int64(v) | ColumnValues::Timestamp(v) => v.len(),
            ColumnValues::Float64(v) => v.len(),
            ColumnValues::Boolean(v) => v.len(),
            ColumnValues::Date(v) => v.len(),
            ColumnValues::Values(v) => v.len(),
        }
    }

    /// Whether the column holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message of an `invalid-input` error.
    fn invalid<T: std::fmt::Debug>(read: Result<T, ProcessError>) -> String {
        match read {
            Err(ProcessError::InvalidInput(message)) => message,
            other => panic!("expected invalid-input, got {other:?}"),
        }
    }

    fn column(name: &str, nulls: Vec<u8>, values: ColumnValues) -> Column {
        Column {
            name: name.into(),
            nulls,
            values,
        }
    }

    fn players() -> Column {
        column(
            "player",
            vec![0b010],
            ColumnValues::String(PackedText {
                text: "lebronsteph".into(),
                ends: vec![6, 6, 11],
            }),
        )
    }

    #[test]
    fn columns_are_handed_out_by_name_in_the_order_asked_or_the_missing_one_is_named() {
        let batch = ColumnBatch {
            row_count: 3,
            columns: vec![
                players(),
                column("n", Vec::new(), ColumnValues::Int64(vec![1, 2, 3])),
            ],
        };
        let [n, player] = batch.columns(["n", "player"]).unwrap();
        assert_eq!(
            (n.int64(2).unwrap(), player.string(0).unwrap()),
            (3, "lebron")
        );
        match batch.columns(["player", "team"]) {
            Err(ProcessError::MissingData(message)) => {
                assert_eq!(message, "input has no column `team`")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn packed_text_reads_each_rows_slice() {
        let players = players();
        assert_eq!(players.string(0).unwrap(), "lebron");
        assert_eq!(players.string(2).unwrap(), "steph");
    }

    #[test]
    fn a_null_cell_is_an_error_naming_the_column_and_row() {
        let players = players();
        assert!(players.is_null(1) && !players.is_null(0));
        assert_eq!(invalid(players.string(1)), "`player` in row 1 is null");
        assert_eq!(
            invalid(players.string(3)),
            "`player` in row 3 is past the end of the batch"
        );
    }

    #[test]
    fn a_cell_of_another_type_is_an_error_naming_both_types() {
        assert_eq!(
            invalid(players().int64(0)),
            "`player` in row 0 should be INT64, got STRING"
        );
        let unpacked = column(
            "n",
            Vec::new(),
            ColumnValues::Values(vec![Value::Scalar(Scalar::Boolean(true))]),
        );
        assert_eq!(
            invalid(unpacked.int64(0)),
            "`n` in row 0 should be INT64, got Value::Scalar(Scalar::Boolean(true))"
        );
    }

    #[test]
    fn numbers_dates_and_nullable_floats_read_from_packed_lists() {
        let paces = column("pace", vec![0b1], ColumnValues::Float64(vec![0.0, 99.5]));
        assert_eq!(paces.optional_float64(0).unwrap(), None);
        assert_eq!(paces.optional_float64(1).unwrap(), Some(99.5));
        let minutes = column("minutes", Vec::new(), ColumnValues::Int64(vec![36]));
        assert_eq!(minutes.float64(0).unwrap(), 36.0);
        let days = column("game_date", Vec::new(), ColumnValues::Date(vec![20_555]));
        assert_eq!(days.day(0).unwrap(), 20_555);
        assert_eq!(
            days.date(0).unwrap(),
            Date {
                year: 2026,
                month: 4,
                day: 12
            }
        );
    }

    #[test]
    fn unpacked_columns_read_like_packed_ones() {
        let date = Date {
            year: 2026,
            month: 4,
            day: 12,
        };
        let values = column(
            "mixed",
            Vec::new(),
            ColumnValues::Values(vec![
                Value::Scalar(Scalar::String("x".into())),
                Value::Null,
                Value::Scalar(Scalar::Date(date)),
                Value::Scalar(Scalar::Int64(3)),
            ]),
        );
        assert_eq!(values.string(0).unwrap(), "x");
        assert!(values.is_null(1));
        assert_eq!(values.optional_float64(1).unwrap(), None);
        assert_eq!(values.day(2).unwrap(), 20_555);
        assert_eq!(values.float64(3).unwrap(), 3.0);
    }

    #[test]
    fn a_string_list_reads_borrowed_and_a_null_list_is_empty() {
        let issues = column(
            "data_quality_issues",
            Vec::new(),
            ColumnValues::Values(vec![
                Value::Repeated(vec![
                    Scalar::String("gap".into()),
                    Scalar::String("late".into()),
                ]),
                Value::Null,
                Value::Scalar(Scalar::String("not a list".into())),
            ]),
        );
        assert_eq!(issues.strings(0).unwrap(), ["gap", "late"]);
        assert!(issues.strings(1).unwrap().is_empty());
        let error = invalid(issues.strings(2));
        assert!(
            error.starts_with("`data_quality_issues` in row 2 should be a list of STRING"),
            "{error}"
        );
        assert!(invalid(issues.strings(3)).contains("past the end"));
        assert!(invalid(players().strings(0)).contains("should be a list of STRING, got STRING"));
    }

    #[test]
    fn an_empty_batch_has_its_columns_and_no_rows() {
        let batch = ColumnBatch::empty(&["player", "points"]);
        let [player, _points] = batch.columns(["player", "points"]).unwrap();
        assert_eq!(player.name, "player");
        assert!(batch.is_empty());
        assert!(batch.map_rows(|row| player.string(row)).unwrap().is_empty());
    }

    #[test]
    fn map_rows_reads_every_row_in_order_and_stops_at_the_first_error() {
        let batch = ColumnBatch {
            row_count: 3,
            columns: vec![players()],
        };
        let players = batch.column("player").unwrap();
        let read = batch.map_rows(|row| Ok(players.string(row).unwrap_or("?")));
        assert_eq!(read.unwrap(), ["lebron", "?", "steph"]);
        assert_eq!(
            invalid(batch.map_rows(|row| players.string(row))),
            "`player` in row 1 is null"
        );
    }

    #[test]
    fn any_cell_reads_back_as_a_row_set_value() {
        let players = players();
        assert_eq!(players.len(), 3);
        let text = |s: &str| Value::Scalar(Scalar::String(s.into()));
        let values: Vec<String> = (0..3)
            .map(|row| format!("{:?}", players.value(row).unwrap()))
            .collect();
        assert_eq!(
            values,
            [text("lebron"), Value::Null, text("steph")].map(|v| format!("{v:?}"))
        );
        let days = column("d", Vec::new(), ColumnValues::Date(vec![20_555]));
        assert_eq!(
            format!("{:?}", days.value(0).unwrap()),
            format!(
                "{:?}",
                Value::Scalar(Scalar::Date(Date {
                    year: 2026,
                    month: 4,
                    day: 12
                }))
            )
        );
        assert_eq!(
            invalid(days.value(1)),
            "`d` in row 1 is past the end of the batch"
        );
    }

    #[test]
    fn a_batch_finds_columns_by_name() {
        let batch = ColumnBatch {
            row_count: 3,
            columns: vec![players()],
        };
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.column("player").unwrap().name, "player");
        assert!(matches!(
            batch.column("team"),
            Err(ProcessError::MissingData(m)) if m == "input has no column `team`"
        ));
    }
}
