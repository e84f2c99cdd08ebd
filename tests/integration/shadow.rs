//! Shadow versions through the command line: `slate deploy --shadow`
//! stores a version that runs beside the active one into a table of its
//! own, never touching the live table, never failing the live run, and
//! `slate diff` compares the two tables row by row.

use std::path::Path;

use serde_json::{Value as Json, json};
use slate::rows::RowSet;
use slate::schema::TableName;
use slate::store::alerts::AlertOutbox;
use slate::store::input::InputSource;
use slate::store::{EmbeddedStore, RunLedger};

use crate::support::{
    assert_contains, components, date, demo_data_dir, listed_plugin, slate, stderr,
};

const DAY: &str = "2026-01-05";

fn versioned() -> TableName {
    TableName::new("slate_test", "versioned")
}

fn succeed(dir: &Path, args: &[&str]) -> String {
    let output = slate(dir, args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    String::from_utf8(output.stdout).unwrap()
}

fn rows_of(dir: &Path, table: &TableName) -> RowSet {
    let store = EmbeddedStore::open(&dir.join("slate.db")).unwrap();
    store.read_rows(table, date(DAY), date(DAY)).unwrap()
}

/// The latest run of `processor` on [`DAY`], as JSON.
fn latest_run(dir: &Path, processor: &str) -> Json {
    let runs: Json = serde_json::from_str(&succeed(
        dir,
        &["runs", "--json", "--processor", processor, "--date", DAY],
    ))
    .unwrap();
    runs[0].clone()
}

/// A demo folder (`from` to `to`) where VersionedProcessor v1 is active,
/// has run on `days`, and v2 is its shadow.
fn with_v1_run_on(from: &str, to: &str, days: &[&str]) -> tempfile::TempDir {
    let dir = demo_data_dir(from, to);
    succeed(dir.path(), &["deploy", components::VERSIONED_V1]);
    for day in days {
        let run = ["run", "--date", day, "--processors", "VersionedProcessor"];
        succeed(dir.path(), &run);
    }
    succeed(
        dir.path(),
        &["deploy", "--shadow", components::VERSIONED_V2],
    );
    dir
}

/// `slate shadow run VersionedProcessor` from `from` to `to`.
fn replay(dir: &Path, from: &str, to: &str) -> String {
    let args = [
        "shadow",
        "run",
        "VersionedProcessor",
        "--from",
        from,
        "--to",
        to,
    ];
    succeed(dir, &args)
}

/// [`with_v1_run`], with v2 as the shadow, run beside v1 on [`DAY`].
fn with_v2_shadow_run() -> tempfile::TempDir {
    let dir = with_v1_run();
    succeed(
        dir.path(),
        &["deploy", "--shadow", components::VERSIONED_V2],
    );
    let run = ["run", "--date", DAY, "--processors", "VersionedProcessor"];
    succeed(dir.path(), &run);
    dir
}

/// A demo folder (one date) where VersionedProcessor v1 is active and has
/// run on [`DAY`].
fn with_v1_run() -> tempfile::TempDir {
    let dir = demo_data_dir(DAY, DAY);
    succeed(dir.path(), &["deploy", components::VERSIONED_V1]);
    let run = ["run", "--date", DAY, "--processors", "VersionedProcessor"];
    succeed(dir.path(), &run);
    dir
}

/// Runs VersionedProcessor on DAY with `slate run`, which must succeed,
/// and returns the line of its summary that shows the shadow's run.
fn run_and_find_the_shadow_line(dir: &std::path::Path) -> String {
    let run = ["run", "--date", DAY, "--processors", "VersionedProcessor"];
    let summary = succeed(dir, &run);
    summary
        .lines()
        .find(|line| line.contains("VersionedProcessor~shadow (shadow)"))
        .unwrap_or_else(|| panic!("no shadow line: {summary}"))
        .to_string()
}

#[test]
fn a_shadow_runs_beside_the_live_run_into_its_own_table_and_never_touches_the_live_one() {
    let dir = with_v1_run();
    let live_before = rows_of(dir.path(), &versioned());
    assert_eq!(live_before.rows.len(), 2);

    let deployed = succeed(
        dir.path(),
        &["deploy", "--shadow", components::VERSIONED_V2],
    );
    assert_contains(&deployed, "as the shadow of the active version");
    let shadow_line = run_and_find_the_shadow_line(dir.path());
    assert_contains(&shadow_line, "success");
    // On the data folder the run was given.
    assert_contains(&shadow_line, "compare: `slate --data-dir ");
    assert_contains(&shadow_line, " diff VersionedProcessor`");

    assert_eq!(
        rows_of(dir.path(), &versioned()),
        live_before,
        "the live table"
    );
    let live = latest_run(dir.path(), "VersionedProcessor");
    assert_eq!(
        (live["status"].as_str(), live["attempt"].as_i64()),
        (Some("success"), Some(2))
    );
    let shadow = latest_run(dir.path(), "VersionedProcessor~shadow");
    assert_eq!(shadow["status"], "success", "{shadow}");
    assert_eq!(shadow["trigger"], "shadow");
    assert_eq!(shadow["rows_written"], 3);
    assert_ne!(shadow["plugin_hash"], live["plugin_hash"]);
    let hash = shadow["plugin_hash"].as_str().unwrap();
    let shadow_table = slate::shadow::shadow_table(&versioned(), hash);
    assert_eq!(shadow_table.dataset, "slate_shadow");
    let written = rows_of(dir.path(), &shadow_table);
    let label = written.columns.iter().position(|c| c == "label").unwrap();
    assert_eq!(written.rows.len(), 3);
    assert!(
        written
            .rows
            .iter()
            .all(|r| r[label]
                == slate::rows::Value::Scalar(slate::rows::Scalar::String("v2".into())))
    );

    // v1 wrote n = 0, 1 labelled v1; v2 writes n = 0, 1, 2 labelled v2.
    let diff: Json = serde_json::from_str(&succeed(
        dir.path(),
        &["diff", "VersionedProcessor", "--json"],
    ))
    .unwrap();
    assert_eq!(diff["dates"], json!([DAY]));
    let counts = &diff["diff"];
    assert_eq!(
        [
            &counts["only_in_live"],
            &counts["only_in_new"],
            &counts["changed"],
            &counts["unchanged"]
        ],
        [&json!(0), &json!(1), &json!(2), &json!(0)]
    );
    assert_eq!(counts["only_in_new_examples"], json!([[2, DAY]]));
    assert_eq!(counts["columns"][0]["column"], "label");
    assert_eq!(counts["columns"][0]["rows_changed"], 2);
    assert_eq!(
        counts["columns"][0]["examples"][0],
        json!({"key": [0, DAY], "old": "v1", "new": "v2"})
    );
    assert_eq!(
        counts["schema"],
        json!({"added": [], "removed": [], "retyped": []})
    );
    let text = succeed(dir.path(), &["diff", "VersionedProcessor"]);
    assert_contains(&text, "1 only in shadow, 2 changed, 0 unchanged");
}

#[test]
fn a_shadow_that_traps_fails_alone_and_the_live_run_succeeds() {
    let dir = with_v1_run();
    let live_before = rows_of(dir.path(), &versioned());
    succeed(
        dir.path(),
        &["deploy", "--shadow", components::VERSIONED_V4_PANICS],
    );
    // The command succeeds on its live run; its summary shows the shadow's
    // failure on a line of its own, under the live run.
    let shadow_line = run_and_find_the_shadow_line(dir.path());
    assert_contains(&shadow_line, "failed");
    assert_contains(&shadow_line, "versioned v4 always panics");

    let live = latest_run(dir.path(), "VersionedProcessor");
    assert_eq!(live["status"], "success");
    assert_eq!(rows_of(dir.path(), &versioned()), live_before);
    let shadow = latest_run(dir.path(), "VersionedProcessor~shadow");
    assert_eq!(
        (shadow["status"].as_str(), shadow["error_kind"].as_str()),
        (Some("failed"), Some("trap"))
    );
    assert!(
        shadow["error_message"]
            .as_str()
            .unwrap()
            .contains("versioned v4 always panics"),
        "{shadow}"
    );
    let health = slate(dir.path(), &["health"]);
    assert!(
        !String::from_utf8_lossy(&health.stdout).contains("~shadow"),
        "a failing shadow is not a pipeline problem"
    );
    let diff = slate(dir.path(), &["diff", "VersionedProcessor"]);
    assert_eq!(diff.status.code(), Some(1));
    assert_contains(&stderr(&diff), "no successful run");

    // It shows as failing, and a shadow that failed on every date it ran
    // is not promoted (it was, with "now active", and the next live run
    // trapped) unless forced.
    let listed = succeed(dir.path(), &["plugins"]);
    assert_contains(&listed, "no dates yet; 1 failed run");
    let refused = slate(dir.path(), &["promote", "VersionedProcessor"]);
    assert_eq!(refused.status.code(), Some(1));
    assert_contains(&stderr(&refused), "VersionedProcessor's shadow 4.0.0 (");
    assert_contains(
        &stderr(&refused),
        "failed on every date it ran (1 runs): not promoted",
    );
    assert_eq!(
        latest_run(dir.path(), "VersionedProcessor")["status"],
        "success"
    );
    assert_eq!(shadow_alerts(dir.path()).0, 1);
    let forced = succeed(dir.path(), &["promote", "VersionedProcessor", "--force"]);
    assert_contains(&forced, "promoted VersionedProcessor 4.0.0");
    assert_eq!(shadow_alerts(dir.path()).0, 0, "no shadow runs after it");
}

/// Once another version is active, the live rows a diff compares are
/// still the ones the earlier version wrote. The diff says which version
/// wrote them; before, it named the active version, which had written
/// none, as the one compared.
#[test]
fn a_diff_names_the_version_that_wrote_the_live_rows_it_compares() {
    let dir = with_v2_shadow_run();
    let v1 = latest_run(dir.path(), "VersionedProcessor")["plugin_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let diff: Json = serde_json::from_str(&succeed(
        dir.path(),
        &["diff", "VersionedProcessor", "--json"],
    ))
    .unwrap();
    assert_eq!(diff["live_hash"], v1.as_str());
    assert_eq!(diff["live_written_by"], json!({ v1.as_str(): [DAY] }));
    let said = succeed(dir.path(), &["diff", "VersionedProcessor"]);
    assert!(!said.contains("note:"), "{said}");

    succeed(dir.path(), &["deploy", components::VERSIONED_V4_PANICS]);
    let diff: Json = serde_json::from_str(&succeed(
        dir.path(),
        &["diff", "VersionedProcessor", "--json"],
    ))
    .unwrap();
    assert_ne!(diff["live_hash"], v1.as_str(), "v4 is active");
    assert_eq!(diff["live_written_by"], json!({ v1.as_str(): [DAY] }));
    let said = succeed(dir.path(), &["diff", "VersionedProcessor"]);
    assert_contains(
        &said,
        &format!(
            "note: the live rows of {DAY} were written by version {}, not the active",
            &v1[..12]
        ),
    );

    // Live rows the shadow's own version wrote (v2 active for a while, then
    // rolled back from, and shadowed again) compare it with itself.
    let fresh = with_v1_run();
    succeed(fresh.path(), &["deploy", components::VERSIONED_V2]);
    succeed(
        fresh.path(),
        &["run", "--date", DAY, "--processors", "VersionedProcessor"],
    );
    succeed(fresh.path(), &["rollback", "VersionedProcessor"]);
    succeed(
        fresh.path(),
        &["deploy", "--shadow", components::VERSIONED_V2],
    );
    replay(fresh.path(), DAY, DAY);
    let said = succeed(fresh.path(), &["diff", "VersionedProcessor"]);
    assert_contains(
        &said,
        "(the shadow's own version: those dates compare it with itself), not the active",
    );
}

