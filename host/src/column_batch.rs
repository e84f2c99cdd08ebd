//! Packing rows column by column, for `read-column-batch`.
//!
//! A [`RowSet`] crosses the component boundary as one guest allocation per
//! row and per string. A [`ColumnBatch`] holds each column's values
//! together, packed by type: a text column as one string and its end
//! offsets, a number column as one list. A read of 25,000 rows then costs a
//! few copies per column instead of some 75,000 allocations in the guest.
//!
//! Packing needs no schema: a column packs by the type of its values. A
//! column that cannot pack (REPEATED, all null, or of mixed types, which a
//! validated table never holds) keeps one [`Value`] per row, so nothing a
//! row set can carry is lost.

use chrono::{Datelike, NaiveDate};

pub use crate::plugin::bindings::{Column, ColumnBatch, ColumnValues, PackedText};
use crate::rows::{Date, RowSet, Scalar, Value};

/// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The number of days from 1970-01-01 to `date`, or `None` for an
/// impossible date such as 2026-02-30.
pub fn days_since_epoch(date: Date) -> Option<i32> {
    let date = NaiveDate::from_ymd_opt(date.year, u32::from(date.month), u32::from(date.day))?;
    Some(date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE)
}

/// The packed type of a column, from its first non-null value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Packing {
    String,
    Int64,
    Float64,
    Numeric,
    Boolean,
    Date,
    Timestamp,
    Json,
}

impl Packing {
    fn of(scalar: &Scalar) -> Packing {
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
            other => Packing::of(other) == self,
        }
    }
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
                let kind = *packing.get_or_insert(Packing::of(scalar));
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

/// Packs `rows` column by column; the batch's columns are the row set's.
pub fn pack(rows: RowSet) -> ColumnBatch {
    let RowSet { columns, mut rows } = rows;
    let row_count = u32::try_from(rows.len()).expect("a read holds fewer than 2^32 rows");
    let columns = columns
        .into_iter()
        .enumerate()
        .map(|(index, name)| {
            let (nulls, values) = match packing(&rows, index) {
                Some(kind) => pack_column(&rows, index, kind),
                None => (Vec::new(), take_values(&mut rows, index)),
            };
            Column {
                name,
                nulls,
                values,
            }
        })
        .collect();
    ColumnBatch { row_count, columns }
}

/// Column `index` of every row, moved out (a missing cell is null).
fn take_values(rows: &mut [Vec<Value>], index: usize) -> ColumnValues {
    ColumnValues::Values(
        rows.iter_mut()
            .map(|row| {
                row.get_mut(index)
                    .map_or(Value::Null, |cell| std::mem::replace(cell, Value::Null))
            })
            .collect(),
    )
}

/// Column `index` packed as `kind`, with its null bitmap. Every non-null
/// value is known to fit `kind`.
fn pack_column(rows: &[Vec<Value>], index: usize, kind: Packing) -> (Vec<u8>, ColumnValues) {
    let mut nulls = NullBitmap::new(rows.len());
    let cells = rows
        .iter()
        .enumerate()
        .map(|(row, cells)| match &cells[index] {
            Value::Scalar(scalar) => Some(scalar),
            _ => {
                nulls.set(row);
                None
            }
        });
    let values = match kind {
        Packing::String => ColumnValues::String(pack_text(cells)),
        Packing::Numeric => ColumnValues::Numeric(pack_text(cells)),
        Packing::Json => ColumnValues::Json(pack_text(cells)),
        Packing::Int64 => ColumnValues::Int64(
            cells
                .map(|c| match c {
                    Some(Scalar::Int64(v)) => *v,
                    _ => 0,
                })
                .collect(),
        ),
        Packing::Timestamp => ColumnValues::Timestamp(
            cells
                .map(|c| match c {
                    Some(Scalar::Timestamp(v)) => *v,
                    _ => 0,
                })
                .collect(),
        ),
        Packing::Float64 => ColumnValues::Float64(
            cells
                .map(|c| match c {
                    Some(Scalar::Float64(v)) => *v,
                    _ => 0.0,
                })
                .collect(),
        ),
        Packing::Boolean => ColumnValues::Boolean(
            cells
                .map(|c| matches!(c, Some(Scalar::Boolean(true))))
                .collect(),
        ),
        Packing::Date => ColumnValues::Date(
            cells
                .map(|c| match c {
                    Some(Scalar::Date(d)) => days_since_epoch(*d).unwrap_or(0),
                    _ => 0,
                })
                .collect(),
        ),
    };
    (nulls.finish(), values)
}

/// The text of every cell in one string, with each cell's end offset; a
/// null or non-text cell is empty.
fn pack_text<'a>(cells: impl Iterator<Item = Option<&'a Scalar>>) -> PackedText {
    let mut text = String::new();
    let mut ends = Vec::with_capacity(cells.size_hint().0);
    for cell in cells {
        if let Some(Scalar::String(s) | Scalar::Numeric(s) | Scalar::Json(s)) = cell {
            text.push_str(s);
        }
        // `packing` checked that the column's text fits in u32 offsets.
        ends.push(text.len() as u32);
    }
    PackedText { text, ends }
}

/// Which rows are null: bit `i % 8` of byte `i / 8`.
struct NullBitmap {
    bytes: Vec<u8>,
    any: bool,
}

impl NullBitmap {
    fn new(rows: usize) -> Self {
        NullBitmap {
            bytes: vec![0; rows.div_ceil(8)],
            any: false,
        }
    }

    fn set(&mut self, row: usize) {
        self.bytes[row / 8] |= 1 << (row % 8);
        self.any = true;
    }

    /// The bitmap, or nothing when no row is null.
    fn finish(self) -> Vec<u8> {
        if self.any { self.bytes } else { Vec::new() }
    }
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
