//! Reads for a chunk of one processor's dates, each input read once.
//!
//! A backfill on a store that commits dates together (BigQuery) runs one
//! processor's dates of a chunk one after another, and each run reads its
//! upstreams' rows up to its own date: read date by date, that is a query
//! per input per run, each a round trip of tens of milliseconds or more.
//! [`ReadAhead`] answers those reads from one read per (table, columns)
//! that runs on to the chunk's last date, and hands each run only the dates
//! it asked for.
//!
//! What a run sees does not change:
//! - its upstreams committed the whole chunk before it starts, because a
//!   backfill takes processors in dependency order;
//! - a processor that reads its own output table is never run in a chunk;
//! - the completeness checks that let the chunk run read the store at the
//!   same moment as the first read, so the rows match what was checked.
//!
//! A write by another host while the chunk runs is read by the next chunk,
//! as a write during a date-by-date backfill is read by the next date. A
//! chunk's read that fails (a value the read refuses, on any of its dates)
//! leaves each run to its own read, so a bad row fails only the runs of
//! its own date.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;

use crate::bindings::RowSet;
use crate::rows::{Scalar, Value, naive_date};
use crate::schema::{TableName, TableSchema};
use crate::store::Store;
use crate::store::input::{InputError, InputSource, TableSpan};

/// The store's rows of one chunk of dates, read once per (table, columns).
pub struct ReadAhead {
    store: Arc<dyn Store>,
    /// The chunk's last date: reads ending later go to the store.
    until: NaiveDate,
    reads: Mutex<HashMap<ReadKey, Snapshot>>,
}

/// A table and the columns read of it, `None` for all of them.
type ReadKey = (TableName, Option<Vec<String>>);

/// One read from `start` to the chunk's last date, with the partition
/// column last when the columns asked for leave it out. Cloning it shares
/// the rows.
#[derive(Clone)]
struct Snapshot {
    start: NaiveDate,
    rows: Arc<RowSet>,
    partition_at: usize,
    /// How many of the columns were asked for: the partition column after
    /// them, when it is there, was added for filtering.
    asked: usize,
}

impl ReadAhead {
    /// Reads of `store` for runs on dates up to `until`.
    pub fn new(store: Arc<dyn Store>, until: NaiveDate) -> Self {
        ReadAhead {
            store,
            until,
            reads: Mutex::new(HashMap::new()),
        }
    }

    /// The snapshot that answers `table`'s `columns` from `start`, read
    /// now when none covers `start` yet.
    fn snapshot(
        &self,
        table: &TableName,
        start: NaiveDate,
        columns: Option<&[String]>,
    ) -> Result<Option<Snapshot>, InputError> {
        let key = (table.clone(), columns.map(<[String]>::to_vec));
        let mut reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(snapshot) = reads.get(&key).filter(|s| s.start <= start) {
            return Ok(Some(snapshot.clone()));
        }
        let schema = match self.store.table_schema(table) {
            Ok(Some(schema)) => schema,
            Ok(None) => return Err(InputError::UnknownTable(table.clone())),
            Err(error) => return Err(InputError::from(error)),
        };
        let partition = schema.partition_column.clone();
        let (read, asked) = match columns {
            None => (None, schema.columns.len()),
            Some(columns) if columns.contains(&partition) => {
                (Some(columns.to_vec()), columns.len())
            }
            Some(columns) => {
                let mut with_partition = columns.to_vec();
                with_partition.push(partition.clone());
                (Some(with_partition), columns.len())
            }
        };
        let rows = self
            .store
            .select(TableSpan::new(table, start, self.until), read.as_deref())?;
        let Some(partition_at) = rows.columns.iter().position(|c| c == &partition) else {
            return Ok(None);
        };
        let snapshot = Snapshot {
            start,
            rows: Arc::new(rows),
            partition_at,
            asked,
        };
        reads.insert(key, snapshot.clone());
        Ok(Some(snapshot))
    }
}

impl Snapshot {
    /// The rows whose partition date lies in `start..=end`, with only the
    /// columns asked for.
    fn within(&self, start: NaiveDate, end: NaiveDate) -> RowSet {
        let in_range = |row: &Vec<Value>| match &row[self.partition_at] {
            Value::Scalar(Scalar::Date(date)) => {
                naive_date(*date).is_some_and(|d| start <= d && d <= end)
            }
            _ => false,
        };
        RowSet {
            columns: self.rows.columns[..self.asked].to_vec(),
            rows: self
                .rows
                .rows
                .iter()
                .filter(|row| in_range(row))
                .map(|row| row[..self.asked].to_vec())
                .collect(),
        }
    }
}

impl InputSource for ReadAhead {
    fn select(
        &self,
        span: TableSpan<'_>,
        columns: Option<&[String]>,
    ) -> Result<RowSet, InputError> {
        if span.end > self.until || span.start > span.end {
            return self.store.select(span, columns);
        }
        match self.snapshot(span.table, span.start, columns) {
            Ok(Some(snapshot)) => Ok(snapshot.within(span.start, span.end)),
            Ok(None) => self.store.select(span, columns),
            // The read of the whole chunk failed, perhaps on a value of a
            // date this run does not read (one the read refuses): the
            // run's own read decides, and names its own dates' rows.
            Err(InputError::Storage(_)) => self.store.select(span, columns),
            Err(error) => Err(error),
        }
    }

    fn schema_of(&self, table: &TableName) -> Result<Option<TableSchema>, InputError> {
        self.store.table_schema(table).map_err(InputError::from)
    }
}