/// The open alerts of the shadow's runs, and for each resolved one what
/// resolved it.
fn shadow_alerts(dir: &Path) -> (usize, Vec<Option<String>>) {
    let alerts = EmbeddedStore::open(&dir.join("slate.db"))
        .unwrap()
        .alerts(false, 1000)
        .unwrap();
    let of_the_shadow: Vec<_> = alerts
        .into_iter()
        .filter(|a| a.raised.subject == "VersionedProcessor~shadow")
        .collect();
    let open = of_the_shadow
        .iter()
        .filter(|a| a.resolved_at.is_none())
        .count();
    let resolved_by = of_the_shadow
        .into_iter()
        .filter(|a| a.resolved_at.is_some())
        .map(|a| a.resolved_by)
        .collect();
    (open, resolved_by)
}

/// A shadow's quarantined rows raise an alert only a later clean run of
/// the shadow resolves; a dropped shadow has none, so the drop resolves it.
#[test]
fn a_dropped_shadows_quarantine_alert_is_resolved() {
    let dir = crate::support::demo_data_dir(DAY, DAY);
    succeed(dir.path(), &["deploy", components::ONE_BAD_ROW_QUARANTINED]);
    let rebuilt = dir.path().join("rebuilt.wasm");
    let bytes = std::fs::read(components::ONE_BAD_ROW_QUARANTINED).unwrap();
    std::fs::write(&rebuilt, crate::support::rebuilt(&bytes, "shadow")).unwrap();
    succeed(
        dir.path(),
        &["deploy", "--shadow", rebuilt.to_str().unwrap()],
    );
    let run = ["run", "--date", DAY, "--processors", "OneBadRowQuarantined"];
    succeed(dir.path(), &run);
    let open_of_the_shadow = || {
        EmbeddedStore::open(&dir.path().join("slate.db"))
            .unwrap()
            .alerts(true, 1000)
            .unwrap()
            .into_iter()
            .filter(|a| a.raised.subject == "OneBadRowQuarantined~shadow")
            .map(|a| a.raised.event.as_str().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(open_of_the_shadow(), ["rows_quarantined"]);
    succeed(dir.path(), &["shadow", "drop", "OneBadRowQuarantined"]);
    assert_eq!(open_of_the_shadow(), Vec::<String>::new());
}

/// A failing shadow's alert waits for a later success of the shadow.
/// Once the shadow ends, by a drop, a replacement or an undeploy, none can
/// come: its alerts are resolved then, not left open for good.
#[test]
fn a_failing_shadows_alerts_are_resolved_when_the_shadow_ends() {
    let dir = with_v1_run();
    let failing_shadow_run = || {
        succeed(
            dir.path(),
            &["deploy", "--shadow", components::VERSIONED_V4_PANICS],
        );
        let run = ["run", "--date", DAY, "--processors", "VersionedProcessor"];
        succeed(dir.path(), &run);
    };
    let ended = Some("VersionedProcessor's shadow version ended".to_string());

    failing_shadow_run();
    assert_eq!(shadow_alerts(dir.path()), (1, vec![]));
    // The same version stored again as the shadow goes on: its alert too.
    succeed(
        dir.path(),
        &["deploy", "--shadow", components::VERSIONED_V4_PANICS],
    );
    assert_eq!(shadow_alerts(dir.path()), (1, vec![]));
    let dropped = succeed(dir.path(), &["shadow", "drop", "VersionedProcessor"]);
    assert_contains(&dropped, "1 open alerts of its shadow runs resolved");
    assert_eq!(shadow_alerts(dir.path()), (0, vec![ended.clone()]));

    failing_shadow_run();
    assert_eq!(shadow_alerts(dir.path()).0, 1);
    succeed(
        dir.path(),
        &["deploy", "--shadow", components::VERSIONED_V2],
    );
    assert_eq!(
        shadow_alerts(dir.path()),
        (0, vec![ended.clone(), ended.clone()])
    );

    failing_shadow_run();
    assert_eq!(shadow_alerts(dir.path()).0, 1);
    succeed(dir.path(), &["undeploy", "VersionedProcessor"]);
    assert_eq!(shadow_alerts(dir.path()), (0, vec![ended.clone(); 3]));
}

#[test]
fn a_shadow_must_be_another_version_of_a_processor_that_runs_here() {
    let dir = with_v1_run();
    let same = slate(
        dir.path(),
        &["deploy", "--shadow", components::VERSIONED_V1],
    );
    assert!(!same.status.success());
    assert_contains(&stderr(&same), "is the active version");
    let unknown = slate(
        dir.path(),
        &["deploy", "--shadow", components::AFTER_SLOW_PROCESSOR],
    );
    assert!(!unknown.status.success());
    assert_contains(&stderr(&unknown), "runs here to shadow");
    let none = slate(dir.path(), &["diff", "VersionedProcessor"]);
    assert_eq!(none.status.code(), Some(2));
    assert_contains(&stderr(&none), "has no shadow version");

    // A shadow whose bytes become the active version (deployed, not
    // promoted) is a shadow no more: before, it stayed listed, and a
    // server ran it beside the identical live version on every date.
    succeed(
        dir.path(),
        &["deploy", "--shadow", components::VERSIONED_V2],
    );
    let run = ["run", "--date", DAY, "--processors", "VersionedProcessor"];
    succeed(dir.path(), &run);
    succeed(dir.path(), &["deploy", components::VERSIONED_V2]);
    let registry = slate::registry::Registry::open(&dir.path().join("registry")).unwrap();
    assert!(registry.shadows().unwrap().is_empty());
    // Its table is left; `shadow drop` still takes it away.
    let dropped = succeed(dir.path(), &["shadow", "drop", "VersionedProcessor"]);
    assert_contains(&dropped, "dropped slate_shadow.");
}

#[test]
fn promoting_makes_the_shadow_active_and_the_dates_the_old_version_wrote_outdated() {
    let dir = with_v2_shadow_run();
    let run = ["run", "--date", DAY, "--processors", "VersionedProcessor"];
    let plugins = succeed(dir.path(), &["plugins"]);
    assert!(plugins.contains("2.0.0 ("), "{plugins}");
    assert!(
        plugins.contains(&format!("1 date, {DAY} to {DAY}")),
        "{plugins}"
    );
    let history = succeed(dir.path(), &["plugins", "history", "VersionedProcessor"]);
    let shadowed = history.lines().find(|line| line.contains(" shadow "));
    assert!(
        shadowed.is_some_and(|line| line.contains("2.0.0")),
        "{history}"
    );

    let shadow_table = slate::shadow::shadow_table(
        &versioned(),
        latest_run(dir.path(), "VersionedProcessor~shadow")["plugin_hash"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(rows_of(dir.path(), &shadow_table).rows.len(), 3);
    let promoted = succeed(dir.path(), &["promote", "VersionedProcessor"]);
    assert_contains(&promoted, "promoted VersionedProcessor 2.0.0");
    assert!(
        promoted.contains(&format!("dropped {shadow_table}")),
        "{promoted}"
    );
    let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    assert_eq!(
        slate::store::Tables::table_schema(&store, &shadow_table).unwrap(),
        None
    );
    let plugins = succeed(dir.path(), &["plugins"]);
    assert!(
        !plugins.contains("1 dates"),
        "no shadow any more: {plugins}"
    );
    let history = succeed(dir.path(), &["plugins", "history", "VersionedProcessor"]);
    assert_contains(&history, "promote");
    let outdated: Json = serde_json::from_str(&succeed(
        dir.path(),
        &["runs", "--outdated", "VersionedProcessor", "--json"],
    ))
    .unwrap();
    assert_eq!(outdated.as_array().unwrap().len(), 1, "{outdated}");
    assert_eq!(outdated[0]["date"], DAY);
    assert_eq!(outdated[0]["cause"], "version");

    succeed(dir.path(), &run);
    let live = rows_of(dir.path(), &versioned());
    assert_eq!(live.rows.len(), 3, "v2 is live");
    let shadow = latest_run(dir.path(), "VersionedProcessor~shadow");
    assert_eq!(shadow["attempt"], 1, "no shadow runs after the promotion");
    let again = slate(dir.path(), &["promote", "VersionedProcessor"]);
    assert_eq!(again.status.code(), Some(2));
    assert_contains(&stderr(&again), "has no shadow version to promote");

    // v1 back, and v2 the shadow again: its runs as the shadow before the
    // promotion wrote a table the promotion dropped, so it has covered no
    // date yet. Before, they counted, and diff reported every live row
    // dropped from a table that did not exist.
    succeed(dir.path(), &["rollback", "VersionedProcessor"]);
    succeed(
        dir.path(),
        &["deploy", "--shadow", components::VERSIONED_V2],
    );
    let plugins = succeed(dir.path(), &["plugins"]);
    assert_contains(&plugins, "no dates yet");
    let diff = slate(dir.path(), &["diff", "VersionedProcessor"]);
    assert_eq!(diff.status.code(), Some(1));
    assert_contains(&stderr(&diff), "no successful run");

    // Dropped unpromoted: its runs stop, and its table goes.
    succeed(dir.path(), &run);
    let shadow_table = slate::shadow::shadow_table(
        &versioned(),
        latest_run(dir.path(), "VersionedProcessor~shadow")["plugin_hash"]
            .as_str()
            .unwrap(),
    );
    let dropped = succeed(dir.path(), &["shadow", "drop", "VersionedProcessor"]);
    assert_contains(&dropped, &format!("dropped {shadow_table}"));
    assert_eq!(
        slate::store::Tables::table_schema(&store, &shadow_table).unwrap(),
        None
    );
    let attempts = latest_run(dir.path(), "VersionedProcessor~shadow")["attempt"].clone();
    succeed(dir.path(), &run);
    assert_eq!(
        latest_run(dir.path(), "VersionedProcessor~shadow")["attempt"],
        attempts,
        "no shadow run after the drop"
    );
    let none = slate(dir.path(), &["shadow", "drop", "VersionedProcessor"]);
    assert_eq!(
        none.status.code(),
        Some(2),
        "a wrong command line, as an undeploy of nothing"
    );
    assert_contains(
        &stderr(&none),
        "has no shadow version to drop, nor shadow tables",
    );
}

#[test]
fn a_replay_runs_the_shadow_on_past_dates_the_live_processor_succeeded_on_and_writes_only_its_table()
 {
    let dir = with_v1_run_on("2026-01-05", "2026-01-07", &["2026-01-05", "2026-01-07"]);
    let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    let range = (date("2026-01-05"), date("2026-01-07"));
    let live_before = store.read_rows(&versioned(), range.0, range.1).unwrap();
    let said = replay(dir.path(), "2026-01-05", "2026-01-07");
    assert_contains(&said, "2 of 2 dates succeeded, 6 rows; 1 dates skipped");
    assert_eq!(
        store.read_rows(&versioned(), range.0, range.1).unwrap(),
        live_before,
        "the live table"
    );
    let runs: Json = serde_json::from_str(&succeed(
        dir.path(),
        &["runs", "--json", "--processor", "VersionedProcessor~shadow"],
    ))
    .unwrap();
    let mut replayed: Vec<(&str, &str)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["data_date"].as_str().unwrap(),
                r["trigger"].as_str().unwrap(),
            )
        })
        .collect();
    replayed.sort();
    assert_eq!(
        replayed,
        [("2026-01-05", "shadow"), ("2026-01-07", "shadow")]
    );
    let diff: Json = serde_json::from_str(&succeed(
        dir.path(),
        &["diff", "VersionedProcessor", "--json"],
    ))
    .unwrap();
    assert_eq!(diff["dates"], json!(["2026-01-05", "2026-01-07"]));
    assert_eq!(diff["diff"]["changed"], 4, "{diff}");
    assert_eq!(diff["diff"]["only_in_new"], 2, "{diff}");
}

#[test]
fn over_http_a_shadow_is_deployed_with_shadow_true_and_diffed_at_plugins_name_diff() {
    let dir = with_v1_run();
    let server = crate::serve_process::Server::start(dir.path(), &[]);
    let v2 = std::fs::read(components::VERSIONED_V2).unwrap();
    let (status, bad) = server.put_component("VersionedProcessor?shadow=maybe", &v2);
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["field"], "shadow");
    assert_contains(
        bad["error"].as_str().unwrap(),
        "invalid shadow `maybe`: expected 1 or true, 0 or false",
    );
    let (status, stored) = server.put_component("VersionedProcessor?shadow=true", &v2);
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["stored"]["version"], "2.0.0");
    let (_, plugins) = server.get("/plugins");
    let versioned = listed_plugin(&plugins, "VersionedProcessor");
    assert_eq!(versioned["version"], "1.0.0", "the shadow is not active");
    // The listing shows the shadow beside the active version, as `slate
    // plugins` does (before, it said nothing of it).
    let shadow = &versioned["shadow"];
    assert_eq!(
        (&shadow["version"], &shadow["hash"], &shadow["since"]),
        (&json!("2.0.0"), &stored["stored"]["hash"], &stored["since"]),
        "{versioned}"
    );
    assert_eq!(
        (&shadow["covered_dates"], &shadow["failed_runs"]),
        (&json!(0), &json!(0))
    );
    assert_contains(shadow["table"].as_str().unwrap(), "slate_shadow.");
    assert_eq!(
        listed_plugin(&plugins, "PlayerGameSummaryProcessor")["shadow"],
        Json::Null
    );

    let (status, none) = server.get("/plugins/VersionedProcessor/diff");
    assert_eq!(status, 404, "the shadow has not run: {none}");
    let live = server.process("VersionedProcessor", DAY);
    assert_eq!(live["status"], "success", "{live}");
    let (_, plugins) = server.get("/plugins");
    let covered = &listed_plugin(&plugins, "VersionedProcessor")["shadow"];
    assert_eq!(
        (
            &covered["covered_dates"],
            &covered["first_date"],
            &covered["last_date"]
        ),
        (&json!(1), &json!(DAY), &json!(DAY)),
        "{covered}"
    );
    // The shadow's run names the version it ran (before, null).
    let (_, runs) = server.get("/runs?processor=VersionedProcessor~shadow");
    let (status, detail) = server.get(&format!(
        "/api/runs/{}",
        runs[0]["run_id"].as_str().unwrap()
    ));
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        (&detail["plugin"]["version"], &detail["plugin"]["active"]),
        (&json!("2.0.0"), &json!(false)),
        "{detail}"
    );
    let (status, diff) = server.get(&format!(
        "/plugins/VersionedProcessor/diff?from={DAY}&to={DAY}"
    ));
    assert_eq!(status, 200, "{diff}");
    assert_eq!(diff["diff"]["changed"], 2);
    assert_eq!(diff["diff"]["only_in_new"], 1);
    // The same shadow stored again keeps its start, its coverage and its
    // table.
    let (status, again) = server.put_component("VersionedProcessor?shadow=true", &v2);
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (&again["since"], &again["tables_dropped"]),
        (&stored["since"], &json!([])),
        "{again}"
    );
    let (status, diff) = server.get("/plugins/VersionedProcessor/diff");
    assert_eq!((status, &diff["dates"]), (200, &json!([DAY])), "{diff}");
    let (status, unknown) = server.get("/plugins/NoSuchProcessor/diff");
    assert_eq!((status, &unknown["field"]), (404, &json!("name")));

    let (status, dropped) = server.delete("/plugins/VersionedProcessor/shadow");
    assert_eq!(status, 200, "{dropped}");
    assert_eq!(
        dropped["tables_dropped"].as_array().unwrap().len(),
        1,
        "{dropped}"
    );
    let (status, gone) = server.delete("/plugins/VersionedProcessor/shadow");
    assert_eq!((status, &gone["field"]), (404, &json!("name")), "{gone}");
    let (status, _) = server.get("/plugins/VersionedProcessor/diff");
    assert_eq!(status, 404, "no shadow to diff");

    // A failing shadow dropped over HTTP has its alerts resolved.
    let v4 = std::fs::read(components::VERSIONED_V4_PANICS).unwrap();
    let (status, stored) = server.put_component("VersionedProcessor?shadow=true", &v4);
    assert_eq!(status, 200, "{stored}");
    server.process("VersionedProcessor", DAY);
    assert_eq!(shadow_alerts(dir.path()).0, 1);
    let (status, dropped) = server.delete("/plugins/VersionedProcessor/shadow");
    assert_eq!(status, 200, "{dropped}");
    assert_eq!(shadow_alerts(dir.path()).0, 0);

    // The history shows each shadow set and dropped, newest first.
    let (status, history) = server.get("/plugins/VersionedProcessor/history");
    assert_eq!(status, 200, "{history}");
    let entries: Vec<(&str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["action"].as_str().unwrap(),
                entry["version"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries[..4],
        [
            ("drop_shadow", "4.0.0"),
            ("shadow", "4.0.0"),
            ("drop_shadow", "2.0.0"),
            ("shadow", "2.0.0"),
        ],
        "{history}"
    );
}

