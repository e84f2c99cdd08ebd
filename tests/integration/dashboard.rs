//! The dashboard's data at the HTTP level, without a browser: `/api/grid`
//! (the grid on the demo season, its default range, bad queries),
//! `/api/runs/{id}` (run detail), `/events` (server-sent run changes), the
//! embedded page and its assets, and `/plugins/{name}/history`.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value as Json, json};
use tower::ServiceExt;

use slate::plugin::content_hash;

use crate::serve::{Served, authorized};
use crate::serve_process::{Server, agent};
use crate::support::{assert_contains, components, date, demo_data_dir, season};

/// Every grid cell of `processor`, by date.
fn row<'a>(grid: &'a Json, processor: &str) -> &'a Vec<Json> {
    grid["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|phase| phase["rows"].as_array().unwrap())
        .find(|row| row["processor"] == processor)
        .unwrap_or_else(|| panic!("no row for {processor}: {grid}"))["cells"]
        .as_array()
        .unwrap()
}

/// Every processor's cell on `day`.
fn column(grid: &Json, day: &str) -> Vec<(String, Json)> {
    grid["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|phase| phase["rows"].as_array().unwrap())
        .map(|row| {
            let cell = row["cells"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["date"] == day)
                .unwrap_or_else(|| panic!("no cell on {day}"))
                .clone();
            (row["processor"].as_str().unwrap().to_string(), cell)
        })
        .collect()
}

/// The demo season, run from 2026-01-05 to 2026-01-07, served.
fn served_demo() -> (tempfile::TempDir, Server) {
    let dir = demo_data_dir("2026-01-05", "2026-01-07");
    let server = Server::start(dir.path(), &[]);
    (dir, server)
}

#[test]
fn the_grid_shows_each_processors_latest_run_per_date_grouped_by_phase() {
    let (_dir, server) = served_demo();
    let (status, grid) = server.get("/api/grid?from=2026-01-05&to=2026-01-08");
    assert_eq!(status, 200, "{grid}");
    assert_eq!(grid["from"], "2026-01-05");
    assert_eq!(grid["to"], "2026-01-08");
    let phases: Vec<&Json> = grid["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["phase"])
        .collect();
    assert_eq!(phases, [&json!(3), &json!(4), &json!(5)]);
    let names: Vec<&str> = grid["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["rows"].as_array().unwrap())
        .map(|r| r["processor"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 9, "{names:?}");
    assert_eq!(names.last(), Some(&"PointsPredictionProcessor"));
    let position = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(position("PlayerCompositeFactorsProcessor") < position("MLFeatureStoreProcessor"));

    // Every column has its games; the missing box scores fail phase 3 and
    // block everything downstream.
    for d in &grid["dates"].as_array().unwrap()[..] {
        let day = date(d["date"].as_str().unwrap());
        let games = season()
            .schedule
            .iter()
            .filter(|g| g.game_date == day)
            .count();
        assert_eq!(d["games"], games, "{d}");
    }
    for (processor, cell) in column(&grid, "2026-01-06") {
        let status = cell["status"].as_str().unwrap();
        assert!(
            status == "failed" || status == "blocked",
            "{processor} on 2026-01-06 is {status}"
        );
        assert!(cell["run_id"].is_string());
        if processor == "PlayerGameSummaryProcessor" {
            assert_eq!(status, "failed");
            assert_eq!(cell["error_kind"], "plugin");
        }
        if processor == "PointsPredictionProcessor" {
            assert_eq!(
                (status, &cell["error_kind"]),
                ("blocked", &json!("upstream"))
            );
        }
    }
    for (processor, cell) in column(&grid, "2026-01-05") {
        assert_eq!(cell["status"], "success", "{processor}: {cell}");
        assert_eq!(cell["attempt"], 1);
    }
    // 2026-01-08 has games and no run.
    for (_, cell) in column(&grid, "2026-01-08") {
        assert_eq!(cell["status"], "scheduled", "{cell}");
        assert_eq!(cell["run_id"], Json::Null);
    }

    // Christmas Eve has no games: its cells are "not run", not "scheduled".
    let (_, holiday) = server.get("/api/grid?from=2025-12-23&to=2025-12-25");
    assert_eq!(
        holiday["dates"][1],
        json!({"date": "2025-12-24", "games": 0})
    );
    assert!(holiday["dates"][0]["games"].as_u64().unwrap() > 0);
    let cells = row(&holiday, "PlayerGameSummaryProcessor");
    assert_eq!(cells[1]["status"], "not_run");
    assert_eq!(cells[0]["status"], "scheduled");
}

#[test]
fn without_a_range_the_grid_shows_the_last_thirty_scheduled_dates_up_to_the_latest_run() {
    let (_dir, server) = served_demo();
    let (status, grid) = server.get("/api/grid");
    assert_eq!(status, 200, "{grid}");
    assert_eq!(grid["to"], "2026-01-07");
    let scheduled = grid["dates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["games"].as_u64().unwrap() > 0)
        .count();
    assert_eq!(scheduled, 30, "{}", grid["dates"]);
    assert!(
        grid["dates"][0]["games"].as_u64().unwrap() > 0,
        "starts on a game date"
    );
}

#[test]
fn run_detail_shows_the_error_attempts_upstream_runs_and_quarantined_rows() {
    let (_dir, server) = served_demo();
    let (_, grid) = server.get("/api/grid?from=2026-01-06&to=2026-01-06");
    let failed_id = row(&grid, "PlayerGameSummaryProcessor")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, detail) = server.get(&format!("/api/runs/{failed_id}"));
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["run"]["status"], "failed");
    assert_contains(
        detail["run"]["error_message"].as_str().unwrap(),
        "no box scores for 7 of 7 scheduled games on 2026-01-06",
    );
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(detail["plugin"]["active"], true);
    assert!(detail["plugin"]["version"].is_string(), "{detail}");
    assert_eq!(detail["upstream"], json!([]), "phase 3 reads raw tables");
    assert_eq!(detail["quarantined"], json!([]));

    // A blocked run lists the upstream runs it found: the failed one.
    let blocked_id = row(&grid, "PlayerDailyCacheProcessor")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, blocked) = server.get(&format!("/api/runs/{blocked_id}"));
    assert_eq!(blocked["run"]["status"], "blocked");
    assert_eq!(
        blocked["upstream"][0]["processor"],
        "PlayerGameSummaryProcessor"
    );
    assert_eq!(blocked["upstream"][0]["run_id"], failed_id.as_str());
    assert_eq!(blocked["upstream"][0]["status"], "failed");
    assert_eq!(blocked["upstream"][0]["safe_to_process"], false);
    assert_contains(
        blocked["upstream"][0]["reason"].as_str().unwrap(),
        &format!("upstream PlayerGameSummaryProcessor is failed for 2026-01-06 (run {failed_id})"),
    );
    assert_contains(
        blocked["upstream_note"].as_str().unwrap(),
        "recorded with this run",
    );

    // A second attempt is listed with the first, newest first.
    let rerun = server.process("PlayerGameSummaryProcessor", "2026-01-06");
    let (_, again) = server.get(&format!("/api/runs/{}", rerun["run_id"].as_str().unwrap()));
    let attempts: Vec<&Json> = again["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["attempt"])
        .collect();
    assert_eq!(attempts, [&json!(2), &json!(1)]);

    let (status, missing) = server.get("/api/runs/no-such-run");
    assert_eq!(status, 404);
    assert_eq!(missing["field"], "id");
}

/// A server on the demo's first days with `component` in its plugin
/// folder, which has run `processor` on `day` successfully: its folders
/// (kept while it serves), the server and the run's entry.
fn served_run(
    component: &str,
    processor: &str,
    day: &str,
) -> ([tempfile::TempDir; 2], Server, Json) {
    let dir = demo_data_dir("2026-01-05", "2026-01-05");
    let plugins = crate::support::plugin_dir(&[component]);
    let server = Server::start(
        dir.path(),
        &["--plugin-dir", plugins.path().to_str().unwrap()],
    );
    let ended = server.process(processor, day);
    assert_eq!(ended["status"], "success", "{ended}");
    ([dir, plugins], server, ended)
}

/// A run may set aside up to its output limit of rows. Its detail carries
/// the first hundred and the count, and the grid has the store count them.
/// Before, every row went into every detail: 85 MB for a run of 100,000,
/// to anyone who could read the server.
#[test]
fn a_runs_detail_carries_its_first_hundred_quarantined_rows_and_counts_them_all() {
    let (_folders, server, ended) = served_run(
        components::ONE_BAD_ROW_QUARANTINED,
        "OneBadRowQuarantined",
        "2026-01-20",
    );

    let (status, detail) = server.get(&format!("/api/runs/{}", ended["run_id"].as_str().unwrap()));

    assert_eq!(status, 200, "{detail}");
    let shown = detail["quarantined"].as_array().unwrap();
    assert_eq!(shown.len(), 100);
    assert_eq!(shown[0]["row_index"], 1, "the first rows set aside");
    assert_eq!(detail["quarantined_total"], 198);
    let (_, grid) = server.get("/api/grid?from=2026-01-20&to=2026-01-20");
    assert_eq!(
        row(&grid, "OneBadRowQuarantined")[0]["rows_quarantined"],
        198
    );
}

/// JSON escapes only U+0000 to U+001F: a processor's C1 controls and
/// bidirectional overrides in a quarantined value reached a terminal that
/// `curl`ed the run's detail raw. Every JSON answer escapes them as JSON
/// does, and stays the same JSON.
#[test]
fn a_json_answer_quoting_a_processors_controls_is_safe_to_print_and_the_same_json() {
    let (_folders, server, ended) = served_run(
        components::HOSTILE_TERMINAL_ESCAPE,
        "TerminalEscape",
        "2026-01-12",
    );

    let url = server.url(&format!("/api/runs/{}", ended["run_id"].as_str().unwrap()));
    let mut response = agent().get(url).call().unwrap();
    let text = response.body_mut().read_to_string().unwrap();

    assert!(
        !text.contains(|c| slate::printable::is_unprintable(c) && c != '\n'),
        "{text}"
    );
    assert_contains(&text, r"\u009b2J\u202e");
    let detail: Json = serde_json::from_str(&text).unwrap();
    assert_contains(
        detail["quarantined"][0]["raw_row"]["n"].as_str().unwrap(),
        "\u{9b}2J\u{202e}desrever",
    );
}

#[test]
fn a_run_that_went_ahead_shows_the_upstream_runs_it_relied_on_and_its_lookback_gaps() {
    let (_dir, server) = served_demo();
    let (_, grid) = server.get("/api/grid?from=2026-01-07&to=2026-01-07");
    let cells = column(&grid, "2026-01-07");
    let run_of = |processor: &str| {
        let (_, cell) = cells.iter().find(|(name, _)| name == processor).unwrap();
        cell["run_id"].as_str().unwrap().to_string()
    };
    // The day after the planted missing date, the processors that look
    // back over it ran with a gap, and their cells (and those of the
    // processors that carry their issues on) say their rows carry it.
    let marked: Vec<&(String, Json)> = cells
        .iter()
        .filter(|(_, cell)| cell["rows_with_quality_issues"].as_i64().unwrap() > 0)
        .collect();
    assert!(
        !marked.is_empty(),
        "no cell marks quality issues: {cells:?}"
    );
    for (processor, cell) in marked {
        assert_eq!(cell["status"], "success", "{processor}: {cell}");
        let (status, detail) =
            server.get(&format!("/api/runs/{}", cell["run_id"].as_str().unwrap()));
        assert_eq!(status, 200, "{detail}");
        assert_eq!(
            detail["run"]["rows_with_quality_issues"], cell["rows_with_quality_issues"],
            "{processor}"
        );
        assert_contains(
            detail["upstream_note"].as_str().unwrap(),
            "recorded with this run",
        );
        let upstream = detail["upstream"].as_array().unwrap();
        assert!(!upstream.is_empty(), "{processor}: {detail}");
        for checked in upstream {
            let name = checked["processor"].as_str().unwrap();
            assert_eq!(
                checked["run_id"],
                run_of(name).as_str(),
                "{processor} on {name}"
            );
            assert_eq!(checked["status"], "success", "{processor} on {name}");
            assert_eq!(checked["safe_to_process"], true, "{processor} on {name}");
            assert!(checked["started_at"].is_string(), "{checked}");
            assert_contains(checked["reason"].as_str().unwrap(), &run_of(name));
        }
    }
    // PlayerCompositeFactors looks back over the missing date itself.
    let (_, factors) = server.get(&format!(
        "/api/runs/{}",
        run_of("PlayerCompositeFactorsProcessor")
    ));
    let gaps = factors["lookback_gaps"].as_array().unwrap();
    assert!(
        gaps.iter()
            .any(|gap| gap["date"] == "2026-01-06"
                && gap["upstream"] == "PlayerGameSummaryProcessor"),
        "{factors}"
    );
    assert!(factors["run"]["rows_with_quality_issues"].as_i64().unwrap() > 0);
    // A processor with no lookback gap has a check with no gaps, and no mark.
    let (_, clean) = server.get(&format!(
        "/api/runs/{}",
        run_of("PlayerGameSummaryProcessor")
    ));
    assert_eq!(clean["lookback_gaps"], json!([]));
    assert_eq!(clean["run"]["rows_with_quality_issues"], 0);
}

/// Reads server-sent events from `/events` on a thread: (event, data) pairs.
fn subscribe(server: &Server) -> mpsc::Receiver<(String, String)> {
    let response = agent()
        .get(server.url("/events"))
        .call()
        .expect("GET /events");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let reader = BufReader::new(response.into_body().into_reader());
        let (mut event, mut data) = (String::new(), String::new());
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if let Some(name) = line.strip_prefix("event:") {
                event = name.trim().to_string();
            } else if let Some(text) = line.strip_prefix("data:") {
                data = text.trim().to_string();
            } else if line.is_empty()
                && !event.is_empty()
                && sender
                    .send((std::mem::take(&mut event), std::mem::take(&mut data)))
                    .is_err()
            {
                return;
            }
        }
    });
    receiver
}

