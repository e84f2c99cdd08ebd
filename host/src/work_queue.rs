//! Backfills spread over every host that shares a run ledger with a work
//! queue ([`crate::store::work_queue`]): a backfill's plan is enqueued as
//! tasks, and each host takes ready tasks and runs them through the
//! pipeline, as a one-host backfill would: one at a time, or, where the
//! store commits a processor's dates together (tables in BigQuery), a
//! chunk of one processor's ready dates.
//!
//! A task's run is the record of truth. Before running a task, a host
//! looks at the latest run of its (processor, date): one that started after
//! the backfill was enqueued and ended for good (its host died before it
//! could end the task) ends the task instead, so no task runs twice to
//! success; one still running elsewhere puts the task back in the queue.
//!
//! The host that ends a date's last task records the date's phase events
//! ([`crate::alerts::phase`]), once, as a one-host backfill does after its
//! runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use crate::alerts::phase::record_phase_events;
use crate::backfill::{BackfillRequest, Outcome, Plan};
use crate::executor::Executor;
use crate::pipeline::Pipeline;
use crate::runs::{ErrorKind, RunFilter, RunRecord, RunStatus, Trigger};
use crate::store::StoreError;
use crate::store::work_queue::{Finished, NewBackfill, NewTask, TakenTask, WorkQueue};

/// The tasks of `plan`, each with what it waits for: its processor's
/// upstreams in the plan's selection, whether it looks back, and, under
/// the `block` upstream policy, the selection's earlier phases (the phase
/// gate, as [`crate::backfill::run`] keeps it on one host).
pub fn tasks_of(pipeline: &Pipeline, plan: &Plan) -> Vec<NewTask> {
    plan.runs
        .iter()
        .map(|planned| {
            let spec = &pipeline
                .plugin(&planned.processor)
                .expect("a planned processor is in the pipeline")
                .spec;
            NewTask {
                processor: planned.processor.clone(),
                date: planned.date,
                rank: plan
                    .selection
                    .iter()
                    .position(|name| name == &planned.processor)
                    .unwrap_or_default() as i64,
                upstream: spec
                    .upstream
                    .iter()
                    .filter(|u| plan.selection.contains(u))
                    .cloned()
                    .collect(),
                looks_back: spec.looks_back(),
                phase_gate: plan
                    .selection
                    .iter()
                    .filter(|name| {
                        pipeline
                            .plugin(name)
                            .is_some_and(|other| spec.gated_by(&other.spec))
                    })
                    .cloned()
                    .collect(),
            }
        })
        .collect()
}

/// Enqueues `plan` (made for `request`) for every host to work on, as
/// enqueued by `host_id`, with at most `parallelism` takes of it worked
/// on at once across the cluster (`None`: every host's workers); returns
/// the backfill's id.
pub fn enqueue(
    queue: &dyn WorkQueue,
    pipeline: &Pipeline,
    request: &BackfillRequest,
    plan: &Plan,
    host_id: &str,
    parallelism: Option<usize>,
) -> Result<String, StoreError> {
    let backfill = NewBackfill {
        id: crate::runs::new_run_id(),
        start: request.start,
        end: request.end,
        reprocess: request.reprocess,
        left_alone: plan.left_alone,
        host_id: host_id.to_string(),
        parallelism,
    };
    queue.enqueue(&backfill, &tasks_of(pipeline, plan))?;
    Ok(backfill.id)
}

/// What a host did when it asked for work.
#[derive(Debug, Clone)]
pub enum Worked {
    /// No task was ready.
    Nothing,
    /// It ended tasks: with the runs it made, and with runs that had
    /// already ended for good (adopted). Tasks it could not run went back.
    Ended {
        /// The outcomes of the runs it made, in date order.
        ran: Vec<Outcome>,
        /// The outcomes of the runs it adopted.
        adopted: Vec<Outcome>,
    },
    /// It put its tasks back: their (processor, date) was running
    /// elsewhere, or this host has no such processor.
    Released,
}

/// Whether a run ended for good: not still running, and not failed only
/// because its host died or shut down, or the store could not be reached
/// ([`ErrorKind::interrupted_the_run`]): the task runs those again.
fn ended_for_good(record: &RunRecord) -> bool {
    match record.status {
        RunStatus::Running => false,
        RunStatus::Failed => !record
            .error_kind
            .is_some_and(ErrorKind::interrupted_the_run),
        _ => true,
    }
}

