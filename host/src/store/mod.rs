//! Where tables and run history live.
//!
//! [`Store`] is the contract every backend keeps, in two parts: [`Tables`]
//! (creating tables from schemas, reading a date range, ownership) and
//! [`RunLedger`] (claiming runs atomically, and committing a date's rows
//! together with the run's success). Each backend keeps them in files of
//! the same names, `tables.rs` and `runs.rs`. [`EmbeddedStore`] keeps it in
//! one bundled SQLite file, the default that needs no setup; [`BigQueryStore`]
//! keeps it in BigQuery, for production; [`PostgresStore`] keeps it in one
//! PostgreSQL database that several hosts share; [`SplitStore`] keeps run
//! state in PostgreSQL and tables in BigQuery, with a commit protocol
//! across the two.

pub mod alerts;
pub mod backfill_records;
pub mod bigquery;
mod cells;
mod embedded;
pub mod hosts;
pub mod input;
pub mod listing;
pub mod postgres;
pub mod read_ahead;
mod read_cache;
pub mod schedules;
pub mod split;
pub mod work_queue;

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

pub use bigquery::{BigQueryConfig, BigQueryStore, JobCounts};
pub use embedded::EmbeddedStore;
pub use input::{InputError, InputSource, TableSpan};
pub use postgres::PostgresStore;
pub use read_cache::DEFAULT_READ_CACHE_BYTES;
pub use split::SplitStore;

