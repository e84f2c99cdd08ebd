//! Backfilling a range of dates: deciding which (processor, date) runs to
//! redo, and running them in dependency order, independent ones in parallel.
//!
//! Which runs are planned depends on the reprocess mode and each
//! (processor, date)'s latest run: `missing` plans only those never run,
//! `failed` only those whose latest run failed or was blocked, `outdated`
//! only those [`crate::outdated`] finds (another version wrote them, or
//! their upstream changed), `all` every one.
//!
//! Order: a run makes the same checks as `slate run`, and waits for the
//! runs those checks read. On its own date: its selected upstreams' and,
//! under the `block` upstream policy, those of every earlier phase (the
//! phase gate). On earlier dates, for a processor with a lookback: each of
//! its selected upstreams' runs of the range, since it reads them.
//! Everything else is independent, so the processors of one phase that do
//! not read each other, and different dates, run in parallel, up to the
//! requested parallelism.
//!
//! Progress is reported through a callback; printing and HTTP belong to the
//! callers.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

use chrono::NaiveDate;
use serde::Serialize;

use crate::dates;
use crate::executor::Executor;
use crate::outdated;
use crate::pipeline::Pipeline;
use crate::plugin::spec::{Lookback, ProcessorSpec};
use crate::runs::{RunFilter, RunRecord, RunStatus, Trigger};
use crate::store::{Store, StoreError};
use crate::upstream_check::Gap;

/// The most dates one backfill may cover.
pub const MAX_DATES: usize = 3660;

/// Which (processor, date) runs a backfill redoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reprocess {
    /// Only those that never ran.
    #[default]
    Missing,
    /// Only those whose latest run failed or was blocked.
    Failed,
    /// Only those whose rows the active versions would not have written
    /// ([`crate::outdated`]).
    Outdated,
    /// Every one.
    All,
}

crate::runs::text_enum!(Reprocess {
    Missing => "missing", Failed => "failed", Outdated => "outdated", All => "all",
});

/// Why a backfill cannot start.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The range ends before it starts.
    #[error("end_date {end} is before start_date {start}")]
    EndBeforeStart {
        /// The first date.
        start: NaiveDate,
        /// The last date.
        end: NaiveDate,
    },
    /// The range is longer than [`MAX_DATES`].
    #[error("the range {start}..{end} has {days} dates; at most {MAX_DATES} are allowed")]
    TooLong {
        /// The first date.
        start: NaiveDate,
        /// The last date.
        end: NaiveDate,
        /// How many dates it covers.
        days: usize,
    },
    /// The parallelism is zero.
    #[error("parallelism must be at least 1")]
    ZeroParallelism,
    /// The store failed while planning.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to backfill.
#[derive(Debug, Clone)]
pub struct BackfillRequest {
    /// The first date.
    pub start: NaiveDate,
    /// The last date, included.
    pub end: NaiveDate,
    /// Processor names in pipeline order (from [`Pipeline::select`]).
    pub selection: Vec<String>,
    /// Which runs to redo.
    pub reprocess: Reprocess,
    /// How many runs may execute at once.
    pub parallelism: usize,
}

/// One planned run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct PlannedRun {
    /// The processor.
    pub processor: String,
    /// The date.
    pub date: NaiveDate,
}

/// The runs a backfill will execute, and how many it leaves alone.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Plan {
    /// The dates of the range to run, in order: those with games when the
    /// pipeline has a calendar, else every one.
    pub dates: Vec<NaiveDate>,
    /// Dates of the range left out for having no games.
    pub dates_without_games: usize,
    /// The selected processors, in pipeline order.
    pub selection: Vec<String>,
    /// The runs to execute.
    pub runs: Vec<PlannedRun>,
    /// (processor, date) pairs left alone under the reprocess mode.
    pub left_alone: usize,
}

