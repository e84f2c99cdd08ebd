//! The embedded store's schedule ticks ([`TickLedger`]): `_slate_schedule_ticks`,
//! whose primary key `(schedule, tick_at)` makes a claim exact.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::params;

use super::{EmbeddedStore, timestamp};
use crate::store::StoreError;
use crate::store::cells::{date_key, parse_date_key};
use crate::store::schedules::{TickLedger, TickRecord, TickState};

/// The ticks table, created with the store.
pub(super) const SETUP: &str = "
    CREATE TABLE IF NOT EXISTS _slate_schedule_ticks (
        schedule TEXT NOT NULL,
        tick_at TEXT NOT NULL,
        data_date TEXT NOT NULL,
        host_id TEXT NOT NULL,
        claimed_at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        run_ids_json TEXT NOT NULL DEFAULT '[]',
        state TEXT NOT NULL DEFAULT 'firing',
        PRIMARY KEY (schedule, tick_at)
    );
";

impl TickLedger for EmbeddedStore {
    fn claim_tick(
        &self,
        schedule: &str,
        tick_at: DateTime<Utc>,
        data_date: NaiveDate,
        host_id: &str,
    ) -> Result<bool, StoreError> {
        let inserted = self.lock().execute(
            "INSERT OR IGNORE INTO _slate_schedule_ticks
                 (schedule, tick_at, data_date, host_id, claimed_at, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, 'firing')",
            params![
                schedule,
                timestamp(tick_at),
                date_key(data_date),
                host_id,
                timestamp(Utc::now())
            ],
        )?;
        Ok(inserted == 1)
    }

    fn finish_tick(
        &self,
        schedule: &str,
        tick_at: DateTime<Utc>,
        state: TickState,
        outcome: &str,
        run_ids: &[String],
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE _slate_schedule_ticks SET state = ?3, outcome = ?4, run_ids_json = ?5
             WHERE schedule = ?1 AND tick_at = ?2",
            params![
                schedule,
                timestamp(tick_at),
                state.as_str(),
                outcome,
                serde_json::to_string(run_ids).map_err(StoreError::backend)?
            ],
        )?;
        Ok(())
    }

    fn ticks(&self, schedule: &str, limit: usize) -> Result<Vec<TickRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT schedule, tick_at, data_date, host_id, claimed_at, state, outcome,
                    run_ids_json
             FROM _slate_schedule_ticks WHERE schedule = ?1
             ORDER BY tick_at DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![schedule, limit as i64], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, String>(7)?,
            ))
        })?;
        let unreadable = |what: &str, text: &str| {
            StoreError::backend(format!("unreadable tick {what} `{text}`"))
        };
        let time = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| unreadable("time", text))
        };
        let mut ticks = Vec::new();
        for row in rows {
            let (schedule, tick_at, date, host_id, claimed_at, state, outcome, run_ids) = row?;
            ticks.push(TickRecord {
                schedule,
                tick_at: time(&tick_at)?,
                data_date: parse_date_key(&date).ok_or_else(|| unreadable("date", &date))?,
                host_id,
                claimed_at: time(&claimed_at)?,
                state: TickState::of_row(&state, &outcome)?,
                outcome,
                run_ids: serde_json::from_str(&run_ids)
                    .map_err(|_| unreadable("runs", &run_ids))?,
            });
        }
        Ok(ticks)
    }
}
