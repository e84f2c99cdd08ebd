//! Runs a server's own backfills (those no work queue holds) on its worker
//! pool. Where the store keeps backfill records
//! ([`crate::store::backfill_records`]), each backfill's plan is recorded
//! when it is accepted and its progress after every run, so that `GET
//! /backfills/{id}` answers after a restart, and a backfill the server's
//! shutdown stopped (or that a dead earlier process of this machine left
//! running) resumes when a server starts on the store again: its planned
//! runs that did not end since it was accepted are run, and its progress
//! goes on counting.

use std::sync::Arc;

use chrono::Utc;

use super::backfill_jobs::{BackfillJob, BackfillProgress, BackfillState};
use super::state::ServedHost;
use crate::backfill::{self, Ended, Outcome, Plan, Tally};
use crate::pipeline::Pipeline;
use crate::runs::{ErrorKind, RunFilter, RunStatus};
use crate::store::Store;
use crate::store::backfill_records::SavedBackfill;

/// Records a newly accepted backfill, its plan and its progress, where the
/// store keeps records. A failure is logged: the backfill runs all the
/// same, its progress in memory only.
pub fn record(host: &ServedHost, job: &BackfillJob, plan: &Plan, parallelism: usize) {
    let Some(records) = host.store.backfill_records() else {
        return;
    };
    let progress = job.progress();
    let saved = serde_json::to_string(plan)
        .and_then(|plan_json| {
            Ok(SavedBackfill {
                id: progress.id.clone(),
                host_id: host.executor.host_id().to_string(),
                state: progress.state.name().to_string(),
                parallelism,
                plan_json,
                progress_json: serde_json::to_string(&progress)?,
                accepted_at: progress.started_at,
            })
        })
        .map_err(|e| e.to_string())
        .and_then(|saved| records.save_backfill(&saved).map_err(|e| e.to_string()));
    if let Err(error) = saved {
        tracing::warn!(backfill = %progress.id, %error, "the backfill's record was not saved");
    }
}

/// Saves `job`'s progress now, where the store keeps records: after each
/// run, and at once when it is cancelled.
pub fn save_progress(store: &dyn Store, job: &BackfillJob) {
    let Some(records) = store.backfill_records() else {
        return;
    };
    let progress = job.progress();
    let saved = serde_json::to_string(&progress)
        .map_err(|e| e.to_string())
        .and_then(|json| {
            records
                .save_backfill_progress(&progress.id, progress.state.name(), &json)
                .map_err(|e| e.to_string())
        });
    if let Err(error) = saved {
        tracing::warn!(backfill = %progress.id, %error, "the backfill's progress was not saved");
    }
}

/// How a backfill comes to be launched.
pub enum Launch {
    /// Just accepted: its plan was made then, and is made again when it
    /// starts ([`replanned`]).
    Accepted,
    /// Resumed from its record, `already_ended` of its planned runs having
    /// ended before.
    Resumed {
        /// Planned runs that ended before.
        already_ended: usize,
    },
}

/// Runs `plan` as `job` on the worker pool with `parallelism` slots.
pub fn launch(
    host: Arc<ServedHost>,
    job: Arc<BackfillJob>,
    pipeline: Arc<Pipeline>,
    plan: Plan,
    parallelism: usize,
    how: Launch,
) {
    let pool = host.workers.clone();
    pool.spawn_backfill(parallelism, move || {
        let store = host.store.as_ref();
        // Cancelled while it waited for its slots: it ended then.
        if job.progress().state == BackfillState::Cancelled {
            return;
        }
        let (plan, already_ended) = match how {
            Launch::Accepted => {
                let planned = plan.runs.len();
                let plan = replanned(store, &pipeline, &job, plan);
                // The record keeps the plan a resume counts against.
                if plan.runs.len() != planned {
                    record(&host, &job, &plan, parallelism);
                }
                (plan, 0)
            }
            Launch::Resumed { already_ended } => (plan, already_ended),
        };
        // Resumed, it has not left anything unrun yet.
        job.update(|p| {
            p.state = BackfillState::Running;
            p.not_run = 0;
        });
        save_progress(store, &job);
        let on_outcome = |outcome: &Outcome| {
            job.update(|p| {
                p.ended.count(outcome);
                if outcome.ended() != Ended::Succeeded {
                    p.problems.push(outcome.clone());
                }
            });
            save_progress(store, &job);
        };
        // A processor undeployed meanwhile starts no more runs; a version
        // deployed meanwhile does not change the backfill's.
        let still_deployed = |name: &str| {
            host.pipeline()
                .map_or(true, |current| current.plugin(name).is_some())
        };
        let outcomes = backfill::run_while_deployed(
            &pipeline,
            &host.executor,
            &plan,
            parallelism,
            job.stop_flag(),
            &on_outcome,
            &still_deployed,
        );
        count_outdated_left(&host, &job, &pipeline, &plan.selection);
        let planned = job.progress().planned;
        job.end(job.end_state(already_ended + outcomes.len(), planned));
        save_progress(store, &job);
    });
}

