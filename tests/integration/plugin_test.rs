//! `slate test`: golden files for every processor, readable diffs, bad
//! fixtures reported by file, line and field, and replay from a store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use slate::bundled::PLUGINS;
use slate::schema::TableName;
use slate::store::{EmbeddedStore, Tables};

use crate::support::{assert_contains, components, date};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A data folder for every `slate test` of this test binary: its compile
/// cache is shared, and nothing is written into the working tree.
fn data_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn slate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slate"))
        .args(args)
        .env("RUST_LOG", "error")
        .env("SLATE_DATA_DIR", data_dir())
        .output()
        .unwrap()
}

/// `slate test` of `component` on `date`, with the fixtures in `fixtures`,
/// then `more` arguments (`--expect`, `--update`).
fn slate_test(component: &str, date: &str, fixtures: &Path, more: &[&str]) -> Output {
    let fixtures = fixtures.to_str().unwrap();
    let mut args = vec!["test", component, "--date", date, "--fixtures", fixtures];
    args.extend_from_slice(more);
    slate(&args)
}

/// What `slate test` of `component` on 2026-01-11 with the fixtures in
/// `fixtures` says on stderr, having failed it as a plugin failure (exit
/// 3): how a processor every host refuses to load fails its test.
fn refused_as_hosts_refuse(component: &str, fixtures: &Path) -> String {
    let output = slate_test(component, "2026-01-11", fixtures, &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Writes a bundled plugin's component to `dir` and returns its path.
fn bundled_component(dir: &Path, package: &str) -> String {
    let bundled = PLUGINS.iter().find(|p| p.package == package).unwrap();
    let path = dir.join(format!("{package}.wasm"));
    std::fs::write(&path, bundled.bytes).unwrap();
    path.display().to_string()
}

/// The fixture of the game summaries the daily cache reads.
const SUMMARIES: &str = "nba_analytics.player_game_summary.ndjson";

/// PlayerDailyCacheProcessor's component, written to a scratch folder, and
/// its golden fixtures and expected rows for 2026-01-11.
struct DailyCache {
    scratch: tempfile::TempDir,
    component: String,
    inputs: PathBuf,
    expected: PathBuf,
}

fn daily_cache() -> DailyCache {
    let scratch = tempfile::tempdir().unwrap();
    let component = bundled_component(scratch.path(), "player-daily-cache");
    let golden = workspace().join("plugins/player-daily-cache/golden");
    DailyCache {
        scratch,
        component,
        inputs: golden.join("inputs"),
        expected: golden.join("2026-01-11.expected.ndjson"),
    }
}

#[test]
fn every_processor_matches_its_golden_files() {
    let scratch = tempfile::tempdir().unwrap();
    for bundled in PLUGINS {
        let golden = workspace()
            .join("plugins")
            .join(bundled.package)
            .join("golden");
        let expected: Vec<PathBuf> = std::fs::read_dir(&golden)
            .unwrap_or_else(|_| panic!("{} has no golden folder", bundled.package))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.to_string_lossy().ends_with(".expected.ndjson"))
            .collect();
        assert!(
            !expected.is_empty(),
            "{} has no golden file",
            bundled.package
        );
        let component = bundled_component(scratch.path(), bundled.package);
        for file in expected {
            let date = file
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace(".expected.ndjson", "");
            let output = slate_test(
                &component,
                &date,
                &golden.join("inputs"),
                &["--expect", file.to_str().unwrap()],
            );
            assert!(
                output.status.success(),
                "{}: {}",
                bundled.package,
                stdout(&output)
            );
            assert!(stdout(&output).starts_with("PASS "), "{}", stdout(&output));
        }
    }
}

#[test]
fn a_changed_result_prints_a_diff_naming_the_rows_and_fields() {
    let cache = daily_cache();
    // The golden file as an older formula would have produced it: one
    // player's 5-game average 1.5 points higher.
    let golden = std::fs::read_to_string(&cache.expected).unwrap();
    let older: String = golden
        .lines()
        .map(|line| {
            let mut row: serde_json::Value = serde_json::from_str(line).unwrap();
            if row["player_lookup"] == "julianfairbanks" {
                row["points_avg_last_5"] =
                    serde_json::json!(row["points_avg_last_5"].as_f64().unwrap() + 1.5);
            }
            format!("{row}\n")
        })
        .collect();
    let older_file = cache.scratch.path().join("older.ndjson");
    std::fs::write(&older_file, older).unwrap();

    let expect_older = older_file.to_str().unwrap();
    let output = slate_test(
        &cache.component,
        "2026-01-11",
        &cache.inputs,
        &["--expect", expect_older],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("DIFF PlayerDailyCacheProcessor 2026-01-11: 1 difference\n"),
        "{text}"
    );
    assert_contains(
        &text,
        "row (player_lookup=\"julianfairbanks\", cache_date=\"2026-01-11\"): field `points_avg_last_5`: expected 10.7, got 9.2",
    );

    // --update rewrites the golden file, after which it passes.
    let update = slate_test(
        &cache.component,
        "2026-01-11",
        &cache.inputs,
        &["--expect", expect_older, "--update"],
    );
    assert!(update.status.success(), "{}", stdout(&update));
    assert_eq!(std::fs::read_to_string(&older_file).unwrap(), golden);
}

#[test]
fn bad_fixtures_are_reported_with_file_line_and_field() {
    let cache = daily_cache();
    let text = std::fs::read_to_string(cache.inputs.join(SUMMARIES)).unwrap();
    // A copy of the golden inputs, in folder `name`, with `file` holding `contents`.
    let inputs_with = |name: &str, file: &str, contents: String| {
        let dir = cache.scratch.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&cache.inputs).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
        std::fs::write(dir.join(file), contents).unwrap();
        dir
    };
    // The summaries, with `field` of line 3 set to `value`.
    let with_line_3 = |field: &str, value: serde_json::Value| {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut row: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
        row[field] = value;
        lines[2] = row.to_string();
        lines.join("\n")
    };
    // `slate test` refuses the fixtures in `dir` with exit code 4, saying `expected`.
    let assert_refused = |dir: &Path, expected: &str| {
        let output = slate_test(&cache.component, "2026-01-11", dir, &[]);
        assert_eq!(output.status.code(), Some(4));
        assert_contains(&stdout(&output), expected);
    };

    assert_refused(
        &inputs_with("undeclared", "nba_raw.prop_lines.ndjson", String::new()),
        "nba_raw.prop_lines.ndjson: table nba_raw.prop_lines is not among the processor's declared inputs",
    );
    let line = text.lines().count() + 1;
    assert_refused(
        &inputs_with("malformed", SUMMARIES, format!("{text}{{not json\n")),
        &format!("{SUMMARIES}:{line}: not a JSON object"),
    );
    assert_refused(
        &inputs_with(
            "unknown-field",
            SUMMARIES,
            with_line_3("bogus", serde_json::json!(1)),
        ),
        &format!("{SUMMARIES}:3: field `bogus`: not in the table's schema"),
    );
    assert_refused(
        &inputs_with(
            "wrong-type",
            SUMMARIES,
            with_line_3("points", serde_json::json!("lots")),
        ),
        &format!("{SUMMARIES}:3: field `points`: expected INT64, got \"lots\""),
    );
}

