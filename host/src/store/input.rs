//! What storage serves to a run: rows of a table over a range of partition
//! dates, all columns or some, as rows or packed in columns. Every backend
//! and `slate test`'s fixtures implement [`InputSource`]; the sandbox only
//! consumes it, checking first that the run declared the table.

use chrono::NaiveDate;

use crate::bindings::{ColumnBatch, RowSet};
use crate::column_batch::{Packing, pack, pack_as};
use crate::schema::{Column, TableName, TableSchema};
use crate::store::StoreError;
use crate::text_codes::{CodedColumnBatch, NotText, code_batch};

/// Why an input read failed, as a source reports it.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The table does not exist.
    #[error("table {0} does not exist")]
    UnknownTable(TableName),
    /// The table has no column of a requested name.
    #[error("table {table} has no column `{column}`")]
    UnknownColumn {
        /// The table.
        table: TableName,
        /// The requested name.
        column: String,
    },
    /// A `slate test` fixture leaves out a column the processor reads.
    #[error(
        "the fixture of {table} holds no column `{column}`, which the processor reads: add it \
         to the file"
    )]
    NotInFixture {
        /// The table.
        table: TableName,
        /// The column left out.
        column: String,
    },
    /// A column asked for coded is not STRING.
    #[error("table {table}: {refused}")]
    NotText {
        /// The table.
        table: TableName,
        /// The column and what it holds.
        refused: NotText,
    },
    /// The backend failed.
    #[error("{0}")]
    Storage(String),
    /// The backend could not be reached: its database is down or the
    /// connection was lost. Worth trying again, unlike
    /// [`InputError::Storage`].
    #[error("{0}")]
    Unreachable(String),
}

impl From<StoreError> for InputError {
    /// A store's failure as a read reports it, keeping whether the store
    /// was unreachable.
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unreachable(_) => InputError::Unreachable(error.to_string()),
            error => InputError::Storage(error.to_string()),
        }
    }
}

/// A table and a range of its partition dates, both ends included: what
/// every read asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSpan<'a> {
    /// The table.
    pub table: &'a TableName,
    /// The first partition date.
    pub start: NaiveDate,
    /// The last partition date.
    pub end: NaiveDate,
}

impl<'a> TableSpan<'a> {
    /// `table` from `start` to `end`, both included.
    pub fn new(table: &'a TableName, start: NaiveDate, end: NaiveDate) -> Self {
        TableSpan { table, start, end }
    }
}

