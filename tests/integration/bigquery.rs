//! The BigQuery backend end to end, on the emulator: the demo pipeline
//! writes the same rows as the embedded store, bad rows are caught before
//! the load, a load job's errors are reported in full and leave the old rows,
//! the store counts the load jobs and transactions each table costs, and
//! the `slate` binary runs the demo into BigQuery.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::NaiveDate;
use slate::backfill::{self, BackfillRequest, Reprocess};
use slate::bundled::PLUGINS;
use slate::demo::load_season;
use slate::executor::Executor;
use slate::liveness::LeaseConfig;
use slate::pipeline::Pipeline;
use slate::plugin::{Plugin, RunLimits, Runtime};
use slate::rows::{RowSet, Scalar, Value, wit_date};
use slate::runs::{ErrorKind, NewRun, RunFilter, RunRecord, RunStatus, Trigger};
use slate::schema::{Column, ColumnMode, ColumnType, TableName, TableSchema};
use slate::store::InputSource;
use slate::store::{BigQueryStore, RunLedger, RunOutput, Store, Tables};
use slate::testing::golden;

use crate::emulator;
use crate::support::{
    TestHost, assert_contains, assert_succeeded, components, date, failure_message,
    player_points_rows, player_points_schema, season,
};

/// A host whose store is a fresh set of datasets on the emulator.
struct BigQueryHost {
    store: Arc<dyn Store>,
    /// The same store, for what only BigQuery has (its job counts).
    bigquery: Arc<BigQueryStore>,
    runtime: Runtime,
    executor: Executor,
    _dir: tempfile::TempDir,
}

impl BigQueryHost {
    fn new() -> BigQueryHost {
        Self::with_leases(LeaseConfig::default())
    }

    /// A host whose leases are renewed as `leases` says.
    fn with_leases(leases: LeaseConfig) -> BigQueryHost {
        Self::on(emulator::isolated_store(), leases)
    }

    /// A host on `bigquery`, its leases renewed as `leases` says.
    fn on(bigquery: Arc<BigQueryStore>, leases: LeaseConfig) -> BigQueryHost {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = bigquery.clone();
        let runtime = Runtime::new(Some(&dir.path().join("compiled"))).unwrap();
        let executor = Executor::new(
            store.clone(),
            "bigquery-test-host",
            RunLimits::default(),
            leases,
        )
        .unwrap();
        BigQueryHost {
            store,
            bigquery,
            runtime,
            executor,
            _dir: dir,
        }
    }

    /// Loads a fixture component from its path.
    fn fixture(&self, path: &str) -> Plugin {
        self.runtime.load(&std::fs::read(path).unwrap()).unwrap()
    }

    /// Executes one run of `plugin` for `day`, as the CLI would.
    fn run(&self, plugin: &Plugin, day: NaiveDate) -> RunRecord {
        self.executor.execute(plugin, day, Trigger::Cli).unwrap()
    }

    fn all_processors(&self) -> Pipeline {
        Pipeline::new(
            PLUGINS
                .iter()
                .map(|p| self.runtime.load(p.bytes).unwrap())
                .collect(),
        )
        .unwrap()
    }
}

#[test]
fn the_demo_pipeline_writes_the_same_rows_to_bigquery_as_to_the_embedded_store() {
    let bigquery = BigQueryHost::new();
    let embedded = TestHost::with_demo_season();
    load_season(bigquery.store.as_ref(), season()).unwrap();
    let bigquery_pipeline = bigquery.all_processors();
    let embedded_pipeline = embedded.every_bundled_processor();
    let all = bigquery_pipeline.select(&[]).unwrap();
    let dates: Vec<NaiveDate> = season()
        .game_dates()
        .into_iter()
        .filter(|d| (date("2026-01-09")..=date("2026-01-11")).contains(d))
        .collect();
    assert!(dates.len() >= 2, "{dates:?}");

    for day in &dates {
        let on_bigquery = bigquery_pipeline
            .run_date(&bigquery.executor, *day, &all, Trigger::Cli)
            .unwrap()
            .records;
        let on_embedded = embedded_pipeline
            .run_date(&embedded.executor, *day, &all, Trigger::Cli)
            .unwrap()
            .records;
        let outcome = |records: &[slate::runs::RunRecord]| -> Vec<(String, RunStatus, i64)> {
            records
                .iter()
                .map(|r| (r.processor.clone(), r.status, r.rows_written))
                .collect()
        };
        assert_eq!(outcome(&on_bigquery), outcome(&on_embedded), "{day}");
        assert!(
            on_bigquery
                .iter()
                .any(|r| r.status == RunStatus::Success && r.rows_written > 0),
            "{day}: {on_bigquery:?}"
        );
    }
    let (first, last) = (dates[0], *dates.last().unwrap());
    assert_same_rows(
        &bigquery_pipeline,
        bigquery.store.as_ref(),
        embedded.store.as_ref(),
        (first, last),
    );
}

/// Every output table of `pipeline` holds the same rows from `first` to
/// `last` in `bigquery` as in `embedded`, or is missing from both.
fn assert_same_rows(
    pipeline: &Pipeline,
    bigquery: &dyn Store,
    embedded: &dyn Store,
    (first, last): (NaiveDate, NaiveDate),
) {
    for name in pipeline.order() {
        let spec = &pipeline.plugin(name).unwrap().spec;
        let exists = |store: &dyn Store| store.table_schema(&spec.output_table).unwrap().is_some();
        assert_eq!(exists(bigquery), exists(embedded), "{}", spec.output_table);
        if !exists(embedded) {
            continue;
        }
        let expected = embedded.read_rows(&spec.output_table, first, last).unwrap();
        let actual = bigquery.read_rows(&spec.output_table, first, last).unwrap();
        assert_eq!(
            actual.rows.len(),
            expected.rows.len(),
            "{}",
            spec.output_table
        );
        let differences = golden::compare(
            &spec.output_table.to_string(),
            &golden::to_ndjson(&expected),
            &actual,
            &spec.schema,
            1e-12,
            (first, last),
        )
        .unwrap();
        assert!(
            differences.is_empty(),
            "{}: {differences:?}",
            spec.output_table
        );
    }
}