/// Counts in `job`'s progress the outdated pairs of `selection` it leaves
/// in its range, judged by the versions active now (`pipeline`, the
/// backfill's own, when they do not load), and warns of them.
fn count_outdated_left(
    host: &ServedHost,
    job: &BackfillJob,
    pipeline: &Arc<Pipeline>,
    selection: &[String],
) {
    let progress = job.progress();
    let active = host.pipeline().unwrap_or_else(|_| pipeline.clone());
    let range = (progress.start_date, progress.end_date);
    match crate::outdated::in_range(host.store.as_ref(), &active, selection, range) {
        Ok(outdated) => {
            let example = outdated
                .first()
                .map(|o| format!("{} {}: {}", o.processor, o.date, o.why()));
            if let Some(example) = &example {
                tracing::warn!(
                    backfill = %progress.id,
                    outdated = outdated.len(),
                    %example,
                    "the backfill leaves outdated runs in its range; \
                     reprocess `outdated` reruns them"
                );
            }
            job.update(|p| {
                p.outdated = outdated.len();
                p.outdated_example = example;
            });
        }
        Err(error) => tracing::warn!(
            backfill = %progress.id,
            %error,
            "cannot tell the outdated runs the backfill leaves in its range"
        ),
    }
}

/// `plan` made again as `job` starts: a backfill that waited for another
/// to free its slots was planned before that one ran, and a date the
/// other filled is no longer `missing` (nor `failed`, nor `outdated`). A
/// planned run the mode no longer asks for is left alone, and counted so;
/// under `all` nothing changes. Where the plan cannot be made again, the
/// first one stands.
fn replanned(store: &dyn Store, pipeline: &Pipeline, job: &BackfillJob, plan: Plan) -> Plan {
    let progress = job.progress();
    if progress.reprocess == backfill::Reprocess::All {
        return plan;
    }
    let request = backfill::BackfillRequest {
        start: progress.start_date,
        end: progress.end_date,
        selection: plan.selection.clone(),
        reprocess: progress.reprocess,
        parallelism: 1,
    };
    let wanted: std::collections::HashSet<backfill::PlannedRun> = match backfill::plan(
        store, pipeline, &request,
    ) {
        Ok(now) => now.runs.into_iter().collect(),
        Err(error) => {
            tracing::warn!(backfill = %progress.id, %error, "the backfill was not planned again");
            return plan;
        }
    };
    let planned = plan.runs.len();
    let runs: Vec<_> = plan
        .runs
        .into_iter()
        .filter(|run| wanted.contains(run))
        .collect();
    let dropped = planned - runs.len();
    if dropped > 0 {
        tracing::info!(
            backfill = %progress.id,
            dropped,
            "runs planned when the backfill was accepted are no longer {}",
            progress.reprocess.as_str()
        );
        job.update(|p| {
            p.planned -= dropped;
            p.left_alone += dropped;
        });
    }
    Plan {
        runs,
        left_alone: plan.left_alone + dropped,
        ..plan
    }
}

/// The progress of a backfill this server no longer holds in memory, from
/// the store's records.
pub fn saved_progress(store: &dyn Store, id: &str) -> Option<serde_json::Value> {
    let saved = store.backfill_records()?.saved_backfill(id).ok()??;
    serde_json::from_str(&saved.progress_json).ok()
}

/// How often a running server looks for backfills another server of this
/// machine left unfinished on the store (killed, or shut down), to go on
/// with them.
pub const ADOPT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Resumes the backfills the store records as not ended that are this
/// server's to resume: one a shutdown stopped, or one a dead earlier
/// process of this machine left queued or running. Each runs the planned
/// runs that did not end since it was accepted.
pub fn resume_saved(host: &Arc<ServedHost>) {
    resume_abandoned(host, true);
}

/// What [`resume_saved`] does at a server's start, done while it runs:
/// of two servers on one store, the one left goes on with the backfills
/// of the other, killed or shut down. Before, they waited, `running`, for
/// a server to start. Its own backfills it leaves alone, as it does while
/// it shuts down.
pub fn adopt_abandoned(host: &Arc<ServedHost>) {
    if !host.draining.load(std::sync::atomic::Ordering::SeqCst) {
        resume_abandoned(host, false);
    }
}

/// Resumes the unfinished backfills of servers gone: stopped by a
/// shutdown, or left by a dead process of this machine; `at_start`, also
/// those recorded under this server's own id (an earlier process's).
fn resume_abandoned(host: &Arc<ServedHost>, at_start: bool) {
    let Some(records) = host.store.backfill_records() else {
        return;
    };
    let unfinished = match records.unfinished_backfills() {
        Ok(unfinished) => unfinished,
        Err(error) => {
            tracing::warn!(%error, "cannot read the backfills to resume");
            return;
        }
    };
    let me = host.executor.host_id();
    let abandoned: Vec<SavedBackfill> = (unfinished.into_iter())
        .filter(|saved| match (at_start, saved.host_id == me) {
            // A server that has just started: one recorded under its own id
            // was an earlier process's (a container restarted keeps its
            // hostname and pid 1).
            (true, true) => true,
            // A running server's own backfills are its to run.
            (false, true) => false,
            _ => {
                saved.state == BackfillState::Stopped.name()
                    || crate::liveness::is_dead_incarnation(&saved.host_id, me)
            }
        })
        .collect();
    // The runs the dead server left running are reaped first (a start has
    // reaped them already): resumed before, they would be left to it.
    if !at_start
        && !abandoned.is_empty()
        && let Err(error) = host.executor.leases().heartbeat_now()
    {
        tracing::warn!(%error, "cannot reap the runs of a server gone; its backfills wait");
        return;
    }
    for saved in abandoned {
        // Servers starting at once on one store resume it once.
        match records.take_over_backfill(&saved.id, &saved.host_id, me) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::warn!(backfill = %saved.id, %error, "the backfill was not resumed");
                continue;
            }
        }
        if let Err(error) = resume_one(host, &saved) {
            tracing::warn!(backfill = %saved.id, %error, "the backfill was not resumed");
        }
    }
}

