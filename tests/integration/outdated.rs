//! What is out of date after a deploy: `slate runs --outdated` lists the
//! (processor, date) pairs the previous version wrote and those downstream
//! of them, the dashboard's grid marks them, and `slate backfill
//! --reprocess outdated` reruns exactly those and nothing else.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;
use slate::bundled::PLUGINS;

use crate::serve_process::Server;
use crate::support::{assert_contains, assert_succeeded, demo_data_dir, slate, stderr};

/// The processor the test deploys anew, and the two downstream of it.
const CHANGED: &str = "PlayerDailyCacheProcessor";
const DOWNSTREAM: [&str; 2] = ["MLFeatureStoreProcessor", "PointsPredictionProcessor"];

/// The bundled PlayerDailyCache component with a custom section appended:
/// the same behaviour under a new content hash, as a rebuilt version has.
fn rebuilt_daily_cache(folder: &Path) -> std::path::PathBuf {
    let bundled = PLUGINS
        .iter()
        .find(|p| p.package == "player-daily-cache")
        .expect("the daily cache is bundled");
    let bytes = crate::support::rebuilt(bundled.bytes, "rebuild-v2");
    let file = folder.join("player-daily-cache-rebuilt.wasm");
    std::fs::write(&file, bytes).unwrap();
    file
}

/// Runs `slate` in `dir`, expecting success, and parses its stdout as JSON.
fn slate_json(dir: &Path, args: &[&str]) -> Json {
    let output = slate(dir, args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Each (processor, date)'s latest run id.
fn latest_runs(dir: &Path) -> BTreeMap<(String, String), String> {
    let runs = slate_json(dir, &["runs", "--json", "--limit", "10000"]);
    let mut latest = BTreeMap::new();
    for run in runs.as_array().unwrap() {
        let key = (
            run["processor"].as_str().unwrap().to_string(),
            run["data_date"].as_str().unwrap().to_string(),
        );
        // Newest first: the first of each key is its latest.
        latest
            .entry(key)
            .or_insert_with(|| run["run_id"].as_str().unwrap().to_string());
    }
    latest
}

/// The (processor, date, cause) of each outdated pair.
fn outdated(dir: &Path) -> Vec<(String, String, String)> {
    slate_json(dir, &["runs", "--outdated", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["processor"].as_str().unwrap().to_string(),
                o["date"].as_str().unwrap().to_string(),
                o["cause"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_new_version_outdates_its_dates_and_downstream_and_reprocess_outdated_reruns_exactly_those() {
    // 2026-01-06 is the demo's planted missing date: nothing succeeded
    // there downstream of phase 3, so it is missing, not outdated.
    let dir = demo_data_dir("2026-01-05", "2026-01-07");
    assert_eq!(outdated(dir.path()), [], "all current after the demo");

    let rebuilt = rebuilt_daily_cache(dir.path());
    let deploy = slate(dir.path(), &["deploy", rebuilt.to_str().unwrap()]);
    assert_succeeded(&deploy);

    let mut expected = Vec::new();
    for day in ["2026-01-05", "2026-01-07"] {
        expected.push((CHANGED.to_string(), day.to_string(), "version".to_string()));
    }
    for processor in DOWNSTREAM {
        for day in ["2026-01-05", "2026-01-07"] {
            expected.push((
                processor.to_string(),
                day.to_string(),
                "upstream_outdated".to_string(),
            ));
        }
    }
    assert_eq!(outdated(dir.path()), expected);
    let only = slate_json(dir.path(), &["runs", "--outdated", CHANGED, "--json"]);
    assert_eq!(only.as_array().unwrap().len(), 2, "{only}");

    // The grid marks exactly those cells.
    let server = Server::start(dir.path(), &[]);
    let (status, grid) = server.get("/api/grid?from=2026-01-05&to=2026-01-07");
    assert_eq!(status, 200, "{grid}");
    let mut marked = Vec::new();
    for phase in grid["phases"].as_array().unwrap() {
        for row in phase["rows"].as_array().unwrap() {
            for cell in row["cells"].as_array().unwrap() {
                if cell["outdated"] == true {
                    marked.push((
                        row["processor"].as_str().unwrap().to_string(),
                        cell["date"].as_str().unwrap().to_string(),
                    ));
                }
            }
        }
    }
    drop(server);
    marked.sort();
    let mut pairs: Vec<(String, String)> = expected
        .iter()
        .map(|(p, d, _)| (p.clone(), d.clone()))
        .collect();
    pairs.sort();
    assert_eq!(marked, pairs, "the grid's outdated cells");

    // The command the listing prints reruns them, pasted as it is.
    // Before, it left out the dates, which a backfill needs.
    let listed = slate(dir.path(), &["runs", "--outdated"]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let printed = (listed.split("` reruns them").next())
        .and_then(|before| before.rsplit('`').next())
        .unwrap_or_default();
    assert_contains(
        printed,
        "backfill --from 2026-01-05 --to 2026-01-07 --reprocess outdated",
    );
    let before = latest_runs(dir.path());
    let words = shlex::split(printed).unwrap();
    let backfill = std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
        .args(&words[1..])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert_succeeded(&backfill);
    let after = latest_runs(dir.path());
    assert_eq!(before.len(), after.len(), "no pair gained or lost a run");
    for (pair, run) in &before {
        let rerun = after[pair] != *run;
        assert_eq!(
            rerun,
            pairs.contains(pair),
            "{pair:?}: rerun {rerun}, outdated {}",
            pairs.contains(pair)
        );
    }
    assert_eq!(
        outdated(dir.path()),
        [],
        "nothing outdated after the backfill"
    );
}
