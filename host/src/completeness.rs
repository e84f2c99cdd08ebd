//! Whether a processor may run for a date: its upstreams, and its lookback.
//!
//! Check 1, upstream status: each upstream's latest run for the date is
//! success, failed, missing, running or stale_running. A failed or stale
//! upstream is safe only under `proceed_if_data_present`, and only when its
//! rows for the date are actually in its output table.
//!
//! Check 2, lookback gaps: every scheduled game date in the lookback window
//! must have rows in each upstream's output table. A day without games is
//! not a gap. Gaps are reported date by date.
//!
//! The decisions are pure functions of what the store says, so they are
//! tested table by table; [`check_dates`] gathers the facts from the store,
//! once for a whole chunk of dates.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use chrono::{DateTime, NaiveDate, Utc};

use crate::dates;
use crate::plugin::spec::{Lookback, ProcessorSpec, UpstreamPolicy};
use crate::runs::{RunFilter, RunRecord, RunStatus};
use crate::schema::TableName;
use crate::store::{Store, StoreError};
pub use crate::upstream_check::{
    Gap, ReadFloor, ReadWindow, UpstreamCheck, UpstreamDecision, UpstreamStatus,
};

/// Decides whether `upstream`'s state lets a processor run for `date`.
pub fn decide_upstream(
    upstream: &str,
    date: NaiveDate,
    latest: Option<&RunRecord>,
    rows_present: u64,
    policy: UpstreamPolicy,
    now: DateTime<Utc>,
) -> UpstreamDecision {
    let Some(run) = latest else {
        return UpstreamDecision {
            upstream: upstream.to_string(),
            status: UpstreamStatus::Missing,
            run_id: None,
            rows_present,
            safe_to_process: false,
            reason: format!("upstream {upstream} has no run for {date}"),
            age_seconds: None,
        };
    };
    let changed = run.finished_at.unwrap_or(run.heartbeat_at);
    let age_seconds = Some((now - changed).num_seconds());
    let status = match run.status {
        RunStatus::Success => UpstreamStatus::Success,
        RunStatus::Running if run.is_stale(now) => UpstreamStatus::StaleRunning,
        RunStatus::Running => UpstreamStatus::Running,
        RunStatus::Failed | RunStatus::Blocked => UpstreamStatus::Failed,
    };
    // A blocked upstream counts as failed, but the reason says which.
    let state = match status {
        UpstreamStatus::Failed => run.status.to_string(),
        other => other.to_string(),
    };
    let described = format!(
        "upstream {upstream} is {state} for {date} (run {})",
        run.run_id
    );
    let (safe_to_process, reason) = match status {
        UpstreamStatus::Success => (true, described),
        UpstreamStatus::Running => (false, format!("{described}, started {}", run.started_at)),
        UpstreamStatus::Missing => unreachable!("a run exists"),
        UpstreamStatus::Failed | UpstreamStatus::StaleRunning => match policy {
            UpstreamPolicy::Block => (false, format!("{described}; policy is block")),
            UpstreamPolicy::ProceedIfDataPresent if rows_present > 0 => (
                true,
                format!("{described}, but its {rows_present} rows for {date} are present"),
            ),
            UpstreamPolicy::ProceedIfDataPresent => {
                (false, format!("{described} and has no rows for {date}"))
            }
        },
    };
    UpstreamDecision {
        upstream: upstream.to_string(),
        status,
        run_id: Some(run.run_id.clone()),
        rows_present,
        safe_to_process,
        reason,
        age_seconds,
    }
}

/// The scheduled game dates a lookback covers, oldest first. Only dates
/// before `date` count: a processor never reads its own date's future.
pub fn lookback_window(
    lookback: Lookback,
    date: NaiveDate,
    scheduled: &BTreeSet<NaiveDate>,
) -> Vec<NaiveDate> {
    let before = scheduled.range(..date);
    match lookback {
        Lookback::None => Vec::new(),
        Lookback::Days(days) => {
            let first = date
                .checked_sub_days(chrono::Days::new(u64::from(days)))
                .unwrap_or(NaiveDate::MIN);
            before.filter(|d| **d >= first).copied().collect()
        }
        Lookback::Games(games) => {
            let mut window: Vec<NaiveDate> = before.rev().take(games as usize).copied().collect();
            window.reverse();
            window
        }
        Lookback::SeasonToDate(start) => match start.season_of(date) {
            Some(first) => before.filter(|d| **d >= first).copied().collect(),
            None => Vec::new(),
        },
    }
}

