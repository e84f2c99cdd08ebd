//! Packing rows column by column, for `read-column-batch`.
//!
//! A [`RowSet`] crosses the component boundary as one guest allocation per
//! row and per string. A [`ColumnBatch`] holds each column's values
//! together, packed by type: a text column as one string and its end
//! offsets, a number column as one list. A read of 25,000 rows then costs a
//! few copies per column instead of some 75,000 allocations in the guest.
//!
//! A [`ColumnBuilder`] packs one column cell by cell. A store that knows
//! its schema feeds it straight from its own cells ([`Packing::of_column`]);
//! [`pack`] packs a row set by the type of its values, for sources that
//! only return rows. A column that cannot pack (REPEATED, all null, or of
//! mixed types, which a validated table never holds) keeps one [`Value`]
//! per row, so nothing a row set can carry is lost.

use chrono::{Datelike, NaiveDate};

pub use crate::bindings::{Column, ColumnBatch, ColumnValues, PackedText};
use crate::rows::{Date, RowSet, Scalar, Value, naive_date};
use crate::schema::{self, ColumnMode, ColumnType};

/// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The number of days from 1970-01-01 to `date`, or `None` for an
/// impossible date such as 2026-02-30.
pub fn days_since_epoch(date: Date) -> Option<i32> {
    naive_date(date).map(naive_days_since_epoch)
}

/// The number of days from 1970-01-01 to `date`.
pub fn naive_days_since_epoch(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// The type a column packs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// STRING: packed text.
    String,
    /// INT64: a list of integers.
    Int64,
    /// FLOAT64: a list of floats.
    Float64,
    /// NUMERIC: packed decimal text.
    Numeric,
    /// BOOL: a list of booleans.
    Boolean,
    /// DATE: a list of days since 1970-01-01.
    Date,
    /// TIMESTAMP: a list of microseconds since the epoch.
    Timestamp,
    /// JSON: packed text.
    Json,
}

impl Packing {
    /// How a schema column packs; `None` for a REPEATED column.
    pub fn of_column(column: &schema::Column) -> Option<Packing> {
        if column.mode == ColumnMode::Repeated {
            return None;
        }
        Some(match column.column_type {
            ColumnType::String => Packing::String,
            ColumnType::Int64 => Packing::Int64,
            ColumnType::Float64 => Packing::Float64,
            ColumnType::Numeric => Packing::Numeric,
            ColumnType::Bool => Packing::Boolean,
            ColumnType::Date => Packing::Date,
            ColumnType::Timestamp => Packing::Timestamp,
            ColumnType::Json => Packing::Json,
        })
    }

    /// How a packed column's values pack; `None` for one value per row.
    pub fn of_values(values: &ColumnValues) -> Option<Packing> {
        Some(match values {
            ColumnValues::String(_) => Packing::String,
            ColumnValues::Int64(_) => Packing::Int64,
            ColumnValues::Float64(_) => Packing::Float64,
            ColumnValues::Numeric(_) => Packing::Numeric,
            ColumnValues::Boolean(_) => Packing::Boolean,
            ColumnValues::Date(_) => Packing::Date,
            ColumnValues::Timestamp(_) => Packing::Timestamp,
            ColumnValues::Json(_) => Packing::Json,
            ColumnValues::Values(_) => return None,
        })
    }

    /// The column type's name, in BigQuery terms, for messages.
    pub fn type_name(self) -> &'static str {
        match self {
            Packing::String => "STRING",
            Packing::Int64 => "INT64",
            Packing::Float64 => "FLOAT64",
            Packing::Numeric => "NUMERIC",
            Packing::Boolean => "BOOL",
            Packing::Date => "DATE",
            Packing::Timestamp => "TIMESTAMP",
            Packing::Json => "JSON",
        }
    }

    /// The type a scalar packs as.
    pub fn of_scalar(scalar: &Scalar) -> Packing {
        match scalar {
            Scalar::String(_) => Packing::String,
            Scalar::Int64(_) => Packing::Int64,
            Scalar::Float64(_) => Packing::Float64,
            Scalar::Numeric(_) => Packing::Numeric,
            Scalar::Boolean(_) => Packing::Boolean,
            Scalar::Date(_) => Packing::Date,
            Scalar::Timestamp(_) => Packing::Timestamp,
            Scalar::Json(_) => Packing::Json,
        }
    }

    /// Whether `scalar` packs into a column of this type.
    fn fits(self, scalar: &Scalar) -> bool {
        match scalar {
            Scalar::Date(date) => self == Packing::Date && days_since_epoch(*date).is_some(),
            other => Packing::of_scalar(other) == self,
        }
    }
}

