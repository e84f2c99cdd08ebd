//! Several hosts, one pipeline: `slate serve` processes that share run
//! state and tables in one PostgreSQL database.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::{Value as Json, json};
use slate::backfill::{BackfillRequest, Reprocess};
use slate::executor::Executor;
use slate::liveness::LeaseConfig;
use slate::pipeline::Pipeline;
use slate::plugin::{RunLimits, Runtime};
use slate::runs::{RunFilter, RunRecord, RunStatus};
use slate::store::work_queue::ClusterProgress;
use slate::store::{InputSource, PostgresStore, RunLedger, Store, TableSpan, Tables};
use slate::work_queue;

use crate::backfill::{assert_the_phase_gate_held, phase_gate_pipeline};
use crate::bookkeeping::set_spin;
use crate::postgres_server::isolated_url;
use crate::serve_process::Server;
use crate::support::{
    assert_contains, assert_reaped_as_stale, assert_succeeded, components, date, plugin_dir,
    shared_compiled_cache, slate, slate_with_plugins, stderr, use_shared_compiled_cache,
    wait_until,
};

/// A data folder (for the compiled-component cache and the registry) whose
/// `slate` commands keep run state and tables at `url`.
fn host_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    use_shared_compiled_cache(dir.path());
    dir
}

/// Loads the demo season's raw tables into `url`, running the pipeline for
/// one date only.
fn load_demo_season(url: &str, folder: &Path) {
    let demo = slate(
        folder,
        &[
            "--state",
            url,
            "demo",
            "--from",
            "2026-01-05",
            "--to",
            "2026-01-05",
        ],
    );
    assert_succeeded(&demo);
}

/// Every run on `days`, grouped by processor and date, oldest first.
fn runs_by_processor_and_date(
    store: &PostgresStore,
    days: &[&str],
) -> BTreeMap<(String, chrono::NaiveDate), Vec<RunRecord>> {
    let mut grouped: BTreeMap<_, Vec<RunRecord>> = BTreeMap::new();
    for day in days {
        let filter = RunFilter {
            date: Some(date(day)),
            ..RunFilter::default()
        };
        for run in store.runs(&filter).unwrap() {
            grouped
                .entry((run.processor.clone(), run.data_date))
                .or_default()
                .push(run);
        }
    }
    for runs in grouped.values_mut() {
        runs.sort_by_key(|run| run.started_at);
    }
    grouped
}

#[test]
fn three_hosts_on_one_database_run_each_processor_and_date_once_at_a_time() {
    let url = isolated_url();
    let loader = host_folder();
    load_demo_season(&url, loader.path());
    let folders: Vec<_> = (0..3).map(|_| host_folder()).collect();
    let hosts: Vec<Server> = folders
        .iter()
        .map(|folder| Server::start(folder.path(), &["--state", &url]))
        .collect();
    let days = ["2026-01-07", "2026-01-08", "2026-01-09"];

    // Six clients, two on each host, ask for every date at once, each
    // starting from another date.
    let answers: Vec<Json> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..6)
            .map(|client| {
                let host = &hosts[client % 3];
                scope.spawn(move || {
                    (0..days.len())
                        .map(|i| {
                            let day = days[(client + i) % days.len()];
                            let (status, answer) =
                                host.post("/process-date", json!({"analysis_date": day}));
                            // 409: every processor of the date was held by
                            // another request, and nothing started.
                            assert!(status == 200 || status == 409, "{status}: {answer}");
                            answer
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|client| client.join().expect("a client"))
            .collect()
    });

    // Each processor and date ran or was refused as already running; a run
    // whose upstream ran on another host waited for it, and none was
    // blocked behind it.
    for answer in &answers {
        let Some(runs) = answer["runs"].as_array() else {
            let error = answer["error"].as_str().unwrap_or_default();
            assert!(error.starts_with("nothing started"), "{answer}");
            continue;
        };
        for entry in runs {
            match entry["status"].as_str() {
                Some("not_started") => {
                    let error = entry["error"].as_str().unwrap_or_default();
                    assert!(error.starts_with("already running"), "{entry}");
                }
                Some("success") => {}
                other => panic!("unexpected status {other:?}: {entry}"),
            }
        }
    }
    // Asked again, one date from each host, every run succeeds.
    for (i, day) in days.iter().enumerate() {
        let (status, answer) = hosts[i].post("/process-date", json!({"analysis_date": day}));
        assert_eq!(status, 200, "{answer}");
    }

    let store = PostgresStore::connect(&url).unwrap();
    let grouped = runs_by_processor_and_date(&store, &days);
    assert_eq!(
        grouped.len(),
        9 * days.len(),
        "every processor on every date"
    );
    let mut hosts_that_ran = BTreeSet::new();
    for ((processor, day), runs) in &grouped {
        for pair in runs.windows(2) {
            let finished = pair[0].finished_at.expect("every run ended");
            assert!(
                finished <= pair[1].started_at,
                "{processor} on {day}: run {} started at {} while run {} ran until {finished}",
                pair[1].run_id,
                pair[1].started_at,
                pair[0].run_id,
            );
        }
        let last = runs.last().expect("a run");
        assert_eq!(
            last.status,
            RunStatus::Success,
            "{processor} on {day}: {last:?}"
        );
        hosts_that_ran.extend(runs.iter().map(|run| run.host_id.clone()));
    }
    assert_eq!(
        hosts_that_ran.len(),
        3,
        "the last pass alone ran on all three hosts: {hosts_that_ran:?}"
    );

    // No table holds a date twice: each date's rows are those of its
    // last success.
    let owners = store.table_owners().unwrap();
    for ((processor, day), runs) in &grouped {
        let Some(owned) = owners
            .iter()
            .find(|o| o.owner.processor() == Some(processor))
        else {
            panic!("{processor} owns no table");
        };
        let last = runs.last().unwrap();
        assert_eq!(
            store.rows_on(&owned.table, *day).unwrap(),
            last.rows_written as u64,
            "{} on {day}",
            owned.table
        );
    }
}

#[test]
fn a_work_queue_made_before_tasks_had_a_phase_gate_keeps_working_once_a_host_connects() {
    let url = isolated_url();
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    // The queue as an earlier version left it: no `phase_gate` column, and
    // a task still queued.
    client
        .batch_execute(
            "CREATE SCHEMA _slate;
             CREATE TABLE _slate.backfills (
                 backfill_id TEXT PRIMARY KEY, start_date DATE NOT NULL,
                 end_date DATE NOT NULL, reprocess TEXT NOT NULL,
                 left_alone BIGINT NOT NULL, enqueued_by TEXT NOT NULL,
                 enqueued_at TIMESTAMPTZ NOT NULL);
             CREATE TABLE _slate.tasks (
                 backfill_id TEXT NOT NULL, processor TEXT NOT NULL,
                 data_date DATE NOT NULL, rank BIGINT NOT NULL,
                 upstream TEXT[] NOT NULL, looks_back BOOLEAN NOT NULL,
                 status TEXT NOT NULL DEFAULT 'queued', host_id TEXT,
                 lease_expires_at TIMESTAMPTZ, takes BIGINT NOT NULL DEFAULT 0,
                 run_id TEXT, error TEXT, finished_at TIMESTAMPTZ,
                 PRIMARY KEY (backfill_id, processor, data_date));
             INSERT INTO _slate.backfills VALUES
                 ('old', '2026-01-01', '2026-01-01', 'missing', 0, 'old-host', now());
             INSERT INTO _slate.tasks (backfill_id, processor, data_date, rank, upstream,
                 looks_back)
             VALUES ('old', 'VersionedProcessor', '2026-01-01', 0, '{}', false);",
        )
        .unwrap();

    let store = PostgresStore::connect(&url).unwrap();
    // A second host connecting finds the column there and leaves it.
    PostgresStore::connect(&url).unwrap();

    let queue = store.work_queue().expect("PostgreSQL keeps a work queue");
    let taken = queue
        .take_task(
            "new-host",
            std::time::Duration::from_secs(60),
            &["VersionedProcessor".to_string()],
        )
        .unwrap()
        .expect("the old task is ready");
    assert_eq!(
        (taken.backfill_id.as_str(), taken.processor.as_str()),
        ("old", "VersionedProcessor")
    );
    assert!(taken.gate_runs.is_empty(), "{taken:?}");
}

/// Backfills cancelled before dates were judged after a cancel are taken
/// as judged when a host of this version first connects: the dates they
/// cut short stay as they were, not judged again years later, each
/// phase event recorded once more.
#[test]
fn a_work_queue_made_before_cancels_were_judged_does_not_judge_old_cancels() {
    let url = isolated_url();
    PostgresStore::connect(&url).unwrap();
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    // As an earlier version left it: no `judged_at`, and a backfill
    // cancelled after one of its tasks ran.
    client
        .batch_execute(
            "ALTER TABLE _slate.backfills DROP COLUMN judged_at;
             DELETE FROM _slate.setup_done;
             INSERT INTO _slate.backfills (backfill_id, start_date, end_date, reprocess,
                 left_alone, enqueued_by, enqueued_at, cancelled_at)
             VALUES ('old', '2026-01-01', '2026-01-01', 'missing', 0, 'old-host', now(), now());
             INSERT INTO _slate.tasks (backfill_id, processor, data_date, rank, upstream,
                 looks_back, status)
             VALUES ('old', 'P', '2026-01-01', 0, '{}', false, 'succeeded'),
                    ('old', 'Q', '2026-01-01', 1, '{}', false, 'cancelled');",
        )
        .unwrap();

    let store = PostgresStore::connect(&url).unwrap();

    let queue = store.work_queue().expect("PostgreSQL keeps a work queue");
    assert_eq!(queue.cancelled_dates_to_judge().unwrap(), []);
}

/// A database made before run history kept phases gains the column at the
/// next connection: its runs read back with no phase, new ones with theirs.
#[test]
fn a_run_ledger_made_before_runs_kept_their_phase_gains_it_at_the_next_connection() {
    use slate::phase::Phase;
    use slate::runs::{NewRun, Trigger};
    let url = isolated_url();
    let claim = |store: &PostgresStore, day: &str| {
        store
            .start_run(&NewRun {
                processor: "P".into(),
                phase: Phase::Predictions,
                data_date: date(day),
                host_id: "this-machine:1".into(),
                plugin_hash: "h".into(),
                trigger: Trigger::Cli,
                lease: std::time::Duration::from_secs(600),
            })
            .unwrap()
    };
    let old = claim(&PostgresStore::connect(&url).unwrap(), "2026-01-10");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute("ALTER TABLE _slate.runs DROP COLUMN phase; DELETE FROM _slate.setup_done;")
        .unwrap();

    let store = PostgresStore::connect(&url).unwrap();

    assert_eq!(store.run(&old.run_id).unwrap().unwrap().phase, None);
    let new = claim(&store, "2026-01-11");
    assert_eq!(
        store.run(&new.run_id).unwrap().unwrap().phase,
        Some(Phase::Predictions)
    );
}

/// A backfill's parallelism caps its takes across every host, as the
/// one-host backfill caps its runs: of six hosts taking at once, two get a
/// task of a backfill capped at 2 (every round of ten), and a third is
/// taken only once one of them is let go. A chunk of dates taken together
/// counts once. Before, the cap was checked against the enqueuing host's
/// pool and then ignored.
#[test]
fn a_work_queue_backfill_has_at_most_its_parallelism_of_takes_worked_on_at_once() {
    use slate::store::work_queue::{NewBackfill, NewTask, TakenTask, WorkQueue};
    use std::time::Duration;

    let url = isolated_url();
    // Six hosts, each with its own connections, as six processes have.
    let hosts: Vec<PostgresStore> = (0..6)
        .map(|_| PostgresStore::connect(&url).unwrap())
        .collect();
    let queue = |host: usize| -> &dyn WorkQueue { hosts[host].work_queue().unwrap() };
    let enqueue = |id: &str, processors: &[&str], parallelism: Option<usize>| {
        let days: Vec<_> = (1..=6)
            .map(|day| date(&format!("2026-01-0{day}")))
            .collect();
        let tasks: Vec<NewTask> = processors
            .iter()
            .flat_map(|processor| {
                days.iter().map(|day| NewTask {
                    processor: processor.to_string(),
                    date: *day,
                    rank: 0,
                    upstream: Vec::new(),
                    looks_back: false,
                    phase_gate: Vec::new(),
                })
            })
            .collect();
        let backfill = NewBackfill {
            id: id.into(),
            start: days[0],
            end: days[5],
            reprocess: Reprocess::All,
            left_alone: 0,
            host_id: "host-a".into(),
            parallelism,
        };
        queue(0).enqueue(&backfill, &tasks).unwrap();
    };
    let lease = Duration::from_secs(60);
    let serves = ["P", "Q", "R"].map(String::from);
    let serves = &serves;
    let take_at_once = || -> Vec<(String, TakenTask)> {
        let barrier = std::sync::Barrier::new(hosts.len());
        std::thread::scope(|scope| {
            let takers: Vec<_> = (0..hosts.len())
                .map(|host| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        let name = format!("host-{host}");
                        barrier.wait();
                        let tasks = queue(host).take_tasks(&name, lease, 1, serves).unwrap();
                        tasks.into_iter().map(move |task| (name.clone(), task))
                    })
                })
                .collect();
            takers
                .into_iter()
                .flat_map(|taker| taker.join().unwrap())
                .collect()
        })
    };
    for round in 0..10 {
        let id = format!("capped-{round}");
        enqueue(&id, &["P", "Q"], Some(2));
        let taken = take_at_once();
        assert_eq!(taken.len(), 2, "round {round}: {taken:#?}");
        let progress = queue(0).progress(&id).unwrap().unwrap();
        assert_eq!((progress.taken, progress.parallelism), (2, Some(2)));
        // The round's takes are let go, for the next round's backfill.
        queue(0).cancel_backfill(&id).unwrap();
        for (host, task) in &taken {
            queue(0).release_task(task, host).unwrap();
        }
    }

    enqueue("capped", &["P"], Some(2));
    let taken = take_at_once();
    assert_eq!(taken.len(), 2, "{taken:#?}");
    assert!(
        queue(1)
            .take_tasks("host-9", lease, 1, serves)
            .unwrap()
            .is_empty()
    );
    let (host, task) = &taken[0];
    queue(0).release_task(task, host).unwrap();
    assert_eq!(
        queue(1)
            .take_tasks("host-9", lease, 1, serves)
            .unwrap()
            .len(),
        1
    );
    assert!(
        queue(2)
            .take_tasks("host-10", lease, 1, serves)
            .unwrap()
            .is_empty()
    );

    // A chunk is one take: three dates of one processor count once.
    enqueue("chunked", &["R"], Some(1));
    let chunk = queue(0).take_tasks("host-c", lease, 3, serves).unwrap();
    assert!(
        chunk.len() == 3 && chunk.iter().all(|t| t.backfill_id == "chunked"),
        "{chunk:#?}"
    );
    assert!(
        queue(1)
            .take_tasks("host-d", lease, 3, serves)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_cancelled_work_queue_backfill_starts_no_task_after_it_and_its_runs_in_flight_end_as_they_would()
 {
    use slate::store::work_queue::{Cancel, NewBackfill, NewTask, WorkQueue};
    use std::time::Duration;

    let store = crate::postgres_server::isolated_store();
    let queue: &dyn WorkQueue = store.work_queue().expect("PostgreSQL keeps a work queue");
    let days: Vec<_> = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]
        .map(date)
        .to_vec();
    let backfill = NewBackfill {
        id: "b1".into(),
        start: days[0],
        end: days[3],
        reprocess: Reprocess::All,
        left_alone: 0,
        host_id: "host-a".into(),
        parallelism: None,
    };
    let tasks: Vec<NewTask> = days
        .iter()
        .map(|day| NewTask {
            processor: "P".into(),
            date: *day,
            rank: 0,
            upstream: Vec::new(),
            looks_back: false,
            phase_gate: Vec::new(),
        })
        .collect();
    queue.enqueue(&backfill, &tasks).unwrap();
    let lease = Duration::from_secs(60);
    let serves = &["P".to_string()];
    // A's run goes on; B's lease will run out; C lets its task go; the
    // fourth task is still queued when the backfill is cancelled.
    let running = queue.take_task("host-a", lease, serves).unwrap().unwrap();
    queue
        .take_task("host-b", Duration::from_millis(500), serves)
        .unwrap()
        .unwrap();
    let let_go = queue.take_task("host-c", lease, serves).unwrap().unwrap();

    // Of four cancels at once, one cancels it.
    let cancels: Vec<Cancel> = std::thread::scope(|scope| {
        let cancelling: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| queue.cancel_backfill("b1").unwrap()))
            .collect();
        cancelling.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let mut cancels: Vec<String> = cancels.iter().map(|c| format!("{c:?}")).collect();
    cancels.sort();
    assert_eq!(
        cancels,
        [
            "AlreadyCancelled",
            "AlreadyCancelled",
            "AlreadyCancelled",
            "Cancelled { tasks: 1 }"
        ]
    );
    assert_eq!(
        queue.cancel_backfill("no-such-backfill").unwrap(),
        Cancel::NoSuchBackfill
    );
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        queue.take_task("host-d", lease, serves).unwrap(),
        None,
        "neither the queued task nor the one whose lease ran out is taken"
    );
    queue.release_task(&let_go, "host-c").unwrap();
    assert_eq!(queue.take_task("host-d", lease, serves).unwrap(), None);

    let mut run = slate::testing::samples::run_record("P", running.date, RunStatus::Success);
    run.run_id = "run-of-a".into();
    queue.finish_task(&running, "host-a", &run).unwrap();
    let progress = queue.progress("b1").unwrap().unwrap();
    assert_eq!(
        (
            progress.succeeded,
            progress.cancelled,
            progress.queued,
            progress.taken
        ),
        (1, 3, 0, 0),
        "{progress:#?}"
    );
    assert!(progress.is_finished() && progress.finished_at.is_some());
    assert!(progress.cancelled_at.is_some());
    assert_eq!(progress.by_host, [("host-a".to_string(), 1)]);
    assert!(progress.problems.is_empty(), "{progress:#?}");
}

