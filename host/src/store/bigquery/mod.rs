//! The BigQuery backend: output tables, run history and quarantine in
//! BigQuery, through gcp-bigquery-client.
//!
//! - **Tables** are created from the plugin schemas if missing, partitioned
//!   by day on the partition column. Drift is handled as everywhere
//!   ([`crate::drift`]): new NULLABLE columns are added, the rest refused.
//! - **Per-date atomic replace.** The rows load into a fresh staging table
//!   (a multipart upload of newline-delimited JSON, so a bad row fails the
//!   load job with its `errors[]` and leaves the target untouched). One
//!   multi-statement transaction then marks the run `success`, checks that
//!   it still held its claim, deletes the date's rows, inserts the staged
//!   rows and the quarantined ones, and commits; any failure rolls it all
//!   back. A rerun never duplicates rows, and a failed load leaves the
//!   previous rows intact.
//! - **Run history** lives in `<history dataset>.processor_run_history`.
//!   A claim is a conditional `INSERT ... SELECT` that adds a `running` row
//!   only if none exists for (processor, date); BigQuery may run two such
//!   INSERTs concurrently, so the claimant then re-reads the running rows
//!   and keeps the claim only if it is the earliest (by start time, then
//!   run id), withdrawing its row otherwise. Reaping tags the rows it fails
//!   with a fresh token in one `UPDATE`, then reads back exactly those.
//! - Every call is retried when the failure is transient.
//!
//! The store's methods are synchronous, like the rest of the host; each
//! runs its calls on the store's own tokio runtime.

pub mod api;
mod auth;
mod history;
mod retry;
mod values;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use gcp_bigquery_client::model::table::Table;
use gcp_bigquery_client::model::time_partitioning::TimePartitioning;

pub use auth::Credentials;
pub use retry::RetryPolicy;

use self::api::{Api, ApiError, Param};
use self::history::{
    QUARANTINE, RUN_HISTORY, TABLE_OWNERS, TABLE_TRANSFERS, quarantine_columns,
    quarantine_from_cells, quarantine_schema, run_columns, run_from_cells, run_history_schema,
    string_literal, table_owners_schema, table_transfers_schema, timestamp_literal,
    timestamp_param,
};
use self::values::{push_ndjson_row, schema_fields, schema_of_table, value_from_cell};
use super::{PartitionCounts, RunOutput, Store, StoreError, stored_owner, stored_table_name};
use crate::drift;
use crate::ownership::{self, Claimant, HostOwned, OwnedTable, TableOwner, Transfer};
use crate::quarantine::{self, QuarantineRecord};
use crate::rows::RowSet;
use crate::runs::{NewRun, RunEnd, RunFilter, RunRecord, RunStatus, new_run_id};
use crate::schema::{TableName, TableSchema};
use crate::store::input::{InputError, InputSource, selected_columns};

/// BigQuery's own endpoint.
pub const GOOGLE_ENDPOINT: &str = "https://bigquery.googleapis.com";

/// Where and how to reach BigQuery.
#[derive(Debug, Clone, PartialEq)]
pub struct BigQueryConfig {
    /// The project that runs the jobs and holds the datasets.
    pub project: String,
    /// The API's base address: [`GOOGLE_ENDPOINT`] or an emulator's.
    pub endpoint: String,
    /// Where datasets are created and jobs run, e.g. `US`.
    pub location: Option<String>,
    /// Where credentials come from.
    pub credentials: Credentials,
    /// Put before every dataset name (e.g. `dev_`), to keep environments apart.
    pub dataset_prefix: String,
    /// The dataset of run history and quarantine (before the prefix).
    pub history_dataset: String,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
}

impl BigQueryConfig {
    /// Production BigQuery in `project`, with Application Default
    /// Credentials and run history in `nba_reference`.
    pub fn new(project: &str) -> Self {
        BigQueryConfig {
            project: project.to_string(),
            endpoint: GOOGLE_ENDPOINT.to_string(),
            location: None,
            credentials: Credentials::ApplicationDefault,
            dataset_prefix: String::new(),
            history_dataset: "nba_reference".to_string(),
            retry: RetryPolicy::default(),
        }
    }

    /// An emulator at `endpoint` (e.g. `http://127.0.0.1:9050`), no credentials.
    pub fn emulator(endpoint: &str, project: &str) -> Self {
        BigQueryConfig {
            endpoint: endpoint.to_string(),
            credentials: Credentials::Emulator,
            ..BigQueryConfig::new(project)
        }
    }
}

/// Tables, run history and quarantine in BigQuery.
pub struct BigQueryStore {
    api: Api,
    runtime: tokio::runtime::Runtime,
    prefix: String,
    history_dataset: String,
    /// Live schemas already checked or created by this store. BigQuery
    /// tables change only by additive migration, made here.
    schemas: Mutex<HashMap<TableName, Arc<TableSchema>>>,
}

/// What a commit script says when it finds its run no longer running (for
/// people reading the job's error; the host reads the run's state).
const NOT_RUNNING: &str = "slate: the run is no longer running:";

/// The name of every staging table starts with this, then a UUIDv7 whose
/// timestamp says when it was made.
pub const STAGING_PREFIX: &str = "_slate_staging_";

