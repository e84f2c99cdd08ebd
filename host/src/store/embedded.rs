//! The embedded store: raw tables, output tables and run history in one
//! bundled SQLite file, in WAL mode.
//!
//! Tables are named `"dataset.table"` (quoted, so the dot is part of the name)
//! and their schemas and owners are recorded in `_slate_tables`; changes of
//! owner are in `_slate_table_transfers`. Run history is
//! `_slate_runs`, and rows set aside by the `quarantine` policy are in
//! `_slate_quarantine`. A partial unique index on `(processor, data_date)` for
//! `running` rows makes the claim on a run atomic.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, Row as SqlRow, TransactionBehavior, params};

use super::cells::{date_key, from_sql, parse_date_key, push_sql, sql_type, to_sql};
use super::{PartitionCounts, RunOutput, Store, StoreError, stored_owner, stored_table_name};
use crate::column_batch::{ColumnBatch, ColumnBuilder, Packing};
use crate::drift;
use crate::ownership::{self, Claimant, HostOwned, OwnedTable, TableOwner, Transfer};
use crate::quarantine::{self, QuarantineRecord};
use crate::rows::RowSet;
use crate::runs::{NewRun, RunEnd, RunFilter, RunRecord, RunStatus, new_run_id};
use crate::schema::{Column, TableName, TableSchema};
use crate::store::input::{InputError, InputSource, selected_columns};

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
];

const RUN_COLUMNS: &str = "run_id, processor, data_date, attempt, status, reason, error_kind, \
    error_message, started_at, heartbeat_at, finished_at, duration_ms, rows_read, rows_written, \
    host_id, plugin_hash, run_trigger, lease_expires_at, limit_value, observed_value, \
    log_lines_dropped, flag";

/// SQLite's errors, kept whole as the backend's failure. Here, not beside
/// [`StoreError`]: the generic seam knows no backend.
impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::backend(error)
    }
}

/// Tables and run history in one SQLite file.
pub struct EmbeddedStore {
    connection: Mutex<Connection>,
    /// Recorded schemas already read. A recorded schema changes only by an
    /// additive migration in `ensure_table`, which updates this cache in the
    /// same lock; a table not cached is looked up in `_slate_tables`.
    schemas: Mutex<HashMap<TableName, Arc<TableSchema>>>,
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The recorded owner of `table`, inside the caller's connection or transaction.
fn owner_in(connection: &Connection, table: &TableName) -> Result<Option<TableOwner>, StoreError> {
    let stored: Option<(Option<String>, Option<String>)> = connection
        .query_row(
            "SELECT owner_kind, owner_name FROM _slate_tables WHERE table_name = ?1",
            [table.to_string()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    match stored {
        Some((Some(kind), name)) => Ok(Some(stored_owner(&kind, name.as_deref())?)),
        _ => Ok(None),
    }
}

/// Records `owner` as the owner of the (existing) `table`, now.
fn record_owner(
    connection: &Connection,
    table: &TableName,
    owner: &TableOwner,
) -> Result<(), StoreError> {
    connection.execute(
        "UPDATE _slate_tables SET owner_kind = ?2, owner_name = ?3, owner_since = ?4
         WHERE table_name = ?1",
        params![
            table.to_string(),
            owner.kind(),
            owner.processor(),
            timestamp(Utc::now())
        ],
    )?;
    Ok(())
}

/// Creates `table` from `schema`, owned by `owner` (or no one yet), inside the caller's
/// transaction. The primary key of `_slate_tables` makes two hosts racing
/// to create it fail cleanly rather than both succeed.
fn create_in(
    transaction: &rusqlite::Transaction<'_>,
    table: &TableName,
    schema: &TableSchema,
    owner: Option<&TableOwner>,
) -> Result<(), StoreError> {
    let name = quote(&table.to_string());
    let columns: Vec<String> = schema
        .columns
        .iter()
        .map(|c| format!("{} {}", quote(&c.name), sql_type(c)))
        .collect();
    transaction.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {name} ({});
         CREATE INDEX IF NOT EXISTS {} ON {name} ({});",
        columns.join(", "),
        quote(&format!("{table}__by_{}", schema.partition_column)),
        quote(&schema.partition_column)
    ))?;
    let json = serde_json::to_string(schema).map_err(StoreError::backend)?;
    let now = timestamp(Utc::now());
    transaction.execute(
        "INSERT INTO _slate_tables (table_name, schema_json, created_at, owner_kind, owner_name,
             owner_since)
         VALUES (?1, ?2, ?3, ?4, ?5, ?3)",
        params![
            table.to_string(),
            json,
            now,
            owner.map(TableOwner::kind),
            owner.and_then(TableOwner::processor)
        ],
    )?;
    Ok(())
}