#[test]
fn a_cluster_backfill_is_cancelled_over_http_from_any_host_and_reads_cancelled() {
    let url = isolated_url();
    let loader = host_folder();
    load_demo_season(&url, loader.path());
    let (enqueuing, other) = (host_folder(), host_folder());
    let args = ["--state", url.as_str(), "--workers", "1"];
    let hosts = [
        Server::start(enqueuing.path(), &args),
        Server::start(other.path(), &args),
    ];
    let (status, accepted) = hosts[0].post(
        "/backfill",
        json!({"start_date": "2026-01-06", "end_date": "2026-02-14", "parallelism": 1}),
    );
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["backfill_id"].as_str().unwrap().to_string();
    let planned = accepted["planned"].as_u64().unwrap();
    let store = PostgresStore::connect(&url).unwrap();
    let queue = store.work_queue().expect("PostgreSQL keeps a work queue");
    wait_until("a task has ended", || {
        queue.progress(&id).unwrap().unwrap().ended() > 0
    });

    // Both hosts cancel it at once: one of them does, and the other is
    // told it already had been.
    let path = format!("/backfills/{id}");
    let (mut answers, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| hosts[1].delete(&path));
        let second = hosts[0].delete(&path);
        (vec![first.join().unwrap()], second)
    });
    answers.push(second);
    answers.sort_by_key(|(status, _)| *status);
    let [(202, cancelled), (409, refused)] = answers.as_slice() else {
        panic!("one 202 and one 409: {answers:?}");
    };
    // While a task taken at the cancel still runs, the backfill reads
    // `running` with its `cancelled_at`, as one host's does, and a second
    // cancel says it was cancelled ("was already cancelled at ..."); once
    // none runs, it reads cancelled ("already ended (cancelled)").
    let refusal = refused["error"].as_str().unwrap();
    assert!(
        refusal.contains("was already cancelled at ")
            || refusal.contains("already ended (cancelled)"),
        "{refusal}"
    );
    assert!(
        matches!(cancelled["state"].as_str(), Some("running" | "cancelled")),
        "{cancelled}"
    );
    assert!(cancelled["cancelled_at"].is_string(), "{cancelled}");
    let not_run = cancelled["cancelled"].as_u64().unwrap();
    assert!(not_run > 0 && not_run < planned, "{cancelled}");
    wait_until("the runs in flight have ended", || {
        queue.progress(&id).unwrap().unwrap().is_finished()
    });
    // A task taken at the cancel and let go of afterwards is cancelled
    // too; every other ran once.
    let progress = queue.progress(&id).unwrap().unwrap();
    assert!(progress.cancelled as u64 >= not_run, "{progress:#?}");
    assert_eq!(
        (progress.ended() + progress.cancelled) as u64,
        planned,
        "{progress:#?}"
    );
    let runs = store
        .runs(&RunFilter {
            dates: Some(date("2026-01-06")..=date("2026-02-14")),
            ..RunFilter::default()
        })
        .unwrap();
    assert_eq!(runs.len(), progress.ended(), "no cancelled task ran");
    let (status, body) = hosts[0].get(&format!("/backfills/{id}"));
    assert_eq!((status, body["state"].as_str()), (200, Some("cancelled")));
    let (status, refused) = hosts[0].delete(&format!("/backfills/{id}"));
    assert_eq!(status, 409, "{refused}");
    assert_contains(
        refused["error"].as_str().unwrap(),
        "already ended (cancelled)",
    );
}

/// A server that takes the packets but keeps a statement waiting (here a
/// lock on the run history held by another session) is bounded by the
/// URL's own `options`, as the README says: `slate runs` ends with the
/// server's "lock timeout" within seconds instead of waiting on the lock.
#[test]
fn a_state_urls_lock_timeout_bounds_a_statement_kept_waiting() {
    let url = isolated_url();
    let folder = host_folder();
    PostgresStore::connect(&url).unwrap();
    let mut holder = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut lock = holder.transaction().unwrap();
    lock.batch_execute("LOCK TABLE _slate.runs IN ACCESS EXCLUSIVE MODE")
        .unwrap();

    let bounded = format!("{url}?options=-c%20lock_timeout%3D1s");
    let runs = slate(folder.path(), &["--state", &bounded, "runs"]);

    assert_eq!(runs.status.code(), Some(1), "{}", stderr(&runs));
    assert_contains(&stderr(&runs), "lock timeout");
    lock.rollback().unwrap();
}

/// `slate health` probes run state on a PostgreSQL server that takes no
/// writes (a standby; here the database's `default_transaction_read_only`):
/// a run whose lease is over is reported `stale_running`, not reaped, and
/// the probe says so. Before, it failed on the reap it could not write.
#[test]
fn slate_health_probes_a_read_only_state_database_without_reaping() {
    let url = isolated_url();
    let folder = host_folder();
    let store = PostgresStore::connect(&url).unwrap();
    // A first probe, while the database takes writes, sets up the registry.
    slate(folder.path(), &["--state", &url, "health"]);
    let stale = run_elsewhere(
        &store,
        "SlowProcessor",
        date("2026-01-12"),
        std::time::Duration::from_millis(1),
    );
    std::thread::sleep(std::time::Duration::from_millis(5));
    let database = url.rsplit('/').next().unwrap();
    postgres::Client::connect(&url, postgres::NoTls)
        .unwrap()
        .batch_execute(&format!(
            "ALTER DATABASE {database} SET default_transaction_read_only = on"
        ))
        .unwrap();

    let health = slate(folder.path(), &["--state", &url, "health"]);

    assert_eq!(health.status.code(), Some(1), "{}", stderr(&health));
    assert_contains(&stderr(&health), "the store takes no writes here");
    assert_contains(&stderr(&health), "stale runs are reported, not reaped");
    assert_contains(
        &String::from_utf8_lossy(&health.stdout),
        &format!(
            "STALE_RUNNING SlowProcessor 2026-01-12 (run {})",
            stale.run_id
        ),
    );
    assert_eq!(
        store.run(&stale.run_id).unwrap().unwrap().status,
        RunStatus::Running,
        "nothing was written"
    );
}

/// `slate backfill --reprocess all` to 2026-04-12, one run at a time, with
/// run state at `url`, from `args` (`--from` and more), in the background,
/// its output piped.
fn a_backfill_started(url: &str, folder: &Path, args: &[&str]) -> std::process::Child {
    use std::process::{Command, Stdio};
    Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(folder)
        .args(["--state", url, "backfill", "--to", "2026-04-12"])
        .args(["--parallelism", "1", "--reprocess", "all"])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The id of the one backfill in the database at `url`, once one of its
/// tasks has ended.
fn the_backfill_once_it_has_run_a_task(
    url: &str,
    queue: &dyn slate::store::work_queue::WorkQueue,
) -> String {
    let mut admin = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let mut id = None;
    wait_until("the backfill has run a task", || {
        id = admin
            .query_opt("SELECT backfill_id FROM _slate.backfills", &[])
            .unwrap()
            .map(|row| row.get::<_, String>(0));
        id.as_ref()
            .is_some_and(|id| queue.progress(id).unwrap().unwrap().ended() > 0)
    });
    id.unwrap()
}

/// A `slate backfill` on PostgreSQL state waits out an outage of the
/// database (here its connections ended and refused for 15 s)
/// and then runs the rest, as a server's queue slots do. Before, the first
/// "unreachable" ended the command with exit 1 and left its backfill's
/// tasks queued with nobody to work them.
#[test]
fn a_slate_backfill_waits_out_an_outage_of_its_state_database_and_runs_the_rest() {
    let url = isolated_url();
    let folder = host_folder();
    load_demo_season(&url, folder.path());
    // From the day after the demo's planted missing date.
    let backfill = a_backfill_started(
        &url,
        folder.path(),
        &[
            "--from",
            "2026-01-07",
            "--processors",
            "PlayerGameSummaryProcessor",
        ],
    );
    let store = PostgresStore::connect(&url).unwrap();
    let queue = store.work_queue().expect("PostgreSQL keeps a work queue");
    let id = the_backfill_once_it_has_run_a_task(&url, queue);

    // Longer than a connection is waited for (10 s): the store answers
    // "unreachable".
    allow_connections(&url, false);
    std::thread::sleep(std::time::Duration::from_secs(15));
    allow_connections(&url, true);

    let output = backfill.wait_with_output().unwrap();
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert_contains(&said, "the state database is unreachable: waiting for it");
    assert_contains(&said, "the state database answers again");
    let progress = queue.progress(&id).unwrap().unwrap();
    assert!(progress.is_finished(), "{progress:?}");
    assert_eq!(progress.succeeded, progress.planned, "{progress:?}");
}

#[test]
fn a_slate_backfill_whose_cluster_backfill_is_cancelled_exits_1_saying_what_was_not_run() {
    let url = isolated_url();
    let folder = host_folder();
    load_demo_season(&url, folder.path());
    let backfill = a_backfill_started(&url, folder.path(), &["--from", "2025-10-21"]);
    let store = PostgresStore::connect(&url).unwrap();
    let queue = store.work_queue().expect("PostgreSQL keeps a work queue");
    let id = the_backfill_once_it_has_run_a_task(&url, queue);
    let slate::store::work_queue::Cancel::Cancelled { tasks: not_run } =
        queue.cancel_backfill(&id).unwrap()
    else {
        panic!("the backfill was running");
    };
    assert!(not_run > 0);

    let output = backfill.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let progress = queue.progress(&id).unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_contains(
        &stdout,
        &format!("{} not run: cancelled at", progress.cancelled),
    );
}

#[test]
fn postgres_state_refuses_what_it_cannot_do_as_a_usage_error() {
    let folder = host_folder();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--warehouse", "postgres", "runs"],
            "--warehouse postgres needs --state postgres://",
        ),
        // Without a database name, PostgreSQL takes the user's name.
        (
            &["--state", "postgres://slate@127.0.0.1:55432", "hosts"],
            "names no database",
        ),
        (
            &[
                "--state",
                "postgres://slate@127.0.0.1:1/slate",
                "--warehouse",
                "embedded",
                "runs",
            ],
            "use --warehouse postgres or bigquery",
        ),
        (
            &["--state", "not a url", "runs"],
            "--state `not a url` is not a PostgreSQL URL",
        ),
    ];
    for (args, message) in cases {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
            .arg("--data-dir")
            .arg(folder.path())
            .args(args)
            .env_remove("SLATE_STATE_URL")
            .env_remove("SLATE_WAREHOUSE")
            .output()
            .unwrap();
        assert_contains(&stderr(&output), message);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
    }

    // A database that does not exist is named as such, not "db error".
    let url = isolated_url();
    let missing = format!("{}_missing", url);
    let output = slate(folder.path(), &["--state", &missing, "hosts"]);
    assert_eq!(output.status.code(), Some(1));
    assert_contains(&stderr(&output), "does not exist");
}

/// Ends every connection to the database at `url` but the one asking, as
/// an administrator's `pg_terminate_backend` or a failover does; returns
/// how many it ended.
fn end_every_other_connection(url: &str) -> i64 {
    let mut admin = postgres::Client::connect(url, postgres::NoTls).unwrap();
    admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0)
}

/// A cluster backfill cancelled while a task of it runs reads `running`
/// with its `cancelled_at` until that run ends, and a second cancel says
/// it was cancelled: as a backfill of one host does. Before, it read
/// `cancelled` with a run of it still going.
#[test]
fn a_cluster_backfill_cancelled_mid_run_reads_running_until_the_run_ends() {
    let url = isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    set_spin(&store, date("2026-01-01"), true);
    let folder = host_folder();
    let plugins = plugin_dir(&[components::SLOW_PROCESSOR]);
    let server = Server::start(
        folder.path(),
        &[
            "--state",
            url.as_str(),
            "--workers",
            "2",
            "--grace-secs",
            "1",
            "--plugin-dir",
            plugins.path().to_str().unwrap(),
        ],
    );
    let (status, accepted) = server.post(
        "/backfill",
        json!({
            "start_date": "2026-01-01",
            "end_date": "2026-01-03",
            "processors": ["SlowProcessor"],
            "reprocess": "all",
            "parallelism": 1
        }),
    );
    assert_eq!(status, 202, "{accepted}");
    let path = format!("/backfills/{}", accepted["backfill_id"].as_str().unwrap());
    wait_until("the spinning task runs", || {
        !store
            .runs(&RunFilter {
                status: Some(RunStatus::Running),
                ..RunFilter::default()
            })
            .unwrap()
            .is_empty()
    });

    let (status, cancelling) = server.delete(&path);
    assert_eq!(status, 202, "{cancelling}");
    assert_eq!(cancelling["state"], "running", "{cancelling}");
    assert!(cancelling["cancelled_at"].is_string(), "{cancelling}");
    assert_eq!(server.get(&path).1["state"], "running");
    let (status, again) = server.delete(&path);
    assert_eq!(status, 409, "{again}");
    assert_contains(
        again["error"].as_str().unwrap(),
        "was already cancelled at ",
    );
    assert!(server.terminate().success());
}

