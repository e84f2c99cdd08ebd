//! One run of one processor for one date, from claim to commit.
//!
//! 1. Claim (processor, date) in the store: a `running` record with a lease.
//! 2. Evaluate: instantiate the plugin in a fresh store, call `process`,
//!    check the limits and validate the rows ([`crate::evaluation`]).
//! 3. In one transaction, replace the date's rows, record any quarantined
//!    rows, and mark the run `success`.
//!
//! Any failure ends the run `failed` with its kind and message, and leaves
//! the output table untouched.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::evaluation::{Evaluated, evaluate};
use crate::limits::LimitsConfig;
use crate::liveness::{LeaseConfig, LeaseKeeper};
use crate::plugin::Plugin;
use crate::plugin::sandbox::RunIdentity;
use crate::runs::{ErrorKind, NewRun, RunEnd, RunRecord, RunStatus, Trigger};
use crate::store::{RunOutput, Store, StoreError};

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
        let source = self.store.clone();
        let evaluated = evaluate(
            plugin,
            identity,
            source,
            limits,
            lease.cancel_flag(),
            quality_issues,
        );
        let (rows, rows_read, quarantined) = match evaluated {
            Ok(Evaluated {
                rows,
                rows_read,
                quarantined,
            }) => (rows, rows_read, quarantined),
            Err(failure) => {
                return fail_with(
                    failure.kind,
                    failure.message,
                    failure.rows_read,
                    failure.limit,
                );
            }
        };
        let output = RunOutput {
            table: &spec.output_table,
            date,
            rows: &rows,
            rows_read: rows_read as i64,
            quarantined: &quarantined,
        };
        match self.store.commit_run(&run_id, &output) {
            Ok(written) => tracing::info!(
                rows_written = written,
                rows_read,
                rows_quarantined = quarantined.len(),
                "run succeeded"
            ),
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
