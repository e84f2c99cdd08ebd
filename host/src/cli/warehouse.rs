//! Which warehouse the command line writes to: the embedded store in the
//! data directory (the default), BigQuery, or PostgreSQL; and where run
//! state lives (`--state`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use slate::data_dir::DataDir;
use slate::store::bigquery::Credentials;
use slate::store::postgres::redacted;
use slate::store::{
    BigQueryConfig, BigQueryStore, EmbeddedStore, PostgresStore, SplitStore, Store, StoreError,
};

/// The warehouse options, global to every command.
#[derive(clap::Args, Debug, Clone)]
pub struct WarehouseArgs {
    /// Where tables live: `embedded` (SQLite in the data directory, with
    /// run history beside them), `bigquery`, or `postgres` (the database
    /// `--state` names). Default: `postgres` with `--state`, else `embedded`.
    #[arg(long, global = true, env = "SLATE_WAREHOUSE")]
    warehouse: Option<Warehouse>,
    /// Where run state lives when several hosts share it: a PostgreSQL URL,
    /// `postgres://user:password@host:port/database`. Run history, claims,
    /// leases, quarantine, schedule ticks, the backfill queue and the plugin
    /// registry live there; tables too, unless `--warehouse bigquery`.
    #[arg(long, global = true, env = "SLATE_STATE_URL", value_name = "URL")]
    state: Option<String>,
    /// BigQuery: the project that runs the jobs and holds the datasets.
    #[arg(long, global = true, env = "SLATE_BIGQUERY_PROJECT")]
    bigquery_project: Option<String>,
    /// BigQuery: the endpoint of an emulator, e.g. `127.0.0.1:9050`; an
    /// emulator needs no credentials.
    #[arg(long, global = true, env = "BIGQUERY_EMULATOR_HOST")]
    bigquery_endpoint: Option<String>,
    /// BigQuery: where datasets are created and jobs run, e.g. `US`.
    #[arg(long, global = true, env = "SLATE_BIGQUERY_LOCATION")]
    bigquery_location: Option<String>,
    /// BigQuery: a service-account key file. Without it, Application
    /// Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, then the
    /// metadata server).
    #[arg(long, global = true, env = "SLATE_BIGQUERY_KEY_FILE")]
    bigquery_key_file: Option<PathBuf>,
    /// BigQuery: put before every dataset name, e.g. `dev_`.
    #[arg(
        long,
        global = true,
        env = "SLATE_BIGQUERY_DATASET_PREFIX",
        default_value = ""
    )]
    bigquery_dataset_prefix: String,
    /// BigQuery: the dataset of run history and quarantine.
    #[arg(
        long,
        global = true,
        env = "SLATE_BIGQUERY_HISTORY_DATASET",
        default_value = "nba_reference"
    )]
    bigquery_history_dataset: String,
}

/// The warehouses Slate writes to.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warehouse {
    /// SQLite in the data directory.
    Embedded,
    /// Google BigQuery (or an emulator of it).
    Bigquery,
    /// PostgreSQL: the database `--state` names.
    Postgres,
}

impl WarehouseArgs {
    /// The BigQuery configuration the options give, naming what is missing.
    pub fn bigquery_config(&self) -> Result<BigQueryConfig> {
        let Some(project) = &self.bigquery_project else {
            super::usage!(
                "--warehouse bigquery needs --bigquery-project (or SLATE_BIGQUERY_PROJECT)"
            );
        };
        let mut config = match &self.bigquery_endpoint {
            Some(endpoint) => BigQueryConfig::emulator(&with_scheme(endpoint), project),
            None => BigQueryConfig::new(project),
        };
        if let Some(key_file) = &self.bigquery_key_file {
            config.credentials = Credentials::KeyFile(key_file.clone());
        }
        config.location = self.bigquery_location.clone();
        config.dataset_prefix = self.bigquery_dataset_prefix.clone();
        config.history_dataset = self.bigquery_history_dataset.clone();
        Ok(config)
    }

    /// The warehouse selected, explicitly or by `--state`.
    fn warehouse(&self) -> Warehouse {
        self.warehouse.unwrap_or(match self.state {
            Some(_) => Warehouse::Postgres,
            None => Warehouse::Embedded,
        })
    }

    /// The PostgreSQL URL of run state, if `--state` gives one: the
    /// registry and run state live there.
    pub fn state_url(&self) -> Result<Option<&str>> {
        match self.state {
            Some(_) => self.postgres_url().map(Some),
            None => Ok(None),
        }
    }

