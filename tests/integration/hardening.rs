//! `slate serve` against clients that misbehave, on real sockets and a real
//! process: clients that hang up mid-request, half-sent headers, idle
//! keep-alive connections, bodies that end early, more connections than
//! the server serves, and kill -9 with runs in flight.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value as Json, json};
use slate::runs::{ErrorKind, RunFilter, RunStatus};
use slate::store::{EmbeddedStore, RunLedger, Store};

use crate::serve_process::{Server, TOKEN, slow_processor_folders};
use crate::support::{assert_contains, date, demo_data_dir, runs_still_running, slate, wait_until};

/// A data folder with the demo season loaded and 2026-01-11 run, made once
/// per test binary and copied for each test.
fn demo_data() -> tempfile::TempDir {
    static TEMPLATE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, template) = TEMPLATE.get_or_init(|| {
        let dir = demo_data_dir("2026-01-11", "2026-01-11");
        let path = dir.path().to_path_buf();
        (dir, path)
    });
    let copy = tempfile::tempdir().unwrap();
    copy_dir(template, copy.path());
    copy
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            // The compiled-component cache, shared: link it again.
            let linked = std::fs::read_link(entry.path()).unwrap();
            std::os::unix::fs::symlink(linked, target).unwrap();
        } else if kind.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The `host:port` a server listens on.
fn address(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

/// A raw request with a JSON body, as bytes.
fn post_request(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads whatever the server sends until it closes, or `within` passes.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return (String::from_utf8_lossy(&received).into_owned(), true),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&received).into_owned(), true);
            }
            Err(_) => return (String::from_utf8_lossy(&received).into_owned(), false),
        }
    }
}

/// A small deterministic generator of pauses, so a failure replays.
struct Jitter(u64);