/// The load jobs and transactions against `table` between two counts.
fn jobs_against(
    table: &TableName,
    before: &slate::store::JobCounts,
    after: &slate::store::JobCounts,
) -> (u64, u64) {
    let added = |of: &std::collections::BTreeMap<TableName, u64>,
                 since: &std::collections::BTreeMap<TableName, u64>| {
        of.get(table).copied().unwrap_or(0) - since.get(table).copied().unwrap_or(0)
    };
    (
        added(&after.load_jobs, &before.load_jobs),
        added(&after.transactions, &before.transactions),
    )
}

/// The season's first `days` game dates.
fn opening_days(days: usize) -> Vec<NaiveDate> {
    season().game_dates().into_iter().take(days).collect()
}

/// Backfills every processor of `pipeline` over the season's first `days`
/// game dates, as `slate backfill` does.
fn backfill_every_processor(
    pipeline: &Pipeline,
    executor: &Executor,
    days: usize,
) -> Vec<backfill::Outcome> {
    let dates = opening_days(days);
    let request = BackfillRequest {
        start: dates[0],
        end: dates[days - 1],
        selection: pipeline.select(&[]).unwrap(),
        reprocess: Reprocess::Missing,
        parallelism: 1,
    };
    let plan = backfill::plan(executor.store().as_ref(), pipeline, &request).unwrap();
    backfill::run(
        pipeline,
        executor,
        &plan,
        1,
        &AtomicBool::new(false),
        &|_| {},
    )
}

#[test]
fn a_chunks_query_jobs_do_not_grow_with_its_dates() {
    // Claims, checks, reads, ownership and final records are each asked
    // once per processor and chunk, not once per date.
    let queries_for = |days: usize| {
        // No heartbeat falls within the backfill: it would add its own.
        let host = BigQueryHost::with_leases(LeaseConfig {
            heartbeat: std::time::Duration::from_secs(600),
            lease: std::time::Duration::from_secs(1800),
            ..LeaseConfig::default()
        });
        load_season(host.store.as_ref(), season()).unwrap();
        let pipeline = host.all_processors();
        let before = host.bigquery.job_counts().queries;
        let outcomes = backfill_every_processor(&pipeline, &host.executor, days);
        assert_eq!(outcomes.len(), days * pipeline.order().len());
        assert!(
            outcomes
                .iter()
                .all(|o| o.status == Some(RunStatus::Success)),
            "{outcomes:?}"
        );
        host.bigquery.job_counts().queries - before
    };
    let (two, six) = (queries_for(2), queries_for(6));
    assert_eq!(six, two, "query jobs for 6 dates and for 2");
}

#[test]
fn a_backfill_commits_each_processors_dates_in_one_load_job_and_one_transaction() {
    let bigquery = BigQueryHost::new();
    let embedded = TestHost::with_demo_season();
    load_season(bigquery.store.as_ref(), season()).unwrap();
    let (first, last) = (opening_days(4)[0], opening_days(4)[3]);
    let bigquery_pipeline = bigquery.all_processors();
    let before = bigquery.bigquery.job_counts();
    let on_bigquery = backfill_every_processor(&bigquery_pipeline, &bigquery.executor, 4);
    let after = bigquery.bigquery.job_counts();
    let on_embedded =
        backfill_every_processor(&embedded.every_bundled_processor(), &embedded.executor, 4);

    let outcome = |outcomes: &[backfill::Outcome]| {
        let mut outcomes: Vec<String> = outcomes
            .iter()
            .map(|o| format!("{} {} {:?}", o.date, o.processor, o.status))
            .collect();
        outcomes.sort();
        outcomes
    };
    assert_eq!(outcome(&on_bigquery), outcome(&on_embedded));
    let succeeded = |name: &str| {
        on_bigquery
            .iter()
            .filter(|o| o.processor == name && o.status == Some(RunStatus::Success))
            .count()
    };
    for name in bigquery_pipeline.order() {
        let table = &bigquery_pipeline.plugin(name).unwrap().spec.output_table;
        let (loads, transactions) = jobs_against(table, &before, &after);
        assert_eq!(
            transactions,
            u64::from(succeeded(name) > 0),
            "{name}: one transaction for its {} dates",
            succeeded(name)
        );
        assert!(loads <= 1, "{name}");
    }
    assert!(
        bigquery_pipeline
            .order()
            .iter()
            .all(|name| succeeded(name) > 1),
        "every processor committed several dates at once: {on_bigquery:?}"
    );
    assert_same_rows(
        &bigquery_pipeline,
        bigquery.store.as_ref(),
        embedded.store.as_ref(),
        (first, last),
    );
}

#[test]
fn with_run_state_in_postgresql_a_queued_chunk_of_dates_keeps_the_phase_gate() {
    let split = slate::store::SplitStore::new(
        slate::store::PostgresStore::connect(&crate::postgres_server::isolated_url()).unwrap(),
        Arc::into_inner(emulator::isolated_store()).unwrap(),
    );
    assert!(
        split.commit_batch_dates().is_some(),
        "a host takes a processor's dates as one chunk"
    );
    crate::cluster::assert_a_queued_backfill_keeps_the_phase_gate(Arc::new(split));
}

