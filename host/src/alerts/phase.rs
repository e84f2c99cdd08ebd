//! Phase events: `phase_completed` when every processor of a phase
//! committed its rows for a date, `phase_incomplete` when one of them
//! failed or was blocked. The truthful replacement for a completion record
//! written after a failed save: the event is decided from committed runs
//! only, and goes through the outbox like every alert.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::event::{EventKind, NewAlert, Severity};
use super::record::AlertRecord;
use crate::phase::Phase;
use crate::pipeline::{PhaseCompletion, Pipeline};
use crate::runs::{RunFilter, RunRecord, RunStatus};
use crate::store::alerts::AlertOutbox;
use crate::store::{Store, StoreError};

/// The subject phase events carry: `phase 3 analytics`.
pub fn phase_subject(completion: &PhaseCompletion) -> String {
    format!("phase {}", completion.phase)
}

/// The event one phase's state for `date` raises: completed, incomplete
/// because a processor failed or was blocked, or none while processors
/// are still to run (or running).
pub fn phase_event(completion: &PhaseCompletion, date: NaiveDate) -> Option<NewAlert> {
    let processors: Vec<serde_json::Value> = completion
        .processors
        .iter()
        .map(|(name, status)| serde_json::json!({ "processor": name, "status": status }))
        .collect();
    let subject = phase_subject(completion);
    if completion.complete {
        return Some(NewAlert {
            event: EventKind::PhaseCompleted,
            severity: Severity::Info,
            summary: format!(
                "{date}: {subject} completed: {} processors, {} rows",
                completion.processors.len(),
                completion.rows
            ),
            detail: serde_json::json!({
                "phase": completion.phase as u8,
                "date": date,
                "processors": processors,
                "rows": completion.rows,
            }),
            subject,
            data_date: Some(date),
            kind: String::new(),
            run_id: None,
        });
    }
    let stopped: Vec<String> = completion
        .processors
        .iter()
        .filter(|(_, status)| stops_the_phase(*status))
        .filter_map(|(name, status)| status.map(|status| format!("{name} {status}")))
        .collect();
    if stopped.is_empty() {
        return None;
    }
    Some(NewAlert {
        event: EventKind::PhaseIncomplete,
        severity: Severity::Warning,
        summary: format!("{date}: {subject} incomplete: {}", stopped.join(", ")),
        detail: serde_json::json!({
            "phase": completion.phase as u8,
            "date": date,
            "processors": processors,
            "reason": stopped.join(", "),
        }),
        subject,
        data_date: Some(date),
        kind: String::new(),
        run_id: None,
    })
}

/// Who resolves a `phase_incomplete` whose failed and blocked processors
/// have all run again without failing, while others are still to run.
pub const NOTHING_STOPPED: &str = "no processor of the phase is failed or blocked now";

/// Records the phase events of `date` in `store`'s outbox (none when it
/// keeps none). Returns how many were recorded or repeated. A phase with
/// processors still to run, none failed, blocked or running, is not
/// incomplete for the reason its open `phase_incomplete` gave: that alert
/// is resolved ([`NOTHING_STOPPED`]). The phases are judged with the
/// processors of other hosts that alert names (`with_processors_named`).
pub fn record_phase_events(
    store: &dyn Store,
    pipeline: &Pipeline,
    date: NaiveDate,
) -> Result<usize, StoreError> {
    let Some(outbox) = store.alert_outbox() else {
        return Ok(0);
    };
    let open = open_incomplete_on(outbox, date)?;
    let completions = with_processors_named(
        store,
        pipeline,
        pipeline.phase_completion(store, date)?,
        &open,
        date,
    )?;
    let mut recorded = 0;
    let mut no_longer_stopped = Vec::new();
    for completion in completions {
        match phase_event(&completion, date) {
            Some(event) => recorded += usize::from(outbox.record_alert(&event)?.is_some()),
            // Resolved once nothing of the phase is failed, blocked or
            // still running: a rerun in flight may fail again.
            None if !completion
                .processors
                .iter()
                .any(|(_, status)| *status == Some(RunStatus::Running)) =>
            {
                no_longer_stopped.push(phase_subject(&completion));
            }
            None => {}
        }
    }
    for alert in open {
        if no_longer_stopped.contains(&alert.raised.subject) {
            outbox.resolve_alert(alert.alert_id, NOTHING_STOPPED)?;
        }
    }
    Ok(recorded)
}

/// Per phase, whether every processor of it committed its rows for
/// `date`, as [`Pipeline::phase_completion`] says, with the processors of
/// other hosts an open `phase_incomplete` of the date names: what `slate
/// run` prints.
pub fn phase_completion(
    store: &dyn Store,
    pipeline: &Pipeline,
    date: NaiveDate,
) -> Result<Vec<PhaseCompletion>, StoreError> {
    let completions = pipeline.phase_completion(store, date)?;
    match store.alert_outbox() {
        Some(outbox) => {
            let open = open_incomplete_on(outbox, date)?;
            with_processors_named(store, pipeline, completions, &open, date)
        }
        None => Ok(completions),
    }
}

