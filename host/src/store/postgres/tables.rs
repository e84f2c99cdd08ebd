//! The PostgreSQL store's tables: `dataset.table` is the table `table` in
//! the schema `dataset`, its schema and owner recorded in `_slate.tables`,
//! read by date range and replaced a date at a time. Each table carries a
//! hidden identity column, `_slate_row`, so rows read back in the order
//! they were written.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use chrono::{DateTime, NaiveDate, Utc};
use postgres::GenericClient;

use super::values::{push_cell, push_copy_text, read_cell, select_expression, sql_type};
use super::{PostgresStore, quote};
use crate::column_batch::{ColumnBatch, ColumnBuilder, Packing};
use crate::drift;
use crate::ownership::{self, OwnedTable, TableOwner, Transfer};
use crate::rows::RowSet;
use crate::schema::{Column, ColumnMode, ColumnType, TableName, TableSchema};
use crate::store::input::{InputError, InputSource, TableSpan, selected_columns};
use crate::store::read_cache::{ColumnPlan, refuse_uncodable};
use crate::store::{PartitionCounts, StoreError, Tables, stored_owner, stored_table_name};
use crate::text_codes::CodedColumnBatch;

/// The hidden column that keeps the order rows were written in.
const ROW_ORDER: &str = "_slate_row";

/// The longest name PostgreSQL keeps whole; a longer one would be cut.
const MAX_NAME_BYTES: usize = 63;

/// `table` as PostgreSQL names it: `"dataset"."table"`.
pub(super) fn sql_name(table: &TableName) -> String {
    format!("{}.{}", quote(&table.dataset), quote(&table.table))
}

/// Takes the transaction-scoped lock on `table`'s DDL: creating, migrating
/// and dropping it wait for each other across hosts.
pub(super) fn lock_table(
    client: &mut impl GenericClient,
    table: &TableName,
) -> Result<(), StoreError> {
    advisory_xact_lock(client, &format!("table {table}"))
}

/// Takes the transaction-scoped lock named `key`, shared by every host on
/// the database.
fn advisory_xact_lock(client: &mut impl GenericClient, key: &str) -> Result<(), StoreError> {
    client.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])?;
    Ok(())
}

/// The recorded schema of `table`, if it exists.
pub(super) fn schema_in(
    client: &mut impl GenericClient,
    table: &TableName,
) -> Result<Option<TableSchema>, StoreError> {
    let row = client.query_opt(
        "SELECT schema_json FROM _slate.tables WHERE table_name = $1",
        &[&table.to_string()],
    )?;
    let Some(row) = row else { return Ok(None) };
    let json: String = row.get(0);
    serde_json::from_str(&json)
        .map(Some)
        .map_err(|e| StoreError::Schema(format!("recorded schema of {table} is unreadable: {e}")))
}

/// The recorded owner of `table`, if any.
pub(super) fn owner_in(
    client: &mut impl GenericClient,
    table: &TableName,
) -> Result<Option<TableOwner>, StoreError> {
    let row = client.query_opt(
        "SELECT owner_kind, owner_name FROM _slate.tables WHERE table_name = $1",
        &[&table.to_string()],
    )?;
    match row {
        Some(row) => match row.get::<_, Option<String>>(0) {
            Some(kind) => Ok(Some(stored_owner(&kind, row.get::<_, Option<&str>>(1))?)),
            None => Ok(None),
        },
        None => Ok(None),
    }
}

/// Records `owner` as the owner of the (existing) `table`, now.
pub(super) fn record_owner(
    client: &mut impl GenericClient,
    table: &TableName,
    owner: &TableOwner,
) -> Result<(), StoreError> {
    client.execute(
        "UPDATE _slate.tables SET owner_kind = $2, owner_name = $3, owner_since = now()
         WHERE table_name = $1",
        &[&table.to_string(), &owner.kind(), &owner.processor()],
    )?;
    Ok(())
}

/// Each of `columns`' names, as a column.
fn column_names(columns: &[Column]) -> impl Iterator<Item = (&'static str, &String)> {
    columns.iter().map(|c| ("column", &c.name))
}