/// One non-null cell, borrowed, on its way into a packed column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// The text of a STRING, NUMERIC or JSON cell.
    Text(&'a str),
    /// An INT64 or a TIMESTAMP (microseconds).
    Integer(i64),
    /// A FLOAT64.
    Float(f64),
    /// A BOOL.
    Boolean(bool),
    /// A DATE, in days since 1970-01-01.
    Day(i32),
}

impl<'a> Cell<'a> {
    /// A scalar as a cell.
    fn of(scalar: &'a Scalar) -> Option<Cell<'a>> {
        Some(match scalar {
            Scalar::String(s) | Scalar::Numeric(s) | Scalar::Json(s) => Cell::Text(s),
            Scalar::Int64(v) | Scalar::Timestamp(v) => Cell::Integer(*v),
            Scalar::Float64(v) => Cell::Float(*v),
            Scalar::Boolean(v) => Cell::Boolean(*v),
            Scalar::Date(d) => Cell::Day(days_since_epoch(*d)?),
        })
    }
}

/// A cell of a type the column does not pack; the caller names the column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("a {found} cannot go into a column packed as {packing:?}")]
pub struct WrongCell {
    /// How the column packs (`None`: one value per row).
    pub packing: Option<Packing>,
    /// What was pushed.
    pub found: &'static str,
}

/// Builds one column of a batch, cell by cell.
pub struct ColumnBuilder {
    name: String,
    packing: Option<Packing>,
    nulls: Vec<u8>,
    any_null: bool,
    len: usize,
    values: ColumnValues,
}

impl ColumnBuilder {
    /// An empty column called `name` that packs as `packing`, or keeps one
    /// [`Value`] per row when `None`.
    pub fn new(name: impl Into<String>, packing: Option<Packing>) -> Self {
        let text = || PackedText {
            text: String::new(),
            ends: Vec::new(),
        };
        let values = match packing {
            None => ColumnValues::Values(Vec::new()),
            Some(Packing::String) => ColumnValues::String(text()),
            Some(Packing::Numeric) => ColumnValues::Numeric(text()),
            Some(Packing::Json) => ColumnValues::Json(text()),
            Some(Packing::Int64) => ColumnValues::Int64(Vec::new()),
            Some(Packing::Timestamp) => ColumnValues::Timestamp(Vec::new()),
            Some(Packing::Float64) => ColumnValues::Float64(Vec::new()),
            Some(Packing::Boolean) => ColumnValues::Boolean(Vec::new()),
            Some(Packing::Date) => ColumnValues::Date(Vec::new()),
        };
        ColumnBuilder {
            name: name.into(),
            packing,
            nulls: Vec::new(),
            any_null: false,
            len: 0,
            values,
        }
    }

    /// How this column packs (`None`: one value per row).
    pub fn packing(&self) -> Option<Packing> {
        self.packing
    }

    /// Counts one more cell, growing the null bitmap by a byte every 8.
    fn advance(&mut self) {
        if self.len.is_multiple_of(8) {
            self.nulls.push(0);
        }
        self.len += 1;
    }

    /// Appends a null: a placeholder marked in the null bitmap.
    pub fn push_null(&mut self) {
        let row = self.len;
        self.advance();
        match &mut self.values {
            ColumnValues::Values(values) => values.push(Value::Null),
            ColumnValues::String(t) | ColumnValues::Numeric(t) | ColumnValues::Json(t) => {
                t.ends.push(t.text.len() as u32);
            }
            ColumnValues::Int64(v) | ColumnValues::Timestamp(v) => v.push(0),
            ColumnValues::Float64(v) => v.push(0.0),
            ColumnValues::Boolean(v) => v.push(false),
            ColumnValues::Date(v) => v.push(0),
        }
        if self.packing.is_some() {
            self.nulls[row / 8] |= 1 << (row % 8);
            self.any_null = true;
        }
    }

