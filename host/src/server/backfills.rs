//! `POST /backfill` (start one; answers its id) and `GET /backfills/{id}`
//! (its progress). The body is checked and the plan made before anything
//! starts; the backfill then takes `parallelism` slots of the worker pool,
//! or, on a cluster's work queue, at most `parallelism` takes at once
//! across every host.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::backfill_jobs::{BackfillJob, BackfillProgress, BackfillState, CancelRefused};
use super::backfill_runner;
use super::errors::ApiError;
use super::extract::{
    JsonBody, NoParams, Params, date_field, named_processors, only_params, served_date,
};
use super::state::AppState;
use crate::backfill::{self, BackfillError, BackfillRequest, PlannedRun, Reprocess, Tally};
use crate::store::work_queue::{Cancel, ClusterProgress};

/// The largest parallelism a backfill of a cluster's work queue may cap
/// its takes at: far beyond any cluster's slots.
pub const MAX_CLUSTER_PARALLELISM: usize = 10_000;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBackfill {
    /// The first date, `YYYY-MM-DD`.
    pub start_date: String,
    /// The last date, included.
    pub end_date: String,
    /// Processor names; all when absent. An empty list is refused.
    pub processors: Option<Vec<String>>,
    /// `missing` (default), `failed` or `all`.
    pub reprocess: Option<String>,
    /// Plan only.
    #[serde(default)]
    pub dry_run: bool,
    /// Runs at once; default 2, at most the worker pool's size. On a
    /// cluster's work queue: takes at once across every host, no limit
    /// when absent.
    pub parallelism: Option<usize>,
}

/// The answer to a dry run: what would run. It has no id, for nothing is
/// kept to look up.
#[derive(Debug, Serialize)]
struct DryRun {
    dry_run: bool,
    planned: usize,
    left_alone: usize,
    dates_without_games: usize,
    runs: Vec<PlannedRun>,
}

