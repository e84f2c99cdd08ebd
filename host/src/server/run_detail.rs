//! `GET /api/runs/{id}`: everything the dashboard shows about one run: its
//! record, the plugin version that ran, every attempt at the same
//! (processor, date), the upstream runs it found, and its quarantined rows
//! with their field errors.
//!
//! Run history records the upstream decision only when it blocked a run
//! (the reason names the upstream run or the lookback gap); for a run that
//! went ahead, the upstream runs shown are those recorded before it
//! started, and its lookback gaps live in its rows' `data_quality_issues`,
//! not in run history. The answer says so in `upstream_note`.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::errors::ApiError;
use super::state::{AppState, ServedHost};
use crate::quarantine::QuarantineRecord;
use crate::runs::{RunFilter, RunRecord, RunStatus};

/// The plugin version a run executed.
#[derive(Debug, Serialize)]
pub struct RanVersion {
    /// Its content hash, as recorded on the run.
    pub hash: String,
    /// Its version string, when the host still knows that hash.
    pub version: Option<String>,
    /// Whether it is the processor's active version now.
    pub active: bool,
}

/// One upstream processor's latest run on the same date, as of the run's start.
#[derive(Debug, Serialize)]
pub struct UpstreamRun {
    /// The upstream processor.
    pub processor: String,
    /// Its latest run on that date that started before this one, if any.
    pub run_id: Option<String>,
    /// That run's status.
    pub status: Option<RunStatus>,
    /// When that run started.
    pub started_at: Option<DateTime<Utc>>,
}

/// The answer.
#[derive(Debug, Serialize)]
pub struct RunDetail {
    /// The run's record.
    pub run: RunRecord,
    /// The plugin version that ran.
    pub plugin: RanVersion,
    /// Every attempt at the same (processor, date), newest first, this one included.
    pub attempts: Vec<RunRecord>,
    /// The declared upstreams and what each had recorded when this run started.
    pub upstream: Vec<UpstreamRun>,
    /// What run history does and does not record of the upstream decision.
    pub upstream_note: String,
    /// The rows this run set aside, with every field error in each.
    pub quarantined: Vec<QuarantineRecord>,
}

const UPSTREAM_NOTE_BLOCKED: &str = "The upstream decision that blocked this run is its error \
     above. The upstream runs listed are those recorded before it started.";
const UPSTREAM_NOTE_RAN: &str = "Run history records the upstream decision only when it \
     blocks a run. Listed: each upstream's latest run recorded before this run started. \
     Lookback gaps of a run that went ahead are in its rows' data_quality_issues.";

fn detail(host: &ServedHost, run: RunRecord) -> Result<RunDetail, ApiError> {
    let store = host.store.as_ref();
    let attempts = store
        .runs(&RunFilter {
            date: Some(run.data_date),
            processor: Some(run.processor.clone()),
            ..RunFilter::default()
        })
        .map_err(ApiError::internal)?;
    let pipeline = host.pipeline().map_err(ApiError::internal)?;
    let active = pipeline.plugin(&run.processor);
    let version = match active {
        Some(plugin) if plugin.hash == run.plugin_hash => Some(plugin.spec.version.clone()),
        _ => host
            .registry
            .history(&run.processor)
            .map_err(ApiError::internal)?
            .into_iter()
            .find(|d| d.hash == run.plugin_hash)
            .map(|d| d.version),
    };
    let upstream_names = active.map(|p| p.spec.upstream.clone()).unwrap_or_default();
    let mut upstream = Vec::new();
    for name in upstream_names {
        let earlier = store
            .runs(&RunFilter {
                date: Some(run.data_date),
                processor: Some(name.clone()),
                ..RunFilter::default()
            })
            .map_err(ApiError::internal)?
            .into_iter()
            .find(|r| r.started_at <= run.started_at);
        upstream.push(UpstreamRun {
            processor: name,
            run_id: earlier.as_ref().map(|r| r.run_id.clone()),
            status: earlier.as_ref().map(|r| r.status),
            started_at: earlier.as_ref().map(|r| r.started_at),
        });
    }
    let quarantined = store
        .quarantined(Some(&run.run_id))
        .map_err(ApiError::internal)?;
    Ok(RunDetail {
        plugin: RanVersion {
            hash: run.plugin_hash.clone(),
            version,
            active: active.is_some_and(|p| p.hash == run.plugin_hash),
        },
        attempts,
        upstream,
        upstream_note: if run.status == RunStatus::Blocked {
            UPSTREAM_NOTE_BLOCKED
        } else {
            UPSTREAM_NOTE_RAN
        }
        .to_string(),
        quarantined,
        run,
    })
}

/// `GET /api/runs/{id}`.
pub async fn run_detail(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RunDetail>, ApiError> {
    let lookup = id.clone();
    state
        .blocking(move |host| {
            let run = host
                .store
                .run(&lookup)
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::not_found("id", format!("no run {lookup}")))?;
            detail(host, run)
        })
        .await
        .map(Json)
}