/// Migrates the live `table` towards `schema` inside the caller's
/// transaction: new NULLABLE columns are added, anything else is refused
/// ([`drift`]). Returns the migrated schema when something changed.
fn migrate_in(
    transaction: &rusqlite::Transaction<'_>,
    table: &TableName,
    live: &TableSchema,
    schema: &TableSchema,
) -> Result<Option<TableSchema>, StoreError> {
    let migration = drift::plan(table, live, schema)?;
    if migration.is_empty() {
        return Ok(None);
    }
    let migrated = migration.apply(live, schema);
    for column in &migration.added {
        transaction.execute_batch(&format!(
            "ALTER TABLE {} ADD COLUMN {} {}",
            quote(&table.to_string()),
            quote(&column.name),
            sql_type(column)
        ))?;
    }
    let json = serde_json::to_string(&migrated).map_err(StoreError::backend)?;
    transaction.execute(
        "UPDATE _slate_tables SET schema_json = ?2 WHERE table_name = ?1",
        params![table.to_string(), json],
    )?;
    tracing::info!(
        %table,
        added = ?migration.added.iter().map(|c| &c.name).collect::<Vec<_>>(),
        "added new NULLABLE columns to the live table"
    );
    Ok(Some(migrated))
}

fn stored_time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::backend(format!("unreadable time `{text}`: {e}")))
}

/// A lease as a chrono duration (saturating for absurd values).
fn lease_length(lease: Duration) -> chrono::Duration {
    chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX)
}

fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::backend(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let connection = Connection::open(path)?;
        Self::setup(connection)
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
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.display().to_string()));
        }
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags)?;
        connection.busy_timeout(Duration::from_secs(10))?;
        Ok(EmbeddedStore {
            connection: Mutex::new(connection),
            schemas: Mutex::default(),
        })
    }

    /// A store that lives in memory only, for tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(connection: Connection) -> Result<Self, StoreError> {
        connection.busy_timeout(Duration::from_secs(10))?;
        connection.execute_batch(SETUP)?;
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
        Ok(EmbeddedStore {
            connection: Mutex::new(connection),
            schemas: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cached_schemas(&self) -> MutexGuard<'_, HashMap<TableName, Arc<TableSchema>>> {
        self.schemas
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The recorded schema of `table`, from the cache or `_slate_tables`.
    fn schema_in(
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

    /// Deletes the given dates and inserts `rows`, inside the caller's transaction.
    fn replace_in(
        transaction: &rusqlite::Transaction<'_>,
        table: &TableName,
        schema: &TableSchema,
        dates: &[NaiveDate],
        rows: &RowSet,
    ) -> Result<usize, StoreError> {
        let name = quote(&table.to_string());
        let mut delete = transaction.prepare_cached(&format!(
            "DELETE FROM {name} WHERE {} = ?1",
            quote(&schema.partition_column)
        ))?;
        for date in dates {
            delete.execute([date_key(*date)])?;
        }
        // Rows arrive in the row set's column order; map them onto the table.
        let mut positions = Vec::with_capacity(rows.columns.len());
        for column in &rows.columns {
            let position = schema
                .index_of(column)
                .ok_or_else(|| StoreError::Schema(format!("{table} has no column `{column}`")))?;
            positions.push(position);
        }
        let column_list: Vec<String> = positions
            .iter()
            .map(|&p| quote(&schema.columns[p].name))
            .collect();
        let placeholders: Vec<String> = (1..=positions.len()).map(|i| format!("?{i}")).collect();
        let mut insert = transaction.prepare_cached(&format!(
            "INSERT INTO {name} ({}) VALUES ({})",
            column_list.join(", "),
            placeholders.join(", ")
        ))?;
        for row in &rows.rows {
            insert.execute(rusqlite::params_from_iter(row.iter().map(to_sql)))?;
        }
        Ok(rows.rows.len())
    }
}

fn run_from_sql(row: &SqlRow<'_>) -> rusqlite::Result<RunRecord> {
    let time = |index: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        let text: Option<String> = row.get(index)?;
        Ok(text
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)))
    };
    let parse = |index: usize, text: String| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            format!("unreadable value `{text}`").into(),
        )
    };
    let date: String = row.get(2)?;
    let status: String = row.get(4)?;
    let kind: Option<String> = row.get(6)?;
    let trigger: String = row.get(16)?;
    Ok(RunRecord {
        run_id: row.get(0)?,
        processor: row.get(1)?,
        data_date: parse_date_key(&date).ok_or_else(|| parse(2, date.clone()))?,
        attempt: row.get(3)?,
        status: status.parse().map_err(|_| parse(4, status.clone()))?,
        reason: row.get(5)?,
        error_kind: kind
            .map(|k| k.parse().map_err(|_| parse(6, k.clone())))
            .transpose()?,
        error_message: row.get(7)?,
        limit_value: row.get(18)?,
        observed_value: row.get(19)?,
        started_at: time(8)?.unwrap_or_default(),
        heartbeat_at: time(9)?.unwrap_or_default(),
        lease_expires_at: time(17)?.unwrap_or_default(),
        finished_at: time(10)?,
        duration_ms: row.get(11)?,
        rows_read: row.get(12)?,
        rows_written: row.get(13)?,
        host_id: row.get(14)?,
        plugin_hash: row.get(15)?,
        trigger: trigger.parse().map_err(|_| parse(16, trigger.clone()))?,
        log_lines_dropped: row.get(20)?,
        flag: row.get(21)?,
    })
}

