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

impl TickState {
    /// The word a store keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            TickState::Firing => "firing",
            TickState::Fired => "fired",
            TickState::PassedOver => "passed_over",
            TickState::NotFired => "not_fired",
        }
    }
}

impl TickState {
    /// The state a store row records, `state` beside its `outcome`. A row
    /// still `firing` whose outcome says more was finished by a host from
    /// before ticks had a state (during a rolling upgrade), which wrote
    /// only the words: its state is read from them, as the migration reads
    /// older rows' ([`crate::store`] backends' `STATE_OF_OLDER_TICKS`).
    pub fn of_row(state: &str, outcome: &str) -> Result<Self, StoreError> {
        let state: TickState = state.parse()?;
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

impl std::str::FromStr for TickState {
    type Err = StoreError;

    fn from_str(word: &str) -> Result<Self, Self::Err> {
        [
            TickState::Firing,
            TickState::Fired,
            TickState::PassedOver,
            TickState::NotFired,
        ]
        .into_iter()
        .find(|state| state.as_str() == word)
        .ok_or_else(|| StoreError::backend(format!("unreadable tick state `{word}`")))
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
