//! One run of one processor for one date, from claim to commit.
//!
//! 1. Claim (processor, date) in the store: a `running` record.
//! 2. Instantiate the plugin in a fresh store and call `process`.
//! 3. Validate the rows against the declared schema.
//! 4. In one transaction, replace the date's rows and mark the run `success`.
//!
//! Any failure ends the run `failed` with its kind and message, and leaves
//! the output table untouched.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::liveness::{LeaseConfig, LeaseKeeper};
use crate::plugin::bindings::ProcessError;
use crate::plugin::sandbox::RunIdentity;
use crate::plugin::{Cancelled, Plugin, RunLimits};
use crate::rows::{RowSet, Scalar, Value};
use crate::runs::{ErrorKind, NewRun, RunEnd, RunRecord, RunStatus, Trigger};
use crate::schema::{ColumnMode, ColumnType, TableSchema};
use crate::store::{Store, StoreError};
use crate::validate::validate;

/// How many validation errors a run's error message lists.
pub const VALIDATION_ERRORS_SHOWN: usize = 20;

/// Runs plugins against a store, as one host, keeping their leases.
#[derive(Clone)]
pub struct Executor {
    store: Arc<dyn Store>,
    host_id: String,
    limits: RunLimits,
    leases: Arc<LeaseKeeper>,
}

impl Executor {
    /// An executor writing to `store` as host `host_id`. Starting it is a
    /// host start: dead previous incarnations' runs are made stale and every
    /// stale run is reaped before it returns.
    pub fn new(
        store: Arc<dyn Store>,
        host_id: impl Into<String>,
        limits: RunLimits,
        leases: LeaseConfig,
    ) -> Result<Self, StoreError> {
        let host_id = host_id.into();
        let leases = Arc::new(LeaseKeeper::start(store.clone(), &host_id, leases)?);
        Ok(Executor {
            store,
            host_id,
            limits,
            leases,
        })
    }

    /// The lease keeper of this host.
    pub fn leases(&self) -> &LeaseKeeper {
        &self.leases
    }

    /// The store runs are recorded in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// This host's id, recorded on every run.
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// Claims and executes one run, returning its final record. Fails only
    /// when the run cannot be claimed (e.g. it is already running) or the
    /// store itself fails; every failure of the processor is in the record.
    pub fn execute(
        &self,
        plugin: &Plugin,
        date: NaiveDate,
        trigger: Trigger,
    ) -> Result<RunRecord, StoreError> {
        self.execute_flagged(plugin, date, trigger, &[])
    }

    /// Like [`Executor::execute`], and appends `quality_issues` (such as
    /// lookback gaps) to every output row's `data_quality_issues`, when the
    /// schema has that REPEATED STRING column.
    pub fn execute_flagged(
        &self,
        plugin: &Plugin,
        date: NaiveDate,
        trigger: Trigger,
        quality_issues: &[String],
    ) -> Result<RunRecord, StoreError> {
        let spec = &plugin.spec;
        let record = self.store.start_run(&NewRun {
            processor: spec.name.clone(),
            data_date: date,
            host_id: self.host_id.clone(),
            plugin_hash: plugin.hash.clone(),
            trigger,
            lease: self.leases.config().lease,
        })?;
        let run_id = record.run_id.clone();
        let lease = self.leases.track(&run_id);
        let span = tracing::info_span!("run", processor = %spec.name, %date, run_id = %run_id);
        let _entered = span.enter();

        let fail =
            |kind: ErrorKind, message: String, rows_read: u64| -> Result<RunRecord, StoreError> {
                tracing::warn!(kind = %kind, "run failed: {message}");
                self.store.end_run(
                    &run_id,
                    &RunEnd {
                        status: RunStatus::Failed,
                        error_kind: Some(kind),
                        message,
                        rows_read: rows_read as i64,
                    },
                )?;
                self.record(&run_id)
            };

        if let Err(error) = self.store.ensure_table(&spec.output_table, &spec.schema) {
            return fail(ErrorKind::Load, error.to_string(), 0);
        }
        let identity = RunIdentity {
            processor: spec.name.clone(),
            date,
            run_id: run_id.clone(),
        };
        let instance = plugin.instantiate(
            identity,
            self.store.clone(),
            self.limits,
            lease.cancel_flag(),
        );
        let mut instance = match instance {
            Ok(instance) => instance,
            Err(error) => {
                return fail(
                    ErrorKind::Trap,
                    format!("instantiation failed: {error:#}"),
                    0,
                );
            }
        };
        let outcome = instance.process(date);
        let rows_read = instance.rows_read();
        let guest_stderr = instance.guest_stderr();
        drop(instance);
        let rows = match outcome {
            Err(trap) => {
                let (kind, mut message) = classify_trap(&trap);
                if !guest_stderr.is_empty() {
                    message = format!("{guest_stderr}\n{message}");
                }
                return fail(kind, message, rows_read);
            }
            Ok(Err(error)) => {
                return fail(ErrorKind::Plugin, describe_process_error(&error), rows_read);
            }
            Ok(Ok(rows)) => rows,
        };
        let mut rows = rows;
        if !quality_issues.is_empty()
            && !add_quality_issues(&mut rows, &spec.schema, quality_issues)
        {
            tracing::warn!(
                "{} has no data_quality_issues column to record: {}",
                spec.output_table,
                quality_issues.join("; ")
            );
        }
        let report = validate(&rows, &spec.schema, date);
        if !report.is_valid() {
            return fail(
                ErrorKind::Validation,
                report.summary(VALIDATION_ERRORS_SHOWN),
                rows_read,
            );
        }
        match self
            .store
            .commit_run(&run_id, &spec.output_table, date, &rows, rows_read as i64)
        {
            Ok(written) => tracing::info!(rows_written = written, rows_read, "run succeeded"),
            Err(StoreError::NotRunning(_)) => return self.record(&run_id),
            Err(error) => return fail(ErrorKind::Load, error.to_string(), rows_read),
        }
        self.record(&run_id)
    }

