//! `slate-bench`: measures what a fresh sandbox per processor per date
//! costs, and prints a table plus the same figures as JSON.
//!
//! 1. Per-run host overhead of a no-op processor, with and without
//!    `InstancePre` and the pooling allocator ([`overhead`]).
//! 2. Rows per second across the component boundary, typed against JSON
//!    text ([`boundary`]).
//! 3. `PlayerCompositeFactorsProcessor` as WASM against the same code
//!    compiled natively ([`native`]).
//! 4. A full-season backfill on the embedded store ([`backfill`]).
//! 5. A load of 10k rows into a running BigQuery emulator ([`bigquery`]).
//! 6. Two processors' seasons against pandas references written as the
//!    source pipeline wrote them, rows compared ([`pandas`]).
//! 7. `POST /process-date` throughput and latency under `wrk` ([`http`]).
//! 8. `GET /api/grid`, the dashboard's grid, on the season ([`grid`]).
//! 9. The run ledger's claim, lease renewal and commit, and claims per
//!    second as hosts are added: SQLite against PostgreSQL ([`ledger`]).
//! 10. A backfill spread over 1, 2 and 3 hosts through PostgreSQL's work
//!     queue ([`cluster`]).
//!
//! Every figure is a median over repeated runs. `--smoke` runs each
//! measurement briefly, to keep the benchmark working in CI.

mod backfill;
mod bigquery;
mod boundary;
mod cluster;
mod convert;
mod grid;
mod http;
mod ledger;
mod native;
mod overhead;
mod pandas;
mod report;
mod served;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;

/// Paths of the benchmark components built from `bench/components/`.
pub mod components {
    include!(concat!(env!("OUT_DIR"), "/bench_components.rs"));
}

/// Slate's benchmarks.
#[derive(Parser)]
struct Args {
    /// Small sizes and few repetitions: checks that every measurement runs.
    #[arg(long)]
    smoke: bool,
    /// Where to write the figures as JSON.
    #[arg(long, default_value = "target/bench-results.json")]
    json: PathBuf,
    /// Only this measurement, after the backfill (which the WASM against
    /// native and the pandas comparisons read their season from).
    #[arg(long, value_enum)]
    only: Option<Measurement>,
    /// Repetitions of each WASM against native run (default 20, 3 with
    /// `--smoke`); raise it to profile them.
    #[arg(long)]
    native_repeats: Option<usize>,
    /// Runs of each season against pandas (default 5, 1 with `--smoke`).
    #[arg(long)]
    pandas_repeats: Option<usize>,
    /// The embedded store's read cache, in MiB (0: every read goes to
    /// SQLite), to measure what it buys.
    #[arg(long, default_value_t = slate::store::DEFAULT_READ_CACHE_BYTES >> 20)]
    read_cache_mib: usize,
    /// Run the season backfill on a pooling runtime with this many slots
    /// (0: allocate instances on demand). The default is what `slate
    /// backfill` uses at its default parallelism: two runs and 8 loads.
    #[arg(long, default_value_t = 10)]
    pooled_runs: u32,
    /// How many of the season backfill's runs may execute at once: 2, as
    /// `slate demo` and `slate backfill` by default.
    #[arg(long, default_value_t = 2)]
    parallelism: usize,
    /// With pooling, how much of each linear memory stays resident between
    /// runs, in MiB.
    #[arg(long, default_value_t = slate::plugin::KEEP_RESIDENT_BYTES >> 20)]
    keep_resident_mib: usize,
    /// Write a perf map of the processors' compiled code for the season
    /// backfill and the WASM against native runs, so that `perf report`
    /// names guest functions.
    #[arg(long)]
    perf_map: bool,
}