#[test]
fn with_run_state_in_postgresql_the_work_queue_commits_a_processors_dates_in_one_transaction() {
    use slate::store::{PostgresStore, SplitStore};

    let split = Arc::new(SplitStore::new(
        PostgresStore::connect(&crate::postgres_server::isolated_url()).unwrap(),
        Arc::into_inner(emulator::isolated_store()).unwrap(),
    ));
    let store: Arc<dyn Store> = split.clone();
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(Some(&dir.path().join("compiled"))).unwrap();
    let executor = Executor::new(
        store.clone(),
        "split-test-host",
        RunLimits::default(),
        LeaseConfig::default(),
    )
    .unwrap();
    let pipeline = Pipeline::new(
        PLUGINS
            .iter()
            .map(|p| runtime.load(p.bytes).unwrap())
            .collect(),
    )
    .unwrap();
    let embedded = TestHost::with_demo_season();
    load_season(store.as_ref(), season()).unwrap();
    let dates = opening_days(4);
    let request = BackfillRequest {
        start: dates[0],
        end: dates[3],
        selection: pipeline.select(&[]).unwrap(),
        reprocess: Reprocess::Missing,
        parallelism: 1,
    };
    let id = crate::cluster::enqueue_backfill(store.as_ref(), &pipeline, &request);
    let before = split.warehouse().job_counts();
    let progress =
        crate::cluster::work_until_finished(store.as_ref(), &pipeline, &executor, &id, 1);
    let after = split.warehouse().job_counts();

    assert_eq!(
        (progress.succeeded, progress.failed, progress.blocked),
        (4 * pipeline.order().len(), 0, 0),
        "{:#?}",
        progress.problems
    );
    for name in pipeline.order() {
        let table = &pipeline.plugin(name).unwrap().spec.output_table;
        let (loads, transactions) = jobs_against(table, &before, &after);
        assert_eq!(transactions, 1, "{name}: one transaction for its 4 dates");
        assert!(loads <= 1, "{name}");
        // Each date's run is its own record, a success in PostgreSQL.
        let runs = store
            .runs(&RunFilter {
                processor: Some(name.clone()),
                ..RunFilter::default()
            })
            .unwrap();
        assert_eq!(runs.len(), 4, "{name}: {runs:#?}");
        assert!(
            runs.iter().all(|r| r.status == RunStatus::Success),
            "{runs:#?}"
        );
    }
    let on_embedded =
        backfill_every_processor(&embedded.every_bundled_processor(), &embedded.executor, 4);
    assert!(
        on_embedded
            .iter()
            .all(|o| o.status == Some(RunStatus::Success))
    );
    assert_same_rows(
        &pipeline,
        store.as_ref(),
        embedded.store.as_ref(),
        (dates[0], dates[3]),
    );
}

#[test]
fn each_dates_commit_counts_one_load_job_and_one_transaction_against_its_table() {
    let host = BigQueryHost::new();
    load_season(host.store.as_ref(), season()).unwrap();
    let pipeline = host.all_processors();
    let summaries = pipeline
        .select(&["PlayerGameSummaryProcessor".to_string()])
        .unwrap();
    let days: Vec<NaiveDate> = season().game_dates().into_iter().take(2).collect();
    let before = host.bigquery.job_counts();
    for day in &days {
        let records = pipeline
            .run_date(&host.executor, *day, &summaries, Trigger::Cli)
            .unwrap()
            .records;
        assert!(
            records
                .iter()
                .all(|r| r.status == RunStatus::Success && r.rows_written > 0),
            "{records:?}"
        );
    }
    let after = host.bigquery.job_counts();
    let table = TableName::new("nba_analytics", "player_game_summary");
    let added = |after: &std::collections::BTreeMap<TableName, u64>,
                 before: &std::collections::BTreeMap<TableName, u64>| {
        after.get(&table).copied().unwrap_or(0) - before.get(&table).copied().unwrap_or(0)
    };
    assert_eq!(added(&after.load_jobs, &before.load_jobs), 2);
    assert_eq!(added(&after.transactions, &before.transactions), 2);
    let raw = TableName::new("nba_raw", "player_boxscores");
    assert_eq!(
        after.load_jobs.get(&raw),
        before.load_jobs.get(&raw),
        "reading a table loads nothing into it"
    );
    assert!(
        after.queries >= before.queries + 2,
        "the transactions are queries too: {} then {}",
        before.queries,
        after.queries
    );
}

#[test]
fn under_fail_run_a_bad_row_is_caught_before_the_load_and_named() {
    let host = BigQueryHost::new();
    let plugin = host.fixture(components::ONE_BAD_ROW_FAILS_RUN);
    let table = &plugin.spec.output_table;
    let good_day = date("2026-02-01");
    assert_eq!(host.run(&plugin, good_day).rows_written, 199);

    let record = host.run(&plugin, date("2026-02-02"));

    assert_eq!(record.status, RunStatus::Failed);
    let message = failure_message(&record, ErrorKind::Validation);
    assert_contains(
        &message,
        "row 137 (player_lookup=\"player_137\", game_date=\"2026-02-02\"): field \
             `circuit_breaker_until` expected NULLABLE TIMESTAMP, got INT64 1700000000",
    );
    assert_eq!(host.store.rows_on(table, date("2026-02-02")).unwrap(), 0);
    assert_eq!(host.store.rows_on(table, good_day).unwrap(), 199);
}