/// How one planned run ended.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Outcome {
    /// The processor.
    pub processor: String,
    /// The date.
    pub date: NaiveDate,
    /// Its final status; `None` when it could not even be claimed.
    pub status: Option<RunStatus>,
    /// The run, when one was recorded.
    pub run_id: Option<String>,
    /// Rows written.
    pub rows: i64,
    /// Why it did not succeed.
    pub error: Option<String>,
    /// The run of another invocation (a request, another backfill) that
    /// held the (processor, date) when this one came to claim it: the
    /// work was left to that run, which is not a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
    /// The lookback gaps a run that went ahead flagged in its rows'
    /// `data_quality_issues`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lookback_gaps: Vec<Gap>,
    /// The store failed as it was claimed, or as its end was recorded: it
    /// never ran, or was given up, to be reaped with the store's error
    /// once the store answers ([`crate::liveness`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub store_failed: bool,
}

/// How a planned run ended, as a backfill counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It committed its rows.
    Succeeded,
    /// It failed, or could not be claimed for a reason other than a run
    /// holding it.
    Failed,
    /// An upstream check blocked it.
    Blocked,
    /// Another invocation's run held it; left to that run.
    NotStarted,
}

impl Outcome {
    /// How it ended.
    pub fn ended(&self) -> Ended {
        match (self.status, &self.held_by) {
            (Some(RunStatus::Success), _) => Ended::Succeeded,
            (Some(RunStatus::Blocked), _) => Ended::Blocked,
            (None, Some(_)) => Ended::NotStarted,
            // An outcome is of an ended run; one still `running` did not succeed.
            (Some(RunStatus::Failed | RunStatus::Running), _) | (None, None) => Ended::Failed,
        }
    }

    /// Whether the run failed or could not be claimed (other than because
    /// another run held it).
    pub fn is_failure(&self) -> bool {
        self.ended() == Ended::Failed
    }

    /// Whether the run was blocked by an upstream check.
    pub fn is_blocked(&self) -> bool {
        self.ended() == Ended::Blocked
    }

    /// How a recorded run ended.
    pub fn from_record(record: &RunRecord) -> Self {
        Outcome {
            processor: record.processor.clone(),
            date: record.data_date,
            status: Some(record.status),
            run_id: Some(record.run_id.clone()),
            rows: record.rows_written,
            error: record.error_message.clone(),
            held_by: None,
            lookback_gaps: match (record.status, &record.upstream_check) {
                (RunStatus::Success, Some(check)) => check.gaps.clone(),
                _ => Vec::new(),
            },
            store_failed: false,
        }
    }

    /// A run of `processor` on `date` whose claim, or the record of whose
    /// end, the store refused with `error`: left to the run that holds it,
    /// or failed for the store.
    pub fn unclaimed(processor: &str, date: NaiveDate, error: &StoreError) -> Self {
        match error {
            StoreError::AlreadyRunning { run_id, .. } => {
                Self::not_run(processor, date, error.to_string(), Some(run_id.clone()))
            }
            _ => Outcome {
                store_failed: true,
                ..Self::not_run(processor, date, error.to_string(), None)
            },
        }
    }

    /// A run of `processor` on `date` not started because the processor
    /// was undeployed during the backfill: a failure, so that it shows.
    pub fn undeployed(processor: &str, date: NaiveDate) -> Self {
        let why = format!("{processor} was undeployed during the backfill: not run");
        Self::not_run(processor, date, why, None)
    }

    /// A run of `processor` on `date` that recorded nothing, and why.
    fn not_run(processor: &str, date: NaiveDate, why: String, held_by: Option<String>) -> Self {
        Outcome {
            processor: processor.to_string(),
            date,
            status: None,
            run_id: None,
            rows: 0,
            error: Some(why),
            held_by,
            lookback_gaps: Vec::new(),
            store_failed: false,
        }
    }
}

/// Every date from `start` to `end`, checked.
pub fn dates_between(start: NaiveDate, end: NaiveDate) -> Result<Vec<NaiveDate>, BackfillError> {
    if end < start {
        return Err(BackfillError::EndBeforeStart { start, end });
    }
    let days = (end - start).num_days() as usize + 1;
    if days > MAX_DATES {
        return Err(BackfillError::TooLong { start, end, days });
    }
    Ok(start.iter_days().take(days).collect())
}