#[test]
fn processors_that_read_the_season_so_far_run_on_the_seasons_first_day() {
    let scratch = tempfile::tempdir().unwrap();
    for package in [
        "player-daily-cache",
        "player-shot-zone-analysis",
        "team-defense-zone-analysis",
        "player-composite-factors",
    ] {
        let fixtures = workspace()
            .join("plugins")
            .join(package)
            .join("golden/inputs");
        let output = slate(&[
            "test",
            &bundled_component(scratch.path(), package),
            "--date",
            "2025-10-01",
            "--fixtures",
            fixtures.to_str().unwrap(),
        ]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{package}: {}",
            stdout(&output)
        );
        assert!(
            stdout(&output).contains(": 0 valid rows"),
            "{package}: {}",
            stdout(&output)
        );
    }
}

#[test]
fn a_fixtures_folder_without_a_declared_inputs_file_is_a_bad_fixture_not_a_plugin_failure() {
    let fixtures = tempfile::tempdir().unwrap();
    let output = slate_test(
        components::FAULTY_PROCESSOR,
        "2026-01-02",
        fixtures.path(),
        &[],
    );
    assert_eq!(output.status.code(), Some(4), "{}", stdout(&output));
    let said = format!(
        "{}{}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        said.contains("no file for the declared input nba_raw.schedule"),
        "{said}"
    );
}