    /// The PostgreSQL URL of run state, checked, beside tables in
    /// PostgreSQL or BigQuery; refused beside the embedded store, which
    /// belongs to one machine.
    fn postgres_url(&self) -> Result<&str> {
        match (&self.state, self.warehouse()) {
            (Some(url), Warehouse::Postgres | Warehouse::Bigquery) => {
                match url.parse::<postgres::Config>() {
                    // PostgreSQL would take the user's name for a missing
                    // database name: another database than meant.
                    Ok(config) if config.get_dbname().is_none() => super::usage!(
                        "--state `{}` names no database: add it, postgres://user@host:port/DATABASE",
                        redacted(url)
                    ),
                    Ok(_) => Ok(url),
                    Err(e) => {
                        super::usage!("--state `{}` is not a PostgreSQL URL: {e}", redacted(url))
                    }
                }
            }
            (None, _) => super::usage!(
                "--warehouse postgres needs --state postgres://... (or SLATE_STATE_URL)"
            ),
            (Some(_), Warehouse::Embedded) => super::usage!(
                "--state keeps run state in PostgreSQL for several hosts, and the embedded \
                 store's tables belong to one machine: use --warehouse postgres or bigquery"
            ),
        }
    }

    /// Whether the store these options open keeps an alert outbox beside
    /// run state: every one but BigQuery alone. Known before opening it,
    /// which on BigQuery makes datasets.
    pub fn keeps_alert_outbox(&self) -> bool {
        self.state.is_some() || !matches!(self.warehouse(), Warehouse::Bigquery)
    }

    /// Opens the selected store; `create` makes a missing embedded one.
    pub fn open(&self, data_dir: &DataDir, create: bool) -> Result<Arc<dyn Store>> {
        if self.state.is_some() {
            let ledger = PostgresStore::connect(self.postgres_url()?)?;
            return Ok(match self.warehouse() {
                Warehouse::Bigquery => Arc::new(SplitStore::new(
                    ledger,
                    BigQueryStore::connect(&self.bigquery_config()?)?,
                )),
                _ => Arc::new(ledger),
            });
        }
        Ok(match self.warehouse() {
            Warehouse::Embedded => {
                let file = data_dir.store_file();
                let opened = match create {
                    true => EmbeddedStore::open(&file),
                    false => EmbeddedStore::open_existing(&file),
                };
                // A file that is no store (damaged, or another file put
                // there) is named; a missing one names itself.
                Arc::new(opened.map_err(|error| {
                    match error {
                        missing @ StoreError::Missing(_) => anyhow::Error::new(missing),
                        other => anyhow::Error::new(other)
                            .context(format!("cannot open the store {}", file.display())),
                    }
                })?)
            }
            Warehouse::Bigquery => Arc::new(BigQueryStore::connect(&self.bigquery_config()?)?),
            Warehouse::Postgres => Arc::new(PostgresStore::connect(self.postgres_url()?)?),
        })
    }

    /// The selected store, opened to be read only: the embedded store
    /// read-only (it may be a file this user cannot write), the others as
    /// [`WarehouseArgs::open`] opens an existing one.
    pub fn open_to_read(&self, data_dir: &DataDir) -> Result<Arc<dyn Store>> {
        if self.state.is_some() || !self.is_embedded() {
            return self.open(data_dir, false);
        }
        let file = data_dir.store_file();
        Ok(Arc::new(EmbeddedStore::open_read_only(&file).map_err(
            |error| {
                match error {
                    missing @ StoreError::Missing(_) => anyhow::Error::new(missing),
                    other => anyhow::Error::new(other)
                        .context(format!("cannot open the store {}", file.display())),
                }
            },
        )?))
    }

    /// The selected store, to read inputs and run history from and never
    /// write: the embedded store opened read-only, or BigQuery, which
    /// `slate test` only ever reads.
    pub fn open_for_replay(&self, data_dir: &DataDir) -> Result<Arc<dyn Store>> {
        Ok(match self.warehouse() {
            Warehouse::Embedded => Arc::new(EmbeddedStore::open_read_only(&data_dir.store_file())?),
            Warehouse::Bigquery => Arc::new(BigQueryStore::connect(&self.bigquery_config()?)?),
            Warehouse::Postgres => Arc::new(PostgresStore::connect(self.postgres_url()?)?),
        })
    }

    /// Whether the embedded store is selected.
    pub fn is_embedded(&self) -> bool {
        matches!(self.warehouse(), Warehouse::Embedded)
    }

    /// Where the store is, in words.
    pub fn describe(&self, data_dir: &DataDir) -> String {
        match self.warehouse() {
            Warehouse::Embedded => data_dir.store_file().display().to_string(),
            Warehouse::Postgres => format!(
                "PostgreSQL at {}",
                self.state.as_deref().map_or_else(String::new, redacted)
            ),
            Warehouse::Bigquery => format!(
                "BigQuery project {} at {}{}",
                self.bigquery_project.as_deref().unwrap_or("?"),
                self.bigquery_endpoint.as_deref().map_or(
                    slate::store::bigquery::GOOGLE_ENDPOINT.to_string(),
                    with_scheme
                ),
                self.state
                    .as_deref()
                    .map_or_else(String::new, |url| format!(
                        ", run state in PostgreSQL at {}",
                        redacted(url)
                    ))
            ),
        }
    }
}

/// `host:port` as `http://host:port`, as the emulator convention allows both.
fn with_scheme(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("http://{endpoint}")
    }
}
