//! A set of loaded processors, ordered by dependency, run date by date.
//!
//! Before each processor runs for a date, the host reaps stale runs and
//! checks completeness ([`crate::completeness`]): its upstreams' latest runs
//! and the lookback window. A processor that may not run is recorded as
//! `blocked` with the reason, never silently skipped. A downstream phase
//! starts only once the earlier phases in the same invocation are complete,
//! unless its policy is `proceed_if_data_present`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{NaiveDate, Utc};
use serde::Serialize;

use crate::alerts::phase::record_phase_events;
use crate::completeness::{self, ReadWindow, UpstreamCheck};
use crate::dag::{self, DagError};
use crate::executor::{Claim, Executor, SHUTDOWN_MESSAGE};
use crate::plugin::Plugin;
use crate::plugin::spec::{GapPolicy, Lookback, Phase, ProcessorSpec};
use crate::runs::{ErrorKind, RunFilter, RunRecord, RunStatus, Trigger};
use crate::schema::TableName;
use crate::shadow::shadow_of;
use crate::store::{Store, StoreError};
use crate::upstream_check::gap_issues;

/// Why a selection of processors is unusable.
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    /// Requested processors that are not loaded.
    #[error(
        "unknown processor{} {}; known processors: {}",
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        known.join(", ")
    )]
    UnknownProcessor {
        /// Every requested name that is not loaded, in the order given.
        names: Vec<String>,
        /// The names that are loaded.
        known: Vec<String>,
    },
}

/// The schedule table whose dates are the scheduled game dates.
pub fn default_calendar() -> TableName {
    TableName::new("nba_raw", "schedule")
}

/// Whether one phase is complete for one date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseCompletion {
    /// The phase.
    pub phase: Phase,
    /// True only when every processor of the phase committed its rows.
    pub complete: bool,
    /// Each processor of the phase with its latest status for the date
    /// (`None` when it never ran).
    pub processors: Vec<(String, Option<RunStatus>)>,
    /// Rows its processors' latest runs for the date wrote.
    pub rows: i64,
}

/// Loaded processors in dependency order, and the shadow versions that
/// run beside them.
pub struct Pipeline {
    plugins: BTreeMap<String, Plugin>,
    order: Vec<String>,
    calendar: TableName,
    /// Per live processor name, its shadow ([`crate::shadow::shadow_of`]).
    shadows: BTreeMap<String, Plugin>,
    /// Per live processor name, what its shadow version declared, before
    /// [`crate::shadow::shadow_of`] took its upstreams away.
    shadow_declarations: BTreeMap<String, Arc<ProcessorSpec>>,
}

/// What [`Pipeline::run_date`] did with a date.
#[derive(Debug, Default)]
pub struct DateRun {
    /// The runs it made, in the pipeline's order.
    pub records: Vec<RunRecord>,
    /// The processors it did not start, each with the error naming the
    /// run of another process that held its date.
    pub not_started: Vec<(String, StoreError)>,
}

impl Pipeline {
    /// Orders `plugins` by their declared dependencies.
    pub fn new(plugins: Vec<Plugin>) -> Result<Self, DagError> {
        let order = dag::order(plugins.iter().map(|p| p.spec.as_ref()))?;
        let plugins = plugins
            .into_iter()
            .map(|p| (p.spec.name.clone(), p))
            .collect();
        Ok(Pipeline {
            plugins,
            order,
            calendar: default_calendar(),
            shadows: BTreeMap::new(),
            shadow_declarations: BTreeMap::new(),
        })
    }

    /// This pipeline with `versions` as shadows: each is run, as
    /// [`shadow_of`] it, after every run of the processor of its name that
    /// goes ahead. A version of a processor the pipeline does not have, or
    /// the very version that is active, is left out.
    pub fn with_shadows(mut self, versions: Vec<Plugin>) -> Self {
        let shadowing: Vec<&Plugin> = versions
            .iter()
            .filter(|v| {
                self.plugins
                    .get(&v.spec.name)
                    .is_some_and(|live| live.hash != v.hash)
            })
            .collect();
        self.shadows = shadowing
            .iter()
            .map(|v| (v.spec.name.clone(), shadow_of(v)))
            .collect();
        self.shadow_declarations = shadowing
            .iter()
            .map(|v| (v.spec.name.clone(), v.spec.clone()))
            .collect();
        self
    }