/// Refuses any of `names` (what each names, and the name) longer than
/// PostgreSQL keeps: it cuts a longer one short without a word, so two
/// columns alike in their first 63 bytes would become one.
fn refuse_long_names<'a>(
    table: &TableName,
    names: impl IntoIterator<Item = (&'static str, &'a String)>,
) -> Result<(), StoreError> {
    match names
        .into_iter()
        .find(|(_, name)| name.len() > MAX_NAME_BYTES)
    {
        Some((what, name)) => Err(StoreError::Schema(format!(
            "{table}: PostgreSQL keeps names of at most {MAX_NAME_BYTES} bytes, and the \
             {what} `{name}` has {}",
            name.len()
        ))),
        None => Ok(()),
    }
}

/// Refuses `table` with `schema` if PostgreSQL would cut one of its names
/// (dataset, table, columns) short.
fn names_kept(table: &TableName, schema: &TableSchema) -> Result<(), StoreError> {
    let names = [("dataset", &table.dataset), ("table", &table.table)];
    refuse_long_names(
        table,
        names.into_iter().chain(column_names(&schema.columns)),
    )
}

/// The CHECK a raw input's FLOAT64 column `c` is made with, if it needs
/// one: no NaN or infinity unless the column allows them.
fn finite_check(c: &Column) -> Option<String> {
    (c.column_type == ColumnType::Float64 && c.mode != ColumnMode::Repeated && !c.allow_non_finite)
        .then(|| {
            format!(
                "CHECK ({} NOT IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8))",
                quote(&c.name)
            )
        })
}

/// The UNIQUE constraint a raw input is made with, if it has keys: a key
/// is held once within a date.
fn unique_key(schema: &TableSchema) -> Option<String> {
    if schema.key_columns.is_empty() {
        return None;
    }
    let mut key: Vec<String> = Vec::new();
    for column in std::iter::once(&schema.partition_column).chain(&schema.key_columns) {
        if !key.contains(&quote(column)) {
            key.push(quote(column));
        }
    }
    Some(format!("UNIQUE ({})", key.join(", ")))
}

/// Gives an existing table the constraints a raw input's table is made
/// with ([`create_in`]) that it lacks: a table that became a raw input
/// after it was made (adopted at a load, or moved to the host by `slate
/// tables transfer --raw-input`) otherwise refused nothing. Rows already
/// there that break one fail it, naming the constraint.
fn constrain_as_raw_input(
    client: &mut impl GenericClient,
    table: &TableName,
    schema: &TableSchema,
) -> Result<(), StoreError> {
    let name = sql_name(table);
    let not_null: Vec<String> = client
        .query(
            "SELECT attname::text FROM pg_attribute
             WHERE attrelid = $1::text::regclass AND attnum > 0 AND attnotnull",
            &[&name],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let checked: Vec<String> = client
        .query(
            "SELECT a.attname::text FROM pg_constraint c
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
             WHERE c.conrelid = $1::text::regclass AND c.contype = 'c'",
            &[&name],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let has_unique: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_constraint
                            WHERE conrelid = $1::text::regclass AND contype = 'u')",
            &[&name],
        )?
        .get(0);
    let mut changes: Vec<String> = Vec::new();
    for c in &schema.columns {
        if c.mode == ColumnMode::Required && !not_null.contains(&c.name) {
            changes.push(format!("ALTER COLUMN {} SET NOT NULL", quote(&c.name)));
        }
        if let Some(check) = finite_check(c).filter(|_| !checked.contains(&c.name)) {
            changes.push(format!("ADD {check}"));
        }
    }
    if let Some(key) = unique_key(schema).filter(|_| !has_unique) {
        changes.push(format!("ADD {key}"));
    }
    if changes.is_empty() {
        return Ok(());
    }
    client
        .batch_execute(&format!("ALTER TABLE {name} {}", changes.join(", ")))
        .map_err(|e| {
            StoreError::Schema(format!(
                "{table} cannot be a raw input: its rows break the constraints a raw \
                 input's schema makes ({})",
                super::connector::with_causes(&e)
            ))
        })
}

