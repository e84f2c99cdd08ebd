//! The pipeline health check behind `slate health`.
//!
//! Per output table: row counts for the latest dates, and a FAIL for every
//! scheduled date that has no rows and no successful run: up to the latest
//! date the pipeline reached, and after it each date whose deadline has
//! passed, so that a pipeline that stopped running is not healthy. Then
//! every (processor, date) whose latest run is failed, blocked or stale, and
//! each processor's last success. The pipeline is healthy only when there is
//! no FAIL and no such run. A date whose run succeeded with zero rows
//! (opening night, before anyone has played) is listed, but is not a
//! failure; a date that had rows and was emptied by a successful rerun is a
//! FAIL: a processor that returns nothing where it returned rows before has
//! lost data, or been replaced. So is a date whose table holds fewer rows
//! than its latest success wrote: they were removed past the host.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::alerts::record::ChannelHealth;
use crate::alerts::sweep::past_deadline;
use crate::dates;
use crate::liveness::is_abandoned;
use crate::pipeline::Pipeline;
use crate::runs::{ErrorKind, RunFilter, RunRecord, RunStatus};
use crate::store::{Store, StoreError};

/// How many of the latest dates each table lists.
pub const LATEST_DATES: usize = 5;

/// One output table's health.
#[derive(Debug, Clone, Serialize)]
pub struct TableHealth {
    /// The table, `dataset.table`.
    pub table: String,
    /// The processor that writes it.
    pub processor: String,
    /// Rows on the latest dates that have rows, newest last.
    pub latest_dates: Vec<(NaiveDate, u64)>,
    /// Scheduled dates with no rows and no successful run: each is a FAIL.
    pub missing_dates: Vec<NaiveDate>,
    /// Scheduled dates whose run succeeded with no rows, and never had any.
    pub empty_successes: Vec<NaiveDate>,
    /// Dates whose latest successful run wrote no rows where an earlier
    /// success wrote some: each is a FAIL.
    pub emptied_dates: Vec<EmptiedDate>,
    /// Dates whose table holds fewer rows than their latest successful
    /// run wrote: removed past the host (another tool's SQL, a restore).
    /// Each is a FAIL.
    pub lost_rows: Vec<HeldRows>,
    /// Dates whose table holds more rows than their latest successful run
    /// wrote: added past the host, and read by every processor downstream
    /// as if the run had written them. Each is a FAIL.
    pub added_rows: Vec<HeldRows>,
    /// Scheduled dates whose latest success wrote no rows because it set
    /// every row aside under the `quarantine` policy: not an empty night
    /// but a date without its data. Each is a FAIL.
    pub quarantined_dates: Vec<QuarantinedDate>,
}

/// A date whose latest success quarantined every row it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantinedDate {
    /// The date.
    pub date: NaiveDate,
    /// The rows it set aside.
    pub rows_quarantined: usize,
    /// That success.
    pub run_id: String,
}

/// A date whose table holds another number of rows than its latest
/// success wrote: fewer (lost) or more (added past the host).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldRows {
    /// The date.
    pub date: NaiveDate,
    /// The rows its latest success wrote.
    pub rows_written: i64,
    /// The rows the table holds for it now.
    pub rows_held: u64,
    /// That success.
    pub run_id: String,
}

/// A date a successful rerun emptied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmptiedDate {
    /// The date.
    pub date: NaiveDate,
    /// The rows the earlier success wrote.
    pub rows_before: i64,
    /// The earlier success.
    pub previous_run_id: String,
    /// The success that wrote no rows.
    pub run_id: String,
}

/// Per (processor, date), the emptied dates in `runs` (newest first): the
/// latest run succeeded with zero rows, and the latest earlier success
/// before it wrote rows.
pub fn emptied_dates(runs: &[RunRecord]) -> BTreeMap<(&str, NaiveDate), EmptiedDate> {
    let mut by_key: BTreeMap<(&str, NaiveDate), Vec<&RunRecord>> = BTreeMap::new();
    for run in runs {
        by_key
            .entry((run.processor.as_str(), run.data_date))
            .or_default()
            .push(run);
    }
    by_key
        .into_iter()
        .filter_map(|(key, history)| {
            let newest = history[0];
            if newest.status != RunStatus::Success || newest.rows_written != 0 {
                return None;
            }
            let before = history[1..]
                .iter()
                .find(|r| r.status == RunStatus::Success && r.rows_written > 0)?;
            Some((
                key,
                EmptiedDate {
                    date: newest.data_date,
                    rows_before: before.rows_written,
                    previous_run_id: before.run_id.clone(),
                    run_id: newest.run_id.clone(),
                },
            ))
        })
        .collect()
}

