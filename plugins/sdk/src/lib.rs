//! The guest side of the `slate:processor@0.1.2` contract.
//!
//! A processor crate depends on this crate only. It implements [`Guest`],
//! calls [`export!`], and keeps its logic in plain Rust functions that are
//! unit-tested natively. This crate owns the generated bindings and the small
//! helpers every processor needs: declaring itself, building schemas, reading typed cells out
//! of a [`RowSet`] or a [`ColumnBatch`], building output rows, and date
//! arithmetic. It holds no processor logic.

#![allow(missing_docs)] // the generated bindings carry the WIT docs instead

extern crate self as slate_sdk;

mod batch;
mod binding;
mod coded;
mod dates;
mod declaration;
mod memcmp;
mod rows;
mod schema;

/// The generated bindings for the `seasonal-processor-plugin` world: the
/// processor, and the `season` export through which it may declare that it
/// reads the season to date.
pub mod bindings {
    wit_bindgen::generate!({
        world: "seasonal-processor-plugin",
        path: "../../wit",
        pub_export_macro: true,
        default_bindings_module: "slate_sdk::bindings",
        runtime_path: "slate_sdk::wit_bindgen::rt",
    });
}

#[doc(hidden)]
pub use wit_bindgen;

/// The `season` export's own trait; [`export!`] and
/// [`processor!`](crate::processor) implement it.
pub use bindings::exports::slate::processor::season::{
    Guest as SeasonGuest, MonthDay, SeasonReads,
};

/// Exports a processor: `slate_sdk::export!(MyProcessor);` where
/// `MyProcessor: Guest`. Its `season` export answers `none`: it looks back
/// as its `info` says. A processor that reads the season to date declares
/// it in its [`Declaration`] and is exported by
/// [`processor!`](crate::processor).
#[macro_export]
macro_rules! export {
    ($name:ident) => {
        impl $crate::SeasonGuest for $name {
            fn reads_over_season() -> ::core::option::Option<$crate::SeasonReads> {
                ::core::option::Option::None
            }
        }

        $crate::bindings::export!($name with_types_in $crate::bindings);
    };
}

pub use bindings::exports::slate::processor::processor::{
    BadRowPolicy, GapPolicy, Guest, Lookback, Phase, ProcessError, ProcessorInfo, UpstreamPolicy,
};
pub use bindings::slate::processor::host::{LogLevel, ReadError};
pub use bindings::slate::processor::types::{
    CodedColumn, CodedColumnBatch, Column, ColumnBatch, ColumnValues, Date, Field, FieldMode,
    FieldType, PackedText, Row, RowSet, Scalar, TableRef, Value,
};
pub use dates::{date_from_days, days_from_date};
pub use declaration::{Declaration, SeasonToDate, parse_schema};
pub use rows::{Columns, RowExt, RowSetBuilder};
pub use schema::{check_row, field, table};

/// Writes a line to the host's log.
pub fn log(level: LogLevel, message: &str) {
    bindings::slate::processor::host::log(level, message);
}

/// Reads the rows of a declared input table with a partition date between
/// `start` and `end`, inclusive.
pub fn read_rows(table: &TableRef, start: Date, end: Date) -> Result<RowSet, ReadError> {
    bindings::slate::processor::host::read_rows(table, start, end)
}

/// Reads only the named columns, in that order, of a declared input table
/// for the same range as [`read_rows`]. Only what a processor uses crosses
/// into its sandbox, so a processor that needs 3 of 31 columns should say so.
pub fn read_columns<S: AsRef<str>>(
    table: &TableRef,
    start: Date,
    end: Date,
    columns: &[S],
) -> Result<RowSet, ReadError> {
    let columns: Vec<String> = columns.iter().map(|c| c.as_ref().to_string()).collect();
    bindings::slate::processor::host::read_columns(table, start, end, &columns)
}

/// Reads the named columns of a declared input table's rows of one
/// partition date, packed: [`read_column_batch`] from `date` to `date`.
pub fn read_day<S: AsRef<str>>(
    table_name: &str,
    date: Date,
    columns: &[S],
) -> Result<ColumnBatch, ReadError> {
    read_column_batch(&table(table_name), date, date, columns)
}

