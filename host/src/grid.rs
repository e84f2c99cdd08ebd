//! The processor × date grid behind the dashboard: for each processor (in
//! dependency order, grouped by phase) and each date of a range, where its
//! latest run stands.
//!
//! [`cell`] and [`default_range`] are pure decisions, tested table by
//! table; only [`build`] talks to the store. Knows nothing of HTTP.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;

use crate::dates;
use crate::outdated;
use crate::pipeline::Pipeline;
use crate::runs::{ErrorKind, RunFilter, RunRecord, RunStatus};
use crate::store::{Store, StoreError};

/// How many scheduled dates the grid shows when no range is given.
pub const DEFAULT_SCHEDULED_DATES: usize = 30;

/// The most dates one grid may span (a season is about 170).
pub const MAX_DATES: u64 = 400;

/// Where a (processor, date) stands, from its latest run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CellStatus {
    /// The latest run committed its rows.
    Success,
    /// The latest run failed; the cell says which kind.
    Failed,
    /// The latest run was blocked by an upstream check.
    Blocked,
    /// A run is in progress and its lease holds.
    Running,
    /// A run is `running` but its lease expired: its host is gone.
    Stale,
    /// No run, on a date without games.
    NotRun,
    /// No run, on a date with games: work the pipeline has not done.
    Scheduled,
}

/// One (processor, date).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridCell {
    /// The date.
    pub date: NaiveDate,
    /// Where it stands.
    pub status: CellStatus,
    /// Why the latest run failed or was blocked.
    pub error_kind: Option<ErrorKind>,
    /// The latest run, if any.
    pub run_id: Option<String>,
    /// Its attempt number.
    pub attempt: Option<i64>,
    /// Rows it wrote.
    pub rows_written: i64,
    /// Rows it set aside under the quarantine policy.
    pub rows_quarantined: u64,
    /// Rows it wrote whose `data_quality_issues` is not empty.
    pub rows_with_quality_issues: i64,
    /// Whether its latest success is outdated ([`crate::outdated`]): written
    /// by another version than the active one, or before its upstream
    /// changed.
    pub outdated: bool,
}

/// One processor's row.
#[derive(Debug, Clone, Serialize)]
pub struct GridRow {
    /// The processor.
    pub processor: String,
    /// The processors it depends on.
    pub depends_on: Vec<String>,
    /// One cell per date of the grid, in order.
    pub cells: Vec<GridCell>,
}

/// The processors of one phase, in dependency order.
#[derive(Debug, Clone, Serialize)]
pub struct GridPhase {
    /// The phase's number (3, 4, 5).
    pub phase: u8,
    /// Its name, e.g. `4 (precompute)`.
    pub name: String,
    /// Its processors.
    pub rows: Vec<GridRow>,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GridDate {
    /// The date.
    pub date: NaiveDate,
    /// Games scheduled on it; 0 for a date without games.
    pub games: u64,
}

/// The whole grid.
#[derive(Debug, Clone, Serialize)]
pub struct Grid {
    /// The first date.
    pub from: NaiveDate,
    /// The last date, included.
    pub to: NaiveDate,
    /// When it was read.
    pub generated_at: DateTime<Utc>,
    /// Every date from `from` to `to`, in order.
    pub dates: Vec<GridDate>,
    /// The phases in order.
    pub phases: Vec<GridPhase>,
}

/// A range the grid refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// `from` is after `to`.
    #[error("`from` {from} is after `to` {to}")]
    Reversed {
        /// The first date given.
        from: NaiveDate,
        /// The last date given.
        to: NaiveDate,
    },
    /// The range spans more than [`MAX_DATES`] dates.
    #[error("the range {from} to {to} spans {days} dates; at most {MAX_DATES}")]
    TooLong {
        /// The first date given.
        from: NaiveDate,
        /// The last date given.
        to: NaiveDate,
        /// How many dates it spans.
        days: u64,
    },
}