/// What to do with a taken task, from the latest run of its (processor,
/// date).
enum Before {
    /// Run it.
    Run,
    /// End it with this run, which started after the backfill was
    /// enqueued and ended for good (its host died before ending the task).
    Adopt(Box<RunRecord>),
    /// Put it back: its (processor, date) is running elsewhere.
    Release,
}

/// The latest run of each of `tasks`' dates, all of one processor, read
/// in one request.
fn latest_runs(
    executor: &Executor,
    tasks: &[TakenTask],
) -> Result<HashMap<NaiveDate, RunRecord>, StoreError> {
    let (Some(first), Some(last)) = (tasks.first(), tasks.last()) else {
        return Ok(HashMap::new());
    };
    let mut latest = HashMap::new();
    // Newest first: the first run seen of a date is its latest.
    for run in executor.store().runs(&RunFilter {
        processor: Some(first.processor.clone()),
        dates: Some(first.date..=last.date),
        skip_upstream_check: true,
        ..RunFilter::default()
    })? {
        latest.entry(run.data_date).or_insert(run);
    }
    Ok(latest)
}

/// What the phase gate of each of `tasks`' dates reads: the runs that
/// ended the date's earlier-phase tasks without success
/// ([`TakenTask::gate_runs`]), read in one request.
fn gate_records(
    executor: &Executor,
    tasks: &[TakenTask],
) -> Result<BTreeMap<NaiveDate, Vec<RunRecord>>, StoreError> {
    let mut earlier: BTreeMap<NaiveDate, Vec<RunRecord>> =
        tasks.iter().map(|task| (task.date, Vec::new())).collect();
    let wanted: Vec<String> = tasks.iter().flat_map(|t| t.gate_runs.clone()).collect();
    if wanted.is_empty() {
        return Ok(earlier);
    }
    let mut found: HashMap<String, RunRecord> = executor
        .store()
        .runs_with_ids(&wanted)?
        .into_iter()
        .map(|run| (run.run_id.clone(), run))
        .collect();
    for task in tasks {
        for run_id in &task.gate_runs {
            let run = found.remove(run_id).ok_or_else(|| {
                StoreError::backend(format!(
                    "run {run_id}, which ended an earlier phase's task on {}, \
                     is not in the run ledger",
                    task.date
                ))
            })?;
            earlier.entry(task.date).or_default().push(run);
        }
    }
    Ok(earlier)
}

/// How long a host says nothing more of a processor it lacks.
const SAID_AGAIN_AFTER: std::time::Duration = std::time::Duration::from_secs(300);

/// Whether `processor`'s missing here was not said in the last
/// [`SAID_AGAIN_AFTER`], in this process; now it counts as said.
fn first_time_in_a_while(processor: &str) -> bool {
    static SAID: std::sync::Mutex<BTreeMap<String, std::time::Instant>> =
        std::sync::Mutex::new(BTreeMap::new());
    let mut said = SAID.lock().unwrap_or_else(|p| p.into_inner());
    match said.get(processor) {
        Some(at) if at.elapsed() < SAID_AGAIN_AFTER => false,
        _ => {
            said.insert(processor.to_string(), std::time::Instant::now());
            true
        }
    }
}

/// What `task`'s (processor, date) `latest` run says to do with it.
fn before_running(task: &TakenTask, latest: Option<RunRecord>) -> Before {
    match latest.filter(|run| run.started_at >= task.enqueued_at) {
        Some(latest) if latest.status == RunStatus::Running => Before::Release,
        Some(latest) if adoptable(&latest) => Before::Adopt(Box::new(latest)),
        _ => Before::Run,
    }
}

/// Whether a run that started after a task's backfill was enqueued ends
/// the task: one that succeeded, whatever made it (the date is done), or a
/// backfill's run that ended for good (the host that took the task died
/// before ending it). A failed or blocked run made elsewhere (`POST
/// /process-date`, a schedule, `slate run`) is no attempt of the task's:
/// the task runs, as a one-host backfill would.
fn adoptable(run: &RunRecord) -> bool {
    ended_for_good(run) && (run.status == RunStatus::Success || run.trigger == Trigger::Backfill)
}

