//! Alerts: recorded with the state change that raised them, delivered to a
//! real HTTP receiver on loopback, deduplicated, resolved, digested,
//! retried, and loud when their own channel dies.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Days, Utc};
use slate::alerts::record::{ChannelHealth, ChannelState};
use slate::alerts::{AlertsConfig, ChannelOutcome, Deliverer};
use slate::backfill::{self, BackfillRequest, Reprocess};
use slate::pipeline::Pipeline;
use slate::runs::{ErrorKind, RunStatus};
use slate::store::alerts::AlertOutbox;
use slate::store::{EmbeddedStore, Store};

use crate::alert_receiver::{Answer, Receiver};
use crate::bookkeeping::set_spin;
use crate::serve_process::Server;
use crate::support::{
    TestHost, assert_contains, assert_succeeded, components, date, demo_data_dir, health_report,
    plugin_dir, run_plan, slate_with_plugins, start_run_in_background, stderr,
    use_shared_compiled_cache, wait_until,
};

/// One webhook channel `ops` posting to `url`, without a meaningful rate
/// limit unless `extra` sets one.
fn webhook(url: &str, extra: &str) -> AlertsConfig {
    webhook_timing_out(url, extra, 5.0)
}

/// [`webhook`], with posts timing out after `timeout_secs`.
fn webhook_timing_out(url: &str, extra: &str, timeout_secs: f64) -> AlertsConfig {
    let rate = if extra.contains("max_per_minute") {
        ""
    } else {
        "max_per_minute = 6000"
    };
    AlertsConfig::parse(
        &format!(
            "[alerts]\ntimeout_secs = {timeout_secs}\n[[alerts.channel]]\nname = \"ops\"\n\
             kind = \"webhook\"\nurl = \"{url}\"\n{rate}\n{extra}\n"
        ),
        |_| None,
    )
    .unwrap()
}

/// A deliverer for `config`'s channels, which join the store now, as a
/// command's do before it does anything.
fn deliverer(store: &Arc<EmbeddedStore>, config: AlertsConfig) -> Deliverer {
    let names: Vec<&str> = config.channels.iter().map(|c| c.name.as_str()).collect();
    store.add_channels(&names).unwrap();
    Deliverer::new(store.clone() as Arc<dyn Store>, config, "alerts-test").unwrap()
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// One delivery pass; the outcome for channel `ops`.
fn deliver(deliverer: &Deliverer) -> ChannelOutcome {
    let mut outcomes = block_on(deliverer.deliver_due()).unwrap();
    assert_eq!(outcomes.len(), 1);
    outcomes.remove(0).1
}

/// Every message `receiver` accepted, a digest's one by one.
fn messages_accepted(receiver: &Receiver) -> Vec<serde_json::Value> {
    receiver
        .accepted()
        .into_iter()
        .flat_map(|post| match post["event"].as_str() {
            Some("digest") => post["messages"].as_array().unwrap().clone(),
            _ => vec![post],
        })
        .collect()
}

/// The transitions of the messages of the digest `receiver` accepted as
/// its post number `post`.
fn digest_transitions(receiver: &Receiver, post: usize) -> Vec<String> {
    receiver.accepted()[post]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["transition"].as_str().unwrap().to_string())
        .collect()
}

/// A host whose SlowProcessor fails (kind `limit_time`) while it spins.
fn host_with_a_spinning_processor() -> (TestHost, slate::plugin::Plugin) {
    let host = TestHost::with_cpu_limit(Duration::from_millis(100));
    let slow = host.fixture(components::SLOW_PROCESSOR);
    (host, slow)
}

/// A webhook channel posting to `receiver`'s `hook`, and a host whose
/// SlowProcessor spins on 2026-01-11, so that its run that day fails:
/// what most alert tests start from.
fn a_hook_and_a_failing_day() -> (
    Receiver,
    TestHost,
    slate::plugin::Plugin,
    Deliverer,
    chrono::NaiveDate,
) {
    let receiver = Receiver::start(Answer::Ok);
    let (host, slow) = host_with_a_spinning_processor();
    let alerts = deliverer(&host.store, webhook(&receiver.url("hook"), ""));
    let day = date("2026-01-11");
    set_spin(host.store.as_ref(), day, true);
    (receiver, host, slow, alerts, day)
}

/// Two webhook channels posting with `timeout_secs`: `hang`, whose
/// receiver never answers, and `pager`; and a host whose SlowProcessor
/// fails while it spins.
fn a_hanging_channel_and_a_pager(
    timeout_secs: u64,
) -> (
    Receiver,
    Receiver,
    TestHost,
    slate::plugin::Plugin,
    Arc<Deliverer>,
) {
    let hanging = Receiver::start(Answer::Hang(Duration::from_secs(60)));
    let pager = Receiver::start(Answer::Ok);
    let (host, slow) = host_with_a_spinning_processor();
    let config = AlertsConfig::parse(
        &format!(
            "[alerts]\ntimeout_secs = {timeout_secs}\n\
             [[alerts.channel]]\nname = \"hang\"\nkind = \"webhook\"\nurl = \"{}\"\n\
             [[alerts.channel]]\nname = \"pager\"\nkind = \"webhook\"\nurl = \"{}\"\n",
            hanging.url("hook"),
            pager.url("hook")
        ),
        |_| None,
    )
    .unwrap();
    let alerts = Arc::new(deliverer(&host.store, config));
    (hanging, pager, host, slow, alerts)
}

/// Channels are posted to at once: a receiver that hangs until the
/// timeout holds up no other channel. Before, each channel waited for the
/// one before it, and the pager heard of a failure a whole timeout late.
#[test]
fn a_hanging_channel_holds_up_no_other_channel() {
    let (_hanging, pager, host, slow, alerts) = a_hanging_channel_and_a_pager(10);
    let day = date("2026-01-11");
    set_spin(host.store.as_ref(), day, true);
    host.run(&slow, day);

    let started = std::time::Instant::now();
    let pass = {
        let alerts = alerts.clone();
        std::thread::spawn(move || block_on(alerts.deliver_due()).unwrap())
    };
    // The pager has it long before the hanging post times out (10 s);
    // one after the other, it could not have it before.
    crate::support::wait_until("the pager is delivered to", || !pager.accepted().is_empty());
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(8),
        "the pager waited {waited:?}"
    );
    assert_eq!(pager.accepted()[0]["event"], "run_failed");
    let outcomes = pass.join().unwrap();
    assert_eq!(outcomes.len(), 2);
}

/// Delivering continuously, as `slate serve` does, each channel goes on
/// its own: an alert raised while the hanging channel's first post is
/// still waiting for its timeout reaches the pager at once. Before, every
/// channel's next post waited for the slowest channel's last one.
#[test]
fn while_one_channel_hangs_the_others_deliver_what_comes_meanwhile() {
    let (_hanging, pager, host, slow, alerts) = a_hanging_channel_and_a_pager(20);
    let (first, second) = (date("2026-01-11"), date("2026-01-12"));
    set_spin(host.store.as_ref(), first, true);
    set_spin(host.store.as_ref(), second, true);
    host.run(&slow, first);
    {
        let alerts = alerts.clone();
        std::thread::spawn(move || {
            block_on(async {
                let delivering = alerts.deliver_continuously(Duration::from_millis(50));
                tokio::time::timeout(Duration::from_secs(30), delivering).await
            })
        });
    }
    crate::support::wait_until("the pager has the first failure", || {
        !pager.accepted().is_empty()
    });

    host.run(&slow, second);
    crate::support::wait_until("the pager has the second failure", || {
        pager.accepted().len() >= 2
    });
    // The hanging channel's first post has not even timed out yet.
    let hang_attempts = host.store.delivery_attempts(Some("hang"), 10).unwrap();
    assert_eq!(
        hang_attempts,
        [],
        "the second alert waited for the hanging post"
    );
    let dates: Vec<_> = pager
        .accepted()
        .iter()
        .map(|post| post["alert"]["data_date"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(dates, ["2026-01-11", "2026-01-12"]);
}

/// Posts and probes of one channel by one server never overlap. Before, a
/// probe beside a slow post wrote back the cursor it had read before the
/// post moved it, and the same alerts went again and again.
#[test]
fn a_probe_beside_a_post_never_sends_a_message_twice() {
    let slow = Receiver::start(Answer::Slow(Duration::from_millis(600)));
    let (host, spinning) = host_with_a_spinning_processor();
    let alerts = Arc::new(deliverer(
        &host.store,
        webhook_timing_out(&slow.url("hook"), "", 10.0),
    ));
    let serving = {
        let alerts = alerts.clone();
        std::thread::spawn(move || {
            block_on(async {
                let both = async {
                    tokio::join!(
                        alerts.deliver_continuously(Duration::from_millis(20)),
                        alerts.check_continuously(Duration::from_millis(50))
                    )
                };
                tokio::time::timeout(Duration::from_secs(8), both).await
            })
        })
    };
    let days: Vec<_> = (11..=16)
        .map(|day| date(&format!("2026-01-{day}")))
        .collect();
    for day in &days {
        set_spin(host.store.as_ref(), *day, true);
        host.run(&spinning, *day);
        std::thread::sleep(Duration::from_millis(400));
    }
    serving.join().unwrap().unwrap_err();
    let sent: Vec<(String, String)> = messages_accepted(&slow)
        .iter()
        .filter(|m| m["event"] == "run_failed")
        .map(|m| {
            (
                m["alert"]["data_date"].to_string(),
                m["transition"].to_string(),
            )
        })
        .collect();
    let distinct: BTreeSet<_> = sent.iter().cloned().collect();
    assert_eq!(sent.len(), distinct.len(), "sent twice: {sent:#?}");
    assert_eq!(distinct.len(), days.len(), "{sent:#?}");
}

#[test]
fn a_run_that_fails_delivers_one_alert_and_a_successful_rerun_one_resolve() {
    let (receiver, host, slow, alerts, day) = a_hook_and_a_failing_day();

    let failed = host.run(&slow, day);
    assert_eq!(failed.error_kind, Some(ErrorKind::LimitTime));
    assert_eq!(deliver(&alerts), ChannelOutcome::Delivered { messages: 1 });
    let again = host.run(&slow, day);
    assert_eq!(again.status, RunStatus::Failed);
    assert_eq!(
        deliver(&alerts),
        ChannelOutcome::Idle,
        "a repeat is not sent"
    );

    let sent = receiver.accepted();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["version"], 1);
    assert_eq!(sent[0]["event"], "run_failed");
    assert_eq!(sent[0]["transition"], "opened");
    assert_eq!(sent[0]["alert"]["kind"], "limit_time");
    assert_eq!(sent[0]["alert"]["data_date"], "2026-01-11");
    assert_eq!(sent[0]["run"]["run_id"], failed.run_id.as_str());
    assert_eq!(sent[0]["run"]["processor"], "SlowProcessor");
    let open = host.store.alerts(true, 10).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].occurrences, 2, "the repeat counted up");
    assert_eq!(
        open[0].raised.run_id.as_deref(),
        Some(again.run_id.as_str())
    );

    set_spin(host.store.as_ref(), day, false);
    let fixed = host.run(&slow, day);
    assert_eq!(fixed.status, RunStatus::Success);
    assert_eq!(deliver(&alerts), ChannelOutcome::Delivered { messages: 1 });
    let sent = receiver.accepted();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["transition"], "resolved");
    assert_eq!(sent[1]["alert"]["state"], "resolved");
    assert_eq!(sent[1]["alert"]["id"], sent[0]["alert"]["id"]);
    assert!(host.store.alerts(true, 10).unwrap().is_empty());
    let resolved = host.store.alerts(false, 10).unwrap().remove(0);
    assert_eq!(resolved.resolved_by.as_deref(), Some(fixed.run_id.as_str()));
}

