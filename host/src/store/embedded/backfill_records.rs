//! The embedded store's backfill records ([`BackfillRecords`]):
//! `_slate_backfills`, one row per backfill, replaced as it goes.

use rusqlite::{OptionalExtension, params};

use super::{EmbeddedStore, timestamp};
use crate::store::StoreError;
use crate::store::backfill_records::{BackfillRecords, SavedBackfill};

/// The records table, created with the store.
pub(super) const SETUP: &str = "
    CREATE TABLE IF NOT EXISTS _slate_backfills (
        backfill_id TEXT PRIMARY KEY,
        host_id TEXT NOT NULL,
        state TEXT NOT NULL,
        parallelism INTEGER NOT NULL,
        plan_json TEXT NOT NULL,
        progress_json TEXT NOT NULL,
        accepted_at TEXT NOT NULL
    );
";

const COLUMNS: &str =
    "backfill_id, host_id, state, parallelism, plan_json, progress_json, accepted_at";

fn saved_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SavedBackfill> {
    let accepted_at: String = row.get(6)?;
    Ok(SavedBackfill {
        id: row.get(0)?,
        host_id: row.get(1)?,
        state: row.get(2)?,
        parallelism: row.get::<_, i64>(3)?.max(1) as usize,
        plan_json: row.get(4)?,
        progress_json: row.get(5)?,
        accepted_at: super::tables::stored_time(&accepted_at).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
        })?,
    })
}

impl BackfillRecords for EmbeddedStore {
    fn save_backfill(&self, saved: &SavedBackfill) -> Result<(), StoreError> {
        self.lock().execute(
            &format!(
                "INSERT INTO _slate_backfills ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (backfill_id) DO UPDATE SET host_id = excluded.host_id,
                     state = excluded.state, parallelism = excluded.parallelism,
                     plan_json = excluded.plan_json, progress_json = excluded.progress_json"
            ),
            params![
                saved.id,
                saved.host_id,
                saved.state,
                saved.parallelism as i64,
                saved.plan_json,
                saved.progress_json,
                timestamp(saved.accepted_at)
            ],
        )?;
        Ok(())
    }

    fn save_backfill_progress(
        &self,
        id: &str,
        state: &str,
        progress_json: &str,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE _slate_backfills SET state = ?2, progress_json = ?3 WHERE backfill_id = ?1",
            params![id, state, progress_json],
        )?;
        Ok(())
    }

    fn take_over_backfill(&self, id: &str, from: &str, to: &str) -> Result<bool, StoreError> {
        let taken = self.lock().execute(
            "UPDATE _slate_backfills SET host_id = ?3 WHERE backfill_id = ?1 AND host_id = ?2",
            params![id, from, to],
        )?;
        Ok(taken == 1)
    }

    fn saved_backfill(&self, id: &str) -> Result<Option<SavedBackfill>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {COLUMNS} FROM _slate_backfills WHERE backfill_id = ?1"),
                [id],
                saved_from_row,
            )
            .optional()?)
    }

    fn unfinished_backfills(&self) -> Result<Vec<SavedBackfill>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {COLUMNS} FROM _slate_backfills
             WHERE state IN ('queued', 'running', 'stopped') ORDER BY accepted_at"
        ))?;
        let saved = statement
            .query_map([], saved_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(saved)
    }
}