/// `POST /backfill`.
pub async fn start_backfill(
    State(state): State<AppState>,
    Params(query): Params,
    JsonBody(body): JsonBody<StartBackfill>,
) -> Result<Response, ApiError> {
    // Everything is in the body, as for `POST /process-date`.
    only_params(&query, &[])?;
    let start = date_field("start_date", &body.start_date)?;
    let end = date_field("end_date", &body.end_date)?;
    backfill::dates_between(start, end)
        .map_err(|e| ApiError::bad_field("end_date", e.to_string()))?;
    let reprocess: Reprocess = match &body.reprocess {
        None => Reprocess::default(),
        Some(text) => text
            .parse()
            .map_err(|e| ApiError::bad_field("reprocess", format!("invalid reprocess: {e}")))?,
    };
    let room = state.host.workers.backfill_room();
    // A cluster's backfill is worked by every host, so its parallelism
    // caps takes across them all, not this server's pool.
    let cluster = state.host.store.work_queue().is_some();
    // One bound, named the same way whatever the value past it.
    let (most, what) = match cluster {
        true => (MAX_CLUSTER_PARALLELISM, "takes at once across the cluster"),
        false => (
            room,
            "the worker pool's size less the one worker kept for runs asked for one by one",
        ),
    };
    let parallelism = body.parallelism.unwrap_or(2.min(room));
    if !(1..=most).contains(&parallelism) {
        return Err(ApiError::bad_field(
            "parallelism",
            format!("parallelism must be from 1 to {most} ({what}), not {parallelism}"),
        ));
    }
    state.refuse_if_draining()?;
    let processors = named_processors(body.processors.clone())?;
    let dates = state.config.settings().dates;
    let planned = state
        .blocking(move |host| {
            let pipeline = host.pipeline().map_err(ApiError::internal)?;
            served_date(host, &pipeline, &dates, "start_date", start)?;
            served_date(host, &pipeline, &dates, "end_date", end)?;
            let selection = pipeline
                .select(&processors)
                .map_err(|e| ApiError::bad_field("processors", host.selection_refusal(&e)))?;
            let request = BackfillRequest {
                start,
                end,
                selection,
                reprocess,
                parallelism,
            };
            let plan =
                backfill::plan(host.store.as_ref(), &pipeline, &request).map_err(|e| match e {
                    BackfillError::Store(e) => ApiError::internal(e),
                    other => ApiError::bad_field("end_date", other.to_string()),
                })?;
            Ok::<_, ApiError>((pipeline, plan))
        })
        .await?;
    let (pipeline, plan) = planned;
    if body.dry_run {
        let answer = DryRun {
            dry_run: true,
            planned: plan.runs.len(),
            left_alone: plan.left_alone,
            dates_without_games: plan.dates_without_games,
            runs: plan.runs,
        };
        return Ok((StatusCode::OK, Json(answer)).into_response());
    }
    let id = crate::runs::new_run_id();
    #[derive(Serialize)]
    struct Accepted {
        backfill_id: String,
        planned: usize,
        left_alone: usize,
        /// Dates of the range left out for having no games.
        dates_without_games: usize,
        /// Whether every host sharing the store's work queue takes part.
        cluster: bool,
    }
    let without_games = plan.dates_without_games;
    if cluster {
        let (planned, left_alone) = (plan.runs.len(), plan.left_alone);
        let cap = body.parallelism;
        let backfill_id = state
            .blocking(move |host| {
                let queue = host.store.work_queue().expect("checked above");
                let request = BackfillRequest {
                    start,
                    end,
                    selection: plan.selection.clone(),
                    reprocess,
                    parallelism,
                };
                let host_id = host.executor.host_id();
                crate::work_queue::enqueue(queue, &pipeline, &request, &plan, host_id, cap)
                    .map_err(ApiError::internal)
            })
            .await?;
        let answer = Accepted {
            backfill_id,
            planned,
            left_alone,
            dates_without_games: without_games,
            cluster: true,
        };
        return Ok((StatusCode::ACCEPTED, Json(answer)).into_response());
    }
    let job = Arc::new(BackfillJob::new(BackfillProgress {
        id: id.clone(),
        state: BackfillState::Queued,
        start_date: start,
        end_date: end,
        reprocess,
        planned: plan.runs.len(),
        left_alone: plan.left_alone,
        ended: Tally::default(),
        not_run: 0,
        started_at: Utc::now(),
        finished_at: None,
        cancelled_at: None,
        problems: Vec::new(),
        outdated: 0,
        outdated_example: None,
    }));
    state
        .host
        .backfills
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id.clone(), job.clone());
    let (planned, left_alone) = (plan.runs.len(), plan.left_alone);
    let host = state.host.clone();
    state
        .blocking(move |served| {
            backfill_runner::record(served, &job, &plan, parallelism);
            let how = backfill_runner::Launch::Accepted;
            backfill_runner::launch(host, job, pipeline, plan, parallelism, how);
            Ok::<_, ApiError>(())
        })
        .await?;
    let answer = Accepted {
        backfill_id: id,
        planned,
        left_alone,
        dates_without_games: without_games,
        cluster: false,
    };
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// `DELETE /backfills/{id}`: cancels a backfill this server runs, or one
/// of the cluster's work queue, whichever host enqueued it: no run starts
/// after it, the runs in flight end as they would have, and the backfill
/// then reads `cancelled`. 202 with its progress; 409 when it had already
/// ended, or is another server's; 404 for one no one runs.
pub async fn cancel_backfill(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(query): Params,
) -> Result<Response, ApiError> {
    only_params(&query, &[])?;
    let Some(job) = state.host.backfill(&id) else {
        let lookup = id.clone();
        let queued = state
            .blocking(move |host| {
                let cancelled = cancel_queued(host.store.as_ref(), &lookup)?;
                // No task may be left to end the dates some tasks ran on.
                if let (QueuedCancel::Cancelled(_), Some(queue)) =
                    (&cancelled, host.store.work_queue())
                {
                    let pipeline = host.pipeline().map_err(ApiError::internal)?;
                    crate::work_queue::judge_cancelled_dates(queue, host.store.as_ref(), &pipeline)
                        .map_err(ApiError::internal)?;
                }
                Ok(cancelled)
            })
            .await?;
        match queued {
            QueuedCancel::Cancelled(progress) => {
                return Ok((StatusCode::ACCEPTED, Json(cluster_progress(progress))).into_response());
            }
            QueuedCancel::Ended(progress) => {
                let refused = match (progress.cancelled_at, progress.is_finished()) {
                    (Some(at), false) => CancelRefused::AlreadyCancelled(at),
                    _ => CancelRefused::Ended(cluster_progress(progress).state),
                };
                return Err(cancel_refused(&id, refused));
            }
            QueuedCancel::NotQueued => {}
        }
        // One an earlier server ran, from the store's records: it ended
        // there, or another server holds it.
        let lookup = id.clone();
        let saved = state
            .blocking(move |host| {
                Ok::<_, ApiError>(backfill_runner::saved_progress(
                    host.store.as_ref(),
                    &lookup,
                ))
            })
            .await?;
        return Err(match saved {
            Some(progress) => ApiError::with_status(
                StatusCode::CONFLICT,
                Some("id"),
                format!(
                    "backfill {id} is not this server's to cancel ({})",
                    progress["state"].as_str().unwrap_or("unknown")
                ),
            ),
            None => ApiError::not_found("id", format!("no backfill {id}")),
        });
    };
    match job.cancel() {
        Ok(progress) => {
            // Recorded at once: a server started after this one must not
            // resume what was cancelled, even if this one dies before its
            // runs in flight end.
            state
                .blocking(move |host| {
                    backfill_runner::save_progress(host.store.as_ref(), &job);
                    Ok::<_, ApiError>(())
                })
                .await?;
            Ok((StatusCode::ACCEPTED, Json(progress)).into_response())
        }
        Err(refused) => Err(cancel_refused(&id, refused)),
    }
}

