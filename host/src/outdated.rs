//! Which (processor, date) pairs hold rows that the active versions would
//! not have written: after a deploy or a rollback, the dates the previous
//! version produced; after an upstream committed again (late data arrived,
//! a date was rerun), the dates that read its old rows; and downstream of
//! both, the dates whose inputs changed.
//!
//! A pair reads its upstreams' rows on its own date and on the scheduled
//! dates of the lookback window it declares ([`lookback_window`]). It is
//! outdated when its latest successful run:
//! - ran a plugin version other than the processor's active one; or
//! - read an upstream pair that is outdated; or
//! - started before the latest success of an upstream pair it reads ended,
//!   so that it read rows that have since been replaced, or the gap that
//!   stood where they are now; unless, on its own date, its completeness
//!   check found that very success (a run claimed before its upstreams
//!   ran, as `POST /process-date` claims a date, read their new rows).
//!
//! A pair with no successful run is not outdated but missing: `--reprocess
//! missing` is for those.
//!
//! [`find`] is a pure decision over run history, tested case by case;
//! [`in_store`] reads the history and the calendar it needs.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use serde::Serialize;

use crate::completeness::lookback_window;
use crate::dates;
use crate::pipeline::Pipeline;
use crate::plugin::spec::Lookback;
use crate::runs::{RunFilter, RunRecord, RunStatus};
use crate::store::{Store, StoreError};

/// Why a pair is outdated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum Cause {
    /// Its latest success ran another version than the active one.
    Version {
        /// The hash of the version that ran.
        ran: String,
        /// The hash of the active version.
        active: String,
    },
    /// An upstream's pair that it read is outdated.
    UpstreamOutdated {
        /// The upstream processor.
        upstream: String,
        /// The date of that pair: the same date, or one of the lookback.
        upstream_date: NaiveDate,
    },
    /// An upstream committed new rows for a date it read after it started.
    UpstreamRerun {
        /// The upstream processor.
        upstream: String,
        /// The date of those rows: the same date, or one of the lookback.
        upstream_date: NaiveDate,
        /// The upstream run that committed them: `upstream_run_id` in
        /// JSON, beside the outdated run's own `run_id`.
        #[serde(rename = "upstream_run_id")]
        run_id: String,
    },
}

/// One outdated (processor, date).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outdated {
    /// The processor.
    pub processor: String,
    /// The date.
    pub date: NaiveDate,
    /// Its latest successful run, the one whose rows are outdated.
    pub run_id: String,
    /// Why.
    #[serde(flatten)]
    pub cause: Cause,
}

impl Outdated {
    /// Why it is outdated, in a phrase: "ran version 0123456789ab, active
    /// is ba9876543210", "P is outdated on this date", "P rewrote
    /// 2026-01-06 (lookback) since (run R)".
    pub fn why(&self) -> String {
        let which_date = |read: NaiveDate| match read == self.date {
            true => "this date".to_string(),
            false => format!("{read} (lookback)"),
        };
        let short = crate::alerts::event::short_hash;
        match &self.cause {
            Cause::Version { ran, active } => {
                format!("ran version {}, active is {}", short(ran), short(active))
            }
            Cause::UpstreamOutdated {
                upstream,
                upstream_date,
            } => format!("{upstream} is outdated on {}", which_date(*upstream_date)),
            Cause::UpstreamRerun {
                upstream,
                upstream_date,
                run_id,
            } => format!(
                "{upstream} rewrote {} since (run {run_id})",
                which_date(*upstream_date)
            ),
        }
    }
}

/// One processor as [`find`] needs it.
#[derive(Debug, Clone)]
pub struct Member<'a> {
    /// Its name.
    pub name: &'a str,
    /// The hash of its active version.
    pub active_hash: &'a str,
    /// The processors it reads, each with how far back it reads it: the
    /// dates before its own whose rows of that upstream it reads.
    pub upstream: Vec<(&'a str, Lookback)>,
}

