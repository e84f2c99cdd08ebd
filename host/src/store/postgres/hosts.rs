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
        processors TEXT[],
        upstream TEXT
    );
    -- A directory made before hosts said which processors they serve, and
    -- what those depend on, gets the columns; asked first, so that
    -- connecting does not lock the table.
    DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_schema = '_slate' AND table_name = 'hosts'
                         AND column_name = 'processors') THEN
            ALTER TABLE _slate.hosts ADD COLUMN processors TEXT[];
        END IF;
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_schema = '_slate' AND table_name = 'hosts'
                         AND column_name = 'upstream') THEN
            ALTER TABLE _slate.hosts ADD COLUMN upstream TEXT;
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
        // JSON text, read only by this module.
        let upstream = beat
            .processors
            .map(|_| serde_json::to_string(beat.upstream).expect("names serialise"));
        self.with_client(|client| {
            client.execute(
                &format!(
                    "INSERT INTO _slate.hosts (host_id, address, started_at, heartbeat_at,
                         lease_secs, processors, upstream)
                     VALUES ($1, $2, clock_timestamp(), clock_timestamp(), $3, $4, $5)
                     ON CONFLICT (host_id) DO UPDATE SET {start}
                         heartbeat_at = excluded.heartbeat_at,
                         address = excluded.address, lease_secs = excluded.lease_secs,
                         processors = COALESCE(excluded.processors, _slate.hosts.processors),
                         upstream = COALESCE(excluded.upstream, _slate.hosts.upstream)"
                ),
                &[
                    &beat.host_id,
                    &beat.address,
                    &beat.lease.as_secs_f64(),
                    &beat.processors,
                    &upstream,
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
                     processors, upstream
                 FROM _slate.hosts WHERE heartbeat_at >= $1
                 ORDER BY heartbeat_at DESC, host_id",
                &[&since],
            )?)
        })?;
        rows.iter()
            .map(|row| {
                let host_id: String = row.get(0);
                let upstream = match row.get::<_, Option<String>>(7) {
                    Some(json) => serde_json::from_str(&json).map_err(|e| {
                        StoreError::backend(format!(
                            "_slate.hosts.upstream of {host_id} is not a map of names: {e}"
                        ))
                    })?,
                    None => Default::default(),
                };
                Ok(HostRecord {
                    host_id,
                    address: row.get(1),
                    started_at: row.get(2),
                    heartbeat_at: row.get(3),
                    lease_secs: row.get(4),
                    stopped_at: row.get(5),
                    processors: row.get(6),
                    upstream,
                })
            })
            .collect()
    }
}
