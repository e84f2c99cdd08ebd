//! Backfills spread over every host that shares a run ledger with a work
//! queue ([`crate::store::work_queue`]): a backfill's plan is enqueued as
//! tasks, and each host takes ready tasks one at a time and runs them
//! through the pipeline, as a one-host backfill would.
//!
//! A task's run is the record of truth. Before running a task, a host
//! looks at the latest run of its (processor, date): one that started after
//! the backfill was enqueued and ended for good (its host died before it
//! could end the task) ends the task instead, so no task runs twice to
//! success; one still running elsewhere puts the task back in the queue.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::backfill::{BackfillRequest, Outcome, Plan};
use crate::executor::Executor;
use crate::pipeline::Pipeline;
use crate::plugin::spec::Lookback;
use crate::runs::{ErrorKind, RunFilter, RunRecord, RunStatus, Trigger};
use crate::store::StoreError;
use crate::store::work_queue::{NewBackfill, NewTask, TakenTask, TaskEnd, WorkQueue};

/// The tasks of `plan`, each with what it waits for: its processor's
/// upstreams in the plan's selection, and whether it looks back.
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
                looks_back: spec.lookback != Lookback::None,
            }
        })
        .collect()
}

/// Enqueues `plan` (made for `request`) for every host to work on, as
/// enqueued by `host_id`; returns the backfill's id.
pub fn enqueue(
    queue: &dyn WorkQueue,
    pipeline: &Pipeline,
    request: &BackfillRequest,
    plan: &Plan,
    host_id: &str,
) -> Result<String, StoreError> {
    let backfill = NewBackfill {
        id: crate::runs::new_run_id(),
        start: request.start,
        end: request.end,
        reprocess: request.reprocess,
        left_alone: plan.left_alone,
        host_id: host_id.to_string(),
    };
    queue.enqueue(&backfill, &tasks_of(pipeline, plan))?;
    Ok(backfill.id)
}

/// What a host did when it asked for a task.
#[derive(Debug, Clone)]
pub enum Worked {
    /// No task was ready.
    Nothing,
    /// It ran a task.
    Ran(Outcome),
    /// It ended a task with a run that had already ended for good.
    Adopted(Outcome),
    /// It put a task back: its (processor, date) is running elsewhere.
    Released,
}

/// How a run ends its task.
fn task_end(record: &RunRecord) -> TaskEnd {
    match record.status {
        RunStatus::Success => TaskEnd::Succeeded,
        RunStatus::Blocked => TaskEnd::Blocked,
        _ => TaskEnd::Failed,
    }
}

/// Whether a run ended for good: not still running, and not failed only
/// because its host died or shut down (which the task runs again).
fn ended_for_good(record: &RunRecord) -> bool {
    match record.status {
        RunStatus::Running => false,
        RunStatus::Failed => !matches!(
            record.error_kind,
            Some(ErrorKind::Stale | ErrorKind::Shutdown)
        ),
        _ => true,
    }
}

/// Takes one ready task from `queue` and works on it with `pipeline` and
/// `executor` (whose host id and leases it uses), renewing the task's
/// lease while its run goes on.
pub fn work_one(
    queue: &dyn WorkQueue,
    pipeline: &Pipeline,
    executor: &Executor,
) -> Result<Worked, StoreError> {
    let leases = executor.leases().config();
    let host_id = executor.host_id();
    let Some(task) = queue.take_task(host_id, leases.lease)? else {
        return Ok(Worked::Nothing);
    };
    if pipeline.plugin(&task.processor).is_none() {
        // Hosts may load different plugin folders: leave it to one that has it.
        tracing::warn!(
            processor = %task.processor, date = %task.date,
            "this host has no such processor: the task goes back to the queue"
        );
        queue.release_task(&task, host_id)?;
        return Ok(Worked::Released);
    }
    let latest = executor
        .store()
        .runs(&RunFilter {
            processor: Some(task.processor.clone()),
            date: Some(task.date),
            limit: Some(1),
            ..RunFilter::default()
        })?
        .into_iter()
        .next();
    if let Some(latest) = latest.filter(|run| run.started_at >= task.enqueued_at) {
        if latest.status == RunStatus::Running {
            queue.release_task(&task, host_id)?;
            return Ok(Worked::Released);
        }
        if ended_for_good(&latest) {
            end_task(queue, &task, host_id, &latest)?;
            return Ok(Worked::Adopted(Outcome::from_record(&latest)));
        }
    }
    let done = AtomicBool::new(false);
    let ran = std::thread::scope(|scope| {
        scope.spawn(|| renew_while_running(queue, host_id, leases, &done));
        let ran = pipeline.run_one(executor, &task.processor, task.date, Trigger::Backfill, &[]);
        done.store(true, Ordering::SeqCst);
        ran
    });
    match ran {
        Ok(record) => {
            end_task(queue, &task, host_id, &record)?;
            Ok(Worked::Ran(Outcome::from_record(&record)))
        }
        Err(StoreError::AlreadyRunning { .. }) => {
            queue.release_task(&task, host_id)?;
            Ok(Worked::Released)
        }
        Err(error) => {
            queue.release_task(&task, host_id)?;
            Err(error)
        }
    }
}

/// Ends `task` with `record`, or says that another host took it meanwhile.
fn end_task(
    queue: &dyn WorkQueue,
    task: &TakenTask,
    host_id: &str,
    record: &RunRecord,
) -> Result<(), StoreError> {
    let ended = queue.finish_task(
        task,
        host_id,
        task_end(record),
        Some(&record.run_id),
        record.error_message.as_deref(),
    )?;
    if !ended {
        tracing::warn!(
            processor = %task.processor, date = %task.date, run_id = %record.run_id,
            "the task's lease expired before its run ended; the host that took it next ends it"
        );
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

/// Works on `queue`'s ready tasks with `workers` threads until `finished`
/// says to stop (checked whenever no task is ready) or `stop` is set.
pub fn work_until(
    queue: &dyn WorkQueue,
    pipeline: &Pipeline,
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
                    while !stop.load(Ordering::SeqCst) {
                        let worked = work_one(queue, pipeline, executor)?;
                        on_worked(&worked);
                        match worked {
                            Worked::Nothing | Worked::Released => {
                                if finished() {
                                    return Ok(());
                                }
                                std::thread::sleep(Duration::from_millis(100));
                            }
                            Worked::Ran(_) | Worked::Adopted(_) => {}
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