/// A server of a cluster keeps one worker free of backfill tasks, as a
/// one-host backfill does: a `POST /process-date` while every task spins
/// is answered at once. Before, a task loop ran on every worker, and the
/// request waited for a spinning task's CPU limit (63 s in the probe).
#[test]
fn a_cluster_server_keeps_a_worker_for_one_off_runs_while_tasks_spin() {
    let url = isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    for day in ["2026-01-01", "2026-01-02"] {
        set_spin(&store, date(day), true);
    }
    let folder = host_folder();
    let plugins = plugin_dir(&[components::SLOW_PROCESSOR, components::VERSIONED_V1]);
    let plugins_arg = plugins.path().to_str().unwrap();
    let server = Server::start(
        folder.path(),
        &[
            "--state",
            url.as_str(),
            "--workers",
            "2",
            "--plugin-dir",
            plugins_arg,
        ],
    );
    let (status, accepted) = server.post(
        "/backfill",
        json!({
            "start_date": "2026-01-01",
            "end_date": "2026-01-02",
            "processors": ["SlowProcessor"],
            "reprocess": "all"
        }),
    );
    assert_eq!(status, 202, "{accepted}");
    let spinning = || {
        store
            .runs(&RunFilter {
                processor: Some("SlowProcessor".into()),
                status: Some(RunStatus::Running),
                ..RunFilter::default()
            })
            .unwrap()
            .len()
    };
    wait_until("a task spins", || spinning() > 0);
    let asked = std::time::Instant::now();
    let answer = server.process("VersionedProcessor", "2026-01-09");
    assert_eq!(answer["status"], "success", "{answer}");
    assert!(
        spinning() > 0,
        "answered while the tasks still spin ({:?} after asking)",
        asked.elapsed()
    );
    assert_eq!(spinning(), 1, "one task loop for two workers");
}

/// While the state database takes no connection (down, or unreachable), a
/// request is answered 503 with `Retry-After`, which says to try again,
/// not 500; once the database is back, the same requests work.
#[test]
fn requests_while_the_state_database_is_unreachable_get_503_and_work_again_after() {
    let url = isolated_url();
    let folder = host_folder();
    let server = Server::start(folder.path(), &["--state", url.as_str(), "--workers", "1"]);
    assert_eq!(server.get("/runs").0, 200);
    allow_connections(&url, false);
    // A deploy, which locks the registry on a connection of its own, is
    // not "rejected by the registry check" with a 500 either.
    let component = std::fs::read(components::VERSIONED_V1).unwrap();
    let (status, refused) = server.put_component("VersionedProcessor", &component);
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["check"], "unavailable", "{refused}");
    assert_contains(refused["error"].as_str().unwrap(), "unreachable");
    for path in ["/runs", "/plugins", "/hosts"] {
        let mut response = crate::serve_process::agent()
            .get(server.url(path))
            .call()
            .unwrap();
        let body = response.body_mut().read_to_string().unwrap();
        assert_eq!(response.status().as_u16(), 503, "{path}: {body}");
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap()),
            Some("5"),
            "{path}"
        );
        assert_contains(&body, "unreachable");
    }
    allow_connections(&url, true);
    wait_until("the database is back", || server.get("/runs").0 == 200);
    assert_eq!(server.get("/plugins").0, 200);
}

/// Takes the database at `url` away, as an outage does: it takes no new
/// connection, and every open one is ended. Or, with `allowed`, gives it
/// back.
fn allow_connections(url: &str, allowed: bool) {
    let (_, database) = url.rsplit_once('/').unwrap();
    let mut admin =
        postgres::Client::connect(crate::postgres_server::server_url(), postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {database} ALLOW_CONNECTIONS {allowed}"
        ))
        .unwrap();
    if !allowed {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&database],
            )
            .unwrap();
    }
}

/// A read while the database is gone (its connections ended, new ones
/// refused) is `InputError::Unreachable`, which fails the run with kind
/// `unreachable`, not `input`: the date's data is not at fault, and a
/// backfill runs it again. Once the database is back, the same read works.
#[test]
fn a_read_while_the_database_is_gone_is_unreachable_and_works_once_it_is_back() {
    use slate::store::InputError;

    let url = isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    let day = date("2026-01-12");
    set_spin(&store, day, true);
    let control = slate::schema::TableName::new("slate_test", "slow_control");
    // A first read leaves the pool holding open connections.
    assert_eq!(store.read_rows(&control, day, day).unwrap().rows.len(), 1);

    allow_connections(&url, false);
    let refused = store.read_rows(&control, day, day).unwrap_err();
    allow_connections(&url, true);

    assert!(matches!(refused, InputError::Unreachable(_)), "{refused:?}");
    assert_contains(&refused.to_string(), "the store's database is unreachable");
    assert_eq!(store.read_rows(&control, day, day).unwrap().rows.len(), 1);
}

#[test]
fn a_host_whose_connections_postgresql_closed_mid_run_reconnects_and_records_the_runs_end() {
    let url = isolated_url();
    let store = Arc::new(PostgresStore::connect(&url).unwrap());
    let (yesterday, today) = (date("2026-01-10"), date("2026-01-11"));
    set_spin(store.as_ref(), yesterday, false);
    set_spin(store.as_ref(), today, false);
    let runtime = Runtime::new(Some(&shared_compiled_cache())).unwrap();
    let slow = runtime
        .load(&std::fs::read(components::SLOW_PROCESSOR).unwrap())
        .unwrap();
    let executor = host_on(store.clone(), "host-a");
    // A first run leaves the host's pool holding open connections.
    let first = executor
        .execute(&slow, yesterday, slate::runs::Trigger::Cli)
        .unwrap();
    assert_eq!(first.status, RunStatus::Success);

    // Claimed, and then every pooled connection is closed under it: its
    // read, its commit and the end of its record all find them dead.
    let claim = executor
        .claim(&slow, today, slate::runs::Trigger::Cli)
        .unwrap();
    assert!(end_every_other_connection(&url) >= 1);
    let ended = executor.execute_claim(claim, None).unwrap();

    assert_eq!(
        (ended.status, ended.error_message.as_deref()),
        (RunStatus::Success, None)
    );
    assert_eq!(ended.rows_written, 3);
    assert_eq!(
        crate::support::runs_still_running(store.as_ref()),
        Vec::<RunRecord>::new(),
        "no run is left running to be reaped as if its host had died"
    );
}

#[test]
fn a_run_reaped_by_another_host_while_it_still_runs_is_told_so_and_writes_nothing() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let url = isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    let plugins = plugin_dir(&[components::SLOW_PROCESSOR]);
    let folder = host_folder();
    let day = date("2026-01-11");
    set_spin(&store, day, true);

    // Host A runs SlowProcessor, which spins, renewing its lease every 0.1 s.
    let mut host_a = Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(folder.path())
        .args(["--state", &url, "--plugin-dir"])
        .arg(plugins.path())
        .args(["--heartbeat-secs", "0.1", "--lease-secs", "60"])
        .args([
            "run",
            "--date",
            "2026-01-11",
            "--processors",
            "SlowProcessor",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, said) = std::sync::mpsc::channel();
    let stderr_of_a = host_a.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr_of_a).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let running = || {
        store
            .runs(&RunFilter {
                processor: Some("SlowProcessor".into()),
                ..RunFilter::default()
            })
            .unwrap()
            .into_iter()
            .find(|run| run.status == RunStatus::Running && run.heartbeat_at > run.started_at)
    };
    wait_until("host A's run has renewed its lease", || running().is_some());
    let run = running().unwrap();

    // Host B decides that A is gone, and reaps its run: at an instant past
    // any lease A can have renewed to (60 s), so that A's heartbeats, every
    // 0.1 s, cannot slip in between B's decision and its reap.
    let past_any_lease = chrono::Utc::now() + chrono::Duration::seconds(120);
    let reaped = store.reap_stale(past_any_lease).unwrap();
    assert_eq!(reaped.len(), 1);
    assert_reaped_as_stale(&reaped[0], &run.host_id, reaped[0].heartbeat_at);

    // A's next heartbeat finds the lease lost, and says so.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let warning = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match said.recv_timeout(left) {
            Ok(line) if line.contains("lost its lease") => break line,
            Ok(_) => {}
            Err(_) => panic!("host A never said its run lost its lease"),
        }
    };
    assert_contains(&warning, &run.run_id);
    host_a.kill().unwrap();
    host_a.wait().unwrap();

    let record = store.run(&run.run_id).unwrap().unwrap();
    assert_eq!(record, reaped[0], "the record stays as the reaper left it");
    assert_eq!(
        store
            .rows_on(&slate::schema::TableName::new("slate_test", "slow"), day)
            .unwrap(),
        0
    );
}

#[test]
fn a_version_deployed_on_one_host_is_loaded_by_the_others_before_their_next_run() {
    use slate::plugin::content_hash;
    use slate::registry::Registry;

    let url = isolated_url();
    let folders: Vec<_> = (0..2).map(|_| host_folder()).collect();
    let [a, b] = [0, 1].map(|i| Server::start(folders[i].path(), &["--state", &url]));
    let v1 = std::fs::read(components::VERSIONED_V1).unwrap();
    let v2 = std::fs::read(components::VERSIONED_V2).unwrap();
    let (h1, h2) = (content_hash(&v1), content_hash(&v2));
    let run_hash = |host: &Server, entry: &Json| {
        let (_, record) = host.get(&format!("/runs/{}", entry["run_id"].as_str().unwrap()));
        record["plugin_hash"].as_str().unwrap().to_string()
    };

    let (status, deployed) = a.put_component("VersionedProcessor", &v1);
    assert_eq!(status, 200, "{deployed}");
    let first = b.process("VersionedProcessor", "2026-01-10");
    assert_eq!(
        (first["rows"].as_i64(), run_hash(&b, &first)),
        (Some(2), h1.clone())
    );

    // Host A deploys v2. Host B hears of it and compiles it before it is
    // asked to run anything.
    let (status, deployed) = a.put_component("VersionedProcessor", &v2);
    assert_eq!(status, 200, "{deployed}");
    let looker = tempfile::tempdir().unwrap();
    let registry = Registry::connect(&url, looker.path(), "test").unwrap();
    let b_host = format!(":{}", b.child.id());
    wait_until("host B has compiled v2", || {
        registry
            .compiled()
            .unwrap()
            .iter()
            .any(|c| c.hash == h2 && c.host_id.ends_with(&b_host))
    });
    let second = b.process("VersionedProcessor", "2026-01-11");
    assert_eq!(
        (second["rows"].as_i64(), run_hash(&b, &second)),
        (Some(3), h2.clone())
    );

    // One registry: the bytes are stored once, every host sees the same
    // history, and `slate plugins` names the hosts that compiled v2.
    let history = b.get("/plugins/VersionedProcessor/history").1;
    assert_eq!(history[0]["hash"], h2.as_str(), "{history}");
    assert_eq!(history[1]["hash"], h1.as_str(), "{history}");
    let plugins = slate(looker.path(), &["--state", &url, "plugins"]);
    let listing = String::from_utf8_lossy(&plugins.stdout);
    let line = listing
        .lines()
        .find(|line| line.contains(&h2))
        .unwrap_or_else(|| panic!("{listing}"));
    for host in [&a, &b] {
        assert_contains(line, &format!(":{}", host.child.id()));
    }

    // The shared registry's shadows: one host sets it, another drops it;
    // and activating the shadow's own bytes ends it as a shadow.
    let (status, _) = a.put_component("VersionedProcessor?shadow=true", &v1);
    assert_eq!(status, 200);
    assert_eq!(registry.shadows().unwrap().len(), 1);
    let (status, dropped) = b.delete("/plugins/VersionedProcessor/shadow");
    assert_eq!(status, 200, "{dropped}");
    assert!(registry.shadows().unwrap().is_empty());
    let (status, _) = a.put_component("VersionedProcessor?shadow=true", &v1);
    assert_eq!(status, 200);
    let (status, _) = b.put_component("VersionedProcessor", &v1);
    assert_eq!(status, 200);
    assert!(
        registry.shadows().unwrap().is_empty(),
        "v1 is active, not a shadow"
    );
}

/// Every output table's rows from `first` to `last` at `url`, by table.
fn output_rows(
    url: &str,
    (first, last): (chrono::NaiveDate, chrono::NaiveDate),
) -> BTreeMap<String, slate::rows::RowSet> {
    let store = PostgresStore::connect(url).unwrap();
    store
        .table_owners()
        .unwrap()
        .into_iter()
        .filter(|owned| owned.owner.processor().is_some())
        .map(|owned| {
            let rows = store.read_rows(&owned.table, first, last).unwrap();
            (owned.table.to_string(), rows)
        })
        .collect()
}

#[test]
fn a_season_backfill_spreads_over_three_hosts_and_writes_what_one_host_writes() {
    // The whole season; both leave alone 2026-01-05, which
    // `load_demo_season` ran.
    let (first, last) = ("2025-10-21", "2026-04-12");
    let backfill = |url: &str, folder: &Path, parallelism: &[&str]| {
        let range = ["--state", url, "backfill", "--from", first, "--to", last];
        slate(folder, &[&range[..], parallelism].concat())
    };

    // One host alone.
    let alone = isolated_url();
    let alone_folder = host_folder();
    load_demo_season(&alone, alone_folder.path());
    let one_host = backfill(&alone, alone_folder.path(), &["--parallelism", "2"]);

    // Two servers, and the command line's own host, on another database.
    let shared = isolated_url();
    let loader = host_folder();
    load_demo_season(&shared, loader.path());
    let folders: Vec<_> = (0..2).map(|_| host_folder()).collect();
    let servers: Vec<Server> = folders
        .iter()
        .map(|folder| Server::start(folder.path(), &["--state", &shared]))
        .collect();
    // No --parallelism: every host's workers take part.
    let three_hosts = backfill(&shared, loader.path(), &[]);

    // 2026-01-06 has no box scores: both fail the same runs.
    assert_eq!(one_host.status.code(), Some(1), "{}", stderr(&one_host));
    assert_eq!(
        three_hosts.status.code(),
        Some(1),
        "{}",
        stderr(&three_hosts)
    );
    let summary = |output: &std::process::Output| {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_string()
    };
    let cluster_summary = summary(&three_hosts);
    assert_contains(&cluster_summary, "on 3 host(s)");
    assert_contains(&cluster_summary, "3 failed, 6 blocked");
    let cluster_output = String::from_utf8_lossy(&three_hosts.stdout).into_owned();
    for server in &servers {
        assert_contains(&cluster_output, &format!(":{} ", server.child.id()));
    }
    assert_contains(&summary(&one_host), "3 failed");

    // The same rows, table by table, in the same order, value for value.
    let range = (date(first), date(last));
    let expected = output_rows(&alone, range);
    let actual = output_rows(&shared, range);
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        actual.keys().collect::<Vec<_>>()
    );
    for (table, rows) in &expected {
        let written = &actual[table];
        assert!(!rows.rows.is_empty(), "{table} has rows in the range");
        assert_eq!(written.columns, rows.columns, "{table}");
        assert_eq!(written.rows.len(), rows.rows.len(), "{table}");
        if let Some(index) = (0..rows.rows.len()).find(|&i| written.rows[i] != rows.rows[i]) {
            panic!(
                "{table} row {index}: one host wrote {:?}, three wrote {:?}",
                rows.rows[index], written.rows[index]
            );
        }
    }

    // The same phase events, each date's once: the host that ended a
    // date's last task recorded them.
    let alone_events = phase_events(&alone);
    assert!(alone_events.len() >= 3 * 160, "{}", alone_events.len());
    assert_eq!(phase_events(&shared), alone_events);
}

