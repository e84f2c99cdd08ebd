//! Schedules: `slate serve` fires a `[[schedule]]` on its cron, with
//! trigger `schedule`, and two servers on one store fire each tick once:
//! on one embedded store file, or on one PostgreSQL database.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::Timelike;

use slate::runs::{RunFilter, RunStatus, Trigger};
use slate::store::schedules::TickState;
use slate::store::{EmbeddedStore, PostgresStore, RunLedger, Store};

use crate::serve_process::Server;
use crate::support::{
    assert_contains, assert_succeeded, components, plugin_dir, slate, slate_with_plugins, stdout,
    use_shared_compiled_cache, wait_until,
};

/// A schedule firing FaultyProcessor every second.
const EVERY_SECOND: &str = "[[schedule]]\nname = \"every-second\"\ncron = \"* * * * * *\"\n\
    date = \"today\"\nprocessors = [\"FaultyProcessor\"]\n";

/// A data folder whose `slate.toml` holds [`EVERY_SECOND`], compiling into
/// the cache the other tests share.
fn folder_with_the_schedule() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("slate.toml"), EVERY_SECOND).unwrap();
    use_shared_compiled_cache(data.path());
    data
}

/// Starts a server on each of `folders` (with `extra` options), waits for
/// three ticks in `store`, stops both, and checks that each tick fired once.
fn two_servers_fire_each_tick_once(folders: [&Path; 2], extra: &[&str], store: &dyn Store) {
    let plugins = plugin_dir(&[components::FAULTY_PROCESSOR]);
    let mut args = vec!["--plugin-dir", plugins.path().to_str().unwrap()];
    args.extend_from_slice(extra);
    let first = Server::start(folders[0], &args);
    let second = Server::start(folders[1], &args);
    let ticks = || {
        store
            .tick_ledger()
            .unwrap()
            .ticks("every-second", 1000)
            .unwrap()
    };
    wait_until("three ticks have fired", || ticks().len() >= 3);
    let (status, schedules) = first.get("/schedules");
    assert_eq!(status, 200);
    assert_eq!(schedules[0]["name"], "every-second");
    assert!(schedules[0]["next_fire"].is_string(), "{schedules}");
    assert!(
        schedules[0]["last_tick"]["outcome"].is_string(),
        "{schedules}"
    );
    assert!(first.terminate().success());
    assert!(second.terminate().success());

    let fired = ticks();
    let instants: BTreeSet<_> = fired.iter().map(|t| t.tick_at).collect();
    assert_eq!(instants.len(), fired.len(), "no tick fired twice");
    for pair in fired.windows(2) {
        assert_eq!(
            (pair[0].tick_at - pair[1].tick_at).num_milliseconds(),
            1000,
            "one tick a second, none skipped: {fired:#?}"
        );
    }
    let scheduled = store
        .runs(&RunFilter {
            processor: Some("FaultyProcessor".into()),
            ..RunFilter::default()
        })
        .unwrap();
    assert!(scheduled.iter().all(|r| r.trigger == Trigger::Schedule));
    let started: Vec<&String> = fired.iter().flat_map(|t| &t.run_ids).collect();
    assert_eq!(
        started.len(),
        scheduled.len(),
        "every run belongs to exactly one tick"
    );
    let today = chrono::Utc::now().date_naive();
    for tick in &fired {
        assert!(tick.data_date <= today && today - tick.data_date <= chrono::TimeDelta::days(1));
        // A pass that found two ticks of the date due fires the later.
        assert!(
            [TickState::Fired, TickState::PassedOver].contains(&tick.state),
            "{tick:?}"
        );
    }
    assert!(
        scheduled.iter().all(|r| r.status != RunStatus::Running),
        "both servers stopped without leaving a running run"
    );
}

#[test]
fn two_servers_on_one_store_fire_a_one_second_schedule_once_per_tick() {
    let data = folder_with_the_schedule();
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    two_servers_fire_each_tick_once([data.path(), data.path()], &[], &store);
}

#[test]
fn two_servers_on_one_postgres_database_fire_a_one_second_schedule_once_per_tick() {
    let url = crate::postgres_server::isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    let (a, b) = (folder_with_the_schedule(), folder_with_the_schedule());
    two_servers_fire_each_tick_once([a.path(), b.path()], &["--state", &url], &store);
}

/// The processors every host of the test clusters serves: the bundled.
const BUNDLED: [&str; 9] = [
    "PlayerGameSummaryProcessor",
    "TeamDefenseGameSummaryProcessor",
    "TeamOffenseGameSummaryProcessor",
    "PlayerDailyCacheProcessor",
    "PlayerShotZoneAnalysisProcessor",
    "TeamDefenseZoneAnalysisProcessor",
    "PlayerCompositeFactorsProcessor",
    "MLFeatureStoreProcessor",
    "PointsPredictionProcessor",
];