/// The outdated pairs of `members` (in dependency order), given each
/// (processor, date)'s latest successful run and the scheduled game dates
/// (which a lookback counts in games). Sorted by processor order, then date.
pub fn find(
    members: &[Member<'_>],
    latest_success: &HashMap<(&str, NaiveDate), &RunRecord>,
    scheduled: &BTreeSet<NaiveDate>,
) -> Vec<Outdated> {
    let mut dates_of: HashMap<&str, Vec<NaiveDate>> = HashMap::new();
    for (processor, date) in latest_success.keys() {
        dates_of.entry(processor).or_default().push(*date);
    }
    let mut outdated: Vec<Outdated> = Vec::new();
    let mut is_outdated: HashSet<(&str, NaiveDate)> = HashSet::new();
    for member in members {
        let mut dates = dates_of.remove(member.name).unwrap_or_default();
        dates.sort();
        for date in dates {
            let run = latest_success[&(member.name, date)];
            // Each upstream on the run's own date first, then back through
            // the lookback windows, newest first.
            let mut read: Vec<(&str, NaiveDate)> = Vec::new();
            for (upstream, lookback) in &member.upstream {
                read.push((upstream, date));
                let window = lookback_window(*lookback, date, scheduled);
                read.extend(window.into_iter().map(|day| (*upstream, day)));
            }
            read.sort_by_key(|(_, day)| std::cmp::Reverse(*day));
            let Some(cause) = cause(member, run, &read, latest_success, &is_outdated) else {
                continue;
            };
            is_outdated.insert((member.name, date));
            outdated.push(Outdated {
                processor: member.name.to_string(),
                date,
                run_id: run.run_id.clone(),
                cause,
            });
        }
    }
    outdated
}

/// Why `run`, `member`'s latest success, is outdated, if it is. `read` is
/// the (upstream, date) pairs whose rows it read: its own date first, then
/// its lookback windows from the newest.
fn cause(
    member: &Member<'_>,
    run: &RunRecord,
    read: &[(&str, NaiveDate)],
    latest_success: &HashMap<(&str, NaiveDate), &RunRecord>,
    is_outdated: &HashSet<(&str, NaiveDate)>,
) -> Option<Cause> {
    if run.plugin_hash != member.active_hash {
        return Some(Cause::Version {
            ran: run.plugin_hash.clone(),
            active: member.active_hash.to_string(),
        });
    }
    if let Some(&(upstream, upstream_date)) = read.iter().find(|pair| is_outdated.contains(pair)) {
        return Some(Cause::UpstreamOutdated {
            upstream: upstream.to_string(),
            upstream_date,
        });
    }
    read.iter().find_map(|&(upstream, upstream_date)| {
        let source = latest_success.get(&(upstream, upstream_date))?;
        let ended = source.finished_at?;
        if ended <= run.started_at {
            return None;
        }
        // A run claimed before its upstreams ran (`POST /process-date`
        // claims a whole date at once) started before they ended, yet
        // read their rows: its completeness check, made as it began,
        // names the upstream run it found on its own date.
        if upstream_date == run.data_date && checked_run(run, upstream) == Some(&source.run_id) {
            return None;
        }
        Some(Cause::UpstreamRerun {
            upstream: upstream.to_string(),
            upstream_date,
            run_id: source.run_id.clone(),
        })
    })
}

/// The run of `upstream` on `run`'s own date that `run`'s completeness
/// check found, if it recorded one.
fn checked_run<'a>(run: &'a RunRecord, upstream: &str) -> Option<&'a String> {
    let check = run.upstream_check.as_ref()?;
    let decision = check.upstreams.iter().find(|d| d.upstream == upstream)?;
    decision.run_id.as_ref()
}

/// [`from_history`] over `runs` read without their completeness checks
/// (which are costly to read for every run): the runs it would call
/// outdated for an upstream on their own date are read again with their
/// checks, which may show they read that upstream's rows
/// ([`checked_run`]), and the history is decided again, until no such run
/// is left unread. Most histories need no second read.
pub fn from_history_checked(
    store: &dyn Store,
    runs: &mut [RunRecord],
    pipeline: &Pipeline,
    scheduled: &BTreeSet<NaiveDate>,
) -> Result<Vec<Outdated>, StoreError> {
    let mut checked: HashSet<String> = HashSet::new();
    loop {
        let outdated = from_history(runs, pipeline, scheduled);
        let unread: Vec<String> = outdated
            .iter()
            .filter(|o| match &o.cause {
                Cause::UpstreamRerun { upstream_date, .. }
                | Cause::UpstreamOutdated { upstream_date, .. } => *upstream_date == o.date,
                Cause::Version { .. } => false,
            })
            .filter(|o| !checked.contains(&o.run_id))
            .map(|o| o.run_id.clone())
            .collect();
        if unread.is_empty() {
            return Ok(outdated);
        }
        let with_checks: HashMap<String, RunRecord> = store
            .runs_with_ids(&unread)?
            .into_iter()
            .map(|run| (run.run_id.clone(), run))
            .collect();
        for run in runs.iter_mut() {
            if let Some(full) = with_checks.get(&run.run_id) {
                run.upstream_check = full.upstream_check.clone();
            }
        }
        checked.extend(unread);
    }
}

