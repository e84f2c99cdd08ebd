//! Alert events: what happened, how bad it is, and which open alert it
//! repeats or resolves. Pure: the store writes them in the transaction of
//! the state change that caused them (the outbox), and nothing here does I/O.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::record::{AlertState, Transition};
use crate::runs::{ErrorKind, RunEnd, RunStatus, text_enum};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A run failed; the alert's kind is the run's error kind.
    RunFailed,
    /// A run was blocked by an upstream check.
    RunBlocked,
    /// A run whose host stopped renewing its lease was reaped.
    StaleRunReaped,
    /// A successful run set rows aside under the `quarantine` policy.
    RowsQuarantined,
    /// A scheduled date still had no rows at its deadline.
    NoRowsByDeadline,
    /// A version was deployed and made active.
    Deployed,
    /// An earlier version was made active again.
    RolledBack,
    /// A processor's registry version was undeployed: its bundled version
    /// runs again, or none does.
    Undeployed,
    /// Every processor of a phase committed its rows for a date.
    PhaseCompleted,
    /// A phase could not complete for a date: a failure or a block.
    PhaseIncomplete,
    /// A schedule's tick started no run (an unknown processor, a date the
    /// pipeline does not serve).
    ScheduleNotFired,
    /// A component written to a server's watched folder was not deployed
    /// (it failed a deploy check, or could not be read): the operator who
    /// dropped it there expects it live.
    DeployRejected,
    /// An alert channel died (a wrong URL, a deleted hook, failures in a
    /// row): what it routes stays queued, so the other channels are told.
    /// Open until it answers again.
    AlertChannelDead,
}

/// How bad an event is; channels route by a minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record: deploys, completed phases, resolutions.
    Info,
    /// Something needs a look: blocked runs, quarantined rows.
    Warning,
    /// Something failed.
    Error,
}

/// Whether an event opens an alert that stays open until resolved, or is a
/// one-off notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Open until a later success resolves it; a repeat while open counts
    /// up instead of sending again.
    Open,
    /// Sent once per key, ever (a phase completing for a date).
    OnceEver,
    /// Sent every time (a deploy).
    Notice,
}

impl Lifecycle {
    /// The state a new alert of this lifecycle is recorded in, and the
    /// message it queues.
    pub fn first_state(self) -> (AlertState, Transition) {
        match self {
            Lifecycle::Open => (AlertState::Open, Transition::Opened),
            Lifecycle::OnceEver | Lifecycle::Notice => (AlertState::Notice, Transition::Notice),
        }
    }
}

text_enum!(EventKind {
    RunFailed => "run_failed", RunBlocked => "run_blocked",
    StaleRunReaped => "stale_run_reaped", RowsQuarantined => "rows_quarantined",
    NoRowsByDeadline => "no_rows_by_deadline", Deployed => "deployed",
    RolledBack => "rolled_back", Undeployed => "undeployed",
    PhaseCompleted => "phase_completed",
    PhaseIncomplete => "phase_incomplete", ScheduleNotFired => "schedule_not_fired",
    DeployRejected => "deploy_rejected", AlertChannelDead => "alert_channel_dead",
});
text_enum!(Severity { Info => "info", Warning => "warning", Error => "error" });

impl EventKind {
    /// Every event, in documentation order.
    pub const ALL: [EventKind; 13] = [
        EventKind::RunFailed,
        EventKind::RunBlocked,
        EventKind::StaleRunReaped,
        EventKind::RowsQuarantined,
        EventKind::NoRowsByDeadline,
        EventKind::Deployed,
        EventKind::RolledBack,
        EventKind::Undeployed,
        EventKind::PhaseCompleted,
        EventKind::PhaseIncomplete,
        EventKind::ScheduleNotFired,
        EventKind::DeployRejected,
        EventKind::AlertChannelDead,
    ];

    /// Whether it opens an alert, or is a notice.
    pub fn lifecycle(self) -> Lifecycle {
        match self {
            EventKind::Deployed | EventKind::RolledBack | EventKind::Undeployed => {
                Lifecycle::Notice
            }
            EventKind::PhaseCompleted => Lifecycle::OnceEver,
            _ => Lifecycle::Open,
        }
    }

