//! Bad rows and schema drift, end to end: a processor's output is checked
//! before anything is written, one bad row of 199 is named precisely, the
//! `quarantine` policy loads the good rows and keeps the bad one, and a live
//! table whose schema drifted is migrated or refused.

use slate::rows::{RowSet, Scalar, Value};
use slate::runs::{ErrorKind, RunStatus};
use slate::schema::{Column, ColumnMode, ColumnType, TableName, TableSchema};
use slate::store::alerts::AlertOutbox;
use slate::store::{RunLedger, Tables};

use crate::support::{
    TestHost, assert_failed_validation, components, date, player_points_rows, player_points_schema,
};

fn failing_table() -> TableName {
    TableName::new("slate_test", "one_bad_row_fails_run")
}

fn quarantine_table() -> TableName {
    TableName::new("slate_test", "one_bad_row_quarantined")
}

/// The fixtures' schema as it was before `circuit_breaker_until` was added.
fn schema_without_breaker() -> TableSchema {
    player_points_schema(ColumnMode::Required)
}

/// `count` rows of the old schema for `day`.
fn old_rows(day: &str, count: i64) -> RowSet {
    player_points_rows(date(day), (0..count).map(|n| (format!("old_{n}"), n)))
}

#[test]
fn under_fail_run_one_bad_row_of_199_writes_nothing_and_names_row_field_and_value() {
    let host = TestHost::empty();
    let plugin = host.fixture(components::ONE_BAD_ROW_FAILS_RUN);
    let day = date("2026-01-11");
    // Yesterday's load of the same date is in the table.
    host.table_for(&plugin.spec.name, &failing_table(), &plugin.spec.schema);
    let previous = host.run(&plugin, date("2026-01-01"));
    assert_eq!(previous.status, RunStatus::Success);
    assert_eq!(previous.rows_written, 199);

    let record = host.run(&plugin, day);

    assert_eq!(record.status, RunStatus::Failed);
    assert_failed_validation(
        &record,
        "1 of 199 rows failed validation with 1 error\n",
        "row 137 (player_lookup=\"player_137\", game_date=\"2026-01-11\"): field \
         `circuit_breaker_until` expected NULLABLE TIMESTAMP, got INT64 1700000000",
    );
    assert!(host.rows(&failing_table(), day).rows.is_empty());
    assert_eq!(
        host.rows(&failing_table(), date("2026-01-01")).rows.len(),
        199
    );
    assert!(host.store.quarantined(None, None).unwrap().is_empty());

    // What an operator reads first names them too: the alert and health.
    // Before, both said "1 of 199 rows failed validation with 1 error".
    let named = "1 of 199 rows failed validation with 1 error: row 137 \
                 (player_lookup=\"player_137\", game_date=\"2026-01-11\"): field \
                 `circuit_breaker_until` expected NULLABLE TIMESTAMP, got INT64 1700000000: \
                 an INT64 value cannot go into a TIMESTAMP column";
    let alerts = host.store.alerts(true, 10).unwrap();
    crate::support::assert_contains(&alerts[0].raised.summary, named);
    assert_eq!(alerts[0].raised.detail["error"], named);
    let pipeline = slate::pipeline::Pipeline::new(vec![plugin]).unwrap();
    let health = crate::support::health_report(host.store.as_ref(), &pipeline, chrono::Utc::now());
    assert_eq!(health.problem_runs[0].message, named);
}

#[test]
fn a_failed_validation_leaves_the_dates_previous_rows_intact() {
    let host = TestHost::empty();
    let plugin = host.fixture(components::ONE_BAD_ROW_FAILS_RUN);
    let day = date("2026-01-11");
    host.table_for(
        &plugin.spec.name,
        &failing_table(),
        &schema_without_breaker(),
    );
    host.store
        .replace_partitions(&failing_table(), &[day], &old_rows("2026-01-11", 5))
        .unwrap();

    let record = host.run(&plugin, day);

    assert_eq!(record.status, RunStatus::Failed);
    let rows = host.rows(&failing_table(), day);
    assert_eq!(rows.rows.len(), 5, "the old rows are still there");
}