#[test]
fn under_quarantine_198_rows_land_in_bigquery_and_one_in_its_quarantine_table() {
    let host = BigQueryHost::new();
    let plugin = host.fixture(components::ONE_BAD_ROW_QUARANTINED);
    let day = date("2026-02-02");

    let record = host.run(&plugin, day);

    assert_eq!(record.status, RunStatus::Success, "{record:?}");
    assert_eq!(record.rows_written, 198);
    assert_eq!(
        host.store.rows_on(&plugin.spec.output_table, day).unwrap(),
        198
    );
    let quarantined = host.store.quarantined(Some(&record.run_id), None).unwrap();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].row_index, 137);
    assert_eq!(quarantined[0].errors[0].field, "circuit_breaker_until");
    assert_eq!(
        quarantined[0].raw_row.parsed()["circuit_breaker_until"],
        1_700_000_000
    );
}

/// BigQuery can do what it was asked and lose the answer on the way back;
/// the host then asks again. The load of a run's rows and its commit's
/// transaction, each tried again so, leave the rows and the quarantined
/// row once each. Before, the load made a second job that appended the
/// rows again, and the transaction inserted the quarantined row again.
#[test]
fn a_load_and_a_commit_whose_answers_were_lost_write_their_rows_once() {
    let proxy = emulator::LosingProxy::start(&["NEWLINE_DELIMITED_JSON", "BEGIN TRANSACTION"]);
    let host = BigQueryHost::on(proxy.store(), LeaseConfig::default());
    let plugin = host.fixture(components::ONE_BAD_ROW_QUARANTINED);
    let day = date("2026-02-02");

    let record = host.run(&plugin, day);

    assert_eq!(record.status, RunStatus::Success, "{record:?}");
    assert_eq!(
        proxy.words_left(),
        Vec::<&str>::new(),
        "both answers were lost"
    );
    let store = &host.store;
    assert_eq!(store.rows_on(&plugin.spec.output_table, day).unwrap(), 198);
    let quarantined = store.quarantined(Some(&record.run_id), None).unwrap();
    assert_eq!(quarantined.len(), 1, "{quarantined:#?}");
    let runs = store
        .runs(&RunFilter {
            date: Some(day),
            ..RunFilter::default()
        })
        .unwrap();
    assert_eq!(runs.len(), 1, "{runs:#?}");
}

#[test]
fn a_failed_load_job_reports_every_error_and_leaves_the_old_rows() {
    let store = emulator::isolated_store();
    let table = TableName::new("slate_test", "load_errors");
    let schema = TableSchema {
        columns: vec![
            Column::new("game_date", ColumnType::Date, ColumnMode::Required),
            Column::new("player_lookup", ColumnType::String, ColumnMode::Required),
        ],
        partition_column: "game_date".into(),
        key_columns: vec![],
    };
    store.ensure_table(&table, &schema).unwrap();
    store
        .transfer_table(
            &table,
            &slate::ownership::TableOwner::Processor("LoadErrors".into()),
            "test set-up",
        )
        .unwrap();
    let day = date("2026-01-11");
    let row = |player: &str, day: slate::rows::Date| {
        vec![
            Value::Scalar(Scalar::Date(day)),
            Value::Scalar(Scalar::String(player.into())),
        ]
    };
    let columns = vec!["game_date".to_string(), "player_lookup".to_string()];
    store
        .replace_partitions(
            &table,
            &[day],
            &RowSet {
                columns: columns.clone(),
                rows: vec![row("old", wit_date(day))],
            },
        )
        .unwrap();
    let run = store
        .start_run(&NewRun {
            processor: "LoadErrors".into(),
            phase: slate::phase::Phase::Precompute,
            data_date: day,
            host_id: "h".into(),
            plugin_hash: "x".into(),
            trigger: Trigger::Cli,
            lease: std::time::Duration::from_secs(60),
        })
        .unwrap();
    // A date no calendar has: only validation would have stopped it, and
    // this goes straight to the store, so the load job itself must fail.
    let impossible = slate::rows::Date {
        year: 2026,
        month: 13,
        day: 40,
    };
    let rows = RowSet {
        columns,
        rows: vec![row("new", wit_date(day)), row("broken", impossible)],
    };

    let error = store
        .commit_run(
            &run.run_id,
            &RunOutput::new("LoadErrors", &table, &schema, day, &rows),
        )
        .unwrap_err()
        .to_string();

    assert!(
        error.starts_with("store error: loading 2 rows into "),
        "{error}"
    );
    assert_contains(&error, "failed with 1 error: [invalid] at ");
    assert!(
        error.contains("2026-13-40"),
        "the message names the value: {error}"
    );
    let left = store.read_rows(&table, day, day).unwrap();
    assert_eq!(left.rows, vec![row("old", wit_date(day))]);
    assert_eq!(
        store.run(&run.run_id).unwrap().unwrap().status,
        RunStatus::Running
    );
}