    /// The check the shadow of `name` runs on for `date`, given `live`, the
    /// check its live run went ahead on: that one where the two versions
    /// read the same upstreams as far back; else the live decisions with
    /// the gaps of the shadow's own windows, checked now, so that its rows
    /// flag what it reads and a diff shows the difference.
    pub fn shadow_check(
        &self,
        store: &dyn Store,
        name: &str,
        date: NaiveDate,
        live: UpstreamCheck,
    ) -> UpstreamCheck {
        let (Some(declared), Some(active)) =
            (self.shadow_declarations.get(name), self.plugins.get(name))
        else {
            return live;
        };
        let reads = |spec: &ProcessorSpec| {
            let windows: Vec<Lookback> =
                spec.upstream.iter().map(|u| spec.lookback_of(u)).collect();
            (spec.upstream.clone(), windows)
        };
        if reads(declared) == reads(&active.spec) {
            return live;
        }
        let output_of = |name: &str| self.plugins.get(name).map(|p| p.spec.output_table.clone());
        match completeness::check(store, declared, date, output_of, &self.calendar, Utc::now()) {
            Ok(own) => UpstreamCheck {
                gaps: own.gaps,
                read_window: own.read_window,
                ..live
            },
            Err(error) => {
                tracing::warn!(
                    processor = %name, %date,
                    "the shadow's own lookback could not be checked; it gets its live run's: {error}"
                );
                live
            }
        }
    }

    /// What the shadow version of `name` declares (its spec as it runs
    /// has no upstream: nothing waits on a shadow's inputs).
    pub fn shadow_declaration(&self, name: &str) -> Option<&ProcessorSpec> {
        self.shadow_declarations.get(name).map(|spec| spec.as_ref())
    }

    /// How far back a run of `spec` on `date` may read each upstream's
    /// output, with this pipeline's upstream tables and the calendar's
    /// `scheduled` game dates ([`completeness::read_window`]).
    pub fn read_window(
        &self,
        spec: &ProcessorSpec,
        date: NaiveDate,
        scheduled: &BTreeSet<NaiveDate>,
    ) -> ReadWindow {
        let output_of = |name: &str| self.plugins.get(name).map(|p| p.spec.output_table.clone());
        completeness::read_window(spec, date, output_of, scheduled)
    }

    /// The shadow of `name` (named and writing as a shadow), if it has one.
    pub fn shadow(&self, name: &str) -> Option<&Plugin> {
        self.shadows.get(name)
    }

    /// Every processor name, in run order.
    pub fn order(&self) -> &[String] {
        &self.order
    }

    /// The plugin for a processor name.
    pub fn plugin(&self, name: &str) -> Option<&Plugin> {
        self.plugins.get(name)
    }

    /// The table whose partition dates are the scheduled game dates.
    pub fn calendar(&self) -> &TableName {
        &self.calendar
    }

    /// The requested processors in run order; all of them when `requested` is empty.
    pub fn select(&self, requested: &[String]) -> Result<Vec<String>, SelectionError> {
        let mut unknown: Vec<String> = Vec::new();
        for name in requested {
            if !self.plugins.contains_key(name.as_str()) && !unknown.contains(name) {
                unknown.push(name.clone());
            }
        }
        if !unknown.is_empty() {
            return Err(SelectionError::UnknownProcessor {
                names: unknown,
                known: self.order.clone(),
            });
        }
        Ok(self
            .order
            .iter()
            .filter(|n| requested.is_empty() || requested.contains(n))
            .cloned()
            .collect())
    }

    /// Every loaded plugin, by processor name.
    pub fn plugins(&self) -> impl Iterator<Item = &Plugin> {
        self.plugins.values()
    }