/// A whole-pipeline schedule on hosts with different plugin folders runs
/// every processor: when a host that lacks one claims a tick, a host that
/// serves it fires it, once, recording its share as `SCHEDULE/PROCESSOR`.
/// Before, a processor only some hosts served never ran on the ticks
/// another host claimed, and nothing said so.
#[test]
fn a_whole_pipeline_tick_claimed_by_a_host_without_a_processor_is_fired_for_it_elsewhere() {
    use slate::store::hosts::Heartbeat;
    let url = crate::postgres_server::isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("slate.toml"),
        "[dates]\nearliest = \"2020-01-01\"\n\
         [[schedule]]\nname = \"dag\"\ncron = \"*/2 * * * * *\"\ndate = \"today\"\n",
    )
    .unwrap();
    use_shared_compiled_cache(data.path());
    // The other host serves the bundled processors only; this test claims
    // the ticks for it, each the instant it is due.
    let other = "other-host[boot 0]:1";
    let bundled: Vec<String> = BUNDLED.iter().map(|name| name.to_string()).collect();
    store
        .host_directory()
        .unwrap()
        .heartbeat(&Heartbeat {
            host_id: other,
            address: "http://127.0.0.1:9",
            lease: std::time::Duration::from_secs(600),
            processors: Some(&bundled),
            upstream: &Default::default(),
            first: true,
        })
        .unwrap();
    let plugins = plugin_dir(&[components::FAULTY_PROCESSOR]);
    let server = Server::start(
        data.path(),
        &[
            "--state",
            &url,
            "--plugin-dir",
            plugins.path().to_str().unwrap(),
        ],
    );
    let ledger = store.tick_ledger().unwrap();
    let other_fires = |processor: &str, tick: chrono::DateTime<chrono::Utc>| {
        let run = slate::runs::NewRun {
            processor: processor.into(),
            phase: slate::phase::Phase::Analytics,
            data_date: tick.date_naive(),
            host_id: other.into(),
            plugin_hash: "elsewhere".into(),
            trigger: Trigger::Schedule,
            lease: std::time::Duration::from_secs(600),
        };
        store.start_run(&run).unwrap().run_id
    };
    let mut claimed_by_the_other = Vec::new();
    let mut tick = chrono::Utc::now().with_nanosecond(0).unwrap();
    while claimed_by_the_other.len() < 4 {
        tick += chrono::TimeDelta::seconds(1);
        if !tick.second().is_multiple_of(2) {
            continue;
        }
        let wait = (tick - chrono::Utc::now()).to_std().unwrap_or_default();
        std::thread::sleep(wait);
        // The server may, rarely, get there first: it then fires it all.
        if ledger
            .claim_tick("dag", tick, tick.date_naive(), other)
            .unwrap()
        {
            // The last time, the other host has FaultyProcessor too, newly
            // deployed, before its next heartbeat says so: it fires it.
            let fired: Vec<String> = match claimed_by_the_other.len() {
                3 => vec![other_fires("FaultyProcessor", tick)],
                _ => Vec::new(),
            };
            ledger
                .finish_tick("dag", tick, TickState::Fired, "fired 10 runs", &fired)
                .unwrap();
            claimed_by_the_other.push(tick);
        }
    }
    let fired_it_itself = claimed_by_the_other.pop().unwrap();
    let shares = || ledger.ticks("dag/FaultyProcessor", 100).unwrap();
    wait_until("the server fired its share of each tick", || {
        claimed_by_the_other
            .iter()
            .all(|tick| shares().iter().any(|share| share.tick_at == *tick))
    });
    // A host that claimed a tick and drained to stop at once says it
    // serves nothing: what it fired still tells what is this host's.
    let drained = "drained-host[boot 0]:2";
    store
        .host_directory()
        .unwrap()
        .heartbeat(&Heartbeat {
            host_id: drained,
            address: "http://127.0.0.1:9",
            lease: std::time::Duration::from_secs(600),
            processors: Some(&[]),
            upstream: &Default::default(),
            first: true,
        })
        .unwrap();
    let at = chrono::Utc::now().with_nanosecond(0).unwrap() - chrono::TimeDelta::milliseconds(500);
    let fired: Vec<String> = BUNDLED.iter().map(|name| other_fires(name, at)).collect();
    assert!(
        ledger
            .claim_tick("dag", at, at.date_naive(), drained)
            .unwrap()
    );
    ledger
        .finish_tick("dag", at, TickState::Fired, "fired 9 runs", &fired)
        .unwrap();
    wait_until(
        "the server fired its share of the drained host's tick",
        || shares().iter().any(|share| share.tick_at == at),
    );
    // Time for a share of the tick the other host fired FaultyProcessor
    // in, which must not come.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(server.terminate().success());
    assert!(
        shares()
            .iter()
            .all(|share| share.tick_at != fired_it_itself),
        "what the claimant fired is not fired again: {:#?}",
        shares()
    );

    let faulty = store
        .runs(&RunFilter {
            processor: Some("FaultyProcessor".into()),
            ..RunFilter::default()
        })
        .unwrap();
    for tick in &claimed_by_the_other {
        let share = (shares().into_iter())
            .find(|share| share.tick_at == *tick)
            .unwrap();
        assert_ne!(share.host_id, other);
        assert!(share.outcome.starts_with("fired 1 run for "), "{share:#?}");
        let run = (faulty.iter())
            .find(|run| share.run_ids == [run.run_id.clone()])
            .unwrap_or_else(|| panic!("the share's run: {share:#?} {faulty:#?}"));
        assert_eq!(run.trigger, Trigger::Schedule);
    }
    // What the other hosts serve or fired was left to them: the server
    // ran a bundled processor only on a tick it claimed itself.
    let main_ticks = ledger.ticks("dag", 100).unwrap();
    let claimed_here: Vec<&String> = (main_ticks.iter())
        .filter(|t| t.host_id != other && t.host_id != drained)
        .flat_map(|t| &t.run_ids)
        .collect();
    let run_here = store
        .runs(&RunFilter {
            processor: Some("PlayerGameSummaryProcessor".into()),
            ..RunFilter::default()
        })
        .unwrap()
        .into_iter()
        .filter(|run| run.host_id != other)
        .collect::<Vec<_>>();
    assert!(
        run_here
            .iter()
            .all(|run| claimed_here.contains(&&run.run_id)),
        "{run_here:#?}"
    );
}

