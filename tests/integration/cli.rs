//! The `slate` binary as a user runs it.

use crate::support::{
    assert_contains, assert_succeeded, components, demo_data_dir, plugin_dir, slate,
    slate_with_plugins, stderr, stdout,
};

/// A processor another process holds on the date is "not started", named
/// with the run holding it, and the rest of the date runs, as over HTTP:
/// before, `slate run` stopped at it with only "already running (run …)",
/// printed no table, and left its downstream processors unattempted.
#[test]
fn slate_run_goes_on_past_a_processor_another_process_holds_and_names_it() {
    use slate::runs::{NewRun, Trigger};
    use slate::store::{EmbeddedStore, RunLedger};

    let dir = demo_data_dir("2026-01-05", "2026-01-07");
    let held = EmbeddedStore::open(&dir.path().join("slate.db"))
        .unwrap()
        .start_run(&NewRun {
            processor: "TeamDefenseZoneAnalysisProcessor".into(),
            phase: slate::phase::Phase::Precompute,
            data_date: crate::support::date("2026-01-07"),
            host_id: "another-machine:7".into(),
            plugin_hash: "h".into(),
            trigger: Trigger::Cli,
            lease: std::time::Duration::from_secs(600),
        })
        .unwrap();

    // A downstream waits up to one lease for an upstream running elsewhere
    // before it is blocked: a short lease keeps the wait short.
    let run = slate(
        dir.path(),
        &[
            "--lease-secs",
            "3",
            "--heartbeat-secs",
            "1",
            "run",
            "--date",
            "2026-01-07",
        ],
    );

    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let table = String::from_utf8_lossy(&run.stdout);
    let status_of = |processor: &str| -> String {
        let line = table
            .lines()
            .find(|l| l.contains(processor))
            .unwrap_or_else(|| panic!("no row for {processor}: {table}"));
        line.split('┆')
            .nth(1)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    assert_eq!(status_of("TeamDefenseZoneAnalysisProcessor"), "not started");
    for ran in [
        "PlayerGameSummaryProcessor",
        "PlayerShotZoneAnalysisProcessor",
    ] {
        assert_eq!(status_of(ran), "success", "{table}");
    }
    assert_eq!(
        status_of("PlayerCompositeFactorsProcessor"),
        "blocked",
        "{table}"
    );
    assert_contains(
        &stderr(&run),
        &format!(
            "TeamDefenseZoneAnalysisProcessor not started: already running (run {}",
            held.run_id
        ),
    );
}

#[test]
fn demo_then_run_prints_rows_for_both_processors() {
    let dir = tempfile::tempdir().unwrap();
    let demo = slate(
        dir.path(),
        &["demo", "--from", "2026-01-05", "--to", "2026-01-11"],
    );
    assert_succeeded(&demo);
    let summary = String::from_utf8_lossy(&demo.stdout);
    assert_contains(&summary, "nba_analytics.player_game_summary");
    // 2026-01-06 is scheduled but has no box scores: it must not pass silently.
    assert_contains(
        &summary,
        "2026-01-06 PlayerGameSummaryProcessor failed: missing data: no box scores",
    );
    // The season readers read from October, which this demo never ran:
    // their rows flag it, and the summary says so once, not per run.
    assert_contains(
        &summary,
        "lookback gaps flagged in rows' data_quality_issues: PlayerGameSummaryProcessor has no \
         rows for 2025-10-21, 2025-10-22,",
    );

    let run = slate(dir.path(), &["run", "--date", "2026-01-11"]);
    assert_succeeded(&run);
    let table = String::from_utf8_lossy(&run.stdout);
    for processor in ["PlayerGameSummaryProcessor", "PlayerDailyCacheProcessor"] {
        let line = table
            .lines()
            .find(|l| l.contains(processor))
            .expect("a row per processor");
        let cells: Vec<&str> = line.split('┆').map(str::trim).collect();
        assert_eq!(cells[1], "success", "{line}");
        assert!(cells[2].parse::<u64>().unwrap() > 0, "{line}");
    }
    let cache = table
        .lines()
        .find(|l| l.contains("PlayerDailyCacheProcessor"))
        .unwrap();
    assert_contains(
        cache,
        "rows flag lookback gaps: PlayerGameSummaryProcessor has no rows for 2025-10-21",
    );
    assert!(
        !stderr(&run).contains("outdated"),
        "the whole pipeline ran: {}",
        stderr(&run)
    );

    // The summaries alone, again, with the data folder given by the
    // environment, relative to the folder above it: what read them is
    // outdated, and the command says so, with the command that reruns them.
    let summaries_alone = std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
        .env("SLATE_DATA_DIR", dir.path().file_name().unwrap())
        .args(["run", "--date", "2026-01-11"])
        .args(["--processors", "PlayerGameSummaryProcessor"])
        .current_dir(dir.path().parent().unwrap())
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert_succeeded(&summaries_alone);
    let warned = stderr(&summaries_alone);
    assert_contains(
        &warned,
        "warning: on 2026-01-11, 5 runs are outdated, e.g. PlayerDailyCacheProcessor: \
         PlayerGameSummaryProcessor rewrote this date since (run ",
    );
    // The command, run as printed from another folder (and without the
    // environment), reruns them on the same store: it names the data folder
    // this invocation was given, made absolute. Before, it left out
    // --data-dir (and --plugin-dir, --state), then gave it as typed,
    // relative to a folder the reader is not in, and left out one the
    // environment gave.
    let rerun = warned
        .split("` reruns them")
        .next()
        .and_then(|before| before.rsplit('`').next())
        .unwrap_or_default();
    let words = shlex::split(rerun).unwrap_or_default();
    assert_eq!(
        words[1..3],
        ["--data-dir".to_string(), dir.path().display().to_string()],
        "{rerun}"
    );
    assert_contains(
        rerun,
        " run --date 2026-01-11 --processors PlayerDailyCacheProcessor,\
         PlayerShotZoneAnalysisProcessor,PlayerCompositeFactorsProcessor,MLFeatureStoreProcessor,\
         PointsPredictionProcessor",
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let reran = std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
        .args(&words[1..])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert_succeeded(&reran);
    assert!(!stderr(&reran).contains("outdated"), "{}", stderr(&reran));

    let runs = slate(
        dir.path(),
        &[
            "runs",
            "--date",
            "2026-01-11",
            "--processor",
            "PlayerDailyCacheProcessor",
        ],
    );
    let history = String::from_utf8_lossy(&runs.stdout);
    assert_eq!(
        history.matches("PlayerDailyCacheProcessor").count(),
        3,
        "{history}"
    );
}

/// An empty `SLATE_TOKEN` beside a token file is no token: the server
/// takes the file's, as a deployment that sets every variable, empty or
/// not, expects. Before, clap refused the two together ("cannot be used
/// with"). A token given both ways is refused, naming both.
#[test]
fn an_empty_slate_token_beside_a_token_file_is_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "secret").unwrap();
    let missing = dir.path().join("no-such-folder");
    // Refused at the next check, which comes after the token's.
    let serve = |token: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(["serve", "--token-file"])
            .arg(&token_file)
            .arg("--watch")
            .arg(&missing)
            .env("SLATE_TOKEN", token)
            .output()
            .unwrap()
    };

    let empty = serve("");
    assert_eq!(empty.status.code(), Some(2), "{}", stderr(&empty));
    assert_contains(&stderr(&empty), "no-such-folder: not a folder");

    let both = serve("t");
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
    assert_contains(
        &stderr(&both),
        "give the API token once: --token (or SLATE_TOKEN) or --token-file",
    );
}

/// The demo's planted failures are expected (exit 0); a run failing
/// anywhere else is named UNEXPECTED and the demo exits 1. Before, the
/// demo exited 0 whatever failed, so a crashing version went unnoticed.
#[test]
fn the_demo_exits_1_when_a_run_fails_beyond_the_planted_missing_date() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::use_shared_compiled_cache(dir.path());
    let planted = slate(
        dir.path(),
        &["demo", "--from", "2026-01-06", "--to", "2026-01-06"],
    );
    assert_succeeded(&planted);
    assert_contains(
        &stdout(&planted),
        "not a success (the planted missing date): 2026-01-06 PlayerGameSummaryProcessor failed",
    );
    assert!(
        !stdout(&planted).contains("UNEXPECTED"),
        "{}",
        stdout(&planted)
    );

    assert_succeeded(&slate(
        dir.path(),
        &["deploy", components::VERSIONED_V4_PANICS],
    ));
    let crashing = slate(
        dir.path(),
        &["demo", "--from", "2026-01-11", "--to", "2026-01-11"],
    );
    assert_eq!(crashing.status.code(), Some(1), "{}", stderr(&crashing));
    assert_contains(
        &stdout(&crashing),
        "not a success (UNEXPECTED): 2026-01-11 VersionedProcessor failed",
    );
    assert_contains(
        &stderr(&crashing),
        "1 run did not succeed beyond the planted",
    );
    // On the planted date too, a crash is no planted failure: before, any
    // failure on that date was called planted, and the demo exited 0.
    let crashing_on_the_planted_date = slate(
        dir.path(),
        &["demo", "--from", "2026-01-06", "--to", "2026-01-06"],
    );
    let out = stdout(&crashing_on_the_planted_date);
    assert_eq!(crashing_on_the_planted_date.status.code(), Some(1), "{out}");
    assert_contains(
        &out,
        "not a success (UNEXPECTED): 2026-01-06 VersionedProcessor failed",
    );
    assert_contains(
        &out,
        "not a success (the planted missing date): 2026-01-06 PlayerGameSummaryProcessor failed",
    );
}