    /// The open alerts of the same subject and date that recording it
    /// resolves, and who the resolution names: a phase that completed
    /// resolves its incompleteness.
    pub fn resolves(self) -> Option<(&'static [EventKind], &'static str)> {
        match self {
            EventKind::PhaseCompleted => Some((&[EventKind::PhaseIncomplete], "phase completed")),
            _ => None,
        }
    }

    /// Whether a later success of the same processor for the same date
    /// resolves it.
    pub fn resolved_by_success(self) -> bool {
        matches!(
            self,
            EventKind::RunFailed
                | EventKind::RunBlocked
                | EventKind::StaleRunReaped
                | EventKind::NoRowsByDeadline
        )
    }
}

/// An event as raised: about to be recorded, or as an [`AlertRecord`]
/// keeps it. `(event, subject, date, kind)` is its key: while an alert
/// with that key is open, the event repeats it.
///
/// [`AlertRecord`]: super::record::AlertRecord
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewAlert {
    /// What happened.
    pub event: EventKind,
    /// How bad it is.
    pub severity: Severity,
    /// What it is about: a processor, or a phase for phase events.
    pub subject: String,
    /// The analysis date it is about, if any.
    pub data_date: Option<NaiveDate>,
    /// A refinement of the event: a failed run's error kind, a deployed
    /// version's hash; empty when none.
    pub kind: String,
    /// The run that caused it, if any.
    pub run_id: Option<String>,
    /// One line a person reads first.
    pub summary: String,
    /// Everything else a receiver may use, as JSON.
    pub detail: serde_json::Value,
}

impl NewAlert {
    /// Whether it says that `channel` is dead: that channel is not sent it,
    /// neither while dead (it would only wait in its queue) nor once it
    /// answers again.
    pub fn is_death_of(&self, channel: &str) -> bool {
        self.event == EventKind::AlertChannelDead && self.subject == channel
    }
}

/// The first line of a message, trimmed: what a channel shows of an error.
pub fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("").trim()
}

/// A run as an alert describes it.
#[derive(Debug, Clone, Copy)]
pub struct RunFacts<'a> {
    /// The run.
    pub run_id: &'a str,
    /// Its processor.
    pub processor: &'a str,
    /// Its date.
    pub data_date: NaiveDate,
    /// Its attempt at (processor, date).
    pub attempt: i64,
    /// The host that ran it.
    pub host_id: &'a str,
}

impl RunFacts<'_> {
    fn detail(&self, status: &str, kind: Option<&str>, error: &str) -> serde_json::Value {
        serde_json::json!({
            "run_id": self.run_id,
            "processor": self.processor,
            "data_date": self.data_date,
            "attempt": self.attempt,
            "host_id": self.host_id,
            "status": status,
            "error_kind": kind,
            "error": crate::runs::error_headline(error),
        })
    }
}

/// The alert a run's end raises: a failure or a block. A `running` end
/// (none exists) or a success raises none.
pub fn for_run_end(run: RunFacts<'_>, end: &RunEnd) -> Option<NewAlert> {
    let (event, severity) = match end.status {
        // A shadow's failure fails nothing live: a warning, not an error.
        RunStatus::Failed if crate::shadow::live_name(run.processor).is_some() => {
            (EventKind::RunFailed, Severity::Warning)
        }
        RunStatus::Failed => (EventKind::RunFailed, Severity::Error),
        RunStatus::Blocked => (EventKind::RunBlocked, Severity::Warning),
        RunStatus::Running | RunStatus::Success => return None,
    };
    let kind = end.error_kind.map_or("", ErrorKind::as_str);
    let summary = format!(
        "{}: {} {} [{}] {}",
        run.data_date,
        run.processor,
        end.status,
        if kind.is_empty() { "-" } else { kind },
        crate::runs::error_headline(&end.message)
    );
    Some(NewAlert {
        event,
        severity,
        subject: run.processor.to_string(),
        data_date: Some(run.data_date),
        kind: kind.to_string(),
        run_id: Some(run.run_id.to_string()),
        summary,
        detail: run.detail(end.status.as_str(), Some(kind), &end.message),
    })
}