#[test]
fn the_schedules_command_lists_each_schedule_with_its_next_and_last_tick() {
    // The schedule names a plugin-folder processor: listed with the
    // folder it is served with (without, it is unknown, below).
    let plugins = plugin_dir(&[components::FAULTY_PROCESSOR]);
    let slate = |data: &Path, args: &[&str]| {
        slate_with_plugins(data, plugins.path())
            .args(args)
            .output()
            .unwrap()
    };
    let bare = tempfile::tempdir().unwrap();
    let none = slate(bare.path(), &["schedules"]);
    assert_succeeded(&none);
    assert_contains(&String::from_utf8_lossy(&none.stdout), "no [[schedule]] in");
    // Listing creates nothing: a mistyped --data-dir was made a store,
    // which `slate health` then found HEALTHY.
    assert!(!bare.path().join("slate.db").exists());
    let before_any_tick = folder_with_the_schedule();
    let listed = slate(before_any_tick.path(), &["schedules"]);
    assert_succeeded(&listed);
    assert_contains(&String::from_utf8_lossy(&listed.stdout), "every-second");
    assert!(!before_any_tick.path().join("slate.db").exists());

    let data = folder_with_the_schedule();
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let ledger = store.tick_ledger().unwrap();
    let tick_at = "2026-01-07T12:00:00Z".parse().unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 7).unwrap();
    assert!(
        ledger
            .claim_tick("every-second", tick_at, day, "a-host")
            .unwrap()
    );
    // The run it fired has failed since: the listing says so beside the
    // outcome, which says only that it fired it.
    let run = store
        .start_run(&slate::runs::NewRun {
            processor: "FaultyProcessor".into(),
            phase: slate::phase::Phase::Precompute,
            data_date: day,
            host_id: "a-host:1".into(),
            plugin_hash: "h".into(),
            trigger: Trigger::Schedule,
            lease: std::time::Duration::from_secs(60),
        })
        .unwrap();
    let failed = slate::runs::RunEnd {
        status: RunStatus::Failed,
        error_kind: Some(slate::runs::ErrorKind::Plugin),
        message: "boom".into(),
        rows_read: 0,
        limit: None,
        usage: slate::runs::RunUsage::default(),
        upstream_check: None,
    };
    store.end_run(&run.run_id, &failed).unwrap();
    let run_ids = [run.run_id.clone()];
    ledger
        .finish_tick(
            "every-second",
            tick_at,
            TickState::Fired,
            "fired 1 run",
            &run_ids,
        )
        .unwrap();

    let listed = slate(data.path(), &["schedules"]);
    assert_succeeded(&listed);
    let table = String::from_utf8_lossy(&listed.stdout);
    let row = table
        .lines()
        .find(|line| line.contains("every-second"))
        .unwrap_or_else(|| panic!("no row for the schedule in\n{table}"));
    for cell in [
        "* * * * * *",
        "today",
        "FaultyProcessor",
        "2026-01-07",
        "fired 1 run",
        "1 failed",
    ] {
        assert_contains(row, cell);
    }

    let json = slate(data.path(), &["schedules", "--json"]);
    assert_succeeded(&json);
    let views: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(views[0]["name"], "every-second");
    assert_eq!(views[0]["last_tick"]["outcome"], "fired 1 run");
    assert_eq!(views[0]["last_runs"], serde_json::json!({"failed": 1}));
    assert!(views[0]["next_fire"].is_string(), "{views}");
}

/// `slate schedules` refuses a schedule `slate serve` would refuse, as
/// `serve` does (exit 2, naming it): before, it listed the schedule with
/// its next tick, as if it would fire.
#[test]
fn the_schedules_command_refuses_a_schedule_naming_an_unknown_processor() {
    let data = folder_with_the_schedule();
    let listed = slate(data.path(), &["schedules"]);
    assert_eq!(listed.status.code(), Some(2), "{listed:?}");
    let error = String::from_utf8_lossy(&listed.stderr);
    assert_contains(&error, "[[schedule]] `every-second`: processors:");
    assert_contains(&error, "FaultyProcessor");
    assert!(!data.path().join("slate.db").exists(), "nothing was made");
}

