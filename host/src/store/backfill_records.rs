//! The record a ledger keeps of each backfill a server runs by itself (one
//! that no work queue holds): what it planned and how far it got, so that
//! its progress outlives the server, and a backfill a shutdown stopped
//! resumes when the server starts again. The store keeps the plan and the
//! progress as JSON it does not read; [`crate::server`] gives them shape.

use chrono::{DateTime, Utc};

use super::StoreError;

/// One backfill as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedBackfill {
    /// Its id.
    pub id: String,
    /// The host (process) that runs it.
    pub host_id: String,
    /// Where it stands: `queued`, `running`, `finished`, `stopped` or
    /// `cancelled`.
    pub state: String,
    /// Runs at once.
    pub parallelism: usize,
    /// Its plan, as JSON.
    pub plan_json: String,
    /// Its progress, as JSON.
    pub progress_json: String,
    /// When it was accepted.
    pub accepted_at: DateTime<Utc>,
}

/// The backfills a ledger records.
pub trait BackfillRecords: Send + Sync {
    /// Records `saved`, or replaces the record of the same id.
    fn save_backfill(&self, saved: &SavedBackfill) -> Result<(), StoreError>;

    /// Replaces the state and progress of backfill `id`, as it goes.
    fn save_backfill_progress(
        &self,
        id: &str,
        state: &str,
        progress_json: &str,
    ) -> Result<(), StoreError>;

    /// Hands backfill `id` from host `from` to host `to`, if `from` still
    /// holds it: of servers resuming it at once, exactly one is told true.
    fn take_over_backfill(&self, id: &str, from: &str, to: &str) -> Result<bool, StoreError>;

    /// The record of backfill `id`, if there is one.
    fn saved_backfill(&self, id: &str) -> Result<Option<SavedBackfill>, StoreError>;

    /// Every backfill not ended: `queued`, `running` or `stopped`, oldest
    /// first.
    fn unfinished_backfills(&self) -> Result<Vec<SavedBackfill>, StoreError>;
}
