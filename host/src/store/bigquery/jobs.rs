//! What a BigQuery store has asked BigQuery to do: load jobs and
//! transactions per table, and query jobs in all.
//!
//! BigQuery limits load jobs per table per day and queues concurrent DML on
//! a table, so how many of each a backfill issues per table decides whether
//! it can run at scale. The store counts them where it issues them, and the
//! benchmark reports them per table per date.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::schema::TableName;

/// The jobs a store has issued since it was connected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// Load jobs, by the table whose rows they staged.
    pub load_jobs: BTreeMap<TableName, u64>,
    /// Multi-statement transactions that replaced rows, by the table whose
    /// rows they replaced.
    pub transactions: BTreeMap<TableName, u64>,
    /// Query jobs of every kind: reads, run bookkeeping and transactions.
    pub queries: u64,
}

/// Counts jobs as the store issues them.
#[derive(Debug, Default)]
pub(super) struct JobCounter(Mutex<JobCounts>);

impl JobCounter {
    /// A load job staged rows for `table`.
    pub(super) fn load(&self, table: &TableName) {
        *self.counts().load_jobs.entry(table.clone()).or_default() += 1;
    }

    /// A transaction replaced rows of `table`.
    pub(super) fn transaction(&self, table: &TableName) {
        *self.counts().transactions.entry(table.clone()).or_default() += 1;
    }

    /// A query job ran.
    pub(super) fn query(&self) {
        self.counts().queries += 1;
    }

    /// The counts so far.
    pub(super) fn snapshot(&self) -> JobCounts {
        self.counts().clone()
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, JobCounts> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
