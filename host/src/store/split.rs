//! Run state in PostgreSQL, tables in BigQuery: one commit protocol across
//! two systems that share no transaction.
//!
//! A run's commit goes in this order:
//! 1. PostgreSQL: a transaction locks the run's row, if it is still
//!    `running` (else the commit is refused and nothing is written);
//! 2. BigQuery: one transaction replaces the date's rows, puts the run's
//!    quarantined rows in its `_slate_quarantine`, and writes the run id
//!    with the run's figures to the commit log (`_slate_commit_log`);
//! 3. PostgreSQL: the run is marked `success` with its quarantined rows, and
//!    the transaction of step 1 commits.
//!
//! What recovery does at each failure point:
//! - before 2 commits: BigQuery holds nothing new (its transaction is
//!   whole or absent; staging tables are swept), the run stays `running`,
//!   and when its lease expires the reaper finds no commit log entry and
//!   fails it, kind `stale`;
//! - between 2 and 3 (the host dies, or PostgreSQL is unreachable): the
//!   run stays `running`; the reaper finds its id in the commit log and
//!   marks it `success` as its host would have (the rows it wrote, its
//!   figures, its quarantined rows and its alerts), with a note saying so;
//! - a reaper never resolves a run whose commit holds its row (step 1's
//!   lock): it skips it, and the commit ends it.
//!
//! So no reachable state leaves BigQuery holding a run's rows while its
//! history says failed, nor its history saying success without the rows.
//! `SLATE_FAILPOINT=before-warehouse-commit` or `after-warehouse-commit`
//! makes a host abort at that point, for the tests that prove it.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::input::{InputError, InputSource, TableSpan};
use super::{
    BigQueryStore, PartitionCounts, PostgresStore, RunLedger, RunOutput, StoreError, Tables,
};
use crate::bindings::RowSet;
use crate::ownership::{HostOwned, OwnedTable, TableOwner, Transfer};
use crate::quarantine::QuarantineRecord;
use crate::runs::{NewRun, RunEnd, RunFilter, RunRecord};
use crate::schema::{TableName, TableSchema};

/// The environment variable that names a failure point to abort at.
pub const FAILPOINT: &str = "SLATE_FAILPOINT";

/// Aborts the process, as a host dying would, when `SLATE_FAILPOINT`
/// names `point`.
fn failpoint(point: &str) {
    if std::env::var(FAILPOINT).is_ok_and(|named| named == point) {
        eprintln!("{FAILPOINT}={point}: aborting here");
        std::process::abort();
    }
}

/// Run state in PostgreSQL, tables in BigQuery.
pub struct SplitStore {
    ledger: PostgresStore,
    warehouse: BigQueryStore,
}

impl SplitStore {
    /// Run state in `ledger`, tables in `warehouse`.
    pub fn new(ledger: PostgresStore, warehouse: BigQueryStore) -> Self {
        SplitStore { ledger, warehouse }
    }

    /// The BigQuery side, for what only it has (its job counts).
    pub fn warehouse(&self) -> &BigQueryStore {
        &self.warehouse
    }
}

/// Reads are the warehouse's `select`, packed by the warehouse's schemas:
/// BigQuery packs and codes what it selects per read, as the trait's
/// defaults do, so the batch reads need no forwarding of their own (forward
/// them if BigQuery ever keeps a cache).
impl InputSource for SplitStore {
    fn select(
        &self,
        span: TableSpan<'_>,
        columns: Option<&[String]>,
    ) -> Result<RowSet, InputError> {
        self.warehouse.select(span, columns)
    }

    fn schema_of(&self, table: &TableName) -> Result<Option<TableSchema>, InputError> {
        self.warehouse.schema_of(table)
    }
}

impl Tables for SplitStore {
    fn ensure_table(&self, table: &TableName, schema: &TableSchema) -> Result<(), StoreError> {
        self.warehouse.ensure_table(table, schema)
    }

    fn check_output_table(
        &self,
        table: &TableName,
        schema: &TableSchema,
    ) -> Result<(), StoreError> {
        self.warehouse.check_output_table(table, schema)
    }

    fn check_names(&self, table: &TableName, schema: &TableSchema) -> Result<(), StoreError> {
        self.warehouse.check_names(table, schema)
    }

    fn host_owned(&self) -> HostOwned {
        self.warehouse.host_owned()
    }

    fn table_owners(&self) -> Result<Vec<OwnedTable>, StoreError> {
        self.warehouse.table_owners()
    }

    fn table_owner(&self, table: &TableName) -> Result<Option<TableOwner>, StoreError> {
        self.warehouse.table_owner(table)
    }

