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

/// `gaps` as the data quality issues a run adds to each of its rows: one
/// per upstream, in the order the check found them, naming every date.
/// One date reads "lookback gap: A has no rows for scheduled date
/// 2026-01-06"; several, "lookback gap: A has no rows for 3 scheduled
/// dates: 2025-10-21, 2025-10-22, 2025-10-23". A run that starts
/// mid-season reads months of missing dates; one issue per date repeated
/// that many issues on every row.
pub fn gap_issues(gaps: &[Gap]) -> Vec<String> {
    let mut by_upstream: Vec<(&Gap, std::collections::BTreeSet<NaiveDate>)> = Vec::new();
    for gap in gaps {
        match by_upstream
            .iter_mut()
            .find(|(first, _)| first.upstream == gap.upstream)
        {
            Some((_, dates)) => {
                dates.insert(gap.date);
            }
            None => by_upstream.push((gap, [gap.date].into())),
        }
    }
    by_upstream
        .into_iter()
        .map(|(first, dates)| {
            if dates.len() == 1 {
                return first.to_string();
            }
            let listed: Vec<String> = dates.iter().map(ToString::to_string).collect();
            format!(
                "lookback gap: {} has no rows for {} scheduled dates: {}",
                first.upstream,
                dates.len(),
                listed.join(", ")
            )
        })
        .collect()
}

/// `gaps` in one line for a summary, each upstream once with its dates
/// (at most five each): "PlayerGameSummaryProcessor has no rows for
/// 2026-01-06; TeamOffenseGameSummaryProcessor for 2026-01-06, 2026-01-09".
pub fn summarize_gaps(gaps: &[Gap]) -> String {
    const SHOWN: usize = 5;
    let mut by_upstream: std::collections::BTreeMap<&str, std::collections::BTreeSet<NaiveDate>> =
        std::collections::BTreeMap::new();
    for gap in gaps {
        by_upstream
            .entry(&gap.upstream)
            .or_default()
            .insert(gap.date);
    }
    let parts: Vec<String> = by_upstream
        .iter()
        .enumerate()
        .map(|(i, (upstream, dates))| {
            let mut listed: Vec<String> =
                dates.iter().take(SHOWN).map(ToString::to_string).collect();
            if dates.len() > SHOWN {
                listed.push(format!("and {} more", dates.len() - SHOWN));
            }
            let has = if i == 0 { " has no rows" } else { "" };
            format!("{upstream}{has} for {}", listed.join(", "))
        })
        .collect();
    parts.join("; ")
}

/// Both checks for one processor and date, as run history records them
/// with the run they decided.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpstreamCheck {
    /// One decision per upstream.
    pub upstreams: Vec<UpstreamDecision>,
    /// Scheduled dates in the lookback window missing upstream rows.
    pub gaps: Vec<Gap>,
    /// How far back the run the check lets go ahead may read each
    /// upstream's output. Not recorded: it follows from the declaration.
    #[serde(skip)]
    pub read_window: ReadWindow,
}

/// How far back a run may read each upstream's output table: from the
/// first day of the window its lookback declares for that upstream, the
/// window the gap check covers and outdated tracking follows. A read that
/// starts earlier would take rows no check vouched for, and a rerun of
/// their date would not make the run outdated, so the sandbox refuses it.
/// A table not named here (a raw input) has no such floor. Tables are
/// named `dataset.table`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadWindow {
    floors: std::collections::BTreeMap<String, ReadFloor>,
}

/// The first date a run may read of one upstream's output, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFloor {
    /// The earliest date a read may start at.
    pub from: NaiveDate,
    /// The upstream whose output the table is.
    pub upstream: String,
    /// The lookback that sets it, as listings show it ("none", "3 days").
    pub lookback: String,
}

impl ReadWindow {
    /// Sets `table`'s floor.
    pub fn insert(&mut self, table: String, floor: ReadFloor) {
        self.floors.insert(table, floor);
    }

    /// The floor of `table` (`dataset.table`), if it has one.
    pub fn floor_of(&self, table: &str) -> Option<&ReadFloor> {
        self.floors.get(table)
    }
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
            read_window: ReadWindow::default(),
        };
        let json = serde_json::to_string(&check).unwrap();
        assert!(json.contains(r#""status":"stale_running""#), "{json}");
        assert!(json.contains(r#""date":"2026-01-06""#), "{json}");
        assert_eq!(serde_json::from_str::<UpstreamCheck>(&json).unwrap(), check);
    }

    fn gap(upstream: &str, day: u32) -> Gap {
        Gap {
            date: NaiveDate::from_ymd_opt(2026, 1, day).unwrap(),
            upstream: upstream.into(),
        }
    }

    #[test]
    fn a_rows_issues_name_each_upstream_once_with_every_date() {
        let gaps = [gap("B", 9), gap("A", 6), gap("B", 6), gap("B", 9)];
        assert_eq!(
            gap_issues(&gaps),
            [
                "lookback gap: B has no rows for 2 scheduled dates: 2026-01-06, 2026-01-09",
                "lookback gap: A has no rows for scheduled date 2026-01-06",
            ]
        );
        let month: Vec<Gap> = (1..=31).map(|day| gap("A", day)).collect();
        let issues = gap_issues(&month);
        assert_eq!(issues.len(), 1);
        assert!(issues[0].starts_with(
            "lookback gap: A has no rows for 31 scheduled dates: 2026-01-01, 2026-01-02,"
        ));
        assert!(issues[0].ends_with(", 2026-01-31"), "{}", issues[0]);
        assert!(gap_issues(&[]).is_empty());
    }

    #[test]
    fn a_summary_names_each_upstream_once_with_its_dates_in_order() {
        let gaps = [gap("B", 9), gap("A", 6), gap("B", 6), gap("A", 6)];
        assert_eq!(
            summarize_gaps(&gaps),
            "A has no rows for 2026-01-06; B for 2026-01-06, 2026-01-09"
        );
        let many: Vec<Gap> = (1..=8).map(|day| gap("A", day)).collect();
        assert_eq!(
            summarize_gaps(&many),
            "A has no rows for 2026-01-01, 2026-01-02, 2026-01-03, 2026-01-04, 2026-01-05, \
             and 3 more"
        );
        assert_eq!(summarize_gaps(&[]), "");
    }
}