#[test]
fn an_alert_resolved_by_hand_sends_its_resolution_once() {
    let (receiver, host, slow, alerts, day) = a_hook_and_a_failing_day();
    host.run(&slow, day);
    let id = host.store.alerts(true, 1).unwrap()[0].alert_id;
    assert!(
        host.store
            .resolve_alert(id, "slate alerts resolve")
            .unwrap()
    );
    assert!(
        !host
            .store
            .resolve_alert(id, "slate alerts resolve")
            .unwrap()
    );
    assert_eq!(deliver(&alerts), ChannelOutcome::Delivered { messages: 2 });
    assert_eq!(digest_transitions(&receiver, 0), ["opened", "resolved"]);

    // From the command line, an alert that is not open is a usage error,
    // one resolved already saying when and by whom.
    let data = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let output = crate::support::slate(data.path(), &["alerts", "resolve", "999"]);
    assert_eq!(output.status.code(), Some(2));
    assert_contains(&stderr(&output), "there is no alert 999");
    let rejected = slate::alerts::event::for_rejected_file("a.wasm", "component", "no");
    let id = store.record_alert(&rejected).unwrap().unwrap();
    assert!(store.resolve_alert(id, "slate alerts resolve").unwrap());
    let again = crate::support::slate(data.path(), &["alerts", "resolve", &id.to_string()]);
    assert_eq!(again.status.code(), Some(2));
    assert_contains(
        &stderr(&again),
        &format!("alert {id} is not open: it was resolved at "),
    );
    assert_contains(&stderr(&again), "by slate alerts resolve");
    // A notice was never open: it says so, not "resolved at - by -".
    let deployed = slate::alerts::event::for_version_switch(
        slate::alerts::EventKind::Deployed,
        "VersionedProcessor",
        "1.0.0",
        "abc",
    );
    let notice = store.record_alert(&deployed).unwrap().unwrap();
    let output = crate::support::slate(data.path(), &["alerts", "resolve", &notice.to_string()]);
    assert_eq!(output.status.code(), Some(2));
    assert_contains(
        &stderr(&output),
        &format!("alert {notice} is a notice (deployed): a notice is never open"),
    );
}

/// A success that writes no rows where an earlier one wrote some has
/// emptied its date: past its deadline it raises `no_rows_by_deadline`,
/// naming both runs, as a date nobody ran does. Before, the sweep took any
/// success with zero rows for a date with nothing to write, and
/// `slate health` failed the date while no alert said so. A date that
/// never had rows keeps its meaning: its zero-row success resolves the
/// alert raised before it ran.
#[test]
fn a_date_emptied_by_a_successful_rerun_raises_a_no_rows_alert_naming_the_runs() {
    use slate::rows::Scalar;
    use slate::schema::ColumnType;
    use slate::store::RunLedger;
    let dir = demo_data_dir("2026-01-11", "2026-01-11");
    let plugins = plugin_dir(&[components::HOSTILE_WIDE_OUTPUT]);
    let rows_on = |day: &str, rows: i64| {
        let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
        crate::support::set_control(
            &store,
            &crate::support::hostile_control(),
            date(day),
            &[("rows", ColumnType::Int64), ("columns", ColumnType::Int64)],
            &[&[Scalar::Int64(rows), Scalar::Int64(32)]],
        );
    };
    let run = |day: &str| {
        let output = slate_with_plugins(dir.path(), plugins.path())
            .args(["run", "--date", day, "--processors", "WideOutput"])
            .output()
            .unwrap();
        assert_succeeded(&output);
        let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
        (store.runs(&slate::runs::RunFilter::default()).unwrap())
            .into_iter()
            .find(|r| r.processor == "WideOutput" && r.data_date == date(day))
            .unwrap()
    };
    let no_rows_alert = |day: &str| {
        (EmbeddedStore::open(&dir.path().join("slate.db"))
            .unwrap()
            .alerts(false, 100_000)
            .unwrap()
            .into_iter())
        .find(|a| {
            a.raised.event == slate::alerts::EventKind::NoRowsByDeadline
                && a.raised.subject == "WideOutput"
                && a.raised.data_date == Some(date(day))
        })
    };
    rows_on("2026-01-11", 5);
    let wrote = run("2026-01-11");
    assert_eq!(wrote.rows_written, 5);
    assert!(no_rows_alert("2026-01-11").is_none());
    // The 12th has no rows yet, and its deadline is long past.
    let before_it_ran = no_rows_alert("2026-01-12").expect("the 12th is overdue");
    assert!(before_it_ran.resolved_at.is_none());

    rows_on("2026-01-11", 0);
    let emptying = run("2026-01-11");
    assert_eq!(emptying.rows_written, 0);
    let emptied = no_rows_alert("2026-01-11").expect("the emptied date is alerted");
    assert!(emptied.resolved_at.is_none(), "{emptied:#?}");
    assert_contains(
        &emptied.raised.summary,
        &format!(
            "2026-01-11: slate_test.hostile_wide_output has no rows, 7 games scheduled: \
             emptied by run {}, which succeeded with 0 rows where run {} wrote 5",
            emptying.run_id, wrote.run_id
        ),
    );
    // A rerun that empties it again leaves it open: no "resolved", then
    // "opened" again.
    run("2026-01-11");
    let still = no_rows_alert("2026-01-11").unwrap();
    assert_eq!(
        (still.alert_id, still.resolved_at),
        (emptied.alert_id, None)
    );
    // Acknowledged by hand, that emptying is not raised again, however
    // often the date is rerun empty; rows written and emptied again are.
    let resolve = crate::support::slate(
        dir.path(),
        &["alerts", "resolve", &still.alert_id.to_string()],
    );
    assert_succeeded(&resolve);
    run("2026-01-11");
    let open_of_the_date = || {
        (EmbeddedStore::open(&dir.path().join("slate.db"))
            .unwrap()
            .alerts(true, 100_000)
            .unwrap()
            .into_iter())
        .filter(|a| {
            a.raised.event == slate::alerts::EventKind::NoRowsByDeadline
                && a.raised.data_date == Some(date("2026-01-11"))
        })
        .collect::<Vec<_>>()
    };
    assert!(open_of_the_date().is_empty());
    rows_on("2026-01-11", 3);
    let wrote_again = run("2026-01-11");
    rows_on("2026-01-11", 0);
    let emptied_again = run("2026-01-11");
    let open = open_of_the_date();
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_contains(
        &open[0].raised.summary,
        &format!(
            "emptied by run {}, which succeeded with 0 rows where run {} wrote 3",
            emptied_again.run_id, wrote_again.run_id
        ),
    );

    rows_on("2026-01-12", 0);
    let nothing_to_write = run("2026-01-12");
    let resolved = no_rows_alert("2026-01-12").unwrap();
    assert_eq!(
        resolved.resolved_by.as_deref(),
        Some(nothing_to_write.run_id.as_str()),
        "{resolved:#?}"
    );
}