/// When BigQuery itself deletes a staging table that nobody dropped.
const STAGING_EXPIRY: Duration = Duration::from_secs(24 * 3600);

/// How old a staging table must be before the sweep drops it: far longer
/// than any commit holds one.
pub const STAGING_MAX_AGE: Duration = Duration::from_secs(3600);

/// When a staging table was made, from the UUIDv7 in its name.
pub fn staging_made_at(table: &str) -> Option<DateTime<Utc>> {
    let id = uuid::Uuid::parse_str(table.strip_prefix(STAGING_PREFIX)?).ok()?;
    let (seconds, nanos) = id.get_timestamp()?.to_unix();
    DateTime::from_timestamp(i64::try_from(seconds).ok()?, nanos)
}

/// What a commit script says when it finds its table owned by another
/// processor (for people; the host reads the recorded owner).
const NOT_OWNER: &str = "slate: another processor owns";

fn backend(error: ApiError) -> StoreError {
    StoreError::backend(error)
}

impl BigQueryStore {
    /// Connects, and creates the run history and quarantine tables if missing.
    pub fn connect(config: &BigQueryConfig) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("slate-bigquery")
            .enable_all()
            .build()
            .map_err(|e| StoreError::backend(format!("cannot start the BigQuery runtime: {e}")))?;
        let api = runtime
            .block_on(async {
                let auth = auth::authenticator(&config.credentials).await?;
                Api::connect(
                    &config.endpoint,
                    &config.project,
                    config.location.clone(),
                    auth,
                    config.retry,
                )
                .await
            })
            .map_err(|e| StoreError::backend(format!("cannot reach BigQuery: {e}")))?;
        let store = BigQueryStore {
            api,
            runtime,
            prefix: config.dataset_prefix.clone(),
            history_dataset: config.history_dataset.clone(),
            schemas: Mutex::new(HashMap::new()),
        };
        for (table, schema) in [
            (RUN_HISTORY, run_history_schema()),
            (QUARANTINE, quarantine_schema()),
            (TABLE_OWNERS, table_owners_schema()),
            (TABLE_TRANSFERS, table_transfers_schema()),
        ] {
            store.ensure_schema(&store.history_table(table), &schema, true)?;
        }
        Ok(store)
    }

    fn history_table(&self, table: &str) -> TableName {
        TableName::new(&self.history_dataset, table)
    }

    /// The BigQuery dataset of a Slate table.
    fn dataset(&self, table: &TableName) -> String {
        format!("{}{}", self.prefix, table.dataset)
    }

    /// A table as quoted in GoogleSQL.
    fn sql_name(&self, table: &TableName) -> String {
        format!("`{}.{}`", self.dataset(table), table.table)
    }

    fn runs_table(&self) -> String {
        self.sql_name(&self.history_table(RUN_HISTORY))
    }

    /// Runs `future` on the store's runtime, from any thread: directly, or
    /// from a helper thread when the caller is itself inside a runtime.
    fn block<T: Send>(&self, future: impl std::future::Future<Output = T> + Send) -> T {
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|scope| {
                scope
                    .spawn(|| self.runtime.block_on(future))
                    .join()
                    .expect("a BigQuery call panicked")
            })
        } else {
            self.runtime.block_on(future)
        }
    }

    fn cached(&self, table: &TableName) -> Option<Arc<TableSchema>> {
        self.schemas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(table)
            .cloned()
    }

    fn forget(&self, table: &TableName) {
        self.schemas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(table);
    }

    fn remember(&self, table: &TableName, schema: TableSchema) -> Arc<TableSchema> {
        let schema = Arc::new(schema);
        self.schemas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(table.clone(), schema.clone());
        schema
    }

    /// The live schema of `table`, or `None` when it does not exist.
    fn live_schema(&self, table: &TableName) -> Result<Option<Arc<TableSchema>>, StoreError> {
        if let Some(schema) = self.cached(table) {
            return Ok(Some(schema));
        }
        let found = self
            .block(self.api.get_table(&self.dataset(table), &table.table))
            .map_err(backend)?;
        let Some(live) = found else { return Ok(None) };
        let schema =
            schema_of_table(&live).map_err(|e| StoreError::Schema(format!("{table}: {e}")))?;
        Ok(Some(self.remember(table, schema)))
    }

    /// Creates `table` from `schema` if it does not exist and `create` is
    /// set, or migrates the live table additively ([`drift`]); refuses any
    /// other change. Records nothing about ownership.
    fn ensure_schema(
        &self,
        table: &TableName,
        schema: &TableSchema,
        create: bool,
    ) -> Result<(), StoreError> {
        if let Some(live) = self.cached(table)
            && drift::plan(table, &live, schema)?.is_empty()
        {
            return Ok(());
        }
        let dataset = self.dataset(table);
        self.block(self.api.ensure_dataset(&dataset))
            .map_err(backend)?;
        let live = match self.live_schema(table)? {
            Some(live) => live,
            None if !create => return Ok(()),
            None => {
                let mut new = Table::new(
                    self.api.project(),
                    &dataset,
                    &table.table,
                    values::bq_schema(&schema.columns),
                );
                new.time_partitioning =
                    Some(TimePartitioning::per_day().field(&schema.partition_column));
                let created = self.block(self.api.create_table(new)).map_err(backend)?;
                if created {
                    tracing::info!(%table, "created the table");
                    self.remember(table, schema.clone());
                    return Ok(());
                }
                // Another host created it first: check it like any live table.
                self.live_schema(table)?
                    .ok_or_else(|| StoreError::NoSuchTable(table.clone()))?
            }
        };
        let migration = drift::plan(table, &live, schema)?;
        if !migration.is_empty() {
            self.block(self.api.add_columns(
                &dataset,
                &table.table,
                schema_fields(&live.columns),
                schema_fields(&migration.added),
            ))
            .map_err(backend)?;
            tracing::info!(
                %table,
                added = ?migration.added.iter().map(|c| &c.name).collect::<Vec<_>>(),
                "added new NULLABLE columns to the live table"
            );
        }
        self.remember(table, migration.apply(&live, schema));
        Ok(())
    }

    fn query(&self, sql: &str, params: &[(&str, Param)]) -> Result<api::QueryResult, StoreError> {
        self.block(self.api.query(sql, params)).map_err(backend)
    }

    /// Loads `rows` into a new staging table next to `table` and returns
    /// its name; the caller deletes it.
    fn stage(
        &self,
        table: &TableName,
        schema: &TableSchema,
        rows: &RowSet,
    ) -> Result<TableName, StoreError> {
        if let Some(unknown) = rows.columns.iter().find(|c| schema.index_of(c).is_none()) {
            return Err(StoreError::Schema(format!(
                "{table} has no column `{unknown}`"
            )));
        }
        let staging = TableName::new(
            &table.dataset,
            &format!("{STAGING_PREFIX}{}", uuid::Uuid::now_v7().simple()),
        );
        // Created first so that it carries an expiration: the backstop for a
        // host killed before it drops the table, besides the reaper's sweep.
        let mut new = Table::new(
            self.api.project(),
            &self.dataset(&staging),
            &staging.table,
            values::bq_schema(&schema.columns),
        );
        new = new.expiration_time(std::time::SystemTime::now() + STAGING_EXPIRY);
        self.block(self.api.create_table(new)).map_err(backend)?;
        let mut ndjson = Vec::with_capacity(rows.rows.len() * 256);
        for row in &rows.rows {
            push_ndjson_row(&rows.columns, row, &mut ndjson);
        }
        let loaded = self.block(self.api.load_ndjson(
            &self.dataset(&staging),
            &staging.table,
            &schema_fields(&schema.columns),
            rows.rows.len(),
            ndjson,
        ));
        if let Err(error) = loaded {
            if let ApiError::Load { errors, .. } = &error {
                for job_error in errors {
                    tracing::error!(%table, "load job error: {job_error}");
                }
            }
            self.drop_staging(&staging);
            return Err(backend(error));
        }
        Ok(staging)
    }

    fn drop_staging(&self, staging: &TableName) {
        let dropped = self.block(
            self.api
                .delete_table(&self.dataset(staging), &staging.table),
        );
        if let Err(error) = dropped {
            tracing::warn!(%staging, "could not drop a staging table: {error}");
        }
    }

    /// `INSERT INTO table (columns) SELECT columns FROM staging`.
    fn insert_from(&self, table: &TableName, staging: &TableName, schema: &TableSchema) -> String {
        let columns: Vec<String> = schema
            .columns
            .iter()
            .map(|c| format!("`{}`", c.name))
            .collect();
        let columns = columns.join(", ");
        format!(
            "INSERT INTO {} ({columns}) SELECT {columns} FROM {};",
            self.sql_name(table),
            self.sql_name(staging)
        )
    }

    /// `DELETE` of the given dates' rows.
    fn delete_dates(&self, table: &TableName, schema: &TableSchema, dates: &[NaiveDate]) -> String {
        let dates: Vec<String> = dates.iter().map(|d| format!("DATE '{d}'")).collect();
        format!(
            "DELETE FROM {} WHERE `{}` IN ({});",
            self.sql_name(table),
            schema.partition_column,
            dates.join(", ")
        )
    }

    /// Recorded table owners matching `clause`.
    fn select_owners(
        &self,
        clause: &str,
        params: &[(&str, Param)],
    ) -> Result<Vec<OwnedTable>, StoreError> {
        let result = self.query(
            &format!(
                "SELECT table_name, owner_kind, owner_name, owner_since FROM {} {clause}
                 ORDER BY table_name",
                self.sql_name(&self.history_table(TABLE_OWNERS))
            ),
            params,
        )?;
        let schema = table_owners_schema();
        result
            .rows
            .iter()
            .map(|cells| {
                let since =
                    value_from_cell(&schema.columns[3], cells.get(3).and_then(Option::as_ref))
                        .map_err(StoreError::backend)?;
                Ok(OwnedTable {
                    table: stored_table_name(text_cell(cells, 0).unwrap_or_default())?,
                    owner: stored_owner(
                        text_cell(cells, 1).unwrap_or_default(),
                        text_cell(cells, 2),
                    )?,
                    since: timestamp_of(&since)?,
                })
            })
            .collect()
    }

    /// Records `owner` for `table` unless an owner is recorded already.
    fn record_owner(&self, table: &TableName, owner: &TableOwner) -> Result<(), StoreError> {
        self.query(
            &format!("{};", self.insert_owner_if_none(table, owner)),
            &[],
        )?;
        Ok(())
    }

    /// The statement that records `owner` for `table` when none is recorded.
    fn insert_owner_if_none(&self, table: &TableName, owner: &TableOwner) -> String {
        let now = timestamp_literal(Utc::now());
        format!(
            "INSERT INTO {owners} (table_name, owner_kind, owner_name, owner_since, recorded_on)
             SELECT {name}, {kind}, {processor}, {now}, DATE({now}) FROM UNNEST([1])
             WHERE NOT EXISTS (SELECT 1 FROM {owners} WHERE table_name = {name})",
            owners = self.sql_name(&self.history_table(TABLE_OWNERS)),
            name = string_literal(&table.to_string()),
            kind = string_literal(owner.kind()),
            processor = owner.processor().map_or("NULL".to_string(), string_literal),
        )
    }

    /// The running runs of (processor, date), earliest claim first.
    fn running_claims(
        &self,
        processor: &str,
        date: NaiveDate,
    ) -> Result<Vec<RunRecord>, StoreError> {
        self.select_runs(
            "WHERE processor_name = @processor AND data_date = @date AND status = 'running' \
             ORDER BY started_at, run_id",
            &[
                ("processor", Param::String(processor.to_string())),
                ("date", Param::Date(date)),
            ],
        )
    }

    fn select_runs(
        &self,
        clause: &str,
        params: &[(&str, Param)],
    ) -> Result<Vec<RunRecord>, StoreError> {
        let result = self.query(
            &format!(
                "SELECT {} FROM {} {clause}",
                run_columns(),
                self.runs_table()
            ),
            params,
        )?;
        result
            .rows
            .iter()
            .map(|cells| run_from_cells(cells).map_err(StoreError::backend))
            .collect()
    }
}