/// Reads the named columns of a declared input table for the same range as
/// [`read_rows`], packed column by column. Each column crosses into the
/// sandbox in a few copies rather than one allocation per row and string,
/// so this is the read for many rows; [`ColumnBatch::column`] reads it.
pub fn read_column_batch<S: AsRef<str>>(
    table: &TableRef,
    start: Date,
    end: Date,
    columns: &[S],
) -> Result<ColumnBatch, ReadError> {
    let columns: Vec<String> = columns.iter().map(|c| c.as_ref().to_string()).collect();
    bindings::slate::processor::host::read_column_batch(table, start, end, &columns)
}

/// Like [`read_column_batch`], with the STRING columns named in `coded`
/// coded: a dictionary of texts and, per row, an index into it, so that
/// the processor groups rows by integer ([`CodedColumn::code`]) instead of
/// hashing and comparing text. Each coded column's dictionary holds the
/// texts of the batch's rows, and its codes hold for this batch only.
/// Contract 0.1.1.
pub fn read_coded_column_batch<S: AsRef<str>, C: AsRef<str>>(
    table: &TableRef,
    start: Date,
    end: Date,
    columns: &[S],
    coded: &[C],
) -> Result<CodedColumnBatch, ReadError> {
    let columns: Vec<String> = columns.iter().map(|c| c.as_ref().to_string()).collect();
    let coded: Vec<String> = coded.iter().map(|c| c.as_ref().to_string()).collect();
    bindings::slate::processor::host::read_coded_column_batch(table, start, end, &columns, &coded)
}

/// The host's batch reads, as a processor's logic takes them: [`Host`] in
/// a component, a stand-in natively, so that the same logic runs both ways
/// (the benchmarks compare the two). One read serves both: a batch with
/// nothing coded is a plain batch.
pub trait BatchReads {
    /// [`read_coded_column_batch`].
    fn coded_column_batch(
        &self,
        table: &TableRef,
        start: Date,
        end: Date,
        columns: &[&str],
        coded: &[&str],
    ) -> Result<CodedColumnBatch, ReadError>;

    /// [`read_column_batch`]: the coded read with nothing coded.
    fn column_batch(
        &self,
        table: &TableRef,
        start: Date,
        end: Date,
        columns: &[&str],
    ) -> Result<ColumnBatch, ReadError> {
        let none: [&str; 0] = [];
        Ok(self
            .coded_column_batch(table, start, end, columns, &none)?
            .batch)
    }
}

/// The reads of the host the component runs in.
pub struct Host;

impl BatchReads for Host {
    fn coded_column_batch(
        &self,
        table: &TableRef,
        start: Date,
        end: Date,
        columns: &[&str],
        coded: &[&str],
    ) -> Result<CodedColumnBatch, ReadError> {
        read_coded_column_batch(table, start, end, columns, coded)
    }
}

/// A read error as the processor's error, so that `?` on a read reports it:
/// a table that does not exist is missing data; an undeclared table, a bad
/// range or a read past the limit is the processor's own mistake, and a
/// storage failure the host's, all reported as internal errors. Each keeps
/// the host's message.
impl From<ReadError> for ProcessError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::UnknownTable(message) => ProcessError::MissingData(message),
            ReadError::UndeclaredTable(message) => {
                ProcessError::Internal(format!("undeclared table: {message}"))
            }
            ReadError::InvalidRange(message) => {
                ProcessError::Internal(format!("invalid read range: {message}"))
            }
            ReadError::LimitExceeded(message) => {
                ProcessError::Internal(format!("read limit exceeded: {message}"))
            }
            ReadError::Storage(message) => {
                ProcessError::Internal(format!("storage failed: {message}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_error_keeps_its_message_and_only_a_missing_table_is_missing_data() {
        let missing =
            ProcessError::from(ReadError::UnknownTable("table a.b does not exist".into()));
        assert!(matches!(missing, ProcessError::MissingData(m) if m == "table a.b does not exist"));
        let undeclared =
            ProcessError::from(ReadError::UndeclaredTable("P did not declare a.b".into()));
        assert!(
            matches!(undeclared, ProcessError::Internal(m) if m == "undeclared table: P did not declare a.b")
        );
        let storage = ProcessError::from(ReadError::Storage("disk full".into()));
        assert!(matches!(storage, ProcessError::Internal(m) if m == "storage failed: disk full"));
    }
}