/// The open `phase_incomplete` alerts of `date`. Read by event in the
/// store: most dates have none, and every date's runs end here, so all
/// open alerts are not read each time.
fn open_incomplete_on(
    outbox: &dyn AlertOutbox,
    date: NaiveDate,
) -> Result<Vec<AlertRecord>, StoreError> {
    Ok(outbox
        .open_or_resolved_by_hand(EventKind::PhaseIncomplete)?
        .into_iter()
        .filter(|alert| alert.resolved_at.is_none() && alert.raised.data_date == Some(date))
        .collect())
}

/// `completions` (of `pipeline`, for `date`), each phase joined by the
/// processors `pipeline` does not load that an `open` alert of the phase
/// names failed or blocked, at their latest run of the date: a run of
/// another host's processor reaped here, or that host's own event. A
/// phase is then not complete over a failure this host cannot see for
/// itself, and its alert stays open until that processor runs again.
fn with_processors_named(
    store: &dyn Store,
    pipeline: &Pipeline,
    mut completions: Vec<PhaseCompletion>,
    open: &[AlertRecord],
    date: NaiveDate,
) -> Result<Vec<PhaseCompletion>, StoreError> {
    let mut named: Vec<(usize, String)> = Vec::new();
    for alert in open {
        let Some(index) = completions
            .iter()
            .position(|c| phase_subject(c) == alert.raised.subject)
        else {
            continue;
        };
        for name in stopped_in(&alert.raised) {
            let in_pipeline = pipeline.plugin(&name).is_some();
            let member = (index, name);
            if !in_pipeline && !named.contains(&member) {
                named.push(member);
            }
        }
    }
    if named.is_empty() {
        return Ok(completions);
    }
    // Newest first: the first of a processor is its latest.
    let on_date = store.runs(&RunFilter {
        date: Some(date),
        skip_upstream_check: true,
        ..RunFilter::default()
    })?;
    for (index, name) in named {
        let latest = on_date.iter().find(|run| run.processor == name);
        let completion = &mut completions[index];
        completion
            .processors
            .push((name, latest.map(|run| run.status)));
        completion.rows += latest.map_or(0, |run| run.rows_written);
        completion.complete = completion
            .processors
            .iter()
            .all(|(_, status)| *status == Some(RunStatus::Success));
    }
    Ok(completions)
}

/// Whether a processor at `status` stops its phase: it failed or was
/// blocked.
fn stops_the_phase(status: Option<RunStatus>) -> bool {
    matches!(status, Some(RunStatus::Failed | RunStatus::Blocked))
}

/// The processors a `phase_incomplete` names failed or blocked.
pub fn stopped_in(event: &NewAlert) -> Vec<String> {
    members_of(event)
        .map(|(_, members)| members)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, status)| stops_the_phase(*status))
        .map(|(name, _)| name)
        .collect()
}

/// A phase's processors, each with its latest status on a date (`None`:
/// not run), as [`PhaseCompletion::processors`] holds them.
type Members = Vec<(String, Option<RunStatus>)>;

/// The phase and the processors, each with its status, that a phase
/// event's detail names.
fn members_of(event: &NewAlert) -> Option<(Phase, Members)> {
    let phase = Phase::from_number(event.detail["phase"].as_i64()?)?;
    let members = event.detail["processors"]
        .as_array()?
        .iter()
        .filter_map(|member| {
            let status = member["status"].as_str().and_then(|s| s.parse().ok());
            Some((member["processor"].as_str()?.to_string(), status))
        })
        .collect();
    Some((phase, members))
}

/// The `phase_incomplete` of `phase` on `date` naming `members`.
fn incomplete(phase: Phase, members: Members, date: NaiveDate) -> Option<NewAlert> {
    let completion = PhaseCompletion {
        phase,
        complete: false,
        processors: members,
        rows: 0,
    };
    phase_event(&completion, date).filter(|event| event.event == EventKind::PhaseIncomplete)
}

/// `event`, a `phase_incomplete`, as it reads without `name` among its
/// processors: `None` when no other processor of it is failed or blocked.
/// What stays of a phase's alert once `name` is gone for good.
pub fn without_processor(event: &NewAlert, name: &str) -> Option<NewAlert> {
    let (phase, mut members) = members_of(event)?;
    members.retain(|(member, _)| member != name);
    incomplete(phase, members, event.data_date?)
}

