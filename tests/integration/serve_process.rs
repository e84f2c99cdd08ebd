//! A real `slate serve` process on a loopback port, called by a real HTTP
//! client: process-date, runs, health, metrics, hot swap of a processor
//! while it serves, and SIGTERM with a run in flight.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde_json::{Value as Json, json};
use slate::plugin::content_hash;
use slate::runs::{ErrorKind, RunFilter, RunStatus};
use slate::store::{EmbeddedStore, RunLedger, Tables};

use crate::bookkeeping::set_spin;
use crate::support::{
    assert_contains, assert_succeeded, components, date, plugin_dir, runs_still_running, slate,
    wait_until,
};

pub(crate) const TOKEN: &str = "process-test-token";

/// A `slate serve` child process; killed if the test ends early.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Server {
    pub(crate) fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Self::start_logging(data_dir, extra, Stdio::inherit(), "error")
    }

    /// [`Server::start`], its log of `level` and above going to `log`.
    pub(crate) fn start_logging(
        data_dir: &Path,
        extra: &[&str],
        log: impl Into<Stdio>,
        level: &str,
    ) -> Server {
        Self::start_with(data_dir, extra, log, level, |_| {})
    }

    /// [`Server::start_logging`] under an open-file limit of `soft` and
    /// `hard` descriptors (`ulimit -Sn`, `ulimit -Hn`).
    pub(crate) fn start_with_open_files(
        data_dir: &Path,
        extra: &[&str],
        log: impl Into<Stdio>,
        (soft, hard): (u64, u64),
    ) -> Server {
        Self::start_with(data_dir, extra, log, "info", |command| {
            let open_files = rustix::process::Resource::Nofile;
            crate::support::limited(command, open_files, (soft, hard));
        })
    }

    fn start_with(
        data_dir: &Path,
        extra: &[&str],
        log: impl Into<Stdio>,
        level: &str,
        prepare: impl FnOnce(&mut Command),
    ) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_slate"));
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("SLATE_TOKEN", TOKEN)
            .env("RUST_LOG", level)
            .stdout(Stdio::piped())
            .stderr(log);
        prepare(&mut command);
        let mut child = command.spawn().expect("start slate serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("the server prints its address");
        // Keep reading whatever else it prints.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        Server { child, base }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn get(&self, path: &str) -> (u16, Json) {
        let agent = agent();
        let mut response = agent.get(self.url(path)).call().expect("GET");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Json::String(text)),
        )
    }

    pub(crate) fn post(&self, path: &str, body: Json) -> (u16, Json) {
        let mut response = agent()
            .post(self.url(path))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .expect("POST");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).expect("a JSON answer"))
    }

    pub(crate) fn delete(&self, path: &str) -> (u16, Json) {
        let mut response = agent()
            .delete(self.url(path))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .call()
            .expect("DELETE");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).expect("a JSON answer"))
    }

    pub(crate) fn put_component(&self, name: &str, bytes: &[u8]) -> (u16, Json) {
        let mut response = agent()
            .put(self.url(&format!("/plugins/{name}")))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/wasm")
            .send(bytes)
            .expect("PUT");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).expect("a JSON answer"))
    }

    pub(crate) fn process(&self, processor: &str, day: &str) -> Json {
        let (status, answer) = self.post(
            "/process-date",
            json!({"processors": [processor], "analysis_date": day}),
        );
        assert_eq!(status, 200, "{answer}");
        answer["runs"][0].clone()
    }

    /// Starts SlowProcessor on 2026-01-12, where it spins until stopped
    /// ([`slow_processor_folders`]), and waits until it runs: its run id.
    pub(crate) fn start_spinning_run(&self) -> String {
        let (status, accepted) = self.post(
            "/process-date",
            json!({"processors": ["SlowProcessor"], "analysis_date": "2026-01-12", "async": true}),
        );
        assert_eq!(status, 202, "{accepted}");
        let spinning = accepted["runs"][0]["run_id"].as_str().unwrap().to_string();
        wait_until("the spinning run is running", || {
            self.get(&format!("/runs/{spinning}")).1["status"] == "running"
        });
        spinning
    }

    /// Sends SIGTERM: the shutdown begins.
    pub(crate) fn send_sigterm(&self) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
    }

    /// Sends SIGHUP: the server reads `slate.toml` again.
    pub(crate) fn send_sighup(&self) {
        let sent = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        self.send_sigterm();
        self.wait_for_exit()
    }

    /// Waits for the process to exit, and asserts it exited 0 within
    /// `bound` of this call, as `what` says it should.
    pub(crate) fn exits_within(&mut self, bound: Duration, what: &str) {
        let began = Instant::now();
        assert!(self.wait_for_exit().success(), "{what}");
        let took = began.elapsed();
        assert!(took < bound, "{what}: it took {took:?}");
    }

    /// Waits for the process to exit, for at most a minute.
    pub(crate) fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that returns 4xx and 5xx answers instead of errors.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// A data folder whose store makes SlowProcessor spin on 2026-01-12 (a
/// run in flight until it is stopped) and not on 2026-01-11, and a plugin
/// folder holding SlowProcessor, for a server to run it from.
pub(crate) fn slow_processor_folders() -> (tempfile::TempDir, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    set_spin(&store, date("2026-01-12"), true);
    set_spin(&store, date("2026-01-11"), false);
    (data, plugin_dir(&[components::SLOW_PROCESSOR]))
}

