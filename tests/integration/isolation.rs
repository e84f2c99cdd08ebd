//! The sandbox protects the data, not only the process: each hostile
//! processor here goes for a table, a limit or the host's own output, and
//! is refused or bounded, while a healthy processor beside it keeps its
//! rows exactly.

use chrono::NaiveDate;
use slate::catalog::{self, CatalogError};
use slate::demo::{load_season, schedule_table};
use slate::deploy::{DeployCheck, DeployError, Deployer};
use slate::liveness::LeaseConfig;
use slate::ownership::{Ledger, OwnershipRefused, TableOwner};
use slate::pipeline::Pipeline;
use slate::plugin::spec::SpecProblem;
use slate::plugin::{Plugin, PluginError, RunLimits};
use slate::registry::Registry;
use slate::rows::{RowSet, Scalar};
use slate::runs::{ErrorKind, RunRecord, RunStatus};
use slate::schema::{ColumnType, TableName};
use slate::store::{RunLedger, Store, Tables};

use crate::support::{
    TestHost, assert_contains, assert_succeeded, components, date, failure_message, health_report,
    hostile_control, plugin_dir, season, set_control, stderr,
};

fn versioned() -> TableName {
    TableName::new("slate_test", "versioned")
}

/// The ledger `store` keeps: recorded owners and the host's names.
fn ledger(store: &dyn Store) -> Ledger {
    Ledger::new(store.table_owners().unwrap(), store.host_owned())
}

/// Loads the processors as a command would with a `--plugin-dir` holding
/// only `component`, under the ownership the host's store records.
fn load_with_plugin_dir_of(
    host: &TestHost,
    component: &str,
) -> Result<Vec<catalog::Loaded>, CatalogError> {
    let dir = plugin_dir(&[component]);
    catalog::load(
        &host.runtime,
        None,
        Some(dir.path()),
        &ledger(host.store.as_ref()),
    )
}

/// Deploys TableThief into `registry` beside `current`, under `ledger`,
/// and answers why the deployment was refused.
fn deploy_table_thief(
    host: &TestHost,
    registry: &Registry,
    current: &Pipeline,
    ledger: &Ledger,
) -> DeployError {
    let bytes = std::fs::read(components::HOSTILE_TABLE_THIEF).unwrap();
    let deployer = Deployer {
        runtime: &host.runtime,
        registry,
        current,
        ledger,
        store: None,
    };
    deployer
        .deploy(&bytes, None)
        .err()
        .expect("the deployment is refused")
}

/// Asserts that loading `component` is refused by the `info` check (it
/// trapped, or described an unusable processor) with a message that
/// contains `expected`.
fn assert_refused_at_load(component: &str, expected: &str) {
    let host = TestHost::empty();
    let bytes = std::fs::read(component).unwrap();
    match host.runtime.load(&bytes) {
        Err(PluginError::Info(message)) => assert_contains(&message, expected),
        Err(PluginError::Spec(invalid)) => assert_contains(&invalid.to_string(), expected),
        Err(other) => panic!("{component} refused for another reason: {other}"),
        Ok(_) => panic!("{component} loaded"),
    }
}

/// Fills the hostile control table for `day` with these INT64 settings.
fn control(host: &TestHost, day: NaiveDate, settings: &[(&str, i64)]) {
    let columns: Vec<(&str, ColumnType)> = settings
        .iter()
        .map(|(name, _)| (*name, ColumnType::Int64))
        .collect();
    let values: Vec<Scalar> = settings
        .iter()
        .map(|(_, value)| Scalar::Int64(*value))
        .collect();
    set_control(
        host.store.as_ref(),
        &hostile_control(),
        day,
        &columns,
        &[&values],
    );
}

/// A host on which VersionedProcessor has written its two rows of `day`:
/// the host, the owner, and those rows.
fn host_where_versioned_wrote(day: NaiveDate) -> (TestHost, Plugin, RowSet) {
    let host = TestHost::empty();
    let owner = host.fixture(components::VERSIONED_V1);
    assert_eq!(host.run(&owner, day).status, RunStatus::Success);
    let before = host.rows(&versioned(), day);
    assert_eq!(before.rows.len(), 2);
    (host, owner, before)
}

