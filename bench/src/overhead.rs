//! Per-run host overhead: a no-op processor's instantiation, and a whole
//! run with its bookkeeping, with and without `InstancePre` and pooling.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use chrono::NaiveDate;
use slate::executor::Executor;
use slate::liveness::LeaseConfig;
use slate::plugin::sandbox::RunIdentity;
use slate::plugin::{RunLimits, Runtime, RuntimeOptions};
use slate::runs::Trigger;
use slate::store::InputSource;
use slate::store::input::NoTables;
use slate::store::{EmbeddedStore, Store};
use slate::upstream_check::ReadWindow;

use crate::report::Report;
use crate::{Effort, components, time};

fn identity(date: NaiveDate) -> RunIdentity {
    RunIdentity {
        processor: "NoopProcessor".into(),
        date,
        run_id: "bench".into(),
    }
}

/// Records compile, load, instantiation and per-run figures.
pub fn measure(report: &mut Report, effort: Effort) -> anyhow::Result<()> {
    let bytes = std::fs::read(components::NOOP_PROCESSOR)?;
    let date = NaiveDate::from_ymd_opt(2026, 1, 11).expect("a date");
    let cache = tempfile::tempdir()?;

    let cold = Instant::now();
    Runtime::new(Some(cache.path()))?.load(&bytes)?;
    let cold = cold.elapsed();
    let warm = Instant::now();
    Runtime::new(Some(cache.path()))?.load(&bytes)?;
    let warm = warm.elapsed();
    report.add(
        "load",
        "plugin load, cold (compile)",
        cold.as_secs_f64() * 1e3,
        "ms",
        "no cached artifact",
    );
    report.add(
        "load",
        "plugin load, warm (cached artifact)",
        warm.as_secs_f64() * 1e3,
        "ms",
        format!(
            "{:.0}x faster than cold",
            cold.as_secs_f64() / warm.as_secs_f64()
        ),
    );

    let pooled = Runtime::with_options(
        Some(cache.path()),
        RuntimeOptions {
            pooled_runs: Some(slate::plugin::POOLED_RUNS),
            ..RuntimeOptions::default()
        },
    )?;
    let on_demand = Runtime::new(Some(cache.path()))?;
    let (pooled_plugin, plain_plugin) = (pooled.load(&bytes)?, on_demand.load(&bytes)?);
    let source: Arc<dyn InputSource> = Arc::new(NoTables);
    let limits = RunLimits::default();
    let repeats = effort.repeats * 5;
    let never = || Arc::new(AtomicBool::new(false));

    let instantiate = |plugin: &slate::plugin::Plugin| {
        plugin
            .instantiate(
                identity(date),
                source.clone(),
                ReadWindow::default(),
                limits,
                never(),
            )
            .expect("instantiate")
    };
    let instantiate_pooled = time(repeats, || {
        instantiate(&pooled_plugin);
    });
    let instantiate_pre = time(repeats, || {
        instantiate(&plain_plugin);
    });
    let instantiate_relink = time(repeats, || {
        plain_plugin
            .instantiate_relinking(&on_demand, identity(date), source.clone(), limits)
            .expect("instantiate");
    });
    let us = |d: std::time::Duration| d.as_secs_f64() * 1e6;
    report.add(
        "instantiate",
        "InstancePre + pooling",
        us(instantiate_pooled),
        "µs",
        "fresh Store and instance",
    );
    report.add(
        "instantiate",
        "InstancePre, on-demand allocation",
        us(instantiate_pre),
        "µs",
        "",
    );
    report.add(
        "instantiate",
        "no InstancePre, on-demand allocation",
        us(instantiate_relink),
        "µs",
        format!(
            "{:.1}x the pooled figure",
            us(instantiate_relink) / us(instantiate_pooled)
        ),
    );

    let call = time(repeats, || {
        let mut instance = instantiate(&pooled_plugin);
        instance.process(date).expect("no trap").expect("no error");
    });
    report.add(
        "per run",
        "instantiate + process (no-op), pooled",
        us(call),
        "µs",
        "",
    );

    // A whole run with its bookkeeping: claim, lease, evaluate, commit.
    let dir = tempfile::tempdir()?;
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("slate.db"))?);
    let executor = Executor::new(
        store as Arc<dyn Store>,
        "bench",
        limits,
        LeaseConfig::default(),
    )?;
    let mut day = date;
    let with = time(repeats, || {
        day = day.succ_opt().expect("a next day");
        executor
            .execute(&pooled_plugin, day, Trigger::Cli)
            .expect("a run");
    });
    let without = time(repeats, || {
        day = day.succ_opt().expect("a next day");
        executor
            .execute(&plain_plugin, day, Trigger::Cli)
            .expect("a run");
    });
    let bookkeeping = with.saturating_sub(call);
    report.add(
        "per run",
        "whole run, pooled (claim, lease, evaluate, commit)",
        us(with),
        "µs",
        "target <= 1000 µs",
    );
    report.add(
        "per run",
        "whole run, on-demand allocation",
        us(without),
        "µs",
        "",
    );
    report.add(
        "per run",
        "of which bookkeeping (SQLite claim + commit)",
        us(bookkeeping),
        "µs",
        "whole run minus instantiate + process",
    );
    report.add(
        "per run",
        "whole run without InstancePre or pooling (derived)",
        // Timings of a busy machine can put the call under the instantiate
        // it includes: nothing then, not an overflow.
        us(instantiate_relink) + us(call.saturating_sub(instantiate_pooled)) + us(bookkeeping),
        "µs",
        "relinked instantiate + call + bookkeeping",
    );
    Ok(())
}