/// The outdated pairs of `pipeline`'s processors, from `store`'s history;
/// only those of `only` when given.
pub fn in_store(
    store: &dyn Store,
    pipeline: &Pipeline,
    only: Option<&str>,
) -> Result<Vec<Outdated>, StoreError> {
    let mut runs = store.runs(&RunFilter {
        status: Some(RunStatus::Success),
        skip_upstream_check: true,
        ..RunFilter::default()
    })?;
    let scheduled = dates::scheduled_games(store, pipeline.calendar())?
        .into_keys()
        .collect();
    Ok(
        from_history_checked(store, &mut runs, pipeline, &scheduled)?
            .into_iter()
            .filter(|o| only.is_none_or(|name| o.processor == name))
            .collect(),
    )
}

/// The outdated pairs of the `selection` of `pipeline`'s processors dated
/// from `first` to `last`: what a backfill over that range leaves behind.
pub fn in_range(
    store: &dyn Store,
    pipeline: &Pipeline,
    selection: &[String],
    (first, last): (NaiveDate, NaiveDate),
) -> Result<Vec<Outdated>, StoreError> {
    Ok(in_store(store, pipeline, None)?
        .into_iter()
        .filter(|o| (first..=last).contains(&o.date) && selection.contains(&o.processor))
        .collect())
}

