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
//! runs its calls on the store's own tokio runtime. `tables.rs` keeps the
//! tables ([`super::Tables`]), `runs.rs` the run ledger
//! ([`super::RunLedger`]); this module the connection, staging and scripts.

pub mod api;
mod auth;
mod history;
mod jobs;
mod retry;
mod runs;
mod tables;
mod values;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use gcp_bigquery_client::model::table::Table;
use gcp_bigquery_client::model::time_partitioning::TimePartitioning;

pub use auth::Credentials;
pub use jobs::JobCounts;
pub use retry::RetryPolicy;

use self::api::{Api, ApiError, Param};
use self::history::{
    COMMIT_LOG, QUARANTINE, RUN_HISTORY, TABLE_OWNERS, TABLE_TRANSFERS, commit_log_schema,
    quarantine_schema, run_columns, run_from_cells, run_history_schema, string_literal,
    table_owners_schema, table_transfers_schema, timestamp_literal,
};
use self::values::{push_ndjson_row, schema_fields, schema_of_table, value_from_cell};
use super::{StoreError, stored_owner, stored_table_name};
use crate::drift;
use crate::ownership::{OwnedTable, OwnershipRefused, TableOwner};
use crate::rows::RowSet;
use crate::runs::RunRecord;
use crate::schema::{TableName, TableSchema};

/// `key` as the `key_columns` of `_slate_table_owners`: its names joined
/// by commas, or NULL.
fn key_literal(key: &[String]) -> String {
    match key {
        [] => "NULL".to_string(),
        names => string_literal(&names.join(",")),
    }
}

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
    /// How many dates of one processor a backfill commits in one load job
    /// and one transaction ([`DEFAULT_COMMIT_BATCH_DATES`]); 1 commits
    /// date by date.
    pub commit_batch_dates: usize,
}

/// How many dates of one processor a backfill commits together by default:
/// BigQuery allows 1,500 load jobs per table per day, which a backfill of
/// several seasons date by date (167 dates each) would come near.
pub const DEFAULT_COMMIT_BATCH_DATES: usize = 30;

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
            commit_batch_dates: DEFAULT_COMMIT_BATCH_DATES,
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

/// The dataset label that names the Slate environment (the dataset
/// prefix) a dataset belongs to.
const ENVIRONMENT_LABEL: &str = "slate_environment";

/// `prefix` as a label value, which takes only lower-case letters, digits,
/// `_` and `-`: an upper-case letter is `-` and its lower case (no dataset
/// name has a `-`), so two prefixes never share a value.
fn environment_label(prefix: &str) -> String {
    let mut label = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if c.is_ascii_uppercase() {
            label.push('-');
        }
        label.push(c.to_ascii_lowercase());
    }
    label
}

