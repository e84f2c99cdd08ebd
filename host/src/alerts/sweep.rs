//! The no-rows sweep: a scheduled date whose output table still has no
//! rows once its deadline has passed raises `no_rows_by_deadline`
//! ("2026-01-06: nba_analytics.player_game_summary has no rows, 7 games
//! scheduled"). It catches what no run reports: a date nobody ran, or one
//! a successful rerun emptied (its zero rows where an earlier success
//! wrote some). A date whose latest run succeeded with no rows to write,
//! and never had any, is not missing: that success resolves its alert.
//!
//! [`overdue_dates`] decides (pure); [`sweep`] reads the store and records.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};

use super::event::{EventKind, NewAlert, Severity};
use super::record::AlertRecord;
use crate::dates;
use crate::health::EmptiedDate;
use crate::pipeline::Pipeline;
use crate::registry::{Registry, RegistryError};
use crate::runs::{RunFilter, RunRecord, RunStatus};
use crate::store::{Store, StoreError};

/// The scheduled dates in `span` whose deadline (`deadline` after the end
/// of the date, UTC) passed before `now`, that have no rows, and whose
/// latest run did not succeed with zero rows (a date with nothing to
/// write, like opening night for a lookback, is not missing).
pub fn overdue_dates(
    scheduled: &BTreeMap<NaiveDate, u64>,
    span: (NaiveDate, NaiveDate),
    rows: &BTreeSet<NaiveDate>,
    empty_successes: &BTreeSet<NaiveDate>,
    deadline: chrono::Duration,
    now: DateTime<Utc>,
) -> Vec<(NaiveDate, u64)> {
    scheduled
        .range(span.0..=span.1)
        .filter(|(date, _)| {
            past_deadline(**date, deadline, now)
                && !rows.contains(date)
                && !empty_successes.contains(date)
        })
        .map(|(date, games)| (*date, *games))
        .collect()
}

/// Whether `deadline` after the end of `date` (UTC) is before `now`: from
/// then on, a scheduled date without rows is missing whether or not any
/// run reached it.
pub fn past_deadline(date: NaiveDate, deadline: chrono::Duration, now: DateTime<Utc>) -> bool {
    let end_of_date = date
        .succ_opt()
        .unwrap_or(date)
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    end_of_date + deadline < now
}

/// The alert for one overdue date of `processor`'s `table`; `emptied`
/// when a success wrote none of the rows an earlier one had written.
pub fn no_rows_alert(
    processor: &str,
    table: &str,
    date: NaiveDate,
    games: u64,
    emptied: Option<&EmptiedDate>,
) -> NewAlert {
    let noun = if games == 1 { "game" } else { "games" };
    let how = emptied.map_or(String::new(), |e| {
        format!(
            ": emptied by run {}, which succeeded with 0 rows where run {} wrote {}",
            e.run_id, e.previous_run_id, e.rows_before
        )
    });
    NewAlert {
        event: EventKind::NoRowsByDeadline,
        severity: Severity::Error,
        subject: processor.to_string(),
        data_date: Some(date),
        kind: String::new(),
        run_id: emptied.map(|e| e.run_id.clone()),
        summary: format!("{date}: {table} has no rows, {games} {noun} scheduled{how}"),
        detail: serde_json::json!({
            "processor": processor,
            "table": table,
            "data_date": date,
            "games_scheduled": games,
            "emptied": emptied,
        }),
    }
}

/// The date each processor of `pipeline` that `registry` deployed first
/// became active: where [`sweep`] starts for one that has never run.
pub fn first_active_dates(
    registry: &Registry,
    pipeline: &Pipeline,
) -> Result<BTreeMap<String, NaiveDate>, RegistryError> {
    let mut dates = BTreeMap::new();
    for name in pipeline.order() {
        if let Some(at) = registry.first_active_at(name)? {
            dates.insert(name.clone(), at.date_naive());
        }
    }
    Ok(dates)
}