/// Decides which runs `request` redoes, from each (processor, date)'s
/// latest run (and, for `outdated`, `pipeline`'s active versions).
pub fn plan(
    store: &dyn Store,
    pipeline: &Pipeline,
    request: &BackfillRequest,
) -> Result<Plan, BackfillError> {
    if request.parallelism == 0 {
        return Err(BackfillError::ZeroParallelism);
    }
    let range = dates_between(request.start, request.end)?;
    // With a calendar, the pipeline's dates are its game dates, as for the
    // demo, the gap check and `slate health`: a day without games is not
    // a date to run, so a complete store has nothing `missing`.
    let games = dates::scheduled_games(store, pipeline.calendar())?;
    let (dates, without_games): (Vec<NaiveDate>, Vec<NaiveDate>) = range
        .into_iter()
        .partition(|date| games.is_empty() || games.contains_key(date));
    let outdated: HashSet<(String, NaiveDate)> = match request.reprocess {
        Reprocess::Outdated => outdated::in_store(store, pipeline, None)?
            .into_iter()
            .map(|o| (o.processor, o.date))
            .collect(),
        _ => HashSet::new(),
    };
    let mut runs = Vec::new();
    let mut left_alone = 0;
    for processor in &request.selection {
        let history = store.runs(&RunFilter {
            processor: Some(processor.clone()),
            ..RunFilter::default()
        })?;
        // Newest first: the first record of each date is its latest.
        let mut latest: HashMap<NaiveDate, RunStatus> = HashMap::new();
        for record in &history {
            latest.entry(record.data_date).or_insert(record.status);
        }
        for date in &dates {
            let redo = match (request.reprocess, latest.get(date)) {
                (Reprocess::All, _) => true,
                (Reprocess::Missing, latest) => latest.is_none(),
                (Reprocess::Failed, Some(status)) => {
                    matches!(status, RunStatus::Failed | RunStatus::Blocked)
                }
                (Reprocess::Failed, None) => false,
                (Reprocess::Outdated, _) => outdated.contains(&(processor.clone(), *date)),
            };
            if redo {
                runs.push(PlannedRun {
                    processor: processor.clone(),
                    date: *date,
                });
            } else {
                left_alone += 1;
            }
        }
    }
    Ok(Plan {
        dates,
        dates_without_games: without_games.len(),
        selection: request.selection.clone(),
        runs,
        left_alone,
    })
}

/// The scheduler's shared state: which runs are planned, started, finished.
struct Schedule {
    /// Per processor (selection index), per date index: planned and not started.
    pending: Vec<Vec<bool>>,
    /// Per processor, per date index: finished (or never planned).
    finished: Vec<Vec<bool>>,
    /// This backfill's records per date, for the phase gate.
    records: BTreeMap<usize, Vec<RunRecord>>,
    /// Runs executing now.
    running: usize,
    /// Planned runs not yet finished.
    remaining: usize,
}

/// Executes `plan` with up to `parallelism` runs at once, calling
/// `on_outcome` as each run ends. Once `stop` is set, no further run
/// starts; the runs not started are left out of the outcomes. On a store
/// that commits several dates together (BigQuery), the plan runs in chunks
/// of dates instead, one run at a time (`run_in_chunks`).
pub fn run(
    pipeline: &Pipeline,
    executor: &Executor,
    plan: &Plan,
    parallelism: usize,
    stop: &AtomicBool,
    on_outcome: &(dyn Fn(&Outcome) + Sync),
) -> Vec<Outcome> {
    run_while_deployed(
        pipeline,
        executor,
        plan,
        parallelism,
        stop,
        on_outcome,
        &|_| true,
    )
}