/// The outdated pairs of `pipeline`'s processors in `runs` (any statuses,
/// newest first, as the store lists them), with the calendar's `scheduled`
/// game dates.
pub fn from_history(
    runs: &[RunRecord],
    pipeline: &Pipeline,
    scheduled: &BTreeSet<NaiveDate>,
) -> Vec<Outdated> {
    let mut latest_success: HashMap<(&str, NaiveDate), &RunRecord> = HashMap::new();
    for run in runs.iter().filter(|r| r.status == RunStatus::Success) {
        latest_success
            .entry((run.processor.as_str(), run.data_date))
            .or_insert(run);
    }
    let members: Vec<Member<'_>> = pipeline
        .order()
        .iter()
        .filter_map(|name| pipeline.plugin(name))
        .map(|plugin| Member {
            name: &plugin.spec.name,
            active_hash: &plugin.hash,
            upstream: plugin
                .spec
                .upstream
                .iter()
                .map(|upstream| (upstream.as_str(), plugin.spec.lookback_of(upstream)))
                .collect(),
        })
        .collect();
    find(&members, &latest_success, scheduled)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use super::*;
    use crate::testing::samples::run_record;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, d).unwrap()
    }

    #[test]
    fn in_json_the_outdated_run_and_the_upstream_run_each_have_their_own_name() {
        let outdated = Outdated {
            processor: "B".into(),
            date: day(7),
            run_id: "outdated-run".into(),
            cause: Cause::UpstreamRerun {
                upstream: "A".into(),
                upstream_date: day(6),
                run_id: "upstream-run".into(),
            },
        };
        let text = serde_json::to_string(&outdated).unwrap();
        assert_eq!(text.matches("\"run_id\"").count(), 1, "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["run_id"], "outdated-run");
        assert_eq!(json["upstream_run_id"], "upstream-run");
        assert_eq!(json["cause"], "upstream_rerun");
    }

    /// A success of `processor` on `date` by version `hash`, started at
    /// minute `start` and ended a minute later.
    fn success(processor: &str, date: NaiveDate, hash: &str, start: i64) -> RunRecord {
        let at = |minute: i64| DateTime::<Utc>::default() + Duration::minutes(minute);
        RunRecord {
            run_id: format!("{processor}-{date}-{start}"),
            started_at: at(start),
            finished_at: Some(at(start + 1)),
            plugin_hash: hash.into(),
            ..run_record(processor, date, RunStatus::Success)
        }
    }

    /// The decision for the chain A → B → C, whose active versions are
    /// `a2`, `b1` and `c1`, one line per outdated pair. B looks back
    /// `b_lookback` over the games scheduled on `scheduled` days.
    fn decide_looking_back(
        runs: &[RunRecord],
        b_lookback: Lookback,
        scheduled: &[u32],
    ) -> Vec<String> {
        let members = [
            Member {
                name: "A",
                active_hash: "a2",
                upstream: Vec::new(),
            },
            Member {
                name: "B",
                active_hash: "b1",
                upstream: vec![("A", b_lookback)],
            },
            Member {
                name: "C",
                active_hash: "c1",
                upstream: vec![("B", Lookback::None)],
            },
        ];
        let latest: HashMap<(&str, NaiveDate), &RunRecord> = runs
            .iter()
            .map(|r| ((r.processor.as_str(), r.data_date), r))
            .collect();
        let scheduled = scheduled.iter().map(|d| day(*d)).collect();
        find(&members, &latest, &scheduled)
            .into_iter()
            .map(|o| {
                let on = |read: NaiveDate| match read == o.date {
                    true => String::new(),
                    false => format!(" on {read}"),
                };
                let why = match o.cause {
                    Cause::Version { ran, active } => format!("version {ran}, active {active}"),
                    Cause::UpstreamOutdated {
                        upstream,
                        upstream_date,
                    } => format!("{upstream} outdated{}", on(upstream_date)),
                    Cause::UpstreamRerun {
                        upstream,
                        upstream_date,
                        run_id,
                    } => format!("{upstream} rerun {run_id}{}", on(upstream_date)),
                };
                format!("{} {}: {why}", o.processor, o.date)
            })
            .collect()
    }

    /// [`decide_looking_back`] with no lookback.
    fn decide(runs: &[RunRecord]) -> Vec<String> {
        decide_looking_back(runs, Lookback::None, &[])
    }

    #[test]
    fn a_date_the_previous_version_wrote_is_outdated_and_so_is_everything_downstream_of_it() {
        let runs = [
            // Day 5: A ran the old version; B and C ran after it.
            success("A", day(5), "a1", 0),
            success("B", day(5), "b1", 2),
            success("C", day(5), "c1", 4),
            // Day 6: everything current, in order.
            success("A", day(6), "a2", 10),
            success("B", day(6), "b1", 12),
            success("C", day(6), "c1", 14),
        ];
        assert_eq!(
            decide(&runs),
            [
                "A 2026-01-05: version a1, active a2",
                "B 2026-01-05: A outdated",
                "C 2026-01-05: B outdated",
            ]
        );
    }

    #[test]
    fn a_downstream_that_ran_before_its_upstream_was_rerun_is_outdated_until_it_reruns() {
        // A was rerun (current version) after B had read it; C read B after B.
        let runs = [
            success("A", day(5), "a2", 20),
            success("B", day(5), "b1", 2),
            success("C", day(5), "c1", 4),
        ];
        assert_eq!(
            decide(&runs),
            [
                "B 2026-01-05: A rerun A-2026-01-05-20",
                "C 2026-01-05: B outdated",
            ]
        );
        // Once B and C ran again after A, nothing is outdated.
        let rerun = [
            success("A", day(5), "a2", 20),
            success("B", day(5), "b1", 22),
            success("C", day(5), "c1", 24),
        ];
        assert!(decide(&rerun).is_empty());
    }

    /// `run` with a completeness check that found `upstream`'s run
    /// `found` on its date.
    fn having_found(mut run: RunRecord, upstream: &str, found: &str) -> RunRecord {
        use crate::upstream_check::{UpstreamCheck, UpstreamDecision, UpstreamStatus};
        run.upstream_check = Some(UpstreamCheck {
            upstreams: vec![UpstreamDecision {
                upstream: upstream.into(),
                status: UpstreamStatus::Success,
                run_id: Some(found.into()),
                rows_present: 1,
                safe_to_process: true,
                reason: String::new(),
                age_seconds: None,
            }],
            ..UpstreamCheck::default()
        });
        run
    }

    /// `POST /process-date` claims a whole date at once, so each run
    /// "starts" before its upstreams end; each then checked, found and
    /// read the upstream success. Before, every run downstream of the
    /// first was outdated the moment the request ended.
    #[test]
    fn a_run_claimed_before_its_upstream_ran_but_whose_check_found_that_run_is_current() {
        let claimed_together = [
            success("A", day(5), "a2", 1),
            having_found(success("B", day(5), "b1", 0), "A", "A-2026-01-05-1"),
            having_found(success("C", day(5), "c1", 0), "B", "B-2026-01-05-0"),
        ];
        assert!(decide(&claimed_together).is_empty());

        // A check that found an earlier run of A read rows since replaced.
        let stale = [
            success("A", day(5), "a2", 1),
            having_found(success("B", day(5), "b1", 0), "A", "A-2026-01-05-earlier"),
            having_found(success("C", day(5), "c1", 0), "B", "B-2026-01-05-0"),
        ];
        assert_eq!(
            decide(&stale),
            [
                "B 2026-01-05: A rerun A-2026-01-05-1",
                "C 2026-01-05: B outdated",
            ]
        );
    }

    #[test]
    fn a_pair_without_a_success_is_missing_not_outdated_and_breaks_no_chain() {
        // Day 5: A old, B never succeeded, C ran on what B had (nothing new).
        let runs = [success("A", day(5), "a1", 0), success("C", day(5), "c1", 4)];
        assert_eq!(decide(&runs), ["A 2026-01-05: version a1, active a2"]);
    }

    #[test]
    fn late_rows_on_a_lookback_date_outdate_the_later_dates_that_read_the_gap_and_downstream() {
        // A had nothing on day 5 when B ran days 6 to 8 (looking back two
        // games) and C read B; day 5's rows arrived later and A committed
        // them at minute 50.
        let mut runs = Vec::new();
        for (d, start) in [(4, 0), (6, 10), (7, 20), (8, 30)] {
            runs.push(success("A", day(d), "a2", start));
            runs.push(success("B", day(d), "b1", start + 2));
            runs.push(success("C", day(d), "c1", start + 4));
        }
        runs.push(success("A", day(5), "a2", 50));
        let scheduled = [4, 5, 6, 7, 8];
        assert_eq!(
            decide_looking_back(&runs, Lookback::Games(2), &scheduled),
            [
                "B 2026-01-06: A rerun A-2026-01-05-50 on 2026-01-05",
                "B 2026-01-07: A rerun A-2026-01-05-50 on 2026-01-05",
                "C 2026-01-06: B outdated",
                "C 2026-01-07: B outdated",
            ],
            "day 8 looks back at days 6 and 7 only"
        );
        // Without the lookback, B read A on its own date only.
        assert!(decide_looking_back(&runs, Lookback::None, &scheduled).is_empty());
    }

    #[test]
    fn a_lookback_in_games_skips_days_without_games_and_one_in_days_counts_them() {
        // A reran day 5 after B had run day 8; day 6 and 7 had no games.
        let runs = [
            success("A", day(5), "a2", 50),
            success("A", day(8), "a2", 0),
            success("B", day(8), "b1", 2),
        ];
        let scheduled = [5, 8];
        assert_eq!(
            decide_looking_back(&runs, Lookback::Games(1), &scheduled),
            ["B 2026-01-08: A rerun A-2026-01-05-50 on 2026-01-05"]
        );
        assert!(decide_looking_back(&runs, Lookback::Days(2), &scheduled).is_empty());
        assert_eq!(
            decide_looking_back(&runs, Lookback::Days(3), &scheduled),
            ["B 2026-01-08: A rerun A-2026-01-05-50 on 2026-01-05"]
        );
    }

    #[test]
    fn an_outdated_upstream_pair_in_the_lookback_outdates_the_dates_that_read_it() {
        // A's old version wrote day 5 only; B on day 6 read it in its lookback.
        let runs = [
            success("A", day(5), "a1", 0),
            success("A", day(6), "a2", 10),
            success("B", day(6), "b1", 12),
        ];
        assert_eq!(
            decide_looking_back(&runs, Lookback::Games(1), &[5, 6]),
            [
                "A 2026-01-05: version a1, active a2",
                "B 2026-01-06: A outdated on 2026-01-05",
            ]
        );
    }
}
