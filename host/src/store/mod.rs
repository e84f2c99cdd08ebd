//! Where tables and run history live.
//!
//! [`Store`] is the contract every backend keeps: creating tables from
//! schemas, reading a date range, claiming runs atomically, and committing a
//! date's rows together with the run's success. [`EmbeddedStore`] keeps it in
//! one bundled SQLite file, the default that needs no setup; [`BigQueryStore`]
//! keeps it in BigQuery, for production.

pub mod bigquery;
mod cells;
mod embedded;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

pub use bigquery::{BigQueryConfig, BigQueryStore};
pub use embedded::EmbeddedStore;

use crate::plugin::sandbox::InputSource;
use crate::quarantine::{QuarantineRecord, QuarantinedRow};
use crate::rows::RowSet;
use crate::runs::{NewRun, RunEnd, RunFilter, RunRecord};
use crate::schema::{TableName, TableSchema};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another run of the same processor and date holds the claim.
    #[error("already running (run {run_id}, started {started_at})")]
    AlreadyRunning {
        /// The run that holds the claim.
        run_id: String,
        /// When it started.
        started_at: DateTime<Utc>,
    },
    /// The table does not exist.
    #[error("table {0} does not exist")]
    NoSuchTable(TableName),
    /// The run id is unknown, or the run is no longer `running`.
    #[error("run {0} is not running")]
    NotRunning(String),
    /// A stored table no longer matches what was written or expected.
    #[error("{0}")]
    Schema(String),
    /// The live table's schema cannot take the declared one.
    #[error(transparent)]
    Drift(#[from] crate::drift::DriftRefused),
    /// The store file is missing.
    #[error("no store at {0}: run `slate demo` first, or pass --data-dir")]
    Missing(String),
    /// The backend failed.
    #[error("store error: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Backend(error.to_string())
    }
}

/// What a successful run commits.
#[derive(Debug, Clone, Copy)]
pub struct RunOutput<'a> {
    /// The output table.
    pub table: &'a TableName,
    /// The run's date: the partition replaced.
    pub date: NaiveDate,
    /// The rows that load.
    pub rows: &'a RowSet,
    /// Rows the processor read.
    pub rows_read: i64,
    /// Bad rows set aside under the `quarantine` policy.
    pub quarantined: &'a [QuarantinedRow],
}

/// Rows per partition date of a table.
pub type PartitionCounts = Vec<(NaiveDate, u64)>;

/// The contract of a warehouse with run history.
pub trait Store: InputSource + Send + Sync {
    /// Creates the table from `schema` if it does not exist, and records the
    /// schema. An existing table with another schema is migrated when the
    /// only change is new NULLABLE columns, and refused otherwise with every
    /// difference listed ([`crate::drift`]).
    fn ensure_table(&self, table: &TableName, schema: &TableSchema) -> Result<(), StoreError>;

    /// The recorded schema of a table, if it exists.
    fn table_schema(&self, table: &TableName) -> Result<Option<TableSchema>, StoreError>;

    /// Replaces the rows of the given dates in one transaction: rows whose
    /// partition date is in `dates` are deleted, then `rows` are inserted.
    fn replace_partitions(
        &self,
        table: &TableName,
        dates: &[NaiveDate],
        rows: &RowSet,
    ) -> Result<usize, StoreError>;

    /// Row counts per partition date.
    fn partition_counts(&self, table: &TableName) -> Result<PartitionCounts, StoreError>;

    /// Claims (processor, date) atomically and records the run as `running`.
    /// Fails with [`StoreError::AlreadyRunning`] when another run holds it.
    fn start_run(&self, run: &NewRun) -> Result<RunRecord, StoreError>;

    /// In one transaction: replaces the output date's rows with its rows,
    /// records its quarantined rows, and marks the run `success`. Returns
    /// the rows written. A run that is no longer `running` (it was reaped)
    /// writes nothing and fails with [`StoreError::NotRunning`].
    fn commit_run(&self, run_id: &str, output: &RunOutput<'_>) -> Result<usize, StoreError>;

    /// Quarantined rows, of one run or of every run, newest run first.
    fn quarantined(&self, run_id: Option<&str>) -> Result<Vec<QuarantineRecord>, StoreError>;

    /// Ends a running run without writing rows.
    fn end_run(&self, run_id: &str, end: &RunEnd) -> Result<(), StoreError>;

    /// Run records matching `filter`, newest first.
    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError>;

    /// Renews the leases of these runs, if still `running`, to `now + lease`.
    /// Returns how many were renewed.
    fn renew_leases(&self, run_ids: &[String], lease: Duration) -> Result<usize, StoreError>;

    /// Expires the leases of every `running` run of `host_id` at once, so
    /// the next reap fails them: for a host known to be gone.
    fn expire_leases(&self, host_id: &str) -> Result<usize, StoreError>;

    /// Marks every `running` run whose lease expired before `now` as
    /// `failed`, kind `stale`, with "host H stopped renewing at T".
    /// Idempotent, and safe from several hosts at once: each stale run is
    /// reaped exactly once. Returns the runs reaped by this call.
    fn reap_stale(&self, now: DateTime<Utc>) -> Result<Vec<RunRecord>, StoreError>;

    /// Sets the reason of a still-running run, e.g. to flag it as overdue.
    fn flag_run(&self, run_id: &str, reason: &str) -> Result<(), StoreError>;

    /// Rows of `table` on `date`; 0 when the table does not exist.
    fn rows_on(&self, table: &TableName, date: NaiveDate) -> Result<u64, StoreError>;

    /// One run record.
    fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError>;
}
