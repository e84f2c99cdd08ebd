//! Run bookkeeping that never stalls the pipeline: leases, stale reaping,
//! exclusive claims, completeness decisions, phase completion and health.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use slate::backfill::{self, BackfillRequest, Reprocess};
use slate::completeness::{
    Gap, UpstreamStatus, covered_dates, decide_upstream, earliest_read, find_gaps, lookback_window,
    read_window,
};
use slate::demo::load_season;
use slate::demo::season::{Season, SeasonConfig};
use slate::executor::RunObserver;
use slate::liveness::LeaseConfig;
use slate::outdated::{self, Cause, Outdated};
use slate::phase::Phase;
use slate::pipeline::Pipeline;
use slate::plugin::spec::{Lookback, SeasonStart, UpstreamPolicy};
use slate::plugin::{Plugin, RunLimits};
use slate::rows::{Scalar, Value};
use slate::runs::{ErrorKind, NewRun, RunFilter, RunRecord, RunStatus, Trigger};
use slate::schema::{ColumnType, TableName};
use slate::store::{EmbeddedStore, RunLedger, Store, StoreError, Tables};
use slate::testing::samples::run_record;

use slate::alerts::event::EventKind;
use slate::alerts::record::AlertRecord;
use slate::store::InputSource;

use crate::support::{
    TestHost, assert_contains, assert_reaped_as_stale, assert_succeeded, components, date,
    failure_message, health_report, plugin_dir, run_plan, set_control, slate_with_plugins,
    start_run_in_background, stderr, wait_until,
};

fn control_table() -> TableName {
    TableName::new("slate_test", "slow_control")
}

/// Makes SlowProcessor spin on `day` (or not), through its control table.
pub fn set_spin(store: &dyn Store, day: NaiveDate, spin: bool) {
    let spinning: &[&[Scalar]] = &[&[Scalar::String("spin".into())]];
    set_control(
        store,
        &control_table(),
        day,
        &[("mode", ColumnType::String)],
        if spin { spinning } else { &[] },
    );
}

/// The alerts of `event` raised for `day`, open or resolved.
fn phase_alerts(store: &dyn Store, day: NaiveDate, event: EventKind) -> Vec<AlertRecord> {
    let outbox = store.alert_outbox().expect("the store keeps alerts");
    let alerts = outbox.alerts(false, 100).unwrap();
    alerts
        .into_iter()
        .filter(|a| a.raised.event == event && a.raised.data_date == Some(day))
        .collect()
}

/// The summaries of `alerts`, in order.
fn summaries_of(alerts: &[AlertRecord]) -> Vec<&str> {
    alerts
        .iter()
        .map(|alert| alert.raised.summary.as_str())
        .collect()
}

/// Ctrl-C on a command that runs processors stops the run in flight, which
/// ends `failed` with kind `shutdown`, starts no further run, and exits
/// 130, leaving no run `running`. Before, SIGINT killed `slate backfill`
/// on the spot: its run stayed `running` until a later command reaped it
/// as a dead host's, with an error alert.
#[test]
fn an_interrupted_command_ends_its_run_as_shutdown_starts_no_other_and_exits_130() {
    let commands: [&[&str]; 2] = [
        &[
            "run",
            "--date",
            "2026-01-11",
            "--processors",
            "SlowProcessor,AfterSlowProcessor",
        ],
        &[
            "backfill",
            "--from",
            "2026-01-11",
            "--to",
            "2026-01-12",
            "--processors",
            "SlowProcessor",
            "--reprocess",
            "all",
            "--parallelism",
            "1",
        ],
    ];
    for args in commands {
        let data = tempfile::tempdir().unwrap();
        let plugins = plugin_dir(&[components::SLOW_PROCESSOR, components::AFTER_SLOW_PROCESSOR]);
        let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
        for day in ["2026-01-11", "2026-01-12"] {
            set_spin(&store, date(day), true);
        }
        let output = interrupted_once_it_spins(
            slate_with_plugins(data.path(), plugins.path()).args(args),
            &store,
            date("2026-01-11"),
        );

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(130), "{args:?}: {stderr}");
        assert_contains(&stderr, "interrupted: no further run starts");
        if args[0] == "backfill" {
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert_contains(&stdout, "1 not run (interrupted)");
        }
        let stopped = runs_of(&store, "SlowProcessor", date("2026-01-11")).remove(0);
        assert_eq!(
            (stopped.status, stopped.error_kind),
            (RunStatus::Failed, Some(ErrorKind::Shutdown)),
            "{args:?}"
        );
        // Nothing after it was claimed: before, `slate run` recorded every
        // later processor of the date failed, kind shutdown.
        assert!(runs_of(&store, "SlowProcessor", date("2026-01-12")).is_empty());
        assert!(runs_of(&store, "AfterSlowProcessor", date("2026-01-11")).is_empty());
        assert!(crate::support::runs_still_running(&store).is_empty());
    }
}

/// Ctrl-C on a command whose run waits for an upstream another command
/// runs stops the wait: the run ends `failed`, kind `shutdown`, as the
/// command says. Before, the wait went on for up to a lease, and the run
/// then ended `blocked` behind the upstream still running.
#[test]
fn an_interrupted_command_stops_waiting_for_an_upstream_another_runs() {
    let data = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(&[components::SLOW_PROCESSOR, components::AFTER_SLOW_PROCESSOR]);
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let day = date("2026-01-11");
    set_spin(&store, day, true);
    let command = |processor: &str| {
        let mut command = slate_with_plugins(data.path(), plugins.path());
        command
            .args(["--lease-secs", "600", "--heartbeat-secs", "1"])
            .args(["run", "--date", "2026-01-11", "--processors", processor])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    };
    let upstream = command("SlowProcessor").spawn().unwrap();
    wait_until("SlowProcessor spins", || {
        runs_of(&store, "SlowProcessor", day)
            .first()
            .is_some_and(|r| r.status == RunStatus::Running)
    });
    let waiting = command("AfterSlowProcessor").spawn().unwrap();
    wait_until("AfterSlowProcessor waits for it", || {
        runs_of(&store, "AfterSlowProcessor", day)
            .first()
            .is_some_and(|r| r.status == RunStatus::Running)
    });
    // SAFETY: signals the children this test started, still unwaited.
    unsafe { libc::kill(waiting.id() as libc::pid_t, libc::SIGINT) };
    // Far less than the lease it would otherwise wait.
    let mut waiting = waiting;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while waiting.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "still waiting for the upstream two minutes after Ctrl-C"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = waiting.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let stopped = runs_of(&store, "AfterSlowProcessor", day).remove(0);
    assert_eq!(
        (stopped.status, stopped.error_kind),
        (RunStatus::Failed, Some(ErrorKind::Shutdown)),
        "{stopped:#?}"
    );
    assert_contains(
        stopped.error_message.as_deref().unwrap_or_default(),
        "its host shut down before it ran",
    );
    // The upstream never stopped: it was another command's.
    assert_eq!(
        runs_of(&store, "SlowProcessor", day)[0].status,
        RunStatus::Running
    );
    unsafe { libc::kill(upstream.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(
        upstream.wait_with_output().unwrap().status.code(),
        Some(130)
    );
}

/// A signal that comes while a command opens its store (here, waiting for
/// the lock another process holds) is kept: once the store opens, the
/// command starts no run, says it was interrupted and exits 130. Before,
/// the handler was installed only after the store had opened, and the
/// signal's default action killed the command.
#[test]
fn a_command_interrupted_while_its_store_opens_starts_no_run_and_exits_130() {
    let data = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(&[components::SLOW_PROCESSOR]);
    let store_file = data.path().join("slate.db");
    let store = EmbeddedStore::open(&store_file).unwrap();
    let holder = rusqlite::Connection::open(&store_file).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let child = slate_with_plugins(data.path(), plugins.path())
        .args(["backfill", "--from", "2026-01-11", "--to", "2026-01-12"])
        .args(["--processors", "SlowProcessor", "--reprocess", "all"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the command opens the store", || {
        holds_open(child.id(), &store_file)
    });
    // SAFETY: signals the child this test started, still unwaited.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    std::thread::sleep(Duration::from_millis(300));
    holder.execute_batch("ROLLBACK").unwrap();

    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(130),
        "{:?}: {stderr}",
        output.status
    );
    assert_contains(&stderr, "interrupted: no further run starts");
    let all_runs = store.runs(&RunFilter::default()).unwrap();
    assert!(all_runs.is_empty(), "{all_runs:#?}");
}

/// Whether process `pid` has `file` open.
fn holds_open(pid: u32, file: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    entries
        .flatten()
        .any(|entry| std::fs::read_link(entry.path()).is_ok_and(|target| target == file))
}

/// Runs `command`, and sends it SIGINT once SlowProcessor spins on `day`
/// in `store`: what the command then wrote and how it ended.
fn interrupted_once_it_spins(
    command: &mut std::process::Command,
    store: &dyn Store,
    day: NaiveDate,
) -> std::process::Output {
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("SlowProcessor spins", || {
        runs_of(store, "SlowProcessor", day)
            .first()
            .is_some_and(|r| r.status == RunStatus::Running)
    });
    // SAFETY: signals the child this test started, still unwaited.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    child.wait_with_output().unwrap()
}

/// An interrupted demo calls the run it stopped interrupted, not
/// UNEXPECTED, and says how far it got, not that it ran every date.
#[test]
fn an_interrupted_demo_says_how_far_it_got_and_blames_nothing() {
    let data = tempfile::tempdir().unwrap();
    crate::support::use_shared_compiled_cache(data.path());
    let plugins = plugin_dir(&[components::SLOW_PROCESSOR]);
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let day = date("2026-01-07");
    set_spin(&store, day, true);
    let output = interrupted_once_it_spins(
        slate_with_plugins(data.path(), plugins.path()).args([
            "demo",
            "--from",
            "2026-01-07",
            "--to",
            "2026-01-07",
        ]),
        &store,
        day,
    );

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(130), "{stdout}");
    assert_contains(&stdout, "(interrupted): 2026-01-07 SlowProcessor failed");
    assert_contains(&stdout, "interrupted after ");
    assert!(!stdout.contains("UNEXPECTED"), "{stdout}");
}