/// Checks a range given by the caller.
pub fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), RangeError> {
    if from > to {
        return Err(RangeError::Reversed { from, to });
    }
    let days = (to - from).num_days() as u64 + 1;
    if days > MAX_DATES {
        return Err(RangeError::TooLong { from, to, days });
    }
    Ok(())
}

/// Where a (processor, date) stands, given its latest run (if any), whether
/// the date has games, and the time now (for stale leases).
pub fn cell(latest: Option<&RunRecord>, has_games: bool, now: DateTime<Utc>) -> CellStatus {
    match latest {
        None if has_games => CellStatus::Scheduled,
        None => CellStatus::NotRun,
        Some(run) => match run.status {
            RunStatus::Success => CellStatus::Success,
            RunStatus::Failed => CellStatus::Failed,
            RunStatus::Blocked => CellStatus::Blocked,
            RunStatus::Running if run.is_stale(now) => CellStatus::Stale,
            RunStatus::Running => CellStatus::Running,
        },
    }
}

/// The range shown when none is asked for: the last
/// [`DEFAULT_SCHEDULED_DATES`] dates with games, up to the latest date any
/// run was for (or the last scheduled date when nothing ran). With no
/// schedule, the 30 days up to that date (or `today`).
pub fn default_range(
    scheduled: &[NaiveDate],
    reached: Option<NaiveDate>,
    today: NaiveDate,
) -> (NaiveDate, NaiveDate) {
    let last = reached.or(scheduled.last().copied()).unwrap_or(today);
    let upto: Vec<NaiveDate> = scheduled.iter().copied().filter(|d| *d <= last).collect();
    let from = match upto.len() {
        0 => last - Days::new(DEFAULT_SCHEDULED_DATES as u64 - 1),
        n => upto[n.saturating_sub(DEFAULT_SCHEDULED_DATES)],
    };
    (from, last)
}