/// Where a run's input rows come from: the store, or fixtures in a test.
///
/// A source implements one read, [`InputSource::select`]; the sandbox calls
/// the four reads of the WIT `host` interface, which default to it. A
/// source that knows its tables' schemas says so in
/// [`InputSource::schema_of`]. A source that packs columns more cheaply
/// than [`pack`] overrides
/// [`InputSource::read_column_batch`], and one that keeps dictionaries
/// overrides [`InputSource::read_coded_column_batch`].
pub trait InputSource: Send + Sync {
    /// The rows of `span`, with `columns` in that order, or every column
    /// when `None`. A source that cannot pick columns as it reads applies
    /// [`keep_columns`].
    fn select(&self, span: TableSpan<'_>, columns: Option<&[String]>)
    -> Result<RowSet, InputError>;

    /// Rows of `table` whose partition date lies in `start..=end`, with every column.
    fn read_rows(
        &self,
        table: &TableName,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<RowSet, InputError> {
        self.select(TableSpan::new(table, start, end), None)
    }

    /// Like [`InputSource::read_rows`], with only `columns`, in that order.
    fn read_columns(
        &self,
        table: &TableName,
        start: NaiveDate,
        end: NaiveDate,
        columns: &[String],
    ) -> Result<RowSet, InputError> {
        self.select(TableSpan::new(table, start, end), Some(columns))
    }

    /// `table`'s schema, where the source knows it: its column batches
    /// then pack by it ([`pack_by_schema`]). The default knows none.
    fn schema_of(&self, table: &TableName) -> Result<Option<TableSchema>, InputError> {
        let _ = table;
        Ok(None)
    }

    /// The rows of `span` with only `columns`, in that order, packed
    /// column by column. The default packs what `select` returns: by the
    /// table's schema where [`InputSource::schema_of`] knows it, by the
    /// values read where it does not.
    fn read_column_batch(
        &self,
        span: TableSpan<'_>,
        columns: &[String],
    ) -> Result<ColumnBatch, InputError> {
        let rows = self.select(span, Some(columns))?;
        match self.schema_of(span.table)? {
            Some(schema) => pack_by_schema(span.table, &schema, rows),
            None => Ok(pack(rows)),
        }
    }

    /// The rows of `span` with `columns` packed and the STRING columns
    /// `coded` coded, each in the order named. The default codes what
    /// [`InputSource::read_column_batch`] returns, with a dictionary per
    /// read.
    fn read_coded_column_batch(
        &self,
        span: TableSpan<'_>,
        columns: &[String],
        coded: &[String],
    ) -> Result<CodedColumnBatch, InputError> {
        let all = [columns, coded].concat();
        code_batch(self.read_column_batch(span, &all)?, coded.len()).map_err(|refused| {
            InputError::NotText {
                table: span.table.clone(),
                refused,
            }
        })
    }
}

/// A source with no tables, where every read finds no table: for reading
/// `info`, and for running a processor that reads nothing.
pub struct NoTables;

impl InputSource for NoTables {
    fn select(&self, span: TableSpan<'_>, _: Option<&[String]>) -> Result<RowSet, InputError> {
        Err(InputError::UnknownTable(span.table.clone()))
    }
}

/// The position in `available` of each of `names`, in order; a name that
/// is not there is an error naming it and `table`.
pub fn positions_of(
    table: &TableName,
    available: &[String],
    names: &[String],
) -> Result<Vec<usize>, InputError> {
    names
        .iter()
        .map(|name| {
            available
                .iter()
                .position(|c| c == name)
                .ok_or_else(|| InputError::UnknownColumn {
                    table: table.clone(),
                    column: name.clone(),
                })
        })
        .collect()
}

/// Keeps only `columns` of `rows`, in that order, or every column when
/// `None`: [`InputSource::select`] for a source that reads whole rows.
pub fn keep_columns(
    table: &TableName,
    rows: RowSet,
    columns: Option<&[String]>,
) -> Result<RowSet, InputError> {
    match columns {
        Some(columns) => project(table, rows, columns),
        None => Ok(rows),
    }
}

/// Keeps only `columns` of `rows`, in that order.
pub fn project(table: &TableName, rows: RowSet, columns: &[String]) -> Result<RowSet, InputError> {
    let positions = positions_of(table, &rows.columns, columns)?;
    Ok(RowSet {
        columns: columns.to_vec(),
        rows: rows
            .rows
            .into_iter()
            .map(|row| positions.iter().map(|&p| row[p].clone()).collect())
            .collect(),
    })
}

/// `rows`, a read of `table` (its columns named in `rows.columns`),
/// packed column by column as `schema` types them ([`pack_as`]): how a
/// source that knows the schema packs, so that an empty read, or a column
/// whose rows are all null, has the shape of any other read of it.
pub fn pack_by_schema(
    table: &TableName,
    schema: &TableSchema,
    rows: RowSet,
) -> Result<ColumnBatch, InputError> {
    let packings: Vec<Option<Packing>> = selected_columns(table, schema, Some(&rows.columns))?
        .into_iter()
        .map(Packing::of_column)
        .collect();
    pack_as(rows, &packings).map_err(|e| InputError::Storage(format!("{table} {e}")))
}

/// The columns of `schema` a read returns: all of them, or those named.
pub fn selected_columns<'a>(
    table: &TableName,
    schema: &'a TableSchema,
    names: Option<&[String]>,
) -> Result<Vec<&'a Column>, InputError> {
    let Some(names) = names else {
        return Ok(schema.columns.iter().collect());
    };
    let available = schema.column_names();
    Ok(positions_of(table, &available, names)?
        .into_iter()
        .map(|p| &schema.columns[p])
        .collect())
}