/// A phase's open `phase_incomplete` stays open while the processor that
/// failed runs again: the rerun may fail too. Once it succeeds, with no
/// processor of the phase failed, blocked or running, the alert is
/// resolved, though other processors of the phase are still to run.
/// Before, another processor's end resolved it while the rerun ran, and
/// the rerun's failure raised it anew.
#[test]
fn an_incomplete_phase_stays_so_while_its_failed_processor_runs_again() {
    use slate::alerts::phase::{NOTHING_STOPPED, record_phase_events};
    let host = TestHost::with(RunLimits::default(), LeaseConfig::default());
    let slow = host.fixture(components::SLOW_PROCESSOR);
    let summaries = host.bundled("player-game-summary");
    let pipeline = Pipeline::new(vec![slow, summaries]).unwrap();
    let store = host.store.as_ref();
    let day = date("2026-01-11");
    let claimed = || {
        store
            .start_run(&NewRun {
                processor: "SlowProcessor".into(),
                phase: Phase::Analytics,
                data_date: day,
                host_id: "elsewhere:1".into(),
                plugin_hash: "h".into(),
                trigger: Trigger::Cli,
                lease: Duration::from_secs(60),
            })
            .unwrap()
    };
    let end = |run: &RunRecord, status: RunStatus| {
        let end = slate::runs::RunEnd {
            status,
            error_kind: (status == RunStatus::Failed).then_some(ErrorKind::Plugin),
            message: "ended".into(),
            rows_read: 0,
            limit: None,
            usage: Default::default(),
            upstream_check: None,
        };
        store.end_run(&run.run_id, &end).unwrap();
    };
    let incomplete = || phase_alerts(store, day, EventKind::PhaseIncomplete);

    end(&claimed(), RunStatus::Failed);
    record_phase_events(store, &pipeline, day).unwrap();
    assert_eq!(incomplete()[0].resolved_at, None);
    let rerun = claimed();
    record_phase_events(store, &pipeline, day).unwrap();
    assert_eq!(
        incomplete()[0].resolved_at,
        None,
        "resolved while the rerun runs"
    );
    end(&rerun, RunStatus::Success);
    record_phase_events(store, &pipeline, day).unwrap();
    let alerts = incomplete();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].resolved_by.as_deref(), Some(NOTHING_STOPPED));
}