/// A (processor, date) whose latest run did not succeed.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemRun {
    /// The processor.
    pub processor: String,
    /// The date.
    pub date: NaiveDate,
    /// `failed`, `blocked` or `stale_running`.
    pub status: String,
    /// The run.
    pub run_id: String,
    /// Its error kind.
    pub error_kind: Option<ErrorKind>,
    /// The first line of its error.
    pub message: String,
    /// False when the processor is not loaded by the check (a run from a
    /// plugin folder the check was not given): still a problem, since its
    /// runs go on failing where it is loaded, unless the registry ended it
    /// ([`HealthReport::forgiving_ended`]).
    pub loaded: bool,
    /// When the run started.
    pub started_at: DateTime<Utc>,
}

/// What a problem run's entry says: the first line of its error, or for
/// a run still `running` with no live host (which has none yet) what the
/// reaper will write when it ends it: whose host stopped renewing it and
/// when, and why its host flagged it, if it did (a store that failed as
/// its end was recorded, a run past its max runtime).
fn problem_message(run: &RunRecord, now: DateTime<Utc>, me: &str) -> String {
    if is_abandoned(run, now, me) && run.error_message.is_none() {
        let renewed = run
            .heartbeat_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let flag = (run.flag.as_deref()).map_or(String::new(), |flag| format!(" ({flag})"));
        return crate::runs::error_headline(&format!(
            "host {} stopped renewing at {renewed}{flag}",
            run.host_id
        ));
    }
    crate::runs::error_headline(run.error_message.as_deref().unwrap_or_default())
}

/// A processor's most recent success.
#[derive(Debug, Clone, Serialize)]
pub struct LastSuccess {
    /// The processor.
    pub processor: String,
    /// The date of its last successful run, if any.
    pub date: Option<NaiveDate>,
    /// When that run finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// That run.
    pub run_id: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    /// False when any table has a FAIL or any latest run is failed, blocked or stale.
    pub healthy: bool,
    /// When the report was made.
    pub checked_at: DateTime<Utc>,
    /// The latest date any run was for: scheduled dates up to here should have rows.
    pub reached: Option<NaiveDate>,
    /// Per output table.
    pub tables: Vec<TableHealth>,
    /// Latest runs that did not succeed.
    pub problem_runs: Vec<ProblemRun>,
    /// Per processor.
    pub last_success: Vec<LastSuccess>,
    /// Configured alert channels that cannot deliver: each is a FAIL, since
    /// a dead channel means nobody hears of the next failure.
    pub dead_alert_channels: Vec<DeadChannel>,
    /// Configured alert channels failing, not yet dead, for longer than
    /// [`FAILING_TOO_LONG`]: also a FAIL. A receiver that times out, with
    /// only a nightly command to retry it, would take days to count dead.
    pub failing_alert_channels: Vec<DeadChannel>,
    /// On a server: the registry's versions it could not load, serving its
    /// earlier ones instead (`None` when it serves the registry's). A FAIL:
    /// the hosts of a cluster no longer run the same versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_versions: Option<crate::catalog::RefusedVersions>,
}

/// How long an alert channel may fail before the pipeline is unhealthy,
/// dead or not: three of the longest backoffs.
pub const FAILING_TOO_LONG: chrono::Duration = chrono::Duration::minutes(15);

/// An alert channel that cannot deliver: dead, or failing for too long.
#[derive(Debug, Clone, Serialize)]
pub struct DeadChannel {
    /// Its name in `slate.toml`.
    pub channel: String,
    /// Why, e.g. "404 no_service".
    pub reason: String,
    /// Since when.
    pub since: Option<DateTime<Utc>>,
}

