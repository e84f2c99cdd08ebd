//! Schedule ticks a run ledger keeps: each (schedule, tick) is claimed once,
//! by one host, however many hosts serve the same store; the claim records
//! the date it processes, and its end the runs it fired.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::StoreError;

/// Where a claimed tick stands. Kept in a column of its own beside the
/// outcome's words, so that a host deciding what another host's tick
/// fired matches this, never the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TickState {
    /// Claimed, its runs not yet started.
    Firing,
    /// It started runs (some of its processors may have been refused:
    /// the outcome names them).
    Fired,
    /// A later tick due in the same pass fires its date instead.
    PassedOver,
    /// It started no run: the outcome says why.
    NotFired,
}

crate::runs::text_enum!(TickState {
    Firing => "firing", Fired => "fired", PassedOver => "passed_over", NotFired => "not_fired",
});

impl TickState {
    /// The state a store row records, `state` beside its `outcome`. A row
    /// still `firing` whose outcome says more was finished by a host from
    /// before ticks had a state, which wrote only the words: a tick
    /// recorded before the column was added (it took the default,
    /// `firing`), or one such a host finished during a rolling upgrade.
    /// Its state is read from the words.
    pub fn of_row(state: &str, outcome: &str) -> Result<Self, StoreError> {
        let state: TickState = state.parse().map_err(StoreError::backend)?;
        if state != TickState::Firing || outcome == "firing" {
            return Ok(state);
        }
        Ok(if outcome.starts_with("fired") {
            TickState::Fired
        } else if outcome.starts_with("passed over") {
            TickState::PassedOver
        } else {
            TickState::NotFired
        })
    }
}

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
    /// Where it stands.
    pub state: TickState,
    /// What came of it, in words: the runs it fired, or why it fired
    /// nothing.
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
        state: TickState,
        outcome: &str,
        run_ids: &[String],
    ) -> Result<(), StoreError>;

    /// The latest ticks of `schedule`, newest first.
    fn ticks(&self, schedule: &str, limit: usize) -> Result<Vec<TickRecord>, StoreError>;
}