#[test]
fn promote_with_backfill_reruns_the_covered_dates_with_the_new_version_and_keep_keeps_the_shadow_table()
 {
    let days = ["2026-01-05", "2026-01-06", "2026-01-07"];
    let dir = with_v1_run_on("2026-01-05", "2026-01-07", &days);
    replay(dir.path(), "2026-01-05", "2026-01-06");
    let shadow_hash = latest_run(dir.path(), "VersionedProcessor~shadow")["plugin_hash"]
        .as_str()
        .unwrap()
        .to_string();

    let promoted = succeed(
        dir.path(),
        &["promote", "VersionedProcessor", "--backfill", "--keep"],
    );
    assert_contains(
        &promoted,
        "reran VersionedProcessor from 2026-01-05 to 2026-01-06: 2 succeeded, 0 failed",
    );
    assert_contains(&promoted, "kept the shadow's tables");
    let outdated: Json = serde_json::from_str(&succeed(
        dir.path(),
        &["runs", "--outdated", "VersionedProcessor", "--json"],
    ))
    .unwrap();
    let dates: Vec<&str> = outdated
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        ["2026-01-07"],
        "only the date the shadow did not cover"
    );
    let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    let live = store
        .read_rows(&versioned(), date("2026-01-05"), date("2026-01-06"))
        .unwrap();
    assert_eq!(live.rows.len(), 6, "v2's three rows on each covered date");
    let kept = slate::shadow::shadow_table(&versioned(), &shadow_hash);
    assert!(
        slate::store::Tables::table_schema(&store, &kept)
            .unwrap()
            .is_some()
    );
}

