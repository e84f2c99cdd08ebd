//! The embedded store: raw tables, output tables and run history in one
//! bundled SQLite file, in WAL mode.
//!
//! Tables are named `"dataset.table"` (quoted, so the dot is part of the name)
//! and their schemas and owners are recorded in `_slate_tables`; changes of
//! owner are in `_slate_table_transfers`. Run history is
//! `_slate_runs`, and rows set aside by the `quarantine` policy are in
//! `_slate_quarantine`. A partial unique index on `(processor, data_date)` for
//! `running` rows makes the claim on a run atomic.
//!
//! - `tables.rs`: creating, migrating, reading and replacing tables, and
//!   who owns them ([`super::Tables`]);
//! - `runs.rs`: claims, leases, commits and run history ([`super::RunLedger`]);
//! - `alerts.rs`: the alert outbox those state changes write into
//!   ([`super::alerts::AlertOutbox`]);
//! - `schedules.rs`: schedule ticks, each claimed once
//!   ([`super::schedules::TickLedger`]).

mod alerts;
mod backfill_records;
mod raw_checks;
mod runs;
mod schedules;
mod tables;

use super::read_cache::{DEFAULT_READ_CACHE_BYTES, ReadCache};

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};

use super::StoreError;
use crate::schema::{TableName, TableSchema};

const SETUP: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    CREATE TABLE IF NOT EXISTS _slate_tables (
        table_name TEXT PRIMARY KEY,
        schema_json TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS _slate_table_transfers (
        table_name TEXT NOT NULL,
        from_kind TEXT,
        from_name TEXT,
        to_kind TEXT NOT NULL,
        to_name TEXT,
        transferred_at TEXT NOT NULL,
        transferred_by TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS _slate_runs (
        run_id TEXT PRIMARY KEY,
        processor TEXT NOT NULL,
        data_date TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        error_kind TEXT,
        error_message TEXT,
        started_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL,
        finished_at TEXT,
        duration_ms INTEGER,
        rows_read INTEGER NOT NULL DEFAULT 0,
        rows_written INTEGER NOT NULL DEFAULT 0,
        host_id TEXT NOT NULL,
        plugin_hash TEXT NOT NULL,
        run_trigger TEXT NOT NULL,
        lease_expires_at TEXT NOT NULL,
        limit_value INTEGER,
        observed_value INTEGER
    );
    CREATE UNIQUE INDEX IF NOT EXISTS _slate_runs_one_running
        ON _slate_runs (processor, data_date) WHERE status = 'running';
    CREATE INDEX IF NOT EXISTS _slate_runs_by_date ON _slate_runs (data_date, processor);
    CREATE INDEX IF NOT EXISTS _slate_runs_by_processor ON _slate_runs (processor, data_date);
    CREATE INDEX IF NOT EXISTS _slate_runs_by_change
        ON _slate_runs (coalesce(finished_at, started_at));
    CREATE TABLE IF NOT EXISTS _slate_quarantine (
        run_id TEXT NOT NULL,
        processor TEXT NOT NULL,
        data_date TEXT NOT NULL,
        table_name TEXT NOT NULL,
        row_index INTEGER NOT NULL,
        errors_json TEXT NOT NULL,
        raw_row_json TEXT NOT NULL,
        quarantined_at TEXT NOT NULL,
        PRIMARY KEY (run_id, row_index)
    );
";

/// Columns added after a store's first version: each is added to an older
/// store file when it is opened.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("_slate_tables", "owner_kind", "TEXT"),
    ("_slate_tables", "owner_name", "TEXT"),
    ("_slate_tables", "owner_since", "TEXT"),
    (
        "_slate_runs",
        "log_lines_dropped",
        "INTEGER NOT NULL DEFAULT 0",
    ),
    ("_slate_runs", "flag", "TEXT"),
    (
        "_slate_alert_channels",
        "joined_after",
        "INTEGER NOT NULL DEFAULT 0",
    ),
    ("_slate_alert_channels", "joined_at", "TEXT"),
    (
        "_slate_runs",
        "peak_memory_bytes",
        "INTEGER NOT NULL DEFAULT 0",
    ),
    ("_slate_runs", "upstream_check_json", "TEXT"),
    (
        "_slate_runs",
        "rows_with_quality_issues",
        "INTEGER NOT NULL DEFAULT 0",
    ),
    ("_slate_runs", "phase", "INTEGER"),
    // Older ticks read `firing` here, and their state from their words
    // (`TickState::of_row`).
    (
        "_slate_schedule_ticks",
        "state",
        "TEXT NOT NULL DEFAULT 'firing'",
    ),
];

/// SQLite's errors, kept whole as the backend's failure. Here, not beside
/// [`StoreError`]: the generic seam knows no backend.
impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ReadOnly) => StoreError::read_only(error),
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::full(error),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::locked(error)
            }
            _ => StoreError::backend(error),
        }
    }
}