/// Creates `table` from `schema`, owned by `owner` (or no one yet), inside
/// the caller's transaction, which holds [`lock_table`].
pub(super) fn create_in(
    client: &mut impl GenericClient,
    table: &TableName,
    schema: &TableSchema,
    owner: Option<&TableOwner>,
) -> Result<(), StoreError> {
    names_kept(table, schema)?;
    // A raw input is written by whatever loads it, past the host's
    // validation: the table itself refuses what its schema does, so a bad
    // row fails the load that writes it, naming the constraint, rather
    // than a run that reads it (the embedded store checks on read).
    let raw_input = owner == Some(&TableOwner::RawInput);
    let mut columns: Vec<String> = schema
        .columns
        .iter()
        .map(|c| {
            let mut definition = format!("{} {}", quote(&c.name), sql_type(c));
            if raw_input && c.mode == ColumnMode::Required {
                definition.push_str(" NOT NULL");
            }
            if let Some(check) = finite_check(c).filter(|_| raw_input) {
                definition.push_str(&format!(" {check}"));
            }
            definition
        })
        .collect();
    if let Some(key) = unique_key(schema).filter(|_| raw_input) {
        columns.push(key);
    }
    let name = sql_name(table);
    // `CREATE SCHEMA IF NOT EXISTS` is not safe against itself: two
    // transactions creating tables of one new dataset at once (the phase 3
    // processors of a first date, or two hosts) would both create the
    // schema, and the second fail on PostgreSQL's catalog. The dataset's
    // lock makes the second wait and then find it.
    advisory_xact_lock(client, &format!("dataset {}", table.dataset))?;
    client.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema_name};
         CREATE TABLE IF NOT EXISTS {name} (
             {columns}, {ROW_ORDER} BIGINT GENERATED ALWAYS AS IDENTITY);
         CREATE INDEX ON {name} ({partition}, {ROW_ORDER});",
        schema_name = quote(&table.dataset),
        columns = columns.join(", "),
        partition = quote(&schema.partition_column),
    ))?;
    let json = serde_json::to_string(schema).map_err(StoreError::backend)?;
    client.execute(
        "INSERT INTO _slate.tables (table_name, schema_json, created_at, owner_kind, owner_name,
             owner_since)
         VALUES ($1, $2, now(), $3, $4, now())",
        &[
            &table.to_string(),
            &json,
            &owner.map(TableOwner::kind),
            &owner.and_then(TableOwner::processor),
        ],
    )?;
    Ok(())
}

/// Migrates the live `table` towards `schema` inside the caller's
/// transaction, which holds [`lock_table`]: new NULLABLE columns are
/// added, anything else is refused ([`drift`]).
fn migrate_in(
    client: &mut impl GenericClient,
    table: &TableName,
    live: &TableSchema,
    schema: &TableSchema,
) -> Result<(), StoreError> {
    let migration = drift::plan(table, live, schema)?;
    if migration.is_empty() {
        return Ok(());
    }
    refuse_long_names(table, column_names(&migration.added))?;
    let migrated = migration.apply(live, schema);
    for column in &migration.added {
        client.batch_execute(&format!(
            "ALTER TABLE {} ADD COLUMN {} {}",
            sql_name(table),
            quote(&column.name),
            sql_type(column)
        ))?;
    }
    let json = serde_json::to_string(&migrated).map_err(StoreError::backend)?;
    client.execute(
        "UPDATE _slate.tables SET schema_json = $2 WHERE table_name = $1",
        &[&table.to_string(), &json],
    )?;
    tracing::info!(
        %table,
        added = ?migration.added.iter().map(|c| &c.name).collect::<Vec<_>>(),
        "added new NULLABLE columns to the live table"
    );
    Ok(())
}

