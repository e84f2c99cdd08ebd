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