/// The alert a reaped stale run raises.
pub fn for_reaped_run(run: RunFacts<'_>, reason: &str) -> NewAlert {
    NewAlert {
        event: EventKind::StaleRunReaped,
        severity: Severity::Error,
        subject: run.processor.to_string(),
        data_date: Some(run.data_date),
        kind: ErrorKind::Stale.as_str().to_string(),
        run_id: Some(run.run_id.to_string()),
        summary: format!(
            "{}: {} failed [stale] {}",
            run.data_date,
            run.processor,
            first_line(reason)
        ),
        detail: run.detail("failed", Some(ErrorKind::Stale.as_str()), reason),
    }
}

/// The alert a success with quarantined rows raises.
pub fn for_quarantined_rows(
    run: RunFacts<'_>,
    table: &str,
    quarantined: usize,
    written: usize,
) -> NewAlert {
    let noun = if quarantined == 1 { "row" } else { "rows" };
    NewAlert {
        event: EventKind::RowsQuarantined,
        severity: Severity::Warning,
        subject: run.processor.to_string(),
        data_date: Some(run.data_date),
        kind: String::new(),
        run_id: Some(run.run_id.to_string()),
        summary: format!(
            "{}: {} quarantined {quarantined} {noun} of {table} ({written} written); \
             see `slate quarantine --run {}`",
            run.data_date, run.processor, run.run_id
        ),
        detail: serde_json::json!({
            "run_id": run.run_id,
            "processor": run.processor,
            "data_date": run.data_date,
            "table": table,
            "rows_quarantined": quarantined,
            "rows_written": written,
        }),
    }
}

/// What a committed run does to the alerts of its processor and date: the
/// alert its quarantined rows raise, if any, and the events it resolves
/// (every event a success resolves, and a quarantine alert when none of
/// its rows were quarantined).
pub fn for_success(
    run: RunFacts<'_>,
    table: &str,
    quarantined: usize,
    written: usize,
) -> (Option<NewAlert>, Vec<EventKind>) {
    // A success that committed no rows leaves a date without rows: its
    // `no_rows_by_deadline` is the sweep's to judge (a date with nothing
    // to write, or one this run emptied).
    let mut resolved: Vec<EventKind> = EventKind::ALL
        .into_iter()
        .filter(|event| event.resolved_by_success())
        .filter(|event| written > 0 || *event != EventKind::NoRowsByDeadline)
        .collect();
    let raised = match quarantined {
        0 => {
            resolved.push(EventKind::RowsQuarantined);
            None
        }
        _ => Some(for_quarantined_rows(run, table, quarantined, written)),
    };
    (raised, resolved)
}

/// A switch of a processor's active version as a notice: `event` is
/// [`EventKind::Deployed`], [`EventKind::RolledBack`] or
/// [`EventKind::Undeployed`], and `version` and `hash` name the version
/// made active (or, for an undeploy, the one ended).
pub fn for_version_switch(
    event: EventKind,
    processor: &str,
    version: &str,
    hash: &str,
) -> NewAlert {
    let verb = match event {
        EventKind::RolledBack => "rolled back to",
        EventKind::Undeployed => "undeployed",
        _ => "deployed",
    };
    NewAlert {
        event,
        severity: Severity::Info,
        subject: processor.to_string(),
        data_date: None,
        kind: hash.to_string(),
        run_id: None,
        summary: format!("{processor} {verb} {version} ({})", short_hash(hash)),
        detail: serde_json::json!({ "processor": processor, "version": version, "hash": hash }),
    }
}