    /// This pipeline with `plugin` in place of the processor of the same
    /// name (or added, for a new name), re-ordered. The processor's shadow
    /// stays, unless it is `plugin` itself: the shadow's own version made
    /// active stops being the shadow, as the registry records it (see
    /// [`Pipeline::with_shadows`]). Fails when the result cannot be
    /// ordered, e.g. the plugin depends on an unknown processor.
    pub fn with_plugin(&self, plugin: Plugin) -> Result<Pipeline, DagError> {
        let name = plugin.spec.name.clone();
        let shadow_made_active = self
            .shadows
            .get(&name)
            .is_some_and(|shadow| shadow.hash == plugin.hash);
        let mut plugins: Vec<Plugin> = self
            .plugins
            .values()
            .filter(|p| p.spec.name != name)
            .cloned()
            .collect();
        plugins.push(plugin);
        let mut pipeline = Pipeline::new(plugins)?;
        pipeline.calendar = self.calendar.clone();
        pipeline.shadows = self.shadows.clone();
        pipeline.shadow_declarations = self.shadow_declarations.clone();
        if shadow_made_active {
            pipeline.shadows.remove(&name);
            pipeline.shadow_declarations.remove(&name);
        }
        Ok(pipeline)
    }

    /// Runs `selection` (names from [`Pipeline::select`]) for one date, in
    /// order. A processor whose date another process holds is not started
    /// (as `POST /process-date` answers) and the rest go on, a downstream
    /// one checked as usual; any other store error stops it.
    pub fn run_date(
        &self,
        executor: &Executor,
        date: NaiveDate,
        selection: &[String],
        trigger: Trigger,
    ) -> Result<DateRun, StoreError> {
        self.run_date_until(executor, date, selection, trigger, &AtomicBool::new(false))
    }

    /// [`Pipeline::run_date`], claiming no further processor once `stop`
    /// is set (an interrupted command): those are left out of the
    /// [`DateRun`], with no record.
    pub fn run_date_until(
        &self,
        executor: &Executor,
        date: NaiveDate,
        selection: &[String],
        trigger: Trigger,
        stop: &AtomicBool,
    ) -> Result<DateRun, StoreError> {
        let mut run = DateRun::default();
        for name in selection {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            match self.run_one(executor, name, date, trigger, &run.records) {
                Ok(record) => run.records.push(record),
                Err(held @ StoreError::AlreadyRunning { .. }) => {
                    run.not_started.push((name.clone(), held));
                }
                Err(error) => return Err(error),
            }
        }
        record_phase_events(executor.store().as_ref(), self, date)?;
        Ok(run)
    }

    /// Runs one processor for one date: claims it, then
    /// [`Pipeline::run_claim`] decides and executes or ends the claim.
    pub fn run_one(
        &self,
        executor: &Executor,
        name: &str,
        date: NaiveDate,
        trigger: Trigger,
        earlier: &[RunRecord],
    ) -> Result<RunRecord, StoreError> {
        let claim = executor.claim(&self.plugins[name], date, trigger)?;
        self.run_claim(executor, claim, earlier)
    }

    /// The one way a claimed run proceeds: the phase gate against
    /// `earlier` (this invocation's records for the same date), then both
    /// completeness checks; a processor that may not run is recorded
    /// `blocked` with the reason, one that may is executed with its
    /// quality issues.
    pub fn run_claim(
        &self,
        executor: &Executor,
        claim: Claim,
        earlier: &[RunRecord],
    ) -> Result<RunRecord, StoreError> {
        let plugin = claim.plugin().clone();
        let date = claim.record().data_date;
        let verdict = match self.decide(executor, &plugin, date, earlier) {
            Ok(verdict) => verdict,
            Err(error) => {
                executor.give_up(claim, &error);
                return Err(error);
            }
        };
        match verdict {
            Verdict::Block { reason, check } => {
                tracing::info!(processor = %plugin.spec.name, %date, "blocked: {reason}");
                executor.end_claim(claim, RunStatus::Blocked, None, reason, check)
            }
            Verdict::Run(check) => {
                let shadow = self.shadows.get(&plugin.spec.name);
                let shadow_check = shadow.map(|_| check.clone());
                let record = executor.execute_claim(claim, Some(check))?;
                if let (Some(shadow), Some(check)) = (shadow, shadow_check) {
                    self.run_shadow(executor, shadow, date, check);
                }
                Ok(record)
            }
        }
    }