/// A schedule naming a processor the pipeline lacks fired nothing at every
/// tick, silently: `slate serve` now refuses to start (exit 2), naming the
/// schedule and the processor.
#[test]
fn serve_refuses_a_schedule_naming_an_unknown_processor() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("slate.toml"),
        "[[schedule]]\nname = \"nightly\"\ncron = \"0 6 * * *\"\n\
         processors = [\"PlayerGameSumaryProcessor\"]\n",
    )
    .unwrap();
    use_shared_compiled_cache(data.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(data.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SLATE_TOKEN", "t")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the server started");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut error = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut error).unwrap();
    assert_eq!(status.code(), Some(2), "{error}");
    assert_contains(&error, "[[schedule]] `nightly`: processors:");
    assert_contains(&error, "PlayerGameSumaryProcessor");
}

/// A schedule naming a processor since undeployed does not keep the
/// server from starting (it refused to, exit 2, so an undeploy took every
/// host that restarted down with it): its ticks fire nothing, each raising
/// an alert that says why.
#[test]
fn serve_starts_with_a_schedule_naming_an_undeployed_processor_and_its_ticks_say_why() {
    let data = tempfile::tempdir().unwrap();
    let every_second = EVERY_SECOND.replace("FaultyProcessor", "VersionedProcessor");
    std::fs::write(data.path().join("slate.toml"), every_second).unwrap();
    use_shared_compiled_cache(data.path());
    assert_succeeded(&slate(data.path(), &["deploy", components::VERSIONED_V1]));
    assert_succeeded(&slate(data.path(), &["undeploy", "VersionedProcessor"]));
    // Listed, it says it fires nothing, and why, beside its next tick.
    let listed = slate(data.path(), &["schedules"]);
    assert_succeeded(&listed);
    assert_contains(
        &stdout(&listed),
        "fires nothing: VersionedProcessor is no longer deployed",
    );
    let listed = slate(data.path(), &["schedules", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(
        listed[0]["fires_nothing"], "VersionedProcessor is no longer deployed",
        "{listed}"
    );

    let server = Server::start(data.path(), &[]);
    wait_for_unfired_tick(&server, "unknown processor VersionedProcessor");
    let (status, listed) = server.get("/schedules");
    assert_eq!(status, 200, "{listed}");
    assert_contains(
        listed[0]["fires_nothing"].as_str().unwrap_or_default(),
        "unknown processor VersionedProcessor",
    );
}

/// A schedule naming a processor whose registry version this host cannot
/// load (its stored bytes are damaged) starts the server too, and both the
/// start-up log and each tick say it is left out, and why; not that it is
/// no longer deployed, which would send the operator to redeploy it.
#[test]
fn serve_starts_with_a_schedule_naming_a_processor_left_out_and_says_so() {
    let data = tempfile::tempdir().unwrap();
    let every_second = EVERY_SECOND.replace("FaultyProcessor", "VersionedProcessor");
    std::fs::write(data.path().join("slate.toml"), every_second).unwrap();
    use_shared_compiled_cache(data.path());
    assert_succeeded(&slate(data.path(), &["deploy", components::VERSIONED_V1]));
    let bytes = std::fs::read(components::VERSIONED_V1).unwrap();
    let blob = data
        .path()
        .join("registry/blobs")
        .join(format!("{}.wasm", slate::plugin::content_hash(&bytes)));
    std::fs::write(&blob, b"damaged").unwrap();

    let log_path = data.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = Server::start_logging(data.path(), &[], log, "error");
    wait_for_unfired_tick(&server, "VersionedProcessor is left out on this host");
    let (_, listed) = server.get("/schedules");
    assert_contains(
        listed[0]["fires_nothing"].as_str().unwrap_or_default(),
        "VersionedProcessor is left out on this host",
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_contains(&log, "names a processor left out on this host");
    assert_contains(&log, "are damaged");
    assert!(!log.contains("no longer deployed"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "a log file holds no colour codes: {log}"
    );
}

/// A tick that can start no run (here: its date lies outside the dates the
/// pipeline serves) was only recorded as "not fired" in the tick ledger:
/// it is now an alert, `schedule_not_fired`, naming the schedule, the date
/// and why.
#[test]
fn a_tick_that_starts_no_run_raises_an_alert_naming_the_schedule_and_why() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("slate.toml"),
        "[dates]\nearliest = \"2020-01-01\"\n\
         [[schedule]]\nname = \"long-ago\"\ncron = \"* * * * * *\"\ndate = \"-3000\"\n\
         processors = [\"FaultyProcessor\"]\n",
    )
    .unwrap();
    use_shared_compiled_cache(data.path());
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let plugins = plugin_dir(&[components::FAULTY_PROCESSOR]);
    let server = Server::start(
        data.path(),
        &["--plugin-dir", plugins.path().to_str().unwrap()],
    );
    let alerts = || {
        let listed = slate(data.path(), &["alerts", "--json"]);
        assert_succeeded(&listed);
        let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
        listed["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["event"] == "schedule_not_fired")
            .cloned()
            .collect::<Vec<_>>()
    };
    wait_until("an unfired tick raised its alert", || !alerts().is_empty());
    assert!(server.terminate().success());
    let raised = &alerts()[0];
    assert_eq!(raised["subject"], "long-ago");
    assert_eq!(raised["severity"], "error");
    assert_contains(
        raised["summary"].as_str().unwrap(),
        "schedule long-ago started no run for",
    );
    let ticks = store.tick_ledger().unwrap().ticks("long-ago", 10).unwrap();
    assert!(ticks.iter().all(|t| t.outcome.starts_with("not fired: ")));
    assert!(ticks.iter().all(|t| t.run_ids.is_empty()));
}

/// After downtime, a catch-up fires one tick per date, the latest, and
/// records the others as passed over: before, each hourly tick of `today`
/// fired, and all but the first found the date's runs already going and
/// raised errors. A catch-up longer than its bound names the dates it
/// leaves out in an alert: before, they were dropped without a word.
#[test]
fn a_catch_up_fires_each_date_once_and_names_the_dates_past_its_bound() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("slate.toml"),
        "[dates]\nearliest = \"2020-01-01\"\n\
         [[schedule]]\nname = \"hourly\"\ncron = \"0 * * * *\"\ndate = \"today\"\n\
         catch_up = true\nprocessors = [\"FaultyProcessor\"]\n\
         [[schedule]]\nname = \"daily\"\ncron = \"0 0 * * *\"\ncatch_up = true\n\
         processors = [\"FaultyProcessor\"]\n",
    )
    .unwrap();
    use_shared_compiled_cache(data.path());
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let ledger = store.tick_ledger().unwrap();
    let now = chrono::Utc::now();
    let hour = |back: i64| {
        let at = now - chrono::TimeDelta::hours(back);
        at.date_naive()
            .and_hms_opt(at.hour(), 0, 0)
            .unwrap()
            .and_utc()
    };
    // Last fired five hours ago, and 150 days ago.
    let planted = [("hourly", hour(5)), ("daily", hour(150 * 24))];
    for (schedule, at) in planted {
        assert!(
            ledger
                .claim_tick(schedule, at, at.date_naive(), "earlier")
                .unwrap()
        );
        ledger
            .finish_tick(schedule, at, TickState::Fired, "fired 0 runs", &[])
            .unwrap();
    }
    let plugins = plugin_dir(&[components::FAULTY_PROCESSOR]);
    let server = Server::start(
        data.path(),
        &["--plugin-dir", plugins.path().to_str().unwrap()],
    );
    wait_for_unfired_tick(&server, "a catch-up fires at most 100 missed ticks: ");
    // The command repeats the server's global options, so that it acts
    // on the same store and processors when pasted.
    wait_for_unfired_tick(
        &server,
        &format!(
            "(`slate --data-dir {} --plugin-dir {} backfill --from ",
            data.path().display(),
            plugins.path().display()
        ),
    );
    wait_for_unfired_tick(&server, " --processors FaultyProcessor` runs them)");
    wait_until("the hourly catch-up is recorded", || {
        ledger.ticks("hourly", 100).unwrap().len() >= 6
    });
    wait_until("the daily catch-up is recorded", || {
        ledger.ticks("daily", 200).unwrap().len() > 100
    });
    assert!(server.terminate().success());

    let hourly = ledger.ticks("hourly", 100).unwrap();
    let since: Vec<_> = hourly.iter().filter(|t| t.tick_at > planted[0].1).collect();
    let fired: Vec<_> = since
        .iter()
        .filter(|t| t.outcome.starts_with("fired"))
        .collect();
    let passed_over: Vec<_> = since
        .iter()
        .filter(|t| t.outcome.starts_with("passed over: the tick at"))
        .collect();
    // One fire per date the missed ticks process (two across midnight).
    let dates: BTreeSet<_> = since.iter().map(|t| t.data_date).collect();
    assert_eq!(fired.len(), dates.len(), "{hourly:#?}");
    assert_eq!(fired.len() + passed_over.len(), since.len(), "{hourly:#?}");
    assert!(passed_over.len() >= 5 - dates.len(), "{hourly:#?}");
    let daily = ledger.ticks("daily", 200).unwrap();
    assert_eq!(daily.len(), 1 + 100, "the planted tick and the latest 100");
}

/// Ticks of a schedule that does not catch up, missed while no server
/// ran, are said once the server is up: a `schedule_not_fired` alert
/// naming the first and the last, and the backfill that runs their dates.
/// None of them fires. A tick fired after the start does not hide them,
/// and the next start does not say them again. Before, a nightly tick
/// lost in a restart left no trace.
#[test]
fn ticks_missed_while_no_server_ran_are_named_in_an_alert_and_not_fired() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("slate.toml"),
        "[dates]\nearliest = \"2020-01-01\"\n\
         [[schedule]]\nname = \"daily\"\ncron = \"0 0 * * *\"\n\
         processors = [\"FaultyProcessor\"]\n",
    )
    .unwrap();
    use_shared_compiled_cache(data.path());
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let ledger = store.tick_ledger().unwrap();
    // Last fired three days ago, at midnight: the last two midnights
    // (at least) were missed.
    let last = (chrono::Utc::now() - chrono::TimeDelta::days(3))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    assert!(
        ledger
            .claim_tick("daily", last, last.date_naive(), "earlier")
            .unwrap()
    );
    ledger
        .finish_tick("daily", last, TickState::Fired, "fired 0 runs", &[])
        .unwrap();
    let plugins = plugin_dir(&[components::FAULTY_PROCESSOR]);
    let server = Server::start(
        data.path(),
        &["--plugin-dir", plugins.path().to_str().unwrap()],
    );
    // A tick fired once the server is up, as a frequent schedule's would
    // in the server's first seconds.
    let since = chrono::Utc::now();
    assert!(
        ledger
            .claim_tick("daily", since, since.date_naive(), "another")
            .unwrap()
    );
    ledger
        .finish_tick("daily", since, TickState::Fired, "fired 0 runs", &[])
        .unwrap();

    let first_missed = last + chrono::TimeDelta::days(1);
    let from = first_missed.date_naive().pred_opt().unwrap();
    // The summary names every date missed, not the last alone.
    wait_for_unfired_tick(
        &server,
        &format!("schedule daily started no run for {from} to "),
    );
    wait_for_unfired_tick(
        &server,
        &format!(
            "the ticks from {first_missed} to {} (dates {from} to ",
            (chrono::Utc::now().date_naive())
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
        ),
    );
    wait_for_unfired_tick(
        &server,
        &format!(
            "missed while no server ran, and the schedule does not catch up (`slate \
             --data-dir {} --plugin-dir {} backfill --from {from} --to ",
            data.path().display(),
            plugins.path().display()
        ),
    );
    assert!(server.terminate().success());
    // The last missed tick is recorded as not fired; none fired.
    let ticks = ledger.ticks("daily", 10).unwrap();
    assert_eq!(ticks.len(), 3, "{ticks:#?}");
    assert!(ticks[1].outcome.starts_with("not fired: the ticks from "));
    assert_eq!(ticks[1].state, TickState::NotFired);
    assert!(ticks.iter().all(|t| t.run_ids.is_empty()), "{ticks:#?}");

    // Started again, a server says nothing more of them.
    use slate::store::alerts::AlertOutbox;
    let unfired = || {
        (store.alerts(false, 1000).unwrap().into_iter())
            .filter(|a| a.raised.event == slate::alerts::EventKind::ScheduleNotFired)
            .map(|a| a.occurrences)
            .collect::<Vec<_>>()
    };
    assert_eq!(unfired(), [1]);
    let again = Server::start(
        data.path(),
        &["--plugin-dir", plugins.path().to_str().unwrap()],
    );
    std::thread::sleep(std::time::Duration::from_secs(12));
    assert!(again.terminate().success());
    assert_eq!(unfired(), [1]);
}