impl BigQueryStore {
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
        let schema = self
            .live_schema(table)
            .map_err(storage)?
            .ok_or_else(|| InputError::UnknownTable(table.clone()))?;
        let columns = selected_columns(table, &schema, names)?;
        let selected: Vec<String> = columns.iter().map(|c| format!("`{}`", c.name)).collect();
        let result = self
            .query(
                &format!(
                    "SELECT {} FROM {} WHERE `{p}` BETWEEN @start AND @end ORDER BY `{p}`",
                    selected.join(", "),
                    self.sql_name(table),
                    p = schema.partition_column
                ),
                &[("start", Param::Date(start)), ("end", Param::Date(end))],
            )
            .map_err(storage)?;
        let mut rows = Vec::with_capacity(result.rows.len());
        for (index, cells) in result.rows.iter().enumerate() {
            let row = columns
                .iter()
                .enumerate()
                .map(|(i, column)| {
                    value_from_cell(column, cells.get(i).and_then(Option::as_ref)).map_err(|e| {
                        InputError::Storage(format!(
                            "{table} row {index}, column `{}`: {e}",
                            column.name
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            rows.push(row);
        }
        Ok(RowSet {
            columns: columns.iter().map(|c| c.name.clone()).collect(),
            rows,
        })
    }
}

impl InputSource for BigQueryStore {
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
}

impl Store for BigQueryStore {
    fn ensure_table(&self, table: &TableName, schema: &TableSchema) -> Result<(), StoreError> {
        self.ensure_schema(table, schema, true)
    }

    fn record_raw_input(&self, table: &TableName) -> Result<(), StoreError> {
        if self.live_schema(table)?.is_none() {
            return Err(StoreError::NoSuchTable(table.clone()));
        }
        let recorded = self.table_owner(table)?;
        if ownership::adopt_as_raw_input(table, recorded.as_ref()).map_err(StoreError::Schema)? {
            self.record_owner(table, &TableOwner::RawInput)?;
        }
        Ok(())
    }

    fn check_output_table(
        &self,
        table: &TableName,
        schema: &TableSchema,
    ) -> Result<(), StoreError> {
        self.ensure_schema(table, schema, false)
    }

    fn host_owned(&self) -> HostOwned {
        HostOwned {
            datasets: vec![self.history_dataset.clone()],
        }
    }

    fn sweep_staging(&self, now: DateTime<Utc>) -> Result<Vec<TableName>, StoreError> {
        let cutoff = now - chrono::Duration::from_std(STAGING_MAX_AGE).unwrap_or_default();
        // Staging tables sit beside the tables they load: every owned
        // table's dataset, and the history dataset (quarantine).
        let mut datasets: std::collections::BTreeSet<String> = self
            .table_owners()?
            .into_iter()
            .map(|owned| owned.table.dataset)
            .collect();
        datasets.insert(self.history_dataset.clone());
        let mut dropped = Vec::new();
        for dataset in datasets {
            let names = self
                .block(self.api.list_tables(&format!("{}{dataset}", self.prefix)))
                .map_err(backend)?;
            for name in names {
                if staging_made_at(&name).is_some_and(|made| made < cutoff) {
                    let staging = TableName::new(&dataset, &name);
                    self.block(self.api.delete_table(&self.dataset(&staging), &name))
                        .map_err(backend)?;
                    self.forget(&staging);
                    tracing::info!(%staging, "dropped a staging table a killed run left");
                    dropped.push(staging);
                }
            }
        }
        Ok(dropped)
    }

    fn table_owners(&self) -> Result<Vec<OwnedTable>, StoreError> {
        self.select_owners("", &[])
    }

    fn table_owner(&self, table: &TableName) -> Result<Option<TableOwner>, StoreError> {
        Ok(self
            .select_owners(
                "WHERE table_name = @table",
                &[("table", Param::String(table.to_string()))],
            )?
            .into_iter()
            .next()
            .map(|owned| owned.owner))
    }

    fn transfer_table(
        &self,
        table: &TableName,
        to: &TableOwner,
        by: &str,
    ) -> Result<Transfer, StoreError> {
        if self.live_schema(table)?.is_none() {
            return Err(StoreError::NoSuchTable(table.clone()));
        }
        let from = self.table_owner(table)?;
        let at = super::now_to_the_microsecond();
        let owner_name = |owner: Option<&TableOwner>| {
            owner
                .and_then(TableOwner::processor)
                .map_or("NULL".to_string(), string_literal)
        };
        let script = format!(
            "BEGIN TRANSACTION;
             DELETE FROM {owners} WHERE table_name = {name};
             INSERT INTO {owners} (table_name, owner_kind, owner_name, owner_since, recorded_on)
                 VALUES ({name}, {to_kind}, {to_name}, {at}, DATE({at}));
             INSERT INTO {transfers} (table_name, from_kind, from_name, to_kind, to_name,
                     transferred_at, transferred_by, transferred_on)
                 VALUES ({name}, {from_kind}, {from_name}, {to_kind}, {to_name}, {at},
                     {by}, DATE({at}));
             COMMIT TRANSACTION;",
            owners = self.sql_name(&self.history_table(TABLE_OWNERS)),
            transfers = self.sql_name(&self.history_table(TABLE_TRANSFERS)),
            name = string_literal(&table.to_string()),
            to_kind = string_literal(to.kind()),
            to_name = owner_name(Some(to)),
            from_kind = from
                .as_ref()
                .map_or("NULL".to_string(), |f| string_literal(f.kind())),
            from_name = owner_name(from.as_ref()),
            at = timestamp_literal(at),
            by = string_literal(by),
        );
        self.query(&script, &[])?;
        Ok(Transfer {
            table: table.clone(),
            from,
            to: to.clone(),
            at,
            by: by.to_string(),
        })
    }

    fn table_transfers(&self) -> Result<Vec<Transfer>, StoreError> {
        let result = self.query(
            &format!(
                "SELECT table_name, from_kind, from_name, to_kind, to_name, transferred_at,
                     transferred_by
                 FROM {} ORDER BY transferred_at",
                self.sql_name(&self.history_table(TABLE_TRANSFERS))
            ),
            &[],
        )?;
        let schema = table_transfers_schema();
        result
            .rows
            .iter()
            .map(|cells| {
                let text = |i: usize| text_cell(cells, i).map(str::to_string);
                let owner = |kind: Option<String>, name: Option<String>| {
                    kind.map(|kind| stored_owner(&kind, name.as_deref()))
                        .transpose()
                };
                let at = value_from_cell(&schema.columns[5], cells.get(5).and_then(Option::as_ref))
                    .map_err(StoreError::backend)?;
                Ok(Transfer {
                    table: stored_table_name(text_cell(cells, 0).unwrap_or_default())?,
                    from: owner(text(1), text(2))?,
                    to: owner(text(3), text(4))?
                        .ok_or_else(|| StoreError::backend("a transfer without an owner"))?,
                    at: timestamp_of(&at)?,
                    by: text(6).unwrap_or_default(),
                })
            })
            .collect()
    }

    fn table_schema(&self, table: &TableName) -> Result<Option<TableSchema>, StoreError> {
        Ok(self.live_schema(table)?.map(|s| s.as_ref().clone()))
    }

    fn replace_partitions(
        &self,
        table: &TableName,
        dates: &[NaiveDate],
        rows: &RowSet,
    ) -> Result<usize, StoreError> {
        let schema = self
            .live_schema(table)?
            .ok_or_else(|| StoreError::NoSuchTable(table.clone()))?;
        let staging = if rows.rows.is_empty() {
            None
        } else {
            Some(self.stage(table, &schema, rows)?)
        };
        let mut script = String::from("BEGIN TRANSACTION;\n");
        if !dates.is_empty() {
            script.push_str(&self.delete_dates(table, &schema, dates));
        }
        if let Some(staging) = &staging {
            script.push_str(&self.insert_from(table, staging, &schema));
        }
        script.push_str("\nCOMMIT TRANSACTION;");
        let result = self.query(&script, &[]);
        if let Some(staging) = &staging {
            self.drop_staging(staging);
        }
        result.map(|_| rows.rows.len())
    }

    fn partition_counts(&self, table: &TableName) -> Result<PartitionCounts, StoreError> {
        let schema = self
            .live_schema(table)?
            .ok_or_else(|| StoreError::NoSuchTable(table.clone()))?;
        let result = self.query(
            &format!(
                "SELECT `{p}`, COUNT(*) FROM {} GROUP BY `{p}` ORDER BY `{p}`",
                self.sql_name(table),
                p = schema.partition_column
            ),
            &[],
        )?;
        result
            .rows
            .iter()
            .map(|cells| {
                let date =
                    text_cell(cells, 0).and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok());
                let count = text_cell(cells, 1).and_then(|t| t.parse().ok());
                date.zip(count).ok_or_else(|| {
                    StoreError::backend(format!("unreadable partition count of {table}: {cells:?}"))
                })
            })
            .collect()
    }

    fn start_run(&self, run: &NewRun) -> Result<RunRecord, StoreError> {
        let run_id = new_run_id();
        let now = Utc::now();
        let lease = chrono::Duration::from_std(run.lease).unwrap_or(chrono::Duration::MAX);
        let inserted = self.query(
            &format!(
                "INSERT INTO {h} (processor_name, run_id, data_date, attempt, status, started_at,
                     heartbeat_at, lease_expires_at, rows_read, rows_written, host_id, plugin_hash,
                     trigger_source)
                 SELECT @processor, @run_id, @date, COALESCE(MAX(attempt), 0) + 1, 'running', @now,
                     @now, @lease, 0, 0, @host, @hash, @trigger
                 FROM {h} WHERE processor_name = @processor AND data_date = @date
                 HAVING COALESCE(SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END), 0) = 0",
                h = self.runs_table()
            ),
            &[
                ("processor", Param::String(run.processor.clone())),
                ("run_id", Param::String(run_id.clone())),
                ("date", Param::Date(run.data_date)),
                ("now", Param::Timestamp(now)),
                ("lease", Param::Timestamp(now + lease)),
                ("host", Param::String(run.host_id.clone())),
                ("hash", Param::String(run.plugin_hash.clone())),
                ("trigger", Param::String(run.trigger.as_str().to_string())),
            ],
        )?;
        let claims = self.running_claims(&run.processor, run.data_date)?;
        let first = claims.first();
        if inserted.dml_affected == Some(1) && first.is_some_and(|c| c.run_id == run_id) {
            return Ok(first.cloned().expect("the first claim"));
        }
        if inserted.dml_affected == Some(1) {
            // Two INSERTs ran at once; the earlier claim wins, so withdraw ours.
            self.query(
                &format!("DELETE FROM {} WHERE run_id = @run_id", self.runs_table()),
                &[("run_id", Param::String(run_id.clone()))],
            )?;
        }
        let holder = claims.into_iter().find(|c| c.run_id != run_id);
        Err(StoreError::AlreadyRunning {
            run_id: holder
                .as_ref()
                .map(|h| h.run_id.clone())
                .unwrap_or_default(),
            started_at: holder.map(|h| h.started_at).unwrap_or_default(),
        })
    }

    fn commit_run(&self, run_id: &str, output: &RunOutput<'_>) -> Result<usize, StoreError> {
        let owner = TableOwner::Processor(output.processor.to_string());
        let claimant = Claimant {
            name: output.processor,
            output: output.table,
            inputs: &[],
        };
        let recorded = self.table_owner(output.table)?;
        ownership::decide(claimant, recorded.as_ref(), &self.host_owned())?;
        // The first commit creates the table: a failed run leaves none.
        self.ensure_schema(output.table, output.schema, true)?;
        let schema = self
            .live_schema(output.table)?
            .ok_or_else(|| StoreError::NoSuchTable(output.table.clone()))?;
        let staged_rows = if output.rows.rows.is_empty() {
            None
        } else {
            Some(self.stage(output.table, &schema, output.rows)?)
        };
        let now = Utc::now();
        let quarantine_table = self.history_table(QUARANTINE);
        let record = if output.quarantined.is_empty() {
            None
        } else {
            self.run(run_id)?
        };
        let staged_quarantine = match &record {
            Some(record) => {
                let rows = quarantine_rows(record, output, now);
                match self.stage(&quarantine_table, &quarantine_schema(), &rows) {
                    Ok(staging) => Some(staging),
                    Err(error) => {
                        if let Some(staging) = &staged_rows {
                            self.drop_staging(staging);
                        }
                        return Err(error);
                    }
                }
            }
            None => None,
        };
        let written = output.rows.rows.len();
        let run = string_literal(run_id);
        let mut script = format!(
            "BEGIN TRANSACTION;
             UPDATE {h} SET status = 'success', finished_at = {now}, heartbeat_at = {now},
                 duration_ms = TIMESTAMP_DIFF({now}, started_at, MILLISECOND),
                 rows_read = {rows_read}, rows_written = {written}, reason = {reason},
                 log_lines_dropped = {dropped}
             WHERE run_id = {run} AND status = 'running';
             SELECT IF((SELECT COUNT(*) FROM {h} WHERE run_id = {run} AND status = 'success'
                 AND finished_at = {now}) = 1, 1, ERROR({marker}));
             {claim_owner};
             SELECT IF((SELECT COUNT(*) FROM {owners} WHERE table_name = {table}
                 AND NOT (owner_kind = 'processor' AND owner_name = {processor})) = 0,
                 1, ERROR({owner_marker}));
             {delete}\n",
            claim_owner = self.insert_owner_if_none(output.table, &owner),
            owners = self.sql_name(&self.history_table(TABLE_OWNERS)),
            table = string_literal(&output.table.to_string()),
            processor = string_literal(output.processor),
            owner_marker = string_literal(&format!("{NOT_OWNER} {}", output.table)),
            h = self.runs_table(),
            now = timestamp_literal(now),
            rows_read = output.rows_read,
            dropped = output.log_lines_dropped,
            reason = string_literal(&quarantine::commit_reason(
                written,
                output.quarantined.len(),
                run_id
            )),
            marker = string_literal(&format!("{NOT_RUNNING} {run_id}")),
            delete = self.delete_dates(output.table, &schema, &[output.date]),
        );
        if let Some(staging) = &staged_rows {
            script.push_str(&self.insert_from(output.table, staging, &schema));
        }
        if let Some(staging) = &staged_quarantine {
            script.push_str(&self.insert_from(&quarantine_table, staging, &quarantine_schema()));
        }
        script.push_str("\nCOMMIT TRANSACTION;");
        let committed = self.query(&script, &[]);
        for staging in staged_rows.iter().chain(&staged_quarantine) {
            self.drop_staging(staging);
        }
        let Err(error) = committed else {
            return Ok(written);
        };
        // The script's guards roll it back whole when the claim was lost or
        // another processor took the table meanwhile. Which one it was is
        // read from the state they guard, never from the error's text.
        let lost = self
            .run(run_id)?
            .is_none_or(|record| record.status != RunStatus::Running);
        if lost {
            return Err(StoreError::NotRunning(run_id.to_string()));
        }
        let recorded = self.table_owner(output.table)?;
        ownership::decide(claimant, recorded.as_ref(), &self.host_owned())?;
        Err(error)
    }

    fn quarantined(&self, run_id: Option<&str>) -> Result<Vec<QuarantineRecord>, StoreError> {
        let (clause, params) = match run_id {
            Some(run_id) => (
                "WHERE run_id = @run_id",
                vec![("run_id", Param::String(run_id.to_string()))],
            ),
            None => ("", Vec::new()),
        };
        let result = self.query(
            &format!(
                "SELECT {} FROM {} {clause} ORDER BY run_id DESC, row_index",
                quarantine_columns(),
                self.sql_name(&self.history_table(QUARANTINE))
            ),
            &params,
        )?;
        result
            .rows
            .iter()
            .map(|cells| quarantine_from_cells(cells).map_err(StoreError::backend))
            .collect()
    }

    fn end_run(&self, run_id: &str, end: &RunEnd) -> Result<(), StoreError> {
        let now = Utc::now();
        let (limit, observed) = match end.limit {
            Some((limit, observed)) => (format!("{limit}"), format!("{observed}")),
            None => ("NULL".to_string(), "NULL".to_string()),
        };
        let kind = end
            .error_kind
            .map_or("NULL".to_string(), |k| string_literal(k.as_str()));
        let errors = if end.error_kind.is_some() {
            "@message"
        } else {
            "NULL"
        };
        let result = self.query(
            &format!(
                "UPDATE {} SET status = @status, error_kind = {kind}, errors = {errors},
                     reason = @message,
                     finished_at = @now, heartbeat_at = @now, rows_read = @rows_read,
                     limit_value = {limit}, observed_value = {observed},
                     log_lines_dropped = {dropped},
                     duration_ms = TIMESTAMP_DIFF(@now, started_at, MILLISECOND)
                 WHERE run_id = @run_id AND status = 'running'",
                self.runs_table(),
                dropped = end.log_lines_dropped,
            ),
            &[
                ("status", Param::String(end.status.as_str().to_string())),
                ("message", Param::String(end.message.clone())),
                ("now", Param::Timestamp(now)),
                ("rows_read", Param::Int64(end.rows_read)),
                ("run_id", Param::String(run_id.to_string())),
            ],
        )?;
        if result.dml_affected == Some(1) {
            Ok(())
        } else {
            Err(StoreError::NotRunning(run_id.to_string()))
        }
    }

    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        if let Some(date) = filter.date {
            conditions.push("data_date = @date");
            params.push(("date", Param::Date(date)));
        }
        if let Some(processor) = &filter.processor {
            conditions.push("processor_name = @processor");
            params.push(("processor", Param::String(processor.clone())));
        }
        if let Some(status) = filter.status {
            conditions.push("status = @status");
            params.push(("status", Param::String(status.as_str().to_string())));
        }
        if let Some(hash) = &filter.plugin_hash {
            conditions.push("plugin_hash = @hash");
            params.push(("hash", Param::String(hash.clone())));
        }
        if let Some(now) = filter.stale_as_of {
            conditions.push("status = 'running' AND lease_expires_at < @now");
            params.push(("now", Param::Timestamp(now)));
        }
        let mut clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        clause.push_str(" ORDER BY started_at DESC, run_id DESC");
        if let Some(limit) = filter.limit {
            clause.push_str(&format!(" LIMIT {limit}"));
        }
        self.select_runs(&clause, &params)
    }

    fn renew_leases(&self, run_ids: &[String], lease: Duration) -> Result<usize, StoreError> {
        if run_ids.is_empty() {
            return Ok(0);
        }
        let now = Utc::now();
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let result = self.query(
            &format!(
                "UPDATE {} SET heartbeat_at = @now, lease_expires_at = @expires
                 WHERE run_id IN UNNEST(@run_ids) AND status = 'running'",
                self.runs_table()
            ),
            &[
                ("now", Param::Timestamp(now)),
                ("expires", Param::Timestamp(now + lease)),
                ("run_ids", Param::Strings(run_ids.to_vec())),
            ],
        )?;
        Ok(result.dml_affected.unwrap_or(0) as usize)
    }

    fn expire_leases(&self, host_id: &str) -> Result<usize, StoreError> {
        let result = self.query(
            &format!(
                "UPDATE {} SET lease_expires_at = heartbeat_at
                 WHERE host_id = @host AND status = 'running'",
                self.runs_table()
            ),
            &[("host", Param::String(host_id.to_string()))],
        )?;
        Ok(result.dml_affected.unwrap_or(0) as usize)
    }

    fn reap_stale(&self, now: DateTime<Utc>) -> Result<Vec<RunRecord>, StoreError> {
        // One UPDATE tags what it fails with a fresh token, so two reapers
        // at once each read back only the runs they failed themselves.
        let token = new_run_id();
        let stopped = "CONCAT('host ', host_id, ' stopped renewing at ',                        FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6SZ', heartbeat_at))";
        self.query(
            &format!(
                "UPDATE {} SET status = 'failed', error_kind = 'stale', reap_token = @token,
                     errors = CONCAT({stopped}, '; reaped at ', @now_text),
                     reason = {stopped},
                     finished_at = @now,
                     duration_ms = TIMESTAMP_DIFF(@now, started_at, MILLISECOND)
                 WHERE status = 'running' AND lease_expires_at < @now",
                self.runs_table()
            ),
            &[
                ("token", Param::String(token.clone())),
                ("now", Param::Timestamp(now)),
                ("now_text", Param::String(timestamp_param(now))),
            ],
        )?;
        self.select_runs(
            "WHERE reap_token = @token ORDER BY started_at",
            &[("token", Param::String(token))],
        )
    }

    fn flag_run(&self, run_id: &str, reason: &str) -> Result<(), StoreError> {
        self.query(
            &format!(
                "UPDATE {} SET flag = @reason WHERE run_id = @run_id AND status = 'running'",
                self.runs_table()
            ),
            &[
                ("reason", Param::String(reason.to_string())),
                ("run_id", Param::String(run_id.to_string())),
            ],
        )?;
        Ok(())
    }

    fn rows_on(&self, table: &TableName, date: NaiveDate) -> Result<u64, StoreError> {
        let Some(schema) = self.live_schema(table)? else {
            return Ok(0);
        };
        let result = self.query(
            &format!(
                "SELECT COUNT(*) FROM {} WHERE `{}` = @date",
                self.sql_name(table),
                schema.partition_column
            ),
            &[("date", Param::Date(date))],
        )?;
        let count = result
            .rows
            .first()
            .and_then(|cells| text_cell(cells, 0))
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| StoreError::backend(format!("no row count for {table} on {date}")))?;
        Ok(count)
    }

    fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        Ok(self
            .select_runs(
                "WHERE run_id = @run_id",
                &[("run_id", Param::String(run_id.to_string()))],
            )?
            .into_iter()
            .next())
    }
}

/// The text of cell `index` of a result row, if it is not null.
/// A TIMESTAMP cell's value as a time.
fn timestamp_of(value: &crate::rows::Value) -> Result<DateTime<Utc>, StoreError> {
    match value {
        crate::rows::Value::Scalar(crate::rows::Scalar::Timestamp(micros)) => {
            DateTime::from_timestamp_micros(*micros)
                .ok_or_else(|| StoreError::backend(format!("timestamp {micros} out of range")))
        }
        other => Err(StoreError::backend(format!(
            "expected a TIMESTAMP, found {other:?}"
        ))),
    }
}

fn text_cell(cells: &[Option<serde_json::Value>], index: usize) -> Option<&str> {
    cells.get(index)?.as_ref()?.as_str()
}

/// A run's quarantined rows as rows of the quarantine table.
fn quarantine_rows(record: &RunRecord, output: &RunOutput<'_>, now: DateTime<Utc>) -> RowSet {
    use crate::rows::{Scalar, Value, wit_date};
    let text = |s: String| Value::Scalar(Scalar::String(s));
    RowSet {
        columns: quarantine_schema()
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect(),
        rows: output
            .quarantined
            .iter()
            .map(|row| {
                vec![
                    text(record.run_id.clone()),
                    text(record.processor.clone()),
                    Value::Scalar(Scalar::Date(wit_date(record.data_date))),
                    text(output.table.to_string()),
                    Value::Scalar(Scalar::Int64(row.row_index as i64)),
                    text(serde_json::to_string(&row.errors).unwrap_or_default()),
                    text(row.raw_row.to_string()),
                    Value::Scalar(Scalar::Timestamp(now.timestamp_micros())),
                ]
            })
            .collect(),
    }
}
