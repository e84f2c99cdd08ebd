//! The plugin registry: every deployed processor version, content-addressed,
//! and which version of each processor is active.
//!
//! It lives in the data directory's `registry/` folder:
//! - `blobs/<hash>.wasm`: each version's component bytes, named by the
//!   SHA-256 of those bytes, written to a temporary file and renamed, so a
//!   blob is either whole or absent;
//! - `registry.db`: a small SQLite file with the versions, the deployment
//!   history, the active version of each processor, and its shadow version
//!   if it has one ([`crate::shadow`]). Switching the active version (a
//!   deploy, a rollback, a promotion) is one transaction, so readers see
//!   the old version or the new one, never a mix.
//!
//! This module stores and switches; it does not validate. Checking that a
//! component is a usable processor is [`crate::deploy`]'s job.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::plugin::ProcessorSpec;

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Reading or writing a file failed.
    #[error("registry file {path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// No version with this hash was ever deployed for the processor.
    #[error("{name} has no deployed version {hash}")]
    UnknownVersion {
        /// The processor.
        name: String,
        /// The requested hash (or prefix).
        hash: String,
    },
    /// A hash prefix matches more than one version.
    #[error("`{prefix}` matches several versions of {name}; give more of the hash")]
    AmbiguousHash {
        /// The processor.
        name: String,
        /// The requested prefix.
        prefix: String,
    },
    /// There is no earlier version to roll back to.
    #[error("{0} has no earlier version to roll back to")]
    NothingToRollBackTo(String),
    /// The registry database failed.
    #[error("registry database: {0}")]
    Database(String),
}

impl From<rusqlite::Error> for RegistryError {
    fn from(error: rusqlite::Error) -> Self {
        RegistryError::Database(error.to_string())
    }
}

/// How a version became active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployAction {
    /// It was deployed.
    Deploy,
    /// A rollback switched back to it.
    Rollback,
    /// It was the shadow version, and was promoted: the same transaction
    /// made it active and removed it as the shadow.
    Promote,
}

crate::runs::text_enum!(DeployAction {
    Deploy => "deploy", Rollback => "rollback", Promote => "promote",
});

/// One stored version of a processor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredVersion {
    /// The processor name.
    pub name: String,
    /// The hex SHA-256 of the component bytes.
    pub hash: String,
    /// The processor's own version string, from `info`.
    pub version: String,
    /// Its phase, e.g. `3 analytics`.
    pub phase: String,
    /// The processors it depends on.
    pub dependencies: Vec<String>,
    /// When it was first deployed.
    pub first_deployed_at: DateTime<Utc>,
}

/// One switch of a processor's active version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    /// The deployment's sequence number; higher is later.
    pub id: i64,
    /// The processor name.
    pub name: String,
    /// The version made active.
    pub hash: String,
    /// Its version string.
    pub version: String,
    /// Deploy or rollback.
    pub action: DeployAction,
    /// When it became active.
    pub deployed_at: DateTime<Utc>,
    /// Whether it is the active version now.
    pub active: bool,
}

/// The active version of one processor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveVersion {
    /// The version.
    pub stored: StoredVersion,
    /// When it became active.
    pub deployed_at: DateTime<Utc>,
}

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

/// A processor's shadow version: stored, not active, run beside the
/// active one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowVersion {
    /// The version.
    pub stored: StoredVersion,
    /// When it became the shadow.
    pub since: DateTime<Utc>,
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
            serde_json::to_string(&spec.upstream).unwrap_or_else(|_| "[]".into()),
            timestamp(now),
        ],
    )?;
    Ok(())
}

/// The registry folder of one data directory.
pub struct Registry {
    dir: PathBuf,
    connection: Mutex<Connection>,
}