    /// Runs `name` on each of `dates` the way [`Pipeline::run_one`] does,
    /// but asks the store once for all of them at each step: the dates are
    /// claimed in one request ([`Executor::claim_dates`]), checked with one
    /// read of each fact ([`Executor::completeness_on`]), and the rows of
    /// the runs that may go ahead are committed together
    /// ([`Executor::execute_claims_together`]): on BigQuery a handful of
    /// jobs for the whole chunk, where date by date it was a dozen per run.
    /// Every run is claimed and checked before any executes, which is
    /// sound because a processor's checks read its upstreams, never its own
    /// output; a processor that reads its own output table runs date by
    /// date. `earlier` holds this invocation's records by date, for the
    /// phase gate.
    pub fn run_together(
        &self,
        executor: &Executor,
        name: &str,
        dates: &[NaiveDate],
        trigger: Trigger,
        earlier: &BTreeMap<NaiveDate, Vec<RunRecord>>,
    ) -> Vec<(NaiveDate, Result<RunRecord, StoreError>)> {
        let plugin = &self.plugins[name];
        let none = Vec::new();
        let earlier_on = |date: &NaiveDate| earlier.get(date).unwrap_or(&none).as_slice();
        if plugin.spec.inputs.contains(&plugin.spec.output_table) {
            return dates
                .iter()
                .map(|date| {
                    let ran = self.run_one(executor, name, *date, trigger, earlier_on(date));
                    (*date, ran)
                })
                .collect();
        }
        let shadow = self.shadows.get(name);
        let mut results: Vec<(NaiveDate, Option<Result<RunRecord, StoreError>>)> = Vec::new();
        // The claims that passed the phase gate, each with its slot in
        // `results`: checked together below.
        let mut gated = Vec::new();
        for (date, claim) in dates
            .iter()
            .zip(executor.claim_dates(plugin, dates, trigger))
        {
            let claim = match claim {
                Ok(claim) => claim,
                Err(error) => {
                    results.push((*date, Some(Err(error))));
                    continue;
                }
            };
            match self.phase_gate(&plugin.spec, *date, earlier_on(date)) {
                Some(reason) => {
                    tracing::info!(processor = %name, %date, "blocked: {reason}");
                    let ended = executor.end_claim(claim, RunStatus::Blocked, None, reason, None);
                    results.push((*date, Some(ended)));
                }
                None => {
                    gated.push((results.len(), claim));
                    results.push((*date, None));
                }
            }
        }
        let gated_dates: Vec<NaiveDate> = gated.iter().map(|(slot, _)| results[*slot].0).collect();
        let output_of = |name: &str| self.plugins.get(name).map(|p| p.spec.output_table.clone());
        let checks: Vec<Result<UpstreamCheck, StoreError>> =
            match executor.completeness_on(&plugin.spec, &gated_dates, output_of, &self.calendar) {
                Ok(checks) => checks.into_iter().map(Ok).collect(),
                Err(error) => gated_dates.iter().map(|_| Err(error.clone())).collect(),
            };
        let mut to_execute = Vec::new();
        // Each executed run's slot in `results`, with its check when a
        // shadow runs after it.
        let mut executed_at = Vec::new();
        for ((slot, claim), check) in gated.into_iter().zip(checks) {
            let date = results[slot].0;
            match check.map(|check| Self::verdict(&plugin.spec, date, check)) {
                // As in `run_claim`: the store failed, and the claim is
                // given up to the reaper.
                Err(error) => {
                    executor.give_up(claim, &error);
                    results[slot].1 = Some(Err(error));
                }
                Ok(Verdict::Block { reason, check }) => {
                    tracing::info!(processor = %name, %date, "blocked: {reason}");
                    let ended = executor.end_claim(claim, RunStatus::Blocked, None, reason, check);
                    results[slot].1 = Some(ended);
                }
                Ok(Verdict::Run(check)) => {
                    executed_at.push((slot, shadow.map(|_| check.clone())));
                    to_execute.push((claim, Some(check)));
                }
            }
        }
        let executed = executor.execute_claims_together(to_execute);
        for ((slot, check), record) in executed_at.into_iter().zip(executed) {
            let date = results[slot].0;
            if let (Some(shadow), Some(check)) = (shadow, check) {
                self.run_shadow(executor, shadow, date, check);
            }
            results[slot].1 = Some(record);
        }
        results
            .into_iter()
            .map(|(date, result)| (date, result.expect("every run has its result")))
            .collect()
    }