#[test]
fn events_push_every_run_as_it_starts_and_ends_after_a_resync() {
    let (_dir, server) = served_demo();
    let events = subscribe(&server);
    let next = || {
        events
            .recv_timeout(Duration::from_secs(60))
            .expect("an event within a minute")
    };
    let (first, _) = next();
    assert_eq!(first, "resync", "a (re)connected client re-reads the grid");

    let ended = server.process("PlayerGameSummaryProcessor", "2026-01-05");
    let (kind, started) = next();
    assert_eq!(kind, "run");
    let started: Json = serde_json::from_str(&started).unwrap();
    assert_eq!(started["status"], "running");
    assert_eq!(started["processor"], "PlayerGameSummaryProcessor");
    assert_eq!(started["date"], "2026-01-05");
    assert_eq!(started["attempt"], 2);
    assert_eq!(started["run_id"], ended["run_id"]);
    let (kind, finished) = next();
    assert_eq!(kind, "run");
    let finished: Json = serde_json::from_str(&finished).unwrap();
    assert_eq!(finished["status"], "success");
    assert_eq!(finished["run_id"], ended["run_id"]);
    assert_eq!(finished["rows_written"], ended["rows"]);
}

/// The runs another process makes on the same store (here `slate run` on
/// the server's data folder) reach the stream too, read from the run
/// ledger, each change once. Before, only the server's own runs did, and
/// the live grid missed every CLI run and every other host's.
#[test]
fn events_push_the_runs_another_process_makes_on_the_same_store() {
    let (dir, server) = served_demo();
    let events = subscribe(&server);
    let (first, _) = events.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(first, "resync");

    run_summaries_from_another_process(dir.path());
    let store = slate::store::EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    let made = slate::store::RunLedger::runs(
        &store,
        &slate::runs::RunFilter {
            date: Some(date("2026-01-07")),
            processor: Some("PlayerGameSummaryProcessor".into()),
            limit: Some(1),
            ..Default::default()
        },
    )
    .unwrap()
    .remove(0);

    let mut changes = Vec::new();
    while let Ok((kind, data)) = events.recv_timeout(Duration::from_secs(5)) {
        let change: Json = serde_json::from_str(&data).unwrap_or(Json::Null);
        if kind == "run" && change["run_id"] == made.run_id.as_str() {
            changes.push(change);
        }
    }
    // Its start too, when a read of the ledger fell between start and end.
    let statuses: Vec<&Json> = changes.iter().map(|c| &c["status"]).collect();
    assert!(
        statuses == [&json!("success")] || statuses == [&json!("running"), &json!("success")],
        "{changes:#?}"
    );
    let changes = &changes[changes.len() - 1..];
    assert_eq!(changes[0]["processor"], "PlayerGameSummaryProcessor");
    assert_eq!(changes[0]["date"], "2026-01-07");
    assert_eq!(changes[0]["rows_written"], made.rows_written);
}