    /// Appends a non-null cell of the column's packed type.
    pub fn push(&mut self, cell: Cell<'_>) -> Result<(), WrongCell> {
        let wrong = |found| WrongCell {
            packing: self.packing,
            found,
        };
        let found = match cell {
            Cell::Text(_) => "text",
            Cell::Integer(_) => "integer",
            Cell::Float(_) => "float",
            Cell::Boolean(_) => "boolean",
            Cell::Day(_) => "day",
        };
        match (&mut self.values, cell) {
            (
                ColumnValues::String(t) | ColumnValues::Numeric(t) | ColumnValues::Json(t),
                Cell::Text(text),
            ) => {
                // Text past 4 GiB cannot be addressed by the guest anyway.
                let end = u32::try_from(t.text.len() + text.len())
                    .map_err(|_| wrong("text past 4 GiB"))?;
                t.text.push_str(text);
                t.ends.push(end);
            }
            (ColumnValues::Int64(v) | ColumnValues::Timestamp(v), Cell::Integer(i)) => v.push(i),
            (ColumnValues::Float64(v), Cell::Float(f)) => v.push(f),
            (ColumnValues::Boolean(v), Cell::Boolean(b)) => v.push(b),
            (ColumnValues::Date(v), Cell::Day(d)) => v.push(d),
            _ => return Err(wrong(found)),
        }
        self.advance();
        Ok(())
    }

    /// Appends a whole value, to a column that keeps one value per row.
    pub fn push_value(&mut self, value: Value) -> Result<(), WrongCell> {
        match &mut self.values {
            ColumnValues::Values(values) => {
                values.push(value);
                self.advance();
                Ok(())
            }
            _ => Err(WrongCell {
                packing: self.packing,
                found: "whole value",
            }),
        }
    }

    /// Appends every cell of `column`, which must pack the same way: a
    /// column of the same table read separately, such as an earlier
    /// partition. The result is the column the two reads would have given
    /// as one.
    pub fn extend(&mut self, column: &Column) -> Result<(), WrongCell> {
        let start = self.len;
        let mismatch = WrongCell {
            packing: self.packing,
            found: "a column packed another way",
        };
        let added = match (&mut self.values, &column.values) {
            (ColumnValues::String(into), ColumnValues::String(from))
            | (ColumnValues::Numeric(into), ColumnValues::Numeric(from))
            | (ColumnValues::Json(into), ColumnValues::Json(from)) => {
                let base = u32::try_from(into.text.len()).map_err(|_| WrongCell {
                    packing: self.packing,
                    found: "text past 4 GiB",
                })?;
                u32::try_from(into.text.len() + from.text.len()).map_err(|_| WrongCell {
                    packing: self.packing,
                    found: "text past 4 GiB",
                })?;
                into.text.push_str(&from.text);
                into.ends.extend(from.ends.iter().map(|end| end + base));
                from.ends.len()
            }
            (ColumnValues::Int64(into), ColumnValues::Int64(from))
            | (ColumnValues::Timestamp(into), ColumnValues::Timestamp(from)) => append(into, from),
            (ColumnValues::Float64(into), ColumnValues::Float64(from)) => append(into, from),
            (ColumnValues::Boolean(into), ColumnValues::Boolean(from)) => append(into, from),
            (ColumnValues::Date(into), ColumnValues::Date(from)) => append(into, from),
            (ColumnValues::Values(into), ColumnValues::Values(from)) => append(into, from),
            _ => return Err(mismatch),
        };
        self.len += added;
        self.nulls.resize(self.len.div_ceil(8), 0);
        if self.packing.is_some() && !column.nulls.is_empty() {
            for row in 0..added {
                if column.nulls[row / 8] >> (row % 8) & 1 == 1 {
                    let at = start + row;
                    self.nulls[at / 8] |= 1 << (at % 8);
                    self.any_null = true;
                }
            }
        }
        Ok(())
    }