/// Every phase event in the outbox at `url`: its date, subject, event,
/// state and how many times it was recorded, sorted.
fn phase_events(url: &str) -> Vec<(String, String, String, String, i64)> {
    let store = PostgresStore::connect(url).unwrap();
    let outbox = store.alert_outbox().expect("PostgreSQL keeps an outbox");
    let mut events: Vec<_> = outbox
        .alerts(false, 100_000)
        .unwrap()
        .into_iter()
        .filter(|alert| alert.raised.subject.starts_with("phase "))
        .map(|alert| {
            (
                format!("{:?}", alert.raised.data_date),
                alert.raised.subject,
                alert.raised.event.as_str().to_string(),
                format!("{:?}", alert.state),
                alert.occurrences,
            )
        })
        .collect();
    events.sort();
    events
}

#[test]
fn hosts_killed_and_restarted_twenty_times_during_a_backfill_lose_no_task_and_run_none_twice() {
    use rand::{Rng, SeedableRng};

    let url = isolated_url();
    let loader = host_folder();
    load_demo_season(&url, loader.path());
    // Short leases, so that a killed host's runs are reaped, and its tasks
    // queued again, within a couple of seconds.
    let args = [
        "--state",
        &url,
        "--heartbeat-secs",
        "0.2",
        "--lease-secs",
        "1.5",
        "--workers",
        "2",
    ];
    let folders: Vec<_> = (0..3).map(|_| host_folder()).collect();
    let mut hosts: Vec<Server> = folders
        .iter()
        .map(|folder| Server::start(folder.path(), &args))
        .collect();
    // A cap past any cluster (it had wrapped to -1 in the queue, and the
    // backfill never ran) is refused, naming it.
    for too_many in [json!(18446744073709551615u64), json!(10_001)] {
        let (status, refused) = hosts[0].post(
            "/backfill",
            json!({"start_date": "2026-01-06", "end_date": "2026-01-07", "parallelism": too_many}),
        );
        assert_eq!(
            (status, &refused["field"]),
            (400, &json!("parallelism")),
            "{refused}"
        );
    }
    let (status, accepted) = hosts[0].post(
        "/backfill",
        json!({"start_date": "2026-01-06", "end_date": "2026-02-14", "parallelism": 4}),
    );
    // Four takes at once across the cluster: more than one server's pool.
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["cluster"], true, "{accepted}");
    let id = accepted["backfill_id"].as_str().unwrap().to_string();
    let (status, progress) = hosts[1].get(&format!("/backfills/{id}"));
    assert_eq!(
        (status, &progress["parallelism"]),
        (200, &json!(4)),
        "{progress}"
    );
    let planned = accepted["planned"].as_u64().unwrap() as usize;
    // 40 days, less the first two of the All-Star break (no games).
    assert_eq!(accepted["dates_without_games"], 2, "{accepted}");
    assert_eq!(planned, 38 * 9);

    // Kill -9 a random host, and start it again, twenty times.
    let mut random = rand_chacha::ChaCha8Rng::seed_from_u64(17);
    for _ in 0..20 {
        std::thread::sleep(std::time::Duration::from_millis(
            random.random_range(150..500),
        ));
        let victim = random.random_range(0..hosts.len());
        hosts[victim].child.kill().unwrap();
        hosts[victim].child.wait().unwrap();
        hosts[victim] = Server::start(folders[victim].path(), &args);
    }

    let store = PostgresStore::connect(&url).unwrap();
    let queue = store.work_queue().expect("PostgreSQL keeps a work queue");
    let mut progress = None;
    wait_until("the backfill has ended", || {
        progress = queue.progress(&id).unwrap();
        progress.as_ref().is_some_and(|p| p.is_finished())
    });
    let progress = progress.unwrap();
    wait_until("no run is left running", || {
        store
            .runs(&RunFilter {
                status: Some(RunStatus::Running),
                ..RunFilter::default()
            })
            .unwrap()
            .is_empty()
    });

    // No task lost: every one ended, as a backfill without kills ends them
    // (2026-01-06 has no box scores: 3 failures and 6 blocked downstream).
    assert_eq!(progress.planned, planned);
    assert_eq!(
        (progress.failed, progress.blocked, progress.succeeded),
        (3, 6, planned - 9),
        "{:#?}",
        progress.problems
    );
    // None ran twice to success, and each table holds each date once,
    // whole: the rows of its one successful run.
    let owners = store.table_owners().unwrap();
    let days: Vec<String> = (0..40)
        .map(|i| (date("2026-01-06") + chrono::Days::new(i)).to_string())
        .collect();
    let days: Vec<&str> = days.iter().map(String::as_str).collect();
    for ((processor, day), runs) in runs_by_processor_and_date(&store, &days) {
        let successes: Vec<&RunRecord> = runs
            .iter()
            .filter(|run| {
                run.status == RunStatus::Success && run.started_at >= progress.enqueued_at
            })
            .collect();
        let failed_or_blocked = progress
            .problems
            .iter()
            .any(|p| p.processor == processor && p.date == day);
        assert_eq!(
            successes.len(),
            usize::from(!failed_or_blocked),
            "{processor} on {day}: {runs:#?}"
        );
        if let Some(success) = successes.first() {
            let owned = owners
                .iter()
                .find(|o| o.owner.processor() == Some(&processor))
                .unwrap();
            assert_eq!(
                store.rows_on(&owned.table, day).unwrap(),
                success.rows_written as u64,
                "{} on {day}",
                owned.table
            );
        }
    }
}

#[test]
fn the_cluster_view_shows_every_host_live_stopped_or_gone_with_its_runs_and_versions() {
    let url = isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    let plugins = plugin_dir(&[components::SLOW_PROCESSOR]);
    set_spin(&store, date("2026-01-11"), true);
    let args = [
        "--state",
        &url,
        "--plugin-dir",
        plugins.path().to_str().unwrap(),
        "--heartbeat-secs",
        "0.2",
        "--lease-secs",
        "1",
    ];
    let folders: Vec<_> = (0..3).map(|_| host_folder()).collect();
    let [a, b, c] = [0, 1, 2].map(|i| Server::start(folders[i].path(), &args));
    let id_of = |server: &Server| format!(":{}", server.child.id());
    let (a_id, b_id, c_id) = (id_of(&a), id_of(&b), id_of(&c));

    // B runs SlowProcessor, which spins; A deploys a version, which B and C
    // compile when they hear of it.
    let (status, started) = b.post(
        "/process-date",
        json!({"processors": ["SlowProcessor"], "analysis_date": "2026-01-11", "async": true}),
    );
    assert_eq!(status, 202, "{started}");
    let v1 = std::fs::read(components::VERSIONED_V1).unwrap();
    let (status, deployed) = a.put_component("VersionedProcessor", &v1);
    assert_eq!(status, 200, "{deployed}");
    let hash = slate::plugin::content_hash(&v1);
    let host_in = |hosts: &Json, id: &str| -> Json {
        hosts
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["host_id"].as_str().unwrap().ends_with(id))
            .cloned()
            .unwrap_or(Json::Null)
    };
    let mut hosts = Json::Null;
    wait_until(
        "every host is live, B runs, and all compiled the version",
        || {
            hosts = a.get("/hosts").1;
            [&a_id, &b_id, &c_id].iter().all(|id| {
                let host = host_in(&hosts, id);
                host["live"] == true
                    && host["compiled"]
                        .as_array()
                        .is_some_and(|c| c.contains(&json!(hash)))
            }) && host_in(&hosts, &b_id)["running"][0]["processor"] == "SlowProcessor"
        },
    );
    assert_eq!(host_in(&hosts, &b_id)["address"], b.base.as_str());
    assert_eq!(host_in(&hosts, &a_id)["running"], json!([]));

    // A stops cleanly; C dies.
    a.terminate();
    let (mut c, b) = (c, b);
    c.child.kill().unwrap();
    c.child.wait().unwrap();
    wait_until("A is stopped and C is gone", || {
        hosts = b.get("/hosts").1;
        let (a_host, c_host) = (host_in(&hosts, &a_id), host_in(&hosts, &c_id));
        a_host["stopped_at"].is_string() && a_host["live"] == false && c_host["live"] == false
    });
    assert!(
        host_in(&hosts, &c_id)["stopped_at"].is_null(),
        "C never said it stopped"
    );

    // The command line shows the same.
    let listing = slate(folders[0].path(), &["--state", &url, "hosts"]);
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    let line_of = |id: &str| {
        listing
            .lines()
            .find(|line| line.contains(id))
            .unwrap_or_else(|| panic!("{listing}"))
            .to_string()
    };
    assert_contains(&line_of(&a_id), "stopped");
    assert_contains(&line_of(&a_id), "none (stopped)");
    assert_contains(&line_of(&c_id), "gone (no heartbeat)");
    // C died serving: its last heartbeat's word stands.
    assert_contains(&line_of(&c_id), " processors");
    assert_contains(&line_of(&b_id), "live");
    assert_contains(&line_of(&b_id), "SlowProcessor 2026-01-11");
    assert_contains(&line_of(&b_id), &hash[..12]);
}

/// The command line of a host keeping run state at `url` and tables in
/// BigQuery (the emulator, in datasets of `config`'s own), running
/// `processor` from `plugins` on `day`, aborting at `failpoint`.
fn split_run(
    url: &str,
    config: &slate::store::BigQueryConfig,
    (plugins, processor): (&Path, &str),
    day: &str,
    failpoint: &str,
) -> std::process::Output {
    let folder = host_folder();
    std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(folder.path())
        .args(["--state", url, "--warehouse", "bigquery"])
        .args(["--bigquery-project", crate::emulator::PROJECT])
        .args(["--bigquery-endpoint", crate::emulator::endpoint()])
        .args(["--bigquery-dataset-prefix", &config.dataset_prefix])
        .arg("--plugin-dir")
        .arg(plugins)
        .args(["run", "--date", day, "--processors", processor])
        .env("RUST_LOG", "error")
        .env(slate::store::split::FAILPOINT, failpoint)
        .output()
        .expect("run slate")
}

#[test]
fn a_host_that_dies_between_the_bigquery_commit_and_postgres_success_is_recovered_from_the_commit_log()
 {
    use slate::store::{BigQueryStore, SplitStore};

    let url = isolated_url();
    let config = crate::emulator::isolated_config();
    let plugins = plugin_dir(&[components::VERSIONED_V1]);
    let store = SplitStore::new(
        PostgresStore::connect(&url).unwrap(),
        BigQueryStore::connect(&config).unwrap(),
    );
    let table = slate::schema::TableName::new("slate_test", "versioned");
    let only_run = |day: &str| {
        let runs = store
            .runs(&RunFilter {
                date: Some(date(day)),
                ..RunFilter::default()
            })
            .unwrap();
        assert_eq!(runs.len(), 1, "{runs:#?}");
        runs.into_iter().next().unwrap()
    };

    // A clean run: BigQuery holds the rows, PostgreSQL the success.
    let versioned = (plugins.path(), "VersionedProcessor");
    let clean = split_run(&url, &config, versioned, "2026-01-09", "none");
    assert_succeeded(&clean);
    assert_eq!(only_run("2026-01-09").status, RunStatus::Success);
    assert_eq!(store.rows_on(&table, date("2026-01-09")).unwrap(), 2);

    // Killed after BigQuery committed, before PostgreSQL recorded it.
    let killed = split_run(
        &url,
        &config,
        versioned,
        "2026-01-10",
        "after-warehouse-commit",
    );
    assert!(!killed.status.success());
    assert_contains(&stderr(&killed), "after-warehouse-commit: aborting here");
    let stranded = only_run("2026-01-10");
    assert_eq!(stranded.status, RunStatus::Running);
    assert_eq!(store.rows_on(&table, date("2026-01-10")).unwrap(), 2);

    // The next host to start on this machine finds the killed one gone,
    // and reaps its run from the commit log: a success, with its rows and
    // a note. That host is then killed before BigQuery commits.
    let early = split_run(
        &url,
        &config,
        versioned,
        "2026-01-11",
        "before-warehouse-commit",
    );
    assert!(!early.status.success());
    assert_contains(&stderr(&early), "before-warehouse-commit: aborting here");
    let recovered = only_run("2026-01-10");
    assert_eq!(
        (
            recovered.status,
            recovered.rows_written,
            recovered.error_kind
        ),
        (RunStatus::Success, 2, None),
        "{recovered:#?}"
    );
    assert_contains(
        recovered.reason.as_deref().unwrap_or_default(),
        "committed in the warehouse (its commit log has the run), but host ",
    );
    let unwritten = only_run("2026-01-11");
    assert_eq!(unwritten.status, RunStatus::Running);
    assert_eq!(store.rows_on(&table, date("2026-01-11")).unwrap(), 0);

    // Another host reaps that one: no commit log entry, so it failed.
    store
        .expire_leases(&unwritten.host_id, chrono::Utc::now())
        .unwrap();
    let reaped = store.reap_stale(chrono::Utc::now()).unwrap();
    assert_eq!(reaped.len(), 1, "{reaped:#?}");
    let failed = only_run("2026-01-11");
    assert_eq!(failed, reaped[0]);
    assert_reaped_as_stale(&failed, &unwritten.host_id, failed.heartbeat_at);
    // BigQuery agrees with the history on every date.
    assert_eq!(store.rows_on(&table, date("2026-01-10")).unwrap(), 2);
    assert_eq!(store.rows_on(&table, date("2026-01-11")).unwrap(), 0);
    assert!(
        store.reap_stale(chrono::Utc::now()).unwrap().is_empty(),
        "reaped once"
    );
}