#[test]
fn a_processor_cannot_empty_another_processors_table_at_run_load_or_deploy() {
    let day = date("2026-01-11");
    let (host, owner, before) = host_where_versioned_wrote(day);
    assert_eq!(
        host.store.table_owner(&versioned()).unwrap(),
        Some(TableOwner::Processor("VersionedProcessor".into())),
        "the first commit records the owner"
    );

    // At run: refused before it runs, kind `ownership`, naming the owner.
    let thief = host.fixture(components::HOSTILE_TABLE_THIEF);
    let refused = host.run(&thief, day);
    assert_eq!(refused.status, RunStatus::Failed);
    let message = failure_message(&refused, ErrorKind::Ownership);
    assert_contains(
        &message,
        "slate_test.versioned: it is owned by VersionedProcessor",
    );
    assert_eq!(host.rows(&versioned(), day), before, "the owner's rows");

    // At load: a --plugin-dir holding it fails, naming the owner.
    match load_with_plugin_dir_of(&host, components::HOSTILE_TABLE_THIEF) {
        Err(CatalogError::Ownership { origin, refused }) => {
            assert!(origin.ends_with("hostile_table_thief.wasm"), "{origin}");
            assert!(matches!(
                *refused,
                OwnershipRefused::OwnedByAnother { ref owner, .. } if owner == "VersionedProcessor"
            ));
        }
        Err(other) => panic!("refused for the wrong reason: {other}"),
        Ok(_) => panic!("the thief was loaded"),
    }

    // At deploy: refused by the ownership check, the active set untouched.
    let registry = Registry::open(&host.dir.path().join("registry")).unwrap();
    let current = Pipeline::new(vec![owner.clone()]).unwrap();
    let rejected = deploy_table_thief(&host, &registry, &current, &ledger(host.store.as_ref()));
    assert_eq!(rejected.check, DeployCheck::Ownership);
    assert!(rejected.reason.contains("owned by VersionedProcessor"));
    assert!(registry.active().unwrap().is_empty());

    // Beside it, the owner still runs, and its rows are its own.
    assert_eq!(host.run(&owner, day).status, RunStatus::Success);
    assert_eq!(host.rows(&versioned(), day), before);
}

#[test]
fn a_table_named_in_other_letter_case_is_refused_and_the_owners_rows_stay() {
    let day = date("2026-01-11");
    let (host, _, before) = host_where_versioned_wrote(day);

    // SQLite would take `slate_test.VERSIONED` for the owner's table.
    let bytes = std::fs::read(components::HOSTILE_CASE_THIEF).unwrap();
    match host.runtime.load(&bytes) {
        Err(PluginError::Spec(invalid)) => assert!(
            invalid
                .problems
                .iter()
                .any(|p| matches!(p, SpecProblem::UpperCaseTable(t) if t.table == "VERSIONED")),
            "{invalid:?}"
        ),
        Err(other) => panic!("refused for the wrong reason: {other}"),
        Ok(_) => panic!("the case thief was loaded"),
    }
    assert_eq!(host.rows(&versioned(), day), before, "the owner's rows");
}

#[test]
fn a_table_named_like_another_tables_index_does_not_stop_that_table_from_being_created() {
    let host = TestHost::empty();
    let day = date("2026-01-11");
    let squatter = host.fixture(components::HOSTILE_INDEX_SQUATTER);
    assert_eq!(host.run(&squatter, day).status, RunStatus::Success);

    let owner = host.fixture(components::VERSIONED_V1);
    let record = host.run(&owner, day);
    assert_eq!(record.status, RunStatus::Success, "{record:?}");
    assert_eq!(host.rows(&versioned(), day).rows.len(), 2);
    let squatted = TableName::new("slate_test", "versioned__by_day");
    assert_eq!(host.rows(&squatted, day).rows.len(), 1);
}

#[test]
fn a_processor_that_declares_a_host_table_among_its_inputs_never_runs_and_never_loads() {
    let host = TestHost::empty();
    let day = date("2026-01-11");
    let snoop_table = TableName::new("slate_test", "hostile_history_snoop");

    // At run: refused before it runs, kind `ownership`, naming the table.
    let snoop = host.fixture(components::HOSTILE_HISTORY_SNOOP);
    let refused = host.run(&snoop, day);
    assert_eq!(refused.status, RunStatus::Failed);
    assert_eq!(refused.rows_read, 0, "{refused:?}");
    let message = failure_message(&refused, ErrorKind::Ownership);
    assert_contains(
        &message,
        "HistorySnoop may not read _slate.runs: it is owned by the host",
    );
    assert!(host.rows(&snoop_table, day).rows.is_empty());

    // At load: a --plugin-dir holding it fails, naming the table.
    match load_with_plugin_dir_of(&host, components::HOSTILE_HISTORY_SNOOP) {
        Err(CatalogError::Ownership { origin, refused }) => {
            assert!(origin.ends_with("hostile_history_snoop.wasm"), "{origin}");
            assert!(matches!(
                *refused,
                OwnershipRefused::ReadsHostTable { ref table, .. } if table.to_string() == "_slate.runs"
            ));
        }
        Err(other) => panic!("refused for the wrong reason: {other}"),
        Ok(_) => panic!("the snoop was loaded"),
    }
}

