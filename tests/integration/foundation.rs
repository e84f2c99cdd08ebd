//! The foundation: rows land, reruns replace, failures leave tables
//! untouched, undeclared reads are refused, claims are exclusive, and
//! compiled components are cached by content hash.

use slate::runs::{ErrorKind, NewRun, RunStatus, Trigger};
use slate::schema::TableName;
use slate::store::InputSource;
use slate::store::{RunLedger, StoreError};

use crate::support::{
    TestHost, assert_contains, assert_failed_validation, components, date, failure_message,
};

fn faulty_table() -> TableName {
    TableName::new("slate_test", "faulty")
}

#[test]
fn rows_land_for_both_standard_processors_on_a_game_date() {
    let host = TestHost::with_demo_season();
    let summary = host.bundled("player-game-summary");
    let cache = host.bundled("player-daily-cache");
    for day in ["2026-01-09", "2026-01-10"] {
        let record = host.run(&summary, date(day));
        assert_eq!(record.status, RunStatus::Success, "{record:?}");
    }
    let day = date("2026-01-11");
    let summary_run = host.run(&summary, day);
    let cache_run = host.run(&cache, day);

    for (run, table) in [
        (&summary_run, &summary.spec.output_table),
        (&cache_run, &cache.spec.output_table),
    ] {
        assert_eq!(run.status, RunStatus::Success, "{run:?}");
        assert!(run.rows_written > 0, "{} wrote no rows", run.processor);
        assert_eq!(host.rows(table, day).rows.len() as i64, run.rows_written);
        assert_eq!(run.plugin_hash.len(), 64);
    }
    let box_scores_that_day = host
        .store
        .read_rows(&slate::demo::box_scores_table(), day, day)
        .unwrap();
    assert_eq!(
        summary_run.rows_written as usize,
        box_scores_that_day.rows.len()
    );
    assert!(cache_run.rows_read > 0);
}

#[test]
fn rerunning_a_date_replaces_its_rows_instead_of_duplicating_them() {
    let host = TestHost::with_demo_season();
    let summary = host.bundled("player-game-summary");
    let day = date("2026-01-11");
    let first = host.run(&summary, day);
    let second = host.run(&summary, day);
    assert_eq!((first.attempt, second.attempt), (1, 2));
    assert_eq!(first.rows_written, second.rows_written);
    assert_eq!(
        host.rows(&summary.spec.output_table, day).rows.len() as i64,
        second.rows_written
    );
}

#[test]
fn a_plugin_error_fails_the_run_with_its_message_and_leaves_the_table_untouched() {
    let host = TestHost::empty();
    let faulty = host.fixture(components::FAULTY_PROCESSOR);
    let day = date("2026-01-02");
    let good = host.run(&faulty, date("2026-01-01"));
    assert_eq!(good.status, RunStatus::Success);

    let failed = host.run(&faulty, day);
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(failed.error_kind, Some(ErrorKind::Plugin));
    assert_eq!(
        failed.error_message.as_deref(),
        Some("internal error: deliberate failure")
    );
    assert!(host.rows(&faulty_table(), day).rows.is_empty());
    assert_eq!(host.rows(&faulty_table(), date("2026-01-01")).rows.len(), 2);
}

#[test]
fn a_trap_fails_the_run_with_the_panic_message_and_writes_nothing() {
    let host = TestHost::empty();
    let faulty = host.fixture(components::FAULTY_PROCESSOR);
    let day = date("2026-01-03");
    let failed = host.run(&faulty, day);
    assert_eq!(failed.status, RunStatus::Failed);
    let message = failure_message(&failed, ErrorKind::Trap);
    // The guest's panic message leads (the line a table shows), followed by
    // what it wrote to stderr and the trap itself.
    assert!(
        message
            .lines()
            .next()
            .is_some_and(|first| first.ends_with("deliberate panic after reading 0 rows")),
        "{message}"
    );
    assert_contains(&message, "unreachable");
    assert!(host.rows(&faulty_table(), day).rows.is_empty());
}