/// Deletes the rows of `dates` and copies in `rows`, inside the caller's
/// transaction. This is the only way rows of a table are written.
pub(super) fn replace_in(
    client: &mut impl GenericClient,
    table: &TableName,
    schema: &TableSchema,
    dates: &[NaiveDate],
    rows: &RowSet,
) -> Result<usize, StoreError> {
    use std::io::Write;
    let name = sql_name(table);
    client.execute(
        &format!(
            "DELETE FROM {name} WHERE {} = ANY($1)",
            quote(&schema.partition_column)
        ),
        &[&dates],
    )?;
    // Every host's read cache reads these dates again.
    client.execute(
        "INSERT INTO _slate.partition_versions (table_name, data_date, version)
         SELECT $1, day, nextval('_slate.partition_version') FROM unnest($2::DATE[]) AS day
         ON CONFLICT (table_name, data_date) DO UPDATE SET version = excluded.version",
        &[&table.to_string(), &dates],
    )?;
    let mut columns = Vec::with_capacity(rows.columns.len());
    for column in &rows.columns {
        if schema.index_of(column).is_none() {
            return Err(StoreError::Schema(format!(
                "{table} has no column `{column}`"
            )));
        }
        columns.push(quote(column));
    }
    if rows.rows.is_empty() {
        return Ok(0);
    }
    let mut writer = client.copy_in(&format!("COPY {name} ({}) FROM STDIN", columns.join(", ")))?;
    let mut line = String::new();
    for row in &rows.rows {
        line.clear();
        for (index, value) in row.iter().enumerate() {
            if index > 0 {
                line.push('\t');
            }
            push_copy_text(&mut line, value);
        }
        line.push('\n');
        writer
            .write_all(line.as_bytes())
            .map_err(|e| StoreError::backend(format!("copying rows into {table}: {e}")))?;
    }
    writer.finish()?;
    Ok(rows.rows.len())
}

/// A failed read, in the store's words: PostgreSQL's own message (its
/// SQLSTATE, text and detail), where the client's alone reads "db error";
/// a database it cannot reach stays [`InputError::Unreachable`].
fn storage(error: impl Into<StoreError>) -> InputError {
    InputError::from(error.into())
}

/// The columns of `table` a read of `names` (all when `None`) returns, and
/// its rows whose partition date lies in `start..=end`, in partition
/// order, then in the order they were written. Each row ends with its
/// `_slate_row`, which [`unreadable_row`] names.
fn query_in(
    client: &mut impl GenericClient,
    TableSpan { table, start, end }: TableSpan<'_>,
    names: Option<&[String]>,
) -> Result<(Vec<Column>, Vec<postgres::Row>), InputError> {
    let schema = schema_in(client, table)
        .map_err(storage)?
        .ok_or_else(|| InputError::UnknownTable(table.clone()))?;
    let columns: Vec<Column> = selected_columns(table, &schema, names)?
        .into_iter()
        .cloned()
        .collect();
    let selected: Vec<String> = columns.iter().map(select_expression).collect();
    let partition = quote(&schema.partition_column);
    let sql = format!(
        "SELECT {}, {ROW_ORDER} FROM {} WHERE {partition} BETWEEN $1 AND $2
         ORDER BY {partition}, {ROW_ORDER}",
        selected.join(", "),
        sql_name(table)
    );
    let rows = client.query(&sql, &[&start, &end]).map_err(storage)?;
    Ok((columns, rows))
}

/// Why row `number` of a read of `table` cannot be read: `error`, with
/// the row's `_slate_row` (the last cell [`query_in`] selects), which
/// finds it in the table: `WHERE _slate_row = 12`.
fn unreadable_row(
    table: &TableName,
    sql_row: &postgres::Row,
    number: usize,
    error: impl std::fmt::Display,
) -> InputError {
    let identity = sql_row
        .len()
        .checked_sub(1)
        .map(|last| sql_row.try_get::<_, i64>(last));
    match identity {
        Some(Ok(id)) => {
            InputError::Storage(format!("{table} row {number} ({ROW_ORDER} {id}): {error}"))
        }
        _ => InputError::Storage(format!("{table} row {number}: {error}")),
    }
}