#[test]
fn a_processor_reading_anothers_output_without_naming_it_upstream_never_loads_nor_lets_it_deploy() {
    let host = TestHost::empty();
    let expected = "UpstreamSkipper may not read nba_analytics.player_game_summary: it is \
                    the output of PlayerGameSummaryProcessor, which UpstreamSkipper does not \
                    name among its upstream processors";

    // At load: beside the bundled summaries, a --plugin-dir holding it fails.
    match load_with_plugin_dir_of(&host, components::HOSTILE_UPSTREAM_SKIP) {
        Err(CatalogError::Ownership { origin, refused }) => {
            assert!(origin.ends_with("hostile_upstream_skip.wasm"), "{origin}");
            assert_contains(&refused.to_string(), expected);
        }
        Err(other) => panic!("refused for the wrong reason: {other}"),
        Ok(_) => panic!("the skipper was loaded"),
    }

    // At deploy: refused by the ownership check, the registry untouched.
    let registry = Registry::open(&host.dir.path().join("registry")).unwrap();
    let current = host.bundled_pipeline(&["player-game-summary"]);
    let deployer = Deployer {
        runtime: &host.runtime,
        registry: &registry,
        current: &current,
        ledger: &ledger(host.store.as_ref()),
        store: None,
    };
    let bytes = std::fs::read(components::HOSTILE_UPSTREAM_SKIP).unwrap();
    let rejected = deployer.deploy(&bytes, None).err().expect("refused");
    assert_eq!(rejected.check, DeployCheck::Ownership, "{rejected}");
    assert_contains(&rejected.reason, expected);
    assert!(registry.active().unwrap().is_empty());

    // Loaded where nothing writes the table, it runs; a deploy of the
    // table's writer is then refused, since every load from then on would
    // leave the skipper out.
    let skipper = host.fixture(components::HOSTILE_UPSTREAM_SKIP);
    let current = Pipeline::new(vec![skipper]).unwrap();
    let deployer = Deployer {
        current: &current,
        ..deployer
    };
    let summaries = slate::bundled::PLUGINS
        .iter()
        .find(|p| p.package == "player-game-summary")
        .unwrap();
    let rejected = deployer
        .deploy(summaries.bytes, None)
        .err()
        .expect("refused");
    assert_eq!(rejected.check, DeployCheck::Ownership, "{rejected}");
    assert_contains(
        &rejected.reason,
        &format!("every load would leave a reader of its table out: {expected}"),
    );
    assert!(registry.active().unwrap().is_empty());
}

#[test]
fn an_unowned_table_goes_to_the_first_processor_loaded_not_a_newcomer_under_another_name() {
    let host = TestHost::empty();
    let owner = host.fixture(components::VERSIONED_V1);
    // Nothing recorded yet: the registry version was loaded first.
    let current = Pipeline::new(vec![owner]).unwrap();
    let registry = Registry::open(&host.dir.path().join("registry")).unwrap();
    let rejected = deploy_table_thief(&host, &registry, &current, &Ledger::default());
    assert_eq!(rejected.check, DeployCheck::Ownership);
    assert_contains(
        &rejected.reason,
        "VersionedProcessor names it too and is loaded first",
    );
    assert_contains(&rejected.reason, "no owner is recorded yet");
}

#[test]
fn a_new_version_keeps_its_table_and_only_an_operators_transfer_moves_it() {
    let host = TestHost::empty();
    let day = date("2026-01-11");
    let v1 = host.fixture(components::VERSIONED_V1);
    let v2 = host.fixture(components::VERSIONED_V2);
    let thief = host.fixture(components::HOSTILE_TABLE_THIEF);
    assert_eq!(host.run(&v1, day).status, RunStatus::Success);
    assert_eq!(
        host.run(&v2, day).status,
        RunStatus::Success,
        "a new version of the same processor keeps its table"
    );
    assert_eq!(host.run(&thief, day).error_kind, Some(ErrorKind::Ownership));

    let transfer = host
        .store
        .transfer_table(
            &versioned(),
            &TableOwner::Processor("TableThief".into()),
            "operator on test-host",
        )
        .unwrap();
    assert_eq!(
        transfer.from,
        Some(TableOwner::Processor("VersionedProcessor".into()))
    );
    assert_eq!(host.store.table_transfers().unwrap(), vec![transfer]);
    assert_eq!(host.run(&thief, day).status, RunStatus::Success);
    let refused = host.run(&v1, day);
    let message = failure_message(&refused, ErrorKind::Ownership);
    assert_contains(&message, "it is owned by TableThief");
}

#[test]
fn a_date_emptied_by_a_successful_rerun_fails_the_health_check() {
    let host = TestHost::empty();
    let day = date("2026-01-11");
    let opening = date("2026-01-10");
    let wide = host.fixture(components::HOSTILE_WIDE_OUTPUT);
    control(&host, day, &[("rows", 10), ("columns", 32)]);
    control(&host, opening, &[("rows", 0), ("columns", 32)]);
    assert_eq!(host.run(&wide, day).rows_written, 10);
    assert_eq!(host.run(&wide, opening).rows_written, 0);
    let pipeline = Pipeline::new(vec![wide.clone()]).unwrap();
    let report = health_report(host.store.as_ref(), &pipeline, chrono::Utc::now());
    assert!(
        report.tables[0].emptied_dates.is_empty(),
        "nothing emptied yet"
    );

    control(&host, day, &[("rows", 0), ("columns", 32)]);
    let emptying = host.run(&wide, day);
    assert_eq!(
        (emptying.status, emptying.rows_written),
        (RunStatus::Success, 0)
    );
    let report = health_report(host.store.as_ref(), &pipeline, chrono::Utc::now());
    assert!(!report.healthy);
    let emptied = &report.tables[0].emptied_dates;
    assert_eq!(emptied.len(), 1, "{emptied:?}");
    assert_eq!(
        (emptied[0].date, emptied[0].rows_before, &emptied[0].run_id),
        (day, 10, &emptying.run_id)
    );
}