/// A host killed between the BigQuery commit and PostgreSQL's record of
/// it loses nothing of what the run would have recorded: the reaper takes
/// its quarantined row (with its field errors), its figures and its alert
/// from the commit, as the host would have recorded them.
#[test]
fn a_run_recovered_from_the_commit_log_keeps_its_quarantined_rows_figures_and_alert() {
    use slate::store::{BigQueryStore, SplitStore};

    let url = isolated_url();
    let config = crate::emulator::isolated_config();
    let plugins = plugin_dir(&[components::ONE_BAD_ROW_QUARANTINED]);
    let store = SplitStore::new(
        PostgresStore::connect(&url).unwrap(),
        BigQueryStore::connect(&config).unwrap(),
    );
    let quarantining = (plugins.path(), "OneBadRowQuarantined");
    let killed = split_run(
        &url,
        &config,
        quarantining,
        "2026-01-10",
        "after-warehouse-commit",
    );
    assert!(!killed.status.success());
    assert_contains(&stderr(&killed), "after-warehouse-commit: aborting here");
    let runs = store.runs(&RunFilter::default()).unwrap();
    let [stranded] = runs.as_slice() else {
        panic!("one run: {runs:#?}");
    };
    assert_eq!(stranded.status, RunStatus::Running);

    store
        .expire_leases(&stranded.host_id, chrono::Utc::now())
        .unwrap();
    let reaped = store.reap_stale(chrono::Utc::now()).unwrap();
    let [recovered] = reaped.as_slice() else {
        panic!("one run reaped: {reaped:#?}");
    };
    assert_eq!(
        (recovered.status, recovered.rows_written),
        (RunStatus::Success, 198),
        "{recovered:#?}"
    );
    let reason = recovered.reason.as_deref().unwrap_or_default();
    assert_contains(reason, "recovered by the reaper");
    assert_contains(
        reason,
        &format!(
            "quarantined 1 bad row (see `slate quarantine --run {}`)",
            recovered.run_id
        ),
    );
    assert!(recovered.peak_memory_bytes > 0, "{recovered:#?}");

    let quarantined = store.quarantined(Some(&recovered.run_id), None).unwrap();
    let [bad] = quarantined.as_slice() else {
        panic!("one quarantined row: {quarantined:#?}");
    };
    assert_eq!(
        (bad.row_index, bad.table_name.as_str(), bad.data_date),
        (
            137,
            "slate_test.one_bad_row_quarantined",
            date("2026-01-10")
        )
    );
    assert_eq!(bad.errors[0].field, "circuit_breaker_until", "{bad:#?}");
    assert_eq!(bad.raw_row.parsed()["circuit_breaker_until"], 1_700_000_000);

    let alerts = store.alert_outbox().unwrap().alerts(true, 10).unwrap();
    assert!(
        alerts.iter().any(
            |a| a.raised.event == slate::alerts::EventKind::RowsQuarantined
                && a.raised.run_id.as_deref() == Some(recovered.run_id.as_str())
        ),
        "{alerts:#?}"
    );
}

#[test]
fn two_hosts_on_one_database_deliver_a_runs_alert_exactly_once() {
    use crate::alert_receiver::{Answer, Receiver};

    let receiver = Receiver::start(Answer::Ok);
    let url = isolated_url();
    let plugins = plugin_dir(&[components::FAULTY_PROCESSOR]);
    let folders: Vec<_> = (0..2)
        .map(|_| {
            let folder = host_folder();
            std::fs::write(
                folder.path().join("slate.toml"),
                format!(
                    "[alerts]\n[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\n\
                     url = \"{}\"\nevents = [\"run_failed\"]\n",
                    receiver.url("hook")
                ),
            )
            .unwrap();
            folder
        })
        .collect();
    let args = [
        "--state",
        &url,
        "--plugin-dir",
        plugins.path().to_str().unwrap(),
    ];
    let [a, b] = [0, 1].map(|i| Server::start(folders[i].path(), &args));

    // FaultyProcessor fails on the 2nd of a month: once on each host.
    for host in [&a, &b] {
        let failed = host.process("FaultyProcessor", "2026-01-02");
        assert_eq!(failed["status"], "failed", "{failed}");
    }
    wait_until("the alert is delivered", || !receiver.accepted().is_empty());
    std::thread::sleep(std::time::Duration::from_secs(3));
    let sent = receiver.accepted();
    assert_eq!(sent.len(), 1, "one open alert, sent by one host: {sent:#?}");
    assert_eq!(sent[0]["event"], "run_failed");
    assert_eq!(sent[0]["transition"], "opened");
    let store = PostgresStore::connect(&url).unwrap();
    let open: Vec<_> = store
        .alert_outbox()
        .unwrap()
        .alerts(true, 10)
        .unwrap()
        .into_iter()
        .filter(|alert| alert.raised.event == slate::alerts::event::EventKind::RunFailed)
        .collect();
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(
        open[0].occurrences, 2,
        "the second host's failure counted up"
    );
}

#[test]
fn a_host_without_a_tasks_processor_leaves_the_task_to_one_that_has_it() {
    let url = isolated_url();
    let plugins = plugin_dir(&[components::VERSIONED_V1]);
    // A task this server held would wait ten minutes for its lease to run
    // out: it must hand it back at once.
    let without = host_folder();
    let server = Server::start(without.path(), &["--state", &url, "--lease-secs", "600"]);
    let with = host_folder();
    let mut backfill = std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(with.path())
        .args(["--state", &url, "--plugin-dir"])
        .arg(plugins.path())
        .args(["backfill", "--from", "2026-01-01", "--to", "2026-01-20"])
        .args(["--processors", "VersionedProcessor", "--parallelism", "1"])
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the backfill has ended", || {
        backfill.try_wait().unwrap().is_some()
    });
    let backfill = backfill.wait_with_output().unwrap();
    assert_succeeded(&backfill);
    let summary = String::from_utf8_lossy(&backfill.stdout).into_owned();
    assert_contains(&summary, "20 succeeded, 0 failed, 0 blocked");
    assert_contains(&summary, "on 1 host(s)");
    // The server without the processor kept serving.
    let (status, _) = server.get("/hosts");
    assert_eq!(status, 200);
}

/// A `slate` command on the cluster's state `url`, from `folder`.
fn slate_on<'a>(url: &'a str, folder: &'a Path) -> impl Fn(&[&str]) -> std::process::Output + 'a {
    move |args: &[&str]| {
        let mut all = vec!["--state", url];
        all.extend_from_slice(args);
        slate(folder, &all)
    }
}

/// Waits until `server`'s heartbeat says it serves AfterSlowProcessor,
/// which depends on SlowProcessor.
fn wait_until_it_serves_the_dependant(server: &Server) {
    wait_until("the server says it serves the dependant", || {
        let (_, hosts) = server.get("/hosts");
        hosts.as_array().is_some_and(|hosts| {
            hosts
                .iter()
                .any(|h| h["upstream"]["AfterSlowProcessor"] == json!(["SlowProcessor"]))
        })
    });
}

/// An undeploy is refused while another live host serves a processor that
/// depends on the one it would end, from that host's plugin folder, which
/// the undeploying command cannot see: the dependant and its host are
/// named. Before, it went through, and that host's next reload failed on a
/// processor whose upstream was gone. Once the host has stopped, the
/// undeploy goes through.
#[test]
fn an_undeploy_is_refused_while_another_hosts_plugin_folder_depends_on_it() {
    let url = isolated_url();
    let deploying = host_folder();
    let slate_at = slate_on(&url, deploying.path());
    assert_succeeded(&slate_at(&["deploy", components::SLOW_PROCESSOR]));
    let dependant = plugin_dir(&[components::AFTER_SLOW_PROCESSOR]);
    let serving = host_folder();
    let server = Server::start(
        serving.path(),
        &[
            "--state",
            &url,
            "--plugin-dir",
            dependant.path().to_str().unwrap(),
            "--heartbeat-secs",
            "0.2",
        ],
    );
    wait_until_it_serves_the_dependant(&server);

    let refused = slate_at(&["undeploy", "SlowProcessor"]);
    assert!(!refused.status.success(), "{refused:?}");
    assert_contains(&stderr(&refused), "AfterSlowProcessor (served by ");
    assert_contains(&stderr(&refused), "depends on SlowProcessor");
    let (_, plugins) = server.get("/plugins");
    assert_eq!(
        crate::support::listed_plugin(&plugins, "SlowProcessor")["source"],
        "registry",
        "{plugins}"
    );

    assert!(server.terminate().success());
    assert_succeeded(&slate_at(&["undeploy", "SlowProcessor"]));
}

/// Undeploying a dependant, then what it depends on, goes through while a
/// server serves both from the registry. Before, the second undeploy was
/// refused until the server's next heartbeat, naming it as serving the
/// dependant it had just stopped serving.
#[test]
fn undeploying_in_dependency_order_is_not_refused_by_a_hosts_last_heartbeat() {
    let url = isolated_url();
    let deploying = host_folder();
    let slate_at = slate_on(&url, deploying.path());
    assert_succeeded(&slate_at(&["deploy", components::SLOW_PROCESSOR]));
    assert_succeeded(&slate_at(&["deploy", components::AFTER_SLOW_PROCESSOR]));
    let serving = host_folder();
    let server = Server::start(serving.path(), &["--state", &url, "--heartbeat-secs", "3"]);
    wait_until_it_serves_the_dependant(&server);

    assert_succeeded(&slate_at(&["undeploy", "AfterSlowProcessor"]));
    assert_succeeded(&slate_at(&["undeploy", "SlowProcessor"]));
    assert!(server.terminate().success());
}

/// PostgreSQL cuts a name past 63 bytes short: a version whose table would
/// need one is refused at deploy, on the server and the command line
/// alike, not at its first commit; the active version stays.
#[test]
fn a_version_with_a_name_postgresql_would_cut_short_is_refused_at_deploy() {
    let url = isolated_url();
    let folder = host_folder();
    let server = Server::start(folder.path(), &["--state", &url]);
    let v1 = std::fs::read(components::VERSIONED_V1).unwrap();
    let (status, deployed) = server.put_component("VersionedProcessor", &v1);
    assert_eq!(status, 200, "{deployed}");

    let long = std::fs::read(components::VERSIONED_LONG_COLUMN).unwrap();
    let (status, refused) = server.put_component("VersionedProcessor", &long);
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["check"], "store");
    assert_contains(
        refused["error"].as_str().unwrap(),
        "PostgreSQL keeps names of at most 63 bytes, and the column \
         `a_column_name_of_sixty_four_bytes_one_more_than_postgresql_keeps` has 64",
    );
    let deploy = slate(
        folder.path(),
        &["--state", &url, "deploy", components::VERSIONED_LONG_COLUMN],
    );
    assert_eq!(deploy.status.code(), Some(1), "{deploy:?}");
    assert_contains(&stderr(&deploy), "rejected by the store check");
    let run = server.process("VersionedProcessor", "2026-01-11");
    assert_eq!(
        (run["status"].as_str(), run["rows"].as_i64()),
        (Some("success"), Some(2)),
        "v1 is still the active version: {run}"
    );
}

/// A container restarted keeps its hostname and its pid, so its new server
/// has the id its old one had. The old one's stop stayed recorded (the host
/// read "stopped" for good, and its processors unserved), and the task it
/// held stayed taken for ever: the new one renewed it by id and never ran
/// it. Now the new start is recorded, and what the old one held goes back
/// to the queue, for the new one to run.
#[test]
fn a_server_started_under_an_id_an_earlier_process_had_is_live_and_runs_what_that_one_held() {
    use slate::registry::Registry;
    use slate::server::metrics::Metrics;
    use slate::server::{ServedHost, StartingSet};
    use slate::store::hosts::Heartbeat;

    let url = isolated_url();
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).unwrap());
    let (queue, directory) = (store.work_queue().unwrap(), store.host_directory().unwrap());
    enqueue_tasks(queue, "held", &[("VersionedProcessor", "2026-01-11", 0)]);
    // The earlier process: it took the task, then stopped.
    let lease = std::time::Duration::from_secs(600);
    let serves = ["VersionedProcessor".to_string()];
    directory
        .heartbeat(&Heartbeat {
            host_id: "box:1",
            address: "http://old",
            lease,
            processors: Some(&serves),
            upstream: &BTreeMap::new(),
            first: true,
        })
        .unwrap();
    assert!(queue.take_task("box:1", lease, &serves).unwrap().is_some());
    directory.stopped("box:1").unwrap();

    // The new process under the same id.
    let plugins = plugin_dir(&[components::VERSIONED_V1]);
    let folder = host_folder();
    let runtime = Arc::new(Runtime::new(Some(&shared_compiled_cache())).unwrap());
    let registry = Arc::new(Registry::connect(&url, folder.path(), "box:1").unwrap());
    let executor = host_on(store.clone(), "box:1");
    let starting =
        StartingSet::load(&runtime, &registry, Some(plugins.path()), store.as_ref()).unwrap();
    let host = Arc::new(ServedHost::new(
        executor,
        runtime,
        registry,
        Some(plugins.path().to_path_buf()),
        1,
        Arc::new(Metrics::new()),
        starting,
    ));
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let announcing = tokio.spawn(slate::server::hosts::announce(
        host.clone(),
        "http://new".into(),
    ));
    let taking = tokio.spawn(slate::server::queue::follow(host.clone()));
    wait_until("the new process ran the task the old one held", || {
        queue.progress("held").unwrap().unwrap().succeeded == 1
    });
    let record = directory
        .hosts(chrono::Utc::now() - chrono::Duration::hours(1))
        .unwrap()
        .into_iter()
        .find(|h| h.host_id == "box:1")
        .unwrap();
    assert_eq!(record.address, "http://new");
    assert!(record.is_live(chrono::Utc::now()), "{record:?}");
    host.draining
        .store(true, std::sync::atomic::Ordering::SeqCst);
    announcing.abort();
    taking.abort();
}

/// A server that shuts down takes no task through its grace period: the
/// tasks only it could run are told unserved at once, not once it stops.
#[test]
fn a_draining_servers_processors_are_unserved_from_the_start_of_its_shutdown() {
    let url = isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    set_spin(&store, date("2026-01-01"), true);
    let slow = plugin_dir(&[components::SLOW_PROCESSOR]);
    let folder = host_folder();
    let server = Server::start(
        folder.path(),
        &[
            "--state",
            &url,
            "--plugin-dir",
            slow.path().to_str().unwrap(),
            "--workers",
            "1",
            "--grace-secs",
            "60",
            // No heartbeat comes within the test's wait: the change is
            // recorded as the shutdown begins.
            "--lease-secs",
            "600",
            "--heartbeat-secs",
            "300",
        ],
    );
    let days = ["2026-01-01", "2026-01-02", "2026-01-03"];
    let tasks = days.map(|day| ("SlowProcessor", day, 0));
    enqueue_tasks(store.work_queue().unwrap(), "draining", &tasks);
    let progress = || {
        store
            .work_queue()
            .unwrap()
            .progress("draining")
            .unwrap()
            .unwrap()
    };
    wait_until("the server spins on the first date", || {
        progress().taken == 1
    });
    assert!(progress().unserved.is_empty());

    server.send_sigterm();
    wait_until("the two queued tasks are unserved", || {
        progress().unserved.first().map(|u| u.queued) == Some(2)
    });
    assert_eq!(progress().taken, 1, "the spinning run has its grace period");
}