/// The rows of `span`, with the named columns (all when `None`), in
/// partition order, then in the order they were written.
fn select_in(
    client: &mut impl GenericClient,
    span: TableSpan<'_>,
    names: Option<&[String]>,
) -> Result<RowSet, InputError> {
    let (columns, sql_rows) = query_in(client, span, names)?;
    let table = span.table;
    let mut rows = Vec::with_capacity(sql_rows.len());
    for sql_row in &sql_rows {
        let row = columns
            .iter()
            .enumerate()
            .map(|(index, column)| read_cell(sql_row, index, column))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| unreadable_row(table, sql_row, rows.len(), e))?;
        rows.push(row);
    }
    Ok(RowSet {
        columns: columns.iter().map(|c| c.name.clone()).collect(),
        rows,
    })
}

impl PostgresStore {
    /// A column batch, packing each cell straight into its column (no
    /// [`crate::rows::Value`] per cell), through the read cache: the dates whose version moved
    /// since this store last read them (any host wrote them) are forgotten
    /// first, and only the dates not cached are read, one batch per date.
    fn cached_batch_in(
        &self,
        client: &mut impl GenericClient,
        TableSpan { table, start, end }: TableSpan<'_>,
        names: &[String],
        coded: &[String],
    ) -> Result<CodedColumnBatch, InputError> {
        let names = &[names, coded].concat();
        let schema = schema_in(client, table)
            .map_err(storage)?
            .ok_or_else(|| InputError::UnknownTable(table.clone()))?;
        let key = table.to_string();
        let versions: BTreeMap<NaiveDate, i64> = client
            .query(
                "SELECT data_date, version FROM _slate.partition_versions
                 WHERE table_name = $1 AND data_date BETWEEN $2 AND $3",
                &[&key, &start, &end],
            )
            .map_err(storage)?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        {
            let mut read = self.versions_read.lock().unwrap_or_else(|p| p.into_inner());
            let seen = read.entry(key.clone()).or_default();
            let moved: Vec<NaiveDate> = seen
                .range(start..=end)
                .filter(|(date, version)| versions.get(date) != Some(version))
                .map(|(date, _)| *date)
                .chain(
                    versions
                        .iter()
                        .filter(|(date, version)| seen.get(date) != Some(version))
                        .map(|(date, _)| *date),
                )
                .collect();
            self.read_cache.forget_dates(&key, &moved);
            let stale: Vec<NaiveDate> = seen.range(start..=end).map(|(d, _)| *d).collect();
            for date in stale {
                seen.remove(&date);
            }
            seen.extend(versions);
        }
        let plans: Vec<ColumnPlan> = selected_columns(table, &schema, Some(names))?
            .into_iter()
            .map(|c| (c.name.clone(), Packing::of_column(c)))
            .collect();
        refuse_uncodable(table, &plans[plans.len() - coded.len()..])?;
        self.read_cache
            .read_coded(&key, &plans, coded.len(), (start, end), 0, |from, to| {
                batches_by_date_in(client, TableSpan::new(table, from, to), &schema, names)
            })
    }
}

/// The rows of `span` with `names`, one batch per date that has rows, in
/// date order.
fn batches_by_date_in(
    client: &mut impl GenericClient,
    span: TableSpan<'_>,
    schema: &TableSchema,
    names: &[String],
) -> Result<Vec<(NaiveDate, ColumnBatch)>, InputError> {
    let mut with_partition = vec![schema.partition_column.clone()];
    with_partition.extend(names.iter().cloned());
    let (columns, sql_rows) = query_in(client, span, Some(&with_partition))?;
    let table = span.table;
    let (columns, names) = (&columns[1..], names);
    let start_batch = || -> Vec<ColumnBuilder> {
        columns
            .iter()
            .map(|c| ColumnBuilder::new(c.name.clone(), Packing::of_column(c)))
            .collect()
    };
    let mut batches = Vec::new();
    let mut current: Option<(NaiveDate, Vec<ColumnBuilder>, u32)> = None;
    for (number, sql_row) in sql_rows.iter().enumerate() {
        let date: NaiveDate = sql_row
            .try_get(0)
            .map_err(|e| unreadable_row(table, sql_row, number, e))?;
        if current.as_ref().is_none_or(|(d, _, _)| *d != date) {
            batches.extend(current.take().map(finish_batch));
            current = Some((date, start_batch(), 0));
        }
        let (_, packed, rows) = current.as_mut().expect("set just above");
        for (index, (column, packed)) in columns.iter().zip(packed.iter_mut()).enumerate() {
            push_cell(sql_row, index + 1, column, packed)
                .map_err(|e| unreadable_row(table, sql_row, number, e))?;
        }
        *rows += 1;
    }
    batches.extend(current.map(finish_batch));
    debug_assert!(batches.iter().all(|(_, b)| b.columns.len() == names.len()));
    Ok(batches)
}