    /// Runs `shadow` on `date` with the check that let its live run go
    /// ahead ([`Pipeline::shadow_check`]). Whatever happens to it is in its
    /// own run record or the log: it never fails the live run.
    fn run_shadow(
        &self,
        executor: &Executor,
        shadow: &Plugin,
        date: NaiveDate,
        live: UpstreamCheck,
    ) {
        let name = crate::shadow::live_name(&shadow.spec.name).unwrap_or(&shadow.spec.name);
        let check = self.shadow_check(executor.store().as_ref(), name, date, live);
        let ran = executor
            .claim(shadow, date, Trigger::Shadow)
            .and_then(|claim| executor.execute_claim(claim, Some(check)));
        match ran {
            Ok(record) => tracing::info!(
                processor = %shadow.spec.name, %date, status = %record.status,
                rows = record.rows_written, "shadow run ended"
            ),
            Err(error) => tracing::warn!(
                processor = %shadow.spec.name, %date,
                "the shadow run could not run: {error}"
            ),
        }
    }

    /// Claims every processor of `selection` for `date` up front, so that
    /// each run has its id before any executes (an HTTP caller that does
    /// not wait gets them at once). A processor that cannot be claimed
    /// (it is already running) comes back with its error.
    pub fn claim_date(
        &self,
        executor: &Executor,
        date: NaiveDate,
        selection: &[String],
        trigger: Trigger,
    ) -> Vec<(String, Result<Claim, StoreError>)> {
        selection
            .iter()
            .map(|name| {
                let claim = executor.claim(&self.plugins[name], date, trigger);
                (name.clone(), claim)
            })
            .collect()
    }

    /// Runs claims from [`Pipeline::claim_date`], in order, each with the
    /// plugin version it was claimed with and after the same checks as
    /// [`Pipeline::run_date`]. Once `stop` is set, the claims not yet
    /// started end `failed`, kind `shutdown`.
    ///
    /// Each claim has its own result, in order: a store error on one (its
    /// end could not be recorded, and it is given up to the reaper) does
    /// not abandon the claims after it, which run, or end, as they would.
    /// Before, the first error dropped every later claim, left `running`
    /// until its lease ran out.
    pub fn run_claims(
        &self,
        executor: &Executor,
        claims: Vec<Claim>,
        stop: &AtomicBool,
    ) -> Vec<Result<RunRecord, StoreError>> {
        let mut results = Vec::with_capacity(claims.len());
        let mut records: Vec<RunRecord> = Vec::with_capacity(claims.len());
        for claim in claims {
            let result = if stop.load(Ordering::SeqCst) {
                executor.end_claim(
                    claim,
                    RunStatus::Failed,
                    Some(ErrorKind::Shutdown),
                    SHUTDOWN_MESSAGE.to_string(),
                    None,
                )
            } else {
                self.run_claim(executor, claim, &records)
            };
            match &result {
                Ok(record) => records.push(record.clone()),
                Err(error) => tracing::error!("a run could not be recorded: {error}"),
            }
            results.push(result);
        }
        let dates: BTreeSet<NaiveDate> = records.iter().map(|r| r.data_date).collect();
        for date in dates {
            if let Err(error) = record_phase_events(executor.store().as_ref(), self, date) {
                tracing::error!(%date, "the phases of the date could not be judged: {error}");
            }
        }
        results
    }