/// Deploys VersionedProcessor 1.0.0 on the cluster at `url` from `folder`
/// and starts a `slate backfill` of it over 2023, one run at a time, its
/// output piped; returns once it has run a few dates, with the store.
fn versioned_backfill_under_way(url: &str, folder: &Path) -> (std::process::Child, PostgresStore) {
    assert_succeeded(&slate(
        folder,
        &["--state", url, "deploy", components::VERSIONED_V1],
    ));
    let backfill = std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(folder)
        .args(["--state", url, "backfill", "--from", "2023-01-01"])
        .args(["--to", "2023-12-31", "--processors", "VersionedProcessor"])
        .args(["--reprocess", "all", "--parallelism", "1"])
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let store = PostgresStore::connect(url).unwrap();
    wait_until("the backfill has run a few dates", || {
        versioned_runs(&store) >= 3
    });
    (backfill, store)
}

/// How many runs of VersionedProcessor `store` records.
fn versioned_runs(store: &PostgresStore) -> usize {
    store
        .runs(&RunFilter {
            processor: Some("VersionedProcessor".into()),
            ..RunFilter::default()
        })
        .unwrap()
        .len()
}

/// A `slate backfill` on a cluster follows the registry as a server does:
/// a processor undeployed meanwhile is run no more (before, it ran every
/// remaining date with the version it started with), and the command ends,
/// saying which tasks are left queued, instead of waiting for ever.
#[test]
fn a_cluster_backfill_takes_up_an_undeploy_and_ends_naming_what_is_left_queued() {
    let url = isolated_url();
    let folder = host_folder();
    let (backfill, store) = versioned_backfill_under_way(&url, folder.path());
    let runs = || versioned_runs(&store);
    assert_succeeded(&slate(
        folder.path(),
        &["--state", &url, "undeploy", "VersionedProcessor"],
    ));
    let ended = backfill.wait_with_output().unwrap();
    assert_eq!(ended.status.code(), Some(1), "{ended:?}");
    assert_contains(
        &stderr(&ended),
        "tasks of VersionedProcessor are left queued",
    );
    // Without a terminal, progress comes as lines.
    assert_contains(&stderr(&ended), "runs ended: succeeded");
    assert!(runs() < 365, "the undeploy was taken up: {} runs", runs());
}

/// A deploy during a cluster backfill makes the dates the old version ran
/// outdated. The backfill's closing warning says so, against the version
/// active as it ends; before, it judged by the version active when it
/// began, named a date the new version ran, and missed the rest.
#[test]
fn a_cluster_backfill_warns_of_the_dates_a_deploy_during_it_outdated() {
    let url = isolated_url();
    let folder = host_folder();
    let (backfill, _store) = versioned_backfill_under_way(&url, folder.path());
    assert_succeeded(&slate(
        folder.path(),
        &["--state", &url, "deploy", components::VERSIONED_V2],
    ));

    let ended = backfill.wait_with_output().unwrap();

    let short = |component: &str| {
        slate::plugin::content_hash(&std::fs::read(component).unwrap())[..12].to_string()
    };
    let (old, new) = (
        short(components::VERSIONED_V1),
        short(components::VERSIONED_V2),
    );
    let said = stderr(&ended);
    assert_contains(&said, &format!("ran version {old}, active is {new}"));
    assert!(!said.contains(&format!("active is {old}")), "{said}");
}

/// Hosts whose plugin folders hold different versions of one processor
/// each run its tasks with their own: the backfill's progress names the
/// versions its runs ran, with their runs and hosts, and `slate backfill`
/// warns of them (before, nothing said the table held rows of both).
#[test]
fn a_backfill_whose_runs_ran_two_versions_of_a_processor_names_them() {
    let store: Arc<dyn Store> = crate::postgres_server::isolated_store();
    let queue = store.work_queue().unwrap();
    let tasks = ["2026-01-01", "2026-01-02"].map(|day| ("VersionedProcessor", day, 0));
    enqueue_tasks(queue, "mixed", &tasks);
    let runtime = Runtime::new(Some(&shared_compiled_cache())).unwrap();
    let mut hashes = Vec::new();
    for (host, component) in [
        ("host-a", components::VERSIONED_V1),
        ("host-b", components::VERSIONED_V2),
    ] {
        let plugin = runtime.load(&std::fs::read(component).unwrap()).unwrap();
        hashes.push(plugin.hash.clone());
        let pipeline = Pipeline::new(vec![plugin]).unwrap();
        let worked = work_queue::work_one(queue, &pipeline, &host_on(store.clone(), host)).unwrap();
        assert!(
            matches!(worked, work_queue::Worked::Ended { .. }),
            "{worked:?}"
        );
    }

    let progress = queue.progress("mixed").unwrap().unwrap();
    let [mixed] = progress.mixed_versions.as_slice() else {
        panic!("{:?}", progress.mixed_versions);
    };
    assert_eq!(mixed.processor, "VersionedProcessor");
    let shares: Vec<(&str, usize, Vec<String>)> = mixed
        .versions
        .iter()
        .map(|v| (v.hash.as_str(), v.runs, v.hosts.clone()))
        .collect();
    assert_eq!(
        shares,
        [
            (hashes[0].as_str(), 1, vec!["host-a".to_string()]),
            (hashes[1].as_str(), 1, vec!["host-b".to_string()]),
        ]
    );
}