#[test]
fn under_quarantine_198_rows_load_and_the_bad_one_is_kept_with_its_errors() {
    let host = TestHost::empty();
    let plugin = host.fixture(components::ONE_BAD_ROW_QUARANTINED);
    let day = date("2026-01-11");

    let record = host.run(&plugin, day);

    assert_eq!(record.status, RunStatus::Success, "{record:?}");
    assert_eq!(record.rows_written, 198);
    assert_eq!(
        record.reason.as_deref(),
        Some(
            format!(
                "committed 198 rows; quarantined 1 bad row (see `slate quarantine --run {}`)",
                record.run_id
            )
            .as_str()
        )
    );
    let loaded = host.rows(&quarantine_table(), day);
    assert_eq!(loaded.rows.len(), 198);
    assert!(
        !loaded
            .rows
            .iter()
            .any(|row| row[1] == Value::Scalar(Scalar::String("player_137".into())))
    );

    let quarantined = host.store.quarantined(Some(&record.run_id), None).unwrap();
    assert_eq!(quarantined.len(), 1);
    let bad = &quarantined[0];
    assert_eq!(bad.run_id, record.run_id);
    assert_eq!(bad.processor, "OneBadRowQuarantined");
    assert_eq!(bad.data_date, day);
    assert_eq!(bad.table_name, "slate_test.one_bad_row_quarantined");
    assert_eq!(bad.row_index, 137);
    assert_eq!(bad.errors.len(), 1);
    assert_eq!(bad.errors[0].field, "circuit_breaker_until");
    assert_eq!(bad.errors[0].value, "INT64 1700000000");
    assert_eq!(
        bad.raw_row.parsed(),
        serde_json::json!({
            "game_date": "2026-01-11",
            "player_lookup": "player_137",
            "points": 17,
            "circuit_breaker_until": 1_700_000_000,
        })
    );
    // Another run's listing does not include it; the unfiltered one does.
    assert!(
        host.store
            .quarantined(Some("no-such-run"), None)
            .unwrap()
            .is_empty()
    );
    assert_eq!(host.store.quarantined(None, None).unwrap().len(), 1);
}

#[test]
fn each_rerun_keeps_its_own_quarantined_rows_and_the_table_one_copy_of_the_good_ones() {
    let host = TestHost::empty();
    let plugin = host.fixture(components::ONE_BAD_ROW_QUARANTINED);
    let day = date("2026-01-12");
    let first = host.run(&plugin, day);
    let second = host.run(&plugin, day);
    assert_eq!(host.rows(&quarantine_table(), day).rows.len(), 198);
    assert_eq!(
        host.store
            .quarantined(Some(&first.run_id), None)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        host.store
            .quarantined(Some(&second.run_id), None)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_new_nullable_column_is_added_to_the_live_table_and_old_rows_read_null() {
    let host = TestHost::empty();
    let plugin = host.fixture(components::ONE_BAD_ROW_FAILS_RUN);
    host.table_for(
        &plugin.spec.name,
        &failing_table(),
        &schema_without_breaker(),
    );
    host.store
        .replace_partitions(
            &failing_table(),
            &[date("2026-01-10")],
            &old_rows("2026-01-10", 3),
        )
        .unwrap();

    let record = host.run(&plugin, date("2026-02-01"));

    assert_eq!(record.status, RunStatus::Success, "{record:?}");
    let live = host.store.table_schema(&failing_table()).unwrap().unwrap();
    let shape = |schema: &TableSchema| -> Vec<(String, ColumnType, ColumnMode)> {
        schema
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.column_type, c.mode))
            .collect()
    };
    assert_eq!(shape(&live), shape(&plugin.spec.schema));
    let old = host.rows(&failing_table(), date("2026-01-10"));
    assert_eq!(old.columns[3], "circuit_breaker_until");
    assert_eq!(old.rows.len(), 3);
    assert!(old.rows.iter().all(|row| row[3] == Value::Null));
    assert_eq!(
        host.rows(&failing_table(), date("2026-02-01")).rows.len(),
        199
    );
}