/// A date whose latest success set every row aside under the
/// `quarantine` policy fails the health check, naming the run: the date
/// lacks its data. Before, it was noted as having "succeeded with 0 rows",
/// as an opening night is.
#[test]
fn a_date_whose_every_row_was_quarantined_fails_the_health_check() {
    use slate::health::QuarantinedDate;
    use slate::quarantine::QuarantinedRow;
    use slate::runs::{NewRun, Trigger};
    use slate::store::RunOutput;

    let host = TestHost::with_demo_season();
    let (day, opening) = (date("2026-01-11"), date("2026-01-10"));
    let wide = host.fixture(components::HOSTILE_WIDE_OUTPUT);
    control(&host, opening, &[("rows", 0), ("columns", 32)]);
    assert_eq!(host.run(&wide, opening).rows_written, 0);
    // A success that quarantined its one row, committed as a run commits.
    let spec = &wide.spec;
    let run = host
        .store
        .start_run(&NewRun {
            processor: spec.name.clone(),
            phase: spec.phase,
            data_date: day,
            host_id: "test-host:1".into(),
            plugin_hash: "hash".into(),
            trigger: Trigger::Cli,
            lease: std::time::Duration::from_secs(60),
        })
        .unwrap();
    let set_aside = [QuarantinedRow {
        row_index: 0,
        errors: Vec::new(),
        raw_row: slate::quarantine::RawRow::from_stored("{}".into()).unwrap(),
    }];
    let none = RowSet {
        columns: spec.schema.columns.iter().map(|c| c.name.clone()).collect(),
        rows: Vec::new(),
    };
    let output = RunOutput {
        quarantined: &set_aside,
        ..RunOutput::new(&spec.name, &spec.output_table, &spec.schema, day, &none)
    };
    assert_eq!(host.store.commit_run(&run.run_id, &output).unwrap(), 0);

    let pipeline = Pipeline::new(vec![wide.clone()]).unwrap();
    let report = health_report(host.store.as_ref(), &pipeline, chrono::Utc::now());
    assert!(!report.healthy);
    let table = &report.tables[0];
    assert_eq!(
        table.quarantined_dates,
        [QuarantinedDate {
            date: day,
            rows_quarantined: 1,
            run_id: run.run_id.clone(),
        }]
    );
    assert!(table.empty_successes.contains(&opening), "{table:?}");
    assert!(!table.empty_successes.contains(&day), "{table:?}");
    assert!(!table.missing_dates.contains(&day), "{table:?}");
}

/// Rows removed past the host (another tool's SQL) after a success wrote
/// them fail the health check, naming the date, the rows written and the
/// rows held. Before, a table emptied that way was healthy, its dates
/// noted as having "succeeded with 0 rows".
#[test]
fn rows_removed_past_the_host_fail_the_health_check() {
    let host = TestHost::empty();
    let (day, opening) = (date("2026-01-11"), date("2026-01-10"));
    let wide = host.fixture(components::HOSTILE_WIDE_OUTPUT);
    control(&host, day, &[("rows", 10), ("columns", 32)]);
    control(&host, opening, &[("rows", 0), ("columns", 32)]);
    let wrote = host.run(&wide, day);
    host.run(&wide, opening);
    let pipeline = Pipeline::new(vec![wide.clone()]).unwrap();
    let healthy = health_report(host.store.as_ref(), &pipeline, chrono::Utc::now());
    assert!(healthy.tables[0].lost_rows.is_empty(), "{healthy:?}");

    let database = rusqlite::Connection::open(host.dir.path().join("slate.db")).unwrap();
    let table = wide.spec.output_table.to_string();
    let removed = database
        .execute(
            &format!(
                "DELETE FROM \"{table}\" WHERE rowid IN (SELECT rowid FROM \"{table}\" LIMIT 4)"
            ),
            [],
        )
        .unwrap();
    assert_eq!(removed, 4);
    let report = health_report(host.store.as_ref(), &pipeline, chrono::Utc::now());
    assert!(!report.healthy);
    let lost = &report.tables[0].lost_rows;
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(
        (
            lost[0].date,
            lost[0].rows_written,
            lost[0].rows_held,
            &lost[0].run_id
        ),
        (day, 10, 6, &wrote.run_id)
    );
    database
        .execute(&format!("DELETE FROM \"{table}\""), [])
        .unwrap();
    let report = health_report(host.store.as_ref(), &pipeline, chrono::Utc::now());
    assert_eq!(report.tables[0].lost_rows[0].rows_held, 0);
    assert!(
        !report.tables[0].empty_successes.contains(&day),
        "a date whose rows were lost did not succeed with none"
    );
}