/// A task of a processor no live server has is never taken (before, each
/// host without it took it and put it back, about four times a second, and
/// took nothing else while it stood first in the queue). The backfill's
/// progress names it; a server that has it, started later, runs it.
#[test]
fn a_task_no_live_server_serves_is_named_in_the_progress_and_holds_up_no_other_task() {
    let url = isolated_url();
    let versioned = plugin_dir(&[components::VERSIONED_V1]);
    let first = host_folder();
    let server = Server::start(
        first.path(),
        &[
            "--state",
            &url,
            "--plugin-dir",
            versioned.path().to_str().unwrap(),
        ],
    );
    let store = PostgresStore::connect(&url).unwrap();
    let queue = store.work_queue().unwrap();
    // SlowProcessor's task comes first in the queue; no server has it.
    let tasks = [
        ("SlowProcessor", "2026-01-01", 0),
        ("VersionedProcessor", "2026-01-01", 1),
        ("VersionedProcessor", "2026-01-02", 1),
    ];
    enqueue_tasks(queue, "unserved", &tasks);

    wait_until("the server ran the tasks it can", || {
        server.get("/backfills/unserved").1["succeeded"] == 2
    });
    let (_, progress) = server.get("/backfills/unserved");
    assert_eq!(progress["queued"], 1, "{progress}");
    assert_eq!(
        progress["unserved"],
        json!([{"processor": "SlowProcessor", "queued": 1}]),
        "{progress}"
    );
    let takes: i64 = postgres::Client::connect(&url, postgres::NoTls)
        .unwrap()
        .query_one(
            "SELECT takes FROM _slate.tasks WHERE processor = 'SlowProcessor'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(takes, 0, "no host took a task it could only put back");

    let slow = plugin_dir(&[components::SLOW_PROCESSOR]);
    let second = host_folder();
    let _with_slow = Server::start(
        second.path(),
        &[
            "--state",
            &url,
            "--plugin-dir",
            slow.path().to_str().unwrap(),
        ],
    );
    wait_until("the server with SlowProcessor ran its task", || {
        server.get("/backfills/unserved").1["queued"] == 0
    });
    let (_, progress) = server.get("/backfills/unserved");
    assert_eq!(progress["unserved"], json!([]), "{progress}");
}

#[test]
fn a_hosts_read_cache_reads_again_a_date_another_host_rewrote() {
    use slate::rows::{Scalar, Value};
    use slate::schema::{Column, ColumnMode, ColumnType, TableName, TableSchema};

    let url = isolated_url();
    let (a, b) = (
        PostgresStore::connect(&url).unwrap(),
        PostgresStore::connect(&url).unwrap(),
    );
    let table = TableName::new("slate_test", "cached");
    let schema = TableSchema {
        columns: vec![
            Column::new("day", ColumnType::Date, ColumnMode::Required),
            Column::new("n", ColumnType::Int64, ColumnMode::Required),
        ],
        partition_column: "day".into(),
        key_columns: vec![],
    };
    let rows = |day: chrono::NaiveDate, values: &[i64]| slate::rows::RowSet {
        columns: vec!["day".into(), "n".into()],
        rows: values
            .iter()
            .map(|n| {
                vec![
                    Value::Scalar(Scalar::Date(slate::rows::wit_date(day))),
                    Value::Scalar(Scalar::Int64(*n)),
                ]
            })
            .collect(),
    };
    let (first, second) = (date("2026-01-10"), date("2026-01-11"));
    a.ensure_table(&table, &schema).unwrap();
    a.replace_partitions(&table, &[first], &rows(first, &[1, 2]))
        .unwrap();
    a.replace_partitions(&table, &[second], &rows(second, &[3]))
        .unwrap();
    let names = ["n".to_string()];
    let read = |store: &PostgresStore| -> Vec<i64> {
        let batch = store
            .read_column_batch(TableSpan::new(&table, first, second), &names)
            .unwrap();
        match &batch.columns[0].values {
            slate::column_batch::ColumnValues::Int64(values) => values.clone(),
            other => panic!("n packs as INT64, not {other:?}"),
        }
    };
    let expected = |values: &[i64]| values.to_vec();
    assert_eq!(read(&a), expected(&[1, 2, 3]));

    // Host B rewrites one date, and empties the other.
    b.replace_partitions(&table, &[first], &rows(first, &[7]))
        .unwrap();
    assert_eq!(read(&a), expected(&[7, 3]));
    b.replace_partitions(&table, &[second], &rows(second, &[]))
        .unwrap();
    assert_eq!(read(&a), expected(&[7]));
    // A table dropped and made again is read from scratch.
    assert!(b.drop_table(&table).unwrap());
    b.ensure_table(&table, &schema).unwrap();
    b.replace_partitions(&table, &[second], &rows(second, &[9]))
        .unwrap();
    assert_eq!(read(&a), expected(&[9]));
}

#[test]
fn hosts_recording_the_same_alert_at_once_open_it_once_and_count_every_time() {
    use slate::alerts::event::{EventKind, NewAlert, Severity};
    use std::sync::Barrier;

    let url = isolated_url();
    let hosts = [
        PostgresStore::connect(&url).unwrap(),
        PostgresStore::connect(&url).unwrap(),
    ];
    let alert = |event: EventKind| NewAlert {
        event,
        severity: Severity::Warning,
        subject: "phase 4 precompute".into(),
        data_date: Some(date("2026-01-07")),
        kind: String::new(),
        run_id: None,
        summary: "raced".into(),
        detail: serde_json::json!({}),
    };
    const ROUNDS: usize = 20;
    let barrier = Barrier::new(hosts.len());
    // A failure is kept, not raised, so that no host is left waiting at
    // the barrier for one that stopped.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let threads: Vec<_> = hosts
            .iter()
            .map(|host| {
                let (barrier, alert) = (&barrier, &alert);
                scope.spawn(move || {
                    let outbox = host.alert_outbox().unwrap();
                    let mut failures = Vec::new();
                    for _ in 0..ROUNDS {
                        barrier.wait();
                        for event in [EventKind::PhaseIncomplete, EventKind::PhaseCompleted] {
                            if let Err(error) = outbox.record_alert(&alert(event)) {
                                failures.push(error.to_string());
                            }
                        }
                    }
                    failures
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|thread| thread.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{failures:#?}");
    let outbox = hosts[0].alert_outbox().unwrap();
    let alerts = outbox.alerts(false, 100).unwrap();
    let once_ever = alerts
        .iter()
        .filter(|a| a.raised.event == EventKind::PhaseCompleted)
        .count();
    assert_eq!(
        once_ever, 1,
        "a once-ever event is recorded once: {alerts:#?}"
    );
    let incomplete: Vec<_> = alerts
        .iter()
        .filter(|a| a.raised.event == EventKind::PhaseIncomplete)
        .collect();
    let counted: i64 = incomplete.iter().map(|a| a.occurrences).sum();
    assert_eq!(counted, (ROUNDS * hosts.len()) as i64, "{incomplete:#?}");
}

#[test]
fn a_queued_backfill_keeps_the_phase_gate_as_one_host_does() {
    assert_a_queued_backfill_keeps_the_phase_gate(crate::postgres_server::isolated_store());
}

/// A backfill of [`phase_gate_pipeline`] over 2026-01-01 and -02,
/// enqueued on a store whose run ledger keeps a work queue, with a host to
/// work it.
struct QueuedPhaseGate {
    _runtime: Runtime,
    pipeline: Pipeline,
    executor: Executor,
    id: String,
}

impl QueuedPhaseGate {
    fn enqueue(store: Arc<dyn Store>) -> Self {
        let runtime = Runtime::new(Some(&shared_compiled_cache())).unwrap();
        let load = |path: &str| runtime.load(&std::fs::read(path).unwrap()).unwrap();
        let pipeline = phase_gate_pipeline(store.as_ref(), load);
        let executor = host_on(store.clone(), "queue-host");
        let request = BackfillRequest {
            start: date("2026-01-01"),
            end: date("2026-01-02"),
            selection: pipeline.select(&[]).unwrap(),
            reprocess: Reprocess::Missing,
            parallelism: 2,
        };
        let id = enqueue_backfill(store.as_ref(), &pipeline, &request);
        QueuedPhaseGate {
            _runtime: runtime,
            pipeline,
            executor,
            id,
        }
    }
}

/// Works a queued backfill of [`phase_gate_pipeline`] over 2026-01-01 and
/// -02 on `store` (whose run ledger keeps a work queue) with two workers,
/// so that nothing but the queue orders the two processors of a date, and
/// asserts that the phase gate held.
pub(crate) fn assert_a_queued_backfill_keeps_the_phase_gate(store: Arc<dyn Store>) {
    let queued = QueuedPhaseGate::enqueue(store.clone());

    let progress = work_until_finished(
        store.as_ref(),
        &queued.pipeline,
        &queued.executor,
        &queued.id,
        2,
    );

    assert_eq!(
        (progress.succeeded, progress.failed, progress.blocked),
        (2, 1, 1),
        "{:#?}",
        progress.problems
    );
    assert_the_phase_gate_held(store.as_ref());
}

/// A backfill's run of `processor` on `day`, made by `host_id` and ended
/// `failed` with `kind` and `message`, as a host that died before ending
/// its task leaves it.
fn failed_backfill_run(
    store: &dyn Store,
    processor: &str,
    day: chrono::NaiveDate,
    host_id: &str,
    kind: slate::runs::ErrorKind,
    message: &str,
) -> RunRecord {
    use slate::runs::{NewRun, RunEnd, Trigger};
    let run = store
        .start_run(&NewRun {
            processor: processor.to_string(),
            phase: slate::phase::Phase::Precompute,
            data_date: day,
            host_id: host_id.into(),
            plugin_hash: "h".into(),
            trigger: Trigger::Backfill,
            lease: std::time::Duration::from_secs(300),
        })
        .unwrap();
    store
        .end_run(
            &run.run_id,
            &RunEnd {
                status: RunStatus::Failed,
                error_kind: Some(kind),
                message: message.into(),
                rows_read: 0,
                limit: None,
                usage: Default::default(),
                upstream_check: None,
            },
        )
        .unwrap();
    run
}

/// A host `host_id` on `store`, with the default limits and leases.
fn host_on(store: Arc<dyn Store>, host_id: &str) -> Executor {
    Executor::new(store, host_id, RunLimits::default(), LeaseConfig::default()).unwrap()
}

/// Plans `request` on `store` and enqueues it in its work queue, as
/// `slate backfill` does on a shared ledger; returns the backfill's id.
pub(crate) fn enqueue_backfill(
    store: &dyn Store,
    pipeline: &Pipeline,
    request: &BackfillRequest,
) -> String {
    let plan = slate::backfill::plan(store, pipeline, request).unwrap();
    let queue = store
        .work_queue()
        .expect("the run ledger keeps a work queue");
    work_queue::enqueue(queue, pipeline, request, &plan, "queue-host", None).unwrap()
}

/// Enqueues backfill `id` in `queue` with `tasks`, each (processor, date,
/// rank), none waiting for another: a backfill some other host enqueued.
fn enqueue_tasks(
    queue: &dyn slate::store::work_queue::WorkQueue,
    id: &str,
    tasks: &[(&str, &str, i64)],
) {
    use slate::store::work_queue::{NewBackfill, NewTask};
    let days: Vec<chrono::NaiveDate> = tasks.iter().map(|(_, day, _)| date(day)).collect();
    let backfill = NewBackfill {
        id: id.into(),
        start: *days.iter().min().expect("a task"),
        end: *days.iter().max().expect("a task"),
        reprocess: Reprocess::All,
        left_alone: 0,
        host_id: "elsewhere".into(),
        parallelism: None,
    };
    let tasks: Vec<NewTask> = tasks
        .iter()
        .map(|(processor, day, rank)| NewTask {
            processor: processor.to_string(),
            date: date(day),
            rank: *rank,
            upstream: Vec::new(),
            looks_back: false,
            phase_gate: Vec::new(),
        })
        .collect();
    queue.enqueue(&backfill, &tasks).unwrap();
}

/// Works backfill `id` from `store`'s work queue with `workers` threads of
/// one host until every task has ended; returns its progress then.
pub(crate) fn work_until_finished(
    store: &dyn Store,
    pipeline: &Pipeline,
    executor: &Executor,
    id: &str,
    workers: usize,
) -> ClusterProgress {
    let queue = store
        .work_queue()
        .expect("the run ledger keeps a work queue");
    let progress = || {
        queue
            .progress(id)
            .unwrap()
            .expect("the backfill is enqueued")
    };
    work_queue::work_until(
        queue,
        &|| pipeline,
        executor,
        workers,
        &AtomicBool::new(false),
        &|| progress().is_finished(),
        &|_| {},
    )
    .unwrap();
    progress()
}

/// A date some of whose tasks ran before the backfill was cancelled has
/// its phases judged once every task ended: here the earlier phase of the
/// 1st ran and completed, and its later phase and the 2nd were cancelled.
/// Before, only the host ending a date's last task judged it, and a
/// cancelled task ends no run, so such dates had no phase event until a
/// later backfill ran them.
#[test]
fn the_dates_a_cancel_cut_short_have_their_phases_judged_once() {
    let store: Arc<dyn Store> = crate::postgres_server::isolated_store();
    let QueuedPhaseGate {
        _runtime,
        pipeline,
        executor,
        id,
    } = QueuedPhaseGate::enqueue(store.clone());
    let queue = store.work_queue().unwrap();
    let worked = work_queue::work_one(queue, &pipeline, &executor).unwrap();
    assert!(
        matches!(&worked, work_queue::Worked::Ended { ran, .. } if ran.len() == 1),
        "{worked:?}"
    );
    let phase_events = || -> Vec<(String, String, String, i64)> {
        let mut events: Vec<_> = store
            .alert_outbox()
            .unwrap()
            .alerts(false, 100)
            .unwrap()
            .into_iter()
            .filter(|alert| alert.raised.subject.starts_with("phase "))
            .map(|alert| {
                (
                    alert.raised.data_date.unwrap().to_string(),
                    alert.raised.subject,
                    alert.raised.event.as_str().to_string(),
                    alert.occurrences,
                )
            })
            .collect();
        events.sort();
        events
    };
    assert_eq!(phase_events(), [], "the 1st still has a task to run");

    queue.cancel_backfill(&id).unwrap();
    for _ in 0..3 {
        let worked = work_queue::work_one(queue, &pipeline, &executor).unwrap();
        assert!(matches!(worked, work_queue::Worked::Nothing), "{worked:?}");
    }

    let completed = (
        "2026-01-01".to_string(),
        "phase 3 analytics".to_string(),
        "phase_completed".to_string(),
        1,
    );
    assert_eq!(phase_events(), [completed]);
    let progress = queue.progress(&id).unwrap().unwrap();
    assert_eq!((progress.succeeded, progress.cancelled), (1, 3));
}

/// SlowProcessor alone, and a backfill of one day of it (every run
/// redone) enqueued on a store whose run ledger keeps a work queue. Its
/// spin is the caller's to set ([`set_spin`]).
struct QueuedSlowDay {
    _runtime: Runtime,
    pipeline: Pipeline,
    processor: String,
    id: String,
}

impl QueuedSlowDay {
    fn enqueue(store: &dyn Store, day: chrono::NaiveDate) -> Self {
        let runtime = Runtime::new(Some(&shared_compiled_cache())).unwrap();
        let slow = runtime
            .load(&std::fs::read(components::SLOW_PROCESSOR).unwrap())
            .unwrap();
        let processor = slow.spec.name.clone();
        let pipeline = Pipeline::new(vec![slow]).unwrap();
        let request = BackfillRequest {
            start: day,
            end: day,
            selection: pipeline.select(&[]).unwrap(),
            reprocess: Reprocess::All,
            parallelism: 1,
        };
        let id = enqueue_backfill(store, &pipeline, &request);
        QueuedSlowDay {
            _runtime: runtime,
            pipeline,
            processor,
            id,
        }
    }
}

/// A task whose run the host's shutdown stops goes back to the queue, as a
/// killed host's does: before, it ended `failed` (kind `shutdown`) and no
/// host ran it again, so a clean SIGTERM lost work a `kill -9` did not.
#[test]
fn a_task_whose_run_a_shutdown_stopped_goes_back_to_the_queue() {
    let store: Arc<dyn Store> = crate::postgres_server::isolated_store();
    let day = date("2026-01-12");
    set_spin(store.as_ref(), day, true);
    // `_runtime` keeps the epoch ticker that stops runs alive.
    let QueuedSlowDay {
        _runtime,
        pipeline,
        id,
        ..
    } = QueuedSlowDay::enqueue(store.as_ref(), day);
    let queue = store.work_queue().unwrap();

    let stopping = host_on(store.clone(), "stopping-host:1");
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| work_queue::work_one(queue, &pipeline, &stopping));
        wait_until("the task's run is running", || {
            store
                .runs(&RunFilter {
                    status: Some(RunStatus::Running),
                    ..RunFilter::default()
                })
                .unwrap()
                .len()
                == 1
        });
        stopping.stop_all_for_shutdown();
        worker.join().unwrap().unwrap();
    });
    let progress = queue.progress(&id).unwrap().unwrap();
    assert_eq!(
        (progress.queued, progress.failed, progress.succeeded),
        (1, 0, 0),
        "{progress:#?}"
    );

    // Another host takes it and runs it to its end.
    set_spin(store.as_ref(), day, false);
    let other = host_on(store.clone(), "other-host:2");
    let progress = work_until_finished(store.as_ref(), &pipeline, &other, &id, 1);
    assert_eq!(
        (progress.succeeded, progress.failed),
        (1, 0),
        "{progress:#?}"
    );
}

/// Starts a run of `processor` on `day` as a `slate run` on another
/// machine would, leased for `lease`.
fn run_elsewhere(
    store: &dyn Store,
    processor: &str,
    day: chrono::NaiveDate,
    lease: std::time::Duration,
) -> RunRecord {
    use slate::runs::{NewRun, Trigger};
    store
        .start_run(&NewRun {
            processor: processor.into(),
            phase: slate::phase::Phase::Precompute,
            data_date: day,
            host_id: "cli-host:1".into(),
            plugin_hash: "h".into(),
            trigger: Trigger::Cli,
            lease,
        })
        .unwrap()
}

/// A version deployed elsewhere under the name of this host's plugin-folder
/// file is left out here, the file's version served and the clash named,
/// and every other switch still reaches the host. Before, the clash failed
/// each reload, so no later deploy of any processor reached it, while it
/// went on serving the versions it had.
#[test]
fn a_deploy_clashing_with_a_hosts_plugin_file_holds_up_no_other_deploy() {
    let url = isolated_url();
    let plugins = plugin_dir(&[components::VERSIONED_V1]);
    let plugin_dir = plugins.path().to_str().unwrap();
    let folder = host_folder();
    let host = Server::start(
        folder.path(),
        &["--state", &url, "--plugin-dir", plugin_dir],
    );
    let deployer = host_folder();
    for component in [components::VERSIONED_V2, components::SLOW_PROCESSOR] {
        let deployed = slate(deployer.path(), &["--state", &url, "deploy", component]);
        assert_succeeded(&deployed);
    }
    wait_until("the host serves the deployed SlowProcessor", || {
        let (_, listed) = host.get("/plugins");
        listed
            .as_array()
            .is_some_and(|all| all.iter().any(|p| p["name"] == "SlowProcessor"))
    });
    let (_, listed) = host.get("/plugins");
    let v1 = std::fs::read(components::VERSIONED_V1).unwrap();
    assert_eq!(
        crate::support::listed_plugin(&listed, "VersionedProcessor")["hash"],
        slate::plugin::content_hash(&v1),
        "the plugin-folder file's version is served here"
    );
    let (_, health) = host.get("/health?fresh=1");
    let refused = &health["refused_versions"];
    assert!(
        refused["left_out"].as_array().is_none_or(Vec::is_empty),
        "a version of every processor is served: {health}"
    );
    assert_contains(
        refused["reason"].as_str().unwrap(),
        "names the same processor on this host, and is served in its place",
    );
}

/// Leases are set by the database's clock, and a reaper judges them by it,
/// whatever its own host's clock says (`faketime` sets it ten minutes
/// off): one running ahead leaves another host's live run alone, and one
/// running behind still reaps a run whose lease is over. Before, a host
/// ahead reaped every live run of the cluster at each heartbeat.
#[test]
fn a_reaper_judges_leases_by_the_databases_clock_not_its_own() {
    let url = isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    let folder = host_folder();
    let reap_with_clock = |offset: &str| {
        let output = std::process::Command::new("faketime")
            .args(["-f", offset])
            .arg(env!("CARGO_BIN_EXE_slate"))
            .arg("--data-dir")
            .arg(folder.path())
            .args(["--state", url.as_str(), "reap"])
            .env("RUST_LOG", "error")
            .output()
            .expect("run faketime (.ci/run installs it)");
        assert_succeeded(&output);
    };
    let status = |run: &RunRecord| store.run(&run.run_id).unwrap().unwrap().status;

    let live = run_elsewhere(
        &store,
        "SlowProcessor",
        date("2026-01-12"),
        std::time::Duration::from_secs(300),
    );
    reap_with_clock("+600s");
    assert_eq!(
        status(&live),
        RunStatus::Running,
        "a live run is left alone"
    );

    let over = run_elsewhere(
        &store,
        "AfterSlowProcessor",
        date("2026-01-12"),
        std::time::Duration::ZERO,
    );
    reap_with_clock("-600s");
    assert_eq!(
        status(&over),
        RunStatus::Failed,
        "a run whose lease is over is reaped"
    );
    assert_eq!(status(&live), RunStatus::Running);
}

/// A task whose (processor, date) is running elsewhere (a `slate run`, a
/// schedule) waits in the queue untaken until that run ends. Before, each
/// worker took it and released it again every poll (every 250 ms), and
/// its `takes` grew for as long as the run went on.
#[test]
fn a_task_whose_processor_and_date_run_elsewhere_is_not_taken_until_the_run_ends() {
    use work_queue::Worked;

    let url = isolated_url();
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).unwrap());
    let day = date("2026-01-12");
    let QueuedSlowDay {
        _runtime,
        pipeline,
        processor,
        id,
    } = QueuedSlowDay::enqueue(store.as_ref(), day);
    let lease = std::time::Duration::from_secs(300);
    let elsewhere = run_elsewhere(store.as_ref(), &processor, day, lease);
    let queue = store.work_queue().unwrap();
    let worker = host_on(store.clone(), "queue-host:2");
    let takes = || -> i64 {
        let mut database = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        database
            .query_one(
                "SELECT takes FROM _slate.tasks WHERE backfill_id = $1",
                &[&id],
            )
            .unwrap()
            .get(0)
    };

    for _ in 0..3 {
        let worked = work_queue::work_one(queue, &pipeline, &worker).unwrap();
        assert!(matches!(worked, Worked::Nothing), "{worked:?}");
    }
    assert_eq!(takes(), 0);
    // The backfill's progress says what the task waits for.
    let waiting = queue.progress(&id).unwrap().unwrap().waiting_on_runs;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(
        (&waiting[0].processor, waiting[0].date, &waiting[0].run_id),
        (&processor, day, &elsewhere.run_id)
    );
    assert_eq!(waiting[0].host_id, "cli-host:1");

    // The run's host dies: once its lease has lapsed, the task is ready.
    let later = chrono::Utc::now() + chrono::Duration::from_std(lease).unwrap();
    let reaped = store.reap_stale(later).unwrap();
    assert_eq!(reaped.len(), 1, "{reaped:?}");
    assert_eq!(reaped[0].run_id, elsewhere.run_id);
    assert!(
        queue
            .progress(&id)
            .unwrap()
            .unwrap()
            .waiting_on_runs
            .is_empty()
    );
    let worked = work_queue::work_one(queue, &pipeline, &worker).unwrap();
    assert!(matches!(worked, Worked::Ended { .. }), "{worked:?}");
    assert_eq!(takes(), 1);
}

/// A task whose (processor, date) another host's backfill run ended for
/// good while the task waited (that host died before ending the task) is
/// ended by that run, and the progress credits the run's host, not the
/// host that took the task and found the run: before, `by_host` counted it
/// as a run of the taker's. A run cut short because the store could not be
/// reached (kind `unreachable`) did not end its task: the taker runs the
/// date again. Before, a short PostgreSQL outage during a read failed the
/// date for good, and it needed `--reprocess failed`. (A failed run made
/// outside a backfill ends no task: `work_queue`'s unit tests.)
#[test]
fn a_task_is_ended_by_a_backfill_run_made_elsewhere_unless_the_store_cut_the_run_short() {
    use slate::runs::ErrorKind;
    use work_queue::Worked;

    for (kind, message) in [
        (ErrorKind::Plugin, "the processor failed"),
        (
            ErrorKind::Unreachable,
            "reading an input failed: the store's database is unreachable",
        ),
    ] {
        let store = crate::postgres_server::isolated_store();
        let day = date("2026-01-12");
        set_spin(store.as_ref(), day, false);
        let QueuedSlowDay {
            _runtime,
            pipeline,
            processor,
            id,
        } = QueuedSlowDay::enqueue(store.as_ref(), day);
        let elsewhere =
            failed_backfill_run(store.as_ref(), &processor, day, "cli-host:1", kind, message);

        let queue = store.work_queue().unwrap();
        let worker = host_on(store.clone(), "queue-host:2");
        let worked = work_queue::work_one(queue, &pipeline, &worker).unwrap();
        let progress = queue.progress(&id).unwrap().unwrap();
        if kind == ErrorKind::Unreachable {
            assert!(
                matches!(&worked, Worked::Ended { ran, adopted } if ran.len() == 1 && adopted.is_empty()),
                "{worked:?}"
            );
            assert_eq!(
                (progress.succeeded, progress.failed),
                (1, 0),
                "{progress:#?}"
            );
            assert_eq!(progress.by_host, [("queue-host:2".to_string(), 1)]);
        } else {
            assert!(
                matches!(&worked, Worked::Ended { ran, adopted } if ran.is_empty() && adopted.len() == 1),
                "{worked:?}"
            );
            assert_eq!(progress.failed, 1, "{progress:#?}");
            assert_eq!(progress.by_host, [("cli-host:1".to_string(), 1)]);
            assert_eq!(
                progress.problems[0].run_id.as_deref(),
                Some(elsewhere.run_id.as_str())
            );
        }
    }
}

/// A server whose database is dropped says why, and not for every try:
/// r2d2 logged "db error", naming nothing, at each try to connect, several
/// times a second for as long as the database was gone. Its health check
/// answers 503, unhealthy.
#[test]
fn a_server_whose_database_is_gone_says_why_once_not_at_every_try() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let url = isolated_url();
    let folder = host_folder();
    let log = folder.path().join("server.log");
    let mut server = Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(folder.path())
        .args(["--state", &url, "serve", "--listen", "127.0.0.1:0"])
        .env("SLATE_TOKEN", crate::serve_process::TOKEN)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut listening = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut listening)
        .unwrap();
    assert_contains(&listening, "listening on");
    let name = url.rsplit('/').next().unwrap().to_string();
    let mut admin =
        postgres::Client::connect(crate::postgres_server::server_url(), postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .unwrap();

    let logged = || std::fs::read_to_string(&log).unwrap();
    wait_until("the server says it cannot connect", || {
        logged().contains("cannot connect to PostgreSQL")
    });
    // Its loops go on trying meanwhile: the queue's slots, the heartbeat.
    // A load balancer polling its health is told it is unhealthy (it had
    // been a 500).
    let base = listening
        .trim()
        .trim_start_matches("listening on ")
        .to_string();
    let mut health = crate::serve_process::agent()
        .get(format!("{base}/health"))
        .call()
        .unwrap();
    let body = health.body_mut().read_to_string().unwrap();
    assert_eq!(health.status().as_u16(), 503, "{body}");
    assert_contains(
        &body,
        "unhealthy: the health check cannot read the run state",
    );
    server.kill().unwrap();
    server.wait().unwrap();

    let text = logged();
    let said: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("cannot connect to PostgreSQL"))
        .collect();
    // Once per pool: the store's and the registry's.
    assert!(said.len() <= 2, "{text}");
    assert_contains(said[0], &format!("database \"{name}\" does not exist"));
    assert!(!text.contains("r2d2"), "{text}");
}