impl Jitter {
    fn millis(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

fn running(server: &Server) -> Vec<Json> {
    let (status, runs) = server.get("/runs?status=running");
    assert_eq!(status, 200, "{runs}");
    runs.as_array().cloned().unwrap_or_default()
}

#[test]
fn clients_that_hang_up_mid_request_never_strand_a_run() {
    let data = demo_data();
    let server = Server::start(data.path(), &[]);
    let mut jitter = Jitter(7);
    for i in 0..24 {
        let mut stream = TcpStream::connect(address(&server)).unwrap();
        let body = json!({
            "processors": ["PlayerGameSummaryProcessor", "TeamOffenseGameSummaryProcessor"],
            "analysis_date": format!("2026-01-{:02}", 11 + i % 4),
        })
        .to_string();
        stream
            .write_all(&post_request("/process-date", &body))
            .unwrap();
        std::thread::sleep(Duration::from_millis(jitter.millis(30)));
        drop(stream);
    }
    // Every claimed run ends on its own: none waits for a lease to expire.
    wait_until("no run is left running", || running(&server).is_empty());
    let (_, runs) = server.get("/runs?limit=1000");
    let runs = runs.as_array().unwrap();
    assert!(!runs.is_empty(), "the abandoned requests started runs");
    for run in runs {
        assert_ne!(run["error_kind"], "stale", "{run}");
        assert_eq!(run["status"], "success", "{run}");
    }
}

#[test]
fn half_sent_headers_are_cut_off_and_never_starve_other_clients() {
    let data = demo_data();
    let server = Server::start(
        data.path(),
        &["--header-timeout-secs", "2", "--max-connections", "40"],
    );
    // 30 clients send half a request line and nothing more.
    let mut slow: Vec<TcpStream> = (0..30)
        .map(|_| {
            let mut stream = TcpStream::connect(address(&server)).unwrap();
            stream.write_all(b"GET /health HTTP/1.1\r\n").unwrap();
            stream
        })
        .collect();
    // Others are answered meanwhile.
    let quick = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(1)))
        .build();
    let quick: ureq::Agent = quick.into();
    for _ in 0..10 {
        let mut answer = quick
            .get(server.url("/runs?limit=1"))
            .header("Connection", "close")
            .call()
            .expect("answered despite the slow clients");
        assert_eq!(answer.status().as_u16(), 200);
        let _ = answer.body_mut().read_to_string();
    }
    // Past the cap, a connection is answered 503 at once, never queued.
    drop(quick);
    std::thread::sleep(Duration::from_millis(100));
    let extra: Vec<TcpStream> = (0..15)
        .map(|_| TcpStream::connect(address(&server)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut refused = 0;
    for mut stream in &extra {
        stream.set_nonblocking(true).unwrap();
        let mut head = [0u8; 12];
        if stream.read(&mut head).is_ok() && &head == b"HTTP/1.1 503" {
            refused += 1;
        }
    }
    assert_eq!(
        refused, 5,
        "40 connections served, the 41st to 45th refused"
    );
    // The slow clients are cut off once the header timeout passes.
    for stream in &mut slow {
        let (_, closed) = read_until_closed(stream, Duration::from_secs(10));
        assert!(closed, "a half-sent request kept its connection");
    }
    drop(extra);
    let (status, _) = server.get("/runs?limit=1");
    assert_eq!(status, 200);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let data = demo_data();
    let server = Server::start(data.path(), &["--header-timeout-secs", "1"]);
    let mut stream = TcpStream::connect(address(&server)).unwrap();
    stream
        .write_all(b"GET /runs?limit=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buffer = [0u8; 4096];
    let first = stream.read(&mut buffer).unwrap();
    assert!(String::from_utf8_lossy(&buffer[..first]).starts_with("HTTP/1.1 200"));
    // Idle from here on: the server closes it.
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(10));
    assert!(closed, "an idle keep-alive connection stayed open");
}

#[test]
fn a_body_that_ends_early_is_a_json_400_not_a_413() {
    let data = demo_data();
    let server = Server::start(data.path(), &[]);
    let mut stream = TcpStream::connect(address(&server)).unwrap();
    let head = format!(
        "POST /process-date HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(b"{\"analysis_date\":").unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let body: Json = serde_json::from_str(body).expect("a JSON error");
    assert_eq!(body["field"], "body");
    assert!(
        body["error"].as_str().unwrap().contains("ended before"),
        "{body}"
    );
    assert!(running(&server).is_empty(), "nothing was started");
}

#[test]
fn a_body_that_never_arrives_gets_a_json_408_once_the_body_timeout_passes() {
    let data = demo_data();
    let server = Server::start(data.path(), &["--body-timeout-secs", "1"]);
    let mut stream = TcpStream::connect(address(&server)).unwrap();
    let head = format!(
        "POST /process-date HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"analysis"
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The rest never comes; the connection stays open.
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let body: Json = serde_json::from_str(body).expect("a JSON error");
    assert_eq!(body["field"], "body");
    assert!(running(&server).is_empty(), "nothing was started");
}

#[test]
fn slate_reap_reaps_the_runs_of_a_server_killed_on_this_machine() {
    let (data, plugins) = slow_processor_folders();
    let plugin_dir = plugins.path().to_str().unwrap();
    let mut server = Server::start(data.path(), &["--plugin-dir", plugin_dir]);
    let (status, answer) = server.post(
        "/process-date",
        json!({"processors": ["SlowProcessor"], "analysis_date": "2026-01-12", "async": true}),
    );
    assert_eq!(status, 202, "{answer}");
    wait_until("the slow run is running", || running(&server).len() == 1);
    server.child.kill().unwrap(); // kill -9
    server.child.wait().unwrap();

    let stale = slate(data.path(), &["runs", "--stale"]);
    let listed = String::from_utf8_lossy(&stale.stdout);
    assert_contains(&listed, "SlowProcessor");
    // The plain listing says so too, where it read `running` until reaped.
    let all = slate(data.path(), &["runs", "--processor", "SlowProcessor"]);
    assert_contains(&String::from_utf8_lossy(&all.stdout), "running (stale)");
    // A live run started since, on another machine, does not hide it from
    // `--stale --limit 1`: the limit counts stale runs, not running ones.
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    store
        .start_run(&slate::runs::NewRun {
            processor: "SlowProcessor".into(),
            phase: slate::phase::Phase::Analytics,
            data_date: date("2026-01-13"),
            host_id: "another-machine:7".into(),
            plugin_hash: "h".into(),
            trigger: slate::runs::Trigger::Cli,
            lease: Duration::from_secs(600),
        })
        .unwrap();
    let first_stale = slate(data.path(), &["runs", "--stale", "--limit", "1"]);
    assert_contains(&String::from_utf8_lossy(&first_stale.stdout), "2026-01-12");
    // A listing its limit cut says so.
    let newest = slate(data.path(), &["runs", "--limit", "1"]);
    assert_contains(
        &String::from_utf8_lossy(&newest.stderr),
        "the newest matching run is listed; more match",
    );
    let reap = slate(data.path(), &["reap"]);
    let said = String::from_utf8_lossy(&reap.stdout);
    assert_contains(&said, "1 stale run reaped");
    let runs = store
        .runs(&RunFilter {
            processor: Some("SlowProcessor".into()),
            date: Some(date("2026-01-12")),
            ..RunFilter::default()
        })
        .unwrap();
    assert_eq!(runs[0].status, RunStatus::Failed);
    assert_eq!(runs[0].error_kind, Some(ErrorKind::Stale));
}

#[test]
fn lenient_and_out_of_range_dates_are_refused_on_the_command_line() {
    let data = demo_data();
    for bad in [" 2026-01-10", "2026-1-5", "+2026-01-10", "-0001-01-01"] {
        let run = slate(data.path(), &["run", &format!("--date={bad}")]);
        assert!(!run.status.success());
        let said = String::from_utf8_lossy(&run.stderr);
        assert!(
            said.contains("expected exactly YYYY-MM-DD"),
            "{bad}: {said}"
        );
    }
    let run = slate(data.path(), &["run", "--date", "2199-01-01"]);
    assert!(!run.status.success());
    let said = String::from_utf8_lossy(&run.stderr);
    assert_contains(
        &said,
        "date 2199-01-01 is outside the range this pipeline serves, 2024-10-",
    );
}

/// Per output table and date: rows, distinct keys, and the rows the
/// latest successful run says it wrote.
fn check_no_duplicates_or_partial_dates(store: &dyn Store) {
    let processors = [
        (
            "PlayerGameSummaryProcessor",
            "nba_analytics.player_game_summary",
        ),
        (
            "TeamOffenseGameSummaryProcessor",
            "nba_analytics.team_offense_game_summary",
        ),
    ];
    for (processor, table) in processors {
        let table = slate::schema::TableName::parse(table).unwrap();
        let schema = store.table_schema(&table).unwrap().unwrap();
        for (day, rows) in store.partition_counts(&table).unwrap() {
            let read = store.read_rows(&table, day, day).unwrap();
            let keys: std::collections::BTreeSet<String> = read
                .rows
                .iter()
                .map(|row| {
                    schema
                        .key_columns
                        .iter()
                        .map(|k| {
                            let i = read.columns.iter().position(|c| c == k).unwrap();
                            slate::rows::value_json(&row[i]).to_string()
                        })
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect();
            assert_eq!(
                keys.len() as u64,
                rows,
                "duplicate keys in {table} on {day}"
            );
            let latest = store
                .runs(&RunFilter {
                    processor: Some(processor.into()),
                    date: Some(day),
                    status: Some(RunStatus::Success),
                    limit: Some(1),
                    ..RunFilter::default()
                })
                .unwrap();
            assert_eq!(
                latest[0].rows_written as u64, rows,
                "{table} on {day} holds other rows than its latest success wrote"
            );
        }
    }
}

#[test]
fn kill_9_under_concurrent_load_leaves_no_stuck_run_duplicate_or_partial_date() {
    let data = demo_data();
    let mut jitter = Jitter(42);
    for cycle in 0..5 {
        let mut server = Server::start(data.path(), &["--workers", "3"]);
        for day in 12..16 {
            let body = json!({
                "processors": ["PlayerGameSummaryProcessor", "TeamOffenseGameSummaryProcessor"],
                "analysis_date": format!("2026-01-{day}"),
                "async": true,
            });
            let (status, answer) = server.post("/process-date", body);
            assert!(
                status == 202 || status == 200,
                "cycle {cycle}: {status} {answer}"
            );
        }
        std::thread::sleep(Duration::from_millis(50 + jitter.millis(600)));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
    }
    // A restart reaps what the kills left; every date is then rerun.
    let server = Server::start(data.path(), &[]);
    assert!(
        running(&server).is_empty(),
        "a killed run survived a restart"
    );
    for day in 12..16 {
        let body = json!({
            "processors": ["PlayerGameSummaryProcessor", "TeamOffenseGameSummaryProcessor"],
            "analysis_date": format!("2026-01-{day}"),
        });
        let (status, answer) = server.post("/process-date", body);
        assert_eq!(status, 200, "{answer}");
    }
    drop(server);
    let store = EmbeddedStore::open_read_only(&data.path().join("slate.db")).unwrap();
    check_no_duplicates_or_partial_dates(&store);
    let stuck = runs_still_running(&store);
    assert!(stuck.is_empty(), "{stuck:?}");
}

#[test]
fn a_runs_start_is_taken_once_its_claim_holds_not_while_it_waits_for_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slate.db");
    let store = std::sync::Arc::new(EmbeddedStore::open(&path).unwrap());
    // Another process holds the store's write lock.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let claiming = {
        let store = store.clone();
        std::thread::spawn(move || {
            store.start_run(&slate::runs::NewRun {
                processor: "WaitingProcessor".into(),
                phase: slate::phase::Phase::Precompute,
                data_date: date("2026-01-11"),
                host_id: "waiting-host:1".into(),
                plugin_hash: "h".into(),
                trigger: slate::runs::Trigger::Cli,
                lease: Duration::from_secs(60),
            })
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let released = chrono::Utc::now();
    other.execute_batch("COMMIT").unwrap();
    let record = claiming.join().unwrap().unwrap();
    assert!(
        record.started_at >= released,
        "started at {} though the claim only held after {released}",
        record.started_at
    );
}

/// An upload takes as long as the client likes. A deploy begun before a
/// SIGTERM was made active during the drain, though a draining server
/// changes no processor (a deploy landing then could follow the rest of
/// the cluster taking its place). It is refused, 503, once its body is in,
/// and nothing is deployed.
#[test]
fn a_deploy_whose_upload_began_before_a_sigterm_is_refused_once_it_is_in() {
    let (data, plugins) = slow_processor_folders();
    let plugin_dir = plugins.path().to_str().unwrap();
    let mut server = Server::start(
        data.path(),
        &["--plugin-dir", plugin_dir, "--grace-secs", "5"],
    );
    // A run in flight keeps the drain open for its grace.
    server.start_spinning_run();
    let component = std::fs::read(crate::support::components::VERSIONED_V1).unwrap();
    let mut stream = TcpStream::connect(address(&server)).unwrap();
    let head = format!(
        "PUT /plugins/VersionedProcessor HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Type: application/wasm\r\n\
         Content-Length: {}\r\n\r\n",
        component.len()
    );
    let half = component.len() / 2;
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&component[..half]).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    server.send_sigterm();
    std::thread::sleep(Duration::from_millis(500));
    stream.write_all(&component[half..]).unwrap();

    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(server.wait_for_exit().success());
    let listed = slate(data.path(), &["plugins"]);
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains("VersionedProcessor"),
        "nothing was deployed"
    );
}

/// The status line of a raw `GET path` naming `host` in its `Host` header.
fn status_line_for_host(server: &Server, path: &str, host: &str) -> String {
    let mut stream = TcpStream::connect(address(server)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(10));
    answer.lines().next().unwrap_or_default().to_string()
}

/// On loopback, `slate serve` answers addresses, `localhost` and the names
/// `--allowed-host` lists (or `SLATE_ALLOWED_HOSTS`), and refuses any
/// other name (DNS rebinding); a name that is no host name stops it at
/// the start, as a usage error.
#[test]
fn serve_answers_only_the_host_names_it_is_reached_by() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(
        data.path(),
        &["--allowed-host", "slate.test,*.slate.internal"],
    );
    for (host, status) in [
        ("slate.test:80", "HTTP/1.1 200"),
        ("a.slate.internal", "HTTP/1.1 200"),
        ("localhost:1", "HTTP/1.1 200"),
        ("127.0.0.1", "HTTP/1.1 200"),
        ("rebound.example", "HTTP/1.1 421"),
        ("slate.internal", "HTTP/1.1 421"),
    ] {
        let line = status_line_for_host(&server, "/runs?limit=1", host);
        assert!(line.starts_with(status), "Host: {host} answered {line:?}");
    }
    drop(server);

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(data.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allowed-host",
            "http://slate.test",
        ])
        .env("SLATE_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert_contains(
        &String::from_utf8_lossy(&refused.stderr),
        "--allowed-host \"http://slate.test\": give the name alone, without a scheme",
    );
}