use crate::ownership::{HostOwned, OwnedTable, OwnershipRefused, TableOwner, Transfer};
use crate::quarantine::{QuarantineRecord, QuarantinedRow};
use crate::rows::RowSet;
use crate::runs::{NewRun, RunEnd, RunFilter, RunRecord, RunUsage};
use crate::schema::{TableName, TableSchema};
use crate::upstream_check::UpstreamCheck;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
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
    /// The table belongs to another processor, a raw input or the host.
    #[error(transparent)]
    Ownership(#[from] OwnershipRefused),
    /// The store file is missing.
    #[error("no store at {0}: run `slate demo` first, or pass --data-dir")]
    Missing(String),
    /// The backend failed; the source keeps its whole chain.
    #[error("store error: {0}")]
    Backend(#[source] BackendError),
    /// No connection to the store's database could be had in time: the
    /// database is down or unreachable. Worth trying again later, unlike
    /// [`StoreError::Backend`].
    #[error("the store's database is unreachable: {0}")]
    Unreachable(String),
    /// The store can be read but takes no writes: a file this user may
    /// not write, or a PostgreSQL server in read-only mode (a standby, or
    /// `default_transaction_read_only`).
    #[error("the store takes no writes here: {0}")]
    ReadOnly(#[source] BackendError),
    /// The disk under the store's database is full (SQLite's
    /// `SQLITE_FULL`, PostgreSQL's `disk_full`): it can be read, and takes
    /// writes again once space is freed.
    #[error("the store's disk is full: {0}")]
    Full(#[source] BackendError),
    /// Another process holds the store's write lock past the wait for it
    /// (a `slate` stopped or hung in a commit): it can be read, not
    /// written, until that process ends or goes on.
    #[error("the store is locked by another process: {0}")]
    Locked(#[source] BackendError),
}

/// What a backend reports when it fails: its own error, whole. Shared, so
/// that one failure can fail every run of a batch with the same chain.
pub type BackendError = std::sync::Arc<dyn std::error::Error + Send + Sync>;

impl StoreError {
    /// A backend failure from its error, or from a message.
    pub fn backend(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError::Backend(BackendError::from(error.into()))
    }

    /// A write the store refused because it takes none here.
    pub fn read_only(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError::ReadOnly(BackendError::from(error.into()))
    }

    /// A write refused because the disk under the store is full.
    pub fn full(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError::Full(BackendError::from(error.into()))
    }

    /// A write that waited out another process's hold on the store.
    pub fn locked(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError::Locked(BackendError::from(error.into()))
    }

    /// Whether the store could be read but not written: it takes no writes
    /// here, or another process holds its write lock.
    pub fn only_reads(&self) -> bool {
        matches!(self, StoreError::ReadOnly(_) | StoreError::Locked(_))
    }
}

/// The time now, to the microsecond: what every backend stores, so that a
/// recorded time reads back equal to the one returned.
pub(crate) fn now_to_the_microsecond() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// An owner as a backend stored it, by kind and processor name.
fn stored_owner(kind: &str, name: Option<&str>) -> Result<TableOwner, StoreError> {
    TableOwner::from_stored(kind, name)
        .ok_or_else(|| StoreError::backend(format!("unreadable table owner `{kind}` {name:?}")))
}

/// A table name as a backend stored it, `dataset.table`.
fn stored_table_name(text: &str) -> Result<TableName, StoreError> {
    TableName::parse(text)
        .ok_or_else(|| StoreError::backend(format!("unreadable table name `{text}`")))
}

/// What a warehouse's commit log holds of a run whose rows it committed
/// for a ledger kept elsewhere (PostgreSQL): what that ledger records when
/// the run ends, for its reaper to record instead when the run's host died
/// between the two ([`crate::store::split`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedCommit {
    /// The table written, `dataset.table`.
    pub table_name: String,
    /// The rows the transaction inserted.
    pub rows_written: i64,
    /// The run's own figures, as its host would have recorded them; `None`
    /// for an entry logged before the log kept them.
    pub facts: Option<CommitFacts>,
    /// The bad rows it set aside under the `quarantine` policy, committed
    /// in the same transaction as its rows.
    pub quarantined: Vec<crate::quarantine::QuarantineRecord>,
}

/// The figures of a committed run that its run record keeps besides the
/// rows written ([`LoggedCommit::facts`]).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CommitFacts {
    /// Rows the processor read.
    pub rows_read: i64,
    /// Committed rows whose `data_quality_issues` is not empty.
    pub rows_with_quality_issues: i64,
    /// Guest log lines dropped past the run's budget.
    pub log_lines_dropped: i64,
    /// The most memory its instance held at once, in bytes.
    pub peak_memory_bytes: i64,
    /// What the completeness check before it found.
    pub upstream_check: Option<UpstreamCheck>,
}

impl CommitFacts {
    /// The figures of `output`.
    pub fn of(output: &RunOutput<'_>) -> Self {
        CommitFacts {
            rows_read: output.rows_read,
            rows_with_quality_issues: output.rows_with_quality_issues as i64,
            log_lines_dropped: output.usage.log_lines_dropped as i64,
            peak_memory_bytes: output.usage.peak_memory_bytes as i64,
            upstream_check: output.upstream_check.cloned(),
        }
    }
}

/// What a successful run commits.
#[derive(Debug, Clone, Copy)]
pub struct RunOutput<'a> {
    /// The processor that wrote the rows: the table's owner, recorded when
    /// this commit creates the table.
    pub processor: &'a str,
    /// The output table.
    pub table: &'a TableName,
    /// The output table's declared schema: the commit creates the table
    /// from it when it does not exist yet, so a failed run leaves no table.
    pub schema: &'a TableSchema,
    /// The run's date: the partition replaced.
    pub date: NaiveDate,
    /// The rows that load.
    pub rows: &'a RowSet,
    /// Rows the processor read.
    pub rows_read: i64,
    /// Bad rows set aside under the `quarantine` policy.
    pub quarantined: &'a [QuarantinedRow],
    /// Rows in `rows` whose `data_quality_issues` is not empty.
    pub rows_with_quality_issues: u64,
    /// What the guest used.
    pub usage: RunUsage,
    /// The completeness check that let it run, if one did.
    pub upstream_check: Option<&'a UpstreamCheck>,
}

impl<'a> RunOutput<'a> {
    /// The commit of `rows` by `processor` to `table` for `date`, with
    /// nothing else to record: no rows read, none quarantined or flagged,
    /// no usage and no completeness check. Set those fields over it.
    pub fn new(
        processor: &'a str,
        table: &'a TableName,
        schema: &'a TableSchema,
        date: NaiveDate,
        rows: &'a RowSet,
    ) -> Self {
        RunOutput {
            processor,
            table,
            schema,
            date,
            rows,
            rows_read: 0,
            quarantined: &[],
            rows_with_quality_issues: 0,
            usage: RunUsage::default(),
            upstream_check: None,
        }
    }
}

/// Rows per partition date of a table.
pub type PartitionCounts = Vec<(NaiveDate, u64)>;

/// Tables: created from schemas, migrated, read by date range, replaced a
/// date at a time, and owned by one processor each.
pub trait Tables: InputSource + Send + Sync {
    /// Creates a table the host loads (a raw input, such as the demo's box
    /// scores) from `schema` if it does not exist, and records the host as
    /// its owner ([`TableOwner::RawInput`]): no processor may write it. An
    /// existing table without a recorded owner is adopted; a processor's
    /// table is refused. An existing table with another schema is migrated
    /// when the only change is new NULLABLE columns, and refused otherwise
    /// with every difference listed ([`crate::drift`]). A processor's output
    /// table is created by its first commit instead.
    fn ensure_table(&self, table: &TableName, schema: &TableSchema) -> Result<(), StoreError>;

    /// Checks a processor's output table before its run: an existing table
    /// is migrated like [`Tables::ensure_table`] does, or refused; a missing
    /// one is left for the run's commit to create.
    fn check_output_table(&self, table: &TableName, schema: &TableSchema)
    -> Result<(), StoreError>;

    /// Refuses `table` with `schema` when this backend could not keep its
    /// names (PostgreSQL keeps at most 63 bytes of each), so that a deploy
    /// is refused rather than the version's first commit. Any name, by
    /// default.
    fn check_names(&self, _table: &TableName, _schema: &TableSchema) -> Result<(), StoreError> {
        Ok(())
    }

    /// The names this backend keeps for the host, which no processor may write.
    fn host_owned(&self) -> HostOwned {
        HostOwned::default()
    }

    /// Every table with a recorded owner.
    fn table_owners(&self) -> Result<Vec<OwnedTable>, StoreError>;

    /// The recorded owner of `table`, if any.
    fn table_owner(&self, table: &TableName) -> Result<Option<TableOwner>, StoreError> {
        Ok(self
            .table_owners()?
            .into_iter()
            .find(|owned| &owned.table == table)
            .map(|owned| owned.owner))
    }

    /// Moves `table` to `to`, recording who asked (`by`) and when. The
    /// table must exist.
    fn transfer_table(
        &self,
        table: &TableName,
        to: &TableOwner,
        by: &str,
    ) -> Result<Transfer, StoreError>;

    /// Every recorded transfer, oldest first.
    fn table_transfers(&self) -> Result<Vec<Transfer>, StoreError>;

    /// Drops `table` with its rows and its record (schema, owner); false
    /// when it did not exist. Only the host drops tables, and only those it
    /// made on a processor's behalf: a promoted shadow's tables.
    fn drop_table(&self, table: &TableName) -> Result<bool, StoreError>;

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
    fn partition_counts(&self, table: &TableName) -> Result<PartitionCounts, StoreError> {
        self.partition_counts_within(table, None)
    }

    /// The partition dates in `dates` (both ends included) that hold a
    /// row, without counting them: what a lookback's gap check asks, over
    /// as much as a season. By default the dates of
    /// [`Tables::partition_counts_within`]; a store that finds them by
    /// seeking its partition index instead overrides it.
    fn partition_dates_within(
        &self,
        table: &TableName,
        dates: RangeInclusive<NaiveDate>,
    ) -> Result<BTreeSet<NaiveDate>, StoreError> {
        let counts = self.partition_counts_within(table, Some(dates))?;
        Ok(counts.into_iter().map(|(date, _)| date).collect())
    }

    /// Row counts per partition date, of the dates in `dates` (both ends
    /// included) when given: a lookback window reads its own dates, not
    /// the table's whole history.
    fn partition_counts_within(
        &self,
        table: &TableName,
        dates: Option<RangeInclusive<NaiveDate>>,
    ) -> Result<PartitionCounts, StoreError>;

    /// Drops what killed runs left behind and no run will come back for,
    /// made before `now` less a safe margin: BigQuery's staging tables.
    /// Returns what it dropped; most backends leave nothing.
    fn sweep_staging(&self, _now: DateTime<Utc>) -> Result<Vec<TableName>, StoreError> {
        Ok(Vec::new())
    }

    /// Rows of `table` on `date`; 0 when the table does not exist.
    fn rows_on(&self, table: &TableName, date: NaiveDate) -> Result<u64, StoreError>;
}

/// The run ledger: claims, leases, the commit of a run's rows with its
/// success, ends, reaping and history.
pub trait RunLedger: Send + Sync {
    /// Claims (processor, date) atomically and records the run as `running`.
    /// Fails with [`StoreError::AlreadyRunning`] when another run holds it.
    fn start_run(&self, run: &NewRun) -> Result<RunRecord, StoreError>;

    /// Claims each of `runs` as [`RunLedger::start_run`] does: one result
    /// per run, in order, each a claim or the reason it was refused. The
    /// default claims one at a time; a store whose every statement is a
    /// costly round trip (BigQuery) claims them all in one.
    fn start_runs(&self, runs: &[NewRun]) -> Vec<Result<RunRecord, StoreError>> {
        runs.iter().map(|run| self.start_run(run)).collect()
    }

    /// In one transaction: creates the output table if it does not exist
    /// (recording the run's processor as its owner), replaces the output
    /// date's rows with its rows, records its quarantined rows, and marks
    /// the run `success`. Returns the rows written. A run that is no longer
    /// `running` (it was reaped) writes nothing and fails with
    /// [`StoreError::NotRunning`]; a table owned by anyone else writes
    /// nothing and fails with [`StoreError::Ownership`].
    fn commit_run(&self, run_id: &str, output: &RunOutput<'_>) -> Result<usize, StoreError>;

    /// How many dates of one processor a backfill may commit together with
    /// [`RunLedger::commit_runs`]; `None` (the default): one at a time.
    /// BigQuery limits load jobs per table per day and queues DML on a
    /// table, so there a season's commits go in chunks.
    fn commit_batch_dates(&self) -> Option<usize> {
        None
    }

    /// How often a server whose `/events` someone follows reads this
    /// ledger for the runs other processes changed
    /// ([`RunFilter::changed_since`]): each second by default; less often
    /// where every read is a billed query (BigQuery).
    fn changes_read_every(&self) -> Duration {
        Duration::from_secs(1)
    }

    /// Commits the runs of one processor on several dates as one: every
    /// run's rows replace its date and every run is marked `success`, or,
    /// on any error, nothing is written and every run stays `running`. A
    /// date is never left with some old rows and some new. Returns the rows
    /// written. A store whose [`RunLedger::commit_batch_dates`] is `None`
    /// commits one run at a time and refuses more.
    fn commit_runs(&self, runs: &[(&str, RunOutput<'_>)]) -> Result<usize, StoreError> {
        match runs {
            [(run_id, output)] => self.commit_run(run_id, output),
            _ => Err(StoreError::backend(format!(
                "this store commits runs one at a time, not {} together",
                runs.len()
            ))),
        }
    }

    /// Quarantined rows, of one run or of every run, newest run first; at
    /// most `limit` of them (`None`: every one).
    fn quarantined(
        &self,
        run_id: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<QuarantineRecord>, StoreError>;

    /// How many rows each run for a date in `dates` set aside, by run id
    /// (a run that set none aside is not listed): counted by the store, so
    /// that a summary never reads the rows themselves.
    fn quarantine_counts(
        &self,
        dates: std::ops::RangeInclusive<chrono::NaiveDate>,
    ) -> Result<std::collections::HashMap<String, u64>, StoreError>;

    /// Ends a running run without writing rows.
    fn end_run(&self, run_id: &str, end: &RunEnd) -> Result<(), StoreError>;

    /// Run records matching `filter`, newest first.
    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError>;

    /// Renews the leases of these runs, if still `running`, to `now + lease`.
    /// Returns how many were renewed.
    fn renew_leases(&self, run_ids: &[String], lease: Duration) -> Result<usize, StoreError>;

    /// Expires the leases of every `running` run of `host_id` that started
    /// before `started_before` at once, so the next reap fails them: for a
    /// host known to be gone (pass now), or an earlier process that had
    /// this one's id (pass when this one started, so its own runs stay).
    fn expire_leases(
        &self,
        host_id: &str,
        started_before: DateTime<Utc>,
    ) -> Result<usize, StoreError>;

    /// Marks every `running` run whose lease expired before `now` as
    /// `failed`, kind `stale`, with "host H stopped renewing at T", and
    /// its duration to that last heartbeat T. Idempotent, and safe from several hosts at once: each stale run is
    /// reaped exactly once. Returns the runs reaped by this call.
    fn reap_stale(&self, now: DateTime<Utc>) -> Result<Vec<RunRecord>, StoreError>;

    /// Flags a still-running run with a note (e.g. overdue), which its
    /// record keeps when it ends.
    fn flag_run(&self, run_id: &str, reason: &str) -> Result<(), StoreError>;

    /// One run record.
    fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError>;

    /// The records of those of `run_ids` that exist, in no particular
    /// order. The default reads them one at a time.
    fn runs_with_ids(&self, run_ids: &[String]) -> Result<Vec<RunRecord>, StoreError> {
        run_ids
            .iter()
            .filter_map(|run_id| self.run(run_id).transpose())
            .collect()
    }

    /// The alert outbox this ledger writes its run alerts into, in the
    /// transactions of the state changes that raise them; `None` for a
    /// backend that keeps none (alerts then cannot be configured).
    fn alert_outbox(&self) -> Option<&dyn alerts::AlertOutbox> {
        None
    }

    /// The ledger of schedule ticks; `None` for a backend that keeps none
    /// (schedules then cannot be configured).
    fn tick_ledger(&self) -> Option<&dyn schedules::TickLedger> {
        None
    }

    /// The backfill work queue every host sharing this ledger takes tasks
    /// from; `None` for a backfill of one host, which schedules its own
    /// runs ([`crate::backfill::run`]).
    fn work_queue(&self) -> Option<&dyn work_queue::WorkQueue> {
        None
    }

    /// The records of the backfills a server runs by itself, so that they
    /// outlive it; `None` for a ledger that keeps none (their progress
    /// then lives in the server's memory).
    fn backfill_records(&self) -> Option<&dyn backfill_records::BackfillRecords> {
        None
    }

    /// The directory of hosts serving on this ledger; `None` for a ledger
    /// of one machine.
    fn host_directory(&self) -> Option<&dyn hosts::HostDirectory> {
        None
    }
}

/// The contract of a warehouse with run history: its tables and its run
/// ledger. A backend implements both; a run commits through the ledger,
/// which writes the table in the same transaction.
pub trait Store: Tables + RunLedger {}

impl<T: Tables + RunLedger + ?Sized> Store for T {}
