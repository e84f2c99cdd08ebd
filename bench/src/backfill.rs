//! A full-season backfill on the embedded store: every processor, every
//! game date, as `slate demo` runs it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use slate::backfill::{self, BackfillRequest, Reprocess};
use slate::bundled::PLUGINS;
use slate::demo::load_season;
use slate::demo::season::{Season, SeasonConfig};
use slate::executor::Executor;
use slate::liveness::LeaseConfig;
use slate::pipeline::Pipeline;
use slate::plugin::{RunLimits, Runtime};
use slate::runs::RunFilter;
use slate::store::{EmbeddedStore, RunLedger, Store, Tables};

use crate::Effort;
use crate::report::Report;

/// The store's file in the season's folder.
const STORE_FILE: &str = "slate.db";
/// The compile cache's folder in the season's folder.
const COMPILE_CACHE: &str = "compiled";

/// The backfilled store, kept for the measurements that need real data.
pub struct SeasonStore {
    /// The store.
    pub store: Arc<EmbeddedStore>,
    /// The game dates that were run.
    pub dates: Vec<chrono::NaiveDate>,
    dir: tempfile::TempDir,
}

impl SeasonStore {
    /// The store's SQLite file.
    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join(STORE_FILE)
    }

    /// The compile cache the backfill filled: loading from it is warm.
    pub fn compile_cache(&self) -> std::path::PathBuf {
        self.dir.path().join(COMPILE_CACHE)
    }

    /// A file beside the store, for the measurements' own copies.
    pub fn scratch(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// The recorded schema of a table.
    pub fn store_schema(
        &self,
        table: &slate::schema::TableName,
    ) -> anyhow::Result<slate::schema::TableSchema> {
        self.store
            .table_schema(table)?
            .ok_or_else(|| anyhow::anyhow!("{table} does not exist"))
    }
}

/// The process's peak resident memory so far, in MiB (VmHWM).
pub fn peak_memory_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Every bundled processor, loaded by `runtime`, in pipeline order.
pub fn bundled_only(runtime: &Runtime) -> anyhow::Result<Pipeline> {
    let plugins = PLUGINS
        .iter()
        .map(|p| runtime.load(p.bytes))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Pipeline::new(plugins)?)
}

/// Every bundled processor, loaded by `runtime`, and an executor writing
/// to `store` as host `bench`: what each season measurement runs.
pub fn bundled_pipeline(
    runtime: &Runtime,
    store: Arc<dyn Store>,
) -> anyhow::Result<(Pipeline, Executor)> {
    let executor = Executor::new(store, "bench", RunLimits::default(), LeaseConfig::default())?;
    Ok((bundled_only(runtime)?, executor))
}

/// Backfills the season and records wall time, runs per second and peak memory.
pub fn measure(report: &mut Report, effort: Effort) -> anyhow::Result<SeasonStore> {
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let store = Arc::new(EmbeddedStore::open_with_read_cache(
        &dir.path().join(STORE_FILE),
        effort.read_cache_bytes,
    )?);
    let runtime = Runtime::with_options(Some(&dir.path().join(COMPILE_CACHE)), effort.runtime)?;
    let (pipeline, executor) = bundled_pipeline(&runtime, store.clone())?;
    let season = Season::generate(SeasonConfig::default());
    load_season(store.as_ref(), &season)?;
    let loaded = started.elapsed();
    let mut dates = season.game_dates();
    if let Some(limit) = effort.backfill_dates {
        dates.truncate(limit);
    }
    let selection = pipeline.select(&[])?;
    let run_start = Instant::now();
    // As `slate demo` and `slate backfill --reprocess all` run it.
    let request = BackfillRequest {
        start: *dates.first().expect("game dates"),
        end: *dates.last().expect("game dates"),
        selection: selection.clone(),
        reprocess: Reprocess::All,
        parallelism: effort.parallelism,
    };
    let mut plan = backfill::plan(store.as_ref(), &pipeline, &request)?;
    plan.dates.retain(|date| dates.contains(date));
    plan.runs.retain(|run| dates.contains(&run.date));
    let outcomes = backfill::run(
        &pipeline,
        &executor,
        &plan,
        effort.parallelism,
        &AtomicBool::new(false),
        &|_| {},
    );
    let runs = outcomes.len();
    let mut by_processor: BTreeMap<String, Duration> = BTreeMap::new();
    for record in store.runs(&RunFilter::default())? {
        let took = record
            .finished_at
            .map_or(chrono::TimeDelta::zero(), |end| end - record.started_at);
        *by_processor.entry(record.processor).or_default() += took.to_std().unwrap_or_default();
    }
    let running = run_start.elapsed();
    let total = started.elapsed().as_secs_f64();
    let scope = format!(
        "{} game dates x {} processors",
        dates.len(),
        selection.len()
    );
    report.add(
        "backfill",
        "wall time, end to end",
        total,
        "s",
        format!(
            "{scope}, up to {} runs at once; target < 60 s",
            effort.parallelism
        ),
    );
    report.add(
        "backfill",
        "of which: compile, generate and load the season",
        loaded.as_secs_f64(),
        "s",
        "cold compile cache",
    );
    report.add(
        "backfill",
        "runs per second",
        runs as f64 / running.as_secs_f64(),
        "runs/s",
        format!("{runs} runs"),
    );
    // In dependency order, so a regression shows where it happens.
    let all_runs: Duration = by_processor.values().sum();
    for name in &selection {
        let took = by_processor.get(name).copied().unwrap_or_default();
        report.add(
            "backfill by processor",
            name.clone(),
            took.as_secs_f64(),
            "s",
            format!(
                "the season's runs, claim to commit; {:.0}% of all runs' time",
                100.0 * took.as_secs_f64() / all_runs.as_secs_f64()
            ),
        );
    }
    report.add(
        "backfill",
        "peak memory",
        peak_memory_mib(),
        "MiB",
        "VmHWM of the process; target < 500 MiB",
    );
    Ok(SeasonStore { store, dates, dir })
}
