//! The registry shared by every host on one PostgreSQL database, in the
//! schema `_slate`: component bytes stored once by hash
//! (`plugin_blobs`), versions, deployments, active and shadow versions,
//! and which host compiled which version (`plugin_compiled`).
//!
//! Each host keeps a copy of the bytes it has read in its own registry
//! folder, and compiles into its own cache. A switch of an active or
//! shadow version sends `NOTIFY slate_registry` in its transaction, which
//! [`PostgresRegistry::wait_for_change`] hears; the generation is read
//! from the database at every check, so a missed notification delays no
//! run.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{GenericClient, NoTls, Row};

use super::local::{blob_path, write_blob};
use super::{
    ActiveVersion, CompiledVersion, DeployAction, Deployment, RegistryError, RegistryStorage,
    ShadowVersion, StoredVersion, SwitchLock, dependencies_json, verified,
};
use crate::plugin::ProcessorSpec;
use crate::store::postgres::connector::with_causes;
use crate::store::postgres::{Pool, on_a_live_connection, outside_any_runtime, pool, set_up_once};

/// The channel a switch is announced on.
const CHANNEL: &str = "slate_registry";

/// The advisory lock every switch holds while it is checked and made.
const SWITCH_LOCK: &str = "_slate.registry switches";

const SETUP: &str = "
    CREATE SCHEMA IF NOT EXISTS _slate;
    CREATE TABLE IF NOT EXISTS _slate.plugin_blobs (
        hash TEXT PRIMARY KEY,
        bytes BYTEA NOT NULL,
        stored_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS _slate.plugin_versions (
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        version TEXT NOT NULL,
        phase TEXT NOT NULL,
        dependencies TEXT NOT NULL,
        first_deployed_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (name, hash)
    );
    CREATE TABLE IF NOT EXISTS _slate.plugin_deployments (
        id BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        action TEXT NOT NULL,
        deployed_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE IF NOT EXISTS _slate.plugin_active (
        name TEXT PRIMARY KEY,
        hash TEXT NOT NULL,
        deployment_id BIGINT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS _slate.plugin_shadows (
        name TEXT PRIMARY KEY,
        hash TEXT NOT NULL,
        since TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE IF NOT EXISTS _slate.plugin_shadow_changes (
        id BIGSERIAL PRIMARY KEY,
        changed_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE IF NOT EXISTS _slate.plugin_generation (
        only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
        value BIGINT NOT NULL
    );
    INSERT INTO _slate.plugin_generation (value)
        SELECT (SELECT COALESCE(MAX(id), 0) FROM _slate.plugin_deployments)
             + (SELECT COALESCE(MAX(id), 0) FROM _slate.plugin_shadow_changes)
        ON CONFLICT DO NOTHING;
    CREATE TABLE IF NOT EXISTS _slate.plugin_compiled (
        host_id TEXT NOT NULL,
        hash TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (host_id, hash)
    );
";

/// The columns [`stored_from_row`] reads, from `plugin_versions v`.
const VERSION_COLUMNS: &str =
    "v.name, v.hash, v.version, v.phase, v.dependencies, v.first_deployed_at";

fn database(error: impl std::fmt::Display) -> RegistryError {
    RegistryError::Database(error.to_string())
}

impl From<postgres::Error> for RegistryError {
    /// With its causes: postgres's own text is only "db error".
    fn from(error: postgres::Error) -> Self {
        database(with_causes(&error))
    }
}

impl From<r2d2::Error> for RegistryError {
    fn from(error: r2d2::Error) -> Self {
        RegistryError::Unreachable(format!("no PostgreSQL connection: {error}"))
    }
}

fn stored_from_row(row: &Row) -> StoredVersion {
    let dependencies: String = row.get(4);
    StoredVersion {
        name: row.get(0),
        hash: row.get(1),
        version: row.get(2),
        phase: row.get(3),
        dependencies: serde_json::from_str(&dependencies).unwrap_or_default(),
        first_deployed_at: row.get(5),
    }
}

/// Records `spec` at `hash`, if it is not recorded yet.
fn record_version_in(
    client: &mut impl GenericClient,
    spec: &ProcessorSpec,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(), RegistryError> {
    client.execute(
        "INSERT INTO _slate.plugin_versions
             (name, hash, version, phase, dependencies, first_deployed_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        &[
            &spec.name,
            &hash,
            &spec.version,
            &spec.phase.to_string(),
            &dependencies_json(spec),
            &now,
        ],
    )?;
    Ok(())
}

/// Moves the registry's generation on in a switch's transaction, and
/// announces it when the transaction commits. The counter's one row is
/// locked until then, so switches on different processors commit in the
/// order of their generations: a host that has read a generation has seen
/// every switch before it. (The largest id of a sequence would not do: a
/// transaction that took a smaller id may commit after one that took a
/// larger, and a host that read the larger would never load it.)
fn announce_in(client: &mut impl GenericClient) -> Result<(), RegistryError> {
    let generation: i64 = client
        .query_one(
            "UPDATE _slate.plugin_generation SET value = value + 1 RETURNING value",
            &[],
        )?
        .get(0);
    client.execute(
        "SELECT pg_notify($1, $2)",
        &[&CHANNEL, &generation.to_string()],
    )?;
    Ok(())
}

/// Records that the shadows changed at `now`, and `what` changed when it
/// is one the history shows (a version made the shadow, or the shadow
/// dropped): as a deployments entry, numbered in the one sequence with the
/// switches, which [`RegistryStorage::history`] leaves out. Announces the
/// new generation when the transaction commits.
fn note_shadow_change_in(
    client: &mut impl GenericClient,
    now: DateTime<Utc>,
    what: Option<(&str, &str, DeployAction)>,
) -> Result<(), RegistryError> {
    client.execute(
        "INSERT INTO _slate.plugin_shadow_changes (changed_at) VALUES ($1)",
        &[&now],
    )?;
    if let Some((name, hash, action)) = what {
        client.execute(
            "INSERT INTO _slate.plugin_deployments (name, hash, action, deployed_at)
             VALUES ($1, $2, $3, $4)",
            &[&name, &hash, &action.as_str(), &now],
        )?;
    }
    announce_in(client)
}

/// The registry in a PostgreSQL database, as one host sees it.
pub(super) struct PostgresRegistry {
    url: String,
    pool: Pool,
    /// This host's copies of component bytes.
    dir: PathBuf,
    host_id: String,
    /// The connection that listens for switches, opened at the first wait.
    listener: Mutex<Option<postgres::Client>>,
}

/// Creates and migrates the registry's tables, unless this very code set
/// them up before (a server that takes no writes can then be read).
fn set_up(client: &mut postgres::Client) -> Result<(), postgres::Error> {
    set_up_once(client, "_slate.registry setup", &[SETUP])
}

/// Sets the registry's tables up on a connection to a database that has
/// none (dropped and created again, empty, while hosts ran); one cheap
/// query otherwise, on every connection the pool opens.
fn recreate_if_gone(client: &mut postgres::Client) -> Result<(), postgres::Error> {
    let there: bool = client
        .query_one(
            "SELECT to_regclass('_slate.plugin_active') IS NOT NULL",
            &[],
        )?
        .get(0);
    if there { Ok(()) } else { set_up(client) }
}

impl PostgresRegistry {
    /// `name`'s history entries, newest first: its switches, and with
    /// `with_shadows` its shadow changes too. An action this release does
    /// not know reads as a deploy.
    fn history_entries(
        &self,
        name: &str,
        with_shadows: bool,
    ) -> Result<Vec<Deployment>, RegistryError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                "SELECT d.id, d.name, d.hash, v.version, d.action, d.deployed_at,
                        d.id = (SELECT deployment_id FROM _slate.plugin_active a
                                WHERE a.name = d.name) IS TRUE
                 FROM _slate.plugin_deployments d
                 JOIN _slate.plugin_versions v ON v.name = d.name AND v.hash = d.hash
                 WHERE d.name = $1 AND ($2 OR d.action NOT IN ('shadow', 'drop_shadow'))
                 ORDER BY d.id DESC",
                &[&name, &with_shadows],
            )?)
        })?;
        Ok(rows
            .iter()
            .map(|row| {
                let action: &str = row.get(4);
                Deployment {
                    id: row.get(0),
                    name: row.get(1),
                    hash: row.get(2),
                    version: row.get(3),
                    action: action.parse().unwrap_or(DeployAction::Deploy),
                    deployed_at: row.get(5),
                    active: row.get(6),
                }
            })
            .collect())
    }

    /// Connects, and creates the registry's tables if they are missing.
    pub(super) fn connect(url: &str, dir: &Path, host_id: &str) -> Result<Self, RegistryError> {
        let pool = pool(url, 4, recreate_if_gone).map_err(database)?;
        let registry = PostgresRegistry {
            url: url.to_string(),
            pool,
            dir: dir.to_path_buf(),
            host_id: host_id.to_string(),
            listener: Mutex::new(None),
        };
        // Every start migrates, for the version starting may be newer.
        registry.with_client(|client| Ok(set_up(client)?))?;
        Ok(registry)
    }

    fn with_client<T: Send>(
        &self,
        work: impl FnMut(&mut postgres::Client) -> Result<T, RegistryError> + Send,
    ) -> Result<T, RegistryError> {
        on_a_live_connection(&self.pool, work)
    }

    /// Waits up to `timeout` for another host (or this one) to switch a
    /// version; true when one did, or when the listening connection failed
    /// and will be reopened (a switch may have been missed).
    fn listen(&self, timeout: Duration) -> bool {
        outside_any_runtime(|| {
            let mut listener = self.listener.lock().unwrap_or_else(|p| p.into_inner());
            if listener.is_none() {
                let mut client = match postgres::Client::connect(&self.url, NoTls) {
                    Ok(client) => client,
                    Err(error) => {
                        tracing::warn!(
                            error = %with_causes(&error),
                            "cannot listen for deploys; polling instead"
                        );
                        std::thread::sleep(timeout);
                        return true;
                    }
                };
                if let Err(error) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
                    tracing::warn!(
                        error = %with_causes(&error),
                        "cannot listen for deploys; polling instead"
                    );
                    std::thread::sleep(timeout);
                    return true;
                }
                *listener = Some(client);
            }
            let client = listener.as_mut().expect("opened above");
            let mut notifications = client.notifications();
            let first = notifications
                .timeout_iter(timeout)
                .next()
                .map(|n| n.is_some());
            if let Ok(true) = first {
                // Switches close together need one reload.
                while let Ok(Some(_)) = notifications.iter().next() {}
            }
            drop(notifications);
            first.unwrap_or_else(|error| {
                tracing::warn!(
                    error = %with_causes(&error),
                    "lost the connection that listens for deploys"
                );
                *listener = None;
                true
            })
        })
    }
}

impl RegistryStorage for PostgresRegistry {
    fn store_blob(&self, hash: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        self.with_client(|client| {
            client.execute(
                // Bytes stored under their hash before but damaged since
                // are mended by storing them again.
                "INSERT INTO _slate.plugin_blobs (hash, bytes) VALUES ($1, $2)
                 ON CONFLICT (hash) DO UPDATE SET bytes = excluded.bytes
                 WHERE _slate.plugin_blobs.bytes IS DISTINCT FROM excluded.bytes",
                &[&hash, &bytes],
            )?;
            Ok(())
        })?;
        write_blob(&self.dir, hash, bytes).map(drop)
    }

    fn blob(&self, hash: &str) -> Result<Vec<u8>, RegistryError> {
        // This host's copy, unless it was damaged: then the database's.
        let copy = blob_path(&self.dir, hash);
        if let Ok(bytes) = std::fs::read(&copy) {
            match verified(hash, bytes) {
                Ok(bytes) => return Ok(bytes),
                Err(damaged) => {
                    tracing::warn!(%damaged, "this host's copy is read again from the database");
                    let _ = std::fs::remove_file(&copy);
                }
            }
        }
        let bytes: Vec<u8> = self.with_client(|client| {
            let row = client.query_opt(
                "SELECT bytes FROM _slate.plugin_blobs WHERE hash = $1",
                &[&hash],
            )?;
            row.map(|row| row.get(0))
                .ok_or_else(|| database(format!("no stored component with hash {hash}")))
        })?;
        let bytes = verified(hash, bytes)?;
        write_blob(&self.dir, hash, &bytes)?;
        Ok(bytes)
    }

    fn lock_switches(&self) -> Result<SwitchLock, RegistryError> {
        // The lock is a session's: a connection of its own holds it, on a
        // thread of its own (the synchronous client cannot run inside an
        // async runtime), until the lock is dropped or the process dies.
        let url = self.url.clone();
        let (locked_tx, locked) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::Builder::new()
            .name("slate-registry-lock".into())
            .spawn(move || {
                let lock = || -> Result<postgres::Client, RegistryError> {
                    // No connection is an outage, worth trying again (a
                    // 503), not a registry that refused the deploy.
                    let mut client = postgres::Client::connect(&url, NoTls).map_err(|error| {
                        RegistryError::Unreachable(format!(
                            "no PostgreSQL connection: {}",
                            with_causes(&error)
                        ))
                    })?;
                    client.execute("SELECT pg_advisory_lock(hashtext($1))", &[&SWITCH_LOCK])?;
                    Ok(client)
                };
                match lock() {
                    Ok(client) => {
                        let _ = locked_tx.send(Ok(()));
                        let _ = released.recv();
                        drop(client);
                    }
                    Err(error) => {
                        let _ = locked_tx.send(Err(error));
                    }
                }
            })
            .map_err(database)?;
        locked
            .recv()
            .map_err(|_| database("the registry's lock holder stopped"))??;
        Ok(SwitchLock::held_until(move || {
            drop(release);
            let _ = holder.join();
        }))
    }

    fn generation(&self) -> Result<i64, RegistryError> {
        self.with_client(|client| {
            Ok(client
                .query_one("SELECT value FROM _slate.plugin_generation", &[])?
                .get(0))
        })
    }

    fn activate(
        &self,
        spec: &ProcessorSpec,
        hash: &str,
        action: DeployAction,
    ) -> Result<Deployment, RegistryError> {
        let now = crate::store::now_to_the_microsecond();
        let id = self.with_client(|client| {
            let mut transaction = client.transaction()?;
            record_version_in(&mut transaction, spec, hash, now)?;
            // The shadow made active, by a promote or a deploy or rollback
            // of the same bytes, is a shadow no more.
            transaction.execute(
                "DELETE FROM _slate.plugin_shadows WHERE name = $1 AND hash = $2",
                &[&spec.name, &hash],
            )?;
            let id: i64 = transaction
                .query_one(
                    "INSERT INTO _slate.plugin_deployments (name, hash, action, deployed_at)
                     VALUES ($1, $2, $3, $4) RETURNING id",
                    &[&spec.name, &hash, &action.as_str(), &now],
                )?
                .get(0);
            transaction.execute(
                "INSERT INTO _slate.plugin_active (name, hash, deployment_id) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET hash = excluded.hash,
                     deployment_id = excluded.deployment_id",
                &[&spec.name, &hash, &id],
            )?;
            announce_in(&mut transaction)?;
            transaction.commit()?;
            Ok(id)
        })?;
        Ok(Deployment::made_active(id, spec, hash, action, now))
    }

    fn deactivate(&self, name: &str) -> Result<Option<Deployment>, RegistryError> {
        let now = crate::store::now_to_the_microsecond();
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            let ended = transaction.query_opt(
                "DELETE FROM _slate.plugin_active a USING _slate.plugin_versions v
                 WHERE a.name = $1 AND v.name = a.name AND v.hash = a.hash
                 RETURNING a.hash, v.version",
                &[&name],
            )?;
            let Some(ended) = ended else {
                return Ok(None);
            };
            let (hash, version): (String, String) = (ended.get(0), ended.get(1));
            let id: i64 = transaction
                .query_one(
                    "INSERT INTO _slate.plugin_deployments (name, hash, action, deployed_at)
                     VALUES ($1, $2, $3, $4) RETURNING id",
                    &[&name, &hash, &DeployAction::Undeploy.as_str(), &now],
                )?
                .get(0);
            let shadow_ended = transaction.execute(
                "DELETE FROM _slate.plugin_shadows WHERE name = $1",
                &[&name],
            )? > 0;
            match shadow_ended {
                // The undeploy's own entry says that it ended the shadow.
                true => note_shadow_change_in(&mut transaction, now, None)?,
                false => announce_in(&mut transaction)?,
            }
            transaction.commit()?;
            Ok(Some(Deployment::undeployed(id, name, hash, version, now)))
        })
    }

    fn active(&self) -> Result<Vec<ActiveVersion>, RegistryError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                &format!(
                    "SELECT {VERSION_COLUMNS}, d.deployed_at
                     FROM _slate.plugin_active a
                     JOIN _slate.plugin_versions v ON v.name = a.name AND v.hash = a.hash
                     JOIN _slate.plugin_deployments d ON d.id = a.deployment_id
                     ORDER BY a.name"
                ),
                &[],
            )?)
        })?;
        Ok(rows
            .iter()
            .map(|row| ActiveVersion {
                stored: stored_from_row(row),
                deployed_at: row.get(6),
            })
            .collect())
    }

    fn active_hash(&self, name: &str) -> Result<Option<String>, RegistryError> {
        self.with_client(|client| {
            Ok(client
                .query_opt(
                    "SELECT hash FROM _slate.plugin_active WHERE name = $1",
                    &[&name],
                )?
                .map(|row| row.get(0)))
        })
    }

    fn history(&self, name: &str) -> Result<Vec<Deployment>, RegistryError> {
        self.history_entries(name, false)
    }

    fn history_with_shadows(&self, name: &str) -> Result<Vec<Deployment>, RegistryError> {
        self.history_entries(name, true)
    }

    fn versions_starting(
        &self,
        name: &str,
        hash_prefix: &str,
    ) -> Result<Vec<StoredVersion>, RegistryError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                &format!(
                    "SELECT {VERSION_COLUMNS} FROM _slate.plugin_versions v
                     WHERE v.name = $1 AND left(v.hash, length($2)) = $2"
                ),
                &[&name, &hash_prefix],
            )?)
        })?;
        Ok(rows.iter().map(stored_from_row).collect())
    }

    fn set_shadow(&self, spec: &ProcessorSpec, hash: &str) -> Result<DateTime<Utc>, RegistryError> {
        let now = crate::store::now_to_the_microsecond();
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            record_version_in(&mut transaction, spec, hash, now)?;
            // A shadow of another version is replaced: dropped, as the
            // history says, before the new one is recorded.
            let replaced: Option<String> = transaction
                .query_opt(
                    "SELECT hash FROM _slate.plugin_shadows WHERE name = $1 AND hash <> $2
                     FOR UPDATE",
                    &[&spec.name, &hash],
                )?
                .map(|row| row.get(0));
            if let Some(replaced) = &replaced {
                let dropped = (
                    spec.name.as_str(),
                    replaced.as_str(),
                    DeployAction::DropShadow,
                );
                note_shadow_change_in(&mut transaction, now, Some(dropped))?;
            }
            // The same version deployed again as the shadow stays the
            // shadow since it first became it: its coverage goes on.
            let since: DateTime<Utc> = transaction
                .query_one(
                    "INSERT INTO _slate.plugin_shadows AS s (name, hash, since) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO UPDATE SET hash = excluded.hash,
                         since = CASE WHEN s.hash = excluded.hash THEN s.since
                                      ELSE excluded.since END
                     RETURNING since",
                    &[&spec.name, &hash, &now],
                )?
                .get(0);
            // The same shadow stored again is no new entry of the history.
            let became = (since == now).then_some((spec.name.as_str(), hash, DeployAction::Shadow));
            note_shadow_change_in(&mut transaction, now, became)?;
            transaction.commit()?;
            Ok(since)
        })
    }

    fn clear_shadow(&self, name: &str) -> Result<bool, RegistryError> {
        let now = crate::store::now_to_the_microsecond();
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            let cleared: Option<String> = transaction
                .query_opt(
                    "DELETE FROM _slate.plugin_shadows WHERE name = $1 RETURNING hash",
                    &[&name],
                )?
                .map(|row| row.get(0));
            if let Some(hash) = &cleared {
                let dropped = (name, hash.as_str(), DeployAction::DropShadow);
                note_shadow_change_in(&mut transaction, now, Some(dropped))?;
            }
            transaction.commit()?;
            Ok(cleared.is_some())
        })
    }

    fn shadows(&self) -> Result<Vec<ShadowVersion>, RegistryError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                &format!(
                    "SELECT {VERSION_COLUMNS}, s.since
                     FROM _slate.plugin_shadows s
                     JOIN _slate.plugin_versions v ON v.name = s.name AND v.hash = s.hash
                     ORDER BY s.name"
                ),
                &[],
            )?)
        })?;
        Ok(rows
            .iter()
            .map(|row| ShadowVersion {
                stored: stored_from_row(row),
                since: row.get(6),
            })
            .collect())
    }

    fn record_compiled(&self, hash: &str) -> Result<(), RegistryError> {
        self.with_client(|client| {
            client.execute(
                "INSERT INTO _slate.plugin_compiled (host_id, hash, at) VALUES ($1, $2, now())
                 ON CONFLICT (host_id, hash) DO UPDATE SET at = excluded.at",
                &[&self.host_id, &hash],
            )?;
            Ok(())
        })
    }

    fn compiled(&self) -> Result<Vec<CompiledVersion>, RegistryError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                "SELECT hash, host_id, at FROM _slate.plugin_compiled ORDER BY hash, host_id",
                &[],
            )?)
        })?;
        Ok(rows
            .iter()
            .map(|row| CompiledVersion {
                hash: row.get(0),
                host_id: row.get(1),
                at: row.get(2),
            })
            .collect())
    }

    fn announces_changes(&self) -> bool {
        true
    }

    fn wait_for_change(&self, timeout: Duration) -> bool {
        self.listen(timeout)
    }
}