/// BigQuery enforces no key, and a raw input is loaded by other tools: a
/// key loaded twice into one date would make a processor count the row
/// twice. A read of that date fails, naming the key and the rows of the
/// read that hold it; a read of another date still works. The key is
/// recorded with the table's owner when it is adopted, so another process
/// (here a second store, its schema not cached) checks it too: BigQuery's
/// own schema has no key, and before that only the process that loaded
/// the table did.
#[test]
fn a_read_refuses_a_date_of_a_raw_input_that_holds_one_key_twice_naming_it() {
    let config = emulator::isolated_config();
    let store = slate::store::BigQueryStore::connect(&config).unwrap();
    let table = TableName::new("slate_raw", "player_points");
    store
        .ensure_table(&table, &player_points_schema(ColumnMode::Nullable))
        .unwrap();
    assert_eq!(
        store.table_owner(&table).unwrap(),
        Some(slate::ownership::TableOwner::RawInput)
    );
    let (loaded_twice, clean) = (date("2026-01-11"), date("2026-01-12"));
    let rows = |day, players: &[(&str, i64)]| {
        player_points_rows(day, players.iter().map(|(p, n)| (p.to_string(), *n)))
    };
    let mut both = rows(loaded_twice, &[("ann", 10), ("bob", 7), ("ann", 10)]);
    both.rows
        .extend(rows(clean, &[("ann", 12), ("bob", 3)]).rows);
    store
        .replace_partitions(&table, &[loaded_twice, clean], &both)
        .unwrap();

    let another_process = slate::store::BigQueryStore::connect(&config).unwrap();
    for reader in [&store, &another_process] {
        let error = reader
            .read_columns(&table, loaded_twice, clean, &["points".to_string()])
            .unwrap_err()
            .to_string();
        assert_contains(
            &error,
            "slate_raw.player_points: rows 0, 2 of the read hold game_date \"2026-01-11\", \
             player_lookup \"ann\"",
        );
        assert_contains(&error, "a key (player_lookup) must be unique within a date");
        assert!(!error.contains("bob"), "only the key held twice: {error}");

        let read = reader.read_columns(&table, clean, clean, &["points".to_string()]);
        assert_eq!(read.unwrap().rows.len(), 2);
    }

    // A table adopted before keys were recorded gets its key recorded the
    // next time its schema is ensured.
    let owners = format!(
        "{}{}._slate_table_owners",
        config.dataset_prefix, config.history_dataset
    );
    let forget_key = format!("UPDATE `{owners}` SET key_columns = NULL WHERE TRUE");
    let mut answer = crate::serve_process::agent()
        .post(format!(
            "{}/bigquery/v2/projects/{}/queries",
            config.endpoint, config.project
        ))
        .header("Content-Type", "application/json")
        .send(serde_json::json!({"query": forget_key, "useLegacySql": false}).to_string())
        .unwrap();
    assert_eq!(
        answer.status(),
        200,
        "{}",
        answer.body_mut().read_to_string().unwrap()
    );
    let fresh = || slate::store::BigQueryStore::connect(&config).unwrap();
    let unkeyed = fresh().read_columns(&table, loaded_twice, clean, &["points".to_string()]);
    assert_eq!(
        unkeyed.unwrap().rows.len(),
        5,
        "no key recorded: nothing to check"
    );
    fresh()
        .ensure_table(&table, &player_points_schema(ColumnMode::Nullable))
        .unwrap();
    let keyed = fresh().read_columns(&table, loaded_twice, clean, &["points".to_string()]);
    assert_contains(
        &keyed.unwrap_err().to_string(),
        "must be unique within a date",
    );
}

/// A FLOAT64 column that admits NaN and infinities keeps the flag in
/// BigQuery, which has no such attribute: read back by another process
/// (its schema not cached), the table is the same, and checking it again
/// changes nothing. Before, the flag was lost, and every run after the one
/// that created the table was refused as changing the column's type.
#[test]
fn a_column_admitting_nan_reads_back_the_same_from_bigquery_and_one_admitting_none_refuses_it() {
    let config = emulator::isolated_config();
    let table = TableName::new("slate_raw", "shooting");
    let mut schema = player_points_schema(ColumnMode::Nullable);
    schema.columns.push(Column {
        allow_non_finite: true,
        description: "made over attempted".into(),
        ..Column::new("accuracy", ColumnType::Float64, ColumnMode::Nullable)
    });
    schema.columns.push(Column::new(
        "pace",
        ColumnType::Float64,
        ColumnMode::Nullable,
    ));
    let fresh = || slate::store::BigQueryStore::connect(&config).unwrap();
    fresh().ensure_table(&table, &schema).unwrap();
    let live = fresh().table_schema(&table).unwrap().unwrap();
    assert_eq!(live.columns, schema.columns);
    fresh().check_output_table(&table, &schema).unwrap();

    // Written past the host (another tool's SQL), a NaN where the column
    // admits none fails a read, naming row and column, as on the embedded
    // store; where it admits them, it reads back. Before, BigQuery handed
    // the NaN to the processor.
    let day = date("2026-01-11");
    let float = |v: f64| Value::Scalar(Scalar::Float64(v));
    let text = |v: &str| Value::Scalar(Scalar::String(v.into()));
    let rows = RowSet {
        columns: ["game_date", "player_lookup", "points", "accuracy", "pace"]
            .map(String::from)
            .to_vec(),
        rows: vec![vec![
            Value::Scalar(Scalar::Date(wit_date(day))),
            text("ann"),
            Value::Null,
            float(f64::NAN),
            float(f64::INFINITY),
        ]],
    };
    fresh().replace_partitions(&table, &[day], &rows).unwrap();
    let read = |names: &[&str]| {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        fresh().read_columns(&table, day, day, &names)
    };
    let admitted = read(&["accuracy"]).unwrap();
    assert!(matches!(admitted.rows[0][0], Value::Scalar(Scalar::Float64(v)) if v.is_nan()));
    let refused = read(&["pace"]).unwrap_err().to_string();
    // BigQuery writes infinity `Infinity`, the emulator `inf`.
    assert_contains(
        &refused,
        "slate_raw.shooting row 0 (game_date \"2026-01-11\", player_lookup \"ann\"), \
         column `pace`: holds \"",
    );
    assert_contains(&refused, "\": the column does not accept NaN or infinity");
}