/// The README's walkthrough, on twelve dates of the demo season (enough
/// games for last-5 averages that are not already tenths).
#[test]
fn the_walkthrough_a_changed_daily_cache_as_a_shadow_then_diffed_promoted_and_nothing_outdated() {
    let dir = demo_data_dir("2026-01-01", "2026-01-12");
    let name = "PlayerDailyCacheProcessor";
    succeed(
        dir.path(),
        &["deploy", "--shadow", components::PLAYER_DAILY_CACHE_V2],
    );
    let replayed = succeed(
        dir.path(),
        &[
            "shadow",
            "run",
            name,
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-12",
        ],
    );
    assert_contains(&replayed, "11 of 11 dates succeeded");
    let diff: Json = serde_json::from_str(&succeed(dir.path(), &["diff", name, "--json"])).unwrap();
    let counts = &diff["diff"];
    assert_eq!(
        (&counts["only_in_live"], &counts["only_in_new"]),
        (&json!(0), &json!(0))
    );
    assert!(counts["changed"].as_u64().unwrap() > 0, "{counts}");
    let columns: Vec<&str> = counts["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["points_avg_last_5"], "the one changed formula");
    assert!(counts["columns"][0]["max_abs_diff"].as_f64().unwrap() <= 0.05 + 1e-12);
    assert_eq!(counts["schema"]["added"][0]["name"], "points_trend");

    let promoted = succeed(dir.path(), &["promote", name, "--backfill"]);
    for rerun in [name, "MLFeatureStoreProcessor", "PointsPredictionProcessor"] {
        assert!(
            promoted.contains(&format!(
                "reran {rerun} from 2026-01-01 to 2026-01-12: 11 succeeded, 0 failed"
            )),
            "{promoted}"
        );
    }
    assert_contains(
        &promoted,
        &format!(
            "`slate --data-dir {} runs --outdated` lists any dates still to rerun",
            dir.path().display()
        ),
    );
    let outdated: Json =
        serde_json::from_str(&succeed(dir.path(), &["runs", "--outdated", "--json"])).unwrap();
    assert_eq!(outdated, json!([]));
    let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    let cache = TableName::new("nba_precompute", "player_daily_cache");
    let schema = slate::store::Tables::table_schema(&store, &cache)
        .unwrap()
        .unwrap();
    assert!(
        schema.index_of("points_trend").is_some(),
        "migrated additively"
    );
}

#[test]
fn a_promotion_during_runs_gives_each_run_the_old_version_with_its_shadow_or_the_new_one_alone() {
    let dir = with_v1_run();
    succeed(
        dir.path(),
        &["deploy", "--shadow", components::VERSIONED_V2],
    );
    let server = crate::serve_process::Server::start(dir.path(), &[]);
    let days: Vec<String> = (8..=19).map(|d| format!("2026-01-{d:02}")).collect();
    let (started, four_ran) = std::sync::mpsc::channel::<()>();
    let (promoted, promotion_done) = std::sync::mpsc::channel::<()>();
    let (requests, server_ref) = (&days, &server);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for (i, day) in requests.iter().enumerate() {
                if i == 4 {
                    started.send(()).unwrap();
                }
                if i == 8 {
                    promotion_done.recv().unwrap();
                }
                let run = server_ref.process("VersionedProcessor", day);
                assert_eq!(run["status"], "success", "{run}");
            }
        });
        four_ran.recv().unwrap();
        succeed(dir.path(), &["promote", "VersionedProcessor"]);
        promoted.send(()).unwrap();
    });
    let hashes = |processor: &str| -> std::collections::HashMap<String, String> {
        let runs: Json = serde_json::from_str(&succeed(
            dir.path(),
            &[
                "runs",
                "--json",
                "--limit",
                "1000",
                "--processor",
                processor,
            ],
        ))
        .unwrap();
        runs.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["data_date"].as_str().unwrap().to_string(),
                    r["plugin_hash"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let (live, shadow) = (
        hashes("VersionedProcessor"),
        hashes("VersionedProcessor~shadow"),
    );
    let v1 = slate::plugin::content_hash(&std::fs::read(components::VERSIONED_V1).unwrap());
    let v2 = slate::plugin::content_hash(&std::fs::read(components::VERSIONED_V2).unwrap());
    for (i, day) in days.iter().enumerate() {
        let state = (live[day].as_str(), shadow.get(day).map(String::as_str));
        // Old and its shadow, or new alone: never the new version twice.
        assert!(
            state == (v1.as_str(), Some(v2.as_str())) || state == (v2.as_str(), None),
            "{day}: {state:?}"
        );
        if i < 4 {
            assert_eq!(state.0, v1, "{day} ran before the promotion");
        }
        if i >= 8 {
            assert_eq!(state, (v2.as_str(), None), "{day} ran after the promotion");
        }
    }
}

/// A server that makes the shadow's own version active itself (a deploy
/// or rollback to it over HTTP) stops running it as a shadow, as the
/// registry records. Before, the server's pipeline kept the shadow until
/// a restart: every run of the processor ran the same version twice, the
/// second time into a shadow table no listing showed.
#[test]
fn a_server_that_makes_the_shadows_version_active_runs_it_once() {
    let dir = with_v1_run();
    succeed(
        dir.path(),
        &["deploy", "--shadow", components::VERSIONED_V2],
    );
    let server = crate::serve_process::Server::start(dir.path(), &[]);
    let before = server.process("VersionedProcessor", "2026-01-08");
    assert_eq!(before["status"], "success", "{before}");
    let v2 = std::fs::read(components::VERSIONED_V2).unwrap();
    let (status, deployed) = server.put_component("VersionedProcessor", &v2);
    assert_eq!(status, 200, "{deployed}");
    let (_, plugins) = server.get("/plugins");
    assert_eq!(
        listed_plugin(&plugins, "VersionedProcessor")["shadow"],
        Json::Null
    );
    let after = server.process("VersionedProcessor", "2026-01-09");
    assert_eq!(after["status"], "success", "{after}");
    let (status, shadow_runs) = server.get("/runs?processor=VersionedProcessor~shadow");
    assert_eq!(status, 200, "{shadow_runs}");
    let dates: Vec<&str> = (shadow_runs.as_array().unwrap().iter())
        .map(|run| run["data_date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2026-01-08"], "the version ran twice on the 9th");
}

#[test]
fn a_shadow_runs_under_its_live_processors_limits() {
    let dir = with_v1_run();
    // v1 writes two rows, v2 three: a limit of two rows holds v2 alone.
    std::fs::write(
        dir.path().join("slate.toml"),
        "[limits.processors.VersionedProcessor]\nmax_output_rows = 2\n",
    )
    .unwrap();
    succeed(
        dir.path(),
        &["deploy", "--shadow", components::VERSIONED_V2],
    );
    let run = ["run", "--date", DAY, "--processors", "VersionedProcessor"];
    succeed(dir.path(), &run);
    assert_eq!(
        latest_run(dir.path(), "VersionedProcessor")["status"],
        "success"
    );
    let shadow = latest_run(dir.path(), "VersionedProcessor~shadow");
    assert_eq!(
        (
            shadow["error_kind"].as_str(),
            &shadow["limit_value"],
            &shadow["observed_value"]
        ),
        (Some("limit_output"), &json!(2), &json!(3)),
        "{shadow}"
    );
}

/// A shadow replaced by another version takes its table with it, as a
/// dropped one does: before, the table stayed, owned by the shadow, which
/// nothing could diff, promote or drop any more but `slate shadow drop`.
#[test]
fn a_replaced_shadows_table_is_dropped_and_the_new_shadow_writes_its_own() {
    use slate::store::Tables;

    let dir = with_v2_shadow_run();
    let v2 = latest_run(dir.path(), "VersionedProcessor~shadow");
    let v2_table = slate::shadow::shadow_table(&versioned(), v2["plugin_hash"].as_str().unwrap());
    let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    assert!(store.table_schema(&v2_table).unwrap().is_some());

    let replaced = succeed(
        dir.path(),
        &["deploy", "--shadow", components::VERSIONED_V4_PANICS],
    );
    assert_contains(
        &replaced,
        &format!("dropped {v2_table}, the table of the shadow it replaced"),
    );
    let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    assert!(store.table_schema(&v2_table).unwrap().is_none());
    let tables = succeed(dir.path(), &["tables"]);
    assert!(!tables.contains(&v2_table.to_string()), "{tables}");
}

/// A replay stops once its version is no longer the shadow (another
/// process dropped, promoted or replaced it): before, `slate shadow run`
/// went on writing the table of a shadow nobody had any more, and made it
/// again after the drop had dropped it.
#[test]
fn a_replay_runs_no_further_date_once_its_version_stopped_being_the_shadow() {
    use slate::executor::Executor;
    use slate::liveness::LeaseConfig;
    use slate::pipeline::Pipeline;
    use slate::plugin::{RunLimits, Runtime};
    use slate::runs::Trigger;
    use slate::store::RunLedger;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(EmbeddedStore::open(&dir.path().join("slate.db")).unwrap());
    let runtime = Runtime::new(Some(&crate::support::shared_compiled_cache())).unwrap();
    let load = |path: &str| runtime.load(&std::fs::read(path).unwrap()).unwrap();
    let executor = Executor::new(
        store.clone(),
        "shadow-replay-host",
        RunLimits::default(),
        LeaseConfig::default(),
    )
    .unwrap();
    let pipeline = Pipeline::new(vec![load(components::VERSIONED_V1)])
        .unwrap()
        .with_shadows(vec![load(components::VERSIONED_V2)]);
    let live = pipeline.plugin("VersionedProcessor").unwrap();
    let days = [date("2026-01-05"), date("2026-01-06"), date("2026-01-07")];
    for day in days {
        executor.execute(live, day, Trigger::Cli).unwrap();
    }
    let shadow_hash = pipeline.shadow("VersionedProcessor").unwrap().hash.clone();
    let asked = AtomicUsize::new(0);
    let replayed = slate::shadow::replay(
        &executor,
        &pipeline,
        "VersionedProcessor",
        (days[0], days[2]),
        1,
        &|_| {},
        // Dropped after the first date ran.
        &|hash| {
            assert_eq!(hash, shadow_hash);
            asked.fetch_add(1, Ordering::SeqCst) == 0
        },
    )
    .unwrap();
    let ran: Vec<_> = replayed.outcomes.iter().map(|o| o.date).collect();
    assert_eq!(ran, [days[0]], "{replayed:?}");
    assert_eq!(replayed.not_run, [days[1], days[2]]);
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "not asked again once stopped"
    );
    let shadow_runs = store
        .runs(&slate::runs::RunFilter {
            processor: Some(slate::shadow::shadow_name("VersionedProcessor")),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(shadow_runs.len(), 1, "{shadow_runs:?}");
}

/// On BigQuery, which keeps no key for a processor's table, `diff` matches
/// rows by the processor's declared key, as on the embedded store. It
/// matched them by date alone: every row of a date was one row, and a
/// shadow that changed every row showed one change.
#[test]
fn a_replayed_shadow_reads_no_further_back_than_its_lookback() {
    // On the season's first day the daily cache reads nothing, and its
    // live run succeeds.
    let host = crate::support::TestHost::with_demo_season();
    let pipeline = host.bundled_pipeline(&["player-game-summary", "player-daily-cache"]);
    let opening = date("2025-10-01");
    let all = pipeline.select(&[]).unwrap();
    let ran = pipeline
        .run_date(&host.executor, opening, &all, slate::runs::Trigger::Cli)
        .unwrap();
    assert!(
        ran.records
            .iter()
            .all(|r| r.status == slate::runs::RunStatus::Success),
        "{:?}",
        ran.records
    );
    // A shadow declaring the same reads (the summaries over the season),
    // whose component reads the summaries from the day before, the last
    // day of the season before. The replay takes the live run's recorded
    // check, which keeps no read window.
    let cache = pipeline.plugin("PlayerDailyCacheProcessor").unwrap();
    let mut reader = host.fixture(components::HOSTILE_PAST_READ);
    let mut declared = (*reader.spec).clone();
    declared.name = cache.spec.name.clone();
    (declared.upstream, declared.lookback, declared.season) = (
        cache.spec.upstream.clone(),
        cache.spec.lookback,
        cache.spec.season.clone(),
    );
    (reader.spec, reader.hash) = (std::sync::Arc::new(declared), "reads-back".into());
    let pipeline = pipeline.with_shadows(vec![reader]);

    let replayed = slate::shadow::replay(
        &host.executor,
        &pipeline,
        "PlayerDailyCacheProcessor",
        (opening, opening),
        1,
        &|_| {},
        &|_| true,
    )
    .unwrap();
    assert_eq!(replayed.outcomes.len(), 1, "{replayed:?}");
    let shadow_runs = host
        .store
        .runs(&slate::runs::RunFilter {
            processor: Some(slate::shadow::shadow_name("PlayerDailyCacheProcessor")),
            ..slate::runs::RunFilter::default()
        })
        .unwrap();
    let [shadow_run] = shadow_runs.as_slice() else {
        panic!("one shadow run: {shadow_runs:?}");
    };
    assert_contains(
        &crate::support::failure_message(shadow_run, slate::runs::ErrorKind::Plugin),
        "may not read nba_analytics.player_game_summary from 2025-09-30: its lookback for \
         PlayerGameSummaryProcessor (the season from 10-01) starts at 2025-10-01",
    );
}

#[test]
fn on_bigquery_a_diff_matches_rows_by_the_declared_key_not_the_date_alone() {
    use slate::executor::Executor;
    use slate::liveness::LeaseConfig;
    use slate::pipeline::Pipeline;
    use slate::plugin::{RunLimits, Runtime};
    use slate::runs::Trigger;
    use slate::store::Store;

    let dir = tempfile::tempdir().unwrap();
    let config = crate::emulator::isolated_config();
    let connect = || -> std::sync::Arc<dyn Store> {
        std::sync::Arc::new(slate::store::BigQueryStore::connect(&config).unwrap())
    };
    let store = connect();
    let runtime = Runtime::new(Some(&dir.path().join("compiled"))).unwrap();
    let load = |path: &str| runtime.load(&std::fs::read(path).unwrap()).unwrap();
    let executor = Executor::new(
        store.clone(),
        "shadow-bigquery-host",
        RunLimits::default(),
        LeaseConfig::default(),
    )
    .unwrap();
    let since = chrono::Utc::now();
    let pipeline = Pipeline::new(vec![load(components::VERSIONED_V1)])
        .unwrap()
        .with_shadows(vec![load(components::VERSIONED_V2)]);
    let day = date(DAY);
    let live = pipeline.plugin("VersionedProcessor").unwrap();
    let ran = executor.execute(live, day, Trigger::Cli).unwrap();
    assert_eq!(ran.rows_written, 2, "{ran:?}");
    let replayed = slate::shadow::replay(
        &executor,
        &pipeline,
        "VersionedProcessor",
        (day, day),
        1,
        &|_| {},
        &|_| true,
    )
    .unwrap();
    assert_eq!(replayed.outcomes.len(), 1, "{replayed:?}");

    // As `slate diff` does, from a process that wrote nothing: its store
    // knows the tables only as BigQuery keeps them.
    let compared = slate::shadow::compare(
        connect().as_ref(),
        &pipeline,
        "VersionedProcessor",
        None,
        since,
    )
    .unwrap();
    // v1 wrote rows 0 and 1 labelled v1; v2 rows 0 to 2 labelled v2.
    let diff = &compared.diff;
    assert_eq!(
        (
            diff.live_rows,
            diff.new_rows,
            diff.changed,
            diff.only_in_new,
            diff.unchanged
        ),
        (2, 3, 2, 1, 0),
        "{diff:#?}"
    );
}