    /// How many cells the column holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the column holds no cells.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The column, with a null bitmap only when a cell is null.
    pub fn finish(self) -> Column {
        Column {
            name: self.name,
            nulls: if self.any_null {
                self.nulls
            } else {
                Vec::new()
            },
            values: self.values,
        }
    }
}

/// Appends `from` to `into`; returns how many values it added.
fn append<T: Clone>(into: &mut Vec<T>, from: &[T]) -> usize {
    into.extend_from_slice(from);
    from.len()
}

/// How column `index` of `rows` packs, or `None` when it keeps one value per row.
fn packing(rows: &[Vec<Value>], index: usize) -> Option<Packing> {
    let mut packing = None;
    let mut text_bytes = 0usize;
    for row in rows {
        match row.get(index)? {
            Value::Null => {}
            Value::Repeated(_) => return None,
            Value::Scalar(scalar) => {
                let kind = *packing.get_or_insert(Packing::of_scalar(scalar));
                if !kind.fits(scalar) {
                    return None;
                }
                if let Scalar::String(text) | Scalar::Numeric(text) | Scalar::Json(text) = scalar {
                    text_bytes += text.len();
                }
            }
        }
    }
    // Offsets are u32: a column of more text than that keeps its values.
    packing.filter(|_| u32::try_from(text_bytes).is_ok())
}

/// Packs `rows` column by column, each by the type of its values; the
/// batch's columns are the row set's. For rows whose schema is not known:
/// a column whose rows are all null keeps one value per row.
pub fn pack(rows: RowSet) -> ColumnBatch {
    let packings: Vec<Option<Packing>> = (0..rows.columns.len())
        .map(|index| packing(&rows.rows, index))
        .collect();
    pack_as(rows, &packings).expect("`packing` checked every cell's type and the text's size")
}

/// A cell that does not fit how its column packs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("row {row}, column `{column}`: {cell}")]
pub struct MisplacedCell {
    /// The row's index in the read.
    pub row: usize,
    /// The column.
    pub column: String,
    /// What was wrong with the cell.
    #[source]
    pub cell: WrongCell,
}

/// Packs `rows` column by column, column `i` as `packings[i]` says
/// (`None`: one value per row), whatever its rows hold. A store that knows
/// the table's schema packs by it ([`Packing::of_column`]), so that an
/// empty read, or a column whose rows are all null, has the shape of any
/// other read of those columns.
pub fn pack_as(rows: RowSet, packings: &[Option<Packing>]) -> Result<ColumnBatch, MisplacedCell> {
    let RowSet { columns, mut rows } = rows;
    let row_count = u32::try_from(rows.len()).expect("a read holds fewer than 2^32 rows");
    let columns = columns
        .into_iter()
        .zip(packings)
        .enumerate()
        .map(|(index, (name, &packing))| {
            let mut column = ColumnBuilder::new(name, packing);
            for (row, cells) in rows.iter_mut().enumerate() {
                let cell = cells
                    .get_mut(index)
                    .map_or(Value::Null, |cell| std::mem::replace(cell, Value::Null));
                let wrong = |found| WrongCell { packing, found };
                let pushed = match (packing, cell) {
                    (None, cell) => column.push_value(cell),
                    (Some(_), Value::Null) => {
                        column.push_null();
                        Ok(())
                    }
                    (Some(_), Value::Scalar(scalar)) => match Cell::of(&scalar) {
                        Some(cell) => column.push(cell),
                        None => Err(wrong("a date out of range")),
                    },
                    (Some(_), Value::Repeated(_)) => Err(wrong("a repeated value")),
                };
                pushed.map_err(|cell| MisplacedCell {
                    row,
                    column: column.name.clone(),
                    cell,
                })?;
            }
            Ok(column.finish())
        })
        .collect::<Result<_, _>>()?;
    Ok(ColumnBatch { row_count, columns })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Scalar(Scalar::String(s.into()))
    }

    fn int(v: i64) -> Value {
        Value::Scalar(Scalar::Int64(v))
    }