/// A bad fixture's message quoting the fixture's own text is cut short:
/// an unknown field named by 50,000 characters was printed whole.
#[test]
fn a_bad_fixture_quoting_a_huge_name_is_cut_short() {
    let fixtures = tempfile::tempdir().unwrap();
    let name = "z".repeat(50_000);
    std::fs::write(
        fixtures.path().join("nba_raw.schedule.ndjson"),
        format!("{{\"{name}\": 1}}\n"),
    )
    .unwrap();
    let output = slate_test(
        components::FAULTY_PROCESSOR,
        "2026-01-02",
        fixtures.path(),
        &[],
    );
    assert_eq!(output.status.code(), Some(4), "{:.300}", stdout(&output));
    let said = stdout(&output);
    assert!(said.len() < 5_000, "{} bytes", said.len());
    assert_contains(&said, "BAD FIXTURE ");
    assert_contains(&said, "more bytes)");
}

#[test]
fn a_failing_plugin_exits_with_the_plugin_failure_code() {
    let fixtures = tempfile::tempdir().unwrap();
    // Its one declared input, empty: the fixture is whole, the plugin fails.
    std::fs::write(fixtures.path().join("nba_raw.schedule.ndjson"), "").unwrap();
    let output = slate_test(
        components::FAULTY_PROCESSOR,
        "2026-01-02",
        fixtures.path(),
        &[],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    assert_eq!(
        stdout(&output).trim(),
        "FAIL FaultyProcessor 2026-01-02 [plugin]: internal error: deliberate failure"
    );
}

#[test]
fn a_test_reads_no_upstream_output_before_the_lookback_as_production_does() {
    // HostilePastRead reads PlayerGameSummaryProcessor's output from the
    // day before, with no lookback: the fixture holds that day's rows.
    let fixtures = tempfile::tempdir().unwrap();
    let summaries = workspace()
        .join("plugins/player-daily-cache/golden/inputs")
        .join(SUMMARIES);
    std::fs::copy(summaries, fixtures.path().join(SUMMARIES)).unwrap();
    let output = slate_test(
        components::HOSTILE_PAST_READ,
        "2026-01-11",
        fixtures.path(),
        &[],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    assert_contains(
        &stdout(&output),
        "HostilePastRead may not read nba_analytics.player_game_summary from 2026-01-10: \
         its lookback for PlayerGameSummaryProcessor (none) starts at 2026-01-11",
    );
}

/// A test bounds the reads of an upstream a host loads from its plugin
/// folder (or registry), not only of a bundled one, as production does.
/// Before, such an upstream's table had no floor in `slate test`, which
/// passed reads every run refused.
#[test]
fn a_test_bounds_reads_of_a_plugin_folder_upstream_as_production_does() {
    let fixtures = tempfile::tempdir().unwrap();
    std::fs::write(
        fixtures.path().join("slate_test.slow.ndjson"),
        "{\"day\": \"2026-01-10\", \"n\": 0}\n{\"day\": \"2026-01-11\", \"n\": 0}\n",
    )
    .unwrap();
    let plugins = crate::support::plugin_dir(&[components::SLOW_PROCESSOR]);
    let output = slate(&[
        "--plugin-dir",
        plugins.path().to_str().unwrap(),
        "test",
        components::HOSTILE_PAST_SLOW_READ,
        "--date",
        "2026-01-11",
        "--fixtures",
        fixtures.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    assert_contains(
        &stdout(&output),
        "HostilePastSlowRead may not read slate_test.slow from 2026-01-10: its lookback for \
         SlowProcessor (none) starts at 2026-01-11",
    );
}

/// A processor whose upstream no host beside it loads fails its test, as
/// every such host refuses to load it. Before, the test passed it, with
/// its reads of that upstream's table unbounded.
#[test]
fn a_processor_naming_an_upstream_no_host_beside_it_loads_fails_its_test() {
    // A whole fixture: the day before's rows, and their schema.
    let fixtures = tempfile::tempdir().unwrap();
    std::fs::write(
        fixtures.path().join("slate_test.slow.ndjson"),
        "{\"day\": \"2026-01-10\", \"n\": 0}\n",
    )
    .unwrap();
    std::fs::write(
        fixtures.path().join("slate_test.slow.schema.json"),
        r#"{"columns": [{"name": "day", "type": "DATE", "mode": "REQUIRED"},
            {"name": "n", "type": "INT64", "mode": "REQUIRED"}], "partition_column": "day"}"#,
    )
    .unwrap();
    assert_contains(
        &refused_as_hosts_refuse(components::HOSTILE_PAST_SLOW_READ, fixtures.path()),
        "HostilePastSlowRead depends on SlowProcessor, which is not a known processor",
    );
}

/// A processor that reads another's output without naming it upstream
/// fails its test, as every host refuses to load it. Before, the test
/// passed it: the refusal needs the processors loaded beside it, and the
/// test checked it alone.
#[test]
fn a_processor_reading_anothers_output_without_naming_it_upstream_fails_its_test() {
    let fixtures = tempfile::tempdir().unwrap();
    assert_contains(
        &refused_as_hosts_refuse(components::HOSTILE_UPSTREAM_SKIP, fixtures.path()),
        "UpstreamSkipper may not read nba_analytics.player_game_summary: it is the output of \
         PlayerGameSummaryProcessor, which UpstreamSkipper does not name among its upstream",
    );
}

/// Replays the bundled processor `package` on `day` from the store in
/// `dir` with `slate test --replay`, and returns the golden file it wrote
/// in `scratch`.
fn replay_to_golden(dir: &str, scratch: &Path, package: &str, day: &str) -> PathBuf {
    let component = bundled_component(scratch, package);
    let golden = scratch.join("replayed.ndjson");
    let output = slate(&[
        "--data-dir",
        dir,
        "test",
        &component,
        "--replay",
        day,
        "--expect",
        golden.to_str().unwrap(),
        "--update",
    ]);
    assert!(output.status.success(), "{}", stdout(&output));
    golden
}

/// A replay flags the lookback gaps production's check finds, as the
/// live run did, so its rows are the live table's. Before, a replayed
/// golden file lacked them, and never matched the table again.
#[test]
fn a_replay_writes_the_rows_the_live_table_holds_lookback_gaps_included() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let demo = ["demo", "--from", "2026-01-09", "--to", "2026-01-11"];
    assert!(
        slate(&[&["--data-dir", dir][..], &demo].concat())
            .status
            .success()
    );

    let scratch = tempfile::tempdir().unwrap();
    let golden = replay_to_golden(dir, scratch.path(), "player-daily-cache", "2026-01-11");

    let store = EmbeddedStore::open_read_only(&data.path().join("slate.db")).unwrap();
    let cache = TableName::new("nba_precompute", "player_daily_cache");
    let day = date("2026-01-11");
    let live = slate::store::InputSource::read_rows(&store, &cache, day, day).unwrap();
    let replayed = std::fs::read_to_string(&golden).unwrap();
    assert_eq!(replayed, slate::testing::golden::to_ndjson(&live));
    // The demo never ran October to the 8th of January, which the cache
    // reads over the season: the rows say so.
    let issue = replayed
        .split('"')
        .find(|text| text.starts_with("lookback gap: PlayerGameSummaryProcessor has no rows for "))
        .expect("a lookback gap of PlayerGameSummaryProcessor");
    assert_contains(issue, "scheduled dates: 2025-10-21, 2025-10-22,");

    // A date outside the schedule's seasons is refused as `slate run`
    // refuses it, naming the schedule. Before, the range was the one
    // without a schedule: 1999 passed on no rows, and 2030 was refused
    // for "no game schedule is loaded".
    let component = bundled_component(scratch.path(), "player-daily-cache");
    for day in ["1999-01-01", "2030-01-01"] {
        let refused = slate(&["--data-dir", dir, "test", &component, "--replay", day]);
        assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
        let error = String::from_utf8_lossy(&refused.stderr);
        assert_contains(&error, &format!("date {day} is outside the range"));
        assert_contains(&error, "the schedule");
        assert!(!error.contains("no game schedule is loaded"), "{error}");
    }
}

#[test]
fn replay_runs_a_real_date_from_the_store_and_writes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let demo = slate(&[
        "--data-dir",
        dir,
        "demo",
        "--from",
        "2026-01-09",
        "--to",
        "2026-01-11",
    ]);
    assert!(demo.status.success());
    let runs_before = stdout(&slate(&["--data-dir", dir, "runs", "--limit", "1000"]));

    let scratch = tempfile::tempdir().unwrap();
    let golden = replay_to_golden(dir, scratch.path(), "player-game-summary", "2026-01-11");
    // The replayed output is what the pipeline committed for that date.
    let replayed = std::fs::read_to_string(&golden).unwrap().lines().count() as u64;
    let store = EmbeddedStore::open_read_only(&data.path().join("slate.db")).unwrap();
    let summary = TableName::new("nba_analytics", "player_game_summary");
    assert_eq!(
        replayed,
        store.rows_on(&summary, date("2026-01-11")).unwrap()
    );
    assert!(replayed > 0);
    // Replaying recorded no run.
    assert_eq!(
        stdout(&slate(&["--data-dir", dir, "runs", "--limit", "1000"])),
        runs_before
    );
    // A replay of one date with --date naming another is refused: the
    // replay date was taken for a mere switch, and the other date ran.
    let component = scratch.path().join("player-game-summary.wasm");
    let both = slate(&[
        "--data-dir",
        dir,
        "test",
        component.to_str().unwrap(),
        "--replay",
        "2026-01-11",
        "--date",
        "2026-01-10",
    ]);
    assert_eq!(both.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&both.stderr)
            .contains("--date 2026-01-10 and --replay 2026-01-11 name two dates"),
        "{}",
        String::from_utf8_lossy(&both.stderr)
    );
}

