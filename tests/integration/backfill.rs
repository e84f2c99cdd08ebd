//! Backfills over ranges of dates: each reprocess mode, dependency order
//! with independent dates in parallel, and the `slate backfill` command.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use slate::backfill::{self, BackfillRequest, Outcome, Reprocess};
use slate::demo::{schedule_schema, schedule_table};
use slate::pipeline::Pipeline;
use slate::plugin::Plugin;
use slate::runs::{ErrorKind, RunFilter, RunRecord, RunStatus};
use slate::store::{EmbeddedStore, RunLedger, Store};

use crate::bookkeeping::set_spin;
use crate::contract::give_it_input;
use crate::support::{
    TestHost, assert_contains, assert_succeeded, components, date, plugin_dir, run_plan, slate,
    slate_with_plugins, stderr,
};

fn request(pipeline: &Pipeline, from: &str, to: &str, reprocess: Reprocess) -> BackfillRequest {
    BackfillRequest {
        start: date(from),
        end: date(to),
        selection: pipeline.select(&[]).unwrap(),
        reprocess,
        parallelism: 4,
    }
}

fn backfill(host: &TestHost, pipeline: &Pipeline, request: &BackfillRequest) -> Vec<Outcome> {
    let plan = backfill::plan(host.store.as_ref(), pipeline, request).unwrap();
    run_plan(host, pipeline, &plan, request.parallelism)
}

fn days_of(outcomes: &[Outcome]) -> Vec<u32> {
    use chrono::Datelike;
    let mut days: Vec<u32> = outcomes.iter().map(|o| o.date.day()).collect();
    days.sort();
    days
}

#[test]
fn with_a_calendar_a_backfill_runs_the_game_dates_so_a_complete_range_has_nothing_missing() {
    let host = TestHost::with_demo_season();
    let pipeline = host.bundled_pipeline(&["player-game-summary"]);
    // The All-Star break: no games from the 13th to the 18th.
    let (from, to) = ("2026-02-12", "2026-02-19");
    let all = request(&pipeline, from, to, Reprocess::All);
    let plan = backfill::plan(host.store.as_ref(), &pipeline, &all).unwrap();
    assert_eq!(plan.dates, [date("2026-02-12"), date("2026-02-19")]);
    assert_eq!(plan.dates_without_games, 6);
    let outcomes = backfill(&host, &pipeline, &all);
    assert_eq!(days_of(&outcomes), [12, 19]);
    assert!(
        outcomes
            .iter()
            .all(|o| o.status == Some(RunStatus::Success))
    );

    let missing = request(&pipeline, from, to, Reprocess::Missing);
    let plan = backfill::plan(host.store.as_ref(), &pipeline, &missing).unwrap();
    assert!(plan.runs.is_empty(), "nothing is missing: {:?}", plan.runs);
}

#[test]
fn each_reprocess_mode_redoes_exactly_its_runs_over_25_dates() {
    let host = TestHost::empty();
    // FaultyProcessor fails on the 2nd to 5th of a month and succeeds otherwise.
    let pipeline = Pipeline::new(vec![host.fixture(components::FAULTY_PROCESSOR)]).unwrap();
    let (from, to) = ("2026-01-01", "2026-01-25");

    let missing = request(&pipeline, from, to, Reprocess::Missing);
    let first = backfill(&host, &pipeline, &missing);
    assert_eq!(first.len(), 25, "every date runs once");
    let failed: Vec<&Outcome> = first.iter().filter(|o| o.is_failure()).collect();
    assert_eq!(
        days_of(&failed.iter().map(|o| (*o).clone()).collect::<Vec<_>>()),
        [2, 3, 4, 5]
    );

    let again = backfill(&host, &pipeline, &missing);
    assert!(again.is_empty(), "nothing is missing any more: {again:?}");

    let retry = backfill(
        &host,
        &pipeline,
        &request(&pipeline, from, to, Reprocess::Failed),
    );
    assert_eq!(days_of(&retry), [2, 3, 4, 5], "only the failed dates rerun");
    let attempts = |day: &str| {
        host.store
            .runs(&RunFilter {
                date: Some(date(day)),
                ..RunFilter::default()
            })
            .unwrap()
            .len()
    };
    assert_eq!(attempts("2026-01-03"), 2);
    assert_eq!(attempts("2026-01-10"), 1);

    let all = backfill(
        &host,
        &pipeline,
        &request(&pipeline, from, to, Reprocess::All),
    );
    assert_eq!(all.len(), 25, "every date reruns");
    assert_eq!(attempts("2026-01-10"), 2);
    assert_eq!(attempts("2026-01-03"), 3);

    let plan = backfill::plan(
        host.store.as_ref(),
        &pipeline,
        &request(&pipeline, from, to, Reprocess::Missing),
    )
    .unwrap();
    assert_eq!((plan.runs.len(), plan.left_alone), (0, 25));
}

