//! One run of one processor for one date, from claim to commit.
//!
//! 1. Claim (processor, date) in the store: a `running` record with a lease.
//! 2. Evaluate: instantiate the plugin in a fresh store, call `process`,
//!    check the limits and validate the rows ([`crate::evaluation`]).
//! 3. In one transaction, create the output table if this is its first
//!    commit (recording the processor as its owner), replace the date's
//!    rows, record any quarantined rows, and mark the run `success`.
//!
//! Before it evaluates anything, a run must own its output table, or find
//! it unowned ([`crate::ownership`]); a refusal fails it, kind `ownership`.
//!
//! Any failure ends the run `failed` with its kind and message, and leaves
//! the output table untouched.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use crate::completeness::{self, UpstreamCheck, UpstreamStatus};
use crate::evaluation::{Evaluated, Failure, evaluate};
use crate::limits::LimitsConfig;
use crate::liveness::{LeaseConfig, LeaseGuard, LeaseKeeper};
use crate::ownership::{self, Claimant};
use crate::plugin::sandbox::RunIdentity;
use crate::plugin::{Plugin, ProcessorSpec};
use crate::runs::{ErrorKind, NewRun, RunEnd, RunFilter, RunRecord, RunStatus, RunUsage, Trigger};
use crate::schema::TableName;
use crate::store::read_ahead::ReadAhead;
use crate::store::{InputSource, RunOutput, Store, StoreError};
use crate::upstream_check::gap_issues;

/// The error message of a run stopped because its host shut down: an
/// interrupted command, or a server whose grace period ran out.
pub const SHUTDOWN_MESSAGE: &str = "stopped by the host: it shut down before the run finished";

/// Told about every run this executor claims and ends, e.g. to keep
/// metrics or to push changes to the dashboard.
pub trait RunObserver: Send + Sync {
    /// `record` is the `running` record a claim just made.
    fn run_started(&self, _record: &RunRecord) {}

    /// `record` is the run's final record; `instantiation` how long
    /// creating its instance took, when it got that far.
    fn run_ended(&self, record: &RunRecord, instantiation: Option<Duration>);

    /// `record` is the final (failed, `stale`) record of a run this host's
    /// lease keeper reaped, whichever host ran it.
    fn run_reaped(&self, _record: &RunRecord) {}

    /// The store refused to claim `processor` for a failure of its own
    /// (`error`: full, unreachable), not because another run holds it.
    fn claim_refused(&self, _processor: &str, _error: &StoreError) {}

    /// `record` is the `running` record of a claimed run this host gave up
    /// because the store failed with `error` as it recorded the run: the
    /// reaper ends it, with that error, once the store answers.
    fn run_given_up(&self, _record: &RunRecord, _error: &StoreError) {}
}

/// A claimed run: its `running` record, the plugin version it will run,
/// and its lease, renewed until the claim is executed or ended.
pub struct Claim {
    record: RunRecord,
    plugin: Plugin,
    lease: LeaseGuard,
    _ended_on_panic: EndedOnPanic,
}

/// What a panic in the host's run path, wherever it strikes, does to the
/// claims it unwinds through: each run ends `failed`, kind `host`, at
/// once. Without it the run stayed `running` until its lease expired and
/// every downstream waited on it.
struct EndedOnPanic {
    store: Arc<dyn Store>,
    run_id: String,
}

/// The message of a run a panic ended.
pub const HOST_PANIC_MESSAGE: &str =
    "the host panicked while the run was in progress (a bug in Slate): its log has the panic";

impl Drop for EndedOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let end = RunEnd {
            status: RunStatus::Failed,
            error_kind: Some(ErrorKind::Host),
            message: HOST_PANIC_MESSAGE.to_string(),
            rows_read: 0,
            limit: None,
            usage: RunUsage::default(),
            upstream_check: None,
        };
        match self.store.end_run(&self.run_id, &end) {
            // It had ended before the panic: its record says how.
            Ok(()) | Err(StoreError::NotRunning(_)) => {}
            Err(error) => tracing::error!(
                run_id = %self.run_id,
                "a panic left the run running, and ending it failed: {error}"
            ),
        }
    }
}