impl EmbeddedStore {
    /// Rows of `table` in `start..=end`, with the named columns (all when
    /// `None`), in partition order.
    fn select(
        &self,
        table: &TableName,
        start: NaiveDate,
        end: NaiveDate,
        names: Option<&[String]>,
    ) -> Result<RowSet, InputError> {
        let storage = |e: StoreError| InputError::Storage(e.to_string());
        let connection = self.lock();
        let (columns, sql) = self.read_plan(&connection, table, names)?;
        let mut statement = connection
            .prepare_cached(&sql)
            .map_err(|e| storage(e.into()))?;
        let mut rows = Vec::new();
        let mut cursor = statement
            .query([date_key(start), date_key(end)])
            .map_err(|e| storage(e.into()))?;
        while let Some(sql_row) = cursor.next().map_err(|e| storage(e.into()))? {
            let mut row = Vec::with_capacity(columns.len());
            for (index, column) in columns.iter().enumerate() {
                let cell = sql_row.get_ref(index).map_err(|e| storage(e.into()))?;
                row.push(from_sql(cell, column).map_err(|e| {
                    InputError::Storage(format!("{table} row {}: {e}", rows.len()))
                })?);
            }
            rows.push(row);
        }
        Ok(RowSet {
            columns: columns.iter().map(|c| c.name.clone()).collect(),
            rows,
        })
    }

    /// Like [`EmbeddedStore::select`], packing each cell straight into its
    /// column: no [`crate::rows::Value`] and no `String` per cell.
    fn select_batch(
        &self,
        table: &TableName,
        start: NaiveDate,
        end: NaiveDate,
        names: &[String],
    ) -> Result<ColumnBatch, InputError> {
        let storage = |e: StoreError| InputError::Storage(e.to_string());
        let connection = self.lock();
        let (columns, sql) = self.read_plan(&connection, table, Some(names))?;
        let mut statement = connection
            .prepare_cached(&sql)
            .map_err(|e| storage(e.into()))?;
        let mut packed: Vec<ColumnBuilder> = columns
            .iter()
            .map(|c| ColumnBuilder::new(c.name.clone(), Packing::of_column(c)))
            .collect();
        let mut cursor = statement
            .query([date_key(start), date_key(end)])
            .map_err(|e| storage(e.into()))?;
        let mut row_count = 0u32;
        while let Some(sql_row) = cursor.next().map_err(|e| storage(e.into()))? {
            for (index, (column, packed)) in columns.iter().zip(&mut packed).enumerate() {
                let cell = sql_row.get_ref(index).map_err(|e| storage(e.into()))?;
                push_sql(cell, column, packed)
                    .map_err(|e| InputError::Storage(format!("{table} row {row_count}: {e}")))?;
            }
            row_count = row_count.checked_add(1).ok_or_else(|| {
                InputError::Storage(format!("{table}: a read of 2^32 rows or more"))
            })?;
        }
        Ok(ColumnBatch {
            row_count,
            columns: packed.into_iter().map(ColumnBuilder::finish).collect(),
        })
    }
}