/// A schedule's ticks for the dates `from` to `to` (one tick when they are
/// the same) that started no run, and why: open until resolved by hand, a
/// repeat counting up. The alert's date is the last.
pub fn for_unfired_tick(
    schedule: &str,
    (from, to): (NaiveDate, NaiveDate),
    reason: &str,
) -> NewAlert {
    let dates = match from == to {
        true => to.to_string(),
        false => format!("{from} to {to}"),
    };
    NewAlert {
        event: EventKind::ScheduleNotFired,
        severity: Severity::Error,
        subject: schedule.to_string(),
        data_date: Some(to),
        kind: "not_fired".to_string(),
        run_id: None,
        summary: format!("schedule {schedule} started no run for {dates}: {reason}"),
        detail: serde_json::json!({ "schedule": schedule, "reason": reason }),
    }
}

/// A component file of a watched folder that was not deployed, and why:
/// open until the file deploys, or by hand; `check` is the deploy check it
/// failed (`read` for a file that could not be read, `skipped` for one
/// found at start that an operator had switched away from).
pub fn for_rejected_file(file: &str, check: &str, reason: &str) -> NewAlert {
    NewAlert {
        event: EventKind::DeployRejected,
        severity: Severity::Error,
        subject: file.to_string(),
        data_date: None,
        kind: check.to_string(),
        run_id: None,
        summary: format!("{file} was not deployed: {}", first_line(reason)),
        detail: serde_json::json!({ "file": file, "check": check, "reason": reason }),
    }
}

/// An alert channel found dead, and why (`reason`, failing `since`, after
/// `failures` failed attempts in a row): open until it answers again, each
/// later failed attempt counting up. Its subject is the channel, which is
/// never sent its own death ([`NewAlert::is_death_of`]).
pub fn for_dead_channel(
    channel: &str,
    reason: &str,
    since: Option<DateTime<Utc>>,
    failures: i64,
) -> NewAlert {
    let since_text = since.map_or_else(String::new, |since| {
        format!(" since {}", since.format("%Y-%m-%dT%H:%MZ"))
    });
    NewAlert {
        event: EventKind::AlertChannelDead,
        severity: Severity::Error,
        subject: channel.to_string(),
        data_date: None,
        kind: String::new(),
        run_id: None,
        summary: format!(
            "alert channel `{channel}` is dead: {}{since_text}; the alerts it routes stay \
             queued until it answers again",
            first_line(reason)
        ),
        detail: serde_json::json!({
            "channel": channel,
            "reason": reason,
            "since": since,
            "consecutive_failures": failures,
        }),
    }
}