/// Takes ready tasks from `queue` and works on them with `pipeline` and
/// `executor` (whose host id and leases it uses), renewing their leases
/// while their runs go on. On a store that commits a processor's dates
/// together ([`crate::store::RunLedger::commit_batch_dates`]) it takes up
/// to that many dates of one processor and runs them as one chunk
/// ([`Pipeline::run_together`]); otherwise one task.
pub fn work_one(
    queue: &dyn WorkQueue,
    pipeline: &Pipeline,
    executor: &Executor,
) -> Result<Worked, StoreError> {
    let leases = executor.leases().config();
    let host_id = executor.host_id();
    let max = executor.store().commit_batch_dates().unwrap_or(1);
    let tasks = queue.take_tasks(host_id, leases.lease, max, pipeline.order())?;
    let Some(first) = tasks.first() else {
        // An idle host judges what cancelled backfills left unjudged.
        judge_cancelled_dates(queue, executor.store().as_ref(), pipeline)?;
        return Ok(Worked::Nothing);
    };
    let processor = first.processor.clone();
    if pipeline.plugin(&processor).is_none() {
        // Taken only for a processor this host has, so only a pipeline
        // swapped meanwhile gets here: leave it to a host that has it.
        // Said once a while per processor, not at every take.
        if first_time_in_a_while(&processor) {
            tracing::warn!(
                %processor, date = %first.date,
                "this host has no such processor: its tasks go back to the queue \
                 (said again in {} min if it goes on)",
                SAID_AGAIN_AFTER.as_secs() / 60
            );
        }
        for task in &tasks {
            queue.release_task(task, host_id)?;
        }
        return Ok(Worked::Released);
    }
    let mut latest = latest_runs(executor, &tasks)?;
    // A run whose host stopped renewing its lease holds its (processor,
    // date) until it is reaped: reap it now, or the task would be let go
    // and taken again on every poll until the heartbeat's reaper came.
    let now = chrono::Utc::now();
    if latest.values().any(|run| run.is_stale(now)) {
        executor.leases().reap_now()?;
        latest = latest_runs(executor, &tasks)?;
    }
    let (mut to_run, mut adopted) = (Vec::new(), Vec::new());
    for task in tasks {
        match before_running(&task, latest.remove(&task.date)) {
            Before::Run => to_run.push(task),
            Before::Adopt(record) => {
                end_task(queue, pipeline, executor, &task, &record)?;
                adopted.push(Outcome::from_record(&record));
            }
            Before::Release => queue.release_task(&task, host_id)?,
        }
    }
    if to_run.is_empty() && adopted.is_empty() {
        return Ok(Worked::Released);
    }
    let dates: Vec<_> = to_run.iter().map(|task| task.date).collect();
    let earlier = gate_records(executor, &to_run)?;
    let done = AtomicBool::new(false);
    let results = std::thread::scope(|scope| {
        scope.spawn(|| renew_while_running(queue, host_id, leases, &done));
        let results = match dates.as_slice() {
            [] => Vec::new(),
            [date] => {
                let earlier = earlier.get(date).map_or(&[][..], Vec::as_slice);
                let ran = pipeline.run_one(executor, &processor, *date, Trigger::Backfill, earlier);
                vec![(*date, ran)]
            }
            _ => pipeline.run_together(executor, &processor, &dates, Trigger::Backfill, &earlier),
        };
        done.store(true, Ordering::SeqCst);
        results
    });
    let mut ran = Vec::new();
    let mut failure = None;
    for (date, result) in results {
        let task = to_run
            .iter()
            .find(|task| task.date == date)
            .expect("a result for a date asked for");
        match result {
            // A run the host's shutdown stopped, reaped as stale, or cut
            // short by a store it could not reach did not end the task's
            // work: it goes back to the queue, to run again here or on
            // another host, as when a host is killed (or ends cancelled,
            // when its backfill was cancelled).
            Ok(record) if !ended_for_good(&record) => {
                tracing::warn!(
                    %processor, %date, run_id = %record.run_id,
                    "the run was stopped, reaped or cut short ({}): its task goes back to \
                     the queue, unless its backfill was cancelled",
                    record.error_kind.map_or("running", ErrorKind::as_str)
                );
                queue.release_task(task, host_id)?;
                // A store out of reach: the slot waits before it takes
                // again, as after any failure, rather than running the
                // task into the same outage at once.
                if record.error_kind == Some(ErrorKind::Unreachable) {
                    let said = format!(
                        "{processor} on {date} could not reach it (run {})",
                        record.run_id
                    );
                    failure.get_or_insert(StoreError::Unreachable(said));
                }
            }
            Ok(record) => {
                end_task(queue, pipeline, executor, task, &record)?;
                ran.push(Outcome::from_record(&record));
            }
            Err(StoreError::AlreadyRunning { .. }) => queue.release_task(task, host_id)?,
            Err(error) => {
                queue.release_task(task, host_id)?;
                failure.get_or_insert(error);
            }
        }
    }
    match failure {
        Some(error) if ran.is_empty() && adopted.is_empty() => Err(error),
        Some(error) => {
            tracing::warn!(%processor, %error, "some of the tasks went back to the queue");
            Ok(Worked::Ended { ran, adopted })
        }
        None if ran.is_empty() && adopted.is_empty() => Ok(Worked::Released),
        None => Ok(Worked::Ended { ran, adopted }),
    }
}