#[test]
fn slate_test_compiles_a_component_once_into_the_data_folders_cache() {
    let plugin = components::VERSIONED_V1;
    let dir = tempfile::tempdir().unwrap();
    let fixtures = tempfile::tempdir().unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_slate"))
            .args(["--data-dir", dir.path().to_str().unwrap()])
            .args(["test", plugin, "--date", "2026-01-11", "--fixtures"])
            .arg(fixtures.path())
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    assert_eq!(run().status.code(), Some(0));
    let hash = slate::plugin::content_hash(&std::fs::read(plugin).unwrap());
    let cached = |hash: &str| {
        std::fs::read_dir(dir.path().join("compiled"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .any(|e| e.file_name().to_string_lossy().starts_with(hash))
            })
            .unwrap_or(false)
    };
    assert!(cached(&hash), "the component is in the compile cache");
    assert_eq!(run().status.code(), Some(0), "and loads from it");
}

/// Writes `from` (NDJSON) to `to`, keeping only `columns` of each line.
fn keep_columns(from: &Path, to: &Path, columns: &[&str]) {
    let kept: Vec<String> = std::fs::read_to_string(from)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line).unwrap();
            object.retain(|key, _| columns.contains(&key.as_str()));
            serde_json::Value::Object(object).to_string()
        })
        .collect();
    std::fs::write(to, kept.join("\n") + "\n").unwrap();
}