/// Builds the grid of `pipeline`'s processors over `range`, or over the
/// [`default_range`] when `None`.
pub fn build(
    store: &dyn Store,
    pipeline: &Pipeline,
    range: Option<(NaiveDate, NaiveDate)>,
    now: DateTime<Utc>,
) -> Result<Grid, StoreError> {
    let games = dates::scheduled_games(store, pipeline.calendar())?;
    let mut runs = store.runs(&RunFilter {
        skip_upstream_check: true,
        ..RunFilter::default()
    })?;
    let (from, to) = range.unwrap_or_else(|| {
        let scheduled: Vec<NaiveDate> = games.keys().copied().collect();
        let reached = runs.iter().map(|r| r.data_date).max();
        default_range(&scheduled, reached, now.date_naive())
    });
    let scheduled = games.keys().copied().collect();
    let outdated: HashSet<(String, NaiveDate)> =
        outdated::from_history_checked(store, &mut runs, pipeline, &scheduled)?
            .into_iter()
            .filter(|o| (from..=to).contains(&o.date))
            .map(|o| (o.processor, o.date))
            .collect();
    // Newest first, so the first record of each (processor, date) is its latest.
    let mut latest: HashMap<(&str, NaiveDate), &RunRecord> = HashMap::new();
    for run in runs.iter().filter(|r| (from..=to).contains(&r.data_date)) {
        latest
            .entry((run.processor.as_str(), run.data_date))
            .or_insert(run);
    }
    let quarantined = store.quarantine_counts(from..=to)?;
    let dates: Vec<GridDate> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|date| GridDate {
            date,
            games: games.get(&date).copied().unwrap_or(0),
        })
        .collect();

    let mut phases: Vec<GridPhase> = Vec::new();
    let mut ordered: Vec<_> = pipeline
        .order()
        .iter()
        .filter_map(|name| pipeline.plugin(name))
        .collect();
    // Stable: dependency order within each phase.
    ordered.sort_by_key(|plugin| plugin.spec.phase);
    for plugin in ordered {
        let spec = &plugin.spec;
        let cells = dates
            .iter()
            .map(|column| {
                let run = latest.get(&(spec.name.as_str(), column.date)).copied();
                GridCell {
                    date: column.date,
                    status: cell(run, column.games > 0, now),
                    error_kind: run.and_then(|r| r.error_kind),
                    run_id: run.map(|r| r.run_id.clone()),
                    attempt: run.map(|r| r.attempt),
                    rows_written: run.map_or(0, |r| r.rows_written),
                    rows_quarantined: run
                        .and_then(|r| quarantined.get(&r.run_id).copied())
                        .unwrap_or(0),
                    rows_with_quality_issues: run.map_or(0, |r| r.rows_with_quality_issues),
                    outdated: outdated.contains(&(spec.name.clone(), column.date)),
                }
            })
            .collect();
        let row = GridRow {
            processor: spec.name.clone(),
            depends_on: spec.upstream.clone(),
            cells,
        };
        let number = spec.phase as u8;
        match phases.last_mut() {
            Some(phase) if phase.phase == number => phase.rows.push(row),
            _ => phases.push(GridPhase {
                phase: number,
                name: spec.phase.to_string(),
                rows: vec![row],
            }),
        }
    }
    Ok(Grid {
        from,
        to,
        generated_at: now,
        dates,
        phases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::samples::run_record;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, d).unwrap()
    }

    fn run(status: RunStatus, lease_expires_at: DateTime<Utc>) -> RunRecord {
        RunRecord {
            lease_expires_at,
            ..run_record("P", day(6), status)
        }
    }

    #[test]
    fn a_cell_is_its_latest_runs_status_and_a_date_without_a_run_says_whether_games_were_due() {
        let now = Utc::now();
        let later = now + chrono::Duration::seconds(60);
        let earlier = now - chrono::Duration::seconds(60);
        let cases = [
            (
                Some(run(RunStatus::Success, later)),
                true,
                CellStatus::Success,
            ),
            (
                Some(run(RunStatus::Failed, later)),
                true,
                CellStatus::Failed,
            ),
            (
                Some(run(RunStatus::Blocked, later)),
                true,
                CellStatus::Blocked,
            ),
            (
                Some(run(RunStatus::Running, later)),
                true,
                CellStatus::Running,
            ),
            (
                Some(run(RunStatus::Running, earlier)),
                true,
                CellStatus::Stale,
            ),
            (None, true, CellStatus::Scheduled),
            (None, false, CellStatus::NotRun),
        ];
        for (latest, has_games, expected) in cases {
            assert_eq!(cell(latest.as_ref(), has_games, now), expected);
        }
    }

    #[test]
    fn the_default_range_is_the_last_thirty_scheduled_dates_up_to_the_latest_run() {
        let scheduled: Vec<NaiveDate> = day(1).iter_days().take(60).collect();
        let today = day(1) + Days::new(300);
        // Nothing ran: up to the last scheduled date.
        assert_eq!(
            default_range(&scheduled, None, today),
            (scheduled[30], scheduled[59])
        );
        // Runs reached the 40th date: the 30 scheduled dates up to it.
        assert_eq!(
            default_range(&scheduled, Some(scheduled[39]), today),
            (scheduled[10], scheduled[39])
        );
        // Fewer than 30 scheduled dates: from the first.
        assert_eq!(
            default_range(&scheduled[..5], None, today),
            (scheduled[0], scheduled[4])
        );
        // No schedule and no runs: the 30 days up to today.
        assert_eq!(
            default_range(&[], None, today),
            (today - Days::new(29), today)
        );
    }

    #[test]
    fn a_reversed_or_overlong_range_is_refused_naming_it() {
        assert_eq!(check_range(day(6), day(6)), Ok(()));
        assert_eq!(
            check_range(day(7), day(6)),
            Err(RangeError::Reversed {
                from: day(7),
                to: day(6)
            })
        );
        let far = day(1) + Days::new(MAX_DATES);
        let error = check_range(day(1), far).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("the range 2026-01-01 to {far} spans 401 dates; at most 400")
        );
    }
}