/// Ends `task` with `record`, or says that another host took it
/// meanwhile. The host that ends a date's last task of the backfill
/// records the date's phase events, as a one-host backfill does once its
/// runs are done.
fn end_task(
    queue: &dyn WorkQueue,
    pipeline: &Pipeline,
    executor: &Executor,
    task: &TakenTask,
    record: &RunRecord,
) -> Result<(), StoreError> {
    match queue.finish_task(task, executor.host_id(), record)? {
        Finished::NotHeld => tracing::warn!(
            processor = %task.processor, date = %task.date, run_id = %record.run_id,
            "the task's lease expired before its run ended; the host that took it next ends it"
        ),
        Finished::Ended => {}
        Finished::EndedItsDate => {
            let store = executor.store().as_ref();
            if let Err(error) = record_phase_events(store, pipeline, task.date) {
                tracing::warn!(date = %task.date, %error, "phase events not recorded");
            }
        }
    }
    Ok(())
}

/// Records the phase events of the dates cancelled backfills left
/// unjudged ([`WorkQueue::cancelled_dates_to_judge`]): those on which
/// some tasks ran before the rest were cancelled. Every idle host calls
/// it, and so do the host that cancels and the `slate backfill` that
/// enqueued; each date is judged by one of them, once.
pub fn judge_cancelled_dates(
    queue: &dyn WorkQueue,
    store: &dyn crate::store::Store,
    pipeline: &Pipeline,
) -> Result<(), StoreError> {
    for date in queue.cancelled_dates_to_judge()? {
        if let Err(error) = record_phase_events(store, pipeline, date) {
            tracing::warn!(%date, %error, "phase events not recorded");
        }
    }
    Ok(())
}

/// Renews the leases of `host_id`'s tasks every heartbeat until `done`.
fn renew_while_running(
    queue: &dyn WorkQueue,
    host_id: &str,
    leases: crate::liveness::LeaseConfig,
    done: &AtomicBool,
) {
    let step = Duration::from_millis(50).min(leases.heartbeat);
    let mut since = Duration::ZERO;
    while !done.load(Ordering::SeqCst) {
        std::thread::sleep(step);
        since += step;
        if since >= leases.heartbeat {
            since = Duration::ZERO;
            if let Err(error) = queue.renew_tasks(host_id, leases.lease) {
                tracing::warn!(%error, "cannot renew the leases of this host's tasks");
            }
        }
    }
}

/// Lets go of what an earlier process under this host's id left taken
/// ([`WorkQueue::release_held`]), saying so: a process calls it once,
/// before it takes its first task.
pub fn release_held_before(queue: &dyn WorkQueue, host_id: &str) -> Result<(), StoreError> {
    let released = queue.release_held(host_id)?;
    if released > 0 {
        tracing::warn!(
            released,
            host = host_id,
            "tasks an earlier process under this host's id held go back to the queue"
        );
    }
    Ok(())
}

/// How long [`work_until`] waits out a state database it cannot reach,
/// trying again in between, before it gives up.
pub const OUTAGE_PATIENCE: Duration = Duration::from_secs(300);

/// The longest a worker waits before it asks the queue again after
/// failures.
const MOST_BACKOFF: Duration = Duration::from_secs(30);

/// How long a worker (a command's, or a server's queue slot) waits after
/// `failures` failures in a row: twice as long after each, from one second
/// to [`MOST_BACKOFF`].
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1)
        .saturating_mul(1 << failures.saturating_sub(1).min(5))
        .min(MOST_BACKOFF)
}

