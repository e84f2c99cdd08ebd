//! The same bookkeeping behaviour on every history backend: the embedded
//! store, BigQuery (on the emulator), PostgreSQL (on a real server), and
//! run state in PostgreSQL with tables in BigQuery.
//! Each behaviour below is one function over `Arc<dyn Store>`, run once
//! per backend.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use slate::column_batch::ColumnValues;
use slate::quarantine::QuarantinedRow;
use slate::rows::{RowSet, Scalar, Value};
use slate::runs::{ErrorKind, NewRun, RunEnd, RunFilter, RunRecord, RunStatus, RunUsage, Trigger};
use slate::schema::{Column, ColumnMode, ColumnType, TableName, TableSchema};
use slate::store::{InputSource, RunOutput, Store, StoreError, TableSpan};
use slate::upstream_check::{Gap, UpstreamCheck, UpstreamDecision, UpstreamStatus};

use crate::support::{
    assert_contains, assert_reaped_as_stale, date, player_points_rows, player_points_schema,
};

/// Generates one test per backend for each behaviour function.
macro_rules! on_every_backend {
    ($($behaviour:ident),* $(,)?) => {
        mod embedded {
            $(
                #[test]
                fn $behaviour() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = std::sync::Arc::new(
                        slate::store::EmbeddedStore::open(&dir.path().join("slate.db")).unwrap(),
                    );
                    super::$behaviour(store);
                }
            )*
        }
        mod bigquery {
            $(
                #[test]
                fn $behaviour() {
                    super::$behaviour(crate::emulator::isolated_store());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $behaviour() {
                    super::$behaviour(crate::postgres_server::isolated_store());
                }
            )*
        }
        mod postgres_with_bigquery_tables {
            $(
                #[test]
                fn $behaviour() {
                    super::$behaviour(std::sync::Arc::new(slate::store::SplitStore::new(
                        std::sync::Arc::into_inner(crate::postgres_server::isolated_store())
                            .unwrap(),
                        std::sync::Arc::into_inner(crate::emulator::isolated_store()).unwrap(),
                    )));
                }
            )*
        }
    };
}

on_every_backend!(
    a_claim_is_exclusive_until_the_run_ends_and_attempts_count_up,
    a_commit_replaces_only_its_date_and_a_rerun_never_duplicates,
    a_commit_that_cannot_load_leaves_the_previous_rows_and_the_claim,
    a_reaped_run_cannot_commit_and_writes_nothing,
    a_stale_run_is_reaped_exactly_once_by_concurrent_reapers,
    renewed_leases_keep_a_run_live_and_expired_ones_make_it_stale,
    a_flag_stays_with_the_run_when_it_ends,
    a_run_given_up_by_its_host_is_reaped_at_once_saying_why,
    a_run_keeps_its_processors_phase_from_claim_to_reap,
    runs_filter_by_date_date_range_processor_status_and_plugin_hash,
    the_runs_changed_since_an_instant_are_those_that_started_or_ended_from_it,
    quarantined_rows_are_committed_with_the_run,
    schema_drift_adds_nullable_columns_and_refuses_the_rest,
    read_columns_returns_only_the_named_columns_in_their_order,
    a_table_has_one_owner_and_moves_only_by_a_recorded_transfer,
    a_first_commit_creates_the_table_and_a_failed_run_creates_none,
    first_commits_at_once_of_tables_in_one_new_dataset_each_create_their_table,
    what_the_guest_used_is_recorded_with_the_run,
    the_upstream_check_and_the_rows_with_quality_issues_are_recorded_with_the_run,
    a_dropped_table_loses_its_rows_schema_and_owner_and_a_second_drop_finds_nothing,
    every_type_and_every_null_reads_back_as_written_in_the_order_written,
    runs_committed_together_replace_every_date_or_none,
    claims_made_together_are_each_exclusive_and_count_attempts_per_date,
    records_are_read_together_by_run_id,
    a_read_ahead_answers_each_date_as_the_store_does,
    an_empty_or_all_null_read_packs_each_column_by_its_type,
);

fn output_table() -> TableName {
    TableName::new("slate_test", "history_behaviour")
}

/// Creates the output table, as an operator would for `processor` before
/// its first run: loaded by the host, then moved to the processor.
fn output_table_of(store: &dyn Store, processor: &str) {
    use slate::ownership::TableOwner;
    store
        .ensure_table(&output_table(), &output_schema())
        .unwrap();
    store
        .transfer_table(
            &output_table(),
            &TableOwner::Processor(processor.into()),
            "test set-up",
        )
        .unwrap();
}

/// Creates the output table, as the host would, holding `players`' rows
/// on `day`.
fn output_table_holding(store: &dyn Store, day: NaiveDate, players: &[&str]) {
    store
        .ensure_table(&output_table(), &output_schema())
        .unwrap();
    store
        .replace_partitions(&output_table(), &[day], &rows(day, players))
        .unwrap();
}

fn output_schema() -> TableSchema {
    player_points_schema(ColumnMode::Nullable)
}

/// A row for each of `players` on `day`, the n-th scoring 10 × n points.
fn rows(day: NaiveDate, players: &[&str]) -> RowSet {
    let points = players
        .iter()
        .enumerate()
        .map(|(i, player)| (player.to_string(), i as i64 * 10));
    player_points_rows(day, points)
}

fn new_run(processor: &str, day: NaiveDate, lease: Duration) -> NewRun {
    NewRun {
        processor: processor.into(),
        phase: slate::phase::Phase::Precompute,
        data_date: day,
        host_id: "behaviour-host:1".into(),
        plugin_hash: format!("hash-of-{processor}"),
        trigger: Trigger::Cli,
        lease,
    }
}

const LEASE: Duration = Duration::from_secs(60);

/// Starts a run of `processor` on `day`, with a [`LEASE`]-long lease.
fn claim(store: &dyn Store, processor: &str, day: NaiveDate) -> RunRecord {
    store.start_run(&new_run(processor, day, LEASE)).unwrap()
}

/// A second from now: past any 1 ms lease, well within [`LEASE`].
fn later() -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(1)
}