fn finish_batch(
    (date, packed, rows): (NaiveDate, Vec<ColumnBuilder>, u32),
) -> (NaiveDate, ColumnBatch) {
    let batch = ColumnBatch {
        row_count: rows,
        columns: packed.into_iter().map(ColumnBuilder::finish).collect(),
    };
    (date, batch)
}

impl InputSource for PostgresStore {
    fn select(&self, span: TableSpan<'_>, names: Option<&[String]>) -> Result<RowSet, InputError> {
        self.with_client(|client| Ok(select_in(client, span, names)))
            .map_err(storage)?
    }

    fn read_column_batch(
        &self,
        span: TableSpan<'_>,
        columns: &[String],
    ) -> Result<ColumnBatch, InputError> {
        self.read_coded_column_batch(span, columns, &[])
            .map(|read| read.batch)
    }

    fn read_coded_column_batch(
        &self,
        span: TableSpan<'_>,
        columns: &[String],
        coded: &[String],
    ) -> Result<CodedColumnBatch, InputError> {
        self.with_client(|client| Ok(self.cached_batch_in(client, span, columns, coded)))
            .map_err(storage)?
    }
}

impl Tables for PostgresStore {
    fn check_names(&self, table: &TableName, schema: &TableSchema) -> Result<(), StoreError> {
        names_kept(table, schema)
    }

