//! The PostgreSQL store's schedule ticks ([`TickLedger`]):
//! `_slate.schedule_ticks`, whose primary key on (schedule, tick) lets one
//! host of many claim each tick.

use chrono::{DateTime, NaiveDate, Utc};

use super::PostgresStore;
use crate::store::StoreError;
use crate::store::schedules::{TickLedger, TickRecord, TickState};

/// The ticks' table, created with the store.
pub(super) const SETUP: &str = "
    CREATE TABLE IF NOT EXISTS _slate.schedule_ticks (
        schedule TEXT NOT NULL,
        tick_at TIMESTAMPTZ NOT NULL,
        data_date DATE NOT NULL,
        host_id TEXT NOT NULL,
        claimed_at TIMESTAMPTZ NOT NULL,
        outcome TEXT NOT NULL,
        run_ids JSON NOT NULL DEFAULT '[]',
        state TEXT NOT NULL DEFAULT 'firing',
        PRIMARY KEY (schedule, tick_at)
    );
    -- Ticks recorded before ticks had a state read `firing` here, and
    -- their state from their words (`TickState::of_row`).
    ALTER TABLE _slate.schedule_ticks
        ADD COLUMN IF NOT EXISTS state TEXT NOT NULL DEFAULT 'firing';
";

impl TickLedger for PostgresStore {
    fn claim_tick(
        &self,
        schedule: &str,
        tick_at: DateTime<Utc>,
        data_date: NaiveDate,
        host_id: &str,
    ) -> Result<bool, StoreError> {
        self.with_client(|client| {
            let inserted = client.execute(
                "INSERT INTO _slate.schedule_ticks
                     (schedule, tick_at, data_date, host_id, claimed_at, outcome)
                 VALUES ($1, $2, $3, $4, now(), 'firing')
                 ON CONFLICT (schedule, tick_at) DO NOTHING",
                &[&schedule, &tick_at, &data_date, &host_id],
            )?;
            Ok(inserted == 1)
        })
    }

    fn finish_tick(
        &self,
        schedule: &str,
        tick_at: DateTime<Utc>,
        state: TickState,
        outcome: &str,
        run_ids: &[String],
    ) -> Result<(), StoreError> {
        let run_ids = serde_json::to_string(run_ids).map_err(StoreError::backend)?;
        self.with_client(|client| {
            client.execute(
                "UPDATE _slate.schedule_ticks
                 SET state = $3, outcome = $4, run_ids = $5::TEXT::JSON
                 WHERE schedule = $1 AND tick_at = $2",
                &[&schedule, &tick_at, &state.as_str(), &outcome, &run_ids],
            )?;
            Ok(())
        })
    }

    fn ticks(&self, schedule: &str, limit: usize) -> Result<Vec<TickRecord>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                "SELECT schedule, tick_at, data_date, host_id, claimed_at, state, outcome,
                        run_ids::TEXT
                 FROM _slate.schedule_ticks WHERE schedule = $1
                 ORDER BY tick_at DESC LIMIT $2",
                &[&schedule, &(limit as i64)],
            )?)
        })?;
        rows.iter()
            .map(|row| {
                let run_ids: &str = row.get(7);
                let (state, outcome): (&str, &str) = (row.get(5), row.get(6));
                Ok(TickRecord {
                    schedule: row.get(0),
                    tick_at: row.get(1),
                    data_date: row.get(2),
                    host_id: row.get(3),
                    claimed_at: row.get(4),
                    state: TickState::of_row(state, outcome)?,
                    outcome: outcome.to_string(),
                    run_ids: serde_json::from_str(run_ids).map_err(|_| {
                        StoreError::backend(format!("unreadable tick runs `{run_ids}`"))
                    })?,
                })
            })
            .collect()
    }
}