#[test]
fn a_served_host_runs_dates_reports_and_shuts_down_without_leaving_a_running_run() {
    let (data, plugins) = slow_processor_folders();
    let plugin_dir = plugins.path().to_str().unwrap();
    let server = Server::start(
        data.path(),
        &[
            "--plugin-dir",
            plugin_dir,
            "--grace-secs",
            "1",
            "--workers",
            "2",
        ],
    );

    let run = server.process("SlowProcessor", "2026-01-11");
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["rows"], 3);
    let run_id = run["run_id"].as_str().unwrap().to_string();

    let (status, listed) = server.get("/runs?processor=SlowProcessor");
    assert_eq!(status, 200);
    assert_eq!(listed[0]["run_id"], run_id.as_str());
    let (status, record) = server.get(&format!("/runs/{run_id}"));
    assert_eq!(status, 200);
    assert_eq!(record["status"], "success");

    let (status, report) = server.get("/health");
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["healthy"], true);

    let (status, metrics) = server.get("/metrics");
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap();
    assert_contains(
        metrics,
        "slate_runs_total{processor=\"SlowProcessor\",status=\"success\"} 1",
    );

    // A run that spins until stopped, in flight when SIGTERM arrives.
    let spinning = server.start_spinning_run();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let exit = server.terminate();
    assert!(exit.success(), "a graceful shutdown exits 0: {exit}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the grace period (1 s) bounds the shutdown: {:?}",
        started.elapsed()
    );

    let store = EmbeddedStore::open_existing(&data.path().join("slate.db")).unwrap();
    let stopped = store.run(&spinning).unwrap().unwrap();
    assert_eq!(stopped.status, RunStatus::Failed);
    assert_eq!(stopped.error_kind, Some(ErrorKind::Shutdown), "{stopped:?}");
    let running = runs_still_running(&store);
    assert!(running.is_empty(), "no running record is left: {running:?}");
}

#[test]
fn while_shutting_down_new_work_gets_503_and_the_work_accepted_can_still_be_followed() {
    let (data, plugins) = slow_processor_folders();
    let plugin_dir = plugins.path().to_str().unwrap();
    let mut server = Server::start(
        data.path(),
        &["--plugin-dir", plugin_dir, "--grace-secs", "5"],
    );
    let spinning = server.start_spinning_run();

    server.send_sigterm();
    // Well inside the 5 s of grace.
    std::thread::sleep(Duration::from_millis(500));
    let (status, refused) = server.post(
        "/process-date",
        json!({"processors": ["SlowProcessor"], "analysis_date": "2026-01-13"}),
    );
    assert_eq!(
        status, 503,
        "new work is refused, not the connection: {refused}"
    );
    assert!(refused["error"].as_str().is_some(), "{refused}");
    let (status, followed) = server.get(&format!("/runs/{spinning}"));
    assert_eq!((status, &followed["status"]), (200, &json!("running")));

    assert!(server.wait_for_exit().success());
    let store = EmbeddedStore::open_existing(&data.path().join("slate.db")).unwrap();
    let stopped = store.run(&spinning).unwrap().unwrap();
    assert_eq!(stopped.error_kind, Some(ErrorKind::Shutdown), "{stopped:?}");
    let refused_date = store
        .runs(&RunFilter {
            date: Some(NaiveDate::from_ymd_opt(2026, 1, 13).unwrap()),
            ..RunFilter::default()
        })
        .unwrap();
    assert!(
        refused_date.is_empty(),
        "the refused request started nothing"
    );
}