/// Rows added past the host (another tool's SQL) to a date a success
/// wrote fail the health check, naming the date, the rows written and the
/// rows held: every processor downstream would read them as the run's.
/// Before, only fewer rows than written were caught.
#[test]
fn rows_added_past_the_host_fail_the_health_check() {
    let host = TestHost::empty();
    let day = date("2026-01-11");
    let wide = host.fixture(components::HOSTILE_WIDE_OUTPUT);
    control(&host, day, &[("rows", 10), ("columns", 32)]);
    let wrote = host.run(&wide, day);
    let pipeline = Pipeline::new(vec![wide.clone()]).unwrap();
    let healthy = health_report(host.store.as_ref(), &pipeline, chrono::Utc::now());
    assert!(healthy.tables[0].added_rows.is_empty(), "{healthy:?}");

    let database = rusqlite::Connection::open(host.dir.path().join("slate.db")).unwrap();
    let table = wide.spec.output_table.to_string();
    let added = database
        .execute(
            &format!("INSERT INTO \"{table}\" SELECT * FROM \"{table}\" LIMIT 3"),
            [],
        )
        .unwrap();
    assert_eq!(added, 3);
    let report = health_report(host.store.as_ref(), &pipeline, chrono::Utc::now());
    assert!(!report.healthy);
    let added = &report.tables[0].added_rows;
    assert_eq!(
        added
            .iter()
            .map(|a| (a.date, a.rows_written, a.rows_held, a.run_id.as_str()))
            .collect::<Vec<_>>(),
        [(day, 10, 13, wrote.run_id.as_str())]
    );
    assert!(report.tables[0].lost_rows.is_empty());
}

#[test]
fn a_processor_cannot_overwrite_a_raw_input() {
    let host = TestHost::with_demo_season();
    let day = date("2026-01-11");
    let schedule = host.rows(&schedule_table(), day);
    assert_eq!(schedule.rows.len(), 7);
    assert_eq!(
        host.store.table_owner(&schedule_table()).unwrap(),
        Some(TableOwner::RawInput)
    );

    let hostile = host.fixture(components::HOSTILE_RAW_OVERWRITE);
    let refused = host.run(&hostile, day);
    let message = failure_message(&refused, ErrorKind::Ownership);
    assert_contains(&message, "nba_raw.schedule: it is a raw input");
    assert_eq!(host.rows(&schedule_table(), day), schedule);

    let loaded = load_with_plugin_dir_of(&host, components::HOSTILE_RAW_OVERWRITE);
    assert!(matches!(
        loaded,
        Err(CatalogError::Ownership { ref refused, .. })
            if matches!(**refused, OwnershipRefused::RawInput { .. })
    ));

    // Beside it, phase 3 still runs on the intact schedule.
    let summary = host.bundled("player-game-summary");
    let record = host.run(&summary, day);
    assert_eq!(record.status, RunStatus::Success, "{record:?}");
    assert!(record.rows_written > 0);
}