/// A date that will never have rows (a postponed game) is acknowledged
/// by resolving its `no_rows_by_deadline` by hand. Before, the next
/// command's sweep raised it again, after sending "resolved".
#[test]
fn a_no_rows_alert_resolved_by_hand_is_acknowledged_and_not_raised_again() {
    let dir = crate::support::demo_data_dir("2026-01-05", "2026-01-07");
    let missing = Some(date("2026-01-06"));
    let no_rows_of_the_date = |open_only: bool| {
        EmbeddedStore::open(&dir.path().join("slate.db"))
            .unwrap()
            .alerts(open_only, 100_000)
            .unwrap()
            .into_iter()
            .filter(|a| {
                a.raised.event == slate::alerts::EventKind::NoRowsByDeadline
                    && a.raised.subject == "PlayerGameSummaryProcessor"
                    && a.raised.data_date == missing
            })
            .collect::<Vec<_>>()
    };
    let open = no_rows_of_the_date(true);
    assert_eq!(open.len(), 1, "{open:#?}");
    let id = open[0].alert_id.to_string();

    let resolved = crate::support::slate(dir.path(), &["alerts", "resolve", &id]);
    assert!(resolved.status.success(), "{}", stderr(&resolved));
    assert_contains(
        &String::from_utf8_lossy(&resolved.stdout),
        "PlayerGameSummaryProcessor on 2026-01-06: acknowledged, the no-rows sweep raises it no more",
    );
    // Any command sweeps; this one runs another processor.
    let run = crate::support::slate(
        dir.path(),
        &[
            "run",
            "--date",
            "2026-01-07",
            "--processors",
            "TeamOffenseGameSummaryProcessor",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(no_rows_of_the_date(true), []);
    assert_eq!(
        no_rows_of_the_date(false).len(),
        1,
        "raised once, resolved once"
    );
}

/// A processor deployed mid-season is swept from the first date it runs,
/// not from the pipeline's: before, the next command raised a
/// `no_rows_by_deadline` for every scheduled date of the season before it
/// existed (about 166 in the demo), and `/health` answered 503.
#[test]
fn a_processor_deployed_mid_season_is_swept_from_its_own_first_date() {
    let dir = crate::support::demo_data_dir("2026-01-05", "2026-01-07");
    let plugins = plugin_dir(&[components::VERSIONED_V1]);
    let no_rows_of = |processor: &str| open_no_rows_dates(dir.path(), processor);
    let slate = |args: &[&str]| {
        let output = slate_with_plugins(dir.path(), plugins.path())
            .args(args)
            .output()
            .unwrap();
        assert_succeeded(&output);
    };

    // Loaded, never run: not swept yet (a command that runs another
    // processor sweeps).
    slate(&[
        "run",
        "--date",
        "2026-01-07",
        "--processors",
        "TeamOffenseGameSummaryProcessor",
    ]);
    assert_eq!(no_rows_of("VersionedProcessor"), []);
    // Run from the 10th: the 7th and before are not its dates; the 11th,
    // which it has not run, is.
    slate(&[
        "run",
        "--date",
        "2026-01-10",
        "--processors",
        "VersionedProcessor",
    ]);
    let swept = no_rows_of("VersionedProcessor");
    assert!(!swept.is_empty());
    assert!(
        swept.iter().all(|day| *day > date("2026-01-10")),
        "{swept:?}"
    );
    // The pipeline's own processors are swept from their first date, as
    // before: the planted 6th is still missing.
    assert!(no_rows_of("PlayerGameSummaryProcessor").contains(&date("2026-01-06")));
}

/// The dates of the open `no_rows_by_deadline` alerts of
/// VersionedProcessor, deployed on the 9th into a demo store of the 5th
/// to the 12th, after running `processor` on the 12th.
fn swept_after_a_deploy_on_the_9th_and_a_run_of(processor: &str) -> Vec<chrono::NaiveDate> {
    let dir = crate::support::demo_data_dir("2026-01-05", "2026-01-12");
    let slate = |args: &[&str]| assert_succeeded(&crate::support::slate(dir.path(), args));
    slate(&["deploy", components::VERSIONED_V1]);
    // Deployed on the 9th, as the registry records it (the test cannot
    // wait for the season's dates to come round).
    rusqlite::Connection::open(dir.path().join("registry").join("registry.db"))
        .unwrap()
        .execute(
            "UPDATE deployments SET deployed_at = '2026-01-09T08:00:00.000000Z'",
            [],
        )
        .unwrap();
    slate(&["run", "--date", "2026-01-12", "--processors", processor]);
    open_no_rows_dates(dir.path(), "VersionedProcessor")
}

/// The dates of `processor`'s open `no_rows_by_deadline` alerts in the
/// store of data folder `dir`.
fn open_no_rows_dates(dir: &std::path::Path, processor: &str) -> Vec<chrono::NaiveDate> {
    EmbeddedStore::open(&dir.join("slate.db"))
        .unwrap()
        .alerts(true, 100_000)
        .unwrap()
        .into_iter()
        .filter(|a| {
            a.raised.event == slate::alerts::EventKind::NoRowsByDeadline
                && a.raised.subject == processor
        })
        .filter_map(|a| a.raised.data_date)
        .collect()
}

/// A processor deployed and then never run (a schedule that leaves it
/// out, say) is swept from the date it was first deployed: before, it was
/// not swept until its first run, so one nobody ran stayed silent.
#[test]
fn a_deployed_processor_that_never_runs_is_swept_from_its_first_deploy() {
    // Another processor's run sweeps.
    let swept = swept_after_a_deploy_on_the_9th_and_a_run_of("TeamOffenseGameSummaryProcessor");
    assert!(swept.contains(&date("2026-01-09")), "{swept:?}");
    assert!(
        swept.iter().all(|day| *day >= date("2026-01-09")),
        "the dates before its deploy are not its: {swept:?}"
    );
}

/// A deployed processor whose first run comes on a later date is swept
/// from its deploy all the same: before, the run's date became the
/// sweep's start, and the dates it had missed since its deploy were never
/// alerted.
#[test]
fn a_deployed_processor_first_run_late_is_swept_from_its_deploy() {
    let swept = swept_after_a_deploy_on_the_9th_and_a_run_of("VersionedProcessor");
    assert!(swept.contains(&date("2026-01-09")), "{swept:?}");
    assert!(!swept.contains(&date("2026-01-12")), "it ran: {swept:?}");
}

#[test]
fn a_channel_added_later_is_sent_the_alerts_still_open_and_then_everything_new() {
    let receiver = Receiver::start(Answer::Ok);
    let (host, slow) = host_with_a_spinning_processor();
    let (fixed_day, broken_day, new_day) =
        (date("2026-01-10"), date("2026-01-11"), date("2026-01-12"));
    // Before the channel: one date failed and was fixed, one still fails.
    for day in [fixed_day, broken_day, new_day] {
        set_spin(host.store.as_ref(), day, true);
    }
    host.run(&slow, fixed_day);
    set_spin(host.store.as_ref(), fixed_day, false);
    assert_eq!(host.run(&slow, fixed_day).status, RunStatus::Success);
    host.run(&slow, broken_day);

    let alerts = deliverer(&host.store, webhook(&receiver.url("hook"), ""));
    assert_eq!(deliver(&alerts), ChannelOutcome::Delivered { messages: 1 });
    let sent = receiver.accepted();
    assert_eq!(sent[0]["transition"], "opened");
    assert_eq!(sent[0]["alert"]["data_date"], "2026-01-11");
    assert_eq!(
        deliver(&alerts),
        ChannelOutcome::Idle,
        "history is not sent"
    );

    // From then on, everything: a new failure, and the old one's fix.
    host.run(&slow, new_day);
    set_spin(host.store.as_ref(), broken_day, false);
    assert_eq!(host.run(&slow, broken_day).status, RunStatus::Success);
    assert_eq!(deliver(&alerts), ChannelOutcome::Delivered { messages: 2 });
    let digest = &receiver.accepted()[1];
    let messages: Vec<(&str, &str)> = digest["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["transition"].as_str().unwrap(),
                m["alert"]["data_date"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        messages,
        [("opened", "2026-01-12"), ("resolved", "2026-01-11")]
    );
    let channels = host.store.channel_states().unwrap();
    assert!(channels[0].joined_after > 0, "{channels:?}");
}

#[test]
fn a_channel_that_joined_while_an_alert_was_open_is_sent_its_opening_with_its_resolution() {
    let receiver = Receiver::start(Answer::Ok);
    let (host, slow) = host_with_a_spinning_processor();
    let day = date("2026-01-11");
    set_spin(host.store.as_ref(), day, true);
    host.run(&slow, day);
    // The channel joins; the alert is resolved before anything is sent.
    let alerts = deliverer(&host.store, webhook(&receiver.url("hook"), ""));
    set_spin(host.store.as_ref(), day, false);
    assert_eq!(host.run(&slow, day).status, RunStatus::Success);

    assert_eq!(deliver(&alerts), ChannelOutcome::Delivered { messages: 2 });
    assert_eq!(digest_transitions(&receiver, 0), ["opened", "resolved"]);
}

#[test]
fn slate_alerts_counts_for_a_channel_added_later_what_it_then_delivers() {
    let receiver = Receiver::start(Answer::Ok);
    // A week of the demo season, 2026-01-06 failing, before any channel.
    let data = crate::support::demo_data_dir("2026-01-05", "2026-01-11");
    std::fs::write(
        data.path().join("slate.toml"),
        "[alerts]\n[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\n\
         url_env = \"SLATE_TEST_HOOK\"\nmax_per_minute = 600\n",
    )
    .unwrap();
    let slate = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_slate"))
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .env("SLATE_TEST_HOOK", receiver.url("hook"))
            .output()
            .unwrap()
    };
    let listed = slate(&["alerts"]);
    assert_succeeded(&listed);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let row = listed
        .lines()
        .find(|line| line.contains(" ops ") && line.contains("webhook"))
        .unwrap_or_else(|| panic!("no row for ops in\n{listed}"));
    let queued: usize = row
        .split(['|', '│', '┆'])
        .map(str::trim)
        .nth(4)
        .and_then(|cell| cell.parse().ok())
        .unwrap_or_else(|| panic!("no queued count in {row:?}"));

    assert_succeeded(&slate(&["alerts", "deliver"]));
    let sent = messages_accepted(&receiver);
    assert_eq!(sent.len(), queued, "{row}");
    // Of the week's history only the failures still open: no phase notice.
    assert!(!sent.is_empty());
    assert!(
        sent.iter()
            .all(|m| m["transition"] == "opened" && m["alert"]["state"] == "open"),
        "{sent:#?}"
    );
}

/// A channel whose URL comes from a variable this shell lacks is listed
/// saying so, not as plainly "up": listing needs no secrets (the server
/// that delivers may have them), but the listing must not hide it.
#[test]
fn slate_alerts_lists_a_channel_whose_url_variable_is_unset_here_saying_so() {
    let data = crate::support::demo_data_dir("2026-01-05", "2026-01-05");
    std::fs::write(
        data.path().join("slate.toml"),
        "[alerts]\n[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\n\
         url_env = \"SLATE_TEST_UNSET_HOOK\"\n",
    )
    .unwrap();
    let slate = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_slate"))
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .env_remove("SLATE_TEST_UNSET_HOOK")
            .output()
            .unwrap()
    };
    let listed = slate(&["alerts"]);
    assert_succeeded(&listed);
    assert_contains(
        &String::from_utf8_lossy(&listed.stdout),
        "SLATE_TEST_UNSET_HOOK not set here: a process without it cannot deliver to it",
    );
    let listed = slate(&["alerts", "--json"]);
    assert_succeeded(&listed);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_contains(
        listed["channels"][0]["unset_env"]
            .as_str()
            .unwrap_or_default(),
        "SLATE_TEST_UNSET_HOOK not set here",
    );
    // Delivering needs it: refused, naming it.
    let deliver = slate(&["alerts", "deliver"]);
    assert_eq!(deliver.status.code(), Some(2), "{deliver:?}");
    assert_contains(
        &stderr(&deliver),
        "environment variable SLATE_TEST_UNSET_HOOK is not set",
    );
}

#[test]
fn a_run_failure_and_its_alert_are_one_transaction() {
    // The alert is in the store the moment the failure is: no window in
    // which a crash loses it. Nothing has been delivered yet.
    let (host, slow) = host_with_a_spinning_processor();
    let day = date("2026-01-11");
    set_spin(host.store.as_ref(), day, true);
    let failed = host.run(&slow, day);
    let alerts = host.store.alerts(true, 10).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].raised.run_id.as_deref(),
        Some(failed.run_id.as_str())
    );
    let queued = host.store.messages_after(0, 10).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].alert.alert_id, alerts[0].alert_id);
}

