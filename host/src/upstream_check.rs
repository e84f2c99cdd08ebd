//! What a run's completeness check found: each upstream's decision and
//! the lookback gaps. [`crate::completeness`] decides; run history records
//! the result with the run it decided, blocked or not, so an operator sees
//! which upstream runs a run that went ahead relied on. Plain data: it
//! imports nothing of the host.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Where an upstream's latest run for the date stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamStatus {
    /// Its rows were committed.
    Success,
    /// It failed or was blocked.
    Failed,
    /// It never ran for the date.
    Missing,
    /// It is running and its lease is live.
    Running,
    /// It is `running` but its lease expired: its host is gone.
    StaleRunning,
}

impl fmt::Display for UpstreamStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpstreamStatus::Success => "success",
            UpstreamStatus::Failed => "failed",
            UpstreamStatus::Missing => "missing",
            UpstreamStatus::Running => "running",
            UpstreamStatus::StaleRunning => "stale_running",
        })
    }
}

/// The decision about one upstream of one processor for one date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamDecision {
    /// The upstream processor.
    pub upstream: String,
    /// Where its latest run stands.
    pub status: UpstreamStatus,
    /// That run, when there is one.
    pub run_id: Option<String>,
    /// Its rows for the date in its output table.
    pub rows_present: u64,
    /// Whether the downstream may run.
    pub safe_to_process: bool,
    /// Why, in words that name the upstream, the date and the run.
    pub reason: String,
    /// How long ago the latest run last changed (finished or heartbeat).
    pub age_seconds: Option<i64>,
}

/// A scheduled date in the lookback window with no rows from an upstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The scheduled date.
    pub date: NaiveDate,
    /// The upstream processor whose table has no rows for it.
    pub upstream: String,
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lookback gap: {} has no rows for scheduled date {}",
            self.upstream, self.date
        )
    }
}

/// Both checks for one processor and date, as run history records them
/// with the run they decided.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpstreamCheck {
    /// One decision per upstream.
    pub upstreams: Vec<UpstreamDecision>,
    /// Scheduled dates in the lookback window missing upstream rows.
    pub gaps: Vec<Gap>,
}

impl UpstreamCheck {
    /// The upstream decisions that forbid running.
    pub fn blocking_upstreams(&self) -> impl Iterator<Item = &UpstreamDecision> {
        self.upstreams.iter().filter(|d| !d.safe_to_process)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_reads_back_from_the_json_run_history_keeps() {
        let check = UpstreamCheck {
            upstreams: vec![UpstreamDecision {
                upstream: "A".into(),
                status: UpstreamStatus::StaleRunning,
                run_id: Some("r1".into()),
                rows_present: 12,
                safe_to_process: true,
                reason: "upstream A is stale_running".into(),
                age_seconds: Some(90),
            }],
            gaps: vec![Gap {
                date: NaiveDate::from_ymd_opt(2026, 1, 6).unwrap(),
                upstream: "A".into(),
            }],
        };
        let json = serde_json::to_string(&check).unwrap();
        assert!(json.contains(r#""status":"stale_running""#), "{json}");
        assert!(json.contains(r#""date":"2026-01-06""#), "{json}");
        assert_eq!(serde_json::from_str::<UpstreamCheck>(&json).unwrap(), check);
    }
}