#[test]
fn rows_that_fail_validation_are_not_written_and_the_error_names_row_field_and_value() {
    let host = TestHost::empty();
    let faulty = host.fixture(components::FAULTY_PROCESSOR);
    // Day 5 returns rows that fail validation: an INT64 in a TIMESTAMP column.
    let failed = host.run(&faulty, date("2026-01-05"));
    assert_failed_validation(
        &failed,
        "3 of 3 rows failed validation with 3 errors",
        "row 0 (n=0, day=\"2026-01-05\"): field `loaded_at` expected NULLABLE TIMESTAMP, got INT64 1700000000",
    );
    assert!(
        host.rows(&faulty_table(), date("2026-01-05"))
            .rows
            .is_empty()
    );
}

#[test]
fn reading_an_undeclared_table_or_an_unknown_column_is_an_error_the_guest_can_handle() {
    let host = TestHost::empty();
    let faulty = host.fixture(components::FAULTY_PROCESSOR);
    let record = host.run(&faulty, date("2026-01-04"));
    // The guest received the error as a value and chose to report it: no trap.
    let message = failure_message(&record, ErrorKind::Plugin);
    assert_contains(&message, "UndeclaredTable");
    assert_contains(
        &message,
        "FaultyProcessor did not declare nba_raw.player_boxscores",
    );
    assert_contains(
        &message,
        "UnknownTable(\"table nba_raw.schedule has no column `no_such_column`\")",
    );
}

#[test]
fn a_second_claim_on_a_running_processor_and_date_is_refused() {
    let host = TestHost::empty();
    let claim = NewRun {
        processor: "FaultyProcessor".into(),
        phase: slate::phase::Phase::Precompute,
        data_date: date("2026-01-01"),
        host_id: "other-host".into(),
        plugin_hash: "h".into(),
        trigger: slate::runs::Trigger::Http,
        lease: std::time::Duration::from_secs(60),
    };
    let holder = host.store.start_run(&claim).unwrap();
    let faulty = host.fixture(components::FAULTY_PROCESSOR);
    match host
        .executor
        .execute(&faulty, date("2026-01-01"), Trigger::Cli)
    {
        Err(StoreError::AlreadyRunning { run_id, .. }) => assert_eq!(run_id, holder.run_id),
        other => panic!("expected already running, got {other:?}"),
    }
    let error = host.store.start_run(&claim).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("already running (run {}, started ", holder.run_id)),
        "{error}"
    );
}

#[test]
fn compiled_components_are_cached_by_content_hash_across_runtimes() {
    // A cache of its own, not the one the test hosts share.
    let dir = tempfile::tempdir().unwrap();
    let compiled = dir.path().join("compiled");
    let runtime = slate::plugin::Runtime::new(Some(&compiled)).unwrap();
    let bytes = std::fs::read(components::FAULTY_PROCESSOR).unwrap();
    let first = runtime.load(&bytes).unwrap();
    // Each compiled file, with the SHA-256 of its bytes beside it.
    let cached = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&compiled)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    let names = cached();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].starts_with(&first.hash) && names[0].ends_with(".cwasm"),
        "{names:?} is not keyed by {}",
        first.hash
    );
    assert_eq!(names[1], format!("{}.sha256", names[0]));
    let modified = || {
        std::fs::metadata(compiled.join(&names[0]))
            .unwrap()
            .modified()
            .unwrap()
    };
    let written = modified();

    let restarted = slate::plugin::Runtime::new(Some(&compiled)).unwrap();
    let again = restarted.load(&bytes).unwrap();
    assert_eq!(again.hash, first.hash);
    assert_eq!(cached(), names);
    assert_eq!(
        modified(),
        written,
        "loaded from the cache, not compiled again"
    );
}

#[test]
fn a_core_module_is_refused_as_not_a_component() {
    let host = TestHost::empty();
    let core_module = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    let error = host
        .runtime
        .load(&core_module)
        .err()
        .expect("refused")
        .to_string();
    assert_contains(&error, "this is a core module");
}

#[test]
fn every_fixture_component_is_used_by_a_test() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/integration");
    let mut sources = String::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("support.rs") {
            sources.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    for (constant, path) in components::ALL {
        assert!(
            std::path::Path::new(path).exists(),
            "{constant} was not built"
        );
        assert!(
            sources.contains(&format!("components::{constant}")),
            "{constant} is built but no test uses it"
        );
    }
}