    fn date(year: i32, month: u8, day: u8) -> Value {
        Value::Scalar(Scalar::Date(Date { year, month, day }))
    }

    fn batch(columns: &[&str], rows: Vec<Vec<Value>>) -> ColumnBatch {
        pack(RowSet {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
        })
    }

    #[test]
    fn text_columns_pack_into_one_string_with_end_offsets() {
        let packed = batch(
            &["player"],
            vec![vec![text("lebron")], vec![text("")], vec![text("steph")]],
        );
        assert_eq!(packed.row_count, 3);
        assert_eq!(packed.columns[0].name, "player");
        assert!(packed.columns[0].nulls.is_empty());
        assert_eq!(
            packed.columns[0].values,
            ColumnValues::String(PackedText {
                text: "lebronsteph".into(),
                ends: vec![6, 6, 11],
            })
        );
    }

    #[test]
    fn nulls_are_marked_in_a_bitmap_over_placeholders() {
        let mut rows: Vec<Vec<Value>> = (0..10).map(int).map(|v| vec![v]).collect();
        rows[1][0] = Value::Null;
        rows[9][0] = Value::Null;
        let packed = batch(&["n"], rows);
        assert_eq!(packed.columns[0].nulls, [0b0000_0010, 0b0000_0010]);
        assert_eq!(
            packed.columns[0].values,
            ColumnValues::Int64(vec![0, 0, 2, 3, 4, 5, 6, 7, 8, 0])
        );
    }

    #[test]
    fn dates_pack_as_days_since_1970() {
        let packed = batch(
            &["d"],
            vec![
                vec![date(1970, 1, 1)],
                vec![date(2026, 4, 12)],
                vec![date(1969, 12, 31)],
            ],
        );
        assert_eq!(
            packed.columns[0].values,
            ColumnValues::Date(vec![0, 20_555, -1])
        );
    }

    #[test]
    fn every_scalar_type_packs_by_its_own_type() {
        let scalars = [
            Scalar::Float64(1.5),
            Scalar::Numeric("2.5".into()),
            Scalar::Boolean(true),
            Scalar::Timestamp(7),
            Scalar::Json("{}".into()),
        ];
        let row = scalars.iter().cloned().map(Value::Scalar).collect();
        let packed = batch(&["f", "n", "b", "t", "j"], vec![row]);
        let values: Vec<&ColumnValues> = packed.columns.iter().map(|c| &c.values).collect();
        let one = |text: &str| PackedText {
            text: text.into(),
            ends: vec![text.len() as u32],
        };
        assert_eq!(
            values,
            [
                &ColumnValues::Float64(vec![1.5]),
                &ColumnValues::Numeric(one("2.5")),
                &ColumnValues::Boolean(vec![true]),
                &ColumnValues::Timestamp(vec![7]),
                &ColumnValues::Json(one("{}")),
            ]
        );
    }

    #[test]
    fn columns_that_cannot_pack_keep_one_value_per_row() {
        let repeated = Value::Repeated(vec![Scalar::String("a".into())]);
        let impossible = date(2026, 2, 30);
        let packed = batch(
            &["list", "mixed", "nothing", "bad_date"],
            vec![
                vec![repeated.clone(), int(1), Value::Null, impossible.clone()],
                vec![Value::Null, text("x"), Value::Null, Value::Null],
            ],
        );
        let values: Vec<&ColumnValues> = packed.columns.iter().map(|c| &c.values).collect();
        assert_eq!(
            values,
            [
                &ColumnValues::Values(vec![repeated, Value::Null]),
                &ColumnValues::Values(vec![int(1), text("x")]),
                &ColumnValues::Values(vec![Value::Null, Value::Null]),
                &ColumnValues::Values(vec![impossible, Value::Null]),
            ]
        );
        assert!(packed.columns.iter().all(|c| c.nulls.is_empty()));
    }