#[test]
fn a_processor_cannot_forge_the_run_history_in_bigquery() {
    let bigquery = BigQueryHost::new();
    let day = date("2026-01-11");
    let owner = bigquery.fixture(components::VERSIONED_V1);
    let real = bigquery.run(&owner, day);
    assert_eq!(real.status, RunStatus::Success, "{real:?}");

    let forge = bigquery.fixture(components::HOSTILE_HISTORY_FORGE);
    let refused = bigquery.run(&forge, day);
    let message = failure_message(&refused, ErrorKind::Ownership);
    assert_contains(
        &message,
        "nba_reference.processor_run_history: it is owned by the host",
    );

    let history = bigquery
        .store
        .runs(&slate::runs::RunFilter {
            date: Some(day),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(history.iter().all(|r| r.host_id != "forged-host"));
    assert!(
        history
            .iter()
            .any(|r| r.run_id == real.run_id && r.status == RunStatus::Success)
    );
    // The healthy processor beside it still owns and writes its table.
    let again = bigquery.run(&owner, day);
    assert_eq!(again.status, RunStatus::Success);
    let versioned = TableName::new("slate_test", "versioned");
    assert_eq!(
        bigquery
            .store
            .read_rows(&versioned, day, day)
            .unwrap()
            .rows
            .len(),
        2
    );
}

#[test]
fn a_processor_cannot_read_the_run_history_or_quarantine_in_bigquery() {
    let bigquery = BigQueryHost::new();
    let day = date("2026-01-11");
    // A run, so that the history dataset holds rows for the day.
    let owner = bigquery.fixture(components::VERSIONED_V1);
    assert_eq!(bigquery.run(&owner, day).status, RunStatus::Success);

    let snoop = bigquery.fixture(components::HOSTILE_HISTORY_SNOOP);
    let refused = bigquery.run(&snoop, day);
    assert_eq!(refused.rows_read, 0, "{refused:?}");
    let message = failure_message(&refused, ErrorKind::Ownership);
    assert_contains(
        &message,
        "HistorySnoop may not read nba_reference.processor_run_history: it is owned by the host \
         (dataset `nba_reference` holds the host's run history and quarantine)",
    );
    let written = TableName::new("slate_test", "hostile_history_snoop");
    match bigquery.store.read_rows(&written, day, day) {
        Ok(rows) => assert!(
            rows.rows.is_empty(),
            "the snoop wrote what it read: {rows:?}"
        ),
        Err(slate::store::InputError::UnknownTable(_)) => {}
        Err(other) => panic!("cannot read {written}: {other}"),
    }
}

#[test]
fn the_sweep_drops_staging_tables_a_killed_run_left_and_keeps_fresh_ones() {
    use slate::store::bigquery::STAGING_PREFIX;
    let bigquery = BigQueryHost::new();
    let schema = TableSchema {
        columns: vec![Column::new("day", ColumnType::Date, ColumnMode::Required)],
        partition_column: "day".into(),
        key_columns: vec![],
    };
    let raw = TableName::new("slate_test", "sweep_raw");
    bigquery.store.ensure_table(&raw, &schema).unwrap();
    let two_hours_ago = uuid::Timestamp::from_unix(
        uuid::NoContext,
        (chrono::Utc::now().timestamp() - 7200) as u64,
        0,
    );
    let left = TableName::new(
        "slate_test",
        &format!(
            "{STAGING_PREFIX}{}",
            uuid::Uuid::new_v7(two_hours_ago).simple()
        ),
    );
    let fresh = TableName::new(
        "slate_test",
        &format!("{STAGING_PREFIX}{}", uuid::Uuid::now_v7().simple()),
    );
    bigquery.store.ensure_table(&left, &schema).unwrap();
    bigquery.store.ensure_table(&fresh, &schema).unwrap();

    let dropped = bigquery.store.sweep_staging(chrono::Utc::now()).unwrap();
    assert_eq!(dropped, vec![left.clone()]);
    assert_eq!(
        bigquery.store.table_schema(&fresh).unwrap().map(|_| ()),
        Some(())
    );
    assert_eq!(bigquery.store.table_schema(&left).unwrap(), None);
}

fn slate_on_bigquery(
    data_dir: &std::path::Path,
    prefix: &str,
    args: &[&str],
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "--warehouse",
            "bigquery",
            "--bigquery-project",
            emulator::PROJECT,
            "--bigquery-endpoint",
            emulator::endpoint(),
            "--bigquery-dataset-prefix",
            prefix,
        ])
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("run slate")
}

