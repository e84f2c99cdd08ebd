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

use crate::limits::{LimitBreach, LimitsConfig, RunLimits};
use crate::liveness::{LeaseConfig, LeaseKeeper};
use crate::plugin::bindings::ProcessError;
use crate::plugin::sandbox::RunIdentity;
use crate::plugin::{Cancelled, Plugin};
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
    limits: Arc<LimitsConfig>,
    leases: Arc<LeaseKeeper>,
}

impl Executor {
    /// An executor writing to `store` as host `host_id`. Starting it is a
    /// host start: dead previous incarnations' runs are made stale and every
    /// stale run is reaped before it returns.
    pub fn new(
        store: Arc<dyn Store>,
        host_id: impl Into<String>,
        limits: impl Into<LimitsConfig>,
        leases: LeaseConfig,
    ) -> Result<Self, StoreError> {
        let host_id = host_id.into();
        let limits = Arc::new(limits.into());
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

        let limits = self.limits.for_processor(&spec.name);
        let fail_with = |kind: ErrorKind,
                         message: String,
                         rows_read: u64,
                         limit: Option<(u64, u64)>|
         -> Result<RunRecord, StoreError> {
            tracing::warn!(kind = %kind, "run failed: {message}");
            let end = RunEnd {
                status: RunStatus::Failed,
                error_kind: Some(kind),
                message,
                rows_read: rows_read as i64,
                limit,
            };
            self.store.end_run(&run_id, &end)?;
            self.record(&run_id)
        };
        let fail = |kind, message, rows_read| fail_with(kind, message, rows_read, None);

        if let Err(error) = self.store.ensure_table(&spec.output_table, &spec.schema) {
            return fail(ErrorKind::Load, error.to_string(), 0);
        }
        let identity = RunIdentity {
            processor: spec.name.clone(),
            date,
            run_id: run_id.clone(),
        };
        let instance =
            plugin.instantiate(identity, self.store.clone(), limits, lease.cancel_flag());
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
        let mut rows = match outcome {
            Err(trap) => {
                let (kind, mut message, limit) = classify_trap(&trap);
                if !guest_stderr.is_empty() {
                    message = format!("{guest_stderr}\n{message}");
                }
                return fail_with(kind, message, rows_read, limit);
            }
            Ok(Err(error)) => {
                return fail(ErrorKind::Plugin, describe_process_error(&error), rows_read);
            }
            Ok(Ok(rows)) => rows,
        };
        if let Some(breach) = output_breach(&rows, &limits) {
            return fail_with(
                breach.kind(),
                breach.to_string(),
                rows_read,
                Some(breach.values()),
            );
        }
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
                limit: None,
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

/// The kind, message and (for a limit) the limit and observed value of a
/// trap: each limit has its own kind.
pub fn classify_trap(error: &wasmtime::Error) -> (ErrorKind, String, Option<(u64, u64)>) {
    if let Some(cancelled) = error.downcast_ref::<Cancelled>() {
        return (ErrorKind::LimitTime, cancelled.to_string(), None);
    }
    if let Some(breach) = error.downcast_ref::<LimitBreach>() {
        return (breach.kind(), breach.to_string(), Some(breach.values()));
    }
    // The error chain (trap, then the guest backtrace), never the host's
    // Rust backtrace: that describes Slate, not the processor.
    let message = format!("{}\n{error:#}", error.root_cause());
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => (
            ErrorKind::LimitFuel,
            format!("fuel exhausted\n{message}"),
            None,
        ),
        _ => (ErrorKind::Trap, message, None),
    }
}

/// A breach of the output limits, if the rows go past them.
fn output_breach(rows: &RowSet, limits: &RunLimits) -> Option<LimitBreach> {
    let count = rows.rows.len() as u64;
    if count > limits.max_output_rows {
        return Some(LimitBreach::OutputRows {
            limit: limits.max_output_rows,
            observed: count,
        });
    }
    let bytes = approximate_bytes(rows);
    (bytes > limits.max_output_bytes).then_some(LimitBreach::OutputBytes {
        limit: limits.max_output_bytes,
        observed: bytes,
    })
}

/// Roughly what the rows take up: text by length, other values 8 bytes.
fn approximate_bytes(rows: &RowSet) -> u64 {
    fn scalar(s: &Scalar) -> u64 {
        match s {
            Scalar::String(t) | Scalar::Numeric(t) | Scalar::Json(t) => t.len() as u64,
            _ => 8,
        }
    }
    rows.rows
        .iter()
        .flatten()
        .map(|value| match value {
            Value::Null => 1,
            Value::Scalar(s) => scalar(s),
            Value::Repeated(items) => items.iter().map(scalar).sum::<u64>() + 2,
        })
        .sum()
}

/// A processor's typed error as a message.
pub fn describe_process_error(error: &ProcessError) -> String {
    match error {
        ProcessError::InvalidInput(m) => format!("invalid input: {m}"),
        ProcessError::MissingData(m) => format!("missing data: {m}"),
        ProcessError::Internal(m) => format!("internal error: {m}"),
    }
}