/// A store that fails as one run's end is recorded (here a trigger refuses
/// PlayerGameSummaryProcessor's end by its host, as a full disk would)
/// costs that run alone: every other run of the date still runs and is
/// answered with its status, and the run whose end could not be recorded
/// is given up (`/metrics` counts it). Once the store takes its host's
/// writes again, the host hands it to the reaper within a heartbeat, with
/// the store's error in its reason, not a lease later as a host that
/// stopped renewing without a word. Before, the first error dropped every
/// later claim of the date (left `running` until their leases ran out)
/// and the answer was an opaque 500.
#[test]
fn a_run_whose_end_the_store_refused_is_given_up_and_the_rest_of_the_date_still_runs() {
    let data = crate::support::demo_data_dir("2026-01-11", "2026-01-11");
    crate::support::refuse_in_run_history(
        data.path(),
        "UPDATE OF status",
        "NEW.processor = 'PlayerGameSummaryProcessor' AND NEW.status != 'running'
             AND NEW.error_kind IS NOT 'stale'",
        "simulated: database or disk is full",
    );
    let server = Server::start(
        data.path(),
        &["--heartbeat-secs", "1", "--lease-secs", "600"],
    );

    let (status, answer) = server.post("/process-date", json!({"analysis_date": "2026-01-11"}));

    assert_eq!(status, 200, "{answer}");
    let runs = answer["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 9, "{answer}");
    let summary = (runs.iter())
        .find(|run| run["processor"] == "PlayerGameSummaryProcessor")
        .unwrap();
    assert_eq!(summary["status"], "failed", "{summary}");
    assert_contains(
        summary["error"].as_str().unwrap(),
        "its end could not be recorded: store error: simulated: database or disk is full",
    );
    assert!(
        (runs.iter())
            .filter(|run| run["processor"] != "PlayerGameSummaryProcessor")
            .all(|run| run["status"] != "running" && run["run_id"].is_string()),
        "every other run ran to its end: {answer}"
    );
    let (_, metrics) = server.get("/metrics");
    assert_contains(
        metrics.as_str().unwrap(),
        "slate_runs_given_up_total{processor=\"PlayerGameSummaryProcessor\"} 1",
    );
    let store = EmbeddedStore::open_existing(&data.path().join("slate.db")).unwrap();
    let run_id = summary["run_id"].as_str().unwrap();
    let running = runs_still_running(&store);
    assert!(
        running.iter().all(|run| run.run_id == run_id),
        "only the refused run may be left: {running:?}"
    );

    // The store takes the host's other writes: the run given up is flagged
    // and its lease expired, for the reaper (whose end the store takes).
    wait_until("the run given up is reaped", || {
        store.run(run_id).unwrap().unwrap().status == RunStatus::Failed
    });
    let reaped = store.run(run_id).unwrap().unwrap();
    assert_eq!(reaped.error_kind, Some(ErrorKind::Stale));
    assert_contains(
        reaped.error_message.as_deref().unwrap(),
        "stopped renewing at ",
    );
    assert_contains(
        reaped.error_message.as_deref().unwrap(),
        "(its host gave it up: the store failed: store error: simulated: database or disk is full)",
    );
    assert!(server.terminate().success());
}

/// A store that refuses every claim of a request (here a trigger refuses
/// each new run, as a full disk would) starts nothing, and the answer says
/// so: 503 with `Retry-After`, naming the date, a processor and the
/// store's error, and `/metrics` counts each refused claim. Before, it was a 200 whose every run was `not_started`,
/// which a client that checks the status alone takes for a day processed.
#[test]
fn a_request_whose_every_claim_the_store_refuses_is_answered_503_and_starts_nothing() {
    let data = crate::support::demo_data_dir("2026-01-11", "2026-01-11");
    crate::support::refuse_in_run_history(
        data.path(),
        "INSERT",
        "1",
        "simulated: database or disk is full",
    );
    let server = Server::start(data.path(), &[]);
    let store = EmbeddedStore::open_existing(&data.path().join("slate.db")).unwrap();
    let runs_before = store.runs(&RunFilter::default()).unwrap().len();

    let mut response = agent()
        .post(server.url("/process-date"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/json")
        .send(json!({"analysis_date": "2026-01-11"}).to_string())
        .unwrap();

    let body = response.body_mut().read_to_string().unwrap();
    assert_eq!(response.status().as_u16(), 503, "{body}");
    assert!(response.headers().get("retry-after").is_some(), "{body}");
    let answer: Json = serde_json::from_str(&body).unwrap();
    let error = answer["error"].as_str().unwrap();
    assert_contains(
        error,
        "nothing started for 2026-01-11: the store refused the claim of ",
    );
    assert_contains(error, "simulated: database or disk is full");
    assert_eq!(
        store.runs(&RunFilter::default()).unwrap().len(),
        runs_before,
        "no run was recorded"
    );
    let (_, metrics) = server.get("/metrics");
    let refused = (metrics.as_str().unwrap().lines())
        .filter(|line| {
            line.starts_with("slate_claims_refused_total{processor=") && line.ends_with("} 1")
        })
        .count();
    assert_eq!(
        refused, 9,
        "each processor's refused claim is counted: {metrics}"
    );
    assert!(server.terminate().success());
}

/// A server on an empty data folder, with `--max-connections 512`, under
/// an open-file limit of `(soft, hard)`; what it has logged so far (at
/// info and above); and its folder.
fn server_of_512_connections_with_open_files(
    limit: (u64, u64),
) -> (Server, impl Fn() -> String, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    let server = Server::start_with_open_files(
        data.path(),
        &["--max-connections", "512"],
        log.reopen().unwrap(),
        limit,
    );
    let logged = move || std::fs::read_to_string(log.path()).unwrap();
    (server, logged, data)
}

/// A server whose soft open-file limit is below what its connections need
/// (64 here, where `--max-connections 512` needs 640) raises it, within
/// the hard limit, and says so; before, connections past the limit failed
/// to be accepted and hung.
#[test]
fn a_server_under_a_low_open_file_limit_raises_it_to_what_its_connections_need() {
    let (server, logged, _data) = server_of_512_connections_with_open_files((64, 4096));

    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id())).unwrap();
    let open_files = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        open_files.split_whitespace().nth(3),
        Some("640"),
        "{open_files}"
    );
    assert_contains(
        &logged(),
        "raised the open-file limit from 64 to 640, for --max-connections 512",
    );
    assert!(server.terminate().success());
}

/// A server whose hard open-file limit cannot hold its connections says so
/// at start, naming the limit, what is needed and what would fit. Run out
/// of descriptors by idle clients, it logs its failed accepts once, with
/// the fix, not 20 times a second, and answers again once they leave.
#[test]
fn a_server_out_of_descriptors_says_so_at_start_and_logs_its_failed_accepts_sparingly() {
    let (server, logged, _data) = server_of_512_connections_with_open_files((160, 160));
    assert_contains(
        &logged(),
        "the open-file limit is 160 (the hard limit, `ulimit -Hn`), below the 640 that \
         --max-connections 512 needs (one per connection, 128 for the server): past the limit, \
         new connections are not refused with a 503 but left unanswered; raise the hard limit \
         or lower --max-connections to 32",
    );
    let address = server.base.trim_start_matches("http://").to_string();

    // More idle clients than descriptors left: accepts fail for 2 s.
    let clients: Vec<std::net::TcpStream> = (0..200)
        .map(|_| std::net::TcpStream::connect(&address).unwrap())
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let failed_accepts = logged()
        .lines()
        .filter(|line| line.contains("accept error"))
        .map(str::to_string)
        .collect::<Vec<_>>();
    assert_eq!(failed_accepts.len(), 1, "{failed_accepts:#?}");
    assert_contains(
        &failed_accepts[0],
        "the process is out of file descriptors, and new connections wait unanswered; raise \
         `ulimit -n` to at least 640 or lower --max-connections (now 512)",
    );

    drop(clients);
    wait_until("the server answers again", || server.get("/health").0 != 0);
    assert!(server.terminate().success());
}