/// Records a run of `processor` on `day` by a host of another machine,
/// whose 1 ms lease has run out.
fn abandoned_run(store: &EmbeddedStore, processor: &str, phase: Phase, day: NaiveDate) {
    store
        .start_run(&NewRun {
            processor: processor.into(),
            phase,
            data_date: day,
            host_id: "another-machine:4242".into(),
            plugin_hash: "gone".into(),
            trigger: Trigger::Cli,
            lease: Duration::from_millis(1),
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
}

/// `slate reap` on `data` with only SlowProcessor loaded, which says it
/// reaped `how_many` ("1 stale run").
fn reap_loading_only_the_slow_processor(data: &Path, how_many: &str) {
    let plugins = plugin_dir(&[components::SLOW_PROCESSOR]);
    let reaped = slate_with_plugins(data, plugins.path())
        .arg("reap")
        .output()
        .unwrap();
    assert_succeeded(&reaped);
    assert_contains(
        &String::from_utf8_lossy(&reaped.stdout),
        &format!("{how_many} reaped"),
    );
}

/// A run reaped as stale failed, so its phase is incomplete on its date:
/// `slate reap` records `phase_incomplete`, as the end of a failed run
/// does. Before, only the reaped run's own alert said anything.
#[test]
fn slate_reap_records_the_reaped_runs_phase_incomplete() {
    let data = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let day = date("2026-01-11");
    abandoned_run(&store, "SlowProcessor", Phase::Analytics, day);

    reap_loading_only_the_slow_processor(data.path(), "1 stale run");

    let incomplete = phase_alerts(&store, day, EventKind::PhaseIncomplete);
    assert_eq!(incomplete.len(), 1, "{incomplete:#?}");
    assert_eq!(
        incomplete[0].raised.summary,
        "2026-01-11: phase 3 analytics incomplete: SlowProcessor failed"
    );
    assert_eq!(incomplete[0].resolved_at, None);
}

/// A run reaped by a command that does not load its processor (another
/// host's, from its plugin folder) leaves its phase incomplete too: the
/// phase its record keeps says which. Its shadow's run belongs to no
/// phase. Before, the reap said nothing of the phase.
#[test]
fn slate_reap_records_the_phase_incomplete_of_a_processor_it_does_not_load() {
    let data = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let day = date("2026-01-11");
    for processor in ["ElsewhereProcessor", "ElsewhereProcessor~shadow"] {
        abandoned_run(&store, processor, Phase::Precompute, day);
    }
    // The phase is incomplete already, by a third host's failure.
    let third_host = slate::pipeline::PhaseCompletion {
        phase: Phase::Precompute,
        complete: false,
        processors: vec![("FailedElsewhere".into(), Some(RunStatus::Failed))],
        rows: 0,
    };
    let raised = slate::alerts::phase::phase_event(&third_host, day).unwrap();
    store.alert_outbox().unwrap().record_alert(&raised).unwrap();

    reap_loading_only_the_slow_processor(data.path(), "2 stale runs");

    // One alert, naming both: the reap's repeat of it keeps the processor
    // it named before. Before, the repeat's detail named the reaped one
    // alone, and a host without FailedElsewhere then called the phase
    // complete over its failure.
    let incomplete = phase_alerts(&store, day, EventKind::PhaseIncomplete);
    assert_eq!(
        summaries_of(&incomplete),
        [
            "2026-01-11: phase 4 precompute incomplete: FailedElsewhere failed, ElsewhereProcessor \
          failed"
        ]
    );
    assert_eq!(incomplete[0].raised.detail["phase"], 4);
}

/// The `phase_incomplete` a reap of another host's run raised stays open
/// while this host's own processors of the phase succeed on the date, and
/// `slate run` calls the phase incomplete, naming that processor: the
/// failure stands until that processor's rows are committed, which then
/// completes the phase. Before, the next run of the date here said "phase
/// completed" and resolved the alert over the failure.
#[test]
fn a_phase_another_hosts_processor_left_incomplete_stays_so_until_that_processor_succeeds() {
    use slate::store::RunOutput;
    // Every bundled processor succeeded on the day.
    let data = crate::support::demo_data_dir("2026-01-07", "2026-01-07");
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let day = date("2026-01-07");
    abandoned_run(&store, "ElsewhereProcessor", Phase::Analytics, day);
    assert_succeeded(&crate::support::slate(data.path(), &["reap"]));
    let rerun_a_summary = || {
        let ran = crate::support::slate(
            data.path(),
            &[
                "run",
                "--date",
                "2026-01-07",
                "--processors",
                "TeamDefenseGameSummaryProcessor",
            ],
        );
        assert_succeeded(&ran);
        String::from_utf8_lossy(&ran.stdout).into_owned()
    };
    let the_alert = || {
        let alerts = phase_alerts(&store, day, EventKind::PhaseIncomplete);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        alerts.into_iter().next().unwrap()
    };

    let said = rerun_a_summary();

    assert_contains(&said, "phase 3 analytics for 2026-01-07: incomplete (");
    assert_contains(&said, ", ElsewhereProcessor failed)");
    assert_eq!(the_alert().resolved_at, None);

    // ElsewhereProcessor's host runs it again and commits its rows.
    let rerun = store
        .start_run(&NewRun {
            processor: "ElsewhereProcessor".into(),
            phase: Phase::Analytics,
            data_date: day,
            host_id: "another-machine:4243".into(),
            plugin_hash: "h".into(),
            trigger: Trigger::Cli,
            lease: Duration::from_secs(600),
        })
        .unwrap();
    let (table, schema) = (
        TableName::new("slate_test", "elsewhere"),
        crate::support::player_points_schema(slate::schema::ColumnMode::Required),
    );
    let rows = crate::support::player_points_rows(day, [("a".to_string(), 1)]);
    store
        .commit_run(
            &rerun.run_id,
            &RunOutput::new("ElsewhereProcessor", &table, &schema, day, &rows),
        )
        .unwrap();

    let said = rerun_a_summary();

    assert_contains(&said, "phase 3 analytics for 2026-01-07: complete (");
    assert_eq!(the_alert().resolved_by.as_deref(), Some("phase completed"));
}

/// A run that a command's lease keeper reaps while the command runs
/// leaves its phase incomplete too, as one reaped at the command's start
/// does. Before, only the start's reaps were judged: the phase of a run
/// found stale during a long backfill went unsaid for good.
#[test]
fn a_command_records_the_phase_incomplete_of_a_run_it_reaps_while_it_runs() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("slate.toml"),
        "[limits.processors.SlowProcessor]\ncpu_secs = 3\n",
    )
    .unwrap();
    let plugins = plugin_dir(&[components::SLOW_PROCESSOR]);
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let (spinning, elsewhere) = (date("2026-01-11"), date("2026-01-12"));
    set_spin(&store, spinning, true);
    let command = slate_with_plugins(data.path(), plugins.path())
        .args(["--heartbeat-secs", "0.2", "run", "--date", "2026-01-11"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("SlowProcessor spins", || {
        runs_of(&store, "SlowProcessor", spinning)
            .first()
            .is_some_and(|r| r.status == RunStatus::Running)
    });
    // Only now, so that the command's start cannot be what reaps it.
    abandoned_run(&store, "ElsewhereProcessor", Phase::Precompute, elsewhere);

    let output = command.wait_with_output().unwrap();

    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let reaped = runs_of(&store, "ElsewhereProcessor", elsewhere).remove(0);
    assert_eq!(reaped.error_kind, Some(ErrorKind::Stale), "{reaped:#?}");
    let incomplete = phase_alerts(&store, elsewhere, EventKind::PhaseIncomplete);
    assert_eq!(
        summaries_of(&incomplete),
        ["2026-01-12: phase 4 precompute incomplete: ElsewhereProcessor failed"]
    );
}

/// A store file made before run history kept phases gains the column
/// when it is opened: its runs read back with no phase, new ones with
/// theirs.
#[test]
fn a_store_made_before_runs_kept_their_phase_gains_it_when_opened() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("slate.db");
    let claim = |store: &EmbeddedStore, day: &str| {
        store
            .start_run(&NewRun {
                processor: "SlowProcessor".into(),
                phase: Phase::Analytics,
                data_date: date(day),
                host_id: "this-machine:1".into(),
                plugin_hash: "h".into(),
                trigger: Trigger::Cli,
                lease: Duration::from_secs(600),
            })
            .unwrap()
    };
    let old = claim(&EmbeddedStore::open(&path).unwrap(), "2026-01-10");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("ALTER TABLE _slate_runs DROP COLUMN phase")
        .unwrap();

    let store = EmbeddedStore::open(&path).unwrap();

    assert_eq!(store.run(&old.run_id).unwrap().unwrap().phase, None);
    let new = claim(&store, "2026-01-11");
    assert_eq!(
        store.run(&new.run_id).unwrap().unwrap().phase,
        Some(Phase::Analytics)
    );
}

fn runs_of(store: &dyn Store, processor: &str, day: NaiveDate) -> Vec<RunRecord> {
    store
        .runs(&RunFilter {
            date: Some(day),
            processor: Some(processor.into()),
            ..RunFilter::default()
        })
        .unwrap()
}

/// A server reaps, within a heartbeat, the run of a command on the same
/// machine that was killed: its pid is gone, so its lease need not be
/// waited out. Before, only a process's start judged that, and `GET
/// /runs` listed the run as `running` for a whole lease (here ten
/// minutes) while `slate runs` called it stale.
#[test]
fn a_server_reaps_the_run_of_a_command_killed_on_its_machine_within_a_heartbeat() {
    let data = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(&[components::SLOW_PROCESSOR]);
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let day = date("2026-01-11");
    set_spin(&store, day, true);
    let server = crate::serve_process::Server::start(
        data.path(),
        &[
            "--plugin-dir",
            plugins.path().to_str().unwrap(),
            "--heartbeat-secs",
            "0.2",
        ],
    );
    let slate = |args: &[&str]| {
        let mut command = slate_with_plugins(data.path(), plugins.path());
        command
            .args(["--heartbeat-secs", "1", "--lease-secs", "600"])
            .args(args);
        command
    };
    let mut child = start_run_in_background(slate, "2026-01-11", "SlowProcessor");
    wait_until("the command's run spins", || {
        runs_of(&store, "SlowProcessor", day)
            .first()
            .is_some_and(|r| r.status == RunStatus::Running)
    });
    child.kill().unwrap();
    child.wait().unwrap();

    wait_until("the server has reaped it", || {
        runs_of(&store, "SlowProcessor", day)[0].status == RunStatus::Failed
    });
    let reaped = runs_of(&store, "SlowProcessor", day).remove(0);
    assert_eq!(reaped.error_kind, Some(ErrorKind::Stale), "{reaped:#?}");
    let (status, running) = server.get("/runs?status=running");
    assert_eq!(status, 200);
    assert_eq!(running, serde_json::json!([]), "{running}");
    assert!(server.terminate().success());
}

#[test]
fn a_killed_run_is_reaped_at_the_next_host_start_and_the_date_runs_again() {
    let data = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(&[components::SLOW_PROCESSOR, components::AFTER_SLOW_PROCESSOR]);
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let day = date("2026-01-11");
    set_spin(&store, day, true);
    let slate = |args: &[&str]| {
        let mut command = slate_with_plugins(data.path(), plugins.path());
        command
            .args(["--heartbeat-secs", "0.1", "--lease-secs", "60"])
            .args(args);
        command
    };

    // A host starts the run, renews its lease, and is killed mid-run.
    let mut child =
        start_run_in_background(slate, "2026-01-11", "SlowProcessor,AfterSlowProcessor");
    wait_until("the run has renewed its lease", || {
        runs_of(&store, "SlowProcessor", day)
            .first()
            .is_some_and(|r| r.status == RunStatus::Running && r.heartbeat_at > r.started_at)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = runs_of(&store, "SlowProcessor", day).remove(0);
    assert_eq!(
        killed.status,
        RunStatus::Running,
        "nobody has reaped it yet"
    );

    // A new host on the same machine knows its previous incarnation is gone:
    // it reaps the run at start, long before the 60 s lease would expire.
    set_spin(&store, day, false);
    let started = Instant::now();
    let rerun = slate(&[
        "run",
        "--date",
        "2026-01-11",
        "--processors",
        "SlowProcessor,AfterSlowProcessor",
    ])
    .output()
    .unwrap();
    assert_succeeded(&rerun);
    assert!(started.elapsed() < Duration::from_secs(60));

    let reaped = store.run(&killed.run_id).unwrap().unwrap();
    assert_eq!(reaped.status, RunStatus::Failed);
    assert_eq!(reaped.error_kind, Some(ErrorKind::Stale));
    let reason = reaped.reason.unwrap();
    assert!(
        reason.starts_with(&format!("host {} stopped renewing at ", killed.host_id)),
        "{reason}"
    );
    let latest = runs_of(&store, "SlowProcessor", day).remove(0);
    assert_eq!((latest.status, latest.attempt), (RunStatus::Success, 2));
    // The reap failed the run, so its phase was incomplete on the date
    // until the rerun succeeded (the bundled processors of the phase, not
    // run here, leave it short of complete, but none failed any more).
    let incomplete = phase_alerts(&store, day, EventKind::PhaseIncomplete);
    assert_eq!(incomplete.len(), 1, "{incomplete:#?}");
    assert_contains(&incomplete[0].raised.summary, "SlowProcessor failed");
    assert_eq!(
        incomplete[0].resolved_by.as_deref(),
        Some(slate::alerts::phase::NOTHING_STOPPED)
    );
    let downstream = runs_of(&store, "AfterSlowProcessor", day);
    assert_eq!(downstream.len(), 1);
    assert_eq!(
        downstream[0].status,
        RunStatus::Success,
        "not blocked once the upstream succeeded"
    );
    // Neither duplicate nor partial rows.
    assert_eq!(
        store
            .rows_on(&TableName::new("slate_test", "slow"), day)
            .unwrap(),
        3
    );
    let after = store
        .read_rows(&TableName::new("slate_test", "after_slow"), day, day)
        .unwrap();
    assert_eq!(after.rows[0][1], Value::Scalar(Scalar::Int64(3)));
}

/// A container restarted keeps its hostname and pid, so the new process
/// has the id the old one ran under. The runs recorded under that id
/// before the new process started are the old process's: they are reaped
/// when it starts, not left `running` for a whole lease; its own runs,
/// started since, are not.
#[test]
fn a_process_reaps_at_start_the_runs_an_earlier_process_with_its_id_left() {
    let store = EmbeddedStore::in_memory().unwrap();
    let me = format!("container:{}", std::process::id());
    let claim = |processor: &str| {
        store
            .start_run(&NewRun {
                processor: processor.into(),
                phase: Phase::Precompute,
                data_date: date("2026-01-11"),
                host_id: me.clone(),
                plugin_hash: "hash".into(),
                trigger: Trigger::Cli,
                lease: Duration::from_secs(3600),
            })
            .unwrap()
    };
    let left_before = claim("EarlierProcessor");
    let started = Utc::now();
    let own = claim("OwnProcessor");

    let reaped = slate::liveness::reap_on_start(&store, &me, started, Utc::now()).unwrap();
    let ids: Vec<&str> = reaped.runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, [left_before.run_id.as_str()], "{reaped:#?}");
    assert_eq!(
        store.run(&own.run_id).unwrap().unwrap().status,
        RunStatus::Running,
        "its own run keeps running"
    );
    let reaped = store.run(&left_before.run_id).unwrap().unwrap();
    assert_eq!(reaped.error_kind, Some(ErrorKind::Stale));
}

#[test]
fn a_stale_run_of_another_host_is_reaped_once_after_its_lease_expires() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("slate.db");
    let store = EmbeddedStore::open(&path).unwrap();
    let run = store
        .start_run(&NewRun {
            processor: "SlowProcessor".into(),
            phase: Phase::Analytics,
            data_date: date("2026-01-11"),
            host_id: "elsewhere:1".into(),
            plugin_hash: "h".into(),
            trigger: Trigger::Http,
            lease: Duration::from_millis(100),
        })
        .unwrap();
    assert!(
        store.reap_stale(Utc::now()).unwrap().is_empty(),
        "the lease is live"
    );
    // As of a second later, past the 100 ms lease: no sleeping.
    let later = Utc::now() + chrono::TimeDelta::seconds(1);

    let stale = store
        .runs(&RunFilter {
            stale_as_of: Some(later),
            ..RunFilter::default()
        })
        .unwrap();
    assert_eq!(
        stale.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        [run.run_id.as_str()]
    );

    // Two hosts reap at once, on their own connections: the run is reaped exactly once.
    let second = Arc::new(EmbeddedStore::open(&path).unwrap());
    let first = Arc::new(store);
    let barrier = Arc::new(Barrier::new(2));
    let reapers: Vec<_> = [first.clone(), second]
        .into_iter()
        .map(|store| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                store.reap_stale(later).unwrap().len()
            })
        })
        .collect();
    let reaped: usize = reapers.into_iter().map(|r| r.join().unwrap()).sum();
    assert_eq!(reaped, 1);
    assert_reaped_as_stale(
        &first.run(&run.run_id).unwrap().unwrap(),
        "elsewhere:1",
        run.heartbeat_at,
    );
    assert!(
        first.reap_stale(Utc::now()).unwrap().is_empty(),
        "reaping is idempotent"
    );
}