#[test]
fn slate_demo_and_runs_work_against_bigquery_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = emulator::isolated_config();
    let prefix = config.dataset_prefix.clone();
    let demo = slate_on_bigquery(
        dir.path(),
        &prefix,
        &["demo", "--from", "2026-01-09", "--to", "2026-01-11"],
    );
    let stderr = String::from_utf8_lossy(&demo.stderr);
    assert!(demo.status.success(), "{stderr}");
    assert_contains(
        &stderr,
        "loaded the demo season into BigQuery project test-project at http://",
    );
    // The demo ran its dates as a backfill does on BigQuery: each
    // processor's dates committed in one transaction, which records one
    // finishing time for them all.
    let store = BigQueryStore::connect(&config).unwrap();
    for processor in ["PlayerGameSummaryProcessor", "PlayerDailyCacheProcessor"] {
        let runs = store
            .runs(&RunFilter {
                processor: Some(processor.into()),
                status: Some(RunStatus::Success),
                ..RunFilter::default()
            })
            .unwrap();
        let finished: std::collections::BTreeSet<_> =
            runs.iter().map(|run| run.finished_at).collect();
        assert!(runs.len() >= 2, "{processor}: {runs:?}");
        assert_eq!(finished.len(), 1, "{processor}: {runs:?}");
    }

    let runs = slate_on_bigquery(
        dir.path(),
        &prefix,
        &[
            "runs",
            "--processor",
            "PlayerDailyCacheProcessor",
            "--status",
            "success",
        ],
    );
    let history = String::from_utf8_lossy(&runs.stdout);
    assert_succeeded(&runs);
    assert!(
        history.matches("PlayerDailyCacheProcessor").count() >= 1,
        "{history}"
    );

    // BigQuery alone keeps no alert outbox: a configured channel is a bad
    // `slate.toml`, refused before the command runs anything. Before, the
    // run committed, and the command then failed delivering, exit 1.
    std::fs::write(
        dir.path().join("slate.toml"),
        "[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n",
    )
    .unwrap();
    let summaries_before = store.runs(&RunFilter::default()).unwrap().len();
    let refused = slate_on_bigquery(
        dir.path(),
        &prefix,
        &[
            "run",
            "--date",
            "2026-01-11",
            "--processors",
            "PlayerGameSummaryProcessor",
        ],
    );
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert_contains(
        &String::from_utf8_lossy(&refused.stderr),
        "slate.toml: alert channels are configured, but this store keeps no alert outbox",
    );
    assert_eq!(
        store.runs(&RunFilter::default()).unwrap().len(),
        summaries_before,
        "nothing ran"
    );

    let missing_project = std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
        .args(["--warehouse", "bigquery", "runs"])
        .env_remove("SLATE_BIGQUERY_PROJECT")
        .output()
        .unwrap();
    assert!(!missing_project.status.success());
    assert_eq!(
        String::from_utf8_lossy(&missing_project.stderr).trim(),
        "error: --warehouse bigquery needs --bigquery-project (or SLATE_BIGQUERY_PROJECT)"
    );
}

/// Two environments of one project, `X_` and `X_dev_`, the second's
/// prefix longer than the first's: a processor on the `X_` host naming
/// `dev_nba_reference.processor_run_history` or `dev_slate_test.points`
/// names the dev hosts' run history and table. Each dataset is labelled
/// with the environment that made it, and the other environment may
/// neither write nor read in it. Before, the unprefixed host's processor
/// replaced the dev hosts' run history with a forged success and emptied
/// their table.
#[test]
fn a_processor_cannot_reach_the_datasets_of_an_environment_with_a_longer_prefix() {
    let mut prod_config = emulator::isolated_config();
    let mut dev_config = prod_config.clone();
    dev_config.dataset_prefix = format!("{}dev_", prod_config.dataset_prefix);
    let dev = BigQueryStore::connect(&dev_config).unwrap();
    let table = TableName::new("slate_test", "points");
    let day = date("2026-01-11");
    dev.ensure_table(&table, &player_points_schema(ColumnMode::Nullable))
        .unwrap();
    dev.replace_partitions(&table, &[day], &player_points_rows(day, [("a".into(), 3)]))
        .unwrap();
    prod_config.history_dataset = "prod_reference".into();
    let prod = BigQueryStore::connect(&prod_config).unwrap();

    let forged = [
        TableName::new("dev_nba_reference", "processor_run_history"),
        TableName::new("dev_slate_test", "points"),
    ];
    for table in &forged {
        let refused = prod
            .check_output_table(table, &player_points_schema(ColumnMode::Nullable))
            .unwrap_err()
            .to_string();
        assert_contains(
            &refused,
            &format!(
                "belongs to the Slate environment whose dataset prefix is `{}`, \
                 not to this one (prefix `{}`)",
                dev_config.dataset_prefix, prod_config.dataset_prefix
            ),
        );
    }
    let read = prod
        .read_rows(&TableName::new("dev_slate_test", "points"), day, day)
        .unwrap_err()
        .to_string();
    assert_contains(&read, "belongs to the Slate environment");
    // The dev environment's own reads are untouched.
    assert_eq!(dev.read_rows(&table, day, day).unwrap().rows.len(), 1);
    // A new dataset of either environment is its own.
    prod.ensure_table(
        &TableName::new("slate_test", "prod_points"),
        &player_points_schema(ColumnMode::Nullable),
    )
    .unwrap();
}

/// BigQuery alone keeps no alert outbox: a channel in `slate.toml` is
/// refused from the options alone, before the store is opened. Before,
/// opening it first made the history dataset and its tables in the
/// project, under whatever prefix the misconfigured command gave.
#[test]
fn a_channel_over_bigquery_alone_is_refused_before_any_dataset_is_made() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slate.toml"),
        "[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n",
    )
    .unwrap();
    let prefix = emulator::isolated_config().dataset_prefix;

    let refused = slate_on_bigquery(dir.path(), &prefix, &["runs"]);

    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert_contains(
        &String::from_utf8_lossy(&refused.stderr),
        "alert channels are configured, but this store keeps no alert outbox",
    );
    let url = format!(
        "{}/bigquery/v2/projects/{}/datasets",
        emulator::endpoint(),
        emulator::PROJECT
    );
    let mut response = crate::serve_process::agent().get(url).call().unwrap();
    let listed = response.body_mut().read_to_string().unwrap();
    assert!(
        !listed.contains(&prefix),
        "a dataset of {prefix} was made: {listed}"
    );
}