/// [`run`], asking `still_deployed` before each run (or chunk) whether
/// its processor is still deployed: a server's backfill, whose processor
/// may be undeployed while it runs. A run of one undeployed starts no
/// more: each ends [`Outcome::undeployed`].
pub fn run_while_deployed(
    pipeline: &Pipeline,
    executor: &Executor,
    plan: &Plan,
    parallelism: usize,
    stop: &AtomicBool,
    on_outcome: &(dyn Fn(&Outcome) + Sync),
    still_deployed: &(dyn Fn(&str) -> bool + Sync),
) -> Vec<Outcome> {
    let backfill = Backfill {
        pipeline,
        executor,
        plan,
        stop,
        on_outcome,
        still_deployed,
    };
    let outcomes = match executor.store().commit_batch_dates() {
        Some(chunk) if chunk > 1 => {
            if parallelism > 1 {
                tracing::info!(
                    "this store commits {chunk} dates of a processor together: \
                     the backfill runs one run at a time, not {parallelism}"
                );
            }
            run_in_chunks(backfill, chunk)
        }
        _ => run_scheduled(backfill, parallelism),
    };
    // A store that fails (a full disk) fails every date alike: said once,
    // with the dates, not a line per date.
    let store = executor.store().as_ref();
    let unrecorded: Vec<(NaiveDate, StoreError)> = (plan.dates.iter())
        .filter_map(|date| {
            let recorded = crate::alerts::phase::record_phase_events(store, pipeline, *date);
            recorded.err().map(|error| (*date, error))
        })
        .collect();
    if let (Some((first, error)), Some((last, _))) = (unrecorded.first(), unrecorded.last()) {
        let dates = match unrecorded.len() {
            1 => first.to_string(),
            n => format!("{n} dates from {first} to {last}"),
        };
        tracing::warn!("phase events not recorded for {dates}: {error}");
    }
    outcomes
}

/// What one execution of a plan works with.
#[derive(Clone, Copy)]
struct Backfill<'a> {
    pipeline: &'a Pipeline,
    executor: &'a Executor,
    plan: &'a Plan,
    stop: &'a AtomicBool,
    on_outcome: &'a (dyn Fn(&Outcome) + Sync),
    still_deployed: &'a (dyn Fn(&str) -> bool + Sync),
}

/// On a store that commits several dates of a processor together
/// (BigQuery, whose load jobs per table per day are limited): the plan's
/// dates in chunks of `chunk` dates, and in each chunk each processor in
/// dependency order, its runs committed together
/// ([`Pipeline::run_together`]). A date is still all old rows or all new.
/// Runs go one after another: what a chunk saves is BigQuery jobs.
fn run_in_chunks(backfill: Backfill<'_>, chunk: usize) -> Vec<Outcome> {
    let plan = backfill.plan;
    let planned: HashSet<(&str, NaiveDate)> = plan
        .runs
        .iter()
        .map(|r| (r.processor.as_str(), r.date))
        .collect();
    let mut outcomes = Vec::with_capacity(plan.runs.len());
    for dates in plan.dates.chunks(chunk) {
        let mut earlier: BTreeMap<NaiveDate, Vec<RunRecord>> = BTreeMap::new();
        for name in &plan.selection {
            if backfill.stop.load(Ordering::SeqCst) {
                return outcomes;
            }
            let dates: Vec<NaiveDate> = dates
                .iter()
                .filter(|d| planned.contains(&(name.as_str(), **d)))
                .copied()
                .collect();
            if !(backfill.still_deployed)(name) {
                for date in dates {
                    let outcome = Outcome::undeployed(name, date);
                    (backfill.on_outcome)(&outcome);
                    outcomes.push(outcome);
                }
                continue;
            }
            for (date, ran) in backfill.pipeline.run_together(
                backfill.executor,
                name,
                &dates,
                Trigger::Backfill,
                &earlier,
            ) {
                let outcome = match ran {
                    Ok(record) => {
                        let outcome = Outcome::from_record(&record);
                        earlier.entry(date).or_default().push(record);
                        outcome
                    }
                    Err(error) => Outcome::unclaimed(name, date, &error),
                };
                (backfill.on_outcome)(&outcome);
                outcomes.push(outcome);
            }
        }
    }
    outcomes
}

