//! The PostgreSQL store's host directory ([`HostDirectory`]):
//! `_slate.hosts`, one row per `slate serve` process.

use chrono::{DateTime, Utc};

use super::PostgresStore;
use crate::store::StoreError;
use crate::store::hosts::{Heartbeat, HostDirectory, HostRecord};

/// The directory's table, created with the store.
pub(super) const SETUP: &str = "
    CREATE TABLE IF NOT EXISTS _slate.hosts (
        host_id TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        heartbeat_at TIMESTAMPTZ NOT NULL,
        lease_secs DOUBLE PRECISION NOT NULL,
        stopped_at TIMESTAMPTZ,
        processors TEXT[]
    );
    -- A directory made before hosts said which processors they serve gets
    -- the column; asked first, so that connecting does not lock the table.
    DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_schema = '_slate' AND table_name = 'hosts'
                         AND column_name = 'processors') THEN
            ALTER TABLE _slate.hosts ADD COLUMN processors TEXT[];
        END IF;
    END $$;
";

impl HostDirectory for PostgresStore {
    fn heartbeat(&self, beat: &Heartbeat<'_>) -> Result<(), StoreError> {
        // A first beat starts the host anew; a later one keeps its start.
        let start = match beat.first {
            true => "started_at = excluded.started_at, stopped_at = NULL,",
            false => "",
        };
        self.with_client(|client| {
            client.execute(
                &format!(
                    "INSERT INTO _slate.hosts
                         (host_id, address, started_at, heartbeat_at, lease_secs, processors)
                     VALUES ($1, $2, clock_timestamp(), clock_timestamp(), $3, $4)
                     ON CONFLICT (host_id) DO UPDATE SET {start}
                         heartbeat_at = excluded.heartbeat_at,
                         address = excluded.address, lease_secs = excluded.lease_secs,
                         processors = COALESCE(excluded.processors, _slate.hosts.processors)"
                ),
                &[
                    &beat.host_id,
                    &beat.address,
                    &beat.lease.as_secs_f64(),
                    &beat.processors,
                ],
            )?;
            Ok(())
        })
    }

    fn serves(&self, host_id: &str, processors: &[String]) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                "UPDATE _slate.hosts SET processors = $2 WHERE host_id = $1",
                &[&host_id, &processors],
            )?;
            Ok(())
        })
    }

    fn stopped(&self, host_id: &str) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                "UPDATE _slate.hosts SET stopped_at = clock_timestamp() WHERE host_id = $1",
                &[&host_id],
            )?;
            Ok(())
        })
    }

    fn hosts(&self, since: DateTime<Utc>) -> Result<Vec<HostRecord>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                "SELECT host_id, address, started_at, heartbeat_at, lease_secs, stopped_at,
                     processors
                 FROM _slate.hosts WHERE heartbeat_at >= $1
                 ORDER BY heartbeat_at DESC, host_id",
                &[&since],
            )?)
        })?;
        Ok(rows
            .iter()
            .map(|row| HostRecord {
                host_id: row.get(0),
                address: row.get(1),
                started_at: row.get(2),
                heartbeat_at: row.get(3),
                lease_secs: row.get(4),
                stopped_at: row.get(5),
                processors: row.get(6),
            })
            .collect())
    }
}