/// A tick whose runs all stay unstarted, because each of its processor
/// and date pairs is already running (an earlier tick's run that has not
/// ended), started no run: it raises `schedule_not_fired` saying so, as a
/// tick that could not be tried does. Before, it was only a line in the
/// tick ledger.
#[test]
fn a_tick_whose_runs_are_all_already_running_raises_an_alert_saying_so() {
    let data = tempfile::tempdir().unwrap();
    let every_second = EVERY_SECOND.replace("FaultyProcessor", "SlowProcessor");
    std::fs::write(data.path().join("slate.toml"), every_second).unwrap();
    use_shared_compiled_cache(data.path());
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let today = chrono::Utc::now().date_naive();
    crate::bookkeeping::set_spin(&store, today, true);
    let plugins = plugin_dir(&[components::SLOW_PROCESSOR]);
    let server = Server::start(
        data.path(),
        &[
            "--plugin-dir",
            plugins.path().to_str().unwrap(),
            "--grace-secs",
            "0.001",
        ],
    );
    wait_for_unfired_tick(&server, "not started: SlowProcessor: already running (run ");
    crate::bookkeeping::set_spin(&store, today, false);
    assert!(server.terminate().success());
}

/// Waits until `server` has raised a `schedule_not_fired` alert whose
/// summary holds `reason`.
fn wait_for_unfired_tick(server: &Server, reason: &str) {
    wait_until("a tick raised its alert", || {
        let (_, alerts) = server.get("/alerts");
        alerts["alerts"].as_array().is_some_and(|alerts| {
            alerts.iter().any(|a| {
                a["event"] == "schedule_not_fired"
                    && a["summary"].as_str().is_some_and(|s| s.contains(reason))
            })
        })
    });
}