#[test]
fn bad_input_gets_a_one_line_error_and_a_failing_exit() {
    let dir = tempfile::tempdir().unwrap();
    let missing = slate(dir.path(), &["run", "--date", "2026-01-11"]);
    assert!(!missing.status.success());
    assert_eq!(stderr(&missing).lines().count(), 1, "{}", stderr(&missing));
    assert!(
        stderr(&missing).starts_with("error: no store at "),
        "{}",
        stderr(&missing)
    );

    let demo = slate(
        dir.path(),
        &["demo", "--from", "2026-01-11", "--to", "2026-01-11"],
    );
    assert_succeeded(&demo);

    let bad_date = slate(dir.path(), &["run", "--date", "2026-02-30"]);
    assert!(!bad_date.status.success());
    assert_eq!(
        stderr(&bad_date).trim(),
        "error: invalid date `2026-02-30`: expected a real calendar date as YYYY-MM-DD"
    );

    let unknown = slate(
        dir.path(),
        &[
            "run",
            "--date",
            "2026-01-11",
            "--processors",
            "NopeProcessor",
        ],
    );
    assert!(!unknown.status.success());
    assert_eq!(stderr(&unknown).lines().count(), 1);
    assert!(
        stderr(&unknown).starts_with("error: unknown processor NopeProcessor; known processors: ")
    );
    // Every unknown name is named, once: before, only the first was.
    let several = slate(
        dir.path(),
        &[
            "run",
            "--date",
            "2026-01-11",
            "--processors",
            "Nope1,PlayerGameSummaryProcessor,Nope2,Nope1",
        ],
    );
    assert_eq!(several.status.code(), Some(2));
    assert!(
        stderr(&several).starts_with("error: unknown processors Nope1, Nope2; known processors: "),
        "{}",
        stderr(&several)
    );
    // A doubled comma is named as one: clap said "a value is required".
    let doubled = slate(
        dir.path(),
        &[
            "backfill",
            "--from",
            "2026-01-11",
            "--to",
            "2026-01-11",
            "--processors",
            "A,,B",
        ],
    );
    assert_eq!(doubled.status.code(), Some(2));
    assert_contains(
        &stderr(&doubled),
        "an empty processor name: a doubled or trailing comma?",
    );
}