impl EmbeddedStore {
    /// The columns a read of `names` (all when `None`) of `table` returns,
    /// and the query for them: the rows whose partition date lies between
    /// `?1` and `?2`, in date and insertion order.
    fn read_plan(
        &self,
        connection: &Connection,
        table: &TableName,
        names: Option<&[String]>,
    ) -> Result<(Vec<Column>, String), InputError> {
        let schema = self
            .schema_in(connection, table)
            .map_err(|e| InputError::Storage(e.to_string()))?
            .ok_or_else(|| InputError::UnknownTable(table.clone()))?;
        let columns = selected_columns(table, &schema, names)?;
        let selected: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
        let partition = quote(&schema.partition_column);
        let sql = format!(
            "SELECT {} FROM {} WHERE {partition} BETWEEN ?1 AND ?2 ORDER BY {partition}, rowid",
            selected.join(", "),
            quote(&table.to_string())
        );
        Ok((columns.into_iter().cloned().collect(), sql))
    }
}

impl InputSource for EmbeddedStore {
    fn read_rows(
        &self,
        table: &TableName,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<RowSet, InputError> {
        self.select(table, start, end, None)
    }

    fn read_columns(
        &self,
        table: &TableName,
        start: NaiveDate,
        end: NaiveDate,
        columns: &[String],
    ) -> Result<RowSet, InputError> {
        self.select(table, start, end, Some(columns))
    }

    fn read_column_batch(
        &self,
        table: &TableName,
        start: NaiveDate,
        end: NaiveDate,
        columns: &[String],
    ) -> Result<ColumnBatch, InputError> {
        self.select_batch(table, start, end, columns)
    }
}

impl Store for EmbeddedStore {
    fn ensure_table(&self, table: &TableName, schema: &TableSchema) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let migrated = match self.schema_in(&transaction, table)? {
            Some(live) => migrate_in(&transaction, table, &live, schema)?,
            None => {
                create_in(&transaction, table, schema, None)?;
                Some(schema.clone())
            }
        };
        transaction.commit()?;
        if let Some(migrated) = migrated {
            self.cached_schemas()
                .insert(table.clone(), Arc::new(migrated));
        }
        Ok(())
    }

    fn record_raw_input(&self, table: &TableName) -> Result<(), StoreError> {
        let connection = self.lock();
        if self.schema_in(&connection, table)?.is_none() {
            return Err(StoreError::NoSuchTable(table.clone()));
        }
        let recorded = owner_in(&connection, table)?;
        if ownership::adopt_as_raw_input(table, recorded.as_ref()).map_err(StoreError::Schema)? {
            record_owner(&connection, table, &TableOwner::RawInput)?;
        }
        Ok(())
    }

    fn check_output_table(
        &self,
        table: &TableName,
        schema: &TableSchema,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let Some(live) = self.schema_in(&connection, table)? else {
            return Ok(());
        };
        let transaction = connection.transaction()?;
        let migrated = migrate_in(&transaction, table, &live, schema)?;
        transaction.commit()?;
        if let Some(migrated) = migrated {
            self.cached_schemas()
                .insert(table.clone(), Arc::new(migrated));
        }
        Ok(())
    }