/// The first date a read of an upstream's output read with `lookback` may
/// start at, for a run of `date`: the first day of its
/// [`lookback_window`]. `None` where any earlier date would do as well: a
/// games lookback that reaches past the first scheduled date, or a season
/// start no year has.
pub fn earliest_read(
    lookback: Lookback,
    date: NaiveDate,
    scheduled: &BTreeSet<NaiveDate>,
) -> Option<NaiveDate> {
    match lookback {
        Lookback::None => Some(date),
        Lookback::Days(days) => date.checked_sub_days(chrono::Days::new(u64::from(days))),
        // The days between the (N+1)th game date back and the Nth hold no
        // game: a read may start on any of them.
        Lookback::Games(games) => scheduled
            .range(..date)
            .rev()
            .nth(games as usize)
            .and_then(|before| before.succ_opt()),
        Lookback::SeasonToDate(start) => start.season_of(date),
    }
}

/// How far back a run of `spec` for `date` may read each upstream's output
/// ([`earliest_read`] of its lookback for that upstream). `output_of`
/// gives an upstream's table; one it does not know has no floor.
pub fn read_window(
    spec: &ProcessorSpec,
    date: NaiveDate,
    output_of: impl Fn(&str) -> Option<TableName>,
    scheduled: &BTreeSet<NaiveDate>,
) -> ReadWindow {
    let mut window = ReadWindow::default();
    for upstream in &spec.upstream {
        let lookback = spec.lookback_of(upstream);
        if let (Some(table), Some(from)) = (
            output_of(upstream),
            earliest_read(lookback, date, scheduled),
        ) {
            let floor = ReadFloor {
                from,
                upstream: upstream.clone(),
                lookback: lookback.to_string(),
            };
            window.insert(table.to_string(), floor);
        }
    }
    window
}

/// The dates an upstream covers: those with rows, and those whose latest
/// run succeeded with none (opening night, before anyone has played): a
/// successful empty date is not a gap. `history` is newest first.
pub fn covered_dates(
    mut with_rows: BTreeSet<NaiveDate>,
    history: &[RunRecord],
) -> BTreeSet<NaiveDate> {
    let mut seen = BTreeSet::new();
    for run in history {
        if seen.insert(run.data_date) && run.status == RunStatus::Success {
            with_rows.insert(run.data_date);
        }
    }
    with_rows
}

/// The window's dates that an upstream does not cover ([`covered_dates`]),
/// date by date.
pub fn find_gaps(
    window: &[NaiveDate],
    upstream: &str,
    dates_with_rows: &BTreeSet<NaiveDate>,
) -> Vec<Gap> {
    window
        .iter()
        .filter(|d| !dates_with_rows.contains(d))
        .map(|d| Gap {
            date: *d,
            upstream: upstream.to_string(),
        })
        .collect()
}

/// Runs both checks against the store for `date`: [`check_dates`] for one
/// date.
pub fn check(
    store: &dyn Store,
    spec: &ProcessorSpec,
    date: NaiveDate,
    output_of: impl Fn(&str) -> Option<TableName>,
    calendar: &TableName,
    now: DateTime<Utc>,
) -> Result<UpstreamCheck, StoreError> {
    let mut checks = check_dates(store, spec, &[date], output_of, calendar, now)?;
    Ok(checks.pop().expect("one check per date"))
}