#[test]
fn a_changed_type_is_refused_with_every_difference_and_nothing_is_written() {
    let host = TestHost::empty();
    let plugin = host.fixture(components::ONE_BAD_ROW_FAILS_RUN);
    let mut drifted = plugin.spec.schema.clone();
    drifted.columns[2] = Column::new("points", ColumnType::String, ColumnMode::Required);
    drifted.columns.push(Column::new(
        "retired_column",
        ColumnType::Bool,
        ColumnMode::Required,
    ));
    host.table_for(&plugin.spec.name, &failing_table(), &drifted);

    let record = host.run(&plugin, date("2026-02-01"));

    assert_eq!(record.status, RunStatus::Failed);
    assert_eq!(record.error_kind, Some(ErrorKind::Load));
    assert_eq!(
        record.error_message.as_deref(),
        Some(
            "slate_test.one_bad_row_fails_run: the live table's schema differs from the \
             processor's, and only new NULLABLE columns can be added: column `points` changes \
             type from STRING to INT64; column `retired_column` (REQUIRED BOOL) is in the live \
             table but no longer declared, and its new rows could not hold it"
        )
    );
    assert_eq!(
        host.store.table_schema(&failing_table()).unwrap().unwrap(),
        drifted
    );
    assert!(
        host.rows(&failing_table(), date("2026-02-01"))
            .rows
            .is_empty()
    );
}

/// The rowid of the first box score of `day` in the store of `dir`,
/// opened for another tool's SQL.
fn first_box_score(dir: &std::path::Path, day: &str) -> (rusqlite::Connection, i64) {
    let database = rusqlite::Connection::open(dir.join("slate.db")).unwrap();
    let first_row = database
        .query_row(
            "SELECT MIN(rowid) FROM \"nba_raw.player_boxscores\" WHERE game_date = ?1",
            [day],
            |row| row.get(0),
        )
        .unwrap();
    (database, first_row)
}

/// Runs TeamOffenseGameSummaryProcessor on `day` in `dir`: the command's
/// exit code and the run's record as `slate runs --json` lists it.
fn run_team_offense(dir: &std::path::Path, day: &str) -> (Option<i32>, serde_json::Value) {
    let processor = "TeamOffenseGameSummaryProcessor";
    let run = crate::support::slate(dir, &["run", "--date", day, "--processors", processor]);
    let listed = crate::support::slate(
        dir,
        &["runs", "--json", "--limit", "1", "--processor", processor],
    );
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    (run.status.code(), listed[0].clone())
}