/// The first 12 characters of a content hash.
pub fn short_hash(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::RunUsage;

    fn facts() -> RunFacts<'static> {
        RunFacts {
            run_id: "r1",
            processor: "PlayerGameSummaryProcessor",
            data_date: NaiveDate::from_ymd_opt(2026, 1, 6).unwrap(),
            attempt: 2,
            host_id: "h:1",
        }
    }

    fn end(status: RunStatus, kind: Option<ErrorKind>, message: &str) -> RunEnd {
        RunEnd {
            status,
            error_kind: kind,
            message: message.to_string(),
            rows_read: 0,
            limit: None,
            usage: RunUsage::default(),
            upstream_check: None,
        }
    }

    #[test]
    fn only_an_open_lifecycle_starts_open_and_the_others_are_notices() {
        assert_eq!(
            Lifecycle::Open.first_state(),
            (AlertState::Open, Transition::Opened)
        );
        for lifecycle in [Lifecycle::OnceEver, Lifecycle::Notice] {
            assert_eq!(
                lifecycle.first_state(),
                (AlertState::Notice, Transition::Notice)
            );
        }
    }

    #[test]
    fn a_failed_run_opens_an_error_alert_keyed_by_its_kind_showing_the_errors_first_line() {
        let message = "7 games scheduled, 0 box scores\nmore detail";
        let alert = for_run_end(
            facts(),
            &end(RunStatus::Failed, Some(ErrorKind::Plugin), message),
        )
        .unwrap();
        assert_eq!(alert.event, EventKind::RunFailed);
        assert_eq!(alert.severity, Severity::Error);
        assert_eq!(alert.kind, "plugin");
        assert_eq!(alert.subject, "PlayerGameSummaryProcessor");
        assert_eq!(
            alert.summary,
            "2026-01-06: PlayerGameSummaryProcessor failed [plugin] 7 games scheduled, 0 box scores"
        );
        assert_eq!(alert.detail["error"], "7 games scheduled, 0 box scores");
        assert_eq!(alert.detail["attempt"], 2);
        assert_eq!(EventKind::RunFailed.lifecycle(), Lifecycle::Open);
    }

    #[test]
    fn a_success_resolves_failures_and_a_clean_one_resolves_quarantine_too() {
        let (raised, resolved) = for_success(facts(), "nba_analytics.x", 0, 10);
        assert!(raised.is_none());
        assert!(resolved.contains(&EventKind::RunFailed));
        assert!(resolved.contains(&EventKind::RowsQuarantined));
        assert!(resolved.contains(&EventKind::NoRowsByDeadline));

        let (raised, resolved) = for_success(facts(), "nba_analytics.x", 1, 198);
        assert_eq!(raised.unwrap().event, EventKind::RowsQuarantined);
        assert!(resolved.contains(&EventKind::StaleRunReaped));
        assert!(!resolved.contains(&EventKind::RowsQuarantined));

        // No rows committed: the date still has none, which only the
        // no-rows sweep can judge.
        let (_, resolved) = for_success(facts(), "nba_analytics.x", 0, 0);
        assert!(resolved.contains(&EventKind::RunFailed));
        assert!(!resolved.contains(&EventKind::NoRowsByDeadline));
    }

    #[test]
    fn a_failed_shadow_run_is_a_warning_since_it_fails_nothing_live() {
        let shadow = RunFacts {
            processor: "PlayerGameSummaryProcessor~shadow",
            ..facts()
        };
        let alert = for_run_end(
            shadow,
            &end(RunStatus::Failed, Some(ErrorKind::Trap), "panic"),
        )
        .unwrap();
        assert_eq!(
            (alert.event, alert.severity),
            (EventKind::RunFailed, Severity::Warning)
        );
        assert_eq!(alert.subject, "PlayerGameSummaryProcessor~shadow");
    }

    #[test]
    fn a_block_is_a_warning_and_a_success_raises_nothing() {
        let blocked = for_run_end(
            facts(),
            &end(
                RunStatus::Blocked,
                Some(ErrorKind::Upstream),
                "upstream failed",
            ),
        )
        .unwrap();
        assert_eq!(
            (blocked.event, blocked.severity),
            (EventKind::RunBlocked, Severity::Warning)
        );
        assert_eq!(
            for_run_end(facts(), &end(RunStatus::Success, None, "")),
            None
        );
    }

    #[test]
    fn event_names_read_back_and_an_unknown_one_names_the_choices() {
        for event in EventKind::ALL {
            assert_eq!(event.as_str().parse::<EventKind>(), Ok(event));
        }
        let error = "exploded".parse::<EventKind>().unwrap_err();
        assert_eq!(error.choices.len(), EventKind::ALL.len());
        assert!(Severity::Error > Severity::Warning && Severity::Warning > Severity::Info);
    }

    #[test]
    fn only_run_problems_are_resolved_by_a_later_success() {
        assert!(EventKind::RunFailed.resolved_by_success());
        assert!(EventKind::StaleRunReaped.resolved_by_success());
        assert!(!EventKind::RowsQuarantined.resolved_by_success());
        assert!(!EventKind::PhaseIncomplete.resolved_by_success());
        assert_eq!(EventKind::Deployed.lifecycle(), Lifecycle::Notice);
        assert_eq!(EventKind::PhaseCompleted.lifecycle(), Lifecycle::OnceEver);
    }

    #[test]
    fn recording_a_completed_phase_resolves_its_incompleteness_and_nothing_else_resolves_on_record()
    {
        let (events, _) = EventKind::PhaseCompleted.resolves().unwrap();
        assert_eq!(events, [EventKind::PhaseIncomplete]);
        for event in EventKind::ALL {
            if event != EventKind::PhaseCompleted {
                assert_eq!(event.resolves(), None, "{event:?}");
            }
        }
    }
}