/// Records the phase events of the dates of `reaped` runs: a run reaped
/// as stale failed, so its phase is incomplete on its date, which no run's
/// end would otherwise say. A run of a processor `pipeline` does not load
/// (another host's) is judged by the phase its record keeps
/// (`foreign_phase_events`). A failure is logged, not returned: the reap
/// stands, and the run's own alert says it failed.
pub fn record_phase_events_of_reaped(store: &dyn Store, pipeline: &Pipeline, reaped: &[RunRecord]) {
    let dates: BTreeSet<NaiveDate> = reaped
        .iter()
        .filter(|run| pipeline.plugin(&run.processor).is_some())
        .map(|run| run.data_date)
        .collect();
    for date in dates {
        if let Err(error) = record_phase_events(store, pipeline, date) {
            tracing::warn!(%date, %error, "the phase events of a reaped run's date were not recorded");
        }
    }
    let Some(outbox) = store.alert_outbox() else {
        return;
    };
    for event in foreign_phase_events(pipeline, reaped) {
        // A repeat replaces the open alert's detail: keep the processors
        // it named besides these.
        let event = match event.data_date.map(|date| open_incomplete_on(outbox, date)) {
            Some(Ok(open)) => joined_with_open(event, &open),
            _ => event,
        };
        if let Err(error) = outbox.record_alert(&event) {
            tracing::warn!(
                date = ?event.data_date, %error,
                "the phase event of a reaped run of another host's processor was not recorded"
            );
        }
    }
}

/// `event`, a `phase_incomplete` naming failed processors, with the other
/// processors the `open` alert of its phase and date names, at the
/// statuses it gives them.
fn joined_with_open(event: NewAlert, open: &[AlertRecord]) -> NewAlert {
    let earlier = open
        .iter()
        .find(|alert| alert.raised.subject == event.subject)
        .and_then(|alert| members_of(&alert.raised));
    let (Some((phase, mut members)), Some((_, failed)), Some(date)) =
        (earlier, members_of(&event), event.data_date)
    else {
        return event;
    };
    members.retain(|(member, _)| !failed.iter().any(|(name, _)| name == member));
    members.extend(failed);
    incomplete(phase, members, date).unwrap_or(event)
}

/// The `phase_incomplete` events of the reaped runs that failed whose
/// processor `pipeline` does not load, one per phase and date, naming
/// those processors: the phase their records keep says which phase they
/// left incomplete. Shadow runs belong to no phase, and a run recorded
/// before run history kept phases cannot be placed.
fn foreign_phase_events(pipeline: &Pipeline, reaped: &[RunRecord]) -> Vec<NewAlert> {
    let mut failed: BTreeMap<(NaiveDate, Phase), Vec<String>> = BTreeMap::new();
    for run in reaped {
        let foreign = pipeline.plugin(&run.processor).is_none()
            && crate::shadow::live_name(&run.processor).is_none();
        if let (true, RunStatus::Failed, Some(phase)) = (foreign, run.status, run.phase) {
            let names = failed.entry((run.data_date, phase)).or_default();
            if !names.contains(&run.processor) {
                names.push(run.processor.clone());
            }
        }
    }
    failed
        .into_iter()
        .filter_map(|((date, phase), names)| {
            let members = names
                .into_iter()
                .map(|name| (name, Some(RunStatus::Failed)))
                .collect();
            incomplete(phase, members, date)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::spec::Phase;

    fn completion(statuses: &[Option<RunStatus>]) -> PhaseCompletion {
        PhaseCompletion {
            phase: Phase::Precompute,
            complete: statuses.iter().all(|s| *s == Some(RunStatus::Success)),
            processors: statuses
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("P{i}"), *s))
                .collect(),
            rows: 42,
        }
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 11).unwrap()
    }

    #[test]
    fn a_phase_whose_processors_all_committed_is_completed_with_its_rows() {
        let event = phase_event(&completion(&[Some(RunStatus::Success); 2]), date()).unwrap();
        assert_eq!(event.event, EventKind::PhaseCompleted);
        assert_eq!(event.subject, "phase 4 precompute");
        assert_eq!(event.detail["rows"], 42);
        assert_eq!(
            event.summary,
            "2026-01-11: phase 4 precompute completed: 2 processors, 42 rows"
        );
    }

    #[test]
    fn a_failure_or_a_block_makes_it_incomplete_naming_them() {
        let event = phase_event(
            &completion(&[
                Some(RunStatus::Success),
                Some(RunStatus::Failed),
                Some(RunStatus::Blocked),
            ]),
            date(),
        )
        .unwrap();
        assert_eq!(event.event, EventKind::PhaseIncomplete);
        assert_eq!(event.detail["reason"], "P1 failed, P2 blocked");
    }

    #[test]
    fn a_phase_still_to_run_raises_nothing() {
        assert_eq!(
            phase_event(&completion(&[Some(RunStatus::Success), None]), date()),
            None
        );
        assert_eq!(
            phase_event(
                &completion(&[Some(RunStatus::Running), Some(RunStatus::Success)]),
                date()
            ),
            None
        );
    }

    #[test]
    fn a_phase_alert_without_a_processor_names_the_others_or_is_none() {
        let statuses = [
            Some(RunStatus::Failed),
            Some(RunStatus::Blocked),
            Some(RunStatus::Success),
        ];
        let event = phase_event(&completion(&statuses), date()).unwrap();
        let left = without_processor(&event, "P0").unwrap();
        assert_eq!(
            left.summary,
            "2026-01-11: phase 4 precompute incomplete: P1 blocked"
        );
        assert_eq!(stopped_in(&left), ["P1"]);
        assert_eq!(without_processor(&left, "P1"), None);
    }
}
