//! Which (processor, date) pairs hold rows that the active versions would
//! not have written: after a deploy or a rollback, the dates the previous
//! version produced, and downstream of them the dates whose inputs changed.
//!
//! A pair is outdated when its latest successful run:
//! - ran a plugin version other than the processor's active one; or
//! - relied on an upstream whose pair on the same date is outdated; or
//! - started before its upstream's latest success on the same date ended,
//!   so that it read rows that have since been replaced.
//!
//! A pair with no successful run is not outdated but missing: `--reprocess
//! missing` is for those. Lookback dates are not followed: a change on
//! date D marks downstream pairs on D only.
//!
//! [`find`] is a pure decision over run history, tested case by case;
//! [`in_store`] reads the history it needs.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde::Serialize;

use crate::pipeline::Pipeline;
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
    /// An upstream's pair on the same date is outdated.
    UpstreamOutdated {
        /// The upstream processor.
        upstream: String,
    },
    /// An upstream committed new rows for the date after it started.
    UpstreamRerun {
        /// The upstream processor.
        upstream: String,
        /// The upstream run that committed them.
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

/// One processor as [`find`] needs it.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    /// Its name.
    pub name: &'a str,
    /// The hash of its active version.
    pub active_hash: &'a str,
    /// The processors it reads.
    pub upstream: &'a [String],
}

/// The outdated pairs of `members` (in dependency order), given each
/// (processor, date)'s latest successful run. Sorted by processor order,
/// then date.
pub fn find(
    members: &[Member<'_>],
    latest_success: &HashMap<(&str, NaiveDate), &RunRecord>,
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
            let Some(cause) = cause(member, run, date, latest_success, &is_outdated) else {
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

/// Why `run`, `member`'s latest success on `date`, is outdated, if it is.
fn cause(
    member: &Member<'_>,
    run: &RunRecord,
    date: NaiveDate,
    latest_success: &HashMap<(&str, NaiveDate), &RunRecord>,
    is_outdated: &HashSet<(&str, NaiveDate)>,
) -> Option<Cause> {
    if run.plugin_hash != member.active_hash {
        return Some(Cause::Version {
            ran: run.plugin_hash.clone(),
            active: member.active_hash.to_string(),
        });
    }
    for upstream in member.upstream {
        if is_outdated.contains(&(upstream.as_str(), date)) {
            return Some(Cause::UpstreamOutdated {
                upstream: upstream.clone(),
            });
        }
    }
    for upstream in member.upstream {
        let Some(source) = latest_success.get(&(upstream.as_str(), date)) else {
            continue;
        };
        if source
            .finished_at
            .is_some_and(|ended| ended > run.started_at)
        {
            return Some(Cause::UpstreamRerun {
                upstream: upstream.clone(),
                run_id: source.run_id.clone(),
            });
        }
    }
    None
}

/// The outdated pairs of `pipeline`'s processors, from `store`'s history;
/// only those of `only` when given.
pub fn in_store(
    store: &dyn Store,
    pipeline: &Pipeline,
    only: Option<&str>,
) -> Result<Vec<Outdated>, StoreError> {
    let runs = store.runs(&RunFilter {
        status: Some(RunStatus::Success),
        ..RunFilter::default()
    })?;
    Ok(from_history(&runs, pipeline)
        .into_iter()
        .filter(|o| only.is_none_or(|name| o.processor == name))
        .collect())
}

/// The outdated pairs of `pipeline`'s processors in `runs` (any statuses,
/// newest first, as the store lists them).
pub fn from_history(runs: &[RunRecord], pipeline: &Pipeline) -> Vec<Outdated> {
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
            upstream: &plugin.spec.upstream,
        })
        .collect();
    find(&members, &latest_success)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use super::*;
    use crate::testing::samples::run_record;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, d).unwrap()
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
    /// `a2`, `b1` and `c1`, one line per outdated pair.
    fn decide(runs: &[RunRecord]) -> Vec<String> {
        let (b_reads, c_reads) = (["A".to_string()], ["B".to_string()]);
        let members = [
            Member {
                name: "A",
                active_hash: "a2",
                upstream: &[],
            },
            Member {
                name: "B",
                active_hash: "b1",
                upstream: &b_reads,
            },
            Member {
                name: "C",
                active_hash: "c1",
                upstream: &c_reads,
            },
        ];
        let latest: HashMap<(&str, NaiveDate), &RunRecord> = runs
            .iter()
            .map(|r| ((r.processor.as_str(), r.data_date), r))
            .collect();
        find(&members, &latest)
            .into_iter()
            .map(|o| {
                let why = match o.cause {
                    Cause::Version { ran, active } => format!("version {ran}, active {active}"),
                    Cause::UpstreamOutdated { upstream } => format!("{upstream} outdated"),
                    Cause::UpstreamRerun { upstream, run_id } => {
                        format!("{upstream} rerun {run_id}")
                    }
                };
                format!("{} {}: {why}", o.processor, o.date)
            })
            .collect()
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

    #[test]
    fn a_pair_without_a_success_is_missing_not_outdated_and_breaks_no_chain() {
        // Day 5: A old, B never succeeded, C ran on what B had (nothing new).
        let runs = [success("A", day(5), "a1", 0), success("C", day(5), "c1", 4)];
        assert_eq!(decide(&runs), ["A 2026-01-05: version a1, active a2"]);
    }
}