/// A client that connects is not sent again the runs other processes
/// ended before it did: it reads those in the grid. Before, the first read
/// of the ledger looked five seconds back, and a server started right
/// after `slate demo` pushed every demo run to its first client.
#[test]
fn events_do_not_replay_to_a_new_client_what_ended_before_it_connected() {
    let (dir, server) = served_demo();
    run_summaries_from_another_process(dir.path());

    let events = subscribe(&server);
    let mut runs = Vec::new();
    while let Ok((kind, data)) = events.recv_timeout(Duration::from_secs(3)) {
        if kind == "run" {
            runs.push(data);
        }
    }
    assert!(runs.is_empty(), "{runs:#?}");
}

/// Runs PlayerGameSummaryProcessor for 2026-01-07 with `slate run`, a
/// process of its own, on the data folder `dir`.
fn run_summaries_from_another_process(dir: &std::path::Path) {
    let run = crate::support::slate(
        dir,
        &[
            "run",
            "--date",
            "2026-01-07",
            "--processors",
            "PlayerGameSummaryProcessor",
        ],
    );
    assert!(run.status.success(), "{}", crate::support::stderr(&run));
}

/// A run another host left `running`, reaped by this server once its lease
/// expired, ends on the stream as any run does: failed, kind `stale`.
/// Before, reaped runs never reached the observers that feed `/events`,
/// and the live grid showed them running until a reload.
#[test]
fn events_push_a_run_the_server_reaps_as_failed_stale() {
    use slate::runs::{NewRun, Trigger};
    use slate::store::{EmbeddedStore, RunLedger};

    let dir = demo_data_dir("2026-01-05", "2026-01-05");
    let server = Server::start(
        dir.path(),
        &["--heartbeat-secs", "0.2", "--lease-secs", "1"],
    );
    let events = subscribe(&server);
    let (first, _) = events.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(first, "resync");

    let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    let abandoned = store
        .start_run(&NewRun {
            processor: "PlayerGameSummaryProcessor".into(),
            phase: slate::phase::Phase::Analytics,
            data_date: date("2026-01-06"),
            host_id: "another-machine:4242".into(),
            plugin_hash: "abandoned".into(),
            trigger: Trigger::Cli,
            lease: Duration::from_millis(300),
        })
        .unwrap();
    // Its start may come first, read from the ledger (another process
    // made it); its end comes once, though both this server's reaper and
    // the ledger report it.
    let mut statuses = Vec::new();
    let reaped = loop {
        let (kind, data) = events
            .recv_timeout(Duration::from_secs(30))
            .expect("the reaped run on the stream");
        let change: Json = serde_json::from_str(&data).unwrap_or(Json::Null);
        if kind == "run" && change["run_id"] == abandoned.run_id.as_str() {
            statuses.push(change["status"].clone());
            if change["status"] != "running" {
                break change;
            }
        }
    };
    while let Ok((kind, data)) = events.recv_timeout(Duration::from_secs(3)) {
        let change: Json = serde_json::from_str(&data).unwrap_or(Json::Null);
        if kind == "run" && change["run_id"] == abandoned.run_id.as_str() {
            statuses.push(change["status"].clone());
        }
    }
    assert!(
        statuses == [json!("failed")] || statuses == [json!("running"), json!("failed")],
        "{statuses:?}"
    );
    assert_eq!(reaped["status"], "failed", "{reaped}");
    assert_eq!(reaped["error_kind"], "stale", "{reaped}");
    assert_eq!(reaped["processor"], "PlayerGameSummaryProcessor");
}