/// The `slate_environment` label of `dataset` on the emulator, if any.
fn environment_label_of(dataset: &str) -> Option<String> {
    let url = format!(
        "{}/bigquery/v2/projects/{}/datasets/{dataset}",
        emulator::endpoint(),
        emulator::PROJECT
    );
    let mut response = crate::serve_process::agent().get(url).call().unwrap();
    let found: serde_json::Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    found["labels"]["slate_environment"]
        .as_str()
        .map(str::to_string)
}

/// Sends `body` to the emulator's `method` on `dataset` (created or
/// patched).
fn on_dataset(method: &str, dataset: &str, body: serde_json::Value) {
    let base = format!(
        "{}/bigquery/v2/projects/{}/datasets",
        emulator::endpoint(),
        emulator::PROJECT
    );
    let agent = crate::serve_process::agent();
    let sent = match method {
        "POST" => agent.post(base).send(body.to_string()),
        _ => agent
            .patch(format!("{base}/{dataset}"))
            .send(body.to_string()),
    };
    assert!(sent.unwrap().status().is_success());
}

/// A dataset without the environment label (made by hand, or by a Slate
/// from before labels) is not labelled by the first host to write in it:
/// only by the environment it has shown to be its own (its history
/// dataset, or one holding a table it recorded). Before, an unprefixed
/// host's processor took the unlabelled `dev_nba_reference` of an older
/// `dev_` environment, forged its history, and locked the dev hosts out.
#[test]
fn an_unlabelled_dataset_is_labelled_only_by_the_environment_that_shows_it_is_its_own() {
    let prod_config = emulator::isolated_config();
    let mut dev_config = prod_config.clone();
    dev_config.dataset_prefix = format!("{}dev_", prod_config.dataset_prefix);
    let dev_history = format!("{}nba_reference", dev_config.dataset_prefix);
    on_dataset(
        "POST",
        &dev_history,
        serde_json::json!({"datasetReference": {
            "projectId": emulator::PROJECT, "datasetId": dev_history}}),
    );
    let mut prod_config = prod_config;
    prod_config.history_dataset = "prod_reference".into();
    let prod = BigQueryStore::connect(&prod_config).unwrap();

    let forged = TableName::new("dev_nba_reference", "processor_run_history");
    let refused = prod
        .check_output_table(&forged, &player_points_schema(ColumnMode::Nullable))
        .unwrap_err();
    // A run refused so ends kind `ownership`.
    assert!(
        matches!(
            refused,
            slate::store::StoreError::Ownership(
                slate::ownership::OwnershipRefused::UnlabelledDataset { .. }
            )
        ),
        "{refused:?}"
    );
    let refused = refused.to_string();
    assert_contains(&refused, "has no `slate_environment` label");
    assert_contains(&refused, "bq update --set_label slate_environment:");
    assert_eq!(environment_label_of(&dev_history), None);

    // The dev environment's history dataset is its own.
    let dev = BigQueryStore::connect(&dev_config).unwrap();
    assert_eq!(
        environment_label_of(&dev_history).as_deref(),
        Some(dev_config.dataset_prefix.as_str())
    );

    // A dataset holding a table this environment recorded is its own,
    // label or not.
    let table = TableName::new("slate_test", "points");
    prod.ensure_table(&table, &player_points_schema(ColumnMode::Nullable))
        .unwrap();
    let dataset = format!("{}slate_test", prod_config.dataset_prefix);
    on_dataset("PATCH", &dataset, serde_json::json!({"labels": {}}));
    assert_eq!(environment_label_of(&dataset), None);
    let reconnected = BigQueryStore::connect(&prod_config).unwrap();
    reconnected
        .ensure_table(&table, &player_points_schema(ColumnMode::Nullable))
        .unwrap();
    assert_eq!(
        environment_label_of(&dataset).as_deref(),
        Some(prod_config.dataset_prefix.as_str())
    );

    // A table read from an unlabelled dataset, which a read may do, is not
    // written through the schema the read cached.
    let theirs = format!("{}slate_test", dev_config.dataset_prefix);
    dev.ensure_table(&table, &player_points_schema(ColumnMode::Nullable))
        .unwrap();
    on_dataset("PATCH", &theirs, serde_json::json!({"labels": {}}));
    let reached = TableName::new("dev_slate_test", "points");
    let day = date("2026-01-11");
    assert!(
        reconnected
            .read_rows(&reached, day, day)
            .unwrap()
            .rows
            .is_empty()
    );
    let refused = reconnected
        .check_output_table(&reached, &player_points_schema(ColumnMode::Nullable))
        .unwrap_err()
        .to_string();
    assert_contains(&refused, "has no `slate_environment` label");
}

/// BigQuery that does not answer (nothing listens at its endpoint) is
/// unreachable, as a PostgreSQL database that takes no connection is: a
/// request gets 503 and a queue waits it out, rather than an internal
/// error. Its message names BigQuery once, not "store error: store error".
#[test]
fn bigquery_that_does_not_answer_is_unreachable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut config = emulator::isolated_config();
    config.endpoint = endpoint;

    let refused = BigQueryStore::connect(&config)
        .err()
        .expect("nothing answers");

    let said = refused.to_string();
    assert!(
        matches!(refused, slate::store::StoreError::Unreachable(_)),
        "{said}"
    );
    assert_contains(&said, "the store's database is unreachable: BigQuery ");
    assert!(!said.contains("store error: store error"), "{said}");
}
