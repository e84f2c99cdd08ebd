//! Schedules: `slate serve` fires a `[[schedule]]` on its cron, with
//! trigger `schedule`, and two servers on one store fire each tick once.

use std::collections::BTreeSet;

use slate::runs::{RunFilter, RunStatus, Trigger};
use slate::store::{EmbeddedStore, RunLedger};

use crate::serve_process::Server;
use crate::support::{components, plugin_dir, use_shared_compiled_cache, wait_until};

#[test]
fn two_servers_on_one_store_fire_a_one_second_schedule_once_per_tick() {
    let data = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(&[components::FAULTY_PROCESSOR]);
    std::fs::write(
        data.path().join("slate.toml"),
        "[[schedule]]\nname = \"every-second\"\ncron = \"* * * * * *\"\ndate = \"today\"\n\
         processors = [\"FaultyProcessor\"]\n",
    )
    .unwrap();
    // Both servers compile into the cache the other tests share.
    use_shared_compiled_cache(data.path());
    let plugin_dir = plugins.path().to_str().unwrap();
    let first = Server::start(data.path(), &["--plugin-dir", plugin_dir]);
    let second = Server::start(data.path(), &["--plugin-dir", plugin_dir]);
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let ticks = |store: &EmbeddedStore| {
        store
            .tick_ledger()
            .unwrap()
            .ticks("every-second", 1000)
            .unwrap()
    };
    wait_until("three ticks have fired", || ticks(&store).len() >= 3);
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

    let fired = ticks(&store);
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
        assert!(tick.outcome.starts_with("fired"), "{}", tick.outcome);
    }
    assert!(
        scheduled.iter().all(|r| r.status != RunStatus::Running),
        "both servers stopped without leaving a running run"
    );
}