/// The ticks [`a_tick_keeps_the_state_it_ended_in_whatever_its_words`]
/// records, each with the state it ends in and the words beside it.
const ENDED_TICKS: [(u32, Option<TickState>, &str); 4] = [
    (1, None, "firing"),
    (2, Some(TickState::Fired), "fired 2 runs for 2026-01-07"),
    (
        3,
        Some(TickState::PassedOver),
        "passed over: the tick at 2026-01-07T04:00:00Z fires 2026-01-07",
    ),
    (
        4,
        Some(TickState::NotFired),
        "fired nothing: 2026-01-07 is outside the calendar",
    ),
];

/// Records [`ENDED_TICKS`] of `schedule` in `store`'s tick ledger.
fn record_ended_ticks(store: &dyn Store, schedule: &str) {
    let ledger = store.tick_ledger().expect("the store keeps ticks");
    for (hour, state, outcome) in ENDED_TICKS {
        let at = format!("2026-01-07T0{hour}:00:00Z").parse().unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 7).unwrap();
        assert!(ledger.claim_tick(schedule, at, day, "a-host").unwrap());
        if let Some(state) = state {
            ledger
                .finish_tick(schedule, at, state, outcome, &[])
                .unwrap();
        }
    }
}

/// The states `store` reads back for `schedule`'s ticks, oldest first.
fn tick_states(store: &dyn Store, schedule: &str) -> Vec<(TickState, String)> {
    let mut ticks = store.tick_ledger().unwrap().ticks(schedule, 10).unwrap();
    ticks.reverse();
    ticks.into_iter().map(|t| (t.state, t.outcome)).collect()
}