fn players(store: &dyn Store, day: NaiveDate) -> Vec<String> {
    let mut names: Vec<String> = store
        .read_rows(&output_table(), day, day)
        .unwrap()
        .rows
        .iter()
        .map(|row| match &row[1] {
            Value::Scalar(Scalar::String(s)) => s.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    names.sort();
    names
}

fn commit(
    store: &dyn Store,
    run_id: &str,
    day: NaiveDate,
    rows: &RowSet,
) -> Result<usize, StoreError> {
    let processor = store.run(run_id)?.expect("a claimed run").processor;
    store.commit_run(run_id, &output_of(&processor, day, rows))
}

/// What a run of `processor` on `day` commits: `rows`, of the output table.
fn output_of<'a>(processor: &'a str, day: NaiveDate, rows: &'a RowSet) -> RunOutput<'a> {
    static TABLE: std::sync::LazyLock<TableName> = std::sync::LazyLock::new(output_table);
    static SCHEMA: std::sync::LazyLock<TableSchema> = std::sync::LazyLock::new(output_schema);
    RunOutput {
        rows_read: 7,
        ..RunOutput::new(processor, &TABLE, &SCHEMA, day, rows)
    }
}

fn failed(message: &str) -> RunEnd {
    RunEnd {
        status: RunStatus::Failed,
        error_kind: Some(ErrorKind::Plugin),
        message: message.into(),
        rows_read: 3,
        limit: None,
        usage: RunUsage::default(),
        upstream_check: None,
    }
}

fn runs_committed_together_replace_every_date_or_none(store: Arc<dyn Store>) {
    let processor = "TogetherProcessor";
    let days = [date("2026-01-11"), date("2026-01-12"), date("2026-01-13")];
    output_table_of(store.as_ref(), processor);
    let runs = days.map(|day| claim(store.as_ref(), processor, day));
    let row_sets = days.map(|day| rows(day, &["a", "b"]));
    let outputs = |which: &[usize]| -> Vec<(&str, RunOutput<'_>)> {
        which
            .iter()
            .map(|&i| {
                (
                    runs[i].run_id.as_str(),
                    output_of(processor, days[i], &row_sets[i]),
                )
            })
            .collect()
    };
    let status = |i: usize| store.run(&runs[i].run_id).unwrap().unwrap().status;

    // One run lost its claim: nothing is written, and the others keep theirs.
    store.end_run(&runs[1].run_id, &failed("gone")).unwrap();
    let error = store.commit_runs(&outputs(&[0, 1, 2])).unwrap_err();
    if store.commit_batch_dates().is_some() {
        assert!(
            matches!(&error, StoreError::NotRunning(id) if *id == runs[1].run_id),
            "{error:?}"
        );
    }
    for day in days {
        assert!(players(store.as_ref(), day).is_empty(), "{day}: {error}");
    }
    assert_eq!(
        (status(0), status(2)),
        (RunStatus::Running, RunStatus::Running)
    );

    match store.commit_batch_dates() {
        // A store that commits dates together commits the two left as one.
        Some(dates) => {
            assert!(dates > 1, "{dates}");
            assert_eq!(store.commit_runs(&outputs(&[0, 2])).unwrap(), 4);
            assert_eq!(players(store.as_ref(), days[0]), ["a", "b"]);
            assert_eq!(players(store.as_ref(), days[2]), ["a", "b"]);
            assert_eq!(
                (status(0), status(2)),
                (RunStatus::Success, RunStatus::Success)
            );
        }
        // A store that commits one run at a time refuses two, and one alone
        // commits as `commit_run` would.
        None => {
            assert!(store.commit_runs(&outputs(&[0, 2])).is_err());
            assert!(players(store.as_ref(), days[0]).is_empty());
            assert_eq!(store.commit_runs(&outputs(&[0])).unwrap(), 2);
            assert_eq!(status(0), RunStatus::Success);
        }
    }
}

fn claims_made_together_are_each_exclusive_and_count_attempts_per_date(store: Arc<dyn Store>) {
    let processor = "ClaimedTogether";
    let days = [date("2026-01-11"), date("2026-01-12"), date("2026-01-13")];
    // The first date is held by another run; the second ran once before.
    let holder = claim(store.as_ref(), processor, days[0]);
    let earlier = claim(store.as_ref(), processor, days[1]);
    store.end_run(&earlier.run_id, &failed("boom")).unwrap();

    let runs = days.map(|day| new_run(processor, day, LEASE));
    let claimed = store.start_runs(&runs);
    assert_eq!(claimed.len(), 3);
    match &claimed[0] {
        Err(StoreError::AlreadyRunning { run_id, .. }) => assert_eq!(*run_id, holder.run_id),
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
    let second = claimed[1].as_ref().unwrap();
    let third = claimed[2].as_ref().unwrap();
    assert_eq!(
        (second.data_date, second.attempt, second.status),
        (days[1], 2, RunStatus::Running)
    );
    assert_eq!(
        (third.data_date, third.attempt, third.status),
        (days[2], 1, RunStatus::Running)
    );
    assert_eq!(store.run(&third.run_id).unwrap().as_ref(), Some(third));

    // Claimed again together, every date is now held, each by its own run.
    let again = store.start_runs(&runs);
    let holders: Vec<String> = again
        .iter()
        .map(|claim| match claim {
            Err(StoreError::AlreadyRunning { run_id, .. }) => run_id.clone(),
            other => panic!("expected AlreadyRunning, got {other:?}"),
        })
        .collect();
    assert_eq!(
        holders,
        [&holder.run_id, &second.run_id, &third.run_id].map(String::clone)
    );
    let running = store
        .runs(&RunFilter {
            processor: Some(processor.into()),
            status: Some(RunStatus::Running),
            ..RunFilter::default()
        })
        .unwrap();
    assert_eq!(running.len(), 3, "{running:?}");
}

fn records_are_read_together_by_run_id(store: Arc<dyn Store>) {
    let first = claim(store.as_ref(), "ReadTogether", date("2026-01-11"));
    let second = claim(store.as_ref(), "ReadTogether", date("2026-01-12"));
    store.end_run(&second.run_id, &failed("boom")).unwrap();
    let ids = [
        first.run_id.clone(),
        "no-such-run".to_string(),
        second.run_id.clone(),
    ];
    let mut read = store.runs_with_ids(&ids).unwrap();
    read.sort_by_key(|run| run.data_date);
    assert_eq!(read, [first, store.run(&second.run_id).unwrap().unwrap()]);
    assert!(store.runs_with_ids(&[]).unwrap().is_empty());
}

fn a_read_ahead_answers_each_date_as_the_store_does(store: Arc<dyn Store>) {
    use slate::store::read_ahead::ReadAhead;
    let days = [date("2026-01-11"), date("2026-01-12"), date("2026-01-13")];
    output_table_of(store.as_ref(), "ReadAheadProcessor");
    for (i, day) in days.iter().enumerate() {
        let run = claim(store.as_ref(), "ReadAheadProcessor", *day);
        let players = ["a", "b", "c"][..=i].to_vec();
        commit(store.as_ref(), &run.run_id, *day, &rows(*day, &players)).unwrap();
    }
    let ahead = ReadAhead::new(store.clone(), days[1]);
    let table = output_table();
    let names = |columns: &[&str]| columns.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let sorted = |mut rows: RowSet| {
        rows.rows.sort_by_key(|row| format!("{row:?}"));
        rows
    };
    for (start, end) in [
        (days[0], days[0]),
        (days[0], days[1]),
        (days[1], days[1]),
        // Past the read-ahead's last date: read from the store.
        (days[1], days[2]),
        (days[0], days[2]),
    ] {
        for columns in [
            None,
            Some(names(&["points", "player_lookup"])),
            Some(names(&["points"])),
        ] {
            let expected = store
                .select(TableSpan::new(&table, start, end), columns.as_deref())
                .unwrap();
            let read = ahead
                .select(TableSpan::new(&table, start, end), columns.as_deref())
                .unwrap();
            assert_eq!(
                sorted(read),
                sorted(expected),
                "{start}..={end} {columns:?}"
            );
        }
    }
    // A date without rows packs by the schema, as the store packs it.
    let before = date("2026-01-10");
    let span = TableSpan::new(&table, before, before);
    let columns = names(&["points", "player_lookup"]);
    assert_eq!(
        ahead.read_column_batch(span, &columns).unwrap(),
        store.read_column_batch(span, &columns).unwrap()
    );
    let unknown = ahead
        .select(
            TableSpan::new(&table, days[0], days[1]),
            Some(&names(&["rebounds"])),
        )
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "table slate_test.history_behaviour has no column `rebounds`"
    );
    let missing = TableName::new("slate_test", "no_such_table");
    assert!(
        ahead
            .select(TableSpan::new(&missing, days[0], days[1]), None)
            .is_err()
    );
}

fn a_claim_is_exclusive_until_the_run_ends_and_attempts_count_up(store: Arc<dyn Store>) {
    let day = date("2026-01-11");
    let first = claim(store.as_ref(), "ClaimProcessor", day);
    assert_eq!((first.status, first.attempt), (RunStatus::Running, 1));
    assert_eq!(first.plugin_hash, "hash-of-ClaimProcessor");

    match store.start_run(&new_run("ClaimProcessor", day, LEASE)) {
        Err(StoreError::AlreadyRunning { run_id, .. }) => assert_eq!(run_id, first.run_id),
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
    // Another date, or another processor, is not blocked.
    claim(store.as_ref(), "ClaimProcessor", date("2026-01-12"));
    claim(store.as_ref(), "OtherProcessor", day);

    store.end_run(&first.run_id, &failed("boom")).unwrap();
    let ended = store.run(&first.run_id).unwrap().unwrap();
    assert_eq!(ended.status, RunStatus::Failed);
    assert_eq!(ended.error_kind, Some(ErrorKind::Plugin));
    assert_eq!(ended.error_message.as_deref(), Some("boom"));
    assert_eq!(ended.rows_read, 3);
    assert!(ended.finished_at.is_some() && ended.duration_ms.is_some());
    assert!(matches!(
        store.end_run(&first.run_id, &failed("again")),
        Err(StoreError::NotRunning(_))
    ));

    let second = claim(store.as_ref(), "ClaimProcessor", day);
    assert_eq!(second.attempt, 2);
}

fn a_commit_replaces_only_its_date_and_a_rerun_never_duplicates(store: Arc<dyn Store>) {
    let (day, other_day) = (date("2026-01-11"), date("2026-01-12"));
    output_table_of(store.as_ref(), "ReplaceProcessor");
    store
        .replace_partitions(&output_table(), &[other_day], &rows(other_day, &["z"]))
        .unwrap();

    let run = claim(store.as_ref(), "ReplaceProcessor", day);
    assert_eq!(
        commit(
            store.as_ref(),
            &run.run_id,
            day,
            &rows(day, &["a", "b", "c"])
        )
        .unwrap(),
        3
    );
    let committed = store.run(&run.run_id).unwrap().unwrap();
    assert_eq!(committed.status, RunStatus::Success);
    assert_eq!((committed.rows_written, committed.rows_read), (3, 7));
    assert_eq!(committed.reason.as_deref(), Some("committed 3 rows"));

    let rerun = claim(store.as_ref(), "ReplaceProcessor", day);
    commit(store.as_ref(), &rerun.run_id, day, &rows(day, &["a", "d"])).unwrap();

    assert_eq!(players(store.as_ref(), day), ["a", "d"]);
    assert_eq!(players(store.as_ref(), other_day), ["z"]);
    assert_eq!(store.rows_on(&output_table(), day).unwrap(), 2);
    assert_eq!(
        store.partition_counts(&output_table()).unwrap(),
        [(day, 2), (other_day, 1)]
    );
    assert_eq!(
        store
            .partition_counts_within(&output_table(), Some(day..=day))
            .unwrap(),
        [(day, 2)],
        "a range counts only its own dates"
    );
    let present = |first: &str, last: &str| {
        let dates = store.partition_dates_within(&output_table(), date(first)..=date(last));
        dates.unwrap().into_iter().collect::<Vec<_>>()
    };
    assert_eq!(present("2025-10-01", "2026-04-30"), [day, other_day]);
    assert_eq!(present("2026-01-12", "2026-01-31"), [other_day]);
    assert_eq!(present("2026-01-11", "2026-01-11"), [day]);
    assert!(present("2026-01-13", "2026-04-30").is_empty());
}

fn a_commit_that_cannot_load_leaves_the_previous_rows_and_the_claim(store: Arc<dyn Store>) {
    let day = date("2026-01-11");
    output_table_of(store.as_ref(), "LoadProcessor");
    let run = claim(store.as_ref(), "LoadProcessor", day);
    commit(store.as_ref(), &run.run_id, day, &rows(day, &["a", "b"])).unwrap();

    let rerun = claim(store.as_ref(), "LoadProcessor", day);
    let mut bad = rows(day, &["c"]);
    bad.columns[2] = "no_such_column".into();
    let error = commit(store.as_ref(), &rerun.run_id, day, &bad).unwrap_err();
    assert!(error.to_string().contains("no_such_column"), "{error}");

    assert_eq!(players(store.as_ref(), day), ["a", "b"]);
    let record = store.run(&rerun.run_id).unwrap().unwrap();
    assert_eq!(
        record.status,
        RunStatus::Running,
        "the caller records the failure"
    );
}

fn a_reaped_run_cannot_commit_and_writes_nothing(store: Arc<dyn Store>) {
    let day = date("2026-01-11");
    output_table_of(store.as_ref(), "ReapedProcessor");
    let run = store
        .start_run(&new_run("ReapedProcessor", day, Duration::from_millis(1)))
        .unwrap();
    // Reap as of a second later, past the 1 ms lease: no sleeping.
    assert_eq!(store.reap_stale(later()).unwrap().len(), 1);

    let error = commit(store.as_ref(), &run.run_id, day, &rows(day, &["late"])).unwrap_err();
    assert!(matches!(error, StoreError::NotRunning(_)), "{error}");
    assert!(players(store.as_ref(), day).is_empty());
    assert_eq!(
        store.run(&run.run_id).unwrap().unwrap().error_kind,
        Some(ErrorKind::Stale)
    );
}

fn a_stale_run_is_reaped_exactly_once_by_concurrent_reapers(store: Arc<dyn Store>) {
    let day = date("2026-01-11");
    let live = claim(store.as_ref(), "LiveProcessor", day);
    let stale = store
        .start_run(&new_run("StaleProcessor", day, Duration::from_millis(1)))
        .unwrap();

    let barrier = Barrier::new(2);
    let reaped: Vec<Vec<String>> = std::thread::scope(|scope| {
        let reapers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    store
                        .reap_stale(later())
                        .unwrap()
                        .into_iter()
                        .map(|r| r.run_id)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        reapers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let all: Vec<&String> = reaped.iter().flatten().collect();
    assert_eq!(all, [&stale.run_id], "reaped exactly once: {reaped:?}");

    assert_reaped_as_stale(
        &store.run(&stale.run_id).unwrap().unwrap(),
        "behaviour-host:1",
        stale.heartbeat_at,
    );
    assert_eq!(
        store.run(&live.run_id).unwrap().unwrap().status,
        RunStatus::Running
    );
    assert!(
        store.reap_stale(Utc::now()).unwrap().is_empty(),
        "idempotent"
    );
}

fn renewed_leases_keep_a_run_live_and_expired_ones_make_it_stale(store: Arc<dyn Store>) {
    let day = date("2026-01-11");
    let run = store
        .start_run(&new_run("LeaseProcessor", day, Duration::from_millis(1)))
        .unwrap();
    assert_eq!(
        store
            .renew_leases(std::slice::from_ref(&run.run_id), LEASE)
            .unwrap(),
        1
    );
    assert!(store.reap_stale(later()).unwrap().is_empty(), "renewed");
    let renewed = store.run(&run.run_id).unwrap().unwrap();
    assert!(renewed.lease_expires_at > Utc::now() + chrono::Duration::seconds(30));

    // Runs started since a given instant keep their leases: a process
    // expiring what an earlier process with its id left keeps its own.
    assert_eq!(
        store
            .expire_leases("behaviour-host:1", renewed.started_at)
            .unwrap(),
        0
    );
    assert!(store.reap_stale(later()).unwrap().is_empty(), "kept");

    // The host is known to be gone: its leases expire at once.
    assert_eq!(
        store.expire_leases("behaviour-host:1", Utc::now()).unwrap(),
        1
    );
    let stale = store
        .runs(&RunFilter {
            stale_as_of: Some(Utc::now()),
            ..RunFilter::default()
        })
        .unwrap();
    assert_eq!(stale.len(), 1);
    assert_eq!(store.reap_stale(Utc::now()).unwrap().len(), 1);
    assert_eq!(
        store.renew_leases(&[run.run_id], LEASE).unwrap(),
        0,
        "not running"
    );
}

fn a_flag_stays_with_the_run_when_it_ends(store: Arc<dyn Store>) {
    let run = claim(store.as_ref(), "FlaggedProcessor", date("2026-01-11"));
    store
        .flag_run(&run.run_id, "still running after 4h; cancelling")
        .unwrap();
    store.end_run(&run.run_id, &failed("cancelled")).unwrap();
    let ended = store.run(&run.run_id).unwrap().unwrap();
    assert_eq!(
        ended.flag.as_deref(),
        Some("still running after 4h; cancelling")
    );
    assert_eq!(ended.reason.as_deref(), Some("cancelled"));
}

/// A run its host gave up (the store failed as it recorded the run's end)
/// is flagged with why and its lease expired: the next reap ends it, the
/// flag in its reason beside "stopped renewing". One with no flag reads as
/// before.
fn a_run_given_up_by_its_host_is_reaped_at_once_saying_why(store: Arc<dyn Store>) {
    let given_up = claim(store.as_ref(), "GivenUpProcessor", date("2026-01-11"));
    let silent = claim(store.as_ref(), "SilentProcessor", date("2026-01-11"));
    let why = "its host gave it up: the store failed: disk full";
    store.flag_run(&given_up.run_id, why).unwrap();

    let expired = store
        .renew_leases(
            &[given_up.run_id.clone(), silent.run_id.clone()],
            Duration::ZERO,
        )
        .unwrap();
    let reaped = store.reap_stale(later()).unwrap();

    assert_eq!((expired, reaped.len()), (2, 2), "{reaped:#?}");
    let reason = |run: &RunRecord| {
        let record = store.run(&run.run_id).unwrap().unwrap();
        assert_eq!(record.error_kind, Some(ErrorKind::Stale));
        record.reason.unwrap()
    };
    let given_up = reason(&given_up);
    assert_contains(&given_up, " stopped renewing at ");
    assert!(given_up.ends_with(&format!(" ({why})")), "{given_up}");
    assert!(!reason(&silent).contains('('), "{}", reason(&silent));
}

/// The phase a claim names stays with the run, claimed alone or with
/// others, through its end and a reap: what a host that does not load the
/// processor judges the run's phase by.
fn a_run_keeps_its_processors_phase_from_claim_to_reap(store: Arc<dyn Store>) {
    use slate::phase::Phase;
    let alone = store
        .start_run(&NewRun {
            phase: Phase::Predictions,
            ..new_run("PhasedProcessor", date("2026-01-11"), LEASE)
        })
        .unwrap();
    assert_eq!(alone.phase, Some(Phase::Predictions));
    let together: Vec<RunRecord> = store
        .start_runs(&[
            NewRun {
                phase: Phase::Analytics,
                ..new_run("PhasedProcessor", date("2026-01-12"), LEASE)
            },
            new_run(
                "PhasedProcessor",
                date("2026-01-13"),
                Duration::from_millis(1),
            ),
        ])
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        together.iter().map(|run| run.phase).collect::<Vec<_>>(),
        [Some(Phase::Analytics), Some(Phase::Precompute)]
    );

    store.end_run(&alone.run_id, &failed("gone")).unwrap();
    let reaped = store.reap_stale(later()).unwrap();
    assert_eq!(
        reaped
            .iter()
            .map(|run| (&run.run_id, run.phase))
            .collect::<Vec<_>>(),
        [(&together[1].run_id, Some(Phase::Precompute))]
    );
    let phases: Vec<(NaiveDate, Option<Phase>)> = store
        .runs(&RunFilter {
            processor: Some("PhasedProcessor".into()),
            ..RunFilter::default()
        })
        .unwrap()
        .into_iter()
        .map(|run| (run.data_date, run.phase))
        .collect();
    assert_eq!(
        phases,
        [
            (date("2026-01-13"), Some(Phase::Precompute)),
            (date("2026-01-12"), Some(Phase::Analytics)),
            (date("2026-01-11"), Some(Phase::Predictions)),
        ]
    );
}

fn runs_filter_by_date_date_range_processor_status_and_plugin_hash(store: Arc<dyn Store>) {
    let (d1, d2) = (date("2026-01-11"), date("2026-01-12"));
    let a1 = claim(store.as_ref(), "A", d1);
    store.end_run(&a1.run_id, &failed("x")).unwrap();
    let a2 = claim(store.as_ref(), "A", d2);
    let b1 = claim(store.as_ref(), "B", d1);
    let ids = |filter: RunFilter| -> Vec<String> {
        store
            .runs(&filter)
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect()
    };
    assert_eq!(
        ids(RunFilter::default()),
        [b1.run_id.clone(), a2.run_id.clone(), a1.run_id.clone()],
        "newest first"
    );
    assert_eq!(
        ids(RunFilter {
            date: Some(d1),
            ..RunFilter::default()
        }),
        [b1.run_id.clone(), a1.run_id.clone()]
    );
    let a3 = claim(store.as_ref(), "A", date("2026-01-13"));
    assert_eq!(
        ids(RunFilter {
            processor: Some("A".into()),
            dates: Some(d2..=date("2026-01-13")),
            ..RunFilter::default()
        }),
        [a3.run_id.clone(), a2.run_id.clone()],
        "both ends of the range are included"
    );
    assert_eq!(
        ids(RunFilter {
            processor: Some("A".into()),
            status: Some(RunStatus::Failed),
            ..RunFilter::default()
        }),
        [a1.run_id]
    );
    assert_eq!(
        ids(RunFilter {
            plugin_hash: Some("hash-of-B".into()),
            ..RunFilter::default()
        }),
        std::slice::from_ref(&b1.run_id)
    );
    assert_eq!(
        ids(RunFilter {
            limit: Some(1),
            ..RunFilter::default()
        }),
        [a3.run_id]
    );
}

/// What `/events` reads of other processes' runs: a run started before
/// the instant counts only once it ends after it.
fn the_runs_changed_since_an_instant_are_those_that_started_or_ended_from_it(
    store: Arc<dyn Store>,
) {
    let day = date("2026-01-11");
    let _still_running = claim(store.as_ref(), "StillRunning", date("2026-01-10"));
    let ends_later = claim(store.as_ref(), "EndsLater", day);
    let before = claim(store.as_ref(), "EndedBefore", day);
    store.end_run(&before.run_id, &failed("x")).unwrap();
    let before = store.run(&before.run_id).unwrap().unwrap();
    let instant = before.changed_at() + chrono::Duration::microseconds(1);
    store.end_run(&ends_later.run_id, &failed("y")).unwrap();
    let starts_later = claim(store.as_ref(), "StartsLater", day);

    let changed = |since| -> Vec<String> {
        let mut names: Vec<String> = store
            .runs(&RunFilter {
                changed_since: Some(since),
                ..RunFilter::default()
            })
            .unwrap()
            .into_iter()
            .map(|run| run.processor)
            .collect();
        names.sort();
        names
    };
    assert_eq!(changed(instant), ["EndsLater", "StartsLater"]);
    assert_eq!(
        changed(before.changed_at()),
        ["EndedBefore", "EndsLater", "StartsLater"],
        "the instant itself is included"
    );
    let last = store.run(&starts_later.run_id).unwrap().unwrap();
    assert!(changed(last.changed_at() + chrono::Duration::seconds(1)).is_empty());
}

fn quarantined_rows_are_committed_with_the_run(store: Arc<dyn Store>) {
    let day = date("2026-01-11");
    output_table_of(store.as_ref(), "QuarantineProcessor");
    let run = claim(store.as_ref(), "QuarantineProcessor", day);
    let quarantined = vec![QuarantinedRow {
        row_index: 4,
        errors: vec![slate::validate::FieldError {
            row_index: Some(4),
            row_key: "player_lookup=\"e\"".into(),
            field: "points".into(),
            expected: "NULLABLE INT64".into(),
            value: "STRING \"lots\"".into(),
            problem: "a STRING value cannot go into an INT64 column".into(),
        }],
        // Read back to the byte: a JSON cell keeps its order, its
        // duplicate key and its digits past a double's precision.
        raw_row: slate::quarantine::RawRow::from_stored(
            r#"{"player_lookup":"e","points":"it's \"lots\"\n","detail":{"z":1,"a":123456789012345678901234567890,"z":2}}"#
                .into(),
        )
        .unwrap(),
    }];
    let (table, schema, rows) = (output_table(), output_schema(), rows(day, &["a", "b"]));
    let output = RunOutput {
        rows_read: 5,
        quarantined: &quarantined,
        ..RunOutput::new("QuarantineProcessor", &table, &schema, day, &rows)
    };
    let written = store.commit_run(&run.run_id, &output).unwrap();
    assert_eq!(written, 2);
    let records = store.quarantined(Some(&run.run_id), None).unwrap();
    assert_eq!(records.len(), 1);
    assert!(
        store
            .quarantined(Some(&run.run_id), Some(0))
            .unwrap()
            .is_empty(),
        "a limit holds"
    );
    assert_eq!(
        store.quarantine_counts(day..=day).unwrap(),
        std::collections::HashMap::from([(run.run_id.clone(), 1)]),
        "counted by the store"
    );
    let later = day.succ_opt().unwrap()..=date("2026-01-31");
    assert!(store.quarantine_counts(later).unwrap().is_empty());
    assert_eq!(records[0].processor, "QuarantineProcessor");
    assert_eq!(records[0].data_date, day);
    assert_eq!(records[0].table_name, "slate_test.history_behaviour");
    assert_eq!(records[0].row_index, 4);
    assert_eq!(records[0].errors, quarantined[0].errors);
    assert_eq!(records[0].raw_row.as_str(), quarantined[0].raw_row.as_str());
    assert!(
        store
            .quarantined(Some("another-run"), None)
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .run(&run.run_id)
            .unwrap()
            .unwrap()
            .reason
            .unwrap()
            .contains("quarantined 1 bad row")
    );
}

fn schema_drift_adds_nullable_columns_and_refuses_the_rest(store: Arc<dyn Store>) {
    let day = date("2026-01-11");
    output_table_holding(store.as_ref(), day, &["a"]);

    let mut grown = output_schema();
    grown.columns.push(Column::new(
        "minutes",
        ColumnType::Float64,
        ColumnMode::Nullable,
    ));
    store.ensure_table(&output_table(), &grown).unwrap();
    let live = store.table_schema(&output_table()).unwrap().unwrap();
    assert_eq!(live.columns.last().unwrap().name, "minutes");
    let old = store.read_rows(&output_table(), day, day).unwrap();
    assert_eq!(old.columns.last().unwrap(), "minutes");
    assert_eq!(old.rows[0].last(), Some(&Value::Null));

    // The earlier schema again (a rollback): `minutes` stays in the live
    // table, and the rows written without it read NULL there.
    store
        .ensure_table(&output_table(), &output_schema())
        .unwrap();
    let later = date("2026-01-12");
    store
        .replace_partitions(&output_table(), &[later], &rows(later, &["b"]))
        .unwrap();
    let live = store.table_schema(&output_table()).unwrap().unwrap();
    assert_eq!(live.columns.last().unwrap().name, "minutes");
    let new = store.read_rows(&output_table(), later, later).unwrap();
    assert_eq!(new.columns.last().unwrap(), "minutes");
    assert_eq!(new.rows[0].last(), Some(&Value::Null));

    let mut changed = grown.clone();
    changed.columns[2] = Column::new("points", ColumnType::String, ColumnMode::Nullable);
    changed.columns.retain(|c| c.name != "player_lookup");
    let refused = store.ensure_table(&output_table(), &changed).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "slate_test.history_behaviour: the live table's schema differs from the processor's, \
         and only new NULLABLE columns can be added: column `player_lookup` (REQUIRED STRING) \
         is in the live table but no longer declared, and its new rows could not hold it; \
         column `points` changes type from INT64 to STRING"
    );
    assert!(
        store
            .table_schema(&TableName::new("slate_test", "missing"))
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .rows_on(&TableName::new("slate_test", "missing"), day)
            .unwrap(),
        0
    );
}

fn read_columns_returns_only_the_named_columns_in_their_order(store: Arc<dyn Store>) {
    let day = date("2026-01-11");
    output_table_holding(store.as_ref(), day, &["a", "b"]);
    let names = |columns: &[&str]| columns.iter().map(|c| c.to_string()).collect::<Vec<_>>();

    let projected = store
        .read_columns(
            &output_table(),
            day,
            day,
            &names(&["points", "player_lookup"]),
        )
        .unwrap();
    assert_eq!(projected.columns, ["points", "player_lookup"]);
    let mut cells: Vec<(Value, Value)> = projected
        .rows
        .iter()
        .map(|row| (row[0].clone(), row[1].clone()))
        .collect();
    cells.sort_by_key(|(points, _)| format!("{points:?}"));
    assert_eq!(
        cells,
        [
            (
                Value::Scalar(Scalar::Int64(0)),
                Value::Scalar(Scalar::String("a".into()))
            ),
            (
                Value::Scalar(Scalar::Int64(10)),
                Value::Scalar(Scalar::String("b".into()))
            ),
        ]
    );

    let unknown = store
        .read_columns(&output_table(), day, day, &names(&["points", "rebounds"]))
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "table slate_test.history_behaviour has no column `rebounds`"
    );
}

fn a_table_has_one_owner_and_moves_only_by_a_recorded_transfer(store: Arc<dyn Store>) {
    use slate::ownership::{OwnershipRefused, TableOwner};
    let day = date("2026-01-11");
    let owner = claim(store.as_ref(), "OwnerProcessor", day);
    commit(store.as_ref(), &owner.run_id, day, &rows(day, &["a", "b"])).unwrap();
    assert_eq!(
        store.table_owner(&output_table()).unwrap(),
        Some(TableOwner::Processor("OwnerProcessor".into()))
    );

    // Another processor's commit writes nothing and names the owner.
    let thief = claim(store.as_ref(), "ThiefProcessor", day);
    match commit(store.as_ref(), &thief.run_id, day, &rows(day, &[])) {
        Err(StoreError::Ownership(OwnershipRefused::OwnedByAnother { owner, .. })) => {
            assert_eq!(owner, "OwnerProcessor")
        }
        other => panic!("the thief's commit was not refused: {other:?}"),
    }
    assert_eq!(players(store.as_ref(), day), ["a", "b"]);

    // A table the host loads is a raw input; a processor's table cannot
    // become one.
    let raw = TableName::new("slate_test", "raw_behaviour");
    store.ensure_table(&raw, &output_schema()).unwrap();
    assert_eq!(store.table_owner(&raw).unwrap(), Some(TableOwner::RawInput));
    match store.ensure_table(&output_table(), &output_schema()) {
        Err(StoreError::Ownership(OwnershipRefused::ProcessorsTable { table, owner })) => {
            assert_eq!((table, owner.as_str()), (output_table(), "OwnerProcessor"));
        }
        other => panic!("a processor's table was loaded as a raw input: {other:?}"),
    }

    // Only a transfer moves it, and the transfer is recorded.
    let moved = store
        .transfer_table(
            &output_table(),
            &TableOwner::Processor("ThiefProcessor".into()),
            "operator",
        )
        .unwrap();
    assert_eq!(
        store.table_owner(&output_table()).unwrap(),
        Some(TableOwner::Processor("ThiefProcessor".into()))
    );
    let transfers = store.table_transfers().unwrap();
    assert_eq!(transfers.len(), 1);
    assert_eq!(
        (
            &transfers[0].from,
            &transfers[0].to,
            transfers[0].by.as_str()
        ),
        (&moved.from, &moved.to, "operator")
    );
    let owners = store.table_owners().unwrap();
    assert_eq!(
        owners
            .iter()
            .map(|o| o.table.to_string())
            .collect::<Vec<_>>(),
        ["slate_test.history_behaviour", "slate_test.raw_behaviour"]
    );
}

fn a_first_commit_creates_the_table_and_a_failed_run_creates_none(store: Arc<dyn Store>) {
    let day = date("2026-01-11");
    let failing = claim(store.as_ref(), "FailingProcessor", day);
    store
        .check_output_table(&output_table(), &output_schema())
        .unwrap();
    store.end_run(&failing.run_id, &failed("boom")).unwrap();
    assert_eq!(store.table_schema(&output_table()).unwrap(), None);

    let first = claim(store.as_ref(), "FailingProcessor", day);
    commit(store.as_ref(), &first.run_id, day, &rows(day, &["a"])).unwrap();
    assert!(store.table_schema(&output_table()).unwrap().is_some());
    assert_eq!(players(store.as_ref(), day), ["a"]);
}

fn first_commits_at_once_of_tables_in_one_new_dataset_each_create_their_table(
    store: Arc<dyn Store>,
) {
    // As the three phase 3 processors of a first backfill date do: each
    // the first writer of its own table, all in one dataset no table had.
    const WRITERS: usize = 4;
    let day = date("2026-01-11");
    let tables: Vec<TableName> = (0..WRITERS)
        .map(|i| TableName::new("new_dataset", &format!("table_{i}")))
        .collect();
    let schema = output_schema();
    let rows = rows(day, &["a"]);
    let claims: Vec<RunRecord> = (0..WRITERS)
        .map(|i| claim(store.as_ref(), &format!("Writer{i}"), day))
        .collect();
    let barrier = Barrier::new(WRITERS);
    let commits: Vec<Result<usize, StoreError>> = std::thread::scope(|scope| {
        let writers: Vec<_> = claims
            .iter()
            .zip(&tables)
            .map(|(run, table)| {
                let (store, barrier, schema, rows) = (&store, &barrier, &schema, &rows);
                scope.spawn(move || {
                    barrier.wait();
                    let output = RunOutput::new(&run.processor, table, schema, day, rows);
                    store.commit_run(&run.run_id, &output)
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for ((table, commit), run) in tables.iter().zip(&commits).zip(&claims) {
        assert_eq!(commit.as_ref().ok(), Some(&1), "{table}: {commit:?}");
        let written = store
            .read_rows(table, day, day)
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        assert_eq!(written.rows.len(), 1, "{table}");
        assert_eq!(
            store.run(&run.run_id).unwrap().unwrap().status,
            RunStatus::Success
        );
    }
}

fn what_the_guest_used_is_recorded_with_the_run(store: Arc<dyn Store>) {
    let day = date("2026-01-11");
    let usage = RunUsage {
        log_lines_dropped: 12_345,
        peak_memory_bytes: 3 << 20,
    };
    let noisy = claim(store.as_ref(), "NoisyProcessor", day);
    let end = RunEnd {
        usage,
        ..failed("too loud")
    };
    store.end_run(&noisy.run_id, &end).unwrap();
    let record = store.run(&noisy.run_id).unwrap().unwrap();
    assert_eq!(
        (record.log_lines_dropped, record.peak_memory_bytes),
        (12_345, 3 << 20)
    );

    let committed = claim(store.as_ref(), "NoisyProcessor", day);
    let (table, schema, rows) = (output_table(), output_schema(), rows(day, &["a"]));
    let output = RunOutput {
        rows_read: 1,
        usage,
        ..RunOutput::new("NoisyProcessor", &table, &schema, day, &rows)
    };
    store.commit_run(&committed.run_id, &output).unwrap();
    let record = store.run(&committed.run_id).unwrap().unwrap();
    assert_eq!(record.peak_memory_bytes, 3 << 20);
}

fn the_upstream_check_and_the_rows_with_quality_issues_are_recorded_with_the_run(
    store: Arc<dyn Store>,
) {
    let day = date("2026-01-12");
    let check = |status, safe| UpstreamCheck {
        upstreams: vec![UpstreamDecision {
            upstream: "Upstream".into(),
            status,
            run_id: Some("0190-upstream-run".into()),
            rows_present: 42,
            safe_to_process: safe,
            reason: "upstream Upstream is success for 2026-01-12 (run 0190-upstream-run)".into(),
            age_seconds: Some(5),
        }],
        gaps: vec![Gap {
            date: date("2026-01-06"),
            upstream: "Upstream".into(),
        }],
        read_window: Default::default(),
    };

    let blocked = claim(store.as_ref(), "CheckedProcessor", day);
    let end = RunEnd {
        status: RunStatus::Blocked,
        error_kind: Some(ErrorKind::Upstream),
        upstream_check: Some(check(UpstreamStatus::Failed, false)),
        ..failed("upstream Upstream is failed")
    };
    store.end_run(&blocked.run_id, &end).unwrap();
    let record = store.run(&blocked.run_id).unwrap().unwrap();
    assert_eq!(
        record.upstream_check,
        Some(check(UpstreamStatus::Failed, false))
    );
    assert_eq!(record.rows_with_quality_issues, 0);

    let went_ahead = claim(store.as_ref(), "CheckedProcessor", day);
    let passed = check(UpstreamStatus::Success, true);
    let (table, schema, rows) = (output_table(), output_schema(), rows(day, &["a", "b", "c"]));
    let output = RunOutput {
        rows_read: 3,
        rows_with_quality_issues: 2,
        upstream_check: Some(&passed),
        ..RunOutput::new("CheckedProcessor", &table, &schema, day, &rows)
    };
    store.commit_run(&went_ahead.run_id, &output).unwrap();
    let record = store.run(&went_ahead.run_id).unwrap().unwrap();
    assert_eq!(record.upstream_check.as_ref(), Some(&passed));
    assert_eq!(record.rows_with_quality_issues, 2);
    // A reader of statuses may leave the check unread.
    let statuses = store
        .runs(&RunFilter {
            processor: Some("CheckedProcessor".into()),
            skip_upstream_check: true,
            ..RunFilter::default()
        })
        .unwrap();
    let unread = statuses
        .iter()
        .find(|r| r.run_id == went_ahead.run_id)
        .unwrap();
    assert_eq!(unread.upstream_check, None);
    assert_eq!(unread.rows_with_quality_issues, 2);
    assert_eq!(unread.status, RunStatus::Success);

    let unchecked = claim(store.as_ref(), "CheckedProcessor", day);
    store.end_run(&unchecked.run_id, &failed("alone")).unwrap();
    let record = store.run(&unchecked.run_id).unwrap().unwrap();
    assert_eq!(record.upstream_check, None);
}

fn a_dropped_table_loses_its_rows_schema_and_owner_and_a_second_drop_finds_nothing(
    store: Arc<dyn Store>,
) {
    let day = date("2026-01-13");
    let run = claim(store.as_ref(), "DroppedProcessor", day);
    commit(store.as_ref(), &run.run_id, day, &rows(day, &["a", "b"])).unwrap();
    assert_eq!(store.rows_on(&output_table(), day).unwrap(), 2);
    assert!(store.table_owner(&output_table()).unwrap().is_some());

    assert!(store.drop_table(&output_table()).unwrap());
    assert_eq!(store.table_schema(&output_table()).unwrap(), None);
    assert_eq!(store.table_owner(&output_table()).unwrap(), None);
    assert_eq!(store.rows_on(&output_table(), day).unwrap(), 0);
    assert!(!store.drop_table(&output_table()).unwrap(), "already gone");

    // The name can be made again, empty, by the next first commit.
    let again = claim(store.as_ref(), "DroppedProcessor", day);
    commit(store.as_ref(), &again.run_id, day, &rows(day, &["c"])).unwrap();
    assert_eq!(store.rows_on(&output_table(), day).unwrap(), 1);
}

/// A table with a column of every type and mode, partitioned by `day`.
fn every_type_schema() -> TableSchema {
    let column = |name: &str, column_type, mode| Column::new(name, column_type, mode);
    TableSchema {
        columns: vec![
            column("day", ColumnType::Date, ColumnMode::Required),
            column("name", ColumnType::String, ColumnMode::Nullable),
            column("n", ColumnType::Int64, ColumnMode::Nullable),
            column("x", ColumnType::Float64, ColumnMode::Nullable),
            column("amount", ColumnType::Numeric, ColumnMode::Nullable),
            column("flag", ColumnType::Bool, ColumnMode::Nullable),
            column("at", ColumnType::Timestamp, ColumnMode::Nullable),
            column("doc", ColumnType::Json, ColumnMode::Nullable),
            column("born", ColumnType::Date, ColumnMode::Nullable),
            column("tags", ColumnType::String, ColumnMode::Repeated),
        ],
        partition_column: "day".into(),
        key_columns: vec![],
    }
}

fn every_type_and_every_null_reads_back_as_written_in_the_order_written(store: Arc<dyn Store>) {
    let schema = every_type_schema();
    let table = TableName::new("slate_test", "every_type");
    let day = date("2026-01-15");
    let scalar = Value::Scalar;
    let text = |s: &str| Value::Scalar(Scalar::String(s.into()));
    let wit_day = slate::rows::wit_date(day);
    let rows = RowSet {
        columns: schema.columns.iter().map(|c| c.name.clone()).collect(),
        rows: vec![
            vec![
                scalar(Scalar::Date(wit_day)),
                text("tab\there, newline\nthere, back\\slash, ünïcode"),
                scalar(Scalar::Int64(i64::MIN)),
                scalar(Scalar::Float64(0.1)),
                scalar(Scalar::Numeric("12.5".into())),
                scalar(Scalar::Boolean(true)),
                scalar(Scalar::Timestamp(1_767_225_600_123_456)),
                scalar(Scalar::Json("{\"k\":[1,2]}".into())),
                scalar(Scalar::Date(slate::rows::wit_date(date("1969-12-30")))),
                Value::Repeated(vec![
                    Scalar::String("a".into()),
                    Scalar::String(String::new()),
                ]),
            ],
            // Every nullable column null; the repeated one empty.
            [
                vec![scalar(Scalar::Date(wit_day))],
                vec![Value::Null; 8],
                vec![Value::Repeated(Vec::new())],
            ]
            .concat(),
            vec![
                scalar(Scalar::Date(wit_day)),
                text(""),
                scalar(Scalar::Int64(i64::MAX)),
                scalar(Scalar::Float64(-2.5e-300)),
                scalar(Scalar::Numeric("-3.000000001".into())),
                scalar(Scalar::Boolean(false)),
                scalar(Scalar::Timestamp(-1)),
                // Not the document `null`: a BigQuery load reads it as NULL.
                scalar(Scalar::Json("[true,\"x\"]".into())),
                scalar(Scalar::Date(slate::rows::wit_date(date("2026-04-12")))),
                Value::Repeated(vec![Scalar::String("\\N".into())]),
            ],
        ],
    };
    store.ensure_table(&table, &schema).unwrap();
    store.replace_partitions(&table, &[day], &rows).unwrap();

    let read = store.read_rows(&table, day, day).unwrap();
    assert_eq!(read.columns, rows.columns);
    for (index, (read, written)) in read.rows.iter().zip(&rows.rows).enumerate() {
        assert_eq!(read, written, "row {index}");
    }
    assert_eq!(read.rows.len(), rows.rows.len());

    // Packed column by column, in another order: what packing the rows gives.
    let names: Vec<String> = [
        "tags", "x", "day", "name", "at", "amount", "born", "flag", "doc", "n",
    ]
    .map(String::from)
    .to_vec();
    let batch = store
        .read_column_batch(TableSpan::new(&table, day, day), &names)
        .unwrap();
    let by_rows = slate::column_batch::pack(store.read_columns(&table, day, day, &names).unwrap());
    assert_eq!(batch, by_rows);
    assert_eq!(batch.row_count, 3);

    // Coded: the same texts through their codes, the same nulls, and a
    // column that is not STRING refused by name.
    let span = TableSpan::new(&table, day, day);
    let coded = store
        .read_coded_column_batch(span, &names[..2], &["name".to_string()])
        .unwrap();
    assert_eq!(coded.batch.columns, batch.columns[..2]);
    let name = &coded.coded[0];
    let ColumnValues::String(packed) = &batch.columns[3].values else {
        panic!("{:?}", batch.columns[3]);
    };
    assert_eq!(name.nulls, batch.columns[3].nulls);
    let text_of = |ends: &[u32], text: &str, index: usize| {
        let start = index
            .checked_sub(1)
            .map_or(0, |before| ends[before] as usize);
        text[start..ends[index] as usize].to_string()
    };
    for (row, code) in name.codes.iter().enumerate() {
        let through_code = text_of(&name.dictionary.ends, &name.dictionary.text, *code as usize);
        let packed_text = text_of(&packed.ends, &packed.text, row);
        let null = batch.columns[3]
            .nulls
            .first()
            .is_some_and(|b| (b >> row) & 1 == 1);
        assert!(
            null || through_code == packed_text,
            "row {row}: {through_code:?}"
        );
    }
    let refused = store
        .read_coded_column_batch(span, &[], &["n".to_string()])
        .unwrap_err();
    assert_contains(
        &refused.to_string(),
        "column `n` holds INT64, not STRING: only STRING columns can be read coded",
    );
}

fn an_empty_or_all_null_read_packs_each_column_by_its_type(store: Arc<dyn Store>) {
    use slate::column_batch::Packing;

    let schema = every_type_schema();
    let table = TableName::new("slate_test", "every_type_unset");
    let (all_null, empty) = (date("2026-01-15"), date("2026-01-16"));
    let row = [
        vec![Value::Scalar(Scalar::Date(slate::rows::wit_date(all_null)))],
        vec![Value::Null; 8],
        vec![Value::Repeated(Vec::new())],
    ]
    .concat();
    let rows = RowSet {
        columns: schema.columns.iter().map(|c| c.name.clone()).collect(),
        rows: vec![row],
    };
    store.ensure_table(&table, &schema).unwrap();
    store
        .replace_partitions(&table, &[all_null], &rows)
        .unwrap();

    for (day, row_count) in [(all_null, 1), (empty, 0)] {
        let batch = store
            .read_column_batch(TableSpan::new(&table, day, day), &rows.columns)
            .unwrap();
        assert_eq!(batch.row_count, row_count, "{day}");
        for (column, read) in schema.columns.iter().zip(&batch.columns) {
            assert_eq!(
                Packing::of_values(&read.values),
                Packing::of_column(column),
                "{day}: column `{}` packs by its type, {:?}, whatever its rows hold: {read:?}",
                column.name,
                column.column_type
            );
        }
    }
}

/// Generates one test per backend that keeps an alert outbox for each
/// behaviour function: BigQuery keeps none.
macro_rules! on_every_backend_with_an_outbox {
    ($($behaviour:ident),* $(,)?) => {
        mod with_an_outbox {
            mod embedded {
                $(
                    #[test]
                    fn $behaviour() {
                        let dir = tempfile::tempdir().unwrap();
                        let store = std::sync::Arc::new(
                            slate::store::EmbeddedStore::open(&dir.path().join("slate.db"))
                                .unwrap(),
                        );
                        super::super::$behaviour(store);
                    }
                )*
            }
            mod postgres {
                $(
                    #[test]
                    fn $behaviour() {
                        super::super::$behaviour(crate::postgres_server::isolated_store());
                    }
                )*
            }
        }
    };
}

on_every_backend_with_an_outbox!(
    a_failed_run_opens_one_alert_a_repeat_counts_up_and_a_success_resolves_it,
    a_reaped_run_raises_its_alert_with_the_reap,
    one_deliverer_at_a_time_holds_a_channel,
    a_channel_joins_after_the_last_message_and_joining_again_changes_nothing,
    of_an_event_only_the_open_alerts_and_those_resolved_by_hand_are_read,
);

/// What the no-rows sweep skips: open alerts of its event, and those an
/// operator resolved (acknowledged dates); not those a run resolved, nor
/// other events'.
fn of_an_event_only_the_open_alerts_and_those_resolved_by_hand_are_read(store: Arc<dyn Store>) {
    use slate::alerts::event::{EventKind, NewAlert, Severity};
    use slate::alerts::record::RESOLVED_BY_HAND;
    let outbox = store.alert_outbox().expect("an outbox");
    let raise = |event: EventKind, day: &str| {
        let alert = NewAlert {
            event,
            severity: Severity::Error,
            subject: "SweptProcessor".to_string(),
            data_date: Some(date(day)),
            kind: String::new(),
            run_id: None,
            summary: format!("{day}: no rows"),
            detail: serde_json::json!({}),
        };
        outbox.record_alert(&alert).unwrap().unwrap()
    };
    let open = raise(EventKind::NoRowsByDeadline, "2026-01-01");
    let acknowledged = raise(EventKind::NoRowsByDeadline, "2026-01-02");
    let fixed = raise(EventKind::NoRowsByDeadline, "2026-01-03");
    raise(EventKind::RunBlocked, "2026-01-04");
    assert!(
        outbox
            .resolve_alert(acknowledged, RESOLVED_BY_HAND)
            .unwrap()
    );
    assert!(outbox.resolve_alert(fixed, "run-7").unwrap());

    let read: Vec<i64> = outbox
        .open_or_resolved_by_hand(EventKind::NoRowsByDeadline)
        .unwrap()
        .into_iter()
        .map(|alert| alert.alert_id)
        .collect();
    assert_eq!(read, [acknowledged, open], "newest first");
}

fn a_channel_joins_after_the_last_message_and_joining_again_changes_nothing(store: Arc<dyn Store>) {
    let outbox = store.alert_outbox().expect("an outbox");
    outbox.add_channels(&["early"]).unwrap();
    let run = claim(store.as_ref(), "AlertingProcessor", date("2026-01-14"));
    store.end_run(&run.run_id, &failed("boom")).unwrap();
    let last = outbox
        .messages_after(0, 10)
        .unwrap()
        .last()
        .unwrap()
        .message_id;
    outbox.add_channels(&["early", "late"]).unwrap();
    // A channel a deliverer claims before any command added it joins too.
    let now = Utc::now();
    outbox
        .claim_channel(
            "claimed",
            "host-a",
            now + chrono::Duration::seconds(30),
            now,
            None,
        )
        .unwrap();
    let joined: Vec<(String, i64)> = outbox
        .channel_states()
        .unwrap()
        .into_iter()
        .map(|state| (state.channel, state.joined_after))
        .collect();
    assert_eq!(
        joined,
        [
            ("claimed".to_string(), last),
            ("early".to_string(), 0),
            ("late".to_string(), last)
        ]
    );
}

fn a_failed_run_opens_one_alert_a_repeat_counts_up_and_a_success_resolves_it(
    store: Arc<dyn Store>,
) {
    use slate::alerts::event::EventKind;
    use slate::alerts::record::{AlertState, Transition};
    let outbox = store.alert_outbox().expect("an outbox");
    let day = date("2026-01-14");
    let first = claim(store.as_ref(), "AlertingProcessor", day);
    store.end_run(&first.run_id, &failed("boom")).unwrap();
    let again = claim(store.as_ref(), "AlertingProcessor", day);
    store.end_run(&again.run_id, &failed("boom again")).unwrap();

    let open = outbox.alerts(true, 10).unwrap();
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0].raised.event, EventKind::RunFailed);
    assert_eq!(open[0].occurrences, 2, "the repeat counted up");
    assert_eq!(
        open[0].raised.run_id.as_deref(),
        Some(again.run_id.as_str())
    );
    assert_eq!(open[0].raised.data_date, Some(day));

    let fixed = claim(store.as_ref(), "AlertingProcessor", day);
    commit(store.as_ref(), &fixed.run_id, day, &rows(day, &["a"])).unwrap();
    assert!(outbox.alerts(true, 10).unwrap().is_empty());
    let messages = outbox.messages_after(0, 10).unwrap();
    let transitions: Vec<Transition> = messages.iter().map(|m| m.transition).collect();
    assert_eq!(transitions, [Transition::Opened, Transition::Resolved]);
    let resolved = &messages[1].alert;
    assert_eq!(resolved.state, AlertState::Resolved);
    assert_eq!(resolved.resolved_by.as_deref(), Some(fixed.run_id.as_str()));
    assert!(
        outbox
            .messages_after(messages[1].message_id, 10)
            .unwrap()
            .is_empty()
    );
}

fn a_reaped_run_raises_its_alert_with_the_reap(store: Arc<dyn Store>) {
    use slate::alerts::event::EventKind;
    let outbox = store.alert_outbox().expect("an outbox");
    let day = date("2026-01-15");
    let run = store
        .start_run(&new_run("ReapedProcessor", day, Duration::from_millis(1)))
        .unwrap();
    let reaped = store.reap_stale(later()).unwrap();
    assert_eq!(reaped.len(), 1);
    let open = outbox.alerts(true, 10).unwrap();
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0].raised.event, EventKind::StaleRunReaped);
    assert_eq!(open[0].raised.run_id.as_deref(), Some(run.run_id.as_str()));
}

fn one_deliverer_at_a_time_holds_a_channel(store: Arc<dyn Store>) {
    use slate::alerts::record::ChannelState;
    use slate::store::alerts::ChannelClaim;
    let outbox = store.alert_outbox().expect("an outbox");
    let now = Utc::now();
    let until = now + chrono::Duration::seconds(30);
    let claimed = outbox
        .claim_channel("ops", "host-a", until, now, None)
        .unwrap();
    assert!(matches!(claimed, ChannelClaim::Claimed(_)), "{claimed:?}");
    assert_eq!(
        outbox
            .claim_channel("ops", "host-b", until, now, None)
            .unwrap(),
        ChannelClaim::HeldBy("host-a".into())
    );
    // A's claim runs out: B may take it. (A claim renewed for no time has
    // run out by the next instant, by any store's clock.)
    let renewed = outbox.claim_channel("ops", "host-a", now, now, None);
    assert!(
        matches!(renewed, Ok(ChannelClaim::Claimed(_))),
        "{renewed:?}"
    );
    let later = now + chrono::Duration::milliseconds(1);
    let taken = outbox
        .claim_channel(
            "ops",
            "host-b",
            later + chrono::Duration::seconds(30),
            later,
            None,
        )
        .unwrap();
    assert!(matches!(taken, ChannelClaim::Claimed(_)), "{taken:?}");
    // B delivers through message 7 and lets go.
    let mut state = ChannelState::new("ops");
    state.delivered_through = 7;
    outbox
        .finish_delivery("host-b", None, Some(&state))
        .unwrap();
    let Ok(ChannelClaim::Claimed(seen)) = outbox.claim_channel("ops", "host-a", until, now, None)
    else {
        panic!("the channel is free again");
    };
    assert_eq!(seen.delivered_through, 7);
    assert_eq!(outbox.channel_states().unwrap()[0].delivered_through, 7);
}

/// On a database several machines share, a channel's claim runs by the
/// database's clock: a host whose clock is ten minutes ahead neither takes
/// another's live claim (two posts of one alert) nor keeps its own ten
/// minutes past its length (no delivery from any host meanwhile). Before,
/// both came of comparing the hosts' clocks.
#[test]
fn on_postgresql_a_channel_claim_runs_by_the_databases_clock() {
    use slate::store::alerts::ChannelClaim;
    let store: Arc<dyn Store> = crate::postgres_server::isolated_store();
    let outbox = store.alert_outbox().expect("an outbox");
    let now = Utc::now();
    let ahead = now + chrono::Duration::minutes(10);
    let thirty_seconds = chrono::Duration::seconds(30);
    let claim = |holder: &str, at: chrono::DateTime<Utc>, length: chrono::Duration| {
        outbox
            .claim_channel("ops", holder, at + length, at, None)
            .unwrap()
    };
    assert!(matches!(
        claim("host-a", now, thirty_seconds),
        ChannelClaim::Claimed(_)
    ));
    assert_eq!(
        claim("host-ahead", ahead, thirty_seconds),
        ChannelClaim::HeldBy("host-a".into()),
        "a live claim is not taken by a clock ahead"
    );
    // The host ahead holds the channel for a moment only.
    let released = outbox.claim_channel("ops", "host-a", now, now, None);
    assert!(
        matches!(released, Ok(ChannelClaim::Claimed(_))),
        "{released:?}"
    );
    assert!(matches!(
        claim("host-ahead", ahead, chrono::Duration::milliseconds(1)),
        ChannelClaim::Claimed(_)
    ));
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(
        matches!(
            claim("host-a", Utc::now(), thirty_seconds),
            ChannelClaim::Claimed(_)
        ),
        "the claim of the host ahead ran out by the database's clock"
    );
}

/// Run state in PostgreSQL, tables in BigQuery: a chunk of runs that
/// BigQuery committed, whose host died before PostgreSQL recorded them, is
/// found run by run in the commit log, each with its own rows.
#[test]
fn a_chunk_bigquery_committed_for_a_host_that_died_is_recovered_run_by_run() {
    use slate::store::{BigQueryStore, PostgresStore, RunLedger, SplitStore};

    let url = crate::postgres_server::isolated_url();
    let config = crate::emulator::isolated_config();
    let store = SplitStore::new(
        PostgresStore::connect(&url).unwrap(),
        BigQueryStore::connect(&config).unwrap(),
    );
    let warehouse = BigQueryStore::connect(&config).unwrap();
    assert_eq!(store.commit_batch_dates(), warehouse.commit_batch_dates());
    assert!(store.commit_batch_dates().is_some_and(|dates| dates > 1));

    let processor = "ChunkProcessor";
    let days = [date("2026-01-11"), date("2026-01-12"), date("2026-01-13")];
    output_table_of(&store, processor);
    let runs = days.map(|day| claim(&store, processor, day));
    let row_sets = [
        rows(days[0], &["a"]),
        rows(days[1], &["a", "b"]),
        rows(days[2], &["a", "b", "c"]),
    ];
    let outputs: Vec<(&str, RunOutput<'_>)> = (0..3)
        .map(|i| {
            (
                runs[i].run_id.as_str(),
                output_of(processor, days[i], &row_sets[i]),
            )
        })
        .collect();

    // The host's BigQuery transaction commits the chunk; it dies before
    // PostgreSQL marks the runs.
    assert_eq!(warehouse.commit_rows(&outputs).unwrap(), 6);
    for run in &runs {
        let still = store.run(&run.run_id).unwrap().unwrap();
        assert_eq!(still.status, RunStatus::Running);
    }

    store.expire_leases(&runs[0].host_id, Utc::now()).unwrap();
    let reaped = store.reap_stale(Utc::now()).unwrap();
    assert_eq!(reaped.len(), 3, "{reaped:#?}");
    for (i, run) in runs.iter().enumerate() {
        let recovered = store.run(&run.run_id).unwrap().unwrap();
        assert_eq!(
            (
                recovered.status,
                recovered.rows_written,
                recovered.error_kind
            ),
            (RunStatus::Success, i as i64 + 1, None),
            "{recovered:#?}"
        );
        crate::support::assert_contains(
            recovered.reason.as_deref().unwrap_or_default(),
            "committed in the warehouse (its commit log has the run)",
        );
        assert_eq!(players(&store, days[i]).len(), i + 1);
    }
}

/// A raw input in PostgreSQL is written by whatever loads it, past the
/// host: its table refuses what the schema does (a NULL in a REQUIRED
/// column, a non-finite FLOAT64, a key held twice within a date), so the
/// load that writes a bad row fails, naming the constraint, and the rows
/// already there stay. Before, such rows were stored and read.
#[test]
fn a_postgresql_raw_input_refuses_a_bad_row_when_it_is_written() {
    use slate::store::{PostgresStore, Tables};

    let url = crate::postgres_server::isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    let table = TableName::new("probe_raw", "box_scores");
    let schema = TableSchema {
        columns: vec![
            Column::new("game_date", ColumnType::Date, ColumnMode::Required),
            Column::new("player_lookup", ColumnType::String, ColumnMode::Required),
            Column::new("minutes", ColumnType::Float64, ColumnMode::Nullable),
        ],
        partition_column: "game_date".into(),
        key_columns: vec!["player_lookup".into()],
    };
    store.ensure_table(&table, &schema).unwrap();
    let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    let insert = |client: &mut ::postgres::Client, values: &str| {
        client.batch_execute(&format!(
            "INSERT INTO \"probe_raw\".\"box_scores\" (game_date, player_lookup, minutes) \
             VALUES {values}"
        ))
    };
    insert(
        &mut client,
        "('2026-01-07', 'a', 30.5), ('2026-01-08', 'a', 12)",
    )
    .unwrap();
    for (bad, named) in [
        ("('2026-01-07', 'a', 1)", "unique"),
        (
            "('2026-01-07', NULL, 1)",
            "null value in column \"player_lookup\"",
        ),
        ("('2026-01-07', 'b', 'Infinity')", "check constraint"),
        ("('2026-01-07', 'c', 'NaN')", "check constraint"),
    ] {
        let error = insert(&mut client, bad).unwrap_err();
        let text = error
            .as_db_error()
            .map(|e| e.message().to_string())
            .unwrap_or_default();
        assert!(text.contains(named), "{bad}: {text}");
    }
    let day = date("2026-01-07");
    assert_eq!(store.read_rows(&table, day, day).unwrap().rows.len(), 1);
}

/// A processor's table moved to the host as a raw input (`slate tables
/// transfer --raw-input`) gets the constraints a raw input is made with,
/// so rows written past the host are refused as on any raw input; one
/// whose rows already break them is not moved, and says why. Before, it
/// became a raw input that refused nothing: a NULL key or a key held
/// twice within a date went in.
#[test]
fn a_postgresql_table_moved_to_the_host_refuses_bad_rows_as_a_raw_input_does() {
    use slate::ownership::TableOwner;
    use slate::store::{PostgresStore, Tables};

    let url = crate::postgres_server::isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    let day = date("2026-01-07");
    let run = claim(&store, "P", day);
    commit(&store, &run.run_id, day, &rows(day, &["a", "b"])).unwrap();
    let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    let insert = |client: &mut ::postgres::Client, values: &str| {
        client.batch_execute(&format!(
            "INSERT INTO slate_test.history_behaviour (game_date, player_lookup, points) \
             VALUES {values}"
        ))
    };
    // A processor's table leaves validation to the host's commit.
    insert(&mut client, "('2026-01-07', 'a', 1)").unwrap();
    let refused = store
        .transfer_table(&output_table(), &TableOwner::RawInput, "an operator")
        .unwrap_err()
        .to_string();
    assert_contains(
        &refused,
        "slate_test.history_behaviour cannot be a raw input",
    );
    assert_contains(&refused, "is duplicated");
    assert_eq!(
        store.table_owners().unwrap()[0].owner,
        TableOwner::Processor("P".into())
    );

    client
        .batch_execute(
            "DELETE FROM slate_test.history_behaviour WHERE player_lookup = 'a' AND points = 1",
        )
        .unwrap();
    store
        .transfer_table(&output_table(), &TableOwner::RawInput, "an operator")
        .unwrap();
    for (bad, named) in [
        ("('2026-01-07', 'a', 7)", "unique"),
        (
            "('2026-01-07', NULL, 7)",
            "null value in column \"player_lookup\"",
        ),
    ] {
        let error = insert(&mut client, bad).unwrap_err();
        let text = error.as_db_error().map(|e| e.message().to_string());
        assert!(
            text.as_deref().unwrap_or_default().contains(named),
            "{bad}: {error}"
        );
    }
    // A load (the host adopting it again) adds nothing twice.
    store
        .ensure_table(&output_table(), &output_schema())
        .unwrap();
    let constraints: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM pg_constraint
             WHERE conrelid = 'slate_test.history_behaviour'::regclass AND contype = 'u'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(constraints, 1);
}

/// PostgreSQL cuts a name past 63 bytes short without a word, so two
/// columns alike in their first 63 bytes would become one: a table with
/// such a name is refused before it is made, naming the name and the
/// limit. Before, a column's was not checked, and the commit failed with
/// "column ... specified more than once", naming neither.
#[test]
fn a_postgresql_table_refuses_a_name_postgresql_would_cut_short() {
    use slate::store::{PostgresStore, Tables};

    let store = PostgresStore::connect(&crate::postgres_server::isolated_url()).unwrap();
    let long = |end: &str| format!("{}{end}", "c".repeat(63));
    let schema = |columns: &[&str]| TableSchema {
        columns: std::iter::once("game_date")
            .chain(columns.iter().copied())
            .map(|name| {
                let column_type = match name {
                    "game_date" => ColumnType::Date,
                    _ => ColumnType::Int64,
                };
                Column::new(name, column_type, ColumnMode::Required)
            })
            .collect(),
        partition_column: "game_date".into(),
        key_columns: Vec::new(),
    };
    let (a, b) = (long("a"), long("b"));
    let error = store
        .ensure_table(&TableName::new("probe", "long_columns"), &schema(&[&a, &b]))
        .unwrap_err()
        .to_string();
    assert_contains(&error, "PostgreSQL keeps names of at most 63 bytes");
    assert_contains(&error, &format!("the column `{a}` has 64"));
    let error = store
        .ensure_table(&TableName::new("probe", &long("t")), &schema(&["n"]))
        .unwrap_err()
        .to_string();
    assert_contains(&error, &format!("the table `{}` has 64", long("t")));
    let short = TableName::new("probe", "short_columns");
    store
        .ensure_table(&short, &schema(&[&"c".repeat(63)]))
        .unwrap();
    // Nor may a new version add one: the migration is refused alike.
    let mut added = schema(&[&"c".repeat(63)]);
    added
        .columns
        .extend([&a, &b].map(|name| Column::new(name, ColumnType::Int64, ColumnMode::Nullable)));
    let error = store.ensure_table(&short, &added).unwrap_err().to_string();
    assert_contains(&error, &format!("the column `{a}` has 64"));
}

#[test]
fn two_processes_on_one_embedded_store_commit_runs_at_once_without_the_database_being_locked() {
    use slate::store::RunLedger;
    // Two handles on one file are two connections, as `slate serve` and a
    // `slate backfill` beside it are: a commit that read its table's
    // schema before another process wrote must wait for the lock, not
    // fail the run with "database is locked".
    const DAYS: u64 = 1500;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slate.db");
    let hosts: Vec<slate::store::EmbeddedStore> = (0..2)
        .map(|_| slate::store::EmbeddedStore::open(&path).unwrap())
        .collect();
    let schema = output_schema();
    let first = date("2026-01-01");
    let failures: Vec<String> = std::thread::scope(|scope| {
        let writers: Vec<_> = hosts
            .iter()
            .enumerate()
            .map(|(host, store)| {
                let schema = &schema;
                scope.spawn(move || {
                    let processor = format!("Writer{host}");
                    let table = TableName::new("two_processes", &format!("table_{host}"));
                    let mut failures = Vec::new();
                    for day in (0..DAYS).map(|d| first + chrono::Days::new(d)) {
                        let run = claim(store, &processor, day);
                        let rows = rows(day, &["a", "b"]);
                        let output = RunOutput::new(&processor, &table, schema, day, &rows);
                        if let Err(error) = store.commit_run(&run.run_id, &output) {
                            failures.push(format!("{processor} on {day}: {error}"));
                        }
                    }
                    failures
                })
            })
            .collect();
        writers
            .into_iter()
            .flat_map(|writer| writer.join().unwrap())
            .collect()
    });
    assert_eq!(failures, Vec::<String>::new());
    let succeeded = hosts[0]
        .runs(&RunFilter {
            status: Some(RunStatus::Success),
            ..RunFilter::default()
        })
        .unwrap();
    assert_eq!(succeeded.len() as u64, 2 * DAYS);
}

/// Generates a module `$name` with one test of `$behaviour` per backend
/// that keeps its run state and tables itself, as text: the embedded
/// store and PostgreSQL (BigQuery's JSON type normalises JSON, and every
/// claim there is a costly job).
macro_rules! on_the_stores_keeping_text {
    ($name:ident, $behaviour:ident) => {
        mod $name {
            #[test]
            fn embedded() {
                let dir = tempfile::tempdir().unwrap();
                let store = std::sync::Arc::new(
                    slate::store::EmbeddedStore::open(&dir.path().join("slate.db")).unwrap(),
                );
                super::$behaviour(store);
            }

            #[test]
            fn postgres() {
                super::$behaviour(crate::postgres_server::isolated_store());
            }
        }
    };
}

/// The JSON items of a REPEATED column read back exactly as the processor
/// wrote them, on the stores that keep JSON as text: before, each item was
/// parsed and written again, so `3.141592653589793238462643383279` came
/// back `3.141592653589793`, keys reordered and a duplicate key dropped,
/// while the same text in a scalar JSON column was kept. (BigQuery's JSON
/// type normalises JSON itself.)
fn json_list_items_read_back_exactly_as_written(store: Arc<dyn Store>) {
    let schema = TableSchema {
        columns: vec![
            Column::new("day", ColumnType::Date, ColumnMode::Required),
            Column::new("docs", ColumnType::Json, ColumnMode::Repeated),
        ],
        partition_column: "day".into(),
        key_columns: vec![],
    };
    let table = TableName::new("slate_test", "json_lists");
    let day = date("2026-01-15");
    let written = vec![
        Scalar::Json("3.141592653589793238462643383279".into()),
        Scalar::Json("12345678901234567890.5".into()),
        Scalar::Json("{\"b\":1,\"a\":2}".into()),
        Scalar::Json("{\"a\":1,\"a\":2}".into()),
        Scalar::Json("[1, \"x,]\"]".into()),
    ];
    let rows = RowSet {
        columns: vec!["day".into(), "docs".into()],
        rows: vec![vec![
            Value::Scalar(Scalar::Date(slate::rows::wit_date(day))),
            Value::Repeated(written.clone()),
        ]],
    };
    store.ensure_table(&table, &schema).unwrap();
    store.replace_partitions(&table, &[day], &rows).unwrap();
    let read = store.read_rows(&table, day, day).unwrap();
    assert_eq!(read.rows[0][1], Value::Repeated(written));
}

on_the_stores_keeping_text!(json_lists, json_list_items_read_back_exactly_as_written);

/// Hosts claiming and ending the same (processor, date) over and over: a
/// refused claim always names the run that holds it. Before, on
/// PostgreSQL, a holder that ended between the refused claim and the look
/// at it left "already running (run , started ...)", naming no run, for a
/// date nothing held.
fn a_refused_claim_always_names_its_holder(store: Arc<dyn Store>) {
    let day = date("2026-01-16");
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..40 {
                    match store.start_run(&new_run("ContendedProcessor", day, LEASE)) {
                        Ok(run) => store.end_run(&run.run_id, &failed("done")).unwrap(),
                        Err(StoreError::AlreadyRunning { run_id, .. }) => {
                            assert!(!run_id.is_empty(), "a refusal named no run");
                        }
                        Err(other) => panic!("{other}"),
                    }
                }
            });
        }
    });
}

on_the_stores_keeping_text!(contended_claims, a_refused_claim_always_names_its_holder);