/// Runs both checks against the store for each of `dates`, in order,
/// reading each fact once for them all: the calendar, and per upstream its
/// runs and its rows per date over the span from the earliest lookback
/// window to the last date. A backfill checks a chunk of dates with a few
/// queries instead of a few per date. `output_of` gives an upstream's
/// output table; `calendar` is the schedule table whose partition dates are
/// the scheduled game dates (no calendar table means no gap check).
pub fn check_dates(
    store: &dyn Store,
    spec: &ProcessorSpec,
    dates: &[NaiveDate],
    output_of: impl Fn(&str) -> Option<TableName>,
    calendar: &TableName,
    now: DateTime<Utc>,
) -> Result<Vec<UpstreamCheck>, StoreError> {
    if dates.is_empty() {
        return Ok(Vec::new());
    }
    let scheduled: BTreeSet<NaiveDate> = if !spec.looks_back() {
        BTreeSet::new()
    } else {
        dates::scheduled_games(store, calendar)?
            .into_keys()
            .collect()
    };
    // Per upstream, the window of each date: an upstream may be read
    // further back than another.
    let windows: Vec<Vec<Vec<NaiveDate>>> = spec
        .upstream
        .iter()
        .map(|upstream| {
            let lookback = spec.lookback_of(upstream);
            dates
                .iter()
                .map(|date| lookback_window(lookback, *date, &scheduled))
                .collect()
        })
        .collect();
    let span = dates.iter().chain(windows.iter().flatten().flatten()).fold(
        None,
        |span: Option<(NaiveDate, NaiveDate)>, d| match span {
            None => Some((*d, *d)),
            Some((first, last)) => Some((first.min(*d), last.max(*d))),
        },
    );
    let Some((first, last)) = span else {
        return Ok(Vec::new());
    };
    let checked = (dates.iter().min(), dates.iter().max());
    let (Some(&first_checked), Some(&last_checked)) = checked else {
        return Ok(Vec::new());
    };
    let checked = first_checked..=last_checked;
    let upstreams = spec
        .upstream
        .iter()
        .map(|upstream| {
            UpstreamFacts::read(
                store,
                upstream,
                output_of(upstream),
                first..=last,
                checked.clone(),
            )
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(dates
        .iter()
        .enumerate()
        .map(|(d, date)| {
            let mut check = UpstreamCheck {
                read_window: read_window(spec, *date, &output_of, &scheduled),
                ..UpstreamCheck::default()
            };
            for (facts, windows) in upstreams.iter().zip(&windows) {
                check.upstreams.push(decide_upstream(
                    facts.upstream,
                    *date,
                    facts.runs.iter().find(|run| run.data_date == *date),
                    facts.rows.get(date).copied().unwrap_or(0),
                    spec.upstream_policy,
                    now,
                ));
                if facts.has_table {
                    check
                        .gaps
                        .extend(find_gaps(&windows[d], facts.upstream, &facts.covered));
                }
            }
            check
        })
        .collect())
}

/// What the checks read of one upstream over a span of dates.
struct UpstreamFacts<'a> {
    upstream: &'a str,
    /// Whether the upstream has an output table: without one there is no
    /// gap check.
    has_table: bool,
    /// Its runs in the span, newest first.
    runs: Vec<RunRecord>,
    /// Its output table's rows per partition date, on the dates checked.
    rows: BTreeMap<NaiveDate, u64>,
    /// The dates of the span it covers ([`covered_dates`]).
    covered: BTreeSet<NaiveDate>,
}

impl<'a> UpstreamFacts<'a> {
    /// One read of the runs over the span, one of the rows per date on
    /// the dates `checked`, and one of the dates with rows over the span:
    /// only the span's dates are read, whatever the history.
    fn read(
        store: &dyn Store,
        upstream: &'a str,
        table: Option<TableName>,
        span: RangeInclusive<NaiveDate>,
        checked: RangeInclusive<NaiveDate>,
    ) -> Result<Self, StoreError> {
        let runs = store.runs(&RunFilter {
            processor: Some(upstream.to_string()),
            dates: Some(span.clone()),
            skip_upstream_check: true,
            ..RunFilter::default()
        })?;
        let (rows, dates_with_rows) = match &table {
            Some(table) if store.table_schema(table)?.is_some() => {
                let rows: BTreeMap<NaiveDate, u64> = store
                    .partition_counts_within(table, Some(checked.clone()))?
                    .into_iter()
                    .collect();
                // Without a lookback the span is the dates checked, whose
                // counts say already which dates have rows.
                let dates_with_rows = match span == checked {
                    true => rows.keys().copied().collect(),
                    false => store.partition_dates_within(table, span)?,
                };
                (rows, dates_with_rows)
            }
            _ => (BTreeMap::new(), BTreeSet::new()),
        };
        Ok(UpstreamFacts {
            upstream,
            has_table: table.is_some(),
            covered: covered_dates(dates_with_rows, &runs),
            runs,
            rows,
        })
    }
}
