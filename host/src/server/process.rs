//! `POST /process-date`: run processors for one date, as the source
//! pipeline's service did. The body is checked before anything starts;
//! every selected run is claimed up front (so each has its id), then the
//! claims execute in dependency order on the worker pool. A processor
//! another request holds for the date, or whose claim the store refused,
//! is answered `not_started`; when that is every one, nothing starts and
//! the answer is 409 (all held elsewhere) or 503 (the store refused a
//! claim). With `"async":
//! true` the answer is 202 with the run ids; otherwise it waits and
//! answers each run's status, rows and error, in run order.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::errors::ApiError;
use super::extract::{JsonBody, Params, date_field, named_processors, only_params, served_date};
use super::state::AppState;
use crate::executor::Claim;
use crate::runs::{RunRecord, RunStatus, Trigger};
use crate::store::StoreError;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessDate {
    /// Processor names; all of them when absent. An empty list is refused.
    pub processors: Option<Vec<String>>,
    /// The analysis date, `YYYY-MM-DD`.
    pub analysis_date: String,
    /// Answer 202 at once with the run ids instead of waiting.
    #[serde(default, rename = "async")]
    pub run_async: bool,
}

/// One processor's entry in the answer.
#[derive(Debug, Serialize)]
pub struct RunEntry {
    /// The processor.
    pub processor: String,
    /// `running` (async), or its final status; `not_started` when it
    /// could not be claimed.
    pub status: String,
    /// Rows written.
    pub rows: i64,
    /// The run, if one was claimed.
    pub run_id: Option<String>,
    /// Why it did not succeed.
    pub error: Option<String>,
}

impl RunEntry {
    fn from_record(record: &RunRecord) -> Self {
        RunEntry {
            processor: record.processor.clone(),
            status: record.status.to_string(),
            rows: record.rows_written,
            run_id: Some(record.run_id.clone()),
            error: record.error_message.clone(),
        }
    }

    fn claimed(processor: String, record: &RunRecord) -> Self {
        RunEntry {
            processor,
            status: "running".into(),
            rows: 0,
            run_id: Some(record.run_id.clone()),
            error: None,
        }
    }

    /// The run, claimed, whose end could not be recorded because the
    /// store failed with `error`: given up, for the reaper to end (`failed`,
    /// kind `stale`, the error in its reason) once the store answers.
    fn given_up(&mut self, error: &StoreError) {
        self.status = RunStatus::Failed.to_string();
        self.error = Some(format!(
            "its end could not be recorded: {error}; it is given up, and reaped with that \
             reason once the store answers"
        ));
    }

    fn not_started(processor: String, error: String) -> Self {
        RunEntry {
            processor,
            status: "not_started".into(),
            rows: 0,
            run_id: None,
            error: Some(error),
        }
    }
}

/// The answer.
#[derive(Debug, Serialize)]
pub struct ProcessDateAnswer {
    /// The date.
    pub analysis_date: NaiveDate,
    /// One entry per selected processor, in run order.
    pub runs: Vec<RunEntry>,
}

/// The handler. Claiming and starting the runs happen in one blocking
/// step that the client cannot interrupt: once a run is claimed it runs to
/// its end on the worker pool, whether or not the client waits for the
/// answer (a client that hangs up loses only the answer).
pub async fn process_date(
    State(state): State<AppState>,
    Params(query): Params,
    JsonBody(body): JsonBody<ProcessDate>,
) -> Result<Response, ApiError> {
    // Everything is in the body: `?async=true` would otherwise be ignored
    // and the request run while the client thinks it was queued.
    only_params(&query, &[])?;
    let date = date_field("analysis_date", &body.analysis_date)?;
    state.refuse_if_draining()?;
    let processors = named_processors(body.processors.clone())?;
    let host = state.host.clone();
    let dates = state.config.settings().dates;
    let (mut entries, job) = state
        .blocking(move |_| {
            let pipeline = host.pipeline().map_err(ApiError::internal)?;
            served_date(&host, &pipeline, &dates, "analysis_date", date)?;
            let selection = pipeline
                .select(&processors)
                .map_err(|e| ApiError::bad_field("processors", host.selection_refusal(&e)))?;
            let claims = pipeline.claim_date(&host.executor, date, &selection, Trigger::Http);
            if !claims.is_empty() && claims.iter().all(|(_, claim)| claim.is_err()) {
                return Err(nothing_started(date, &claims));
            }
            let mut entries = Vec::new();
            let mut claimed = Vec::new();
            for (processor, claim) in claims {
                match claim {
                    Ok(claim) => {
                        entries.push(RunEntry::claimed(processor, claim.record()));
                        claimed.push(claim);
                    }
                    Err(error) => entries.push(RunEntry::not_started(processor, error.to_string())),
                }
            }
            let runner = host.clone();
            let job = host
                .workers
                .spawn(move || pipeline.run_claims(&runner.executor, claimed, &runner.stopping));
            Ok::<_, ApiError>((entries, job))
        })
        .await?;
    if body.run_async {
        return Ok((
            StatusCode::ACCEPTED,
            Json(ProcessDateAnswer {
                analysis_date: date,
                runs: entries,
            }),
        )
            .into_response());
    }
    let results = job.await.map_err(ApiError::internal)?;
    // The claims ran in run order: each claimed entry takes its record, or
    // says why none could be recorded.
    let mut ended = results.into_iter();
    for entry in &mut entries {
        if entry.run_id.is_some()
            && let Some(result) = ended.next()
        {
            match result {
                Ok(record) => *entry = RunEntry::from_record(&record),
                Err(error) => entry.given_up(&error),
            }
        }
    }
    Ok(Json(ProcessDateAnswer {
        analysis_date: date,
        runs: entries,
    })
    .into_response())
}

/// The answer to a request of which no processor could be claimed:
/// nothing was started. When every one is already running for `date`
/// under another request, a 409 that names the runs holding them. When
/// the store refused a claim (full, unreachable), a 503 with
/// `Retry-After` that says how, as the run state cannot take new work:
/// not a 200 whose every run is `not_started`, which a client checking
/// the status alone takes for success.
fn nothing_started(date: NaiveDate, claims: &[(String, Result<Claim, StoreError>)]) -> ApiError {
    let refused = claims.iter().find_map(|(processor, claim)| match claim {
        Err(StoreError::AlreadyRunning { .. }) | Ok(_) => None,
        Err(error) => Some((processor, error)),
    });
    if let Some((processor, error)) = refused {
        tracing::error!("no run could be claimed for {date}: {processor}: {error}");
        return ApiError::with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            format!(
                "nothing started for {date}: the store refused the claim of {processor}: \
                 {error}; try again once it takes writes"
            ),
        );
    }
    let held: Vec<String> = claims
        .iter()
        .filter_map(|(processor, claim)| match claim {
            Err(StoreError::AlreadyRunning { run_id, .. }) => {
                Some(format!("{processor} (run {run_id})"))
            }
            _ => None,
        })
        .collect();
    ApiError::with_status(
        StatusCode::CONFLICT,
        Some("processors"),
        format!(
            "nothing started: every selected processor is already running for {date}: {}",
            held.join(", ")
        ),
    )
}