#[test]
fn slate_quarantine_lists_the_bad_row_of_a_run_with_its_field_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(&[components::ONE_BAD_ROW_QUARANTINED]);
    slate::store::EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    let plugin_dir = plugins.path().to_str().unwrap();

    let run = slate(
        dir.path(),
        &[
            "--plugin-dir",
            plugin_dir,
            "run",
            "--date",
            "2026-01-11",
            "--processors",
            "OneBadRowQuarantined",
        ],
    );
    assert_succeeded(&run);
    let table = String::from_utf8_lossy(&run.stdout).into_owned();
    assert_contains(&table, "OneBadRowQuarantined");
    assert_contains(&table, " 198 ");
    // The summary says rows were set aside, not just "success 198".
    assert_contains(&table, "quarantined 1 bad row");

    let listed = slate(dir.path(), &["quarantine", "--json"]);
    assert_succeeded(&listed);
    let lines: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["row_index"], 137);
    assert_eq!(lines[0]["errors"][0]["field"], "circuit_breaker_until");
    assert_eq!(lines[0]["raw_row"]["player_lookup"], "player_137");
    let run_id = lines[0]["run_id"].as_str().unwrap().to_string();

    let of_run = slate(dir.path(), &["quarantine", "--run", &run_id]);
    let text = String::from_utf8_lossy(&of_run.stdout).into_owned();
    assert_succeeded(&of_run);
    assert_contains(&text, "circuit_breaker_until");
    assert_contains(&text, "INT64 1700000000");
    assert!(text.ends_with("1 quarantined row\n"), "{text}");

    // A run id nobody has is a mistake, not a run with nothing set aside.
    let other = slate(dir.path(), &["quarantine", "--run", "no-such-run"]);
    assert_eq!(other.status.code(), Some(2), "{other:?}");
    // A store with nothing set aside lists nothing: an empty array, as
    // every `--json` list, not no output at all.
    let empty = tempfile::tempdir().unwrap();
    slate::store::EmbeddedStore::open(&empty.path().join("slate.db")).unwrap();
    let none = slate(empty.path(), &["quarantine", "--json"]);
    assert_succeeded(&none);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&none.stdout).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn slate_tables_shows_owners_and_transfers_and_a_table_thief_is_refused_at_load() {
    let dir = demo_data_dir("2026-01-11", "2026-01-11");

    let tables = slate(dir.path(), &["tables"]);
    assert_succeeded(&tables);
    let listing = String::from_utf8_lossy(&tables.stdout);
    let owner_of = |table: &str| {
        listing
            .lines()
            .find(|l| l.contains(table))
            .map(|l| l.split('┆').nth(1).unwrap_or_default().trim().to_string())
    };
    assert_eq!(
        owner_of("nba_analytics.player_game_summary").as_deref(),
        Some("PlayerGameSummaryProcessor"),
        "{listing}"
    );
    assert_eq!(
        owner_of("nba_raw.schedule").as_deref(),
        Some("the host (raw input)"),
        "{listing}"
    );

    // A --plugin-dir processor that names a raw input stops the command
    // before anything runs, naming the table and why.
    let plugins = plugin_dir(&[components::HOSTILE_RAW_OVERWRITE]);
    let plugin_dir = plugins.path().to_str().unwrap();
    let refused = slate(
        dir.path(),
        &["--plugin-dir", plugin_dir, "run", "--date", "2026-01-11"],
    );
    assert!(!refused.status.success());
    assert_contains(
        &stderr(&refused),
        "RawOverwrite may not write nba_raw.schedule: it is a raw input",
    );

    // A name the host does not know is refused as a likely misspelling,
    // naming the processor that writes the table; so is a known processor
    // that writes another table.
    let transfer = |to: &str, extra: &[&str]| {
        let mut args = vec![
            "tables",
            "transfer",
            "nba_analytics.player_game_summary",
            "--to",
            to,
        ];
        args.extend_from_slice(extra);
        slate(dir.path(), &args)
    };
    let misspelt = transfer("PlayerGameSumaryProcessor", &[]);
    assert_eq!(misspelt.status.code(), Some(2), "{}", stderr(&misspelt));
    assert_contains(
        &stderr(&misspelt),
        "no processor named PlayerGameSumaryProcessor is bundled, deployed or in --plugin-dir \
         (nba_analytics.player_game_summary is written by PlayerGameSummaryProcessor)",
    );
    let other_table = transfer("PlayerDailyCacheProcessor", &[]);
    assert_eq!(other_table.status.code(), Some(2));
    assert_contains(
        &stderr(&other_table),
        "PlayerDailyCacheProcessor writes nba_precompute.player_daily_cache, \
         not nba_analytics.player_game_summary",
    );
    assert!(
        !String::from_utf8_lossy(&slate(dir.path(), &["tables"]).stdout).contains("transfers:"),
        "a refused transfer records nothing"
    );

    let empty = transfer("", &[]);
    assert_eq!(empty.status.code(), Some(2));
    assert_contains(&stderr(&empty), "--to needs a processor name");
    let same = transfer("PlayerGameSummaryProcessor", &[]);
    assert_succeeded(&same);
    assert_contains(
        &String::from_utf8_lossy(&same.stdout),
        "owned by PlayerGameSummaryProcessor already; nothing recorded",
    );

    // A processor still to be deployed takes the table with --before-deploy.
    let moved = transfer("SummaryV2Processor", &["--before-deploy"]);
    assert_succeeded(&moved);
    let listing = slate(dir.path(), &["tables"]);
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert_contains(&listing, "transfers:");
    assert!(
        listing
            .lines()
            .any(|l| l.contains("PlayerGameSummaryProcessor") && l.contains("SummaryV2Processor")),
        "{listing}"
    );
    // `--json` has both lists, the transfers too.
    let listed = slate(dir.path(), &["tables", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let summaries = (listed["tables"].as_array().unwrap().iter())
        .find(|t| t["table"]["table"] == "player_game_summary")
        .unwrap();
    assert_eq!(summaries["owner"]["name"], "SummaryV2Processor");
    assert_eq!(listed["transfers"].as_array().unwrap().len(), 1, "{listed}");
    // The bundled processor no longer owns its table, so loading refuses it.
    let run = slate(dir.path(), &["run", "--date", "2026-01-11"]);
    assert!(!run.status.success());
    assert_contains(&stderr(&run), "it is owned by SummaryV2Processor");
    // The table can be handed back, though loading now refuses its writer.
    assert_succeeded(&transfer("PlayerGameSummaryProcessor", &[]));
    assert_succeeded(&slate(dir.path(), &["run", "--date", "2026-01-11"]));
    let history = slate(
        dir.path(),
        &["tables", "transfer", "_slate_runs.x", "--to", "Anyone"],
    );
    assert!(!history.status.success());
    assert_contains(&stderr(&history), "is the host's");
}

/// A new version that writes another table than its processor's would
/// leave the old table stale under its readers, which then succeeded on
/// no rows: the deploy is refused, naming both tables and the readers,
/// and the loaded version stays active.
#[test]
fn a_new_version_writing_another_table_is_refused_naming_the_readers_of_the_old_one() {
    let dir = demo_data_dir("2026-01-11", "2026-01-11");
    // The second version of PlayerDailyCacheProcessor, its table renamed in
    // its data (same length, so the component stays valid).
    let renamed = crate::support::with_table_renamed(
        components::PLAYER_DAILY_CACHE_V2,
        "nba_precompute.player_daily_cache",
        "nba_precompute.player_daily_cachf",
    );
    let file = dir.path().join("renamed.wasm");
    std::fs::write(&file, renamed).unwrap();

    let refused = slate(dir.path(), &["deploy", file.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert_contains(
        &stderr(&refused),
        "rejected by the ownership check: PlayerDailyCacheProcessor 2.0.0 writes \
         nba_precompute.player_daily_cachf, but the loaded version writes \
         nba_precompute.player_daily_cache (read by MLFeatureStoreProcessor)",
    );
    assert_contains(&stderr(&refused), "MLFeatureStoreProcessor");
    let plugins = slate(
        dir.path(),
        &["plugins", "history", "PlayerDailyCacheProcessor"],
    );
    assert!(
        !String::from_utf8_lossy(&plugins.stdout).contains("2.0.0"),
        "nothing was deployed"
    );
}

/// A rollback after a version that added a column: before, the rollback
/// answered "now active", and every later run of the processor failed
/// [load] on the column it no longer declared. And with the bundled
/// version the only earlier one, there was nothing to roll back to.
#[test]
fn a_rollback_to_the_bundled_version_runs_after_a_version_that_added_a_column() {
    use slate::rows::Value;
    use slate::schema::TableName;
    use slate::store::{EmbeddedStore, InputSource};

    let dir = demo_data_dir("2026-01-10", "2026-01-10");
    // Nothing deployed: the bundled version runs, and is no rollback.
    let nothing = slate(dir.path(), &["rollback", "PlayerDailyCacheProcessor"]);
    assert_eq!(
        nothing.status.code(),
        Some(2),
        "refused as the versions stand"
    );
    assert_contains(&stderr(&nothing), "no earlier version");
    assert_succeeded(&slate(
        dir.path(),
        &["deploy", components::PLAYER_DAILY_CACHE_V2],
    ));
    assert_succeeded(&slate(dir.path(), &["run", "--date", "2026-01-11"]));

    let empty = slate(
        dir.path(),
        &["rollback", "PlayerDailyCacheProcessor", "--to", ""],
    );
    assert_eq!(empty.status.code(), Some(2));
    let rolled = slate(dir.path(), &["rollback", "PlayerDailyCacheProcessor"]);
    assert_succeeded(&rolled);
    assert_contains(
        &String::from_utf8_lossy(&rolled.stdout),
        "rolled back PlayerDailyCacheProcessor to 0.1.0",
    );
    let run = slate(dir.path(), &["run", "--date", "2026-01-12"]);
    assert_succeeded(&run);

    let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    let table = TableName::new("nba_precompute", "player_daily_cache");
    let trend = |day: &str| {
        let day = crate::support::date(day);
        let rows = store.read_rows(&table, day, day).unwrap();
        let at = rows
            .columns
            .iter()
            .position(|c| c == "points_trend")
            .unwrap();
        assert!(!rows.rows.is_empty());
        rows.rows
            .iter()
            .filter(|row| row[at] != Value::Null)
            .count()
    };
    assert!(
        trend("2026-01-11") > 0,
        "the second version wrote the column"
    );
    assert_eq!(trend("2026-01-12"), 0, "the bundled one leaves it NULL");
}

/// `slate undeploy` ends a processor that is not bundled; `slate rollback`
/// brings it back, and `slate shadow drop` still knows it to drop the
/// shadow tables it left. A second undeploy, of nothing, is a usage error
/// that says when it was undeployed.
#[test]
fn an_undeployed_processor_is_rolled_back_and_its_shadow_tables_dropped_by_name() {
    let dir = demo_data_dir("2026-01-11", "2026-01-12");
    let data = dir.path();
    assert_succeeded(&slate(data, &["deploy", components::VERSIONED_V1]));
    assert_succeeded(&slate(
        data,
        &["deploy", "--shadow", components::VERSIONED_V2],
    ));
    assert_succeeded(&slate(
        data,
        &[
            "run",
            "--date",
            "2026-01-11",
            "--processors",
            "VersionedProcessor",
        ],
    ));

    let undeployed = slate(data, &["undeploy", "VersionedProcessor"]);
    assert_succeeded(&undeployed);
    let said = String::from_utf8_lossy(&undeployed.stdout).into_owned();
    assert_contains(&said, "undeployed VersionedProcessor 1.0.0");
    assert_contains(&said, "no version of it runs now");
    assert_contains(&said, "its shadow version");
    // The command it prints acts on this store, pasted anywhere.
    assert_contains(
        &said,
        &format!(
            "(`slate --data-dir {} rollback VersionedProcessor` deploys it again)",
            data.display()
        ),
    );
    let again = slate(data, &["undeploy", "VersionedProcessor"]);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    assert_contains(&stderr(&again), "it was undeployed at");

    let dropped = slate(data, &["shadow", "drop", "VersionedProcessor"]);
    assert_succeeded(&dropped);
    assert_contains(
        &String::from_utf8_lossy(&dropped.stdout),
        "dropped slate_shadow.",
    );
    let rolled = slate(data, &["rollback", "VersionedProcessor"]);
    assert_succeeded(&rolled);
    assert_contains(
        &String::from_utf8_lossy(&rolled.stdout),
        "rolled back VersionedProcessor to 1.0.0",
    );
    assert_succeeded(&slate(
        data,
        &[
            "run",
            "--date",
            "2026-01-12",
            "--processors",
            "VersionedProcessor",
        ],
    ));
}

/// A rollback goes only to a version that was active once, and never to
/// the active one: a shadow (dropped or not) goes live only through
/// `slate promote` and its checks, which `rollback --to` let it skip; a
/// rollback to the version running recorded a switch that switched nothing.
#[test]
fn a_rollback_to_a_shadow_never_active_or_to_the_active_version_is_refused() {
    let dir = demo_data_dir("2026-01-11", "2026-01-11");
    let data = dir.path();
    assert_succeeded(&slate(data, &["deploy", components::VERSIONED_V1]));
    assert_succeeded(&slate(
        data,
        &["deploy", "--shadow", components::VERSIONED_V2],
    ));
    let hash_of = |path: &str| slate::plugin::content_hash(&std::fs::read(path).unwrap());
    let (v1, v2) = (
        hash_of(components::VERSIONED_V1),
        hash_of(components::VERSIONED_V2),
    );
    for dropped in [false, true] {
        if dropped {
            assert_succeeded(&slate(data, &["shadow", "drop", "VersionedProcessor"]));
        }
        let refused = slate(data, &["rollback", "VersionedProcessor", "--to", &v2[..12]]);
        assert_eq!(refused.status.code(), Some(2), "{refused:?}");
        assert_contains(&stderr(&refused), "was never active");
    }
    let same = slate(data, &["rollback", "VersionedProcessor", "--to", &v1[..12]]);
    assert!(!same.status.success(), "{same:?}");
    assert_contains(&stderr(&same), "already: there is nothing to roll back");
    let history = slate(data, &["plugins", "history", "VersionedProcessor"]);
    let history = String::from_utf8_lossy(&history.stdout).into_owned();
    assert!(
        !history.contains("rollback"),
        "nothing was switched:\n{history}"
    );
}

/// A version a host recorded before versions were checked may hold a
/// control character (C0 or C1) or run to megabytes: `slate plugins
/// history` shows it escaped and cut, never raw to the terminal.
#[test]
fn a_version_recorded_with_a_control_character_is_listed_escaped() {
    let dir = tempfile::tempdir().unwrap();
    slate::store::EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    assert_succeeded(&slate(dir.path(), &["deploy", components::VERSIONED_V1]));
    rusqlite::Connection::open(dir.path().join("registry/registry.db"))
        .unwrap()
        .execute(
            "UPDATE versions SET version = '1.0\u{1b}]0;PWNED\u{7}\u{9b}2J' || ?1",
            [".9".repeat(100_000)],
        )
        .unwrap();

    let history = slate(dir.path(), &["plugins", "history", "VersionedProcessor"]);

    let shown = String::from_utf8_lossy(&history.stdout);
    assert!(!shown.contains(['\u{1b}', '\u{7}', '\u{9b}']), "{shown}");
    assert_contains(&shown, r"1.0\u{1b}]0;PWNED\u{7}\u{9b}2J.9.9");
    assert!(
        shown.len() < 10_000,
        "the version cut: {} bytes",
        shown.len()
    );
}

/// A version of a processor that runs from the plugin folder is refused,
/// as a shadow too, naming the folder: a host serves the file in any
/// registry version's place. Before, the deploy said "now active", and
/// the version never ran: every run of the file was listed outdated, and
/// `slate run` with that folder stopped at the clash.
#[test]
fn deploying_over_a_plugin_folder_processor_is_refused() {
    let dir = demo_data_dir("2026-01-11", "2026-01-11");
    let plugins = crate::support::plugin_dir(&[components::VERSIONED_V1]);
    let with_folder = |args: &[&str]| {
        slate_with_plugins(dir.path(), plugins.path())
            .args(args)
            .output()
            .unwrap()
    };
    for deploy in [
        vec!["deploy", components::VERSIONED_V2],
        vec!["deploy", "--shadow", components::VERSIONED_V2],
    ] {
        let refused = with_folder(&deploy);
        assert!(!refused.status.success(), "{refused:?}");
        assert_contains(
            &stderr(&refused),
            "VersionedProcessor runs here from the plugin folder",
        );
    }
    let registry = slate::registry::Registry::open(&dir.path().join("registry")).unwrap();
    assert_eq!(
        (
            registry.history("VersionedProcessor").unwrap(),
            registry.shadows().unwrap()
        ),
        (vec![], vec![]),
        "nothing was recorded"
    );
    assert_succeeded(&with_folder(&[
        "run",
        "--date",
        "2026-01-11",
        "--processors",
        "VersionedProcessor",
    ]));
    // The file's bytes deployed through the registry too, as they were
    // once: still the file runs here, and a new version is refused. Before,
    // a hash the registry knew let it through.
    assert_succeeded(&slate(dir.path(), &["deploy", components::VERSIONED_V1]));
    let refused = with_folder(&["deploy", components::VERSIONED_V2]);
    assert!(!refused.status.success(), "{refused:?}");
    assert_contains(
        &stderr(&refused),
        &format!(
            "runs here from the plugin folder ({})",
            plugins
                .path()
                .join(
                    std::path::Path::new(components::VERSIONED_V1)
                        .file_name()
                        .unwrap()
                )
                .display()
        ),
    );
}

/// A folder both watched and the plugin folder is a usage error: each of
/// its files would be served from the folder and refused as a deployment
/// over itself, an alert each, at every start.
#[test]
fn serving_one_folder_as_the_plugin_folder_and_the_watched_one_is_a_usage_error() {
    let data = tempfile::tempdir().unwrap();
    let plugins = crate::support::plugin_dir(&[components::VERSIONED_V1]);
    let folder = plugins.path().to_str().unwrap();
    let mut server = slate_with_plugins(data.path(), plugins.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--token",
            "t",
            "--watch",
        ])
        .arg(format!("{folder}/."))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A server that started instead is stopped, and fails the test.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while server.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            server.kill().unwrap();
            panic!("the server started");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let refused = server.wait_with_output().unwrap();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert_contains(&stderr(&refused), "is the --plugin-dir too");
}

/// A registry version whose stored bytes are damaged fails the commands
/// that run processors, naming it, but not those that manage versions:
/// they leave it out with a warning, so it can be undeployed.
#[test]
fn a_damaged_registry_version_is_left_out_by_the_commands_that_manage_versions() {
    let dir = demo_data_dir("2026-01-11", "2026-01-12");
    let data = dir.path();
    assert_succeeded(&slate(data, &["deploy", components::VERSIONED_V1]));
    let hash = slate::plugin::content_hash(&std::fs::read(components::VERSIONED_V1).unwrap());
    let blob = data.join("registry/blobs").join(format!("{hash}.wasm"));
    std::fs::write(&blob, b"damaged").unwrap();

    let run = slate(data, &["run", "--date", "2026-01-11"]);
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert_contains(&stderr(&run), "are damaged");
    let plugins = slate(data, &["plugins"]);
    assert_succeeded(&plugins);
    assert_contains(&stderr(&plugins), "warning: left out registry version");
    let undeployed = slate(data, &["undeploy", "VersionedProcessor"]);
    assert_succeeded(&undeployed);
    assert_succeeded(&slate(data, &["run", "--date", "2026-01-11"]));

    // Deploying the component again mends its stored bytes.
    std::fs::write(&blob, b"damaged").unwrap();
    assert_succeeded(&slate(data, &["deploy", components::VERSIONED_V1]));
    let run = slate(data, &["run", "--date", "2026-01-12"]);
    assert_succeeded(&run);
}

/// A deploy of a processor and an undeploy of its upstream, from two
/// processes at once: one of the two is refused, never both let through
/// (which left a processor whose upstream was gone, and every command
/// that loads the set failing). The registry's switch lock orders them.
#[test]
fn a_dependants_deploy_and_its_upstreams_undeploy_at_once_never_both_go_through() {
    for attempt in 0..8 {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        assert_succeeded(&slate(data, &["deploy", components::SLOW_PROCESSOR]));
        let (deploy, undeploy) = std::thread::scope(|scope| {
            let deploy = scope.spawn(|| slate(data, &["deploy", components::AFTER_SLOW_PROCESSOR]));
            std::thread::sleep(std::time::Duration::from_millis(10 * (attempt % 4)));
            let undeploy = slate(data, &["undeploy", "SlowProcessor"]);
            (deploy.join().unwrap(), undeploy)
        });
        assert!(
            deploy.status.success() != undeploy.status.success(),
            "attempt {attempt}: exactly one goes through: {deploy:?} {undeploy:?}"
        );
        assert_succeeded(&slate(data, &["plugins"]));
    }
}

/// Listing creates nothing: `slate plugins` (and `plugins history`) with a
/// mistyped `--data-dir` list the bundled processors, say the folder does
/// not exist, and leave no registry or compiled cache behind.
#[test]
fn listing_plugins_of_a_data_folder_that_does_not_exist_creates_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let typo = parent.path().join("slate-dta");
    let plugins = slate(&typo, &["plugins"]);
    assert_succeeded(&plugins);
    assert_contains(&stdout(&plugins), "PlayerDailyCacheProcessor");
    // Each dependency says how far back it is read.
    assert_contains(
        &stdout(&plugins),
        "PlayerGameSummaryProcessor (the season from 10-01)",
    );
    assert_contains(&stderr(&plugins), "does not exist");
    let history = slate(&typo, &["plugins", "history", "PlayerDailyCacheProcessor"]);
    assert_succeeded(&history);
    assert_contains(&stdout(&history), "never been deployed");
    let unknown = slate(&typo, &["plugins", "history", "NoSuchProcessor"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    // A switch there is refused: before, a deploy reported success into a
    // registry it made in the mistyped folder, checked against nothing.
    let refused_with = |switches: &[&[&str]], why: &str| {
        for switch in switches {
            let refused = slate(&typo, switch);
            assert_eq!(
                refused.status.code(),
                Some(2),
                "{switch:?}: {}",
                stderr(&refused)
            );
            assert_contains(&stderr(&refused), why);
        }
    };
    refused_with(
        &[
            &["deploy", components::VERSIONED_V1],
            &["deploy", "--shadow", components::VERSIONED_V1],
            &["rollback", "VersionedProcessor"],
            &["undeploy", "VersionedProcessor"],
        ],
        "does not exist: nothing was changed",
    );
    // Dropping a shadow there is refused for the missing store, before
    // the registry (which the refusal had left behind) is opened.
    let dropped = slate(&typo, &["shadow", "drop", "VersionedProcessor"]);
    assert_eq!(dropped.status.code(), Some(2), "{}", stderr(&dropped));
    assert!(!typo.exists(), "{} was created", typo.display());

    // `slate schemas` (as `slate test`) makes the folder for its compile
    // cache: a switch there is refused all the same. Before, the deploy
    // said "now active" into a folder no server or run uses.
    assert_succeeded(&slate(&typo, &["schemas"]));
    let made: Vec<_> = std::fs::read_dir(&typo)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(made, ["compiled"]);
    refused_with(
        &[
            &["deploy", components::VERSIONED_V1],
            &["rollback", "VersionedProcessor"],
        ],
        "holds only the compile cache (`slate test` or `slate schemas` made it): nothing was \
         changed",
    );
    assert!(!typo.join("registry").exists(), "a registry was made");
}

/// An unknown processor or table is a wrong command line, exit 2, as the
/// README says, for every command that names one: promote, rollback and
/// plugins history exited 1, and rollback blamed "no earlier version".
#[test]
fn commands_naming_an_unknown_processor_or_table_or_plugin_folder_exit_2() {
    let dir = demo_data_dir("2026-01-11", "2026-01-11");
    for args in [
        vec!["promote", "NoSuchProcessor"],
        vec!["rollback", "NoSuchProcessor"],
        vec!["plugins", "history", "NoSuchProcessor"],
    ] {
        let refused = slate(dir.path(), &args);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&refused)
        );
        assert_contains(&stderr(&refused), "unknown processor NoSuchProcessor");
    }
    let missing = slate(
        dir.path(),
        &[
            "tables",
            "transfer",
            "nba_analytics.no_such_table",
            "--raw-input",
        ],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert_contains(&stderr(&missing), "no table nba_analytics.no_such_table");

    // A mistyped --plugin-dir too: for `slate health`, exit 1 read as
    // "unhealthy".
    let nowhere = dir.path().join("no-such-plugins");
    let nowhere = nowhere.to_str().unwrap();
    for command in ["health", "runs"] {
        let refused = slate(dir.path(), &["--plugin-dir", nowhere, command]);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{command}: {}",
            stderr(&refused)
        );
        assert_contains(
            &stderr(&refused),
            &format!("--plugin-dir {nowhere} does not exist"),
        );
    }

    // A component file that is not there, and a schema folder that is a
    // file: exit 1 before, as if the deploy or the write had failed.
    let missing_file = dir.path().join("no-such.wasm");
    let deploy = slate(dir.path(), &["deploy", missing_file.to_str().unwrap()]);
    assert_eq!(deploy.status.code(), Some(2), "{}", stderr(&deploy));
    assert_contains(
        &stderr(&deploy),
        &format!("cannot read {}", missing_file.display()),
    );
    let a_file = dir.path().join("slate.db");
    let schemas = slate(dir.path(), &["schemas", "--out", a_file.to_str().unwrap()]);
    assert_eq!(schemas.status.code(), Some(2), "{}", stderr(&schemas));
    assert_contains(&stderr(&schemas), "is a file: give a folder");
    let under_a_file = a_file.join("schemas");
    let schemas = slate(
        dir.path(),
        &["schemas", "--out", under_a_file.to_str().unwrap()],
    );
    assert_eq!(schemas.status.code(), Some(2), "{}", stderr(&schemas));
    assert_contains(&stderr(&schemas), "cannot make the folder");

    // A bundled processor never deployed has no history: no failure.
    let bundled = slate(
        dir.path(),
        &["plugins", "history", "PlayerGameSummaryProcessor"],
    );
    assert_succeeded(&bundled);
    assert_contains(
        &String::from_utf8_lossy(&bundled.stdout),
        "never been deployed through the registry: it runs its bundled version",
    );
}

#[test]
fn two_plugin_folder_components_of_one_name_are_a_usage_error_naming_both_files() {
    let dir = demo_data_dir("2026-01-11", "2026-01-11");
    let plugins = plugin_dir(&[components::VERSIONED_V1, components::VERSIONED_V2]);
    let plugin_dir = plugins.path().to_str().unwrap();
    let refused = slate(
        dir.path(),
        &["--plugin-dir", plugin_dir, "run", "--date", "2026-01-11"],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let error = stderr(&refused);
    for file in ["versioned_v1.wasm", "versioned_v2.wasm"] {
        assert_contains(&error, &plugins.path().join(file).display().to_string());
    }
    assert_contains(&error, "is named VersionedProcessor");
    // Nothing ran.
    let runs = slate(
        dir.path(),
        &["runs", "--processor", "PlayerGameSummaryProcessor"],
    );
    assert_eq!(
        String::from_utf8_lossy(&runs.stdout)
            .matches("2026-01-11")
            .count(),
        1
    );
}

#[test]
fn a_log_flood_reaches_stderr_only_up_to_the_runs_budget_and_never_as_errors() {
    use slate::store::{EmbeddedStore, RunLedger};

    let plugins = plugin_dir(&[components::HOSTILE_LOG_FLOOD]);
    let (dir, run) = log_flood_run(plugins.path(), 20_000);
    let log = stderr(&run);
    // 20,000 lines of 10 KB would be 200 MB; the default budget is 4 MiB,
    // each line cut to 4 KiB, and a guest's errors log as warnings.
    assert!(log.len() < 5 << 20, "{} bytes on stderr", log.len());
    let guest_lines: Vec<&str> = log.lines().filter(|l| l.contains("flood@")).collect();
    assert!(!guest_lines.is_empty() && guest_lines.len() <= 1_024);
    assert!(
        guest_lines
            .iter()
            .all(|l| l.contains("WARN") && !l.contains("ERROR"))
    );
    assert!(guest_lines.iter().all(|l| l.len() < 4_500));
    assert!(log.contains("spent its log budget"), "no summary line");

    let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    let record = &store
        .runs(&slate::runs::RunFilter {
            processor: Some("LogFlood".into()),
            ..Default::default()
        })
        .unwrap()[0];
    assert_eq!(
        record.log_lines_dropped as usize,
        20_000 - guest_lines.len(),
        "every line not written is counted"
    );
}

/// A `slate run` on 2026-01-11 of LogFlood from `plugins`, told to log
/// `lines` lines, with the default log filter; it succeeds. Its data
/// folder and output.
fn log_flood_run(
    plugins: &std::path::Path,
    lines: i64,
) -> (tempfile::TempDir, std::process::Output) {
    use slate::rows::Scalar;
    use slate::schema::ColumnType;
    use slate::store::EmbeddedStore;

    use crate::support::{hostile_control, set_control};

    let dir = tempfile::tempdir().unwrap();
    set_control(
        &EmbeddedStore::open(&dir.path().join("slate.db")).unwrap(),
        &hostile_control(),
        crate::support::date("2026-01-11"),
        &[("lines", ColumnType::Int64)],
        &[&[Scalar::Int64(lines)]],
    );
    let run = slate_with_plugins(dir.path(), plugins)
        .args(["run", "--date", "2026-01-11", "--processors", "LogFlood"])
        .env_remove("RUST_LOG")
        .output()
        .expect("run slate");
    assert_succeeded(&run);
    (dir, run)
}

/// A source map is the component's own bytes, so a hostile one is mapped
/// through before its line is admitted: a map naming a 60 KB source cannot
/// make a logged line longer than a line may be, nor the run's log larger
/// than its budget. (Mapped after admitting, each line here was 64 KB.)
#[test]
fn a_hostile_source_map_cannot_grow_logged_lines_past_their_limits() {
    let long_source = "s".repeat(60_000);
    let map = serde_json::json!({
        "version": 3, "file": "app.js", "sources": [long_source], "names": [],
        "mappings": "AAAA",
    });
    let mut component = std::fs::read(components::HOSTILE_LOG_FLOOD).unwrap();
    slate::plugin::source_map::embed(&mut component, map.to_string().as_bytes());
    let plugins = tempfile::tempdir().unwrap();
    std::fs::write(plugins.path().join("log_flood_mapped.wasm"), component).unwrap();

    let (_dir, run) = log_flood_run(plugins.path(), 2_000);

    let log = stderr(&run);
    let guest_lines: Vec<&str> = log.lines().filter(|l| l.contains("flood@")).collect();
    assert!(
        guest_lines.iter().all(|l| l.contains("flood@sssss")),
        "the map was applied to every line"
    );
    assert!(!guest_lines.is_empty() && guest_lines.len() <= 1_024);
    assert!(guest_lines.iter().all(|l| l.len() < 4_500));
    assert!(log.len() < 5 << 20, "{} bytes on stderr", log.len());
}

/// A limit in `slate.toml` out of its range is a usage error naming the
/// key and the value: a CPU time of 2^64 seconds panicked, and 2^63 wrapped
/// around to a limit of 0 ms. So is a `[dates]` range that ends before it
/// starts, whether `slate.toml` sets both ends or one. Limits for a processor nobody has (a misspelt name) are warned
/// of. A tiny memory cap fails the runs it caps, with `limit_memory`: it
/// failed loading every processor, selected or not.
#[test]
fn bad_limits_and_dates_in_slate_toml_are_named_and_a_tiny_memory_cap_fails_only_its_runs() {
    let dir = demo_data_dir("2026-01-05", "2026-01-05");
    let run = |limits: &str| {
        std::fs::write(
            dir.path().join("slate.toml"),
            format!("[limits]\n{limits}\n"),
        )
        .unwrap();
        let args = ["run", "--date", "2026-01-05"];
        slate(
            dir.path(),
            &[&args[..], &["--processors", "PlayerGameSummaryProcessor"]].concat(),
        )
    };
    for (limits, named) in [
        (
            "cpu_secs = 18446744073709551615",
            "cpu_secs = 18446744073709552000: not",
        ),
        (
            "cpu_secs = 9223372036854775807",
            "cpu_secs = 9223372036854776000: not",
        ),
        ("wall_secs = 18446744073709551615", "wall_secs = "),
        (
            "memory_mib = 99999999999999",
            "memory_mib = 99999999999999: not from 1 to 4096",
        ),
    ] {
        let refused = run(limits);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{limits}: {}",
            stderr(&refused)
        );
        assert_contains(&stderr(&refused), named);
    }
    // A fuel limit does nothing without --fuel: said, not silent.
    let fuel = run("[limits.processors.PlayerGameSummaryProcessor]\nfuel = 1");
    assert_succeeded(&fuel);
    assert_contains(
        &stderr(&fuel),
        "slate.toml: its `fuel` limits are not enforced without --fuel",
    );
    let misspelt = run("[limits.processors.PlayerGameSumaryProcessor]\nmax_output_rows = 1");
    assert_succeeded(&misspelt);
    assert!(!stderr(&misspelt).contains("fuel"), "{}", stderr(&misspelt));
    assert_contains(
        &stderr(&misspelt),
        "[limits.processors.PlayerGameSumaryProcessor] names no processor this host has",
    );
    let reversed = {
        let dates = "[dates]\nearliest = \"2026-02-01\"\nlatest = \"2026-01-01\"";
        std::fs::write(dir.path().join("slate.toml"), dates).unwrap();
        slate(dir.path(), &["run", "--date", "2026-01-05"])
    };
    assert_eq!(reversed.status.code(), Some(2), "{}", stderr(&reversed));
    assert_contains(&stderr(&reversed), "comes after latest = 2026-01-01");
    // One end set beyond the other end the schedule gives held no date:
    // every date was refused, each as outside a range that runs backwards.
    let beyond = {
        let dates = "[dates]\nearliest = \"2031-01-01\"";
        std::fs::write(dir.path().join("slate.toml"), dates).unwrap();
        slate(dir.path(), &["run", "--date", "2031-01-05"])
    };
    assert_eq!(beyond.status.code(), Some(2), "{}", stderr(&beyond));
    assert_contains(
        &stderr(&beyond),
        "[dates] leaves no date to serve: earliest = 2031-01-01 lies after the latest date",
    );
    // Every command that opens the store finds it, before it does anything:
    // `slate schedules` is the dry run of slate.toml, and a deploy went
    // ahead where every run was then refused.
    let before = "[dates]\nlatest = \"2020-01-01\"";
    std::fs::write(dir.path().join("slate.toml"), before).unwrap();
    for args in [
        &["schedules"][..],
        &["runs"],
        &["deploy", components::VERSIONED_V1],
    ] {
        let refused = slate(dir.path(), args);
        assert_eq!(refused.status.code(), Some(2), "slate {}", args.join(" "));
        assert_contains(
            &stderr(&refused),
            "[dates] leaves no date to serve: latest = 2020-01-01 lies before the earliest date",
        );
    }
    std::fs::write(dir.path().join("slate.toml"), "").unwrap();
    let deployed = slate(dir.path(), &["plugins"]);
    assert_succeeded(&deployed);
    assert!(
        !stdout(&deployed).contains("VersionedProcessor"),
        "nothing was deployed: {}",
        stdout(&deployed)
    );
    let capped = run("memory_mib = 1");
    assert_eq!(capped.status.code(), Some(1), "{}", stderr(&capped));
    let printed = String::from_utf8_lossy(&capped.stdout);
    assert_contains(&printed, "limit_memory");
    assert!(
        !stderr(&capped).contains("pooling allocator"),
        "{}",
        stderr(&capped)
    );
}

/// What a user mistyped is a usage error (exit 2) naming it, not an empty
/// answer or a failure of the command: a run id nobody has, a range past
/// the longest a backfill takes. A store file that is no store is named.
#[test]
fn a_mistyped_run_id_or_a_range_too_long_is_a_usage_error_and_a_damaged_store_is_named() {
    let dir = demo_data_dir("2026-01-05", "2026-01-05");
    let unknown = slate(dir.path(), &["quarantine", "--run", "no-such-run"]);
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    assert_contains(&stderr(&unknown), "no run no-such-run");
    // An empty name in a list of processors names the flag, not "unknown
    // processor" with nothing after it.
    for list in ["", "PlayerGameSummaryProcessor,,PlayerDailyCacheProcessor"] {
        let empty = slate(
            dir.path(),
            &["run", "--date", "2026-01-05", "--processors", list],
        );
        assert_eq!(empty.status.code(), Some(2), "{empty:?}");
        assert_contains(&stderr(&empty), "'--processors <PROCESSORS>'");
    }

    std::fs::write(
        dir.path().join("slate.toml"),
        "[dates]\nearliest = \"1000-01-01\"\nlatest = \"9999-12-31\"\n",
    )
    .unwrap();
    let long = ["backfill", "--from", "1000-01-01", "--to", "9999-12-31"];
    let too_long = slate(dir.path(), &long);
    assert_eq!(too_long.status.code(), Some(2), "{too_long:?}");
    assert_contains(&stderr(&too_long), "dates; at most 3660 are allowed");

    // A store file that is no store is named.
    let store = dir.path().join("slate.db");
    std::fs::write(
        &store,
        b"not a database, but long enough to be read as one's header",
    )
    .unwrap();
    let damaged = slate(dir.path(), &["runs"]);
    assert_eq!(damaged.status.code(), Some(1), "{damaged:?}");
    assert_contains(
        &stderr(&damaged),
        &format!("cannot open the store {}", store.display()),
    );
}

/// A token on the command line is seen by every user of the machine in
/// `ps`: `slate serve` warns of it, and not of the same token from
/// `SLATE_TOKEN`. A token no `Authorization` header can carry is refused:
/// the server ran with it, and refused every request as a malformed
/// header.
#[test]
fn a_token_on_the_command_line_is_warned_of_and_one_no_header_carries_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // The missing --watch folder ends each before it serves.
    let args = ["serve", "--watch", "/no/such/folder"];

    let given = slate(dir.path(), &[&args[..], &["--token", "s3cret"]].concat());
    let from_environment = std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(args)
        .env("SLATE_TOKEN", "s3cret")
        .output()
        .unwrap();

    assert_eq!(given.status.code(), Some(2));
    assert_contains(
        &stderr(&given),
        "warning: --token shows the API token to every user of this machine (`ps`)",
    );
    assert_eq!(from_environment.status.code(), Some(2));
    // Given both ways, the command line's wins, and shows in `ps`.
    let both = std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(args)
        .args(["--token", "s3cret"])
        .env("SLATE_TOKEN", "s3cret")
        .output()
        .unwrap();
    assert_contains(&stderr(&both), "warning: --token shows the API token");
    assert!(
        !stderr(&from_environment).contains("warning"),
        "{from_environment:?}"
    );
    for unsendable in ["sécret", "two words"] {
        let refused = slate(dir.path(), &[&args[..], &["--token", unsendable]].concat());
        assert_eq!(refused.status.code(), Some(2), "{unsendable}");
        assert_contains(
            &stderr(&refused),
            "error: the API token holds a character no HTTP header carries",
        );
    }
}

#[test]
fn every_documented_exit_code_is_the_one_a_user_gets() {
    let dir = tempfile::tempdir().unwrap();
    let code = |args: &[&str]| slate(dir.path(), args).status.code();
    // 2: the command line (or slate.toml, or --data-dir) is wrong.
    for args in [
        &["run", "--date=2026-1-5"][..],
        // The same strict dates on every path.
        &[
            "test",
            components::VERSIONED_V1,
            "--date= 2026-01-10",
            "--fixtures",
            ".",
        ],
        &["backfill", "--from=+2026-01-10", "--to", "2026-01-11"],
        &["runs", "--date=2026-1-5"],
        &["run", "--date", "2026-01-11"], // no store in --data-dir yet
        &["runs", "--status", "exploded"],
        &["runs", "--no-such-flag"],
        &["runs", "--limit", "0"],
        &["tables", "transfer", "not-a-table", "--to", "X"],
        &[
            "test",
            "missing.wasm",
            "--date",
            "2026-01-11",
            "--fixtures",
            "x",
        ],
        &["test", "missing.wasm", "--fixtures", "x"],
        &["serve", "--token", "t", "--workers", "0"],
        &["--lease-secs", "-1", "reap"],
        &["--max-runtime-secs", "1e300", "runs"],
        &["--heartbeat-secs", "NaN", "runs"],
        &["--heartbeat-secs", "100", "--lease-secs", "10", "runs"],
        // Past what a lease or deadline can reach (a lease past the year
        // 9999 was stored as 1970, a grace of 1e19 s overflowed at
        // shutdown), or finer than any timer keeps.
        &["--lease-secs", "3e11", "reap"],
        &["--heartbeat-secs", "1e-10", "--lease-secs", "1e-9", "reap"],
        // A range that ends before it starts.
        &["backfill", "--from", "2026-01-20", "--to", "2026-01-10"],
        &["demo", "--from", "2026-01-20", "--to", "2026-01-10"],
        // A demo range with no date of the season ran nothing, exit 0.
        &["demo", "--from", "2030-01-01"],
        &["demo", "--to", "2020-01-01"],
        &[
            "shadow",
            "run",
            "PlayerDailyCacheProcessor",
            "--from",
            "2026-01-20",
            "--to",
            "2026-01-10",
        ],
        // Flags that would be ignored, not silently.
        &["runs", "--outdated", "--date", "2026-02-30"],
        &["runs", "--outdated", "--status", "bogus"],
        &["runs", "--stale", "--status", "success"],
        &["demo", "--parallelism", "0"],
        &[
            "backfill",
            "--from",
            "2026-01-10",
            "--to",
            "2026-01-11",
            "--parallelism",
            "0",
        ],
        // More runs at once than one host can reserve sandboxes for: it
        // panicked (2^64 - 1) or failed to map the pool (20,000).
        &[
            "backfill",
            "--from",
            "2026-01-10",
            "--to",
            "2026-01-11",
            "--parallelism=257",
        ],
        &[
            "backfill",
            "--from",
            "2026-01-10",
            "--to",
            "2026-01-11",
            "--parallelism=18446744073709551615",
        ],
        &["demo", "--parallelism", "20000"],
        &[
            "shadow",
            "run",
            "PlayerDailyCacheProcessor",
            "--from",
            "2026-01-10",
            "--to",
            "2026-01-11",
            "--parallelism",
            "0",
        ],
        &["serve", "--workers", "100000", "--token", "t"],
        // A server no request body fits, or whose health never changes.
        &["serve", "--token", "t", "--max-body-bytes", "0"],
        &[
            "serve",
            "--token",
            "t",
            "--health-cache-secs",
            "99999999999",
        ],
    ] {
        assert_eq!(code(args), Some(2), "slate {}", args.join(" "));
    }
    let too_long = slate(dir.path(), &["--lease-secs", "3e11", "reap"]);
    assert_contains(
        &stderr(&too_long),
        "'3e11' for '--lease-secs <SECONDS>': must be from 0.001 to 31622400 seconds",
    );
    for tolerance in ["--tolerance=-1", "--tolerance=NaN", "--tolerance=inf"] {
        let test = [
            "test",
            components::VERSIONED_V1,
            "--date",
            "2026-01-10",
            "--fixtures",
            "x",
            tolerance,
        ];
        assert_eq!(code(&test), Some(2), "{tolerance}");
    }
    // 0 and 1: the command ran; 2026-01-06 has no box scores, so its runs
    // fail and the health check fails.
    let demo = slate(
        dir.path(),
        &["demo", "--from", "2026-01-05", "--to", "2026-01-06"],
    );
    assert_eq!(demo.status.code(), Some(0), "{}", stderr(&demo));
    assert_eq!(code(&["run", "--date", "2026-01-05"]), Some(0));
    assert_eq!(code(&["run", "--date", "2026-01-06"]), Some(1));
    assert_eq!(code(&["health"]), Some(1));
    // A processor name nobody has, unlike one with no runs, is a usage error.
    assert_eq!(code(&["runs", "--processor", "NopeProcessor"]), Some(2));
    // A plugin hash as the tables print it, its first 12 characters, finds
    // the runs the whole hash does.
    let runs_of = |hash: &str| {
        let listed = slate(dir.path(), &["runs", "--json", "--plugin-hash", hash]);
        assert_succeeded(&listed);
        serde_json::from_slice::<serde_json::Value>(&listed.stdout).unwrap()
    };
    let all = slate(dir.path(), &["runs", "--json", "--limit", "1"]);
    let hash = serde_json::from_slice::<serde_json::Value>(&all.stdout).unwrap()[0]["plugin_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let whole = runs_of(&hash);
    assert!(!whole.as_array().unwrap().is_empty());
    assert_eq!(runs_of(&hash[..12]), whole);
    assert_eq!(runs_of(&hash[..12].to_uppercase()), whole);
    assert_eq!(code(&["runs", "--plugin-hash", "zz"]), Some(2));
    let one = slate(
        dir.path(),
        &[
            "runs",
            "--json",
            "--limit",
            "1",
            "--plugin-hash",
            &hash[..12],
        ],
    );
    let one = serde_json::from_slice::<serde_json::Value>(&one.stdout).unwrap();
    assert_eq!(one.as_array().unwrap().len(), 1, "--limit holds: {one}");
    // A plugin folder holding a file that is no component, and a fixtures
    // folder that does not exist: the command line named them.
    let plugins = tempfile::tempdir().unwrap();
    std::fs::write(plugins.path().join("x.wasm"), "hello\n").unwrap();
    let with_text_file = crate::support::slate_with_plugins(dir.path(), plugins.path())
        .args(["run", "--date", "2026-01-05"])
        .output()
        .unwrap();
    assert_eq!(
        with_text_file.status.code(),
        Some(2),
        "{}",
        stderr(&with_text_file)
    );
    assert_contains(
        &stderr(&with_text_file),
        "x.wasm: not a WebAssembly component",
    );
    let no_fixtures = dir.path().join("no-such-fixtures");
    let test = slate(
        dir.path(),
        &[
            "test",
            components::VERSIONED_V1,
            "--date",
            "2026-01-10",
            "--fixtures",
            no_fixtures.to_str().unwrap(),
        ],
    );
    assert_eq!(test.status.code(), Some(2), "{}", stderr(&test));
    assert_contains(&stderr(&test), "--fixtures");
    assert_contains(&stderr(&test), "does not exist");
    // A --data-dir that is a file.
    let file = dir.path().join("slate.db");
    let output = slate(&file, &["runs"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_contains(&stderr(&output), "is a file, not a folder");
    // A backfill whose only run is blocked did not succeed either.
    let blocked = slate(
        dir.path(),
        &[
            "backfill",
            "--from",
            "2026-01-06",
            "--to",
            "2026-01-06",
            "--reprocess",
            "all",
            "--processors",
            "PointsPredictionProcessor",
        ],
    );
    assert_eq!(blocked.status.code(), Some(1), "{}", stderr(&blocked));
    assert_contains(
        &stderr(&blocked),
        "2026-01-06 PointsPredictionProcessor blocked: upstream MLFeatureStoreProcessor",
    );
    assert_eq!(
        code(&[
            "backfill",
            "--from",
            "2026-01-05",
            "--to",
            "2026-01-06",
            "--reprocess",
            "sometimes"
        ]),
        Some(2)
    );
    std::fs::write(dir.path().join("slate.toml"), "[limits]\nmemory_gb = 1\n").unwrap();
    assert_eq!(
        code(&["run", "--date", "2026-01-05"]),
        Some(2),
        "a bad slate.toml"
    );

    // A bad section is found before the command does anything: the run is
    // not committed first and the error given after.
    let runs = || {
        let listed = slate(dir.path(), &["runs", "--json", "--limit", "1000"]);
        serde_json::from_slice::<serde_json::Value>(&listed.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    };
    let channel = |source: &str| {
        format!("[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\n{source}\n")
    };
    std::fs::write(dir.path().join("slate.toml"), "").unwrap();
    let before = runs();
    let write = |text: String| std::fs::write(dir.path().join("slate.toml"), text).unwrap();
    write(channel("url = \"http://127.0.0.1:9/\"").replace("webhook", "smoke-signal"));
    for args in [&["run", "--date", "2026-01-05"][..], &["runs"], &["reap"]] {
        assert_eq!(
            code(args),
            Some(2),
            "slate {} with a bad channel",
            args.join(" ")
        );
    }
    // A channel whose secret is not in this shell: a command that delivers
    // alerts refuses to start; one that only reads does not need it.
    write(channel("url_env = \"SLATE_TEST_NEVER_SET\""));
    assert_eq!(code(&["run", "--date", "2026-01-05"]), Some(2));
    assert_eq!(code(&["runs"]), Some(0));
    std::fs::write(dir.path().join("slate.toml"), "").unwrap();
    assert_eq!(runs(), before, "no run was started");
}

#[test]
fn slate_schemas_compiles_each_component_once_into_the_data_folders_cache() {
    let data = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(&[components::VERSIONED_V1]);
    let schemas = || {
        let plugin_dir = plugins.path().to_str().unwrap();
        let output = slate(data.path(), &["--plugin-dir", plugin_dir, "schemas"]);
        assert_succeeded(&output);
        String::from_utf8(output.stdout).unwrap()
    };
    assert_contains(&schemas(), "slate_test.versioned");
    let compiled = || {
        let mut names: Vec<String> = std::fs::read_dir(data.path().join("compiled"))
            .expect("slate schemas wrote a compile cache")
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let hash = slate::plugin::content_hash(&std::fs::read(components::VERSIONED_V1).unwrap());
    let first = compiled();
    assert!(
        first.iter().any(|name| name.starts_with(&hash)),
        "the --plugin-dir component is cached: {first:?}"
    );
    // Every bundled processor is cached beside it, and a second call
    // compiles nothing new: it loads them all from the cache.
    assert!(first.len() > slate::bundled::PLUGINS.len(), "{first:?}");
    let modified = |name: &str| {
        std::fs::metadata(data.path().join("compiled").join(name))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before: Vec<_> = first.iter().map(|name| modified(name)).collect();
    assert_contains(&schemas(), "slate_test.versioned");
    assert_eq!(compiled(), first);
    let after: Vec<_> = first.iter().map(|name| modified(name)).collect();
    assert_eq!(before, after, "no cached component was written again");
}

#[test]
fn a_closed_standard_output_ends_a_command_quietly_not_with_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    crate::support::use_shared_compiled_cache(dir.path());
    // `slate schemas | head -0`: the reader is gone before the first line.
    let mut schemas = Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("schemas")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(schemas.stdout.take());
    let ended = schemas.wait_with_output().unwrap();
    let errors = stderr(&ended);
    assert!(!errors.contains("panicked"), "{errors}");
    const SIGPIPE: i32 = 13;
    assert_eq!(ended.status.signal(), Some(SIGPIPE), "{errors}");
}

/// A processor run from a plugin folder that `slate health` is not given
/// still counts: its failed run is a FAIL that says which option loads
/// it. Before, it was left out as if undeployed, and a `slate run
/// --plugin-dir` failing every night went unseen by a `slate health`
/// without one.
#[test]
fn slate_health_counts_the_failed_runs_of_a_processor_it_does_not_load() {
    let dir = demo_data_dir("2026-01-11", "2026-01-11");
    let plugins = plugin_dir(&[components::HOSTILE_PANIC]);
    let with_plugins = |args: &[&str]| {
        slate_with_plugins(dir.path(), plugins.path())
            .args(args)
            .output()
            .unwrap()
    };
    let run = with_plugins(&[
        "run",
        "--date",
        "2026-01-11",
        "--processors",
        "HostilePanic",
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));

    let health = slate(dir.path(), &["health"]);
    assert_eq!(health.status.code(), Some(1));
    let text = stdout(&health);
    let line = text
        .lines()
        .find(|line| line.starts_with("FAILED HostilePanic 2026-01-11"))
        .unwrap_or_else(|| panic!("no FAILED line for HostilePanic in\n{text}"));
    assert_contains(line, "(not loaded by this check: give it the --plugin-dir");

    let problems_of = |output: std::process::Output| {
        assert!(!output.status.success());
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        (report["problem_runs"].as_array().unwrap().iter())
            .filter(|run| run["processor"] == "HostilePanic")
            .map(|run| run["loaded"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        problems_of(slate(dir.path(), &["health", "--json"])),
        [false]
    );
    assert_eq!(problems_of(with_plugins(&["health", "--json"])), [true]);
}

/// A demo data folder of 2026-01-11, and a run of another machine on
/// 2026-01-12 whose lease is over: stale, not yet reaped.
fn a_demo_day_with_a_stale_run() -> (tempfile::TempDir, slate::runs::RunRecord) {
    use slate::runs::{NewRun, Trigger};
    use slate::store::{EmbeddedStore, RunLedger};

    let dir = demo_data_dir("2026-01-11", "2026-01-11");
    let stale = EmbeddedStore::open(&dir.path().join("slate.db"))
        .unwrap()
        .start_run(&NewRun {
            processor: "PlayerGameSummaryProcessor".into(),
            phase: slate::phase::Phase::Analytics,
            data_date: crate::support::date("2026-01-12"),
            host_id: "another-machine:7".into(),
            plugin_hash: "h".into(),
            trigger: Trigger::Cli,
            lease: std::time::Duration::from_millis(1),
        })
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    (dir, stale)
}

/// `slate health` probes a store it may only read (a read-only mount, a
/// monitoring user without write access): it says it reaps nothing, and
/// reports a run whose lease is over as `stale_running`, left running for
/// a host that can write. Before, it failed with "attempt to write a
/// readonly database" and reported nothing.
#[test]
fn slate_health_reports_a_store_it_may_only_read_without_reaping() {
    use slate::runs::RunStatus;
    use slate::store::{EmbeddedStore, RunLedger};

    let (dir, stale) = a_demo_day_with_a_stale_run();
    let store_file = dir.path().join("slate.db");
    let read_only = crate::support::ReadOnlyFolder::of(dir.path());

    let health = read_only.slate(&["health"]);

    assert_reported_without_reaping(&health, "takes no writes here", &stale);
    let report: serde_json::Value =
        serde_json::from_slice(&read_only.slate(&["health", "--json"]).stdout).unwrap();
    assert_eq!(report["healthy"], false, "{report:#}");
    drop(read_only);
    let still = EmbeddedStore::open(&store_file)
        .unwrap()
        .run(&stale.run_id)
        .unwrap()
        .unwrap();
    assert_eq!(still.status, RunStatus::Running, "nothing was written");
}

/// `slate health` probes a store another process holds locked (a `slate`
/// stopped or hung in a commit): it waits for the lock as every writer
/// does, then reports what it reads, the stale run among it, instead of
/// failing with "database is locked" and reporting nothing.
#[test]
fn slate_health_reports_a_store_another_process_holds_locked() {
    let (dir, stale) = a_demo_day_with_a_stale_run();
    let holder = rusqlite::Connection::open(dir.path().join("slate.db")).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();

    let health = slate(dir.path(), &["health"]);

    holder.execute_batch("ROLLBACK").unwrap();
    assert_reported_without_reaping(&health, "the store is locked by another process", &stale);
}

/// Asserts that `health` failed the pipeline, saying `why` it reaped
/// nothing, and reported `stale` as a stale run.
fn assert_reported_without_reaping(
    health: &std::process::Output,
    why: &str,
    stale: &slate::runs::RunRecord,
) {
    assert_eq!(health.status.code(), Some(1), "{}", stderr(health));
    assert_contains(&stderr(health), why);
    assert_contains(&stderr(health), "stale runs are reported, not reaped");
    assert_contains(
        &stdout(health),
        &format!(
            "STALE_RUNNING PlayerGameSummaryProcessor 2026-01-12 (run {})",
            stale.run_id
        ),
    );
}

/// The commands that read work on a store this user may only read, and
/// one that writes fails saying why. Before, every command failed on
/// opening it, with SQLite's "attempt to write a readonly database".
#[test]
fn a_store_this_user_may_only_read_can_be_read_and_a_write_says_why_it_fails() {
    let dir = demo_data_dir("2026-01-11", "2026-01-11");
    let read_only = crate::support::ReadOnlyFolder::of(dir.path());

    let runs = read_only.slate(&["runs", "--json"]);
    assert_succeeded(&runs);
    let listed: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(9), "{listed:#}");
    let tables = read_only.slate(&["tables"]);
    assert_succeeded(&tables);
    assert_contains(&stdout(&tables), "nba_analytics.player_game_summary");

    let run = read_only.slate(&["run", "--date", "2026-01-11"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert_contains(
        &stderr(&run),
        &format!(
            "the store {}: the store takes no writes here",
            dir.path().join("slate.db").display()
        ),
    );
}

/// A command the embedded store fails (here a trigger refuses every
/// claim, as a full disk or a lock held elsewhere would) names the store's
/// file beside SQLite's words, which name none: "database is locked" on
/// its own left the reader to guess which file.
#[test]
fn a_store_failure_names_the_store_file() {
    let dir = demo_data_dir("2026-01-11", "2026-01-11");
    crate::support::refuse_in_run_history(
        dir.path(),
        "INSERT",
        "1",
        "simulated: database is locked",
    );

    let run = slate(dir.path(), &["run", "--date", "2026-01-11"]);

    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert_contains(
        &stderr(&run),
        &format!(
            "error: the store {}: store error: simulated: database is locked",
            dir.path().join("slate.db").display()
        ),
    );
}