/// A second SIGTERM ends the grace period at once, as an operator who
/// presses Ctrl-C twice expects: the run in flight is stopped and recorded
/// as stopped by the shutdown, and the server exits long before its two
/// minutes of grace. Before, the second signal was swallowed.
#[test]
fn a_second_sigterm_ends_the_grace_period_at_once() {
    let (data, plugins) = slow_processor_folders();
    let plugin_dir = plugins.path().to_str().unwrap();
    let mut server = Server::start(
        data.path(),
        &["--plugin-dir", plugin_dir, "--grace-secs", "120"],
    );
    let spinning = server.start_spinning_run();
    server.send_sigterm();
    wait_until("the shutdown began", || {
        let day = json!({"processors": ["SlowProcessor"], "analysis_date": "2026-01-13"});
        server.post("/process-date", day).0 == 503
    });

    server.send_sigterm();

    server.exits_within(
        Duration::from_secs(30),
        "it stopped within the 5 s stopped runs get, not after the grace",
    );
    let store = EmbeddedStore::open_existing(&data.path().join("slate.db")).unwrap();
    let stopped = store.run(&spinning).unwrap().unwrap();
    assert_eq!(stopped.status, RunStatus::Failed);
    assert_eq!(stopped.error_kind, Some(ErrorKind::Shutdown), "{stopped:?}");
}