/// A raw table that lost a column its schema declares (dropped by another
/// tool) fails the run that reads it with kind `input`, naming the column,
/// and the date's output rows stay as they were. Before, SQLite read the
/// quoted name it could not find as a string: every row held the column's
/// own name (`team_abbr` = "team_abbr"), which a text column then wrote
/// as data, and a run could succeed on it. The partition column too, which
/// the read's check of the raw rows reaches first: that gave SQLite's own
/// message and its SQL.
#[test]
fn a_raw_table_missing_a_declared_column_fails_the_reading_run_naming_the_column() {
    let box_scores = "\"nba_raw.player_boxscores\"";
    for (column, alter) in [
        (
            "team_abbr",
            format!("ALTER TABLE {box_scores} DROP COLUMN team_abbr"),
        ),
        (
            "game_date",
            format!(
                "DROP INDEX \"_slate_index__nba_raw.player_boxscores__by_game_date\";
                 ALTER TABLE {box_scores} DROP COLUMN game_date"
            ),
        ),
    ] {
        let dir = crate::support::demo_data_dir("2026-01-07", "2026-01-07");
        let (database, _) = first_box_score(dir.path(), "2026-01-07");
        let output_teams = || -> Vec<String> {
            database
                .prepare(
                    "SELECT team_abbr FROM \"nba_analytics.team_offense_game_summary\" \
                     ORDER BY team_abbr",
                )
                .unwrap()
                .query_map([], |row| row.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let rows_before = output_teams();
        assert!(!rows_before.is_empty());
        database.execute_batch(&alter).unwrap();

        let (code, last) = run_team_offense(dir.path(), "2026-01-07");

        assert_eq!(code, Some(1), "{column}: {last}");
        assert_eq!(
            (&last["status"], &last["error_kind"]),
            (&serde_json::json!("failed"), &serde_json::json!("input")),
            "{column}: {last}"
        );
        assert_eq!(
            last["error_message"],
            format!(
                "reading an input failed: nba_raw.player_boxscores has no column `{column}`, \
                 which its schema declares: the table was changed outside Slate"
            )
        );
        assert_eq!(output_teams(), rows_before);
    }
}

/// A raw row that breaks its table's schema, written past the host (by
/// another tool's SQL): the run that reads it fails with kind `input`,
/// naming the table, the date, the field and the value, and writes
/// nothing; before, the value reached the processor (`inf` minutes made a
/// pace of 0, `is_home = 7` read as true) and the run succeeded.
#[test]
fn a_raw_value_its_schema_refuses_fails_the_reading_run_with_kind_input_naming_it() {
    let dir = crate::support::demo_data_dir("2026-01-07", "2026-01-07");
    let (database, first_row) = first_box_score(dir.path(), "2026-01-07");
    let cases = [
        (
            "minutes",
            "'inf'",
            "`minutes` holds text \"inf\": the column does not accept NaN or infinity",
        ),
        (
            "is_home",
            "7",
            "`is_home` holds integer 7: a BOOL is stored as 0 or 1",
        ),
        (
            "points",
            "NULL",
            "`points` holds null: the column is REQUIRED",
        ),
    ];
    for (field, bad, named) in cases {
        let kept: rusqlite::types::Value = database
            .query_row(
                &format!("SELECT \"{field}\" FROM \"nba_raw.player_boxscores\" WHERE rowid = ?1"),
                [first_row],
                |row| row.get(0),
            )
            .unwrap();
        let table = "\"nba_raw.player_boxscores\"";
        database
            .execute(
                &format!("UPDATE {table} SET \"{field}\" = {bad} WHERE rowid = ?1"),
                [first_row],
            )
            .unwrap();
        let (code, last) = run_team_offense(dir.path(), "2026-01-07");
        assert_eq!(code, Some(1), "{field}: the run failed");
        assert_eq!(last["status"], "failed", "{field}: {last}");
        assert_eq!(last["error_kind"], "input", "{field}: {last}");
        let message = last["error_message"].as_str().unwrap();
        crate::support::assert_contains(message, "nba_raw.player_boxscores 2026-01-07 row 0");
        let player: String = database
            .query_row(
                &format!("SELECT player_lookup FROM {table} WHERE rowid = ?1"),
                [first_row],
                |row| row.get(0),
            )
            .unwrap();
        // The row is named so that it can be found and fixed: its rowid,
        // its date and its key as stored.
        crate::support::assert_contains(
            message,
            &format!("(rowid {first_row}: game_date text \"2026-01-07\", "),
        );
        crate::support::assert_contains(message, &format!("player_lookup text \"{player}\""));
        crate::support::assert_contains(message, named);
        database
            .execute(
                &format!("UPDATE {table} SET \"{field}\" = ?2 WHERE rowid = ?1"),
                rusqlite::params![first_row, kept],
            )
            .unwrap();
    }
}

/// A read ahead over a chunk of dates (how a BigQuery backfill reads) that
/// meets a refused value on one date answers the other dates all the
/// same, and the bad date's read names its own row. Before, the chunk's
/// one read failed every date of it, naming the other date's row.
#[test]
fn a_refused_value_on_one_date_of_a_read_ahead_fails_only_that_dates_read() {
    use slate::store::read_ahead::ReadAhead;
    use slate::store::{EmbeddedStore, InputSource, TableSpan};

    let dir = crate::support::demo_data_dir("2026-01-07", "2026-01-08");
    let (database, first_row) = first_box_score(dir.path(), "2026-01-08");
    database
        .execute(
            "UPDATE \"nba_raw.player_boxscores\" SET minutes = 'inf' WHERE rowid = ?1",
            [first_row],
        )
        .unwrap();
    let store = std::sync::Arc::new(EmbeddedStore::open(&dir.path().join("slate.db")).unwrap());
    let (good, bad) = (date("2026-01-07"), date("2026-01-08"));
    let ahead = ReadAhead::new(store.clone(), bad);
    let table = TableName::new("nba_raw", "player_boxscores");
    let columns = ["player_lookup".to_string(), "minutes".to_string()];
    let read = |day| ahead.select(TableSpan::new(&table, day, day), Some(&columns));
    let expected = store
        .select(TableSpan::new(&table, good, good), Some(&columns))
        .unwrap();
    assert!(!expected.rows.is_empty());
    let sorted = |mut rows: RowSet| {
        rows.rows.sort_by_key(|row| format!("{row:?}"));
        rows
    };
    assert_eq!(sorted(read(good).unwrap()), sorted(expected));
    let refused = read(bad).unwrap_err().to_string();
    crate::support::assert_contains(&refused, "game_date text \"2026-01-08\"");
    crate::support::assert_contains(&refused, "the column does not accept NaN or infinity");
}

/// Rows written into a raw input past the host can break what a read
/// relies on: a key held twice within a date made the team totals count a
/// player twice, and a date not written `YYYY-MM-DD` hid its row from
/// every date's read. Both now fail the reading run, kind `input`, naming
/// the rows; a date without the duplicate still runs, and the run
/// succeeds again once the rows are mended.
#[test]
fn a_raw_key_held_twice_or_a_row_without_a_date_fails_the_reading_run_naming_the_rows() {
    let dir = crate::support::demo_data_dir("2026-01-07", "2026-01-08");
    let (database, first_row) = first_box_score(dir.path(), "2026-01-07");
    let table = "\"nba_raw.player_boxscores\"";
    let run = |date: &str| run_team_offense(dir.path(), date);

    database
        .execute(
            &format!("INSERT INTO {table} SELECT * FROM {table} WHERE rowid = ?1"),
            [first_row],
        )
        .unwrap();
    let copy = database.last_insert_rowid();
    let (code, last) = run("2026-01-07");
    assert_eq!(code, Some(1), "{last}");
    assert_eq!(last["error_kind"], "input", "{last}");
    let message = last["error_message"].as_str().unwrap();
    crate::support::assert_contains(
        message,
        &format!(
            "nba_raw.player_boxscores: 2 rows (rowids {first_row}, {copy}) of game_date 2026-01-07 share the key game_id text"
        ),
    );
    crate::support::assert_contains(message, "must be unique within a date");
    let (code, last) = run("2026-01-08");
    assert_eq!(
        (code, &last["status"]),
        (Some(0), &"success".into()),
        "{last}"
    );
    // Past a hundred duplicated keys on an earlier date, a later date's
    // duplicate is still found. Before, the check kept the first hundred
    // of the whole table, and the later date's row counted twice unseen.
    let earlier_copies = database
        .execute(
            &format!(
                "INSERT INTO {table} SELECT * FROM {table}
                 WHERE game_date = '2026-01-07' AND rowid <> ?1 LIMIT 101"
            ),
            [first_row],
        )
        .unwrap();
    assert_eq!(earlier_copies, 101);
    let (_, later_row) = first_box_score(dir.path(), "2026-01-08");
    database
        .execute(
            &format!("INSERT INTO {table} SELECT * FROM {table} WHERE rowid = ?1"),
            [later_row],
        )
        .unwrap();
    let later_copy = database.last_insert_rowid();
    let (code, last) = run("2026-01-08");
    assert_eq!(
        (code, &last["error_kind"]),
        (Some(1), &"input".into()),
        "{last}"
    );
    crate::support::assert_contains(
        last["error_message"].as_str().unwrap(),
        &format!("2 rows (rowids {later_row}, {later_copy}) of game_date 2026-01-08 share the key"),
    );
    database
        .execute(
            &format!("DELETE FROM {table} WHERE rowid > ?1 AND rowid <> ?2"),
            [copy, copy],
        )
        .unwrap();

    database
        .execute(&format!("DELETE FROM {table} WHERE rowid = ?1"), [copy])
        .unwrap();
    // Not written YYYY-MM-DD, or no day of the calendar.
    for undated in ["20260107", "2026-02-30"] {
        database
            .execute(
                &format!("UPDATE {table} SET game_date = ?2 WHERE rowid = ?1"),
                rusqlite::params![first_row, undated],
            )
            .unwrap();
        for date in ["2026-01-07", "2026-01-08"] {
            let (code, last) = run(date);
            assert_eq!(code, Some(1), "{undated} {date}: {last}");
            assert_eq!(last["error_kind"], "input", "{date}: {last}");
            crate::support::assert_contains(
                last["error_message"].as_str().unwrap(),
                &format!(
                    "nba_raw.player_boxscores rowid {first_row}: `game_date` holds text \
                     \"{undated}\", not a date YYYY-MM-DD of the calendar"
                ),
            );
        }
    }

    database
        .execute(
            &format!("UPDATE {table} SET game_date = '2026-01-07' WHERE rowid = ?1"),
            [first_row],
        )
        .unwrap();
    let (code, last) = run("2026-01-07");
    assert_eq!(
        (code, &last["status"]),
        (Some(0), &"success".into()),
        "{last}"
    );
}

/// PostgreSQL keeps typed columns, so a value a read cannot take comes
/// from a table changed past Slate: here a column's type altered by hand.
/// Both kinds of read name the row by its `_slate_row`, which finds it
/// (`WHERE _slate_row = N`), not only by its place in the read.
#[test]
fn a_postgresql_value_a_read_cannot_take_names_its_row_by_its_slate_row() {
    use slate::store::{InputSource, PostgresStore, TableSpan};
    let url = crate::postgres_server::isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    let table = TableName::new("nba_raw", "player_points");
    let day = date("2026-01-11");
    store
        .ensure_table(&table, &player_points_schema(ColumnMode::Nullable))
        .unwrap();
    let players = [("ann".to_string(), 10), ("bob".to_string(), 7)];
    store
        .replace_partitions(&table, &[day], &player_points_rows(day, players))
        .unwrap();
    let mut database = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    database
        .batch_execute("ALTER TABLE nba_raw.player_points ALTER COLUMN points TYPE text")
        .unwrap();
    let ann: i64 = database
        .query_one(
            "SELECT _slate_row FROM nba_raw.player_points WHERE player_lookup = 'ann'",
            &[],
        )
        .unwrap()
        .get(0);

    let rows = store.read_rows(&table, day, day).unwrap_err().to_string();
    let batch = store
        .read_column_batch(TableSpan::new(&table, day, day), &["points".to_string()])
        .unwrap_err()
        .to_string();

    for error in [rows, batch] {
        crate::support::assert_contains(
            &error,
            &format!("nba_raw.player_points row 0 (_slate_row {ann}): `points`: "),
        );
    }
}

/// A game whose box scores hold one side only: every phase 3 processor
/// fails with missing data naming the game and the side. Before, the team
/// summaries failed but PlayerGameSummaryProcessor committed the game's
/// other side alone, and phase 4 built on it with no quality flag.
#[test]
fn a_game_with_one_sides_box_scores_missing_fails_every_phase_3_processor_naming_the_side() {
    let dir = crate::support::demo_data_dir("2026-01-08", "2026-01-08");
    let database = rusqlite::Connection::open(dir.path().join("slate.db")).unwrap();
    let (game, away): (String, String) = database
        .query_row(
            "SELECT game_id, away_team FROM \"nba_raw.schedule\"
             WHERE game_date = '2026-01-08' ORDER BY game_id LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    let deleted = database
        .execute(
            "DELETE FROM \"nba_raw.player_boxscores\" WHERE game_id = ?1 AND team_abbr = ?2",
            [&game, &away],
        )
        .unwrap();
    assert!(deleted > 0);
    let phase_3 = "PlayerGameSummaryProcessor,TeamOffenseGameSummaryProcessor,\
                   TeamDefenseGameSummaryProcessor";
    let run = crate::support::slate(
        dir.path(),
        &["run", "--date", "2026-01-08", "--processors", phase_3],
    );
    assert_eq!(run.status.code(), Some(1));
    let listed = crate::support::slate(dir.path(), &["runs", "--json", "--date", "2026-01-08"]);
    let runs: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let named = format!("{game} ({away})");
    for processor in phase_3.split(',') {
        let latest = runs
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["processor"] == processor)
            .unwrap_or_else(|| panic!("{processor} ran: {runs}"));
        assert_eq!(latest["status"], "failed", "{latest}");
        crate::support::assert_contains(latest["error_message"].as_str().unwrap(), &named);
    }
}