fn resume_one(host: &Arc<ServedHost>, saved: &SavedBackfill) -> Result<(), String> {
    let plan: Plan = serde_json::from_str(&saved.plan_json).map_err(|e| e.to_string())?;
    let mut progress: BackfillProgress =
        serde_json::from_str(&saved.progress_json).map_err(|e| e.to_string())?;
    let pipeline = host.pipeline().map_err(|e| e.to_string())?;
    // The counts are made again from the run records: a run can end after
    // the last progress saved (the kill came between the two), and what
    // ended is what the records say.
    progress.ended = Tally::default();
    progress.problems.clear();
    // One cancelled before that server stopped starts nothing more: a run
    // the stop cut short is never run again, so it counts as it ended.
    let cancelled = progress.cancelled_at.is_some();
    let mut remaining = Vec::new();
    for run in &plan.runs {
        let since = progress.started_at;
        match ended_run_since(host.store.as_ref(), run, since, !cancelled)? {
            Some(record) => {
                let outcome = Outcome::from_record(&record);
                progress.ended.count(&outcome);
                if outcome.ended() != Ended::Succeeded {
                    progress.problems.push(outcome);
                }
            }
            None => remaining.push(run.clone()),
        }
    }
    // A processor undeployed (or left out) since starts no more runs: each
    // ends as one undeployed during the backfill.
    let (remaining, gone): (Vec<_>, Vec<_>) = remaining
        .into_iter()
        .partition(|run| pipeline.plugin(&run.processor).is_some());
    let already_ended = plan.runs.len() - remaining.len() - gone.len();
    for run in &gone {
        let outcome = Outcome::undeployed(&run.processor, run.date);
        progress.ended.count(&outcome);
        progress.problems.push(outcome);
    }
    // A cancelled one ends `cancelled` with what ended.
    if cancelled {
        tracing::info!(backfill = %saved.id, "a cancelled backfill is not resumed");
        progress.state = BackfillState::Cancelled;
        progress.finished_at = Some(Utc::now());
        progress.not_run = remaining.len();
    } else {
        tracing::warn!(
            backfill = %saved.id,
            remaining = remaining.len(),
            "resuming a backfill an earlier server stopped"
        );
        progress.state = BackfillState::Queued;
        progress.finished_at = None;
    }
    let job = Arc::new(BackfillJob::new(progress));
    host.backfills
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(saved.id.clone(), job.clone());
    // The record keeps the whole plan: a second resume counts what ended
    // against all of it.
    save_progress(host.store.as_ref(), &job);
    if cancelled {
        return Ok(());
    }
    let selection = plan
        .selection
        .iter()
        .filter(|name| pipeline.plugin(name).is_some())
        .cloned()
        .collect();
    let resumed = Plan {
        runs: remaining,
        selection,
        ..plan
    };
    launch(
        host.clone(),
        job,
        pipeline,
        resumed,
        saved.parallelism,
        Launch::Resumed {
            already_ended: already_ended + gone.len(),
        },
    );
    Ok(())
}

/// The run of `run`'s (processor, date) that started since the backfill
/// was accepted and ended: the work the backfill asked for was done. With
/// `rerun_interrupted`, one ended by a shutdown or by its host's death (a
/// run reaped as stale: the kill of the server that ran the backfill cut
/// it short) or by a store out of reach does not count, for the resumed
/// backfill runs it again ([`ErrorKind::interrupted_the_run`]).
fn ended_run_since(
    store: &dyn Store,
    run: &backfill::PlannedRun,
    since: chrono::DateTime<Utc>,
    rerun_interrupted: bool,
) -> Result<Option<crate::runs::RunRecord>, String> {
    let latest = store
        .runs(&RunFilter {
            processor: Some(run.processor.clone()),
            date: Some(run.date),
            limit: Some(1),
            // Read: its gaps count in the resumed backfill's flagged_gaps.
            skip_upstream_check: false,
            ..RunFilter::default()
        })
        .map_err(|e| e.to_string())?;
    Ok(latest.into_iter().next().filter(|latest| {
        latest.started_at >= since
            && latest.status != RunStatus::Running
            && !(rerun_interrupted
                && latest
                    .error_kind
                    .is_some_and(ErrorKind::interrupted_the_run))
    }))
}