impl HealthReport {
    /// Adds the dead ones among the `configured` alert channels, and those
    /// failing for longer than [`FAILING_TOO_LONG`] by the report's time,
    /// as the store recorded them; any of either turns it unhealthy.
    pub fn with_alert_channels(
        mut self,
        store: &dyn Store,
        configured: &[String],
    ) -> Result<Self, StoreError> {
        let Some(outbox) = store.alert_outbox() else {
            return Ok(self);
        };
        let failing_since = self.checked_at - FAILING_TOO_LONG;
        for state in outbox.channel_states()? {
            if !configured.contains(&state.channel) {
                continue;
            }
            let down = DeadChannel {
                channel: state.channel,
                reason: state.reason.unwrap_or_default(),
                since: state.since,
            };
            match state.health {
                ChannelHealth::Dead => self.dead_alert_channels.push(down),
                ChannelHealth::Failing if down.since.is_some_and(|t| t <= failing_since) => {
                    self.failing_alert_channels.push(down)
                }
                _ => {}
            }
        }
        self.healthy = self.judged();
        Ok(self)
    }

    /// Leaves out the problem runs of processors not loaded here that
    /// started before `ended_at` says they were ended (undeployed from the
    /// registry): nothing can run them again to clear them, so they are
    /// history, not a problem. A run since (from a plugin folder) is not.
    pub fn forgiving_ended<E>(
        mut self,
        ended_at: impl Fn(&str) -> Result<Option<DateTime<Utc>>, E>,
    ) -> Result<Self, E> {
        // Asked once per processor: a gone one may have failed on many dates.
        let mut asked: BTreeMap<String, Option<DateTime<Utc>>> = BTreeMap::new();
        let mut kept = Vec::with_capacity(self.problem_runs.len());
        for run in std::mem::take(&mut self.problem_runs) {
            let ended = match (run.loaded, asked.get(&run.processor)) {
                (true, _) => None,
                (false, Some(ended)) => *ended,
                (false, None) => {
                    let ended = ended_at(&run.processor)?;
                    asked.insert(run.processor.clone(), ended);
                    ended
                }
            };
            let history = ended.is_some_and(|ended| run.started_at <= ended);
            if !history {
                kept.push(run);
            }
        }
        self.problem_runs = kept;
        self.healthy = self.judged();
        Ok(self)
    }

    /// Whether nothing in the report is a FAIL.
    fn judged(&self) -> bool {
        self.problem_runs.is_empty()
            && self.tables.iter().all(|t| {
                t.missing_dates.is_empty()
                    && t.emptied_dates.is_empty()
                    && t.lost_rows.is_empty()
                    && t.added_rows.is_empty()
                    && t.quarantined_dates.is_empty()
            })
            && self.dead_alert_channels.is_empty()
            && self.failing_alert_channels.is_empty()
            && self.refused_versions.is_none()
    }

    /// Adds the registry's versions a server could not load, if any: they
    /// turn it unhealthy.
    pub fn with_refused_versions(
        mut self,
        refused: Option<crate::catalog::RefusedVersions>,
    ) -> Self {
        self.refused_versions = refused;
        self.healthy = self.judged();
        self
    }
}