/// Sends one GET to a router with no socket.
async fn get(served: &Served, uri: &str) -> (StatusCode, Json, String) {
    let response = served
        .router()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body, content_type)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_grid_query_is_a_400_naming_the_parameter_and_its_value() {
    let served = Served::new();
    let cases = [
        ("/api/grid?from=2026-1-5&to=2026-01-10", "from", "2026-1-5"),
        ("/api/grid?from=2026-01-05&to=tomorrow", "to", "tomorrow"),
        (
            "/api/grid?from=2026-02-30&to=2026-03-01",
            "from",
            "2026-02-30",
        ),
        (
            "/api/grid?from=2026-01-10&to=2026-01-05",
            "from",
            "2026-01-10",
        ),
        (
            "/api/grid?from=2025-01-01&to=2026-12-31",
            "to",
            "at most 400",
        ),
        ("/api/grid?from=2026-01-05", "to", "needs `to`"),
        ("/api/grid?to=2026-01-05", "from", "needs `from`"),
        ("/api/grid?form=2026-01-05", "form", "unknown parameter"),
        // A repeated parameter is refused, not read as its last value.
        (
            "/api/grid?from=2026-01-05&to=2026-01-06&from=2026-01-01",
            "from",
            "given more than once",
        ),
        // Bytes that are no text are refused, not read as U+FFFD.
        (
            "/api/grid?from=2026-01-05&to=2026-01-0%FF",
            "to",
            "`to=2026-01-0%FF` is not UTF-8 text",
        ),
        ("/api/grid?%C3=2026-01-05", "%C3", "is not UTF-8 text"),
    ];
    for (uri, field, named) in cases {
        let (status, body, _) = get(&served, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["field"], field, "{uri}: {body}");
        assert_contains(body["error"].as_str().unwrap(), named);
    }
    let (status, grid, _) = get(&served, "/api/grid?from=2026-01-05&to=2026-01-05").await;
    assert_eq!(status, StatusCode::OK, "{grid}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_and_its_assets_are_embedded_and_open_while_protected_reads_need_the_token() {
    let served = Served::protecting_reads();
    let (status, page, content_type) = get(&served, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/html; charset=utf-8");
    let page = page.as_str().unwrap();
    assert_contains(
        page,
        "<script src=\"/printable.js\"></script>\n<script src=\"/dashboard.js\"></script>",
    );
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no CDN"
    );
    let (status, script, content_type) = get(&served, "/dashboard.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/javascript; charset=utf-8");
    assert_contains(script.as_str().unwrap(), "sessionStorage");
    let (status, escape, _) = get(&served, "/printable.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_contains(
        escape.as_str().unwrap(),
        &format!(
            "const UNPRINTABLE = /{}/gu;",
            slate::printable::javascript_pattern()
        ),
    );
    let (status, _, content_type) = get(&served, "/dashboard.css").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "text/css; charset=utf-8")
    );

    for data in ["/api/grid", "/api/runs/x", "/events", "/plugins/P/history"] {
        let (status, body, _) = get(&served, data).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{data}: {body}");
    }
}