    #[test]
    fn a_builder_packs_cells_and_nulls_of_its_type_and_refuses_others() {
        let mut days = ColumnBuilder::new("game_date", Some(Packing::Date));
        for row in 0..10 {
            if row % 4 == 3 {
                days.push_null();
            } else {
                days.push(Cell::Day(row)).unwrap();
            }
        }
        assert_eq!(
            days.push(Cell::Text("2026-04-12")),
            Err(WrongCell {
                packing: Some(Packing::Date),
                found: "text"
            })
        );
        assert_eq!(days.len(), 10, "a refused cell is not appended");
        let column = days.finish();
        assert_eq!(column.name, "game_date");
        assert_eq!(column.nulls, [0b1000_1000, 0b0000_0000]);
        assert_eq!(
            column.values,
            ColumnValues::Date(vec![0, 1, 2, 0, 4, 5, 6, 0, 8, 9])
        );
    }

    #[test]
    fn a_builder_without_packing_keeps_whole_values_and_no_bitmap() {
        let mut tags = ColumnBuilder::new("tags", None);
        tags.push_value(Value::Repeated(Vec::new())).unwrap();
        tags.push_null();
        assert!(tags.push(Cell::Integer(1)).is_err());
        let column = tags.finish();
        assert!(column.nulls.is_empty());
        assert_eq!(
            column.values,
            ColumnValues::Values(vec![Value::Repeated(Vec::new()), Value::Null])
        );
    }

    /// Column `index` of `rows` built as a store builds it: packed as
    /// `packing` whatever the rows hold.
    fn built(rows: &[Vec<Value>], index: usize, packing: Option<Packing>) -> Column {
        let mut builder = ColumnBuilder::new(format!("c{index}"), packing);
        for row in rows {
            match &row[index] {
                Value::Null if packing.is_some() => builder.push_null(),
                Value::Scalar(scalar) if packing.is_some() => {
                    builder.push(Cell::of(scalar).unwrap()).unwrap()
                }
                value => builder.push_value(value.clone()).unwrap(),
            }
        }
        builder.finish()
    }

    #[test]
    fn columns_extended_by_later_reads_equal_one_read_of_all_rows() {
        let rows = vec![
            vec![text("lebron"), int(30), Value::Null, date(2026, 1, 10)],
            vec![Value::Null, int(25), text("x"), date(2026, 1, 10)],
            vec![text("steph"), Value::Null, text("y"), date(2026, 1, 11)],
            vec![text("kd"), int(27), Value::Null, date(2026, 1, 11)],
            vec![text(""), int(1), text("z"), date(2026, 1, 12)],
            vec![text("ja"), int(2), text("w"), date(2026, 1, 12)],
            vec![text("zion"), int(3), text("v"), date(2026, 1, 12)],
            vec![text("luka"), int(4), Value::Null, date(2026, 1, 13)],
            vec![text("ant"), int(5), text("u"), date(2026, 1, 13)],
        ];
        let packings = [
            (0, Some(Packing::String)),
            (1, Some(Packing::Int64)),
            (2, Some(Packing::String)),
            (3, Some(Packing::Date)),
            (2, None),
        ];
        for (index, packing) in packings {
            let whole = built(&rows, index, packing);
            for split in 0..=rows.len() {
                let (first, second) = rows.split_at(split);
                let mut builder = ColumnBuilder::new(format!("c{index}"), packing);
                builder.extend(&built(first, index, packing)).unwrap();
                builder.extend(&built(second, index, packing)).unwrap();
                assert_eq!(builder.finish(), whole, "column {index} split at {split}");
            }
        }
    }

    #[test]
    fn a_column_packed_another_way_cannot_extend_a_column() {
        let numbers = batch(&["n"], vec![vec![int(1)]]);
        let mut builder = ColumnBuilder::new("n", Some(Packing::String));
        assert!(builder.extend(&numbers.columns[0]).is_err());
    }

    #[test]
    fn an_empty_read_packs_into_an_empty_batch_with_its_columns() {
        let packed = batch(&["a", "b"], Vec::new());
        assert_eq!(packed.row_count, 0);
        assert_eq!(packed.columns.len(), 2);
        assert!(
            packed
                .columns
                .iter()
                .all(|c| c.values == ColumnValues::Values(Vec::new()))
        );
    }
}