/// A tick's state is kept apart from the words that say what came of it:
/// a tick that fired nothing is not read as fired because its words begin
/// with "fired", as it was when hosts matched the outcome's first word to
/// decide which ticks of another host to follow.
fn a_tick_keeps_the_state_it_ended_in_whatever_its_words(store: &dyn Store) {
    record_ended_ticks(store, "nightly");
    let expected: Vec<(TickState, String)> = ENDED_TICKS
        .iter()
        .map(|(_, state, outcome)| (state.unwrap_or(TickState::Firing), outcome.to_string()))
        .collect();
    assert_eq!(tick_states(store, "nightly"), expected);
}

#[test]
fn an_embedded_tick_keeps_the_state_it_ended_in_whatever_its_words() {
    let data = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    a_tick_keeps_the_state_it_ended_in_whatever_its_words(&store);
}

#[test]
fn a_postgres_tick_keeps_the_state_it_ended_in_whatever_its_words() {
    a_tick_keeps_the_state_it_ended_in_whatever_its_words(
        crate::postgres_server::isolated_store().as_ref(),
    );
}

/// The states that ticks recorded before ticks had a state are given, from
/// their words, by the store that adds the column.
const STATES_OF_OLDER_TICKS: [TickState; 4] = [
    TickState::Firing,
    TickState::Fired,
    TickState::PassedOver,
    TickState::NotFired,
];

/// A store file made before ticks had a state gains the column when it is
/// opened, each older tick's state read once from its words.
#[test]
fn an_embedded_store_made_before_ticks_had_a_state_gives_each_older_tick_one() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("slate.db");
    record_ended_ticks(&EmbeddedStore::open(&path).unwrap(), "nightly");
    let older = rusqlite::Connection::open(&path).unwrap();
    older
        .execute_batch("ALTER TABLE _slate_schedule_ticks DROP COLUMN state")
        .unwrap();
    // Written by a host of then, whose not-fired words began "not fired".
    older
        .execute(
            "UPDATE _slate_schedule_ticks SET outcome = 'not fired: outside the calendar'
             WHERE outcome LIKE 'fired nothing%'",
            [],
        )
        .unwrap();
    drop(older);

    let store = EmbeddedStore::open(&path).unwrap();

    let states: Vec<TickState> = (tick_states(&store, "nightly").into_iter())
        .map(|(state, _)| state)
        .collect();
    assert_eq!(states, STATES_OF_OLDER_TICKS);
}

/// A database made before ticks had a state gains the column at the next
/// connection, each older tick's state read once from its words.
#[test]
fn a_postgres_store_made_before_ticks_had_a_state_gives_each_older_tick_one() {
    let url = crate::postgres_server::isolated_url();
    record_ended_ticks(&PostgresStore::connect(&url).unwrap(), "nightly");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(
            "ALTER TABLE _slate.schedule_ticks DROP COLUMN state;
             UPDATE _slate.schedule_ticks SET outcome = 'not fired: outside the calendar'
             WHERE outcome LIKE 'fired nothing%';
             DELETE FROM _slate.setup_done;",
        )
        .unwrap();

    let store = PostgresStore::connect(&url).unwrap();

    let states: Vec<TickState> = (tick_states(&store, "nightly").into_iter())
        .map(|(state, _)| state)
        .collect();
    assert_eq!(states, STATES_OF_OLDER_TICKS);
}

/// The words an older host (from before ticks had a state) writes as it
/// finishes a tick, leaving the state at `firing`, during a rolling
/// upgrade: `(outcome, the state a newer host reads)`.
const FINISHED_BY_AN_OLDER_HOST: [(&str, TickState); 3] = [
    ("fired 9 runs for 2026-01-07", TickState::Fired),
    (
        "passed over: the tick at 05:00 fires 2026-01-07",
        TickState::PassedOver,
    ),
    ("not fired: outside the calendar", TickState::NotFired),
];

/// Claims a tick at each of `FINISHED_BY_AN_OLDER_HOST`'s hours (3, 4, 5)
/// of `schedule` in `store`.
fn claim_ticks_an_older_host_finishes(store: &dyn Store, schedule: &str) {
    let ledger = store.tick_ledger().unwrap();
    for hour in 3..6 {
        let at = format!("2026-01-07T0{hour}:00:00Z").parse().unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 7).unwrap();
        assert!(
            ledger
                .claim_tick(schedule, at, day, "an-older-host")
                .unwrap()
        );
    }
}

/// The states read back for the ticks an older host finished.
fn states_after_an_older_host(store: &dyn Store, schedule: &str) -> Vec<TickState> {
    (tick_states(store, schedule).into_iter())
        .map(|(state, _)| state)
        .collect()
}