/// The page shows text processors wrote, escaped by its script; should an
/// escape ever slip, its policy still runs no script but its own, and no
/// other site may frame it or have an asset read as another type.
#[tokio::test(flavor = "multi_thread")]
async fn the_page_and_its_assets_run_no_script_but_their_own_and_are_never_framed() {
    let served = Served::new();
    for path in ["/", "/printable.js", "/dashboard.js", "/dashboard.css"] {
        let response = served
            .router()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_string();
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        let policy = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert_contains(&policy, directive);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plugin_history_lists_deployments_and_names_an_unknown_processor() {
    let served = Served::new();
    let (status, history, _) = get(&served, "/plugins/PlayerGameSummaryProcessor/history").await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(
        history,
        json!([]),
        "never deployed: the bundled version runs"
    );

    let component = std::fs::read(components::VERSIONED_V1).expect("the fixture was built");
    let deploy = authorized(
        Request::put("/plugins/VersionedProcessor"),
        "application/wasm",
        component.clone(),
    );
    let deployed = served.router().oneshot(deploy).await.unwrap();
    assert_eq!(deployed.status(), StatusCode::OK);
    let (status, history, _) = get(&served, "/plugins/VersionedProcessor/history").await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history[0]["hash"], content_hash(&component));
    assert_eq!(history[0]["active"], true);
    assert_eq!(history[0]["action"], "deploy");
    let (status, unknown, _) = get(&served, "/plugins/NoSuchProcessor/history").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(unknown["field"], "name");
}
