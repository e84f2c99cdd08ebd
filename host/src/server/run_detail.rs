//! `GET /api/runs/{id}`: everything the dashboard shows about one run: its
//! record, the plugin version that ran, every attempt at the same
//! (processor, date), the upstream decision, and its quarantined rows with
//! their field errors.
//!
//! The upstream decision is the completeness check run history recorded
//! with the run, blocked or not: each upstream run it checked and the
//! lookback gaps. A run recorded without one (run alone, stopped by the
//! phase gate, or older than the record) shows each upstream's latest run
//! that started before it instead; `upstream_note` says which it is.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::errors::ApiError;
use super::extract::NoParams;
use super::state::{AppState, ServedHost};
use crate::quarantine::QuarantineRecord;
use crate::runs::{RunFilter, RunRecord, RunStatus};
use crate::store::Store;
use crate::upstream_check::{Gap, UpstreamCheck};

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

/// One upstream processor's run on the same date, as the run's upstream
/// check found it.
#[derive(Debug, Serialize)]
pub struct UpstreamRun {
    /// The upstream processor.
    pub processor: String,
    /// Its latest run on that date when this one was checked (or started), if any.
    pub run_id: Option<String>,
    /// Where it stood: a run status, or the check's `missing` / `stale_running`.
    pub status: Option<String>,
    /// When that run started.
    pub started_at: Option<DateTime<Utc>>,
    /// Whether the check let this run go ahead on it; unknown without a
    /// recorded check.
    pub safe_to_process: Option<bool>,
    /// The check's reason, naming the upstream, the date and the run.
    pub reason: Option<String>,
    /// The upstream's rows for the date when it was checked.
    pub rows_present: Option<u64>,
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
    /// The upstream decision: each upstream run the check relied on or
    /// blocked on.
    pub upstream: Vec<UpstreamRun>,
    /// Scheduled dates in the lookback window an upstream had no rows for,
    /// as the check found them; the run's rows carry them in
    /// `data_quality_issues`.
    pub lookback_gaps: Vec<Gap>,
    /// Where the upstream decision shown comes from.
    pub upstream_note: String,
    /// The first [`QUARANTINED_ROWS_SHOWN`] rows this run set aside, with
    /// every field error in each.
    pub quarantined: Vec<QuarantineRecord>,
    /// How many rows it set aside in all: `slate quarantine --run ID`
    /// lists every one.
    pub quarantined_total: u64,
}

/// How many quarantined rows a run's detail carries: a run may set aside
/// up to its output limit, a million rows, and a detail of them all was
/// 85 MB for anyone who can read the server.
pub const QUARANTINED_ROWS_SHOWN: usize = 100;

const UPSTREAM_NOTE_RECORDED: &str = "The completeness check recorded with this run: \
     each upstream's latest run for the date, whether it let the run go ahead, and the \
     lookback gaps, which a run that went ahead adds to its rows' data_quality_issues.";
const UPSTREAM_NOTE_PHASE_GATE: &str = "An earlier phase was incomplete in the same \
     invocation (the error above), so no upstream check ran. Listed: each upstream's \
     latest run recorded before this run started.";
const UPSTREAM_NOTE_UNRECORDED: &str = "This run was recorded without an upstream check \
     (it ran alone, or was recorded before Slate kept checks). Listed: each upstream's \
     latest run recorded before this run started.";

/// The upstream decision as the run's recorded check has it, with each
/// checked run's start time read back.
fn recorded_upstream(
    store: &dyn Store,
    check: &UpstreamCheck,
) -> Result<Vec<UpstreamRun>, ApiError> {
    let mut upstream = Vec::new();
    for decision in &check.upstreams {
        let started_at = match &decision.run_id {
            Some(id) => store
                .run(id)
                .map_err(ApiError::internal)?
                .map(|r| r.started_at),
            None => None,
        };
        upstream.push(UpstreamRun {
            processor: decision.upstream.clone(),
            run_id: decision.run_id.clone(),
            status: Some(decision.status.to_string()),
            started_at,
            safe_to_process: Some(decision.safe_to_process),
            reason: Some(decision.reason.clone()),
            rows_present: Some(decision.rows_present),
        });
    }
    Ok(upstream)
}

/// For a run without a recorded check: each declared upstream's latest run
/// on the date that started before it.
fn upstream_before(
    store: &dyn Store,
    run: &RunRecord,
    names: Vec<String>,
) -> Result<Vec<UpstreamRun>, ApiError> {
    let mut upstream = Vec::new();
    for name in names {
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
            status: earlier.as_ref().map(|r| r.status.to_string()),
            started_at: earlier.as_ref().map(|r| r.started_at),
            safe_to_process: None,
            reason: None,
            rows_present: None,
        });
    }
    Ok(upstream)
}

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
    let version = match (active, crate::shadow::live_name(&run.processor)) {
        (Some(plugin), _) if plugin.hash == run.plugin_hash => Some(plugin.spec.version.clone()),
        // A shadow's run: its version is stored, never necessarily active.
        (_, Some(live)) => host
            .registry
            .find_version(live, &run.plugin_hash)
            .ok()
            .map(|v| v.version),
        _ => host
            .registry
            .history(&run.processor)
            .map_err(ApiError::internal)?
            .into_iter()
            .find(|d| d.hash == run.plugin_hash)
            .map(|d| d.version),
    };
    let (upstream, lookback_gaps, note) = match &run.upstream_check {
        Some(check) => (
            recorded_upstream(store, check)?,
            check.gaps.clone(),
            UPSTREAM_NOTE_RECORDED,
        ),
        None => {
            let names = active.map(|p| p.spec.upstream.clone()).unwrap_or_default();
            let note = if run.status == RunStatus::Blocked {
                UPSTREAM_NOTE_PHASE_GATE
            } else {
                UPSTREAM_NOTE_UNRECORDED
            };
            (upstream_before(store, &run, names)?, Vec::new(), note)
        }
    };
    let quarantined = store
        .quarantined(Some(&run.run_id), Some(QUARANTINED_ROWS_SHOWN))
        .map_err(ApiError::internal)?;
    let quarantined_total = store
        .quarantine_counts(run.data_date..=run.data_date)
        .map_err(ApiError::internal)?
        .get(&run.run_id)
        .copied()
        .unwrap_or(0);
    Ok(RunDetail {
        plugin: RanVersion {
            hash: run.plugin_hash.clone(),
            version,
            active: active.is_some_and(|p| p.hash == run.plugin_hash),
        },
        attempts,
        upstream,
        lookback_gaps,
        upstream_note: note.to_string(),
        quarantined,
        quarantined_total,
        run,
    })
}

/// `GET /api/runs/{id}`.
pub async fn run_detail(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: NoParams,
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