#[test]
fn a_backfill_of_150_failures_is_one_digest_within_the_rate_limit() {
    let receiver = Receiver::start(Answer::Ok);
    let host = TestHost::empty();
    let pipeline = Pipeline::new(vec![host.fixture(components::HOSTILE_PANIC)]).unwrap();
    let start = date("2026-01-01");
    let request = BackfillRequest {
        start,
        end: start.checked_add_days(Days::new(149)).unwrap(),
        selection: pipeline.select(&[]).unwrap(),
        reprocess: Reprocess::Missing,
        parallelism: 2,
    };
    let plan = backfill::plan(host.store.as_ref(), &pipeline, &request).unwrap();
    let outcomes = run_plan(&host, &pipeline, &plan, 2);
    assert_eq!(outcomes.iter().filter(|o| o.is_failure()).count(), 150);

    let config = webhook(
        &receiver.url("hook"),
        "events = [\"run_failed\"]\nmax_per_minute = 1",
    );
    let alerts = deliverer(&host.store, config);
    assert_eq!(
        deliver(&alerts),
        ChannelOutcome::Delivered { messages: 150 }
    );
    let sent = receiver.accepted();
    assert_eq!(sent.len(), 1, "one post, not 150");
    assert_eq!(sent[0]["event"], "digest");
    assert_eq!(sent[0]["count"], 150);
    let messages = sent[0]["messages"].as_array().unwrap();
    assert!(messages.iter().all(|m| m["event"] == "run_failed"));
    let dates: std::collections::BTreeSet<_> = messages
        .iter()
        .map(|m| m["alert"]["data_date"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(dates.len(), 150, "one alert per failed date");

    // Within the rate limit, the next failure waits for its turn.
    let late = start.checked_add_days(Days::new(200)).unwrap();
    let plugin = host.fixture(components::HOSTILE_PANIC);
    assert_eq!(host.run(&plugin, late).status, RunStatus::Failed);
    assert!(matches!(
        deliver(&alerts),
        ChannelOutcome::Waiting { queued: 1, .. }
    ));
    assert_eq!(receiver.accepted().len(), 1);
}

/// A webhook URL that redirects (an `http://` hook moved to `https://`)
/// is a wrong URL: the channel is dead at once, naming the 301, and health
/// says so. Followed, the POST became a GET that delivered nothing, and
/// its 200 counted the alert as delivered.
/// One failed run's alert, delivered to a webhook `ops` on a receiver
/// answering `answer`, which must make the channel dead at once for
/// `reason`; the receiver, the host, its processor, the deliverer and the
/// health report after.
fn one_alert_to_a_channel_that_dies(
    answer: Answer,
    reason: &str,
) -> (Receiver, TestHost, Deliverer, slate::health::HealthReport) {
    let receiver = Receiver::start(answer);
    let (host, slow) = host_with_a_spinning_processor();
    let alerts = deliverer(&host.store, webhook(&receiver.url("hook"), ""));
    let day = date("2026-01-11");
    set_spin(host.store.as_ref(), day, true);
    host.run(&slow, day);

    match deliver(&alerts) {
        ChannelOutcome::Failed {
            queued: 1,
            reason: given,
            dead: true,
        } => assert_eq!(given, reason),
        other => panic!("expected a dead channel, got {other:?}"),
    }
    let pipeline = Pipeline::new(vec![slow]).unwrap();
    let report = health_report(host.store.as_ref(), &pipeline, Utc::now())
        .with_alert_channels(host.store.as_ref(), &["ops".to_string()])
        .unwrap();
    (receiver, host, alerts, report)
}

#[test]
fn a_redirecting_webhook_is_dead_not_delivered_to() {
    let (receiver, _host, _alerts, report) =
        one_alert_to_a_channel_that_dies(Answer::Moved, "301 moved");
    let received = receiver.received();
    assert_eq!(received.len(), 1, "the redirect was not followed");
    assert!(!received[0].accepted);
    assert!(!report.healthy);
    assert_eq!(report.dead_alert_channels[0].reason, "301 moved");
}

#[test]
fn a_dead_channel_fails_health_and_its_alerts_arrive_when_it_comes_back() {
    let (receiver, host, alerts, report) =
        one_alert_to_a_channel_that_dies(Answer::NoService, "404 no_service");
    assert!(!report.healthy);
    assert_eq!(report.dead_alert_channels.len(), 1);
    assert_eq!(report.dead_alert_channels[0].channel, "ops");
    assert_eq!(report.dead_alert_channels[0].reason, "404 no_service");
    assert!(
        matches!(deliver(&alerts), ChannelOutcome::Waiting { queued: 1, .. }),
        "a dead channel is not hammered"
    );

    // The hook is back: the canary notices, and the queued alert goes out.
    receiver.answer(Answer::Ok);
    let probes = block_on(alerts.check_channels()).unwrap();
    assert_eq!(probes.len(), 1);
    assert_eq!(probes[0].1.as_ref().unwrap().purpose, "canary");
    assert_eq!(receiver.accepted()[0]["event"], "canary");
    assert_eq!(deliver(&alerts), ChannelOutcome::Delivered { messages: 1 });
    let sent = receiver.accepted();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["event"], "run_failed");
    let state = host.store.channel_states().unwrap().remove(0);
    assert_eq!(state.health, ChannelHealth::Up);
    let attempts = host.store.delivery_attempts(Some("ops"), 10).unwrap();
    let statuses: Vec<Option<u16>> = attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(statuses, [Some(200), Some(200), Some(404)], "newest first");
    assert_eq!(attempts[2].response_excerpt, "no_service");
}

/// A dead channel that answers the canary but still refuses alerts stays
/// dead: only a delivery brings back a channel with alerts queued. Before,
/// each canary revived it, and its death was resolved and raised again
/// every check interval while no alert reached it.
#[test]
fn a_dead_channel_that_takes_canaries_but_refuses_alerts_stays_dead() {
    let (receiver, host, alerts, _) =
        one_alert_to_a_channel_that_dies(Answer::NoService, "404 no_service");
    receiver.answer(Answer::CanariesOnly);
    let deaths = || {
        let all = host.store.alerts(false, 100).unwrap();
        let deaths: Vec<_> = all.iter().filter(|a| a.raised.is_death_of("ops")).collect();
        (deaths.len(), deaths.iter().all(|a| a.resolved_at.is_none()))
    };
    for _ in 0..3 {
        let probes = block_on(alerts.check_channels()).unwrap();
        let canary = probes[0].1.as_ref().unwrap();
        assert_eq!(
            (canary.purpose.as_str(), canary.status_code),
            ("canary", Some(200))
        );
        let state = host.store.channel_states().unwrap().remove(0);
        assert_eq!(state.health, ChannelHealth::Dead);
        assert_eq!(deaths(), (1, true), "one death, still open");
        // The canary's answer has the queued alert tried at once.
        let tried = deliver(&alerts);
        assert!(
            matches!(tried, ChannelOutcome::Failed { dead: true, .. }),
            "tried, refused: {tried:?}"
        );
    }
    let state = host.store.channel_states().unwrap().remove(0);
    assert_eq!(state.consecutive_failures, 4, "the failures since it died");
    assert_eq!(state.reason.as_deref(), Some("500 oops"));

    // Taking alerts again, it is back with its first delivery.
    receiver.answer(Answer::Ok);
    drop(block_on(alerts.check_channels()).unwrap());
    assert_eq!(deliver(&alerts), ChannelOutcome::Delivered { messages: 1 });
    assert_eq!(
        host.store.channel_states().unwrap()[0].health,
        ChannelHealth::Up
    );
    assert_eq!(deaths(), (1, false), "resolved");
}

/// Send and retry times another host wrote by a clock ten minutes ahead
/// hold a channel no longer than this host's own rate limit and backoff
/// would. Before, every host waited out the skew, and alerts stayed
/// queued for ten minutes.
#[test]
fn times_a_host_ahead_wrote_hold_a_channel_no_longer_than_its_own_waits() {
    let (_receiver, host, slow, alerts, day) = a_hook_and_a_failing_day();
    host.run(&slow, day);
    // The channel's state as the host ahead writes it back, after a claim.
    let written_by_the_host_ahead = |change: &dyn Fn(&mut ChannelState)| {
        let mut state = host.store.channel_states().unwrap().remove(0);
        change(&mut state);
        let now = Utc::now();
        let claim = host.store.claim_channel(
            "ops",
            "host-ahead",
            now + chrono::Duration::seconds(1),
            now,
            None,
        );
        assert!(matches!(
            claim,
            Ok(slate::store::alerts::ChannelClaim::Claimed(_))
        ));
        host.store
            .finish_delivery("host-ahead", None, Some(&state))
            .unwrap();
    };
    let ahead = Utc::now() + chrono::Duration::minutes(10);
    written_by_the_host_ahead(&|state| state.last_sent_at = Some(ahead));
    // At most this host's rate limit: 10 ms at 6,000 a minute.
    match deliver(&alerts) {
        ChannelOutcome::Waiting { until, .. } => assert!(
            until < Utc::now() + chrono::Duration::seconds(1),
            "waits until {until}"
        ),
        outcome => assert_eq!(outcome, ChannelOutcome::Delivered { messages: 1 }),
    }

    // A retry time ahead waits at most the longest wait this host sets.
    set_spin(host.store.as_ref(), date("2026-01-12"), true);
    host.run(&slow, date("2026-01-12"));
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    written_by_the_host_ahead(&|state| state.next_attempt_at = Some(tomorrow));
    match deliver(&alerts) {
        ChannelOutcome::Waiting { until, .. } => assert!(
            until < Utc::now() + chrono::Duration::minutes(10),
            "waits until {until}"
        ),
        other => panic!("expected a wait, got {other:?}"),
    }
}

/// (event, transition) of every message `receiver` accepted, canaries
/// left out.
fn events_accepted(receiver: &Receiver) -> Vec<(String, String)> {
    messages_accepted(receiver)
        .iter()
        .filter(|m| m["event"] != "canary")
        .map(|m| {
            let text = |key: &str| m[key].as_str().unwrap_or("").to_string();
            (text("event"), text("transition"))
        })
        .collect()
}

/// A channel that dies is itself an alert, sent to the other channels,
/// and resolved when it answers again; it is never sent its own death.
/// Before, only health and metrics knew: a deleted Slack hook went
/// unnoticed until someone looked.
#[test]
fn a_channel_that_dies_is_announced_to_the_others_and_resolved_when_it_answers_a_probe() {
    a_channel_dies_and_comes_back(Revival::Probe);
}

/// Come back through a delivery (its dead channel's wait over), the news
/// leaves with the same drain. Before, the pager had drained already, and
/// the resolution waited for the next command.
#[test]
fn a_dead_channel_that_comes_back_through_a_delivery_is_resolved_in_the_same_drain() {
    a_channel_dies_and_comes_back(Revival::Delivery);
}

/// How a dead channel is found to answer again.
enum Revival {
    /// `slate alerts check`'s canary.
    Probe,
    /// A delivery once its wait is over.
    Delivery,
}

/// Channel `ops` dies (404) on a failed run's alert and comes back by
/// `revival`; `pager` hears of both, and `ops` never of itself.
fn a_channel_dies_and_comes_back(revival: Revival) {
    let ops = Receiver::start(Answer::NoService);
    let pager = Receiver::start(Answer::Ok);
    let (host, slow) = host_with_a_spinning_processor();
    let config = AlertsConfig::parse(
        &format!(
            "[alerts]\ncheck_interval_secs = 1\n[[alerts.channel]]\nname = \"ops\"\n\
             kind = \"webhook\"\nurl = \"{}\"\nmax_per_minute = 6000\n[[alerts.channel]]\n\
             name = \"pager\"\nkind = \"webhook\"\nurl = \"{}\"\nmax_per_minute = 6000\n",
            ops.url("hook"),
            pager.url("hook")
        ),
        |_| None,
    )
    .unwrap();
    let alerts = deliverer(&host.store, config);
    let day = date("2026-01-11");
    set_spin(host.store.as_ref(), day, true);
    host.run(&slow, day);

    // As a command delivers before it exits: the pager may have drained
    // before `ops` died, and drains again for the news.
    let soon = || Utc::now() + chrono::Duration::seconds(5);
    let drained = block_on(alerts.drain_until(soon())).unwrap();
    // (A dead channel's wait of `check_interval_secs` may end within the
    // drain, which then posts to it again.)
    assert!(
        matches!(
            drained[0],
            (_, 0, ChannelOutcome::Waiting { dead: true, .. })
                | (_, 0, ChannelOutcome::Failed { dead: true, .. })
        ),
        "{drained:?}"
    );
    let opened = |event: &str| (event.to_string(), "opened".to_string());
    assert_eq!(
        events_accepted(&pager),
        [opened("run_failed"), opened("alert_channel_dead")]
    );
    let death = messages_accepted(&pager).pop().unwrap();
    assert_eq!(death["alert"]["subject"], "ops");
    assert_eq!(death["severity"], "error");
    assert_contains(
        death["alert"]["summary"].as_str().unwrap(),
        "alert channel `ops` is dead: 404 no_service since ",
    );
    let open = host.store.alerts(true, 10).unwrap();
    assert!(open.iter().any(|a| a.raised.is_death_of("ops")));

    // The hook is back: found so, its death is resolved; the pager hears
    // so, and `ops` gets the failure it missed, not its death.
    ops.answer(Answer::Ok);
    match revival {
        Revival::Probe => drop(block_on(alerts.check_channels()).unwrap()),
        // A dead channel's next post waits for `check_interval_secs`.
        Revival::Delivery => std::thread::sleep(Duration::from_millis(1100)),
    }
    block_on(alerts.drain_until(soon())).unwrap();
    assert_eq!(
        events_accepted(&pager)[2],
        ("alert_channel_dead".to_string(), "resolved".to_string())
    );
    assert_eq!(events_accepted(&ops), [opened("run_failed")]);
    let open = host.store.alerts(true, 10).unwrap();
    assert!(
        !open.iter().any(|a| a.raised.is_death_of("ops")),
        "{open:?}"
    );
}

#[test]
fn failed_posts_are_retried_with_backoff_and_a_429_waits_for_retry_after() {
    let receiver = Receiver::start(Answer::TooMany);
    let (host, slow) = host_with_a_spinning_processor();
    let config = webhook_timing_out(&receiver.url("hook"), "", 0.5);
    let alerts = deliverer(&host.store, config);
    let day = date("2026-01-11");
    set_spin(host.store.as_ref(), day, true);
    host.run(&slow, day);

    assert!(matches!(
        deliver(&alerts),
        ChannelOutcome::Failed { dead: false, .. }
    ));
    match deliver(&alerts) {
        ChannelOutcome::Waiting { until, .. } => {
            let wait = until - Utc::now();
            assert!(wait <= chrono::Duration::seconds(1), "{wait}");
        }
        other => panic!("expected to wait for Retry-After, got {other:?}"),
    }

    // A 500 and a hang past the timeout are retried too, never permanent.
    std::thread::sleep(Duration::from_millis(1100));
    receiver.answer(Answer::ServerError);
    assert!(matches!(
        deliver(&alerts),
        ChannelOutcome::Failed { dead: false, .. }
    ));
    let mut state = host.store.channel_states().unwrap().remove(0);
    assert_eq!(state.health, ChannelHealth::Failing);
    assert_eq!(state.consecutive_failures, 2);
    state.next_attempt_at = None;
    host.store
        .finish_delivery("test", None, Some(&state))
        .unwrap();
    receiver.answer(Answer::Hang(Duration::from_secs(3)));
    match deliver(&alerts) {
        ChannelOutcome::Failed { reason, dead, .. } => {
            assert!(reason.starts_with("timed out"), "{reason}");
            assert!(!dead);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    let attempts = host.store.delivery_attempts(Some("ops"), 10).unwrap();
    assert_eq!(attempts.len(), 3);
    assert!(attempts[0].latency_ms >= 450, "{}", attempts[0].latency_ms);
    let state = host.store.channel_states().unwrap().remove(0);
    let wait = state.next_attempt_at.unwrap() - Utc::now();
    assert!(
        wait > chrono::Duration::milliseconds(1500),
        "the third failure waits longer: {wait}"
    );

    // Failing, not dead, is fine for a while; past FAILING_TOO_LONG health
    // fails, naming the channel, as it would for a dead one.
    let since = state.since.unwrap();
    let pipeline = Pipeline::new(vec![slow.clone()]).unwrap();
    let health_at = |at: chrono::DateTime<Utc>| {
        health_report(host.store.as_ref(), &pipeline, at)
            .with_alert_channels(host.store.as_ref(), &["ops".to_string()])
            .unwrap()
    };
    let soon = health_at(since + slate::health::FAILING_TOO_LONG - chrono::Duration::seconds(1));
    assert!(soon.failing_alert_channels.is_empty());
    let later = health_at(since + slate::health::FAILING_TOO_LONG);
    assert!(!later.healthy);
    assert_eq!(later.failing_alert_channels.len(), 1);
    assert_eq!(later.failing_alert_channels[0].channel, "ops");
    assert!(
        later.failing_alert_channels[0]
            .reason
            .starts_with("timed out")
    );
    assert!(later.dead_alert_channels.is_empty());

    receiver.answer(Answer::Ok);
    let mut ready = host.store.channel_states().unwrap().remove(0);
    ready.next_attempt_at = None;
    host.store
        .finish_delivery("test", None, Some(&ready))
        .unwrap();
    // Patient enough for a loaded machine this time.
    let patient = deliverer(&host.store, webhook(&receiver.url("hook"), ""));
    assert_eq!(deliver(&patient), ChannelOutcome::Delivered { messages: 1 });
    assert_eq!(receiver.accepted().len(), 1);
}

/// A channel another deliverer is posting to (a server, on a hook that
/// hangs) is not probed, and says so: before, it was left out of the
/// check's answer, and `slate alerts check` exited 0 having checked nothing
/// of it.
#[test]
fn a_check_names_a_channel_another_deliverer_holds_as_not_checked() {
    let receiver = Receiver::start(Answer::Ok);
    let host = TestHost::empty();
    let config = AlertsConfig::parse(
        &format!(
            "[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{}\"\n",
            receiver.url("hook")
        ),
        |_| None,
    )
    .unwrap();
    let alerts = deliverer(&host.store, config);
    let now = Utc::now();
    let held = host
        .store
        .claim_channel("ops", "server-posting", now + Days::new(1), now, None)
        .unwrap();
    assert!(matches!(
        held,
        slate::store::alerts::ChannelClaim::Claimed(_)
    ));
    let probes = block_on(alerts.check_channels()).unwrap();
    assert_eq!(probes.len(), 1);
    assert_eq!(probes[0].0, "ops");
    assert!(probes[0].1.is_none(), "{:?}", probes[0].1);
    assert!(receiver.received().is_empty(), "nothing was posted");
}

#[test]
fn the_slack_canary_finds_a_live_hook_without_posting_and_a_deleted_one_dead() {
    let receiver = Receiver::start(Answer::SlackAlive);
    let host = TestHost::empty();
    let config = AlertsConfig::parse(
        &format!(
            "[[alerts.channel]]\nname = \"ops\"\nkind = \"slack\"\nurl = \"{}\"\n",
            receiver.url("services/T0/B0/x")
        ),
        |_| None,
    )
    .unwrap();
    let alerts = deliverer(&host.store, config);
    let probes = block_on(alerts.check_channels()).unwrap();
    let probe = probes[0].1.as_ref().unwrap();
    assert_eq!(probe.status_code, Some(400));
    assert_eq!(probe.response_excerpt, "invalid_payload");
    assert_eq!(receiver.received()[0].body, "", "the probe is empty");
    assert!(receiver.accepted().is_empty(), "nothing was posted");
    let state = host.store.channel_states().unwrap().remove(0);
    assert_eq!(state.health, ChannelHealth::Up);

    receiver.answer(Answer::Gone);
    block_on(alerts.check_channels()).unwrap();
    let state = host.store.channel_states().unwrap().remove(0);
    assert_eq!(state.health, ChannelHealth::Dead);
    assert_eq!(state.reason.as_deref(), Some("410 channel_is_archived"));
}

#[test]
fn two_deliverers_never_send_the_same_message_twice() {
    let receiver = Receiver::start(Answer::Hang(Duration::from_millis(300)));
    let (host, slow) = host_with_a_spinning_processor();
    let day = date("2026-01-11");
    set_spin(host.store.as_ref(), day, true);
    host.run(&slow, day);
    receiver.answer(Answer::Ok);
    let first = Arc::new(
        Deliverer::new(
            host.store.clone() as Arc<dyn Store>,
            webhook(&receiver.url("hook"), ""),
            "host-a:1",
        )
        .unwrap(),
    );
    let second = Arc::new(
        Deliverer::new(
            host.store.clone() as Arc<dyn Store>,
            webhook(&receiver.url("hook"), ""),
            "host-b:1",
        )
        .unwrap(),
    );
    let outcomes = block_on(async {
        let (a, b) = tokio::join!(first.deliver_due(), second.deliver_due());
        (a.unwrap().remove(0).1, b.unwrap().remove(0).1)
    });
    let delivered = [&outcomes.0, &outcomes.1]
        .iter()
        .filter(|o| matches!(o, ChannelOutcome::Delivered { .. }))
        .count();
    assert_eq!(delivered, 1, "{outcomes:?}");
    assert_eq!(receiver.received().len(), 1);
}

#[test]
fn a_served_host_answers_503_naming_a_dead_channel_and_reports_it_in_metrics_and_alerts() {
    let served = crate::serve::Served::configured(
        |config| {
            config.set_settings(slate::server::FileSettings {
                alerts: webhook("http://127.0.0.1:9/hook", ""),
                ..Default::default()
            })
        },
        None,
    );
    let dead = ChannelState {
        health: ChannelHealth::Dead,
        reason: Some("404 no_service".into()),
        since: Some(Utc::now()),
        ..ChannelState::new("ops")
    };
    served
        .store
        .finish_delivery("test", None, Some(&dead))
        .unwrap();
    block_on(async {
        let (status, body) = served.get("/health?fresh=1").await;
        assert_eq!(status, 503);
        assert_eq!(body["dead_alert_channels"][0]["channel"], "ops");
        assert_eq!(body["dead_alert_channels"][0]["reason"], "404 no_service");
        let (status, body) = served.get("/alerts").await;
        assert_eq!(status, 200);
        assert_eq!(body["channels"][0]["health"], "dead");
        let (_, metrics) = served.get("/metrics").await;
        let metrics = metrics.as_str().unwrap().to_string();
        assert_contains(&metrics, "slate_alert_channel_up{channel=\"ops\"} 0");
        let (status, body) = served.get("/alerts?open=maybe").await;
        assert_eq!(status, 400);
        assert_eq!(body["field"], "open");
        let (status, body) = served.get("/alerts?limit=0").await;
        assert_eq!(status, 400);
        assert_eq!(body["field"], "limit");
        let (status, body) = served.get("/alerts?limit=1").await;
        assert_eq!(status, 200);
        assert_eq!(body["truncated"], false, "{body}");
    });
}

/// A server that serves FaultyProcessor, on a data folder whose
/// `slate.toml` is `config` (its alert channels); the data and plugin
/// folders come with it, to outlive it.
fn a_faulty_server_with(config: &str) -> (Server, tempfile::TempDir, tempfile::TempDir) {
    a_faulty_server_logging_with(config, std::process::Stdio::inherit(), "error")
}

/// [`a_faulty_server_with`], its log of `level` and above going to `log`.
fn a_faulty_server_logging_with(
    config: &str,
    log: impl Into<std::process::Stdio>,
    level: &str,
) -> (Server, tempfile::TempDir, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("slate.toml"), config).unwrap();
    use_shared_compiled_cache(data.path());
    let plugins = plugin_dir(&[components::FAULTY_PROCESSOR]);
    let server = Server::start_logging(
        data.path(),
        &["--plugin-dir", plugins.path().to_str().unwrap()],
        log,
        level,
    );
    (server, data, plugins)
}

#[test]
fn a_served_host_delivers_alerts_in_the_background() {
    let receiver = Receiver::start(Answer::Ok);
    let (server, _data, _plugins) = a_faulty_server_with(&format!(
        "[[alerts.channel]]\nname = \"ops\"\nkind = \"slack\"\nurl = \"{}\"\n\
         events = [\"run_failed\"]\n",
        receiver.url("services/T0/B0/x")
    ));
    let run = server.process("FaultyProcessor", "2026-01-02");
    assert_eq!(run["status"], "failed");
    wait_until("the alert reached Slack", || {
        !receiver.accepted().is_empty()
    });
    let sent = receiver.accepted();
    let text = sent[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("[ERROR] 2026-01-02: FaultyProcessor failed [plugin]"),
        "{text}"
    );
    let (status, alerts) = server.get("/alerts?open=1");
    assert_eq!(status, 200);
    let open: Vec<&str> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect();
    assert_eq!(open, ["phase_incomplete", "run_failed"], "newest first");
    assert_eq!(alerts["channels"][0]["health"], "up");
    assert!(server.terminate().success());
}

/// A server that stops delivers what is still queued, waiting out the
/// channel's rate limit as a command's end does, and says it waits. Before,
/// it made one pass: an alert held back by the limit (one message per 10 s
/// here) stayed queued until a later server or command; then it waited
/// without a word.
#[test]
fn a_stopping_server_waits_out_the_rate_limit_to_deliver_what_is_queued() {
    let receiver = Receiver::start(Answer::Ok);
    let log = tempfile::NamedTempFile::new().unwrap();
    let (server, _data, _plugins) = a_faulty_server_logging_with(
        &format!(
            "[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{}\"\n\
             events = [\"run_failed\"]\nmax_per_minute = 6\n",
            receiver.url("hook")
        ),
        log.reopen().unwrap(),
        "warn",
    );
    assert_eq!(
        server.process("FaultyProcessor", "2026-01-02")["status"],
        "failed"
    );
    wait_until("the first alert is delivered", || {
        receiver.accepted().len() == 1
    });
    assert_eq!(
        server.process("FaultyProcessor", "2026-01-03")["status"],
        "failed"
    );

    assert!(server.terminate().success());

    let sent = receiver.accepted();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_contains(&sent[1].to_string(), "2026-01-03: FaultyProcessor failed");
    let said = std::fs::read_to_string(log.path()).unwrap();
    assert_contains(
        &said,
        "s for the channel's rate limit or backoff to deliver",
    );
    assert_contains(&said, "channel=ops queued=1");
}

/// A stopping server told to stop again while it waits out a channel's
/// rate limit stops waiting: it starts no more posts and names what stays
/// queued, for the next process to send. Before, the second signal was
/// logged and the wait went on (up to 20 s more).
#[test]
fn a_second_signal_cuts_the_wait_to_deliver_at_shutdown() {
    let receiver = Receiver::start(Answer::Ok);
    let log = tempfile::NamedTempFile::new().unwrap();
    let (mut server, _data, _plugins) = a_faulty_server_logging_with(
        &format!(
            "[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{}\"\n\
             events = [\"run_failed\"]\nmax_per_minute = 3\n",
            receiver.url("hook")
        ),
        log.reopen().unwrap(),
        "warn",
    );
    // One alert a 20 s: the second waits, within what a shutdown waits.
    for day in ["2026-01-02", "2026-01-03"] {
        assert_eq!(server.process("FaultyProcessor", day)["status"], "failed");
        wait_until("the alert is queued or sent", || {
            !receiver.accepted().is_empty()
        });
    }
    let said = || std::fs::read_to_string(log.path()).unwrap();
    server.send_sigterm();
    wait_until("the shutdown waits out the rate limit", || {
        said().contains("s for the channel's rate limit or backoff to deliver")
    });

    server.send_sigterm();

    server.exits_within(
        Duration::from_secs(10),
        "it stopped waiting, not at the end of the wait",
    );
    assert_contains(
        &said(),
        "alerts: 1 message(s) for `ops` stay queued for the next start",
    );
    assert_eq!(receiver.accepted().len(), 1);
}

#[test]
fn deploys_and_rollbacks_are_recorded_as_notices() {
    let data = tempfile::tempdir().unwrap();
    use_shared_compiled_cache(data.path());
    EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    for args in [
        vec!["deploy", components::VERSIONED_V1],
        vec!["deploy", components::VERSIONED_V2],
        vec!["rollback", "VersionedProcessor"],
    ] {
        let output = crate::support::slate(data.path(), &args);
        assert_succeeded(&output);
    }
    let store = EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let notices: Vec<(String, String)> = store
        .alerts(false, 10)
        .unwrap()
        .into_iter()
        .rev()
        .map(|a| (a.raised.event.to_string(), a.state.as_str().to_string()))
        .collect();
    let expected = [
        ("deployed", "notice"),
        ("deployed", "notice"),
        ("rolled_back", "notice"),
    ];
    assert_eq!(
        notices,
        expected.map(|(e, s)| (e.to_string(), s.to_string()))
    );
    let summary = &store.alerts(false, 1).unwrap()[0].raised.summary;
    assert!(
        summary.starts_with("VersionedProcessor rolled back to"),
        "{summary}"
    );
}

/// A data folder whose `slate.toml` sends alerts to `url`, the secret URL
/// read from `SLATE_TEST_HOOK`.
fn data_dir_alerting(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slate.toml"),
        format!(
            "[alerts]\ntimeout_secs = 5\n[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\n\
             url_env = \"SLATE_TEST_HOOK\"\nheaders_env = {{ Authorization = \"SLATE_TEST_AUTH\" }}\n\
             max_per_minute = 600\n{extra}\n"
        ),
    )
    .unwrap();
    use_shared_compiled_cache(dir.path());
    dir
}

/// A data folder whose `slate.toml` sends `run_failed` alerts to `url`,
/// each post given `timeout_secs`, and a plugin folder holding
/// FaultyProcessor, which fails on the 2nd of a month.
fn alerting_a_receiver(url: &str, timeout_secs: u32) -> (tempfile::TempDir, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    use_shared_compiled_cache(data.path());
    std::fs::write(
        data.path().join("slate.toml"),
        format!(
            "[alerts]\ntimeout_secs = {timeout_secs}\n[[alerts.channel]]\nname = \"ops\"\n\
             kind = \"webhook\"\nurl = \"{url}\"\nevents = [\"run_failed\"]\n"
        ),
    )
    .unwrap();
    (data, plugin_dir(&[components::FAULTY_PROCESSOR]))
}

/// Fails FaultyProcessor on 2026-01-02 through `server`, which alerts.
fn fail_a_run(server: &Server) {
    let (status, answer) = server.post(
        "/process-date",
        serde_json::json!({"processors": ["FaultyProcessor"], "analysis_date": "2026-01-02"}),
    );
    assert_eq!(status, 200, "{answer}");
}

/// A SIGHUP while an alert's post is in flight lets the post end before
/// delivery starts again on the file's channels, and the server answers
/// requests all the while. Before, the reload cut the post short, and
/// the new delivery posted the same alert again: its receiver, which had
/// taken the first, got it twice.
#[test]
fn a_reload_while_a_post_is_in_flight_sends_the_alert_once_and_serves_meanwhile() {
    let receiver = Receiver::start(Answer::Slow(Duration::from_secs(5)));
    let (data, plugins) = alerting_a_receiver(&receiver.url("hook"), 10);
    let log_path = data.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let args = ["--plugin-dir", plugins.path().to_str().unwrap()];
    let server = Server::start_logging(data.path(), &args, log, "warn");
    let logged = |line: &str| std::fs::read_to_string(&log_path).unwrap().contains(line);

    fail_a_run(&server);
    wait_until("the alert's post is in flight", || receiver.arrived() == 1);
    server.send_sighup();
    wait_until("the reload began", || logged("SIGHUP received"));
    let (status, _) = server.get("/schedules");
    assert_eq!(status, 200);
    assert!(
        receiver.received().is_empty() && !logged("slate.toml reloaded"),
        "answered while the reload waited for the post"
    );
    wait_until("the server reloaded", || logged("slate.toml reloaded"));
    assert_eq!(receiver.received().len(), 1, "the post ended first");
    // Time for a second post, were the alert to go again (delivery looks
    // each second).
    std::thread::sleep(Duration::from_secs(3));
    let run_failed = |posts: Vec<serde_json::Value>| {
        (posts.iter())
            .filter(|post| post["event"] == "run_failed")
            .count()
    };
    assert_eq!(receiver.arrived(), 1, "{:#?}", receiver.received());
    assert_eq!(run_failed(receiver.accepted()), 1);
    assert!(server.terminate().success());
}

/// A shutdown lets an alert post in flight end (within `timeout_secs`),
/// but a second SIGTERM ends the wait at once, as it ends the grace
/// period. Before, the server waited the post's whole timeout.
#[test]
fn a_second_sigterm_does_not_wait_for_an_alert_post_in_flight() {
    let receiver = Receiver::start(Answer::Hang(Duration::from_secs(120)));
    let (data, plugins) = alerting_a_receiver(&receiver.url("hook"), 60);
    let args = ["--plugin-dir", plugins.path().to_str().unwrap()];
    let mut server = Server::start(data.path(), &args);
    fail_a_run(&server);
    wait_until("the alert's post is in flight", || receiver.arrived() == 1);

    server.send_sigterm();
    std::thread::sleep(Duration::from_secs(1));
    server.send_sigterm();

    server.exits_within(
        Duration::from_secs(20),
        "it stopped at the second signal, not after the post's 60 s",
    );
}

/// A shutdown ends by the time it has for alerts (8 s past the grace
/// period), whatever `timeout_secs` lets a post take: a post in flight
/// then is cut, and no pass starts after it. Before, the drain that
/// followed sent the cut post again and waited its whole timeout. The
/// next process sends the cut post as the same message: its `message_id`
/// is the one the receiver saw first, by which a receiver that got both
/// tells the repost apart (before, a webhook message carried no id).
#[test]
fn a_shutdown_ends_by_its_alert_deadline_and_the_next_start_resends_the_cut_post_under_its_id() {
    let receiver = Receiver::start(Answer::Hang(Duration::from_secs(120)));
    let (data, plugins) = alerting_a_receiver(&receiver.url("hook"), 60);
    let args = [
        "--plugin-dir",
        plugins.path().to_str().unwrap(),
        "--grace-secs",
        "1",
    ];
    let log_path = data.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = Server::start_logging(data.path(), &args, log, "warn");
    fail_a_run(&server);
    wait_until("the alert's post is in flight", || receiver.arrived() == 1);

    server.send_sigterm();

    server.exits_within(
        Duration::from_secs(25),
        "it stopped at the 1 s grace + 8 s, not after the post's 60 s",
    );
    assert_eq!(receiver.arrived(), 1, "the cut post was not sent again");
    assert_contains(
        &std::fs::read_to_string(&log_path).unwrap(),
        "alerts: 1 message(s) for `ops` stay queued for the next start",
    );

    receiver.answer(Answer::Ok);
    let _next = Server::start(data.path(), &args);
    wait_until("the next server sent the alert again", || {
        receiver.accepted().len() == 1
    });
    let (cut, repost) = (receiver.received()[0].json(), &receiver.accepted()[0]);
    assert!(cut["message_id"].is_i64(), "{cut}");
    assert_eq!(cut["message_id"], repost["message_id"], "{cut}\n{repost}");
    assert_eq!(cut["alert"], repost["alert"]);
}

/// Once a shutdown began, SIGHUP is not taken: a reload would start a
/// delivery on the file's channels while the shutdown drains. Before, it
/// was reloaded, and its new channel posted to as the server stopped.
#[test]
fn a_sighup_during_a_shutdown_is_ignored() {
    let receiver = Receiver::start(Answer::Ok);
    let (data, plugins) = crate::serve_process::slow_processor_folders();
    let log_path = data.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let args = [
        "--plugin-dir",
        plugins.path().to_str().unwrap(),
        "--grace-secs",
        "30",
    ];
    let mut server = Server::start_logging(data.path(), &args, log, "warn");
    server.start_spinning_run();
    let said = || std::fs::read_to_string(&log_path).unwrap();
    server.send_sigterm();
    wait_until("the shutdown began", || said().contains("shutting down"));
    std::fs::write(
        data.path().join("slate.toml"),
        format!(
            "[[alerts.channel]]\nname = \"late\"\nkind = \"webhook\"\nurl = \"{}\"\n",
            receiver.url("hook")
        ),
    )
    .unwrap();

    server.send_sighup();

    wait_until("the SIGHUP was ignored", || {
        said().contains("SIGHUP ignored: the server is shutting down")
    });
    server.send_sigterm();
    assert!(server.wait_for_exit().success());
    assert!(!said().contains("slate.toml reloaded"), "{}", said());
    assert!(receiver.received().is_empty(), "{:#?}", receiver.received());
}

#[test]
fn a_command_killed_before_delivery_delivers_after_restart_exactly_once() {
    let receiver = Receiver::start(Answer::Hang(Duration::from_secs(20)));
    let data = data_dir_alerting("events = [\"run_failed\"]");
    let plugins = plugin_dir(&[components::FAULTY_PROCESSOR]);
    let slate_with = |args: &[&str]| {
        let mut command = slate_with_plugins(data.path(), plugins.path());
        command
            .args(args)
            .env("SLATE_TEST_HOOK", receiver.url("hook"))
            .env("SLATE_TEST_AUTH", "Bearer t0ken");
        command
    };
    // FaultyProcessor fails on the 2nd of a month; the command is killed
    // while it posts the alert, before any answer.
    EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let mut child = start_run_in_background(slate_with, "2026-01-02", "FaultyProcessor");
    wait_until("the alert is being posted", || {
        !receiver.received().is_empty()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(receiver.accepted().is_empty());

    receiver.answer(Answer::Ok);
    for _ in 0..2 {
        let deliver = slate_with(&["alerts", "deliver"]).output().unwrap();
        assert_succeeded(&deliver);
    }
    let sent = receiver.accepted();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["event"], "run_failed");
    assert_eq!(sent[0]["run"]["processor"], "FaultyProcessor");
    assert_eq!(
        sent[0]["run"]["error"],
        "internal error: deliberate failure"
    );
    let received = receiver.received();
    let last = received.last().unwrap();
    assert_eq!(last.headers["authorization"], "Bearer t0ken");
}

/// `slate health` reaps a dead process's run as every command does, and
/// then sends the `stale_run_reaped` alert itself, as `slate reap` does:
/// before, it stayed queued until some later delivering command, so a
/// host probed only by `slate health` paged nobody. And the probe runs
/// without the channels' secrets (it needed them just to name channels),
/// leaving the alert queued and saying so.
#[test]
fn slate_health_sends_the_alert_of_a_run_it_reaps_and_runs_without_the_channels_secrets() {
    use slate::runs::RunFilter;
    use slate::store::RunLedger;

    let receiver = Receiver::start(Answer::Ok);
    let data = data_dir_alerting("events = [\"stale_run_reaped\"]");
    let plugins = plugin_dir(&[components::HOSTILE_INFINITE_LOOP]);
    let slate_with = |args: &[&str], secrets: bool| {
        let mut command = slate_with_plugins(data.path(), plugins.path());
        command.args(args);
        if secrets {
            command
                .env("SLATE_TEST_HOOK", receiver.url("hook"))
                .env("SLATE_TEST_AUTH", "Bearer t0ken");
        }
        command
    };
    let store_file = data.path().join("slate.db");
    EmbeddedStore::open(&store_file).unwrap();
    let running = || {
        EmbeddedStore::open(&store_file)
            .unwrap()
            .runs(&RunFilter {
                status: Some(RunStatus::Running),
                ..RunFilter::default()
            })
            .unwrap()
            .len()
    };
    let kill_a_running_run = || {
        let mut child = start_run_in_background(
            |args: &[&str]| slate_with(args, true),
            "2026-01-02",
            "HostileInfiniteLoop",
        );
        wait_until("the run is running", || running() == 1);
        child.kill().unwrap();
        child.wait().unwrap();
    };

    kill_a_running_run();
    let probed = slate_with(&["health"], false).output().unwrap();
    assert_eq!(probed.status.code(), Some(1), "{}", stderr(&probed));
    assert_contains(
        &stderr(&probed),
        "stay queued for the next delivering command",
    );
    assert_eq!(running(), 0, "reaped");
    assert!(receiver.accepted().is_empty());

    kill_a_running_run();
    let probed = slate_with(&["health"], true).output().unwrap();
    assert_eq!(probed.status.code(), Some(1), "{}", stderr(&probed));
    let sent: Vec<String> = receiver
        .accepted()
        .iter()
        .map(|m| m["event"].as_str().unwrap_or_default().to_string())
        .collect();
    // One message: the second reap of the same (processor, date) counts up
    // the open alert's `seen` rather than sending it again.
    assert_eq!(sent, ["stale_run_reaped"]);
}

/// `slate alerts deliver` is a delivery command: it exits 1 while an alert
/// stays queued (it exited 0 after "stay queued: 404 (channel dead)"),
/// and 0 once the queue is out.
#[test]
fn slate_alerts_deliver_exits_1_while_an_alert_stays_queued() {
    let receiver = Receiver::start(Answer::NoService);
    let data = data_dir_alerting("events = [\"run_failed\"]");
    let plugins = plugin_dir(&[components::FAULTY_PROCESSOR]);
    let slate_with = |args: &[&str]| {
        slate_with_plugins(data.path(), plugins.path())
            .args(args)
            .env("SLATE_TEST_HOOK", receiver.url("hook"))
            .env("SLATE_TEST_AUTH", "Bearer t0ken")
            .output()
            .unwrap()
    };
    // FaultyProcessor fails on the 2nd of a month.
    EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let run = slate_with(&[
        "run",
        "--date",
        "2026-01-02",
        "--processors",
        "FaultyProcessor",
    ]);
    assert_eq!(run.status.code(), Some(1));
    let stuck = slate_with(&["alerts", "deliver"]);
    assert_eq!(stuck.status.code(), Some(1));
    // The 404 of the run's own delivery killed the channel: it says so.
    assert_contains(
        &String::from_utf8_lossy(&stuck.stderr),
        "stay queued until ",
    );
    assert_contains(&String::from_utf8_lossy(&stuck.stderr), " (channel dead)");

    // Taking the canary proves nothing while it refuses the alerts: the
    // check tries them, and fails. Before, it said "delivered", exit 0,
    // while `slate health` failed on the channel.
    receiver.answer(Answer::CanariesOnly);
    let refusing = slate_with(&["alerts", "check"]);
    assert_eq!(refusing.status.code(), Some(1), "{refusing:?}");
    assert_contains(&crate::support::stdout(&refusing), "ops is dead: 500 oops");
    let tried = receiver.received();
    assert_eq!(
        tried.last().unwrap().json()["event"],
        "run_failed",
        "the queued alert was tried"
    );

    receiver.answer(Answer::Ok);
    assert_succeeded(&slate_with(&["alerts", "check"]));
    assert_succeeded(&slate_with(&["alerts", "deliver"]));
    assert_eq!(receiver.accepted().last().unwrap()["event"], "run_failed");
}

#[test]
fn secrets_never_appear_in_logs_output_or_error_messages() {
    let receiver = Receiver::start(Answer::NoService);
    let secret_path = "services/T0SECRET/B0SECRET/xoxsecrettoken";
    let data = data_dir_alerting("");
    let run = |args: &[&str], hook: &str| {
        Command::new(env!("CARGO_BIN_EXE_slate"))
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .env("SLATE_TEST_HOOK", hook)
            .env("SLATE_TEST_AUTH", "Bearer xoxsecrettoken")
            .env("RUST_LOG", "debug")
            .output()
            .unwrap()
    };
    // A store to report on.
    EmbeddedStore::open(&data.path().join("slate.db")).unwrap();
    let hook = receiver.url(secret_path);
    // A closed port: the transport error must not quote the URL either.
    let closed = format!("http://127.0.0.1:9/{secret_path}");
    let outputs = [
        run(&["alerts", "check"], &hook),
        run(&["alerts", "test", "ops"], &hook),
        run(&["alerts"], &hook),
        run(&["alerts", "--json"], &hook),
        run(&["health"], &hook),
        run(&["health", "--json"], &hook),
        run(&["alerts", "check"], &closed),
        run(&["alerts", "test", "ops"], &closed),
    ];
    for output in &outputs {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        );
        assert!(!text.contains("xoxsecrettoken"), "{text}");
        assert!(!text.contains("T0SECRET"), "{text}");
    }
    let health = String::from_utf8_lossy(&outputs[4].stdout).into_owned();
    assert_contains(&health, "FAIL alert channel `ops` is dead: 404 no_service");
    assert_eq!(outputs[4].status.code(), Some(1));
    let check = String::from_utf8_lossy(&outputs[6].stdout).into_owned();
    assert_contains(&check, "connection failed");
    // Every cause, down to the one that says what failed.
    assert_contains(&check, "Connection refused");
    // A bad channel is a usage error naming it, without the secret, for a
    // command that delivers (listing alerts needs no secret).
    let missing = Command::new(env!("CARGO_BIN_EXE_slate"))
        .arg("--data-dir")
        .arg(data.path())
        .args(["alerts", "deliver"])
        .env_remove("SLATE_TEST_HOOK")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert_contains(
        &stderr(&missing),
        "environment variable SLATE_TEST_HOOK is not set",
    );
    // A file TOML cannot read names the line and column, never the line's
    // text: a URL or a token written in the file stands there.
    for (broken, line) in [
        (
            format!("url = \"https://hooks.example/{secret_path}\n"),
            4,
        ),
        (
            "url = \"https://hooks.example/x\"\nheaders = { Authorization = \"Bearer xoxsecrettoken\" \n"
                .to_string(),
            5,
        ),
        (
            "url = \"https://hooks.example/x\"\nheaders = \"Bearer xoxsecrettoken\"\n".to_string(),
            5,
        ),
    ] {
        std::fs::write(
            data.path().join("slate.toml"),
            format!("[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\n{broken}"),
        )
        .unwrap();
        let refused = run(&["alerts"], &hook);
        let said = stderr(&refused);
        assert_eq!(refused.status.code(), Some(2), "{said}");
        assert_contains(&said, &format!("TOML parse error at line {line}, column "));
        assert!(!said.contains("xoxsecrettoken") && !said.contains("T0SECRET"), "{said}");
    }
}

/// A backlog too large for one post, on a channel that may post once a
/// minute: the first part goes, the rest waits past the command's wait,
/// and `slate alerts deliver` says so and exits 1. Before, it exited 0
/// after the first part, the rest queued without a word.
#[test]
fn a_backlog_left_queued_by_the_rate_limit_is_said_and_fails_alerts_deliver() {
    let receiver = Receiver::start(Answer::Ok);
    let data = tempfile::tempdir().unwrap();
    use_shared_compiled_cache(data.path());
    let slate_here = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_slate"))
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .env("SLATE_TEST_HOOK", receiver.url("hook"))
            .env("SLATE_TEST_AUTH", "Bearer t")
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    // The demo's hundreds of alerts, queued before the channel exists.
    let demo = slate_here(&["demo", "--from", "2026-01-05", "--to", "2026-01-07"]);
    assert_succeeded(&demo);
    std::fs::write(
        data.path().join("slate.toml"),
        "[alerts]\n[[alerts.channel]]\nname = \"ops\"\nkind = \"webhook\"\n\
         url_env = \"SLATE_TEST_HOOK\"\nmax_per_minute = 1\n",
    )
    .unwrap();
    let deliver = slate_here(&["alerts", "deliver"]);
    let said = stderr(&deliver);
    assert_eq!(deliver.status.code(), Some(1), "{said}");
    assert_contains(&said, "message(s) delivered to `ops`");
    assert_contains(&said, "stay queued until");
    assert_eq!(receiver.accepted().len(), 1, "one post within the minute");
}

#[test]
fn the_demo_sends_its_failure_and_phase_events_each_exactly_once() {
    let receiver = Receiver::start(Answer::Ok);
    let data = data_dir_alerting("");
    let demo = |from: &str, to: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_slate"))
            .arg("--data-dir")
            .arg(data.path())
            .args(["demo", "--from", from, "--to", to])
            .env("SLATE_TEST_HOOK", receiver.url("hook"))
            .env("SLATE_TEST_AUTH", "Bearer t")
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        assert_succeeded(&output);
    };
    demo("2026-01-05", "2026-01-11");
    // Running the same dates again repeats nothing.
    demo("2026-01-10", "2026-01-11");
    // Hundreds of alerts, several digests: no post past the size a
    // receiver's body limit could refuse (one of 444 KB stalled a channel).
    let posts = receiver.received();
    assert!(posts.len() > 1, "the backlog went in several posts");
    for post in &posts {
        assert!(
            post.body.len() <= slate::alerts::delivery::MAX_POST_BYTES,
            "a post of {} bytes",
            post.body.len()
        );
    }
    let messages = messages_accepted(&receiver);
    let count = |event: &str, date: &str| {
        messages
            .iter()
            .filter(|m| m["event"] == event && m["alert"]["data_date"] == date)
            .count()
    };
    let failed: Vec<&serde_json::Value> = messages
        .iter()
        .filter(|m| m["event"] == "run_failed")
        .collect();
    // The three phase 3 processors that read the missing box scores fail
    // once each; everything downstream is blocked, not failed.
    let mut processors: Vec<&str> = failed
        .iter()
        .map(|m| m["run"]["processor"].as_str().unwrap())
        .collect();
    processors.sort();
    assert_eq!(
        processors,
        [
            "PlayerGameSummaryProcessor",
            "TeamDefenseGameSummaryProcessor",
            "TeamOffenseGameSummaryProcessor"
        ]
    );
    for message in &failed {
        assert_eq!(message["alert"]["data_date"], "2026-01-06");
        let error = message["run"]["error"].as_str().unwrap();
        assert_contains(error, "no box scores for 7 of 7 scheduled games");
    }
    assert_eq!(count("phase_completed", "2026-01-11"), 3, "one per phase");
    assert_eq!(count("phase_incomplete", "2026-01-06"), 3, "one per phase");
    assert_eq!(count("phase_completed", "2026-01-06"), 0);
    // The sweep finds the date without rows past its deadline, once.
    let missing: Vec<&serde_json::Value> = messages
        .iter()
        .filter(|m| {
            m["event"] == "no_rows_by_deadline"
                && m["alert"]["subject"] == "PlayerGameSummaryProcessor"
                && m["alert"]["data_date"] == "2026-01-06"
        })
        .collect();
    assert_eq!(missing.len(), 1, "{missing:#?}");
    assert_eq!(
        missing[0]["alert"]["summary"],
        "2026-01-06: nba_analytics.player_game_summary has no rows, 7 games scheduled"
    );
    // Within the demo's dates no other date lacks rows. After them the
    // season went on with no run: each later date is long past its
    // deadline, and is missing.
    let swept: BTreeSet<&str> = messages
        .iter()
        .filter(|m| m["event"] == "no_rows_by_deadline")
        .map(|m| m["alert"]["data_date"].as_str().unwrap())
        .collect();
    let within: Vec<&str> = swept
        .iter()
        .copied()
        .filter(|d| *d <= "2026-01-11")
        .collect();
    assert_eq!(
        within,
        ["2026-01-06"],
        "no other date of the demo lacks rows"
    );
    assert!(
        swept.contains("2026-01-12") && swept.contains("2026-04-12"),
        "the dates after the last run: {swept:?}"
    );

    // Hundreds of alerts: a list cut at its limit says so, rather than
    // silently hiding the older open failures behind the sweep's alerts.
    let list = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_slate"))
            .arg("--data-dir")
            .arg(data.path())
            .arg("alerts")
            .args(args)
            .output()
            .unwrap();
        assert_succeeded(&output);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let cut: serde_json::Value =
        serde_json::from_str(&list(&["--open", "--limit", "3", "--json"])).unwrap();
    assert_eq!(cut["alerts"].as_array().unwrap().len(), 3);
    assert_eq!(cut["truncated"], true);
    assert_contains(
        &list(&["--open", "--limit", "3"]),
        "the newest 3 alerts; older ones were left out (--limit N lists more)",
    );
    let whole: serde_json::Value =
        serde_json::from_str(&list(&["--open", "--limit", "100000", "--json"])).unwrap();
    assert_eq!(whole["truncated"], false);
    let open_failures = whole["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["event"] == "run_failed")
        .count();
    assert_eq!(
        open_failures, 3,
        "the demo's failures are still open, and listed"
    );
}

/// Undeploying a processor that is then gone (no bundled version runs in
/// its place) resolves its open alerts, which no later success of it can
/// resolve any more. Before, they stayed open for good, each to be
/// resolved by hand.
#[test]
fn undeploying_a_processor_that_is_then_gone_resolves_its_open_alerts() {
    let dir = crate::support::demo_data_dir("2026-01-11", "2026-01-12");
    let deployed = crate::support::slate(dir.path(), &["deploy", components::HOSTILE_PANIC]);
    assert!(deployed.status.success(), "{}", stderr(&deployed));
    for day in ["2026-01-11", "2026-01-12"] {
        let run = crate::support::slate(
            dir.path(),
            &["run", "--date", day, "--processors", "HostilePanic"],
        );
        assert_eq!(run.status.code(), Some(1));
    }
    let open_alerts = || {
        EmbeddedStore::open(&dir.path().join("slate.db"))
            .unwrap()
            .alerts(true, 100)
            .unwrap()
    };
    let open_of_it = || {
        (open_alerts().into_iter())
            .filter(|a| a.raised.subject == "HostilePanic")
            .count()
    };
    // The phases it alone left incomplete on those dates: a host counts
    // such a processor until its rows are committed, which no run of a
    // removed processor will do.
    let phases_left_by_it = || {
        (open_alerts().into_iter())
            .filter(|a| {
                a.raised.event == slate::alerts::EventKind::PhaseIncomplete
                    && slate::alerts::phase::stopped_in(&a.raised) == ["HostilePanic"]
            })
            .count()
    };
    assert_eq!(phases_left_by_it(), 2);
    // Its two failed runs, and a date after date with no rows by the
    // deadline.
    let open = open_of_it();
    assert!(open > 2, "{open}");

    let undeployed = crate::support::slate(dir.path(), &["undeploy", "HostilePanic"]);
    assert!(undeployed.status.success(), "{}", stderr(&undeployed));
    assert_contains(
        &String::from_utf8_lossy(&undeployed.stdout),
        &format!("{} open alerts of HostilePanic resolved", open + 2),
    );
    assert_eq!((open_of_it(), phases_left_by_it()), (0, 0));
    // Its failed runs can never be run again: history, not a health problem.
    let problems_of_it = || {
        let health = crate::support::slate(dir.path(), &["health", "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&health.stdout).unwrap();
        (report["problem_runs"].as_array().unwrap().iter())
            .filter(|run| run["processor"] == "HostilePanic")
            .map(|run| run["date"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(problems_of_it(), Vec::<String>::new());
    let resolved = EmbeddedStore::open(&dir.path().join("slate.db"))
        .unwrap()
        .alerts(false, 100)
        .unwrap();
    assert!(
        resolved
            .iter()
            .filter(|a| a.raised.subject == "HostilePanic" && a.raised.event.resolved_by_success())
            .all(|a| a.resolved_by.as_deref() == Some("HostilePanic undeployed")),
        "{resolved:#?}"
    );
    // But a run of it since, from a plugin folder, is a problem again:
    // before, every run of an undeployed name was forgiven.
    let plugins = crate::support::plugin_dir(&[components::HOSTILE_PANIC]);
    let since = crate::support::slate_with_plugins(dir.path(), plugins.path())
        .args([
            "run",
            "--date",
            "2026-01-12",
            "--processors",
            "HostilePanic",
        ])
        .output()
        .unwrap();
    assert_eq!(since.status.code(), Some(1), "{}", stderr(&since));
    assert_eq!(problems_of_it(), ["2026-01-12"]);
}

/// A phase left incomplete by the undeployed processor and another one
/// stays incomplete: the undeploy resolves the alert naming both, and
/// raises it again naming the other alone, which is still failed. Before,
/// the alert stayed open naming the removed processor, and a host counted
/// it in that phase for good.
#[test]
fn undeploying_one_of_a_phases_failed_processors_raises_its_alert_again_without_it() {
    let dir = demo_data_dir("2026-01-11", "2026-01-11");
    let slate = |args: &[&str]| crate::support::slate(dir.path(), args);
    assert_succeeded(&slate(&["deploy", components::HOSTILE_PANIC]));
    assert_succeeded(&slate(&["deploy", components::HOSTILE_DEEP_RECURSION]));
    let run = slate(&[
        "run",
        "--date",
        "2026-01-11",
        "--processors",
        "HostilePanic,HostileDeepRecursion",
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let phase_alerts = |open: bool| {
        // Among the deployed processors' hundreds of `no_rows_by_deadline`.
        let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
        (store.alerts(open, 10_000).unwrap().into_iter())
            .filter(|a| a.raised.event == slate::alerts::EventKind::PhaseIncomplete)
            .collect::<Vec<_>>()
    };
    let stopped = |alerts: &[slate::alerts::record::AlertRecord]| {
        alerts
            .iter()
            .map(|a| {
                let mut names = slate::alerts::phase::stopped_in(&a.raised);
                names.sort();
                names
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        stopped(&phase_alerts(true)),
        [["HostileDeepRecursion", "HostilePanic"]]
    );

    assert_succeeded(&slate(&["undeploy", "HostilePanic"]));

    let open = phase_alerts(true);
    assert_eq!(stopped(&open), [["HostileDeepRecursion"]], "{open:#?}");
    assert_eq!(open[0].raised.data_date, Some(date("2026-01-11")));
    let resolved: Vec<_> = (phase_alerts(false).into_iter())
        .filter(|a| a.resolved_at.is_some())
        .collect();
    assert_eq!(
        stopped(&resolved),
        [["HostileDeepRecursion", "HostilePanic"]],
        "{resolved:#?}"
    );
    assert_eq!(
        resolved[0].resolved_by.as_deref(),
        Some("HostilePanic undeployed")
    );
}

/// Rolling back a processor that an undeploy removed raises again the
/// alerts the undeploy resolved: its failed dates are still failed, and
/// only a run's success resolves them. Before, they stayed resolved, and
/// the failures went unalerted while the processor ran again. Undeploying
/// and rolling back again neither loses nor doubles them.
#[test]
fn rolling_back_an_undeployed_processor_raises_its_resolved_alerts_again() {
    let dir = crate::support::demo_data_dir("2026-01-11", "2026-01-12");
    let slate = |args: &[&str]| crate::support::slate(dir.path(), args);
    assert_succeeded(&slate(&["deploy", components::HOSTILE_PANIC]));
    for day in ["2026-01-11", "2026-01-12"] {
        let run = slate(&["run", "--date", day, "--processors", "HostilePanic"]);
        assert_eq!(run.status.code(), Some(1));
    }
    let open_failures = || {
        let mut dates: Vec<_> = EmbeddedStore::open(&dir.path().join("slate.db"))
            .unwrap()
            .alerts(true, 1000)
            .unwrap()
            .into_iter()
            .filter(|a| {
                a.raised.subject == "HostilePanic"
                    && a.raised.event == slate::alerts::EventKind::RunFailed
            })
            .filter_map(|a| a.raised.data_date.map(|d| d.to_string()))
            .collect();
        dates.sort();
        dates
    };
    assert_eq!(open_failures(), ["2026-01-11", "2026-01-12"]);

    for _ in 0..2 {
        assert_succeeded(&slate(&["undeploy", "HostilePanic"]));
        assert_eq!(open_failures(), Vec::<String>::new());
        let back = slate(&["rollback", "HostilePanic"]);
        assert_succeeded(&back);
        assert_contains(
            &crate::support::stdout(&back),
            "alerts of HostilePanic raised again",
        );
        assert_eq!(open_failures(), ["2026-01-11", "2026-01-12"]);
    }
    // A further failure counts up the alert raised again, as for any
    // open alert.
    let panicking_day = slate(&[
        "run",
        "--date",
        "2026-01-12",
        "--processors",
        "HostilePanic",
    ]);
    assert_eq!(panicking_day.status.code(), Some(1));
    assert_eq!(open_failures(), ["2026-01-11", "2026-01-12"]);

    // A rollback through a server raises them again too, and says how
    // many in its answer.
    assert_succeeded(&slate(&["undeploy", "HostilePanic"]));
    let server = Server::start(dir.path(), &[]);
    let (status, back) = server.post("/plugins/HostilePanic/rollback", serde_json::json!({}));
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["action"], "rollback", "{back}");
    assert_eq!(open_failures(), ["2026-01-11", "2026-01-12"]);
    // Its two failures, and its dates without rows since it was deployed.
    let open_of_it = EmbeddedStore::open(&dir.path().join("slate.db"))
        .unwrap()
        .alerts(true, 1000)
        .unwrap()
        .into_iter()
        .filter(|a| a.raised.subject == "HostilePanic" && a.raised.event.resolved_by_success())
        .count();
    assert!(open_of_it > 2, "{open_of_it}");
    assert_eq!(back["alerts_raised_again"], open_of_it, "{back}");
    assert!(server.terminate().success());
}

/// A server that reaps another host's stale run records its phase
/// incomplete on its date, as a command that reaps does: the run failed.
#[test]
fn a_server_that_reaps_a_stale_run_records_its_phase_incomplete() {
    use slate::alerts::event::EventKind;
    use slate::runs::{NewRun, Trigger};
    use slate::store::RunLedger;

    let dir = demo_data_dir("2026-01-05", "2026-01-05");
    let _server = Server::start(
        dir.path(),
        &["--heartbeat-secs", "0.2", "--lease-secs", "1"],
    );
    let store = EmbeddedStore::open(&dir.path().join("slate.db")).unwrap();
    let day = date("2026-01-06");
    store
        .start_run(&NewRun {
            processor: "PlayerGameSummaryProcessor".into(),
            phase: slate::phase::Phase::Analytics,
            data_date: day,
            host_id: "another-machine:4242".into(),
            plugin_hash: "abandoned".into(),
            trigger: Trigger::Cli,
            lease: Duration::from_millis(300),
        })
        .unwrap();

    let outbox = store.alert_outbox().unwrap();
    let incomplete = || {
        outbox.alerts(true, 100).unwrap().into_iter().find(|a| {
            a.raised.event == EventKind::PhaseIncomplete && a.raised.data_date == Some(day)
        })
    };
    wait_until("the reaped run's phase is incomplete", || {
        incomplete().is_some()
    });
    assert_eq!(
        incomplete().unwrap().raised.summary,
        "2026-01-06: phase 3 analytics incomplete: PlayerGameSummaryProcessor failed"
    );
}