#[test]
fn a_processor_redeployed_while_serving_runs_its_new_version_next() {
    let data = tempfile::tempdir().unwrap();
    let watched = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--watch", watched.path().to_str().unwrap()]);
    let v1 = std::fs::read(components::VERSIONED_V1).unwrap();
    let v2 = std::fs::read(components::VERSIONED_V2).unwrap();
    let (h1, h2) = (content_hash(&v1), content_hash(&v2));

    // 1. Deploy v1 over HTTP and run.
    let (status, deployed) = server.put_component("VersionedProcessor", &v1);
    assert_eq!(status, 200, "{deployed}");
    let first = server.process("VersionedProcessor", "2026-01-10");
    assert_eq!(first["rows"], 2, "v1 writes two rows: {first}");

    // 2. Deploy v2 from the command line, while the server runs; the next
    //    run uses it without a restart.
    let deploy = slate(data.path(), &["deploy", components::VERSIONED_V2]);
    assert_succeeded(&deploy);
    let second = server.process("VersionedProcessor", "2026-01-11");
    assert_eq!(second["rows"], 3, "v2 writes three rows: {second}");
    let (_, record) = server.get(&format!("/runs/{}", second["run_id"].as_str().unwrap()));
    assert_eq!(record["plugin_hash"], h2.as_str());

    // 3. The history shows both hashes, v2 active.
    let history = slate(data.path(), &["plugins", "history", "VersionedProcessor"]);
    let history = String::from_utf8_lossy(&history.stdout);
    let line_of = |hash: &str| {
        history
            .lines()
            .find(|l| l.contains(hash))
            .map(str::to_string)
    };
    assert!(line_of(&h1).is_some(), "{history}");
    assert!(line_of(&h2).unwrap().contains("active"), "{history}");

    // 4. An invalid v3 is rejected, and v2 stays active.
    let v3 = std::fs::read(components::VERSIONED_V3_INVALID).unwrap();
    let (status, rejected) = server.put_component("VersionedProcessor", &v3);
    assert_eq!(status, 422, "{rejected}");
    assert_eq!(rejected["check"], "info");
    let rejected_cli = slate(data.path(), &["deploy", components::VERSIONED_V3_INVALID]);
    assert!(!rejected_cli.status.success());
    let message = String::from_utf8_lossy(&rejected_cli.stderr);
    assert!(
        message.contains("rejected by the info check")
            && message.contains("partition column `no_such_column` is not in the schema"),
        "{message}"
    );
    let still_v2 = server.process("VersionedProcessor", "2026-01-12");
    assert_eq!(still_v2["rows"], 3, "{still_v2}");

    // 5. Roll back to v1, and the next run is v1's.
    let (status, rolled) = server.post("/plugins/VersionedProcessor/rollback", json!({"to": h1}));
    assert_eq!(status, 200, "{rolled}");
    let back = server.process("VersionedProcessor", "2026-01-13");
    assert_eq!(back["rows"], 2, "{back}");

    // Which dates did v2 produce? One query.
    let runs = slate(data.path(), &["runs", "--plugin-hash", &h2]);
    let runs = String::from_utf8_lossy(&runs.stdout);
    let dates: Vec<&str> = ["2026-01-10", "2026-01-11", "2026-01-12", "2026-01-13"]
        .into_iter()
        .filter(|d| runs.contains(d))
        .collect();
    assert_eq!(dates, ["2026-01-11", "2026-01-12"], "{runs}");

    let listed = slate(data.path(), &["plugins"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    let line = listed
        .lines()
        .find(|l| l.contains("VersionedProcessor"))
        .expect("the deployed processor is listed");
    assert!(line.contains(&h1) && line.contains("registry"), "{line}");

    // A file written to the watched folder is deployed, and runs next.
    std::fs::copy(
        components::VERSIONED_V2,
        watched.path().join("versioned.wasm"),
    )
    .unwrap();
    wait_until("the watched file is deployed", || {
        let (_, plugins) = server.get("/plugins");
        plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "VersionedProcessor" && p["hash"] == h2.as_str())
    });
    let watched_run = server.process("VersionedProcessor", "2026-01-14");
    assert_eq!(watched_run["rows"], 3, "{watched_run}");
    assert!(server.terminate().success());
}

/// A backfill the shutdown stopped resumes when a server starts on the
/// store again, and its progress outlives the server that accepted it.
/// Before, a server's backfills lived in its memory: after a restart, `GET
/// /backfills/{id}` was a 404 and the runs not started were never run.
#[test]
fn a_backfill_a_shutdown_stopped_resumes_when_the_server_starts_again() {
    let data = crate::support::demo_data_dir("2026-01-05", "2026-01-07");
    let first = Server::start(data.path(), &["--grace-secs", "0.001"]);
    let (status, accepted) = first.post(
        "/backfill",
        json!({
            "start_date": "2026-01-08",
            "end_date": "2026-02-28",
            "reprocess": "all",
            "parallelism": 1
        }),
    );
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["backfill_id"].as_str().unwrap().to_string();
    let planned = accepted["planned"].as_u64().unwrap();
    assert!(first.terminate().success());

    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let ran_before: usize = store
        .runs(&RunFilter {
            dates: Some(date("2026-01-08")..=date("2026-02-28")),
            skip_upstream_check: true,
            ..RunFilter::default()
        })
        .unwrap()
        .len();
    assert!(
        (ran_before as u64) < planned,
        "the shutdown stopped it before every run ({ran_before} of {planned})"
    );

    let second = Server::start(data.path(), &[]);
    wait_until("the resumed backfill finishes", || {
        second.get(&format!("/backfills/{id}")).1["state"] == "finished"
    });
    let (_, progress) = second.get(&format!("/backfills/{id}"));
    assert_eq!(progress["planned"], planned);
    let ended = ["succeeded", "failed", "blocked", "not_started"]
        .iter()
        .map(|k| progress[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(ended, planned, "{progress}");
    assert_eq!(progress["succeeded"], planned, "{progress}");
    // Every planned run's latest attempt succeeded; none is left running.
    let runs = store
        .runs(&RunFilter {
            dates: Some(date("2026-01-08")..=date("2026-02-28")),
            skip_upstream_check: true,
            ..RunFilter::default()
        })
        .unwrap();
    assert!(runs.iter().all(|r| r.status != RunStatus::Running));
    assert!(second.terminate().success());

    // Its record outlives both servers; it is no longer one to cancel.
    let third = Server::start(data.path(), &[]);
    let (status, after) = third.get(&format!("/backfills/{id}"));
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["state"], "finished");
    assert_eq!(after["succeeded"], planned);
    let (status, refused) = third.delete(&format!("/backfills/{id}"));
    assert_eq!(status, 409, "{refused}");
    assert_contains(refused["error"].as_str().unwrap(), "(finished)");
}

/// A backfill a server runs reports the outdated runs it leaves in its
/// range, as `slate backfill` warns of them: here one that read an
/// upstream rerun after it, which `missing` leaves alone. Before, its
/// progress counted nothing amiss.
#[test]
fn a_server_backfill_reports_the_outdated_runs_it_leaves_in_its_range() {
    let data = crate::support::demo_data_dir("2026-01-05", "2026-01-08");
    let rerun_upstream = crate::support::slate(
        data.path(),
        &[
            "run",
            "--date",
            "2026-01-08",
            "--processors",
            "PlayerGameSummaryProcessor",
        ],
    );
    assert!(rerun_upstream.status.success());
    let server = Server::start(data.path(), &[]);
    let backfill_the_8th = |reprocess: &str| {
        let (status, accepted) = server.post(
            "/backfill",
            json!({
                "start_date": "2026-01-08",
                "end_date": "2026-01-08",
                "processors": ["PlayerDailyCacheProcessor"],
                "reprocess": reprocess,
            }),
        );
        assert_eq!(status, 202, "{accepted}");
        let path = format!("/backfills/{}", accepted["backfill_id"].as_str().unwrap());
        wait_until("the backfill finishes", || {
            server.get(&path).1["state"] == "finished"
        });
        server.get(&path).1
    };

    let left = backfill_the_8th("missing");
    assert_eq!(left["outdated"], 1, "{left}");
    assert_contains(
        left["outdated_example"].as_str().unwrap(),
        "PlayerDailyCacheProcessor 2026-01-08: PlayerGameSummaryProcessor rewrote this date \
         since (run ",
    );
    let rerun = backfill_the_8th("outdated");
    assert_eq!(rerun["succeeded"], 1, "{rerun}");
    assert_eq!(rerun["outdated"], 0, "{rerun}");
    assert!(rerun.get("outdated_example").is_none(), "{rerun}");
    assert!(server.terminate().success());
}

/// A plugin-folder file named as a registry version, but writing another
/// table, is left out, and the registry version goes on writing its
/// table: a processor keeps its table. Before, the server served the file
/// in the version's place, its runs succeeded into the new table, and the
/// old one went stale under its readers.
#[test]
fn a_plugin_file_writing_another_table_than_the_registry_version_is_left_out() {
    let data = tempfile::tempdir().unwrap();
    crate::support::use_shared_compiled_cache(data.path());
    let deployed = crate::support::slate(data.path(), &["deploy", components::VERSIONED_V1]);
    assert!(deployed.status.success());
    let plugins = tempfile::tempdir().unwrap();
    let renamed = crate::support::with_table_renamed(
        components::VERSIONED_V2,
        "slate_test.versioned",
        "slate_test.versionee",
    );
    std::fs::write(plugins.path().join("renamed.wasm"), renamed).unwrap();

    let server = Server::start(
        data.path(),
        &["--plugin-dir", plugins.path().to_str().unwrap()],
    );
    let run = server.process("VersionedProcessor", "2026-01-11");
    assert_eq!(run["status"], "success", "{run}");
    let v1 = std::fs::read(components::VERSIONED_V1).unwrap();
    let (_, listed) = server.get("/plugins");
    assert_eq!(
        crate::support::listed_plugin(&listed, "VersionedProcessor")["hash"],
        slate::plugin::content_hash(&v1),
        "the registry version is served: {listed}"
    );
    let (_, health) = server.get("/health?fresh=1");
    assert_contains(
        health["refused_versions"]["reason"].as_str().unwrap(),
        "renamed.wasm of VersionedProcessor: it writes slate_test.versionee, but registry \
         version",
    );
    assert!(server.terminate().success());
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let owned: Vec<String> = (store.table_owners().unwrap().iter())
        .map(|owned| owned.table.to_string())
        .collect();
    assert!(
        owned.contains(&"slate_test.versioned".to_string()),
        "{owned:?}"
    );
    assert!(
        !owned.contains(&"slate_test.versionee".to_string()),
        "{owned:?}"
    );
}

/// A stopped backfill one of whose processors was undeployed before the
/// server started again: the server panicked resuming it, on every start,
/// and the backfill stayed "running" for good. Now the runs of the
/// processor gone end failed, saying so, and the rest run.
#[test]
fn a_backfill_resumed_after_one_of_its_processors_was_undeployed_runs_the_rest() {
    let data = tempfile::tempdir().unwrap();
    crate::support::use_shared_compiled_cache(data.path());
    assert_succeeded(&slate(data.path(), &["deploy", components::VERSIONED_V1]));
    assert_succeeded(&slate(data.path(), &["deploy", components::SLOW_PROCESSOR]));
    let first = Server::start(data.path(), &["--grace-secs", "0.001"]);
    let (status, accepted) = first.post(
        "/backfill",
        json!({
            "start_date": "2026-01-01",
            "end_date": "2026-03-31",
            "processors": ["SlowProcessor", "VersionedProcessor"],
            "reprocess": "all",
            "parallelism": 1
        }),
    );
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["backfill_id"].as_str().unwrap().to_string();
    assert!(first.terminate().success());
    assert_succeeded(&slate(data.path(), &["undeploy", "VersionedProcessor"]));

    let second = Server::start(data.path(), &[]);
    wait_until("the resumed backfill ends", || {
        second.get(&format!("/backfills/{id}")).1["state"] != "running"
    });
    let (_, progress) = second.get(&format!("/backfills/{id}"));
    let gone = progress["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["error"] == "VersionedProcessor was undeployed during the backfill: not run")
        .count();
    assert!(gone > 0, "{progress}");
    assert_eq!(progress["planned"], 2 * 90, "{progress}");
    assert!(second.terminate().success());
}

/// A server killed outright (SIGKILL, the OOM killer) mid-backfill: the
/// next server reaps the run the kill cut short, as stale, and runs it
/// again with the rest. Before, that reaped run counted as the work done:
/// it was never run again, its date kept no rows, its downstream ended
/// blocked, and the progress counted fewer runs than it planned.
///
/// The kill can also come between a run's end and the save of the
/// progress that counts it; the test erases the saved counts to stand for
/// that. Before, such a run was never counted, and the resumed backfill
/// ended with fewer runs counted than it planned: the counts are now made
/// again from the run records.
#[test]
fn a_backfill_whose_server_was_killed_runs_again_the_run_the_kill_cut_short() {
    use slate::store::backfill_records::BackfillRecords;

    let (data, store) = folder_with_the_slow_processor("");
    let day = date("2026-01-03");
    set_spin(&store, day, true);
    let mut first = Server::start(data.path(), &[]);
    let id = backfill_held_on(&first, &store, day);
    let runs_on_the_day = || {
        store
            .runs(&RunFilter {
                date: Some(day),
                ..RunFilter::default()
            })
            .unwrap()
    };
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    set_spin(&store, day, false);
    let saved = store.saved_backfill(&id).unwrap().unwrap();
    let mut progress: Json = serde_json::from_str(&saved.progress_json).unwrap();
    assert_eq!(progress["succeeded"], 2, "{progress}");
    progress["succeeded"] = json!(0);
    progress["rows"] = json!(0);
    store
        .save_backfill_progress(&id, &saved.state, &progress.to_string())
        .unwrap();

    let second = Server::start(data.path(), &[]);
    wait_until("the resumed backfill finishes", || {
        second.get(&format!("/backfills/{id}")).1["state"] == "finished"
    });
    let (_, progress) = second.get(&format!("/backfills/{id}"));
    assert_eq!(
        (&progress["planned"], &progress["succeeded"]),
        (&json!(5), &json!(5)),
        "{progress}"
    );
    let rows_written: i64 = store
        .runs(&RunFilter {
            processor: Some("SlowProcessor".into()),
            status: Some(RunStatus::Success),
            ..RunFilter::default()
        })
        .unwrap()
        .iter()
        .map(|r| r.rows_written)
        .sum();
    assert_eq!(progress["rows"], rows_written, "{progress}");
    let runs = runs_on_the_day();
    assert_eq!(
        runs.iter()
            .map(|r| (r.status, r.error_kind))
            .collect::<Vec<_>>(),
        [
            (RunStatus::Success, None),
            (RunStatus::Failed, Some(ErrorKind::Stale))
        ],
        "{runs:#?}"
    );
    assert!(second.terminate().success());
}

/// A backfill resumed after its server was killed counts the lookback
/// gaps its runs flagged before the kill, as the one never killed does.
/// Before, the resume counted them from records read without their
/// upstream checks: every gap flagged before the kill was lost (260 went
/// down to 67), though the rows were right.
#[test]
fn a_resumed_backfill_counts_the_gaps_flagged_before_its_server_was_killed() {
    let data = crate::support::demo_data_dir("2026-01-05", "2026-01-25");
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let mut first = Server::start(data.path(), &[]);
    let (status, accepted) = first.post(
        "/backfill",
        json!({
            "start_date": "2026-01-07",
            "end_date": "2026-01-25",
            "reprocess": "all",
            "parallelism": 1
        }),
    );
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["backfill_id"].as_str().unwrap().to_string();
    let (_, begun) = first.get(&format!("/backfills/{id}"));
    let started: chrono::DateTime<chrono::Utc> =
        begun["started_at"].as_str().unwrap().parse().unwrap();
    let flagged_so_far = || {
        (store.runs(&RunFilter {
            status: Some(RunStatus::Success),
            ..RunFilter::default()
        }))
        .unwrap()
        .into_iter()
        .filter(|run| run.started_at >= started)
        .filter(|run| {
            run.upstream_check
                .as_ref()
                .is_some_and(|c| !c.gaps.is_empty())
        })
        .count()
    };
    wait_until("runs flagging gaps have ended", || flagged_so_far() >= 3);
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let second = Server::start(data.path(), &[]);
    wait_until("the resumed backfill finishes", || {
        second.get(&format!("/backfills/{id}")).1["state"] == "finished"
    });
    let (_, progress) = second.get(&format!("/backfills/{id}"));
    assert_eq!(progress["flagged_gaps"], flagged_so_far(), "{progress}");
    assert!(second.terminate().success());
}

/// Starts on `server` a backfill of SlowProcessor over 2026-01-01 to
/// 2026-01-05, one run at a time, and waits until its run on `day` (set
/// to spin) runs: its id.
fn backfill_held_on(server: &Server, store: &EmbeddedStore, day: NaiveDate) -> String {
    let (status, accepted) = server.post(
        "/backfill",
        json!({
            "start_date": "2026-01-01",
            "end_date": "2026-01-05",
            "processors": ["SlowProcessor"],
            "reprocess": "all",
            "parallelism": 1
        }),
    );
    assert_eq!(status, 202, "{accepted}");
    wait_until("the run on the spinning day runs", || {
        (store.runs(&RunFilter {
            date: Some(day),
            ..RunFilter::default()
        }))
        .unwrap()
        .first()
        .is_some_and(|run| run.status == RunStatus::Running)
    });
    accepted["backfill_id"].as_str().unwrap().to_string()
}

/// A data folder with SlowProcessor deployed and `slate_toml` written,
/// and its store.
fn folder_with_the_slow_processor(slate_toml: &str) -> (tempfile::TempDir, EmbeddedStore) {
    let data = tempfile::tempdir().unwrap();
    crate::support::use_shared_compiled_cache(data.path());
    std::fs::write(data.path().join("slate.toml"), slate_toml).unwrap();
    assert_succeeded(&slate(data.path(), &["deploy", components::SLOW_PROCESSOR]));
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    (data, store)
}

/// A cancel is recorded when it is made: a queued backfill reads
/// `cancelled` at once, a second cancel is refused, and a server started
/// after a kill resumes neither backfill. Before, the cancel lived in the
/// server's memory only, and the next server ran every planned date.
#[test]
fn a_cancelled_backfill_is_never_resumed_by_a_later_server() {
    let (data, store) = folder_with_the_slow_processor("");
    let spinning = date("2026-01-01");
    set_spin(&store, spinning, true);
    let mut first = Server::start(data.path(), &["--workers", "2"]);
    let backfill = |start: &str, end: &str| {
        let (status, accepted) = first.post(
            "/backfill",
            json!({
                "start_date": start,
                "end_date": end,
                "processors": ["SlowProcessor"],
                "reprocess": "all",
                "parallelism": 1
            }),
        );
        assert_eq!(status, 202, "{accepted}");
        format!("/backfills/{}", accepted["backfill_id"].as_str().unwrap())
    };
    let running = backfill("2026-01-01", "2026-01-05");
    let queued = backfill("2026-01-06", "2026-01-08");
    wait_until("the run on the spinning day runs", || {
        store
            .runs(&RunFilter::default())
            .unwrap()
            .first()
            .is_some_and(|r| r.status == RunStatus::Running)
    });
    assert_eq!(first.get(&queued).1["state"], "queued");

    let (status, cancelled) = first.delete(&queued);
    assert_eq!((status, &cancelled["state"]), (202, &json!("cancelled")));
    assert_eq!(cancelled["not_run"], cancelled["planned"], "{cancelled}");
    assert_eq!(first.get(&queued).1["state"], "cancelled");
    let (status, refused) = first.delete(&queued);
    assert_eq!(status, 409, "{refused}");
    let (status, cancelling) = first.delete(&running);
    assert_eq!(status, 202, "{cancelling}");
    assert!(cancelling["cancelled_at"].is_string(), "{cancelling}");
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    set_spin(&store, spinning, false);

    let second = Server::start(data.path(), &["--workers", "2"]);
    wait_until("the cancelled backfill reads cancelled", || {
        second.get(&running).1["state"] == "cancelled"
    });
    assert_eq!(second.get(&queued).1["state"], "cancelled");
    let judged = second.get(&running).1;
    let counted: u64 = ["succeeded", "failed", "blocked", "not_started", "not_run"]
        .iter()
        .map(|count| judged[count].as_u64().unwrap())
        .sum();
    assert_eq!(counted, judged["planned"].as_u64().unwrap(), "{judged}");
    std::thread::sleep(Duration::from_millis(500));
    let runs = store.runs(&RunFilter::default()).unwrap();
    assert_eq!(
        runs.iter()
            .map(|r| (r.data_date, r.status, r.error_kind))
            .collect::<Vec<_>>(),
        [(spinning, RunStatus::Failed, Some(ErrorKind::Stale))],
        "only the run in flight at the cancel ran: {runs:#?}"
    );
    // That run, cut short by the kill, is never run again: it counts as it
    // ended. Before, the cancelled backfill counted nothing of it.
    let ended = second.get(&running).1;
    assert_eq!(
        (&ended["failed"], &ended["succeeded"]),
        (&json!(1), &json!(0)),
        "{ended}"
    );
    assert_eq!(ended["problems"][0]["date"], "2026-01-01", "{ended}");
    assert!(second.terminate().success());
}

/// A backfill that waited for another is planned again when it starts:
/// of two `missing` backfills of the same dates queued behind a third, the
/// second to start finds the dates filled and leaves them alone. Before,
/// it ran the plan made when it was accepted, and every date ran twice.
#[test]
fn a_queued_backfill_is_planned_again_when_it_starts() {
    let (data, store) =
        folder_with_the_slow_processor("[limits.processors.SlowProcessor]\ncpu_secs = 3\n");
    let spinning = date("2026-01-01");
    set_spin(&store, spinning, true);
    for day in ["2026-01-02", "2026-01-03", "2026-01-04"] {
        set_spin(&store, date(day), false);
    }
    let server = Server::start(data.path(), &["--workers", "2"]);
    let backfill = |start: &str, end: &str, reprocess: &str| {
        let (status, accepted) = server.post(
            "/backfill",
            json!({
                "start_date": start,
                "end_date": end,
                "processors": ["SlowProcessor"],
                "reprocess": reprocess,
                "parallelism": 1
            }),
        );
        assert_eq!(status, 202, "{accepted}");
        assert!(accepted["planned"].as_u64().unwrap() > 0, "{accepted}");
        format!("/backfills/{}", accepted["backfill_id"].as_str().unwrap())
    };
    let holding = backfill("2026-01-01", "2026-01-01", "all");
    let first = backfill("2026-01-02", "2026-01-04", "missing");
    let second = backfill("2026-01-02", "2026-01-04", "missing");
    assert_eq!(server.get(&second).1["planned"], 3);
    for path in [&holding, &first, &second] {
        wait_until("the backfills end", || {
            server.get(path).1["state"] == "finished"
        });
    }
    let (_, first) = server.get(&first);
    assert_eq!(
        (&first["planned"], &first["succeeded"]),
        (&json!(3), &json!(3)),
        "{first}"
    );
    let (_, second) = server.get(&second);
    assert_eq!(
        (
            &second["planned"],
            &second["left_alone"],
            &second["succeeded"]
        ),
        (&json!(0), &json!(3), &json!(0)),
        "{second}"
    );
    let runs = store
        .runs(&RunFilter {
            dates: Some(date("2026-01-02")..=date("2026-01-04")),
            ..RunFilter::default()
        })
        .unwrap();
    assert_eq!(runs.len(), 3, "each date ran once: {runs:#?}");
}

/// Of two servers on one store, the one left goes on with the backfill of
/// the other, killed mid-run: before, the backfill waited, `running` with
/// nothing running it, until a server started on the store again.
#[test]
fn a_server_goes_on_with_the_backfill_of_another_killed_on_its_store() {
    let (data, store) = folder_with_the_slow_processor("");
    let day = date("2026-01-03");
    set_spin(&store, day, true);
    let mut killed = Server::start(data.path(), &[]);
    let left = Server::start(data.path(), &[]);
    let id = backfill_held_on(&killed, &store, day);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    set_spin(&store, day, false);

    wait_until("the server left finishes the backfill", || {
        left.get(&format!("/backfills/{id}")).1["state"] == "finished"
    });
    let (_, progress) = left.get(&format!("/backfills/{id}"));
    assert_eq!(
        (&progress["planned"], &progress["succeeded"]),
        (&json!(5), &json!(5)),
        "{progress}"
    );
    assert!(left.terminate().success());
}

/// Of two servers resuming one abandoned backfill at once, one takes it:
/// before, both resumed it, and ran its runs twice.
#[test]
fn one_server_of_two_takes_over_an_abandoned_backfill() {
    use slate::store::backfill_records::{BackfillRecords, SavedBackfill};

    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    store
        .save_backfill(&SavedBackfill {
            id: "b1".into(),
            host_id: "box:1".into(),
            state: "running".into(),
            parallelism: 2,
            plan_json: "{}".into(),
            progress_json: "{}".into(),
            accepted_at: chrono::Utc::now(),
        })
        .unwrap();
    assert!(store.take_over_backfill("b1", "box:1", "box:2").unwrap());
    assert!(!store.take_over_backfill("b1", "box:1", "box:3").unwrap());
    assert_eq!(
        store.saved_backfill("b1").unwrap().unwrap().host_id,
        "box:2"
    );
}