    fn ensure_table(&self, table: &TableName, schema: &TableSchema) -> Result<(), StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            lock_table(&mut transaction, table)?;
            match schema_in(&mut transaction, table)? {
                Some(live) => {
                    let recorded = owner_in(&mut transaction, table)?;
                    if ownership::adopt_as_raw_input(table, recorded.as_ref())? {
                        record_owner(&mut transaction, table, &TableOwner::RawInput)?;
                    }
                    migrate_in(&mut transaction, table, &live, schema)?;
                    constrain_as_raw_input(&mut transaction, table, schema)?;
                }
                None => create_in(&mut transaction, table, schema, Some(&TableOwner::RawInput))?,
            }
            transaction.commit()?;
            Ok(())
        })
    }

    fn check_output_table(
        &self,
        table: &TableName,
        schema: &TableSchema,
    ) -> Result<(), StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            lock_table(&mut transaction, table)?;
            if let Some(live) = schema_in(&mut transaction, table)? {
                migrate_in(&mut transaction, table, &live, schema)?;
            }
            transaction.commit()?;
            Ok(())
        })
    }

    fn table_owners(&self) -> Result<Vec<OwnedTable>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                "SELECT table_name, owner_kind, owner_name, COALESCE(owner_since, created_at)
                 FROM _slate.tables WHERE owner_kind IS NOT NULL ORDER BY table_name",
                &[],
            )?)
        })?;
        rows.iter()
            .map(|row| {
                Ok(OwnedTable {
                    table: stored_table_name(row.get(0))?,
                    owner: stored_owner(row.get(1), row.get(2))?,
                    since: row.get(3),
                })
            })
            .collect()
    }

    fn table_owner(&self, table: &TableName) -> Result<Option<TableOwner>, StoreError> {
        self.with_client(|client| owner_in(client, table))
    }

    fn drop_table(&self, table: &TableName) -> Result<bool, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            lock_table(&mut transaction, table)?;
            if schema_in(&mut transaction, table)?.is_none() {
                return Ok(false);
            }
            transaction.batch_execute(&format!("DROP TABLE IF EXISTS {}", sql_name(table)))?;
            transaction.execute(
                "DELETE FROM _slate.tables WHERE table_name = $1",
                &[&table.to_string()],
            )?;
            transaction.execute(
                "DELETE FROM _slate.partition_versions WHERE table_name = $1",
                &[&table.to_string()],
            )?;
            transaction.commit()?;
            Ok(true)
        })
    }

    fn transfer_table(
        &self,
        table: &TableName,
        to: &TableOwner,
        by: &str,
    ) -> Result<Transfer, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            lock_table(&mut transaction, table)?;
            let Some(schema) = schema_in(&mut transaction, table)? else {
                return Err(StoreError::NoSuchTable(table.clone()));
            };
            if *to == TableOwner::RawInput {
                constrain_as_raw_input(&mut transaction, table, &schema)?;
            }
            let transfer = Transfer::new(table, owner_in(&mut transaction, table)?, to, by);
            record_owner(&mut transaction, table, to)?;
            transaction.execute(
                "INSERT INTO _slate.table_transfers (table_name, from_kind, from_name, to_kind,
                     to_name, transferred_at, transferred_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &table.to_string(),
                    &transfer.from.as_ref().map(TableOwner::kind),
                    &transfer.from.as_ref().and_then(TableOwner::processor),
                    &to.kind(),
                    &to.processor(),
                    &transfer.at,
                    &by,
                ],
            )?;
            transaction.commit()?;
            Ok(transfer)
        })
    }

    fn table_transfers(&self) -> Result<Vec<Transfer>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                "SELECT table_name, from_kind, from_name, to_kind, to_name, transferred_at,
                        transferred_by
                 FROM _slate.table_transfers ORDER BY transferred_at, transfer_id",
                &[],
            )?)
        })?;
        rows.iter()
            .map(|row| {
                let from_kind: Option<&str> = row.get(1);
                Ok(Transfer {
                    table: stored_table_name(row.get(0))?,
                    from: from_kind
                        .map(|kind| stored_owner(kind, row.get(2)))
                        .transpose()?,
                    to: stored_owner(row.get(3), row.get(4))?,
                    at: row.get::<_, DateTime<Utc>>(5),
                    by: row.get(6),
                })
            })
            .collect()
    }

    fn table_schema(&self, table: &TableName) -> Result<Option<TableSchema>, StoreError> {
        self.with_client(|client| schema_in(client, table))
    }

    fn replace_partitions(
        &self,
        table: &TableName,
        dates: &[NaiveDate],
        rows: &RowSet,
    ) -> Result<usize, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            let schema = schema_in(&mut transaction, table)?
                .ok_or_else(|| StoreError::NoSuchTable(table.clone()))?;
            let written = replace_in(&mut transaction, table, &schema, dates, rows)?;
            transaction.commit()?;
            Ok(written)
        })
    }

    fn partition_counts_within(
        &self,
        table: &TableName,
        dates: Option<RangeInclusive<NaiveDate>>,
    ) -> Result<PartitionCounts, StoreError> {
        self.with_client(|client| {
            let schema =
                schema_in(client, table)?.ok_or_else(|| StoreError::NoSuchTable(table.clone()))?;
            let partition = quote(&schema.partition_column);
            let (first, last) = dates.clone().map(|d| (*d.start(), *d.end())).unzip();
            let rows = client.query(
                &format!(
                    "SELECT {partition}, COUNT(*) FROM {} WHERE {partition} IS NOT NULL
                       AND ($1::DATE IS NULL OR {partition} >= $1)
                       AND ($2::DATE IS NULL OR {partition} <= $2)
                     GROUP BY {partition} ORDER BY {partition}",
                    sql_name(table)
                ),
                &[&first, &last],
            )?;
            Ok(rows
                .iter()
                .map(|row| (row.get::<_, NaiveDate>(0), row.get::<_, i64>(1) as u64))
                .collect())
        })
    }

    fn rows_on(&self, table: &TableName, date: NaiveDate) -> Result<u64, StoreError> {
        self.with_client(|client| {
            let Some(schema) = schema_in(client, table)? else {
                return Ok(0);
            };
            let row = client.query_one(
                &format!(
                    "SELECT COUNT(*) FROM {} WHERE {} = $1",
                    sql_name(table),
                    quote(&schema.partition_column)
                ),
                &[&date],
            )?;
            Ok(row.get::<_, i64>(0) as u64)
        })
    }
}