/// Builds the health report for every processor of `pipeline` as of `now`.
/// A scheduled date no run reached counts once `deadline` after it has
/// passed (the alerts' `no_rows_deadline_hours`).
pub fn report(
    store: &dyn Store,
    pipeline: &Pipeline,
    now: DateTime<Utc>,
    deadline: chrono::Duration,
) -> Result<HealthReport, StoreError> {
    // A shadow's runs ([`crate::shadow`]) never make the pipeline unhealthy.
    let mut runs = store.runs(&RunFilter {
        skip_upstream_check: true,
        ..RunFilter::default()
    })?;
    runs.retain(|r| crate::shadow::live_name(&r.processor).is_none());
    // Newest first, so the first record of each (processor, date) is its latest.
    let mut latest: BTreeMap<(&str, NaiveDate), &RunRecord> = BTreeMap::new();
    for run in &runs {
        latest
            .entry((run.processor.as_str(), run.data_date))
            .or_insert(run);
    }
    let reached = runs.iter().map(|r| r.data_date).max();
    let emptied = emptied_dates(&runs);
    // The dates a run reached, and those after whose deadline has passed:
    // a pipeline that stopped running is missing every date since.
    let scheduled: BTreeSet<NaiveDate> = dates::scheduled_games(store, pipeline.calendar())?
        .into_keys()
        .filter(|d| {
            reached.is_some_and(|reached| *d <= reached) || past_deadline(*d, deadline, now)
        })
        .collect();

    let mut tables = Vec::new();
    let mut last_success = Vec::new();
    for name in pipeline.order() {
        let spec = &pipeline
            .plugin(name)
            .expect("a processor in the order")
            .spec;
        let counts: BTreeMap<NaiveDate, u64> = match store.table_schema(&spec.output_table)? {
            Some(_) => store
                .partition_counts(&spec.output_table)?
                .into_iter()
                .collect(),
            None => BTreeMap::new(),
        };
        let succeeded = |d: &NaiveDate| {
            latest
                .get(&(name.as_str(), *d))
                .is_some_and(|r| r.status == RunStatus::Success)
        };
        // Rows the latest success of a date wrote that the table no longer
        // holds (not an empty success, but data lost), or rows it holds
        // that no run wrote.
        let (mut lost_rows, mut added_rows) = (Vec::new(), Vec::new());
        let successes = latest.iter().filter(|((processor, _), run)| {
            *processor == name.as_str() && run.status == RunStatus::Success
        });
        for ((_, date), run) in successes {
            let held = counts.get(date).copied().unwrap_or(0);
            let Ok(written) = u64::try_from(run.rows_written) else {
                continue;
            };
            let mismatch = HeldRows {
                date: *date,
                rows_written: run.rows_written,
                rows_held: held,
                run_id: run.run_id.clone(),
            };
            match held.cmp(&written) {
                std::cmp::Ordering::Less => lost_rows.push(mismatch),
                std::cmp::Ordering::Greater => added_rows.push(mismatch),
                std::cmp::Ordering::Equal => {}
            }
        }
        let lost = |d: &NaiveDate| lost_rows.iter().any(|l| l.date == *d);
        let empty: Vec<NaiveDate> = scheduled
            .iter()
            .filter(|d| !counts.contains_key(d))
            .copied()
            .collect();
        // An empty success that set rows aside lacks its data: few dates
        // succeed empty, so their quarantine is counted one date at a time.
        let mut quarantined_dates = Vec::new();
        for date in empty.iter().filter(|d| succeeded(d)) {
            let run = latest[&(name.as_str(), *date)];
            let set_aside = store
                .quarantine_counts(*date..=*date)?
                .get(&run.run_id)
                .map_or(0, |&count| count as usize);
            if set_aside > 0 && run.rows_written == 0 {
                quarantined_dates.push(QuarantinedDate {
                    date: *date,
                    rows_quarantined: set_aside,
                    run_id: run.run_id.clone(),
                });
            }
        }
        let all_set_aside = |d: &NaiveDate| quarantined_dates.iter().any(|q| q.date == *d);
        tables.push(TableHealth {
            table: spec.output_table.to_string(),
            processor: name.clone(),
            latest_dates: counts
                .iter()
                .rev()
                .take(LATEST_DATES)
                .rev()
                .map(|(d, n)| (*d, *n))
                .collect(),
            missing_dates: empty.iter().filter(|d| !succeeded(d)).copied().collect(),
            empty_successes: empty
                .iter()
                .filter(|d| {
                    succeeded(d)
                        && !emptied.contains_key(&(name.as_str(), **d))
                        && !lost(d)
                        && !all_set_aside(d)
                })
                .copied()
                .collect(),
            emptied_dates: emptied
                .iter()
                .filter(|((processor, _), _)| processor == name)
                .map(|(_, e)| e.clone())
                .collect(),
            lost_rows,
            added_rows,
            quarantined_dates,
        });
        let success = runs
            .iter()
            .find(|r| &r.processor == name && r.status == RunStatus::Success);
        last_success.push(LastSuccess {
            processor: name.clone(),
            date: success.map(|r| r.data_date),
            finished_at: success.and_then(|r| r.finished_at),
            run_id: success.map(|r| r.run_id.clone()),
        });
    }

    // A failed or blocked run of a processor the pipeline does not load is
    // a problem too: it may come from a plugin folder this check was not
    // given, and fail there every night. Only an undeployed processor's is
    // history ([`HealthReport::forgiving_ended`]).
    let me = crate::liveness::this_host_id();
    let problem_runs: Vec<ProblemRun> = latest
        .values()
        .filter_map(|run| {
            let status = match run.status {
                RunStatus::Failed | RunStatus::Blocked => run.status.to_string(),
                RunStatus::Running if is_abandoned(run, now, &me) => "stale_running".to_string(),
                _ => return None,
            };
            Some(ProblemRun {
                processor: run.processor.clone(),
                date: run.data_date,
                status,
                run_id: run.run_id.clone(),
                error_kind: run.error_kind,
                message: problem_message(run, now, &me),
                loaded: pipeline.plugin(&run.processor).is_some(),
                started_at: run.started_at,
            })
        })
        .collect();
    let report = HealthReport {
        healthy: false,
        checked_at: now,
        reached,
        tables,
        problem_runs,
        last_success,
        dead_alert_channels: Vec::new(),
        failing_alert_channels: Vec::new(),
        refused_versions: None,
    };
    Ok(HealthReport {
        healthy: report.judged(),
        ..report
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::samples::run_record;

    fn run(id: &str, day: u32, status: RunStatus, rows: i64) -> RunRecord {
        let date = NaiveDate::from_ymd_opt(2026, 1, day).unwrap();
        RunRecord {
            run_id: id.into(),
            rows_written: rows,
            ..run_record("P", date, status)
        }
    }

    #[test]
    fn a_date_that_had_rows_and_was_emptied_by_a_successful_rerun_is_flagged() {
        // Newest first: 11th emptied (142 -> 0), with a failed run between.
        let runs = [
            run("r4", 11, RunStatus::Success, 0),
            run("r3", 11, RunStatus::Failed, 0),
            run("r2", 11, RunStatus::Success, 142),
            run("r1", 21, RunStatus::Success, 0),
        ];
        let emptied = emptied_dates(&runs);
        assert_eq!(emptied.len(), 1);
        let date = NaiveDate::from_ymd_opt(2026, 1, 11).unwrap();
        assert_eq!(
            emptied[&("P", date)],
            EmptiedDate {
                date,
                rows_before: 142,
                previous_run_id: "r2".into(),
                run_id: "r4".into(),
            }
        );
    }

    #[test]
    fn an_empty_date_that_never_had_rows_is_not_emptied() {
        let runs = [
            run("r3", 21, RunStatus::Success, 0),
            run("r2", 21, RunStatus::Success, 0),
            run("r1", 22, RunStatus::Success, 5),
        ];
        assert!(emptied_dates(&runs).is_empty());
    }

    /// A run left `running` past its lease has no error yet: its entry
    /// says whose host stopped renewing it, when, and why that host gave
    /// it up when it flagged it. Before, the message was empty.
    #[test]
    fn a_stale_run_says_whose_host_stopped_renewing_it_and_why() {
        let renewed: DateTime<Utc> = "2026-01-11T08:00:00Z".parse().unwrap();
        let stale = RunRecord {
            host_id: "worker-2".into(),
            heartbeat_at: renewed,
            lease_expires_at: renewed + chrono::Duration::minutes(10),
            flag: Some("its host gave it up: the store failed: disk full".into()),
            ..run("r1", 11, RunStatus::Running, 0)
        };
        let later = renewed + chrono::Duration::hours(1);

        assert_eq!(
            problem_message(&stale, later, "me:1"),
            "host worker-2 stopped renewing at 2026-01-11T08:00:00.000Z \
             (its host gave it up: the store failed: disk full)"
        );
        let unflagged = RunRecord {
            flag: None,
            ..stale.clone()
        };
        assert_eq!(
            problem_message(&unflagged, later, "me:1"),
            "host worker-2 stopped renewing at 2026-01-11T08:00:00.000Z"
        );
        let failed = RunRecord {
            status: RunStatus::Failed,
            error_message: Some("plugin trapped".into()),
            ..stale
        };
        assert_eq!(problem_message(&failed, later, "me:1"), "plugin trapped");
    }

    #[test]
    fn a_date_whose_rows_came_back_is_not_emptied() {
        let runs = [
            run("r3", 11, RunStatus::Success, 140),
            run("r2", 11, RunStatus::Success, 0),
            run("r1", 11, RunStatus::Success, 142),
        ];
        assert!(emptied_dates(&runs).is_empty());
    }
}
