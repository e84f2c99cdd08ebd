//! The registry of one data directory: its `registry/` folder, with
//! `blobs/<hash>.wasm` (each version's bytes, written to a temporary file
//! and renamed, so a blob is either whole or absent) and `registry.db`, a
//! small SQLite file of versions, deployments, active and shadow versions.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{
    ActiveVersion, DeployAction, Deployment, RegistryError, RegistryStorage, ShadowVersion,
    StoredVersion, SwitchLock, io_error, verified,
};
use crate::plugin::ProcessorSpec;

const SETUP: &str = "
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    version TEXT NOT NULL,
    phase TEXT NOT NULL,
    dependencies TEXT NOT NULL,
    first_deployed_at TEXT NOT NULL,
    PRIMARY KEY (name, hash)
);
CREATE TABLE IF NOT EXISTS deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    action TEXT NOT NULL,
    deployed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS active (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    deployment_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS shadows (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    since TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS shadow_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    changed_at TEXT NOT NULL
);
";

/// Records a change of the shadows at `now`, and `what` changed when it is
/// one the history shows (a version made the shadow, or the shadow
/// dropped): as a `deployments` entry, numbered in the one sequence with
/// the switches, which [`RegistryStorage::history`] leaves out.
fn note_shadow_change_in(
    transaction: &rusqlite::Transaction<'_>,
    now: DateTime<Utc>,
    what: Option<(&str, &str, DeployAction)>,
) -> rusqlite::Result<()> {
    transaction.execute(
        "INSERT INTO shadow_changes (changed_at) VALUES (?1)",
        params![timestamp(now)],
    )?;
    if let Some((name, hash, action)) = what {
        transaction.execute(
            "INSERT INTO deployments (name, hash, action, deployed_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, hash, action.as_str(), timestamp(now)],
        )?;
    }
    Ok(())
}

impl From<rusqlite::Error> for RegistryError {
    fn from(error: rusqlite::Error) -> Self {
        RegistryError::Database(error.to_string())
    }
}

/// Records `spec` at `hash` in `versions`, if it is not there yet.
fn record_version_in(
    transaction: &rusqlite::Transaction<'_>,
    spec: &ProcessorSpec,
    hash: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    transaction.execute(
        "INSERT OR IGNORE INTO versions
             (name, hash, version, phase, dependencies, first_deployed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            spec.name,
            hash,
            spec.version,
            spec.phase.to_string(),
            super::dependencies_json(spec),
            timestamp(now),
        ],
    )?;
    Ok(())
}

fn parse_time(text: String) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn stored_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredVersion> {
    let dependencies: String = row.get(4)?;
    Ok(StoredVersion {
        name: row.get(0)?,
        hash: row.get(1)?,
        version: row.get(2)?,
        phase: row.get(3)?,
        dependencies: serde_json::from_str(&dependencies).unwrap_or_default(),
        first_deployed_at: parse_time(row.get(5)?),
    })
}

/// `name`'s history entries, newest first: its switches, and with
/// `with_shadows` its shadow changes too. An action this release does not
/// know reads as a deploy.
fn history_entries(
    connection: &Connection,
    name: &str,
    with_shadows: bool,
) -> Result<Vec<Deployment>, RegistryError> {
    let mut statement = connection.prepare_cached(
        "SELECT d.id, d.name, d.hash, v.version, d.action, d.deployed_at,
                COALESCE(d.id = (SELECT deployment_id FROM active WHERE name = d.name), 0)
         FROM deployments d
         JOIN versions v ON v.name = d.name AND v.hash = d.hash
         WHERE d.name = ?1 AND (?2 OR d.action NOT IN ('shadow', 'drop_shadow'))
         ORDER BY d.id DESC",
    )?;
    let entries = statement
        .query_map(params![name, with_shadows], |row| {
            let action: String = row.get(4)?;
            Ok(Deployment {
                id: row.get(0)?,
                name: row.get(1)?,
                hash: row.get(2)?,
                version: row.get(3)?,
                action: action.parse().unwrap_or(DeployAction::Deploy),
                deployed_at: parse_time(row.get(5)?),
                active: row.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(entries)
}

/// The registry folder of one data directory.
pub(super) struct LocalRegistry {
    dir: PathBuf,
    connection: Mutex<Connection>,
}

impl LocalRegistry {
    /// Opens the registry in `dir`, creating it if needed.
    pub(super) fn open(dir: &Path) -> Result<Self, RegistryError> {
        let blobs = dir.join("blobs");
        std::fs::create_dir_all(&blobs).map_err(|e| io_error(&blobs, e))?;
        let mut connection = Connection::open(dir.join("registry.db"))?;
        connection.busy_timeout(Duration::from_secs(10))?;
        // Every transaction waits for the write lock as it begins, as the
        // store's do: a deploy beside another reads, then writes.
        connection.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        connection.execute_batch(SETUP)?;
        Ok(LocalRegistry {
            dir: dir.to_path_buf(),
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The file a version's bytes are kept in, under a registry folder.
pub(super) fn blob_path(dir: &Path, hash: &str) -> PathBuf {
    dir.join("blobs").join(format!("{hash}.wasm"))
}

/// Writes a component's bytes under their hash in `dir`: to a temporary
/// file in the same folder, then renamed into place.
pub(super) fn write_blob(dir: &Path, hash: &str, bytes: &[u8]) -> Result<PathBuf, RegistryError> {
    let path = blob_path(dir, hash);
    // Stored before, and whole: nothing to do; damaged since: written anew.
    if std::fs::read(&path).is_ok_and(|stored| verified(hash, stored).is_ok()) {
        return Ok(path);
    }
    let folder = dir.join("blobs");
    std::fs::create_dir_all(&folder).map_err(|e| io_error(&folder, e))?;
    let temporary = folder.join(format!(
        ".{hash}.{}.{}.tmp",
        std::process::id(),
        crate::runs::new_run_id()
    ));
    crate::whole_file::write_whole(&temporary, &path, bytes).map_err(|e| io_error(&path, e))?;
    Ok(path)
}

impl RegistryStorage for LocalRegistry {
    fn lock_switches(&self) -> Result<SwitchLock, RegistryError> {
        let path = self.dir.join("switch.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        // An exclusive lock on the open file: another open of it, in this
        // process or another, waits; closing the file lets it go.
        file.lock().map_err(|e| io_error(&path, e))?;
        Ok(SwitchLock::held_until(move || drop(file)))
    }

    fn store_blob(&self, hash: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        write_blob(&self.dir, hash, bytes).map(drop)
    }

    fn blob(&self, hash: &str) -> Result<Vec<u8>, RegistryError> {
        let path = blob_path(&self.dir, hash);
        verified(hash, std::fs::read(&path).map_err(|e| io_error(&path, e))?)
    }

    fn generation(&self) -> Result<i64, RegistryError> {
        // Every switch adds a row to one of two tables, in a transaction
        // that holds the file's write lock: their ids only grow.
        Ok(self.lock().query_row(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM deployments)
                  + (SELECT COALESCE(MAX(id), 0) FROM shadow_changes)",
            [],
            |row| row.get(0),
        )?)
    }

    fn activate(
        &self,
        spec: &ProcessorSpec,
        hash: &str,
        action: DeployAction,
    ) -> Result<Deployment, RegistryError> {
        let now = crate::store::now_to_the_microsecond();
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        record_version_in(&transaction, spec, hash, now)?;
        // The shadow made active, by a promote or a deploy or rollback of
        // the same bytes, is a shadow no more.
        transaction.execute(
            "DELETE FROM shadows WHERE name = ?1 AND hash = ?2",
            params![spec.name, hash],
        )?;
        transaction.execute(
            "INSERT INTO deployments (name, hash, action, deployed_at) VALUES (?1, ?2, ?3, ?4)",
            params![spec.name, hash, action.as_str(), timestamp(now)],
        )?;
        let id = transaction.last_insert_rowid();
        transaction.execute(
            "INSERT INTO active (name, hash, deployment_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET hash = excluded.hash,
                 deployment_id = excluded.deployment_id",
            params![spec.name, hash, id],
        )?;
        transaction.commit()?;
        Ok(Deployment::made_active(id, spec, hash, action, now))
    }

    fn deactivate(&self, name: &str) -> Result<Option<Deployment>, RegistryError> {
        let now = crate::store::now_to_the_microsecond();
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let ended: Option<(String, String)> = transaction
            .query_row(
                "SELECT a.hash, v.version FROM active a
                 JOIN versions v ON v.name = a.name AND v.hash = a.hash
                 WHERE a.name = ?1",
                params![name],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((hash, version)) = ended else {
            return Ok(None);
        };
        transaction.execute("DELETE FROM active WHERE name = ?1", params![name])?;
        transaction.execute(
            "INSERT INTO deployments (name, hash, action, deployed_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, hash, DeployAction::Undeploy.as_str(), timestamp(now)],
        )?;
        let id = transaction.last_insert_rowid();
        if transaction.execute("DELETE FROM shadows WHERE name = ?1", params![name])? > 0 {
            // The undeploy's own entry says that it ended the shadow.
            note_shadow_change_in(&transaction, now, None)?;
        }
        transaction.commit()?;
        Ok(Some(Deployment::undeployed(id, name, hash, version, now)))
    }

    fn active(&self) -> Result<Vec<ActiveVersion>, RegistryError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT v.name, v.hash, v.version, v.phase, v.dependencies, v.first_deployed_at,
                    d.deployed_at
             FROM active a
             JOIN versions v ON v.name = a.name AND v.hash = a.hash
             JOIN deployments d ON d.id = a.deployment_id
             ORDER BY a.name",
        )?;
        let active = statement
            .query_map([], |row| {
                Ok(ActiveVersion {
                    stored: stored_from_row(row)?,
                    deployed_at: parse_time(row.get(6)?),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(active)
    }

    fn active_hash(&self, name: &str) -> Result<Option<String>, RegistryError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT hash FROM active WHERE name = ?1",
                params![name],
                |row| row.get(0),
            )
            .optional()?)
    }

    fn history(&self, name: &str) -> Result<Vec<Deployment>, RegistryError> {
        history_entries(&self.lock(), name, false)
    }

    fn history_with_shadows(&self, name: &str) -> Result<Vec<Deployment>, RegistryError> {
        history_entries(&self.lock(), name, true)
    }

    fn versions_starting(
        &self,
        name: &str,
        hash_prefix: &str,
    ) -> Result<Vec<StoredVersion>, RegistryError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT name, hash, version, phase, dependencies, first_deployed_at
             FROM versions WHERE name = ?1 AND substr(hash, 1, length(?2)) = ?2",
        )?;
        let found = statement
            .query_map(params![name, hash_prefix], stored_from_row)?
            .collect::<Result<_, _>>()?;
        Ok(found)
    }

    fn set_shadow(&self, spec: &ProcessorSpec, hash: &str) -> Result<DateTime<Utc>, RegistryError> {
        let now = crate::store::now_to_the_microsecond();
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        record_version_in(&transaction, spec, hash, now)?;
        // A shadow of another version is replaced: dropped, as the history
        // says, before the new one is recorded.
        let replaced: Option<String> = transaction
            .query_row(
                "SELECT hash FROM shadows WHERE name = ?1 AND hash <> ?2",
                params![spec.name, hash],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(replaced) = &replaced {
            let dropped = (
                spec.name.as_str(),
                replaced.as_str(),
                DeployAction::DropShadow,
            );
            note_shadow_change_in(&transaction, now, Some(dropped))?;
        }
        // The same version deployed again as the shadow stays the shadow
        // since it first became it: its coverage goes on.
        let since: String = transaction.query_row(
            "INSERT INTO shadows (name, hash, since) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET hash = excluded.hash,
                 since = CASE WHEN shadows.hash = excluded.hash THEN shadows.since
                              ELSE excluded.since END
             RETURNING since",
            params![spec.name, hash, timestamp(now)],
            |row| row.get(0),
        )?;
        let since = parse_time(since);
        // The same shadow stored again is no new entry of the history.
        let became = (since == now).then_some((spec.name.as_str(), hash, DeployAction::Shadow));
        note_shadow_change_in(&transaction, now, became)?;
        transaction.commit()?;
        Ok(since)
    }

    fn clear_shadow(&self, name: &str) -> Result<bool, RegistryError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let cleared: Option<String> = transaction
            .query_row(
                "DELETE FROM shadows WHERE name = ?1 RETURNING hash",
                params![name],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(hash) = &cleared {
            let now = crate::store::now_to_the_microsecond();
            note_shadow_change_in(
                &transaction,
                now,
                Some((name, hash, DeployAction::DropShadow)),
            )?;
        }
        transaction.commit()?;
        Ok(cleared.is_some())
    }

    fn shadows(&self) -> Result<Vec<ShadowVersion>, RegistryError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT v.name, v.hash, v.version, v.phase, v.dependencies, v.first_deployed_at,
                    s.since
             FROM shadows s
             JOIN versions v ON v.name = s.name AND v.hash = s.hash
             ORDER BY s.name",
        )?;
        let shadows = statement
            .query_map([], |row| {
                Ok(ShadowVersion {
                    stored: stored_from_row(row)?,
                    since: parse_time(row.get(6)?),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(shadows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_stored_under_its_hash_and_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let registry = LocalRegistry::open(dir.path()).unwrap();
        let hash = crate::plugin::content_hash(b"component bytes");
        registry.store_blob(&hash, b"component bytes").unwrap();
        assert!(dir.path().join(format!("blobs/{hash}.wasm")).exists());
        assert_eq!(registry.blob(&hash).unwrap(), b"component bytes");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left behind");
    }
}