/// Runs `plan` with up to `parallelism` runs at once, each as soon as its
/// upstreams' runs have ended, committing each run alone.
fn run_scheduled(backfill: Backfill<'_>, parallelism: usize) -> Vec<Outcome> {
    let Backfill {
        pipeline,
        executor,
        plan,
        stop,
        on_outcome,
        still_deployed,
    } = backfill;
    let (processors, dates) = (plan.selection.len(), plan.dates.len());
    let date_index: HashMap<NaiveDate, usize> = plan
        .dates
        .iter()
        .enumerate()
        .map(|(i, d)| (*d, i))
        .collect();
    let processor_index: HashMap<&str, usize> = plan
        .selection
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let mut pending = vec![vec![false; dates]; processors];
    let mut finished = vec![vec![true; dates]; processors];
    for planned in &plan.runs {
        let (p, d) = (
            processor_index[planned.processor.as_str()],
            date_index[&planned.date],
        );
        pending[p][d] = true;
        finished[p][d] = false;
    }
    let specs: Vec<&ProcessorSpec> = plan
        .selection
        .iter()
        .map(|name| {
            pipeline
                .plugin(name)
                .expect("a selected processor")
                .spec
                .as_ref()
        })
        .collect();
    let selected_upstreams = |spec: &ProcessorSpec| -> Vec<usize> {
        spec.upstream
            .iter()
            .filter_map(|u| processor_index.get(u.as_str()).copied())
            .collect()
    };
    // For each processor: the selected runs of its own date that its
    // checks read, its upstreams' and, under the `block` policy, those of
    // every earlier phase (the phase gate). The rest of the date's
    // processors are independent of it and may run beside it.
    let waits_on_its_date: Vec<Vec<usize>> = specs
        .iter()
        .map(|spec| {
            let mut waits = selected_upstreams(spec);
            waits.extend((0..processors).filter(|&q| spec.gated_by(specs[q])));
            waits
        })
        .collect();
    // For each processor: the selected upstreams whose earlier dates it waits for.
    let waits_for_earlier: Vec<Vec<usize>> = specs
        .iter()
        .map(|spec| {
            let mut upstreams = selected_upstreams(spec);
            upstreams.retain(|&u| spec.lookback_of(&specs[u].name) != Lookback::None);
            upstreams
        })
        .collect();
    let schedule = Mutex::new(Schedule {
        pending,
        finished,
        records: BTreeMap::new(),
        running: 0,
        remaining: plan.runs.len(),
    });
    let wake = Condvar::new();
    let outcomes = Mutex::new(Vec::with_capacity(plan.runs.len()));

    let ready = |s: &Schedule, p: usize, d: usize| {
        s.pending[p][d]
            && waits_on_its_date[p].iter().all(|&q| s.finished[q][d])
            && waits_for_earlier[p]
                .iter()
                .all(|&u| s.finished[u][..d].iter().all(|done| *done))
    };
    let worker = || {
        loop {
            let (p, d, earlier) = {
                let mut s = schedule.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if s.remaining == 0 || (stop.load(Ordering::SeqCst) && s.running == 0) {
                        wake.notify_all();
                        return;
                    }
                    let next = (!stop.load(Ordering::SeqCst))
                        .then(|| {
                            (0..dates)
                                .flat_map(|d| (0..processors).map(move |p| (p, d)))
                                .find(|&(p, d)| ready(&s, p, d))
                        })
                        .flatten();
                    if let Some((p, d)) = next {
                        s.pending[p][d] = false;
                        s.running += 1;
                        let earlier = s.records.get(&d).cloned().unwrap_or_default();
                        break (p, d, earlier);
                    }
                    // A timeout, so that a stop is seen even with nothing running.
                    s = wake
                        .wait_timeout(s, std::time::Duration::from_millis(100))
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            };
            let (name, date) = (&plan.selection[p], plan.dates[d]);
            let outcome = if !still_deployed(name) {
                Outcome::undeployed(name, date)
            } else {
                match pipeline.run_one(executor, name, date, Trigger::Backfill, &earlier) {
                    Ok(record) => {
                        let outcome = Outcome::from_record(&record);
                        let mut s = schedule.lock().unwrap_or_else(|e| e.into_inner());
                        s.records.entry(d).or_default().push(record);
                        outcome
                    }
                    Err(error) => Outcome::unclaimed(name, date, &error),
                }
            };
            on_outcome(&outcome);
            outcomes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(outcome);
            let mut s = schedule.lock().unwrap_or_else(|e| e.into_inner());
            s.finished[p][d] = true;
            s.running -= 1;
            s.remaining -= 1;
            wake.notify_all();
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..parallelism.max(1) {
            scope.spawn(worker);
        }
    });
    outcomes.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Per processor: how many runs succeeded, failed and were blocked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Tally {
    /// Runs that committed their rows.
    pub succeeded: usize,
    /// Runs that failed or could not be claimed.
    pub failed: usize,
    /// Runs blocked by an upstream check.
    pub blocked: usize,
    /// Runs another invocation's run held, left to it.
    pub not_started: usize,
    /// Rows written.
    pub rows: i64,
    /// Runs that succeeded with lookback gaps flagged in their rows.
    #[serde(default)]
    pub flagged_gaps: usize,
}

impl Tally {
    /// Counts one outcome.
    pub fn count(&mut self, outcome: &Outcome) {
        *self.counter(outcome) += 1;
        self.rows += outcome.rows;
        self.flagged_gaps += usize::from(!outcome.lookback_gaps.is_empty());
    }

    /// The count an outcome goes to, by how it ended.
    fn counter(&mut self, outcome: &Outcome) -> &mut usize {
        match outcome.ended() {
            Ended::Succeeded => &mut self.succeeded,
            Ended::Failed => &mut self.failed,
            Ended::Blocked => &mut self.blocked,
            Ended::NotStarted => &mut self.not_started,
        }
    }

    /// How many runs it counted, however they ended.
    pub fn ended(&self) -> usize {
        self.succeeded + self.failed + self.blocked + self.not_started
    }

    /// Whether every run succeeded or was left to another run: what a
    /// command's exit code says.
    pub fn all_well(&self) -> bool {
        self.failed == 0 && self.blocked == 0
    }
}

/// The lookback gaps `outcomes` flagged, each (upstream, date) once, by
/// date: what a summary names beside its counts.
pub fn flagged_gaps(outcomes: &[Outcome]) -> Vec<Gap> {
    let gaps: BTreeSet<(NaiveDate, &str)> = outcomes
        .iter()
        .flat_map(|o| &o.lookback_gaps)
        .map(|gap| (gap.date, gap.upstream.as_str()))
        .collect();
    gaps.into_iter()
        .map(|(date, upstream)| Gap {
            date,
            upstream: upstream.to_string(),
        })
        .collect()
}

/// Tallies outcomes per processor.
pub fn tally(outcomes: &[Outcome]) -> BTreeMap<String, Tally> {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for outcome in outcomes {
        tallies
            .entry(outcome.processor.clone())
            .or_default()
            .count(outcome);
    }
    tallies
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::UnknownName;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_range_lists_every_date_and_refuses_to_run_backwards() {
        let dates = dates_between(day("2026-01-30"), day("2026-02-02")).unwrap();
        assert_eq!(
            dates,
            ["2026-01-30", "2026-01-31", "2026-02-01", "2026-02-02"].map(day)
        );
        let error = dates_between(day("2026-02-02"), day("2026-01-30")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "end_date 2026-01-30 is before start_date 2026-02-02"
        );
    }

    #[test]
    fn a_run_another_invocation_held_is_not_started_not_failed_and_blocked_is_not_all_well() {
        let held = StoreError::AlreadyRunning {
            run_id: "r1".into(),
            started_at: chrono::Utc::now(),
        };
        let day = day("2026-01-11");
        let left = Outcome::unclaimed("A", day, &held);
        assert_eq!(
            (left.ended(), left.held_by.as_deref()),
            (Ended::NotStarted, Some("r1"))
        );
        assert!(!left.is_failure());
        let broken = Outcome::unclaimed("A", day, &StoreError::NotRunning("r2".into()));
        assert_eq!(broken.ended(), Ended::Failed);

        let mut tally = Tally::default();
        tally.count(&left);
        assert!(tally.all_well(), "left to the other run: {tally:?}");
        tally.count(&Outcome {
            status: Some(RunStatus::Blocked),
            ..left.clone()
        });
        assert_eq!((tally.not_started, tally.blocked), (1, 1));
        assert!(!tally.all_well(), "a blocked run did not succeed");
    }

    #[test]
    fn reprocess_modes_parse_and_name_the_choices_when_wrong() {
        assert_eq!("failed".parse::<Reprocess>(), Ok(Reprocess::Failed));
        let error = "some".parse::<Reprocess>().unwrap_err();
        assert_eq!(
            error,
            UnknownName {
                given: "some".into(),
                choices: &["missing", "failed", "outdated", "all"],
            }
        );
        assert_eq!(
            error.to_string(),
            "`some` is not one of: missing, failed, outdated, all"
        );
        assert_eq!("outdated".parse::<Reprocess>(), Ok(Reprocess::Outdated));
    }
}