#[test]
fn a_live_run_keeps_its_lease_by_heartbeat() {
    let leases = LeaseConfig {
        heartbeat: Duration::from_millis(50),
        lease: Duration::from_millis(300),
        ..LeaseConfig::default()
    };
    let limits = RunLimits {
        cpu_time: Duration::from_millis(1500),
        ..RunLimits::default()
    };
    let host = TestHost::with(limits, leases);
    let slow = host.fixture(components::SLOW_PROCESSOR);
    let day = date("2026-01-11");
    set_spin(host.store.as_ref(), day, true);
    // The run lasts five leases; heartbeats keep it from being reaped.
    let record = host.run(&slow, day);
    // Without renewals it would have been reaped as stale after 300 ms (and
    // `run` would panic on the lost claim); instead it reached its CPU limit.
    assert_eq!(
        (record.status, record.error_kind),
        (RunStatus::Failed, Some(ErrorKind::LimitTime)),
        "{record:?}"
    );
    assert!(
        record.duration_ms.unwrap() >= 1500,
        "it outlived five leases: {record:?}"
    );
}

#[test]
fn two_concurrent_triggers_run_once_and_the_other_is_refused() {
    let host = TestHost::with_cpu_limit(Duration::from_secs(2));
    let slow = host.fixture(components::SLOW_PROCESSOR);
    let day = date("2026-01-11");
    set_spin(host.store.as_ref(), day, true);
    let barrier = Barrier::new(2);
    let outcomes: Vec<Result<RunRecord, StoreError>> = std::thread::scope(|scope| {
        let triggers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    host.executor.execute(&slow, day, Trigger::Http)
                })
            })
            .collect();
        triggers.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let ran: Vec<&RunRecord> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    let refused: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().err())
        .map(ToString::to_string)
        .collect();
    assert_eq!(ran.len(), 1, "{outcomes:?}");
    assert_eq!(refused.len(), 1, "{outcomes:?}");
    assert!(
        refused[0].starts_with(&format!("already running (run {}, started ", ran[0].run_id)),
        "{}",
        refused[0]
    );
    assert_eq!(ran[0].error_kind, Some(ErrorKind::LimitTime));
}

/// Leases of runs that may run 200 ms, heartbeating every 50 ms.
/// An observer with a bug: it panics when told that a run started.
struct PanicsWhenARunStarts;

impl RunObserver for PanicsWhenARunStarts {
    fn run_started(&self, _record: &RunRecord) {
        panic!("a bug in an observer");
    }

    fn run_ended(&self, _record: &RunRecord, _instantiation: Option<Duration>) {}
}

#[test]
fn a_panic_in_the_host_ends_every_run_it_held_as_failed_at_once() {
    let host = TestHost::empty();
    let plugin = host.bundled("player-game-summary");
    let faulty = host
        .executor
        .clone()
        .with_observer(Arc::new(PanicsWhenARunStarts));
    let days = [date("2026-01-11"), date("2026-01-12")];

    let claiming =
        std::panic::AssertUnwindSafe(|| faulty.claim_dates(&plugin, &days, Trigger::Cli));
    assert!(std::panic::catch_unwind(claiming).is_err());

    for day in days {
        let runs = runs_of(host.store.as_ref(), "PlayerGameSummaryProcessor", day);
        assert_eq!(runs.len(), 1);
        assert_eq!(
            (
                runs[0].status,
                runs[0].error_kind,
                runs[0].reason.as_deref()
            ),
            (
                RunStatus::Failed,
                Some(ErrorKind::Host),
                Some(slate::executor::HOST_PANIC_MESSAGE)
            ),
            "not left running until its lease expires"
        );
    }
    // Nothing waits for a lease to run the date again.
    let again = host.executor.claim(&plugin, days[0], Trigger::Cli).unwrap();
    assert_eq!(again.record().attempt, 2);
}

fn a_max_runtime_of_200ms() -> LeaseConfig {
    a_max_runtime_of_200ms_and_a_heartbeat_of(Duration::from_millis(50))
}

fn a_max_runtime_of_200ms_and_a_heartbeat_of(heartbeat: Duration) -> LeaseConfig {
    LeaseConfig {
        heartbeat,
        max_runtime: Duration::from_millis(200),
        ..LeaseConfig::default()
    }
}

/// A host whose runs may run 200 ms, with SlowProcessor, spinning or not
/// on the day it is handed.
fn host_with_a_max_runtime_of_200ms(spin: bool) -> (TestHost, Plugin, NaiveDate) {
    host_with_leases(spin, a_max_runtime_of_200ms())
}

/// A host keeping `leases`, with SlowProcessor, spinning or not on the
/// day it is handed.
fn host_with_leases(spin: bool, leases: LeaseConfig) -> (TestHost, Plugin, NaiveDate) {
    let host = TestHost::with(RunLimits::default(), leases);
    let slow = host.fixture(components::SLOW_PROCESSOR);
    let day = date("2026-01-11");
    set_spin(host.store.as_ref(), day, spin);
    (host, slow, day)
}

#[test]
fn a_run_past_its_max_runtime_is_flagged_and_cancelled() {
    let (host, slow, day) = host_with_a_max_runtime_of_200ms(true);
    let record = host.run(&slow, day);
    // The flag set while it ran stays in its history.
    assert_eq!(
        record.flag.as_deref(),
        Some("still running after the max runtime of 200ms; cancelling")
    );
    assert_eq!(record.status, RunStatus::Failed);
    assert_eq!(record.error_kind, Some(ErrorKind::LimitTime));
    assert_eq!(
        record.error_message.as_deref(),
        Some("cancelled by the host: the run exceeded its max runtime")
    );
}

/// A max runtime shorter than the heartbeat is kept: the run is cancelled
/// at it, not at the next heartbeat. Before, the keeper looked only at
/// each heartbeat, so `--max-runtime-secs 3` stopped a run at 10 s.
#[test]
fn a_max_runtime_shorter_than_the_heartbeat_is_kept() {
    let leases = a_max_runtime_of_200ms_and_a_heartbeat_of(Duration::from_secs(5));
    let (host, slow, day) = host_with_leases(true, leases);

    let record = host.run(&slow, day);

    assert_eq!(
        (record.status, record.error_kind),
        (RunStatus::Failed, Some(ErrorKind::LimitTime))
    );
    let ran = record.duration_ms.unwrap();
    assert!(
        ran < 4_000,
        "cancelled after {ran} ms, not near the 200 ms max runtime"
    );
}

/// A run asleep in a host call, where epoch interruption cannot reach it,
/// is still cancelled past the max runtime: its wait ends at the cancel.
/// Before, it slept on, flagged, until its wall-clock limit (here two
/// hours), and a server's shutdown waited on it as long.
#[test]
fn a_run_asleep_in_a_host_call_is_cancelled_past_its_max_runtime() {
    let limits = RunLimits {
        wall_time: Duration::from_secs(7200),
        ..RunLimits::default()
    };
    let host = TestHost::with(limits, a_max_runtime_of_200ms());
    let sleeper = host.fixture(components::HOSTILE_SLEEP);
    let (ended, record) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = ended.send(host.run(&sleeper, date("2026-01-11")));
    });
    let record = record
        .recv_timeout(Duration::from_secs(60))
        .expect("the sleeping run ends within a minute of its max runtime");
    assert_eq!(
        (record.status, record.error_kind),
        (RunStatus::Failed, Some(ErrorKind::LimitTime)),
        "{record:#?}"
    );
    assert_eq!(
        record.error_message.as_deref(),
        Some("cancelled by the host: the run exceeded its max runtime")
    );
}