/// A tick an older host finished (its words only, its state left at
/// `firing`) reads as its words say, so that newer hosts follow it: else a
/// whole-pipeline tick fired by an older host during a rolling upgrade
/// would never be shared.
#[test]
fn an_embedded_tick_an_older_host_finished_reads_as_its_words_say() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("slate.db");
    let store = EmbeddedStore::open(&path).unwrap();
    claim_ticks_an_older_host_finishes(&store, "nightly");
    let older = rusqlite::Connection::open(&path).unwrap();
    for (hour, (outcome, _)) in (3..6).zip(FINISHED_BY_AN_OLDER_HOST) {
        older
            .execute(
                "UPDATE _slate_schedule_ticks SET outcome = ?1 WHERE tick_at LIKE ?2",
                rusqlite::params![outcome, format!("2026-01-07T0{hour}:%")],
            )
            .unwrap();
    }

    let expected: Vec<TickState> = FINISHED_BY_AN_OLDER_HOST.iter().map(|(_, s)| *s).collect();
    assert_eq!(states_after_an_older_host(&store, "nightly"), expected);
}

#[test]
fn a_postgres_tick_an_older_host_finished_reads_as_its_words_say() {
    let url = crate::postgres_server::isolated_url();
    let store = PostgresStore::connect(&url).unwrap();
    claim_ticks_an_older_host_finishes(&store, "nightly");
    let mut older = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for (hour, (outcome, _)) in (3..6).zip(FINISHED_BY_AN_OLDER_HOST) {
        older
            .execute(
                "UPDATE _slate.schedule_ticks SET outcome = $1
                 WHERE tick_at = $2::TEXT::TIMESTAMPTZ",
                &[&outcome, &format!("2026-01-07T0{hour}:00:00Z")],
            )
            .unwrap();
    }

    let expected: Vec<TickState> = FINISHED_BY_AN_OLDER_HOST.iter().map(|(_, s)| *s).collect();
    assert_eq!(states_after_an_older_host(&store, "nightly"), expected);
}

/// A running server reads `slate.toml` again on SIGHUP: a schedule added
/// is listed and fires, and an alert channel added is reported. A file it
/// refuses (a bad section, or `[limits]` changed, which needs a restart)
/// changes nothing: the error is logged and the server goes on with what
/// it read before. Before, a server read the file once, and SIGHUP ended
/// it.
#[test]
fn a_server_reads_slate_toml_again_on_sighup_and_keeps_what_it_had_when_refused() {
    let data = tempfile::tempdir().unwrap();
    use_shared_compiled_cache(data.path());
    let plugins = plugin_dir(&[components::FAULTY_PROCESSOR]);
    let log_path = data.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let args = ["--plugin-dir", plugins.path().to_str().unwrap()];
    let server = Server::start_logging(data.path(), &args, log, "warn");
    let (_, listed) = server.get("/schedules");
    assert_eq!(listed, serde_json::json!([]));
    let config = data.path().join("slate.toml");
    let reloads = || {
        let log = std::fs::read_to_string(&log_path).unwrap();
        let done = log.matches("slate.toml reloaded").count();
        let refused = log.matches("slate.toml not reloaded").count();
        (done, refused, log)
    };

    let channel = "[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\n\
                   url = \"http://127.0.0.1:9/hook\"\n";
    std::fs::write(&config, format!("{EVERY_SECOND}{channel}")).unwrap();
    // Seconds after the start: the ticks of those seconds are not the
    // added schedule's to fire.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let reloaded_at = chrono::Utc::now();
    server.send_sighup();
    wait_until("the server reloaded", || reloads().0 == 1);
    let (_, listed) = server.get("/schedules");
    assert_eq!(listed[0]["name"], "every-second", "{listed}");
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let ticks = || {
        (store.tick_ledger().unwrap())
            .ticks("every-second", 100)
            .unwrap()
    };
    wait_until("the added schedule fires", || !ticks().is_empty());
    assert!(
        ticks().iter().all(|tick| tick.tick_at > reloaded_at),
        "no tick from before the reload: {:#?}",
        ticks()
    );
    let (_, alerts) = server.get("/alerts");
    assert_eq!(alerts["channels"][0]["channel"], "ops", "{alerts}");

    for (refused, said) in [
        (
            "[limits]\nmemory_mib = 0\n",
            "memory_mib = 0: not from 1 to 4096",
        ),
        (
            "[limits]\nmemory_mib = 100\n",
            "[limits] changed, and a server keeps the limits it started with",
        ),
        (
            "[[schedule]]\nname = \"s\"\ncron = \"* * * * * *\"\nprocessors = [\"NopeProcessor\"]\n",
            "NopeProcessor",
        ),
    ] {
        let before = reloads().1;
        std::fs::write(&config, refused).unwrap();
        server.send_sighup();
        wait_until("the reload is refused", || reloads().1 == before + 1);
        let (_, _, log) = reloads();
        let line = (log.lines())
            .rfind(|line| line.contains("slate.toml not reloaded"))
            .unwrap();
        assert_contains(line, said);
        let (status, listed) = server.get("/schedules");
        assert_eq!(status, 200, "the server goes on");
        assert_eq!(listed[0]["name"], "every-second", "as before: {listed}");
    }
    assert!(server.terminate().success());
}
