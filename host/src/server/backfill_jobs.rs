//! The backfills a server has accepted, and where each stands: shared by
//! the handlers that start and report them and by the server's state, which
//! keeps them by id. Knows nothing of HTTP.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::backfill::{Outcome, Reprocess, Tally};

/// Where a backfill stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackfillState {
    /// Waiting for worker slots.
    Queued,
    /// Executing.
    Running,
    /// Every planned run ended.
    Finished,
    /// The server shut down before every run started.
    Stopped,
    /// Cancelled (`DELETE /backfills/{id}`): no run started after that;
    /// the runs in flight then ended as they would have.
    Cancelled,
}

impl BackfillState {
    /// Its name, as the API writes it.
    pub fn name(self) -> &'static str {
        match self {
            BackfillState::Queued => "queued",
            BackfillState::Running => "running",
            BackfillState::Finished => "finished",
            BackfillState::Stopped => "stopped",
            BackfillState::Cancelled => "cancelled",
        }
    }
}

/// A backfill's progress, as `GET /backfills/{id}` answers it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct BackfillProgress {
    /// The backfill.
    pub id: String,
    /// Where it stands.
    pub state: BackfillState,
    /// The range.
    pub start_date: NaiveDate,
    /// The range's last date.
    pub end_date: NaiveDate,
    /// The reprocess mode.
    pub reprocess: Reprocess,
    /// Runs planned.
    pub planned: usize,
    /// (processor, date) pairs left alone under the reprocess mode.
    pub left_alone: usize,
    /// How the runs ended so far, and the rows they wrote: `succeeded`,
    /// `failed`, `blocked`, `not_started` (held by another run), `rows`.
    #[serde(flatten)]
    pub ended: Tally,
    /// Planned runs that never started, because the backfill was cancelled
    /// (or stopped by a shutdown) first: with the counts above, every
    /// planned run is counted once.
    #[serde(default)]
    pub not_run: usize,
    /// When it was accepted.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// When it was cancelled: recorded at once, so that a backfill
    /// cancelled while its runs in flight end is never resumed by a server
    /// started after this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Every run that did not succeed.
    pub problems: Vec<Outcome>,
    /// Once it ended: how many (processor, date) pairs of its processors in
    /// its range are outdated ([`crate::outdated`]), as `slate backfill`
    /// warns: one that read an upstream another invocation reran
    /// meanwhile, or one the reprocess mode left alone.
    #[serde(default)]
    pub outdated: usize,
    /// The first of them, and why: `P 2026-01-08: Q rewrote this date
    /// since (run R)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outdated_example: Option<String>,
}

/// A backfill started through the API.
pub struct BackfillJob {
    progress: Mutex<BackfillProgress>,
    /// Set to start no more runs: by a cancel, or by the server's shutdown.
    stop: AtomicBool,
    /// Set by a cancel.
    cancelled: AtomicBool,
}

impl BackfillJob {
    /// A job whose progress starts as `progress`.
    pub fn new(progress: BackfillProgress) -> Self {
        BackfillJob {
            progress: Mutex::new(progress),
            stop: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
        }
    }

    /// The flag its runs watch: once set, no further run starts.
    pub fn stop_flag(&self) -> &AtomicBool {
        &self.stop
    }

    /// Starts no further run: the server is shutting down.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Cancels it, unless it already ended or was cancelled: no further
    /// run starts. A queued one is `cancelled` at once, having started
    /// nothing; a running one ends once its runs in flight have:
    /// `cancelled`, or `finished` when every planned run had started. Its
    /// progress now, or why it cannot be cancelled.
    pub fn cancel(&self) -> Result<BackfillProgress, CancelRefused> {
        let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        if !matches!(
            progress.state,
            BackfillState::Queued | BackfillState::Running
        ) {
            return Err(CancelRefused::Ended(progress.state));
        }
        if let Some(at) = progress.cancelled_at {
            return Err(CancelRefused::AlreadyCancelled(at));
        }
        self.cancelled.store(true, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        let now = Utc::now();
        progress.cancelled_at = Some(now);
        if progress.state == BackfillState::Queued {
            progress.state = BackfillState::Cancelled;
            progress.finished_at = Some(now);
            progress.not_run = progress.planned;
        }
        Ok(progress.clone())
    }

    /// How it ended, once `run` of `planned` runs did: finished, or
    /// cancelled or stopped before every run started.
    pub fn end_state(&self, run: usize, planned: usize) -> BackfillState {
        match (run < planned, self.cancelled.load(Ordering::SeqCst)) {
            (false, _) => BackfillState::Finished,
            (true, true) => BackfillState::Cancelled,
            (true, false) => BackfillState::Stopped,
        }
    }

    /// Ends it in `state`: what it ran is counted already, and the planned
    /// runs that never started are counted as not run.
    pub fn end(&self, state: BackfillState) {
        self.update(|p| {
            p.state = state;
            p.finished_at = Some(Utc::now());
            p.not_run = p.planned.saturating_sub(p.ended.ended());
        });
    }

    /// Changes its progress.
    pub fn update(&self, change: impl FnOnce(&mut BackfillProgress)) {
        change(&mut self.progress.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Its progress now.
    pub fn progress(&self) -> BackfillProgress {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Why a backfill cannot be cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRefused {
    /// It ended already, in this state.
    Ended(BackfillState),
    /// It was cancelled then, and is still running: its runs in flight
    /// are ending.
    AlreadyCancelled(DateTime<Utc>),
}