/// The 409 of a cancel `refused`, of the backfill `id`.
fn cancel_refused(id: &str, refused: CancelRefused) -> ApiError {
    let message = match refused {
        CancelRefused::Ended(state) => format!("backfill {id} already ended ({})", state.name()),
        CancelRefused::AlreadyCancelled(at) => format!(
            "backfill {id} was already cancelled at {}; it starts no further run, and its \
             runs in flight go on to their end",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    };
    ApiError::with_status(StatusCode::CONFLICT, Some("id"), message)
}

/// What a cancel of a backfill of the cluster's work queue came to.
enum QueuedCancel {
    /// The queue holds no such backfill (or the store keeps no queue).
    NotQueued,
    /// It had ended (finished, or cancelled by another request): as it is.
    Ended(ClusterProgress),
    /// This request cancelled it: its progress now.
    Cancelled(ClusterProgress),
}

/// Cancels the backfill `id` of `store`'s work queue, if it holds one that
/// has not ended.
fn cancel_queued(store: &dyn crate::store::Store, id: &str) -> Result<QueuedCancel, ApiError> {
    let Some(queue) = store.work_queue() else {
        return Ok(QueuedCancel::NotQueued);
    };
    let progress = || queue.progress(id).map_err(ApiError::internal);
    let Some(before) = progress()? else {
        return Ok(QueuedCancel::NotQueued);
    };
    if before.is_finished() {
        return Ok(QueuedCancel::Ended(before));
    }
    Ok(
        match queue.cancel_backfill(id).map_err(ApiError::internal)? {
            Cancel::Cancelled { .. } => QueuedCancel::Cancelled(progress()?.unwrap_or(before)),
            Cancel::AlreadyCancelled => QueuedCancel::Ended(progress()?.unwrap_or(before)),
            Cancel::NoSuchBackfill => QueuedCancel::NotQueued,
        },
    )
}

/// `GET /backfills/{id}`: a backfill this server runs alone, or one of the
/// cluster's work queue, whichever host enqueued it, with every host's share.
pub async fn get_backfill(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: NoParams,
) -> Result<Response, ApiError> {
    if let Some(job) = state.host.backfill(&id) {
        return Ok(Json(job.progress()).into_response());
    }
    let missing = ApiError::not_found("id", format!("no backfill {id}"));
    if state.host.store.work_queue().is_none() {
        // One an earlier server ran, from the store's records.
        let saved = state
            .blocking(move |host| {
                Ok::<_, ApiError>(backfill_runner::saved_progress(host.store.as_ref(), &id))
            })
            .await?;
        return saved
            .map(|progress| Json(progress).into_response())
            .ok_or(missing);
    }
    let progress = state
        .blocking(move |host| {
            let queue = host.store.work_queue().expect("checked above");
            queue.progress(&id).map_err(ApiError::internal)
        })
        .await?
        .ok_or(missing)?;
    Ok(Json(cluster_progress(progress)).into_response())
}

/// A backfill of the cluster's work queue, as the API shows it.
#[derive(Serialize)]
struct ClusterBackfill {
    state: BackfillState,
    #[serde(flatten)]
    progress: ClusterProgress,
}

/// `progress` with the state it reads as.
fn cluster_progress(progress: ClusterProgress) -> ClusterBackfill {
    let state = match (
        progress.cancelled_at,
        progress.is_finished(),
        progress.ended() + progress.taken,
    ) {
        // Cancelled, its runs in flight still going: it reads `running`
        // with its `cancelled_at`, as a backfill of one host does.
        (Some(_), false, _) => BackfillState::Running,
        (Some(_), true, _) => BackfillState::Cancelled,
        (None, true, _) => BackfillState::Finished,
        (None, false, 0) => BackfillState::Queued,
        (None, false, _) => BackfillState::Running,
    };
    ClusterBackfill { state, progress }
}