    fn transfer_table(
        &self,
        table: &TableName,
        to: &TableOwner,
        by: &str,
    ) -> Result<Transfer, StoreError> {
        self.warehouse.transfer_table(table, to, by)
    }

    fn table_transfers(&self) -> Result<Vec<Transfer>, StoreError> {
        self.warehouse.table_transfers()
    }

    fn drop_table(&self, table: &TableName) -> Result<bool, StoreError> {
        self.warehouse.drop_table(table)
    }

    fn table_schema(&self, table: &TableName) -> Result<Option<TableSchema>, StoreError> {
        self.warehouse.table_schema(table)
    }

    fn replace_partitions(
        &self,
        table: &TableName,
        dates: &[NaiveDate],
        rows: &RowSet,
    ) -> Result<usize, StoreError> {
        self.warehouse.replace_partitions(table, dates, rows)
    }

    fn partition_counts_within(
        &self,
        table: &TableName,
        dates: Option<RangeInclusive<NaiveDate>>,
    ) -> Result<PartitionCounts, StoreError> {
        self.warehouse.partition_counts_within(table, dates)
    }

    fn partition_dates_within(
        &self,
        table: &TableName,
        dates: RangeInclusive<NaiveDate>,
    ) -> Result<BTreeSet<NaiveDate>, StoreError> {
        self.warehouse.partition_dates_within(table, dates)
    }

    fn sweep_staging(&self, now: DateTime<Utc>) -> Result<Vec<TableName>, StoreError> {
        self.warehouse.sweep_staging(now)
    }

    fn rows_on(&self, table: &TableName, date: NaiveDate) -> Result<u64, StoreError> {
        self.warehouse.rows_on(table, date)
    }
}

impl RunLedger for SplitStore {
    fn start_run(&self, run: &NewRun) -> Result<RunRecord, StoreError> {
        self.ledger.start_run(run)
    }

    fn commit_run(&self, run_id: &str, output: &RunOutput<'_>) -> Result<usize, StoreError> {
        self.commit_runs(&[(run_id, *output)])
    }

    /// As BigQuery commits dates together, so does the split store.
    fn commit_batch_dates(&self) -> Option<usize> {
        self.warehouse.commit_batch_dates()
    }

    /// Locks every run's row in PostgreSQL, commits all their rows in one
    /// BigQuery transaction that logs every run id, then marks each run a
    /// success: a host that dies in between leaves runs the reaper finds in
    /// the commit log.
    fn commit_runs(&self, runs: &[(&str, RunOutput<'_>)]) -> Result<usize, StoreError> {
        self.ledger.commit_many_with(runs, |_| {
            failpoint("before-warehouse-commit");
            let written = self.warehouse.commit_rows(runs)?;
            failpoint("after-warehouse-commit");
            Ok(written)
        })
    }

    fn quarantined(
        &self,
        run_id: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<QuarantineRecord>, StoreError> {
        self.ledger.quarantined(run_id, limit)
    }

    fn quarantine_counts(
        &self,
        dates: std::ops::RangeInclusive<chrono::NaiveDate>,
    ) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        self.ledger.quarantine_counts(dates)
    }

    fn end_run(&self, run_id: &str, end: &RunEnd) -> Result<(), StoreError> {
        self.ledger.end_run(run_id, end)
    }

    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        self.ledger.runs(filter)
    }

    fn renew_leases(&self, run_ids: &[String], lease: Duration) -> Result<usize, StoreError> {
        self.ledger.renew_leases(run_ids, lease)
    }

    fn expire_leases(
        &self,
        host_id: &str,
        started_before: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.ledger.expire_leases(host_id, started_before)
    }

    fn reap_stale(&self, now: DateTime<Utc>) -> Result<Vec<RunRecord>, StoreError> {
        self.ledger
            .reap_stale_checking(now, |run_ids| self.warehouse.committed_runs(run_ids))
    }

    fn flag_run(&self, run_id: &str, reason: &str) -> Result<(), StoreError> {
        self.ledger.flag_run(run_id, reason)
    }

    fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        self.ledger.run(run_id)
    }

    fn alert_outbox(&self) -> Option<&dyn super::alerts::AlertOutbox> {
        self.ledger.alert_outbox()
    }

    fn tick_ledger(&self) -> Option<&dyn super::schedules::TickLedger> {
        self.ledger.tick_ledger()
    }

    fn work_queue(&self) -> Option<&dyn super::work_queue::WorkQueue> {
        self.ledger.work_queue()
    }

    fn backfill_records(&self) -> Option<&dyn super::backfill_records::BackfillRecords> {
        self.ledger.backfill_records()
    }

    fn host_directory(&self) -> Option<&dyn super::hosts::HostDirectory> {
        self.ledger.host_directory()
    }
}