    /// The phase gate, then both completeness checks: whether the run may
    /// go ahead, with the check to record either way.
    fn decide(
        &self,
        executor: &Executor,
        plugin: &Plugin,
        date: NaiveDate,
        earlier: &[RunRecord],
    ) -> Result<Verdict, StoreError> {
        let spec = &plugin.spec;
        if let Some(reason) = self.phase_gate(spec, date, earlier) {
            return Ok(Verdict::Block {
                reason,
                check: None,
            });
        }
        let output_of = |name: &str| self.plugins.get(name).map(|p| p.spec.output_table.clone());
        let checked = executor.completeness(spec, date, output_of, &self.calendar)?;
        Ok(Self::verdict(spec, date, checked))
    }

    /// Why an earlier phase stops `spec` on `date`, if one does: under the
    /// `block` upstream policy, any processor of an earlier phase in
    /// `earlier` (this invocation's records for the date) that did not
    /// succeed.
    fn phase_gate(
        &self,
        spec: &ProcessorSpec,
        date: NaiveDate,
        earlier: &[RunRecord],
    ) -> Option<String> {
        let incomplete: Vec<String> = earlier
            .iter()
            .filter(|r| r.status != RunStatus::Success)
            .filter(|r| {
                self.plugins
                    .get(&r.processor)
                    .is_some_and(|p| spec.gated_by(&p.spec))
            })
            .map(|r| format!("{} is {} (run {})", r.processor, r.status, r.run_id))
            .collect();
        (!incomplete.is_empty()).then(|| {
            format!(
                "an earlier phase is incomplete for {date}: {}",
                incomplete.join(", ")
            )
        })
    }

    /// What a completeness check decides: blocked by an upstream, blocked
    /// by lookback gaps under the `block` gap policy, or free to run.
    fn verdict(spec: &ProcessorSpec, date: NaiveDate, checked: UpstreamCheck) -> Verdict {
        let blocking: Vec<&str> = checked
            .blocking_upstreams()
            .map(|d| d.reason.as_str())
            .collect();
        if !blocking.is_empty() {
            return Verdict::Block {
                reason: blocking.join("; "),
                check: Some(checked),
            };
        }
        let gaps = gap_issues(&checked.gaps);
        if !gaps.is_empty() && spec.gap_policy == GapPolicy::Block {
            return Verdict::Block {
                reason: gaps.join("; "),
                check: Some(checked),
            };
        }
        for gap in &gaps {
            tracing::info!(processor = %spec.name, %date, "{gap}");
        }
        Verdict::Run(checked)
    }

    /// Per phase, whether every processor's rows for `date` were committed.
    pub fn phase_completion(
        &self,
        store: &dyn Store,
        date: NaiveDate,
    ) -> Result<Vec<PhaseCompletion>, StoreError> {
        type Members = (Vec<(String, Option<RunStatus>)>, i64);
        let mut phases: BTreeMap<Phase, Members> = BTreeMap::new();
        // One read of the date's runs, newest first, not one per processor.
        let on_date = store.runs(&RunFilter {
            date: Some(date),
            skip_upstream_check: true,
            ..RunFilter::default()
        })?;
        for name in &self.order {
            let latest = on_date.iter().find(|run| &run.processor == name);
            let phase = self.plugins[name].spec.phase;
            let (members, rows) = phases.entry(phase).or_default();
            members.push((name.clone(), latest.map(|r| r.status)));
            *rows += latest.map_or(0, |r| r.rows_written);
        }
        Ok(phases
            .into_iter()
            .map(|(phase, (processors, rows))| PhaseCompletion {
                phase,
                complete: processors
                    .iter()
                    .all(|(_, s)| *s == Some(RunStatus::Success)),
                processors,
                rows,
            })
            .collect())
    }
}

/// Whether a claimed run goes ahead, with the completeness check that
/// decided it (none when the phase gate stopped it first).
enum Verdict {
    Block {
        reason: String,
        check: Option<UpstreamCheck>,
    },
    /// Its lookback gaps become the rows' data quality issues.
    Run(UpstreamCheck),
}