    fn table_owners(&self) -> Result<Vec<OwnedTable>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT table_name, owner_kind, owner_name, COALESCE(owner_since, created_at)
             FROM _slate_tables WHERE owner_kind IS NOT NULL ORDER BY table_name",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, String>(3)?,
            ))
        })?;
        let mut owned = Vec::new();
        for row in rows {
            let (table, kind, name, since) = row?;
            owned.push(OwnedTable {
                table: stored_table_name(&table)?,
                owner: stored_owner(&kind, name.as_deref())?,
                since: stored_time(&since)?,
            });
        }
        Ok(owned)
    }

    fn table_owner(&self, table: &TableName) -> Result<Option<TableOwner>, StoreError> {
        owner_in(&self.lock(), table)
    }

    fn transfer_table(
        &self,
        table: &TableName,
        to: &TableOwner,
        by: &str,
    ) -> Result<Transfer, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        if self.schema_in(&transaction, table)?.is_none() {
            return Err(StoreError::NoSuchTable(table.clone()));
        }
        let from = owner_in(&transaction, table)?;
        let at = super::now_to_the_microsecond();
        record_owner(&transaction, table, to)?;
        transaction.execute(
            "INSERT INTO _slate_table_transfers (table_name, from_kind, from_name, to_kind,
                 to_name, transferred_at, transferred_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                table.to_string(),
                from.as_ref().map(TableOwner::kind),
                from.as_ref().and_then(TableOwner::processor),
                to.kind(),
                to.processor(),
                timestamp(at),
                by,
            ],
        )?;
        transaction.commit()?;
        Ok(Transfer {
            table: table.clone(),
            from,
            to: to.clone(),
            at,
            by: by.to_string(),
        })
    }

    fn table_transfers(&self) -> Result<Vec<Transfer>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT table_name, from_kind, from_name, to_kind, to_name, transferred_at,
                    transferred_by
             FROM _slate_table_transfers ORDER BY transferred_at, rowid",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Option<String>>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
            ))
        })?;
        let mut transfers = Vec::new();
        for row in rows {
            let (table, from_kind, from_name, to_kind, to_name, at, by) = row?;
            transfers.push(Transfer {
                table: stored_table_name(&table)?,
                from: from_kind
                    .map(|kind| stored_owner(&kind, from_name.as_deref()))
                    .transpose()?,
                to: stored_owner(&to_kind, to_name.as_deref())?,
                at: stored_time(&at)?,
                by,
            });
        }
        Ok(transfers)
    }

    fn table_schema(&self, table: &TableName) -> Result<Option<TableSchema>, StoreError> {
        Ok(self
            .schema_in(&self.lock(), table)?
            .map(|schema| schema.as_ref().clone()))
    }

    fn replace_partitions(
        &self,
        table: &TableName,
        dates: &[NaiveDate],
        rows: &RowSet,
    ) -> Result<usize, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let schema = self
            .schema_in(&transaction, table)?
            .ok_or_else(|| StoreError::NoSuchTable(table.clone()))?;
        let written = Self::replace_in(&transaction, table, &schema, dates, rows)?;
        transaction.commit()?;
        Ok(written)
    }

    fn partition_counts(&self, table: &TableName) -> Result<PartitionCounts, StoreError> {
        let connection = self.lock();
        let schema = self
            .schema_in(&connection, table)?
            .ok_or_else(|| StoreError::NoSuchTable(table.clone()))?;
        let partition = quote(&schema.partition_column);
        let mut statement = connection.prepare(&format!(
            "SELECT {partition}, COUNT(*) FROM {} GROUP BY {partition} ORDER BY {partition}",
            quote(&table.to_string())
        ))?;
        let counts = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?
            .filter_map(|row| match row {
                Ok((date, count)) => parse_date_key(&date).map(|d| Ok((d, count as u64))),
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<_, _>>()?;
        Ok(counts)
    }

    fn start_run(&self, run: &NewRun) -> Result<RunRecord, StoreError> {
        let mut guard = self.lock();
        // Take the write lock first (waiting for other processes' writes),
        // and only then the start time: a run starts when its claim holds.
        let connection = guard.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let run_id = new_run_id();
        let now = Utc::now();
        let inserted = connection.execute(
            "INSERT INTO _slate_runs (run_id, processor, data_date, attempt, status, started_at,
                 heartbeat_at, host_id, plugin_hash, run_trigger, lease_expires_at)
             SELECT ?1, ?2, ?3, COALESCE(MAX(attempt), 0) + 1, 'running', ?4, ?4, ?5, ?6, ?7, ?8
             FROM _slate_runs WHERE processor = ?2 AND data_date = ?3",
            params![
                run_id,
                run.processor,
                date_key(run.data_date),
                timestamp(now),
                run.host_id,
                run.plugin_hash,
                run.trigger.as_str(),
                timestamp(now + lease_length(run.lease)),
            ],
        );
        match inserted {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                let holder: Option<(String, String)> = connection
                    .query_row(
                        "SELECT run_id, started_at FROM _slate_runs
                         WHERE processor = ?1 AND data_date = ?2 AND status = 'running'",
                        params![run.processor, date_key(run.data_date)],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()?;
                let (run_id, started_at) = holder.unwrap_or_default();
                return Err(StoreError::AlreadyRunning {
                    run_id,
                    started_at: DateTime::parse_from_rfc3339(&started_at)
                        .map(|t| t.with_timezone(&Utc))
                        .unwrap_or_default(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        connection.commit()?;
        drop(guard);
        self.run(&run_id)?.ok_or(StoreError::NotRunning(run_id))
    }

    fn commit_run(&self, run_id: &str, output: &RunOutput<'_>) -> Result<usize, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let owner = TableOwner::Processor(output.processor.to_string());
        let (schema, created) = match self.schema_in(&transaction, output.table)? {
            Some(live) => {
                let recorded = owner_in(&transaction, output.table)?;
                let claimant = Claimant {
                    name: output.processor,
                    output: output.table,
                    inputs: &[],
                };
                ownership::decide(claimant, recorded.as_ref(), &HostOwned::default())?;
                if recorded.is_none() {
                    record_owner(&transaction, output.table, &owner)?;
                }
                (live, false)
            }
            None => {
                create_in(&transaction, output.table, output.schema, Some(&owner))?;
                (Arc::new(output.schema.clone()), true)
            }
        };
        let written = Self::replace_in(
            &transaction,
            output.table,
            &schema,
            &[output.date],
            output.rows,
        )?;
        let now = timestamp(Utc::now());
        let updated = transaction.execute(
            "UPDATE _slate_runs SET status = 'success', finished_at = ?2, heartbeat_at = ?2,
                 duration_ms = CAST(ROUND((julianday(?2) - julianday(started_at)) * 86400000) AS INTEGER),
                 rows_read = ?3, rows_written = ?4, reason = ?5, log_lines_dropped = ?6
             WHERE run_id = ?1 AND status = 'running'",
            params![
                run_id,
                now,
                output.rows_read,
                written as i64,
                quarantine::commit_reason(written, output.quarantined.len(), run_id),
                output.log_lines_dropped as i64,
            ],
        )?;
        if updated != 1 {
            // The claim was lost (reaped as stale): write nothing.
            return Err(StoreError::NotRunning(run_id.to_string()));
        }
        let mut quarantine = transaction.prepare_cached(
            "INSERT INTO _slate_quarantine (run_id, processor, data_date, table_name, row_index,
                 errors_json, raw_row_json, quarantined_at)
             SELECT run_id, processor, data_date, ?2, ?3, ?4, ?5, ?6
             FROM _slate_runs WHERE run_id = ?1",
        )?;
        for row in output.quarantined {
            let errors = serde_json::to_string(&row.errors).map_err(StoreError::backend)?;
            quarantine.execute(params![
                run_id,
                output.table.to_string(),
                row.row_index as i64,
                errors,
                row.raw_row.to_string(),
                now,
            ])?;
        }
        drop(quarantine);
        transaction.commit()?;
        if created {
            self.cached_schemas().insert(output.table.clone(), schema);
        }
        Ok(written)
    }

    fn quarantined(&self, run_id: Option<&str>) -> Result<Vec<QuarantineRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT run_id, processor, data_date, table_name, row_index, errors_json,
                    raw_row_json, quarantined_at
             FROM _slate_quarantine WHERE ?1 IS NULL OR run_id = ?1
             ORDER BY run_id DESC, row_index",
        )?;
        let rows = statement.query_map([run_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, String>(7)?,
            ))
        })?;
        let unreadable = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::backend(format!("unreadable quarantine record ({what}): {e}"))
        };
        let mut records = Vec::new();
        for row in rows {
            let (run_id, processor, date, table_name, row_index, errors, raw_row, at) = row?;
            records.push(QuarantineRecord {
                run_id,
                processor,
                data_date: parse_date_key(&date).ok_or_else(|| unreadable("date", &date))?,
                table_name,
                row_index: row_index as u64,
                errors: serde_json::from_str(&errors).map_err(|e| unreadable("errors", &e))?,
                raw_row: serde_json::from_str(&raw_row).map_err(|e| unreadable("row", &e))?,
                quarantined_at: DateTime::parse_from_rfc3339(&at)
                    .map_err(|e| unreadable("time", &e))?
                    .with_timezone(&Utc),
            });
        }
        Ok(records)
    }

    fn end_run(&self, run_id: &str, end: &RunEnd) -> Result<(), StoreError> {
        let updated = self.lock().execute(
            "UPDATE _slate_runs SET status = ?2, error_kind = ?3, error_message = ?4,
                 reason = ?4,
                 finished_at = ?5, heartbeat_at = ?5, rows_read = ?6,
                 limit_value = ?7, observed_value = ?8, log_lines_dropped = ?9,
                 duration_ms = CAST(ROUND((julianday(?5) - julianday(started_at)) * 86400000) AS INTEGER)
             WHERE run_id = ?1 AND status = 'running'",
            params![
                run_id,
                end.status.as_str(),
                end.error_kind.map(|k| k.as_str()),
                end.message,
                timestamp(Utc::now()),
                end.rows_read,
                end.limit.map(|(limit, _)| limit as i64),
                end.limit.map(|(_, observed)| observed as i64),
                end.log_lines_dropped as i64,
            ],
        )?;
        if updated == 1 {
            Ok(())
        } else {
            Err(StoreError::NotRunning(run_id.to_string()))
        }
    }

    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM _slate_runs
             WHERE (?1 IS NULL OR data_date = ?1) AND (?2 IS NULL OR processor = ?2)
               AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR plugin_hash = ?4)
               AND (?6 IS NULL OR (status = 'running' AND lease_expires_at < ?6))
             ORDER BY started_at DESC, run_id DESC LIMIT ?5"
        ))?;
        let records = statement
            .query_map(
                params![
                    filter.date.map(date_key),
                    filter.processor,
                    filter.status.map(RunStatus::as_str),
                    filter.plugin_hash,
                    filter.limit.map_or(-1, |l| l as i64),
                    filter.stale_as_of.map(timestamp),
                ],
                run_from_sql,
            )?
            .collect::<Result<_, _>>()?;
        Ok(records)
    }

    fn renew_leases(&self, run_ids: &[String], lease: Duration) -> Result<usize, StoreError> {
        let connection = self.lock();
        let now = Utc::now();
        let mut renew = connection.prepare_cached(
            "UPDATE _slate_runs SET heartbeat_at = ?2, lease_expires_at = ?3
             WHERE run_id = ?1 AND status = 'running'",
        )?;
        let mut renewed = 0;
        for run_id in run_ids {
            renewed += renew.execute(params![
                run_id,
                timestamp(now),
                timestamp(now + lease_length(lease))
            ])?;
        }
        Ok(renewed)
    }

    fn expire_leases(&self, host_id: &str) -> Result<usize, StoreError> {
        Ok(self.lock().execute(
            "UPDATE _slate_runs SET lease_expires_at = heartbeat_at
             WHERE host_id = ?1 AND status = 'running'",
            [host_id],
        )?)
    }

    fn reap_stale(&self, now: DateTime<Utc>) -> Result<Vec<RunRecord>, StoreError> {
        let connection = self.lock();
        // One statement: two hosts reaping at once each fail a run at most once.
        let mut reap = connection.prepare_cached(
            "UPDATE _slate_runs SET status = 'failed', error_kind = 'stale',
                 error_message = 'host ' || host_id || ' stopped renewing at ' || heartbeat_at
                     || '; reaped at ' || ?1,
                 reason = 'host ' || host_id || ' stopped renewing at ' || heartbeat_at,
                 finished_at = ?1,
                 duration_ms = CAST(ROUND((julianday(?1) - julianday(started_at)) * 86400000) AS INTEGER)
             WHERE status = 'running' AND lease_expires_at < ?1
             RETURNING run_id",
        )?;
        let reaped: Vec<String> = reap
            .query_map([timestamp(now)], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        drop(reap);
        drop(connection);
        let mut records = Vec::with_capacity(reaped.len());
        for run_id in reaped {
            records.extend(self.run(&run_id)?);
        }
        Ok(records)
    }

    fn flag_run(&self, run_id: &str, reason: &str) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE _slate_runs SET flag = ?2 WHERE run_id = ?1 AND status = 'running'",
            params![run_id, reason],
        )?;
        Ok(())
    }

    fn rows_on(&self, table: &TableName, date: NaiveDate) -> Result<u64, StoreError> {
        let connection = self.lock();
        let Some(schema) = self.schema_in(&connection, table)? else {
            return Ok(0);
        };
        let count: i64 = connection.query_row(
            &format!(
                "SELECT COUNT(*) FROM {} WHERE {} = ?1",
                quote(&table.to_string()),
                quote(&schema.partition_column)
            ),
            [date_key(date)],
            |row| row.get(0),
        )?;
        Ok(count as u64)
    }

    fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM _slate_runs WHERE run_id = ?1"),
                [run_id],
                run_from_sql,
            )
            .optional()?)
    }
}
