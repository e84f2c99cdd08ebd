//! The sandbox: each hostile processor fails alone, with its own kind,
//! while a healthy processor keeps succeeding on the same host.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use slate::demo::load_season;
use slate::liveness::LeaseConfig;
use slate::pipeline::Pipeline;
use slate::plugin::{RunLimits, RuntimeOptions};
use slate::rows::Scalar;
use slate::runs::{ErrorKind, RunStatus, Trigger};
use slate::schema::{ColumnType, TableName};

use crate::support::{
    TestHost, assert_contains, components, date, hostile_control, season, set_control,
};

/// Sets its flag when dropped, panicking or not.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// One hostile component and how its run must end.
struct Hostile {
    component: &'static str,
    kind: ErrorKind,
    message: String,
}

fn hostile(component: &'static str, kind: ErrorKind, message: impl Into<String>) -> Hostile {
    Hostile {
        component,
        kind,
        message: message.into(),
    }
}

#[test]
fn each_hostile_processor_fails_alone_with_its_own_kind_while_a_healthy_one_keeps_succeeding() {
    hostile_processors_fail_alone_on(RuntimeOptions::default());
}

#[test]
fn on_a_pooled_runtime_each_hostile_processor_fails_alone_with_its_own_kind_too() {
    // As `slate run`, `backfill`, `demo` and `serve` run processors: slots
    // for the two concurrent runs and loads, memory kept resident between
    // runs, each slot as large as the largest memory cap.
    hostile_processors_fail_alone_on(RuntimeOptions {
        pooled_runs: Some(10),
        keep_resident_bytes: slate::plugin::KEEP_RESIDENT_BYTES,
        max_memory_bytes: 64 << 20,
        ..RuntimeOptions::default()
    });
}

/// Runs every hostile fixture, one after another, while a healthy
/// processor runs beside them on a runtime with `options`.
fn hostile_processors_fail_alone_on(options: RuntimeOptions) {
    let limits = RunLimits {
        memory_bytes: 64 << 20,
        cpu_time: Duration::from_secs(2),
        max_output_rows: 1_000,
        ..RunLimits::default()
    };
    let host = TestHost::with_runtime(limits, LeaseConfig::default(), options);
    load_season(host.store.as_ref(), season()).unwrap();
    let day = date("2026-01-11");

    // The socket fixture is told where to connect: a port this test listens on.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    set_control(
        host.store.as_ref(),
        &hostile_control(),
        day,
        &[("port", ColumnType::Int64)],
        &[&[Scalar::Int64(i64::from(port))]],
    );

    let suite = [
        hostile(
            components::HOSTILE_INFINITE_LOOP,
            ErrorKind::LimitTime,
            "CPU time limit of 2000 ms exceeded",
        ),
        hostile(
            components::HOSTILE_SLEEP,
            ErrorKind::LimitTime,
            "wall-clock limit of 300000 ms: the processor asked to wait until 3600",
        ),
        hostile(
            components::HOSTILE_MEMORY_BOMB,
            ErrorKind::LimitMemory,
            "memory limit of 67108864 bytes exceeded",
        ),
        hostile(
            components::HOSTILE_DEEP_RECURSION,
            ErrorKind::Trap,
            "out of bounds memory access",
        ),
        hostile(
            components::HOSTILE_PANIC,
            ErrorKind::Trap,
            "hostile panic on 2026-01-11",
        ),
        hostile(
            components::HOSTILE_ROW_FLOOD,
            ErrorKind::LimitOutput,
            "output limit of 1000 rows exceeded: the processor returned 100000 rows",
        ),
        hostile(
            components::HOSTILE_UNDECLARED_READ,
            ErrorKind::Plugin,
            "refused: ReadError::UndeclaredTable by read-rows, read-columns, \
             read-column-batch, read-coded-column-batch",
        ),
        hostile(
            components::HOSTILE_FUTURE_READ,
            ErrorKind::Plugin,
            "refused: ReadError::InvalidRange by read-rows, read-columns, read-column-batch, \
             read-coded-column-batch: HostileFutureRead may not read slate_test.hostile_control \
             up to 2026-01-12, after its analysis date 2026-01-11: a run reads no later date",
        ),
        hostile(
            components::HOSTILE_FILE_OPEN,
            ErrorKind::Plugin,
            "could not open /etc/hostname",
        ),
        hostile(
            components::HOSTILE_SOCKET,
            ErrorKind::Plugin,
            format!("could not connect to 127.0.0.1:{port}"),
        ),
        hostile(
            components::HOSTILE_DUPLICATE_KEYS,
            ErrorKind::Validation,
            "2 of 5 rows failed validation with 2 errors\n  \
             row 3 (n=1, day=\"2026-01-11\"): field `n` expected a key no other row has, \
             got n=1, day=\"2026-01-11\": row 1 has the same key",
        ),
        hostile(
            components::HOSTILE_BAD_ROWS,
            ErrorKind::Validation,
            "2 of 3 rows failed validation",
        ),
    ];

    let healthy = host.bundled("player-game-summary");
    let stop = AtomicBool::new(false);
    let healthy_runs = std::thread::scope(|scope| {
        // However the hostile runs end, even by a failed assertion, the
        // healthy worker is told to stop, so the scope can always close.
        let stop_worker = StopOnDrop(&stop);
        let worker = scope.spawn(|| {
            let mut runs = Vec::new();
            while !stop.load(Ordering::Relaxed) || runs.is_empty() {
                runs.push(host.run(&healthy, day));
            }
            runs
        });
        for case in &suite {
            let plugin = host.fixture(case.component);
            let record = host.run(&plugin, day);
            let message = record.error_message.clone().unwrap_or_default();
            assert_eq!(
                record.status,
                RunStatus::Failed,
                "{}: {record:?}",
                plugin.spec.name
            );
            assert_eq!(
                record.error_kind,
                Some(case.kind),
                "{}: {message}",
                plugin.spec.name
            );
            assert!(
                message.contains(&case.message),
                "{}: {message}",
                plugin.spec.name
            );
            assert!(
                host.rows(&plugin.spec.output_table, day).rows.is_empty(),
                "{} wrote rows",
                plugin.spec.name
            );
        }
        drop(stop_worker);
        worker.join().unwrap()
    });

    assert!(!healthy_runs.is_empty());
    for run in &healthy_runs {
        assert_eq!(
            run.status,
            RunStatus::Success,
            "the healthy processor failed: {run:?}"
        );
        assert!(run.rows_written > 0);
    }
    let (accepted, _) = (listener.accept(), ());
    assert!(accepted.is_err(), "the socket fixture reached the listener");
}