/// A server whose database is dropped and then created again, empty (an
/// administrator's reset), makes Slate's tables again at its next
/// connection, and serves: before, every call failed with "relation
/// _slate.runs does not exist" until each host was restarted.
#[test]
fn a_server_whose_database_is_created_again_empty_makes_its_tables_and_serves() {
    let url = isolated_url();
    let folder = host_folder();
    let server = Server::start(folder.path(), &["--state", &url]);
    assert_eq!(server.get("/runs").0, 200);
    let name = url.rsplit('/').next().unwrap().to_string();
    let mut admin =
        postgres::Client::connect(crate::postgres_server::server_url(), postgres::NoTls).unwrap();
    for statement in [
        format!("DROP DATABASE {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.batch_execute(&statement).unwrap();
    }

    wait_until("the server answers from the new database", || {
        server.get("/runs").0 == 200 && server.get("/plugins").0 == 200
    });
    let (status, health) = server.get("/health");
    assert_ne!(status, 503, "{health}");
    let mut database = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for table in ["_slate.runs", "_slate.tasks", "_slate.plugin_active"] {
        let there: bool = database
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
            .unwrap()
            .get(0);
        assert!(there, "{table} was not made again");
    }
}

/// A version deployed to the shared registry that a host cannot load
/// beside its own `--plugin-dir` processor (both name one table, neither
/// has written it) leaves that processor out on that host, which serves
/// the rest and says why; once the operator settles who owns the table,
/// the host loads again by itself and the processor is back. Before, every
/// `POST /process-date` on that host failed with "internal error", a host
/// started afterwards did not start at all, and a host that had left a
/// processor out never took it back.
#[test]
fn a_processor_the_table_owners_refuse_is_left_out_and_comes_back_when_they_change() {
    let url = isolated_url();
    let deployer = host_folder();
    let deployed = slate(
        deployer.path(),
        &["--state", &url, "deploy", components::HOSTILE_TABLE_THIEF],
    );
    assert!(deployed.status.success(), "{deployed:?}");
    let plugins = plugin_dir(&[components::VERSIONED_V1]);
    let plugin_dir = plugins.path().to_str().unwrap();
    let with_plugin = host_folder();
    let host = Server::start(
        with_plugin.path(),
        &["--state", &url, "--plugin-dir", plugin_dir],
    );

    let (status, health) = host.get("/health?fresh=1");
    assert_eq!(status, 503, "{health}");
    let refused = &health["refused_versions"];
    assert_eq!(
        refused["left_out"],
        json!(["VersionedProcessor"]),
        "{health}"
    );
    assert_contains(
        refused["reason"].as_str().unwrap(),
        "VersionedProcessor may not write slate_test.versioned: TableThief names it too",
    );
    let (status, answer) = host.post(
        "/process-date",
        json!({"processors": ["VersionedProcessor"], "analysis_date": "2026-01-11"}),
    );
    assert_eq!(status, 400, "{answer}");
    assert_contains(
        answer["error"].as_str().unwrap_or_default(),
        "VersionedProcessor is left out on this host: left out",
    );
    let (_, answer) = host.post(
        "/process-date",
        json!({"processors": ["NoSuchProcessor"], "analysis_date": "2026-01-11"}),
    );
    assert_contains(
        answer["error"].as_str().unwrap_or_default(),
        "unknown processor NoSuchProcessor",
    );

    // A host without the plugin folder runs TableThief, which takes the
    // table; the operator gives it to the plugin folder's processor. The
    // first host loads again at its next try, leaves TableThief out
    // instead, and runs VersionedProcessor.
    let without_plugin = host_folder();
    let other = Server::start(without_plugin.path(), &["--state", &url]);
    let run = other.process("TableThief", "2026-01-11");
    assert_eq!(run["status"], "success", "{run}");
    let transfer = slate_with_plugins(deployer.path(), plugins.path())
        .args([
            "--state",
            &url,
            "tables",
            "transfer",
            "slate_test.versioned",
        ])
        .args(["--to", "VersionedProcessor"])
        .output()
        .unwrap();
    assert!(transfer.status.success(), "{transfer:?}");
    wait_until("the host takes VersionedProcessor back", || {
        host.get("/health?fresh=1").1["refused_versions"]["left_out"] == json!(["TableThief"])
    });
    let run = host.process("VersionedProcessor", "2026-01-11");
    assert_eq!(run["status"], "success", "{run}");
}

/// A first deploy the table owners cannot live with has no earlier version
/// to roll back to: it is undeployed, from a host that has the plugin
/// folder the deploy clashes with, and every server takes the processor it
/// had left out back at once.
#[test]
fn a_first_deploy_the_table_owners_refuse_is_undeployed_and_the_left_out_processor_comes_back() {
    let url = isolated_url();
    let deployer = host_folder();
    let deployed = slate(
        deployer.path(),
        &["--state", &url, "deploy", components::HOSTILE_TABLE_THIEF],
    );
    assert_succeeded(&deployed);
    let plugins = plugin_dir(&[components::VERSIONED_V1]);
    let with_plugin = host_folder();
    let host = Server::start(
        with_plugin.path(),
        &[
            "--state",
            &url,
            "--plugin-dir",
            plugins.path().to_str().unwrap(),
        ],
    );
    let (status, health) = host.get("/health?fresh=1");
    assert_eq!(status, 503, "{health}");
    assert_eq!(
        health["refused_versions"]["left_out"],
        json!(["VersionedProcessor"])
    );

    // The command line loads the same set, leaves the same processor out
    // and says so, and undeploys the version that refused it.
    let undeploy = |name: &str| {
        slate_with_plugins(deployer.path(), plugins.path())
            .args(["--state", &url, "undeploy", name])
            .output()
            .unwrap()
    };
    let bundled = undeploy("PlayerDailyCacheProcessor");
    assert_eq!(bundled.status.code(), Some(2), "{bundled:?}");
    assert_contains(&stderr(&bundled), "has no registry version to undeploy");
    let unknown = undeploy("NoSuchProcessor");
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    let undeployed = undeploy("TableThief");
    assert_succeeded(&undeployed);
    assert_contains(&stderr(&undeployed), "warning: left out ");
    assert_contains(
        &stderr(&undeployed),
        "VersionedProcessor may not write slate_test.versioned: TableThief names it too",
    );
    assert_contains(
        &String::from_utf8_lossy(&undeployed.stdout),
        "undeployed TableThief 6.6.6",
    );

    wait_until("the server takes VersionedProcessor back", || {
        host.get("/health?fresh=1").1["refused_versions"].is_null()
    });
    let run = host.process("VersionedProcessor", "2026-01-11");
    assert_eq!(run["status"], "success", "{run}");
    let history = host.get("/plugins/TableThief/history").1;
    assert_eq!(history[0]["action"], "undeploy", "{history}");
}

/// A task whose (processor, date) is held by a run whose host stopped
/// renewing its lease (and that no reaper has failed yet) is taken and run
/// at once: the taker reaps the stale run first. Before, the task was
/// taken and let go on every poll, about ten times a second across a
/// cluster, until a heartbeat's reaper came.
#[test]
fn a_task_whose_processor_and_date_a_stale_run_holds_reaps_it_and_runs() {
    use slate::runs::ErrorKind;
    use work_queue::Worked;

    let store: Arc<dyn Store> = crate::postgres_server::isolated_store();
    let day = date("2026-01-12");
    set_spin(store.as_ref(), day, false);
    let QueuedSlowDay {
        _runtime,
        pipeline,
        processor,
        id,
    } = QueuedSlowDay::enqueue(store.as_ref(), day);
    // Started before the run goes stale: its start reaps nothing.
    let worker = host_on(store.clone(), "queue-host:2");
    let abandoned = run_elsewhere(store.as_ref(), &processor, day, std::time::Duration::ZERO);
    let queue = store.work_queue().unwrap();

    let worked = work_queue::work_one(queue, &pipeline, &worker).unwrap();

    assert!(
        matches!(&worked, Worked::Ended { ran, .. } if ran.len() == 1),
        "{worked:?}"
    );
    let reaped = store.run(&abandoned.run_id).unwrap().unwrap();
    assert_eq!(
        (reaped.status, reaped.error_kind),
        (RunStatus::Failed, Some(ErrorKind::Stale))
    );
    let progress = queue.progress(&id).unwrap().unwrap();
    assert_eq!(progress.succeeded, 1, "{progress:#?}");
}

/// A stale run whose row another transaction holds (a frozen host in the
/// middle of its commit) does not hold the reaper: it passes over that run
/// at once, reaps the others, and reaps the held one once the row is
/// free. Before, the reaper waited on the lock: the host's own leases went
/// unrenewed and its live runs were reaped as stale; then, with a lock
/// timeout, it failed with "55P03 lock timeout", and with it the start of
/// every command on the store (a backfill of an unrelated date too).
#[test]
fn a_reaper_does_not_wait_on_a_stale_run_another_transaction_holds() {
    use slate::runs::{NewRun, Trigger};

    let url = isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    let stale_on = |day: &str| {
        store
            .start_run(&NewRun {
                processor: "FrozenProcessor".into(),
                phase: slate::phase::Phase::Precompute,
                data_date: date(day),
                host_id: "frozen-host:1".into(),
                plugin_hash: "h".into(),
                trigger: Trigger::Cli,
                lease: std::time::Duration::ZERO,
            })
            .unwrap()
    };
    let stale = stale_on("2026-01-12");
    let free = stale_on("2026-01-13");
    let mut holder = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut holding = holder.transaction().unwrap();
    holding
        .execute(
            "UPDATE _slate.runs SET reason = reason WHERE run_id = $1",
            &[&stale.run_id],
        )
        .unwrap();

    let (sender, answer) = std::sync::mpsc::channel();
    let reaper = PostgresStore::connect(&url).unwrap();
    std::thread::spawn(move || {
        let _ = sender.send(reaper.reap_stale(chrono::Utc::now()).map(|r| r.len()));
    });
    let waited = answer
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the reaper went on while the row was held");
    assert_eq!(waited.ok(), Some(1), "the free run alone is reaped");
    let status = |run: &RunRecord| store.run(&run.run_id).unwrap().unwrap().status;
    assert_eq!(status(&free), RunStatus::Failed);

    // Nor does a host connecting meanwhile wait: the set-up's DDL (which
    // takes a share lock on the run table) is skipped on a database this
    // code already set up.
    let (sender, connected) = std::sync::mpsc::channel();
    let connecting = url.clone();
    std::thread::spawn(move || {
        let _ = sender.send(PostgresStore::connect(&connecting).is_ok());
    });
    assert!(
        connected
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("a host connected while a write transaction was open")
    );

    holding.rollback().unwrap();
    assert_eq!(store.reap_stale(chrono::Utc::now()).unwrap().len(), 1);
}

/// A read PostgreSQL refuses says what PostgreSQL said: before, a run
/// failed with only "reading an input failed: db error", the detail left
/// in PostgreSQL's own log.
#[test]
fn a_read_postgresql_refuses_names_postgresqls_reason() {
    use slate::schema::{Column, ColumnMode, ColumnType, TableName, TableSchema};
    let url = isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    let table = TableName::new("slate_test", "damaged");
    let schema = TableSchema {
        columns: vec![Column::new("day", ColumnType::Date, ColumnMode::Required)],
        partition_column: "day".into(),
        key_columns: vec![],
    };
    store.ensure_table(&table, &schema).unwrap();
    postgres::Client::connect(&url, postgres::NoTls)
        .unwrap()
        .batch_execute("ALTER TABLE \"slate_test\".\"damaged\" DROP COLUMN \"_slate_row\"")
        .unwrap();
    let day = date("2026-01-11");
    let error = store
        .read_column_batch(TableSpan::new(&table, day, day), &["day".to_string()])
        .unwrap_err()
        .to_string();
    assert_contains(
        &error,
        "PostgreSQL 42703: column \"_slate_row\" does not exist",
    );
}
