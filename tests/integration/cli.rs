//! The `slate` binary as a user runs it.

use std::process::{Command, Output};

fn slate(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("run slate")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn demo_then_run_prints_rows_for_both_processors() {
    let dir = tempfile::tempdir().unwrap();
    let demo = slate(
        dir.path(),
        &["demo", "--from", "2026-01-05", "--to", "2026-01-11"],
    );
    assert!(demo.status.success(), "{}", stderr(&demo));
    let summary = String::from_utf8_lossy(&demo.stdout);
    assert!(
        summary.contains("nba_analytics.player_game_summary"),
        "{summary}"
    );
    // 2026-01-06 is scheduled but has no box scores: it must not pass silently.
    assert!(
        summary
            .contains("2026-01-06 PlayerGameSummaryProcessor failed: missing data: no box scores"),
        "{summary}"
    );

    let run = slate(dir.path(), &["run", "--date", "2026-01-11"]);
    assert!(run.status.success(), "{}", stderr(&run));
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
        2,
        "{history}"
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
    assert!(demo.status.success(), "{}", stderr(&demo));

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
}

#[test]
fn slate_quarantine_lists_the_bad_row_of_a_run_with_its_field_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        crate::support::components::ONE_BAD_ROW_QUARANTINED,
        plugins.join("one_bad_row_quarantined.wasm"),
    )
    .unwrap();
    slate::store::EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    let plugin_dir = plugins.to_str().unwrap();

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
    assert!(run.status.success(), "{}", stderr(&run));
    let table = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(table.contains("OneBadRowQuarantined"), "{table}");
    assert!(table.contains(" 198 "), "{table}");

    let listed = slate(dir.path(), &["quarantine", "--json"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["row_index"], 137);
    assert_eq!(lines[0]["errors"][0]["field"], "circuit_breaker_until");
    assert_eq!(lines[0]["raw_row"]["player_lookup"], "player_137");
    let run_id = lines[0]["run_id"].as_str().unwrap().to_string();

    let of_run = slate(dir.path(), &["quarantine", "--run", &run_id]);
    let text = String::from_utf8_lossy(&of_run.stdout).into_owned();
    assert!(of_run.status.success(), "{}", stderr(&of_run));
    assert!(text.contains("circuit_breaker_until"), "{text}");
    assert!(text.contains("INT64 1700000000"), "{text}");
    assert!(text.ends_with("1 quarantined rows\n"), "{text}");

    let other = slate(dir.path(), &["quarantine", "--run", "no-such-run"]);
    assert!(String::from_utf8_lossy(&other.stdout).ends_with("0 quarantined rows\n"));
}