#[test]
fn a_run_reads_no_upstream_output_from_before_its_lookback_window() {
    // HostilePastRead declares PlayerGameSummaryProcessor upstream with no
    // lookback, then reads its output from the day before: rows no check
    // vouched for, whose rerun would not make its run outdated.
    let host = TestHost::with_demo_season();
    let pipeline = Pipeline::new(vec![
        host.bundled("player-game-summary"),
        host.fixture(components::HOSTILE_PAST_READ),
    ])
    .unwrap();
    let (before, day) = (date("2026-01-10"), date("2026-01-11"));
    let summaries = pipeline
        .select(&["PlayerGameSummaryProcessor".into()])
        .unwrap();
    pipeline
        .run_date(&host.executor, before, &summaries, Trigger::Cli)
        .unwrap();
    let summary_table = TableName::parse("nba_analytics.player_game_summary").unwrap();
    assert!(
        !host.rows(&summary_table, before).rows.is_empty(),
        "the day before has rows to read"
    );

    let all = pipeline.select(&[]).unwrap();
    let ran = pipeline
        .run_date(&host.executor, day, &all, Trigger::Cli)
        .unwrap();
    let hostile = ran
        .records
        .iter()
        .find(|record| record.processor == "HostilePastRead")
        .unwrap();
    assert_eq!(hostile.status, RunStatus::Failed, "{hostile:?}");
    assert_eq!(hostile.error_kind, Some(ErrorKind::Plugin));
    assert_contains(
        hostile.error_message.as_deref().unwrap_or_default(),
        "refused: ReadError::InvalidRange by read-rows, read-columns, read-column-batch, \
         read-coded-column-batch: HostilePastRead may not read \
         nba_analytics.player_game_summary from 2026-01-10: its lookback for \
         PlayerGameSummaryProcessor (none) starts at 2026-01-11 for analysis date 2026-01-11",
    );
    let output = TableName::parse("slate_test.hostile_past_read").unwrap();
    assert!(host.rows(&output, day).rows.is_empty(), "it wrote rows");
}

#[test]
fn a_run_on_a_reused_pool_slot_finds_nothing_an_earlier_run_left_in_memory() {
    // One slot, as large as commands make them, with memory kept resident:
    // each run's instance takes the memory the run before it wrote to.
    let host = TestHost::with_runtime(
        RunLimits::default(),
        LeaseConfig::default(),
        RuntimeOptions {
            pooled_runs: Some(1),
            keep_resident_bytes: slate::plugin::KEEP_RESIDENT_BYTES,
            ..RuntimeOptions::default()
        },
    );
    let snoop = host.fixture(components::HOSTILE_MEMORY_SNOOP);
    for day in ["2026-01-10", "2026-01-11", "2026-01-12", "2026-01-10"] {
        let record = host.run(&snoop, date(day));
        assert_eq!(record.status, RunStatus::Success, "{day}: {record:?}");
        // Its own marks, found again: the search that found no earlier
        // run's marks would have found them.
        assert_eq!(
            host.rows(&snoop.spec.output_table, date(day)).rows.len(),
            3,
            "{day}: the snoop did not find its own marks"
        );
    }
}