#[test]
fn a_lookback_processor_waits_for_its_upstream_on_earlier_dates_and_other_dates_run_in_parallel() {
    let host = TestHost::with_demo_season();
    let pipeline = host.bundled_pipeline(&["player-game-summary", "player-daily-cache"]);
    let request = BackfillRequest {
        start: date("2025-12-01"),
        end: date("2025-12-20"),
        selection: pipeline.select(&[]).unwrap(),
        reprocess: Reprocess::Missing,
        parallelism: 4,
    };
    let outcomes = backfill(&host, &pipeline, &request);
    assert_eq!(outcomes.len(), 40, "two processors over 20 dates");
    let failures: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.status != Some(RunStatus::Success))
        .collect();
    assert!(failures.is_empty(), "{failures:?}");

    let runs: Vec<RunRecord> = host.store.runs(&RunFilter::default()).unwrap();
    let by = |processor: &str| -> BTreeMap<NaiveDate, RunRecord> {
        runs.iter()
            .filter(|r| r.processor == processor)
            .map(|r| (r.data_date, r.clone()))
            .collect()
    };
    let (summary, cache) = (
        by("PlayerGameSummaryProcessor"),
        by("PlayerDailyCacheProcessor"),
    );
    for (day, downstream) in &cache {
        for (upstream_day, upstream) in summary.range(..=*day) {
            assert!(
                upstream.finished_at.unwrap() <= downstream.started_at,
                "the cache for {day} started before the summary of {upstream_day} finished"
            );
        }
    }
    // Independent summary dates overlapped in time: they ran in parallel.
    let overlapping = summary.values().any(|a| {
        summary.values().any(|b| {
            a.run_id != b.run_id
                && a.started_at < b.finished_at.unwrap()
                && b.started_at < a.finished_at.unwrap()
        })
    });
    assert!(overlapping, "some independent dates ran at the same time");
}

#[test]
fn on_one_date_a_run_waits_only_for_the_runs_its_checks_read() {
    // SlowProcessor spins until its CPU limit; VersionedProcessor, of the
    // same phase, neither reads it nor comes before it; AfterSlowProcessor
    // reads it.
    let host = TestHost::with_cpu_limit(Duration::from_millis(1500));
    let pipeline = Pipeline::new(vec![
        host.fixture(components::SLOW_PROCESSOR),
        host.fixture(components::VERSIONED_V1),
        host.fixture(components::AFTER_SLOW_PROCESSOR),
    ])
    .unwrap();
    assert_eq!(
        pipeline.order(),
        ["SlowProcessor", "VersionedProcessor", "AfterSlowProcessor"],
        "pipeline order puts the independent processor after the slow one"
    );
    let day = date("2026-01-11");
    set_spin(host.store.as_ref(), day, true);
    let request = BackfillRequest {
        start: day,
        end: day,
        selection: pipeline.select(&[]).unwrap(),
        reprocess: Reprocess::Missing,
        parallelism: 2,
    };
    assert_eq!(backfill(&host, &pipeline, &request).len(), 3);

    let run_of = |processor: &str| -> RunRecord {
        let runs = host
            .store
            .runs(&RunFilter {
                processor: Some(processor.into()),
                ..RunFilter::default()
            })
            .unwrap();
        assert_eq!(runs.len(), 1, "{processor}: {runs:?}");
        runs.into_iter().next().unwrap()
    };
    let (slow, independent, downstream) = (
        run_of("SlowProcessor"),
        run_of("VersionedProcessor"),
        run_of("AfterSlowProcessor"),
    );
    assert_eq!(slow.error_kind, Some(ErrorKind::LimitTime), "{slow:?}");
    let slow_ended = slow.finished_at.unwrap();
    assert_eq!(independent.status, RunStatus::Success, "{independent:?}");
    assert!(
        independent.finished_at.unwrap() < slow_ended,
        "the independent run went ahead beside the slow one: {independent:?} {slow:?}"
    );
    assert_eq!(downstream.status, RunStatus::Blocked, "{downstream:?}");
    assert!(
        downstream.started_at >= slow_ended,
        "the run that reads the slow one waited for it: {downstream:?} {slow:?}"
    );
}

/// Two processors that share no table: FaultyProcessor, phase 3, which
/// fails on the 2nd of a month, and ContractV010Processor, phase 4 under
/// the `block` upstream policy, which reads only `slate_test.every_type`
/// (made here, in `store`). `load` loads a fixture by path.
pub(crate) fn phase_gate_pipeline(store: &dyn Store, load: impl Fn(&str) -> Plugin) -> Pipeline {
    store
        .ensure_table(&schedule_table(), &schedule_schema())
        .unwrap();
    give_it_input(store, &std::fs::read(components::CONTRACT_V0_1_0).unwrap());
    let pipeline = Pipeline::new(vec![
        load(components::FAULTY_PROCESSOR),
        load(components::CONTRACT_V0_1_0),
    ])
    .unwrap();
    let later = pipeline.plugin("ContractV010Processor").unwrap();
    assert!(later.spec.upstream.is_empty(), "it reads no earlier phase");
    pipeline
}