#[test]
fn fixtures_need_only_the_columns_a_processor_reads_and_may_hold_its_golden_file() {
    let cache = daily_cache();
    let schedule = "nba_raw.schedule.ndjson";
    let prepare = |name: &str, game_columns: &[&str]| {
        let dir = cache.scratch.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        keep_columns(
            &cache.inputs.join(SUMMARIES),
            &dir.join(SUMMARIES),
            game_columns,
        );
        keep_columns(
            &cache.inputs.join(schedule),
            &dir.join(schedule),
            &["game_date", "home_team", "away_team"],
        );
        // The golden file sits beside the fixtures.
        std::fs::copy(&cache.expected, dir.join("2026-01-11.expected.ndjson")).unwrap();
        dir
    };
    let run = |dir: &Path| {
        let expected = dir.join("2026-01-11.expected.ndjson");
        slate_test(
            &cache.component,
            "2026-01-11",
            dir,
            &["--expect", expected.to_str().unwrap()],
        )
    };

    // 5 of the summaries' 31 columns (all REQUIRED) are what it reads.
    let read = [
        "player_lookup",
        "game_date",
        "team_abbr",
        "points",
        "minutes",
    ];
    let enough = prepare("enough", &read);
    let output = run(&enough);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    // Leaving out one it reads is a plugin failure naming the column.
    let short = prepare("short", &read[..4]);
    let output = run(&short);
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    assert_contains(
        &stdout(&output),
        "the fixture of nba_analytics.player_game_summary holds no column `minutes`",
    );
}

/// A processor production refuses at load (it writes a raw input) fails
/// its test as production would, naming the owner: it passed, and was
/// refused only when a host loaded it.
#[test]
fn a_processor_that_writes_a_raw_input_fails_its_test_as_production_refuses_it() {
    let fixtures = tempfile::tempdir().unwrap();
    let said = refused_as_hosts_refuse(components::HOSTILE_RAW_OVERWRITE, fixtures.path());
    assert_contains(&said, "may not write nba_raw.schedule");
    assert_contains(&said, "raw input");
}