/// The max runtime counts from when a run begins executing, not from its
/// claim: a run queued for a worker (behind a backfill on a full pool)
/// longer than the max runtime still runs, unflagged. Before, the clock
/// ran from the claim, and such runs failed `limit_time` without running.
#[test]
fn the_max_runtime_counts_from_when_a_run_executes_not_from_its_claim() {
    let (host, slow, day) = host_with_a_max_runtime_of_200ms(false);
    let claim = host
        .executor
        .claim(&slow, day, Trigger::Cli)
        .expect("the run can be claimed");
    // Queued for six heartbeats past the max runtime.
    std::thread::sleep(Duration::from_millis(500));
    let record = host.executor.execute_claim(claim, None).unwrap();
    assert_eq!(record.status, RunStatus::Success, "{record:?}");
    assert_eq!(record.flag, None);
}

fn record(status: RunStatus, lease_from_now: chrono::Duration) -> RunRecord {
    let now = Utc::now();
    RunRecord {
        run_id: "r1".into(),
        started_at: now - chrono::Duration::minutes(5),
        heartbeat_at: now - chrono::Duration::minutes(1),
        lease_expires_at: now + lease_from_now,
        finished_at: (status != RunStatus::Running).then_some(now),
        host_id: "h:1".into(),
        ..run_record("Up", date("2026-01-11"), status)
    }
}

/// One row of the completeness decision table.
struct Case {
    latest: Option<RunRecord>,
    rows_present: u64,
    policy: UpstreamPolicy,
    status: UpstreamStatus,
    safe: bool,
    reason: &'static str,
}

#[test]
fn completeness_decisions_cover_every_upstream_state() {
    use RunStatus::{Blocked, Failed, Running, Success};
    use UpstreamPolicy::{Block, ProceedIfDataPresent as Proceed};
    use UpstreamStatus as S;
    let live = chrono::Duration::seconds(30);
    let expired = chrono::Duration::seconds(-30);
    let case = |latest: Option<RunRecord>, rows_present, policy, status, safe, reason| Case {
        latest,
        rows_present,
        policy,
        status,
        safe,
        reason,
    };
    let cases = [
        case(
            None,
            0,
            Proceed,
            S::Missing,
            false,
            "has no run for 2026-01-11",
        ),
        case(
            Some(record(Success, live)),
            10,
            Block,
            S::Success,
            true,
            "is success",
        ),
        case(
            Some(record(Success, live)),
            0,
            Block,
            S::Success,
            true,
            "is success",
        ),
        case(
            Some(record(Running, live)),
            0,
            Proceed,
            S::Running,
            false,
            "is running",
        ),
        case(
            Some(record(Running, live)),
            10,
            Proceed,
            S::Running,
            false,
            "started",
        ),
        case(
            Some(record(Running, expired)),
            10,
            Proceed,
            S::StaleRunning,
            true,
            "rows for 2026-01-11 are present",
        ),
        case(
            Some(record(Running, expired)),
            0,
            Proceed,
            S::StaleRunning,
            false,
            "has no rows for 2026-01-11",
        ),
        case(
            Some(record(Running, expired)),
            10,
            Block,
            S::StaleRunning,
            false,
            "policy is block",
        ),
        case(
            Some(record(Failed, live)),
            10,
            Proceed,
            S::Failed,
            true,
            "are present",
        ),
        case(
            Some(record(Failed, live)),
            0,
            Proceed,
            S::Failed,
            false,
            "has no rows",
        ),
        case(
            Some(record(Failed, live)),
            10,
            Block,
            S::Failed,
            false,
            "policy is block",
        ),
        case(
            Some(record(Blocked, live)),
            0,
            Proceed,
            S::Failed,
            false,
            "has no rows",
        ),
    ];
    for (i, c) in cases.iter().enumerate() {
        let decision = decide_upstream(
            "Up",
            date("2026-01-11"),
            c.latest.as_ref(),
            c.rows_present,
            c.policy,
            Utc::now(),
        );
        assert_eq!(decision.status, c.status, "case {i}: {decision:?}");
        assert_eq!(decision.safe_to_process, c.safe, "case {i}: {decision:?}");
        assert!(
            decision.reason.contains(c.reason),
            "case {i}: {}",
            decision.reason
        );
        assert!(
            decision.reason.contains("upstream Up"),
            "case {i}: the reason names the upstream"
        );
        assert_eq!(
            decision.age_seconds.is_some(),
            c.latest.is_some(),
            "case {i}: age needs a run"
        );
    }
}

/// Five game dates in January 2026: the 5th, 6th, 8th, 9th and 11th.
fn game_dates_around_the_11th() -> BTreeSet<NaiveDate> {
    [
        "2026-01-05",
        "2026-01-06",
        "2026-01-08",
        "2026-01-09",
        "2026-01-11",
    ]
    .map(date)
    .into()
}

#[test]
fn lookback_gaps_are_scheduled_dates_without_upstream_rows_date_by_date() {
    let scheduled = game_dates_around_the_11th();
    let day = date("2026-01-11");
    // The last three game dates before the 11th; the 7th and 10th had no games.
    assert_eq!(
        lookback_window(Lookback::Games(3), day, &scheduled),
        ["2026-01-06", "2026-01-08", "2026-01-09"].map(date)
    );
    assert_eq!(
        lookback_window(Lookback::Days(4), day, &scheduled),
        ["2026-01-08", "2026-01-09"].map(date)
    );
    assert!(lookback_window(Lookback::None, day, &scheduled).is_empty());
    // A lookback past the calendar's start is every date before: it
    // panicked, with every run of the date claimed and left running.
    assert_eq!(
        lookback_window(Lookback::Days(u32::MAX), day, &scheduled).len(),
        4
    );
    assert!(
        lookback_window(Lookback::Games(3), date("2026-01-05"), &scheduled).is_empty(),
        "nothing before the first game"
    );
    // The season to date: every game date from the season's start, here
    // the 6th of January, on; none of the season before.
    let season = Lookback::SeasonToDate(SeasonStart { month: 1, day: 6 });
    assert_eq!(
        lookback_window(season, day, &scheduled),
        ["2026-01-06", "2026-01-08", "2026-01-09"].map(date)
    );
    assert!(lookback_window(season, date("2026-01-06"), &scheduled).is_empty());

    let window = lookback_window(Lookback::Games(10), day, &scheduled);
    let with_rows: BTreeSet<NaiveDate> =
        ["2026-01-05", "2026-01-08", "2026-01-09"].map(date).into();
    assert_eq!(
        find_gaps(&window, "Up", &with_rows),
        [Gap {
            date: date("2026-01-06"),
            upstream: "Up".into()
        }]
    );
    let everything: BTreeSet<NaiveDate> = scheduled.clone();
    assert!(find_gaps(&window, "Up", &everything).is_empty());
}

#[test]
fn a_read_of_an_upstream_may_start_no_earlier_than_its_lookback_window() {
    let scheduled = game_dates_around_the_11th();
    let day = date("2026-01-11");
    // No lookback: the analysis date alone.
    assert_eq!(earliest_read(Lookback::None, day, &scheduled), Some(day));
    assert_eq!(
        earliest_read(Lookback::Days(4), day, &scheduled),
        Some(date("2026-01-07"))
    );
    // The last three game dates are the 6th, 8th and 9th: a read may
    // start on the 6th, or on any day after the game date before it.
    assert_eq!(
        earliest_read(Lookback::Games(3), day, &scheduled),
        Some(date("2026-01-06"))
    );
    assert_eq!(
        earliest_read(Lookback::Games(2), day, &scheduled),
        Some(date("2026-01-07"))
    );
    // Ten game dates reach past the calendar's first: any day will do,
    // as will any day for a lookback past the first representable one.
    assert_eq!(earliest_read(Lookback::Games(10), day, &scheduled), None);
    assert_eq!(earliest_read(Lookback::Games(4), day, &scheduled), None);
    assert_eq!(
        earliest_read(Lookback::Days(u32::MAX), day, &scheduled),
        None
    );
    let season = Lookback::SeasonToDate(SeasonStart { month: 10, day: 1 });
    assert_eq!(
        earliest_read(season, day, &scheduled),
        Some(date("2025-10-01"))
    );
}

#[test]
fn a_runs_window_bounds_each_upstream_by_its_own_lookback_and_no_raw_input() {
    let host = TestHost::empty();
    let composite = host.bundled("player-composite-factors");
    let pipeline = host.whole_pipeline();
    let output_of = |name: &str| {
        pipeline
            .plugin(name)
            .map(|plugin| plugin.spec.output_table.clone())
    };
    let day = date("2026-01-11");
    let window = read_window(&composite.spec, day, output_of, &BTreeSet::new());
    let from = |table: &str| window.floor_of(table).map(|floor| floor.from);
    // Read over the season: from its first day.
    assert_eq!(
        from("nba_analytics.player_game_summary"),
        Some(date("2025-10-01"))
    );
    // Read on the analysis date alone.
    assert_eq!(from("nba_precompute.player_shot_zone_analysis"), Some(day));
    // The schedule is a raw input, not an upstream's output: no floor.
    assert_eq!(from("nba_raw.schedule"), None);
    let floor = window.floor_of("nba_precompute.team_defense_zone_analysis");
    assert_eq!(
        floor.map(|floor| (floor.upstream.as_str(), floor.lookback.as_str())),
        Some(("TeamDefenseZoneAnalysisProcessor", "none"))
    );
}

