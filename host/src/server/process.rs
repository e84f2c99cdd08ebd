//! `POST /process-date`: run processors for one date, as the source
//! pipeline's service did. The body is checked before anything starts;
//! every selected run is claimed at once (so each has its id), then the
//! claims execute in dependency order on the worker pool. With `"async":
//! true` the answer is 202 with the run ids; otherwise it waits and
//! answers each run's status, rows and error.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::errors::ApiError;
use super::extract::JsonBody;
use super::state::AppState;
use crate::runs::{RunRecord, Trigger};

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessDate {
    /// Processor names; all of them when absent or empty.
    #[serde(default)]
    pub processors: Vec<String>,
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

/// Parses a `YYYY-MM-DD` field, naming it when it is not a real date.
pub fn parse_date_field(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ApiError::bad_field(
            field,
            format!(
                "invalid date `{text}` in `{field}`: expected a real calendar date as YYYY-MM-DD"
            ),
        )
    })
}

/// The handler.
pub async fn process_date(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ProcessDate>,
) -> Result<Response, ApiError> {
    let date = parse_date_field("analysis_date", &body.analysis_date)?;
    if state.host.draining.load(Ordering::SeqCst) {
        return Err(ApiError::shutting_down());
    }
    let processors = body.processors.clone();
    let claimed = state
        .blocking(move |host| {
            let pipeline = host.pipeline().map_err(ApiError::internal)?;
            let selection = pipeline
                .select(&processors)
                .map_err(|e| ApiError::bad_field("processors", e.to_string()))?;
            let claims = pipeline.claim_date(&host.executor, date, &selection, Trigger::Http);
            Ok::<_, ApiError>((pipeline, claims))
        })
        .await?;
    let (pipeline, claims) = claimed;
    let mut not_started = Vec::new();
    let mut claimed = Vec::new();
    let mut ids = Vec::new();
    for (processor, claim) in claims {
        match claim {
            Ok(claim) => {
                ids.push(RunEntry {
                    processor,
                    status: "running".into(),
                    rows: 0,
                    run_id: Some(claim.record().run_id.clone()),
                    error: None,
                });
                claimed.push(claim);
            }
            Err(error) => not_started.push(RunEntry::not_started(processor, error.to_string())),
        }
    }
    let host = state.host.clone();
    let job = state.host.workers.spawn(1, move || {
        pipeline.run_claims(&host.executor, claimed, &host.stopping)
    });
    if body.run_async {
        ids.extend(not_started);
        let answer = ProcessDateAnswer {
            analysis_date: date,
            runs: ids,
        };
        return Ok((StatusCode::ACCEPTED, Json(answer)).into_response());
    }
    let records = job
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let mut runs: Vec<RunEntry> = records.iter().map(RunEntry::from_record).collect();
    runs.extend(not_started);
    Ok(Json(ProcessDateAnswer {
        analysis_date: date,
        runs,
    })
    .into_response())
}