#[test]
fn a_limit_breach_records_the_limit_and_the_observed_value() {
    let limits = RunLimits {
        memory_bytes: 32 << 20,
        max_output_rows: 1_000,
        ..RunLimits::default()
    };
    let host = TestHost::with(limits, LeaseConfig::default());
    let day = date("2026-01-11");
    set_control(host.store.as_ref(), &hostile_control(), day, &[], &[]);

    let flood = host.run(&host.fixture(components::HOSTILE_ROW_FLOOD), day);
    assert_eq!(
        (flood.limit_value, flood.observed_value),
        (Some(1_000), Some(100_000))
    );

    let bomb = host.run(&host.fixture(components::HOSTILE_MEMORY_BOMB), day);
    assert_eq!(bomb.limit_value, Some(32 << 20));
    assert!(bomb.observed_value.unwrap() > 32 << 20, "{bomb:?}");
}

#[test]
fn memory_refused_at_instantiation_is_a_memory_breach_with_its_limit_and_observed_value() {
    // An interpreter needs its memory before `process` runs: CPython about
    // 14 MiB, this fixture more than 24 MiB. Below that, the instance
    // cannot be created, and the record says so as a limit, not a trap.
    let limits = RunLimits {
        memory_bytes: 16 << 20,
        ..RunLimits::default()
    };
    let host = TestHost::with(limits, LeaseConfig::default());
    let day = date("2026-01-11");
    set_control(host.store.as_ref(), &hostile_control(), day, &[], &[]);

    let record = host.run(&host.fixture(components::HOSTILE_STARTUP_MEMORY), day);

    let message = record.error_message.clone().unwrap_or_default();
    assert_eq!(record.error_kind, Some(ErrorKind::LimitMemory), "{message}");
    assert!(
        message.starts_with("instantiation failed: memory limit of 16777216 bytes exceeded"),
        "{message}"
    );
    assert_eq!(record.limit_value, Some(16 << 20));
    assert!(record.observed_value.unwrap() > 24 << 20, "{record:?}");
}

#[test]
fn the_startup_memory_fixture_runs_under_a_limit_that_holds_it() {
    let host = TestHost::with(RunLimits::default(), LeaseConfig::default());
    let day = date("2026-01-11");
    set_control(host.store.as_ref(), &hostile_control(), day, &[], &[]);

    let record = host.run(&host.fixture(components::HOSTILE_STARTUP_MEMORY), day);

    assert_eq!(record.status, RunStatus::Success, "{record:?}");
    assert!(record.peak_memory_bytes > 24 << 20, "{record:?}");
}

/// A compiled component is machine code, run as it is: one damaged on disk
/// (bytes flipped in its code) made the host die of a segmentation fault.
/// Its checksum no longer matches, so it is compiled again, and runs.
#[test]
fn a_compiled_component_damaged_on_disk_is_compiled_again_not_run() {
    let cache = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(components::VERSIONED_V1).unwrap();
    let first = slate::plugin::Runtime::new(Some(cache.path())).unwrap();
    first.load(&bytes).unwrap();
    let compiled = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "cwasm"))
        .expect("the compiled component is cached");
    let mut damaged = std::fs::read(&compiled).unwrap();
    let middle = damaged.len() / 2;
    for byte in &mut damaged[middle - 4096..middle + 4096] {
        *byte = 0xcc;
    }
    std::fs::write(&compiled, &damaged).unwrap();

    let again = slate::plugin::Runtime::new(Some(cache.path())).unwrap();
    let plugin = again.load(&bytes).unwrap();
    assert_eq!(plugin.spec.name, "VersionedProcessor");
    assert_ne!(
        std::fs::read(&compiled).unwrap(),
        damaged,
        "the damaged file was compiled anew"
    );
}

/// A run out of fuel fails `limit_fuel` with the limit and the observed
/// fuel in its record, as every other limit does: before, both were null
/// and the message did not name the limit.
#[test]
fn a_run_out_of_fuel_records_the_limit_and_what_it_used() {
    let limits = RunLimits {
        fuel: Some(100_000),
        cpu_time: Duration::from_secs(60),
        ..RunLimits::default()
    };
    let runtime = RuntimeOptions {
        fuel: true,
        ..RuntimeOptions::default()
    };
    let host = TestHost::with_runtime(limits, LeaseConfig::default(), runtime);
    let spinner = host.fixture(components::HOSTILE_INFINITE_LOOP);
    let record = host.run(&spinner, date("2026-01-11"));
    assert_eq!(
        (record.status, record.error_kind),
        (RunStatus::Failed, Some(ErrorKind::LimitFuel)),
        "{record:#?}"
    );
    assert_eq!(
        (record.limit_value, record.observed_value),
        (Some(100_000), Some(100_000))
    );
    assert_eq!(
        record.error_message.as_deref(),
        Some("fuel limit of 100000 exhausted")
    );
}