#[test]
fn a_date_whose_latest_upstream_run_succeeded_with_no_rows_is_covered() {
    let with_rows: BTreeSet<NaiveDate> = ["2026-01-08"].map(date).into();
    let run = |day: &str, status: RunStatus| {
        let mut record = record(status, chrono::Duration::minutes(1));
        record.data_date = date(day);
        record
    };
    // Newest first: the 5th succeeded empty; the 6th failed after an
    // empty success, so its latest run did not succeed.
    let history = [
        run("2026-01-06", RunStatus::Failed),
        run("2026-01-06", RunStatus::Success),
        run("2026-01-05", RunStatus::Success),
    ];
    assert_eq!(
        covered_dates(with_rows, &history),
        ["2026-01-05", "2026-01-08"].map(date).into()
    );
}

#[test]
fn opening_night_is_no_lookback_gap_for_anyone_downstream() {
    let host = TestHost::with_demo_season();
    let pipeline = host.whole_pipeline();
    let all = pipeline.select(&[]).unwrap();
    let dates: Vec<NaiveDate> = crate::support::season()
        .game_dates()
        .into_iter()
        .take(5)
        .collect();
    assert_eq!(dates[0], date("2025-10-21"), "opening night");
    for day in &dates {
        pipeline
            .run_date(&host.executor, *day, &all, Trigger::Backfill)
            .unwrap();
    }
    for name in pipeline.order() {
        let table = &pipeline.plugin(name).unwrap().spec.output_table;
        for day in &dates {
            let rows = host.rows(table, *day);
            let Some(issues) = rows.columns.iter().position(|c| c == "data_quality_issues") else {
                continue;
            };
            for row in &rows.rows {
                let text = format!("{:?}", row[issues]);
                assert!(!text.contains("lookback gap"), "{table} on {day}: {text}");
            }
        }
    }
}

/// The demo season with PlayerGameSummary and PlayerDailyCache run on
/// 2026-01-05, 01-06 (the planted missing box scores) and 01-07.
fn around_the_missing_date() -> (TestHost, Pipeline) {
    let host = TestHost::with_demo_season();
    let pipeline = host.bundled_pipeline(&["player-game-summary", "player-daily-cache"]);
    let all = pipeline.select(&[]).unwrap();
    for day in ["2026-01-05", "2026-01-06", "2026-01-07"] {
        pipeline
            .run_date(&host.executor, date(day), &all, Trigger::Backfill)
            .unwrap();
    }
    (host, pipeline)
}

#[test]
fn a_missing_date_blocks_its_downstream_and_is_flagged_in_later_lookbacks() {
    let (host, pipeline) = around_the_missing_date();
    let missing = date("2026-01-06");
    let summary = runs_of(host.store.as_ref(), "PlayerGameSummaryProcessor", missing).remove(0);
    assert_eq!(summary.status, RunStatus::Failed);
    let cache = runs_of(host.store.as_ref(), "PlayerDailyCacheProcessor", missing).remove(0);
    assert_eq!(
        (cache.status, cache.error_kind),
        (RunStatus::Blocked, Some(ErrorKind::Upstream))
    );
    assert!(cache.reason.unwrap().contains(&format!(
        "upstream PlayerGameSummaryProcessor is failed for 2026-01-06 (run {}) and has no rows",
        summary.run_id
    )));

    let phases = pipeline
        .phase_completion(host.store.as_ref(), missing)
        .unwrap();
    assert!(phases.iter().all(|p| !p.complete), "{phases:?}");
    let next = date("2026-01-07");
    let phases = pipeline
        .phase_completion(host.store.as_ref(), next)
        .unwrap();
    assert!(phases.iter().all(|p| p.complete), "{phases:?}");

    // The next day runs, with the gap recorded on every row.
    let (flagged, rows) = daily_cache_rows_flagging_the_planted_gap(&host, next);
    assert!(rows > 0);
    assert_eq!(flagged, rows, "every row of {next} flags the gap");
}

/// Only 01-05 of the season ran before 01-07, so the cache's season
/// lookback misses every other game date since opening night. A row says
/// so once, naming each date, not once per date.
#[test]
fn a_row_names_all_of_an_upstreams_missing_dates_in_one_issue() {
    let (host, _pipeline) = around_the_missing_date();
    let next = date("2026-01-07");
    let missing: Vec<String> = crate::support::season()
        .game_dates()
        .into_iter()
        .filter(|d| *d < next && *d != date("2026-01-05"))
        .map(|d| d.to_string())
        .collect();
    assert!(missing.len() > 50, "{missing:?}");
    let expected = format!(
        "lookback gap: PlayerGameSummaryProcessor has no rows for {} scheduled dates: {}",
        missing.len(),
        missing.join(", ")
    );
    let cache = TableName::new("nba_precompute", "player_daily_cache");
    let rows = summary_gap_issues(&host, &cache, next);
    assert!(!rows.is_empty());
    for issues in rows {
        assert_eq!(issues, [expected.as_str()]);
    }
}

/// How many of PlayerDailyCache's rows on `day` flag the lookback gap of
/// the planted missing date, and of how many rows.
fn daily_cache_rows_flagging_the_planted_gap(host: &TestHost, day: NaiveDate) -> (usize, usize) {
    let cache = TableName::new("nba_precompute", "player_daily_cache");
    rows_flagging_the_planted_gap(host, &cache, day)
}

/// How many of `table`'s rows on `day` flag the lookback gap of the
/// planted missing date, and of how many rows.
fn rows_flagging_the_planted_gap(
    host: &TestHost,
    table: &TableName,
    day: NaiveDate,
) -> (usize, usize) {
    let issues = summary_gap_issues(host, table, day);
    let flagged = issues
        .iter()
        .filter(|row| row.iter().any(|issue| issue.contains("2026-01-06")))
        .count();
    (flagged, issues.len())
}

/// Per row of `table` on `day`, the lookback gap issues it carries for
/// PlayerGameSummaryProcessor.
fn summary_gap_issues(host: &TestHost, table: &TableName, day: NaiveDate) -> Vec<Vec<String>> {
    let rows = host.rows(table, day);
    let issues = rows
        .columns
        .iter()
        .position(|c| c == "data_quality_issues")
        .unwrap();
    let prefix = "lookback gap: PlayerGameSummaryProcessor has no rows for ";
    rows.rows
        .iter()
        .map(|row| match &row[issues] {
            Value::Repeated(items) => items
                .iter()
                .filter_map(|item| match item {
                    Scalar::String(text) if text.starts_with(prefix) => Some(text.clone()),
                    _ => None,
                })
                .collect(),
            other => panic!("data_quality_issues is a list, not {other:?}"),
        })
        .collect()
}