fn io_error(path: &Path, error: std::io::Error) -> RegistryError {
    RegistryError::Io {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
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

impl Registry {
    /// Opens the registry in `dir`, creating it if needed.
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        let blobs = dir.join("blobs");
        std::fs::create_dir_all(&blobs).map_err(|e| io_error(&blobs, e))?;
        let connection = Connection::open(dir.join("registry.db"))?;
        connection.busy_timeout(Duration::from_secs(10))?;
        connection.execute_batch(SETUP)?;
        Ok(Registry {
            dir: dir.to_path_buf(),
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The file a version's bytes are stored in.
    pub fn blob_path(&self, hash: &str) -> PathBuf {
        self.dir.join("blobs").join(format!("{hash}.wasm"))
    }

    /// Stores a component's bytes under their hash: written to a temporary
    /// file in the same folder, then renamed into place.
    pub fn store_blob(&self, hash: &str, bytes: &[u8]) -> Result<PathBuf, RegistryError> {
        let path = self.blob_path(hash);
        if path.exists() {
            return Ok(path);
        }
        let temporary = self.dir.join("blobs").join(format!(
            ".{hash}.{}.{}.tmp",
            std::process::id(),
            crate::runs::new_run_id()
        ));
        std::fs::write(&temporary, bytes).map_err(|e| io_error(&temporary, e))?;
        std::fs::rename(&temporary, &path).map_err(|e| io_error(&path, e))?;
        Ok(path)
    }

    /// A stored version's bytes.
    pub fn blob(&self, hash: &str) -> Result<Vec<u8>, RegistryError> {
        let path = self.blob_path(hash);
        std::fs::read(&path).map_err(|e| io_error(&path, e))
    }

    /// A number that grows whenever any active or shadow version changes,
    /// so that a running server can tell cheaply that it must reload: the
    /// sum of two counters, each of which only grows.
    pub fn generation(&self) -> Result<i64, RegistryError> {
        Ok(self.lock().query_row(
            "SELECT (SELECT COALESCE(MAX(deployment_id), 0) FROM active)
                  + (SELECT COALESCE(MAX(id), 0) FROM shadow_changes)",
            [],
            |row| row.get(0),
        )?)
    }

    /// In one transaction: records the version (if new), records the
    /// deployment, and makes `hash` the active version of `spec.name`.
    /// The blob must already be stored.
    pub fn activate(
        &self,
        spec: &ProcessorSpec,
        hash: &str,
        action: DeployAction,
    ) -> Result<Deployment, RegistryError> {
        let now = Utc::now();
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        record_version_in(&transaction, spec, hash, now)?;
        if action == DeployAction::Promote {
            transaction.execute("DELETE FROM shadows WHERE name = ?1", params![spec.name])?;
        }
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
        Ok(Deployment {
            id,
            name: spec.name.clone(),
            hash: hash.to_string(),
            version: spec.version.clone(),
            action,
            deployed_at: now,
            active: true,
        })
    }

    /// The active version of every processor deployed through the registry.
    pub fn active(&self) -> Result<Vec<ActiveVersion>, RegistryError> {
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

    /// The active hash of one processor, if it was deployed through the registry.
    pub fn active_hash(&self, name: &str) -> Result<Option<String>, RegistryError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT hash FROM active WHERE name = ?1",
                params![name],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Every deployment of `name`, newest first.
    pub fn history(&self, name: &str) -> Result<Vec<Deployment>, RegistryError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT d.id, d.name, d.hash, v.version, d.action, d.deployed_at,
                    d.id = (SELECT deployment_id FROM active WHERE name = d.name)
             FROM deployments d
             JOIN versions v ON v.name = d.name AND v.hash = d.hash
             WHERE d.name = ?1
             ORDER BY d.id DESC",
        )?;
        let history = statement
            .query_map(params![name], |row| {
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
        Ok(history)
    }

    /// The stored version of `name` whose hash is `hash_or_prefix` or
    /// starts with it.
    pub fn find_version(
        &self,
        name: &str,
        hash_or_prefix: &str,
    ) -> Result<StoredVersion, RegistryError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT name, hash, version, phase, dependencies, first_deployed_at
             FROM versions WHERE name = ?1 AND substr(hash, 1, length(?2)) = ?2",
        )?;
        let mut found: Vec<StoredVersion> = statement
            .query_map(params![name, hash_or_prefix], stored_from_row)?
            .collect::<Result<_, _>>()?;
        match found.len() {
            0 => Err(RegistryError::UnknownVersion {
                name: name.to_string(),
                hash: hash_or_prefix.to_string(),
            }),
            1 if !hash_or_prefix.is_empty() => Ok(found.remove(0)),
            _ => Err(RegistryError::AmbiguousHash {
                name: name.to_string(),
                prefix: hash_or_prefix.to_string(),
            }),
        }
    }

    /// In one transaction: records the version (if new) and makes `hash`
    /// the shadow version of `spec.name`, in place of any earlier shadow.
    /// The blob must already be stored.
    pub fn set_shadow(
        &self,
        spec: &ProcessorSpec,
        hash: &str,
    ) -> Result<ShadowVersion, RegistryError> {
        let now = Utc::now();
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        record_version_in(&transaction, spec, hash, now)?;
        transaction.execute(
            "INSERT INTO shadows (name, hash, since) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, since = excluded.since",
            params![spec.name, hash, timestamp(now)],
        )?;
        transaction.execute(
            "INSERT INTO shadow_changes (changed_at) VALUES (?1)",
            params![timestamp(now)],
        )?;
        transaction.commit()?;
        drop(connection);
        Ok(ShadowVersion {
            stored: self.find_version(&spec.name, hash)?,
            since: now,
        })
    }

    /// Every processor's shadow version, by name.
    pub fn shadows(&self) -> Result<Vec<ShadowVersion>, RegistryError> {
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

    /// The version a rollback without a target returns to: the one that
    /// was active before the current one.
    pub fn previous_version(&self, name: &str) -> Result<StoredVersion, RegistryError> {
        let history = self.history(name)?;
        let current = history
            .iter()
            .position(|d| d.active)
            .ok_or_else(|| RegistryError::NothingToRollBackTo(name.to_string()))?;
        let active_hash = &history[current].hash;
        let previous = history[current + 1..]
            .iter()
            .find(|d| &d.hash != active_hash)
            .ok_or_else(|| RegistryError::NothingToRollBackTo(name.to_string()))?;
        self.find_version(name, &previous.hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_stored_under_its_hash_and_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::open(dir.path()).unwrap();
        let path = registry.store_blob("abc", b"component bytes").unwrap();
        assert_eq!(path, dir.path().join("blobs/abc.wasm"));
        assert_eq!(registry.blob("abc").unwrap(), b"component bytes");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left behind");
    }
}