/// Works on `queue`'s ready tasks with `workers` threads until `finished`
/// says to stop (checked whenever no task is ready) or `stop` is set. Each
/// take works with the pipeline `pipeline` gives then: a long backfill
/// gives the registry's versions of the moment, as a server does. A state
/// database that cannot be reached is waited out, each worker trying again
/// after a growing wait, for up to [`OUTAGE_PATIENCE`] without an answer;
/// before, the first such error ended the command, and a restart of the
/// database orphaned the backfill.
pub fn work_until<P: std::ops::Deref<Target = Pipeline>>(
    queue: &dyn WorkQueue,
    pipeline: &(dyn Fn() -> P + Sync),
    executor: &Executor,
    workers: usize,
    stop: &AtomicBool,
    finished: &(dyn Fn() -> bool + Sync),
    on_worked: &(dyn Fn(&Worked) + Sync),
) -> Result<(), StoreError> {
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..workers.max(1))
            .map(|_| {
                scope.spawn(|| {
                    // Since when, and how many times in a row, the store
                    // could not be reached.
                    let mut unreachable: Option<(Instant, u32)> = None;
                    while !stop.load(Ordering::SeqCst) {
                        // An outage is timed from the call that met it,
                        // which waited for a connection before it said so.
                        let asked = Instant::now();
                        let worked = match work_one(queue, &pipeline(), executor) {
                            Err(StoreError::Unreachable(why)) => {
                                let (since, failures) = unreachable.get_or_insert((asked, 0));
                                *failures += 1;
                                if since.elapsed() >= OUTAGE_PATIENCE {
                                    return Err(StoreError::Unreachable(format!(
                                        "{why} (waited {} s for it)",
                                        since.elapsed().as_secs()
                                    )));
                                }
                                if *failures == 1 {
                                    tracing::warn!(
                                        "the state database is unreachable: waiting for it, for \
                                         up to {} s ({why})",
                                        OUTAGE_PATIENCE.as_secs()
                                    );
                                }
                                let until = Instant::now() + backoff(*failures);
                                while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                                    std::thread::sleep(Duration::from_millis(100));
                                }
                                continue;
                            }
                            worked => worked?,
                        };
                        if let Some((since, _)) = unreachable.take() {
                            tracing::warn!(
                                "the state database answers again, after {} s",
                                since.elapsed().as_secs()
                            );
                        }
                        on_worked(&worked);
                        match worked {
                            Worked::Nothing | Worked::Released => {
                                if finished() {
                                    return Ok(());
                                }
                                std::thread::sleep(Duration::from_millis(100));
                            }
                            Worked::Ended { .. } => {}
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().expect("a queue worker"))
            .collect::<Result<Vec<()>, StoreError>>()
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::samples::run_record;

    #[test]
    fn a_failing_worker_waits_twice_as_long_after_each_failure_up_to_thirty_seconds() {
        let waits: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    /// A task of a backfill enqueued at noon on 2026-01-05, and a run of
    /// its (processor, date) that started after, ended `status`, made by
    /// `trigger`.
    fn task_and_run(status: RunStatus, trigger: Trigger) -> (TakenTask, RunRecord) {
        let date = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let enqueued_at = date.and_hms_opt(12, 0, 0).unwrap().and_utc();
        let task = TakenTask {
            backfill_id: "b".into(),
            processor: "P".into(),
            date,
            enqueued_at,
            gate_runs: Vec::new(),
        };
        let run = RunRecord {
            started_at: enqueued_at + chrono::Duration::minutes(1),
            trigger,
            ..run_record("P", date, status)
        };
        (task, run)
    }

    #[test]
    fn a_task_adopts_a_success_or_its_backfills_own_run_but_runs_past_another_failure() {
        let adopts = |status, trigger| {
            let (task, run) = task_and_run(status, trigger);
            matches!(before_running(&task, Some(run)), Before::Adopt(_))
        };
        assert!(adopts(RunStatus::Success, Trigger::Http));
        assert!(adopts(RunStatus::Success, Trigger::Backfill));
        assert!(adopts(RunStatus::Failed, Trigger::Backfill));
        assert!(adopts(RunStatus::Blocked, Trigger::Backfill));
        // Made elsewhere and not done: the task runs.
        for trigger in [Trigger::Http, Trigger::Schedule, Trigger::Cli] {
            assert!(!adopts(RunStatus::Blocked, trigger), "{trigger:?}");
            assert!(!adopts(RunStatus::Failed, trigger), "{trigger:?}");
        }
        // Cut short, not ended: its host died or shut down, or the store
        // could not be reached. The task runs.
        for kind in [
            ErrorKind::Stale,
            ErrorKind::Shutdown,
            ErrorKind::Unreachable,
        ] {
            let (task, mut run) = task_and_run(RunStatus::Failed, Trigger::Backfill);
            run.error_kind = Some(kind);
            assert!(
                matches!(before_running(&task, Some(run)), Before::Run),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_missing_processor_is_said_once_a_while_not_at_every_take() {
        assert!(first_time_in_a_while("MissingHereProcessor"));
        for _ in 0..100 {
            assert!(!first_time_in_a_while("MissingHereProcessor"));
        }
        assert!(first_time_in_a_while("AnotherMissingProcessor"));
    }
}