impl Claim {
    /// The `running` record made by the claim.
    pub fn record(&self) -> &RunRecord {
        &self.record
    }

    /// The plugin version this run will execute.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }
}

/// Runs plugins against a store, as one host, keeping their leases.
#[derive(Clone)]
pub struct Executor {
    store: Arc<dyn Store>,
    host_id: String,
    limits: Arc<LimitsConfig>,
    leases: Arc<LeaseKeeper>,
    observers: Vec<Arc<dyn RunObserver>>,
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
            observers: Vec::new(),
        })
    }

    /// This executor, telling `observer` too about every run it claims
    /// and ends, and every stale run its lease keeper reaps (which ends
    /// too, whoever ran it).
    pub fn with_observer(mut self, observer: Arc<dyn RunObserver>) -> Self {
        let told = observer.clone();
        self.leases
            .on_reaped(Arc::new(move |run: &RunRecord| told.run_reaped(run)));
        self.observers.push(observer);
        self
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

    /// Claims and executes one run with no completeness checks, returning
    /// its final record: for tests and benchmarks, which run a processor
    /// alone. Pipelines go through [`crate::pipeline::Pipeline::run_claim`].
    /// Fails only when the run cannot be claimed (e.g. it is already
    /// running) or the store itself fails; every failure of the processor
    /// is in the record.
    pub fn execute(
        &self,
        plugin: &Plugin,
        date: NaiveDate,
        trigger: Trigger,
    ) -> Result<RunRecord, StoreError> {
        let claim = self.claim(plugin, date, trigger)?;
        self.execute_claim(claim, None)
    }

    /// Claims (processor, date) for `plugin`: a `running` record whose
    /// lease this host renews until the claim is executed or ended. The
    /// claim keeps the plugin version it was made with, so a version
    /// deployed meanwhile does not change what this run executes.
    pub fn claim(
        &self,
        plugin: &Plugin,
        date: NaiveDate,
        trigger: Trigger,
    ) -> Result<Claim, StoreError> {
        let mut claims = self.claim_dates(plugin, &[date], trigger);
        claims.pop().expect("one claim per date")
    }

    /// Claims `plugin` on each of `dates` as [`Executor::claim`] does, in
    /// one request to the store where it can take them together
    /// ([`crate::store::RunLedger::start_runs`]): one result per date, in
    /// order.
    pub fn claim_dates(
        &self,
        plugin: &Plugin,
        dates: &[NaiveDate],
        trigger: Trigger,
    ) -> Vec<Result<Claim, StoreError>> {
        let runs: Vec<NewRun> = dates
            .iter()
            .map(|date| NewRun {
                processor: plugin.spec.name.clone(),
                phase: plugin.spec.phase,
                data_date: *date,
                host_id: self.host_id.clone(),
                plugin_hash: plugin.hash.clone(),
                trigger,
                lease: self.leases.config().lease,
            })
            .collect();
        // Every run started is a claim before anything else can panic.
        let claims: Vec<Result<Claim, StoreError>> = self
            .store
            .start_runs(&runs)
            .into_iter()
            .map(|started| {
                let record = started?;
                Ok(Claim {
                    lease: self.leases.track(&record.run_id),
                    _ended_on_panic: EndedOnPanic {
                        store: self.store.clone(),
                        run_id: record.run_id.clone(),
                    },
                    record,
                    plugin: plugin.clone(),
                })
            })
            .collect();
        for claim in &claims {
            for observer in &self.observers {
                match claim {
                    Ok(claim) => observer.run_started(&claim.record),
                    Err(StoreError::AlreadyRunning { .. }) => {}
                    Err(error) => observer.claim_refused(&plugin.spec.name, error),
                }
            }
        }
        claims
    }

    /// Executes a claimed run, returning its final record. A run stopped
    /// because this host is shutting down ends `failed`, kind `shutdown`.
    /// `check` is the completeness check that let it run: recorded with
    /// the run, and its lookback gaps are added to every row's
    /// `data_quality_issues`.
    pub fn execute_claim(
        &self,
        claim: Claim,
        check: Option<UpstreamCheck>,
    ) -> Result<RunRecord, StoreError> {
        match self.evaluate_claim(claim, check)? {
            Evaluation::Ended(record) => Ok(record),
            Evaluation::Ready(ready) => self.commit_ready(ready),
        }
    }

    /// Executes claimed runs of one processor on several dates, each as
    /// [`Executor::execute_claim`] would, but commits the rows of those
    /// that ran in one [`crate::store::RunLedger::commit_runs`]: on
    /// BigQuery one load job and one transaction for them all. When that
    /// commit fails (a lost claim, a load error), nothing of it was written
    /// and each run commits alone instead, so each run's own error is
    /// recorded with it. The records come back in the claims' order.
    /// Around the runs, the store is asked once for them all: whether the
    /// processor may write its table, its inputs up to the last date
    /// ([`ReadAhead`]), and the final records.
    pub fn execute_claims_together(
        &self,
        claims: Vec<(Claim, Option<UpstreamCheck>)>,
    ) -> Vec<Result<RunRecord, StoreError>> {
        // One processor's claims: whether it may write its table is
        // asked once for them all.
        let refusal = match claims.first() {
            Some((claim, _)) => self.output_refusal(&claim.plugin.spec),
            None => return Vec::new(),
        };
        // Each input is read once for the batch, up to its last date.
        let last = claims.iter().map(|(claim, _)| claim.record.data_date).max();
        let source: Arc<dyn InputSource> = match last {
            Some(last) => Arc::new(ReadAhead::new(self.store.clone(), last)),
            None => self.store.clone(),
        };
        let evaluated: Vec<Result<Evaluation, StoreError>> = claims
            .into_iter()
            .map(|(claim, check)| {
                self.evaluate_checked_claim(claim, check, refusal.as_ref(), source.clone())
            })
            .collect();
        let ready: Vec<&ReadyToCommit> = evaluated
            .iter()
            .filter_map(|e| match e {
                Ok(Evaluation::Ready(ready)) => Some(ready),
                _ => None,
            })
            .collect();
        let committed_together = ready.len() > 1 && {
            let outputs: Vec<(&str, RunOutput<'_>)> = ready
                .iter()
                .map(|ready| (ready.claim.record.run_id.as_str(), ready.output()))
                .collect();
            match self.store.commit_runs(&outputs) {
                Ok(written) => {
                    for (run_id, _) in &outputs {
                        self.leases.settle(run_id);
                    }
                    tracing::info!(
                        runs = outputs.len(),
                        rows_written = written,
                        "runs committed together"
                    );
                    true
                }
                Err(error) => {
                    tracing::warn!(
                        runs = outputs.len(),
                        "the runs could not commit together; each commits alone: {error}"
                    );
                    false
                }
            }
        };
        if !committed_together {
            return evaluated
                .into_iter()
                .map(|evaluation| match evaluation? {
                    Evaluation::Ended(record) => Ok(record),
                    Evaluation::Ready(ready) => self.commit_ready(ready),
                })
                .collect();
        }
        // Every ready run is a success now: their final records are read
        // in one request.
        let committed: Vec<String> = evaluated
            .iter()
            .filter_map(|e| match e {
                Ok(Evaluation::Ready(ready)) => Some(ready.claim.record.run_id.clone()),
                _ => None,
            })
            .collect();
        let mut records: std::collections::HashMap<String, RunRecord> =
            match self.store.runs_with_ids(&committed) {
                Ok(records) => records.into_iter().map(|r| (r.run_id.clone(), r)).collect(),
                Err(error) => {
                    return evaluated
                        .into_iter()
                        .map(|evaluation| match evaluation? {
                            Evaluation::Ended(record) => Ok(record),
                            Evaluation::Ready(_) => Err(error.clone()),
                        })
                        .collect();
                }
            };
        evaluated
            .into_iter()
            .map(|evaluation| match evaluation? {
                Evaluation::Ended(record) => Ok(record),
                Evaluation::Ready(ready) => {
                    let ReadyToCommit {
                        claim,
                        instantiation,
                        ..
                    } = ready;
                    let run_id = claim.record.run_id.clone();
                    drop(claim);
                    let record = records
                        .remove(&run_id)
                        .ok_or_else(|| StoreError::NotRunning(run_id.clone()))?;
                    self.tell_ended(&record, instantiation);
                    Ok(record)
                }
            })
            .collect()
    }

    /// Runs a claimed run's processor: the run either ends here (failed,
    /// with its kind and message) or its rows are ready to commit.
    fn evaluate_claim(
        &self,
        claim: Claim,
        check: Option<UpstreamCheck>,
    ) -> Result<Evaluation, StoreError> {
        let refusal = self.output_refusal(&claim.plugin.spec);
        let source = self.store.clone();
        self.evaluate_checked_claim(claim, check, refusal.as_ref(), source)
    }

    /// [`Executor::evaluate_claim`] once [`Executor::output_refusal`] has
    /// been asked for the claim's processor (a refusal fails the run),
    /// reading its inputs from `source`.
    fn evaluate_checked_claim(
        &self,
        claim: Claim,
        check: Option<UpstreamCheck>,
        refusal: Option<&Failure>,
        source: Arc<dyn InputSource>,
    ) -> Result<Evaluation, StoreError> {
        let spec = &claim.plugin.spec;
        let date = claim.record.data_date;
        let run_id = claim.record.run_id.clone();
        let span = tracing::info_span!("run", processor = %spec.name, %date, run_id = %run_id);
        let _entered = span.enter();

        // A shadow runs under its live processor's limits.
        let limits_of = crate::shadow::live_name(&spec.name).unwrap_or(&spec.name);
        let limits = self.limits.for_processor(limits_of);
        let quality_issues: Vec<String> = check
            .iter()
            .flat_map(|check| gap_issues(&check.gaps))
            .collect();
        let fail = |failure: Failure, instantiation: Option<Duration>| {
            self.fail_claim(&claim, check.clone(), failure, instantiation)
                .map(Evaluation::Ended)
        };

        if claim.lease.stopped_by_shutdown() {
            return fail(Failure::new(ErrorKind::Shutdown, String::new(), 0), None);
        }
        if let Some(refusal) = refusal {
            return fail(refusal.clone(), None);
        }
        let identity = RunIdentity {
            processor: spec.name.clone(),
            date,
            run_id: run_id.clone(),
        };
        claim.lease.start_clock();
        let window = check
            .as_ref()
            .map(|check| check.read_window.clone())
            .unwrap_or_default();
        let (evaluated, instantiation) = evaluate(
            &claim.plugin,
            identity,
            source,
            window,
            limits,
            claim.lease.cancel_flag(),
            &quality_issues,
        );
        match evaluated {
            Ok(evaluated) => Ok(Evaluation::Ready(ReadyToCommit {
                claim,
                check,
                evaluated,
                instantiation,
            })),
            Err(failure) => fail(failure, instantiation),
        }
    }

    /// Commits a run's rows alone, or ends it failed when they cannot be.
    fn commit_ready(&self, ready: ReadyToCommit) -> Result<RunRecord, StoreError> {
        let run_id = ready.claim.record.run_id.clone();
        let rows_read = ready.evaluated.rows_read;
        let fail = |kind: ErrorKind, message: String| {
            let failure = Failure::new(kind, message, rows_read);
            self.fail_claim(
                &ready.claim,
                ready.check.clone(),
                failure,
                ready.instantiation,
            )
        };
        match self.store.commit_run(&run_id, &ready.output()) {
            Ok(written) => tracing::info!(
                processor = %ready.claim.plugin.spec.name,
                date = %ready.claim.record.data_date,
                run_id = %run_id,
                rows_written = written,
                rows_read,
                rows_quarantined = ready.evaluated.quarantined.len(),
                "run succeeded"
            ),
            Err(StoreError::NotRunning(_)) => {}
            Err(StoreError::Ownership(refused)) => {
                return fail(ErrorKind::Ownership, refused.to_string());
            }
            Err(error) => return fail(load_failure(&error), error.to_string()),
        }
        self.finished(&run_id, ready.instantiation)
    }

    /// Ends a claimed run `failed` with `failure`; a run this host's
    /// shutdown stopped ends kind `shutdown` whatever stopped it first.
    fn fail_claim(
        &self,
        claim: &Claim,
        check: Option<UpstreamCheck>,
        failure: Failure,
        instantiation: Option<Duration>,
    ) -> Result<RunRecord, StoreError> {
        let run_id = &claim.record.run_id;
        let (kind, message) = if claim.lease.stopped_by_shutdown() {
            (ErrorKind::Shutdown, SHUTDOWN_MESSAGE.to_string())
        } else {
            (failure.kind, failure.message)
        };
        tracing::warn!(
            processor = %claim.plugin.spec.name, date = %claim.record.data_date,
            run_id = %run_id, kind = %kind, "run failed: {message}"
        );
        let end = RunEnd {
            status: RunStatus::Failed,
            error_kind: Some(kind),
            message,
            rows_read: failure.rows_read as i64,
            limit: failure.limit,
            usage: failure.usage,
            upstream_check: check,
        };
        match self.store.end_run(run_id, &end) {
            // A shutdown already failed it: the record says so.
            Ok(()) | Err(StoreError::NotRunning(_)) => self.finished(run_id, instantiation),
            Err(error) => {
                self.given_up(&claim.record, &error);
                Err(error)
            }
        }
    }

    /// Ends a claimed run without executing it: `blocked` (kind
    /// `upstream`), or `failed` with `kind`. `check` is the completeness
    /// check that blocked it, if one did: recorded with the run. One to be
    /// blocked while its host shuts down ends `failed`, kind `shutdown`,
    /// as its host said it would: the check that decided it stopped
    /// waiting for a running upstream when the shutdown came.
    pub fn end_claim(
        &self,
        claim: Claim,
        status: RunStatus,
        kind: Option<ErrorKind>,
        reason: String,
        check: Option<UpstreamCheck>,
    ) -> Result<RunRecord, StoreError> {
        let run_id = claim.record.run_id.clone();
        let (status, kind, reason) = match status {
            RunStatus::Blocked if claim.lease.stopped_by_shutdown() => (
                RunStatus::Failed,
                Some(ErrorKind::Shutdown),
                format!("its host shut down before it ran (it would have been blocked: {reason})"),
            ),
            RunStatus::Blocked => (status, kind.or(Some(ErrorKind::Upstream)), reason),
            _ => (status, kind, reason),
        };
        let end = RunEnd {
            status,
            error_kind: kind,
            message: reason,
            rows_read: 0,
            limit: None,
            usage: RunUsage::default(),
            upstream_check: check,
        };
        match self.store.end_run(&run_id, &end) {
            // A shutdown already failed it: the record says so.
            Ok(()) | Err(StoreError::NotRunning(_)) => {}
            Err(error) => {
                self.given_up(&claim.record, &error);
                return Err(error);
            }
        }
        self.leases.settle(&run_id);
        drop(claim);
        self.finished(&run_id, None)
    }

    /// Gives up `claim` because the store failed with `error` on its way
    /// (a completeness check that could not be read): its end cannot be
    /// recorded now, and the lease keeper hands it to the reaper, with the
    /// error, once the store answers ([`crate::liveness`]).
    pub fn give_up(&self, claim: Claim, error: &StoreError) {
        self.given_up(&claim.record, error);
        drop(claim);
    }

    /// Notes the store's `error` for the lease keeper, which hands the run
    /// of `record` to the reaper with it, and tells the observers.
    fn given_up(&self, record: &RunRecord, error: &StoreError) {
        self.leases.note_store_error(&record.run_id, error);
        for observer in &self.observers {
            observer.run_given_up(record, error);
        }
    }

    /// Tells every run this host holds to stop because it is shutting
    /// down; each ends `failed`, kind `shutdown`.
    pub fn stop_all_for_shutdown(&self) -> usize {
        self.leases.stop_all_for_shutdown()
    }

    /// Fails every run this host still holds as `running` in the store,
    /// kind `shutdown`: the last step of a shutdown, so that no `running`
    /// record outlives the host. Returns the runs it ended.
    pub fn fail_leftover_runs(&self) -> Result<Vec<String>, StoreError> {
        let running = self.store.runs(&RunFilter {
            status: Some(RunStatus::Running),
            ..RunFilter::default()
        })?;
        let mut ended = Vec::new();
        for run in running.iter().filter(|r| r.host_id == self.host_id) {
            let end = RunEnd {
                status: RunStatus::Failed,
                error_kind: Some(ErrorKind::Shutdown),
                message: SHUTDOWN_MESSAGE.to_string(),
                rows_read: 0,
                limit: None,
                usage: RunUsage::default(),
                upstream_check: None,
            };
            match self.store.end_run(&run.run_id, &end) {
                Ok(()) => ended.push(run.run_id.clone()),
                // It ended on its own meanwhile.
                Err(StoreError::NotRunning(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(ended)
    }

    /// Both completeness checks for `spec` on `date`, after reaping stale
    /// runs so that a dead upstream reads as stale, not running.
    /// `output_of` gives an upstream's table; `calendar` is the schedule.
    pub fn completeness(
        &self,
        spec: &ProcessorSpec,
        date: NaiveDate,
        output_of: impl Fn(&str) -> Option<TableName>,
        calendar: &TableName,
    ) -> Result<UpstreamCheck, StoreError> {
        let mut checks = self.completeness_on(spec, &[date], output_of, calendar)?;
        Ok(checks.pop().expect("one check per date"))
    }

    /// [`Executor::completeness`] for each of `dates`, in order, with one
    /// reaping and one read of each fact for them all
    /// ([`completeness::check_dates`]).
    ///
    /// An upstream run of a date that is live and running belongs to
    /// another invocation (an invocation runs its upstreams first): a
    /// second request for the date, a backfill over it, a schedule's tick.
    /// The check waits for that run to end, reading again, rather than
    /// record `blocked` behind a run that is about to succeed. It waits at
    /// most one lease: a run claimed but queued behind this one on the same
    /// worker pool would otherwise never start, and past that wait the run
    /// is decided on as running, as it always was.
    pub fn completeness_on(
        &self,
        spec: &ProcessorSpec,
        dates: &[NaiveDate],
        output_of: impl Fn(&str) -> Option<TableName>,
        calendar: &TableName,
    ) -> Result<Vec<UpstreamCheck>, StoreError> {
        if dates.is_empty() {
            return Ok(Vec::new());
        }
        let waiting_since = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            self.leases.reap_now()?;
            let checks = completeness::check_dates(
                self.store.as_ref(),
                spec,
                dates,
                &output_of,
                calendar,
                chrono::Utc::now(),
            )?;
            let running = checks
                .iter()
                .flat_map(|check| &check.upstreams)
                .find(|decision| decision.status == UpstreamStatus::Running);
            let Some(running) = running else {
                return Ok(checks);
            };
            // A host shutting down waits no longer: the run it decides
            // ends `shutdown` ([`Executor::end_claim`]).
            if waiting_since.elapsed() >= self.leases.config().lease
                || self.leases.is_shutting_down()
            {
                return Ok(checks);
            }
            tracing::info!(processor = %spec.name, "waiting: {}", running.reason);
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// Whether `spec` may write its output table: the table must be its
    /// own, or no one's yet ([`ownership`]), and an existing table must be
    /// able to take its schema. Creates nothing: the commit does.
    fn may_write_output(&self, spec: &ProcessorSpec) -> Result<(), StoreError> {
        let claimant = Claimant::of(spec);
        let recorded = self.store.table_owner(&spec.output_table)?;
        ownership::decide(claimant, recorded.as_ref(), &self.store.host_owned())?;
        self.store
            .check_output_table(&spec.output_table, &spec.schema)
    }

    /// Why `spec`'s runs may not write its output table
    /// ([`Executor::may_write_output`]), as the failure they end with:
    /// kind `ownership` for a table that is not its own, `load` when the
    /// store could not tell.
    fn output_refusal(&self, spec: &ProcessorSpec) -> Option<Failure> {
        match self.may_write_output(spec) {
            Ok(()) => None,
            Err(StoreError::Ownership(refused)) => {
                Some(Failure::new(ErrorKind::Ownership, refused.to_string(), 0))
            }
            Err(error) => Some(Failure::new(load_failure(&error), error.to_string(), 0)),
        }
    }

    /// Reads the final record and tells the observers.
    fn finished(
        &self,
        run_id: &str,
        instantiation: Option<Duration>,
    ) -> Result<RunRecord, StoreError> {
        self.leases.settle(run_id);
        let record = self.record(run_id)?;
        self.tell_ended(&record, instantiation);
        Ok(record)
    }

    /// Tells the observers that a run ended with `record`.
    fn tell_ended(&self, record: &RunRecord, instantiation: Option<Duration>) {
        for observer in &self.observers {
            observer.run_ended(record, instantiation);
        }
    }

    fn record(&self, run_id: &str) -> Result<RunRecord, StoreError> {
        self.store
            .run(run_id)?
            .ok_or_else(|| StoreError::NotRunning(run_id.to_string()))
    }
}

/// What evaluating a claimed run came to. One per run, moved a couple of
/// times: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Evaluation {
    /// The run ended failed: its final record.
    Ended(RunRecord),
    /// The processor ran; its rows wait for the commit.
    Ready(ReadyToCommit),
}

/// A claimed run whose processor ran, with the rows it is to commit.
struct ReadyToCommit {
    claim: Claim,
    check: Option<UpstreamCheck>,
    evaluated: Evaluated,
    instantiation: Option<Duration>,
}

impl ReadyToCommit {
    /// What the store commits for this run.
    fn output(&self) -> RunOutput<'_> {
        let spec = &self.claim.plugin.spec;
        RunOutput {
            processor: &spec.name,
            table: &spec.output_table,
            schema: &spec.schema,
            date: self.claim.record.data_date,
            rows: &self.evaluated.rows,
            rows_read: self.evaluated.rows_read as i64,
            quarantined: &self.evaluated.quarantined,
            rows_with_quality_issues: self.evaluated.rows_with_quality_issues,
            usage: self.evaluated.usage,
            upstream_check: self.check.as_ref(),
        }
    }
}
/// The kind of a run that could not write its rows because of `error`:
/// `unreachable` when the store could not be reached, which a backfill
/// runs again, else `load`.
fn load_failure(error: &StoreError) -> ErrorKind {
    match error {
        StoreError::Unreachable(_) => ErrorKind::Unreachable,
        _ => ErrorKind::Load,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_the_store_could_not_be_reached_to_write_fail_as_unreachable_others_as_load() {
        let unreachable = StoreError::Unreachable("no PostgreSQL connection".into());
        assert_eq!(load_failure(&unreachable), ErrorKind::Unreachable);
        let refused = StoreError::backend("PostgreSQL 23505: duplicate key");
        assert_eq!(load_failure(&refused), ErrorKind::Load);
    }
}