/// The raw inputs the host loads are its own before their first load: on
/// a new PostgreSQL database, a processor that names one is refused, and
/// the demo's load then takes the table. Before, the processor ran first,
/// took the table, and every load of the demo was refused.
#[test]
fn a_processor_cannot_take_a_raw_input_before_the_host_first_loads_it() {
    let url = crate::postgres_server::isolated_url();
    let data = tempfile::tempdir().unwrap();
    let plugins = crate::support::plugin_dir(&[components::HOSTILE_RAW_OVERWRITE]);
    let run = crate::support::slate_with_plugins(data.path(), plugins.path())
        .args(["--state", &url, "run", "--date", "2026-01-11"])
        .args(["--processors", "RawOverwrite"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert_contains(
        &String::from_utf8_lossy(&run.stderr),
        "RawOverwrite may not write nba_raw.schedule: it is a raw input, owned by the host",
    );

    let demo = crate::support::slate(
        data.path(),
        &[
            "--state",
            &url,
            "demo",
            "--from",
            "2026-01-11",
            "--to",
            "2026-01-11",
        ],
    );
    assert!(demo.status.success(), "{demo:?}");
    let tables = crate::support::slate(data.path(), &["--state", &url, "tables"]);
    let listed = String::from_utf8_lossy(&tables.stdout);
    assert!(!listed.contains("RawOverwrite"), "{listed}");
}

#[test]
fn a_nullable_partition_column_is_refused_when_the_processor_loads() {
    let host = TestHost::empty();
    let bytes = std::fs::read(components::HOSTILE_NULLABLE_PARTITION).unwrap();
    let Err(PluginError::Spec(invalid)) = host.runtime.load(&bytes) else {
        panic!("a nullable partition column was not refused as a problem of the declaration");
    };
    assert!(
        invalid.problems.contains(&SpecProblem::Schema(
            "partition column `day` must be REQUIRED DATE, not NULLABLE DATE".into()
        )),
        "{invalid:?}"
    );
}

#[test]
fn a_failed_run_leaves_no_new_table_behind() {
    let host = TestHost::empty();
    let day = date("2026-01-11");
    let panicking = host.fixture(components::HOSTILE_PANIC);
    let record = host.run(&panicking, day);
    assert_eq!(record.status, RunStatus::Failed);
    let table = TableName::new("slate_test", "hostile_panic");
    assert_eq!(host.store.table_schema(&table).unwrap(), None);
    assert_eq!(host.store.table_owner(&table).unwrap(), None);
}

#[test]
fn a_looping_info_is_stopped_by_its_own_cpu_limit_and_names_it() {
    assert_refused_at_load(
        components::HOSTILE_INFO_LOOP,
        "CPU time limit of 1000 ms exceeded",
    );
}

#[test]
fn a_panicking_info_shows_the_panic_message() {
    assert_refused_at_load(
        components::HOSTILE_INFO_PANIC,
        "hostile info panic: no description today",
    );
}

/// Limits roomy enough in memory for a wide output to be built in the guest.
fn roomy() -> RunLimits {
    RunLimits {
        memory_bytes: 1 << 30,
        ..RunLimits::default()
    }
}

/// A run of WideOutput on a host with `limits`, told to return `rows` rows
/// of `columns` columns.
fn wide_output_run(limits: RunLimits, rows: i64, columns: i64) -> RunRecord {
    let host = TestHost::with(limits, LeaseConfig::default());
    let day = date("2026-01-11");
    control(&host, day, &[("rows", rows), ("columns", columns)]);
    host.run(&host.fixture(components::HOSTILE_WIDE_OUTPUT), day)
}

#[test]
fn an_output_within_the_limits_loads_though_it_is_past_wasmtimes_default_bound() {
    let record = wide_output_run(roomy(), 135_000, 32);
    assert_eq!(record.status, RunStatus::Success, "{record:?}");
    assert_eq!(record.rows_written, 135_000);
}

#[test]
fn too_many_tiny_rows_fail_as_limit_output_with_the_limit_and_the_count() {
    let record = wide_output_run(roomy(), 2_000_000, 2);
    assert_eq!(
        record.error_kind,
        Some(ErrorKind::LimitOutput),
        "{record:?}"
    );
    assert_eq!(
        (record.limit_value, record.observed_value),
        (Some(1_000_000), Some(2_000_000))
    );
}

#[test]
fn an_output_past_the_transfer_bound_of_the_output_limits_fails_as_limit_output() {
    let limits = RunLimits {
        max_output_rows: 1_000,
        max_output_bytes: 1 << 20,
        ..roomy()
    };
    let record = wide_output_run(limits, 135_000, 32);
    let message = failure_message(&record, ErrorKind::LimitOutput);
    let bound = limits.hostcall_bytes() as i64;
    assert_eq!(
        (record.limit_value, record.observed_value),
        (Some(bound), Some(bound))
    );
    assert_contains(&message, &format!("more than {bound} bytes"));
}

/// A read past the limit on rows read fails the run as `limit_read`, with
/// the limit and the rows it would have made, even when the processor
/// takes the refusal as no rows and returns rows anyway. Before, the
/// refusal was only the processor's to report (kind `plugin`, no values),
/// and one that swallowed it committed rows made without the data as a
/// success.
#[test]
fn a_read_past_the_read_limit_fails_the_run_whatever_the_processor_makes_of_it() {
    let limits = RunLimits {
        max_rows_read: 1,
        ..RunLimits::default()
    };
    let host = TestHost::with(limits, LeaseConfig::default());
    let day = date("2026-01-11");
    let columns = [("n", ColumnType::Int64)];
    let two_rows: [&[Scalar]; 2] = [&[Scalar::Int64(1)], &[Scalar::Int64(2)]];
    set_control(
        host.store.as_ref(),
        &hostile_control(),
        day,
        &columns,
        &two_rows,
    );
    let swallower = host.fixture(components::HOSTILE_READ_LIMIT_SWALLOW);

    let record = host.run(&swallower, day);

    let message = failure_message(&record, ErrorKind::LimitRead);
    assert_eq!(
        message,
        "read limit of 1 rows exceeded: reading 2 rows of slate_test.hostile_control would make 2 rows read"
    );
    assert_eq!(
        (record.limit_value, record.observed_value),
        (Some(1), Some(2))
    );
    assert!(
        host.rows(&swallower.spec.output_table, day).rows.is_empty(),
        "no row made without the data was loaded"
    );
}

/// The host keeps one dictionary per table and coded column across reads,
/// so that a season-to-date read joins codes made before. A read is
/// answered with the texts of its own rows only: handed on whole, the
/// dictionary gave a run every text any earlier run of the process had
/// read, later dates' among them.
#[test]
fn a_coded_read_gives_only_its_own_rows_texts_never_a_later_dates() {
    let host = TestHost::empty();
    let (earlier, later) = (date("2026-01-10"), date("2026-01-12"));
    for day in [earlier, later] {
        set_control(
            host.store.as_ref(),
            &hostile_control(),
            day,
            &[("secret", ColumnType::String)],
            &[&[Scalar::String(format!("secret of {day}"))]],
        );
    }
    let snoop = host.fixture(components::HOSTILE_DICTIONARY_SNOOP);
    let texts_given = |day| {
        let rows = host.rows(&snoop.spec.output_table, day);
        let text = rows.columns.iter().position(|c| c == "text").unwrap();
        rows.rows
            .iter()
            .map(|row| row[text].clone())
            .collect::<Vec<_>>()
    };

    assert_eq!(host.run(&snoop, later).status, RunStatus::Success);
    assert_eq!(host.run(&snoop, earlier).status, RunStatus::Success);

    let secret = |day| {
        vec![slate::rows::Value::Scalar(Scalar::String(format!(
            "secret of {day}"
        )))]
    };
    assert_eq!(texts_given(earlier), secret(earlier), "not the 12th's");
    assert_eq!(texts_given(later), secret(later));
}

/// A processor's words reach the operator's terminal and the host's log:
/// its error in `slate run`, `slate runs` and `slate health`, its log
/// lines on stderr. Its escape sequences (a title set, the screen
/// cleared, text hidden) are shown escaped, and its lines indented under
/// the host's (none reads as a host log line); before, both were printed
/// raw.
#[test]
fn a_processors_escape_sequences_and_line_breaks_reach_no_terminal_or_log_raw() {
    let dir = tempfile::tempdir().unwrap();
    slate::store::EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    let plugins = plugin_dir(&[components::HOSTILE_TERMINAL_ESCAPE]);
    let slate = |args: &[&str]| {
        crate::support::slate_with_plugins(dir.path(), plugins.path())
            .args(args)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run slate")
    };

    let outputs = [
        slate(&[
            "run",
            "--date",
            "2026-01-11",
            "--processors",
            "TerminalEscape",
        ]),
        slate(&["runs", "--processor", "TerminalEscape"]),
        slate(&["health", "--from", "2026-01-11", "--to", "2026-01-11"]),
        // Where the host quotes a processor's words as JSON, which leaves
        // C1 controls and bidirectional overrides raw.
        slate(&[
            "run",
            "--date",
            "2026-01-12",
            "--processors",
            "TerminalEscape",
        ]),
        slate(&["quarantine"]),
        slate(&["quarantine", "--json"]),
        slate(&["runs", "--json"]),
        slate(&["schemas"]),
    ];

    for output in &outputs {
        let both = format!("{}{}", crate::support::stdout(output), stderr(output));
        let raw = |c: char| slate::printable::is_unprintable(c) && c != '\n';
        assert!(!both.contains(raw), "raw controls in:\n{both}");
        assert!(
            !both
                .lines()
                .any(|line| line.starts_with("2026-01-11T00:00:00Z")),
            "a forged log line in:\n{both}"
        );
    }
    let run = stderr(&outputs[0]);
    assert_contains(&run, r"failure \u{1b}]0;PWNED\u{7}\u{1b}[2J");
    assert_contains(
        &run,
        "\n    2026-01-11T00:00:00Z  INFO slate: forged host line",
    );
    assert_contains(
        &crate::support::stdout(&outputs[1]),
        r"failure \u{1b}]0;PWNED",
    );
    // A table shows it escaped as the host's messages are, JSON as JSON
    // escapes it.
    for (quarantined, escaped) in [(&outputs[4], r"\u{9b}2J"), (&outputs[5], r"\u009b2J")] {
        assert_contains(&crate::support::stdout(quarantined), escaped);
    }
    let listed: serde_json::Value =
        serde_json::from_str(&crate::support::stdout(&outputs[5])).expect("still JSON");
    assert_contains(
        listed[0]["raw_row"]["n"].as_str().unwrap(),
        "\u{9b}2J\u{202e}desrever",
    );
}

/// A component refused for what it declares has its names quoted in the
/// refusal: a table named with a title escape, a screen clear, a CSI and
/// an override reached the terminal raw from `slate deploy`, `slate test`
/// and every command loading a `--plugin-dir` holding it.
#[test]
fn a_refusal_quoting_a_components_declared_names_reaches_no_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    slate::store::EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    let hostile = "h\u{1b}]0;T\u{7}\u{9b}2J\u{202e}xyz";
    let bytes = crate::support::with_table_renamed(
        components::HOSTILE_LOG_FLOOD,
        "hostile_log_flood",
        hostile,
    );
    let plugins = tempfile::tempdir().unwrap();
    let component = plugins.path().join("renamed.wasm");
    std::fs::write(&component, bytes).unwrap();
    let file = component.to_str().unwrap();
    let slate = |args: &[&str]| crate::support::slate(dir.path(), args);

    let outputs = [
        slate(&["deploy", file]),
        slate(&["test", file, "--date", "2026-01-11", "--fixtures", "."]),
        slate(&["--plugin-dir", plugins.path().to_str().unwrap(), "plugins"]),
    ];

    for output in &outputs {
        assert!(!output.status.success(), "{output:?}");
        let said = stderr(output);
        let raw = |c: char| slate::printable::is_unprintable(c) && c != '\n';
        assert!(!said.contains(raw), "raw controls in:\n{said}");
        assert_contains(&said, r"h\u{1b}]0;T\u{7}\u{9b}2J\u{202e}xyz");
    }
}

#[test]
fn a_log_flood_is_cut_to_the_runs_budget_and_the_dropped_lines_are_counted() {
    let limits = RunLimits {
        max_log_lines: 100,
        ..RunLimits::default()
    };
    let host = TestHost::with(limits, LeaseConfig::default());
    let day = date("2026-01-11");
    control(&host, day, &[("lines", 100_000)]);
    let flood = host.fixture(components::HOSTILE_LOG_FLOOD);
    let record = host.run(&flood, day);
    assert_eq!(record.status, RunStatus::Success, "{record:?}");
    assert_eq!(record.log_lines_dropped, 99_900);
    assert!(
        record.peak_memory_bytes > 0,
        "the instance's peak memory is recorded"
    );
    let stored = host.store.run(&record.run_id).unwrap().unwrap();
    assert_eq!(stored.log_lines_dropped, 99_900, "recorded in the store");
}

#[test]
fn a_component_with_many_memories_is_held_to_one_limit_for_all_of_them() {
    let host = TestHost::empty();
    // Eight memories of 10 MiB: each is far below any limit, together they
    // are past the 64 MiB that reading info() may use.
    let bytes = crate::multi_memory::component(8, 10 << 20);
    let Err(PluginError::Info(message)) = host.runtime.load(&bytes) else {
        panic!("eight memories were instantiated under one 64 MiB limit");
    };
    assert_contains(&message, "memory limit of 67108864 bytes exceeded");
    // Each memory alone is within that limit: one of them loads as far as
    // its info() (which traps), so the sum is what refused the eight.
    let one = crate::multi_memory::component(1, 10 << 20);
    let Err(PluginError::Info(message)) = host.runtime.load(&one) else {
        panic!("the trap in info() went unnoticed");
    };
    assert_contains(&message, "info() trapped");
}

#[test]
fn every_hostile_run_leaves_a_healthy_processor_beside_it_intact() {
    let host = TestHost::with(roomy(), LeaseConfig::default());
    let day = date("2026-01-11");
    load_season(host.store.as_ref(), season()).unwrap();
    control(&host, day, &[("rows", 10), ("columns", 32), ("lines", 10)]);
    let healthy = host.bundled("player-game-summary");
    assert_eq!(host.run(&healthy, day).status, RunStatus::Success);
    let summary = TableName::new("nba_analytics", "player_game_summary");
    let before = host.rows(&summary, day);
    for (hostile, outcome) in [
        (components::HOSTILE_RAW_OVERWRITE, RunStatus::Failed),
        (components::HOSTILE_WIDE_OUTPUT, RunStatus::Success),
        (components::HOSTILE_LOG_FLOOD, RunStatus::Success),
    ] {
        let record = host.run(&host.fixture(hostile), day);
        assert_eq!(record.status, outcome, "{record:?}");
        assert_eq!(host.rows(&summary, day), before, "after {hostile}");
        let again = host.run(&healthy, day);
        assert_eq!(again.status, RunStatus::Success, "after {hostile}");
        assert_eq!(host.rows(&summary, day), before, "rerun after {hostile}");
    }
}

/// A processor that owns a table keeps it: a version naming another table
/// is refused wherever it comes from, naming the table it owns. Before, a
/// plugin-folder file replaced on disk, or a deploy after an undeploy, ran
/// into a new table, and the old one went stale under its readers, which
/// went on succeeding.
#[test]
fn a_processor_owning_a_table_is_refused_a_version_naming_another() {
    let renamed = crate::support::with_table_renamed(
        components::VERSIONED_V2,
        "slate_test.versioned",
        "slate_test.versionee",
    );
    let keeps = "VersionedProcessor may not write slate_test.versionee: it owns \
                 slate_test.versioned, which would go stale under its readers";

    // A plugin-folder file, replaced between two runs.
    let data = crate::support::demo_data_dir("2026-01-11", "2026-01-11");
    let plugins = crate::support::plugin_dir(&[components::VERSIONED_V1]);
    let run = || {
        crate::support::slate_with_plugins(data.path(), plugins.path())
            .args([
                "run",
                "--date",
                "2026-01-11",
                "--processors",
                "VersionedProcessor",
            ])
            .output()
            .unwrap()
    };
    assert_succeeded(&run());
    let v1_file = std::path::Path::new(components::VERSIONED_V1)
        .file_name()
        .unwrap();
    std::fs::write(plugins.path().join(v1_file), &renamed).unwrap();
    let refused = run();
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert_contains(&stderr(&refused), keeps);

    // A deploy after an undeploy: the undeploy left the table and its rows.
    let data = crate::support::demo_data_dir("2026-01-11", "2026-01-11");
    let slate = |args: &[&str]| crate::support::slate(data.path(), args);
    let run_it = || {
        let args = [
            "run",
            "--date",
            "2026-01-11",
            "--processors",
            "VersionedProcessor",
        ];
        assert_succeeded(&slate(&args));
    };
    assert_succeeded(&slate(&["deploy", components::VERSIONED_V1]));
    run_it();
    assert_succeeded(&slate(&["undeploy", "VersionedProcessor"]));
    let file = data.path().join("renamed.wasm");
    std::fs::write(&file, &renamed).unwrap();
    let refused = slate(&["deploy", file.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert_contains(&stderr(&refused), keeps);
    // Freed, it may be named anew.
    assert_succeeded(&slate(&[
        "tables",
        "transfer",
        "slate_test.versioned",
        "--raw-input",
    ]));
    assert_succeeded(&slate(&["deploy", file.to_str().unwrap()]));
    run_it();
    // Nor may a transfer give it a second table, which would have it
    // refused whatever it writes.
    let second = slate(&[
        "tables",
        "transfer",
        "slate_test.versioned",
        "--to",
        "VersionedProcessor",
        "--before-deploy",
    ]);
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert_contains(
        &stderr(&second),
        "VersionedProcessor owns slate_test.versionee already, and a processor owns one table",
    );
}