    /// Records that a run was not started, with the reason: `blocked` by an
    /// upstream check, or `skipped`.
    pub fn record_not_run(
        &self,
        plugin: &Plugin,
        date: NaiveDate,
        trigger: Trigger,
        status: RunStatus,
        reason: String,
    ) -> Result<RunRecord, StoreError> {
        let record = self.store.start_run(&NewRun {
            processor: plugin.spec.name.clone(),
            data_date: date,
            host_id: self.host_id.clone(),
            plugin_hash: plugin.hash.clone(),
            trigger,
            lease: self.leases.config().lease,
        })?;
        let kind = (status == RunStatus::Blocked).then_some(ErrorKind::Upstream);
        self.store.end_run(
            &record.run_id,
            &RunEnd {
                status,
                error_kind: kind,
                message: reason,
                rows_read: 0,
            },
        )?;
        self.record(&record.run_id)
    }

    fn record(&self, run_id: &str) -> Result<RunRecord, StoreError> {
        self.store
            .run(run_id)?
            .ok_or_else(|| StoreError::NotRunning(run_id.to_string()))
    }
}

/// The column where data quality issues are recorded.
pub const DATA_QUALITY_ISSUES: &str = "data_quality_issues";

/// Appends `issues` to every row's `data_quality_issues` cell; false when
/// the schema has no such REPEATED STRING column.
fn add_quality_issues(rows: &mut RowSet, schema: &TableSchema, issues: &[String]) -> bool {
    let is_list_of_strings = schema.columns.iter().any(|c| {
        c.name == DATA_QUALITY_ISSUES
            && c.mode == ColumnMode::Repeated
            && c.column_type == ColumnType::String
    });
    let Some(index) = rows.columns.iter().position(|c| c == DATA_QUALITY_ISSUES) else {
        return false;
    };
    if !is_list_of_strings {
        return false;
    }
    for row in &mut rows.rows {
        if let Some(Value::Repeated(items)) = row.get_mut(index) {
            items.extend(issues.iter().map(|i| Scalar::String(i.clone())));
        }
    }
    true
}

/// The kind and message of a trap: limits get their own kinds.
pub fn classify_trap(error: &wasmtime::Error) -> (ErrorKind, String) {
    let message = format!("{error:?}");
    if let Some(cancelled) = error.downcast_ref::<Cancelled>() {
        return (ErrorKind::LimitTime, cancelled.to_string());
    }
    let kind = match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => ErrorKind::LimitTime,
        Some(wasmtime::Trap::OutOfFuel) => ErrorKind::LimitFuel,
        _ if message.contains("forcing a memory growth failure to be a trap") => {
            ErrorKind::LimitMemory
        }
        _ => ErrorKind::Trap,
    };
    (kind, message)
}

/// A processor's typed error as a message.
pub fn describe_process_error(error: &ProcessError) -> String {
    match error {
        ProcessError::InvalidInput(m) => format!("invalid input: {m}"),
        ProcessError::MissingData(m) => format!("missing data: {m}"),
        ProcessError::Internal(m) => format!("internal error: {m}"),
    }
}