#[test]
fn a_reader_of_the_season_to_date_flags_a_gap_from_further_back_than_ten_games() {
    let host = TestHost::with_demo_season();
    let pipeline = host.bundled_pipeline(&["player-game-summary", "player-daily-cache"]);
    let cache = pipeline
        .plugin("PlayerDailyCacheProcessor")
        .unwrap()
        .clone();
    assert_eq!(
        cache.spec.lookback_of("PlayerGameSummaryProcessor"),
        Lookback::SeasonToDate(SeasonStart { month: 10, day: 1 }),
        "declared through the `season` export"
    );
    let (missing, day) = (date("2026-01-06"), date("2026-01-27"));
    let game_dates: Vec<NaiveDate> = crate::support::season()
        .game_dates()
        .into_iter()
        .filter(|d| *d < day)
        .collect();
    let scheduled: BTreeSet<NaiveDate> = game_dates.iter().copied().collect();
    assert!(
        !lookback_window(Lookback::Games(10), day, &scheduled).contains(&missing),
        "the planted gap is more than ten game dates back"
    );
    let summaries = pipeline.plugin("PlayerGameSummaryProcessor").unwrap();
    for game_date in &game_dates {
        host.run(summaries, *game_date);
    }
    // A shadow version that declares ten game dates (and a hash of its
    // own), to be checked for what it declares, not for the live one's.
    let mut ten_games = cache.clone();
    let mut declared = (*cache.spec).clone();
    (declared.lookback, declared.season) = (Lookback::Games(10), None);
    (ten_games.spec, ten_games.hash) = (Arc::new(declared), "ten-games".into());
    let shadow_table = slate::shadow::shadow_table(&cache.spec.output_table, &ten_games.hash);
    let pipeline = pipeline.with_shadows(vec![ten_games]);
    let all = pipeline.select(&[]).unwrap();
    pipeline
        .run_date(&host.executor, day, &all, Trigger::Backfill)
        .unwrap();

    // The cache's season averages on the 27th lack the 6th's games, and
    // every row says so.
    let (flagged, rows) = daily_cache_rows_flagging_the_planted_gap(&host, day);
    assert!(rows > 0);
    assert_eq!(
        flagged, rows,
        "every row of {day} flags the gap of {missing}"
    );
    // The shadow is checked for the ten game dates it declares: no gap of
    // the 6th, and its reads bounded by the day after the eleventh game
    // date back.
    let output_of = |name: &str| pipeline.plugin(name).map(|p| p.spec.output_table.clone());
    let live = slate::completeness::check(
        host.store.as_ref(),
        &cache.spec,
        day,
        output_of,
        pipeline.calendar(),
        Utc::now(),
    )
    .unwrap();
    let shadow_check = pipeline.shadow_check(host.store.as_ref(), &cache.spec.name, day, live);
    assert!(
        shadow_check.gaps.iter().all(|gap| gap.date != missing),
        "the shadow flags the gaps of its own windows: {:?}",
        shadow_check.gaps
    );
    let first_readable = game_dates[game_dates.len() - 11].succ_opt().unwrap();
    let floor = shadow_check
        .read_window
        .floor_of("nba_analytics.player_game_summary")
        .map(|floor| floor.from);
    assert_eq!(floor, Some(first_readable));
    // Its component reads the season all the same, further back than its
    // declaration says: the sandbox refuses the read, and it writes nothing.
    assert!(host.rows(&shadow_table, day).rows.is_empty());
    let shadow_runs = host
        .store
        .runs(&RunFilter {
            processor: Some(slate::shadow::shadow_name(&cache.spec.name)),
            ..RunFilter::default()
        })
        .unwrap();
    let [shadow_run] = shadow_runs.as_slice() else {
        panic!("one shadow run: {shadow_runs:?}");
    };
    assert_contains(
        &failure_message(shadow_run, ErrorKind::Plugin),
        &format!(
            "may not read nba_analytics.player_game_summary from 2025-10-01: its lookback \
             for PlayerGameSummaryProcessor (10 game dates) starts at {first_readable}"
        ),
    );

    // The composite factors read the player and team games over the
    // season, and the zones on their own date alone: only the former
    // are checked back to October.
    let everything = host.whole_pipeline();
    let factors = &everything
        .plugin("PlayerCompositeFactorsProcessor")
        .unwrap()
        .spec;
    let output_of = |name: &str| everything.plugin(name).map(|p| p.spec.output_table.clone());
    let check = slate::completeness::check(
        host.store.as_ref(),
        factors,
        day,
        output_of,
        everything.calendar(),
        Utc::now(),
    )
    .unwrap();
    let gaps_of = |upstream: &str| check.gaps.iter().filter(|g| g.upstream == upstream).count();
    assert!(check.gaps.contains(&Gap {
        date: missing,
        upstream: "PlayerGameSummaryProcessor".into()
    }));
    assert_eq!(gaps_of("PlayerGameSummaryProcessor"), 1);
    assert_eq!(
        gaps_of("TeamOffenseGameSummaryProcessor"),
        game_dates.len(),
        "it never ran here: every game date of the season is a gap"
    );
    assert_eq!(gaps_of("PlayerShotZoneAnalysisProcessor"), 0);
    assert_eq!(gaps_of("TeamDefenseZoneAnalysisProcessor"), 0);
}

#[test]
fn late_box_scores_outdate_the_dates_whose_lookback_read_the_gap_until_a_backfill_reruns_them() {
    let (host, pipeline) = around_the_missing_date();
    let store = host.store.as_ref();
    let (missing, next) = (date("2026-01-06"), date("2026-01-07"));
    assert_eq!(outdated::in_store(store, &pipeline, None).unwrap(), []);

    // The planted date's box scores arrive late, and the date runs again.
    let complete = Season::generate(SeasonConfig {
        dates_missing_box_scores: Vec::new(),
        ..SeasonConfig::default()
    });
    load_season(store, &complete).unwrap();
    let all = pipeline.select(&[]).unwrap();
    pipeline
        .run_date(&host.executor, missing, &all, Trigger::Cli)
        .unwrap();
    let summary = runs_of(store, "PlayerGameSummaryProcessor", missing).remove(0);
    assert_eq!(summary.status, RunStatus::Success);

    // The next day's cache read the gap in its lookback, and its rows
    // still say so: it alone is outdated, naming the rows that filled it.
    let (flagged, rows) = daily_cache_rows_flagging_the_planted_gap(&host, next);
    assert_eq!(flagged, rows);
    let cache = runs_of(store, "PlayerDailyCacheProcessor", next).remove(0);
    assert_eq!(
        outdated::in_store(store, &pipeline, None).unwrap(),
        [Outdated {
            processor: "PlayerDailyCacheProcessor".into(),
            date: next,
            run_id: cache.run_id,
            cause: Cause::UpstreamRerun {
                upstream: "PlayerGameSummaryProcessor".into(),
                upstream_date: missing,
                run_id: summary.run_id,
            },
        }]
    );

    // `--reprocess outdated` reruns exactly that pair: the gap is gone, and
    // the rows are what the complete data gives.
    let request = BackfillRequest {
        start: date("2026-01-05"),
        end: next,
        selection: all,
        reprocess: Reprocess::Outdated,
        parallelism: 1,
    };
    let plan = backfill::plan(store, &pipeline, &request).unwrap();
    let planned: Vec<(&str, NaiveDate)> = plan
        .runs
        .iter()
        .map(|run| (run.processor.as_str(), run.date))
        .collect();
    assert_eq!(planned, [("PlayerDailyCacheProcessor", next)]);
    let outcomes = run_plan(&host, &pipeline, &plan, 1);
    assert!(outcomes.iter().all(|o| !o.is_failure()), "{outcomes:?}");
    let (flagged, rerun_rows) = daily_cache_rows_flagging_the_planted_gap(&host, next);
    assert_eq!(flagged, 0);
    assert!(
        rerun_rows > rows,
        "the players of 2026-01-06 join the window: {rows} rows before, {rerun_rows} after"
    );
    assert_eq!(outdated::in_store(store, &pipeline, None).unwrap(), []);
}

#[test]
fn checking_dates_together_decides_each_date_as_checking_it_alone() {
    // A run each on 01-05 and 01-07, the planted failure on 01-06, and
    // nothing yet on 01-08.
    let (host, pipeline) = around_the_missing_date();
    let spec = &pipeline.plugin("PlayerDailyCacheProcessor").unwrap().spec;
    let output_of = |name: &str| pipeline.plugin(name).map(|p| p.spec.output_table.clone());
    let days = ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08"].map(date);
    let now = Utc::now();
    let together = slate::completeness::check_dates(
        host.store.as_ref(),
        spec,
        &days,
        output_of,
        pipeline.calendar(),
        now,
    )
    .unwrap();
    let alone: Vec<_> = days
        .iter()
        .map(|day| {
            slate::completeness::check(
                host.store.as_ref(),
                spec,
                *day,
                output_of,
                pipeline.calendar(),
                now,
            )
            .unwrap()
        })
        .collect();
    assert_eq!(together, alone);
    let statuses: Vec<_> = together
        .iter()
        .map(|check| check.upstreams[0].status)
        .collect();
    use slate::upstream_check::UpstreamStatus;
    assert_eq!(
        statuses,
        [
            UpstreamStatus::Success,
            UpstreamStatus::Failed,
            UpstreamStatus::Success,
            UpstreamStatus::Missing
        ]
    );
    // Earlier dates of the season never ran here: only whether 01-06 and
    // 01-07 are gaps tells the windows apart.
    let gap_on = |check: &slate::upstream_check::UpstreamCheck, day: &str| {
        check.gaps.iter().any(|gap| gap.date == date(day))
    };
    assert!(!gap_on(&together[1], "2026-01-06"));
    assert!(gap_on(&together[2], "2026-01-06"));
    assert!(gap_on(&together[3], "2026-01-06") && !gap_on(&together[3], "2026-01-07"));
}

#[test]
fn a_pipeline_that_stopped_running_is_unhealthy_from_the_next_scheduled_date_past_its_deadline() {
    let host = TestHost::with_demo_season();
    let pipeline = host.bundled_pipeline(&["player-game-summary"]);
    let (last_run, next) = (date("2026-01-05"), date("2026-01-07"));
    let run = host.run(
        pipeline.plugin("PlayerGameSummaryProcessor").unwrap(),
        last_run,
    );
    assert_eq!(run.status, RunStatus::Success);
    let at = |day: &str, time: &str| {
        format!("{day}T{time}Z")
            .parse::<chrono::DateTime<Utc>>()
            .unwrap()
    };
    let missing = |now| {
        health_report(host.store.as_ref(), &pipeline, now).tables[0]
            .missing_dates
            .clone()
    };

    // 2026-01-06 is the planted missing date; the 7th has games too. Nothing
    // ran after the 5th: each is missing once 36 hours after its end.
    assert!(!missing(at("2026-01-08", "11:59:59")).contains(&date("2026-01-06")));
    let a_day_and_a_half_later = missing(at("2026-01-08", "12:00:01"));
    assert!(a_day_and_a_half_later.contains(&date("2026-01-06")));
    assert!(!a_day_and_a_half_later.contains(&next));
    let much_later = health_report(host.store.as_ref(), &pipeline, at("2026-12-02", "00:00:00"));
    assert!(!much_later.healthy);
    let stalled = &much_later.tables[0].missing_dates;
    assert!(
        stalled.contains(&next) && stalled.contains(&date("2026-04-12")),
        "{stalled:?}"
    );
    assert!(!stalled.contains(&last_run));
}