/// The runs of [`phase_gate_pipeline`] over 2026-01-01 and -02 are what
/// the phase gate makes them: on the 1st both succeed; on the 2nd the
/// later phase waited for the earlier one to fail, then was blocked by it.
/// Each phase's event of each date was recorded once.
pub(crate) fn assert_the_phase_gate_held(store: &dyn Store) {
    let run_of = |processor: &str, day: &str| -> RunRecord {
        let runs = store
            .runs(&RunFilter {
                processor: Some(processor.into()),
                date: Some(date(day)),
                ..RunFilter::default()
            })
            .unwrap();
        assert_eq!(runs.len(), 1, "{processor} on {day}: {runs:#?}");
        runs.into_iter().next().unwrap()
    };
    for processor in ["FaultyProcessor", "ContractV010Processor"] {
        let run = run_of(processor, "2026-01-01");
        assert_eq!(run.status, RunStatus::Success, "{run:#?}");
    }
    let failed = run_of("FaultyProcessor", "2026-01-02");
    assert_eq!(failed.status, RunStatus::Failed, "{failed:#?}");
    let gated = run_of("ContractV010Processor", "2026-01-02");
    assert_eq!(gated.status, RunStatus::Blocked, "{gated:#?}");
    assert_eq!(
        gated.error_message.as_deref(),
        Some(
            format!(
                "an earlier phase is incomplete for 2026-01-02: FaultyProcessor is failed (run {})",
                failed.run_id
            )
            .as_str()
        )
    );
    assert!(
        gated.started_at >= failed.finished_at.unwrap(),
        "the later phase waited for the earlier one: {gated:#?} {failed:#?}"
    );

    let outbox = store
        .alert_outbox()
        .expect("the store keeps an alert outbox");
    let mut phase_events: Vec<(String, String, &str, i64)> = outbox
        .alerts(false, 100)
        .unwrap()
        .into_iter()
        .filter(|alert| alert.raised.subject.starts_with("phase "))
        .map(|alert| {
            let date = alert.raised.data_date.expect("a phase event has a date");
            let event = alert.raised.event.as_str();
            (
                date.to_string(),
                alert.raised.subject,
                event,
                alert.occurrences,
            )
        })
        .collect();
    phase_events.sort();
    let expected = [
        ("2026-01-01", "phase 3 analytics", "phase_completed"),
        ("2026-01-01", "phase 4 precompute", "phase_completed"),
        ("2026-01-02", "phase 3 analytics", "phase_incomplete"),
        ("2026-01-02", "phase 4 precompute", "phase_incomplete"),
    ]
    .map(|(date, subject, event)| (date.to_string(), subject.to_string(), event, 1));
    assert_eq!(
        phase_events, expected,
        "each phase's event of each date, once"
    );
}

#[test]
fn under_block_a_later_phase_waits_for_and_is_blocked_by_a_failed_earlier_phase_it_does_not_read() {
    let host = TestHost::empty();
    let pipeline = phase_gate_pipeline(host.store.as_ref(), |path| host.fixture(path));
    let request = BackfillRequest {
        parallelism: 2,
        ..request(&pipeline, "2026-01-01", "2026-01-02", Reprocess::Missing)
    };

    assert_eq!(backfill(&host, &pipeline, &request).len(), 4);

    assert_the_phase_gate_held(host.store.as_ref());
}