/// Records a `no_rows_by_deadline` alert for every overdue date of every
/// processor of `pipeline`, from the first date that processor has run
/// (so a store that started mid-season, or a processor deployed
/// mid-season, is not flooded with the dates before) to today: a
/// processor that stopped running is alerted on each date it missed
/// since. One deployed through the registry is swept from the date it was
/// first deployed (`first_active`, from [`first_active_dates`]) when that
/// is earlier: a processor deployed and then never run, by a schedule that
/// leaves it out say, is loud once its first date's deadline passes, and
/// a later run does not excuse the dates it missed. A bundled or plugin-folder
/// processor that has never run has no such date and is not swept yet.
/// An alert already open is left alone rather than counted again, and
/// one resolved by hand is acknowledged: it is not raised again. Returns
/// how many were opened.
pub fn sweep(
    store: &dyn Store,
    pipeline: &Pipeline,
    first_active: &BTreeMap<String, NaiveDate>,
    deadline: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let Some(outbox) = store.alert_outbox() else {
        return Ok(0);
    };
    let scheduled = dates::scheduled_games(store, pipeline.calendar())?;
    if scheduled.is_empty() {
        return Ok(0);
    }
    // Statuses and row counts only: each run's upstream check goes unread.
    let runs = store.runs(&RunFilter {
        skip_upstream_check: true,
        ..RunFilter::default()
    })?;
    if runs.is_empty() && first_active.is_empty() {
        return Ok(0);
    }
    // Open, or acknowledged: resolved by hand (a date that will never
    // have rows, such as a postponed game).
    let noted = outbox.open_or_resolved_by_hand(EventKind::NoRowsByDeadline)?;
    let key = |a: &AlertRecord| (a.raised.subject.clone(), a.raised.data_date);
    let open: BTreeSet<(String, Option<NaiveDate>)> = noted.iter().map(key).collect();
    let open_only: BTreeSet<(String, Option<NaiveDate>)> = (noted.iter())
        .filter(|a| a.resolved_at.is_none())
        .map(key)
        .collect();
    // An emptying acknowledged by hand is of the rows one run wrote: once
    // a later run writes rows again, their emptying is news.
    let acknowledged_emptyings: BTreeSet<(String, Option<NaiveDate>, String)> = (noted.iter())
        .filter(|a| a.resolved_at.is_some())
        .filter_map(|a| {
            let rows_of = a.raised.detail["emptied"]["previous_run_id"].as_str()?;
            Some((
                a.raised.subject.clone(),
                a.raised.data_date,
                rows_of.to_string(),
            ))
        })
        .collect();
    // A success that wrote no rows where an earlier one wrote some
    // emptied its date: missing, as a date nobody ran is.
    let emptied = crate::health::emptied_dates(&runs);
    let mut opened = 0;
    for name in pipeline.order() {
        let Some(plugin) = pipeline.plugin(name) else {
            continue;
        };
        // From the processor's own first date: one deployed mid-season
        // (its dates before never ran) raised an alert for every one.
        let own = || runs.iter().filter(|r| &r.processor == name);
        // And from its first deploy, when that came first: a run on a
        // later date does not excuse the dates it missed since.
        let Some(first) = own()
            .map(|r| r.data_date)
            .chain(first_active.get(name).copied())
            .min()
        else {
            continue;
        };
        let last = now.date_naive().max(first);
        let table = &plugin.spec.output_table;
        let rows: BTreeSet<NaiveDate> = match store.table_schema(table)? {
            Some(_) => store
                .partition_counts(table)?
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(d, _)| d)
                .collect(),
            None => BTreeSet::new(),
        };
        // Runs are newest first: the first of each date is its latest.
        let mut latest: BTreeMap<NaiveDate, &RunRecord> = BTreeMap::new();
        for run in own() {
            latest.entry(run.data_date).or_insert(run);
        }
        // Dates with nothing to write, like opening night for a lookback.
        let empty_successes: BTreeMap<NaiveDate, &str> = latest
            .iter()
            .filter(|(date, run)| {
                run.status == RunStatus::Success
                    && run.rows_written == 0
                    && !emptied.contains_key(&(name.as_str(), **date))
            })
            .map(|(date, run)| (*date, run.run_id.as_str()))
            .collect();
        // Such a success resolves the date's alert, raised before it ran
        // (a success that commits no rows leaves that to the sweep).
        for (date, run_id) in &empty_successes {
            if open_only.contains(&(name.clone(), Some(*date))) {
                outbox.resolve_open_alerts(
                    &|a| {
                        a.raised.event == EventKind::NoRowsByDeadline
                            && &a.raised.subject == name
                            && a.raised.data_date == Some(*date)
                    },
                    run_id,
                )?;
            }
        }
        let overdue = overdue_dates(
            &scheduled,
            (first, last),
            &rows,
            &empty_successes.keys().copied().collect(),
            deadline,
            now,
        );
        for (date, games) in overdue {
            let key = (name.clone(), Some(date));
            let emptied = emptied.get(&(name.as_str(), date));
            let known = match emptied {
                Some(by) => {
                    open_only.contains(&key)
                        || acknowledged_emptyings.contains(&(
                            key.0,
                            key.1,
                            by.previous_run_id.clone(),
                        ))
                }
                None => open.contains(&key),
            };
            if known {
                continue;
            }
            let alert = no_rows_alert(name, &table.to_string(), date, games, emptied);
            outbox.record_alert(&alert)?;
            opened += 1;
        }
    }
    Ok(opened)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, d).unwrap()
    }

    #[test]
    fn only_scheduled_dates_past_their_deadline_without_rows_are_overdue() {
        let scheduled: BTreeMap<NaiveDate, u64> =
            [(day(5), 6), (day(6), 7), (day(7), 5), (day(9), 4)].into();
        let rows: BTreeSet<NaiveDate> = [day(5)].into();
        let empty: BTreeSet<NaiveDate> = [day(7)].into();
        // 36 h after the end of the 6th is the 8th at noon.
        let now = day(8).and_hms_opt(12, 0, 1).unwrap().and_utc();
        let overdue = overdue_dates(
            &scheduled,
            (day(1), day(31)),
            &rows,
            &empty,
            chrono::Duration::hours(36),
            now,
        );
        assert_eq!(overdue, [(day(6), 7)], "the 9th is not due yet");
        let just_before = day(8).and_hms_opt(11, 59, 59).unwrap().and_utc();
        assert!(
            overdue_dates(
                &scheduled,
                (day(1), day(31)),
                &rows,
                &empty,
                chrono::Duration::hours(36),
                just_before
            )
            .is_empty()
        );
        assert!(
            overdue_dates(
                &scheduled,
                (day(7), day(31)),
                &rows,
                &empty,
                chrono::Duration::hours(36),
                now
            )
            .is_empty(),
            "outside the span the pipeline ran"
        );
    }

    #[test]
    fn the_alert_names_the_table_and_the_games_scheduled() {
        let alert = no_rows_alert(
            "PlayerGameSummaryProcessor",
            "nba_analytics.player_game_summary",
            day(6),
            7,
            None,
        );
        assert_eq!(
            alert.summary,
            "2026-01-06: nba_analytics.player_game_summary has no rows, 7 games scheduled"
        );
        assert!(alert.event.resolved_by_success());
    }
}
