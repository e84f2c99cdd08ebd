//! Schedule ticks a run ledger keeps: each (schedule, tick) is claimed once,
//! by one host, however many hosts serve the same store; the claim records
//! the date it processes, and its end the runs it fired.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::StoreError;

/// One fired (or claimed) tick.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TickRecord {
    /// The schedule's name.
    pub schedule: String,
    /// When the tick was due.
    pub tick_at: DateTime<Utc>,
    /// The analysis date it processes.
    pub data_date: NaiveDate,
    /// The host that claimed it.
    pub host_id: String,
    /// When it was claimed.
    pub claimed_at: DateTime<Utc>,
    /// What came of it: `firing`, `fired`, or why it fired nothing.
    pub outcome: String,
    /// The runs it started.
    pub run_ids: Vec<String>,
}

/// Claims and records of schedule ticks.
pub trait TickLedger: Send + Sync {
    /// Claims `tick_at` of `schedule` for `host_id`: true for the one host
    /// that gets it, false for every other.
    fn claim_tick(
        &self,
        schedule: &str,
        tick_at: DateTime<Utc>,
        data_date: NaiveDate,
        host_id: &str,
    ) -> Result<bool, StoreError>;

    /// Records what a claimed tick came to and the runs it started.
    fn finish_tick(
        &self,
        schedule: &str,
        tick_at: DateTime<Utc>,
        outcome: &str,
        run_ids: &[String],
    ) -> Result<(), StoreError>;

    /// The latest ticks of `schedule`, newest first.
    fn ticks(&self, schedule: &str, limit: usize) -> Result<Vec<TickRecord>, StoreError>;
}