#[test]
fn slate_backfill_prints_a_summary_and_exits_non_zero_when_a_run_failed() {
    let data = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(&[components::FAULTY_PROCESSOR]);
    EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let slate = |args: &[&str]| {
        slate_with_plugins(data.path(), plugins.path())
            .args(args)
            .output()
            .unwrap()
    };
    let range = [
        "--from",
        "2026-01-06",
        "--to",
        "2026-01-27",
        "--processors",
        "FaultyProcessor",
    ];

    let dry = slate(&[&["backfill"][..], &range, &["--dry-run"]].concat());
    assert_succeeded(&dry);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert_contains(
        &text,
        "dry run: 22 runs planned over 22 dates, 0 left alone",
    );

    let run = slate(&[&["backfill"][..], &range, &["--parallelism", "3"]].concat());
    assert_succeeded(&run);
    let text = String::from_utf8_lossy(&run.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("FaultyProcessor"))
        .unwrap();
    let cells: Vec<&str> = line
        .split('┆')
        .map(|c| c.trim().trim_matches('│').trim())
        .collect();
    assert_eq!(cells[1..4], ["22", "0", "0"], "{line}");
    assert_contains(&text, "22 runs over 22 dates");

    // Days 1 to 5 of a month include failures: the command says so and exits 1.
    let failing = [
        "--from",
        "2026-01-28",
        "--to",
        "2026-02-05",
        "--processors",
        "FaultyProcessor",
    ];
    let run = slate(&[&["backfill"][..], &failing].concat());
    assert!(!run.status.success());
    let errors = String::from_utf8_lossy(&run.stderr);
    assert_contains(
        &errors,
        "2026-02-02 FaultyProcessor failed: internal error: deliberate failure",
    );

    let bad = slate(&["backfill", "--from", "2026-01-10", "--to", "2026-01-01"]);
    assert_eq!(bad.status.code(), Some(2), "a usage error");
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--to 2026-01-01 is before --from 2026-01-10"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let store = EmbeddedStore::open_existing(&data.path().join("slate.db")).unwrap();
    assert_eq!(store.runs(&RunFilter::default()).unwrap().len(), 22 + 9);
}

/// A backfill ends by warning of the outdated runs it leaves in its
/// range: here one that read an upstream rerun after it (as a second
/// backfill over the same dates reruns it), which `--reprocess missing`
/// leaves alone. Before, the summary counted nothing amiss, and two
/// backfills at once left outdated rows without a word.
#[test]
fn a_backfill_warns_of_the_outdated_runs_it_leaves_in_its_range() {
    let dir = crate::support::demo_data_dir("2026-01-05", "2026-01-08");
    let slate = |args: &[&str]| crate::support::slate(dir.path(), args);
    assert_succeeded(&slate(&[
        "run",
        "--date",
        "2026-01-08",
        "--processors",
        "PlayerGameSummaryProcessor",
    ]));
    let backfill_the_8th = |reprocess: &str, more: &[&str]| {
        let mut args = vec![
            "backfill",
            "--from",
            "2026-01-08",
            "--to",
            "2026-01-08",
            "--processors",
            "PlayerDailyCacheProcessor",
            "--reprocess",
            reprocess,
        ];
        args.extend_from_slice(more);
        slate(&args)
    };
    let backfill = backfill_the_8th("missing", &[]);
    assert_succeeded(&backfill);
    let warning = crate::support::stderr(&backfill);
    assert_contains(
        &warning,
        "warning: 1 run in the range is outdated, e.g. PlayerDailyCacheProcessor 2026-01-08: \
         PlayerGameSummaryProcessor rewrote this date since (run ",
    );
    assert_contains(
        &warning,
        " backfill --from 2026-01-08 --to 2026-01-08 --processors \
         PlayerDailyCacheProcessor --reprocess outdated` reruns them",
    );
    assert_contains(&warning, "; `slate --data-dir ");
    // A dry run, where a rerun is planned, warns the same.
    let dry = crate::support::stderr(&backfill_the_8th("missing", &["--dry-run"]));
    assert_contains(&dry, "warning: 1 run in the range is outdated");
    let rerun = backfill_the_8th("outdated", &[]);
    assert_succeeded(&rerun);
    assert!(
        !crate::support::stderr(&rerun).contains("outdated, e.g."),
        "{}",
        crate::support::stderr(&rerun)
    );
}

/// Runs that failed because the store refused them (here a trigger refuses
/// every claim of PlayerDailyCacheProcessor, as a full disk would) are
/// named as the store's failures, with the backfill that runs them again:
/// a refused claim records nothing, so `--reprocess failed` would never
/// find it. Before, they were counted failed like any other, and
/// `--reprocess failed` then found nothing to do and exited 0.
#[test]
fn runs_the_store_refused_are_said_with_the_backfills_that_run_them_again() {
    let data = crate::support::demo_data_dir("2026-01-10", "2026-01-11");
    crate::support::refuse_in_run_history(
        data.path(),
        "INSERT",
        "NEW.processor = 'PlayerDailyCacheProcessor'",
        "simulated: database or disk is full",
    );

    let backfill = slate(
        data.path(),
        &[
            "backfill",
            "--from",
            "2026-01-10",
            "--to",
            "2026-01-11",
            "--processors",
            "PlayerDailyCacheProcessor",
            "--reprocess",
            "all",
        ],
    );

    assert_eq!(backfill.status.code(), Some(1), "{}", stderr(&backfill));
    assert_contains(
        &stderr(&backfill),
        &format!(
            "warning: 2 runs failed because the store did (store error: simulated: database or \
             disk is full), not their processors: `slate --data-dir {} backfill --from \
             2026-01-10 --to 2026-01-11 --processors PlayerDailyCacheProcessor --reprocess all` \
             runs them again",
            data.path().display()
        ),
    );
}