/// The prefix an [`environment_label`] was made from.
fn prefix_of_label(label: &str) -> String {
    let mut prefix = String::with_capacity(label.len());
    let mut upper = false;
    for c in label.chars() {
        match c {
            '-' => upper = true,
            c if upper => {
                prefix.push(c.to_ascii_uppercase());
                upper = false;
            }
            c => prefix.push(c),
        }
    }
    prefix
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
    /// The datasets found to be this environment's ([`Self::claim_dataset`]).
    ours: Mutex<std::collections::HashSet<String>>,
    /// The load jobs, transactions and queries issued so far.
    jobs: jobs::JobCounter,
    /// [`BigQueryConfig::commit_batch_dates`].
    commit_batch_dates: usize,
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

/// A failed call as the store's error: one that got no response after its
/// retries (connection refused, reset, timed out) is `Unreachable`, worth
/// trying again later, as a PostgreSQL database that takes no connection
/// is; any other keeps its whole error.
fn backend(error: ApiError) -> StoreError {
    match &error {
        ApiError::Call { failure, .. } if failure.no_response => {
            StoreError::Unreachable(error.to_string())
        }
        _ => StoreError::backend(error),
    }
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
            ours: Mutex::default(),
            jobs: jobs::JobCounter::default(),
            commit_batch_dates: config.commit_batch_dates,
        };
        for (table, schema) in [
            (RUN_HISTORY, run_history_schema()),
            (QUARANTINE, quarantine_schema()),
            (TABLE_OWNERS, table_owners_schema()),
            (TABLE_TRANSFERS, table_transfers_schema()),
            (COMMIT_LOG, commit_log_schema()),
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

    /// Makes sure `table`'s dataset is this environment's before any of
    /// its tables is written, and is no other environment's before one is
    /// read. Datasets are shared by every environment of a project, and a
    /// dataset prefix is only a prefix: without this, a processor on an
    /// unprefixed host naming `dev_nba_reference.processor_run_history`
    /// wrote the `dev_` hosts' run history. So each dataset carries the
    /// label [`ENVIRONMENT_LABEL`] with the prefix of the environment that
    /// made it, and one labelled for another is refused.
    ///
    /// A dataset without the label (made by hand, or by a Slate from before
    /// labels) is this environment's to label only when this environment
    /// has shown it is its own: it is the configured history dataset, or
    /// the owners table records a table of this environment in it. A write
    /// into any other is refused with how to label it; a read goes on,
    /// labelling nothing. A missing dataset is made, labelled, by a write.
    fn claim_dataset(&self, table: &TableName, writing: bool) -> Result<(), StoreError> {
        let dataset = self.dataset(table);
        let ours = || self.ours.lock().unwrap_or_else(|p| p.into_inner());
        if ours().contains(&dataset) {
            return Ok(());
        }
        let label = environment_label(&self.prefix);
        let claim = (ENVIRONMENT_LABEL, label.as_str());
        // A dataset another host creates between the look and the create
        // is looked at again.
        for _ in 0..2 {
            let labels = self
                .block(self.api.dataset_labels(&dataset))
                .map_err(backend)?;
            match labels.as_ref().map(|labels| labels.get(ENVIRONMENT_LABEL)) {
                None if !writing => return Ok(()),
                None => {
                    if !self
                        .block(self.api.create_dataset(&dataset, claim))
                        .map_err(backend)?
                    {
                        continue;
                    }
                }
                Some(Some(theirs)) if *theirs != label => {
                    return Err(OwnershipRefused::OtherEnvironment {
                        table: table.clone(),
                        dataset,
                        theirs: prefix_of_label(theirs),
                        ours: self.prefix.clone(),
                    }
                    .into());
                }
                Some(Some(_)) => {}
                Some(None) if !writing => return Ok(()),
                Some(None) => {
                    let shown_ours = table.dataset == self.history_dataset
                        || crate::store::Tables::table_owners(self)?
                            .iter()
                            .any(|owned| owned.table.dataset == table.dataset);
                    if !shown_ours {
                        let labelling = format!(
                            "bq update --set_label {ENVIRONMENT_LABEL}:{label} {}:{dataset}",
                            self.api.project()
                        );
                        return Err(OwnershipRefused::UnlabelledDataset {
                            table: table.clone(),
                            dataset,
                            labelling,
                        }
                        .into());
                    }
                    self.block(self.api.label_dataset(&dataset, claim))
                        .map_err(backend)?;
                    tracing::info!(%dataset, prefix = %self.prefix, "labelled the dataset as this environment's");
                }
            }
            ours().insert(dataset);
            return Ok(());
        }
        Err(StoreError::backend(format!(
            "the dataset `{dataset}` was reported both missing and existing"
        )))
    }

    /// The live schema of `table`, or `None` when it does not exist.
    fn live_schema(&self, table: &TableName) -> Result<Option<Arc<TableSchema>>, StoreError> {
        if let Some(schema) = self.cached(table) {
            return Ok(Some(schema));
        }
        self.claim_dataset(table, false)?;
        let found = self
            .block(self.api.get_table(&self.dataset(table), &table.table))
            .map_err(backend)?;
        let Some(live) = found else { return Ok(None) };
        let mut schema =
            schema_of_table(&live).map_err(|e| StoreError::Schema(format!("{table}: {e}")))?;
        // BigQuery keeps no key: a raw input's is recorded with its owner.
        if table.dataset != self.history_dataset {
            schema.key_columns = self.recorded_key(table)?;
        }
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
        // Before the cache: a table read before may sit in a dataset that
        // only reads may use.
        self.claim_dataset(table, true)?;
        if let Some(live) = self.cached(table)
            && drift::plan(table, &live, schema)?.is_empty()
        {
            return Ok(());
        }
        let dataset = self.dataset(table);
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
        self.jobs.query();
        self.block(self.api.query(sql, params)).map_err(backend)
    }

    /// Runs `script`, a transaction replacing rows of `table`.
    fn replace_in_transaction(
        &self,
        table: &TableName,
        script: &str,
    ) -> Result<api::QueryResult, StoreError> {
        self.jobs.transaction(table);
        self.query(script, &[])
    }

    /// The load jobs, transactions and queries this store has issued since
    /// it was connected: what a backfill costs in BigQuery's quotas.
    pub fn job_counts(&self) -> JobCounts {
        self.jobs.snapshot()
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
        self.jobs.load(table);
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

    /// Records `owner` for `table`, with the key a read checks (`key`,
    /// for a raw input), unless an owner is recorded already.
    fn record_owner(
        &self,
        table: &TableName,
        owner: &TableOwner,
        key: &[String],
    ) -> Result<(), StoreError> {
        self.query(
            &format!("{};", self.insert_owner_if_none(table, owner, key)),
            &[],
        )?;
        Ok(())
    }

    /// The statement that records `owner` for `table`, with `key` (none
    /// when empty), when no owner is recorded.
    fn insert_owner_if_none(
        &self,
        table: &TableName,
        owner: &TableOwner,
        key: &[String],
    ) -> String {
        let now = timestamp_literal(Utc::now());
        format!(
            "INSERT INTO {owners} (table_name, owner_kind, owner_name, owner_since, recorded_on,
                 key_columns)
             SELECT {name}, {kind}, {processor}, {now}, DATE({now}), {key} FROM UNNEST([1])
             WHERE NOT EXISTS (SELECT 1 FROM {owners} WHERE table_name = {name})",
            owners = self.sql_name(&self.history_table(TABLE_OWNERS)),
            name = string_literal(&table.to_string()),
            kind = string_literal(owner.kind()),
            processor = owner.processor().map_or("NULL".to_string(), string_literal),
            key = key_literal(key),
        )
    }

    /// The key columns recorded for `table` ([`BigQueryStore::record_owner`]):
    /// none when no owner or no key is recorded.
    fn recorded_key(&self, table: &TableName) -> Result<Vec<String>, StoreError> {
        let result = self.query(
            &format!(
                "SELECT key_columns FROM {} WHERE table_name = @table",
                self.sql_name(&self.history_table(TABLE_OWNERS))
            ),
            &[("table", Param::String(table.to_string()))],
        )?;
        let recorded = result
            .rows
            .iter()
            .find_map(|cells| text_cell(cells, 0))
            .unwrap_or_default();
        Ok(recorded
            .split(',')
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Records `key` as the key of the raw input `table`, whose owner is
    /// recorded already.
    fn record_key(&self, table: &TableName, key: &[String]) -> Result<(), StoreError> {
        self.query(
            &format!(
                "UPDATE {} SET key_columns = {} WHERE table_name = @table",
                self.sql_name(&self.history_table(TABLE_OWNERS)),
                key_literal(key)
            ),
            &[("table", Param::String(table.to_string()))],
        )?;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::{environment_label, prefix_of_label};

    #[test]
    fn an_environment_label_takes_only_lower_case_and_gives_its_prefix_back() {
        for (prefix, label) in [
            ("", ""),
            ("dev_", "dev_"),
            ("Dev_", "-dev_"),
            ("aB9_", "a-b9_"),
        ] {
            assert_eq!(environment_label(prefix), label);
            assert_eq!(prefix_of_label(label), prefix);
        }
        assert_ne!(environment_label("Dev_"), environment_label("dev_"));
    }
}