#[test]
fn a_pipeline_that_never_ran_is_unhealthy_once_its_first_scheduled_date_is_past_its_deadline() {
    let host = TestHost::with_demo_season();
    let pipeline = host.bundled_pipeline(&["player-game-summary"]);
    let opening = date("2025-10-21");
    let before = health_report(
        host.store.as_ref(),
        &pipeline,
        opening.and_hms_opt(23, 0, 0).unwrap().and_utc(),
    );
    assert!(before.healthy, "{before:?}");
    let after = health_report(
        host.store.as_ref(),
        &pipeline,
        date("2025-10-23").and_hms_opt(13, 0, 0).unwrap().and_utc(),
    );
    assert!(!after.healthy);
    assert_eq!(after.tables[0].missing_dates, [opening]);
}

/// SlowProcessor, and the pipeline of it and AfterSlowProcessor, which
/// reads it.
fn slow_then_after_slow(host: &TestHost) -> (Plugin, Pipeline) {
    let slow = host.fixture(components::SLOW_PROCESSOR);
    let after = host.fixture(components::AFTER_SLOW_PROCESSOR);
    let pipeline = Pipeline::new(vec![slow.clone(), after]).unwrap();
    (slow, pipeline)
}

#[test]
fn a_run_waits_for_an_upstream_run_another_invocation_holds_and_decides_on_how_it_ended() {
    let host = TestHost::empty();
    let (slow, pipeline) = slow_then_after_slow(&host);
    let day = date("2026-01-11");
    set_spin(host.store.as_ref(), day, false);
    // Another invocation (a second request for the date) holds
    // SlowProcessor's run when this one runs AfterSlowProcessor.
    let held = host.executor.claim(&slow, day, Trigger::Http).unwrap();
    let held_id = held.record().run_id.clone();
    let (upstream, downstream) = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| {
            pipeline
                .run_one(&host.executor, "AfterSlowProcessor", day, Trigger::Cli, &[])
                .unwrap()
        });
        std::thread::sleep(Duration::from_millis(300));
        let upstream = host.executor.execute_claim(held, None).unwrap();
        (upstream, waiting.join().unwrap())
    });
    assert_eq!(upstream.status, RunStatus::Success);
    assert!(
        downstream.started_at < upstream.finished_at.unwrap(),
        "claimed while the upstream ran"
    );
    assert_eq!(
        downstream.status,
        RunStatus::Success,
        "not blocked behind a run about to succeed: {:?}",
        downstream.reason
    );
    let check = downstream.upstream_check.unwrap();
    assert_eq!(
        (
            check.upstreams[0].status,
            check.upstreams[0].run_id.as_deref()
        ),
        (UpstreamStatus::Success, Some(held_id.as_str()))
    );
    assert_eq!(
        host.rows(&TableName::new("slate_test", "after_slow"), day)
            .rows[0][1],
        Value::Scalar(Scalar::Int64(3)),
        "it read the rows the upstream committed"
    );
}

#[test]
fn a_run_waits_at_most_one_lease_for_an_upstream_run_that_never_starts() {
    // A claim queued behind this run on the same worker pool would never
    // start while this run waits for it: past one lease the wait ends, and
    // the run is decided on as before, blocked behind a running upstream.
    let leases = LeaseConfig {
        heartbeat: Duration::from_millis(50),
        lease: Duration::from_millis(500),
        ..LeaseConfig::default()
    };
    let host = TestHost::with(RunLimits::default(), leases);
    let (slow, pipeline) = slow_then_after_slow(&host);
    let day = date("2026-01-11");
    let held = host.executor.claim(&slow, day, Trigger::Http).unwrap();
    let downstream = pipeline
        .run_one(&host.executor, "AfterSlowProcessor", day, Trigger::Cli, &[])
        .unwrap();
    assert_eq!(downstream.status, RunStatus::Blocked);
    let reason = downstream.reason.unwrap_or_default();
    assert_contains(
        &reason,
        &format!(
            "upstream SlowProcessor is running for 2026-01-11 (run {})",
            held.record().run_id
        ),
    );
}

#[test]
fn health_is_unhealthy_exactly_while_a_latest_run_failed() {
    let host = TestHost::empty();
    let pipeline = Pipeline::new(vec![host.fixture(components::SLOW_PROCESSOR)]).unwrap();
    let day = date("2026-01-11");
    set_spin(host.store.as_ref(), day, false);
    host.run(pipeline.plugin("SlowProcessor").unwrap(), day);
    let report = health_report(host.store.as_ref(), &pipeline, Utc::now());
    assert!(report.healthy, "{report:?}");
    assert_eq!(report.tables[0].latest_dates, [(day, 3)]);
    assert_eq!(report.last_success[0].date, Some(day));

    let failed_day = date("2026-01-12");
    let store = host.store.as_ref();
    let run = store
        .start_run(&NewRun {
            processor: "SlowProcessor".into(),
            phase: Phase::Analytics,
            data_date: failed_day,
            host_id: "elsewhere:1".into(),
            plugin_hash: "h".into(),
            trigger: Trigger::Cli,
            lease: Duration::from_millis(1),
        })
        .unwrap();
    // As of a second later, past the 1 ms lease.
    let later = Utc::now() + chrono::TimeDelta::seconds(1);
    let report = health_report(store, &pipeline, later);
    assert!(!report.healthy);
    assert_eq!(report.problem_runs.len(), 1);
    assert_eq!(
        (
            report.problem_runs[0].run_id.as_str(),
            report.problem_runs[0].status.as_str()
        ),
        (run.run_id.as_str(), "stale_running")
    );
    assert_eq!(
        report.last_success[0].date,
        Some(day),
        "the last success is still the 11th"
    );
}

/// A run whose host was a process of this machine that is gone is a
/// problem at once, by the rule reaping goes by, though its lease has ten
/// minutes to run: a health check on a store it may only read (which
/// reaps nothing) names it `stale_running`, saying whose host stopped
/// renewing it. Before, it read healthy until the lease ran out.
#[test]
fn health_names_a_run_of_a_gone_process_of_this_machine_stale_before_its_lease_ends() {
    let host = TestHost::empty();
    let pipeline = Pipeline::new(vec![host.fixture(components::SLOW_PROCESSOR)]).unwrap();
    let me = slate::liveness::this_host_id();
    let (name, _) = me.rsplit_once(':').unwrap();
    let gone = format!("{name}:4294967295");
    let run = host
        .store
        .start_run(&NewRun {
            processor: "SlowProcessor".into(),
            phase: Phase::Analytics,
            data_date: date("2026-01-12"),
            host_id: gone.clone(),
            plugin_hash: "h".into(),
            trigger: Trigger::Cli,
            lease: Duration::from_secs(600),
        })
        .unwrap();

    let report = health_report(host.store.as_ref(), &pipeline, Utc::now());

    assert!(!report.healthy, "{report:?}");
    let problem = &report.problem_runs[0];
    assert_eq!(
        (problem.run_id.as_str(), problem.status.as_str()),
        (run.run_id.as_str(), "stale_running")
    );
    assert_contains(
        &problem.message,
        &format!("host {gone} stopped renewing at "),
    );
}

#[test]
fn claims_executed_together_on_a_store_that_commits_one_at_a_time_each_commit_alone() {
    let host = TestHost::with_demo_season();
    let pipeline = host.every_bundled_processor();
    let summaries = pipeline.plugin("PlayerGameSummaryProcessor").unwrap();
    let days = [date("2026-01-09"), date("2026-01-10"), date("2026-01-11")];
    let claims: Vec<_> = days
        .iter()
        .map(|day| {
            let claim = host.executor.claim(summaries, *day, Trigger::Cli).unwrap();
            (claim, None)
        })
        .collect();
    // The middle run loses its claim before it executes.
    let lost = claims[1].0.record().run_id.clone();
    host.store
        .end_run(
            &lost,
            &slate::runs::RunEnd {
                status: RunStatus::Failed,
                error_kind: Some(ErrorKind::Stale),
                message: "reaped elsewhere".into(),
                rows_read: 0,
                limit: None,
                usage: Default::default(),
                upstream_check: None,
            },
        )
        .unwrap();
    assert_eq!(host.store.commit_batch_dates(), None);

    let records: Vec<RunRecord> = host
        .executor
        .execute_claims_together(claims)
        .into_iter()
        .map(Result::unwrap)
        .collect();

    let outcome: Vec<(NaiveDate, RunStatus)> =
        records.iter().map(|r| (r.data_date, r.status)).collect();
    assert_eq!(
        outcome,
        [
            (days[0], RunStatus::Success),
            (days[1], RunStatus::Failed),
            (days[2], RunStatus::Success),
        ],
        "each run keeps its own outcome, in the claims' order"
    );
    assert_eq!(
        records[1].error_message.as_deref(),
        Some("reaped elsewhere")
    );
    let table = &summaries.spec.output_table;
    assert!(host.store.rows_on(table, days[0]).unwrap() > 0);
    assert_eq!(host.store.rows_on(table, days[1]).unwrap(), 0);
    assert!(host.store.rows_on(table, days[2]).unwrap() > 0);
}