/// The measurements after the backfill, for `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Measurement {
    /// Per-run host overhead.
    Overhead,
    /// Rows across the component boundary.
    Boundary,
    /// WASM against native.
    Native,
    /// A load into the BigQuery emulator.
    Bigquery,
    /// Two processors' seasons against their pandas references.
    Pandas,
    /// `POST /process-date` under load.
    Http,
    /// `GET /api/grid` on the season.
    Grid,
    /// Claims, lease renewals and commits: SQLite against PostgreSQL.
    Ledger,
    /// A backfill over 1, 2 and 3 hosts through PostgreSQL's work queue.
    Cluster,
}

/// How hard to measure.
#[derive(Debug, Clone, Copy)]
pub struct Effort {
    /// Repetitions of a fast measurement.
    pub repeats: usize,
    /// Row counts for the boundary measurements.
    pub row_counts: &'static [usize],
    /// Game dates to backfill (`None` for the whole season).
    pub backfill_dates: Option<usize>,
    /// Repetitions of each WASM against native run.
    pub native_repeats: usize,
    /// Whether the WASM against native runtime writes a perf map.
    pub perf_map: bool,
    /// Runs of each season against pandas.
    pub pandas_repeats: usize,
    /// The embedded store's read cache, in bytes.
    pub read_cache_bytes: usize,
    /// The season backfill's engine options.
    pub runtime: slate::plugin::RuntimeOptions,
    /// How many of the season backfill's runs may execute at once.
    pub parallelism: usize,
}

/// The median of some timings.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Times `f` `repeats` times and returns the median.
pub fn time(repeats: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..repeats.max(1))
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = slate::plugin::RuntimeOptions {
        pooled_runs: (args.pooled_runs > 0).then_some(args.pooled_runs),
        keep_resident_bytes: args.keep_resident_mib << 20,
        perf_map: args.perf_map,
        ..slate::plugin::RuntimeOptions::default()
    };
    let effort = if args.smoke {
        Effort {
            repeats: 3,
            row_counts: &[100, 1_000],
            backfill_dates: Some(3),
            native_repeats: args.native_repeats.unwrap_or(3),
            perf_map: args.perf_map,
            pandas_repeats: args.pandas_repeats.unwrap_or(1),
            read_cache_bytes: args.read_cache_mib << 20,
            runtime,
            parallelism: args.parallelism,
        }
    } else {
        Effort {
            repeats: 200,
            row_counts: &[1_000, 10_000, 100_000],
            backfill_dates: None,
            native_repeats: args.native_repeats.unwrap_or(20),
            perf_map: args.perf_map,
            pandas_repeats: args.pandas_repeats.unwrap_or(5),
            read_cache_bytes: args.read_cache_mib << 20,
            runtime,
            parallelism: args.parallelism,
        }
    };
    let mut report = report::Report::new(args.smoke);
    // The backfill runs first, so the process's peak memory is its own.
    let season_store = backfill::measure(&mut report, effort)?;
    let selected = |m: Measurement| args.only.is_none_or(|only| only == m);
    if selected(Measurement::Overhead) {
        overhead::measure(&mut report, effort)?;
    }
    if selected(Measurement::Boundary) {
        boundary::measure(&mut report, effort)?;
    }
    if selected(Measurement::Native) {
        native::measure(&mut report, effort, &season_store)?;
    }
    if selected(Measurement::Bigquery) {
        bigquery::measure(&mut report, effort)?;
    }
    if selected(Measurement::Http) {
        http::measure(&mut report, effort)?;
    }
    if selected(Measurement::Grid) {
        grid::measure(&mut report, effort, &season_store)?;
    }
    if selected(Measurement::Ledger) {
        ledger::measure(&mut report, effort)?;
    }
    if selected(Measurement::Cluster) {
        cluster::measure(&mut report, effort)?;
    }
    // Last: it reruns two processors of the season's store.
    let mismatches = if selected(Measurement::Pandas) {
        pandas::measure(&mut report, effort, &season_store)?
    } else {
        Vec::new()
    };
    report.print();
    report.write_json(&args.json)?;
    println!("figures written to {}", args.json.display());
    if !mismatches.is_empty() {
        anyhow::bail!(
            "the pandas reference does not produce Slate's rows: {}",
            mismatches
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(())
}
