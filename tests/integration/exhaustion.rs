//! What a machine runs out of: a full disk under stderr, under the compile
//! cache, under the store. Each ends loud and whole, naming what ran out,
//! never as a bug of Slate's, and leaves nothing behind to fill the space
//! freed after it.

use std::process::Command;

use slate::runs::{ErrorKind, RunFilter, RunStatus};
use slate::store::{EmbeddedStore, RunLedger};

use crate::support::{
    assert_contains, date, demo_data_dir, limited, refuse_in_run_history, slate, stderr, stdout,
};

/// A backfill whose stderr is a full disk runs as it would otherwise: the
/// date with missing box scores fails for that reason, the runs after it
/// are blocked, and the command exits 1 with its summary. Before, the
/// first warning panicked the host (the log reported the failed write with
/// `eprintln!`, which panics there): the runs in flight ended `failed` as
/// "the host panicked", their own cause lost, and the backfill stopped.
#[test]
fn a_backfill_whose_stderr_is_a_full_disk_records_each_run_as_it_ended() {
    let dir = demo_data_dir("2026-01-05", "2026-01-05");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["backfill", "--from", "2026-01-05", "--to", "2026-01-07"])
        .args(["--reprocess", "all", "--parallelism", "2"])
        .env("RUST_LOG", "warn")
        .stderr(full)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    let runs = store.runs(&RunFilter::default()).unwrap();
    let panicked: Vec<_> = runs
        .iter()
        .filter(|run| run.error_kind == Some(ErrorKind::Host))
        .collect();
    assert!(panicked.is_empty(), "{panicked:#?}");
    let on_the_gap: Vec<_> = runs
        .iter()
        .filter(|run| run.data_date == date("2026-01-06"))
        .map(|run| (run.processor.as_str(), run.status, run.error_kind))
        .collect();
    assert!(
        on_the_gap.contains(&(
            "PlayerGameSummaryProcessor",
            RunStatus::Failed,
            Some(ErrorKind::Plugin)
        )),
        "{on_the_gap:?}"
    );
    assert!(
        on_the_gap
            .iter()
            .any(|(_, status, _)| *status == RunStatus::Blocked),
        "{on_the_gap:?}"
    );
    // The backfill went on past the gap.
    assert!(
        runs.iter()
            .any(|run| run.data_date == date("2026-01-07") && run.status == RunStatus::Success),
        "{runs:#?}"
    );
}

/// A host under a `ulimit -v` too small for its instance pool (which
/// reserves tens of GiB of address space it never touches) runs every
/// processor all the same, allocating each run's memory as it starts, and
/// says so once. Before, no command could load a processor: "failed to
/// create memory pool mapping: mmap failed to reserve 0x1226000000 bytes".
#[test]
fn a_run_under_an_address_space_limit_too_small_for_the_pool_still_runs_every_processor() {
    let dir = demo_data_dir("2026-01-05", "2026-01-05");
    let runs_on_the_5th = || {
        let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
        let filter = RunFilter {
            date: Some(date("2026-01-05")),
            ..RunFilter::default()
        };
        store.runs(&filter).unwrap()
    };
    let before: Vec<String> = runs_on_the_5th()
        .into_iter()
        .map(|run| run.run_id)
        .collect();
    let mut command = Command::new(env!("CARGO_BIN_EXE_slate"));
    command
        .arg("--data-dir")
        .arg(dir.path())
        .args(["run", "--date", "2026-01-05"])
        .env("RUST_LOG", "warn");
    const LIMIT_BYTES: u64 = 8 << 30;
    let address_space = rustix::process::Resource::As;
    limited(&mut command, address_space, (LIMIT_BYTES, LIMIT_BYTES));
    let output = command.output().unwrap();

    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert_eq!(
        said.matches(
            "the instance pool needs more address space than `ulimit -v` allows (8388608 KiB)"
        )
        .count(),
        1,
        "{said}"
    );
    let ran_on_the_5th = runs_on_the_5th();
    let this_command: Vec<(&str, RunStatus)> = ran_on_the_5th
        .iter()
        .filter(|run| !before.contains(&run.run_id))
        .map(|run| (run.processor.as_str(), run.status))
        .collect();
    assert_eq!(this_command.len(), 9, "{this_command:?}");
    assert!(
        this_command
            .iter()
            .all(|(_, status)| *status == RunStatus::Success),
        "{this_command:?}"
    );
}

/// A demo whose store refuses runs partway (here a trigger refuses every
/// claim from the 11th on, as a full disk would) says so once, with how
/// many runs the store failed, its error and the backfill that runs them
/// again, and exits 1. Before, it printed a line per refused run (641 of
/// them on a season whose disk filled in April) and no way to go on.
#[test]
fn a_demo_whose_store_refuses_runs_says_so_once_with_the_backfill_that_runs_them_again() {
    let dir = demo_data_dir("2026-01-10", "2026-01-10");
    refuse_in_run_history(
        dir.path(),
        "INSERT",
        "NEW.data_date >= '2026-01-11'",
        "simulated: database or disk is full",
    );

    let output = slate(
        dir.path(),
        &["demo", "--from", "2026-01-10", "--to", "2026-01-12"],
    );

    let (out, said) = (stdout(&output), stderr(&output));
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(!out.contains("unclaimed"), "no line per refused run: {out}");
    let again = format!(
        "--data-dir {} backfill --from 2026-01-11 --to 2026-01-12 --processors \
         PlayerGameSummaryProcessor,",
        dir.path().display()
    );
    let warning = said
        .lines()
        .find(|line| line.starts_with("warning: 18 runs failed because the store did ("))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(
        warning.contains("simulated: database or disk is full") && warning.contains(&again),
        "{warning}"
    );
    assert!(
        warning.ends_with("--reprocess all` runs them again"),
        "{warning}"
    );
    assert_contains(
        &said,
        "18 runs did not succeed beyond the planted missing date's",
    );
}

/// A backfill whose store refuses the alerts of its dates' phases (here a
/// trigger, as a full disk would) says so in one line that names the
/// dates and the store's error. Before, it logged a line per date: a
/// season's worth on a disk that filled early.
#[test]
fn phase_events_a_backfill_could_not_record_are_said_once_with_their_dates() {
    let dir = demo_data_dir("2026-01-05", "2026-01-05");
    // The phases of the 6th (box scores missing), 7th and 8th (no game
    // summaries: those after them blocked) are incomplete: each records
    // an alert.
    refuse_in_run_history(
        dir.path(),
        "INSERT",
        "NEW.processor = 'PlayerGameSummaryProcessor' AND NEW.data_date >= '2026-01-07'",
        "simulated: database is locked",
    );
    rusqlite::Connection::open(dir.path().join("slate.db"))
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse_phase_alerts BEFORE INSERT ON _slate_alerts
             WHEN NEW.event = 'phase_incomplete'
             BEGIN SELECT RAISE(ABORT, 'simulated: database or disk is full'); END;",
        )
        .unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["backfill", "--from", "2026-01-06", "--to", "2026-01-08"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();

    let said = stderr(&output);
    let unrecorded: Vec<&str> = said
        .lines()
        .filter(|line| line.contains("phase events not recorded"))
        .collect();
    assert_eq!(unrecorded.len(), 1, "{said}");
    assert_contains(
        unrecorded[0],
        "phase events not recorded for 3 dates from 2026-01-06 to 2026-01-08: store error: \
         simulated: database or disk is full",
    );
}