/// Tables and run history in one SQLite file.
pub struct EmbeddedStore {
    connection: Mutex<Connection>,
    /// Recorded schemas already read. A recorded schema changes only by an
    /// additive migration in `ensure_table`, which updates this cache in the
    /// same lock; a table not cached is looked up in `_slate_tables`.
    schemas: Mutex<HashMap<TableName, Arc<TableSchema>>>,
    /// Partitions already read as column batches.
    read_cache: ReadCache,
    /// What each raw input's stored rows were found to break.
    raw_checks: Arc<raw_checks::RawChecks>,
}

/// Reads the schema, which a reader of a write-ahead-log store does only
/// once it has the log's index: where it fails, opening failed.
fn read_schema(connection: &Connection) -> rusqlite::Result<()> {
    connection.query_row("SELECT COUNT(*) FROM sqlite_schema", [], |_| Ok(()))
}

/// Whether SQLite failed for want of writing the log's index beside the
/// store, in a folder this user may not write.
fn is_read_only_folder(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_READONLY_DIRECTORY
    )
}

pub(super) fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// A lease as a chrono duration (saturating for absurd values).
pub(super) fn lease_length(lease: Duration) -> chrono::Duration {
    chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX)
}

pub(super) fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Makes `connection` read a double-quoted name as a name only. SQLite
/// otherwise takes a quoted column name it cannot find for a string: a raw
/// table that lost a column its schema declares would read the column's
/// own name in every row, and a run would write it as data. Refused, the
/// read fails naming the column.
pub(crate) fn refuse_double_quoted_strings(connection: &Connection) {
    use rusqlite::config::DbConfig;
    for setting in [
        DbConfig::SQLITE_DBCONFIG_DQS_DML,
        DbConfig::SQLITE_DBCONFIG_DQS_DDL,
    ] {
        // Only a SQLite older than 3.29 lacks the setting; the bundled one
        // is newer.
        let _ = connection.set_db_config(setting, false);
    }
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_read_cache(path, DEFAULT_READ_CACHE_BYTES)
    }

    /// Opens (or creates) the store at `path` like [`EmbeddedStore::open`],
    /// keeping at most `bytes` of partitions read as column batches in
    /// memory (0: none, every read goes to SQLite).
    pub fn open_with_read_cache(path: &Path, bytes: usize) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::backend(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let connection = Connection::open(path)?;
        Self::setup(connection, bytes)
    }

    /// Opens an existing store file; a missing file is [`StoreError::Missing`].
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.display().to_string()));
        }
        Self::open(path)
    }

    /// Opens an existing store file read-only: nothing can be written
    /// through it, and no setup runs.
    ///
    /// A store no process has open has no write-ahead-log index (`-shm`)
    /// beside it, and a reader must create one, in the store's folder. In a
    /// folder this user may not write (a read-only mount, a monitoring
    /// user's probe), the file is read as immutable instead: with no index
    /// and no writer able to make one here, it cannot change. A writer with
    /// its own access that starts meanwhile may make one read fail; it
    /// cannot change what the store holds.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        use rusqlite::OpenFlags;
        if !path.exists() {
            return Err(StoreError::Missing(path.display().to_string()));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = match Connection::open_with_flags(path, flags)
            .and_then(|connection| read_schema(&connection).map(|()| connection))
        {
            Err(error) if is_read_only_folder(&error) => {
                let mut uri = url::Url::from_file_path(std::path::absolute(path).map_err(|e| {
                    StoreError::backend(format!("cannot resolve {}: {e}", path.display()))
                })?)
                .map_err(|()| StoreError::backend(format!("no file URI for {}", path.display())))?;
                uri.set_query(Some("immutable=1"));
                Connection::open_with_flags(uri.as_str(), flags | OpenFlags::SQLITE_OPEN_URI)?
            }
            opened => opened?,
        };
        connection.busy_timeout(Duration::from_secs(10))?;
        Ok(Self::with_connection(connection, DEFAULT_READ_CACHE_BYTES))
    }

    /// A store that lives in memory only, for tests.
    ///
    /// (Its connection refuses double-quoted strings too:
    /// [`refuse_double_quoted_strings`].)
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::setup(Connection::open_in_memory()?, DEFAULT_READ_CACHE_BYTES)
    }

    fn setup(mut connection: Connection, read_cache_bytes: usize) -> Result<Self, StoreError> {
        connection.busy_timeout(Duration::from_secs(10))?;
        // Every transaction takes the write lock as it begins, waiting its
        // turn behind another process's. One that read first and wrote
        // after (a commit reads its table's owner) would otherwise fail at
        // once with "database is locked" whenever another process (a
        // server and a backfill beside it) wrote in between.
        connection.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        connection.execute_batch(SETUP)?;
        connection.execute_batch(alerts::SETUP)?;
        connection.execute_batch(schedules::SETUP)?;
        connection.execute_batch(backfill_records::SETUP)?;
        for (table, column, definition) in ADDED_COLUMNS {
            let present: bool = connection.query_row(
                &format!("SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"),
                [column],
                |row| row.get(0),
            )?;
            if !present {
                connection.execute_batch(&format!(
                    "ALTER TABLE {table} ADD COLUMN {column} {definition}"
                ))?;
            }
        }
        Ok(Self::with_connection(connection, read_cache_bytes))
    }

    /// The store over `connection`, set up, whose read cache of at most
    /// `read_cache_bytes` watches every row it writes.
    fn with_connection(connection: Connection, read_cache_bytes: usize) -> Self {
        refuse_double_quoted_strings(&connection);
        let read_cache = ReadCache::new(read_cache_bytes);
        let raw_checks = Arc::new(raw_checks::RawChecks::default());
        let mark = read_cache.written_tables();
        let checked = Arc::clone(&raw_checks);
        connection.update_hook(Some(move |_, _: &str, table: &str, _| {
            mark(table);
            checked.forget(table);
        }));
        EmbeddedStore {
            connection: Mutex::new(connection),
            schemas: Mutex::default(),
            read_cache,
            raw_checks,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn cached_schemas(&self) -> MutexGuard<'_, HashMap<TableName, Arc<TableSchema>>> {
        self.schemas
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The recorded schema of `table`, from the cache or `_slate_tables`.
    pub(super) fn schema_in(
        &self,
        connection: &Connection,
        table: &TableName,
    ) -> Result<Option<Arc<TableSchema>>, StoreError> {
        if let Some(schema) = self.cached_schemas().get(table) {
            return Ok(Some(schema.clone()));
        }
        let json: Option<String> = connection
            .query_row(
                "SELECT schema_json FROM _slate_tables WHERE table_name = ?1",
                [table.to_string()],
                |row| row.get(0),
            )
            .optional()?;
        let Some(json) = json else { return Ok(None) };
        let schema: Arc<TableSchema> = Arc::new(serde_json::from_str(&json).map_err(|e| {
            StoreError::Schema(format!("recorded schema of {table} is unreadable: {e}"))
        })?);
        self.cached_schemas().insert(table.clone(), schema.clone());
        Ok(Some(schema))
    }
}
